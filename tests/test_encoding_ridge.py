"""fit_ridge / predict_ridge / cross_validate_ridge: references, ground truth, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold, cross_val_predict

from neurorep import AlignmentError, NeurorepWarning, SchemaError, data
from neurorep.encoding import (
    SOLVERS,
    RidgeEncoder,
    cross_validate_ridge,
    fit_ridge,
    make_splits,
    predict_ridge,
)

# float64 agrees with scikit-learn to round-off; float32 to single precision.
TOL = {"float64": 1e-8, "float32": 2e-4}


def _problem(rng, n=90, p=12, m=7, offset=5.0):
    X = rng.normal(size=(n, p)) + offset  # non-centred features and responses
    W = rng.normal(size=(p, m)) * rng.uniform(0.0, 1.0, size=m)
    Y = X @ W + rng.normal(size=(n, m)) * 2.0 + 100.0
    return X, Y


def _pearson(pred, y):
    pc, yc = pred - pred.mean(0), y - y.mean(0)
    return (pc * yc).sum(0) / np.sqrt((pc**2).sum(0) * (yc**2).sum(0))


def _sklearn_cv(X, Y, alphas, splits):
    """scikit-learn's cross_val_predict, then R^2 and r of the pooled held-out predictions."""
    r2 = np.zeros((len(alphas), Y.shape[1]))
    r = np.zeros_like(r2)
    for ai, a in enumerate(alphas):
        pred = cross_val_predict(Ridge(alpha=a), X, Y, cv=splits)
        r2[ai] = r2_score(Y, pred, multioutput="raw_values")
        r[ai] = _pearson(pred, Y)
    return r2, r


@pytest.mark.parametrize("solver", sorted(SOLVERS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_solvers_match_sklearn_ridge(rng, solver, dtype):
    X, Y = _problem(rng)
    alphas = np.logspace(-2, 4, 7)
    splits = list(KFold(5).split(X))
    ref_r2, ref_r = _sklearn_cv(X, Y, alphas, splits)
    res = fit_ridge(X, Y, alphas=alphas, cv=KFold(5), solver=solver, dtype=dtype)
    tol = TOL[dtype]
    np.testing.assert_allclose(res["cv_r2"].values, ref_r2, atol=tol)
    np.testing.assert_allclose(res["cv_r"].values, ref_r, atol=tol)
    best = ref_r2.argmax(0)
    np.testing.assert_array_equal(res["alpha"].values, alphas[best])
    for j in range(Y.shape[1]):
        ref = Ridge(alpha=alphas[best[j]]).fit(X, Y[:, j])
        w = res["weights"].values[:, j].astype(float)
        np.testing.assert_allclose(w, ref.coef_, rtol=tol * 10, atol=tol * np.abs(ref.coef_).max())
        np.testing.assert_allclose(res["intercept"].values[j], ref.intercept_, rtol=tol * 10)
    assert res["weights"].dtype == np.dtype(dtype)


def test_dual_and_primal_agree_when_features_exceed_samples(rng):
    X, Y = _problem(rng, n=40, p=120, m=5)
    kw = dict(alphas=np.logspace(-1, 5, 7), cv=4, dtype="float64")
    auto = fit_ridge(X, Y, **kw)
    assert auto.attrs["solver"] == "kernel"
    for solver in ("eigh", "svd"):
        other = fit_ridge(X, Y, solver=solver, **kw)
        np.testing.assert_allclose(other["cv_r2"], auto["cv_r2"], atol=1e-8)
        np.testing.assert_allclose(other["weights"], auto["weights"], atol=1e-8)


def test_matches_himalaya_ridgecv(rng):
    himalaya = pytest.importorskip("himalaya")
    from himalaya.backend import set_backend
    from himalaya.ridge import RidgeCV as HimalayaRidgeCV

    set_backend("numpy")
    X, Y = _problem(rng, n=120, p=20, m=30)
    alphas = np.logspace(-2, 5, 8)

    def neg_mse(y_true, y_pred):
        return -((y_true - y_pred) ** 2).mean(-2)  # predictions: (alpha, sample, target)

    # himalaya choosing by mean held-out squared error over 5 equal folds of 24 == the
    # least pooled squared error, fit_ridge's criterion (whatever its reported scoring)
    h = HimalayaRidgeCV(alphas=alphas, cv=KFold(5), fit_intercept=True,
                solver_params=dict(score_func=neg_mse)).fit(X, Y)
    sst = ((Y - Y.mean(0)) ** 2).sum(0)
    for scoring in ("r2", "r"):
        ours = fit_ridge(X, Y, alphas=alphas, cv=5, dtype="float64", scoring=scoring)
        assert himalaya.__version__
        np.testing.assert_allclose(ours["alpha"].values, np.asarray(h.best_alphas_), rtol=1e-10)
        np.testing.assert_allclose(ours["r2"].values, 1 + 120 * np.asarray(h.cv_scores_) / sst,
                                   atol=1e-8)
        np.testing.assert_allclose(ours["weights"].values, np.asarray(h.coef_), atol=1e-8)


def test_recovers_planted_alpha(rng):
    # y = X w + e with w ~ N(0, s_w^2), e ~ N(0, s_e^2): the Bayes-optimal ridge alpha is
    # s_e^2 / s_w^2 (= 100 here); the per-unit choices must centre on it.
    n, p, m = 400, 30, 300
    X = rng.normal(size=(n, p))
    W = rng.normal(size=(p, m)) * 0.1
    Y = X @ W + rng.normal(size=(n, m))
    res = fit_ridge(X, Y, alphas=np.logspace(-1, 5, 13), cv=5)
    log_alpha = np.log10(res["alpha"].values)
    assert abs(np.median(log_alpha) - 2.0) <= 0.5
    assert res["score"].median() > 0.1  # population R^2 is 0.3 / 1.3 = 0.23


def test_stimulus_order_invariance(rng):
    X, Y = _problem(rng, n=60, p=6, m=4)
    ids = [f"s{i:02d}" for i in range(60)]
    feats = data.responses(X, stimulus=ids)
    resp = data.responses(Y, stimulus=ids)
    perm = rng.permutation(60)
    a = fit_ridge(feats, resp, cv=3)
    b = fit_ridge(feats, resp.isel(stimulus=perm), cv=3)
    xr.testing.assert_allclose(a, b)


def test_predict_ridge_and_layer_input(rng):
    X, Y = _problem(rng, n=80, p=5, m=3)
    acts = data.activations({"l1": X}, stimulus=[f"s{i}" for i in range(80)])
    resp = data.responses(Y, stimulus=[f"s{i}" for i in range(80)])
    res = fit_ridge(data.members(acts)["l1"], resp, cv=4, dtype="float64")
    pred = predict_ridge(res, data.members(acts)["l1"])
    assert pred.dims == ("stimulus", "unit")
    for j in range(3):
        ref = Ridge(alpha=float(res["alpha"][j])).fit(X, Y[:, j]).predict(X)
        np.testing.assert_allclose(pred.values[:, j], ref, rtol=1e-8)
    # a one-layer DataTree is accepted as the feature space
    res_tree = fit_ridge(acts, resp, cv=4, dtype="float64")
    np.testing.assert_allclose(res_tree["score"], res["score"])
    with pytest.raises(SchemaError, match="columns"):
        predict_ridge(res, np.ones((3, 4)))


def test_constant_unit_gets_nan_and_one_warning(rng):
    X, Y = _problem(rng, n=50, p=4, m=3)
    Y[:, 1] = 3.0
    with pytest.warns(NeurorepWarning, match="1 of 3 response unit") as record:
        res = fit_ridge(X, Y, cv=5)
    assert sum(issubclass(w.category, NeurorepWarning) for w in record) == 1
    assert np.isnan(res["score"][1]) and np.isnan(res["alpha"][1])
    assert np.all(res["weights"][:, 1] == 0)
    assert np.isfinite(res["score"][[0, 2]]).all()


def test_bad_inputs(rng):
    X, Y = _problem(rng, n=30, p=4, m=2)
    Ynan = Y.copy()
    Ynan[3, 0] = np.nan
    with pytest.raises(SchemaError, match="finite"):
        fit_ridge(X, Ynan)
    Xnan = X.copy()
    Xnan[2, 1] = np.inf
    with pytest.raises(SchemaError, match="finite"):
        fit_ridge(Xnan, Y)
    with pytest.raises(ValueError, match="folds need at least 5 samples"):
        fit_ridge(X[:4], Y[:4], cv=5)
    with pytest.raises(ValueError, match="positive"):
        fit_ridge(X, Y, alphas=[0.0, 1.0])
    with pytest.raises(ValueError, match="positive"):
        fit_ridge(X, Y, alphas=[-1.0])
    with pytest.raises(ValueError, match=r"solver must be one of \['auto', 'eigh'"):
        fit_ridge(X, Y, solver="cholesky")
    with pytest.raises(ValueError, match="dtype must be one of"):
        fit_ridge(X, Y, dtype="float16")
    with pytest.raises(ValueError, match="scoring must be one of"):
        fit_ridge(X, Y, scoring="mse")
    a = data.responses(X, stimulus=[f"a{i}" for i in range(30)])
    b = data.responses(Y, stimulus=[f"b{i}" for i in range(30)])
    with pytest.raises(AlignmentError, match="share no stimulus id"):
        fit_ridge(a, b)
    b2 = data.responses(Y, stimulus=[f"a{i}" for i in range(29)] + ["zz"])
    with pytest.raises(AlignmentError, match="different stimuli"):
        fit_ridge(a, b2)
    cube = data.responses(
        np.ones((30, 2, 2)), dims=("stimulus", "repetition", "unit"),
        stimulus=[f"a{i}" for i in range(30)],
    )
    with pytest.raises(SchemaError, match="repetition"):
        fit_ridge(a, cube)
    with pytest.raises(AlignmentError, match="same number of rows"):
        fit_ridge(X[:20], Y)
    with pytest.warns(NeurorepWarning, match="constant over the stimulus dim"):
        flat = fit_ridge(np.ones((30, 3)), Y, cv=3)
    assert np.all(flat["weights"] == 0) and (flat["score"] <= 0).all()


def test_make_splits_groups_never_leak():
    groups = np.repeat(np.arange(6), 10)
    for cv in (3, "leave-one-group-out"):
        splits = make_splits(60, cv, groups=groups)
        for tr, te in splits:
            assert not set(groups[tr]) & set(groups[te])
    assert len(make_splits(60, "leave-one-group-out", groups=groups)) == 6
    with pytest.raises(ValueError, match="in both train and test"):
        # run 5 spans samples 50..59: holding out 55..59 leaks it
        make_splits(60, [(np.arange(0, 55), np.arange(55, 60))], groups=groups)
    with pytest.raises(ValueError, match="needs groups"):
        make_splits(60, "leave-one-group-out")
    with pytest.raises(ValueError, match="at least 7 groups"):
        make_splits(60, 7, groups=groups)


def test_cross_validate_ridge_is_nested(rng):
    X, Y = _problem(rng, n=80, p=6, m=3)
    res = cross_validate_ridge(X, Y, cv=4, inner_cv=3, alphas=np.logspace(-2, 4, 7),
                               dtype="float64")
    outer = make_splits(80, 4)
    for k, (tr, te) in enumerate(outer):
        inner = fit_ridge(X[tr], Y[tr], cv=3, alphas=np.logspace(-2, 4, 7), dtype="float64")
        np.testing.assert_allclose(res["alpha"].values[k], inner["alpha"].values)
        np.testing.assert_allclose(res["prediction"].values[te], predict_ridge(inner, X[te]).values,
                                   rtol=1e-8)
    pred, y = res["prediction"].values, Y
    r = [np.corrcoef(pred[:, j], y[:, j])[0, 1] for j in range(3)]
    np.testing.assert_allclose(res["r"].values, r, rtol=1e-10)


def test_cross_validate_ridge_null_data_is_not_optimistic(rng):
    # pure noise: the nested held-out r is not positive, FDR keeps (almost) nothing, and
    # fit_ridge's score (alpha chosen on the same folds) is biased up. With no signal the
    # least squared error shrinks the predictions to each fold's training mean, which moves
    # against the held-out mean: the pooled r is then slightly negative -- as with
    # scikit-learn's cross_val_predict of RidgeCV, which gives the same predictions.
    X = rng.normal(size=(120, 10))
    Y = rng.normal(size=(120, 40))
    alphas = np.logspace(-1, 4, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeurorepWarning)
        res = cross_validate_ridge(X, Y, cv=4, inner_cv=3, scoring="r", n_permutations=99,
                                   rng=0, alphas=alphas, dtype="float64")
    assert float(res["r"].mean()) < 0.02
    assert int((res["pvalue_fdr"] < 0.05).sum()) <= 2
    biased = fit_ridge(X, Y, cv=4, scoring="r", alphas=alphas)
    assert float(biased["score"].mean()) > float(res["r"].mean())
    for j in range(4):
        ref = cross_val_predict(
            RidgeCV(alphas=alphas, cv=KFold(3), scoring="neg_mean_squared_error"), X, Y[:, j],
            cv=KFold(4))
        np.testing.assert_allclose(res["prediction"].values[:, j], ref, atol=1e-9)


# ----------------------------------------------------------------------------
# alpha choice: by held-out squared error whatever the reported score (issue #13)
# ----------------------------------------------------------------------------
def _weak_low_dim(rng, n=150):
    """A count-like feature and its log (a length baseline) with a weak linear effect."""
    count = rng.integers(4, 30, size=n).astype(float)
    X = np.c_[count, np.log(count)]
    y = 0.03 * count + rng.normal(size=n) * 0.4
    Y = np.c_[y, y + rng.normal(size=n) * 0.3, -0.5 * y + rng.normal(size=n) * 0.2]
    return X, Y


def test_alpha_choice_does_not_depend_on_scoring_low_dim(rng):
    # Pearson r cannot see shrinkage: choosing by it drifts to the largest alpha on weak,
    # low-dimensional features, and the pooled held-out predictions of that alpha are the
    # fold means (r collapses). Alphas are chosen by squared error for either scoring.
    X, Y = _weak_low_dim(rng)
    alphas = np.logspace(-2, 6, 9)
    by_r = fit_ridge(X, Y, alphas=alphas, cv=5, scoring="r", dtype="float64")
    by_r2 = fit_ridge(X, Y, alphas=alphas, cv=5, scoring="r2", dtype="float64")
    np.testing.assert_array_equal(by_r["alpha"], by_r2["alpha"])
    np.testing.assert_allclose(by_r["score"], by_r2["r"])
    assert (by_r["alpha"] < alphas[-1]).all()
    # scikit-learn's RidgeCV choosing by squared error on the same folds picks the same alphas
    for j in range(Y.shape[1]):
        ref = RidgeCV(alphas=alphas, cv=KFold(5), scoring="neg_mean_squared_error").fit(X, Y[:, j])
        assert float(by_r["alpha"][j]) == pytest.approx(ref.alpha_)


def test_nested_cv_low_dim_baseline_matches_sklearn(rng):
    X, Y = _weak_low_dim(rng, n=200)
    alphas = np.logspace(-2, 6, 9)
    res = cross_validate_ridge(X, Y, alphas=alphas, cv=5, inner_cv=5, scoring="r",
                               dtype="float64")
    assert (res["alpha"] < alphas[-1]).all()
    for j in range(2):
        # scikit-learn: cross_val_predict of RidgeCV choosing alpha by squared error
        ref = cross_val_predict(
            RidgeCV(alphas=alphas, cv=KFold(5), scoring="neg_mean_squared_error"), X, Y[:, j],
            cv=KFold(5))
        np.testing.assert_allclose(res["prediction"].values[:, j], ref, atol=1e-9)
        assert float(res["r"][j]) == pytest.approx(np.corrcoef(ref, Y[:, j])[0, 1], abs=1e-10)
        # one feature (the count alone): the held-out r is near the raw |correlation|
        raw = abs(np.corrcoef(X[:, 0], Y[:, j])[0, 1])
        one = cross_validate_ridge(X[:, :1], Y[:, j], alphas=alphas, cv=5, inner_cv=5,
                                   scoring="r", dtype="float64")
        assert float(one["r"][0]) == pytest.approx(raw, abs=0.05)


# ----------------------------------------------------------------------------
# scores of pooled out-of-fold predictions (issue #13): |r| <= 1, R^2 <= 1 for any cv
# ----------------------------------------------------------------------------
def test_leave_one_out_matches_sklearn_gcv(rng):
    # leave-one-out: every fold holds one sample. RidgeCV's efficient LOO (alpha_per_target)
    # chooses each target's alpha by the pooled LOO squared error, as fit_ridge does.
    X, Y = _problem(rng, n=35, p=3, m=6)
    alphas = np.logspace(-3, 4, 8)
    res = fit_ridge(X, Y, alphas=alphas, cv=35, dtype="float64")
    ref = RidgeCV(alphas=alphas, alpha_per_target=True).fit(X, Y)
    np.testing.assert_allclose(res["alpha"].values, ref.alpha_)
    sst = ((Y - Y.mean(0)) ** 2).sum(0)
    np.testing.assert_allclose(res["r2"].values, 1 + 35 * np.asarray(ref.best_score_) / sst,
                               rtol=1e-9)
    ref_r2, ref_r = _sklearn_cv(X, Y, alphas, list(KFold(35).split(X)))
    np.testing.assert_allclose(res["cv_r2"].values, ref_r2, atol=1e-9)
    np.testing.assert_allclose(res["cv_r"].values, ref_r, atol=1e-9)


@pytest.mark.parametrize(("n", "cv"), [(30, 30), (24, 12), (17, 8)])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_tiny_test_folds_score_pooled_predictions(rng, n, cv, dtype):
    X, Y = _problem(rng, n=n, p=2, m=5)
    alphas = np.logspace(-2, 5, 8)
    res = fit_ridge(X, Y, alphas=alphas, cv=cv, dtype=dtype)
    ref_r2, ref_r = _sklearn_cv(X, Y, alphas, list(KFold(cv).split(X)))
    tol = 1e-8 if dtype == "float64" else 1e-3
    np.testing.assert_allclose(res["cv_r2"].values, ref_r2, atol=tol)
    np.testing.assert_allclose(res["cv_r"].values, ref_r, atol=tol)
    assert (np.abs(res["cv_r"]) <= 1).all() and (res["cv_r2"] <= 1).all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(4, 30), p=st.integers(1, 4), fold_frac=st.floats(0.0, 1.0),
    signal=st.sampled_from([0.0, 0.3, 3.0]), offset=st.sampled_from([0.0, 1e3]),
    dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 2**16),
)
def test_scores_are_bounded_for_any_folds(n, p, fold_frac, signal, offset, dtype, seed):
    gen = np.random.default_rng(seed)
    cv = 2 + int(round(fold_frac * (n - 2)))  # 2..n folds (n: leave-one-out)
    X = gen.normal(size=(n, p)) + offset
    Y = signal * (X - offset) @ gen.normal(size=(p, 3)) + gen.normal(size=(n, 3)) + offset
    res = fit_ridge(X, Y, alphas=np.logspace(-3, 6, 10), cv=cv, dtype=dtype)
    for var in ("cv_r", "cv_r2", "r", "r2", "score"):
        vals = res[var].values
        assert np.isfinite(vals).all(), var
    assert (np.abs(res["cv_r"].values) <= 1).all()
    assert (res["cv_r2"].values <= 1).all()


# ----------------------------------------------------------------------------
# clear errors instead of silent wrong results (issue #13)
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [-1, 0, 2.5, True, "100"])
def test_chunk_units_must_be_a_positive_int(rng, bad):
    X, Y = _problem(rng, n=30, p=3, m=4)
    for call in (lambda: fit_ridge(X, Y, chunk_units=bad),
                 lambda: cross_validate_ridge(X, Y, chunk_units=bad, cv=3, inner_cv=3)):
        with pytest.raises(ValueError, match=r"chunk_units must be a positive int .* got"):
            call()


def test_values_whose_squares_overflow_or_underflow_are_refused(rng):
    X, Y = _problem(rng, n=25, p=3, m=2)
    with pytest.raises(SchemaError, match=r"features: values spread up to .* too large for float32"):
        fit_ridge(X * 1e170, Y, cv=3)
    with pytest.raises(SchemaError, match=r"responses: values spread up to .* z-score"):
        fit_ridge(X, Y * 1e160, cv=3, dtype="float64")
    # float32 arithmetic overflows much earlier: the error offers float64
    with pytest.raises(SchemaError, match=r"pass dtype='float64'"):
        fit_ridge(X, Y * 1e25, cv=3)
    fine = fit_ridge(X, Y * 1e25, cv=3, dtype="float64")
    ref = fit_ridge(X, Y, cv=3, dtype="float64")
    np.testing.assert_allclose(fine["r2"], ref["r2"], rtol=1e-8)
    with pytest.raises(SchemaError, match=r"features: values spread at most .* too small"):
        fit_ridge(X * 1e-170, Y, cv=3, dtype="float64")
    with pytest.raises(SchemaError, match=r"responses: .* too small"):
        cross_validate_ridge(X, Y * 1e-30, cv=3, inner_cv=3)


def test_complex_inputs_are_refused(rng):
    X, Y = _problem(rng, n=30, p=3, m=2)
    ids = [f"s{i}" for i in range(30)]
    with pytest.raises(SchemaError, match=r"features: complex values .*\(x\.real\)"):
        fit_ridge(X * (1 + 0.5j), Y)
    with pytest.raises(SchemaError, match="responses: complex values"):
        fit_ridge(X, Y + 1j)
    with pytest.raises(SchemaError, match="responses: complex values"):
        cross_validate_ridge(data.responses(X, stimulus=ids),
                             xr.DataArray(Y + 1j, dims=("stimulus", "unit"),
                                          coords={"stimulus": ids}), cv=3)
    with pytest.raises(SchemaError, match="alphas: complex"):
        fit_ridge(X, Y, alphas=[1.0 + 1j, 2.0])
    res = fit_ridge(X, Y, cv=3)
    with pytest.raises(SchemaError, match="predict_ridge: features: complex"):
        predict_ridge(res, X + 1j)
    with pytest.raises(SchemaError, match="predict_ridge: features: complex"):
        predict_ridge(res, xr.DataArray(X + 1j, dims=("stimulus", "feature"),
                                        coords={"feature": res["feature"].values}))


# ----------------------------------------------------------------------------
# memory: refuse before an allocation beyond the budget (issue #13)
# ----------------------------------------------------------------------------
def test_fit_refuses_an_allocation_beyond_the_budget(rng, monkeypatch):
    X, Y = _problem(rng, n=400, p=300, m=3)
    # leave-one-out keeps 400 decompositions of 300 x 300 (about 0.3 GB in float64)
    with pytest.raises(MemoryError, match=r"fit_ridge \(fold decompositions 0\.\d+ GB.* GB"
                                          r".*memory_limit=100000000\.0.*fewer folds"):
        fit_ridge(X, Y, cv=400, dtype="float64", memory_limit=1e8)
    with pytest.raises(MemoryError, match=r"cross_validate_ridge .* inner_cv=5"):
        cross_validate_ridge(X, Y, cv=5, inner_cv=300, memory_limit=1e8)
    # the default budget: a fraction of the memory available now
    import neurorep._core.memory as memory

    monkeypatch.setattr(memory, "available_memory", lambda: int(2e8))
    with pytest.raises(MemoryError, match=r"75% of the 0\.2 GB available"):
        fit_ridge(X, Y, cv=400, dtype="float64")
    with pytest.raises(MemoryError, match=r"RidgeEncoder .* GB"):
        RidgeEncoder(cv=400, dtype="float64").fit(X, Y)
    ok = fit_ridge(X, Y, cv=5, dtype="float64", memory_limit=1e9)  # fits: runs
    assert ok.sizes["unit"] == 3
    # many units x alphas: the per-unit results are counted
    with pytest.raises(MemoryError, match=r"per-unit results .*fewer alphas"):
        fit_ridge(X[:12, :2], np.repeat(Y[:12], 20000, axis=1), alphas=np.logspace(-3, 6, 300),
                  cv=3, memory_limit=1e8)
    with pytest.raises(ValueError, match=r"memory_limit must be a fraction"):
        fit_ridge(X, Y, memory_limit=-1)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_nested_cv_lean_path_equals_fit_ridge_per_fold(fit_intercept):
    # cross_validate_ridge scores only the inner squared errors and predicts the outer test
    # folds from the decomposition; that must equal fit_ridge on each outer training set
    # (full inner scores, weights formed) followed by predict_ridge, to 1e-12 in float64
    from sklearn.model_selection import KFold

    from neurorep.encoding import predict_ridge

    gen = np.random.default_rng(3)
    X = gen.normal(size=(90, 6)) + 2.0
    Y = X @ gen.normal(size=(6, 7)) + 2.0 * gen.normal(size=(90, 7)) + 5.0
    Y[:, 0] = 4.0  # a constant unit
    alphas = [0.1, 3.0, 100.0, 1e4]
    lean = cross_validate_ridge(X, Y, alphas=alphas, cv=4, inner_cv=3, dtype="float64",
                                fit_intercept=fit_intercept, return_scores=False)
    full = cross_validate_ridge(X, Y, alphas=alphas, cv=4, inner_cv=3, dtype="float64",
                                fit_intercept=fit_intercept)
    assert set(lean.data_vars) == {"prediction", "alpha"}
    np.testing.assert_array_equal(lean["prediction"].values, full["prediction"].values)
    for f, (train, test) in enumerate(KFold(4).split(X)):
        fit = fit_ridge(X[train], Y[train], alphas=alphas, cv=3, dtype="float64",
                        fit_intercept=fit_intercept)
        np.testing.assert_array_equal(lean["alpha"].values[f], fit["alpha"].values)
        ref = predict_ridge(fit, X[test]).values
        np.testing.assert_allclose(lean["prediction"].values[test], ref, rtol=0, atol=1e-12)
    if not fit_intercept:
        return
    # the alignment metric scores the lean predictions: the same r as cross_validate_ridge
    from neurorep.alignment import encoding_metric

    metric = encoding_metric(cv=4, inner_cv=3, alphas=alphas)
    state = metric.pair(Y[:, 1:], X)
    np.testing.assert_allclose(metric.score(state, None), float(full["r"].values[1:].mean()),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", [(600, 1300), (65, 513), (7, 1), (1, 3), (0, 4)])
def test_col_moments_match_float64_sums(rng, dtype, shape):
    """The fused per-column reduction of the CV scoring against the sums written out in
    float64 (predictions close to the responses: R^2 near 1, the errors far below them)."""
    from neurorep._core.colmoments import col_moments

    Z = (rng.normal(size=shape) * 3.0).astype(dtype)
    P = (0.999 * Z + 1e-3 * rng.normal(size=shape)).astype(dtype)
    z, p = Z.astype(np.float64), P.astype(np.float64)
    e = (Z - P).astype(np.float64)  # the errors as the scoring rounds them
    want = np.stack([(p * p).sum(0), (p * z).sum(0), (e * e).sum(0)])
    rtol = 1e-13 if dtype == "float64" else 1e-6
    got = col_moments(P, Z)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=0)
    sse = col_moments(P, Z, sse_only=True)
    np.testing.assert_array_equal(sse[2], got[2])
    assert not sse[:2].any()
    zz = col_moments(None, Z)
    np.testing.assert_allclose(zz[0], (z * z).sum(0), rtol=rtol, atol=0)
    assert not zz[1:].any()


def _unrotated(plan):
    """The plan with every fold scored by the direct products ``A diag(g) B`` (no rotation)."""
    import dataclasses

    return dataclasses.replace(
        plan, folds=tuple(dataclasses.replace(f, rot=None) for f in plan.folds))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", ["near_perfect", "rank_deficient", "square", "no_intercept",
                                  "shrunk", "direct"])
def test_rotated_fold_scoring_equals_direct_products(rng, dtype, case):
    """Scoring a fold in its predictions' own basis (Q^T Z, triangular R diag(g) B) gives
    the scores of the direct products A diag(g) B: R^2 near 1, tied (duplicated) features,
    as many held-out samples as the rank (no complement rows), no intercept, predictions
    shrunk to almost nothing, a constant unit, and a directly projected fold."""
    from neurorep.encoding._solvers import PooledSums, build_plan, center_chunk, cv_scores_chunk

    n, p, m, cv = 120, 12, 9, 5
    alphas = np.logspace(-3, 5, 9)
    X = rng.normal(size=(n, p)) + 4.0
    noise = 2.0
    if case == "near_perfect":
        noise = 1e-4
    elif case == "rank_deficient":
        X[:, 6:] = X[:, :6]  # rank 6 of 12
    elif case == "square":
        p = 24  # n_test = 24 = rank
        X = rng.normal(size=(n, p)) + 4.0
    elif case == "shrunk":
        alphas = np.logspace(4, 10, 7)
    elif case == "direct":
        n, p, cv = 40, 12, 2  # n_train 20 < p + n_test + 1: B = M^T Y_train
        X = rng.normal(size=(n, p)) + 4.0
    Y = X @ rng.normal(size=(p, m)) + noise * rng.normal(size=(n, m)) + 50.0
    Y[:, -1] = 3.0  # a constant unit
    fit_intercept = case != "no_intercept"
    plan = build_plan(X, make_splits(n, cv), alphas=alphas, solver="eigh", dtype=np.dtype(dtype),
                      fit_intercept=fit_intercept)
    assert all(f.rot is not None for f in plan.folds)
    if case == "direct":
        assert all(f.dec.mode == "direct" for f in plan.folds)
    if case == "square":
        assert all(len(f.test) == f.dec.rank for f in plan.folds)
    Yc, _ = center_chunk(Y, plan.dtype, fit_intercept)
    if fit_intercept:
        Yc[:, -1] = 0
    XtY = plan.X.T @ Yc
    tol = 1e-11 if dtype == "float64" else 2e-6
    for sse_only in (False, True):
        got = cv_scores_chunk(plan, Yc, XtY=XtY, sse_only=sse_only)
        want = cv_scores_chunk(_unrotated(plan), Yc, XtY=XtY, sse_only=sse_only)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol)
    empty = np.ascontiguousarray(Yc[:, :0])  # a chunk of no units (dask can make one)
    for g in cv_scores_chunk(plan, empty, XtY=plan.X.T @ empty):
        assert g.shape == (len(alphas), 0)
    if case == "near_perfect":  # the errors themselves, not only R^2 to 1e-6
        sums = [PooledSums(len(alphas), m, cv) for _ in range(2)]
        cv_scores_chunk(plan, Yc, XtY=XtY, sums=sums[0])
        cv_scores_chunk(_unrotated(plan), Yc, XtY=XtY, sums=sums[1])
        np.testing.assert_allclose(sums[0].fold_sse[..., :-1], sums[1].fold_sse[..., :-1],
                                   rtol=1e-9 if dtype == "float64" else 5e-2)


def test_rotation_only_where_it_saves_work(rng):
    """One alpha, or few features against many held-out samples: Q^T Z would cost more
    than the products it replaces, and the plan keeps the direct products."""
    from neurorep.encoding._solvers import build_plan

    X = rng.normal(size=(300, 4))
    one = build_plan(X, make_splits(300, 5), alphas=np.array([1.0]), solver="eigh",
                     dtype=np.dtype("float64"))
    assert all(f.rot is None for f in one.folds)
    X = rng.normal(size=(300, 40))
    many = build_plan(X, make_splits(300, 5), alphas=np.logspace(-2, 6, 10), solver="eigh",
                      dtype=np.dtype("float64"))
    assert all(f.rot is not None for f in many.folds)
