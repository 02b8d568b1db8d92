"""Inference over time (issue #17): MNE cluster tests, peak and onset latencies with CIs."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurorep import SchemaError, stats

mne = pytest.importorskip("mne")


def _courses(n=10, t=None, onset=0.2, effect=0.3, noise=0.1, seed=0):
    t = np.arange(50) / 100 if t is None else t
    g = np.random.default_rng(seed)
    x = effect * (t >= onset) + noise * g.normal(size=(n, t.size))
    return xr.DataArray(x, dims=("subject", "time"), coords={"time": t})


def test_cluster_test_equals_mne_with_the_same_seed():
    da = _courses(n=8)
    res = stats.cluster_test(da, chance=0.0, n_permutations=300, rng=5)
    seed = int(np.random.default_rng(5).integers(2**31 - 1))
    t, clusters, p, _ = mne.stats.permutation_cluster_1samp_test(
        da.values, n_permutations=300, tail=1, out_type="mask", seed=seed, verbose="error",
        threshold=res.attrs["threshold"])
    np.testing.assert_allclose(res.statistic.values, t)
    for c, (where, pc) in enumerate(zip(clusters, p, strict=True)):
        mask = np.zeros(da.sizes["time"], bool)
        mask[where] = True
        np.testing.assert_allclose(res.pvalue.values[mask], pc)
        assert (res.cluster.values[mask] == c).all()
    # the planted effect (from 0.2 s) is one significant cluster, nothing before it
    sig = res.time.values[res.significant.values]
    assert sig.min() == pytest.approx(0.2) and sig.max() == pytest.approx(0.49)
    assert res.attrs["threshold"] == pytest.approx(
        float(__import__("scipy").stats.t.ppf(0.95, 7)))


def test_cluster_test_two_dimensional_and_other_dims():
    g = np.random.default_rng(1)
    x = 0.1 * g.normal(size=(9, 2, 12, 12))
    x[:, 0, 4:9, 4:9] += 0.4  # a square cluster in model A only
    da = xr.DataArray(x, dims=("subject", "model", "train_time", "test_time"),
                      coords={"model": ["A", "B"], "train_time": np.arange(12) / 10,
                              "test_time": np.arange(12) / 10})
    res = stats.cluster_test(da, n_permutations=200, rng=0)
    assert res.significant.dims == ("model", "train_time", "test_time")
    assert res.significant.sel(model="A").values[4:9, 4:9].all()
    assert not res.significant.sel(model="B").any()
    assert 25 <= int(res.significant.sel(model="A").sum()) <= 30  # the square (+ edge noise)


def test_cluster_test_alternatives_and_bad_input():
    da = -_courses(n=8)
    assert not stats.cluster_test(da, n_permutations=100, rng=0).significant.any()
    assert stats.cluster_test(da, n_permutations=100, alternative="less", rng=0).significant.any()
    assert stats.cluster_test(da, n_permutations=100, alternative="two-sided",
                              rng=0).significant.any()
    with pytest.raises(SchemaError, match="need a 'subject' dim"):
        stats.cluster_test(da.isel(subject=0))
    with pytest.raises(SchemaError, match="at least 2 entries"):
        stats.cluster_test(da.isel(subject=[0]))
    with pytest.raises(SchemaError, match="finite"):
        stats.cluster_test(da.where(da.time != 0.1))
    with pytest.raises(ValueError, match="n_permutations must be an integer"):
        stats.cluster_test(da, n_permutations=2.5)


def test_peak_latency_bootstrap_equals_a_loop():
    t = np.arange(40) / 100
    g = np.random.default_rng(2)
    x = np.exp(-((t - 0.22) / 0.05) ** 2) + 0.3 * g.normal(size=(7, t.size))
    da = xr.DataArray(x, dims=("subject", "time"), coords={"time": t})
    res = stats.peak_latency(da, n_bootstrap=300, rng=3)
    idx = stats.bootstrap_indices(7, 300, rng=np.random.default_rng(3))
    ref = np.array([t[np.argmax(x[i].mean(axis=0))] for i in idx])
    np.testing.assert_allclose(res.null_distribution.values, ref)
    low, high = np.nanquantile(ref, [0.025, 0.975])
    assert float(res.ci_low) == pytest.approx(low) and float(res.ci_high) == pytest.approx(high)
    assert float(res.score) == t[np.argmax(x.mean(axis=0))]
    windowed = stats.peak_latency(da, n_bootstrap=0, tmin=0.3)
    assert float(windowed.score) >= 0.3 and "ci_low" not in windowed


def test_onset_latency_fraction_and_threshold():
    t = np.arange(60) / 100
    ramp = np.clip((t - 0.2) / 0.1, 0, 1)  # 0 until 0.2 s, 1 from 0.3 s
    da = xr.DataArray(np.stack([ramp, ramp + 0.0]), dims=("subject", "time"),
                      coords={"time": t})
    assert float(stats.onset_latency(da, fraction=0.5, n_bootstrap=10, rng=0).score) == \
        pytest.approx(0.25)
    assert float(stats.onset_latency(da, threshold=0.2, n_bootstrap=0).score) == \
        pytest.approx(0.22)
    # a noise excursion long before the effect does not move the onset (search back from peak)
    spiky = ramp.copy()
    spiky[3] = 0.9
    one = xr.DataArray(spiky, dims=("time",), coords={"time": t})
    assert float(stats.onset_latency(one, dim=None, fraction=0.5).score) == pytest.approx(0.25)
    assert np.isnan(float(stats.onset_latency(one, dim=None, threshold=2.0).score))
    with pytest.raises(SchemaError, match="lacks"):
        stats.onset_latency(one, dim="subject")
    with pytest.raises(SchemaError, match="window"):
        stats.onset_latency(one, dim=None, tmin=0.7)


def test_latency_ci_covers_the_planted_onset():
    t = np.arange(80) / 100 - 0.2
    da = _courses(n=12, t=t, onset=0.15, effect=0.5, noise=0.2, seed=4)
    res = stats.onset_latency(da, fraction=0.5, n_bootstrap=300, rng=0)
    # a step between the samples at 0.15 s (no effect; 0.1499... in float) and 0.16 s
    assert 0.145 <= float(res.ci_low) <= float(res.score) <= float(res.ci_high) <= 0.16
    # a one-sample dip inside the effect ends it only with min_duration below one sample
    x = np.r_[np.zeros(10), np.ones(5), [0.2], np.ones(3), [1.5], np.ones(5)]  # criterion 0.75
    one = xr.DataArray(x, dims=("time",), coords={"time": np.arange(25) / 100})
    assert float(stats.onset_latency(one, dim=None).score) == pytest.approx(0.0975)
    assert float(stats.onset_latency(one, dim=None, min_duration=0.0).score) == \
        pytest.approx(0.15 + 0.55 / 0.8 * 0.01)
