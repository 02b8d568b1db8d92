"""Properties of neurorep.data: constructors, validation, alignment by id, save/load.

Run with the default ``ci`` profile by ``pytest tests/properties``; the ``long``
profile (ten times the examples, fresh random draws) by
``NEUROREP_HYPOTHESIS_PROFILE=long pytest tests/properties --hypothesis-show-statistics``.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from neurorep import AlignmentError, SchemaError, data

from .strategies import Refused, budget, ids, matrices, outcome, permutations, succeeds


def _overflows(x: np.ndarray) -> bool:
    """Whether 4 * sum(x**2) exceeds the largest value of x's dtype (the documented refusal)."""
    with np.errstate(over="ignore"):
        total = float(np.sum(np.square(x.astype(np.float64))))
    return 4.0 * total > 0.5 * float(np.finfo(x.dtype).max)


# ----------------------------------------------------------------------------- constructors
@settings(max_examples=budget(60))
@given(x=matrices(), data_=st.data())
def test_responses_keep_values_and_ids_exactly(x, data_):
    stim = data_.draw(ids(x.shape[0]))
    units = data_.draw(ids(x.shape[1]))
    r = outcome(data.responses, x, stimulus=stim, unit=units)
    if isinstance(r, Refused):
        assert isinstance(r.error, SchemaError) and _overflows(x), r.error
        return
    assert r.dims == ("stimulus", "unit") and r.dtype == x.dtype
    np.testing.assert_array_equal(r.values, x)
    assert r["stimulus"].values.tolist() == stim
    assert r["unit"].values.tolist() == units
    assert succeeds(data.validate, r) == "responses"


@settings(max_examples=budget(40))
@given(n=st.integers(2, 12), data_=st.data())
def test_duplicated_ids_are_refused(n, data_):
    stim = data_.draw(ids(n))
    j = data_.draw(st.integers(1, n - 1))
    stim[j] = stim[0]
    r = outcome(data.responses, np.zeros((n, 2)), stimulus=stim)
    assert isinstance(r, Refused) and "unique" in str(r.error)


# ----------------------------------------------------------------------------- alignment
@settings(max_examples=budget(60))
@given(x=matrices(extreme=False), data_=st.data())
def test_align_by_id_undoes_any_permutation(x, data_):
    n = x.shape[0]
    stim = data_.draw(ids(n))
    perm = data_.draw(permutations(n))
    r = succeeds(data.responses, x, stimulus=stim, stimulus_coords={"order": np.arange(n)})
    shuffled = r.isel(stimulus=perm)
    a, b = succeeds(data.align, r, shuffled)
    xr.testing.assert_identical(a, r)
    xr.testing.assert_identical(b, r)
    xr.testing.assert_identical(succeeds(data.select_stimuli, shuffled, stim), r)
    np.testing.assert_array_equal(succeeds(data.stimulus_ids, shuffled), np.asarray(stim)[perm])


@settings(max_examples=budget(60))
@given(x=matrices(extreme=False, rows=(3, 30)), data_=st.data())
def test_inner_join_keeps_shared_ids_in_first_order(x, data_):
    n = x.shape[0]
    stim = data_.draw(ids(n))
    keep_a = np.asarray(data_.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    keep_b = np.asarray(data_.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    perm = data_.draw(permutations(n))
    r = succeeds(data.responses, x, stimulus=stim)
    a = r.isel(stimulus=np.flatnonzero(keep_a))
    b = r.isel(stimulus=perm).isel(stimulus=np.flatnonzero(keep_b[perm]))
    shared = [s for s, ka, kb in zip(stim, keep_a, keep_b, strict=True) if ka and kb]
    exact = outcome(data.align, a, b)
    if set(a["stimulus"].values.tolist()) != set(b["stimulus"].values.tolist()) or not shared:
        assert isinstance(exact, Refused) and isinstance(exact.error, AlignmentError)
    inner = outcome(data.align, a, b, join="inner")
    if not shared:
        assert isinstance(inner, Refused) and isinstance(inner.error, AlignmentError)
        return
    a2, b2 = inner
    assert a2["stimulus"].values.tolist() == shared == b2["stimulus"].values.tolist()
    np.testing.assert_array_equal(a2.values, b2.values)


# ----------------------------------------------------------------------------- save / load
def _attr_values() -> st.SearchStrategy:
    scalar = st.one_of(
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=8),
        st.booleans(),
        st.none(),
    )
    return st.one_of(
        scalar,
        st.lists(st.integers(), min_size=1, max_size=4),
        st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=4),
        st.dictionaries(st.text(max_size=5), scalar, max_size=3),
    )


_ATTR_KEYS = st.text(min_size=1, max_size=8)  # any name: '/', spaces, NUL, a leading digit...
_attrs = st.dictionaries(_ATTR_KEYS, _attr_values(), max_size=4)


_NAMES = st.text(max_size=6)  # names of arrays, variables and coords: any text
_RESERVED = {"stimulus", "unit", "repetition", "time", "region", "subject"}


@st.composite
def _objects(draw: st.DrawFn) -> xr.DataArray | xr.Dataset | xr.DataTree:
    kind = draw(st.sampled_from(("DataArray", "Dataset", "DataTree")))
    x = draw(matrices(rows=(2, 6), cols=(1, 4)).filter(lambda v: not _overflows(v)))
    n, p = x.shape
    stim = draw(ids(n))
    coord_names = draw(
        st.lists(_NAMES.filter(lambda c: c not in _RESERVED), min_size=2, max_size=2, unique=True)
    )
    r = data.responses(
        x,
        stimulus=stim,
        unit=draw(ids(p)),
        region=draw(st.text(max_size=4)),
        stimulus_coords={coord_names[0]: draw(ids(n)), coord_names[1]: np.arange(n) % 2},
        attrs=draw(_attrs),
    )
    if kind == "DataArray":
        return r.rename(draw(st.one_of(st.none(), _NAMES)))
    if kind == "Dataset":
        taken = {*r.coords, *r.dims}
        names = draw(st.lists(_NAMES.filter(lambda v: v not in taken), min_size=3, max_size=3,
                              unique=True))
        return xr.Dataset(
            {names[0]: r, names[1]: ("unit", np.abs(x[0]) + 1.0), names[2]: ("unit", np.arange(p))},
            attrs=draw(_attrs),
        )
    fc = draw(matrices(shape=(n, draw(st.integers(1, 4)))).filter(lambda v: not _overflows(v)))
    layer_names = draw(
        st.lists(st.text(st.characters(exclude_characters="/"), min_size=1, max_size=5),
                 min_size=2, max_size=2, unique=True)
    )
    tree = outcome(data.activations, dict(zip(layer_names, (x, fc), strict=True)), stimulus=stim,
                   model=draw(st.text(max_size=5)), attrs=draw(_attrs))
    assume(not isinstance(tree, Refused))
    return tree


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
@settings(max_examples=budget(10))
@given(obj=_objects())
def test_save_load_round_trip_is_identical(tmp_path_factory, suffix, obj):
    path = tmp_path_factory.mktemp("io") / f"obj{suffix}"
    succeeds(data.save, obj, path)
    back = succeeds(data.load, path)
    assert type(back) is type(obj)
    if isinstance(obj, xr.DataTree):
        xr.testing.assert_identical(back, obj)
        assert list(back.children) == list(obj.children)  # the network order of layers
        pairs = [(back[k].dataset, obj[k].dataset) for k in obj.children]
    else:
        xr.testing.assert_identical(back, obj)
        pairs = [(back, obj)]
    if isinstance(obj, xr.DataArray):
        assert back.name == obj.name
    for got, want in pairs:
        variables = want.variables if isinstance(want, xr.Dataset) else want.coords.variables
        for name, var in variables.items():
            assert got[name].dtype == var.dtype, (name, got[name].dtype, var.dtype)
        if isinstance(want, xr.DataArray):
            assert got.dtype == want.dtype
