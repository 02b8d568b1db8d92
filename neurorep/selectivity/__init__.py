"""Voxel-caption selectivity: what drives each unit, in words, and how good the words are.

BrainSCUBA (Luo et al. 2023) / LaVCa (Matsuyama et al. 2025) style captions that
run offline in any embedding space:

- :func:`project` -- encoding weights -> BrainSCUBA's softmax projection onto a
  bank of stimulus or caption embeddings;
- :func:`top_stimuli` -- the bank entries with the highest predicted response;
- :func:`keywords` -- words over-represented in a set of texts (log-odds with
  an informative Dirichlet prior, or TF-IDF);
- :func:`caption_units` -- all of the above per unit, with several concepts per
  unit when its top stimuli form clusters, composed into a caption by a
  pluggable composer (:func:`template_composer`, :func:`llm_composer`);
- :func:`score_captions` -- held-out prediction of each unit's responses from
  its caption, against a shuffled-caption null, plus caption diversity;
- :func:`embed_texts`, :func:`minilm_embed`, :func:`hashing_embedder` -- text
  embedders ``embed(texts) -> (n, d)`` and banks built from them;
- :func:`make_concept_population` -- a simulated population with planted concepts
  (it lives in :mod:`neurorep.datasets` with the other simulators, as does its
  default embedder :func:`hashing_embedder`).

Examples
--------
>>> from neurorep import data
>>> from neurorep.selectivity import caption_units, make_concept_population
>>> sim = make_concept_population(n_units=3, rng=0)
>>> bank = data.members(sim["model"])["embeddings"]
>>> caps = caption_units(sim["truth"].ds["weights"], bank)
>>> caps["caption"].sizes["unit"]
3
"""

from neurorep.datasets import CONCEPTS, hashing_embedder, make_concept_population
from neurorep.selectivity._caption import caption_units
from neurorep.selectivity._compose import (
    COMPOSERS,
    DEFAULT_PROMPT,
    Composer,
    Concept,
    llm_composer,
    template_composer,
)
from neurorep.selectivity._embed import Embedder, embed_texts, minilm_embed
from neurorep.selectivity._keywords import KEYWORD_METHODS, keywords
from neurorep.selectivity._project import (
    DEFAULT_TEMPERATURE,
    PROJECTION_METHODS,
    project,
    top_stimuli,
)
from neurorep.selectivity._score import METRICS, score_captions

__all__ = [
    "COMPOSERS",
    "CONCEPTS",
    "DEFAULT_PROMPT",
    "DEFAULT_TEMPERATURE",
    "KEYWORD_METHODS",
    "METRICS",
    "PROJECTION_METHODS",
    "Composer",
    "Concept",
    "Embedder",
    "caption_units",
    "embed_texts",
    "hashing_embedder",
    "keywords",
    "llm_composer",
    "make_concept_population",
    "minilm_embed",
    "project",
    "score_captions",
    "template_composer",
    "top_stimuli",
]
