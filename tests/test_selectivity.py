"""neurorep.selectivity: projection, top stimuli, keywords, captions, caption scores."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import xarray as xr

from neurorep import NeurorepWarning, SchemaError, data
from neurorep.selectivity import (
    CONCEPTS,
    Concept,
    caption_units,
    embed_texts,
    hashing_embedder,
    keywords,
    llm_composer,
    make_concept_population,
    project,
    score_captions,
    template_composer,
    top_stimuli,
)

WORD_TO_CONCEPT = {
    w: c for c, d in CONCEPTS.items() for ws in d.values() for ph in ws for w in ph.split()
}
TOPIC_EMBED = hashing_embedder(
    128, topics={c: [w for ws in d.values() for w in ws] for c, d in CONCEPTS.items()}
)


@pytest.fixture(scope="module")
def sim():
    return make_concept_population(n_units=40, n_per_concept=40, rng=0)


@pytest.fixture(scope="module")
def sim_bank(sim):
    return data.members(sim["model"])["embeddings"]


@pytest.fixture(scope="module")
def sim_captions(sim, sim_bank):
    return caption_units(sim["truth"].ds["weights"], sim_bank)


def _softmax_projection(W, E, T):
    """Direct formula: softmax over cos(w, e_i) / T, then the weighted sum of the e_i."""
    cos = (W / np.linalg.norm(W, axis=1, keepdims=True)) @ (
        E / np.linalg.norm(E, axis=1, keepdims=True)
    ).T
    p = np.exp(cos / T - (cos / T).max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return p @ E, 1.0 / (p**2).sum(axis=1), p


def _brainscuba_projection(W, E, temp):
    """Transcription of BrainSCUBA's ``softmax_convex`` (projection.py, aluo-x/BrainSCUBA):
    unit-norm weights and bank directions, scores = softmax(w.d * temp) with temp = 1/T,
    soft_norms = scores @ |e|, soft_projected = scores @ d, renormalised, times soft_norms."""
    import scipy.special

    inputs = W / np.linalg.norm(W, axis=1, keepdims=True)
    norms = np.linalg.norm(E, axis=1, keepdims=True)
    directions = E / norms
    scores = scipy.special.softmax(inputs @ directions.T * temp, axis=-1)
    soft_norms = scores @ norms
    soft_projected = scores @ directions
    return soft_projected / np.linalg.norm(soft_projected, axis=-1, keepdims=True) * soft_norms


# ----------------------------------------------------------------------------
# project / top_stimuli
# ----------------------------------------------------------------------------
def test_project_matches_brainscuba_transcription(rng):
    """The default projection is the paper's (norms of the bank entries vary here)."""
    W = rng.standard_normal((7, 16))
    E = rng.standard_normal((60, 16)) * rng.uniform(0.2, 3.0, (60, 1))
    for T in (0.1, 1 / 150):
        ref = _brainscuba_projection(W, E, 1.0 / T)
        res = project(W, E, temperature=T, dtype="float64", chunk_units=3)
        np.testing.assert_allclose(res["projection"].values, ref, rtol=1e-10, atol=1e-12)
        res32 = project(W, E, temperature=T)  # float32 default, one chunk
        np.testing.assert_allclose(res32["projection"].values, ref, rtol=2e-4, atol=2e-5)
    _, eff, p = _softmax_projection(W, E, 0.1)
    res = project(W, E, temperature=0.1, dtype="float64")
    np.testing.assert_allclose(res["effective_n"].values, eff, rtol=1e-10)
    assert res["best_match"].values.tolist() == [f"bank{i:05d}" for i in p.argmax(axis=1)]
    assert res.attrs["method"] == "brainscuba"


def test_project_weighted_mean_is_the_plain_softmax_mean(rng):
    W, E = rng.standard_normal((5, 6)), rng.standard_normal((40, 6)) * rng.uniform(0.5, 2, (40, 1))
    proj, eff, _ = _softmax_projection(W, E, 0.2)
    res = project(W, E, temperature=0.2, method="weighted_mean", dtype="float64", chunk_units=2)
    np.testing.assert_allclose(res["projection"].values, proj, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res["effective_n"].values, eff, rtol=1e-10)
    # with bank norms that vary, the two differ in direction and in length
    scuba = project(W, E, temperature=0.2, dtype="float64")["projection"].values
    cos = (scuba * proj).sum(1) / np.linalg.norm(scuba, axis=1) / np.linalg.norm(proj, axis=1)
    assert cos.min() < 0.999
    # with equal norms the directions agree; BrainSCUBA's length is the bank norm
    Eu = 3.0 * E / np.linalg.norm(E, axis=1, keepdims=True)
    a = project(W, Eu, temperature=0.2, dtype="float64")["projection"].values
    b = project(W, Eu, temperature=0.2, method="weighted_mean", dtype="float64")["projection"].values
    np.testing.assert_allclose(a / np.linalg.norm(a, axis=1, keepdims=True),
                               b / np.linalg.norm(b, axis=1, keepdims=True), atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 3.0, rtol=1e-12)
    with pytest.raises(ValueError, match="method must be one of"):
        project(W, E, method="mean")
    # caption_units passes the choice through
    bank = data.responses(E, stimulus_coords={"text": [f"word{i} text" for i in range(40)]})
    caps = caption_units(W, bank, temperature=0.2, dtype="float64", max_concepts=1,
                         projection_method="weighted_mean")
    np.testing.assert_allclose(caps["projection"].values, proj, rtol=1e-10, atol=1e-12)
    assert caps.attrs["projection_method"] == "weighted_mean"
    with pytest.raises(ValueError, match="projection_method must be one of"):
        caption_units(W, bank, projection_method="mean")


def test_project_temperature_limits(rng):
    W, E = rng.standard_normal((4, 8)), rng.standard_normal((30, 8)) * rng.uniform(0.5, 2, (30, 1))
    nearest = np.argmax((W / np.linalg.norm(W, axis=1, keepdims=True)) @ (
        E / np.linalg.norm(E, axis=1, keepdims=True)).T, axis=1)
    for method in ("brainscuba", "weighted_mean"):
        cold = project(W, E, temperature=1e-4, dtype="float64", method=method)
        np.testing.assert_allclose(cold["projection"].values, E[nearest], atol=1e-6)
        np.testing.assert_allclose(cold["effective_n"].values, 1.0, atol=1e-3)
    hot = project(W, E, temperature=1e4, dtype="float64")
    norms = np.linalg.norm(E, axis=1, keepdims=True)
    mean_dir = (E / norms).mean(0)
    expected = mean_dir / np.linalg.norm(mean_dir) * norms.mean()
    np.testing.assert_allclose(hot["projection"].values, np.broadcast_to(expected, (4, 8)), atol=1e-3)
    assert np.all(hot["effective_n"].values > 29.9)
    hot_mean = project(W, E, temperature=1e4, dtype="float64", method="weighted_mean")
    np.testing.assert_allclose(hot_mean["projection"].values, np.broadcast_to(E.mean(0), (4, 8)),
                               atol=1e-3)


def test_project_cancelling_directions_warn_and_give_nan():
    """Two opposite bank entries at equal cosine: BrainSCUBA's mean direction is zero."""
    from neurorep import NeurorepWarning

    E = np.array([[1.0, 0.0], [-1.0, 0.0]])
    W = np.array([[0.0, 1.0], [1.0, 0.2]])
    with pytest.warns(NeurorepWarning, match="no direction"):
        res = project(W, E, dtype="float64")
    assert np.isnan(res["projection"].values[0]).all()
    assert np.isfinite(res["projection"].values[1]).all()


def test_top_stimuli_ranks_predicted_response(rng):
    E = rng.standard_normal((50, 6))
    W = rng.standard_normal((6, 4))  # (feature, unit) as fit_ridge returns
    ids = [f"s{i:02d}" for i in range(50)]
    bank = data.responses(E, stimulus=ids, stimulus_coords={"text": [f"text {i}" for i in range(50)]})
    fit = xr.Dataset(
        {"weights": (("feature", "unit"), W), "intercept": ("unit", [1.0, 2.0, 3.0, 4.0])},
        coords={"unit": ["a", "b", "c", "d"], "feature": bank["unit"].values},
    )
    res = top_stimuli(fit, bank, n=5, dtype="float64")
    pred = E @ W + np.array([1.0, 2.0, 3.0, 4.0])
    order = np.argsort(-pred, axis=0)[:5].T
    assert res["top_stimulus"].values.tolist() == np.asarray(ids)[order].tolist()
    np.testing.assert_allclose(res["predicted"].values, np.take_along_axis(pred.T, order, 1))
    assert res["top_text"].values[0, 0] == f"text {order[0, 0]}"
    cos = (E[order[1]] @ W[:, 1]) / (np.linalg.norm(E[order[1]], axis=1) * np.linalg.norm(W[:, 1]))
    np.testing.assert_allclose(res["similarity"].values[1], cos)
    # invariances: shuffled bank rows, (unit, feature) orientation, permuted feature ids
    perm = rng.permutation(50)
    again = top_stimuli(fit, bank.isel(stimulus=perm), n=5, dtype="float64")
    assert again["top_stimulus"].values.tolist() == res["top_stimulus"].values.tolist()
    fperm = rng.permutation(6)
    w_t = fit["weights"].isel(feature=fperm).transpose("unit", "feature")
    flipped = top_stimuli(w_t, bank, n=5, dtype="float64")
    pred_no_b = E @ W
    np.testing.assert_allclose(flipped["predicted"].values,
                               np.take_along_axis(pred_no_b.T, order, 1))


# ----------------------------------------------------------------------------
# keywords
# ----------------------------------------------------------------------------
def test_keywords_log_odds_hand_computed():
    texts = ["cat dog", "cat fish"]
    background = ["dog bird", "bird fish", "cow"]
    # document counts: target cat 2, dog 1, fish 1 (n_a = 4); background dog 1, bird 2,
    # fish 1, cow 1 (n_b = 5); pooled prior a_w = pooled count, a_0 = 9.
    # cat: y_a=2, y_b=0, a=2 -> delta = log(4/(4+9-4)) - log(2/(5+9-2)) = log(8/3),
    #      var = 1/4 + 1/2
    z_cat = np.log(8 / 3) / np.sqrt(0.75)
    # dog: y_a=1, y_b=1, a=2 -> delta = log(3/10) - log(3/11) = log(1.1), var = 2/3
    z_dog = np.log(1.1) / np.sqrt(2 / 3)
    kw = keywords(texts, background, n=3, stop_words=None)
    assert kw["word"].values.tolist()[0] == "cat"
    assert kw["score"].values[0] == pytest.approx(z_cat, rel=1e-12)
    assert set(kw["word"].values[1:].tolist()) == {"dog", "fish"}
    np.testing.assert_allclose(kw["score"].values[1:], z_dog, rtol=1e-12)
    assert kw["count"].values.tolist() == [2, 1, 1]
    # prior strength a_0 = 1: cat a = 2/9 -> delta = log((20/9)/(25/9)) - log((2/9)/(52/9)),
    # var = 9/20 + 9/2
    z1 = (np.log(20 / 25) - np.log(2 / 52)) / np.sqrt(9 / 20 + 9 / 2)
    kw1 = keywords(texts, background, n=1, stop_words=None, prior_strength=1.0)
    assert kw1["score"].values[0] == pytest.approx(z1, rel=1e-12)
    # the same contrast when the background already holds the texts
    both = keywords(texts, [*texts, *background], n=3, stop_words=None,
                    background_contains_texts=True)
    np.testing.assert_allclose(both["score"].values, kw["score"].values, rtol=1e-12)


def test_keywords_tfidf_matches_sklearn():
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = ["the red apple fell", "a red apple and a pear", "apple pie"]
    background = ["the blue sky", "a red car", "the pear tree", "sky and sea"]
    vec = TfidfVectorizer(binary=True, norm=None, smooth_idf=True, stop_words="english",
                          token_pattern=r"[a-z]+(?:'[a-z]+)?")
    vec.fit(texts + background)
    ref = np.asarray(vec.transform(texts).sum(axis=0)).ravel()
    ref_scores = dict(zip(vec.get_feature_names_out(), ref, strict=True))
    kw = keywords(texts, background, n=20, method="tfidf")
    assert kw["word"].values[0] == "apple"
    for w, s in zip(kw["word"].values, kw["score"].values, strict=True):
        assert s == pytest.approx(ref_scores[w], rel=1e-12)
    assert set(kw["word"].values) == {w for w, s in ref_scores.items() if s > 0}


def test_keywords_without_any_word_give_an_empty_table():
    """Texts of stop words only: no vocabulary at all, an empty result (not an error)."""
    kw = keywords(["the and a", "of the"], ["a an", "the"], n=3)
    assert kw.sizes["keyword"] == 0 and kw["word"].dtype == object


def test_keyword_ties_keep_the_order_of_first_appearance():
    """Equal scores come out in the order the words first appear (first text, then a-z)."""
    kw = keywords(["zebra", "yak apple"], ["cow"], n=3, stop_words=None)
    assert kw["word"].values.tolist() == ["zebra", "apple", "yak"]
    assert len(set(kw["score"].values.tolist())) == 1


def test_vocabulary_columns_and_entry_order():
    """Columns in order of first appearance; each text's entries in alphabetical order (the
    entry order of the sparse products in caption_units breaks keyword ties)."""
    from neurorep.selectivity._keywords import build_vocabulary, make_tokenizer

    vocab = build_vocabulary(["bee", "ant bee", "cat ant"], make_tokenizer(None))
    assert vocab.words.tolist() == ["bee", "ant", "cat"]
    rows = [vocab.dtm.indices[a:b].tolist() for a, b in itertools.pairwise(vocab.dtm.indptr)]
    assert rows == [[0], [1, 0], [1, 2]]
    assert vocab.df.tolist() == [2, 2, 1]
    np.testing.assert_array_equal(vocab.dtm.toarray(), [[1, 0, 0], [1, 1, 0], [0, 1, 1]])


def test_keywords_bad_input():
    with pytest.raises(ValueError, match="method must be one of"):
        keywords(["a b"], ["c d"], method="bm25")
    with pytest.raises(ValueError, match="empty background"):
        keywords(["a b"], [])
    with pytest.raises(TypeError, match="sequences of str"):
        keywords("cat", ["dog"])


# ----------------------------------------------------------------------------
# caption_units: planted concepts
# ----------------------------------------------------------------------------
def test_caption_units_recovers_planted_concepts(sim, sim_bank, sim_captions):
    caps = sim_captions
    planted = [set(c.split("+")) for c in sim["truth"].ds["concept"].values]
    stim_concept = dict(zip(sim_bank["stimulus"].values, sim_bank["concept"].values, strict=True))
    purity = [np.mean([stim_concept[s] in planted[u] for s in caps["top_stimulus"].values[u]])
              for u in range(len(planted))]
    assert np.mean(purity) > 0.95
    right_n = caps["n_concepts"].values == [len(p) for p in planted]
    assert right_n.mean() >= 0.85
    assert (caps["n_concepts"].values[[len(p) == 1 for p in planted]] == 1).mean() >= 0.95
    precision, covered = [], []
    for u, p in enumerate(planted):
        found = set()
        for c in range(int(caps["n_concepts"].values[u])):
            top3 = [w for w in caps["keywords"].values[u, c, :3] if w]
            labels = [WORD_TO_CONCEPT.get(w) for w in top3]
            precision.append(np.mean([lab in p for lab in labels]))
            found.add(max(set(labels), key=labels.count))
        covered.append(found == p)
    assert np.mean(precision) > 0.9
    assert np.mean(covered) >= 0.85
    # the caption is made of the first concept's keywords
    u = int(np.flatnonzero(caps["n_concepts"].values == 1)[0])
    assert caps["keywords"].values[u, 0, 0] in caps["caption"].values[u]
    assert caps["concept_share"].sum("concept").values == pytest.approx(1.0)


def test_caption_units_chunking_and_dtypes_agree(sim, sim_bank, sim_captions):
    W = sim["truth"].ds["weights"]
    small = caption_units(W, sim_bank, chunk_units=7, dtype="float64")
    for var in ("caption", "keywords", "top_stimulus", "n_concepts"):
        assert small[var].values.tolist() == sim_captions[var].values.tolist(), var
    np.testing.assert_allclose(small["projection"].values, sim_captions["projection"].values,
                               rtol=1e-3, atol=1e-4)
    direct = project(W, sim_bank, dtype="float64")
    np.testing.assert_allclose(small["projection"].values, direct["projection"].values, rtol=1e-10)


def test_caption_units_with_fitted_encoder(sim, sim_bank):
    encoding = pytest.importorskip("neurorep.encoding")
    Y = sim["brain"].ds["responses"]
    train = Y["stimulus"].values[::2]
    fit = encoding.fit_ridge(sim_bank.sel(stimulus=train), Y.sel(stimulus=train), cv=4)
    caps = caption_units(fit, sim_bank.sel(stimulus=train), return_projection=False)
    assert "projection" not in caps
    planted = [set(c.split("+")) for c in sim["truth"].ds["concept"].values]
    hits = [WORD_TO_CONCEPT.get(str(caps["keywords"].values[u, 0, 0])) in planted[u]
            for u in range(len(planted))]
    assert np.mean(hits) > 0.9
    # predicted responses include the intercept
    u0 = caps["unit"].values[0]
    s0 = caps["top_stimulus"].values[0, 0]
    manual = float(sim_bank.sel(stimulus=s0).values @ fit["weights"].sel(unit=u0).values
                   + fit["intercept"].sel(unit=u0))
    assert caps["predicted"].values[0, 0] == pytest.approx(manual, rel=1e-4)


def test_tfidf_keywords_and_single_concept(sim, sim_bank):
    caps = caption_units(sim["truth"].ds["weights"], sim_bank, keyword_method="tfidf",
                         max_concepts=1, n_keywords=3)
    assert caps.sizes["concept"] == 1 and (caps["n_concepts"] == 1).all()
    planted = [set(c.split("+")) for c in sim["truth"].ds["concept"].values]
    hits = [WORD_TO_CONCEPT.get(str(caps["keywords"].values[u, 0, 0])) in planted[u]
            for u in range(len(planted))]
    assert np.mean(hits) > 0.85


# ----------------------------------------------------------------------------
# composers
# ----------------------------------------------------------------------------
def test_template_composer():
    c1 = Concept(("soup", "bread", "cake", "pie"), (3.0, 2.0, 1.0, 0.5), ("I ate soup.",), 0.6)
    c2 = Concept(("guitar",), (2.0,), ("She played guitar.",), 0.4)
    assert template_composer()([c1]) == "soup, bread and cake"
    assert template_composer(n_keywords=2, template="about {keywords}")([c1, c2]) == (
        "about soup and bread; about guitar"
    )
    assert template_composer(template="{first}: {example}")([c2]) == "guitar: She played guitar."
    assert template_composer()([]) == ""


def test_llm_composer_with_fake_client(sim, sim_bank):
    prompts: list[str] = []

    def fake_client(prompt: str) -> str:
        prompts.append(prompt)
        return f'"caption {len(prompts)}"\nextra line'

    W = sim["truth"].ds["weights"].isel(unit=[0, 0, 1])  # units 0 and 1 share a prompt
    W = W.assign_coords(unit=["u0", "u0bis", "u1"])
    caps = caption_units(W, sim_bank, composer=llm_composer(fake_client, n_examples=2),
                         max_concepts=1)
    assert len(prompts) == 2  # identical prompts are asked once
    assert caps["caption"].values.tolist() == ["caption 1", "caption 1", "caption 2"]
    for kw in caps["keywords"].values[0, 0, :8]:
        assert kw in prompts[0]
    assert str(caps["top_text"].values[0, 0]) in prompts[0]
    assert str(caps["top_text"].values[0, 2]) not in prompts[0]  # only n_examples=2 examples

    with pytest.raises(TypeError, match="must return a str"):
        caption_units(W, sim_bank, composer=llm_composer(lambda p: {"text": "x"}))

    def broken(prompt: str) -> str:
        raise ConnectionError("no network")

    with pytest.raises(ConnectionError, match="no network") as info:
        caption_units(W, sim_bank, composer=llm_composer(broken))
    assert any("u0" in note for note in info.value.__notes__)
    with pytest.raises(ValueError, match="placeholder"):
        llm_composer(fake_client, prompt="no slot")
    with pytest.raises(ValueError, match="composer must be one of"):
        caption_units(W, sim_bank, composer="gpt")


# ----------------------------------------------------------------------------
# score_captions
# ----------------------------------------------------------------------------
def _split(sim):
    Y = sim["brain"].ds["responses"]
    ids = Y["stimulus"].values
    return ids[::2], ids[1::2], Y


def test_score_captions_planted_and_invariances(sim, sim_bank):
    train, test, Y = _split(sim)
    caps = caption_units(sim["truth"].ds["weights"], sim_bank.sel(stimulus=train))
    held = Y.sel(stimulus=test)
    res = score_captions(caps, held, embed=TOPIC_EMBED, rng=0)
    assert float(res["score"].mean()) > 0.6
    # own captions beat the other units' captions for most units
    assert float((res["pvalue"] < 0.2).mean()) > 0.6
    assert res["null_distribution"].sizes["permutation"] == 40
    assert np.isnan(res["null_distribution"].values).sum() == 40  # each unit's own caption
    # manual score for one unit: Pearson r of cosine(caption, stimulus) with the response
    S = TOPIC_EMBED([str(t) for t in held["text"].values])
    c = TOPIC_EMBED([str(caps["caption"].values[3])])[0]
    r = np.corrcoef(S @ c, held.values[:, 3])[0, 1]
    assert float(res["score"].values[3]) == pytest.approx(r, rel=1e-9)
    # stimulus order and precomputed stimulus embeddings do not change the answer
    perm = np.random.default_rng(1).permutation(held.sizes["stimulus"])
    stim_emb = embed_texts([str(t) for t in held["text"].values], embed=TOPIC_EMBED,
                           stimulus=held["stimulus"].values)
    again = score_captions(caps, held.isel(stimulus=perm), embed=TOPIC_EMBED, stimuli=stim_emb, rng=0)
    np.testing.assert_allclose(again["score"].values, res["score"].values, rtol=1e-10)
    np.testing.assert_allclose(again["pvalue"].values, res["pvalue"].values)
    # diversity: distinct concepts give diverse captions; one caption for all gives none
    assert 0.3 < float(res["diversity"]) <= 1.0
    same = xr.DataArray(np.full(40, "soup and bread", dtype=object), dims="unit",
                        coords={"unit": Y["unit"].values})
    flat = score_captions(same, held, embed=TOPIC_EMBED, null="stimuli", n_permutations=20, rng=0)
    assert float(flat["diversity"]) == pytest.approx(0.0, abs=1e-9)
    assert float(flat["unique_fraction"]) == pytest.approx(1 / 40)
    sp = score_captions(caps, held, embed=TOPIC_EMBED, metric="spearman", rng=0)
    assert float(sp["score"].mean()) > 0.5


def test_pvalues_calibrated_under_shuffled_captions(sim, sim_bank):
    train, test, Y = _split(sim)
    # 40 distinct captions (ties between identical captions would make p conservative):
    # training sentences, assigned to units at random, so each unit's caption is exchangeable
    # with the others' -- the null hypothesis of the shuffled-caption test.
    gen = np.random.default_rng(3)
    pool = np.unique(sim_bank.sel(stimulus=train)["text"].values.astype(str))
    pool = pool[gen.choice(pool.size, 40, replace=False)]
    held = Y.sel(stimulus=test)
    pvals = []
    for _ in range(25):
        shuffled = xr.DataArray(pool[gen.permutation(40)], dims="unit",
                                coords={"unit": Y["unit"].values})
        pvals.append(score_captions(shuffled, held, embed=TOPIC_EMBED, rng=gen)["pvalue"].values)
    p = np.concatenate(pvals)  # 1000 p-values; each is uniform on {1/40, ..., 1} under the null
    assert abs(np.mean(p <= 0.1) - 0.1) < 0.04
    assert abs(np.mean(p <= 0.5) - 0.5) < 0.07
    assert abs(p.mean() - 0.5125) < 0.04


def test_pvalues_calibrated_stimulus_null(rng):
    texts = [f"word{i} word{(i * 7) % 13} filler" for i in range(60)]
    Y = data.responses(rng.standard_normal((60, 150)), stimulus_coords={"text": texts})
    caps = {u: f"word{k % 13} word{k % 5}" for k, u in enumerate(Y["unit"].values)}
    res = score_captions(caps, Y, embed=hashing_embedder(32), null="stimuli",
                         n_permutations=199, rng=rng)
    p = res["pvalue"].values
    assert abs(np.mean(p <= 0.1) - 0.1) < 0.07
    assert abs(np.mean(p) - 0.5) < 0.08


def test_single_unit_needs_null_pool(sim, sim_bank):
    _, test, Y = _split(sim)
    held = Y.sel(stimulus=test).isel(unit=[0])
    cap = {str(held["unit"].values[0]): "soup and bread"}
    with pytest.raises(ValueError, match="null_captions"):
        score_captions(cap, held, embed=TOPIC_EMBED, rng=0)
    pool = [f"{a} and {b}" for a in ("storm", "guitar", "loan", "horse") for b in ("rain", "song")]
    res = score_captions(cap, held, embed=TOPIC_EMBED, null_captions=pool, rng=0)
    assert res["null_distribution"].sizes["permutation"] == len(pool)
    assert np.isfinite(res["pvalue"].values).all()


# ----------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------
def test_bad_inputs_project_and_captions(rng):
    E = rng.standard_normal((20, 8))
    bank = data.responses(E, stimulus_coords={"text": [f"t {i}" for i in range(20)]})
    with pytest.raises(SchemaError, match=r"10 features do not match the 8-D bank"):
        project(rng.standard_normal((3, 10)), E)
    with pytest.raises(SchemaError, match="pass weights.T"):
        project(rng.standard_normal((8, 3)), E)
    wda = xr.DataArray(rng.standard_normal((5, 3)), dims=("feature", "unit"))
    with pytest.raises(SchemaError, match="5-D space"):
        top_stimuli(wda, bank)
    with pytest.raises(SchemaError, match="empty"):
        project(rng.standard_normal((3, 8)), np.zeros((0, 8)))
    W = rng.standard_normal((3, 8))
    W[1] = 0
    with pytest.raises(SchemaError, match="all-zero weights .*unit00001"):
        caption_units(W, bank)
    Wn = rng.standard_normal((3, 8))
    Wn[2, 0] = np.nan
    with pytest.raises(SchemaError, match="NaN or inf"):
        project(Wn, E)
    En = E.copy()
    En[4, 1] = np.inf
    with pytest.raises(SchemaError, match="bank entry.*NaN or inf"):
        project(W[:1], En)
    Ez = E.copy()
    Ez[0] = 0
    with pytest.raises(SchemaError, match="all-zero embeddings"):
        project(W[:1], Ez)
    with pytest.raises(SchemaError, match="'text' coord"):
        caption_units(W[:1], E)
    with pytest.raises(ValueError, match="temperature must be a positive"):
        project(W[:1], E, temperature=0)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        top_stimuli(W[:1], E, n=0)
    with pytest.raises(ValueError, match="dtype must be one of"):
        project(W[:1], E, dtype="float16")
    with pytest.raises(ValueError, match="keyword_method|method must be one of"):
        caption_units(W[:1], bank, keyword_method="bm25")


def test_weights_are_matched_to_the_bank_by_feature_id(rng):
    """Feature ids decide which weight goes with which embedding dim, never positions."""
    E = rng.standard_normal((25, 5))
    dims = ["d0", "d1", "d2", "d3", "d4"]
    bank = xr.DataArray(E, dims=("stimulus", "dim"),
                        coords={"stimulus": [f"s{i}" for i in range(25)], "dim": dims})
    W = rng.standard_normal((5, 2))
    w = xr.DataArray(W, dims=("dim", "unit"), coords={"dim": dims, "unit": ["a", "b"]})
    order = [3, 0, 4, 1, 2]
    shuffled = w.isel(dim=order)
    a = project(w, bank, dtype="float64")
    b = project(shuffled, bank, dtype="float64")
    np.testing.assert_allclose(a["projection"].values, b["projection"].values, atol=1e-12)
    top = top_stimuli(shuffled, bank, n=3)
    np.testing.assert_array_equal(top["top_stimulus"].values, top_stimuli(w, bank, n=3)["top_stimulus"].values)
    # disjoint ids: an error, not a positional match
    renamed = w.assign_coords(dim=[f"x{i}" for i in range(5)])
    with pytest.raises(SchemaError, match="share no feature id with the bank"):
        project(renamed, bank)
    # overlapping but different ids (same count): an error naming what is missing
    partly = w.assign_coords(dim=["d0", "d1", "d2", "d3", "z9"])
    with pytest.raises(SchemaError, match=r"1 bank feature\(s\) have no weight \(d4\)"):
        caption_units(partly, bank.assign_coords(text=("stimulus", [f"t {i}" for i in range(25)])))
    # a subset of the bank's features is refused too (weights outside the bank's space)
    with pytest.raises(SchemaError, match="differ"):
        top_stimuli(w.isel(dim=[0, 1, 2]), bank)


def test_complex_inputs_are_refused(rng):
    E = rng.standard_normal((10, 4))
    Wc = rng.standard_normal((2, 4)) + 1j
    with pytest.raises(SchemaError, match="complex"):
        project(Wc, E)
    bank = xr.DataArray(E + 0j, dims=("stimulus", "feature"),
                        coords={"stimulus": [f"s{i}" for i in range(10)]})
    with pytest.raises(SchemaError, match="bank: values must be real.*complex"):
        top_stimuli(rng.standard_normal((2, 4)), bank)
    wda = xr.DataArray(Wc.T, dims=("feature", "unit"))
    with pytest.raises(SchemaError, match="weights: values must be real"):
        project(wda, E)
    texts = [f"word{i} thing" for i in range(6)]
    y = xr.DataArray(rng.standard_normal((6, 2)) + 0j, dims=("stimulus", "unit"),
                     coords={"stimulus": [f"s{i}" for i in range(6)], "unit": ["u0", "u1"],
                             "text": ("stimulus", texts)})
    with pytest.raises(SchemaError, match="responses: values must be real"):
        score_captions({u: "thing" for u in y["unit"].values}, y, embed=TOPIC_EMBED, rng=0)


def test_bad_inputs_score(sim, sim_bank):
    _, test, Y = _split(sim)
    held = Y.sel(stimulus=test)
    caps = {u: "soup" for u in held["unit"].values[:-1]}
    with pytest.raises(SchemaError, match="no caption for 1 unit"):
        score_captions(caps, held, embed=TOPIC_EMBED, rng=0)
    caps = {u: "soup" for u in held["unit"].values}
    with pytest.raises(SchemaError, match="embed must return"):
        score_captions(caps, held, embed=lambda texts: np.ones((len(texts) + 1, 4)), rng=0)
    with pytest.raises(SchemaError, match="NaN/inf"):
        score_captions(caps, held, embed=lambda texts: np.full((len(texts), 4), np.nan), rng=0)
    with pytest.raises(SchemaError, match="no 'text' coord"):
        score_captions(caps, held.drop_vars("text"), embed=TOPIC_EMBED, rng=0)
    with pytest.raises(ValueError, match="null must be one of"):
        score_captions(caps, held, embed=TOPIC_EMBED, null="units", rng=0)
    caps["unit000"] = ""
    with pytest.warns(NeurorepWarning, match="empty caption"):
        res = score_captions(caps, held, embed=TOPIC_EMBED, null="stimuli", n_permutations=10, rng=0)
    assert np.isnan(res["score"].sel(unit="unit000"))
    with pytest.warns(NeurorepWarning, match="empty caption"):  # ranked: NaN stays NaN
        sp = score_captions(caps, held, embed=TOPIC_EMBED, null="stimuli", n_permutations=10,
                            metric="spearman", rng=0)
    assert np.isnan(sp["score"].sel(unit="unit000"))
    assert np.isfinite(sp["score"].drop_sel(unit="unit000")).all()


# ----------------------------------------------------------------------------
# simulator and plots
# ----------------------------------------------------------------------------
def test_make_concept_population_structure(sim):
    Y = sim["brain"].ds["responses"]
    assert data.validate(Y) == "responses"
    assert data.validate(sim["model"], kind="activations") == "activations"
    assert Y.sizes["stimulus"] == 8 * 40 and Y.sizes["unit"] == 40
    mixed = sim["truth"].ds["n_concepts"].values == 2
    assert 0.1 < mixed.mean() < 0.5
    again = make_concept_population(n_units=40, n_per_concept=40, rng=0)
    np.testing.assert_array_equal(again["brain"].ds["responses"].values, Y.values)
    with pytest.raises(ValueError, match="lacks word lists"):
        make_concept_population(concepts={"a": {"noun": ["x"]}, "b": {"noun": ["y"]}}, rng=0)


def test_plots(sim, sim_bank, sim_captions):
    from neurorep.plotting.selectivity import plot_caption_cards, plot_concept_map

    _, test, Y = _split(sim)
    scores = score_captions(sim_captions, Y.sel(stimulus=test), embed=TOPIC_EMBED, rng=0)
    units = list(sim_captions["unit"].values[:3])
    disp = plot_caption_cards(sim_captions, scores=scores, units=units)
    assert len(disp.axes_) == 4  # 2 x 2 panels, the last one hidden
    texts = [t.get_text() for ax in disp.axes_ for t in ax.texts]
    first = str(sim_captions["caption"].values[0])
    assert any(first.split(",")[0] in t for t in texts)
    assert any(t.startswith("unit000   r = ") for t in texts)
    ax = plot_concept_map(sim_captions.assign_coords(planted=sim["truth"].ds["concept"]),
                          color="planted", n_colors=20).ax_
    labels = {t.get_text() for t in ax.get_legend().get_texts()}
    assert labels == set(sim["truth"].ds["concept"].values.tolist())
    with pytest.raises(KeyError, match="not in captions"):
        plot_caption_cards(sim_captions, units=["nope"])
