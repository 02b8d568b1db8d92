"""Flexible models (rsa.fit_*, crossval, bootstrap_crossval) equal rsatoolbox's on the same draws."""

from __future__ import annotations

import numpy as np
import pytest

from neurorep import NeurorepWarning, SchemaError, data, rsa
from neurorep.rsa._bootstrap import _Models
from neurorep.rsa._flexible import _bootstrap_crossval_engine, _cv_variances

rsatoolbox = pytest.importorskip("rsatoolbox")
pytestmark = pytest.mark.filterwarnings(
    "ignore:Noise ceiling for tau:UserWarning", "ignore:Method 'bounded':RuntimeWarning"
)
from rsatoolbox.inference import bootstrap_crossval, crossval, cv_noise_ceiling  # noqa: E402
from rsatoolbox.model import (  # noqa: E402
    ModelFixed,
    ModelInterpolate,
    ModelSelect,
    ModelWeighted,
)
from rsatoolbox.model.fitter import (  # noqa: E402
    _loss,
    fit_interpolate,
    fit_optimize,
    fit_regress_nn,
    fit_select,
)
from rsatoolbox.rdm import RDMs  # noqa: E402

N = 12
M = N * (N - 1) // 2
IDS = [f"c{i:02d}" for i in range(N)]


@pytest.fixture
def problem(rng):
    """3 components (one tied: a categorical RDM), 6 subjects, a fixed model."""
    comps = np.stack([rng.random(M), rng.random(M), np.round(rng.random(M) * 2)])
    subjects = comps[0] + 0.5 * comps[1] + 0.3 * comps[2] + 0.8 * rng.random((6, M))
    return comps, subjects


def _nr(comps, subjects):
    return (
        data.rdm(comps, stimulus=IDS, dim="component", index=["a", "b", "c"]),
        data.rdm(subjects, stimulus=IDS, dim="subject"),
    )


# ---------------------------------------------------------------- fits
@pytest.mark.parametrize("method", ["corr", "cosine"])
@pytest.mark.parametrize("ridge", [0.0, 0.3, 5.0])
def test_fit_weights_ridge_equals_rsatoolbox(problem, method, ridge):
    comps, subjects = problem
    c, d = _nr(comps, subjects)
    ours = rsa.fit_weights(c, d, method=method, ridge=ridge).values
    ref = fit_regress_nn(ModelWeighted("w", comps), RDMs(subjects), method=method,
                         ridge_weight=ridge)
    np.testing.assert_allclose(ours, ref, atol=1e-9)
    if ridge == 5.0:  # the penalty changes the answer (the test can fail)
        plain = rsa.fit_weights(c, d, method=method).values
        assert np.abs(plain - ours).max() > 1e-3


@pytest.mark.parametrize("method", ["corr", "cosine", "spearman", "tau-a", "rho-a"])
def test_fit_select_equals_rsatoolbox(problem, method):
    comps, subjects = problem
    c, d = _nr(comps, subjects)
    ours = rsa.fit_select(c, d, method=method)
    ref = fit_select(ModelSelect("s", comps), RDMs(subjects), method=method)
    assert int(np.argmax(ours.values)) == int(ref)
    assert ours.attrs["selected"] == ["a", "b", "c"][int(ref)]
    # a data set built from the last component selects it
    d2 = data.rdm(comps[2] + 0.01 * subjects, stimulus=IDS, dim="subject")
    assert rsa.fit_select(c, d2, method=method).attrs["selected"] == "c"


@pytest.mark.parametrize("method", ["corr", "cosine", "spearman"])
def test_fit_interpolate_equals_rsatoolbox(problem, rng, method):
    comps, _ = problem
    subjects = 0.35 * comps[1] + 0.65 * comps[2] + 0.3 * rng.random((4, M))
    c, d = _nr(comps, subjects)
    ours = rsa.fit_interpolate(c, d, method=method).values
    ref = fit_interpolate(ModelInterpolate("i", comps), RDMs(subjects), method=method)
    # same bounded Brent search on the same loss: equal up to its xtol (1e-5)
    np.testing.assert_allclose(ours, ref, atol=1e-4)
    assert ours[0] == 0 and abs(ours.sum() - 1) < 1e-12


@pytest.mark.parametrize(("method", "ridge"), [("corr", 0.0), ("cosine", 0.05), ("corr_cov", 0.0)])
def test_fit_optimize_reaches_rsatoolbox_optimum(problem, method, ridge):
    comps, subjects = problem
    c, d = _nr(comps, subjects)
    ours = rsa.fit_optimize(c, d, method=method, ridge=ridge, rng=0).values
    np.random.seed(0)  # noqa: NPY002 -- rsatoolbox's random starts use the legacy global state
    model = ModelWeighted("w", comps)
    ref = fit_optimize(model, RDMs(subjects), method=method, ridge_weight=ridge)
    # both are scaled to unit norm after the search: compare the scores there
    loss_ours = _loss(ours, model, RDMs(subjects), method=method)
    loss_ref = _loss(ref, model, RDMs(subjects), method=method)
    assert loss_ours <= loss_ref + (1e-7 if ridge == 0 else 1e-5)
    np.testing.assert_allclose(ours, ref, atol=2e-3)
    if method == "corr" and ridge == 0:  # the NNLS optimum (all weights positive here)
        np.testing.assert_allclose(ours, rsa.fit_weights(c, d, method="corr").values, atol=2e-3)


def test_fit_optimize_positive_is_non_negative(problem):
    comps, subjects = problem
    c, d = _nr(comps, subjects)
    neg = data.rdm(np.stack([comps[0], -comps[1]]) + 2, stimulus=IDS, dim="component")
    w = rsa.fit_optimize(neg, d, positive=True, rng=1).values
    assert (w >= 0).all() and abs(np.linalg.norm(w) - 1) < 1e-12


def test_fit_bad_input(problem):
    comps, subjects = problem
    c, d = _nr(comps, subjects)
    with pytest.raises(ValueError, match="ridge must be a finite number >= 0"):
        rsa.fit_weights(c, d, ridge=-1)
    with pytest.raises(SchemaError, match="components must be a stack"):
        rsa.fit_select(c[0], d)
    with pytest.raises(SchemaError, match="at least 2 components"):
        rsa.fit_interpolate(c[:1], d)
    with pytest.raises(ValueError, match="fit"):
        rsa.crossval(data=d, models={"m": c}, fit="lasso", rng=0)


# ---------------------------------------------------------------- folds, crossval
def _rsatoolbox_sets(folds, subjects):
    """rsatoolbox (train, test, ceil) sets holding exactly neurorep's folds."""
    rdms = RDMs(subjects)
    train, test, ceil = [], [], []
    for i in range(folds.sizes["fold"]):
        f = folds.isel(fold=i)
        tr_s = list(np.flatnonzero(f.train_subject.values))
        te_s = list(np.flatnonzero(f.test_subject.values))
        tr_c = list(np.flatnonzero(f.train_stimulus.values))
        te_c = list(np.flatnonzero(f.test_stimulus.values))
        r_tr, r_te = rdms.subsample("index", tr_s), rdms.subsample("index", te_s)
        train.append([r_tr.subset_pattern("index", tr_c), tr_c])
        test.append([r_te.subset_pattern("index", te_c), te_c])
        ceil.append([r_tr.subset_pattern("index", te_c), te_c])
    return rdms, train, test, ceil


def test_make_folds_partition(problem):
    _, subjects = problem
    d = data.rdm(subjects, stimulus=IDS, dim="subject")
    f = rsa.make_folds(d, cv=5, subject_cv=4, rng=3)
    assert f.sizes["fold"] == 20
    # every subject group's stimulus folds partition the stimuli; groups of 2 and 3 (12 = 5*2+2)
    sizes = f.test_stimulus.sum("stimulus").values
    assert sorted(set(sizes.tolist())) == [2, 3]
    for g in range(4):
        block = f.test_stimulus.values[5 * g : 5 * g + 5]
        assert (block.sum(axis=0) == 1).all()
        assert not (f.train_stimulus.values[5 * g : 5 * g + 5] & block).any()
    assert (f.test_subject.values[::5].sum(axis=0) == 1).all()
    with pytest.raises(ValueError, match="at most one group per item"):
        rsa.make_folds(d, cv=13)


@pytest.mark.parametrize("method", ["corr", "cosine", "spearman", "tau-a"])
def test_cv_ceiling_equals_rsatoolbox(problem, method):
    comps, subjects = problem
    d = data.rdm(subjects, stimulus=IDS, dim="subject")
    folds = rsa.make_folds(d, cv=3, subject_cv=2, rng=1)
    rdms, _, test, ceil = _rsatoolbox_sets(folds, subjects)
    ref = cv_noise_ceiling(rdms, ceil, test, method=method)
    ours = rsa.compute_cv_ceiling(d, cv=folds, method=method)
    np.testing.assert_allclose(ours.values, ref, atol=1e-10)


@pytest.mark.parametrize("method", ["corr", "cosine", "spearman"])
@pytest.mark.parametrize("subject_cv", [1, 2])
def test_crossval_equals_rsatoolbox(problem, method, subject_cv):
    comps, subjects = problem
    c, d = _nr(comps, subjects)
    folds = rsa.make_folds(d, cv=3, subject_cv=subject_cv, rng=2)
    rdms, train, test, ceil = _rsatoolbox_sets(folds, subjects)
    fits = {"fixed": "nnls", "sel": "select", "interp": "interpolate"}
    ours_models = {"fixed": c[0], "sel": c, "interp": c}
    if method != "spearman":
        ours_models["nn"] = c
        fits["nn"] = "nnls"
    ours = rsa.crossval(data=d, models=ours_models, method=method, cv=folds, fit=fits)
    ref_models = [ModelFixed("fixed", comps[0]), ModelSelect("sel", comps),
                  ModelInterpolate("interp", comps)]
    fitters = [None, fit_select, fit_interpolate]
    if method != "spearman":
        ref_models.append(ModelWeighted("nn", comps))
        fitters.append(fit_regress_nn)
    fitters = [f if f is not None else (lambda m, d, **k: None) for f in fitters]
    res = crossval(ref_models, rdms, train, test, ceil_set=ceil if subject_cv > 1 else None,
                   method=method, fitter=fitters)
    ref_folds = res.evaluations[0].T  # (fold, model)
    np.testing.assert_allclose(ours.score_folds.values, ref_folds, atol=2e-6)
    nc = np.asarray(res.noise_ceiling)
    ref_ceil = nc if nc.ndim == 1 else nc.mean(axis=1)
    np.testing.assert_allclose(ours.ceiling.values, ref_ceil, atol=1e-10)


# ---------------------------------------------------------------- bootstrap_crossval
def _recorded_bootstrap_crossval(monkeypatch, ref_models, rdms, **kw):
    """rsatoolbox's bootstrap_crossval, recording its resamples and its fold shuffles."""
    import rsatoolbox.inference.evaluate as ev

    samples: list[tuple[np.ndarray, np.ndarray]] = []
    shuffles: list[np.ndarray] = []
    orig_sample, orig_shuffle = ev.bootstrap_sample, np.random.shuffle

    def sample(*a, **k):
        out = orig_sample(*a, **k)
        samples.append((np.asarray(out[1]).copy(), np.asarray(out[2]).copy()))
        return out

    def shuffle(x):
        orig_shuffle(x)
        shuffles.append(np.asarray(x).copy())

    monkeypatch.setattr(ev, "bootstrap_sample", sample)
    monkeypatch.setattr(np.random, "shuffle", shuffle)
    try:
        res = bootstrap_crossval(ref_models, rdms, **kw)
    finally:
        monkeypatch.setattr(ev, "bootstrap_sample", orig_sample)
        monkeypatch.setattr(np.random, "shuffle", orig_shuffle)
    return res, samples, shuffles


@pytest.mark.parametrize("method", ["corr", "cosine"])
@pytest.mark.parametrize("k_rdm", [1, 2])
def test_bootstrap_crossval_equals_rsatoolbox(monkeypatch, problem, method, k_rdm):
    comps, subjects = problem
    ref_models = [ModelFixed("fixed", comps[0]), ModelWeighted("nn", comps),
                  ModelSelect("sel", comps)]
    n_boot, n_cv, k_pat = 6, 2, 2
    res, samples, shuffles = _recorded_bootstrap_crossval(
        monkeypatch, ref_models, RDMs(subjects), method=method, N=n_boot, n_cv=n_cv,
        k_pattern=k_pat, k_rdm=k_rdm, fitter=[lambda m, d, **k: None, fit_regress_nn,
                                              fit_select],
    )
    subj_idx = np.stack([s[0] for s in samples])
    stim_idx = np.stack([s[1] for s in samples])
    # the shuffles of each (sample, repetition): 1 subject order + k_rdm stimulus orders
    perms, pos = [], 0
    for b in range(n_boot):
        ok = (np.unique(subj_idx[b]).size >= k_rdm
              and np.unique(stim_idx[b]).size >= 3 * k_pat)
        reps = []
        for _ in range(n_cv if ok else 0):
            reps.append(shuffles[pos : pos + 1 + k_rdm])
            pos += 1 + k_rdm
        perms.append(reps)
    assert pos == len(shuffles)
    mods = _Models(["fixed", "nn", "sel"], fixed_rows={0: comps[0]},
                   weighted={1: comps, 2: comps}, fits={1: "nnls", 2: "select"})
    evals, ceil = _bootstrap_crossval_engine(
        mods, subjects, method, N, subj_idx, stim_idx, k_subject=k_rdm, k_stimulus=k_pat,
        n_cv=n_cv, gen=np.random.default_rng(0), perms=perms,
    )
    ref_e = np.asarray(res.evaluations)
    assert np.isfinite(ref_e).mean() > 0.5  # most samples usable: the comparison is not vacuous
    np.testing.assert_allclose(evals, ref_e, atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(ceil, np.asarray(res.noise_ceiling), atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(_cv_variances(evals, ceil), res.variances, atol=1e-12)


def test_bootstrap_crossval_public(problem):
    comps, subjects = problem
    c, d = _nr(comps, subjects)
    res = rsa.bootstrap_crossval(data=d, models={"fixed": c[1], "nn": c}, n_bootstrap=30, cv=2,
                                 subject_cv=2, rng=0)
    assert set(res.data_vars) >= {"score", "ci_low", "ci_high", "pvalue", "ceiling",
                                  "score_samples", "ceiling_samples", "variance"}
    assert res.ceiling.dims == ("bound",)
    assert float(res.score.sel(model="nn")) > float(res.score.sel(model="fixed"))
    # deterministic under rng, and stimulus order does not matter
    again = rsa.bootstrap_crossval(data=d, models={"fixed": c[1], "nn": c}, n_bootstrap=30, cv=2,
                                   subject_cv=2, rng=0)
    np.testing.assert_array_equal(res.score_samples.values, again.score_samples.values)
    with pytest.raises(ValueError, match="needs >= 39 stimuli"):
        rsa.bootstrap_crossval(data=d, models={"nn": c}, cv=13, rng=0)


# ---------------------------------------------------------------- evaluate's fit options
@pytest.mark.parametrize("method", ["corr", "cosine"])
@pytest.mark.parametrize("ridge", [0.0, 0.3, 5.0])
def test_evaluate_fit_and_ridge_equal_rsatoolbox_fits(problem, method, ridge):
    from rsatoolbox.rdm import compare as rsa_compare

    comps, subjects = problem
    c, d = _nr(comps, subjects)
    models = {"nn": c, "sel": c, "fixed": c[0]}
    with pytest.warns(NeurorepWarning, match="cv=1"):  # fitted and scored on all the data
        res = rsa.evaluate(data=d, models=models, method=method, cv=1, bootstrap="none",
                           fit={"nn": "nnls", "sel": "select"}, ridge=ridge, rng=0)
    rdms = RDMs(subjects)
    theta = fit_regress_nn(ModelWeighted("nn", comps), rdms, method=method, ridge_weight=ridge)
    np.testing.assert_allclose(res.weights.sel(model="nn").values, theta, atol=1e-9)
    pred = ModelWeighted("nn", comps).predict_rdm(theta)
    ref = float(np.mean(rsa_compare(pred, rdms, method=method)))
    assert float(res.score.sel(model="nn")) == pytest.approx(ref, abs=1e-10)
    sel = fit_select(ModelSelect("sel", comps), rdms, method=method)
    assert res.weights.sel(model="sel").values[int(sel)] == 1.0
    assert res.attrs["ridge"] == ridge and res.attrs["fit"] == "nn: nnls, sel: select"
    if ridge == 5.0:  # the penalty moves the weights (the test can fail)
        with pytest.warns(NeurorepWarning, match="cv=1"):
            plain = rsa.evaluate(data=d, models={"nn": c}, method=method, cv=1,
                                 bootstrap="none", rng=0)
        assert np.abs(plain.weights.values - res.weights.sel(model="nn").values).max() > 1e-3


def test_evaluate_fit_options_with_cv_and_bootstrap(problem):
    comps, subjects = problem
    c, d = _nr(comps, subjects)
    kw = dict(data=d, models={"nn": c}, cv=2, bootstrap="subject", n_bootstrap=20, rng=1)
    plain = rsa.evaluate(**kw)
    penalised = rsa.evaluate(**kw, ridge=50.0)
    assert np.isfinite(penalised.score_samples).all()
    assert not np.allclose(plain.score_samples, penalised.score_samples)
    with pytest.raises(ValueError, match="fit"):
        rsa.evaluate(**kw, fit="bogus")
    with pytest.raises(ValueError, match="nnls fit of weighted models, 'nn'"):
        rsa.evaluate(data=d, models={"nn": c}, method="spearman", cv=2, bootstrap="none")
    sp = rsa.evaluate(data=d, models={"nn": c}, method="spearman", cv=2, bootstrap="none",
                      fit="select", rng=0)
    assert sp.attrs["fit"] == "nn: select"
    with pytest.raises(ValueError, match="ridge must be a finite number >= 0"):
        rsa.evaluate(**kw, ridge=-1.0)
