"""Multi-process data loading, and corpus generation under concurrency and kill -9.

Run with `pytest tests/test_data_loading.py`. Everything here works on tiny data and takes seconds.
"""
import json, os, signal, subprocess, sys, textwrap, time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.utils.data import DataLoader

from adaptive_hybrid_attention.asr.data import (CharVocab, LengthBatchSampler, SpeechDataset, collate,
                                                 read_manifest, write_manifest)
from adaptive_hybrid_attention.asr.corpus import synthesize_corpus

WORDS = "one two three four five six seven eight nine zero".split()


@pytest.fixture(scope='module')
def tone_manifest(tmp_path_factory):
    "150 short tones of different lengths with a word each (more than one featurising chunk)."
    d = tmp_path_factory.mktemp('tones')
    rng = np.random.default_rng(0)
    entries = []
    for i in range(150):
        n = int(rng.integers(1_600, 8_000))
        x = 0.2 * np.sin(2 * np.pi * (200 + 5 * i) * np.arange(n) / 16_000) + 0.01 * rng.standard_normal(n)
        sf.write(d / f'{i:03d}.wav', x, 16_000, subtype='PCM_16')
        entries.append(dict(audio_filepath=str(d / f'{i:03d}.wav'), duration=n / 16_000, text=WORDS[i % 10]))
    return write_manifest(d / 'tones.jsonl', entries)


def test_parallel_featurising_matches_serial(tone_manifest):
    a = SpeechDataset(tone_manifest, n_jobs=1)
    b = SpeechDataset(tone_manifest, n_jobs=2)
    assert len(a) == len(b) == 150
    assert torch.equal(a.offsets, b.offsets) and torch.equal(a.feats, b.feats)


def test_parallel_featurising_reports_bad_files(tmp_path, tone_manifest):
    entries = read_manifest(tone_manifest)
    (tmp_path / 'bad.wav').write_bytes(b'RIFF but not really')
    bad = dict(audio_filepath=str(tmp_path / 'bad.wav'), duration=1.0, text='one')
    mixed = list(entries[:100]) + [bad] + list(entries[100:])
    with pytest.raises(ValueError, match='bad.wav: cannot read audio'):
        SpeechDataset(mixed, n_jobs=2)
    with pytest.warns(UserWarning, match='bad.wav'):
        ds = SpeechDataset(mixed, n_jobs=2, on_error='skip')
    assert len(ds) == 150 and len(ds.skipped) == 1
    assert all(e['audio_filepath'] != bad['audio_filepath'] for e in ds.entries)


@pytest.mark.parametrize('num_workers', [0, 2])
def test_dataloader_workers(tone_manifest, num_workers):
    ds = SpeechDataset(tone_manifest)
    sampler = LengthBatchSampler(ds, max_frames=2_000, seed=3)
    sampler.set_epoch(1)
    dl = DataLoader(ds, batch_sampler=sampler, collate_fn=collate, num_workers=num_workers)
    seen = []
    for b in dl:
        B, T, F = b['feats'].shape
        assert F == 80 and B * T <= 2_000 and int(b['feat_lens'].max()) == T
        assert b['tokens'].shape == (B, int(b['token_lens'].max()))
        for i, p in enumerate(b['paths']):
            k = int(Path(p).stem)
            assert b['texts'][i] == WORDS[k % 10]
            assert torch.equal(b['feats'][i, :b['feat_lens'][i]], ds[k]['feats'])
            seen.append(k)
    assert sorted(seen) == list(range(150))


def test_ranks_in_worker_processes(tone_manifest):
    "Two ranks, each with a 2-worker DataLoader: same number of batches, every utterance covered."
    ds = SpeechDataset(tone_manifest)
    per_rank = []
    for rank in range(2):
        s = LengthBatchSampler(ds, batch_size=16, rank=rank, world_size=2, seed=1)
        per_rank.append([b['paths'] for b in DataLoader(ds, batch_sampler=s, collate_fn=collate, num_workers=2)])
    assert len(per_rank[0]) == len(per_rank[1])
    assert {Path(p).stem for r in per_rank for b in r for p in b} == {f'{i:03d}' for i in range(150)}


_GEN = textwrap.dedent("""
    import sys
    from adaptive_hybrid_attention.asr.corpus import synthesize_corpus
    ms = synthesize_corpus(sys.argv[1], n_train=int(sys.argv[2]), n_valid=2, n_test=2, progress=False, n_jobs=1)
    print(ms['train'])
""")


def _gen(cache, n_train):
    return subprocess.Popen([sys.executable, '-c', _GEN, str(cache), str(n_train)], stdout=subprocess.PIPE, text=True)


def test_concurrent_synthesis_same_cache(tmp_path):
    "Two processes generating the same corpus at once both succeed and agree; nothing temporary is left."
    procs = [_gen(tmp_path, 20) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs[0] == outs[1]
    assert [p.name for p in tmp_path.iterdir()] == [Path(outs[0]).parent.name]
    assert len(read_manifest(outs[0], CharVocab())) == 20


def test_killed_synthesis_leaves_no_corpus(tmp_path):
    "kill -9 during generation: no corpus appears, and the next run removes the half-written folder."
    p = _gen(tmp_path, 5_000)
    deadline = time.time() + 60
    while not list(tmp_path.glob('.corpus-*.tmp/train/*/*.flac')) and time.time() < deadline: time.sleep(0.1)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert not list(tmp_path.glob('corpus-*'))
    assert list(tmp_path.glob('.corpus-*.tmp'))
    ms = synthesize_corpus(tmp_path, n_train=4, n_valid=1, n_test=1, progress=False, n_jobs=1)
    assert [p.name for p in tmp_path.iterdir()] == [ms['train'].parent.name]
