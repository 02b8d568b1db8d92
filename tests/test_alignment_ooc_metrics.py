"""Out of core, metric by metric: score_matrix of dask-backed regions (chunked along units,
stimuli in memory) equals the in-memory score for the shape metrics, CCA, SVCCA, PWCCA,
mutual kNN and the stochastic shape metrics, without the region ever computed whole; the
unit-matching metrics (permutation, soft matching) refuse dask-backed regions."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from typing import Any

import numpy as np
import pytest

from neurorep import SchemaError, alignment, data

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
callbacks = pytest.importorskip("dask.callbacks")

# Scores invariant to an orthogonal transform of the units: a dask-backed region is its
# (n, k) stand-in factor from one QR pass over its unit chunks (mutual kNN: its Gram matrix).
STANDIN = ["procrustes_euclidean", "shape_cca", "shape_partial", "cca", "svcca", "pwcca",
           "mutual_knn"]
STOCHASTIC = ["gaussian_stochastic", "energy_stochastic"]
REFUSED = ["permutation", "permutation_euclidean", "soft_matching"]


def _ids(n):
    return [f"s{i:04d}" for i in range(n)]


def _chunks(p, size=7):
    """A chunk of one unit first, then chunks of ``size`` (the last one shorter)."""
    rest = p - 1
    return (1, *([size] * (rest // size)), *((rest % size,) if rest % size else ()))


class _Reads:
    """Dask arrays whose blocks count how often they are read, and a scheduler callback
    that records the largest array any task returns (the region is never whole if that
    stays far below its size)."""

    def __init__(self):
        self.reads: Counter = Counter()
        self.peak = 0
        self.owner = threading.get_ident()
        self.graphs: list[Any] = []  # the graphs computed from this test's thread

    def ours(self, dsk) -> bool:
        """Whether a task belongs to a computation started by this test (dask's local
        callbacks see every computation in the process, also one another test left running
        in a thread)."""
        return any(g is dsk for g in self.graphs)

    def lazy(self, name, values, size=7):
        values = np.asarray(values)
        chunks = (*((s,) for s in values.shape[:-1]), _chunks(values.shape[-1], size))

        def block(block_info=None):
            a, b = block_info[None]["array-location"][-1]
            self.reads[(name, a)] += 1
            return values[..., a:b].copy()

        return da.map_blocks(block, chunks=chunks, dtype=values.dtype)

    def callback(self):
        reads = self

        class Peak(callbacks.Callback):
            def _start(self, dsk):
                if threading.get_ident() == reads.owner:
                    reads.graphs.append(dsk)

            def _posttask(self, key, result, dsk, state, id):
                if not reads.ours(dsk):
                    return
                stack = [result]
                while stack:
                    r = stack.pop()
                    if isinstance(r, np.ndarray):
                        reads.peak = max(reads.peak, r.nbytes)
                    elif isinstance(r, (tuple, list)):
                        stack.extend(r)

        return Peak()


def _regions(rng, n):
    """More units than stimuli, fewer units than the layers (PWCCA weights from the region's
    units), and tied integer data."""
    base = rng.normal(size=(n, 5))
    return {
        "wide": base @ rng.normal(size=(5, 3 * n)) + rng.normal(size=(n, 3 * n)),
        "narrow": base[:, :4] @ rng.normal(size=(4, 9)) + 0.5 * rng.normal(size=(n, 9)),
        "ints": rng.integers(0, 3, size=(n, 40)).astype(float),
    }, base


def _compare(metric, brain, lazy_brain, model, *, rtol=1e-10, atol=1e-12, n_bootstrap=20,
             counted=None):
    """The in-memory and the dask-backed scores; ``counted``: a :class:`_Reads` whose
    callback records the dask-backed call's tasks (the in-memory call's tasks, which
    may return a whole in-memory region, are not its business)."""
    eager = alignment.score_matrix(brain, model, metric=metric, n_bootstrap=n_bootstrap, rng=1)
    with counted.callback() if counted is not None else contextlib.nullcontext():
        lazy = alignment.score_matrix(lazy_brain, model, metric=metric,
                                      n_bootstrap=n_bootstrap, rng=1)
    assert np.isfinite(eager["score"]).all()
    for var in ("score", "ci_low", "ci_high", "ceiling"):
        np.testing.assert_allclose(lazy[var], eager[var], rtol=rtol, atol=atol, err_msg=var)
    assert lazy.attrs["metric_name"] == eager.attrs["metric_name"]
    return eager


@pytest.mark.parametrize("metric", STANDIN)
def test_dask_regions_score_as_in_memory(rng, metric):
    n = 60  # bootstrap samples keep more distinct stimuli than narrow + layer units: PWCCA's
    # canonical correlations stay distinct (tied ones make its weights basis-dependent)
    ids = _ids(n)
    values, base = _regions(rng, n)
    brain = {k: data.responses(v, stimulus=ids) for k, v in values.items()}
    model = {f"layer{k}": data.responses(
        base[:, : k + 2] @ rng.normal(size=(k + 2, 12)) + 0.3 * rng.normal(size=(n, 12)),
        stimulus=ids) for k in range(2)}
    counted = _Reads()
    lazy_brain = {k: data.responses(counted.lazy(k, v), stimulus=ids) for k, v in values.items()}
    eager = _compare(metric, brain, lazy_brain, model, counted=counted)
    # every chunk read a few times (the passes), never the whole region at once
    assert set(counted.reads) == {(k, a) for k, v in values.items()
                                  for a in np.cumsum((0, *_chunks(v.shape[1])))[:-1]}
    assert max(counted.reads.values()) <= 4, counted.reads.most_common(3)
    # largest array a task returned: an (n, n) factor or Gram matrix, not the region
    assert 0 < counted.peak <= 8 * n * n < values["wide"].nbytes
    if metric == "mutual_knn":  # integer data: the same Gram matrix, the same tied neighbours
        lazy = alignment.score_matrix({"ints": lazy_brain["ints"]}, model, metric=metric,
                                      n_bootstrap=0)
        assert (lazy["score"].values == eager["score"].sel(region=["ints"]).values).all()


@pytest.mark.parametrize("metric", ["shape_cca", "shape_partial", "svcca", "cca",
                                    "procrustes_euclidean"])
def test_dask_regions_of_one_and_of_many_chunks_with_few_stimuli(rng, metric):
    """Few stimuli, many units (the stand-in is n x n, the zero padding and rank tolerances
    use the real number of units); a region with a single unit; rows bootstrapped with
    duplicates re-centre the stand-in as they re-centre the data."""
    n = 12
    ids = _ids(n)
    brain = {"many": data.responses(rng.normal(size=(n, 50)), stimulus=ids),
             "one": data.responses(rng.normal(size=(n, 1)), stimulus=ids)}
    model = {"a": data.responses(rng.normal(size=(n, 6)), stimulus=ids)}
    lazy_brain = {k: v.chunk({"unit": _chunks(v.sizes["unit"], 5)}) for k, v in brain.items()}
    # full whitening of a rank-deficient region is ill-conditioned in memory as well: its
    # bootstrap scores move by ~1e-9 when the units are merely permuted
    atol = 1e-7 if metric == "shape_cca" else 1e-12
    _compare(metric, brain, lazy_brain, model, rtol=1e-9, atol=atol, n_bootstrap=10)


@pytest.mark.parametrize("metric", ["shape_partial", "cca", "pwcca", "mutual_knn"])
def test_ceilings_of_dask_regions_with_repetitions(rng, metric):
    """Split-half ceilings score halves of the repetitions: each half is reduced over the
    unit chunks as the region is. More stimuli than the two halves' units together: PWCCA's
    canonical correlations are distinct (its weights are defined)."""
    n, r = 80, 4
    ids = _ids(n)
    base = rng.normal(size=(n, 3))
    vals = (base @ rng.normal(size=(3, 30)))[:, None, :] + rng.normal(size=(n, r, 30))
    brain = {"r": data.responses(vals, stimulus=ids, repetition=list(range(r)))}
    model = {"a": data.responses(base @ rng.normal(size=(3, 10)), stimulus=ids)}
    eager = _compare(metric, brain, {"r": brain["r"].chunk({"unit": _chunks(30)})}, model,
                     n_bootstrap=5)
    assert np.isfinite(eager["ceiling"].sel(bound="lower")).all()


@pytest.mark.parametrize("metric", STOCHASTIC)
def test_stochastic_shape_metrics_of_dask_regions_with_repetitions(rng, metric):
    """The stand-in of the stacked (stimulus x repetition) rows, not centred; with and
    without repetitions, more units than rows and fewer."""
    n, r = 12, 3
    ids = _ids(n)
    base = rng.normal(size=(n, 4))

    def reps(p, noise):
        vals = (base @ rng.normal(size=(4, p)))[:, None, :] + noise * rng.normal(size=(n, r, p))
        return vals

    values = {"wide": reps(50, 0.5), "narrow": reps(5, 0.3)}
    brain = {k: data.responses(v, stimulus=ids, repetition=list(range(r)))
             for k, v in values.items()}
    model = {f"l{k}": data.responses(base[:, : k + 2] @ rng.normal(size=(k + 2, 6)),
                                     stimulus=ids) for k in range(2)}
    counted = _Reads()
    lazy_brain = {k: data.responses(counted.lazy(k, v, size=6), stimulus=ids,
                                    repetition=list(range(r))) for k, v in values.items()}
    _compare(metric, brain, lazy_brain, model, n_bootstrap=5, counted=counted)
    assert max(counted.reads.values()) <= 4
    assert 0 < counted.peak <= 8 * (n * r) ** 2 < values["wide"].nbytes
    if metric == "gaussian_stochastic":
        return
    # a region without repetitions: one sample per stimulus
    plain = {"wide": data.responses(values["wide"][:, 0], stimulus=ids)}
    _compare(metric, plain, {"wide": plain["wide"].chunk({"unit": 7})}, model, n_bootstrap=5)


@pytest.mark.parametrize("metric", ["svcca", "cca", "pwcca", "mutual_knn"])
@pytest.mark.parametrize("scale", [1e-200, 1e200])
def test_scale_free_metrics_of_extreme_dask_regions(rng, metric, scale):
    """The stand-in is rescaled by a power of two for data outside 2**+-64, as in memory."""
    n = 30
    ids = _ids(n)
    region = data.responses(rng.normal(size=(n, 8)) @ rng.normal(size=(8, 70)) * scale,
                            stimulus=ids)
    model = {"a": data.responses(rng.normal(size=(n, 8)), stimulus=ids)}
    _compare(metric, {"r": region}, {"r": region.chunk({"unit": 16})}, model, rtol=1e-9,
             n_bootstrap=0)


def test_euclidean_shape_distance_is_in_the_units_of_the_data(rng):
    """The stand-in undoes its power-of-two rescaling: -d scales with the data."""
    n = 20
    ids = _ids(n)
    x = rng.normal(size=(n, 30))
    model = {"a": data.responses(rng.normal(size=(n, 5)), stimulus=ids)}
    got = [float(alignment.score_matrix(
        {"r": data.responses(x * s, stimulus=ids).chunk({"unit": 8})}, model,
        metric="procrustes_euclidean", n_bootstrap=0)["score"][0, 0]) for s in (1.0, 1e100)]
    want = alignment.shape_distance(x * 1e100, np.asarray(model["a"].values),
                                    distance="euclidean")
    np.testing.assert_allclose(-got[1], want, rtol=1e-10)
    assert -got[1] > 1e99 * -got[0]


@pytest.mark.parametrize("metric", REFUSED)
def test_unit_matching_metrics_refuse_dask_regions(rng, metric):
    n = 20
    ids = _ids(n)
    region = data.responses(rng.normal(size=(n, 30)), stimulus=ids).chunk({"unit": 8})
    model = {"a": data.responses(rng.normal(size=(n, 5)), stimulus=ids)}
    with pytest.raises(SchemaError, match=r"does not run out of core.*30 units.*squared"
                       r".*\.compute\(\).*'procrustes'"):
        alignment.score_matrix({"r": region}, model, metric=metric, n_bootstrap=0)
    # in memory it runs
    res = alignment.score_matrix({"r": region.compute()}, model, metric=metric, n_bootstrap=0)
    assert np.isfinite(res["score"]).all()


def test_pwcca_weights_of_a_narrow_dask_region_take_one_pass_for_all_bootstraps(rng):
    """The region is the narrower representation: its units weight the correlations, summed
    in one pass over its chunks for the point estimate and every bootstrap sample."""
    n = 60
    ids = _ids(n)
    values = rng.normal(size=(n, 3)) @ rng.normal(size=(3, 8)) + rng.normal(size=(n, 8))
    model = {"a": data.responses(values[:, :3] @ rng.normal(size=(3, 15))
                                 + rng.normal(size=(n, 15)), stimulus=ids)}
    counted = _Reads()
    lazy = {"r": data.responses(counted.lazy("r", values, size=3), stimulus=ids)}
    _compare("pwcca", {"r": data.responses(values, stimulus=ids)}, lazy, model, n_bootstrap=30)
    # the QR pass and the weights' pass (the scale comes with the QR pass)
    assert max(counted.reads.values()) == 2
