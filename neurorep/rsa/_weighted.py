"""The vectorised bootstrap of ``rsa.evaluate``: every sample at once, from weighted sums.

A stimulus bootstrap sample counts stimulus ``i`` ``c_i`` times; rsatoolbox
materialises the resampled RDM, with pairs of copies of one stimulus excluded
and every other pair ``(i, j)`` entering ``c_i c_j`` times. Here the original
dissimilarities are weighted by ``c_i c_j`` instead (weighted means, weighted
ranks), which gives rsatoolbox's numbers with one batched matrix product per
chunk of samples. Methods: those with ``vectorised=True`` in
:data:`neurorep._core.compare.COMPARE_METHODS` (corr, cosine, spearman, rho-a).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurorep._core.compare import COMPARE_METHODS
from neurorep._core.condensed import triu


def _pair_weights(counts: np.ndarray, n: int) -> np.ndarray:
    """Stimulus counts ``(B, n)`` -> pair weights ``c_i c_j`` ``(B, m)``."""
    iu, ju = triu(n)
    c = counts.astype(np.float64)
    return c[:, iu] * c[:, ju]



@dataclass
class _SortInfo:
    order: np.ndarray  # (..., m) argsort along the last axis
    start: np.ndarray  # (..., m) first sorted position of each sorted element's tie group
    end: np.ndarray  # (..., m) last sorted position of that group
    ties: bool  # any tie at all


def _rows(a: np.ndarray) -> np.ndarray:
    """Flat offsets of the rows of a ``(rows, m)`` array, as a column."""
    return (np.arange(a.shape[0]) * a.shape[1])[:, None]


def _sort_info(v: np.ndarray) -> _SortInfo:
    """Sort order and tie-group bounds along the last axis (any leading dims)."""
    shape = v.shape
    m = shape[-1]
    v2 = np.ascontiguousarray(v).reshape(-1, m)
    order = np.argsort(v2, axis=1)  # SIMD quicksort; ties are handled as groups below
    sv = v2.ravel()[order + _rows(v2)]
    idx = np.arange(m)
    diff = sv[:, 1:] != sv[:, :-1]
    ones = np.ones((v2.shape[0], 1), dtype=bool)
    first = np.concatenate([ones, diff], axis=1)
    last = np.concatenate([diff, ones], axis=1)
    start = np.maximum.accumulate(np.where(first, idx, 0), axis=1)
    end = np.minimum.accumulate(np.where(last, idx, m - 1)[:, ::-1], axis=1)[:, ::-1]
    ties = bool((~diff).any())
    return _SortInfo(order.reshape(shape), start.reshape(shape), end.reshape(shape), ties)


def _wranks_from_info(info: _SortInfo, w_sorted: np.ndarray) -> np.ndarray:
    """Average ranks of vectors whose entry p is repeated ``w_p`` times.

    ``w_sorted`` holds the weights in each row's sorted order; ``info`` may
    have fewer leading dims (broadcast). Rank of a value = (total weight of
    smaller values) + (total weight of equal values + 1) / 2.
    """
    shape = w_sorted.shape
    m = shape[-1]
    w2 = w_sorted.reshape(-1, m)
    cs = np.cumsum(w2, axis=1)
    offs = _rows(cs)
    order = np.broadcast_to(info.order, shape).reshape(-1, m)
    if info.ties:
        start = np.broadcast_to(info.start, shape).reshape(-1, m)
        end = np.broadcast_to(info.end, shape).reshape(-1, m)
        flat = cs.ravel()
        before = np.where(start > 0, flat[np.maximum(start - 1, 0) + offs], 0.0)
        rank = before + (flat[end + offs] - before + 1.0) / 2.0
    else:  # no ties: (weight below) + (own weight + 1) / 2
        rank = cs - 0.5 * w2 + 0.5
    out = np.empty(cs.size)
    out[(order + offs).ravel()] = rank.ravel()
    return out.reshape(shape)


def _wranks_fixed(info: _SortInfo, w: np.ndarray) -> np.ndarray:
    """Weighted ranks of R fixed vectors under B weightings: ``(B, m)`` -> ``(B, R, m)``."""
    return _wranks_from_info(info, w[:, info.order])


def _wranks_free(v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted ranks of per-sample vectors ``(B, R, m)`` under weights ``(B, m)``."""
    info = _sort_info(v)
    b, r, m = v.shape
    order2 = info.order.reshape(b, r * m)
    ws = np.take_along_axis(w, order2, axis=1).reshape(v.shape)
    return _wranks_from_info(info, ws)


def _wmean(v: np.ndarray, w: np.ndarray, sw: np.ndarray) -> np.ndarray:
    return np.einsum("b...m,bm->b...", v, w, optimize=True) / sw.reshape(
        (-1,) + (1,) * (v.ndim - 2)
    )


def _prepare(v: np.ndarray, w: np.ndarray, sw: np.ndarray, method: str) -> np.ndarray:
    """Centre (corr, spearman) or shift (rho-a) per-sample vectors ``(B, R, m)``."""
    if method in ("corr", "spearman"):
        return v - _wmean(v, w, sw)[..., None]
    if method == "rho-a":
        return v - ((sw + 1.0) / 2.0)[:, None, None]
    return v


def _wscore_all(
    px: np.ndarray, py: np.ndarray, w: np.ndarray, sw: np.ndarray, method: str
) -> np.ndarray:
    """All-vs-all weighted scores: ``(B, K, m), (B, S, m)`` -> ``(B, K, S)``."""
    num = np.matmul(px * w[:, None, :], np.swapaxes(py, 1, 2))
    if method == "rho-a":
        return num * (12.0 / (sw**3 - sw))[:, None, None]
    nx = np.sqrt(np.einsum("bkm,bkm,bm->bk", px, px, w, optimize=True))
    ny = np.sqrt(np.einsum("bsm,bsm,bm->bs", py, py, w, optimize=True))
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / nx[:, :, None] / ny[:, None, :]


def _wscore_paired(
    pa: np.ndarray, pb: np.ndarray, w: np.ndarray, sw: np.ndarray, method: str
) -> np.ndarray:
    """Row-wise weighted scores: ``(B, S, m), (B, S, m)`` -> ``(B, S)``."""
    num = np.einsum("bsm,bsm,bm->bs", pa, pb, w, optimize=True)
    if method == "rho-a":
        return num * (12.0 / (sw**3 - sw))[:, None]
    na = np.sqrt(np.einsum("bsm,bsm,bm->bs", pa, pa, w, optimize=True))
    nb = np.sqrt(np.einsum("bsm,bsm,bm->bs", pb, pb, w, optimize=True))
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / na / nb


def _pool_transform(
    py_raw: np.ndarray, ranks: np.ndarray | None, w: np.ndarray, sw: np.ndarray, method: str
) -> np.ndarray:
    """rsatoolbox ``pool_rdm`` per-RDM normalisation of data vectors ``(B, S, m)``."""
    if method == "cosine":
        rms = np.sqrt(_wmean(py_raw * py_raw, w, sw))
        return py_raw / rms[..., None]
    if method == "corr":
        c = py_raw - _wmean(py_raw, w, sw)[..., None]
        sd = np.sqrt(_wmean(c * c, w, sw))
        return c / sd[..., None]
    assert ranks is not None
    return ranks


def _linear_scores(
    fixed: np.ndarray,
    data: np.ndarray,
    method: str,
    stim_counts: np.ndarray | None,
    subj_counts: np.ndarray,
    *,
    n: int,
) -> tuple[np.ndarray, np.ndarray]:
    """corr / cosine bootstrap from weighted sums only: one GEMM for all samples.

    Every statistic is a function of the weighted sums ``sum_p w_bp z_p`` of a
    few fixed vectors z (x_k, y_s, x_k^2, x_k y_s, y_s y_t), so ``W @ Z`` (B x
    m times m x F, chunked over pairs) gives all of them. The pooled data RDM
    of rsatoolbox's ceiling (normalised or z-scored RDMs averaged) is a linear
    combination of the y_s plus a constant, so the ceilings follow from the
    weighted (co)variances of the y_s as well.
    """
    n_samples, n_subj = subj_counts.shape
    k, m = fixed.shape
    if method == "corr":  # centre once: weighted moments are then well conditioned
        fixed = fixed - fixed.mean(axis=1, keepdims=True)
        data = data - data.mean(axis=1, keepdims=True)
    ti, tj = np.triu_indices(n_subj)
    n_f = 1 + 2 * k + n_subj + k * n_subj + ti.size
    sums = np.zeros((n_samples, n_f))
    step = int(max(1, min(m, 8_000_000 // n_f)))
    iu, ju = triu(n)
    for lo in range(0, m, step):
        hi = min(lo + step, m)
        x = fixed[:, lo:hi]
        y = data[:, lo:hi]
        z = np.concatenate(
            [
                np.ones((1, hi - lo)),
                x,
                x * x,
                y,
                (x[:, None, :] * y[None, :, :]).reshape(k * n_subj, hi - lo),
                y[ti] * y[tj],
            ]
        )
        if stim_counts is None:
            sums += z.sum(axis=1)[None, :]
        else:
            c = stim_counts.astype(np.float64)
            w = c[:, iu[lo:hi]] * c[:, ju[lo:hi]]
            sums += w @ z.T
    o = 0
    sw = sums[:, o]
    o += 1
    sx = sums[:, o : o + k]
    o += k
    sxx = sums[:, o : o + k]
    o += k
    sy = sums[:, o : o + n_subj]
    o += n_subj
    sxy = sums[:, o : o + k * n_subj].reshape(n_samples, k, n_subj)
    o += k * n_subj
    syy = np.zeros((n_samples, n_subj, n_subj))
    syy[:, ti, tj] = sums[:, o:]
    syy[:, tj, ti] = sums[:, o:]
    if method == "corr":
        sxy = sxy - sx[:, :, None] * sy[:, None, :] / sw[:, None, None]
        sxx = sxx - sx * sx / sw[:, None]
        syy = syy - sy[:, :, None] * sy[:, None, :] / sw[:, None, None]
    vy = np.diagonal(syy, axis1=1, axis2=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_subject = sxy / np.sqrt(sxx[:, :, None] * vy[:, None, :])
        u = subj_counts.astype(np.float64)
        usum = u.sum(axis=1)
        scores = np.einsum("bks,bs->bk", per_subject, u, optimize=True) / usum[:, None]
        # pooled RDM = sum_s a_s y_s (+ const), a_s = u_s / sd_s (scale is irrelevant)
        a = u / np.sqrt(vy)
        ca = np.einsum("bst,bt->bs", syy, a, optimize=True)  # (C a)_t
        aca = np.einsum("bs,bs->b", a, ca)
        upper = ca / np.sqrt(aca[:, None] * vy)
        ca_loo = ca - a * vy
        aca_loo = aca[:, None] - 2 * a * ca + a * a * vy
        lower = ca_loo / np.sqrt(aca_loo * vy)
    present = u > 0
    n_present = present.sum(axis=1)
    lower = np.where(n_present[:, None] > 1, lower, upper)
    ceil = np.stack(
        [
            np.where(present, lower, 0.0).sum(axis=1) / n_present,
            np.where(present, upper, 0.0).sum(axis=1) / n_present,
        ],
        axis=1,
    )
    if stim_counts is not None:
        bad = (stim_counts > 0).sum(axis=1) < 3
        scores[bad] = np.nan
        ceil[bad] = np.nan
    return scores, ceil


def _vectorised_scores(
    fixed: np.ndarray,
    data: np.ndarray,
    method: str,
    stim_counts: np.ndarray | None,
    subj_counts: np.ndarray,
    *,
    n: int,
    ceiling: bool = True,
    chunk: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores ``(B, K)`` and ceilings ``(B, 2)`` for B bootstrap samples at once.

    ``stim_counts`` ``(B, n)`` (None: every stimulus once), ``subj_counts``
    ``(B, S)``. Methods: corr, cosine, spearman, rho-a.
    """
    n_samples, n_subj = subj_counts.shape
    k, m = fixed.shape
    # centre once globally: correlations are shift-invariant, this only helps conditioning
    if method == "corr":
        fixed = fixed - fixed.mean(axis=1, keepdims=True)
        data = data - data.mean(axis=1, keepdims=True)
    info_x = _sort_info(fixed) if COMPARE_METHODS[method].ranked else None
    info_y = _sort_info(data) if COMPARE_METHODS[method].ranked else None
    if chunk is None:
        per = (k + 4 * n_subj + 4) * m * 8
        chunk = int(max(1, min(n_samples, 64_000_000 // max(per, 1))))
    scores = np.full((n_samples, k), np.nan)
    ceil = np.full((n_samples, 2), np.nan)
    for lo in range(0, n_samples, chunk):
        hi = min(lo + chunk, n_samples)
        b = hi - lo
        if stim_counts is None:
            w = np.ones((b, m))
        else:
            w = _pair_weights(stim_counts[lo:hi], n)
        sw = w.sum(axis=1)
        if COMPARE_METHODS[method].ranked:
            assert info_x is not None and info_y is not None
            vx = _wranks_fixed(info_x, w)
            vy = _wranks_fixed(info_y, w)
        else:
            vx = np.broadcast_to(fixed, (b, k, m))
            vy = np.broadcast_to(data, (b, n_subj, m))
        px = _prepare(vx, w, sw, method)
        py = _prepare(vy, w, sw, method)
        per_subject = _wscore_all(px, py, w, sw, method)  # (b, K, S)
        u = subj_counts[lo:hi].astype(np.float64)
        usum = u.sum(axis=1)
        scores[lo:hi] = np.einsum("bks,bs->bk", per_subject, u, optimize=True) / usum[:, None]
        if not ceiling:
            continue
        f = _pool_transform(vy, vy if COMPARE_METHODS[method].ranked else None, w, sw, method)
        total = np.einsum("bsm,bs->bm", f, u, optimize=True)
        pooled = (total / usum[:, None])[:, None, :]
        rest = usum[:, None] - u  # (b, S)
        with np.errstate(invalid="ignore", divide="ignore"):
            loo = (total[:, None, :] - u[:, :, None] * f) / rest[:, :, None]
        if COMPARE_METHODS[method].ranked:
            pooled = _wranks_free(pooled, w)
            loo = _wranks_free(np.nan_to_num(loo), w)
        p_up = _prepare(np.broadcast_to(pooled, py.shape), w, sw, method)
        p_lo = _prepare(loo, w, sw, method)
        upper = _wscore_paired(p_up, py, w, sw, method)
        lower = _wscore_paired(p_lo, py, w, sw, method)
        present = u > 0
        n_present = present.sum(axis=1)
        lower = np.where(n_present[:, None] > 1, lower, upper)  # one subject: train = test
        ceil[lo:hi, 0] = np.where(present, lower, 0.0).sum(axis=1) / n_present
        ceil[lo:hi, 1] = np.where(present, upper, 0.0).sum(axis=1) / n_present
    if stim_counts is not None:
        bad = (stim_counts > 0).sum(axis=1) < 3
        scores[bad] = np.nan
        ceil[bad] = np.nan
    return scores, ceil


