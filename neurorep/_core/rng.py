"""The one place where an ``rng=`` argument becomes a numpy Generator (numpy SPEC 7)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = ["as_generator"]


def as_generator(rng: np.random.Generator | int | None, *, name: str = "rng") -> np.random.Generator:
    """A ``numpy.random.Generator`` from ``rng``: ``np.random.default_rng(rng)``, with checks.

    A Generator is used as is (its state advances); an int seed (>= 0) gives
    a reproducible fresh Generator; None draws fresh entropy from the OS; a
    ``SeedSequence`` or ``BitGenerator`` is wrapped, as ``default_rng`` does.
    Refused with an error naming the accepted types: a bool (``default_rng``
    would silently seed with 0 or 1), a legacy ``RandomState`` (its global
    state is what SPEC 7 retires), a negative seed, a float or a string.

    Examples
    --------
    >>> from neurorep.stats import as_generator
    >>> bool(as_generator(0).integers(10) == as_generator(0).integers(10))
    True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if not isinstance(rng, bool | np.bool_ | np.random.RandomState):
        try:
            return np.random.default_rng(rng)
        except (TypeError, ValueError):
            pass
    raise _refusal(rng, name)


def _refusal(rng: Any, name: str) -> Exception:
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool | np.bool_):
        return ValueError(f"{name}: an int seed must be >= 0; got {int(rng)}. Pass e.g. {name}=0.")
    fix = "e.g. np.random.default_rng(seed)" if isinstance(rng, np.random.RandomState) else ""
    return TypeError(
        f"{name} must be None, an int seed (>= 0) or a numpy.random.Generator; got {rng!r} "
        f"({type(rng).__name__}). Pass e.g. {name}=0 for a reproducible result"
        + (f", or convert it: {fix}." if fix else ", or np.random.default_rng(0).")
    )
