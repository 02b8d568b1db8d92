"""Figures from computed results: ``plot_*(result, *, ax=None, ...) -> PlotDisplay``.

One convention for every plot function:

* ``ax=None`` draws a new figure made by ``matplotlib.pyplot`` (so Jupyter
  shows it); ``ax=`` draws into your Axes (the multi-panel functions split
  its area into their panels).
* The return value is always a :class:`PlotDisplay`: ``.figure_`` (the whole
  figure), ``.ax_`` (the Axes drawn on; the first panel of a multi-panel
  figure) and ``.axes_`` (every panel). As the last line of a notebook cell
  it shows the figure exactly once.
* Nothing calls ``plt.show()``, changes rcParams or picks a backend;
  matplotlib is imported only when a plot function is called.

Examples
--------
>>> import numpy as np
>>> from neurorep import data
>>> from neurorep.plotting import plot_mds, plot_rdm
>>> r = data.rdm(np.arange(1.0, 7.0), stimulus=list("abcd"))
>>> disp = plot_rdm(r)               # a new figure: the heatmap and its colour bar
>>> len(disp.axes_), len(disp.figure_.axes)
(1, 2)
>>> import matplotlib.pyplot as plt
>>> fig, axes = plt.subplots(1, 2, layout="constrained")
>>> plot_mds(r, ax=axes[1]).figure_ is fig   # a panel of your own figure
True
"""

from __future__ import annotations

import importlib
from typing import Any

from neurorep.plotting._display import PlotDisplay

_FUNCTIONS = {
    "plot_score_matrix": "alignment",
    "plot_layer_profiles": "alignment",
    "plot_best_layer_map": "alignment",
    "plot_score_vs_ceiling": "encoding",
    "plot_alpha_histogram": "encoding",
    "plot_split_scores": "encoding",
    "plot_score_map": "encoding",
    "plot_caption_cards": "selectivity",
    "plot_concept_map": "selectivity",
    "plot_rdm": "rsa",
    "plot_mds": "rsa",
    "plot_model_comparison": "rsa",
    "plot_gt_transform": "topology",
    "plot_persistence_diagram": "topology",
    "plot_barcode": "topology",
    "plot_betti_curves": "topology",
    "plot_surface_map": "surface",
    "plot_time_course": "time",
    "plot_temporal_generalization": "time",
    "plot_topomap": "time",
    "plot_spectrum": "hftp",
}

__all__ = ["PlotDisplay", *sorted(_FUNCTIONS)]


def __getattr__(name: str) -> Any:
    if name in _FUNCTIONS:
        module = importlib.import_module(f"neurorep.plotting.{_FUNCTIONS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'neurorep.plotting' has no attribute {name!r}")
