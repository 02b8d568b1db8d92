"""netCDF and zarr round trips that keep coords, attrs and the DataTree structure."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurorep._errors import SchemaError

_JSON = "__json__:"
_OBJECT_ATTR = "neurorep_object"
_NAME_ATTR = "neurorep_name"


def _encode_value(value: Any) -> Any:
    if isinstance(value, bool | np.bool_) or value is None:
        return _JSON + json.dumps(bool(value) if value is not None else None)
    if isinstance(value, str | int | float | np.integer | np.floating):
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind in "iuf" and value.ndim == 1:
        return value
    if isinstance(value, list | tuple) and value and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    ):
        return np.asarray(value)
    try:
        return _JSON + json.dumps(value, default=_json_default)
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


def _decode_value(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_JSON):
        return json.loads(value[len(_JSON) :])
    return value


def _map_attrs(ds: xr.Dataset, fn: Any) -> xr.Dataset:
    ds = ds.copy()
    ds.attrs = {k: fn(v) for k, v in ds.attrs.items()}
    for name in list(ds.variables):
        var = ds.variables[name]
        var.attrs = {k: fn(v) for k, v in var.attrs.items()}
        if fn is _encode_value and var.dtype.kind == "O":
            # object arrays of str -> fixed-width unicode, which both backends store
            ds[name] = var.copy(data=np.asarray(var.values).astype(str))
    return ds


def _engine(path: Path) -> str:
    if path.suffix == ".nc":
        return "netcdf"
    if path.suffix == ".zarr":
        return "zarr"
    raise ValueError(
        f"path must end in '.nc' (netCDF) or '.zarr' (zarr); got {str(path)!r}."
    )


def save(obj: xr.DataArray | xr.Dataset | xr.DataTree, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a DataArray, Dataset or DataTree to netCDF (``.nc``) or zarr (``.zarr``).

    Coordinates, attrs (any JSON-able value) and the tree structure survive
    :func:`load`. An existing path is never replaced unless ``overwrite=True``.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from neurorep import data
    >>> r = data.responses(np.eye(3), stimulus=["a", "b", "c"], region="V1")
    >>> p = data.save(r, pathlib.Path(tempfile.mkdtemp()) / "r.nc")
    >>> data.load(p).identical(r)
    True
    """
    path = Path(path)
    engine = _engine(path)
    if path.exists():
        if not overwrite:
            raise FileExistsError(
                f"{str(path)!r} exists; pass overwrite=True to replace it, or choose another path."
            )
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    if isinstance(obj, xr.DataArray):
        name = obj.name if obj.name is not None else "__values__"
        ds = obj.to_dataset(name=name)
        ds.attrs = {_OBJECT_ATTR: "DataArray", _NAME_ATTR: str(name)}
        tree = xr.DataTree(_map_attrs(ds, _encode_value))
    elif isinstance(obj, xr.Dataset):
        ds = obj.copy()
        ds.attrs = {**obj.attrs, _OBJECT_ATTR: "Dataset"}
        tree = xr.DataTree(_map_attrs(ds, _encode_value))
    elif isinstance(obj, xr.DataTree):
        tree = obj.copy().map_over_datasets(lambda d: _map_attrs(d, _encode_value))
        tree.attrs = {**{k: _encode_value(v) for k, v in obj.attrs.items()}, _OBJECT_ATTR: "DataTree"}
    else:
        raise TypeError(
            f"save() takes an xarray DataArray, Dataset or DataTree; got {type(obj).__name__}."
        )
    tmp = path.with_name(path.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
    try:
        if engine == "netcdf":
            tree.to_netcdf(tmp)
        else:
            tree.to_zarr(tmp, zarr_format=2, consolidated=True)
        tmp.rename(path)
    except BaseException:
        if tmp.exists():
            shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
        raise
    return path


def load(path: str | Path, *, chunks: Any = None) -> Any:
    """Read what :func:`save` wrote, as the same kind of object.

    Parameters
    ----------
    path : str or Path
        A ``.nc`` file or ``.zarr`` folder.
    chunks : optional
        Keep the values lazy (dask) with these chunks; default loads into memory.
    """
    path = Path(path)
    engine = _engine(path)
    if not path.exists():
        raise FileNotFoundError(f"no file at {str(path)!r}.")
    kwargs: dict[str, Any] = {"engine": "netcdf4" if engine == "netcdf" else "zarr"}
    if chunks is not None:
        kwargs["chunks"] = chunks
    tree = xr.open_datatree(path, **kwargs)
    if chunks is None:
        tree = tree.load()
        tree.close()
    tree = tree.map_over_datasets(lambda d: _map_attrs(d, _decode_value))
    kind = tree.attrs.get(_OBJECT_ATTR, "DataTree")
    if kind == "DataArray":
        ds = tree.to_dataset()
        name = ds.attrs[_NAME_ATTR]
        da = ds[name]
        if name == "__values__":
            da.name = None
        return da
    if kind == "Dataset":
        ds = tree.to_dataset()
        ds.attrs.pop(_OBJECT_ATTR, None)
        return ds
    attrs = {k: _decode_value(v) for k, v in tree.attrs.items() if k != _OBJECT_ATTR}
    tree.attrs = attrs
    return tree
