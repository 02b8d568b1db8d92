"""Encoding models: ridge with a per-unit alpha, banded ridge, FIR delays, CV scores.

Entry points
------------
- :func:`fit_ridge` / :class:`RidgeEncoder` -- ridge with a cross-validated
  alpha per unit; one decomposition per fold serves every alpha and unit
  (primal ``eigh``/``svd`` or dual ``kernel`` form, see :data:`SOLVERS`).
- :func:`cross_validate_ridge` -- nested CV: unbiased held-out predictions
  and scores with permutation p-values (FDR) and bootstrap CIs.
- :func:`fit_banded_ridge` -- one penalty per feature space; split scores
  that add up to the joint score; :func:`predict_banded_ridge` (whole or
  per-space predictions) and :func:`score_split` (himalaya's
  ``r2_score_split`` / ``correlation_score_split`` on new data).
- :func:`fit_kernel_ridge` -- kernel ridge (linear, polynomial, rbf, sigmoid,
  cosine kernels) with the same CV machinery; :func:`fit_multiple_kernel_ridge`
  -- one kernel per feature space, kernel weights by random search;
  :func:`predict_kernel_ridge`.
- :func:`predict_ridge`, :func:`score_prediction` -- predict and score.
- :func:`make_delays`, :func:`zscore_runs`, :func:`make_regressors` -- time
  series designs (FIR), z-scoring within runs, condition regressors.
- :func:`fit_over_time` -- epochs: every unit at every time point, one alpha
  per unit shared over time; :func:`fit_trf` / :func:`predict_trf` --
  temporal response functions on continuous runs (lags in seconds).

Dask-backed responses are processed one unit chunk per task, so they need
not fit in memory and run unchanged on a ``dask.distributed`` cluster.
"""

from neurorep.encoding._banded import (
    default_space_weights,
    fit_banded_ridge,
    predict_banded_ridge,
)
from neurorep.encoding._cv import make_splits
from neurorep.encoding._estimator import RidgeEncoder
from neurorep.encoding._kernels import (
    KERNELS,
    compute_kernel,
    fit_kernel_ridge,
    fit_multiple_kernel_ridge,
    predict_kernel_ridge,
)
from neurorep.encoding._ridge import (
    DEFAULT_ALPHAS,
    SCORINGS,
    cross_validate_ridge,
    fit_ridge,
    predict_ridge,
)
from neurorep.encoding._scoring import METRICS, score_prediction, score_split
from neurorep.encoding._solvers import SOLVERS
from neurorep.encoding._temporal import fit_over_time, fit_trf, predict_trf
from neurorep.encoding._timeseries import make_delays, make_regressors, zscore_runs

__all__ = [
    "DEFAULT_ALPHAS",
    "KERNELS",
    "METRICS",
    "SCORINGS",
    "SOLVERS",
    "RidgeEncoder",
    "compute_kernel",
    "cross_validate_ridge",
    "default_space_weights",
    "fit_banded_ridge",
    "fit_kernel_ridge",
    "fit_multiple_kernel_ridge",
    "fit_over_time",
    "fit_ridge",
    "fit_trf",
    "make_delays",
    "make_regressors",
    "make_splits",
    "predict_banded_ridge",
    "predict_kernel_ridge",
    "predict_ridge",
    "predict_trf",
    "score_prediction",
    "score_split",
    "zscore_runs",
]
