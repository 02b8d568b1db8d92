"""Explicit examples of the defects the property suite found, one per fix.

Each test fails on the code before its fix; the inputs differ from the
shrunk examples hypothesis reported.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurorep import SchemaError, data


# ----------------------------------------------------------------------------- data.save / load
@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_save_keeps_attrs_netcdf_cannot_name_or_hold(tmp_path, suffix):
    # names netCDF refuses (leading ':', trailing space, control character) or would
    # normalise (decomposed unicode); values it would alter (NUL, the JSON marker, a
    # one-element list read back as a scalar, an int beyond int64)
    attrs = {
        ":units": "mV",
        "n units ": 3,
        "tab\tname": [1.5, 2.5],
        "cafe\u0301": "x",
        "caption": "a\x00b",
        "raw": "__json__:[1]",
        "one": [7],
        "huge": 2**70,
        "neurorep_names": "user value under a reserved name",
    }
    r = data.responses(np.arange(6.0).reshape(3, 2), stimulus=["s1", "s2", "s3"], attrs=attrs)
    back = data.load(data.save(r, tmp_path / f"r{suffix}"))
    xr.testing.assert_identical(back, r)
    assert back.attrs["caption"] == "a\x00b" and back.attrs["raw"] == "__json__:[1]"
    assert list(back.attrs["one"]) == [7] and back.attrs["huge"] == 2**70


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_save_keeps_variable_coord_and_array_names(tmp_path, suffix):
    # a space in a coordinate name split netCDF's 'coordinates' list and the coordinate
    # was silently dropped; '::' or 'V1/V2' raised raw netCDF/xarray errors
    r = data.responses(
        np.ones((2, 3)),
        stimulus=["a", "b"],
        stimulus_coords={"image file": ["x.png", "y.png"], "V1/V2": [0, 1]},
        name="resp::v1",
    )
    ds = xr.Dataset({"score (r)": r, "ci low": ("unit", np.zeros(3))})
    for obj in (r, ds, r.rename("image file")):
        back = data.load(data.save(obj, tmp_path / f"o{suffix}", overwrite=True))
        xr.testing.assert_identical(back, obj)
        if isinstance(obj, xr.DataArray):
            assert back.name == obj.name


def test_save_refuses_non_str_names(tmp_path):
    da = xr.DataArray(np.ones(2), dims="x", name=3)
    with pytest.raises(SchemaError, match="names must be str"):
        data.save(da, tmp_path / "x.nc")
    ds = xr.Dataset({0: ("x", np.ones(2))})
    with pytest.raises(SchemaError, match="names must be str"):
        data.save(ds, tmp_path / "y.zarr")


def test_save_keeps_layer_order_in_zarr(tmp_path):
    # zarr listed the groups alphabetically: the layers came back out of network order
    acts = data.activations(
        {"fc8": np.ones((3, 2)), "conv 1": np.ones((3, 4)), "b::c": np.ones((3, 1))},
        stimulus=["a", "b", "c"],
    )
    for suffix in (".zarr", ".nc"):
        back = data.load(data.save(acts, tmp_path / f"t{suffix}"))
        assert list(back.children) == ["fc8", "conv 1", "b::c"]
        xr.testing.assert_identical(back, acts)


# ----------------------------------------------------------------------------- data ids
@pytest.mark.parametrize("where", ["stimulus", "unit"])
def test_ids_with_nul_are_refused(where):
    # numpy's fixed-width strings dropped the trailing NUL: "s\x00" silently became "s"
    kw = {where: ["s\x00", "t"]}
    with pytest.raises(SchemaError, match="NUL"):
        data.responses(np.eye(2), **kw)
    with pytest.raises(SchemaError, match="NUL"):
        data.rdm([1.0], stimulus=["x\x00y", "z"])
