"""Properties of neurorep.stats.fdr and neurorep.topology.gt_transform.

Run with the default ``ci`` profile by ``pytest tests/properties``; the ``long``
profile (ten times the examples, fresh random draws) by
``NEUROREP_HYPOTHESIS_PROFILE=long pytest tests/properties --hypothesis-show-statistics``.
"""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
import xarray as xr
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.stats import false_discovery_control, rankdata

from neurorep import data, stats, topology

from .strategies import Refused, budget, ids, matrices, outcome, permutations, succeeds


# ----------------------------------------------------------------------------- fdr
def _pvalues(max_size: int = 60) -> st.SearchStrategy[np.ndarray]:
    """p-values in [0, 1]: exact 0 and 1, ties, tiny ones, and NaN (untestable units)."""
    p = st.one_of(
        st.floats(0.0, 1.0),
        st.sampled_from((0.0, 1.0, 0.05, 0.5, 1e-300, float("nan"))),
    )
    return hnp.arrays(np.float64, st.integers(1, max_size), elements=p)


@pytest.mark.parametrize("method", ["bh", "by"])
@settings(max_examples=budget(100))
@given(p=_pvalues())
def test_fdr_equals_scipy_and_is_monotone(method, p):
    q = succeeds(stats.fdr, p, method=method)
    nan = np.isnan(p)
    np.testing.assert_array_equal(np.isnan(q), nan)
    ok = q[~nan]
    assert ((ok >= 0) & (ok <= 1)).all()
    assert (ok >= p[~nan]).all()  # adjusting never makes a p-value smaller
    order = np.argsort(p[~nan], kind="stable")
    assert (np.diff(ok[order]) >= 0).all()  # monotone in p
    if (~nan).any():
        ref = false_discovery_control(p[~nan], method=method)
        np.testing.assert_allclose(ok, ref, rtol=1e-12, atol=0)


@settings(max_examples=budget(40))
@given(p=hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 12)),
                    elements=st.floats(0.0, 1.0)), method=st.sampled_from(["bh", "by"]))
def test_fdr_along_a_dim_adjusts_each_row(p, method):
    da = xr.DataArray(p, dims=("region", "unit"))
    q = succeeds(stats.fdr, da, method=method, dim="unit")
    assert q.dims == da.dims
    for i in range(p.shape[0]):
        np.testing.assert_allclose(q.values[i], false_discovery_control(p[i], method=method),
                                   rtol=1e-12)


@settings(max_examples=budget(40))
@given(p=_pvalues(), bad=st.sampled_from((-1e-9, 1.0 + 1e-9, float("inf"), -float("inf"), 2.0)))
def test_fdr_refuses_values_outside_0_1(p, bad):
    p = p.copy()
    p[0] = bad
    q = outcome(stats.fdr, p, allowed=(ValueError,))
    assert isinstance(q, Refused) and "[0, 1]" in str(q.error)


# ----------------------------------------------------------------------------- gt_transform
def _paper(vec: np.ndarray, lower: float, upper: float, rank: bool) -> np.ndarray:
    """Lin & Kriegeskorte's gt_transform (their utils_transform.py), written out again:
    rank (average ties) and min-max the dissimilarities, thresholds at the lower/upper
    quantiles, 0 below, 1 above, linear between. Where the paper divides 0 by 0 (equal
    thresholds, an all-tied RDM) neurorep documents 0 for a value at the threshold."""
    v = np.asarray(vec, dtype=float)
    if rank:
        r = rankdata(v)
        span = r.max() - r.min()
        v = (r - r.min()) / span if span > 0 else np.full(v.shape, 0.5)
        lo, up = np.quantile(v, lower), np.quantile(v, upper)
    else:
        lo, up = lower, upper
    out = np.empty_like(v)
    below, above = v < lo, v > up
    mid = ~below & ~above
    out[below], out[above] = 0.0, 1.0
    with np.errstate(over="ignore"):  # subnormal spans
        out[mid] = np.minimum((v[mid] - lo) / (up - lo), 1.0) if up > lo else 0.0
    return out


@st.composite
def _rdms(draw: st.DrawFn) -> object:
    """A non-negative RDM of 3-20 stimuli: ties, zeros, all-equal, extreme scales."""
    n = draw(st.integers(3, 20))
    vec = np.abs(draw(matrices(shape=(1, n * (n - 1) // 2))))[0]
    return outcome(data.rdm, vec, stimulus=draw(ids(n)))


@st.composite
def _thresholds(draw: st.DrawFn) -> tuple[float, float]:
    a = draw(st.one_of(st.floats(0.0, 1.0), st.sampled_from((0.0, 0.2, 0.5, 0.8, 1.0))))
    b = draw(st.one_of(st.floats(0.0, 1.0), st.sampled_from((0.0, 0.2, 0.5, 0.8, 1.0))))
    return min(a, b), max(a, b)


@settings(max_examples=budget(80))
@given(rdm=_rdms(), th=_thresholds(), data_=st.data())
def test_gt_transform_is_the_papers_monotone_map_into_0_1(rdm, th, data_):
    assume(not isinstance(rdm, Refused))
    lower, upper = th
    out = succeeds(topology.gt_transform, rdm, lower, upper)
    v = out.values
    n = v.shape[0]
    iu = np.triu_indices(n, 1)
    assert ((v >= 0) & (v <= 1)).all()
    np.testing.assert_array_equal(v, v.T)
    np.testing.assert_array_equal(np.diag(v), 0.0)
    d = rdm.values[iu]
    order = np.argsort(d, kind="stable")
    assert (np.diff(v[iu][order]) >= 0).all()  # monotone: a larger distance never maps lower
    np.testing.assert_allclose(v[iu], _paper(d, lower, upper, rank=True), rtol=0, atol=1e-12)
    # raw thresholds (rank=False) at values of the RDM's own range
    top = float(d.max())
    lo_v, up_v = lower * top, upper * top
    raw = succeeds(topology.gt_transform, rdm, lo_v, up_v, rank=False)
    np.testing.assert_allclose(raw.values[iu], _paper(d, lo_v, up_v, rank=False), atol=1e-12)
    # the same map whatever the order of the stimuli
    perm = data_.draw(permutations(n))
    out2 = succeeds(topology.gt_transform, rdm.isel(stimulus_i=perm, stimulus_j=perm), lower, upper)
    _, back = succeeds(data.align, out, out2)
    np.testing.assert_allclose(back.values, v, rtol=0, atol=1e-12)


@pytest.mark.parametrize("regime", sorted(topology.RGTM_REGIMES))
@settings(max_examples=budget(15))
@given(rdm=_rdms())
def test_gt_transform_regimes_are_their_thresholds(regime, rdm):
    assume(not isinstance(rdm, Refused))
    lower, upper = topology.RGTM_REGIMES[regime]
    out = succeeds(topology.gt_transform, rdm, regime=regime)
    iu = np.triu_indices(rdm.shape[0], 1)
    np.testing.assert_allclose(out.values[iu], _paper(rdm.values[iu], lower, upper, rank=True),
                               atol=1e-12)
