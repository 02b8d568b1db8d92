"""The inputs of the alignment engine: representation sets split by region and subject,
aligned by stimulus id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from neurorep._core.errors import AlignmentError, SchemaError, check_real
from neurorep.alignment._metric import Metric
from neurorep.data import RDM_DIMS, align, members, stimulus_ids, validate

Array = np.ndarray


def _split_regions(key: str | None, da: xr.DataArray, label: str) -> dict[str, xr.DataArray]:
    """One member per value of a per-unit ``region`` coord (DESIGN.md section 1).

    A DataArray ``key=None`` gives members named by region; a set member holding
    several regions gives ``"<key>/<region>"``. Regions keep their order of
    first appearance along ``unit``.
    """
    if (
        da.dims[-2:] == RDM_DIMS
        or "unit" not in da.dims
        or "region" not in da.coords
        or da["region"].dims != ("unit",)
    ):
        return {key if key is not None else str(da.name or label): da}
    import pandas as pd

    values = da["region"].values
    missing = np.asarray(pd.isna(values))
    if missing.any():
        raise SchemaError(
            f"{label}: {int(missing.sum())} of {values.size} units have no 'region' "
            f"(e.g. unit {da['unit'].values[np.flatnonzero(missing)[0]]!r}); the 'region' coord "
            f"splits the units into the regions to score. Give every unit a region, or drop "
            f"those units before scoring."
        )
    names = [str(v) for v in pd.unique(values)]
    if len(names) == 1 and key is not None:
        return {key: da}
    labels = np.asarray(values).astype(str)
    return {
        (r if key is None else f"{key}/{r}"): da.isel(unit=np.flatnonzero(labels == r))
        for r in names
    }


def _as_set(obj: Any, name: str, met: Metric, *, split_regions: bool = True) -> dict[str, xr.DataArray]:
    if isinstance(obj, xr.DataArray):
        out = _split_regions(None, obj, name) if split_regions else {str(obj.name or name): obj}
    else:
        out = {}
        for key, da in members(obj).items():
            parts = _split_regions(key, da, f"{name}[{key!r}]") if split_regions else {key: da}
            for k, v in parts.items():
                if k in out:
                    raise SchemaError(
                        f"{name}: the region {k!r} comes from two members; rename a member or "
                        f"its units' 'region' coord."
                    )
                out[k] = v
    if not out:
        raise SchemaError(f"{name}: holds no representations.")
    for key, da in out.items():
        label = f"{name}[{key!r}]"
        check_real(da.data, name=label)
        if da.dims[-2:] == RDM_DIMS:
            if not met.takes_rdms:
                raise SchemaError(f"{label} is an RDM; this metric needs responses. Use metric='rsa'.")
            validate(da, kind="rdm", name=label)
            continue
        validate(da, kind="responses", name=label)
        if "stimulus" not in da.dims:
            raise SchemaError(
                f"{label} has dims {da.dims}; alignment needs one pattern per stimulus "
                f"(dims ('stimulus', 'unit') or ('stimulus', 'repetition', 'unit'))."
            )
    return out


def _split_subjects(regions: dict[str, xr.DataArray]) -> dict[str, dict[str, xr.DataArray]]:
    """region -> subject -> DataArray (one 'all' subject when there is no subject axis)."""
    out: dict[str, dict[str, xr.DataArray]] = {}
    for key, da in regions.items():
        if da.dims[-2:] == RDM_DIMS and da.ndim == 3:
            lead = da.dims[0]
            out[key] = {str(s): da.isel({lead: i}) for i, s in enumerate(da[lead].values)}
        elif da.dims[-2:] == RDM_DIMS and da.ndim > 3:
            raise SchemaError(
                f"brain[{key!r}] stacks RDMs over {da.dims[:-2]}; reduce to one leading dim "
                f"(e.g. rdm.mean('session'))."
            )
        elif "subject" in da.coords and da["subject"].dims == ("unit",) and len(np.unique(da["subject"].values)) > 1:
            subs = np.unique(da["subject"].values)
            out[key] = {str(s): da.sel(unit=da["subject"].values == s) for s in subs}
        else:
            out[key] = {"all": da}
    return out


def _prepare_sets(
    brain: Any, model: Any, met: Metric, *, split_regions: bool = True
) -> tuple[dict[str, dict[str, xr.DataArray]], dict[str, xr.DataArray], Array]:
    """The regions (per subject) and layers, every one on the first region's stimuli in its
    order (aligned by id; already aligned ones are passed through, not copied)."""
    regions = _split_subjects(_as_set(brain, "brain", met, split_regions=split_regions))
    layers = _as_set(model, "model", met, split_regions=False)
    first_region = next(iter(next(iter(regions.values())).values()))
    ref = stimulus_ids(first_region, name="brain")
    for key, subs in regions.items():
        for s, da in subs.items():
            try:
                subs[s] = align(first_region, da, names=("brain", f"brain[{key!r}]"))[1]
            except AlignmentError as err:
                raise AlignmentError(f"regions must share stimuli (subject {s}): {err}") from err
    for key, da in layers.items():
        try:
            layers[key] = align(first_region, da, names=("brain", f"model[{key!r}]"))[1]
        except AlignmentError as err:
            raise AlignmentError(f"layers and regions must share stimuli: {err}") from err
    return regions, layers, ref


def _depths(layers: Mapping[str, xr.DataArray]) -> Array:
    d = [layers[k].attrs.get("depth") for k in layers]
    if any(v is None for v in d):
        return np.linspace(0, 1, len(d)) if len(d) > 1 else np.zeros(1)
    return np.asarray(d, float)

