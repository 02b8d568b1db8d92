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
    """Return ``ax`` or a new Axes on a new pyplot figure (constrained layout).

    The figure comes from ``plt.subplots`` so that Jupyter shows it; only the
    new figure is configured, never pyplot's global state.
    """
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize, layout="constrained")[1]


def new_panels(
    nrows: int,
    ncols: int,
    *,
    ax: Any = None,
    fig: Any = None,
    figsize: tuple[float, float],
    fn: str,
) -> Any:
    """An ``(nrows, ncols)`` array of panel Axes: in ``ax``'s area, on ``fig``, or on a new figure.

    ``ax`` (a subplot) is replaced by a grid of panels in its place; ``fig``
    (a Figure or SubFigure) gets the grid as its subplots; with neither, a new
    pyplot figure of ``figsize`` (constrained layout) is made.
    """
    import numpy as np

    if ax is not None and fig is not None:
        raise ValueError(f"{fn}: give ax= or fig=, not both.")
    if ax is not None:
        spec = ax.get_subplotspec() if hasattr(ax, "get_subplotspec") else None
        if spec is None:
            raise ValueError(
                f"{fn}: ax must be a subplot (from plt.subplots or fig.add_subplot) so its "
                f"area can hold {nrows} x {ncols} panels; got {type(ax).__name__} without a "
                f"subplot spec. Pass fig= instead."
            )
        grid = spec.subgridspec(nrows, ncols)
        host = ax.figure
        ax.remove()
        return np.array([[host.add_subplot(grid[i, j]) for j in range(ncols)]
                         for i in range(nrows)], dtype=object)
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=figsize, layout="constrained")
    return fig.subplots(nrows, ncols, squeeze=False)


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
