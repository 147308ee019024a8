"""`aha_train` under `torchrun --nproc_per_node 2`: DDP with gloo on CPU, a distributed sampler, only rank 0 writes."""
import json, os, shutil, subprocess, sys
from pathlib import Path
import pytest
from test_cli import TINY, CORPUS, script


@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
    from adaptive_hybrid_attention.asr.corpus import synthesize_corpus
    cache = tmp_path_factory.mktemp('cache')
    return cache, synthesize_corpus(cache, **CORPUS, progress=False, n_jobs=1)


def torchrun(n, *args, timeout=600):
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', str(n),
           script('aha_train'), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def test_two_process_ddp(corpus, tmp_path):
    cache, paths = corpus
    out = tmp_path / 'ddp'
    args = ['--train', paths['train'], '--valid', paths['valid'], '--test', paths['test'], '--cache-dir', cache,
            *TINY, '--epochs', 2, '--no-plots', '--out', out]
    r = torchrun(2, *args)
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-4000:])
    assert sorted(os.listdir(out)) == ['checkpoint.pt', 'metrics.json', 'metrics.jsonl', 'test_utterances.jsonl']
    m = json.loads((out / 'metrics.json').read_text())
    assert m['world_size'] == 2 and m['epochs'] == 2
    # the summary is printed once (rank 0 only); each process saw half of the batches
    assert r.stdout.count('WER %') == 1
    assert '2 process(es)' in r.stdout
    single = subprocess.run([script('aha_train'), *map(str, args[:-1]), tmp_path / 'one'], capture_output=True, text=True,
                            env={**os.environ, 'OMP_NUM_THREADS': '1'}, timeout=600)
    assert single.returncode == 0, single.stderr[-3000:]
    steps = lambda o: json.loads((o / 'metrics.json').read_text())['steps']
    assert steps(tmp_path / 'one') >= 2 * steps(out) - 2
