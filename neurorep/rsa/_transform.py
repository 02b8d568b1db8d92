"""RDM transforms (rsatoolbox's ``rsatoolbox.rdm.transform``): RDM in, RDM out.

Each transform acts on the dissimilarities of every RDM of a stack
separately (the zero diagonal is kept) and records itself in
``attrs["transform"]`` (chained with ``" -> "`` when transforms are
composed). NaN dissimilarities (missing pairs) stay NaN. A condensed stack
(:func:`neurorep.data.condense`, ``(..., pair)``) is transformed as its
vectors and stays condensed: half the values of the square form, checked
with one pass, so a stack transformed (or compared) many times is best
condensed once.

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
from neurorep._core.errors import SchemaError, check_option, sum_of_squares_fits
from neurorep._core.ranks import rank_rows
from neurorep.data import (
    RDM_DIMS,
    check_rdm_layout,
    condensed_ids,
    condensed_vectors,
    is_condensed,
    rdm_vectors,
)

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
    """``da``'s layout around the transformed vectors ``vec`` ``(k, m)`` (square RDMs are
    rebuilt from them; a condensed stack takes them as they are)."""
    if is_condensed(da):
        return _elementwise(da, vec.reshape(da.shape), what, metric)
    n = da.shape[-1]
    upper, lower = triangle_offsets(n)
    flat = np.zeros((vec.shape[0], n * n))
    flat[:, upper] = vec
    flat[:, lower] = vec
    return _elementwise(da, flat.reshape(da.shape), what, metric)


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
    if is_condensed(rdm):
        condensed_ids(rdm, name=name)
    elif rdm.dims[-2:] != RDM_DIMS:
        raise SchemaError(
            f"{name}: an RDM's last two dims must be {RDM_DIMS} (or 'pair' for a condensed "
            f"stack); got {rdm.dims}."
        )
    else:
        check_rdm_layout(rdm, name=name)
    return rdm


def _condensed_blocks(
    rdm: xr.DataArray,
    name: str,
    fn: Callable[[np.ndarray, np.ndarray, int], Any],
    *,
    check: bool = True,
) -> np.ndarray | None:
    """``fn(block, out, start)`` over cache-sized blocks of rows of a condensed stack's
    vectors, so every value is read from memory once.

    Each block is checked first (finite, squares summable: one BLAS pass in cache), or,
    ``check=False``, by ``fn`` itself (it returns False for a block it cannot take).
    ``None`` when a block fails: the caller then takes the full path (missing pairs, or
    the error of :func:`neurorep.data.condensed_vectors`).
    """
    vec = condensed_vectors(rdm, name=name, check=False)
    out = np.empty_like(vec)
    k, m = vec.shape
    step = max(1, _CHUNK // (8 * m))
    for s in range(0, k, step):
        block = vec[s : s + step]
        if (check and not sum_of_squares_fits(block.reshape(-1))) or fn(
            block, out[s : s + step], s
        ) is False:
            return None
    return out


def _vectors(rdm: xr.DataArray, name: str) -> np.ndarray:
    """The checked ``(k, m)`` vectors of a checked RDM stack, square or condensed (NaN
    pairs kept; a condensed stack's own values: do not write to them)."""
    if is_condensed(rdm):
        return condensed_vectors(rdm, name=name, missing=True)
    return rdm_vectors_nan(rdm, name, check_layout=False)


_CHUNK = 1 << 20  # bytes of squares processed together: the pass stays in cache


def _fast_squares(rdm: xr.DataArray, fn: Callable[[np.ndarray, np.ndarray], Any]) -> np.ndarray | None:
    """Checked squares in, ``fn``'s squares out, in one cache-sized pass per chunk.

    Each chunk of RDMs is checked exactly (symmetric, zero diagonal, finite: NaN fails
    the symmetry test, inf and overflow-size values the sum of squares) and handed to
    ``fn(chunk, out)``, which writes its result into ``out`` (and returns False when it
    cannot). ``None`` when any check fails: the caller then takes the full path
    (missing pairs, or the error).
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
        flat = x.reshape(-1)
        if not (
            np.equal(x, x.transpose(0, 2, 1), out=eq[: e - s]).all()
            and not flat[:: n + 1].any()
            and sum_of_squares_fits(flat)
        ) or fn(x, out[s:e]) is False:
            return None
    return out.reshape(rdm.shape)


def _apply_elementwise(
    rdm: xr.DataArray, fn: Callable[..., np.ndarray], what: str, metric: str | None
) -> xr.DataArray:
    """``fn(values, out=None)`` applied to every dissimilarity of a checked RDM stack (square
    or condensed): in checked cache-sized blocks, or after the full check when some pairs are
    missing (NaN) or the fast check fails (which then raises its error)."""
    name = f"{what}_transform"
    if is_condensed(rdm):
        vec = _condensed_blocks(rdm, name, lambda v, o, _: fn(v, o))
        if vec is None:  # missing pairs, or the error
            vec = fn(condensed_vectors(rdm, name=name, missing=True))
        return _rebuild(rdm, vec, what, metric)
    vec = _fast_squares(rdm, fn)
    if vec is None:  # missing pairs, or the error of the full check
        rdm_vectors_nan(rdm, name, check_layout=False)
        vec = fn(np.asarray(rdm.values, dtype=np.float64))
    return _elementwise(rdm, vec, what, metric)


def rank_transform(rdm: xr.DataArray, *, method: RankMethod = "average") -> xr.DataArray:
    """Replace each RDM's dissimilarities by their ranks 1..m (rsatoolbox ``rank_transform``).

    Parameters
    ----------
    rdm : DataArray
        One RDM or a stack ``(..., stimulus_i, stimulus_j)``, or a condensed
        stack ``(..., pair)`` (:func:`neurorep.data.condense`; the result stays condensed).
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
    vec = _vectors(rdm, "rank_transform")
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
        One RDM or a stack ``(..., stimulus_i, stimulus_j)``, or a condensed
        stack ``(..., pair)`` (:func:`neurorep.data.condense`; the result stays condensed).

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
    metric = rdm.attrs.get("metric")
    to = _SQRT_OF.get(str(metric)) if metric else None

    def fn(v: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        out = np.maximum(v, 0.0, out=out)
        return np.sqrt(out, out=out)

    return _apply_elementwise(rdm, fn, "sqrt", to)


def positive_transform(rdm: xr.DataArray) -> xr.DataArray:
    """``max(d, 0)``: negative dissimilarities set to 0 (rsatoolbox ``positive_transform``).

    Parameters
    ----------
    rdm : DataArray
        One RDM or a stack ``(..., stimulus_i, stimulus_j)``, or a condensed
        stack ``(..., pair)`` (:func:`neurorep.data.condense`; the result stays condensed).

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

    def fn(v: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return np.maximum(v, 0.0, out=out)

    return _apply_elementwise(rdm, fn, "positive", None)


def minmax_transform(rdm: xr.DataArray) -> xr.DataArray:
    """``(d - min d) / (max d - min d)`` per RDM (rsatoolbox ``minmax_transform``).

    Parameters
    ----------
    rdm : DataArray
        One RDM or a stack ``(..., stimulus_i, stimulus_j)``, or a condensed
        stack ``(..., pair)`` (:func:`neurorep.data.condense`; the result stays condensed).
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
    if is_condensed(rdm):
        # |d| up to this keeps sums of squares finite (condensed_vectors' bound, per value)
        limit = float(np.sqrt(np.finfo(np.float64).max / (4.0 * rdm.shape[-1])))

        def rows(v: np.ndarray, out: np.ndarray, start: int) -> bool:
            low, high = v.min(axis=1), v.max(axis=1)  # NaN/inf propagate: the full path
            if not (low.min() >= -limit and high.max() <= limit):
                return False
            _minmax_apply(v, low, high - low, out, start)
            return True

        vec = _condensed_blocks(rdm, "minmax_transform", rows, check=False)
        if vec is None:  # missing pairs, or the errors of the full check
            vec = condensed_vectors(rdm, name="minmax_transform", missing=True)
            low, span = _minmax_range(vec)
            vec = _minmax_apply(vec, low, span, np.empty_like(vec), 0)
        return _rebuild(rdm, vec, "minmax", None)
    n = rdm.shape[-1]

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
        if not np.all(span > 0):  # no range: the full path names the RDM
            return False
        flat_out = _minmax_apply(flat, low, span, out.reshape(x.shape[0], n * n), 0)
        flat_out[:, :: n + 1] = 0.0
        return True

    vec = _fast_squares(rdm, chunk)
    if vec is None:  # missing pairs, or the errors of the full check
        low, span = _minmax_range(rdm_vectors_nan(rdm, "minmax_transform", check_layout=False))
        flat = np.asarray(rdm.values, dtype=np.float64).reshape(-1, n * n)
        vec = _minmax_apply(flat, low, span, np.empty_like(flat), 0)
        vec[:, :: n + 1] = 0.0
    return _elementwise(rdm, vec.reshape(rdm.shape), "minmax", None)


def _minmax_apply(
    v: np.ndarray, low: np.ndarray, span: np.ndarray, out: np.ndarray, start: int
) -> np.ndarray:
    """``(v - low) / span`` per row into ``out`` (rsatoolbox's operations, exactly); a row
    without a range is refused (named by its flat position, ``start`` + its row)."""
    _no_range(span, start)
    np.subtract(v, low[:, None], out=out)
    out /= span[:, None]
    return out


def _no_range(span: np.ndarray, start: int) -> None:
    bad = np.flatnonzero(~(span > 0))
    if bad.size:
        raise SchemaError(
            f"minmax_transform: RDM {start + int(bad[0])} (flat position in the stack) has "
            f"all its dissimilarities equal (or missing), so it has no range to scale to "
            f"[0, 1]. Drop it, or use rank_transform."
        )


def _minmax_range(vec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's smallest value and range, NaN (missing pairs) left out; a row without a
    range is refused."""
    low, high = vec.min(axis=1), vec.max(axis=1)
    if np.isnan(low).any():  # missing pairs (min/max propagate NaN)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN RDM: refused below
            low, high = np.nanmin(vec, axis=1), np.nanmax(vec, axis=1)
    span = high - low
    _no_range(span, 0)
    return low, span


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
        One RDM or a stack ``(..., stimulus_i, stimulus_j)``, or a condensed
        stack ``(..., pair)`` (:func:`neurorep.data.condense`; the result stays condensed).
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
