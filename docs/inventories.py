"""Offline intersphinx: Sphinx inventories for the libraries the API reference names.

intersphinx normally downloads each project's ``objects.inv`` when the docs are built;
this build has no network, so ``docs/conf.py`` writes the inventories here instead, for
the external names that neurorep's docstrings use (as numpydoc types through
``napoleon_type_aliases`` and as ``:func:`` / ``:class:`` roles), and points
``intersphinx_mapping`` at the local files. Each URL is the page the project's own
documentation publishes for that name (the project's API-page layout, checked by hand
against its documentation); a name not listed here stays plain text, never a guessed
link.
"""

from __future__ import annotations

import zlib
from pathlib import Path

#: project -> (documentation root, {name: (role, page relative to the root)})
INVENTORIES: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "python": ("https://docs.python.org/3/", {
        "pathlib.Path": ("class", "library/pathlib.html#pathlib.Path"),
        "pickle.load": ("function", "library/pickle.html#pickle.load"),
        "collections.abc.Mapping": ("class", "library/collections.abc.html#collections.abc.Mapping"),
        "collections.abc.Callable": ("class",
                                     "library/collections.abc.html#collections.abc.Callable"),
    }),
    "numpy": ("https://numpy.org/doc/stable/", {
        "numpy.ndarray": ("class", "reference/generated/numpy.ndarray.html"),
        "numpy.dtype": ("class", "reference/generated/numpy.dtype.html"),
        "numpy.random.Generator": ("class",
                                   "reference/random/generator.html#numpy.random.Generator"),
        "numpy.random.default_rng": ("function",
                                     "reference/random/generator.html#numpy.random.default_rng"),
        "numpy.quantile": ("function", "reference/generated/numpy.quantile.html"),
        "numpy.linalg.svd": ("function", "reference/generated/numpy.linalg.svd.html"),
    }),
    "scipy": ("https://docs.scipy.org/doc/scipy/", {
        name: ("function", f"reference/generated/{name}.html") for name in (
            "scipy.stats.false_discovery_control", "scipy.stats.rankdata",
            "scipy.stats.spearmanr", "scipy.stats.kendalltau", "scipy.stats.pearsonr",
            "scipy.sparse.csgraph.shortest_path", "scipy.optimize.linear_sum_assignment",
            "scipy.optimize.nnls", "scipy.io.loadmat",
        )
    }),
    "xarray": ("https://docs.xarray.dev/en/stable/", {
        "xarray.DataArray": ("class", "generated/xarray.DataArray.html"),
        "xarray.Dataset": ("class", "generated/xarray.Dataset.html"),
        "xarray.DataTree": ("class", "generated/xarray.DataTree.html"),
        "xarray.Dataset.to_netcdf": ("method", "generated/xarray.Dataset.to_netcdf.html"),
        "xarray.DataArray.chunk": ("method", "generated/xarray.DataArray.chunk.html"),
        "xarray.open_dataset": ("function", "generated/xarray.open_dataset.html"),
    }),
    "matplotlib": ("https://matplotlib.org/stable/", {
        "matplotlib.axes.Axes": ("class", "api/_as_gen/matplotlib.axes.Axes.html"),
        "matplotlib.figure.Figure": ("class", "api/_as_gen/matplotlib.figure.Figure.html"),
        "matplotlib.colors.Colormap": ("class", "api/_as_gen/matplotlib.colors.Colormap.html"),
        "matplotlib.pyplot.subplots": ("function",
                                       "api/_as_gen/matplotlib.pyplot.subplots.html"),
    }),
    "sklearn": ("https://scikit-learn.org/stable/", {
        name: ("class", f"modules/generated/{name}.html") for name in (
            "sklearn.model_selection.KFold", "sklearn.linear_model.Ridge",
            "sklearn.linear_model.RidgeCV",
            "sklearn.feature_extraction.text.CountVectorizer",
        )
    }),
}

#: numpydoc type words -> the full name intersphinx resolves (docs/conf.py
#: ``napoleon_type_aliases``)
TYPE_ALIASES = {
    "DataArray": "xarray.DataArray",
    "Dataset": "xarray.Dataset",
    "DataTree": "xarray.DataTree",
    "ndarray": "numpy.ndarray",
    "Generator": "numpy.random.Generator",
    "Axes": "matplotlib.axes.Axes",
    "Figure": "matplotlib.figure.Figure",
    "Colormap": "matplotlib.colors.Colormap",
    "Path": "pathlib.Path",
    "Mapping": "collections.abc.Mapping",
    "callable": "collections.abc.Callable",
}


def write_inventories(folder: Path) -> dict[str, tuple[str, str]]:
    """Write one ``<project>.inv`` per project into ``folder``.

    Parameters
    ----------
    folder : Path
        Where the inventories go (created if missing).

    Returns
    -------
    dict
        ``intersphinx_mapping`` for docs/conf.py: project -> (root URL, local file).
    """
    folder.mkdir(parents=True, exist_ok=True)
    mapping = {}
    for project, (root, names) in INVENTORIES.items():
        lines = [f"{name} py:{role} 1 {page} -" for name, (role, page) in sorted(names.items())]
        header = (f"# Sphinx inventory version 2\n# Project: {project}\n# Version: \n"
                  "# The remainder of this file is compressed using zlib.\n")
        path = folder / f"{project}.inv"
        path.write_bytes(header.encode() + zlib.compress(("\n".join(lines) + "\n").encode()))
        mapping[project] = (root, str(path))
    return mapping
