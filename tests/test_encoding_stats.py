"""Permutation tests, FDR and score_prediction (stats helpers used by encoding)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import stats as sps
from sklearn.metrics import r2_score

from neurorep import AlignmentError, SchemaError, data
from neurorep.encoding import score_prediction
from neurorep.stats._fdr import fdr
from neurorep.stats._permutation import make_blocks, permutation_indices, permutation_test


def test_fdr_matches_scipy(rng):
    p = rng.uniform(size=200) ** 3
    for method in ("bh", "by"):
        np.testing.assert_allclose(fdr(p, method=method), sps.false_discovery_control(p, method=method))
    p_nan = np.r_[p[:10], np.nan]
    q = fdr(p_nan)
    assert np.isnan(q[-1])
    np.testing.assert_allclose(q[:-1], sps.false_discovery_control(p[:10]))
    da = xr.DataArray(p[:20].reshape(2, 10), dims=("layer", "unit"))
    out = fdr(da, dim="unit")
    np.testing.assert_allclose(out.values[1], sps.false_discovery_control(p[10:20]))
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        fdr([0.5, 1.5])
    with pytest.raises(ValueError, match="method must be one of"):
        fdr([0.5], method="holm")


def test_blocks_and_block_permutations(rng):
    blocks = make_blocks(10, block_size=3, groups=[0] * 5 + [1] * 5)
    assert blocks.tolist() == [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]
    idx = permutation_indices(10, 50, block_size=3, groups=[0] * 5 + [1] * 5, rng=0)
    for row in idx:
        assert sorted(row.tolist()) == list(range(10))
        # blocks move as wholes: consecutive positions inside a block stay consecutive
        starts = {0: 3, 3: 2, 5: 3, 8: 2}
        pos = 0
        while pos < 10:
            first = row[pos]
            size = starts[int(first)]
            assert row[pos : pos + size].tolist() == list(range(first, first + size))
            pos += size
    within = permutation_indices(10, 30, block_size=2, groups=[0] * 6 + [1] * 4,
                                 within_groups=True, rng=1)
    assert all(set(r[:6]) == set(range(6)) for r in within)
    with pytest.raises(ValueError, match="at least 2 blocks"):
        permutation_indices(4, 5, block_size=4)


def test_permutation_test_is_calibrated_and_detects_signal(rng):
    x = rng.normal(size=40)
    y_null = rng.normal(size=(40, 200))
    y_sig = x[:, None] + rng.normal(size=(40, 3))

    def corr(y):
        def stat(idx):
            yy = y[idx] - y[idx].mean(0)
            xc = x - x.mean()
            return (xc @ yy) / np.sqrt((xc @ xc) * (yy * yy).sum(0))
        return stat

    null = permutation_test(corr(y_null), 40, n_permutations=99, rng=0)
    assert 0.02 < float((null["pvalue"] <= 0.05).mean()) < 0.1  # calibrated under H0
    sig = permutation_test(corr(y_sig), 40, n_permutations=99, rng=0)
    np.testing.assert_allclose(sig["pvalue"], 0.01)
    assert sig["null_distribution"].dims == ("permutation", "unit")
    two = permutation_test(corr(-y_sig), 40, n_permutations=99, rng=0, alternative="two-sided")
    np.testing.assert_allclose(two["pvalue"], 0.01)


def test_score_prediction_reference_and_ci(rng):
    y = rng.normal(size=(80, 3))
    p = y + rng.normal(size=(80, 3))
    res = score_prediction(p, y, n_bootstrap=500, n_permutations=199, rng=0)
    for j in range(3):
        assert float(res["r"][j]) == pytest.approx(sps.pearsonr(p[:, j], y[:, j])[0], abs=1e-12)
        assert float(res["r2"][j]) == pytest.approx(r2_score(y[:, j], p[:, j]), abs=1e-12)
    assert (res["ci_low"] < res["score"]).all() and (res["score"] < res["ci_high"]).all()
    np.testing.assert_allclose(res["pvalue"], 0.005)
    assert res["pvalue_fdr"].dims == ("unit",)
    # matched by stimulus id, not position
    ids = [f"s{i}" for i in range(80)]
    pa = data.responses(p, stimulus=ids)
    ya = data.responses(y, stimulus=ids)
    perm = rng.permutation(80)
    res2 = score_prediction(pa.isel(stimulus=perm), ya)
    np.testing.assert_allclose(res2["r"], res["r"])
    with pytest.raises(AlignmentError):
        score_prediction(pa, ya.assign_coords(stimulus=[f"t{i}" for i in range(80)]))


def test_score_prediction_matches_units_by_id(rng):
    # the units of the prediction in another order score as in the responses' order
    ids = [f"s{i}" for i in range(40)]
    units = ["FFA", "PPA", "EBA", "LOC"]
    y = rng.normal(size=(40, 4))
    p = y + rng.normal(size=(40, 4)) * np.array([0.1, 0.5, 1.0, 3.0])
    ya = data.responses(y, stimulus=ids, unit=units)
    pa = data.responses(p, stimulus=ids, unit=units)
    ref = score_prediction(pa, ya)
    order = [2, 3, 0, 1]
    both = score_prediction(pa.isel(unit=order, stimulus=rng.permutation(40)), ya)
    np.testing.assert_allclose(both["r"], ref["r"], rtol=1e-12)
    assert list(both["unit"].values) == units  # the responses' order
    for j in range(4):
        assert float(ref["r"][j]) == pytest.approx(sps.pearsonr(p[:, j], y[:, j])[0], abs=1e-12)
    # reordered responses: the result follows them, values stay with their unit
    flipped = score_prediction(pa, ya.isel(unit=order))
    np.testing.assert_allclose(flipped["r"].sel(unit=units), ref["r"].values, rtol=1e-12)
    with pytest.raises(AlignmentError, match="share no unit id"):
        score_prediction(pa.assign_coords(unit=["a", "b", "c", "d"]), ya)
    with pytest.raises(AlignmentError, match=r"different units: .* only in prediction e.g. \['MT'\]"):
        score_prediction(pa.assign_coords(unit=["FFA", "PPA", "EBA", "MT"]), ya)
    with pytest.raises(AlignmentError, match="duplicated unit ids"):
        score_prediction(pa.assign_coords(unit=["FFA", "FFA", "EBA", "LOC"]), ya)
    with pytest.raises(AlignmentError, match="different stimuli"):
        score_prediction(pa.isel(stimulus=slice(1, None)), ya)
    # plain arrays carry no ids: matched by position
    np.testing.assert_allclose(score_prediction(p, y)["r"], ref["r"].values)
    # time series: by position, with the same time coordinate when both carry one
    ts_y = xr.DataArray(y, dims=("time", "unit"), coords={"time": np.arange(40)})
    ts_p = xr.DataArray(p, dims=("time", "unit"), coords={"time": np.arange(40)})
    np.testing.assert_allclose(score_prediction(ts_p, ts_y)["r"], ref["r"].values)
    with pytest.raises(AlignmentError, match="different 'time' coordinates"):
        score_prediction(ts_p.assign_coords(time=np.arange(40)[::-1]), ts_y)


def test_score_prediction_refuses_complex_and_huge_resampling(rng):
    y = rng.normal(size=(30, 2))
    with pytest.raises(SchemaError, match=r"prediction: complex values .*\(x\.real\)"):
        score_prediction(y + 0.5j, y)
    with pytest.raises(SchemaError, match="responses: complex values"):
        score_prediction(y, xr.DataArray(y + 1j, dims=("stimulus", "unit")))
    with pytest.raises(MemoryError, match=r"score_prediction .* GB.*fewer bootstrap samples"):
        score_prediction(y, y, n_bootstrap=10**12)
    with pytest.raises(MemoryError, match=r"GB.*fewer permutations"):
        score_prediction(y, y, n_permutations=10**12)


def test_score_prediction_r_is_bounded(rng):
    # nearly identical, large-offset columns: round-off must not push |r| above 1
    base = rng.normal(size=(200, 3))
    y = 1e8 + base
    res = score_prediction(y * (1 + 1e-15), y)
    assert (np.abs(res["r"]) <= 1).all() and (res["r2"] <= 1).all()
    boot = score_prediction(y, y, n_bootstrap=200, rng=0)
    assert (boot["ci_high"] <= 1).all()
