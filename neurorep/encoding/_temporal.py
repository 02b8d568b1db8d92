"""Time-resolved encoding: features -> every unit at every time point; temporal response functions.

:func:`fit_over_time` models epochs ``(stimulus, [repetition,] time, unit)``
from stimulus features. Every ``(time, unit)`` pair is one column of a single
multi-output ridge: one decomposition per fold serves every alpha, every time
point and every unit (:func:`neurorep.encoding.fit_ridge` scores the inner
folds), and each unit keeps **one** alpha for all its time points -- the one
with the least inner-CV squared error summed over time.

:func:`fit_trf` fits temporal response functions on continuous data
``(time, unit)`` with runs: the features delayed by ``tmin..tmax`` seconds
(:func:`neurorep.encoding.make_delays`, within runs), cross-validated over
runs, with the weights returned as ``(delay, feature, unit)`` in seconds.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep import __version__
from neurorep._core.errors import NeurorepWarning, SchemaError, check_int, check_option
from neurorep._core.rng import as_generator
from neurorep.data import check_epochs
from neurorep.encoding._cv import make_splits
from neurorep.encoding._inputs import check_alphas, prepare
from neurorep.encoding._ridge import (
    DEFAULT_ALPHAS,
    SCORINGS,
    cross_validate_ridge,
    fit_ridge,
    predict_ridge,
)
from neurorep.encoding._scoring import score_prediction
from neurorep.encoding._solvers import (
    build_plan,
    center_chunk,
    full_projection,
    weights_from_projection,
)
from neurorep.encoding._timeseries import make_delays

__all__ = ["fit_over_time", "fit_trf", "predict_trf"]


def _describe(cv: Any) -> str:
    return str(cv) if isinstance(cv, int | str) else type(cv).__name__


def _seed(rng: Any, needed: bool) -> int | None:
    """An int seed from ``rng`` (recorded in attrs) when resampling is asked for; a bad
    ``rng`` is refused either way."""
    gen = as_generator(rng)
    if not needed:
        return None
    if isinstance(rng, int | np.integer):
        return int(rng)
    return int(gen.integers(2**31 - 1))


def _check_counts(n_permutations: Any, n_bootstrap: Any) -> tuple[int, int]:
    return (check_int("n_permutations", n_permutations, minimum=0),
            check_int("n_bootstrap", n_bootstrap, minimum=0))


# ----------------------------------------------------------------------------- epochs
def _epochs_matrix(epochs: Any, name: str) -> tuple[xr.DataArray, np.ndarray]:
    """Validated epochs as ``(stimulus, time, unit)`` (repetitions averaged) and the times."""
    if not isinstance(epochs, xr.DataArray):
        raise SchemaError(
            f"{name}: expected epochs, a DataArray with dims ('stimulus', 'time', 'unit') or "
            f"('stimulus', 'repetition', 'time', 'unit') and time in seconds; got "
            f"{type(epochs).__name__}. Build them with neurorep.data.responses(values, "
            f"dims=('stimulus', 'time', 'unit'), time=seconds) -- a plain array is never read as "
            f"epochs, since its axes would be guessed."
        )
    if "time" not in epochs.dims:
        raise SchemaError(
            f"{name}: expected epochs with a 'time' dim (seconds); got dims {tuple(epochs.dims)}. "
            f"For one response per stimulus use neurorep.encoding.cross_validate_ridge("
            f"features, responses); for continuous (time, unit) recordings use fit_trf."
        )
    check_epochs(epochs, name=name)
    if np.issubdtype(epochs.dtype, np.floating) and bool(epochs.isnull().any()):
        raise SchemaError(
            f"{name}: NaN values (missing trials or time points); averaging would hide them. "
            f"Drop or impute them first, e.g. {name}.dropna('stimulus', how='any') or "
            f"{name}.fillna({name}.mean('repetition'))."
        )
    da = epochs.mean("repetition", keep_attrs=True) if "repetition" in epochs.dims else epochs
    da = da.transpose("stimulus", "time", "unit")
    return da, np.asarray(da["time"].values, dtype=np.float64)


def _sse_by_unit(cv_r2: np.ndarray, sst: np.ndarray, n_time: int, n_unit: int) -> np.ndarray:
    """Inner-CV squared error of every alpha, summed over time: ``(alpha, unit)``.

    ``cv_r2`` (alpha, column) is the pooled held-out R^2 of each (time, unit)
    column and ``sst`` its pooled held-out sum of squares, so the column's
    squared error is ``(1 - R^2) * SST``; constant columns (NaN) add nothing.
    """
    sse = (1.0 - cv_r2) * sst[None, :]
    sse = np.where(np.isfinite(sse), sse, 0.0)
    return sse.reshape(len(cv_r2), n_time, n_unit).sum(axis=1)


def _pooled_sst(Y: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Sum of squares around the pooled mean of the held-out samples of ``splits``."""
    held = np.unique(np.concatenate([te for _, te in splits]))
    Yh = Y[held]
    return ((Yh - Yh.mean(0)) ** 2).sum(0)


def _choose_alpha(
    X: np.ndarray, Y: np.ndarray, inner: list[tuple[np.ndarray, np.ndarray]], *,
    alphas: np.ndarray, n_time: int, n_unit: int, dtype: Literal["float32", "float64"],
) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit alpha index (least squared error summed over time) and the unit's pooled
    inner-CV R^2 over all its time points for every alpha ``(alpha, unit)``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeurorepWarning)  # constant columns: NaN, handled here
        res = fit_ridge(X, Y, alphas=alphas, cv=inner, return_weights=False, dtype=dtype)
    cv_r2 = np.asarray(res["cv_r2"].values, dtype=np.float64)
    sst = _pooled_sst(Y, inner)
    sse = _sse_by_unit(cv_r2, sst, n_time, n_unit)
    total = sst.reshape(n_time, n_unit).sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        unit_r2 = np.where(total > 0, 1.0 - sse / total, np.nan)
    best = np.argmin(sse, axis=0)  # first minimum: the smallest alpha of ties
    return best, unit_r2


def _ridge_refit(
    X: np.ndarray, Y: np.ndarray, alphas: np.ndarray, col_index: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Ridge weights ``(feature, column)`` and intercepts ``(column,)`` with one alpha per
    column (``alphas[col_index]``), by fit_ridge's solver: one thin SVD of the centred
    features (float64) serves every alpha."""
    plan = build_plan(X, [], alphas=alphas, solver="svd", dtype=np.dtype(np.float64))
    Yc, y_mean = center_chunk(Y, plan.dtype)
    W = weights_from_projection(plan.full, full_projection(plan, Yc), plan.alphas, col_index)
    return W, y_mean - plan.x_mean @ W


def fit_over_time(
    features: Any,
    epochs: xr.DataArray,
    *,
    alphas: Iterable[float] | np.ndarray = DEFAULT_ALPHAS,
    cv: Any = 5,
    inner_cv: Any = 5,
    scoring: Literal["r", "r2"] = "r",
    n_permutations: int = 0,
    n_bootstrap: int = 0,
    ci: float = 0.95,
    rng: np.random.Generator | int | None = None,
    dtype: Literal["float32", "float64"] = "float64",
) -> xr.Dataset:
    """Encoding model of every unit at every time point, one alpha per unit shared over time.

    Features ``(stimulus, feature)`` predict the (trial-averaged) response of
    every unit at every time point. All ``(time, unit)`` pairs are the
    columns of one multi-output ridge, so one decomposition per fold serves
    every alpha, time point and unit (about the cost of one
    :func:`cross_validate_ridge` on ``time x unit`` columns, not one per time
    point). By nested cross-validation, each outer fold chooses one alpha per
    unit on its training stimuli only: the alpha with the least inner-CV
    squared error **summed over the unit's time points** (equivalently the
    best pooled R^2 of its whole time course; never Pearson r, which cannot
    see over-shrinkage). The refit model predicts the held-out stimuli, and
    scores compare the pooled held-out predictions with the responses at
    each time point.

    Parameters
    ----------
    features : DataArray (stimulus, feature), one-layer DataTree, or array
        One feature space. Aligned with ``epochs`` by stimulus id (a plain
        array is matched by position with the epochs' stimuli). Folds follow
        the features' stimulus order.
    epochs : DataArray (stimulus, time, unit) or (stimulus, repetition, time, unit)
        Time in seconds on a regular grid. Repetitions are averaged first.
    alphas : sequence of float
        Ridge penalties to try.
    cv, inner_cv : int, splitter, or iterable of (train, test)
        Outer folds (held-out predictions) and inner folds (alpha choice);
        an int gives contiguous folds in the features' stimulus order.
    scoring : {"r", "r2"}
        The held-out score reported as ``score`` (both are reported); it
        never chooses alpha.
    n_permutations : int
        Stimulus permutations of the held-out predictions for ``pvalue`` and
        ``pvalue_fdr`` (Benjamini-Hochberg over all time points and units);
        0 skips the test.
    n_bootstrap : int
        Bootstrap samples of stimuli (the same resamples at every time point)
        for ``ci_low`` / ``ci_high``; 0 skips them.
    ci : float
        Coverage of the bootstrap interval.
    rng : int, Generator or None
        Randomness of the permutations and the bootstrap (seed in attrs).
    dtype : {"float64", "float32"}
        Working precision of the inner-CV products (the refits are float64).

    Returns
    -------
    Dataset
        ``score``, ``r``, ``r2`` (time, unit) of the pooled held-out
        predictions; ``prediction`` (stimulus, time, unit) held-out;
        ``alpha`` (unit) and ``weights`` (time, feature, unit),
        ``intercept`` (time, unit) of the refit on every stimulus (alpha
        chosen by ``inner_cv`` on all stimuli); ``cv_r2`` (alphas, unit) the
        inner-CV R^2 of each unit's whole time course for every alpha in that
        choice; ``fold_alpha`` (fold, unit) the alpha of each outer fold; with
        permutations ``pvalue``, ``pvalue_fdr``; with bootstrap ``ci_low``,
        ``ci_high`` (time, unit). ``attrs["chance"]`` is 0, so
        :func:`neurorep.plotting.plot_time_course` draws one line per unit
        (select units first, or pass ``result.score.mean("unit")``).

    Raises
    ------
    SchemaError
        Epochs that are not a DataArray with a ``time`` dim, time that does
        not increase or is sampled irregularly, NaN values, wrong feature dims.
    AlignmentError
        Features and epochs with different stimulus ids.
    ValueError
        Fewer stimuli than folds, non-positive alphas, a bad option.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> from neurorep.encoding import fit_over_time
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 3))
    >>> gain = np.r_[np.zeros(5), np.ones(5)]  # the features drive the unit from t = 0.05 s
    >>> Y = gain[None, :, None] * (X @ [1.0, -1.0, 0.5])[:, None, None]
    >>> ep = data.responses(Y + rng.normal(size=(40, 10, 1)), dims=("stimulus", "time", "unit"),
    ...                     time=np.arange(10) / 100)
    >>> res = fit_over_time(data.responses(X, stimulus=ep.stimulus.values), ep, cv=4, inner_cv=3)
    >>> bool(res.score.sel(time=slice(0.05, None)).min() > 0.5)
    True
    """
    check_option("scoring", scoring, SCORINGS)
    n_permutations, n_bootstrap = _check_counts(n_permutations, n_bootstrap)
    ep, times = _epochs_matrix(epochs, "epochs")
    n_stim, n_time, n_unit = ep.shape
    unit_coords = {str(k): ("unit", np.asarray(v.values)) for k, v in ep.coords.items()
                   if v.dims == ("unit",)}
    flat = xr.DataArray(
        np.asarray(ep.values).reshape(n_stim, n_time * n_unit), dims=("stimulus", "unit"),
        coords={k: (("stimulus",), np.asarray(v.values)) for k, v in ep.coords.items()
                if v.dims == ("stimulus",)},
    )
    prep = prepare(features, flat)
    X = prep.X
    Y = np.asarray(prep.Y, dtype=np.float64)
    alphas_arr = check_alphas(alphas)
    outer = make_splits(n_stim, cv)
    seen = np.zeros(n_stim, dtype=int)
    for _, te in outer:
        seen[te] += 1
    if seen.max() > 1:
        raise ValueError("cv: each stimulus may be held out by at most one outer fold.")
    unit_of_col = np.tile(np.arange(n_unit), n_time)
    pred = np.full(Y.shape, np.nan)
    fold_idx = np.empty((len(outer), n_unit), dtype=np.intp)
    for f, (train, test) in enumerate(outer):
        inner = make_splits(len(train), inner_cv, name="inner_cv")
        best, _ = _choose_alpha(X[train], Y[train], inner, alphas=alphas_arr, n_time=n_time,
                                n_unit=n_unit, dtype=dtype)
        fold_idx[f] = best
        W, b = _ridge_refit(X[train], Y[train], alphas_arr, best[unit_of_col])
        pred[test] = X[test] @ W + b
    inner_all = make_splits(n_stim, inner_cv, name="inner_cv")
    best_all, unit_r2 = _choose_alpha(X, Y, inner_all, alphas=alphas_arr, n_time=n_time,
                                      n_unit=n_unit, dtype=dtype)
    W_all, b_all = _ridge_refit(X, Y, alphas_arr, best_all[unit_of_col])

    tested = seen > 0
    seed = _seed(rng, bool(n_permutations or n_bootstrap))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeurorepWarning)  # constant (time, unit) columns -> NaN
        scores = score_prediction(
            pred[tested], Y[tested], metric=scoring, n_permutations=n_permutations,
            n_bootstrap=n_bootstrap, ci=ci, rng=seed,
        )
    tu = (n_time, n_unit)
    coords: dict[str, Any] = {
        "time": ("time", times), **unit_coords, **prep.sample_coords,
        "feature": ("feature", prep.feature_ids), "alphas": ("alphas", alphas_arr),
        "fold": ("fold", np.arange(len(outer))),
    }
    ds = xr.Dataset(coords=coords)
    for k in ("score", "r", "r2", "pvalue", "pvalue_fdr", "ci_low", "ci_high"):
        if k in scores:
            ds[k] = (("time", "unit"), np.asarray(scores[k].values).reshape(tu))
    ds["prediction"] = (("stimulus", "time", "unit"), pred.reshape(n_stim, *tu))
    ds["alpha"] = ("unit", alphas_arr[best_all])
    ds["fold_alpha"] = (("fold", "unit"), alphas_arr[fold_idx])
    ds["cv_r2"] = (("alphas", "unit"), unit_r2)
    ds["weights"] = (("time", "feature", "unit"),
                     W_all.reshape(X.shape[1], *tu).transpose(1, 0, 2))
    ds["intercept"] = (("time", "unit"), b_all.reshape(tu))
    ds["score"].attrs = {
        "metric": scoring,
        "description": "held-out score of the pooled out-of-fold predictions at each time point",
    }
    ds["alpha"].attrs = {"description": "ridge penalty per unit, shared by all its time points"}
    ds.attrs = {
        "analysis": "fit_over_time", "neurorep_version": __version__, "scoring": scoring,
        "chance": 0.0, "alphas": alphas_arr.tolist(), "cv": _describe(cv),
        "inner_cv": _describe(inner_cv), "n_folds": len(outer), "n_stimuli": int(n_stim),
        "alpha_selection": "inner-CV squared error summed over time points (per unit)",
        "n_permutations": int(n_permutations), "n_bootstrap": int(n_bootstrap), "ci": float(ci),
        "dtype": str(dtype),
        **({"seed": seed} if seed is not None else {}),
    }
    return ds


# ----------------------------------------------------------------------------- TRF
def _run_sampling(resp: xr.DataArray, runs: np.ndarray, name: str) -> float:
    """The regular sampling interval (s) of a continuous recording whose time restarts per run."""
    if "time" not in resp.coords:
        raise SchemaError(
            f"{name}: the 'time' dim has no coordinate; assign the sample times in seconds (from "
            f"the start of each run), e.g. obj.assign_coords(time=np.arange(n) / sfreq)."
        )
    t = np.asarray(resp["time"].values)
    if t.dtype.kind not in "iuf":
        raise SchemaError(f"{name}: the 'time' coordinate must be numeric (seconds); got {t.dtype}.")
    t = t.astype(np.float64)
    steps = []
    for label in dict.fromkeys(runs.tolist()):
        tr = t[runs == label]
        d = np.diff(tr)
        if d.size and not (d > 0).all():
            i = int(np.flatnonzero(d <= 0)[0])
            raise SchemaError(
                f"{name}: time is not monotonic within run {label!r} (position {i + 1}: "
                f"{tr[i]:g} s then {tr[i + 1]:g} s). Sort the samples with "
                f"obj.sortby(['run', 'time'])."
            )
        steps.append(d)
    all_steps = np.concatenate(steps) if steps else np.array([])
    if all_steps.size == 0:
        raise SchemaError(f"{name}: every run has a single sample; a TRF needs time series.")
    dt = float(np.median(all_steps))
    if np.abs(all_steps - dt).max() > 1e-6 * dt:
        raise SchemaError(
            f"{name}: the time axis is sampled irregularly (steps from {all_steps.min():.6g} to "
            f"{all_steps.max():.6g} s); a TRF needs one sampling rate. Resample every run onto a "
            f"regular grid first (e.g. obj.interp(time=np.arange(0, t_end, {dt:.6g})))."
        )
    return round(dt, 12)


def _delay_samples(
    tmin: float | None, tmax: float | None, delays: Sequence[float] | None, dt: float
) -> np.ndarray:
    if delays is not None:
        if tmin is not None or tmax is not None:
            raise ValueError("fit_trf: pass either delays= or tmin=/tmax=, not both.")
        sec = np.atleast_1d(np.asarray(delays, dtype=np.float64))
        samples = np.round(sec / dt).astype(int)
        off = np.abs(samples * dt - sec) > 1e-6 * max(dt, 1e-12) + 1e-9
        if off.any():
            raise ValueError(
                f"fit_trf: delays must be multiples of the sampling interval {dt:g} s; got "
                f"{sec[off][:5].tolist()}. Use e.g. delays=np.arange(k) * {dt:g}."
            )
        if sec.size == 0 or len(set(samples.tolist())) != samples.size:
            raise ValueError(f"fit_trf: delays must be non-empty and distinct; got {sec.tolist()}.")
        return samples
    if tmin is None or tmax is None:
        raise ValueError(
            "fit_trf: give the lags in seconds, tmin= and tmax= (e.g. tmin=0.0, tmax=0.4: the "
            "response up to 400 ms after the stimulus), or an explicit delays= list."
        )
    if tmin > tmax:
        raise ValueError(f"fit_trf: tmin ({tmin:g} s) must be at most tmax ({tmax:g} s).")
    # MNE's convention (ReceptiveField): every sample from round(tmin * sfreq) to round(tmax * sfreq)
    return np.arange(int(np.round(tmin / dt)), int(np.round(tmax / dt)) + 1)


def fit_trf(
    stimulus_features: Any,
    responses: xr.DataArray,
    *,
    tmin: float | None = None,
    tmax: float | None = None,
    delays: Sequence[float] | None = None,
    alphas: Iterable[float] | np.ndarray = DEFAULT_ALPHAS,
    cv: Any = "leave-one-group-out",
    inner_cv: Any = "leave-one-group-out",
    scoring: Literal["r", "r2"] = "r",
    n_permutations: int = 0,
    n_bootstrap: int = 0,
    ci: float = 0.95,
    block_size: int | None = None,
    rng: np.random.Generator | int | None = None,
    dtype: Literal["float32", "float64"] = "float64",
) -> xr.Dataset:
    """Temporal response functions (TRFs) of continuous responses, cross-validated over runs.

    The stimulus features are copied at every lag from ``tmin`` to ``tmax``
    seconds (:func:`neurorep.encoding.make_delays`, within runs: a run's
    first samples get zeros, never the previous run's end), and ridge
    regression maps the lagged design to every unit, with a per-unit alpha
    chosen by inner cross-validation over runs. A positive lag ``d`` means
    the response at ``t`` depends on the stimulus at ``t - d`` -- the
    convention of MNE-Python's ``ReceptiveField``, whose weights this
    reproduces for the same alpha and design.

    Parameters
    ----------
    stimulus_features : DataArray (time, feature)
        E.g. an envelope or spectrogram, on the responses' time axis (same
        ``time`` and ``run`` coordinates).
    responses : DataArray (time, unit)
        Continuous recordings with a ``run`` coordinate along time and
        ``time`` in seconds from each run's start (one sampling rate).
    tmin, tmax : float
        The range of lags in seconds (both included), rounded to samples as
        MNE does: ``round(tmin * sfreq) .. round(tmax * sfreq)``.
    delays : sequence of float, optional
        Explicit lags in seconds (multiples of the sampling interval),
        instead of ``tmin``/``tmax``.
    alphas : sequence of float
        Ridge penalties to try (one per unit is kept).
    cv, inner_cv : int, "leave-one-group-out", splitter or splits
        Outer folds (held-out predictions and scores) and inner folds (alpha
        choice); both keep whole runs together.
    scoring : {"r", "r2"}
        Reported as ``score`` (both are reported); it never chooses alpha.
    n_permutations, n_bootstrap, ci, block_size, rng
        Inference on the held-out predictions
        (:func:`neurorep.encoding.score_prediction`, blocks within runs).
    dtype : {"float64", "float32"}
        Working precision of the ridge products.

    Returns
    -------
    Dataset
        ``weights`` (delay, feature, unit) -- the TRF, ``delay`` in seconds
        (coord ``delay_samples`` in samples) -- and ``intercept``, ``alpha``
        (unit) of the refit on every run; ``score``, ``r``, ``r2`` (unit) and
        ``prediction`` (time, unit) held out by ``cv``; ``fold_alpha`` (fold,
        unit); with permutations ``pvalue``, ``pvalue_fdr``; with bootstrap
        ``ci_low``, ``ci_high``. ``attrs["sfreq"]`` is the sampling rate.

    Raises
    ------
    SchemaError
        Responses without a ``run`` coordinate or ``time`` dim, time not
        monotonic within a run or sampled irregularly, features and
        responses on different time axes.
    ValueError
        No lags given, lags not on the sampling grid, fewer runs than folds.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from neurorep.encoding import fit_trf
    >>> rng = np.random.default_rng(0)
    >>> run = np.repeat([0, 1, 2, 3], 200); t = np.tile(np.arange(200) / 100, 4)
    >>> x = rng.normal(size=800)
    >>> y = np.r_[0, 0, x[:-2]] * (t >= 0.02) + 0.1 * rng.normal(size=800)  # 20-ms latency
    >>> crd = {"time": t, "run": ("time", run)}
    >>> feats = xr.DataArray(x[:, None], dims=("time", "feature"), coords=crd)
    >>> resp = xr.DataArray(y[:, None], dims=("time", "unit"), coords=crd)
    >>> trf = fit_trf(feats, resp, tmin=0.0, tmax=0.05, alphas=[0.1, 1, 10])
    >>> float(trf.weights.isel(feature=0, unit=0).idxmax("delay"))
    0.02
    """
    if not isinstance(responses, xr.DataArray) or "time" not in responses.dims:
        raise SchemaError(
            f"fit_trf: responses must be a DataArray with dims ('time', 'unit') and a 'run' "
            f"coordinate; got {getattr(responses, 'dims', type(responses).__name__)}. For epochs "
            f"(stimulus, time, unit) use fit_over_time."
        )
    if "stimulus" in responses.dims:
        raise SchemaError(
            f"fit_trf: responses have dims {tuple(responses.dims)} (epochs); a TRF models "
            f"continuous (time, unit) recordings. Use fit_over_time for epochs, or concatenate "
            f"the trials into runs first."
        )
    if "run" not in responses.coords or responses["run"].dims != ("time",):
        raise SchemaError(
            "fit_trf: responses need a 'run' coordinate along 'time' (cross-validation holds out "
            "whole runs, and lags never cross runs). Assign it, e.g. responses.assign_coords("
            "run=('time', run_labels)); for one long recording, cut it into blocks: "
            "run=('time', np.arange(n) * 5 // n)."
        )
    check_option("scoring", scoring, SCORINGS)
    n_permutations, n_bootstrap = _check_counts(n_permutations, n_bootstrap)
    runs = np.asarray(responses["run"].values)
    dt = _run_sampling(responses, runs, "responses")
    lag = _delay_samples(tmin, tmax, delays, dt)
    if not isinstance(stimulus_features, xr.DataArray):
        raise SchemaError(
            f"fit_trf: stimulus_features must be a DataArray (time, feature) on the responses' "
            f"time axis; got {type(stimulus_features).__name__}. Wrap it, e.g. xr.DataArray(x, "
            f"dims=('time', 'feature'), coords={{'time': responses.time, 'run': "
            f"('time', responses.run.values)}})."
        )
    feats = stimulus_features
    if "run" not in feats.coords:
        feats = feats.assign_coords(run=("time", runs))
    design = make_delays(feats, delays=lag.tolist(), run="run")
    seed = _seed(rng, bool(n_permutations or n_bootstrap))
    cvres = cross_validate_ridge(design, responses, alphas=alphas, cv=cv, inner_cv=inner_cv,
                                 scoring=scoring, dtype=dtype)
    full = fit_ridge(design, responses, alphas=alphas, cv=inner_cv, scoring=scoring, dtype=dtype)
    pred = cvres["prediction"]
    tested = np.isfinite(np.asarray(pred.values)).all(1)
    scores = score_prediction(
        pred.isel(time=tested), responses.isel(time=tested).transpose("time", "unit"),
        metric=scoring, n_permutations=n_permutations, n_bootstrap=n_bootstrap, ci=ci,
        block_size=block_size, groups=runs[tested], rng=seed,
    )
    n_feat = feats.shape[1] if feats.dims[1] != "time" else feats.shape[0]
    fdim = str(next(d for d in feats.dims if d != "time"))
    names = (np.asarray(feats[fdim].values) if fdim in feats.coords
             else np.array([f"f{i}" for i in range(n_feat)]))
    W = np.asarray(full["weights"].values, dtype=np.float64)  # (delay * feature, unit)
    W = W.reshape(len(lag), n_feat, W.shape[-1])
    ds = xr.Dataset(
        {
            "weights": (("delay", "feature", "unit"), W),
            "intercept": full["intercept"],
            "alpha": full["alpha"],
            "prediction": pred,
            "fold_alpha": cvres["alpha"],
        },
        coords={"delay": ("delay", np.round(lag * dt, 12)), "delay_samples": ("delay", lag),
                "feature": ("feature", names)},
    )
    for k in ("score", "r", "r2", "pvalue", "pvalue_fdr", "ci_low", "ci_high"):
        if k in scores:
            ds[k] = scores[k]
    ds["weights"].attrs = {"description": "temporal response function: weight of the feature "
                                          "`delay` seconds before the response"}
    ds["score"].attrs = {"metric": scoring,
                         "description": "held-out score of the pooled out-of-fold predictions"}
    ds.attrs = {
        "analysis": "fit_trf", "neurorep_version": __version__, "sfreq": round(1.0 / dt, 9),
        "tmin": round(float(lag.min() * dt), 12), "tmax": round(float(lag.max() * dt), 12), "scoring": scoring,
        "alphas": list(full.attrs["alphas"]), "cv": _describe(cv), "inner_cv": _describe(inner_cv),
        "n_folds": int(cvres.attrs["n_folds"]), "n_runs": int(len(np.unique(runs))),
        "alpha_selection": "held-out squared error (pooled R^2), per unit",
        "n_permutations": int(n_permutations), "n_bootstrap": int(n_bootstrap), "ci": float(ci),
        **({"seed": seed} if seed is not None else {}),
    }
    return ds


def predict_trf(result: xr.Dataset, stimulus_features: xr.DataArray) -> xr.DataArray:
    """Predict continuous responses ``(time, unit)`` from new stimulus features with a TRF.

    Parameters
    ----------
    result : Dataset
        From :func:`fit_trf`.
    stimulus_features : DataArray (time, feature)
        The fitted features (matched by name), with a ``run`` coordinate
        (lags never cross runs; without one the features are one run).

    Returns
    -------
    DataArray
        Predicted responses ``(time, unit)`` on the features' time axis.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from neurorep.encoding import fit_trf, predict_trf
    >>> rng = np.random.default_rng(0)
    >>> crd = {"time": np.tile(np.arange(100) / 100, 3), "run": ("time", np.repeat([0, 1, 2], 100))}
    >>> x = xr.DataArray(rng.normal(size=(300, 1)), dims=("time", "feature"), coords=crd)
    >>> y = xr.DataArray(rng.normal(size=(300, 2)), dims=("time", "unit"), coords=crd)
    >>> predict_trf(fit_trf(x, y, tmin=0, tmax=0.02), x).shape
    (300, 2)
    """
    if result.attrs.get("analysis") != "fit_trf":
        raise SchemaError("predict_trf: result must come from neurorep.encoding.fit_trf.")
    lag = np.asarray(result["delay_samples"].values).tolist()
    feats = stimulus_features
    run: Any = "run" if "run" in feats.coords else None
    design = make_delays(feats, delays=lag, run=run)
    W = np.asarray(result["weights"].values)
    flat = xr.Dataset(
        {"weights": (("feature", "unit"), W.reshape(-1, W.shape[-1])),
         "intercept": result["intercept"]},
        coords={"feature": np.asarray(design["feature"].values)},
    )
    return predict_ridge(flat, design)
