"""fit_banded_ridge: reference, planted spaces, split scores that add up."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from neurorep import AlignmentError, SchemaError, data
from neurorep.encoding import default_space_weights, fit_banded_ridge, fit_ridge


def _two_spaces(rng, n=150, m=6):
    a = rng.normal(size=(n, 5))
    b = rng.normal(size=(n, 8))
    y = a @ rng.normal(size=(5, m)) + 0.2 * (b @ rng.normal(size=(8, m))) + rng.normal(size=(n, m))
    return a, b, y


def test_split_scores_add_up_and_find_the_informative_space(rng):
    a, b, y = _two_spaces(rng)
    res = fit_banded_ridge({"a": a, "b": b}, y, cv=5, alphas=np.logspace(-2, 4, 7))
    np.testing.assert_allclose(res["split_r2"].sum("space"), res["r2"], atol=1e-12)
    np.testing.assert_allclose(res["split_r"].sum("space"), res["r"], atol=1e-12)
    assert (res["split_r2"].sel(space="a") > res["split_r2"].sel(space="b")).all()
    # weights in b are 5x smaller (Bayes-optimal penalty ratio 25): b gets the larger penalty
    ratio = res["alpha"].sel(space="b") / res["alpha"].sel(space="a")
    assert float(np.median(ratio)) > 5
    # the joint score from the split pass is the CV score of the chosen candidate
    best = res["cv_score"].max("candidate")
    np.testing.assert_allclose(res["score"], best, atol=1e-4)
    assert res["weights"].sizes["feature"] == 13
    assert list(np.unique(res["feature_space"].values)) == ["a", "b"]


def test_single_candidate_equals_ridge_on_rescaled_features(rng):
    a, b, y = _two_spaces(rng, n=80, m=3)
    g = np.array([[0.8, 0.2]])
    alphas = np.logspace(-1, 3, 5)
    res = fit_banded_ridge({"a": a, "b": b}, y, space_weights=g, alphas=alphas, cv=4,
                           dtype="float64")
    Z = np.c_[a * np.sqrt(0.8), b * np.sqrt(0.2)]
    ref = fit_ridge(Z, y, alphas=alphas, cv=4, dtype="float64")
    np.testing.assert_allclose(res["r2"], ref["r2"], atol=1e-10)
    for j in range(3):
        alpha = float(ref["alpha"][j])
        np.testing.assert_allclose(res["alpha"][:, j], [alpha / 0.8, alpha / 0.2])
        coef = Ridge(alpha=alpha).fit(Z, y[:, j]).coef_
        np.testing.assert_allclose(res["weights"].values[:, j], coef * np.sqrt(np.r_[[0.8] * 5, [0.2] * 8]),
                                   atol=1e-8)
        # banded objective: per-space penalties alpha / gamma_s on the original features
        lam = np.r_[[alpha / 0.8] * 5, [alpha / 0.2] * 8]
        X = np.c_[a, b]
        Xc, yc = X - X.mean(0), y[:, j] - y[:, j].mean()
        w = np.linalg.solve(Xc.T @ Xc + np.diag(lam), Xc.T @ yc)
        np.testing.assert_allclose(res["weights"].values[:, j], w, atol=1e-8)


def test_layers_tree_input_and_bad_input(rng):
    a, b, y = _two_spaces(rng, n=60, m=2)
    ids = [f"s{i}" for i in range(60)]
    acts = data.activations({"l1": a, "l2": b}, stimulus=ids)
    resp = data.responses(y, stimulus=ids)
    res = fit_banded_ridge(acts, resp.isel(stimulus=rng.permutation(60)), cv=3, n_candidates=3)
    assert list(res["space"].values) == ["l1", "l2"]
    assert default_space_weights(3, n_candidates=4, rng=0).shape == (4, 3)
    with pytest.raises(ValueError, match="space_weights must be positive"):
        fit_banded_ridge({"a": a, "b": b}, y, space_weights=[[1.0, 0.0]])
    with pytest.raises(AlignmentError, match="same number of rows"):
        fit_banded_ridge({"a": a, "b": b[:50]}, y)
    with pytest.raises(SchemaError, match="got no feature space"):
        fit_banded_ridge({}, y)
