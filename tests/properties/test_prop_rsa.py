"""Properties of neurorep.rsa: compute_rdm and compare.

Run with the default ``ci`` profile by ``pytest tests/properties``; the ``long``
profile (ten times the examples, fresh random draws) by
``NEUROREP_HYPOTHESIS_PROFILE=long pytest tests/properties --hypothesis-show-statistics``.
"""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import pdist, squareform

from neurorep import NeurorepWarning, SchemaError, data, rsa

from .strategies import Refused, budget, ids, matrices, outcome, permutations, succeeds

rsatoolbox = pytest.importorskip("rsatoolbox")
from rsatoolbox.rdm import compare as rsa_compare  # noqa: E402

PLAIN = ("euclidean", "squared_euclidean", "correlation", "cosine")
CORRELATIONS = ("corr", "pearson", "spearman", "cosine", "cosine_cov", "corr_cov")
COMPARE = (*CORRELATIONS, "rho-a", "tau-a")


def _responses(x: np.ndarray, stim: list[str]) -> object:
    if x.ndim == 3:
        reps = [f"run{r}" for r in range(x.shape[1])]
        return outcome(data.responses, x, stimulus=stim, repetition=reps)
    return outcome(data.responses, x, stimulus=stim)


def _reference(x: np.ndarray, metric: str) -> np.ndarray:
    """scipy's pdist on float64 (repetitions averaged), on rsatoolbox's scale.

    pdist squares the differences, which underflow to 0 for data near 1e-160 (and
    overflow near 1e160): it is given the data divided by a power of two (exact) and
    its distances are scaled back."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3:
        x = x.mean(axis=1)
    p = x.shape[1]
    peak = float(np.abs(x).max())
    e = int(np.frexp(peak)[1]) if 0 < peak < np.inf else 0
    x = np.ldexp(x, -e)
    with np.errstate(all="ignore"):
        if metric == "euclidean":
            return np.ldexp(squareform(pdist(x, "euclidean")) / np.sqrt(p), e)
        if metric == "squared_euclidean":
            return np.ldexp(squareform(pdist(x, "sqeuclidean")) / p, 2 * e)
        return squareform(pdist(x, metric))


def _constant_rows(x: np.ndarray) -> bool:
    x = x.mean(axis=1) if x.ndim == 3 else x
    return bool((np.ptp(x, axis=1) == 0).any())


# ----------------------------------------------------------------------------- compute_rdm
@pytest.mark.parametrize("metric", PLAIN)
@settings(max_examples=budget(40))
@given(x=matrices(), data_=st.data())
def test_rdm_is_a_symmetric_non_negative_distance_of_the_stimuli(metric, x, data_):
    n = x.shape[0]
    stim = data_.draw(ids(n))
    r = _responses(x, stim)
    assume(not isinstance(r, Refused))
    d = outcome(rsa.compute_rdm, r, metric=metric)
    x64 = x.astype(np.float64)
    if isinstance(d, Refused):
        assert isinstance(d.error, SchemaError)
        if metric == "correlation":
            assert _constant_rows(x64), d.error
        elif metric == "cosine":
            assert (np.abs(x64).max(axis=1) == 0).any(), d.error
        else:  # the squared distances over- or underflow float64
            peak = float(np.abs(x64).max())
            # squared distances (~ p * peak**2) whose own squares overflow cannot be compared
            # (compare and validate refuse them), so squared_euclidean stops near 1e77
            top = 1e70 if metric == "squared_euclidean" else 1e100
            assert ("flow" in str(d.error) or "too large" in str(d.error)) and (
                peak > top or peak < 1e-100
            ), d.error
        return
    # a pattern that is constant over units has no correlation with any other
    assert not (metric == "correlation" and _constant_rows(x64)), "constant row accepted"
    v = d.values
    assert d.dims == ("stimulus_i", "stimulus_j") and d["stimulus_i"].values.tolist() == stim
    assert np.isfinite(v).all()
    np.testing.assert_array_equal(v, v.T)
    np.testing.assert_array_equal(np.diag(v), 0.0)
    assert (v >= 0).all()
    if metric in ("correlation", "cosine"):
        assert (v <= 2.0 + 1e-12).all()
    assert succeeds(data.validate, d) == "rdm"
    ref = _reference(x64, metric)
    if np.isfinite(ref).all():  # the Gram-matrix route loses digits next to the norms
        np.testing.assert_allclose(v, ref, rtol=1e-7, atol=1e3 * _rounding(x, metric))


@pytest.mark.parametrize("metric", PLAIN)
@settings(max_examples=budget(25))
@given(x=matrices(), data_=st.data())
def test_rdm_does_not_depend_on_stimulus_or_unit_order(metric, x, data_):
    n, p = x.shape
    stim = data_.draw(ids(n))
    r = _responses(x, stim)
    assume(not isinstance(r, Refused))
    d = outcome(rsa.compute_rdm, r, metric=metric)
    assume(not isinstance(d, Refused))
    perm, units = data_.draw(permutations(n)), data_.draw(permutations(p))
    d2 = succeeds(rsa.compute_rdm, r.isel(stimulus=perm, unit=units), metric=metric)
    assert d2["stimulus_i"].values.tolist() == np.asarray(stim)[perm].tolist()
    _, back = succeeds(data.align, d, d2)
    np.testing.assert_allclose(back.values, d.values, rtol=1e-9, atol=_rounding(x, metric))


def _rounding(x: np.ndarray, metric: str) -> float:
    """Absolute rounding error of a metric computed through Gram matrices: eps of the
    correlation scale, or of the largest squared norm of the centred patterns."""
    if metric in ("correlation", "cosine"):
        return 1e-12
    x = x.astype(np.float64)
    x = x.mean(axis=1) if x.ndim == 3 else x
    c = x - x.mean(axis=0)
    sq = float(np.max(np.sum(c * c, axis=-1))) / x.shape[-1]
    return 1e-12 * sq if metric == "squared_euclidean" else 1e-6 * np.sqrt(sq)


@pytest.mark.parametrize(
    ("metric", "noise"),
    [("crossnobis", None), ("crossnobis", "shrinkage_diag"), ("mahalanobis", "shrinkage_diag"),
     ("mahalanobis", "shrinkage_eye"), ("crossnobis", "diag")],
)
@settings(max_examples=budget(20))
@given(
    shape=st.tuples(st.integers(2, 12), st.integers(2, 4), st.integers(1, 8)),
    data_=st.data(),
)
def test_cross_validated_rdms_are_symmetric_and_order_free(metric, noise, shape, data_):
    x = data_.draw(matrices(shape=shape))
    n, n_run, _ = shape
    stim = data_.draw(ids(n))
    r = _responses(x, stim)
    assume(not isinstance(r, Refused))
    d = outcome(rsa.compute_rdm, r, metric=metric, noise=noise)
    if isinstance(d, Refused):
        assert isinstance(d.error, SchemaError)
        x64 = x.astype(np.float64)
        residual = x64 - x64.mean(axis=1, keepdims=True)
        flat = not (np.ptp(residual, axis=(0, 1)) > 0).all()
        peak = float(np.abs(x64).max())
        # without noise crossnobis values are squared distances: their own squares overflow
        # (compare and validate refuse them) from data near 1e77, as squared_euclidean's
        top = 1e70 if noise is None else 1e100
        assert (noise is not None and flat and "zero residual variance" in str(d.error)) or (
            "flow" in str(d.error) or "too large" in str(d.error)
        ) and not 1e-100 < peak < top, d.error
        return
    v = d.values
    assert np.isfinite(v).all()
    np.testing.assert_array_equal(v, v.T)
    np.testing.assert_array_equal(np.diag(v), 0.0)
    if metric == "mahalanobis":
        assert (v >= 0).all()
    perm, runs = data_.draw(permutations(n)), data_.draw(permutations(n_run))
    d2 = succeeds(rsa.compute_rdm, r.isel(stimulus=perm, repetition=runs), metric=metric,
                  noise=noise)
    _, back = succeeds(data.align, d, d2)
    scale = float(np.abs(v).max())
    atol = 1e-8 * scale
    if noise is None:  # rounding of the data's own squares: true zeros come out as ~eps * x**2
        x64 = x.astype(np.float64)
        c = x64 - x64.mean(axis=(0, 1))
        atol += 1e-12 * float(np.max(np.sum(c * c, axis=-1))) / x.shape[-1]
    np.testing.assert_allclose(back.values, v, rtol=1e-8, atol=atol)


# ----------------------------------------------------------------------------- compare
@st.composite
def rdm_stacks(draw: st.DrawFn, *, n: int | None = None, stim: list[str] | None = None) -> object:
    """A stack ``(model, stimulus_i, stimulus_j)`` of 1-3 RDMs: any real dissimilarities
    (negative ones too, as crossnobis gives), ties, constant RDMs, extreme scales."""
    n = n if n is not None else draw(st.integers(3, 25))
    m = n * (n - 1) // 2
    vec = draw(matrices(shape=(draw(st.integers(1, 3)), m)))
    if draw(st.booleans()):
        vec = np.abs(vec)  # distances
    stim = stim if stim is not None else draw(ids(n))
    return outcome(data.rdm, vec, stimulus=stim, dim="model")


def _centred_exactly(rdms: object) -> object:
    """Each RDM minus its exact (rational) mean, rounded once to float64.

    rsatoolbox centres in one pass (``v - mean(v)``), so every centred vector is off by
    the rounding of its mean (~eps * |mean|): for an RDM whose spread is a few ulps of
    its offset its Pearson r is off by ~0.2 (neurorep centres in two passes). corr and
    corr_cov do not change when an RDM is shifted, so the peer is given the exactly
    centred RDMs and then computes with its own digits.
    """
    vec = data.rdm_vectors(rdms)
    out = np.empty_like(vec, dtype=np.float64)
    for i, row in enumerate(vec):
        exact = [Fraction(float(v)) for v in row]
        mean = sum(exact, Fraction(0)) / len(exact)
        out[i] = [float(v - mean) for v in exact]
    return data.rdm(_unit_scale(out), stimulus=rdms["stimulus_i"].values.tolist(), dim="rdm")


def _unit_scale(vec: np.ndarray) -> np.ndarray:
    """Each row times a power of two (exact) that brings its largest |value| near 1:
    rsatoolbox's products under- or overflow at the ends of float64 (an RDM near 1e-209
    scores 0 in its corr_cov); every method is free of the scale of each RDM."""
    peak = np.abs(vec).max(axis=1)
    e = np.where(peak > 0, np.frexp(peak)[1], 0)
    return np.ldexp(vec, -e[:, None])


def _theirs(ra: object, rb: object, method: str) -> np.ndarray:
    """rsatoolbox's comparison of two stacks (its own warnings silenced), one pair of RDMs
    at a time: with a zero-norm (constant) RDM among several, rsatoolbox 0.3's ``_cosine``
    fills the score matrix with ``np.putmask``, which takes the values by the flat position
    of the target (modulo their count), not in order, so the other scores land in the
    wrong cells (and the constant RDM scores 0 rather than NaN)."""
    if method in ("corr", "corr_cov"):
        ra, rb = _centred_exactly(ra), _centred_exactly(rb)
    else:
        ra, rb = (data.rdm(_unit_scale(data.rdm_vectors(r)), dim="rdm",
                           stimulus=r["stimulus_i"].values.tolist()) for r in (ra, rb))
    ta, tb = data.to_rsatoolbox(ra), data.to_rsatoolbox(rb)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.array(
            [[float(np.asarray(rsa_compare(ta[[i]], tb[[j]], method=method)).ravel()[0])
              for j in range(tb.n_rdm)] for i in range(ta.n_rdm)]
        )


def _pearson_exactly(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r of two float vectors in rational arithmetic, rounded once at the end."""
    fx, fy = [Fraction(float(v)) for v in x], [Fraction(float(v)) for v in y]
    mx, my = sum(fx, Fraction(0)) / len(fx), sum(fy, Fraction(0)) / len(fy)
    cx, cy = [v - mx for v in fx], [v - my for v in fy]
    sxy = sum((a * b for a, b in zip(cx, cy, strict=True)), Fraction(0))
    sxx, syy = sum((a * a for a in cx), Fraction(0)), sum((b * b for b in cy), Fraction(0))
    if sxx == 0 or syy == 0:
        return float("nan")
    return float(np.sign(sxy)) * float(np.sqrt(float(sxy * sxy / (sxx * syy))))


@pytest.mark.parametrize("method", COMPARE)
@settings(max_examples=budget(30))
@given(data_=st.data())
def test_compare_is_bounded_and_equals_rsatoolbox(method, data_):
    a = data_.draw(rdm_stacks())
    assume(not isinstance(a, Refused))
    stim = a["stimulus_i"].values.tolist()
    b = data_.draw(rdm_stacks(n=len(stim), stim=stim))
    assume(not isinstance(b, Refused))
    s = outcome(rsa.compare, a, b, method=method, warns=(NeurorepWarning,))
    if isinstance(s, Refused):  # dissimilarities so large that their squares overflow
        assert isinstance(s.error, SchemaError) and "too large" in str(s.error), s.error
        return
    v = s.values
    assert v.shape == (a.sizes["model"], b.sizes["model"])
    ok = np.isfinite(v)
    assert (np.abs(v[ok]) <= 1.0).all()
    ref = _theirs(a.rename(model="rdm"), b.rename(model="rdm"), "corr" if method == "pearson"
                  else method)
    both = ok & np.isfinite(ref)
    np.testing.assert_allclose(v[both], ref[both], rtol=1e-7, atol=1e-9)
    if method in ("corr", "pearson"):  # and the exact value, to the last digits
        va, vb = data.rdm_vectors(a), data.rdm_vectors(b)
        exact = np.array([[_pearson_exactly(x, y) for y in vb] for x in va])
        np.testing.assert_array_equal(np.isnan(v), np.isnan(exact))
        np.testing.assert_allclose(v[ok], exact[ok], rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("method", COMPARE)
@settings(max_examples=budget(25))
@given(a=rdm_stacks(), data_=st.data())
def test_compare_with_itself(method, a, data_):
    assume(not isinstance(a, Refused))
    s = outcome(rsa.compare, a, a, method=method, warns=(NeurorepWarning,))
    assume(not isinstance(s, Refused))
    self_scores = np.diag(np.atleast_2d(s.values))
    vec = data.rdm_vectors(a)
    for score, row in zip(self_scores, vec, strict=True):
        if method in ("corr", "pearson", "spearman", "corr_cov"):
            expected = np.nan if np.ptp(row) == 0 else 1.0
        elif method == "cosine":
            expected = np.nan if not row.any() else 1.0
        elif method == "cosine_cov":
            expected = 1.0  # the double-centred matrix of a non-zero RDM is never zero
            if not row.any():
                expected = np.nan
        elif method == "tau-a":  # tied pairs count as neither concordant nor discordant
            m = row.size
            _, counts = np.unique(row, return_counts=True)
            total = m * (m - 1) / 2
            expected = (total - float((counts * (counts - 1) / 2).sum())) / total
        else:  # rho-a: sum of squared centred average ranks over (m**3 - m) / 12
            from scipy.stats import rankdata

            m = row.size
            rk = rankdata(row) - (m + 1) / 2
            expected = 12.0 * float(rk @ rk) / (m**3 - m)
        if np.isnan(expected):
            assert np.isnan(score)
        else:
            assert score == pytest.approx(expected, rel=1e-9, abs=1e-12)
    # and rsatoolbox agrees on the value with ties (tau-a, rho-a < 1)
    ref = np.diag(_theirs(a.rename(model="rdm"), a.rename(model="rdm"),
                          "corr" if method == "pearson" else method))
    both = np.isfinite(ref) & np.isfinite(self_scores)
    np.testing.assert_allclose(self_scores[both], ref[both], rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("method", COMPARE)
@settings(max_examples=budget(20))
@given(a=rdm_stacks(), data_=st.data())
def test_compare_does_not_depend_on_stimulus_order(method, a, data_):
    assume(not isinstance(a, Refused))
    n = a.sizes["stimulus_i"]
    b = data_.draw(rdm_stacks(n=n, stim=a["stimulus_i"].values.tolist()))
    assume(not isinstance(b, Refused))
    s = outcome(rsa.compare, a, b, method=method, warns=(NeurorepWarning,))
    assume(not isinstance(s, Refused))
    perm = data_.draw(permutations(n))
    shuffled = b.isel(stimulus_i=perm, stimulus_j=perm)
    s2 = succeeds(rsa.compare, a, shuffled, method=method, warns=(NeurorepWarning,))
    np.testing.assert_allclose(s2.values, s.values, rtol=1e-9, atol=1e-12)
