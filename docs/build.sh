#!/usr/bin/env bash
# Build the docs site from the notebooks into _site/ (offline, no Quarto):
#   nbdev's processors (show_doc, doc links, hidden cells) -> Markdown (docs/nbdocs.py) -> mkdocs build --strict.
# A broken link, a missing page or a notebook nbdev cannot process fails the build.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
export NO_MKDOCS_2_WARNING=1  # mkdocs-material's banner about its successor
python docs/nbdocs.py site
rm -rf _site
python -m mkdocs build --strict --config-file _proc/site/mkdocs.yml
echo "docs: $(find _site -name '*.html' | wc -l) HTML files in _site/ ($((SECONDS - start))s)"
