"""Bridges to and from MNE-Python (``Epochs``, ``EpochsArray``, ``Evoked``).

MNE is the ecosystem's standard for EEG and MEG; it is an optional dependency
(``pip install neurorep[eeg]``), imported inside these functions only.

What travels (MNE -> neurorep -> MNE):

* the data, in MNE's units (V, T, T/m), as epochs ``(stimulus, [repetition,]
  time, unit)`` with ``time`` = ``epochs.times`` (seconds);
* event names -> stimulus ids (``by="event"``: one stimulus per event name,
  its trials along ``repetition``; ``by="epoch"``: one stimulus per epoch with
  its ``event`` name and ``event_code`` as stimulus coordinates, plus the
  columns of ``epochs.metadata``); an Evoked's ``comment`` -> its stimulus id
  and ``nave`` -> a stimulus coordinate;
* channel names -> unit ids; channel types -> unit coordinate ``ch_type``;
  sensor positions (``loc[:3]``, metres) -> ``x``, ``y``, ``z``; bad channels
  -> boolean ``bad``; ``sfreq``, ``highpass``, ``lowpass`` -> attrs.

Going back, :func:`to_mne` rebuilds an Info from those coordinates (MNE sets
the filter band only by filtering, so ``highpass``/``lowpass`` stay in the
attrs), or takes the original ``info=`` (matched by channel name) for an exact
round trip of everything else (filter band, projectors, digitisation, coil
orientations).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from neurorep import SchemaError
from neurorep.data._schema import responses
from neurorep.data._time import sampling_interval

__all__ = ["from_mne", "to_mne"]

_INSTALL = "MNE-Python is needed for this bridge: pip install 'neurorep[eeg]' (or pip install mne)."


def _mne() -> Any:
    try:
        import mne
    except ImportError as err:  # pragma: no cover - mne is in the test extra
        raise ImportError(_INSTALL) from err
    return mne


def _unit_coords(info: Any) -> dict[str, Any]:
    types = np.asarray(info.get_channel_types(unique=False), dtype=str)
    loc = np.array([ch["loc"][:3] for ch in info["chs"]], dtype=np.float64)
    bads = set(info["bads"])
    out: dict[str, Any] = {
        "ch_type": types,
        "bad": np.array([c in bads for c in info["ch_names"]], dtype=bool),
    }
    if np.isfinite(loc).any():
        for k, axis in enumerate("xyz"):
            out[axis] = loc[:, k]
    return out


def _attrs(info: Any, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {"sfreq": float(info["sfreq"]), "mne_kind": kind}
    for key in ("highpass", "lowpass"):
        if info.get(key) is not None:
            out[key] = float(info[key])
    return out


def _picked(inst: Any, picks: Any) -> Any:
    if picks is None:
        return inst
    try:
        return inst.copy().pick(picks)
    except ValueError as err:
        raise SchemaError(
            f"from_mne: picks={picks!r} selects no channel of this recording ({err}). Pass "
            f"channel names, a type such as 'eeg' or 'meg', or picks=None for every channel."
        ) from None


def from_mne(
    inst: Any,
    *,
    by: Literal["event", "epoch"] = "event",
    picks: Any = "data",
    name: str = "responses",
) -> xr.DataArray:
    """Epochs from MNE-Python ``Epochs`` / ``EpochsArray`` / ``Evoked`` (or a list of Evoked).

    Parameters
    ----------
    inst : mne.Epochs, mne.EpochsArray, mne.Evoked or list of mne.Evoked
        The recording. Evoked objects in a list are stacked along
        ``stimulus`` (their ``comment`` is the id) and must share their
        channels and time points.
    by : {"event", "epoch"}
        For Epochs: ``"event"`` gives ``(stimulus, repetition, time, unit)``
        with one stimulus per event name and its trials along
        ``repetition`` (every event needs the same number of trials;
        ``epochs.equalize_event_counts()`` makes it so); ``"epoch"`` gives
        ``(stimulus, time, unit)`` with one stimulus per epoch (ids
        ``epoch0000``... from ``epochs.selection``) and stimulus coordinates
        ``event``, ``event_code`` and the ``metadata`` columns -- the layout
        for decoding single trials by ``labels="event"``.
    picks : str, list or None
        Channels to keep (MNE's ``picks``: ``"data"`` drops stimulus and other
        non-data channels; ``"eeg"``, ``"meg"``, names...; None keeps all).
    name : str
        Name of the DataArray.

    Returns
    -------
    DataArray
        Epochs with ``time`` in seconds, unit ids = channel names, unit
        coordinates ``ch_type``, ``bad`` and (when the recording has sensor
        positions) ``x``, ``y``, ``z`` in metres; attrs ``sfreq``,
        ``highpass``, ``lowpass``, ``mne_kind``.

    Raises
    ------
    SchemaError
        Unequal trial counts with ``by="event"``, Evoked objects with
        different channels or times, duplicated comments, no channel picked.
    TypeError
        For other objects.

    Examples
    --------
    >>> import mne, numpy as np
    >>> from neurorep import data
    >>> info = mne.create_info(["Fz", "Cz", "Pz"], 100.0, "eeg")
    >>> x = np.random.default_rng(0).normal(size=(4, 3, 50))
    >>> events = np.c_[np.arange(4) * 100, np.zeros(4, int), [1, 2, 1, 2]]
    >>> ep = mne.EpochsArray(x, info, events, tmin=-0.1, event_id={"face": 1, "house": 2},
    ...                      verbose="error")
    >>> da = data.from_mne(ep)
    >>> da.dims, da.stimulus.values.tolist(), da.sizes["repetition"]
    (('stimulus', 'repetition', 'time', 'unit'), ['face', 'house'], 2)
    """
    mne = _mne()
    if by not in ("event", "epoch"):
        raise ValueError(f"by must be one of ['event', 'epoch']; got {by!r}.")
    if isinstance(inst, mne.Evoked):
        inst = [inst]
    if isinstance(inst, Sequence) and not isinstance(inst, str):
        return _from_evokeds(list(inst), picks=picks, name=name)
    if not isinstance(inst, mne.BaseEpochs):
        raise TypeError(
            f"from_mne: expected mne.Epochs, mne.EpochsArray, mne.Evoked or a list of Evoked; got "
            f"{type(inst).__name__}. For continuous mne.io.Raw data, epoch it first "
            f"(mne.Epochs(raw, events, ...))."
        )
    epochs = _picked(inst, picks)
    values = epochs.get_data(copy=False)  # (epoch, channel, time)
    units = list(epochs.ch_names)
    code_to_name = {int(v): str(k) for k, v in epochs.event_id.items()}
    codes = epochs.events[:, 2].astype(int)
    names = np.array([code_to_name.get(c, str(c)) for c in codes])
    common: dict[str, Any] = dict(unit=units, unit_coords=_unit_coords(epochs.info), name=name,
                  attrs=_attrs(epochs.info, "epochs"))
    if by == "epoch":
        ids = np.array([f"epoch{int(s):04d}" for s in epochs.selection])
        coords: dict[str, Any] = {"event": names, "event_code": codes}
        if isinstance(epochs.metadata, pd.DataFrame):
            for col in epochs.metadata.columns:
                key = str(col)
                vals = epochs.metadata[col].to_numpy()
                if key in ("stimulus", "repetition", "time", "unit", "event", "event_code"):
                    key = f"{key}_metadata"
                if vals.dtype.kind in "iufb" or vals.dtype == object:
                    coords[key] = vals.astype(str) if vals.dtype == object else vals
        return responses(
            np.transpose(values, (0, 2, 1)), dims=("stimulus", "time", "unit"), stimulus=ids,
            time=np.asarray(epochs.times, dtype=np.float64), stimulus_coords=coords, **common,
        )
    order = [n for n in dict.fromkeys(code_to_name.get(c, str(c)) for c in sorted(set(codes)))]
    counts = {n: int((names == n).sum()) for n in order}
    if len(set(counts.values())) != 1:
        raise SchemaError(
            f"from_mne: by='event' stacks the trials of each event along 'repetition', so every "
            f"event needs the same number of trials; got {counts}. Equalise them first "
            f"(epochs.equalize_event_counts()), or pass by='epoch' for one stimulus per trial "
            f"(decode with labels='event')."
        )
    n_rep = next(iter(counts.values()))
    cube = np.stack([values[names == n] for n in order])  # (stimulus, repetition, channel, time)
    return responses(
        np.transpose(cube, (0, 1, 3, 2)), dims=("stimulus", "repetition", "time", "unit"),
        stimulus=order, repetition=[f"trial{r:03d}" for r in range(n_rep)],
        time=np.asarray(epochs.times, dtype=np.float64), **common,
    )


def _from_evokeds(evokeds: list[Any], *, picks: Any, name: str) -> xr.DataArray:
    mne = _mne()
    if not evokeds:
        raise SchemaError("from_mne: got an empty list of Evoked objects.")
    bad = [type(e).__name__ for e in evokeds if not isinstance(e, mne.Evoked)]
    if bad:
        raise TypeError(f"from_mne: a list must hold mne.Evoked objects only; got {bad[:3]}.")
    evokeds = [_picked(e, picks) for e in evokeds]
    first = evokeds[0]
    comments = [str(e.comment) if e.comment else f"evoked{i}" for i, e in enumerate(evokeds)]
    if len(set(comments)) != len(comments):
        raise SchemaError(
            f"from_mne: the Evoked comments are the stimulus ids and must be distinct; got "
            f"{comments}. Set them, e.g. evoked.comment = 'left/auditory'."
        )
    for e, c in zip(evokeds[1:], comments[1:], strict=True):
        if e.ch_names != first.ch_names:
            raise SchemaError(
                f"from_mne: Evoked {c!r} has other channels than {comments[0]!r}; pick the same "
                f"channels in the same order (evoked.pick(names))."
            )
        if e.times.shape != first.times.shape or not np.allclose(e.times, first.times, atol=1e-9):
            raise SchemaError(
                f"from_mne: epochs of different lengths: Evoked {c!r} spans {e.times[0]:g} to "
                f"{e.times[-1]:g} s ({e.times.size} samples), {comments[0]!r} {first.times[0]:g} "
                f"to {first.times[-1]:g} s ({first.times.size}). Crop them to one window first "
                f"(evoked.crop(tmin, tmax)) and resample to one rate."
            )
    values = np.stack([e.data for e in evokeds])  # (stimulus, channel, time)
    return responses(
        np.transpose(values, (0, 2, 1)), dims=("stimulus", "time", "unit"), stimulus=comments,
        unit=list(first.ch_names), time=np.asarray(first.times, dtype=np.float64),
        unit_coords=_unit_coords(first.info),
        stimulus_coords={"nave": np.array([int(e.nave) for e in evokeds])},
        attrs=_attrs(first.info, "evoked"), name=name,
    )


def _info_for(da: xr.DataArray, info: Any, sfreq: float) -> Any:
    mne = _mne()
    units = [str(u) for u in da["unit"].values]
    if info is not None:
        missing = [u for u in units if u not in info["ch_names"]]
        if missing:
            raise SchemaError(
                f"to_mne: {len(missing)} unit(s) are not channels of the given info, e.g. "
                f"{missing[:3]}; pass the info of the recording these data came from, or "
                f"info=None to rebuild one from the unit coordinates."
            )
        if abs(float(info["sfreq"]) - sfreq) > 1e-6 * sfreq:
            raise SchemaError(
                f"to_mne: the data are sampled at {sfreq:g} Hz but info['sfreq'] is "
                f"{float(info['sfreq']):g} Hz; pass the info of these data (or resample them)."
            )
        picked = mne.pick_info(info, [info["ch_names"].index(u) for u in units])
        return picked
    types = (
        [str(t) for t in da["ch_type"].values] if "ch_type" in da.coords else ["misc"] * len(units)
    )
    try:
        new = mne.create_info(units, sfreq, types)
    except (ValueError, KeyError) as err:
        raise SchemaError(
            f"to_mne: cannot build an MNE Info from the unit coordinates ({err}). The 'ch_type' "
            f"coordinate must hold MNE channel types ('eeg', 'mag', 'grad', 'seeg', 'misc'...)."
        ) from None
    if all(a in da.coords for a in "xyz"):
        xyz = np.stack([np.asarray(da[a].values, dtype=np.float64) for a in "xyz"], axis=1)
        for ch, pos in zip(new["chs"], xyz, strict=True):
            ch["loc"][:3] = pos
    if "bad" in da.coords:
        new["bads"] = [u for u, b in zip(units, np.asarray(da["bad"].values), strict=True) if b]
    return new


def to_mne(
    da: xr.DataArray,
    *,
    kind: Literal["epochs", "evoked"] = "epochs",
    info: Any = None,
) -> Any:
    """MNE-Python ``EpochsArray`` or list of ``EvokedArray`` from neurorep epochs.

    Parameters
    ----------
    da : DataArray
        Epochs ``(stimulus, [repetition,] time, unit)`` on a regular time grid; unit ids are the channel names.
    kind : {"epochs", "evoked"}
        ``"epochs"``: one epoch per stimulus (and repetition), with event
        names = stimulus ids (or the ``event`` coordinate when the epochs came
        from ``from_mne(..., by="epoch")``; its other stimulus coordinates
        become ``metadata``). ``"evoked"``: one Evoked per stimulus
        (repetitions averaged; ``comment`` = stimulus id, ``nave`` from the
        ``nave`` coordinate or the number of repetitions).
    info : mne.Info, optional
        The recording's Info, matched by channel name (exact round trip).
        Default: rebuilt from ``ch_type``, ``x``/``y``/``z``, ``bad`` and the
        sampling rate.

    Returns
    -------
    mne.EpochsArray or list of mne.EvokedArray
        ``kind="epochs"``: one EpochsArray (events named by stimulus);
        ``kind="evoked"``: one EvokedArray per stimulus, in stimulus order.

    Raises
    ------
    SchemaError
        Not epochs, irregular sampling, units missing from ``info``, a
        sampling rate that disagrees with ``info``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> eeg = data.responses(np.zeros((2, 50, 3)), dims=("stimulus", "time", "unit"),
    ...                      time=np.arange(50) / 100 - 0.1, unit=["Fz", "Cz", "Pz"],
    ...                      unit_coords={"ch_type": "eeg"})
    >>> ep = data.to_mne(eeg)
    >>> ep.ch_names, ep.info["sfreq"], sorted(ep.event_id)
    (['Fz', 'Cz', 'Pz'], 100.0, ['stimulus0', 'stimulus1'])
    """
    mne = _mne()
    if kind not in ("epochs", "evoked"):
        raise ValueError(f"kind must be one of ['epochs', 'evoked']; got {kind!r}.")
    if not isinstance(da, xr.DataArray) or da.dims not in (
        ("stimulus", "time", "unit"), ("stimulus", "repetition", "time", "unit")
    ):
        dims = tuple(da.dims) if isinstance(da, xr.DataArray) else type(da).__name__
        raise SchemaError(
            f"to_mne: expected epochs with dims ('stimulus', 'time', 'unit') or ('stimulus', "
            f"'repetition', 'time', 'unit'); got {dims}."
        )
    dt = sampling_interval(da, name="to_mne")
    sfreq = float(da.attrs.get("sfreq", 1.0 / dt))
    if abs(sfreq * dt - 1.0) > 1e-6:
        sfreq = 1.0 / dt  # the attrs describe another rate (e.g. after binning): trust the times
    new_info = _info_for(da, info, sfreq)
    tmin = float(da["time"].values[0])
    stim = [str(s) for s in da["stimulus"].values]
    if kind == "evoked":
        x = np.asarray(da.values, dtype=np.float64)
        n_rep = 1
        if da.ndim == 4:
            n_rep = da.sizes["repetition"]
            x = x.mean(axis=1)
        nave = (
            np.asarray(da["nave"].values, dtype=int) if "nave" in da.coords
            else np.full(len(stim), n_rep)
        )
        return [
            mne.EvokedArray(x[i].T, new_info, tmin=tmin, comment=s, nave=int(nave[i]),
                            verbose="error")
            for i, s in enumerate(stim)
        ]
    if da.ndim == 4:
        n_rep = da.sizes["repetition"]
        x = np.asarray(da.transpose("stimulus", "repetition", "unit", "time").values,
                       dtype=np.float64).reshape(len(stim) * n_rep, da.sizes["unit"], -1)
        labels = np.repeat(stim, n_rep)
        metadata = None
    else:
        x = np.asarray(da.transpose("stimulus", "unit", "time").values, dtype=np.float64)
        labels = (
            np.asarray(da["event"].values).astype(str) if "event" in da.coords
            else np.asarray(stim)
        )
        extra = {
            str(k): np.asarray(v.values) for k, v in da.coords.items()
            if v.dims == ("stimulus",) and k not in ("stimulus", "event", "event_code")
        }
        metadata = pd.DataFrame(extra) if extra else None
    names = list(dict.fromkeys(labels.tolist()))
    if "event_code" in da.coords and da.ndim == 3:
        codes = np.asarray(da["event_code"].values, dtype=int)
        event_id = {n: int(codes[labels == n][0]) for n in names}
    else:
        event_id = {n: i + 1 for i, n in enumerate(names)}
        codes = np.array([event_id[n] for n in labels], dtype=int)
    n_time = da.sizes["time"]
    events = np.c_[np.arange(len(labels)) * n_time, np.zeros(len(labels), int), codes]
    return mne.EpochsArray(x, new_info, events=events, tmin=tmin, event_id=event_id,
                           metadata=metadata, verbose="error")
