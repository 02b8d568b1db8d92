"""Layer-to-region alignment: score matrices, ceilings, CIs and held-out best layers."""

from neurorep._core.similarity import cka_debiased, cka_linear, procrustes_similarity
from neurorep.alignment._depth import peak_depth
from neurorep.alignment._metric import (
    METRICS,
    Metric,
    encoding_metric,
    get_metric,
    rsa_metric,
)
from neurorep.alignment._score import best_layer, depth_index, score_matrix, unit_layer_scores

__all__ = [
    "METRICS",
    "Metric",
    "best_layer",
    "cka_debiased",
    "cka_linear",
    "depth_index",
    "encoding_metric",
    "get_metric",
    "peak_depth",
    "procrustes_similarity",
    "rsa_metric",
    "score_matrix",
    "unit_layer_scores",
]
