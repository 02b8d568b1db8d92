"""Maps on the cortical surface: scores, best layers, caption labels per vertex."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep._core.errors import SchemaError
from neurorep.plotting._display import PlotDisplay, make_display
from neurorep.plotting._style import FONT_SIZE, SINGLE_COLUMN, color_scale

__all__ = ["plot_surface_map"]


def plot_surface_map(
    values: xr.DataArray,
    *,
    mesh: Any = "fsaverage5",
    surface: Literal["inflated", "pial", "white_matter", "sphere"] = "inflated",
    hemispheres: Sequence[str] = ("left", "right"),
    view: str = "lateral",
    kind: Literal["auto", "continuous", "categorical"] = "auto",
    cmap: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    threshold: float | None = None,
    title: str | None = None,
    ax: Any = None,
    fig: Any = None,
) -> PlotDisplay:
    """A per-vertex map on an inflated cortex, one panel per hemisphere.

    Draws with :func:`nilearn.plotting.plot_surf_stat_map` (continuous maps:
    scores, noise ceilings) or :func:`nilearn.plotting.plot_surf_roi`
    (categorical maps: the best layer per vertex, a caption or concept label
    per vertex), over fsaverage's sulcal depth. Vertices without a unit are
    left blank.

    Parameters
    ----------
    values : DataArray
        Values ``(unit,)`` with unit coords ``vertex`` and ``hemisphere``.
        A score map (``score.sel(model=...)``), a best-layer map (layer names
        or depths), a caption map (one label per vertex).
    mesh : str or nilearn PolyMesh
        ``"fsaverage5"`` (default, shipped with nilearn) or your mesh (then
        ``surface`` is ignored and the mesh's own geometry is drawn).
    surface : str
        Which fsaverage geometry to draw on.
    hemispheres : sequence of str
        Panels, in order.
    view : str
        nilearn view (``"lateral"``, ``"medial"``, ``"ventral"`` ...).
    kind : {"auto", "continuous", "categorical"}
        ``"auto"``: categorical for strings, integers with few values or
        booleans, else continuous.
    cmap, vmin, vmax, threshold : optional
        Colour map and limits (default: diverging and symmetric for signed
        values); vertices with ``|value| < threshold`` are left blank.
    title : str, optional
        A title over the hemisphere panels (default none).
    ax : matplotlib Axes, optional
        A subplot whose area receives the hemisphere panels (3-D Axes, which
        replace it); with ``None`` (and no ``fig``) a new pyplot figure.
    fig : matplotlib Figure or SubFigure, optional
        Draw the panels on this (sub)figure instead.

    Returns
    -------
    PlotDisplay
        ``axes_``: one 3-D Axes per hemisphere; for categorical maps the
        figure gets a legend of the labels.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> from neurorep.plotting import plot_surface_map
    >>> m = data.from_surface(np.linspace(0, 1, 10242), np.linspace(1, 0, 10242),
    ...                       mesh="fsaverage5").isel(stimulus=0)
    >>> disp = plot_surface_map(m, title="score")
    >>> len(disp.axes_)
    2
    """
    from nilearn import plotting as nplot
    from nilearn.datasets import load_fsaverage, load_fsaverage_data

    from neurorep.data import load_mesh, surface_arrays

    if not isinstance(values, xr.DataArray) or values.dims != ("unit",):
        raise SchemaError(
            f"plot_surface_map: values must be a DataArray with the single dim 'unit' (one "
            f"value per vertex); got "
            f"{values.dims if isinstance(values, xr.DataArray) else type(values).__name__}. "
            f"Select one map first, e.g. score.sel(model='m') or resp.isel(stimulus=0)."
        )
    for h in hemispheres:
        if h not in ("left", "right"):
            raise ValueError(f"hemispheres must be 'left' and/or 'right'; got {h!r}.")
    raw = np.asarray(values.values)
    if kind == "auto":
        few_ints = raw.dtype.kind in "iub" and np.unique(raw).size <= 20
        kind = "categorical" if raw.dtype.kind in "OUSb" or few_ints else "continuous"
    labels: list[str] = []
    if kind == "categorical":
        labels = [str(v) for v in dict.fromkeys(raw.tolist())]
        codes = np.array([labels.index(str(v)) + 1 for v in raw.tolist()], dtype=float)
        numeric = values.copy(data=codes)
    else:
        numeric = values.astype(float)
    poly = load_mesh(mesh)
    arrays = surface_arrays(numeric, poly, name="plot_surface_map")
    if isinstance(mesh, str):
        geometry = load_fsaverage(mesh)[surface]
        bg = load_fsaverage_data(mesh=mesh, mesh_type=surface, data_type="sulcal")
    else:
        geometry, bg = poly, None
    import matplotlib.pyplot as plt

    n = len(hemispheres)
    if ax is not None and fig is not None:
        raise ValueError("plot_surface_map: give ax= or fig=, not both.")
    if ax is not None:
        spec = ax.get_subplotspec() if hasattr(ax, "get_subplotspec") else None
        if spec is None:
            raise ValueError(
                "plot_surface_map: ax must be a subplot (plt.subplots / fig.add_subplot) whose "
                f"area can hold {n} 3-D panels; got {type(ax).__name__} without a subplot "
                f"spec. Pass fig= instead."
            )
        grid = spec.subgridspec(1, n)
        host = ax.figure
        ax.remove()
        panels = [host.add_subplot(grid[0, i], projection="3d") for i in range(n)]
    else:
        if fig is None:
            fig = plt.figure(figsize=(SINGLE_COLUMN * n / 1.5, 2.6), layout="constrained")
        host = fig
        panels = [fig.add_subplot(1, n, i + 1, projection="3d") for i in range(n)]
    from matplotlib.colors import ListedColormap

    base: Any = plt.get_cmap(cmap or "tab20")
    n_col = max(len(labels), 2)
    colours: list[Any] = [base(i / max(n_col - 1, 1)) for i in range(n_col)]
    if hasattr(base, "colors") and len(base.colors) >= n_col:  # a qualitative map: its first colours
        colours = list(base.colors[:n_col])
    palette = ListedColormap(colours) if kind == "categorical" else None
    finite = numeric.values[np.isfinite(numeric.values)]
    scale = color_scale(finite) if kind == "continuous" else {}
    for panel, h in zip(panels, hemispheres, strict=True):
        surf_mesh = geometry.parts[h]
        bg_map = np.asarray(bg.data.parts[h]) if bg is not None else None
        data = arrays[h]
        if kind == "categorical":
            roi = np.where(np.isfinite(data), data, 0).astype(int)
            nplot.plot_surf_roi(
                surf_mesh, roi_map=roi, hemi=h, view=view, bg_map=bg_map,
                cmap=palette, vmin=1, vmax=max(len(labels), 2), axes=panel,
                figure=host, colorbar=False, bg_on_data=True, threshold=0.5,
            )
        else:
            nplot.plot_surf_stat_map(
                surf_mesh, stat_map=data, hemi=h, view=view, bg_map=bg_map,
                cmap=cmap or scale.get("cmap"), vmin=vmin if vmin is not None else scale.get("vmin"),
                vmax=vmax if vmax is not None else scale.get("vmax"),
                threshold=threshold, axes=panel, figure=host, colorbar=panel is panels[-1],
                symmetric_cbar=False,
            )
        panel.set_title(h, fontsize=FONT_SIZE)
    if kind == "categorical":
        from matplotlib.patches import Patch

        handles = [Patch(color=colours[i], label=lab) for i, lab in enumerate(labels)] if palette else []
        host.legend(handles=handles, loc="lower center", ncol=min(len(labels), 4), fontsize=FONT_SIZE - 1, frameon=False)
    if title:
        host.suptitle(title, fontsize=FONT_SIZE + 1)
    return make_display(panels)
