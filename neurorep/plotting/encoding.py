"""Figures for encoding results: score vs ceiling, alpha histogram, split scores, brain maps."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from neurorep._core.errors import SchemaError
from neurorep.plotting._display import PlotDisplay, make_display
from neurorep.plotting._style import (
    CATEGORICAL,
    DOUBLE_COLUMN,
    FONT_SIZE,
    SINGLE_COLUMN,
    color_scale,
    new_axes,
    tidy,
)

__all__ = [
    "plot_alpha_histogram",
    "plot_score_map",
    "plot_score_vs_ceiling",
    "plot_split_scores",
]


def _variable(result: xr.Dataset, name: str) -> xr.DataArray:
    if name not in result:
        raise SchemaError(
            f"result has no variable {name!r}; it has {list(result.data_vars)}."
        )
    return result[name]


def plot_score_vs_ceiling(
    result: xr.Dataset,
    ceiling: xr.Dataset | xr.DataArray | None = None,
    *,
    ax: Any = None,
    variable: str = "score",
    color: str | None = None,
) -> PlotDisplay:
    """Scatter of each unit's score against its noise ceiling, with the identity line.

    Parameters
    ----------
    result : Dataset
        With ``variable`` (unit) and, unless ``ceiling`` is given, ``ceiling``
        (e.g. from :func:`neurorep.stats.normalize_score`).
    ceiling : Dataset or DataArray (unit), optional
        A :func:`neurorep.stats.noise_ceiling` result (matched by unit id).
    ax : matplotlib Axes, optional
    color : str, optional
        A unit coordinate (e.g. ``"region"``) to colour the points by.

    Returns
    -------
    PlotDisplay
        The scatter in ``ax_``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from neurorep.plotting.encoding import plot_score_vs_ceiling
    >>> res = xr.Dataset({"score": ("unit", [0.2, 0.4]), "ceiling": ("unit", [0.5, 0.6])})
    >>> disp = plot_score_vs_ceiling(res)
    """
    score = _variable(result, variable)
    if ceiling is None:
        ceil = _variable(result, "ceiling")
    else:
        ceil = ceiling["ceiling"] if isinstance(ceiling, xr.Dataset) else ceiling
        if "unit" in ceil.coords and "unit" in score.coords:
            ceil = ceil.sel(unit=score["unit"].values)
    s = np.asarray(score.values, dtype=float)
    c = np.asarray(ceil.values, dtype=float)
    if s.shape != c.shape:
        raise SchemaError(f"score shape {s.shape} and ceiling shape {c.shape} differ.")
    ax = new_axes(ax, figsize=(3.5, 3.2))
    if color is not None and color in score.coords:
        import matplotlib as mpl

        labels = np.asarray(score[color].values).astype(str)
        cmap = mpl.colormaps[CATEGORICAL]
        for i, lab in enumerate(np.unique(labels)):
            sel = labels == lab
            ax.scatter(c[sel], s[sel], s=8, alpha=0.6, color=cmap(i % 10), label=lab, lw=0)
        ax.legend(fontsize=FONT_SIZE - 1, frameon=False)
    else:
        ax.scatter(c, s, s=8, alpha=0.6, lw=0)
    finite = np.isfinite(s) & np.isfinite(c)
    hi = float(max(np.max(c[finite], initial=0.0), np.max(s[finite], initial=0.0), 1e-3))
    lo = float(min(np.min(s[finite], initial=0.0), 0.0))
    ax.plot([0, hi], [0, hi], color="0.4", lw=0.8, ls="--", label="_ceiling")
    ax.set_xlim(min(lo, 0.0), hi * 1.05)
    ax.set_ylim(lo, hi * 1.05)
    metric = score.attrs.get("metric", result.attrs.get("scoring", ""))
    tidy(ax, title="Score vs noise ceiling", xlabel=f"noise ceiling ({metric})".replace(" ()", ""),
         ylabel=f"held-out {variable}")
    return make_display(ax)


def plot_alpha_histogram(
    result: xr.Dataset, *, ax: Any = None, bins: int | None = None
) -> PlotDisplay:
    """Histogram of the chosen penalties (log10 alpha) across units, grid edges marked.

    Units that chose the smallest or largest alpha of the grid may need a
    wider grid. For banded ridge (alpha per space) one histogram per space.

    Returns
    -------
    PlotDisplay
        The histogram in ``ax_``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.encoding import fit_ridge
    >>> from neurorep.plotting.encoding import plot_alpha_histogram
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(40, 3)), rng.normal(size=(40, 5))
    >>> disp = plot_alpha_histogram(fit_ridge(X, Y, cv=4))
    """
    alpha = _variable(result, "alpha")
    ax = new_axes(ax)
    grid = np.asarray(result.attrs.get("alphas", []), dtype=float)
    if grid.size:
        edges = np.log10(grid)
        step = float(np.median(np.diff(edges))) if grid.size > 1 else 1.0
        bin_edges = np.r_[edges - step / 2, edges[-1] + step / 2] if bins is None else bins
    else:
        bin_edges = bins or 20
    spaces = alpha["space"].values.tolist() if "space" in alpha.dims else [None]
    for i, sp in enumerate(spaces):
        vals = np.asarray((alpha.sel(space=sp) if sp is not None else alpha).values, dtype=float)
        vals = np.log10(vals[np.isfinite(vals) & (vals > 0)])
        ax.hist(vals, bins=bin_edges, alpha=0.6 if sp is not None else 0.9,
                label=str(sp) if sp is not None else None, color=f"C{i}")
    if grid.size:
        for e in (np.log10(grid[0]), np.log10(grid[-1])):
            ax.axvline(e, color="0.4", lw=0.8, ls=":")
    if spaces != [None]:
        ax.legend(fontsize=FONT_SIZE - 1, frameon=False)
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # unit counts
    tidy(ax, title="Chosen penalties", xlabel="log10 alpha", ylabel="units")
    return make_display(ax)


def plot_split_scores(
    result: xr.Dataset, *, ax: Any = None, variable: str = "split_score", max_units: int = 50
) -> PlotDisplay:
    """Stacked bars of each space's share of the joint score (banded ridge), best units first.

    Returns
    -------
    PlotDisplay
        The bars in ``ax_``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.encoding import fit_banded_ridge
    >>> from neurorep.plotting.encoding import plot_split_scores
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(60, 2)), rng.normal(size=(60, 3))
    >>> res = fit_banded_ridge({"a": a, "b": b}, a + 0.5 * rng.normal(size=(60, 2)), cv=3)
    >>> disp = plot_split_scores(res)
    """
    split = _variable(result, variable)
    if "space" not in split.dims:
        raise SchemaError(f"{variable!r} needs a 'space' dim; got {split.dims}.")
    joint = np.asarray(split.sum("space").values, dtype=float)
    order = np.argsort(np.where(np.isfinite(joint), -joint, np.inf))[:max_units]
    ax = new_axes(ax, figsize=(DOUBLE_COLUMN, 3.0))
    vals = np.asarray(split.transpose("space", "unit").values, dtype=float)[:, order]
    x = np.arange(1, len(order) + 1)  # unit rank, 1 = best joint score
    pos = np.zeros(len(order))
    neg = np.zeros(len(order))
    for i, sp in enumerate(split["space"].values.tolist()):
        v = np.nan_to_num(vals[i])
        base = np.where(v >= 0, pos, neg)
        ax.bar(x, v, bottom=base, color=f"C{i}", label=str(sp), width=0.85)
        pos += np.clip(v, 0, None)
        neg += np.clip(v, None, 0)
    ax.plot(x, joint[order], "k.", ms=3, label="joint")
    ax.axhline(0, color="0.4", lw=0.6)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0.4, len(order) + 0.6)
    ax.legend(fontsize=FONT_SIZE - 1, frameon=False, ncols=min(4, vals.shape[0] + 1))
    tidy(ax, title="Split scores per unit", xlabel="unit rank (by joint score)",
         ylabel=variable.replace("_", " "))
    return make_display(ax)


def plot_score_map(
    result: xr.Dataset,
    *,
    variable: str = "score",
    threshold: float | None = None,
    bg_img: Any = None,
    ax: Any = None,
    display_mode: str = "z",
    cut_coords: Any = None,
    cmap: str | None = None,
    title: str | None = None,
) -> PlotDisplay:
    """A brain map of per-unit scores through nilearn (units need voxel coords).

    Parameters
    ----------
    result : Dataset
        With ``variable`` (unit) whose units carry ``i, j, k`` coords and the
        result (or variable) attrs ``affine`` and ``volume_shape`` (kept from
        responses read by :func:`neurorep.data.from_nifti`).
    threshold : float, optional
        Hide voxels with ``|value| <= threshold`` (default: only voxels outside
        the units, which are exactly 0, are hidden).
    bg_img : niimg, optional
        Anatomical background (default none: the map alone).
    ax : matplotlib Axes, optional
    display_mode, cut_coords, title
        Passed to :func:`nilearn.plotting.plot_stat_map`.
    cmap : str, optional
        Default: the shared neurorep style, a diverging map centred on 0 when
        the values are signed, a sequential one otherwise.

    Returns
    -------
    PlotDisplay
        nilearn draws the cuts inside ``ax_``'s area; the colour bar is
        labelled with the variable (and its metric).

    Examples
    --------
    >>> from neurorep import data, datasets
    >>> from neurorep.encoding import fit_ridge, make_delays, make_regressors
    >>> bold = data.members(datasets.load("haxby2001_subj1_slice"))["bold"]
    >>> res = fit_ridge(make_delays(make_regressors(bold)), bold)
    >>> disp = plot_score_map(res)
    """
    from nilearn import plotting

    from neurorep.data import to_nifti

    values = _variable(result, variable)
    if values.dims != ("unit",):
        raise SchemaError(f"plot_score_map: {variable!r} must have dims ('unit',); got {values.dims}.")
    if not all(c in values.coords for c in ("i", "j", "k")):
        raise SchemaError(
            "plot_score_map: units carry no voxel coordinates (i, j, k); fit on responses read "
            "with neurorep.data.from_nifti (or a dataset loader that keeps them)."
        )
    attrs = {k: result.attrs[k] for k in ("affine", "volume_shape") if k in result.attrs}
    data = values.fillna(0.0).assign_attrs({**attrs, **values.attrs})
    img = to_nifti(data)
    ax = new_axes(ax, figsize=(SINGLE_COLUMN, 2.8))  # nilearn draws inside this Axes' area
    fig = ax.figure
    vals = np.asarray(values.values, dtype=float)
    vmax = float(np.nanmax(np.abs(vals))) if np.isfinite(vals).any() else 1.0
    scale = color_scale(vals)
    signed = "vmin" in scale and scale["vmin"] < 0
    if cut_coords is None and display_mode == "z":
        z = np.asarray(values["z"].values, dtype=float) if "z" in values.coords else np.zeros(1)
        cut_coords = [float(np.median(z))]
    range_kw: dict[str, Any] = (
        {"symmetric_cbar": True, "vmax": vmax or 1.0} if signed
        else {"symmetric_cbar": False, "vmin": min(scale.get("vmin", 0.0), 0.0),
              "vmax": scale.get("vmax", 1.0) or 1.0}
    )
    display = plotting.plot_stat_map(
        img, bg_img=bg_img, axes=ax, figure=fig,
        display_mode=display_mode, cut_coords=cut_coords,
        threshold=threshold if threshold is not None else 1e-9 * (vmax or 1.0),
        cmap=cmap or scale["cmap"], title=None,
        colorbar=True, annotate=False, draw_cross=False, black_bg=False, **range_kw,
    )
    display.title(title or variable.replace("_", " "), size=FONT_SIZE + 1, color="k",
                  bgcolor="w")
    cbar = getattr(display, "_cbar", None)
    if cbar is not None:
        metric = values.attrs.get("metric", result.attrs.get("scoring", ""))
        label = variable.replace("_", " ") + (f" ({metric})" if metric else "")
        cbar.set_label(label, fontsize=FONT_SIZE)
        cbar.ax.tick_params(labelsize=FONT_SIZE - 1)
    return make_display(ax)
