"""Figures for layer-to-region alignment results."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from neurorep.plotting._display import PlotDisplay, make_display
from neurorep.plotting._style import (
    CATEGORICAL,
    DOUBLE_COLUMN,
    FONT_SIZE,
    SEQUENTIAL,
    SINGLE_COLUMN,
    color_scale,
    labelled_colorbar,
    new_axes,
    tidy,
)


def plot_score_matrix(
    result: xr.Dataset,
    *,
    ax: Any = None,
    variable: str = "score",
    best: xr.Dataset | None = None,
    annotate: bool = True,
) -> PlotDisplay:
    """Region x layer heatmap of ``result[variable]`` with best-layer markers.

    Parameters
    ----------
    result : Dataset
        From :func:`neurorep.alignment.score_matrix`.
    best : Dataset, optional
        From :func:`neurorep.alignment.best_layer`: held-out best layers are
        outlined; otherwise the row maxima are marked with a dot.

    Returns
    -------
    PlotDisplay
        The heatmap in ``ax_``; its colour bar is labelled with the variable
        and the metric.
    """
    from matplotlib.patches import Rectangle

    da = result[variable].transpose("region", "layer")
    ax = new_axes(ax, figsize=(DOUBLE_COLUMN * 0.7, 0.45 * da.sizes["region"] + 1.6))
    vals = np.asarray(da.values, float)
    im = ax.imshow(vals, aspect="auto", **color_scale(vals))
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
    metric = result.attrs.get("metric", "")
    labelled_colorbar(im, ax, f"{variable.replace('_', ' ')} ({metric})" if metric else variable)
    tidy(ax, xlabel="model layer", ylabel="brain region",
         title="Layer x region alignment" + (" (box: held-out best layer)" if best is not None else ""))
    return make_display(ax)


def plot_layer_profiles(
    result: xr.Dataset, *, ax: Any = None, normalized: bool = False
) -> PlotDisplay:
    """Score against layer depth per region, with CI bands and ceiling lines.

    The band's confidence level is read from ``result.attrs["ci"]`` (e.g. 0.95).

    Returns
    -------
    PlotDisplay
        One line per region in ``ax_``.
    """
    ax = new_axes(ax, figsize=(DOUBLE_COLUMN * 0.6, 3.0))
    import matplotlib as mpl

    colors = mpl.colormaps[CATEGORICAL]
    x = np.arange(result.sizes["layer"])
    for i, region in enumerate(result.region.values):
        r = result.sel(region=region)
        # the lower bound where the ceiling has two (stats' ceiling schema)
        ceiling = float(r.ceiling.sel(bound="lower") if "bound" in r.ceiling.dims else r.ceiling)
        scale = ceiling if normalized and np.isfinite(ceiling) else 1.0
        c = colors(i % 10)
        ax.plot(x, r.score / scale, "-o", color=c, label=str(region), markersize=3)
        ax.fill_between(x, r.ci_low / scale, r.ci_high / scale, color=c, alpha=0.2, linewidth=0)
        if not normalized and np.isfinite(ceiling):
            ax.axhline(ceiling, color=c, linestyle="--", linewidth=1)
    ax.set_xticks(x, [str(v) for v in result.layer.values], rotation=45, ha="right")
    ax.legend(fontsize=FONT_SIZE - 1, frameon=False)
    metric = result.attrs.get("metric", "score")
    band = "CI"
    ci = result.attrs.get("ci")
    if ci is not None:
        level = float(ci) / 100 if float(ci) > 1 else float(ci)
        band = f"{level:.0%} CI" if round(level * 100) == level * 100 else f"{level:.1%} CI"
    dashed = "" if normalized else ", dashed: noise ceiling"
    tidy(ax, xlabel="model layer", ylabel=("normalised " if normalized else "") + metric,
         title=f"Layer profiles (band: {band}{dashed})")
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
    kwargs
        Passed to ``nilearn.plotting.plot_img`` (e.g. ``display_mode``, ``cut_coords``).

    Returns
    -------
    PlotDisplay
        nilearn draws the cuts inside ``ax_``'s area; the colour bar is
        labelled with the best layer depth (0 = first layer, 1 = last).
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
