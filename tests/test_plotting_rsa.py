"""What the RSA figures say: colour bars name the dissimilarity, nothing is clipped or covered."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402

from neurorep import data  # noqa: E402
from neurorep.plotting import plot_gt_transform, plot_model_comparison, plot_rdm  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _cbar_label(disp):
    return disp.figure_.axes[-1].get_ylabel()


@pytest.mark.parametrize(
    ("metric", "rank", "expected"),
    [
        ("correlation", False, "correlation distance (1 \u2212 Pearson r)"),
        ("correlation", True, "percentile of correlation distance (1 \u2212 Pearson r)\n"
                              "(ranked over stimulus pairs)"),
        ("crossnobis", False, "crossnobis distance (squared, cross-validated)"),
        ("A2020 complete-feature distance", False, "A2020 complete-feature distance"),
    ],
)
def test_rdm_colour_bar_says_what_is_shown(metric, rank, expected):
    g = np.random.default_rng(4)
    rdm = data.rdm(g.uniform(0.2, 1.2, 15), stimulus=[f"s{i}" for i in range(6)], metric=metric)
    assert _cbar_label(plot_rdm(rdm, rank=rank)) == expected
    assert "correlation (percentile)" not in _cbar_label(plot_rdm(rdm, rank=True))
    if not rank:
        disp = plot_gt_transform(rdm)
        assert disp.axes_[0].figure.axes[len(disp.axes_)].get_ylabel() == expected


def _evaluation(scores, ceiling):
    n = len(scores)
    s = np.asarray(scores, float)
    names = [f"model {i}" for i in range(n)]
    return xr.Dataset(
        {"score": ("model", s), "ci_low": ("model", s - 0.05), "ci_high": ("model", s + 0.05),
         "pvalue": ("model", np.full(n, 0.001)),
         "pvalue_fdr": ("model", np.full(n, 0.001)), "ceiling": ("bound", ceiling)},
        coords={"model": names, "bound": ["lower", "upper"]}, attrs={"method": "corr"})


def test_ceiling_band_and_marks_stay_inside_the_axes():
    # a ceiling far above every bar used to be cut at the bars' top
    ax = plot_model_comparison(_evaluation([0.1, 0.2, 0.15], [0.5, 0.9])).ax_
    assert ax.get_ylim()[1] >= 0.9
    stars = [t for t in ax.texts if t.get_text() == "*"]
    assert len(stars) == 3 and all(t.get_clip_on() for t in stars)


def test_legend_does_not_cover_bars():
    # sorted, so the tallest bars are on the right where the legend used to sit
    res = _evaluation(np.linspace(0.05, 0.6, 12), [0.3, 0.4])
    _, ax = plt.subplots(figsize=(4.5, 2.2), layout="constrained")  # a short panel: little room
    disp = plot_model_comparison(res, ax=ax, sort=True, pairwise=False)
    fig, ax = disp.figure_, disp.ax_
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend_box = ax.get_legend().get_window_extent(renderer)
    for bar in ax.patches:
        if bar.get_height() > 0 and bar.get_width() < 1:  # bars, not the ceiling band
            assert not legend_box.overlaps(bar.get_window_extent(renderer)), bar
    for star in (t for t in ax.texts if t.get_text() == "*"):
        assert not legend_box.overlaps(star.get_window_extent(renderer))
