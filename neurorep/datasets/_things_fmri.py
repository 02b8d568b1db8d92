"""THINGS-fMRI single-trial responses (table format) from its own layout, lazily.

Layout (THINGS-data, figshare+ 10.25452/figshare.plus.20492835, ``betas_csv.zip``;
read this way in the authors' notebook ``MRI/notebooks/fmri_usage.ipynb`` of
github.com/ViCCo-Group/THINGS-data):

* ``betas_csv/sub-0N_ResponseData.h5``: a pandas DataFrame (key
  ``ResponseData``, PyTables "fixed" format): one row per voxel, a
  ``voxel_id`` column and one float column per trial, in trial order;
* ``betas_csv/sub-0N_VoxelMetadata.csv``: one row per voxel: ``voxel_id``,
  ``voxel_x``, ``voxel_y``, ``voxel_z`` (voxel indices), and 0/1 ROI columns
  (``V1``, ``FFA``, ``LOC`` ...) among others;
* ``betas_csv/sub-0N_StimulusMetadata.csv``: one row per trial: ``stimulus``
  (image file), ``concept``, ``session``, ``run``, ``trial_type``
  (``exp``, ``test``, ``catch``).

The DataFrame is read with h5py (no PyTables needed, nothing unpickled):
the float block ``blockK_values`` is ``(voxel, trial)`` on disk.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from neurorep._core.errors import SchemaError
from neurorep.data import responses
from neurorep.datasets._common_tree import manifest_tree
from neurorep.datasets._fetch import default_data_home
from neurorep.datasets._lazy import (
    check_h5,
    gather_trials,
    lazy_columns,
    require_files,
    split_units,
)

_FIX = (
    "Download it with neurorep.datasets.fetch_things_fmri(data_home, subjects=[...]), or "
    "download betas_csv.zip from THINGS-data (figshare+ 10.25452/figshare.plus.20492835) and "
    "unpack it into data_home/things_fmri/."
)


def _read_rows(path: str, key: str, rows: np.ndarray, idx: np.ndarray) -> np.ndarray:
    import h5py

    sel = rows[idx]
    lo, hi = int(sel.min()), int(sel.max()) + 1
    with h5py.File(path, "r") as f:
        block = f["ResponseData"][key][lo:hi]  # (voxel, trial)
    return np.asarray(block[sel - lo], dtype=np.float32).T


def load_things_fmri(
    data_home: str | Path | None = None,
    *,
    subject: int = 1,
    roi: str | None = None,
    trial_types: tuple[str, ...] = ("exp", "test"),
    average: bool = True,
    verify: bool = True,
) -> xr.DataTree:
    """THINGS-fMRI single-trial betas of one subject as lazy responses.

    Parameters
    ----------
    data_home : path, optional
        Folder holding ``things_fmri/betas_csv/``.
    subject : int
        1..3.
    roi : str, optional
        A 0/1 ROI column of the voxel metadata (``V1``, ``FFA`` ...): keep
        its voxels (``region`` = the ROI). Default every voxel (``region`` =
        ``"cortex"``).
    trial_types : tuple of str
        Trial types kept (``exp`` = training images shown once, ``test`` =
        the 100 test images shown 12 times, ``catch``).
    average : bool
        ``True``: ``(stimulus, unit)`` means over repeated trials (coord
        ``n_repetitions``); ``False``: ``(stimulus, repetition, unit)`` over
        the images shown the most times (the test images when ``test`` is
        kept; others in ``attrs["dropped_stimuli"]``).
    verify : bool
        Accepted for :func:`neurorep.datasets.load` (no published checksums).

    Returns
    -------
    DataTree
        Member ``sub-0N``: stimulus ids = image file names, coords
        ``concept``, ``split`` (train for ``exp``, test, catch),
        ``n_repetitions``; unit coords ``voxel_id``, ``i, j, k``
        (``voxel_x/y/z``), ``region``, ``subject``.

    Raises
    ------
    MissingDataError, CorruptFileError, SchemaError
        Missing or truncated files; voxel or trial counts that disagree
        between the three files; an unknown ROI column.

    Examples
    --------
    >>> from neurorep import datasets
    >>> tree = datasets.load_things_fmri("~/data", subject=1, roi="V1")  # doctest: +SKIP
    """
    import h5py

    if not 1 <= int(subject) <= 3:
        raise ValueError(f"subject must be 1..3; got {subject!r}.")
    folder = (Path(data_home).expanduser() if data_home is not None else default_data_home()) / "things_fmri" / "betas_csv"
    sub = f"sub-{int(subject):02d}"
    h5 = folder / f"{sub}_ResponseData.h5"
    vox_csv = folder / f"{sub}_VoxelMetadata.csv"
    stim_csv = folder / f"{sub}_StimulusMetadata.csv"
    require_files([h5, vox_csv, stim_csv], dataset="things_fmri", fix=_FIX)
    check_h5(h5, dataset="things_fmri")
    with h5py.File(h5, "r") as f:
        if "ResponseData" not in f:
            raise SchemaError(f"things_fmri: {str(h5)!r} has no 'ResponseData' table ({list(f)}).")
        g = f["ResponseData"]
        floats = [
            k for k in g if k.startswith("block") and k.endswith("_values") and g[k].dtype.kind == "f"
        ]
        if len(floats) != 1:
            raise SchemaError(
                f"things_fmri: {str(h5)!r} holds {len(floats)} float blocks; the layout has one "
                f"(the trials) next to the integer voxel_id column."
            )
        key = floats[0]
        n_vox, n_trials = (int(s) for s in g[key].shape)
    voxels = pd.read_csv(vox_csv)
    stim = pd.read_csv(stim_csv)
    if len(voxels) != n_vox:
        raise SchemaError(
            f"things_fmri: {str(h5)!r} has {n_vox} voxel rows, {str(vox_csv)!r} {len(voxels)}; "
            f"the files are from different subjects or one is incomplete. {_FIX}"
        )
    if len(stim) != n_trials:
        raise SchemaError(
            f"things_fmri: {str(h5)!r} has {n_trials} trial columns, {str(stim_csv)!r} "
            f"{len(stim)} rows; the files are from different subjects or one is incomplete. {_FIX}"
        )
    if roi is not None:
        if roi not in voxels.columns:
            roi_cols = [c for c in voxels.columns if set(pd.unique(voxels[c])) <= {0, 1}]
            raise SchemaError(f"things_fmri: no ROI column {roi!r} in {str(vox_csv)!r}; ROI columns: {roi_cols}.")
        rows = np.flatnonzero(voxels[roi].to_numpy() > 0)
        if rows.size == 0:
            raise SchemaError(f"things_fmri: ROI {roi!r} has no voxel in {str(vox_csv)!r}.")
    else:
        rows = np.arange(n_vox)
    read = functools.partial(_read_rows, str(h5), key, rows)
    trials = lazy_columns(n_trials, split_units(rows.size), read, dtype=np.float32)
    keep = np.flatnonzero(stim["trial_type"].isin(trial_types).to_numpy())
    if keep.size == 0:
        raise SchemaError(
            f"things_fmri: no trial of types {trial_types} in {str(stim_csv)!r} (types: "
            f"{sorted(stim['trial_type'].unique())})."
        )
    trials = trials[keep]
    kept = stim.iloc[keep]
    values, ids, counts, attrs = gather_trials(
        trials, kept["stimulus"].astype(str).tolist(), average=average, dataset="things_fmri"
    )
    first = kept.drop_duplicates("stimulus").set_index("stimulus").loc[ids]
    split_of = {"exp": "train", "test": "test", "catch": "catch"}
    sel = voxels.iloc[rows]
    unit_coords: dict[str, Any] = {"voxel_id": sel["voxel_id"].to_numpy()}
    for c, name in (("voxel_x", "i"), ("voxel_y", "j"), ("voxel_z", "k")):
        if c in sel:
            unit_coords[name] = sel[c].to_numpy()
    resp = responses(
        values,
        dims=("stimulus", "unit") if average else ("stimulus", "repetition", "unit"),
        stimulus=ids,
        unit=[f"{sub}-v{v}" for v in sel["voxel_id"].to_numpy()],
        repetition=None if average else [f"rep{r}" for r in range(values.shape[1])],
        region=roi or "cortex",
        subject=sub,
        stimulus_coords={
            "concept": first["concept"].astype(str).to_numpy() if "concept" in first else ids,
            "split": [split_of.get(t, str(t)) for t in first["trial_type"]],
            "n_repetitions": counts,
        },
        unit_coords=unit_coords,
        attrs=attrs,
    )
    return manifest_tree("things_fmri", {sub: resp})
