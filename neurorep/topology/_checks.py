"""Input checks and small array helpers shared by the topology family (private)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from neurorep._core.errors import SchemaError, check_real
from neurorep.data import RDM_DIMS, rdm_vectors, validate


def check_rdm(rdm: Any, *, name: str = "rdm", allow_inf: bool = False) -> xr.DataArray:
    """Validate an RDM DataArray (stacks allowed) and require non-negative values.

    ``allow_inf`` lets ``+inf`` through (geodesic RDMs: disconnected pairs).
    """
    if not allow_inf:
        rdm_vectors_checked(rdm, name=name)
        return rdm
    return _check_rdm_full(rdm, name=name, allow_inf=allow_inf)


def rdm_vectors_checked(rdm: Any, *, name: str = "rdm") -> np.ndarray:
    """The ``(k, m)`` condensed vectors of an RDM (stack), checked as :func:`check_rdm`
    does (one pass over the values when they are fine; the full checks name a fault)."""
    if isinstance(rdm, xr.DataArray) and tuple(rdm.dims[-2:]) == RDM_DIMS:
        check_real(rdm.data, name=name)
        try:
            vec = rdm_vectors(rdm, name)
        except SchemaError:
            vec = None
        if vec is not None and not vec.min(initial=0.0) < 0:
            return vec
    _check_rdm_full(rdm, name=name)
    return rdm_vectors(rdm, name)  # (not reached: the full checks raise)


def _check_rdm_full(rdm: Any, *, name: str, allow_inf: bool = False) -> xr.DataArray:
    if not isinstance(rdm, xr.DataArray):
        raise SchemaError(
            f"{name}: expected an RDM xarray.DataArray with last dims {RDM_DIMS}; got "
            f"{type(rdm).__name__}. Build one with neurorep.data.rdm(values, stimulus=ids)."
        )
    if tuple(rdm.dims[-2:]) != RDM_DIMS:
        raise SchemaError(
            f"{name}: an RDM's last two dims must be {RDM_DIMS}; got {tuple(rdm.dims)}. "
            f"Build one with neurorep.data.rdm(values, stimulus=ids) or rename the dims."
        )
    check_real(rdm.data, name=name)
    vals = np.asarray(rdm.values, dtype=float)
    if np.isnan(vals).any():
        bad = int(np.isnan(vals).sum())
        raise SchemaError(
            f"{name}: dissimilarities must not be NaN; got {bad} NaN value(s). Drop the "
            f"affected stimuli (e.g. rdm.sel(stimulus_i=keep, stimulus_j=keep)) or recompute."
        )
    if np.isneginf(vals).any() or (np.isposinf(vals).any() and not allow_inf):
        raise SchemaError(
            f"{name}: dissimilarities must be finite; got {int(np.isinf(vals).sum())} infinite "
            f"value(s)."
        )
    finite = rdm
    if allow_inf and np.isposinf(vals).any():
        big = float(np.max(vals[np.isfinite(vals)], initial=0.0)) * 2 + 1.0
        finite = rdm.copy(data=np.where(np.isposinf(vals), big, vals))
    validate(finite, kind="rdm", name=name)
    vmin = float(np.min(vals))
    if vmin < 0:
        raise SchemaError(
            f"{name}: dissimilarities must be non-negative; the smallest is {vmin:.3g}. "
            f"If these are similarities (e.g. correlations), convert them (1 - r); if they are "
            f"cross-validated distances, clip or shift them before a topological analysis."
        )
    return rdm


def check_thresholds(lower: float, upper: float, *, rank: bool) -> tuple[float, float]:
    """Check a (lower, upper) pair and return it as floats."""
    try:
        lo, up = float(lower), float(upper)
    except (TypeError, ValueError):
        raise TypeError(f"lower and upper must be numbers; got {lower!r} and {upper!r}.") from None
    if not (np.isfinite(lo) and np.isfinite(up)):
        raise ValueError(f"lower and upper must be finite; got lower={lo}, upper={up}.")
    if lo > up:
        raise ValueError(
            f"lower must be <= upper; got lower={lo} > upper={up}. Swap them "
            f"(lower=0 keeps the smallest distances at 0, upper=1 clips the largest at 1)."
        )
    if rank and (lo < 0 or up > 1):
        raise ValueError(
            f"with rank=True the thresholds are quantile levels of the ranked distances and must "
            f"lie in [0, 1]; got lower={lo}, upper={up}. Pass rank=False to threshold raw "
            f"dissimilarity values."
        )
    if not rank and lo < 0:
        raise ValueError(
            f"with rank=False the thresholds are dissimilarity values and must be >= 0; got "
            f"lower={lo}."
        )
    return lo, up


def members_of(rdm_set: Any, *, name: str) -> dict[str, xr.DataArray]:
    from neurorep.data import members

    if isinstance(rdm_set, xr.DataArray):
        raise SchemaError(
            f"{name}: expected a representation set (a DataTree or a mapping name -> RDM "
            f"stack); got a single DataArray. Wrap it: {{'name': rdm}}."
        )
    if not isinstance(rdm_set, Mapping | xr.DataTree):
        raise SchemaError(
            f"{name}: expected a DataTree or a mapping name -> RDM; got {type(rdm_set).__name__}."
        )
    out = members(rdm_set)
    if not out:
        raise SchemaError(f"{name}: the set holds no RDMs.")
    return out


# ----------------------------------------------------------------------------
# distances from responses (private; the rsa family owns the public RDM API)
# ----------------------------------------------------------------------------
def _euclidean(x: np.ndarray) -> np.ndarray:
    sq = (x * x).sum(axis=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    np.maximum(d2, 0.0, out=d2)
    d = np.sqrt(d2)
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0.0)
    return d


def _correlation(x: np.ndarray) -> np.ndarray:
    z = x - x.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(z, axis=1, keepdims=True)
    if np.any(norm == 0):
        raise SchemaError(
            "responses: a stimulus has the same response in every unit, so its correlation "
            "distance is undefined; use metric='euclidean' or drop that stimulus."
        )
    z /= norm
    d = 1.0 - z @ z.T
    np.maximum(d, 0.0, out=d)
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0.0)
    return d


DISTANCES = {"euclidean": _euclidean, "correlation": _correlation}


def responses_matrix(obj: xr.DataArray, *, name: str) -> np.ndarray:
    """Stimulus x unit float64 matrix of a responses DataArray (validated)."""
    check_real(obj.data, name=name)
    validate(obj, kind="responses", name=name)
    if tuple(obj.dims) != ("stimulus", "unit"):
        raise SchemaError(
            f"{name}: expected responses with dims ('stimulus', 'unit'); got {tuple(obj.dims)}. "
            f"Average repetitions first (obj.mean('repetition')); time series need a design "
            f"model to become stimulus responses."
        )
    return np.ascontiguousarray(obj.values, dtype=np.float64)


def as_rdm(obj: Any, *, metric: str, name: str, allow_inf: bool = False) -> xr.DataArray:
    """An RDM from an RDM (checked) or from responses ``(stimulus, unit)``."""
    from neurorep._core.errors import check_option
    from neurorep.data import rdm as make_rdm

    if isinstance(obj, xr.DataArray) and tuple(obj.dims[-2:]) == RDM_DIMS:
        return check_rdm(obj, name=name, allow_inf=allow_inf)
    if isinstance(obj, xr.DataArray):
        check_option("metric", metric, DISTANCES)
        x = responses_matrix(obj, name=name)
        # on data divided by a power of two (exact), so that x @ x.T cannot overflow
        # (1e200) or underflow (1e-200); euclidean distances are scaled back
        peak = float(np.abs(x).max())
        e = int(np.frexp(peak)[1]) if np.isfinite(peak) and peak > 0 else 0
        e = e if abs(e) > 64 else 0  # ordinary data: no copy, no change
        d = DISTANCES[metric](np.ldexp(x, -e) if e else x)
        if metric == "euclidean" and e:
            with np.errstate(over="ignore"):
                d = np.ldexp(d, e)
            if not np.isfinite(d).all():
                raise SchemaError(
                    f"{name}: euclidean distances overflow float64 at this data scale (largest "
                    f"|response| {peak:.3g}). Rescale the responses first, e.g. "
                    f"responses / float(abs(responses).max()), or use metric='correlation'."
                )
        return make_rdm(d, stimulus=obj["stimulus"].values, metric=metric, name="rdm")
    raise SchemaError(
        f"{name}: expected an RDM (dims (..., 'stimulus_i', 'stimulus_j')) or responses (dims "
        f"('stimulus', 'unit')) as an xarray.DataArray; got {type(obj).__name__}. Wrap arrays "
        f"with neurorep.data.rdm(...) or neurorep.data.responses(...)."
    )
