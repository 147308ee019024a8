"""End-to-end tests of the `aha_train` and `aha_eval` console scripts on a tiny synthetic corpus."""
import json, os, shutil, signal, subprocess, sys, time
from pathlib import Path
import pytest

TINY = ['--d-model', '32', '--n-heads', '2', '--n-layers', '2', '--max-span', '8', '--window', '4',
        '--batch-seconds', '8', '--warmup', '5', '--lr', '3e-3', '--dropout', '0', '--device', 'cpu']
CORPUS = dict(n_train=24, n_valid=4, n_test=4)


def script(name):
    "Path of a console script installed beside this Python."
    p = Path(sys.executable).parent / name
    return str(p) if p.exists() else shutil.which(name)


def run(name, *args, timeout=600, **kw):
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONWARNINGS': 'default'}
    return subprocess.run([script(name), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env, **kw)


@pytest.fixture(scope='session')
def corpus(tmp_path_factory):
    "A tiny embedded corpus: its cache folder and its manifests."
    from adaptive_hybrid_attention.asr.corpus import synthesize_corpus
    cache = tmp_path_factory.mktemp('cache')
    paths = synthesize_corpus(cache, **CORPUS, progress=False, n_jobs=1)
    corpus_args = ['--cache-dir', cache] + [a for k, v in CORPUS.items() for a in ('--' + k.replace('_', '-'), v)]
    return dict(cache=cache, args=corpus_args, **paths)


@pytest.fixture(scope='session')
def trained(corpus, tmp_path_factory):
    "One short training run on the embedded (tiny) corpus."
    out = tmp_path_factory.mktemp('run')
    r = run('aha_train', *corpus['args'], *TINY, '--epochs', 4, '--out', out)
    assert r.returncode == 0, r.stderr[-3000:]
    return out, r


def test_train_outputs(trained):
    out, r = trained
    assert sorted(os.listdir(out)) == ['attention.png', 'checkpoint.pt', 'curves.png', 'layer_stats.png',
                                       'metrics.json', 'metrics.jsonl', 'test_utterances.jsonl', 'windows.png']
    m = json.loads((out / 'metrics.json').read_text())
    for k in ('wer', 'cer', 'greedy_wer', 'greedy_cer', 'lexicon_wer', 'lexicon_cer', 'settings', 'params', 'epochs'):
        assert k in m
    assert m['settings']['attention'] == 'aha' and m['epochs'] == 4
    hist = [json.loads(l) for l in (out / 'metrics.jsonl').read_text().splitlines()]
    assert [h['epoch'] for h in hist] == [1, 2, 3, 4]
    assert hist[-1]['train_loss'] < hist[0]['train_loss']          # training lowers the loss
    assert 'WER %' in r.stdout and 'lexicon' in r.stdout and 'Traceback' not in r.stderr
    assert '\r' not in r.stdout + r.stderr                         # not a terminal: lines, no progress-bar redraws


def test_eval_cli(trained, corpus, tmp_path):
    out, _ = trained
    js = tmp_path / 'eval.json'
    r = run('aha_eval', '--checkpoint', out / 'checkpoint.pt', '--manifest', corpus['test'], '--json', js, '--device', 'cpu')
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads(js.read_text())
    assert {'wer', 'cer', 'greedy', 'lexicon', 'hypotheses'} <= set(m) and len(m['hypotheses']) == CORPUS['n_test']
    assert 'WER %' in r.stdout


def test_resume_after_kill(corpus, tmp_path):
    "kill -9 during training, then --resume continues from the last complete epoch."
    out = tmp_path / 'run'
    args = [*corpus['args'], *TINY, '--attention', 'mha', '--epochs', 6, '--no-plots', '--out', out]
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    p = subprocess.Popen([script('aha_train'), *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        t0 = time.time()
        while not (out / 'metrics.jsonl').exists() and time.time() - t0 < 400 and p.poll() is None: time.sleep(0.05)
        assert p.poll() is None, 'training finished before it could be killed'
        p.send_signal(signal.SIGKILL); p.wait()
    finally:
        if p.poll() is None: p.kill()
    done = len((out / 'metrics.jsonl').read_text().splitlines())
    assert 1 <= done < 6
    r = run('aha_train', *args, '--resume')
    assert r.returncode == 0, r.stderr[-3000:]
    hist = [json.loads(l) for l in (out / 'metrics.jsonl').read_text().splitlines()]
    assert [h['epoch'] for h in hist] == [1, 2, 3, 4, 5, 6]
    first = [l for l in r.stdout.splitlines() if l.startswith('epoch')][0]
    assert int(first.split()[1]) >= done + 1                       # it did not start over
    assert not [f for f in os.listdir(out) if f.endswith('.tmp')]  # nothing half-written left


def _bad_manifests(corpus, tmp):
    "A manifest with a malformed line, a missing file, an out-of-vocabulary transcript, a non-UTF-8 line."
    good = Path(corpus['train']).read_text().splitlines()
    base = Path(corpus['train']).parent
    fix = lambda l: json.dumps({**json.loads(l), 'audio_filepath': str(base / json.loads(l)['audio_filepath'])})
    lines = [fix(l).encode() for l in good[:12]]
    lines[2] = b'{"audio_filepath": "x.wav", "duration": 1.0'                           # malformed JSON
    lines[4] = json.dumps({'audio_filepath': str(tmp / 'missing.wav'), 'duration': 1., 'text': 'one'}).encode()
    lines[6] = fix(good[6]).replace(json.loads(good[6])['text'], 'caf\u00e9 \u4e2d').encode()   # outside the vocabulary
    lines[8] = b'{"audio_filepath": "a.wav", "duration": 1.0, "text": "\xff\xfe"}'     # not UTF-8
    bad = tmp / 'bad.jsonl'; bad.write_bytes(b'\n'.join(lines) + b'\n')
    return bad


def test_bad_lines_are_skipped(corpus, tmp_path):
    bad = _bad_manifests(corpus, tmp_path)
    r = run('aha_train', '--train', bad, '--valid', corpus['valid'], '--test', corpus['test'], *TINY,
            '--epochs', 1, '--no-plots', '--cache-dir', corpus['cache'], '--out', tmp_path / 'run')
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'Traceback' not in r.stderr
    for line in (3, 5, 7, 9): assert f'bad.jsonl:{line}:' in r.stderr, r.stderr
    m = json.loads((tmp_path / 'run' / 'metrics.json').read_text())
    assert m['skipped']['train'] == 4 and m['sizes']['train'] == 8


@pytest.mark.parametrize('case', ['missing', 'empty', 'all_bad', 'checkpoint'])
def test_bad_input_stops_with_message(corpus, tmp_path, case):
    if case == 'missing': args, want = ['--train', tmp_path / 'nope.jsonl', '--valid', corpus['valid']], 'nope.jsonl: manifest not found'
    elif case == 'empty':
        (tmp_path / 'e.jsonl').write_text(''); args, want = ['--train', tmp_path / 'e.jsonl', '--valid', corpus['valid']], 'no usable utterances'
    elif case == 'all_bad':
        (tmp_path / 'b.jsonl').write_text('not json\n'); args, want = ['--train', tmp_path / 'b.jsonl', '--valid', corpus['valid']], 'b.jsonl:1'
    else:
        (tmp_path / 'c.pt').write_text('garbage')
        r = run('aha_eval', '--checkpoint', tmp_path / 'c.pt', '--manifest', corpus['test'])
        assert r.returncode == 2 and 'c.pt: not a readable checkpoint' in r.stderr and 'Traceback' not in r.stderr
        return
    r = run('aha_train', *args, *TINY, '--epochs', 1, '--out', tmp_path / 'run', '--cache-dir', corpus['cache'])
    assert r.returncode == 2, r.stderr[-2000:]
    assert want in r.stderr and 'Traceback' not in r.stderr
    assert not (tmp_path / 'run' / 'checkpoint.pt').exists()


AHA_OPTIONS = dict(score_scaling='log', temperature='seed', ramp=4.0, span_penalty=1e-3, span_per_head=True, max_rel_dist=6,
                   min_window=2, init_scale=0.8, tau_min=0.2, max_sharpness=5.0, fusion='gate', global_kv_stride=2)


def test_help_lists_every_aha_option():
    r = run('aha_train', '--help')
    assert r.returncode == 0, r.stderr
    for name in [*AHA_OPTIONS, 'max_span', 'attention_dropout', 'diag_every', 'log_every', 'causal']:
        assert '--' + name.replace('_', '-') in r.stdout


def test_aha_options_reach_the_model_and_the_metrics(corpus, tmp_path):
    "Every AHA flag is trained with, saved in metrics.json and the checkpoint, and rebuilt by aha_eval."
    flags = [a for k, v in AHA_OPTIONS.items() for a in (['--' + k.replace('_', '-')] + ([] if v is True else [v]))]
    out = tmp_path / 'run'
    r = run('aha_train', *corpus['args'], *TINY, '--epochs', 1, '--no-plots', '--attention-dropout', 0.1, '--out', out, *flags)
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((out / 'metrics.json').read_text())
    aha = m['settings']['aha']
    assert {k: aha[k] for k in AHA_OPTIONS} == AHA_OPTIONS
    assert aha['dropout'] == 0.1 and aha['max_span'] == 8 and m['settings']['dropout'] == 0
    assert m['dims']['aha'] == aha and set(m['window_stats']) == {'layer 1', 'layer 2'}
    js = tmp_path / 'eval.json'
    r = run('aha_eval', '--checkpoint', out / 'checkpoint.pt', '--manifest', corpus['test'], '--json', js, '--device', 'cpu')
    assert r.returncode == 0, r.stderr[-3000:]
    e = json.loads(js.read_text())
    assert e['aha'] == aha
    assert abs(e['loss'] - m['test_loss']) < 1e-4               # the same model, rebuilt from the checkpoint alone


@pytest.mark.parametrize('args, want', [
    (['--lr', '-1'], 'argument --lr: must be > 0, got -1'),
    (['--epochs', '0'], 'argument --epochs: must be > 0, got 0'),
    (['--batch-seconds', 'nan'], "argument --batch-seconds: expected a finite number, got 'nan'"),
    (['--ramp', 'nan'], "argument --ramp: expected a finite number, got 'nan'"),   # passed the range check before
    (['--ramp', '-1'], 'argument --ramp: must be >= 0, got -1'),
    (['--score-scaling', 'cubic'], 'argument --score-scaling: must be one of'),
    (['--min-window', '40', '--max-span', '8'], 'argument --min-window: must lie in [1, max_span=8], got 40'),
    (['--causal', '--global-kv-stride', '2'], 'argument --global-kv-stride: > 1 pools future frames into each key')])
def test_bad_flag_value_is_one_line_naming_the_flag(args, want):
    r = run('aha_train', *args, timeout=60)
    assert r.returncode == 2
    assert want in r.stderr.strip().splitlines()[-1], r.stderr
    assert 'Traceback' not in r.stderr and 'Invalid learning rate' not in r.stderr



@pytest.mark.parametrize('case', ['out_is_file', 'out_under_file', 'json_under_file', 'json_is_folder', 'device', 'lexicon'])
def test_unusable_destination_or_device_fails_before_any_work(trained, corpus, tmp_path, case):
    "An output that cannot be written, a device this library cannot use or a bad word list is refused at once, in one line."
    (tmp_path / 'f').write_text('a file in the way')
    f, ck = tmp_path / 'f', trained[0] / 'checkpoint.pt'
    evaluate = ['aha_eval', '--checkpoint', ck, '--manifest', corpus['test'], '--device', 'cpu']
    args, want = dict(
        out_is_file=(['aha_train', *TINY, '--out', f], f"out='{f}': exists and is not a folder"),
        out_under_file=(['aha_train', *TINY, '--out', f / 'run'], f"out='{f / 'run'}': cannot create the folder ('{f}' is a file)"),
        json_under_file=([*evaluate, '--json', f / 'e.json'], f"json='{f / 'e.json'}': its folder '{f}' exists and is not a folder"),
        json_is_folder=([*evaluate, '--json', tmp_path], f"json='{tmp_path}': is a folder, expected a file name"),
        device=(['aha_train', *TINY, '--device', 'mps', '--out', tmp_path / 'run'], "device='mps': expected 'auto', 'cpu', 'cuda' or 'cuda:N'"),
        lexicon=(['aha_train', *TINY, '--lexicon', f, '--out', tmp_path / 'lex'], f"{f}:1: expected one word per line, got 'a file in the way'"))[case]
    r = run(*args, timeout=120)
    assert r.returncode == 2, r.stderr[-2000:]
    assert want in r.stderr.strip().splitlines()[-1] and 'Traceback' not in r.stderr, r.stderr
    assert 'preparing the data' not in r.stdout and os.listdir(tmp_path) == ['f']   # nothing created, no folder left behind


@pytest.fixture(scope='session')
def causal_trained(corpus, tmp_path_factory):
    "A short training run of a causal recogniser (aha_train --causal)."
    out = tmp_path_factory.mktemp('causal')
    r = run('aha_train', *corpus['args'], *TINY, '--epochs', 3, '--no-plots', '--causal', '--out', out)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def test_streaming_decode_equals_the_causal_decode(causal_trained, corpus, tmp_path):
    "aha_eval --streaming gives the non-streaming causal decode's loss, transcripts and WER, for several chunk sizes."
    m = json.loads((causal_trained / 'metrics.json').read_text())
    assert m['settings']['causal'] and m['dims']['causal'] and m['dims']['aha']['causal']
    def evaluate(*extra):
        js = tmp_path / ('eval' + ''.join(map(str, extra)) + '.json')
        r = run('aha_eval', '--checkpoint', causal_trained / 'checkpoint.pt', '--manifest', corpus['test'], '--json', js,
                '--device', 'cpu', *extra)
        assert r.returncode == 0, r.stderr[-3000:]
        return json.loads(js.read_text()), r.stdout
    full, _ = evaluate()
    assert full['causal'] and not full['streaming'] and abs(full['loss'] - m['test_loss']) < 1e-4
    for ms in (40, 200, 4000):
        s, out = evaluate('--streaming', '--chunk-ms', ms)
        assert s['streaming'] and s['chunk_ms'] == ms and f'streamed in {ms} ms chunks' in out
        assert abs(s['loss'] - full['loss']) < 1e-5               # the CTC loss is a function of the log-probabilities
        assert s['hypotheses'] == full['hypotheses'] and (s['wer'], s['cer']) == (full['wer'], full['cer'])


def test_streaming_needs_a_causal_checkpoint(trained, corpus):
    r = run('aha_eval', '--checkpoint', trained[0] / 'checkpoint.pt', '--manifest', corpus['test'], '--streaming', '--device', 'cpu')
    assert r.returncode == 2 and 'streaming needs a causal checkpoint' in r.stderr and 'Traceback' not in r.stderr


@pytest.mark.parametrize('args, want', [
    (['--streaming', '--chunk-ms', '50'], 'argument --chunk-ms: expected a positive multiple of 40'),
    (['--streaming', '--chunk-ms', '0'], 'argument --chunk-ms: expected a positive multiple of 40'),
    (['--chunk-ms', '80'], 'argument --chunk-ms: needs --streaming')])
def test_bad_chunk_is_one_line_naming_the_flag(args, want):
    r = run('aha_eval', '--checkpoint', 'model.pt', '--manifest', 'test.jsonl', *args, timeout=60)
    assert r.returncode == 2
    assert want in r.stderr.strip().splitlines()[-1], r.stderr
    assert 'Traceback' not in r.stderr


def _study(corpus, out, *args):
    return run('aha_study', *corpus['args'], *TINY, '--corpus', 'short', '--max-steps', 3, '--warmup', 1, '--out', out, *args)


def test_study_trains_every_run_once_and_summarises(corpus, tmp_path):
    out = tmp_path / 'study'
    r = _study(corpus, out, '--variants', 'local', 'aha', '--seeds', 0, 1)
    assert r.returncode == 0, r.stderr[-3000:]
    s = json.loads((out / 'summary.json').read_text())
    assert list(s['runs']) == ['aha', 'local'] and all(sorted(v) == ['seed-0', 'seed-1'] for v in s['runs'].values())
    assert {x['steps'] for v in s['runs'].values() for x in v.values()} == {3}
    aha = [sum(w['mean'] for w in x['window_stats'].values()) / len(x['window_stats']) for x in s['runs']['aha'].values()]
    assert s['runs']['local']['seed-1']['window'] == max(1, round(sum(aha) / len(aha)))   # the window 'aha' learned
    for x in s['runs']['aha'].values():   # per-utterance errors add up to the run's error rate
        u = x['utterances']['greedy']
        assert abs(sum(u['word_errors']) / sum(u['words']) - x['greedy_wer']) < 1e-9
    assert str(tmp_path) not in (out / 'summary.json').read_text()   # no folder of this machine in the results
    again = _study(corpus, out, '--variants', 'local', 'aha', '--seeds', 0, 1)
    assert again.returncode == 0 and 'AHA defaults' not in again.stdout   # every run was found finished
    assert json.loads((out / 'summary.json').read_text())['runs'] == s['runs']


def test_study_on_user_manifests(corpus, tmp_path):
    r = _study(corpus, tmp_path / 'mine', '--train', corpus['train'], '--valid', corpus['valid'], '--test', corpus['test'],
               '--variants', 'mha', 'no-bias', '--seeds', 3)
    assert r.returncode == 0, r.stderr[-3000:]
    s = json.loads((tmp_path / 'mine' / 'summary.json').read_text())
    assert sorted(s['runs']) == ['mha', 'no-bias'] and s['base']['train'] == str(corpus['train'])
    assert s['runs']['mha']['seed-3']['seed'] == 3


@pytest.mark.parametrize('args, want', [(['--variants', 'nope'], "invalid choice: 'nope'"),
                                        (['--variants', 'local', '--seeds', '0'], "needs finished 'aha' runs"),
                                        (['--seeds', '-1'], '--seeds: must be >= 0')])
def test_study_bad_input_is_one_line(corpus, tmp_path, args, want):
    r = _study(corpus, tmp_path / 'bad', *args)
    assert r.returncode == 2 and want in r.stderr and 'Traceback' not in r.stderr, r.stderr[-2000:]
