"""Stimulus alignment by id (never by position)."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd
import xarray as xr

from neurorep._core.errors import AlignmentError, SchemaError
from neurorep.data._schema import RDM_DIMS, coord_index, infer_kind, members

T = TypeVar("T", xr.DataArray, xr.DataTree)


def stimulus_ids(obj: Any, *, name: str = "object") -> np.ndarray:
    """The stimulus ids of a responses, RDM or activations object, in order.

    Parameters
    ----------
    obj : DataArray or DataTree
        Responses (``stimulus`` dim), an RDM (``stimulus_i``) or an
        activations / representation set (every member must share the ids).
    name : str, optional
        The argument's name in error messages.

    Returns
    -------
    ndarray
        The ids, 1-D, in the object's order.

    Raises
    ------
    AlignmentError
        Duplicated ids, or members of a set with different ids.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> r = data.responses(np.ones((3, 2)), stimulus=["a", "b", "c"])
    >>> data.stimulus_ids(r).tolist()
    ['a', 'b', 'c']
    """
    kind = infer_kind(obj)
    if kind == "rdm":
        index = coord_index(obj, "stimulus_i")
        if not index.is_unique:
            dup = index[index.duplicated()].unique()[:5].tolist()
            raise AlignmentError(f"{name}: duplicated stimulus ids {dup}; ids must be unique.")
        return np.asarray(obj.coords.variables["stimulus_i"].values)
    elif kind in ("activations", "set"):
        mem = members(obj)
        if not mem:
            raise SchemaError(f"{name}: holds no representations.")
        all_ids = [stimulus_ids(da, name=f"{name}[{k!r}]") for k, da in mem.items()]
        first = all_ids[0]
        for k, ids in zip(mem, all_ids, strict=True):
            if not np.array_equal(ids, first):
                raise AlignmentError(
                    f"{name}[{k!r}] lists different stimulus ids from the first member; "
                    f"align the members first with neurorep.data.align()."
                )
        return first
    elif kind in ("responses", "epochs"):
        if "stimulus" not in obj.dims:
            raise SchemaError(
                f"{name}: has no 'stimulus' dim (dims {obj.dims}); time series are aligned by "
                f"time index, not by stimulus id."
            )
        ids = obj["stimulus"].values
    else:
        raise SchemaError(f"{name}: a {kind} has no stimulus axis to align.")
    ids = np.asarray(ids)
    index = pd.Index(ids)
    if not index.is_unique:
        dup = index[index.duplicated()].unique()[:5].tolist()
        raise AlignmentError(f"{name}: duplicated stimulus ids {dup}; ids must be unique.")
    return ids


def select_stimuli(obj: T, ids: Any) -> T:
    """Reorder/subset ``obj`` to the given stimulus ids.

    Parameters
    ----------
    obj : responses, RDM or DataTree
        In a DataTree every node is subset: its ``stimulus`` dim, and both
        ``stimulus_i`` / ``stimulus_j`` dims of RDM nodes.
    ids : sequence
        Distinct stimulus ids, all present in ``obj``; the result follows
        their order.

    Returns
    -------
    DataArray or DataTree
        ``obj`` (same type) on exactly ``ids``, in their order.

    Raises
    ------
    AlignmentError
        On duplicated ids (the result would repeat stimuli) or ids missing
        from ``obj``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> r = data.responses(np.arange(6.0).reshape(3, 2), stimulus=["a", "b", "c"])
    >>> data.select_stimuli(r, ["c", "a"]).stimulus.values.tolist()
    ['c', 'a']
    """
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise AlignmentError(f"select_stimuli: ids must be 1-D; got shape {ids.shape}.")
    index = pd.Index(ids)
    if not index.is_unique:
        dup = index[index.duplicated()].unique()[:5].tolist()
        raise AlignmentError(
            f"select_stimuli: ids must be distinct; got {int(index.duplicated().sum())} "
            f"repeated id(s), e.g. {dup}, which would duplicate stimuli. Pass each id once "
            f"(e.g. list(dict.fromkeys(ids)))."
        )

    def check(present: pd.Index, where: str) -> None:
        missing = index[~index.isin(present)]
        if len(missing):
            raise AlignmentError(
                f"select_stimuli: {len(missing)} id(s) are not in {where}, e.g. "
                f"{missing[:5].tolist()}; select only ids the object holds (it has e.g. "
                f"{present[:3].tolist()})."
            )

    if isinstance(obj, xr.DataTree):

        def select(ds: xr.Dataset) -> xr.Dataset:
            sel: dict[str, Any] = {}
            for dim in ("stimulus", *RDM_DIMS):
                if dim in ds.dims:
                    check(pd.Index(np.asarray(ds[dim].values)), f"dim {dim!r}")
                    sel[dim] = ids
            return ds.sel(sel) if sel else ds

        return obj.map_over_datasets(select)  # type: ignore[return-value]
    if obj.dims[-2:] == RDM_DIMS:
        check(coord_index(obj, "stimulus_i"), "the RDM")
        return obj.sel(stimulus_i=ids, stimulus_j=ids)
    check(coord_index(obj, "stimulus"), "the responses")
    return obj.sel(stimulus=ids)


def align(
    a: T,
    b: Any,
    *,
    join: Literal["exact", "inner"] = "exact",
    names: tuple[str, str] = ("a", "b"),
) -> tuple[T, Any]:
    """Put two objects on the same stimuli, in ``a``'s order.

    Parameters
    ----------
    a : DataArray or DataTree
        Responses, an RDM or activations; its stimulus order is kept.
    b : DataArray or DataTree
        Responses, an RDM or activations, put on ``a``'s stimuli.
    join : {"exact", "inner"}, optional
        ``"exact"`` (default) requires the same set of ids (``b`` is
        reordered); ``"inner"`` keeps the ids both share, in ``a``'s order.
    names : tuple of str, optional
        The two objects' names in error messages (default ``("a", "b")``).

    Returns
    -------
    tuple
        ``(a, b)`` on the same stimuli in the same order (same types as
        given; RDMs subset on both stimulus dims).

    Raises
    ------
    AlignmentError
        On duplicated ids, on no shared id, or (``"exact"``) on any id
        present in only one object. Nothing is silently dropped.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> x = data.responses(np.arange(6.).reshape(3, 2), stimulus=["a", "b", "c"])
    >>> y = data.responses(np.arange(6.).reshape(3, 2), stimulus=["c", "a", "b"])
    >>> x2, y2 = data.align(x, y)
    >>> y2.stimulus.values.tolist()
    ['a', 'b', 'c']
    """
    if join not in ("exact", "inner"):
        raise ValueError(f"join must be one of ['exact', 'inner']; got {join!r}.")
    ia = stimulus_ids(a, name=names[0])
    ib = stimulus_ids(b, name=names[1])
    set_b = set(ib.tolist())
    set_a = set(ia.tolist())
    shared = [s for s in ia.tolist() if s in set_b]
    if not shared:
        raise AlignmentError(
            f"{names[0]} and {names[1]} share no stimulus id ({names[0]} e.g. {ia[:3].tolist()}, "
            f"{names[1]} e.g. {ib[:3].tolist()}). Check that both use the same id scheme."
        )
    if join == "exact" and (len(shared) != len(ia) or len(shared) != len(ib)):
        only_a = [s for s in ia.tolist() if s not in set_b][:5]
        only_b = [s for s in ib.tolist() if s not in set_a][:5]
        raise AlignmentError(
            f"{names[0]} and {names[1]} have different stimuli: {len(ia)} vs {len(ib)} ids, "
            f"{len(shared)} shared; only in {names[0]} e.g. {only_a}, only in {names[1]} e.g. "
            f"{only_b}. Pass join='inner' to keep the shared stimuli."
        )
    if np.array_equal(ia, np.asarray(shared)) and np.array_equal(ib, np.asarray(shared)):
        return a, b
    return select_stimuli(a, shared), select_stimuli(b, shared)
