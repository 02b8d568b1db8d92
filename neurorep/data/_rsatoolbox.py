"""Bridges to and from rsatoolbox ``Dataset`` and ``RDMs`` objects."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from neurorep._core.errors import SchemaError
from neurorep.data._schema import rdm, responses, validate


def _descriptors(da: xr.DataArray, dim: str) -> dict[str, np.ndarray]:
    return {
        str(name): np.asarray(c.values)
        for name, c in da.coords.items()
        if c.dims == (dim,)
    }


def to_rsatoolbox(obj: xr.DataArray) -> Any:
    """Responses -> ``rsatoolbox.data.Dataset``; RDM(s) -> ``rsatoolbox.rdm.RDMs``.

    Responses with a repetition dim become one observation per
    (stimulus, repetition) with obs descriptors ``stimulus`` and
    ``repetition`` (use ``repetition`` as rsatoolbox's cross-validation
    descriptor for crossnobis). Epochs (a ``time`` dim) become a
    ``TemporalDataset`` with measurements ``(obs, channel, time)``.

    Parameters
    ----------
    obj : DataArray
        Responses ``(stimulus, [repetition,] [time,] unit)`` or an RDM (stack).

    Returns
    -------
    rsatoolbox.data.Dataset or rsatoolbox.rdm.RDMs
        A ``Dataset`` (or ``TemporalDataset`` for epochs) for responses, with
        obs descriptor ``stimulus`` (and ``repetition``) and channel
        descriptor ``unit``; ``RDMs`` for an RDM or a stack, pattern
        descriptor ``stimulus``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> ds = data.to_rsatoolbox(data.responses(np.eye(3), stimulus=["a", "b", "c"]))
    >>> ds.measurements.shape
    (3, 3)
    """
    kind = validate(obj)
    if kind == "rdm":
        return _rdm_to_rsatoolbox(obj)
    from rsatoolbox.data import Dataset, TemporalDataset

    if obj.dims == ("time", "unit"):
        raise SchemaError(
            "to_rsatoolbox: time series have no stimulus axis; estimate one pattern per "
            "stimulus first (e.g. a GLM), then convert."
        )
    descriptors = {k: v for k, v in obj.attrs.items() if isinstance(v, str | int | float)}
    channel = _descriptors(obj, "unit")
    inner = ("time", "unit") if "time" in obj.dims else ("unit",)
    if "repetition" not in obj.dims:
        obs = _descriptors(obj, "stimulus")
        measurements = np.asarray(obj.transpose("stimulus", *inner).values)
    else:
        stacked = obj.stack(obs=("stimulus", "repetition")).transpose("obs", *inner)
        measurements = np.asarray(stacked.values)
        obs = {
            "stimulus": np.asarray(stacked["stimulus"].values),
            "repetition": np.asarray(stacked["repetition"].values),
        }
        for name, c in obj.coords.items():
            if c.dims == ("stimulus",) and name != "stimulus":
                obs[str(name)] = np.repeat(np.asarray(c.values), obj.sizes["repetition"])
    if "time" in obj.dims:
        return TemporalDataset(
            measurements.transpose(0, 2, 1),  # rsatoolbox: (obs, channel, time)
            descriptors=descriptors,
            obs_descriptors=obs,
            channel_descriptors=channel,
            time_descriptors={"time": np.asarray(obj["time"].values)},
        )
    return Dataset(
        measurements,
        descriptors=descriptors,
        obs_descriptors=obs,
        channel_descriptors=channel,
    )


def from_rsatoolbox(
    obj: Any, *, stimulus: str = "stimulus", repetition: str | None = None
) -> xr.DataArray:
    """``rsatoolbox.data.Dataset`` -> responses; ``RDMs`` -> RDM DataArray.

    Parameters
    ----------
    obj : rsatoolbox Dataset, TemporalDataset or RDMs
        A ``TemporalDataset`` (measurements ``(obs, channel, time)``) becomes
        epochs ``(stimulus, [repetition,] time, unit)`` with its ``time``
        descriptor as the time coordinate.
    stimulus : str
        Obs (or pattern) descriptor holding the stimulus ids.
    repetition : str, optional
        Obs descriptor of repeated presentations (e.g. ``"run"``); required
        when stimulus ids repeat, giving ``(stimulus, repetition, unit)``.
        Obs descriptors other than these two are kept (as stimulus
        coordinates) only when every stimulus has one value.

    Returns
    -------
    DataArray
        Responses, epochs, or an RDM stack with a leading ``rdm`` dim (one
        entry per RDM).

    Raises
    ------
    SchemaError
        When ``obj`` is not an rsatoolbox object, lacks the descriptors, or
        repeated presentations do not form a full (stimulus x repetition)
        design with one observation each.

    Examples
    --------
    >>> import numpy as np
    >>> from rsatoolbox.data import Dataset
    >>> from neurorep import data
    >>> ds = Dataset(np.eye(3), obs_descriptors={"stimulus": ["a", "b", "c"]})
    >>> data.from_rsatoolbox(ds).dims
    ('stimulus', 'unit')
    """
    from rsatoolbox.data import Dataset, TemporalDataset
    from rsatoolbox.rdm import RDMs

    if isinstance(obj, RDMs):
        return _rdm_from_rsatoolbox(obj, stimulus=stimulus)
    if not isinstance(obj, Dataset):
        raise SchemaError(
            f"from_rsatoolbox: obj must be an rsatoolbox.data.Dataset or rsatoolbox.rdm.RDMs; "
            f"got {type(obj).__name__}. Build responses from arrays with "
            f"neurorep.data.responses(values, stimulus=ids) and RDMs with neurorep.data.rdm(...)."
        )
    obs = dict(obj.obs_descriptors)
    if stimulus not in obs:
        raise SchemaError(
            f"from_rsatoolbox: the Dataset has no obs descriptor {stimulus!r} (has "
            f"{list(obs)}); pass stimulus= naming the one that holds stimulus ids."
        )
    ids = np.asarray(obs.pop(stimulus)).astype(str)
    unit_coords = {k: np.asarray(v) for k, v in obj.channel_descriptors.items()}
    unit_ids = unit_coords.pop("unit", None)
    attrs = {k: v for k, v in obj.descriptors.items() if isinstance(v, str | int | float)}
    measurements = np.asarray(obj.measurements)
    times: Any = False
    if isinstance(obj, TemporalDataset):  # (obs, channel, time) -> (obs, time, channel)
        measurements = measurements.transpose(0, 2, 1)
        times = np.asarray(obj.time_descriptors["time"], dtype=float)
    if len(set(ids.tolist())) == len(ids):
        return responses(
            measurements,
            dims=("stimulus", "time", "unit") if times is not False else ("stimulus", "unit"),
            stimulus=ids,
            unit=unit_ids,
            time=times,
            stimulus_coords=obs,
            unit_coords=unit_coords,
            attrs=attrs,
        )
    if repetition is None or repetition not in obs:
        raise SchemaError(
            f"from_rsatoolbox: stimulus ids repeat (e.g. {ids[0]!r}); pass repetition= naming "
            f"the obs descriptor of repeated presentations (have {list(obs)})."
        )
    reps = np.asarray(obs.pop(repetition)).astype(str)
    pairs = pd.MultiIndex.from_arrays([ids, reps])
    if not pairs.is_unique:
        s, r = pairs[pairs.duplicated()][0]
        raise SchemaError(
            f"from_rsatoolbox: stimulus {s!r} has {int((pairs == (s, r)).sum())} observations "
            f"in repetition {r!r}; each (stimulus, repetition) needs exactly one. Average them "
            f"first (rsatoolbox.data.average_dataset_by) or use a finer repetition descriptor."
        )
    uniq_s = list(dict.fromkeys(ids.tolist()))
    uniq_r = list(dict.fromkeys(reps.tolist()))
    if len(pairs) != len(uniq_s) * len(uniq_r):
        raise SchemaError(
            "from_rsatoolbox: not every stimulus appears in every repetition; a "
            "(stimulus, repetition, unit) array needs a full design."
        )
    si = pd.Index(uniq_s).get_indexer(ids)
    ri = pd.Index(uniq_r).get_indexer(reps)
    cube = np.empty((len(uniq_s), len(uniq_r), *measurements.shape[1:]), measurements.dtype)
    cube[si, ri] = measurements
    stim_coords = {}
    for key, values in obs.items():  # keep descriptors with one value per stimulus
        per = pd.Series(np.asarray(values)).groupby(si)
        if (per.nunique(dropna=False) == 1).all():
            stim_coords[key] = per.first().to_numpy()
    return responses(
        cube,
        dims=("stimulus", "repetition", "time", "unit")
        if times is not False
        else ("stimulus", "repetition", "unit"),
        stimulus=uniq_s,
        repetition=uniq_r,
        time=times,
        unit=unit_ids,
        stimulus_coords=stim_coords,
        unit_coords=unit_coords,
        attrs=attrs,
    )


def _rdm_to_rsatoolbox(da: xr.DataArray) -> Any:
    from rsatoolbox.rdm import RDMs

    stack = da if da.ndim == 3 else da.expand_dims("rdm")
    lead = stack.dims[0]
    n = stack.sizes["stimulus_i"]
    iu = np.triu_indices(n, 1)
    vectors = np.asarray(stack.values)[:, iu[0], iu[1]]
    rdm_desc = {str(lead): np.asarray(stack[lead].values)} if lead in stack.coords else {}
    return RDMs(
        vectors,
        dissimilarity_measure=str(da.attrs.get("metric", "unknown")),
        pattern_descriptors={"stimulus": np.asarray(stack["stimulus_i"].values)},
        rdm_descriptors=rdm_desc,
    )


def _rdm_from_rsatoolbox(obj: Any, *, stimulus: str) -> xr.DataArray:
    pat = obj.pattern_descriptors
    ids = pat.get(stimulus, pat.get("index"))
    vectors = obj.get_vectors()
    out = rdm(vectors, stimulus=ids, metric=str(obj.dissimilarity_measure), dim="rdm")
    extra = {}
    for key, values in obj.rdm_descriptors.items():
        arr = np.asarray(values)
        if key != "index" and arr.shape == (vectors.shape[0],):
            extra[str(key)] = ("rdm", arr)
    return out.assign_coords(extra)
