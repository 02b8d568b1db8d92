"""Statistics shared by every family: noise ceilings, permutation, bootstrap, FDR, and
inference over time (cluster tests through MNE, peak and onset latencies with CIs)."""

from neurorep.stats._bootstrap import (
    as_generator,
    bootstrap_indices,
    bootstrap_pvalue,
    counts_from_indices,
    percentile_ci,
)
from neurorep.stats._ceiling import CEILING_METHODS, noise_ceiling, normalize_score
from neurorep.stats._fdr import FDR_METHODS, fdr
from neurorep.stats._permutation import (
    ALTERNATIVES,
    make_blocks,
    permutation_indices,
    permutation_test,
)
from neurorep.stats._resample import bootstrap
from neurorep.stats._temporal import cluster_test, onset_latency, peak_latency

__all__ = [
    "ALTERNATIVES",
    "CEILING_METHODS",
    "FDR_METHODS",
    "as_generator",
    "bootstrap",
    "bootstrap_indices",
    "bootstrap_pvalue",
    "cluster_test",
    "counts_from_indices",
    "fdr",
    "make_blocks",
    "noise_ceiling",
    "normalize_score",
    "onset_latency",
    "peak_latency",
    "percentile_ci",
    "permutation_indices",
    "permutation_test",
]
