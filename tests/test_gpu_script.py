"""`.ci/gpu`, the one command for a CUDA machine, run here at toy sizes (`--smoke`) on the CPU.

Without a GPU the script runs its own steps through Triton's interpreter: `gpu_report`'s checks and timings,
then a two-step training with each local backend on a corpus left in its folder, as `prepare` leaves one.
What cannot run here is the full-size `run` on CUDA; that it refuses without a GPU is checked too.
"""
import json, os, subprocess
from pathlib import Path
import pytest
import torch

pytest.importorskip('triton')
ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / '.ci' / 'gpu'


def gpu(*args, folder, timeout=900):
    env = {**os.environ, 'AHA_GPU_DIR': str(folder), 'OMP_NUM_THREADS': '1'}
    env.pop('TRITON_INTERPRET', None)
    return subprocess.run(['bash', str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    "The script's folder with a tiny corpus in it, and no wheels (this Python has its packages)."
    from adaptive_hybrid_attention.asr.corpus import synthesize_corpus
    d = tmp_path_factory.mktemp('gpu')
    synthesize_corpus(d / 'corpus', n_train=8, n_valid=2, n_test=2, progress=False, n_jobs=1)
    return d


@pytest.mark.skipif(torch.cuda.is_available(), reason='with a GPU the smoke run uses it')
def test_smoke_run_on_cpu(folder, tmp_path):
    out = tmp_path / 'out'
    r = gpu('run', '--smoke', out, folder=folder)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert sorted(os.listdir(out)) == ['gpu.log', 'train_torch.json', 'train_triton.json', 'triton_gpu.json', 'triton_gpu.md']
    rep = json.loads((out / 'triton_gpu.json').read_text())
    assert [c['ok'] for c in rep['checks']] == [True, True]
    assert {row['method'] for row in rep['bench']['rows']} == {'triton', 'triton_8w', 'banded', 'dense_flash'}
    assert all(isinstance(row['fwdbwd_s'], float) for row in rep['bench']['rows'])
    for backend in ('torch', 'triton'):
        m = json.loads((out / f'train_{backend}.json').read_text())
        assert m['settings']['aha']['local_backend'] == backend and m['device'] == 'cpu'
        assert m['steps'] == 2 and len(m['history']) == 1 and 0 <= m['greedy_wer']
    log = (out / 'gpu.log').read_text()
    assert 'torch: 2 steps' in log and 'triton: 2 steps' in log and '## Property checks' in log


@pytest.mark.skipif(torch.cuda.is_available(), reason='a GPU is present')
def test_full_run_needs_cuda(folder, tmp_path):
    r = gpu('run', tmp_path / 'out', folder=folder)
    assert r.returncode == 1 and "no CUDA device: only 'run --smoke'" in r.stdout + r.stderr


def test_usage_and_missing_corpus(tmp_path):
    r = gpu('unknown', folder=tmp_path)
    assert r.returncode == 2 and 'usage: bash .ci/gpu prepare' in r.stderr
    r = gpu('run', '--smoke', folder=tmp_path)                  # no OUT
    assert r.returncode == 2 and 'usage: bash .ci/gpu run' in r.stderr
    r = gpu('run', '--smoke', tmp_path / 'out', folder=tmp_path / 'empty', timeout=120)
    assert r.returncode == 1 and "run 'bash .ci/gpu prepare' first" in r.stdout + r.stderr
