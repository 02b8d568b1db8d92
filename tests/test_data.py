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
        (lambda: data.responses(np.ones((2, 2, 2, 2, 2))), "must be 2-D"),
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
    from neurorep._core.parallel import PARALLEL_BYTES

    n = 700
    k = PARALLEL_BYTES // (8 * n * n) + 4  # over the parallel size: blocks run as tasks
    vecs = rng.random((k, n * (n - 1) // 2))
    stack = data.rdm(vecs, stimulus=[f"s{i}" for i in range(n)], dim="subject")
    assert stack.nbytes >= PARALLEL_BYTES
    np.testing.assert_array_equal(data.rdm_vectors(stack), vecs)
    stack.values[k - 1, 3, 3] = 1.0  # a later chunk fails too: the first bad one is named
    stack.values[2, 9, 4] = np.inf
    with pytest.raises(SchemaError, match=r"'subject': 2, 'stimulus_i': 9, 'stimulus_j': 4"):
        data.rdm_vectors(stack)


# ----------------------------------------------------------------------------- axes are named
@pytest.mark.parametrize("shape", [(6, 4, 3), (6, 2, 4, 3)])
def test_3d_and_4d_values_without_named_axes_are_refused(rng, shape):
    with pytest.raises(SchemaError, match=r"ambiguous.*dims=\('stimulus', 'time', 'unit'\)"):
        data.responses(rng.standard_normal(shape))
    with pytest.raises(SchemaError, match="already an xarray DataArray"):
        data.responses(xr.DataArray(rng.standard_normal(shape)))


def test_named_axes_give_repetitions_epochs_or_both(rng):
    vals = rng.standard_normal((5, 3, 2))
    by_dims = data.responses(vals, dims=("stimulus", "repetition", "unit"))
    by_ids = data.responses(vals, repetition=["run1", "run2", "run3"])
    assert by_dims.dims == by_ids.dims == ("stimulus", "repetition", "unit")
    times = [-0.1, 0.0, 0.25]
    eeg = data.responses(vals, dims=("stimulus", "time", "unit"), time=times)
    assert eeg.dims == ("stimulus", "time", "unit")
    np.testing.assert_array_equal(eeg.time.values, times)
    assert data.responses(vals, time=times).dims == eeg.dims  # the times name the axis
    assert data.validate(eeg) == data.infer_kind(eeg) == "epochs"
    both = data.responses(
        rng.standard_normal((5, 2, 4, 3)), repetition=["a", "b"], time=np.arange(4) / 250
    )
    assert both.dims == ("stimulus", "repetition", "time", "unit")
    assert data.validate(both) == "epochs"
    # the time series form is unchanged; numpy booleans and None read as the flag they are
    ts = data.responses(rng.standard_normal((8, 3)), time=True)
    assert ts.dims == ("time", "unit") and data.validate(ts) == "responses"
    np.testing.assert_array_equal(ts.time.values, np.arange(8))
    assert data.responses(rng.standard_normal((8, 3)), time=np.True_).dims == ("time", "unit")
    assert data.responses(rng.standard_normal((8, 3)), time=None).dims == ("stimulus", "unit")
    with pytest.raises(SchemaError, match="ambiguous"):
        data.responses(vals, time=np.False_)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dims": ("stimulus", "time", "unit")}, "need their sample times"),
        ({"dims": ("stimulus", "repetition", "unit"), "time": [0, 1, 2]}, "no 'time' dim"),
        ({"dims": ("stimulus", "time", "unit"), "time": [0, 1, 2], "repetition": list("abc")},
         "no 'repetition' dim"),
        ({"dims": ("stimulus", "unit", "time"), "time": [0, 1, 2]}, "dims must be one of"),
        ({"dims": ("stimulus", "unit")}, "names 2 axes"),
        ({"dims": "stimulus time unit"}, "tuple of dim names"),
        ({"time": [0.0, 0.2, 0.1]}, "strictly increasing"),
        ({"time": [0.0, 0.1]}, "one time"),
        ({"time": True}, "time=True marks a 2-D"),
        ({"time": ["a", "b", "c"]}, "numeric"),
    ],
)
def test_contradictory_layouts_are_refused(rng, kwargs, match):
    with pytest.raises(SchemaError, match=match):
        data.responses(rng.standard_normal((4, 3, 2)), **kwargs)


def test_validate_refuses_epochs_where_one_pattern_per_stimulus_is_needed(rng):
    da = xr.DataArray(
        rng.standard_normal((4, 6, 3)),
        dims=("stimulus", "time", "unit"),
        coords={"stimulus": list("wxyz"), "time": np.linspace(0, 0.5, 6), "unit": list("pqr")},
    )
    assert data.validate(da) == "epochs"
    with pytest.raises(SchemaError, match=r"^meg has a 'time' dim .*meg\.sel\(time=slice"):
        data.validate(da, kind="responses", name="meg")
    window = da.sel(time=slice(0.1, 0.3)).mean("time")
    assert data.validate(window, kind="responses") == "responses"
    with pytest.raises(SchemaError, match=r"Transpose, e\.g\. obj\.transpose"):
        data.validate(da.transpose("stimulus", "unit", "time"), kind="epochs")
    with pytest.raises(SchemaError, match="'time' coordinate in seconds"):
        data.validate(da.drop_vars("time"))
    with pytest.raises(SchemaError, match="strictly increasing"):
        data.validate(da.isel(time=[0, 2, 1, 3, 4, 5]))
    # a set holding epochs is a valid set, but not analysis-ready responses
    assert data.validate({"MEG": da}) == "set"


def _epochs(rng, ids):
    return data.responses(
        rng.standard_normal((len(ids), 3, 5, 6)),
        repetition=["run1", "run2", "run3"],
        time=np.arange(5) / 100,
        stimulus=ids,
        region="occipital",
    )


def test_every_family_refuses_epochs_instead_of_reading_time_as_repetitions(rng):
    from neurorep import alignment, encoding, rsa, selectivity, stats, topology

    ids = [f"s{i:02d}" for i in range(12)]
    meg = _epochs(rng, ids)
    avg = meg.mean("repetition")  # (stimulus, time, unit): the layout that used to be misread
    feats = data.responses(rng.standard_normal((12, 4)), stimulus=ids)
    acts = data.activations({"l1": feats.values}, stimulus=ids)
    calls = {
        "compute_rdm": lambda: rsa.compute_rdm(avg, metric="correlation"),
        "crossnobis": lambda: rsa.compute_rdm(meg, metric="crossnobis"),
        "compute_rdm on a set": lambda: rsa.compute_rdm({"occipital": avg}),
        "noise precision": lambda: rsa.compute_noise_precision(meg),
        "noise_ceiling": lambda: stats.noise_ceiling(avg),
        "noise_ceiling 4-D": lambda: stats.noise_ceiling(meg),
        "fit_ridge": lambda: encoding.fit_ridge(feats, avg, cv=3),
        "fit_ridge features": lambda: encoding.fit_ridge(avg, feats.isel(unit=[0]), cv=3),
        "score_matrix": lambda: alignment.score_matrix({"occipital": avg}, acts, n_bootstrap=0, rng=0),
        "persistence": lambda: topology.persistence(avg),
        "score_captions": lambda: selectivity.score_captions(
            {u: "word" for u in avg.unit.values}, avg, embed=selectivity.hashing_embedder(8), rng=0
        ),
    }
    for label, call in calls.items():
        with pytest.raises(SchemaError, match=r"(epochs|'time' dim).*sel\(time=slice"):
            call()
        assert label
    # averaging a window gives the one-pattern-per-stimulus responses the analyses take
    window = avg.sel(time=slice(0.01, 0.03)).mean("time")
    got = rsa.compute_rdm(window, metric="euclidean")
    manual = data.responses(avg.values[:, 1:4].mean(1), stimulus=ids)
    np.testing.assert_allclose(got.values, rsa.compute_rdm(manual, metric="euclidean").values)
    assert stats.noise_ceiling(meg.sel(time=0.02)).sizes["unit"] == 6


def test_epochs_round_trip_through_files_and_rsatoolbox(rng, tmp_path):
    from rsatoolbox.data import TemporalDataset

    meg = _epochs(rng, ["b", "a", "c"])
    for ext in ("nc", "zarr"):
        xr.testing.assert_identical(data.load(data.save(meg, tmp_path / f"m.{ext}")), meg)
    ds = data.to_rsatoolbox(meg)
    assert isinstance(ds, TemporalDataset) and ds.measurements.shape == (9, 6, 5)
    np.testing.assert_allclose(ds.measurements[4], meg.sel(stimulus="a", repetition="run2").T)
    back = data.from_rsatoolbox(ds, repetition="repetition")
    xr.testing.assert_allclose(back, meg)
    assert list(back.region.values) == ["occipital"] * 6


# ----------------------------------------------------------------------------- nothing dropped
@pytest.mark.parametrize(
    "make",
    [
        lambda v: data.responses(v.astype(np.complex64) * 1j),
        lambda v: data.activations({"conv": v + 0.5j}),
        lambda v: data.rdm(np.array([1.0, 2.0, 4.0]) + 1e-3j, stimulus=list("xyz")),
        lambda v: data.validate(xr.DataArray(v + 0j, dims=("stimulus", "unit"),
                                             coords={"stimulus": list("pqrs"), "unit": list("uvw")})),
    ],
)
def test_complex_values_are_refused(rng, make):
    with pytest.raises(SchemaError, match=r"must be real; got complex.*np\.abs"):
        make(rng.standard_normal((4, 3)))


@pytest.mark.parametrize(
    ("scale", "dtype"), [(1e180, np.float64), (1e300, np.float64), (1e21, np.float32)]
)
def test_values_whose_squares_overflow_are_kept_and_rdms_stay_finite_or_refused(
    rng, scale, dtype
):
    from neurorep import rsa

    vals = (rng.standard_normal((6, 4)) * scale).astype(dtype)
    # the data layer keeps finite values whatever their scale (nothing silently changed) ...
    np.testing.assert_array_equal(data.responses(vals).values, vals)
    # ... and the kernels that square them are exact (correlation is scale-free) or refuse
    corr = rsa.compute_rdm(data.responses(vals), metric="correlation")
    ref = rsa.compute_rdm(data.responses(vals / scale), metric="correlation")
    np.testing.assert_allclose(corr.values, ref.values, atol=1e-5 if dtype == np.float32 else 1e-12)
    try:  # exact rescaling, or a refusal that names the overflow: never inf/NaN
        eucl = rsa.compute_rdm(data.responses(vals), metric="euclidean").values
    except (SchemaError, ValueError) as err:
        assert "overflow" in str(err) or "too large" in str(err)
    else:
        ref = rsa.compute_rdm(data.responses(vals / scale), metric="euclidean").values
        np.testing.assert_allclose(eucl / scale, ref, rtol=1e-5)
    with pytest.raises(SchemaError, match="dissimilarities are too large"):
        data.rdm(np.array([1.0, 3.0, 2.0]) * (1e160 if dtype == np.float32 else scale))
    # NaN is still reported as NaN
    vals[2, 1] = np.nan
    with pytest.raises(SchemaError, match="must be finite"):
        data.responses(vals)


def test_large_but_safe_values_pass(rng):
    vals = rng.standard_normal((5, 3)) * 1e100
    r = data.responses(vals)
    np.testing.assert_array_equal(r.values, vals)
    assert data.validate(data.rdm(np.array([1.0, 2.0, 3.0]) * 1e150)) == "rdm"


@pytest.mark.parametrize(
    "items",
    [
        {"subj01": 0, "subj01/IT": 1},
        {"a/b/c": 0, "a/b": 1},
        {"V1": 0, "/V1": 1},
        {"models//x": 0},
        {"": 0},
        {7: 0, "7": 1},
    ],
)
def test_tree_members_that_would_be_dropped_are_refused(rng, items):
    reps = [data.responses(rng.standard_normal((3, 2))) for _ in range(2)]
    with pytest.raises(SchemaError, match="dropped|not a valid tree path"):
        data.tree_from_members({k: reps[v] for k, v in items.items()})


def test_members_keep_every_member(rng):
    a, b = (data.responses(rng.standard_normal((3, 2))) for _ in range(2))
    tree = data.tree_from_members({"s1/IT": a, "s1/V1": b, "s2": a})
    assert sorted(data.members(tree)) == ["s1/IT", "s1/V1", "s2"]
    with pytest.raises(SchemaError, match="same name '3'"):
        data.members({3: a, "3": b})
    with pytest.raises(SchemaError, match="same name '0.5'"):
        data.activations({0.5: a.values, "0.5": b.values})
    inner = xr.DataTree.from_dict({"/x": a.to_dataset(name="r"), "/x/y": b.to_dataset(name="r")})
    with pytest.raises(SchemaError, match="node 'x' holds data variables"):
        data.members(inner)
    assert data.members(xr.DataTree(a.to_dataset(name="r"))) == {}  # a lone node is no set


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"unit_coords": {"unit": ["u", "v"]}}, r"replace the 'unit'.*pass the ids with unit="),
        ({"unit_coords": {"repetition": [1, 2]}}, "replace the 'repetition'"),
        ({"stimulus_coords": {"stimulus": ["p", "q", "r"]}}, "replace the 'stimulus'"),
        ({"stimulus_coords": {"time": [0, 1, 2]}}, "replace the 'time'"),
        ({"subject": "s1", "unit_coords": {"subject": ["s1", "s2"]}}, "given twice"),
        ({"stimulus_coords": {"subject": ["a", "b", "c"]}}, "per-unit coordinate"),
        ({"unit_coords": {"hemi": ["L", "R"]}, "stimulus_coords": {"hemi": [0, 1, 0]}},
         "both unit_coords and stimulus_coords"),
    ],
)
def test_coordinates_that_would_replace_ids_are_refused(rng, kwargs, match):
    with pytest.raises(SchemaError, match=match):
        data.responses(rng.standard_normal((3, 2)), stimulus=["s1", "s2", "s3"], **kwargs)


def test_select_stimuli_refuses_repeated_or_missing_ids(rng, acts):
    r = data.responses(rng.standard_normal((4, 2)), stimulus=list("pqrs"))
    with pytest.raises(AlignmentError, match=r"distinct.*\['q'\]"):
        data.select_stimuli(r, ["q", "s", "q"])
    with pytest.raises(AlignmentError, match=r"not in the responses.*\['t'\]"):
        data.select_stimuli(r, ["p", "t"])
    d = data.rdm(rng.random(6), stimulus=list("pqrs"))
    with pytest.raises(AlignmentError, match="distinct"):
        data.select_stimuli(d, ["p", "p"])
    with pytest.raises(AlignmentError, match="distinct"):
        data.select_stimuli(acts, ["a", "b", "a"])
    assert list(data.select_stimuli(r, ["s", "p"]).stimulus.values) == ["s", "p"]


def test_select_and_align_reorder_the_rdm_nodes_of_a_tree(rng):
    resp = data.responses(rng.standard_normal((4, 3)), stimulus=list("abcd"))
    model = data.rdm(rng.random(6), stimulus=list("abcd"), metric="model")
    tree = data.tree_from_members({"brain": resp, "models/m": model})
    other = data.responses(rng.standard_normal((4, 2)), stimulus=list("dbca"))
    _, t2 = data.align(other, tree)
    got = data.members(t2)["models/m"]
    assert list(got.stimulus_i.values) == list("dbca") == list(got.stimulus_j.values)
    xr.testing.assert_identical(got, model.sel(stimulus_i=list("dbca"), stimulus_j=list("dbca")))
    assert list(data.members(t2)["brain"].stimulus.values) == list("dbca")


# ----------------------------------------------------------------------------- clear errors
def test_activations_needs_a_mapping_and_a_depth_per_layer(rng):
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    with pytest.raises(SchemaError, match=r"mapping \{layer_name: values\}.*got a tuple"):
        data.activations((x, y))
    acts = data.activations({"a": x, "b": y})
    with pytest.raises(SchemaError, match="already a DataTree"):
        data.activations(acts)
    with pytest.raises(SchemaError, match=r"missing \['b'\], unknown \[\]"):
        data.activations({"a": x, "b": y}, depth={"a": 0.2})
    with pytest.raises(SchemaError, match=r"missing \[\], unknown \['c'\]"):
        data.activations({"a": x, "b": y}, depth={"a": 0.2, "b": 0.4, "c": 1.0})
    ok = data.activations({"a": x, "b": y}, depth={"b": 0.9, "a": 0.1})
    assert ok["a"].attrs["depth"] == 0.1 and ok["b"].attrs["depth"] == 0.9


@pytest.mark.parametrize("obj", ["dataset.npy", np.eye(3), {"stimulus": ["a"]}])
def test_from_rsatoolbox_names_what_it_takes(obj):
    with pytest.raises(SchemaError, match=r"rsatoolbox\.data\.Dataset or rsatoolbox\.rdm\.RDMs; got"):
        data.from_rsatoolbox(obj)


def test_from_rsatoolbox_refuses_two_observations_in_one_repetition(rng):
    from rsatoolbox.data import Dataset

    ds = Dataset(
        rng.standard_normal((6, 2)),
        obs_descriptors={"stimulus": list("xxyyzz"), "session": [1, 2, 1, 2, 2, 2]},
    )
    with pytest.raises(SchemaError, match="'z' has 2 observations in repetition '2'"):
        data.from_rsatoolbox(ds, repetition="session")


# ----------------------------------------------------------------------------- NIfTI as it is
def _volumes(rng, shape=(5, 4, 3), n=4, affine=None):
    import nibabel as nib

    affine = np.diag([2.0, 2.0, 2.5, 1.0]) if affine is None else affine
    vols = rng.standard_normal((*shape, n)).astype(np.float32)
    mask = np.zeros(shape, dtype=np.uint8)
    mask[1:4, 1:3, 1:3] = 1
    return vols, mask, affine, nib.Nifti1Image(mask, affine)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_from_nifti_refuses_non_finite_voxels_inside_the_mask(rng, bad):
    import nibabel as nib

    vols, mask, affine, mimg = _volumes(rng)
    vols[0, 0, 0, :] = np.nan  # outside the mask: never read, allowed
    r = data.from_nifti(nib.Nifti1Image(vols, affine), mimg)
    assert np.isfinite(r.values).all() and r.sizes["unit"] == int(mask.sum())
    vols[2, 2, 1, 3] = bad  # inside: nilearn's masker would return 0 here
    with pytest.raises(SchemaError, match=r"1 NaN/inf value\(s\) in 1 in-mask voxel.*\(2, 2, 1\)"):
        data.from_nifti(nib.Nifti1Image(vols, affine), mimg, stimulus=list("abcd"))
    with pytest.raises(SchemaError, match="in-mask voxel"):  # a list of 3-D images too
        data.from_nifti([nib.Nifti1Image(vols[..., t], affine) for t in range(4)], mimg)


def test_from_nifti_refuses_a_mask_on_another_grid(rng):
    import nibabel as nib

    vols, mask, affine, _ = _volumes(rng)
    img = nib.Nifti1Image(vols, affine)
    finer = nib.Nifti1Image(np.ones((10, 8, 6), dtype=np.uint8), np.diag([1.0, 1.0, 1.25, 1.0]))
    with pytest.raises(SchemaError, match=r"another grid.*mask shape \(10, 8, 6\).*resample_to_img"):
        data.from_nifti(img, finer)
    shifted = affine.copy()
    shifted[:3, 3] = [4.0, 0.0, 0.0]  # same shape, other place in the world
    with pytest.raises(SchemaError, match="another grid"):
        data.from_nifti(img, nib.Nifti1Image(mask, shifted))


def test_from_nifti_on_the_real_haxby_slice(data_home):
    import nibabel as nib
    from nilearn.image import resample_img

    folder = data_home / "haxby2001_subj1_slice_pymvpa"
    bold, mask = nib.load(folder / "bold.nii.gz"), nib.load(folder / "mask.nii.gz")
    vols = np.asarray(bold.dataobj)
    in_mask = np.asarray(mask.dataobj) != 0
    r = data.from_nifti(bold, mask)
    assert r.dims == ("time", "unit") and r.shape == (1452, 530)
    np.testing.assert_array_equal(r.values, vols[in_mask].T.astype(np.float32))
    # a float copy with one dropped-out sample inside the mask
    holes = vols.astype(np.float32)
    i, j, k = np.argwhere(in_mask)[100]
    holes[i, j, k, 700] = np.nan
    with pytest.raises(SchemaError, match=rf"in-mask voxel.*\({i}, {j}, {k}\)"):
        data.from_nifti(nib.Nifti1Image(holes, bold.affine), mask)
    # the mask at twice the voxel size: nilearn would resample the BOLD to it
    coarse = resample_img(
        mask, target_affine=np.diag([6.2, 7.5, 3.75]), interpolation="nearest",
        force_resample=True, copy_header=True,
    )
    with pytest.raises(SchemaError, match="another grid"):
        data.from_nifti(bold, coarse)


# ----------------------------------------------------------------------------- nothing lost on disk
def _leftovers(folder, keep):
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


@pytest.mark.parametrize("ext", ["nc", "zarr"])
def test_unnamed_dataarray_round_trips(rng, tmp_path, ext):
    da = xr.DataArray(rng.standard_normal((3, 2)), dims=("x", "y"), coords={"x": [1, 2, 3]},
                      attrs={"units": "mV"})
    back = data.load(data.save(da, tmp_path / f"u.{ext}"))
    assert back.name is None
    xr.testing.assert_identical(back, da)
    named = data.load(data.save(da.rename("lfp"), tmp_path / f"n.{ext}"))
    assert named.name == "lfp"


@pytest.mark.parametrize("ext", ["nc", "zarr"])
def test_save_into_a_missing_folder_says_so(resp, tmp_path, ext):
    target = tmp_path / "results" / "run1" / f"r.{ext}"
    with pytest.raises(FileNotFoundError, match=r"folder .*run1' does not exist.*mkdir\(parents=True\)"):
        data.save(resp, target)
    assert not (tmp_path / "results").exists()


def _failing_copy(da):
    """``da`` with lazy values whose second chunk fails to compute (a write that dies midway)."""
    import dask.array as dsk

    def values(block, block_info=None):
        if block_info[None]["chunk-location"][0] == 1:
            raise OSError("simulated disk failure")
        return block * 2

    lazy = dsk.from_array(da.values, chunks=(2, -1)).map_blocks(values, dtype=da.dtype)
    return da.copy(data=lazy)


@pytest.mark.parametrize("ext", ["nc", "zarr"])
def test_a_failed_overwrite_keeps_the_old_object_and_leaves_no_temporaries(resp, tmp_path, ext):
    path = data.save(resp, tmp_path / f"r.{ext}")
    with pytest.raises(OSError, match="simulated disk failure"):
        data.save(_failing_copy(resp), path, overwrite=True)
    xr.testing.assert_identical(data.load(path), resp)
    assert _leftovers(tmp_path, {path.name}) == []
    with pytest.raises(SchemaError, match="cannot be saved"):  # fails before touching the disk
        data.save(resp.assign_attrs(fit=object()), path, overwrite=True)
    xr.testing.assert_identical(data.load(path), resp)
    data.save(resp * 3, path, overwrite=True)  # and a good overwrite still works
    np.testing.assert_allclose(data.load(path).values, resp.values * 3)
    assert _leftovers(tmp_path, {path.name}) == []


def test_a_failed_zarr_swap_puts_the_old_folder_back(resp, tmp_path, monkeypatch):
    import os

    from neurorep.data import _io

    path = data.save(resp, tmp_path / "r.zarr")
    real = os.replace

    def replace(src, dst):
        if str(src).endswith(".partial"):
            raise OSError("simulated rename failure")
        real(src, dst)

    monkeypatch.setattr(_io.os, "replace", replace)
    with pytest.raises(OSError, match="simulated rename failure"):
        data.save(resp * 5, path, overwrite=True)
    monkeypatch.undo()
    xr.testing.assert_identical(data.load(path), resp)
    assert _leftovers(tmp_path, {path.name}) == []


def test_leftovers_of_a_writer_that_died_are_cleaned_up(resp, tmp_path):
    nc = data.save(resp, tmp_path / "r.nc")
    (tmp_path / ".r.nc.0123abcd.partial").write_bytes(b"half a file")
    (tmp_path / "r.nc.partial").write_bytes(b"an earlier version's temporary")
    data.save(resp * 2, nc, overwrite=True)
    assert _leftovers(tmp_path, {"r.nc"}) == []
    # a zarr swap that died between its two renames: the old folder is put back
    z = data.save(resp, tmp_path / "z.zarr")
    z.rename(tmp_path / ".z.zarr.feedbeef.old")
    (tmp_path / ".z.zarr.cafe.partial").mkdir()
    with pytest.raises(FileExistsError):
        data.save(resp * 7, z)
    xr.testing.assert_identical(data.load(z), resp)
    assert _leftovers(tmp_path, {"r.nc", "z.zarr"}) == []


def _save_in_a_process(path, seed, overwrite, barrier, results):
    """Runs in a child process: build an object, wait for the others, save."""
    import numpy as np

    from neurorep import data

    values = np.random.default_rng(seed).standard_normal((600, 400))
    obj = data.responses(values, attrs={"writer": seed})
    barrier.wait()
    try:
        data.save(obj, path, overwrite=overwrite)
        results.put((seed, "saved"))
    except FileExistsError:
        results.put((seed, "exists"))
    except BaseException as err:  # reported to the test
        results.put((seed, repr(err)))


@pytest.mark.parametrize(("ext", "overwrite"), [("nc", False), ("zarr", False), ("zarr", True)])
def test_concurrent_saves_to_one_path_never_both_succeed_silently(tmp_path, ext, overwrite):
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    n = 3
    path = tmp_path / f"shared.{ext}"
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [
        ctx.Process(target=_save_in_a_process, args=(path, seed, overwrite, barrier, results))
        for seed in range(n)
    ]
    for p in procs:
        p.start()
    outcome = dict(results.get(timeout=240) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    saved = sorted(seed for seed, what in outcome.items() if what == "saved")
    assert all(what in ("saved", "exists") for what in outcome.values()), outcome
    if overwrite:
        assert saved == list(range(n))  # serialised: each replaced the previous one
    else:
        assert len(saved) == 1 and list(outcome.values()).count("exists") == n - 1, outcome
    back = data.load(path)
    writer = back.attrs["writer"]
    if not overwrite:
        assert writer == saved[0]
    expected = np.random.default_rng(writer).standard_normal((600, 400))
    np.testing.assert_array_equal(back.values, expected)  # one complete object, not a mix
    assert _leftovers(tmp_path, {path.name}) == []


def test_check_rdm_layout_is_the_cheap_public_check(rng):
    """Layout only: dims, squareness, ids, dtype -- the values are not read (NaN passes)."""
    ids = list("abcd")
    r = data.rdm(rng.random(6), stimulus=ids)
    data.check_rdm_layout(r)
    holey = r.copy(data=np.where(np.eye(4, dtype=bool), 0.0, np.nan))
    data.check_rdm_layout(holey)  # values are rdm_vectors' job
    with pytest.raises(SchemaError, match="values must be finite"):
        data.rdm_vectors(holey)
    with pytest.raises(SchemaError, match=r"mine: an RDM's last two dims must be"):
        data.check_rdm_layout(r.rename(stimulus_i="x"), name="mine")
    with pytest.raises(SchemaError, match="must be square"):
        data.check_rdm_layout(r.isel(stimulus_j=slice(0, 3)))
    with pytest.raises(SchemaError, match="same ids in the same order"):
        data.check_rdm_layout(r.assign_coords(stimulus_j=list("abdc")))
    with pytest.raises(SchemaError, match="numeric"):
        data.check_rdm_layout(r.astype(str))
