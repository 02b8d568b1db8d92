"""Shape metrics, CCA family and mutual kNN against direct transcriptions of their references.

netrep (Williams et al. 2021), Google's svcca (Raghu et al. 2017, Morcos et al. 2018)
and platonic-rep (Huh et al. 2024) are not installable here, so each reference below
is the published algorithm written out in numpy, step by step as the peer computes it
(eigendecompositions, covariance matrices, masks) -- not the neurorep route (thin SVDs).
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from neurorep import data
from neurorep.alignment import (
    METRICS,
    canonical_correlations,
    cca_metric,
    cca_similarity,
    energy_stochastic_distance,
    gaussian_stochastic_distance,
    mutual_knn,
    permutation_distance,
    procrustes_similarity,
    pwcca,
    score_matrix,
    shape_distance,
    shape_metric,
    soft_matching_distance,
    svcca,
)


# ----------------------------------------------------------------- references (transcriptions)
def _pad(x, y):
    w = max(x.shape[1], y.shape[1])
    return (np.pad(x, ((0, 0), (0, w - x.shape[1]))), np.pad(y, ((0, 0), (0, w - y.shape[1]))))


def netrep_linear(x, y, alpha, score_method="angular", tol=1e-7):
    """netrep LinearMetric(alpha, center_columns=True, zero_pad=True).fit_score(x, y)."""
    x, y = _pad(np.asarray(x, float), np.asarray(y, float))

    def whiten(a):
        a = a - a.mean(0)
        if alpha > 1 - tol:
            return a
        lam, v = np.linalg.eigh(a.T @ a)
        lam = np.maximum(lam, tol)
        d = alpha + (1 - alpha) * lam ** (-1 / 2)
        new_var = np.sum(alpha**2 * lam + 2 * alpha * (1 - alpha) * lam**0.5
                         + (1 - alpha) ** 2 * np.ones_like(lam))
        d *= np.sqrt(np.sum(lam) / new_var)
        return a @ ((v * d[None, :]) @ v.T)

    xw, yw = whiten(x), whiten(y)
    u, _, vt = np.linalg.svd(xw.T @ yw)
    tx, ty = xw @ u, yw @ vt.T
    if score_method == "angular":
        c = np.dot(tx.ravel(), ty.ravel()) / (np.linalg.norm(tx) * np.linalg.norm(ty))
        return float(np.arccos(np.clip(c, -1, 1)))
    return float(np.linalg.norm(tx - ty))


def netrep_permutation(x, y, score_method="angular"):
    """netrep PermutationMetric(center_columns=True, zero_pad=True).fit_score(x, y)."""
    x, y = _pad(np.asarray(x, float), np.asarray(y, float))
    x, y = x - x.mean(0), y - y.mean(0)
    r, c = linear_sum_assignment(x.T @ y, maximize=True)
    tx, ty = x[:, r], y[:, c]
    if score_method == "angular":
        c_ = np.dot(tx.ravel(), ty.ravel()) / (np.linalg.norm(tx) * np.linalg.norm(ty))
        return float(np.arccos(np.clip(c_, -1, 1)))
    return float(np.linalg.norm(tx - ty))


def brute_force_permutation(x, y):
    """Every permutation of the (padded) units: the largest <X P, Y>."""
    x, y = _pad(np.asarray(x, float), np.asarray(y, float))
    x, y = x - x.mean(0), y - y.mean(0)
    best = max(float((x[:, list(p)] * y).sum()) for p in itertools.permutations(range(x.shape[1])))
    return float(np.arccos(np.clip(best / (np.linalg.norm(x) * np.linalg.norm(y)), -1, 1)))


def soft_matching_by_replication(x, y):
    """Transport with masses 1/p and 1/q: replicate each x unit L/p times and each y unit
    L/q times (L = lcm(p, q)); the balanced problem with unit masses is an assignment."""
    xc, yc = x - x.mean(0), y - y.mean(0)
    p, q = xc.shape[1], yc.shape[1]
    big = p * q // math.gcd(p, q)
    xr = np.repeat(xc, big // p, axis=1)
    yr = np.repeat(yc, big // q, axis=1)
    cost = ((xr[:, :, None] - yr[:, None, :]) ** 2).sum(0)
    r, c = linear_sum_assignment(cost)
    return float(np.sqrt(cost[r, c].sum() / big))


def svcca_cov_route(acts1, acts2, epsilon=0.0):
    """Google svcca cca_core.get_cca_similarity: canonical correlations from covariances.

    acts are (neurons, datapoints)."""
    numx = acts1.shape[0]
    cov = np.cov(acts1, acts2)
    sxx, sxy, syy = cov[:numx, :numx], cov[:numx, numx:], cov[numx:, numx:]
    xmax, ymax = np.max(np.abs(sxx)), np.max(np.abs(syy))
    sxx, syy, sxy = sxx / xmax, syy / ymax, sxy / np.sqrt(xmax * ymax)
    sxx = sxx + epsilon * np.eye(len(sxx))
    syy = syy + epsilon * np.eye(len(syy))

    def sqrtm(a):
        w, v = np.linalg.eigh(a)
        return v @ np.diag(np.sqrt(w)) @ v.T

    ix, iy = sqrtm(np.linalg.pinv(sxx)), sqrtm(np.linalg.pinv(syy))
    u, s, v = np.linalg.svd(ix @ sxy @ iy)
    return u, np.abs(s), v, ix


def svcca_tutorial(x, y, keep):
    """svcca's tutorial: centre, SVD, keep the top directions, then get_cca_similarity."""
    def reduce(a):
        a = (a - a.mean(0)).T  # (neurons, datapoints)
        u, s, vt = np.linalg.svd(a, full_matrices=False)
        frac = np.cumsum(s**2) / np.sum(s**2)
        k = keep if isinstance(keep, int) else int(np.argmax(frac >= keep - 1e-12)) + 1
        return np.dot(s[:k] * np.eye(k), vt[:k])

    _, s, _, _ = svcca_cov_route(reduce(x), reduce(y))
    return float(np.mean(s))


def pwcca_svcca_code(acts1, acts2):
    """svcca pwcca.compute_pwcca, first branch (acts1 has no more neurons than acts2)."""
    u, s, _, _ = svcca_cov_route(acts1, acts2)
    means1 = acts1.mean(1, keepdims=True)
    dirns = u.T @ (acts1 - means1) + means1
    p, _ = np.linalg.qr(dirns.T)
    w = np.sum(np.abs(p.T @ acts1.T), axis=1)
    w = w / w.sum()
    return float(np.sum(w * s))


def pwcca_paper(x, y):
    """Morcos et al. 2018: canonical variates h_i = X Sxx^-1/2 u_i (unit norm) of the
    narrower side, weights sum_j |<h_i, x_j>|."""
    x, y = x - x.mean(0), y - y.mean(0)
    if x.shape[1] > y.shape[1]:
        x, y = y, x
    u, s, _, ix = svcca_cov_route(x.T, y.T)
    h = x @ ix @ u[:, : len(s)]
    h = h / np.linalg.norm(h, axis=0)
    w = np.abs(h.T @ x).sum(1)
    return float((w * s).sum() / w.sum())


def platonic_mutual_knn(x, y, k):
    """platonic-rep mutual_knn with F.normalize'd rows (a zero row stays zero), each
    neighbour list sorted by (-similarity, index)."""
    def knn(a):
        a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)  # F.normalize
        sim = a @ a.T
        np.fill_diagonal(sim, -1e8)
        return [sorted(range(len(a)), key=lambda j, i=i: (-sim[i, j], j))[:k] for i in range(len(a))]

    kx, ky = knn(x), knn(y)
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(kx, ky, strict=True)]))


def netrep_gaussian_stochastic(mx, cx, my, cy, alpha=1.0, niter=1000, tol=1e-8):
    """netrep GaussianStochasticMetric(alpha, group="orth", init="means").fit_score."""
    from scipy.linalg import orthogonal_procrustes

    def sqrtm(c):
        v, u = np.linalg.eigh(c)
        return np.einsum("ijk,ik,ilk->ijl", u, np.sqrt(v), u)

    def bures2(a, b):
        va, ua = np.linalg.eigh(a)
        vb, ub = np.linalg.eigh(b)
        sva, svb = np.sqrt(np.maximum(va, 0.0)), np.sqrt(np.maximum(vb, 0.0))
        m = (sva[:, None] * ua.T) @ (ub * svb[None, :])
        return np.sum(va) + np.sum(vb) - 2 * np.sum(np.linalg.svd(m, compute_uv=False))

    t = orthogonal_procrustes(my, mx)[0]
    sx, sy = sqrtm(cx), sqrtm(cy)
    loss = []
    for i in range(niter):
        qs = [orthogonal_procrustes(t.T @ b, a)[0] for a, b in zip(sx, sy, strict=True)]
        a_ = np.vstack([alpha * mx] + [(2 - alpha) * a for a in sx])
        b_ = np.vstack([alpha * my] + [q.T @ ((2 - alpha) * b) for q, b in zip(qs, sy, strict=True)])
        t = orthogonal_procrustes(b_, a_)[0]
        loss.append(np.linalg.norm(a_ - b_ @ t))
        if i >= 2 and (loss[-2] - loss[-1]) < tol:
            break
    my_t = my @ t
    cy_t = np.einsum("ijk,jl,kp->ilp", cy, t, t, optimize=True)
    a_term = np.sum((mx - my_t) ** 2, axis=1)
    b_term = np.array([bures2(a, b) for a, b in zip(cx, cy_t, strict=True)])
    mn = np.mean(alpha * a_term + (2 - alpha) * b_term)
    return float(np.sign(mn) * np.sqrt(abs(mn)))


def netrep_energy_stochastic(x, y, niter=100, tol=1e-6):
    """netrep EnergyStochasticMetric(group="orth").fit_score, transcribed (equal shapes)."""
    import itertools

    from scipy.linalg import orthogonal_procrustes

    r = x.shape[1]
    idx = np.array(list(itertools.product(range(r), range(r))))
    X = np.vstack([a[idx[:, 0]] for a in x])
    Y = np.vstack([b[idx[:, 1]] for b in y])
    w = np.ones(X.shape[0])
    loss = [np.mean(np.linalg.norm(X - Y, axis=-1))]
    for _ in range(niter):
        Q = orthogonal_procrustes(w[:, None] * Y, w[:, None] * X)[0]
        resid = np.linalg.norm(X - Y @ Q, axis=-1)
        loss.append(np.mean(resid))
        w = 1 / np.maximum(np.sqrt(resid), 1e-6)
        if (loss[-2] - loss[-1]) < tol:
            break
    ya = np.einsum("ijk,kl->ijl", y, Q)
    combs = np.array(list(itertools.combinations(range(r), 2)))
    d_xy = d_xx = d_yy = 0.0
    for i in range(x.shape[0]):
        d_xy += np.mean(np.linalg.norm(x[i][idx[:, 0]] - ya[i][idx[:, 1]], axis=-1))
        d_xx += np.mean(np.linalg.norm(x[i][combs[:, 0]] - x[i][combs[:, 1]], axis=-1))
        d_yy += np.mean(np.linalg.norm(ya[i][combs[:, 0]] - ya[i][combs[:, 1]], axis=-1))
    m = x.shape[0]
    return float(np.sqrt(max(0, d_xy / m - 0.5 * (d_xx / m + d_yy / m))))


def _gaussians(rng, n, p, reps=12):
    """Per-stimulus means and (positive definite) sample covariances over repetitions."""
    trials = rng.standard_normal((n, 1, p)) + 0.5 * rng.standard_normal((n, reps, p))
    m = trials.mean(1)
    d = trials - m[:, None]
    return m, np.einsum("irj,irk->ijk", d, d) / (reps - 1)


# ----------------------------------------------------------------------------- inputs
def _inputs(rng):
    """(name, x, y): tall, wide (n < width), width 1, and tied integer data."""
    tall = rng.standard_normal((40, 5))
    wide = rng.standard_normal((7, 2)) @ rng.standard_normal((2, 12))
    ties = rng.integers(0, 3, size=(15, 4)).astype(float)
    return [
        ("tall", tall, tall[:, :3] @ rng.standard_normal((3, 4)) + 0.5 * rng.standard_normal((40, 4))),
        ("wide", wide, wide[:, :5] + 0.1 * rng.standard_normal((7, 5))),
        ("width1", rng.standard_normal((20, 1)), rng.standard_normal((20, 3))),
        ("ties", ties, ties[:, ::-1] + rng.integers(0, 2, size=(15, 4))),
    ]


# ----------------------------------------------------------------------------- shape metrics
@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("distance", ["angular", "euclidean"])
def test_shape_distance_matches_netrep_linear_metric(rng, alpha, distance):
    for name, x, y in _inputs(rng):
        if name == "wide" and alpha < 1:
            continue  # below: the whitening of null directions is not defined by the data
        ref = netrep_linear(x, y, alpha, distance)
        got = shape_distance(x, y, alpha=alpha, distance=distance)
        assert got == pytest.approx(ref, abs=1e-12, rel=1e-12), (name, got, ref)


def test_procrustes_for_fewer_stimuli_than_units_matches_netrep_to_1e12(rng):
    """n < width: the SVD routes match netrep's LinearMetric(alpha=1) to 1e-12."""
    for n, p, q in [(7, 12, 5), (5, 30, 40), (3, 8, 8)]:
        x = rng.standard_normal((n, p))
        y = x[:, : min(p, q)] @ rng.standard_normal((min(p, q), q)) + rng.standard_normal((n, q))
        ref = netrep_linear(x, y, 1.0)
        assert shape_distance(x, y) == pytest.approx(ref, abs=1e-12)
        assert procrustes_similarity(x, y) == pytest.approx(1 - ref / (np.pi / 2), abs=1e-12)
        ref_e = netrep_linear(x, y, 1.0, "euclidean")
        assert shape_distance(x, y, distance="euclidean") == pytest.approx(ref_e, abs=1e-12)


def test_shape_distance_for_fewer_stimuli_than_units_with_whitening(rng):
    """alpha < 1 and n < width: netrep whitens the null directions by 1/sqrt(1e-7) (they
    carry only rounding); its numbers still agree with the exact null space to ~1e-10."""
    x = rng.standard_normal((7, 12))
    y = x[:, :5] + 0.3 * rng.standard_normal((7, 5))
    for alpha in (0.0, 0.5):
        for d in ("angular", "euclidean"):
            assert shape_distance(x, y, alpha=alpha, distance=d) == pytest.approx(
                netrep_linear(x, y, alpha, d), abs=1e-9)


def test_shape_metric_invariances(rng):
    x = rng.standard_normal((30, 4))
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    y = rng.standard_normal((30, 6))
    a = rng.standard_normal((4, 4)) + 3 * np.eye(4)  # invertible, not orthogonal
    for alpha in (0.0, 0.5, 1.0):
        d = shape_distance(x, y, alpha=alpha)
        assert shape_distance(x @ q + 2.0, y, alpha=alpha) == pytest.approx(d, abs=1e-12)
        assert shape_distance(y, x, alpha=alpha) == pytest.approx(d, abs=1e-12)  # symmetric
    # alpha = 0: any invertible linear map; alpha = 1: rotations only
    assert shape_distance(x @ a, y, alpha=0.0) == pytest.approx(shape_distance(x, y, alpha=0.0), abs=1e-10)
    assert abs(shape_distance(x @ a, y, alpha=1.0) - shape_distance(x, y, alpha=1.0)) > 1e-3
    # Euclidean: scale-dependent, zero for a rotated copy
    assert shape_distance(x, x @ q, distance="euclidean") == pytest.approx(0.0, abs=1e-12)


def test_shape_metric_alpha0_is_the_mean_canonical_correlation(rng):
    x = rng.standard_normal((50, 4))
    y = x @ rng.standard_normal((4, 4)) + rng.standard_normal((50, 4))
    assert np.cos(shape_distance(x, y, alpha=0.0)) == pytest.approx(cca_similarity(x, y), abs=1e-12)


def test_permutation_distance_matches_netrep_and_brute_force(rng):
    for name, x, y in _inputs(rng):
        if x.shape[1] > 8 or y.shape[1] > 8:
            continue
        for d in ("angular", "euclidean"):
            assert permutation_distance(x, y, distance=d) == pytest.approx(
                netrep_permutation(x, y, d), abs=1e-12), name
        assert permutation_distance(x, y) == pytest.approx(brute_force_permutation(x, y), abs=1e-12)


def test_permutation_distance_is_invariant_to_unit_order_not_rotation(rng):
    x, y = rng.standard_normal((30, 5)), rng.standard_normal((30, 5))
    d = permutation_distance(x, y)
    assert permutation_distance(x[:, rng.permutation(5)], y[:, rng.permutation(5)]) == pytest.approx(d, abs=1e-12)
    q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    assert permutation_distance(x, x[:, ::-1]) == pytest.approx(0.0, abs=1e-7)
    assert permutation_distance(x, x @ q) > 0.1
    assert shape_distance(x, x @ q) == pytest.approx(0.0, abs=1e-7)


def test_soft_matching_matches_the_replicated_assignment(rng):
    for p, q in [(3, 3), (2, 4), (3, 4), (1, 3), (4, 6)]:
        x, y = rng.standard_normal((12, p)), rng.standard_normal((12, q))
        assert soft_matching_distance(x, y) == pytest.approx(soft_matching_by_replication(x, y), abs=1e-12)
    ties = rng.integers(0, 2, size=(10, 4)).astype(float)
    assert soft_matching_distance(ties, ties[:, [1, 1, 0, 3, 2, 2]]) == pytest.approx(
        soft_matching_by_replication(ties, ties[:, [1, 1, 0, 3, 2, 2]]), abs=1e-12)


@pytest.mark.parametrize("solver", ["assignment", "lp"])
def test_soft_matching_solvers_match_the_replicated_assignment(rng, monkeypatch, solver):
    """Both solvers (replicated assignment for small lcm(p, q), HiGHS LP above) against
    the transcription, including widths whose lcm is large."""
    from neurorep._core import shape

    if solver == "lp":
        monkeypatch.setattr(shape, "_ASSIGNMENT_MAX", 0)
    for p, q in [(2, 4), (3, 4), (7, 11), (5, 5), (9, 6)]:
        x, y = rng.standard_normal((15, p)), rng.standard_normal((15, q))
        assert soft_matching_distance(x, y) == pytest.approx(soft_matching_by_replication(x, y), abs=1e-12)


def test_soft_matching_equals_permutation_for_equal_widths(rng):
    x, y = rng.standard_normal((20, 5)), rng.standard_normal((20, 5))
    perm = permutation_distance(x, y, distance="euclidean")
    assert soft_matching_distance(x, y) == pytest.approx(perm / np.sqrt(5), abs=1e-12)
    assert soft_matching_distance(y, x) == pytest.approx(soft_matching_distance(x, y), abs=1e-12)


# ----------------------------------------------------------------------------- stochastic
@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.5, 2.0])
def test_gaussian_stochastic_matches_netrep(rng, alpha):
    mx, cx = _gaussians(rng, 8, 3)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    my, cy = _gaussians(rng, 8, 3)
    my = 0.5 * my + mx @ q
    ref = netrep_gaussian_stochastic(mx, cx, my, cy, alpha)
    assert gaussian_stochastic_distance(mx, cx, my, cy, alpha=alpha) == pytest.approx(ref, abs=1e-12)
    # the same Gaussians rotated: distance 0
    assert gaussian_stochastic_distance(mx, cx, mx @ q, np.einsum("ijk,jl,kp->ilp", cx, q, q),
                                        alpha=alpha) == pytest.approx(0.0, abs=1e-6)


def test_gaussian_stochastic_pads_and_reduces_for_a_deterministic_layer(rng):
    mx, cx = _gaussians(rng, 10, 2)
    my, cy = _gaussians(rng, 10, 4)
    padded = (np.pad(mx, ((0, 0), (0, 2))), np.pad(cx, ((0, 0), (0, 2), (0, 2))))
    assert gaussian_stochastic_distance(mx, cx, my, cy) == pytest.approx(
        netrep_gaussian_stochastic(*padded, my, cy), abs=1e-12)
    # a deterministic y (zero covariances): Procrustes of the means plus the trace of S_x
    y = rng.standard_normal((10, 2))
    zero = np.zeros((10, 2, 2))
    from scipy.linalg import orthogonal_procrustes

    t = orthogonal_procrustes(y, mx)[0]
    for alpha in (0.5, 1.0):
        expect = np.sqrt(alpha * ((mx - y @ t) ** 2).sum(1).mean()
                         + (2 - alpha) * np.trace(cx, axis1=1, axis2=2).mean())
        assert gaussian_stochastic_distance(mx, cx, y, zero, alpha=alpha) == pytest.approx(expect, abs=1e-12)


@pytest.mark.parametrize(("n", "r", "p"), [(8, 3, 2), (5, 2, 1), (6, 4, 3), (3, 5, 7)])
def test_energy_stochastic_matches_netrep(rng, n, r, p):
    signal = rng.standard_normal((n, 1, p))
    x = signal + 0.4 * rng.standard_normal((n, r, p))
    q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    y = (signal + 0.6 * rng.standard_normal((n, r, p))) @ q
    got = energy_stochastic_distance(x, y)
    assert got == pytest.approx(netrep_energy_stochastic(x, y), abs=1e-12)
    if n * r > 3 * p:  # else a rotation can nearly fit every sample (3 stimuli in 7 dims)
        assert got > 0.05  # different noise: not the same distributions (the test can fail)
    # tied, low-dimensional values (integers) and a different stopping rule
    xt, yt = np.round(2 * x), np.round(2 * y)
    assert energy_stochastic_distance(xt, yt, niter=5, tol=0.0) == pytest.approx(
        netrep_energy_stochastic(xt, yt, niter=5, tol=0.0), abs=1e-12)
    # the same samples rotated: distance 0; and the distance is symmetric here
    assert energy_stochastic_distance(x, x @ q) == pytest.approx(0.0, abs=1e-6)


def test_energy_stochastic_pads_and_takes_unequal_repetitions(rng):
    x = rng.standard_normal((7, 3, 2))
    y = rng.standard_normal((7, 3, 4))
    padded = np.pad(x, ((0, 0), (0, 0), (0, 2)))
    assert energy_stochastic_distance(x, y) == pytest.approx(
        netrep_energy_stochastic(padded, y), abs=1e-12)
    # a deterministic layer (one repetition): E_yy = 0 and the cross term pairs every
    # repetition of x with the layer's one sample, as the definition with a point mass
    layer = rng.standard_normal((7, 2))
    got = energy_stochastic_distance(x, layer[:, None, :])
    from scipy.linalg import orthogonal_procrustes

    rows_x = x.reshape(-1, 2)
    rows_y = np.repeat(layer, 3, axis=0)
    w = np.ones(len(rows_x))
    loss = [np.linalg.norm(rows_x - rows_y, axis=1).mean()]
    for _ in range(100):
        Q = orthogonal_procrustes(w[:, None] * rows_y, w[:, None] * rows_x)[0]
        resid = np.linalg.norm(rows_x - rows_y @ Q, axis=1)
        loss.append(resid.mean())
        w = 1 / np.maximum(np.sqrt(resid), 1e-6)
        if loss[-2] - loss[-1] < 1e-6:
            break
    within = np.mean([np.linalg.norm(x[i, a] - x[i, b]) for i in range(7)
                      for a, b in ((0, 1), (0, 2), (1, 2))])
    expect = np.sqrt(max(0.0, resid.mean() - 0.5 * within))
    assert got == pytest.approx(expect, abs=1e-12)
    with pytest.raises(ValueError, match="repetition"):
        energy_stochastic_distance(x[:, 0], layer)
    with pytest.raises(ValueError, match="same stimuli"):
        energy_stochastic_distance(x, x[:5])


# ----------------------------------------------------------------------------- CCA family
def test_canonical_correlations_match_the_svcca_covariance_route(rng):
    for name, x, y in _inputs(rng):
        if name == "wide":
            continue  # singular covariances: the covariance route is not defined
        _, s, _, _ = svcca_cov_route((x - x.mean(0)).T, (y - y.mean(0)).T)
        k = min(np.linalg.matrix_rank(x - x.mean(0)), np.linalg.matrix_rank(y - y.mean(0)))
        got = canonical_correlations(x, y)
        assert len(got) == k
        np.testing.assert_allclose(got, s[:k], atol=1e-10)
        assert cca_similarity(x, y) == pytest.approx(float(np.mean(s[:k])), abs=1e-10)


def test_cca_is_invariant_to_invertible_linear_maps(rng):
    x, y = rng.standard_normal((40, 4)), rng.standard_normal((40, 3))
    a = rng.standard_normal((4, 4)) + 3 * np.eye(4)
    for fn in (cca_similarity, svcca, pwcca):
        ref = fn(x, y)
        assert fn(y, x) == pytest.approx(ref, abs=1e-12) or fn is pwcca
    assert cca_similarity(x @ a + 5.0, y) == pytest.approx(cca_similarity(x, y), abs=1e-12)
    # width 1 and n < width: all canonical correlations of overlapping spaces are 1
    wide = rng.standard_normal((6, 10))
    assert cca_similarity(wide, rng.standard_normal((6, 8))) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("keep", [0.99, 0.9, 2, 3])
def test_svcca_matches_the_svcca_tutorial(rng, keep):
    latent = rng.standard_normal((60, 3))
    x = latent @ rng.standard_normal((3, 8)) + 0.2 * rng.standard_normal((60, 8))
    y = latent @ rng.standard_normal((3, 6)) + 0.2 * rng.standard_normal((60, 6))
    assert svcca(x, y, keep=keep) == pytest.approx(svcca_tutorial(x, y, keep), abs=1e-10)


def test_pwcca_matches_svcca_code_on_whitened_data_and_the_paper_in_general(rng):
    x, y = rng.standard_normal((50, 3)), rng.standard_normal((50, 5))
    y[:, :3] += x
    # svcca's code orthonormalises u'X (not the canonical variates X Sxx^-1/2 u), keeps the
    # neuron means and weights by uncentred activity: equal to the paper on centred,
    # whitened X
    xw = np.linalg.svd(x - x.mean(0), full_matrices=False)[0] * 7.0
    assert pwcca(xw, y) == pytest.approx(pwcca_svcca_code(xw.T, (y - y.mean(0)).T), abs=1e-10)
    for _, a, b in _inputs(rng):
        if a.shape[0] < max(a.shape[1], b.shape[1]):
            continue
        assert pwcca(a, b) == pytest.approx(pwcca_paper(a, b), abs=1e-10)
    assert pwcca(x, 2 * x + 1) == pytest.approx(1.0, abs=1e-12)


# ----------------------------------------------------------------------------- mutual kNN
@pytest.mark.parametrize("k", [1, 3, 10])
def test_mutual_knn_matches_platonic_rep(rng, k):
    for _, x, y in _inputs(rng):
        if k >= x.shape[0]:
            continue
        assert mutual_knn(x, y, k=k) == pytest.approx(platonic_mutual_knn(x, y, k), abs=1e-15)


def test_mutual_knn_properties(rng):
    x = rng.standard_normal((30, 5))
    assert mutual_knn(x, 4.0 * x, k=5) == 1.0  # row scaling changes no cosine
    perm = rng.permutation(30)
    y = rng.standard_normal((30, 3))
    assert mutual_knn(x[perm], y[perm], k=5) == pytest.approx(mutual_knn(x, y, k=5))
    assert mutual_knn(x, y, k=5) == mutual_knn(y, x, k=5)
    with pytest.raises(ValueError, match="k must be"):
        mutual_knn(x, y, k=30)


# ----------------------------------------------------------------------------- score_matrix
NEW = ["procrustes_euclidean", "shape_cca", "shape_partial", "permutation",
       "permutation_euclidean", "soft_matching", "cca", "svcca", "pwcca", "mutual_knn",
       "gaussian_stochastic", "energy_stochastic"]


@pytest.mark.parametrize("metric", NEW)
def test_new_metrics_run_through_score_matrix_with_cis_and_ceilings(rng, metric):
    n = 30
    ids = [f"s{i}" for i in range(n)]
    signal = rng.standard_normal((n, 4))
    reps = signal[:, None, :] @ rng.standard_normal((4, 6)) + 0.3 * rng.standard_normal((n, 4, 6))
    brain = {"V1": data.responses(reps, stimulus=ids, dims=("stimulus", "repetition", "unit"))}
    layer = signal @ rng.standard_normal((4, 5)) + 0.5 * rng.standard_normal((n, 5))
    model = {"l1": data.responses(layer, stimulus=ids), "l2": data.responses(rng.standard_normal((n, 5)), stimulus=ids)}
    res = score_matrix(brain, model, metric=metric, n_bootstrap=20, rng=0)
    met = METRICS[metric]()
    assert res.attrs["metric"] == metric
    assert res.attrs["metric_name"] == met.name and met.name != "custom"
    assert json.loads(res.attrs["metric_params"]) == json.loads(json.dumps(met.params, default=str))
    mean = reps.mean(1)
    if metric == "gaussian_stochastic":
        state = (met.prepare(brain["V1"]), met.prepare(model["l1"]))
        dev = reps - mean[:, None]
        np.testing.assert_allclose(state[0][1], np.einsum("irj,irk->ijk", dev, dev) / 3, atol=1e-14)
    elif metric == "energy_stochastic":
        state = (met.prepare(brain["V1"]), met.prepare(model["l1"]))
        np.testing.assert_array_equal(state[0], reps)
        np.testing.assert_array_equal(state[1], layer[:, None, :])
    else:
        state = (mean, layer)
    expect = met.score(state, None)
    assert float(res.score.sel(region="V1", layer="l1")) == pytest.approx(expect, abs=1e-12)
    assert float(res.score.sel(region="V1", layer="l1")) > float(res.score.sel(region="V1", layer="l2"))
    assert np.isfinite(res.ci_low).all() and np.isfinite(res.ci_high).all()
    lower = float(res.ceiling.sel(region="V1", bound="lower"))
    if "euclidean" in metric or metric in ("soft_matching", "gaussian_stochastic",
                                           "energy_stochastic"):
        assert np.isnan(lower)  # a distance has no split-half ceiling
    else:
        assert 0 < lower <= 1


def test_factory_options_are_stored_in_the_attrs(rng):
    ids = [f"s{i}" for i in range(20)]
    x = data.responses(rng.standard_normal((20, 4)), stimulus=ids)
    res = score_matrix({"r": x}, {"l": x}, metric=shape_metric(alpha=0.25, distance="euclidean"),
                       n_bootstrap=0, rng=0)
    assert json.loads(res.attrs["metric_params"])["alpha"] == 0.25
    assert "alpha=0.25" in res.attrs["metric_name"]
    res = score_matrix({"r": x}, {"l": x}, metric=cca_metric(kind="svcca", keep=2), n_bootstrap=0, rng=0)
    assert json.loads(res.attrs["metric_params"]) == {"kind": "svcca", "keep": 2}
    assert float(res.score.squeeze()) == pytest.approx(1.0, abs=1e-12)
    res = score_matrix({"r": x}, {"l": x}, metric="cka", n_bootstrap=0, rng=0)
    assert res.attrs["metric_name"].startswith("biased linear CKA")


@pytest.mark.parametrize("rdm_metric,method", [("euclidean", "cosine"), ("correlation", "tau-a"),
                                                ("cosine", "corr")])
def test_rsa_metric_any_rdm_metric_and_comparison(rng, rdm_metric, method):
    from neurorep import rsa
    from neurorep.alignment import rsa_metric

    ids = [f"s{i}" for i in range(15)]
    a = data.responses(rng.standard_normal((15, 6)), stimulus=ids)
    b = data.responses(rng.standard_normal((15, 4)), stimulus=ids)
    res = score_matrix({"r": a}, {"l": b}, metric=rsa_metric(method=method, rdm_metric=rdm_metric),
                       n_bootstrap=0, rng=0)
    ref = rsa.compare(rsa.compute_rdm(a, metric=rdm_metric), rsa.compute_rdm(b, metric=rdm_metric),
                      method=method)
    assert float(res.score.squeeze()) == pytest.approx(float(np.asarray(ref).squeeze()), abs=1e-12)
    assert rdm_metric in res.attrs["metric_name"]
