"""Banded ridge: one penalty per feature space, and split scores that add up.

Banded ridge minimises ``||Y - sum_s X_s W_s||^2 + sum_s alpha_s ||W_s||^2``.
Writing ``alpha_s = alpha / gamma_s`` with weights ``gamma`` on the simplex,
it is plain ridge with penalty ``alpha`` on the rescaled features
``sqrt(gamma_s) X_s``: each candidate ``gamma`` needs one decomposition per
fold, and that decomposition serves the whole alpha grid for every unit
(the same machinery as :func:`fit_ridge`). Each unit keeps its best
``(gamma, alpha)`` pair by cross-validation.

Split scores (the product measure of St-Yves & Naselaris 2018 and himalaya's
``r2_score_split``) attribute the held-out score to the spaces exactly:
with held-out responses ``y`` centred on their mean and the per-space
predictions ``p_s`` centred likewise, ``P = sum_s p_s``,

* ``r_s = y . p_s / (|y| |P|)``, which sums to Pearson r;
* ``R2_s = (2 y . p_s - p_s . P) / |y|^2 - n c^2 / (S |y|^2)``, which sums to
  R^2; ``c`` is the held-out mean error of the intercept, shared equally by
  the ``S`` spaces (it is O(1/n) and belongs to no space).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep import __version__
from neurorep._errors import SchemaError
from neurorep.data import align, members
from neurorep.encoding._chunks import check_block, map_units
from neurorep.encoding._cv import make_splits
from neurorep.encoding._inputs import (
    as_feature_array,
    prepare,
    warn_constant,
)
from neurorep.encoding._ridge import (
    DEFAULT_ALPHAS,
    Solver,
    _check_common,
    _describe_cv,
    _select,
)
from neurorep.encoding._solvers import (
    _fold_projection,
    _Plan,
    build_plan,
    center_chunk,
    cv_scores_chunk,
    full_projection,
    weights_from_projection,
)
from neurorep.stats._bootstrap import as_generator

__all__ = ["default_space_weights", "fit_banded_ridge"]


def default_space_weights(
    n_spaces: int, *, n_candidates: int = 9, rng: np.random.Generator | int | None = None
) -> np.ndarray:
    """Candidate space weights ``gamma`` (n_candidates, n_spaces), rows summing to 1.

    Two spaces: a log-spaced grid of ratios ``gamma_1 / gamma_2`` from 1e-2 to
    1e2 (penalty ratios alike). More spaces: equal weights plus Dirichlet(1)
    samples.

    Examples
    --------
    >>> from neurorep.encoding import default_space_weights
    >>> default_space_weights(2, n_candidates=3).round(3).tolist()
    [[0.01, 0.99], [0.5, 0.5], [0.99, 0.01]]
    """
    gen = as_generator(rng)  # checked even where the grid needs no randomness
    if n_spaces < 1:
        raise ValueError(f"n_spaces must be >= 1; got {n_spaces}.")
    if n_candidates < 1:
        raise ValueError(f"n_candidates must be >= 1; got {n_candidates}.")
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
    Y = check_block(Y, sample_dim)
    m = Y.shape[1]
    n_spaces = len(slices)
    constant = np.ptp(Y, axis=0) == 0
    dtype = plans[0].dtype
    Yc, y_mean = center_chunk(Y, dtype)
    if constant.any():
        Yc[:, constant] = 0
    n_c = len(plans)
    cv_best = np.full((n_c, m), np.nan)
    best_score = np.full(m, -np.inf)
    best_c = np.full(m, -1, dtype=np.intp)
    best_a = np.full(m, -1, dtype=np.intp)
    for ci, plan in enumerate(plans):
        XtY = plan.X.T @ Yc if plan.mode == "gram" else None
        r2, r = cv_scores_chunk(plan, Yc, XtY=XtY)
        b = _select(r2, r, scoring)
        sel = r2 if scoring == "r2" else r
        s = np.where(b >= 0, sel[np.where(b < 0, 0, b), np.arange(m)], np.nan)
        cv_best[ci] = s
        better = np.where(np.isnan(s), False, s > best_score)
        best_score[better] = s[better]
        best_c[better] = ci
        best_a[better] = b[better]
    p = plans[0].X.shape[1]
    W = np.zeros((p, m), dtype=dtype)
    intercept = y_mean.copy()
    split_r = np.zeros((n_spaces, m))
    split_r2 = np.zeros((n_spaces, m))
    cnt_r = np.zeros(m)
    cnt_r2 = np.zeros(m)
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
        s_all = Ys.sum(0)
        for fold in plan.folds:
            B, Yte = _fold_projection(fold, Ys, XtY, s_all)
            Wf = weights_from_projection(fold.dec, B, plan.alphas, a_idx)
            Xte = plan.X[fold.test] - fold.dec.x_mean.astype(dtype)
            y = np.asarray(Yte, dtype=np.float64)
            n_te = y.shape[0]
            y_tr = (s_all.astype(np.float64) - y.sum(0)) / len(fold.train)
            yc = y - y.mean(0)
            parts = [np.asarray(Xte[:, sl] @ Wf[sl], dtype=np.float64) for sl in slices]
            c = y_tr - y.mean(0) + sum(q.mean(0) for q in parts)
            pc = [q - q.mean(0) for q in parts]
            Ptot = sum(pc)
            syy = np.einsum("ij,ij->j", yc, yc)
            spp = np.einsum("ij,ij->j", Ptot, Ptot)
            ok2 = syy > 1e-12 * np.maximum(np.einsum("ij,ij->j", y, y), 1e-300)
            ok = ok2 & (spp > 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                for si, q in enumerate(pc):
                    ypq = np.einsum("ij,ij->j", yc, q)
                    r2_s = (2 * ypq - np.einsum("ij,ij->j", q, Ptot)) / syy - n_te * c**2 / (
                        n_spaces * syy
                    )
                    r_s = ypq / np.sqrt(syy * spp)
                    split_r2[si, units] += np.where(ok2, r2_s, 0.0)
                    split_r[si, units] += np.where(ok, r_s, 0.0)
            cnt_r2[units] += ok2
            cnt_r[units] += ok
    with np.errstate(divide="ignore", invalid="ignore"):
        split_r2 = split_r2 / cnt_r2
        split_r = split_r / cnt_r
    return {
        "cv_best": cv_best, "best_c": best_c, "best_a": best_a, "weights": W,
        "intercept": intercept, "split_r": split_r, "split_r2": split_r2, "constant": constant,
    }


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
) -> xr.Dataset:
    """Banded ridge over several feature spaces, with a penalty per space and split scores.

    Parameters
    ----------
    spaces : mapping name -> features, DataTree of layers, or list
        Each a DataArray (stimulus or time, feature) or array (two model
        layers, or text and low-level features...). Aligned with the
        responses by stimulus id.
    responses : DataArray (stimulus, unit) or (time, unit)
    alphas : sequence of float
        Global penalties; space ``s`` gets ``alpha / gamma_s``.
    space_weights : array (n_candidates, n_spaces), optional
        Candidate ``gamma`` rows (normalised to sum 1); default
        :func:`default_space_weights`.
    n_candidates : int
        Size of the default candidate set.
    cv, groups, scoring, dtype, solver, chunk_units, compute
        As in :func:`fit_ridge`.
    rng : Generator or int, optional
        For the random candidates with three or more spaces.

    Returns
    -------
    Dataset
        ``alpha`` (space, unit) per-space penalties; ``score``, ``r``, ``r2``
        (unit) mean held-out scores at the chosen penalties; ``split_score``,
        ``split_r``, ``split_r2`` (space, unit) that sum over ``space`` to
        ``score``, ``r``, ``r2``; ``weights`` (feature, unit) with a ``space``
        coord per feature; ``intercept`` (unit); ``cv_score`` (candidate,
        unit) and ``space_weight`` (candidate, space).

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
    alphas_arr, dt = _check_common(alphas, dtype, solver, scoring)
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
    splits = make_splits(X.shape[0], cv, groups=prep.groups)
    plans = []
    for g in gammas:
        scale = np.concatenate([np.full(s, np.sqrt(gi)) for s, gi in zip(sizes, g, strict=True)])
        plans.append(build_plan(X, splits, alphas=alphas_arr, solver=solver, dtype=dt, scale=scale))
    n_c = len(plans)
    p = X.shape[1]
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
    ds["score"].attrs = {"metric": scoring}
    ds.attrs = {
        "analysis": "fit_banded_ridge", "neurorep_version": __version__,
        "sample_dim": prep.sample_dim, "n_samples": int(X.shape[0]), "alphas": alphas_arr.tolist(),
        "cv": _describe_cv(cv), "n_folds": len(splits), "scoring": scoring, "dtype": str(dt),
        "solver": plans[0].solver, "grouped": int(prep.groups is not None),
        "split": "product measure; intercept offset shared equally", **prep.attrs,
    }
    return ds
