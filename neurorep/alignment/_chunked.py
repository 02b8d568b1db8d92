"""Dask-backed regions in the alignment engine: what a metric needs, reduced over unit chunks.

A region too large for memory arrives as dask-backed responses chunked along
units. CKA needs only its Gram matrix over stimuli, which is a sum over unit
chunks (:mod:`neurorep._core.gram`); RSA metrics need only its RDM
(:func:`neurorep.rsa.compute_rdm`, chunk-wise for dask input). Debiased CKA and
the angular Procrustes similarity also depend on a region only through its
centred Gram matrix, but lose digits when computed from it; they get an
``(n, k)`` factor ``F`` (``k <= n``) with ``F F' = Xc Xc'``, the transposed R of
a tall-and-skinny QR of ``Xc'`` whose R factors are stacked and re-factored chunk
by chunk -- the decomposition the in-memory Procrustes kernel makes of wide data.
Either way the region is reduced to an ``(n, n)`` matrix in one or two passes
over its chunks, on whatever dask scheduler is active, and never gathered.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from neurorep._core import gram


def lazy_values(x: xr.DataArray) -> Any:
    """The dask array ``(stimulus, unit)`` float64 of dask-backed responses (repetitions
    averaged)."""
    x = x.mean("repetition") if "repetition" in x.dims else x
    return x.transpose("stimulus", "unit").data.astype(np.float64)


def lazy_gram(x: xr.DataArray) -> np.ndarray:
    """The Gram matrix of dask-backed responses (repetitions averaged), units centred
    over stimuli and rescaled by a power of two as in-memory CKA does, summed over unit
    chunks in bounded memory (one pass)."""
    return gram.centred_gram(lazy_values(x))


def _r_of_chunk(block: np.ndarray, e: int) -> np.ndarray:
    """The R factor of one chunk's ``Xc'`` (units centred over stimuli, times ``2**-e``)."""
    x = np.ldexp(block, -e) if e else block.astype(np.float64, copy=True)
    x -= x.mean(axis=0, keepdims=True)
    return np.asarray(np.linalg.qr(x.T, mode="r"))


def _stacked_r(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The R factor of ``[A; B]`` from the R factors of ``A`` and ``B``."""
    return np.asarray(np.linalg.qr(np.vstack([a, b]), mode="r"))


def lazy_factor(x: xr.DataArray) -> np.ndarray:
    """An ``(n, k)`` matrix with the centred Gram matrix of dask-backed responses
    (repetitions averaged, units centred, rescaled by a power of two), from a QR
    reduction over unit chunks in bounded memory (one pass): a stand-in for the responses
    in any score that depends on them only through that Gram matrix."""
    r = gram.reduce_centred(lazy_values(x), _r_of_chunk, _stacked_r)
    return np.ascontiguousarray(np.asarray(r).T)
