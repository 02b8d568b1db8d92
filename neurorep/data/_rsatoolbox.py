"""Bridges to and from rsatoolbox ``Dataset`` and ``RDMs`` objects."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from neurorep._errors import SchemaError
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
    descriptor for crossnobis).
    """
    kind = validate(obj)
    if kind == "rdm":
        return _rdm_to_rsatoolbox(obj)
    from rsatoolbox.data import Dataset

    if obj.dims == ("time", "unit"):
        raise SchemaError(
            "to_rsatoolbox: time series have no stimulus axis; estimate one pattern per "
            "stimulus first (e.g. a GLM), then convert."
        )
    descriptors = {k: v for k, v in obj.attrs.items() if isinstance(v, str | int | float)}
    channel = _descriptors(obj, "unit")
    if obj.dims == ("stimulus", "unit"):
        obs = _descriptors(obj, "stimulus")
        measurements = np.asarray(obj.values)
    else:
        stacked = obj.stack(obs=("stimulus", "repetition")).transpose("obs", "unit")
        measurements = np.asarray(stacked.values)
        obs = {
            "stimulus": np.asarray(stacked["stimulus"].values),
            "repetition": np.asarray(stacked["repetition"].values),
        }
        for name, c in obj.coords.items():
            if c.dims == ("stimulus",) and name != "stimulus":
                obs[str(name)] = np.repeat(np.asarray(c.values), obj.sizes["repetition"])
    return Dataset(
        measurements,
        descriptors=descriptors,
        obs_descriptors=obs,
        channel_descriptors=channel,
    )


def from_rsatoolbox(obj: Any, *, stimulus: str = "stimulus", repetition: str | None = None) -> xr.DataArray:
    """``rsatoolbox.data.Dataset`` -> responses; ``RDMs`` -> RDM DataArray.

    Parameters
    ----------
    obj : rsatoolbox Dataset or RDMs
    stimulus : str
        Obs (or pattern) descriptor holding the stimulus ids.
    repetition : str, optional
        Obs descriptor of repeated presentations (e.g. ``"run"``); required
        when stimulus ids repeat, giving ``(stimulus, repetition, unit)``.

    RDMs always come back with a leading ``rdm`` dim (one entry per RDM).
    """
    from rsatoolbox.rdm import RDMs

    if isinstance(obj, RDMs):
        return _rdm_from_rsatoolbox(obj, stimulus=stimulus)
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
    if len(set(ids.tolist())) == len(ids):
        return responses(
            obj.measurements,
            stimulus=ids,
            unit=unit_ids,
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
    uniq_s = list(dict.fromkeys(ids.tolist()))
    uniq_r = list(dict.fromkeys(reps.tolist()))
    cube = np.full((len(uniq_s), len(uniq_r), obj.measurements.shape[1]), np.nan)
    si = {s: i for i, s in enumerate(uniq_s)}
    ri = {r: i for i, r in enumerate(uniq_r)}
    for row, (s, r) in enumerate(zip(ids, reps, strict=True)):
        cube[si[s], ri[r]] = obj.measurements[row]
    if np.isnan(cube).any():
        raise SchemaError(
            "from_rsatoolbox: not every stimulus appears in every repetition; a "
            "(stimulus, repetition, unit) array needs a full design."
        )
    return responses(cube, stimulus=uniq_s, repetition=uniq_r, unit=unit_ids, unit_coords=unit_coords, attrs=attrs)


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
