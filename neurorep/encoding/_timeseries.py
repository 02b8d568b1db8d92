"""Time-series helpers: FIR delays, z-scoring within runs, regressors from labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurorep._core.errors import SchemaError
from neurorep._core.memory import check_allocation
from neurorep.encoding._inputs import as_real_float, complex_error

__all__ = ["make_delays", "make_regressors", "zscore_runs"]


def _runs_of(obj: xr.DataArray, run: str | Sequence[Any] | np.ndarray | None) -> np.ndarray:
    n = obj.shape[0]
    if run is None:
        return np.zeros(n, dtype=int)
    if isinstance(run, str):
        if run not in obj.coords:
            raise SchemaError(
                f"no {run!r} coordinate along {obj.dims[0]!r}; pass run=None (one run) or the run "
                f"label of every sample (run=array)."
            )
        return np.asarray(obj[run].values)
    arr = np.asarray(run)
    if arr.shape != (n,):
        raise SchemaError(f"run must have one label per sample ({n}); got shape {arr.shape}.")
    return arr


def _check_ts(obj: Any, name: str) -> xr.DataArray:
    if not isinstance(obj, xr.DataArray):
        arr = as_real_float(obj, name)
        if arr.ndim != 2:
            raise SchemaError(f"{name}: expected a 2-D (time, feature) array; got shape {arr.shape}.")
        obj = xr.DataArray(arr, dims=("time", "feature"))
    if obj.ndim != 2:
        raise SchemaError(f"{name}: expected 2-D (time, feature) data; got dims {obj.dims}.")
    if obj.dtype.kind == "c":
        raise complex_error(name, obj.dtype)
    return obj


def _check_run_order(da: xr.DataArray, runs: np.ndarray) -> None:
    """Each run must be one block of consecutive samples, in time order."""
    n = runs.shape[0]
    if n == 0:
        return
    change = np.r_[True, runs[1:] != runs[:-1]]
    starts = np.flatnonzero(change)
    seen: dict[Any, int] = {}
    for pos in starts:
        label = runs[pos : pos + 1].tolist()[0]
        if label in seen:
            prev = runs[pos - 1 : pos].tolist()[0]
            raise SchemaError(
                f"make_delays: the samples of run {label!r} are not contiguous: the run starts at "
                f"position {seen[label]} and starts again at position {pos}, after run {prev!r}. "
                f"Delays shift the samples of each run in time order, so every run must be one "
                f"block of consecutive samples. Sort the samples first, e.g. "
                f"features.sortby(['run', '{da.dims[0]}']) (or pass run=None for one run)."
            )
        seen[label] = int(pos)
    dim = da.dims[0]
    if dim in da.coords and np.asarray(da[dim].values).dtype.kind in "iufmM":
        t = np.asarray(da[dim].values)
        bad = np.flatnonzero(~change[1:] & ~(t[1:] > t[:-1]))
        if bad.size:
            i = int(bad[0]) + 1
            raise SchemaError(
                f"make_delays: the {dim!r} coordinate does not increase within run "
                f"{runs[i : i + 1].tolist()[0]!r} (position {i}: {t[i - 1 : i].tolist()[0]!r} then "
                f"{t[i : i + 1].tolist()[0]!r}); "
                f"delays shift samples "
                f"in time order. Sort the samples first, e.g. features.sortby(['run', '{dim}'])."
            )


def make_delays(
    features: Any,
    *,
    delays: Sequence[int] = (1, 2, 3, 4),
    run: str | Sequence[Any] | np.ndarray | None = "run",
) -> xr.DataArray:
    """Finite-impulse-response (FIR) design: copies of the features shifted in time.

    Each delay ``d`` adds the features as they were ``d`` samples earlier
    (``d < 0``: later), within each run only: the first ``d`` samples of a run
    get zeros rather than the end of the previous run.

    Parameters
    ----------
    features : DataArray (time, feature) or array
        With a ``run`` coordinate along time (or pass ``run=``).
    delays : sequence of int
        Shifts in samples (TRs); include 0 for the undelayed features.
    run : str, array or None
        Coordinate name or labels of the run of each sample; ``None``: one run.
        Each run must be one block of consecutive samples in time order (and
        a numeric time coordinate must increase within each run).

    Returns
    -------
    DataArray (time, feature)
        ``len(delays) * n_features`` columns named ``"<feature>@<delay>"``,
        with coords ``delay`` and ``source`` (the original feature) and the
        input's time coords.

    Raises
    ------
    SchemaError
        Runs that are not contiguous or not in time order, complex values, a
        missing ``run`` coordinate.
    MemoryError
        The design (``n_time x n_features x n_delays`` float64) would not fit.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.encoding import make_delays
    >>> x = np.arange(6.0)[:, None]
    >>> make_delays(x, delays=[0, 1], run=[0, 0, 0, 1, 1, 1]).values[:, 1].tolist()
    [0.0, 0.0, 1.0, 0.0, 3.0, 4.0]
    """
    da = _check_ts(features, "make_delays")
    delays = [int(d) for d in delays]
    if not delays:
        raise ValueError("make_delays: delays must not be empty.")
    if len(set(delays)) != len(delays):
        raise ValueError(f"make_delays: delays must not repeat; got {delays}.")
    runs = _runs_of(da, run)
    _check_run_order(da, runs)
    n, p = da.shape
    check_allocation(
        8.0 * n * p * len(delays) + 8.0 * n * p,
        what=f"make_delays: {len(delays)} delays x {p} features x {n} samples (float64)",
        fix="Use fewer delays or fewer features (e.g. their first principal components), or "
            "delay the features in parts.",
        name=None,
    )
    X = np.asarray(da.values, dtype=np.float64)
    out = np.zeros((n, p * len(delays)))
    change = np.r_[True, runs[1:] != runs[:-1]]
    seg = np.cumsum(change) - 1
    starts = np.flatnonzero(change)
    ends = np.r_[starts[1:], n]
    pos = np.arange(n) - starts[seg]
    length = (ends - starts)[seg]
    for j, d in enumerate(delays):
        src = np.arange(n) - d
        ok = (pos - d >= 0) & (pos - d < length)
        out[ok, j * p : (j + 1) * p] = X[src[ok]]
    fdim = str(da.dims[1])
    names = (
        np.asarray(da[fdim].values).astype(str) if fdim in da.coords
        else np.array([f"f{i}" for i in range(p)])
    )
    coords: dict[str, Any] = {
        str(k): v for k, v in da.coords.items() if v.dims == (da.dims[0],)
    }
    coords["feature"] = [f"{f}@{d}" for d in delays for f in names]
    coords["delay"] = ("feature", np.repeat(delays, p))
    coords["source"] = ("feature", np.tile(names, len(delays)))
    return xr.DataArray(out, dims=(da.dims[0], "feature"), coords=coords, name="features",
                        attrs={"delays": delays})


def zscore_runs(obj: Any, *, run: str | Sequence[Any] | np.ndarray | None = "run") -> xr.DataArray:
    """Z-score every column within each run (mean 0, sd 1 per run).

    Columns that are constant within a run become 0 there (no division by 0).

    Parameters
    ----------
    obj : DataArray or array
        ``(time, unit)`` or ``(time, feature)``; columns are z-scored.
    run : str, array or None
        Run coordinate name or labels; ``None``: z-score over all samples.

    Returns
    -------
    DataArray
        Same dims and coords, each column with mean 0 and sd 1 within each run.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.encoding import zscore_runs
    >>> z = zscore_runs(np.array([[1.0], [3.0], [10.0], [30.0]]), run=[0, 0, 1, 1])
    >>> z.values.ravel().tolist()
    [-1.0, 1.0, -1.0, 1.0]
    """
    da = _check_ts(obj, "zscore_runs")
    runs = _runs_of(da, run)
    X = np.asarray(da.values, dtype=np.float64)
    out = np.empty_like(X)
    for label in np.unique(runs):
        rows = runs == label
        block = X[rows]
        sd = block.std(0)
        mu = block.mean(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[rows] = np.where(sd > 0, (block - mu) / sd, 0.0)
    return da.copy(data=out)


def make_regressors(
    obj: xr.DataArray,
    *,
    label: str = "label",
    exclude: Sequence[str] = ("rest",),
    conditions: Sequence[str] | None = None,
) -> xr.DataArray:
    """One boxcar regressor per condition from a per-sample label coordinate.

    Parameters
    ----------
    obj : DataArray (time, ...) or (stimulus, ...)
        Carries the label coordinate along its first dim (e.g. Haxby's
        ``label``); its sample coords (``run``...) are copied.
    label : str
        Coordinate with the condition of each sample.
    exclude : sequence of str
        Conditions without a regressor (the baseline, e.g. ``"rest"``).
    conditions : sequence of str, optional
        Order (and subset) of conditions; default sorted labels. Each must
        occur in the label coordinate (an unknown one would give an all-zero
        regressor) and appear once.

    Returns
    -------
    DataArray (time, feature)
        0/1 indicators, one column per condition.

    Raises
    ------
    SchemaError
        No label coordinate, no condition left, or ``conditions`` that repeat
        or do not occur in the labels.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from neurorep.encoding import make_regressors
    >>> y = xr.DataArray(np.zeros((4, 1)), dims=("time", "unit"),
    ...                  coords={"label": ("time", ["rest", "face", "cat", "face"])})
    >>> make_regressors(y).sel(feature="face").values.tolist()
    [0.0, 1.0, 0.0, 1.0]
    """
    if not isinstance(obj, xr.DataArray) or label not in obj.coords:
        raise SchemaError(
            f"make_regressors: expected a DataArray with a {label!r} coordinate along its first dim."
        )
    dim = obj.dims[0]
    labels = np.asarray(obj[label].values).astype(str)
    if conditions is None:
        conditions = sorted(set(labels.tolist()) - set(exclude))
    if isinstance(conditions, str):
        raise SchemaError(
            f"make_regressors: conditions must be a list of labels; got the string "
            f"{conditions!r}. Pass conditions=[{conditions!r}]."
        )
    conditions = [str(c) for c in conditions]
    if not conditions:
        raise SchemaError(f"make_regressors: no condition left after excluding {list(exclude)}.")
    present = set(labels.tolist())
    unknown = [c for c in conditions if c not in present]
    if unknown:
        raise SchemaError(
            f"make_regressors: conditions {unknown} do not occur in the {label!r} coordinate, so "
            f"their regressors would be all zeros; its labels are {sorted(present)[:12]}. Check "
            f"the spelling, or leave conditions=None for every label."
        )
    repeated = sorted({c for c in conditions if conditions.count(c) > 1})
    if repeated:
        raise SchemaError(
            f"make_regressors: conditions {repeated} are listed more than once; each condition "
            f"gets one regressor. Pass each label once."
        )
    X = (labels[:, None] == np.asarray(conditions)[None, :]).astype(np.float64)
    coords: dict[str, Any] = {str(k): v for k, v in obj.coords.items() if v.dims == (dim,)}
    coords["feature"] = conditions
    return xr.DataArray(X, dims=(dim, "feature"), coords=coords, name="features")
