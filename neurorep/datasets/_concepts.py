"""A simulated population with planted concepts over a bank of template sentences.

:func:`make_concept_population` is the ground truth of the captioning family
(:mod:`neurorep.selectivity` re-exports it); :func:`hashing_embedder` is its
default text model, a deterministic bag-of-words embedding (as
:func:`make_model_activations` is a random network standing in for a model).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurorep._core.rng import as_generator
from neurorep.data import responses

__all__ = ["CONCEPTS", "hashing_embedder", "make_concept_population"]

#: Built-in concepts: nouns, verbs and adjectives that only sentences of that concept use.
CONCEPTS: dict[str, dict[str, tuple[str, ...]]] = {
    "food": {
        "noun": ("soup", "bread", "pasta", "salad", "cake", "cheese", "noodles", "curry", "pie"),
        "verb": ("cooked", "tasted", "baked", "ate", "seasoned", "served"),
        "adj": ("spicy", "fresh", "sweet", "salty", "delicious", "crispy"),
    },
    "music": {
        "noun": ("guitar", "song", "piano", "melody", "concert", "violin", "drum", "chorus", "album"),
        "verb": ("played", "composed", "sang", "tuned", "rehearsed", "recorded"),
        "adj": ("loud", "gentle", "catchy", "haunting", "upbeat", "melodic"),
    },
    "sports": {
        "noun": ("football", "match", "race", "tennis", "marathon", "trophy", "tournament",
                 "championship", "hockey"),
        "verb": ("won", "lost", "coached", "refereed", "qualified for", "competed in"),
        "adj": ("final", "athletic", "tough", "decisive", "qualifying", "national"),
    },
    "weather": {
        "noun": ("storm", "rain", "snow", "thunder", "fog", "wind", "hail", "blizzard", "drought"),
        "verb": ("forecast", "feared", "predicted", "endured", "measured", "survived"),
        "adj": ("heavy", "freezing", "sudden", "violent", "humid", "stormy"),
    },
    "animals": {
        "noun": ("dog", "cat", "horse", "rabbit", "parrot", "wolf", "kitten", "puppy", "tiger"),
        "verb": ("fed", "petted", "adopted", "groomed", "rescued", "chased"),
        "adj": ("furry", "wild", "playful", "hungry", "tame", "sleepy"),
    },
    "medicine": {
        "noun": ("patient", "fever", "surgery", "vaccine", "infection", "injury", "pill",
                 "diagnosis", "wound"),
        "verb": ("treated", "diagnosed", "prescribed", "examined", "cured", "monitored"),
        "adj": ("painful", "chronic", "severe", "mild", "rare", "contagious"),
    },
    "money": {
        "noun": ("loan", "salary", "budget", "debt", "invoice", "tax", "mortgage", "savings",
                 "profit"),
        "verb": ("paid", "borrowed", "saved", "invested", "owed", "calculated"),
        "adj": ("expensive", "huge", "monthly", "annual", "unpaid", "costly"),
    },
    "travel": {
        "noun": ("flight", "train", "hotel", "passport", "luggage", "journey", "airport", "ticket",
                 "cruise"),
        "verb": ("booked", "missed", "packed", "cancelled", "planned", "boarded"),
        "adj": ("long", "cheap", "delayed", "crowded", "overnight", "scenic"),
    },
}
_SUBJECTS = ("The old man", "My sister", "A young student", "Our neighbour", "The teacher",
             "His friend", "The woman", "A visitor")
_SETTINGS = ("on Monday", "last week", "in the morning", "after lunch", "yesterday", "at night",
             "in the city", "before dinner")


def hashing_embedder(
    dim: int = 128,
    *,
    seed: int = 0,
    topics: Mapping[str, Iterable[str]] | None = None,
    topic_weight: float = 1.0,
) -> Callable[[Sequence[str]], np.ndarray]:
    """A tiny deterministic bag-of-words embedder (for tests, simulations, baselines).

    Every lower-cased word gets a fixed Gaussian vector seeded by a hash of
    the word; a text is the mean of its words' vectors, L2-normalised. Texts
    sharing words are similar; nothing is learned. With ``topics`` (topic
    name -> words), the words of a topic also share a topic vector (scaled by
    ``topic_weight``), so texts on one topic are similar even when they share
    no word -- a stand-in for semantic similarity.

    Parameters
    ----------
    dim : int, optional
        Embedding dimension (default 128).
    seed : int, optional
        Salt of the word hash: another seed gives other word vectors
        (deterministic; nothing is drawn at random).
    topics : mapping, optional
        Topic name -> words; the words of a topic share a topic vector.
    topic_weight : float, optional
        Scale of the topic vector relative to the word vectors (default 1).

    Returns
    -------
    callable
        ``embed(texts) -> ndarray (n_texts, dim)``, unit-norm rows.

    Examples
    --------
    >>> from neurorep.datasets import hashing_embedder
    >>> embed = hashing_embedder(16)
    >>> e = embed(["red apple", "red apple", "blue sky"])
    >>> bool(abs(e[0] @ e[1] - 1) < 1e-6), e.shape
    (True, (3, 16))
    """
    if int(dim) < 1:
        raise ValueError(f"dim must be a positive integer; got {dim!r}.")
    pattern = re.compile(r"[a-z0-9]+")
    cache: dict[str, np.ndarray] = {}

    def gaussian(name: str) -> np.ndarray:
        key = zlib.crc32(name.encode()) ^ (int(seed) * 0x9E3779B1 & 0xFFFFFFFF)
        return np.random.default_rng(key).standard_normal(int(dim))

    topic_of: dict[str, str] = {}
    for topic, words in (topics or {}).items():
        for phrase in words:
            for w in pattern.findall(str(phrase).lower()):
                topic_of[w] = str(topic)

    def vector(word: str) -> np.ndarray:
        if word not in cache:
            v = gaussian(word)
            if word in topic_of:
                v = v + float(topic_weight) * gaussian("\x00topic:" + topic_of[word])
            cache[word] = v
        return cache[word]

    def embed(texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), int(dim)))
        for i, text in enumerate(texts):
            words = pattern.findall(str(text).lower())
            if words:
                out[i] = np.mean([vector(w) for w in words], axis=0)
        norm = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norm, out=np.zeros_like(out), where=norm > 0)

    embed.__name__ = f"hashing_embedder({dim})"
    return embed


def concept_sentences(
    concepts: Mapping[str, Mapping[str, Sequence[str]]], n_per_concept: int, gen: np.random.Generator
) -> tuple[list[str], list[str]]:
    """``n_per_concept`` template sentences per concept: texts and their concept labels."""
    texts, labels = [], []
    for name, words in concepts.items():
        for _ in range(n_per_concept):
            subj = _SUBJECTS[int(gen.integers(len(_SUBJECTS)))]
            verb = words["verb"][int(gen.integers(len(words["verb"])))]
            adj = words["adj"][int(gen.integers(len(words["adj"])))]
            noun = words["noun"][int(gen.integers(len(words["noun"])))]
            setting = _SETTINGS[int(gen.integers(len(_SETTINGS)))]
            texts.append(f"{subj} {verb} the {adj} {noun} {setting}.")
            labels.append(name)
    return texts, labels


def make_concept_population(
    n_units: int = 40,
    *,
    n_per_concept: int = 40,
    concepts: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    mixed_fraction: float = 0.25,
    weight_noise: float = 0.3,
    noise: float = 0.5,
    embed: Callable[[Sequence[str]], np.ndarray] | None = None,
    rng: Any = None,
) -> xr.DataTree:
    """A population of units, each selective for one or two planted concepts.

    A bank of template sentences ("The teacher cooked the spicy soup after
    lunch.") is built with ``n_per_concept`` sentences per concept; only the
    verb, adjective and noun carry the concept. Each unit's true weights are
    the (unit-norm) centroid embedding of its concept's sentences minus the
    bank mean -- or the normalised sum
    of two centroids for a fraction ``mixed_fraction`` of units -- plus
    Gaussian noise of norm about ``weight_noise``; its response to a sentence
    is ``e . w`` z-scored plus Gaussian noise of standard deviation ``noise``.

    Parameters
    ----------
    n_units : int, optional
        Units in the population (default 40).
    n_per_concept : int
        Sentences per concept in the bank.
    concepts : mapping, optional
        Concept name -> {"noun": [...], "verb": [...], "adj": [...]};
        default :data:`CONCEPTS` (8 concepts).
    mixed_fraction : float
        Fraction of units selective for two concepts.
    weight_noise, noise : float
        Noise on the weights (relative norm) and on the responses (relative sd).
    embed : callable texts -> (n, d) array, optional
        Default ``hashing_embedder(128, topics=<the concepts' words>)`` (fast,
        deterministic, the words of a concept share a topic vector); pass
        :func:`minilm_embed` for real sentence embeddings.
    rng : int, Generator or None
        Seed or generator of the simulation (None: fresh entropy).

    Returns
    -------
    DataTree
        ``brain``: responses (stimulus, unit) with unit coord ``concept``
        (planted, e.g. ``"food"`` or ``"food+music"``) and stimulus coords
        ``text`` and ``sentence_concept``; ``model/embeddings``:
        the bank as activations (stimulus, unit=embedding dim) with stimulus
        coords ``text`` and ``concept``; ``truth``: ``weights`` (feature,
        unit), ``concept`` and ``n_concepts`` (unit).

    Examples
    --------
    >>> from neurorep.datasets import make_concept_population
    >>> sim = make_concept_population(n_units=6, n_per_concept=10, rng=0)
    >>> sim["brain"].ds["responses"].sizes["stimulus"], sim["truth"].ds["concept"].size
    (80, 6)
    """
    gen = as_generator(rng)
    concepts = dict(concepts if concepts is not None else CONCEPTS)
    if len(concepts) < 2 or n_per_concept < 1 or n_units < 1:
        raise ValueError(
            f"need at least 2 concepts, n_per_concept >= 1 and n_units >= 1; got {len(concepts)}, "
            f"{n_per_concept}, {n_units}."
        )
    for name, words in concepts.items():
        lacking = [k for k in ("noun", "verb", "adj") if not words.get(k)]
        if lacking:
            raise ValueError(f"concept {name!r} lacks word lists {lacking}.")
    fn = embed if embed is not None else hashing_embedder(
        128, topics={name: [w for ws in words.values() for w in ws] for name, words in concepts.items()}
    )
    texts, labels = concept_sentences(concepts, n_per_concept, gen)
    stim = [f"sent{i:04d}" for i in range(len(texts))]
    raw = np.asarray(fn(texts), dtype=np.float64)
    dims_ids = [f"dim{i:03d}" for i in range(raw.shape[1])] if raw.ndim == 2 else None
    # the bank first: its constructor checks the embedder's output (n_texts rows, finite)
    bank = responses(raw, stimulus=stim, unit=dims_ids, name="activations",
                     stimulus_coords={"text": texts, "concept": labels})
    E = bank.values
    d = E.shape[1]
    names = list(concepts)
    lab = np.asarray(labels)
    centroids = np.stack([E[lab == c].mean(axis=0) for c in names]) - E.mean(axis=0)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    W = np.empty((d, n_units))
    unit_concepts = []
    n_concepts = np.empty(n_units, dtype=np.int64)
    for u in range(n_units):
        k = 2 if gen.random() < mixed_fraction else 1
        picked = np.sort(gen.choice(len(names), size=k, replace=False))
        w = centroids[picked].sum(axis=0)
        w /= np.linalg.norm(w)
        w = w + weight_noise * gen.standard_normal(d) / np.sqrt(d)
        W[:, u] = w
        unit_concepts.append("+".join(names[i] for i in picked))
        n_concepts[u] = k
    signal = E @ W
    signal = (signal - signal.mean(axis=0)) / signal.std(axis=0)
    Y = signal + noise * gen.standard_normal(signal.shape)
    units = [f"unit{u:03d}" for u in range(n_units)]
    # the sentences' concept is "sentence_concept" here: "concept" is the units' planted concept
    brain = responses(Y, stimulus=stim, unit=units, unit_coords={"concept": unit_concepts},
                      stimulus_coords={"text": texts, "sentence_concept": labels},
                      region="simulated")
    truth = xr.Dataset(
        {
            "weights": (("feature", "unit"), W),
            "concept": ("unit", np.asarray(unit_concepts, dtype=object)),
            "n_concepts": ("unit", n_concepts),
        },
        coords={"feature": dims_ids, "unit": units},
    )
    emb_ds = bank.to_dataset()
    emb_ds.attrs = {"layer": "embeddings", "depth": 1.0}
    return xr.DataTree.from_dict({
        "/": xr.Dataset(attrs={"simulator": "make_concept_population", "concepts": names,
                               "noise": noise, "weight_noise": weight_noise,
                               "embed": getattr(fn, "__name__", type(fn).__name__)}),
        "/brain": brain.to_dataset(),
        "/model": xr.Dataset(attrs={"model": getattr(fn, "__name__", "embed")}),
        "/model/embeddings": emb_ds,
        "/truth": truth,
    })
