"""Attribute values and names that survive netCDF and zarr: the encoding of
``neurorep.data.save`` / ``load``, shared with the zarr writer of ``neurorep.models``.

netCDF stores numbers, strings and numeric vectors as attributes; every other value
(bool, None, lists, dicts, NUL-holding strings, huge ints) is stored as JSON behind a
prefix. Names that netCDF or zarr would refuse or alter are stored under safe names,
the originals recorded in an attr; the order of a tree's children is recorded too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from neurorep._core.errors import SchemaError

_JSON = "__json__:"
_OBJECT_ATTR = "neurorep_object"
_NAME_ATTR = "neurorep_name"
_NAMED_ATTR = "neurorep_named"
# the variable of an unnamed DataArray (xarray's own "__values__" reads back as the name None)
_VALUES_VAR = "__neurorep_values__"
# attrs whose names netCDF cannot store as they are, saved as one JSON object
_ODD_NAMES_ATTR = "neurorep_attrs"
# {stored name: original} of variables and dims renamed for the file; the order of children
_NAMES_ATTR = "neurorep_names"
_ORDER_ATTR = "neurorep_children"
_SAFE_PREFIX = "__neurorep_name_"
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.@+-]{0,199}")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _encode_value(value: Any) -> Any:
    if isinstance(value, bool | np.bool_) or value is None:
        return _JSON + json.dumps(bool(value) if value is not None else None)
    if isinstance(value, str) and ("\x00" in value or value.startswith(_JSON)):
        # netCDF drops NUL characters, and the prefix would be read back as JSON
        return _JSON + json.dumps(value)
    if isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX:
        return _JSON + json.dumps(value)  # beyond what a netCDF attribute holds
    if isinstance(value, str | int | float | np.integer | np.floating):
        return value
    # numeric vectors are stored as netCDF arrays; one of length 1 would read back as a
    # scalar, so those (and anything else) go through JSON
    if isinstance(value, np.ndarray) and value.dtype.kind in "iuf" and value.ndim == 1:
        if value.size > 1:
            return value
    elif isinstance(value, list | tuple) and len(value) > 1 and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    ):
        arr = np.asarray(value)
        if arr.dtype.kind in "iuf":
            return arr
    try:
        return _JSON + json.dumps(value, default=_json_default)
    except TypeError as err:
        raise SchemaError(
            f"attrs value {value!r} of type {type(value).__name__} cannot be saved; "
            f"use str, numbers, lists or dicts of them."
        ) from err


_RESERVED = (_OBJECT_ATTR, _NAME_ATTR, _NAMED_ATTR, _ODD_NAMES_ATTR, _NAMES_ATTR, _ORDER_ATTR)


def _encode_attrs(attrs: Mapping[Any, Any]) -> dict[str, Any]:
    """Attrs as both backends store them: values encoded (:func:`_encode_value`), and attrs
    whose names netCDF would refuse or alter (a leading digit or symbol, spaces, '/',
    control characters, non-NFC unicode...) kept together in one JSON attr, so that no
    name is lost or changed."""
    out: dict[str, Any] = {}
    odd: dict[str, Any] = {}
    for key, value in attrs.items():
        if not isinstance(key, str):
            raise SchemaError(
                f"attrs name {key!r} ({type(key).__name__}) cannot be saved; attr names must "
                f"be str. Rename it, e.g. obj.attrs[str(k)] = obj.attrs.pop(k)."
            )
        if _PLAIN_NAME.fullmatch(key) and key not in _RESERVED:
            out[key] = _encode_value(value)
        else:
            odd[key] = value
    if odd:
        try:
            out[_ODD_NAMES_ATTR] = _JSON + json.dumps(odd, default=_json_default)
        except TypeError as err:
            raise SchemaError(
                f"attrs {list(odd)} hold a value that cannot be saved; use str, numbers, "
                f"lists or dicts of them."
            ) from err
    return out


def _decode_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: _decode_value(v) for k, v in attrs.items() if k != _ODD_NAMES_ATTR}
    if _ODD_NAMES_ATTR in attrs:
        out.update(_decode_value(attrs[_ODD_NAMES_ATTR]))
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value).__name__)


def _decode_value(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_JSON):
        return json.loads(value[len(_JSON) :])
    return value


def _stored_name(name: Any, i: int) -> str:
    """The name a variable, dim or tree node gets on disk: itself when both formats keep it
    as it is, else ``__neurorep_name_<i>`` (the original is recorded in an attr)."""
    if not isinstance(name, str):
        raise SchemaError(
            f"the name {name!r} ({type(name).__name__}) cannot be saved; variable, coordinate, "
            f"dim and node names must be str. Rename it, e.g. obj.rename({{{name!r}: "
            f"{str(name)!r}}})."
        )
    if _PLAIN_NAME.fullmatch(name) and not name.startswith(_SAFE_PREFIX):
        return name
    return f"{_SAFE_PREFIX}{i}"


def _encode_dataset(ds: xr.Dataset, markers: Mapping[str, Any] | None = None) -> xr.Dataset:
    """A dataset as stored: attrs encoded, names netCDF/zarr would refuse or alter (a space
    splits netCDF's 'coordinates' list, '::' is illegal, unicode is NFC-normalised...)
    replaced by safe ones, and neurorep's ``markers`` added to the attrs."""
    ds = ds.copy()
    ds.attrs = _encode_attrs(ds.attrs)
    for name in list(ds.variables):
        var = ds.variables[name]
        var.attrs = _encode_attrs(var.attrs)
        if var.dtype.kind == "O":
            # object arrays of str -> fixed-width unicode, which both backends store
            ds[name] = var.copy(data=np.asarray(var.values).astype(str))
    names = list(dict.fromkeys([*ds.variables, *ds.dims]))
    renamed = {n: s for i, n in enumerate(names) if (s := _stored_name(n, i)) != n}
    if renamed:
        ds = ds.rename(renamed)
        ds.attrs[_NAMES_ATTR] = _JSON + json.dumps({s: n for n, s in renamed.items()})
    ds.attrs.update(markers or {})
    return ds


def _decode_dataset(ds: xr.Dataset) -> xr.Dataset:
    """Undo :func:`_encode_dataset` (neurorep's markers stay in the attrs)."""
    ds = ds.copy()
    names = _decode_value(ds.attrs.pop(_NAMES_ATTR, None))
    ds.attrs = _decode_attrs(ds.attrs)
    for name in list(ds.variables):
        ds.variables[name].attrs = _decode_attrs(ds.variables[name].attrs)
    return ds.rename(names) if names else ds


def _encode_tree(node: xr.DataTree, markers: Mapping[str, Any] | None = None) -> xr.DataTree:
    """A DataTree as stored: every node encoded, children under safe names, their order
    recorded (zarr lists groups alphabetically; the order of layers is the network's)."""
    ds = _encode_dataset(node.to_dataset(inherit=False), markers)
    kids = list(node.children)
    if kids:
        ds.attrs[_ORDER_ATTR] = _JSON + json.dumps(kids)
    children = {_stored_name(k, i): _encode_tree(node.children[k]) for i, k in enumerate(kids)}
    return xr.DataTree(dataset=ds, children=children)


def _decode_tree(node: xr.DataTree) -> xr.DataTree:
    ds = _decode_dataset(node.to_dataset(inherit=False))
    order = ds.attrs.pop(_ORDER_ATTR, None)
    if order is None:  # files of earlier versions
        pairs = [(k, k) for k in node.children]
    else:
        pairs = [(k, _stored_name(k, i)) for i, k in enumerate(order)]
    children = {k: _decode_tree(node.children[s]) for k, s in pairs}
    return xr.DataTree(dataset=ds, children=children)
