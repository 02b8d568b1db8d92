"""Geo-topological transforms (RGTM) and geodesic RDMs (RGDM)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.spatial.distance import pdist, squareform
from scipy.stats import rankdata

from neurorep import SchemaError, data
from neurorep.topology import (
    RGTM_REGIMES,
    geodesic_transform,
    gt_transform,
    sigmoid_transform,
    threshold_grid,
)


def _rdm(rng: np.random.Generator, n: int = 12, p: int = 4, **kw) -> xr.DataArray:
    x = rng.standard_normal((n, p))
    return data.rdm(
        squareform(pdist(x)), stimulus=[f"s{i}" for i in range(n)], metric="euclidean", **kw
    )


def _paper_gt(vec: np.ndarray, lo: float, up: float) -> np.ndarray:
    """Lin & Kriegeskorte's utils_transform.gt_transform (gt_type='lu'), re-typed for reference."""
    r = rankdata(vec)
    d = (r - r.min()) / (r.max() - r.min())
    gmin, gmax = np.quantile(d, lo), np.quantile(d, up)
    out = d.copy()
    out[d < gmin] = 0
    mid = (d >= gmin) & (d <= gmax)
    out[mid] = (d[mid] - gmin) / (gmax - gmin)
    out[d > gmax] = 1
    return out


# ---------------------------------------------------------------- reference
@pytest.mark.parametrize(("lo", "up"), [(0.2, 0.8), (0.0, 0.3), (0.45, 0.55), (0.0, 1.0)])
def test_rank_version_matches_paper_code(rng, lo, up):
    r = _rdm(rng)
    got = squareform(gt_transform(r, lo, up).values, checks=False)
    want = _paper_gt(squareform(r.values, checks=False), lo, up)
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_raw_version_matches_rsatoolbox(rng):
    from rsatoolbox.rdm import RDMs
    from rsatoolbox.rdm.transform import geotopological_transform

    r = _rdm(rng)
    vec = squareform(r.values, checks=False)
    ref = geotopological_transform(RDMs(vec[None].copy()), 0.25, 0.7).get_vectors()[0]
    lo, up = np.quantile(vec, 0.25), np.quantile(vec, 0.7)
    assert up > 1  # rsatoolbox's in-place bug (below) cannot trigger when upper > 1
    got = squareform(gt_transform(r, lo, up, rank=False).values, checks=False)
    np.testing.assert_allclose(got, ref, atol=1e-12)


def test_rank_version_vs_rsatoolbox_on_ranked_rdm(rng):
    """rsatoolbox 0.3.2 rescales the middle band in place and then sets every value
    above ``upper`` to 1, so rescaled values that land above ``upper`` become 1.
    We agree with it everywhere else (and with the paper's code everywhere)."""
    from rsatoolbox.rdm import RDMs
    from rsatoolbox.rdm.transform import geotopological_transform, minmax_transform, rank_transform

    r = _rdm(rng)
    vec = squareform(r.values, checks=False)
    ranked = minmax_transform(rank_transform(RDMs(vec[None].copy())))
    ref = geotopological_transform(ranked, 0.3, 0.6).get_vectors()[0]
    got = squareform(gt_transform(r, 0.3, 0.6).values, checks=False)
    hit = (got > 0.6) & (got < 1)
    assert hit.any()
    np.testing.assert_allclose(np.where(hit, 1.0, got), ref, atol=1e-12)


# ---------------------------------------------------------------- ground truth / invariances
def test_known_values_and_output_form():
    r = data.rdm([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], stimulus=list("abcd"), metric="euclidean")
    out = gt_transform(r, 0.2, 0.8)
    np.testing.assert_allclose(
        squareform(out.values, checks=False), [0, 0, 1 / 3, 2 / 3, 1, 1], atol=1e-12
    )
    assert out.dims == r.dims and list(out.stimulus_i.values) == list("abcd")
    assert out.attrs["gt_lower"] == 0.2 and out.attrs["metric"] == "rgtm(euclidean)"
    assert data.validate(out) == "rdm"


def test_equal_thresholds_give_binary_graph_never_nan(rng):
    r = _rdm(rng)
    for t in (0.0, 0.3, 0.5, 1.0):
        out = gt_transform(r, t, t).values
        assert np.isfinite(out).all()
        assert set(np.unique(out)) <= {0.0, 1.0}
    ranks = squareform(gt_transform(r, 0.0, 1.0).values, checks=False)
    bin_ = squareform(gt_transform(r, 0.5, 0.5).values, checks=False)
    np.testing.assert_array_equal(bin_, (ranks > 0.5).astype(float))
    # raw thresholds: a value equal to the threshold maps to 0 (no NaN from 0/0)
    v = squareform(r.values, checks=False)
    t = float(np.sort(v)[10])
    raw = squareform(gt_transform(r, t, t, rank=False).values, checks=False)
    np.testing.assert_array_equal(raw, (v > t).astype(float))


@pytest.mark.parametrize("f", [np.exp, np.sqrt, lambda v: v**3 + 2 * v, np.log1p])
def test_rank_transform_invariant_to_increasing_maps(rng, f):
    r = _rdm(rng)
    g = r.copy(data=np.where(np.eye(r.shape[0], dtype=bool), 0.0, f(r.values)))
    for lo, up in [(0.0, 1.0), (0.2, 0.7), (0.5, 0.5)]:
        np.testing.assert_allclose(gt_transform(r, lo, up).values, gt_transform(g, lo, up).values)


def test_raw_version_is_not_rank_invariant(rng):
    r = _rdm(rng)
    g = r.copy(data=r.values**2)
    assert not np.allclose(
        gt_transform(r, 0.5, 2.0, rank=False).values, gt_transform(g, 0.5, 2.0, rank=False).values
    )


def test_stack_ranked_per_rdm_and_input_untouched(rng):
    singles = [_rdm(rng) for _ in range(3)]
    stack = xr.concat([s * (i + 1) ** 2 for i, s in enumerate(singles)], dim="subject")
    before = stack.copy(deep=True)
    out = gt_transform(stack, 0.1, 0.6)
    for i, s in enumerate(singles):
        np.testing.assert_allclose(out.isel(subject=i).values, gt_transform(s, 0.1, 0.6).values)
    xr.testing.assert_identical(stack, before)


def test_stimulus_permutation_equivariance(rng):
    r = _rdm(rng)
    perm = rng.permutation(r.shape[0])
    ids = r.stimulus_i.values[perm]
    a = gt_transform(r, 0.2, 0.6).sel(stimulus_i=ids, stimulus_j=ids)
    b = gt_transform(r.sel(stimulus_i=ids, stimulus_j=ids), 0.2, 0.6)
    np.testing.assert_allclose(a.values, b.values)


def test_ties_share_a_rank_value():
    r = data.rdm([1.0, 1.0, 2.0, 3.0, 3.0, 5.0], stimulus=list("abcd"))
    vec = squareform(gt_transform(r, 0.0, 1.0).values, checks=False)
    assert vec[0] == vec[1] == 0.0 and vec[3] == vec[4] and vec[5] == 1.0


def test_regimes_are_presets():
    assert set(RGTM_REGIMES) == {"local", "global", "geometry", "topology"}
    lo, up = RGTM_REGIMES["topology"]
    assert 0.4 <= lo <= up <= 0.6  # the paper's topology-sensitive box
    assert np.mean(RGTM_REGIMES["local"]) <= 0.2 and np.mean(RGTM_REGIMES["global"]) >= 0.8
    assert np.diff(RGTM_REGIMES["geometry"])[0] >= 0.8 - 1e-9
    r = data.rdm(np.arange(1.0, 16.0), stimulus=[f"s{i}" for i in range(6)])
    np.testing.assert_array_equal(
        gt_transform(r, regime="local").values, gt_transform(r, *RGTM_REGIMES["local"]).values
    )


def test_threshold_grid():
    g = threshold_grid(10)
    assert len(g) == 55 - 2 and np.all(g[:, 0] <= g[:, 1])
    assert len(threshold_grid(10, degenerate=True)) == 55


# ---------------------------------------------------------------- geodesic
def _reference_geodesic(w: np.ndarray) -> np.ndarray:
    import networkx as nx

    n = len(w)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    for i in range(n):
        for j in range(i + 1, n):
            if w[i, j] < 1:
                g.add_edge(i, j, weight=w[i, j])
    return np.asarray(nx.floyd_warshall_numpy(g, weight="weight"))


@pytest.mark.parametrize(("lo", "up"), [(0.0, 0.5), (0.2, 0.4), (0.3, 0.3), (0.0, 1.0)])
def test_geodesic_matches_floyd_warshall(rng, lo, up):
    r = _rdm(rng, n=15)
    w = gt_transform(r, lo, up).values
    got = geodesic_transform(r, lo, up).values
    np.testing.assert_allclose(got, _reference_geodesic(w), atol=1e-12)


def test_geodesic_zero_edges_keep_zero_distance():
    # a-b and b-c map to 0; a-c is long: the geodesic a-c must be 0 (via b),
    # which a dense csgraph call (zeros = no edge) would miss
    r = data.rdm([1.0, 9.0, 1.0], stimulus=list("abc"))
    out = geodesic_transform(r, 2.0, 5.0, rank=False).values
    np.testing.assert_array_equal(out, np.zeros((3, 3)))


def test_geodesic_disconnected_inf_or_fill():
    r = data.rdm([1.0, 9.0, 9.0, 9.0, 9.0, 1.0], stimulus=list("abcd"))  # {a,b} {c,d}
    out = geodesic_transform(r, 0.0, 2.0, rank=False)
    assert (
        np.isinf(out.sel(stimulus_i="a", stimulus_j="c"))
        and out.sel(stimulus_i="a", stimulus_j="b") == 0.5
    )
    filled = geodesic_transform(r, 0.0, 2.0, rank=False, disconnected=10.0)
    assert float(filled.sel(stimulus_i="a", stimulus_j="d")) == 10.0
    assert data.validate(filled) == "rdm"


# ---------------------------------------------------------------- bad input
def test_bad_inputs(rng):
    r = _rdm(rng, n=5)
    asym = r.copy(data=r.values + np.triu(np.ones((5, 5)), 1))
    with pytest.raises(SchemaError, match="symmetric"):
        gt_transform(asym, 0.1, 0.5)
    with pytest.raises(SchemaError, match="non-negative"):
        gt_transform(r - 100.0 * (1 - np.eye(5)), 0.1, 0.5)
    nan = r.copy(
        data=np.where(np.eye(5, k=1, dtype=bool) | np.eye(5, k=-1, dtype=bool), np.nan, r.values)
    )
    with pytest.raises(SchemaError, match="NaN"):
        gt_transform(nan, 0.1, 0.5)
    with pytest.raises(ValueError, match="lower must be <= upper"):
        gt_transform(r, 0.6, 0.2)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        gt_transform(r, 0.2, 1.5)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        gt_transform(r, -0.1, 0.5)
    with pytest.raises(ValueError, match="must be >= 0"):
        gt_transform(r, -0.1, 0.5, rank=False)
    with pytest.raises(ValueError, match="regime must be one of"):
        gt_transform(r, regime="medium")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not both"):
        gt_transform(r, 0.1, 0.2, regime="local")
    with pytest.raises(ValueError, match="give both lower= and upper="):
        gt_transform(r, 0.1)
    with pytest.raises(SchemaError, match="neurorep.data.rdm"):
        gt_transform(r.values, 0.1, 0.5)  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match="last two dims"):
        gt_transform(r.rename(stimulus_i="a", stimulus_j="b"), 0.1, 0.5)
    with pytest.raises(ValueError, match="disconnected must be >= 0"):
        geodesic_transform(r, 0.1, 0.5, disconnected=-1.0)


# ---------------------------------------------------------------- ties (issue #13)
def _paper_gt_no_nan(vec: np.ndarray, lo: float, up: float) -> np.ndarray:
    """_paper_gt, with the documented convention where the paper divides 0 by 0."""
    r = rankdata(vec)
    span = r.max() - r.min()
    d = (r - r.min()) / span if span > 0 else np.full(r.shape, 0.5)
    gmin, gmax = np.quantile(d, lo), np.quantile(d, up)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = _paper_gt(vec, lo, up) if span > 0 else np.full(r.shape, np.nan)
    equal = np.isnan(out)  # 0/0: both thresholds equal; a value at the threshold maps to 0
    out[equal] = (d[equal] > gmin).astype(float)
    assert gmax == gmin or not equal.any()
    return out


def _categorical_rdm(rng: np.random.Generator, labels: np.ndarray, levels: int) -> xr.DataArray:
    """A model RDM with a few distinct values (heavily tied), e.g. category membership."""
    n = labels.size
    base = rng.integers(1, levels + 1, size=(n, n)).astype(float)
    base = np.triu(base, 1) + np.triu(base, 1).T
    d = np.where(labels[:, None] == labels[None, :], 0.5, base)
    np.fill_diagonal(d, 0.0)
    return data.rdm(d, stimulus=[f"c{i:02d}" for i in range(n)], metric="category")


@pytest.mark.parametrize(
    ("lo", "up"), [(0.2, 0.8), (0.1, 0.35), (0.4, 0.6), (0.0, 0.5), (0.55, 1.0), (0.3, 0.3)]
)
def test_rank_version_matches_paper_code_on_tied_rdms(rng, lo, up):
    labels = np.repeat(np.arange(4), 4)
    r = _categorical_rdm(rng, labels, levels=3)
    vec = squareform(r.values, checks=False)
    assert np.unique(vec).size <= 4  # heavily tied
    got = squareform(gt_transform(r, lo, up).values, checks=False)
    np.testing.assert_allclose(got, _paper_gt_no_nan(vec, lo, up), atol=1e-12)


def test_tied_quantiles_change_the_result_against_levels(rng):
    """Categorical RDM: thresholds at the levels would zero a different set of pairs."""
    labels = np.repeat(np.arange(3), 5)
    r = _categorical_rdm(rng, labels, levels=2)
    vec = squareform(r.values, checks=False)
    ranks = squareform(gt_transform(r, 0.0, 1.0).values, checks=False)
    lo, up = 0.3, 0.7
    q_lo, q_up = np.quantile(ranks, [lo, up])
    assert abs(q_lo - lo) > 0.05 or abs(q_up - up) > 0.05
    naive = np.clip((ranks - lo) / (up - lo), 0, 1)
    got = squareform(gt_transform(r, lo, up).values, checks=False)
    np.testing.assert_allclose(got, _paper_gt_no_nan(vec, lo, up), atol=1e-12)
    assert np.abs(got - naive).max() > 0.05


def test_all_tied_rdm_and_equal_quantiles_never_nan():
    r = data.rdm(np.full(10, 2.0), stimulus=list("abcde"))
    for lo, up in [(0.0, 1.0), (0.2, 0.8), (0.5, 0.5), (1.0, 1.0)]:
        out = gt_transform(r, lo, up).values
        np.testing.assert_array_equal(out, np.zeros((5, 5)))
    # two values only: both quantiles fall inside the block of the larger value
    r2 = data.rdm([1.0] + [3.0] * 9, stimulus=list("abcde"))
    out = squareform(gt_transform(r2, 0.5, 0.9).values, checks=False)
    assert np.isfinite(out).all() and set(np.unique(out)) <= {0.0, 1.0}
    np.testing.assert_array_equal(out, _paper_gt_no_nan(np.r_[1.0, [3.0] * 9], 0.5, 0.9))


def test_stack_thresholds_are_quantiles_of_each_rdm(rng):
    labels = np.repeat(np.arange(4), 3)
    a, b = _categorical_rdm(rng, labels, 2), _categorical_rdm(rng, labels, 5)
    stack = xr.concat([a, b.assign_coords(metric="x")], dim="subject")
    out = gt_transform(stack, 0.25, 0.75)
    for k, r in enumerate((a, b)):
        want = _paper_gt_no_nan(squareform(r.values, checks=False), 0.25, 0.75)
        np.testing.assert_allclose(squareform(out.values[k], checks=False), want, atol=1e-12)


def test_agtdm_and_identification_use_the_paper_thresholds_on_ties(rng):
    """The other consumers of the rank-scale transform follow gt_transform."""
    from neurorep.topology import agtdm, score_identification

    labels = np.repeat(np.arange(3), 4)
    a, b = _categorical_rdm(rng, labels, 2), _categorical_rdm(rng, labels, 3)
    res = agtdm(a, b, grid=np.array([[0.3, 0.7]]), n_permutations=9, rng=0)
    ta, tb = (
        squareform(_paper_gt_no_nan(squareform(r.values, checks=False), 0.3, 0.7)) for r in (a, b)
    )
    n = ta.shape[0]

    def ucentre(m):
        out = m - m.sum(1, keepdims=True) / (n - 2) - m.sum(0, keepdims=True) / (n - 2)
        out += m.sum() / ((n - 1) * (n - 2))
        np.fill_diagonal(out, 0.0)
        return out

    ua, ub = ucentre(ta), ucentre(tb)
    want = (ua * ub).sum() / np.sqrt((ua * ua).sum() * (ub * ub).sum())
    assert float(res.score) == pytest.approx(want, abs=1e-12)
    # identification with fixed thresholds equals identification of the transformed RDMs
    subs = [f"p{i}" for i in range(3)]
    rdms = {
        name: xr.concat([_categorical_rdm(rng, labels, lv) for _ in subs], dim="subject")
        .assign_coords(subject=subs)
        for name, lv in (("A", 2), ("B", 4))
    }
    direct = {
        k: v.copy(data=np.stack([
            squareform(_paper_gt_no_nan(squareform(m, checks=False), 0.3, 0.7)) for m in v.values
        ]))
        for k, v in rdms.items()
    }
    got = score_identification(rdms, lower=0.3, upper=0.7, n_bootstrap=0)
    via = score_identification(direct, n_bootstrap=0)
    np.testing.assert_array_equal(got["prediction"].values, via["prediction"].values)


def test_complex_rdm_is_refused():
    r = data.rdm(np.arange(1.0, 7.0), stimulus=list("abcd"))
    with pytest.raises(SchemaError, match="complex"):
        gt_transform(r.copy(data=r.values + 0j), 0.1, 0.5)


# ---------------------------------------------------------------- sigmoid and geodesic variants
def _paper_geodesic(vec: np.ndarray, gd_type: str, rank_after: bool, **kw) -> np.ndarray:
    """Lin & Kriegeskorte's utils_transform.geodesic_transform, re-typed for reference
    (networkx graph from the square matrix: zero entries are not edges)."""
    import networkx as nx

    if gd_type == "twostep":
        d = (vec - vec.min()) / (vec.max() - vec.min())
    else:
        r = rankdata(vec)
        d = (r - r.min()) / (r.max() - r.min())
    g = nx.from_numpy_array(squareform(d))
    edges = list(g.edges.data("weight"))

    def knn(node, k):
        return [v for _, v in sorted((e[2]["weight"], e[1]) for e in g.edges(node, data=True))[:k]]

    if gd_type == "twostep":
        long = [e for e in edges if e[2] == 1]
    elif gd_type == "p_shortest":
        thr = np.quantile(d, kw.get("p", 0.05))
        long = [e for e in edges if e[2] > thr]
    else:
        k = int(kw.get("p", 0.05) * len(g.nodes())) if gd_type == "p_nearest" else kw.get("k", 1)
        long = [e for e in edges if e[1] not in knn(e[0], k)]
    g.remove_edges_from([e[:2] for e in long])
    out = squareform(np.array(nx.floyd_warshall_numpy(g)))
    # equal path sums can differ in the last bits (summation order): tie them before ranking
    fin = np.isfinite(out)
    scale = np.abs(out[fin]).max(initial=0.0) or 1.0
    tied = np.where(fin, np.round(out / scale, 12), out)
    return rankdata(tied) if rank_after else out


@pytest.mark.parametrize(
    ("graph", "kw"),
    [("p_shortest", {"p": 0.05}), ("p_shortest", {"p": 0.3}), ("p_nearest", {"p": 0.2}),
     ("k_nearest", {"k": 1}), ("k_nearest", {"k": 3})],
)
@pytest.mark.parametrize("ranked", [False, True])
@pytest.mark.parametrize("tied", [False, True])
def test_geodesic_variants_match_paper_code(rng, graph, kw, ranked, tied):
    r = _rdm(rng)
    if tied:  # a categorical-like RDM: many tied dissimilarities
        r = r.copy(data=np.round(r.values))
    got = geodesic_transform(r, graph=graph, keep_zero_edges=False, symmetric=False,
                             ranked=ranked, **kw)
    want = _paper_geodesic(squareform(r.values, checks=False), graph, ranked, **kw)
    np.testing.assert_allclose(squareform(got.values, checks=False), want, atol=1e-12)


@pytest.mark.parametrize(("lo", "up"), [(0.2, 0.8), (0.1, 0.5)])
@pytest.mark.parametrize("ranked", [False, True])
def test_geodesic_gt_matches_paper_twostep_and_rsatoolbox(rng, lo, up, ranked):
    from rsatoolbox.rdm import RDMs
    from rsatoolbox.rdm.transform import geodesic_transform as rsa_geodesic

    r = _rdm(rng)
    rgtm = _paper_gt(squareform(r.values, checks=False), lo, up)
    got = geodesic_transform(r, lo, up, keep_zero_edges=False, ranked=ranked)
    got_vec = squareform(got.values, checks=False)
    np.testing.assert_allclose(got_vec, _paper_geodesic(rgtm, "twostep", ranked), atol=1e-12)
    if not ranked:
        ref = rsa_geodesic(RDMs(rgtm[None].copy())).get_vectors()[0]
        np.testing.assert_allclose(got_vec, ref, atol=1e-12)
    # neurorep's default keeps zero-length edges: a real difference, documented with numbers
    kept = squareform(geodesic_transform(r, lo, up, ranked=ranked).values, checks=False)
    assert (np.abs(kept - got_vec) > 1e-9).sum() > 10


def test_geodesic_zero_edge_numbers_in_docstring():
    """The numbers quoted in geodesic_transform's docstring."""
    x = np.random.default_rng(0).standard_normal((12, 4))
    r = data.rdm(squareform(pdist(x)), stimulus=[f"s{i}" for i in range(12)])
    a = squareform(geodesic_transform(r, 0.2, 0.8).values, checks=False)
    b = squareform(geodesic_transform(r, 0.2, 0.8, keep_zero_edges=False).values, checks=False)
    zero = a == 0
    assert zero.sum() == 36
    assert round(float(b[zero].min()), 3) == 0.026 and round(float(np.median(b[zero])), 2) == 0.49
    assert round(float(b[zero].max()), 2) == 1.31
    d = np.abs(a - b)
    assert (d[~zero] > 1e-12).sum() == 24 and round(float(d[~zero].max()), 2) == 0.77
    assert (d > 1e-12).sum() == 60


def test_knn_symmetric_is_order_free_and_authors_rule_is_not(rng):
    r = _rdm(rng, n=10)
    perm = rng.permutation(10)
    ids = r.stimulus_i.values[perm]
    for sym in (True, False):
        a = geodesic_transform(r, graph="k_nearest", k=1, symmetric=sym, disconnected=99.0)
        b = geodesic_transform(r.sel(stimulus_i=ids, stimulus_j=ids), graph="k_nearest", k=1,
                               symmetric=sym, disconnected=99.0)
        same = np.allclose(a.sel(stimulus_i=ids, stimulus_j=ids).values, b.values)
        if sym:
            assert same
    # the symmetric kNN graph has at least the authors' edges: distances never longer
    a = geodesic_transform(r, graph="k_nearest", k=2, disconnected=99.0).values
    b = geodesic_transform(r, graph="k_nearest", k=2, symmetric=False, disconnected=99.0).values
    assert (a <= b + 1e-12).all() and (a < b - 1e-9).any()


@pytest.mark.parametrize(("alpha", "beta"), [(10.0, 0.5), (3.0, 0.2), (50.0, 0.9)])
def test_sigmoid_matches_paper_code(rng, alpha, beta):
    r = _rdm(rng)
    r = r.copy(data=np.round(r.values, 1))  # ties
    vec = squareform(r.values, checks=False)
    rk = rankdata(vec)
    d = (rk - rk.min()) / (rk.max() - rk.min())
    want = 1 / (1 + np.exp(-(d - beta) * alpha))
    got = sigmoid_transform(r, alpha, beta)
    np.testing.assert_allclose(squareform(got.values, checks=False), want, atol=1e-12)
    assert np.all(np.diag(got.values) == 0)
    # a steep sigmoid approaches the 0/1 step at beta on the rank scale
    steep = squareform(sigmoid_transform(r, 1e4, beta).values, checks=False)
    far = np.abs(d - beta) > 0.01
    np.testing.assert_allclose(steep[far], (d[far] > beta).astype(float), atol=1e-12)


def test_variants_bad_input(rng):
    r = _rdm(rng)
    with pytest.raises(ValueError, match="graph='gt'"):
        geodesic_transform(r, 0.2, 0.8, graph="p_shortest")
    with pytest.raises(ValueError, match="graph"):
        geodesic_transform(r, graph="mst")
    with pytest.raises(ValueError, match=r"p must lie in \(0, 1\]"):
        geodesic_transform(r, graph="p_shortest", p=0)
    with pytest.raises(ValueError, match="k"):
        geodesic_transform(r, graph="k_nearest", k=0)
    with pytest.raises(ValueError, match="alpha"):
        sigmoid_transform(r, alpha=0)
    with pytest.raises(ValueError, match="beta"):
        sigmoid_transform(r, beta=2)
