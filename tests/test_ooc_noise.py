"""Noise ceilings and noise estimates of dask-backed responses with repetitions
(stimulus, repetition, unit), chunked along units: the in-memory numbers, without the
region ever being gathered (every task's result is watched)."""

from __future__ import annotations

import contextlib
import threading

import numpy as np
import pytest
import xarray as xr

from neurorep import SchemaError, data
from neurorep.stats import noise_ceiling

dask = pytest.importorskip("dask")
from dask.callbacks import Callback  # noqa: E402

UNIT_CHUNKS = (1, 5, 7, 10)  # several chunks, one of a single unit


class _Widest(Callback):
    """The largest array with all ``n_units`` units that a dask task of a computation
    started from this thread returned (dask's local callbacks see every computation in
    the process, also one another test left running in a thread)."""

    def __init__(self, n_units: int) -> None:
        super().__init__()
        self.n_units = n_units
        self.largest = 0
        self.tasks = 0
        self.owner = threading.get_ident()
        self.graphs: list = []

    def _start(self, dsk):
        if threading.get_ident() == self.owner:
            self.graphs.append(dsk)

    def _posttask(self, key, result, dsk, state, id):  # noqa: A002
        if not any(g is dsk for g in self.graphs):
            return
        self.tasks += 1
        results = result if isinstance(result, (tuple, list)) else (result,)
        for r in results:
            if isinstance(r, np.ndarray) and r.ndim >= 2 and self.n_units in r.shape:
                self.largest = max(self.largest, r.size)


@contextlib.contextmanager
def never_gathered(resp: xr.DataArray):
    """Fail unless the work ran on dask and no task held as many values across all units
    as one pattern per stimulus (the region, or its mean over repetitions); per-unit
    vectors and stimulus-space matrices are fine. Pick a unit count that no stimulus-space
    size equals. (``.values`` of the dask array runs tasks too: its concatenation is seen.)"""
    n_stim, _, n_units = resp.shape
    watch = _Widest(n_units)
    with dask.config.set(scheduler="threads"), watch:
        yield watch
    assert watch.tasks > 0, "nothing ran on dask"
    assert watch.largest < n_stim * n_units, (
        f"a task materialised {watch.largest} values across all {n_units} units; the region "
        f"holds {resp.size}"
    )


def _reps(rng, n=12, r=4, p=23, ties=True):
    signal = rng.normal(size=(n, 1, p))
    y = signal + rng.normal(size=(n, r, p)) * rng.uniform(0.3, 2.0, size=p)
    if ties:
        y = np.round(y * 2) / 2  # many tied values
    if p > 8:
        y[:, :, 3] = y[:, :1, 3]  # no noise: ncsnr inf
        y[:, :, 8] = 1.5  # constant: NaN
    stim = [f"s{i:02d}" for i in range(n)]
    return data.responses(y, dims=("stimulus", "repetition", "unit"), stimulus=stim)


@pytest.mark.parametrize("method", ["ncsnr", "split_half"])
@pytest.mark.parametrize("metric", ["r", "r2"])
def test_noise_ceiling_of_dask_responses_equals_in_memory(rng, method, metric):
    resp = _reps(rng)
    lazy = resp.chunk({"unit": UNIT_CHUNKS})
    with pytest.warns(RuntimeWarning) if method == "split_half" else contextlib.nullcontext():
        eager = noise_ceiling(resp, method=method, metric=metric, n_split_halves=7, rng=3)
    with never_gathered(lazy), pytest.warns(RuntimeWarning) if method == "split_half" \
            else contextlib.nullcontext():
        out = noise_ceiling(lazy, method=method, metric=metric, n_split_halves=7, rng=3)
    xr.testing.assert_allclose(out, eager, rtol=1e-10, atol=1e-12)
    assert out.attrs == eager.attrs
    assert np.isnan(out["ceiling"].values[8])
    if method == "ncsnr":
        assert np.isinf(out["ncsnr"].values[3])
    # the bare dask array reads the same way as the bare numpy array
    bare = noise_ceiling(lazy.data, method=method, metric=metric, n_split_halves=7, rng=3) \
        if method == "ncsnr" else None
    if bare is not None:
        np.testing.assert_allclose(bare["ceiling"], eager["ceiling"], rtol=1e-10)


def test_noise_ceiling_of_dask_responses_small_and_single_chunk(rng):
    resp = _reps(rng, n=3, r=2, p=2, ties=False)  # the fewest stimuli and repetitions
    for chunks in ((1, 1), (2,)):
        out = noise_ceiling(resp.chunk({"unit": chunks}))
        xr.testing.assert_allclose(out, noise_ceiling(resp), rtol=1e-10, atol=1e-12)


def test_noise_ceiling_of_dask_responses_refuses_nan(rng):
    resp = _reps(rng, ties=False)
    vals = resp.values.copy()
    vals[2, 1, 20] = np.nan  # in the last chunk only
    lazy = resp.copy(data=vals).chunk({"unit": UNIT_CHUNKS})
    with pytest.raises(SchemaError, match="NaN"):
        noise_ceiling(lazy)
    with pytest.raises(SchemaError, match="repetition"):
        noise_ceiling(lazy.isel(repetition=[0]))


# ---------------------------------------------------------------------------------------
# noise-weighted RDMs and noise precision (rsa)
# ---------------------------------------------------------------------------------------
from neurorep import rsa  # noqa: E402


def _runs(rng, n=12, r=4, p=23, ties=True, scale=1.0):
    """Responses with correlated noise (so the shrinkage is strictly between 0 and 1)."""
    mix = rng.normal(size=(p, p)) * 0.3 + np.eye(p)
    y = rng.normal(size=(n, 1, p)) + rng.normal(size=(n, r, p)) @ mix
    if ties:
        y = np.round(y * 4) / 4
    stim = [f"s{i:02d}" for i in range(n)]
    return data.responses(y * scale, dims=("stimulus", "repetition", "unit"), stimulus=stim)


# mahalanobis of a given diagonal (or none) averages the runs first: covered elsewhere
_NOISE_CASES = [("crossnobis", noise) for noise in ("diag", "shrinkage_diag", "shrinkage_eye",
                                                    "given", None)] + [
    ("mahalanobis", noise) for noise in ("diag", "shrinkage_diag", "shrinkage_eye")]


@pytest.mark.parametrize(("metric", "noise"), _NOISE_CASES)
@pytest.mark.parametrize("normalize", [True, False])
def test_noise_weighted_rdm_of_dask_responses_equals_in_memory(rng, metric, noise, normalize):
    resp = _runs(rng)
    prec = rng.uniform(0.5, 2.0, size=resp.sizes["unit"]) if noise == "given" else noise
    eager = rsa.compute_rdm(resp, metric=metric, noise=prec, normalize=normalize)
    lazy = resp.chunk({"unit": UNIT_CHUNKS})
    with never_gathered(lazy):
        out = rsa.compute_rdm(lazy, metric=metric, noise=prec, normalize=normalize)
    scale = float(np.abs(eager.values).max())
    np.testing.assert_allclose(out.values, eager.values, rtol=1e-10, atol=1e-10 * scale)
    assert out.attrs == eager.attrs


@pytest.mark.parametrize("noise", ["shrinkage_diag", "shrinkage_eye", "diag"])
@pytest.mark.parametrize("shape", [(3, 2, 1), (3, 2, 2), (5, 3, 40)])
def test_noise_weighted_rdm_small_inputs(rng, noise, shape):
    """The fewest stimuli, runs and units; more units than residual dof (40 > 10)."""
    n, r, p = shape
    resp = _runs(rng, n=n, r=r, p=p, ties=False)
    for chunks in ({"unit": 1}, {"unit": -1}):
        for metric in ("crossnobis", "mahalanobis"):
            eager = rsa.compute_rdm(resp, metric=metric, noise=noise)
            out = rsa.compute_rdm(resp.chunk(chunks), metric=metric, noise=noise)
            scale = float(np.abs(eager.values).max())
            np.testing.assert_allclose(out.values, eager.values, rtol=1e-9, atol=1e-9 * scale)


def test_noise_weighted_rdm_of_dask_responses_extreme_scale(rng):
    resp = _runs(rng, ties=False, scale=1e-200)
    for noise in ("shrinkage_diag", "shrinkage_eye", "diag"):
        eager = rsa.compute_rdm(resp, metric="crossnobis", noise=noise)
        out = rsa.compute_rdm(resp.chunk({"unit": UNIT_CHUNKS}), metric="crossnobis",
                              noise=noise)
        np.testing.assert_allclose(out.values, eager.values, rtol=1e-9,
                                   atol=1e-9 * float(np.abs(eager.values).max()))


def test_full_noise_and_dense_precision_of_dask_responses(rng):
    resp = _runs(rng)
    lazy = resp.chunk({"unit": UNIT_CHUNKS})
    with pytest.raises(SchemaError, match=r"noise='full'.*23 x 23.*shrinkage_diag.*smaller ROI"):
        rsa.compute_rdm(lazy, metric="crossnobis", noise="full")
    with pytest.raises(SchemaError, match=r"shrinkage_diag.*23 x 23.*compute_rdm.*method='diag'"):
        rsa.compute_noise_precision(lazy, method="shrinkage_diag")
    stuck = resp.copy(data=resp.values.copy())
    stuck[:, :, 5] = stuck[:, :1, 5].values  # no residual variance
    with pytest.raises(SchemaError, match="zero residual variance.*unit position 5"):
        rsa.compute_rdm(stuck.chunk({"unit": UNIT_CHUNKS}), metric="crossnobis",
                        noise="shrinkage_diag")
    # a dense given precision still gives the in-memory numbers
    dense = rsa.compute_noise_precision(resp, method="shrinkage_diag")
    xr.testing.assert_allclose(rsa.compute_rdm(lazy, metric="crossnobis", noise=dense),
                               rsa.compute_rdm(resp, metric="crossnobis", noise=dense))


def test_diag_noise_precision_of_dask_responses(rng):
    resp = _runs(rng)
    lazy = resp.chunk({"unit": UNIT_CHUNKS})
    eager = rsa.compute_noise_precision(resp, method="diag")
    with never_gathered(lazy):
        out = rsa.compute_noise_precision(lazy, method="diag")
    xr.testing.assert_allclose(out, eager, rtol=1e-10)


# ---------------------------------------------------------------------------------------
# the ceiling= path of alignment.score_matrix
# ---------------------------------------------------------------------------------------
from neurorep import alignment  # noqa: E402


@pytest.mark.parametrize("metric", ["encoding", "cka"])
def test_score_matrix_ceiling_of_dask_region_with_repetitions(rng, metric):
    """The encoding ceiling (per-unit split halves) and a generic metric's split-half
    ceiling of a dask region with repetitions: the in-memory ceiling, region never whole."""
    n, r, p = 30, 4, 23
    ids = [f"s{i:02d}" for i in range(n)]
    base = rng.normal(size=(n, 5))
    signal = base @ rng.normal(size=(5, p))
    y = np.round((signal[:, None, :] + rng.normal(size=(n, r, p))) * 2) / 2
    region = data.responses(y, dims=("stimulus", "repetition", "unit"), stimulus=ids)
    model = {"l": data.responses(base @ rng.normal(size=(5, 7)), stimulus=ids)}
    eager = alignment.score_matrix({"V1": region}, model, metric=metric, n_bootstrap=0)
    lazy_region = region.chunk({"unit": UNIT_CHUNKS})
    with never_gathered(lazy_region):
        lazy = alignment.score_matrix({"V1": lazy_region}, model, metric=metric,
                                      n_bootstrap=0)
    assert np.isfinite(eager["ceiling"].sel(bound="lower")).all()
    np.testing.assert_allclose(lazy["ceiling"], eager["ceiling"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(lazy["score"], eager["score"], rtol=1e-9, atol=1e-12)
