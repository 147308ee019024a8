"""The package as a user installs it: a wheel built from the repository, imported outside the source tree."""
import os, re, subprocess, sys, textwrap, zipfile
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
    pkg = ROOT / 'adaptive_hybrid_attention'
    modules = sorted(p.relative_to(pkg).as_posix() for p in pkg.rglob('*.py'))
    assert 'asr/__init__.py' in modules and 'asr/train.py' in modules
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


SPEECH_DEPS = ['torchaudio', 'jiwer', 'matplotlib', 'soundfile', 'fastprogress', 'espeakng_loader', 'numpy']


def _requires(wheel) -> list[str]:
    z = zipfile.ZipFile(wheel)
    meta = z.read(next(n for n in z.namelist() if n.endswith('.dist-info/METADATA'))).decode()
    return [l.split(':', 1)[1].strip() for l in meta.splitlines() if l.startswith('Requires-Dist:')]


def _name(req: str) -> str: return re.match(r'[A-Za-z0-9_.-]+', req).group(0).lower().replace('_', '-')


def test_wheel_requires_only_the_core(wheel):
    reqs = _requires(wheel)
    assert sorted(_name(r) for r in reqs if 'extra ==' not in r) == ['fastcore', 'ninja', 'torch']   # ninja builds the CPU operator
    extra = lambda e: sorted(_name(r) for r in reqs if re.search(rf"extra == ['\"]{e}['\"]", r))
    assert extra('asr') == ['fastprogress', 'jiwer', 'matplotlib', 'numpy', 'soundfile', 'torchaudio']
    assert extra('corpus') == ['espeakng-loader']
    assert 'nbdev' in extra('dev') and extra('bench') == ['local-attention']


BLOCKER = textwrap.dedent("""
    import sys
    class Blocker:
        "Make the speech dependencies unimportable, as if they were not installed."
        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] in BLOCKED: raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    sys.meta_path.insert(0, Blocker())
""")


def test_core_works_without_the_speech_dependencies(wheel, tmp_path):
    "Forward and backward of the layer with torchaudio, jiwer, matplotlib, soundfile, fastprogress, espeakng-loader unimportable."
    site = tmp_path / 'site'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '-q', '--target', str(site), str(wheel)],
                   check=True, capture_output=True, text=True)
    code = f"BLOCKED = {SPEECH_DEPS!r}\n" + BLOCKER + textwrap.dedent("""
        import warnings; warnings.simplefilter('ignore')   # torch notes the missing numpy
        import torch
        from adaptive_hybrid_attention import AdaptiveHybridAttention, local_attention
        x = torch.randn(2, 20, 32, requires_grad=True)
        mask = torch.zeros(2, 20, dtype=torch.bool); mask[1, 15:] = True
        y = AdaptiveHybridAttention(32, 4, max_span=8)(x, mask)
        q = torch.randn(2, 4, 20, 8, requires_grad=True)
        (y.square().sum() + local_attention(q, q, q, 3).sum()).backward()
        assert x.grad.abs().sum() > 0 and q.grad.abs().sum() > 0
        assert not [m for m in sys.modules if m.split('.')[0] in BLOCKED or m.startswith('adaptive_hybrid_attention.asr')]
        try: import adaptive_hybrid_attention.asr
        except ImportError as e: print('ASR:', e)
        else: raise SystemExit('adaptive_hybrid_attention.asr imported without its dependencies')
    """)
    env = {**os.environ, 'PYTHONPATH': str(site)}
    res = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    msg = res.stdout.split('ASR: ', 1)[1]
    assert 'pip install "adaptive-hybrid-attention[asr]"' in msg
    for dep in ('torchaudio', 'soundfile', 'jiwer', 'matplotlib', 'fastprogress'): assert dep in msg
