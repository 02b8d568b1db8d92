"""Bad-input audit of the large-dataset loaders (issue 19): a partial download (missing
sessions, truncated HDF5 / NIfTI / MGH / .mat / .npy), a mask from another space, a
subject without the shared images, hemispheres with inconsistent vertex counts.

Each case must raise a neurorep error (MissingDataError, CorruptFileError, SchemaError)
whose message names the offending file and says how to fix it; the loader raises before
it returns, so nothing half-loaded reaches the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import scipy.io as sio
from test_datasets_large import _mini_algonauts, _mini_bold5000, _mini_pereira, _mini_things
from test_datasets_nsd import AFFINE, _mini_nsd

from neurorep import CorruptFileError, MissingDataError, SchemaError
from neurorep.data import from_surface
from neurorep.datasets import (
    load_algonauts2023,
    load_bold5000,
    load_nsd,
    load_pereira2018_full,
    load_things_fmri,
)

BETAS = "nsddata_betas/ppdata/subj01/func1pt8mm/betas_fithrf_GLMdenoise_RR"
SURF = "nsddata_betas/ppdata/subj01/fsaverage/betas_fithrf_GLMdenoise_RR"


def _cut(path: Path, keep: float = 0.5) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])


# ------------------------------------------------------------------ partial downloads
def _nsd_missing_sessions(tmp: Path) -> Callable[[], object]:
    _mini_nsd(tmp)  # sessions 1 and 2 are there; subject 1 completed 40
    return lambda: load_nsd(tmp, roi="streams", captions=False)


def _nsd_truncated_hdf5(tmp: Path) -> Callable[[], object]:
    _cut(_mini_nsd(tmp)["root"] / BETAS / "betas_session02.hdf5")
    return lambda: load_nsd(tmp, sessions=[1, 2], roi="streams", captions=False)


def _nsd_truncated_nifti(tmp: Path) -> Callable[[], object]:
    _cut(_mini_nsd(tmp, hdf5=False, nifti=True)["root"] / BETAS / "betas_session01.nii.gz")
    return lambda: load_nsd(tmp, sessions=[1, 2], roi="streams", fmt="nifti", captions=False)


def _nsd_nifti_header_cut(tmp: Path) -> Callable[[], object]:
    path = _mini_nsd(tmp)["root"] / "nsddata/ppdata/subj01/func1pt8mm/roi/streams.nii.gz"
    _cut(path, 0.05)
    return lambda: load_nsd(tmp, sessions=[1], roi="streams", captions=False)


def _light_surface(tmp: Path) -> Path:
    """The volume miniature plus fsaverage label masks and placeholder surface betas.

    The loader checks the masks, then each session's lh file, then rh, reading headers only,
    so a case that breaks an early file needs no full-size (163842 x 750) later file.
    """
    root = _mini_nsd(tmp)["root"]
    lab = root / "nsddata/freesurfer/fsaverage/label"
    lab.mkdir(parents=True)
    for h in ("lh", "rh"):
        mask = np.zeros((163842, 1, 1), np.int32)
        mask[[5, 7, 100]] = 1
        nib.save(nib.MGHImage(mask, np.eye(4)), lab / f"{h}.nsdgeneral.mgz")
    (root / SURF).mkdir(parents=True)
    for h in ("lh", "rh"):
        (root / SURF / f"{h}.betas_session01.mgh").write_bytes(b"placeholder")
    return root


def _nsd_truncated_mgh(tmp: Path) -> Callable[[], object]:
    root = _light_surface(tmp)
    path = root / SURF / "lh.betas_session01.mgh"
    nib.save(nib.MGHImage(np.zeros((163842, 1, 1, 2), np.float32), np.eye(4)), path)
    _cut(path, 0.7)
    return lambda: load_nsd(tmp, space="fsaverage", sessions=[1], captions=False)


def _nsd_truncated_design(tmp: Path) -> Callable[[], object]:
    _cut(_mini_nsd(tmp)["root"] / "nsddata/experiments/nsd/nsd_expdesign.mat", 0.3)
    return lambda: load_nsd(tmp, sessions=[1], roi="streams", captions=False)


def _things_truncated_h5(tmp: Path) -> Callable[[], object]:
    _mini_things(tmp)
    _cut(tmp / "things_fmri/betas_csv/sub-01_ResponseData.h5")
    return lambda: load_things_fmri(tmp)


def _things_missing_subject(tmp: Path) -> Callable[[], object]:
    _mini_things(tmp)
    return lambda: load_things_fmri(tmp, subject=2)


def _bold5000_truncated(tmp: Path) -> Callable[[], object]:
    _mini_bold5000(tmp)
    _cut(tmp / "bold5000/ROIs/CSI1/mat/CSI1_ROIs_TR34.mat")
    return lambda: load_bold5000(tmp)


def _bold5000_missing_subject(tmp: Path) -> Callable[[], object]:
    _mini_bold5000(tmp)
    return lambda: load_bold5000(tmp, subject=2)


def _algonauts_truncated(tmp: Path) -> Callable[[], object]:
    _mini_algonauts(tmp)
    _cut(tmp / "algonauts2023/subj01/training_split/training_fmri/lh_training_fmri.npy")
    return lambda: load_algonauts2023(tmp)


def _algonauts_missing_images(tmp: Path) -> Callable[[], object]:
    _mini_algonauts(tmp)
    folder = tmp / "algonauts2023/subj01/training_split/training_images"
    next(folder.glob("train-0002_*.png")).unlink()  # an image of the middle missing
    return lambda: load_algonauts2023(tmp)


def _pereira_truncated(tmp: Path) -> Callable[[], object]:
    _mini_pereira(tmp)
    _cut(tmp / "pereira2018_full/P01/data_243sentences.mat", 0.4)
    return lambda: load_pereira2018_full(tmp, experiment="243sentences")


# ------------------------------------------------------------------ mask from another space
def _nsd_volume_mask_other_grid(tmp: Path) -> Callable[[], object]:
    roi = _mini_nsd(tmp)["root"] / "nsddata/ppdata/subj01/func1pt8mm/roi/streams.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((5, 3, 2), np.int16), AFFINE), roi)  # e.g. 1 mm grid
    return lambda: load_nsd(tmp, sessions=[1], roi="streams", captions=False)


def _nsd_volume_mask_other_affine(tmp: Path) -> Callable[[], object]:
    mini = _mini_nsd(tmp, hdf5=False, nifti=True)
    roi = mini["root"] / "nsddata/ppdata/subj01/func1pt8mm/roi/streams.nii.gz"
    nib.save(nib.Nifti1Image(mini["labels"], np.diag([1.0, 1.0, 1.0, 1.0])), roi)  # same shape, 1 mm
    return lambda: load_nsd(tmp, sessions=[1], roi="streams", fmt="nifti", captions=False)


def _nsd_ncsnr_other_grid(tmp: Path) -> Callable[[], object]:
    root = _mini_nsd(tmp)["root"]
    nib.save(nib.Nifti1Image(np.ones((6, 3, 2), np.float32), AFFINE), root / BETAS / "ncsnr.nii.gz")
    return lambda: load_nsd(tmp, sessions=[1], roi="streams", captions=False)


def _nsd_surface_mask_native(tmp: Path) -> Callable[[], object]:
    root = _light_surface(tmp)
    lab = root / "nsddata/freesurfer/fsaverage/label/lh.nsdgeneral.mgz"
    nib.save(nib.MGHImage(np.ones((227021, 1, 1), np.int32), np.eye(4)), lab)  # subj01's native lh
    return lambda: load_nsd(tmp, space="fsaverage", sessions=[1], captions=False)


def _algonauts_mask_other_space(tmp: Path) -> Callable[[], object]:
    _mini_algonauts(tmp)
    mask = np.zeros(40962, dtype=np.int64)
    mask[[3, 9, 40]] = 1
    np.save(tmp / "algonauts2023/subj01/roi_masks/lh.all-vertices_fsaverage_space.npy", mask)
    return lambda: load_algonauts2023(tmp)


# ------------------------------------------------------------------ no shared images
def _nsd_without_shared(tmp: Path) -> Callable[[], object]:
    mini = _mini_nsd(tmp)
    design = mini["root"] / "nsddata/experiments/nsd/nsd_expdesign.mat"
    mat = sio.loadmat(design)
    mat["sharedix"] = mini["subjectim"][7:8, :3].astype(float)  # images subject 1 never saw
    sio.savemat(design, {k: v for k, v in mat.items() if not k.startswith("__")})
    return lambda: load_nsd(tmp, sessions=[1, 2], roi="streams", stimuli="shared", captions=False)


# ------------------------------------------------------------------ hemispheres disagree
def _nsd_hemisphere_vertex_counts(tmp: Path) -> Callable[[], object]:
    root = _light_surface(tmp)
    data = np.zeros((40962, 1, 1, 2), dtype=np.float32)  # an fsaverage6 left hemisphere
    nib.save(nib.MGHImage(data, np.eye(4)), root / SURF / "lh.betas_session01.mgh")
    return lambda: load_nsd(tmp, space="fsaverage", sessions=[1], captions=False)


def _algonauts_hemisphere_columns(tmp: Path) -> Callable[[], object]:
    _mini_algonauts(tmp)
    path = tmp / "algonauts2023/subj01/training_split/training_fmri/rh_training_fmri.npy"
    np.save(path, np.zeros((4, 5), np.float32))  # the mask marks 2 right-hemisphere vertices
    return lambda: load_algonauts2023(tmp)


def _surface_files_hemisphere_counts(tmp: Path) -> Callable[[], object]:
    nib.save(nib.MGHImage(np.zeros((10242, 1, 1, 2), np.float32), np.eye(4)), tmp / "lh.score.mgh")
    nib.save(nib.MGHImage(np.zeros((40962, 1, 1, 2), np.float32), np.eye(4)), tmp / "rh.score.mgh")
    return lambda: from_surface(tmp / "lh.score.mgh", tmp / "rh.score.mgh")  # no mesh= to check against


CASES = {
    # name: (build, error, file named in the message, the fix in the message)
    "nsd missing sessions": (_nsd_missing_sessions, MissingDataError, r"betas_session03\.hdf5", r"fetch_nsd.*sessions=\["),
    "nsd truncated hdf5": (_nsd_truncated_hdf5, CorruptFileError, r"betas_session02\.hdf5", r"download it again"),
    "nsd truncated nifti": (_nsd_truncated_nifti, CorruptFileError, r"betas_session01\.nii\.gz", r"download it again"),
    "nsd nifti header cut": (_nsd_nifti_header_cut, CorruptFileError, r"streams\.nii\.gz", r"download it again"),
    "nsd truncated mgh": (_nsd_truncated_mgh, CorruptFileError, r"lh\.betas_session01\.mgh", r"download it again"),
    "nsd truncated design": (_nsd_truncated_design, CorruptFileError, r"nsd_expdesign\.mat", r"download it again"),
    "things truncated h5": (_things_truncated_h5, CorruptFileError, r"sub-01_ResponseData\.h5", r"download it again"),
    "things missing subject": (_things_missing_subject, MissingDataError, r"sub-02_ResponseData\.h5", r"fetch_things_fmri"),
    "bold5000 truncated mat": (_bold5000_truncated, CorruptFileError, r"CSI1_ROIs_TR34\.mat", r"download the ROIs archive again"),
    "bold5000 missing subject": (_bold5000_missing_subject, MissingDataError, r"CSI2_ROIs_TR34\.mat", r"fetch_bold5000"),
    "algonauts truncated npy": (_algonauts_truncated, CorruptFileError, r"lh_training_fmri\.npy", r"download it again"),
    "algonauts missing images": (_algonauts_missing_images, SchemaError, r"training_images", r"algonautsproject\.com"),
    "pereira truncated mat": (_pereira_truncated, CorruptFileError, r"P01/data_243sentences\.mat", r"download it again.*index2\.html"),
    "nsd volume mask other grid": (_nsd_volume_mask_other_grid, SchemaError, r"streams\.nii\.gz", r"Use nsddata/ppdata/subj01/func1pt8mm/roi"),
    "nsd volume mask other affine": (_nsd_volume_mask_other_affine, SchemaError, r"streams\.nii\.gz.*another space", r"Use the ROI file of the same subject"),
    "nsd ncsnr other grid": (_nsd_ncsnr_other_grid, SchemaError, r"ncsnr\.nii\.gz", r"Use the ncsnr file next to the betas"),
    "nsd surface mask native space": (_nsd_surface_mask_native, SchemaError, r"lh\.nsdgeneral\.mgz", r"use nsddata/freesurfer/fsaverage/label"),
    "algonauts mask other space": (_algonauts_mask_other_space, SchemaError, r"lh\.all-vertices_fsaverage_space\.npy", r"another space"),
    "nsd without shared images": (_nsd_without_shared, SchemaError, r"nsd_expdesign\.mat", r"Load more sessions"),
    "nsd hemispheres disagree": (_nsd_hemisphere_vertex_counts, SchemaError, r"lh\.betas_session01\.mgh.*40962", r"Download the fsaverage betas again"),
    "algonauts hemispheres disagree": (_algonauts_hemisphere_columns, SchemaError, r"rh_training_fmri\.npy.*5 vertex columns", r"different subjects or releases"),
    "surface files hemispheres disagree": (_surface_files_hemisphere_counts, SchemaError, r"lh\.score\.mgh' has 10242 vertices \(fsaverage5\).*rh\.score\.mgh.*40962 vertices \(fsaverage6\)", r"one fsaverage resolution.*mesh="),
    "surface file missing": (lambda tmp: lambda: from_surface(tmp / "lh.x.gii", tmp / "rh.x.gii"), MissingDataError, r"lh\.x\.gii", r"check the path"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_a_neurorep_error_naming_the_file_and_the_fix(case, tmp_path):
    build, error, file_pattern, fix_pattern = CASES[case]
    call = build(tmp_path)
    result = None
    with pytest.raises(error) as info:
        result = call()
    assert result is None  # nothing half-loaded was handed back
    msg = str(info.value)
    assert type(info.value).__module__ == "neurorep"  # a neurorep error, not a library's
    assert re.search(file_pattern, msg), msg
    assert re.search(fix_pattern, msg), msg
