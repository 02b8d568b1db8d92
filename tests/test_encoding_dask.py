"""Dask-backed responses: chunk-by-chunk over units, identical results, runs on a cluster."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurorep import NeurorepWarning, SchemaError, data
from neurorep.encoding import cross_validate_ridge, fit_banded_ridge, fit_ridge

da = pytest.importorskip("dask.array")


def _problem(rng, n=60, p=5, m=50):
    X = rng.normal(size=(n, p))
    Y = X @ rng.normal(size=(p, m)) + rng.normal(size=(n, m))
    ids = [f"s{i:02d}" for i in range(n)]
    return data.responses(X, stimulus=ids), data.responses(Y.astype(np.float32), stimulus=ids)


def test_dask_matches_numpy_and_is_lazy_on_request(rng):
    feats, resp = _problem(rng)
    lazy = resp.chunk({"unit": 16})
    eager = fit_ridge(feats, resp, cv=3)
    res = fit_ridge(feats, lazy, cv=3)
    xr.testing.assert_allclose(res, eager)
    deferred = fit_ridge(feats, lazy, cv=3, compute=False)
    assert isinstance(deferred["weights"].data, da.Array)
    assert deferred["weights"].data.chunks[1] == (16, 16, 16, 2)
    xr.testing.assert_allclose(deferred.compute(), eager)
    # stimuli reordered lazily are aligned by id before chunking
    shuffled = lazy.isel(stimulus=rng.permutation(60))
    xr.testing.assert_allclose(fit_ridge(feats, shuffled, cv=3), eager)


def test_dask_nan_and_constant_units(rng):
    feats, resp = _problem(rng, m=20)
    vals = resp.values.copy()
    vals[:, 3] = 1.0
    const = resp.copy(data=vals).chunk({"unit": 8})
    with pytest.warns(NeurorepWarning, match="1 of 20"):
        res = fit_ridge(feats, const, cv=3)
    assert np.isnan(res["score"][3])
    vals[5, 11] = np.nan
    bad = resp.copy(data=vals).chunk({"unit": 8})
    with pytest.raises(SchemaError, match="finite"):
        fit_ridge(feats, bad, cv=3)


def test_runs_on_a_local_distributed_cluster(rng):
    distributed = pytest.importorskip("distributed")
    feats, resp = _problem(rng, m=40)
    a, b = feats.values[:, :2], feats.values[:, 2:]
    eager = fit_ridge(feats, resp, cv=3)
    eager_banded = fit_banded_ridge({"a": a, "b": b}, resp.values, cv=3, n_candidates=3)
    eager_cv = cross_validate_ridge(feats, resp, cv=3, inner_cv=3)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster, distributed.Client(cluster):
        lazy = resp.chunk({"unit": 10})
        xr.testing.assert_allclose(fit_ridge(feats, lazy, cv=3), eager)
        # deferred: the plan was sent to the workers once (a future in the graph, not the
        # plan itself); computing the lazy result later on the same client gives the fit
        deferred = fit_ridge(feats, lazy, cv=3, compute=False)
        assert isinstance(deferred["weights"].data, da.Array)
        xr.testing.assert_allclose(deferred.compute(), eager)
        banded = fit_banded_ridge({"a": a, "b": b}, lazy.data, cv=3, n_candidates=3)
        np.testing.assert_allclose(banded["split_r2"], eager_banded["split_r2"], atol=1e-6)  # float32
        cvd = cross_validate_ridge(feats, lazy, cv=3, inner_cv=3)
        np.testing.assert_allclose(cvd["prediction"], eager_cv["prediction"], atol=1e-5)  # float32


@pytest.mark.parametrize("alpha_per_unit", [True, False])
def test_kernel_ridges_dask_match_numpy(rng, alpha_per_unit):
    """Kernel and multiple-kernel ridge run the same unit-chunk graph as fit_ridge: dask
    responses (uneven last chunk, lazily or computed) give the in-memory results, to the
    bit with the same unit chunks (float32 products of other widths round differently)."""
    from neurorep.encoding import fit_kernel_ridge, fit_multiple_kernel_ridge

    feats, resp = _problem(rng, m=37)
    lazy = resp.chunk({"unit": 16})
    eager = fit_kernel_ridge(feats, resp, cv=3, kernel="rbf", alpha_per_unit=alpha_per_unit,
                             chunk_units=16)
    xr.testing.assert_identical(
        fit_kernel_ridge(feats, lazy, cv=3, kernel="rbf", alpha_per_unit=alpha_per_unit), eager)
    deferred = fit_kernel_ridge(feats, lazy, cv=3, kernel="rbf", compute=False,
                                alpha_per_unit=alpha_per_unit)
    assert isinstance(deferred["dual_weights"].data, da.Array)
    xr.testing.assert_identical(deferred.compute(), eager)
    spaces = {"a": feats.values[:, :2], "b": feats.values[:, 2:]}
    mk_eager = fit_multiple_kernel_ridge(spaces, resp.values, cv=3, n_candidates=3, rng=0,
                                         alpha_per_unit=alpha_per_unit, chunk_units=16)
    mk_lazy = fit_multiple_kernel_ridge(spaces, da.from_array(resp.values, chunks=(60, 16)),
                                        cv=3, n_candidates=3, rng=0, alpha_per_unit=alpha_per_unit)
    xr.testing.assert_identical(mk_lazy, mk_eager)
