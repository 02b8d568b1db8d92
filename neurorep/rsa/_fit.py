"""Pooled data RDMs and non-negative model fits (rsatoolbox's ``pool_rdm`` and ``fit_regress_nn``)."""

from __future__ import annotations

import numpy as np
import scipy.optimize

from neurorep._core.compare import COMPARE_METHODS
from neurorep._core.ranks import rank_rows


def _pool_rows(v: np.ndarray, method: str) -> np.ndarray:
    """Each RDM normalised as rsatoolbox's ``pool_rdm`` does before averaging."""
    pool = COMPARE_METHODS[method].pool
    if pool == "rms":
        return v / np.sqrt(np.mean(v * v, axis=1, keepdims=True))
    if pool == "zscore":
        c = v - v.mean(axis=1, keepdims=True)
        return c / c.std(axis=1, keepdims=True)
    return rank_rows(v)


def _pool(v: np.ndarray, u: np.ndarray, method: str) -> np.ndarray:
    """rsatoolbox ``pool_rdm``: ``(S, m)`` with subject weights ``u`` -> ``(m,)``."""
    out = (u[:, None] * _pool_rows(v, method)).sum(axis=0) / u.sum()
    if COMPARE_METHODS[method].pool == "zscore":
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
    if COMPARE_METHODS[method].pool == "zscore":
        out -= out.min(axis=1, keepdims=True)
    return out


def _nnls_fit(components: np.ndarray, target: np.ndarray, method: str) -> np.ndarray:
    """rsatoolbox ``fit_regress_nn``: non-negative weights of ``(c, m)`` components."""
    centred = COMPARE_METHODS[method].pool == "zscore"
    a = components - components.mean(axis=1, keepdims=True) if centred else components
    theta, _ = scipy.optimize.nnls(a.T, target)
    norm = np.sqrt(np.sum(theta**2))
    return theta / norm if norm > 0 else theta


