"""Condensed RDM stacks: the upper triangles of RDMs along a ``pair`` dim, checked once.

An RDM stack ``(..., stimulus_i, stimulus_j)`` over ``n`` stimuli holds every
dissimilarity twice plus a zero diagonal. Its condensed form holds each once,
``(..., pair)`` with ``m = n (n - 1) / 2`` pairs in scipy ``squareform`` order,
and names the two stimuli of each pair in the non-index coordinates
``stimulus_i`` and ``stimulus_j`` (along ``pair``), so it stays plain xarray,
aligned by id, and survives netCDF/zarr round trips. :func:`condense` builds it
from square RDMs after the full check (symmetry, zero diagonal, finite
values; a missing pair, NaN at both ``(i, j)`` and ``(j, i)``, stays NaN); functions that accept it (``rsa.compare``) then read the vectors
directly, with one cheap pass over the values instead of re-checking and
re-gathering the square matrices at every call.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from neurorep._core.condensed import n_from_m, square, triu
from neurorep._core.errors import SchemaError, sum_of_squares_fits
from neurorep.data._schema import (
    RDM_DIMS,
    _check_unique,
    check_rdm_layout,
    rdm_vectors,
    within_skipping_nan,
)

__all__ = [
    "PAIR_DIM",
    "condense",
    "condensed_ids",
    "condensed_vectors",
    "is_condensed",
    "uncondense",
]

#: The dim of a condensed RDM stack.
PAIR_DIM = "pair"


def is_condensed(obj: Any) -> bool:
    """Whether ``obj`` is an RDM (stack) in condensed form (last dim ``pair``).

    Parameters
    ----------
    obj : object
        Anything; only a DataArray whose last dim is ``pair`` is condensed.

    Returns
    -------
    bool
        True for a condensed RDM (stack); the layout itself is not checked
        (:func:`condensed_ids` does).

    Examples
    --------
    >>> from neurorep import data
    >>> r = data.rdm([1.0, 2.0, 3.0], stimulus=["x", "y", "z"])
    >>> data.is_condensed(r), data.is_condensed(data.condense(r))
    (False, True)
    """
    return isinstance(obj, xr.DataArray) and obj.ndim >= 1 and obj.dims[-1] == PAIR_DIM


def condense(rdm: xr.DataArray, *, name: str = "rdm") -> xr.DataArray:
    """An RDM (stack) in condensed form: ``(..., pair)``, checked once.

    Parameters
    ----------
    rdm : DataArray
        One RDM ``(..., stimulus_i, stimulus_j)`` or a stack along leading dims; checked as
        ``validate(rdm, kind="rdm")`` does, except that missing pairs (NaN at both ``(i, j)``
        and ``(j, i)``, as ``rsa.compare`` takes them) are kept as NaN (a condensed input
        is returned as is).
    name : str
        How the object is named in error messages.

    Returns
    -------
    DataArray
        ``(..., pair)``: float64 upper triangles in scipy ``squareform`` order; coordinates
        ``stimulus_i`` and ``stimulus_j`` along ``pair`` name the two stimuli
        of each dissimilarity; the leading dims' coordinates and the attrs
        are kept. :func:`uncondense` gives the square form back.

    Examples
    --------
    >>> from neurorep import data
    >>> r = data.rdm([1.0, 2.0, 3.0], stimulus=["x", "y", "z"], metric="euclidean")
    >>> c = data.condense(r)
    >>> c.dims, c.values.tolist()
    (('pair',), [1.0, 2.0, 3.0])
    >>> c.stimulus_i.values.tolist(), c.stimulus_j.values.tolist()
    (['x', 'x', 'y'], ['y', 'z', 'z'])
    """
    if is_condensed(rdm):
        condensed_ids(rdm, name=name)
        return rdm
    if not isinstance(rdm, xr.DataArray):
        raise SchemaError(
            f"{name}: expected an RDM DataArray (..., stimulus_i, stimulus_j); got "
            f"{type(rdm).__name__}."
        )
    check_rdm_layout(rdm, name=name)
    vectors = rdm_vectors(rdm, name, check_layout=False, missing=True)
    n = rdm.shape[-1]
    ids = np.asarray(rdm.coords.variables["stimulus_i"].values)
    iu, ju = triu(n)
    lead = tuple(rdm.dims[:-2])
    coords: dict[Any, Any] = {
        k: v for k, v in rdm.coords.items() if not set(v.dims) & set(RDM_DIMS)
    }
    coords["stimulus_i"] = (PAIR_DIM, ids[iu])
    coords["stimulus_j"] = (PAIR_DIM, ids[ju])
    return xr.DataArray(
        vectors.reshape(*rdm.shape[:-2], iu.size),
        dims=(*lead, PAIR_DIM),
        coords=coords,
        name=rdm.name,
        attrs=dict(rdm.attrs),
    )


def condensed_ids(da: xr.DataArray, *, name: str = "rdm") -> np.ndarray:
    """The stimulus ids of a condensed RDM stack, its layout checked.

    Parameters
    ----------
    da : DataArray
        A condensed RDM (stack) ``(..., pair)``.
    name : str
        How the object is named in error messages.

    Returns
    -------
    ndarray
        The ``n`` stimulus ids, in the order of the square form.

    Raises
    ------
    SchemaError
        No ``pair`` dim, a number of pairs that is not ``n (n - 1) / 2``, missing
        ``stimulus_i`` / ``stimulus_j`` coordinates along ``pair``, pairs not in
        ``squareform`` order of one list of distinct ids, a non-numeric dtype.

    Examples
    --------
    >>> from neurorep import data
    >>> c = data.condense(data.rdm([1.0, 2.0, 3.0], stimulus=["x", "y", "z"]))
    >>> data.condensed_ids(c).tolist()
    ['x', 'y', 'z']
    """
    if not is_condensed(da):
        raise SchemaError(f"{name}: a condensed RDM's last dim must be {PAIR_DIM!r}; got {da.dims}.")
    fix = "Build it with neurorep.data.condense(rdm)."
    try:
        n = n_from_m(da.shape[-1])
    except ValueError:
        raise SchemaError(
            f"{name}: a condensed RDM has n (n - 1) / 2 pairs; {da.shape[-1]} is not of that "
            f"form. {fix}"
        ) from None
    if n < 2:
        raise SchemaError(f"{name}: an RDM needs at least 2 stimuli; got {n}.")
    pairs = []
    for c in RDM_DIMS:
        var = da.coords.variables.get(c)
        if var is None or var.dims != (PAIR_DIM,):
            raise SchemaError(
                f"{name}: a condensed RDM needs a coordinate {c!r} along {PAIR_DIM!r} naming a "
                f"stimulus of each pair. {fix}"
            )
        pairs.append(np.asarray(var.values))
    si, sj = pairs
    ids = np.concatenate([si[:1], sj[: n - 1]])
    if not _squareform_pairs(si, sj, ids):
        _check_unique(ids, dim="stimulus", name=name)
        raise SchemaError(
            f"{name}: the pairs of a condensed RDM must follow scipy's squareform order of one "
            f"list of stimulus ids ((s0, s1), (s0, s2), ..., (s1, s2), ...); they do not. {fix}"
        )
    _check_unique(ids, dim="stimulus", name=name)
    if da.dtype.kind not in "fiub":
        raise SchemaError(f"{name}: values must be numeric; got dtype {da.dtype}.")
    return ids


def _squareform_pairs(si: np.ndarray, sj: np.ndarray, ids: np.ndarray) -> bool:
    """Whether the pair ids ``si``, ``sj`` are scipy's squareform order of ``ids``:
    fixed-width strings or integers of one dtype compared as words in one read
    (:mod:`neurorep._core.pairids`), other ids by gathering the expected arrays."""
    wi, wj, wids = (_as_words(a, ids.dtype) for a in (si, sj, ids))
    if wi is not None and wj is not None and wids is not None:
        from neurorep._core.pairids import squareform_words

        return bool(squareform_words(wi, wj, wids))
    iu, ju = triu(len(ids))
    return _equal_ids(si, ids[iu]) and _equal_ids(sj, ids[ju])


def _as_words(a: np.ndarray, dtype: np.dtype) -> np.ndarray | None:
    """``a`` ``(m,)`` as its ``(m, w)`` uint32 words, or None where the bytes of two ids
    are not equal exactly when the ids are (another dtype, objects, odd widths)."""
    if a.ndim != 1 or a.dtype != dtype or a.dtype.kind not in "USiu" or a.dtype.itemsize % 4:
        return None
    return np.ascontiguousarray(a).view(np.uint32).reshape(len(a), a.dtype.itemsize // 4)


def _equal_ids(a: np.ndarray, b: np.ndarray) -> bool:
    """``np.array_equal`` of two id arrays; fixed-width strings (and integers) of one dtype
    are compared as their bytes' words (the same answer: numpy stores such a string
    padded with zeros), ~4x faster than string comparison for 499,500 pairs' ids."""
    if (
        a.shape == b.shape
        and a.dtype == b.dtype
        and a.dtype.kind in "USiu"
        and a.dtype.itemsize % 4 == 0
        and a.flags.c_contiguous
        and b.flags.c_contiguous
    ):
        return bool(np.array_equal(a.view(np.uint32), b.view(np.uint32)))
    return bool(np.array_equal(a, b))


def condensed_vectors(
    da: xr.DataArray, *, name: str = "rdm", check: bool = True, missing: bool = False
) -> np.ndarray:
    """The ``(k, m)`` float64 vectors of a condensed RDM stack (its values, not copied when
    they are C-contiguous float64; do not write to them), checked in one pass.

    The layout is checked by :func:`condensed_ids`. The values are checked with
    one BLAS pass: finite, and small enough that sums of their squares do not
    overflow (what :func:`rdm_vectors` checks of a square RDM besides symmetry
    and the diagonal, which a condensed RDM cannot violate). ``check=False``
    skips that pass, for a caller whose kernel reads every value anyway and
    checks when its result shows a non-finite value. ``missing=True`` lets NaN
    (missing pairs, which :func:`condense` keeps) through; the other values are
    checked as without it, and a stack without NaN costs the same one pass.

    Parameters
    ----------
    da : DataArray
        A condensed RDM (stack) ``(..., pair)``.
    name : str
        How the object is named in error messages.
    check : bool
        Check the values (finite, squares summable in float64).
    missing : bool
        Allow NaN values: missing pairs (default False: refused as non-finite).

    Returns
    -------
    ndarray
        ``(k, m)`` float64: one row per RDM of the stack (``k`` = the product of
        the leading dims' sizes), ``m`` = the number of pairs.

    Examples
    --------
    >>> from neurorep import data
    >>> c = data.condense(data.rdm([1.0, 2.0, 3.0], stimulus=["x", "y", "z"]))
    >>> data.condensed_vectors(c)
    array([[1., 2., 3.]])
    """
    m = da.shape[-1]
    x = np.ascontiguousarray(np.asarray(da.values, dtype=np.float64)).reshape(-1, m)
    if check and x.size and not sum_of_squares_fits(x.reshape(-1)) and not (
        missing and _missing_within(x)
    ):
        nan = np.isnan(x) if missing else None
        finite = np.isfinite(x) if nan is None else ~np.isinf(x)
        if not finite.all():
            where = np.unravel_index(int(np.argmin(finite.ravel())), da.shape)
            raise SchemaError(
                f"{name}: values must be finite; got {int((~finite).sum())} "
                f"{'inf' if missing else 'NaN/inf'} value(s), "
                f"the first at index {dict(zip(da.dims, map(int, where), strict=True))}. Drop "
                f"those stimuli or impute them before the analysis."
            )
        rows = x if nan is None else np.where(nan, 0.0, x)
        with np.errstate(over="ignore", invalid="ignore"):
            ss = np.einsum("ij,ij->i", rows, rows, optimize=True)
        over = np.flatnonzero(~(ss <= np.finfo(np.float64).max / 4))  # as sum_of_squares_fits
        if over.size:
            raise SchemaError(
                f"{name}: dissimilarities are too large: |d| up to "
                f"{float(np.abs(rows[over[0]]).max()):.3g}, so sums of their squares overflow "
                f"to inf/NaN in float64. Rescale the RDM (e.g. divide it by its largest value)."
            )
    return x


def _missing_within(x: np.ndarray) -> bool:
    """No inf, and every |value| small enough that no row's sum of squares overflows: what
    ``sum_of_squares_fits`` tells of a stack without NaN, skipping NaN (two passes)."""
    return within_skipping_nan(x, float(np.sqrt(np.finfo(np.float64).max / (4.0 * x.shape[1]))))


def uncondense(da: xr.DataArray, *, name: str = "rdm") -> xr.DataArray:
    """The square form ``(..., stimulus_i, stimulus_j)`` of a condensed RDM stack.

    Parameters
    ----------
    da : DataArray
        A condensed RDM (stack) ``(..., pair)`` (:func:`condense`).
    name : str
        How the object is named in error messages.

    Returns
    -------
    DataArray
        ``(..., stimulus_i, stimulus_j)``: symmetric, zero diagonal, the leading
        dims' coordinates and the attrs kept.

    Examples
    --------
    >>> from neurorep import data
    >>> r = data.rdm([1.0, 2.0, 3.0], stimulus=["x", "y", "z"])
    >>> bool((data.uncondense(data.condense(r)) == r).all())
    True
    """
    ids = condensed_ids(da, name=name)
    n = ids.size
    lead = tuple(da.dims[:-1])
    coords: dict[Any, Any] = {
        k: v for k, v in da.coords.items() if PAIR_DIM not in v.dims
    }
    coords["stimulus_i"] = ids
    coords["stimulus_j"] = ids
    return xr.DataArray(
        square(np.asarray(da.values, dtype=np.float64), n),
        dims=(*lead, *RDM_DIMS),
        coords=coords,
        name=da.name,
        attrs=dict(da.attrs),
    )
