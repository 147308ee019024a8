"""The speech-recognition harness: log-mel features, manifests and datasets, the embedded corpus, a CTC model
with AHA, full or fixed-window attention, decoding, WER/CER, plots and the `aha_train`/`aha_eval` scripts.

It needs the `[asr]` extra (`pip install "adaptive-hybrid-attention[asr]"`); the embedded corpus also needs the
`[corpus]` extra (the GPL-3.0 eSpeak NG synthesiser), asked for only when the corpus is generated.
This file is written by hand (nbdev exports the modules beside it, not this file).
"""
import importlib.util as _util

_NEEDS = ('torchaudio', 'soundfile', 'jiwer', 'matplotlib', 'fastprogress')


def _installed(name: str) -> bool:
    try: return _util.find_spec(name) is not None
    except (ImportError, ValueError): return False  # a finder that refuses the name, or a broken install


_missing = [m for m in _NEEDS if not _installed(m)]
if _missing:
    raise ImportError(f"adaptive_hybrid_attention.asr needs {', '.join(_missing)}, which "
                      f"{'is' if len(_missing) == 1 else 'are'} not installed: "
                      'pip install "adaptive-hybrid-attention[asr]"')
del _missing
