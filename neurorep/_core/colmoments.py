"""Per-column sums of products of predictions and responses in one pass, compiled with numba.

For a fold's held-out responses ``Z`` and one alpha's predictions ``P`` (both
``(sample, unit)``, deviations from their means), ridge cross-validation needs
``P.P``, ``P.Z`` and ``(Z - P).(Z - P)`` per column. Three numpy reductions and
a subtraction read ``P`` and ``Z`` four times and write ``P`` once; this kernel
reads each once. The subtraction ``Z - P`` is rounded in the input's dtype (as
numpy's would be), every product is taken in that dtype and summed row after
row (four rows per load and store of a column's sums, in the same order) over
at most ``rows`` rows, and those partial sums are added in float64 (for float32,
``rows=64``: relative error ~3e-7 instead of ~1e-6 over 600 rows; for float64
``rows`` = all rows, the sum of numpy's row-by-row ``einsum``). On the sizes checked the results equal those of the numpy
reductions it replaced bit for bit (a single column: within 2e-15, einsum sums it
pairwise).

:func:`col_moments` splits the columns over the parallel engine
(:func:`neurorep._core.parallel.run_blocks`, in order off the main thread). The
kernel is cached on disk (``cache=True``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neurorep._core.parallel import run_blocks

__all__ = ["col_moments"]

_WIDTH = 512  # columns whose partial sums stay in L1 while the rows stream past
# Each column's three sums are loaded, take four rows (in order) and are stored back:
# one load and store of them per four rows. The rows are 1-D views, whose indices
# numba and LLVM see as in range (indexing the 2-D array at ``b0 + j`` kept the loop
# from vectorising: 0.8 instead of 0.24 ns per element in float32).


@njit(nogil=True, cache=True)
def _rows_zz(Z: np.ndarray, r0: int, r1: int, b0: int, b1: int, s0: np.ndarray) -> None:
    # pragma: no cover - compiled
    i = r0
    while i + 4 <= r1:
        z0, z1, z2, z3 = Z[i, b0:b1], Z[i + 1, b0:b1], Z[i + 2, b0:b1], Z[i + 3, b0:b1]
        for j in range(b1 - b0):
            s0[j] = s0[j] + z0[j] * z0[j] + z1[j] * z1[j] + z2[j] * z2[j] + z3[j] * z3[j]
        i += 4
    for k in range(i, r1):
        zk = Z[k, b0:b1]
        for j in range(b1 - b0):
            s0[j] += zk[j] * zk[j]


@njit(nogil=True, cache=True)
def _rows_sse(
    P: np.ndarray, Z: np.ndarray, r0: int, r1: int, b0: int, b1: int, s2: np.ndarray
) -> None:  # pragma: no cover - compiled
    i = r0
    while i + 4 <= r1:
        p0, p1, p2, p3 = P[i, b0:b1], P[i + 1, b0:b1], P[i + 2, b0:b1], P[i + 3, b0:b1]
        z0, z1, z2, z3 = Z[i, b0:b1], Z[i + 1, b0:b1], Z[i + 2, b0:b1], Z[i + 3, b0:b1]
        for j in range(b1 - b0):
            e0, e1, e2, e3 = z0[j] - p0[j], z1[j] - p1[j], z2[j] - p2[j], z3[j] - p3[j]
            s2[j] = s2[j] + e0 * e0 + e1 * e1 + e2 * e2 + e3 * e3
        i += 4
    for k in range(i, r1):
        pk, zk = P[k, b0:b1], Z[k, b0:b1]
        for j in range(b1 - b0):
            e = zk[j] - pk[j]
            s2[j] += e * e


@njit(nogil=True, cache=True)
def _rows_all(
    P: np.ndarray, Z: np.ndarray, r0: int, r1: int, b0: int, b1: int,
    s0: np.ndarray, s1: np.ndarray, s2: np.ndarray,
) -> None:  # pragma: no cover - compiled
    i = r0
    while i + 4 <= r1:
        p0, p1, p2, p3 = P[i, b0:b1], P[i + 1, b0:b1], P[i + 2, b0:b1], P[i + 3, b0:b1]
        z0, z1, z2, z3 = Z[i, b0:b1], Z[i + 1, b0:b1], Z[i + 2, b0:b1], Z[i + 3, b0:b1]
        for j in range(b1 - b0):
            a, b, c = s0[j], s1[j], s2[j]
            p, z = p0[j], z0[j]
            e = z - p
            a += p * p
            b += p * z
            c += e * e
            p, z = p1[j], z1[j]
            e = z - p
            a += p * p
            b += p * z
            c += e * e
            p, z = p2[j], z2[j]
            e = z - p
            a += p * p
            b += p * z
            c += e * e
            p, z = p3[j], z3[j]
            e = z - p
            a += p * p
            b += p * z
            c += e * e
            s0[j], s1[j], s2[j] = a, b, c
        i += 4
    for k in range(i, r1):
        pk, zk = P[k, b0:b1], Z[k, b0:b1]
        for j in range(b1 - b0):
            p, z = pk[j], zk[j]
            e = z - p
            s0[j] += p * p
            s1[j] += p * z
            s2[j] += e * e


@njit(nogil=True, cache=True)
def _col_moments(
    P: np.ndarray, Z: np.ndarray, mode: int, rows: int, c0: int, c1: int, out: np.ndarray
) -> None:  # pragma: no cover - compiled
    n = Z.shape[0]
    s = np.empty((3, _WIDTH), dtype=Z.dtype)
    for b0 in range(c0, c1, _WIDTH):
        b1 = min(b0 + _WIDTH, c1)
        w = b1 - b0
        for r0 in range(0, n, rows):
            r1 = min(r0 + rows, n)
            s[:] = 0.0
            if mode == 0:  # Z.Z
                _rows_zz(Z, r0, r1, b0, b1, s[0])
            elif mode == 1:  # (Z - P).(Z - P)
                _rows_sse(P, Z, r0, r1, b0, b1, s[2])
            else:  # P.P, P.Z, (Z - P).(Z - P)
                _rows_all(P, Z, r0, r1, b0, b1, s[0], s[1], s[2])
            for j in range(w):
                out[0, b0 + j] += s[0, j]
                out[1, b0 + j] += s[1, j]
                out[2, b0 + j] += s[2, j]


_ROWS_F32 = 64  # float32 sums of at most this many rows, then added in float64


def col_moments(P: np.ndarray | None, Z: np.ndarray, *, sse_only: bool = False) -> np.ndarray:
    """``(3, unit)`` float64: per column ``P.P``, ``P.Z`` and ``(Z - P).(Z - P)``.

    ``P=None``: only row 0, ``Z.Z`` (rows 1, 2 are 0). ``sse_only``: only row 2
    (rows 0, 1 are 0). ``P`` and ``Z`` are C-contiguous ``(sample, unit)`` arrays
    of one float dtype.
    """
    Z = np.ascontiguousarray(Z)
    mode = 0 if P is None else (1 if sse_only else 2)
    P = Z if P is None else np.ascontiguousarray(P, dtype=Z.dtype)
    n, m = Z.shape
    out = np.zeros((3, m))
    if n == 0 or m == 0:
        return out
    rows = n if Z.dtype == np.float64 else _ROWS_F32

    def block(s: int, e: int) -> None:
        _col_moments(P, Z, mode, rows, s, e, out)

    run_blocks(block, m, _WIDTH, nbytes=float(Z.nbytes) * (1 if mode == 0 else 2))
    return out
