"""The inference pieces every family shares (issue #14): sign flips, centred percentile CIs,
Spearman-Brown, split-half and leave-one-out ceilings."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as sps
import xarray as xr

from neurorep import data, stats


def test_sign_flip_pvalue_matches_scipy_exact_sign_flip_test(rng):
    x = np.array([0.31, -0.05, 0.22, 0.4, 0.12, -0.18, 0.27, 0.09])
    ref = sps.permutation_test((x,), np.mean, permutation_type="samples", alternative="greater",
                               n_resamples=np.inf).pvalue  # all 2**8 sign patterns
    got = stats.sign_flip_pvalue(x, n_permutations=40_000, rng=0)
    assert float(got) == pytest.approx(ref, abs=0.006)
    for alternative in ("less", "two-sided"):
        ref = sps.permutation_test((x,), np.mean, permutation_type="samples",
                                   alternative=alternative, n_resamples=np.inf).pvalue
        got = stats.sign_flip_pvalue(x, n_permutations=40_000, alternative=alternative, rng=0)
        assert float(got) == pytest.approx(ref, abs=0.006)


def test_sign_flip_pvalue_per_index_ignores_nan_items(rng):
    """(region, subject, layer): one test per region x layer; a NaN subject is left out."""
    x = rng.normal(0.5, 0.3, size=(2, 10, 3))
    x[1, :, 2] = rng.normal(0.0, 0.3, size=10)
    x[0, 4, 1] = np.nan
    p = stats.sign_flip_pvalue(x, axis=1, n_permutations=2000, rng=1)
    assert p.shape == (2, 3)
    assert (p[0] < 0.01).all() and p[1, 2] > 0.05
    alone = stats.sign_flip_pvalue(np.delete(x[0, :, 1], 4), n_permutations=2000, rng=1)
    assert float(p[0, 1]) == pytest.approx(float(alone), abs=0.01)
    with pytest.raises(ValueError, match="alternative must be one of"):
        stats.sign_flip_pvalue(x[0, :, 0], alternative="up")
    with pytest.raises(ValueError, match="n_permutations must be an integer >= 1"):
        stats.sign_flip_pvalue(x[0, :, 0], n_permutations=0)


def test_percentile_ci_centred_on_the_estimate(rng):
    samples = rng.normal(0.3, 0.1, size=(500, 4))
    samples[3, 1] = np.nan
    est = np.array([0.2, 0.25, 0.3, 0.1])
    low, high = stats.percentile_ci(samples, ci=0.9, center=est)
    shifted = samples - (np.nanmean(samples, axis=0) - est)
    np.testing.assert_allclose(low, np.nanquantile(shifted, 0.05, axis=0), rtol=1e-14)
    np.testing.assert_allclose(high, np.nanquantile(shifted, 0.95, axis=0), rtol=1e-14)
    # along another axis, and without centring the plain percentiles
    lo2, hi2 = stats.percentile_ci(samples.T, ci=0.9, axis=1, center=est)
    np.testing.assert_allclose(lo2, low, rtol=1e-14)
    np.testing.assert_allclose(stats.percentile_ci(samples, ci=0.9)[0],
                               np.nanquantile(samples, 0.05, axis=0), rtol=1e-14)


def test_spearman_brown():
    assert stats.spearman_brown(0.5) == pytest.approx(2 / 3)
    assert stats.spearman_brown(0.5, factor=3) == pytest.approx(0.75)  # 3 r / (1 + 2 r)
    np.testing.assert_allclose(stats.spearman_brown(np.array([0.0, 0.2, -0.5])),
                               [0.0, 0.4 / 1.2, -1.0 / 0.5])
    assert np.isnan(stats.spearman_brown(-1.0)) and np.isnan(stats.spearman_brown(np.nan))


def test_split_half_ceiling_by_hand(rng):
    signal = rng.normal(size=(40, 1, 5))
    reps = signal + 0.8 * rng.normal(size=(40, 4, 5))
    da = data.responses(reps, dims=("stimulus", "repetition", "unit"))

    def r(a: xr.DataArray, b: xr.DataArray) -> float:
        return float(np.corrcoef(a.values.ravel(), b.values.ravel())[0, 1])

    even, odd = reps[:, 0::2].mean(1), reps[:, 1::2].mean(1)
    rho = np.corrcoef(even.ravel(), odd.ravel())[0, 1]
    assert stats.split_half_ceiling(da, r) == pytest.approx(2 * rho / (1 + rho), rel=1e-12)
    assert np.isnan(stats.split_half_ceiling(da.isel(repetition=[0]), r))  # no halves
    assert np.isnan(stats.split_half_ceiling(da.mean("repetition"), r))


def test_leave_one_out_ceiling_by_hand(rng):
    truth = rng.normal(size=25)
    subjects = [truth + 0.7 * rng.normal(size=25) for _ in range(4)]

    def r(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.corrcoef(a, b)[0, 1])

    c = stats.leave_one_out_ceiling(subjects, r)
    assert c.dims == ("bound",) and c.bound.values.tolist() == ["lower", "upper"]
    total = np.sum(subjects, axis=0)
    lower = np.mean([r(s, (total - s) / 3) for s in subjects])
    upper = np.mean([r(s, total / 4) for s in subjects])
    np.testing.assert_allclose(c.values, [lower, upper], rtol=1e-12)
    assert lower < upper
    with pytest.raises(ValueError, match="at least 2 items"):
        stats.leave_one_out_ceiling(subjects[:1], r)


def test_bootstrap_t_test_by_hand(rng):
    """One-sided t vs 0, two-sided vs a reference and between statistics; CI = est +- t sem."""
    n_items = 12
    samples = rng.normal([0.2, 0.05, 0.1], [0.05, 0.05, 0.08], size=(400, 3))
    samples[7, 1] = np.nan  # dropped sample
    reference = samples[:, 0] + rng.normal(0.05, 0.02, size=400)
    est = np.array([0.21, 0.04, 0.12])
    res = stats.bootstrap_t_test(samples, est, n_items=n_items, reference=reference, ci=0.9)
    ok = ~np.isnan(samples).any(axis=1)
    s, ref = samples[ok], reference[ok]
    scale = n_items / (n_items - 1)
    dof = n_items - 1
    mean = np.nanmean(samples, axis=0)
    var = s.var(axis=0, ddof=1) * scale
    np.testing.assert_allclose(res.pvalue, sps.t.sf(mean / np.sqrt(var), dof), rtol=1e-10)
    half = np.sqrt(var) * sps.t.ppf(0.95, dof)
    np.testing.assert_allclose(res.ci_low, est - half, rtol=1e-12)
    np.testing.assert_allclose(res.ci_high, est + half, rtol=1e-12)
    d_var = (s[:, 0] - ref).var(ddof=1) * scale
    t_ref = (mean[0] - np.nanmean(reference)) / np.sqrt(d_var)
    assert float(res.pvalue_reference[0]) == pytest.approx(2 * sps.t.sf(abs(t_ref), dof), rel=1e-9)
    p01 = 2 * sps.t.sf(abs(mean[0] - mean[1]) / np.sqrt((s[:, 0] - s[:, 1]).var(ddof=1) * scale),
                       dof)
    assert float(res.pvalue_pairwise[0, 1]) == pytest.approx(p01, rel=1e-9)
    assert float(res.pvalue_pairwise[1, 0]) == float(res.pvalue_pairwise[0, 1])
    np.testing.assert_array_equal(np.diag(res.pvalue_pairwise), 1.0)
    assert res.attrs["dof"] == dof
    no_ref = stats.bootstrap_t_test(samples, est, n_items=n_items)
    assert np.isnan(no_ref.pvalue_reference).all()
    with pytest.raises(ValueError, match="samples must be 2-D"):
        stats.bootstrap_t_test(samples[:, 0], est, n_items=5)
    with pytest.raises(ValueError, match="one value per statistic"):
        stats.bootstrap_t_test(samples, est[:2], n_items=5)
    with pytest.raises(ValueError, match="n_items must be an integer >= 2"):
        stats.bootstrap_t_test(samples, est, n_items=1)
