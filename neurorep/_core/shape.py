"""Shape metrics, canonical correlations and neighbourhood alignment between two representations.

Every kernel takes ``x`` ``(n, p)`` and ``y`` ``(n, q)`` (rows = stimuli, in the
same order). The shape distances follow netrep (Williams et al. 2021): columns
centred, the narrower representation zero-padded to the wider one's width,
partial whitening with ``alpha``, then the best rotation (or permutation);
they are computed from thin SVDs of the data, never from eigenvalues of a
cross-product, so data with fewer stimuli than units lose no digits. The
public ones are re-exported by :mod:`neurorep.alignment`.
"""

from __future__ import annotations

from math import gcd

import numpy as np

from neurorep._core.errors import check_real

__all__ = [
    "canonical_correlations",
    "cca_similarity",
    "energy_stochastic_distance",
    "gaussian_stochastic_distance",
    "mutual_knn",
    "permutation_distance",
    "pwcca",
    "shape_distance",
    "soft_matching_distance",
    "svcca",
]

# netrep's ``whiten``: eigenvalues of X'X below this are raised to it
EIGVAL_TOL = 1e-7
DISTANCES = ("angular", "euclidean")


def _centred(x: np.ndarray, name: str) -> np.ndarray:
    check_real(x, name=name)
    arr = np.asarray(x, float)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (stimulus, unit) array; got shape {arr.shape}.")
    return arr - arr.mean(0, keepdims=True)


def _pair(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xc, yc = _centred(x, "x"), _centred(y, "y")
    if xc.shape[0] != yc.shape[0]:
        raise ValueError(
            f"x and y must have the same stimuli (rows); got {xc.shape[0]} and {yc.shape[0]}."
        )
    return xc, yc


def _check_distance(distance: str) -> None:
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}; got {distance!r}.")


def _scales(
    s: np.ndarray, alpha: float, width: int, eigval_tol: float
) -> tuple[np.ndarray, np.ndarray]:
    """netrep's ``whiten(X, alpha, preserve_variance=True)`` as a scale per singular
    direction of X (singular values ``s``), X zero-padded to ``width`` columns.

    The eigenvalues of X'X are ``s**2`` and ``width - len(s)`` zeros, each raised to
    ``eigval_tol``; direction ``i`` is scaled by ``alpha + (1 - alpha) / sqrt(lam_i)``,
    and all by one factor that keeps ``sum(lam)``. Returns ``(lam, scale)``.
    """
    lam = np.maximum(s**2, eigval_tol)
    n_zero = width - len(s)  # padded / null directions: eigenvalue 0, raised to the tolerance
    d = alpha + (1 - alpha) * lam**-0.5
    per = lambda v: alpha**2 * v + 2 * alpha * (1 - alpha) * v**0.5 + (1 - alpha) ** 2  # noqa: E731
    total = lam.sum() + n_zero * eigval_tol
    new_var = per(lam).sum() + n_zero * per(eigval_tol)
    return lam, d * np.sqrt(total / new_var)


def _whitener(
    xc: np.ndarray, alpha: float, width: int, eigval_tol: float
) -> tuple[np.ndarray, float]:
    """netrep's whitening matrix ``Z`` (p x p) and ``||X Z||_F``, for n >= p: from the SVD of
    R in X = QR (X'X = R'R), whose singular values are X's to full relative accuracy."""
    r = np.linalg.qr(xc, mode="r")
    _, s, vt = np.linalg.svd(r)
    scale = _scales(s, alpha, width, eigval_tol)[1]
    return (vt.T * scale) @ vt, float(np.linalg.norm(s * scale))


def _whitened_factors(
    xc: np.ndarray, alpha: float, width: int, eigval_tol: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(U, a)`` with the partially whitened data ``X Z = U diag(a) V'`` (thin SVD of X)."""
    u, s, _ = np.linalg.svd(xc, full_matrices=False)
    if alpha > 1 - eigval_tol:  # netrep returns X unchanged
        return u, s
    return u, s * _scales(s, alpha, width, eigval_tol)[1]


def _aligned(xt: np.ndarray, yt: np.ndarray) -> tuple[float, float, float, float]:
    """nuclear norm of Xt'Yt, ||Xt||, ||Yt|| and min_R ||Xt R - Yt||_F (the narrower one
    zero-padded), from the SVD Xt'Yt = A S B': ||Xt A - Yt B||_F computed directly."""
    a, sv, bt = np.linalg.svd(xt.T @ yt, full_matrices=True)
    k = len(sv)
    xr, yr = xt @ a, yt @ bt.T
    sq = float(((xr[:, :k] - yr[:, :k]) ** 2).sum() + (xr[:, k:] ** 2).sum()
               + (yr[:, k:] ** 2).sum())
    return float(sv.sum()), float(np.linalg.norm(xt)), float(np.linalg.norm(yt)), float(np.sqrt(sq))


def shape_distance(
    x: np.ndarray,
    y: np.ndarray,
    *,
    alpha: float = 1.0,
    distance: str = "angular",
    eigval_tol: float = EIGVAL_TOL,
) -> float:
    """Generalised shape distance with partial whitening (Williams et al. 2021; netrep's
    ``LinearMetric(alpha, center_columns=True, zero_pad=True, score_method=distance)``).

    Columns are centred, the narrower representation is zero-padded, each is
    partially whitened, ``phi_alpha(X) = X Z_alpha`` with ``Z_alpha = V diag(alpha +
    (1 - alpha) lam**-1/2) V'`` (``X'X = V diag(lam) V'``, ``lam`` raised to
    ``eigval_tol``) rescaled to keep the total variance, and aligned by the best
    rotation. ``alpha = 1`` is Procrustes, ``alpha = 0`` whitens fully (CCA-like:
    invariant to any invertible linear map).

    Parameters
    ----------
    x : array-like, shape (n, p)
        One representation; rows are stimuli.
    y : array-like, shape (n, q)
        The other, rows in the same stimulus order.
    alpha : float
        Whitening, 0 (full, CCA) to 1 (none, Procrustes).
    distance : {"angular", "euclidean"}
        ``"angular"``: ``arccos(||Xw'Yw||_* / (||Xw||_F ||Yw||_F))`` in radians;
        ``"euclidean"``: ``min_R ||Xw - Yw R||_F`` (in the units of the data).
    eigval_tol : float
        Floor of the eigenvalues of X'X (netrep's default 1e-7).

    Returns
    -------
    float
        The distance (0 for identical shapes).

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.alignment import shape_distance
    >>> x = np.random.default_rng(0).normal(size=(30, 4))
    >>> q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(4, 4)))
    >>> round(shape_distance(x, x @ q + 3.0), 6)
    0.0
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be between 0 and 1; got {alpha!r}.")
    _check_distance(distance)
    xc, yc = _pair(x, y)
    return _shape_distance(xc, yc, alpha, distance, eigval_tol, max(xc.shape[1], yc.shape[1]))


def _shape_distance(
    xc: np.ndarray, yc: np.ndarray, alpha: float, distance: str, eigval_tol: float, width: int
) -> float:
    """:func:`shape_distance` of centred data zero-padded to ``width`` units: ``xc`` or
    ``yc`` may be a stand-in with fewer columns (the same Gram matrix) for a representation
    of ``width`` units or fewer; the distance is invariant to that rotation of its units."""
    n = xc.shape[0]
    if distance == "angular" and n >= width:
        return _angular_in_unit_space(xc, yc, alpha, width, eigval_tol)
    if distance == "angular" and alpha > 1 - eigval_tol:
        # n < width, no whitening: X' = Qx Rx, Y' = Qy Ry (thin QR), so X'Y = Qx (Rx Ry') Qy'
        # has the singular values of the n x n matrix Rx Ry'
        rx, ry = (np.asarray(np.linalg.qr(a.T, mode="r")) for a in (xc, yc))
        nuc = float(np.linalg.svd(rx @ ry.T, compute_uv=False).sum())
        nx, ny = float(np.linalg.norm(xc)), float(np.linalg.norm(yc))
        if nx == 0 or ny == 0:
            return float("nan")
        return float(np.arccos(np.clip(nuc / (nx * ny), -1.0, 1.0)))
    if n >= width:  # netrep's route, the whitening from R (X = QR) rather than X'X
        if alpha > 1 - eigval_tol:
            nuc, nx, ny, euclid = _aligned(xc, yc)
        else:
            nuc, nx, ny, euclid = _aligned(*(a @ _whitener(a, alpha, width, eigval_tol)[0]
                                             for a in (xc, yc)))
    else:
        ux, ax = _whitened_factors(xc, alpha, width, eigval_tol)
        uy, ay = _whitened_factors(yc, alpha, width, eigval_tol)
        nuc, nx, ny, euclid = _aligned(ux * ax, uy * ay)
    if distance == "euclidean":
        return euclid
    if nx == 0 or ny == 0:
        return float("nan")
    return float(np.arccos(np.clip(nuc / (nx * ny), -1.0, 1.0)))


def _angular_in_unit_space(
    xc: np.ndarray, yc: np.ndarray, alpha: float, width: int, eigval_tol: float
) -> float:
    """The angular distance from ``Zx (X'Y) Zy`` (p x q), for as many stimuli as units or more:
    one cross-product of the data and two small decompositions, no n x p rotations."""
    cross = xc.T @ yc
    if alpha > 1 - eigval_tol:
        nx, ny = float(np.linalg.norm(xc)), float(np.linalg.norm(yc))
    else:
        (zx, nx), (zy, ny) = (_whitener(a, alpha, width, eigval_tol) for a in (xc, yc))
        cross = zx @ cross @ zy
    if nx == 0 or ny == 0:
        return float("nan")
    nuc = float(np.linalg.svd(cross, compute_uv=False).sum())
    return float(np.arccos(np.clip(nuc / (nx * ny), -1.0, 1.0)))


def _assignment(xc: np.ndarray, yc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from scipy.optimize import linear_sum_assignment

    p, q = xc.shape[1], yc.shape[1]
    width = max(p, q)
    cross = np.zeros((width, width))
    cross[:p, :q] = xc.T @ yc
    return linear_sum_assignment(cross, maximize=True)


def permutation_distance(x: np.ndarray, y: np.ndarray, *, distance: str = "angular") -> float:
    """Shape distance after the best permutation of units (netrep's ``PermutationMetric``).

    Columns are centred, the narrower representation zero-padded, and units are
    matched one to one by maximising ``tr(P' X'Y)`` (``linear_sum_assignment``).

    Parameters
    ----------
    x : array-like, shape (n, p)
        One representation: ``n`` stimuli (rows) by ``p`` units.
    y : array-like, shape (n, q)
        The other, ``n`` stimuli in the same order as ``x`` by ``q`` units.
    distance : {"angular", "euclidean"}, optional
        ``arccos(<X P, Y>_F / (||X||_F ||Y||_F))`` or ``||X P - Y||_F``.

    Returns
    -------
    float
        The distance.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.alignment import permutation_distance
    >>> x = np.random.default_rng(0).normal(size=(30, 4))
    >>> round(permutation_distance(x, x[:, [2, 0, 3, 1]]), 6)
    0.0
    """
    _check_distance(distance)
    xc, yc = _pair(x, y)
    rows, cols = _assignment(xc, yc)
    width = max(xc.shape[1], yc.shape[1])
    xp = np.zeros((xc.shape[0], width))
    yp = np.zeros((yc.shape[0], width))
    xp[:, : xc.shape[1]] = xc
    yp[:, : yc.shape[1]] = yc
    xa, ya = xp[:, rows], yp[:, cols]
    if distance == "euclidean":
        return float(np.linalg.norm(xa - ya))
    norm = float(np.linalg.norm(xc) * np.linalg.norm(yc))
    if norm == 0:
        return float("nan")
    return float(np.arccos(np.clip(float((xa * ya).sum()) / norm, -1.0, 1.0)))


def soft_matching_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Soft-matching distance (Khosla & Williams 2023): optimal transport between units.

    With ``x_i`` and ``y_j`` the centred tuning curves (columns) of the ``p`` and
    ``q`` units, ``d(X, Y)**2 = min_P sum_ij P_ij ||x_i - y_j||**2`` over transport
    plans ``P >= 0`` with rows summing to ``1/p`` and columns to ``1/q``. With
    ``p == q`` the optimum is a permutation (Birkhoff), so ``d**2`` is the
    permutation Euclidean distance squared over ``p``. Solved exactly: as an
    assignment problem on ``lcm(p, q)`` replicated units when that is at most 600,
    otherwise as a linear programme (HiGHS dual simplex; its plan is an integer
    vertex and the cost is summed from it).

    Parameters
    ----------
    x : array-like, shape (n, p)
        One representation: ``n`` stimuli (rows) by ``p`` units.
    y : array-like, shape (n, q)
        The other, ``n`` stimuli in the same order as ``x`` by ``q`` units.

    Returns
    -------
    float
        The distance ``d`` (units of the data; 0 for the same units in any order).

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.alignment import soft_matching_distance
    >>> x = np.random.default_rng(0).normal(size=(30, 3))
    >>> round(soft_matching_distance(x, x[:, [1, 2, 0, 2, 0, 1]]), 6)  # every unit twice
    0.0
    """
    xc, yc = _pair(x, y)
    p, q = xc.shape[1], yc.shape[1]
    from scipy.spatial.distance import cdist

    cost = cdist(xc.T, yc.T, "sqeuclidean")  # differences first: no cancellation near 0
    if p == 1 or q == 1:  # one unit on a side: every plan is the uniform one
        return float(np.sqrt(cost.mean()))
    big = p * q // gcd(p, q)
    if big <= _ASSIGNMENT_MAX:
        total = _soft_matching_assignment(cost, big)
    else:
        total = _soft_matching_lp(cost)
    return float(np.sqrt(max(total, 0.0)))


# lcm(p, q) up to which soft matching is solved as one assignment problem (O(lcm**3))
_ASSIGNMENT_MAX = 600


def _soft_matching_assignment(cost: np.ndarray, big: int) -> float:
    """With masses 1/p and 1/q, replicate each row big/p times and each column big/q times
    (big = lcm(p, q)): a balanced problem with unit masses, whose optimum is a permutation
    (Birkhoff-von Neumann); solved by ``linear_sum_assignment``."""
    from scipy.optimize import linear_sum_assignment

    p, q = cost.shape
    rows = np.repeat(np.arange(p), big // p)
    cols = np.repeat(np.arange(q), big // q)
    r, c = linear_sum_assignment(cost[np.ix_(rows, cols)])
    return float(cost[rows[r], cols[c]].sum() / big)


def _soft_matching_lp(cost: np.ndarray) -> float:
    """The transport LP with integer marginals (q/g per row, p/g per column, g = gcd),
    solved by HiGHS' dual simplex; its plan is a vertex, i.e. integer, and is rounded."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_array, vstack

    p, q = cost.shape
    g = gcd(p, q)
    ii, jj = np.meshgrid(np.arange(p), np.arange(q), indexing="ij")
    flat = np.arange(p * q)
    a_rows = coo_array((np.ones(p * q), (ii.ravel(), flat)), shape=(p, p * q))
    a_cols = coo_array((np.ones(p * q), (jj.ravel(), flat)), shape=(q, p * q))
    a_eq = vstack([a_rows, a_cols]).tocsr()
    b_eq = np.concatenate([np.full(p, q // g), np.full(q, p // g)]).astype(float)
    res = linprog(cost.ravel(), A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs-ds")
    if res.status != 0:
        raise RuntimeError(f"soft matching: the transport LP failed ({res.message}).")
    plan = np.round(res.x).reshape(p, q)  # a vertex of an integer transport polytope
    if np.abs(plan - res.x.reshape(p, q)).max() > 1e-6:
        plan = res.x.reshape(p, q)
    return float((plan * cost).sum() / (p * q // g))


def _basis(xc: np.ndarray, units: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thin SVD of centred data, trimmed to its numerical rank (numpy's matrix_rank rule);
    ``units``: the number of units of the data ``xc`` stands in for (default its columns)."""
    u, s, vt = np.linalg.svd(xc, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return u[:, :0], s[:0], vt[:0]
    size = max(xc.shape[0], xc.shape[1] if units is None else units)
    r = int((s > s[0] * size * np.finfo(float).eps).sum())
    return u[:, :r], s[:r], vt[:r]


def canonical_correlations(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The canonical correlations of two representations, largest first.

    The cosines of the principal angles between the column spaces of the
    centred ``x`` and ``y`` (Bjorck & Golub 1973): the singular values of
    ``Ux' Uy`` for orthonormal bases ``Ux``, ``Uy`` from thin SVDs, each trimmed
    to its numerical rank; ``min(rank x, rank y)`` values. With fewer stimuli
    than units the spaces overlap and many are 1.

    Parameters
    ----------
    x : array-like, shape (n, p)
        One representation: ``n`` stimuli (rows) by ``p`` units.
    y : array-like, shape (n, q)
        The other, ``n`` stimuli in the same order as ``x`` by ``q`` units.

    Returns
    -------
    ndarray
        The canonical correlations in [0, 1], descending.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.alignment import canonical_correlations
    >>> x = np.random.default_rng(0).normal(size=(50, 3))
    >>> np.round(canonical_correlations(x, x @ np.diag([1.0, 2.0, -3.0]) + 1.0), 6)
    array([1., 1., 1.])
    """
    xc, yc = _pair(x, y)
    return _canonical_correlations(xc, yc)


def _canonical_correlations(
    xc: np.ndarray, yc: np.ndarray, px: int | None = None, qy: int | None = None
) -> np.ndarray:
    """:func:`canonical_correlations` of centred data; ``px``, ``qy``: the numbers of units
    of the representations ``xc`` and ``yc`` stand in for (default their columns)."""
    ux, _, _ = _basis(xc, px)
    uy, _, _ = _basis(yc, qy)
    return np.clip(np.linalg.svd(ux.T @ uy, compute_uv=False), 0.0, 1.0)


def cca_similarity(x: np.ndarray, y: np.ndarray) -> float:
    """Mean canonical correlation: the mean of :func:`canonical_correlations`.

    Parameters
    ----------
    x : array-like, shape (n, p)
        One representation: ``n`` stimuli (rows) by ``p`` units.
    y : array-like, shape (n, q)
        The other, ``n`` stimuli in the same order as ``x`` by ``q`` units.

    Returns
    -------
    float
        In [0, 1]; NaN when a representation is constant.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.alignment import cca_similarity
    >>> x = np.random.default_rng(0).normal(size=(50, 3))
    >>> round(cca_similarity(x, x @ np.random.default_rng(1).normal(size=(3, 3))), 6)
    1.0
    """
    rho = canonical_correlations(x, y)
    return float(rho.mean()) if rho.size else float("nan")


def _top_directions(xc: np.ndarray, keep: float | int, units: int | None = None) -> np.ndarray:
    """The orthonormal top singular directions ``U_k`` of centred data (SVCCA's first step
    keeps ``U_k S_k``, which spans the same space)."""
    u, s, _ = _basis(xc, units)
    if isinstance(keep, (int, np.integer)) and not isinstance(keep, bool):
        k = min(int(keep), len(s))
    elif len(s):
        rel = s / s[0]  # free of scale: s**2 over- or underflows at 1e+-200
        var = np.cumsum(rel**2) / (rel**2).sum()
        k = min(int(np.searchsorted(var, float(keep) - 1e-12) + 1), len(s))
    else:
        k = 0
    return u[:, :k]


def svcca(x: np.ndarray, y: np.ndarray, *, keep: float | int = 0.99) -> float:
    """SVCCA (Raghu et al. 2017): the mean canonical correlation after an SVD reduction.

    Each centred representation is replaced by its top singular directions
    ``U_k S_k`` -- the fewest that explain a fraction ``keep`` of its variance
    (a float), or ``keep`` of them (an int) -- and the mean canonical correlation
    of the two reduced representations is returned.

    Parameters
    ----------
    x : array-like, shape (n, p)
        One representation: ``n`` stimuli (rows) by ``p`` units.
    y : array-like, shape (n, q)
        The other, ``n`` stimuli in the same order as ``x`` by ``q`` units.
    keep : float or int
        Fraction of variance (0 < keep <= 1; Raghu et al. keep 0.99) or a number
        of directions.

    Returns
    -------
    float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.alignment import svcca
    >>> x = np.random.default_rng(0).normal(size=(60, 5))
    >>> round(svcca(x, x @ np.random.default_rng(1).normal(size=(5, 8))), 6)
    1.0
    """
    if isinstance(keep, bool) or not (
        (isinstance(keep, (int, np.integer)) and keep >= 1)
        or (isinstance(keep, float) and 0.0 < keep <= 1.0)
    ):
        raise ValueError(
            f"keep must be a fraction of variance in (0, 1] or a number of directions >= 1; "
            f"got {keep!r}."
        )
    xc, yc = _pair(x, y)
    return _svcca(xc, yc, keep)


def _svcca(
    xc: np.ndarray, yc: np.ndarray, keep: float | int, px: int | None = None,
    qy: int | None = None
) -> float:
    """:func:`svcca` of centred data (``keep`` checked); ``px``, ``qy`` as in
    :func:`_canonical_correlations`."""
    ux, uy = _top_directions(xc, keep, px), _top_directions(yc, keep, qy)
    if ux.shape[1] == 0 or uy.shape[1] == 0:
        return float("nan")
    # the reduced data U_k S_k spans U_k: its canonical correlations are those of U_k' U_k
    return float(np.clip(np.linalg.svd(ux.T @ uy, compute_uv=False), 0.0, 1.0).mean())


def pwcca(x: np.ndarray, y: np.ndarray) -> float:
    """Projection-weighted CCA (Morcos et al. 2018).

    With canonical correlations ``rho_i`` and the unit-norm canonical variates
    ``h_i`` (stimulus-space vectors) of the representation with fewer units
    (``x`` on a tie, as Google's svcca code), each correlation is weighted by
    how much of that representation it accounts for,
    ``w_i = sum_j |<h_i, x_j>|`` over its centred unit columns ``x_j``:
    ``PWCCA = sum_i w_i rho_i / sum_i w_i``. Tied canonical correlations (for
    example several equal to 1 when the centred column spaces must intersect,
    ``n - 1 < p + q``) have
    canonical variates that are any basis of their span: their weights, and so
    the score, then depend on the basis the SVD returns.

    Parameters
    ----------
    x : array-like, shape (n, p)
        One representation: ``n`` stimuli (rows) by ``p`` units.
    y : array-like, shape (n, q)
        The other, ``n`` stimuli in the same order as ``x`` by ``q`` units.

    Returns
    -------
    float
        In [0, 1]; NaN when a representation is constant.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.alignment import pwcca
    >>> x = np.random.default_rng(0).normal(size=(50, 3))
    >>> round(pwcca(x, 2.0 * x + 1.0), 6)
    1.0
    """
    xc, yc = _pair(x, y)
    _, _, rho, w = pwcca_variates(xc, yc)
    return pwcca_from_weights(rho, w)


def pwcca_variates(
    xc: np.ndarray, yc: np.ndarray, px: int | None = None, qy: int | None = None
) -> tuple[bool, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """PWCCA's parts for centred data: ``(swapped, h, rho, w)``: whether ``y`` is the
    narrower representation (fewer units; ``x`` on a tie), the unit-norm canonical variates
    ``h`` ``(n, r)`` of the narrower one, the canonical correlations ``rho`` and the
    weights ``w_i = sum_j |<h_i, x_j>|`` over the columns of the narrower one's data (None
    when a representation is constant). ``px``, ``qy``: the numbers of units ``xc``, ``yc``
    stand in for (default their columns); a stand-in's columns are not its units, so its
    ``w`` is meaningless and the weights come from its units (``sum_j |x_j' h|``)."""
    px = xc.shape[1] if px is None else px
    qy = yc.shape[1] if qy is None else qy
    swapped = px > qy
    if swapped:
        xc, yc, px, qy = yc, xc, qy, px
    ux, sx, vtx = _basis(xc, px)
    uy, _, _ = _basis(yc, qy)
    if ux.shape[1] == 0 or uy.shape[1] == 0:
        return swapped, None, None, None
    a, rho, _ = np.linalg.svd(ux.T @ uy, full_matrices=False)
    a = a[:, : len(rho)]
    # canonical variates h_i = Ux a_i; <h_i, x_j> = (X' h_i)_j = (V S a_i)_j
    w = np.abs((vtx.T * sx) @ a).sum(0)
    return swapped, ux @ a, rho, w


def pwcca_from_weights(rho: np.ndarray | None, w: np.ndarray | None) -> float:
    """``sum_i w_i rho_i / sum_i w_i`` in [0, 1] (NaN for None: a constant representation)."""
    if rho is None or w is None:
        return float("nan")
    return float(np.clip((w * rho).sum() / w.sum(), 0.0, 1.0))


def knn_mask(x: np.ndarray, k: int) -> np.ndarray:
    """``(n, n)`` boolean: row ``i`` marks its ``k`` nearest other rows by cosine similarity
    (rows L2-normalised; a zero row stays zero), ties broken by the lower row index.

    The k-th largest similarity of each row is found by partition (O(n) per row, not a
    sort); every row above it is a neighbour, and the rows equal to it fill the rest in
    index order.
    """
    arr = np.asarray(x, float)
    peak = float(np.abs(arr).max()) if arr.size else 0.0
    e = int(np.frexp(peak)[1]) if np.isfinite(peak) and peak > 0 else 0
    if abs(e) > 64:  # exact: Gram products neither overflow (1e200) nor underflow
        arr = np.ldexp(arr, -e)
    return knn_mask_from_gram(arr @ arr.T, k)


def knn_mask_from_gram(gram: np.ndarray, k: int) -> np.ndarray:
    """:func:`knn_mask` from the rows' Gram matrix ``X X'`` (any positive scale): the
    cosine similarity ``G_ij / sqrt(G_ii G_jj)`` (0 with a zero row). The same Gram matrix
    gives the same neighbours, ties included (integer data: exact in any summation order)."""
    g = np.asarray(gram, float)
    norms = np.sqrt(np.maximum(np.diag(g), 0.0))
    outer = norms[:, None] * norms[None, :]
    sim = np.divide(g, outer, out=np.zeros_like(g), where=outer > 0)
    np.fill_diagonal(sim, -np.inf)
    n = sim.shape[0]
    kth = -np.partition(-sim, k - 1, axis=1)[:, k - 1 : k]
    above = sim > kth
    tied = sim == kth
    room = k - above.sum(1, keepdims=True)
    return above | (tied & (np.cumsum(tied, axis=1) <= room)) if n else above


def mutual_knn(x: np.ndarray, y: np.ndarray, *, k: int = 10) -> float:
    """Mutual k-nearest-neighbour alignment (Huh et al. 2024, platonic-rep's ``mutual_knn``).

    Rows (stimuli) are L2-normalised (not centred); each stimulus' ``k`` nearest
    other stimuli by cosine similarity are found in each representation, and the
    score is the mean over stimuli of the fraction of neighbours the two share,
    ``mean_i |N_x(i) & N_y(i)| / k``. Ties in similarity go to the lower stimulus
    index (platonic-rep leaves them to torch's unstable sort).

    Parameters
    ----------
    x : array-like, shape (n, p)
        One representation: ``n`` stimuli (rows) by ``p`` units.
    y : array-like, shape (n, q)
        The other, ``n`` stimuli in the same order as ``x`` by ``q`` units.
    k : int
        Neighbours per stimulus (platonic-rep's default ``topk=10``); ``k < n``.

    Returns
    -------
    float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.alignment import mutual_knn
    >>> x = np.random.default_rng(0).normal(size=(40, 6))
    >>> mutual_knn(x, 3.0 * x, k=5)
    1.0
    """
    check_real(x, name="x")
    check_real(y, name="y")
    x, y = np.asarray(x, float), np.asarray(y, float)
    n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"x and y must have the same stimuli (rows); got {n} and {y.shape[0]}.")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < n:
        raise ValueError(f"k must be an integer with 1 <= k < n_stimuli = {n}; got {k!r}.")
    shared = np.logical_and(knn_mask(x, k), knn_mask(y, k)).sum(1)
    return float(shared.mean() / k)


def _psd_sqrt(c: np.ndarray) -> np.ndarray:
    """Symmetric square roots of a stack of covariance matrices (eigenvalues clipped at 0)."""
    w, v = np.linalg.eigh(c)
    return np.einsum("...ij,...j,...kj->...ik", v, np.sqrt(np.maximum(w, 0.0)), v)


def _rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The orthogonal R minimising ||a R - b||_F (orthogonal Procrustes: R = U V' for
    a'b = U S V')."""
    u, _, vt = np.linalg.svd(a.T @ b)
    return u @ vt


def _sq_bures(a: np.ndarray, b: np.ndarray) -> float:
    """Squared Bures distance tr A + tr B - 2 ||A^1/2 B^1/2||_* of two covariance matrices."""
    ra, rb = _psd_sqrt(a), _psd_sqrt(b)
    return float(np.trace(a) + np.trace(b) - 2 * np.linalg.svd(ra @ rb, compute_uv=False).sum())


def gaussian_stochastic_distance(
    means_x: np.ndarray,
    covs_x: np.ndarray,
    means_y: np.ndarray,
    covs_y: np.ndarray,
    *,
    alpha: float = 1.0,
    niter: int = 1000,
    tol: float = 1e-8,
) -> float:
    """Gaussian stochastic shape distance (Duong et al. 2023; netrep's
    ``GaussianStochasticMetric(alpha, group="orth", init="means")``).

    Each stimulus' response is a Gaussian with mean ``m_i`` and covariance
    ``S_i``. With one rotation ``T`` applied to ``y``,

    ``d**2 = min_T mean_i [alpha ||m_x,i - T' m_y,i||**2 + (2 - alpha) B(S_x,i, T' S_y,i T)**2]``

    with ``B`` the Bures distance (``alpha = 1``: the 2-Wasserstein distance
    between the Gaussians; 2: means only; 0: covariances only). ``T`` is found as
    netrep does: started at the Procrustes rotation of the means, then alternately
    the per-stimulus rotations of the covariance square roots and ``T`` are
    refitted (at most ``niter`` rounds, until the loss falls by less than ``tol``).
    No centring; the narrower representation is zero-padded.

    Parameters
    ----------
    means_x : array-like, shape (n, p)
        The mean response of each of ``n`` stimuli over ``p`` units of one
        representation.
    covs_x : array-like, shape (n, p, p)
        Each stimulus' covariance over repetitions (zeros for a deterministic
        representation).
    means_y : array-like, shape (n, q)
        The other representation's means, stimuli in the same order.
    covs_y : array-like, shape (n, q, q)
        The other representation's covariances.
    alpha : float, optional
        0 (covariances only) to 2 (means only); 1 (default) is the
        2-Wasserstein distance.
    niter : int, optional
        The alternating fit's most rounds (default 1000, netrep's).
    tol : float, optional
        The alternating fit stops when the loss falls by less (default 1e-8).

    Returns
    -------
    float
        The distance (``sign(d**2) sqrt(|d**2|)``, as netrep, against rounding).

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.alignment import gaussian_stochastic_distance
    >>> g = np.random.default_rng(0)
    >>> m = g.normal(size=(10, 3))
    >>> c = np.stack([np.eye(3)] * 10)
    >>> q, _ = np.linalg.qr(g.normal(size=(3, 3)))
    >>> round(gaussian_stochastic_distance(m, c, m @ q, c), 6)
    0.0
    """
    if not 0.0 <= alpha <= 2.0:
        raise ValueError(f"alpha must be between 0 and 2; got {alpha!r}.")
    mx, my = np.asarray(means_x, float), np.asarray(means_y, float)
    cx, cy = np.asarray(covs_x, float), np.asarray(covs_y, float)
    for name, m, c in (("x", mx, cx), ("y", my, cy)):
        check_real(m, name=f"means_{name}")
        if m.ndim != 2 or c.shape != (m.shape[0], m.shape[1], m.shape[1]):
            raise ValueError(
                f"means_{name} must be (n, p) and covs_{name} (n, p, p); got {m.shape} and "
                f"{c.shape}."
            )
    if mx.shape[0] != my.shape[0]:
        raise ValueError(f"x and y must have the same stimuli; got {mx.shape[0]} and {my.shape[0]}.")
    w = max(mx.shape[1], my.shape[1])

    def pad(m: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = w - m.shape[1]
        return np.pad(m, ((0, 0), (0, k))), np.pad(c, ((0, 0), (0, k), (0, k)))

    (mx, cx), (my, cy) = pad(mx, cx), pad(my, cy)
    sx, sy = _psd_sqrt(cx), _psd_sqrt(cy)
    t = _rotation(my, mx)
    a = np.concatenate([alpha * mx] + [(2 - alpha) * s for s in sx])
    losses: list[float] = []
    for i in range(niter):
        qs = [_rotation(t.T @ s_y, s_x) for s_x, s_y in zip(sx, sy, strict=True)]
        b = np.concatenate([alpha * my] + [q.T @ ((2 - alpha) * s) for q, s in zip(qs, sy, strict=True)])
        t = _rotation(b, a)
        losses.append(float(np.linalg.norm(a - b @ t)))
        if i >= 2 and losses[-2] - losses[-1] < tol:
            break
    my_t = my @ t
    cy_t = np.einsum("ijk,jl,kp->ilp", cy, t, t)
    mean_term = ((mx - my_t) ** 2).sum(1)
    bures = np.array([_sq_bures(p, q) for p, q in zip(cx, cy_t, strict=True)])
    mn = float(np.mean(alpha * mean_term + (2 - alpha) * bures))
    return float(np.sign(mn) * np.sqrt(abs(mn)))


_PAIR_CHUNK = 1 << 22  # float64 differences formed at once by _pair_distances (32 MB)


def _pair_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``||x[i, a] - y[i, b]||`` for every stimulus ``i`` and repetitions ``a``, ``b``:
    ``(n, r_x, r_y)``, from explicit differences (no cancellation), stimuli in chunks."""
    n, rx, p = x.shape
    ry = y.shape[1]
    out = np.empty((n, rx, ry))
    step = max(1, _PAIR_CHUNK // max(rx * ry * p, 1))
    for s in range(0, n, step):
        d = x[s : s + step, :, None, :] - y[s : s + step, None, :, :]
        out[s : s + step] = np.sqrt(np.einsum("iabp,iabp->iab", d, d))
    return out


def _within(x: np.ndarray) -> float:
    """Mean over stimuli of the mean distance between two different repetitions (0 with
    one repetition: a point mass)."""
    r = x.shape[1]
    if r < 2:
        return 0.0
    a, b = np.triu_indices(r, 1)
    return float(_pair_distances(x, x)[:, a, b].mean())


def energy_stochastic_distance(
    x: np.ndarray, y: np.ndarray, *, niter: int = 100, tol: float = 1e-6
) -> float:
    """Energy-distance stochastic shape distance (Duong et al. 2023; netrep's
    ``EnergyStochasticMetric(group="orth")``).

    Each stimulus' responses over repetitions are samples of a distribution;
    with one rotation ``Q`` applied to ``y`` (fitted as netrep does: iteratively
    reweighted Procrustes on every pair of repetitions ``(a, b)`` of the same
    stimulus, minimising ``mean ||x_ia - y_ib Q||``, at most ``niter`` rounds
    until the mean falls by less than ``tol``), the distance is

    ``d**2 = max(0, E_xy - (E_xx + E_yy) / 2)``

    with ``E_xy = mean_i mean_{a, b} ||x_ia - y_ib Q||``, ``E_xx = mean_i
    mean_{a < b} ||x_ia - x_ib||`` and ``E_yy`` alike: the mean over stimuli of
    half the energy distance of Székely & Rizzo. No centring; the narrower
    representation is zero-padded. netrep needs equal repetition counts; here
    ``x`` and ``y`` may differ (all ``r_x * r_y`` pairs), and a representation
    with one repetition (a deterministic model layer) has ``E = 0``.

    Parameters
    ----------
    x : array-like, shape (n, r_x, p)
        Responses of ``n`` stimuli in ``r_x`` repetitions over ``p`` units.
    y : array-like, shape (n, r_y, q)
        The other representation's responses, stimuli in the same order.
    niter : int, optional
        The reweighting's most rounds (default 100, netrep's).
    tol : float, optional
        It stops when the mean distance falls by less (default 1e-6, netrep's).

    Returns
    -------
    float
        The distance ``d`` (>= 0).

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.alignment import energy_stochastic_distance
    >>> g = np.random.default_rng(0)
    >>> x = g.normal(size=(10, 4, 3))
    >>> q, _ = np.linalg.qr(g.normal(size=(3, 3)))
    >>> round(energy_stochastic_distance(x, x @ q), 6)
    0.0
    """
    xa, ya = np.asarray(x), np.asarray(y)
    for name, a in (("x", xa), ("y", ya)):
        check_real(a, name=name)
        if a.ndim != 3 or 0 in a.shape:
            raise ValueError(
                f"{name} must be (stimulus, repetition, unit) with no empty axis; got shape "
                f"{a.shape}. A layer without repetitions is x[:, None, :]."
            )
    if xa.shape[0] != ya.shape[0]:
        raise ValueError(f"x and y must have the same stimuli; got {xa.shape[0]} and {ya.shape[0]}.")
    if isinstance(niter, bool) or not isinstance(niter, (int, np.integer)) or niter < 1:
        raise ValueError(f"niter must be a positive integer; got {niter!r}.")
    w = max(xa.shape[2], ya.shape[2])
    xf = np.pad(xa.astype(float), ((0, 0), (0, 0), (0, w - xa.shape[2])))
    yf = np.pad(ya.astype(float), ((0, 0), (0, 0), (0, w - ya.shape[2])))
    weights = np.ones((xf.shape[0], xf.shape[1], yf.shape[1]))
    losses = [float(_pair_distances(xf, yf).mean())]
    q = np.eye(w)
    for _ in range(int(niter)):
        # Procrustes of the weighted pair rows: (w y_b)' (w x_a) summed over pairs
        u, _, vt = np.linalg.svd(np.einsum("iab,ibp,iaq->pq", weights**2, yf, xf))
        q = u @ vt
        resid = _pair_distances(xf, yf @ q)
        losses.append(float(resid.mean()))
        weights = 1.0 / np.maximum(np.sqrt(resid), 1e-6)
        if losses[-2] - losses[-1] < tol:
            break
    cross = float(_pair_distances(xf, yf @ q).mean())
    return float(np.sqrt(max(0.0, cross - 0.5 * (_within(xf) + _within(yf)))))
