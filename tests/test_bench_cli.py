"Smoke test of the `aha_bench` console script: a tiny run finishes and prints its tables."
import json, shutil, subprocess, sys


def _cmd():
    exe = shutil.which('aha_bench')
    return [exe] if exe else [sys.executable, '-c', 'from adaptive_hybrid_attention.bench import main; main()']


def test_aha_bench_quick(tmp_path):
    out = tmp_path / 'quick.json'
    r = subprocess.run(_cmd() + ['--quick', '--out', str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert '### Banded kernel vs dense SDPA' in r.stdout
    assert '| T | w | fwd ms' in r.stdout
    res = json.loads(out.read_text())
    assert {row['method'] for row in res['kernel']} >= {'banded', 'dense'}
    assert out.with_suffix('.md').read_text().startswith('Machine:')
