"""One return convention for every ``plot_*`` function, and one image per figure in Jupyter.

Every public plot function returns a :class:`neurorep.plotting.PlotDisplay`;
with ``ax=None`` its figure is a new pyplot figure (so Jupyter shows it), with
``ax=`` it draws into the caller's figure. In a real IPython kernel (inline
backend, as in Jupyter and the docs build) a plot call as a cell's last line
shows exactly one image and no ``<Axes ...>`` text.

The cases (one per function, with small fixed inputs) are those of the image
regression tests in ``test_plotting_images.py``.
"""

from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pytest

from neurorep.plotting import PlotDisplay

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_plotting_images import CASES, public_plot_functions  # noqa: E402

# functions that draw several panels (their ax= area is split into them)
MULTI_PANEL = {"plot_gt_transform", "plot_caption_cards", "plot_surface_map"}


def _function(name: str) -> Any:
    import neurorep.plotting as plotting

    return getattr(plotting, name)


def test_every_plot_function_is_exported_and_has_a_case() -> None:
    import neurorep.plotting as plotting

    assert public_plot_functions() == set(CASES)
    assert set(CASES) <= set(plotting.__all__)
    assert "PlotDisplay" in plotting.__all__


@pytest.mark.parametrize("name", sorted(CASES))
def test_signature_takes_ax_and_returns_a_display(name: str) -> None:
    sig = inspect.signature(_function(name))
    ax = sig.parameters.get("ax")
    assert ax is not None, f"{name} has no ax= parameter"
    assert ax.kind is inspect.Parameter.KEYWORD_ONLY and ax.default is None
    assert sig.return_annotation in ("PlotDisplay", PlotDisplay), sig.return_annotation
    doc = inspect.getdoc(_function(name)) or ""
    returns = doc.split("Returns\n-------\n", 1)[-1].split("\n", 1)[0]
    assert returns.strip() == "PlotDisplay", f"{name}: docstring Returns says {returns!r}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_new_figure_comes_from_pyplot(name: str) -> None:
    before = set(plt.get_fignums())
    disp = CASES[name]()
    assert isinstance(disp, PlotDisplay)
    new = set(plt.get_fignums()) - before
    assert len(new) == 1, f"{name} made {len(new)} pyplot figures"
    assert plt.figure(new.pop()) is disp.figure_
    assert disp.ax_ is disp.axes_[0]
    assert all(ax in disp.figure_.axes for ax in disp.axes_)
    assert ("PlotDisplay(figure_=" in repr(disp)) and "Axes" in repr(disp)


@pytest.mark.parametrize("name", sorted(CASES))
def test_draws_into_the_given_ax(name: str) -> None:
    fig, (left, right) = plt.subplots(1, 2, layout="constrained")
    before = set(plt.get_fignums())
    disp = CASES[name](ax=right)
    assert set(plt.get_fignums()) == before, f"{name} opened a figure although ax= was given"
    assert disp.figure_ is fig
    assert all(ax in fig.axes for ax in disp.axes_)
    assert left in fig.axes and not left.has_data() and not left.get_title()
    if name in MULTI_PANEL:
        assert right not in fig.axes, "the host Axes is replaced by the panels"
        assert len(disp.axes_) > 1
    else:
        assert disp.ax_ is right


def test_a_subfigure_display_reports_the_whole_figure() -> None:
    fig = plt.figure(layout="constrained")
    top, bottom = fig.subfigures(2, 1)
    disp = CASES["plot_gt_transform"](fig=bottom)
    assert disp.figure_ is fig
    disp = CASES["plot_rdm"](ax=top.add_subplot())
    assert disp.figure_ is fig


@pytest.mark.parametrize("name", sorted(MULTI_PANEL))
def test_multi_panel_ax_errors(name: str) -> None:
    fig = plt.figure()
    with pytest.raises(ValueError, match="give ax= or fig=, not both"):
        CASES[name](ax=fig.add_subplot(), fig=fig)
    free = fig.add_axes((0.1, 0.1, 0.3, 0.3))  # not a subplot: no grid position to split
    with pytest.raises(ValueError, match="ax must be a subplot"):
        CASES[name](ax=free)


# ----------------------------------------------------------------------------
# in a real IPython kernel with the inline backend (as Jupyter and the docs build)
# ----------------------------------------------------------------------------
_SETUP = f"""\
import sys
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
import matplotlib.pyplot as plt
import test_plotting_images as cases
"""


def _images(outputs: list[Any]) -> int:
    return sum("image/png" in out.get("data", {}) for out in outputs)


def _texts(outputs: list[Any]) -> list[str]:
    """Text-only results (an ``<Axes ...>`` repr would be one)."""
    return [
        "".join(out["data"]["text/plain"])
        for out in outputs
        if out.get("output_type") in ("execute_result", "display_data")
        and "image/png" not in out.get("data", {})
        and "text/plain" in out.get("data", {})
    ]


@pytest.fixture(scope="module")
def kernel_run() -> Any:
    """Run code cells in one fresh kernel; return each cell's outputs."""
    import nbformat
    from nbclient import NotebookClient

    def run(sources: list[str]) -> list[list[Any]]:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(_SETUP)] + [
            nbformat.v4.new_code_cell(src) for src in sources
        ]
        env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # the inline default
        NotebookClient(nb, timeout=300, kernel_name="python3").execute(env=env)
        return [cell.outputs for cell in nb.cells[1:]]

    return run


def test_one_image_per_figure_in_a_kernel(kernel_run: Any) -> None:
    names = sorted(CASES)
    last_line = [f"cases.CASES[{name!r}]()" for name in names]
    other = [
        "d = cases.CASES['plot_rdm']()",  # assigned: pyplot's figure shows at the cell's end
        "d",  # shown again later: the display draws its (closed) figure once
        "fig, axes = plt.subplots(1, 2)\n"
        "cases.CASES['plot_rdm'](ax=axes[0])\n"
        "cases.CASES['plot_mds'](ax=axes[1])",  # two panels of one figure: one image
        "for name in ['plot_barcode', 'plot_betti_curves']:\n    cases.CASES[name]()",
        "cases.CASES['plot_barcode']();",  # a trailing semicolon: still one image
        "len(plt.get_fignums())",
    ]
    outputs = kernel_run(last_line + other)
    for name, outs in zip(names, outputs, strict=False):
        assert _images(outs) == 1 and not _texts(outs), (name, outs)
    assigned, again, panels, loop, semicolon, still_open = outputs[len(names):]
    assert _images(assigned) == 1 and not _texts(assigned), assigned
    assert _images(again) == 1 and not _texts(again), again
    assert _images(panels) == 1 and not _texts(panels), panels
    assert _images(loop) == 2 and not _texts(loop), loop
    assert _images(semicolon) == 1 and not _texts(semicolon), semicolon
    assert _texts(still_open) == ["0"], "figures shown were left open in pyplot"
