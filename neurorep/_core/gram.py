"""Gram matrices over stimuli of dask-backed data chunked along units, in bounded memory.

A Gram matrix is a sum over units, ``G = sum_k X_k X_k'`` over the unit
chunks ``X_k``, so it is accumulated chunk by chunk
(:func:`neurorep._core.parallel.sum_over_chunks`, one chain per scheduler
thread) and the data are never gathered: peak memory per worker thread is one
chunk plus two ``n x n`` float64 matrices, whatever the number of units. Used
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
    x = np.ldexp(block.astype(np.float64), -e) if e else block.astype(np.float64)
    x -= x.mean(axis=0, keepdims=True)
    w = x * weight if weight is not None else x
    return w @ x.T


def _gram_centred_rows(block: np.ndarray, e: int, row_mean: np.ndarray | None) -> np.ndarray:
    """One chunk's term of ``Xr Xr'``: rows minus their mean over all units (or raw)."""
    x = np.ldexp(block.astype(np.float64), -e) if e else block.astype(np.float64)
    if row_mean is not None:
        x -= row_mean[:, None]
    return x @ x.T


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
    if centre == "columns":
        edges = np.cumsum((0, *xd.chunks[1]))
        per = [(e, None if weight is None else weight[a:b])
               for a, b in zip(edges[:-1], edges[1:], strict=True)]
        return np.asarray(sum_over_chunks(xd, _gram_centred_columns, per))
    return np.asarray(sum_over_chunks(xd, _gram_centred_rows, [(e,)] * len(xd.chunks[1]),
                                      shared=(row_mean,)))


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


def reduce_centred(x: Any, kernel: Callable[..., Any],
                   combine: Callable[[Any, Any], Any] = _add, *,
                   return_exponent: bool = False) -> Any:
    """The reduction over unit chunks of ``kernel(block, e)`` (units centred over stimuli,
    data times ``2**-e``) with ``combine``, in one pass over dask ``x`` ``(stimulus, unit)``:
    ``e = 0`` and the peak of the centred data come from the same pass, and only data whose
    scale falls outside ``2**-64 .. 2**64`` (:func:`exponent`) take a second pass with the
    exact rescaling the in-memory kernels apply. ``return_exponent``: ``(result, e)``, the
    result being that of the data times ``2**-e``."""
    xd = x.rechunk({0: -1}) if len(x.chunks[0]) > 1 else x
    res, peak = sum_over_chunks(xd, _term_and_peak, [(kernel,)] * len(xd.chunks[1]),
                                combine=functools.partial(_join, combine))
    e = exponent(peak)
    if e:
        res = sum_over_chunks(xd, kernel, [(e,)] * len(xd.chunks[1]), combine=combine)
    return (res, e) if return_exponent else res


def _gram_term(block: np.ndarray, e: int) -> np.ndarray:
    return _gram_centred_columns(block, e, None)


def centred_gram(x: Any) -> np.ndarray:
    """The ``(n, n)`` Gram matrix of dask ``x`` ``(stimulus, unit)`` with units centred over
    stimuli, rescaled by a power of two as the in-memory kernels do; one pass over the
    chunks (two for data of extreme scale)."""
    return np.asarray(reduce_centred(x, _gram_term))
