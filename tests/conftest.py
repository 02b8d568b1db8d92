"""Shared fixtures: the real-data mirror and a headless matplotlib."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parents[1]
MIRROR = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_home() -> Path:
    """The read-only mirror of real datasets at ../shared/data (skip when absent)."""
    if not MIRROR.is_dir():
        pytest.skip(f"real-data mirror not found at {MIRROR}")
    return MIRROR


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(0)
