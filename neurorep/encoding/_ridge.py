"""Ridge regression with a per-unit alpha chosen by cross-validation."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep import __version__
from neurorep._core.errors import SchemaError, check_option
from neurorep._core.memory import check_allocation
from neurorep.encoding._chunks import check_block, map_units
from neurorep.encoding._cv import fold_labels, make_splits
from neurorep.encoding._inputs import (
    Prepared,
    as_feature_array,
    as_real_float,
    check_alphas,
    check_chunk_units,
    check_dtype,
    is_lazy,
    prepare,
    warn_constant,
    warn_unresolved_r,
)
from neurorep.encoding._solvers import (
    SOLVERS,
    PooledSums,
    _Plan,
    build_plan,
    center_chunk,
    cv_scores_chunk,
    full_projection,
    plan_nbytes,
    weights_from_projection,
)
from neurorep.stats import SCORES

__all__ = ["SCORINGS", "cross_validate_ridge", "fit_ridge", "predict_ridge"]

#: Held-out scores reported as ``score``: R^2 and Pearson r (both are always reported).
#: Alphas are chosen by held-out squared error (pooled R^2) whatever the scoring: Pearson
#: r ignores the scale of the predictions, so it cannot see over-shrinkage.
SCORINGS = SCORES
DEFAULT_ALPHAS = np.logspace(-2, 6, 9)
Solver = Literal["auto", "eigh", "svd", "kernel"]
Ties = Literal["smallest", "largest"]
#: Which alpha is kept when several have exactly the best held-out score.
TIES = ("smallest", "largest")


def check_selection(
    *, fit_intercept: Any, alpha_per_unit: Any, conservative: Any, ties: Any
) -> None:
    """Validate the alpha-selection options shared by the ridge entry points."""
    for name, value in (("fit_intercept", fit_intercept), ("alpha_per_unit", alpha_per_unit),
                        ("conservative", conservative)):
        if not isinstance(value, bool | np.bool_):
            raise TypeError(f"{name} must be True or False; got {value!r}.")
    check_option("ties", ties, TIES)
    if conservative and not alpha_per_unit:
        raise ValueError(
            "conservative=True needs alpha_per_unit=True: the one-standard-deviation rule is "
            "defined per unit (himalaya does not define it for a shared alpha either). Pass "
            "conservative=False or alpha_per_unit=True."
        )


def _check_common(
    alphas: Any, dtype: Any, solver: str, scoring: str, chunk_units: Any = None
) -> tuple[np.ndarray, np.dtype]:
    check_option("solver", solver, ("auto", *SOLVERS))
    check_option("scoring", scoring, SCORINGS)
    check_chunk_units(chunk_units)
    return check_alphas(alphas), check_dtype(dtype)


def _select(
    cv_r2: np.ndarray, *, ties: str = "smallest", fold_r2: np.ndarray | None = None
) -> np.ndarray:
    """Per-unit index of the alpha with the best pooled held-out R^2 (least squared error);
    -1 where every score is NaN.

    ``ties`` keeps the ``"smallest"`` (first) or ``"largest"`` (last) of the alphas whose
    scores are exactly equal to the best. With ``fold_r2`` (fold, alpha, unit; each
    fold's squared error on the pooled R^2 scale, see :func:`_fold_r2`) the choice is
    himalaya's conservative one: the largest alpha whose score beats the best score
    minus the standard deviation (over folds, ddof 0) of the best alpha's fold scores.

    The choice never uses Pearson r: r is blind to the scale of the predictions, so it
    cannot see over-shrinkage and drifts to the largest alpha on weak, low-dimensional
    features (scikit-learn's RidgeCV and himalaya choose by squared error or R^2 too).
    """
    filled = np.where(np.isnan(cv_r2), -np.inf, cv_r2)
    last = filled.shape[0] - 1
    if ties == "largest":
        best = last - np.argmax(filled[::-1], axis=0)
    else:
        best = np.argmax(filled, axis=0)
    if fold_r2 is not None:
        cols = np.arange(best.size)
        with np.errstate(invalid="ignore"):
            spread = fold_r2.std(0)  # (alpha, unit)
            beats = filled > (filled[best, cols] - spread[best, cols])[None, :]
        best = np.where(beats.any(0), last - np.argmax(beats[::-1], axis=0), best)
    best[np.all(np.isnan(cv_r2), axis=0)] = -1
    return best


def _fold_r2(sums: PooledSums) -> np.ndarray:
    """Each fold's mean squared error on the pooled R^2 scale, ``1 - n MSE_f / SST``
    (fold, alpha, unit): their mean over equal folds is the pooled R^2, and they are
    himalaya's per-fold scores (negative MSE) up to the positive factor ``n / SST``."""
    assert sums.fold_sse is not None
    n_f = np.asarray(sums.fold_n, dtype=np.float64)[:, None, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - sums.n * sums.fold_sse / n_f / sums.m2_y[None, None, :]


def _shared_index(cv_r2: Any, ties: str) -> int:
    """The one alpha index for every unit: the best mean pooled R^2 over units (-1 if none)."""
    cv = np.asarray(cv_r2)
    valid = ~np.all(np.isnan(cv), axis=0)
    if not valid.any():
        return -1
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN alphas
        mean = np.nanmean(cv[:, valid], axis=1)
    return int(_select(mean[:, None], ties=ties)[0])


def _centred_block(
    Y: np.ndarray, plan: _Plan, sample_dim: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """A chunk's responses checked and centred (constant units zeroed), their means, the
    constant-unit mask and ``X'Y`` (gram plans; else None)."""
    Y, spread = check_block(Y, sample_dim, plan.dtype)
    constant = spread == 0
    Yc, y_mean = center_chunk(Y, plan.dtype, plan.fit_intercept)
    if constant.any():
        Yc[:, constant] = 0
    XtY = plan.X.T @ Yc if plan.mode == "gram" else None
    return Yc, y_mean, constant, XtY


def _fit_block(
    Y: np.ndarray, plan: _Plan, *, return_weights: bool, sample_dim: str = "stimulus",
    ties: str = "smallest", conservative: bool = False,
) -> dict[str, np.ndarray]:
    """The per-chunk kernel of :func:`fit_ridge` (numpy in, numpy out)."""
    Yc, y_mean, constant, XtY = _centred_block(Y, plan, sample_dim)
    cv_r2, cv_r, best = cv_select(plan, Yc, XtY, ties=ties, conservative=conservative)
    out = {"cv_r2": cv_r2, "cv_r": cv_r, "best": best, "constant": constant}
    if return_weights:
        out.update(_weights(plan, Yc, y_mean, best, XtY))
    return out


def cv_select(
    plan: _Plan, Yc: np.ndarray, XtY: np.ndarray | None, *, ties: str = "smallest",
    conservative: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pooled held-out R^2 and r of every alpha (alpha, unit) and each unit's choice.

    Alphas flagged in ``plan.meta["invalid_alphas"]`` (an indefinite kernel) get NaN
    scores and are never chosen.
    """
    sums = PooledSums(len(plan.alphas), Yc.shape[1], len(plan.folds)) if conservative else None
    cv_r2, cv_r = cv_scores_chunk(plan, Yc, XtY=XtY, sums=sums)
    invalid = plan.meta.get("invalid_alphas")
    if invalid is not None and invalid.any():
        cv_r2[invalid] = np.nan
        cv_r[invalid] = np.nan
    best = _select(cv_r2, ties=ties, fold_r2=_fold_r2(sums) if sums is not None else None)
    return cv_r2, cv_r, best


def _weights(
    plan: _Plan, Yc: np.ndarray, y_mean: np.ndarray, best: np.ndarray, XtY: np.ndarray | None
) -> dict[str, np.ndarray]:
    B = full_projection(plan, Yc, XtY)
    W = weights_from_projection(plan.full, B, plan.alphas, best)
    intercept = y_mean - plan.x_mean @ W.astype(np.float64)
    if plan.scale is not None:
        W *= plan.scale[:, None].astype(W.dtype)
    return {"intercept": intercept, "weights": W}


def _refit_block(
    Y: np.ndarray, plan: _Plan, *, alpha_index: int, sample_dim: str = "stimulus"
) -> dict[str, np.ndarray]:
    """Weights and intercepts of a chunk at one alpha shared by every unit."""
    Yc, y_mean, constant, XtY = _centred_block(Y, plan, sample_dim)
    best = np.where(constant, -1, alpha_index)
    return _weights(plan, Yc, y_mean, best, XtY)


def _fit_spec(plan: _Plan, return_weights: bool) -> dict[str, tuple[tuple[int, ...], Any]]:
    n_alpha = len(plan.alphas)
    spec: dict[str, tuple[tuple[int, ...], Any]] = {
        "cv_r2": ((n_alpha,), np.float64),
        "cv_r": ((n_alpha,), np.float64),
        "best": ((), np.intp),
        "constant": ((), bool),
    }
    if return_weights:
        spec["intercept"] = ((), np.float64)
        spec["weights"] = ((plan.X.shape[1],), plan.dtype)
    return spec


def fit_arrays(
    X: np.ndarray,
    Y: Any,
    splits: list[tuple[np.ndarray, np.ndarray]],
    *,
    alphas: np.ndarray,
    solver: str,
    dtype: np.dtype,
    scoring: str,
    chunk_units: int | None,
    return_weights: bool,
    compute: bool,
    sample_dim: str = "stimulus",
    memory_limit: float | None = None,
    func: str = "fit_ridge",
    fit_intercept: bool = True,
    alpha_per_unit: bool = True,
    conservative: bool = False,
    ties: str = "smallest",
) -> tuple[dict[str, Any], _Plan]:
    """Array-level core shared by :func:`fit_ridge` and :class:`RidgeEncoder`.

    ``scoring`` is not used here (alphas are chosen by pooled R^2); it is
    kept so callers pass their options through unchanged. With
    ``alpha_per_unit=False`` the units are scored first (every chunk), the
    shared alpha chosen, then the weights refit in a second pass.
    """
    n, p = X.shape
    m = Y.shape[1]
    lazy = is_lazy(Y)
    check_memory(
        {
            "fold decompositions": (
                plan_nbytes(n, p, splits, solver=solver, dtype=dtype, n_alpha=len(alphas)),
                FIX_FOLDS),
            **_unit_parts(n, m, p, len(alphas), dtype, chunk_units=chunk_units, lazy=lazy,
                          compute=compute, return_weights=return_weights),
        },
        func=func, limit=memory_limit, name="memory_limit" if func != "RidgeEncoder" else None,
    )
    plan = build_plan(X, splits, alphas=alphas, solver=solver, dtype=dtype,
                      fit_intercept=fit_intercept)
    shared = not alpha_per_unit
    out = map_units(
        Y,
        _fit_block,
        _fit_spec(plan, return_weights and not shared),
        chunk_units=chunk_units,
        compute=compute or shared,
        shared=plan,
        return_weights=return_weights and not shared,
        sample_dim=sample_dim,
        ties=ties,
        conservative=conservative,
    )
    if shared:
        index = _shared_index(out["cv_r2"], ties)
        out["best"] = np.where(np.all(np.isnan(out["cv_r2"]), axis=0), -1, index)
        if return_weights:
            spec = {"intercept": ((), np.float64), "weights": ((plan.X.shape[1],), plan.dtype)}
            out.update(map_units(
                Y, _refit_block, spec, chunk_units=chunk_units, compute=compute, shared=plan,
                alpha_index=index, sample_dim=sample_dim,
            ))
    return out, plan


FIX_FOLDS = (
    "Use fewer folds (e.g. cv=5 rather than leave-one-out) or fewer features (e.g. the first "
    "principal components)."
)
FIX_UNITS = (
    "Use fewer alphas, fit the units in parts (responses.isel(unit=slice(...))), or pass "
    "dask-backed responses (responses.chunk(unit=1000)) with compute=False."
)
FIX_CHUNKS = "Use a smaller chunk_units."


def _unit_parts(
    n: int, m: int, p: int, n_alpha: int, dtype: np.dtype, *, chunk_units: int | None,
    lazy: bool, compute: bool, return_weights: bool, n_out: int = 0,
) -> dict[str, tuple[float, str]]:
    """Bytes of the per-unit results (``n_alpha`` scores, weights, ``n_out`` extra values
    per unit) and of the unit chunks in flight at once."""
    item = np.dtype(dtype).itemsize
    parts: dict[str, tuple[float, str]] = {}
    if compute or not lazy:
        per_unit = 8.0 * (2 * n_alpha + 4 + n_out) + (p * item if return_weights else 0)
        parts["per-unit results"] = (per_unit * m, FIX_UNITS)
    if not lazy:
        from neurorep._core.parallel import blas_threads
        from neurorep.encoding._chunks import default_chunk_units

        width = min(m, chunk_units or default_chunk_units(n, m))
        workers = min(blas_threads(), -(-m // max(width, 1)))
        per_col = 3.0 * n * item + 3.0 * (p + min(n, p)) * item + 10.0 * 8 * n_alpha
        parts["unit chunks in flight"] = (per_col * width * workers, FIX_CHUNKS)
    return parts


def check_memory(
    parts: dict[str, tuple[float, str]], *, func: str, limit: float | None,
    name: str | None = "memory_limit",
) -> None:
    """Refuse (MemoryError) when the named parts together exceed the memory budget."""
    total = float(sum(b for b, _ in parts.values()))
    desc = ", ".join(f"{k} {b / 1e9:.3g} GB" for k, (b, _) in parts.items())
    fixes = dict.fromkeys(fix for b, fix in parts.values() if b >= 0.2 * total)
    check_allocation(total, what=f"{func} ({desc})", fix=" ".join(fixes), limit=limit, name=name)


def _alpha_of(best: Any, alphas: np.ndarray) -> Any:
    grid = np.concatenate([alphas, [np.nan]])
    if isinstance(best, np.ndarray):
        return grid[best]  # -1 -> nan
    return best.map_blocks(lambda b: grid[b], dtype=np.float64)


def _take_best(cv: Any, best: Any) -> Any:
    def pick(c: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = c[np.where(b < 0, 0, b), np.arange(c.shape[1])]
        return np.where(b < 0, np.nan, out)

    if isinstance(cv, np.ndarray):
        return pick(cv, best)
    import dask.array as da

    return da.map_blocks(pick, cv, best, drop_axis=0, dtype=np.float64)


def _describe_cv(cv: Any) -> str:
    if isinstance(cv, int | str):
        return str(cv)
    return type(cv).__name__


def fit_ridge(
    features: Any,
    responses: Any,
    *,
    alphas: Iterable[float] | np.ndarray = DEFAULT_ALPHAS,
    cv: Any = 5,
    groups: Any = None,
    scoring: Literal["r2", "r"] = "r2",
    dtype: Literal["float32", "float64"] = "float32",
    solver: Solver = "auto",
    chunk_units: int | None = None,
    return_weights: bool = True,
    compute: bool = True,
    memory_limit: float | None = None,
    fit_intercept: bool = True,
    alpha_per_unit: bool = True,
    conservative: bool = False,
    ties: Ties = "smallest",
) -> xr.Dataset:
    """Ridge regression of every unit on the features with its own cross-validated alpha.

    For each training fold the features are decomposed once (``solver``); the
    held-out R^2 and Pearson r of *every* alpha for *every* unit then follow
    from matrix products with inner dimension ``rank(X_train)``. Each unit
    keeps the alpha with the least held-out squared error (the best pooled
    held-out R^2) and is refit on all samples with it.

    Held-out scores are computed on the **pooled out-of-fold predictions**
    (each sample predicted by the model that did not see it, with that
    model's intercept), as scikit-learn's ``cross_val_predict`` followed by a
    score -- not as a mean of per-fold scores, which is undefined for folds of
    one sample and wild for folds of a few (per-fold R^2 divides by the tiny
    variance of a few held-out samples). So ``|r| <= 1`` and ``R^2 <= 1``
    for any ``cv``, leave-one-out included.

    Parameters
    ----------
    features : DataArray (stimulus, feature) or (time, feature), one-layer DataTree, or array
        One feature space, e.g. a layer ``members(acts)["layer3"]`` (its
        ``unit`` dim is read as features). Aligned with ``responses`` by
        stimulus id (time series: by position, same length and ``run``).
    responses : DataArray (stimulus, unit) or (time, unit), numpy or dask-backed
        Dask-backed responses are processed one unit chunk per task (the
        stimulus axis is one chunk), so they never need to fit in memory.
    alphas : sequence of float
        Positive regularisation strengths to try (sorted internally).
    cv : int, "leave-one-group-out", fold labels, splitter, or iterable of (train, test)
        Folds for choosing alpha. An int gives contiguous folds, or folds of
        whole groups when ``groups`` is set. Fold labels (one int or string
        per sample) hold out each distinct label in turn. Explicit labels and
        indices refer to the samples in the features' order.
    groups : str or array (sample,), optional
        Group per sample (``"run"``: the coordinate of that name). Time series
        with a ``run`` coordinate are grouped by run by default, so no run is
        ever split between training and test.
    scoring : {"r2", "r"}
        Held-out score reported as ``score`` (both are reported as ``r2`` and
        ``r``). It does not choose alpha: alphas are always chosen by held-out
        squared error, since Pearson r cannot see over-shrinkage.
    dtype : {"float32", "float64"}
        Working precision of the large products (decompositions are float64).
    solver : {"auto", "eigh", "svd", "kernel"}
        See :data:`neurorep.encoding.SOLVERS`; ``"auto"`` takes the primal
        ``"eigh"`` when ``n_train >= n_features``, else the dual ``"kernel"``.
    chunk_units : int, optional
        Units per chunk for in-memory responses (default about 4 M values per
        chunk); with dask input, rechunks the unit axis (default: keep).
    return_weights : bool
        Refit on all samples and return ``weights`` and ``intercept``.
    compute : bool
        With dask input, compute the result (default) or return it lazily.
    memory_limit : float, optional
        Refuse (``MemoryError``, before allocating) a fit whose decompositions,
        results and chunks in flight would need more than this: a fraction of
        the memory available when the call starts (default 0.75) or, above 1,
        a number of bytes.
    fit_intercept : bool
        Fit an intercept (default): features and responses are centred on
        each training fold's mean. ``False`` fits ``Y ~ X W`` through the
        origin (himalaya's and scikit-learn's ``fit_intercept=False``):
        nothing is centred and ``intercept`` is 0.
    alpha_per_unit : bool
        One alpha per unit (default), or one alpha shared by every unit
        (himalaya's ``local_alpha=False``): the alpha with the best mean
        over units of the pooled held-out R^2. On responses of equal
        variance (z-scored) this is himalaya's choice, the least held-out
        squared error summed over units.
    conservative : bool
        himalaya's conservative choice: the largest alpha whose pooled
        held-out R^2 beats the best one minus the standard deviation over
        folds (ddof 0) of the best alpha's per-fold scores ``1 - n MSE_f /
        SST`` (each fold's mean squared error on the R^2 scale). Equal to
        himalaya's rule on its per-fold negative MSE when the folds have
        equal sizes. Needs ``alpha_per_unit=True``.
    ties : {"smallest", "largest"}
        Which alpha a unit keeps when several have exactly the best score:
        the smallest (default, as scikit-learn) or the largest (himalaya,
        which adds ``1e-10 log(alpha)`` to its scores).

    Returns
    -------
    Dataset
        ``alpha`` (unit), ``score`` (unit; the pooled held-out ``scoring`` at
        the chosen alpha -- slightly optimistic, since alpha was chosen on the
        same folds: use :func:`cross_validate_ridge` for an unbiased score),
        ``r`` and ``r2`` (unit), ``cv_r`` and ``cv_r2`` (alphas, unit; pooled
        held-out scores of every alpha), ``weights`` (feature, unit),
        ``intercept`` (unit). Constant units get NaN scores, NaN alpha and
        zero weights (one :class:`neurorep.NeurorepWarning`). ``r`` is NaN,
        with a ``NeurorepWarning``, where a unit's held-out predictions do not
        vary beyond the rounding of ``dtype`` (relative spread under ~100 eps;
        ``cv_r`` is NaN for such alphas, without a warning); ``r2`` is then
        still a number.

    Raises
    ------
    SchemaError
        Wrong dims, NaN/inf or complex values, empty inputs, values so large
        (or small) that their squares overflow (underflow) in ``dtype``.
    AlignmentError
        Features and responses with different stimulus ids.
    ValueError
        Non-positive alphas, fewer samples (or groups) than folds, a bad option.
    MemoryError
        The fit would need more than ``memory_limit``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> from neurorep.encoding import fit_ridge
    >>> rng = np.random.default_rng(0)
    >>> X = data.responses(rng.normal(size=(60, 5)))
    >>> Y = data.responses(X.values @ rng.normal(size=(5, 3)) + rng.normal(size=(60, 3)))
    >>> res = fit_ridge(X, Y, alphas=[0.1, 1, 10], cv=3)
    >>> res["score"].dims, res["weights"].shape
    (('unit',), (5, 3))
    """
    alphas_arr, dt = _check_common(alphas, dtype, solver, scoring, chunk_units)
    check_selection(fit_intercept=fit_intercept, alpha_per_unit=alpha_per_unit,
                    conservative=conservative, ties=ties)
    prep = prepare(features, responses, groups=groups)
    splits = make_splits(prep.X.shape[0], cv, groups=prep.groups)
    out, plan = fit_arrays(
        prep.X, prep.Y, splits, alphas=alphas_arr, solver=solver, dtype=dt, scoring=scoring,
        chunk_units=chunk_units, return_weights=return_weights, compute=compute,
        sample_dim=prep.sample_dim, memory_limit=memory_limit, fit_intercept=fit_intercept,
        alpha_per_unit=alpha_per_unit, conservative=conservative, ties=ties,
    )
    if isinstance(out["constant"], np.ndarray):
        warn_constant(int(out["constant"].sum()), out["constant"].size)
    params = {
        "alphas": alphas_arr.tolist(), "cv": _describe_cv(cv), "n_folds": len(splits),
        "scoring": scoring, "dtype": str(dt), "solver": plan.solver,
        "grouped": int(prep.groups is not None), "fit_intercept": int(fit_intercept),
        "alpha_per_unit": int(alpha_per_unit), "conservative": int(conservative), "ties": ties,
    }
    return _result_dataset(prep, out, plan, params, return_weights, kind="fit_ridge")


def _result_dataset(
    prep: Prepared, out: dict[str, Any], plan: _Plan, params: dict[str, Any],
    return_weights: bool, *, kind: str,
) -> xr.Dataset:
    alphas = plan.alphas
    best = out["best"]
    scoring = params["scoring"]
    r2 = _take_best(out["cv_r2"], best)
    r = _take_best(out["cv_r"], best)
    if isinstance(r, np.ndarray):
        warn_unresolved_r(r, r2, plan.dtype, func=kind)
    data_vars: dict[str, Any] = {
        "alpha": ("unit", _alpha_of(best, alphas)),
        "score": ("unit", r2 if scoring == "r2" else r),
        "r": ("unit", r),
        "r2": ("unit", r2),
        "cv_r": (("alphas", "unit"), out["cv_r"]),
        "cv_r2": (("alphas", "unit"), out["cv_r2"]),
    }
    coords: dict[str, Any] = {**prep.unit_coords, "alphas": ("alphas", alphas)}
    if return_weights:
        data_vars["weights"] = (("feature", "unit"), out["weights"])
        data_vars["intercept"] = ("unit", out["intercept"])
        coords["feature"] = ("feature", prep.feature_ids)
    ds = xr.Dataset(data_vars, coords=coords)
    ds["score"].attrs = {
        "metric": scoring,
        "description": "held-out score of the pooled out-of-fold predictions at the chosen alpha",
    }
    ds["alpha"].attrs = {"description": "cross-validated ridge penalty per unit"}
    ds.attrs = {
        "analysis": kind,
        "neurorep_version": __version__,
        "sample_dim": prep.sample_dim,
        "n_samples": int(prep.X.shape[0]),
        "alpha_selection": _describe_selection(params),
        **params,
        **prep.attrs,
    }
    return ds


def _describe_selection(params: dict[str, Any]) -> str:
    text = "held-out squared error (pooled R^2)"
    if not params.get("alpha_per_unit", 1):
        text += ", one alpha for all units (best mean pooled R^2)"
    if params.get("conservative", 0):
        text += ", conservative (largest alpha within one fold standard deviation of the best)"
    if params.get("ties", "smallest") == "largest":
        text += ", ties to the largest alpha"
    return text


def predict_ridge(result: xr.Dataset, features: Any) -> xr.DataArray:
    """Predict responses from new features with a :func:`fit_ridge` result.

    Parameters
    ----------
    result : Dataset
        With ``weights`` (feature, unit) and ``intercept`` (unit).
    features : DataArray (stimulus or time, feature) or array
        Features named like ``result.feature`` (matched by id when a DataArray
        carries feature ids, else by position).

    Returns
    -------
    DataArray
        Predictions ``(stimulus, unit)`` (or ``(time, unit)``), units as in
        ``result``, samples as in ``features``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.encoding import fit_ridge, predict_ridge
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(40, 3)), rng.normal(size=(40, 2))
    >>> predict_ridge(fit_ridge(X, Y, cv=2), X[:5]).shape
    (5, 2)
    """
    if "weights" not in result or "intercept" not in result:
        raise SchemaError(
            "predict_ridge: result has no 'weights'/'intercept'; fit with return_weights=True."
        )
    Xa = as_feature_array(features, name="predict_ridge: features")
    W = result["weights"]
    if isinstance(Xa, xr.DataArray):
        if Xa.ndim != 2:
            raise SchemaError(f"predict_ridge: features must be 2-D; got dims {Xa.dims}.")
        sample_dim, fdim = str(Xa.dims[0]), str(Xa.dims[1])
        if fdim in Xa.coords and "feature" in W.coords:
            ids = np.asarray(Xa[fdim].values)
            wanted = np.asarray(W["feature"].values)
            if set(ids.tolist()) != set(wanted.tolist()):
                missing = [f for f in wanted.tolist() if f not in set(ids.tolist())][:5]
                raise SchemaError(
                    f"predict_ridge: features lack {len(wanted) - len(set(ids) & set(wanted))} "
                    f"of the fitted features, e.g. {missing}; pass the same feature space."
                )
            Xa = Xa.sel({fdim: wanted})
        X = as_real_float(Xa.values, "predict_ridge: features")
        sample_coords = {k: v for k, v in Xa.coords.items() if v.dims == (sample_dim,)}
    else:
        X = as_real_float(Xa, "predict_ridge: features")
        if X.ndim != 2:
            raise SchemaError(f"predict_ridge: features must be 2-D; got shape {X.shape}.")
        sample_dim = str(result.attrs.get("sample_dim", "stimulus"))
        sample_coords = {}
    if X.shape[1] != W.shape[0]:
        raise SchemaError(
            f"predict_ridge: features have {X.shape[1]} columns; the model was fit on {W.shape[0]}."
        )
    pred = X @ np.asarray(W.values, dtype=np.float64) + np.asarray(result["intercept"].values)
    coords = {**sample_coords, **{k: v for k, v in result["intercept"].coords.items()}}
    return xr.DataArray(pred, dims=(sample_dim, "unit"), coords=coords, name="prediction")


# ----------------------------------------------------------------------------
# nested cross-validation: unbiased held-out predictions
# ----------------------------------------------------------------------------
def _inner_fold(
    Y: np.ndarray, train: np.ndarray, plan: _Plan, sample_dim: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """An outer fold's centred training responses, their means, the constant units and
    ``X'Y`` (gram plans)."""
    Ytr, spread_tr = check_block(Y[train], sample_dim, plan.dtype)
    const_tr = spread_tr == 0
    Yc, y_mean = center_chunk(Ytr, plan.dtype, plan.fit_intercept)
    if const_tr.any():
        Yc[:, const_tr] = 0
    XtY = plan.X.T @ Yc if plan.mode == "gram" else None
    return Yc, y_mean, const_tr, XtY


def _inner_r2(plan: _Plan, Yc: np.ndarray, XtY: np.ndarray | None) -> np.ndarray:
    """Pooled inner-CV R^2 (alpha, unit) from the squared errors only; NaN for alphas
    flagged invalid."""
    cv_r2, _ = cv_scores_chunk(plan, Yc, XtY=XtY, sse_only=True)
    invalid = plan.meta.get("invalid_alphas")
    if invalid is not None and invalid.any():
        cv_r2[invalid] = np.nan
    return cv_r2


def _inner_scores_block(
    Y: np.ndarray, plans: tuple[tuple[np.ndarray, np.ndarray, _Plan, np.ndarray], ...], *,
    sample_dim: str,
) -> dict[str, np.ndarray]:
    """Every outer fold's inner pooled R^2 (fold, alpha, unit), for a shared alpha."""
    Y, _ = check_block(Y, sample_dim, plans[0][2].dtype)
    out = np.full((len(plans), len(plans[0][2].alphas), Y.shape[1]), np.nan)
    for i, (train, _, plan, _) in enumerate(plans):
        Yc, _, _, XtY = _inner_fold(Y, train, plan, sample_dim)
        out[i] = _inner_r2(plan, Yc, XtY)
    return {"cv_r2": out}


def _cross_validate_block(
    Y: np.ndarray, plans: tuple[tuple[np.ndarray, np.ndarray, _Plan, np.ndarray], ...], *,
    sample_dim: str, ties: str = "smallest", conservative: bool = False,
    shared_index: tuple[int, ...] | None = None,
) -> dict[str, np.ndarray]:
    """Held-out predictions of every outer fold (numpy in, numpy out).

    Each outer fold chooses the alphas as :func:`fit_ridge` does (the inner pass scores
    only the squared errors the choice needs, unless ``conservative``) and predicts its
    test samples straight from the refit decomposition, ``(X_test - mean) F g B``,
    without forming the weights. ``shared_index`` (one alpha index per outer fold,
    chosen over all units beforehand) skips the choice.
    """
    Y, spread = check_block(Y, sample_dim, plans[0][2].dtype)
    n, m = Y.shape
    pred = np.full((n, m), np.nan)
    alpha_idx = np.empty((len(plans), m), dtype=np.intp)
    constant = spread == 0
    for i, (train, test, plan, X_test) in enumerate(plans):
        Yc, y_mean, const_tr, XtY = _inner_fold(Y, train, plan, sample_dim)
        if shared_index is not None:
            best = np.where(const_tr, -1, shared_index[i])
        elif conservative:
            _, _, best = cv_select(plan, Yc, XtY, ties=ties, conservative=True)
        else:
            best = _select(_inner_r2(plan, Yc, XtY), ties=ties)
        B = full_projection(plan, Yc, XtY)
        g = 1.0 / (plan.full.lam[:, None] + plan.alphas[None, :])  # (k, n_alpha)
        G = g[:, np.where(best < 0, 0, best)]
        G[:, best < 0] = 0.0
        Bg = B.astype(np.float64) * G
        A = (X_test - plan.x_mean) @ plan.full.F.astype(np.float64)  # (n_test, k)
        pred[test] = A @ Bg + y_mean
        alpha_idx[i] = best
    return {"prediction": pred, "alpha_index": alpha_idx, "constant": constant}


def cross_validate_ridge(
    features: Any,
    responses: Any,
    *,
    alphas: Iterable[float] | np.ndarray = DEFAULT_ALPHAS,
    cv: Any = 5,
    inner_cv: Any = 5,
    groups: Any = None,
    scoring: Literal["r2", "r"] = "r2",
    dtype: Literal["float32", "float64"] = "float32",
    solver: Solver = "auto",
    chunk_units: int | None = None,
    n_permutations: int = 0,
    n_bootstrap: int = 0,
    block_size: int | None = None,
    rng: np.random.Generator | int | None = None,
    compute: bool = True,
    memory_limit: float | None = None,
    fit_intercept: bool = True,
    alpha_per_unit: bool = True,
    conservative: bool = False,
    ties: Ties = "smallest",
    return_scores: bool = True,
) -> xr.Dataset:
    """Held-out predictions and unbiased scores by nested cross-validation.

    Each outer fold's alphas are chosen by an inner cross-validation on its
    training samples only (:func:`fit_ridge`: least pooled held-out squared
    error, whatever ``scoring``), then the refit model predicts the outer
    test samples. Scores compare the pooled held-out predictions
    with the responses (:func:`neurorep.encoding.score_prediction`), with an
    optional permutation test (block permutation for time series, FDR across
    units) and bootstrap confidence interval.

    Parameters
    ----------
    features : DataArray or array
        One feature space ``(stimulus, feature)`` or ``(time, feature)``, as
        in :func:`fit_ridge`; aligned with ``responses`` by stimulus id.
    responses : DataArray or array
        ``(stimulus, unit)`` or ``(time, unit)``, numpy or dask-backed, as in
        :func:`fit_ridge`.
    alphas : sequence of float, optional
        Positive penalties to try (default ``10**-2 .. 10**6``).
    cv : int, str or sequence, optional
        Outer folds (held-out predictions): an int (default 5),
        ``"leave-one-group-out"``, fold labels, a splitter or explicit
        ``(train, test)`` splits (see :func:`make_splits`). With ``groups``
        whole groups (runs) stay together.
    inner_cv : int, str or sequence, optional
        Inner folds that choose each unit's alpha on each outer training set
        (default 5). Fold labels give one label per sample (all samples);
        each outer training set uses its own samples' labels.
    groups : str or array-like, optional
        Group (run) per sample, or the name of a coordinate, as in
        :func:`fit_ridge`.
    scoring : {"r2", "r"}, optional
        Held-out score reported as ``score`` and tested (both are reported);
        it never chooses alpha.
    dtype : {"float32", "float64"}, optional
        Working precision of the large products, as in :func:`fit_ridge`.
    solver : {"auto", "eigh", "svd", "kernel"}, optional
        As in :func:`fit_ridge`.
    chunk_units : int, optional
        Units per chunk, as in :func:`fit_ridge`.
    n_permutations : int, optional
        Permutations for the p-values of :func:`score_prediction` (default 0:
        no test).
    n_bootstrap : int, optional
        Bootstrap samples for the CI of :func:`score_prediction` (default 0:
        no CI).
    block_size : int, optional
        Block length of the permutations and bootstrap (time series).
    rng : int, Generator or None
        Seed or generator of the permutations and bootstrap samples.
    compute : bool, optional
        With dask responses, compute (default) or return lazy predictions
        (then without scores). The fits run chunk by chunk over units; the
        scoring step holds the held-out predictions and the responses in
        memory (``sample x unit`` float64 each).
    memory_limit : float, optional
        Refuse a computation that would need more memory, as in
        :func:`fit_ridge`.
    fit_intercept : bool, optional
        Fit an intercept (default True), as in :func:`fit_ridge`.
    alpha_per_unit : bool, optional
        Choose each unit's alpha (default True) or, with False, one alpha
        per outer fold shared by every unit: the best mean over units of the
        inner pooled R^2 (himalaya's ``local_alpha=False``), as in
        :func:`fit_ridge`.
    conservative : bool, optional
        himalaya's conservative alpha choice in each outer fold's inner
        search (default False), as in :func:`fit_ridge`. Needs
        ``alpha_per_unit=True``.
    ties : {"smallest", "largest"}, optional
        Which alpha a unit keeps among exactly tied best scores (default
        ``"smallest"``), as in :func:`fit_ridge`.
    return_scores : bool, optional
        Score the held-out predictions (default True). False returns only
        ``prediction`` and ``alpha`` (no scores, permutations or bootstrap),
        for callers that score the predictions themselves.

    Returns
    -------
    Dataset
        ``prediction`` (sample, unit) held-out, ``score``, ``r``, ``r2``
        (unit; of the pooled held-out predictions; ``r`` NaN with a
        ``NeurorepWarning`` where the predictions are constant), ``fold_r``, ``fold_r2``
        (fold, unit; per outer fold, NaN for folds under 2 samples and noisy
        for small ones), ``alpha`` (fold, unit); with permutations ``pvalue``
        and ``pvalue_fdr``; with bootstrap ``ci_low`` and ``ci_high``.

    Raises
    ------
    SchemaError, AlignmentError, ValueError
        As :func:`fit_ridge`; also outer folds that hold a sample out twice.
    MemoryError
        The outer folds' decompositions and the held-out predictions would
        need more than ``memory_limit``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.encoding import cross_validate_ridge
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 4))
    >>> Y = X @ rng.normal(size=(4, 2)) + rng.normal(size=(80, 2))
    >>> res = cross_validate_ridge(X, Y, cv=4, inner_cv=3, alphas=[0.1, 10])
    >>> bool((res["r"] > 0.5).all())
    True
    """
    from neurorep.encoding._scoring import _fold_scores, _score_parts, score_prediction

    alphas_arr, dt = _check_common(alphas, dtype, solver, scoring, chunk_units)
    check_selection(fit_intercept=fit_intercept, alpha_per_unit=alpha_per_unit,
                    conservative=conservative, ties=ties)
    if not isinstance(return_scores, bool | np.bool_):
        raise TypeError(f"return_scores must be True or False; got {return_scores!r}.")
    prep = prepare(features, responses, groups=groups)
    n, p = prep.X.shape
    m = prep.Y.shape[1]
    outer = make_splits(n, cv, groups=prep.groups)
    seen = np.zeros(n, dtype=int)
    for _, te in outer:
        seen[te] += 1
    if seen.max() > 1:
        raise ValueError("cv: each sample may be held out by at most one outer fold.")
    inners = []
    inner_labels = fold_labels(inner_cv, n, name="inner_cv")  # labels of all samples
    for train, _ in outer:
        g_in = prep.groups[train] if prep.groups is not None else None
        spec = inner_cv if inner_labels is None else inner_labels[train]
        inners.append(make_splits(len(train), spec, groups=g_in, name="inner_cv"))
    lazy = is_lazy(prep.Y)
    check_memory(
        {
            "fold decompositions": (
                sum(plan_nbytes(len(tr), p, inner, solver=solver, dtype=dt, n_alpha=len(alphas_arr))
                    for (tr, _), inner in zip(outer, inners, strict=True)),
                FIX_FOLDS.replace("cv=5", "cv=5, inner_cv=5"),
            ),
            **_unit_parts(n, m, p, len(alphas_arr), dt, chunk_units=chunk_units, lazy=lazy,
                          compute=compute, return_weights=True, n_out=len(outer) + 6 * n),
            **_score_parts(n, m, n_permutations=n_permutations, n_bootstrap=n_bootstrap),
        },
        func="cross_validate_ridge", limit=memory_limit,
    )
    plans = []
    for (train, test), inner in zip(outer, inners, strict=True):
        plan = build_plan(prep.X[train], inner, alphas=alphas_arr, solver=solver, dtype=dt,
                          fit_intercept=fit_intercept)
        plans.append((train, test, plan, prep.X[test]))
    shared_index = None
    if not alpha_per_unit:  # every unit's inner scores first, then one alpha per outer fold
        inner = map_units(prep.Y, _inner_scores_block,
                          {"cv_r2": ((len(outer), len(alphas_arr)), np.float64)},
                          chunk_units=chunk_units, compute=True, shared=tuple(plans),
                          sample_dim=prep.sample_dim)["cv_r2"]
        shared_index = tuple(_shared_index(fold, ties) for fold in inner)
    out = map_units(
        prep.Y, _cross_validate_block,
        {"prediction": ((n,), np.float64), "alpha_index": ((len(outer),), np.intp),
         "constant": ((), bool)},
        chunk_units=chunk_units, compute=compute, shared=tuple(plans),
        sample_dim=prep.sample_dim, ties=ties, conservative=conservative,
        shared_index=shared_index,
    )
    if isinstance(out["constant"], np.ndarray):
        warn_constant(int(out["constant"].sum()), out["constant"].size)
    pred = xr.DataArray(
        out["prediction"], dims=(prep.sample_dim, "unit"),
        coords={**prep.sample_coords, **prep.unit_coords}, name="prediction",
    )
    resp = xr.DataArray(
        prep.Y, dims=(prep.sample_dim, "unit"), coords={**prep.sample_coords, **prep.unit_coords},
    )
    tested = seen > 0
    ds = xr.Dataset({"prediction": pred})
    grid = np.concatenate([alphas_arr, [np.nan]])
    aidx = out["alpha_index"]
    ds["alpha"] = (("fold", "unit"), grid[aidx] if isinstance(aidx, np.ndarray)
                   else aidx.map_blocks(lambda b: grid[b], dtype=np.float64))
    if not (compute or not is_lazy(prep.Y)) or not return_scores:
        ds.attrs = {"analysis": "cross_validate_ridge", "neurorep_version": __version__}
        return ds
    import warnings

    from neurorep._core.errors import NeurorepWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeurorepWarning)  # constant units: warned above
        scores = score_prediction(
            pred.isel({prep.sample_dim: tested}), resp.isel({prep.sample_dim: tested}),
            metric=scoring, n_permutations=n_permutations, n_bootstrap=n_bootstrap,
            block_size=block_size,
            groups=prep.groups[tested] if prep.groups is not None else None, rng=rng,
        )
        fold_r, fold_r2 = _fold_scores(np.asarray(pred.values), resp, outer)
    warn_unresolved_r(scores["r"].values, scores["r2"].values, dt,
                      func="cross_validate_ridge", stacklevel=3)
    for k in scores.data_vars:
        if k != "null_distribution":
            ds[k] = scores[k]
    ds["fold_r"] = (("fold", "unit"), fold_r)
    ds["fold_r2"] = (("fold", "unit"), fold_r2)
    ds = ds.assign_coords(fold=np.arange(len(outer)))
    ds.attrs = {
        "analysis": "cross_validate_ridge", "neurorep_version": __version__,
        "sample_dim": prep.sample_dim, "alphas": alphas_arr.tolist(), "cv": _describe_cv(cv),
        "inner_cv": _describe_cv(inner_cv), "n_folds": len(outer), "scoring": scoring,
        "dtype": str(dt), "solver": plans[0][2].solver, "grouped": int(prep.groups is not None),
        "fit_intercept": int(fit_intercept), "alpha_per_unit": int(alpha_per_unit),
        "conservative": int(conservative), "ties": ties, **prep.attrs,
    }
    return ds
