"""Per-unit scores of held-out predictions: Pearson r, R^2, split scores, tests and CIs."""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from neurorep import __version__
from neurorep._core.errors import AlignmentError, NeurorepWarning, SchemaError, check_option
from neurorep._core.memory import check_allocation
from neurorep._core.rng import as_generator
from neurorep.data import align
from neurorep.encoding._inputs import as_real_float, complex_error
from neurorep.stats import (
    SCORES,
    bootstrap_indices,
    fdr,
    make_blocks,
    percentile_ci,
    permutation_test,
)

__all__ = ["METRICS", "score_prediction", "score_split"]

METRICS = SCORES


_FLAT = 100 * np.finfo(np.float64).eps  # relative spread of predictions below which r is NaN


def _r_r2(pred: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column-wise Pearson r and R^2 (vs the mean of ``y``), NaN for constant columns."""
    yc = y - y.mean(0)
    pc = pred - pred.mean(0)
    syy = np.einsum("ij,ij->j", yc, yc)
    spp = np.einsum("ij,ij->j", pc, pc)
    spy = np.einsum("ij,ij->j", pc, yc)
    sse = np.einsum("ij,ij->j", y - pred, y - pred)
    # constant columns by their range: the mean of equal values is not always exactly that
    # value, so a centred constant column holds rounding noise and syy > 0
    vary_y = (syy > 0) & (np.ptp(y, axis=0) > 0) if y.shape[0] else syy > 0
    # predictions that vary by a few ulps of their size (a fit that predicts nothing but its
    # intercepts, far from 0) hold only rounding: their r would be noise, in any order
    vary_p = (spp > 0) & (
        np.ptp(pred, axis=0) > _FLAT * np.abs(pred).max(axis=0)) if pred.shape[0] else spp > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(vary_y & vary_p, spy / np.sqrt(syy) / np.sqrt(spp), np.nan)
        r2 = np.where(vary_y, 1.0 - sse / syy, np.nan)
    return np.clip(r, -1.0, 1.0), r2  # |r| <= 1 up to round-off


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
        r = (spy - sp * sy / w) / np.sqrt(vy) / np.sqrt(vp)  # vy * vp may overflow
        r2 = 1.0 - sse / vy
    tol = 1e-12 * np.maximum(syy, 1e-300)
    r = np.where((vy > tol) & (vp > 1e-12 * np.maximum(spp, 1e-300)), r, np.nan)
    r2 = np.where(vy > tol, np.minimum(r2, 1.0), np.nan)
    return np.clip(r, -1.0, 1.0), r2


def _as_array(values: Any, name: str, dims: tuple[str, ...]) -> xr.DataArray:
    if isinstance(values, xr.DataArray):
        if values.dtype.kind == "c":
            raise complex_error(f"score_prediction: {name}", values.dtype)
        return values
    arr = as_real_float(values, f"score_prediction: {name}")
    return xr.DataArray(arr[:, None] if arr.ndim == 1 else arr, dims=dims)


def _align_units(prediction: xr.DataArray, responses: xr.DataArray) -> xr.DataArray:
    """``prediction`` with its units in the responses' order, matched by unit id."""
    if "unit" not in prediction.coords or "unit" not in responses.coords:
        if prediction.shape[1] != responses.shape[1]:
            raise SchemaError(
                f"score_prediction: prediction has {prediction.shape[1]} units, responses "
                f"{responses.shape[1]}."
            )
        return prediction  # plain arrays (no unit ids): matched by position
    ip = pd.Index(np.asarray(prediction["unit"].values))
    iy = pd.Index(np.asarray(responses["unit"].values))
    if ip.equals(iy):
        return prediction  # same ids in the same order
    for index, name in ((ip, "prediction"), (iy, "responses")):
        if not index.is_unique:
            dup = index[index.duplicated()].unique()[:5].tolist()
            raise AlignmentError(
                f"score_prediction: {name} has duplicated unit ids {dup}; unit ids must be unique "
                f"to match predictions with responses."
            )
    shared = iy.intersection(ip)
    if len(shared) == 0:
        raise AlignmentError(
            f"score_prediction: prediction and responses share no unit id (prediction e.g. "
            f"{ip[:3].tolist()}, responses e.g. {iy[:3].tolist()}). Units are matched by id; "
            f"predict the same units as the responses (or assign their ids with "
            f"prediction.assign_coords(unit=responses['unit'].values))."
        )
    if len(shared) != len(iy) or len(shared) != len(ip):
        raise AlignmentError(
            f"score_prediction: prediction and responses have different units: {len(ip)} vs "
            f"{len(iy)} ids, {len(shared)} shared; only in prediction e.g. "
            f"{ip.difference(iy)[:5].tolist()}, only in responses e.g. "
            f"{iy.difference(ip)[:5].tolist()}. Select the shared units first "
            f"(responses.sel(unit=ids), prediction.sel(unit=ids))."
        )
    return prediction.isel(unit=ip.get_indexer(iy))


def _as_pair(prediction: Any, responses: Any) -> tuple[xr.DataArray, xr.DataArray]:
    prediction = _as_array(prediction, "prediction", ("stimulus", "unit"))
    responses = _as_array(responses, "responses", prediction.dims)
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
    dim = str(prediction.dims[0])
    if dim in prediction.coords and dim in responses.coords:
        if dim == "stimulus":
            prediction, responses = align(prediction, responses, names=("prediction", "responses"))
        elif not np.array_equal(np.asarray(prediction[dim].values),
                                np.asarray(responses[dim].values)):
            raise AlignmentError(
                f"score_prediction: prediction and responses have different {dim!r} coordinates "
                f"(time points are matched by position, so both must list the same times in the "
                f"same order). Predict the responses' own time points."
            )
    elif prediction.shape[0] != responses.shape[0]:
        raise AlignmentError(
            f"score_prediction: prediction has {prediction.shape[0]} samples, responses "
            f"{responses.shape[0]}."
        )
    prediction = _align_units(prediction, responses)
    if prediction.shape[0] < 3:
        raise SchemaError(
            f"score_prediction: needs at least 3 samples; got {prediction.shape[0]}."
        )
    return prediction, responses


def _score_parts(
    n: int, m: int, *, n_permutations: int, n_bootstrap: int
) -> dict[str, tuple[float, str]]:
    """Bytes the permutation test and the bootstrap of :func:`score_prediction` allocate."""
    parts: dict[str, tuple[float, str]] = {}
    fix = "score fewer units at a time (responses.isel(unit=slice(...)))."
    if n_permutations:
        parts["permutations"] = (
            8.0 * n_permutations * (n + 3 * m) + 8.0 * max(4e6, n * m),
            f"Use fewer permutations (n_permutations=1000 resolves p = 0.001) or {fix}",
        )
    if n_bootstrap:
        parts["bootstrap"] = (
            8.0 * n_bootstrap * (3 * n + 14 * m),
            f"Use fewer bootstrap samples (n_bootstrap=1000 is enough for a 95% interval) or {fix}",
        )
    return parts


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
        Matched by stimulus id and by unit id (the result follows the
        responses' order); time series by position, with the same ``time``
        coordinate when both carry one. Plain arrays (no ids) are matched by
        position.
    metric : {"r", "r2"}
        Which of Pearson r and R^2 is ``score`` (both are returned). r is
        NaN (with a ``NeurorepWarning``) for a unit whose predictions are
        constant, or vary by less than ~100 float64 eps of their size.
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
    rng : int, Generator or None
        Seed or generator of the random draws (None: fresh entropy).

    Returns
    -------
    Dataset
        ``score``, ``r``, ``r2`` (unit); with permutations ``pvalue``,
        ``pvalue_fdr`` and ``null_distribution`` (permutation, unit); with
        bootstrap ``ci_low``, ``ci_high``.

    Raises
    ------
    AlignmentError
        Different, disjoint or duplicated stimulus or unit ids.
    SchemaError
        Wrong dims, complex or non-finite values, fewer than 3 samples.
    MemoryError
        The permutations or bootstrap samples would not fit in memory.

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
    parts = _score_parts(n, m, n_permutations=n_permutations, n_bootstrap=n_bootstrap)
    if parts:
        check_allocation(
            sum(b for b, _ in parts.values()),
            what=f"score_prediction ({n_permutations} permutations, {n_bootstrap} bootstrap "
                 f"samples of {n} samples x {m} units)",
            fix=" ".join(f for _, f in parts.values()), name=None,
        )
    r, r2 = _r_r2(P, Y)
    constant = np.isnan(r2)
    if constant.any():
        warnings.warn(
            f"{int(constant.sum())} of {m} unit(s) are constant; their scores are NaN.",
            NeurorepWarning, stacklevel=2,
        )
    flat = np.isnan(r) & ~constant
    if flat.any():
        warnings.warn(
            f"the predictions of {int(flat.sum())} of {m} unit(s) are constant (their spread "
            f"is below ~100 eps of their size); Pearson r is NaN for them (R^2 is reported).",
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
        shift = Y.mean(0)  # r and R^2 are unchanged by a common shift; raw sums lose less
        br, br2 = _weighted_scores(counts, P - shift, Y - shift)
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


def score_split(
    prediction: Any,
    responses: Any,
    *,
    intercept: Any = None,
) -> xr.Dataset:
    """Split R^2 and Pearson r of a banded prediction between its feature spaces.

    With ``p_s`` the part of the prediction from space ``s`` (``X_s W_s``),
    ``P = sum_s p_s`` and the responses ``y`` centred on their mean
    (``y_c``), the product measure (St-Yves & Naselaris 2018; himalaya's
    ``r2_score_split`` and ``correlation_score_split``) gives each space

    * ``split_r2_s = (2 y_c . p_s - p_s . P) / |y_c|^2``, which sum to the
      R^2 of ``P + mean(y)``;
    * ``split_r_s = y_c . (p_s - mean(p_s)) / (|y_c| |P - mean(P)|)``, which
      sum to Pearson r of ``P`` and ``y``.

    With ``intercept`` ``b`` the whole prediction is ``P + b``: the constant
    ``b - mean(y)`` belongs to no space, and its share of R^2
    (``-(b - mean(y)) . (P + b - mean(y)) / |y_c|^2``) is divided equally
    between the spaces, so the parts sum to the R^2 of ``P + b`` (r is
    unchanged by a constant). Without it, the R^2 parts equal himalaya's
    ``r2_score_split(y_c, p)`` exactly.

    Parameters
    ----------
    prediction : DataArray (space, stimulus or time, unit) or array
        Each space's part of the prediction, without the intercept, e.g.
        :func:`neurorep.encoding.predict_banded_ridge` with ``split=True``.
    responses : DataArray (stimulus or time, unit) or array
        Matched by stimulus id (time series: by position) and unit id.
    intercept : DataArray or array (unit,), optional
        The model's intercept (see above).

    Returns
    -------
    Dataset
        ``split_r2``, ``split_r`` (space, unit); ``r2``, ``r`` (unit) of the
        whole prediction (their sums over ``space``). NaN for constant units
        (and ``split_r`` for constant predictions).

    Raises
    ------
    SchemaError
        Wrong dims, non-finite values, fewer than 3 samples.
    AlignmentError
        Different stimulus or unit ids.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.encoding import score_split
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(100, 2)), rng.normal(size=(100, 2))
    >>> y = a + 0.3 * b + 0.5 * rng.normal(size=(100, 2))
    >>> res = score_split(np.stack([a, 0.3 * b]), y)
    >>> bool(np.allclose(res["split_r2"].sum("space"), res["r2"]))
    True
    >>> bool((res["split_r2"][0] > res["split_r2"][1]).all())
    True
    """
    if isinstance(prediction, xr.DataArray):
        if prediction.ndim != 3 or prediction.dims[0] != "space":
            raise SchemaError(
                f"score_split: prediction must have dims ('space', stimulus or time, 'unit'); got "
                f"{prediction.dims}. Pass each space's part, e.g. predict_banded_ridge(result, "
                f"spaces, split=True)."
            )
        spaces = (np.asarray(prediction["space"].values) if "space" in prediction.coords
                  else np.arange(prediction.shape[0]))
        parts = [prediction.isel(space=i, drop=True) for i in range(prediction.shape[0])]
    else:
        arr = as_real_float(prediction, "score_split: prediction")
        if arr.ndim != 3:
            raise SchemaError(
                f"score_split: prediction must be 3-D (space, sample, unit); got shape "
                f"{arr.shape}."
            )
        spaces = np.arange(arr.shape[0])
        parts = list(arr)
    if not parts:
        raise SchemaError("score_split: prediction has no space.")
    aligned = []
    resp_da = None
    for part in parts:
        pa, resp_da = _as_pair(part, responses)
        aligned.append(np.asarray(pa.values, dtype=np.float64))
    assert resp_da is not None
    Pp = np.stack(aligned)  # (space, n, m)
    Y = np.asarray(resp_da.values, dtype=np.float64)
    if not (np.isfinite(Pp).all() and np.isfinite(Y).all()):
        raise SchemaError("score_split: prediction and responses must be finite.")
    n, m = Y.shape
    if intercept is None:
        c = np.zeros(m)
    else:
        b = np.asarray(getattr(intercept, "values", intercept), dtype=np.float64).reshape(-1)
        if b.shape != (m,) or not np.isfinite(b).all():
            raise SchemaError(
                f"score_split: intercept must be {m} finite values (one per unit); got shape "
                f"{b.shape}."
            )
        c = b - Y.mean(0)
    yc = Y - Y.mean(0)
    syy = np.einsum("ij,ij->j", yc, yc)
    good = (syy > 0) & (np.ptp(Y, axis=0) > 0)
    P = Pp.sum(0)
    E = P + c  # whole prediction minus mean(y)
    n_s = Pp.shape[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = -c * E.sum(0) / syy / n_s  # the constant's own share, divided equally
        split_r2 = (2 * np.einsum("ij,sij->sj", yc, Pp) - np.einsum("sij,ij->sj", Pp, E)) / syy
        split_r2 = split_r2 + share
        Pc = Pp - Pp.mean(1, keepdims=True)
        Ec = P - P.mean(0)
        norm = np.sqrt(syy * np.einsum("ij,ij->j", Ec, Ec))
        split_r = np.einsum("ij,sij->sj", yc, Pc) / norm
    split_r2 = np.where(good, split_r2, np.nan)
    split_r = np.where(good & (norm > 0), split_r, np.nan)
    unit_coords = {k: v for k, v in resp_da.coords.items() if v.dims == ("unit",)}
    ds = xr.Dataset(
        {
            "split_r2": (("space", "unit"), split_r2),
            "split_r": (("space", "unit"), split_r),
            "r2": ("unit", split_r2.sum(0)),
            "r": ("unit", split_r.sum(0)),
        },
        coords={**unit_coords, "space": ("space", spaces)},
    )
    ds.attrs = {
        "analysis": "score_split", "neurorep_version": __version__, "n_samples": int(n),
        "split": "product measure" + ("; intercept offset shared equally"
                                      if intercept is not None else ""),
    }
    return ds
