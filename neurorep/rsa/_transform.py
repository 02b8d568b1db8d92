"""RDM transforms (rsatoolbox's ``rsatoolbox.rdm.transform``): RDM in, RDM out.

Each transform acts on the dissimilarities of every RDM of a stack
separately (the zero diagonal is kept) and records itself in
``attrs["transform"]`` (chained with ``" -> "`` when transforms are
composed). NaN dissimilarities (missing pairs) stay NaN.

========== =================================================================================
``rank``     ranks of the dissimilarities, 1..m (ties: ``method`` of scipy's ``rankdata``)
``sqrt``     ``sqrt(max(d, 0))``; ``metric`` squared_euclidean -> euclidean
``positive`` ``max(d, 0)``
``minmax``   ``(d - min d) / (max d - min d)``, per RDM
========== =================================================================================
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep._core.condensed import triangle_offsets
from neurorep._core.errors import SchemaError, check_option
from neurorep._core.ranks import rank_rows
from neurorep.data import RDM_DIMS, check_rdm_layout, rdm_vectors

__all__ = [
    "TRANSFORMS",
    "minmax_transform",
    "positive_transform",
    "rank_transform",
    "rdm_vectors_nan",
    "sqrt_transform",
    "transform_rdm",
]

RankMethod = Literal["average", "min", "max", "dense", "ordinal"]


def rdm_vectors_nan(
    da: xr.DataArray, name: str = "rdm", *, check_layout: bool = True
) -> np.ndarray:
    """Condensed vectors ``(k, m)`` of an RDM (stack) whose missing pairs are NaN:
    :func:`neurorep.data.rdm_vectors` with ``missing=True`` (one pass, as without NaN)."""
    return rdm_vectors(da, name, check_layout=check_layout, missing=True)


def _rebuild(da: xr.DataArray, vec: np.ndarray, what: str, metric: str | None) -> xr.DataArray:
    n = da.shape[-1]
    upper, lower = triangle_offsets(n)
    flat = np.zeros((vec.shape[0], n * n))
    flat[:, upper] = vec
    flat[:, lower] = vec
    out = da.copy(deep=False, data=flat.reshape(da.shape))
    prev = da.attrs.get("transform")
    out.attrs = {**da.attrs, "transform": what if not prev else f"{prev} -> {what}"}
    if metric is not None:
        out.attrs["metric"] = metric
    return out


def _elementwise(da: xr.DataArray, vec: np.ndarray, what: str, metric: str | None) -> xr.DataArray:
    """``da``'s layout and coordinates around the transformed squares ``vec``."""
    out = da.copy(deep=False, data=vec)
    prev = da.attrs.get("transform")
    out.attrs = {**da.attrs, "transform": what if not prev else f"{prev} -> {what}"}
    if metric is not None:
        out.attrs["metric"] = metric
    return out


def _check(rdm: Any, name: str) -> xr.DataArray:
    if not isinstance(rdm, xr.DataArray):
        raise SchemaError(
            f"{name}: expected an RDM DataArray (..., stimulus_i, stimulus_j); got "
            f"{type(rdm).__name__}. Build one with neurorep.data.rdm(values, stimulus=ids)."
        )
    if rdm.dims[-2:] != RDM_DIMS:
        raise SchemaError(
            f"{name}: an RDM's last two dims must be {RDM_DIMS}; got {rdm.dims}."
        )
    return rdm


_CHUNK = 1 << 20  # bytes of squares processed together: the pass stays in cache


def _fast_squares(
    rdm: xr.DataArray,
    fn: Callable[[np.ndarray, np.ndarray], bool],
) -> np.ndarray | None:
    """Checked squares in, ``fn``'s squares out, in one cache-sized pass per chunk.

    Each chunk of RDMs is checked exactly (symmetric, zero diagonal: NaN fails the
    symmetry test) and handed to ``fn(chunk, out)``, which writes its result into
    ``out`` and returns False when the values are not finite. ``None`` when any
    check fails: the caller then takes the full path (missing pairs, or the error).
    """
    n = rdm.shape[-1]
    values = np.asarray(rdm.values, dtype=np.float64).reshape(-1, n, n)
    k = values.shape[0]
    out = np.empty_like(values)
    step = max(1, _CHUNK // (8 * n * n))
    eq = np.empty((min(step, k), n, n), dtype=bool)
    for s in range(0, k, step):
        e = min(k, s + step)
        x = values[s:e]
        if not np.equal(x, x.transpose(0, 2, 1), out=eq[: e - s]).all():
            return None
        if x.reshape(e - s, n * n)[:, :: n + 1].any():
            return None
        if not fn(x, out[s:e]):
            return None
    return out.reshape(rdm.shape)


def rank_transform(rdm: xr.DataArray, *, method: RankMethod = "average") -> xr.DataArray:
    """Replace each RDM's dissimilarities by their ranks 1..m (rsatoolbox ``rank_transform``).

    Parameters
    ----------
    rdm : DataArray
        One RDM or a stack ``(..., stimulus_i, stimulus_j)``.
        One RDM or a stack; each is ranked on its own. NaN pairs stay NaN and
        the others are ranked among themselves.
    method : {"average", "min", "max", "dense", "ordinal"}
        How ties are ranked (scipy's ``rankdata``).

    Returns
    -------
    DataArray
        The same layout; ``attrs["transform"]`` records ``"rank"``.

    Examples
    --------
    >>> from neurorep import data, rsa
    >>> r = rsa.rank_transform(data.rdm([0.2, 5.0, 0.2], stimulus=list("abc")))
    >>> r.values[0, 1:].tolist(), r.attrs["transform"]
    ([1.5, 3.0], 'rank')
    """
    rdm = _check(rdm, "rank_transform")
    check_option("method", method, ("average", "min", "max", "dense", "ordinal"))
    vec = rdm_vectors_nan(rdm, "rank_transform")
    nan = np.isnan(vec)
    if method == "average" and not nan.any():
        out = rank_rows(vec)
    else:
        from scipy.stats import rankdata

        out = np.full(vec.shape, np.nan)
        for i, row in enumerate(vec):
            ok = ~nan[i]
            out[i, ok] = rankdata(row[ok], method=method)
    what = "rank" if method == "average" else f"rank({method})"
    return _rebuild(rdm, out, what, None)


_SQRT_OF = {"squared_euclidean": "euclidean"}


def sqrt_transform(rdm: xr.DataArray) -> xr.DataArray:
    """``sqrt(max(d, 0))`` of every dissimilarity (rsatoolbox ``sqrt_transform``).

    Negative values (e.g. cross-validated distances) are set to 0 first.

    Parameters
    ----------
    rdm : DataArray
        One RDM or a stack ``(..., stimulus_i, stimulus_j)``.

    Returns
    -------
    DataArray
        ``attrs["transform"]`` records ``"sqrt"``; a ``squared_euclidean``
        RDM becomes ``metric="euclidean"``.

    Examples
    --------
    >>> from neurorep import data, rsa
    >>> rsa.sqrt_transform(data.rdm([4.0, -1.0, 9.0], stimulus=list("abc"))).values[0]
    array([0., 2., 0.])
    """
    rdm = _check(rdm, "sqrt_transform")
    check_rdm_layout(rdm, name="sqrt_transform")
    metric = rdm.attrs.get("metric")

    def fn(v: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        out = np.maximum(v, 0.0, out=out)
        return np.sqrt(out, out=out)

    def chunk(x: np.ndarray, out: np.ndarray) -> bool:
        fn(x, out)
        return bool(np.isfinite(x.sum()))  # inf/NaN anywhere: the full path's error

    vec = _fast_squares(rdm, chunk)
    if vec is None:  # missing pairs, or the error of the full check
        rdm_vectors_nan(rdm, "sqrt_transform", check_layout=False)
        vec = fn(np.asarray(rdm.values, dtype=np.float64))
    return _elementwise(rdm, vec, "sqrt", _SQRT_OF.get(str(metric)) if metric else None)


def positive_transform(rdm: xr.DataArray) -> xr.DataArray:
    """``max(d, 0)``: negative dissimilarities set to 0 (rsatoolbox ``positive_transform``).

    Parameters
    ----------
    rdm : DataArray
        One RDM or a stack ``(..., stimulus_i, stimulus_j)``.

    Returns
    -------
    DataArray
        ``attrs["transform"]`` records ``"positive"``.

    Examples
    --------
    >>> from neurorep import data, rsa
    >>> rsa.positive_transform(data.rdm([-0.5, 1.0, 2.0], stimulus=list("abc"))).values[0]
    array([0., 0., 1.])
    """
    rdm = _check(rdm, "positive_transform")
    check_rdm_layout(rdm, name="positive_transform")

    def chunk(x: np.ndarray, out: np.ndarray) -> bool:
        np.maximum(x, 0.0, out=out)
        return bool(np.isfinite(x.sum()))

    vec = _fast_squares(rdm, chunk)
    if vec is None:  # missing pairs, or the error of the full check
        rdm_vectors_nan(rdm, "positive_transform", check_layout=False)
        vec = np.maximum(np.asarray(rdm.values, dtype=np.float64), 0.0)
    return _elementwise(rdm, vec, "positive", None)


def minmax_transform(rdm: xr.DataArray) -> xr.DataArray:
    """``(d - min d) / (max d - min d)`` per RDM (rsatoolbox ``minmax_transform``).

    Parameters
    ----------
    rdm : DataArray
        One RDM or a stack ``(..., stimulus_i, stimulus_j)``.
        An RDM whose dissimilarities are all equal has no range and is refused.

    Returns
    -------
    DataArray
        Dissimilarities in [0, 1]; ``attrs["transform"]`` records ``"minmax"``.

    Examples
    --------
    >>> from neurorep import data, rsa
    >>> rsa.minmax_transform(data.rdm([1.0, 3.0, 2.0], stimulus=list("abc"))).values[0]
    array([0., 0., 1.])
    """
    rdm = _check(rdm, "minmax_transform")
    check_rdm_layout(rdm, name="minmax_transform")
    n = rdm.shape[-1]
    if n > 1:
        # |d| up to this keeps later sums of squares finite (rdm_vectors' bound)
        limit = float(np.sqrt(np.finfo(np.float64).max / (2.0 * n * (n - 1))))

        def chunk(x: np.ndarray, out: np.ndarray) -> bool:
            flat = x.reshape(x.shape[0], n * n)
            # the zero diagonal is in these; it is the extreme only where every
            # dissimilarity is on one side of 0, and those RDMs skip the diagonal
            low = flat.min(axis=1)
            high = flat.max(axis=1)
            off = flat[:, 1:].reshape(x.shape[0], n - 1, n + 1)[:, :, :n]  # off-diagonal
            at0 = np.flatnonzero(low == 0.0)
            if at0.size:
                low[at0] = off[at0].min(axis=(1, 2))
            at0 = np.flatnonzero(high == 0.0)
            if at0.size:
                high[at0] = off[at0].max(axis=(1, 2))
            span = high - low
            # NaN/inf propagate into low/high; no range: the full path names the RDM
            if not (np.all(span > 0) and high.max() <= limit and low.min() >= -limit):
                return False
            scale = 1.0 / span
            np.multiply(x, scale[:, None, None], out=out)
            out -= (low * scale)[:, None, None]
            out.reshape(x.shape[0], n * n)[:, :: n + 1] = 0.0
            return True

        vec = _fast_squares(rdm, chunk)
        if vec is not None:
            return _elementwise(rdm, vec, "minmax", None)
    return _minmax_full(rdm)


def _minmax_full(rdm: xr.DataArray) -> xr.DataArray:
    """minmax with missing pairs (NaN), and the errors of the full check."""
    cond = rdm_vectors_nan(rdm, "minmax_transform", check_layout=False)
    vec = np.asarray(rdm.values, dtype=np.float64)
    lead = rdm.shape[:-2]
    n = rdm.shape[-1]
    idx = np.arange(n)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN RDM: refused below
        low = np.nanmin(cond, axis=1)[:, None]
        span = np.nanmax(cond, axis=1)[:, None] - low
    bad = np.flatnonzero(~(span[:, 0] > 0))
    if bad.size:
        raise SchemaError(
            f"minmax_transform: RDM {int(bad[0])} (flat position in the stack) has all its "
            f"dissimilarities equal (or missing), so it has no range to scale to [0, 1]. Drop "
            f"it, or use rank_transform."
        )
    out = np.subtract(vec.reshape(-1, n, n), low[:, :, None])
    out *= 1.0 / span[:, :, None]
    out[:, idx, idx] = 0.0
    return _elementwise(rdm, out.reshape(*lead, n, n), "minmax", None)


#: The RDM transforms by name (``transform_rdm(rdm, name)``), as rsatoolbox.rdm.transform.
TRANSFORMS: dict[str, Callable[[xr.DataArray], xr.DataArray]] = {
    "rank": rank_transform,
    "sqrt": sqrt_transform,
    "positive": positive_transform,
    "minmax": minmax_transform,
}


def transform_rdm(rdm: xr.DataArray, kind: str) -> xr.DataArray:
    """Apply the transform named ``kind`` (a key of :data:`TRANSFORMS`).

    Parameters
    ----------
    rdm : DataArray
        One RDM or a stack ``(..., stimulus_i, stimulus_j)``.
    kind : {"rank", "sqrt", "positive", "minmax"}

    Returns
    -------
    DataArray
        The transformed RDM (see the named function).

    Examples
    --------
    >>> from neurorep import data, rsa
    >>> r = rsa.transform_rdm(rsa.transform_rdm(data.rdm([4.0, 1.0, 9.0], stimulus=list("abc")),
    ...                       "sqrt"), "minmax")
    >>> r.attrs["transform"]
    'sqrt -> minmax'
    """
    check_option("kind", kind, TRANSFORMS)
    return TRANSFORMS[kind](rdm)
