"""Ridge decompositions and the chunk kernels that score every alpha at once.

One decomposition per fold serves every alpha and every unit. Each solver in
:data:`SOLVERS` turns the (centred) training features of a fold into

* ``lam`` -- the non-zero eigenvalues of ``X_train^T X_train`` (== of the
  linear kernel ``X_train X_train^T``), ``(k,)`` float64;
* ``F`` -- a ``(feature, k)`` basis such that the ridge weights for any alpha
  are ``W_alpha = F diag(1 / (lam + alpha)) B`` with ``B`` ``(k, unit)``;
* how to get ``B`` from the responses: ``B = M^T Y_train`` (``M`` stored,
  ``mode="direct"``) or, for ``mode="gram"``, ``B = F^T X_train^T Y_train``
  computed from one ``X^T Y`` for all folds.

Held-out predictions for alpha are then ``A diag(1 / (lam + alpha)) B`` with
``A = X_test F`` ``(n_test, k)``: every matrix product has inner dimension
``k = rank(X_train) <= min(n_train, n_features)`` (PERF.md, "minimum work").
Where a fold has at least ``k`` held-out samples and enough alphas, its scores
are summed in the predictions' own basis instead (:class:`_Rotation`: a QR of
the centred ``A``): per alpha a triangular ``(k, k)`` product and sums over
``k`` rows, not a ``(n_test, k)`` product and sums over ``n_test`` rows.

Solvers
-------
``"eigh"`` (primal)
    float64 eigendecomposition of the ``(feature, feature)`` Gram matrix of
    the training fold; ``B`` comes from one ``X^T Y`` per unit chunk reused by
    every fold and the refit. Default when ``n_train >= n_features``.
``"svd"`` (primal)
    float64 thin SVD of the training fold (the decomposition himalaya uses);
    ``B = (U S)^T Y_train``.
``"kernel"`` (dual)
    float64 eigendecomposition of the ``(sample, sample)`` linear kernel;
    ``B = Q^T Y_train``. Default when ``n_train < n_features``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from neurorep._core.blas import trmm_right_upper
from neurorep._core.parallel import blas_threads, map_tasks, one_blas_thread
from neurorep.encoding._inputs import check_scale

__all__ = ["SOLVERS", "choose_solver", "plan_nbytes"]

_EPS64 = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class _Decomposition:
    """One fold's decomposition (see the module docstring)."""

    lam: np.ndarray  # (k,) float64, descending, > 0
    F: np.ndarray  # (p, k) working dtype
    x_mean: np.ndarray  # (p,) float64 training mean of the (globally centred) features
    mode: str  # "gram" or "direct"
    M: np.ndarray | None = None  # (n_train, k) for mode "direct"
    c: np.ndarray | None = None  # (k,) F^T x_mean for mode "gram"

    @property
    def rank(self) -> int:
        return int(self.lam.shape[0])


@dataclass(frozen=True)
class _Rotation:
    """A fold's held-out predictions in an orthonormal basis of their own span.

    ``A - 1 a_mean^T = Q R`` (float64 Householder QR, ``Q`` completed to an orthonormal
    basis of the ``n_test`` held-out samples): the deviations of alpha's predictions from
    their fold mean are ``Q_k W`` with ``W = R diag(g) B`` ``(k, unit)``, ``R`` upper
    triangular, so with ``D = Q^T Z`` (``Z`` the centred held-out responses) their sums
    over the fold are sums over ``k`` rows instead of ``n_test``::

        P.P = W.W,   P.Z = W.D[:k],   (Z - P).(Z - P) = (D[:k] - W)^2 + D[k:]^2

    each a sum of squares or products taken directly (none is a difference of two of
    the others, which cancels for R^2 near 1). ``R diag(g) B`` is a triangular product
    (half a GEMM's multiply-adds), and ``A^T Y_test`` of the fold's projection is
    ``R^T D[:k] + a_mean s_test^T``.
    """

    qt: np.ndarray  # (n_test, n_test) Q^T, working dtype
    r: np.ndarray  # (k, k) R, upper triangular, Fortran order, working dtype
    a_mean: np.ndarray  # (k,) float64 column means of A
    ext: np.ndarray  # (2, k) [a_mean; c] (c = 0 for mode "direct"), working dtype


@dataclass(frozen=True)
class _Fold:
    train: np.ndarray
    test: np.ndarray
    dec: _Decomposition
    A: np.ndarray  # (n_test, k) = (X_test - x_mean) F
    a_ext: np.ndarray | None = None  # (n_test + 1, k) = [A; c^T] for mode "gram"
    rot: _Rotation | None = None  # scoring in the predictions' own basis (see _rotation)


@dataclass(frozen=True)
class _Plan:
    """Everything the unit-chunk kernels need; built once from the features."""

    X: np.ndarray  # (n, p) working dtype, globally centred
    x_mean: np.ndarray  # (p,) float64 global mean of the raw features
    folds: tuple[_Fold, ...]
    full: _Decomposition  # refit decomposition on every sample
    alphas: np.ndarray  # (n_alpha,) float64
    dtype: np.dtype
    solver: str
    scale: np.ndarray | None = None  # (p,) feature scaling applied (banded ridge)
    meta: dict[str, Any] = field(default_factory=dict)
    fit_intercept: bool = True  # False: nothing is centred, predictions have no intercept

    @property
    def mode(self) -> str:
        return self.full.mode


def _keep(lam: np.ndarray, n: int, p: int) -> np.ndarray:
    """Eigenvalues that are not numerically zero (relative to the largest)."""
    top = float(lam.max()) if lam.size else 0.0
    if top <= 0.0:
        return np.zeros(lam.shape, dtype=bool)
    return lam > top * max(n, p) * _EPS64 * 10


def _decompose_eigh(Xtr: np.ndarray, dtype: np.dtype, center: bool = True) -> _Decomposition:
    x_mean = Xtr.mean(0) if center else np.zeros(Xtr.shape[1])
    Xc = Xtr - x_mean
    gram = Xc.T @ Xc
    lam, V = np.linalg.eigh(gram)
    keep = _keep(lam, *Xtr.shape)
    lam, V = lam[keep][::-1], V[:, keep][:, ::-1]
    F = np.ascontiguousarray(V, dtype=dtype)
    c = (V.T @ x_mean).astype(dtype)
    return _Decomposition(np.ascontiguousarray(lam), F, x_mean, "gram", c=c)


def _decompose_svd(Xtr: np.ndarray, dtype: np.dtype, center: bool = True) -> _Decomposition:
    x_mean = Xtr.mean(0) if center else np.zeros(Xtr.shape[1])
    Xc = Xtr - x_mean
    U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    lam = s**2
    keep = _keep(lam, *Xtr.shape)
    U, s, Vt = U[:, keep], s[keep], Vt[keep]
    F = np.ascontiguousarray(Vt.T, dtype=dtype)
    M = np.ascontiguousarray(U * s, dtype=dtype)
    return _Decomposition(np.ascontiguousarray(s**2), F, x_mean, "direct", M=M)


def _decompose_kernel(Xtr: np.ndarray, dtype: np.dtype, center: bool = True) -> _Decomposition:
    x_mean = Xtr.mean(0) if center else np.zeros(Xtr.shape[1])
    Xc = Xtr - x_mean
    K = Xc @ Xc.T
    lam, Q = np.linalg.eigh(K)
    keep = _keep(lam, *Xtr.shape)
    lam, Q = lam[keep][::-1], Q[:, keep][:, ::-1]
    F = np.ascontiguousarray(Xc.T @ Q, dtype=dtype)
    M = np.ascontiguousarray(Q, dtype=dtype)
    return _Decomposition(np.ascontiguousarray(lam), F, x_mean, "direct", M=M)


#: Named decompositions (see the module docstring); "auto" picks eigh or kernel.
#: Each takes ``(X_train, dtype, center=True)``; ``center=False`` (no intercept) decomposes
#: the raw features.
SOLVERS: dict[str, Callable[..., _Decomposition]] = {
    "eigh": _decompose_eigh,
    "svd": _decompose_svd,
    "kernel": _decompose_kernel,
}


def choose_solver(solver: str, n_train: int, n_features: int) -> str:
    """Resolve ``"auto"``: primal (eigh) when n_train >= n_features, else dual (kernel)."""
    if solver != "auto":
        return solver
    return "eigh" if n_train >= n_features else "kernel"


def plan_nbytes(
    n: int, p: int, splits: Sequence[tuple[np.ndarray, np.ndarray]], *, solver: str, dtype: Any,
    n_alpha: int = 1,
) -> float:
    """Bytes a :func:`build_plan` of these splits holds (plus its largest transient)."""
    item = np.dtype(dtype).itemsize
    n_train_min = min((len(tr) for tr, _ in splits), default=n)
    name = choose_solver(solver, n_train_min, p)

    def one(n_tr: int, n_te: int) -> float:
        k = min(n_tr, p)
        size = p * k + (2 * n_te + 1) * k  # F, A and its extension
        if name != "eigh" or (n_te and n_tr < p + n_te + 1):
            size += n_tr * k  # M (eigh: folds projected directly, see _as_direct)
        if n_te and _rotates(n_te, k, n_alpha):
            size += n_te * n_te + k * k  # Q^T and R (see _Rotation)
        return float(size * item)

    total = float(n * p * (item + 8)) + one(n, 0)
    total += sum(one(len(tr), len(te)) for tr, te in splits)
    if name == "eigh":
        transient = 2 * p * p
    elif name == "kernel":
        transient = 2 * n * n + n * p
    else:
        transient = 2 * n * p + p * min(n, p)
    return total + 8.0 * transient


_SMALL_DECOMPOSITION = 1024  # eigh of a few hundred is 5-10x slower on 2 busy BLAS threads


def build_plan(
    X: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    alphas: np.ndarray,
    solver: str,
    dtype: np.dtype,
    scale: np.ndarray | None = None,
    meta: dict[str, Any] | None = None,
    name: str = "features",
    fit_intercept: bool = True,
) -> _Plan:
    """Decompose every training fold and the full data once (float64), cast to ``dtype``.

    Raises a SchemaError (naming ``name``) when the features are so large or
    so small that their products overflow or underflow in ``dtype``. With
    ``fit_intercept=False`` nothing is centred (the model has no intercept).
    """
    X64 = np.asarray(X, dtype=np.float64)
    if scale is not None:
        X64 = X64 * scale
    x_mean = X64.mean(0) if fit_intercept else np.zeros(X64.shape[1])
    Xg = X64 - x_mean
    n, p = Xg.shape
    if n:
        check_scale(np.abs(Xg).max(0), name=name, dtype=np.dtype(dtype), n=n, n_cols=p,
                    what="feature")
    n_train_min = min((len(tr) for tr, _ in splits), default=n)
    name = choose_solver(solver, n_train_min, p)
    decompose = SOLVERS[name]
    small = (p if name != "kernel" else n) <= _SMALL_DECOMPOSITION

    def one(item: tuple[np.ndarray, np.ndarray] | None) -> _Decomposition | _Fold:
        if small and blas_threads() > 1:  # in order (map_tasks' own tasks have one thread)
            with one_blas_thread():
                return _decompose_item(item)
        return _decompose_item(item)

    def _decompose_item(item: tuple[np.ndarray, np.ndarray] | None) -> _Decomposition | _Fold:
        if item is None:  # the refit on every sample
            return decompose(Xg, dtype, fit_intercept)
        train, test = item
        return _make_fold(Xg, train, test, decompose(Xg[train], dtype, fit_intercept), dtype,
                          len(alphas))

    # every training fold (with its held-out projections) and the refit: small
    # decompositions as parallel-engine tasks on one BLAS thread each, large ones in order
    # on BLAS's threads
    items = [*((np.asarray(tr), np.asarray(te)) for tr, te in splits), None]
    parts = map_tasks(one, items) if small else [one(it) for it in items]
    folds = [f for f in parts[:-1] if isinstance(f, _Fold)]
    full = parts[-1]
    assert isinstance(full, _Decomposition) and len(folds) == len(splits)
    return _Plan(
        X=np.ascontiguousarray(Xg, dtype=dtype),
        x_mean=x_mean,
        folds=tuple(folds),
        full=full,
        alphas=np.asarray(alphas, dtype=np.float64),
        dtype=np.dtype(dtype),
        solver=name,
        scale=scale,
        meta=dict(meta or {}),
        fit_intercept=fit_intercept,
    )


def _rotates(n_te: int, k: int, n_alpha: int) -> bool:
    """Whether scoring a fold in its predictions' basis (:class:`_Rotation`) does fewer
    multiply-adds: ``n_test^2`` once (``Q^T Z``) against, per alpha, ``n_test k`` for
    ``A diag(g) B`` less ``k^2 / 2`` for the triangular ``R diag(g) B`` (counted at half
    its speed: OpenBLAS's TRMM runs at ~55 % of a GEMM's time for half its work)."""
    return n_te >= k > 0 and n_alpha * (n_te * k - 0.55 * k * k) > 1.5 * n_te * n_te


def _rotation(A64: np.ndarray, c: np.ndarray | None, dtype: np.dtype,
              n_alpha: int) -> _Rotation | None:
    """The fold's :class:`_Rotation` from ``A`` in float64, or None where it saves nothing."""
    n_te, k = A64.shape
    if not _rotates(n_te, k, n_alpha):
        return None
    a_mean = A64.mean(0)
    Q, R = np.linalg.qr(A64 - a_mean, mode="complete")
    ext = np.vstack([a_mean, np.zeros(k) if c is None else np.asarray(c, dtype=np.float64)])
    return _Rotation(
        qt=np.ascontiguousarray(Q.T, dtype=dtype),
        r=np.asfortranarray(R[:k], dtype=dtype),
        a_mean=a_mean,
        ext=np.ascontiguousarray(ext, dtype=dtype),
    )


def _as_direct(dec: _Decomposition, Xtr: np.ndarray, dtype: np.dtype) -> _Decomposition:
    """A ``"gram"`` fold as ``"direct"``: ``B = M^T Y_train`` with ``M = (X_train - mean) F``,
    one product of inner dimension ``n_train`` instead of ``n_features + n_test + 1`` (the
    smaller one for the short training folds of a nested inner CV)."""
    M = (Xtr - dec.x_mean) @ dec.F.astype(np.float64)
    return replace(dec, mode="direct", M=np.ascontiguousarray(M, dtype=dtype), c=None)


def _make_fold(
    Xg: np.ndarray, train: np.ndarray, test: np.ndarray, dec: _Decomposition, dtype: np.dtype,
    n_alpha: int,
) -> _Fold:
    """A fold from its training decomposition: the held-out projections ``A`` (and their
    extension and rotation), the decomposition made direct where that is cheaper."""
    p = Xg.shape[1]
    if dec.mode == "gram" and len(train) < p + len(test) + 1:
        dec = _as_direct(dec, Xg[train], dtype)
    A64 = (Xg[test] - dec.x_mean) @ dec.F.astype(np.float64)
    A = np.ascontiguousarray(A64, dtype=dtype)
    a_ext = None
    if dec.mode == "gram":
        assert dec.c is not None
        a_ext = np.ascontiguousarray(np.vstack([A, dec.c[None, :]]), dtype=dtype)
    rot = _rotation(A64, dec.c if dec.mode == "gram" else None, np.dtype(dtype), n_alpha)
    return _Fold(train, test, dec, A, a_ext, rot)


# ----------------------------------------------------------------------------
# chunk kernels (numpy in, numpy out; one unit chunk at a time)
# ----------------------------------------------------------------------------
def center_chunk(
    Y: np.ndarray, dtype: np.dtype, center: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Centre a ``(sample, unit)`` chunk in float64, return it in ``dtype`` and its mean
    (``center=False``: a copy in ``dtype`` and a zero mean)."""
    if not center:
        return np.array(Y, dtype=dtype), np.zeros(Y.shape[1])
    mean = Y.mean(0, dtype=np.float64)
    Yc = np.empty(Y.shape, dtype=dtype)
    ref = mean.astype(Y.dtype) if Y.dtype.kind == "f" else mean
    np.subtract(Y, ref, out=Yc, casting="unsafe")
    return Yc, mean


def _gram_xty(plan: _Plan, Yc: np.ndarray) -> np.ndarray | None:
    if plan.mode != "gram":
        return None
    return plan.X.T @ Yc


def _fold_projection(
    fold: _Fold, Yc: np.ndarray, XtY: np.ndarray | None, s_all: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``B`` (k, m) of one fold and the held-out responses ``(n_test, m)`` (centred globally)."""
    n_te = len(fold.test)
    dec = fold.dec
    if dec.mode == "gram":
        assert XtY is not None and fold.a_ext is not None
        buf = np.empty((n_te + 1, Yc.shape[1]), dtype=Yc.dtype)
        np.take(Yc, fold.test, axis=0, out=buf[:n_te], mode="clip")  # valid indices; "raise" buffers a copy
        buf[n_te] = s_all
        B = dec.F.T @ XtY
        B -= fold.a_ext.T @ buf
        return B, buf[:n_te]
    assert dec.M is not None
    B = dec.M.T @ Yc[fold.train]
    return B, Yc[fold.test]


def cv_scores_chunk(
    plan: _Plan, Yc: np.ndarray, *, XtY: np.ndarray | None = None,
    sums: PooledSums | None = None, sse_only: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Held-out R^2 and Pearson r for every alpha, of the pooled out-of-fold predictions.

    Every fold's test predictions (with their training-mean intercept) are
    pooled with the matching responses and scored once, as scikit-learn's
    ``cross_val_predict`` followed by a score: ``R^2 = 1 - SSE / SST`` with
    the squared errors summed over all held-out samples and ``SST`` around the
    pooled mean, and ``r`` the correlation of the pooled predictions with the
    responses. Unlike a mean of per-fold scores this stays defined (and within
    ``|r| <= 1``, ``R^2 <= 1``) for folds of one or two samples.

    Parameters
    ----------
    Yc : ndarray (sample, unit)
        A globally centred chunk (see :func:`center_chunk`), in ``plan.dtype``.
    sums : PooledSums, optional
        The accumulator to fill (e.g. one that keeps per-fold errors).
    sse_only : bool, optional
        Only the squared errors (what the choice of alpha needs): ``r2`` is
        bit-identical to the full pass, ``r`` is all NaN, and each alpha costs
        one product and one pass over its predictions instead of three.

    Returns
    -------
    r2, r : ndarray (alpha, unit), float64
        NaN where a unit's held-out responses are constant (and ``r`` where
        its predictions are).
    """
    from neurorep._core.colmoments import col_moments  # numba: imported on first use

    n_alpha = len(plan.alphas)
    m = Yc.shape[1]
    dt = Yc.dtype
    acc = PooledSums(n_alpha, m) if sums is None else sums
    if XtY is None:
        XtY = _gram_xty(plan, Yc)
    s_all = Yc.sum(0)
    for fold in plan.folds:
        if fold.rot is not None:
            _rotated_fold(plan, fold, fold.rot, Yc, XtY, s_all, acc, sse_only)
            continue
        n_te = len(fold.test)
        n_tr = len(fold.train)
        B, Yte = _fold_projection(fold, Yc, XtY, s_all)
        # the held-out responses centred on their own mean
        s_te = Yte.sum(0, dtype=np.float64)
        # the training mean (the intercept; 0 without one)
        y_tr = (s_all.astype(np.float64) - s_te) / n_tr if plan.fit_intercept else np.zeros(m)
        y_te = s_te / max(n_te, 1)
        Z = np.empty((n_te, m), dtype=dt)
        np.subtract(Yte, y_te.astype(dt), out=Z)
        acc.add_response_moments(y_tr, y_te - y_tr, col_moments(None, Z)[0], n_te)
        # predictions q = A g B: their mean over the fold from the column mean of A (one
        # small product for every alpha), their deviations from A centred on that mean
        a_mean = fold.A.mean(0, dtype=np.float64)
        Ac = fold.A - a_mean.astype(dt)
        g = 1.0 / (fold.dec.lam[:, None] + plan.alphas[None, :])  # (k, n_alpha) float64
        q_mean = ((a_mean[:, None] * g).T.astype(dt) @ B).astype(np.float64)  # (n_alpha, m)
        m2_q = np.empty((n_alpha, m))
        c_qz = np.empty((n_alpha, m))
        sse = np.empty((n_alpha, m))
        P = np.empty((n_te, m), dtype=dt)
        gd = g.astype(dt)
        if sse_only:
            m2_q.fill(0.0)
            c_qz.fill(0.0)
        for ai in range(n_alpha):
            Ag = Ac * gd[:, ai]
            np.matmul(Ag, B, out=P)  # the deviations of the predictions from their mean
            # P.P, P.Z and the errors' (Z - P) squares, in one pass over P and Z
            mom = col_moments(P, Z, sse_only=sse_only)
            if not sse_only:
                m2_q[ai] = mom[0]
                c_qz[ai] = mom[1]
            sse[ai] = mom[2]
        acc.add_prediction_moments(y_tr, q_mean, m2_q, c_qz, sse)
    r2, r = acc.scores(rel_tol=100 * float(np.finfo(plan.dtype).eps))
    if sse_only:
        r = np.full_like(r2, np.nan)
    return r2, r


def _rotated_fold(
    plan: _Plan, fold: _Fold, rot: _Rotation, Yc: np.ndarray, XtY: np.ndarray | None,
    s_all: np.ndarray, acc: PooledSums, sse_only: bool,
) -> None:
    """One fold of :func:`cv_scores_chunk` scored in its predictions' basis (:class:`_Rotation`)."""
    from neurorep._core.colmoments import col_moments

    dt = Yc.dtype
    n_te, n_tr, m = len(fold.test), len(fold.train), Yc.shape[1]
    dec = fold.dec
    k = dec.rank
    n_alpha = len(plan.alphas)
    Z = np.take(Yc, fold.test, axis=0)  # the held-out responses, centred on their mean below
    s_te = Z.sum(0, dtype=np.float64)
    y_tr = (s_all.astype(np.float64) - s_te) / n_tr if plan.fit_intercept else np.zeros(m)
    y_te = s_te / n_te
    Z -= y_te.astype(dt)
    acc.add_response_moments(y_tr, y_te - y_tr, col_moments(None, Z)[0], n_te)
    D = rot.qt @ Z  # (n_te, m): rows k: are orthogonal to every alpha's predictions
    C = D[:k]
    perp = col_moments(None, D[k:])[0] if n_te > k else np.zeros(m)
    W = np.empty((m, k), dtype=dt, order="F")  # the transposed products, reused
    if dec.mode == "gram":
        assert XtY is not None
        # B = F^T X_train^T Y_train = F^T X^T Y - A^T Y_test - c s^T, A^T Y_test from C
        B = dec.F.T @ XtY
        np.copyto(W, C.T)
        B -= trmm_right_upper(rot.r, W, trans=False).T  # R^T C (GIL released)
        sums = np.empty((2, m), dtype=dt)
        sums[0] = s_te
        sums[1] = s_all
        B -= rot.ext.T @ sums
    else:
        assert dec.M is not None
        B = dec.M.T @ Yc[fold.train]
    g = 1.0 / (dec.lam[:, None] + plan.alphas[None, :])  # (k, n_alpha) float64
    q_mean = ((rot.a_mean[:, None] * g).T.astype(dt) @ B).astype(np.float64)  # (n_alpha, m)
    m2_q = np.zeros((n_alpha, m))
    c_qz = np.zeros((n_alpha, m))
    sse = np.empty((n_alpha, m))
    gd = g.astype(dt)
    Bt = B.T
    for ai in range(n_alpha):
        np.multiply(Bt, gd[:, ai], out=W)  # (diag(g) B)^T
        P = trmm_right_upper(rot.r, W, trans=True).T  # R diag(g) B: the predictions' coordinates
        mom = col_moments(P, C, sse_only=sse_only)
        if not sse_only:
            m2_q[ai] = mom[0]
            c_qz[ai] = mom[1]
        sse[ai] = mom[2] + perp
    acc.add_prediction_moments(y_tr, q_mean, m2_q, c_qz, sse)


class PooledSums:
    """Pooled out-of-fold predictions and responses, scored once (per alpha, unit).

    Each fold adds its held-out responses ``y = z + c`` and predictions ``p = q + c``,
    ``c`` the fold's training mean (the intercept). The pooled means, sums of squared
    deviations and co-deviation are combined fold by fold with the pairwise update of
    Chan, Golub & LeVeque (1979) from each fold's own two-pass moments, never as
    ``sum p^2 - (sum p)^2 / n``: predictions that vary little around a large value
    (an intercept far from 0) kept no digit of their variance in that form, and r came
    out wrong in the third digit and dependent on the sample order.
    """

    def __init__(self, n_alpha: int, m: int, n_folds: int = 0) -> None:
        self.n = 0
        # per-fold sums of squared errors (fold, alpha, unit), kept when n_folds > 0
        self.fold_sse = np.zeros((n_folds, n_alpha, m)) if n_folds else None
        self.fold_n: list[int] = []
        self.mean_y = np.zeros(m)
        self.m2_y = np.zeros(m)
        self.mean_p = np.zeros((n_alpha, m))
        self.m2_p = np.zeros((n_alpha, m))
        self.c_py = np.zeros((n_alpha, m))
        self.sse = np.zeros((n_alpha, m))
        self._fold: tuple[int, int, np.ndarray, np.ndarray] | None = None

    @staticmethod
    def _moments(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = a.astype(np.float64)
        mean = a.mean(0)
        dev = a - mean
        return mean, dev

    def add_responses(self, c: np.ndarray, z: np.ndarray) -> None:
        """A fold's held-out responses, ``z`` centred on the fold's training mean ``c``."""
        n_te = z.shape[0]
        n_prev, n_new = self.n, self.n + n_te
        z_mean, dz = self._moments(z)
        dy = c + z_mean - self.mean_y  # fold mean minus the running mean
        self.mean_y += dy * (n_te / n_new)
        self.m2_y += np.einsum("ij,ij->j", dz, dz) + dy**2 * (n_prev * n_te / n_new)
        self.n = n_new
        self._fold = (n_prev, n_te, dy, dz)
        self.fold_n.append(n_te)

    def add_response_moments(
        self, c: np.ndarray, z_mean: np.ndarray, m2_z: np.ndarray, n_te: int
    ) -> None:
        """A fold's held-out responses from their moments: ``c`` the fold's training mean,
        ``z_mean`` the mean of ``y - c`` over the fold, ``m2_z`` the sum of squared
        deviations from that mean (same update as :meth:`add_responses`)."""
        n_prev, n_new = self.n, self.n + n_te
        dy = c + z_mean - self.mean_y
        self.mean_y += dy * (n_te / n_new)
        self.m2_y += m2_z + dy**2 * (n_prev * n_te / n_new)
        self.n = n_new
        self._fold = (n_prev, n_te, dy, z_mean)
        self.fold_n.append(n_te)

    def add_prediction_moments(
        self,
        c: np.ndarray,
        q_mean: np.ndarray,
        m2_q: np.ndarray,
        c_qz: np.ndarray,
        sse_c: np.ndarray,
    ) -> None:
        """Every alpha's predictions ``q + c`` of the fold (after :meth:`add_response_moments`,
        ``c`` the same training mean) from their moments ``(alpha, unit)``: mean of ``q``, sum of squared deviations,
        co-deviation with the responses, and the sum of squared deviations of the errors
        (``z - q`` around its mean)."""
        assert self._fold is not None
        n_prev, n_te, dy, z_mean = self._fold
        n_new = n_prev + n_te
        dp = c + q_mean - self.mean_p
        w = n_prev * n_te / n_new
        self.mean_p += dp * (n_te / n_new)
        self.m2_p += m2_q + dp**2 * w
        self.c_py += c_qz + dp * dy * w
        fold_sse = sse_c + n_te * (z_mean - q_mean) ** 2
        self.sse += fold_sse
        if self.fold_sse is not None:
            self.fold_sse[len(self.fold_n) - 1] = fold_sse

    def add_predictions(self, ai: int, c: np.ndarray, q: np.ndarray, z: np.ndarray) -> None:
        """The fold's predictions ``q + c`` for alpha ``ai`` (after :meth:`add_responses`)."""
        assert self._fold is not None
        n_prev, n_te, dy, dz = self._fold
        n_new = n_prev + n_te
        q_mean, dq = self._moments(q)
        dp = c + q_mean - self.mean_p[ai]
        w = n_prev * n_te / n_new
        self.mean_p[ai] += dp * (n_te / n_new)
        self.m2_p[ai] += np.einsum("ij,ij->j", dq, dq) + dp**2 * w
        self.c_py[ai] += np.einsum("ij,ij->j", dq, dz) + dp * dy * w
        err = z.astype(np.float64) - q
        sse = np.einsum("ij,ij->j", err, err)
        self.sse[ai] += sse
        if self.fold_sse is not None:
            self.fold_sse[len(self.fold_n) - 1, ai] = sse

    def scores(self, *, rel_tol: float) -> tuple[np.ndarray, np.ndarray]:
        """Pooled R^2 and r, clipped to R^2 <= 1 and |r| <= 1 (round-off only)."""
        n = max(self.n, 1)
        vy, vp, cov = self.m2_y, self.m2_p, self.c_py
        yy = vy + n * self.mean_y**2  # sums of squares: the scale of the rounding
        pp = vp + n * self.mean_p**2
        # the moments are exact to about (rounding of the values)^2: a spread below
        # rel_tol of the values' own size is rounding, not variation
        tol2 = rel_tol**2
        good = vy > tol2 * np.maximum(yy, 1e-300)
        ok = good & (vp > tol2 * np.maximum(pp, 1e-300))
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(good, 1.0 - np.maximum(self.sse, 0.0) / vy, np.nan)
            r = np.where(ok, cov / np.sqrt(vp) / np.sqrt(vy), np.nan)  # vp * vy may overflow
        return r2, np.clip(r, -1.0, 1.0)


def full_projection(plan: _Plan, Yc: np.ndarray, XtY: np.ndarray | None = None) -> np.ndarray:
    """``B`` (k, unit) of the refit decomposition on every sample."""
    dec = plan.full
    if dec.mode == "gram":
        assert dec.c is not None
        if XtY is None:
            XtY = plan.X.T @ Yc
        B = dec.F.T @ XtY
        B -= np.outer(dec.c, Yc.sum(0)).astype(B.dtype)
        return B
    assert dec.M is not None
    return dec.M.T @ Yc


def weights_from_projection(
    dec: _Decomposition, B: np.ndarray, alphas: np.ndarray, alpha_index: np.ndarray
) -> np.ndarray:
    """Ridge weights ``(feature, unit)`` with one alpha per unit.

    ``alpha_index`` indexes ``alphas`` per unit; units with a negative index
    get zero weights. ``B`` is overwritten.
    """
    g = 1.0 / (dec.lam[:, None] + alphas[None, :])  # (k, n_alpha)
    bad = alpha_index < 0
    G = g[:, np.where(bad, 0, alpha_index)].astype(B.dtype)
    G[:, bad] = 0.0
    B *= G
    return dec.F @ B
