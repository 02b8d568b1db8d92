"""Shared fixtures: the real-data mirror, a headless matplotlib, hypothesis profiles."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

# Hypothesis profiles (tests/properties/): "ci", the default, is reproducible (derandomize:
# the same examples on every run) and sized for about 2 minutes of CPU; "long" draws fresh
# random examples, ten times as many, for a run by hand:
#   NEUROREP_HYPOTHESIS_PROFILE=long pytest tests/properties --hypothesis-show-statistics
# The variable is read here only; neurorep itself never reads environment variables.
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile(
    "ci", max_examples=100, deadline=None, derandomize=True, database=None,
    suppress_health_check=_SLOW_OK, print_blob=True,
)
settings.register_profile(
    "long", max_examples=1000, deadline=None, suppress_health_check=_SLOW_OK, print_blob=True,
)
settings.load_profile(os.environ.get("NEUROREP_HYPOTHESIS_PROFILE", "ci"))

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
