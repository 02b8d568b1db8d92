"""Algonauts 2023 challenge data (NSD on fsaverage) from its own layout, lazily.

Layout (Algonauts 2023 development kit and tutorial, github.com/gifale95/algonauts_2023;
Gifford et al. 2023, arXiv:2301.03198), per subject ``subjAA/``:

* ``training_split/training_fmri/[lh,rh]_training_fmri.npy``: float32
  ``(n_train_images, n_challenge_vertices)`` per hemisphere;
* ``training_split/training_images/train-NNNN_nsd-MMMMM.png``: one image per
  fMRI row, in row order (``NNNN`` 1-based row, ``MMMMM`` the NSD image id);
* ``test_split/test_images/test-NNNN_nsd-MMMMM.png`` (and, since the test data
  were released, ``test_split/test_fmri/[lh,rh]_test_fmri.npy``);
* ``roi_masks/[lh,rh].all-vertices_fsaverage_space.npy``: a 163842-long 0/1
  mask; its non-zero positions are the fsaverage vertices of the fMRI columns.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurorep._core.errors import CorruptFileError, SchemaError
from neurorep.data import responses
from neurorep.datasets._common_tree import manifest_tree
from neurorep.datasets._fetch import default_data_home
from neurorep.datasets._lazy import lazy_columns, require_files, split_units, to_float

FSAVERAGE_VERTICES = 163842
_NAME = re.compile(r"^(train|test)-(\d+)_nsd-(\d+)\.png$")
_FIX = (
    "Download the Algonauts 2023 challenge data (algonautsproject.com/2023, data form) and "
    "unpack it so that data_home/algonauts2023/subjAA/ keeps its folders."
)


def _npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r")
    except (ValueError, OSError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise CorruptFileError(
            f"algonauts2023: {str(path)!r} is truncated or damaged ({err}). Delete it and "
            f"download it again."
        ) from err


def _read_npy(path: str, idx: np.ndarray) -> np.ndarray:
    arr = np.load(path, mmap_mode="r")
    return to_float(arr[:, int(idx[0]) : int(idx[-1]) + 1], None)


def _images(folder: Path, prefix: str) -> tuple[list[str], list[str], np.ndarray]:
    names = sorted(p.name for p in folder.glob(f"{prefix}-*.png")) if folder.is_dir() else []
    rows, ids, nsd = [], [], []
    for n in names:
        m = _NAME.match(n)
        if m is None:
            raise SchemaError(
                f"algonauts2023: unexpected image name {n!r} in {str(folder)!r}; the layout "
                f"names them {prefix}-NNNN_nsd-MMMMM.png."
            )
        rows.append(int(m.group(2)))
        nsd.append(int(m.group(3)))
        ids.append(f"nsd-{int(m.group(3)):05d}")
    order = np.argsort(rows)
    if [rows[i] for i in order] != list(range(1, len(rows) + 1)):
        raise SchemaError(
            f"algonauts2023: the {prefix} images in {str(folder)!r} are not numbered 1..{len(rows)} "
            f"(a partial download?). {_FIX}"
        )
    return [ids[i] for i in order], [str(folder / names[i]) for i in order], np.asarray(nsd)[order]


def load_algonauts2023(
    data_home: str | Path | None = None, *, subject: int = 1, verify: bool = True
) -> xr.DataTree:
    """Algonauts 2023: one subject's fsaverage responses, lazily, with the train / test split.

    Parameters
    ----------
    data_home : path, optional
        Folder holding ``algonauts2023/subjAA/`` in the challenge's layout
        (see the module docstring).
    subject : int
        1..8.
    verify : bool
        Accepted for :func:`neurorep.datasets.load` (no published checksums;
        completeness is checked from the files' headers and counts).

    Returns
    -------
    DataTree
        Member ``subjAA``: responses ``(stimulus, unit)`` (dask, chunked
        along vertices) over the training images (and the test images when
        ``test_fmri`` is present); stimulus ids ``nsd-MMMMM`` as in the file
        names, coords ``split`` (train / test), ``nsd_id``, ``image`` (png
        path); unit coords ``vertex`` (fsaverage index), ``hemisphere``,
        ``region``, ``subject``; attrs ``mesh="fsaverage"`` and
        ``test_stimuli``/``test_images`` (the test images, to extract model
        features for a submission).

    Raises
    ------
    MissingDataError, CorruptFileError, SchemaError
        Missing or truncated files; fMRI columns that disagree with a
        hemisphere's vertex mask; rows that disagree with the image list.

    Examples
    --------
    >>> from neurorep import datasets
    >>> tree = datasets.load_algonauts2023("~/data", subject=1)  # doctest: +SKIP
    """
    import dask.array as da

    if not 1 <= int(subject) <= 8:
        raise ValueError(f"subject must be 1..8; got {subject!r}.")
    root = Path(data_home).expanduser() if data_home is not None else default_data_home()
    subj = f"subj{int(subject):02d}"
    base = root / "algonauts2023" / subj
    hemis = {"lh": "left", "rh": "right"}
    train = {h: base / "training_split" / "training_fmri" / f"{h}_training_fmri.npy" for h in hemis}
    masks = {h: base / "roi_masks" / f"{h}.all-vertices_fsaverage_space.npy" for h in hemis}
    require_files([*train.values(), *masks.values()], dataset="algonauts2023", fix=_FIX)
    train_ids, train_imgs, train_nsd = _images(base / "training_split" / "training_images", "train")
    test_ids, test_imgs, test_nsd = _images(base / "test_split" / "test_images", "test")
    test = {h: base / "test_split" / "test_fmri" / f"{h}_test_fmri.npy" for h in hemis}
    has_test = all(p.is_file() for p in test.values())
    vertices: dict[str, np.ndarray] = {}
    blocks = []
    for h in hemis:
        mask = np.asarray(_npy(masks[h])).ravel()
        if mask.size != FSAVERAGE_VERTICES:
            raise SchemaError(
                f"algonauts2023: {str(masks[h])!r} has {mask.size} entries; an fsaverage "
                f"hemisphere has {FSAVERAGE_VERTICES}. It is from another space."
            )
        vertices[h] = np.flatnonzero(mask)
        parts = []
        for files, n_img, split in ((train, len(train_ids), "train"), (test, len(test_ids), "test")):
            if split == "test" and not has_test:
                continue
            arr = _npy(files[h])
            if arr.ndim != 2 or arr.shape[1] != vertices[h].size:
                raise SchemaError(
                    f"algonauts2023: {str(files[h])!r} has {arr.shape[-1]} vertex columns, but "
                    f"{str(masks[h])!r} marks {vertices[h].size} vertices of the {hemis[h]} "
                    f"hemisphere: the files are from different subjects or releases. {_FIX}"
                )
            if arr.shape[0] != n_img:
                raise SchemaError(
                    f"algonauts2023: {str(files[h])!r} has {arr.shape[0]} rows but there are "
                    f"{n_img} {split} images; the image folder or the file is incomplete. {_FIX}"
                )
            read = functools.partial(_read_npy, str(files[h]))
            parts.append(lazy_columns(arr.shape[0], split_units(arr.shape[1]), read, dtype=np.float32))
        blocks.append(da.concatenate(parts, axis=0))
    values = da.concatenate(blocks, axis=1)
    ids = train_ids + (test_ids if has_test else [])
    splits: list[str] = ["train"] * len(train_ids) + (["test"] * len(test_ids) if has_test else [])
    hemi = np.concatenate([np.full(vertices[h].size, hemis[h], dtype=object) for h in hemis])
    vert = np.concatenate([vertices[h] for h in hemis])
    stim_coords: dict[str, Any] = {
        "split": splits,
        "nsd_id": np.concatenate([train_nsd, test_nsd]) if has_test else train_nsd,
        "image": train_imgs + (test_imgs if has_test else []),
    }
    resp = responses(
        values,
        stimulus=ids,
        unit=[f"{hm}-{v}" for hm, v in zip(hemi, vert, strict=True)],
        region="challenge vertices",
        subject=subj,
        stimulus_coords=stim_coords,
        unit_coords={"vertex": vert, "hemisphere": hemi},
        attrs={
            "mesh": "fsaverage",
            "test_stimuli": [] if has_test else test_ids,
            "test_images": [] if has_test else test_imgs,
        },
    )
    return manifest_tree("algonauts2023", {subj: resp})
