"""The one place where an ``rng=`` argument becomes a numpy Generator (numpy SPEC 7)."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["as_generator"]


def as_generator(rng: np.random.Generator | int | None, *, name: str = "rng") -> np.random.Generator:
    """A ``numpy.random.Generator`` from a Generator, an int seed (>= 0) or None.

    A Generator is used as is (its state advances); an int seed gives a
    reproducible fresh Generator; None draws fresh entropy from the OS.
    Anything else (a string, a float, a bool, a legacy ``RandomState``)
    raises a TypeError naming the accepted types.

    Examples
    --------
    >>> from neurorep.stats import as_generator
    >>> bool(as_generator(0).integers(10) == as_generator(0).integers(10))
    True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if int(rng) < 0:
            raise ValueError(
                f"{name}: an int seed must be >= 0; got {int(rng)}. Pass e.g. {name}=0."
            )
        return np.random.default_rng(int(rng))
    fix = "e.g. np.random.default_rng(seed)" if isinstance(rng, np.random.RandomState) else ""
    raise TypeError(
        f"{name} must be None, an int seed (>= 0) or a numpy.random.Generator; got {rng!r} "
        f"({type(rng).__name__}). Pass e.g. {name}=0 for a reproducible result"
        + (f", or convert it: {fix}." if fix else ", or np.random.default_rng(0).")
    )
