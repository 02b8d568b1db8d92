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


def test_split_scores_of_pooled_predictions_match_himalaya_product_measure(rng):
    # unequal folds (37 samples in 4) and offsets: the split scores are those of the pooled
    # out-of-fold predictions. Reference: per fold, scikit-learn's Ridge on the rescaled
    # features gives each space's part of the prediction; himalaya's r2_score_split (the
    # product measure) then splits the pooled R^2 between the centred parts and the
    # intercepts, whose share is divided equally between the spaces.
    pytest.importorskip("himalaya")
    from himalaya.backend import set_backend
    from himalaya.scoring import r2_score_split
    from sklearn.model_selection import KFold

    set_backend("numpy")
    n = 37
    a, b = rng.normal(size=(n, 3)) + 2, rng.normal(size=(n, 2)) - 1
    y = (a @ rng.normal(size=(3, 4)) + 0.5 * b @ rng.normal(size=(2, 4))
         + 2 * rng.normal(size=(n, 4)) + 10)
    g = [0.7, 0.3]
    res = fit_banded_ridge({"a": a, "b": b}, y, space_weights=[g], alphas=np.logspace(-2, 3, 6),
                           cv=KFold(4), dtype="float64", scoring="r")
    Z = np.c_[a * np.sqrt(g[0]), b * np.sqrt(g[1])]
    for j in range(4):
        alpha = float(res["alpha"][0, j]) * g[0]
        parts, k = np.zeros((2, n)), np.zeros(n)
        for tr, te in KFold(4).split(Z):
            model = Ridge(alpha=alpha).fit(Z[tr], y[tr, j])
            Xc = Z[te] - Z[tr].mean(0)
            parts[0, te] = Xc[:, :3] @ model.coef_[:3]
            parts[1, te] = Xc[:, 3:] @ model.coef_[3:]
            k[te] = y[tr, j].mean()
        yc = y[:, j] - y[:, j].mean()
        comps = np.vstack([parts - parts.mean(1, keepdims=True),
                           k + parts.mean(1).sum() - y[:, j].mean()])
        h = r2_score_split(yc[:, None], comps[:, :, None])[:, 0]
        np.testing.assert_allclose(res["split_r2"][:, j], h[:2] + h[2] / 2, atol=1e-10)
        C = comps.sum(0) - comps.sum(0).mean()
        share = comps @ yc / np.sqrt((yc @ yc) * (C @ C))
        np.testing.assert_allclose(res["split_r"][:, j], share[:2] + share[2] / 2, atol=1e-10)
        np.testing.assert_allclose(res["split_score"][:, j], res["split_r"][:, j])
        pred = k + parts.sum(0)
        assert float(res["r"][j]) == pytest.approx(np.corrcoef(pred, y[:, j])[0, 1], abs=1e-10)
        assert float(res["r2"][j]) == pytest.approx(
            1 - ((y[:, j] - pred) ** 2).sum() / (yc @ yc), abs=1e-10)


def test_choice_by_squared_error_whatever_the_scoring(rng):
    a, b, y = _two_spaces(rng, n=90, m=4)
    kw = dict(cv=5, alphas=np.logspace(-2, 6, 9), n_candidates=5, dtype="float64")
    by_r = fit_banded_ridge({"a": a, "b": b}, y, scoring="r", **kw)
    by_r2 = fit_banded_ridge({"a": a, "b": b}, y, scoring="r2", **kw)
    np.testing.assert_array_equal(by_r["alpha"], by_r2["alpha"])
    np.testing.assert_allclose(by_r["score"], by_r2["r"])
    np.testing.assert_allclose(by_r["split_score"], by_r2["split_r"])
    # cv_score is in the reported metric; the chosen candidate has the best pooled R^2
    np.testing.assert_allclose(by_r2["cv_score"].max("candidate"), by_r2["r2"], atol=1e-10)
    best = np.argmax(by_r2["cv_score"].values, axis=0)
    np.testing.assert_allclose(by_r["cv_score"].values[best, np.arange(4)], by_r["r"], atol=1e-10)


def test_banded_refuses_huge_candidate_sets_and_bad_options(rng):
    a, b, y = _two_spaces(rng, n=40, m=2)
    with pytest.raises(MemoryError, match=r"fit_banded_ridge \(1000000000 candidates' fold "
                                          r"decompositions .* GB.*fewer candidates"):
        fit_banded_ridge({"a": a, "b": b}, y, n_candidates=10**9)
    with pytest.raises(MemoryError, match=r"default_space_weights: .* GB.*fewer candidates"):
        default_space_weights(2, n_candidates=10**12)
    with pytest.raises(ValueError, match="n_candidates must be a positive int"):
        fit_banded_ridge({"a": a, "b": b}, y, n_candidates=0)
    with pytest.raises(ValueError, match="chunk_units must be a positive int"):
        fit_banded_ridge({"a": a, "b": b}, y, chunk_units=-1)
    with pytest.raises(SchemaError, match="space_weights: complex values"):
        fit_banded_ridge({"a": a, "b": b}, y, space_weights=[[0.5 + 1j, 0.5]])
    with pytest.raises(SchemaError, match=r"spaces\['b'\]: complex values"):
        fit_banded_ridge({"a": a, "b": b + 1j}, y)
    with pytest.raises(SchemaError, match="responses: values spread up to"):
        fit_banded_ridge({"a": a, "b": b}, y * 1e200)
