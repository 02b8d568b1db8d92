"""Boundary checks: encoding weights and embedding banks in, numpy arrays out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from neurorep._core.errors import SchemaError, check_real
from neurorep.data import single_member

#: Working set of one unit chunk, in bank entries (about 12 bytes each: the
#: float32 score matrix plus argpartition's int64 indices), so ~200 MB.
CHUNK_ELEMENTS = 16_000_000


@dataclass
class Bank:
    """An embedding bank: ``E`` (n, d) contiguous, ids, optional texts, norms."""

    E: np.ndarray
    ids: np.ndarray
    texts: np.ndarray | None
    feature_ids: np.ndarray | None
    norms: np.ndarray
    coords: dict[str, np.ndarray]


@dataclass
class Weights:
    """Encoding weights ``W`` (unit, d) as given (numpy or dask slices), unit coords, intercept."""

    W: Any
    unit_ids: np.ndarray
    unit_coords: dict[str, Any]
    intercept: np.ndarray | None
    feature_ids: np.ndarray | None

    @property
    def n_units(self) -> int:
        return int(self.W.shape[0])


def rows_or_none(x: np.ndarray) -> str:
    return ", ".join(str(v) for v in x[:5]) + (" ..." if x.size > 5 else "")


def _as_2d_da(obj: Any, name: str) -> xr.DataArray | np.ndarray:
    out = single_member(obj, name=name, hint="pass one embedding space")
    check_real(out.data if isinstance(out, xr.DataArray) else out, name=name)
    return out


def check_finite_rows(X: np.ndarray, ids: np.ndarray, name: str, what: str) -> None:
    bad = ~np.isfinite(X).all(axis=1)
    if bad.any():
        raise SchemaError(
            f"{name}: {int(bad.sum())} {what}(s) hold NaN or inf values ({rows_or_none(ids[bad])}); "
            f"embeddings must be finite. Drop or re-embed those rows."
        )


def prepare_bank(bank: Any, *, name: str = "bank", dtype: Any = np.float32) -> Bank:
    """Validate an embedding bank: DataArray (stimulus, feature) or array (n, d)."""
    da = _as_2d_da(bank, name)
    if da.ndim != 2:
        raise SchemaError(
            f"{name}: expected 2-D embeddings (stimulus, feature); got {da.ndim}-D shape {da.shape}."
        )
    if isinstance(da, xr.DataArray):
        if "stimulus" not in da.dims:
            raise SchemaError(
                f"{name}: expected dims ('stimulus', <embedding dim>); got {da.dims}. Rename the "
                f"row dim, e.g. bank.rename({da.dims[0]}='stimulus')."
            )
        da = da.transpose("stimulus", ...)
        fdim = da.dims[1]
        ids = np.asarray(da["stimulus"].values) if "stimulus" in da.coords else np.arange(da.shape[0])
        feature_ids = np.asarray(da[fdim].values) if fdim in da.coords else None
        texts = np.asarray(da["text"].values, dtype=object) if "text" in da.coords else None
        coords = {
            str(k): np.asarray(v.values)
            for k, v in da.coords.items()
            if v.dims == ("stimulus",) and k not in ("stimulus", "text")
        }
        values = da.values
    else:
        ids = np.array([f"bank{i:05d}" for i in range(da.shape[0])], dtype=object)
        feature_ids, texts, coords, values = None, None, {}, da
    if da.shape[0] == 0:
        raise SchemaError(f"{name}: the bank is empty (shape {da.shape}); give at least one embedding.")
    if da.shape[1] == 0:
        raise SchemaError(f"{name}: embeddings have dimension 0 (shape {da.shape}).")
    E = np.ascontiguousarray(values, dtype=dtype)
    ids = np.asarray(ids)
    check_finite_rows(E, ids, name, "bank entry")
    norms = np.linalg.norm(E.astype(np.float64), axis=1)
    zero = norms == 0
    if zero.any():
        raise SchemaError(
            f"{name}: {int(zero.sum())} bank entr(ies) have all-zero embeddings "
            f"({rows_or_none(ids[zero])}); cosine similarity is undefined. Drop them."
        )
    return Bank(E=E, ids=ids, texts=texts, feature_ids=feature_ids, norms=norms, coords=coords)


def _align_features(
    da: xr.DataArray, fdim: Any, bank_ids: np.ndarray, name: str
) -> xr.DataArray:
    """Reorder the weights' features to the bank's by id; raise when the ids differ."""
    fid = np.asarray(da[fdim].values)
    if np.array_equal(fid, bank_ids):
        return da
    have, want = set(fid.tolist()), set(bank_ids.tolist())
    if len(have) != fid.size:
        raise SchemaError(f"{name}: feature ids along {fdim!r} are not unique; give each feature one id.")
    if have == want:
        return da.sel({fdim: bank_ids})
    missing = [v for v in bank_ids.tolist() if v not in have]
    extra = [v for v in fid.tolist() if v not in want]
    if not have & want:
        what = (
            f"share no feature id with the bank (weights {rows_or_none(fid)}; bank "
            f"{rows_or_none(bank_ids)})"
        )
    else:
        what = (
            f"and the bank's feature ids differ: {len(missing)} bank feature(s) have no weight "
            f"({rows_or_none(np.asarray(missing, dtype=object))}) and {len(extra)} weight(s) no "
            f"bank feature ({rows_or_none(np.asarray(extra, dtype=object))})"
        )
    raise SchemaError(
        f"{name}: the weights' features ({fdim!r}) {what}. Weights are matched to the bank's "
        f"embedding dims by id, never by position: fit the encoding model on the same "
        f"embeddings as the bank, or give both the same feature ids (e.g. "
        f"weights.assign_coords({fdim}=bank_feature_ids) if they are known to be in the same order)."
    )


def prepare_weights(weights: Any, bank: Bank, *, name: str = "weights") -> Weights:
    """Validate encoding weights against a bank: (feature, unit) or (unit, feature).

    Accepts a :func:`neurorep.encoding.fit_ridge` result (its ``weights`` and
    ``intercept``), a DataArray with a ``unit`` dim and one feature dim in
    either order, or a numpy array ``(unit, feature)``.
    """
    intercept = None
    if isinstance(weights, xr.Dataset):
        if "weights" not in weights.data_vars:
            raise SchemaError(
                f"{name}: a Dataset must hold a 'weights' variable (a fit_ridge result); got "
                f"{list(weights.data_vars)}."
            )
        if "intercept" in weights.data_vars:
            intercept = np.asarray(weights["intercept"].values, dtype=np.float64)
        weights = weights["weights"]
    d = bank.E.shape[1]
    feature_ids = None
    if isinstance(weights, xr.DataArray):
        if weights.ndim != 2 or "unit" not in weights.dims:
            raise SchemaError(
                f"{name}: expected dims ('feature', 'unit') or ('unit', 'feature'); got "
                f"{weights.dims}. Name the unit dim 'unit'."
            )
        check_real(weights.data, name=name)
        da = weights.transpose("unit", ...)
        fdim = da.dims[1]
        if fdim in da.coords and bank.feature_ids is not None:
            da = _align_features(da, fdim, bank.feature_ids, name)
            feature_ids = np.asarray(da[fdim].values)
        if da.shape[1] != d:
            raise SchemaError(
                f"{name}: the weights live in a {da.shape[1]}-D space ({fdim!r}) but the bank "
                f"embeddings are {d}-D; fit the encoding model on the same embeddings as the bank."
            )
        unit_ids = np.asarray(da["unit"].values) if "unit" in da.coords else np.arange(da.shape[0])
        unit_coords = {
            str(k): np.asarray(v.values)
            for k, v in da.coords.items()
            if v.dims == ("unit",) and k != "unit"
        }
        W = da.data
    else:
        W = _as_2d_da(weights, name)
        if W.ndim != 2:
            raise SchemaError(f"{name}: expected a 2-D array (unit, feature); got shape {W.shape}.")
        if W.shape[1] != d:
            hint = (
                " It looks like (feature, unit): pass weights.T."
                if W.shape[0] == d
                else " Fit the encoding model on the same embeddings as the bank."
            )
            raise SchemaError(
                f"{name}: a numpy array is read as (unit, feature); its {W.shape[1]} features do "
                f"not match the {d}-D bank embeddings.{hint}"
            )
        unit_ids = np.array([f"unit{i:05d}" for i in range(W.shape[0])], dtype=object)
        unit_coords = {}
    if W.shape[0] == 0:
        raise SchemaError(f"{name}: no units (shape {W.shape}).")
    if intercept is not None and intercept.shape != (W.shape[0],):
        intercept = None
    return Weights(W=W, unit_ids=unit_ids, unit_coords=unit_coords, intercept=intercept,
                   feature_ids=feature_ids)


def weights_chunk(weights: Weights, start: int, stop: int, dtype: Any) -> np.ndarray:
    """One unit chunk as a contiguous array, with its finite / non-zero checks."""
    Wc = np.ascontiguousarray(np.asarray(weights.W[start:stop]), dtype=dtype)
    ids = weights.unit_ids[start:stop]
    check_finite_rows(Wc, ids, "weights", "unit")
    zero = ~np.any(Wc != 0, axis=1)
    if zero.any():
        raise SchemaError(
            f"weights: {int(zero.sum())} unit(s) have all-zero weights ({rows_or_none(ids[zero])}), "
            f"so they have no direction to caption (fit_ridge gives zero weights to constant "
            f"units). Drop them first, e.g. "
            f"weights.isel(unit=np.flatnonzero(abs(weights).sum('feature') > 0))."
        )
    return Wc


def chunk_size(n_bank: int, chunk_units: int | None) -> int:
    if chunk_units is not None:
        if int(chunk_units) < 1:
            raise ValueError(f"chunk_units must be a positive integer; got {chunk_units!r}.")
        return int(chunk_units)
    return max(1, CHUNK_ELEMENTS // max(n_bank, 1))


def check_dtype(dtype: Any) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be one of ['float32', 'float64']; got {dtype!r}.")
    return dt
