"""RDMs of dask-backed responses chunked along units, in memory bounded by one chunk.

Every non-cross-validated metric is a function of one Gram matrix over
stimuli, summed over unit chunks (:mod:`neurorep._core.gram`): one pass finds
the scale (and, for correlation, each stimulus' mean over units), a second
adds every chunk's Gram term into a running ``(n, n)`` sum. The responses are
never gathered; it runs on the threaded scheduler or a ``dask.distributed``
cluster alike, and the numbers equal the in-memory kernels of
:mod:`neurorep.rsa._rdm` up to the order of summation.

The Poisson KL divergences are sums over units too: ``K = R log(R)^T`` (``R``
the shrunk rates; for ``poisson_cv`` the training runs' rates against each
held-out run's logarithms, summed over runs), ``d_ij = K_ii + K_jj - K_ij -
K_ji``; each chunk adds its ``K`` term and its smallest count (a negative count
is refused after the pass, with the same message as in memory).

A noise precision that couples units (a full matrix) cannot be split over
unit chunks; a given one takes the in-memory path. Crossnobis, and
mahalanobis with an estimated noise, are computed from the run cube chunk by
chunk in :mod:`neurorep.rsa._noise_chunked`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurorep._core.gram import gram, scale_and_means
from neurorep._core.parallel import sum_over_chunks

__all__ = ["CHUNKED", "gram", "kl_cross", "scale_and_means", "supports"]

#: Metrics computed chunk-wise here (the others gather the responses).
CHUNKED = ("euclidean", "squared_euclidean", "correlation", "cosine", "mahalanobis")


def supports(metric: str, precision: Any) -> bool:
    """True when ``metric`` with this precision splits over unit chunks (none or diagonal)."""
    return metric in CHUNKED and (precision is None or (
        isinstance(precision, np.ndarray) and precision.ndim == 1))


def _add_low(a: tuple[np.ndarray, float], b: tuple[np.ndarray, float]) -> tuple[np.ndarray, float]:
    out = a[0]
    out += b[0]
    return out, min(a[1], b[1])


def kl_cross(x: Any, n_run: int = 0) -> tuple[np.ndarray, float]:
    """``(K, smallest value)`` of dask ``x``: ``(n, p)`` patterns (``n_run=0``) or the
    ``(n, n_run, p)`` run cube, :func:`neurorep.rsa._rdm._kl_cross` summed over unit
    chunks (see the module docstring)."""
    from neurorep.rsa._rdm import _kl_cross

    if n_run:
        n = x.shape[0]
        flat = x.astype(np.float64).rechunk({0: -1, 1: -1}).reshape(n * n_run, x.shape[2])
    else:
        n, flat = x.shape[0], x
    k, low = sum_over_chunks(flat, _kl_cross, shared=(n, n_run), combine=_add_low)
    return np.asarray(k), float(low)
