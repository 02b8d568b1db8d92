"""make_concept_population: units with planted concepts over a bank of template sentences."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurorep._random import as_generator
from neurorep.data import responses
from neurorep.selectivity._embed import Embedder, call_embed, hashing_embedder

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
    embed: Embedder | None = None,
    rng: Any = 0,
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
    n_units : int
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
    rng : int or numpy Generator

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
    >>> from neurorep.selectivity import make_concept_population
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
    E = call_embed(fn, texts, what="sentence")
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
    stim = [f"sent{i:04d}" for i in range(len(texts))]
    units = [f"unit{u:03d}" for u in range(n_units)]
    dims_ids = [f"dim{i:03d}" for i in range(d)]
    # the sentences' concept is "sentence_concept" here: "concept" is the units' planted concept
    brain = responses(Y, stimulus=stim, unit=units, unit_coords={"concept": unit_concepts},
                      stimulus_coords={"text": texts, "sentence_concept": labels},
                      region="simulated")
    bank = responses(E, stimulus=stim, unit=dims_ids, name="activations",
                     stimulus_coords={"text": texts, "concept": labels})
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
