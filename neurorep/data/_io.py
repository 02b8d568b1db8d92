"""netCDF and zarr round trips that keep coords, attrs and the DataTree structure."""

from __future__ import annotations

import glob
import hashlib
import math
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import xarray as xr

from neurorep._core.attrs import (  # the codec lives in the kernel package
    _NAME_ATTR,
    _NAMED_ATTR,
    _OBJECT_ATTR,
    _VALUES_VAR,
    _decode_dataset,
    _decode_tree,
    _encode_dataset,
    _encode_tree,
    _encode_value,
    _stored_name,
)


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


#: The smallest zarr chunk :func:`save` writes from dask-backed values, bytes (unless the
#: whole variable is smaller): runs of smaller dask chunks are stored as one chunk. A
#: per-unit score in chunks of 1000 units is 8 KB a chunk; stored as they are, the five
#: fits of ``benchmarks/bench_scale.py`` (4000 x 40000) were 1,640 tasks and files
#: written in 7.7 s, merged 130 in 2.1 s (the in-memory write: 2.0 s).
MIN_STORED_CHUNK = 4 << 20


def _merged_chunks(chunks: tuple[tuple[int, ...], ...], itemsize: int,
                   floor: int | None = None) -> tuple[tuple[int, ...], ...]:
    """Dask ``chunks`` with runs of consecutive chunks merged until a chunk holds at least
    ``floor`` bytes (or a dim is one chunk), the dims with the most chunks first; each
    merged chunk is a whole number of the original ones and under twice ``floor`` (or
    the original chunk) in size. ``floor``: :data:`MIN_STORED_CHUNK` by default."""
    floor = MIN_STORED_CHUNK if floor is None else floor
    out = [tuple(c) for c in chunks]
    size = itemsize * math.prod(max(c, default=0) for c in out)
    for d in sorted(range(len(out)), key=lambda d: -len(out[d])):
        if size >= floor or size == 0:
            break
        if len(out[d]) < 2:
            continue
        f = min(len(out[d]), -(-floor // size))
        c = out[d]
        out[d] = tuple(sum(c[k:k + f]) for k in range(0, len(c), f))
        size = size // max(c) * max(out[d])
    return tuple(out)


def _merge_small_chunks(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with the small chunks of its dask-backed variables merged by
    :func:`_merged_chunks` (a zarr chunk encoding they carried dropped: the stored chunks
    are the merged ones, each a run of whole computed chunks)."""
    ds = ds.copy()
    for name, var in ds.variables.items():
        if var.chunks is None:
            continue
        new = _merged_chunks(var.chunks, var.dtype.itemsize)
        if new != tuple(var.chunks):
            merged = var.chunk(dict(zip(var.dims, new, strict=True)))
            for key in ("chunks", "preferred_chunks"):
                merged.encoding.pop(key, None)
            ds[name] = merged
    return ds


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

    Dask-backed values are written chunk by chunk, never gathered. In zarr the
    stored chunks are the dask chunks, except that runs of chunks smaller than
    :data:`MIN_STORED_CHUNK` (4 MiB) are stored as one (each stored chunk a
    whole number of the dask ones along each dim, so the boundaries are those
    of the computation): a per-unit score computed in 1000-unit chunks is
    not stored as hundreds of 8 KB files. ``load(path, chunks={})`` gives the
    stored chunks; pass ``chunks=`` to read others.

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
                tree = xr.DataTree.from_dict({  # every node on its own, the order kept
                    node.path: _merge_small_chunks(node.to_dataset(inherit=False))
                    for node in tree.subtree})
                tree.to_zarr(tmp, zarr_format=2, consolidated=True)
            _replace(tmp, path)
        finally:
            if tmp.exists() or tmp.is_symlink():
                _remove_leftover(tmp)
    return path


def _remove_leftover(tmp: Path) -> None:
    """Remove an unfinished temporary without masking the error that left it behind.

    A failed zarr write can leave the store's writer threads finishing their chunks
    for a moment, so a first removal may find the folder refilled ("Directory not
    empty"): retry briefly; if it still fails, leave it for the next save of this path,
    whose ``_recover`` removes it.
    """
    for attempt in range(5):
        try:
            _remove(tmp)
            return
        except OSError:
            time.sleep(0.05 * (attempt + 1))


def _eager_coords(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with its lazy coordinates of at most one dimension read into memory."""
    lazy = {k: v.load() for k, v in ds.coords.items() if v.chunks is not None and v.ndim <= 1}
    return ds.assign_coords(lazy) if lazy else ds


def load(path: str | Path, *, chunks: Any = None) -> Any:
    """Read what :func:`save` wrote, as the same kind of object.

    Parameters
    ----------
    path : str or Path
        A ``.nc`` file or ``.zarr`` folder.
    chunks : optional
        Keep the values lazy (dask) with these chunks; default loads into memory.
        Coordinates of one dimension (stimulus ids, unit labels, regions) are
        read into memory either way: they are small, and alignment by id and
        selection read them again and again.

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
    else:
        tree = tree.map_over_datasets(_eager_coords)
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
