"""Boundary checks: encoding weights and embedding banks in, numpy arrays out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from neurorep._errors import SchemaError
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
    return single_member(obj, name=name, hint="pass one embedding space")


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
        da = weights.transpose("unit", ...)
        fdim = da.dims[1]
        if da.shape[1] != d:
            raise SchemaError(
                f"{name}: the weights live in a {da.shape[1]}-D space ({fdim!r}) but the bank "
                f"embeddings are {d}-D; fit the encoding model on the same embeddings as the bank."
            )
        if fdim in da.coords and bank.feature_ids is not None:
            fid = np.asarray(da[fdim].values)
            same_set = set(fid.tolist()) == set(bank.feature_ids.tolist())
            if same_set and not np.array_equal(fid, bank.feature_ids):
                da = da.sel({fdim: bank.feature_ids})
            feature_ids = np.asarray(da[fdim].values)
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
