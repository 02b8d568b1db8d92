"""Every ``rng=`` goes through one normaliser; counts and axes are checked (issue #13)."""

from __future__ import annotations

import functools
import importlib
import inspect

import numpy as np
import pytest
import xarray as xr

from neurorep import SchemaError, data, datasets, stats

FAMILIES = [
    "data", "datasets", "models", "stats", "encoding", "rsa", "topology", "selectivity",
    "alignment", "plotting", "decoding", "hftp",
]


def _public_rng_functions() -> set[str]:
    """``family.name`` of every public function (or method of a public class) with ``rng=``."""
    out = set()
    for fam in FAMILIES:
        mod = importlib.import_module(f"neurorep.{fam}")
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            targets = [obj]
            if inspect.isclass(obj):
                targets = [getattr(obj, a) for a in ("__init__", "fit", "score", "predict")
                           if hasattr(obj, a)]
            for t in targets:
                try:
                    params = inspect.signature(t).parameters
                except (TypeError, ValueError):
                    continue
                if "rng" in params and name != "as_generator":
                    out.add(f"{fam}.{name}")
    return out


def _small():
    g = np.random.default_rng(0)
    ids = [f"s{i:02d}" for i in range(12)]
    y3 = data.responses(g.standard_normal((12, 4, 6)), stimulus=ids,
                        dims=("stimulus", "repetition", "unit"))
    y2 = data.responses(g.standard_normal((12, 6)), stimulus=ids)
    x = data.responses(g.standard_normal((12, 3)), stimulus=ids, unit=["f0", "f1", "f2"])
    rdms = data.rdm(g.random((4, 66)), stimulus=ids, dim="subject")
    return g, ids, y2, y3, x, rdms


@functools.lru_cache(maxsize=1)
def _calls():
    from neurorep import alignment, encoding, hftp, models, rsa, selectivity, topology

    g, ids, y2, y3, x, rdms = _small()
    acts = datasets.make_model_activations(20, n_layers=2, width=8, rng=0)
    brain = {"V1": data.responses(g.standard_normal((20, 5)),
                                  stimulus=data.members(acts)["layer1"]["stimulus"].values)}
    sim = selectivity.make_concept_population(n_units=2, rng=0)
    held = sim["brain"].ds["responses"]
    caps = {u: "food" for u in held["unit"].values}
    from neurorep import decoding

    ep = datasets.make_epochs(n_stimuli=4, n_categories=2, n_units=3, n_subjects=2,
                              regions={"V": (0.0, 0.02)}, tmin=0.0, tmax=0.05, rng=0)
    subs = {s: ep.where(ep.subject == s, drop=True) for s in ("sub01", "sub02")}
    movie = rsa.compute_rdm_movie(subs, dim="subject")
    cat = ep.category.values
    model = data.rdm((cat[:, None] != cat[None, :]).astype(float), stimulus=ep.stimulus.values)
    courses = xr.DataArray(g.standard_normal((4, 5)), dims=("subject", "time"),
                           coords={"time": np.arange(5) / 10})
    one = ep.isel(unit=[0, 1, 2])
    c = g.random((2, 45))
    comps = data.rdm(c, stimulus=list("abcdefghij"), dim="component")
    flex = data.rdm(c[0] + 0.5 * c[1] + 0.1 * g.random((4, 45)), stimulus=list("abcdefghij"),
                    dim="subject")
    static = one.isel(time=3)
    return {
        "datasets.make_epochs": lambda rng: datasets.make_epochs(n_stimuli=4, n_categories=2,
                                                                 rng=rng),
        "stats.cluster_test": lambda rng: stats.cluster_test(courses, n_permutations=3, rng=rng),
        "stats.peak_latency": lambda rng: stats.peak_latency(courses, n_bootstrap=3, rng=rng),
        "stats.onset_latency": lambda rng: stats.onset_latency(courses, n_bootstrap=3, rng=rng),
        "rsa.compare_over_time": lambda rng: rsa.compare_over_time(
            movie, model, n_bootstrap=3, n_permutations=3, rng=rng),
        "rsa.compare_time_generalization": lambda rng: rsa.compare_time_generalization(
            movie, n_permutations=3, rng=rng),
        "decoding.decode": lambda rng: decoding.decode(one, labels="category", cv=2, rng=rng),
        "decoding.decode_generalization": lambda rng: decoding.decode_generalization(
            one, labels="category", cv=2, rng=rng),
        "decoding.decode_rdm": lambda rng: decoding.decode_rdm(one, cv=2, rng=rng),
        "decoding.pseudo_population": lambda rng: decoding.pseudo_population(one, rng=rng),
        "decoding.TorchMLPClassifier": lambda rng: decoding.TorchMLPClassifier(
            hidden=(4,), n_epochs=2, rng=rng).fit(
                static.transpose("stimulus", "repetition", "unit").values.reshape(16, -1),
                np.repeat([0, 1], 8)),
        "datasets.make_clusters": lambda rng: datasets.make_clusters(rng=rng),
        "datasets.make_concept_population": lambda rng: datasets.make_concept_population(
            n_units=2, rng=rng),
        "datasets.make_layered_brain": lambda rng: datasets.make_layered_brain(
            n_stimuli=20, n_units=4, rng=rng),
        "datasets.make_model_activations": lambda rng: datasets.make_model_activations(
            10, rng=rng),
        "datasets.make_ring": lambda rng: datasets.make_ring(rng=rng),
        "datasets.make_tagged_sequences": lambda rng: datasets.make_tagged_sequences(
            units={"sentence": 1, "none": 1}, n_trials=2, rng=rng),
        "datasets.make_word_sequences": lambda rng: datasets.make_word_sequences(
            n_sequences=1, n_sentences=2, rng=rng),
        "hftp.score_tagging": lambda rng: hftp.score_tagging(
            datasets.make_tagged_sequences(units={"sentence": 1, "none": 1}, n_trials=2, rng=0),
            {"sentence": 1.0}, token_rate=4.0, n_permutations=5, rng=rng),
        "models.reduce_activations": lambda rng: models.reduce_activations(
            acts, method="random", n_components=4, rng=rng),
        "stats.bootstrap": lambda rng: stats.bootstrap(np.arange(5.0), np.mean, n_bootstrap=5, rng=rng),
        "stats.bootstrap_indices": lambda rng: stats.bootstrap_indices(5, 3, rng=rng),
        "stats.noise_ceiling": lambda rng: stats.noise_ceiling(y3, rng=rng),
        "stats.permutation_indices": lambda rng: stats.permutation_indices(5, 3, rng=rng),
        "stats.sign_flip_pvalue": lambda rng: stats.sign_flip_pvalue(
            np.ones(4), n_permutations=5, rng=rng),
        "stats.permutation_test": lambda rng: stats.permutation_test(
            lambda i: np.array([float(i[0])]), 5, n_permutations=3, rng=rng),
        "encoding.cross_validate_ridge": lambda rng: encoding.cross_validate_ridge(
            x, y2, cv=3, inner_cv=2, rng=rng),
        "encoding.default_space_weights": lambda rng: encoding.default_space_weights(2, rng=rng),
        "encoding.fit_over_time": lambda rng: encoding.fit_over_time(
            x, data.responses(g.standard_normal((12, 3, 2)), stimulus=ids,
                              dims=("stimulus", "time", "unit"), time=[0.0, 0.1, 0.2]),
            cv=3, inner_cv=2, n_bootstrap=3, rng=rng),
        "encoding.fit_trf": lambda rng: encoding.fit_trf(
            xr.DataArray(g.standard_normal((30, 1)), dims=("time", "feature"),
                         coords={"time": np.tile(np.arange(10) / 10, 3),
                                 "run": ("time", np.repeat([0, 1, 2], 10))}),
            xr.DataArray(g.standard_normal((30, 2)), dims=("time", "unit"),
                         coords={"time": np.tile(np.arange(10) / 10, 3),
                                 "run": ("time", np.repeat([0, 1, 2], 10))}),
            tmin=0.0, tmax=0.1, n_bootstrap=3, rng=rng),
        "encoding.fit_banded_ridge": lambda rng: encoding.fit_banded_ridge(
            {"a": x, "b": x.assign_coords(unit=["g0", "g1", "g2"])}, y2, cv=2, rng=rng),
        "encoding.score_prediction": lambda rng: encoding.score_prediction(y2, y2, rng=rng),
        "rsa.evaluate": lambda rng: rsa.evaluate(data=rdms, models=rdms.isel(subject=0), n_bootstrap=3,
                                                 rng=rng),
        "topology.agtdm": lambda rng: topology.agtdm(rdms.isel(subject=0), rdms.isel(subject=1),
                                                     grid=3, n_permutations=3, rng=rng),
        "topology.score_identification": lambda rng: topology.score_identification(
            {"A": rdms, "B": 2.0 * rdms}, n_bootstrap=0, rng=rng),
        "selectivity.make_concept_population": lambda rng: selectivity.make_concept_population(
            n_units=2, rng=rng),
        "selectivity.score_captions": lambda rng: selectivity.score_captions(
            caps, held, n_permutations=2, embed=selectivity.hashing_embedder(16), rng=rng),
        "alignment.best_layer": lambda rng: alignment.best_layer(
            brain, acts, cv=2, n_bootstrap=2, rng=rng),
        "alignment.score_matrix": lambda rng: alignment.score_matrix(brain, acts, n_bootstrap=2,
                                                                     rng=rng),
        "encoding.fit_multiple_kernel_ridge": lambda rng: encoding.fit_multiple_kernel_ridge(
            {"a": x, "b": x.assign_coords(unit=["g0", "g1", "g2"])}, y2, cv=2, n_candidates=3,
            rng=rng),
        "rsa.fit_optimize": lambda rng: rsa.fit_optimize(comps, flex.isel(subject=0),
                                                         method="cosine", rng=rng),
        "rsa.make_folds": lambda rng: rsa.make_folds(flex, cv=2, rng=rng),
        "rsa.crossval": lambda rng: rsa.crossval(data=flex, models={"mix": comps}, cv=2, rng=rng),
        "rsa.bootstrap_crossval": lambda rng: rsa.bootstrap_crossval(
            data=flex, models={"mix": comps}, n_bootstrap=3, cv=2, rng=rng),
    }


def test_every_rng_function_is_covered():
    assert _public_rng_functions() == set(_calls())


@pytest.mark.parametrize("name", sorted(_public_rng_functions()))
@pytest.mark.parametrize("bad", ["abc", 1.5, True, np.random.RandomState(0), -3])
def test_bad_rng_is_refused_everywhere(name, bad):
    call = _calls()[name]
    err = ValueError if isinstance(bad, int) and not isinstance(bad, bool) else TypeError
    with pytest.raises(err, match=r"rng(: an int seed must be >= 0| must be None, an int seed)"):
        call(bad)


@pytest.mark.parametrize("name", sorted(_public_rng_functions()))
def test_good_rng_types_are_accepted(name):
    call = _calls()[name]
    call(np.random.default_rng(1))
    call(np.int64(3))


def test_as_generator_message_lists_the_accepted_types():
    with pytest.raises(TypeError, match=r"None, an int seed \(>= 0\) or a numpy.random.Generator; "
                                        r"got 'abc' \(str\)"):
        stats.as_generator("abc")
    gen = np.random.default_rng(0)
    assert stats.as_generator(gen) is gen
    assert stats.as_generator(5).integers(100) == np.random.default_rng(5).integers(100)


# ----------------------------------------------------------------------------- counts and axes
def test_bootstrap_axis_out_of_range_is_named(rng):
    x = rng.standard_normal((6, 2))
    with pytest.raises(ValueError, match=r"axis 3 is out of range for data of shape\(s\) \[\(6, 2\)\]"):
        stats.bootstrap(x, np.mean, axis=3, n_bootstrap=5)
    with pytest.raises(ValueError, match=r"axis must lie in \[-2, 1\]"):
        stats.bootstrap(x, np.mean, axis=-3, n_bootstrap=5)
    with pytest.raises(TypeError, match="axis must be an int"):
        stats.bootstrap(x, np.mean, axis=1.0, n_bootstrap=5)
    with pytest.raises(ValueError, match="0-d data"):
        stats.bootstrap(np.float64(2.0), np.mean, n_bootstrap=5)
    with pytest.raises(ValueError, match="ambiguous"):
        stats.bootstrap((x, x[:, 0]), lambda a, b: a.mean() + b.mean(), axis=-1, n_bootstrap=5)
    # a negative axis counts from the end, as in numpy
    a = stats.bootstrap(x.T, lambda v: v.mean(axis=-1), axis=-1, n_bootstrap=20, rng=0)
    b = stats.bootstrap(x.T, lambda v: v.mean(axis=-1), axis=1, n_bootstrap=20, rng=0)
    np.testing.assert_array_equal(a.null_distribution.values, b.null_distribution.values)


@pytest.mark.parametrize("n_boot", [2.5, 0, "10", True])
def test_bootstrap_counts_must_be_integers(n_boot):
    with pytest.raises(ValueError, match=r"n_bootstrap must be an integer >= 1; got"):
        stats.bootstrap(np.arange(5.0), np.mean, n_bootstrap=n_boot)


def test_resampling_counts_in_stats(rng):
    with pytest.raises(ValueError, match=r"n_permutations must be an integer >= 1; got 2.5 \(float\)"):
        stats.permutation_indices(6, 2.5)
    with pytest.raises(ValueError, match="n_samples must be an integer >= 1"):
        stats.bootstrap_indices(6, 4.0)


@pytest.mark.parametrize("n_units", [1, 0, 1.5])
def test_make_ring_needs_a_plane(n_units):
    with pytest.raises(ValueError, match=r"n_units must be an integer >= 2.*A circle needs a plane"):
        datasets.make_ring(n_units=n_units, rng=0)


def test_make_ring_other_bounds():
    with pytest.raises(ValueError, match="n_points must be an integer >= 3"):
        datasets.make_ring(n_points=2, rng=0)
    with pytest.raises(ValueError, match="noise must be a finite number >= 0"):
        datasets.make_ring(noise=-0.1, rng=0)
    ring = datasets.make_ring(n_points=8, n_units=2, noise=0.0, rng=0)
    np.testing.assert_allclose(np.linalg.norm(ring.values, axis=1), 1.0, atol=1e-12)
    assert isinstance(ring, xr.DataArray)


@pytest.mark.parametrize(
    "name",
    ["alignment.score_matrix", "alignment.best_layer", "topology.agtdm",
     "topology.score_identification", "stats.noise_ceiling"],
)
def test_counts_are_never_truncated(name):
    """A float count used to be truncated (int(2.5) == 2) or to fail deep inside numpy."""
    from neurorep import alignment, topology

    g, ids, y2, y3, x, rdms = _small()
    acts = datasets.make_model_activations(20, n_layers=2, width=8, rng=0)
    brain = {"V1": data.responses(g.standard_normal((20, 5)),
                                  stimulus=data.members(acts)["layer1"]["stimulus"].values)}
    calls = {
        "alignment.score_matrix": (lambda: alignment.score_matrix(brain, acts, n_bootstrap=2.5, rng=0),
                                   "n_bootstrap"),
        "alignment.best_layer": (lambda: alignment.best_layer(brain, acts, cv=2.5, rng=0),
                                 "cv"),
        "topology.agtdm": (lambda: topology.agtdm(rdms.isel(subject=0), rdms.isel(subject=1),
                                                  n_permutations=9.5), "n_permutations"),
        "topology.score_identification": (lambda: topology.score_identification(
            {"A": rdms, "B": 2.0 * rdms}, n_bootstrap=10.5), "n_bootstrap"),
        "stats.noise_ceiling": (lambda: stats.noise_ceiling(y3, method="split_half",
                                                            n_split_halves=3.5), "n_split_halves"),
    }
    call, param = calls[name]
    with pytest.raises(ValueError, match=rf"{param} must be an integer >= \d; got \d+\.5 \(float\)"):
        call()


def test_noise_ceiling_refuses_complex_responses(rng):
    y = rng.standard_normal((6, 3, 2)) + 0.5j
    with pytest.raises(SchemaError, match=r"noise_ceiling: responses: values must be real"):
        stats.noise_ceiling(y)
