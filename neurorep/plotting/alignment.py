"""Figures for layer-to-region alignment results."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from neurorep.plotting._display import PlotDisplay, make_display
from neurorep.plotting._style import (
    CATEGORICAL,
    DIVERGING,
    DOUBLE_COLUMN,
    FONT_SIZE,
    SEQUENTIAL,
    SINGLE_COLUMN,
    labelled_colorbar,
    new_axes,
    score_label,
    tidy,
)


def plot_score_matrix(
    result: xr.Dataset,
    *,
    ax: Any = None,
    variable: str = "score",
    best: xr.Dataset | None = None,
    annotate: bool = True,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str | None = None,
) -> PlotDisplay:
    """Region x layer heatmap of ``result[variable]`` with best-layer markers.

    The colour range starts at 0 for non-negative scores (and is symmetric
    around 0, on a diverging map, for signed ones), so a spread of 0.08 among
    scores near 0.75 looks like the small difference it is. Pass the same
    ``vmin`` / ``vmax`` to several calls to put matrices on one scale, or
    ``variable="normalized_score"`` for a ceiling-relative scale. Missing
    cells (NaN, e.g. a blanked diagonal) are hatched grey, never coloured as
    a value.

    Parameters
    ----------
    result : Dataset
        From :func:`neurorep.alignment.score_matrix`: ``(region, layer)``
        variables; ``attrs["metric"]`` names the colour bar.
    ax : matplotlib Axes, optional
        Draw into this Axes; default a new pyplot figure.
    variable : str
        The variable to show (``"score"``, ``"normalized_score"``, ``"pvalue"``...).
    best : Dataset, optional
        From :func:`neurorep.alignment.best_layer`: held-out best layers are
        outlined; otherwise the row maxima are marked with a dot.
    annotate : bool
        Write each value in its cell (up to 400 cells).
    vmin, vmax : float, optional
        Colour range; default from 0 (or ``-max|value|`` for signed values)
        to the largest value (at least 1 for ``normalized_score``).
    cmap : str, optional
        A matplotlib colormap name; default viridis, or RdBu_r for signed values.

    Returns
    -------
    PlotDisplay
        The heatmap in ``ax_``; its colour bar says what the values are
        (the metric and, for ``normalized_score``, the ceiling).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from neurorep.plotting import plot_score_matrix
    >>> res = xr.Dataset({"score": (("region", "layer"), [[0.74, 0.78], [0.76, 0.75]])},
    ...                  coords={"region": ["V1", "IT"], "layer": ["l1", "l2"]},
    ...                  attrs={"metric": "encoding"})
    >>> disp = plot_score_matrix(res)
    >>> disp.ax_.images[0].get_clim()
    (0.0, 0.78)
    """
    import matplotlib as mpl
    from matplotlib.patches import Rectangle

    if variable not in result.data_vars:
        raise KeyError(
            f"plot_score_matrix: result has no variable {variable!r}; it has "
            f"{list(result.data_vars)}."
        )
    da = result[variable].transpose("region", "layer")
    ax = new_axes(ax, figsize=(DOUBLE_COLUMN * 0.7, 0.45 * da.sizes["region"] + 1.6))
    vals = np.asarray(da.values, float)
    scale = _matrix_scale(vals, normalized=variable == "normalized_score", vmin=vmin, vmax=vmax)
    colormap = mpl.colormaps[cmap or scale.pop("cmap")].with_extremes(bad="0.9")
    scale.pop("cmap", None)
    im = ax.imshow(vals, aspect="auto", cmap=colormap, **scale)
    missing = ~np.isfinite(vals)
    for i, j in zip(*np.nonzero(missing), strict=True):
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///",
                               edgecolor="0.6", linewidth=0))
    ax.set_xticks(range(da.sizes["layer"]), [str(v) for v in da.layer.values], rotation=45, ha="right")
    ax.set_yticks(range(da.sizes["region"]), [str(v) for v in da.region.values])
    if annotate and vals.size <= 400:
        for (i, j), v in np.ndenumerate(vals):
            if np.isfinite(v):
                r, g, b, _ = im.cmap(im.norm(v))
                dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5  # readable text on any cell
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=FONT_SIZE - 2,
                        color="w" if dark else "k")
    layers = list(da.layer.values)
    for i, region in enumerate(da.region.values):
        if best is not None and region in best.region.values:
            j = layers.index(str(best.best_layer.sel(region=region).item()))
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="k", linewidth=2))
        elif np.isfinite(vals[i]).any():  # the row maximum: a dot in the cell's corner
            ax.plot(int(np.nanargmax(vals[i])) + 0.32, i - 0.3, "o", color="k", markersize=3)
    label = score_label(result.attrs.get("metric"), variable)
    labelled_colorbar(im, ax, label + ("\n(hatched: no value)" if missing.any() else ""))
    tidy(ax, xlabel="model layer", ylabel="brain region",
         title="Layer x region alignment" + (" (box: held-out best layer)" if best is not None else ""))
    return make_display(ax)


def _matrix_scale(
    vals: np.ndarray, *, normalized: bool, vmin: float | None, vmax: float | None
) -> dict[str, Any]:
    """Colour range anchored at 0: [0, max] for non-negative values, [-m, m] for signed ones."""
    finite = vals[np.isfinite(vals)]
    lo = float(finite.min()) if finite.size else 0.0
    hi = float(finite.max()) if finite.size else 1.0
    if vmin is not None and vmax is not None:
        signed = vmin < 0 < vmax
        return {"cmap": DIVERGING if signed else SEQUENTIAL, "vmin": vmin, "vmax": vmax}
    if lo < 0 < hi or (vmin is not None and vmin < 0):
        m = max(abs(lo), abs(hi)) or 1.0
        return {"cmap": DIVERGING, "vmin": -m if vmin is None else vmin, "vmax": m if vmax is None else vmax}
    if hi <= 0:  # all non-positive: 0 at the top
        return {"cmap": SEQUENTIAL, "vmin": lo if vmin is None else vmin, "vmax": 0.0 if vmax is None else vmax}
    top = max(hi, 1.0) if normalized else hi
    return {"cmap": SEQUENTIAL, "vmin": 0.0 if vmin is None else vmin, "vmax": top if vmax is None else vmax}


def _draw_ceilings(ax: Any, levels: list[tuple[float, Any, str]], *, tol: float) -> None:
    """Dashed ceiling lines; ceilings within ``tol`` share one line dashed in each colour."""
    groups: list[list[tuple[float, Any, str]]] = []
    for item in sorted(levels, key=lambda t: t[0]):
        if groups and abs(item[0] - float(np.mean([g[0] for g in groups[-1]]))) <= tol:
            groups[-1].append(item)
        else:
            groups.append([item])
    dash = 4.0
    for group in groups:
        k = len(group)
        values = [lv for lv, _, _ in group]
        y = float(np.mean(values))
        for i, (_, color, _) in enumerate(group):
            # k interleaved dash patterns: one line whose dashes cycle through the regions' colours
            ax.axhline(y, color=color, linewidth=1.2,
                       linestyle=(i * 2 * dash, (dash, dash * (2 * k - 1))))
        if k > 1:
            lo, hi = min(values), max(values)
            rng = f"{lo:.3f}" if f"{lo:.3f}" == f"{hi:.3f}" else f"{lo:.3f}\u2013{hi:.3f}"
            ax.annotate(f"ceilings of {', '.join(n for _, _, n in group)}: {rng}",
                        xy=(1.0, y), xycoords=("axes fraction", "data"),
                        xytext=(-2, -2), textcoords="offset points", ha="right", va="top",
                        fontsize=FONT_SIZE - 2, color="0.3")


def plot_layer_profiles(
    result: xr.Dataset, *, ax: Any = None, normalized: bool = False
) -> PlotDisplay:
    """Score against layer depth per region, with CI bands and ceiling lines.

    The band's confidence level is read from ``result.attrs["ci"]`` (e.g.
    0.95). Each region's noise ceiling is a dashed line in its colour, and a
    shaded band up to the upper bound when ``ceiling`` has a ``bound`` dim; ceilings
    that coincide (within 1% of the y range) share one line dashed in every
    region's colour, labelled with the regions and values, so none hides another.

    Parameters
    ----------
    result : Dataset
        From :func:`neurorep.alignment.score_matrix` (``score``, ``ci_low``,
        ``ci_high``, ``ceiling`` with an optional ``bound`` dim).
    ax : matplotlib Axes, optional
        Draw into this Axes; default a new pyplot figure.
    normalized : bool
        Divide each region's profile by its ceiling (no ceiling lines then).

    Returns
    -------
    PlotDisplay
        One line per region in ``ax_``; the y label says what the score is.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from neurorep.plotting import plot_layer_profiles
    >>> s = np.array([[0.5, 0.6, 0.55]])
    >>> res = xr.Dataset({"score": (("region", "layer"), s), "ci_low": (("region", "layer"), s - 0.05),
    ...                   "ci_high": (("region", "layer"), s + 0.05), "ceiling": ("region", [0.8])},
    ...                  coords={"region": ["IT"], "layer": ["l1", "l2", "l3"]},
    ...                  attrs={"metric": "encoding", "ci": 0.95})
    >>> plot_layer_profiles(res).ax_.get_ylabel()
    'encoding score (held-out Pearson r)'
    """
    ax = new_axes(ax, figsize=(DOUBLE_COLUMN * 0.6, 3.0))
    import matplotlib as mpl

    colors = mpl.colormaps[CATEGORICAL]
    x = np.arange(result.sizes["layer"])
    ceilings = []
    for i, region in enumerate(result.region.values):
        r = result.sel(region=region)
        # the lower bound where the ceiling has two (stats' ceiling schema)
        ceil, upper = np.nan, np.nan
        if "ceiling" in r:
            two = "bound" in r.ceiling.dims
            ceil = float(r.ceiling.sel(bound="lower") if two else r.ceiling)
            upper = float(r.ceiling.sel(bound="upper")) if two else np.nan
        scale = ceil if normalized and np.isfinite(ceil) else 1.0
        c = colors(i % 10)
        ax.plot(x, r.score / scale, "-o", color=c, label=str(region), markersize=3)
        if "ci_low" in r and "ci_high" in r:
            ax.fill_between(x, r.ci_low / scale, r.ci_high / scale, color=c, alpha=0.2, linewidth=0)
        if not normalized and np.isfinite(ceil):
            ceilings.append((ceil, c, str(region)))
            if np.isfinite(upper):
                ax.axhspan(ceil, upper, color=c, alpha=0.08, linewidth=0)
    if ceilings:
        lo, hi = ax.get_ylim()
        span = max(hi, *(c[0] for c in ceilings)) - min(lo, *(c[0] for c in ceilings))
        _draw_ceilings(ax, ceilings, tol=0.01 * (span or 1.0))  # closer than ~2 px at 3 in
    ax.set_xticks(x, [str(v) for v in result.layer.values], rotation=45, ha="right")
    ax.legend(fontsize=FONT_SIZE - 1, frameon=False)
    band = "CI"
    ci = result.attrs.get("ci")
    if ci is not None:
        level = float(ci) / 100 if float(ci) > 1 else float(ci)
        band = f"{level:.0%} CI" if round(level * 100) == level * 100 else f"{level:.1%} CI"
    ceiling = ""
    if not normalized and ceilings:
        ceiling = ", dashed: noise ceiling" + (
            " (shaded to upper bound)"
            if "ceiling" in result.data_vars and "bound" in result["ceiling"].dims else "")
    what = score_label(result.attrs.get("metric"))
    tidy(ax, xlabel="model layer", ylabel=what + (" / noise ceiling" if normalized else ""),
         title=f"Layer profiles (band: {band}{ceiling})")
    return make_display(ax)


def plot_best_layer_map(
    result: xr.Dataset, *, ax: Any = None, variable: str = "best_depth", **kwargs: Any
) -> PlotDisplay:
    """Brain map of each voxel's best layer depth (0 = first layer, 1 = last), via nilearn.

    Parameters
    ----------
    result : Dataset
        From :func:`neurorep.alignment.unit_layer_scores` on responses whose
        units carry voxel indices ``i, j, k`` and attrs ``affine`` /
        ``volume_shape`` (as :func:`neurorep.data.from_nifti` writes them).
    ax : matplotlib Axes, optional
        Draw into this Axes' area (of its figure); default a new figure.
    variable : str, optional
        The per-unit variable to map (default ``"best_depth"``).
    **kwargs
        Passed to ``nilearn.plotting.plot_img`` (e.g. ``display_mode``, ``cut_coords``).

    Returns
    -------
    PlotDisplay
        nilearn draws the cuts inside ``ax_``'s area; the colour bar is
        labelled with the best layer depth (0 = first layer, 1 = last).

    Examples
    --------
    >>> import numpy as np, nibabel as nib, xarray as xr
    >>> from neurorep import data
    >>> from neurorep.plotting import plot_best_layer_map
    >>> mask = nib.Nifti1Image(np.ones((3, 3, 3), np.uint8), np.eye(4))
    >>> vols = nib.Nifti1Image(np.zeros((3, 3, 3, 1)), np.eye(4))
    >>> voxels = data.from_nifti(vols, mask, stimulus=["a"]).isel(stimulus=0, drop=True)
    >>> res = xr.Dataset({"best_depth": voxels + np.linspace(0, 1, 27)}, attrs=voxels.attrs)
    >>> disp = plot_best_layer_map(res)
    """
    import nibabel as nib
    from nilearn import plotting as nplot

    from neurorep.data import to_nifti

    values = result[variable].astype(float)
    values.attrs = dict(result.attrs)

    # voxels outside the units are 0 and drawn transparent (threshold); depth 0 is offset by 1e-3
    img = to_nifti(values + 1e-3)
    img = nib.Nifti1Image(np.asarray(img.get_fdata()), img.affine)

    if ax is None:
        mode = str(kwargs.get("display_mode", "ortho"))
        cuts = kwargs.get("cut_coords")
        if mode in ("x", "y", "z") or mode.endswith("mosaic"):
            n = len(cuts) if isinstance(cuts, (list, tuple, np.ndarray)) else int(cuts or 7)
        else:
            n = 3 if mode == "ortho" else len(mode)
        width = min(DOUBLE_COLUMN, max(SINGLE_COLUMN, 1.4 + 1.9 * n))
        ax = new_axes(figsize=(width, 2.6))  # nilearn draws inside this Axes' area
    fig = ax.figure
    title = kwargs.pop("title", "Best layer per voxel")
    display = nplot.plot_img(
        img, figure=fig, axes=ax, cmap=kwargs.pop("cmap", SEQUENTIAL), colorbar=True,
        threshold=1e-4, vmin=0.0, vmax=1.0, black_bg=False, title=None, **kwargs,
    )
    if title:
        display.title(title, size=FONT_SIZE + 1, color="k", bgcolor="w")
    cbar = getattr(display, "_cbar", None)
    if cbar is not None:
        cbar.set_ticks([0.0, 0.25, 0.5, 0.75, 1.0])
        cbar.ax.yaxis.tick_left()
        cbar.set_label("best layer depth\n(0 = first layer, 1 = last)", fontsize=FONT_SIZE)
        cbar.ax.tick_params(labelsize=FONT_SIZE - 1)
    return make_display(ax)
