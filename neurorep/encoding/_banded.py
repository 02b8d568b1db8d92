"""Banded ridge: one penalty per feature space, and split scores that add up.

Banded ridge minimises ``||Y - sum_s X_s W_s||^2 + sum_s alpha_s ||W_s||^2``.
Writing ``alpha_s = alpha / gamma_s`` with weights ``gamma`` on the simplex,
it is plain ridge with penalty ``alpha`` on the rescaled features
``sqrt(gamma_s) X_s``: each candidate ``gamma`` needs one decomposition per
fold, and that decomposition serves the whole alpha grid for every unit
(the same machinery as :func:`fit_ridge`). Each unit keeps the
``(gamma, alpha)`` pair with the least held-out squared error (the best
pooled R^2), whatever score is reported.

Scores are those of the pooled out-of-fold predictions (as in
:func:`fit_ridge`). Split scores (the product measure of St-Yves & Naselaris
2018 and himalaya's ``r2_score_split``) attribute them to the spaces exactly:
with the held-out responses ``y`` centred on their pooled mean, the
per-space predictions ``p_s`` centred likewise and ``P`` the whole centred
prediction (the spaces plus each fold's intercept),

* ``r_s = y . p_s / (|y| |P|)``, which sums to Pearson r;
* ``R2_s = (2 y . p_s - p_s . P) / |y|^2``, which sums to R^2;

except for the intercept's own share (which differs between folds and
belongs to no space, O(1/n)), divided equally between the ``S`` spaces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep import __version__
from neurorep._core.errors import SchemaError
from neurorep._core.memory import check_allocation
from neurorep._core.rng import as_generator
from neurorep.data import align, members
from neurorep.encoding._chunks import check_block, map_units
from neurorep.encoding._cv import make_splits
from neurorep.encoding._inputs import (
    as_feature_array,
    complex_error,
    is_lazy,
    prepare,
    warn_constant,
)
from neurorep.encoding._ridge import (
    DEFAULT_ALPHAS,
    FIX_FOLDS,
    Solver,
    _check_common,
    _describe_cv,
    _select,
    _unit_parts,
    check_memory,
)
from neurorep.encoding._solvers import (
    _fold_projection,
    _Plan,
    build_plan,
    center_chunk,
    cv_scores_chunk,
    full_projection,
    plan_nbytes,
    weights_from_projection,
)

__all__ = ["default_space_weights", "fit_banded_ridge", "predict_banded_ridge"]


def default_space_weights(
    n_spaces: int, *, n_candidates: int = 9, rng: np.random.Generator | int | None = None
) -> np.ndarray:
    """Candidate space weights ``gamma`` (n_candidates, n_spaces), rows summing to 1.

    Two spaces: a log-spaced grid of ratios ``gamma_1 / gamma_2`` from 1e-2 to
    1e2 (penalty ratios alike). More spaces: equal weights plus Dirichlet(1)
    samples.

    Parameters
    ----------
    n_spaces : int
        Number of feature spaces (at least 1).
    n_candidates : int, optional
        Rows to return (default 9).
    rng : int, Generator or None
        Seed or generator of the Dirichlet samples (three or more spaces).

    Returns
    -------
    ndarray
        ``(n_candidates, n_spaces)``, each row positive and summing to 1.

    Examples
    --------
    >>> from neurorep.encoding import default_space_weights
    >>> default_space_weights(2, n_candidates=3).round(3).tolist()
    [[0.01, 0.99], [0.5, 0.5], [0.99, 0.01]]
    """
    gen = as_generator(rng)  # checked even where the grid needs no randomness
    if n_spaces < 1:
        raise ValueError(f"n_spaces must be >= 1; got {n_spaces}.")
    if isinstance(n_candidates, bool) or not isinstance(n_candidates, int | np.integer) or (
        n_candidates < 1
    ):
        raise ValueError(f"n_candidates must be a positive int; got {n_candidates!r}.")
    check_allocation(
        3.0 * 8 * n_candidates * max(n_spaces, 2),
        what=f"default_space_weights: {n_candidates} candidates x {n_spaces} spaces",
        fix="Pass fewer candidates (n_candidates=9 to 50 cover two spaces well).", name=None,
    )
    if n_spaces == 1:
        return np.ones((1, 1))
    if n_spaces == 2:
        ratio = np.logspace(-2, 2, n_candidates) if n_candidates > 1 else np.ones(1)
        g1 = ratio / (1.0 + ratio)
        return np.stack([g1, 1.0 - g1], axis=1)
    rows = [np.full(n_spaces, 1.0 / n_spaces)]
    if n_candidates > 1:
        rows.extend(gen.dirichlet(np.ones(n_spaces), size=n_candidates - 1))
    return np.asarray(rows)


def _spaces(spaces: Any) -> dict[str, Any]:
    if isinstance(spaces, xr.DataTree):
        items: dict[str, Any] = dict(members(spaces))
    elif isinstance(spaces, Mapping):
        items = {str(k): v for k, v in spaces.items()}
    elif isinstance(spaces, Sequence) and not isinstance(spaces, str):
        items = {f"space{i}": v for i, v in enumerate(spaces)}
    else:
        raise SchemaError(
            f"spaces must be a mapping name -> features, a DataTree of layers or a list; got "
            f"{type(spaces).__name__}."
        )
    if not items:
        raise SchemaError("spaces: got no feature space.")
    return {k: as_feature_array(v, name=f"spaces[{k!r}]") for k, v in items.items()}


def _banded_block(
    Y: np.ndarray,
    shared: tuple[tuple[_Plan, ...], tuple[slice, ...]],
    *,
    scoring: str,
    sample_dim: str,
) -> dict[str, np.ndarray]:
    plans, slices = shared
    dtype = plans[0].dtype
    Y, spread = check_block(Y, sample_dim, dtype)
    m = Y.shape[1]
    constant = spread == 0
    Yc, y_mean = center_chunk(Y, dtype)
    if constant.any():
        Yc[:, constant] = 0
    n_c = len(plans)
    cv_best = np.full((n_c, m), np.nan)
    best_score = np.full(m, -np.inf)
    best_c = np.full(m, -1, dtype=np.intp)
    best_a = np.full(m, -1, dtype=np.intp)
    cols = np.arange(m)
    for ci, plan in enumerate(plans):
        XtY = plan.X.T @ Yc if plan.mode == "gram" else None
        r2, r = cv_scores_chunk(plan, Yc, XtY=XtY)
        b = _select(r2)  # least pooled squared error, whatever the reported scoring
        at = np.where(b < 0, 0, b)
        s = np.where(b >= 0, r2[at, cols], np.nan)
        cv_best[ci] = np.where(b >= 0, (r2 if scoring == "r2" else r)[at, cols], np.nan)
        better = np.where(np.isnan(s), False, s > best_score)
        best_score[better] = s[better]
        best_c[better] = ci
        best_a[better] = b[better]
    p = plans[0].X.shape[1]
    W = np.zeros((p, m), dtype=dtype)
    intercept = y_mean.copy()
    split_r = np.full((len(slices), m), np.nan)
    split_r2 = np.full((len(slices), m), np.nan)
    for ci in np.unique(best_c[best_c >= 0]):
        units = np.flatnonzero(best_c == ci)
        plan = plans[ci]
        Ys = np.ascontiguousarray(Yc[:, units])
        a_idx = best_a[units]
        XtY = plan.X.T @ Ys if plan.mode == "gram" else None
        Wz = weights_from_projection(plan.full, full_projection(plan, Ys, XtY), plan.alphas, a_idx)
        intercept[units] = y_mean[units] - plan.x_mean @ Wz.astype(np.float64)
        assert plan.scale is not None
        W[:, units] = Wz * plan.scale[:, None].astype(dtype)
        split_r[:, units], split_r2[:, units] = _split_scores(plan, Ys, XtY, a_idx, slices)
    return {
        "cv_best": cv_best, "best_c": best_c, "best_a": best_a, "weights": W,
        "intercept": intercept, "split_r": split_r, "split_r2": split_r2, "constant": constant,
    }


def _split_scores(
    plan: _Plan, Ys: np.ndarray, XtY: np.ndarray | None, a_idx: np.ndarray,
    slices: tuple[slice, ...],
) -> tuple[np.ndarray, np.ndarray]:
    """Split r and R^2 (space, unit) of the pooled out-of-fold predictions.

    Rows ``i`` run over every held-out sample of every fold: responses ``y``,
    per-space predictions ``q_s`` and the fold's intercept ``k`` (its training
    mean), so the prediction is ``k + sum_s q_s``. With ``c`` meaning centred
    on the pooled mean, ``C = sum_s q_s^c + k^c`` the centred prediction and
    ``e`` the pooled mean error, the product measure gives each space
    ``(2 y^c.q_s^c - q_s^c.C) / |y^c|^2`` (R^2) and ``y^c.q_s^c / (|y^c| |C|)`` (r);
    the intercept's own share (``k^c`` in place of ``q_s^c``, minus
    ``n e^2 / |y^c|^2`` for R^2) belongs to no space and is divided equally.
    The shares add up to the pooled R^2 and r of :func:`cv_scores_chunk`.
    """
    n_s = len(slices)
    m = Ys.shape[1]
    n = 0
    sy, syy, sk, skk, sky = (np.zeros(m) for _ in range(5))
    sq, syq, sqk = (np.zeros((n_s, m)) for _ in range(3))
    sqq = np.zeros((n_s, n_s, m))  # sum q_s q_t
    s_all = Ys.sum(0)
    for fold in plan.folds:
        B, Yte = _fold_projection(fold, Ys, XtY, s_all)
        Wf = weights_from_projection(fold.dec, B, plan.alphas, a_idx)
        Xte = plan.X[fold.test] - fold.dec.x_mean.astype(plan.dtype)
        y = np.asarray(Yte, dtype=np.float64)
        n_te = y.shape[0]
        k = (s_all.astype(np.float64) - y.sum(0)) / len(fold.train)  # the fold's intercept
        parts = [np.asarray(Xte[:, sl] @ Wf[sl], dtype=np.float64) for sl in slices]
        n += n_te
        ysum = y.sum(0)
        sy += ysum
        syy += np.einsum("ij,ij->j", y, y)
        sk += n_te * k
        skk += n_te * k**2
        sky += k * ysum
        for si, q in enumerate(parts):
            qsum = q.sum(0)
            sq[si] += qsum
            syq[si] += np.einsum("ij,ij->j", y, q)
            sqk[si] += k * qsum
            for ti in range(si, n_s):
                sqq[si, ti] += np.einsum("ij,ij->j", q, parts[ti])
    for si in range(n_s):
        for ti in range(si):
            sqq[si, ti] = sqq[ti, si]
    n = max(n, 1)
    yy = syy - sy**2 / n  # |y^c|^2
    yq = syq - sy * sq / n  # y^c . q_s^c
    yk = sky - sy * sk / n
    kk = skk - sk**2 / n
    qk = sqk - sq * sk / n
    qq = sqq - sq[:, None] * sq[None, :] / n  # q_s^c . q_t^c
    qC = qq.sum(1) + qk  # q_s^c . C
    kC = qk.sum(0) + kk  # k^c . C
    CC = qC.sum(0) + kC
    e = (sq.sum(0) + sk - sy) / n
    good = yy > 1e-12 * np.maximum(syy, 1e-300)
    ok = good & (CC > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        share_r2 = (2 * yk - kC - n * e**2) / yy / n_s
        split_r2 = (2 * yq - qC) / yy + share_r2
        norm = np.sqrt(yy * CC)
        split_r = yq / norm + yk / norm / n_s
    split_r2 = np.where(good, split_r2, np.nan)
    split_r = np.where(ok, split_r, np.nan)
    # the parts add up to the pooled scores; keep the sums within R^2 <= 1, |r| <= 1
    tot2, tot = split_r2.sum(0), split_r.sum(0)
    with np.errstate(invalid="ignore"):
        split_r2 -= np.where(tot2 > 1, (tot2 - 1) / n_s, 0.0)
        split_r -= np.where(np.abs(tot) > 1, (tot - np.clip(tot, -1, 1)) / n_s, 0.0)
    return split_r, split_r2


def fit_banded_ridge(
    spaces: Mapping[str, Any] | xr.DataTree | Sequence[Any],
    responses: Any,
    *,
    alphas: Any = DEFAULT_ALPHAS,
    space_weights: Any = None,
    n_candidates: int = 9,
    cv: Any = 5,
    groups: Any = None,
    scoring: Literal["r2", "r"] = "r2",
    dtype: Literal["float32", "float64"] = "float32",
    solver: Solver = "auto",
    chunk_units: int | None = None,
    rng: np.random.Generator | int | None = None,
    compute: bool = True,
    memory_limit: float | None = None,
) -> xr.Dataset:
    """Banded ridge over several feature spaces, with a penalty per space and split scores.

    Parameters
    ----------
    spaces : mapping name -> features, DataTree of layers, or list
        Each a DataArray (stimulus or time, feature) or array (two model
        layers, or text and low-level features...). Aligned with the
        responses by stimulus id.
    responses : DataArray or array
        ``(stimulus, unit)`` or ``(time, unit)``, aligned with the spaces.
    alphas : sequence of float
        Global penalties; space ``s`` gets ``alpha / gamma_s``.
    space_weights : array (n_candidates, n_spaces), optional
        Candidate ``gamma`` rows (normalised to sum 1); default
        :func:`default_space_weights`.
    n_candidates : int
        Size of the default candidate set.
    cv : int, str or sequence, optional
        Folds for choosing the candidate and alpha, as in :func:`fit_ridge`
        (default 5).
    groups : str or array-like, optional
        Group (run) per sample, as in :func:`fit_ridge`.
    scoring : {"r2", "r"}, optional
        Score reported as ``score``, ``split_score`` and ``cv_score``. The
        candidate and alpha of each unit are always chosen by held-out squared
        error (pooled R^2): Pearson r cannot see over-shrinkage.
    dtype : {"float32", "float64"}, optional
        Working precision, as in :func:`fit_ridge`.
    solver : {"auto", "eigh", "svd", "kernel"}, optional
        As in :func:`fit_ridge`.
    chunk_units : int, optional
        Units per chunk, as in :func:`fit_ridge`.
    rng : int, Generator or None
        Seed or generator of the random candidates (three or more spaces).
    compute : bool, optional
        With dask responses, compute (default) or return lazily.
    memory_limit : float, optional
        As in :func:`fit_ridge` (each candidate holds one decomposition per
        fold: the memory check counts them all).

    Returns
    -------
    Dataset
        ``alpha`` (space, unit) per-space penalties; ``score``, ``r``, ``r2``
        (unit) held-out scores of the pooled out-of-fold predictions at the
        chosen penalties; ``split_score``, ``split_r``, ``split_r2`` (space,
        unit) that sum over ``space`` to ``score``, ``r``, ``r2``; ``weights``
        (feature, unit) with a ``space`` coord per feature; ``intercept``
        (unit); ``cv_score`` (candidate, unit; the pooled held-out ``scoring``
        of each candidate at its best alpha) and ``space_weight`` (candidate,
        space).

    Raises
    ------
    SchemaError, AlignmentError, ValueError
        As :func:`fit_ridge`; also bad ``space_weights`` or ``n_candidates``.
    MemoryError
        The candidates' decompositions or results would need more than
        ``memory_limit``: pass fewer candidates, fewer folds or dask-backed
        responses.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.encoding import fit_banded_ridge
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(100, 4)), rng.normal(size=(100, 6))
    >>> y = a @ rng.normal(size=(4, 2)) + 0.5 * rng.normal(size=(100, 2))
    >>> res = fit_banded_ridge({"a": a, "b": b}, y, cv=4, n_candidates=5)
    >>> bool(np.allclose(res["split_r2"].sum("space"), res["r2"]))
    True
    >>> bool((res["split_r2"].sel(space="a") > res["split_r2"].sel(space="b")).all())
    True
    """
    alphas_arr, dt = _check_common(alphas, dtype, solver, scoring, chunk_units)
    items = _spaces(spaces)
    names = list(items)
    first = None
    Xs: list[np.ndarray] = []
    feature_ids: list[np.ndarray] = []
    prep = None
    for name in names:
        feats = items[name]
        if isinstance(feats, xr.DataArray) and isinstance(responses, xr.DataArray) and (
            feats.dims[0] == "stimulus" == responses.dims[0]
        ):
            _, feats = align(responses, feats, join="exact", names=("responses", f"spaces[{name!r}]"))
        pr = prepare(feats, responses, groups=groups, feature_name=f"spaces[{name!r}]")
        if first is None:
            first, prep = pr.X.shape[0], pr
        elif pr.X.shape[0] != first:
            raise SchemaError(
                f"spaces[{name!r}] has {pr.X.shape[0]} samples; the first space has {first}."
            )
        Xs.append(pr.X)
        feature_ids.append(pr.feature_ids.astype(str))
    assert prep is not None
    sizes = [x.shape[1] for x in Xs]
    bounds = np.r_[0, np.cumsum(sizes)]
    slices = tuple(slice(int(bounds[i]), int(bounds[i + 1])) for i in range(len(sizes)))
    X = np.concatenate(Xs, axis=1)
    n, p = X.shape
    m = prep.Y.shape[1]
    splits = make_splits(n, cv, groups=prep.groups)
    if space_weights is None:
        if isinstance(n_candidates, bool) or not isinstance(n_candidates, int | np.integer) or (
            n_candidates < 1
        ):
            raise ValueError(f"n_candidates must be a positive int; got {n_candidates!r}.")
        n_c = int(n_candidates) if len(names) > 1 else 1
    else:
        raw = np.atleast_2d(np.asarray(space_weights))
        if raw.dtype.kind == "c":
            raise complex_error("space_weights", raw.dtype)
        n_c = raw.shape[0]
    fix_c = (
        "Pass fewer candidates (n_candidates=9 to 50 cover two spaces well; with more spaces "
        "pass the few space_weights rows you need)."
    )
    check_memory(
        {
            f"{n_c} candidates' fold decompositions": (
                n_c * plan_nbytes(n, p, splits, solver=solver, dtype=dt, n_alpha=len(alphas_arr)),
                f"{fix_c} {FIX_FOLDS}"),
            "per-candidate scores": (8.0 * n_c * (m + 3 * len(names)), fix_c),
            **_unit_parts(n, m, p, len(alphas_arr), dt, chunk_units=chunk_units,
                          lazy=is_lazy(prep.Y), compute=compute, return_weights=True,
                          n_out=2 * len(names) + 2),
        },
        func="fit_banded_ridge", limit=memory_limit,
    )
    gen = as_generator(rng)
    if space_weights is None:
        gammas = default_space_weights(len(names), n_candidates=n_candidates, rng=gen)
    else:
        gammas = np.atleast_2d(np.asarray(space_weights, dtype=np.float64))
        if gammas.shape[1] != len(names) or np.any(gammas <= 0) or not np.isfinite(gammas).all():
            raise ValueError(
                f"space_weights must be positive, shape (n_candidates, {len(names)}); got "
                f"shape {gammas.shape}."
            )
        gammas = gammas / gammas.sum(1, keepdims=True)
    plans = []
    for g in gammas:
        scale = np.concatenate([np.full(s, np.sqrt(gi)) for s, gi in zip(sizes, g, strict=True)])
        plans.append(build_plan(X, splits, alphas=alphas_arr, solver=solver, dtype=dt, scale=scale,
                                name="spaces (scaled by the space weights)"))
    n_c = len(plans)
    spec = {
        "cv_best": ((n_c,), np.float64), "best_c": ((), np.intp), "best_a": ((), np.intp),
        "weights": ((p,), dt), "intercept": ((), np.float64),
        "split_r": ((len(names),), np.float64), "split_r2": ((len(names),), np.float64),
        "constant": ((), bool),
    }
    out = map_units(
        prep.Y, _banded_block, spec, chunk_units=chunk_units, compute=compute,
        shared=(tuple(plans), slices), scoring=scoring, sample_dim=prep.sample_dim,
    )
    if isinstance(out["constant"], np.ndarray):
        warn_constant(int(out["constant"].sum()), out["constant"].size)
    best_c, best_a = out["best_c"], out["best_a"]

    def per_space_alpha(bc: np.ndarray, ba: np.ndarray) -> np.ndarray:
        ok = (bc >= 0) & (ba >= 0)
        a = np.where(ok, alphas_arr[np.where(ok, ba, 0)], np.nan)
        g = gammas[np.where(ok, bc, 0)].T  # (space, unit)
        return a[None, :] / g

    if isinstance(best_c, np.ndarray):
        alpha_su = per_space_alpha(best_c, best_a)
    else:
        import dask.array as da

        alpha_su = da.map_blocks(
            per_space_alpha, best_c, best_a, new_axis=0, chunks=((len(names),), best_c.chunks[0]),
            dtype=np.float64,
        )
    split_r, split_r2 = out["split_r"], out["split_r2"]
    r_joint = split_r.sum(0)
    r2_joint = split_r2.sum(0)
    ds = xr.Dataset(
        {
            "alpha": (("space", "unit"), alpha_su),
            "score": ("unit", r2_joint if scoring == "r2" else r_joint),
            "r": ("unit", r_joint),
            "r2": ("unit", r2_joint),
            "split_score": (("space", "unit"), split_r2 if scoring == "r2" else split_r),
            "split_r": (("space", "unit"), split_r),
            "split_r2": (("space", "unit"), split_r2),
            "weights": (("feature", "unit"), out["weights"]),
            "intercept": ("unit", out["intercept"]),
            "cv_score": (("candidate", "unit"), out["cv_best"]),
            "space_weight": (("candidate", "space"), gammas),
        },
        coords={
            **prep.unit_coords,
            "space": ("space", np.asarray(names)),
            "feature": ("feature", np.array([f"{n}:{f}" for n, ids in zip(names, feature_ids,
                                                                          strict=True) for f in ids])),
            "feature_space": ("feature", np.repeat(names, sizes)),
            "candidate": ("candidate", np.arange(n_c)),
        },
    )
    ds["score"].attrs = {
        "metric": scoring,
        "description": "held-out score of the pooled out-of-fold predictions",
    }
    ds.attrs = {
        "analysis": "fit_banded_ridge", "neurorep_version": __version__,
        "sample_dim": prep.sample_dim, "n_samples": int(X.shape[0]), "alphas": alphas_arr.tolist(),
        "cv": _describe_cv(cv), "n_folds": len(splits), "scoring": scoring, "dtype": str(dt),
        "solver": plans[0].solver, "grouped": int(prep.groups is not None),
        "split": "product measure; intercept offset shared equally",
        "alpha_selection": "held-out squared error (pooled R^2)", **prep.attrs,
    }
    return ds


def predict_banded_ridge(
    result: xr.Dataset, spaces: Mapping[str, Any] | xr.DataTree | Sequence[Any], *,
    split: bool = False,
) -> xr.DataArray:
    """Predict responses from new features with a :func:`fit_banded_ridge` result.

    Parameters
    ----------
    result : Dataset
        A :func:`fit_banded_ridge` result (``weights`` with a ``feature_space``
        coord, ``intercept``).
    spaces : mapping name -> features, DataTree of layers, or list
        The features of every space, in the fit's spaces (a list in the fit's
        order); each a DataArray (stimulus or time, feature) or array with the
        fit's number of features.
    split : bool
        Return each space's part ``X_s W_s`` (without the intercept) along a
        leading ``space`` dim, for :func:`neurorep.encoding.score_split`;
        default: the whole prediction ``sum_s X_s W_s + intercept``.

    Returns
    -------
    DataArray
        Predictions ``(stimulus, unit)`` (or ``(time, unit)``); with
        ``split``, per space ``(space, stimulus, unit)``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.encoding import fit_banded_ridge, predict_banded_ridge
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(60, 3)), rng.normal(size=(60, 2))
    >>> y = a @ rng.normal(size=(3, 2)) + rng.normal(size=(60, 2))
    >>> res = fit_banded_ridge({"a": a, "b": b}, y, cv=3, n_candidates=3)
    >>> predict_banded_ridge(res, {"a": a, "b": b}, split=True).dims
    ('space', 'stimulus', 'unit')
    """
    if "weights" not in result or "feature_space" not in result.coords:
        raise SchemaError(
            "predict_banded_ridge: result has no 'weights' with a 'feature_space' coord; pass a "
            "fit_banded_ridge result."
        )
    names = [str(s) for s in result["space"].values]
    items = _spaces(spaces)
    if isinstance(spaces, Sequence) and not isinstance(spaces, str | Mapping):
        items = dict(zip(names, items.values(), strict=False))
    if sorted(items) != sorted(names):
        raise SchemaError(
            f"predict_banded_ridge: pass the features of every fitted space {names}; got "
            f"{list(items)}."
        )
    fspace = np.asarray(result["feature_space"].values).astype(str)
    W = np.asarray(result["weights"].values, dtype=np.float64)
    parts = []
    dim, coords = "", {}
    for name in names:
        Wi = W[fspace == name]
        feats = items[name]
        if isinstance(feats, xr.DataArray):
            X = np.asarray(feats.values, dtype=np.float64)
            dim = str(feats.dims[0])
            coords = {str(k): v for k, v in feats.coords.items() if v.dims == (dim,)}
        else:
            X = np.asarray(feats, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != Wi.shape[0]:
            raise SchemaError(
                f"predict_banded_ridge: spaces[{name!r}] must be (sample, {Wi.shape[0]} features); "
                f"got shape {X.shape}."
            )
        if not np.isfinite(X).all():
            raise SchemaError(f"predict_banded_ridge: spaces[{name!r}] must be finite.")
        parts.append(X @ Wi)
    if len({p.shape[0] for p in parts}) != 1:
        raise SchemaError("predict_banded_ridge: the spaces have different numbers of samples.")
    dim = dim or str(result.attrs.get("sample_dim", "stimulus"))
    unit_coords = {k: v for k, v in result["intercept"].coords.items()}
    if split:
        return xr.DataArray(np.stack(parts), dims=("space", dim, "unit"),
                            coords={**coords, **unit_coords, "space": ("space", names)},
                            name="prediction")
    pred = sum(parts) + np.asarray(result["intercept"].values)
    return xr.DataArray(pred, dims=(dim, "unit"), coords={**coords, **unit_coords},
                        name="prediction")
