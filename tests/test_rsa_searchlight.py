"""neurorep.rsa.searchlight (nilearn spheres, dask) and neurorep.plotting.rsa."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurorep import SchemaError, data, rsa

nib = pytest.importorskip("nibabel")


@pytest.fixture
def volume(rng):
    """8 stimuli in a 6 x 5 x 3 volume of 2 mm voxels; category signal only where i < 3."""
    shape = (6, 5, 3)
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    cats = np.repeat([0, 1], 4)
    signal = np.where(cats[:, None] == 0, 1.0, -1.0) * rng.normal(size=(1, 1))
    vol = 0.5 * rng.normal(size=(*shape, 8))
    pattern = rng.normal(size=(3, 5, 3))
    vol[:3] += 3.0 * pattern[..., None] * signal[:, 0][None, None, None, :]
    imgs = nib.Nifti1Image(vol, affine)
    mask = nib.Nifti1Image(np.ones(shape, dtype=np.int8), affine)
    ids = [f"stim{i}" for i in range(8)]
    resp = data.from_nifti(imgs, mask, stimulus=ids)
    model = data.rdm((cats[:, None] != cats[None, :]).astype(float), stimulus=ids, metric="model")
    return resp, model


def test_sphere_scores_equal_direct_computation(volume):
    resp, model = volume
    out = rsa.searchlight(resp, model, radius=2.5, chunk_size=7, scheduler="synchronous")
    assert out.dims == ("model", "unit")
    xyz = np.stack([resp[c].values for c in ("x", "y", "z")], axis=1)
    for centre in (0, 17, 60, 89):
        inside = np.flatnonzero(np.linalg.norm(xyz - xyz[centre], axis=1) <= 2.5)
        assert out.n_voxels.values[centre] == inside.size
        direct = rsa.compare(rsa.compute_rdm(resp.isel(unit=inside)), model)
        assert float(out[0, centre]) == pytest.approx(float(direct), abs=1e-12)


def test_planted_region_is_found_and_maps_back(volume):
    resp, model = volume
    out = rsa.searchlight(resp, {"category": model}, radius=2.5, scheduler="threads")
    left = resp.i.values < 2
    right = resp.i.values > 3
    score = out.sel(model="category").values
    assert np.nanmean(score[left]) > 0.5
    assert np.nanmean(score[right]) < 0.25
    img = data.to_nifti(out.sel(model="category"))
    assert img.shape == (6, 5, 3)
    i, j, k = (int(resp[c].values[5]) for c in ("i", "j", "k"))
    assert img.get_fdata()[i, j, k] == pytest.approx(score[5], abs=1e-6)


def test_crossnobis_searchlight_runs(rng, volume):
    resp, model = volume
    cube = xr.concat([resp, resp + 0.3 * rng.normal(size=resp.shape)], dim="repetition")
    cube = cube.assign_coords(repetition=["r1", "r2"]).transpose("stimulus", "repetition", "unit")
    out = rsa.searchlight(cube, model, radius=2.5, metric="crossnobis", scheduler="synchronous")
    assert np.isfinite(out.values).mean() > 0.9


def test_searchlight_bad_input(rng, volume):
    resp, model = volume
    plain = data.responses(rng.normal(size=(8, 4)), stimulus=resp.stimulus.values)
    with pytest.raises(SchemaError, match="voxel coords"):
        rsa.searchlight(plain, model)
    with pytest.raises(SchemaError, match="crossnobis needs"):
        rsa.searchlight(resp, model, metric="crossnobis")
    with pytest.raises(ValueError, match="radius"):
        rsa.searchlight(resp, model, radius=0)


@pytest.mark.parametrize("chunk_size", [0, -5, 2.5])
def test_chunk_size_must_be_a_positive_integer(volume, chunk_size):
    resp, model = volume
    with pytest.raises(ValueError, match=r"chunk_size must be an integer >= 1.*spheres per dask task"):
        rsa.searchlight(resp, model, chunk_size=chunk_size)


def test_searchlight_other_silent_cases(volume):
    resp, model = volume
    with pytest.raises(ValueError, match="min_voxels must be an integer >= 1"):
        rsa.searchlight(resp, model, min_voxels=0.5)
    # mahalanobis without a noise estimate used to give an all-NaN map
    with pytest.raises(SchemaError, match="mahalanobis.*needs noise="):
        rsa.searchlight(resp, model, metric="mahalanobis")
    cplx = resp.copy(data=resp.values + 0j)
    with pytest.raises(SchemaError, match="complex"):
        rsa.searchlight(cplx, model)


def test_searchlight_scores_do_not_depend_on_the_data_scale(volume):
    """Squared distances of 1e200-scaled voxels overflowed to NaN spheres."""
    resp, model = volume
    ref = rsa.searchlight(resp, model, radius=2.5, metric="squared_euclidean",
                          scheduler="synchronous")
    big = rsa.searchlight(resp.astype(np.float64) * 1e200, model, radius=2.5, metric="squared_euclidean",
                          scheduler="synchronous")
    assert np.isfinite(ref.values).all()
    np.testing.assert_allclose(big.values, ref.values, atol=1e-10)


def test_scale_dependent_method_refuses_rescaled_extreme_data(volume):
    """neg_riem_dist is not scale-free: rescaling 1e200-sized voxels would change its
    scores, so the searchlight refuses them before computing any sphere."""
    resp, model = volume
    with pytest.raises(ValueError, match="depends on the RDMs' scale"):
        rsa.searchlight(resp.astype(np.float64) * 1e200, model, radius=2.5,
                        method="neg_riem_dist", scheduler="synchronous")


def test_haxby_slice_searchlight(data_home):
    from neurorep import datasets

    bold = data.members(datasets.load("haxby2001_subj1_slice", data_home=data_home))["bold"]
    keep = bold.label != "rest"
    means = bold.isel(time=keep.values).groupby("label").mean("time")
    means = means.rename(label="stimulus").transpose("stimulus", "unit")
    means.attrs = bold.attrs
    ids = means.stimulus.values
    faces = data.rdm(
        np.array([[float((a == "face") != (b == "face")) for b in ids] for a in ids]),
        stimulus=ids,
        metric="model",
    )
    out = rsa.searchlight(means, faces, radius=7.0, scheduler="synchronous")
    assert out.sizes["unit"] == 530
    assert np.isfinite(out.values).mean() > 0.95


# ---------------------------------------------------------------- plotting
def test_plot_rdm_mds_and_comparison(rng):
    import matplotlib.pyplot as plt

    from neurorep.plotting.rsa import plot_mds, plot_model_comparison, plot_rdm

    ids = [f"s{i}" for i in range(9)]
    cats = np.repeat(["a", "b", "c"], 3)
    resp = data.responses(
        rng.normal(size=(9, 20)) + 2 * (cats[:, None] == "a"),
        stimulus=ids,
        stimulus_coords={"category": cats},
    )
    r = rsa.compute_rdm(resp).assign_coords(category=("stimulus_i", cats))
    ax = plot_rdm(r, categories="category", rank=True).ax_
    assert len(ax.lines) == 4  # two boundaries, each a horizontal and a vertical line
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    ax = plot_mds(r, categories=cats, labels=True).ax_
    assert len(ax.collections) == 3
    iu = np.triu_indices(9, 1)
    subj = data.rdm(r.values[iu] + 0.1 * rng.random((5, 36)), stimulus=ids, dim="subject")
    models = rsa.stack_rdms({"truth": r, "noise": data.rdm(rng.random(36), stimulus=ids)})
    res = rsa.evaluate(data=subj, models=models, n_bootstrap=50, rng=0)
    ax = plot_model_comparison(res).ax_
    assert len(ax.patches) >= 2
    plt.close("all")


def test_plot_bad_input(rng):
    import matplotlib.pyplot as plt

    from neurorep.plotting.rsa import plot_model_comparison, plot_rdm

    stack = data.rdm(rng.random((2, 3)), stimulus=list("abc"), dim="subject")
    with pytest.raises(SchemaError, match="stack of RDMs"):
        plot_rdm(stack)
    with pytest.raises(SchemaError, match="not a stimulus coord"):
        plot_rdm(stack.isel(subject=0), categories="category")
    with pytest.raises(SchemaError, match="evaluate"):
        plot_model_comparison(xr.Dataset())
    plt.close("all")
