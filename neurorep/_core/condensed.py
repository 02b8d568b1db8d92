"""Condensed RDM vectors: the upper triangle of ``(n, n)`` matrices in scipy ``squareform`` order.

An RDM over ``n`` stimuli has ``m = n (n - 1) / 2`` dissimilarities; pair
``(i, j)``, ``i < j``, sits at :func:`pair_index` ``(i, j, n)`` of its vector.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["condensed", "n_from_m", "pair_index", "square", "triangle_offsets", "triu"]


@functools.lru_cache(maxsize=8)
def triu(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the upper triangle (``np.triu_indices(n, 1)``), read-only."""
    iu, ju = np.triu_indices(n, 1)
    iu.setflags(write=False)
    ju.setflags(write=False)
    return iu, ju


@functools.lru_cache(maxsize=8)
def triangle_offsets(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat offsets into a row-major ``(n, n)`` matrix of the upper triangle and of its mirror."""
    iu, ju = triu(n)
    upper, lower = iu * n + ju, ju * n + iu
    upper.setflags(write=False)
    lower.setflags(write=False)
    return upper, lower


def condensed(values: np.ndarray) -> np.ndarray:
    """``(..., n, n)`` -> ``(..., m)`` upper triangles, C-contiguous, dtype kept (unchecked:
    :func:`neurorep.data.rdm_vectors` is the checked path)."""
    values = np.asarray(values)
    n = values.shape[-1]
    flat = values.reshape(*values.shape[:-2], n * n)
    return np.take(flat, triangle_offsets(n)[0], axis=-1)


def square(vectors: np.ndarray, n: int) -> np.ndarray:
    """``(..., m)`` -> ``(..., n, n)`` symmetric matrices with a zero diagonal."""
    vectors = np.asarray(vectors)
    out = np.zeros((*vectors.shape[:-1], n, n), dtype=vectors.dtype)
    iu, ju = triu(n)
    out[..., iu, ju] = vectors
    out[..., ju, iu] = vectors
    return out


def n_from_m(m: int) -> int:
    """The number of stimuli ``n`` of a condensed vector of ``m = n (n - 1) / 2`` pairs."""
    n = int(round((1 + np.sqrt(1 + 8 * m)) / 2))
    if n * (n - 1) // 2 != m:
        raise ValueError(f"{m} is not a number of pairs n*(n-1)/2.")
    return n


def pair_index(i: np.ndarray, j: np.ndarray, n: int) -> np.ndarray:
    """Condensed index of the pairs ``(i, j)`` with ``i < j``."""
    return i * n - i * (i + 1) // 2 + (j - i - 1)
