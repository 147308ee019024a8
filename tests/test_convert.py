"""The conversion module belongs to the light core: importing it loads none of the libraries whose models it converts."""
import subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOSTS = ('whisper', 'transformers', 'torchaudio')


def test_convert_imports_no_host_library():
    code = ("import sys, adaptive_hybrid_attention.convert as c\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HOSTS)!r}))\n")
    res = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == '[]', f"importing convert loaded {res.stdout.strip()}"
