"""Algonauts 2023, BOLD5000, THINGS-fMRI and Pereira 2018 (full) loaders on miniature
copies of each dataset's own layout (sources in each loader's module docstring)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.io as sio

from neurorep import SchemaError
from neurorep.data import members
from neurorep.datasets import (
    load,
    load_algonauts2023,
    load_bold5000,
    load_pereira2018_full,
    load_things_fmri,
)


# ---------------------------------------------------------------- Algonauts 2023
def _mini_algonauts(tmp_path: Path, *, test_fmri: bool = False) -> dict:
    rng = np.random.default_rng(1)
    base = tmp_path / "algonauts2023" / "subj01"
    out = {}
    for h, verts in (("lh", [3, 9, 40]), ("rh", [1, 2])):
        mask = np.zeros(163842, dtype=np.int64)
        mask[verts] = 1
        (base / "roi_masks").mkdir(parents=True, exist_ok=True)
        np.save(base / "roi_masks" / f"{h}.all-vertices_fsaverage_space.npy", mask)
        out[h] = rng.normal(size=(4, len(verts))).astype(np.float32)
        (base / "training_split" / "training_fmri").mkdir(parents=True, exist_ok=True)
        np.save(base / "training_split" / "training_fmri" / f"{h}_training_fmri.npy", out[h])
        if test_fmri:
            (base / "test_split" / "test_fmri").mkdir(parents=True, exist_ok=True)
            np.save(base / "test_split" / "test_fmri" / f"{h}_test_fmri.npy", rng.normal(size=(2, len(verts))).astype(np.float32))
    for split, ids in (("training", [13, 7, 500, 42]), ("test", [845, 3])):
        folder = base / f"{split}_split" / f"{split}_images"
        folder.mkdir(parents=True, exist_ok=True)
        for row, i in enumerate(ids, start=1):
            (folder / f"{split[:5] if split == 'train' else split.replace('ing', '')}-{row:04d}_nsd-{i:05d}.png").write_bytes(b"")
    return out


def test_algonauts_reads_its_layout(tmp_path):
    fmri = _mini_algonauts(tmp_path)
    resp = members(load("algonauts2023", tmp_path))["subj01"]
    assert list(resp["stimulus"].values) == ["nsd-00013", "nsd-00007", "nsd-00500", "nsd-00042"]
    assert list(resp["vertex"].values) == [3, 9, 40, 1, 2]
    assert list(resp["hemisphere"].values) == ["left"] * 3 + ["right"] * 2
    np.testing.assert_array_equal(resp.values, np.concatenate([fmri["lh"], fmri["rh"]], axis=1))
    assert resp.attrs["test_stimuli"] == ["nsd-00845", "nsd-00003"]
    assert resp.chunks is not None


def test_algonauts_with_test_fmri(tmp_path):
    _mini_algonauts(tmp_path, test_fmri=True)
    resp = members(load_algonauts2023(tmp_path))["subj01"]
    assert list(resp["split"].values) == ["train"] * 4 + ["test"] * 2


def test_algonauts_inconsistent_vertex_counts(tmp_path):
    _mini_algonauts(tmp_path)
    path = tmp_path / "algonauts2023/subj01/training_split/training_fmri/rh_training_fmri.npy"
    np.save(path, np.zeros((4, 5), np.float32))  # rh mask marks 2 vertices
    with pytest.raises(SchemaError, match=r"rh_training_fmri\.npy.*5 vertex columns.*2 vertices of the right"):
        load_algonauts2023(tmp_path)


def test_algonauts_truncated_and_missing(tmp_path):
    _mini_algonauts(tmp_path)
    path = tmp_path / "algonauts2023/subj01/training_split/training_fmri/lh_training_fmri.npy"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(OSError, match=r"lh_training_fmri\.npy.*truncated"):
        load_algonauts2023(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"subj02.*algonautsproject"):
        load_algonauts2023(tmp_path, subject=2)


# ---------------------------------------------------------------- BOLD5000
def _mini_bold5000(tmp_path: Path) -> tuple[dict, list[str]]:
    rng = np.random.default_rng(2)
    root = tmp_path / "bold5000" / "ROIs"
    (root / "CSI1" / "mat").mkdir(parents=True)
    (root / "stim_lists").mkdir(parents=True)
    stim = ["COCO_train2014_000000000009.jpg", "n01440764_10026.JPEG", "airplanecabin1.jpg",
            "COCO_train2014_000000000009.jpg", "beach3.jpg"]
    (root / "stim_lists" / "CSI01_stim_lists.txt").write_text("\n".join(stim) + "\n")
    mat = {f"{h}{r}": rng.normal(size=(len(stim), n)) for r, n in
           (("EarlyVis", 3), ("LOC", 2), ("OPA", 1), ("PPA", 2), ("RSC", 1)) for h in ("LH", "RH")}
    sio.savemat(root / "CSI1" / "mat" / "CSI1_ROIs_TR34.mat", mat)
    return mat, stim


def test_bold5000_reads_its_layout(tmp_path):
    mat, stim = _mini_bold5000(tmp_path)
    resp = members(load_bold5000(tmp_path))["CSI1"]
    assert resp.sizes == {"stimulus": 4, "unit": 18}
    ppa = resp.where((resp["region"] == "PPA") & (resp["hemisphere"] == "left"), drop=True)
    np.testing.assert_allclose(ppa.sel(stimulus="beach3.jpg").values, mat["LHPPA"][4], rtol=1e-6)
    coco = resp.sel(stimulus="COCO_train2014_000000000009.jpg")
    np.testing.assert_allclose(
        coco.values[:3], (mat["LHEarlyVis"][0] + mat["LHEarlyVis"][3]) / 2, rtol=1e-6
    )
    assert int(coco["n_repetitions"]) == 2
    assert list(resp["source"].values) == ["coco", "imagenet", "scene", "scene"]


def test_bold5000_trial_count_mismatch(tmp_path):
    _mini_bold5000(tmp_path)
    (tmp_path / "bold5000/ROIs/stim_lists/CSI01_stim_lists.txt").write_text("a.jpg\nb.jpg\n")
    with pytest.raises(SchemaError, match=r"LHEarlyVis.*5 trials.*CSI01_stim_lists\.txt.*lists 2"):
        load_bold5000(tmp_path)


def test_bold5000_truncated_mat(tmp_path):
    _mini_bold5000(tmp_path)
    path = tmp_path / "bold5000/ROIs/CSI1/mat/CSI1_ROIs_TR34.mat"
    path.write_bytes(path.read_bytes()[:400])
    with pytest.raises(OSError, match=r"CSI1_ROIs_TR34\.mat.*truncated"):
        load_bold5000(tmp_path)


# ---------------------------------------------------------------- THINGS-fMRI
def _mini_things(tmp_path: Path) -> tuple[np.ndarray, pd.DataFrame]:
    pytest.importorskip("tables")  # pandas writes the miniature HDF5 table with PyTables
    rng = np.random.default_rng(3)
    folder = tmp_path / "things_fmri" / "betas_csv"
    folder.mkdir(parents=True)
    n_vox = 6
    stim = pd.DataFrame({
        "subject_id": 1,
        "trial_id": np.arange(7),
        "session": [1, 1, 1, 1, 2, 2, 2],
        "run": [1, 1, 2, 2, 1, 1, 2],
        "stimulus": ["aardvark_01b.jpg", "test_a.jpg", "abacus_03s.jpg", "catch_x.jpg", "test_a.jpg", "test_b.jpg", "test_b.jpg"],
        "concept": ["aardvark", "a", "abacus", "x", "a", "b", "b"],
        "trial_type": ["exp", "test", "exp", "catch", "test", "test", "test"],
    })
    stim.to_csv(folder / "sub-01_StimulusMetadata.csv", index=False)
    betas = rng.normal(size=(n_vox, len(stim)))
    df = pd.DataFrame(betas, columns=list(range(len(stim))))
    df.insert(0, "voxel_id", np.arange(100, 100 + n_vox))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTables pickles the mixed column labels
        df.to_hdf(folder / "sub-01_ResponseData.h5", key="ResponseData")
    pd.DataFrame({
        "voxel_id": np.arange(100, 100 + n_vox), "subject_id": 1,
        "voxel_x": [1, 2, 3, 4, 5, 6], "voxel_y": 7, "voxel_z": 8,
        "V1": [1, 1, 0, 0, 0, 0], "FFA": [0, 0, 0, 1, 1, 0], "nc_testset": rng.random(n_vox),
    }).to_csv(folder / "sub-01_VoxelMetadata.csv", index=False)
    return betas, stim


def test_things_fmri_reads_its_layout(tmp_path):
    betas, _ = _mini_things(tmp_path)
    resp = members(load_things_fmri(tmp_path))["sub-01"]
    assert list(resp["stimulus"].values) == ["aardvark_01b.jpg", "test_a.jpg", "abacus_03s.jpg", "test_b.jpg"]
    np.testing.assert_allclose(resp.sel(stimulus="test_a.jpg").values, (betas[:, 1] + betas[:, 4]) / 2, rtol=1e-6)
    assert list(resp["split"].values) == ["train", "test", "train", "test"]
    ffa = members(load_things_fmri(tmp_path, roi="FFA", average=False))["sub-01"]
    assert ffa.dims == ("stimulus", "repetition", "unit")
    assert list(ffa["voxel_id"].values) == [103, 104]
    np.testing.assert_allclose(ffa.sel(stimulus="test_b.jpg").values, betas[3:5, 5:7].T, rtol=1e-6)
    assert set(ffa.attrs["dropped_stimuli"]) == {"aardvark_01b.jpg", "abacus_03s.jpg"}


def test_things_fmri_mismatched_files(tmp_path):
    _mini_things(tmp_path)
    csv = tmp_path / "things_fmri/betas_csv/sub-01_StimulusMetadata.csv"
    pd.read_csv(csv).iloc[:5].to_csv(csv, index=False)
    with pytest.raises(SchemaError, match=r"7 trial columns.*StimulusMetadata\.csv.*5 rows"):
        load_things_fmri(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"sub-02_ResponseData\.h5"):
        load_things_fmri(tmp_path, subject=2)


# ---------------------------------------------------------------- Pereira 2018 (full)
def _mini_pereira(tmp_path: Path) -> dict:
    rng = np.random.default_rng(4)
    out = {}
    for p, n_vox in (("M02", 5), ("P01", 4)):
        folder = tmp_path / "pereira2018_full" / p
        folder.mkdir(parents=True)
        x = rng.normal(size=(3, n_vox))
        meta = {"colToCoord": np.c_[np.arange(1, n_vox + 1), np.full(n_vox, 2), np.full(n_vox, 3)].astype(float),
                "dimensions": np.array([[10, 12, 9]], float)}
        keys = np.empty((3, 1), dtype=object)
        keys[:, 0] = ["A bird can fly.", "Dogs bark.", "The sun is hot."]
        sio.savemat(folder / "data_243sentences.mat", {
            "examples_passagesentences": x, "keySentences": keys,
            "labelsPassageForEachSentence": np.array([[1], [1], [2]], float), "meta": meta,
        })
        out[p] = x
    return out


def test_pereira_full_reads_its_layout(tmp_path):
    data = _mini_pereira(tmp_path)
    tree = load_pereira2018_full(tmp_path, experiment="243sentences")
    got = members(tree)
    assert set(got) == {"M02", "P01"}
    np.testing.assert_allclose(got["M02"].values, data["M02"], rtol=1e-6)
    assert list(got["P01"]["text"].values) == ["A bird can fly.", "Dogs bark.", "The sun is hot."]
    assert list(got["P01"]["i"].values) == [0, 1, 2, 3] and int(got["P01"]["k"][0]) == 2
    assert list(got["M02"]["passage"].values) == [1, 1, 2]
    assert got["M02"].attrs["volume_shape"] == [10, 12, 9]


def test_pereira_full_missing_participant(tmp_path):
    _mini_pereira(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"M04/data_243sentences\.mat.*osf\.io/crwz7"):
        load_pereira2018_full(tmp_path, experiment="243sentences", participants=["M02", "M04"])
    with pytest.raises(FileNotFoundError, match=r"no participant folder.*data_384sentences\.mat"):
        load_pereira2018_full(tmp_path)


def test_averaging_repetitions_keeps_a_nan_trial_visible(tmp_path):
    """A NaN beta in one trial makes that image's mean NaN: it is not averaged away."""
    mat, stim = _mini_bold5000(tmp_path)
    mat["LHPPA"][3, 0] = np.nan  # the second presentation of the repeated COCO image
    sio.savemat(tmp_path / "bold5000/ROIs/CSI1/mat/CSI1_ROIs_TR34.mat", mat)
    resp = members(load_bold5000(tmp_path))["CSI1"]
    ppa = resp.where((resp["region"] == "PPA") & (resp["hemisphere"] == "left"), drop=True)
    assert np.isnan(ppa.sel(stimulus="COCO_train2014_000000000009.jpg").values[0])
    assert np.isfinite(ppa.sel(stimulus="beach3.jpg").values).all()
