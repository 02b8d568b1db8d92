"""Kernel ridge and multiple-kernel ridge against himalaya (KernelRidgeCV,
MultipleKernelRidgeCV with the random-search solver and the same candidate weights), on
small, one-feature, tied and n < p inputs; equal folds (see test_encoding_himalaya.py)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.model_selection import KFold

from neurorep import AlignmentError, SchemaError, data
from neurorep.encoding import (
    KERNELS,
    compute_kernel,
    fit_kernel_ridge,
    fit_multiple_kernel_ridge,
    fit_ridge,
    predict_kernel_ridge,
)

himalaya = pytest.importorskip("himalaya")
from himalaya.backend import set_backend  # noqa: E402
from himalaya.kernel_ridge import KernelRidgeCV, MultipleKernelRidgeCV  # noqa: E402

set_backend("numpy")
ALPHAS = np.logspace(-3, 4, 8)


def _case(name, rng):
    if name == "small":
        X, k = rng.normal(size=(40, 3)) + 1, 4
    elif name == "one_feature":
        X, k = rng.normal(size=(30, 1)), 5
    elif name == "tied":
        X, k = rng.integers(0, 3, size=(36, 4)).astype(float), 4
    else:
        X, k = rng.normal(size=(24, 60)), 4
    Y = np.tanh(X[:, :1]) @ rng.normal(size=(1, 4)) + 0.3 * rng.normal(size=(len(X), 4)) + 2
    return X, Y, k


def _close(a, b, rtol):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max())


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_kernels_match_sklearn_and_himalaya(rng, kernel):
    from himalaya.kernel_ridge import PAIRWISE_KERNEL_FUNCTIONS

    X, Z = rng.normal(size=(7, 3)), rng.normal(size=(5, 3))
    ours = compute_kernel(X, Z, kernel=kernel)
    _close(ours, PAIRWISE_KERNEL_FUNCTIONS[kernel](X, Z), 1e-12)
    _close(ours, pairwise_kernels(X, Z, metric=kernel), 1e-12)
    if kernel in ("poly", "polynomial"):
        _close(compute_kernel(X, Z, kernel=kernel, degree=2, gamma=0.3, coef0=0.5),
               pairwise_kernels(X, Z, metric=kernel, degree=2, gamma=0.3, coef0=0.5), 1e-12)


@pytest.mark.parametrize("case", ["small", "one_feature", "tied", "n_lt_p"])
@pytest.mark.parametrize("kernel", ["linear", "poly", "rbf", "sigmoid", "cosine"])
def test_kernel_ridge_cv_matches_himalaya(rng, case, kernel):
    X, Y, k = _case(case, rng)
    Xn = rng.normal(size=(6, X.shape[1]))
    for fit_intercept in (True, False):
        for conservative in (False, True):
            h = KernelRidgeCV(alphas=ALPHAS, kernel=kernel, cv=KFold(k), warn=False,
                              fit_intercept=fit_intercept,
                              solver_params=dict(conservative=conservative)).fit(X, Y)
            ours = fit_kernel_ridge(X, Y, kernel=kernel, alphas=ALPHAS, cv=KFold(k),
                                    dtype="float64", fit_intercept=fit_intercept,
                                    conservative=conservative, ties="largest")
            _close(ours["alpha"], h.best_alphas_, 1e-10)
            _close(predict_kernel_ridge(ours, Xn), h.predict(Xn), 1e-6)
            _close(ours["dual_weights"], h.dual_coef_, 1e-6)
            if fit_intercept:
                _close(ours["intercept"], h.intercept_, 1e-6)


def test_linear_kernel_is_fit_ridge(rng):
    X, Y, k = _case("small", rng)
    kr = fit_kernel_ridge(X, Y, alphas=ALPHAS, cv=k, dtype="float64")
    lin = fit_ridge(X, Y, alphas=ALPHAS, cv=k, dtype="float64")
    np.testing.assert_allclose(kr["cv_r2"], lin["cv_r2"], atol=1e-12)
    np.testing.assert_array_equal(kr["alpha"], lin["alpha"])
    _close(kr["dual_weights"].values.T @ X, lin["weights"].values.T, 1e-8)


def test_kernel_ridge_float32_close_to_himalaya(rng):
    X, Y, k = _case("small", rng)
    h = KernelRidgeCV(alphas=ALPHAS.astype("float32"), kernel="rbf", cv=KFold(k),
                      fit_intercept=True).fit(X.astype("float32"), Y.astype("float32"))
    ours = fit_kernel_ridge(X, Y, kernel="rbf", alphas=ALPHAS, cv=KFold(k), dtype="float32")
    same = np.isclose(ours["alpha"].values, np.asarray(h.best_alphas_, dtype=float), rtol=1e-6)
    assert same.mean() >= 0.75
    _close(predict_kernel_ridge(ours, X).values[:, same], np.asarray(h.predict(X))[:, same], 1e-3)


def test_shared_alpha_and_xarray(rng):
    X, Y, k = _case("small", rng)
    Y = (Y - Y.mean(0)) / Y.std(0)
    h = KernelRidgeCV(alphas=ALPHAS, kernel="rbf", cv=KFold(k), fit_intercept=True,
                      solver_params=dict(local_alpha=False)).fit(X, Y)
    feats = data.responses(X)
    resp = data.responses(Y).isel(stimulus=slice(None, None, -1))  # aligned by id
    ours = fit_kernel_ridge(feats, resp, kernel="rbf", alphas=ALPHAS, cv=KFold(k),
                            dtype="float64", alpha_per_unit=False, ties="largest")
    _close(ours["alpha"], h.best_alphas_, 1e-10)
    pred = predict_kernel_ridge(ours, feats)
    assert pred.dims == ("stimulus", "unit")
    _close(pred.values, h.predict(X), 1e-6)


@pytest.mark.parametrize("kernels", [("rbf", "linear"), ("poly", "cosine"), ("sigmoid", "rbf")])
@pytest.mark.parametrize("shape", [(40, 2, 3, 4), (30, 1, 1, 5), (24, 30, 40, 4)])
def test_multiple_kernel_ridge_matches_himalaya_random_search(rng, kernels, shape):
    n, pa, pb, k = shape
    a, b = rng.normal(size=(n, pa)), rng.normal(size=(n, pb))
    if pa == 1:
        a = np.round(a)  # tied values
    Y = (np.sin(a[:, :1]) @ rng.normal(size=(1, 5)) + 0.5 * b[:, :1] @ rng.normal(size=(1, 5))
         + 0.3 * rng.normal(size=(n, 5)) + 1)
    an, bn = rng.normal(size=(6, pa)), rng.normal(size=(6, pb))
    G = np.array([[0.5, 0.5], [0.9, 0.1], [0.1, 0.9], [0.3, 0.7]])
    Ks = np.stack([compute_kernel(a, kernel=kernels[0]), compute_kernel(b, kernel=kernels[1])])
    Kt = np.stack([compute_kernel(an, a, kernel=kernels[0]),
                   compute_kernel(bn, b, kernel=kernels[1])])
    for fit_intercept in (True, False):
        h = MultipleKernelRidgeCV(
            kernels="precomputed", solver="random_search", fit_intercept=fit_intercept,
            cv=KFold(k), solver_params=dict(n_iter=G, alphas=ALPHAS, progress_bar=False),
        ).fit(Ks, Y)
        ours = fit_multiple_kernel_ridge(
            {"a": a, "b": b}, Y, kernels={"a": kernels[0], "b": kernels[1]}, kernel_weights=G,
            alphas=ALPHAS, cv=KFold(k), dtype="float64", fit_intercept=fit_intercept,
            ties="largest",
        )
        _close(ours["alpha"], np.exp(-np.asarray(h.deltas_)), 1e-8)
        _close(predict_kernel_ridge(ours, {"a": an, "b": bn}), h.predict(Kt), 1e-6)
        alpha = 1.0 / (1.0 / ours["alpha"]).sum("space").values
        _close(ours["dual_weights"].values * alpha, h.dual_coef_, 1e-6)


def test_multiple_kernels_recover_the_informative_space(rng):
    a, b = rng.normal(size=(80, 2)), rng.normal(size=(80, 5))
    y = np.sin(2 * a[:, :1]) + 0.1 * rng.normal(size=(80, 3))
    res = fit_multiple_kernel_ridge({"a": a, "b": b}, y, kernels="rbf", cv=4, n_candidates=7,
                                    alphas=np.logspace(-3, 2, 6))
    assert (res["kernel_weight"].sel(space="a") > 0.9).all()
    assert (res["r2"] > 0.8).all()


def test_bad_input(rng):
    X, Y, _ = _case("small", rng)
    with pytest.raises(ValueError, match="kernel must be one of"):
        fit_kernel_ridge(X, Y, kernel="laplacian")
    with pytest.raises(ValueError, match="are not parameters of the 'rbf' kernel"):
        fit_kernel_ridge(X, Y, kernel="rbf", kernel_params={"degree": 2})
    with pytest.raises(ValueError, match="must be a finite number"):
        fit_kernel_ridge(X, Y, kernel="rbf", kernel_params={"gamma": np.nan})
    with pytest.raises(SchemaError, match="has 2 features; the model was fit on 3"):
        predict_kernel_ridge(fit_kernel_ridge(X, Y, cv=2), X[:, :2])
    with pytest.raises(SchemaError, match="fit with return_weights=True"):
        predict_kernel_ridge(fit_kernel_ridge(X, Y, cv=2, return_weights=False), X)
    with pytest.raises(ValueError, match="kernel_weights must be positive"):
        fit_multiple_kernel_ridge({"a": X, "b": X}, Y, kernel_weights=[[1.0, -1.0]])
    with pytest.raises(ValueError, match="kernels must name every space"):
        fit_multiple_kernel_ridge({"a": X, "b": X}, Y, kernels={"a": "rbf"})
    with pytest.raises(AlignmentError, match="have 20 rows but responses have 40"):
        fit_multiple_kernel_ridge({"a": X, "b": X[:20]}, Y)
    with pytest.raises(SchemaError, match="compute_kernel: other has 2 features"):
        compute_kernel(X, X[:, :2])


# ----------------------------------------------------------------------------
# split scores of banded predictions (himalaya.scoring r2_score_split,
# correlation_score_split)
# ----------------------------------------------------------------------------
def _split_case(rng, n=50, m=4, tied=False):
    a, b = rng.normal(size=(n, 3)), rng.normal(size=(n, 1))
    if tied:
        a, b = np.round(a), np.round(b)
    y = a @ rng.normal(size=(3, m)) + 0.5 * b @ rng.normal(size=(1, m)) + rng.normal(size=(n, m))
    parts = np.stack([a @ rng.normal(size=(3, m)), b @ rng.normal(size=(1, m))])
    return parts, y + 3


@pytest.mark.parametrize("tied", [False, True])
def test_score_split_matches_himalaya(rng, tied):
    from himalaya.scoring import correlation_score_split, r2_score_split

    from neurorep.encoding import score_split

    parts, y = _split_case(rng, tied=tied)
    yc = y - y.mean(0)
    res = score_split(parts, y)
    _close(res["split_r2"], r2_score_split(yc, parts), 1e-10)
    _close(res["split_r"], correlation_score_split(y, parts), 1e-10)
    P = parts.sum(0)
    _close(res["r2"], 1 - ((yc - P) ** 2).sum(0) / (yc**2).sum(0), 1e-10)
    _close(res["r"], [np.corrcoef(P[:, j], y[:, j])[0, 1] for j in range(y.shape[1])], 1e-10)


def test_score_split_with_intercept_sums_to_r2(rng):
    from sklearn.metrics import r2_score

    from neurorep.encoding import score_split

    parts, y = _split_case(rng)
    b = rng.normal(size=y.shape[1]) + 3
    res = score_split(parts, y, intercept=b)
    full = parts.sum(0) + b
    _close(res["split_r2"].sum("space"), r2_score(y, full, multioutput="raw_values"), 1e-10)
    _close(res["split_r"], score_split(parts, y)["split_r"], 1e-12)


def test_banded_predictions_split_and_score(rng):
    from neurorep.encoding import fit_banded_ridge, predict_banded_ridge, score_split

    a, b = rng.normal(size=(90, 3)), rng.normal(size=(90, 2))
    y = a @ rng.normal(size=(3, 3)) + 0.3 * b @ rng.normal(size=(2, 3)) + rng.normal(size=(90, 3))
    train, test = slice(0, 60), slice(60, 90)
    fit = fit_banded_ridge({"a": a[train], "b": b[train]}, y[train], cv=3, n_candidates=5,
                           dtype="float64")
    parts = predict_banded_ridge(fit, {"a": a[test], "b": b[test]}, split=True)
    whole = predict_banded_ridge(fit, {"a": a[test], "b": b[test]})
    _close(parts.sum("space") + fit["intercept"], whole, 1e-12)
    _close(whole, np.c_[a[test], b[test]] @ fit["weights"].values + fit["intercept"].values, 1e-12)
    res = score_split(parts, y[test], intercept=fit["intercept"])
    from sklearn.metrics import r2_score

    _close(res["r2"], r2_score(y[test], whole.values, multioutput="raw_values"), 1e-10)
    assert (res["split_r2"].sel(space="a") > res["split_r2"].sel(space="b")).all()


def test_score_split_bad_input(rng):
    from neurorep.encoding import score_split

    parts, y = _split_case(rng)
    with pytest.raises(SchemaError, match=r"must be 3-D \(space, sample, unit\)"):
        score_split(parts[0], y)
    with pytest.raises(SchemaError, match="intercept must be 4 finite values"):
        score_split(parts, y, intercept=[1.0, 2.0])
    bad = parts.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(SchemaError, match="must be finite"):
        score_split(bad, y)


@pytest.mark.parametrize("shape", [(40, 2, 3, 4), (30, 1, 1, 5), (24, 30, 40, 4)])
def test_multiple_kernel_ridge_shared_alpha_matches_himalaya_local_alpha_false(rng, shape):
    # one candidate and one alpha for every unit, as himalaya's local_alpha=False (which
    # maximises the mean over units of -MSE: equal unit variances make it the mean R^2)
    n, pa, pb, k = shape
    a, b = rng.normal(size=(n, pa)), rng.normal(size=(n, pb))
    if pa == 1:
        a = np.round(a)  # tied values
    Y = (np.sin(a[:, :1]) @ rng.normal(size=(1, 5)) + 0.5 * b[:, :1] @ rng.normal(size=(1, 5))
         + 0.3 * rng.normal(size=(n, 5)) + 1)
    Y = (Y - Y.mean(0)) / Y.std(0)
    G = np.array([[0.5, 0.5], [0.9, 0.1], [0.1, 0.9], [0.3, 0.7]])
    Ks = np.stack([compute_kernel(a, kernel="rbf"), compute_kernel(b, kernel="linear")])
    an, bn = rng.normal(size=(6, pa)), rng.normal(size=(6, pb))
    Kt = np.stack([compute_kernel(an, a, kernel="rbf"), compute_kernel(bn, b, kernel="linear")])
    for fit_intercept in (True, False):
        h = MultipleKernelRidgeCV(
            kernels="precomputed", solver="random_search", fit_intercept=fit_intercept,
            cv=KFold(k), solver_params=dict(n_iter=G, alphas=ALPHAS, progress_bar=False,
                                            local_alpha=False),
        ).fit(Ks, Y)
        ours = fit_multiple_kernel_ridge(
            {"a": a, "b": b}, Y, kernels={"a": "rbf", "b": "linear"}, kernel_weights=G,
            alphas=ALPHAS, cv=KFold(k), dtype="float64", fit_intercept=fit_intercept,
            ties="largest", alpha_per_unit=False,
        )
        assert ours.attrs["alpha_per_unit"] == 0
        assert np.unique(ours["kernel_weight"].sel(space="a").values).size == 1
        _close(ours["alpha"], np.exp(-np.asarray(h.deltas_)), 1e-8)
        _close(predict_kernel_ridge(ours, {"a": an, "b": bn}), h.predict(Kt), 1e-6)
        # the chosen candidate has the best mean score over units at its shared alpha
        means = ours["cv_score"].mean("unit").values
        chosen = int(np.flatnonzero(np.isclose(G[:, 0], float(ours["kernel_weight"][0, 0])))[0])
        assert means[chosen] == means.max()
