"""Spectra of units over sequences presented at a fixed rate: amplitude and ITPC.

The input is read once into ``(trial, time, unit)`` samples with a regular
sampling interval: epochs ``(stimulus, time, unit)`` /
``(stimulus, repetition, time, unit)`` (time in seconds), one continuous
recording ``(time, unit)``, or activations per token ``(stimulus, token,
unit)`` with ``rate=`` tokens per second (token ``i`` at ``i / rate`` s).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from neurorep._core.errors import NeurorepWarning, SchemaError
from neurorep.data import check_epochs, sampling_interval

__all__ = ["compute_spectrum"]

_BIN_TOL = 1e-6  # a rate is on a bin when rate * duration is within this of an integer


@dataclass(frozen=True)
class Trials:
    """Samples ``x`` (trial, time, unit) with their mean over time removed, and their labels."""

    x: np.ndarray
    dt: float
    unit: xr.DataArray  # the unit index with every unit coordinate
    trial_stimulus: np.ndarray  # stimulus id of each trial
    trial_coords: dict[str, np.ndarray]  # per-stimulus coordinates, one value per trial
    token_rate: float | None  # set for per-token activations

    @property
    def n_time(self) -> int:
        return int(self.x.shape[1])


def _unit_index(obj: xr.DataArray) -> xr.DataArray:
    coords = {k: v for k, v in obj.coords.items() if v.dims == ("unit",)}
    return xr.DataArray(np.arange(obj.sizes["unit"]), dims=("unit",), coords=coords)


def read_trials(obj: Any, *, rate: float | None, name: str) -> Trials:
    """Validate ``obj`` and return its samples as ``(trial, time, unit)``."""
    if not isinstance(obj, xr.DataArray):
        raise SchemaError(
            f"{name}: expected a DataArray of epochs ('stimulus', 'time', 'unit'), a time course "
            f"('time', 'unit') or activations per token ('stimulus', 'token', 'unit'); got "
            f"{type(obj).__name__}. For a set of layers or regions, pass one member at a time "
            f"or concatenate their units (with a 'layer' or 'region' unit coord)."
        )
    if "unit" not in obj.dims:
        raise SchemaError(f"{name}: expected a 'unit' dim; got dims {tuple(obj.dims)}.")
    token_rate: float | None = None
    if "token" in obj.dims:
        if "time" in obj.dims:
            raise SchemaError(
                f"{name}: got both 'token' and 'time' dims {tuple(obj.dims)}; per-token "
                f"activations have ('stimulus', 'token', 'unit'), epochs ('stimulus', 'time', 'unit')."
            )
        if tuple(obj.dims) not in (("stimulus", "token", "unit"), ("token", "unit")):
            raise SchemaError(
                f"{name}: activations per token must have dims ('stimulus', 'token', 'unit'); got "
                f"{tuple(obj.dims)}. Reorder with obj.transpose('stimulus', 'token', 'unit')."
            )
        if rate is None:
            raise SchemaError(
                f"{name}: activations per token have no time axis; pass rate= (tokens per "
                f"second of the presentation, e.g. rate=4.0 for 4 syllables per second)."
            )
        if not (isinstance(rate, int | float | np.integer | np.floating) and np.isfinite(rate)
                and rate > 0):
            raise ValueError(f"rate must be a positive number of tokens per second; got {rate!r}.")
        dt = 1.0 / float(rate)
        token_rate = float(rate)
        da = obj if "stimulus" in obj.dims else obj.expand_dims(stimulus=["trial0"])
        da = da.rename(token="time")
    elif "time" in obj.dims:
        if rate is not None:
            raise SchemaError(
                f"{name}: rate= is for activations per token ('stimulus', 'token', 'unit'); these "
                f"{tuple(obj.dims)} data carry their own time axis (seconds). Drop rate=."
            )
        if "stimulus" in obj.dims:
            da = check_epochs(obj, name=name)[name]
            dt = sampling_interval(da, name=name)
        else:
            if tuple(obj.dims) != ("time", "unit"):
                raise SchemaError(
                    f"{name}: a time course must have dims ('time', 'unit'); got {tuple(obj.dims)}."
                )
            dt = sampling_interval(obj, name=name)
            da = obj.expand_dims(stimulus=["trial0"])
    else:
        raise SchemaError(
            f"{name}: expected a 'time' dim (seconds) or a 'token' dim (with rate=); got dims "
            f"{tuple(obj.dims)}. Build epochs with neurorep.data.responses(values, dims=("
            f"'stimulus', 'time', 'unit'), time=seconds)."
        )
    lead = [d for d in da.dims if d not in ("time", "unit")]
    da = da.transpose(*lead, "time", "unit")
    vals = np.asarray(da.values, dtype=np.float64)
    if not np.isfinite(vals).all():
        raise SchemaError(
            f"{name}: holds {int((~np.isfinite(vals)).sum())} NaN/inf value(s); spectra need "
            f"every sample. Drop or interpolate them first."
        )
    n_time, n_unit = vals.shape[-2:]
    x = vals.reshape(-1, n_time, n_unit)
    stim = np.asarray(da["stimulus"].values) if "stimulus" in da.coords else np.array(["trial0"])
    n_rep = x.shape[0] // max(stim.size, 1)
    trial_stimulus = np.repeat(stim, n_rep)
    trial_coords: dict[str, np.ndarray] = {}
    for key, coord in da.coords.items():
        if coord.dims == ("stimulus",) and key != "stimulus":
            trial_coords[str(key)] = np.repeat(np.asarray(coord.values), n_rep)
    x = x - x.mean(axis=1, keepdims=True)
    return Trials(x=x, dt=float(dt), unit=_unit_index(obj), trial_stimulus=trial_stimulus,
                  trial_coords=trial_coords, token_rate=token_rate)


def check_rates(rates: Any, trials: Trials, *, min_cycles: float, name: str) -> dict[str, int]:
    """Level -> frequency bin of each tagged rate; errors for rates the data cannot resolve."""
    if not isinstance(rates, Mapping) or not rates:
        raise ValueError(
            f"rates must be a non-empty mapping level -> Hz, e.g. {{'phrase': 2.0, 'sentence': "
            f"1.0}}; got {rates!r}."
        )
    n, dt = trials.n_time, trials.dt
    duration = n * dt
    nyquist = 0.5 / dt
    out: dict[str, int] = {}
    for level, f in rates.items():
        try:
            f = float(f)
        except (TypeError, ValueError):
            raise ValueError(f"rates[{level!r}] must be a number of Hz; got {f!r}.") from None
        if not (np.isfinite(f) and f > 0):
            raise ValueError(f"rates[{level!r}] must be a positive frequency in Hz; got {f!r}.")
        if f > nyquist * (1 + 1e-9):
            hint = (
                " Data sampled once per token (model activations) cannot carry the token rate "
                "itself: it aliases to 0 Hz; test the slower levels. Recordings need a higher "
                "sampling rate."
            )
            raise ValueError(
                f"{name}: rates[{level!r}] = {f:g} Hz is above the Nyquist frequency {nyquist:g} Hz "
                f"of data sampled every {dt:g} s.{hint}"
            )
        k = f * duration
        if abs(k - round(k)) > _BIN_TOL * max(1.0, k):
            step = 1.0 / duration
            need = 1.0 / (f * dt)
            raise ValueError(
                f"{name}: rates[{level!r}] = {f:g} Hz does not fall on a frequency bin: {n} samples "
                f"of {dt:g} s give bins every {step:g} Hz ({f:g} Hz is {k:.4g} bins). Crop the "
                f"time axis to a whole number of cycles of every tagged rate, e.g. a multiple of "
                f"{need:.4g} samples (neurorep.data.crop_time, or drop tokens)."
            )
        if k < min_cycles - 1e-9:
            raise ValueError(
                f"{name}: rates[{level!r}] = {f:g} Hz completes only {k:.3g} cycle(s) in the "
                f"{duration:g} s of data; at least min_cycles={min_cycles:g} are needed. Use longer "
                f"sequences (more sentences per trial) or lower min_cycles."
            )
        out[str(level)] = int(round(k))
    bins = list(out.values())
    if len(set(bins)) != len(bins):
        raise ValueError(f"{name}: two levels share one frequency: rates={dict(rates)}.")
    return out


def _spectra(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Evoked amplitude and ITPC, each (freq, unit), of trials (trial, time, unit)."""
    n = x.shape[1]
    spec = np.fft.rfft(x, axis=1)  # (trial, freq, unit)
    scale = np.full(spec.shape[1], 2.0 / n)
    scale[0] = 1.0 / n
    if n % 2 == 0:
        scale[-1] = 1.0 / n
    amplitude = np.abs(spec.mean(axis=0)) * scale[:, None]
    mag = np.abs(spec)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit_phase = np.where(mag > 0, spec / np.where(mag > 0, mag, 1.0), np.nan)
    with warnings.catch_warnings():  # a unit constant on every trial has no phase: NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        itpc = np.abs(np.nanmean(unit_phase, axis=0))
    itpc[0] = np.nan  # the mean was removed: no phase at 0 Hz
    return amplitude, itpc


def compute_spectrum(
    obj: xr.DataArray,
    *,
    rate: float | None = None,
    condition: str | None = None,
) -> xr.Dataset:
    """Amplitude spectrum and inter-trial phase coherence of every unit.

    Each trial's mean is removed, then every trial is Fourier transformed
    over its whole length (a rectangular window: a rate with a whole number
    of cycles falls on one bin and leaks nowhere). The **amplitude** is that
    of the trial-averaged (evoked) response, in the units of the data (a
    sinusoid of amplitude ``a`` phase-locked to the sequence gives ``a`` at
    its frequency). The **ITPC** is ``|mean over trials of X / |X||``: 1 when
    every trial has the same phase at that frequency, about
    ``1 / sqrt(n_trials)`` for random phases.

    Parameters
    ----------
    obj : DataArray
        Epochs ``(stimulus, time, unit)`` or ``(stimulus, repetition, time,
        unit)`` with ``time`` in seconds (every stimulus and repetition is a
        trial); a time course ``(time, unit)`` (one trial); or activations
        per token ``(stimulus, token, unit)`` with ``rate=``.
    rate : float, optional
        Tokens per second, for activations per token only.
    condition : str, optional
        A stimulus coordinate (e.g. ``"condition"``) splitting the trials
        into conditions: one spectrum per condition.

    Returns
    -------
    Dataset
        ``amplitude`` and ``itpc`` with dims ``(freq, unit)`` (``(condition,
        freq, unit)`` with ``condition=``); coord ``freq`` in Hz (0 to
        Nyquist), the unit coordinates of ``obj``, and ``n_trials``; attrs
        ``sampling_interval``, ``n_samples``, ``frequency_resolution`` and,
        for tokens, ``rate``. ITPC is NaN at 0 Hz and for a unit that is
        constant on every trial (a NeurorepWarning says how many).

    Raises
    ------
    SchemaError
        Wrong dims, no time axis, time not increasing, irregular sampling,
        NaN values, or an unknown condition coordinate.

    Examples
    --------
    >>> from neurorep import datasets, hftp
    >>> ep = datasets.make_tagged_sequences(rng=0)
    >>> spec = hftp.compute_spectrum(ep)
    >>> spec["amplitude"].dims, float(spec["freq"][-1])
    (('freq', 'unit'), 2.0)
    """
    trials = read_trials(obj, rate=rate, name="compute_spectrum")
    freqs = np.fft.rfftfreq(trials.n_time, d=trials.dt)
    unit_coords = dict(trials.unit.coords)
    attrs: dict[str, Any] = {
        "sampling_interval": trials.dt, "n_samples": trials.n_time,
        "frequency_resolution": float(1.0 / (trials.n_time * trials.dt)),
    }
    if trials.token_rate is not None:
        attrs["rate"] = trials.token_rate
    if condition is None:
        amp, itpc = _spectra(trials.x)
        _warn_constant(itpc, trials)
        return xr.Dataset(
            {"amplitude": (("freq", "unit"), amp), "itpc": (("freq", "unit"), itpc)},
            coords={"freq": freqs, **unit_coords, "n_trials": trials.x.shape[0]},
            attrs=attrs,
        )
    if condition not in trials.trial_coords:
        raise SchemaError(
            f"compute_spectrum: condition={condition!r} is not a stimulus coordinate; stimulus "
            f"coordinates: {sorted(trials.trial_coords)}."
        )
    labels = trials.trial_coords[condition].astype(str)
    names = list(dict.fromkeys(labels.tolist()))
    amps, itpcs, counts = [], [], []
    for c in names:
        a, p = _spectra(trials.x[labels == c])
        amps.append(a)
        itpcs.append(p)
        counts.append(int((labels == c).sum()))
    itpc_all = np.stack(itpcs)
    _warn_constant(itpc_all, trials)
    return xr.Dataset(
        {"amplitude": (("condition", "freq", "unit"), np.stack(amps)),
         "itpc": (("condition", "freq", "unit"), itpc_all)},
        coords={"condition": names, "freq": freqs, **unit_coords,
                "n_trials": ("condition", np.asarray(counts))},
        attrs=attrs,
    )


def _warn_constant(itpc: np.ndarray, trials: Trials) -> None:
    flat = np.isnan(itpc[..., 1:, :]).all(axis=-2)
    n_bad = int(flat.any(axis=0).sum()) if flat.ndim > 1 else int(flat.sum())
    if n_bad:
        warnings.warn(
            f"compute_spectrum: {n_bad} unit(s) are constant on every trial; their ITPC is NaN "
            f"(no phase) and their amplitude 0.",
            NeurorepWarning, stacklevel=3,
        )
