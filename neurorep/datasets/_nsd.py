"""The Natural Scenes Dataset (NSD) from its own file layout, lazily.

Layout (NSD Data Manual, cvnlab.slite.page: "Functional data (NSD)",
"Experiments", "Technical notes"; read in NSD's reader code, github.com/cvnlab/nsdcode):

* ``nsddata/experiments/nsd/nsd_expdesign.mat``: ``masterordering`` (1 x 30000,
  1-based positions into a subject's 10,000 images, trial by trial),
  ``subjectim`` (8 x 10000, 1-based 73k image ids), ``sharedix`` (1 x 1000,
  1-based 73k ids of the shared images). Trial ``t`` of subject ``s`` shows
  73k image ``subjectim[s, masterordering[t] - 1]``; sessions hold 750 trials.
* ``nsddata/experiments/nsd/nsd_stim_info_merged.csv``: one row per 73k image,
  ``nsdId`` (0-based), ``cocoId``, ``cocoSplit``, ``shared1000``.
* ``nsddata_stimuli/stimuli/nsd/annotations/captions_{train,val}2017.json``:
  COCO caption annotations.
* ``nsddata_betas/ppdata/subjAA/func1pt8mm/<version>/betas_sessionBB.hdf5``
  (``/betas``: X x Y x Z x 750 in MATLAB order, so ``(750, Z, Y, X)`` through
  h5py; int16) or ``betas_sessionBB.nii.gz`` (X x Y x Z x 750, int16); the
  manual: "the betas have been multiplied by 300 and converted to int16 ...
  divide by 300" to get percent signal change.
* ``nsddata_betas/ppdata/subjAA/fsaverage/<version>/[lh,rh].betas_sessionBB.mgh``
  (163842 x 1 x 1 x 750, float32, already percent signal change).
* ``ncsnr.nii.gz`` / ``[lh,rh].ncsnr.mgh`` next to the betas.
* ROIs: ``nsddata/ppdata/subjAA/func1pt8mm/roi/<roi>.nii.gz`` and
  ``nsddata/freesurfer/fsaverage/label/[lh,rh].<roi>.mgz`` (-1 outside the
  brain, 0 unlabelled, 1..N labels), names in ``<roi>.mgz.ctab`` under
  ``nsddata/freesurfer/<subjAA|fsaverage>/label/``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from neurorep._core.errors import SchemaError, check_option
from neurorep.data import responses, tree_from_members
from neurorep.datasets._fetch import default_data_home
from neurorep.datasets._lazy import (
    check_h5,
    check_image_complete,
    gather_trials,
    lazy_columns,
    load_image,
    read_mat,
    require_files,
    split_units,
    to_float,
)
from neurorep.datasets._manifest import get_manifest

NSD_SESSIONS = {1: 40, 2: 40, 3: 32, 4: 30, 5: 40, 6: 32, 7: 40, 8: 30}
TRIALS_PER_SESSION = 750
FSAVERAGE_VERTICES = 163842
INT16_SCALE = 300.0
ROIS = ("nsdgeneral", "streams", "prf-visualrois", "floc-faces", "floc-places", "floc-bodies", "floc-words")
HEMIS = {"lh": "left", "rh": "right"}


def _fix(subject: str) -> str:
    return (
        f"Download them with neurorep.datasets.fetch_nsd(data_home, subjects=[{int(subject[4:])}], "
        f"sessions=[...]) (or from the natural-scenes-dataset bucket: aws s3 sync "
        f"s3://natural-scenes-dataset/<same relative path> ..., keeping NSD's folder layout "
        f"under data_home/nsd/), or load a subset with sessions=[...] ({subject})."
    )


def _ctab(path: Path, roi: str) -> dict[int, str]:
    """Label names of an NSD ``.mgz.ctab`` (``<value> <name>`` per line); numbered if absent."""
    if not path.is_file():
        return {}
    names: dict[int, str] = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].lstrip("-").isdigit():
            names[int(parts[0])] = parts[1]
    return names


def _label_names(values: np.ndarray, names: dict[int, str], roi: str) -> np.ndarray:
    return np.array([names.get(int(v), f"{roi}_{int(v)}") for v in values], dtype=object)


def _read_h5_volume(path: str, ijk: np.ndarray, scale: float | None, idx: np.ndarray) -> np.ndarray:
    import h5py

    sel = ijk[idx]
    i0, i1 = int(sel[:, 0].min()), int(sel[:, 0].max()) + 1
    with h5py.File(path, "r") as f:
        slab = f["betas"][:, :, :, i0:i1]  # (trial, Z, Y, X-range)
    return to_float(slab[:, sel[:, 2], sel[:, 1], sel[:, 0] - i0], scale)


def _read_nifti_volume(path: str, ijk: np.ndarray, scale: float | None, idx: np.ndarray) -> np.ndarray:

    sel = ijk[idx]
    img = load_image(path)
    i0, i1 = int(sel[:, 0].min()), int(sel[:, 0].max()) + 1
    slab = np.asarray(img.dataobj[i0:i1])  # (X-range, Y, Z, trial)
    return to_float(slab[sel[:, 0] - i0, sel[:, 1], sel[:, 2]].T, scale)


def _read_mgh(path: str, vertices: np.ndarray, scale: float | None, idx: np.ndarray) -> np.ndarray:

    v = vertices[idx]
    v0, v1 = int(v.min()), int(v.max()) + 1
    block = np.asarray(load_image(path).dataobj[v0:v1]).reshape(v1 - v0, -1)  # (vertex, trial)
    return to_float(block[v - v0].T, scale)


def _design(root: Path, subject: int, n_sessions: int) -> tuple[np.ndarray, np.ndarray]:
    path = root / "nsddata" / "experiments" / "nsd" / "nsd_expdesign.mat"
    require_files([path], dataset="nsd", fix=_fix(f"subj{subject:02d}"))
    design = read_mat(
        path, dataset="nsd", keys=("masterordering", "subjectim", "sharedix"),
        redownload="download it again (nsddata/experiments/nsd/nsd_expdesign.mat)",
        missing="it is not NSD's experiment design.",
    )
    order = np.asarray(design["masterordering"]).ravel().astype(np.int64)
    subjectim = np.asarray(design["subjectim"]).astype(np.int64)
    shared = np.asarray(design["sharedix"]).ravel().astype(np.int64)
    if subjectim.shape[0] < subject:
        raise SchemaError(
            f"nsd: {str(path)!r} has subjectim for {subjectim.shape[0]} subjects; subject "
            f"{subject} is not in it. The file is not NSD's experiment design."
        )
    n_trials = n_sessions * TRIALS_PER_SESSION
    if order.size < n_trials:
        raise SchemaError(
            f"nsd: {str(path)!r} orders {order.size} trials; {n_sessions} sessions need "
            f"{n_trials}. The file is not NSD's experiment design."
        )
    nsd_id = subjectim[subject - 1, order[:n_trials] - 1] - 1  # 0-based nsdId, as in the csv
    return nsd_id, shared - 1


def _stimulus_info(root: Path, nsd_ids: np.ndarray, captions: bool) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {"nsd_id": nsd_ids.astype(np.int64)}
    csv = root / "nsddata" / "experiments" / "nsd" / "nsd_stim_info_merged.csv"
    if not csv.is_file():
        if captions:
            require_files(
                [csv], dataset="nsd",
                fix="It maps NSD images to COCO ids for captions; download it with the design "
                "file, or pass captions=False.",
            )
        return out
    info = pd.read_csv(csv)
    if "nsdId" not in info.columns or "cocoId" not in info.columns:
        raise SchemaError(
            f"nsd: {str(csv)!r} lacks the nsdId / cocoId columns (has {list(info.columns)[:8]}); "
            f"it is not NSD's nsd_stim_info_merged.csv."
        )
    info = info.set_index("nsdId")
    missing = sorted(set(nsd_ids.tolist()) - set(info.index.tolist()))
    if missing:
        raise SchemaError(
            f"nsd: {str(csv)!r} has no row for nsdId {missing[:5]}; download the complete file."
        )
    rows = info.loc[nsd_ids]
    out["coco_id"] = rows["cocoId"].to_numpy(np.int64)
    if "cocoSplit" in rows:
        out["coco_split"] = rows["cocoSplit"].astype(str).to_numpy()
    if "shared1000" in rows:
        out["shared1000"] = rows["shared1000"].astype(bool).to_numpy()
    if captions:
        folder = root / "nsddata_stimuli" / "stimuli" / "nsd" / "annotations"
        files = [folder / "captions_train2017.json", folder / "captions_val2017.json"]
        require_files(
            files, dataset="nsd",
            fix="NSD keeps COCO's caption annotations there (annotations_trainval2017 from "
            "cocodataset.org); download them, or pass captions=False.",
        )
        by_image: dict[int, list[tuple[int, str]]] = {}
        for f in files:
            for ann in json.loads(f.read_text())["annotations"]:
                by_image.setdefault(int(ann["image_id"]), []).append((int(ann["id"]), ann["caption"]))
        texts, alls = [], []
        for coco in out["coco_id"]:
            caps = [c.strip() for _, c in sorted(by_image.get(int(coco), []))]
            if not caps:
                raise SchemaError(
                    f"nsd: no COCO caption for cocoId {int(coco)} in {[str(f) for f in files]}; "
                    f"the annotation files are incomplete."
                )
            texts.append(caps[0])
            alls.append(" | ".join(caps))
        out["text"] = np.array(texts, dtype=object)
        out["captions"] = np.array(alls, dtype=object)
    return out


def load_nsd(
    data_home: str | Path | None = None,
    *,
    subject: int = 1,
    space: Literal["func1pt8mm", "fsaverage"] = "func1pt8mm",
    fmt: Literal["hdf5", "nifti"] = "hdf5",
    sessions: list[int] | None = None,
    roi: str | None = "nsdgeneral",
    beta_version: str = "betas_fithrf_GLMdenoise_RR",
    stimuli: Literal["all", "shared"] = "all",
    average: bool = True,
    captions: bool = True,
    verify: bool = True,
) -> xr.DataTree:
    """NSD single-trial betas of one subject as lazy (dask) responses.

    Reads NSD's own layout under ``data_home/nsd/`` (see the module
    docstring for the files and the NSD Data Manual pages they come from).
    Nothing is read but headers, the design and the masks: the betas stay
    on disk as a dask array chunked along units (one task per chunk of
    voxels or vertices per session), so ``.compute()``, encoding or RDMs read
    only what they need.

    Parameters
    ----------
    data_home : path, optional
        Folder holding ``nsd/`` (NSD's ``nsddata``, ``nsddata_betas``,
        ``nsddata_stimuli`` folders).
    subject : int
        1..8.
    space : {"func1pt8mm", "fsaverage"}
        The 1.8 mm native volume (int16 betas, divided by 300 to percent
        signal change as the manual says) or the fsaverage surface (float32
        ``.mgh``, already in percent signal change).
    fmt : {"hdf5", "nifti"}
        Volume betas from ``betas_sessionBB.hdf5`` (random access per voxel,
        recommended) or ``.nii.gz`` (each chunk decompresses the session).
    sessions : list of int, optional
        1-based sessions to read; default every session the subject
        completed (40, 40, 32, 30, 40, 32, 40, 30).
    roi : str or None
        An NSD ROI file (``nsdgeneral``, ``streams``, ``prf-visualrois``,
        ``floc-*``): units are its labelled voxels / vertices (value > 0),
        with the label names as the ``region`` coord. ``None`` on fsaverage:
        every vertex. A volume needs a ROI (it gives the grid).
    beta_version : str
        NSD's beta folder (``betas_fithrf_GLMdenoise_RR``, ``betas_fithrf``,
        ``betas_assumehrf``).
    stimuli : {"all", "shared"}
        Every image shown, or only the shared 1,000 (``sharedix``).
    average : bool
        ``True``: ``(stimulus, unit)`` means over each image's trials (coord
        ``n_repetitions``). ``False``: ``(stimulus, repetition, unit)`` over
        the images shown the most times (others listed in
        ``attrs["dropped_stimuli"]``).
    captions : bool
        Add COCO captions: stimulus coords ``text`` (the first caption) and
        ``captions`` (all, ``" | "``-joined), from
        ``nsd_stim_info_merged.csv`` and COCO's caption files.
    verify : bool
        Accepted for :func:`neurorep.datasets.load`; NSD publishes no
        checksums, so file completeness is checked from headers instead.

    Returns
    -------
    DataTree
        Member ``subjAA``: responses with stimulus ids ``nsd-NNNNN`` (0-based
        ``nsdId``) and coords ``nsd_id``, ``coco_id``, ``coco_split``,
        ``shared1000``, ``n_repetitions`` (+ ``text``, ``captions``); unit
        coords ``region``, ``subject``, ``ncsnr`` (when the file is there) and
        ``i, j, k, x, y, z`` with attrs ``affine``, ``volume_shape`` (volume) or
        ``vertex``, ``hemisphere`` with attr ``mesh="fsaverage"`` (surface).

    Raises
    ------
    MissingDataError
        A file of the layout is missing (a session not downloaded), naming
        every missing file and how to get it (a ``FileNotFoundError``).
    CorruptFileError
        A file is truncated (an interrupted download; an ``OSError``).
    SchemaError
        A ROI mask from another space (grid or vertex count), a subject
        without the shared images, hemispheres that disagree.

    Examples
    --------
    >>> from neurorep import datasets
    >>> tree = datasets.load_nsd("~/data", subject=1, sessions=[1, 2])  # doctest: +SKIP
    >>> resp = tree["subj01"].to_dataset()["responses"]  # doctest: +SKIP
    """
    check_option("space", space, ("func1pt8mm", "fsaverage"))
    check_option("fmt", fmt, ("hdf5", "nifti"))
    check_option("stimuli", stimuli, ("all", "shared"))
    if subject not in NSD_SESSIONS:
        raise ValueError(f"subject must be one of {sorted(NSD_SESSIONS)}; got {subject!r}.")
    root = (Path(data_home).expanduser() if data_home is not None else default_data_home()) / "nsd"
    subj = f"subj{subject:02d}"
    n_done = NSD_SESSIONS[subject]
    if sessions is None:
        sessions = list(range(1, n_done + 1))
    bad = [s for s in sessions if not 1 <= int(s) <= n_done]
    if bad or not sessions:
        raise ValueError(
            f"sessions must be 1..{n_done} for {subj} (it completed {n_done}); got {sessions!r}."
        )
    sessions = sorted(int(s) for s in sessions)
    betas_dir = root / "nsddata_betas" / "ppdata" / subj / space / beta_version

    if space == "fsaverage":
        files = [betas_dir / f"{h}.betas_session{s:02d}.mgh" for s in sessions for h in HEMIS]
    else:
        ext = "hdf5" if fmt == "hdf5" else "nii.gz"
        files = [betas_dir / f"betas_session{s:02d}.{ext}" for s in sessions]
    require_files(files, dataset="nsd", fix=_fix(subj))

    nsd_id_all, shared = _design(root, subject, n_done)
    trial_ids = np.concatenate(
        [nsd_id_all[(s - 1) * TRIALS_PER_SESSION : s * TRIALS_PER_SESSION] for s in sessions]
    )
    if stimuli == "shared":
        keep_trials = np.isin(trial_ids, shared)
        if not keep_trials.any():
            raise SchemaError(
                f"nsd: {subj}, sessions {sessions}: none of the shared 1,000 images was shown "
                f"in these sessions (design: {str(root / 'nsddata/experiments/nsd/nsd_expdesign.mat')!r}, "
                f"sharedix). Load more sessions, or stimuli='all'."
            )
    else:
        keep_trials = np.ones(trial_ids.size, dtype=bool)

    if space == "fsaverage":
        trials, unit_coords, attrs = _surface_trials(root, betas_dir, subj, sessions, roi)
    else:
        if roi is None:
            raise ValueError(
                "nsd: a func1pt8mm load needs roi= (e.g. 'nsdgeneral'): the ROI file gives the "
                "voxels and their grid."
            )
        trials, unit_coords, attrs = _volume_trials(root, betas_dir, subj, sessions, roi, fmt)

    trials = trials[np.flatnonzero(keep_trials)] if not keep_trials.all() else trials
    stim_ids = [f"nsd-{i:05d}" for i in trial_ids[keep_trials]]
    values, stim_order, counts, extra = gather_trials(
        trials, stim_ids, average=average, dataset="nsd"
    )
    nsd_ids = np.array([int(s.split("-")[1]) for s in stim_order])
    stim_coords: dict[str, Any] = _stimulus_info(root, nsd_ids, captions)
    stim_coords["n_repetitions"] = counts
    n_shared = int(np.isin(nsd_ids, shared).sum())
    attrs.update(extra)
    attrs.update(
        {
            "dataset": "nsd",
            "beta_version": beta_version,
            "sessions": sessions,
            "units": "percent signal change",
            "n_shared1000_present": n_shared,
        }
    )
    unit_ids = unit_coords.pop("unit")
    region = unit_coords.pop("region")
    resp = responses(
        values,
        dims=("stimulus", "unit") if average else ("stimulus", "repetition", "unit"),
        stimulus=stim_order,
        unit=unit_ids,
        repetition=None if average else [f"rep{r}" for r in range(values.shape[1])],
        region=region,
        subject=subj,
        stimulus_coords=stim_coords,
        unit_coords=unit_coords,
        attrs=attrs,
    )
    manifest = get_manifest("nsd")
    return tree_from_members(
        {subj: resp},
        attrs={
            "dataset": manifest.name,
            "title": manifest.title,
            "license": manifest.license,
            "citation": list(manifest.citation),
            "source": manifest.source,
        },
    )


def _volume_trials(
    root: Path, betas_dir: Path, subj: str, sessions: list[int], roi: str, fmt: str
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    import dask.array as da
    import h5py

    roi_path = root / "nsddata" / "ppdata" / subj / "func1pt8mm" / "roi" / f"{roi}.nii.gz"
    require_files(
        [roi_path], dataset="nsd",
        fix=f"Download NSD's ROI file for {subj} in func1pt8mm space (nsddata/ppdata/{subj}/"
        f"func1pt8mm/roi/), or choose another roi= ({', '.join(ROIS)}).",
    )
    mask_img = load_image(roi_path)
    check_image_complete(roi_path, mask_img, dataset="nsd")
    labels = np.asarray(mask_img.dataobj)
    shape = tuple(int(s) for s in labels.shape[:3])
    ijk = np.argwhere(labels > 0)
    if ijk.size == 0:
        raise SchemaError(f"nsd: the ROI file {str(roi_path)!r} labels no voxel (> 0).")
    names = _ctab(root / "nsddata" / "freesurfer" / subj / "label" / f"{roi}.mgz.ctab", roi)
    region = _label_names(labels[ijk[:, 0], ijk[:, 1], ijk[:, 2]], names, roi)
    chunks = split_units(len(ijk))
    blocks = []
    for s in sessions:
        if fmt == "hdf5":
            path = betas_dir / f"betas_session{s:02d}.hdf5"
            check_h5(path, dataset="nsd")
            with h5py.File(path, "r") as f:
                if "betas" not in f:
                    raise SchemaError(f"nsd: {str(path)!r} has no '/betas' dataset ({list(f)}).")
                dshape, dtype = f["betas"].shape, f["betas"].dtype
            grid = tuple(int(d) for d in dshape[1:][::-1])
            n_t = int(dshape[0])
            reader = _read_h5_volume
        else:
            path = betas_dir / f"betas_session{s:02d}.nii.gz"
            img = load_image(path)
            check_image_complete(path, img, dataset="nsd")
            if not np.allclose(img.affine, mask_img.affine, atol=1e-3):
                raise SchemaError(
                    f"nsd: the ROI mask {str(roi_path)!r} is from another space than "
                    f"{str(path)!r} (affines differ). Use the ROI file of the same subject and "
                    f"space (nsddata/ppdata/{subj}/func1pt8mm/roi/)."
                )
            grid = tuple(int(d) for d in img.shape[:3])
            n_t, dtype = int(img.shape[3]), img.get_data_dtype()
            reader = _read_nifti_volume
        if grid != shape:
            raise SchemaError(
                f"nsd: the ROI mask {str(roi_path)!r} has grid {shape}, the betas {str(path)!r} "
                f"{grid}: the mask is from another space or subject. Use "
                f"nsddata/ppdata/{subj}/func1pt8mm/roi/{roi}.nii.gz for func1pt8mm betas."
            )
        if n_t != 750:
            raise SchemaError(
                f"nsd: {str(path)!r} holds {n_t} trials; an NSD session has 750. The file is "
                f"incomplete: download it again."
            )
        scale = 300.0 if np.dtype(dtype).kind in "iu" else None
        read = functools.partial(reader, str(path), ijk, scale)
        blocks.append(lazy_columns(n_t, chunks, read, dtype=np.float32))
    trials = da.concatenate(blocks, axis=0)
    affine = np.asarray(mask_img.affine, dtype=float)
    xyz = (affine @ np.c_[ijk, np.ones(len(ijk))].T).T[:, :3]
    coords: dict[str, Any] = {
        "unit": [f"{subj}-v{i}-{j}-{k}" for i, j, k in ijk],
        "region": region,
        "i": ijk[:, 0], "j": ijk[:, 1], "k": ijk[:, 2],
        "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2],
    }
    ncsnr = betas_dir / "ncsnr.nii.gz"
    if ncsnr.is_file():
        nimg = load_image(ncsnr)
        check_image_complete(ncsnr, nimg, dataset="nsd")
        if tuple(nimg.shape[:3]) != shape:
            raise SchemaError(
                f"nsd: {str(ncsnr)!r} has grid {tuple(nimg.shape[:3])}, the ROI {shape}; it is "
                f"from another space. Use the ncsnr file next to the betas."
            )
        nc = np.asarray(nimg.dataobj, dtype=np.float32)
        coords["ncsnr"] = nc[ijk[:, 0], ijk[:, 1], ijk[:, 2]]
    attrs = {"affine": affine.tolist(), "volume_shape": list(shape), "space": "func1pt8mm", "roi": roi}
    return trials, coords, attrs


def _surface_trials(
    root: Path, betas_dir: Path, subj: str, sessions: list[int], roi: str | None
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    import dask.array as da

    label_dir = root / "nsddata" / "freesurfer" / "fsaverage" / "label"
    vertices: dict[str, np.ndarray] = {}
    regions: dict[str, np.ndarray] = {}
    names = _ctab(label_dir / f"{roi}.mgz.ctab", roi) if roi else {}
    for h in HEMIS:
        if roi is None:
            vertices[h] = np.arange(FSAVERAGE_VERTICES)
            regions[h] = np.full(FSAVERAGE_VERTICES, "cortex", dtype=object)
            continue
        path = label_dir / f"{h}.{roi}.mgz"
        require_files(
            [path], dataset="nsd",
            fix="Download NSD's fsaverage ROI files (nsddata/freesurfer/fsaverage/label/), or "
            "pass roi=None for every vertex.",
        )
        img = load_image(path)
        check_image_complete(path, img, dataset="nsd")
        lab = np.asarray(img.dataobj).ravel()
        if lab.size != FSAVERAGE_VERTICES:
            raise SchemaError(
                f"nsd: the ROI file {str(path)!r} has {lab.size} vertices; fsaverage has "
                f"{FSAVERAGE_VERTICES} per hemisphere. It is from another space (a subject's "
                f"native surface?): use nsddata/freesurfer/fsaverage/label/{h}.{roi}.mgz."
            )
        vertices[h] = np.flatnonzero(lab > 0)
        regions[h] = _label_names(lab[vertices[h]], names, roi)
    blocks = []
    for s in sessions:
        per_hemi = []
        for h in HEMIS:
            path = betas_dir / f"{h}.betas_session{s:02d}.mgh"
            img = load_image(path)
            check_image_complete(path, img, dataset="nsd")
            n_v = int(img.shape[0])
            n_t = int(np.prod(img.shape[1:]))
            if n_v != FSAVERAGE_VERTICES:
                raise SchemaError(
                    f"nsd: {str(path)!r} has {n_v} vertices; fsaverage betas have "
                    f"{FSAVERAGE_VERTICES} per hemisphere (the other hemisphere's file may be "
                    f"from another space). Download the fsaverage betas again."
                )
            if n_t != 750:
                raise SchemaError(
                    f"nsd: {str(path)!r} holds {n_t} trials; an NSD session has 750. Download "
                    f"it again."
                )
            dtype = img.get_data_dtype()
            scale = 300.0 if np.dtype(dtype).kind in "iu" else None
            read = functools.partial(_read_mgh, str(path), vertices[h], scale)
            per_hemi.append(lazy_columns(n_t, split_units(len(vertices[h])), read, dtype=np.float32))
        blocks.append(da.concatenate(per_hemi, axis=1))
    trials = da.concatenate(blocks, axis=0)
    hemi = np.concatenate([np.full(len(vertices[h]), HEMIS[h], dtype=object) for h in HEMIS])
    vert = np.concatenate([vertices[h] for h in HEMIS])
    coords: dict[str, Any] = {
        "unit": [f"{hm}-{v}" for hm, v in zip(hemi, vert, strict=True)],
        "region": np.concatenate([regions[h] for h in HEMIS]),
        "vertex": vert,
        "hemisphere": hemi,
    }
    nc_files = [betas_dir / f"{h}.ncsnr.mgh" for h in HEMIS]
    if all(p.is_file() for p in nc_files):
        parts = []
        for h, p in zip(HEMIS, nc_files, strict=True):
            img = load_image(p)
            check_image_complete(p, img, dataset="nsd")
            arr = np.asarray(img.dataobj, dtype=np.float32).ravel()
            if arr.size != FSAVERAGE_VERTICES:
                raise SchemaError(
                    f"nsd: {str(p)!r} has {arr.size} vertices, fsaverage {FSAVERAGE_VERTICES}; "
                    f"it is from another space."
                )
            parts.append(arr[vertices[h]])
        coords["ncsnr"] = np.concatenate(parts)
    attrs = {"mesh": "fsaverage", "space": "fsaverage", "roi": roi or "all vertices"}
    return trials, coords, attrs
