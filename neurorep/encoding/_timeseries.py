"""Time-series helpers: FIR delays, z-scoring within runs, regressors from labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurorep._errors import SchemaError

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
        arr = np.asarray(obj, dtype=np.float64)
        if arr.ndim != 2:
            raise SchemaError(f"{name}: expected a 2-D (time, feature) array; got shape {arr.shape}.")
        obj = xr.DataArray(arr, dims=("time", "feature"))
    if obj.ndim != 2:
        raise SchemaError(f"{name}: expected 2-D (time, feature) data; got dims {obj.dims}.")
    return obj


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

    Returns
    -------
    DataArray (time, feature)
        ``len(delays) * n_features`` columns named ``"<feature>@<delay>"``,
        with coords ``delay`` and ``source`` (the original feature) and the
        input's time coords.

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
    X = np.asarray(da.values, dtype=np.float64)
    n, p = X.shape
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
    obj : DataArray (time, unit or feature) or array
    run : str, array or None
        Run coordinate name or labels; ``None``: z-score over all samples.

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
        Order (and subset) of conditions; default sorted labels.

    Returns
    -------
    DataArray (time, feature)
        0/1 indicators, one column per condition.

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
    conditions = [str(c) for c in conditions]
    if not conditions:
        raise SchemaError(f"make_regressors: no condition left after excluding {list(exclude)}.")
    X = (labels[:, None] == np.asarray(conditions)[None, :]).astype(np.float64)
    coords: dict[str, Any] = {str(k): v for k, v in obj.coords.items() if v.dims == (dim,)}
    coords["feature"] = conditions
    return xr.DataArray(X, dims=(dim, "feature"), coords=coords, name="features")
