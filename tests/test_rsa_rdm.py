"""neurorep.rsa.compute_rdm / compute_noise_precision against rsatoolbox, truths, bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr
from scipy.spatial.distance import pdist

from neurorep import SchemaError, data, rsa

rsatoolbox = pytest.importorskip("rsatoolbox")
from rsatoolbox.data.noise import cov_from_residuals  # noqa: E402
from rsatoolbox.rdm import calc_rdm  # noqa: E402

IDS = [f"s{i}" for i in range(7)]  # sorted ids: rsatoolbox sorts conditions by descriptor


@pytest.fixture
def cube(rng):
    """(stimulus 7, run 4, unit 30) with real pattern differences plus noise."""
    truth = rng.normal(size=(7, 1, 30))
    return data.responses(
        truth + 0.7 * rng.normal(size=(7, 4, 30)),
        stimulus=IDS,
        repetition=[f"run{r}" for r in range(4)],
    )


def _vec(rdm_values: np.ndarray) -> np.ndarray:
    return rdm_values[np.triu_indices(rdm_values.shape[0], 1)]


# ---------------------------------------------------------------- reference
@pytest.mark.parametrize(
    ("ours", "theirs", "power"),
    [
        ("squared_euclidean", "euclidean", 1),
        ("euclidean", "euclidean", 2),  # ours is the square root of rsatoolbox's
        ("correlation", "correlation", 1),
    ],
)
def test_metrics_match_rsatoolbox(cube, ours, theirs, power):
    ds = data.to_rsatoolbox(cube)
    ref = calc_rdm(ds, method=theirs, descriptor="stimulus").get_vectors()[0]
    got = _vec(rsa.compute_rdm(cube, metric=ours).values) ** power
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("with_noise", [False, True])
def test_crossnobis_matches_rsatoolbox(cube, with_noise):
    ds = data.to_rsatoolbox(cube)
    prec = rsa.compute_noise_precision(cube, method="shrinkage_diag") if with_noise else None
    ref = calc_rdm(
        ds,
        method="crossnobis",
        descriptor="stimulus",
        cv_descriptor="repetition",
        noise=None if prec is None else prec.values,
    ).get_vectors()[0]
    got = _vec(rsa.compute_rdm(cube, metric="crossnobis", noise=prec).values)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10)
    # an estimator name gives the same as passing the estimated precision
    if with_noise:
        by_name = rsa.compute_rdm(cube, metric="crossnobis", noise="shrinkage_diag")
        np.testing.assert_allclose(_vec(by_name.values), ref, atol=1e-10)


def test_mahalanobis_matches_rsatoolbox(cube):
    avg = cube.mean("repetition")
    prec = rsa.compute_noise_precision(cube, method="shrinkage_eye")
    ref = calc_rdm(data.to_rsatoolbox(avg), method="mahalanobis", noise=prec.values)
    got = _vec(rsa.compute_rdm(avg, metric="mahalanobis", noise=prec).values)
    np.testing.assert_allclose(got, ref.get_vectors()[0], atol=1e-10)
    # a diagonal precision given as a vector equals the same matrix
    diag = np.abs(np.diag(prec.values))
    a = rsa.compute_rdm(avg, metric="mahalanobis", noise=diag)
    b = rsa.compute_rdm(avg, metric="mahalanobis", noise=np.diag(diag))
    np.testing.assert_allclose(a.values, b.values, atol=1e-10)


def test_cosine_and_unnormalised_match_scipy(cube):
    avg = cube.mean("repetition")
    x = avg.values.astype(float)
    np.testing.assert_allclose(
        _vec(rsa.compute_rdm(avg, metric="cosine").values), pdist(x, "cosine"), atol=1e-12
    )
    np.testing.assert_allclose(
        _vec(rsa.compute_rdm(avg, metric="euclidean", normalize=False).values),
        pdist(x, "euclidean"),
        atol=1e-10,
    )
    # cosine via rsatoolbox: squared euclidean of unit-norm patterns = (2 - 2 cos) / p
    unit = avg / np.sqrt((avg**2).sum("unit"))
    ref = calc_rdm(data.to_rsatoolbox(unit), method="euclidean").get_vectors()[0]
    np.testing.assert_allclose(
        _vec(rsa.compute_rdm(avg, metric="cosine").values), ref * x.shape[1] / 2, atol=1e-10
    )


@pytest.mark.parametrize("method", list(rsa.NOISE_METHODS))
def test_noise_covariance_matches_rsatoolbox(cube, method):
    from neurorep.rsa._rdm import NOISE_METHODS, _residuals

    res, dof = _residuals(cube.values.astype(float))
    np.testing.assert_allclose(
        NOISE_METHODS[method](res, dof),
        cov_from_residuals(res, dof=dof, method=method),
        rtol=1e-10,
        atol=1e-12,
    )


# ------------------------------------------------------- truths, invariances
def test_crossnobis_is_unbiased(rng):
    """Mean crossnobis equals the true squared distance / p; noise-only gives ~0."""
    p, n_run = 200, 6
    truth = rng.normal(size=(3, 1, p))
    expected = pdist(truth[:, 0], "sqeuclidean") / p
    vals = []
    for _ in range(30):
        y = data.responses(
            truth + 2.0 * rng.normal(size=(3, n_run, p)), dims=("stimulus", "repetition", "unit"),
            stimulus=list("abc"),
        )
        vals.append(_vec(rsa.compute_rdm(y, metric="crossnobis").values))
    np.testing.assert_allclose(np.mean(vals, axis=0), expected, rtol=0.08)
    noise_only = data.responses(
        rng.normal(size=(3, n_run, p)), dims=("stimulus", "repetition", "unit"), stimulus=list("abc")
    )
    assert np.abs(_vec(rsa.compute_rdm(noise_only, metric="crossnobis").values)).max() < 0.15
    # the naive (non-cross-validated) distance is biased upwards by the noise
    naive = _vec(rsa.compute_rdm(noise_only, metric="squared_euclidean").values)
    assert naive.min() > 0.3


def test_permuting_stimuli_permutes_the_rdm(cube):
    perm = [3, 0, 6, 1, 5, 2, 4]
    a = rsa.compute_rdm(cube, metric="crossnobis")
    b = rsa.compute_rdm(cube.isel(stimulus=perm), metric="crossnobis")
    xr.testing.assert_allclose(a.sel(stimulus_i=b.stimulus_i, stimulus_j=b.stimulus_j), b)


def test_rdm_is_symmetric_with_zero_diagonal_and_valid(cube):
    for metric in rsa.METRICS:
        noise = "shrinkage_diag" if metric == "mahalanobis" else None
        counts = abs(cube) if metric.startswith("poisson") else cube  # rates are >= 0
        r = rsa.compute_rdm(counts, metric=metric, noise=noise)
        assert data.validate(r) == "rdm"
        assert r.attrs["metric"] == metric


def test_set_returns_stacked_rdm_with_depth(rng):
    ids = list("abcdef")
    acts = data.activations(
        {"l1": rng.normal(size=(6, 5)), "l2": rng.normal(size=(6, 9))}, stimulus=ids
    )
    out = rsa.compute_rdm(acts, metric="correlation")
    assert out.dims == ("layer", "stimulus_i", "stimulus_j")
    assert out.layer.values.tolist() == ["l1", "l2"]
    np.testing.assert_allclose(out["depth"].values, [0.0, 1.0])
    single = rsa.compute_rdm(data.members(acts)["l2"], metric="correlation")
    np.testing.assert_allclose(out.sel(layer="l2").values, single.values)
    mapping = rsa.compute_rdm({"V1": data.members(acts)["l1"]}, dim="region")
    assert mapping.dims[0] == "region"


def test_dask_backed_responses_give_the_same_rdm(cube):
    pytest.importorskip("dask")
    avg = cube.mean("repetition")
    lazy = avg.chunk({"unit": 7})
    for metric in ("correlation", "squared_euclidean", "cosine"):
        np.testing.assert_allclose(
            rsa.compute_rdm(lazy, metric=metric).values,
            rsa.compute_rdm(avg, metric=metric).values,
            atol=1e-12,
        )


# ---------------------------------------------------------------- bad input
def test_single_condition_is_rejected(rng):
    one = data.responses(rng.normal(size=(1, 4)), stimulus=["a"])
    with pytest.raises(SchemaError, match="at least 2 stimuli"):
        rsa.compute_rdm(one)


def test_crossnobis_needs_runs(rng, cube):
    flat = data.responses(rng.normal(size=(4, 6)), stimulus=list("abcd"))
    with pytest.raises(SchemaError, match="repetition"):
        rsa.compute_rdm(flat, metric="crossnobis")
    with pytest.raises(SchemaError, match="at least 2 runs"):
        rsa.compute_rdm(cube.isel(repetition=[0]), metric="crossnobis")


def test_time_series_and_rdm_inputs_are_rejected(rng):
    ts = data.responses(rng.normal(size=(10, 3)), time=True)
    with pytest.raises(SchemaError, match="time series"):
        rsa.compute_rdm(ts)
    r = data.rdm([1.0, 2.0, 3.0], stimulus=list("abc"))
    with pytest.raises(SchemaError, match="got an RDM"):
        rsa.compute_rdm(r)


def test_bad_metric_and_noise(cube):
    with pytest.raises(ValueError, match="metric must be one of"):
        rsa.compute_rdm(cube, metric="manhattan")
    with pytest.raises(SchemaError, match="noise precision must be"):
        rsa.compute_rdm(cube, metric="crossnobis", noise=np.eye(3))
    with pytest.raises(SchemaError, match="needs noise="):
        rsa.compute_rdm(cube, metric="mahalanobis")
    with pytest.raises(ValueError, match="only used by metrics"):
        rsa.compute_rdm(cube, metric="correlation", noise=np.eye(30))
    with pytest.raises(ValueError, match="noise must be one of"):
        rsa.compute_rdm(cube, metric="crossnobis", noise="ledoit")


def test_constant_pattern_has_no_correlation_distance(rng):
    x = rng.normal(size=(4, 5))
    x[2] = 1.0
    with pytest.raises(SchemaError, match="constant"):
        rsa.compute_rdm(data.responses(x, stimulus=list("abcd")), metric="correlation")


def test_inf_responses_are_rejected_and_nan_means_missing(rng):
    x = rng.normal(size=(4, 5))
    da = xr.DataArray(
        x, dims=("stimulus", "unit"), coords={"stimulus": list("abcd"), "unit": list("vwxyz")}
    )
    da[1, 2] = np.inf
    with pytest.raises(SchemaError, match="finite"):
        rsa.compute_rdm(da)
    # NaN marks a missing measurement (#18): the unbalanced estimator, not an error
    da[1, 2] = np.nan
    assert "unbalanced" in rsa.compute_rdm(da).attrs["estimator"]


# ---------------------------------------------------------------- real data
def test_finger_crossnobis_positive_in_every_subject(data_home):
    from neurorep import datasets

    mem = data.members(datasets.load("ejaz2015_finger7T", data_home=data_home))
    subj = {k: v for k, v in mem.items() if k.startswith("subj")}
    rdms = rsa.compute_rdm(subj, metric="crossnobis", dim="subject")
    assert rdms.sizes["subject"] == 7
    iu = np.triu_indices(5, 1)
    assert (rdms.values[:, iu[0], iu[1]] > 0).all()


# ---------------------------------------------------------------- scale, precision, dtype (issue #13)
@pytest.mark.parametrize("exponent", [640, -640, 3])
@pytest.mark.parametrize(
    ("metric", "power"),
    [("correlation", 0), ("cosine", 0), ("euclidean", 1)],
)
def test_scale_free_and_homogeneous_metrics_at_extreme_scales(cube, exponent, metric, power):
    """Correlation and cosine are scale-invariant and euclidean is 1-homogeneous: both
    computed exactly near the ends of the float64 range (x * 2**640 overflowed x @ x.T)."""
    scaled = cube.copy(data=np.ldexp(cube.values, exponent))
    ref = rsa.compute_rdm(cube, metric=metric).values
    try:
        got = rsa.compute_rdm(scaled, metric=metric).values
    except SchemaError as err:
        # distances near 1e193: where their squares (which compare and validation need)
        # overflow float64 the RDM is refused with the fix, never returned wrong
        assert metric == "euclidean" and exponent > 0, err
        assert re.search(r"too large at this data scale.*Rescale", str(err)), err
        return
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, ref * 2.0 ** (power * exponent), rtol=1e-13, atol=0)


def test_squared_distances_that_do_not_fit_float64_are_refused(cube):
    with pytest.raises(SchemaError, match=r"squared_euclidean distances overflow float64.*Rescale"):
        rsa.compute_rdm(cube * 1e200, metric="squared_euclidean")
    with pytest.raises(SchemaError, match=r"underflow float64.*Rescale"):
        rsa.compute_rdm(cube * 1e-200, metric="squared_euclidean")
    with pytest.raises(SchemaError, match="crossnobis distances overflow"):
        rsa.compute_rdm(cube * 1e200, metric="crossnobis")
    # the suggested fix works, and where the values fit, the answer is exact
    fixed = cube * 1e200 / float(abs(cube * 1e200).max())
    assert np.isfinite(rsa.compute_rdm(fixed, metric="squared_euclidean").values).all()
    big = cube.copy(data=np.ldexp(cube.values, 200))
    np.testing.assert_allclose(
        rsa.compute_rdm(big, metric="crossnobis").values,
        np.ldexp(rsa.compute_rdm(cube, metric="crossnobis").values, 400), rtol=1e-12,
    )


def test_estimated_noise_distances_are_scale_free(cube):
    """With a precision estimated from the runs, Mahalanobis and crossnobis distances do not
    change with the data's scale, even at 1e200 (the covariance itself would overflow)."""
    for metric in ("mahalanobis", "crossnobis"):
        ref = rsa.compute_rdm(cube, metric=metric, noise="shrinkage_diag").values
        got = rsa.compute_rdm(cube * 1e200, metric=metric, noise="shrinkage_diag").values
        np.testing.assert_allclose(got, ref, rtol=1e-10)
    prec = rsa.compute_noise_precision(cube.copy(data=np.ldexp(cube.values, 300)), method="diag")
    np.testing.assert_allclose(
        prec.values, np.ldexp(rsa.compute_noise_precision(cube, method="diag").values, -600),
        rtol=1e-12,
    )
    with pytest.raises(SchemaError, match="noise precision values underflow"):
        rsa.compute_noise_precision(cube * 1e200)


@pytest.mark.parametrize(
    ("precision", "match"),
    [
        (np.zeros((30, 30)), "positive definite.*smallest eigenvalue is 0"),
        (-np.eye(30), "positive definite.*smallest eigenvalue is -1"),
        (np.diag(np.r_[np.ones(29), 0.0]), "positive definite"),
        (np.full(30, np.nan), "NaN/inf"),
        (np.r_[np.ones(29), -1.0], r"diagonal noise precision must be > 0.*unit position 29"),
        (np.triu(np.ones((30, 30))), "symmetric"),
    ],
)
def test_mahalanobis_needs_a_positive_definite_precision(cube, precision, match):
    with pytest.raises(SchemaError, match=match):
        rsa.compute_rdm(cube, metric="mahalanobis", noise=precision)
    with pytest.raises(SchemaError, match=match):
        rsa.compute_rdm(cube, metric="crossnobis", noise=precision)


def test_positive_definite_precision_still_matches_the_formula(cube, rng):
    a = rng.normal(size=(30, 30))
    prec = a @ a.T / 30 + 0.1 * np.eye(30)
    x = cube.mean("repetition").values
    d = x[:, None, :] - x[None, :, :]
    want = np.einsum("ijp,pq,ijq->ij", d, prec, d) / 30
    got = rsa.compute_rdm(cube, metric="mahalanobis", noise=prec).values
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_complex_responses_are_refused(rng):
    y = xr.DataArray(rng.normal(size=(5, 3)) + 1j, dims=("stimulus", "unit"),
                     coords={"stimulus": list("abcde"), "unit": ["u0", "u1", "u2"]})
    with pytest.raises(SchemaError, match=r"values must be real.*complex128.*abs\(x\)"):
        rsa.compute_rdm(y)
    with pytest.raises(SchemaError, match="complex"):
        rsa.compute_rdm({"a": y})
