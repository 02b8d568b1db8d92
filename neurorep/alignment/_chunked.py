"""Dask-backed regions in the alignment engine: what a metric needs, reduced over unit chunks.

A region too large for memory arrives as dask-backed responses chunked along
units. CKA needs only its Gram matrix over stimuli, which is a sum over unit
chunks (:mod:`neurorep._core.gram`); RSA metrics need only its RDM
(:func:`neurorep.rsa.compute_rdm`, chunk-wise for dask input). Either way the
region is reduced to an ``(n, n)`` matrix in one or two passes over its
chunks, on whatever dask scheduler is active, and never gathered.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from neurorep._core import gram


def lazy_gram(x: xr.DataArray) -> np.ndarray:
    """The Gram matrix of dask-backed responses (repetitions averaged), units centred
    over stimuli and rescaled by a power of two as in-memory CKA does, summed over unit
    chunks in bounded memory."""
    import dask

    x = x.mean("repetition") if "repetition" in x.dims else x
    data = x.transpose("stimulus", "unit").data.astype(np.float64)
    (peak,) = dask.compute(abs(data - data.mean(axis=0, keepdims=True)).max())
    return np.asarray(gram.gram(data, centre="columns", e=gram.exponent(float(peak))))
