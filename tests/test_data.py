"""neurorep.data: schema, constructors, IO round trips, NIfTI and rsatoolbox bridges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from neurorep import AlignmentError, SchemaError, data


@pytest.fixture
def resp(rng):
    return data.responses(
        rng.standard_normal((5, 3)),
        stimulus=list("abcde"),
        region=["V1", "V1", "V2"],
        subject="s1",
        stimulus_coords={"text": ["one", "two", "three", "four", "five"], "run": [0, 0, 1, 1, 1]},
        attrs={"params": {"alpha": 1.0, "flag": True}, "note": "x", "none": None},
    )


@pytest.fixture
def acts(rng):
    return data.activations(
        {"conv1": rng.standard_normal((5, 4)), "fc": rng.standard_normal((5, 2))},
        stimulus=list("abcde"),
        model="toy",
    )


# ----------------------------------------------------------------------------- schema
def test_responses_dims_and_coords(resp):
    assert resp.dims == ("stimulus", "unit")
    assert list(resp.region.values) == ["V1", "V1", "V2"]
    assert list(resp.subject.values) == ["s1"] * 3
    assert data.validate(resp) == "responses"


def test_responses_from_dataframe():
    df = pd.DataFrame(np.eye(3), index=["x", "y", "z"], columns=["u1", "u2", "u3"])
    r = data.responses(df)
    assert list(r.stimulus.values) == ["x", "y", "z"]
    assert list(r.unit.values) == ["u1", "u2", "u3"]


def test_repetition_and_time_forms(rng):
    r = data.responses(rng.standard_normal((4, 3, 2)), repetition=["r1", "r2", "r3"])
    assert r.dims == ("stimulus", "repetition", "unit")
    t = data.responses(
        rng.standard_normal((10, 2)), time=True, stimulus_coords={"run": [0] * 5 + [1] * 5}
    )
    assert t.dims == ("time", "unit") and list(t.run.values[:2]) == [0, 0]


def test_activations_tree(acts):
    assert list(acts.children) == ["conv1", "fc"]
    assert acts.attrs["model"] == "toy"
    assert acts["conv1"].attrs["depth"] == 0.0 and acts["fc"].attrs["depth"] == 1.0
    mem = data.members(acts)
    assert mem["fc"].attrs["depth"] == 1.0
    assert data.validate(acts) == "activations"


def test_rdm_forms():
    sq = data.rdm([[0, 1, 2], [1, 0, 3], [2, 3, 0]], stimulus=list("abc"), metric="euclidean")
    vec = data.rdm([1, 2, 3], stimulus=list("abc"), metric="euclidean")
    xr.testing.assert_identical(sq, vec)
    stack = data.rdm(np.ones((2, 3)), stimulus=list("abc"), dim="subject", index=["s1", "s2"])
    assert stack.dims == ("subject", "stimulus_i", "stimulus_j")


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: data.responses(np.ones((2, 2)), stimulus=["a", "a"]),
            "stimulus ids must be unique",
        ),
        (lambda: data.responses(np.zeros((0, 3))), "empty"),
        (lambda: data.responses(np.array([[1.0, np.nan]])), "must be finite"),
        (lambda: data.responses(np.ones((2, 2, 2, 2))), "must be 2-D"),
        (lambda: data.responses(np.ones((2, 2)), stimulus=["a"]), "expected 2 stimulus ids"),
        (lambda: data.rdm([[0, 1], [2, 0]]), "symmetric"),
        (lambda: data.rdm([[1, 1], [1, 1]]), "zero diagonal"),
        (lambda: data.rdm([1, 2]), "n\\*\\(n-1\\)/2"),
        (lambda: data.activations({}), "no layers"),
    ],
)
def test_bad_input_messages(make, match):
    with pytest.raises(SchemaError, match=match):
        make()


def test_validate_wrong_dims_suggests_rename():
    da = xr.DataArray(np.ones((3, 2)), dims=("stimulus", "voxel"), coords={"stimulus": list("abc")})
    with pytest.raises(SchemaError, match=r"rename\(\{'voxel': 'unit'\}\)"):
        data.validate(da, kind="responses", name="bold")


def test_validate_names_the_object():
    da = xr.DataArray(np.ones((3, 2)), dims=("time", "voxel"))
    with pytest.raises(SchemaError, match="^bold must have dims"):
        data.validate(da, kind="responses", name="bold")


def test_activations_layers_must_share_stimuli(rng):
    a = data.responses(rng.standard_normal((3, 2)), stimulus=list("abc"))
    b = data.responses(rng.standard_normal((3, 2)), stimulus=list("abd"))
    with pytest.raises(SchemaError, match="same stimulus ids"):
        data.activations({"l1": a, "l2": b})


# ----------------------------------------------------------------------------- align
def test_align_reorders_by_id(rng):
    vals = rng.standard_normal((4, 2))
    a = data.responses(vals, stimulus=list("abcd"))
    b = data.responses(vals[[2, 0, 3, 1]], stimulus=list("cadb"))
    a2, b2 = data.align(a, b)
    np.testing.assert_array_equal(a2.values, b2.values)
    assert list(b2.stimulus.values) == list("abcd")


def test_align_inner_and_errors(rng):
    a = data.responses(rng.standard_normal((4, 2)), stimulus=list("abcd"))
    b = data.responses(rng.standard_normal((3, 2)), stimulus=list("dbx"))
    with pytest.raises(AlignmentError, match="join='inner'"):
        data.align(a, b)
    a2, b2 = data.align(a, b, join="inner")
    assert list(a2.stimulus.values) == ["b", "d"] == list(b2.stimulus.values)
    c = data.responses(rng.standard_normal((2, 2)), stimulus=["y", "z"])
    with pytest.raises(AlignmentError, match="share no stimulus id"):
        data.align(a, c, join="inner")


def test_align_rdm_and_tree(acts, rng):
    r = data.rdm(rng.random(10), stimulus=list("edcba"))
    a2, r2 = data.align(acts, r)
    assert list(r2.stimulus_i.values) == list("abcde") == list(r2.stimulus_j.values)
    np.testing.assert_allclose(r2.values, r2.values.T)


def test_inputs_not_mutated(resp):
    before = resp.copy(deep=True)
    other = resp.isel(stimulus=[4, 3, 2, 1, 0])
    data.align(resp, other)
    xr.testing.assert_identical(resp, before)


# ----------------------------------------------------------------------------- IO
@pytest.mark.parametrize("ext", ["nc", "zarr"])
def test_roundtrip_responses(resp, tmp_path, ext):
    path = data.save(resp, tmp_path / f"r.{ext}")
    back = data.load(path)
    xr.testing.assert_identical(back, resp)
    assert back.attrs["params"] == {"alpha": 1.0, "flag": True}
    assert back.attrs["none"] is None


@pytest.mark.parametrize("ext", ["nc", "zarr"])
def test_roundtrip_tree_and_dataset(acts, tmp_path, ext):
    back = data.load(data.save(acts, tmp_path / f"a.{ext}"))
    assert isinstance(back, xr.DataTree)
    assert back.identical(acts)
    ds = xr.Dataset(
        {"score": ("region", [0.1, 0.2])}, coords={"region": ["V1", "IT"]}, attrs={"metric": "cka"}
    )
    back_ds = data.load(data.save(ds, tmp_path / f"d.{ext}"))
    xr.testing.assert_identical(back_ds, ds)


def test_save_refuses_overwrite_and_bad_suffix(resp, tmp_path):
    p = data.save(resp, tmp_path / "r.nc")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        data.save(resp, p)
    data.save(resp * 2, p, overwrite=True)
    np.testing.assert_allclose(data.load(p).values, resp.values * 2)
    with pytest.raises(ValueError, match=r"'\.nc' \(netCDF\) or '\.zarr'"):
        data.save(resp, tmp_path / "r.h5")


def test_load_lazy_with_chunks(resp, tmp_path):
    p = data.save(resp, tmp_path / "r.zarr")
    lazy = data.load(p, chunks={})
    assert not isinstance(lazy.data, np.ndarray)
    np.testing.assert_allclose(lazy.values, resp.values)


# ----------------------------------------------------------------------------- NIfTI
def test_nifti_roundtrip_same_voxels(tmp_path, rng):
    import nibabel as nib

    shape = (6, 5, 4)
    affine = np.diag([3.0, 3.0, 3.5, 1.0])
    affine[:3, 3] = [-10, 20, 5]
    mask = np.zeros(shape, dtype=np.uint8)
    mask[1:5, 2:4, 1:3] = 1
    vols = rng.standard_normal((*shape, 7)).astype(np.float32)
    img = nib.Nifti1Image(vols, affine)
    mimg = nib.Nifti1Image(mask, affine)
    r = data.from_nifti(img, mimg, stimulus=[f"s{i}" for i in range(7)])
    assert r.shape == (7, int(mask.sum()))
    i, j, k = (r[c].values for c in ("i", "j", "k"))
    np.testing.assert_allclose(r.values, vols[i, j, k, :].T)
    np.testing.assert_allclose(r.x.values, affine[0, 0] * i + affine[0, 3])
    # back through netCDF: same voxels, zeros elsewhere
    r = data.load(data.save(r, tmp_path / "r.nc"))
    back = data.to_nifti(r)
    np.testing.assert_allclose(back.affine, affine)
    out = np.asarray(back.get_fdata())
    np.testing.assert_allclose(out[mask == 1], vols[mask == 1])
    assert np.all(out[mask == 0] == 0)
    one = data.to_nifti(r.isel(stimulus=2))
    np.testing.assert_allclose(np.asarray(one.get_fdata())[mask == 1], vols[..., 2][mask == 1])


def test_nifti_through_masker_without_coords(rng):
    import nibabel as nib

    mask = np.zeros((4, 4, 2), dtype=np.uint8)
    mask[1:3, 1:3, :] = 1
    mimg = nib.Nifti1Image(mask, np.eye(4))
    vals = xr.DataArray(rng.standard_normal(int(mask.sum())), dims=("unit",))
    img = data.to_nifti(vals, mask_img=mimg)
    np.testing.assert_allclose(np.asarray(img.get_fdata())[mask == 1], vals.values, rtol=1e-6)
    with pytest.raises(SchemaError, match="pass mask_img="):
        data.to_nifti(vals)


# ----------------------------------------------------------------------------- rsatoolbox
def test_rsatoolbox_dataset_roundtrip(resp):
    from rsatoolbox.data import Dataset

    ds = data.to_rsatoolbox(resp)
    assert isinstance(ds, Dataset)
    np.testing.assert_allclose(ds.measurements, resp.values)
    assert list(ds.obs_descriptors["stimulus"]) == list("abcde")
    back = data.from_rsatoolbox(ds)
    xr.testing.assert_allclose(back, resp.drop_vars([]))
    assert list(back.text.values) == list(resp.text.values)


def test_rsatoolbox_repetitions_roundtrip(rng):
    r = data.responses(rng.standard_normal((3, 2, 4)), repetition=["run1", "run2"])
    ds = data.to_rsatoolbox(r)
    assert ds.measurements.shape == (6, 4)
    back = data.from_rsatoolbox(ds, repetition="repetition")
    xr.testing.assert_allclose(back, r)
    with pytest.raises(SchemaError, match="pass repetition="):
        data.from_rsatoolbox(ds)


def test_rsatoolbox_rdms_roundtrip_matches_calc_rdm(resp):
    import rsatoolbox

    ds = data.to_rsatoolbox(resp)
    rdms = rsatoolbox.rdm.calc_rdm(ds, method="euclidean", descriptor="stimulus")
    ours = data.from_rsatoolbox(rdms)
    assert ours.dims == ("rdm", "stimulus_i", "stimulus_j")
    assert list(ours.stimulus_i.values) == list("abcde")
    again = data.to_rsatoolbox(ours.isel(rdm=0))
    np.testing.assert_allclose(again.get_vectors(), rdms.get_vectors())
    assert again.dissimilarity_measure == rdms.dissimilarity_measure


def test_rdm_vectors_match_squareform_and_report_the_first_bad_value(rng):
    from scipy.spatial.distance import squareform

    n, k = 60, 40  # 40 RDMs of 60 stimuli span several check chunks
    vecs = rng.random((k, n * (n - 1) // 2))
    stack = data.rdm(vecs, stimulus=[f"s{i}" for i in range(n)], dim="subject")
    got = data.rdm_vectors(stack)
    np.testing.assert_array_equal(got, vecs)
    np.testing.assert_array_equal(squareform(stack.values[7]), got[7])
    out = np.empty_like(vecs)
    assert data.rdm_vectors(stack, out=out) is out
    with pytest.raises(ValueError, match="C-contiguous float64"):
        data.rdm_vectors(stack, out=np.empty((k, 3)))

    bad = stack.copy()
    bad.values[33, 5, 2] = np.nan  # lower triangle of a later chunk
    with pytest.raises(SchemaError, match=r"1 NaN/inf.*'subject': 33, 'stimulus_i': 5, "):
        data.validate(bad)
    tilted = stack.copy()
    tilted.values[25, 1, 2] += 1e-3
    with pytest.raises(SchemaError, match="symmetric"):
        data.rdm_vectors(tilted)
    tiny = stack.copy()
    tiny.values[25, 1, 2] += 1e-9  # within the 1e-6 relative tolerance: upper triangle used
    assert data.rdm_vectors(tiny)[25, n - 1] == tiny.values[25, 1, 2]  # pair (1, 2)
    diag = stack.copy()
    diag.values[39, 4, 4] = 0.5
    with pytest.raises(SchemaError, match="zero diagonal"):
        data.rdm_vectors(diag)


def test_rdm_vectors_of_a_big_stack_run_threaded_and_report_the_first_bad_rdm(rng):
    from neurorep.data._schema import _THREADED_BYTES

    n = 700
    k = _THREADED_BYTES // (8 * n * n) + 2  # just over the threaded size
    vecs = rng.random((k, n * (n - 1) // 2))
    stack = data.rdm(vecs, stimulus=[f"s{i}" for i in range(n)], dim="subject")
    assert stack.nbytes >= _THREADED_BYTES
    np.testing.assert_array_equal(data.rdm_vectors(stack), vecs)
    stack.values[k - 1, 3, 3] = 1.0  # a later chunk fails too: the first bad one is named
    stack.values[2, 9, 4] = np.inf
    with pytest.raises(SchemaError, match=r"'subject': 2, 'stimulus_i': 9, 'stimulus_j': 4"):
        data.rdm_vectors(stack)
