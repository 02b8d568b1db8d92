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
    xlabel: str | None = None,
) -> PlotDisplay:
    """Scatter of each unit's score against its noise ceiling, with the identity line.

    Parameters
    ----------
    result : Dataset
        With ``variable`` (unit) and, unless ``ceiling`` is given, ``ceiling``
        (e.g. from :func:`neurorep.stats.normalize_score`).
    ceiling : Dataset or DataArray, optional
        A :func:`neurorep.stats.noise_ceiling` result, or a ceiling over
        ``unit`` (matched by unit id).
    ax : matplotlib Axes, optional
        Axes to draw into; default (None) a new pyplot figure.
    variable : str, optional
        The score variable of ``result`` on the y axis (default ``"score"``).
    color : str, optional
        A unit coordinate (e.g. ``"region"``) to colour the points by.
    xlabel : str, optional
        The x-axis label; default "noise ceiling (metric)". Pass what the
        values are when they are not a ceiling of this score (e.g. the
        reliability of another measurement).

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
    xlab = xlabel if xlabel is not None else f"noise ceiling ({metric})".replace(" ()", "")
    tidy(ax, title="Score vs noise ceiling" if xlabel is None else "Score vs reliability",
         xlabel=xlab, ylabel=f"held-out {variable}")
    return make_display(ax)


def plot_alpha_histogram(
    result: xr.Dataset, *, ax: Any = None, bins: int | None = None
) -> PlotDisplay:
    """Histogram of the chosen penalties (log10 alpha) across units, grid edges marked.

    With the alpha grid known (``attrs["alphas"]`` or an ``alphas`` variable,
    as :func:`neurorep.encoding.fit_ridge` returns it) each grid value gets
    its own bin centred on it, also on an uneven grid. Units that chose the
    smallest or largest alpha of the grid may need a wider grid. For banded
    ridge (alpha per space) one histogram per space.

    Parameters
    ----------
    result : Dataset
        With ``alpha`` over ``unit`` (and ``space`` for banded ridge).
    ax : matplotlib Axes, optional
        Draw into this Axes; default a new pyplot figure.
    bins : int or sequence, optional
        Override the bins (in log10 alpha).

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
    # the alpha grid: attrs["alphas"] or an ``alphas`` variable / coord (fit_ridge keeps it there)
    if "alphas" in result.attrs:
        grid = np.asarray(result.attrs["alphas"], dtype=float).ravel()
    elif "alphas" in result.variables:
        grid = np.asarray(result["alphas"].values, dtype=float).ravel()
    else:
        grid = np.array([])
    grid = np.unique(grid[np.isfinite(grid) & (grid > 0)])
    if grid.size:
        # one bin per grid value, centred on it; edges halfway between neighbours (in log10)
        centres = np.log10(grid)
        half = np.diff(centres) / 2 if grid.size > 1 else np.array([0.5])
        inner = centres[:-1] + half
        bin_edges = (np.r_[centres[0] - half[0], inner, centres[-1] + half[-1]]
                     if bins is None else bins)
    else:
        bin_edges = bins or 20
    spaces = alpha["space"].values.tolist() if "space" in alpha.dims else [None]
    for i, sp in enumerate(spaces):
        vals = np.asarray((alpha.sel(space=sp) if sp is not None else alpha).values, dtype=float)
        vals = np.log10(vals[np.isfinite(vals) & (vals > 0)])
        kw = {"alpha": 0.6 if sp is not None else 0.9, "color": f"C{i}",
              "label": str(sp) if sp is not None else None}
        on_grid = grid.size and bins is None and np.all(
            np.isclose(vals[:, None], np.log10(grid)[None], atol=1e-9).any(1))
        if on_grid:  # a bar centred on each grid value, whatever the grid's spacing
            centres = np.log10(grid)
            counts = np.isclose(vals[:, None], centres[None], atol=1e-9).sum(0)
            gap = float(np.min(np.diff(centres))) if grid.size > 1 else 1.0
            ax.bar(centres, counts, width=0.8 * gap, **kw)
        else:
            ax.hist(vals, bins=bin_edges, **kw)
    if grid.size:
        for e in (np.log10(grid[0]), np.log10(grid[-1])):
            ax.axvline(e, color="0.4", lw=0.8, ls=":")
    if spaces != [None]:
        ax.legend(fontsize=FONT_SIZE - 1, frameon=False)
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # unit counts
    if grid.size and bins is None and grid.size <= 15:
        ax.set_xticks(np.log10(grid), [f"{v:g}" for v in np.log10(grid)])  # a tick per grid value
    tidy(ax, title="Chosen penalties", xlabel="log10 alpha (one bar per grid value)", ylabel="units")
    return make_display(ax)


def plot_split_scores(
    result: xr.Dataset,
    *,
    ax: Any = None,
    variable: str = "split_score",
    max_units: int = 50,
    max_labelled: int = 20,
) -> PlotDisplay:
    """Each feature space's share of the joint score (banded ridge), per unit.

    One chart for one unit or many: up to ``max_labelled`` units are
    horizontal bars named by their unit id (one segment per space, the joint
    score as a black mark, values written for up to 3 units); more units
    become vertical bars sorted by joint score, the x axis counting units
    from the best. Negative shares are drawn to the left of (below) 0.

    Parameters
    ----------
    result : Dataset
        From :func:`neurorep.encoding.fit_banded_ridge`, with ``variable``
        over ``(space, unit)``.
    ax : matplotlib Axes, optional
        Draw into this Axes; default a new pyplot figure.
    variable : str
        ``"split_score"`` or ``"split_r"`` / ``"split_r2"``.
    max_units : int
        Show at most this many units (the best by joint score).
    max_labelled : int
        Up to this many units, draw named horizontal bars.

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
    >>> sorted(t.get_text() for t in disp.ax_.get_yticklabels())  # one named bar per unit
    ['unit0', 'unit1']
    """
    split = _variable(result, variable)
    if "space" not in split.dims:
        raise SchemaError(f"{variable!r} needs a 'space' dim; got {split.dims}.")
    joint = np.asarray(split.sum("space").values, dtype=float)
    order = np.argsort(np.where(np.isfinite(joint), -joint, np.inf), kind="stable")[:max_units]
    n = len(order)
    horizontal = n <= max_labelled
    ax = new_axes(ax, figsize=(SINGLE_COLUMN + 0.5, 0.8 + 0.28 * max(n, 2)) if horizontal
                  else (DOUBLE_COLUMN, 3.0))
    vals = np.asarray(split.transpose("space", "unit").values, dtype=float)[:, order]
    units = [str(u) for u in np.asarray(split["unit"].values)[order]] if "unit" in split.coords \
        else [str(i) for i in order]
    x = np.arange(n) if horizontal else np.arange(1, n + 1)  # vertical: 1 = best joint score
    bar = ax.barh if horizontal else ax.bar
    pos = np.zeros(n)
    neg = np.zeros(n)
    label = variable.replace("_", " ")
    for i, sp in enumerate(split["space"].values.tolist()):
        v = np.nan_to_num(vals[i])
        base = np.where(v >= 0, pos, neg)
        kw = {"left": base, "height": 0.6} if horizontal else {"bottom": base, "width": 0.85}
        bars = bar(x, v, color=f"C{i}", label=str(sp), **kw)
        if horizontal and n <= 3:
            ax.bar_label(bars, labels=[f"{a:.3f}" for a in v], label_type="center",
                         fontsize=FONT_SIZE - 2, color="w")
        pos += np.clip(v, 0, None)
        neg += np.clip(v, None, 0)
    if horizontal:
        ax.plot(joint[order], x, "k|", ms=14, mew=2, label="joint")
        ax.axvline(0, color="0.4", lw=0.6)
        ax.set_yticks(x, units)
        ax.set_ylim(n - 0.5, -0.5)  # best unit on top
        ax.legend(fontsize=FONT_SIZE - 1, frameon=False, ncols=min(4, vals.shape[0] + 1),
                  loc="lower left", bbox_to_anchor=(0, 1.0), borderaxespad=0.2)
        tidy(ax, xlabel=label + " (share of the joint score)", ylabel="unit")
        ax.set_title("Split scores per unit", fontsize=FONT_SIZE + 1, pad=18)
    else:
        from matplotlib.ticker import MaxNLocator

        ax.plot(x, joint[order], "k.", ms=3, label="joint")
        ax.axhline(0, color="0.4", lw=0.6)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(0.4, n + 0.6)
        ax.legend(fontsize=FONT_SIZE - 1, frameon=False, ncols=min(4, vals.shape[0] + 1))
        tidy(ax, title="Split scores per unit",
             xlabel=f"units sorted by joint score (1 = best of {split.sizes['unit']})",
             ylabel=label)
    return make_display(ax)


def _mark_mask(result: xr.Dataset, values: xr.DataArray, mark: Any) -> np.ndarray:
    """``mark`` as a boolean array in the unit order of ``values`` (matched by unit id)."""
    if isinstance(mark, str):
        if mark not in result.variables:
            raise KeyError(
                f"plot_score_map: mark={mark!r} is not a variable of result; it has "
                f"{list(result.data_vars)}. Pass a boolean DataArray over 'unit' instead."
            )
        mark = result[mark]
    if not isinstance(mark, xr.DataArray) or mark.dims != ("unit",) or mark.dtype != bool:
        raise SchemaError(
            "plot_score_map: mark must be a boolean DataArray over ('unit',) (e.g. "
            f"result['pvalue_fdr'] < 0.05); got {type(mark).__name__} "
            f"{getattr(mark, 'dims', '')} {getattr(mark, 'dtype', '')}."
        )
    if "unit" in mark.coords and "unit" in values.coords:
        missing = set(values["unit"].values.tolist()) - set(mark["unit"].values.tolist())
        if missing:
            raise SchemaError(
                f"plot_score_map: mark lacks {len(missing)} of the units, e.g. "
                f"{sorted(missing)[:3]}; give one value per unit of result."
            )
        mark = mark.sel(unit=values["unit"].values)
    elif mark.sizes["unit"] != values.sizes["unit"]:
        raise SchemaError(
            f"plot_score_map: mark has {mark.sizes['unit']} units, result {values.sizes['unit']}."
        )
    return np.asarray(mark.values, dtype=bool)


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
    mark: str | xr.DataArray | None = None,
    mark_label: str = "significant",
) -> PlotDisplay:
    """A brain map of per-unit scores through nilearn (units need voxel coords).

    Parameters
    ----------
    result : Dataset
        With ``variable`` (unit) whose units carry ``i, j, k`` coords and the
        result (or variable) attrs ``affine`` and ``volume_shape`` (kept from
        responses read by :func:`neurorep.data.from_nifti`).
    variable : str, optional
        The per-unit variable to map (default ``"score"``).
    threshold : float, optional
        Hide voxels with ``|value| <= threshold`` (default: only voxels outside
        the units, which are exactly 0, are hidden).
    bg_img : niimg, optional
        Anatomical background (default none: the map alone).
    ax : matplotlib Axes, optional
        Axes to draw into; default (None) a new pyplot figure.
    display_mode : str, optional
        nilearn's cut direction(s) (default ``"z"``), passed to
        :func:`nilearn.plotting.plot_stat_map`.
    cut_coords : optional
        nilearn's cut positions, passed on as well.
    cmap : str, optional
        Default: the shared neurorep style, a diverging map centred on 0 when
        the values are signed, a sequential one otherwise.
    title : str, optional
        The map's title (default the variable's name).
    mark : str or DataArray (unit, bool), optional
        Units to mark with a black dot, e.g. the significant ones: a boolean
        variable of ``result`` or a DataArray matched by unit id
        (``result["pvalue_fdr"] < 0.05``).
    mark_label : str
        What the dots mean, added to the title with the count.

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
    text = title or variable.replace("_", " ")
    if mark is not None:
        marked = _mark_mask(result, values, mark)
        if marked.any():  # a dot at the centre of each marked voxel (world coordinates)
            ijk = np.stack([np.asarray(values[c].values, float)[marked] for c in ("i", "j", "k")]
                           + [np.ones(int(marked.sum()))])
            xyz = (np.asarray(img.affine, float) @ ijk)[:3].T
            display.add_markers(xyz, marker_color="k", marker_size=3)
        text += f" (dots: {mark_label}, {int(marked.sum())} of {marked.size})"
    display.title(text, size=FONT_SIZE + 1, color="k", bgcolor="w")
    cbar = getattr(display, "_cbar", None)
    if cbar is not None:
        metric = values.attrs.get("metric", result.attrs.get("scoring", ""))
        label = variable.replace("_", " ") + (f" ({metric})" if metric and metric != variable else "")
        cbar.set_label(label, fontsize=FONT_SIZE)
        cbar.ax.tick_params(labelsize=FONT_SIZE - 1)
    return make_display(ax)
