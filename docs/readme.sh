#!/usr/bin/env bash
# README.md is generated from nbs/index.ipynb (edit the notebook, then run this).
#   bash docs/readme.sh           regenerate README.md
#   bash docs/readme.sh --check   fail when the committed README.md differs from what the notebook gives
set -euo pipefail
cd "$(dirname "$0")/.."
python docs/nbdocs.py readme "$@"
