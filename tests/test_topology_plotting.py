"""Topology figures: each returns a PlotDisplay of what it drew, with the expected artists."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy.spatial.distance import pdist

from neurorep import data, topology
from neurorep.plotting.topology import (
    plot_barcode,
    plot_betti_curves,
    plot_gt_transform,
    plot_persistence_diagram,
)


@pytest.fixture
def ring_diagram():
    t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    return topology.persistence(data.responses(np.c_[np.cos(t), np.sin(t)]))


def test_plot_gt_transform_panels(rng):
    r = data.rdm(pdist(rng.standard_normal((8, 3))))
    disp = plot_gt_transform(r, thresholds=[(0.0, 0.5), (0.5, 0.5)])
    fig = disp.figure_
    assert len(disp.axes_) == 3
    images = [ax.get_images()[0] for ax in disp.axes_]
    assert len(images) == 3
    np.testing.assert_allclose(images[2].get_array(), topology.gt_transform(r, 0.5, 0.5).values)
    plt.close(fig)
    fig = plot_gt_transform(r).figure_
    assert sum(bool(ax.get_images()) for ax in fig.axes) == 1 + len(topology.RGTM_REGIMES)
    plt.close(fig)
    with pytest.raises(ValueError, match="one RDM"):
        plot_gt_transform(r.expand_dims(subject=2))


def test_plot_persistence_diagram_points(ring_diagram):
    fig, ax = plt.subplots()
    out = plot_persistence_diagram(ring_diagram, ax=ax)
    assert out.ax_ is ax and out.figure_ is fig
    offsets = np.concatenate([c.get_offsets() for c in ax.collections])
    assert len(offsets) == ring_diagram.sizes["bar"]
    assert np.isfinite(offsets).all()  # the essential bar is drawn on the top line
    plt.close(fig)


def test_plot_barcode_and_betti(ring_diagram):
    ax = plot_barcode(ring_diagram).ax_
    n_segments = sum(len(c.get_segments()) for c in ax.collections)
    assert n_segments == ring_diagram.sizes["bar"]
    plt.close(ax.figure)
    ax = plot_betti_curves(ring_diagram).ax_
    assert len(ax.get_lines()) == 2
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="betti_curve"):
        plot_betti_curves(ring_diagram["birth"])
