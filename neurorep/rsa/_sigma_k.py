"""The pattern covariance ``sigma_k`` of the ``*_cov`` and Riemannian comparisons, from data.

``sigma_k`` (stimulus x stimulus) is the covariance of the errors of the
stimulus patterns: how the noise of one stimulus' estimate co-varies with
another's (Diedrichsen et al. 2021). With repeated measurements it is
estimated from the residuals ``e_r = y_r - mean_r y`` of each repetition
around its stimulus mean: every (repetition, unit) is one observation of the
``n``-vector of errors, so ``sigma_k`` is the covariance of those vectors
(rsatoolbox's ``cov_from_residuals`` estimators, with stimuli as the
channels, ``dof = p (R - 1)``), divided by ``R`` because the patterns an RDM
is computed from are means over ``R`` repetitions.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import xarray as xr

from neurorep._core.errors import SchemaError, check_option, check_real
from neurorep.data import validate

__all__ = ["estimate_sigma_k"]


def estimate_sigma_k(
    responses: xr.DataArray,
    *,
    method: Literal["shrinkage_diag", "shrinkage_eye", "diag", "full"] = "shrinkage_diag",
) -> xr.DataArray:
    """Estimate the pattern covariance ``sigma_k`` from repeated measurements.

    Parameters
    ----------
    responses : DataArray
        Dims ``(stimulus, repetition, unit)``.
        At least 2 repetitions of every stimulus (repetition = run when the
        noise is shared within runs), no missing values.
    method : {"shrinkage_diag", "shrinkage_eye", "diag", "full"}
        Covariance estimator (as :func:`compute_noise_precision`, here over
        stimuli): ``shrinkage_diag`` (Schaefer & Strimmer, the default, keeps
        it positive definite), ``shrinkage_eye`` (Ledoit & Wolf), ``diag``
        (independent errors), ``full`` (sample covariance).

    Returns
    -------
    DataArray
        Dims ``(stimulus_i, stimulus_j)``.
        ``sigma_k`` labelled by stimulus id, ready for ``rsa.compare`` /
        ``rsa.evaluate`` with ``method="cosine_cov"``, ``"corr_cov"`` or
        ``"neg_riem_dist"`` (matched by id).

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, rsa
    >>> y = np.random.default_rng(0).normal(size=(5, 3, 40))
    >>> r = data.responses(y, dims=("stimulus", "repetition", "unit"), stimulus=list("abcde"))
    >>> sk = rsa.estimate_sigma_k(r)
    >>> sk.dims, sk.shape
    (('stimulus_i', 'stimulus_j'), (5, 5))
    >>> rdm = rsa.compute_rdm(r, metric="crossnobis")
    >>> round(float(rsa.compare(rdm, rdm, method="corr_cov", sigma_k=sk)), 6)
    1.0
    """
    from neurorep.rsa._rdm import NOISE_METHODS

    check_option("method", method, NOISE_METHODS)
    check_real(getattr(responses, "data", responses), name="responses")
    validate(responses, kind="responses", name="responses")
    if responses.dims != ("stimulus", "repetition", "unit"):
        raise SchemaError(
            f"estimate_sigma_k: needs repeated measurements, dims ('stimulus', 'repetition', "
            f"'unit'); got {responses.dims}. Without repetitions, pass sigma_k from the design "
            f"(e.g. inv(X'X) of a GLM) or leave it None."
        )
    y = np.asarray(responses.values, dtype=np.float64)
    n, reps, p = y.shape
    if reps < 2:
        raise SchemaError(
            f"estimate_sigma_k: needs at least 2 repetitions per stimulus to see the noise; "
            f"got {reps}."
        )
    res = y - y.mean(axis=1, keepdims=True)  # (n, R, p)
    obs = res.transpose(1, 2, 0).reshape(reps * p, n)  # each (repetition, unit) observes n errors
    dof = p * (reps - 1)
    if not (np.abs(obs).max(axis=0) > 0).all():
        bad = int(np.flatnonzero(~(np.abs(obs).max(axis=0) > 0))[0])
        raise SchemaError(
            f"estimate_sigma_k: stimulus {responses['stimulus'].values[bad]!r} has the same "
            f"response in every repetition (no noise to estimate); drop it or pass sigma_k."
        )
    cov = NOISE_METHODS[method](obs, float(dof)) / reps
    ids = responses["stimulus"].values
    return xr.DataArray(
        cov,
        dims=("stimulus_i", "stimulus_j"),
        coords={"stimulus_i": ids, "stimulus_j": ids},
        name="sigma_k",
        attrs={"method": method, "n_repetitions": reps, "dof": dof},
    )
