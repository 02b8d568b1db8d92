"""Sphinx configuration of the neurorep documentation.

Build with ``make docs`` (see ``docs/README.md``): ``docs/build_gallery.py``
first executes the notebooks into ``docs/gallery/``, then Sphinx renders them
as they are (``nb_execution_mode = "off"``) with the pages written here and an
API reference generated from the docstrings (one page per subpackage, written
to ``docs/api/generated/`` when the build starts). Nothing is fetched from the
network at build time (intersphinx reads local inventories written by
``docs/inventories.py``), and nothing when the pages are read:
MathJax comes from a Python package (``django-static-mathjax``, in the ``docs``
extra) and is copied into ``_static/mathjax/`` of the built site.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import pkgutil
import shutil
import sys
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(REPO))

import neurorep  # noqa: E402

if not (DOCS / "gallery" / "index.md").is_file():
    raise RuntimeError(
        "docs/gallery/index.md is missing: the notebooks are executed before Sphinx runs. "
        "Run `python docs/build_gallery.py` first (`make docs` runs both steps)."
    )

# -- project ------------------------------------------------------------------
project = "neurorep"
author = "the neurorep developers"
copyright = "2026, the neurorep developers"
release = version = neurorep.__version__

# -- extensions ---------------------------------------------------------------
extensions = [
    "myst_nb",  # MyST markdown pages and the executed notebooks
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",  # numpydoc-style docstrings
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx.ext.intersphinx",  # offline: inventories written by docs/inventories.py
]
# gallery/downloads/ holds the .ipynb and .py files offered for download, not pages
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "README.md", "Thumbs.db", ".DS_Store",
                    "gallery/downloads"]
templates_path: list[str] = []

# MyST: $...$ and $$...$$ math, ::: fences, labelled headings
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

# myst-nb: the notebooks were executed by build_gallery.py; render them as they are
nb_execution_mode = "off"
nb_merge_streams = True
# stderr is progress bars and third-party chatter (tqdm, transformers); neurorep's own
# warnings never reach here: build_gallery.py turns them into build errors
nb_output_stderr = "remove"

# autodoc / napoleon: types come from the numpydoc docstrings, not the annotations
autodoc_typehints = "none"
autodoc_preserve_defaults = True
autodoc_member_order = "bysource"
autosummary_generate = False
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True
# numpydoc types (``DataArray``, ``ndarray``, ``Axes`` ...) link to the libraries' pages
napoleon_preprocess_types = True

# -- intersphinx without a network: local inventories of the names the API uses ----
sys.path.insert(0, str(DOCS))
from inventories import TYPE_ALIASES, write_inventories  # noqa: E402

napoleon_type_aliases = TYPE_ALIASES
intersphinx_mapping = {
    project: (root, inv)
    for project, (root, inv) in write_inventories(DOCS / "_build" / "inventories").items()
}
intersphinx_disabled_reftypes = ["std:doc"]

# -- math: MathJax 3 served from the site itself, never from a CDN ---------------
# django-static-mathjax is a plain wheel of MathJax's release files (Apache-2.0; it needs
# no Django to install); its es5/ build is copied to _static/mathjax/ of the built site
# when the build starts (MATHJAX_BUNDLE and the components it loads on demand: input and
# output jax, fonts, menu, accessibility).
MATHJAX_BUNDLE = "tex-chtml.js"
mathjax_path = f"mathjax/{MATHJAX_BUNDLE}"  # relative to _static/


def mathjax_source() -> Path:
    """MathJax's es5/ folder inside the installed ``django-static-mathjax`` package."""
    try:
        import mathjax  # the import name of django-static-mathjax
    except ImportError as exc:
        raise RuntimeError(
            "MathJax is not installed: the docs serve it themselves (no CDN). Install the "
            "docs extra: pip install -e \".[docs]\" (it pins django-static-mathjax)."
        ) from exc
    es5 = Path(mathjax.__file__).resolve().parent / "static" / "mathjax" / "es5"
    if not (es5 / MATHJAX_BUNDLE).is_file():
        raise RuntimeError(
            f"{es5 / MATHJAX_BUNDLE} not found: the installed django-static-mathjax does not "
            f"hold MathJax 3's es5 build. Reinstall the docs extra: pip install -e \".[docs]\"."
        )
    return es5


def copy_mathjax(app: Any) -> None:
    """Copy MathJax into the output's _static/mathjax/ (skipped when already there)."""
    if app.builder.format != "html":
        return
    src = mathjax_source()
    dest = Path(app.outdir) / "_static" / "mathjax"
    stamp = dest / ".source"
    if stamp.is_file() and stamp.read_text() == str(src):
        return
    other_bundles = {p.name for p in src.glob("*.js")} - {MATHJAX_BUNDLE}
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(src, dest, ignore=lambda folder, names: (
        [n for n in names if n in other_bundles] if Path(folder) == src else []))
    shutil.copy2(src.parent / "LICENSE", dest / "LICENSE")
    stamp.write_text(str(src))

# -- HTML -----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"neurorep {release}"
html_static_path = ["_static"]
html_css_files = ["neurorep.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}
# no left sidebar where it would be empty or where code needs the width
html_sidebars = {"index": [], "getting_started": [], "gallery/*": []}

# -- API reference: one page per subpackage, from each package's __all__ --------
SUBPACKAGES = {
    "data": "Data model: constructors, validation, alignment, IO and bridges",
    "datasets": "Datasets: manifests, fetch, local loaders and simulators",
    "models": "Models: layer activations from torch and Hugging Face models",
    "stats": "Statistics: noise ceilings, permutation, bootstrap, FDR",
    "encoding": "Encoding models",
    "rsa": "Representational similarity analysis",
    "topology": "Topological RSA and persistent homology",
    "selectivity": "Voxel-caption selectivity",
    "alignment": "Layer-to-region alignment",
    "plotting": "Plotting",
}
API_OUT = DOCS / "api" / "generated"


def _public_names(pkg: Any) -> list[tuple[str, Any, str]]:
    """(name, object, dotted path) of a package's public API.

    Its ``__all__``; without one, the ``__all__`` of its private submodules,
    documented where they can be imported from. Plotting also lists the
    ``plot_*`` functions of its family modules that the package does not
    re-export (yet).
    """
    out: list[tuple[str, Any, str]] = []
    names = getattr(pkg, "__all__", None)
    if names is not None:
        for name in names:
            out.append((name, getattr(pkg, name), f"{pkg.__name__}.{name}"))
    else:
        for info in pkgutil.iter_modules(pkg.__path__):
            sub = importlib.import_module(f"{pkg.__name__}.{info.name}")
            for name in getattr(sub, "__all__", []):
                where = pkg.__name__ if hasattr(pkg, name) else sub.__name__
                out.append((name, getattr(sub, name), f"{where}.{name}"))
    if pkg.__name__ == "neurorep.plotting":
        seen = {name for name, _, _ in out}
        for info in pkgutil.iter_modules(pkg.__path__):
            if info.name.startswith("_"):
                continue
            sub = importlib.import_module(f"{pkg.__name__}.{info.name}")
            for name, obj in vars(sub).items():
                if (name.startswith("plot_") and name not in seen and inspect.isfunction(obj)
                        and obj.__module__ == sub.__name__):
                    out.append((name, obj, f"{sub.__name__}.{name}"))
    return out


def _describe_value(obj: Any) -> str:
    if isinstance(obj, dict):
        keys = ", ".join(f"``{k!r}``" for k in obj)
        return f"Registry (dict) with keys {keys}." if keys else "An empty registry (dict)."
    if getattr(obj, "__module__", None) == "typing" or "typing" in type(obj).__module__ \
            or type(obj).__module__ == "collections.abc":
        return f"Type alias: ``{obj!r}``."
    text = repr(obj)
    if len(text) > 300:
        text = text[:297] + "..."
    if "\n" in text or "``" in text:
        return ""
    return f"Value: ``{text}``."


def _kind(obj: Any) -> str:
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return "function"
    return "data"


def _own_members(cls: type) -> list[str]:
    """Public methods and properties defined by neurorep in the class itself."""
    out = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        func = value.fget if isinstance(value, property) else value
        if isinstance(func, classmethod | staticmethod):
            func = func.__func__
        if inspect.isfunction(func) and func.__module__.startswith("neurorep"):
            out.append(name)
    return out


_ROLES = {"exception": "exc", "class": "class", "function": "func"}
BACKREFS = DOCS / "gallery" / "backreferences.json"


def _resolve(dotted: str) -> Any:
    """The object a dotted name refers to (``neurorep.rsa.compare``), or None."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr, None)
            if obj is None:
                return None
        return obj
    return None


@functools.cache
def _gallery_uses() -> dict[int, list[str]]:
    """``id(obj) -> notebooks that use it``, from gallery/backreferences.json.

    docs/build_gallery.py writes the file: every dotted neurorep name each
    executed notebook's code refers to, imports followed. Names are resolved
    to objects here, so a notebook that calls a re-export links to the entry
    of the original.
    """
    if not BACKREFS.is_file():
        return {}
    uses: dict[int, list[str]] = {}
    for dotted, stems in json.loads(BACKREFS.read_text())["uses"].items():
        obj = _resolve(dotted)
        if obj is None or inspect.ismodule(obj):
            continue
        for stem in stems:
            if (DOCS / "gallery" / f"{stem}.ipynb").is_file():
                known = uses.setdefault(id(obj), [])
                if stem not in known:
                    known.append(stem)
    return {key: sorted(stems) for key, stems in uses.items()}


def _gallery_block(obj: Any) -> str:
    """The "Used in the gallery" rubric of an entry: links to the notebooks that use it."""
    stems = _gallery_uses().get(id(obj), [])
    if not stems:
        return ""
    links = "\n".join(f"   - :doc:`/gallery/{stem}`" for stem in stems)
    return f"\n   .. rubric:: Used in the gallery\n      :class: gallery-backrefs\n\n{links}\n"


def _entry(obj: Any, path: str) -> str:
    kind = _kind(obj)
    if kind == "exception":
        return f".. autoexception:: {path}\n   :show-inheritance:\n" + _gallery_block(obj)
    if kind == "class":
        members = _own_members(obj)
        opts = f"   :members: {', '.join(members)}\n" if members else ""
        return f".. autoclass:: {path}\n{opts}" + _gallery_block(obj)
    if kind == "function":
        return f".. autofunction:: {path}\n" + _gallery_block(obj)
    # constants and registries: py:data with a description of the value (autodata would
    # show the docstring of the value's type, e.g. dict's)
    text = _describe_value(obj)
    return f".. py:data:: {path}\n" + (f"\n   {text}\n" if text else "")


def _top_items() -> list[tuple[str, Any, str]]:
    return [(n, getattr(neurorep, n), f"neurorep.{n}") for n in neurorep.__all__
            if n[0].isupper()]


def _pages() -> dict[str, list[tuple[str, Any, str]]]:
    """Each API page (``neurorep`` and the subpackages) with its public names."""
    pages = {"neurorep": _top_items()}
    for short in SUBPACKAGES:
        pages[short] = _public_names(importlib.import_module(f"neurorep.{short}"))
    return pages


def canonical_entries(pages: dict[str, list[tuple[str, Any, str]]]) -> dict[int, tuple[str, str]]:
    """Where each public callable is documented in full: ``id(obj) -> (page, dotted path)``.

    A function re-exported by a second subpackage (``neurorep.rsa.from_rsatoolbox``
    is ``neurorep.data.from_rsatoolbox``) is documented once, on the page of the
    subpackage that defines it (its ``__module__``), else on the first page that
    lists it; the other pages refer to that entry. Documenting it twice made
    viewcode's "[docs]" links from the source pages point at an anchor of the
    wrong page.
    """
    listed: dict[int, list[tuple[str, str]]] = {}
    objects: dict[int, Any] = {}
    for short, items in pages.items():
        for _, obj, path in items:
            if _kind(obj) != "data":
                listed.setdefault(id(obj), []).append((short, path))
                objects[id(obj)] = obj
    out = {}
    for key, where in listed.items():
        parts = str(getattr(objects[key], "__module__", "")).split(".")
        home = parts[1] if len(parts) > 1 and parts[1] in SUBPACKAGES else "neurorep"
        out[key] = next(((s, p) for s, p in where if s == home), where[0])
    return out


def _api_page(short: str, title: str, canonical: dict[int, tuple[str, str]]) -> str:
    module = f"neurorep.{short}"
    pkg = importlib.import_module(module)
    items = _public_names(pkg)
    head = f"``{module}``"
    lines = [
        f".. _api-{short}:", "",
        head, "=" * len(head), "",
        f"*{title}.*", "",
        f".. automodule:: {module}", "   :no-members:", "",
        f".. currentmodule:: {module}", "",
    ]
    if not items:
        lines += [".. note::", "", "   This subpackage exports no public names yet.", ""]
        return "\n".join(lines)
    callables = [(n, o, p) for n, o, p in items if _kind(o) != "data"]
    data = [(n, o, p) for n, o, p in items if _kind(o) == "data"]
    here = [(n, o, p) for n, o, p in callables if canonical.get(id(o), (short,))[0] == short]
    elsewhere = [(n, o, canonical[id(o)][1]) for n, o, _ in callables
                 if canonical.get(id(o), (short,))[0] != short]
    if callables:
        lines += ["Summary", "-------", "", ".. autosummary::", "   :nosignatures:", ""]
        lines += [f"   {p[len(module) + 1:]}" for _, _, p in here]
        lines += [f"   ~{p}" for _, _, p in elsewhere]
        lines += [""]
    if data:
        lines += ["Constants and registries:", ""]
        lines += [f"- :data:`{p[len(module) + 1:]}`" for _, _, p in data]
        lines += [""]
    lines += ["Reference", "---------", ""]
    lines += [_entry(o, p) for _, o, p in here + data]
    if elsewhere:
        lines += ["Re-exported here", "~~~~~~~~~~~~~~~~", ""]
        lines += [f"- ``{module}.{n}`` is :{_ROLES[_kind(o)]}:`{p}`, documented there."
                  for n, o, p in elsewhere]
        lines += [""]
    return "\n".join(lines) + "\n"


def _top_page() -> str:
    items = _top_items()
    lines = ["``neurorep``", "============", "", ".. automodule:: neurorep", "   :no-members:", "",
             "Errors and warnings", "-------------------", ""]
    lines += [_entry(o, p) for _, o, p in items]
    return "\n".join(lines) + "\n"


def write_api_pages(app: Any = None) -> None:
    """Write docs/api/generated/*.rst (only files whose text changed, for incremental builds)."""
    API_OUT.mkdir(parents=True, exist_ok=True)
    _gallery_uses.cache_clear()
    canonical = canonical_entries(_pages())
    pages = {"neurorep": _top_page()}
    pages.update({short: _api_page(short, title, canonical)
                  for short, title in SUBPACKAGES.items()})
    for short, text in pages.items():
        dest = API_OUT / f"{short}.rst"
        if not dest.is_file() or dest.read_text() != text:
            dest.write_text(text)
    for old in API_OUT.glob("*.rst"):
        if old.stem not in pages:
            old.unlink()


def setup(app: Any) -> None:
    app.connect("builder-inited", write_api_pages)
    app.connect("builder-inited", copy_mathjax)
