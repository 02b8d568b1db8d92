"""BOLD5000 ROI responses (release 1 "ROIs" archive) from its own layout.

Layout (BOLD5000 release on figshare, BOLD5000_ROIs.zip, described at
bold5000-dataset.github.io and read the same way in its users' code):

* ``ROIs/CSI<n>/mat/CSI<n>_ROIs_TR<k>.mat`` (``k`` in 1..5 or ``34``, the mean
  of TRs 3 and 4): MATLAB v5 variables ``LHEarlyVis``, ``RHEarlyVis``,
  ``LHLOC``, ``RHLOC``, ``LHOPA``, ``RHOPA``, ``LHPPA``, ``RHPPA``,
  ``LHRSC``, ``RHRSC``, each ``(n_trials, n_voxels)``;
* ``ROIs/stim_lists/CSI0<n>_stim_lists.txt``: one image file name per trial,
  in the same order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from neurorep._core.errors import SchemaError
from neurorep.data import responses
from neurorep.datasets._common_tree import manifest_tree
from neurorep.datasets._fetch import default_data_home
from neurorep.datasets._lazy import UNIT_CHUNK, gather_trials, read_mat, require_files

BOLD5000_ROIS = ("EarlyVis", "LOC", "OPA", "PPA", "RSC")
_FIX = (
    "Download it with neurorep.datasets.fetch_bold5000(data_home, subjects=[...]), or download "
    "BOLD5000_ROIs.zip from the BOLD5000 release (figshare, linked from "
    "bold5000-dataset.github.io) and unpack it into data_home/bold5000/."
)


def load_bold5000(
    data_home: str | Path | None = None,
    *,
    subject: int = 1,
    tr: str = "34",
    average: bool = True,
    verify: bool = True,
) -> xr.DataTree:
    """BOLD5000 ROI voxel responses of one subject (CSI1..CSI4).

    The ``.mat`` files are MATLAB v5 (not chunked on disk), so they are read
    whole, then handed on as a dask array chunked along voxels.

    Parameters
    ----------
    data_home : path, optional
        Folder holding ``bold5000/ROIs/``.
    subject : int
        1..4 (CSI1..CSI4).
    tr : str
        Which TR file: ``"1"``..``"5"`` or ``"34"`` (mean of TRs 3-4, the
        release's recommended response).
    average : bool
        ``True``: ``(stimulus, unit)``, repeated images averaged (coord
        ``n_repetitions``); ``False``: ``(stimulus, repetition, unit)`` over
        the images shown the most times (others in ``attrs["dropped_stimuli"]``).
    verify : bool
        Accepted for :func:`neurorep.datasets.load` (no published checksums).

    Returns
    -------
    DataTree
        Member ``CSI<n>``: stimulus ids = image file names (coord ``source``:
        ``coco``, ``imagenet`` or ``scene`` from the name's form), unit coords
        ``region`` (EarlyVis, LOC, OPA, PPA, RSC), ``hemisphere``, ``subject``.

    Examples
    --------
    >>> from neurorep import datasets
    >>> tree = datasets.load_bold5000("~/data", subject=1)  # doctest: +SKIP
    """
    import dask.array as da

    if not 1 <= int(subject) <= 4:
        raise ValueError(f"subject must be 1..4 (CSI1..CSI4); got {subject!r}.")
    if str(tr) not in ("1", "2", "3", "4", "5", "34"):
        raise ValueError(f"tr must be one of '1'..'5' or '34'; got {tr!r}.")
    root = (Path(data_home).expanduser() if data_home is not None else default_data_home()) / "bold5000" / "ROIs"
    name = f"CSI{int(subject)}"
    mat_path = root / name / "mat" / f"{name}_ROIs_TR{tr}.mat"
    list_path = root / "stim_lists" / f"CSI0{int(subject)}_stim_lists.txt"
    require_files([mat_path, list_path], dataset="bold5000", fix=_FIX)
    stim = [line.strip() for line in list_path.read_text().splitlines() if line.strip()]
    sides = (("LH", "left"), ("RH", "right"))
    mat = read_mat(mat_path, dataset="bold5000", keys=[f"{h}{roi}" for roi in BOLD5000_ROIS
                                                        for h, _ in sides],
                   redownload="download the ROIs archive again", missing=_FIX)
    parts, region, hemi = [], [], []
    for roi in BOLD5000_ROIS:
        for h, side in sides:
            key = f"{h}{roi}"
            x = np.asarray(mat[key], dtype=np.float32)
            if x.ndim != 2 or x.shape[0] != len(stim):
                raise SchemaError(
                    f"bold5000: {key} in {str(mat_path)!r} has {x.shape[0]} trials but "
                    f"{str(list_path)!r} lists {len(stim)}; the two files do not belong to the "
                    f"same subject or one is incomplete. {_FIX}"
                )
            parts.append(x)
            region += [roi] * x.shape[1]
            hemi += [side] * x.shape[1]
    trials = da.from_array(np.concatenate(parts, axis=1), chunks=(-1, UNIT_CHUNK))
    values, ids, counts, attrs = gather_trials(trials, stim, average=average, dataset="bold5000")
    source = ["coco" if s.startswith("COCO_") else "imagenet" if s.startswith("n") and "_" in s else "scene" for s in ids]
    resp = responses(
        values,
        dims=("stimulus", "unit") if average else ("stimulus", "repetition", "unit"),
        stimulus=ids,
        unit=[f"{name}-{hm}-{r}-{i}" for i, (r, hm) in enumerate(zip(region, hemi, strict=True))],
        repetition=None if average else [f"rep{r}" for r in range(values.shape[1])],
        region=np.asarray(region, dtype=object),
        subject=name,
        stimulus_coords={"n_repetitions": counts, "source": source},
        unit_coords={"hemisphere": np.asarray(hemi, dtype=object)},
        attrs={**attrs, "tr": str(tr)},
    )
    return manifest_tree("bold5000", {name: resp})
