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

The same stand-in serves every score invariant to an orthogonal transform of
the unit space (with zero padding of units): the shape metrics of any partial
whitening, the canonical correlations (CCA, SVCCA, PWCCA's correlations), in
the data's own scale (:class:`StandIn` keeps the region's number of units, which
sets the zero padding and the rank tolerance). Mutual kNN needs the raw
(uncentred) Gram matrix; the stochastic shape metrics an uncentred factor of
the stacked (stimulus x repetition) rows (:func:`lazy_raw_factor`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import xarray as xr

from neurorep._core import gram
from neurorep._core.parallel import sum_over_chunks


def lazy_values(x: xr.DataArray) -> Any:
    """The dask array ``(stimulus, unit)`` float64 of dask-backed responses (repetitions
    averaged)."""
    x = x.mean("repetition") if "repetition" in x.dims else x
    return x.transpose("stimulus", "unit").data.astype(np.float64)


def lazy_gram(x: xr.DataArray) -> np.ndarray:
    """The Gram matrix of dask-backed responses (repetitions averaged), units centred
    over stimuli and rescaled by a power of two as in-memory CKA does, summed over unit
    chunks in bounded memory (one pass; a chunk becomes float64 in the kernel, so float32
    data travel between workers as they are stored)."""
    values = lazy_values(x) if "repetition" in x.dims else x.transpose("stimulus", "unit").data
    return gram.centred_gram(values)


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


@dataclass(frozen=True)
class StandIn:
    """A dask-backed region reduced over its unit chunks, for scores invariant to an
    orthogonal transform of the unit space.

    ``factor`` ``(n, k)``, ``k = min(n, units)``, has the region's centred Gram matrix times
    ``4**-exponent`` (``factor @ factor.T == Xc @ Xc.T / 4**exponent``): ``Xc = factor Q'``
    up to that scale for some ``Q`` with orthonormal columns. ``n_units`` is the region's
    real number of units (zero padding and rank tolerances use it); ``values`` the lazy
    ``(stimulus, unit)`` data and ``rows`` the stimuli of this subset (None: all), for
    PWCCA, whose weights need the units themselves. Indexing takes a subset of stimuli:
    re-centring ``factor[idx]`` gives ``Xc[idx]`` re-centred, times ``Q``.
    """

    factor: np.ndarray
    n_units: int
    exponent: int = 0
    values: Any = None
    rows: np.ndarray | None = None

    def __getitem__(self, idx: Any) -> StandIn:
        idx = np.asarray(idx)
        rows = idx if self.rows is None else self.rows[idx]
        return replace(self, factor=self.factor[idx], rows=rows)

    @property
    def shape(self) -> tuple[int, int]:
        """``(stimuli, units)`` of the region it stands in for."""
        return (self.factor.shape[0], self.n_units)

    def unscaled(self) -> np.ndarray:
        """``factor`` in the data's own scale (an exact power-of-two rescaling): for the
        scores that are not free of scale (Euclidean distances, partial whitening)."""
        return np.ldexp(self.factor, self.exponent) if self.exponent else self.factor


def lazy_standin(x: xr.DataArray) -> StandIn:
    """The :class:`StandIn` of dask-backed responses (repetitions averaged): one QR pass
    over the unit chunks (two for data outside ``2**-64 .. 2**64``)."""
    values = lazy_values(x)
    r, e = gram.reduce_centred(values, _r_of_chunk, _stacked_r, return_exponent=True)
    return StandIn(np.ascontiguousarray(np.asarray(r).T), int(values.shape[1]), int(e), values)


def _r_of_raw_chunk(block: np.ndarray, e: int) -> np.ndarray:
    """The R factor of one chunk's ``X'`` (not centred), data times ``2**-e``."""
    x = np.ldexp(block.astype(np.float64), -e) if e else block.astype(np.float64)
    return np.asarray(np.linalg.qr(x.T, mode="r"))


def lazy_raw_factor(values: Any) -> np.ndarray:
    """``(m, k)``, ``k = min(m, units)``, with ``F F' = X X'`` for the dask array ``X``
    ``(m, unit)`` (rows not centred, the data's own scale; ``X = F Q'`` for some ``Q``
    with orthonormal columns): two passes over the unit chunks (the scale, then a QR
    reduction), for scores invariant to rotations of the units that do not centre."""
    e = gram.scale_and_means(values, row_means=False)[0]
    r = sum_over_chunks(values, _r_of_raw_chunk, [(e,)] * len(values.chunks[1]),
                        combine=_stacked_r)
    f = np.ascontiguousarray(np.asarray(r).T)
    return np.ldexp(f, e) if e else f


def lazy_raw_gram(x: xr.DataArray) -> tuple[np.ndarray, int]:
    """``(X X' * 4**-e, e)`` of dask-backed responses (repetitions averaged, not centred),
    ``e`` the power of two the in-memory kernels rescale by: two passes over the unit
    chunks (the scale, then the Gram matrix)."""
    values = lazy_values(x)
    e = gram.scale_and_means(values, row_means=False)[0]
    return gram.gram(values, centre="rows", e=e), e


@dataclass(frozen=True)
class RawGram:
    """The rows' Gram matrix ``X X'`` (not centred; any power-of-two scale) of a dask-backed
    region, for scores of cosine similarities between stimuli (mutual kNN); indexing takes
    a subset of stimuli."""

    gram: np.ndarray

    def __getitem__(self, idx: Any) -> RawGram:
        idx = np.asarray(idx)
        return RawGram(self.gram[np.ix_(idx, idx)])


def _pwcca_chunk(block: np.ndarray, rows: list[np.ndarray | None],
                 variates: list[np.ndarray]) -> np.ndarray:
    """One unit chunk's terms of PWCCA's weights for every subset: ``sum_j |<h_i, x_j>|``
    over the chunk's units ``x_j``, centred over the subset's stimuli, concatenated."""
    x = block.astype(np.float64)
    out = []
    for idx, h in zip(rows, variates, strict=True):
        b = x if idx is None else x[idx]
        b = b - b.mean(axis=0, keepdims=True)
        out.append(np.abs(b.T @ h).sum(axis=0))
    return np.concatenate(out) if out else np.zeros(0)


def lazy_pwcca_weights(values: Any, rows: list[np.ndarray | None],
                       variates: list[np.ndarray]) -> list[np.ndarray]:
    """PWCCA's weights ``w_i = sum_j |<h_i, x_j>|`` over the units ``x_j`` of the dask array
    ``values`` ``(stimulus, unit)`` for each subset of stimuli (``rows``, None: all) and its
    canonical variates ``h`` ``(len(rows), r)``: one pass over the unit chunks for all."""
    total = sum_over_chunks(values, _pwcca_chunk, shared=(rows, variates))
    edges = np.cumsum([0] + [h.shape[1] for h in variates])
    return [np.asarray(total[a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)]
