"""Explicit examples of the defects the property suite found, one per fix.

Each test fails on the code before its fix; the inputs differ from the
shrunk examples hypothesis reported.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from neurorep import NeurorepWarning, SchemaError, alignment, data, encoding, rsa, stats, topology


# ----------------------------------------------------------------------------- data.save / load
@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_save_keeps_attrs_netcdf_cannot_name_or_hold(tmp_path, suffix):
    # names netCDF refuses (leading ':', trailing space, control character) or would
    # normalise (decomposed unicode); values it would alter (NUL, the JSON marker, a
    # one-element list read back as a scalar, an int beyond int64)
    attrs = {
        ":units": "mV",
        "n units ": 3,
        "tab\tname": [1.5, 2.5],
        "cafe\u0301": "x",
        "caption": "a\x00b",
        "raw": "__json__:[1]",
        "one": [7],
        "huge": 2**70,
        "neurorep_names": "user value under a reserved name",
    }
    r = data.responses(np.arange(6.0).reshape(3, 2), stimulus=["s1", "s2", "s3"], attrs=attrs)
    back = data.load(data.save(r, tmp_path / f"r{suffix}"))
    xr.testing.assert_identical(back, r)
    assert back.attrs["caption"] == "a\x00b" and back.attrs["raw"] == "__json__:[1]"
    assert list(back.attrs["one"]) == [7] and back.attrs["huge"] == 2**70


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_save_keeps_variable_coord_and_array_names(tmp_path, suffix):
    # a space in a coordinate name split netCDF's 'coordinates' list and the coordinate
    # was silently dropped; '::' or 'V1/V2' raised raw netCDF/xarray errors
    r = data.responses(
        np.ones((2, 3)),
        stimulus=["a", "b"],
        stimulus_coords={"image file": ["x.png", "y.png"], "V1/V2": [0, 1]},
        name="resp::v1",
    )
    ds = xr.Dataset({"score (r)": r, "ci low": ("unit", np.zeros(3))})
    for obj in (r, ds, r.rename("image file")):
        back = data.load(data.save(obj, tmp_path / f"o{suffix}", overwrite=True))
        xr.testing.assert_identical(back, obj)
        if isinstance(obj, xr.DataArray):
            assert back.name == obj.name


def test_save_refuses_non_str_names(tmp_path):
    da = xr.DataArray(np.ones(2), dims="x", name=3)
    with pytest.raises(SchemaError, match="names must be str"):
        data.save(da, tmp_path / "x.nc")
    ds = xr.Dataset({0: ("x", np.ones(2))})
    with pytest.raises(SchemaError, match="names must be str"):
        data.save(ds, tmp_path / "y.zarr")


def test_save_keeps_layer_order_in_zarr(tmp_path):
    # zarr listed the groups alphabetically: the layers came back out of network order
    acts = data.activations(
        {"fc8": np.ones((3, 2)), "conv 1": np.ones((3, 4)), "b::c": np.ones((3, 1))},
        stimulus=["a", "b", "c"],
    )
    for suffix in (".zarr", ".nc"):
        back = data.load(data.save(acts, tmp_path / f"t{suffix}"))
        assert list(back.children) == ["fc8", "conv 1", "b::c"]
        xr.testing.assert_identical(back, acts)


# ----------------------------------------------------------------------------- data ids
@pytest.mark.parametrize("where", ["stimulus", "unit"])
def test_ids_with_nul_are_refused(where):
    # numpy's fixed-width strings dropped the trailing NUL: "s\x00" silently became "s"
    kw = {where: ["s\x00", "t"]}
    with pytest.raises(SchemaError, match="NUL"):
        data.responses(np.eye(2), **kw)
    with pytest.raises(SchemaError, match="NUL"):
        data.rdm([1.0], stimulus=["x\x00y", "z"])


# ----------------------------------------------------------------------------- rsa.compute_rdm
def test_correlation_rdm_refuses_a_constant_pattern_whose_mean_rounds():
    # the mean of three 0.7 is not exactly 0.7: the centred row held rounding noise whose
    # "correlations" with the other stimuli came out as arbitrary distances
    x = np.array([[0.7, 0.7, 0.7], [1.0, 2.0, 4.0], [3.0, 1.0, 0.5], [2.0, 2.5, 1.0]])
    r = data.responses(x, stimulus=["const", "b", "c", "d"])
    with pytest.raises(SchemaError, match="constant across units"):
        rsa.compute_rdm(r, metric="correlation")


def test_cosine_rdm_keeps_a_pattern_far_smaller_than_the_others():
    # squares of 1e-170 underflowed to 0: the row was refused as "all zeros"
    x = np.array([[1e-170, 2e-170, -1e-170], [1.0, 2.0, -1.0], [0.5, -1.0, 2.0]])
    d = rsa.compute_rdm(data.responses(x, stimulus=["tiny", "b", "c"]), metric="cosine")
    assert d.values[0, 1] == pytest.approx(0.0, abs=1e-12)  # same direction as b
    assert d.values[0, 2] == pytest.approx(d.values[1, 2], rel=1e-12)


@pytest.mark.parametrize("metric", ["correlation", "cosine"])
def test_correlation_and_cosine_distances_are_never_negative(metric):
    # 1 - r with r rounded a hair above 1 gave -2.2e-16, which topology refused
    x = np.array([[419.807, 367.564], [475.164, 542.045], [613.605, 510.971]])
    d = rsa.compute_rdm(data.responses(x, stimulus=["a", "b", "c"]), metric=metric)
    assert (d.values >= 0).all()
    topology.gt_transform(d, 0.2, 0.8)  # accepted as an RDM


def test_rdm_too_large_to_compare_is_refused_by_compute_rdm():
    # the distances were finite but no comparison could use them (validate refused them)
    x = np.array([[2e149, -1e149], [-3e149, 1e149], [1e149, 2e149]])
    with pytest.raises(SchemaError, match="too large at this data scale"):
        rsa.compute_rdm(data.responses(x, stimulus=["a", "b", "c"]), metric="squared_euclidean")


@pytest.mark.parametrize("noise", ["shrinkage_diag", "shrinkage_eye"])
def test_noise_shrinkage_with_one_unit_warns_nothing(noise):
    # 0 / 0 in the shrinkage intensity (no off-diagonal covariance) raised RuntimeWarnings
    y = np.random.default_rng(3).normal(size=(4, 3, 1))
    r = data.responses(y, stimulus=list("abcd"), repetition=["r1", "r2", "r3"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = rsa.compute_rdm(r, metric="mahalanobis", noise=noise)
    ref = rsa.compute_rdm(r, metric="mahalanobis", noise="diag")  # one unit: the same thing
    np.testing.assert_allclose(d.values, ref.values, rtol=1e-12)


def test_noise_estimate_refuses_a_unit_without_residual_variance_cleanly():
    y = np.random.default_rng(4).normal(size=(5, 2, 3))
    y[:, :, 1] = y[:, :1, 1]  # unit 1 repeats itself in every run
    r = data.responses(y, stimulus=list("abcde"), repetition=["r1", "r2"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(SchemaError, match="zero residual variance.*unit position 1"):
            rsa.compute_rdm(r, metric="crossnobis", noise="shrinkage_diag")


def test_squared_euclidean_refusal_ignores_rounding_level_distances_near_underflow():
    # data near 1e-148 with two stimuli ~1e-160 apart: their squared distance (~1e-319) is
    # far below the Gram route's rounding (~eps * the largest squared distance), yet it
    # counted as a value lost to underflow, and compute_rdm refused (in every order here;
    # in the shrunk example in some orders only)
    vals = [7.3e-148, -5.1e-148] + [2.9e-148] * 9 + [3e-160, -2e-190, 1e-150, 4.4e-148,
                                                     -7.7e-148] + [2.9e-148] * 8
    x = np.asarray(vals)[:, None]
    stim = [f"s{i}" for i in range(x.shape[0])]
    ref = rsa.compute_rdm(data.responses(x, stimulus=stim), metric="squared_euclidean")
    direct = (x - x.T) ** 2  # the data are one unit: these squares are exact enough
    peak = float(direct.max())
    np.testing.assert_allclose(ref.values, direct, rtol=1e-12, atol=1e-14 * peak)
    perm = np.random.default_rng(14).permutation(x.shape[0])
    d = rsa.compute_rdm(data.responses(x[perm], stimulus=[stim[i] for i in perm]),
                        metric="squared_euclidean")
    _, back = data.align(ref, d)
    np.testing.assert_allclose(back.values, ref.values, rtol=1e-12, atol=1e-14 * peak)
    with pytest.raises(SchemaError, match="underflow"):  # a whole RDM below float64 still is
        rsa.compute_rdm(data.responses(x * 1e-20, stimulus=stim), metric="squared_euclidean")


# ----------------------------------------------------------------------------- rsa.compare
@pytest.mark.parametrize("method", ["corr", "cosine", "cosine_cov", "corr_cov"])
def test_compare_is_scale_free_at_the_ends_of_float64(method):
    # 1e152 overflowed the cov methods' row sums; 1e-170 underflowed the norms to 0 (NaN)
    vec = np.array([1.0, 3.0, 2.0, 5.0, 4.0, 7.0, 1.5, 2.5, 6.0, 3.5])
    other = np.array([2.0, 1.0, 4.0, 3.0, 6.0, 5.0, 2.5, 1.5, 3.0, 4.5])
    stim = list("abcde")
    ref = float(rsa.compare(data.rdm(vec, stimulus=stim), data.rdm(other, stimulus=stim),
                            method=method))
    for scale in (1e152, 1e-170):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = float(rsa.compare(data.rdm(vec * scale, stimulus=stim),
                                    data.rdm(other, stimulus=stim), method=method))
        assert got == pytest.approx(ref, rel=1e-12)


def test_pearson_compare_of_an_rdm_a_few_ulps_wide_is_exact():
    # one-pass centring left each RDM off by the rounding of its mean, a constant that
    # swamped a spread of a few ulps: r wrong by ~0.2 (rsatoolbox too); two passes fix it
    gen = np.random.default_rng(11)
    stim = [f"s{i}" for i in range(9)]
    other = gen.random(36)
    for offset in (3.0e2, 7.5e9):
        steps = gen.integers(0, 5, size=36).astype(float)
        vec = offset + steps * np.spacing(offset)
        expected = np.corrcoef(vec - offset, other)[0, 1]  # vec - offset is exact
        for method in ("corr", "pearson"):
            got = float(rsa.compare(data.rdm(vec, stimulus=stim), data.rdm(other, stimulus=stim),
                                    method=method))
            assert got == pytest.approx(expected, rel=1e-12, abs=1e-14)


def test_compare_scores_each_rdm_of_a_stack_with_a_constant_one_in_its_own_cell():
    # (rsatoolbox 0.3 puts the scores of such a stack in the wrong cells: np.putmask)
    gen = np.random.default_rng(12)
    stim = list("abcdef")
    a = data.rdm(gen.random((2, 15)), stimulus=stim, dim="model")
    stack = np.stack([gen.random(15), np.full(15, 2.5e-40), gen.random(15)])
    b = data.rdm(stack, stimulus=stim, dim="model")
    with pytest.warns(NeurorepWarning, match="constant"):
        s = rsa.compare(a, b, method="corr").values
    assert np.isnan(s[:, 1]).all()
    for i in range(2):
        for j in (0, 2):
            assert s[i, j] == pytest.approx(np.corrcoef(data.rdm_vectors(a)[i], stack[j])[0, 1],
                                            rel=1e-12)


# ----------------------------------------------------------------------------- encoding
def test_fit_ridge_refuses_one_unit_too_small_for_float32():
    # only the largest unit's spread was checked: a unit at 1e-60 became 0 in float32 and
    # came back with NaN scores and alpha, without a word
    gen = np.random.default_rng(6)
    X = gen.normal(size=(12, 2))
    Y = np.c_[X @ [1.0, -1.0], X @ [2.0, 1.0]] + 0.1 * gen.normal(size=(12, 2))
    Y[:, 1] *= 1e-60
    with pytest.raises(SchemaError, match="1 unit\\(s\\) spread as little as.*dtype='float64'"):
        encoding.fit_ridge(X, Y, cv=3)
    res = encoding.fit_ridge(X, Y, cv=3, dtype="float64")  # the suggested fix works
    assert np.isfinite(res["score"].values).all()


def test_fit_ridge_warns_when_held_out_predictions_are_flat_to_rounding():
    # a float32 feature at 1e5 that is constant but for one stimulus: the held-out
    # predictions at the smallest alpha vary by ~1e-9 of their size, so Pearson r was NaN
    # while R^2 was a number, without a word
    gen = np.random.default_rng(13)
    x = np.zeros((9, 1), dtype=np.float32)
    x[4, 0] = 1e5
    y = np.c_[-2.0 * x[:, 0] / 1e5 * 17.0, gen.normal(size=9)].astype(np.float32)
    with pytest.warns(NeurorepWarning, match="Pearson r is NaN for 1 of 2.*dtype='float64'"):
        res = encoding.fit_ridge(x, y, alphas=[1e-3, 1.0], cv=3)
    assert np.isnan(res["r"].values[0]) and np.isfinite(res["r2"].values).all()
    assert np.isfinite(res["r"].values[1])
    wide = encoding.fit_ridge(x.astype(np.float64) / 1e4, y, alphas=[1e-3, 1.0], cv=3,
                              dtype="float64")  # the predictions resolved: a number again
    assert np.isfinite(wide["r"].values).all()


def test_cross_validate_ridge_warns_when_its_held_out_predictions_are_constant():
    # features near 1e-17 predict nothing: every outer model predicts the same intercept,
    # so Pearson r of the held-out predictions is undefined (NaN) -- said, not silent
    gen = np.random.default_rng(15)
    X = gen.normal(size=(20, 2)) * 1e-17
    Y = np.c_[gen.normal(size=20), np.full(20, 7.25)]
    Y[3, 1] += 8 * np.spacing(7.25)
    with pytest.warns(NeurorepWarning, match="cross_validate_ridge: Pearson r is NaN for 1 of 2"):
        res = encoding.cross_validate_ridge(X, Y, alphas=[0.1, 10.0], cv=5, inner_cv=2)
    assert np.ptp(res["prediction"].values[:, 1]) == 0
    assert np.isnan(res["r"].values[1]) and np.isfinite(res["r2"].values).all()


def test_pearson_r_of_predictions_flat_to_a_few_ulps_is_nan_in_every_order():
    # cross_validate_ridge on features near 1e148 predicted each unit's intercept, equal
    # but for an ulp: r of that rounding came out as 0.37, -0.26 or NaN by stimulus order
    gen = np.random.default_rng(16)
    y = gen.normal(size=(10, 2)) * 1e120
    level = 4.0e130
    pred = np.c_[np.full(10, level), y[:, 1] + gen.normal(size=10) * 1e119]
    pred[[2, 7], 0] += np.spacing(level)
    for order in (np.arange(10), gen.permutation(10)):
        with pytest.warns(NeurorepWarning, match="predictions of 1 of 2 unit\\(s\\) are constant"):
            res = encoding.score_prediction(pred[order], y[order])
        assert np.isnan(res["r"].values[0]) and np.isfinite(res["r2"].values[0])
        assert res["r"].values[1] > 0.9


def test_held_out_r_does_not_overflow_to_zero_at_large_scales():
    # vp * vy overflowed to inf, so r = cov / inf came out as 0 for a near-perfect fit
    gen = np.random.default_rng(7)
    X = gen.normal(size=(15, 2))
    Y = (X @ [[1.0], [0.5]] + 0.05 * gen.normal(size=(15, 1))) * 1e150
    res = encoding.cross_validate_ridge(X, Y, cv=3, inner_cv=2, dtype="float64")
    ref = encoding.cross_validate_ridge(X, Y / 1e150, cv=3, inner_cv=2, dtype="float64")
    r, r_ref = res["r"].values[0], ref["r"].values[0]
    assert r == pytest.approx(r_ref, rel=1e-9) and r > 0.9
    fit = encoding.fit_ridge(X, Y, cv=3, dtype="float64")
    ref_fit = encoding.fit_ridge(X, Y / 1e150, cv=3, dtype="float64")
    np.testing.assert_allclose(fit["cv_r"].values, ref_fit["cv_r"].values, rtol=1e-9)


def test_constant_unit_scores_nan_r2_in_cross_validation():
    # the mean of nine equal values is not exactly that value: R^2 of a constant unit came
    # out as a huge finite number instead of NaN
    gen = np.random.default_rng(8)
    X = gen.normal(size=(9, 1))
    Y = np.c_[np.full(9, 256.93083029), gen.normal(size=9)]
    with pytest.warns(NeurorepWarning, match="constant"):
        res = encoding.cross_validate_ridge(X, Y, cv=3, inner_cv=2)
    assert np.isnan(res["r2"].values[0]) and np.isnan(res["r"].values[0])
    assert np.isfinite(res["r2"].values[1])
    with pytest.warns(NeurorepWarning, match="constant"):
        scores = encoding.score_prediction(np.c_[gen.normal(size=9), Y[:, 1]], Y, metric="r2")
    assert np.isnan(scores["score"].values[0])


def test_cv_accepts_fold_labels():
    # DESIGN.md: cv is an int, fold labels or a splitter; labels raised a raw TypeError
    gen = np.random.default_rng(9)
    X = gen.normal(size=(12, 2))
    Y = X @ [[1.0], [2.0]] + 0.1 * gen.normal(size=(12, 1))
    labels = np.array(["a", "b", "c"] * 4)
    res = encoding.fit_ridge(X, Y, cv=labels, alphas=[0.1, 10.0])
    splits = [(np.flatnonzero(labels != f), np.flatnonzero(labels == f)) for f in "abc"]
    ref = encoding.fit_ridge(X, Y, cv=splits, alphas=[0.1, 10.0])
    np.testing.assert_array_equal(res["cv_r2"].values, ref["cv_r2"].values)
    cvr = encoding.cross_validate_ridge(X, Y, cv=labels, inner_cv=np.arange(12) % 2)
    assert np.isfinite(cvr["r"].values).all()
    with pytest.raises(ValueError, match="one label per sample"):
        encoding.fit_ridge(X, Y, cv=labels[:5])
    with pytest.raises(ValueError, match="ints or strings"):
        encoding.fit_ridge(X, Y, cv=np.arange(12) % 2 == 0)


# ----------------------------------------------------------------------------- topology
def test_gt_transform_with_a_subnormal_span_saturates_quietly():
    r = data.rdm([1.0, 2.0, 3.0], stimulus=["a", "b", "c"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = topology.gt_transform(r, 0.0, 5e-320, rank=False)
    assert out.values[0].tolist() == [0.0, 1.0, 1.0]


# ----------------------------------------------------------------------------- alignment
def test_debiased_cka_ignores_an_offset():
    # uncentred Gram matrices of responses around 1e4 lost the signal to cancellation
    gen = np.random.default_rng(10)
    x, y = gen.normal(size=(20, 3)), gen.normal(size=(20, 4))
    y[:, 0] += x[:, 0]
    ref = alignment.cka_debiased(x, y)
    assert alignment.cka_debiased(x + 1e5, y - 3e4) == pytest.approx(ref, rel=1e-8)


def test_encoding_alignment_score_does_not_overflow_to_zero():
    gen = np.random.default_rng(11)
    stim = [f"s{i}" for i in range(24)]
    layer = gen.normal(size=(24, 3))
    brain = data.responses(layer @ gen.normal(size=(3, 4)) + 0.1 * gen.normal(size=(24, 4)),
                           stimulus=stim)
    model = data.activations({"l1": layer}, stimulus=stim)
    ref = alignment.score_matrix(brain, model, metric="encoding", n_bootstrap=0, rng=0)
    big = alignment.score_matrix(brain * 1e150, model, metric="encoding", n_bootstrap=0, rng=0)
    assert float(ref["score"].max()) > 0.9
    np.testing.assert_allclose(big["score"].values, ref["score"].values, rtol=1e-6)


def test_pooled_r_keeps_the_variance_of_predictions_around_a_far_intercept():
    # the pooled variance of the predictions was sum p^2 - (sum p)^2 / n: predictions that
    # vary little around an intercept far from 0 (one stimulus carries a large response
    # and the only informative feature) lost every digit, and r changed with sample order
    from sklearn.linear_model import Ridge

    gen = np.random.default_rng(12)
    n = 16
    X = np.zeros((n, 1))
    X[5, 0] = 300.0  # the feature only tells stimulus 5 apart
    y = 1e-3 * gen.normal(size=n)
    y[5] = 4e5
    folds = np.arange(n) % 4
    alphas = [0.01, 1.0, 100.0]
    res = encoding.fit_ridge(X, y[:, None], cv=folds, alphas=alphas, dtype="float64")
    perm = gen.permutation(n)
    res_p = encoding.fit_ridge(X[perm], y[perm, None], cv=folds[perm], alphas=alphas,
                               dtype="float64")
    for k, alpha in enumerate(alphas):
        pred = np.empty(n)
        for f in range(4):
            te = folds == f
            pred[te] = Ridge(alpha=alpha).fit(X[~te], y[~te]).predict(X[te])
        ref = np.corrcoef(pred, y)[0, 1]
        assert float(res["cv_r"].values[k, 0]) == pytest.approx(ref, rel=1e-9)  # was NaN
        assert float(res_p["cv_r"].values[k, 0]) == pytest.approx(ref, rel=1e-9)


# ----------------------------------------------------------------------------- stats.fdr
@pytest.mark.parametrize("method", ["bh", "by"])
def test_fdr_never_adjusts_a_pvalue_below_itself(method):
    # (p * m) / k rounded one ulp under p for the largest p-value (k = m)
    p = np.array([0.02, 0.05, 0.1048024012006003, 0.01, 0.03, 0.04, 0.06])
    q = stats.fdr(p, method=method)
    assert (q >= p).all()
    from scipy.stats import false_discovery_control

    np.testing.assert_allclose(q, false_discovery_control(p, method=method), rtol=1e-14)


# ----------------------------------------------------------------------------- cka_debiased
def test_debiased_cka_of_a_single_outlier_representation_is_nan_in_every_order():
    # the expanded unbiased-HSIC formula left rounding noise of either sign for a
    # representation with no U-centred structure: NaN in one stimulus order, an arbitrary
    # number in another
    gen = np.random.default_rng(13)
    x = np.full((12, 3), 0.3, dtype=np.float32)
    x[4] = [0.3, 2.7, -1.1]  # every stimulus but one alike
    y = gen.normal(size=(12, 4))
    for _ in range(5):
        perm = gen.permutation(12)
        with pytest.warns(NeurorepWarning, match="no U-centred Gram structure"):
            assert np.isnan(alignment.cka_debiased(x[perm] * 1e-9, y[perm]))
    z = y @ gen.normal(size=(4, 2)) + gen.normal(size=(12, 2))
    ref = alignment.cka_debiased(y, z)
    for _ in range(5):
        perm = gen.permutation(12)
        got = alignment.cka_debiased(y[perm][:, ::-1], z[perm])
        assert got == pytest.approx(ref, rel=1e-12, abs=1e-12) and -1.0 <= got <= 1.0
