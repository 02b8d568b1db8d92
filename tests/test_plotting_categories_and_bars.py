"""Concept maps with many categories keep distinct colours and a whole title; barcode bars stay apart."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from neurorep.plotting import plot_barcode, plot_concept_map  # noqa: E402
from neurorep.plotting._style import categorical_colors  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _lab(c):
    """sRGB -> CIELAB (D65), the textbook formulas."""
    rgb = np.array(to_rgb(c))
    rgb = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = m @ rgb / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _min_delta_e(colors):
    lab = [_lab(c) for c in colors]
    return min(np.linalg.norm(lab[i] - lab[j]) for i in range(len(lab)) for j in range(i))


def _captions(n_cat, per=3, seed=0):
    g = np.random.default_rng(seed)
    n = n_cat * per
    units = [f"u{i}" for i in range(n)]
    return xr.Dataset(
        {"caption": ("unit", [f"caption {i}" for i in range(n)]),
         "keywords": (("unit", "concept", "keyword"), np.full((n, 1, 1), "w", dtype=object)),
         "projection": (("unit", "feature"), g.normal(size=(n, 5)))},
        coords={"unit": units, "planted_concept": ("unit", np.repeat([f"c{k:02d}" for k in range(n_cat)], per))})


@pytest.mark.parametrize("n_cat", [4, 13, 18])
def test_concept_map_colours_are_distinguishable(n_cat):
    ax = plot_concept_map(_captions(n_cat), color="planted_concept", n_colors=n_cat).ax_
    colors = [tuple(c.get_facecolor()[0][:3]) for c in ax.collections]
    assert len(set(colors)) == n_cat
    # tab20 (the old choice above 10) has pairs at CIE76 distance ~17 (light/dark of one hue)
    assert _min_delta_e(colors) > 24
    assert min(np.linalg.norm(_lab(c) - _lab("0.8")) for c in colors) > 20  # not the "other" grey


def test_categorical_colors_bounds():
    assert len(categorical_colors(18)) == 18
    with pytest.raises(ValueError, match="at most 18"):
        categorical_colors(19)
    # more categories than colours: the rest are grey "other", never a repeated colour
    ax = plot_concept_map(_captions(20), color="planted_concept", n_colors=30).ax_
    labels = [c.get_label() for c in ax.collections]
    assert labels[0] == "other" and len(labels) == 19


def test_concept_map_title_is_whole():
    disp = plot_concept_map(_captions(3), color="planted_concept")
    title = disp.ax_.get_title()
    assert "planted_concept" in title and "\n" in title
    fig = disp.figure_
    fig.canvas.draw()
    box = disp.ax_.title.get_window_extent(fig.canvas.get_renderer())
    assert box.x0 >= 0 and box.x1 <= fig.bbox.width  # inside the figure, not cut


def test_barcode_bars_do_not_merge():
    n = 92
    birth = np.zeros(n)
    death = np.linspace(0.2, 0.9, n)
    dgm = xr.Dataset({"birth": ("bar", birth), "death": ("bar", death)},
                     coords={"dimension": ("bar", np.zeros(n, int))})
    ax = plot_barcode(dgm).ax_
    bars = sorted(ax.patches, key=lambda p: p.get_y())
    assert len(bars) == n
    gaps = [b.get_y() - (a.get_y() + a.get_height()) for a, b in zip(bars, bars[1:], strict=False)]
    assert min(gaps) == pytest.approx(0.4)  # a gap of 0.4 row between neighbours
    widths = sorted(p.get_width() for p in bars)
    np.testing.assert_allclose(widths, np.sort(death - birth))
