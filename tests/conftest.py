"""Shared fixtures: the real-data mirror, a headless matplotlib, hypothesis profiles."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest
from hypothesis import HealthCheck, Phase, settings

matplotlib.use("Agg")

# Hypothesis profiles (tests/properties/, see its README.md): "ci", the default, is
# reproducible (derandomize: the same examples on every run), sized for about 2 minutes of
# one core, and does not shrink a failing example (shrinking can take minutes; the failure
# report prints the example and a @reproduce_failure blob); "dev" draws the same examples
# and shrinks a failure to a minimal one; "long" draws fresh random examples, ten times as
# many, without shrinking, for a run by hand:
#   NEUROREP_HYPOTHESIS_PROFILE=long pytest tests/properties --hypothesis-show-statistics
# The variable is read here only; neurorep itself never reads environment variables.
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]
_NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]
_COMMON = {"deadline": None, "suppress_health_check": _SLOW_OK, "print_blob": True}
settings.register_profile(
    "ci", max_examples=100, derandomize=True, database=None, phases=_NO_SHRINK, **_COMMON
)
settings.register_profile("dev", max_examples=100, derandomize=True, database=None, **_COMMON)
settings.register_profile("long", max_examples=1000, phases=_NO_SHRINK, **_COMMON)
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
