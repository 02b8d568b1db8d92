"""RDM comparison: many-against-many in one call, numbers equal to rsatoolbox's.

Each RDM is reduced to its condensed upper triangle (scipy ``squareform``
order) once, transformed once (ranked, centred, whitened), and all pairs of
RDMs are then scored with one matrix product. Kendall's tau-a uses one
O(m log m) merge count per pair (m = number of dissimilarities) on ranks
and orders computed once per RDM.

Methods (rsatoolbox names):

============== =========================================================================
``corr``       Pearson correlation of the dissimilarities (alias ``pearson``)
``spearman``   Pearson correlation of their ranks (average ranks for ties)
``rho-a``      ``12 / (m**3 - m) * sum((rank_x - mean)(rank_y - mean))``: Spearman's rho
               without tie correction (expected rho under random tie-breaking)
``tau-a``      Kendall's tau-a: (concordant - discordant) / (m (m - 1) / 2)
``cosine``     cosine similarity of the dissimilarities
``cosine_cov`` cosine after whitening with the covariance of dissimilarity estimates
               (Diedrichsen et al. 2021): equals linear CKA of the double-centred
               ``-D/2`` matrices when ``sigma_k`` is None
``corr_cov``   the same after subtracting each RDM's mean dissimilarity
============== =========================================================================
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import scipy.sparse
import xarray as xr

from neurorep._errors import NeurorepWarning, SchemaError, check_option, check_real
from neurorep._workspace import n_threads, run_blocks, scratch
from neurorep.data import RDM_DIMS, align, infer_kind, members, rdm_vectors, validate
from neurorep.data._schema import _triangle_offsets, _validate_rdm_layout

CompareMethod = Literal[
    "corr", "pearson", "spearman", "rho-a", "tau-a", "cosine", "cosine_cov", "corr_cov"
]

__all__ = ["COMPARE_METHODS", "compare", "stack_rdms"]


# ----------------------------------------------------------------------------
# condensed vectors
# ----------------------------------------------------------------------------
def _triu(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(n, 1)


def _vectors(values: np.ndarray) -> np.ndarray:
    """``(..., n, n)`` -> ``(k, m)`` condensed upper triangles (float64, C-contiguous)."""
    n = values.shape[-1]
    flat = np.asarray(values, dtype=np.float64).reshape(-1, n * n)
    return np.take(flat, _triangle_offsets(n)[0], axis=1)  # unchecked: see data.rdm_vectors


def _n_from_m(m: int) -> int:
    n = int(round((1 + np.sqrt(1 + 8 * m)) / 2))
    if n * (n - 1) // 2 != m:
        raise ValueError(f"{m} is not a number of pairs n*(n-1)/2.")
    return n


# ----------------------------------------------------------------------------
# kernels: (a, m), (b, m) -> (a, b); an optional boolean ``valid`` (m,) marks the
# dissimilarities to use (rsatoolbox's NaN handling; used by the bootstrap)
# ----------------------------------------------------------------------------
def _one_blas_thread() -> Any:
    """Context: one BLAS thread (for small GEMMs, where threads only add waiting).

    Multithreaded OpenBLAS spins up and synchronises its threads for every
    call; for small products (and on busy or oversubscribed cores, e.g. inside
    dask worker threads) that costs far more than the arithmetic.
    """
    return _controller().limit(limits=1, user_api="blas")


@functools.cache
def _controller() -> Any:
    """One threadpoolctl controller per process: scanning the loaded libraries costs ~5 ms."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


_SMALL_GEMM = 2e7  # multiply-adds below which one BLAS thread is used


def _gram(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x @ y.T`` with one BLAS thread when the product is small."""
    if float(x.shape[0]) * y.shape[0] * x.shape[1] < _SMALL_GEMM:
        with _one_blas_thread():
            return x @ y.T
    return x @ y.T


def _norms(x: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->i", x, x, optimize=True))


def _cos(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Cosine of every row pair; zero-norm rows give NaN. The big arrays are not rescaled."""
    nx, ny = _norms(x), _norms(y)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = _gram(x, y) / nx[:, None] / ny[None, :]
    out[nx == 0, :] = np.nan
    out[:, ny == 0] = np.nan
    return np.clip(out, -1.0, 1.0)


def _center(x: np.ndarray, *, inplace: bool = False) -> np.ndarray:
    mean = x.mean(axis=1, keepdims=True)
    if inplace:
        x -= mean
        return x
    return x - mean


_SIGN_BIT = np.int64(-(1 << 63))


@functools.lru_cache(maxsize=8)
def _positions(m: int) -> np.ndarray:
    a = np.arange(m, dtype=np.int64)
    a.setflags(write=False)
    return a


@functools.lru_cache(maxsize=8)
def _counting(r: int, m: int) -> np.ndarray:
    """``(r * m,)``: 1..m repeated ``r`` times (the ranks of sorted rows without ties)."""
    a = np.tile(np.arange(1.0, m + 1.0), r)
    a.setflags(write=False)
    return a


def _sort_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorting order and sorted values of each row of ``x`` (r, m) (C-contiguous float64).

    Returns flat indices into ``x.ravel()`` (``(r * m,)`` int64, row ``i``'s at
    ``i * m ...``) and the values in that order; equal values may come in any
    order. Both are per-thread scratch arrays: use them before the next call.

    numpy's SIMD sort of integers is 2-3x faster than its argsort, so each value
    is packed with its position into one integer key: the float's bits made
    order-preserving, with the last ``b`` bits (b = bits of ``m - 1``) replaced
    by the position. Values that differ only in those last bits (relative
    difference below ``2**(b - 52)``) can then come out in position order; the
    sorted values are checked and such runs reordered by value
    (:func:`_order_collisions`). Rows with NaN are argsorted (NaN last).
    """
    r, m = x.shape
    low = np.int64((1 << max(1, (m - 1).bit_length())) - 1)
    bits = x.view(np.int64)
    key = scratch("sort_key", (r, m), np.int64)
    np.right_shift(bits, 63, out=key)  # all ones for negative values
    key |= _SIGN_BIT
    key ^= bits  # negative: all bits flipped; positive: sign bit set -> unsigned order
    key &= ~low
    key |= _positions(m)
    key.view(np.uint64).sort(axis=1)
    key &= low
    key += np.arange(0, r * m, m, dtype=np.int64)[:, None]
    flat = key.reshape(-1)
    sv = scratch("sort_values", (r * m,))
    np.take(x.reshape(-1), flat, out=sv, mode="clip")
    ok = scratch("sort_ok", (r * m,), np.bool_)
    np.greater_equal(sv[1:], sv[:-1], out=ok[1:])  # False on a descent or NaN
    ok[::m] = True  # row boundaries
    if not ok.all():  # some rows need the exact order within colliding keys
        for i in np.flatnonzero(~ok.reshape(r, m).all(axis=1)):
            _order_collisions(x[i], flat[i * m : (i + 1) * m], sv[i * m : (i + 1) * m], low, i * m)
    return flat, sv


def _order_collisions(
    row: np.ndarray, flat: np.ndarray, sv: np.ndarray, low: np.int64, offset: int
) -> None:
    """Fix one row of :func:`_sort_rows` in place (``flat`` holds ``offset`` + positions):
    values whose packed keys share their high bits came out in position order; sort
    each such run by value. Runs are short and few, except for RDMs with many values
    within ~1e-10 of each other. Rows with NaN are argsorted (NaN last)."""
    if np.isnan(sv).any():  # NaN last, as argsort puts it
        order = np.argsort(row)
        flat[:] = order + offset
        sv[:] = row[order]
        return
    bits = sv.view(np.int64)
    high = ((bits >> 63) | _SIGN_BIT) ^ bits
    high &= ~low
    same = high[1:] == high[:-1]  # neighbours with the same packed high bits
    in_run = np.zeros(sv.size, dtype=bool)
    in_run[1:] = same
    in_run[:-1] |= same
    idx = np.flatnonzero(in_run)  # few: cumulative sums run on these only
    joined = (np.diff(idx) == 1) & same[idx[:-1]]  # next element continues the run
    run_id = np.cumsum(np.r_[True, ~joined])
    order = np.lexsort((sv[idx], run_id))  # runs stay in place, each sorted by value
    flat[idx] = flat[idx][order]
    sv[idx] = sv[idx][order]


def _rank_block(x: np.ndarray, out: np.ndarray) -> None:
    """Average ranks of the rows of ``x`` (r, m) written into ``out`` (may be ``x``)."""
    r, m = x.shape
    flat, sv = _sort_rows(x)
    new = scratch("rank_new", (r * m,), np.bool_)
    np.not_equal(sv[1:], sv[:-1], out=new[1:])
    new[::m] = True  # each row starts a group
    if new.all():  # no ties: the rank of the k-th smallest is k
        rank_sorted = _counting(r, m)
    else:  # tied values share the mean of their positions
        starts = np.flatnonzero(new)
        counts = np.diff(np.append(starts, sv.size))
        rank_sorted = np.repeat((starts % m) + (counts + 1) / 2.0, counts)
    out.reshape(-1)[flat] = rank_sorted


def _ranks(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Average ranks (1-based, ties averaged) along the last axis, as scipy's rankdata.

    Rows are ranked a few at a time (the sort indices stay in cache) and the
    blocks run on the shared thread pool: numpy's sort releases the GIL. Pass
    ``out=x`` to rank in place.
    """
    if x.shape[-1] == 0:
        return x.astype(np.float64)
    shape = x.shape
    m = shape[-1]
    x2 = np.ascontiguousarray(x, dtype=np.float64).reshape(-1, m)
    res = np.empty(x2.shape) if out is None else out.reshape(-1, m)
    rows = max(1, (1 << 15) // m)  # ~256 KB of values per block

    def block(s: int, e: int) -> None:
        _rank_block(x2[s:e], res[s:e])

    run_blocks(block, x2.shape[0], rows)
    return res.reshape(shape)


def _prepared(x: np.ndarray, method: str, *, own: bool = False) -> np.ndarray:
    """Rows transformed once so that every score is a cosine (or scaled dot) of rows.

    ``own=True``: ``x`` is a scratch array of the caller's and may be overwritten.
    """
    if method == "cosine":
        return x
    if method == "corr":
        return _center(x, inplace=own)
    # spearman, rho-a: average ranks, centred (their mean is exactly (m + 1) / 2)
    r = _ranks(x, out=x if own else None)
    r -= (x.shape[1] + 1) / 2.0
    return r


def _cmp_cosine(x: np.ndarray, y: np.ndarray, *, own: bool = False, **_: Any) -> np.ndarray:
    return _cos(x, y)


def _cmp_corr(x: np.ndarray, y: np.ndarray, *, own: bool = False, **_: Any) -> np.ndarray:
    return _cos(_prepared(x, "corr", own=own), _prepared(y, "corr", own=own))


def _cmp_spearman(x: np.ndarray, y: np.ndarray, *, own: bool = False, **_: Any) -> np.ndarray:
    return _cos(_prepared(x, "spearman", own=own), _prepared(y, "spearman", own=own))


def _cmp_rho_a(x: np.ndarray, y: np.ndarray, *, own: bool = False, **_: Any) -> np.ndarray:
    m = x.shape[1]
    rx, ry = _prepared(x, "rho-a", own=own), _prepared(y, "rho-a", own=own)
    return _gram(rx, ry) * (12.0 / (m**3 - m))


# --- Kendall tau-a -----------------------------------------------------------
try:  # the O(m log m) discordant-pair count scipy.stats.kendalltau uses
    from scipy.stats._stats import _kendall_dis as _scipy_kendall_dis
except ImportError:  # pragma: no cover - private scipy API moved
    _scipy_kendall_dis = None


def _group_starts(sv: np.ndarray, m: int) -> np.ndarray:
    """Flags ``(r * m,)``: True where a sorted row starts a new value (and at each row start)."""
    new = np.empty(sv.size, dtype=bool)
    np.not_equal(sv[1:], sv[:-1], out=new[1:])
    new[::m] = True
    return new


def _tied_pairs_rows(new: np.ndarray, m: int) -> np.ndarray:
    """Tied pairs in each sorted row, from its group-start flags: sum of c (c - 1) / 2 over runs."""
    r = new.size // m
    if new.all():
        return np.zeros(r, dtype=np.int64)
    starts = np.flatnonzero(new)  # run starts, row-major; every row starts a run
    counts = np.diff(np.append(starts, new.size))
    first = np.searchsorted(starts, np.arange(r) * m)  # index of each row's first run
    return np.add.reduceat(counts * (counts - 1) // 2, first)


def _dense_rows(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per row of ``v`` (r, m): sorting order, dense ranks (1-based), dense ranks in sorted
    order (all ``(r, m)`` intp) and number of tied pairs ``(r,)``."""
    r, m = v.shape
    flat, sv = _sort_rows(np.ascontiguousarray(v, dtype=np.float64))
    new = _group_starts(sv, m)
    dense_sorted = np.cumsum(new.reshape(r, m), axis=1, dtype=np.intp)
    dense = np.empty((r, m), dtype=np.intp)
    dense.reshape(-1)[flat] = dense_sorted.reshape(-1)
    order = flat.reshape(r, m) - np.arange(0, r * m, m, dtype=np.int64)[:, None]
    return order.astype(np.intp, copy=False), dense, dense_sorted, _tied_pairs_rows(new, m)


def _cmp_tau_a(
    x: np.ndarray,
    y: np.ndarray,
    *,
    pairs: np.ndarray | None = None,
    shared_ties: int = 0,
    **kw: Any,
) -> np.ndarray:
    """Kendall tau-a for all row pairs (or only ``pairs``, ``(P, 2)`` row indices -> ``(P,)``).

    ``shared_ties``: tied pairs that every row of ``x`` and ``y`` has at the same
    positions (a stimulus bootstrap repeats the dissimilarities of a stimulus
    drawn twice). A row with no other ties then shares exactly those with any
    other row, which spares counting the pairs tied in both.

    Ranks and orders are computed once per row, a block of rows at a time. For
    each row of ``x``, the rows of ``y`` it meets are put in its order with one
    gather, then each pair costs one O(m log m) discordant-pair count. Blocks of
    ``x`` rows run on the shared thread pool (scipy's count releases the GIL).
    """
    m = x.shape[1]
    tot = m * (m - 1) // 2
    out: np.ndarray
    if pairs is None:
        todo = {i: np.arange(y.shape[0]) for i in range(x.shape[0])}
        out = np.empty((x.shape[0], y.shape[0]))
        slots = {i: i * y.shape[0] + todo[i] for i in todo}
    else:
        pairs = np.asarray(pairs, dtype=np.intp).reshape(-1, 2)
        out = np.empty(pairs.shape[0])
        todo, slots = {}, {}
        for i in np.unique(pairs[:, 0]):
            sel = np.flatnonzero(pairs[:, 0] == i)
            todo[int(i)], slots[int(i)] = pairs[sel, 1], sel
    max_rows = max(1, (1 << 21) // m)  # rows prepared together: ~16 MB per array
    dense_y = np.empty(y.shape, dtype=np.intp)
    ties_y = np.empty(y.shape[0], dtype=np.int64)

    def prep_y(s: int, e: int) -> None:
        _, dense_y[s:e], _, ties_y[s:e] = _dense_rows(y[s:e])

    run_blocks(prep_y, y.shape[0], max_rows)
    if shared_ties and ties_y.min() < shared_ties:
        raise ValueError(f"shared_ties={shared_ties} exceeds the ties of a row of y.")
    max_y = dense_y.max(axis=1).astype(np.int64) + 1
    flat = out.reshape(-1)
    rows_x = list(todo)

    def row(i: int, ox: np.ndarray, xs: np.ndarray, tx: int) -> None:
        js = todo[i]
        src = dense_y if js.size == y.shape[0] and pairs is None else dense_y[js]
        ys_all = np.take(src, ox, axis=1)  # those y in x's order (C-contiguous rows)
        # pairs tied in both: ``shared_ties`` when either row has no other ties
        joints = np.full(js.size, shared_ties, dtype=np.int64)
        both = np.flatnonzero(ties_y[js] > shared_ties) if tx > shared_ties else js[:0]
        if both.size:  # pairs tied in x and in y: runs of equal (x, y), all such y at once
            mult = max_y[js[both], None]
            small = (int(xs[-1]) + 1) * int(mult.max()) < 2**31  # int32 keys sort 2x faster
            kt = np.int32 if small else np.int64
            keys = xs.astype(kt)[None, :] * mult.astype(kt) + ys_all[both].astype(kt)
            keys.sort(axis=1)
            joints[both] = _tied_pairs_rows(_group_starts(keys.reshape(-1), m), m)
        for slot, j, ys, joint in zip(slots[i], js, ys_all, joints.tolist(), strict=True):
            if _scipy_kendall_dis is not None:
                dis = int(_scipy_kendall_dis(xs, ys))
                num = tot - tx - int(ties_y[j]) + joint - 2 * dis
            else:  # pragma: no cover - public fallback through tau-b
                from scipy.stats import kendalltau

                tau_b = kendalltau(x[i], y[j]).statistic
                num = tau_b * np.sqrt(float(tot - tx) * float(tot - ties_y[j]))
            flat[slot] = num / tot

    def rows(s: int, e: int) -> None:
        for c in range(s, e, max_rows):
            idx = rows_x[c : min(c + max_rows, e)]
            order, _, xs_sorted, ties = _dense_rows(x[idx])
            if shared_ties and ties.min() < shared_ties:
                raise ValueError(f"shared_ties={shared_ties} exceeds the ties of a row of x.")
            for k, i in enumerate(idx):
                row(i, order[k], xs_sorted[k], int(ties[k]))

    run_blocks(rows, len(rows_x), -(-len(rows_x) // n_threads()))
    return np.clip(out, -1.0, 1.0)


# --- whitened (cov) methods ----------------------------------------------------
@functools.lru_cache(maxsize=8)
def _incidence(n: int) -> scipy.sparse.csr_matrix:
    """``(m, n)`` sparse matrix with ones at the two stimuli of each pair."""
    iu, ju = _triu(n)
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
    n = _n_from_m(m)
    iu, ju = _triu(n)
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


def _cov_weighting_masked(v: np.ndarray, valid: np.ndarray, n: int) -> np.ndarray:
    """rsatoolbox's ``_cov_weighting`` NaN branch: ``v`` holds only the valid pairs.

    The row and column effects of ``-D/2`` are removed by weighted least
    squares over the valid pairs (``(k, m' + n)`` result); the design is a
    sparse incidence matrix, so each call costs a few passes over ``v`` and one
    ``n x n`` inverse.
    """
    k = v.shape[0]
    iu, ju = _triu(n)
    iu, ju = iu[valid], ju[valid]
    n_dist = iu.size
    rows = np.r_[np.arange(n_dist), np.arange(n_dist), n_dist + np.arange(n)]
    cols = np.r_[iu, ju, np.arange(n)]
    design = scipy.sparse.csr_matrix(
        (np.ones(rows.size), (rows, cols)), shape=(n_dist + n, n)
    )  # (row + col indicator) for each pair, then the diagonal
    w = np.r_[np.full(n_dist, 0.5), np.ones(n)]
    gram = (design.T @ scipy.sparse.diags(w) @ design).toarray()
    vw = np.zeros((k, n_dist + n))
    vw[:, :n_dist] = -0.5 * v
    coef = np.asarray((design.T @ vw.T).T) @ np.linalg.inv(gram)  # (k, n)
    vw -= np.asarray((design @ coef.T).T) * w
    vw[:, :n_dist] *= np.sqrt(2.0)
    return vw


def _v_matrix(n: int, sigma_k: np.ndarray) -> np.ndarray:
    """Covariance of dissimilarity estimates ``(C S C') o (C S C')`` (dense, m x m)."""
    iu, ju = _triu(n)
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
        closed = _cov_closed_form(x, y, centred=center)
        if closed is not None:
            return closed
    if center:
        x, y = _center(x), _center(y)
    if valid is not None:
        assert n is not None
        if sigma_k is not None:
            raise ValueError("cov methods with a sigma_k cannot handle excluded pairs.")
        return _cos(_cov_weighting_masked(x, valid, n), _cov_weighting_masked(y, valid, n))
    if sigma_k is not None and sigma_k.ndim == 2:
        import scipy.linalg

        vm = _v_matrix(_n_from_m(x.shape[1]), sigma_k)
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


def _cov_closed_form(x: np.ndarray, y: np.ndarray, *, centred: bool) -> np.ndarray | None:
    """cosine_cov / corr_cov (identity sigma_k) from one GEMM of the raw vectors.

    For RDMs ``D``, ``E`` (row sums ``R``, totals ``T``) the Frobenius product of
    the double-centred matrices is ``<HDH, HEH> = <D, E> - 2 R_D.R_E / n +
    T_D T_E / n**2``, with ``<D, E> = 2 x.y`` on the condensed vectors; the
    ``corr_cov`` variant (each vector minus its mean ``c``, i.e. ``D - c(11' - I)``)
    adds ``-c_E T_D / n - c_D T_E / n + c_D c_E (n - 1)``. Equal to rsatoolbox's
    explicit weighting; ``None`` when an RDM is so close to its null pattern that
    the subtraction would lose more than ~4 digits (the caller then whitens explicitly).
    """
    n = _n_from_m(x.shape[1])
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
    num = 2.0 * _gram(x, y) - 2.0 * _gram(rx, ry) / n + np.outer(tx, ty) / n**2
    num += (-np.outer(tx, cy) - np.outer(cx, ty)) / n + np.outer(cx, cy) * (n - 1)
    return np.clip(num / np.sqrt(nx)[:, None] / np.sqrt(ny)[None, :], -1.0, 1.0)


def _cmp_cosine_cov(x: np.ndarray, y: np.ndarray, **kw: Any) -> np.ndarray:
    return _cmp_cov(x, y, center=False, **kw)


def _cmp_corr_cov(x: np.ndarray, y: np.ndarray, **kw: Any) -> np.ndarray:
    return _cmp_cov(x, y, center=True, **kw)


COMPARE_METHODS: dict[str, Any] = {
    "corr": _cmp_corr,
    "spearman": _cmp_spearman,
    "rho-a": _cmp_rho_a,
    "tau-a": _cmp_tau_a,
    "cosine": _cmp_cosine,
    "cosine_cov": _cmp_cosine_cov,
    "corr_cov": _cmp_corr_cov,
}
_ALIASES = {"pearson": "corr"}


def _resolve_method(method: str) -> str:
    method = _ALIASES.get(method, method)
    check_option("method", method, [*COMPARE_METHODS, *_ALIASES])
    return method


def _check_sigma_k(sigma_k: Any, ids: np.ndarray, *, name: str = "sigma_k") -> np.ndarray:
    """Validate a pattern covariance for the ``*_cov`` methods, in the order of ``ids``.

    A DataArray over ``stimulus`` (diagonal) or ``(stimulus_i, stimulus_j)`` is
    matched to the RDMs' stimuli by id; a numpy array is read in the RDMs' order.
    It must be finite and, as a covariance that whitens the dissimilarities,
    positive definite (a diagonal: every variance > 0).
    """
    n = len(ids)
    if isinstance(sigma_k, xr.DataArray):
        dims = set(sigma_k.dims)
        try:
            if sigma_k.ndim == 2 and dims == {"stimulus_i", "stimulus_j"}:
                sigma_k = sigma_k.sel(stimulus_i=ids, stimulus_j=ids).transpose(
                    "stimulus_i", "stimulus_j"
                )
            elif sigma_k.ndim == 1 and dims == {"stimulus"}:
                sigma_k = sigma_k.sel(stimulus=ids)
            else:
                raise SchemaError(
                    f"{name}: a DataArray must have dims ('stimulus',) or ('stimulus_i', "
                    f"'stimulus_j'); got {sigma_k.dims}."
                )
        except KeyError as exc:
            raise SchemaError(
                f"{name}: its stimulus ids do not cover the RDMs' stimuli ({exc}); give the "
                f"covariance of the same stimuli."
            ) from None
    check_real(sigma_k, name=name)
    arr = np.asarray(sigma_k, dtype=np.float64)
    if arr.shape not in ((n,), (n, n)):
        raise SchemaError(
            f"{name} must be ({n},) or ({n}, {n}) for {n} stimuli; got {arr.shape}."
        )
    fix = (
        "Regularise it, e.g. sigma_k + 1e-3 * np.trace(sigma_k) / n * np.eye(n), or drop "
        "sigma_k (identity whitening)."
    )
    if not np.isfinite(arr).all():
        raise SchemaError(
            f"{name}: holds {int((~np.isfinite(arr)).sum())} NaN/inf value(s); the pattern "
            f"covariance must be finite. {fix}"
        )
    if arr.ndim == 1:
        bad = np.flatnonzero(arr <= 0)
        if bad.size:
            raise SchemaError(
                f"{name}: a diagonal pattern covariance needs every variance > 0; got "
                f"{bad.size} value(s) <= 0 (e.g. {arr[bad[0]]:.3g} for stimulus "
                f"{ids[bad[0]]!r}), so the dissimilarities cannot be whitened. Drop sigma_k "
                f"or give positive variances."
            )
        return arr
    scale = float(np.abs(arr).max())
    if not np.allclose(arr, arr.T, rtol=1e-8, atol=1e-12 * scale):
        raise SchemaError(
            f"{name}: a covariance must be symmetric; max |S - S'| = "
            f"{float(np.abs(arr - arr.T).max()):.3g}. Use (S + S.T) / 2 if that is what you mean."
        )
    try:
        np.linalg.cholesky(arr)
    except np.linalg.LinAlgError:
        low = float(np.linalg.eigvalsh(arr)[0])
        raise SchemaError(
            f"{name}: the pattern covariance must be positive definite to whiten the "
            f"dissimilarities (cosine_cov / corr_cov); it is singular or indefinite (smallest "
            f"eigenvalue {low:.3g}). {fix}"
        ) from None
    return arr


_RANKED = ("spearman", "rho-a", "tau-a")  # methods that see ranks only
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


def _compare_vectors(
    x: np.ndarray,
    y: np.ndarray,
    method: str,
    *,
    sigma_k: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    n: int | None = None,
    own: bool = False,
) -> np.ndarray:
    """Score every row of ``x`` against every row of ``y``: ``(a, m), (b, m) -> (a, b)``.

    ``valid`` restricts the comparison to some dissimilarities (rsatoolbox's
    NaN convention); for the cov methods ``n`` (number of stimuli) is then needed.
    ``own=True``: ``x`` and ``y`` are the caller's scratch arrays and may be
    overwritten (saves a copy of each). They must then not be the same array.
    """
    if valid is not None:
        x, y = x[:, valid], y[:, valid]
        own = True  # fresh copies
    if method not in _RANKED:  # products of the values: keep them inside float64's range
        x, y = _rescale_rows(x, own=own), _rescale_rows(y, own=own)
    if method in ("cosine_cov", "corr_cov"):
        return COMPARE_METHODS[method](x, y, sigma_k=sigma_k, valid=valid, n=n)
    if method == "tau-a":
        return _cmp_tau_a(x, y)
    return COMPARE_METHODS[method](x, y, own=own)


# ----------------------------------------------------------------------------
# public
# ----------------------------------------------------------------------------
def stack_rdms(
    rdms: xr.DataTree | Mapping[str, xr.DataArray], *, dim: str = "model"
) -> xr.DataArray:
    """Stack single RDMs (a DataTree or mapping name -> RDM) along a new dim.

    Members must share their stimulus ids (the order may differ: each is
    aligned by id to the first).

    Examples
    --------
    >>> from neurorep import data, rsa
    >>> a = data.rdm([1.0, 2.0, 3.0], stimulus=["x", "y", "z"])
    >>> rsa.stack_rdms({"m1": a, "m2": 2 * a}).dims
    ('model', 'stimulus_i', 'stimulus_j')
    """
    mem = members(rdms)
    if not mem:
        raise SchemaError("stack_rdms: got no RDMs.")
    items = []
    first: xr.DataArray | None = None
    for key, da in mem.items():
        if isinstance(da, xr.DataArray):
            check_real(da.data, name=f"rdms[{key!r}]")
        validate(da, kind="rdm", name=f"rdms[{key!r}]")
        if da.ndim != 2:
            raise SchemaError(
                f"stack_rdms: rdms[{key!r}] is already a stack (dims {da.dims}); pass single "
                f"RDMs, or select/average the leading dims first."
            )
        if first is None:
            first = da
        else:
            _, da = align(first, da, names=(f"rdms[{next(iter(mem))!r}]", f"rdms[{key!r}]"))
        items.append(
            da.drop_vars([c for c, v in da.coords.items() if not set(v.dims) <= set(RDM_DIMS)])
        )
    out = xr.concat(items, dim=dim, coords="minimal", compat="override")
    out = out.assign_coords({dim: list(mem)})
    out.name = "rdm"
    metrics = {str(d.attrs.get("metric", "unknown")) for d in mem.values()}
    out.attrs = {"metric": metrics.pop() if len(metrics) == 1 else "mixed"}
    return out


def _as_rdm(obj: Any, name: str, default_dim: str) -> xr.DataArray:
    """An RDM stack with its layout checked; the values are checked by ``rdm_vectors``."""
    if isinstance(obj, xr.DataArray):
        check_real(obj.data, name=name)
        _validate_rdm_layout(obj, name)
        return obj
    if infer_kind(obj) == "set":
        return stack_rdms(obj, dim=default_dim)
    raise SchemaError(
        f"{name}: expected an RDM DataArray (stimulus_i, stimulus_j), a stack of them, or "
        f"a mapping name -> RDM; got {type(obj).__name__}."
    )


def compare(
    a: xr.DataArray | Mapping[str, xr.DataArray],
    b: xr.DataArray | Mapping[str, xr.DataArray],
    *,
    method: CompareMethod = "corr",
    sigma_k: np.ndarray | None = None,
    join: Literal["exact", "inner"] = "exact",
) -> xr.DataArray:
    """Compare every RDM in ``a`` with every RDM in ``b``.

    Parameters
    ----------
    a, b : RDM DataArray ``(..., stimulus_i, stimulus_j)`` or mapping name -> RDM
        Leading dims (``model``, ``subject``, ``layer``...) stack several
        RDMs; a mapping is stacked along ``model`` (``a``) / ``member`` (``b``).
        Stimuli are matched by id, never by position.
    method : str
        One of :data:`COMPARE_METHODS` (see the module docstring), with
        rsatoolbox's names; ``"pearson"`` is an alias of ``"corr"``.
    sigma_k : ndarray, optional
        ``(n,)`` or ``(n, n)`` covariance of the pattern estimates, for the
        ``*_cov`` methods (default: identity).
    join : {"exact", "inner"}
        ``"exact"``: both must hold the same stimuli (else AlignmentError);
        ``"inner"``: keep the stimuli both share.

    Returns
    -------
    DataArray
        Dims ``a``'s leading dims + ``b``'s leading dims (a clash is renamed
        ``<dim>_b``); 0-d for two single RDMs. A constant RDM has no
        correlation: its scores are NaN (with a NeurorepWarning).

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, rsa
    >>> d = np.random.default_rng(0).random((5, 6))
    >>> rdms = data.rdm(d, stimulus=list("abcd"), dim="subject")
    >>> rsa.compare(rdms, rdms.isel(subject=0), method="spearman").dims
    ('subject',)
    """
    meth = _resolve_method(method)
    ra = _as_rdm(a, "a", "model")
    rb = _as_rdm(b, "b", "member")
    ra, rb = align(ra, rb, join=join, names=("a", "b"))
    n = ra.sizes["stimulus_i"]
    min_n = 3
    if n < min_n:
        raise SchemaError(
            f"compare: RDMs over {n} stimuli have {n * (n - 1) // 2} dissimilarity; comparing "
            f"them needs at least {min_n} stimuli."
        )
    if sigma_k is not None:
        if meth not in ("cosine_cov", "corr_cov"):
            raise ValueError(
                f"sigma_k is only used by methods ['cosine_cov', 'corr_cov']; got {meth!r}."
            )
        sigma_k = _check_sigma_k(sigma_k, np.asarray(ra.coords.variables["stimulus_i"].values))
    lead_a = list(ra.dims[:-2])
    lead_b = list(rb.dims[:-2])
    rename = {d: f"{d}_b" for d in lead_b if d in lead_a}
    m = n * (n - 1) // 2
    shape_a, shape_b = (int(np.prod(ra.shape[:-2])), m), (int(np.prod(rb.shape[:-2])), m)
    # values checked while gathered, into reused scratch arrays
    x = rdm_vectors(ra, "a", check_layout=False, out=scratch("compare_a", shape_a))
    y = rdm_vectors(rb, "b", check_layout=False, out=scratch("compare_b", shape_b))
    scores = _compare_vectors(x, y, meth, sigma_k=sigma_k, own=True)
    if np.isnan(scores).any():
        warnings.warn(
            "compare: some RDMs are constant (or zero), so their correlation/cosine with "
            "other RDMs is undefined; those scores are NaN.",
            NeurorepWarning,
            stacklevel=2,
        )
    shape = tuple(ra.shape[:-2]) + tuple(rb.shape[:-2])
    dims = lead_a + [rename.get(d, d) for d in lead_b]
    out_coords: dict[str, Any] = {}
    # by side, not by identity: compare(x, x) passes the same object twice
    for is_b, (src, names) in enumerate(((ra, lead_a), (rb, lead_b))):
        indexes = src.xindexes
        for name, var in src.coords.variables.items():
            if name in RDM_DIMS or not set(var.dims) <= set(names):
                continue
            new_dims = tuple(rename.get(d, d) if is_b else d for d in var.dims)
            new_name = rename.get(str(name), str(name)) if is_b else str(name)
            if is_b and new_name in out_coords and new_name not in rename.values():
                new_name = f"{new_name}_b"
            # an index coordinate passes its pandas index (not rebuilt from the values)
            values = indexes[name].to_pandas_index() if name in indexes else var.values
            out_coords[new_name] = (new_dims, values)
    return xr.DataArray(
        scores.reshape(shape),
        dims=dims,
        coords=out_coords,
        name="score",
        attrs={"method": meth, "n_stimuli": n},
    )
