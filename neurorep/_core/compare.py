"""RDM comparison kernels: ``(a, m), (b, m) -> (a, b)`` scores of condensed RDM vectors.

Every row of ``x`` is scored against every row of ``y`` (rsatoolbox's method
names and numbers; the table of methods is in :mod:`neurorep.rsa._compare`,
the registry :data:`COMPARE_METHODS`). Rows are transformed once (ranked,
centred, whitened) and all pairs scored with one matrix product; Kendall's
tau-a uses one O(m log m) count per pair (compiled with numba) on ranks and
orders computed once per row. An optional boolean ``valid`` ``(m,)`` marks the
dissimilarities to use (rsatoolbox's NaN handling; used by the bootstrap).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse

from neurorep._core import compare_matrix
from neurorep._core.condensed import n_from_m, triu
from neurorep._core.errors import check_option
from neurorep._core.parallel import one_blas_thread, run_blocks
from neurorep._core.ranks import (
    centred_ranks,
    dense_rows,
    group_starts,
    sort_rows,
    tied_pairs_rows,
)

__all__ = [
    "ALIASES",
    "COMPARE_METHODS",
    "DISTANCE_METHODS",
    "Method",
    "compare_vectors",
    "cov_closed_form",
    "gram",
    "inference_method",
    "kendall_counts",
    "resolve_method",
    "tau_a",
]

_SMALL_GEMM = 2e7  # multiply-adds below which one BLAS thread is used


def gram(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x @ y.T`` with one BLAS thread when the product is small."""
    if float(x.shape[0]) * y.shape[0] * x.shape[1] < _SMALL_GEMM:
        with one_blas_thread():
            return x @ y.T
    return x @ y.T


def _norms(x: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->i", x, x, optimize=True))


def _cos(
    x: np.ndarray, y: np.ndarray, nx: np.ndarray | None = None, ny: np.ndarray | None = None
) -> np.ndarray:
    """Cosine of every row pair; zero-norm rows give NaN. The big arrays are not rescaled;
    ``nx``, ``ny``: the rows' norms when the caller knows them (else one pass each)."""
    nx = _norms(x) if nx is None else nx
    ny = _norms(y) if ny is None else ny
    with np.errstate(invalid="ignore", divide="ignore"):
        out = gram(x, y) / nx[:, None] / ny[None, :]
    out[nx == 0, :] = np.nan
    out[:, ny == 0] = np.nan
    return np.clip(out, -1.0, 1.0)


def _center(x: np.ndarray, *, inplace: bool = False) -> np.ndarray:
    """Rows minus their mean, in two passes.

    One pass leaves every row off by the rounding of its mean (~eps * |mean|), a
    constant that inflates the norm of a row whose spread is a few ulps of its offset
    (an RDM like ``1e6 + [0, 1, 2] * ulp``: Pearson r wrong by ~0.2, as rsatoolbox's).
    The mean of the centred row is that error, computed to the row's own precision.
    """
    mean = x.mean(axis=1, keepdims=True)
    if inplace:
        x -= mean
    else:
        x = x - mean
    rest = x.mean(axis=1, keepdims=True)
    if rest.any():
        x -= rest
    return x



# --- rows whose cosine is the score ----------------------------------------------
_BLOCK_BYTES = 4 << 20  # columns of both stacks centred together: a few MB, cache-resident
_BLOCKED_MIN = 1 << 22  # values of x and y below which one centred copy is cheaper


def _corr_blocked(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of every row pair without centred copies of ``x`` and ``y``.

    The row means are taken first; then a block of columns of both is centred
    into small buffers and added to the cross products and the norms, so each
    array is read twice (mean, blocks) and never written: for large stacks
    the cost is about one GEMM of the raw vectors.
    """
    a, m = x.shape
    b = y.shape[0]
    mx, my = x.mean(axis=1)[:, None], y.mean(axis=1)[:, None]
    step = min(m, max(1024, _BLOCK_BYTES // (8 * (a + b))))
    bx, by = np.empty((a, step)), np.empty((b, step))
    num, part = np.zeros((a, b)), np.empty((a, b))
    nx, ny = np.zeros(a), np.zeros(b)
    for s in range(0, m, step):
        w = min(step, m - s)
        cx = np.subtract(x[:, s : s + w], mx, out=bx[:, :w])
        cy = np.subtract(y[:, s : s + w], my, out=by[:, :w])
        np.matmul(cx, cy.T, out=part)
        num += part
        nx += np.einsum("ij,ij->i", cx, cx, optimize=True)
        ny += np.einsum("ij,ij->i", cy, cy, optimize=True)
    nx, ny = np.sqrt(nx), np.sqrt(ny)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / nx[:, None] / ny[None, :]
    out[nx == 0, :] = np.nan
    out[:, ny == 0] = np.nan
    return np.clip(out, -1.0, 1.0)


_RAW_CONDITION = 64.0  # largest sum(x**2) / sum((x - mean)**2) of a row for the raw GEMM

Moments = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _blocked_gram(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x @ y.T`` summed over blocks of columns (a few MB of both): each block's product
    is added to the total, so a score's rounding error grows with the block, not with all
    ``m`` columns (one GEMM of 499,500 columns: ~3x the error of the centred products),
    for ~3 % more time than one GEMM at 100 x 100 RDMs of 1000 stimuli."""
    a, m = x.shape
    b = y.shape[0]
    step = min(m, max(2048, 2 * _BLOCK_BYTES // (8 * (a + b))))
    if step >= m:
        return gram(x, y)
    num, part = np.zeros((a, b)), np.empty((a, b))
    for c in range(0, m, step):
        np.matmul(x[:, c : c + step], y[:, c : c + step].T, out=part)
        num += part
    return num


def _corr_raw(x: np.ndarray, y: np.ndarray, moments: Moments | None = None) -> np.ndarray | None:
    """Pearson r from one GEMM of the raw rows, ``(x.y - m mx my) / (m sx sy)``.

    ``moments``: the rows' sums and sums of squares ``(sx, ssx, sy, ssy)`` when the caller
    has them (:func:`neurorep._core.rowmoments.row_moments`, one read of each array, as the
    condensed path of ``rsa.compare`` takes them while it checks the values); else they
    are taken here the same way. ``None`` (before the GEMM) when a row's mean is so large
    against its spread (sum of squares over centred sum of squares > 64) that the
    subtraction would lose more than ~2 digits, or when a row's values lie outside
    ``2**-64 .. 2**64`` (the caller then rescales exactly and centres)."""
    from neurorep._core.rowmoments import row_moments  # numba: imported on first use

    m = x.shape[1]
    if moments is None:
        moments = (*row_moments(x), *row_moments(y))
    sx, ssx, sy, ssy = moments
    lo, hi = 2.0 ** (-128), 2.0**128
    if not all(((ss / m >= lo) & (ss <= hi)).all() for ss in (ssx, ssy)):
        return None
    cx, cy = ssx - sx * sx / m, ssy - sy * sy / m  # centred sums of squares
    with np.errstate(invalid="ignore", divide="ignore"):
        cond = max(float(np.max(ssx / cx)), float(np.max(ssy / cy)))
    if not np.isfinite(cond) or cond > _RAW_CONDITION or (cx <= 0).any() or (cy <= 0).any():
        return None
    num = _blocked_gram(x, y)
    num -= np.outer(sx, sy / m)
    return np.clip(num / np.sqrt(cx)[:, None] / np.sqrt(cy)[None, :], -1.0, 1.0)


def _cmp_corr(
    x: np.ndarray,
    y: np.ndarray,
    *,
    own: bool = False,
    moments: Moments | None = None,
    **_: Any,
) -> np.ndarray:
    """Pearson r: for large stacks one GEMM of the raw rows (well-conditioned rows) or the
    blocked centring; small ones are centred (in place when the rows are ours). The kernel
    keeps its products in float64's range itself (``Method.rescales``); ``moments``: see
    :func:`_corr_raw`."""
    if x.size + y.size >= _BLOCKED_MIN:
        raw = _corr_raw(x, y, moments)
        if raw is not None:
            return raw
        x, y = _rescale_rows(x, own=own), _rescale_rows(y, own=own)
        return _corr_blocked(x, y)
    x, y = _rescale_rows(x, own=own), _rescale_rows(y, own=own)
    return _cos(_rows_centred(x, own), _rows_centred(y, own))


def _rows_identity(x: np.ndarray, own: bool = False) -> np.ndarray:
    return x


def _rows_centred(x: np.ndarray, own: bool = False) -> np.ndarray:
    return _center(x, inplace=own)


def _rows_centred_ranks(x: np.ndarray, own: bool = False) -> np.ndarray:
    """Average ranks, centred (their mean is exactly ``(m + 1) / 2``)."""
    return centred_ranks(x, out=x if own else None)[0]


def _cmp_spearman(x: np.ndarray, y: np.ndarray, *, own: bool = False, **_: Any) -> np.ndarray:
    """Pearson r of the average ranks: centred ranks in one pass per row, their norms from
    the tie counts (exact, no pass over the ranks), one GEMM."""
    rx, ssx = centred_ranks(x, out=x if own else None)
    ry, ssy = centred_ranks(y, out=y if own else None)
    return _cos(rx, ry, np.sqrt(ssx), np.sqrt(ssy))


def _cosine_kernel(rows: Callable[[np.ndarray, bool], np.ndarray]) -> Callable[..., np.ndarray]:
    """The kernel ``cosine(rows(x), rows(y))`` of a row transform."""

    def kernel(x: np.ndarray, y: np.ndarray, *, own: bool = False, **_: Any) -> np.ndarray:
        return _cos(rows(x, own), rows(y, own))

    return kernel


def _cmp_rho_a(x: np.ndarray, y: np.ndarray, *, own: bool = False, **_: Any) -> np.ndarray:
    m = x.shape[1]
    rx, ry = _rows_centred_ranks(x, own), _rows_centred_ranks(y, own)
    return gram(rx, ry) * (12.0 / (m**3 - m))


# --- Kendall tau-a -----------------------------------------------------------
_PREP_VALUES = 1 << 21  # values of the rows ranked together: ~16 MB per temporary array


def _order_and_runs(
    x: np.ndarray, dtype: type
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """Each row's sorting order, its runs of tied values (``(ptr, lo, hi)``, see
    :func:`neurorep._core.kendall.tau_counts`) and its tied pairs; a block of rows at a
    time, the blocks on the parallel engine."""
    r, m = x.shape
    order: np.ndarray = np.empty((r, m), dtype=dtype)
    ties = np.empty(r, dtype=np.int64)
    parts: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def prep(s: int, e: int) -> None:
        flat, sv = sort_rows(np.ascontiguousarray(x[s:e], dtype=np.float64))
        offsets = np.arange(0, (e - s) * m, m, dtype=np.int64)[:, None]
        np.subtract(flat.reshape(e - s, m), offsets, out=order[s:e], casting="unsafe")
        new = group_starts(sv, m)
        ties[s:e] = tied_pairs_rows(new, m)
        starts = np.flatnonzero(new)
        lengths = np.diff(np.append(starts, new.size))
        keep = lengths > 1
        parts[s] = (starts[keep] + s * m, lengths[keep])  # positions in all of x

    run_blocks(prep, r, max(1, _PREP_VALUES // m), nbytes=x.nbytes)
    blocks = [parts[s] for s in sorted(parts)]
    starts = np.concatenate([b[0] for b in blocks]).astype(np.int64)
    lengths = np.concatenate([b[1] for b in blocks]).astype(np.int64)
    row = starts // m  # the blocks' runs, in row order: positions are row * m + sorted index
    ptr = np.searchsorted(row, np.arange(r + 1)).astype(np.int64)
    lo = starts - row * m
    return order, (ptr, lo, lo + lengths), ties


def _dense_ranks(y: np.ndarray, dtype: type) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's dense ranks (1-based), its largest rank and its tied pairs, a block of rows
    at a time."""
    r, m = y.shape
    dense: np.ndarray = np.empty((r, m), dtype=dtype)
    top = np.empty(r, dtype=np.int64)
    ties = np.empty(r, dtype=np.int64)

    def prep(s: int, e: int) -> None:
        _, dense[s:e], ranks_sorted, ties[s:e] = dense_rows(y[s:e])
        top[s:e] = ranks_sorted[:, -1]

    run_blocks(prep, r, max(1, _PREP_VALUES // m), nbytes=y.nbytes)
    return dense, top, ties


def kendall_counts(
    x: np.ndarray,
    y: np.ndarray,
    *,
    pairs: np.ndarray | None = None,
    shared_ties: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kendall's numerator ``sum_{i<j} sign(x_i - x_j) sign(y_i - y_j)`` of all row pairs
    (``(a, b)``, or ``(P,)`` for ``pairs``, ``(P, 2)`` row indices), and the tied pairs of
    the row of ``x`` and of the row of ``y`` of each score (same shape); int64, exact.

    ``shared_ties``: tied pairs that every row of ``x`` and ``y`` has at the same
    positions (a stimulus bootstrap repeats the dissimilarities of a stimulus
    drawn twice); checked against the rows' ties (the counts are exact either way).

    Each row is sorted once: rows of ``x`` give their sorting order and runs of
    tied values, rows of ``y`` their dense ranks. Each pair then costs one
    O(m log m) count of discordant pairs (a Fenwick tree over ``y``'s ranks in
    ``x``'s order, :func:`neurorep._core.kendall.tau_counts`, compiled with
    numba), which also counts the pairs tied in both rows. The pairs, grouped
    by row of ``x``, are split into contiguous ranges on the parallel engine;
    every count is an exact integer, so the scores do not depend on the split.
    """
    from neurorep._core.kendall import tau_counts

    m = x.shape[1]
    tot = m * (m - 1) // 2
    if pairs is None:
        rows_x, rows_y = np.arange(x.shape[0]), np.arange(y.shape[0])
        pi = np.repeat(rows_x, y.shape[0]).astype(np.int64)
        pj = np.tile(rows_y, x.shape[0]).astype(np.int64)
        shape: tuple[int, ...] = (x.shape[0], y.shape[0])
    else:
        p = np.asarray(pairs, dtype=np.intp).reshape(-1, 2)
        rows_x, pi_u = np.unique(p[:, 0], return_inverse=True)  # only the rows in some pair
        rows_y, pj_u = np.unique(p[:, 1], return_inverse=True)
        pi, pj = pi_u.astype(np.int64).ravel(), pj_u.astype(np.int64).ravel()
        shape = (p.shape[0],)
    if pi.size == 0:
        empty = np.empty(shape, dtype=np.int64)
        return empty, empty.copy(), empty.copy()
    dtype = np.int32 if m < 2**31 - 1 else np.int64
    xs = x if rows_x.size == x.shape[0] else x[rows_x]
    ys = y if rows_y.size == y.shape[0] else y[rows_y]
    order_x, runs_x, ties_x = _order_and_runs(xs, dtype)
    dense_y, top_y, ties_y = _dense_ranks(ys, dtype)
    for name, ties in (("x", ties_x), ("y", ties_y)):
        if shared_ties and ties.min() < shared_ties:
            raise ValueError(f"shared_ties={shared_ties} exceeds the ties of a row of {name}.")
    by_x = np.argsort(pi, kind="stable")  # a row of x and its order stay in cache
    pi_s, pj_s = pi[by_x], pj[by_x]
    dis = np.empty(pi.size, dtype=np.int64)
    joint = np.empty(pi.size, dtype=np.int64)

    def count(s: int, e: int) -> None:
        dis[s:e], joint[s:e] = tau_counts(
            order_x, runs_x, dense_y, top_y, pi_s[s:e], pj_s[s:e]
        )

    run_blocks(count, pi.size, None, nbytes=float(pi.size) * m * order_x.itemsize)
    num = np.empty(pi.size, dtype=np.int64)
    num[by_x] = tot - ties_x[pi_s] - ties_y[pj_s] + joint - 2 * dis
    return num.reshape(shape), ties_x[pi].reshape(shape), ties_y[pj].reshape(shape)


def tau_a(
    x: np.ndarray,
    y: np.ndarray,
    *,
    pairs: np.ndarray | None = None,
    shared_ties: int = 0,
    **kw: Any,
) -> np.ndarray:
    """Kendall tau-a for all row pairs (or only ``pairs``, ``(P, 2)`` row indices -> ``(P,)``):
    the numerator of :func:`kendall_counts` over ``m (m - 1) / 2``."""
    m = x.shape[1]
    num = kendall_counts(x, y, pairs=pairs, shared_ties=shared_ties)[0]
    return np.clip(num / (m * (m - 1) // 2), -1.0, 1.0)


# --- whitened (cov) methods ----------------------------------------------------
@functools.lru_cache(maxsize=8)
def _incidence(n: int) -> scipy.sparse.csr_matrix:
    """``(m, n)`` sparse matrix with ones at the two stimuli of each pair."""
    iu, ju = triu(n)
    m = iu.size
    rows = np.r_[np.arange(m), np.arange(m)]
    cols = np.r_[iu, ju]
    return scipy.sparse.csr_matrix((np.ones(2 * m), (rows, cols)), shape=(m, n))


def _cov_weighting(v: np.ndarray, sigma_k: np.ndarray | None = None) -> np.ndarray:
    """rsatoolbox's ``_cov_weighting`` without NaN: ``(k, m)`` -> ``(k, m + n)``.

    ``G = -D/2`` is double-centred; the result holds ``sqrt(2) * G_ij`` for
    each pair then ``G_ii``, so dot products are Frobenius inner products.
    """
    k, m = v.shape
    n = n_from_m(m)
    iu, ju = triu(n)
    g = -0.5 * v
    row_mean = (_incidence(n).T @ g.T).T / n  # (k, n): mean of each row of G
    grand = 2.0 * g.sum(axis=1, keepdims=True) / (n * n)
    out = np.empty((k, m + n))
    out[:, :m] = g - row_mean[:, iu] - row_mean[:, ju] + grand
    out[:, m:] = -2.0 * row_mean + grand
    if sigma_k is not None:
        sq = np.sqrt(sigma_k)
        out[:, :m] /= sq[iu] * sq[ju]
        out[:, m:] /= sq * sq
    out[:, :m] *= np.sqrt(2.0)
    return out


def _masked_design(valid: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray,
                                                      scipy.sparse.csr_matrix, np.ndarray]:
    """The valid pairs' stimuli ``iu``, ``ju``, their ``(m', n)`` incidence matrix and the
    inverse of rsatoolbox's normal matrix (``0.5`` per pair, ``1`` per diagonal entry):
    what :func:`_cov_weighting_masked` needs, computed once for both sides."""
    iu, ju = triu(n)
    iu, ju = iu[valid], ju[valid]
    p = iu.size
    inc = scipy.sparse.csr_matrix(
        (np.ones(2 * p), np.c_[iu, ju].ravel(), np.arange(0, 2 * p + 1, 2)), shape=(p, n)
    )
    normal = 0.5 * (inc.T @ inc).toarray()
    normal[np.diag_indices(n)] += 1.0
    return iu, ju, inc, np.linalg.inv(normal)


def _cov_weighting_masked(
    v: np.ndarray,
    design: tuple[np.ndarray, np.ndarray, scipy.sparse.csr_matrix, np.ndarray],
) -> np.ndarray:
    """rsatoolbox's ``_cov_weighting`` NaN branch: ``v`` holds only the valid pairs.

    The row and column effects of ``G = -D/2`` are removed by weighted least
    squares over the valid pairs (``(k, m' + n)`` result, ``design`` from
    :func:`_masked_design`): with ``c = (inc' g') ' N^-1`` (``g = -v/2``), pair
    ``(i, j)`` becomes ``sqrt(2) (g_ij - (c_i + c_j) / 2)`` and diagonal entry
    ``i`` becomes ``-c_i``; a few passes over ``v`` and one sparse product.
    """
    iu, ju, inc, inv_normal = design
    k, p = v.shape
    coef = np.asarray(v @ inc) @ (-0.5 * inv_normal)  # (k, n); v @ inc: no copy of v.T
    out = np.empty((k, p + inv_normal.shape[0]))
    pairs = out[:, :p]
    np.take(coef, iu, axis=1, out=pairs)
    pairs += np.take(coef, ju, axis=1)
    pairs += v
    pairs *= -0.5 * np.sqrt(2.0)
    np.negative(coef, out=out[:, p:])
    return out


def _v_matrix(n: int, sigma_k: np.ndarray) -> np.ndarray:
    """Covariance of dissimilarity estimates ``(C S C') o (C S C')`` (dense, m x m)."""
    iu, ju = triu(n)
    s = np.asarray(sigma_k, dtype=np.float64)
    xi = s[np.ix_(iu, iu)] - s[np.ix_(iu, ju)] - s[np.ix_(ju, iu)] + s[np.ix_(ju, ju)]
    return xi * xi


def _cmp_cov(
    x: np.ndarray,
    y: np.ndarray,
    *,
    center: bool,
    sigma_k: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    n: int | None = None,
) -> np.ndarray:
    if valid is None and sigma_k is None:
        closed = cov_closed_form(x, y, centred=center)
        if closed is not None:
            return closed
    if center:
        x, y = _center(x), _center(y)
    if valid is not None:
        assert n is not None
        if sigma_k is not None:
            raise ValueError("cov methods with a sigma_k cannot handle excluded pairs.")
        design = _masked_design(valid, n)
        return _cos(_cov_weighting_masked(x, design), _cov_weighting_masked(y, design))
    if sigma_k is not None and sigma_k.ndim == 2:
        import scipy.linalg

        vm = _v_matrix(n_from_m(x.shape[1]), sigma_k)
        factor = scipy.linalg.cho_factor(vm)
        wx = scipy.linalg.cho_solve(factor, x.T).T
        wy = scipy.linalg.cho_solve(factor, y.T).T
        cross = x @ wy.T
        nx = np.sqrt(np.einsum("ij,ij->i", x, wx, optimize=True))
        ny = np.sqrt(np.einsum("ij,ij->i", y, wy, optimize=True))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.clip(cross / nx[:, None] / ny[None, :], -1.0, 1.0)
    return _cos(_cov_weighting(x, sigma_k), _cov_weighting(y, sigma_k))


_COV_CONDITION = 1e4  # beyond this ratio of raw to whitened norm the closed form loses digits


def cov_closed_form(x: np.ndarray, y: np.ndarray, *, centred: bool) -> np.ndarray | None:
    """cosine_cov / corr_cov (identity sigma_k) from one GEMM of the raw vectors.

    For RDMs ``D``, ``E`` (row sums ``R``, totals ``T``) the Frobenius product of
    the double-centred matrices is ``<HDH, HEH> = <D, E> - 2 R_D.R_E / n +
    T_D T_E / n**2``, with ``<D, E> = 2 x.y`` on the condensed vectors; the
    ``corr_cov`` variant (each vector minus its mean ``c``, i.e. ``D - c(11' - I)``)
    adds ``-c_E T_D / n - c_D T_E / n + c_D c_E (n - 1)``. Equal to rsatoolbox's
    explicit weighting; ``None`` when an RDM is so close to its null pattern that
    the subtraction would lose more than ~4 digits (the caller then whitens explicitly).
    """
    n = n_from_m(x.shape[1])
    inc = _incidence(n)

    def parts(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        r = np.asarray((inc.T @ v.T).T)  # (k, n) row sums of the square RDMs
        t = r.sum(axis=1)
        c = v.mean(axis=1) if centred else np.zeros(v.shape[0])
        return r, t, c, 2.0 * np.einsum("ij,ij->i", v, v, optimize=True)

    rx, tx, cx, raw_x = parts(x)
    ry, ty, cy, raw_y = parts(y)

    def self_norm(r: np.ndarray, t: np.ndarray, c: np.ndarray, raw: np.ndarray) -> np.ndarray:
        base = raw - 2.0 * np.einsum("ij,ij->i", r, r) / n + t * t / n**2
        return base - 2.0 * c * t / n + c * c * (n - 1)

    nx, ny = self_norm(rx, tx, cx, raw_x), self_norm(ry, ty, cy, raw_y)
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = max(float(np.max(raw_x / nx)), float(np.max(raw_y / ny)))
    if not np.isfinite(cond) or cond > _COV_CONDITION or (nx <= 0).any() or (ny <= 0).any():
        return None
    num = 2.0 * gram(x, y) - 2.0 * gram(rx, ry) / n + np.outer(tx, ty) / n**2
    num += (-np.outer(tx, cy) - np.outer(cx, ty)) / n + np.outer(cx, cy) * (n - 1)
    return np.clip(num / np.sqrt(nx)[:, None] / np.sqrt(ny)[None, :], -1.0, 1.0)


def _cmp_cosine_cov(x: np.ndarray, y: np.ndarray, **kw: Any) -> np.ndarray:
    return _cmp_cov(x, y, center=False, **kw)


def _cmp_corr_cov(x: np.ndarray, y: np.ndarray, **kw: Any) -> np.ndarray:
    return _cmp_cov(x, y, center=True, **kw)


@dataclass(frozen=True)
class Method:
    """One RDM comparison method: its kernel and what the rest of neurorep needs to know.

    Adding a method is one entry of :data:`COMPARE_METHODS`: ``rsa.compare``,
    ``rsa.evaluate`` (noise ceilings, cross-validated fits, bootstrap),
    ``rsa.searchlight`` and the alignment RSA metrics read these fields.

    Attributes
    ----------
    kernel : callable(x, y, **kw) -> (a, b) array
        Scores of every row pair of condensed vectors ``(a, m)``, ``(b, m)``;
        takes ``own=`` (the rows may be overwritten), or ``sigma_k=``,
        ``valid=``, ``n=`` when ``whitened``.
    pool : {"rms", "zscore", "rank"}
        How data RDMs are normalised before they are averaged into a pooled
        RDM (rsatoolbox's ``pool_rdm``: noise ceilings, fitted models).
    whitened : bool
        The kernel whitens with the pattern covariance ``sigma_k``.
    vectorised : bool
        ``rsa.evaluate`` has a closed form over all bootstrap samples at once
        (weighted sums / weighted ranks, :mod:`neurorep.rsa._weighted`).
    fittable : bool
        Weighted models (non-negative combinations) can be fitted for it.
    cosine_rows : callable(x, own) -> x', optional
        A row transform after which the score is the cosine of two rows (used
        to batch many comparisons into one matrix product).
    rescales : bool
        The kernel keeps its sums of products inside float64's range itself
        (else :func:`compare_vectors` rescales extreme rows first).
    paired : bool
        Each row pair costs its own computation; the kernel also takes
        ``pairs=`` (``(P, 2)`` row indices: only those pairs, ``(P,)`` scores)
        and ``shared_ties=`` (see :func:`tau_a`).
    scale_free : bool
        The score does not change when an RDM is multiplied by a positive
        number (rows far from 1 are then rescaled exactly before the products).
    whole : bool
        The kernel compares whole RDMs (matrices): no dissimilarity may be
        left out (NaN pairs, a stimulus drawn twice by a bootstrap).
    takes_moments : bool
        The kernel takes ``moments=`` (the rows' sums and sums of squares,
        ``(sx, ssx, sy, ssy)``) from a caller that has them, instead of a
        pass of its own over the values (:func:`compare_vectors`).
    """

    kernel: Callable[..., np.ndarray]
    pool: Literal["rms", "zscore", "rank"]
    whitened: bool = False
    vectorised: bool = False
    fittable: bool = False
    cosine_rows: Callable[[np.ndarray, bool], np.ndarray] | None = None
    paired: bool = False
    scale_free: bool = True
    whole: bool = False
    rescales: bool = False
    takes_moments: bool = False

    @property
    def ranked(self) -> bool:
        """The score depends on the ranks of the dissimilarities only."""
        return self.pool == "rank"

    def __call__(self, x: np.ndarray, y: np.ndarray, **kw: Any) -> np.ndarray:
        return self.kernel(x, y, **kw)


#: The comparison methods (rsatoolbox's names), see the module docstring.
COMPARE_METHODS: dict[str, Method] = {
    "corr": Method(_cmp_corr, pool="zscore", vectorised=True, fittable=True,
                   cosine_rows=_rows_centred, rescales=True, takes_moments=True),
    "spearman": Method(_cmp_spearman, pool="rank", vectorised=True,
                       cosine_rows=_rows_centred_ranks),
    "rho-a": Method(_cmp_rho_a, pool="rank", vectorised=True),
    "tau-a": Method(tau_a, pool="rank", paired=True),
    "cosine": Method(_cosine_kernel(_rows_identity), pool="rms", vectorised=True, fittable=True,
                     cosine_rows=_rows_identity),
    "cosine_cov": Method(_cmp_cosine_cov, pool="rms", whitened=True),
    "corr_cov": Method(_cmp_corr_cov, pool="zscore", whitened=True),
    "tau-b": Method(compare_matrix.tau_b, pool="rank", paired=True),
    "bures": Method(compare_matrix.bures, pool="rms", whitened=True, whole=True),
    "bures_metric": Method(compare_matrix.bures_metric, pool="rms", whitened=True,
                           scale_free=False, whole=True),
    "neg_riem_dist": Method(compare_matrix.neg_riem_dist, pool="rms", whitened=True,
                            scale_free=False, whole=True),
}
ALIASES = {"pearson": "corr", "kendall": "tau-b"}


def resolve_method(method: str) -> str:
    method = ALIASES.get(method, method)
    check_option("method", method, [*COMPARE_METHODS, *ALIASES])
    return method


#: Comparison methods whose score is a distance (lower = more similar), with the
#: similarity to use in their place. ``rsa.compare`` gives these distances; the
#: inference functions (tests against 0, model-vs-model tests, noise ceilings,
#: fits that maximise the score) read every score as higher = better and refuse them.
DISTANCE_METHODS: dict[str, str] = {"bures_metric": "bures"}


def inference_method(method: str, where: str) -> str:
    """``resolve_method(method)``, refusing a distance-type method for inference.

    Parameters
    ----------
    method : str
        A comparison method name or alias.
    where : str
        The calling function, for the message.

    Returns
    -------
    str
        The canonical method name.

    Raises
    ------
    ValueError
        ``method`` is a distance (see :data:`DISTANCE_METHODS`).

    Examples
    --------
    >>> inference_method("pearson", "evaluate")
    'corr'
    """
    name = resolve_method(method)
    if name in DISTANCE_METHODS:
        raise ValueError(
            f"{where}: method={method!r} is a distance (lower = more similar), but "
            f"{where} treats every score as higher = better (tests against 0, model "
            f"comparisons, noise ceilings, fitted weights). Use "
            f"method={DISTANCE_METHODS[name]!r} (the matching similarity) or "
            f"'neg_riem_dist' (a negated distance); rsa.compare(method={name!r}) gives the "
            f"distances themselves."
        )
    return name


_SAFE_EXPONENT = 64


def _rescale_rows(x: np.ndarray, *, own: bool) -> np.ndarray:
    """Rows whose largest |value| lies outside ``2**-64 .. 2**64`` divided by a power of two.

    Every method is invariant to the scale of each RDM and the division is exact, so
    scores do not change, while sums of squares and products (norms, Gram matrices, the
    row sums of the cov methods) no longer overflow (1e152) or underflow to zero and
    give NaN (1e-170). Ordinary rows are neither copied nor changed.
    """
    if x.size == 0:
        return x
    peak = np.maximum(x.max(axis=1), -x.min(axis=1))
    e = np.frexp(peak)[1]
    e[(np.abs(e) <= _SAFE_EXPONENT) | ~np.isfinite(peak)] = 0
    if not e.any():
        return x
    out = x if own else x.copy()
    np.ldexp(out, -e[:, None], out=out)
    return out


def compare_vectors(
    x: np.ndarray,
    y: np.ndarray,
    method: str,
    *,
    sigma_k: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    n: int | None = None,
    own: bool = False,
    moments: Moments | None = None,
) -> np.ndarray:
    """Score every row of ``x`` against every row of ``y``: ``(a, m), (b, m) -> (a, b)``.

    ``valid`` restricts the comparison to some dissimilarities (rsatoolbox's
    NaN convention); for the cov methods ``n`` (number of stimuli) is then needed.
    ``own=True``: ``x`` and ``y`` are the caller's own fresh arrays and may be
    overwritten (saves a copy of each). They must then not be the same array.
    ``moments``: the rows' sums and sums of squares ``(sx, ssx, sy, ssy)`` of ``x``
    and ``y`` when the caller took them (:func:`neurorep._core.rowmoments.row_moments`);
    a method that needs them (``Method.takes_moments``) then skips its own pass.
    Ignored with ``valid``.
    """
    if valid is not None:  # C-ordered copies of the valid columns (x[:, valid] is 8x slower)
        x, y = np.compress(valid, x, axis=1), np.compress(valid, y, axis=1)
        own = True  # fresh copies
    meth = COMPARE_METHODS[method]
    # products of the values: keep them inside float64's range (unless the kernel does)
    if not meth.ranked and meth.scale_free and not meth.rescales:
        x, y = _rescale_rows(x, own=own), _rescale_rows(y, own=own)
    if meth.whitened:
        return meth.kernel(x, y, sigma_k=sigma_k, valid=valid, n=n)
    if meth.takes_moments and moments is not None and valid is None:
        return meth.kernel(x, y, own=own, moments=moments)
    return meth.kernel(x, y, own=own)
