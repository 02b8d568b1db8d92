"""RidgeEncoder: scikit-learn's estimator checks, xarray input, groups."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from neurorep import data
from neurorep.encoding import RidgeEncoder, fit_ridge


@parametrize_with_checks([RidgeEncoder(), RidgeEncoder(dtype="float64", solver="kernel", cv=3)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_matches_fit_ridge_and_sklearn_api(rng):
    X = rng.normal(size=(60, 5))
    Y = X @ rng.normal(size=(5, 3)) + rng.normal(size=(60, 3))
    est = RidgeEncoder(alphas=[0.1, 1.0, 10.0], cv=4, dtype="float64").fit(X, Y)
    res = fit_ridge(X, Y, alphas=[0.1, 1.0, 10.0], cv=4, dtype="float64")
    np.testing.assert_allclose(est.coef_, res["weights"].values.T)
    np.testing.assert_allclose(est.alpha_, res["alpha"].values)
    assert est.cv_scores_.shape == (3, 3)
    np.testing.assert_allclose(est.predict(X), X @ est.coef_.T + est.intercept_)
    one = RidgeEncoder(cv=4).fit(X, Y[:, 0])
    assert one.coef_.shape == (5,) and isinstance(one.alpha_, float)
    scores = cross_val_score(make_pipeline(StandardScaler(), RidgeEncoder(cv=3)), X, Y[:, 0], cv=3)
    assert scores.mean() > 0.3


def test_xarray_inputs_aligned_by_id_and_groups(rng):
    X = rng.normal(size=(40, 3))
    y = X @ [1.0, -1.0, 0.5] + 0.1 * rng.normal(size=40)
    ids = [f"s{i:02d}" for i in range(40)]
    feats = data.responses(X, stimulus=ids)
    resp = data.responses(y[:, None], stimulus=ids, stimulus_coords={"run": np.repeat(range(4), 10)})
    perm = rng.permutation(40)
    est = RidgeEncoder(cv="leave-one-group-out").fit(feats, resp.isel(stimulus=perm), groups="run")
    assert est.result_.attrs["n_folds"] == 4
    assert est.score(X, y) > 0.95
    est2 = RidgeEncoder(cv=GroupKFold(4)).fit(X, y, groups=np.repeat(range(4), 10))
    np.testing.assert_allclose(est2.coef_, est.coef_[0], rtol=1e-4)
    with pytest.raises(ValueError, match="folds need at least 5 samples"):
        RidgeEncoder(cv=5).fit(X[:3], y[:3])


def test_alpha_choice_ignores_scoring_and_bad_chunk_units(rng):
    X = rng.normal(size=(60, 2))
    y = 0.2 * X[:, 0] + rng.normal(size=60)
    alphas = np.logspace(-2, 6, 9)
    by_r = RidgeEncoder(alphas=alphas, cv=5, scoring="r", dtype="float64").fit(X, y)
    by_r2 = RidgeEncoder(alphas=alphas, cv=5, scoring="r2", dtype="float64").fit(X, y)
    assert by_r.alpha_ == by_r2.alpha_ < alphas[-1]
    np.testing.assert_allclose(by_r.cv_scores_, by_r2.result_["cv_r"].values)
    with pytest.raises(ValueError, match="chunk_units must be a positive int"):
        RidgeEncoder(chunk_units=-1).fit(X, y)
