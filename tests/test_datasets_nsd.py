"""NSD loader on a miniature copy of NSD's own file layout (see neurorep/datasets/_nsd.py)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import scipy.io as sio

from neurorep import SchemaError
from neurorep.data import members
from neurorep.datasets import load_nsd

SHAPE = (4, 3, 2)  # X, Y, Z of the miniature 1.8 mm grid
AFFINE = np.diag([1.8, 1.8, 1.8, 1.0])
N_IMAGES = 12  # images per subject in the miniature design (NSD: 10,000)


def _design(root: Path, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    exp = root / "nsddata" / "experiments" / "nsd"
    exp.mkdir(parents=True)
    # masterordering: 1-based positions into subjectim's columns; subjectim: 1-based 73k ids
    order = rng.integers(1, N_IMAGES + 1, size=30000)
    subjectim = np.stack([rng.permutation(np.arange(1, 101))[:N_IMAGES] + 100 * s for s in range(8)])
    shared = subjectim[0, :3]  # three "shared" images, seen by subject 1
    sio.savemat(exp / "nsd_expdesign.mat", {
        "masterordering": order[None, :].astype(float),
        "subjectim": subjectim.astype(float),
        "sharedix": shared[None, :].astype(float),
    })
    ids = np.arange(0, 1000)
    pd.DataFrame({
        "Unnamed: 0": ids, "cocoId": 500000 + ids, "cocoSplit": np.where(ids % 2, "train2017", "val2017"),
        "nsdId": ids, "shared1000": np.isin(ids + 1, shared),
    }).to_csv(exp / "nsd_stim_info_merged.csv", index=False)
    ann = root / "nsddata_stimuli" / "stimuli" / "nsd" / "annotations"
    ann.mkdir(parents=True)
    for split, parity in (("train2017", 1), ("val2017", 0)):
        anns = [
            {"image_id": int(500000 + i), "id": int(2 * i + c), "caption": f"image {i} caption {c}"}
            for i in ids if i % 2 == parity for c in (1, 0)
        ]
        (ann / f"captions_{split}.json").write_text(json.dumps({"annotations": anns}))
    return order, subjectim


def _mini_nsd(tmp_path: Path, *, hdf5: bool = True, nifti: bool = False, surface: bool = False) -> dict:
    rng = np.random.default_rng(0)
    root = tmp_path / "nsd"
    order, subjectim = _design(root, rng)
    roi_dir = root / "nsddata" / "ppdata" / "subj01" / "func1pt8mm" / "roi"
    roi_dir.mkdir(parents=True)
    labels = np.zeros(SHAPE, dtype=np.int16)
    labels[1:3, :, 0] = 1
    labels[0, 0, 1] = 2
    labels[3, 2, 1] = -1
    nib.save(nib.Nifti1Image(labels, AFFINE), roi_dir / "streams.nii.gz")
    ctab = root / "nsddata" / "freesurfer" / "subj01" / "label"
    ctab.mkdir(parents=True)
    (ctab / "streams.mgz.ctab").write_text("0 Unknown\n1 early\n2 ventral\n")
    betas = root / "nsddata_betas" / "ppdata" / "subj01" / "func1pt8mm" / "betas_fithrf_GLMdenoise_RR"
    betas.mkdir(parents=True)
    vols = {}
    for s in (1, 2):
        vol = rng.integers(-900, 900, size=(*SHAPE, 750)).astype(np.int16)  # X, Y, Z, trial
        vols[s] = vol
        if hdf5:
            with h5py.File(betas / f"betas_session{s:02d}.hdf5", "w") as f:
                f["betas"] = np.ascontiguousarray(vol.transpose(3, 2, 1, 0))  # MATLAB order reversed
        if nifti:
            nib.save(nib.Nifti1Image(vol, AFFINE), betas / f"betas_session{s:02d}.nii.gz")
    nib.save(nib.Nifti1Image(rng.random(SHAPE).astype(np.float32), AFFINE), betas / "ncsnr.nii.gz")
    surf = {}
    if surface:
        sb = root / "nsddata_betas" / "ppdata" / "subj01" / "fsaverage" / "betas_fithrf_GLMdenoise_RR"
        sb.mkdir(parents=True)
        lab = root / "nsddata" / "freesurfer" / "fsaverage" / "label"
        lab.mkdir(parents=True)
        for h in ("lh", "rh"):
            mask = np.zeros(163842, dtype=np.int32)
            mask[[5, 7, 100]] = 1
            nib.save(nib.MGHImage(mask.reshape(-1, 1, 1), np.eye(4)), lab / f"{h}.nsdgeneral.mgz")
            for s in (1, 2):
                data = np.zeros((163842, 1, 1, 750), dtype=np.float32)
                data[[5, 7, 100], 0, 0, :] = rng.normal(size=(3, 750))
                surf[(h, s)] = data[[5, 7, 100], 0, 0, :]
                nib.save(nib.MGHImage(data, np.eye(4)), sb / f"{h}.betas_session{s:02d}.mgh")
    return {"root": root, "order": order, "subjectim": subjectim, "vols": vols, "labels": labels, "surf": surf}


def _expected_trials(mini: dict) -> tuple[np.ndarray, np.ndarray]:
    nsd = mini["subjectim"][0, mini["order"][:1500] - 1] - 1
    return nsd, np.concatenate([mini["vols"][1], mini["vols"][2]], axis=3)


def test_nsd_hdf5_betas_match_the_files(tmp_path):
    mini = _mini_nsd(tmp_path)
    tree = load_nsd(tmp_path, subject=1, sessions=[1, 2], roi="streams")
    resp = members(tree)["subj01"]
    assert resp.dims == ("stimulus", "unit")
    assert resp.chunks is not None  # lazy: dask-backed
    nsd, vol = _expected_trials(mini)
    ijk = np.argwhere(mini["labels"] > 0)
    # an independent reference: average the int16 betas / 300 of each image's trials
    for sid in resp["stimulus"].values[:4]:
        trials = np.flatnonzero(nsd == int(sid.split("-")[1]))
        want = vol[ijk[:, 0], ijk[:, 1], ijk[:, 2]][:, trials].astype(float).mean(axis=1) / 300
        got = resp.sel(stimulus=sid).values
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)  # float32
        assert int(resp.sel(stimulus=sid)["n_repetitions"]) == trials.size
    assert set(resp["region"].values) == {"early", "ventral"}
    assert resp.sizes["unit"] == int((mini["labels"] > 0).sum())
    assert resp.attrs["volume_shape"] == list(SHAPE)
    cid = int(resp["coco_id"].values[0])
    assert resp["text"].values[0] == f"image {cid - 500000} caption 0"
    assert "ncsnr" in resp.coords


def test_nsd_nifti_equals_hdf5_and_repetitions(tmp_path):
    _mini_nsd(tmp_path, hdf5=True, nifti=True)
    a = members(load_nsd(tmp_path, sessions=[1, 2], roi="streams", average=False, captions=False))["subj01"]
    b = members(load_nsd(tmp_path, sessions=[1, 2], roi="streams", fmt="nifti", average=False, captions=False))["subj01"]
    assert a.dims == ("stimulus", "repetition", "unit")
    np.testing.assert_array_equal(a.values, b.values)
    kept = a.sizes["stimulus"] + len(a.attrs.get("dropped_stimuli", []))
    assert kept == len(np.unique(a["nsd_id"].values)) + len(a.attrs.get("dropped_stimuli", []))


def test_nsd_fsaverage_surface(tmp_path):
    mini = _mini_nsd(tmp_path, surface=True)
    resp = members(load_nsd(tmp_path, space="fsaverage", sessions=[1, 2], captions=False))["subj01"]
    assert list(resp["hemisphere"].values) == ["left"] * 3 + ["right"] * 3
    assert list(resp["vertex"].values) == [5, 7, 100, 5, 7, 100]
    nsd, _ = _expected_trials(mini)
    sid = resp["stimulus"].values[0]
    trials = np.flatnonzero(nsd == int(sid.split("-")[1]))
    lh = np.concatenate([mini["surf"][("lh", 1)], mini["surf"][("lh", 2)]], axis=1)
    np.testing.assert_allclose(resp.sel(stimulus=sid).values[:3], lh[:, trials].mean(axis=1), rtol=1e-5, atol=1e-6)


def test_nsd_shared_images(tmp_path):
    _mini_nsd(tmp_path)
    resp = members(load_nsd(tmp_path, sessions=[1, 2], roi="streams", stimuli="shared", captions=False))["subj01"]
    assert resp["shared1000"].values.all() and resp.sizes["stimulus"] == 3


def test_nsd_missing_session_names_the_files(tmp_path):
    _mini_nsd(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"betas_session03\.hdf5.*sessions=\[") as err:
        load_nsd(tmp_path, roi="streams")  # subject 1 completed 40 sessions; 2 are here
    assert "38 file(s)" in str(err.value)


def test_nsd_truncated_file(tmp_path):
    mini = _mini_nsd(tmp_path, hdf5=False, nifti=True)
    path = mini["root"] / "nsddata_betas/ppdata/subj01/func1pt8mm/betas_fithrf_GLMdenoise_RR/betas_session02.nii.gz"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(OSError, match=r"betas_session02\.nii\.gz.*truncated.*download it again"):
        load_nsd(tmp_path, sessions=[1, 2], roi="streams", fmt="nifti", captions=False)
    h5 = _mini_nsd(tmp_path / "b")["root"] / "nsddata_betas/ppdata/subj01/func1pt8mm/betas_fithrf_GLMdenoise_RR/betas_session01.hdf5"
    h5.write_bytes(h5.read_bytes()[:3000])
    with pytest.raises(OSError, match=r"betas_session01\.hdf5.*truncated"):
        load_nsd(tmp_path / "b", sessions=[1], roi="streams", captions=False)


def test_nsd_mask_from_another_space(tmp_path):
    mini = _mini_nsd(tmp_path)
    roi = mini["root"] / "nsddata/ppdata/subj01/func1pt8mm/roi/streams.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((5, 3, 2), np.int16), AFFINE), roi)  # a 1 mm-like grid
    with pytest.raises(SchemaError, match=r"streams\.nii\.gz.*another space"):
        load_nsd(tmp_path, sessions=[1], roi="streams", captions=False)


def test_nsd_surface_mask_from_native_space(tmp_path):
    mini = _mini_nsd(tmp_path, surface=True)
    lab = mini["root"] / "nsddata/freesurfer/fsaverage/label/rh.nsdgeneral.mgz"
    nib.save(nib.MGHImage(np.ones((227021, 1, 1), np.int32), np.eye(4)), lab)  # subj01 native lh
    with pytest.raises(SchemaError, match=r"rh\.nsdgeneral\.mgz.*227021 vertices.*another space"):
        load_nsd(tmp_path, space="fsaverage", sessions=[1], captions=False)


def test_nsd_subject_without_the_shared_images(tmp_path):
    mini = _mini_nsd(tmp_path)
    design = mini["root"] / "nsddata/experiments/nsd/nsd_expdesign.mat"
    mat = sio.loadmat(design)
    mat["sharedix"] = mini["subjectim"][7:8, :3].astype(float)  # shared ids subject 1 never saw
    sio.savemat(design, {k: v for k, v in mat.items() if not k.startswith("__")})
    with pytest.raises(SchemaError, match=r"subj01.*none of the shared 1,000 images.*Load more sessions"):
        load_nsd(tmp_path, sessions=[1, 2], roi="streams", stimuli="shared", captions=False)
