"""Figures for voxel-caption selectivity: caption cards and a concept map of units."""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurorep.plotting._display import PlotDisplay, make_display
from neurorep.plotting._style import (
    DISTINCT,
    DOUBLE_COLUMN,
    FONT_SIZE,
    categorical_colors,
    new_axes,
    new_panels,
    tidy,
)


def _check_captions(captions: Any, name: str = "captions") -> xr.Dataset:
    if not isinstance(captions, xr.Dataset) or "caption" not in captions.data_vars:
        raise TypeError(
            f"{name}: expected a neurorep.selectivity.caption_units result (a Dataset with "
            f"'caption'); got {type(captions).__name__}."
        )
    return captions


def _clip(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "\u2026"


def _card_text(
    cap: xr.Dataset, *, n_stimuli: int, n_keywords: int, width: int
) -> tuple[str, str, str]:
    caption = "\n".join(
        textwrap.wrap(str(cap["caption"].item()) or "(no caption)", int(width * 0.8))
    )
    n_conc = int(cap["n_concepts"].item()) if "n_concepts" in cap else 1
    kw_lines = []
    for c in range(n_conc):
        words = [str(w) for w in cap["keywords"].values[c] if str(w)][:n_keywords]
        share = float(cap["concept_share"].values[c]) if "concept_share" in cap else 1.0
        head = f"{c + 1} ({share:.0%}): " if n_conc > 1 else ""
        kw_lines.append(textwrap.fill(head + ", ".join(words), width, subsequent_indent="   "))
    stims = []
    if "top_text" in cap:
        for r in range(min(n_stimuli, cap.sizes["rank"])):
            text = str(cap["top_text"].values[r])
            tag = f"[{int(cap['top_concept'].values[r])}] " if n_conc > 1 and "top_concept" in cap else ""
            stims.append(
                textwrap.fill(
                    "\u2022 " + tag + _clip(text, 2 * width), width, subsequent_indent="  "
                )
            )
    return caption, "\n".join(kw_lines), "\n".join(stims)


def plot_caption_cards(
    captions: xr.Dataset,
    *,
    scores: xr.Dataset | None = None,
    units: Sequence[Any] | None = None,
    label: str | None = None,
    n_stimuli: int = 4,
    n_keywords: int = 6,
    ncols: int = 2,
    width: int = 48,
    ax: Any = None,
    fig: Any = None,
) -> PlotDisplay:
    """One card per unit (or region): caption, keywords per concept, top stimuli, score.

    Parameters
    ----------
    captions : Dataset
        From :func:`neurorep.selectivity.caption_units` (caption a region by
        captioning its averaged weights, one ``unit`` per region).
    scores : Dataset, optional
        From :func:`neurorep.selectivity.score_captions`: the held-out score
        and p-value go in each card's title.
    units : sequence, optional
        Unit ids to show (default: the first 6).
    label : str, optional
        A unit coordinate (e.g. ``"region"``) used as the card title.
    n_stimuli, n_keywords : int
        Top stimuli and keywords per concept shown.
    ncols : int, optional
        Cards per row (default 2).
    width : int
        Characters per line.
    ax : matplotlib Axes, optional
        A subplot whose area holds the cards (it is replaced by them).
    fig : matplotlib Figure, optional
        A figure (or subfigure) to draw the cards on, instead of ``ax``.
        Default (neither): a new pyplot figure, 3.5 in wide per column.

    Returns
    -------
    PlotDisplay
        One card per panel in ``axes_`` (row by row); unused panels are
        hidden.

    Examples
    --------
    >>> import numpy as np
    >>> import xarray as xr
    >>> from neurorep.plotting.selectivity import plot_caption_cards
    >>> caps = xr.Dataset(
    ...     {"caption": ("unit", ["about soup and bread", "about rivers"]),
    ...      "keywords": (("unit", "concept", "keyword"),
    ...                   np.array([[["soup", "bread"]], [["river", "lake"]]], dtype=object))},
    ...     coords={"unit": ["v1", "v2"]})
    >>> disp = plot_caption_cards(caps)
    >>> len(disp.axes_)
    2
    """
    cap = _check_captions(captions)
    ids = list(cap["unit"].values[:6]) if units is None else list(units)
    if not ids:
        raise ValueError("units: give at least one unit to plot.")
    missing = [u for u in ids if u not in set(cap["unit"].values.tolist())]
    if missing:
        raise KeyError(f"units {missing[:5]} are not in captions; units are e.g. "
                       f"{cap['unit'].values[:5].tolist()}.")
    ncols = max(1, min(int(ncols), len(ids)))
    nrows = int(np.ceil(len(ids) / ncols))
    axes = new_panels(nrows, ncols, ax=ax, fig=fig, fn="plot_caption_cards",
                      figsize=(DOUBLE_COLUMN * ncols / 2, 2.6 * nrows))
    for ax in axes.ravel()[len(ids):]:
        ax.set_axis_off()
    for ax, uid in zip(axes.ravel(), ids, strict=False):
        one = cap.sel(unit=uid)
        title = str(one[label].item()) if label is not None and label in one.coords else str(uid)
        if scores is not None and uid in set(scores["unit"].values.tolist()):
            s = scores.sel(unit=uid)
            title += f"   r = {float(s['score']):.2f}"
            if "pvalue" in s:
                title += f", p = {float(s['pvalue']):.3g}"
        caption, kws, stims = _card_text(one, n_stimuli=n_stimuli, n_keywords=n_keywords,
                                         width=width)
        ax.set_axis_off()
        ax.add_patch(_card_frame(ax))
        ax.text(0.03, 0.97, title, transform=ax.transAxes, va="top", fontsize=FONT_SIZE,
                color="0.35")
        body = ax.text(0.03, 0.86, caption, transform=ax.transAxes, va="top",
                       fontsize=FONT_SIZE + 1, fontweight="bold")
        ax.annotate(kws, xy=(0, 0), xycoords=body, xytext=(0, -4), textcoords="offset points",
                    va="top", fontsize=FONT_SIZE - 1, color="C0", style="italic")
        ax.text(0.03, 0.03, stims, transform=ax.transAxes, va="bottom",
                fontsize=FONT_SIZE - 2, color="0.2")
    return make_display(axes.ravel())


def _card_frame(ax: Any) -> Any:
    from matplotlib.patches import FancyBboxPatch

    return FancyBboxPatch((0.0, 0.0), 1.0, 1.0, boxstyle="round,pad=0,rounding_size=0.03",
                          transform=ax.transAxes, facecolor="0.97", edgecolor="0.8",
                          linewidth=0.8, clip_on=False)


def _pca2(X: np.ndarray) -> np.ndarray:
    Xc = X - X.mean(axis=0)
    if Xc.shape[0] < 2:
        return np.zeros((Xc.shape[0], 2))
    U, s, _ = np.linalg.svd(Xc, full_matrices=False)
    out = U[:, :2] * s[:2]
    return np.pad(out, ((0, 0), (0, 2 - out.shape[1])))


def plot_concept_map(
    captions: xr.Dataset,
    *,
    embedding: Any = None,
    color: str | None = None,
    n_colors: int = 9,
    annotate: int = 0,
    ax: Any = None,
) -> PlotDisplay:
    """Units in 2-D (PCA of their projected embeddings), coloured by concept.

    Parameters
    ----------
    captions : Dataset
        From :func:`neurorep.selectivity.caption_units` (with ``projection``
        unless ``embedding`` is given).
    embedding : DataArray (unit, feature) or array, optional
        What to place the units by instead (e.g. their weights).
    color : str, optional
        A unit coordinate or variable of ``captions`` giving each unit's
        category (e.g. a planted ``"concept"``). Default: the unit's first
        keyword of its first concept.
    n_colors : int
        The most frequent categories get colours (at most 18, all distinguishable:
        tab10 up to 10, then a list of 18 distinct colours); the rest are grey ("other").
    annotate : int
        Write the caption next to this many units (the first per category).
    ax : matplotlib Axes, optional
        Axes to draw into; default (None) a new pyplot figure.

    Returns
    -------
    PlotDisplay
        The scatter in ``ax_``, with a legend of the categories.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from neurorep.plotting import plot_concept_map
    >>> caps = xr.Dataset(
    ...     {"caption": ("unit", ["soup", "bread", "river", "lake"])},
    ...     coords={"unit": ["u1", "u2", "u3", "u4"],
    ...             "concept": ("unit", ["food", "food", "water", "water"])})
    >>> emb = np.random.default_rng(0).normal(size=(4, 5))
    >>> disp = plot_concept_map(caps, embedding=emb, color="concept")
    >>> disp.ax_.get_legend() is not None
    True
    """
    cap = _check_captions(captions)
    if embedding is None:
        if "projection" not in cap:
            raise ValueError(
                "captions has no 'projection' (caption_units(..., return_projection=False)); pass "
                "embedding= (unit, feature), e.g. the weights."
            )
        X = np.asarray(cap["projection"].values, dtype=np.float64)
    elif isinstance(embedding, xr.DataArray):
        X = np.asarray(embedding.transpose("unit", ...).sel(unit=cap["unit"].values).values, float)
    else:
        X = np.asarray(embedding, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] != cap.sizes["unit"]:
        raise ValueError(
            f"embedding must be (unit={cap.sizes['unit']}, feature); got shape {X.shape}."
        )
    xy = _pca2(X)
    if color is not None:
        if color not in cap.variables:
            raise KeyError(f"color: {color!r} is not a variable or coord of captions.")
        cats = np.asarray([str(v) for v in cap[color].values])
        what = f"colour: {color}"
    else:
        cats = np.asarray([str(v) or "(none)" for v in cap["keywords"].values[:, 0, 0]])
        what = "colour: top keyword"
    ax = new_axes(ax, figsize=(DOUBLE_COLUMN * 0.6, 3.6))
    if int(n_colors) < 1:
        raise ValueError(f"n_colors must be >= 1; got {n_colors}.")
    common = [c for c, _ in Counter(cats.tolist()).most_common(min(int(n_colors), len(DISTINCT)))]
    palette = categorical_colors(len(common))
    other = ~np.isin(cats, common)
    if other.any():
        ax.scatter(xy[other, 0], xy[other, 1], s=10, color="0.8", label="other", linewidths=0)
    for i, c in enumerate(common):
        m = cats == c
        ax.scatter(xy[m, 0], xy[m, 1], s=14, color=palette[i], label=c, linewidths=0)
    if annotate:
        shown = 0
        for c in common:
            if shown >= annotate:
                break
            j = int(np.flatnonzero(cats == c)[0])
            ax.annotate(_clip(str(cap["caption"].values[j]), 40), xy[j], fontsize=FONT_SIZE - 2,
                        xytext=(3, 3), textcoords="offset points")
            shown += 1
    ax.legend(fontsize=FONT_SIZE - 2, frameon=False, loc="center left", bbox_to_anchor=(1, 0.5))
    # a complete title on two short lines (one long line was cut at the figure's edge)
    where = "Units, PCA of their embedding" if embedding is not None else \
        "Units, PCA of their caption projections"
    tidy(ax, title=f"{where}\n({what})", xlabel="PC 1", ylabel="PC 2")
    return make_display(ax)
