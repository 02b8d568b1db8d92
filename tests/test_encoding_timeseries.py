"""FIR delays, z-scoring within runs, regressors, and run-wise CV on time series."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurorep import SchemaError, data
from neurorep.encoding import fit_ridge, make_delays, make_regressors, zscore_runs


def _series(rng, n_runs=4, per_run=40):
    runs = np.repeat(np.arange(n_runs), per_run)
    labels = rng.choice(["rest", "face", "house"], size=runs.size)
    return runs, labels


def test_make_delays_never_cross_runs(rng):
    runs, _ = _series(rng, n_runs=3, per_run=5)
    x = xr.DataArray(np.arange(15.0)[:, None] + 1, dims=("time", "feature"),
                     coords={"feature": ["a"], "run": ("time", runs)})
    d = make_delays(x, delays=[0, 2, -1])
    assert list(d["feature"].values) == ["a@0", "a@2", "a@-1"]
    np.testing.assert_array_equal(d.sel(feature="a@2").values, [0, 0, 1, 2, 3, 0, 0, 6, 7, 8, 0, 0, 11, 12, 13])
    np.testing.assert_array_equal(d.sel(feature="a@-1").values[:5], [2, 3, 4, 5, 0])
    assert "run" in d.coords
    with pytest.raises(ValueError, match="must not repeat"):
        make_delays(x, delays=[1, 1])
    with pytest.raises(SchemaError, match="no 'run' coordinate"):
        make_delays(np.ones((4, 2)))


def test_zscore_runs_and_regressors(rng):
    runs, labels = _series(rng)
    y = rng.normal(size=(runs.size, 3)) * 5 + runs[:, None] * 100
    y[runs == 1, 2] = 7.0  # constant inside one run -> zeros there
    ts = data.responses(y, time=True, stimulus_coords={"run": runs, "label": labels})
    z = zscore_runs(ts)
    for r in range(4):
        block = z.values[runs == r]
        np.testing.assert_allclose(block[:, :2].mean(0), 0, atol=1e-12)
        np.testing.assert_allclose(block[:, :2].std(0), 1)
    assert np.all(z.values[runs == 1, 2] == 0)
    X = make_regressors(ts)
    assert list(X["feature"].values) == ["face", "house"]
    np.testing.assert_array_equal(X.sel(feature="face").values, labels == "face")
    with pytest.raises(SchemaError, match="'label' coordinate"):
        make_regressors(ts.drop_vars("label"))


def test_time_series_cv_is_by_run_and_recovers_a_delayed_response(rng):
    runs, labels = _series(rng, n_runs=6, per_run=60)
    ts0 = xr.DataArray(np.zeros((runs.size, 1)), dims=("time", "unit"),
                       coords={"run": ("time", runs), "label": ("time", labels)})
    X = make_delays(make_regressors(ts0), delays=[0, 1, 2, 3, 4])
    # unit 0 responds to faces 2 samples later; unit 1 is noise
    face2 = X.sel(feature="face@2").values
    y = np.c_[face2 * 2.0 + 0.3 * rng.normal(size=runs.size), rng.normal(size=runs.size)]
    resp = data.responses(y, time=True, stimulus_coords={"run": runs, "label": labels})
    res = fit_ridge(X, resp, cv="leave-one-group-out", alphas=np.logspace(-2, 3, 6))
    assert res.attrs["grouped"] == 1 and res.attrs["n_folds"] == 6
    assert float(res["r"][0]) > 0.9 and abs(float(res["r"][1])) < 0.2
    w = res["weights"][:, 0].to_series()
    assert w.idxmax() == "face@2"
    # runs are grouped by default for time series: cv=3 gives folds of whole runs
    res3 = fit_ridge(X, resp, cv=3)
    assert res3.attrs["grouped"] == 1
    other = resp.assign_coords(run=("time", runs[::-1]))
    with pytest.raises(Exception, match="different 'run'"):
        fit_ridge(X, other)


def test_make_delays_refuses_runs_out_of_order():
    x = np.arange(1.0, 9.0)[:, None]
    # alternating runs: every "segment" is one sample, so every delayed column would be 0
    with pytest.raises(SchemaError, match=r"run 0 are not contiguous.*position 2, after run 1"):
        make_delays(x, delays=[1], run=[0, 1, 0, 1, 0, 1, 0, 1])
    # a run split in two blocks
    with pytest.raises(SchemaError, match=r"run 'a' are not contiguous.*sortby\(\['run', 'time'\]\)"):
        make_delays(x, delays=[1], run=["a", "a", "b", "b", "b", "a", "a", "a"])
    # runs in any label order are fine when each is one block
    d = make_delays(x, delays=[1], run=[5, 5, 5, 2, 2, 2, 2, 9])
    np.testing.assert_array_equal(d.values[:, 0], [0, 1, 2, 0, 4, 5, 6, 0])
    # a time coordinate that goes backwards inside a run
    t = xr.DataArray(x, dims=("time", "feature"),
                     coords={"time": [0, 1, 3, 2, 0, 1, 2, 3], "run": ("time", [0] * 4 + [1] * 4)})
    with pytest.raises(SchemaError, match=r"'time' coordinate does not increase within run 0"):
        make_delays(t, delays=[1])
    ok = make_delays(t.sortby(["run", "time"]), delays=[1])
    np.testing.assert_array_equal(ok.values[:4, 0], [0, 1, 2, 4])


def test_make_regressors_refuses_unknown_or_repeated_conditions(rng):
    runs, labels = _series(rng, n_runs=2, per_run=10)
    ts = data.responses(rng.normal(size=(runs.size, 2)), time=True,
                        stimulus_coords={"run": runs, "label": labels})
    with pytest.raises(SchemaError, match=r"conditions \['faces'\] do not occur .* all zeros.*"
                                          r"\['face', 'house', 'rest'\]"):
        make_regressors(ts, conditions=["face", "faces"])
    with pytest.raises(SchemaError, match=r"conditions \['house'\] are listed more than once"):
        make_regressors(ts, conditions=["house", "face", "house"])
    with pytest.raises(SchemaError, match=r"conditions must be a list .* conditions=\['face'\]"):
        make_regressors(ts, conditions="face")
    X = make_regressors(ts, conditions=["house", "rest"])
    assert list(X["feature"].values) == ["house", "rest"]
    np.testing.assert_array_equal(X.sel(feature="rest").values, labels == "rest")


def test_time_series_helpers_refuse_complex_and_huge_designs():
    z = np.ones((6, 2)) * (1 + 2j)
    with pytest.raises(SchemaError, match=r"make_delays: complex values .*\(x\.real\)"):
        make_delays(z, run=None)
    with pytest.raises(SchemaError, match="zscore_runs: complex values"):
        zscore_runs(xr.DataArray(z, dims=("time", "unit")), run=None)
    with pytest.raises(MemoryError, match=r"make_delays: 1000000 delays x 2 features x 6000 "
                                          r"samples .* GB.*fewer delays"):
        make_delays(np.zeros((6000, 2)), delays=range(10**6), run=None)
