"""Encoding figures return matplotlib objects and draw what they claim."""

from __future__ import annotations

import numpy as np
import pytest

from neurorep import SchemaError, data
from neurorep.encoding import fit_banded_ridge, fit_ridge
from neurorep.plotting.encoding import (
    plot_alpha_histogram,
    plot_score_map,
    plot_score_vs_ceiling,
    plot_split_scores,
)
from neurorep.stats._ceiling import noise_ceiling, normalize_score


@pytest.fixture
def voxel_result(rng):
    n, nx, ny = 60, 4, 3
    ijk = np.array([(i, j, 0) for i in range(nx) for j in range(ny)])
    X = rng.normal(size=(n, 3))
    Y = X @ rng.normal(size=(3, len(ijk))) + rng.normal(size=(n, len(ijk)))
    resp = data.responses(
        Y, unit=[f"v{i}" for i in range(len(ijk))], region="ROI",
        unit_coords={"i": ijk[:, 0], "j": ijk[:, 1], "k": ijk[:, 2], "z": np.zeros(len(ijk))},
        attrs={"affine": np.eye(4).ravel().tolist(), "volume_shape": [nx, ny, 1]},
    )
    return fit_ridge(X, resp, cv=3)


def test_score_vs_ceiling_and_alpha_histogram(voxel_result, rng):
    reps = rng.normal(size=(20, 3, voxel_result.sizes["unit"]))
    ceil = noise_ceiling(data.responses(reps, dims=("stimulus", "repetition", "unit"), unit=voxel_result["unit"].values), metric="r2")
    ax = plot_score_vs_ceiling(voxel_result, ceil, color="region").ax_
    assert len(ax.collections[0].get_offsets()) == voxel_result.sizes["unit"]
    ax2 = plot_score_vs_ceiling(normalize_score(voxel_result, np.ones(12))).ax_
    assert ax2.get_xlabel().startswith("noise ceiling")
    ax3 = plot_alpha_histogram(voxel_result).ax_
    heights = [p.get_height() for p in ax3.patches]
    assert sum(heights) == voxel_result.sizes["unit"]
    with pytest.raises(SchemaError, match="no variable 'ceiling'"):
        plot_score_vs_ceiling(voxel_result)


def test_score_map_and_split_scores(voxel_result, rng):
    fig = plot_score_map(voxel_result, variable="r").figure_
    assert len(fig.axes) > 1  # the host Axes, nilearn's cut and its colour bar
    with pytest.raises(SchemaError, match="voxel coordinates"):
        plot_score_map(voxel_result.drop_vars(["i", "j", "k"]))
    a, b = rng.normal(size=(60, 2)), rng.normal(size=(60, 3))
    res = fit_banded_ridge({"a": a, "b": b}, a @ rng.normal(size=(2, 4)) + rng.normal(size=(60, 4)),
                           cv=3, n_candidates=3)
    ax = plot_split_scores(res).ax_
    assert len(ax.patches) == 2 * 4
    ax = plot_alpha_histogram(res).ax_
    assert ax.get_legend() is not None
