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
* gives the gallery its thumbnail: the first PNG output (or the one of a
  cell tagged ``gallery-thumbnail``), shrunk to fit 480 x 320;
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
    nb.metadata[META_KEY] = {"key": key, "seconds": round(seconds, 1), "cpu_seconds": cpu}
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
    """The PNG output of the cell tagged gallery-thumbnail, else the first PNG output."""
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    tagged = [c for c in cells if THUMB_TAG in c.get("metadata", {}).get("tags", [])]
    for cell in tagged + cells:
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


def write_gallery(executed: list[Path]) -> Path:
    """Thumbnails and docs/gallery/index.md: a grid of cards linking to each notebook."""
    import nbformat

    cards, toc = [], []
    for path in executed:
        nb = nbformat.read(path, as_version=4)
        title = title_of(nb) or path.stem
        thumb = THUMBS / f"{path.stem}.png"
        make_thumbnail(first_png(nb), thumb, title)
        summary = summary_of(nb)
        cards.append(
            f"::::{{container}} gallery-card\n\n"
            f"```{{image}} thumbnails/{thumb.name}\n"
            f":alt: {title}\n"
            f":target: {path.stem}.html\n"
            f":class: gallery-thumb\n"
            f"```\n\n"
            f"**[{title}]({path.name})**\n\n"
            f"{summary}\n"
            f"::::\n"
        )
        toc.append(path.stem)
    page = (
        "# Gallery\n\n"
        "Every notebook in `notebooks/`, executed on real data when these pages were built "
        "(warnings raised by neurorep fail the build). Open one to see the code and its "
        "figures, or run it yourself: `jupyter lab notebooks/`.\n\n"
        ":::::{container} gallery-grid\n\n"
        + "\n".join(cards)
        + "\n:::::\n\n"
        "```{toctree}\n:hidden:\n\n" + "\n".join(toc) + "\n```\n"
    )
    index = GALLERY / "index.md"
    index.write_text(page)
    return index


def _clean_stale(names: set[str]) -> None:
    for old in GALLERY.glob("*.ipynb"):
        if old.name not in names:
            old.unlink()
    for old in THUMBS.glob("*.png"):
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
