"""himalaya parity of the ridge options: no intercept, one shared alpha, conservative
choice, tie-breaking (himalaya.ridge.RidgeCV, numpy backend, the same folds).

Folds have equal sizes here: himalaya chooses alpha by the mean over folds of each fold's
mean squared error, neurorep by the pooled squared error; the two agree when the folds are
equal (documented in fit_ridge).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import KFold

from neurorep import NeurorepWarning
from neurorep.encoding import RidgeEncoder, cross_validate_ridge, fit_ridge

himalaya = pytest.importorskip("himalaya")
from himalaya.backend import set_backend  # noqa: E402
from himalaya.ridge import RidgeCV as HRidgeCV  # noqa: E402

set_backend("numpy")

ALPHAS = np.logspace(-3, 4, 8)


def _case(name, rng):
    """(X, Y, n_folds): small, one feature, tied values, n < p; n divisible by the folds."""
    if name == "small":
        X = rng.normal(size=(40, 3)) + 2
        Y = X @ rng.normal(size=(3, 5)) + 2 * rng.normal(size=(40, 5)) + 3
        return X, Y, 4
    if name == "one_feature":
        X = rng.normal(size=(30, 1)) - 1
        Y = X @ rng.normal(size=(1, 4)) + rng.normal(size=(30, 4))
        return X, Y, 5
    if name == "tied":
        X = rng.integers(0, 3, size=(36, 4)).astype(float)
        Y = X @ rng.integers(-1, 2, size=(4, 5)) + rng.integers(0, 4, size=(36, 5))
        return X, Y.astype(float), 4
    X = rng.normal(size=(24, 60))  # n < p: the dual path
    Y = X[:, :5] @ rng.normal(size=(5, 4)) + rng.normal(size=(24, 4))
    return X, Y, 4


def _himalaya(X, Y, k, *, fit_intercept, dtype="float64", **solver_params):
    solver_params.setdefault("warn", False)
    h = HRidgeCV(alphas=ALPHAS.astype(dtype), cv=KFold(k), fit_intercept=fit_intercept,
                 solver_params=solver_params or None)
    h.fit(X.astype(dtype), Y.astype(dtype))
    return h


def _check(ours, h, *, fit_intercept, rtol):
    np.testing.assert_allclose(ours["alpha"].values, np.asarray(h.best_alphas_), rtol=1e-6)
    W = np.asarray(h.coef_, dtype=np.float64)
    np.testing.assert_allclose(ours["weights"].values, W, rtol=rtol, atol=rtol * np.abs(W).max())
    if fit_intercept:
        b = np.asarray(h.intercept_, dtype=np.float64)
        np.testing.assert_allclose(ours["intercept"].values, b, rtol=rtol,
                                   atol=rtol * np.abs(b).max())
    else:
        assert np.all(ours["intercept"].values == 0)


CASES = ["small", "one_feature", "tied", "n_lt_p"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("conservative", [False, True])
def test_ridgecv_options_match_himalaya(rng, case, fit_intercept, conservative):
    X, Y, k = _case(case, rng)
    h = _himalaya(X, Y, k, fit_intercept=fit_intercept, conservative=conservative)
    for solver in ("eigh", "svd", "kernel"):
        ours = fit_ridge(X, Y, alphas=ALPHAS, cv=KFold(k), dtype="float64", solver=solver,
                         fit_intercept=fit_intercept, conservative=conservative, ties="largest")
        _check(ours, h, fit_intercept=fit_intercept, rtol=1e-6)
    if conservative:  # the rule moves some units to larger alphas on these inputs
        plain = fit_ridge(X, Y, alphas=ALPHAS, cv=KFold(k), dtype="float64",
                          fit_intercept=fit_intercept)
        assert np.all(ours["alpha"].values >= plain["alpha"].values)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_shared_alpha_matches_himalaya_local_alpha_false(rng, case, fit_intercept):
    X, Y, k = _case(case, rng)
    Y = (Y - Y.mean(0)) / Y.std(0)  # equal variances: mean R^2 <-> summed squared error
    h = _himalaya(X, Y, k, fit_intercept=fit_intercept, local_alpha=False)
    ours = fit_ridge(X, Y, alphas=ALPHAS, cv=KFold(k), dtype="float64",
                     fit_intercept=fit_intercept, alpha_per_unit=False, ties="largest")
    assert np.unique(ours["alpha"].values).size == 1
    _check(ours, h, fit_intercept=fit_intercept, rtol=1e-6)
    # the shared alpha has the best mean pooled R^2 over units
    mean = ours["cv_r2"].mean("unit").values
    assert mean[list(ALPHAS).index(float(ours["alpha"][0]))] == mean.max()


def test_shared_alpha_chunked_equals_one_chunk(rng):
    X, Y, k = _case("small", rng)
    one = fit_ridge(X, Y, alphas=ALPHAS, cv=k, dtype="float64", alpha_per_unit=False)
    many = fit_ridge(X, Y, alphas=ALPHAS, cv=k, dtype="float64", alpha_per_unit=False,
                     chunk_units=2)
    np.testing.assert_array_equal(one["alpha"], many["alpha"])
    np.testing.assert_allclose(one["weights"], many["weights"], rtol=1e-12)


@pytest.mark.parametrize("case", ["small", "n_lt_p"])
def test_float32_close_to_himalaya(rng, case):
    X, Y, k = _case(case, rng)
    h = _himalaya(X, Y, k, fit_intercept=True, dtype="float32")
    ours = fit_ridge(X, Y, alphas=ALPHAS, cv=KFold(k), dtype="float32", ties="largest")
    agree = np.isclose(ours["alpha"].values, np.asarray(h.best_alphas_, dtype=np.float64),
                       rtol=1e-6)
    assert agree.mean() >= 0.75  # near ties may flip in single precision
    W = np.asarray(h.coef_, dtype=np.float64)[:, agree]
    np.testing.assert_allclose(ours["weights"].values[:, agree], W, rtol=2e-3,
                               atol=2e-3 * np.abs(W).max())


def test_ties_smallest_or_largest(rng):
    # a constant feature: after centring every alpha predicts the training mean, so all
    # alphas tie exactly. himalaya keeps the largest, scikit-learn (and the default) the first.
    X = np.ones((20, 1))
    Y = rng.normal(size=(20, 3))
    h = _himalaya(X, Y, 4, fit_intercept=True)
    with pytest.warns(NeurorepWarning, match="features are constant"):
        largest = fit_ridge(X, Y, alphas=ALPHAS, cv=KFold(4), dtype="float64", ties="largest")
    with pytest.warns(NeurorepWarning, match="features are constant"):
        smallest = fit_ridge(X, Y, alphas=ALPHAS, cv=KFold(4), dtype="float64")
    np.testing.assert_allclose(largest["alpha"].values, np.asarray(h.best_alphas_), rtol=1e-12)
    assert np.all(largest["alpha"].values == ALPHAS[-1])
    assert np.all(smallest["alpha"].values == ALPHAS[0])
    np.testing.assert_allclose(largest["intercept"].values, Y.mean(0), rtol=1e-12)


def test_no_intercept_through_the_origin(rng):
    # y = 2 x exactly, offset data: without an intercept the slope is the origin fit
    X = rng.normal(size=(40, 1)) + 5
    Y = 2 * X
    res = fit_ridge(X, Y, alphas=[1e-8, 1e-6], cv=4, dtype="float64", fit_intercept=False)
    assert float(res["weights"][0, 0]) == pytest.approx(2.0, rel=1e-8)
    assert float(res["intercept"][0]) == 0.0
    assert res.attrs["fit_intercept"] == 0


def test_ridge_encoder_passes_the_options(rng):
    X, Y, k = _case("small", rng)
    h = _himalaya(X, Y, k, fit_intercept=False, conservative=True)
    est = RidgeEncoder(alphas=ALPHAS, cv=KFold(k), dtype="float64", fit_intercept=False,
                       conservative=True, ties="largest").fit(X, Y)
    np.testing.assert_allclose(est.alpha_, np.asarray(h.best_alphas_))
    np.testing.assert_allclose(est.coef_, np.asarray(h.coef_).T, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(est.predict(X), X @ np.asarray(h.coef_), rtol=1e-6, atol=1e-9)


def test_bad_options(rng):
    X, Y, _ = _case("small", rng)
    with pytest.raises(ValueError, match="ties must be one of"):
        fit_ridge(X, Y, ties="middle")
    with pytest.raises(TypeError, match="fit_intercept must be True or False"):
        fit_ridge(X, Y, fit_intercept="no")
    with pytest.raises(ValueError, match="conservative=True needs alpha_per_unit=True"):
        fit_ridge(X, Y, conservative=True, alpha_per_unit=False)


def test_cross_validate_ridge_passes_the_options(rng):
    # each outer fold's inner choice is himalaya's on that fold's training samples
    X, Y, _ = _case("small", rng)
    outer = list(KFold(2).split(X))
    res = cross_validate_ridge(X, Y, alphas=ALPHAS, cv=outer, inner_cv=KFold(4), dtype="float64",
                               fit_intercept=False, conservative=True, ties="largest")
    for i, (tr, te) in enumerate(outer):
        h = _himalaya(X[tr], Y[tr], 4, fit_intercept=False, conservative=True)
        np.testing.assert_allclose(res["alpha"][i].values, np.asarray(h.best_alphas_), rtol=1e-6)
        np.testing.assert_allclose(res["prediction"].values[te], X[te] @ np.asarray(h.coef_),
                                   rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_cross_validate_ridge_shared_alpha_matches_himalaya(rng, case, fit_intercept):
    # one alpha per outer fold for every unit: the best mean over units of the inner pooled
    # R^2. himalaya's local_alpha=False maximises the mean of -MSE instead, so it gets each
    # unit divided by its spread on the outer training samples (the same choice, and ridge
    # predictions scale with the unit)
    X, Y, k = _case(case, rng)
    Y = Y * np.array([1.0, 3.0, 0.5, 2.0, 1.0])[: Y.shape[1]]  # unequal variances
    outer = list(KFold(2).split(X))
    res = cross_validate_ridge(X, Y, alphas=ALPHAS, cv=outer, inner_cv=KFold(k // 2 * 2),
                               dtype="float64", fit_intercept=fit_intercept, alpha_per_unit=False,
                               ties="largest")
    assert res.attrs["alpha_per_unit"] == 0
    per_unit = cross_validate_ridge(X, Y, alphas=ALPHAS, cv=outer, inner_cv=KFold(k // 2 * 2),
                                    dtype="float64", fit_intercept=fit_intercept, ties="largest")
    for i, (tr, te) in enumerate(outer):
        s = Y[tr].std(0)
        h = _himalaya(X[tr], Y[tr] / s, k // 2 * 2, fit_intercept=fit_intercept,
                      local_alpha=False)
        alphas = res["alpha"][i].values
        assert np.unique(alphas).size == 1
        np.testing.assert_allclose(alphas, np.asarray(h.best_alphas_), rtol=1e-6)
        expect = (X[te] @ np.asarray(h.coef_) + np.asarray(h.intercept_ if fit_intercept else 0)) * s
        np.testing.assert_allclose(res["prediction"].values[te], expect, rtol=1e-6, atol=1e-9)
    if case == "small":  # the shared choice is not the per-unit one here (the test can fail)
        assert np.unique(per_unit["alpha"].values).size > 1
    with pytest.raises(ValueError, match="conservative=True needs alpha_per_unit=True"):
        cross_validate_ridge(X, Y, cv=outer, conservative=True, alpha_per_unit=False)
