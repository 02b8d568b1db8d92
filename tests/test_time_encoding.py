"""Time-resolved encoding: fit_over_time (epochs) and fit_trf (continuous runs) (issue #17 item 4)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurorep import AlignmentError, SchemaError, data
from neurorep.encoding import (
    cross_validate_ridge,
    fit_over_time,
    fit_trf,
    make_delays,
    predict_trf,
)

TIMES = np.round(np.arange(-0.1, 0.4, 0.025), 6)  # 20 time points
WINDOW = (0.1, 0.2)


def _planted(n_stim=60, p=4, n_unit=3, n_rep=0, noise=1.0, seed=0):
    """Features drive unit 0 (and unit 2, weaker) only inside WINDOW; unit 1 is noise only."""
    g = np.random.default_rng(seed)
    X = g.normal(size=(n_stim, p))
    w = g.normal(size=(p, n_unit))
    gain = ((TIMES >= WINDOW[0]) & (TIMES <= WINDOW[1])).astype(float)
    unit_gain = np.array([1.0, 0.0, 0.5])[:n_unit]
    signal = gain[None, :, None] * (X @ w)[:, None, :] * unit_gain
    stim = [f"s{i:03d}" for i in range(n_stim)]
    feats = data.responses(X, stimulus=stim)
    if n_rep:
        Y = signal[:, None] + noise * g.normal(size=(n_stim, n_rep, len(TIMES), n_unit))
        ep = data.responses(Y, dims=("stimulus", "repetition", "time", "unit"), stimulus=stim,
                            time=TIMES)
    else:
        Y = signal + noise * g.normal(size=(n_stim, len(TIMES), n_unit))
        ep = data.responses(Y, dims=("stimulus", "time", "unit"), stimulus=stim, time=TIMES)
    return feats, ep


# ----------------------------------------------------------------------------- planted truth
def test_planted_window_recovered_with_significance():
    feats, ep = _planted(noise=0.7)
    res = fit_over_time(feats, ep, alphas=np.logspace(-2, 4, 7), cv=5, inner_cv=5,
                        n_permutations=199, n_bootstrap=200, rng=0)
    assert res["score"].dims == ("time", "unit") and res["alpha"].dims == ("unit",)
    inside = (res.time >= WINDOW[0]) & (res.time <= WINDOW[1])
    u0 = res.sel(unit=res.unit[0])
    assert float(u0.score.where(inside, drop=True).min()) > 0.6
    assert (u0.pvalue.where(inside, drop=True) <= 0.01).all()
    assert (u0.ci_low.where(inside, drop=True) > 0.3).all()
    outside = u0.score.where(~inside, drop=True)
    assert abs(float(outside.mean())) < 0.15
    assert float((u0.pvalue.where(~inside, drop=True) < 0.05).mean()) <= 0.25
    # the noise-only unit: nothing anywhere (its alpha is the largest, so its held-out r is the
    # slightly negative r of the folds' training means -- no variance explained, no test passed)
    u1 = res.sel(unit=res.unit[1])
    assert float(u1.r2.max()) < 0.02
    assert float(u1.pvalue_fdr.min()) > 0.05
    assert res.attrs["seed"] == 0 and res.attrs["chance"] == 0.0
    assert ((res.ci_low <= res.score) & (res.score <= res.ci_high)).sel(unit=res.unit[0]).all()


def test_one_alpha_per_unit_is_the_least_inner_error_summed_over_time():
    """Reference: scikit-learn Ridge in a loop over inner folds, SSE summed over time points."""
    from sklearn.linear_model import Ridge

    feats, ep = _planted(n_stim=30, p=6, noise=1.5, seed=4)
    alphas = np.array([0.1, 3.0, 100.0, 3000.0])
    res = fit_over_time(feats, ep, alphas=alphas, cv=3, inner_cv=4)
    X = feats.values
    Y = ep.transpose("stimulus", "time", "unit").values
    n = X.shape[0]
    for f in range(3):
        test = np.arange(f * 10, (f + 1) * 10)
        train = np.setdiff1d(np.arange(n), test)
        Xt, Yt = X[train], Y[train]
        sse = np.zeros((len(alphas), Y.shape[2]))
        for k in range(4):  # contiguous inner folds of 20 training stimuli
            te = np.arange(k * 5, (k + 1) * 5)
            tr = np.setdiff1d(np.arange(len(train)), te)
            for a, alpha in enumerate(alphas):
                for t in range(Y.shape[1]):
                    model = Ridge(alpha=alpha).fit(Xt[tr], Yt[tr, t])
                    sse[a] += ((model.predict(Xt[te]) - Yt[te, t]) ** 2).sum(0)
        np.testing.assert_array_equal(res.fold_alpha.isel(fold=f).values, alphas[sse.argmin(0)])
    # the units differ (strong signal: small alpha; noise-only unit: the largest alpha)
    assert res.alpha.values[0] < res.alpha.values[1]


def test_equals_cross_validate_ridge_per_time_point_with_fixed_alpha():
    feats, ep = _planted(n_stim=25, p=3, seed=2)
    res = fit_over_time(feats, ep, alphas=[5.0], cv=5, inner_cv=4, scoring="r2")
    for t in ep.time.values[::3]:
        ref = cross_validate_ridge(feats, ep.sel(time=t), alphas=[5.0], cv=5, inner_cv=4,
                                   scoring="r2", dtype="float64")
        got = res.sel(time=t)
        np.testing.assert_allclose(got.prediction.values, ref.prediction.values, rtol=1e-9,
                                   atol=1e-12)
        np.testing.assert_allclose(got.r.values, ref.r.values, rtol=1e-9)
        np.testing.assert_allclose(got.score.values, ref.r2.values, rtol=1e-9)


def test_refit_weights_equal_sklearn_ridge_at_the_chosen_alpha():
    from sklearn.linear_model import Ridge

    feats, ep = _planted(n_stim=40, seed=5)
    res = fit_over_time(feats, ep, alphas=[0.5, 50.0], cv=4, inner_cv=4)
    for u in range(res.sizes["unit"]):
        for t in (3, 10):
            model = Ridge(alpha=float(res.alpha.values[u])).fit(
                feats.values, ep.isel(time=t, unit=u).values)
            np.testing.assert_allclose(res.weights.isel(time=t, unit=u).values, model.coef_,
                                       rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(float(res.intercept.isel(time=t, unit=u)),
                                       model.intercept_, rtol=1e-8, atol=1e-10)


def test_stimulus_order_of_the_epochs_does_not_matter():
    feats, ep = _planted(n_stim=30, seed=6)
    perm = np.random.default_rng(0).permutation(30)
    a = fit_over_time(feats, ep, cv=3, inner_cv=3, n_bootstrap=50, rng=1)
    b = fit_over_time(feats, ep.isel(stimulus=perm), cv=3, inner_cv=3, n_bootstrap=50, rng=1)
    xr.testing.assert_allclose(a, b)
    assert a.stimulus.values.tolist() == feats.stimulus.values.tolist()  # the features' order


def test_repetitions_are_averaged():
    feats, ep = _planted(n_stim=24, n_rep=3, seed=7)
    a = fit_over_time(feats, ep, cv=3, inner_cv=3)
    b = fit_over_time(feats, ep.mean("repetition"), cv=3, inner_cv=3)
    xr.testing.assert_allclose(a.drop_attrs(), b.drop_attrs())


def test_plot_time_course_takes_the_result():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neurorep.plotting import plot_time_course

    feats, ep = _planted(n_stim=24, seed=8)
    res = fit_over_time(feats, ep, cv=3, inner_cv=3, n_bootstrap=30, rng=0)
    disp = plot_time_course(res)  # one line (and CI band) per unit
    assert len(disp.ax_.get_lines()) >= res.sizes["unit"]
    disp2 = plot_time_course(res.score.mean("unit"))
    assert disp2.ax_.get_xlabel() == "time (s)"
    plt.close("all")


# ----------------------------------------------------------------------------- bad input
def test_bad_epochs_errors_name_the_fix():
    feats, ep = _planted(n_stim=12, seed=9)
    with pytest.raises(SchemaError, match="'time' dim.*cross_validate_ridge"):
        fit_over_time(feats, ep.isel(time=0, drop=True))
    with pytest.raises(SchemaError, match="plain array is never read as epochs"):
        fit_over_time(feats, ep.values)
    shuffled = ep.assign_coords(time=ep.time.values[np.r_[1, 0, 2:ep.sizes["time"]]])
    with pytest.raises(SchemaError, match="strictly increasing.*sortby"):
        fit_over_time(feats, shuffled)
    irregular = ep.assign_coords(time=np.r_[ep.time.values[:-1], 1.0])
    with pytest.raises(SchemaError, match="irregularly"):
        fit_over_time(feats, irregular)
    with pytest.raises(ValueError, match="cv=20 folds need at least 20 samples; got 12. Use fewer"):
        fit_over_time(feats, ep, cv=20)
    with pytest.raises(ValueError, match="inner_cv=10 folds need at least 10"):
        fit_over_time(feats, ep, cv=3, inner_cv=10)
    nan = ep.copy()
    nan[0, 0, 0] = np.nan
    with pytest.raises(SchemaError, match="NaN.*dropna"):
        fit_over_time(feats, nan)
    with pytest.raises(AlignmentError, match="different stimuli"):
        fit_over_time(feats.isel(stimulus=slice(1, None)), ep)
    with pytest.raises(ValueError, match="scoring"):
        fit_over_time(feats, ep, scoring="accuracy")
    with pytest.raises(ValueError, match="n_bootstrap must be an integer >= 0"):
        fit_over_time(feats, ep, n_bootstrap=-1)


# ----------------------------------------------------------------------------- TRF
SF = 100.0
KERNEL_LAGS = np.array([0.02, 0.03, 0.04, 0.05, 0.06])
KERNEL = np.array([0.5, 1.0, 1.5, 1.0, 0.5])


def _continuous(n_run=4, n_t=400, p=2, m=2, noise=1.0, pad=0, seed=0, offset=0.0):
    """Feature 0 drives unit 0 through KERNEL (lags 20-60 ms); feature 1 drives nothing."""
    g = np.random.default_rng(seed)
    x = g.normal(size=(n_run, n_t, p))
    if pad:  # silence at the run edges, zero mean within each run
        x[:, :pad] = 0
        x[:, -pad:] = 0
        x[:, pad:-pad] -= x[:, pad:-pad].sum(1, keepdims=True) / (n_t - 2 * pad)
    y = noise * g.normal(size=(n_run, n_t, m)) + offset
    for lag_s, k in zip(KERNEL_LAGS, KERNEL, strict=True):
        d = int(round(lag_s * SF))
        y[:, d:, 0] += k * x[:, : n_t - d, 0]
    crd = {"time": np.tile(np.arange(n_t) / SF, n_run),
           "run": ("time", np.repeat([f"run{r}" for r in range(n_run)], n_t))}
    X = xr.DataArray(x.reshape(-1, p), dims=("time", "feature"),
                     coords={**crd, "feature": [f"f{i}" for i in range(p)]})
    Y = xr.DataArray(y.reshape(-1, m), dims=("time", "unit"),
                     coords={**crd, "unit": [f"u{i}" for i in range(m)]})
    return X, Y, x, y


def test_trf_planted_kernel_recovered():
    X, Y, _, _ = _continuous(seed=1)
    res = fit_trf(X, Y, tmin=-0.05, tmax=0.15, alphas=np.logspace(-1, 4, 6), n_permutations=99,
                  block_size=20, rng=0)
    assert res.weights.dims == ("delay", "feature", "unit")
    np.testing.assert_allclose(res.delay.values, np.round(np.arange(-5, 16) / SF, 12))
    w = res.weights.sel(feature="f0", unit="u0")
    planted = np.zeros(res.sizes["delay"])
    planted[np.searchsorted(res.delay.values, KERNEL_LAGS)] = KERNEL
    assert np.corrcoef(w.values, planted)[0, 1] > 0.97
    assert float(w.idxmax("delay")) == pytest.approx(0.04)
    np.testing.assert_allclose(w.sel(delay=list(KERNEL_LAGS)).values, KERNEL, atol=0.15)
    assert float(np.abs(res.weights.sel(feature="f1")).max()) < 0.15
    assert float(res.score.sel(unit="u0")) > 0.7 and float(res.pvalue.sel(unit="u0")) == 0.01
    assert abs(float(res.score.sel(unit="u1"))) < 0.1
    assert res.attrs["sfreq"] == 100.0 and res.attrs["n_folds"] == 4


@pytest.mark.parametrize("estimator", ["ridge", "time_delaying_ridge"])
def test_trf_equals_mne_receptive_field_on_silence_padded_runs(estimator):
    """Exact reference: with silence at the run edges and zero-mean stimuli, MNE's delayed design
    (mean-filled, or TimeDelayingRidge's zero-padded autocorrelations) equals make_delays', so the
    weights and predictions agree to float64 round-off (1e-10 relative)."""
    mne = pytest.importorskip("mne")
    mne_decoding = pytest.importorskip("mne.decoding")
    from sklearn.linear_model import Ridge

    X, Y, x, y = _continuous(n_run=3, n_t=300, noise=0.5, pad=10, offset=3.0, seed=2)
    alpha = 30.0
    res = fit_trf(X, Y, tmin=-0.02, tmax=0.08, alphas=[alpha])
    est = Ridge(alpha=alpha) if estimator == "ridge" else alpha
    rf = mne_decoding.ReceptiveField(-0.02, 0.08, SF, estimator=est, fit_intercept=True)
    with mne.utils.use_log_level("error"):
        rf.fit(x.transpose(1, 0, 2), y.transpose(1, 0, 2))  # MNE: (time, epoch=run, feature)
    w_mne = rf.coef_.transpose(2, 1, 0)  # (output, feature, delay) -> (delay, feature, unit)
    np.testing.assert_allclose(res.weights.values, w_mne, rtol=1e-10,
                               atol=1e-10 * np.abs(w_mne).max())
    pred_mne = rf.predict(x.transpose(1, 0, 2)).transpose(1, 0, 2).reshape(-1, 2)
    np.testing.assert_allclose(predict_trf(res, X).values, pred_mne, rtol=1e-10, atol=1e-10)


def test_trf_close_to_mne_on_generic_runs():
    """Without silent edges the designs differ only in the padded samples: MNE fills them with
    the mean (Ridge) and we with zeros before centring: 11 delays of 500 samples per run, so the
    weights differ by at most about that fraction, 2% of the largest weight (0.08% observed)."""
    mne = pytest.importorskip("mne")
    mne_decoding = pytest.importorskip("mne.decoding")
    from sklearn.linear_model import Ridge

    X, Y, x, y = _continuous(n_run=3, n_t=500, seed=3)
    res = fit_trf(X, Y, tmin=0.0, tmax=0.1, alphas=[10.0])
    rf = mne_decoding.ReceptiveField(0.0, 0.1, SF, estimator=Ridge(alpha=10.0))
    with mne.utils.use_log_level("error"):
        rf.fit(x.transpose(1, 0, 2), y.transpose(1, 0, 2))
    w_mne = rf.coef_.transpose(2, 1, 0)
    assert np.abs(res.weights.values - w_mne).max() < 0.02 * np.abs(w_mne).max()


def test_trf_design_is_make_delays_and_weights_reshape_it():
    from sklearn.linear_model import Ridge

    X, Y, _, _ = _continuous(n_run=3, n_t=200, seed=4)
    res = fit_trf(X, Y, delays=[0.0, 0.02, 0.05], alphas=[2.0])
    design = make_delays(X, delays=[0, 2, 5])
    model = Ridge(alpha=2.0).fit(design.values, Y.values)
    np.testing.assert_allclose(res.weights.values.reshape(-1, 2), model.coef_.T, rtol=1e-9,
                               atol=1e-12)
    assert res.delay_samples.values.tolist() == [0, 2, 5]


def test_trf_bad_input_errors_name_the_fix():
    X, Y, _, _ = _continuous(n_run=3, n_t=100, seed=5)
    with pytest.raises(SchemaError, match="'run' coordinate.*assign_coords"):
        fit_trf(X, Y.drop_vars("run"), tmin=0, tmax=0.05)
    with pytest.raises(ValueError, match="tmin= and tmax="):
        fit_trf(X, Y)
    with pytest.raises(ValueError, match="tmin .* must be at most tmax"):
        fit_trf(X, Y, tmin=0.1, tmax=0.0)
    with pytest.raises(ValueError, match="multiples of the sampling interval 0.01"):
        fit_trf(X, Y, delays=[0.0, 0.015])
    with pytest.raises(ValueError, match="either delays= or tmin="):
        fit_trf(X, Y, delays=[0.0], tmin=0.0, tmax=0.01)
    t = Y.time.values.copy()
    t[[3, 4]] = t[[4, 3]]
    with pytest.raises(SchemaError, match="not monotonic within run 'run0'.*sortby"):
        fit_trf(X, Y.assign_coords(time=t), tmin=0, tmax=0.05)
    t = Y.time.values.copy()
    t[50:100] *= 1.5
    with pytest.raises(SchemaError, match="irregularly"):
        fit_trf(X, Y.assign_coords(time=t), tmin=0, tmax=0.05)
    with pytest.raises(ValueError, match="cv=5 folds need at least 5 groups"):
        fit_trf(X, Y, tmin=0, tmax=0.05, cv=5)
    ep = data.responses(np.zeros((4, 5, 2)), dims=("stimulus", "time", "unit"),
                        time=np.arange(5) / SF)
    with pytest.raises(SchemaError, match="Use fit_over_time"):
        fit_trf(X, ep, tmin=0, tmax=0.02)
    with pytest.raises(SchemaError, match="must be a DataArray"):
        fit_trf(X.values, Y, tmin=0, tmax=0.02)
    other = X.assign_coords(time=X.time.values + 0.5)
    with pytest.raises(AlignmentError, match="different 'time'"):
        fit_trf(other, Y, tmin=0, tmax=0.02)
