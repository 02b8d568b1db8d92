"""Representational similarity analysis on the neurorep data model.

RDMs (:func:`compute_rdm`), their comparison (:func:`compare`), model
evaluation with bootstrap inference and noise ceilings (:func:`evaluate`),
searchlights (:func:`searchlight`), time-resolved RSA of epochs
(:func:`compute_rdm_movie`, :func:`compare_over_time`,
:func:`compare_time_generalization`) and the rsatoolbox bridges. Numbers equal
rsatoolbox's (RDMs within 1e-12, comparisons and bootstrap samples within
1e-12 on the same draws); the work is done with matrix products and index
arrays instead of Python loops.

Examples
--------
>>> import numpy as np
>>> from neurorep import data, rsa
>>> g = np.random.default_rng(0)
>>> resp = data.responses(g.normal(size=(6, 20)), stimulus=list("abcdef"))
>>> rdm = rsa.compute_rdm(resp, metric="correlation")
>>> float(rsa.compare(rdm, rdm, method="spearman"))
1.0
"""

from neurorep.data import from_rsatoolbox, to_rsatoolbox
from neurorep.rsa._compare import COMPARE_METHODS, SIGMA_K_METHODS, compare, stack_rdms
from neurorep.rsa._evaluate import BOOTSTRAPS, compute_ceiling, evaluate, fit_weights
from neurorep.rsa._flexible import (
    FITS,
    bootstrap_crossval,
    compute_cv_ceiling,
    crossval,
    fit_interpolate,
    fit_optimize,
    fit_select,
    make_folds,
)
from neurorep.rsa._rdm import METRICS, NOISE_METHODS, compute_noise_precision, compute_rdm
from neurorep.rsa._searchlight import searchlight
from neurorep.rsa._sigma_k import estimate_sigma_k
from neurorep.rsa._temporal import (
    compare_over_time,
    compare_time_generalization,
    compute_rdm_movie,
)
from neurorep.rsa._transform import (
    TRANSFORMS,
    minmax_transform,
    positive_transform,
    rank_transform,
    sqrt_transform,
    transform_rdm,
)

__all__ = [
    "BOOTSTRAPS",
    "COMPARE_METHODS",
    "FITS",
    "METRICS",
    "NOISE_METHODS",
    "SIGMA_K_METHODS",
    "TRANSFORMS",
    "bootstrap_crossval",
    "compare",
    "compare_over_time",
    "compare_time_generalization",
    "compute_ceiling",
    "compute_cv_ceiling",
    "compute_noise_precision",
    "compute_rdm",
    "compute_rdm_movie",
    "crossval",
    "estimate_sigma_k",
    "evaluate",
    "fit_interpolate",
    "fit_optimize",
    "fit_select",
    "fit_weights",
    "minmax_transform",
    "positive_transform",
    "rank_transform",
    "sqrt_transform",
    "transform_rdm",
    "from_rsatoolbox",
    "make_folds",
    "searchlight",
    "stack_rdms",
    "to_rsatoolbox",
]
