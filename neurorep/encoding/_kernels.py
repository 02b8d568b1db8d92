"""Kernel ridge (linear and non-linear kernels) and multiple-kernel ridge, alpha by CV.

Kernel ridge fits dual coefficients ``a = (K + alpha I)^-1 Y`` on the kernel
``K = k(X, X)`` of the training stimuli and predicts ``k(X_new, X) a``. With an
intercept the kernel is centred in feature space (``K -> H K H``, ``H = I - 11^T / n``,
scikit-learn's and himalaya's ``KernelCenterer``) on each training fold, the responses on
their training mean, and the intercept is ``mean(Y) - mean_rows(K) a``.

One eigendecomposition of each training fold's (centred) kernel serves every alpha and
every unit, as in :func:`neurorep.encoding.fit_ridge`: held-out predictions for alpha are
``A diag(1 / (lam + alpha)) Q^T Y_train`` with ``A = K_test Q``. Multiple-kernel ridge
(:func:`fit_multiple_kernel_ridge`) sums per-space kernels ``K = sum_s gamma_s K_s`` over
candidate weights ``gamma`` on the simplex (himalaya's random search) and keeps, per unit,
the candidate and alpha with the best pooled held-out R^2.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep import __version__
from neurorep._core.errors import SchemaError, check_option
from neurorep._core.parallel import one_blas_thread
from neurorep._core.rng import as_generator
from neurorep.data import align
from neurorep.encoding._chunks import check_block, map_units
from neurorep.encoding._cv import make_splits
from neurorep.encoding._inputs import (
    as_feature_array,
    as_real_float,
    complex_error,
    is_lazy,
    prepare,
    warn_constant,
)
from neurorep.encoding._ridge import (
    DEFAULT_ALPHAS,
    FIX_FOLDS,
    Ties,
    _alpha_of,
    _check_common,
    _describe_cv,
    _describe_selection,
    _fit_block,
    _fit_spec,
    _refit_block,
    _shared_index,
    _take_best,
    _unit_parts,
    _weights,
    check_memory,
    check_selection,
)
from neurorep.encoding._solvers import (
    _SMALL_DECOMPOSITION,
    _Decomposition,
    _Fold,
    _Plan,
    center_chunk,
)

__all__ = ["KERNELS", "compute_kernel", "fit_kernel_ridge", "fit_multiple_kernel_ridge",
           "predict_kernel_ridge"]

_EPS64 = float(np.finfo(np.float64).eps)


# ----------------------------------------------------------------------------
# kernels (float64 numpy; himalaya's and scikit-learn's definitions and defaults)
# ----------------------------------------------------------------------------
def _gamma(gamma: float | None, X: np.ndarray) -> float:
    return 1.0 / X.shape[1] if gamma is None else float(gamma)


def _linear(X: np.ndarray, Z: np.ndarray) -> np.ndarray:
    return X @ Z.T


def _polynomial(
    X: np.ndarray, Z: np.ndarray, degree: float = 3, gamma: float | None = None,
    coef0: float = 1.0,
) -> np.ndarray:
    return (_gamma(gamma, X) * (X @ Z.T) + coef0) ** degree


def _rbf(X: np.ndarray, Z: np.ndarray, gamma: float | None = None) -> np.ndarray:
    d2 = (X * X).sum(1)[:, None] + (Z * Z).sum(1)[None, :] - 2.0 * (X @ Z.T)
    np.maximum(d2, 0.0, out=d2)
    if X is Z:
        np.fill_diagonal(d2, 0.0)
    return np.exp(-_gamma(gamma, X) * d2)


def _sigmoid(
    X: np.ndarray, Z: np.ndarray, gamma: float | None = None, coef0: float = 1.0
) -> np.ndarray:
    return np.tanh(_gamma(gamma, X) * (X @ Z.T) + coef0)


def _unit_rows(X: np.ndarray) -> np.ndarray:
    norm = np.sqrt((X * X).sum(1))
    return X / np.where(norm == 0, 1.0, norm)[:, None]


def _cosine(X: np.ndarray, Z: np.ndarray) -> np.ndarray:
    Xn = _unit_rows(X)
    return Xn @ (Xn if Z is X else _unit_rows(Z)).T


#: Kernels ``k(X, Z)`` by name, with their parameters (defaults as in himalaya and
#: scikit-learn; ``gamma=None`` means ``1 / n_features``):
#:
#: - ``"linear"``: ``X Z^T``
#: - ``"polynomial"`` (alias ``"poly"``): ``(gamma X Z^T + coef0)^degree``, degree 3, coef0 1
#: - ``"rbf"``: ``exp(-gamma |x - z|^2)``
#: - ``"sigmoid"``: ``tanh(gamma X Z^T + coef0)``, coef0 1 (not positive semi-definite)
#: - ``"cosine"``: ``x.z / (|x| |z|)`` (a zero row counts as norm 1)
KERNELS: dict[str, Callable[..., np.ndarray]] = {
    "linear": _linear,
    "polynomial": _polynomial,
    "poly": _polynomial,
    "rbf": _rbf,
    "sigmoid": _sigmoid,
    "cosine": _cosine,
}
_PARAMS = {
    "linear": (), "polynomial": ("degree", "gamma", "coef0"), "poly": ("degree", "gamma", "coef0"),
    "rbf": ("gamma",), "sigmoid": ("gamma", "coef0"), "cosine": (),
}


def _check_kernel(kernel: Any, params: Any, name: str = "kernel") -> dict[str, Any]:
    check_option(name, kernel, KERNELS)
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise TypeError(f"{name}_params must be a dict of parameters; got {type(params).__name__}.")
    bad = sorted(set(params) - set(_PARAMS[kernel]))
    if bad:
        raise ValueError(
            f"{name}_params: {bad} are not parameters of the {kernel!r} kernel; it takes "
            f"{list(_PARAMS[kernel]) or 'none'}."
        )
    for key, value in params.items():
        if value is None and key == "gamma":
            continue
        if isinstance(value, bool) or not np.isfinite(np.asarray(value, dtype=float)).all():
            raise ValueError(f"{name}_params[{key!r}] must be a finite number; got {value!r}.")
    return dict(params)


def compute_kernel(
    features: Any, other: Any = None, *, kernel: str = "linear", **params: Any
) -> np.ndarray:
    """The kernel matrix ``k(features, other)`` (float64), as himalaya and scikit-learn define it.

    Parameters
    ----------
    features : ndarray or DataArray
        Samples ``(sample, feature)``.
    other : array or DataArray (sample, feature), optional
        Defaults to ``features`` (the square training kernel).
    kernel : {"linear", "polynomial", "poly", "rbf", "sigmoid", "cosine"}
        See :data:`KERNELS`.
    **params
        The kernel's parameters (``degree``, ``gamma``, ``coef0``).

    Returns
    -------
    ndarray
        The kernel matrix ``(n_samples, n_other)`` (float64).

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.encoding import compute_kernel
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0]])
    >>> compute_kernel(X, kernel="rbf", gamma=1.0).round(3).tolist()
    [[1.0, 0.368], [0.368, 1.0]]
    """
    kp = _check_kernel(kernel, params)
    X = _as_matrix(features, "compute_kernel: features")
    Z = X if other is None else _as_matrix(other, "compute_kernel: other")
    if Z.shape[1] != X.shape[1]:
        raise SchemaError(
            f"compute_kernel: other has {Z.shape[1]} features; features have {X.shape[1]}. Pass "
            f"the same feature space."
        )
    return KERNELS[kernel](X, Z, **kp)


def _as_matrix(values: Any, name: str) -> np.ndarray:
    arr = values.values if isinstance(values, xr.DataArray) else values
    X = as_real_float(arr, name)
    if X.ndim != 2 or 0 in X.shape:
        raise SchemaError(f"{name} must be a non-empty 2-D (sample, feature) array; got "
                          f"shape {X.shape}.")
    if not np.isfinite(X).all():
        raise SchemaError(f"{name} must be finite; got NaN or inf values.")
    return X


# ----------------------------------------------------------------------------
# plans: one eigendecomposition per training fold of the (centred) kernel
# ----------------------------------------------------------------------------
def _center(K: np.ndarray, rows: np.ndarray, total: float) -> np.ndarray:
    """``KernelCenterer.transform``: ``K - rows - mean over columns of K + total``."""
    return K - rows[None, :] - K.mean(1)[:, None] + total


def _decompose(Ktr: np.ndarray, dtype: np.dtype, center: bool) -> _Decomposition:
    """Eigendecomposition of one training kernel (centred with ``center``), every
    eigenvalue kept: ``Q diag(1 / (lam + alpha)) Q^T`` is then exactly
    ``(K + alpha I)^-1``, negative eigenvalues of an indefinite kernel included."""
    rows = Ktr.mean(0) if center else np.zeros(Ktr.shape[0])
    Kc = _center(Ktr, rows, float(rows.mean())) if center else Ktr
    lam, Q = np.linalg.eigh((Kc + Kc.T) / 2)
    lam, Q = lam[::-1], Q[:, ::-1]
    Qd = np.ascontiguousarray(Q, dtype=dtype)
    return _Decomposition(np.ascontiguousarray(lam), Qd, rows, "direct", M=Qd)


def _kernel_plan(
    K: np.ndarray, splits: Sequence[tuple[np.ndarray, np.ndarray]], *, alphas: np.ndarray,
    dtype: np.dtype, fit_intercept: bool,
) -> _Plan:
    """A :class:`_Plan` on the kernel: ``F = M = Q``, ``A = K_test Q`` per fold; the refit's
    ``weights`` are then the dual coefficients and ``x_mean`` the kernel's column means, so
    the shared chunk kernels of :func:`fit_ridge` apply unchanged.

    Alphas below twice the magnitude of a fold's most negative eigenvalue (an indefinite
    kernel) are invalid (himalaya's rule).
    """
    if K.shape[0] <= _SMALL_DECOMPOSITION:  # small eigh: one BLAS thread is much faster
        with one_blas_thread():
            return _kernel_plan_(K, splits, alphas, dtype, fit_intercept)
    return _kernel_plan_(K, splits, alphas, dtype, fit_intercept)


def _kernel_plan_(
    K: np.ndarray, splits: Sequence[tuple[np.ndarray, np.ndarray]], alphas: np.ndarray,
    dtype: np.dtype, fit_intercept: bool,
) -> _Plan:
    folds = []
    invalid = np.zeros(len(alphas), dtype=bool)
    for train, test in splits:
        dec = _decompose(K[np.ix_(train, train)], dtype, fit_intercept)
        invalid |= alphas < -2.0 * min(float(dec.lam[-1]), 0.0)
        Kte = K[np.ix_(test, train)]
        if fit_intercept:
            Kte = _center(Kte, dec.x_mean, float(dec.x_mean.mean()))
        A = np.ascontiguousarray(Kte @ dec.F.astype(np.float64), dtype=dtype)
        folds.append(_Fold(np.asarray(train), np.asarray(test), dec, A))
    full = _decompose(K, dtype, fit_intercept)
    return _Plan(
        X=np.zeros((K.shape[0], 0), dtype=dtype), x_mean=full.x_mean,
        folds=tuple(folds), full=full, alphas=np.asarray(alphas, dtype=np.float64),
        dtype=np.dtype(dtype), solver="kernel-eigh",
        meta={"invalid_alphas": invalid, "n_dual": K.shape[0]}, fit_intercept=fit_intercept,
    )


def _kernel_nbytes(n: int, splits: Sequence[tuple[np.ndarray, np.ndarray]], item: int) -> float:
    total = 3.0 * 8 * n * n + 2.0 * item * n * n  # kernel, centred copy, eigh; refit Q
    total += sum(item * (len(tr) + len(te)) * len(tr) for tr, te in splits)
    return total


def _dual_spec(plan: _Plan, return_weights: bool) -> dict[str, tuple[tuple[int, ...], Any]]:
    spec = _fit_spec(plan, False)
    if return_weights:
        spec["intercept"] = ((), np.float64)
        spec["weights"] = ((int(plan.meta["n_dual"]),), plan.dtype)
    return spec


def _fit_dual(
    K: np.ndarray, Y: Any, splits: list[tuple[np.ndarray, np.ndarray]], *, alphas: np.ndarray,
    dtype: np.dtype, chunk_units: int | None, return_weights: bool, compute: bool,
    sample_dim: str, fit_intercept: bool, alpha_per_unit: bool, conservative: bool, ties: str,
) -> tuple[dict[str, Any], _Plan]:
    plan = _kernel_plan(K, splits, alphas=alphas, dtype=dtype, fit_intercept=fit_intercept)
    shared = not alpha_per_unit
    out = map_units(
        Y, _fit_block, _dual_spec(plan, return_weights and not shared),
        chunk_units=chunk_units, compute=compute or shared, shared=plan,
        return_weights=return_weights and not shared, sample_dim=sample_dim, ties=ties,
        conservative=conservative,
    )
    if shared:
        index = _shared_index(out["cv_r2"], ties)
        out["best"] = np.where(np.all(np.isnan(out["cv_r2"]), axis=0), -1, index)
        if return_weights:
            spec = {"intercept": ((), np.float64), "weights": ((K.shape[0],), plan.dtype)}
            out.update(map_units(
                Y, _refit_block, spec, chunk_units=chunk_units, compute=compute, shared=plan,
                alpha_index=index, sample_dim=sample_dim,
            ))
    return out, plan


def _kernel_memory(
    n: int, m: int, splits: Any, dt: np.dtype, n_alpha: int, *, n_candidates: int = 1,
    chunk_units: int | None, lazy: bool, compute: bool, return_weights: bool, func: str,
    limit: float | None,
) -> None:
    check_memory(
        {
            "kernel decompositions": (
                n_candidates * _kernel_nbytes(n, splits, np.dtype(dt).itemsize), FIX_FOLDS),
            **_unit_parts(n, m, n, n_alpha, dt, chunk_units=chunk_units, lazy=lazy,
                          compute=compute, return_weights=return_weights),
        },
        func=func, limit=limit,
    )


def fit_kernel_ridge(
    features: Any,
    responses: Any,
    *,
    kernel: Literal["linear", "polynomial", "poly", "rbf", "sigmoid", "cosine"] = "linear",
    kernel_params: Mapping[str, float] | None = None,
    alphas: Iterable[float] | np.ndarray = DEFAULT_ALPHAS,
    cv: Any = 5,
    groups: Any = None,
    scoring: Literal["r2", "r"] = "r2",
    dtype: Literal["float32", "float64"] = "float32",
    chunk_units: int | None = None,
    return_weights: bool = True,
    compute: bool = True,
    memory_limit: float | None = None,
    fit_intercept: bool = True,
    alpha_per_unit: bool = True,
    conservative: bool = False,
    ties: Ties = "smallest",
) -> xr.Dataset:
    """Kernel ridge regression of every unit, with a cross-validated alpha per unit.

    The dual form of ridge on a kernel ``K = k(X, X)`` of the stimuli: dual
    coefficients ``a = (K_c + alpha I)^-1 (Y - mean(Y))`` with ``K_c`` the
    kernel centred in feature space (``fit_intercept=True``), predictions
    ``k(X_new, X) a + intercept``. Each training fold's centred kernel is
    decomposed once; held-out scores of every alpha for every unit follow
    from matrix products, and each unit keeps the alpha with the best pooled
    held-out R^2, exactly as :func:`fit_ridge` (which is this with the
    linear kernel). The results match himalaya's ``KernelRidgeCV``.

    Parameters
    ----------
    features : DataArray (stimulus, feature) or (time, feature), one-layer DataTree, or array
        Aligned with ``responses`` by stimulus id.
    responses : DataArray or ndarray
        ``(stimulus, unit)`` or ``(time, unit)``, numpy or dask-backed, as in
        :func:`fit_ridge`.
    kernel : {"linear", "polynomial", "poly", "rbf", "sigmoid", "cosine"}
        See :data:`neurorep.encoding.KERNELS`. ``"sigmoid"`` kernels are
        not positive semi-definite: alphas below twice the magnitude of a
        fold's most negative eigenvalue are not considered (himalaya's rule);
        the refit solves ``(K_c + alpha I) a = Y_c`` as it stands.
    kernel_params : dict, optional
        ``degree``, ``gamma`` (default ``1 / n_features``), ``coef0``.
    alphas, cv, groups, scoring, dtype, chunk_units
        As in :func:`fit_ridge`.
    return_weights : bool
        Refit on all samples and return ``dual_weights``, ``intercept`` and
        the training features (for :func:`predict_kernel_ridge`).
    compute, memory_limit
        As in :func:`fit_ridge`.
    fit_intercept, alpha_per_unit, conservative, ties
        As in :func:`fit_ridge`.

    Returns
    -------
    Dataset
        ``alpha``, ``score``, ``r``, ``r2`` (unit), ``cv_r``, ``cv_r2``
        (alphas, unit) as :func:`fit_ridge`; with ``return_weights``
        ``dual_weights`` (sample, unit), ``intercept`` (unit) and
        ``train_features`` (sample, feature). Attrs record the kernel and
        its parameters.

    Raises
    ------
    SchemaError, AlignmentError, ValueError
        As :func:`fit_ridge`; also an unknown kernel or kernel parameter.
    MemoryError
        The kernel decompositions (``n_samples^2`` per fold) would need more
        than ``memory_limit``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.encoding import fit_kernel_ridge, predict_kernel_ridge
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-2, 2, size=(80, 1))
    >>> Y = np.c_[np.sin(2 * X[:, 0]), X[:, 0] ** 2] + 0.1 * rng.normal(size=(80, 2))
    >>> rbf = fit_kernel_ridge(X, Y, kernel="rbf", kernel_params={"gamma": 2.0},
    ...                        alphas=np.logspace(-3, 2, 6), cv=4)
    >>> lin = fit_kernel_ridge(X, Y, alphas=np.logspace(-3, 2, 6), cv=4)
    >>> bool((rbf["r2"] > 0.9).all()), bool((lin["r2"] < 0.5).all())
    (True, True)
    >>> predict_kernel_ridge(rbf, X[:3]).shape
    (3, 2)
    """
    alphas_arr, dt = _check_common(alphas, dtype, "auto", scoring, chunk_units)
    check_selection(fit_intercept=fit_intercept, alpha_per_unit=alpha_per_unit,
                    conservative=conservative, ties=ties)
    kp = _check_kernel(kernel, kernel_params)
    prep = prepare(features, responses, groups=groups)
    n = prep.X.shape[0]
    splits = make_splits(n, cv, groups=prep.groups)
    _kernel_memory(n, prep.Y.shape[1], splits, dt, len(alphas_arr), chunk_units=chunk_units,
                   lazy=is_lazy(prep.Y), compute=compute, return_weights=return_weights,
                   func="fit_kernel_ridge", limit=memory_limit)
    K = KERNELS[kernel](prep.X, prep.X, **kp)
    out, plan = _fit_dual(
        K, prep.Y, splits, alphas=alphas_arr, dtype=dt, chunk_units=chunk_units,
        return_weights=return_weights, compute=compute, sample_dim=prep.sample_dim,
        fit_intercept=fit_intercept, alpha_per_unit=alpha_per_unit, conservative=conservative,
        ties=ties,
    )
    if isinstance(out["constant"], np.ndarray):
        warn_constant(int(out["constant"].sum()), out["constant"].size)
    best = out["best"]
    r2, r = _take_best(out["cv_r2"], best), _take_best(out["cv_r"], best)
    ds = xr.Dataset(
        {
            "alpha": ("unit", _alpha_of(best, alphas_arr)),
            "score": ("unit", r2 if scoring == "r2" else r),
            "r": ("unit", r), "r2": ("unit", r2),
            "cv_r": (("alphas", "unit"), out["cv_r"]),
            "cv_r2": (("alphas", "unit"), out["cv_r2"]),
        },
        coords={**prep.unit_coords, "alphas": ("alphas", alphas_arr)},
    )
    if return_weights:
        _add_dual(ds, prep, out)
    params = {
        "alphas": alphas_arr.tolist(), "cv": _describe_cv(cv), "n_folds": len(splits),
        "scoring": scoring, "dtype": str(dt), "solver": plan.solver,
        "grouped": int(prep.groups is not None), "fit_intercept": int(fit_intercept),
        "alpha_per_unit": int(alpha_per_unit), "conservative": int(conservative), "ties": ties,
    }
    _finish(ds, prep, params, kind="fit_kernel_ridge", kernels={"kernel": kernel, **kp})
    return ds


def _add_dual(ds: xr.Dataset, prep: Any, out: dict[str, Any]) -> None:
    dim = prep.sample_dim
    ds["dual_weights"] = ((dim, "unit"), out["weights"])
    ds["intercept"] = ("unit", out["intercept"])
    ds["train_features"] = ((dim, "feature"), prep.X)
    ds.coords.update({k: v for k, v in prep.sample_coords.items()})
    ds.coords["feature"] = ("feature", prep.feature_ids)


def _finish(ds: xr.Dataset, prep: Any, params: dict[str, Any], *, kind: str,
            kernels: dict[str, Any]) -> None:
    ds["score"].attrs = {
        "metric": params["scoring"],
        "description": "held-out score of the pooled out-of-fold predictions at the chosen alpha",
    }
    ds.attrs = {
        "analysis": kind, "neurorep_version": __version__, "sample_dim": prep.sample_dim,
        "n_samples": int(prep.X.shape[0]), "alpha_selection": _describe_selection(params),
        **params, **{k: (v if isinstance(v, str) else float(v)) for k, v in kernels.items()
                     if not isinstance(v, dict) and v is not None},
        **prep.attrs,
    }


def _train_features(result: xr.Dataset, name: str) -> np.ndarray:
    if name not in result or "dual_weights" not in result or "intercept" not in result:
        raise SchemaError(
            f"predict_kernel_ridge: result has no 'dual_weights'/'intercept'/{name!r}; fit "
            f"with return_weights=True."
        )
    return np.asarray(result[name].values, dtype=np.float64)


def _new_features(
    features: Any, n_features: int, name: str
) -> tuple[np.ndarray, str, dict[str, Any]]:
    Xa = as_feature_array(features, name=name)
    if isinstance(Xa, xr.DataArray):
        X = _as_matrix(Xa.values, name)
        dim = str(Xa.dims[0])
        coords = {str(k): v for k, v in Xa.coords.items() if v.dims == (dim,)}
    else:
        X, dim, coords = _as_matrix(Xa, name), "", {}
    if X.shape[1] != n_features:
        raise SchemaError(
            f"{name} has {X.shape[1]} features; the model was fit on {n_features}. Pass the same "
            f"feature space."
        )
    return X, dim, coords


def predict_kernel_ridge(result: xr.Dataset, features: Any) -> xr.DataArray:
    """Predict responses from new features with a :func:`fit_kernel_ridge` or
    :func:`fit_multiple_kernel_ridge` result.

    ``k(X_new, X_train) a + intercept`` (multiple kernels: ``sum_s gamma_s k_s``,
    with each unit's own kernel weights).

    Parameters
    ----------
    result : Dataset
        With ``dual_weights``, ``intercept`` and the training features.
    features : DataArray (stimulus or time, feature) or array; for multiple
        kernels a mapping name -> features of every space (as in the fit)

    Returns
    -------
    DataArray
        Predictions ``(stimulus, unit)`` or ``(time, unit)``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.encoding import fit_kernel_ridge, predict_kernel_ridge
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(40, 3)), rng.normal(size=(40, 2))
    >>> res = fit_kernel_ridge(X, Y, kernel="poly", cv=2)
    >>> predict_kernel_ridge(res, X[:5]).shape
    (5, 2)
    """
    if result.attrs.get("analysis") == "fit_multiple_kernel_ridge":
        return _predict_multiple(result, features)
    Xtr = _train_features(result, "train_features")
    X, dim, coords = _new_features(features, Xtr.shape[1], "predict_kernel_ridge: features")
    kernel = str(result.attrs["kernel"])
    kp = {k: result.attrs[k] for k in _PARAMS[kernel] if k in result.attrs}
    Kn = KERNELS[kernel](X, Xtr, **kp)
    pred = Kn @ np.asarray(result["dual_weights"].values, dtype=np.float64)
    pred += np.asarray(result["intercept"].values)
    dim = dim or str(result.attrs.get("sample_dim", "stimulus"))
    unit_coords = {k: v for k, v in result["intercept"].coords.items()}
    return xr.DataArray(pred, dims=(dim, "unit"), coords={**coords, **unit_coords},
                        name="prediction")


# ----------------------------------------------------------------------------
# multiple-kernel ridge: a weighted sum of per-space kernels, weights by random search
# ----------------------------------------------------------------------------
def _per_space(value: Any, names: list[str], what: str) -> dict[str, Any]:
    if isinstance(value, Mapping):
        missing = [k for k in names if k not in value]
        extra = [k for k in value if k not in names]
        if missing or extra:
            raise ValueError(
                f"{what} must name every space {names}; missing {missing}, unknown {extra}."
            )
        return {k: value[k] for k in names}
    return dict.fromkeys(names, value)


def _mkr_block(
    Y: np.ndarray, plans: tuple[_Plan, ...], *, sample_dim: str, ties: str,
    conservative: bool,
) -> dict[str, np.ndarray]:
    from neurorep.encoding._ridge import cv_select

    dtype = plans[0].dtype
    Y, spread = check_block(Y, sample_dim, dtype)
    m = Y.shape[1]
    constant = spread == 0
    Yc, y_mean = center_chunk(Y, dtype, plans[0].fit_intercept)
    if constant.any():
        Yc[:, constant] = 0
    n_c = len(plans)
    cv_r2_best = np.full((n_c, m), np.nan)
    cv_r_best = np.full((n_c, m), np.nan)
    best_score = np.full(m, -np.inf)
    best_c = np.full(m, -1, dtype=np.intp)
    best_a = np.full(m, -1, dtype=np.intp)
    cols = np.arange(m)
    for ci, plan in enumerate(plans):
        r2, r, b = cv_select(plan, Yc, None, ties=ties, conservative=conservative)
        at = np.where(b < 0, 0, b)
        cv_r2_best[ci] = np.where(b >= 0, r2[at, cols], np.nan)
        cv_r_best[ci] = np.where(b >= 0, r[at, cols], np.nan)
        s = cv_r2_best[ci]
        better = np.where(np.isnan(s), False, s > best_score)  # the first of equal candidates
        best_score[better] = s[better]
        best_c[better] = ci
        best_a[better] = b[better]
    n = Y.shape[0]
    dual = np.zeros((n, m), dtype=dtype)
    intercept = y_mean.copy()
    for ci in np.unique(best_c[best_c >= 0]):
        units = np.flatnonzero(best_c == ci)
        w = _weights(plans[ci], np.ascontiguousarray(Yc[:, units]), y_mean[units], best_a[units],
                     None)
        dual[:, units] = w["weights"]
        intercept[units] = w["intercept"]
    return {"cv_r2": cv_r2_best, "cv_r": cv_r_best, "best_c": best_c, "best_a": best_a,
            "dual": dual, "intercept": intercept, "constant": constant}


def _mkr_scores_block(
    Y: np.ndarray, plans: tuple[_Plan, ...], *, sample_dim: str
) -> dict[str, np.ndarray]:
    """Every candidate's pooled held-out R^2 and r (candidate, alpha, unit)."""
    from neurorep.encoding._ridge import cv_select

    dtype = plans[0].dtype
    Y, spread = check_block(Y, sample_dim, dtype)
    Yc, _ = center_chunk(Y, dtype, plans[0].fit_intercept)
    if (spread == 0).any():
        Yc[:, spread == 0] = 0
    r2, r = zip(*(cv_select(plan, Yc, None)[:2] for plan in plans), strict=True)
    return {"cv_r2": np.stack(r2), "cv_r": np.stack(r), "constant": spread == 0}


def _mkr_shared(
    Y: Any, plans: tuple[_Plan, ...], *, chunk_units: int | None, compute: bool,
    sample_dim: str, ties: str,
) -> dict[str, Any]:
    """One candidate and one alpha for every unit (himalaya's ``local_alpha=False``): each
    candidate's alpha has the best mean pooled R^2 over units, and the candidate with
    the best such mean (the first of equal means) is kept."""
    n_c, n_a = len(plans), len(plans[0].alphas)
    spec = {"cv_r2": ((n_c, n_a), np.float64), "cv_r": ((n_c, n_a), np.float64),
            "constant": ((), bool)}
    sc = map_units(Y, _mkr_scores_block, spec, chunk_units=chunk_units, compute=True,
                   shared=plans, sample_dim=sample_dim)
    index = np.array([_shared_index(c, ties) for c in sc["cv_r2"]])
    at = np.where(index < 0, 0, index)
    r2 = np.where(index[:, None] >= 0, sc["cv_r2"][np.arange(n_c), at], np.nan)  # (cand, unit)
    r = np.where(index[:, None] >= 0, sc["cv_r"][np.arange(n_c), at], np.nan)
    dead = np.all(np.isnan(sc["cv_r2"]), axis=(0, 1))
    with np.errstate(invalid="ignore"):
        means = np.array([np.nanmean(row[~dead]) if (~dead).any() and np.isfinite(
            row[~dead]).any() else -np.inf for row in r2])
    c = int(np.argmax(means)) if np.isfinite(means).any() else -1
    a = int(index[c]) if c >= 0 else -1
    out: dict[str, Any] = {"cv_r2": r2, "cv_r": r}
    out["best_c"] = np.where(dead | (a < 0), -1, c)
    out["best_a"] = np.where(dead | (a < 0), -1, a)
    refit = map_units(Y, _refit_block, {"intercept": ((), np.float64),
                                        "weights": ((plans[0].meta["n_dual"],), plans[0].dtype)},
                      chunk_units=chunk_units, compute=compute, shared=plans[max(c, 0)],
                      alpha_index=a, sample_dim=sample_dim)
    out["dual"], out["intercept"] = refit["weights"], refit["intercept"]
    out["constant"] = sc["constant"]
    return out


def fit_multiple_kernel_ridge(
    spaces: Mapping[str, Any] | xr.DataTree | Sequence[Any],
    responses: Any,
    *,
    kernels: str | Mapping[str, str] = "linear",
    kernel_params: Mapping[str, Any] | None = None,
    kernel_weights: Any = None,
    n_candidates: int = 9,
    alphas: Iterable[float] | np.ndarray = DEFAULT_ALPHAS,
    cv: Any = 5,
    groups: Any = None,
    scoring: Literal["r2", "r"] = "r2",
    dtype: Literal["float32", "float64"] = "float32",
    chunk_units: int | None = None,
    rng: np.random.Generator | int | None = None,
    compute: bool = True,
    memory_limit: float | None = None,
    fit_intercept: bool = True,
    alpha_per_unit: bool = True,
    conservative: bool = False,
    ties: Ties = "smallest",
) -> xr.Dataset:
    """Multiple-kernel ridge: one kernel per feature space, weights and alpha per unit by CV.

    The model is kernel ridge on ``K = sum_s gamma_s K_s`` with ``gamma`` on
    the simplex and penalty ``alpha``, i.e. a penalty ``alpha / gamma_s`` per
    space (with linear kernels this is :func:`fit_banded_ridge`). Each
    candidate ``gamma`` (row of ``kernel_weights``) gets one decomposition
    per fold serving every alpha and unit; each unit keeps the candidate and
    alpha with the best pooled held-out R^2 (the first candidate of equal
    scores). This is himalaya's ``MultipleKernelRidgeCV`` with the
    ``"random_search"`` solver given the same candidates (its ``n_iter``
    array), and matches it when the folds have equal sizes.

    Parameters
    ----------
    spaces : mapping name -> features, DataTree of layers, or list
        Each a DataArray (stimulus or time, feature) or array, aligned with
        the responses by stimulus id.
    responses : DataArray or ndarray
        ``(stimulus, unit)`` or ``(time, unit)``, aligned with the spaces.
    kernels : str or mapping name -> str
        The kernel of every space, or one per space (:data:`KERNELS`).
    kernel_params : dict, or mapping name -> dict, optional
        Parameters of the kernels (one dict for all spaces, or one per space).
    kernel_weights : array (n_candidates, n_spaces), optional
        Candidate ``gamma`` rows (positive, normalised to sum 1); default
        :func:`neurorep.encoding.default_space_weights`.
    n_candidates : int
        Size of the default candidate set.
    alphas, cv, groups, scoring, dtype, chunk_units
        As in :func:`fit_ridge`.
    rng : int, Generator or None
        For the random default candidates with three or more spaces.
    compute, memory_limit
        As in :func:`fit_ridge`.
    fit_intercept : bool
        Fit an intercept (default True), as in :func:`fit_ridge`.
    alpha_per_unit : bool
        Choose each unit's candidate and alpha (default True) or, with
        False, one candidate and one alpha for every unit, as himalaya's
        ``local_alpha=False``: each candidate's alpha has the best mean
        pooled R^2 over units, and the candidate with the best such mean
        (the first of equal means) is kept. Not with ``conservative``.
    conservative, ties
        As in :func:`fit_ridge` (the alpha choice within each candidate).

    Returns
    -------
    Dataset
        ``alpha`` (space, unit) per-space penalties ``alpha / gamma_s``;
        ``kernel_weight`` (space, unit) the chosen ``gamma``; ``score``,
        ``r``, ``r2`` (unit); ``cv_score`` (candidate, unit; the pooled
        held-out ``scoring`` of each candidate at its best alpha);
        ``space_weight`` (candidate, space); ``dual_weights`` (sample, unit)
        and ``intercept`` (unit) for the kernel ``sum_s gamma_s K_s``; the
        training features of every space (``train_<name>``) for
        :func:`predict_kernel_ridge`.

    Raises
    ------
    SchemaError, AlignmentError, ValueError
        As :func:`fit_ridge`; also an unknown kernel or parameter, or bad
        ``kernel_weights``.
    MemoryError
        The candidates' kernel decompositions would need more than
        ``memory_limit``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.encoding import fit_multiple_kernel_ridge, predict_kernel_ridge
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(80, 2)), rng.normal(size=(80, 5))
    >>> y = np.sin(2 * a[:, :1]) + 0.1 * rng.normal(size=(80, 1))
    >>> res = fit_multiple_kernel_ridge({"a": a, "b": b}, y, kernels={"a": "rbf", "b": "linear"},
    ...                                 alphas=np.logspace(-3, 2, 6), cv=4, n_candidates=5)
    >>> float(res["kernel_weight"].sel(space="a")[0]) > 0.5
    True
    >>> predict_kernel_ridge(res, {"a": a[:3], "b": b[:3]}).shape
    (3, 1)
    """
    from neurorep.encoding._banded import _spaces, default_space_weights

    alphas_arr, dt = _check_common(alphas, dtype, "auto", scoring, chunk_units)
    check_selection(fit_intercept=fit_intercept, alpha_per_unit=alpha_per_unit,
                    conservative=conservative, ties=ties)
    items = _spaces(spaces)
    names = list(items)
    kern = _per_space(kernels, names, "kernels")
    if kernel_params is not None and isinstance(kernel_params, Mapping) and set(
        kernel_params) <= set(names) and kernel_params:
        params = _per_space(kernel_params, names, "kernel_params")
    else:
        params = dict.fromkeys(names, kernel_params)
    kps = {k: _check_kernel(kern[k], params[k], name=f"kernels[{k!r}]") for k in names}
    Xs: dict[str, np.ndarray] = {}
    prep = None
    for name in names:
        feats = items[name]
        if isinstance(feats, xr.DataArray) and isinstance(responses, xr.DataArray) and (
            feats.dims[0] == "stimulus" == responses.dims[0]
        ):
            _, feats = align(responses, feats, join="exact",
                             names=("responses", f"spaces[{name!r}]"))
        pr = prepare(feats, responses, groups=groups, feature_name=f"spaces[{name!r}]")
        if prep is not None and pr.X.shape[0] != prep.X.shape[0]:
            raise SchemaError(
                f"spaces[{name!r}] has {pr.X.shape[0]} samples; the first space has "
                f"{prep.X.shape[0]}."
            )
        prep = prep or pr
        Xs[name] = pr.X
    assert prep is not None
    n = prep.X.shape[0]
    m = prep.Y.shape[1]
    splits = make_splits(n, cv, groups=prep.groups)
    if kernel_weights is None:
        if isinstance(n_candidates, bool) or not isinstance(n_candidates, int | np.integer) or (
            n_candidates < 1
        ):
            raise ValueError(f"n_candidates must be a positive int; got {n_candidates!r}.")
        gammas = default_space_weights(len(names), n_candidates=int(n_candidates),
                                       rng=as_generator(rng))
    else:
        raw = np.atleast_2d(np.asarray(kernel_weights))
        if raw.dtype.kind == "c":
            raise complex_error("kernel_weights", raw.dtype)
        gammas = raw.astype(np.float64)
        if gammas.ndim != 2 or gammas.shape[1] != len(names) or np.any(gammas <= 0) or (
            not np.isfinite(gammas).all()
        ):
            raise ValueError(
                f"kernel_weights must be positive and finite, shape (n_candidates, {len(names)}); "
                f"got shape {gammas.shape}."
            )
        gammas = gammas / gammas.sum(1, keepdims=True)
    _kernel_memory(n, m, splits, dt, len(alphas_arr), n_candidates=len(gammas),
                   chunk_units=chunk_units, lazy=is_lazy(prep.Y), compute=compute,
                   return_weights=True, func="fit_multiple_kernel_ridge", limit=memory_limit)
    Ks = [KERNELS[kern[k]](Xs[k], Xs[k], **kps[k]) for k in names]
    plans = []
    for g in gammas:
        K = sum(gi * Ki for gi, Ki in zip(g, Ks, strict=True))
        plans.append(_kernel_plan(np.asarray(K), splits, alphas=alphas_arr, dtype=dt,
                                  fit_intercept=fit_intercept))
    n_c = len(plans)
    spec = {
        "cv_r2": ((n_c,), np.float64), "cv_r": ((n_c,), np.float64), "best_c": ((), np.intp),
        "best_a": ((), np.intp), "dual": ((n,), dt), "intercept": ((), np.float64),
        "constant": ((), bool),
    }
    if alpha_per_unit:
        out = map_units(prep.Y, _mkr_block, spec, chunk_units=chunk_units, compute=compute,
                        shared=tuple(plans), sample_dim=prep.sample_dim, ties=ties,
                        conservative=conservative)
    else:
        out = _mkr_shared(prep.Y, tuple(plans), chunk_units=chunk_units, compute=compute,
                          sample_dim=prep.sample_dim, ties=ties)
    if isinstance(out["constant"], np.ndarray):
        warn_constant(int(out["constant"].sum()), out["constant"].size)

    def per_unit(bc: np.ndarray, ba: np.ndarray) -> np.ndarray:
        ok = (bc >= 0) & (ba >= 0)
        g = np.where(ok[None, :], gammas[np.where(ok, bc, 0)].T, np.nan)  # (space, unit)
        a = np.where(ok, alphas_arr[np.where(ok, ba, 0)], np.nan)
        return np.concatenate([a[None, :] / g, g])

    best_c, best_a = out["best_c"], out["best_a"]
    n_s = len(names)
    if isinstance(best_c, np.ndarray):
        both = per_unit(best_c, best_a)
    else:
        import dask.array as da

        both = da.map_blocks(per_unit, best_c, best_a, new_axis=0,
                             chunks=((2 * n_s,), best_c.chunks[0]), dtype=np.float64)
    r2 = _take_best(out["cv_r2"], best_c)
    r = _take_best(out["cv_r"], best_c)
    dim = prep.sample_dim
    ds = xr.Dataset(
        {
            "alpha": (("space", "unit"), both[:n_s]),
            "kernel_weight": (("space", "unit"), both[n_s:]),
            "score": ("unit", r2 if scoring == "r2" else r),
            "r": ("unit", r), "r2": ("unit", r2),
            "cv_score": (("candidate", "unit"), out["cv_r2"] if scoring == "r2" else out["cv_r"]),
            "space_weight": (("candidate", "space"), gammas),
            "dual_weights": ((dim, "unit"), out["dual"]),
            "intercept": ("unit", out["intercept"]),
        },
        coords={**prep.unit_coords, **prep.sample_coords, "space": ("space", np.asarray(names)),
                "candidate": ("candidate", np.arange(n_c))},
    )
    for name in names:
        ds[f"train_{name}"] = ((dim, f"feature_{name}"), Xs[name])
    params = {
        "alphas": alphas_arr.tolist(), "cv": _describe_cv(cv), "n_folds": len(splits),
        "scoring": scoring, "dtype": str(dt), "solver": "kernel-eigh",
        "grouped": int(prep.groups is not None), "fit_intercept": int(fit_intercept),
        "alpha_per_unit": int(alpha_per_unit), "conservative": int(conservative), "ties": ties,
    }
    _finish(ds, prep, params, kind="fit_multiple_kernel_ridge", kernels={})
    ds.attrs["kernels"] = [kern[k] for k in names]
    ds.attrs["kernel_params"] = repr({k: kps[k] for k in names})
    return ds


def _predict_multiple(result: xr.Dataset, features: Any) -> xr.DataArray:
    import ast

    from neurorep.encoding._banded import _spaces

    names = [str(s) for s in result["space"].values]
    items = _spaces(features)
    if sorted(items) != sorted(names):
        raise SchemaError(
            f"predict_kernel_ridge: pass the features of every space {names}; got {list(items)}."
        )
    kernels = list(np.atleast_1d(result.attrs["kernels"]))
    kps = ast.literal_eval(str(result.attrs["kernel_params"]))
    gamma = np.asarray(result["kernel_weight"].values, dtype=np.float64)  # (space, unit)
    dual = np.asarray(result["dual_weights"].values, dtype=np.float64)
    pred = None
    dim: str = ""
    coords: dict[str, Any] = {}
    for si, name in enumerate(names):
        Xtr = _train_features(result, f"train_{name}")
        X, dim, coords = _new_features(items[name], Xtr.shape[1],
                                       f"predict_kernel_ridge: features[{name!r}]")
        part = (KERNELS[str(kernels[si])](X, Xtr, **kps[name]) @ dual) * np.nan_to_num(gamma[si])
        pred = part if pred is None else pred + part
    assert pred is not None
    pred += np.asarray(result["intercept"].values)
    dim = dim or str(result.attrs.get("sample_dim", "stimulus"))
    unit_coords = {k: v for k, v in result["intercept"].coords.items()}
    return xr.DataArray(pred, dims=(dim, "unit"), coords={**coords, **unit_coords},
                        name="prediction")
