"""Decoding over time, temporal generalisation, pairwise-decoding RDMs (issue #17)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import NearestCentroid

from neurorep import SchemaError, data, datasets, decoding, rsa
from neurorep.decoding._lda import lda_decision, lda_fit


@pytest.fixture(scope="module")
def planted():
    return datasets.make_epochs(n_stimuli=8, n_categories=2, n_repetitions=6, n_units=8,
                                regions={"V": (0.1, 0.2)}, sfreq=20.0, tmin=-0.3, tmax=0.5,
                                snr=2.0, rng=3)


def _folds_seed(rng: int) -> int:
    return int(np.random.default_rng(rng).integers(2**31 - 1))


# ----------------------------------------------------------------------------- reference
@pytest.mark.parametrize(("n", "p", "k"), [(30, 5, 3), (12, 40, 2), (20, 1, 2), (9, 3, 3)])
def test_lda_kernel_equals_sklearn_shrinkage_lda(n, p, k):
    g = np.random.default_rng(n + p)
    x = g.normal(size=(n, 3, p))
    y = np.arange(n) % k
    x[:, :, 0] += y[:, None]
    x[:, 1, -1] = 2.5  # a constant unit at one time point
    coef, b = lda_fit(x, y, k)
    dec = lda_decision(coef, b, x, generalize=False)
    for t in range(3):
        ref = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(x[:, t], y)
        got = dec[:, t, 1] - dec[:, t, 0] if k == 2 else dec[:, t]
        np.testing.assert_allclose(got, ref.decision_function(x[:, t]), rtol=1e-9, atol=1e-9)
    gen = lda_decision(coef, b, x, generalize=True)
    np.testing.assert_allclose(gen[:, 0, 2], lda_decision(coef[[0]], b[[0]], x[:, [2]],
                                                          generalize=False)[:, 0])


@pytest.mark.parametrize("classifier", ["lda", LinearDiscriminantAnalysis(solver="lsqr",
                                                                          shrinkage="auto")])
def test_decode_equals_sklearn_cross_val_score_at_each_time(planted, classifier):
    ep = planted.isel(time=slice(4, 9))
    res = decoding.decode(ep, labels="category", classifier=classifier, cv=3, rng=7)
    skf = StratifiedKFold(3, shuffle=True, random_state=_folds_seed(7))
    x = ep.transpose("stimulus", "repetition", "time", "unit").values.reshape(48, 5, -1)
    y = np.repeat(ep.category.values, 6)
    for t in range(5):
        ref = cross_val_score(LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"),
                              x[:, t], y, cv=skf)
        np.testing.assert_allclose(res.fold_score.isel(time=t).values, ref, atol=1e-12)
    assert res.attrs["chance"] == 0.5 and res.attrs["n_samples"] == 48


def test_static_responses_and_stimulus_order(planted):
    static = planted.sel(time=slice(0.15, 0.3)).mean("time")
    res = decoding.decode(static, cv=3, rng=0)  # 8 stimuli x 6 trials: 8 classes
    assert res.score.dims == () and res.attrs["n_classes"] == 8
    shuffled = static.isel(stimulus=[3, 1, 0, 2, 7, 6, 5, 4])
    res2 = decoding.decode(shuffled, cv=3, rng=0)
    assert res.attrs["chance"] == pytest.approx(1 / 8)
    assert abs(float(res2.score) - float(res.score)) < 0.2  # folds differ, the answer not
    one = static.mean("repetition")  # one pattern per stimulus: decode categories
    cat = decoding.decode(one, labels="category", cv=2, rng=0)
    assert 0.0 <= float(cat.score) <= 1.0


def test_torch_mlp_option_agrees_with_sklearn_mlp(planted):
    from sklearn.neural_network import MLPClassifier

    static = planted.sel(time=slice(0.15, 0.3)).mean("time")
    ours = decoding.decode(static, labels="category", classifier="mlp", cv=3, rng=0)
    ref = decoding.decode(static, labels="category", cv=3, rng=0,
                          classifier=MLPClassifier((64,), max_iter=300, random_state=0))
    assert float(ours.score) > 0.8 and float(ref.score) > 0.8
    assert abs(float(ours.score) - float(ref.score)) < 0.15
    clf = decoding.TorchMLPClassifier(hidden=(16,), n_epochs=50, rng=1)
    x = static.transpose("stimulus", "repetition", "unit").values.reshape(48, -1)
    y = np.repeat(static.category.values, 6)
    a = clf.fit(x, y).predict_proba(x)
    b = decoding.TorchMLPClassifier(hidden=(16,), n_epochs=50, rng=1).fit(x, y).predict_proba(x)
    np.testing.assert_array_equal(a, b)  # seeded by rng, no global torch seed
    np.testing.assert_allclose(a.sum(axis=1), 1.0)


def test_mlp_without_torch_names_the_install(planted, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    static = planted.isel(time=10)
    with pytest.raises(ImportError, match=r"needs torch.*neurorep\[models\].*classifier='lda'"):
        decoding.decode(static, labels="category", classifier="mlp", cv=2)


# ----------------------------------------------------------------------------- planted truth
def test_decoding_is_at_chance_before_the_planted_onset_and_above_after(planted):
    res = decoding.decode(planted, labels="category", cv=3, n_permutations=39, rng=0)
    sig = res.time.values[res.significant.values]
    assert sig.size and 0.1 <= sig.min() <= 0.2  # onset planted at 0.1 s (20 Hz samples)
    assert not res.significant.sel(time=slice(None, 0.05)).any()
    assert float(res.score.sel(time=slice(None, 0.05)).mean()) < 0.62
    assert float(res.score.sel(time=0.2)) > 0.85
    inside = res.cluster.values >= 0
    assert (res.pvalue.values[~inside] == 1).all() and (res.pvalue.values[inside] < 1).all()
    other = decoding.decode(planted.sel(time=slice(-0.1, 0.3)), labels="category",
                            classifier=NearestCentroid(), cv=3, rng=0)  # any sklearn classifier
    assert float(other.score.sel(time=0.2)) > 0.85
    assert float(other.score.sel(time=slice(None, 0.05)).mean()) < 0.65


def test_cluster_pvalues_from_the_permutation_null():
    from neurorep.stats import cluster_pvalues

    g = np.random.default_rng(0)
    null = 0.5 + 0.05 * g.normal(size=(99, 30))
    obs = 0.5 + 0.05 * g.normal(size=30)
    obs[10:16] = 0.8  # one clear cluster
    obs[25] = 0.62  # a single point above the null's 95th percentile, a small cluster
    res = cluster_pvalues(obs, null, alpha=0.05)
    assert res["significant"][10:16].all() and res["significant"].sum() == 6
    assert res["pvalue"][12] == pytest.approx(0.01)
    assert (res["cluster"][10:16] == res["cluster"][10]).all()
    assert res["pvalue_uncorrected"][25] < 0.05 and not res["significant"][25]


def test_temporal_generalization(planted):
    res = decoding.decode_generalization(planted, labels="category", cv=3, rng=0)
    diag = decoding.decode(planted, labels="category", cv=3, rng=0)
    np.testing.assert_allclose(np.diag(res.score.values), diag.score.values)
    s = res.score
    assert float(s.sel(train_time=0.2, test_time=0.25)) > 0.8  # the pattern lasts
    # trained at the peak, tested before the onset: chance (no signal to read there)
    assert float(s.sel(train_time=0.2, test_time=slice(None, 0.05)).mean()) < 0.65
    with pytest.raises(SchemaError, match="expected epochs"):
        decoding.decode_generalization(planted.isel(time=3))


def test_decode_rdm_is_an_rdm_that_rsa_compares(planted):
    ep = planted.sel(time=slice(-0.1, 0.3))
    r = decoding.decode_rdm(ep, cv=3, rng=0)
    assert r.dims == ("time", "stimulus_i", "stimulus_j") and r.attrs["chance"] == 0.5
    np.testing.assert_allclose(r.values, np.swapaxes(r.values, 1, 2))
    assert (np.diagonal(r.values, axis1=1, axis2=2) == 0).all()
    cat = planted.category.values
    between = cat[:, None] != cat[None, :]
    late = r.sel(time=0.2).values
    assert late[between].mean() > late[~between & ~np.eye(8, dtype=bool)].mean() + 0.1
    early = r.sel(time=slice(None, 0.05)).values[:, ~np.eye(8, dtype=bool)]
    assert abs(early.mean() - 0.5) < 0.1
    model = data.rdm(between.astype(float), stimulus=planted.stimulus.values)
    sc = rsa.compare(r, model, method="spearman")
    assert sc.dims == ("time",) and float(sc.sel(time=0.2)) > 0.4
    # one pair by hand: binary decode of stim0 vs stim4
    pair = ep.sel(stimulus=[str(planted.stimulus.values[0]), str(planted.stimulus.values[4])])
    ref = decoding.decode(pair, cv=3, rng=0)
    assert r.sel(stimulus_i=pair.stimulus.values[0], stimulus_j=pair.stimulus.values[1]) \
        .values.shape == ref.score.values.shape


def test_pseudo_population_keeps_each_units_trials(planted):
    pp = decoding.pseudo_population(planted, rng=0)
    a = np.sort(planted.transpose("stimulus", "unit", "time", "repetition").values, axis=-1)
    b = np.sort(pp.transpose("stimulus", "unit", "time", "repetition").values, axis=-1)
    np.testing.assert_array_equal(a, b)  # same trials per (unit, stimulus)
    assert not np.array_equal(pp.values, planted.values)  # new pairings across units
    moved = pp.isel(unit=0).values - planted.isel(unit=0).values
    assert (np.abs(moved).sum(axis=-1) > 0).any()
    assert pp.dims == planted.dims and list(pp.repetition.values)[:2] == ["pseudo00", "pseudo01"]
    assert decoding.pseudo_population(planted, n_trials=2, rng=0).sizes["repetition"] == 2
    with pytest.raises(ValueError, match="n_trials=9 but there are 6"):
        decoding.pseudo_population(planted, n_trials=9)


# ----------------------------------------------------------------------------- bad input
def test_bad_inputs_name_the_fix(planted):
    static = planted.isel(time=10).mean("repetition")
    with pytest.raises(SchemaError, match=r"has 1 sample\(s\).*keep the repetitions"):
        decoding.decode(static, cv=2)
    with pytest.raises(SchemaError, match=r"cv=8 needs at least 8 per class.*smaller cv"):
        decoding.decode(planted, cv=8)
    with pytest.raises(SchemaError, match="outside the data"):
        decoding.decode(planted, tmin=2.0, tmax=3.0)
    t = planted.time.values.copy()
    t[4] += 0.01
    with pytest.raises(SchemaError, match="sampled irregularly"):
        decoding.decode(planted.assign_coords(time=t))
    t = planted.time.values.copy()
    t[[3, 4]] = t[[4, 3]]
    with pytest.raises(SchemaError, match="strictly increasing"):
        decoding.decode(planted.assign_coords(time=t))
    with pytest.raises(SchemaError, match="finite"):
        decoding.decode(planted.where(planted.time != 0.1), labels="category")
    with pytest.raises(SchemaError, match="stimulus coordinates are"):
        decoding.decode(planted, labels="animacy")
    with pytest.raises(SchemaError, match="at least 2 classes"):
        decoding.decode(planted.isel(stimulus=[0, 1]), labels="category")
    with pytest.raises(ValueError, match="classifier must be one of"):
        decoding.decode(planted, classifier="forest")
    with pytest.raises(ValueError, match="scoring must be one of"):
        decoding.decode(planted, scoring="f1")
    with pytest.raises(SchemaError, match="must have dims"):
        decoding.decode(planted.transpose("unit", "stimulus", "repetition", "time"))
    with pytest.raises(SchemaError, match="no 'time' dim"):
        decoding.decode(static, labels="category", tmin=0.0)
    with pytest.raises(SchemaError, match="Pick one member"):
        decoding.decode({"V": planted})
    with pytest.raises(ValueError, match="n_permutations must be an integer >= 0"):
        decoding.decode(planted, labels="category", n_permutations=2.5)


def test_fold_labels_by_id(planted):
    reps = planted.repetition.values
    folds = xr.DataArray(np.arange(6) % 3, dims="repetition", coords={"repetition": reps})
    a = decoding.decode(planted.isel(time=[10, 12]), labels="category", cv=folds)
    b = decoding.decode(planted.isel(time=[10, 12], repetition=[5, 4, 3, 2, 1, 0]),
                        labels="category", cv=folds)
    assert a.fold_score.sizes["fold"] == 3
    np.testing.assert_allclose(np.sort(a.fold_score.values, axis=0),
                               np.sort(b.fold_score.values, axis=0))


# ----------------------------------------------------------------------------- real data
MIRROR = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.mark.skipif(
    not (MIRROR / "zhang_desimone_macaque_IT_7objects_neurodecoder").is_dir(),
    reason="real-data mirror absent")
def test_zhang_desimone_it_decoding_over_time():
    it = data.members(datasets.load("zhang2011_it_7objects", data_home=MIRROR,
                                    verify=False))["IT"]
    res = decoding.decode(decoding.pseudo_population(it, rng=0), cv=5, rng=0)
    chance = res.attrs["chance"]
    assert chance == pytest.approx(1 / 7)
    assert abs(float(res.score.sel(time=slice(None, 0.0)).mean()) - chance) < 0.04
    assert float(res.score.sel(time=slice(0.1, 0.15)).max()) > 0.5  # known: within ~150 ms
