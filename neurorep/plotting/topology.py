"""Figures for topological RSA and persistent homology.

Every function takes a computed result (an RDM, a persistence diagram, Betti
curves), draws on the given Axes/Figure (or a new one) and returns it; nothing
is shown and no global matplotlib state is changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurorep.topology import RGTM_REGIMES, betti_curve, gt_transform
from neurorep.topology._persistence import check_diagram

_COLORS = ("C0", "C1", "C2", "C3")


def _axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=(4, 4))
    return new


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
    fig: Any = None,
    cmap: str = "viridis",
) -> Any:
    """RDM -> RGTM panel: the RDM next to its geo-topological transforms.

    Parameters
    ----------
    rdm : DataArray ``(stimulus_i, stimulus_j)``
        One RDM.
    thresholds : sequence of (lower, upper), optional
        Default: the four :data:`neurorep.topology.RGTM_REGIMES` presets.
    rank : bool
        As in :func:`neurorep.topology.gt_transform`.
    fig : matplotlib Figure, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> from neurorep.plotting.topology import plot_gt_transform
    >>> fig = plot_gt_transform(data.rdm(np.arange(1.0, 11.0)))
    >>> len(fig.axes) >= 5
    True
    """
    import matplotlib.pyplot as plt

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
    if fig is None:
        fig = plt.figure(figsize=(2.6 * n, 2.9))
    axes = fig.subplots(1, n)
    axes = np.atleast_1d(axes)
    im = axes[0].imshow(np.asarray(rdm.values), cmap=cmap)
    axes[0].set_title("RDM")
    fig.colorbar(im, ax=axes[0], fraction=0.046, pad=0.04)
    for ax, (name, lo, up) in zip(axes[1:], items, strict=True):
        t = gt_transform(rdm, lo, up, rank=rank)
        ax.imshow(np.asarray(t.values), cmap=cmap, vmin=0, vmax=1)
        ax.set_title(f"RGTM {name}\n[{lo:g}, {up:g}]", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def plot_persistence_diagram(
    diagram: xr.Dataset, *, ax: Any = None, dimensions: Sequence[int] | None = None
) -> Any:
    """Persistence diagram: one point per bar (birth, death), essential bars on the top line.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, topology
    >>> from neurorep.plotting.topology import plot_persistence_diagram
    >>> dg = topology.persistence(data.rdm(np.arange(1.0, 11.0)))
    >>> ax = plot_persistence_diagram(dg)
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
    ax.text(0, top, "∞", va="bottom", ha="left", color="0.4")
    ax.set_xlim(-0.02 * top, top * 1.02)
    ax.set_ylim(-0.02 * top, top * 1.06)
    ax.set_xlabel("birth")
    ax.set_ylabel("death")
    ax.legend(loc="lower right", fontsize=8)
    return ax


def plot_barcode(
    diagram: xr.Dataset, *, ax: Any = None, dimensions: Sequence[int] | None = None
) -> Any:
    """Barcode: one horizontal bar per homology class, grouped by dimension.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, topology
    >>> from neurorep.plotting.topology import plot_barcode
    >>> ax = plot_barcode(topology.persistence(data.rdm(np.arange(1.0, 11.0))))
    """
    dg = check_diagram(diagram)
    ax = _axes(ax)
    top = _inf_level(dg)
    dims = np.asarray(dg["dimension"].values)
    row = 0
    for k in _dims(dg, dimensions):
        sel = dims == k
        b = dg["birth"].values[sel]
        d = np.where(np.isinf(dg["death"].values[sel]), top, dg["death"].values[sel])
        order = np.argsort(b - d)  # longest first
        y = row + np.arange(len(b))
        ax.hlines(y, b[order], d[order], color=_COLORS[k % len(_COLORS)], lw=2, label=f"H{k}")
        row += len(b) + 1
    ax.axvline(top, color="0.7", lw=1, ls="--")
    ax.set_xlabel("filtration value")
    ax.set_yticks([])
    ax.invert_yaxis()
    if row:
        ax.legend(loc="lower right", fontsize=8)
    return ax


def plot_betti_curves(curves: xr.DataArray | xr.Dataset, *, ax: Any = None) -> Any:
    """Betti curves (number of classes alive along the filtration), one line per dimension.

    Parameters
    ----------
    curves : DataArray ``(dimension, filtration)`` or a persistence diagram
        From :func:`neurorep.topology.betti_curve` (a diagram is converted).

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, topology
    >>> from neurorep.plotting.topology import plot_betti_curves
    >>> ax = plot_betti_curves(topology.persistence(data.rdm(np.arange(1.0, 11.0))))
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
    ax.set_xlabel("filtration value")
    ax.set_ylabel("Betti number")
    ax.legend(fontsize=8)
    return ax
