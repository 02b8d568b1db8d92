"""RDMs of dask-backed responses chunked along units, in memory bounded by one chunk.

Every non-cross-validated metric is a function of one Gram matrix over
stimuli, summed over unit chunks (:mod:`neurorep._core.gram`): one pass finds
the scale (and, for correlation, each stimulus' mean over units), a second
adds every chunk's Gram term into a running ``(n, n)`` sum. The responses are
never gathered; it runs on the threaded scheduler or a ``dask.distributed``
cluster alike, and the numbers equal the in-memory kernels of
:mod:`neurorep.rsa._rdm` up to the order of summation.

A noise precision that couples units (a full matrix) cannot be split over
unit chunks; a given one takes the in-memory path. Crossnobis, and
mahalanobis with an estimated noise, are computed from the run cube chunk by
chunk in :mod:`neurorep.rsa._noise_chunked`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurorep._core.gram import gram, scale_and_means

__all__ = ["CHUNKED", "gram", "scale_and_means", "supports"]

#: Metrics computed chunk-wise here (the others gather the responses).
CHUNKED = ("euclidean", "squared_euclidean", "correlation", "cosine", "mahalanobis")


def supports(metric: str, precision: Any) -> bool:
    """True when ``metric`` with this precision splits over unit chunks (none or diagonal)."""
    return metric in CHUNKED and (precision is None or (
        isinstance(precision, np.ndarray) and precision.ndim == 1))
