"""neurorep.stats.bootstrap: the generic bootstrap against scipy.stats.bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from neurorep.stats import bootstrap


def test_matches_scipy_percentile_interval():
    x = np.random.default_rng(1).normal(2.0, 1.5, 300)
    ours = bootstrap(x, np.mean, n_bootstrap=4000, rng=0)
    ref = sps.bootstrap((x,), np.mean, n_resamples=4000, method="percentile", random_state=0)
    assert float(ours.ci_low) == pytest.approx(ref.confidence_interval.low, abs=0.03)
    assert float(ours.ci_high) == pytest.approx(ref.confidence_interval.high, abs=0.03)
    assert float(ours.score) == pytest.approx(x.mean())


def test_vectorized_equals_loop_and_paired():
    g = np.random.default_rng(0)
    x = g.normal(size=50)
    y = x + g.normal(size=50)

    def corr(a, b):
        return np.corrcoef(a, b)[0, 1]

    def corr_vec(a, b):
        a = a - a.mean(-1, keepdims=True)
        b = b - b.mean(-1, keepdims=True)
        return (a * b).sum(-1) / np.sqrt((a**2).sum(-1) * (b**2).sum(-1))

    loop = bootstrap((x, y), corr, n_bootstrap=200, rng=3)
    vec = bootstrap((x, y), corr_vec, n_bootstrap=200, rng=3, vectorized=True)
    np.testing.assert_allclose(loop.null_distribution, vec.null_distribution, atol=1e-12)


def test_bad_input():
    with pytest.raises(ValueError, match="at least 2 items"):
        bootstrap(np.ones(1), np.mean)
    with pytest.raises(ValueError, match="every array needs"):
        bootstrap((np.ones(3), np.ones(4)), lambda a, b: 0.0)
