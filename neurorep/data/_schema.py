"""The neurorep data model: constructors and validation (DESIGN.md section 1).

Everything is plain xarray:

* responses -- ``DataArray`` with dims ``("stimulus", "unit")``,
  ``("stimulus", "repetition", "unit")`` or ``("time", "unit")`` (a continuous
  time series); epochs (EEG, MEG, spikes) add a ``time`` dim in seconds:
  ``("stimulus", "time", "unit")`` or ``("stimulus", "repetition", "time", "unit")``;
* activations -- ``DataTree`` with one child node per layer, each holding a
  variable ``"activations"`` with dims ``("stimulus", "unit")``;
* RDM -- ``DataArray`` whose last two dims are ``("stimulus_i", "stimulus_j")``
  (leading dims such as ``subject`` stack several RDMs);
* results -- ``Dataset`` with the fixed variable names of DESIGN.md.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd
import xarray as xr

from neurorep._core.condensed import triangle_offsets
from neurorep._core.errors import SchemaError
from neurorep._core.errors import sum_of_squares_fits as _sum_of_squares_fits
from neurorep._core.parallel import run_blocks

EPOCH_DIMS: tuple[tuple[str, ...], ...] = (
    ("stimulus", "time", "unit"),
    ("stimulus", "repetition", "time", "unit"),
)
RESPONSE_DIMS: tuple[tuple[str, ...], ...] = (
    ("stimulus", "unit"),
    ("stimulus", "repetition", "unit"),
    ("time", "unit"),
    *EPOCH_DIMS,
)
_DIM_NAMES = ("stimulus", "repetition", "time", "unit")
# coordinates DESIGN.md puts on the units; a stimulus coordinate may not take these names
UNIT_COORDS = ("region", "subject")
RDM_DIMS = ("stimulus_i", "stimulus_j")
LAYER_VAR = "activations"
RESPONSES_VAR = "responses"
RDM_VAR = "rdm"

Kind = Literal["responses", "epochs", "activations", "rdm", "result", "set"]
IdsLike: TypeAlias = Sequence[Hashable] | np.ndarray | pd.Index


# ----------------------------------------------------------------------------
# constructors
# ----------------------------------------------------------------------------
def _as_ids(values: Any, n: int, *, what: str, name: str) -> np.ndarray:
    if values is None:
        width = len(str(max(n - 1, 0)))
        return np.array([f"{what}{i:0{width}d}" for i in range(n)])
    _refuse_nul(values, what=what, name=name)
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


def _refuse_nul(values: Any, *, what: str, name: str) -> None:
    """Refuse ids holding a NUL character: numpy's fixed-width strings drop a trailing one
    and netCDF cuts at it, so such an id would silently become another id."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "US":
        return  # already stored as fixed-width strings: any NUL is gone
    seq = values if isinstance(values, Sequence | np.ndarray | pd.Index) else []
    for v in seq:
        if isinstance(v, str) and "\x00" in v:
            raise SchemaError(
                f"{name}: {what} ids must not contain the NUL character '\\x00'; got {v!r}. "
                f"numpy strings drop a trailing NUL and netCDF files cut at it, so the id "
                f"would silently change. Remove it, e.g. [s.replace('\\x00', '') for s in ids]."
            )


def coord_index(da: xr.DataArray, dim: str) -> pd.Index:
    """The ids along ``dim`` as a pandas Index: xarray's own when the dim is indexed
    (no copy; pandas caches its uniqueness), else built from the coordinate."""
    index = da.indexes.get(dim)
    if isinstance(index, pd.Index):
        return index
    return pd.Index(np.asarray(da[dim].values))


def _check_unique(ids: np.ndarray | pd.Index, *, dim: str, name: str) -> None:
    if not isinstance(ids, pd.Index):
        arr = np.asarray(ids)
        # numbers and strings: one sort, no pandas Index (a few microseconds per call)
        if arr.ndim == 1 and arr.dtype.kind in "biufUS" and np.unique(arr).size == arr.size:
            return
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


def _member_keys(keys: Sequence[Any], *, name: str, nested: bool = True) -> list[str]:
    """Member names as DataTree paths: stringified, distinct, and none a parent of another.

    ``nested=False`` (layer names) refuses ``'/'`` altogether. Raises a
    SchemaError naming the offending keys instead of letting a tree drop or
    merge a member.
    """
    out = [str(k) for k in keys]
    for key, orig in zip(out, keys, strict=True):
        parts = key.split("/")
        if not nested and len(parts) > 1:
            raise SchemaError(f"{name}: layer names cannot contain '/'; got {orig!r}.")
        if any(p in ("", ".", "..") for p in parts):
            raise SchemaError(
                f"{name}: member name {orig!r} is not a valid tree path (empty, '.' or '..' "
                f"parts, or a leading/trailing '/'); use names like 'IT' or 'subj01/IT'."
            )
    seen: dict[str, Any] = {}
    for key, orig in zip(out, keys, strict=True):
        if key in seen:
            raise SchemaError(
                f"{name}: member names {seen[key]!r} and {orig!r} are the same name {key!r} as "
                f"text, so one would be dropped; give each member a distinct str name."
            )
        seen[key] = orig
    if nested:
        for key in out:
            parts = key.split("/")
            for cut in range(1, len(parts)):
                parent = "/".join(parts[:cut])
                if parent in seen:
                    raise SchemaError(
                        f"{name}: member {parent!r} would become the parent node of member "
                        f"{key!r} and be dropped from the set; rename one of them (e.g. "
                        f"{parent + '_all'!r})."
                    )
    return out


def _time_values(time: Any, n: int, *, name: str, label: str = "time=") -> np.ndarray:
    """Epoch times (s): a 1-D, finite, strictly increasing numeric array of length ``n``."""
    arr = np.asarray(time)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise SchemaError(
            f"{name}: {label} must give one time (in seconds) per sample of the time axis "
            f"({n}); got shape {arr.shape}. E.g. time=np.arange({n}) / sfreq + tmin."
        )
    if arr.dtype.kind not in "iuf":
        raise SchemaError(
            f"{name}: {label} must be numeric (seconds); got dtype {arr.dtype}. Convert it, "
            f"e.g. np.asarray(times, dtype=float)."
        )
    if not np.isfinite(arr).all() or (n > 1 and not (np.diff(arr) > 0).all()):
        raise SchemaError(
            f"{name}: {label} must be finite and strictly increasing; got {arr[:5].tolist()}"
            f"{'...' if n > 5 else ''}. Sort the samples by time (obj.sortby('time'))."
        )
    return arr


_LAYOUT_HINT = (
    "Name the axes: dims=('stimulus', 'repetition', 'unit') for repeated presentations (or "
    "give repetition= ids), dims=('stimulus', 'time', 'unit') with time= (seconds) for "
    "epochs, or dims=('stimulus', 'repetition', 'time', 'unit') for both."
)


def _response_layout(
    shape: tuple[int, ...],
    *,
    dims: Sequence[str] | None,
    repetition: Any,
    time: Any,
    name: str,
) -> tuple[str, ...]:
    """The dims of a responses array: given, or stated by the ids; never guessed."""
    has_times = not isinstance(time, bool | np.bool_)  # an array of times (epochs)
    time = has_times or bool(time)  # True: a time axis, by flag or by times
    if dims is not None:
        if isinstance(dims, str):
            raise SchemaError(
                f"{name}: dims must be a tuple of dim names, one per axis; got the string "
                f"{dims!r}. Pass e.g. dims=('stimulus', 'time', 'unit')."
            )
        layout = tuple(str(d) for d in dims)
        if layout not in RESPONSE_DIMS:
            raise SchemaError(
                f"{name}: dims must be one of {[list(d) for d in RESPONSE_DIMS]}; got "
                f"{list(layout)}. Transpose the values to one of these layouts first."
            )
        if len(layout) != len(shape):
            raise SchemaError(
                f"{name}: dims={layout} names {len(layout)} axes but the values are "
                f"{len(shape)}-D (shape {shape})."
            )
        if repetition is not None and "repetition" not in layout:
            raise SchemaError(
                f"{name}: repetition= ids were given but dims={layout} has no 'repetition' dim."
            )
        if time and "time" not in layout:
            raise SchemaError(f"{name}: time= was given but dims={layout} has no 'time' dim.")
        if layout in EPOCH_DIMS and not has_times:
            raise SchemaError(
                f"{name}: epochs {layout} need their sample times: pass time= with one time "
                f"in seconds per sample ({shape[layout.index('time')]}), e.g. "
                f"time=np.arange(n) / sfreq + tmin."
            )
        return layout
    ndim = len(shape)
    if ndim == 2:
        return ("time", "unit") if time else ("stimulus", "unit")
    if time and not has_times:
        raise SchemaError(
            f"{name}: time=True marks a 2-D (time, unit) time series; got {ndim}-D values "
            f"(shape {shape}). For epochs pass time= the sample times (s) and dims=."
        )
    if ndim == 3 and repetition is not None and not has_times:
        return ("stimulus", "repetition", "unit")
    if ndim == 3 and has_times and repetition is None:
        return ("stimulus", "time", "unit")
    if ndim == 4 and repetition is not None and has_times:
        return ("stimulus", "repetition", "time", "unit")
    if ndim in (3, 4):
        raise SchemaError(
            f"{name}: {ndim}-D values (shape {shape}) are ambiguous: the axes could be "
            f"repetitions or time points, and neurorep never guesses. {_LAYOUT_HINT}"
        )
    raise SchemaError(
        f"{name}: values must be 2-D (stimulus, unit) or (time, unit), 3-D or 4-D with dims=; "
        f"got {ndim}-D shape {shape}."
    )


def _check_coord_names(
    unit_coords: Mapping[str, Any],
    stimulus_coords: Mapping[str, Any],
    *,
    dims: tuple[str, ...],
    given: Sequence[str],
    name: str,
) -> None:
    """Refuse extra coordinates that would replace ids, a dim or another coordinate."""
    first = dims[0]
    for label, coords_, dim in (
        ("unit_coords", unit_coords, "unit"),
        ("stimulus_coords", stimulus_coords, first),
    ):
        for key in coords_:
            if not isinstance(key, str):
                raise SchemaError(
                    f"{name}: {label} names must be str; got {key!r} ({type(key).__name__})."
                )
            if key in _DIM_NAMES:
                ids = f"; pass the ids with {key}=" if key in dims else ""
                raise SchemaError(
                    f"{name}: {label}[{key!r}] would replace the {key!r} dim or its ids{ids}. "
                    f"Give this coordinate another name (e.g. {key + '_label'!r})."
                )
            if key in given:
                raise SchemaError(
                    f"{name}: coordinate {key!r} is given twice ({key}= and {label}[{key!r}]); "
                    f"pass it once."
                )
            if dim != "unit" and key in UNIT_COORDS:
                raise SchemaError(
                    f"{name}: {label}[{key!r}]: {key!r} is a per-unit coordinate in the neurorep "
                    f"data model (units are split by it); pass it with {key}= or unit_coords=, "
                    f"or give this per-{dim} coordinate another name."
                )
    both = sorted(set(unit_coords) & set(stimulus_coords))
    if both:
        raise SchemaError(
            f"{name}: coordinate(s) {both} appear in both unit_coords and stimulus_coords; "
            f"one name per coordinate."
        )


def responses(
    values: Any,
    *,
    dims: Sequence[str] | None = None,
    stimulus: IdsLike | None = None,
    unit: IdsLike | None = None,
    repetition: IdsLike | None = None,
    time: bool | Sequence[float] | np.ndarray = False,
    region: Any = None,
    subject: Any = None,
    stimulus_coords: Mapping[str, Any] | None = None,
    unit_coords: Mapping[str, Any] | None = None,
    attrs: Mapping[str, Any] | None = None,
    name: str = RESPONSES_VAR,
    allow_missing: bool = False,
) -> xr.DataArray:
    """Build a schema-valid responses ``DataArray``.

    The layout of 2-D values is ``(stimulus, unit)`` (or ``(time, unit)``
    with ``time=True``). The axes of 3-D and 4-D values are never guessed:
    name them with ``dims=``, or state them with the ids of the middle axes
    (``repetition=`` ids make 3-D values ``(stimulus, repetition, unit)``,
    ``time=`` sample times make them ``(stimulus, time, unit)`` epochs, both
    make 4-D values ``(stimulus, repetition, time, unit)``). Anything else
    raises a :class:`~neurorep.SchemaError` that shows these fixes.

    Parameters
    ----------
    values : array-like or pandas.DataFrame
        The responses, laid out as ``dims``. A DataFrame is ``(stimulus,
        unit)`` and gives stimulus ids from its index and unit ids from its
        columns. Values must be real, finite and small enough that sums of
        their squares stay finite.
    dims : tuple of str, optional
        One name per axis, one of :data:`RESPONSE_DIMS`:
        ``("stimulus", "unit")``, ``("stimulus", "repetition", "unit")``,
        ``("time", "unit")``, ``("stimulus", "time", "unit")`` or
        ``("stimulus", "repetition", "time", "unit")``.
    stimulus, unit, repetition : sequence, optional
        Ids along each dim (stringified). Default ``stim000``, ``unit000``,
        ``repetition0``...
    time : bool or sequence of float
        ``True``: the 2-D values are a continuous time series ``(time, unit)``
        (time coordinate = sample index; stimulus-level coordinates such as
        ``run`` and ``label`` then go in ``stimulus_coords`` and follow
        ``time``). A sequence: the sample times in seconds of an epochs
        ``time`` axis (finite, strictly increasing).
    region, subject : scalar or sequence, optional
        Per-unit coordinates (a scalar is broadcast to every unit).
    stimulus_coords, unit_coords : mapping, optional
        Extra coordinates along the stimulus (or time) and unit dims. Names
        of dims (``stimulus``, ``unit``, ``repetition``, ``time``) and of
        coordinates given by keyword are refused: they would replace ids.
    attrs : mapping, optional
        Provenance kept in ``.attrs``.
    name : str
        Name of the DataArray (and the label in error messages).
    allow_missing : bool
        Let NaN mark missing measurements -- a repetition a stimulus did not
        get (a whole ``(stimulus, repetition)`` row of NaN) or units not
        recorded in one measurement. Only :func:`neurorep.rsa.compute_rdm`
        uses them (rsatoolbox's unbalanced-design estimators); other analyses
        refuse NaN.

    Returns
    -------
    DataArray
        Dims as above, with the id coordinates and the extra coordinates.

    Raises
    ------
    SchemaError
        For ambiguous 3-D/4-D values, ids of the wrong length or duplicated,
        complex, non-finite or overflowing values, and coordinates that would
        replace ids.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> r = data.responses(np.ones((3, 2)), stimulus=["a", "b", "c"], region="V1")
    >>> r.dims
    ('stimulus', 'unit')
    >>> reps = data.responses(np.ones((3, 4, 2)), repetition=["r1", "r2", "r3", "r4"])
    >>> reps.dims
    ('stimulus', 'repetition', 'unit')
    >>> eeg = data.responses(np.ones((3, 5, 2)), dims=("stimulus", "time", "unit"),
    ...                      time=np.arange(5) / 100)
    >>> eeg.dims, float(eeg.time[1])
    (('stimulus', 'time', 'unit'), 0.01)
    """
    if isinstance(values, pd.DataFrame):
        if stimulus is None:
            stimulus = list(values.index)
        if unit is None:
            unit = list(values.columns)
        values = values.to_numpy()
    if isinstance(values, xr.DataArray | xr.Dataset | xr.DataTree):
        raise SchemaError(
            f"{name}: values are already an xarray {type(values).__name__}; check one with "
            f"neurorep.data.validate(obj), or pass obj.values with dims=obj.dims and its ids "
            f"(the constructor does not read coordinates)."
        )
    if not hasattr(values, "ndim"):
        values = np.asarray(values)
    if time is None:
        time = False
    dims_ = _response_layout(
        tuple(values.shape), dims=dims, repetition=repetition, time=time, name=name
    )
    if 0 in values.shape:
        raise SchemaError(f"{name}: values are empty (shape {values.shape}); nothing to analyse.")
    _check_real(values.dtype, name)
    sizes = dict(zip(dims_, values.shape, strict=True))
    given = [c for c, v in (("region", region), ("subject", subject)) if v is not None]
    _check_coord_names(
        dict(unit_coords or {}), dict(stimulus_coords or {}), dims=dims_, given=given, name=name
    )
    coords: dict[str, Any] = {}
    first = dims_[0]
    if first == "time":  # a continuous time series: sample index unless times are given
        coords["time"] = (
            np.arange(values.shape[0])
            if isinstance(time, bool | np.bool_)
            else _time_values(time, values.shape[0], name=name)
        )
    else:
        coords["stimulus"] = _as_ids(stimulus, values.shape[0], what="stimulus", name=name)
    coords["unit"] = _as_ids(unit, values.shape[-1], what="unit", name=name)
    if "repetition" in sizes:
        coords["repetition"] = _as_ids(
            repetition, sizes["repetition"], what="repetition", name=name
        )
    if first != "time" and "time" in sizes:
        coords["time"] = _time_values(time, sizes["time"], name=name)
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
    out = xr.DataArray(values, dims=dims_, coords=coords, name=name, attrs=dict(attrs or {}))
    validate(
        out, kind="epochs" if dims_ in EPOCH_DIMS else "responses", name=name,
        allow_missing=allow_missing,
    )
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
    layers : mapping
        Layer name -> array-like ``(stimulus, unit)`` or responses DataArray.
        In network order (first = closest to the input). Names are
        stringified and must stay distinct (``1`` and ``"1"`` collide) and
        contain no ``'/'``.
    stimulus : sequence, optional
        Stimulus ids shared by every layer (ignored for DataArray members,
        which keep their own ids and must agree with each other).
    model : str
        Model name, stored as the root ``model`` attr.
    depth : mapping, optional
        Normalised depth (0..1) for every layer; default evenly spaced in the
        given order.
    attrs : mapping, optional
        Root attrs (provenance).

    Returns
    -------
    DataTree
        One child node per layer holding ``activations`` ``(stimulus, unit)``
        with node attrs ``layer`` and ``depth``; root attr ``model``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> acts = data.activations({"l1": np.ones((3, 4)), "l2": np.ones((3, 2))},
    ...                         stimulus=["a", "b", "c"], model="toy")
    >>> list(acts.children)
    ['l1', 'l2']
    """
    if isinstance(layers, xr.DataTree) or not isinstance(layers, Mapping):
        what = type(layers).__name__
        hint = (
            " It is already a DataTree: check it with neurorep.data.validate(tree)."
            if isinstance(layers, xr.DataTree)
            else " Name each layer, e.g. activations({'layer1': X1, 'layer2': X2})."
        )
        raise SchemaError(
            f"activations: layers must be a mapping {{layer_name: values}} in network order; "
            f"got a {what}.{hint}"
        )
    if not layers:
        raise SchemaError("activations: got no layers; pass a mapping {layer_name: values}.")
    names = list(layers)
    keys = _member_keys(names, name="activations", nested=False)
    n = len(names)
    depth_keys: dict[str, Any] = {}
    if depth is not None:
        if not isinstance(depth, Mapping):
            raise SchemaError(
                f"activations: depth must be a mapping {{layer_name: depth in [0, 1]}}; got a "
                f"{type(depth).__name__}."
            )
        depth_keys = dict(
            zip(_member_keys(list(depth), name="depth", nested=False), depth, strict=True)
        )
        missing = [k for k in keys if k not in depth_keys]
        extra = [k for k in depth_keys if k not in keys]
        if missing or extra:
            raise SchemaError(
                f"activations: depth must give one depth per layer; missing {missing}, unknown "
                f"{extra} (layers: {keys}). Give every layer a depth in [0, 1], or omit depth= "
                f"for evenly spaced depths."
            )
    nodes: dict[str, xr.Dataset] = {}
    for i, (layer, key) in enumerate(zip(names, keys, strict=True)):
        vals = layers[layer]
        if isinstance(vals, xr.DataArray):
            da = vals.rename(LAYER_VAR)
            validate(da, kind="responses", name=f"activations[{layer!r}]")
        else:
            da = responses(vals, stimulus=stimulus, name=LAYER_VAR)
        if depth is not None:
            d = float(depth[depth_keys[key]])
        else:
            d = i / (n - 1) if n > 1 else 0.0
        ds = da.to_dataset()
        ds.attrs = {"layer": key, "depth": d}
        nodes[key] = ds
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
    dim : str, optional
        Name of the leading dim of a stack (e.g. ``"subject"``).
    index : sequence, optional
        Labels of the leading dim of a stack.
    attrs : mapping, optional
        Extra attrs stored on the result.
    name : str, optional
        The DataArray's name (default ``"rdm"``).

    Returns
    -------
    DataArray
        Dims ``(stimulus_i, stimulus_j)``, or ``(dim, stimulus_i,
        stimulus_j)`` for a stack, both stimulus coords carrying the ids;
        attrs ``metric`` plus ``attrs``.

    Examples
    --------
    >>> from neurorep import data
    >>> r = data.rdm([1.0, 2.0, 3.0], stimulus=["a", "b", "c"], metric="euclidean")
    >>> r.shape
    (3, 3)
    """
    raw = np.asarray(values)
    _check_real(raw.dtype, name)
    arr = raw.astype(float, copy=False)
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
    """Which part of the data model ``obj`` is.

    ``"epochs"`` (responses with a ``time`` dim next to ``stimulus``),
    ``"responses"``, ``"rdm"`` (last two dims ``stimulus_i, stimulus_j``),
    ``"activations"``, ``"result"`` (a Dataset) or ``"set"``.

    Parameters
    ----------
    obj : object
        A DataArray, Dataset, DataTree or mapping.

    Returns
    -------
    str
        One of the kinds above.

    Raises
    ------
    SchemaError
        Not an xarray object, or none of the kinds (the message names the
        constructors).

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> data.infer_kind(data.responses(np.ones((3, 2))))
    'responses'
    """
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
        if _is_epochs(obj):
            return "epochs"
        return "responses"
    if isinstance(obj, Mapping):
        return "set"
    raise SchemaError(
        f"expected an xarray DataArray, Dataset or DataTree; got {type(obj).__name__}. "
        f"Build one with neurorep.data.responses(...), activations(...) or rdm(...)."
    )


def _is_epochs(da: xr.DataArray) -> bool:
    return "time" in da.dims and "stimulus" in da.dims


def reject_epochs(obj: Any, *, name: str = "responses") -> None:
    """Refuse time-resolved responses (epochs) where one pattern per stimulus is needed.

    Every analysis that does not (yet) handle a ``time`` dim calls this (or
    :func:`validate` with ``kind="responses"``, which does), so an epochs
    array ``(stimulus, [repetition,] time, unit)`` is never read as
    repetitions or units.

    Parameters
    ----------
    obj : any
        Checked when it is a DataArray with both a ``stimulus`` and a
        ``time`` dim; anything else passes.
    name : str
        The argument's name, for the message.

    Raises
    ------
    SchemaError
        Saying how to select or average a time window.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> eeg = data.responses(np.ones((3, 4, 2)), dims=("stimulus", "time", "unit"),
    ...                      time=[0.0, 0.1, 0.2, 0.3])
    >>> data.reject_epochs(eeg.sel(time=slice(0.1, 0.2)).mean("time"))  # one pattern: passes
    >>> data.reject_epochs(eeg)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    neurorep.SchemaError: responses has a 'time' dim ...
    """
    if not (isinstance(obj, xr.DataArray) and _is_epochs(obj)):
        return
    times = obj["time"].values if "time" in obj.coords else None
    span = ""
    if times is not None and times.size and np.asarray(times).dtype.kind in "iuf":
        span = f", {times.size} time points from {times.min():g} to {times.max():g} s"
    var = name if name.isidentifier() else "obj"
    raise SchemaError(
        f"{name} has a 'time' dim (epochs, dims {tuple(obj.dims)}{span}); this analysis takes "
        f"one pattern per stimulus and does not support time-resolved responses yet. Select or "
        f"average a time window first, e.g. {var}.sel(time=slice(0.1, 0.2)).mean('time'), or "
        f"run it per time point ({var}.isel(time=i))."
    )


def _check_real(dtype: np.dtype, name: str) -> None:
    if dtype.kind == "c":
        raise SchemaError(
            f"{name}: values must be real; got complex dtype {dtype} (its imaginary part would "
            f"be dropped). Pass the part you mean explicitly: np.abs(values) (amplitude), "
            f"values.real, or np.angle(values) (phase)."
        )
    if dtype.kind not in "fiub":
        raise SchemaError(
            f"{name}: values must be numeric; got dtype {dtype}. Convert them, e.g. "
            f"np.asarray(values, dtype=float)."
        )


def _check_finite(da: xr.DataArray, name: str, *, allow_missing: bool = False) -> None:
    """Real, finite values (in-memory arrays only); ``allow_missing``: NaN marks a missing
    measurement (unbalanced designs), inf is still refused.

    Values so large that their squares overflow are not refused here: the
    kernels that square them (RDMs, CKA, ridge, persistence) rescale exactly
    by a power of two or refuse with their own message.
    """
    _check_real(da.dtype, name)
    data = da.data
    if not isinstance(data, np.ndarray):  # dask or other lazy arrays: checked chunk-wise later
        return
    if data.dtype.kind != "f" or data.size == 0:
        return
    if _sum_of_squares_fits(data.reshape(-1)):  # one BLAS pass: finite sum -> finite values
        return
    finite = ~np.isinf(data) if allow_missing else np.isfinite(data)
    if not finite.all():
        bad = int((~finite).sum())
        where = np.argwhere(~finite)[0].tolist()
        hint = (
            " Missing measurements (a repetition not shown, units not recorded) may be NaN "
            "for neurorep.rsa.compute_rdm: build them with data.responses(..., "
            "allow_missing=True)."
            if not allow_missing and not np.isinf(data).any()
            else ""
        )
        raise SchemaError(
            f"{name}: values must be finite; got {bad} {'inf' if allow_missing else 'NaN/inf'} "
            f"value(s), the first at index {dict(zip(da.dims, where, strict=True))}. Drop "
            f"those stimuli/units (e.g. obj.dropna('unit')) or impute them before the "
            f"analysis.{hint}"
        )


def _layout_hint(da: xr.DataArray, allowed: tuple[tuple[str, ...], ...]) -> str:
    dims = tuple(str(d) for d in da.dims)
    for layout in allowed:
        if sorted(layout) == sorted(dims):
            return f" Transpose, e.g. obj.transpose{layout}."
    if len(dims) == 2 and dims[1] != "unit":
        return f" Rename, e.g. obj.rename({{{dims[1]!r}: 'unit'}})."
    if len(dims) == 2:
        return f" Rename, e.g. obj.rename({{{dims[0]!r}: 'stimulus'}}), or transpose."
    return ""


def _validate_responses(
    da: xr.DataArray, name: str, *, epochs: bool = False, allow_missing: bool = False
) -> None:
    """Responses (``epochs=False``: one pattern per stimulus or a time series) or epochs."""
    if not epochs:
        reject_epochs(da, name=name)
    allowed = EPOCH_DIMS if epochs else tuple(d for d in RESPONSE_DIMS if d not in EPOCH_DIMS)
    if tuple(da.dims) not in allowed:
        expected = ", ".join(str(d) for d in allowed[:-1]) + f" or {allowed[-1]}"
        raise SchemaError(
            f"{name} must have dims {expected}; got {tuple(da.dims)}.{_layout_hint(da, allowed)}"
        )
    if 0 in da.shape:
        raise SchemaError(f"{name} is empty (shape {da.shape}); nothing to analyse.")
    for dim in da.dims:
        if dim == "time":
            if epochs:
                _check_epoch_times(da, name)
            continue
        if dim not in da.coords:
            raise SchemaError(
                f"{name}: dim {dim!r} has no coordinate of ids; assign one, e.g. "
                f"obj.assign_coords({dim}=ids)."
            )
        _check_unique(coord_index(da, str(dim)), dim=str(dim), name=name)
    _check_finite(da, name, allow_missing=allow_missing)


def _check_epoch_times(da: xr.DataArray, name: str) -> None:
    if "time" not in da.coords:
        raise SchemaError(
            f"{name}: epochs need a 'time' coordinate in seconds; assign one, e.g. "
            f"obj.assign_coords(time=np.arange(obj.sizes['time']) / sfreq + tmin)."
        )
    _time_values(
        da["time"].values, da.sizes["time"], name=name, label="the 'time' coordinate"
    )


def check_rdm_layout(da: xr.DataArray, *, name: str = "rdm") -> None:
    """Check an RDM's (or RDM stack's) layout: dims, shape, stimulus ids and dtype.

    The cheap part of ``validate(da, kind="rdm")``: the values are not read
    (:func:`rdm_vectors` checks them while it gathers them), so a hot path
    can check the layout first, align by id, and scan the values once.

    Parameters
    ----------
    da : DataArray
        Dims ``(..., stimulus_i, stimulus_j)``.
        One RDM, or a stack of them along leading dims.
    name : str
        How the object is named in error messages.

    Raises
    ------
    SchemaError
        Wrong last dims, a non-square or too small matrix, missing, unequal or
        duplicated stimulus ids, a non-numeric dtype.

    Examples
    --------
    >>> from neurorep import data
    >>> data.check_rdm_layout(data.rdm([1.0, 2.0, 3.0], stimulus=["x", "y", "z"]))
    >>> data.check_rdm_layout(data.responses([[1.0], [2.0]], stimulus=["x", "y"]), name="d")
    Traceback (most recent call last):
    ...
    neurorep.SchemaError: d: an RDM's last two dims must be ('stimulus_i', 'stimulus_j'); got ('stimulus', 'unit').
    """
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
    ii, ij = coord_index(da, "stimulus_i"), coord_index(da, "stimulus_j")
    if not ii.equals(ij):
        raise SchemaError(
            f"{name}: stimulus_i and stimulus_j must list the same ids in the same order."
        )
    _check_unique(ii, dim="stimulus", name=name)
    if da.dtype.kind not in "fiub":
        raise SchemaError(f"{name}: values must be numeric; got dtype {da.dtype}.")


_CHUNK_BYTES = 1 << 20  # RDMs are checked a few at a time, so the temporaries stay small


def rdm_vectors(
    da: xr.DataArray,
    name: str = "rdm",
    *,
    check_layout: bool = True,
    out: np.ndarray | None = None,
    missing: bool = False,
) -> np.ndarray:
    """Validate an RDM (stack) and return its condensed upper triangles.

    One pass over the values, a few RDMs at a time: each chunk's upper
    triangle is gathered into the result, compared with its lower triangle
    (symmetry; NaN/inf caught there too) and its diagonal checked, so the
    temporaries stay small. Returns a C-contiguous float64 array ``(k, m)``
    (``k`` = product of the leading dims, ``m = n (n - 1) / 2``) in scipy's
    ``squareform`` order; ``out`` (float64, C-contiguous, that shape) receives
    it instead of a new array.

    Parameters
    ----------
    da : DataArray
        An RDM ``(stimulus_i, stimulus_j)`` or a stack ``(..., stimulus_i,
        stimulus_j)``.
    name : str, optional
        The argument's name in error messages.
    check_layout : bool, optional
        Check dims and coords first (default True); False when the caller
        already did.
    out : ndarray, optional
        A float64, C-contiguous ``(k, m)`` array to write into.
    missing : bool, optional
        Allow missing pairs (default False): NaN at both ``(i, j)`` and
        ``(j, i)``, never on the diagonal, kept as NaN in the result (the
        finite values are checked as usual). Only the chunks that fail the
        fast check are looked at again, so an RDM without NaN costs the same.

    Returns
    -------
    ndarray
        ``(k, m)`` float64 condensed upper triangles (``out`` when given).

    Raises
    ------
    SchemaError
        On the layout errors of :func:`validate`, NaN/inf values, values so
        large that sums of their squares overflow, an asymmetric RDM or a
        non-zero diagonal (beyond 1e-6 of the largest value of the RDMs
        checked together).

    Examples
    --------
    >>> from neurorep import data
    >>> d = data.rdm([1.0, 2.0, 3.0], stimulus=["x", "y", "z"])
    >>> data.rdm_vectors(d)
    array([[1., 2., 3.]])
    >>> import numpy as np
    >>> gap = d.copy(data=[[0.0, np.nan, 2.0], [np.nan, 0.0, 3.0], [2.0, 3.0, 0.0]])
    >>> data.rdm_vectors(gap, missing=True)
    array([[nan,  2.,  3.]])
    """
    if check_layout:
        check_rdm_layout(da, name=name)
    n = da.shape[-1]
    values = np.asarray(da.values, dtype=np.float64).reshape(-1, n, n)
    k = values.shape[0]
    upper, lower = triangle_offsets(n)
    m = upper.size
    if out is None:
        out = np.empty((k, m))
    elif out.shape != (k, m) or out.dtype != np.float64 or not out.flags.c_contiguous:
        raise ValueError(
            f"out must be a C-contiguous float64 array of shape {(k, m)}; got "
            f"{out.dtype} {out.shape}."
        )
    step = max(1, _CHUNK_BYTES // (8 * n * n))
    # |d| up to this keeps 4 * sum(d ** 2) of one RDM finite (no BLAS here: blocks may run in
    # parallel); max/min propagate NaN and see inf, so the bound also checks finiteness
    limit = float(np.sqrt(np.finfo(np.float64).max / (4.0 * max(m, 1))))

    def check(s: int, e: int) -> None:
        block = values[s:e].reshape(-1, n * n)
        up = np.take(block, upper, axis=1, out=out[s:e], mode="clip")
        lo = np.take(block, lower, axis=1, out=np.empty((e - s, m)), mode="clip")
        diag = block[:, :: n + 1]
        if not (
            np.array_equal(up, lo)
            and not diag.any()
            and up.max(initial=0.0) <= limit
            and up.min(initial=0.0) >= -limit
        ) and not (missing and _missing_pairs_ok(up, lo, diag, limit)):
            _report_rdm_values(da, values, s, block, up, lo, diag, name, missing)

    run_blocks(check, k, step, nbytes=values.nbytes)  # big stacks: blocks in parallel
    return out


def _missing_pairs_ok(up: np.ndarray, lo: np.ndarray, diag: np.ndarray, limit: float) -> bool:
    """A chunk that failed the fast check is fine with missing pairs: NaN at both (i, j) and
    (j, i), a zero diagonal, the other values symmetric and within ``limit``."""
    nan = np.isnan(up)
    return bool(
        np.array_equal(nan, np.isnan(lo))
        and np.logical_or(up == lo, nan).all()
        and not diag.any()  # NaN counts as non-zero
        and within_skipping_nan(up, limit)
    )


def within_skipping_nan(values: np.ndarray, limit: float) -> bool:
    """Every value in ``[-limit, limit]``, NaN skipped (False on inf): two passes."""
    return bool(
        np.fmax.reduce(values, axis=None, initial=0.0) <= limit  # fmax skips NaN, sees inf
        and np.fmin.reduce(values, axis=None, initial=0.0) >= -limit
    )


def _report_rdm_values(
    da: xr.DataArray,
    values: np.ndarray,
    start: int,
    block: np.ndarray,
    up: np.ndarray,
    lo: np.ndarray,
    diag: np.ndarray,
    name: str,
    missing: bool = False,
) -> None:
    """Raise the right error for a chunk of RDMs that failed the fast check."""
    if missing:  # NaN pairs are allowed: report a wrong NaN pattern, else the other values
        if np.isnan(diag).any():
            raise SchemaError(
                f"{name}: the diagonal of an RDM must be 0, not NaN (a stimulus is not missing "
                f"from itself); drop the stimulus if it has no dissimilarities."
            )
        if not np.array_equal(np.isnan(up), np.isnan(lo)):
            raise SchemaError(
                f"{name}: a missing dissimilarity (NaN) must be missing at both (i, j) and "
                f"(j, i); the NaN pattern is not symmetric."
            )
        values = np.where(np.isnan(values), 0.0, values)
        block = np.where(np.isnan(block), 0.0, block)
        up, lo = np.where(np.isnan(up), 0.0, up), np.where(np.isnan(lo), 0.0, lo)
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
    for row in up:  # a value beyond the bound is fine when the RDM's other values are small
        if not _sum_of_squares_fits(row):
            raise SchemaError(
                f"{name}: dissimilarities are too large: |d| up to {scale:.3g}, so sums of "
                f"their squares overflow to inf/NaN in float64. Rescale the RDM (e.g. divide "
                f"it by its largest value)."
            )


def _validate_rdm(da: xr.DataArray, name: str) -> None:
    check_rdm_layout(da, name=name)
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


KINDS = ("responses", "epochs", "activations", "rdm", "result", "set")


def validate(
    obj: Any, *, kind: Kind | None = None, name: str | None = None, allow_missing: bool = False
) -> Kind:
    """Check ``obj`` against the neurorep data model and return its kind.

    Parameters
    ----------
    obj : DataArray, Dataset, DataTree or mapping
        The object to check.
    kind : {"responses", "epochs", "activations", "rdm", "result", "set"}, optional
        What ``obj`` must be; default what :func:`infer_kind` finds.
        ``"responses"`` means one pattern per stimulus (or a continuous
        ``(time, unit)`` time series): epochs -- responses with a ``time``
        dim next to ``stimulus`` -- are refused with a message saying how to
        select or average a time window, so an analysis that calls
        ``validate(x, kind="responses")`` never reads time points as
        repetitions or units. ``"epochs"`` checks ``(stimulus, time, unit)``
        or ``(stimulus, repetition, time, unit)`` with a ``time``
        coordinate in seconds.
    name : str, optional
        The object's name in error messages; default the kind.
    allow_missing : bool
        Responses may hold NaN for missing measurements (an unbalanced design,
        which :func:`neurorep.rsa.compute_rdm` handles); inf is still refused.

    Returns
    -------
    str
        The kind.

    Raises
    ------
    SchemaError
        With what was expected, what was received and how to fix it. Values
        must be real and finite, and small enough that sums of their squares
        do not overflow; lazy (dask) values are not scanned here.

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
    if kind in ("responses", "epochs"):
        if not isinstance(obj, xr.DataArray):
            raise SchemaError(f"{label}: expected a DataArray; got {type(obj).__name__}.")
        _validate_responses(obj, label, epochs=kind == "epochs", allow_missing=allow_missing)
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
        raise SchemaError(f"kind must be one of {list(KINDS)}; got {kind!r}.")
    return kind


def members(obj: Any) -> dict[str, xr.DataArray]:
    """Name -> DataArray for a representation set (DataTree or mapping).

    For a DataTree, every leaf node contributes its single data variable,
    keyed by the node's path relative to the root (``"IT"``, ``"subj01"``,
    ``"models/animacy"``).

    Parameters
    ----------
    obj : DataTree or mapping
        A representation set (activations, regions, RDMs per subject).

    Returns
    -------
    dict
        ``name -> DataArray`` in the set's order.

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
                if node.children and node.ds.data_vars:
                    where = "the root" if node is obj else f"node {node.relative_to(obj)!r}"
                    raise SchemaError(
                        f"set: {where} holds data variables {list(node.ds.data_vars)[:5]} and "
                        f"child nodes; only leaf nodes are set members, so these would be "
                        f"dropped. Move them into a leaf node of their own."
                    )
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
        out = {str(k): v for k, v in obj.items()}
        if len(out) != len(obj):
            seen: dict[str, Any] = {}
            for k in obj:
                if str(k) in seen:
                    raise SchemaError(
                        f"set: member names {seen[str(k)]!r} and {k!r} are the same name "
                        f"{str(k)!r} as text, so one would be dropped; give each member a "
                        f"distinct str name."
                    )
                seen[str(k)] = k
        return out
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

    Parameters
    ----------
    obj : DataTree, Dataset, DataArray or array-like
        The representation, or a set holding exactly one.
    name : str
        The argument's name in error messages.
    hint : str, optional
        The fix the error message ends with when ``obj`` holds several.

    Returns
    -------
    DataArray or ndarray
        The one representation (an array input as a float ndarray).

    Raises
    ------
    SchemaError
        A set with no or several members.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> acts = data.activations({"l1": np.ones((3, 4))})
    >>> data.single_member(acts, name="model").dims
    ('stimulus', 'unit')
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
    """Build a DataTree with one leaf node per member (names may be paths with '/').

    Parameters
    ----------
    items : mapping of name -> DataArray
        Names are stringified; they must stay distinct, and no name may be
        the parent path of another (``"x"`` and ``"x/y"``): the tree would
        turn ``x`` into an inner node and drop it from the set.
    attrs : mapping, optional
        Root attrs.

    Returns
    -------
    DataTree
        :func:`members` of it gives back ``items`` (as str keys).

    Raises
    ------
    SchemaError
        On colliding or invalid names.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> r = data.responses(np.ones((3, 2)))
    >>> list(data.members(data.tree_from_members({"s1/IT": r, "s1/V1": r})))
    ['s1/IT', 's1/V1']
    """
    if not isinstance(items, Mapping) or isinstance(items, xr.DataTree):
        raise SchemaError(
            f"tree_from_members: items must be a mapping {{name: DataArray}}; got "
            f"{type(items).__name__}."
        )
    keys = _member_keys(list(items), name="tree_from_members")
    nodes: dict[str, xr.Dataset] = {"/": xr.Dataset(attrs=dict(attrs or {}))}
    for key, da in zip(keys, items.values(), strict=True):
        if not isinstance(da, xr.DataArray):
            raise SchemaError(
                f"tree_from_members: member {key!r} must be a DataArray; got "
                f"{type(da).__name__}."
            )
        var = da.name if isinstance(da.name, str) and da.name else RESPONSES_VAR
        ds = da.to_dataset(name=var)
        ds.attrs = dict(da.attrs)
        nodes[f"/{key}"] = ds
    return xr.DataTree.from_dict(nodes)
