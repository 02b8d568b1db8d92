"""Representational dissimilarity matrices: metrics, noise precision, compute_rdm.

Every metric is one or two matrix products on contiguous float64 arrays
(BLAS), never a Python loop over pairs of stimuli. Formulas, for two stimulus
patterns ``x``, ``y`` over ``p`` units, with ``norm = p`` when
``normalize=True`` (rsatoolbox's convention) and 1 otherwise:

* ``euclidean``: ``sqrt(sum((x - y)**2) / norm)`` -- the square root of
  rsatoolbox's ``calc_rdm(method='euclidean')``; scipy's ``euclidean`` with
  ``normalize=False``.
* ``squared_euclidean``: ``sum((x - y)**2) / norm`` -- equals rsatoolbox's
  ``'euclidean'`` (which is squared and divided by the number of channels).
* ``correlation``: ``1 - pearson_r(x, y)`` -- rsatoolbox's ``'correlation'``.
* ``cosine``: ``1 - x.y / (|x| |y|)`` -- scipy's ``cosine`` (rsatoolbox has none).
* ``mahalanobis``: ``(x - y) P (x - y)' / norm``, squared, P the noise
  precision -- rsatoolbox's ``'mahalanobis'``.
* ``crossnobis``: the mean over runs r of ``(x_r' - y_r') P (x_r - y_r)' / norm``,
  ``x_r`` the pattern in run r and ``x_r'`` the mean over the other runs
  (leave one run out, as rsatoolbox's ``'crossnobis'``); equivalently the mean
  over all ordered pairs of different runs. Its expectation is the squared
  distance of the true patterns, so it is unbiased and can be negative when
  two patterns do not differ.
* ``poisson``: ``sum((x - y) (log x - log y)) / norm`` on the counts shrunk
  towards a prior rate, ``x = (counts + 1 * 0.1) / (1 + 0.1)``: the
  symmetrised KL divergence of two Poisson patterns -- rsatoolbox's
  ``calc_rdm_poisson`` (default ``prior_lambda=1, prior_weight=0.1``).
* ``poisson_cv``: the mean over runs r of ``sum((x_~r - y_~r) (log x_r -
  log y_r)) / norm``, ``x_~r`` the mean of the other runs (shrunk as above):
  the cross-validated symmetrised KL divergence. rsatoolbox 0.3.2's
  ``calc_rdm_poisson_cv`` overwrites its result in the loop over folds and
  returns the last fold's term only; neurorep averages all folds (each fold
  equals rsatoolbox's value when that run is the last one).

Repeated presentations are averaged before the non-cross-validated metrics
(rsatoolbox averages observations with the same descriptor).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep._core.errors import SchemaError, check_option, check_real, sum_of_squares_fits
from neurorep._core.parallel import is_lazy
from neurorep.data import infer_kind, members, stimulus_ids, validate
from neurorep.rsa import _chunked, _noise_chunked

Metric = Literal[
    "euclidean", "squared_euclidean", "correlation", "cosine", "mahalanobis", "crossnobis",
    "poisson", "poisson_cv",
]
NoiseMethod = Literal["shrinkage_diag", "shrinkage_eye", "diag", "full"]

__all__ = ["METRICS", "NOISE_METHODS", "RdmMetric", "compute_noise_precision", "compute_rdm"]


# ----------------------------------------------------------------------------
# kernels (numpy in, numpy out)
# ----------------------------------------------------------------------------
def _materialize(a: Any) -> np.ndarray:
    """Compute a dask array (chunk-wise GEMMs) or pass a numpy array through."""
    if hasattr(a, "compute"):
        a = a.compute()
    return np.asarray(a, dtype=np.float64)


def _finish(d: np.ndarray) -> np.ndarray:
    d = (d + d.T) / 2.0
    np.fill_diagonal(d, 0.0)
    return d


def _sq_from_gram(g: np.ndarray) -> np.ndarray:
    diag = np.diag(g)
    d = diag[:, None] + diag[None, :] - 2.0 * g
    np.maximum(d, 0.0, out=d)
    return _finish(d)


class _CholeskyPrecision:
    """The precision ``inv(C)`` applied through a Cholesky factor of the covariance C.

    ``a @ inv(C)`` costs one triangular solve pair; no explicit inverse
    (p**3 / 3 flops for the factor instead of p**3 for ``inv``).
    """

    def __init__(self, cov: np.ndarray) -> None:
        import scipy.linalg

        self.factor = scipy.linalg.cho_factor(cov)

    def apply(self, a: Any) -> np.ndarray:
        import scipy.linalg

        return np.asarray(scipy.linalg.cho_solve(self.factor, _materialize(a).T)).T

    def matrix(self) -> np.ndarray:
        return self.apply(np.eye(self.factor[0].shape[0]))


Precision = np.ndarray | _CholeskyPrecision | None


def _weigh(a: Any, noise: Precision) -> Any:
    """``a @ P`` for a diagonal (1-D), dense (2-D) or Cholesky precision."""
    if noise is None:
        return a
    if isinstance(noise, _CholeskyPrecision):
        return noise.apply(a)
    if noise.ndim == 1:
        return a * noise
    return a @ noise


def _rdm_squared_euclidean(x: Any, noise: Precision = None) -> np.ndarray:
    """``(n, p)`` -> ``(n, n)`` sum of squared differences (optionally P-weighted)."""
    xc = x - x.mean(axis=0, keepdims=True)  # translation-invariant; better conditioned
    return _sq_from_gram(_materialize(_weigh(xc, noise) @ xc.T))


def _unit_rows(x: Any, *, center: bool, what: str) -> Any:
    """Rows (centred for correlation) scaled to unit length; constant (correlation) or
    all-zero (cosine) rows refused.

    A constant row is found by its range, not by its centred norm: the mean of equal
    values is not always exactly that value, so centring leaves rounding noise whose
    "correlations" would be arbitrary. Only rows whose centred norm is within rounding
    of their mean are checked that way, so the common case costs no extra pass. Rows
    whose sum of squares under- or overflows are divided by their largest |value|
    before the norm, so rows far smaller (or larger) than the others keep their digits.
    """
    raw = x
    if center:
        mean = _materialize(x.mean(axis=1))
        x = x - mean[:, None]
    norm = _materialize((x * x).sum(axis=1))
    if center:
        # a centred norm this small may be rounding noise of a constant row
        p = x.shape[1]
        noise = p * (64.0 * np.finfo(np.float64).eps * np.abs(mean)) ** 2
        check = np.flatnonzero(~(norm > noise))
        constant = np.zeros(norm.shape, bool)
        if check.size:
            rows = _materialize(raw[check])
            constant[check] = ~(rows.max(axis=1) - rows.min(axis=1) > 0.0)
    else:
        constant = np.zeros(norm.shape, bool)
        check = np.flatnonzero(~(norm > 0.0))  # all zeros, or so small its squares underflow
        if check.size:
            constant[check] = ~(np.abs(_materialize(x[check])).max(axis=1) > 0.0)
    bad = np.flatnonzero(constant)
    if bad.size:
        raise SchemaError(
            f"{what} distance is undefined for a stimulus whose pattern is "
            f"{'constant' if center else 'all zeros'} across units; got {bad.size} such "
            f"stimulus row(s), e.g. row {int(bad[0])}. Drop those stimuli or use "
            f"metric='euclidean'."
        )
    tiny, huge = np.finfo(np.float64).tiny / np.finfo(np.float64).eps, 1e300
    rescale = np.flatnonzero(~((norm > tiny) & (norm < huge)))
    if rescale.size == 0:
        return x / np.sqrt(norm)[:, None]
    x = _materialize(x)
    sub = x[rescale] / np.abs(x[rescale]).max(axis=1)[:, None]
    x = x.copy()
    x[rescale] = sub
    norm = norm.copy()
    norm[rescale] = (sub * sub).sum(axis=1)
    return x / np.sqrt(norm)[:, None]


def _rdm_correlation(x: Any) -> np.ndarray:
    xn = _unit_rows(x, center=True, what="correlation")
    # rounding can put r a hair outside [-1, 1]: a distance of -2e-16 is not a distance
    return _finish(np.clip(1.0 - _materialize(xn @ xn.T), 0.0, 2.0))


def _rdm_cosine(x: Any) -> np.ndarray:
    xn = _unit_rows(x, center=False, what="cosine")
    return _finish(np.clip(1.0 - _materialize(xn @ xn.T), 0.0, 2.0))


def _rdm_crossnobis(y: Any, noise: Precision = None) -> np.ndarray:
    """``(n, runs, p)`` -> ``(n, n)`` summed cross-validated squared distances.

    With ``S = sum_r Y_r`` the mean leave-one-run-out kernel is
    ``K = (S P S' - sum_r Y_r P Y_r') / (R (R - 1))``; ``d_ij = K_ii + K_jj -
    K_ij - K_ji``. R + 1 Gram products instead of R folds with averaging.
    """
    n_run = y.shape[1]
    y = y - y.mean(axis=(0, 1), keepdims=True)
    s = y.sum(axis=1)
    runs = [y[:, r, :] for r in range(n_run)]
    if isinstance(noise, _CholeskyPrecision):  # one solve for all runs and the sum
        n = s.shape[0]
        rows = np.concatenate([_materialize(s), *(_materialize(yr) for yr in runs)])
        weighted = noise.apply(rows)
        k = weighted[:n] @ _materialize(s).T
        for r, yr in enumerate(runs):
            k -= weighted[(r + 1) * n : (r + 2) * n] @ _materialize(yr).T
    else:
        k = _materialize(_weigh(s, noise) @ s.T)
        for yr in runs:
            k -= _materialize(_weigh(yr, noise) @ yr.T)
    k /= n_run * (n_run - 1)
    diag = np.diag(k)
    d = diag[:, None] + diag[None, :] - k - k.T
    return _finish(d)


#: rsatoolbox's Poisson prior: counts ``x`` become ``(x + lambda * w) / (1 + w)``.
POISSON_PRIOR = {"prior_lambda": 1.0, "prior_weight": 0.1}


def _check_counts(low: float) -> None:
    """Counts (or rates) must be >= 0: a rate's logarithm is taken; ``low``: the smallest."""
    if not low >= 0.0:
        raise SchemaError(
            f"the Poisson KL divergence needs non-negative counts or rates; got a minimum "
            f"of {low:.3g}. Use spike counts (or rates) as responses, or another metric such "
            f"as 'squared_euclidean' for signed data."
        )


def _shrunk(x: np.ndarray) -> np.ndarray:
    """Counts shrunk towards the prior rate (rsatoolbox's ``calc_rdm_poisson``)."""
    lam, w = POISSON_PRIOR["prior_lambda"], POISSON_PRIOR["prior_weight"]
    return (x + lam * w) / (1.0 + w)


def _poisson_rates(x: np.ndarray) -> np.ndarray:
    """:func:`_shrunk` counts; counts must be >= 0 (a rate's logarithm is taken)."""
    x = _materialize(x)
    _check_counts(float(x.min()) if x.size else 0.0)
    return _shrunk(x)


def _kl_cross(y: np.ndarray, n: int, n_run: int) -> tuple[np.ndarray, float]:
    """``(K, smallest count)`` of ``(n, p)`` patterns (``n_run=0``: ``K = R log(R)'``, ``R``
    the shrunk rates) or of ``(n * n_run, p)`` run patterns (``K`` summed over held-out
    runs: the other runs' mean rates against the run's log rates). ``K`` is a sum over
    units: the in-memory RDMs take it at once, dask-backed ones chunk by chunk
    (:func:`neurorep.rsa._chunked.kl_cross`). ``K`` is zeros when a count is negative
    (the caller refuses it with :func:`_check_counts`)."""
    y = np.asarray(y, dtype=np.float64)
    low = float(y.min()) if y.size else np.inf
    if not low >= 0.0:
        return np.zeros((n, n)), low
    if not n_run:
        r = _shrunk(y)
        return r @ np.log(r).T, low
    cube = y.reshape(n, n_run, -1)
    total = cube.sum(axis=1)
    k = np.zeros((n, n))
    for run in range(n_run):
        k += _shrunk((total - cube[:, run]) / (n_run - 1)) @ np.log(_shrunk(cube[:, run])).T
    return k, low


def _kl_from_cross(k: np.ndarray, low: float, n_run: int) -> np.ndarray:
    """The symmetrised KL RDM ``d_ij = (K_ii + K_jj - K_ij - K_ji) / max(n_run, 1)`` =
    ``sum (a_i - a_j)(log b_i - log b_j)`` (mean over held-out runs); refuses negative
    counts (``low``: the smallest)."""
    _check_counts(low)
    diag = np.diag(k)
    return _finish((diag[:, None] + diag[None, :] - k - k.T) / max(n_run, 1))


def _rdm_poisson(x: Any) -> np.ndarray:
    """``(n, p)`` -> symmetrised Poisson KL divergence ``sum (x_i - x_j)(log x_i - log x_j)``;
    dask ``x`` summed over its unit chunks."""
    if is_lazy(x):
        return _kl_from_cross(*_chunked.kl_cross(x), 0)
    return _kl_from_cross(*_kl_cross(_materialize(x), x.shape[0], 0), 0)


def _rdm_poisson_cv(y: Any) -> np.ndarray:
    """``(n, runs, p)`` -> cross-validated symmetrised KL, mean over leave-one-run-out folds:
    ``sum (a_i - a_j)(log b_i - log b_j)``, ``a`` the mean of the training runs, ``b`` the
    held-out run; dask ``y`` summed over its unit chunks."""
    n, n_run = y.shape[:2]
    if is_lazy(y):
        return _kl_from_cross(*_chunked.kl_cross(y, n_run), n_run)
    y = _materialize(y)
    return _kl_from_cross(*_kl_cross(y.reshape(n * n_run, -1), n, n_run), n_run)


# ----------------------------------------------------------------------------
# noise precision from residuals
# ----------------------------------------------------------------------------
def _cov_full(r: np.ndarray, dof: float) -> np.ndarray:
    return (r.T @ r) / dof


def _cov_diag(r: np.ndarray, dof: float) -> np.ndarray:
    return np.diag((r * r).sum(axis=0) / dof)


def _cov_shrinkage_eye(r: np.ndarray, dof: float) -> np.ndarray:
    """Ledoit & Wolf (2004) shrinkage towards a multiple of the identity (as rsatoolbox)."""
    n_obs, p = r.shape
    s = (r.T @ r) / n_obs
    r2 = r * r
    b2 = float(np.sum((r2.T @ r2) / n_obs - s * s) / n_obs)
    m = float(np.trace(s)) / p
    s_off = s.copy()
    s_off[np.diag_indices(p)] -= m
    d2 = float(np.sum(s_off * s_off))
    if d2 == 0:  # already a multiple of the identity (e.g. one unit): nothing to shrink
        return s * n_obs / dof
    b2 = min(d2, b2)
    out = (d2 - b2) / d2 * s
    out[np.diag_indices(p)] += b2 / d2 * m
    return out * n_obs / dof


def _cov_shrinkage_diag(r: np.ndarray, dof: float) -> np.ndarray:
    """Schaefer & Strimmer (2005) shrinkage towards the diagonal (as rsatoolbox)."""
    n_obs, p = r.shape
    s_sum = r.T @ r
    r2 = r * r
    s2_sum = r2.T @ r2
    s = s_sum / dof
    var = np.diag(s).copy()
    std = np.sqrt(var)
    s_mean = s_sum / std[None, :] / std[:, None] / (n_obs - 1)
    s2_mean = s2_sum / var[None, :] / var[:, None] / (n_obs - 1)
    var_hat = n_obs / dof**2 * (s2_mean - s_mean**2)
    off = ~np.eye(p, dtype=bool)
    denom = float(np.sum(s_mean[off] ** 2))
    # no off-diagonal covariance to shrink (one unit, or uncorrelated units): lambda 0
    lamb = float(np.sum(var_hat[off]) / denom) if denom > 0 else 0.0
    lamb = max(min(lamb, 1.0), 0.0)
    out = s * (1.0 - lamb)
    out[np.diag_indices(p)] = np.diag(s)
    return out


NOISE_METHODS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "shrinkage_diag": _cov_shrinkage_diag,
    "shrinkage_eye": _cov_shrinkage_eye,
    "diag": _cov_diag,
    "full": _cov_full,
}


def _residuals(y: np.ndarray) -> tuple[np.ndarray, int]:
    """``(n, runs, p)`` -> residuals ``(n * runs, p)`` around each stimulus mean, dof."""
    n, n_run, p = y.shape
    res = (y - y.mean(axis=1, keepdims=True)).reshape(n * n_run, p)
    return res, n * (n_run - 1)


def _covariance(y: np.ndarray, method: str) -> np.ndarray:
    check_option("noise", method, NOISE_METHODS)
    res, dof = _residuals(y)
    if dof < 1:
        raise SchemaError(
            "noise precision needs residuals: at least 2 repetitions (runs) per stimulus; "
            f"got {y.shape[1]}."
        )
    zero = np.flatnonzero(~(np.abs(res).max(axis=0) > 0))
    if zero.size == 0:  # the estimators divide by the residual variances
        cov = NOISE_METHODS[method](res, dof)
    if zero.size or np.any(np.diag(cov) <= 0):
        raise SchemaError(
            f"noise precision: some units have zero residual variance (the same response in "
            f"every run once each stimulus' mean is removed), e.g. unit position "
            f"{int(zero[0]) if zero.size else int(np.argmin(np.diag(cov)))}; drop those units "
            f"(responses.isel(unit=...)) or use noise=None."
        )
    return cov


def _precision_operator(y: np.ndarray, method: str) -> np.ndarray | _CholeskyPrecision:
    """Estimated precision for the kernels: a vector for 'diag', else a Cholesky factor."""
    cov = _covariance(y, method)
    if method == "diag":
        return 1.0 / np.diag(cov)
    try:
        return _CholeskyPrecision(cov)
    except np.linalg.LinAlgError as exc:
        raise SchemaError(
            f"noise precision: the {method!r} covariance is singular ({exc}); use "
            f"noise='shrinkage_diag' or 'shrinkage_eye', or fewer units."
        ) from exc


def _precision(y: np.ndarray, method: str) -> np.ndarray:
    """Explicit precision matrix (for compute_noise_precision)."""
    op = _precision_operator(y, method)
    return np.diag(op) if isinstance(op, np.ndarray) else op.matrix()


def _cube(resp: xr.DataArray, name: str) -> np.ndarray:
    _check_cube(resp, name)
    return np.asarray(resp.values, dtype=np.float64)


def _check_cube(resp: xr.DataArray, name: str) -> None:
    """Refuse responses that are not ``(stimulus, repetition, unit)`` with 2+ runs (reads
    no values)."""
    if resp.dims != ("stimulus", "repetition", "unit"):
        raise SchemaError(
            f"{name}: cross-validated distances and noise estimates need responses with dims "
            f"('stimulus', 'repetition', 'unit') where repetition = run (the partition); "
            f"got {resp.dims}. Build them with neurorep.data.responses(values_3d, "
            f"repetition=run_ids, ...)."
        )
    if resp.sizes["repetition"] < 2:
        raise SchemaError(
            f"{name}: crossnobis needs at least 2 runs (repetition entries); got "
            f"{resp.sizes['repetition']}. Without independent partitions the distance "
            f"cannot be cross-validated; use metric='mahalanobis' or 'squared_euclidean'."
        )


def compute_noise_precision(
    responses: xr.DataArray, *, method: NoiseMethod = "shrinkage_diag"
) -> xr.DataArray:
    """Noise precision (inverse covariance over units) from run residuals, with shrinkage.

    Residuals are each run's pattern minus the stimulus mean over runs
    (``dof = n_stimulus * (n_run - 1)``); the covariance estimators are
    rsatoolbox's ``cov_from_residuals`` methods, computed with matrix
    products.

    Parameters
    ----------
    responses : DataArray
        Dims ``(stimulus, repetition, unit)``.
        Repetition = run. Dask-backed responses (chunked along units) take
        ``method="diag"`` only, computed chunk by chunk: the other methods
        couple every pair of units, a ``(unit, unit)`` matrix the region
        would have to be gathered for. For noise-weighted RDMs of such
        responses pass the estimator name to :func:`compute_rdm`
        (``noise="shrinkage_diag"``), which never forms that matrix.
    method : {"shrinkage_diag", "shrinkage_eye", "diag", "full"}
        ``shrinkage_diag``: Schaefer & Strimmer shrinkage towards the
        diagonal; ``shrinkage_eye``: Ledoit & Wolf shrinkage towards a
        scaled identity; ``diag``: univariate noise normalisation; ``full``:
        sample covariance (singular when units outnumber residual dof).

    Returns
    -------
    DataArray
        Dims ``(unit_i, unit_j)``.
        The precision matrix, labelled with the unit ids.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, rsa
    >>> y = np.random.default_rng(0).normal(size=(4, 3, 5))
    >>> r = data.responses(y, dims=("stimulus", "repetition", "unit"), stimulus=list("abcd"))
    >>> rsa.compute_noise_precision(r, method="diag").shape
    (5, 5)
    """
    check_real(getattr(responses, "data", responses), name="responses")
    validate(responses, kind="responses", name="responses")
    if is_lazy(responses):
        prec = _lazy_noise_precision(responses, method)
    else:
        cube = _cube(responses, "compute_noise_precision")
        e, peak = _scale_exponent(cube)
        prec = _precision(np.ldexp(cube, -e) if e else cube, method)  # exact rescaling
        prec = _unscale(prec, -2 * e, "the noise precision values", "compute_noise_precision",
                        peak)
    units = np.asarray(responses["unit"].values)
    return xr.DataArray(
        prec,
        dims=("unit_i", "unit_j"),
        coords={"unit_i": units, "unit_j": units},
        name="noise_precision",
        attrs={"method": method},
    )


def _lazy_noise_precision(responses: xr.DataArray, method: str) -> np.ndarray:
    """compute_noise_precision of dask-backed responses: the diagonal estimate, chunk by
    chunk; the methods that couple units are refused with the ways out."""
    from neurorep._core.memory import check_allocation

    name = "compute_noise_precision"
    check_option("method", method, NOISE_METHODS)
    _check_cube(responses, name)
    n, n_run, p = responses.shape
    if method != "diag":
        raise SchemaError(
            f"{name}: method={method!r} estimates a ({p} x {p}) precision coupling every pair "
            f"of units, which cannot be computed from dask-backed responses without gathering "
            f"them. For a noise-weighted RDM pass the estimator to compute_rdm "
            f"(noise={method!r} works chunk by chunk in stimulus space{', except full' if method == 'full' else ''}); "
            f"otherwise use method='diag' here, or load a smaller ROI into memory "
            f"(responses.isel(unit=...).compute())."
        )
    check_allocation(8.0 * p * p, what=f"{name}: a ({p} x {p}) diagonal precision matrix",
                     fix="Pass noise='diag' to compute_rdm instead (never a unit x unit "
                         "matrix), or select fewer units.", name=None)
    e, peak = _scale_exponent(responses.data)
    var = _noise_chunked.unit_residual_variance(_noise_chunked.as_cube(responses.data, e), name)
    prec = np.diag(1.0 / var)
    return _unscale(prec, -2 * e, "the noise precision values", name, peak)


def _rdm_cube_chunked(
    resp: xr.DataArray, metric: str, noise: Any, scale: float, name: str
) -> np.ndarray | None:
    """mahalanobis with an estimated noise, and crossnobis, of dask-backed responses
    ``(stimulus, repetition, unit)``, chunk by chunk (:mod:`neurorep.rsa._noise_chunked`).
    None for a dense given precision (the in-memory path takes it)."""
    m = METRICS[metric]
    _check_cube(resp, name)
    method = noise if isinstance(noise, str) else None
    given: np.ndarray | None = None
    if method is not None:
        check_option("noise", method, NOISE_METHODS)
    elif noise is not None:
        prec = _noise_array(noise, resp, metric, name)
        if not (isinstance(prec, np.ndarray) and prec.ndim == 1):
            return None
        given = prec
    e, peak = _scale_exponent(resp.data)
    cube = _noise_chunked.as_cube(resp.data, e)
    d = _noise_chunked.cube_rdm_kernel(cube, metric, given, method, name)
    if m.per_unit and scale != 1.0:
        d = d / scale
    # an estimated precision scales as 1 / data ** 2: noise-weighted distances are scale-free
    return _unscale(d, (0 if method is not None else m.degree) * e, metric, name, peak)


# ----------------------------------------------------------------------------
# public
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class RdmMetric:
    """One RDM metric: its kernel and how ``compute_rdm`` and ``searchlight`` call it.

    Adding a metric is one entry of :data:`METRICS`.

    Attributes
    ----------
    formula : str
        The dissimilarity of two patterns (``str(metric)`` gives it).
    kernel : callable(x, precision) -> (n, n) array
        ``x``: ``(n, p)`` patterns, or ``(n, runs, p)`` when ``runs``;
        ``precision``: the noise precision operator or None.
    noise : {"none", "optional", "required"}
        Whether ``noise=`` (a precision, or an estimator name) is used.
    runs : bool
        Cross-validated over runs: takes the ``(stimulus, repetition, unit)``
        patterns (other metrics average the repetitions first).
    per_unit : bool
        Divided by the number of units when ``normalize=True``.
    sqrt : bool
        The square root of the kernel's (squared) values.
    degree : int
        How the values scale with the data (``c x`` gives ``c**degree`` times
        the values): 2 for squared distances, 1 for distances, 0 for
        scale-free metrics, -1 for neither (the data are never rescaled). Data near the ends of the float64 range are
        divided by a power of two first and the values scaled back by it.
    """

    formula: str
    kernel: Callable[[Any, Precision], np.ndarray]
    noise: Literal["none", "optional", "required"] = "none"
    runs: bool = False
    per_unit: bool = True
    sqrt: bool = False
    degree: int = 2

    def __str__(self) -> str:
        return self.formula


#: The RDM metrics (formulas in the module docstring).
METRICS: dict[str, RdmMetric] = {
    "euclidean": RdmMetric("sqrt(sum((x - y)**2) / norm)", _rdm_squared_euclidean, sqrt=True,
                           degree=1),
    "squared_euclidean": RdmMetric("sum((x - y)**2) / norm", _rdm_squared_euclidean),
    "correlation": RdmMetric("1 - pearson_r(x, y)", lambda x, _: _rdm_correlation(x),
                             per_unit=False, degree=0),
    "cosine": RdmMetric("1 - x.y / (|x| |y|)", lambda x, _: _rdm_cosine(x), per_unit=False,
                        degree=0),
    "mahalanobis": RdmMetric("(x - y) P (x - y)' / norm  (squared)", _rdm_squared_euclidean,
                             noise="required"),
    "crossnobis": RdmMetric(
        "mean over run pairs of (x_r - y_r) P (x_s - y_s)' / norm, r != s", _rdm_crossnobis,
        noise="optional", runs=True,
    ),
    "poisson": RdmMetric(
        "sum((x - y) * (log x - log y)) / norm, x = (counts + 0.1) / 1.1",
        lambda x, _: _rdm_poisson(x), degree=-1,
    ),
    "poisson_cv": RdmMetric(
        "mean over runs r of sum((x_~r - y_~r) * (log x_r - log y_r)) / norm, x_~r the mean of "
        "the other runs, x = (counts + 0.1) / 1.1",
        lambda x, _: _rdm_poisson_cv(x), runs=True, degree=-1,
    ),
}


def _metric_values(x: Any, metric: str, precision: Precision, n_units: float) -> np.ndarray:
    """The ``(n, n)`` dissimilarities of one metric (its kernel, per-unit norm and root);
    ``x``: ``(n, runs, p)`` run patterns for a cross-validated metric, else ``(n, p)``."""
    m = METRICS[metric]
    if m.noise == "required" and precision is None:
        raise SchemaError(
            f"metric={metric!r} needs noise= (a precision matrix or an estimator name such "
            f"as 'shrinkage_diag'); without it use 'squared_euclidean'."
        )
    d = m.kernel(x, precision)
    if m.per_unit and n_units != 1.0:
        d = d / n_units
    return np.sqrt(d) if m.sqrt else d


def _check_precision(arr: np.ndarray, name: str) -> None:
    """A given noise precision must be finite, symmetric and positive definite."""
    fix = (
        "Estimate one with neurorep.rsa.compute_noise_precision(responses) (shrinkage keeps it "
        "positive definite) or pass an estimator name, e.g. noise='shrinkage_diag'."
    )
    if not np.isfinite(arr).all():
        raise SchemaError(
            f"{name}: the noise precision holds {int((~np.isfinite(arr)).sum())} NaN/inf "
            f"value(s); it must be finite. {fix}"
        )
    if arr.ndim == 1:
        bad = np.flatnonzero(arr <= 0)
        if bad.size:
            raise SchemaError(
                f"{name}: a diagonal noise precision must be > 0 for every unit; got "
                f"{bad.size} value(s) <= 0 (e.g. {arr[bad[0]]:.3g} at unit position "
                f"{int(bad[0])}), which makes squared distances zero or negative. {fix}"
            )
        return
    scale = float(np.abs(arr).max())
    if not np.allclose(arr, arr.T, rtol=1e-8, atol=1e-12 * scale):
        raise SchemaError(
            f"{name}: the noise precision must be symmetric; max |P - P'| = "
            f"{float(np.abs(arr - arr.T).max()):.3g}. Symmetrise it, (P + P.T) / 2, if that "
            f"is what you mean. {fix}"
        )
    try:
        np.linalg.cholesky(arr)
    except np.linalg.LinAlgError:
        low = float(np.linalg.eigvalsh(arr)[0])
        raise SchemaError(
            f"{name}: the noise precision must be positive definite (a Mahalanobis distance "
            f"needs x P x' > 0 for every pattern x != 0); its smallest eigenvalue is "
            f"{low:.3g}, so distances would be zero or negative. {fix}"
        ) from None


def _noise_array(
    noise: Any, resp: xr.DataArray, metric: str, name: str, cube: np.ndarray | None = None
) -> Precision:
    """The precision operator; an estimator name is fitted on ``cube`` (the run patterns)."""
    if noise is None:
        return None
    if METRICS[metric].noise == "none":
        uses = [k for k, m in METRICS.items() if m.noise != "none"]
        raise ValueError(
            f"{name}: noise= is only used by metrics {uses}; got metric={metric!r}."
        )
    if isinstance(noise, str):
        return _precision_operator(_cube(resp, name) if cube is None else cube, noise)
    if isinstance(noise, xr.DataArray):
        if noise.ndim == 2 and {"unit_i", "unit_j"} <= set(noise.dims):
            units = resp["unit"].values
            noise = noise.sel(unit_i=units, unit_j=units).transpose("unit_i", "unit_j")
        elif noise.ndim == 1 and "unit" in noise.dims:
            noise = noise.sel(unit=resp["unit"].values)
    check_real(noise, name=f"{name}: noise")
    arr = np.asarray(noise, dtype=np.float64)
    p = resp.sizes["unit"]
    if arr.shape not in ((p,), (p, p)):
        raise SchemaError(
            f"{name}: noise precision must be (n_unit,) (diagonal) or (n_unit, n_unit) = "
            f"({p}, {p}); got shape {arr.shape}. Estimate one with "
            f"neurorep.rsa.compute_noise_precision(responses) or pass noise='shrinkage_diag'."
        )
    _check_precision(arr, name)
    return arr


_SAFE_EXPONENT = 64  # |values| in [2**-64, 2**64]: squares and sums stay far inside float64


def _scale_exponent(a: Any) -> tuple[int, float]:
    """``(e, max |a|)``: divide the data by ``2**e`` before the products (0: leave it).

    ``e`` is the binary exponent of ``max |a|`` when that lies outside
    ``2**-64 .. 2**64``, else 0 (ordinary data are neither copied nor changed).
    Dividing by a power of two is exact in floating point, so distances
    computed on the rescaled data and scaled back equal the direct ones bit
    for bit, while data near the ends of the float64 range no longer overflow
    (1e200**2) or underflow (1e-200**2) inside the products.
    """
    m = abs(a).max()
    m = float(m.compute() if hasattr(m, "compute") else m)
    if not np.isfinite(m) or m == 0.0:
        return 0, m
    e = int(np.frexp(m)[1])
    return (e if abs(e) > _SAFE_EXPONENT else 0), m


def _unscale(sq: np.ndarray, e2: int, metric: str, name: str, peak: float) -> np.ndarray:
    """Values computed on rescaled data times ``2**e2``, refusing over- and underflow."""
    with np.errstate(over="ignore", under="ignore"):
        out = np.ldexp(sq, e2) if e2 else sq
    stable = [k for k in ("euclidean", *(k for k, m in METRICS.items() if m.degree == 0))
              if k != metric]
    fix = "Rescale the responses first, e.g. responses / float(abs(responses).max())" + (
        f", or use metric={stable[0]!r} or {stable[1]!r}, computed stably at any scale."
        if metric in METRICS
        else "."
    )
    what = f"{metric} distances" if metric in METRICS else metric
    if not np.isfinite(out).all():
        raise SchemaError(
            f"{name}: {what} overflow float64 at this data scale (largest |response| "
            f"{peak:.3g}). {fix}"
        )
    if metric in METRICS and not sum_of_squares_fits(out[np.triu_indices(out.shape[0], 1)]):
        # finite, but an RDM no comparison could use (neurorep.data.validate refuses it)
        raise SchemaError(
            f"{name}: {what} are too large at this data scale (largest |response| "
            f"{peak:.3g}): sums of their squares overflow float64, so the RDM could not be "
            f"compared or validated. {fix}"
        )
    # a value within the rounding of the computation (the Gram route: ~eps of the largest
    # squared distance) is zero up to rounding; it may underflow in one stimulus order and
    # be exactly 0 in another, so only values above that floor count as lost
    floor = 0.0
    if metric in METRICS and sq.size:
        floor = float(np.abs(sq).max()) * (16 * np.finfo(np.float64).eps) ** (
            1.0 / max(METRICS[metric].degree, 1))
    lost = (np.abs(sq) > floor) & (np.abs(out) < np.finfo(np.float64).tiny)
    if lost.any():
        raise SchemaError(
            f"{name}: {what} underflow float64 at this data scale (largest |response| "
            f"{peak:.3g}): {int(lost.sum())} non-zero value(s) would become 0 or lose "
            f"precision. {fix}"
        )
    return out


_UNBALANCED = "unbalanced (rsatoolbox calc_rdm_unbalanced, weighting='number')"


def _has_missing(resp: Any, name: str = "responses") -> bool:
    """Any NaN (a missing measurement) in the responses; dask-backed ones are checked
    chunk by chunk (one pass), where inf is refused as the in-memory validation does."""
    data = getattr(resp, "data", resp)
    if isinstance(data, np.ndarray):
        return bool(np.isnan(data).any())
    if not is_lazy(data) or data.dtype.kind != "f":
        return False
    import dask

    nan, inf = dask.compute(np.isnan(data).any(), np.isinf(data).any())
    if inf:
        raise SchemaError(
            f"{name}: values must be finite; got inf value(s) in the dask-backed "
            "responses. Drop those stimuli/units (e.g. obj.where(np.isfinite(obj))) or "
            "impute them before the analysis."
        )
    return bool(nan)


def _rdm_missing(
    resp: xr.DataArray, metric: str, noise: Any, normalize: bool, name: str
) -> np.ndarray:
    """Responses with NaN (missing measurements): rsatoolbox's unbalanced estimator."""
    from neurorep.rsa._unbalanced import check_missing_noise, unbalanced_rdm

    m = METRICS[metric]
    values = resp.data.astype(np.float64)  # dask-backed: reduced over unit chunks
    if values.ndim == 2:
        if m.runs:
            _cube(resp, name)  # refuses with the layout a cross-validated metric needs
        values = values[:, None, :]
    check_missing_noise(noise, name)
    if m.noise == "required" and noise is None:
        raise SchemaError(
            f"{name}: metric={metric!r} needs noise= (a precision matrix); without it use "
            f"'squared_euclidean'."
        )
    prec = _noise_array(noise, resp, metric, name)
    if isinstance(prec, _CholeskyPrecision):  # pragma: no cover - strings refused above
        prec = prec.matrix()
    if m.runs and values.shape[1] < 2:
        _cube(resp, name)
    try:
        d = unbalanced_rdm(values, metric, prec, cross_validated=m.runs)
    except SchemaError as err:
        raise SchemaError(f"{name}: {err}") from None
    if m.per_unit and not normalize:
        d = d * resp.sizes["unit"]
    if m.sqrt:
        d = np.sqrt(np.maximum(d, 0.0))
    return d


def _rdm_values(
    resp: xr.DataArray, metric: str, noise: Any, normalize: bool, name: str, missing: bool
) -> np.ndarray:
    if resp.dims == ("time", "unit"):
        raise SchemaError(
            f"{name}: an RDM needs one pattern per stimulus; got a time series (time, unit). "
            f"Estimate per-stimulus patterns first (e.g. a GLM), or average volumes per label."
        )
    n_stim = resp.sizes["stimulus"]
    if n_stim < 2:
        raise SchemaError(
            f"{name}: an RDM needs at least 2 stimuli; got {n_stim} "
            f"({resp['stimulus'].values.tolist()})."
        )
    check_real(resp.data, name=name)
    p = resp.sizes["unit"]
    scale = float(p) if normalize else 1.0
    if missing:
        return _rdm_missing(resp, metric, noise, normalize, name)
    # Distances are computed on the data divided by a power of two (exact) and scaled
    # back, so that neither the products overflow nor small values underflow.
    m = METRICS[metric]
    cube = None
    if m.runs or (m.noise != "none" and isinstance(noise, str)):
        if is_lazy(resp.data) and metric in ("mahalanobis", "crossnobis") and resp.ndim == 3:
            chunked = _rdm_cube_chunked(resp, metric, noise, scale, name)
            if chunked is not None:  # never gathered
                return chunked
        if is_lazy(resp.data) and metric == "poisson_cv":  # summed over unit chunks
            _check_cube(resp, name)
            try:
                return _metric_values(resp.data, metric, None, scale)
            except SchemaError as err:
                raise SchemaError(f"{name}: {err}") from None
        cube = _cube(resp, name)
        e, peak = _scale_exponent(cube) if m.degree >= 0 else (0, 0.0)
        cube = np.ldexp(cube, -e) if e else cube
    prec = _noise_array(noise, resp, metric, name, cube)
    if m.runs:
        assert cube is not None
        x: Any = cube
    elif cube is not None:
        x = np.ascontiguousarray(cube.mean(axis=1))
    else:
        data = resp.data
        if resp.ndim == 3:  # average repetitions (rsatoolbox averages by descriptor)
            data = data.mean(axis=1)
        if isinstance(data, np.ndarray):
            x = np.ascontiguousarray(data, dtype=np.float64)
        else:
            x = data.astype(np.float64)
            if _chunked.supports(metric, prec):  # dask: Gram terms summed over unit chunks
                d = _rdm_values_chunked(x, metric, prec, scale, name)
                if d is not None:
                    return d
        e, peak = _scale_exponent(x) if m.degree >= 0 else (0, 0.0)
        if e:
            x = np.ldexp(x, -e)
    try:
        d = _metric_values(x, metric, prec, scale)
    except SchemaError as err:
        raise SchemaError(f"{name}: {err}") from None
    if m.degree <= 0:
        return d
    # a precision estimated from the (rescaled) runs scales as 1 / data ** 2, which makes
    # noise-weighted distances scale-free
    degree = 0 if (m.noise != "none" and isinstance(noise, str)) else m.degree
    return _unscale(d, degree * e, metric, name, peak)


def _rdm_values_chunked(
    x: Any, metric: str, prec: Precision, scale: float, name: str
) -> np.ndarray | None:
    """:func:`_rdm_values` for dask ``x`` ``(stimulus, unit)`` chunked along units: two
    passes (scale and row means; the Gram matrix summed chunk by chunk), never the whole
    array in memory. None when some rows need the per-row rescaling of
    :func:`_unit_rows` (norms that under- or overflow): the caller then takes that path."""
    m = METRICS[metric]
    rows = metric in ("correlation", "cosine")
    e, peak, mean = _chunked.scale_and_means(x, row_means=metric == "correlation")
    if not rows:
        if m.noise == "required" and prec is None:
            return _metric_values(x, metric, prec, scale)  # raises the missing-noise error
        assert prec is None or isinstance(prec, np.ndarray)
        g = _chunked.gram(x, centre="columns", e=e, weight=prec)
        d = _sq_from_gram(g)
        if m.per_unit and scale != 1.0:
            d = d / scale
        d = np.sqrt(d) if m.sqrt else d
        return _unscale(d, m.degree * e, metric, name, peak)
    g = _chunked.gram(x, centre="rows", e=e, row_mean=mean)
    norm = np.diag(g).copy()
    if metric == "correlation":
        assert mean is not None
        check = np.flatnonzero(~(norm > x.shape[1] * (64.0 * np.finfo(np.float64).eps
                                                      * np.abs(mean)) ** 2))
    else:
        check = np.flatnonzero(~(norm > 0.0))
    tiny, huge = np.finfo(np.float64).tiny / np.finfo(np.float64).eps, 1e300
    if check.size or not ((norm > tiny) & (norm < huge)).all():
        return None  # constant rows are refused, extreme rows rescaled, by _unit_rows
    inv = 1.0 / np.sqrt(norm)
    g *= inv[:, None]
    g *= inv[None, :]
    return _finish(np.clip(1.0 - g, 0.0, 2.0))


def _wrap(
    values: np.ndarray, ids: np.ndarray, metric: str, attrs: Mapping[str, Any]
) -> xr.DataArray:
    return xr.DataArray(
        values,
        dims=("stimulus_i", "stimulus_j"),
        coords={"stimulus_i": ids, "stimulus_j": ids},
        name="rdm",
        attrs={"metric": metric, **attrs},
    )


def compute_rdm(
    obj: xr.DataArray | xr.DataTree | Mapping[str, xr.DataArray],
    *,
    metric: Metric = "correlation",
    noise: Any = None,
    normalize: bool = True,
    dim: str | None = None,
) -> xr.DataArray:
    """Representational dissimilarity matrix of responses, or of every member of a set.

    Parameters
    ----------
    obj : responses DataArray, activations DataTree, or set (DataTree / mapping)
        ``(stimulus, unit)`` or ``(stimulus, repetition, unit)``. For
        non-cross-validated metrics repetitions are averaged first.
        ``crossnobis`` needs ``(stimulus, repetition, unit)`` with
        repetition = run (the cross-validation partition). Unbalanced
        designs: NaN marks a missing measurement (a whole ``(stimulus,
        repetition)`` row for a repetition a stimulus did not get, single
        entries for units not recorded; build the responses with
        ``data.responses(..., allow_missing=True)``). The RDM is then
        rsatoolbox's ``calc_rdm_unbalanced`` (see
        :mod:`neurorep.rsa._unbalanced`; ``attrs["estimator"]`` says so),
        and pairs of stimuli with no usable measurements are NaN.
    metric : str
        One of :data:`METRICS` (formulas in the module docstring).
        ``squared_euclidean`` equals rsatoolbox's ``'euclidean'``;
        ``euclidean`` is its square root.
    noise : None, str, array or DataArray
        Noise precision for ``mahalanobis`` / ``crossnobis``: ``(unit,)``
        diagonal or ``(unit, unit)`` matrix (e.g. from
        :func:`compute_noise_precision`), or an estimator name from
        :data:`NOISE_METHODS` (``"shrinkage_diag"``...) to estimate it from
        each responses object's run residuals. None = identity.
    normalize : bool
        Divide squared-distance metrics by the number of units, as
        rsatoolbox does (makes regions of different sizes comparable).
    dim : str, optional
        Name of the stacking dim for a set; default ``"layer"`` for
        activations, ``"member"`` otherwise.

    Returns
    -------
    DataArray
        ``(stimulus_i, stimulus_j)`` for one responses object; for a set a
        stacked ``(dim, stimulus_i, stimulus_j)`` RDM with the member names
        along ``dim`` (and layer ``depth`` as a coord for activations), so
        it can go straight into :func:`compare` or :func:`evaluate`.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, rsa
    >>> r = data.responses(np.random.default_rng(0).normal(size=(4, 10)),
    ...                    stimulus=["a", "b", "c", "d"])
    >>> rsa.compute_rdm(r, metric="correlation").dims
    ('stimulus_i', 'stimulus_j')
    """
    check_option("metric", metric, METRICS)
    from neurorep import __version__

    attrs: dict[str, Any] = {"normalize": int(normalize), "neurorep_version": __version__}
    if isinstance(noise, str):
        attrs["noise"] = noise
    kind = infer_kind(obj)
    if kind == "epochs":
        raise SchemaError(
            f"compute_rdm: got epochs (dims {tuple(obj.dims)}); for an RDM at every time point "  # type: ignore[union-attr]
            f"use neurorep.rsa.compute_rdm_movie(epochs, metric=...), or average a time window "
            f"first, e.g. epochs.sel(time=slice(0.1, 0.2)).mean('time')."
        )
    if kind == "responses":
        assert isinstance(obj, xr.DataArray)
        check_real(obj.data, name="responses")
        validate(obj, kind="responses", name="responses", allow_missing=True)
        missing = _has_missing(obj)
        vals = _rdm_values(obj, metric, noise, normalize, "responses", missing)
        if missing:
            attrs["estimator"] = _UNBALANCED
        return _wrap(vals, np.asarray(obj["stimulus"].values), metric, attrs)
    if kind == "rdm":
        raise SchemaError(
            "compute_rdm: got an RDM; pass responses (stimulus, unit) or a set of them."
        )
    if kind not in ("activations", "set"):
        raise SchemaError(f"compute_rdm: expected responses or a set of them; got a {kind}.")
    mem = members(obj)
    if not mem:
        raise SchemaError("compute_rdm: the set holds no representations.")
    if isinstance(noise, np.ndarray | xr.DataArray) and len(mem) > 1:
        raise SchemaError(
            "compute_rdm: one noise precision matrix cannot fit every member of a set (their "
            "units differ); pass an estimator name (noise='shrinkage_diag') or call "
            "compute_rdm per member."
        )
    stimulus_ids(obj, name="set")  # every member must list the same stimuli
    dim = dim or ("layer" if kind == "activations" else "member")
    names, stack, depth = [], [], []
    missing_any = False
    for key, da in mem.items():
        check_real(getattr(da, "data", da), name=f"set[{key!r}]")
        validate(da, kind="responses", name=f"set[{key!r}]", allow_missing=True)
        missing_any |= (missing := _has_missing(da, f"set[{key!r}]"))
        stack.append(_rdm_values(da, metric, noise, normalize, f"set[{key!r}]", missing))
        names.append(key)
        if isinstance(obj, xr.DataTree):
            depth.append(obj[key].attrs.get("depth", np.nan))
    if missing_any:
        attrs["estimator"] = _UNBALANCED
    ids = np.asarray(next(iter(mem.values()))["stimulus"].values)
    coords: dict[str, Any] = {dim: names, "stimulus_i": ids, "stimulus_j": ids}
    if kind == "activations":
        coords["depth"] = (dim, np.asarray(depth, dtype=float))
    return xr.DataArray(
        np.stack(stack),
        dims=(dim, "stimulus_i", "stimulus_j"),
        coords=coords,
        name="rdm",
        attrs={"metric": metric, **attrs},
    )
