"""Model evaluation with bootstrap inference, noise ceilings and fitted models.

The statistics follow rsatoolbox (Schuett et al. 2023, eLife 12:e82566):

* **bootstrap over subjects** (RDMs) draws subjects with replacement; a
  model's score in a sample is the mean of its per-subject scores, duplicated
  subjects counted as often as drawn.
* **bootstrap over stimuli** draws stimuli with replacement. Dissimilarities
  between two copies of the same stimulus are *excluded* (rsatoolbox sets
  them to NaN: a zero there would be trivially predicted by every model),
  and every other pair (i, j) enters ``c_i * c_j`` times, c being how often
  each stimulus was drawn. neurorep never materialises the resampled RDMs:
  it weights the original dissimilarities by ``c_i * c_j`` (weighted means,
  weighted ranks), which gives rsatoolbox's numbers with one batched matrix
  product per chunk of samples.
* **both** resamples subjects and stimuli in every sample.
* **dual** (rsatoolbox ``eval_dual_bootstrap``) draws as ``both`` and also
  scores each sample's subject draw alone and stimulus draw alone; the t tests
  then use the corrected variance ``n_s/(n_s-1) V_subj + n_c/(n_c-1) V_stim -
  n_s n_c/((n_s-1)(n_c-1)) (V_both - V_subj - V_stim)``, clipped to
  ``[max(scaled V_subj, scaled V_stim), V_both]``: the two-factor bootstrap
  counts the noise variance twice, this removes the excess (Schuett et al.
  2023, eq. 7).
* **noise ceilings** are rsatoolbox's ``boot_noise_ceiling``: the upper bound
  compares each subject with the pooled RDM of all subjects, the lower bound
  with the pooled RDM of the other subjects (leave one subject out); pooling
  is method-specific (normalised, z-scored or ranked RDMs averaged).
* **t tests** (default) use the bootstrap covariance of the model scores and
  ceilings, scaled by ``n / (n - 1)`` (n = subjects, stimuli or the smaller
  of both), with ``n - 1`` degrees of freedom; p-values against 0 are
  one-sided, against the lower ceiling and between models two-sided.
* **weighted models** (a stack of component RDMs) are fitted as non-negative
  combinations (rsatoolbox ``fit_regress_nn``) to the pooled data RDM, and
  evaluated by k-fold cross-validation over stimuli inside every bootstrap
  sample (fit on pairs within the training stimuli, score on pairs within the
  held-out fold; the ceiling on the same held-out pairs).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import scipy.optimize
import xarray as xr

from neurorep._core.compare import compare_vectors, resolve_method, tau_a
from neurorep._core.condensed import pair_index
from neurorep._core.errors import NeurorepWarning, SchemaError, check_int, check_option, check_real
from neurorep._core.ranks import rank_rows
from neurorep._core.rng import as_generator
from neurorep.data import RDM_DIMS, align, check_rdm_layout, infer_kind, members, rdm_vectors
from neurorep.rsa._compare import CompareMethod, _check_sigma_k
from neurorep.stats import (
    bootstrap_indices,
    bootstrap_pvalue,
    bootstrap_t_test,
    counts_from_indices,
    percentile_ci,
)

Bootstrap = Literal["subject", "stimulus", "both", "dual", "none"]

__all__ = ["BOOTSTRAPS", "compute_ceiling", "evaluate", "fit_weights"]

BOOTSTRAPS = ("subject", "stimulus", "both", "dual", "none")
_VECTORISED = ("corr", "cosine", "spearman", "rho-a")
_FITTABLE = ("corr", "cosine")
_RANKED = ("spearman", "rho-a", "tau-a")


# ----------------------------------------------------------------------------
# pair bookkeeping
# ----------------------------------------------------------------------------
def _pair_weights(counts: np.ndarray, n: int) -> np.ndarray:
    """Stimulus counts ``(B, n)`` -> pair weights ``c_i c_j`` ``(B, m)``."""
    iu, ju = np.triu_indices(n, 1)
    c = counts.astype(np.float64)
    return c[:, iu] * c[:, ju]


# ----------------------------------------------------------------------------
# weighted kernels (vectorised over bootstrap samples)
# ----------------------------------------------------------------------------
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
    iu, ju = np.triu_indices(n, 1)
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
    info_x = _sort_info(fixed) if method in _RANKED else None
    info_y = _sort_info(data) if method in _RANKED else None
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
        if method in _RANKED:
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
        f = _pool_transform(vy, vy if method in _RANKED else None, w, sw, method)
        total = np.einsum("bsm,bs->bm", f, u, optimize=True)
        pooled = (total / usum[:, None])[:, None, :]
        rest = usum[:, None] - u  # (b, S)
        with np.errstate(invalid="ignore", divide="ignore"):
            loo = (total[:, None, :] - u[:, :, None] * f) / rest[:, :, None]
        if method in _RANKED:
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


# ----------------------------------------------------------------------------
# general (per-sample) path: any method, fitted models, cross-validation
# ----------------------------------------------------------------------------
def _pool_rows(v: np.ndarray, method: str) -> np.ndarray:
    """Each RDM normalised as rsatoolbox's ``pool_rdm`` does before averaging."""
    if method in ("cosine", "cosine_cov"):
        return v / np.sqrt(np.mean(v * v, axis=1, keepdims=True))
    if method in ("corr", "corr_cov"):
        c = v - v.mean(axis=1, keepdims=True)
        return c / c.std(axis=1, keepdims=True)
    return rank_rows(v)


def _pool(v: np.ndarray, u: np.ndarray, method: str) -> np.ndarray:
    """rsatoolbox ``pool_rdm``: ``(S, m)`` with subject weights ``u`` -> ``(m,)``."""
    out = (u[:, None] * _pool_rows(v, method)).sum(axis=0) / u.sum()
    if method in ("corr", "corr_cov"):
        out = out - out.min()
    return out


def _pools_loo(v: np.ndarray, u: np.ndarray, method: str) -> np.ndarray:
    """The pooled RDM of all subjects, then of all but each one: ``(1 + S, m)``.

    Each subject's RDM is normalised (or ranked) once; the leave-one-out pools
    are the weighted total minus that subject.
    """
    weighted = u[:, None] * _pool_rows(v, method)
    total = weighted.sum(axis=0)
    out = np.empty((v.shape[0] + 1, v.shape[1]))
    out[0] = total / u.sum()
    if v.shape[0] > 1:
        with np.errstate(invalid="ignore", divide="ignore"):
            out[1:] = (total[None, :] - weighted) / (u.sum() - u)[:, None]
    else:
        out[1:] = out[0]
    if method in ("corr", "corr_cov"):
        out -= out.min(axis=1, keepdims=True)
    return out


def _nnls_fit(components: np.ndarray, target: np.ndarray, method: str) -> np.ndarray:
    """rsatoolbox ``fit_regress_nn``: non-negative weights of ``(c, m)`` components."""
    a = components - components.mean(axis=1, keepdims=True) if method == "corr" else components
    theta, _ = scipy.optimize.nnls(a.T, target)
    norm = np.sqrt(np.sum(theta**2))
    return theta / norm if norm > 0 else theta


@dataclass
class _Models:
    names: list[str]
    fixed_rows: dict[int, np.ndarray] = field(default_factory=dict)  # model pos -> (m,)
    weighted: dict[int, np.ndarray] = field(default_factory=dict)  # model pos -> (c, m)
    components: dict[int, list[str]] = field(default_factory=dict)

    @property
    def any_weighted(self) -> bool:
        return bool(self.weighted)

    def fixed_matrix(self) -> np.ndarray:
        return np.stack([self.fixed_rows[i] for i in range(len(self.names))])


def _score_block(
    models: _Models,
    data: np.ndarray,
    u: np.ndarray,
    method: str,
    pairs_train: np.ndarray,
    pairs_test: np.ndarray,
    *,
    sigma_k: np.ndarray | None,
    valid_test: np.ndarray | None,
    n_sample: int | None,
    shared_ties: int = 0,
) -> tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]]:
    """Scores of all models and (lower, upper) ceiling on one train/test split.

    ``data`` ``(S, M)`` holds the (materialised) data vectors, ``u`` subject
    counts; ``pairs_*`` index columns of ``data``. ``valid_test``/``n_sample``
    are passed to the cov methods (mask within the materialised RDM);
    ``shared_ties`` to tau-a (ties every test vector has: repeated stimuli).
    """
    present = u > 0
    dp = data[present]
    up = u[present]
    test = dp[:, pairs_test]
    preds = []
    thetas: dict[int, np.ndarray] = {}
    for i in range(len(models.names)):
        if i in models.weighted:
            comps = models.weighted[i]
            target = _pool(dp[:, pairs_train], up, method)
            theta = _nnls_fit(comps[:, pairs_train], target, method)
            thetas[i] = theta
            preds.append(theta @ comps[:, pairs_test])
        else:
            preds.append(models.fixed_rows[i][pairs_test])
    pred = np.stack(preds)
    n_present = dp.shape[0]
    pools = _pools_loo(test, up, method)  # (1 + S', m): all subjects, then leave-one-out
    if method == "tau-a":  # O(m log m) per pair: one call for the pairs needed, ranks once
        k, subj = pred.shape[0], np.arange(n_present)
        kk, ss = np.meshgrid(np.arange(k), subj, indexing="ij")
        blocks = [np.stack([kk.ravel(), ss.ravel()], axis=1), np.stack([k + 0 * subj, subj], 1)]
        if n_present > 1:
            blocks.append(np.stack([k + 1 + subj, subj], axis=1))
        sc = tau_a(
            np.concatenate([pred, pools]),
            test,
            pairs=np.concatenate(blocks),
            shared_ties=shared_ties,
        )
        per_subject = sc[: k * n_present].reshape(k, n_present)
        upper = sc[k * n_present : (k + 1) * n_present]
        lower = sc[(k + 1) * n_present :] if n_present > 1 else upper
    else:
        kw: dict[str, Any] = {"sigma_k": sigma_k}
        full_pred, full_test = pred, test
        if valid_test is not None:  # kernels take full-length vectors plus the mask
            kw.update(valid=valid_test, n=n_sample)
            full_pred, full_test, pools = (_pad(v, valid_test) for v in (pred, test, pools))
        per_subject = compare_vectors(full_pred, full_test, method, **kw)  # (K, S')
        sc = compare_vectors(pools, full_test, method, **kw)  # every pool vs every subject
        upper = sc[0]
        lower = np.diagonal(sc[1:]) if n_present > 1 else upper
    scores = per_subject @ up / up.sum()
    return scores, np.array([lower.mean(), upper.mean()]), thetas


def _repeated_pairs(cols: np.ndarray) -> int:
    """Pairs of positions holding the same original dissimilarity (a stimulus drawn twice):
    tied in every materialised vector."""
    c = np.bincount(cols)
    return int((c * (c - 1) // 2).sum())


def _pad(v: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Vectors of the valid pairs -> full length (zeros elsewhere), as the masked kernels take."""
    out = np.zeros((v.shape[0], valid.size))
    out[:, valid] = v
    return out


def _folds(n_items: int, k: int, gen: np.random.Generator) -> list[np.ndarray]:
    perm = gen.permutation(n_items)
    return [np.sort(f) for f in np.array_split(perm, k)]


def _general_sample(
    models: _Models,
    data: np.ndarray,
    method: str,
    n: int,
    stim_idx: np.ndarray | None,
    u: np.ndarray,
    *,
    cv_folds: int,
    sigma_k: np.ndarray | None,
    gen: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """One bootstrap sample, rsatoolbox's algorithm on materialised vectors."""
    iu, ju = np.triu_indices(n, 1)
    if stim_idx is None:
        stim_idx = np.arange(n)
    stim_idx = np.sort(stim_idx)
    n_s = stim_idx.size
    a_pos, b_pos = np.triu_indices(n_s, 1)
    ia, ib = stim_idx[a_pos], stim_idx[b_pos]
    valid = ia != ib
    if (np.unique(stim_idx).size < 3) or (cv_folds > 1 and np.unique(stim_idx).size < 3 * cv_folds):
        return np.full(len(models.names), np.nan), np.full(2, np.nan)
    orig = np.zeros(valid.size, dtype=np.intp)
    orig[valid] = pair_index(ia[valid], ib[valid], n)
    mat_models = _Models(models.names, components=models.components)
    for i, row in models.fixed_rows.items():
        mat_models.fixed_rows[i] = np.where(valid, row[orig], 0.0)
    for i, comps in models.weighted.items():
        mat_models.weighted[i] = np.where(valid, comps[:, orig], 0.0)
    mat_data = np.where(valid, data[:, orig], 0.0)
    cov = method in ("cosine_cov", "corr_cov")
    whole = not np.all(valid)
    if cv_folds <= 1:
        pairs = np.flatnonzero(valid)
        sc, ce, _ = _score_block(
            mat_models,
            mat_data,
            u,
            method,
            pairs,
            pairs,
            sigma_k=sigma_k if not whole else None,
            valid_test=valid if (cov and whole) else None,
            n_sample=n_s,
            shared_ties=_repeated_pairs(orig[pairs]),
        )
        return sc, ce
    uniq = np.unique(stim_idx)
    folds = _folds(uniq.size, cv_folds, gen)
    all_sc, all_ce = [], []
    for f in folds:
        in_test = np.isin(stim_idx, uniq[f])
        test_mask = valid & in_test[a_pos] & in_test[b_pos]
        train_mask = valid & ~in_test[a_pos] & ~in_test[b_pos]
        if test_mask.sum() < 3 or train_mask.sum() < 3:
            continue
        if cov:  # the whitened methods need an RDM: the test fold's own sub-RDM
            sub = np.flatnonzero(in_test)
            sa, sb = np.triu_indices(sub.size, 1)
            sub_pairs = pair_index(sub[sa], sub[sb], n_s)
            sub_valid = valid[sub_pairs]
            sc, ce, _ = _score_block(
                mat_models,
                mat_data,
                u,
                method,
                np.flatnonzero(train_mask),
                sub_pairs[sub_valid],
                sigma_k=None,
                valid_test=sub_valid,
                n_sample=sub.size,
            )
        else:
            test_pairs = np.flatnonzero(test_mask)
            sc, ce, _ = _score_block(
                mat_models,
                mat_data,
                u,
                method,
                np.flatnonzero(train_mask),
                test_pairs,
                sigma_k=None,
                valid_test=None,
                n_sample=None,
                shared_ties=_repeated_pairs(orig[test_pairs]),
            )
        all_sc.append(sc)
        all_ce.append(ce)
    if not all_sc:
        return np.full(len(models.names), np.nan), np.full(2, np.nan)
    return np.mean(all_sc, axis=0), np.mean(all_ce, axis=0)


# ----------------------------------------------------------------------------
# the engine (numpy): used by evaluate() and directly by the reference tests
# ----------------------------------------------------------------------------
def _bootstrap_engine(
    models: _Models,
    data: np.ndarray,
    method: str,
    n: int,
    subj_idx: np.ndarray | None,
    stim_idx: np.ndarray | None,
    *,
    cv_folds: int = 1,
    sigma_k: np.ndarray | None = None,
    rng: np.random.Generator | int | None = None,
    vectorised: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample scores ``(N, K)`` and ceilings ``(N, 2)`` from explicit index arrays.

    ``subj_idx`` ``(N, S)`` / ``stim_idx`` ``(N, n)``: which subjects /
    stimuli each sample holds (None: all, once).
    """
    n_subj = data.shape[0]
    n_samples = (subj_idx if subj_idx is not None else stim_idx).shape[0]  # type: ignore[union-attr]
    if subj_idx is None:
        subj_counts = np.ones((n_samples, n_subj), dtype=np.int64)
    else:
        subj_counts = counts_from_indices(subj_idx, n_subj)
    fast_ok = (
        not models.any_weighted and cv_folds <= 1 and method in _VECTORISED and sigma_k is None
    )
    if vectorised is None:
        vectorised = fast_ok
    if vectorised:
        if not fast_ok:
            raise ValueError("the vectorised path needs fixed models, no CV, a basic method.")
        stim_counts = None if stim_idx is None else counts_from_indices(stim_idx, n)
        if method in ("corr", "cosine"):
            return _linear_scores(
                models.fixed_matrix(), data, method, stim_counts, subj_counts, n=n
            )
        return _vectorised_scores(
            models.fixed_matrix(), data, method, stim_counts, subj_counts, n=n
        )
    gen = as_generator(rng)
    scores = np.empty((n_samples, len(models.names)))
    ceil = np.empty((n_samples, 2))
    for b in range(n_samples):
        scores[b], ceil[b] = _general_sample(
            models,
            data,
            method,
            n,
            None if stim_idx is None else stim_idx[b],
            subj_counts[b].astype(np.float64),
            cv_folds=cv_folds,
            sigma_k=sigma_k,
            gen=gen,
        )
    return scores, ceil


# ----------------------------------------------------------------------------
# inference: t tests (stats.bootstrap_t_test) or bootstrap percentiles
# ----------------------------------------------------------------------------
def _square(values: np.ndarray, k: int, diag: float) -> np.ndarray:
    out = np.full((k, k), diag)
    ii, jj = np.triu_indices(k, 1)
    out[ii, jj] = values
    out[jj, ii] = values
    return out


def _inference(
    samples: np.ndarray,
    ceil_samples: np.ndarray,
    score: np.ndarray,
    *,
    n_eff: int,
    dof: int,
    test: str,
    ci: float,
    dual: tuple[list[tuple[np.ndarray, np.ndarray]], int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CIs and p-values (vs 0, vs lower ceiling, pairwise) from bootstrap samples.

    ``test="t"``: :func:`neurorep.stats.bootstrap_t_test` (rsatoolbox's
    ``Result.test_zero / test_noise / test_pairwise``; ``dof = n_eff - 1``),
    the reference being the lower noise ceiling. ``test="bootstrap"``:
    percentile CI and bootstrap p-values. ``dual``: the (both, subject,
    stimulus) sample sets and the numbers of subjects and stimuli.
    """
    k = samples.shape[1]
    if test == "t":
        assert dof == n_eff - 1
        lower = ceil_samples[:, 0]
        factors = None
        if dual is not None:
            sets, n_subj, n_stim = dual
            factors = ((sets[1][0], sets[1][1][:, 0]), (sets[2][0], sets[2][1][:, 0]),
                       n_subj, n_stim)
        res = bootstrap_t_test(samples, score, n_items=n_eff, reference=lower, ci=ci,
                               dual=factors)
        return (res["ci_low"].values, res["ci_high"].values, res["pvalue"].values,
                res["pvalue_reference"].values, res["pvalue_pairwise"].values)
    ok = ~np.isnan(samples).any(axis=1)
    ii, jj = np.triu_indices(k, 1)
    low, high = percentile_ci(samples[ok], ci=ci)
    p0 = bootstrap_pvalue(samples[ok], 0.0, alternative="greater")
    pnc = bootstrap_pvalue(samples[ok] - ceil_samples[ok, :1], 0.0, alternative="two-sided")
    dd = samples[ok][:, ii] - samples[ok][:, jj]
    ppair = _square(bootstrap_pvalue(dd, 0.0, alternative="two-sided"), k, 1.0)
    return low, high, p0, pnc, ppair


# ----------------------------------------------------------------------------
# public
# ----------------------------------------------------------------------------
def _collect_models(models: Any) -> tuple[_Models, list[xr.DataArray]]:
    if isinstance(models, xr.DataArray):
        check_real(models.data, name="models")
        check_rdm_layout(models, name="models")
        if models.ndim == 2:
            mapping: dict[str, xr.DataArray] = {str(models.attrs.get("name", "model")): models}
        elif models.ndim == 3:
            lead = models.dims[0]
            mapping = {str(k): models.isel({lead: i}) for i, k in enumerate(models[lead].values)}
        else:
            raise SchemaError(
                f"models: expected (model, stimulus_i, stimulus_j); got dims {models.dims}."
            )
    elif infer_kind(models) == "set":
        mapping = members(models)
    else:
        raise SchemaError(
            "models: expected a stacked RDM DataArray (model, stimulus_i, stimulus_j) or a "
            f"mapping name -> RDM (2-D: fixed model; 3-D stack: weighted model); got "
            f"{type(models).__name__}."
        )
    if not mapping:
        raise SchemaError("models: got no model RDM.")
    out = _Models(list(mapping))
    arrays = []
    for name, da in mapping.items():
        if isinstance(da, xr.DataArray):
            check_real(da.data, name=f"models[{name!r}]")
        check_rdm_layout(da, name=f"models[{name!r}]")
        if da.ndim not in (2, 3):
            raise SchemaError(
                f"models[{name!r}]: a fixed model is one RDM (2-D), a weighted model a stack of "
                f"component RDMs (3-D); got dims {da.dims}."
            )
        arrays.append(da)
    return out, arrays


def _data_stack(data: xr.DataArray, dim: str | None) -> tuple[xr.DataArray, str]:
    if isinstance(data, xr.DataArray):
        check_real(data.data, name="data")
    check_rdm_layout(data, name="data")
    lead = list(data.dims[:-2])
    if not lead:
        data = data.expand_dims("subject")
        return data, "subject"
    if len(lead) > 1:
        if dim is None or dim not in lead:
            raise SchemaError(
                f"data: RDMs with several leading dims {lead}; evaluate() bootstraps one of "
                f"them. Average or stack the others first, e.g. data.mean('session') or "
                f"data.stack(rdm={tuple(lead)}), or pass dim=."
            )
        others = [d for d in lead if d != dim]
        data = data.mean(others)
        return data.transpose(dim, *RDM_DIMS), dim
    return data, str(lead[0])


def compute_ceiling(
    data: xr.DataArray, *, method: CompareMethod = "corr", dim: str | None = None
) -> xr.DataArray:
    """Lower and upper noise ceiling of a stack of data RDMs (leave one subject out).

    The upper bound is the mean score of each subject's RDM against the
    pooled RDM of all subjects, the lower bound against the pooled RDM of
    the other subjects (rsatoolbox ``boot_noise_ceiling``).

    Parameters
    ----------
    data : RDM ``(subject, stimulus_i, stimulus_j)``
        At least 2 RDMs along the leading dim.
    method : str
        Comparison method (see :func:`compare`).

    Returns
    -------
    DataArray ``(bound,)`` with bound = ["lower", "upper"]

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, rsa
    >>> d = np.random.default_rng(0).random((4, 10))
    >>> c = rsa.compute_ceiling(data.rdm(d, stimulus=list("abcde"), dim="subject"))
    >>> c.bound.values.tolist()
    ['lower', 'upper']
    """
    method = resolve_method(method)  # type: ignore[assignment]
    stack, _ = _data_stack(data, dim)
    if stack.shape[0] < 2:
        raise SchemaError(
            f"compute_ceiling: a leave-one-out noise ceiling needs at least 2 data RDMs; got "
            f"{stack.shape[0]}."
        )
    vec = rdm_vectors(stack, "data", check_layout=False)
    n = stack.sizes["stimulus_i"]
    m = vec.shape[1]
    pairs = np.arange(m)
    models = _Models(["_"], fixed_rows={0: vec[0]})
    _, ce, _ = _score_block(
        models,
        vec,
        np.ones(vec.shape[0]),
        method,
        pairs,
        pairs,
        sigma_k=None,
        valid_test=None,
        n_sample=n,
    )
    return xr.DataArray(
        ce,
        dims=("bound",),
        coords={"bound": ["lower", "upper"]},
        name="ceiling",
        attrs={"method": method},
    )


def fit_weights(
    components: xr.DataArray, data: xr.DataArray, *, method: Literal["corr", "cosine"] = "corr"
) -> xr.DataArray:
    """Non-negative weights of component RDMs that best fit the pooled data RDM.

    rsatoolbox's ``fit_regress_nn``: the data RDMs are pooled for the
    method (normalised for cosine, z-scored for corr), the components
    centred for corr, and non-negative least squares gives the weights
    (scaled to unit norm: the scale does not change corr or cosine).

    Parameters
    ----------
    components : RDM ``(component, stimulus_i, stimulus_j)``
    data : RDM ``(stimulus_i, stimulus_j)`` or ``(subject, stimulus_i, stimulus_j)``

    Returns
    -------
    DataArray ``(component,)``

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, rsa
    >>> g = np.random.default_rng(0)
    >>> comps = data.rdm(g.random((2, 10)), stimulus=list("abcde"), dim="component")
    >>> target = data.rdm(comps.values[0] + 0.5 * comps.values[1], stimulus=list("abcde"))
    >>> w = rsa.fit_weights(comps, target, method="cosine")
    >>> bool(w[0] > w[1])
    True
    """
    check_option("method", method, _FITTABLE)
    check_rdm_layout(components, name="components")
    if components.ndim != 3:
        raise SchemaError(
            f"fit_weights: components must be a stack (component, stimulus_i, stimulus_j); got "
            f"{components.dims}."
        )
    stack, _ = _data_stack(data, None)
    components, stack = align(components, stack, names=("components", "data"))
    comps = rdm_vectors(components, "components", check_layout=False)
    vec = rdm_vectors(stack, "data", check_layout=False)
    theta = _nnls_fit(comps, _pool(vec, np.ones(vec.shape[0]), method), method)
    lead = components.dims[0]
    return xr.DataArray(
        theta,
        dims=(lead,),
        coords={lead: components[lead].values},
        name="weights",
        attrs={"method": method},
    )


def evaluate(
    models: xr.DataArray | Mapping[str, xr.DataArray] | xr.DataTree,
    data: xr.DataArray,
    *,
    method: CompareMethod = "corr",
    bootstrap: Bootstrap = "both",
    n_bootstrap: int = 1000,
    test: Literal["t", "bootstrap"] = "t",
    ci: float = 0.95,
    cv_folds: int | None = None,
    sigma_k: np.ndarray | None = None,
    dim: str | None = None,
    join: Literal["exact", "inner"] = "exact",
    rng: np.random.Generator | int | None = None,
) -> xr.Dataset:
    """Evaluate model RDMs against data RDMs with bootstrap inference and noise ceilings.

    Parameters
    ----------
    models : stacked RDM ``(model, stimulus_i, stimulus_j)`` or mapping name -> RDM
        A 2-D member is a fixed model; a 3-D member ``(component, stimulus_i,
        stimulus_j)`` is a weighted model (non-negative combination of its
        components, fitted with cross-validation).
    data : RDM ``(subject, stimulus_i, stimulus_j)``
        One RDM per subject (any leading dim name; with several leading
        dims pass ``dim=`` and the others are averaged).
    method : str
        Comparison method (:data:`~neurorep.rsa.COMPARE_METHODS`). corr,
        cosine, spearman and rho-a are fully vectorised; tau-a and the
        ``*_cov`` methods, and weighted models, run one sample at a time.
    bootstrap : {"both", "subject", "stimulus", "dual", "none"}
        What to resample: subjects (generalise to new subjects), stimuli
        (new stimuli) or both. ``"dual"``: both, with rsatoolbox's
        dual-bootstrap variance correction (t tests; the plain two-factor
        bootstrap overestimates the variance). ``"none"`` gives scores and
        ceilings only.
    n_bootstrap : int
        Number of bootstrap samples.
    test : {"t", "bootstrap"}
        ``"t"`` (rsatoolbox's default): t tests and CIs from the bootstrap
        variance; ``"bootstrap"``: percentile CIs and bootstrap p-values.
    ci : float
        Confidence level of ``ci_low``/``ci_high``.
    cv_folds : int, optional
        k-fold cross-validation over stimuli inside each sample (needed for
        weighted models; default 1 for fixed models only, otherwise
        rsatoolbox's default: 2-5 folds by number of stimuli).
    sigma_k : ndarray, optional
        Pattern covariance for the ``*_cov`` methods.
    dim : str, optional
        The subject dim of ``data`` when it has several leading dims.
    join : {"exact", "inner"}
        Stimulus matching between models and data (by id).
    rng : Generator, int or None
        Randomness of the bootstrap and the folds.

    Returns
    -------
    Dataset
        ``score`` (model): mean score over subjects on the full data (CV
        estimate for weighted models); ``ci_low``, ``ci_high`` (model);
        ``pvalue`` (model): one-sided test of score > 0; ``pvalue_ceiling``
        (model): two-sided test against the lower ceiling;
        ``pvalue_pairwise`` (model, model_b); ``ceiling`` (bound): lower
        and upper noise ceiling on the full data; ``score_samples`` (sample,
        model) and ``ceiling_samples`` (sample, bound); ``weights`` (model,
        component) for weighted models. attrs hold method, bootstrap, test,
        dof and the sizes.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, rsa
    >>> g = np.random.default_rng(0)
    >>> truth = g.random(45)
    >>> subj = data.rdm(truth + 0.3 * g.random((6, 45)), stimulus=list("abcdefghij"),
    ...                 dim="subject")
    >>> mods = data.rdm(np.stack([truth, g.random(45)]), stimulus=list("abcdefghij"),
    ...                 dim="model", index=["good", "bad"])
    >>> res = rsa.evaluate(mods, subj, n_bootstrap=200, rng=0)
    >>> bool(res.score.sel(model="good") > res.score.sel(model="bad"))
    True
    """
    method = resolve_method(method)  # type: ignore[assignment]
    check_option("bootstrap", bootstrap, BOOTSTRAPS)
    check_option("test", test, ("t", "bootstrap"))
    if not 0 < ci < 1:
        raise ValueError(f"ci must lie in (0, 1); got {ci}.")
    mods, arrays = _collect_models(models)
    stack, sdim = _data_stack(data, dim)
    # align stimuli (by id) of every model to the data
    aligned = []
    for name, da in zip(mods.names, arrays, strict=True):
        stack, da = align(stack, da, join=join, names=("data", f"models[{name!r}]"))
        aligned.append(da)
    if join == "inner":  # the data may have lost stimuli after the first models: realign all
        aligned = [align(stack, da, names=("data", "model"))[1] for da in aligned]
    n = stack.sizes["stimulus_i"]
    n_subj = stack.shape[0]
    if n < 3:
        raise SchemaError(f"evaluate: needs at least 3 stimuli; got {n}.")
    for i, da in enumerate(aligned):
        if da.ndim == 2:
            label = f"models[{mods.names[i]!r}]"
            mods.fixed_rows[i] = rdm_vectors(da, label, check_layout=False)[0]
        else:
            mods.weighted[i] = rdm_vectors(
                da, f"models[{mods.names[i]!r}]", check_layout=False
            )
            mods.components[i] = [str(c) for c in da[da.dims[0]].values]
    if mods.any_weighted:
        check_option("method (for weighted models)", method, _FITTABLE)
    if sigma_k is not None:
        if method not in ("cosine_cov", "corr_cov"):
            raise ValueError(f"sigma_k is only used by the *_cov methods; got {method!r}.")
        sigma_k = _check_sigma_k(sigma_k, np.asarray(stack.coords.variables["stimulus_i"].values))
        if bootstrap in ("stimulus", "both", "dual"):
            raise ValueError(
                "sigma_k with a stimulus bootstrap is not supported: a stimulus drawn twice "
                "makes the covariance of the resampled dissimilarities singular, so they "
                "cannot be whitened (rsatoolbox's bootstrap never passes sigma_k either). Use "
                "bootstrap='subject', or drop sigma_k (identity whitening works with every "
                "bootstrap)."
            )
    if cv_folds is None:
        cv_folds = _default_k(n) if mods.any_weighted else 1
    cv_folds = check_int("cv_folds", cv_folds, minimum=1, fix="e.g. cv_folds=5, or None.")
    if cv_folds < 1 or (cv_folds > 1 and 3 * cv_folds > n):
        raise ValueError(
            f"cv_folds must be >= 1 and leave at least 3 stimuli per fold ({n} stimuli); "
            f"got {cv_folds}."
        )
    if mods.any_weighted and cv_folds == 1:
        warnings.warn(
            "evaluate: weighted models fitted and scored on the same data (cv_folds=1) are "
            "optimistically biased; use cv_folds >= 2.",
            NeurorepWarning,
            stacklevel=2,
        )
    if bootstrap == "dual" and test != "t":
        raise ValueError(
            "bootstrap='dual' corrects the variance used by the t tests; with "
            "test='bootstrap' (percentiles) use bootstrap='both'."
        )
    by_subject = bootstrap in ("subject", "both", "dual")
    by_stimulus = bootstrap in ("stimulus", "both", "dual")
    if by_subject and n_subj < 3:
        raise SchemaError(
            f"evaluate: bootstrapping subjects needs at least 3 subjects along {sdim!r}; got "
            f"{n_subj}. Use bootstrap='stimulus' (generalise over stimuli only)."
        )
    if bootstrap != "none":
        n_bootstrap = check_int(
            "n_bootstrap", n_bootstrap, minimum=2,
            fix="It counts bootstrap samples, e.g. n_bootstrap=1000 (or bootstrap='none').",
        )
    gen = as_generator(rng)
    vec = rdm_vectors(stack, "data", check_layout=False)

    # full-data estimates
    point_reps = 5 if cv_folds > 1 else 1
    pt = [
        _bootstrap_engine(
            mods,
            vec,
            method,
            n,
            None,
            np.arange(n)[None, :],
            cv_folds=cv_folds,
            sigma_k=sigma_k,
            rng=gen,
            vectorised=False if sigma_k is not None else None,
        )
        for _ in range(point_reps)
    ]
    score = np.nanmean([p[0][0] for p in pt], axis=0)
    if n_subj >= 2:
        ceiling = np.nanmean([p[1][0] for p in pt], axis=0)
    else:
        ceiling = np.full(2, np.nan)
    weights = _full_weights(mods, vec, method)

    k = len(mods.names)
    n_eff = {"subject": n_subj, "stimulus": n}.get(bootstrap, min(n_subj, n))
    samples = np.full((0, k), np.nan)
    ceil_samples = np.full((0, 2), np.nan)
    p0 = np.full(k, np.nan)
    pnc = np.full(k, np.nan)
    ppair = np.full((k, k), np.nan)
    low = np.full(k, np.nan)
    high = np.full(k, np.nan)
    dof = n_eff - 1
    if bootstrap != "none":
        subj_idx = bootstrap_indices(n_subj, n_bootstrap, rng=gen) if by_subject else None
        stim_idx = bootstrap_indices(n, n_bootstrap, rng=gen) if by_stimulus else None
        if subj_idx is None and stim_idx is None:  # pragma: no cover
            raise AssertionError
        samples, ceil_samples = _bootstrap_engine(
            mods,
            vec,
            method,
            n,
            subj_idx,
            stim_idx,
            cv_folds=cv_folds,
            sigma_k=sigma_k,
            rng=gen,
        )
        ok = ~np.isnan(samples).any(axis=1)
        if ok.sum() < 2:
            raise SchemaError(
                "evaluate: fewer than 2 usable bootstrap samples (each needs >= 3 distinct "
                "stimuli); add stimuli or samples."
            )
        if n_subj < 2:
            ceil_samples[:] = np.nan
        dual = None
        if bootstrap == "dual":  # the same draws, one factor at a time
            sets = [(samples, ceil_samples)]
            for s_idx, c_idx in ((subj_idx, None), (None, stim_idx)):
                sets.append(
                    _bootstrap_engine(
                        mods, vec, method, n, s_idx, c_idx, cv_folds=cv_folds, rng=gen
                    )
                )
            bad = np.isnan(samples).any(axis=1)  # rsatoolbox drops the whole sample
            for sc, ce in sets:
                sc[bad] = np.nan
                ce[bad] = np.nan
            dual = (sets, n_subj, n)
        low, high, p0, pnc, ppair = _inference(
            samples, ceil_samples, score, n_eff=n_eff, dof=dof, test=test, ci=ci, dual=dual
        )
        if n_subj < 2:
            pnc[:] = np.nan

    names = mods.names
    comp_names = sorted({c for cs in mods.components.values() for c in cs})
    w_arr = np.full((k, len(comp_names)), np.nan)
    for i, theta in weights.items():
        for c, val in zip(mods.components[i], theta, strict=True):
            w_arr[i, comp_names.index(c)] = val
    ds = xr.Dataset(
        {
            "score": ("model", score),
            "ci_low": ("model", np.asarray(low, dtype=float)),
            "ci_high": ("model", np.asarray(high, dtype=float)),
            "pvalue": ("model", np.asarray(p0, dtype=float)),
            "pvalue_ceiling": ("model", np.asarray(pnc, dtype=float)),
            "pvalue_pairwise": (("model", "model_b"), ppair),
            "ceiling": ("bound", ceiling),
            "score_samples": (("sample", "model"), samples),
            "ceiling_samples": (("sample", "bound"), ceil_samples),
        },
        coords={
            "model": names,
            "model_b": names,
            "bound": ["lower", "upper"],
            "sample": np.arange(samples.shape[0]),
            "model_kind": (
                "model",
                ["weighted" if i in mods.weighted else "fixed" for i in range(k)],
            ),
        },
        attrs={
            "method": method,
            "bootstrap": bootstrap,
            "n_bootstrap": int(samples.shape[0]),
            "test": test,
            "ci": ci,
            "dof": int(dof),
            "cv_folds": int(cv_folds),
            "n_subjects": int(n_subj),
            "n_stimuli": int(n),
            "subject_dim": sdim,
            "neurorep_version": _version(),
        },
    )
    if comp_names:
        ds["weights"] = (("model", "component"), w_arr)
        ds = ds.assign_coords(component=comp_names)
    return ds


def _version() -> str:
    from neurorep import __version__

    return str(__version__)


def _full_weights(mods: _Models, vec: np.ndarray, method: str) -> dict[int, np.ndarray]:
    out = {}
    target = None
    for i, comps in mods.weighted.items():
        if target is None:
            target = _pool(vec, np.ones(vec.shape[0]), method)
        out[i] = _nnls_fit(comps, target, method)
    return out


def _default_k(n_pattern: int) -> int:
    """rsatoolbox's default number of stimulus folds for bootstrapped CV."""
    eff = (1 - np.exp(-1.0)) * n_pattern
    if eff < 12:
        return 2
    if eff < 24:
        return 3
    if eff < 40:
        return 4
    return 5
