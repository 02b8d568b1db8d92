"""What every ``plot_*`` function returns: a :class:`PlotDisplay`.

No matplotlib import here at module level: the package is imported without it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["PlotDisplay"]

# matplotlib's built-in backends that draw to files only
_NON_INTERACTIVE = frozenset({"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"})


@dataclass(frozen=True, eq=False, repr=False)
class PlotDisplay:
    """The figure a ``plot_*`` function drew, and its Axes.

    Every function in :mod:`neurorep.plotting` returns one, whether it draws
    one panel or several, into a new figure or into the ``ax`` it was given.
    As the last line of a notebook cell it shows the figure once (see
    Notes); in a script, save it with ``display.figure_.savefig(path)``.

    Parameters
    ----------
    figure_ : matplotlib.figure.Figure
        The figure drawn on.
    axes_ : tuple of matplotlib.axes.Axes
        Every panel drawn, the main one first.

    Attributes
    ----------
    figure_ : matplotlib.figure.Figure
        The whole figure: a new pyplot figure when the function was called
        with ``ax=None``, else the figure that holds ``ax``.
    ax_ : matplotlib.axes.Axes
        The Axes drawn on: the ``ax`` passed in, or the one created; for a
        figure of several panels, the first panel. For the nilearn brain maps
        the cuts are drawn inside this Axes' area.
    axes_ : tuple of matplotlib.axes.Axes
        Every panel drawn, ``ax_`` first.

    Notes
    -----
    With ``ax=None`` the figure comes from ``matplotlib.pyplot`` (as
    scikit-learn's displays do), so Jupyter's inline backend shows it at the
    end of the cell even when the display is assigned (``d = plot_rdm(r)``)
    or drawn in a loop. When the display is the cell's last expression,
    IPython shows its figure through :meth:`_ipython_display_` instead, and
    the figure is closed in pyplot so that it is not shown a second time:
    one figure, one image, never an ``<Axes ...>`` text. Under an
    interactive backend (a window, ``%matplotlib widget``) the backend shows
    the figure and the display adds nothing. Nothing here calls
    ``plt.show()`` or changes rcParams.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> from neurorep.plotting import plot_rdm
    >>> disp = plot_rdm(data.rdm(np.arange(1.0, 7.0), stimulus=list("abcd")))
    >>> disp.ax_ is disp.axes_[0] and disp.ax_ in disp.figure_.axes
    True
    >>> disp.ax_.get_xlabel(), len(disp.axes_)
    ('', 1)
    """

    figure_: Any
    axes_: tuple[Any, ...]

    @property
    def ax_(self) -> Any:
        return self.axes_[0]

    def __repr__(self) -> str:
        return f"PlotDisplay(figure_={self.figure_!r}, ax_={self.ax_!r})"

    def _ipython_display_(self) -> None:
        """Show the figure once in IPython / Jupyter (called by IPython's display hook)."""
        from IPython.display import display

        fig = self.figure_
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None and _managed_by_pyplot(fig):
            import matplotlib

            backend = str(matplotlib.get_backend()).lower()
            if "inline" in backend:
                display(fig)
                pyplot.close(fig)  # else the inline backend shows it again at the cell's end
                return
            if backend not in _NON_INTERACTIVE:
                return  # a window or widget backend shows its own figures
        display(fig)


def _managed_by_pyplot(fig: Any) -> bool:
    from matplotlib._pylab_helpers import Gcf

    return any(m.canvas.figure is fig for m in Gcf.get_all_fig_managers())


def _root_figure(ax: Any) -> Any:
    """The top-level Figure of ``ax`` (also when ``ax`` lies in a SubFigure)."""
    from matplotlib.figure import Figure

    fig = ax.figure
    while not isinstance(fig, Figure):
        fig = fig.figure
    return fig


def make_display(axes: Any | Sequence[Any]) -> PlotDisplay:
    """A :class:`PlotDisplay` of one Axes or of several panels (the first is ``ax_``)."""
    from matplotlib.axes import Axes

    panels = (axes,) if isinstance(axes, Axes) else tuple(axes)
    if not panels:
        raise ValueError("a plot display needs at least one Axes.")
    return PlotDisplay(figure_=_root_figure(panels[0]), axes_=panels)
