"""neurorep.rsa.compare against rsatoolbox.rdm.compare, invariances and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.stats import kendalltau

from neurorep import AlignmentError, NeurorepWarning, SchemaError, data, rsa

rsatoolbox = pytest.importorskip("rsatoolbox")
from rsatoolbox.rdm import compare as rsa_compare  # noqa: E402

N = 14
IDS = [f"c{i:02d}" for i in range(N)]
M = N * (N - 1) // 2


@pytest.fixture
def stacks(rng):
    a = rng.random((5, M))
    b = 0.5 * a[:3] + rng.random((3, M))
    a[1] = np.round(a[1] * 3)  # a categorical model: many ties
    b[2] = np.round(b[2] * 4)
    ra = data.rdm(a, stimulus=IDS, dim="model", index=[f"m{i}" for i in range(5)])
    rb = data.rdm(b, stimulus=IDS, dim="subject", index=[f"s{i}" for i in range(3)])
    return ra, rb


@pytest.mark.parametrize(
    "method", ["corr", "spearman", "rho-a", "tau-a", "cosine", "cosine_cov", "corr_cov"]
)
def test_methods_match_rsatoolbox(stacks, method):
    ra, rb = stacks
    ref = rsa_compare(data.to_rsatoolbox(ra), data.to_rsatoolbox(rb), method=method)
    got = rsa.compare(ra, rb, method=method)
    assert got.dims == ("model", "subject")
    np.testing.assert_allclose(got.values, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", ["cosine_cov", "corr_cov"])
def test_whitened_methods_with_sigma_k_match_rsatoolbox(stacks, rng, method):
    ra, rb = stacks
    diag = rng.random(N) + 0.5
    ref = rsa_compare(data.to_rsatoolbox(ra), data.to_rsatoolbox(rb), method=method, sigma_k=diag)
    np.testing.assert_allclose(
        rsa.compare(ra, rb, method=method, sigma_k=diag).values, ref, atol=1e-12
    )
    a = rng.normal(size=(N, N))
    full = a @ a.T / N + np.eye(N)
    ref = rsa_compare(data.to_rsatoolbox(ra), data.to_rsatoolbox(rb), method=method, sigma_k=full)
    # rsatoolbox solves V x = v by conjugate gradients (rtol 1e-5); neurorep by Cholesky
    np.testing.assert_allclose(
        rsa.compare(ra, rb, method=method, sigma_k=full).values, ref, atol=2e-5
    )


@pytest.mark.parametrize("method", ["cosine_cov", "corr_cov"])
def test_singular_or_invalid_sigma_k_is_refused(stacks, rng, method):
    """A rank-deficient pattern covariance cannot whiten the dissimilarities: an error that
    names sigma_k and the fix, not a LinAlgError or a NaN score."""
    ra, rb = stacks
    low = rng.normal(size=(N, 4))
    cases = [
        (low @ low.T, "positive definite.*smallest eigenvalue"),
        (np.ones((N, N)), "positive definite"),
        (np.diag(np.r_[np.ones(N - 1), 0.0]), "positive definite"),
        (-np.eye(N), "positive definite"),
        (np.r_[np.ones(N - 1), 0.0], r"variance > 0.*'c13'"),
        (np.full(N, np.nan), "NaN/inf"),
        (np.triu(np.ones((N, N))) + np.eye(N), "symmetric"),
        (np.ones((N, N)) + 1j, "complex"),
    ]
    for sigma_k, match in cases:
        with pytest.raises(SchemaError, match=rf"sigma_k.*{match}"):
            rsa.compare(ra, rb, method=method, sigma_k=sigma_k)


def test_sigma_k_dataarray_is_matched_by_stimulus_id(stacks, rng):
    ra, rb = stacks
    var = rng.random(N) + 0.5
    a = rng.normal(size=(N, N))
    full = a @ a.T / N + np.eye(N)
    want_d = rsa.compare(ra, rb, method="corr_cov", sigma_k=var)
    want_f = rsa.compare(ra, rb, method="cosine_cov", sigma_k=full)
    order = rng.permutation(N)
    ids = np.asarray(IDS)[order]
    diag_da = xr.DataArray(var[order], dims="stimulus", coords={"stimulus": ids})
    full_da = xr.DataArray(full[np.ix_(order, order)], dims=("stimulus_i", "stimulus_j"),
                           coords={"stimulus_i": ids, "stimulus_j": ids})
    np.testing.assert_allclose(rsa.compare(ra, rb, method="corr_cov", sigma_k=diag_da).values,
                               want_d.values, atol=1e-12)
    np.testing.assert_allclose(rsa.compare(ra, rb, method="cosine_cov", sigma_k=full_da).values,
                               want_f.values, atol=1e-10)
    with pytest.raises(SchemaError, match="do not cover"):
        rsa.compare(ra, rb, method="corr_cov", sigma_k=diag_da.isel(stimulus=slice(1, None)))


def test_complex_rdms_are_refused_by_compare(stacks):
    ra, rb = stacks
    with pytest.raises(SchemaError, match=r"^a: values must be real"):
        rsa.compare(ra.copy(data=ra.values + 0j), rb)


def test_tau_a_equals_its_definition(rng):
    x = np.round(rng.random(40) * 5)
    y = np.round(rng.random(40) * 7)
    i, j = np.triu_indices(40, 1)
    brute = np.mean(np.sign(x[i] - x[j]) * np.sign(y[i] - y[j]))
    from neurorep._core.compare import tau_a

    assert tau_a(x[None], y[None])[0, 0] == pytest.approx(brute, abs=1e-14)
    # without ties tau-a equals scipy's tau-b
    u, v = rng.random(40), rng.random(40)
    assert tau_a(u[None], v[None])[0, 0] == pytest.approx(kendalltau(u, v)[0], abs=1e-12)


@pytest.mark.parametrize("m", [1, 2, 63, 64, 65, 127, 128, 129, 4097])
def test_tau_a_without_ties_at_word_boundaries(rng, m):
    """Untied rows use the bitmap of seen ranks (64 per word, a tree over the words):
    exact at sizes around the word and tree boundaries, incl. sorted and reversed rows."""
    from neurorep._core.compare import kendall_counts

    x = np.vstack([rng.random(m), np.arange(m, dtype=float), rng.random(m)])
    y = np.vstack([rng.random(m), np.arange(m, dtype=float), -np.arange(m, dtype=float)])
    i, j = np.triu_indices(m, 1)
    sx, sy = np.sign(x[:, i] - x[:, j]), np.sign(y[:, i] - y[:, j])
    brute = (sx @ sy.T).astype(np.int64)
    np.testing.assert_array_equal(kendall_counts(x, y)[0], brute)


def test_tau_a_many_rows_and_pairs_equal_the_definition(rng):
    """Rows with and without ties on both sides (the batched joint-tie count), all pairs
    and a subset of pairs."""
    from neurorep._core.compare import tau_a

    m = 300
    x = rng.random((4, m))
    x[0] = np.round(x[0] * 4)
    x[2] = -np.round(x[2] * 9)
    y = rng.random((5, m))
    y[1] = np.round(y[1] * 3)
    y[3] = np.round(y[3] * 20)
    y[4] = x[0]  # identical rows: tau-a is 1 - ties / total
    i, j = np.triu_indices(m, 1)
    sx, sy = np.sign(x[:, i] - x[:, j]), np.sign(y[:, i] - y[:, j])
    brute = sx @ sy.T / i.size
    np.testing.assert_allclose(tau_a(x, y), brute, atol=1e-14)
    # a stimulus bootstrap: stimuli drawn twice repeat dissimilarities in every vector
    n = 25
    draw = np.sort(rng.integers(0, n, n))
    a, b = np.triu_indices(n, 1)
    keep = draw[a] != draw[b]
    lo, hi = np.minimum(draw[a], draw[b])[keep], np.maximum(draw[a], draw[b])[keep]
    cols = lo * n - lo * (lo + 1) // 2 + hi - lo - 1  # condensed index of each drawn pair
    counts = np.bincount(cols)
    shared = int((counts * (counts - 1) // 2).sum())
    assert shared > 0
    full_x, full_y = rng.random((3, a.size)), rng.random((4, a.size))
    full_x[0] = np.round(full_x[0] * 3)  # ties beyond the shared ones, on both sides
    full_y[2] = np.round(full_y[2] * 5)
    bx, by = full_x[:, cols], full_y[:, cols]
    np.testing.assert_array_equal(
        tau_a(bx, by, shared_ties=shared), tau_a(bx, by, shared_ties=0)
    )
    with pytest.raises(ValueError, match="shared_ties"):
        tau_a(bx, by, shared_ties=shared + 1)
    pairs = np.array([[3, 4], [0, 1], [0, 4], [2, 2], [0, 1]])
    np.testing.assert_allclose(
        tau_a(x, y, pairs=pairs), brute[pairs[:, 0], pairs[:, 1]], atol=1e-14
    )


def _kendall_stacks(rng, n):
    """Stacks of RDMs of ``n`` stimuli: continuous, integer-valued (heavy ties), constant,
    and one vector with its values reversed (tau-a of -1 minus the ties)."""
    m = n * (n - 1) // 2
    a = rng.random((6, m))
    a[1] = np.round(a[1] * 2)  # three values
    a[2] = 1.0  # constant
    a[3] = np.round(rng.random(m) * 40)  # many small tie runs
    b = 0.4 * a[[0, 1, 3, 4]] + rng.random((4, m))
    b[1] = np.round(b[1] * 3)
    b[2] = 7.0
    b = np.vstack([b, -a[:1], a[1:2]])  # reversed and identical rows
    return a, b


@pytest.mark.parametrize("n", [3, 9, 30])
def test_tau_a_and_tau_b_match_rsatoolbox_and_scipy_with_ties(rng, n):
    """tau-a equals rsatoolbox's (exact pair counts) and tau-b scipy's kendalltau
    (variant 'b', NaN for a constant vector) on tied, constant and random RDMs."""
    from rsatoolbox.rdm import RDMs

    a, b = _kendall_stacks(rng, n)
    ids = [f"c{i:02d}" for i in range(n)]
    ra, rb = data.rdm(a, stimulus=ids, dim="model"), data.rdm(b, stimulus=ids, dim="subject")
    got_a = rsa.compare(ra, rb, method="tau-a").values
    np.testing.assert_allclose(
        got_a, rsa_compare(RDMs(a), RDMs(b), method="tau-a"), rtol=0, atol=1e-12
    )
    with pytest.warns(NeurorepWarning, match="undefined"):  # the constant RDMs
        got_b = rsa.compare(ra, rb, method="tau-b").values
    ref_b = np.array([[kendalltau(u, v, variant="b").statistic for v in b] for u in a])
    np.testing.assert_array_equal(np.isnan(got_b), np.isnan(ref_b))
    np.testing.assert_allclose(got_b, ref_b, rtol=0, atol=1e-12)
    assert np.isnan(got_b[2]).all() and np.isnan(got_b[:, 2]).all()


def test_tau_a_with_missing_pairs_matches_rsatoolbox(rng):
    """NaN (missing) dissimilarities at the same pairs of every RDM are left out, as
    rsatoolbox does; the counts run on the remaining pairs."""
    from rsatoolbox.rdm import RDMs

    n = 20
    a, b = _kendall_stacks(rng, n)
    gone = rng.choice(a.shape[1], 17, replace=False)
    ids = [f"c{i:02d}" for i in range(n)]
    ra, rb = data.rdm(a, stimulus=ids, dim="model"), data.rdm(b, stimulus=ids, dim="subject")
    iu, ju = np.triu_indices(n, 1)
    for r, v in ((ra, a), (rb, b)):  # missing in both triangles of every RDM
        r.values[:, iu[gone], ju[gone]] = r.values[:, ju[gone], iu[gone]] = np.nan
        v[:, gone] = np.nan
    got = rsa.compare(ra, rb, method="tau-a")
    ref = rsa_compare(RDMs(a), RDMs(b), method="tau-a")
    np.testing.assert_allclose(got.values, ref, rtol=0, atol=1e-12)


def test_tau_a_counts_are_exact_and_do_not_depend_on_the_split(rng, monkeypatch):
    """Large enough to split its pairs over the parallel engine: the same numbers with one
    worker or two, equal to the direct sum over pairs of sign products (with ties, and
    pairs given out of order and repeated)."""
    from neurorep._core import parallel
    from neurorep._core.compare import tau_a

    m = 1000
    x = rng.random((30, m))
    x[::3] = np.round(x[::3] * 5)
    y = rng.random((20, m))
    y[::4] = np.round(y[::4] * 9)
    y[1] = x[0]
    assert 30 * 20 * m * 4 >= parallel.PARALLEL_BYTES  # the pairs go to the workers
    monkeypatch.setattr(parallel, "_workers", lambda: 1)
    one = tau_a(x, y)
    monkeypatch.setattr(parallel, "_workers", lambda: 2)
    two = tau_a(x, y)
    np.testing.assert_array_equal(one, two)
    i, j = np.triu_indices(m, 1)
    sy = np.sign(y[:, i] - y[:, j]).astype(np.int8)
    for r in (0, 1, 5, 29):
        sx = np.sign(x[r, i] - x[r, j]).astype(np.int8)
        brute = (sy * sx).sum(axis=1, dtype=np.int64) / i.size
        np.testing.assert_allclose(one[r], brute, rtol=0, atol=1e-14)
    pairs = np.array([[29, 3], [0, 1], [5, 19], [0, 1], [1, 0]])
    np.testing.assert_array_equal(tau_a(x, y, pairs=pairs), one[pairs[:, 0], pairs[:, 1]])
    assert tau_a(x, y, pairs=np.empty((0, 2), dtype=int)).shape == (0,)


def test_cosine_cov_is_cka_of_double_centred_kernels(stacks):
    ra, rb = stacks
    h = np.eye(N) - 1.0 / N

    def kernel(d):
        return h @ (-0.5 * d) @ h

    ka, kb = kernel(ra.values[0]), kernel(rb.values[0])
    cka = np.sum(ka * kb) / np.sqrt(np.sum(ka * ka) * np.sum(kb * kb))
    got = rsa.compare(ra.isel(model=0), rb.isel(subject=0), method="cosine_cov")
    assert float(got) == pytest.approx(cka, abs=1e-12)


def test_many_against_many_and_dims(rng):
    a = data.rdm(rng.random((100, M)), stimulus=IDS, dim="model")
    b = data.rdm(rng.random((30, M)), stimulus=IDS, dim="subject")
    out = rsa.compare(a, b, method="spearman")
    assert out.shape == (100, 30)
    one = rsa.compare(a.isel(model=7), b.isel(subject=3), method="spearman")
    assert one.ndim == 0
    assert float(one) == pytest.approx(float(out[7, 3]), abs=1e-14)
    same = rsa.compare(b, b, method="corr")
    assert same.dims == ("subject", "subject_b")
    np.testing.assert_allclose(np.diag(same.values), 1.0)


def test_stimulus_order_does_not_matter(stacks):
    ra, rb = stacks
    perm = np.random.default_rng(1).permutation(N)
    shuffled = rb.isel(stimulus_i=perm, stimulus_j=perm)
    for method in ("corr", "tau-a", "cosine_cov"):
        xr.testing.assert_allclose(
            rsa.compare(ra, rb, method=method), rsa.compare(ra, shuffled, method=method)
        )


def test_inner_join_and_mapping_input(stacks):
    ra, rb = stacks
    sub = rb.isel(stimulus_i=slice(0, 10), stimulus_j=slice(0, 10))
    with pytest.raises(AlignmentError, match="different stimuli"):
        rsa.compare(ra, sub)
    inner = rsa.compare(ra, sub, join="inner")
    direct = rsa.compare(ra.isel(stimulus_i=slice(0, 10), stimulus_j=slice(0, 10)), sub)
    xr.testing.assert_allclose(inner, direct)
    mapping = {"x": ra.isel(model=0), "y": ra.isel(model=1)}
    out = rsa.compare(mapping, rb)
    assert out.dims == ("model", "subject")
    assert out.model.values.tolist() == ["x", "y"]


def test_bridges_are_reexported(stacks):
    ra, _ = stacks
    back = rsa.from_rsatoolbox(rsa.to_rsatoolbox(ra))
    np.testing.assert_allclose(back.values, ra.values)


# ---------------------------------------------------------------- bad input
def test_inf_or_one_sided_nan_rdm_is_rejected(stacks):
    ra, rb = stacks
    bad = rb.copy()
    bad[0, 1, 2] = bad[0, 2, 1] = np.inf
    with pytest.raises(SchemaError, match="finite"):
        rsa.compare(ra, bad)
    bad[0, 1, 2] = bad[0, 2, 1] = rb[0, 1, 2]
    bad[0, 1, 2] = np.nan  # a missing pair must be missing in both triangles (#18)
    with pytest.raises(SchemaError, match="not symmetric"):
        rsa.compare(ra, bad)


def test_disjoint_stimuli_are_rejected(stacks):
    ra, rb = stacks
    other = rb.assign_coords(
        stimulus_i=[f"x{i}" for i in range(N)], stimulus_j=[f"x{i}" for i in range(N)]
    )
    with pytest.raises(AlignmentError, match="share no stimulus"):
        rsa.compare(ra, other)


def test_too_few_stimuli_and_bad_method(stacks):
    tiny = data.rdm([1.0], stimulus=["a", "b"])
    with pytest.raises(SchemaError, match="at least 3 stimuli"):
        rsa.compare(tiny, tiny)
    ra, rb = stacks
    with pytest.raises(ValueError, match="method must be one of"):
        rsa.compare(ra, rb, method="kendall-b")
    with pytest.raises(ValueError, match="sigma_k is only used"):
        rsa.compare(ra, rb, method="corr", sigma_k=np.ones(N))
    with pytest.raises(SchemaError, match="sigma_k must be"):
        rsa.compare(ra, rb, method="cosine_cov", sigma_k=np.ones(3))


def test_constant_rdm_scores_nan_with_warning(stacks):
    ra, rb = stacks
    const = data.rdm(np.ones(M), stimulus=IDS)
    with pytest.warns(NeurorepWarning, match="constant"):
        out = rsa.compare(const, rb, method="corr")
    assert np.isnan(out.values).all()


def test_not_an_rdm_is_rejected(rng):
    resp = data.responses(rng.normal(size=(4, 3)), stimulus=list("abcd"))
    with pytest.raises(SchemaError):
        rsa.compare(resp, resp)


def test_ranks_equal_scipy_over_many_blocks_and_in_place(rng):
    from scipy.stats import rankdata

    from neurorep._core.ranks import rank_rows

    x = rng.random((50, 3000))  # ~10 blocks, run on the thread pool
    x[::3] = np.round(x[::3] * 4)  # ties
    x[1] = -x[1]
    ref = rankdata(x, axis=1)
    np.testing.assert_array_equal(rank_rows(x), ref)
    y = x.copy()
    assert rank_rows(y, out=y) is not None
    np.testing.assert_array_equal(y, ref)


def test_ranks_exact_where_the_packed_sort_keys_collide(rng):
    """Values equal in all but their last bits, signed zeros, denormals, inf and NaN."""
    from scipy.stats import rankdata

    from neurorep._core.ranks import rank_rows

    m = 1000
    x = rng.random((6, m))
    base = np.float64(0.7)
    near = base + np.arange(-20, 20) * np.spacing(base)  # collide in the packed key
    x[0, : near.size] = near[::-1]  # descending: the packed sort gets them out of order
    x[1, :40] = rng.permutation(near)
    x[2, :6] = [-0.0, 0.0, 5e-324, -5e-324, np.inf, -np.inf]
    x[3, :4] = [1e-300, -1e-300, 0.0, -0.0]
    x[4, ::7] = x[4, 3]  # a big tie group
    np.testing.assert_array_equal(rank_rows(x[:5]), rankdata(x[:5], axis=1))
    big = rng.random((2, 300_000))  # ~10 natural collisions of 300,000 packed keys per row
    big[1, ::3] = big[1, 0] * (1 + np.spacing(1.0) * (np.arange(100_000) % 7))  # long runs
    np.testing.assert_array_equal(rank_rows(big), rankdata(big, axis=1))
    x[5, 10] = np.nan  # NaN sorts last, as with argsort
    got = rank_rows(x[5:])
    np.testing.assert_array_equal(np.delete(got[0], 10), rankdata(np.delete(x[5], 10)))
    assert got[0, 10] == m


def test_centred_ranks_sorted_order_and_exact_sums_of_squares(rng):
    """centred_ranks = rankdata - (m + 1) / 2 with sum of squares from the tie counts (exact
    integers); sort_rows gives a stable exact order (equal values in position order)."""
    from fractions import Fraction

    from scipy.stats import rankdata

    from neurorep._core.ranks import centred_ranks, sort_rows

    m = 2001
    x = rng.random((5, m))
    x[1] = np.round(x[1] * 3)  # big tie groups
    x[2, :40] = 0.7 + np.arange(40) % 5 * np.spacing(0.7)  # ties inside colliding keys
    x[3] = -0.0
    x[3, ::2] = 0.0  # one group: -0.0 == 0.0
    x[4, :3] = [np.inf, -np.inf, np.inf]
    ref = rankdata(x, axis=1)
    r, ss = centred_ranks(x)
    np.testing.assert_array_equal(r, ref - (m + 1) / 2)
    exact = [float(sum(Fraction(v) ** 2 for v in row)) for row in ref - (m + 1) / 2]
    assert ss.tolist() == exact
    assert ss[3] == 0  # a constant row: no spread, its correlations are NaN
    flat, sv = sort_rows(x)
    order = np.argsort(x, axis=1, kind="stable") + np.arange(0, x.size, m)[:, None]
    np.testing.assert_array_equal(flat, order.ravel())
    np.testing.assert_array_equal(sv, x.ravel()[order.ravel()])


def test_whitened_closed_form_falls_back_near_the_null_pattern(rng):
    """RDMs that are a constant plus 1e-5 noise: the closed form would lose digits."""
    from neurorep._core.compare import cov_closed_form

    a = 1e3 + 1e-5 * rng.random((3, M))
    b = 1e3 + 1e-5 * rng.random((2, M))
    assert cov_closed_form(a, b, centred=True) is None
    ra = data.rdm(a, stimulus=IDS, dim="model")
    rb = data.rdm(b, stimulus=IDS, dim="subject")
    ref = rsa_compare(data.to_rsatoolbox(ra), data.to_rsatoolbox(rb), method="corr_cov")
    np.testing.assert_allclose(rsa.compare(ra, rb, method="corr_cov").values, ref, atol=1e-9)


@pytest.mark.parametrize("method", ["corr", "spearman", "rho-a", "cosine_cov"])
def test_results_do_not_alias_the_inputs_or_earlier_results(stacks, rng, method):
    ra, rb = stacks
    first = rsa.compare(ra, rb, method=method)
    kept = first.values.copy()
    other = data.rdm(rng.random((5, M)), stimulus=IDS, dim="model")
    rsa.compare(other, rb, method=method)
    np.testing.assert_array_equal(first.values, kept)
    np.testing.assert_array_equal(ra.values, stacks[0].values)  # inputs untouched


def test_ranks_after_fork_use_a_fresh_pool(rng):
    """A forked child (multiprocessing's default on Linux) must not wait on the parent's threads."""
    import multiprocessing as mp

    from neurorep._core.parallel import PARALLEL_BYTES
    from neurorep._core.ranks import rank_rows

    x = rng.random((4 * PARALLEL_BYTES // 8 // 2000, 2000))  # large enough to run as tasks
    rank_rows(x)  # the parent's pool exists now
    ctx = mp.get_context("fork")
    with ctx.Pool(1) as pool:
        got = pool.apply_async(rank_rows, (x,)).get(timeout=60)
    np.testing.assert_array_equal(got, rank_rows(x))


def test_the_registries_match_their_literal_types():
    import typing

    from neurorep._core.compare import ALIASES
    from neurorep.rsa._compare import CompareMethod
    from neurorep.rsa._rdm import Metric

    assert set(typing.get_args(CompareMethod)) == set(rsa.COMPARE_METHODS) | set(ALIASES)
    assert set(typing.get_args(Metric)) == set(rsa.METRICS)
    assert str(rsa.METRICS["correlation"]) == "1 - pearson_r(x, y)"


def test_a_comparison_method_is_one_registry_entry(monkeypatch, rng):
    """A new method registered once works in compare, evaluate, compute_ceiling and alignment."""
    from neurorep._core.compare import COMPARE_METHODS, Method
    from neurorep.alignment import rsa_metric, score_matrix

    def neg_mad(x, y, *, own=False, **_):  # minus the mean absolute difference of z-scores
        zx = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True)
        zy = (y - y.mean(1, keepdims=True)) / y.std(1, keepdims=True)
        return -np.abs(zx[:, None, :] - zy[None, :, :]).mean(-1)

    monkeypatch.setitem(COMPARE_METHODS, "neg_mad", Method(neg_mad, pool="zscore"))
    truth = rng.random(M)
    subj = data.rdm(truth + 0.3 * rng.random((5, M)), stimulus=IDS, dim="subject")
    mods = data.rdm(np.stack([truth, rng.random(M)]), stimulus=IDS, dim="model")
    got = rsa.compare(mods, subj, method="neg_mad")
    ref = neg_mad(data.rdm_vectors(mods), data.rdm_vectors(subj))
    np.testing.assert_allclose(got.values, ref, rtol=1e-12)
    res = rsa.evaluate(data=subj, models=mods, method="neg_mad", n_bootstrap=20, rng=0)
    np.testing.assert_allclose(res.score.values, ref.mean(axis=1), rtol=1e-12)
    assert float(res.score[0]) > float(res.score[1])
    assert np.isfinite(res.ci_low).all() and np.isfinite(rsa.compute_ceiling(subj, method="neg_mad")).all()
    one = subj.isel(subject=0)
    sm = score_matrix({"r": one}, {"l": mods.isel(model=0)}, metric=rsa_metric(method="neg_mad"),
                      n_bootstrap=0, rng=0)
    assert float(sm.score.squeeze()) == pytest.approx(float(ref[0, 0]), rel=1e-12)


def test_an_rdm_metric_is_one_registry_entry(monkeypatch, rng):
    """A new RDM metric registered once works in compute_rdm (single and sets)."""
    from neurorep.rsa._rdm import METRICS, RdmMetric

    def chebyshev(x, _):
        return np.abs(x[:, None, :] - x[None, :, :]).max(-1)

    monkeypatch.setitem(METRICS, "chebyshev", RdmMetric("max |x - y|", chebyshev, per_unit=False,
                                                       degree=1))
    x = rng.normal(size=(6, 4))
    resp = data.responses(x, stimulus=list("abcdef"))
    from scipy.spatial.distance import pdist, squareform

    got = rsa.compute_rdm(resp, metric="chebyshev")
    np.testing.assert_allclose(got.values, squareform(pdist(x, "chebyshev")), rtol=1e-12)
    both = rsa.compute_rdm({"a": resp, "b": 2 * resp}, metric="chebyshev")
    np.testing.assert_allclose(both.sel(member="b").values, 2 * got.values, rtol=1e-12)
    tiny = rsa.compute_rdm(resp * 1e-250, metric="chebyshev")  # rescaled by 2**e and back
    np.testing.assert_allclose(tiny.values, got.values * 1e-250, rtol=1e-12)


# --- condensed stacks (data.condense) ------------------------------------------------
@pytest.mark.parametrize(
    "method", ["corr", "spearman", "rho-a", "tau-a", "cosine", "cosine_cov", "corr_cov"]
)
def test_condensed_stacks_match_rsatoolbox_in_any_order(stacks, rng, method):
    ra, rb = stacks
    ref = rsa_compare(data.to_rsatoolbox(ra), data.to_rsatoolbox(rb), method=method)
    perm = rng.permutation(N)
    shuffled = rb.isel(stimulus_i=perm, stimulus_j=perm)
    ca, cb = data.condense(ra), data.condense(shuffled)
    assert ca.dims == ("model", "pair") and ca.sizes["pair"] == M
    for x, y in ((ca, cb), (ra, cb), (ca, shuffled)):
        got = rsa.compare(x, y, method=method)
        assert got.dims == ("model", "subject")
        assert got.model.values.tolist() == ra.model.values.tolist()
        np.testing.assert_allclose(got.values, ref, rtol=0, atol=1e-12)


def test_condensed_round_trip_and_inner_join(stacks):
    ra, rb = stacks
    ca = data.condense(ra)
    xr.testing.assert_identical(data.uncondense(ca), ra)
    assert data.condense(ca) is ca
    part = rb.isel(stimulus_i=slice(2, 11), stimulus_j=slice(2, 11))
    want = rsa.compare(ra, part, join="inner")
    xr.testing.assert_allclose(rsa.compare(ca, data.condense(part), join="inner"), want)
    with pytest.raises(AlignmentError, match="join='inner'"):
        rsa.compare(ca, data.condense(part))


def test_condensed_layout_and_values_are_checked(stacks):
    ra, _ = stacks
    ca = data.condense(ra)
    order = np.arange(M)
    order[[20, 40]] = order[[40, 20]]  # two pairs swapped
    with pytest.raises(SchemaError, match="squareform order"):
        rsa.compare(ca.isel(pair=order), ca)
    with pytest.raises(SchemaError, match="unique"):
        rsa.compare(ca.isel(pair=slice(None, None, -1)), ca)
    with pytest.raises(SchemaError, match="n \\(n - 1\\) / 2"):
        rsa.compare(ca.isel(pair=slice(1, None)), ca)
    with pytest.raises(SchemaError, match="stimulus_j"):
        rsa.compare(ca.drop_vars("stimulus_j"), ca)
    bad = ca.copy(deep=True)
    bad.values[2, 7] = np.inf  # (a NaN is a missing pair: test_rsa_parity18)
    for method in ("corr", "spearman", "tau-a"):
        with pytest.raises(SchemaError, match="finite"):
            rsa.compare(bad, ca, method=method)


def test_large_corr_paths_equal_the_centred_cosine(rng, monkeypatch):
    """The large-stack corr kernels (raw GEMM with row moments; centred blocks when a row's
    mean dwarfs its spread) give the centred cosine's numbers, and NaN for constant rows."""
    from neurorep._core import compare as kern

    monkeypatch.setattr(kern, "_BLOCKED_MIN", 1)
    monkeypatch.setattr(kern, "_BLOCK_BYTES", 4096)
    x = rng.random((6, 3000))
    y = rng.random((4, 3000))
    x[1] += 1e4  # ill-conditioned for the raw product: centred blocks
    y[3] = 2.0  # constant: NaN
    xc, yc = x - x.mean(1, keepdims=True), y - y.mean(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        want = (xc @ yc.T) / np.outer(np.linalg.norm(xc, axis=1), np.linalg.norm(yc, axis=1))
    assert kern._corr_raw(x, y) is None
    np.testing.assert_allclose(kern.compare_vectors(x, y, "corr"), want, atol=1e-12)
    ok = np.delete(x, 1, axis=0)
    raw = kern._corr_raw(ok, y[:3])
    assert raw is not None
    np.testing.assert_allclose(raw, want[[0, 2, 3, 4, 5], :3], atol=1e-12)
    tiny = kern.compare_vectors(x * 1e-200, y[:3] * 1e250, "corr")  # rescaled exactly
    np.testing.assert_allclose(tiny, want[:, :3], atol=1e-12)


def test_row_moments_are_the_exact_sums_in_one_read(rng):
    """The one-read row sums and sums of squares (the condensed path's check and corr's
    moments) are within a few rounding errors of the exact sums (of ``sum(|x|)``: numpy's
    pairwise sum is within ~log2(m)) on plain, tied, offset, signed, huge and short rows; a NaN, an inf or an overflowing square makes them non-finite (the caller's exact
    checks then run); a row's sums do not depend on how the rows are split."""
    from fractions import Fraction

    from neurorep._core.rowmoments import row_moments

    m = 3001  # not a multiple of the chunk: a short last chunk
    x = np.vstack([
        rng.random(m),
        np.round(rng.random(m) * 3),
        1e6 + rng.random(m),
        rng.normal(size=m) * 1e-3,
        rng.normal(size=m) * 1e100,
    ])
    s, ss = row_moments(x)
    for i, row in enumerate(x):
        exact = [Fraction(float(v)) for v in row]
        eps = np.finfo(np.float64).eps
        assert abs(s[i] - float(sum(exact))) <= 4 * eps * np.abs(row).sum()
        assert abs(ss[i] - float(sum(v * v for v in exact))) <= 4 * eps * ss[i]
        one = row_moments(x[i : i + 1])
        assert (one[0][0], one[1][0]) == (s[i], ss[i])
    for width in (0, 1, 3, 513):
        short = rng.random((2, width))
        s, ss = row_moments(short)
        np.testing.assert_allclose(s, short.sum(axis=1), rtol=1e-15, atol=0)
        np.testing.assert_allclose(ss, (short**2).sum(axis=1), rtol=1e-15, atol=0)
    bad = rng.random((5, 2000))
    bad[0, 1500] = np.nan
    bad[1, 3] = np.inf
    bad[2, 7] = -np.inf
    bad[3, 11] = 1e200  # its square overflows
    s, ss = row_moments(bad)
    assert not (np.isfinite(s[:3]).any() or np.isfinite(ss[:4]).any())
    assert np.isfinite(s[4]) and np.isfinite(ss[4])


def _centred_reference(x, y):
    """Pearson r of every row pair from explicitly centred rows, in extended precision."""
    xl, yl = x.astype(np.longdouble), y.astype(np.longdouble)
    xl -= xl.mean(axis=1, keepdims=True)
    yl -= yl.mean(axis=1, keepdims=True)
    num = np.einsum("ik,jk->ij", xl, yl)
    den = np.sqrt((xl * xl).sum(axis=1))[:, None] * np.sqrt((yl * yl).sum(axis=1))[None, :]
    return (num / den).astype(np.float64)


@pytest.mark.parametrize(
    "case", ["plain", "tied", "mild_offset", "offset", "huge_offset", "nan_pairs", "single"]
)
def test_condensed_corr_checks_and_moments_in_one_pass_keep_the_numbers(rng, monkeypatch, case):
    """Condensed corr at the large-stack kernels' sizes (forced small here): one read gives
    the value checks, the missing-pair scan and the row moments; the scores equal the
    extended-precision centred ones, rsatoolbox's and the square path's, for plain, tied,
    offset (0.5: raw GEMM; 3 and 1e6 + noise: centred blocks), NaN-pair and single
    RDMs. Clean stacks skip the missing-pair scan; stacks with NaN pairs still run it.
    (An independent reference: fails if the moments or the GEMM were off by ~1e-14.)"""
    from rsatoolbox.rdm import RDMs

    from neurorep._core import compare as kern
    from neurorep.rsa import _compare as cmp_mod

    monkeypatch.setattr(kern, "_BLOCKED_MIN", 1)
    monkeypatch.setattr(kern, "_BLOCK_BYTES", 4096)  # several column blocks
    n = 60
    m = n * (n - 1) // 2
    a = rng.random((6, m))
    b = 0.4 * a[:4] + rng.random((4, m))
    if case == "tied":
        a[::2] = np.round(a[::2] * 3)
        b[1] = np.round(b[1] * 2)
    elif case == "mild_offset":
        a += 0.5  # sum of squares / centred one ~13 (< 64): the raw GEMM, some cancellation
    elif case == "offset":
        a[1:] += 3.0  # ~150 for those rows (> 64): the centred blocks
    elif case == "huge_offset":
        a, b = 1e6 + a, 1e6 + b
    elif case == "nan_pairs":
        a[:, [4, 100, 1700]] = np.nan
        b[:, [4, 100, 1700]] = np.nan
    elif case == "single":
        a, b = a[:1], b[:1]
    ids = [f"s{i:02d}" for i in range(n)]
    ra = data.rdm(np.zeros((len(a), m)), stimulus=ids, dim="model")
    rb = data.rdm(np.zeros((len(b), m)), stimulus=ids, dim="subject")
    from neurorep._core.condensed import square

    ra, rb = ra.copy(data=square(a, n)), rb.copy(data=square(b, n))
    ca, cb = data.condense(ra), data.condense(rb)
    scans = []
    real_scan = cmp_mod.missing_pairs
    monkeypatch.setattr(
        cmp_mod, "missing_pairs", lambda *args: scans.append(1) or real_scan(*args)
    )
    got = rsa.compare(ca, cb, method="corr").values
    assert len(scans) == (case == "nan_pairs")
    keep = ~np.isnan(a).any(axis=0)
    ref = _centred_reference(a[:, keep], b[:, keep])
    # the raw GEMM's subtraction loses about log10(13) digits on the mildly offset rows
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-14 if case == "mild_offset" else 2e-15)
    np.testing.assert_allclose(got, rsa_compare(RDMs(a), RDMs(b), method="corr"), atol=1e-12)
    np.testing.assert_allclose(got, rsa.compare(ra, rb, method="corr").values, atol=2e-15)
    # one side clean, the other with NaN pairs: those pairs are left out of every score
    full = np.where(np.isnan(a), 0.5, a)
    cfull = ca.copy(data=full)
    mixed = rsa.compare(cfull, cb, method="corr").values
    keep = ~np.isnan(b).any(axis=0)
    np.testing.assert_allclose(mixed, _centred_reference(full[:, keep], b[:, keep]), atol=2e-15)
