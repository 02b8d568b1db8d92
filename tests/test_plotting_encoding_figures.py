"""Encoding figures: split scores for one or many units, alpha bins on the grid, marked voxels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402

from neurorep import SchemaError  # noqa: E402
from neurorep.plotting import (  # noqa: E402
    plot_alpha_histogram,
    plot_score_map,
    plot_score_vs_ceiling,
    plot_split_scores,
)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _split(n_units, seed=0):
    g = np.random.default_rng(seed)
    return xr.Dataset({"split_r": (("space", "unit"), g.uniform(0.0, 0.3, (2, n_units)))},
                      coords={"space": ["layer", "length"],
                              "unit": [f"vox{i}" for i in range(n_units)]})


def test_split_scores_one_unit_is_a_named_bar_with_its_values():
    res = _split(1)
    ax = plot_split_scores(res, variable="split_r").ax_
    assert [t.get_text() for t in ax.get_yticklabels()] == ["vox0"]
    assert "rank" not in ax.get_xlabel()
    widths = sorted(round(p.get_width(), 6) for p in ax.patches)
    assert widths == sorted(np.round(res.split_r.values[:, 0], 6))
    texts = {t.get_text() for t in ax.texts}
    assert {f"{v:.3f}" for v in res.split_r.values[:, 0]} <= texts


def test_split_scores_many_units_sorted_with_a_count_axis():
    res = _split(40)
    ax = plot_split_scores(res, variable="split_r").ax_
    assert ax.get_xlabel() == "units sorted by joint score (1 = best of 40)"
    joint = ax.lines[0].get_ydata()
    assert np.all(np.diff(joint) <= 0)
    # a few units: one named row each, the best on top
    ax = plot_split_scores(_split(5), variable="split_r").ax_
    names = [t.get_text() for t in ax.get_yticklabels()]
    best = _split(5).split_r.sum("space").idxmax().item()
    assert len(names) == 5 and names[0] == best


@pytest.mark.parametrize("where", ["attrs", "variable"])
def test_alpha_bins_are_centred_on_an_uneven_grid(where):
    grid = np.array([0.1, 1.0, 100.0, 1e3, 1e6])  # uneven in log10
    chosen = grid[[0, 1, 1, 2, 2, 2, 3, 4, 4]]
    res = xr.Dataset({"alpha": ("unit", chosen)})
    res = res.assign_attrs(alphas=grid.tolist()) if where == "attrs" else \
        res.assign_coords(alphas=("alphas", grid))
    ax = plot_alpha_histogram(res).ax_
    bars = [p for p in ax.patches if p.get_height() > 0]
    centres = sorted(p.get_x() + p.get_width() / 2 for p in bars)
    np.testing.assert_allclose(centres, np.log10(grid))
    assert [p.get_height() for p in sorted(bars, key=lambda p: p.get_x())] == [1, 2, 3, 1, 2]
    np.testing.assert_allclose(ax.get_xticks(), np.log10(grid))


def test_score_vs_reliability_label():
    res = xr.Dataset({"score": ("unit", [0.2, 0.4]), "ceiling": ("unit", [0.5, 0.6])})
    assert plot_score_vs_ceiling(res).ax_.get_xlabel() == "noise ceiling"
    ax = plot_score_vs_ceiling(res, xlabel="category-profile reliability (split-half r)").ax_
    assert ax.get_xlabel() == "category-profile reliability (split-half r)"
    assert "ceiling" not in ax.get_title()


def _voxels(values):
    i, j = np.meshgrid(np.arange(4), np.arange(3), indexing="ij")
    return xr.Dataset(
        {"score": ("unit", values)},
        coords={"unit": [f"v{a}{b}" for a, b in zip(i.ravel(), j.ravel(), strict=True)],
                "i": ("unit", i.ravel()), "j": ("unit", j.ravel()), "k": ("unit", np.zeros(12, int)),
                "x": ("unit", 2.0 * i.ravel()), "y": ("unit", 2.0 * j.ravel()),
                "z": ("unit", np.zeros(12))},
        attrs={"affine": np.diag([2.0, 2.0, 2.0, 1.0]).ravel().tolist(), "volume_shape": [4, 3, 1]})


def _marker_points(disp):
    pts = []
    for ax in disp.figure_.axes:
        for c in ax.collections:
            off = c.get_offsets()
            if len(off) and c.get_facecolor().size and np.allclose(c.get_facecolor()[0][:3], 0):
                pts.extend(map(tuple, np.asarray(off)))
    return sorted(pts)


def test_score_map_marks_significant_voxels_by_unit_id():
    res = _voxels(np.linspace(0.05, 0.6, 12))
    sig = xr.DataArray(res.score.values > 0.45, dims="unit", coords={"unit": res.unit.values})
    disp = plot_score_map(res, mark=sig.isel(unit=slice(None, None, -1)))  # another unit order
    expected = sorted((2.0 * i, 2.0 * j) for i, j, s in
                      zip(res.i.values, res.j.values, sig.values, strict=True) if s)
    np.testing.assert_allclose(_marker_points(disp), expected)
    title = " ".join(t.get_text() for ax in disp.figure_.axes for t in ax.texts)
    assert f"significant, {int(sig.sum())} of 12" in title


def test_score_map_bad_mark():
    res = _voxels(np.linspace(0.05, 0.6, 12))
    with pytest.raises(KeyError, match="mark='sig' is not a variable"):
        plot_score_map(res, mark="sig")
    with pytest.raises(SchemaError, match="boolean DataArray"):
        plot_score_map(res, mark=res.score)
    short = xr.DataArray(np.ones(3, bool), dims="unit", coords={"unit": ["v00", "v01", "v02"]})
    with pytest.raises(SchemaError, match="lacks 9 of the units"):
        plot_score_map(res, mark=short)
