"""Execute every notebook in notebooks/ into docs/gallery/ and write the gallery page.

    python docs/build_gallery.py            # execute what changed, write docs/gallery/
    python docs/build_gallery.py --force    # execute everything again
    python docs/build_gallery.py --jobs 1   # one notebook at a time (default: 2 at once)

The docs are built in two steps (``make docs``): this script, then Sphinx,
which renders the executed notebooks as they are (myst-nb with
``nb_execution_mode = "off"``). Here each notebook

* is executed with nbclient in ``notebooks/`` (as in Jupyter), with a hidden
  first cell that turns every warning raised by neurorep into an error
  (``neurorep.NeurorepWarning`` and any warning attributed to a
  ``neurorep.*`` module); the cell is removed again from the saved copy;
* fails the build on any error (all notebooks are run, then every failure is
  reported and the exit status is 1; a failed notebook leaves no stale copy);
* runs two at a time on two cores, each kernel with one BLAS thread (measured
  on a busy 2-core machine: 1.6 CPU-minutes for the six notebooks, against 5.8
  one at a time with two spinning OpenBLAS threads each);
* gives the gallery its thumbnail: the PNG output of the cell chosen in the
  notebook's metadata (``"neurorep_docs": {"thumbnail": "<cell id>"}``), or of
  a cell tagged ``gallery-thumbnail``, else the first PNG output, shrunk to fit
  480 x 320;
* offers each notebook for download as ``.ipynb`` (the source in
  ``notebooks/``, without outputs) and as a ``.py`` script (jupytext's percent
  format), with the time it took to run, at the top and the foot of its page
  (``docs/gallery/downloads/``; the gallery page lists every run time);
* records which public neurorep functions and classes each notebook calls
  (``docs/gallery/backreferences.json``), so that the API reference links
  every entry to the gallery examples that use it;
* keeps no Jupyter widgets (e.g. the progress bars of model loading): their
  outputs and state are dropped from the saved copy, since a static page
  could show them only by loading the widget manager from a CDN, and the
  gallery works offline.

An executed copy is reused while the notebook, this script and neurorep's
source are unchanged (a content hash is stored in the copy's metadata), so a
second ``make docs`` only re-renders. Outputs go to ``docs/gallery/``, which
is git-ignored; ``notebooks/`` stays without outputs.
"""

from __future__ import annotations

import argparse
import ast
import base64
import hashlib
import io
import json
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
NOTEBOOKS = REPO / "notebooks"
GALLERY = DOCS / "gallery"
THUMBS = GALLERY / "thumbnails"
THUMB_SIZE = (480, 320)
THUMB_TAG = "gallery-thumbnail"
META_KEY = "neurorep_docs"
DOWNLOADS = GALLERY / "downloads"
BACKREFS = GALLERY / "backreferences.json"

STRICT_CELL = '''\
# Added by docs/build_gallery.py at execution time only: warnings from neurorep are errors.
import warnings as _nr_warnings

import neurorep as _nr

_nr_warnings.filterwarnings("error", category=_nr.NeurorepWarning)
_nr_warnings.filterwarnings("error", module=r"neurorep(\\..*)?$")
del _nr_warnings, _nr
'''


CPU_CELL = "import os as _nr_os\nprint(round(sum(_nr_os.times()[:4]), 1))\ndel _nr_os"


@dataclass
class Outcome:
    name: str
    status: str  # "executed", "cached" or "failed"
    seconds: float
    error: str = ""
    cpu_seconds: float = 0.0  # the kernel's user + system time (load-independent)


def notebook_paths(pattern: str = "*.ipynb") -> list[Path]:
    """The gallery notebooks: ``notebooks/NN_*.ipynb`` in name order (checkpoints excluded)."""
    return sorted(
        p for p in NOTEBOOKS.glob(pattern)
        if not p.name.startswith(("_", ".")) and ".ipynb_checkpoints" not in p.parts
    )


def source_key(nb_path: Path) -> str:
    """Hash of what an executed copy depends on: the notebook, this script, neurorep's code."""
    h = hashlib.sha256()
    h.update(nb_path.read_bytes())
    h.update(Path(__file__).read_bytes())
    for src in sorted((REPO / "neurorep").rglob("*")):
        if src.suffix in {".py", ".toml"} and "__pycache__" not in src.parts:
            h.update(str(src.relative_to(REPO)).encode())
            h.update(src.read_bytes())
    return h.hexdigest()


def _cached(out: Path, key: str) -> bool:
    if not out.is_file():
        return False
    try:
        meta = json.loads(out.read_text())["metadata"].get(META_KEY, {})
    except (OSError, ValueError, KeyError):
        return False
    return meta.get("key") == key


def execute(nb_path: Path, *, timeout: int = 600, force: bool = False,
            out_dir: Path = GALLERY, cwd: Path | None = None,
            threads: int | None = None) -> Outcome:
    """Execute one notebook into ``out_dir`` with neurorep warnings as errors; never raises.

    The copy is written only on success (a failure also removes an older copy).
    ``threads`` caps the kernel's BLAS/OpenMP threads (for parallel builds).
    """
    import nbformat
    from nbclient import NotebookClient

    out = out_dir / nb_path.name
    key = source_key(nb_path)
    if not force and _cached(out, key):
        return Outcome(nb_path.name, "cached", 0.0)
    out.unlink(missing_ok=True)
    nb = nbformat.read(nb_path, as_version=4)
    strict = nbformat.v4.new_code_cell(STRICT_CELL)
    strict.metadata["tags"] = ["remove-cell"]
    nb.cells.insert(0, strict)
    nb.cells.append(nbformat.v4.new_code_cell(CPU_CELL))
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd or nb_path.parent)}},
        store_widget_state=False,
    )
    kernel_env = None
    if threads is not None:
        caps = {k: str(threads) for k in
                ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
        kernel_env = {**os.environ, **caps}
    t0 = time.perf_counter()
    try:
        client.execute(env=kernel_env) if kernel_env else client.execute()
    except Exception as exc:  # CellExecutionError, DeadKernelError, timeouts
        return Outcome(nb_path.name, "failed", time.perf_counter() - t0, _short_error(exc))
    seconds = time.perf_counter() - t0
    nb.cells.pop(0)
    cpu_cell = nb.cells.pop()
    _drop_widgets(nb)
    try:
        cpu = float("".join(o.get("text", "") for o in cpu_cell.outputs).strip())
    except ValueError:
        cpu = float("nan")
    nb.metadata[META_KEY] = {**nb.metadata.get(META_KEY, {}),  # keeps the thumbnail choice
                             "key": key, "seconds": round(seconds, 1), "cpu_seconds": cpu}
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return Outcome(nb_path.name, "executed", seconds, cpu_seconds=cpu)


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _drop_widgets(nb: Any) -> None:
    """Remove widget outputs and widget state (static pages cannot show them offline)."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell.outputs = [o for o in cell.outputs if WIDGET_VIEW not in o.get("data", {})]


def _short_error(exc: Exception) -> str:
    text = str(exc)
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # ANSI colours of IPython tracebacks
    lines = text.strip().splitlines()
    return "\n".join(lines[-40:]) if len(lines) > 40 else text.strip() or repr(exc)


# ----------------------------------------------------------------------------
# gallery page
# ----------------------------------------------------------------------------
def title_of(nb: dict) -> str:
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


def summary_of(nb: dict) -> str:
    """The first paragraph after the title, as plain text (for the card)."""
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        paragraphs = "".join(cell["source"]).split("\n\n")
        for para in paragraphs[1:]:
            text = " ".join(para.split())
            if text and not text.startswith(("#", "|", "```", "1.", "-", "*")):
                text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links -> text
                text = text.replace("`", "").replace("*", "")
                text = text[:-1] + "." if text.endswith(":") else text
                return text if len(text) <= 220 else text[:217].rsplit(" ", 1)[0] + "…"
        return ""
    return ""


def first_png(nb: dict) -> bytes | None:
    """The notebook's thumbnail figure: the first PNG output of the chosen cell.

    The cell is the one whose id the notebook metadata names
    (``"neurorep_docs": {"thumbnail": "<cell id>"}``), else one tagged
    ``gallery-thumbnail``; without either, the first PNG output of the notebook.
    A chosen cell that is missing or shows no PNG is an error (a stale choice
    would otherwise silently fall back to another figure).
    """
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    chosen = nb.get("metadata", {}).get(META_KEY, {}).get("thumbnail")
    if chosen is not None:
        match = [c for c in cells if c.get("id") == chosen]
        png = _png_of(match[0]) if match else None
        if png is None:
            ids = ", ".join(str(c.get("id")) for c in cells if _png_of(c) is not None)
            what = "shows no PNG figure" if match else "is not a code cell of the notebook"
            raise ValueError(
                f"the thumbnail cell chosen in the notebook metadata ({META_KEY}.thumbnail = "
                f"{chosen!r}) {what}. Choose one of the cells with a figure ({ids or 'none'}) "
                f"or remove the key to use the first figure."
            )
        return png
    tagged = [c for c in cells if THUMB_TAG in c.get("metadata", {}).get("tags", [])]
    for cell in tagged + cells:
        png = _png_of(cell)
        if png is not None:
            return png
    return None


def _png_of(cell: dict) -> bytes | None:
    for output in cell.get("outputs", []):
        png = output.get("data", {}).get("image/png")
        if png:
            return base64.b64decode("".join(png) if isinstance(png, list) else png)
    return None


def make_thumbnail(png: bytes | None, dest: Path, label: str) -> None:
    """Shrink ``png`` onto a white 480 x 320 canvas (a labelled placeholder when None)."""
    from PIL import Image, ImageDraw

    canvas = Image.new("RGB", THUMB_SIZE, "white")
    if png is None:
        draw = ImageDraw.Draw(canvas)
        draw.rectangle([0, 0, THUMB_SIZE[0] - 1, THUMB_SIZE[1] - 1], outline="#999999")
        draw.text((20, THUMB_SIZE[1] // 2 - 6), label, fill="#333333")
    else:
        img = Image.open(io.BytesIO(png))
        img.load()
        if img.mode in ("RGBA", "LA", "P"):
            img = img.convert("RGBA")
            bg = Image.new("RGBA", img.size, "white")
            img = Image.alpha_composite(bg, img).convert("RGB")
        else:
            img = img.convert("RGB")
        img.thumbnail(THUMB_SIZE, Image.Resampling.LANCZOS)
        canvas.paste(img, ((THUMB_SIZE[0] - img.width) // 2, (THUMB_SIZE[1] - img.height) // 2))
    dest.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(dest, optimize=True)


def format_seconds(seconds: float) -> str:
    """``42 s``, ``1 min 05 s``: how long a notebook took."""
    seconds = round(seconds)
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def run_time(nb: dict) -> str:
    """The notebook's recorded run time (wall clock when the docs were built)."""
    meta = nb.get("metadata", {}).get(META_KEY, {})
    if "seconds" not in meta:
        return "not recorded"
    text = format_seconds(float(meta["seconds"]))
    cpu = meta.get("cpu_seconds")
    if isinstance(cpu, int | float) and cpu == cpu:  # not NaN
        text += f" (kernel CPU {format_seconds(float(cpu))})"
    return text


def write_downloads(executed: Path) -> tuple[Path, Path]:
    """``downloads/NAME.ipynb`` (the source notebook, no outputs) and ``downloads/NAME.py``.

    The script is jupytext's percent format: markdown cells become comments,
    ``# %%`` separates the cells, so it runs top to bottom and opens as a
    notebook again in Jupyter (with jupytext) or in editors that know cells.
    """
    import jupytext
    import nbformat

    source = NOTEBOOKS / executed.name
    if source.is_file():
        nb = nbformat.read(source, as_version=4)
    else:  # a notebook executed from elsewhere (tests): strip the executed copy
        nb = nbformat.read(executed, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nb.metadata.pop(META_KEY, None)
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    ipynb = DOWNLOADS / executed.name
    script = DOWNLOADS / f"{executed.stem}.py"
    _write_if_changed(ipynb, nbformat.writes(nb) + "\n")
    _write_if_changed(script, jupytext.writes(nb, fmt="py:percent"))
    return ipynb, script


def _write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` unless the file holds it already (keeps Sphinx's incremental build)."""
    if path.is_file() and path.read_text() == text:
        return False
    path.write_text(text)
    return True


TOP_CELL, FOOT_CELL = "neurorep-docs-top", "neurorep-docs-foot"


def page_cells(stem: str, time_text: str) -> tuple[str, str]:
    """Markdown of the line under the title and of the foot of a notebook's page."""
    ipynb = f"{{download}}`{stem}.ipynb <downloads/{stem}.ipynb>`"
    script = f"{{download}}`{stem}.py <downloads/{stem}.py>`"
    top = (
        ":::{container} gallery-meta\n"
        f"**Run time** {time_text} · **Download** the notebook {ipynb} or the "
        f"Python script {script}\n"
        ":::"
    )
    foot = (
        "::::{container} gallery-footer\n\n"
        ":::{container} gallery-download\n"
        f"{{download}}`Download Jupyter notebook: {stem}.ipynb <downloads/{stem}.ipynb>`\n"
        ":::\n\n"
        ":::{container} gallery-download\n"
        f"{{download}}`Download Python script: {stem}.py <downloads/{stem}.py>`\n"
        ":::\n\n"
        f"**Total running time of the notebook:** {time_text}, when these pages were built.\n"
        "::::"
    )
    return top, foot


def add_page_cells(executed: Path) -> bool:
    """Put the run time and the download links into the executed copy (idempotent)."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    before = nbformat.writes(nb)
    nb.cells = [c for c in nb.cells if c.get("id") not in (TOP_CELL, FOOT_CELL)]
    top, foot = page_cells(executed.stem, run_time(nb))
    title = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"
                  and any(line.startswith("# ") for line in c.source.splitlines())), -1)
    top_cell = nbformat.v4.new_markdown_cell(top, id=TOP_CELL)
    foot_cell = nbformat.v4.new_markdown_cell(foot, id=FOOT_CELL)
    nb.cells.insert(title + 1, top_cell)
    nb.cells.append(foot_cell)
    text = nbformat.writes(nb)
    if text == before:
        return False
    executed.write_text(text)
    return True


def notebook_uses(nb: dict) -> set[str]:
    """Dotted neurorep names a notebook's code refers to (calls and references).

    Imports are followed (``from neurorep import rsa`` then ``rsa.compare(...)``
    gives ``neurorep.rsa.compare``; ``from neurorep.plotting.rsa import plot_rdm
    as p`` then ``p(...)`` gives ``neurorep.plotting.rsa.plot_rdm``). Names are
    as written: the docs resolve them to objects, so a re-export and its
    original are the same entry.
    """
    aliases: dict[str, str] = {}
    used: set[str] = set()
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                         for line in source.splitlines())
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "neurorep":
                        if alias.asname:
                            aliases[alias.asname] = alias.name
                        else:
                            aliases["neurorep"] = "neurorep"
            elif (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                  and node.module.split(".")[0] == "neurorep"):
                for alias in node.names:
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        for node in ast.walk(tree):
            dotted = _dotted(node) if isinstance(node, ast.Attribute | ast.Name) else None
            if dotted is None:
                continue
            head, _, rest = dotted.partition(".")
            if head in aliases:
                used.add(aliases[head] + (f".{rest}" if rest else ""))
    return used


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


def write_backreferences(executed: list[Path]) -> Path:
    """``backreferences.json``: each dotted neurorep name -> the notebooks that use it."""
    import nbformat

    uses: dict[str, list[str]] = {}
    titles = {}
    for path in executed:
        nb = nbformat.read(path, as_version=4)
        titles[path.stem] = title_of(nb) or path.stem
        for name in sorted(notebook_uses(nb)):
            uses.setdefault(name, []).append(path.stem)
    GALLERY.mkdir(parents=True, exist_ok=True)
    _write_if_changed(BACKREFS, json.dumps(
        {"notebooks": titles, "uses": dict(sorted(uses.items()))}, indent=1) + "\n")
    return BACKREFS


def write_gallery(executed: list[Path]) -> Path:
    """The gallery: thumbnails, downloads, run times, backreferences and ``index.md``.

    A grid of cards linking to each notebook; each executed copy gets its run
    time and download links (top and foot of its page).
    """
    import nbformat

    cards, toc, times = [], [], []
    for path in executed:
        write_downloads(path)
        add_page_cells(path)
        nb = nbformat.read(path, as_version=4)
        title = title_of(nb) or path.stem
        thumb = THUMBS / f"{path.stem}.png"
        try:
            png = first_png(nb)
        except ValueError as exc:
            raise ValueError(f"{path.name}: {exc}") from None
        make_thumbnail(png, thumb, title)
        summary = summary_of(nb)
        time_text = run_time(nb)
        cards.append(
            f"::::{{container}} gallery-card\n\n"
            f"```{{image}} thumbnails/{thumb.name}\n"
            f":alt: {title}\n"
            f":target: {path.stem}.html\n"
            f":class: gallery-thumb\n"
            f"```\n\n"
            f"**[{title}]({path.name})**\n\n"
            f"{summary}\n\n"
            f"*Run time {time_text.split(' (')[0]}*\n"
            f"::::\n"
        )
        toc.append(path.stem)
        times.append(f"| [{title}]({path.name}) | {time_text} |")
    page = (
        "# Gallery\n\n"
        "Every notebook in `notebooks/`, executed on real data when these pages were built "
        "(warnings raised by neurorep fail the build). Open one to see the code and its "
        "figures, download it as a notebook or a Python script (at the top and the foot of "
        "each page), or run them all yourself: `pip install -e \".[jupyter]\"`, then "
        "`jupyter lab notebooks/` (each notebook's first section says where its data come "
        "from and how to get them).\n\n"
        ":::::{container} gallery-grid\n\n"
        + "\n".join(cards)
        + "\n:::::\n\n"
        "## Run times\n\n"
        "Wall-clock time of each notebook when these pages were built (two notebooks at "
        "a time, one BLAS thread each), and the CPU time its kernel used.\n\n"
        "| notebook | run time |\n|---|---|\n" + "\n".join(times) + "\n\n"
        "```{toctree}\n:hidden:\n\n" + "\n".join(toc) + "\n```\n"
    )
    write_backreferences(executed)
    index = GALLERY / "index.md"
    _write_if_changed(index, page)
    return index


def _clean_stale(names: set[str]) -> None:
    for old in GALLERY.glob("*.ipynb"):
        if old.name not in names:
            old.unlink()
    for old in [*THUMBS.glob("*.png"), *DOWNLOADS.glob("*.py"), *DOWNLOADS.glob("*.ipynb")]:
        if f"{old.stem}.ipynb" not in names:
            old.unlink()


def _last_seconds(nb_path: Path) -> float:
    """How long the notebook took last time (0 if never built): schedules long ones first."""
    try:
        meta = json.loads((GALLERY / nb_path.name).read_text())["metadata"][META_KEY]
        return float(meta.get("seconds", 0.0))
    except (OSError, ValueError, KeyError):
        return 0.0


def _report(o: Outcome) -> None:
    cpu = f"  (kernel CPU {o.cpu_seconds:.0f} s)" if o.status == "executed" else ""
    print(f"  {o.name:<32} {o.status:<9} {o.seconds:6.1f} s{cpu}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="re-execute cached notebooks too")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="notebooks executed in parallel, longest first; each kernel "
                             "gets cores // jobs BLAS threads (default: 2 on 2+ cores)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("--only", default="*.ipynb", help="glob within notebooks/")
    args = parser.parse_args(argv)

    paths = notebook_paths(args.only)
    if not paths:
        print(f"no notebooks match {NOTEBOOKS / args.only}", file=sys.stderr)
        return 1
    GALLERY.mkdir(parents=True, exist_ok=True)
    if args.only == "*.ipynb":
        _clean_stale({p.name for p in paths})
    t0 = time.perf_counter()
    kwargs = {"timeout": args.timeout, "force": args.force}
    if args.jobs > 1:
        kwargs["threads"] = max(1, (os.cpu_count() or 1) // args.jobs)
        order = sorted(paths, key=_last_seconds, reverse=True)  # longest first
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            futures = {p: pool.submit(execute, p, **kwargs) for p in order}
            outcomes = [futures[p].result() for p in paths]
    else:
        outcomes = []
        for p in paths:
            outcomes.append(execute(p, **kwargs))
            o = outcomes[-1]
            _report(o)
    if args.jobs > 1:
        for o in outcomes:
            _report(o)
    failed = [o for o in outcomes if o.status == "failed"]
    executed = [GALLERY / p.name for p in notebook_paths() if (GALLERY / p.name).is_file()]
    index = write_gallery(executed)
    print(f"gallery: {len(executed)} notebooks -> {index.relative_to(REPO)} "
          f"({time.perf_counter() - t0:.0f} s)")
    for o in failed:
        print(f"\n=== {o.name} FAILED ===\n{o.error}", file=sys.stderr)
    if failed:
        print(f"\n{len(failed)} notebook(s) failed: {', '.join(o.name for o in failed)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
