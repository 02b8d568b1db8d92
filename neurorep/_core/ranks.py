"""The rank function of neurorep: average ranks (as ``scipy.stats.rankdata``) and dense ranks.

Rows are sorted with one integer sort (the float's bits packed with the
position), ranked a block of rows at a time, the blocks on the parallel engine
(:mod:`neurorep._core.parallel`; numpy's sort releases the GIL). Every family ranks through
:func:`rank_rows`; Kendall's tau-a uses :func:`dense_rows`.
"""

from __future__ import annotations

import functools

import numpy as np

from neurorep._core.parallel import run_blocks

__all__ = ["dense_rows", "group_starts", "rank_rows", "sort_rows", "tied_pairs_rows"]

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


def sort_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorting order and sorted values of each row of ``x`` (r, m) (C-contiguous float64).

    Returns flat indices into ``x.ravel()`` (``(r * m,)`` int64, row ``i``'s at
    ``i * m ...``) and the values in that order; equal values may come in any
    order.

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
    key = np.empty((r, m), dtype=np.int64)
    np.right_shift(bits, 63, out=key)  # all ones for negative values
    key |= _SIGN_BIT
    key ^= bits  # negative: all bits flipped; positive: sign bit set -> unsigned order
    key &= ~low
    key |= _positions(m)
    key.view(np.uint64).sort(axis=1)
    key &= low
    key += np.arange(0, r * m, m, dtype=np.int64)[:, None]
    flat = key.reshape(-1)
    sv = np.empty(r * m)
    np.take(x.reshape(-1), flat, out=sv, mode="clip")
    ok = np.empty(r * m, dtype=bool)
    np.greater_equal(sv[1:], sv[:-1], out=ok[1:])  # False on a descent or NaN
    ok[::m] = True  # row boundaries
    if not ok.all():  # some rows need the exact order within colliding keys
        for i in np.flatnonzero(~ok.reshape(r, m).all(axis=1)):
            _order_collisions(x[i], flat[i * m : (i + 1) * m], sv[i * m : (i + 1) * m], low, i * m)
    return flat, sv


def _order_collisions(
    row: np.ndarray, flat: np.ndarray, sv: np.ndarray, low: np.int64, offset: int
) -> None:
    """Fix one row of :func:`sort_rows` in place (``flat`` holds ``offset`` + positions):
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
    flat, sv = sort_rows(x)
    new = np.empty(r * m, dtype=bool)
    np.not_equal(sv[1:], sv[:-1], out=new[1:])
    new[::m] = True  # each row starts a group
    if new.all():  # no ties: the rank of the k-th smallest is k
        rank_sorted = _counting(r, m)
    else:  # tied values share the mean of their positions
        starts = np.flatnonzero(new)
        counts = np.diff(np.append(starts, sv.size))
        rank_sorted = np.repeat((starts % m) + (counts + 1) / 2.0, counts)
    out.reshape(-1)[flat] = rank_sorted



def rank_rows(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Average ranks (1-based, ties averaged) along the last axis, as scipy's rankdata.

    The one rank function of neurorep. Rows are ranked a few at a time (the
    sort indices stay in cache) and the blocks run on the parallel engine:
    numpy's sort releases the GIL. Pass ``out=x`` to rank in place. NaN ranks
    last (as ``argsort`` puts it), where ``rankdata`` would return NaN: callers
    that may hold NaN mask those rows themselves.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep._core.ranks import rank_rows
    >>> rank_rows(np.array([[3.0, 1.0, 3.0, 2.0]])).tolist()
    [[3.5, 1.0, 3.5, 2.0]]
    """
    if out is not None and out.shape != x.shape:
        raise ValueError(f"out must have the shape of x, {x.shape}; got {out.shape}.")
    if x.shape[-1] == 0:
        return x.astype(np.float64)
    shape = x.shape
    m = shape[-1]
    x2 = np.ascontiguousarray(x, dtype=np.float64).reshape(-1, m)
    # the blocks scatter into flat views of ``res``: a C-contiguous float64 ``out`` takes the
    # ranks directly, any other (a strided view, another dtype) receives a copy at the end
    direct = out is not None and out.flags.c_contiguous and out.dtype == np.float64
    res = out.reshape(-1, m) if direct else np.empty(x2.shape)  # type: ignore[union-attr]
    rows = max(1, (1 << 15) // m)  # ~256 KB of values per block

    def block(s: int, e: int) -> None:
        _rank_block(x2[s:e], res[s:e])

    run_blocks(block, x2.shape[0], rows, nbytes=x2.nbytes)
    if out is not None and not direct:
        out[...] = res.reshape(shape)
        return out
    return res.reshape(shape)



def group_starts(sv: np.ndarray, m: int) -> np.ndarray:
    """Flags ``(r * m,)``: True where a sorted row starts a new value (and at each row start)."""
    new = np.empty(sv.size, dtype=bool)
    np.not_equal(sv[1:], sv[:-1], out=new[1:])
    new[::m] = True
    return new


def tied_pairs_rows(new: np.ndarray, m: int) -> np.ndarray:
    """Tied pairs in each sorted row, from its group-start flags: sum of c (c - 1) / 2 over runs."""
    r = new.size // m
    if new.all():
        return np.zeros(r, dtype=np.int64)
    starts = np.flatnonzero(new)  # run starts, row-major; every row starts a run
    counts = np.diff(np.append(starts, new.size))
    first = np.searchsorted(starts, np.arange(r) * m)  # index of each row's first run
    return np.add.reduceat(counts * (counts - 1) // 2, first)


def dense_rows(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per row of ``v`` (r, m): sorting order, dense ranks (1-based), dense ranks in sorted
    order (all ``(r, m)`` intp) and number of tied pairs ``(r,)``."""
    r, m = v.shape
    flat, sv = sort_rows(np.ascontiguousarray(v, dtype=np.float64))
    new = group_starts(sv, m)
    dense_sorted = np.cumsum(new.reshape(r, m), axis=1, dtype=np.intp)
    dense = np.empty((r, m), dtype=np.intp)
    dense.reshape(-1)[flat] = dense_sorted.reshape(-1)
    order = flat.reshape(r, m) - np.arange(0, r * m, m, dtype=np.int64)[:, None]
    return order.astype(np.intp, copy=False), dense, dense_sorted, tied_pairs_rows(new, m)


