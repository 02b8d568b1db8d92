"""Layer-to-region alignment: score matrices, ceilings, CIs and held-out best layers."""

from neurorep.alignment._metrics import cka_debiased, cka_linear, procrustes_similarity
from neurorep.alignment._score import METRICS, Metric, best_layer, depth_index, score_matrix

__all__ = [
    "METRICS",
    "Metric",
    "best_layer",
    "cka_debiased",
    "cka_linear",
    "depth_index",
    "procrustes_similarity",
    "score_matrix",
]
