"""Figures for layer-to-region alignment results."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from neurorep.plotting._style import (
    CATEGORICAL,
    DOUBLE_COLUMN,
    FONT_SIZE,
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
) -> Any:
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
    matplotlib.axes.Axes
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
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=FONT_SIZE - 2, color="w")
    layers = list(da.layer.values)
    for i, region in enumerate(da.region.values):
        if best is not None and region in best.region.values:
            j = layers.index(str(best.best_layer.sel(region=region).item()))
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="k", linewidth=2))
        elif np.isfinite(vals[i]).any():
            ax.plot(int(np.nanargmax(vals[i])), i, "o", color="k", markersize=4)
    metric = result.attrs.get("metric", "")
    labelled_colorbar(im, ax, f"{variable.replace('_', ' ')} ({metric})" if metric else variable)
    tidy(ax, xlabel="model layer", ylabel="brain region",
         title="Layer x region alignment" + (" (box: held-out best layer)" if best is not None else ""))
    return ax


def plot_layer_profiles(result: xr.Dataset, *, ax: Any = None, normalized: bool = False) -> Any:
    """Score against layer depth per region, with CI bands and ceiling lines."""
    ax = new_axes(ax, figsize=(DOUBLE_COLUMN * 0.6, 3.0))
    import matplotlib as mpl

    colors = mpl.colormaps[CATEGORICAL]
    x = np.arange(result.sizes["layer"])
    for i, region in enumerate(result.region.values):
        r = result.sel(region=region)
        scale = float(r.ceiling) if normalized and np.isfinite(r.ceiling) else 1.0
        c = colors(i % 10)
        ax.plot(x, r.score / scale, "-o", color=c, label=str(region), markersize=3)
        ax.fill_between(x, r.ci_low / scale, r.ci_high / scale, color=c, alpha=0.2, linewidth=0)
        if not normalized and np.isfinite(r.ceiling):
            ax.axhline(float(r.ceiling), color=c, linestyle="--", linewidth=1)
    ax.set_xticks(x, [str(v) for v in result.layer.values], rotation=45, ha="right")
    ax.legend(fontsize=FONT_SIZE - 1, frameon=False)
    metric = result.attrs.get("metric", "score")
    tidy(ax, xlabel="model layer", ylabel=("normalised " if normalized else "") + metric,
         title="Layer profiles (band: 95% CI, dashed: noise ceiling)")
    return ax
