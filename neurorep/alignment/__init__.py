"""Layer-to-region alignment: score matrices, ceilings, CIs and held-out best layers."""

from neurorep._core.shape import (
    canonical_correlations,
    cca_similarity,
    energy_stochastic_distance,
    gaussian_stochastic_distance,
    mutual_knn,
    permutation_distance,
    pwcca,
    shape_distance,
    soft_matching_distance,
    svcca,
)
from neurorep._core.similarity import cka_debiased, cka_linear, procrustes_similarity
from neurorep.alignment._depth import peak_depth
from neurorep.alignment._metric import (
    METRICS,
    Metric,
    cca_metric,
    encoding_metric,
    energy_stochastic_metric,
    gaussian_stochastic_metric,
    get_metric,
    mutual_knn_metric,
    permutation_metric,
    rsa_metric,
    shape_metric,
    soft_matching_metric,
)
from neurorep.alignment._score import best_layer, depth_index, score_matrix, unit_layer_scores

__all__ = [
    "METRICS",
    "Metric",
    "best_layer",
    "canonical_correlations",
    "cca_metric",
    "cca_similarity",
    "cka_debiased",
    "cka_linear",
    "depth_index",
    "encoding_metric",
    "energy_stochastic_distance",
    "energy_stochastic_metric",
    "gaussian_stochastic_distance",
    "gaussian_stochastic_metric",
    "get_metric",
    "mutual_knn",
    "mutual_knn_metric",
    "peak_depth",
    "permutation_distance",
    "permutation_metric",
    "procrustes_similarity",
    "pwcca",
    "rsa_metric",
    "score_matrix",
    "shape_distance",
    "shape_metric",
    "soft_matching_distance",
    "soft_matching_metric",
    "svcca",
    "unit_layer_scores",
]
