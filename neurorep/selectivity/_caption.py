"""caption_units: weights -> top stimuli -> concepts -> keywords -> one caption per unit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep import __version__
from neurorep._core.errors import SchemaError
from neurorep.selectivity._compose import Composer, Concept, resolve_composer
from neurorep.selectivity._concepts import CHUNK_UNITS, cluster_top
from neurorep.selectivity._inputs import Bank, check_dtype, prepare_bank, prepare_weights
from neurorep.selectivity._keywords import (
    build_vocabulary,
    check_method,
    make_tokenizer,
    score_groups,
    top_per_row,
)
from neurorep.selectivity._project import (
    DEFAULT_TEMPERATURE,
    PROJECTION_DESCRIPTIONS,
    check_n,
    check_projection_method,
    check_temperature,
    scan_bank,
    top_vars,
    unit_coords,
)


def _concepts_of(
    bank: Bank, top: np.ndarray, *, max_concepts: int, min_size: int, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    U, M = top.shape
    labels = np.zeros((U, M), dtype=np.int64)
    n_concepts = np.ones(U, dtype=np.int64)
    if max_concepts < 2:
        return labels, n_concepts
    for start in range(0, U, CHUNK_UNITS):
        idx = top[start : start + CHUNK_UNITS]
        X = bank.E[idx] / bank.norms[idx][..., None].astype(bank.E.dtype)
        lab, nc = cluster_top(X, max_concepts=max_concepts, min_size=min_size, threshold=threshold)
        labels[start : start + CHUNK_UNITS] = lab
        n_concepts[start : start + CHUNK_UNITS] = nc
    return labels, n_concepts


def _keywords_of(
    bank: Bank, top: np.ndarray, labels: np.ndarray, n_concepts_max: int, *, n_keywords: int,
    method: str, prior_strength: float | None, min_count: int, stop_words: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Keywords (U, C, K) and their scores for every unit-concept group, vectorised per chunk."""
    from scipy import sparse

    assert bank.texts is not None
    vocab = build_vocabulary([str(t) for t in bank.texts], make_tokenizer(stop_words))
    U, M = top.shape
    C = n_concepts_max
    words = np.full((U, C, n_keywords), "", dtype=object)
    scores = np.full((U, C, n_keywords), np.nan)
    n_bank = bank.E.shape[0]
    for start in range(0, U, CHUNK_UNITS):
        stop = min(start + CHUNK_UNITS, U)
        k = stop - start
        group = (np.arange(k)[:, None] * C + labels[start:stop]).ravel()
        T = sparse.csr_matrix(
            (np.ones(group.size), (group, top[start:stop].ravel())), shape=(k * C, n_bank)
        )
        counts = (T @ vocab.dtm).tocoo()
        rows, cols, ya = counts.row.astype(np.int64), counts.col.astype(np.int64), counts.data
        group_tokens = np.asarray(counts.tocsr().sum(axis=1)).ravel()
        group_docs = np.asarray(T.sum(axis=1)).ravel()
        z = score_groups(
            rows, cols, ya, group_tokens, group_docs, vocab.df, n_bank, method=method,
            prior_strength=prior_strength, background_contains_groups=True,
        )
        best, _ = top_per_row(rows, z, k * C, n_keywords, ok=ya >= min_count)
        empty = best[:, 0] < 0
        if min_count > 1 and empty.any():  # too few shared words: fall back to single texts
            fallback, _ = top_per_row(rows, z, k * C, n_keywords)
            best[empty] = fallback[empty]
        found = best >= 0
        w = np.full(best.shape, "", dtype=object)
        s = np.full(best.shape, np.nan)
        w[found] = vocab.words[cols[best[found]]]
        s[found] = z[best[found]]
        words[start:stop] = w.reshape(k, C, n_keywords)
        scores[start:stop] = s.reshape(k, C, n_keywords)
    return words, scores


def _compose_all(
    compose: Composer, unit_ids: np.ndarray, words: np.ndarray, scores: np.ndarray,
    texts: np.ndarray, labels: np.ndarray, n_concepts: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    U, C, _ = words.shape
    M = labels.shape[1]
    captions = np.empty(U, dtype=object)
    concept_captions = np.full((U, C), "", dtype=object)
    for u in range(U):
        concepts = []
        for c in range(int(n_concepts[u])):
            members = labels[u] == c
            kw = words[u, c]
            keep = kw != ""
            concepts.append(
                Concept(
                    keywords=tuple(kw[keep].tolist()),
                    scores=tuple(scores[u, c][keep].tolist()),
                    examples=tuple(str(t) for t in texts[u][members]),
                    share=float(members.sum()) / M,
                )
            )
        try:
            captions[u] = str(compose(concepts))
            if len(concepts) == 1:
                concept_captions[u, 0] = captions[u]
            else:
                for c, concept in enumerate(concepts):
                    concept_captions[u, c] = str(compose([concept]))
        except Exception as err:
            err.add_note(f"raised by the composer while captioning unit {unit_ids[u]!r}")
            raise
    return captions, concept_captions


def caption_units(
    weights: Any,
    bank: Any,
    *,
    n_top: int = 20,
    n_keywords: int = 8,
    max_concepts: int = 3,
    min_concept_size: int = 4,
    concept_threshold: float = 0.3,
    keyword_method: Literal["log_odds", "tfidf"] = "log_odds",
    prior_strength: float | None = None,
    min_count: int = 2,
    stop_words: str | Iterable[str] | None = "english",
    composer: str | Composer = "template",
    temperature: float = DEFAULT_TEMPERATURE,
    return_projection: bool = True,
    projection_method: Literal["brainscuba", "weighted_mean"] = "brainscuba",
    dtype: Literal["float32", "float64"] = "float32",
    chunk_units: int | None = None,
) -> xr.Dataset:
    """Caption every unit from its encoding weights (BrainSCUBA / LaVCa style, offline).

    For each unit: (1) the bank stimuli with the highest predicted response
    ``w . e`` (:func:`top_stimuli`) and, optionally, the BrainSCUBA softmax
    projection of ``w`` onto the bank (:func:`project`); (2) concepts -- the
    top stimuli split into clusters (spherical k-means on cosine, number
    chosen by silhouette) when they form clusters; (3) keywords per concept
    -- words over-represented in the concept's texts versus the rest of the
    bank (:func:`keywords`); (4) a caption composed from the concepts by
    ``composer`` (deterministic by default; pass :func:`llm_composer` to use
    a language model). Memory is bounded by chunking over units.

    Parameters
    ----------
    weights : Dataset, DataArray (feature, unit) or (unit, feature), or array (unit, feature)
        Encoding weights in the bank's embedding space (e.g. a
        :func:`neurorep.encoding.fit_ridge` result on sentence embeddings).
    bank : DataArray (stimulus, feature) with a ``text`` coord, or one-layer DataTree
        Stimulus (or caption) embeddings and their texts, e.g.
        :func:`embed_texts` output.
    n_top : int
        Top stimuli per unit (clustered and used for keywords).
    n_keywords : int
        Keywords kept per concept.
    max_concepts : int
        At most this many concepts per unit (1: never split).
    min_concept_size : int
        Fewest top stimuli a concept may hold.
    concept_threshold : float
        Mean silhouette (cosine distance) a split must exceed.
    keyword_method : {"log_odds", "tfidf"}
        See :func:`keywords`.
    prior_strength, min_count, stop_words
        See :func:`keywords` (``min_count``: texts of the concept that must
        contain a keyword).
    composer : "template" or callable concepts -> str
        Turns a unit's :class:`Concept` list into its caption.
    temperature : float
        Softmax temperature of the projection.
    return_projection : bool
        Compute ``projection`` and ``effective_n`` (one more product per chunk).
    projection_method : {"brainscuba", "weighted_mean"}
        How the projection combines the bank (:func:`project`'s ``method``).
    dtype : {"float32", "float64"}
    chunk_units : int, optional
        Units per chunk of the bank scan (default ~16 M scores per chunk).

    Returns
    -------
    Dataset
        ``caption`` (unit), ``concept_caption`` (unit, concept), ``keywords``
        and ``keyword_score`` (unit, concept, keyword), ``n_concepts`` (unit),
        ``concept_share`` (unit, concept), ``top_stimulus``, ``top_text``,
        ``predicted``, ``similarity``, ``top_concept`` (unit, rank),
        ``weight_norm`` (unit) and, with ``return_projection``,
        ``projection`` (unit, feature) and ``effective_n`` (unit). Empty
        slots hold ``""``/NaN/0; ``rank`` and ``concept`` count from 1.

    Raises
    ------
    SchemaError
        A bank without texts or embeddings, embedding dimensions that differ,
        all-zero weights, non-finite values.

    Examples
    --------
    >>> from neurorep.selectivity import caption_units, make_concept_population
    >>> from neurorep import data
    >>> sim = make_concept_population(n_units=4, rng=0)
    >>> bank = data.members(sim["model"])["embeddings"]
    >>> caps = caption_units(sim["truth"].ds["weights"], bank, n_top=10)
    >>> caps["caption"].dims
    ('unit',)
    """
    dt = check_dtype(dtype)
    n_top = check_n(n_top, "n_top")
    n_keywords = check_n(n_keywords, "n_keywords")
    max_concepts = check_n(max_concepts, "max_concepts")
    min_concept_size = check_n(min_concept_size, "min_concept_size")
    min_count = check_n(min_count, "min_count")
    check_method(keyword_method)
    t = check_temperature(temperature)
    check_projection_method(projection_method, "projection_method")
    compose, composer_name = resolve_composer(composer)
    b = prepare_bank(bank, dtype=dt)
    if b.texts is None:
        raise SchemaError(
            "bank: captions need the texts of the bank entries; give the bank a 'text' coord, e.g. "
            "bank.assign_coords(text=('stimulus', texts)), or build it with embed_texts()."
        )
    w = prepare_weights(weights, b)
    scan = scan_bank(w, b, n_top=n_top, temperature=t if return_projection else None, dtype=dt,
                     chunk_units=chunk_units, method=projection_method)
    labels, n_concepts = _concepts_of(
        b, scan.top, max_concepts=max_concepts, min_size=min_concept_size,
        threshold=float(concept_threshold),
    )
    C = int(n_concepts.max())
    words, kscores = _keywords_of(
        b, scan.top, labels, C, n_keywords=n_keywords, method=keyword_method,
        prior_strength=prior_strength, min_count=min_count, stop_words=stop_words,
    )
    top_text = b.texts[scan.top]
    captions, concept_captions = _compose_all(
        compose, w.unit_ids, words, kscores, top_text, labels, n_concepts
    )
    M = scan.top.shape[1]
    share = (labels[:, :, None] == np.arange(C)).sum(axis=1) / M
    data: dict[str, Any] = {
        "caption": ("unit", captions),
        "concept_caption": (("unit", "concept"), concept_captions),
        "keywords": (("unit", "concept", "keyword"), words),
        "keyword_score": (("unit", "concept", "keyword"), kscores),
        "n_concepts": ("unit", n_concepts),
        "concept_share": (("unit", "concept"), share),
        **top_vars(scan, b),
        "top_concept": (("unit", "rank"), labels + 1),
        "weight_norm": ("unit", scan.weight_norm),
    }
    coords: dict[str, Any] = {
        **unit_coords(w),
        "rank": np.arange(1, M + 1),
        "concept": np.arange(1, C + 1),
        "keyword": np.arange(1, n_keywords + 1),
    }
    if return_projection:
        data["projection"] = (("unit", "feature"), scan.projection)
        data["effective_n"] = ("unit", scan.effective_n)
        coords["feature"] = b.feature_ids if b.feature_ids is not None else np.arange(b.E.shape[1])
    ds = xr.Dataset(data, coords=coords)
    ds["keyword_score"].attrs = {"method": keyword_method}
    if return_projection:
        ds["projection"].attrs = {"description": PROJECTION_DESCRIPTIONS[projection_method]}
    ds["predicted"].attrs = {"description": "predicted response w.e (+ intercept)"}
    ds["similarity"].attrs = {"description": "cosine(w, e)"}
    ds.attrs = {
        "analysis": "caption_units",
        "neurorep_version": __version__,
        "n_top": n_top,
        "n_keywords": n_keywords,
        "max_concepts": max_concepts,
        "min_concept_size": min_concept_size,
        "concept_threshold": float(concept_threshold),
        "keyword_method": keyword_method,
        "prior_strength": "pooled" if prior_strength is None else float(prior_strength),
        "min_count": min_count,
        "composer": composer_name,
        "temperature": t,
        "projection_method": projection_method,
        "n_bank": int(b.E.shape[0]),
        "dtype": str(dt),
    }
    return ds
