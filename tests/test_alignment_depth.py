"""neurorep.alignment.peak_depth: a depth summary that tells flat layer profiles from peaked ones."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurorep import SchemaError, datasets
from neurorep.alignment import depth_index, peak_depth, score_matrix


def _profiles(rows, depth=None, names=None):
    rows = np.asarray(rows, float)
    depth = np.linspace(0, 1, rows.shape[1]) if depth is None else depth
    return xr.DataArray(
        rows, dims=("region", "layer"),
        coords={"region": names or [f"r{i}" for i in range(len(rows))],
                "layer": [f"L{j}" for j in range(rows.shape[1])], "depth": ("layer", depth)})


def test_flat_and_peaked_profiles_are_told_apart():
    # nearly flat profiles peaking at the first, middle and last of 7 layers: the centre of mass
    # cannot separate them, the peak depth does, and the contrast says how flat each one is
    base = np.full(7, 0.74)
    rows = [base + 0.03 * (np.arange(7) == k) for k in (0, 3, 6)]
    s = _profiles(rows + [np.full(7, 0.3), [0.0, 0.1, 0.5, 0.9, 0.5, 0.1, 0.0]])
    com = depth_index(s).values
    assert np.ptp(com[:3]) < 0.02  # the old index: 0.48 / 0.50 / 0.52
    p = peak_depth(s)
    np.testing.assert_allclose(p.peak_depth.values, [0.0, 0.5, 1.0, 0.0, 0.5])
    assert list(p.peak_layer.values) == ["L0", "L3", "L6", "L0", "L3"]
    np.testing.assert_allclose(p.peak_contrast.values, [0.03 / 0.77] * 3 + [0.0, 1.0])
    # plateau: the flat profile ties everywhere, the sharp peak nowhere
    width = (p.plateau_high - p.plateau_low).values
    assert width[3] == 1.0 and width[4] == 0.0
    np.testing.assert_allclose(width[:3], 1.0)  # 0.03 below the peak is within 5% of 0.77
    p1 = peak_depth(s, tolerance=0.01)
    np.testing.assert_allclose((p1.plateau_high - p1.plateau_low).values[:3], 0.0)


def test_matches_an_independent_reference(rng):
    vals = rng.uniform(-0.2, 1.0, size=(6, 9))
    depth = np.sort(rng.uniform(0, 1, 9))
    p = peak_depth(_profiles(vals, depth), tolerance=0.1)
    for i, row in enumerate(vals):
        j = row.argmax()
        assert p.peak_depth.values[i] == depth[j]
        assert p.peak_contrast.values[i] == pytest.approx((row.max() - row.min()) / abs(row.max()))
        tied = depth[row >= row.max() - 0.1 * abs(row.max())]
        assert (p.plateau_low.values[i], p.plateau_high.values[i]) == (tied.min(), tied.max())


def test_ci_rule_and_layer_order_invariance():
    score = np.array([[0.2, 0.5, 0.45, 0.1]])
    ds = xr.Dataset(
        {"score": (("region", "layer"), score),
         "ci_low": (("region", "layer"), score - 0.03),
         "ci_high": (("region", "layer"), score + 0.03)},
        coords={"region": ["IT"], "layer": list("abcd"), "depth": ("layer", [0, 1 / 3, 2 / 3, 1])})
    p = peak_depth(ds)
    # c's upper bound 0.48 reaches b's lower bound 0.47: they tie; a and d do not
    assert (float(p.plateau_low[0]), float(p.plateau_high[0])) == pytest.approx((1 / 3, 2 / 3))
    assert "CI" in p.attrs["tie_rule"]
    shuffled = peak_depth(ds.isel(layer=[3, 1, 0, 2]))
    xr.testing.assert_identical(p, shuffled)
    # NaN CIs (n_boot=0) fall back to the tolerance rule
    p0 = peak_depth(ds.assign(ci_low=ds.ci_low * np.nan), tolerance=0.05)
    assert float(p0.plateau_low[0]) == float(p0.plateau_high[0]) == pytest.approx(1 / 3)


def test_all_nan_profile_and_extra_dims():
    s = _profiles([[np.nan, np.nan, np.nan], [0.1, np.nan, 0.3]])
    p = peak_depth(s)
    assert np.isnan(p.peak_depth.values[0]) and p.peak_layer.values[0] == ""
    assert p.peak_depth.values[1] == 1.0
    stacked = xr.concat([s, 0.5 * s], dim="subject").transpose("layer", "subject", "region")
    assert peak_depth(stacked).peak_depth.dims == ("subject", "region")


def test_planted_depths_recovered_from_a_score_matrix():
    acts = datasets.make_model_activations(120, rng=1)
    names = list(acts.children)
    regions = {"early": names[0], "late": names[-1]}
    sim = datasets.make_layered_brain(acts, regions=regions, n_units=40, n_repetitions=2,
                                      noise=0.5, rng=1)
    res = score_matrix(sim["brain"], acts, metric="cka", n_bootstrap=20, rng=0)
    p = peak_depth(res)
    assert p.peak_layer.sel(region="early").item() == names[0]
    assert p.peak_layer.sel(region="late").item() == names[-1]
    assert float(p.peak_depth.sel(region="late")) == 1.0


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (xr.Dataset({"x": ("layer", [1.0])}), "needs a 'score' variable"),
        (xr.DataArray([1.0, 2.0], dims="lyr"), "need a 'layer' dim"),
        (xr.DataArray([1.0, 2.0], dims="layer"), "'depth' coordinate"),
        ([1.0, 2.0], "expected a score_matrix Dataset"),
    ],
)
def test_bad_input(bad, match):
    with pytest.raises(SchemaError, match=match):
        peak_depth(bad)


@pytest.mark.parametrize("tol", [-0.1, 1.0, "0.1", True])
def test_bad_tolerance(tol):
    with pytest.raises(ValueError, match="tolerance must be a number in"):
        peak_depth(_profiles([[0.1, 0.2]]), tolerance=tol)
