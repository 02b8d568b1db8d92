"""Figures from computed results: ``plot_*(result, *, ax=None, ...)`` returns the Axes.

matplotlib is imported only when a plot function is called; no global
rcParams or backend is changed.
"""

from __future__ import annotations

import importlib
from typing import Any

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
}

__all__ = sorted(_FUNCTIONS)


def __getattr__(name: str) -> Any:
    if name in _FUNCTIONS:
        module = importlib.import_module(f"neurorep.plotting.{_FUNCTIONS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'neurorep.plotting' has no attribute {name!r}")
