"""The package as a user installs it: a wheel built from the repository, imported outside the source tree."""
import os, subprocess, sys, zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = ['AdaptiveHybridAttention', 'SpanPredictor', 'RelativePositionBias', 'local_attention']


@pytest.fixture(scope='module')
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('wheel')
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w', str(out), str(ROOT)],
                   check=True, capture_output=True, text=True)
    (whl,) = out.glob('adaptive_hybrid_attention-*.whl')
    return whl


def test_wheel_holds_every_exported_module(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = sorted(p.name for p in (ROOT / 'adaptive_hybrid_attention').glob('*.py'))
    missing = [m for m in modules if f'adaptive_hybrid_attention/{m}' not in names]
    assert not missing, f"wheel lacks {missing}"
    assert not any(n.startswith(('nbs/', 'tests/')) for n in names)


def test_installed_wheel_imports_outside_the_source_tree(wheel, tmp_path):
    site = tmp_path / 'site'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '-q', '--target', str(site), str(wheel)],
                   check=True, capture_output=True, text=True)
    code = (f"import adaptive_hybrid_attention as aha, torch\n"
            f"from adaptive_hybrid_attention import {', '.join(PUBLIC)}\n"
            "print(aha.__file__)\n"
            "y = AdaptiveHybridAttention(32, 4, max_span=8)(torch.randn(2, 20, 32))\n"
            "assert y.shape == (2, 20, 32)\n")
    env = {**os.environ, 'PYTHONPATH': str(site)}
    res = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert str(site) in res.stdout, f"imported from {res.stdout.strip()}, not from the installed wheel"


def test_console_scripts_are_declared(wheel):
    entry_points = next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith('entry_points.txt'))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    for script in ('aha_train', 'aha_eval', 'aha_bench'): assert f'{script} = adaptive_hybrid_attention.' in text
