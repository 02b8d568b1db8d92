"""Time-resolved RSA (issue #17): RDM movies, comparison over time, RDM generalisation."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurorep import SchemaError, data, datasets, rsa, stats


@pytest.fixture(scope="module")
def epochs():
    return datasets.make_epochs(n_stimuli=8, n_categories=2, n_repetitions=3, n_units=5,
                                regions={"a": (0.05, 0.1)}, sfreq=50.0, tmin=-0.1, tmax=0.3,
                                rng=0)


def _rsatoolbox_movie(ep, method, noise=None):
    from rsatoolbox.data import TemporalDataset
    from rsatoolbox.rdm import calc_rdm_movie

    n_s, n_r, n_t, n_u = ep.shape
    meas = np.transpose(ep.values, (0, 1, 3, 2)).reshape(n_s * n_r, n_u, n_t)
    ds = TemporalDataset(
        meas,
        obs_descriptors={"stim": np.repeat(ep.stimulus.values, n_r),
                         "run": np.tile(np.arange(n_r), n_s)},
        time_descriptors={"time": ep.time.values},
    )
    kw = {"cv_descriptor": "run"} if method == "crossnobis" else {}
    rdms = calc_rdm_movie(ds, method=method, descriptor="stim", noise=noise, **kw)
    order = [str(s) for s in rdms.pattern_descriptors["stim"]]
    return rdms.get_matrices(), order


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [("squared_euclidean", "euclidean"), ("correlation", "correlation"),
     ("crossnobis", "crossnobis")],
)
def test_movie_equals_rsatoolbox_calc_rdm_movie(epochs, ours, theirs):
    movie = rsa.compute_rdm_movie(epochs, metric=ours)
    ref, order = _rsatoolbox_movie(epochs, theirs)
    got = movie.sel(stimulus_i=order, stimulus_j=order).values
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


def test_movie_with_a_noise_precision_equals_rsatoolbox(epochs):
    g = np.random.default_rng(4)
    a = g.normal(size=(5, 5))
    prec = a @ a.T + 5 * np.eye(5)
    for ours, theirs in (("mahalanobis", "mahalanobis"), ("crossnobis", "crossnobis")):
        movie = rsa.compute_rdm_movie(epochs, metric=ours, noise=prec)
        ref, order = _rsatoolbox_movie(epochs, theirs, noise=prec)
        np.testing.assert_allclose(movie.sel(stimulus_i=order, stimulus_j=order).values, ref,
                                   rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "metric", ["euclidean", "squared_euclidean", "correlation", "cosine", "crossnobis"])
def test_movie_equals_compute_rdm_at_each_time(epochs, metric):
    movie = rsa.compute_rdm_movie(epochs, metric=metric)
    for t in epochs.time.values[::4]:
        ref = rsa.compute_rdm(epochs.sel(time=t), metric=metric)
        np.testing.assert_allclose(movie.sel(time=t).values, ref.values, rtol=1e-10, atol=1e-12)


def test_movie_with_estimated_noise_per_time_point(epochs):
    for metric in ("mahalanobis", "crossnobis"):
        movie = rsa.compute_rdm_movie(epochs, metric=metric, noise="shrinkage_eye")
        t = float(epochs.time[12])
        ref = rsa.compute_rdm(epochs.sel(time=t), metric=metric, noise="shrinkage_eye")
        np.testing.assert_allclose(movie.sel(time=t).values, ref.values, rtol=1e-9, atol=1e-12)
        assert movie.attrs["noise"] == "shrinkage_eye"


def test_movie_scale_invariance_and_stimulus_order(epochs):
    a = rsa.compute_rdm_movie(epochs, metric="squared_euclidean")
    b = rsa.compute_rdm_movie(epochs * 1e-13, metric="squared_euclidean")  # MEG-like Tesla
    np.testing.assert_allclose(b.values, a.values * 1e-26, rtol=1e-10)
    rev = epochs.isel(stimulus=slice(None, None, -1))
    c = rsa.compute_rdm_movie(rev, metric="correlation")
    d = rsa.compute_rdm_movie(epochs, metric="correlation")
    xr.testing.assert_allclose(c.sel(stimulus_i=d.stimulus_i, stimulus_j=d.stimulus_j), d)


def test_sliding_window_equals_binned_epochs(epochs):
    movie = rsa.compute_rdm_movie(epochs, metric="correlation", window=0.06, step=0.04,
                                  tmin=0.0, tmax=0.3)
    binned = data.bin_time(data.crop_time(epochs, tmin=0.0, tmax=0.3), window=0.06, step=0.04)
    np.testing.assert_allclose(movie.time.values, binned.time.values)
    ref = rsa.compute_rdm(binned.isel(time=2), metric="correlation")
    np.testing.assert_allclose(movie.isel(time=2).values, ref.values, atol=1e-12)
    assert movie.attrs["window"] == 0.06


def test_a_set_is_stacked_and_must_share_time(epochs):
    movie = rsa.compute_rdm_movie({"s1": epochs, "s2": epochs * 2.0}, dim="subject",
                                  metric="correlation")
    assert movie.dims == ("subject", "time", "stimulus_i", "stimulus_j")
    np.testing.assert_allclose(movie.sel(subject="s1").values, movie.sel(subject="s2").values)
    with pytest.raises(SchemaError, match="different lengths"):
        rsa.compute_rdm_movie({"s1": epochs, "s2": epochs.isel(time=slice(0, 10))})


def test_bad_inputs_name_the_fix(epochs):
    with pytest.raises(SchemaError, match="crossnobis needs at least 2 repetitions"):
        rsa.compute_rdm_movie(epochs.isel(repetition=[0]), metric="crossnobis")
    with pytest.raises(SchemaError, match="need a 'repetition' dim"):
        rsa.compute_rdm_movie(epochs.mean("repetition"), metric="crossnobis")
    with pytest.raises(SchemaError, match="outside the data"):
        rsa.compute_rdm_movie(epochs, tmin=2.0, tmax=3.0)
    t = epochs.time.values.copy()
    t[3] += 0.005
    with pytest.raises(SchemaError, match="sampled irregularly"):
        rsa.compute_rdm_movie(epochs.assign_coords(time=t))
    with pytest.raises(SchemaError, match="compute_rdm_movie"):
        rsa.compute_rdm(epochs)
    with pytest.raises(ValueError, match="metric must be one of"):
        rsa.compute_rdm_movie(epochs, metric="manhattan")
    with pytest.raises(SchemaError, match="expected epochs"):
        rsa.compute_rdm_movie(epochs.isel(time=0))


# ----------------------------------------------------------------------------- planted truth
def _subjects(ep):
    subs = np.unique(ep.subject.values)
    return {s: ep.where(ep.subject == s, drop=True) for s in subs}


def _category_model(ep):
    cat = ep.category.values
    return data.rdm((cat[:, None] != cat[None, :]).astype(float), stimulus=ep.stimulus.values,
                    metric="category")


@pytest.fixture(scope="module")
def planted():
    ep = datasets.make_epochs(n_stimuli=12, n_categories=3, n_repetitions=4, n_units=10,
                              n_subjects=6, regions={"V": (0.1, 0.2)}, sfreq=50.0, tmin=-0.2,
                              tmax=0.5, snr=1.5, rng=2)
    return ep, rsa.compute_rdm_movie(_subjects(ep), metric="correlation", dim="subject")


def test_compare_over_time_recovers_the_planted_onset_and_peak(planted):
    ep, movie = planted
    res = rsa.compare_over_time(movie, {"category": _category_model(ep)}, n_bootstrap=200,
                                n_permutations=200, rng=0)
    assert res.score.dims == ("model", "time") and res.subject_score.sizes["subject"] == 6
    sig = res.time.where(res.significant.sel(model="category"), drop=True).values
    assert sig.size and sig.min() >= 0.1 - 1e-9 and sig.min() <= 0.16
    assert not res.significant.sel(model="category", time=slice(None, 0.08)).any()
    assert (res.ci_low <= res.score).all() and (res.score <= res.ci_high).all()
    peak = stats.peak_latency(res.subject_score.sel(model="category"), n_bootstrap=200, rng=0)
    assert float(peak.score) == pytest.approx(0.2, abs=0.04)
    assert float(peak.ci_low) <= 0.2 + 0.02 and float(peak.ci_high) >= 0.2 - 0.02
    onset = stats.onset_latency(res.subject_score.sel(model="category"), fraction=0.3,
                                n_bootstrap=200, rng=0)
    assert 0.09 <= float(onset.score) <= 0.17


def test_compare_over_time_equals_compare_per_subject(planted):
    ep, movie = planted
    model = _category_model(ep)
    res = rsa.compare_over_time(movie, model, n_bootstrap=0, n_permutations=0, method="corr")
    ref = rsa.compare(movie, model, method="corr")  # (subject, time)
    np.testing.assert_allclose(res.subject_score.sel(model="model").values, ref.values)
    np.testing.assert_allclose(res.score.sel(model="model").values, ref.mean("subject").values)
    single = rsa.compare_over_time(movie.isel(subject=0), model, method="corr")
    np.testing.assert_allclose(single.score.sel(model="model").values, ref.isel(subject=0).values)
    assert "pvalue" not in single


def test_rdm_temporal_generalization(planted):
    ep, movie = planted
    res = rsa.compare_time_generalization(movie.sel(time=slice(-0.1, 0.4)), method="corr",
                                          n_permutations=100, rng=0)
    s = res.score
    assert s.dims == ("time", "time_b")
    np.testing.assert_allclose(s.values, s.values.T, atol=1e-12)  # b = a: symmetric
    assert float(s.sel(time=0.2, time_b=0.2)) == pytest.approx(1.0)
    # after onset the geometry generalises to the peak, before onset it does not
    assert float(s.sel(time=0.26, time_b=0.2)) > 0.5
    assert abs(float(s.sel(time=-0.06, time_b=0.2))) < 0.3
    assert bool(res.significant.sel(time=0.2, time_b=0.26))
    assert not bool(res.significant.sel(time=-0.06, time_b=0.2))
    single = rsa.compare_time_generalization(movie.isel(subject=0))
    ref = rsa.compare(movie.isel(subject=0).sel(time=0.1),
                      movie.isel(subject=0).sel(time=0.3), method="spearman")
    np.testing.assert_allclose(float(single.score.sel(time=0.1, time_b=0.3)), float(ref))


def test_compare_of_an_rdm_stack_with_itself_keeps_both_time_axes(planted):
    """Regression: compare(x, x) passed the same object twice and named a's coordinates as b's
    (the identity check ``src is rb``), dropping the ``time`` coordinate of the a side."""
    _, movie = planted
    one = movie.isel(subject=1, time=slice(0, 5))
    same = rsa.compare(one, one, method="spearman")
    assert same.dims == ("time", "time_b")
    assert "time" in same.indexes and "time_b" in same.indexes
    np.testing.assert_array_equal(same.time.values, one.time.values)
    xr.testing.assert_allclose(same, rsa.compare(one, one.copy(), method="spearman"))
