"""Noise-weighted RDMs (mahalanobis with an estimated noise, crossnobis) of dask-backed
responses ``(stimulus, repetition, unit)`` chunked along units, never gathered.

Every quantity these RDMs need lives in stimulus space. With the run residuals
``E`` (``m = n_stimulus * n_run`` rows) and the patterns ``X`` (the stimulus
means for mahalanobis; the run sum and each run for crossnobis), the
estimated noise covariance of each method of :data:`neurorep.rsa.NOISE_METHODS`
is a diagonal ``A`` plus a low-rank term:

* ``diag``: ``A = diag(var)``;
* ``shrinkage_diag`` (Schaefer & Strimmer): ``(1 - l) E'E / dof + l diag(var)``;
* ``shrinkage_eye`` (Ledoit & Wolf): ``a I + c E'E``.

The Woodbury identity turns ``X inv(A + c E'E) X'`` into ``X A^-1 X' - X A^-1 E'
(I / c + E A^-1 E')^-1 E A^-1 X'``: one Gram matrix of the stacked rows ``[X; E]``
weighted by ``A^-1`` (a vector over units), summed over unit chunks with
:func:`neurorep._core.parallel.sum_over_chunks`, then an ``m x m`` solve. The
shrinkage intensities are sums of the same Gram matrix and of per-unit
moments. Memory is one unit chunk plus ``(q + m)^2`` numbers (``q`` pattern
rows), whatever the number of units; a per-unit residual variance pass comes
first. The ``(unit, unit)`` matrix is never formed. ``full`` (the unshrunk
sample covariance, singular when units outnumber the residual dof) has no
such form and is refused for dask input with the ways out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurorep._core.errors import SchemaError
from neurorep._core.parallel import sum_over_chunks

__all__ = ["FULL_REFUSAL", "cube_rdm_kernel", "unit_residual_variance"]

FULL_REFUSAL = (
    "{name}: noise='full' (the unshrunk sample covariance over units) cannot be estimated "
    "from dask-backed responses without gathering all {p} units into a ({p} x {p}) matrix, "
    "which is singular whenever units outnumber the residual dof ({dof}). Use "
    "noise='shrinkage_diag' or 'shrinkage_eye' (computed chunk by chunk in stimulus space), "
    "noise='diag' (univariate noise normalisation), or select a smaller ROI and load it "
    "into memory (responses.isel(unit=...).compute())."
)


def _ldexp(block: np.ndarray, e: int) -> np.ndarray:
    return np.ldexp(np.asarray(block, dtype=np.float64), e)


def as_cube(data: Any, e: int) -> Any:
    """The dask cube as float64 with one chunk over stimuli and repetitions, divided by
    ``2**e`` (exact) when ``e``."""
    x = data.astype(np.float64).rechunk({0: -1, 1: -1})
    return x.map_blocks(_ldexp, -e, dtype=np.float64) if e else x


def _residual_moments(block: np.ndarray) -> np.ndarray:
    """``(2, units)``: residual sum of squares and largest |residual| of each unit."""
    y = np.asarray(block, dtype=np.float64)
    res = y - y.mean(axis=1, keepdims=True)
    return np.stack([(res * res).sum(axis=(0, 1)), np.abs(res).max(axis=(0, 1))])


def unit_residual_variance(cube: Any, name: str) -> np.ndarray:
    """Per-unit residual variance (``dof = n_stimulus * (n_run - 1)``), chunk by chunk;
    units without residual variance refused as the in-memory estimators refuse them."""
    n, n_run, _ = cube.shape
    out = np.asarray(cube.map_blocks(
        _residual_moments, drop_axis=[0, 1], new_axis=0, chunks=((2,), cube.chunks[2]),
        dtype=np.float64, meta=np.empty((0, 0)),
    ).compute())
    zero = np.flatnonzero(~(out[1] > 0))
    if zero.size:
        raise SchemaError(
            f"noise precision: some units have zero residual variance (the same response in "
            f"every run once each stimulus' mean is removed), e.g. unit position "
            f"{int(zero[0])}; drop those units (responses.isel(unit=...)) or use noise=None."
        )
    return out[0] / (n * (n_run - 1))


def _stats(block: np.ndarray, weight: np.ndarray, n: int, n_run: int, metric: str,
           residuals: bool) -> np.ndarray:
    """One unit chunk's terms, packed flat: the weighted Gram matrix of ``[X; E]``, the
    row sums of ``w E^2``, ``sum w^2 E^4`` and ``sum_units (sum_rows w E^2)^2``."""
    y = np.asarray(block, dtype=np.float64).reshape(n, n_run, -1)
    if metric == "crossnobis":
        y = y - y.mean(axis=(0, 1), keepdims=True)
        rows = [y.sum(axis=1), *(y[:, r, :] for r in range(n_run))]
    else:  # mahalanobis: the stimulus means, each unit centred over stimuli
        x = y.mean(axis=1)
        rows = [x - x.mean(axis=0, keepdims=True)]
    if residuals:
        rows.append((y - y.mean(axis=1, keepdims=True)).reshape(n * n_run, -1))
    z = np.concatenate(rows)
    g = (z * weight) @ z.T
    if not residuals:
        return g.ravel()
    e2w = rows[-1] ** 2 * weight
    per_unit = e2w.sum(axis=0)
    return np.concatenate([g.ravel(), e2w.sum(axis=1), [float((e2w**2).sum()),
                                                        float((per_unit**2).sum())]])


def _solve_low_rank(g: np.ndarray, q: int, ratio: float) -> np.ndarray:
    """``G_xx - G_xe (ratio I + G_ee)^-1 G_ex``: the Woodbury form of the patterns' quadratic
    form (``G`` already weighted by the diagonal part's inverse)."""
    import scipy.linalg

    g_xx, g_xe, g_ee = g[:q, :q], g[:q, q:], g[q:, q:]
    inner = g_ee.copy()
    inner[np.diag_indices_from(inner)] += ratio
    return g_xx - g_xe @ scipy.linalg.cho_solve(scipy.linalg.cho_factor(inner), g_xe.T)


def _quadratic_form(cube: Any, metric: str, weight: np.ndarray | None, method: str | None,
                    name: str) -> np.ndarray:
    """``X P X'`` for the patterns ``X`` of ``metric`` and the precision ``P``: given as a
    diagonal ``weight``, or estimated with ``method`` (``weight`` then unused)."""
    n, n_run, p = cube.shape
    q = n * (n_run + 1) if metric == "crossnobis" else n
    m, dof = n * n_run, n * (n_run - 1)
    residuals = method in ("shrinkage_diag", "shrinkage_eye")
    if method is not None:
        var = unit_residual_variance(cube, name)
        weight = 1.0 / var if method in ("diag", "shrinkage_diag") else np.ones(p)
    edges = np.cumsum((0, *cube.chunks[2]))
    per = [(np.ones(b - a) if weight is None else np.asarray(weight[a:b], dtype=np.float64),)
           for a, b in zip(edges[:-1], edges[1:], strict=True)]
    flat = cube.reshape(m, p)
    packed = np.asarray(sum_over_chunks(flat, _stats, per, shared=(n, n_run, metric, residuals)))
    size = (q + m) if residuals else q
    g = packed[: size * size].reshape(size, size)
    g = (g + g.T) / 2.0
    if not residuals:
        return g
    u = packed[size * size : size * size + m]
    s4, s22 = packed[-2], packed[-1]
    g_ee = g[q:, q:]
    frob = float((g_ee * g_ee).sum())
    if method == "shrinkage_diag":  # G weighted by 1 / var: G_ee = Z Z', Z = E / sd
        denom = (frob - s22) / (m - 1) ** 2
        if p == 1 or not denom > 1e-12 * frob / (m - 1) ** 2:
            # no off-diagonal covariance (one unit, uncorrelated units): the diagonal
            return g[:q, :q]
        var_hat = m / dof**2 * ((float(u @ u) - s4) / (m - 1) - denom)
        lamb = max(min(var_hat / denom, 1.0), 0.0)
        if lamb == 1.0:
            return g[:q, :q]
        if lamb == 0.0:
            raise SchemaError(
                f"{name}: the shrinkage intensity of noise='shrinkage_diag' came out 0, so the "
                f"estimate is the unshrunk sample covariance of {p} units, which cannot be "
                f"inverted in stimulus space for dask-backed responses. Use noise='diag' or "
                f"'shrinkage_eye', or load a smaller ROI into memory."
            )
        # inv(l D + (1 - l) E'E / dof) through A = l D, c = (1 - l) / dof
        return _solve_low_rank(g, q, lamb * dof / (1.0 - lamb)) / lamb
    # shrinkage_eye, G unweighted: G_ee = E E'
    mu = float(np.trace(g_ee)) / (m * p)
    d2 = frob / m**2 - p * mu * mu
    if p == 1 or not d2 > 1e-13 * frob / m**2:  # already a multiple of the identity
        return g[:q, :q] * dof / (m * mu)
    b2 = min(d2, (float(u @ u) / m - frob / m**2) / m)
    a = b2 * mu * m / (d2 * dof)
    c = (d2 - b2) / (d2 * dof)
    if not a > 0:
        raise SchemaError(
            f"{name}: the shrinkage intensity of noise='shrinkage_eye' came out 0, so the "
            f"estimate is the unshrunk sample covariance of {p} units, which cannot be "
            f"inverted in stimulus space for dask-backed responses. Use noise='diag' or "
            f"'shrinkage_diag', or load a smaller ROI into memory."
        )
    if c <= 0:
        return g[:q, :q] / a
    return _solve_low_rank(g, q, a / c) / a


def cube_rdm_kernel(cube: Any, metric: str, precision: np.ndarray | None, method: str | None,
                    name: str) -> np.ndarray:
    """The kernel values of ``metric`` (``"mahalanobis"`` or ``"crossnobis"``) on the dask
    cube (as :func:`neurorep.rsa._rdm._rdm_squared_euclidean` and ``_rdm_crossnobis``
    give them in memory, before the per-unit norm): the precision is a given diagonal
    ``precision`` (or None), or estimated with ``method``."""
    if method == "full":
        n, n_run, p = cube.shape
        raise SchemaError(FULL_REFUSAL.format(name=name, p=p, dof=n * (n_run - 1)))
    from neurorep.rsa._rdm import _finish, _sq_from_gram

    g = _quadratic_form(cube, metric, precision, method, name)
    if metric == "mahalanobis":
        return _sq_from_gram(g)
    n, n_run = cube.shape[:2]
    k = g[:n, :n].copy()
    for r in range(n_run):
        k -= g[(r + 1) * n : (r + 2) * n, (r + 1) * n : (r + 2) * n]
    k /= n_run * (n_run - 1)
    diag = np.diag(k)
    return _finish(diag[:, None] + diag[None, :] - k - k.T)
