"""Shared machinery of the large-dataset loaders: lazy (dask) reads, file checks, trials.

Every loader of a large dataset builds its responses from the files of the
dataset's own layout without reading the values: one dask task per chunk of
units opens the file, reads that chunk and closes it again (no open handle is
kept, so the graph runs on a ``dask.distributed`` cluster too). Checks that
need only headers (a missing session, a truncated file, a mask from another
space) run before anything is returned, so a loader never hands back a
half-loaded object.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurorep._core.errors import CorruptFileError, MissingDataError, SchemaError

# units per dask chunk: a few MB per chunk for a few thousand trials of float32
UNIT_CHUNK = 4096


def require_files(paths: Sequence[Path], *, dataset: str, fix: str) -> None:
    """Raise MissingDataError (a FileNotFoundError) listing every missing file and how to get it."""
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        shown = missing[:8] + ([f"... ({len(missing) - 8} more)"] if len(missing) > 8 else [])
        raise MissingDataError(
            f"{dataset}: {len(missing)} file(s) of the dataset's layout are missing: {shown}. "
            f"{fix}"
        )


def truncated(path: Path, *, dataset: str, detail: str) -> CorruptFileError:
    return CorruptFileError(
        f"{dataset}: {str(path)!r} is truncated or damaged ({detail}). The download did not "
        f"finish: delete the file and download it again from the dataset's source."
    )


def read_mat(
    path: Path, *, dataset: str, keys: Sequence[str], redownload: str, missing: str
) -> dict[str, Any]:
    """``scipy.io.loadmat`` of a dataset file, checked: a file scipy cannot read raises a
    clear CorruptFileError (``redownload``: how to get it again), a file without one of ``keys`` a
    SchemaError that lists the variables it has, then ``missing`` (what that means)."""
    import scipy.io as sio

    try:
        mat: dict[str, Any] = sio.loadmat(path)
    except (ValueError, OSError, TypeError) as err:
        raise CorruptFileError(
            f"{dataset}: {str(path)!r} is truncated or damaged ({err}). Delete it and "
            f"{redownload}."
        ) from err
    for key in keys:
        if key not in mat:
            raise SchemaError(
                f"{dataset}: {str(path)!r} has no variable {key!r} (has "
                f"{sorted(k for k in mat if not k.startswith('__'))}); {missing}"
            )
    return mat


def check_h5(path: Path, *, dataset: str) -> None:
    """Open an HDF5 file once (headers only); a truncated file raises a clear CorruptFileError."""
    import h5py

    try:
        with h5py.File(path, "r"):
            pass
    except OSError as err:
        raise truncated(path, dataset=dataset, detail=f"h5py: {err}") from err


def load_image(path: Any) -> Any:
    """``nibabel.load`` (typed ``Any``: the loaders use NIfTI and MGH image attributes).

    A file nibabel cannot read (a header cut short, not an image at all) raises
    CorruptFileError naming the file; a missing file stays FileNotFoundError.
    """
    import nibabel as nib

    try:
        return nib.load(path)
    except FileNotFoundError:
        raise
    except Exception as err:  # nibabel raises ImageFileError, EOFError, ValueError ...
        raise CorruptFileError(
            f"{str(path)!r} is truncated or damaged (nibabel: {type(err).__name__}: {err}). "
            f"The download did not finish or the file is not an image of the layout: delete "
            f"it and download it again from the dataset's source."
        ) from err


def check_image_complete(path: Path, img: Any, *, dataset: str) -> None:
    """Check that an image file holds all the bytes its header promises.

    Uncompressed files (``.nii``, ``.mgh``) are compared with the header's
    data offset + shape x itemsize; gzip files (``.nii.gz``, ``.mgz``) with
    the uncompressed size stored in the gzip trailer (modulo 2**32), which a
    cut download does not have. Only headers and the last 4 bytes are read.
    """
    header = img.header
    shape = tuple(int(s) for s in img.shape)
    itemsize = np.dtype(header.get_data_dtype()).itemsize
    offset = int(getattr(img.dataobj, "offset", 0))
    expected = offset + int(np.prod(shape)) * itemsize
    if path.name.endswith((".gz", ".mgz")):
        with open(path, "rb") as f:
            if f.read(2) != b"\x1f\x8b":
                raise truncated(path, dataset=dataset, detail="not a gzip file")
            f.seek(-4, 2)
            isize = struct.unpack("<I", f.read(4))[0]
        # the gzip trailer holds the uncompressed size mod 2**32; a cut file ends in
        # arbitrary compressed bytes instead. NIfTI has nothing after the data, MGH a
        # short footer of optional tags.
        slack = 0 if path.name.endswith(".nii.gz") else 4096
        if (isize - expected) % (1 << 32) > slack:
            raise truncated(
                path,
                dataset=dataset,
                detail=f"the gzip trailer records {isize} uncompressed bytes, the header "
                f"needs {expected}",
            )
    elif path.stat().st_size < expected:
        raise truncated(
            path,
            dataset=dataset,
            detail=f"{path.stat().st_size} bytes on disk, the header needs {expected}",
        )


def lazy_columns(
    n_rows: int,
    unit_chunks: Sequence[np.ndarray],
    read: Callable[[np.ndarray], np.ndarray],
    *,
    dtype: Any,
) -> Any:
    """A dask array ``(n_rows, sum(len(c)))``: one task per chunk of columns.

    ``read(idx)`` returns the ``(n_rows, len(idx))`` block for the column
    positions ``idx``; it must open and close its file itself.
    """
    import dask
    import dask.array as da

    blocks = [
        da.from_delayed(dask.delayed(read, pure=True)(idx), shape=(n_rows, len(idx)), dtype=dtype)
        for idx in unit_chunks
    ]
    return da.concatenate(blocks, axis=1)


def split_units(n: int, chunk: int = UNIT_CHUNK) -> list[np.ndarray]:
    return [np.arange(lo, min(n, lo + chunk)) for lo in range(0, n, chunk)]


def to_float(block: np.ndarray, scale: float | None) -> np.ndarray:
    out = np.asarray(block, dtype=np.float32)
    if scale is not None:
        out = out / np.float32(scale)
    return out


def gather_trials(
    trials: Any,
    trial_stimulus: Sequence[str],
    *,
    average: bool,
    dataset: str,
) -> tuple[Any, list[str], np.ndarray, dict[str, Any]]:
    """Arrange a lazy ``(trial, unit)`` array by stimulus id.

    Returns ``(values, stimulus_ids, n_repetitions, attrs)``. With
    ``average=True`` the values are ``(stimulus, unit)``: the mean over each
    stimulus' trials. With ``average=False`` they are ``(stimulus,
    repetition, unit)`` over the stimuli shown the largest number of times
    (the stimuli shown fewer times are listed in ``attrs['dropped_stimuli']``
    so nothing is silently lost). Stimuli keep their order of first
    presentation.
    """
    import dask.array as da

    ids = np.asarray([str(s) for s in trial_stimulus])
    if ids.size != trials.shape[0]:
        raise SchemaError(
            f"{dataset}: {trials.shape[0]} trials of responses but {ids.size} trials in the "
            f"design; the files do not belong together."
        )
    uniq, first, inverse, counts = np.unique(
        ids, return_index=True, return_inverse=True, return_counts=True
    )
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    stim_of_trial = rank[inverse]
    counts = counts[order]
    stimuli = [str(s) for s in uniq[order]]
    r_max = int(counts.max())
    index = np.full((len(stimuli), r_max), -1, dtype=np.int64)
    fill = np.zeros(len(stimuli), dtype=np.int64)
    for t, s in enumerate(stim_of_trial):
        index[s, fill[s]] = t
        fill[s] += 1
    trials = trials.rechunk({0: -1})
    attrs: dict[str, Any] = {}
    if average:
        # padding rows are zeros and the mean divides by each stimulus' own trial count, so a
        # NaN in the data stays NaN (it is not averaged away)
        zero_row = da.zeros((1, trials.shape[1]), dtype=trials.dtype, chunks=(1, trials.chunks[1]))
        padded = da.concatenate([trials, zero_row], axis=0)
        take = np.where(index < 0, trials.shape[0], index)
        stacked = padded[take.ravel()].reshape((len(stimuli), r_max, trials.shape[1]))
        scale = (1.0 / counts).astype(trials.dtype)[:, None]
        values = stacked.sum(axis=1) * scale if r_max > 1 else stacked[:, 0, :]
        return values, stimuli, counts, attrs
    keep = counts == r_max
    if not keep.all():
        attrs["dropped_stimuli"] = [s for s, k in zip(stimuli, keep, strict=True) if not k]
        attrs["note"] = (
            f"average=False keeps the {int(keep.sum())} stimuli shown {r_max} times; "
            f"{int((~keep).sum())} stimuli shown fewer times are listed in dropped_stimuli "
            f"(average=True keeps every stimulus)."
        )
    take = index[keep]
    values = trials[take.ravel()].reshape((int(keep.sum()), r_max, trials.shape[1]))
    return values, [s for s, k in zip(stimuli, keep, strict=True) if k], counts[keep], attrs
