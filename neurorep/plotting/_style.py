"""One plotting style for every neurorep figure (no global rcParams changes).

Signed quantities use a diverging colormap centred on 0; others a sequential
one. Every colour bar is labelled. Sizes are readable at paper size
(single column ~3.5 in, double ~7 in).
"""

from __future__ import annotations

from typing import Any

import numpy as np

DIVERGING = "RdBu_r"
SEQUENTIAL = "viridis"
CATEGORICAL = "tab10"
FONT_SIZE = 9
SINGLE_COLUMN = 3.5
DOUBLE_COLUMN = 7.0


def new_axes(ax: Any = None, *, figsize: tuple[float, float] = (SINGLE_COLUMN, 3.0)) -> Any:
    """Return ``ax`` or a new Axes on a new Figure (constrained layout)."""
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


def color_scale(values: Any, *, signed: bool | None = None) -> dict[str, Any]:
    """imshow/pcolormesh kwargs: diverging and symmetric for signed data, else sequential."""
    v = np.asarray(values, float)
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        return {"cmap": SEQUENTIAL}
    if signed is None:
        signed = bool(finite.min() < 0 < finite.max())
    if signed:
        m = float(np.abs(finite).max()) or 1.0
        return {"cmap": DIVERGING, "vmin": -m, "vmax": m}
    return {"cmap": SEQUENTIAL, "vmin": float(finite.min()), "vmax": float(finite.max())}


def labelled_colorbar(mappable: Any, ax: Any, label: str) -> Any:
    """A colour bar with its label, sized to the Axes."""
    cb = ax.figure.colorbar(mappable, ax=ax, shrink=0.9)
    cb.set_label(label, fontsize=FONT_SIZE)
    cb.ax.tick_params(labelsize=FONT_SIZE - 1)
    return cb


def tidy(ax: Any, *, title: str | None = None, xlabel: str | None = None, ylabel: str | None = None) -> Any:
    """Apply the neurorep look to one Axes: font sizes, no top/right spines."""
    if title:
        ax.set_title(title, fontsize=FONT_SIZE + 1)
    if xlabel is not None:
        ax.set_xlabel(xlabel, fontsize=FONT_SIZE)
    if ylabel is not None:
        ax.set_ylabel(ylabel, fontsize=FONT_SIZE)
    ax.tick_params(labelsize=FONT_SIZE - 1)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax
