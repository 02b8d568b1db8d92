"""RDM comparison kernels beyond one matrix product: Kendall's tau-b, Bures, Riemannian.

Each kernel scores every row of ``x`` ``(a, m)`` against every row of ``y``
``(b, m)`` (condensed RDM vectors, scipy ``squareform`` order) with
rsatoolbox's definitions (``rsatoolbox.rdm.compare``):

* ``tau-b``: Kendall's tau-b, ``(con - dis) / sqrt((T - t_x)(T - t_y))``
  with ``T = m (m - 1) / 2`` and ``t_x``, ``t_y`` the pairs tied in ``x``,
  ``y`` (scipy's ``kendalltau``): tau-a's counts rescaled, one compiled count per pair.
* ``bures``: ``tr |A^1/2 B^1/2| / sqrt(tr A tr B)`` (the fidelity of the
  double-centred kernels ``A = H (-D/2) H``, ``B = H (-E/2) H``);
  ``bures_metric``: ``tr A + tr B - 2 tr |A^1/2 B^1/2|``, the squared Bures
  distance. The square roots are taken once per RDM (one ``eigh`` each) and
  the eigenvalues of all pairs come from one batched ``eigvalsh``.
* ``neg_riem_dist``: minus the Riemannian (affine-invariant) distance
  ``min over a, b of sqrt(sum(log(eig(e^a G_x + e^b S, G_y))**2))`` between
  the second moments ``G`` relative to the first stimulus and the pattern
  covariance ``S = P sigma_k P'`` (Shahbazi et al. 2021), minimised by
  Nelder-Mead from ``(0, 0)`` exactly as rsatoolbox does; ``G_y`` is reduced
  by its Cholesky factor once so each step is one symmetric eigenvalue problem.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from neurorep._core.condensed import n_from_m, triu

__all__ = ["bures", "bures_metric", "centred_kernels", "neg_riem_dist", "tau_b"]


def _full_only(valid: np.ndarray | None, what: str) -> None:
    if valid is not None and not np.all(valid):
        raise ValueError(
            f"{what} compares whole RDMs (matrices); it cannot leave out dissimilarities "
            f"(NaN pairs, or a stimulus drawn twice by a bootstrap)."
        )


def tau_b(
    x: np.ndarray,
    y: np.ndarray,
    *,
    pairs: np.ndarray | None = None,
    shared_ties: int = 0,
    **kw: Any,
) -> np.ndarray:
    """Kendall's tau-b of all row pairs (or only ``pairs``), as ``scipy.stats.kendalltau``.

    The same counts as tau-a (one sort per row, one compiled count per pair), over
    ``sqrt((T - t_x)(T - t_y))``. A row with every value tied has no tau-b: NaN, as scipy.
    """
    from neurorep._core.compare import kendall_counts

    m = x.shape[1]
    tot = m * (m - 1) // 2
    num, ties_x, ties_y = kendall_counts(x, y, pairs=pairs, shared_ties=shared_ties)
    den = np.sqrt((tot - ties_x).astype(np.float64)) * np.sqrt((tot - ties_y).astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[~(den > 0)] = np.nan
    return np.clip(out, -1.0, 1.0)


@functools.lru_cache(maxsize=8)
def _centring_basis(n: int) -> np.ndarray:
    """``(n, n-1)`` orthonormal basis of the vectors orthogonal to ones."""
    q = np.linalg.qr(np.eye(n) - 1.0 / n)[0][:, : n - 1]
    q.setflags(write=False)
    return q


def centred_kernels(v: np.ndarray, *, reduced: bool = False) -> np.ndarray:
    """``(k, m)`` condensed RDMs -> ``(k, n, n)`` double-centred kernels ``H (-D/2) H``.

    ``reduced=True``: ``Q' (-D/2) Q`` ``(k, n-1, n-1)`` in an orthonormal basis ``Q`` of
    the centred vectors -- the same non-zero spectrum without the null direction of
    the centring, whose rounding would otherwise enter square roots as ~1e-8 noise.
    """
    k, m = v.shape
    n = n_from_m(m)
    iu, ju = triu(n)
    g = np.zeros((k, n, n))
    g[:, iu, ju] = -0.5 * v
    g[:, ju, iu] = -0.5 * v
    if reduced:
        q = _centring_basis(n)
        return np.matmul(np.matmul(q.T, g), q)
    s = g.mean(axis=1, keepdims=True)
    return g - s - np.transpose(s, (0, 2, 1)) + s.mean(axis=2, keepdims=True)


def _clip_small(ev: np.ndarray) -> np.ndarray:
    """Eigenvalues within rounding of zero (relative to the largest) set to 0, negatives too."""
    tol = ev.shape[-1] * np.finfo(np.float64).eps * np.abs(ev).max(axis=-1, keepdims=True)
    return np.where(ev > tol, ev, 0.0)


def _root_factors(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(k, n, n)`` symmetric -> ``F = sqrt(L_+) U'`` (so ``F' F = A^1/2 A^1/2``), and traces."""
    vals, vecs = np.linalg.eigh(g)
    f = np.sqrt(_clip_small(vals))[:, :, None] * np.transpose(vecs, (0, 2, 1))
    return f, np.trace(g, axis1=1, axis2=2)


def _nuclear(fx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """``sum sqrt(max(eig(A^1/2 B A^1/2), 0))`` of all pairs (rsatoolbox's definition, which
    also holds for an indefinite ``B``): the eigenvalues of ``F_a B F_a'``, batched."""
    a, n = fx.shape[0], fx.shape[1]
    b = gy.shape[0]
    out = np.empty((a, b))
    fxt = np.transpose(fx, (0, 2, 1))
    step = max(1, int(2**21 // max(1, b * n * n)))  # ~16 MB of products at a time
    for s in range(0, a, step):
        left = np.matmul(fx[s : s + step, None], gy[None])  # (s, b, n, n)
        prod = np.matmul(left, fxt[s : s + step, None])
        prod = (prod + np.swapaxes(prod, -1, -2)) / 2.0
        ev = np.linalg.eigvalsh(prod)
        out[s : s + step] = np.sqrt(_clip_small(ev)).sum(axis=-1)
    return out


def _bures_parts(
    x: np.ndarray, y: np.ndarray, valid: np.ndarray | None, what: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    _full_only(valid, what)
    gx = centred_kernels(x, reduced=True)
    fx, trx = _root_factors(gx)
    gy = gx if y is x else centred_kernels(y, reduced=True)
    return _nuclear(fx, gy), trx, np.trace(gy, axis1=1, axis2=2)


def bures(x: np.ndarray, y: np.ndarray, *, valid: np.ndarray | None = None, **kw: Any) -> np.ndarray:
    """Bures similarity ``tr |A^1/2 B^1/2| / sqrt(tr A tr B)`` of all row pairs."""
    nuc, tx, ty = _bures_parts(x, y, valid, "bures")
    with np.errstate(invalid="ignore", divide="ignore"):
        return nuc / np.sqrt(np.outer(tx, ty))


def bures_metric(
    x: np.ndarray, y: np.ndarray, *, valid: np.ndarray | None = None, **kw: Any
) -> np.ndarray:
    """Squared Bures distance ``tr A + tr B - 2 tr |A^1/2 B^1/2|`` of all row pairs."""
    nuc, tx, ty = _bures_parts(x, y, valid, "bures_metric")
    return tx[:, None] + ty[None, :] - 2.0 * nuc


def second_moments(v: np.ndarray) -> np.ndarray:
    """``(k, m)`` RDMs -> ``(k, n-1, n-1)`` second moments relative to the first stimulus:
    ``G_ij = (d_0i + d_0j - d_ij) / 2`` (rsatoolbox's RDM-to-G transform)."""
    k, m = v.shape
    n = n_from_m(m)
    d0 = v[:, : n - 1]  # d(0, 1..n-1)
    iu, ju = triu(n)
    g = 0.5 * (d0[:, :, None] + d0[:, None, :])
    rest = iu > 0
    ii, jj = iu[rest] - 1, ju[rest] - 1
    g[:, ii, jj] -= 0.5 * v[:, rest]
    g[:, jj, ii] -= 0.5 * v[:, rest]
    idx = np.arange(n - 1)
    g[:, idx, idx] = d0
    return g


def neg_riem_dist(
    x: np.ndarray,
    y: np.ndarray,
    *,
    sigma_k: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    **kw: Any,
) -> np.ndarray:
    """Negative Riemannian distance of all row pairs (see the module docstring).

    Every ``G_y`` must be positive definite (an RDM of distinct patterns);
    otherwise the distance is undefined and the score NaN.
    """
    import scipy.linalg
    from scipy.optimize import minimize

    _full_only(valid, "neg_riem_dist")
    n = n_from_m(x.shape[1])
    s = np.eye(n) if sigma_k is None else np.asarray(sigma_k, dtype=np.float64)
    if s.ndim == 1:
        s = np.diag(s)
    p = np.hstack([-np.ones((n - 1, 1)), np.eye(n - 1)])
    s_hat = p @ s @ p.T
    gx, gy = second_moments(x), second_moments(y)
    out = np.full((x.shape[0], y.shape[0]), np.nan)
    for j in range(gy.shape[0]):
        try:
            low = np.linalg.cholesky(gy[j])
        except np.linalg.LinAlgError:
            raise ValueError(
                f"neg_riem_dist: the second moment of RDM {j} of the second argument is not "
                f"positive definite (its stimuli's patterns are linearly dependent, e.g. fewer "
                f"units than stimuli, or it is not a squared-Euclidean-like RDM), so its "
                f"Riemannian distance is undefined. Use method='bures' or 'cosine_cov', or "
                f"RDMs of full-rank patterns."
            ) from None
        b = scipy.linalg.solve_triangular(low, s_hat, lower=True)
        b = scipy.linalg.solve_triangular(low, b.T, lower=True)
        b = (b + b.T) / 2.0
        for i in range(gx.shape[0]):
            a = scipy.linalg.solve_triangular(low, gx[i], lower=True)
            a = scipy.linalg.solve_triangular(low, a.T, lower=True)
            a = (a + a.T) / 2.0

            def fun(theta: np.ndarray, a: np.ndarray = a, b: np.ndarray = b) -> float:
                ev = np.linalg.eigvalsh(np.exp(theta[0]) * a + np.exp(theta[1]) * b)
                return float(np.sqrt((np.log(ev) ** 2).sum()))

            with np.errstate(invalid="ignore", divide="ignore"):
                res = minimize(fun, (0.0, 0.0), method="Nelder-Mead")
            out[i, j] = -res.fun
    return out
