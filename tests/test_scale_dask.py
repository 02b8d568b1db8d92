"""Out of core on a dask.distributed LocalCluster: RDMs, alignment score matrices, encoding
and caption projection of dask-backed responses chunked along units give the in-memory
numbers, and the chunk-wise reductions keep memory far below the in-memory path's."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import xarray as xr

from neurorep import SchemaError, alignment, data, encoding, rsa, selectivity
from neurorep._core.parallel import is_lazy

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as c:
        yield c


def _ids(n):
    return [f"s{i:04d}" for i in range(n)]


def _lazy_normal(n, m, chunk, shift=0.0):
    """A (n, m) float32 dask array generated block by block (never whole in memory)."""

    def block(block_info=None):
        info = block_info[None]
        seed = info["array-location"][1][0]
        return (np.random.default_rng(seed).normal(size=info["chunk-shape"]) + shift).astype(
            np.float32
        )

    return da.map_blocks(block, chunks=((n,), (chunk,) * (m // chunk)), dtype=np.float32)


def _peak(fn):
    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    "metric", ["correlation", "cosine", "euclidean", "squared_euclidean", "mahalanobis"]
)
def test_rdm_of_dask_responses_equals_in_memory(client, rng, metric):
    n, m = 40, 300
    vals = (rng.normal(size=(n, m)) + 2.0).astype(np.float32)
    resp = data.responses(vals, stimulus=_ids(n))
    noise = rng.uniform(0.5, 2.0, size=m) if metric == "mahalanobis" else None
    eager = rsa.compute_rdm(resp, metric=metric, noise=noise)
    lazy = rsa.compute_rdm(resp.chunk({"unit": 64}), metric=metric, noise=noise)
    xr.testing.assert_allclose(lazy, eager, rtol=1e-12, atol=1e-13)
    assert lazy.attrs == eager.attrs


@pytest.mark.parametrize("metric", ["poisson", "poisson_cv"])
def test_poisson_rdms_of_dask_responses_are_summed_over_unit_chunks(client, rng, metric,
                                                                    monkeypatch):
    """The Poisson KL divergences are sums over units: chunk by chunk (never gathered),
    equal to the in-memory RDM on counts with ties and zeros; negative counts refused with
    the in-memory message."""
    n, n_rep, m = 15, 3, 130
    counts = rng.poisson(2.0, size=(n, n_rep, m)).astype(float)  # ties and zeros
    counts[4, :, :7] = 0.0
    kw = {"repetition": ["r0", "r1", "r2"]} if metric == "poisson_cv" else {}
    vals = counts if metric == "poisson_cv" else counts.mean(axis=1)
    resp = data.responses(vals, stimulus=_ids(n), **kw)
    eager = rsa.compute_rdm(resp, metric=metric)
    from neurorep.rsa import _rdm

    def no_gather(original):
        def wrapped(a, *args):
            assert not is_lazy(getattr(a, "data", a)), "the dask-backed responses gathered"
            return original(a, *args)
        return wrapped

    with monkeypatch.context() as mp:  # the paths that would gather the responses
        mp.setattr(_rdm, "_materialize", no_gather(_rdm._materialize))
        mp.setattr(_rdm, "_cube", no_gather(_rdm._cube))
        lazy = rsa.compute_rdm(resp.chunk({"unit": 32}), metric=metric)
    xr.testing.assert_allclose(lazy, eager, rtol=1e-12, atol=1e-12)
    assert lazy.attrs == eager.attrs
    bad = vals.copy()
    bad[(2, 1, 5) if metric == "poisson_cv" else (2, 5)] = -0.5
    for x in (resp.copy(data=bad), resp.copy(data=bad).chunk({"unit": 32})):
        with pytest.raises(SchemaError, match="non-negative counts.*minimum of -0.5"):
            rsa.compute_rdm(x, metric=metric)


def test_rdm_of_dask_responses_refuses_what_in_memory_refuses(client, rng):
    vals = rng.normal(size=(10, 50))
    vals[3] = 1.5  # a constant pattern: correlation undefined
    resp = data.responses(vals, stimulus=_ids(10)).chunk({"unit": 16})
    with pytest.raises(SchemaError, match="constant"):
        rsa.compute_rdm(resp, metric="correlation")
    tiny = data.responses(rng.normal(size=(10, 50)) * 1e-200, stimulus=_ids(10))
    xr.testing.assert_allclose(  # extreme scales rescaled exactly as in memory
        rsa.compute_rdm(tiny.chunk({"unit": 16}), metric="euclidean"),
        rsa.compute_rdm(tiny, metric="euclidean"), rtol=1e-12,
    )


@pytest.mark.parametrize(
    "metric", ["euclidean", "correlation", "cosine", "mahalanobis", "crossnobis", "poisson_cv"]
)
def test_unbalanced_rdm_of_dask_responses_equals_in_memory(client, rng, metric):
    """NaN (missing repetitions, missing units) found chunk by chunk: the unbalanced
    estimator's sums are reduced over the unit chunks and give the in-memory RDM."""
    n, n_rep, m = 12, 3, 70
    vals = rng.normal(size=(n, n_rep, m)) + 1.0
    vals = np.abs(vals) if metric.startswith("poisson") else vals
    vals[2, 1] = np.nan  # a missing repetition
    vals[5, :, 10:20] = np.nan  # units not recorded, across a chunk boundary
    vals[7, 0, 33] = np.nan
    resp = data.responses(vals, stimulus=_ids(n), repetition=["r0", "r1", "r2"],
                          allow_missing=True)
    noise = rng.uniform(0.5, 2.0, size=m) if metric == "mahalanobis" else None
    eager = rsa.compute_rdm(resp, metric=metric, noise=noise)
    lazy = rsa.compute_rdm(resp.chunk({"unit": 16}), metric=metric, noise=noise)
    assert "unbalanced" in lazy.attrs["estimator"]
    xr.testing.assert_allclose(lazy, eager, rtol=1e-12, atol=1e-13)
    assert lazy.attrs == eager.attrs


def test_unbalanced_dask_responses_are_refused_as_in_memory(client, rng):
    vals = rng.normal(size=(8, 2, 40))
    vals[0, 0, :5] = np.nan
    vals[3, 1] = 1.5  # a constant measurement: correlation undefined
    resp = data.responses(vals, stimulus=_ids(8), repetition=["a", "b"], allow_missing=True)
    for x in (resp, resp.chunk({"unit": 16})):
        with pytest.raises(SchemaError, match="constant over the units"):
            rsa.compute_rdm(x, metric="correlation")
    gone = resp.copy(data=np.full_like(vals, np.nan))
    for x in (gone, gone.chunk({"unit": 16})):
        with pytest.raises(SchemaError, match="every measurement is missing"):
            rsa.compute_rdm(x, metric="euclidean")
    vals[4, 0, 30] = np.inf
    with pytest.raises(SchemaError, match="finite"):
        rsa.compute_rdm(resp.copy(data=vals).chunk({"unit": 16}), metric="euclidean")


def test_rdm_memory_stays_bounded_by_the_chunks(client):
    n, m, chunk = 100, 24_000, 1500  # 9.6 MB float32; the in-memory path copies to float64
    lazy = data.responses(_lazy_normal(n, m, chunk, shift=1.0), stimulus=_ids(n))
    eager = lazy.compute()
    for metric in ("correlation", "euclidean"):
        want, in_memory = _peak(lambda metric=metric: rsa.compute_rdm(eager, metric=metric))
        got, chunked = _peak(lambda metric=metric: rsa.compute_rdm(lazy, metric=metric))
        xr.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
        # the in-memory kernels hold float64 copies of all units (>= 38 MB); the chunk-wise
        # sum holds a wave of chunks and the 100 x 100 running sums
        # (at this small size the scheduler's own bookkeeping, ~10 MB, is most of it)
        assert chunked < in_memory / 3, (metric, chunked / 1e6, in_memory / 1e6)


@pytest.mark.parametrize(
    "metric", ["cka", "rsa", "rsa_pearson", "procrustes", "cka_debiased", "encoding",
               "procrustes_euclidean", "shape_partial", "cca", "svcca", "pwcca", "mutual_knn",
               "energy_stochastic"]
)
def test_score_matrix_with_dask_regions_equals_in_memory(client, rng, metric):
    """Several unit chunks per region (V4 has fewer units than stimuli), bootstrap CIs."""
    n = 50
    ids = _ids(n)
    base = rng.normal(size=(n, 6))
    brain = {
        "V1": data.responses(base @ rng.normal(size=(6, 90)) + rng.normal(size=(n, 90)),
                             stimulus=ids),
        "V4": data.responses((base @ rng.normal(size=(6, 70))).astype(np.float32), stimulus=ids),
    }
    model = {f"layer{k}": data.responses(base[:, : k + 2] @ rng.normal(size=(k + 2, 20)),
                                         stimulus=ids) for k in range(3)}
    eager = alignment.score_matrix(brain, model, metric=metric, n_bootstrap=20, rng=1)
    lazy_brain = {k: v.chunk({"unit": 32}) for k, v in brain.items()}
    lazy = alignment.score_matrix(lazy_brain, model, metric=metric, n_bootstrap=20, rng=1)
    for var in ("score", "ci_low", "ci_high"):
        np.testing.assert_allclose(lazy[var], eager[var], rtol=1e-9, atol=1e-12)
    # aligned by id, lazily (encoding's CV folds follow the regions' stimulus order, so the
    # reference is the in-memory score of the same shuffled order)
    order = rng.permutation(n)
    shuffled = {k: v.isel(stimulus=order) for k, v in lazy_brain.items()}
    want = eager if metric != "encoding" else alignment.score_matrix(
        {k: v.isel(stimulus=order) for k, v in brain.items()}, model, metric=metric,
        n_bootstrap=0)
    np.testing.assert_allclose(
        alignment.score_matrix(shuffled, model, metric=metric, n_bootstrap=0)["score"],
        want["score"], rtol=1e-9, atol=1e-12,
    )


@pytest.mark.parametrize("scale", [1e-200, 1e200])
@pytest.mark.parametrize("metric", ["cka", "procrustes", "cka_debiased"])
def test_dask_regions_of_extreme_scale_are_rescaled_as_in_memory(client, rng, metric, scale):
    """The one-pass reduction finds the scale on the way and rescales in a second pass."""
    n = 30
    ids = _ids(n)
    region = data.responses(rng.normal(size=(n, 70)) * scale, stimulus=ids)
    model = {"a": data.responses(rng.normal(size=(n, 8)), stimulus=ids)}
    eager = alignment.score_matrix({"r": region}, model, metric=metric, n_bootstrap=0)
    lazy = alignment.score_matrix({"r": region.chunk({"unit": 16})}, model, metric=metric,
                                  n_bootstrap=0)
    assert np.isfinite(eager["score"]).all()
    np.testing.assert_allclose(lazy["score"], eager["score"], rtol=1e-10)


def test_cka_of_a_large_dask_region_against_feature_layers(client, rng):
    """Above 1500 stimuli in-memory CKA keeps features; a dask region is a Gram matrix."""
    n = 1600
    ids = _ids(n)
    base = rng.normal(size=(n, 4))
    region = data.responses(base @ rng.normal(size=(4, 60)) + rng.normal(size=(n, 60)),
                            stimulus=ids)
    model = {"a": data.responses(base @ rng.normal(size=(4, 8)), stimulus=ids)}
    eager = alignment.score_matrix({"r": region}, model, metric="cka", n_bootstrap=0)
    lazy = alignment.score_matrix({"r": region.chunk({"unit": 16})}, model, metric="cka",
                                  n_bootstrap=0)
    np.testing.assert_allclose(lazy["score"], eager["score"], rtol=1e-10)


# one metric per out-of-core reduction: the centred Gram (cka), the triangular factor
# (procrustes; also cka_debiased), the stand-in (shape_cca; also the other shape metrics,
# cca, svcca), the stand-in plus PWCCA's weight pass (pwcca), the raw Gram (mutual_knn)
@pytest.mark.parametrize("metric", ["cka", "procrustes", "shape_cca", "pwcca", "mutual_knn"])
def test_alignment_memory_stays_bounded_by_the_chunks(client, metric):
    """The chunked path's peak does not grow with the data: 48 chunks, a peak of a few
    chunks (10-13 MB measured, also on loaded cores) against 28.8 MB for the data in its
    own float32. (At 16 chunks the margin was too thin: a loaded CI run peaked at 16.8
    MB against a bound of 12.8 MB, while the same peak held at 3x the data.)"""
    n, m, chunk = 100, 72_000, 1500
    ids = _ids(n)
    lazy = data.responses(_lazy_normal(n, m, chunk), stimulus=ids)
    eager = lazy.compute()
    model = {"l": data.responses(np.random.default_rng(0).normal(size=(n, 5)), stimulus=ids)}
    want, in_memory = _peak(lambda: alignment.score_matrix({"r": eager}, model, metric=metric,
                                                          n_bootstrap=0))
    got, chunked = _peak(lambda: alignment.score_matrix({"r": lazy}, model, metric=metric,
                                                        n_bootstrap=0))
    np.testing.assert_allclose(got["score"], want["score"], rtol=1e-10)
    data_bytes = n * m * 4
    assert chunked < 0.8 * data_bytes and chunked < in_memory / 5, (
        chunked / 1e6, in_memory / 1e6, data_bytes / 1e6)


@pytest.fixture
def store_dask_chunks(monkeypatch):
    """save() stores every dask chunk as it is (no merging of small chunks)."""
    from neurorep.data import _io

    monkeypatch.setattr(_io, "MIN_STORED_CHUNK", 0)


def test_encoding_results_stay_lazy_and_save_chunk_by_chunk(client, rng, tmp_path,
                                                            store_dask_chunks):
    n, p, m = 60, 5, 90
    ids = _ids(n)
    X = rng.normal(size=(n, p))
    feats = data.responses(X, stimulus=ids)
    resp = data.responses((X @ rng.normal(size=(p, m)) + rng.normal(size=(n, m))).astype(
        np.float32), stimulus=ids)
    eager = encoding.fit_ridge(feats, resp, cv=3)
    res = encoding.fit_ridge(feats, resp.chunk({"unit": 32}), cv=3, compute=False)
    assert res["weights"].data.chunks[1] == (32, 32, 26)
    assert res["score"].data.chunks == ((32, 32, 26),)
    path = data.save(res, tmp_path / "fit.zarr")
    back = data.load(path, chunks={})
    assert back["weights"].data.chunks[1] == (32, 32, 26)  # zarr chunks = dask chunks
    xr.testing.assert_allclose(back.compute(), eager)
    model = encoding.RidgeEncoder(cv=3).fit(feats, resp.chunk({"unit": 32}))
    np.testing.assert_allclose(model.predict(feats), encoding.RidgeEncoder(cv=3).fit(
        feats, resp).predict(feats), rtol=1e-5, atol=1e-5)


def test_load_with_chunks_reads_1d_coords_into_memory(rng, tmp_path, store_dask_chunks):
    """Values stay lazy; ids and per-unit labels (small) are read once, not per analysis."""
    resp = data.responses(rng.normal(size=(6, 10)).astype(np.float32), stimulus=_ids(6),
                          region=np.repeat(["V1", "V4"], 5))
    path = data.save(resp.chunk({"unit": 3}), tmp_path / "resp.zarr")
    back = data.load(path, chunks={})
    assert back.data.chunks == ((6,), (3, 3, 3, 1))
    assert {k: c.chunks for k, c in back.coords.items()} == dict.fromkeys(back.coords)
    xr.testing.assert_identical(back.compute(), data.load(path))


def test_caption_projection_of_dask_weights(client, rng, tmp_path, store_dask_chunks):
    d, m, k = 16, 300, 120
    bank = data.responses(rng.normal(size=(k, d)), stimulus=[f"c{i}" for i in range(k)])
    bank = bank.assign_coords(text=("stimulus", [f"caption {i}" for i in range(k)]))
    weights = xr.DataArray(rng.normal(size=(d, m)), dims=("feature", "unit"),
                           coords={"feature": bank["unit"].values, "unit": np.arange(m)})
    eager = selectivity.project(weights, bank, chunk_units=64, dtype="float64")
    lazy = selectivity.project(weights.chunk({"unit": 64}), bank, chunk_units=50,
                               dtype="float64")
    for var in ("projection", "effective_n", "best_match", "best_text"):
        assert lazy[var].chunks[0] == (64, 64, 64, 64, 44), var  # the weights' unit chunks
    back = data.load(data.save(lazy, tmp_path / "projection.zarr"), chunks={})
    assert back["projection"].data.chunks[0] == (64, 64, 64, 64, 44)  # zarr chunks = dask's
    xr.testing.assert_allclose(back.compute(), eager)
    xr.testing.assert_allclose(lazy.compute(), eager)


def test_save_merges_small_dask_chunks_along_their_boundaries(rng, tmp_path):
    """Chunks under MIN_STORED_CHUNK (4 MiB) are stored as runs of whole chunks; larger
    ones as they are; the values are unchanged."""
    from neurorep.data import _io

    m = 2_000
    small = xr.DataArray(rng.normal(size=(9, m)), dims=("alphas", "unit"),
                         coords={"unit": np.arange(m)}).chunk({"unit": 150})  # 10.8 KB
    big = xr.DataArray(rng.normal(size=(700, m)).astype(np.float32), dims=("stimulus", "unit"),
                       coords={"unit": np.arange(m)}).chunk({"unit": 1500})  # 4.2 MB
    mid = xr.DataArray(rng.normal(size=(400, m)).astype(np.float32), dims=("stimulus", "unit"),
                       coords={"unit": np.arange(m)}).chunk({"unit": 500})  # 0.8 MB
    ds = xr.Dataset({"small": small, "big": big, "mid": mid.rename(stimulus="s2")})
    back = data.load(data.save(ds, tmp_path / "ds.zarr"), chunks={})
    assert back["small"].data.chunks[1] == (m,)  # 14 chunks of 10.8 KB -> one of 144 KB
    assert back["big"].data.chunks[1] == (1500, 500)  # over the floor: as computed
    # 0.8 MB chunks: runs of 6 (4.8 MB), a whole number of computed chunks each
    assert back["mid"].data.chunks[1] == (2000,)
    xr.testing.assert_identical(back.compute(), ds.compute())
    assert _io._merged_chunks(((400,), (500,) * 10), 4) == ((400,), (3000, 2000))
    assert _io._merged_chunks(((3, 3), (2, 2, 1)), 8, floor=48) == ((3, 3), (2, 2, 1))
    assert _io._merged_chunks(((3, 3), (2, 2, 1)), 8, floor=60) == ((3, 3), (4, 1))
    assert _io._merged_chunks(((3, 3), (2, 2, 1)), 8, floor=200) == ((6,), (5,))
    assert _io._merged_chunks(((0,), (5, 5)), 8, floor=200) == ((0,), (5, 5))


def _lazy_cube(n, r, m, chunk):
    """A (n, r, m) float32 dask cube with a shared signal over repetitions, generated
    block by block (never whole in memory)."""

    def block(block_info=None):
        info = block_info[None]
        g = np.random.default_rng(info["array-location"][2][0])
        n_, r_, m_ = info["chunk-shape"]
        y = g.normal(size=(n_, 1, m_)) + g.normal(size=(n_, r_, m_))
        y[:, :, 1:] += 0.5 * y[:, :, :-1]  # neighbouring units share noise
        return y.astype(np.float32)

    return da.map_blocks(block, chunks=((n,), (r,), (chunk,) * (m // chunk)), dtype=np.float32)


@pytest.mark.parametrize("what", ["ncsnr", "split_half", "crossnobis", "mahalanobis"])
def test_noise_estimates_with_repetitions_stay_bounded_on_a_cluster(client, what):
    """Noise ceilings and noise-weighted RDMs of a dask cube on a LocalCluster: the in-memory
    numbers, in a fraction of the in-memory path's memory."""
    from neurorep.stats import noise_ceiling

    # the in-memory RDM inverts a (unit x unit) covariance: fewer units keep it quick
    ceiling = what in ("ncsnr", "split_half")
    n, r, m, chunk = (40, 3, 12_000, 1000) if ceiling else (40, 3, 3000, 250)
    lazy = data.responses(_lazy_cube(n, r, m, chunk), dims=("stimulus", "repetition", "unit"),
                          stimulus=_ids(n))
    eager = lazy.compute()
    if ceiling:
        def run(x):
            return noise_ceiling(x, method=what, n_split_halves=5, rng=0)["ceiling"].values
    else:
        def run(x):
            return rsa.compute_rdm(x, metric=what, noise="shrinkage_diag").values
    want, in_memory = _peak(lambda: run(eager))
    got, chunked = _peak(lambda: run(lazy))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * float(np.abs(want).max()))
    assert chunked < in_memory / 3, (what, chunked / 1e6, in_memory / 1e6)
