"""What the alignment figures show: honest colour ranges, labelled axes, visible ceilings."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from neurorep.plotting import plot_layer_profiles, plot_score_matrix  # noqa: E402


def _result(score, *, ceiling=None, metric="encoding"):
    score = np.asarray(score, float)
    nr, nl = score.shape
    ds = xr.Dataset(
        {"score": (("region", "layer"), score),
         "ci_low": (("region", "layer"), score - 0.01),
         "ci_high": (("region", "layer"), score + 0.01)},
        coords={"region": [f"R{i}" for i in range(nr)], "layer": [f"L{j}" for j in range(nl)],
                "depth": ("layer", np.linspace(0, 1, nl))},
        attrs={"metric": metric, "ci": 0.95})
    if ceiling is not None:
        ds["ceiling"] = ("region", np.asarray(ceiling, float))
        ds["normalized_score"] = ds.score / ds.ceiling
    return ds


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_colour_range_starts_at_zero_for_positive_scores():
    # scores between 0.70 and 0.78 (the demo's spread) must not span the whole colour map
    res = _result([[0.78, 0.74, 0.73], [0.70, 0.75, 0.72]])
    im = plot_score_matrix(res).ax_.images[0]
    assert im.get_clim() == (0.0, pytest.approx(0.78))
    assert im.cmap.name == "viridis"
    # signed: symmetric, diverging
    im = plot_score_matrix(_result([[-0.08, 0.05], [0.02, 0.07]], metric="rsa")).ax_.images[0]
    assert im.get_clim() == (pytest.approx(-0.08), pytest.approx(0.08))
    assert im.cmap.name.startswith("RdBu_r")


def test_shared_and_ceiling_relative_scales():
    a, b = _result([[0.07, 0.05]], ceiling=[0.2]), _result([[0.13, 0.1]], ceiling=[0.4])
    ims = [plot_score_matrix(r, vmin=0, vmax=0.13).ax_.images[0] for r in (a, b)]
    assert ims[0].get_clim() == ims[1].get_clim() == (0, 0.13)
    # the same value maps to the same colour in both
    assert np.allclose(ims[0].cmap(ims[0].norm(0.07)), ims[1].cmap(ims[1].norm(0.07)))
    disp = plot_score_matrix(a, variable="normalized_score")
    assert disp.ax_.images[0].get_clim() == (0.0, 1.0)
    assert disp.figure_.axes[-1].get_ylabel() == "encoding score (held-out Pearson r) / noise ceiling"
    with pytest.raises(KeyError, match="no variable 'ceiling_score'"):
        plot_score_matrix(a, variable="ceiling_score")


def test_colour_bar_says_what_the_score_is_and_marks_missing_cells():
    res = _result([[np.nan, 0.3], [0.3, np.nan]], metric="rsa_spearman")
    disp = plot_score_matrix(res, annotate=False)
    label = disp.figure_.axes[-1].get_ylabel()
    assert label.startswith("RSA (Spearman \u03c1 between RDMs)") and "hatched: no value" in label
    hatched = [p for p in disp.ax_.patches if p.get_hatch()]
    assert sorted((p.get_x(), p.get_y()) for p in hatched) == [(-0.5, -0.5), (0.5, 0.5)]
    im = disp.ax_.images[0]
    assert tuple(im.cmap.get_bad()) == to_rgba("0.9")  # NaN is light grey, not the colour of 0
    assert tuple(im.cmap(im.norm(0.0))) != to_rgba("0.9")


def test_profile_y_label_names_the_metric():
    disp = plot_layer_profiles(_result([[0.1, 0.2]], ceiling=[0.5]))
    assert disp.ax_.get_ylabel() == "encoding score (held-out Pearson r)"
    disp = plot_layer_profiles(_result([[0.1, 0.2]], ceiling=[0.5], metric="cka"), normalized=True)
    assert disp.ax_.get_ylabel() == "linear CKA / noise ceiling"


def _ceiling_lines(ax):
    return [ln for ln in ax.lines if len(set(ln.get_ydata())) == 1 and ln.get_linestyle() != "-"]


def test_identical_ceilings_each_stay_visible():
    res = _result([[0.7, 0.6, 0.5], [0.5, 0.6, 0.7], [0.6, 0.7, 0.6]], ceiling=[0.8, 0.801, 0.8])
    ax = plot_layer_profiles(res).ax_
    lines = _ceiling_lines(ax)
    assert len(lines) == 3
    assert len({ln.get_ydata()[0] for ln in lines}) == 1
    colours = {to_rgba(ln.get_color()) for ln in lines}
    assert len(colours) == 3
    offsets = {ln._unscaled_dash_pattern[0] for ln in lines}  # interleaved, not on top of each other
    assert len(offsets) == 3
    assert [t.get_text() for t in ax.texts] == ["ceilings of R0, R2, R1: 0.800\u20130.801"]
    # different ceilings: one plain dashed line each, no note
    ax = plot_layer_profiles(_result([[0.7, 0.6], [0.5, 0.6]], ceiling=[0.8, 0.6])).ax_
    assert len(_ceiling_lines(ax)) == 2 and not ax.texts


def test_upper_ceiling_band():
    res = _result([[0.1, 0.2], [0.2, 0.1]], ceiling=[0.3, 0.4], metric="rsa")
    res["ceiling"] = (("region", "bound"), [[0.3, 0.5], [0.4, 0.6]])
    res = res.assign_coords(bound=["lower", "upper"])
    ax = plot_layer_profiles(res).ax_
    spans = [p for p in ax.patches if p.get_alpha() == pytest.approx(0.08)]
    assert len(spans) == 2
    ys = sorted(tuple(np.round(p.get_path().get_extents(p.get_transform()
                                                        + ax.transData.inverted()).intervaly, 6))
                for p in spans)
    assert ys == [(0.3, 0.5), (0.4, 0.6)]
    assert ax.get_ylim()[1] >= 0.6  # the band is not clipped
