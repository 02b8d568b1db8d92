"""Boundary checks: features and responses in, aligned numpy/dask arrays out."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from neurorep._core.errors import AlignmentError, NeurorepWarning, SchemaError
from neurorep.data import align, members, reject_epochs, single_member

SAMPLE_DIMS = ("stimulus", "time")


@dataclass
class Prepared:
    """Aligned inputs: ``X`` (sample, feature) float64 numpy, ``Y`` (sample, unit) numpy or dask."""

    X: np.ndarray
    Y: Any
    sample_dim: str
    sample_coords: dict[str, Any]
    feature_ids: np.ndarray
    unit_ids: np.ndarray
    unit_coords: dict[str, Any]
    attrs: dict[str, Any]
    groups: np.ndarray | None
    feature_dim: str = "feature"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def lazy(self) -> bool:
        return not isinstance(self.Y, np.ndarray)


def complex_error(name: str, dtype: Any) -> SchemaError:
    """The error for complex input: the imaginary part must never be dropped silently."""
    return SchemaError(
        f"{name}: complex values (dtype {dtype}) are not supported; the imaginary part would be "
        f"lost. Pass a real array: the real part (x.real), the magnitude (np.abs(x)), or the "
        f"real and imaginary parts as separate features (np.concatenate([x.real, x.imag], axis=1))."
    )


def reject_complex(obj: Any, name: str) -> None:
    """Raise :func:`complex_error` for a complex array, DataArray or member of a set."""
    if isinstance(obj, xr.DataTree | Mapping):
        try:
            mem = members(obj)
        except Exception:  # not a representation set: let the schema check speak
            return
        for key, da in mem.items():
            reject_complex(da, f"{name}[{key!r}]")
        return
    dtype = getattr(obj, "dtype", None)
    if dtype is None and isinstance(obj, list | tuple):
        dtype = np.asarray(obj).dtype
    if dtype is not None and np.dtype(dtype).kind == "c":
        raise complex_error(name, dtype)


def as_real_float(values: Any, name: str) -> np.ndarray:
    """``np.asarray(values, float64)`` that refuses complex input instead of dropping ``.imag``."""
    arr = np.asarray(values)
    if arr.dtype.kind == "c":
        raise complex_error(name, arr.dtype)
    if arr.dtype.kind not in "fiub":
        raise SchemaError(f"{name}: values must be numeric; got dtype {arr.dtype}.")
    return arr.astype(np.float64, copy=False)


def as_feature_array(features: Any, *, name: str = "features") -> xr.DataArray | np.ndarray:
    """A single feature space: DataArray (sample, feature), a one-layer DataTree, or an array."""
    reject_complex(features, name)
    return single_member(
        features, name=name,
        hint="fit_ridge takes one feature space: pass one layer, or use fit_banded_ridge for several",
    )


def _check_2d(da: Any, name: str, *, second: str | None = None) -> None:
    if da.ndim != 2:
        extra = ""
        if isinstance(da, xr.DataArray) and "repetition" in da.dims:
            extra = " Average repeated presentations first: obj.mean('repetition')."
        raise SchemaError(
            f"{name} must be 2-D (stimulus or time, {second or 'unit'}); got "
            f"{da.ndim}-D with shape {da.shape}{' and dims ' + str(da.dims) if isinstance(da, xr.DataArray) else ''}.{extra}"
        )
    if 0 in da.shape:
        raise SchemaError(f"{name} is empty (shape {da.shape}); nothing to fit.")
    if isinstance(da, xr.DataArray) and da.dims[0] not in SAMPLE_DIMS:
        raise SchemaError(
            f"{name} must have 'stimulus' or 'time' as its first dim; got dims {da.dims}. "
            f"Transpose or rename, e.g. obj.rename({{{da.dims[0]!r}: 'stimulus'}})."
        )


def _finite_numpy(arr: np.ndarray, name: str, dim0: str) -> np.ndarray:
    if arr.dtype.kind == "c":
        raise complex_error(name, arr.dtype)
    if arr.dtype.kind not in "fiub":
        raise SchemaError(f"{name}: values must be numeric; got dtype {arr.dtype}.")
    # one pass without a temporary: a NaN or inf makes the sum non-finite (a finite sum that
    # overflows is checked value by value)
    if arr.dtype.kind != "f":
        return arr
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.add.reduce(arr, axis=None)
    if not np.isfinite(total):
        bad = ~np.isfinite(arr)
        if bad.any():
            rows = np.flatnonzero(bad.any(1))
            raise SchemaError(
                f"{name}: values must be finite; got NaN/inf in {len(rows)} {dim0} row(s), e.g. "
                f"rows {rows[:5].tolist()}. Drop them (obj.dropna('{dim0}', how='any')) or impute "
                f"them before fitting."
            )
    return arr


def is_lazy(data: Any) -> bool:
    return not isinstance(data, np.ndarray) and hasattr(data, "chunks") and hasattr(data, "compute")


def prepare(
    features: Any,
    responses: Any,
    *,
    groups: Any = None,
    feature_name: str = "features",
) -> Prepared:
    """Validate and align one feature space with responses (by stimulus id or time index)."""
    Xa = as_feature_array(features, name=feature_name)
    if isinstance(responses, xr.DataTree | Mapping):
        mem = members(responses)
        if len(mem) != 1:
            raise SchemaError(
                f"responses: got a set of {len(mem)} members {list(mem)[:6]}; pass one responses "
                f"DataArray (e.g. tree['IT'])."
            )
        responses = next(iter(mem.values()))
    if not isinstance(responses, xr.DataArray):
        arr = responses if is_lazy(responses) else np.asarray(responses)
        if arr.ndim == 1:
            arr = arr[:, None]
        responses = xr.DataArray(arr, dims=("stimulus" if not isinstance(Xa, xr.DataArray)
                                            or Xa.dims[0] == "stimulus" else "time", "unit"))
    Ya = responses
    reject_epochs(Xa, name=feature_name)
    reject_epochs(Ya, name="responses")
    _check_2d(Xa, feature_name, second="feature")
    _check_2d(Ya, "responses")
    if isinstance(Xa, xr.DataArray):
        sample_dim = str(Xa.dims[0])
        if Ya.dims[0] != sample_dim:
            raise SchemaError(
                f"{feature_name} run along {sample_dim!r} but responses along {Ya.dims[0]!r}; "
                f"both must share the sample dim (stimulus ids or time points)."
            )
        if sample_dim == "stimulus":
            for obj, label in ((Xa, feature_name), (Ya, "responses")):
                if "stimulus" not in obj.coords:
                    obj_ids = np.array([f"stim{i:04d}" for i in range(obj.shape[0])])
                    if label == "responses":
                        Ya = Ya.assign_coords(stimulus=obj_ids)
                    else:
                        Xa = Xa.assign_coords(stimulus=obj_ids)
            Xa, Ya = align(Xa, Ya, join="exact", names=(feature_name, "responses"))
        else:
            if Xa.shape[0] != Ya.shape[0]:
                raise AlignmentError(
                    f"{feature_name} and responses have {Xa.shape[0]} and {Ya.shape[0]} time "
                    f"points; a time series must have the same length on both sides."
                )
            for c in ("time", "run"):
                if c in Xa.coords and c in Ya.coords and not np.array_equal(
                    np.asarray(Xa[c].values), np.asarray(Ya[c].values)
                ):
                    raise AlignmentError(
                        f"{feature_name} and responses have different {c!r} coordinates; "
                        f"build the features from the same time axis as the responses."
                    )
        X_np = np.asarray(Xa.values)
        feature_dim = str(Xa.dims[1])
        feature_ids = (
            np.asarray(Xa[feature_dim].values) if feature_dim in Xa.coords
            else np.array([f"f{i}" for i in range(Xa.shape[1])])
        )
    else:
        sample_dim = str(Ya.dims[0])
        X_np = Xa
        feature_dim = "feature"
        feature_ids = np.array([f"f{i}" for i in range(Xa.shape[1])])
        if X_np.shape[0] != Ya.shape[0]:
            raise AlignmentError(
                f"{feature_name} have {X_np.shape[0]} rows but responses have {Ya.shape[0]}; "
                f"plain arrays are matched by position and need the same number of rows."
            )
    X = _finite_numpy(np.asarray(X_np), feature_name, sample_dim).astype(np.float64)
    if X.shape[0] > 1 and not np.ptp(X, axis=0).any():
        warnings.warn(
            f"{feature_name} are constant over the {sample_dim} dim; the model can only predict "
            f"the training mean (scores <= 0). Check that the right features were passed.",
            NeurorepWarning,
            stacklevel=3,
        )
    data = Ya.data
    if is_lazy(data):
        Y = data
        if Y.dtype.kind == "c":
            raise complex_error("responses", Y.dtype)
        if Y.dtype.kind not in "fiub":
            raise SchemaError(f"responses: values must be numeric; got dtype {Y.dtype}.")
    else:
        Y = _finite_numpy(np.asarray(data), "responses", sample_dim)
    n = X.shape[0]
    g = None
    if groups is not None:
        if isinstance(groups, str):
            if groups in Ya.coords and Ya[groups].dims == (sample_dim,):
                g = np.asarray(Ya[groups].values)
            elif isinstance(Xa, xr.DataArray) and groups in Xa.coords and Xa[groups].dims == (sample_dim,):
                g = np.asarray(Xa[groups].values)
            else:
                raise SchemaError(
                    f"groups={groups!r} is not a coordinate along {sample_dim!r} of the responses "
                    f"or features; pass a coordinate name (e.g. 'run') or one label per sample."
                )
        else:
            g = np.asarray(groups)
            if g.shape != (n,):
                raise ValueError(f"groups must have one label per sample ({n}); got shape {g.shape}.")
    elif sample_dim == "time" and "run" in Ya.coords:
        g = np.asarray(Ya["run"].values)
    sample_coords = {
        str(k): (sample_dim, np.asarray(v.values))
        for k, v in Ya.coords.items()
        if v.dims == (sample_dim,)
    }
    if sample_dim not in sample_coords:
        sample_coords[sample_dim] = (sample_dim, np.arange(n) if sample_dim == "time"
                                     else np.array([f"stim{i:04d}" for i in range(n)]))
    unit_coords = {
        str(k): ("unit", np.asarray(v.values)) for k, v in Ya.coords.items() if v.dims == ("unit",)
    }
    unit_ids = (
        np.asarray(Ya["unit"].values) if "unit" in Ya.coords
        else np.array([f"unit{i}" for i in range(Ya.shape[1])])
    )
    unit_coords["unit"] = ("unit", unit_ids)
    attrs = {k: v for k, v in Ya.attrs.items() if k in ("affine", "volume_shape", "tr")}
    return Prepared(X, Y, sample_dim, sample_coords, np.asarray(feature_ids), unit_ids,
                    unit_coords, attrs, g, feature_dim=feature_dim)


def check_alphas(alphas: Any) -> np.ndarray:
    raw = np.atleast_1d(np.asarray(alphas))
    if raw.dtype.kind == "c":
        raise complex_error("alphas", raw.dtype)
    arr = raw.astype(np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"alphas must be a non-empty 1-D sequence of positive numbers; got {alphas!r}.")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(
            f"alphas must be positive and finite; got {arr[(~np.isfinite(arr)) | (arr <= 0)][:5].tolist()}. "
            f"Use e.g. np.logspace(-2, 6, 9)."
        )
    if np.unique(arr).size != arr.size:
        raise ValueError("alphas must not repeat values.")
    return np.sort(arr)


def check_dtype(dtype: Any) -> np.dtype:
    if dtype in ("float32", np.float32):
        return np.dtype(np.float32)
    if dtype in ("float64", np.float64, float):
        return np.dtype(np.float64)
    raise ValueError(f"dtype must be one of ['float32', 'float64']; got {dtype!r}.")


def check_chunk_units(chunk_units: Any) -> None:
    """``chunk_units`` is None (the default size) or a positive int."""
    if chunk_units is None:
        return
    if isinstance(chunk_units, bool) or not isinstance(chunk_units, int | np.integer) or chunk_units < 1:
        raise ValueError(
            f"chunk_units must be a positive int (units per chunk) or None for the default "
            f"(about 4 M response values per chunk); got {chunk_units!r}. Use e.g. chunk_units=1024."
        )


def _scale_limits(dtype: np.dtype, n: int, n_cols: int) -> tuple[float, float]:
    """Largest and smallest value spread whose sums of squares stay finite and normal."""
    info = np.finfo(dtype)
    high = float(np.sqrt(float(info.max) / (16.0 * max(n, 1) * max(n_cols, 1))))
    low = float(np.sqrt(float(info.tiny))) * 100.0
    return high, low


def check_scale(spread: np.ndarray, *, name: str, dtype: np.dtype, n: int, n_cols: int = 1,
                what: str = "column", each: bool = False) -> None:
    """Refuse values whose products overflow (or underflow) in the working ``dtype``.

    ``spread`` holds, per column, the largest distance of a value from the
    column's centre (or its range). Ridge sums squares and cross-products of
    ``n`` such values over ``n_cols`` columns: values that large give inf/NaN,
    values that small give exact zeros (a zero-rank fit); both would be wrong
    results, not errors, further down. ``each=True`` (responses, whose units
    are fitted one by one) checks the smallest non-zero spread of every
    column, not only the largest: one unit too small for ``dtype`` would
    otherwise come out as NaN scores among valid ones.
    """
    spread = np.asarray(spread, dtype=np.float64)
    if spread.size == 0:
        return
    top = float(np.max(spread))
    high, low = _scale_limits(dtype, n, n_cols)
    fix = (
        f"Rescale them, e.g. z-score each {what} ((x - x.mean(0)) / x.std(0)) or multiply by a "
        f"constant"
    )
    if not np.isfinite(top) or top > high:
        alt = ""
        if np.dtype(dtype) == np.float32:
            high64, _ = _scale_limits(np.dtype(np.float64), n, n_cols)
            if np.isfinite(top) and top <= high64:
                alt = f"; or pass dtype='float64', which allows a spread up to {high64:.1e}"
        raise SchemaError(
            f"{name}: values spread up to {top:.3g} within a {what}, too large for {np.dtype(dtype)} "
            f"ridge arithmetic on {n} samples (sums of squares overflow above a spread of "
            f"{high:.1e}). {fix}{alt}."
        )
    positive = spread[spread > 0]
    bottom = float(np.min(positive)) if each and positive.size else top
    if 0 < bottom < low:
        alt = ""
        if np.dtype(dtype) == np.float32:
            _, low64 = _scale_limits(np.dtype(np.float64), n, n_cols)
            if bottom >= low64:
                alt = f"; or pass dtype='float64', which allows a spread down to {low64:.1e}"
        where = (
            f"{int((positive < low).sum())} {what}(s) spread as little as {bottom:.3g}"
            if each else f"values spread at most {bottom:.3g} within a {what}"
        )
        raise SchemaError(
            f"{name}: {where}, too small for {np.dtype(dtype)} ridge arithmetic (squares "
            f"underflow to zero below a spread of {low:.1e}, so the scores would be NaN). "
            f"{fix}{alt}."
        )


def warn_constant(n_constant: int, n_units: int) -> None:
    if n_constant:
        warnings.warn(
            f"{n_constant} of {n_units} response unit(s) are constant (no variance); their "
            f"scores are NaN and their weights 0. Drop them with "
            f"responses.where(responses.std('stimulus') > 0, drop=True) to silence this.",
            NeurorepWarning,
            stacklevel=3,
        )


def warn_unresolved_r(
    r: np.ndarray, r2: np.ndarray, dtype: Any, *, func: str, stacklevel: int = 4
) -> None:
    """Warn when Pearson r is NaN for units whose R^2 is a number.

    The pooled held-out predictions of such a unit (at its chosen alpha) vary less than
    the rounding of ``dtype`` resolves (relative spread below ~100 eps of their size),
    so their correlation with the responses is not computable (the held-out R^2 is).
    """
    bad = np.isnan(np.asarray(r, dtype=np.float64)) & ~np.isnan(np.asarray(r2, dtype=np.float64))
    if not bad.any():
        return
    fix = (
        "Refit with dtype='float64' to resolve smaller variations"
        if np.dtype(dtype) == np.float32
        else "The features predict (almost) nothing beyond the intercept: with ridge, e.g. a "
        "feature far larger than the responses and constant but for a few stimuli; "
        "standardise the features or use smaller alphas"
    )
    warnings.warn(
        f"{func}: Pearson r is NaN for {int(bad.sum())} of {bad.size} unit(s): their pooled "
        f"held-out predictions are constant or vary less than {np.dtype(dtype).name} "
        f"rounding resolves, so their correlation is undefined (R^2 is reported). {fix}.",
        NeurorepWarning,
        stacklevel=stacklevel,
    )
