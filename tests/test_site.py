"""Browser checks of the docs site in `_site/` (built by `bash docs/build.sh`).

The site is served on 127.0.0.1 by a local HTTP server and every page is opened in Debian's headless
Chromium, driven by Playwright (its Python package only: it never downloads a browser). Expectations come
from the notebooks and the library, not from the build: one page per notebook, its title, the API entries
of the exported names (`__all__` and `@patch`ed methods, located through nbdev's `_modidx.py`), figures on
pages whose notebook has plots. A screenshot of each page goes to test-artifacts/screenshots/.
"""
import ast, functools, http.server, json, os, re, shutil, subprocess, threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE, NBS, SHOTS = ROOT/'_site', ROOT/'nbs', ROOT/'test-artifacts'/'screenshots'
CHROMIUM = os.environ.get('CHROMIUM') or next(  # Debian's chromium; $CHROMIUM or another local Chromium elsewhere
    (p for p in ('/usr/bin/chromium', *map(shutil.which, ('chromium', 'chromium-browser', 'google-chrome')))
     if p and os.access(p, os.X_OK)), '/usr/bin/chromium')
HIDE = {'export', 'exports', 'exporti', 'hide', 'default_exp'}


def _notebooks():
    "nbs/**/*.ipynb as nbdev finds them (no `_` or `.` names), the home page first"
    nbs = [p.relative_to(NBS) for p in NBS.rglob('*.ipynb')
           if not any(part.startswith(('_', '.')) for part in p.relative_to(NBS).parts)]
    return sorted(nbs, key=lambda p: (p.name != 'index.ipynb', p.as_posix()))


def _page(nb):
    "nbdev's page name for a notebook: 00_span.ipynb -> span.html"
    return 'index.html' if nb.as_posix() == 'index.ipynb' else \
        nb.with_name(re.sub(r'^\d+[a-zA-Z0-9]*_', '', nb.name.lower())).with_suffix('.html').as_posix()


def _directives(src):
    lines = src.splitlines()
    return {m[1].rstrip(':'): m[2].strip() for l in lines if (m := re.match(r'^\s*#\s*\|\s*([\w-]+:?)\s*(.*)$', l))}


def _nb_facts(nb):
    "Title (the first `# ` heading) and whether a visible cell has a saved figure"
    cells = json.loads((NBS/nb).read_text(encoding='utf-8'))['cells']
    src = lambda c: ''.join(c['source'])
    title = next((m[1].strip() for c in cells if c['cell_type'] == 'markdown'
                  for m in [re.match(r'^#\s+(.+)$', src(c).strip().splitlines()[0] if src(c).strip() else '')] if m), None)
    def visible(c):
        d = _directives(src(c))
        return not (d.keys() & HIDE) and d.get('include') != 'false' and d.get('output') != 'false'
    plots = any(k.startswith('image/') for c in cells if c['cell_type'] == 'code' and visible(c)
                for o in c.get('outputs', []) for k in o.get('data', {}))
    return title, plots


@functools.cache
def _api_entries():
    "{page: [(name, anchor)]}: public names of each module (`__all__`, `@patch`ed methods) and where nbdev links them"
    pkg = next(p for p in ROOT.iterdir() if (p/'_modidx.py').exists())
    ns = {}; exec((pkg/'_modidx.py').read_text(), ns)
    links = {k: v[0] for mod in ns['d']['syms'].values() for k, v in mod.items()}
    from nbdev.showdoc import showdoc_nm
    res = {}
    for py in sorted(pkg.glob('[!_]*.py')):
        tree, mod = ast.parse(py.read_text(encoding='utf-8')), f'{pkg.name}.{py.stem}'
        names = next((ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                      and any(getattr(t, 'id', '') == '__all__' for t in n.targets)), [])
        for n in tree.body:
            if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): continue
            nm = showdoc_nm(n)
            if nm.split('.')[-1].startswith('_') or (nm not in names and '.' not in nm): continue
            if link := links.get(f'{mod}.{nm}'):
                page, _, anchor = link.partition('#')
                res.setdefault(page, []).append((nm, anchor))
    return res


NOTEBOOKS = _notebooks()


@pytest.fixture(scope='session')
def site():
    "The built site, (re)built with docs/build.sh when missing or older than a notebook"
    index = SITE/'index.html'
    newest = max((p.stat().st_mtime for p in NBS.rglob('*.ipynb')), default=0)
    if not index.exists() or index.stat().st_mtime < newest or not all((SITE/_page(nb)).exists() for nb in NOTEBOOKS):
        r = subprocess.run(['bash', 'docs/build.sh'], cwd=ROOT, capture_output=True, text=True)
        assert r.returncode == 0, f'docs/build.sh failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}'
    return SITE


@pytest.fixture(scope='session')
def server(site):
    "Serve _site on 127.0.0.1 (a free port) in a thread"
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(site)))
    t = threading.Thread(target=httpd.serve_forever, daemon=True); t.start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}/'
    httpd.shutdown(); httpd.server_close(); t.join(5)


@pytest.fixture(scope='session')
def browser():
    pw_api = pytest.importorskip('playwright.sync_api', reason='pip install -e ".[dev]" (playwright)')
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f'no Chromium at {CHROMIUM}: apt-get install chromium (bash .ci/system-deps)')
    shutil.rmtree(SHOTS, ignore_errors=True); SHOTS.mkdir(parents=True)
    with pw_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=[
            '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
            '--disable-background-networking', '--disable-component-update', '--no-first-run',
            '--disable-default-apps', '--disable-sync', '--metrics-recording-only', '--mute-audio'])
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    "A fresh page that records JavaScript errors and refuses every request outside the local server"
    ctx = browser.new_context(viewport={'width': 1280, 'height': 900})
    pg = ctx.new_page()
    pg.errors, host = [], urlparse(server).netloc
    pg.on('pageerror', lambda e: pg.errors.append(f'pageerror: {e}'))
    pg.on('console', lambda m: m.type == 'error' and pg.errors.append(f'console: {m.text}'))
    pg.on('requestfailed', lambda r: pg.errors.append(f'request failed: {r.url} {r.failure}'))
    def route(r):
        if urlparse(r.request.url).netloc == host: r.continue_()
        else: pg.errors.append(f'external request: {r.request.url}'); r.abort()
    ctx.route('**/*', route)
    yield pg
    ctx.close()


def test_notebooks_found():
    assert NOTEBOOKS and NOTEBOOKS[0].as_posix() == 'index.ipynb', 'nbs/index.ipynb (the home page) is missing'


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[nb.as_posix() for nb in NOTEBOOKS])
def test_page(nb, page, server):
    title, plots = _nb_facts(nb)
    url = _page(nb)
    assert (SITE/url).exists(), f'no page {url} for {nb}'
    page.goto(server + url, wait_until='load')
    page.wait_for_load_state('networkidle')
    page.screenshot(path=str(SHOTS/url.replace('/', '__').replace('.html', '.png')), full_page=True)
    # title and content
    if title: assert page.title().startswith(title), f'{url}: title {page.title()!r}, notebook says {title!r}'
    main = page.locator('article.md-content__inner')
    text = main.inner_text()
    assert len(text.strip()) > 50, f'{url}: main content is (nearly) empty'
    if title: assert page.locator('article h1').first.inner_text().strip().rstrip('¶').strip() == title
    # no nbdev directive in the code shown, no Quarto markup in the prose
    code = main.locator('pre code').evaluate_all('els => els.map(e => e.textContent)')
    directives = [l for c in code for l in c.splitlines() if re.match(r'\s*#\s*\|\s*[\w-]+', l)]
    assert not directives, f'{url}: nbdev directives visible: {directives[:5]}'
    assert not [c for c in code if re.match(r'\s*show_doc\(', c)], f'{url}: a show_doc call is visible'
    prose = '\n'.join(main.locator('p, li').evaluate_all('els => els.map(e => e.textContent)'))
    for leak in (':::', '{.callout', '{target='):
        assert leak not in prose, f'{url}: Quarto markup {leak!r} visible in the page'
    # navigation lists every notebook, in notebook order
    nav = page.locator('nav.md-nav--primary a.md-nav__link[href]')
    hrefs = [h.split('#')[0] for h in nav.evaluate_all('els => els.map(e => e.getAttribute("href"))')]
    expected = [os.path.relpath(_page(other), os.path.dirname(url) or '.') for other in NOTEBOOKS]
    listed = list(dict.fromkeys(h for h in hrefs if h in expected))
    assert listed == expected, f'{url}: the navigation lists {listed}, the notebooks give {expected}'
    # per-page table of contents
    h2 = main.locator('h2[id]').count()
    if h2: assert page.locator('nav.md-nav--secondary a.md-nav__link').count() >= h2, f'{url}: no table of contents'
    # figures: every <img> in the content loaded, at least one where the notebook has plots
    imgs = main.locator('img').evaluate_all('els => els.map(e => [e.getAttribute("src"), e.complete && e.naturalWidth])')
    broken = [src for src, w in imgs if not w]
    assert not broken, f'{url}: images that did not load: {broken}'
    if plots: assert imgs, f'{url}: the notebook has figures but the page shows none'
    # API entries of the names this page exports: a heading with nbdev's anchor, a signature below it
    for name, anchor in _api_entries().get(url, []):
        head = page.locator(f'[id="{anchor}"]')
        assert head.count() == 1, f'{url}: {head.count()} API entries for {name} (#{anchor}), expected one'
        assert name in head.inner_text(), f'{url}: entry #{anchor} does not name {name}'
        doc = page.locator(f'.aha-doc:has([id="{anchor}"])')
        assert doc.locator('pre code').count() >= 1, f'{url}: {name} has no signature'
        src = doc.locator('a.aha-source').first.get_attribute('href') or ''
        assert re.search(r'/blob/.+\.py#L\d+$', src), f'{url}: {name} has no source link ({src!r})'
    # maths typeset, no JavaScript errors, nothing fetched from other hosts
    if main.locator('.arithmatex').count():
        page.wait_for_selector('article .arithmatex mjx-container', timeout=10_000)
    assert not page.errors, f'{url}: ' + '\n'.join(page.errors)


def test_search(page, server):
    "Site-wide search finds a term from a notebook other than the home page"
    page.goto(server + 'index.html', wait_until='load')
    others = [nb for nb in NOTEBOOKS[1:] if _nb_facts(nb)[0]]
    if not others: pytest.skip('only the home page exists so far')
    term = _nb_facts(others[0])[0].split()[0]
    box = page.locator('input.md-search__input')
    box.click(); box.press_sequentially(term, delay=30)
    page.wait_for_selector('.md-search-result__item', timeout=10_000)
    links = page.locator('.md-search-result__item a').evaluate_all('els => els.map(e => e.getAttribute("href"))')
    assert any(_page(others[0]) in l for l in links), f'search for {term!r} gave {links}'
    assert not page.errors, '\n'.join(page.errors)
