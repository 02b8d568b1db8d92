"""Concepts per unit: clusters among its top stimuli (batched spherical k-means).

Every unit of a chunk is clustered at once: ``k`` units x ``M`` top stimuli x
``d`` dims, with farthest-first initialisation from the rank-1 stimulus (so the
result is deterministic), a few Lloyd iterations on cosine similarity, and the
number of concepts chosen by the mean silhouette (cosine distance).
"""

from __future__ import annotations

import numpy as np

CHUNK_UNITS = 1024


def _onehot(labels: np.ndarray, c: int, dtype: np.dtype) -> np.ndarray:
    return (labels[..., None] == np.arange(c)).astype(dtype)


def silhouette(D: np.ndarray, labels: np.ndarray, c: int) -> np.ndarray:
    """Mean silhouette per unit; D (k, M, M) distances, labels (k, M) in 0..c-1."""
    L = _onehot(labels, c, D.dtype)
    sums = np.matmul(D, L)  # (k, M, c)
    counts = L.sum(axis=1)  # (k, c)
    own = np.take_along_axis(counts, labels, axis=1)  # (k, M)
    a = np.take_along_axis(sums, labels[..., None], axis=2)[..., 0] / np.maximum(own - 1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_other = sums / counts[:, None, :]
    mean_other[np.broadcast_to(counts[:, None, :] == 0, mean_other.shape)] = np.inf
    np.put_along_axis(mean_other, labels[..., None], np.inf, axis=2)
    b = mean_other.min(axis=2)
    denom = np.maximum(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where((own > 1) & np.isfinite(b) & (denom > 0), (b - a) / denom, 0.0)
    return s.mean(axis=1)


def _kmeans(X: np.ndarray, sim: np.ndarray, c: int, n_iter: int) -> np.ndarray:
    k, M, _ = X.shape
    rows = np.arange(k)
    centers = [np.zeros(k, dtype=np.int64)]
    closest = sim[:, 0, :].copy()
    for _ in range(1, c):
        nxt = np.argmin(closest, axis=1)
        centers.append(nxt)
        np.maximum(closest, sim[rows, nxt, :], out=closest)
    C = X[rows[:, None], np.stack(centers, axis=1)]  # (k, c, d)
    labels = np.full((k, M), -1, dtype=np.int64)
    for _ in range(n_iter):
        new = np.argmax(np.matmul(X, C.transpose(0, 2, 1)), axis=2)
        if np.array_equal(new, labels):
            break
        labels = new
        L = _onehot(labels, c, X.dtype)
        sums = np.matmul(L.transpose(0, 2, 1), X)
        norms = np.linalg.norm(sums, axis=2, keepdims=True)
        C = np.where(norms > 0, sums / np.where(norms > 0, norms, 1), C)
    return labels


def _relabel(labels: np.ndarray, c: int) -> np.ndarray:
    """Number clusters by their best-ranked member (concept 0 holds rank 1)."""
    M = labels.shape[1]
    L = labels[..., None] == np.arange(c)
    first = np.where(L.any(axis=1), np.argmax(L, axis=1), M + np.arange(c))
    new_of_old = np.argsort(np.argsort(first, axis=1), axis=1)
    return np.take_along_axis(new_of_old, labels, axis=1)


def cluster_top(
    X: np.ndarray,
    *,
    max_concepts: int,
    min_size: int,
    threshold: float,
    n_iter: int = 20,
) -> tuple[np.ndarray, np.ndarray]:
    """Concept labels (k, M) and the number of concepts (k,) for unit-major top embeddings.

    ``X`` (k, M, d) holds unit-norm embeddings of each unit's top ``M``
    stimuli in rank order. A unit is split into ``c`` concepts when the split
    has a mean silhouette above ``threshold`` and every concept has at least
    ``min_size`` stimuli; the best such ``c`` wins (else one concept).
    """
    k, M, _ = X.shape
    labels = np.zeros((k, M), dtype=np.int64)
    n_concepts = np.ones(k, dtype=np.int64)
    if max_concepts < 2 or M < 2 * min_size:
        return labels, n_concepts
    sim = np.matmul(X, X.transpose(0, 2, 1))
    D = np.clip(1.0 - sim, 0.0, 2.0)
    best = np.full(k, float(threshold))
    for c in range(2, min(max_concepts, M // max(min_size, 1)) + 1):
        lab = _kmeans(X, sim, c, n_iter)
        sizes = _onehot(lab, c, X.dtype).sum(axis=1)
        sil = silhouette(D, lab, c)
        ok = (sizes.min(axis=1) >= min_size) & (sil > best)
        if ok.any():
            labels[ok] = _relabel(lab[ok], c)
            n_concepts[ok] = c
            best[ok] = sil[ok]
    return labels, n_concepts
