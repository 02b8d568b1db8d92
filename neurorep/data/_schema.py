"""The neurorep data model: constructors and validation (DESIGN.md section 1).

Everything is plain xarray:

* responses -- ``DataArray`` with dims ``("stimulus", "unit")``,
  ``("stimulus", "repetition", "unit")`` or ``("time", "unit")``;
* activations -- ``DataTree`` with one child node per layer, each holding a
  variable ``"activations"`` with dims ``("stimulus", "unit")``;
* RDM -- ``DataArray`` whose last two dims are ``("stimulus_i", "stimulus_j")``
  (leading dims such as ``subject`` stack several RDMs);
* results -- ``Dataset`` with the fixed variable names of DESIGN.md.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd
import xarray as xr

from neurorep._errors import SchemaError
from neurorep._workspace import run_blocks, scratch

RESPONSE_DIMS: tuple[tuple[str, ...], ...] = (
    ("stimulus", "unit"),
    ("stimulus", "repetition", "unit"),
    ("time", "unit"),
)
RDM_DIMS = ("stimulus_i", "stimulus_j")
LAYER_VAR = "activations"
RESPONSES_VAR = "responses"
RDM_VAR = "rdm"
RESULT_VARS = (
    "score",
    "pvalue",
    "ci_low",
    "ci_high",
    "ceiling",
    "normalized_score",
    "alpha",
    "null_distribution",
)

Kind = Literal["responses", "activations", "rdm", "result", "set"]
IdsLike: TypeAlias = Sequence[Hashable] | np.ndarray | pd.Index


# ----------------------------------------------------------------------------
# constructors
# ----------------------------------------------------------------------------
def _as_ids(values: Any, n: int, *, what: str, name: str) -> np.ndarray:
    if values is None:
        width = len(str(max(n - 1, 0)))
        return np.array([f"{what}{i:0{width}d}" for i in range(n)])
    ids = np.asarray(values)
    if ids.ndim != 1 or ids.shape[0] != n:
        raise SchemaError(
            f"{name}: expected {n} {what} ids (one per row/column of the values); "
            f"got an array of shape {ids.shape}. Pass {what}= with one id per {what}."
        )
    if ids.dtype.kind not in "USO":
        ids = ids.astype(str)
    else:
        ids = np.array([str(v) for v in ids])
    _check_unique(ids, dim=what, name=name)
    return ids


def coord_index(da: xr.DataArray, dim: str) -> pd.Index:
    """The ids along ``dim`` as a pandas Index: xarray's own when the dim is indexed
    (no copy; pandas caches its uniqueness), else built from the coordinate."""
    index = da.indexes.get(dim)
    if isinstance(index, pd.Index):
        return index
    return pd.Index(np.asarray(da[dim].values))


def _check_unique(ids: np.ndarray | pd.Index, *, dim: str, name: str) -> None:
    index = ids if isinstance(ids, pd.Index) else pd.Index(ids)
    if not index.is_unique:
        dup = index[index.duplicated()].unique()[:5].tolist()
        raise SchemaError(
            f"{name}: {dim} ids must be unique; got {index.duplicated().sum()} duplicated "
            f"id(s), e.g. {dup}. Give each {dim} its own id (average repeated presentations, "
            f"or keep them on a 'repetition' dim)."
        )


def _broadcast_coord(value: Any, n: int, *, coord: str, dim: str, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return np.full(n, arr.item() if arr.dtype.kind != "O" else str(arr.item()))
    if arr.shape != (n,):
        raise SchemaError(
            f"{name}: coordinate {coord!r} must be a scalar or have one value per {dim} "
            f"({n}); got shape {arr.shape}."
        )
    return arr


def responses(
    values: Any,
    *,
    stimulus: IdsLike | None = None,
    unit: IdsLike | None = None,
    repetition: IdsLike | None = None,
    time: bool = False,
    region: Any = None,
    subject: Any = None,
    stimulus_coords: Mapping[str, Any] | None = None,
    unit_coords: Mapping[str, Any] | None = None,
    attrs: Mapping[str, Any] | None = None,
    name: str = RESPONSES_VAR,
) -> xr.DataArray:
    """Build a schema-valid responses ``DataArray``.

    Parameters
    ----------
    values : array-like or pandas.DataFrame
        ``(stimulus, unit)``; ``(stimulus, repetition, unit)`` when 3-D; or
        ``(time, unit)`` when ``time=True``. A DataFrame gives stimulus ids
        from its index and unit ids from its columns.
    stimulus, unit, repetition : sequence, optional
        Ids along each dim (stringified). Default ``stim000``, ``unit000``...
    time : bool
        Values are a time series ``(time, unit)``; stimulus-level coordinates
        (``run``, ``label``) then go in ``stimulus_coords`` and follow ``time``.
    region, subject : scalar or sequence, optional
        Per-unit coordinates (a scalar is broadcast to every unit).
    stimulus_coords, unit_coords : mapping, optional
        Extra coordinates along the stimulus (or time) and unit dims.
    attrs : mapping, optional
        Provenance kept in ``.attrs``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> r = data.responses(np.ones((3, 2)), stimulus=["a", "b", "c"], region="V1")
    >>> r.dims
    ('stimulus', 'unit')
    """
    if isinstance(values, pd.DataFrame):
        if stimulus is None:
            stimulus = list(values.index)
        if unit is None:
            unit = list(values.columns)
        values = values.to_numpy()
    if not hasattr(values, "ndim"):
        values = np.asarray(values)
    if values.ndim == 2:
        dims: tuple[str, ...] = ("time", "unit") if time else ("stimulus", "unit")
    elif values.ndim == 3 and not time:
        dims = ("stimulus", "repetition", "unit")
    else:
        raise SchemaError(
            f"{name}: values must be 2-D (stimulus, unit), 3-D (stimulus, repetition, unit) "
            f"or 2-D (time, unit) with time=True; got {values.ndim}-D shape {values.shape}."
        )
    if 0 in values.shape:
        raise SchemaError(f"{name}: values are empty (shape {values.shape}); nothing to analyse.")
    coords: dict[str, Any] = {}
    first = dims[0]
    if time:
        coords["time"] = np.arange(values.shape[0])
    else:
        coords["stimulus"] = _as_ids(stimulus, values.shape[0], what="stimulus", name=name)
    coords["unit"] = _as_ids(unit, values.shape[-1], what="unit", name=name)
    if values.ndim == 3:
        coords["repetition"] = _as_ids(repetition, values.shape[1], what="repetition", name=name)
    n_unit = values.shape[-1]
    for cname, cval in (("region", region), ("subject", subject)):
        if cval is not None:
            coords[cname] = (
                "unit",
                _broadcast_coord(cval, n_unit, coord=cname, dim="unit", name=name),
            )
    for cname, cval in (unit_coords or {}).items():
        coords[cname] = ("unit", _broadcast_coord(cval, n_unit, coord=cname, dim="unit", name=name))
    for cname, cval in (stimulus_coords or {}).items():
        coords[cname] = (
            first,
            _broadcast_coord(cval, values.shape[0], coord=cname, dim=first, name=name),
        )
    out = xr.DataArray(values, dims=dims, coords=coords, name=name, attrs=dict(attrs or {}))
    validate(out, kind="responses", name=name)
    return out


def activations(
    layers: Mapping[str, Any],
    *,
    stimulus: IdsLike | None = None,
    model: str = "model",
    depth: Mapping[str, float] | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> xr.DataTree:
    """Build an activations ``DataTree``: one child node per layer.

    Parameters
    ----------
    layers : mapping of layer name -> array-like ``(stimulus, unit)`` or responses DataArray
        In network order (first = closest to the input).
    stimulus : sequence, optional
        Stimulus ids shared by every layer (ignored for DataArray members,
        which keep their own ids and must agree with each other).
    model : str
        Model name, stored as the root ``model`` attr.
    depth : mapping, optional
        Normalised depth (0..1) per layer; default evenly spaced in the given order.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> acts = data.activations({"l1": np.ones((3, 4)), "l2": np.ones((3, 2))},
    ...                         stimulus=["a", "b", "c"], model="toy")
    >>> list(acts.children)
    ['l1', 'l2']
    """
    if not layers:
        raise SchemaError("activations: got no layers; pass a mapping {layer_name: values}.")
    names = list(layers)
    n = len(names)
    nodes: dict[str, xr.Dataset] = {}
    for i, layer in enumerate(names):
        if "/" in str(layer):
            raise SchemaError(f"activations: layer names cannot contain '/'; got {layer!r}.")
        vals = layers[layer]
        if isinstance(vals, xr.DataArray):
            da = vals.rename(LAYER_VAR)
            validate(da, kind="responses", name=f"activations[{layer!r}]")
        else:
            da = responses(vals, stimulus=stimulus, name=LAYER_VAR)
        d = float(depth[layer]) if depth is not None else (i / (n - 1) if n > 1 else 0.0)
        ds = da.to_dataset()
        ds.attrs = {"layer": str(layer), "depth": d}
        nodes[str(layer)] = ds
    root = xr.Dataset(attrs={"model": model, **dict(attrs or {})})
    tree = xr.DataTree.from_dict({"/": root, **{f"/{k}": v for k, v in nodes.items()}})
    validate(tree, kind="activations", name="activations")
    return tree


def rdm(
    values: Any,
    *,
    stimulus: IdsLike | None = None,
    metric: str = "unknown",
    dim: str | None = None,
    index: IdsLike | None = None,
    attrs: Mapping[str, Any] | None = None,
    name: str = RDM_VAR,
) -> xr.DataArray:
    """Build an RDM ``DataArray`` from a square matrix, a condensed vector or a stack.

    Parameters
    ----------
    values : array-like
        ``(n, n)`` square, ``(n*(n-1)/2,)`` condensed (scipy ``squareform``
        order), or a stack ``(k, n, n)`` / ``(k, n*(n-1)/2)`` with ``dim=``.
    stimulus : sequence, optional
        Condition ids, shared by both stimulus dims.
    metric : str
        Dissimilarity name, stored in ``attrs["metric"]``.
    dim, index : optional
        Name and labels of the leading dim of a stack (e.g. ``"subject"``).

    Examples
    --------
    >>> from neurorep import data
    >>> r = data.rdm([1.0, 2.0, 3.0], stimulus=["a", "b", "c"], metric="euclidean")
    >>> r.shape
    (3, 3)
    """
    arr = np.asarray(values, dtype=float)
    stacked = dim is not None
    if not stacked:
        arr = arr[None]
    if arr.ndim == 2:  # (k, n_pairs) condensed
        n_pairs = arr.shape[1]
        n = int(round((1 + np.sqrt(1 + 8 * n_pairs)) / 2))
        if n * (n - 1) // 2 != n_pairs:
            raise SchemaError(
                f"{name}: a condensed RDM needs n*(n-1)/2 entries; {n_pairs} is not of that form."
            )
        iu = np.triu_indices(n, 1)
        square = np.zeros((arr.shape[0], n, n))
        square[:, iu[0], iu[1]] = arr
        square[:, iu[1], iu[0]] = arr
        arr = square
    if arr.ndim != 3 or arr.shape[1] != arr.shape[2]:
        raise SchemaError(
            f"{name}: expected a square (n, n) matrix, a condensed vector, or a stack with "
            f"dim=; got shape {np.shape(values)}."
        )
    n = arr.shape[1]
    coords: dict[str, Any] = {}
    ids = _as_ids(stimulus, n, what="stimulus", name=name)
    coords["stimulus_i"] = ids
    coords["stimulus_j"] = ids
    if stacked:
        assert dim is not None
        coords[dim] = np.asarray(index) if index is not None else np.arange(arr.shape[0])
        out = xr.DataArray(arr, dims=(dim, *RDM_DIMS), coords=coords, name=name)
    else:
        out = xr.DataArray(arr[0], dims=RDM_DIMS, coords=coords, name=name)
    out.attrs = {"metric": metric, **dict(attrs or {})}
    validate(out, kind="rdm", name=name)
    return out


# ----------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------
def infer_kind(obj: Any) -> Kind:
    """Which part of the data model ``obj`` is: responses, activations, rdm, result or set."""
    if isinstance(obj, xr.DataTree):
        leaves = [n for n in obj.subtree if not n.children and n is not obj]
        if leaves and all(LAYER_VAR in n.ds.data_vars for n in leaves):
            return "activations"
        return "set"
    if isinstance(obj, xr.Dataset):
        return "result"
    if isinstance(obj, xr.DataArray):
        if obj.dims[-2:] == RDM_DIMS:
            return "rdm"
        return "responses"
    if isinstance(obj, Mapping):
        return "set"
    raise SchemaError(
        f"expected an xarray DataArray, Dataset or DataTree; got {type(obj).__name__}. "
        f"Build one with neurorep.data.responses(...), activations(...) or rdm(...)."
    )


def _check_finite(da: xr.DataArray, name: str) -> None:
    data = da.data
    if not isinstance(data, np.ndarray):  # dask or other lazy arrays: checked chunk-wise later
        return
    if data.dtype.kind not in "fc":
        if data.dtype.kind in "iub":
            return
        raise SchemaError(f"{name}: values must be numeric; got dtype {data.dtype}.")
    finite = np.isfinite(data)
    if not finite.all():
        bad = int((~finite).sum())
        where = np.argwhere(~finite)[0].tolist()
        raise SchemaError(
            f"{name}: values must be finite; got {bad} NaN/inf value(s), the first at index "
            f"{dict(zip(da.dims, where, strict=True))}. Drop those stimuli/units "
            f"(e.g. obj.dropna('unit')) or impute them before the analysis."
        )


def _validate_responses(da: xr.DataArray, name: str) -> None:
    if tuple(da.dims) not in RESPONSE_DIMS:
        fix = ""
        if "unit" not in da.dims and len(da.dims) == 2:
            fix = f" Rename, e.g. obj.rename({{{da.dims[1]!r}: 'unit'}})."
        elif len(da.dims) == 2 and da.dims[1] != "unit":
            fix = f" Rename, e.g. obj.rename({{{da.dims[1]!r}: 'unit'}})."
        elif len(da.dims) == 2:
            fix = f" Rename, e.g. obj.rename({{{da.dims[0]!r}: 'stimulus'}}), or transpose."
        raise SchemaError(
            f"{name} must have dims ('stimulus', 'unit'), ('stimulus', 'repetition', 'unit') "
            f"or ('time', 'unit'); got {tuple(da.dims)}.{fix}"
        )
    if 0 in da.shape:
        raise SchemaError(f"{name} is empty (shape {da.shape}); nothing to analyse.")
    for dim in da.dims:
        if dim == "time":
            continue
        if dim not in da.coords:
            raise SchemaError(
                f"{name}: dim {dim!r} has no coordinate of ids; assign one, e.g. "
                f"obj.assign_coords({dim}=ids)."
            )
        _check_unique(coord_index(da, str(dim)), dim=str(dim), name=name)
    _check_finite(da, name)


def _validate_rdm_layout(da: xr.DataArray, name: str) -> None:
    """The cheap part of an RDM's validation: dims, shape and stimulus ids (no value scan)."""
    if da.dims[-2:] != RDM_DIMS:
        raise SchemaError(f"{name}: an RDM's last two dims must be {RDM_DIMS}; got {da.dims}.")
    n_i, n_j = da.shape[-2:]
    if n_i != n_j:
        raise SchemaError(f"{name}: an RDM must be square; got {n_i} x {n_j}.")
    if n_i < 2:
        raise SchemaError(f"{name}: an RDM needs at least 2 stimuli; got {n_i}.")
    for d in RDM_DIMS:
        if d not in da.coords:
            raise SchemaError(f"{name}: dim {d!r} needs a coordinate of stimulus ids.")
    si, sj = (np.asarray(da.coords.variables[d].values) for d in RDM_DIMS)
    if not np.array_equal(si, sj):
        raise SchemaError(
            f"{name}: stimulus_i and stimulus_j must list the same ids in the same order."
        )
    _check_unique(coord_index(da, "stimulus_i"), dim="stimulus", name=name)
    if da.dtype.kind not in "fiub":
        raise SchemaError(f"{name}: values must be numeric; got dtype {da.dtype}.")


_CHUNK_BYTES = 1 << 20  # RDMs are checked a few at a time, so the temporaries stay small
_THREADED_BYTES = 32 << 20  # stacks from this size are checked on the thread pool


@functools.lru_cache(maxsize=8)
def _triangle_offsets(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat offsets of the upper triangle (row-major, as squareform) and of its mirror."""
    iu, ju = np.triu_indices(n, 1)
    upper, lower = iu * n + ju, ju * n + iu
    upper.setflags(write=False)
    lower.setflags(write=False)
    return upper, lower


def rdm_vectors(
    da: xr.DataArray,
    name: str = "rdm",
    *,
    check_layout: bool = True,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Validate an RDM (stack) and return its condensed upper triangles.

    One pass over the values, a few RDMs at a time: each chunk's upper
    triangle is gathered into the result, compared with its lower triangle
    (symmetry; NaN/inf caught there too) and its diagonal checked, so the
    temporaries stay small. Returns a C-contiguous float64 array ``(k, m)``
    (``k`` = product of the leading dims, ``m = n (n - 1) / 2``) in scipy's
    ``squareform`` order; ``out`` (float64, C-contiguous, that shape) receives
    it instead of a new array.

    Raises
    ------
    SchemaError
        On the layout errors of :func:`validate`, NaN/inf values, an
        asymmetric RDM or a non-zero diagonal (beyond 1e-6 of the largest
        value of the RDMs checked together).

    Examples
    --------
    >>> from neurorep import data
    >>> d = data.rdm([1.0, 2.0, 3.0], stimulus=["x", "y", "z"])
    >>> data.rdm_vectors(d)
    array([[1., 2., 3.]])
    """
    if check_layout:
        _validate_rdm_layout(da, name)
    n = da.shape[-1]
    values = np.asarray(da.values, dtype=np.float64).reshape(-1, n, n)
    k = values.shape[0]
    upper, lower = _triangle_offsets(n)
    m = upper.size
    if out is None:
        out = np.empty((k, m))
    elif out.shape != (k, m) or out.dtype != np.float64 or not out.flags.c_contiguous:
        raise ValueError(
            f"out must be a C-contiguous float64 array of shape {(k, m)}; got "
            f"{out.dtype} {out.shape}."
        )
    step = max(1, _CHUNK_BYTES // (8 * n * n))

    def check(s: int, e: int) -> None:
        block = values[s:e].reshape(-1, n * n)
        up = np.take(block, upper, axis=1, out=out[s:e], mode="clip")
        lo = np.take(block, lower, axis=1, out=scratch("rdm_lower", (e - s, m)), mode="clip")
        diag = block[:, :: n + 1]
        if not (np.array_equal(up, lo) and not diag.any() and np.isfinite(up).all()):
            _report_rdm_values(da, values, s, block, up, lo, diag, name)

    if values.nbytes >= _THREADED_BYTES:  # big stacks: chunks on the shared thread pool
        run_blocks(check, k, step)
    else:
        for s in range(0, k, step):
            check(s, min(s + step, k))
    return out


def _report_rdm_values(
    da: xr.DataArray,
    values: np.ndarray,
    start: int,
    block: np.ndarray,
    up: np.ndarray,
    lo: np.ndarray,
    diag: np.ndarray,
    name: str,
) -> None:
    """Raise the right error for a chunk of RDMs that failed the fast check."""
    finite = np.isfinite(block)
    if not finite.all():
        total = int((~np.isfinite(values)).sum())
        flat = start * block.shape[1] + int(np.argmin(finite.ravel()))
        where = [int(i) for i in np.unravel_index(flat, da.shape)]
        raise SchemaError(
            f"{name}: values must be finite; got {total} NaN/inf value(s), the first at index "
            f"{dict(zip(da.dims, where, strict=True))}. Drop those stimuli/units "
            f"(e.g. obj.dropna('unit')) or impute them before the analysis."
        )
    scale = max(float(np.abs(block).max()), 1e-12)
    asym = float(np.abs(up - lo).max())
    if asym > 1e-6 * scale:
        raise SchemaError(
            f"{name}: an RDM must be symmetric; the largest |d_ij - d_ji| is {asym:.3g}. "
            f"Symmetrise with (rdm + rdm.T) / 2 if that is what you meant."
        )
    big = float(np.abs(diag).max())
    if big > 1e-6 * scale:
        raise SchemaError(
            f"{name}: an RDM must have a zero diagonal; got |d_ii| up to {big:.3g}. "
            f"If this is a similarity matrix, convert it (e.g. 1 - r)."
        )


def _validate_rdm(da: xr.DataArray, name: str) -> None:
    _validate_rdm_layout(da, name)
    rdm_vectors(da, name, check_layout=False)


def _validate_activations(tree: xr.DataTree, name: str) -> None:
    layers = [n for n in tree.children.values()]
    if not layers:
        raise SchemaError(f"{name}: an activations DataTree needs one child node per layer.")
    ref: np.ndarray | None = None
    for node in layers:
        lname = f"{name}[{node.name!r}]"
        if LAYER_VAR not in node.ds.data_vars:
            raise SchemaError(
                f"{lname}: each layer node must hold a variable {LAYER_VAR!r}; got "
                f"{list(node.ds.data_vars)}. Build the tree with neurorep.data.activations()."
            )
        da = node.ds[LAYER_VAR]
        if tuple(da.dims) != ("stimulus", "unit"):
            raise SchemaError(f"{lname} must have dims ('stimulus', 'unit'); got {da.dims}.")
        _validate_responses(da, lname)
        ids = np.asarray(da["stimulus"].values)
        if ref is None:
            ref = ids
        elif not np.array_equal(ids, ref):
            raise SchemaError(
                f"{lname}: every layer must list the same stimulus ids in the same order; "
                f"this layer differs from the first. Align them with neurorep.data.align()."
            )
        depth = node.ds.attrs.get("depth")
        if depth is not None and not (0.0 <= float(depth) <= 1.0):
            raise SchemaError(f"{lname}: attr 'depth' must lie in [0, 1]; got {depth}.")


def validate(obj: Any, *, kind: Kind | None = None, name: str | None = None) -> Kind:
    """Check ``obj`` against the neurorep data model and return its kind.

    Raises :class:`neurorep.SchemaError` with what was expected, what was
    received and how to fix it. Lazy (dask) values are not scanned for NaN here.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from neurorep import data
    >>> data.validate(data.responses(np.eye(3)))
    'responses'
    """
    found = infer_kind(obj)
    kind = kind or found
    label = name or kind
    if kind == "responses":
        if not isinstance(obj, xr.DataArray):
            raise SchemaError(f"{label}: expected a DataArray; got {type(obj).__name__}.")
        _validate_responses(obj, label)
    elif kind == "rdm":
        if not isinstance(obj, xr.DataArray):
            raise SchemaError(f"{label}: expected a DataArray; got {type(obj).__name__}.")
        _validate_rdm(obj, label)
    elif kind == "activations":
        if not isinstance(obj, xr.DataTree):
            raise SchemaError(f"{label}: expected a DataTree; got {type(obj).__name__}.")
        _validate_activations(obj, label)
    elif kind == "set":
        members_ = members(obj)
        if not members_:
            raise SchemaError(f"{label}: the set holds no representations.")
        for key, da in members_.items():
            validate(da, name=f"{label}[{key!r}]")
    elif kind == "result":
        if not isinstance(obj, xr.Dataset):
            raise SchemaError(f"{label}: expected a Dataset; got {type(obj).__name__}.")
    else:
        raise SchemaError(
            f"kind must be one of ['responses', 'activations', 'rdm', 'result', 'set']; "
            f"got {kind!r}."
        )
    return kind


def members(obj: Any) -> dict[str, xr.DataArray]:
    """Name -> DataArray for a representation set (DataTree or mapping).

    For a DataTree, every leaf node contributes its single data variable,
    keyed by the node's path relative to the root (``"IT"``, ``"subj01"``,
    ``"models/animacy"``).

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> acts = data.activations({"l1": np.ones((3, 4))})
    >>> list(data.members(acts))
    ['l1']
    """
    if isinstance(obj, xr.DataTree):  # checked first: a DataTree is also a Mapping
        out: dict[str, xr.DataArray] = {}
        for node in obj.subtree:
            if node is obj or node.children:
                continue
            vars_ = list(node.ds.data_vars)
            if len(vars_) != 1:
                raise SchemaError(
                    f"set member {node.path!r} must hold exactly one data variable; got {vars_}."
                )
            da = node.ds[vars_[0]].copy(deep=False)
            da.attrs = {**node.ds.attrs, **da.attrs}  # node attrs (layer, depth) travel along
            out[node.relative_to(obj)] = da
        return out
    if isinstance(obj, Mapping):
        return {str(k): v for k, v in obj.items()}
    raise SchemaError(
        f"expected a DataTree or a mapping name -> DataArray; got {type(obj).__name__}."
    )


def single_member(
    obj: Any, *, name: str, hint: str = "pass one member"
) -> xr.DataArray | np.ndarray:
    """One 2-D representation from a one-member DataTree / Dataset, a DataArray or an array.

    A layer node of an activations tree gives its ``activations`` variable; a
    tree with several members raises a SchemaError that names them and ends
    with ``hint``. Arrays are returned as numeric numpy arrays.
    """
    if isinstance(obj, xr.DataTree):
        if LAYER_VAR in obj.ds.data_vars:
            return obj.ds[LAYER_VAR]
        mem = members(obj)
        if len(mem) != 1:
            raise SchemaError(
                f"{name}: got a DataTree with {len(mem)} members {list(mem)[:6]}; {hint}, e.g. "
                f"members(tree)[{next(iter(mem), 'layer')!r}]."
            )
        return next(iter(mem.values()))
    if isinstance(obj, xr.Dataset):
        vars_ = list(obj.data_vars)
        if len(vars_) != 1:
            raise SchemaError(f"{name}: a Dataset must hold one variable; got {vars_}.")
        return obj[vars_[0]]
    if isinstance(obj, xr.DataArray):
        return obj
    arr = np.asarray(obj)
    if arr.dtype == object or arr.dtype.kind not in "fiub":
        raise SchemaError(
            f"{name}: expected a numeric 2-D array or DataArray; got dtype {arr.dtype}."
        )
    return arr


def tree_from_members(
    items: Mapping[str, xr.DataArray], *, attrs: Mapping[str, Any] | None = None
) -> xr.DataTree:
    """Build a DataTree with one node per member (paths may contain '/')."""
    nodes: dict[str, xr.Dataset] = {"/": xr.Dataset(attrs=dict(attrs or {}))}
    for key, da in items.items():
        var = da.name if isinstance(da.name, str) and da.name else RESPONSES_VAR
        ds = da.to_dataset(name=var)
        ds.attrs = dict(da.attrs)
        nodes[f"/{key}"] = ds
    return xr.DataTree.from_dict(nodes)
