"""Figures for topological RSA and persistent homology.

Every function takes a computed result (an RDM, a persistence diagram, Betti
curves), draws on the given Axes (or a new pyplot figure) and returns a
:class:`~neurorep.plotting.PlotDisplay`; nothing calls ``plt.show()`` and no
global matplotlib state is changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurorep.plotting._display import PlotDisplay, make_display
from neurorep.plotting._style import (
    DOUBLE_COLUMN,
    FONT_SIZE,
    SEQUENTIAL,
    SINGLE_COLUMN,
    color_scale,
    labelled_colorbar,
    new_axes,
    new_panels,
    rdm_label,
    tidy,
)
from neurorep.topology import RGTM_REGIMES, betti_curve, check_diagram, gt_transform

_COLORS = ("C0", "C1", "C2", "C3")


def _axes(ax: Any) -> Any:
    return new_axes(ax, figsize=(SINGLE_COLUMN, 3.0))


def _inf_level(diagram: xr.Dataset) -> float:
    vals = np.concatenate([diagram["birth"].values, diagram["death"].values]).astype(float)
    fin = vals[np.isfinite(vals)]
    top = float(fin.max()) if fin.size else 1.0
    return top * 1.1 if top > 0 else 1.0


def _dims(diagram: xr.Dataset, dimensions: Sequence[int] | None) -> list[int]:
    if dimensions is not None:
        return [int(d) for d in dimensions]
    present = np.asarray(diagram["dimension"].values)
    maxdim = int(diagram.attrs.get("maxdim", int(present.max()) if present.size else 0))
    return list(range(maxdim + 1))


def plot_gt_transform(
    rdm: xr.DataArray,
    *,
    thresholds: Sequence[tuple[float, float]] | None = None,
    rank: bool = True,
    ax: Any = None,
    fig: Any = None,
    cmap: str | None = None,
) -> PlotDisplay:
    """RDM -> RGTM panel: the RDM next to its geo-topological transforms.

    Parameters
    ----------
    rdm : DataArray
        Dims ``(stimulus_i, stimulus_j)``.
        One RDM.
    thresholds : sequence of (lower, upper), optional
        Default: the four :data:`neurorep.topology.RGTM_REGIMES` presets.
    rank : bool
        As in :func:`neurorep.topology.gt_transform`.
    ax : matplotlib Axes, optional
        A subplot whose area holds the panels (it is replaced by them).
    fig : matplotlib Figure, optional
        A figure (or subfigure) to draw the panels on, instead of ``ax``.
        Default (neither): a new double-column (7 in) pyplot figure with
        constrained layout.
    cmap : str, optional
        Colormap of every panel. Default: the shared neurorep style (the RDM
        sequential, or diverging around 0 when it holds signed values; the
        RGTMs sequential on [0, 1]).

    Returns
    -------
    PlotDisplay
        ``axes_`` holds the RDM panel then one panel per RGTM. The RDM panel has a colour bar labelled with its metric; the RGTM
        panels share one colour bar (0: at or below the lower threshold,
        1: at or above the upper one).

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> from neurorep.plotting.topology import plot_gt_transform
    >>> disp = plot_gt_transform(data.rdm(np.arange(1.0, 11.0)))
    >>> len(disp.axes_)  # the RDM and the four RGTM presets
    5
    """
    if not isinstance(rdm, xr.DataArray) or rdm.ndim != 2:
        raise ValueError(
            "plot_gt_transform takes one RDM (stimulus_i, stimulus_j); select one from a stack, "
            "e.g. rdm.isel(subject=0) or rdm.mean('subject')."
        )
    if thresholds is None:
        items = [(name, lo, up) for name, (lo, up) in RGTM_REGIMES.items()]
    else:
        items = [(f"l={lo:g}, u={up:g}", float(lo), float(up)) for lo, up in thresholds]
    n = len(items) + 1
    panel = (DOUBLE_COLUMN - 1.3) / max(n, 3)
    axes = new_panels(1, n, ax=ax, fig=fig, fn="plot_gt_transform",
                      figsize=(DOUBLE_COLUMN, panel + 0.55))[0]
    values = np.asarray(rdm.values, dtype=float)
    scale = color_scale(values)
    if cmap is not None:
        scale["cmap"] = cmap
    im = axes[0].imshow(values, interpolation="nearest", **scale)
    tidy(axes[0], title="RDM")
    labelled_colorbar(im, axes[0], rdm_label(rdm.attrs.get("metric")))
    rgtm = None
    what = "rank" if rank else "value"
    for ax, (name, lo, up) in zip(axes[1:], items, strict=True):
        t = gt_transform(rdm, lo, up, rank=rank)
        rgtm = ax.imshow(np.asarray(t.values), cmap=cmap or SEQUENTIAL, vmin=0, vmax=1,
                         interpolation="nearest")
        tidy(ax)
        ax.set_title(f"RGTM {name}\n{what} [{lo:g}, {up:g}]", fontsize=FONT_SIZE)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if rgtm is not None:
        cb = axes[0].figure.colorbar(rgtm, ax=list(axes[1:]), shrink=0.9)
        cb.set_label("RGTM value", fontsize=FONT_SIZE)
        cb.ax.tick_params(labelsize=FONT_SIZE - 1)
    return make_display(axes)


def plot_persistence_diagram(
    diagram: xr.Dataset, *, ax: Any = None, dimensions: Sequence[int] | None = None
) -> PlotDisplay:
    """Persistence diagram: one point per bar (birth, death), essential bars on the top line.

    Parameters
    ----------
    diagram : Dataset
        A :func:`neurorep.topology.persistence` result (``birth``, ``death``,
        ``dimension`` per bar).
    ax : matplotlib Axes, optional
        Axes to draw into; default (None) a new pyplot figure.
    dimensions : sequence of int, optional
        Homology dimensions to draw (default all in the diagram).

    Returns
    -------
    PlotDisplay
        The diagram in ``ax_``, one colour per homology dimension.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, topology
    >>> from neurorep.plotting.topology import plot_persistence_diagram
    >>> dg = topology.persistence(data.rdm(np.arange(1.0, 11.0)))
    >>> disp = plot_persistence_diagram(dg)
    """
    dg = check_diagram(diagram)
    ax = _axes(ax)
    top = _inf_level(dg)
    dims = np.asarray(dg["dimension"].values)
    for k in _dims(dg, dimensions):
        sel = dims == k
        b = dg["birth"].values[sel]
        d = np.where(np.isinf(dg["death"].values[sel]), top, dg["death"].values[sel])
        ax.scatter(b, d, s=14, color=_COLORS[k % len(_COLORS)], label=f"H{k}", zorder=3)
    ax.plot([0, top], [0, top], color="0.5", lw=1)
    ax.axhline(top, color="0.7", lw=1, ls="--")
    ax.text(0, top, "∞", va="bottom", ha="left", color="0.4", fontsize=FONT_SIZE)
    ax.set_xlim(-0.02 * top, top * 1.02)
    ax.set_ylim(-0.02 * top, top * 1.06)
    ax.set_aspect("equal")
    ax.legend(loc="lower right", fontsize=FONT_SIZE - 1, frameon=False)
    tidy(ax, title="Persistence diagram", xlabel="birth", ylabel="death")
    return make_display(ax)


def plot_barcode(
    diagram: xr.Dataset, *, ax: Any = None, dimensions: Sequence[int] | None = None
) -> PlotDisplay:
    """Barcode: one horizontal bar per homology class, grouped by dimension.

    Parameters
    ----------
    diagram : Dataset
        A :func:`neurorep.topology.persistence` result (``birth``, ``death``,
        ``dimension`` per bar).
    ax : matplotlib Axes, optional
        Axes to draw into; default (None) a new pyplot figure.
    dimensions : sequence of int, optional
        Homology dimensions to draw (default all in the diagram).

    Returns
    -------
    PlotDisplay
        The bars in ``ax_``, longest first within each dimension; each bar is
        0.6 of its row high, so neighbouring bars stay apart however many
        there are.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, topology
    >>> from neurorep.plotting.topology import plot_barcode
    >>> disp = plot_barcode(topology.persistence(data.rdm(np.arange(1.0, 11.0))))
    """
    dg = check_diagram(diagram)
    ax = _axes(ax)
    top = _inf_level(dg)
    dims = np.asarray(dg["dimension"].values)
    row = 0
    centres, names = [], []
    for k in _dims(dg, dimensions):
        sel = dims == k
        b = dg["birth"].values[sel]
        d = np.where(np.isinf(dg["death"].values[sel]), top, dg["death"].values[sel])
        order = np.argsort(b - d)  # longest first
        y = row + np.arange(len(b))
        # bars in data units (0.6 of a row) leave a gap between rows at any size: with a fixed
        # line width, 92 H0 bars merged into one block
        ax.barh(y, d[order] - b[order], left=b[order], height=0.6, linewidth=0,
                color=_COLORS[k % len(_COLORS)], label=f"H{k}")
        if len(b):
            centres.append(row + (len(b) - 1) / 2)
            names.append(f"H{k}")
        row += len(b) + 1
    ax.axvline(top, color="0.7", lw=1, ls="--")
    ax.set_yticks(centres, names)
    ax.invert_yaxis()
    tidy(ax, title="Barcode", xlabel="filtration value")
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    return make_display(ax)


def plot_betti_curves(curves: xr.DataArray | xr.Dataset, *, ax: Any = None) -> PlotDisplay:
    """Betti curves (number of classes alive along the filtration), one line per dimension.

    Parameters
    ----------
    curves : DataArray or Dataset
        Betti curves ``(dimension, filtration)`` from
        :func:`neurorep.topology.betti_curve`, or a persistence diagram
        (converted).
    ax : matplotlib Axes, optional
        Axes to draw into; default (None) a new pyplot figure.

    Returns
    -------
    PlotDisplay
        One step line per dimension in ``ax_``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, topology
    >>> from neurorep.plotting.topology import plot_betti_curves
    >>> disp = plot_betti_curves(topology.persistence(data.rdm(np.arange(1.0, 11.0))))
    """
    if isinstance(curves, xr.Dataset):
        curves = betti_curve(curves)
    if not isinstance(curves, xr.DataArray) or curves.dims != ("dimension", "filtration"):
        raise ValueError(
            "plot_betti_curves takes the DataArray (dimension, filtration) of "
            "neurorep.topology.betti_curve, or a persistence diagram."
        )
    ax = _axes(ax)
    t = np.asarray(curves["filtration"].values)
    for k in np.asarray(curves["dimension"].values):
        ax.step(
            t,
            curves.sel(dimension=k).values,
            where="post",
            color=_COLORS[int(k) % 4],
            label=f"β{k}",
        )
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=FONT_SIZE - 1, frameon=False)
    tidy(ax, title="Betti curves", xlabel="filtration value", ylabel="Betti number")
    return make_display(ax)
