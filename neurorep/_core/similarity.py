"""Similarity kernels between two representations of the same stimuli: CKA and Procrustes.

Every kernel takes ``x`` ``(n, p)`` and ``y`` ``(n, q)`` (rows = stimuli, in
the same order) and returns a float where larger means more similar. The
public ones are re-exported by :mod:`neurorep.alignment`.
"""

from __future__ import annotations

import numpy as np

from neurorep._core.errors import check_real

__all__ = [
    "center_gram",
    "cka_debiased",
    "cka_from_grams",
    "cka_linear",
    "procrustes_similarity",
    "rescaled",
]


def rescaled(x: np.ndarray) -> np.ndarray:
    """``x`` divided by a power of two when its largest |value| is outside 2**-64..2**64.

    Every kernel here is invariant to the scale of each representation, and
    dividing by a power of two is exact, so the score is unchanged while
    ``x @ x.T`` can no longer overflow (1e200) or underflow (1e-200).
    """
    peak = float(np.abs(x).max()) if x.size else 0.0
    if not np.isfinite(peak) or peak == 0.0:
        return x
    e = int(np.frexp(peak)[1])
    return np.ldexp(x, -e) if abs(e) > 64 else x


def _real(x: np.ndarray, name: str) -> np.ndarray:
    """``x`` as a float64 array (rescaled if extreme); complex values are refused."""
    check_real(x, name=name)
    return rescaled(np.asarray(x, float))


def _center(x: np.ndarray) -> np.ndarray:
    return x - x.mean(0, keepdims=True)


def cka_linear(x: np.ndarray, y: np.ndarray) -> float:
    """Biased linear CKA (Kornblith et al. 2019): ||Y'X||_F^2 / (||X'X||_F ||Y'Y||_F), centred.

    Computed on the n x n Gram matrices when n is smaller than the widths.
    """
    x, y = _center(_real(x, "x")), _center(_real(y, "y"))
    if x.shape[0] < max(x.shape[1], y.shape[1]):
        kx, ky = x @ x.T, y @ y.T
        hsic = float((kx * ky).sum())
        norm = float(np.sqrt((kx * kx).sum() * (ky * ky).sum()))
    else:
        hsic = float(np.linalg.norm(y.T @ x, "fro") ** 2)
        norm = float(np.linalg.norm(x.T @ x, "fro") * np.linalg.norm(y.T @ y, "fro"))
    return hsic / norm if norm > 0 else float("nan")


def center_gram(k: np.ndarray) -> np.ndarray:
    """H K H for a Gram matrix K (the Gram matrix of the column-centred data)."""
    return k - k.mean(0, keepdims=True) - k.mean(1, keepdims=True) + k.mean()


def cka_from_grams(kx: np.ndarray, ky: np.ndarray) -> float:
    """Biased linear CKA from uncentred Gram matrices ``X X'`` and ``Y Y'`` (rows aligned).

    Equal to :func:`cka_linear`; a bootstrap sample's Gram is a sub-matrix of
    the full one, so resampling costs O(n^2) instead of O(n^2 p).
    """
    kx, ky = center_gram(kx), center_gram(ky)
    norm = float(np.sqrt((kx * kx).sum() * (ky * ky).sum()))
    return float((kx * ky).sum()) / norm if norm > 0 else float("nan")


def _hsic_unbiased(k: np.ndarray, l_: np.ndarray) -> float:
    n = k.shape[0]
    k = k.copy()
    l_ = l_.copy()
    np.fill_diagonal(k, 0.0)
    np.fill_diagonal(l_, 0.0)
    kl = k @ l_
    term = np.trace(kl) + k.sum() * l_.sum() / ((n - 1) * (n - 2)) - 2 * kl.sum() / (n - 2)
    return float(term / (n * (n - 3)))


def cka_debiased(x: np.ndarray, y: np.ndarray) -> float:
    """Debiased linear CKA (unbiased HSIC estimator of Song et al. 2012; needs n > 3)."""
    x, y = _real(x, "x"), _real(y, "y")
    if x.shape[0] < 4:
        raise ValueError(f"debiased CKA needs at least 4 stimuli; got {x.shape[0]}.")
    kx, ky = x @ x.T, y @ y.T
    hxy = _hsic_unbiased(kx, ky)
    hxx = _hsic_unbiased(kx, kx)
    hyy = _hsic_unbiased(ky, ky)
    denom = np.sqrt(hxx * hyy) if hxx > 0 and hyy > 0 else 0.0
    return hxy / denom if denom > 0 else float("nan")


def procrustes_similarity(x: np.ndarray, y: np.ndarray) -> float:
    """1 - the angular Procrustes shape distance / (pi/2) (Williams et al. 2021), in [0, 1].

    Both representations are centred and scaled to unit Frobenius norm; the
    nuclear norm of ``X'Y`` is the cosine of the angle after the best rotation.
    Different widths are handled by the nuclear norm of the cross-product.
    """
    x, y = _center(_real(x, "x")), _center(_real(y, "y"))
    nx, ny = np.linalg.norm(x), np.linalg.norm(y)
    if nx == 0 or ny == 0:
        return float("nan")
    x, y = x / nx, y / ny
    if x.shape[0] < max(x.shape[1], y.shape[1]):
        # nuclear norm of X'Y = sum sqrt(eig(X X' Y Y')) via the n x n Gram route
        gx, gy = x @ x.T, y @ y.T
        w = np.linalg.eigvals(gx @ gy)
        nuc = float(np.sqrt(np.clip(w.real, 0, None)).sum())
    else:
        nuc = float(np.linalg.svd(x.T @ y, compute_uv=False).sum())
    angle = float(np.arccos(np.clip(nuc, -1.0, 1.0)))
    return 1.0 - angle / (np.pi / 2)
