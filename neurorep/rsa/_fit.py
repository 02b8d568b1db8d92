"""Pooled data RDMs and model fits (rsatoolbox's ``pool_rdm``, ``fit_regress_nn``,
``fit_select``, ``fit_interpolate`` and ``fit_optimize``).

Every fit takes the component vectors ``(c, m)`` of one model and the data
vectors ``(S, m)`` with subject weights ``u`` (a subject drawn twice counts
twice) and returns the parameter vector ``theta`` ``(c,)``; the model's
prediction is ``theta @ components``.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.optimize

from neurorep._core.compare import COMPARE_METHODS, compare_vectors
from neurorep._core.compare import inference_method as inference_method  # rsa's callers
from neurorep._core.ranks import rank_rows

#: Where rsatoolbox's ``pool_rdm`` departs from the method's ``pool`` field: the raw RDMs
#: are averaged for neg_riem_dist (not scale-free: a normalised pool would move the
#: distances). The Bures similarity is scale-free and pools as cosine does (RMS-normalised
#: RDMs; rsatoolbox's ``pool_rdm`` has no Bures entry).
_POOL_OVERRIDE: dict[str, str] = {"neg_riem_dist": "mean"}


def _pool_rows(v: np.ndarray, method: str) -> np.ndarray:
    """Each RDM normalised as rsatoolbox's ``pool_rdm`` does before averaging."""
    pool = _POOL_OVERRIDE.get(method, COMPARE_METHODS[method].pool)
    if pool == "mean":
        return v
    if pool == "rms":
        return v / np.sqrt(np.mean(v * v, axis=1, keepdims=True))
    if pool == "zscore":
        m = v.shape[1]
        c = v - v.sum(axis=1, keepdims=True) / m
        # c.std(axis=1) (rsatoolbox's nanstd): about c's own mean, a second pass -- for an RDM a
        # few ulps wide the first mean is off by as much as the spread (the one-pass RMS was)
        d = c - c.sum(axis=1, keepdims=True) / m
        c /= np.sqrt(np.einsum("ij,ij->i", d, d) / m)[:, None]
        return c
    return rank_rows(v)


def _pool(v: np.ndarray, u: np.ndarray | None, method: str) -> np.ndarray:
    """rsatoolbox ``pool_rdm``: ``(S, m)`` with subject weights ``u`` -> ``(m,)``.

    ``u=None``: equal weights (the plain mean).
    """
    rows = _pool_rows(v, method)
    out = rows.mean(axis=0) if u is None else (u[:, None] * rows).sum(axis=0) / u.sum()
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


def _nnls_fit(
    components: np.ndarray, target: np.ndarray, method: str, ridge: float = 0.0
) -> np.ndarray:
    """rsatoolbox ``fit_regress_nn``: non-negative weights of ``(c, m)`` components.

    ``ridge`` adds ``ridge * |theta|^2`` to the squared error (rsatoolbox's
    ``ridge_weight``): the same problem as NNLS of the components stacked on
    ``sqrt(ridge) * I`` against the target padded with zeros, whose optimum is
    unique for ``ridge > 0``.
    """
    c, m = components.shape
    if ridge > 0:  # [a' ; sqrt(ridge) I] against [target ; 0], built in place
        a_t = np.zeros((m + c, c))
        a_t[m:].flat[:: c + 1] = np.sqrt(ridge)
        b = np.zeros(m + c)
        b[:m] = target
    else:
        a_t = np.empty((m, c))
        b = target
    a_t[:m] = components.T
    if COMPARE_METHODS[method].pool == "zscore":
        a_t[:m] -= components.sum(axis=1) / m
    theta, _ = scipy.optimize.nnls(a_t, b)
    norm = math.sqrt(float(theta @ theta))
    return theta / norm if norm > 0 else theta




def _mean_score(pred: np.ndarray, data: np.ndarray, u: np.ndarray, method: str) -> float:
    """Subject-weighted mean score of one prediction ``(m,)`` against data ``(S, m)``."""
    sc = compare_vectors(pred[None, :], data, method)[0]
    return float(sc @ u / u.sum())


class _LinearScore:
    """Mean corr / cosine score of ``theta @ components`` from Gram matrices, with its gradient.

    With ``C`` the (centred, for corr) components and ``d_s`` the (centred)
    data, ``score(theta) = theta . h / sqrt(theta' G theta)``, ``G = C C'``
    and ``h = sum_s u_s C d_s / |d_s| / sum_s u_s``: one evaluation costs
    ``O(c^2)`` instead of a pass over the dissimilarities.
    """

    def __init__(self, components: np.ndarray, data: np.ndarray, u: np.ndarray, method: str):
        c, d = components, data
        if method == "corr":
            c = c - c.mean(axis=1, keepdims=True)
            d = d - d.mean(axis=1, keepdims=True)
        scale = np.abs(c).max(axis=1, keepdims=True)
        scale[scale == 0] = 1.0
        self.scale = scale[:, 0]  # rows rescaled for range safety; undone in theta
        c = c / scale
        nd = np.sqrt(np.einsum("sm,sm->s", d, d))
        with np.errstate(invalid="ignore", divide="ignore"):
            h = (c @ d.T) / nd
        self.h = h @ u / u.sum()
        self.g = c @ c.T

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        t = theta * self.scale
        gt = self.g @ t
        q = float(t @ gt)
        if not q > 0:
            return float("nan"), np.zeros_like(theta)
        num = float(t @ self.h)
        root = np.sqrt(q)
        grad = self.h / root - num * gt / (q * root)
        return num / root, grad * self.scale


def _linear_ok(method: str) -> bool:
    return method in ("corr", "cosine")


def _select_fit(components: np.ndarray, data: np.ndarray, u: np.ndarray, method: str) -> np.ndarray:
    """rsatoolbox ``fit_select``: one-hot weights of the best-scoring component (first on ties)."""
    sc = compare_vectors(components, data, method) @ u / u.sum()
    theta = np.zeros(components.shape[0])
    theta[int(np.argmax(np.nan_to_num(sc, nan=-np.inf)))] = 1.0
    return theta


def _interpolate_fit(
    components: np.ndarray, data: np.ndarray, u: np.ndarray, method: str
) -> np.ndarray:
    """rsatoolbox ``fit_interpolate``: the best mixture ``w c_i + (1 - w) c_(i+1)``.

    For each neighbouring pair a bounded scalar search (``minimize_scalar``,
    ``method="bounded"`` on [0, 1], as rsatoolbox) of the negative mean
    score; the pair with the lowest loss wins.
    """
    c = components.shape[0]
    best: tuple[float, int, float] | None = None
    linear = _LinearScore(components, data, u, method) if _linear_ok(method) else None
    for i in range(c - 1):
        a, b = components[i], components[i + 1]

        def loss(w: float, a: np.ndarray = a, b: np.ndarray = b, i: int = i) -> float:
            wa, wb = max(w, 0.0), max(1.0 - w, 0.0)
            if linear is not None:
                theta = np.zeros(c)
                theta[i], theta[i + 1] = wa, wb
                return -linear(theta)[0]
            return -_mean_score(wa * a + wb * b, data, u, method)

        res = scipy.optimize.minimize_scalar(loss, method="bounded", bounds=(0.0, 1.0))
        if best is None or res.fun < best[0]:
            best = (float(res.fun), i, float(res.x))
    theta = np.zeros(c)
    if best is not None:
        theta[best[1]] = best[2]
        theta[best[1] + 1] = 1.0 - best[2]
    return theta


def _optimize_fit(
    components: np.ndarray,
    data: np.ndarray,
    u: np.ndarray,
    method: str,
    *,
    ridge: float = 0.0,
    positive: bool = False,
    n_starts: int | None = None,
    gen: np.random.Generator,
) -> np.ndarray:
    """rsatoolbox ``fit_optimize`` / ``fit_optimize_positive``: BFGS on the negative mean score.

    Loss ``-mean_s score(theta @ components, data_s) + ridge * |theta|^2``
    (``positive``: weights ``theta**2``), minimised from ``n_starts`` random
    starts (default ``2 c``, uniform in [0, 1) as rsatoolbox) plus the
    all-ones start; the best optimum is scaled to unit norm.
    """
    c = components.shape[0]

    def weights(t: np.ndarray) -> np.ndarray:
        return t * t if positive else t

    linear = _LinearScore(components, data, u, method) if _linear_ok(method) else None

    def loss(t: np.ndarray) -> float:
        w = weights(t)
        pred = w @ components
        if not np.any(pred != pred[0]):  # constant prediction: no score
            return float(np.sum(w * w) * ridge)
        return -_mean_score(pred, data, u, method) + float(np.sum(w * w) * ridge)

    def loss_grad(t: np.ndarray) -> tuple[float, np.ndarray]:
        assert linear is not None
        w = weights(t)
        sc, g = linear(w)
        if not np.isfinite(sc):  # constant prediction: no score
            sc, g = 0.0, np.zeros_like(w)
        f = -sc + float(np.sum(w * w) * ridge)
        gw = -g + 2 * ridge * w
        return f, (2 * t * gw if positive else gw)

    k = 2 * c if n_starts is None else int(n_starts)
    starts = np.concatenate([np.ones((1, c)), gen.random((k, c))])
    best_x, best_f = starts[0], np.inf
    for x0 in starts:
        if linear is not None:  # analytic gradient
            res = scipy.optimize.minimize(loss_grad, x0, method="BFGS", jac=True, tol=1e-6)
        else:
            res = scipy.optimize.minimize(loss, x0, method="BFGS", tol=1e-6)
        if np.isfinite(res.fun) and res.fun < best_f:
            best_x, best_f = res.x, float(res.fun)
    theta = weights(np.asarray(best_x, dtype=float))
    norm = np.sqrt(np.sum(theta**2))
    return theta / norm if norm > 0 else theta


#: Model fits by name: how a model made of component RDMs gets its parameters.
FITS = ("nnls", "select", "interpolate", "optimize", "optimize_positive")


def _fit_model(
    fit: str,
    components: np.ndarray,
    data: np.ndarray,
    u: np.ndarray,
    method: str,
    *,
    ridge: float = 0.0,
    gen: np.random.Generator | None = None,
) -> np.ndarray:
    """Parameters of one model under fit ``fit`` (see :data:`FITS`)."""
    if fit == "nnls":
        return _nnls_fit(components, _pool(data, u, method), method, ridge)
    if fit == "select":
        return _select_fit(components, data, u, method)
    if fit == "interpolate":
        return _interpolate_fit(components, data, u, method)
    if gen is None:
        gen = np.random.default_rng(0)
    return _optimize_fit(
        components, data, u, method, ridge=ridge, positive=fit == "optimize_positive", gen=gen
    )
