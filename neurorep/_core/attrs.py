"""Attribute values that survive netCDF and zarr: the encoding of ``neurorep.data.save``.

netCDF stores numbers, strings and 1-D numeric arrays as attributes; every other
value (bool, None, lists, dicts) is stored as JSON behind a prefix and decoded on
load. Shared by :mod:`neurorep.data` (save/load) and :mod:`neurorep.models`
(activations written to zarr while a model runs).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xarray as xr

from neurorep._core.errors import SchemaError

__all__ = ["OBJECT_ATTR", "decode_value", "encode_value", "map_attrs"]

JSON_PREFIX = "__json__:"
OBJECT_ATTR = "neurorep_object"


def encode_value(value: Any) -> Any:
    """An attribute value netCDF and zarr store (JSON behind :data:`JSON_PREFIX` if need be)."""
    if isinstance(value, bool | np.bool_) or value is None:
        return JSON_PREFIX + json.dumps(bool(value) if value is not None else None)
    if isinstance(value, str | int | float | np.integer | np.floating):
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind in "iuf" and value.ndim == 1:
        return value
    if isinstance(value, list | tuple) and value and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    ):
        return np.asarray(value)
    try:
        return JSON_PREFIX + json.dumps(value, default=_json_default)
    except TypeError as err:
        raise SchemaError(
            f"attrs value {value!r} of type {type(value).__name__} cannot be saved; "
            f"use str, numbers, lists or dicts of them."
        ) from err


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value).__name__)


def decode_value(value: Any) -> Any:
    """The value :func:`encode_value` stored."""
    if isinstance(value, str) and value.startswith(JSON_PREFIX):
        return json.loads(value[len(JSON_PREFIX) :])
    return value


def map_attrs(ds: xr.Dataset, fn: Any) -> xr.Dataset:
    """A copy of ``ds`` with ``fn`` applied to its and its variables' attrs (``encode_value``
    also stores object arrays of str as fixed-width unicode)."""
    ds = ds.copy()
    ds.attrs = {k: fn(v) for k, v in ds.attrs.items()}
    for name in list(ds.variables):
        var = ds.variables[name]
        var.attrs = {k: fn(v) for k, v in var.attrs.items()}
        if fn is encode_value and var.dtype.kind == "O":
            # object arrays of str -> fixed-width unicode, which both backends store
            ds[name] = var.copy(data=np.asarray(var.values).astype(str))
    return ds
