"""The documentation: the built gallery in a real browser, the build's strictness, the
getting-started code.

The browser tests open ``docs/_build/html`` (built by ``make docs``) in headless
Chromium (Debian's ``/usr/bin/chromium``, driven by the ``playwright`` package)
over a loopback HTTP server, and skip when the site or the browser is absent.
Any request that would leave the machine is blocked and fails the test: the
gallery must work offline.
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


def test_gallery_page_lists_thumbnails_and_titles(tmp_path: Path, monkeypatch: Any) -> None:
    import base64

    import nbformat
    from PIL import Image

    gallery = tmp_path / "gallery"
    gallery.mkdir()
    monkeypatch.setattr(build_gallery, "GALLERY", gallery)
    monkeypatch.setattr(build_gallery, "THUMBS", gallery / "thumbnails")
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
