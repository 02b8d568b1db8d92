"""neurorep.rsa.evaluate: bootstrap samples, ceilings and tests equal rsatoolbox's."""

from __future__ import annotations

import numpy as np
import pytest

from neurorep import AlignmentError, NeurorepWarning, SchemaError, data, rsa
from neurorep.rsa._bootstrap import _bootstrap_engine, _Models
from neurorep.rsa._evaluate import _inference

rsatoolbox = pytest.importorskip("rsatoolbox")
pytestmark = pytest.mark.filterwarnings("ignore:Noise ceiling for tau:UserWarning")
from rsatoolbox.inference import (  # noqa: E402
    boot_noise_ceiling,
    eval_bootstrap,
    eval_bootstrap_pattern,
    eval_bootstrap_rdm,
    eval_dual_bootstrap,
)
from rsatoolbox.model import ModelFixed, ModelWeighted  # noqa: E402
from rsatoolbox.model.fitter import fit_regress_nn  # noqa: E402
from rsatoolbox.rdm import RDMs  # noqa: E402

N = 12
M = N * (N - 1) // 2
IDS = [f"c{i:02d}" for i in range(N)]


@pytest.fixture
def problem(rng):
    truth = rng.random(M)
    subjects = truth + 0.6 * rng.random((5, M))
    models = np.stack([truth + 0.4 * rng.random(M), rng.random(M), np.round(truth * 2)])
    return models, subjects


def _recorded(monkeypatch, fn, *args, **kw):
    """Run an rsatoolbox bootstrap while recording its np.random.randint draws."""
    draws: list[np.ndarray] = []
    orig = np.random.randint

    def record(*a, **k):
        out = orig(*a, **k)
        draws.append(np.asarray(out))
        return out

    monkeypatch.setattr(np.random, "randint", record)
    res = fn(*args, **kw)
    monkeypatch.setattr(np.random, "randint", orig)
    return res, draws


# ---------------------------------------------------------------- reference
@pytest.mark.parametrize("method", ["corr", "cosine", "spearman", "rho-a", "tau-a", "cosine_cov"])
@pytest.mark.parametrize("kind", ["both", "stimulus", "subject"])
def test_bootstrap_samples_equal_rsatoolbox(monkeypatch, problem, method, kind):
    """Same draws -> the same per-sample model scores and noise ceilings."""
    models, subjects = problem
    fns = {
        "both": eval_bootstrap,
        "stimulus": eval_bootstrap_pattern,
        "subject": eval_bootstrap_rdm,
    }
    rmodels = [ModelFixed(f"m{k}", RDMs(models[k : k + 1])) for k in range(3)]
    res, draws = _recorded(monkeypatch, fns[kind], rmodels, RDMs(subjects), method=method, N=12)
    if kind == "both":
        subj, stim = np.stack(draws[0::2]), np.stack(draws[1::2])
    elif kind == "stimulus":
        subj, stim = None, np.stack(draws)
    else:
        subj, stim = np.stack(draws), None
    mods = _Models(["m0", "m1", "m2"], fixed_rows={k: models[k] for k in range(3)})
    paths = [False, True] if method in ("corr", "cosine", "spearman", "rho-a") else [False]
    for vectorised in paths:
        scores, ceil = _bootstrap_engine(
            mods, subjects, method, N, subj, stim, vectorised=vectorised
        )
        np.testing.assert_allclose(scores, res.evaluations, atol=1e-12)
        np.testing.assert_allclose(ceil.T, res.noise_ceiling, atol=1e-12)


@pytest.mark.parametrize("kind", ["both", "stimulus"])
def test_t_tests_equal_rsatoolbox_result(monkeypatch, problem, kind):
    models, subjects = problem
    rmodels = [ModelFixed(f"m{k}", RDMs(models[k : k + 1])) for k in range(3)]
    fn = eval_bootstrap if kind == "both" else eval_bootstrap_pattern
    res, draws = _recorded(monkeypatch, fn, rmodels, RDMs(subjects), method="corr", N=40)
    subj, stim = (
        (np.stack(draws[0::2]), np.stack(draws[1::2]))
        if kind == "both"
        else (None, np.stack(draws))
    )
    mods = _Models(["m0", "m1", "m2"], fixed_rows={k: models[k] for k in range(3)})
    scores, ceil = _bootstrap_engine(mods, subjects, "corr", N, subj, stim)
    n_eff = min(5, N) if kind == "both" else N
    low, high, p0, pnc, ppair = _inference(
        scores, ceil, scores.mean(axis=0), n_eff=n_eff, dof=n_eff - 1, test="t", ci=0.95
    )
    np.testing.assert_allclose(p0, res.test_zero(), atol=1e-12)
    np.testing.assert_allclose(pnc, res.test_noise(), atol=1e-10)
    np.testing.assert_allclose(ppair, res.test_pairwise(), atol=1e-10)
    np.testing.assert_allclose([low, high], res.get_ci(0.95), atol=1e-12)


@pytest.mark.parametrize("method", ["corr", "spearman"])
def test_dual_bootstrap_equals_rsatoolbox(monkeypatch, problem, method):
    """eval_dual_bootstrap: same draws -> the three sample sets and the corrected tests."""
    models, subjects = problem
    rmodels = [ModelFixed(f"m{k}", RDMs(models[k : k + 1])) for k in range(3)]
    res, draws = _recorded(
        monkeypatch, eval_dual_bootstrap, rmodels, RDMs(subjects), method=method, N=30
    )
    subj, stim = np.stack(draws[0::2]), np.stack(draws[1::2])
    mods = _Models(["m0", "m1", "m2"], fixed_rows={k: models[k] for k in range(3)})
    sets = [
        _bootstrap_engine(mods, subjects, method, N, a, b)
        for a, b in ((subj, stim), (subj, None), (None, stim))
    ]
    for t, (sc, ce) in enumerate(sets):  # both, subjects only, stimuli only
        np.testing.assert_allclose(sc, res.evaluations[:, :, 0, 0, t], atol=1e-12)
        np.testing.assert_allclose(ce.T, res.noise_ceiling[:, :, 0, t], atol=1e-12)
    n_subj = subjects.shape[0]
    _, _, p0, pnc, ppair = _inference(
        sets[0][0],
        sets[0][1],
        sets[0][0].mean(axis=0),
        n_eff=min(n_subj, N),
        dof=min(n_subj, N) - 1,
        test="t",
        ci=0.95,
        dual=(sets, n_subj, N),
    )
    np.testing.assert_allclose(p0, res.test_zero(), atol=1e-12)
    np.testing.assert_allclose(pnc, res.test_noise(), atol=1e-10)
    np.testing.assert_allclose(ppair, res.test_pairwise(), atol=1e-10)


def test_dual_bootstrap_through_evaluate(problem):
    models, subjects = problem
    mods = data.rdm(models, stimulus=IDS, dim="model")
    subj = data.rdm(subjects, stimulus=IDS, dim="subject")
    both = rsa.evaluate(data=subj, models=mods, bootstrap="both", n_bootstrap=300, rng=1)
    dual = rsa.evaluate(data=subj, models=mods, bootstrap="dual", n_bootstrap=300, rng=1)
    assert dual.attrs["bootstrap"] == "dual"
    np.testing.assert_allclose(dual.score, both.score)
    np.testing.assert_allclose(dual.score_samples, both.score_samples)  # same draws
    # the correction can only shrink the two-factor variance (it is clipped to V_both)
    assert ((dual.ci_high - dual.ci_low) <= (both.ci_high - both.ci_low) + 1e-12).all()
    with pytest.raises(ValueError, match="test='bootstrap'"):
        rsa.evaluate(data=subj, models=mods, bootstrap="dual", test="bootstrap")


@pytest.mark.parametrize("method", ["corr", "spearman", "cosine", "tau-a"])
def test_ceiling_equals_rsatoolbox(problem, method):
    _, subjects = problem
    ref = boot_noise_ceiling(RDMs(subjects), method=method)
    got = rsa.compute_ceiling(data.rdm(subjects, stimulus=IDS, dim="subject"), method=method)
    np.testing.assert_allclose(got.values, ref, atol=1e-12)


@pytest.mark.parametrize("method", ["corr", "spearman", "tau-a", "cosine_cov"])
def test_condensed_stacks_evaluate_as_square_ones(problem, rng, method):
    """data.condense'd data and models (any stimulus order, mixed with square ones) give the
    square stacks' results; their values are read, never written."""
    models, subjects = problem
    subj = data.rdm(subjects, stimulus=IDS, dim="subject")
    mods = data.rdm(models, stimulus=IDS, dim="model", index=["a", "b", "c"])
    perm = rng.permutation(N)
    shuffled = data.condense(mods.isel(stimulus_i=perm, stimulus_j=perm))
    cs = data.condense(subj)
    kept = cs.values.copy()
    want = rsa.evaluate(data=subj, models=mods, method=method, n_bootstrap=20, rng=1)
    for d, mo in ((cs, data.condense(mods)), (cs, mods), (subj, shuffled), (cs, shuffled)):
        got = rsa.evaluate(data=d, models=mo, method=method, n_bootstrap=20, rng=1)
        for name in ("score", "ceiling", "score_samples", "ceiling_samples", "pvalue_pairwise"):
            np.testing.assert_allclose(got[name].values, want[name].values, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(cs.values, kept)
    if method != "cosine_cov":
        ref = boot_noise_ceiling(RDMs(subjects), method=method)
        np.testing.assert_allclose(rsa.compute_ceiling(cs, method=method).values, ref, atol=1e-12)


def test_condensed_weighted_models_inner_join_and_refusals(problem, rng):
    models, subjects = problem
    subj = data.rdm(subjects, stimulus=IDS, dim="subject")
    comps = data.rdm(models[:2], stimulus=IDS, dim="component", index=["t", "r"])
    fixed = data.rdm(models[2], stimulus=IDS)
    kw = {"n_bootstrap": 10, "rng": 2, "cv": 2}
    want = rsa.evaluate(data=subj, models={"w": comps, "f": fixed}, **kw)
    got = rsa.evaluate(
        data=data.condense(subj), models={"w": data.condense(comps), "f": data.condense(fixed)},
        **kw,
    )
    np.testing.assert_allclose(got.weights.values, want.weights.values, rtol=1e-10)
    np.testing.assert_allclose(got.score.values, want.score.values, rtol=1e-10)
    part = data.condense(subj.isel(stimulus_i=slice(0, 9), stimulus_j=slice(0, 9)))
    mods = data.condense(data.rdm(models, stimulus=IDS, dim="model"))
    with pytest.raises(AlignmentError, match="join='inner'"):
        rsa.evaluate(data=part, models=mods)
    want = rsa.evaluate(data=subj.isel(stimulus_i=slice(0, 9), stimulus_j=slice(0, 9)),
                        models=data.rdm(models, stimulus=IDS, dim="model"), join="inner",
                        n_bootstrap=10, rng=0)
    got = rsa.evaluate(data=part, models=mods, join="inner", n_bootstrap=10, rng=0)
    np.testing.assert_allclose(got.score_samples.values, want.score_samples.values, rtol=1e-12)
    with pytest.raises(SchemaError, match="uncondense"):
        rsa.fit_weights(comps, data.condense(subj))


@pytest.mark.parametrize("method", ["corr", "cosine"])
def test_fit_weights_equals_fit_regress_nn(problem, rng, method):
    models, subjects = problem
    comps = np.stack([models[0], rng.random(M), rng.random(M)])
    ref = fit_regress_nn(ModelWeighted("w", RDMs(comps)), RDMs(subjects), method=method)
    got = rsa.fit_weights(
        data.rdm(comps, stimulus=IDS, dim="component"),
        data.rdm(subjects, stimulus=IDS, dim="subject"),
        method=method,
    )
    np.testing.assert_allclose(got.values, ref, atol=1e-10)


# ------------------------------------------------------- truths, invariances
def _rdms(values, dim, index=None):
    return data.rdm(values, stimulus=IDS, dim=dim, index=index)


def test_planted_model_wins_and_result_layout(problem):
    models, subjects = problem
    res = rsa.evaluate(
        data=_rdms(subjects, "subject"), models=_rdms(models, "model", ["good", "noise", "coarse"]),
        n_bootstrap=200,
        rng=0,
    )
    assert set(res.data_vars) >= {
        "score",
        "ci_low",
        "ci_high",
        "ceiling",
        "pvalue",
        "pvalue_pairwise",
        "pvalue_ceiling",
        "score_samples",
    }
    assert res.score.dims == ("model",)
    assert res.ceiling.bound.values.tolist() == ["lower", "upper"]
    s = res.score
    assert float(s.sel(model="good")) > float(s.sel(model="noise"))
    assert float(res.pvalue.sel(model="good")) < 0.01
    assert float(res.pvalue_pairwise.sel(model="good", model_b="noise")) < 0.05
    assert (res.ci_low <= res.score).all() and (res.score <= res.ci_high).all()
    lo, up = res.ceiling.values
    assert lo <= up
    # reproducible with a seed, different with another seed
    again = rsa.evaluate(
        data=_rdms(subjects, "subject"), models=_rdms(models, "model", ["good", "noise", "coarse"]),
        n_bootstrap=200,
        rng=0,
    )
    np.testing.assert_array_equal(again.score_samples.values, res.score_samples.values)


def test_stimulus_order_and_percentile_test(problem):
    models, subjects = problem
    mods = _rdms(models, "model")
    subj = _rdms(subjects, "subject")
    perm = np.random.default_rng(3).permutation(N)
    shuffled = mods.isel(stimulus_i=perm, stimulus_j=perm)
    a = rsa.evaluate(data=subj, models=mods, bootstrap="none")
    b = rsa.evaluate(data=subj, models=shuffled, bootstrap="none")
    np.testing.assert_allclose(a.score.values, b.score.values, atol=1e-12)
    res = rsa.evaluate(data=subj, models=mods, n_bootstrap=100, test="bootstrap", rng=1, bootstrap="stimulus")
    q = np.nanquantile(res.score_samples.values, [0.025, 0.975], axis=0)
    np.testing.assert_allclose([res.ci_low.values, res.ci_high.values], q)


def test_weighted_model_recovers_planted_mixture(rng):
    a, b, c = rng.random((3, M))
    truth = 0.7 * a + 0.3 * b
    subjects = _rdms(truth + 0.15 * rng.random((6, M)), "subject")
    comps = data.rdm(np.stack([a, b, c]), stimulus=IDS, dim="component", index=["a", "b", "c"])
    models = {
        "mix": comps,
        "a_only": data.rdm(a, stimulus=IDS),
        "c_only": data.rdm(c, stimulus=IDS),
    }
    res = rsa.evaluate(
        data=subjects, models=models, method="corr", bootstrap="subject", n_bootstrap=30, cv=2, rng=0
    )
    assert res.model_kind.sel(model="mix") == "weighted"
    w = res.weights.sel(model="mix")
    assert float(w.sel(component="a")) > float(w.sel(component="b")) > float(w.sel(component="c"))
    assert float(res.score.sel(model="mix")) > float(res.score.sel(model="a_only"))
    assert float(res.score.sel(model="c_only")) < 0.3


def test_data_with_several_leading_dims(problem):
    models, subjects = problem
    two = data.rdm(
        np.stack([subjects, subjects[::-1]]).reshape(10, M), stimulus=IDS, dim="rdm"
    ).values.reshape(5, 2, N, N)
    import xarray as xr

    stack = xr.DataArray(
        two,
        dims=("subject", "session", "stimulus_i", "stimulus_j"),
        coords={"stimulus_i": IDS, "stimulus_j": IDS},
    )
    with pytest.raises(SchemaError, match="several leading dims"):
        rsa.evaluate(data=stack, models=_rdms(models, "model"), bootstrap="none")
    res = rsa.evaluate(data=stack, models=_rdms(models, "model"), dim="subject", bootstrap="none")
    assert res.attrs["n_subjects"] == 5


# ---------------------------------------------------------------- bad input
def test_too_few_subjects_to_bootstrap(problem):
    models, subjects = problem
    with pytest.raises(SchemaError, match="at least 3 subjects"):
        rsa.evaluate(data=_rdms(subjects[:2], "subject"), models=_rdms(models, "model"), bootstrap="subject")
    single = data.rdm(subjects[0], stimulus=IDS)
    with pytest.raises(SchemaError, match="at least 3 subjects"):
        rsa.evaluate(data=single, models=_rdms(models, "model"), bootstrap="both")
    res = rsa.evaluate(data=single, models=_rdms(models, "model"), bootstrap="stimulus", n_bootstrap=20, rng=0)
    assert np.isnan(res.ceiling.values).all() and np.isfinite(res.score.values).all()


def test_bad_options(problem):
    models, subjects = problem
    mods, subj = _rdms(models, "model"), _rdms(subjects, "subject")
    with pytest.raises(ValueError, match="bootstrap must be one of"):
        rsa.evaluate(data=subj, models=mods, bootstrap="rdm")
    with pytest.raises(ValueError, match="n_bootstrap must be"):
        rsa.evaluate(data=subj, models=mods, n_bootstrap=1)
    comps = data.rdm(models, stimulus=IDS, dim="component")
    with pytest.raises(ValueError, match="weighted models"):
        rsa.evaluate(data=subj, models={"w": comps}, method="spearman")
    with pytest.warns(NeurorepWarning, match="optimistically biased"):
        rsa.evaluate(data=subj, models={"w": comps}, cv=1, bootstrap="none")
    with pytest.raises(ValueError, match="cv"):
        rsa.evaluate(data=subj, models={"w": comps}, cv=5)


@pytest.mark.parametrize("n_bootstrap", [2.5, 100.0, "100", True])
def test_n_bootstrap_must_be_an_integer(problem, n_bootstrap):
    models, subjects = problem
    with pytest.raises(ValueError, match=r"n_bootstrap must be an integer >= 2; got .*n_bootstrap=1000"):
        rsa.evaluate(data=_rdms(subjects, "subject"), models=_rdms(models, "model"), n_bootstrap=n_bootstrap)


def test_cv_folds_and_sigma_k_are_checked(problem, rng):
    models, subjects = problem
    mods, subj = _rdms(models, "model"), _rdms(subjects, "subject")
    with pytest.raises(ValueError, match=r"cv must be an integer >= 1; got 2.5"):
        rsa.evaluate(data=subj, models=mods, cv=2.5, bootstrap="none")
    a = rng.normal(size=(N, 3))
    with pytest.raises(SchemaError, match="sigma_k: the pattern covariance must be positive definite"):
        rsa.evaluate(data=subj, models=mods, method="corr_cov", sigma_k=a @ a.T, bootstrap="subject",
                     n_bootstrap=5)
    with pytest.raises(SchemaError, match=r"variance > 0"):
        rsa.evaluate(data=subj, models=mods, method="cosine_cov", sigma_k=np.r_[np.ones(N - 1), 0.0],
                     bootstrap="none")
    good = a @ a.T + np.eye(N)
    res = rsa.evaluate(data=subj, models=mods, method="corr_cov", sigma_k=good, bootstrap="none")
    want = rsa.compare(mods, subj, method="corr_cov", sigma_k=good).mean("subject")
    np.testing.assert_allclose(res.score.values, want.values, atol=1e-12)


def test_complex_rdms_are_refused(problem):
    import xarray as xr

    models, subjects = problem
    mods, subj = _rdms(models, "model"), _rdms(subjects, "subject")
    cplx = xr.DataArray(subj.values + 0j, dims=subj.dims, coords=subj.coords)
    with pytest.raises(SchemaError, match=r"^data: values must be real"):
        rsa.evaluate(data=cplx, models=mods, bootstrap="none")
    with pytest.raises(SchemaError, match=r"^models: values must be real"):
        rsa.evaluate(data=subj, models=mods.copy(data=mods.values + 0j), bootstrap="none")


def test_bad_rdm_values_are_named(problem):
    """inf or asymmetry in a model or a subject RDM: SchemaError naming the culprit (a NaN
    pair, missing at (i, j) and (j, i), is a missing dissimilarity, #18)."""
    models, subjects = problem
    mods, subj = _rdms(models, "model"), _rdms(subjects, "subject")
    bad = subj.copy()
    bad.values[3, 2, 7] = np.inf
    with pytest.raises(SchemaError, match=r"^data: values must be finite.*'subject': 3"):
        rsa.evaluate(data=bad, models=mods, bootstrap="none")
    tilted = mods.isel(model=1).copy()
    tilted.values[0, 1] += 0.5
    with pytest.raises(SchemaError, match=r"^models\['tilted'\]: an RDM must be symmetric"):
        rsa.evaluate(data=subj, models={"ok": mods.isel(model=0), "tilted": tilted}, bootstrap="none")
    with pytest.raises(SchemaError, match=r"^data: values must be finite"):
        rsa.compute_ceiling(bad)


def test_mismatched_stimuli_are_rejected(problem):
    from neurorep import AlignmentError

    models, subjects = problem
    other = data.rdm(subjects, stimulus=[f"z{i}" for i in range(N)], dim="subject")
    with pytest.raises(AlignmentError):
        rsa.evaluate(data=other, models=_rdms(models, "model"))


# ---------------------------------------------------------------- real data
def test_kriegeskorte_categories_explain_human_it(data_home):
    from neurorep import datasets

    mem = data.members(datasets.load("kriegeskorte2008_92img", data_home=data_home))
    models = rsa.stack_rdms({k.split("/")[1]: v for k, v in mem.items() if k.startswith("models/")})
    hit = mem["human_IT"].mean("session")
    res = rsa.evaluate(data=hit, models=models, method="corr", bootstrap="both", n_bootstrap=100, rng=0)
    best = str(res.model.values[int(np.argmax(res.score.values))])
    assert best == "animacy"
    assert float(res.pvalue.sel(model="animacy")) < 0.05
    lo, up = res.ceiling.values
    assert 0 < lo < up < 1


# ------------------------------------------- neurorep.stats._bootstrap helpers
def test_bootstrap_helpers():
    from neurorep.stats._bootstrap import (
        as_generator,
        bootstrap_indices,
        bootstrap_pvalue,
        counts_from_indices,
        percentile_ci,
    )

    idx = bootstrap_indices(7, 50, rng=3)
    assert idx.shape == (50, 7) and idx.min() >= 0 and idx.max() < 7
    assert (np.diff(idx, axis=1) >= 0).all()  # sorted rows: duplicates adjacent
    np.testing.assert_array_equal(idx, bootstrap_indices(7, 50, rng=3))
    counts = counts_from_indices(idx, 7)
    assert (counts.sum(axis=1) == 7).all()
    np.testing.assert_array_equal(counts[4], np.bincount(idx[4], minlength=7))
    x = np.random.default_rng(0).normal(size=(400, 3))
    x[5, 1] = np.nan
    low, high = percentile_ci(x, ci=0.9)
    np.testing.assert_allclose(low, np.nanquantile(x, 0.05, axis=0))
    np.testing.assert_allclose(high, np.nanquantile(x, 0.95, axis=0))
    assert float(bootstrap_pvalue(np.full(99, 2.0))) == pytest.approx(0.01)
    assert float(bootstrap_pvalue(np.full(99, -2.0))) == pytest.approx(1.0)
    assert float(bootstrap_pvalue(np.r_[np.ones(50), -np.ones(50)], alternative="two-sided")) <= 1
    with pytest.raises(TypeError, match="rng must be"):
        as_generator("seed")
    with pytest.raises(ValueError, match="ci must lie"):
        percentile_ci(x, ci=95)
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 3\)"):
        counts_from_indices(np.array([[0, 5]]), 3)
    with pytest.raises(ValueError, match="alternative must be"):
        bootstrap_pvalue(x, alternative="bigger")


@pytest.mark.parametrize("base", [1.0, 3.0, 1e8])
def test_ulp_wide_rdms_bootstrap_exact(base):
    # RDMs only a few ulps wide (base + k * ulp): the vectorised bootstrap (one centring,
    # then weighted moments) and the per-sample path (its pooled ceiling z-scores each RDM)
    # must score as the same computation on the integer offsets k, which corr cannot tell
    # apart (corr and the z-scored pool are invariant to shifting and scaling each RDM)
    from neurorep.stats import bootstrap_indices

    g = np.random.default_rng(0)
    n = 10
    m = n * (n - 1) // 2
    ulp = np.spacing(base)
    k_subj = g.integers(0, 4, size=(6, m)).astype(float)
    k_mod = g.integers(0, 4, size=(3, m)).astype(float)
    names = ["a", "b", "c"]
    mods = _Models(names, fixed_rows={i: base + k_mod[i] * ulp for i in range(3)})
    exact_mods = _Models(names, fixed_rows={i: k_mod[i] for i in range(3)})
    si, ci = bootstrap_indices(6, 60, rng=1), bootstrap_indices(n, 60, rng=2)
    subj = base + k_subj * ulp
    ref, ref_c = _bootstrap_engine(exact_mods, k_subj, "corr", n, si, ci, vectorised=False)
    for vectorised in (True, False):
        sc, ce = _bootstrap_engine(mods, subj, "corr", n, si, ci, vectorised=vectorised)
        np.testing.assert_allclose(sc, ref, atol=1e-12)
        np.testing.assert_allclose(ce, ref_c, atol=1e-12)
    ids = [f"s{i}" for i in range(n)]
    d = data.rdm(subj, stimulus=ids, dim="subject")
    mm = data.rdm(np.stack([base + k_mod[i] * ulp for i in range(3)]), stimulus=ids, dim="model")
    res = rsa.evaluate(data=d, models=mm, bootstrap="none")
    np.testing.assert_allclose(res.score, rsa.compare(d, mm).mean("subject"), atol=1e-12)
    dk = data.rdm(k_subj, stimulus=ids, dim="subject")
    np.testing.assert_allclose(res.ceiling, rsa.compute_ceiling(dk), atol=1e-12)
