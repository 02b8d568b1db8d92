"""Whether a condensed RDM's pair ids follow scipy's squareform order, in one read.

A condensed stack names the two stimuli of each of its ``m = n (n - 1) / 2`` pairs
(coordinates ``stimulus_i``, ``stimulus_j``); they must be ``(s0, s1), (s0, s2), ...,
(s1, s2), ...`` of one list of ids. Gathering the expected ids (``ids[triu]``) and
comparing costs ~8 ms a stack at 1000 stimuli, a fixed cost of every comparison; this
kernel compares the ids' words in place (fixed-width strings and integers, whose bytes
are equal exactly when the ids are) without building the expected arrays. Compiled with
numba on first use and cached on disk.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["squareform_words"]


@njit(nogil=True, cache=True)
def _row_block(si: np.ndarray, sj: np.ndarray, ids: np.ndarray, a: int, w: int) -> int:
    # pragma: no cover - compiled
    # the pairs (a, a+1), ..., (a, n-1) as 1-D views indexed from 0 (LLVM vectorises
    # branch-free ORs of XORs over them): sj's block is ids[a+1:], si's repeats ids[a]
    # (each of its rows equal to the one before, the first to ids[a])
    acc = 0
    rest = ids[(a + 1) * w:]
    for q in range(sj.size):
        acc |= sj[q] ^ rest[q]
    own = ids[a * w:(a + 1) * w]
    for t in range(w):  # the first pair names ids[a], and every later one as the one before
        acc |= si[t] ^ own[t]
    head, tail = si[: si.size - w], si[w:]
    for q in range(tail.size):
        acc |= tail[q] ^ head[q]
    return acc


@njit(nogil=True, cache=True)
def squareform_words(si: np.ndarray, sj: np.ndarray, ids: np.ndarray) -> bool:
    """Whether rows ``si[k]``, ``sj[k]`` ``(m, w)`` equal ``ids[a]``, ``ids[b]`` ``(n, w)``
    for the k-th pair ``a < b`` in squareform order (every array of the same word type)."""
    # pragma: no cover - compiled
    n, w = ids.shape
    if si.shape[0] != n * (n - 1) // 2 or sj.shape[0] != si.shape[0]:
        return False
    fi, fj, fid = si.ravel(), sj.ravel(), ids.ravel()
    k = 0
    for a in range(n - 1):
        length = (n - a - 1) * w
        if _row_block(fi[k:k + length], fj[k:k + length], fid, a, w):
            return False
        k += length
    return True
