"""Statistics shared by every family: noise ceilings, permutation, bootstrap, FDR."""

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

__all__ = [
    "ALTERNATIVES",
    "CEILING_METHODS",
    "FDR_METHODS",
    "as_generator",
    "bootstrap",
    "bootstrap_indices",
    "bootstrap_pvalue",
    "counts_from_indices",
    "fdr",
    "make_blocks",
    "noise_ceiling",
    "normalize_score",
    "percentile_ci",
    "permutation_indices",
    "permutation_test",
]
