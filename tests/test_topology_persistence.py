"""Vietoris-Rips persistence, diagram transforms, Betti curves, landscapes, distances."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import xarray as xr
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial.distance import pdist, squareform

from neurorep import SchemaError, data
from neurorep.topology import (
    betti_curve,
    diagram_distance,
    geodesic_transform,
    gt_transform,
    gt_transform_diagram,
    persistence,
    persistence_landscape,
    rips_memory_bytes,
)


def _bars(dg: xr.Dataset, k: int) -> np.ndarray:
    sel = dg.dimension.values == k
    arr = np.column_stack([dg.birth.values[sel], dg.death.values[sel]])
    return arr[np.lexsort((arr[:, 1], arr[:, 0]))]


def _sorted(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr, float).reshape(-1, 2)
    return arr[np.lexsort((arr[:, 1], arr[:, 0]))]


def _circle_rdm(n: int, radius: float = 1.0) -> xr.DataArray:
    k = np.arange(n)
    step = np.abs(k[:, None] - k[None, :])
    step = np.minimum(step, n - step)
    return data.rdm(2 * radius * np.sin(np.pi * step / n), metric="euclidean")


# ---------------------------------------------------------------- ground truth
@pytest.mark.parametrize("n", [4, 5, 6, 7, 9, 12, 16, 25, 40])
def test_circle_has_one_h1_bar_with_known_endpoints(n):
    """n evenly spaced points on the unit circle: one H1 bar [2 sin(pi/n), 2 sin(pi ceil(n/3)/n)).

    Checked numerically for n = 4..24 against ripser and gudhi before use; for
    n = 3 birth == death (no bar). Radius r scales both ends by r.
    """
    radius = 1.7
    h1 = _bars(persistence(_circle_rdm(n, radius)), 1)
    assert h1.shape == (1, 2)
    want = radius * np.array([2 * np.sin(np.pi / n), 2 * np.sin(np.pi * math.ceil(n / 3) / n)])
    np.testing.assert_allclose(h1[0], want, rtol=1e-12)


def test_circle_from_coordinates_one_h1_bar():
    t = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    ring = data.responses(np.c_[np.cos(t), np.sin(t)])
    h1 = _bars(persistence(ring), 1)
    assert h1.shape == (1, 2)
    np.testing.assert_allclose(
        h1[0], [2 * np.sin(np.pi / 60), 2 * np.sin(np.pi * 20 / 60)], rtol=1e-6
    )


def test_triangle_has_no_h1():
    assert _bars(persistence(_circle_rdm(3)), 1).shape == (0, 2)


def test_two_clusters_one_long_h0_bar(rng):
    x = np.r_[rng.normal(0, 0.05, (20, 2)), rng.normal(0, 0.05, (20, 2)) + [5, 0]]
    h0 = _bars(persistence(data.responses(x), maxdim=0), 0)
    finite = h0[np.isfinite(h0[:, 1])]
    assert len(h0) == 40 and np.isinf(h0[:, 1]).sum() == 1
    long = finite[:, 1] > 1.0
    assert long.sum() == 1
    gap = squareform(pdist(x))[:20, 20:].min()
    np.testing.assert_allclose(finite[long, 1], gap)
    assert finite[~long, 1].max() < 0.3


def test_h0_deaths_are_minimum_spanning_tree_weights(rng):
    x = rng.standard_normal((50, 3))
    d = squareform(pdist(x))
    mst = np.sort(minimum_spanning_tree(d).data)
    h0 = _bars(persistence(data.rdm(d)), 0)
    deaths = np.sort(h0[np.isfinite(h0[:, 1]), 1])
    np.testing.assert_allclose(deaths, mst, rtol=1e-12)


def test_responses_input_equals_rdm_input(rng):
    x = rng.standard_normal((30, 4))
    a = persistence(data.responses(x))
    b = persistence(data.rdm(squareform(pdist(x))))
    for k in (0, 1):
        np.testing.assert_allclose(_bars(a, k), _bars(b, k), rtol=1e-7, atol=1e-9)
    assert a.attrs["n_points"] == 30 and a.attrs["coeff"] == 2


# ---------------------------------------------------------------- reference: ripser
@pytest.mark.parametrize(
    ("maxdim", "coeff", "thresh"), [(1, 2, np.inf), (2, 2, np.inf), (1, 3, np.inf), (1, 2, 1.5)]
)
def test_agrees_with_ripser(rng, maxdim, coeff, thresh):
    from ripser import ripser

    x = rng.standard_normal((45, 4))
    d = squareform(pdist(x))
    ours = persistence(data.rdm(d), maxdim=maxdim, coeff=coeff, threshold=thresh)
    ref = ripser(d, distance_matrix=True, maxdim=maxdim, coeff=coeff, thresh=thresh)["dgms"]
    for k in range(maxdim + 1):
        a, b = _bars(ours, k), _sorted(ref[k])
        assert a.shape == b.shape
        np.testing.assert_array_equal(np.isinf(a), np.isinf(b))
        fin = np.isfinite(a)
        np.testing.assert_allclose(a[fin], b[fin], atol=1e-5)  # ripser.py works in float32


# ---------------------------------------------------------------- transformed diagrams
@pytest.mark.parametrize(
    ("lo", "up", "rank"),
    [
        (0.2, 0.6, True),
        (0.0, 0.3, True),
        (0.5, 0.5, True),
        (0.8, 1.0, True),
        (0.0, 1.0, True),
        (1.0, 2.5, False),
        (1.5, 1.5, False),
        (0.0, 0.5, False),
    ],
)
def test_transformed_diagram_equals_recomputed(rng, lo, up, rank):
    x = np.r_[rng.standard_normal((25, 2)), 0.3 * rng.standard_normal((15, 2)) + [3, 0]]
    r = data.rdm(squareform(pdist(x)), metric="euclidean")
    direct = persistence(gt_transform(r, lo, up, rank=rank))
    via = gt_transform_diagram(persistence(r), lo, up, rank=rank, rdm=r)
    for k in (0, 1):
        a, b = _bars(direct, k), _bars(via, k)
        assert a.shape == b.shape, (k, a, b)
        np.testing.assert_allclose(a, b, atol=1e-12)
    assert via.attrs["gt_lower"] == lo and via.attrs["gt_rank"] == int(rank)


def test_transformed_diagram_with_ties_and_clip():
    # many equal distances (a circle): the rank map has flat steps
    r = _circle_rdm(12)
    dg = persistence(r)
    for lo, up in [(0.0, 0.5), (0.3, 0.3), (0.1, 0.2)]:
        direct = persistence(gt_transform(r, lo, up))
        via = gt_transform_diagram(dg, lo, up, rdm=r)
        for k in (0, 1):
            np.testing.assert_allclose(_bars(direct, k), _bars(via, k), atol=1e-12)
    # deaths above upper are clipped to 1, bars above upper vanish
    via = gt_transform_diagram(dg, 0.0, 0.1, rdm=r)
    assert (via.death.values[np.isfinite(via.death.values)] <= 1).all()


def test_transform_diagram_errors(rng):
    r = data.rdm(squareform(pdist(rng.standard_normal((10, 2)))))
    dg = persistence(r)
    with pytest.raises(ValueError, match="needs the RDM"):
        gt_transform_diagram(dg, 0.1, 0.5)
    other = data.rdm(squareform(pdist(rng.standard_normal((8, 2)))))
    with pytest.raises(SchemaError, match="computed on 10 points"):
        gt_transform_diagram(dg, 0.1, 0.5, rdm=other)
    with pytest.raises(SchemaError, match="persistence diagram"):
        gt_transform_diagram(r, 0.1, 0.5, rdm=r)  # type: ignore[arg-type]


def test_geodesic_rdm_with_inf_components(rng):
    x = np.r_[rng.normal(0, 0.1, (10, 2)), rng.normal(0, 0.1, (10, 2)) + [9, 9]]
    r = data.rdm(squareform(pdist(x)))
    rgdm = geodesic_transform(r, 0.0, 0.45)  # the two clusters become disconnected
    assert np.isinf(rgdm.values).any()
    h0 = _bars(persistence(rgdm, maxdim=0), 0)
    assert np.isinf(h0[:, 1]).sum() == 2


# ---------------------------------------------------------------- vectorisations
def test_betti_curve_circle_and_gudhi(rng):
    r = _circle_rdm(10)
    dg = persistence(r)
    b, dth = 2 * np.sin(np.pi / 10), 2 * np.sin(np.pi * 4 / 10)
    grid = np.array([0.0, b - 1e-6, b + 1e-6, dth - 1e-6, dth + 1e-6, 2.5])
    bc = betti_curve(dg, grid=grid)
    assert bc.dims == ("dimension", "filtration")
    np.testing.assert_array_equal(bc.sel(dimension=1).values, [0, 0, 1, 1, 0, 0])
    np.testing.assert_array_equal(bc.sel(dimension=0).values, [10, 10, 1, 1, 1, 1])
    # on the grid points themselves a bar counts from its birth up to (not at) its death,
    # and a repeated grid point gives repeated counts
    at = betti_curve(dg, grid=[b, b, dth, 2.5]).sel(dimension=1).values
    h1_bar = _bars(dg, 1)[0]
    expected = [int(h1_bar[0] <= t < h1_bar[1]) for t in (b, b, dth, 2.5)]
    np.testing.assert_array_equal(at, expected)
    from gudhi.representations import BettiCurve

    x = rng.standard_normal((30, 2))
    dg = persistence(data.responses(x))
    h1 = _bars(dg, 1)
    grid = np.linspace(0, h1[:, 1].max() * 1.1, 37)
    ref = BettiCurve(predefined_grid=grid).fit_transform([h1])[0]
    np.testing.assert_array_equal(betti_curve(dg, grid=grid).sel(dimension=1).values, ref)


def test_landscape_matches_gudhi(rng):
    from gudhi.representations import Landscape

    dg = persistence(data.responses(rng.standard_normal((30, 2))))
    h1 = _bars(dg, 1)
    ref_model = Landscape(num_landscapes=3, resolution=50).fit([h1])
    grid = ref_model.grid_
    ref = ref_model.transform([h1])[0].reshape(3, 50) / np.sqrt(2)
    ours = persistence_landscape(dg, dimension=1, n_layers=3, grid=grid)
    assert ours.dims == ("layer", "filtration")
    np.testing.assert_allclose(ours.values, ref, atol=1e-12)
    assert (np.diff(ours.values, axis=0) <= 1e-15).all()  # lambda_1 >= lambda_2 >= ...


# ---------------------------------------------------------------- distances
def _brute_wasserstein(x: np.ndarray, y: np.ndarray, q: float) -> float:
    """All partial matchings; unmatched points go to the diagonal (L-inf ground metric)."""
    best = np.inf
    n, m = len(x), len(y)
    diag = lambda p: (p[1] - p[0]) / 2  # noqa: E731
    for k in range(min(n, m) + 1):
        for xs in itertools.combinations(range(n), k):
            for ys in itertools.permutations(range(m), k):
                cost = sum(np.max(np.abs(x[i] - y[j])) ** q for i, j in zip(xs, ys, strict=True))
                cost += sum(diag(x[i]) ** q for i in range(n) if i not in xs)
                cost += sum(diag(y[j]) ** q for j in range(m) if j not in ys)
                best = min(best, cost)
    return best ** (1 / q)


@pytest.mark.parametrize("q", [1.0, 2.0])
def test_wasserstein_equals_brute_force(rng, q):
    for _ in range(5):
        x = np.sort(rng.random((3, 2)), axis=1)
        y = np.sort(rng.random((4, 2)), axis=1)
        got = diagram_distance(x, y, metric="wasserstein", order=q)
        assert got == pytest.approx(_brute_wasserstein(x, y, q), rel=1e-12)


def test_wasserstein_matches_gudhi_hera(rng):
    from gudhi.hera import wasserstein_distance

    a = persistence(data.responses(rng.standard_normal((40, 2))))
    b = persistence(data.responses(rng.standard_normal((40, 2))))
    for k, q, p in [(1, 1.0, np.inf), (1, 2.0, 2.0), (0, 1.0, np.inf)]:
        got = diagram_distance(a, b, metric="wasserstein", dimension=k, order=q, internal_p=p)
        ref = wasserstein_distance(_bars(a, k), _bars(b, k), order=q, internal_p=p, delta=1e-6)
        assert got == pytest.approx(ref, rel=1e-5)


def test_bottleneck_known_values_and_gudhi(rng):
    a = np.array([[0.0, 2.0]])
    assert diagram_distance(a, np.array([[0.0, 3.0]])) == pytest.approx(1.0)
    assert diagram_distance(a, np.empty((0, 2))) == pytest.approx(1.0)  # to the diagonal
    assert diagram_distance(a, a) == 0.0
    assert diagram_distance(np.array([[0.0, np.inf]]), np.empty((0, 2))) == np.inf
    assert (
        diagram_distance(np.array([[0.0, np.inf]]), np.empty((0, 2)), metric="wasserstein")
        == np.inf
    )
    dga = persistence(data.responses(rng.standard_normal((25, 2))))
    dgb = persistence(data.responses(rng.standard_normal((25, 2))))
    d01 = diagram_distance(dga, dgb, dimension=0)
    assert d01 == diagram_distance(dgb, dga, dimension=0) > 0
    assert diagram_distance(dga, dgb, dimension=0, metric="wasserstein") >= d01


# ---------------------------------------------------------------- bad input
def test_persistence_bad_inputs(rng):
    r = data.rdm(squareform(pdist(rng.standard_normal((6, 2)))))
    with pytest.raises(SchemaError, match="one RDM"):
        persistence(xr.concat([r, r], dim="subject"))
    with pytest.raises(ValueError, match="maxdim"):
        persistence(r, maxdim=-1)
    with pytest.raises(ValueError, match="prime"):
        persistence(r, coeff=4)
    with pytest.raises(SchemaError, match="symmetric"):
        persistence(r.copy(data=r.values + np.triu(np.ones((6, 6)), 1)))
    with pytest.raises(SchemaError, match="non-negative"):
        persistence(r - 10 * (1 - np.eye(6)))
    with pytest.raises(SchemaError, match="RDM"):
        persistence(r.values)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="metric must be one of"):
        persistence(data.responses(rng.standard_normal((6, 2))), metric="cosine")
    with pytest.raises(ValueError, match="metric must be one of"):
        diagram_distance(np.empty((0, 2)), np.empty((0, 2)), metric="energy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="L-infinity"):
        diagram_distance(np.empty((0, 2)), np.empty((0, 2)), internal_p=2.0)
    with pytest.raises(ValueError, match="order"):
        diagram_distance(np.empty((0, 2)), np.empty((0, 2)), metric="wasserstein", order=0.5)


def test_too_many_points_refused_before_allocating():
    # 200,000 stimuli: the distance matrix alone would be 320 GB; refused up front
    big = data.responses(np.zeros((200_000, 2), dtype=np.float32))
    with pytest.raises(MemoryError, match=r"max_memory_gb=4.0.*subset"):
        persistence(big)
    assert rips_memory_bytes(1000, 1) < 1e8
    assert rips_memory_bytes(2000, 2) > 4 * 1024**3
    with pytest.raises(MemoryError, match="homology dimension 2"):
        persistence(data.responses(np.zeros((2000, 2))), maxdim=2)


# ---------------------------------------------------------------- real data
def test_real_it_rdm_persistence(data_home):
    from neurorep import datasets

    tree = datasets.load("kriegeskorte2008_92img", data_home=data_home)
    it = data.members(tree)["human_IT"]
    r = it.mean([d for d in it.dims if d not in ("stimulus_i", "stimulus_j")])
    dg = persistence(r, maxdim=1)
    h0 = _bars(dg, 0)
    assert len(h0) == 92 and np.isinf(h0[:, 1]).sum() == 1
    d = np.asarray(r.values)
    np.testing.assert_allclose(
        np.sort(h0[:-1, 1]), np.sort(minimum_spanning_tree(d).data), rtol=1e-12
    )
    assert (_bars(dg, 1).shape[0]) > 0


def test_transformed_diagram_on_a_categorical_rdm():
    """Heavily tied RDM (3 values): the quantile thresholds of the paper, via the diagram."""
    labels = np.repeat(np.arange(3), 4)
    rng = np.random.default_rng(7)
    base = rng.integers(2, 4, size=(12, 12)).astype(float)
    base = np.triu(base, 1) + np.triu(base, 1).T
    d = np.where(labels[:, None] == labels[None, :], 1.0, base)
    np.fill_diagonal(d, 0.0)
    r = data.rdm(d, metric="category")
    dg = persistence(r)
    for lo, up in [(0.2, 0.8), (0.35, 0.65), (0.5, 0.5)]:
        direct = persistence(gt_transform(r, lo, up))
        via = gt_transform_diagram(dg, lo, up, rdm=r)
        for k in (0, 1):
            np.testing.assert_allclose(_bars(direct, k), _bars(via, k), atol=1e-12)


@pytest.mark.parametrize("dimension", [2, 3])
def test_uncomputed_dimension_is_an_error_not_zero(rng, dimension):
    x = rng.standard_normal((15, 3))
    a = persistence(data.responses(x), maxdim=1)
    b = persistence(data.responses(x + 0.5 * rng.standard_normal((15, 3))), maxdim=1)
    with pytest.raises(SchemaError, match=rf"dimension {dimension} was not computed.*maxdim={dimension}"):
        diagram_distance(a, b, dimension=dimension)
    with pytest.raises(SchemaError, match="not computed"):
        diagram_distance(a, b, dimension=dimension, metric="wasserstein")
    with pytest.raises(SchemaError, match=r"dimensions 0\.\.1"):
        persistence_landscape(a, dimension=dimension)
    with pytest.raises(ValueError, match="int >= 0"):
        diagram_distance(a, b, dimension=-1)
    # a computed dimension without bars is a real zero
    deep = persistence(data.responses(x), maxdim=dimension)
    assert diagram_distance(deep, deep, dimension=dimension) == 0.0
    assert np.all(persistence_landscape(deep, dimension=dimension, grid=[0.0, 1.0]).values >= 0)


def test_complex_input_is_refused(rng):
    x = rng.standard_normal((8, 2))
    resp = xr.DataArray(x + 1j, dims=("stimulus", "unit"),
                        coords={"stimulus": [f"s{i}" for i in range(8)], "unit": ["a", "b"]})
    with pytest.raises(SchemaError, match="complex"):
        persistence(resp)
    r = data.rdm(squareform(pdist(x)))
    with pytest.raises(SchemaError, match="complex"):
        persistence(r.copy(data=r.values + 0j))


def test_euclidean_distances_at_extreme_scales(rng):
    """Responses near the float64 limits: distances computed stably (exact rescaling)."""
    x = rng.standard_normal((10, 3))
    ref = persistence(data.responses(x))
    for scale in (2.0**400, 2.0**-600):  # larger RDMs are refused (their squares overflow)
        dg = persistence(data.responses(x * scale))
        np.testing.assert_allclose(dg.birth.values, ref.birth.values * scale, rtol=1e-12)
        fin = np.isfinite(ref.death.values)
        np.testing.assert_allclose(dg.death.values[fin], ref.death.values[fin] * scale, rtol=1e-12)
    with pytest.raises(SchemaError, match="overflow"):
        persistence(data.responses(np.array([[1.5e308, 0.0], [-1.5e308, 0.0], [0.0, 1.0]])))


def test_check_diagram_is_public():
    from neurorep.topology import check_diagram

    dg = xr.Dataset({"birth": ("bar", [0.0]), "death": ("bar", [1.0])},
                    coords={"dimension": ("bar", [0])})
    assert check_diagram(dg) is dg
    with pytest.raises(SchemaError, match="bars: expected a persistence diagram"):
        check_diagram(xr.Dataset({"birth": ("bar", [0.0])}), name="bars")
    with pytest.raises(SchemaError, match="no 'dimension' coordinate"):
        check_diagram(dg.drop_vars("dimension"))


@pytest.mark.parametrize("maxdim", [0, 1])
@pytest.mark.parametrize("coeff", [2, 3])
def test_direct_ripser_kernel_equals_gudhi_rips_persistence(maxdim, coeff, monkeypatch):
    """The dense kernel called directly gives RipsPersistence's bars exactly: random,
    tied (integer distances) and tiny (n < 4, where the dimension is capped) inputs."""
    from gudhi.sklearn.rips_persistence import RipsPersistence
    from scipy.spatial.distance import pdist, squareform

    from neurorep.topology import _persistence as persistence_module
    from neurorep.topology._persistence import _rips_full

    rng = np.random.default_rng(3)
    inputs = [
        squareform(pdist(rng.standard_normal((30, 4)))),
        squareform(pdist(rng.integers(0, 3, size=(12, 2)).astype(float), "cityblock")),
        squareform(pdist(rng.standard_normal((3, 2)))),
        np.zeros((1, 1)),
    ]
    dims = list(range(maxdim + 1))
    for d in inputs:
        ref = RipsPersistence(dims, input_type="full distance matrix",
                              homology_coeff_field=coeff).fit_transform([d])[0]
        # small inputs run the kernel unpruned; SMALL_RIPS=0: pruned at the cone radius
        for small in (persistence_module.SMALL_RIPS, 0):
            monkeypatch.setattr(persistence_module, "SMALL_RIPS", small)
            got = _rips_full(d, dims, coeff, np.inf)
            assert len(got) == len(ref)
            for a, b in zip(got, ref, strict=True):
                np.testing.assert_array_equal(np.asarray(a).reshape(-1, 2),
                                              np.asarray(b).reshape(-1, 2))


@pytest.mark.parametrize("n", [0, 1, 7])
def test_bars_dataset_is_the_public_construction(rng, n):
    """The diagram assembled from its variables (no merge) equals xarray's constructor's,
    index type, variable order and repr included, and does not share the attrs dict."""
    from neurorep.topology._persistence import _bars_dataset

    b = rng.random(n)
    d, k, attrs = b + 1, np.arange(n) % 2, {"maxdim": 1}
    want = xr.Dataset({"birth": ("bar", b), "death": ("bar", d)},
                      coords={"bar": np.arange(n), "dimension": ("bar", k)}, attrs=attrs)
    got = _bars_dataset(b, d, k, attrs)
    xr.testing.assert_identical(got, want)
    assert list(got.variables) == list(want.variables)
    assert type(got.indexes["bar"]) is type(want.indexes["bar"])
    assert repr(got) == repr(want)
    assert got.sel(bar=n - 1).birth.item() == b[-1] if n else got.sizes["bar"] == 0
    got.attrs["extra"] = 1
    assert "extra" not in attrs
