"""The documentation: the built gallery in a real browser, the build's strictness, the
getting-started code.

The browser tests open ``docs/_build/html`` (built by ``make docs``) in headless
Chromium (Debian's ``/usr/bin/chromium``, driven by the ``playwright`` package)
over a loopback HTTP server, and skip when the site or the browser is absent.
Any request that would leave the machine is blocked and fails the test: the
gallery (and its math: MathJax is served by the site) must work offline. Other
checks read the built HTML (source links, one entry per public callable, links
from the API to the gallery) or run docs/build_gallery.py on small notebooks.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import re
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
SITE = DOCS / "_build" / "html"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _load_build_gallery() -> Any:
    name = "_neurorep_docs_build_gallery"
    spec = importlib.util.spec_from_file_location(name, DOCS / "build_gallery.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


build_gallery = _load_build_gallery()


# ----------------------------------------------------------------------------
# the built site in headless Chromium
# ----------------------------------------------------------------------------
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def site_url() -> Iterator[str]:
    """The built HTML served on a loopback port (skips when `make docs` has not run)."""
    if not (SITE / "gallery" / "index.html").is_file():
        pytest.skip(f"built docs not found at {SITE}; run `make docs` first")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium through playwright (never a downloaded browser)."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


_IMAGES_JS = """() => Array.from(document.images).map(img => ({
    src: img.currentSrc || img.src, complete: img.complete, width: img.naturalWidth,
    cls: img.className}))"""

_ALL_IMAGES_SETTLED_JS = """() => Array.from(document.images).every(img => img.complete)"""


def _open(browser: Any, url: str, site_url: str) -> tuple[Any, dict[str, list[str]]]:
    """Open ``url``; block and record requests off the loopback server; record failures."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: dict[str, list[str]] = {"external": [], "failed": [], "console": []}

    def route(r: Any) -> None:
        if r.request.url.startswith(site_url) or r.request.url.startswith("data:"):
            r.continue_()
        else:
            problems["external"].append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("response", lambda resp: resp.status >= 400 and problems["failed"].append(
        f"{resp.status} {resp.url}"))
    page.on("pageerror", lambda err: problems["console"].append(str(err)))
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == 200, f"{url}: {response and response.status}"
    page.evaluate("() => document.querySelectorAll('img').forEach(img => img.loading = 'eager')")
    page.wait_for_function(_ALL_IMAGES_SETTLED_JS, timeout=15_000)
    return page, problems


def _broken_images(page: Any) -> list[dict[str, Any]]:
    return [img for img in page.evaluate(_IMAGES_JS) if not img["complete"] or img["width"] <= 0]


def test_gallery_page_shows_a_loaded_thumbnail_per_notebook(browser: Any, site_url: str) -> None:
    page, problems = _open(browser, f"{site_url}/gallery/index.html", site_url)
    try:
        assert "Gallery" in page.title()
        images = page.evaluate(_IMAGES_JS)
        thumbs = [img for img in images if "gallery-thumb" in img["cls"]]
        notebooks = build_gallery.notebook_paths()
        assert len(thumbs) == len(notebooks), (
            f"{len(thumbs)} thumbnails for {len(notebooks)} notebooks in notebooks/: "
            f"the site is stale, rerun `make docs`"
        )
        assert not _broken_images(page), _broken_images(page)
        assert all(img["width"] >= 100 for img in thumbs), thumbs
        links = page.eval_on_selector_all(
            ".gallery-card strong a.reference.internal", "els => els.map(a => a.href)")
        assert sorted(Path(link).stem for link in links) == [p.stem for p in notebooks]
        assert problems == {"external": [], "failed": [], "console": []}, problems
    finally:
        page.close()


def _png_outputs(nb_path: Path) -> int:
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    hidden = {"remove-cell", "remove-output", "remove_cell", "remove_output"}
    return sum(
        "image/png" in out.get("data", {})
        for cell in nb.cells
        if cell.cell_type == "code" and not hidden & set(cell.metadata.get("tags", []))
        for out in cell.get("outputs", [])
    )


def test_every_gallery_notebook_page_shows_its_figures(browser: Any, site_url: str) -> None:
    executed = sorted((DOCS / "gallery").glob("*.ipynb"))
    assert executed, "docs/gallery/ holds no executed notebook"
    for nb_path in executed:
        page, problems = _open(browser, f"{site_url}/gallery/{nb_path.stem}.html", site_url)
        try:
            figures = page.eval_on_selector_all(
                "article img", "els => els.filter(e => e.naturalWidth > 0).length")
            assert not _broken_images(page), (nb_path.name, _broken_images(page))
            assert figures >= _png_outputs(nb_path), (nb_path.name, figures)
            assert problems == {"external": [], "failed": [], "console": []}, (
                nb_path.name, problems)
        finally:
            page.close()


def test_every_gallery_page_offers_its_downloads_and_run_time(
        browser: Any, site_url: str) -> None:
    """Like sphinx-gallery: the notebook and a script to download, and how long it ran."""
    import json

    executed = sorted((DOCS / "gallery").glob("*.ipynb"))
    assert executed, "docs/gallery/ holds no executed notebook"
    index, problems = _open(browser, f"{site_url}/gallery/index.html", site_url)
    try:
        cards = index.eval_on_selector_all(".gallery-card", "els => els.map(e => e.innerText)")
        assert len(cards) == len(executed) and all(
            re.search(r"Run time \d+( min \d\d)? s", c) for c in cards), cards
    finally:
        index.close()
    for nb_path in executed:
        stem = nb_path.stem
        page, problems = _open(browser, f"{site_url}/gallery/{stem}.html", site_url)
        try:
            meta = page.inner_text(".gallery-meta")
            assert re.search(r"Run time \d+( min \d\d)? s \(kernel CPU", meta), (stem, meta)
            hrefs = page.eval_on_selector_all("article a.download", "els => els.map(a => a.href)")
            names = sorted(Path(h).name for h in hrefs)
            assert names == sorted([f"{stem}.ipynb", f"{stem}.py"] * 2), (stem, hrefs)
            for href in set(hrefs):
                response = page.request.get(href)
                assert response.status == 200, (href, response.status)
                if href.endswith(".ipynb"):
                    nb = json.loads(response.text())
                    assert nb["cells"] and not any(
                        c.get("outputs") for c in nb["cells"]), f"{href}: outputs in download"
                    assert nb == json.loads((REPO / "notebooks" / nb_path.name).read_text()), (
                        f"{href} is not the notebook in notebooks/")
                else:
                    compile(response.text(), href, "exec")
            assert problems == {"external": [], "failed": [], "console": []}, (stem, problems)
        finally:
            page.close()


_MATH_JS = r"""() => {
    const math = Array.from(document.querySelectorAll('article .math'));
    return {
        math: math.length,
        rendered: math.filter(el => el.querySelector('mjx-container')).length,
        errors: document.querySelectorAll('mjx-merror').length,
        raw_tex: /\\\(|\\\[|\$\$/.test(document.querySelector('article').innerText),
        scripts: Array.from(document.scripts).map(s => s.src).filter(s => /mathjax/i.test(s)),
    };
}"""

_METHOD_PAGES = sorted(p.stem for p in (DOCS / "methods").glob("*.md"))


@pytest.mark.parametrize("name", _METHOD_PAGES)
def test_methods_equations_render_offline(browser: Any, site_url: str, name: str) -> None:
    """MathJax is served by the site itself and typesets every equation with no network."""
    page, problems = _open(browser, f"{site_url}/methods/{name}.html", site_url)
    try:
        state = page.evaluate(_MATH_JS)
        if name != "index":
            assert state["math"] >= 3, f"{name}: expected equations on the page, found {state}"
        if state["math"]:
            assert state["scripts"] and all(s.startswith(site_url) for s in state["scripts"]), (
                f"{name}: MathJax must come from the site: {state['scripts']}")
            page.wait_for_function(
                "() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                timeout=15_000)
            page.evaluate("() => MathJax.startup.promise")  # resolves once typeset
            state = page.evaluate(_MATH_JS)
        assert state["rendered"] == state["math"], f"{name}: equations left as TeX: {state}"
        assert state["errors"] == 0, f"{name}: MathJax could not typeset {state['errors']}"
        assert not state["raw_tex"], f"{name}: raw TeX delimiters in the page text"
        assert problems == {"external": [], "failed": [], "console": []}, (name, problems)
    finally:
        page.close()


# ----------------------------------------------------------------------------
# the API reference: every source link works, entries link to the gallery
# ----------------------------------------------------------------------------
def _site_or_skip() -> Path:
    if not (SITE / "api" / "generated" / "rsa.html").is_file():
        pytest.skip(f"built docs not found at {SITE}; run `make docs` first")
    return SITE


def _internal_links(page: Path) -> list[tuple[str, str]]:
    """(href, target problem or '') of every link from a built page to another built page."""
    import urllib.parse

    out = []
    for href in re.findall(r'href="([^"]+)"', page.read_text()):
        if href.startswith(("http:", "https:", "mailto:", "data:", "javascript:")):
            continue
        path, _, fragment = href.partition("#")
        target = (page.parent / urllib.parse.unquote(path.split("?")[0])).resolve() \
            if path else page.resolve()
        if not target.is_file():
            out.append((href, "missing file"))
        elif fragment and target.suffix == ".html" and \
                f'id="{fragment}"' not in target.read_text():
            out.append((href, f"no anchor #{fragment} in {target.relative_to(SITE)}"))
        else:
            out.append((href, ""))
    return out


def test_source_links_lead_to_the_entry_and_back() -> None:
    """viewcode: every "[source]" link of the API pages and every "[docs]" link back works.

    A function exported by two subpackages used to be documented on both pages,
    and the "[docs]" link of its source page pointed at an anchor of the wrong one.
    """
    site = _site_or_skip()
    pages = sorted((site / "api" / "generated").glob("*.html"))
    pages += sorted((site / "_modules").rglob("*.html"))
    broken = [f"{p.relative_to(site)} -> {href}: {why}" for p in pages
              for href, why in _internal_links(p)
              if why and ("_modules/" in href or "api/generated/" in href)]
    assert not broken, "\n".join(broken)
    backs = sum(len(re.findall(r'class="viewcode-back"', p.read_text())) for p in pages)
    assert backs > 50, f"only {backs} [docs] links from the source pages"


def test_every_public_callable_is_documented_once() -> None:
    site = _site_or_skip()
    anchors: dict[str, list[str]] = {}
    for page in sorted((site / "api" / "generated").glob("*.html")):
        for anchor in re.findall(r'<dt class="sig sig-object py" id="([^"]+)"', page.read_text()):
            anchors.setdefault(anchor, []).append(page.name)
    assert len(anchors) > 100, len(anchors)
    twice = {a: where for a, where in anchors.items() if len(where) > 1}
    assert not twice, twice
    # a re-export is a link to the one entry, not a second entry
    rsa = (site / "api" / "generated" / "rsa.html").read_text()
    assert 'href="data.html#neurorep.data.from_rsatoolbox"' in rsa


def test_api_types_link_to_the_libraries_docs_without_a_network() -> None:
    """intersphinx from local inventories (docs/inventories.py): numpydoc types link out."""
    site = _site_or_skip()
    html = (site / "api" / "generated" / "rsa.html").read_text()
    entry = html[html.index('id="neurorep.rsa.compute_rdm"'):]
    entry = entry[:entry.index('<dt class="sig sig-object py"')]
    assert 'href="https://docs.xarray.dev/en/stable/generated/xarray.DataArray.html"' in entry
    stats = (site / "api" / "generated" / "stats.html").read_text()
    assert "numpy.org/doc/stable/reference/random/generator.html#numpy.random.Generator" in stats
    plots = (site / "api" / "generated" / "plotting.html").read_text()
    assert "matplotlib.org/stable/api/_as_gen/matplotlib.axes.Axes.html" in plots


def test_local_inventories_are_valid_sphinx_inventories(tmp_path: Path) -> None:
    import sys

    from sphinx.util.inventory import InventoryFile

    sys.path.insert(0, str(DOCS))
    try:
        from inventories import INVENTORIES, TYPE_ALIASES, write_inventories
    finally:
        sys.path.remove(str(DOCS))
    mapping = write_inventories(tmp_path)
    assert set(mapping) >= {"numpy", "scipy", "xarray", "matplotlib"}
    known = {}
    for project, (root, inv) in mapping.items():
        with open(inv, "rb") as f:
            data = InventoryFile.load(f, root, lambda base, uri: base + uri)
        entries = {name: item for table in data.values() for name, item in table.items()}
        assert set(entries) == set(INVENTORIES[project][1]), project
        known.update(entries)
    # every type alias resolves to a listed name
    assert all(target in known for target in TYPE_ALIASES.values())


def test_api_entries_link_to_the_gallery_examples_that_use_them() -> None:
    """Each entry lists the gallery notebooks whose code calls it (imports followed)."""
    import json

    site = _site_or_skip()
    backrefs = DOCS / "gallery" / "backreferences.json"
    assert backrefs.is_file(), "docs/build_gallery.py writes gallery/backreferences.json"
    uses = json.loads(backrefs.read_text())["uses"]
    assert "03_rsa" in uses["neurorep.rsa.compute_rdm"]
    html = (site / "api" / "generated" / "rsa.html").read_text()
    entry = html[html.index('id="neurorep.rsa.compute_rdm"'):]
    entry = entry[:entry.index('<dt class="sig sig-object py"')]
    assert "Used in the gallery" in entry
    linked = set(re.findall(r'href="\.\./\.\./gallery/([^"#]+)\.html"', entry))
    assert linked == set(uses["neurorep.rsa.compute_rdm"]), linked
    # every gallery notebook is linked from some entry, and every such link works
    pages = sorted((site / "api" / "generated").glob("*.html"))
    targets = {href: why for p in pages for href, why in _internal_links(p) if "gallery/" in href}
    assert not {h: w for h, w in targets.items() if w}, targets
    stems = {Path(h.partition("#")[0]).stem for h in targets}
    assert stems >= {p.stem for p in (DOCS / "gallery").glob("*.ipynb")}, stems


# ----------------------------------------------------------------------------
# the executed gallery: every cell that calls plot_* shows its figure, once
# ----------------------------------------------------------------------------
_PLOT_REPRS = ("<Axes", "<Figure size", "PlotDisplay(", "<matplotlib.")


def _calls_plot(source: str) -> bool:
    """Whether the code calls a ``plot_*`` function (comments and strings do not count)."""
    import ast

    # IPython magics and shell escapes are not Python
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", "")
            if name.startswith("plot_"):
                return True
    return False


def _figure_problems(nb: Any) -> list[str]:
    """Plot cells without an image, figures shown twice, plot objects shown as text."""
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        where = f"cell {i} (id {cell.get('id')})"
        pngs = [out["data"]["image/png"] for out in cell.get("outputs", [])
                if "image/png" in out.get("data", {})]
        if _calls_plot(cell.source) and not pngs:
            problems.append(f"{where} calls plot_* but shows no image")
        if len(set(map(str, pngs))) < len(pngs):
            problems.append(f"{where} shows the same image twice")
        for out in cell.get("outputs", []):
            text = "".join(out.get("data", {}).get("text/plain", ""))
            if "image/png" not in out.get("data", {}) and text.startswith(_PLOT_REPRS):
                problems.append(f"{where} shows a plot object as text: {text[:60]!r}")
    return problems


_NOTEBOOKS = build_gallery.notebook_paths()


@pytest.mark.parametrize("nb_path", _NOTEBOOKS, ids=[p.name for p in _NOTEBOOKS])
def test_every_plot_call_in_the_gallery_shows_an_image(nb_path: Path) -> None:
    """On the copies docs/build_gallery.py executed (as `make docs` leaves them)."""
    import nbformat

    executed = build_gallery.GALLERY / nb_path.name
    if not build_gallery._cached(executed, build_gallery.source_key(nb_path)):
        pytest.skip(f"no current executed copy of {nb_path.name} in docs/gallery/; run "
                    f"`make docs` (or python docs/build_gallery.py)")
    problems = _figure_problems(nbformat.read(executed, as_version=4))
    assert not problems, f"{nb_path.name}: " + "; ".join(problems)


def test_the_figure_check_catches_missing_and_doubled_images() -> None:
    import nbformat

    png = {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure size 640x480 with 1 Axes>"}
    cells = [
        nbformat.v4.new_code_cell("fig = plot_rdm(r)"),  # no image: a detached figure
        nbformat.v4.new_code_cell("%matplotlib inline\nplot_rdm(r)", outputs=[
            nbformat.v4.new_output("execute_result", data=png, execution_count=1),
            nbformat.v4.new_output("display_data", data=png)]),  # the figure twice
        nbformat.v4.new_code_cell("ax = plotting.plot_mds(r).ax_\nax", outputs=[
            nbformat.v4.new_output("execute_result", data={"text/plain": "<Axes: >"},
                                   execution_count=2),
            nbformat.v4.new_output("display_data", data=png)]),  # an Axes shown as text
        nbformat.v4.new_code_cell("# plot_rdm(r) is in a comment\nx = 'plot_mds(r)'"),
        nbformat.v4.new_code_cell("plot_rdm(r)", outputs=[
            nbformat.v4.new_output("display_data", data=png)]),  # right
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    problems = _figure_problems(nb)
    assert len(problems) == 3, problems
    assert "cell 0 " in problems[0] and "no image" in problems[0]
    assert "cell 1 " in problems[1] and "twice" in problems[1]
    assert "cell 2 " in problems[2] and "as text" in problems[2]


# ----------------------------------------------------------------------------
# the build is strict: notebook errors and neurorep warnings fail it
# ----------------------------------------------------------------------------
def _notebook(path: Path, source: str) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source)]
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize(
    ("source", "status"),
    [
        ("import warnings, neurorep\nwarnings.warn('x', neurorep.NeurorepWarning)", "failed"),
        (  # a plain UserWarning attributed to a neurorep module (stacklevel pointing inside)
            "import warnings\nwarnings.warn_explicit('x', UserWarning, 'f.py', 1,"
            " module='neurorep.rsa._compare')",
            "failed",
        ),
        ("raise ValueError('broken notebook')", "failed"),
        ("import warnings\nwarnings.warn('not from neurorep', UserWarning)\nprint('ok')",
         "executed"),
    ],
    ids=["neurorep-warning", "warning-from-neurorep-module", "error", "other-warning"],
)
def test_gallery_execution_fails_on_errors_and_neurorep_warnings(
    tmp_path: Path, source: str, status: str
) -> None:
    nb_path = _notebook(tmp_path / "99_case.ipynb", source)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / nb_path.name).write_text("{}")  # a stale copy from an earlier build
    outcome = build_gallery.execute(nb_path, timeout=120, force=True, out_dir=out_dir)
    assert outcome.status == status, outcome.error
    if status == "failed":
        assert not (out_dir / nb_path.name).exists(), "a failed notebook left a stale copy"
        assert outcome.error
    else:
        import nbformat

        saved = nbformat.read(out_dir / nb_path.name, as_version=4)
        assert len(saved.cells) == 1, "the injected strict-warnings cell must be removed"
        assert saved.cells[0].outputs, "outputs are kept"


def test_gallery_copy_keeps_no_widgets(tmp_path: Path) -> None:
    """Widgets (e.g. progress bars) would need a CDN-loaded manager on a static page: dropped."""
    pytest.importorskip("ipywidgets")
    import nbformat

    nb_path = _notebook(tmp_path / "98_widgets.ipynb",
                        "import ipywidgets\nprint('kept')\nipywidgets.IntProgress(value=1, max=3)")
    out_dir = tmp_path / "out"
    outcome = build_gallery.execute(nb_path, timeout=120, force=True, out_dir=out_dir)
    assert outcome.status == "executed", outcome.error
    saved = nbformat.read(out_dir / nb_path.name, as_version=4)
    assert "widgets" not in saved.metadata
    outputs = saved.cells[0].outputs
    assert [o.get("text") for o in outputs] == ["kept\n"], outputs


def _tmp_gallery(tmp_path: Path, monkeypatch: Any) -> Path:
    """Point every output of build_gallery.write_gallery into ``tmp_path/gallery``."""
    gallery = tmp_path / "gallery"
    gallery.mkdir()
    monkeypatch.setattr(build_gallery, "GALLERY", gallery)
    monkeypatch.setattr(build_gallery, "THUMBS", gallery / "thumbnails")
    monkeypatch.setattr(build_gallery, "DOWNLOADS", gallery / "downloads")
    monkeypatch.setattr(build_gallery, "BACKREFS", gallery / "backreferences.json")
    monkeypatch.setattr(build_gallery, "NOTEBOOKS", tmp_path / "notebooks")
    return gallery


def _png_b64(tmp_path: Path, colour: str) -> str:
    import base64

    from PIL import Image

    path = tmp_path / f"{colour}.png"
    Image.new("RGB", (60, 40), colour).save(path)
    return base64.b64encode(path.read_bytes()).decode()


def _figure_cell(tmp_path: Path, colour: str, **kwargs: Any) -> Any:
    import nbformat

    return nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output(
        "display_data", data={"image/png": _png_b64(tmp_path, colour)})], **kwargs)


def test_gallery_pages_offer_downloads_and_run_times(tmp_path: Path, monkeypatch: Any) -> None:
    """Each executed copy gets its run time and .ipynb/.py downloads; twice gives the same."""
    import nbformat

    gallery = _tmp_gallery(tmp_path, monkeypatch)
    source = tmp_path / "notebooks"
    source.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# 09 · Downloads\n\nSummary."),
                nbformat.v4.new_code_cell("%matplotlib inline\nx = 1 + 1\nprint(x)")]
    nbformat.write(nb, source / "09_dl.ipynb")
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
    nb.cells[1].execution_count = 1
    nb.metadata[build_gallery.META_KEY] = {"key": "k", "seconds": 83.4, "cpu_seconds": 61.0}
    nbformat.write(nb, gallery / "09_dl.ipynb")

    index = build_gallery.write_gallery([gallery / "09_dl.ipynb"])
    first = (gallery / "09_dl.ipynb").read_text()
    build_gallery.write_gallery([gallery / "09_dl.ipynb"])
    assert (gallery / "09_dl.ipynb").read_text() == first, "a second run changed the copy"

    page = nbformat.read(gallery / "09_dl.ipynb", as_version=4)
    assert [c.cell_type for c in page.cells] == ["markdown", "markdown", "code", "markdown"]
    top, foot = page.cells[1].source, page.cells[-1].source
    for text in (top, foot):
        assert "1 min 23 s (kernel CPU 1 min 01 s)" in text
        assert "<downloads/09_dl.ipynb>`" in text and "<downloads/09_dl.py>`" in text
    assert page.cells[2].outputs, "the executed outputs stay"
    assert "| [09 · Downloads](09_dl.ipynb) | 1 min 23 s (kernel CPU 1 min 01 s) |" in (
        index.read_text())
    assert "*Run time 1 min 23 s*" in index.read_text()

    offered = nbformat.read(gallery / "downloads" / "09_dl.ipynb", as_version=4)
    assert offered == nbformat.read(source / "09_dl.ipynb", as_version=4), (
        "the .ipynb download is the source notebook (no outputs, no page cells)")
    script = (gallery / "downloads" / "09_dl.py").read_text()
    compile(script, "09_dl.py", "exec")  # the magic is commented out: valid Python
    assert "# # 09 · Downloads" in script and "x = 1 + 1" in script
    assert "# %matplotlib inline" in script


def test_gallery_thumbnail_is_the_chosen_figure(tmp_path: Path, monkeypatch: Any) -> None:
    import nbformat

    def figures() -> list[Any]:
        return [_figure_cell(tmp_path, "red", id="first"),
                _figure_cell(tmp_path, "blue", id="second"),
                _figure_cell(tmp_path, "lime", id="third")]

    def thumb_colour(nb: Any) -> tuple[int, int, int]:
        from PIL import Image

        build_gallery.make_thumbnail(build_gallery.first_png(nb), tmp_path / "t.png", "x")
        img = Image.open(tmp_path / "t.png").convert("RGB")
        return img.getpixel((img.width // 2, img.height // 2))

    nb = nbformat.v4.new_notebook(cells=figures())
    assert thumb_colour(nb) == (255, 0, 0)  # by default the first figure
    nb.cells[2].metadata["tags"] = [build_gallery.THUMB_TAG]
    assert thumb_colour(nb) == (0, 255, 0)  # a tagged cell
    nb.metadata[build_gallery.META_KEY] = {"thumbnail": "second"}
    assert thumb_colour(nb) == (0, 0, 255)  # the cell the notebook metadata names wins
    nb.metadata[build_gallery.META_KEY] = {"thumbnail": "gone"}
    with pytest.raises(ValueError, match=r"'gone'.*not a code cell.*first, second, third"):
        build_gallery.first_png(nb)
    nb.cells.append(nbformat.v4.new_code_cell("x = 1", id="nofig"))
    nb.metadata[build_gallery.META_KEY] = {"thumbnail": "nofig"}
    with pytest.raises(ValueError, match="shows no PNG figure"):
        build_gallery.first_png(nb)


def test_executed_copy_keeps_the_thumbnail_choice(tmp_path: Path) -> None:
    import nbformat

    nb_path = _notebook(tmp_path / "97_thumb.ipynb", "print(1)")
    nb = nbformat.read(nb_path, as_version=4)
    nb.metadata[build_gallery.META_KEY] = {"thumbnail": nb.cells[0].id}
    nbformat.write(nb, nb_path)
    outcome = build_gallery.execute(nb_path, timeout=120, force=True, out_dir=tmp_path / "out")
    assert outcome.status == "executed", outcome.error
    meta = nbformat.read(tmp_path / "out" / nb_path.name, as_version=4).metadata
    assert meta[build_gallery.META_KEY]["thumbnail"] == nb.cells[0].id
    assert meta[build_gallery.META_KEY]["seconds"] > 0


def test_notebook_uses_follows_imports() -> None:
    import nbformat

    cells = [
        nbformat.v4.new_code_cell(
            "import numpy as np\nimport neurorep\nimport neurorep.stats as st\n"
            "from neurorep import data, rsa as r\n"
            "from neurorep.plotting.rsa import plot_rdm as show\n"
            "from neurorep.encoding import fit_ridge"),
        nbformat.v4.new_code_cell(
            "%matplotlib inline\nrdm = r.compute_rdm(data.members(tree)['x'])\n"
            "show(rdm)\nres = fit_ridge(X, Y, alphas=np.logspace(0, 1, 3))\n"
            "st.fdr(p)\nneurorep.alignment.score_matrix(a, b)\n"
            "f = partial(r.compare, method='corr')\nresult.score.plot()\n"
            "# rsa.evaluate(x) in a comment\ntext = 'r.searchlight(x)'"),
        nbformat.v4.new_markdown_cell("`r.evaluate(...)` in prose"),
    ]
    used = build_gallery.notebook_uses(nbformat.v4.new_notebook(cells=cells))
    expected = {"neurorep.rsa.compute_rdm", "neurorep.data.members",
                "neurorep.plotting.rsa.plot_rdm", "neurorep.encoding.fit_ridge",
                "neurorep.stats.fdr", "neurorep.alignment.score_matrix", "neurorep.rsa.compare"}
    assert expected <= used
    assert not {n for n in used if n.endswith(("evaluate", "searchlight", ".plot"))}, used
    assert not {n for n in used if n.startswith("numpy")}, used


def test_gallery_page_lists_thumbnails_and_titles(tmp_path: Path, monkeypatch: Any) -> None:
    import base64

    import nbformat
    from PIL import Image

    gallery = _tmp_gallery(tmp_path, monkeypatch)
    red = tmp_path / "red.png"
    Image.new("RGB", (60, 40), "red").save(red)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 07 · A title\n\nA summary with a [link](x.md)."),
        nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output(
            "display_data", data={"image/png": base64.b64encode(red.read_bytes()).decode()})]),
    ]
    nbformat.write(nb, gallery / "07_case.ipynb")
    nbformat.write(nbformat.v4.new_notebook(), gallery / "08_empty.ipynb")
    index = build_gallery.write_gallery([gallery / "07_case.ipynb", gallery / "08_empty.ipynb"])
    text = index.read_text()
    assert "**[07 · A title](07_case.ipynb)**" in text
    assert "A summary with a link." in text
    assert ":target: 07_case.html" in text
    assert re.search(r"```\{toctree\}\n:hidden:\n\n07_case\n08_empty\n```", text)
    thumb = Image.open(gallery / "thumbnails" / "07_case.png").convert("RGB")
    assert thumb.size == build_gallery.THUMB_SIZE
    assert thumb.getpixel((thumb.width // 2, thumb.height // 2)) == (255, 0, 0)
    assert (gallery / "thumbnails" / "08_empty.png").is_file()  # a placeholder


@pytest.mark.parametrize("nb_path", _NOTEBOOKS, ids=[p.name for p in _NOTEBOOKS])
def test_every_notebook_says_where_its_data_come_from(nb_path: Path) -> None:
    """The cell after the title names each dataset the code loads and how to get it."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    loaded = sorted(set(re.findall(r"datasets\.(?:load|fetch)\(\s*[\"']([\w.-]+)[\"']", code)))
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    if not loaded:  # a notebook on simulated data says so where a reader looks first
        assert re.search(r"\*\*The data here are simulated", nb.cells[0].source), (
            f"{nb_path.name} loads no dataset by name and does not say its data are simulated")
        return
    cell = nb.cells[1]
    assert cell.cell_type == "markdown" and cell.source.startswith("## Data"), (
        f"{nb_path.name}: the cell after the title must say where the data come from")
    assert "../shared/data" in cell.source and "per-user cache" in cell.source
    missing = [name for name in loaded
               if f"neurorep datasets fetch {name}" not in cell.source
               or f"| `{name}` |" not in cell.source]
    assert not missing, f"{nb_path.name}: the data cell does not describe {missing}"


def test_getting_started_describes_what_make_test_runs() -> None:
    """The page names every step the Makefile's ``test`` target runs, in its order."""
    make = (REPO / "Makefile").read_text()
    prereqs = re.search(r"^test:(.*)$", make, flags=re.M)
    assert prereqs is not None
    steps = [p for p in prereqs.group(1).split() if not p.startswith("$(")]
    assert steps == ["lint", "docs"], steps  # the page below describes these two
    recipe = make[prereqs.end():].split("\n\n")[0]
    assert "pytest" in recipe
    text = (DOCS / "getting_started.md").read_text()
    section = text[text.index("`make test` is what CI runs"):text.index("`make docs` alone")]
    where = [section.index(f"`make {step}`") for step in steps] + [section.index("pytest")]
    assert where == sorted(where), "the steps are described out of order"
    assert "--doctest-modules" in section and "headless Chromium" in section
    assert "every gallery" in section and "notebook" in section
    one_liner = re.search(r"^make test +# (.*)$", text, flags=re.M)
    assert one_liner is not None and "docs build" in one_liner.group(1), one_liner


# ----------------------------------------------------------------------------
# the getting-started page's code runs as written
# ----------------------------------------------------------------------------
def test_getting_started_code_runs(data_home: Path, tmp_path: Path, monkeypatch: Any) -> None:
    import neurorep

    text = (DOCS / "getting_started.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "getting_started.md has no python code block"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.filterwarnings("error", category=neurorep.NeurorepWarning)
        warnings.filterwarnings("error", module=r"neurorep(\..*)?$")
        for block in blocks:
            exec(compile(block, str(DOCS / "getting_started.md"), "exec"), namespace)
    import matplotlib.pyplot as plt

    plt.close("all")
    result = namespace["result"]
    assert float(result["score"].sel(model="animacy")) > 0.2
    assert (tmp_path / "models_of_human_IT.pdf").stat().st_size > 1000
