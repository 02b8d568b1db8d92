"""Cortical surfaces: from_surface / to_surface (GIfTI, MGH, SurfaceImage), the surface
searchlight and the surface map plot, on fsaverage5 as shipped with nilearn."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import nibabel as nib
import numpy as np
import pytest
import xarray as xr
from nilearn.datasets import load_fsaverage
from nilearn.surface import SurfaceImage

from neurorep import SchemaError, rsa
from neurorep.data import from_surface, surface_neighbourhoods, to_surface

N5 = 10242


def _maps(rng, n_maps=3):
    return rng.normal(size=(N5, n_maps)), rng.normal(size=(N5, n_maps))


def test_gifti_and_mgh_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    lh, rh = _maps(rng)
    resp = from_surface(lh, rh, stimulus=["a", "b", "c"], mesh="fsaverage5")
    assert resp.dims == ("stimulus", "unit") and resp.sizes["unit"] == 2 * N5
    assert resp.attrs["mesh"] == "fsaverage5"
    for template in (str(tmp_path / "m_{hemi}.gii"), str(tmp_path / "{hemi}.m.mgh")):
        img = to_surface(resp, filename=template)
        assert isinstance(img, SurfaceImage) and img.shape == (2 * N5, 3)
        back = from_surface(template.format(hemi="lh"), template.format(hemi="rh"),
                            stimulus=["a", "b", "c"], mesh="fsaverage5")
        np.testing.assert_allclose(back.values, resp.values, rtol=1e-6)  # float32 on disk
    # the left file holds the left data, vertex by vertex (independent of neurorep's reader)
    gii = nib.load(tmp_path / "m_lh.gii")
    np.testing.assert_allclose(gii.darrays[1].data, lh[:, 1], rtol=1e-6)
    mgh = np.asarray(nib.load(tmp_path / "rh.m.mgh").dataobj).reshape(N5, 3)
    np.testing.assert_allclose(mgh, rh, rtol=1e-6)


def test_surface_image_round_trip_aligns_by_vertex():
    rng = np.random.default_rng(1)
    lh, rh = _maps(rng, 1)
    resp = from_surface(lh[:, 0], rh[:, 0], mesh="fsaverage5")
    shuffled = resp.isel(unit=rng.permutation(resp.sizes["unit"]))  # units in another order
    img = to_surface(shuffled.isel(stimulus=0))
    np.testing.assert_allclose(np.asarray(img.data.parts["left"]), lh[:, 0])
    again = from_surface(img)
    np.testing.assert_allclose(again.values[0], np.r_[lh[:, 0], rh[:, 0]])


def test_masked_vertices_fill_nan():
    rng = np.random.default_rng(2)
    lh, rh = _maps(rng, 1)
    mask = {"left": np.arange(N5) < 50, "right": np.zeros(N5, bool)}
    mask["right"][[3, 9]] = True
    resp = from_surface(lh, rh, mesh="fsaverage5", mask=mask)
    assert resp.sizes["unit"] == 52
    img = to_surface(resp.isel(stimulus=0))
    right = np.asarray(img.data.parts["right"])
    assert np.isnan(right).sum() == N5 - 2 and right[9] == pytest.approx(rh[9, 0])


def test_bad_surface_inputs(tmp_path):
    rng = np.random.default_rng(3)
    lh, rh = _maps(rng, 2)
    with pytest.raises(SchemaError, match=r"2 maps.*3.*same maps"):
        from_surface(lh, np.c_[rh, rh[:, :1]])
    nib.save(nib.MGHImage(np.zeros((40962, 1, 1, 2), np.float32), np.eye(4)), tmp_path / "rh.x.mgh")
    with pytest.raises(SchemaError, match=r"rh\.x\.mgh.*40962 vertices.*fsaverage5 has 10242"):
        from_surface(lh, tmp_path / "rh.x.mgh", mesh="fsaverage5")
    fine = from_surface(np.zeros((40962, 1)), np.zeros((40962, 1)), mesh="fsaverage6")
    with pytest.raises(SchemaError, match=r"up to 40961.*10242 vertices.*vertex < 10242"):
        to_surface(fine.isel(stimulus=0))
    with pytest.raises(ValueError, match=r"downloads nothing"):
        to_surface(fine.isel(stimulus=0), mesh="fsaverage6")
    plain = xr.DataArray(np.zeros(4), dims="unit")
    with pytest.raises(SchemaError, match="vertex and hemisphere"):
        to_surface(plain)


def test_neighbourhoods_match_scipy_on_the_mesh():
    from scipy.spatial.distance import cdist

    resp = from_surface(np.zeros((N5, 1)), np.zeros((N5, 1)), mesh="fsaverage5")
    sub = resp.isel(unit=np.r_[0:300, N5 : N5 + 300])
    euc = surface_neighbourhoods(sub, radius=12.0, distance="euclidean")
    xyz = load_fsaverage("fsaverage5")["pial"].parts["left"].coordinates[:300]
    want = np.flatnonzero(cdist(xyz[:1], xyz)[0] <= 12.0)
    np.testing.assert_array_equal(euc[0], want)
    geo = surface_neighbourhoods(sub, radius=12.0, distance="geodesic")
    assert set(geo[0]) <= set(euc[0]) | set(range(300))  # along the mesh is never shorter
    assert all(n.max() < 300 for n in geo[:300]) and all(n.min() >= 300 for n in geo[300:])
    assert 0 in geo[0]


def test_surface_searchlight_finds_a_planted_patch():
    rng = np.random.default_rng(4)
    n_stim = 12
    lh = rng.normal(size=(N5, n_stim))
    rh = rng.normal(size=(N5, n_stim))
    xyz = load_fsaverage("fsaverage5")["pial"].parts["left"].coordinates
    centre = 500
    patch = np.flatnonzero(np.linalg.norm(xyz - xyz[centre], axis=1) < 15)
    model_feat = rng.normal(size=(n_stim, 4))
    lh[patch] = (model_feat @ rng.normal(size=(4, patch.size))).T * 3 + lh[patch] * 0.3
    stim = [f"s{i}" for i in range(n_stim)]
    resp = from_surface(lh, rh, stimulus=stim, mesh="fsaverage5")
    keep = np.r_[np.flatnonzero(np.linalg.norm(xyz - xyz[centre], axis=1) < 40), N5 + np.arange(200)]
    resp = resp.isel(unit=keep)
    from neurorep.data import responses

    model = rsa.compute_rdm(responses(model_feat, stimulus=stim))
    scores = rsa.searchlight(resp, model, radius=8.0, chunk_size=200, scheduler="synchronous")
    s = scores.isel(model=0)
    inside = np.isin(s["vertex"].values, patch) & (s["hemisphere"].values == "left")
    assert float(s[inside].mean()) > 0.5 > float(s[~inside & (s["hemisphere"].values == "right")].mean())
    assert s.attrs["distance"] == "geodesic" and "vertex" in s.coords


def test_plot_surface_map_continuous_and_categorical():
    import matplotlib.pyplot as plt

    from neurorep.plotting import PlotDisplay, plot_surface_map

    rng = np.random.default_rng(5)
    score = from_surface(rng.normal(size=N5), rng.normal(size=N5), mesh="fsaverage5").isel(stimulus=0)
    disp = plot_surface_map(score, title="score")
    assert isinstance(disp, PlotDisplay) and len(disp.axes_) == 2
    layers = score.copy(data=np.array(["conv1", "conv3", "fc"], dtype=object)[rng.integers(0, 3, score.size)])
    fig, ax = plt.subplots()
    disp2 = plot_surface_map(layers, hemispheres=("left",), ax=ax)
    assert disp2.figure_ is fig and len(disp2.axes_) == 1
    assert sorted(t.get_text() for t in fig.legends[0].get_texts()) == ["conv1", "conv3", "fc"]
    with pytest.raises(SchemaError, match="single dim 'unit'"):
        plot_surface_map(score.expand_dims(stimulus=["a"]))
    plt.close("all")
