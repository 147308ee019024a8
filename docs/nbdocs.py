"""Turn the notebooks into the docs site's Markdown (for mkdocs) and into README.md, without Quarto.

    python docs/nbdocs.py site           # nbs/*.ipynb -> _proc/site/ (pages, images, mkdocs.yml)
    python docs/nbdocs.py readme [--check]  # nbs/index.ipynb -> README.md

nbdev's own docs processors (those `nbdev_proc_nbs` runs) render `show_doc`, add doc links and drop
`#| export`/`#| hide` cells. To render `show_doc` nbdev runs the exported cells and every cell that imports
something; here a cell that also does other work runs its imports only, so the pages keep the outputs saved
in the notebook, and `#| slow` cells never run. This script then replaces what Quarto would do:
it honours the remaining cell options (`echo`, `output`, `include`), turns Quarto callouts into admonitions,
adds a parameter table under each `show_doc` and writes Markdown with nbconvert (figures as files).
"""
import argparse, ast, inspect, json, os, posixpath, re, shutil, sys
from pathlib import Path

import nbformat, yaml
from nbconvert import MarkdownExporter
from jinja2 import DictLoader
from traitlets.config import Config
from nbdev.config import get_config
from nbdev.doclinks import NbdevLookup, nbglob, _nbpath2html
from execnb.nbio import read_nb, nb2str

CFG = get_config()
ROOT, NBS, PROC = CFG.config_path, CFG.nbs_path, CFG.config_path/'_proc'
DOCS = Path(__file__).resolve().parent
DOC_URL = CFG.doc_host.rstrip('/') + '/' + CFG.doc_baseurl.strip('/') + '/'
sys.path.insert(0, str(ROOT))  # document the library of this working tree (also seen by nbdev's worker processes)
os.environ['PYTHONPATH'] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get('PYTHONPATH')]))
ASSETS = {'.png', '.jpg', '.jpeg', '.gif', '.svg', '.webp'}  # files in nbs/ the pages may link to

def notebooks():
    "Every notebook under nbs/ (nbdev's rules: no `_`/`.` names), the home page first, then by path."
    nbs = [p.relative_to(NBS) for p in nbglob(NBS, as_path=True)]
    return sorted(nbs, key=lambda p: (p.name != CFG.readme_nb, p.as_posix()))

def page_of(nb): return _nbpath2html(nb).with_suffix('.md').as_posix()  # 00_span.ipynb -> span.md, as nbdev names it

## Cell options (`#| key: value` lines at the top of a code cell)
_re_opt = re.compile(r'^\s*#\s*\|\s*([\w-]+:?)\s*(.*)$')

def split_options(src):
    "Cell options and the code without them"
    lines, opts = src.splitlines(), {}
    while lines and (m := _re_opt.match(lines[0])): opts[m[1].rstrip(':')] = m[2].strip().lower(); lines.pop(0)
    return opts, '\n'.join(lines)

## Markdown: Quarto markup -> Python-Markdown (mkdocs) or GitHub markdown (README)
_re_callout = re.compile(r'^:::+\s*\{\s*\.callout-(\w+)([^}]*)\}\s*$')
_re_fence_div = re.compile(r'^:::+\s*(.*)$')
_re_attrs = re.compile(r'(\)|^#{1,6} .*?)\s*\{[^}]*\}', re.M)  # Pandoc attributes: `{target="_blank"}`, `{.unnumbered}`
_ADMON = {'note': 'note', 'tip': 'tip', 'warning': 'warning', 'important': 'important', 'caution': 'danger'}

def convert_divs(md, readme=False):
    "Quarto callouts -> admonitions (site) or GitHub alerts (README); other `:::` fences are dropped"
    out, stack, in_code, title_next = [], [], False, False
    def prefix(): return ('> ' if readme else '    ') * sum(stack)
    for line in md.splitlines():
        if line.lstrip().startswith(('```', '~~~')): in_code = not in_code
        if not in_code and (m := _re_callout.match(line.strip())):
            kind, title = m[1], re.search(r'title="([^"]*)"', m[2])
            out.append(prefix() + (f'> [!{kind.upper()}]' if readme else
                                   f'!!! {_ADMON.get(kind, "note")}' + (f' "{title[1]}"' if title else '')))
            stack.append(True); title_next = not title
            if readme and title: out += [prefix() + f'**{title[1]}**', prefix().rstrip()]
            continue
        if not in_code and (m := _re_fence_div.match(line.strip())):
            if m[1]: stack.append(False)  # some other div (a Quarto layout): keep its content, drop the fences
            elif stack: stack.pop()
            continue
        if title_next and line.strip():
            title_next = False
            if h := re.match(r'^#{1,6}\s+(.*?)\s*$', line):  # `## Title` opening a callout
                if readme: out += [prefix() + f'**{h[1]}**', prefix().rstrip()]
                else: out[-1] += f' "{h[1]}"'
                continue
        if readme: line = _re_attrs.sub(r'\1', line)
        out.append(prefix() + line if line.strip() or readme else '')
    return '\n'.join(out)

_re_mdlink = re.compile(r'(!?\[[^\]]*\]\()([^)\s]+)(\s*(?:"[^"]*")?\))')

def fix_links(md, page, pages, anchors, readme=False):
    "Links to the doc site or to notebooks -> relative page links (site) or absolute URLs (README)"
    here = posixpath.dirname(page)
    def repl(m):
        pre, url, post = m.groups()
        path, _, frag = url.partition('#')
        if url.startswith(DOC_URL): path = path[len(DOC_URL):]      # nbdev's doc link: site-relative
        elif re.match(r'^([a-z]+:|/|#)', url): return m[0]           # other sites, this page's anchors
        else: path = posixpath.normpath(posixpath.join(here, path))  # relative to this notebook
        if path.endswith('.ipynb'): path = _nbpath2html(Path(path)).as_posix()
        target = path[:-5] + '.md' if path.endswith('.html') else path
        if url.startswith(DOC_URL) and frag and target in pages and (target, frag) not in anchors:
            return pre[1:-2]  # a symbol with no API entry on the site (e.g. a method): keep the code, drop the link
        frag = f'#{frag}' if frag else ''
        return f'{pre}{DOC_URL}{path}{frag}{post}' if readme else f'{pre}{posixpath.relpath(target, here or ".")}{frag}{post}'
    return _re_mdlink.sub(repl, md)

## show_doc output: anchors like nbdev's doc links, a source link, a parameter table
_re_sd_head = re.compile(r'^(#{2,6}) (\S+)[ \t]*$', re.M)
_re_sd_src = re.compile(r'^\[source\]\((\S+?)\)\{[^}]*\}[ \t]*$', re.M)

def _esc(s): return str(s).replace('|', '\\|').replace('\n', ' ')

def param_table(md):
    "Parameter table (fastcore docments) for the symbol a show_doc block documents"
    from fastcore.docments import docments
    src, head = _re_sd_src.search(md), _re_sd_head.search(md)
    if not (src and head): return ''
    mod = re.search(r'/blob/[^/]+/(.+?)\.py#', src[1])
    if not mod: return ''
    try:
        import importlib
        obj = importlib.import_module(mod[1].replace('/', '.'))
        for part in head[2].split('.'): obj = getattr(obj, part)
        dm = docments(obj, full=True)
    except Exception: return ''
    rows = [(k, v) for k, v in dm.items() if k not in ('self', 'cls')]
    if not any(v['docment'] or v['anno'] is not inspect._empty for k, v in rows if k != 'return'): return ''
    def cell(x): return '' if x is inspect._empty else _esc(x if isinstance(x, str) else getattr(x, '__name__', repr(x)))
    lines = ['|  | **Type** | **Default** | **Details** |', '| -- | -- | -- | -- |']
    for k, v in rows:
        if k == 'return':
            if v['anno'] in (inspect._empty, None, 'None') and not v['docment']: continue
            lines.append(f"| **Returns** | {cell(v['anno'])} |  | {_esc(v['docment'] or '')} |")
        else:
            d = '' if v['default'] is inspect._empty else f"`{_esc(repr(v['default']))}`"
            lines.append(f"| `{k}` | {cell(v['anno'])} | {d} | {_esc(v['docment'] or '')} |")
    return '\n'.join(lines)

_re_sd_call = re.compile(r'^\s*show_doc\(\s*([\w.]*)', re.M)

def sd_name(src, md):
    "Name a show_doc block documents: its heading, or `X.f` of `show_doc(X.f)` when a decorator hid the class"
    h, c = _re_sd_head.search(md), _re_sd_call.search(src)
    if not h: return None
    return c[1] if c and c[1] != h[2] and c[1].split('.')[-1] == h[2] else h[2]

def fix_show_doc(md, name, readme=False):
    "Give the heading nbdev's anchor (`name.lower()`), tidy the source link, add the parameter table"
    md = md.replace('\r\n', '\n').strip()
    if md.startswith('---'): md = md[3:].lstrip()
    md = _re_sd_head.sub(lambda m: f'{m[1]} {name}', md, count=1)
    if not _re_sd_src.search(md) and (url := NbdevLookup().code(name)) and not url.endswith('#LNone'):
        md = f'[source]({url}){{target="_blank"}}\n\n{md}'
    if readme: return _re_attrs.sub(r'\1', md)
    tbl = param_table(md)
    md = _re_sd_src.sub(lambda m: f'[source]({m[1]}){{ .aha-source target="_blank" }}', md)
    md = _re_sd_head.sub(lambda m: f'{m[1]} {m[2]} {{ #{m[2].lower()} .aha-symbol data-toc-label="{m[2]}" }}', md, count=1)
    return f'<div class="aha-doc" markdown>\n\n{md}\n\n{tbl}\n\n</div>' if tbl else f'<div class="aha-doc" markdown>\n\n{md}\n\n</div>'

## Notebook -> Markdown
def frontmatter(nb):
    "Quarto frontmatter that nbdev's FrontmatterProc put in the first raw cell"
    c = nb.cells[0] if nb.cells else None
    if c and c.cell_type == 'raw' and c.source.startswith('---'):
        nb.cells.pop(0)
        return yaml.safe_load(c.source.strip().strip('-')) or {}
    return {}

_NO_INPUT = 'nbdocs-no-input'

def prepare(nb, page, pages, anchors, readme=False):
    "Apply cell options and markup fixes in place; returns (title, description)"
    fm, cells, seen = frontmatter(nb), [], set()
    for c in nb.cells:
        if c.cell_type == 'markdown':
            if c.source.strip().startswith('<!-- WARNING: THIS FILE WAS AUTOGENERATED'): continue
            c.source = fix_links(convert_divs(c.source, readme), page, pages, anchors, readme)
        elif c.cell_type == 'code':
            opts, c.source = split_options(c.source)
            if opts.get('include') == 'false' or 'hide' in opts: continue
            is_doc = bool(_re_sd_call.search(c.source))
            if opts.get('echo') == 'false': c.metadata.setdefault('tags', []).append(_NO_INPUT)
            if opts.get('output') == 'false': c.outputs = []
            for o in c.outputs:
                if o.get('output_type') in ('execute_result', 'display_data') and 'text/markdown' in o.data:
                    md = o.data['text/markdown']
                    if is_doc and (name := sd_name(c.source, md)):
                        if name.lower() in seen: o.data = {}; continue  # nbdev documented it already (explicit + automatic show_doc)
                        seen.add(name.lower()); md = fix_show_doc(md, name, readme)
                    o.data = {'text/markdown': fix_links(md, page, pages, anchors, readme)}
            c.outputs = [o for o in c.outputs if o.get('output_type') not in ('execute_result', 'display_data') or o.get('data')]
            if (not c.source.strip() or _NO_INPUT in c.metadata.get('tags', [])) and not c.outputs: continue
        else: continue  # raw cells are for Quarto
        cells.append(c)
    nb.cells = cells
    return fm.get('title', Path(page).stem), fm.get('description', '')

def anchors_of(nb, page):
    "(page, anchor) of each show_doc entry, so doc links to undocumented symbols can be dropped"
    return {(page, name.lower()) for c in nb.cells if c.cell_type == 'code' and _re_sd_call.search(c.source)
            for o in c.get('outputs', []) if (name := sd_name(c.source, o.get('data', {}).get('text/markdown', '')))}

# nbconvert's Markdown template writes outputs as indented blocks, which merge when two follow each other
_TEMPLATE = """{%- extends 'markdown/index.md.j2' -%}
{% block stream %}
```text
{{ output.text | trim('\\n') }}
```
{% endblock stream %}
{% block data_text %}
```text
{{ output.data['text/plain'] | trim('\\n') }}
```
{% endblock data_text %}
{% block error %}
```text
{{ output.traceback | join('\\n') | strip_ansi }}
```
{% endblock error %}
"""

def to_markdown(nb, files_dir):
    "nbconvert's Markdown with figures extracted as files named after `files_dir`"
    nb.metadata['language_info'] = {'name': 'python'}  # fenced code gets Python highlighting
    cfg = Config({'TagRemovePreprocessor': {'enabled': True, 'remove_input_tags': [_NO_INPUT]}})
    exp = MarkdownExporter(config=cfg, extra_loaders=[DictLoader({'nbdocs.md.j2': _TEMPLATE})], template_file='nbdocs.md.j2')
    body, res = exp.from_notebook_node(nb, resources={'output_files_dir': files_dir})
    return body, res.get('outputs', {})

_IMPORTS = (ast.Import, ast.ImportFrom)

def _keep_saved_outputs(procs):
    "Patch nbdev's `exec_show_docs` so that it never re-runs work cells: the pages show the saved outputs"
    run, skip = procs.exec_show_docs.__call__, set(CFG.tst_flags.split())
    def call(self, cell):
        if cell.cell_type != 'code': return run(self, cell)
        d, trees = cell.directives_, cell.parsed_() or []
        if skip & set(d) or d.get('eval:', [''])[0].lower() == 'false': return  # `#| slow` cells never run for the docs
        if d.keys() & {'export', 'exports', 'exporti', 'exec_doc'} or procs._show_docs(trees) \
           or all(isinstance(t, _IMPORTS) for t in trees): return run(self, cell)
        # nbdev would run the whole cell because it imports something (and replace its outputs): run the imports only
        imports = [t for t in trees if isinstance(t, _IMPORTS)]
        if imports and getattr(self.nb, 'has_docs_', None) and hasattr(self, 'k'):
            self.k.run('\n'.join(map(ast.unparse, imports)))
            if self.k.exc: raise Exception(f'Error in cell {cell.idx_}:\n{cell.source}') from self.k.exc
    procs.exec_show_docs.__call__ = call

def process(nb):
    "nbdev's docs processors on one notebook (those `nbdev_proc_nbs` runs), keeping the saved outputs"
    import nbdev.processors as procs
    if not hasattr(procs, '_nbdocs'): _keep_saved_outputs(procs); procs._nbdocs = True
    os.environ['IN_TEST'] = '1'  # as nbdev sets it while processing
    os.chdir((NBS/nb).parent)  # the notebook's folder, as in Jupyter and nbdev_test
    res = read_nb(NBS/nb)
    try: procs.FilterDefaults()(res)
    except Exception as e:  # nbdev runs the exported cells and the imports to render show_doc
        raise RuntimeError(f'nbdev could not process {NBS.name}/{nb}: {e}') from None
    return nbformat.reads(nb2str(res), as_version=4)

def process_all(nbs):
    "`process` every notebook, two at a time"
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(min(2, os.cpu_count() or 1), mp_context=multiprocessing.get_context('spawn')) as pool:
        import nbdocs  # by module name: IPython, which nbdev runs cells in, replaces a worker's `__main__`
        futs = {nb: pool.submit(nbdocs.process, nb) for nb in nbs}
        errs = [str(f.exception()) for f in futs.values() if f.exception()]
    if errs: sys.exit('nbdocs: ' + '\n\n'.join(errs))
    return {nb: f.result() for nb, f in futs.items()}

def build_site(out):
    nbs = notebooks()
    if not nbs or nbs[0].name != CFG.readme_nb: sys.exit(f'nbdocs: no {NBS.name}/{CFG.readme_nb} (the home page)')
    procs = process_all(nbs)
    pages = {nb: ('index.md' if nb == nbs[0] else page_of(nb)) for nb in nbs}
    anchors = set().union(*(anchors_of(procs[nb], pages[nb]) for nb in nbs))
    if out.exists(): shutil.rmtree(out)
    docs = out/'docs'
    nav = []
    for nb in nbs:
        page = pages[nb]
        title, desc = prepare(procs[nb], page, set(pages.values()), anchors)
        body, files = to_markdown(procs[nb], Path(page).stem + '_files')
        head = f'---\ntitle: {json.dumps(str(title))}\n---\n\n# {title}\n\n' + (f'{desc}\n{{: .aha-description }}\n\n' if desc else '')
        dest = docs/page
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(head + body.strip() + '\n', encoding='utf-8')
        for name, data in files.items():
            (dest.parent/name).parent.mkdir(parents=True, exist_ok=True)
            (dest.parent/name).write_bytes(data)
        nav.append({'Home' if page == 'index.md' else str(title): page})
    for f in NBS.rglob('*'):  # images the notebooks' markdown links to
        rel = f.relative_to(NBS)
        if f.suffix.lower() in ASSETS and not any(p.startswith(('.', '_')) for p in rel.parts):
            (docs/rel).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(f, docs/rel)
    shutil.copytree(DOCS/'assets', docs/'assets')
    try: import mathjax
    except ImportError: sys.exit('nbdocs: MathJax is missing: pip install -e ".[dev]" (django-static-mathjax)')
    mj = Path(mathjax.__file__).parent/'static'/'mathjax'/'es5'/'tex-svg-full.js'
    (docs/'assets'/'mathjax').mkdir(parents=True, exist_ok=True); shutil.copy2(mj, docs/'assets'/'mathjax'/mj.name)
    conf = {'INHERIT': str(DOCS/'mkdocs.yml'), 'site_name': CFG.title, 'site_description': CFG.description,
            'site_url': DOC_URL, 'docs_dir': str(docs), 'site_dir': str(ROOT/'_site'), 'nav': nav,
            'extra': {'social': [{'icon': 'fontawesome/brands/github', 'link': CFG.git_url}]}}
    (out/'mkdocs.yml').write_text(yaml.safe_dump(conf, sort_keys=False, allow_unicode=True))
    print(f'nbdocs: {len(nbs)} pages -> {docs}')

def build_readme():
    "README.md text from the home notebook (links and figures point at the published site)"
    nb_name = Path(CFG.readme_nb)
    if not (NBS/nb_name).exists(): sys.exit(f'nbdocs: no {NBS.name}/{nb_name}')
    try: nb = process(nb_name)
    except RuntimeError as e: sys.exit(f'nbdocs: {e}')
    title, desc = prepare(nb, 'index.md', set(), set(), readme=True)
    body, _ = to_markdown(nb, DOC_URL + 'index_files')
    body = body.replace('https%3A//', 'https://')  # nbconvert quotes the figure's URL like a path
    head = f'# {title}\n\n' + (f'> {desc}\n\n' if desc else '')
    note = '<!-- Generated from nbs/index.ipynb by docs/readme.sh: edit the notebook, not this file. -->\n\n'
    return note + head + re.sub(r'\n{3,}', '\n\n', body.strip()) + '\n'

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('what', choices=['site', 'readme'])
    ap.add_argument('--check', action='store_true', help='readme: fail if README.md is not what the notebook gives')
    a = ap.parse_args()
    if a.what == 'site': build_site(PROC/'site')
    else:
        text, readme = build_readme(), ROOT/'README.md'
        if a.check:
            if not readme.exists() or readme.read_text(encoding='utf-8') != text:
                import difflib
                old = readme.read_text(encoding='utf-8').splitlines() if readme.exists() else []
                sys.stdout.writelines(l + '\n' for l in difflib.unified_diff(old, text.splitlines(), 'README.md', 'generated', lineterm=''))
                sys.exit('README.md is stale: run `bash docs/readme.sh` and commit it')
            print('README.md is up to date')
        else: readme.write_text(text, encoding='utf-8'); print('wrote README.md')
