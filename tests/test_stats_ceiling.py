"""noise_ceiling (ncsnr, split-half + Spearman-Brown) and normalize_score."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurorep import NeurorepWarning, SchemaError, data
from neurorep.stats._ceiling import noise_ceiling, normalize_score


def _repeated(rng, n_stim=300, n_rep=4, snr=(0.5, 1.0, 2.0)):
    snr = np.asarray(snr)
    signal = rng.normal(size=(n_stim, 1, snr.size)) * snr
    noise = rng.normal(size=(n_stim, n_rep, snr.size))
    return signal, signal + noise


def test_ncsnr_recovers_planted_snr_and_ceiling(rng):
    snr = np.array([0.5, 1.0, 2.0])
    signal, reps = _repeated(rng, n_stim=2000, snr=snr)
    nc = noise_ceiling(reps, metric="r2")
    np.testing.assert_allclose(nc["ncsnr"], snr, rtol=0.08)
    rho = snr**2 / (snr**2 + 1 / 4)  # reliability of a 4-trial average
    np.testing.assert_allclose(nc["reliability"], rho, atol=0.03)
    # the ceiling in r units is what the true signal scores against the noisy average
    truth = [np.corrcoef(signal[:, 0, u], reps[:, :, u].mean(1))[0, 1] for u in range(3)]
    nc_r = noise_ceiling(reps, metric="r")
    np.testing.assert_allclose(nc_r["ceiling"], truth, atol=0.03)
    # scored on single trials, the ceiling is lower
    single = noise_ceiling(reps, metric="r2", n_average=1)
    assert (single["ceiling"] < nc["ceiling"]).all()


def test_split_half_agrees_with_ncsnr_and_hand_formula(rng):
    _, reps = _repeated(rng, n_stim=1500)
    ids = [f"s{i}" for i in range(1500)]
    da = data.responses(reps, dims=("stimulus", "repetition", "unit"), stimulus=ids)
    sh = noise_ceiling(da, method="split_half", metric="r2", n_split_halves=20, rng=0)
    nc = noise_ceiling(da, metric="r2")
    np.testing.assert_allclose(sh["ceiling"], nc["ceiling"], atol=0.04)
    # one fixed split by hand: Spearman-Brown from 2 to 4 trials
    a, b = reps[:, :2, 0].mean(1), reps[:, 2:, 0].mean(1)
    r = np.corrcoef(a, b)[0, 1]
    assert 2 * r / (1 + r) == pytest.approx(float(sh["reliability"][0]), abs=0.05)
    assert list(sh["unit"].values) == list(da["unit"].values)


def test_noise_free_and_signal_free_units(rng):
    reps = np.repeat(rng.normal(size=(50, 1, 1)), 3, axis=1)  # identical repetitions
    nc = noise_ceiling(reps)
    assert float(nc["ceiling"][0]) == 1.0
    noise_only = rng.normal(size=(50, 3, 1))
    assert float(noise_ceiling(noise_only, method="split_half", rng=0)["ceiling"][0]) < 0.3


def test_ceiling_bad_input(rng):
    with pytest.raises(SchemaError, match="repetition"):
        noise_ceiling(data.responses(rng.normal(size=(10, 3))))
    with pytest.raises(SchemaError, match="at least 2 repetitions"):
        noise_ceiling(rng.normal(size=(10, 1, 2)))
    bad = rng.normal(size=(10, 3, 2))
    bad[0, 1, 0] = np.nan
    with pytest.raises(SchemaError, match="NaN"):
        noise_ceiling(bad)
    with pytest.raises(ValueError, match="method must be one of"):
        noise_ceiling(rng.normal(size=(10, 3, 2)), method="odd_even")


def test_normalize_score(rng):
    score = xr.DataArray([0.3, 0.2, 0.1], dims="unit", coords={"unit": ["a", "b", "c"]},
                         name="score")
    ceil = xr.Dataset({"ceiling": ("unit", [0.0, 0.4, 0.6])}, coords={"unit": ["c", "b", "a"]})
    with pytest.warns(NeurorepWarning, match="1 unit"):
        out = normalize_score(score, ceil)
    np.testing.assert_allclose(out["normalized_score"], [0.5, 0.5, np.nan])
    np.testing.assert_allclose(out["ceiling"], [0.6, 0.4, 0.0])
    with pytest.raises(SchemaError, match="lacks"):
        normalize_score(score, ceil.sel(unit=["a", "b"]))
