"""The inference layer shared by every family: ceilings, permutation, bootstrap, FDR, t tests,
and inference over time (cluster tests through MNE, peak and onset latencies with CIs).

Families compute scores; p-values, confidence intervals and noise ceilings
come from here (array-level helpers plus xarray results).
"""

from neurorep._core.rng import as_generator
from neurorep.stats._bootstrap import (
    bootstrap_indices,
    bootstrap_pvalue,
    counts_from_indices,
    percentile_ci,
)
from neurorep.stats._ceiling import (
    BOUNDS,
    CEILING_METHODS,
    leave_one_out_ceiling,
    noise_ceiling,
    normalize_score,
    spearman_brown,
    split_half_ceiling,
)
from neurorep.stats._fdr import FDR_METHODS, fdr
from neurorep.stats._permutation import (
    ALTERNATIVES,
    make_blocks,
    permutation_indices,
    permutation_test,
    sign_flip_pvalue,
)
from neurorep.stats._resample import bootstrap
from neurorep.stats._scores import SCORES
from neurorep.stats._temporal import (
    cluster_pvalues,
    cluster_test,
    onset_latency,
    peak_latency,
)
from neurorep.stats._ttest import bootstrap_t_test

__all__ = [
    "ALTERNATIVES",
    "BOUNDS",
    "CEILING_METHODS",
    "FDR_METHODS",
    "SCORES",
    "as_generator",
    "bootstrap",
    "bootstrap_indices",
    "bootstrap_pvalue",
    "bootstrap_t_test",
    "cluster_pvalues",
    "cluster_test",
    "counts_from_indices",
    "fdr",
    "leave_one_out_ceiling",
    "make_blocks",
    "noise_ceiling",
    "normalize_score",
    "onset_latency",
    "peak_latency",
    "percentile_ci",
    "permutation_indices",
    "permutation_test",
    "sign_flip_pvalue",
    "spearman_brown",
    "split_half_ceiling",
]
