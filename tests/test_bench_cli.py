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


def test_unwritable_out_is_refused_before_running(tmp_path):
    (tmp_path / 'f').write_text('a file in the way')
    r = subprocess.run(_cmd() + ['--quick', '--out', str(tmp_path / 'f' / 'quick.json')], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr[-2000:]
    assert r.stderr.strip().splitlines()[-1] == f"aha_bench: error: out='{tmp_path / 'f' / 'quick.json'}': its folder '{tmp_path / 'f'}' exists and is not a folder"
    assert '...' not in r.stdout                                   # no benchmark started
