"""The bootstrap engine of ``rsa.evaluate``: scores and noise ceilings per sample.

Each sample is given by index arrays (which subjects and stimuli it holds);
the vectorised path (:mod:`neurorep.rsa._weighted`) serves fixed models with
the basic methods, the general path rsatoolbox's algorithm on materialised
vectors: any method, weighted models, cross-validation over stimuli.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurorep._core.compare import COMPARE_METHODS, compare_vectors
from neurorep._core.condensed import pair_index
from neurorep._core.rng import as_generator
from neurorep.rsa._fit import _fit_model, _pools_loo
from neurorep.rsa._weighted import _linear_scores, _vectorised_scores
from neurorep.stats import counts_from_indices


@dataclass
class _Models:
    names: list[str]
    fixed_rows: dict[int, np.ndarray] = field(default_factory=dict)  # model pos -> (m,)
    weighted: dict[int, np.ndarray] = field(default_factory=dict)  # model pos -> (c, m)
    components: dict[int, list[str]] = field(default_factory=dict)
    fits: dict[int, str] = field(default_factory=dict)  # model pos -> FITS name (default nnls)
    ridge: float = 0.0

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
    gen: np.random.Generator | None = None,
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
            theta = _fit_model(
                models.fits.get(i, "nnls"),
                comps[:, pairs_train],
                dp[:, pairs_train],
                up,
                method,
                ridge=models.ridge,
                gen=gen,
            )
            thetas[i] = theta
            preds.append(theta @ comps[:, pairs_test])
        else:
            preds.append(models.fixed_rows[i][pairs_test])
    pred = np.stack(preds)
    n_present = dp.shape[0]
    pools = _pools_loo(test, up, method)  # (1 + S', m): all subjects, then leave-one-out
    if COMPARE_METHODS[method].paired:  # e.g. tau-a, O(m log m) per pair: only the pairs needed
        k, subj = pred.shape[0], np.arange(n_present)
        kk, ss = np.meshgrid(np.arange(k), subj, indexing="ij")
        blocks = [np.stack([kk.ravel(), ss.ravel()], axis=1), np.stack([k + 0 * subj, subj], 1)]
        if n_present > 1:
            blocks.append(np.stack([k + 1 + subj, subj], axis=1))
        sc = COMPARE_METHODS[method].kernel(
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


def _sample_pairs(
    stim_idx: np.ndarray | None, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The dissimilarities of a stimulus sample, materialised as rsatoolbox does.

    Returns the sorted draw, the sample's pair positions ``a_pos``, ``b_pos``,
    ``valid`` (False for the pairs of two copies of one stimulus, left out) and
    ``orig``, each sample pair's index among the original ``n`` stimuli' pairs.
    """
    stim_idx = np.sort(np.arange(n) if stim_idx is None else stim_idx)
    a_pos, b_pos = np.triu_indices(stim_idx.size, 1)
    ia, ib = stim_idx[a_pos], stim_idx[b_pos]
    valid = ia != ib
    orig = np.zeros(valid.size, dtype=np.intp)
    orig[valid] = pair_index(ia[valid], ib[valid], n)
    return stim_idx, a_pos, b_pos, valid, orig


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
    pair_ok: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One bootstrap sample, rsatoolbox's algorithm on materialised vectors.

    ``pair_ok`` ``(m,)``: the dissimilarities present in every RDM (the others are
    missing, NaN, and left out like the pairs of a stimulus drawn twice)."""
    stim_idx, a_pos, b_pos, valid, orig = _sample_pairs(stim_idx, n)
    n_s = stim_idx.size
    if (np.unique(stim_idx).size < 3) or (cv_folds > 1 and np.unique(stim_idx).size < 3 * cv_folds):
        return np.full(len(models.names), np.nan), np.full(2, np.nan)
    if pair_ok is not None:
        valid &= pair_ok[orig]
    mat_models = _Models(
        models.names, components=models.components, fits=models.fits, ridge=models.ridge
    )
    for i, row in models.fixed_rows.items():
        mat_models.fixed_rows[i] = np.where(valid, row[orig], 0.0)
    for i, comps in models.weighted.items():
        mat_models.weighted[i] = np.where(valid, comps[:, orig], 0.0)
    mat_data = np.where(valid, data[:, orig], 0.0)
    cov = COMPARE_METHODS[method].whitened
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
            gen=gen,
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
                gen=gen,
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
                gen=gen,
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
    pair_ok: np.ndarray | None = None,
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
        not models.any_weighted
        and cv_folds <= 1
        and COMPARE_METHODS[method].vectorised
        and sigma_k is None
        and pair_ok is None
    )
    if vectorised is None:
        vectorised = fast_ok
    if vectorised:
        if not fast_ok:
            raise ValueError("the vectorised path needs fixed models, no CV, a basic method.")
        stim_counts = None if stim_idx is None else counts_from_indices(stim_idx, n)
        if not COMPARE_METHODS[method].ranked:  # linear: weighted sums only
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
            pair_ok=pair_ok,
        )
    return scores, ceil

