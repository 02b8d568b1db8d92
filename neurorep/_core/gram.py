"""Gram matrices over stimuli of dask-backed data chunked along units, in bounded memory.

A Gram matrix is a sum over units, ``G = sum_k X_k X_k'`` over the unit
chunks ``X_k``, so it is accumulated chunk by chunk
(:func:`neurorep._core.parallel.sum_over_chunks`, one chain per scheduler
thread) and the data are never gathered: peak memory per worker thread is one
chunk plus one ``n x n`` float64 matrix, whatever the number of units (each
chunk's product is added into the running sum by BLAS ``syrk``). Used
by the RDMs (``neurorep.rsa``) and CKA (``neurorep.alignment``) of dask-backed
responses; runs on the threaded scheduler or a ``dask.distributed`` cluster.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from neurorep._core.parallel import sum_over_chunks

__all__ = ["centred_gram", "exponent", "gram", "reduce_centred", "scale_and_means"]


def _gram_centred_columns(block: np.ndarray, e: int, weight: np.ndarray | None) -> np.ndarray:
    """One chunk's term of ``Xc P Xc'``: columns centred over stimuli, data times 2**-e."""
    x = _centred_columns(block, e)
    w = x * weight if weight is not None else x
    return w @ x.T


def _syrk_into(x: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``out + x x'`` in the upper triangle of ``out`` (``(n, n)`` float64, Fortran order;
    ``None``: zeros), computed in place by BLAS ``syrk`` (``beta=1``, the GIL released:
    chains run in threads): half the products of ``x @ x.T`` and no ``n x n`` term
    allocated. The lower triangle is not touched (:func:`_mirror` fills it once the sum
    is complete)."""
    from neurorep._core.blas import syrk_upper

    if out is None:
        out = np.zeros((x.shape[0],) * 2, order="F")
    return syrk_upper(np.ascontiguousarray(x, dtype=np.float64), out)


def _mirror(upper: np.ndarray) -> np.ndarray:
    """The symmetric matrix whose upper triangle is that of ``upper`` (lower one zero)."""
    full = upper + upper.T
    full[np.diag_indices_from(full)] = np.diagonal(upper)
    return full


def _centred_columns(block: np.ndarray, e: int) -> np.ndarray:
    """A chunk as float64 (a copy), times ``2**-e``, each unit centred over stimuli."""
    x = np.ldexp(block.astype(np.float64), -e) if e else block.astype(np.float64)
    x -= x.mean(axis=0, keepdims=True)
    return x


def _gram_columns_into(block: np.ndarray, e: int,
                       out: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """One chunk's ``Xc Xc'`` (units centred over stimuli, data times ``2**-e``) added into
    the upper triangle of ``out``, and the largest |value| of the centred chunk."""
    x = _centred_columns(block, e)
    peak = float(np.maximum(x.max(), -x.min())) if x.size else 0.0  # NaN stays NaN
    return _syrk_into(x, out), peak


def _gram_rows_into(block: np.ndarray, e: int, row_mean: np.ndarray | None,
                    out: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """One chunk's ``Xr Xr'`` (rows minus ``row_mean``, or raw) added into ``out``'s upper
    triangle (the peak is not needed: 0)."""
    x = np.ldexp(block.astype(np.float64), -e) if e else block.astype(np.float64)
    if row_mean is not None:
        x -= row_mean[:, None]
    return _syrk_into(x, out), 0.0


def exponent(peak: float) -> int:
    """``e`` with ``2**(e-1) <= peak < 2**e`` when that lies outside ``2**-64 .. 2**64``,
    else 0: dividing by ``2**e`` (exact) keeps squares and sums inside float64."""
    if not np.isfinite(peak) or peak == 0.0:
        return 0
    e = int(np.frexp(peak)[1])
    return e if abs(e) > 64 else 0


def scale_and_means(x: Any, *, row_means: bool) -> tuple[int, float, np.ndarray | None]:
    """One pass: the scale exponent of ``max |x|`` (``e`` when ``2**e`` is outside
    ``2**-64 .. 2**64``, else 0, as ``neurorep.rsa`` rescales), that
    maximum, and each stimulus' mean over units (of the data times ``2**-e``)."""
    import dask

    if row_means:
        peak, sums = dask.compute(abs(x).max(), x.sum(axis=1, dtype=np.float64))
    else:
        (peak,), sums = dask.compute(abs(x).max()), None
    peak = float(peak)
    e = exponent(peak)
    means = None
    if sums is not None:
        means = np.ldexp(np.asarray(sums, np.float64), -e) / x.shape[1]
    return e, peak, means


def gram(x: Any, *, centre: str, e: int, row_mean: np.ndarray | None = None,
         weight: np.ndarray | None = None) -> np.ndarray:
    """The ``(n, n)`` Gram matrix of dask ``x`` ``(stimulus, unit)``, summed over unit chunks.

    ``centre="columns"``: each unit centred over stimuli and weighted by the
    diagonal precision ``weight`` (euclidean family); ``"rows"``: each stimulus
    minus ``row_mean`` (correlation) or, with ``row_mean=None``, raw (cosine).
    """
    xd = x.rechunk({0: -1}) if len(x.chunks[0]) > 1 else x
    n_blocks = len(xd.chunks[1])
    if centre == "columns" and weight is not None:
        edges = np.cumsum((0, *xd.chunks[1]))
        per = [(e, weight[a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)]
        return np.asarray(sum_over_chunks(xd, _gram_centred_columns, per))
    if centre == "columns":
        upper = sum_over_chunks(xd, _fold_only, [(_gram_columns_into, e)] * n_blocks,
                                into=True)
    else:
        upper = sum_over_chunks(xd, _fold_only, [(_gram_rows_into, e)] * n_blocks,
                                shared=(row_mean,), into=True)
    return _mirror(upper)


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a += b
    return a


def _term_and_peak(block: np.ndarray, kernel: Callable[..., Any]) -> tuple[Any, float]:
    """``kernel(block, 0)`` and the largest |value| of the block's units centred over
    stimuli (the scale a second pass would rescale by)."""
    x = block.astype(np.float64)
    peak = float(np.abs(x - x.mean(axis=0, keepdims=True)).max()) if x.size else 0.0
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        return kernel(block, 0), peak


def _join(combine: Callable[[Any, Any], Any], a: tuple[Any, float],
          b: tuple[Any, float]) -> tuple[Any, float]:
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):  # redone if extreme
        return combine(a[0], b[0]), float(np.maximum(a[1], b[1]))  # NaN stays NaN


def _fold_and_peak(block: np.ndarray, kernel: Callable[..., Any],
                   out: tuple[Any, float] | None = None) -> tuple[Any, float]:
    """An ``into`` kernel's step (``kernel(block, 0, out=term) -> (term, peak)``) with the
    running maximum of the peaks."""
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):  # redone if extreme
        term, peak = kernel(block, 0, out=None if out is None else out[0])
    return term, peak if out is None else float(np.maximum(out[1], peak))  # NaN stays NaN


def _fold_only(block: np.ndarray, kernel: Callable[..., Any], *args: Any,
               out: Any = None) -> Any:
    """An ``into`` kernel's step without its peak."""
    return kernel(block, *args, out=out)[0]


def _join_folds(a: tuple[Any, float], b: tuple[Any, float]) -> tuple[Any, float]:
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):  # redone if extreme
        a[0][...] += b[0]
    return a[0], float(np.maximum(a[1], b[1]))  # NaN stays NaN


def reduce_centred(x: Any, kernel: Callable[..., Any],
                   combine: Callable[[Any, Any], Any] = _add, *,
                   return_exponent: bool = False, into: bool = False) -> Any:
    """The reduction over unit chunks of ``kernel(block, e)`` (units centred over stimuli,
    data times ``2**-e``) with ``combine``, in one pass over dask ``x`` ``(stimulus, unit)``:
    ``e = 0`` and the peak of the centred data come from the same pass, and only data whose
    scale falls outside ``2**-64 .. 2**64`` (:func:`exponent`) take a second pass with the
    exact rescaling the in-memory kernels apply. ``return_exponent``: ``(result, e)``, the
    result being that of the data times ``2**-e``. ``into``: ``kernel(block, e, out=term)``
    adds its term into the running one in place and returns ``(term, peak)`` (the peak of
    the chunk's centred values); the terms are added."""
    xd = x.rechunk({0: -1}) if len(x.chunks[0]) > 1 else x
    n_blocks = len(xd.chunks[1])
    if into:
        res, peak = sum_over_chunks(xd, _fold_and_peak, [(kernel,)] * n_blocks,
                                    combine=_join_folds, into=True)
    else:
        res, peak = sum_over_chunks(xd, _term_and_peak, [(kernel,)] * n_blocks,
                                    combine=functools.partial(_join, combine))
    e = exponent(peak)
    if e and into:
        res = sum_over_chunks(xd, _fold_only, [(kernel, e)] * n_blocks, into=True)
    elif e:
        res = sum_over_chunks(xd, kernel, [(e,)] * n_blocks, combine=combine)
    return (res, e) if return_exponent else res


def centred_gram(x: Any) -> np.ndarray:
    """The ``(n, n)`` Gram matrix of dask ``x`` ``(stimulus, unit)`` with units centred over
    stimuli, rescaled by a power of two as the in-memory kernels do; one pass over the
    chunks (two for data of extreme scale)."""
    return _mirror(reduce_centred(x, _gram_columns_into, into=True))
