"""Similarity kernels between two representations of the same stimuli: CKA and Procrustes.

Every kernel takes ``x`` ``(n, p)`` and ``y`` ``(n, q)`` (rows = stimuli, in
the same order) and returns a float where larger means more similar. The
public ones are re-exported by :mod:`neurorep.alignment`.
"""

from __future__ import annotations

import warnings

import numpy as np

from neurorep._core.errors import NeurorepWarning, check_real

__all__ = [
    "center",
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


def center(x: np.ndarray) -> np.ndarray:
    """Each column minus its mean over stimuli (rows)."""
    return x - x.mean(0, keepdims=True)


def cka_linear(x: np.ndarray, y: np.ndarray) -> float:
    """Biased linear CKA (Kornblith et al. 2019): ||Y'X||_F^2 / (||X'X||_F ||Y'Y||_F), centred.

    Computed on the n x n Gram matrices when n is smaller than the widths.

    Parameters
    ----------
    x : array-like, shape (n, p)
        One representation: ``n`` stimuli (rows) by ``p`` units; centred here.
    y : array-like, shape (n, q)
        The other, ``n`` stimuli in the same order as ``x`` by ``q`` units.

    Returns
    -------
    float
        The CKA in [0, 1]; NaN when a representation is constant.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.alignment import cka_linear
    >>> x = np.random.default_rng(0).normal(size=(20, 4))
    >>> round(cka_linear(x, 2.0 * x + 1.0), 6)
    1.0
    """
    x, y = center(_real(x, "x")), center(_real(y, "y"))
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


# Below this fraction of the Gram matrix's own size the U-centred Gram matrix is rounding
# noise (about n * 1e-16 of it): the representation is, to float64 precision, one that
# U-centring annihilates -- constant, or all stimuli but one identical -- and debiased
# CKA (0 / 0) is undefined. Above it the score is exact to about n * 1e-16 / (this ratio).
_U_CENTRED_RTOL = 1e-8


def _u_centred_gram(x: np.ndarray) -> tuple[np.ndarray, float]:
    """The U-centred Gram matrix of ``x`` (Szekely & Rizzo 2014) and the norm of its Gram.

    With ``K = x x'`` and its diagonal set to 0, ``U_ij = K_ij - r_i / (n-2) - r_j / (n-2)
    + sum(r) / ((n-1)(n-2))`` off the diagonal (``r`` the row sums) and 0 on it. The
    unbiased HSIC estimator of Song et al. (2012) is ``<U(K), U(L)> / (n(n-3))``, so it
    is computed here as an inner product of matrices whose entries are each rounded once
    (the expanded formula subtracts sums of squared Gram entries and loses most digits
    when a representation is nearly degenerate). ``x`` is centred and rescaled first;
    U-centring is invariant to both.
    """
    n = x.shape[0]
    k = x @ x.T
    np.fill_diagonal(k, 0.0)
    r = k.sum(1)
    u = k - (r[:, None] + r[None, :]) / (n - 2) + r.sum() / ((n - 1) * (n - 2))
    np.fill_diagonal(u, 0.0)
    return u, float(np.linalg.norm(k))


def cka_debiased(x: np.ndarray, y: np.ndarray) -> float:
    """Debiased linear CKA: CKA with the unbiased HSIC estimator of Song et al. (2012).

    ``HSIC_1(K, L) / sqrt(HSIC_1(K, K) HSIC_1(L, L))`` for the linear Gram matrices
    ``K = X X'`` and ``L = Y Y'``, computed in float64 as the cosine between the
    U-centred Gram matrices (Szekely & Rizzo 2014), which equals it exactly; hence it
    lies in [-1, 1] and does not depend on the order of stimuli or units beyond
    rounding (~1e-12).

    Parameters
    ----------
    x : array-like, shape (n, p)
        One representation; rows are stimuli.
    y : array-like, shape (n, q)
        The other, rows in the same stimulus order as ``x``.

    Returns
    -------
    float
        The debiased CKA in [-1, 1]. NaN, with a :class:`~neurorep.NeurorepWarning`,
        when a representation has no U-centred structure (to float64 precision its
        U-centred Gram matrix is below 1e-8 of its Gram matrix): constant, or every
        stimulus but one with the same pattern. The estimator is 0 / 0 there.

    Raises
    ------
    ValueError
        Fewer than 4 stimuli (the estimator divides by ``n - 3``).

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.alignment import cka_debiased
    >>> x = np.random.default_rng(0).normal(size=(50, 5))
    >>> round(cka_debiased(x, 2.0 * x + 1.0), 6)
    1.0
    """
    x, y = _real(x, "x"), _real(y, "y")
    n = x.shape[0]
    if n < 4:
        raise ValueError(f"debiased CKA needs at least 4 stimuli; got {n}.")
    ux, kx = _u_centred_gram(rescaled(center(x)))
    uy, ky = _u_centred_gram(rescaled(center(y)))
    nx, ny = float(np.linalg.norm(ux)), float(np.linalg.norm(uy))
    flat = [name for name, nu, nk in (("x", nx, kx), ("y", ny, ky))
            if not nu > _U_CENTRED_RTOL * nk]
    if flat:
        warnings.warn(
            f"cka_debiased: representation {' and '.join(flat)} has no U-centred Gram "
            "structure (it is constant, or every stimulus but one has the same pattern, "
            "to float64 precision), so debiased CKA is undefined (0 / 0); returning NaN. "
            "Use cka_linear, or check the data for a constant or single-outlier pattern.",
            NeurorepWarning,
            stacklevel=2,
        )
        return float("nan")
    score = float(((ux / nx) * (uy / ny)).sum())
    return float(np.clip(score, -1.0, 1.0))  # a cosine: |score| <= 1 up to rounding


def procrustes_similarity(x: np.ndarray, y: np.ndarray) -> float:
    """1 - the angular Procrustes shape distance / (pi/2) (Williams et al. 2021), in [0, 1].

    Both representations are centred and scaled to unit Frobenius norm; the
    nuclear norm of ``X'Y`` is the cosine of the angle after the best rotation.
    Different widths are handled by the nuclear norm of the cross-product.

    Parameters
    ----------
    x : array-like, shape (n, p)
        One representation: ``n`` stimuli (rows) by ``p`` units.
    y : array-like, shape (n, q)
        The other, ``n`` stimuli in the same order as ``x`` by ``q`` units.

    Returns
    -------
    float
        The similarity in [0, 1] (1: the same shape up to rotation, shift and
        scale); NaN when a representation is constant.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.alignment import procrustes_similarity
    >>> x = np.random.default_rng(0).normal(size=(20, 3))
    >>> q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))
    >>> round(procrustes_similarity(x, 3.0 * x @ q), 6)
    1.0
    """
    x, y = center(_real(x, "x")), center(_real(y, "y"))
    nx, ny = np.linalg.norm(x), np.linalg.norm(y)
    if nx == 0 or ny == 0:
        return float("nan")
    x, y = x / nx, y / ny
    if x.shape[0] < max(x.shape[1], y.shape[1]):
        # wide data: with X' = Qx Rx and Y' = Qy Ry (thin QR), X'Y = Qx (Rx Ry') Qy', so its
        # singular values are those of the small Rx Ry'. (The square roots of the
        # eigenvalues of X X' Y Y' turned rounding in zero eigenvalues into errors of
        # ~1e-8 that changed with the order of stimuli and units.)
        rx = np.asarray(np.linalg.qr(x.T, mode="r"))  # mode="r": R only
        ry = np.asarray(np.linalg.qr(y.T, mode="r"))
        nuc = float(np.linalg.svd(rx @ ry.T, compute_uv=False).sum())
    else:
        nuc = float(np.linalg.svd(x.T @ y, compute_uv=False).sum())
    angle = float(np.arccos(np.clip(nuc, -1.0, 1.0)))
    return 1.0 - angle / (np.pi / 2)
