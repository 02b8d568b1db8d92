"""RSA figures: RDM heatmaps, MDS arrangements, model-comparison bars.

Each function takes a computed result (an RDM DataArray or the Dataset
from :func:`neurorep.rsa.evaluate`), draws on ``ax`` (a new pyplot figure
when None) and returns a :class:`~neurorep.plotting.PlotDisplay`. Nothing
here calls ``plt.show()`` or changes rcParams.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from neurorep._core.errors import SchemaError
from neurorep.plotting._display import PlotDisplay, make_display
from neurorep.plotting._style import (
    DOUBLE_COLUMN,
    FONT_SIZE,
    SINGLE_COLUMN,
    color_scale,
    labelled_colorbar,
    new_axes,
    rdm_label,
    tidy,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_mds", "plot_model_comparison", "plot_rdm"]

_SQUARED = ("squared_euclidean", "mahalanobis", "crossnobis", "squared euclidean")


def _single_rdm(rdm: xr.DataArray, fn: str) -> xr.DataArray:
    if not isinstance(rdm, xr.DataArray) or rdm.dims[-2:] != ("stimulus_i", "stimulus_j"):
        raise SchemaError(
            f"{fn}: expected an RDM DataArray (stimulus_i, stimulus_j); got "
            f"{getattr(rdm, 'dims', type(rdm).__name__)}."
        )
    if rdm.ndim != 2:
        lead = rdm.dims[:-2]
        raise SchemaError(
            f"{fn}: got a stack of RDMs (leading dims {lead}); pick one, e.g. "
            f"rdm.isel({lead[0]}=0), or average: rdm.mean({lead[0]!r})."
        )
    return rdm


def _labels(rdm: xr.DataArray, categories: Any) -> np.ndarray | None:
    if categories is None:
        return None
    if isinstance(categories, str):
        for name in (categories, f"{categories}_i"):
            if name in rdm.coords and rdm[name].dims == ("stimulus_i",):
                return np.asarray(rdm[name].values).astype(str)
        raise SchemaError(
            f"categories={categories!r} is not a stimulus coord of the RDM (coords: "
            f"{list(rdm.coords)}); pass an array with one label per stimulus instead."
        )
    arr = np.asarray(categories).astype(str)
    if arr.shape != (rdm.sizes["stimulus_i"],):
        raise SchemaError(
            f"categories must hold one label per stimulus ({rdm.sizes['stimulus_i']}); got "
            f"shape {arr.shape}."
        )
    return arr


def plot_rdm(
    rdm: xr.DataArray,
    *,
    ax: Axes | None = None,
    categories: str | Sequence[Any] | None = None,
    rank: bool = False,
    cmap: str | None = None,
    colorbar: bool = True,
    title: str | None = None,
) -> PlotDisplay:
    """Heatmap of one RDM with category boundaries and labels.

    Parameters
    ----------
    rdm : DataArray
        One RDM ``(stimulus_i, stimulus_j)``; ``attrs["metric"]`` names the
        colour bar.
    ax : matplotlib Axes, optional
        Axes to draw into; default (None) a new pyplot figure.
    categories : str or sequence, optional
        A stimulus coord name on the RDM or one label per stimulus. Lines are
        drawn wherever the label changes along the stimulus order and each
        run of equal labels is labelled at its centre (sort the stimuli by
        category first for contiguous blocks).
    rank : bool
        Show percentiles of the dissimilarities (rank-transformed, as in
        Kriegeskorte et al. 2008) instead of raw values.
    cmap : str, optional
        Matplotlib colormap name. Default: the shared neurorep style, a
        sequential map, or a diverging one centred on 0 when the RDM holds
        negative and positive values (e.g. crossnobis estimates).
    colorbar : bool
        Add a colour bar saying what the cells are, from ``attrs["metric"]``
        (e.g. "correlation distance (1 − Pearson r)"; with ``rank=True``
        "percentile of ...").
    title : str, optional
        The Axes title (default none).

    Returns
    -------
    PlotDisplay
        The heatmap in ``ax_``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> from neurorep.plotting.rsa import plot_rdm
    >>> r = data.rdm(np.arange(1.0, 7.0), stimulus=list("abcd"))
    >>> disp = plot_rdm(r, categories=["x", "x", "y", "y"])
    >>> [t.get_text() for t in disp.ax_.get_xticklabels()]
    ['x', 'y']
    """
    rdm = _single_rdm(rdm, "plot_rdm")
    ax = new_axes(ax, figsize=(SINGLE_COLUMN, 3.1))
    values = np.asarray(rdm.values, dtype=float)
    label = rdm_label(rdm.attrs.get("metric"), rank=rank)
    if rank:
        from scipy.stats import rankdata

        n = values.shape[0]
        iu = np.triu_indices(n, 1)
        pct = (rankdata(values[iu]) - 1) / max(iu[0].size - 1, 1) * 100
        values = np.zeros_like(values)
        values[iu] = pct
        values = values + values.T
    scale = color_scale(values)
    if cmap is not None:
        scale["cmap"] = cmap
    im = ax.imshow(values, interpolation="nearest", **scale)
    tidy(ax, title=title)
    labels = _labels(rdm, categories)
    n = values.shape[0]
    if labels is not None:
        change = np.flatnonzero(labels[1:] != labels[:-1]) + 1
        for c in change:
            ax.axhline(c - 0.5, color="white", lw=0.8)
            ax.axvline(c - 0.5, color="white", lw=0.8)
        bounds = np.r_[0, change, n]
        centres = (bounds[:-1] + bounds[1:] - 1) / 2.0
        names = [labels[b] for b in bounds[:-1]]
        ax.set_xticks(centres)
        ax.set_xticklabels(names, rotation=90)
        ax.set_yticks(centres)
        ax.set_yticklabels(names)
    elif n <= 30:
        ids = np.asarray(rdm["stimulus_i"].values).astype(str)
        ax.set_xticks(np.arange(n))
        ax.set_xticklabels(ids, rotation=90)
        ax.set_yticks(np.arange(n))
        ax.set_yticklabels(ids)
        ax.tick_params(labelsize=FONT_SIZE - 2 if n > 12 else FONT_SIZE - 1)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    if colorbar:
        labelled_colorbar(im, ax, label)
    return make_display(ax)


def _classical_mds(d: np.ndarray, squared: bool, k: int) -> tuple[np.ndarray, np.ndarray]:
    d2 = d if squared else d**2
    n = d2.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    b = -0.5 * h @ d2 @ h
    vals, vecs = np.linalg.eigh((b + b.T) / 2)
    top = np.argsort(vals)[::-1][:k]
    lam = np.maximum(vals[top], 0.0)
    coords = vecs[:, top] * np.sqrt(lam)
    # fix the sign of each axis so the picture is reproducible
    signs = np.sign(coords[np.argmax(np.abs(coords), axis=0), np.arange(k)])
    signs[signs == 0] = 1.0
    total = np.sum(np.maximum(vals, 0.0))
    return coords * signs, lam / total if total > 0 else lam


def plot_mds(
    rdm: xr.DataArray,
    *,
    ax: Axes | None = None,
    categories: str | Sequence[Any] | None = None,
    labels: bool = False,
    squared: bool | None = None,
    title: str | None = None,
) -> PlotDisplay:
    """2-D classical (Torgerson) MDS of an RDM, coloured by category.

    Parameters
    ----------
    rdm : DataArray
        One RDM ``(stimulus_i, stimulus_j)``.
    ax : matplotlib Axes, optional
        Axes to draw into; default (None) a new pyplot figure.
    categories : str or sequence, optional
        Stimulus coord name or one label per stimulus; each label gets a
        colour and a legend entry.
    labels : bool
        Write the stimulus ids next to the points.
    squared : bool, optional
        Whether the dissimilarities are squared distances (default: from
        ``attrs["metric"]``: squared_euclidean, mahalanobis and crossnobis
        are). Classical MDS is deterministic: no random start.
    title : str, optional
        The Axes title (default none).

    Returns
    -------
    PlotDisplay
        The arrangement in ``ax_``; the axis labels give the share of the
        variance each MDS dimension explains.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> from neurorep.plotting.rsa import plot_mds
    >>> r = data.rdm(np.arange(1.0, 7.0), stimulus=list("abcd"))
    >>> disp = plot_mds(r, labels=True)
    """
    rdm = _single_rdm(rdm, "plot_mds")
    ax = new_axes(ax, figsize=(SINGLE_COLUMN, SINGLE_COLUMN))
    if squared is None:
        squared = str(rdm.attrs.get("metric", "")) in _SQUARED
    xy, explained = _classical_mds(np.asarray(rdm.values, dtype=float), squared, 2)
    cats = _labels(rdm, categories)
    if cats is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=25, color="C0")
    else:
        for i, c in enumerate(dict.fromkeys(cats.tolist())):
            sel = cats == c
            ax.scatter(xy[sel, 0], xy[sel, 1], s=25, color=f"C{i % 10}", label=c)
        ax.legend(fontsize=FONT_SIZE - 1, frameon=False, loc="best")
    if labels:
        for (x, y), name in zip(xy, rdm["stimulus_i"].values, strict=True):
            ax.annotate(str(name), (x, y), fontsize=FONT_SIZE - 2, xytext=(2, 2),
                        textcoords="offset points")
    ax.set_aspect("equal", adjustable="datalim")
    tidy(
        ax,
        title=title,
        xlabel=f"MDS 1 ({explained[0]:.0%})",
        ylabel=f"MDS 2 ({explained[1]:.0%})" if explained.size > 1 else "MDS 2",
    )
    return make_display(ax)


def plot_model_comparison(
    result: xr.Dataset,
    *,
    ax: Axes | None = None,
    sort: bool = False,
    alpha: float = 0.05,
    correction: bool = True,
    pairwise: bool | None = None,
    colors: Sequence[Any] | None = None,
    title: str | None = None,
) -> PlotDisplay:
    """Model-comparison bars with CIs, the noise-ceiling band and significance marks.

    Parameters
    ----------
    result : Dataset
        A :func:`neurorep.rsa.evaluate` result; uses ``score``, ``ci_low``, ``ci_high``, ``ceiling`` and, when
        present, ``pvalue`` and ``pvalue_pairwise``.
    ax : matplotlib Axes, optional
        Axes to draw into; default (None) a new pyplot figure.
    sort : bool
        Order bars by score (best on the right).
    alpha : float
        Significance level of the marks.
    correction : bool
        Mark the Benjamini-Hochberg FDR-adjusted p-values that
        :func:`neurorep.rsa.evaluate` returns (``pvalue_fdr`` over models,
        ``pvalue_pairwise_fdr`` over model pairs); False marks the unadjusted ones.
    pairwise : bool, optional
        Draw a bracket over each significantly different pair (default: when
        there are at most 8 models).
    colors : sequence, optional
        Bar colours, one per model.
    title : str, optional
        The Axes title (default none).

    Returns
    -------
    PlotDisplay
        The bars in ``ax_``. An asterisk above a bar marks a score significantly above 0; the grey
        band spans the lower to the upper noise ceiling. The y range holds the bars, their CIs,
        the ceiling band and the marks; to put several panels on one scale, set the union of
        their limits afterwards rather than ``sharey=True`` (which keeps only the last
        panel's limits and clips the others).

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, rsa
    >>> from neurorep.plotting.rsa import plot_model_comparison
    >>> g = np.random.default_rng(0)
    >>> truth = g.random(45)
    >>> subj = data.rdm(truth + 0.3 * g.random((6, 45)), stimulus=list("abcdefghij"),
    ...                 dim="subject")
    >>> mods = data.rdm(np.stack([truth, g.random(45)]), stimulus=list("abcdefghij"),
    ...                 dim="model", index=["good", "bad"])
    >>> disp = plot_model_comparison(rsa.evaluate(data=subj, models=mods, n_bootstrap=100,
    ...                                          rng=0))
    """
    if not isinstance(result, xr.Dataset) or "score" not in result or "model" not in result.dims:
        raise SchemaError(
            "plot_model_comparison: expected the Dataset returned by neurorep.rsa.evaluate() "
            "(variables score, ci_low, ci_high, ceiling over dim 'model')."
        )
    n_models = result.sizes["model"]
    ax = new_axes(ax, figsize=(min(DOUBLE_COLUMN, max(SINGLE_COLUMN, 0.45 * n_models + 1.6)), 3.2))
    score = np.asarray(result["score"].values, dtype=float)
    names = [str(v) for v in result["model"].values]
    order = np.argsort(score) if sort else np.arange(score.size)
    x = np.arange(order.size)
    s = score[order]
    low = np.asarray(result["ci_low"].values, dtype=float)[order] if "ci_low" in result else s
    high = np.asarray(result["ci_high"].values, dtype=float)[order] if "ci_high" in result else s
    up_c = np.nan
    if "ceiling" in result and np.isfinite(result["ceiling"].values).all():
        lo_c, up_c = (float(v) for v in result["ceiling"].sel(bound=["lower", "upper"]).values)
        ax.axhspan(lo_c, up_c, color="0.8", zorder=0, label="noise ceiling")
    bar_colors = [colors[i] for i in order] if colors is not None else ["C0"] * order.size
    yerr = np.vstack([np.maximum(s - low, 0), np.maximum(high - s, 0)])
    ax.bar(x, s, color=bar_colors, zorder=2)
    ax.errorbar(x, s, yerr=np.nan_to_num(yerr), fmt="none", ecolor="k", lw=1, zorder=3)
    top = float(np.nanmax(np.r_[high, s, 0.0, up_c]))  # the ceiling band is never clipped
    span = top - min(0.0, float(np.nanmin(np.r_[low, s])))
    step = 0.06 * (span if span > 0 else 1.0)
    marked = False
    p_name, pair_name = ("pvalue_fdr", "pvalue_pairwise_fdr") if correction else (
        "pvalue", "pvalue_pairwise")
    if correction and "pvalue" in result and p_name not in result:
        raise SchemaError(
            "plot_model_comparison: correction=True reads the FDR-adjusted p-values "
            "'pvalue_fdr' and 'pvalue_pairwise_fdr' that neurorep.rsa.evaluate returns; this "
            "result has none (saved by an older neurorep?). Re-run rsa.evaluate, or pass "
            "correction=False to mark the unadjusted p-values."
        )
    if p_name in result:
        p = np.asarray(result[p_name].values, dtype=float)
        for xi, pi, hi in zip(x, p[order], high, strict=True):
            if np.isfinite(pi) and pi < alpha:
                ax.text(float(xi), hi + 0.2 * step, "*", ha="center", va="bottom",
                        fontsize=FONT_SIZE + 2, clip_on=True)  # never drawn into a title
                marked = True
    if pairwise is None:
        pairwise = order.size <= 8
    level = top + 1.5 * step
    if pairwise and pair_name in result and order.size > 1:
        pp = np.asarray(result[pair_name].values, dtype=float)[np.ix_(order, order)]
        ii, jj = np.triu_indices(order.size, 1)
        pv = pp[ii, jj]
        for a, b, pval in sorted(zip(ii, jj, pv, strict=True), key=lambda t: t[1] - t[0]):
            if np.isfinite(pval) and pval < alpha:
                ax.plot(
                    [a, a, b, b],
                    [level - 0.3 * step, level, level, level - 0.3 * step],
                    color="0.3",
                    lw=0.8,
                )
                level += step
    ax.set_xticks(x)
    ax.set_xticklabels([names[i] for i in order], rotation=45, ha="right",
                       rotation_mode="anchor")
    ax.axhline(0, color="k", lw=0.8)
    method = result.attrs.get("method", "")
    ax.set_xlim(-0.6, order.size - 0.4)
    ax.set_ylim(top=max(level, top + 2 * step))
    handles, _ = ax.get_legend_handles_labels()
    if marked:
        from matplotlib.lines import Line2D

        star = f"p < {alpha:g}" + (" (FDR)" if correction else "")
        handles.append(Line2D([], [], ls="none", marker="$*$", color="k", ms=7, label=star))
    if handles:
        # headroom above the bars, asterisks and brackets for a one-row legend, placed where
        # it covers the fewest bars ("best" weighs the bar patches and the ceiling band)
        y0, y1 = ax.get_ylim()
        ax.set_ylim(y0, y1 + 0.22 * (y1 - y0))
        ax.legend(handles=handles, fontsize=FONT_SIZE - 1, frameon=False, loc="best",
                  ncols=len(handles), handlelength=1.2, columnspacing=1.0, borderaxespad=0.2)
    tidy(ax, title=title, ylabel=f"RDM correlation ({method})" if method else "score")
    return make_display(ax)
