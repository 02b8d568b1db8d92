"""The time axis of epochs: sampling checks, windows and sliding bins.

Epochs are responses ``(stimulus, time, unit)`` or ``(stimulus, repetition,
time, unit)`` with a ``time`` coordinate in seconds (DESIGN.md section 1).
Every time-resolved analysis (RSA over time, decoding over time, spectra)
reads the time axis through these helpers, so the same input gets the same
error everywhere: a time axis that is not increasing, sampled irregularly,
epochs of different lengths, or a window outside the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from neurorep import SchemaError
from neurorep.data._schema import EPOCH_DIMS, infer_kind, members, validate

__all__ = ["bin_time", "check_epochs", "crop_time", "sampling_interval"]

_RTOL = 1e-6  # relative jitter allowed in the sampling interval (float rounding of t = i / sfreq)


def _times(obj: xr.DataArray, name: str) -> np.ndarray:
    if "time" not in obj.dims:
        raise SchemaError(
            f"{name}: expected epochs with a 'time' dim (seconds); got dims {tuple(obj.dims)}. "
            f"Build epochs with neurorep.data.responses(values, dims=('stimulus', 'time', "
            f"'unit'), time=seconds) or neurorep.data.from_mne(epochs)."
        )
    if "time" not in obj.coords:
        raise SchemaError(
            f"{name}: the 'time' dim has no coordinate; assign the sample times in seconds, "
            f"e.g. obj.assign_coords(time=np.arange(obj.sizes['time']) / sfreq + tmin)."
        )
    t = np.asarray(obj["time"].values)
    if t.dtype.kind not in "iuf":
        raise SchemaError(
            f"{name}: the 'time' coordinate must be numeric (seconds); got dtype {t.dtype}. "
            f"Convert it, e.g. obj.assign_coords(time=obj.time.astype(float))."
        )
    t = t.astype(np.float64)
    if not np.isfinite(t).all():
        raise SchemaError(f"{name}: the 'time' coordinate holds NaN/inf; every sample needs a time.")
    if t.size > 1 and not (np.diff(t) > 0).all():
        i = int(np.flatnonzero(np.diff(t) <= 0)[0])
        raise SchemaError(
            f"{name}: the 'time' coordinate must increase strictly (time is not monotonic at "
            f"position {i + 1}: {t[i]:g} s then {t[i + 1]:g} s). Sort the samples with "
            f"obj.sortby('time') and drop duplicated times."
        )
    return t


def sampling_interval(obj: xr.DataArray, *, name: str = "epochs") -> float:
    """The (regular) sampling interval of the ``time`` axis, in seconds.

    Parameters
    ----------
    obj : DataArray
        Anything with a ``time`` dim and coordinate in seconds.
    name : str
        The argument's name in error messages.

    Returns
    -------
    float
        The median step between samples.

    Raises
    ------
    SchemaError
        Fewer than 2 time points, a time axis that does not increase, or
        irregular sampling (steps that differ by more than 1e-6 of the step):
        the message says how to resample onto a regular grid.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> eeg = data.responses(np.zeros((2, 5, 3)), dims=("stimulus", "time", "unit"),
    ...                      time=np.arange(5) / 100)
    >>> data.sampling_interval(eeg)
    0.01
    """
    t = _times(obj, name)
    if t.size < 2:
        raise SchemaError(
            f"{name}: a sampling interval needs at least 2 time points; got {t.size}. Keep more "
            f"samples (a wider time window)."
        )
    steps = np.diff(t)
    dt = float(np.median(steps))
    worst = float(np.abs(steps - dt).max())
    if worst > _RTOL * dt:
        i = int(np.argmax(np.abs(steps - dt)))
        raise SchemaError(
            f"{name}: the time axis is sampled irregularly: the step between samples {i} and "
            f"{i + 1} is {steps[i]:.6g} s, the median step {dt:.6g} s. Time-resolved analyses "
            f"need a regular grid; resample first, e.g. obj.interp(time=np.arange(tmin, tmax, "
            f"{dt:.6g})), or (MNE) epochs.resample(sfreq)."
        )
    return round(dt, 12)


def check_epochs(obj: Any, *, name: str = "epochs") -> dict[str, xr.DataArray]:
    """Validate epochs, or a set of them that share one time axis; ``name -> DataArray``.

    A single DataArray is returned as ``{name: obj}``; a set (DataTree or
    mapping) as its members. Every member must be epochs (``(stimulus, time,
    unit)`` or ``(stimulus, repetition, time, unit)``) on a regular time grid,
    and all members must have the same time points.

    Parameters
    ----------
    obj : DataArray, DataTree or mapping
        One epochs DataArray or a set of them.
    name : str, optional
        The key of a single DataArray in the result, and its name in error
        messages (default ``"epochs"``).

    Returns
    -------
    dict
        ``name -> DataArray``, each validated epochs.

    Raises
    ------
    SchemaError
        Not epochs, irregular or non-monotonic time, or members with different
        time axes ("epochs of different lengths"), naming the fix.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> eeg = data.responses(np.zeros((2, 5, 3)), dims=("stimulus", "time", "unit"),
    ...                      time=np.arange(5) / 100)
    >>> list(data.check_epochs(eeg))
    ['epochs']
    """
    if isinstance(obj, xr.DataArray):
        items = {name: (name, obj)}
    elif isinstance(obj, xr.DataTree | Mapping):
        items = {k: (f"{name}[{k!r}]", v) for k, v in members(obj).items()}
        if not items:
            raise SchemaError(f"{name}: the set holds no epochs.")
    else:
        raise SchemaError(
            f"{name}: expected epochs (a DataArray with dims ('stimulus', 'time', 'unit') or "
            f"('stimulus', 'repetition', 'time', 'unit')) or a set of them; got "
            f"{type(obj).__name__}."
        )
    ref: np.ndarray | None = None
    ref_name = ""
    out: dict[str, xr.DataArray] = {}
    for key, (label, da) in items.items():
        if not isinstance(da, xr.DataArray):
            raise SchemaError(f"{label}: expected a DataArray; got {type(da).__name__}.")
        if infer_kind(da) != "epochs":
            raise SchemaError(
                f"{label}: expected epochs with dims {' or '.join(map(str, EPOCH_DIMS))} (time in "
                f"seconds); got dims {tuple(da.dims)}. Build them with neurorep.data.responses("
                f"values, dims=('stimulus', 'time', 'unit'), time=seconds)."
            )
        validate(da, kind="epochs", name=label)
        t = _times(da, label)
        if t.size > 1:
            sampling_interval(da, name=label)
        if ref is None:
            ref, ref_name = t, label
        elif t.shape != ref.shape or not np.allclose(t, ref, rtol=0, atol=1e-9):
            raise SchemaError(
                f"{label}: epochs of different lengths: {t.size} time points from {t[0]:g} to "
                f"{t[-1]:g} s, but {ref_name} has {ref.size} from {ref[0]:g} to {ref[-1]:g} s. "
                f"Crop every member to a common window first, e.g. "
                f"neurorep.data.crop_time(obj, tmin={max(t[0], ref[0]):g}, "
                f"tmax={min(t[-1], ref[-1]):g}) (and resample to one rate)."
            )
        out[key] = da
    return out


def crop_time(
    obj: xr.DataArray, *, tmin: float | None = None, tmax: float | None = None
) -> xr.DataArray:
    """The samples of ``obj`` with ``tmin <= time <= tmax`` (seconds, both inclusive).

    Parameters
    ----------
    obj : DataArray
        Anything with a ``time`` dim and coordinate in seconds (epochs or a
        time course).
    tmin, tmax : float, optional
        Window bounds in seconds; None keeps that end.

    Returns
    -------
    DataArray
        The same object restricted to the window (coords and attrs kept).

    Raises
    ------
    SchemaError
        A window outside the data, an empty window or ``tmin > tmax``; the
        message gives the data's time range.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> eeg = data.responses(np.zeros((2, 5, 3)), dims=("stimulus", "time", "unit"),
    ...                      time=np.arange(5) / 100)
    >>> data.crop_time(eeg, tmin=0.01, tmax=0.03).time.values.tolist()
    [0.01, 0.02, 0.03]
    """
    t = _times(obj, "crop_time")
    return obj.isel(time=_window_index(t, tmin, tmax, "crop_time"))


def _window_index(t: np.ndarray, tmin: float | None, tmax: float | None, name: str) -> slice:
    """Positions of the samples inside ``[tmin, tmax]``; errors name the data's time range."""
    span = f"the data span {t[0]:g} to {t[-1]:g} s"
    for label, v in (("tmin", tmin), ("tmax", tmax)):
        if v is not None and not np.isfinite(float(v)):
            raise SchemaError(f"{name}: {label} must be a finite time in seconds; got {v!r}.")
    if tmin is not None and tmax is not None and float(tmin) > float(tmax):
        raise SchemaError(
            f"{name}: tmin ({float(tmin):g} s) must not exceed tmax ({float(tmax):g} s)."
        )
    eps = 1e-9 * max(1.0, float(np.abs(t).max()))
    lo = 0 if tmin is None else int(np.searchsorted(t, float(tmin) - eps, side="left"))
    hi = t.size if tmax is None else int(np.searchsorted(t, float(tmax) + eps, side="right"))
    if hi <= lo:
        window = f"[{'-inf' if tmin is None else f'{float(tmin):g}'}, " + (
            f"{'inf' if tmax is None else f'{float(tmax):g}'}] s"
        )
        raise SchemaError(
            f"{name}: the time window {window} is outside the data or holds no sample; "
            f"{span} ({t.size} samples). Pick tmin/tmax inside that range."
        )
    return slice(lo, hi)


def bin_time(
    obj: xr.DataArray,
    *,
    window: float,
    step: float | None = None,
    tmin: float | None = None,
    tmax: float | None = None,
) -> xr.DataArray:
    """Average epochs over sliding time windows (boxcar bins).

    Each output sample is the mean of ``round(window / dt)`` consecutive input
    samples; windows start every ``round(step / dt)`` samples (default: no
    overlap) and the output ``time`` is the mean time of each window's samples
    (its centre). This is rsatoolbox's ``bin_time`` and the neural decoding
    toolbox's binning of spike counts.

    Parameters
    ----------
    obj : DataArray
        Epochs ``(stimulus, [repetition,] time, unit)`` on a regular time grid
        (seconds).
    window : float
        Window length in seconds (at least one sample).
    step : float, optional
        Distance between window starts in seconds (default ``window``).
    tmin, tmax : float, optional
        Crop to this window first (see :func:`crop_time`).

    Returns
    -------
    DataArray
        Same dims, with the binned ``time`` axis; attrs gain ``bin_window`` and
        ``bin_step`` (seconds).

    Raises
    ------
    SchemaError
        Irregular sampling, a window longer than the data or shorter than one
        sample, a step shorter than one sample.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> eeg = data.responses(np.arange(12.0).reshape(1, 6, 2), dims=("stimulus", "time", "unit"),
    ...                      time=np.arange(6) / 100)
    >>> b = data.bin_time(eeg, window=0.02)
    >>> b.time.values.round(3).tolist(), b.values[0, :, 0].tolist()
    ([0.005, 0.025, 0.045], [1.0, 5.0, 9.0])
    """
    if tmin is not None or tmax is not None:
        obj = crop_time(obj, tmin=tmin, tmax=tmax)
    dt = sampling_interval(obj, name="bin_time")
    n = obj.sizes["time"]
    width = _samples(window, dt, "window", n)
    stride = width if step is None else _samples(step, dt, "step", n)
    starts = np.arange(0, n - width + 1, stride)
    axis = obj.dims.index("time")
    values = np.asarray(obj.values, dtype=np.float64)
    csum = np.cumsum(values, axis=axis)
    csum = np.concatenate([np.zeros_like(np.take(csum, [0], axis=axis)), csum], axis=axis)
    out = (np.take(csum, starts + width, axis=axis) - np.take(csum, starts, axis=axis)) / width
    t = np.asarray(obj["time"].values, dtype=np.float64)
    centres = (np.cumsum(np.r_[0.0, t])[starts + width] - np.cumsum(np.r_[0.0, t])[starts]) / width
    coords = {k: v for k, v in obj.coords.items() if "time" not in v.dims}
    coords["time"] = centres
    res = xr.DataArray(out, dims=obj.dims, coords=coords, name=obj.name, attrs=dict(obj.attrs))
    res.attrs.update(bin_window=float(width * dt), bin_step=float(stride * dt))
    return res


def _samples(seconds: Any, dt: float, label: str, n: int) -> int:
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise SchemaError(f"bin_time: {label} must be a time in seconds; got {seconds!r}.") from None
    k = int(round(value / dt))
    if not np.isfinite(value) or k < 1:
        raise SchemaError(
            f"bin_time: {label}={seconds!r} s is shorter than one sample ({dt:g} s); pass at "
            f"least {dt:g}."
        )
    if label == "window" and k > n:
        raise SchemaError(
            f"bin_time: window={value:g} s ({k} samples) is longer than the data ({n} samples, "
            f"{n * dt:g} s); pass a shorter window."
        )
    return k
