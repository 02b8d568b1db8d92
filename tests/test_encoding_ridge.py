"""fit_ridge / predict_ridge / cross_validate_ridge: references, ground truth, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold

from neurorep import AlignmentError, NeurorepWarning, SchemaError, data
from neurorep.encoding import (
    SOLVERS,
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


def _sklearn_cv(X, Y, alphas, splits):
    r2 = np.zeros((len(alphas), Y.shape[1]))
    r = np.zeros_like(r2)
    for ai, a in enumerate(alphas):
        for tr, te in splits:
            pred = Ridge(alpha=a).fit(X[tr], Y[tr]).predict(X[te])
            yt = Y[te]
            r2[ai] += 1 - ((yt - pred) ** 2).sum(0) / ((yt - yt.mean(0)) ** 2).sum(0)
            pc, yc = pred - pred.mean(0), yt - yt.mean(0)
            r[ai] += (pc * yc).sum(0) / np.sqrt((pc**2).sum(0) * (yc**2).sum(0))
    return r2 / len(splits), r / len(splits)


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
    from himalaya.ridge import RidgeCV
    from himalaya.scoring import r2_score

    set_backend("numpy")
    X, Y = _problem(rng, n=120, p=20, m=30)
    alphas = np.logspace(-2, 5, 8)
    h = RidgeCV(alphas=alphas, cv=KFold(5), fit_intercept=True,
                solver_params=dict(score_func=r2_score)).fit(X, Y)
    ours = fit_ridge(X, Y, alphas=alphas, cv=5, dtype="float64")
    assert himalaya.__version__
    np.testing.assert_allclose(ours["alpha"].values, np.asarray(h.best_alphas_), rtol=1e-10)
    np.testing.assert_allclose(ours["score"].values, np.asarray(h.cv_scores_), atol=1e-8)
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
    # pure noise: fit_ridge's score (alpha chosen on the same folds) is biased up, the nested
    # held-out r is centred on zero, and FDR keeps (almost) nothing.
    X = rng.normal(size=(120, 10))
    Y = rng.normal(size=(120, 40))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeurorepWarning)
        res = cross_validate_ridge(X, Y, cv=4, inner_cv=3, scoring="r", n_permutations=99,
                                   rng=0, alphas=np.logspace(-1, 4, 6))
    assert abs(float(res["r"].mean())) < 0.08
    assert int((res["pvalue_fdr"] < 0.05).sum()) <= 2
    biased = fit_ridge(X, Y, cv=4, scoring="r", alphas=np.logspace(-1, 4, 6))
    assert float(biased["score"].mean()) > float(res["r"].mean())
