"""Per-unit scores of held-out predictions: Pearson r, R^2, split scores, tests and CIs."""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep import __version__
from neurorep._errors import AlignmentError, NeurorepWarning, SchemaError, check_option
from neurorep.data import align
from neurorep.stats._bootstrap import as_generator, bootstrap_indices, percentile_ci
from neurorep.stats._fdr import fdr
from neurorep.stats._permutation import make_blocks, permutation_test

__all__ = ["METRICS", "score_prediction"]

METRICS = ("r", "r2")


def _r_r2(pred: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column-wise Pearson r and R^2 (vs the mean of ``y``), NaN for constant columns."""
    yc = y - y.mean(0)
    pc = pred - pred.mean(0)
    syy = np.einsum("ij,ij->j", yc, yc)
    spp = np.einsum("ij,ij->j", pc, pc)
    spy = np.einsum("ij,ij->j", pc, yc)
    sse = np.einsum("ij,ij->j", y - pred, y - pred)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where((syy > 0) & (spp > 0), spy / np.sqrt(syy * spp), np.nan)
        r2 = np.where(syy > 0, 1.0 - sse / syy, np.nan)
    return r, r2


def _fold_scores(
    pred: np.ndarray, responses: xr.DataArray, splits: list[tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(responses.values, dtype=np.float64)
    out_r = np.empty((len(splits), y.shape[1]))
    out_r2 = np.empty_like(out_r)
    for i, (_, test) in enumerate(splits):
        if len(test) < 2:
            out_r[i] = out_r2[i] = np.nan
            continue
        out_r[i], out_r2[i] = _r_r2(pred[test], y[test])
    return out_r, out_r2


def _weighted_scores(
    counts: np.ndarray, pred: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """r and R^2 of every bootstrap sample at once (sample counts as weights; GEMMs)."""
    c = counts.astype(np.float64)
    w = c.sum(1, keepdims=True)
    sp, sy = c @ pred, c @ y
    spp, syy, spy = c @ (pred * pred), c @ (y * y), c @ (pred * y)
    sse = c @ ((y - pred) ** 2)
    vy = syy - sy**2 / w
    vp = spp - sp**2 / w
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (spy - sp * sy / w) / np.sqrt(vy * vp)
        r2 = 1.0 - sse / vy
    tol = 1e-12 * np.maximum(syy, 1e-300)
    r = np.where((vy > tol) & (vp > 1e-12 * np.maximum(spp, 1e-300)), r, np.nan)
    r2 = np.where(vy > tol, r2, np.nan)
    return r, r2


def _as_pair(prediction: Any, responses: Any) -> tuple[xr.DataArray, xr.DataArray]:
    if not isinstance(prediction, xr.DataArray):
        p = np.asarray(prediction, dtype=np.float64)
        p = p[:, None] if p.ndim == 1 else p
        prediction = xr.DataArray(p, dims=("stimulus", "unit"))
    if not isinstance(responses, xr.DataArray):
        y = np.asarray(responses, dtype=np.float64)
        y = y[:, None] if y.ndim == 1 else y
        responses = xr.DataArray(y, dims=prediction.dims)
    for da, name in ((prediction, "prediction"), (responses, "responses")):
        if da.ndim != 2 or da.dims[1] != "unit" or da.dims[0] not in ("stimulus", "time"):
            raise SchemaError(
                f"score_prediction: {name} must have dims (stimulus or time, 'unit'); got {da.dims}."
            )
    if prediction.dims[0] != responses.dims[0]:
        raise SchemaError(
            f"score_prediction: prediction runs along {prediction.dims[0]!r} but responses along "
            f"{responses.dims[0]!r}."
        )
    if prediction.dims[0] == "stimulus" and "stimulus" in prediction.coords and "stimulus" in responses.coords:
        prediction, responses = align(prediction, responses, names=("prediction", "responses"))
    elif prediction.shape[0] != responses.shape[0]:
        raise AlignmentError(
            f"score_prediction: prediction has {prediction.shape[0]} samples, responses "
            f"{responses.shape[0]}."
        )
    if prediction.shape[1] != responses.shape[1]:
        raise SchemaError(
            f"score_prediction: prediction has {prediction.shape[1]} units, responses "
            f"{responses.shape[1]}."
        )
    if prediction.shape[0] < 3:
        raise SchemaError(
            f"score_prediction: needs at least 3 samples; got {prediction.shape[0]}."
        )
    return prediction, responses


def score_prediction(
    prediction: Any,
    responses: Any,
    *,
    metric: Literal["r", "r2"] = "r",
    n_permutations: int = 0,
    n_bootstrap: int = 0,
    ci: float = 0.95,
    block_size: int | None = None,
    groups: Any = None,
    fdr_method: Literal["bh", "by"] = "bh",
    rng: np.random.Generator | int | None = None,
) -> xr.Dataset:
    """Per-unit score of (held-out) predictions, with a permutation test and bootstrap CI.

    Parameters
    ----------
    prediction, responses : DataArray (stimulus or time, unit) or arrays
        Matched by stimulus id (time series: by position).
    metric : {"r", "r2"}
        Which of Pearson r and R^2 is ``score`` (both are returned).
    n_permutations : int
        Permutations of the responses against the predictions (0: no test).
        The p-value is ``(1 + #null >= observed) / (1 + n_permutations)``;
        ``pvalue_fdr`` adjusts it across units (``fdr_method``). r and R^2
        give the same p-value (with fixed predictions both are monotone in
        their cross-product).
    n_bootstrap : int
        Bootstrap samples over stimuli (blocks for time series) for
        ``ci_low`` / ``ci_high`` (0: no CI).
    ci : float
        Coverage of the percentile interval.
    block_size : int, optional
        Move (permutation) or resample (bootstrap) contiguous blocks of this
        many samples -- use several TRs for time series (autocorrelation).
    groups : str or array, optional
        Run per sample (or a coordinate name); blocks never cross runs.
    fdr_method : {"bh", "by"}
    rng : Generator or int, optional

    Returns
    -------
    Dataset
        ``score``, ``r``, ``r2`` (unit); with permutations ``pvalue``,
        ``pvalue_fdr`` and ``null_distribution`` (permutation, unit); with
        bootstrap ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.encoding import score_prediction
    >>> rng = np.random.default_rng(0)
    >>> y = rng.normal(size=(100, 2)); p = y + rng.normal(size=(100, 2))
    >>> res = score_prediction(p, y, n_permutations=99, n_bootstrap=200, rng=0)
    >>> bool((res["pvalue"] == 0.01).all()), bool((res["ci_low"] < res["score"]).all())
    (True, True)
    """
    check_option("metric", metric, METRICS)
    pred_da, resp_da = _as_pair(prediction, responses)
    P = np.asarray(pred_da.values, dtype=np.float64)
    Y = np.asarray(resp_da.values, dtype=np.float64)
    if not (np.isfinite(P).all() and np.isfinite(Y).all()):
        raise SchemaError(
            "score_prediction: prediction and responses must be finite; drop the samples "
            "without a prediction first (e.g. pred.dropna('stimulus'))."
        )
    if isinstance(groups, str):
        if groups not in resp_da.coords:
            raise SchemaError(f"score_prediction: groups={groups!r} is not a coordinate of responses.")
        groups = np.asarray(resp_da[groups].values)
    n, m = Y.shape
    r, r2 = _r_r2(P, Y)
    constant = np.isnan(r2)
    if constant.any():
        warnings.warn(
            f"{int(constant.sum())} of {m} unit(s) are constant; their scores are NaN.",
            NeurorepWarning, stacklevel=2,
        )
    unit_coords = {k: v for k, v in resp_da.coords.items() if v.dims == ("unit",)}
    ds = xr.Dataset(
        {"score": ("unit", r if metric == "r" else r2), "r": ("unit", r), "r2": ("unit", r2)},
        coords=unit_coords,
    )
    gen = as_generator(rng)
    if n_permutations:
        Yc = Y - Y.mean(0)
        Pc = P - P.mean(0)
        norm = np.sqrt((Yc**2).sum(0) * (Pc**2).sum(0))
        with np.errstate(divide="ignore", invalid="ignore"):
            Pz = Pc / norm
        batch = max(1, int(4e6 // max(n * m, 1)))

        def stat(idx: np.ndarray) -> np.ndarray:
            out = np.empty((idx.shape[0], m))
            for s in range(0, idx.shape[0], batch):
                sub = idx[s : s + batch]
                out[s : s + batch] = np.einsum("bij,ij->bj", Yc[sub], Pz, optimize=True)
            return out

        test = permutation_test(
            stat, n, n_permutations=n_permutations, block_size=block_size, groups=groups,
            vectorized=True, rng=gen,
        )
        pval = np.asarray(test["pvalue"].values)
        ds["pvalue"] = ("unit", pval)
        ds["pvalue_fdr"] = ("unit", fdr(pval, method=fdr_method))
        ds["null_distribution"] = (("permutation", "unit"), np.asarray(test["null_distribution"].values))
        ds["null_distribution"].attrs = {"metric": "r"}
    if n_bootstrap:
        blocks = make_blocks(n, block_size=block_size, groups=groups)
        n_blocks = int(blocks.max()) + 1
        if n_blocks < 3:
            raise ValueError(f"bootstrap needs at least 3 blocks; got {n_blocks}.")
        idx = bootstrap_indices(n_blocks, n_bootstrap, rng=gen)
        block_counts = np.zeros((n_bootstrap, n_blocks))
        np.add.at(block_counts, (np.arange(n_bootstrap)[:, None], idx), 1.0)
        counts = block_counts[:, blocks]
        br, br2 = _weighted_scores(counts, P, Y)
        low, high = percentile_ci(br if metric == "r" else br2, ci=ci, axis=0)
        ds["ci_low"] = ("unit", np.where(constant, np.nan, low))
        ds["ci_high"] = ("unit", np.where(constant, np.nan, high))
    ds.attrs = {
        "analysis": "score_prediction", "neurorep_version": __version__, "metric": metric,
        "n_samples": int(n), "n_permutations": int(n_permutations),
        "n_bootstrap": int(n_bootstrap), "ci": float(ci), "block_size": int(block_size or 1),
        "fdr_method": fdr_method,
    }
    return ds
