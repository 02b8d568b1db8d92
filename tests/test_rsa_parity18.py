"""Issue #18 (rsatoolbox parity): tau-b, Bures, Riemannian, Poisson RDMs, transforms,
unbalanced designs, NaN pairs and sigma_k -- each against rsatoolbox (or a transcription)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from neurorep import SchemaError, data, rsa

rsatoolbox = pytest.importorskip("rsatoolbox")
from rsatoolbox.data import Dataset  # noqa: E402
from rsatoolbox.rdm import RDMs, calc_rdm  # noqa: E402
from rsatoolbox.rdm import compare as rsa_compare  # noqa: E402


def _euclidean_rdms(rng, k, n, p):
    return np.stack([pdist(rng.normal(size=(n, p)), "sqeuclidean") for _ in range(k)])


def _ids(n):
    return [f"c{i:02d}" for i in range(n)]


# --- comparison methods ------------------------------------------------------------------
@pytest.mark.parametrize("n", [3, 4, 7])
def test_tau_b_matches_rsatoolbox_with_ties(rng, n):
    m = n * (n - 1) // 2
    a = rng.random((4, m))
    a[1] = np.round(a[1] * 2)  # many ties
    b = np.round(rng.random((3, m)) * 3)
    b[0] = a[0]
    got = rsa.compare(data.rdm(a, stimulus=_ids(n), dim="model"),
                      data.rdm(b, stimulus=_ids(n), dim="subject"), method="tau-b")
    ref = rsa_compare(RDMs(a), RDMs(b), method="tau-b")
    np.testing.assert_allclose(got.values, ref, rtol=0, atol=1e-12)
    kend = rsa.compare(data.rdm(a[0], stimulus=_ids(n)), data.rdm(b[1], stimulus=_ids(n)),
                       method="kendall")
    np.testing.assert_allclose(float(kend), ref[0, 1], atol=1e-12)


def test_tau_b_of_a_constant_rdm_is_nan(rng):
    a = np.ones(6)
    b = rng.random(6)
    with pytest.warns(Warning):
        out = rsa.compare(data.rdm(a, stimulus=_ids(4)), data.rdm(b, stimulus=_ids(4)),
                          method="tau-b")
    assert np.isnan(float(out))


def _mp_bures(v, w):
    """40-digit transcription of rsatoolbox's _bures_similarity_first_way / _sq_bures_metric."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40

    def kern(vec):
        n = int(round((1 + np.sqrt(1 + 8 * len(vec))) / 2))
        d = mp.zeros(n)
        for k, (i, j) in enumerate(zip(*np.triu_indices(n, 1), strict=True)):
            d[i, j] = d[j, i] = -mp.mpf(float(vec[k])) / 2
        h = mp.eye(n) - mp.ones(n) / n
        return h * d * h

    a, b = kern(v), kern(w)
    ev, q = mp.eigsy(a)
    asq = q * mp.diag([mp.sqrt(max(e, 0)) for e in ev]) * q.T
    prod = asq * b * asq
    num = sum(mp.sqrt(max(e, 0)) for e in mp.eigsy((prod + prod.T) / 2)[0])
    tra = sum(a[i, i] for i in range(a.rows))
    trb = sum(b[i, i] for i in range(b.rows))
    return float(num / mp.sqrt(tra * trb)), float(tra + trb - 2 * num)


@pytest.mark.parametrize("n,p", [(4, 6), (6, 2), (8, 10)])
def test_bures_matches_rsatoolbox_and_exact_values(rng, n, p):
    a = _euclidean_rdms(rng, 3, n, p)
    b = _euclidean_rdms(rng, 2, n, p)
    b[1] = np.round(b[1]) + 0.5  # tied, and not Euclidean: an indefinite kernel
    ra = data.rdm(a, stimulus=_ids(n), dim="model")
    rb = data.rdm(b, stimulus=_ids(n), dim="subject")
    sim = rsa.compare(ra, rb, method="bures").values
    met = rsa.compare(ra, rb, method="bures_metric").values
    # full-rank kernels: exact to 1e-12; rank-deficient ones (p < n - 1) hold eigenvalues
    # that are zero up to the inputs' rounding, whose square roots (~1e-8) no float64
    # computation can pin down
    tol = 1e-12 if p >= n - 1 else 1e-7
    for i in range(3):
        for j in range(2):
            s_ref, m_ref = _mp_bures(a[i], b[j])
            assert sim[i, j] == pytest.approx(s_ref, abs=tol)
            assert met[i, j] == pytest.approx(m_ref, abs=10 * tol * max(1.0, abs(m_ref)))
    # rsatoolbox takes square roots of the centring's zero eigenvalue (rounding ~1e-16),
    # which makes its values accurate to about sqrt(eps) only
    np.testing.assert_allclose(sim, rsa_compare(RDMs(a), RDMs(b), method="bures"), atol=1e-6)
    np.testing.assert_allclose(
        met, rsa_compare(RDMs(a), RDMs(b), method="bures_metric"), rtol=1e-6, atol=1e-6
    )
    self_sim = rsa.compare(ra, ra, method="bures").values
    np.testing.assert_allclose(np.diag(self_sim), 1.0, atol=1e-12)


@pytest.mark.parametrize("n", [3, 5, 7])
def test_neg_riem_dist_matches_rsatoolbox(rng, n):
    a = _euclidean_rdms(rng, 2, n, n + 3)
    b = _euclidean_rdms(rng, 2, n, n + 3)
    ra = data.rdm(a, stimulus=_ids(n), dim="model")
    rb = data.rdm(b, stimulus=_ids(n), dim="subject")
    got = rsa.compare(ra, rb, method="neg_riem_dist").values
    np.testing.assert_allclose(got, rsa_compare(RDMs(a), RDMs(b), method="neg_riem_dist"),
                               atol=1e-10)
    sk = rng.normal(size=(n, n))
    sk = sk @ sk.T + n * np.eye(n)
    got = rsa.compare(ra, rb, method="neg_riem_dist", sigma_k=sk).values
    ref = rsa_compare(RDMs(a), RDMs(b), method="neg_riem_dist", sigma_k=sk)
    np.testing.assert_allclose(got, ref, atol=1e-10)


def test_neg_riem_dist_refuses_rank_deficient_rdms(rng):
    a = _euclidean_rdms(rng, 1, 6, 2)  # 6 stimuli in 2 dims: a singular second moment
    r = data.rdm(a[0], stimulus=_ids(6))
    with pytest.raises(ValueError, match="not positive definite"):
        rsa.compare(r, r, method="neg_riem_dist")


def test_whole_matrix_methods_in_evaluate(rng):
    n = 6
    truth = _euclidean_rdms(rng, 1, n, 8)[0]
    subj = data.rdm(truth + 0.2 * _euclidean_rdms(rng, 5, n, 8), stimulus=_ids(n),
                    dim="subject")
    mods = data.rdm(np.stack([truth, _euclidean_rdms(rng, 1, n, 8)[0]]), stimulus=_ids(n),
                    dim="model", index=["good", "bad"])
    for method in ("bures", "neg_riem_dist", "tau-b"):
        res = rsa.evaluate(data=subj, models=mods, method=method, bootstrap="subject", n_bootstrap=20,
                           rng=0)
        direct = rsa.compare(mods, subj, method=method).mean("subject")
        np.testing.assert_allclose(res.score.values, direct.values, atol=1e-12)
        assert res.score.sel(model="good") > res.score.sel(model="bad")
        assert np.isfinite(res.ceiling.values).all()
    with pytest.raises(ValueError, match="whole RDMs"):
        rsa.evaluate(data=subj, models=mods, method="bures", bootstrap="stimulus", n_bootstrap=5, rng=0)
    with pytest.raises(ValueError, match="sigma_k is only used"):
        rsa.compare(mods, subj, method="bures", sigma_k=np.ones(n))


# --- Poisson RDM metrics ------------------------------------------------------------------
def _counts(rng, n=5, runs=3, p=4):
    y = rng.poisson(3.0, size=(n, runs, p)).astype(float)
    y[0, :, 0] = 0.0  # zero counts
    resp = data.responses(y, dims=("stimulus", "repetition", "unit"), stimulus=_ids(n))
    return y, resp


def _dataset(y, runs=None):
    n, r, p = y.shape
    run = np.tile(np.arange(r), n) if runs is None else runs
    return Dataset(y.reshape(n * r, p),
                   obs_descriptors={"stim": np.repeat(np.arange(n), r), "run": run})


@pytest.mark.parametrize("shape", [(5, 3, 4), (3, 2, 1), (6, 4, 12)])
def test_poisson_matches_rsatoolbox(rng, shape):
    y, resp = _counts(rng, *shape)
    ref = calc_rdm(_dataset(y), method="poisson", descriptor="stim").get_matrices()[0]
    got = rsa.compute_rdm(resp, metric="poisson")
    np.testing.assert_allclose(got.values, ref, rtol=0, atol=1e-12)
    assert data.validate(got) == "rdm"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("shape", [(5, 3, 4), (4, 2, 3)])
def test_poisson_cv_is_the_mean_of_rsatoolbox_folds(rng, shape):
    # rsatoolbox 0.3.2 returns the last fold's term only: relabel each run as the last
    y, resp = _counts(rng, *shape)
    n, r, _ = y.shape
    folds = []
    for k in range(r):
        lab = np.tile(np.arange(r), n)
        lab = np.where(lab == k, 99, lab)
        folds.append(calc_rdm(_dataset(y, lab), method="poisson_cv", descriptor="stim",
                              cv_descriptor="run").get_matrices()[0])
    got = rsa.compute_rdm(resp, metric="poisson_cv")
    np.testing.assert_allclose(got.values, np.mean(folds, axis=0), rtol=0, atol=1e-12)


def test_poisson_refuses_negative_values(rng):
    resp = data.responses(rng.normal(size=(4, 3)), stimulus=_ids(4))
    with pytest.raises(SchemaError, match="non-negative counts"):
        rsa.compute_rdm(resp, metric="poisson")
    with pytest.raises(ValueError, match="not available over time"):
        from neurorep.rsa._temporal import _check_metric

        _check_metric("poisson")


@pytest.mark.parametrize("call", ["evaluate", "compute_ceiling", "crossval", "bootstrap_crossval",
                                  "compute_cv_ceiling", "fit_select", "fit_interpolate",
                                  "fit_optimize", "searchlight", "rsa_metric"])
def test_distance_method_refused_for_inference(rng, call):
    # bures_metric is a distance: a p-value against 0, a "better" model or a ceiling
    # read as higher = better would be backwards, so inference refuses it
    n = 6
    subj = data.rdm(np.stack([pdist(rng.normal(size=(n, 4)), "sqeuclidean") for _ in range(4)]),
                    stimulus=_ids(n), dim="subject")
    comps = data.rdm(np.stack([pdist(rng.normal(size=(n, 4)), "sqeuclidean") for _ in range(2)]),
                     stimulus=_ids(n), dim="component")
    fixed = comps.rename(component="model")
    calls = {
        "evaluate": lambda m: rsa.evaluate(data=subj, models=fixed, method=m, bootstrap="none"),
        "compute_ceiling": lambda m: rsa.compute_ceiling(subj, method=m),
        "crossval": lambda m: rsa.crossval(data=subj, models=fixed, method=m, cv=2, rng=0),
        "bootstrap_crossval": lambda m: rsa.bootstrap_crossval(
            data=subj, models=fixed, method=m, bootstrap="subject", n_bootstrap=2, cv=2,
            rng=0),
        "compute_cv_ceiling": lambda m: rsa.compute_cv_ceiling(
            subj, cv=rsa.make_folds(subj, cv=2, rng=0), method=m),
        "fit_select": lambda m: rsa.fit_select(comps, subj, method=m),
        "fit_interpolate": lambda m: rsa.fit_interpolate(comps, subj, method=m),
        "fit_optimize": lambda m: rsa.fit_optimize(comps, subj, method=m, rng=0),
        # maps and alignment scores read higher = more similar too
        "searchlight": lambda m: rsa.searchlight(_voxels(rng, n), fixed, radius=1.5, method=m),
        "rsa_metric": lambda m: _rsa_metric_score(m, subj),
    }
    with pytest.raises(ValueError, match=r"bures_metric.*distance.*method='bures'"):
        calls[call]("bures_metric")
    calls[call]("bures")  # the similarity runs
    assert rsa.compare(subj, fixed, method="bures_metric").min() >= -1e-9  # compare keeps it


def _voxels(rng, n):
    import nibabel as nib

    mask = nib.Nifti1Image(np.ones((3, 3, 2), dtype=np.int8), np.eye(4))
    imgs = nib.Nifti1Image(rng.normal(size=(3, 3, 2, n)), np.eye(4))
    return data.from_nifti(imgs, mask, stimulus=_ids(n))


def _rsa_metric_score(method, subj):
    from neurorep import alignment

    metric = alignment.rsa_metric(method=method)
    state = (metric.prepare(subj.isel(subject=0)), metric.prepare(subj.isel(subject=1)))
    return metric.score(state, None)


def _pd_subjects(rng, n_subj=5, n=7):
    """Squared-Euclidean RDMs of full-rank patterns (positive definite second moments),
    at different scales: the pooling rule matters for the non-scale-free neg_riem_dist."""
    base = rng.normal(size=(n, n + 3))
    return np.stack([pdist(base + 0.7 * rng.normal(size=base.shape), "sqeuclidean") * s
                     for s in (1.0, 2.5, 0.4, 1.7, 3.0)[:n_subj]])


def test_neg_riem_dist_ceilings_pool_as_rsatoolbox(rng):
    # rsatoolbox's pool_rdm averages the raw RDMs for neg_riem_dist (no normalisation)
    from rsatoolbox.inference import cv_noise_ceiling
    from rsatoolbox.inference.noise_ceiling import boot_noise_ceiling

    v = _pd_subjects(rng)
    n = 7
    subj = data.rdm(v, stimulus=_ids(n), dim="subject")
    ref = boot_noise_ceiling(RDMs(v), method="neg_riem_dist")
    np.testing.assert_allclose(rsa.compute_ceiling(subj, method="neg_riem_dist").values, ref,
                               rtol=1e-10)
    model = data.rdm(v[:1].mean(0), stimulus=_ids(n)).expand_dims(model=["m"])
    res = rsa.evaluate(data=subj, models=model, method="neg_riem_dist", bootstrap="none")
    np.testing.assert_allclose(res.ceiling.values, ref, rtol=1e-10)
    # the cross-validated ceiling, folds given to rsatoolbox as they are
    folds = rsa.make_folds(subj, cv=2, subject_cv=1, rng=0)
    rdms = RDMs(v)
    test, ceil = [], []
    for i in range(folds.sizes["fold"]):
        f = folds.isel(fold=i)
        tr_s = list(np.flatnonzero(f.train_subject.values))
        te_s = list(np.flatnonzero(f.test_subject.values))
        te_c = list(np.flatnonzero(f.test_stimulus.values))
        test.append([rdms.subsample("index", te_s).subset_pattern("index", te_c), te_c])
        ceil.append([rdms.subsample("index", tr_s).subset_pattern("index", te_c), te_c])
    ref_cv = cv_noise_ceiling(rdms, ceil, test, method="neg_riem_dist")
    got_cv = rsa.compute_cv_ceiling(subj, cv=folds, method="neg_riem_dist")
    np.testing.assert_allclose(got_cv.values, ref_cv, rtol=1e-10)


def test_bures_ceiling_pools_rms_normalised_rdms(rng):
    # rsatoolbox's pool_rdm has no Bures entry; neurorep pools as for cosine (each RDM
    # divided by its RMS, then averaged): a transcription scored with rsatoolbox's bures
    v = _pd_subjects(rng)
    subj = data.rdm(v, stimulus=_ids(7), dim="subject")
    norm = v / np.sqrt((v ** 2).mean(axis=1, keepdims=True))
    up, lo = [], []
    for s in range(v.shape[0]):
        others = np.delete(norm, s, axis=0).mean(0)
        up.append(rsa_compare(RDMs(norm.mean(0)), RDMs(v[s]), method="bures")[0, 0])
        lo.append(rsa_compare(RDMs(others), RDMs(v[s]), method="bures")[0, 0])
    got = rsa.compute_ceiling(subj, method="bures").values
    np.testing.assert_allclose(got, [np.mean(lo), np.mean(up)], rtol=1e-6)


# --- transforms -----------------------------------------------------------------------------
def test_transforms_match_rsatoolbox(rng):
    import importlib

    rt = importlib.import_module("rsatoolbox.rdm.transform")

    n = 6
    m = n * (n - 1) // 2
    v = rng.normal(size=(3, m))
    v[1] = np.round(v[1])  # ties
    r = data.rdm(v, stimulus=_ids(n), dim="subject", metric="squared_euclidean")

    def ref():  # rsatoolbox's sqrt/positive transforms write into their input's vectors
        return RDMs(v.copy(), dissimilarity_measure="squared euclidean")

    pairs = [
        (rsa.rank_transform(r), rt.rank_transform(ref())),
        (rsa.rank_transform(r, method="dense"), rt.rank_transform(ref(), method="dense")),
        (rsa.sqrt_transform(r), rt.sqrt_transform(ref())),
        (rsa.positive_transform(r), rt.positive_transform(ref())),
        (rsa.minmax_transform(r), rt.minmax_transform(ref())),
    ]
    for got, want in pairs:
        assert got.dims == r.dims
        np.testing.assert_allclose(data.rdm_vectors(got), want.get_vectors(), atol=1e-12)
    # rsatoolbox's operations: equal to the last bit, square or condensed
    c = data.condense(r)
    for name in ("sqrt", "positive", "minmax", "rank"):
        want = getattr(rt, f"{name}_transform")(ref()).get_vectors()
        np.testing.assert_array_equal(data.rdm_vectors(rsa.TRANSFORMS[name](r)), want)
        got = rsa.TRANSFORMS[name](c)
        assert got.dims == c.dims and got.attrs["transform"] == name
        np.testing.assert_array_equal(got.values, want)
    assert rsa.sqrt_transform(c).attrs["metric"] == "euclidean"
    assert rsa.sqrt_transform(r).attrs["metric"] == "euclidean"
    chained = rsa.transform_rdm(rsa.rank_transform(r), "minmax")
    assert chained.attrs["transform"] == "rank -> minmax"


def test_transforms_keep_nan_pairs_and_refuse_bad_input(rng):
    v = rng.random(6)
    v[2] = np.nan
    r = data.rdm(np.nan_to_num(v), stimulus=_ids(4))
    r = r.where(r != r.values[0, 3])  # NaN at (0, 3) and (3, 0)
    r.values[np.diag_indices(4)] = 0.0
    ranked = rsa.rank_transform(r)
    assert np.isnan(ranked.values[0, 3]) and np.isnan(ranked.values[3, 0])
    ok = ~np.isnan(v)
    from scipy.stats import rankdata

    np.testing.assert_allclose(data.rdm_vectors(ranked.fillna(0))[0][ok], rankdata(v[ok]))
    for fn in rsa.TRANSFORMS.values():  # a condensed stack keeps its NaN pairs too
        got = fn(data.condense(r))
        np.testing.assert_array_equal(got.values, data.condense(fn(r)).values)
    with pytest.raises(SchemaError, match="finite"):
        rsa.sqrt_transform(data.condense(r).fillna(np.inf))
    with pytest.raises(SchemaError, match="no range"):
        rsa.minmax_transform(data.rdm(np.ones(3), stimulus=list("abc")))
    with pytest.raises(SchemaError, match="expected an RDM"):
        rsa.rank_transform(np.ones((3, 3)))
    with pytest.raises(ValueError, match="kind"):
        rsa.transform_rdm(r, "log")


@pytest.mark.parametrize("name", ["sqrt", "positive", "minmax"])
def test_elementwise_transforms_check_every_value(rng, name, monkeypatch):
    # the fast path (chunks of squares) and the full path must refuse the same inputs
    n, k = 7, 40
    monkeypatch.setattr("neurorep.rsa._transform._CHUNK", 8 * n * n * 3)  # chunks of 3 RDMs
    m = n * (n - 1) // 2
    v = rng.random((k, m)) + 0.5  # all positive: minmax's minimum is off the zero diagonal
    r = data.rdm(v, stimulus=_ids(n), dim="subject")
    fn = rsa.TRANSFORMS[name]
    got = data.rdm_vectors(fn(r))
    ref = {"sqrt": np.sqrt(v), "positive": v,
           "minmax": (v - v.min(1, keepdims=True)) / np.ptp(v, axis=1, keepdims=True)}[name]
    np.testing.assert_allclose(got, ref, atol=1e-15)
    for bad, match in (((5, 0, 1), "symmetric"), ((5, 2, 2), "diagonal"),
                       ((5, 1, 3), "inf")):
        vals = r.values.copy()
        i, a, b = bad
        vals[i, a, b] = np.inf if match == "inf" else 9.0
        if match == "inf":
            vals[i, b, a] = np.inf
        with pytest.raises(SchemaError, match=match):
            fn(r.copy(data=vals))
    # a missing pair (NaN at (i, j) and (j, i)) stays missing; the rest is transformed
    vals = r.values.copy()
    vals[3, 1, 4] = vals[3, 4, 1] = np.nan
    out = fn(r.copy(data=vals)).values
    assert np.isnan(out[3, 1, 4]) and np.isnan(out[3, 4, 1])
    np.testing.assert_allclose(np.delete(out, 3, axis=0), np.delete(fn(r).values, 3, axis=0))


# --- unbalanced designs ---------------------------------------------------------------------
def _unbalanced(rng, n=5, reps=4, p=6, partial=True):
    y = rng.poisson(4.0, size=(n, reps, p)).astype(float) + rng.random((n, reps, p))
    y[1, 2] = np.nan  # a repetition stimulus 1 did not get
    y[3, 0] = np.nan
    y[3, 3] = np.nan
    if partial:
        y[0, 1, 2] = np.nan  # units not recorded in one measurement
        y[4, 3, [0, p - 1]] = np.nan
    resp = data.responses(y, dims=("stimulus", "repetition", "unit"), stimulus=_ids(n),
                          allow_missing=True)
    flat = y.reshape(n * reps, p)
    keep = ~np.isnan(flat).all(axis=1)  # rsatoolbox's dataset simply lacks those rows
    ds = Dataset(flat[keep], obs_descriptors={"stim": np.repeat(np.arange(n), reps)[keep],
                                              "run": np.tile(np.arange(reps), n)[keep]})
    return y, resp, ds


UNBALANCED_CASES = [
    ("squared_euclidean", {}, {"method": "euclidean"}),
    ("euclidean", {}, {"method": "euclidean"}),
    ("correlation", {}, {"method": "correlation"}),
    ("crossnobis", {}, {"method": "crossnobis", "cv_descriptor": "run"}),
    ("poisson", {}, {"method": "poisson"}),
    ("poisson_cv", {}, {"method": "poisson_cv", "cv_descriptor": "run"}),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("metric,kw,ref_kw", UNBALANCED_CASES)
@pytest.mark.parametrize("shape", [(5, 4, 6), (4, 4, 1), (6, 4, 3)])
def test_unbalanced_matches_calc_rdm_unbalanced(rng, metric, kw, ref_kw, shape):
    from rsatoolbox.rdm import calc_rdm_unbalanced

    _, resp, ds = _unbalanced(rng, *shape, partial=shape[2] > 1)
    if metric == "correlation" and shape[2] == 1:  # one unit: no correlation (rsatoolbox: NaN)
        with pytest.raises(SchemaError, match="constant"):
            rsa.compute_rdm(resp, metric=metric, **kw)
        return
    got = rsa.compute_rdm(resp, metric=metric, **kw)
    ref = calc_rdm_unbalanced(ds, descriptor="stim", **ref_kw).get_matrices()[0]
    if metric == "euclidean":
        ref = np.sqrt(ref)
    np.testing.assert_allclose(got.values, ref, rtol=1e-10, atol=1e-12)
    assert "unbalanced" in got.attrs["estimator"]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("metric", ["mahalanobis", "crossnobis"])
def test_unbalanced_noise_metrics(rng, metric):
    from rsatoolbox.rdm import calc_rdm_unbalanced

    y, resp, ds = _unbalanced(rng, partial=False)
    p = y.shape[2]
    a = rng.normal(size=(p, p))
    prec = a @ a.T + p * np.eye(p)
    ref_kw = {"cv_descriptor": "run"} if metric == "crossnobis" else {}
    got = rsa.compute_rdm(resp, metric=metric, noise=prec)
    ref = calc_rdm_unbalanced(ds, method=metric, descriptor="stim", noise=prec, **ref_kw)
    np.testing.assert_allclose(got.values, ref.get_matrices()[0], rtol=1e-10, atol=1e-12)
    # partly missing units: rsatoolbox 0.3.2's C loop reads past its buffer there, so the
    # reference is a direct transcription of its intent (sub-precision of the shared units)
    y[0, 1, 2] = np.nan
    resp = data.responses(y, dims=("stimulus", "repetition", "unit"), stimulus=_ids(5),
                          allow_missing=True)
    got = rsa.compute_rdm(resp, metric=metric, noise=prec).values
    n, reps, _ = y.shape
    s, w = np.zeros((n, n)), np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            for r in range(reps):
                for q in range(reps):
                    if (i, r) == (j, q) or (metric == "crossnobis" and r == q):
                        continue
                    xa, xb = y[i, r], y[j, q]
                    mask = ~np.isnan(xa) & ~np.isnan(xb)
                    if not mask.any():
                        continue
                    s[i, j] += xa[mask] @ prec[np.ix_(mask, mask)] @ xb[mask]
                    w[i, j] += p
            if metric == "mahalanobis" and i == j:
                for r in range(reps):  # each measurement with itself, counted half twice
                    xa = y[i, r]
                    mask = ~np.isnan(xa)
                    if mask.any():
                        s[i, i] += xa[mask] @ prec[np.ix_(mask, mask)] @ xa[mask]
                        w[i, i] += p
    v = s / w
    want = np.diag(v)[:, None] + np.diag(v)[None, :] - 2 * v
    np.fill_diagonal(want, 0.0)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_balanced_data_give_the_balanced_rdm(rng):
    from rsatoolbox.rdm import calc_rdm_unbalanced

    y = rng.normal(size=(5, 3, 4))
    resp = data.responses(y, dims=("stimulus", "repetition", "unit"), stimulus=_ids(5))
    ds = Dataset(y.reshape(15, 4), obs_descriptors={"stim": np.repeat(np.arange(5), 3),
                                                    "run": np.tile(np.arange(3), 5)})
    for metric, ref_kw in [("squared_euclidean", {"method": "euclidean"}),
                           ("crossnobis", {"method": "crossnobis", "cv_descriptor": "run"})]:
        ref = calc_rdm_unbalanced(ds, descriptor="stim", **ref_kw).get_matrices()[0]
        np.testing.assert_allclose(rsa.compute_rdm(resp, metric=metric).values, ref,
                                   atol=1e-12)


def test_missing_measurements_errors(rng):
    y = rng.normal(size=(4, 3, 5))
    y[0, 1] = np.nan
    with pytest.raises(SchemaError, match="allow_missing=True"):
        data.responses(y, dims=("stimulus", "repetition", "unit"), stimulus=_ids(4))
    resp = data.responses(y, dims=("stimulus", "repetition", "unit"), stimulus=_ids(4),
                          allow_missing=True)
    with pytest.raises(SchemaError, match="cannot be estimated"):
        rsa.compute_rdm(resp, metric="crossnobis", noise="shrinkage_diag")
    y[1] = np.nan  # a stimulus never measured: its dissimilarities are missing pairs
    resp = data.responses(y, dims=("stimulus", "repetition", "unit"), stimulus=_ids(4),
                          allow_missing=True)
    out = rsa.compute_rdm(resp, metric="squared_euclidean")
    assert np.isnan(out.values[1, [0, 2, 3]]).all() and out.values[1, 1] == 0
    inf = y.copy()
    inf[2, 0, 0] = np.inf
    with pytest.raises(SchemaError, match="inf"):
        data.responses(inf, dims=("stimulus", "repetition", "unit"), stimulus=_ids(4),
                       allow_missing=True)


# --- RDMs with missing (NaN) pairs ----------------------------------------------------------
def _nan_stacks(rng, n=8, k_a=3, k_b=4, missing=(3, 10)):
    from neurorep._core.condensed import square

    m = n * (n - 1) // 2
    a = rng.random((k_a, m))
    a[1] = np.round(a[1] * 3)  # ties
    b = 0.5 * a[0] + rng.random((k_b, m))
    a[:, list(missing)] = np.nan
    b[:, list(missing)] = np.nan
    ra = data.rdm(np.zeros((k_a, m)), stimulus=_ids(n), dim="model")
    rb = data.rdm(np.zeros((k_b, m)), stimulus=_ids(n), dim="subject")
    return a, b, ra.copy(data=square(a, n)), rb.copy(data=square(b, n))


@pytest.mark.parametrize(
    "method", ["corr", "spearman", "rho-a", "tau-a", "tau-b", "cosine", "cosine_cov", "corr_cov"]
)
@pytest.mark.parametrize("n,missing", [(8, (3, 10)), (4, (0,)), (5, (1, 2, 3))])
def test_compare_leaves_out_nan_pairs_as_rsatoolbox(rng, method, n, missing):
    a, b, ra, rb = _nan_stacks(rng, n=n, missing=missing)
    got = rsa.compare(ra, rb, method=method)
    ref = rsa_compare(RDMs(a), RDMs(b), method=method)
    np.testing.assert_allclose(got.values, ref, rtol=0, atol=1e-12)
    # condensed stacks carry the NaN pairs: the same numbers, in either form
    ca, cb = data.condense(ra), data.condense(rb)
    for x, y in ((ca, cb), (ca, rb), (ra, cb)):
        np.testing.assert_allclose(rsa.compare(x, y, method=method).values, ref, atol=1e-12)
    # a complete model against data with missing pairs: the same pairs are left out
    full = ra.fillna(0.5)
    np.testing.assert_allclose(
        rsa.compare(full, rb, method=method).values,
        rsa_compare(RDMs(np.where(np.isnan(a), np.nan, data.rdm_vectors(full))), RDMs(b),
                    method=method),
        atol=1e-12,
    )


def test_nan_pairs_errors(rng):
    a, b, ra, rb = _nan_stacks(rng)
    with pytest.raises(ValueError, match="whole RDMs"):
        rsa.compare(ra, rb, method="bures")
    with pytest.raises(ValueError, match="sigma_k"):
        rsa.compare(ra, rb, method="cosine_cov", sigma_k=np.ones(8))
    bad = ra.copy()
    bad.values[0, 0, 5] = np.nan  # only one triangle
    with pytest.raises(SchemaError, match="not symmetric"):
        rsa.compare(bad, rb)
    from neurorep._core.condensed import square

    sparse = data.rdm(np.ones(6), stimulus=_ids(4))
    sparse = sparse.copy(data=square(np.array([1.0, 2.0, np.nan, np.nan, np.nan, np.nan]), 4))
    with pytest.raises(SchemaError, match="at least 3"):
        rsa.compare(sparse, data.rdm(rng.random(6), stimulus=_ids(4)))


def test_condensed_stacks_keep_nan_pairs_and_refuse_other_bad_values(rng):
    import xarray as xr

    a, b, ra, rb = _nan_stacks(rng)
    ca = data.condense(ra)
    np.testing.assert_array_equal(np.isnan(ca.values), np.isnan(a))
    xr.testing.assert_identical(data.uncondense(ca), ra)
    assert np.isnan(data.condensed_vectors(ca, missing=True)).sum() == np.isnan(a).sum()
    with pytest.raises(SchemaError, match="NaN/inf"):  # NaN only where the caller allows it
        data.condensed_vectors(ca)
    inf = ca.copy(data=np.where(np.isnan(a), np.inf, a))
    with pytest.raises(SchemaError, match="finite.*inf value"):
        rsa.compare(inf, rb)
    diag = ra.copy(deep=True)
    diag.values[0, 2, 2] = np.nan
    with pytest.raises(SchemaError, match="diagonal.*not NaN"):
        data.condense(diag)
    with pytest.raises(SchemaError, match="finite"):  # NaN is refused without missing=True
        data.rdm_vectors(ra)


@pytest.mark.parametrize("method", ["corr", "spearman", "cosine", "cosine_cov"])
def test_overflow_size_rdms_are_refused_in_square_and_condensed_form(rng, method):
    """Values whose squares overflow float64 are refused by every path (the condensed corr
    path used to rescale them and score them): pooling, fits and the non-scale-free
    methods need those sums, so nothing downstream ever sees such values."""
    a, b, ra, rb = _nan_stacks(rng, missing=())
    big = ra * 1e160
    cbig = data.condense(ra) * 1e160  # (condense itself refuses big values)
    for x, y in ((big, rb), (cbig, rb), (cbig, data.condense(rb))):
        with pytest.raises(SchemaError, match="too large"):
            rsa.compare(x, y, method=method)
    # values just inside the bound are accepted and give rsatoolbox's numbers
    ok = rsa.compare(data.condense(ra) * 1e150, data.condense(rb), method=method).values
    np.testing.assert_allclose(ok, rsa_compare(RDMs(a), RDMs(b), method=method), atol=1e-12)


@pytest.mark.parametrize("method", ["corr", "spearman", "tau-a", "cosine_cov"])
def test_evaluate_with_nan_pairs_matches_rsatoolbox(rng, method):
    from rsatoolbox.inference import eval_fixed
    from rsatoolbox.model import ModelFixed

    a, b, ra, rb = _nan_stacks(rng, k_b=5)
    res = rsa.evaluate(data=rb, models=ra, method=method, bootstrap="none")
    ref = eval_fixed([ModelFixed(f"m{i}", RDMs(a[i : i + 1])) for i in range(3)], RDMs(b),
                     method=method)
    np.testing.assert_allclose(res.score.values, ref.evaluations[0].mean(axis=-1), atol=1e-12)
    np.testing.assert_allclose(res.ceiling.values, np.ravel(ref.noise_ceiling), atol=1e-12)
    np.testing.assert_allclose(rsa.compute_ceiling(rb, method=method).values,
                               np.ravel(ref.noise_ceiling), atol=1e-12)
    boot = rsa.evaluate(data=rb, models=ra, method=method, bootstrap="both", n_bootstrap=20, rng=0)
    assert np.isfinite(boot.ci_low.values).all() and np.isfinite(boot.ci_high.values).all()


def test_unbalanced_rdm_flows_into_evaluate(rng):
    """An RDM with a missing pair (a stimulus pair never measured in different runs) goes
    through compare and evaluate."""
    subj = {}
    for s in range(4):
        y = rng.normal(size=(6, 3, 5))
        y[0, 1:] = np.nan  # stimulus 0 measured in run 0 only, stimulus 1 too
        y[1, 1:] = np.nan
        resp = data.responses(y, dims=("stimulus", "repetition", "unit"), stimulus=_ids(6),
                              allow_missing=True)
        subj[f"s{s}"] = resp
    rdms = rsa.compute_rdm(subj, metric="crossnobis", dim="subject")
    assert np.isnan(rdms.values[:, 0, 1]).all()  # no pair of runs: a missing pair
    model = data.rdm(rng.random(15), stimulus=_ids(6))
    res = rsa.evaluate(data=rdms, models=model, method="corr", bootstrap="subject", n_bootstrap=20, rng=0)
    assert np.isfinite(res.score.values).all()


# --- sigma_k from measurements ----------------------------------------------------------------
@pytest.mark.parametrize("method", ["shrinkage_diag", "shrinkage_eye", "diag", "full"])
@pytest.mark.parametrize("shape", [(5, 3, 7), (3, 2, 1), (6, 4, 30)])
def test_estimate_sigma_k_matches_rsatoolbox_estimators(rng, method, shape):
    from rsatoolbox.data.noise import cov_from_residuals

    n, reps, p = shape
    y = rng.normal(size=shape)
    resp = data.responses(y, dims=("stimulus", "repetition", "unit"), stimulus=_ids(n))
    obs = (y - y.mean(axis=1, keepdims=True)).transpose(1, 2, 0).reshape(reps * p, n)
    ref = cov_from_residuals(obs, dof=p * (reps - 1), method=method) / reps
    got = rsa.estimate_sigma_k(resp, method=method)
    np.testing.assert_allclose(got.values, ref, rtol=1e-12, atol=1e-15)
    assert got.attrs["method"] == method


def test_estimate_sigma_k_recovers_planted_covariance_and_feeds_compare(rng):
    n, reps, p = 4, 5, 4000
    a = rng.normal(size=(n, n))
    truth = a @ a.T + np.eye(n)
    noise = rng.multivariate_normal(np.zeros(n), truth, size=(reps, p)).transpose(2, 0, 1)
    y = rng.normal(size=(n, 1, p)) + noise
    resp = data.responses(y, dims=("stimulus", "repetition", "unit"), stimulus=_ids(n))
    sk = rsa.estimate_sigma_k(resp, method="full")
    np.testing.assert_allclose(sk.values, truth / reps, rtol=0.1, atol=0.05 * truth.max() / reps)
    rdm = rsa.compute_rdm(resp, metric="crossnobis")
    other = data.rdm(rng.random(6), stimulus=_ids(n))
    for method in ("corr_cov", "cosine_cov", "neg_riem_dist"):
        if method == "neg_riem_dist":
            rdm_pd = rsa.compute_rdm(resp, metric="squared_euclidean")
            got = rsa.compare(rdm_pd, rdm_pd, method=method, sigma_k=sk)
            ref = rsa_compare(data.to_rsatoolbox(rdm_pd), data.to_rsatoolbox(rdm_pd),
                              method=method, sigma_k=sk.values)
        else:
            got = rsa.compare(rdm, other, method=method, sigma_k=sk.isel(stimulus_i=[3, 2, 1, 0],
                                                                          stimulus_j=[3, 2, 1, 0]))
            ref = rsa_compare(data.to_rsatoolbox(rdm), data.to_rsatoolbox(other), method=method,
                              sigma_k=sk.values)
        np.testing.assert_allclose(float(got), ref[0, 0], atol=1e-10)


def test_estimate_sigma_k_errors(rng):
    with pytest.raises(SchemaError, match="repeated measurements"):
        rsa.estimate_sigma_k(data.responses(rng.normal(size=(4, 3)), stimulus=_ids(4)))
    y = rng.normal(size=(4, 1, 3))
    with pytest.raises(SchemaError, match="at least 2 repetitions"):
        rsa.estimate_sigma_k(data.responses(y, dims=("stimulus", "repetition", "unit"),
                                            stimulus=_ids(4)))
    y = rng.normal(size=(4, 3, 3))
    y[2] = 1.0
    with pytest.raises(SchemaError, match="same response in every repetition"):
        rsa.estimate_sigma_k(data.responses(y, dims=("stimulus", "repetition", "unit"),
                                            stimulus=_ids(4)), method="diag")


def test_unbalanced_cosine_is_the_correlation_estimator_without_centring(rng):
    """cosine has no rsatoolbox estimator: checked against a direct loop over pairs of
    measurements (the correlation estimator's transcription with the centring removed)."""
    y, resp, _ = _unbalanced(rng)
    n, reps, p = y.shape
    got = rsa.compute_rdm(resp, metric="cosine").values
    s, w = np.zeros((n, n)), np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            for r in range(reps):
                for q in range(reps):
                    xa, xb = y[i, r], y[j, q]
                    mask = ~np.isnan(xa) & ~np.isnan(xb)
                    if not mask.any():
                        continue
                    a, b = xa[mask], xb[mask]
                    s[i, j] += a @ b / np.sqrt(a @ a) / np.sqrt(b @ b) * p / 2
                    w[i, j] += mask.sum()
    v = s / w
    want = np.diag(v)[:, None] + np.diag(v)[None, :] - 2 * v
    np.fill_diagonal(want, 0.0)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_rank_rows_fills_a_strided_or_other_dtype_out(rng):
    """``out`` that is not C-contiguous float64 (a column slice, a transposed view, float32)
    receives the ranks (they used to go to a temporary copy and be lost)."""
    from scipy.stats import rankdata

    from neurorep._core.ranks import rank_rows

    x = np.round(rng.random((40, 900)) * 20)  # ties; several blocks
    ref = rankdata(x, axis=1)
    wide = np.zeros((40, 1000))
    assert rank_rows(x, out=wide[:, 50:950]) is not None
    np.testing.assert_array_equal(wide[:, 50:950], ref)
    assert not wide[:, :50].any() and not wide[:, 950:].any()
    tr = np.zeros((900, 40)).T  # F-ordered
    np.testing.assert_array_equal(rank_rows(x, out=tr), ref)
    np.testing.assert_array_equal(tr, ref)
    f32 = np.zeros((40, 900), dtype=np.float32)
    rank_rows(x, out=f32)
    np.testing.assert_array_equal(f32, ref.astype(np.float32))
    strided = x[:, ::2].copy()
    view = x[:, ::2]  # in place on a strided view of x
    rank_rows(view, out=view)
    np.testing.assert_array_equal(x[:, ::2], rankdata(strided, axis=1))
    with pytest.raises(ValueError, match="shape of x"):
        rank_rows(x, out=np.zeros((40, 899)))
