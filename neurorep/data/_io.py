"""netCDF and zarr round trips that keep coords, attrs and the DataTree structure."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurorep._errors import SchemaError

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


def _engine(path: Path) -> str:
    if path.suffix == ".nc":
        return "netcdf"
    if path.suffix == ".zarr":
        return "zarr"
    raise ValueError(
        f"path must end in '.nc' (netCDF) or '.zarr' (zarr); got {str(path)!r}."
    )


def _to_tree(obj: Any) -> xr.DataTree:
    """The tree :func:`save` writes: attrs and names encoded, object kind recorded."""
    if isinstance(obj, xr.DataArray):
        name = obj.name
        if name is not None and not isinstance(name, str):
            _stored_name(name, 0)  # refuses it with the fix
        # an unnamed array, or one named like one of its coordinates, is stored under a
        # name of its own; its name is kept in an attr
        var = name if isinstance(name, str) and name not in obj.coords else _VALUES_VAR
        markers = {
            _OBJECT_ATTR: "DataArray",
            _NAME_ATTR: _encode_value(name),
            _NAMED_ATTR: _encode_value(name is not None),
        }
        return xr.DataTree(_encode_dataset(obj.to_dataset(name=var), markers))
    if isinstance(obj, xr.Dataset):
        return xr.DataTree(_encode_dataset(obj, {_OBJECT_ATTR: "Dataset"}))
    if isinstance(obj, xr.DataTree):
        return _encode_tree(obj, {_OBJECT_ATTR: "DataTree"})
    raise TypeError(
        f"save() takes an xarray DataArray, Dataset or DataTree; got {type(obj).__name__}."
    )


def _sibling(path: Path, tag: str) -> Path:
    """A hidden file next to ``path``: ``.<name>.<tag>``."""
    return path.with_name(f".{path.name}.{tag}")


def _lock_path(path: Path) -> Path:
    """The lock file of ``path``: in the temporary directory, named by a hash of the
    resolved path (every process on this machine finds the same one)."""
    folder = Path(tempfile.gettempdir()) / "neurorep-locks"
    folder.mkdir(exist_ok=True)
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
    return folder / f"{key}.lock"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _recover(path: Path) -> None:
    """Clean up after a writer that died (called with the path's lock held).

    Unfinished temporaries (``.<name>.*.partial``, and ``<name>.partial`` of
    earlier versions) are removed. A zarr folder moved aside for a
    replacement (``.<name>.*.old``) is put back if the new one never
    arrived, otherwise removed.
    """
    pattern = glob.escape(f".{path.name}.")
    for tmp in [*path.parent.glob(pattern + "*.partial"), path.with_name(path.name + ".partial")]:
        if tmp.exists() or tmp.is_symlink():
            _remove(tmp)
    asides = sorted(path.parent.glob(pattern + "*.old"), key=lambda p: p.stat().st_mtime)
    if asides and not path.exists():
        os.replace(asides.pop(), path)
    for old in asides:
        _remove(old)


def _replace(tmp: Path, path: Path) -> None:
    """Move the finished ``tmp`` onto ``path`` so that a reader sees the old or the new object.

    A file is replaced atomically (``os.replace``). A zarr folder cannot be:
    the old folder is renamed aside, the new one renamed in, then the old one
    deleted; if the second rename fails the old folder is put back.
    """
    if not tmp.is_dir() or not path.exists():
        os.replace(tmp, path)
        return
    aside = _sibling(path, f"{uuid.uuid4().hex}.old")
    os.replace(path, aside)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.replace(aside, path)
        raise
    shutil.rmtree(aside, ignore_errors=True)  # a leftover is removed by the next save


def save(
    obj: xr.DataArray | xr.Dataset | xr.DataTree, path: str | Path, *, overwrite: bool = False
) -> Path:
    """Write a DataArray, Dataset or DataTree to netCDF (``.nc``) or zarr (``.zarr``).

    Coordinates, attrs (any JSON-able value), the name (or its absence) and
    the tree structure, with the order of its children, survive :func:`load`
    exactly, in both formats. Names netCDF or zarr would refuse or alter
    (``'::'``, a space in a coordinate name, ``'/'``, control characters,
    decomposed unicode...) are stored under safe names and restored.

    Nothing is lost on disk: the object is written to a temporary sibling
    (``.<name>.<random>.partial``) which then replaces ``path`` (atomically
    for a ``.nc`` file; a ``.zarr`` folder is swapped by two renames and put
    back on failure), so a write that fails leaves the old object intact and
    no temporary behind. Saves to one path are serialised by a lock file
    kept outside the folder (in the system's temporary directory, named by a
    hash of the resolved path, so the output folder holds only what was
    saved): of several processes saving with
    ``overwrite=False`` exactly one succeeds, the others raise
    ``FileExistsError``; with ``overwrite=True`` they write one after the
    other and the path holds one complete object.

    Parameters
    ----------
    obj : DataArray, Dataset or DataTree
        What to write.
    path : str or Path
        Ends in ``.nc`` or ``.zarr``; its folder must exist.
    overwrite : bool
        Replace an existing object at ``path``; otherwise it is never replaced.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    FileNotFoundError
        When the folder of ``path`` does not exist.
    FileExistsError
        When ``path`` exists and ``overwrite`` is False.
    SchemaError
        When an attr cannot be saved, or a name is not a str (nothing is written).

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from neurorep import data
    >>> r = data.responses(np.eye(3), stimulus=["a", "b", "c"], region="V1")
    >>> p = data.save(r, pathlib.Path(tempfile.mkdtemp()) / "r.nc")
    >>> data.load(p).identical(r)
    True
    """
    from filelock import FileLock

    path = Path(path)
    engine = _engine(path)
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(
            f"cannot save to {str(path)!r}: the folder {str(folder)!r} does not exist. Create it "
            f"first (pathlib.Path({str(folder)!r}).mkdir(parents=True)) or choose another path."
        )

    def refuse_existing() -> None:
        if path.exists() and not overwrite:
            raise FileExistsError(
                f"{str(path)!r} exists; pass overwrite=True to replace it, or choose another path."
            )

    refuse_existing()
    tree = _to_tree(obj)  # encoding errors raise here, before anything is written
    with FileLock(_lock_path(path)):
        _recover(path)
        refuse_existing()
        tmp = _sibling(path, f"{uuid.uuid4().hex}.partial")
        try:
            if engine == "netcdf":
                tree.to_netcdf(tmp)
            else:
                tree.to_zarr(tmp, zarr_format=2, consolidated=True)
            _replace(tmp, path)
        finally:
            if tmp.exists() or tmp.is_symlink():
                _remove(tmp)
    return path


def load(path: str | Path, *, chunks: Any = None) -> Any:
    """Read what :func:`save` wrote, as the same kind of object.

    Parameters
    ----------
    path : str or Path
        A ``.nc`` file or ``.zarr`` folder.
    chunks : optional
        Keep the values lazy (dask) with these chunks; default loads into memory.

    Returns
    -------
    DataArray, Dataset or DataTree
        What was saved.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib, xarray as xr
    >>> from neurorep import data
    >>> p = data.save(xr.DataArray(np.ones(3)), pathlib.Path(tempfile.mkdtemp()) / "x.zarr")
    >>> data.load(p).name is None
    True
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
    kind = tree.attrs.get(_OBJECT_ATTR, "DataTree")
    if kind == "DataArray":
        ds = _decode_dataset(tree.to_dataset())
        (var,) = ds.data_vars  # the one variable (named or not, in files of any version)
        da = ds[var]
        name = ds.attrs.get(_NAME_ATTR, var)
        da.name = None if name == _VALUES_VAR or ds.attrs.get(_NAMED_ATTR) is False else name
        return da
    if kind == "Dataset":
        ds = _decode_dataset(tree.to_dataset())
        ds.attrs.pop(_OBJECT_ATTR, None)
        return ds
    out = _decode_tree(tree)
    out.attrs.pop(_OBJECT_ATTR, None)
    return out
