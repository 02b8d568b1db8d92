"""The one place where an ``rng=`` argument becomes a numpy Generator (numpy SPEC 7)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = ["as_generator", "check_scheduler", "resolve_seed"]


def as_generator(rng: np.random.Generator | int | None, *, name: str = "rng") -> np.random.Generator:
    """A ``numpy.random.Generator`` from ``rng``: ``np.random.default_rng(rng)``, with checks.

    A Generator is used as is (its state advances); an int seed (>= 0) gives
    a reproducible fresh Generator; None draws fresh entropy from the OS; a
    ``SeedSequence`` or ``BitGenerator`` is wrapped, as ``default_rng`` does.
    Refused with an error naming the accepted types: a bool (``default_rng``
    would silently seed with 0 or 1), a legacy ``RandomState`` (its global
    state is what SPEC 7 retires), a negative seed, a float or a string.

    Parameters
    ----------
    rng : int, Generator or None
        A seed (int >= 0), a Generator (used as is), None (fresh entropy), a
        ``SeedSequence`` or a ``BitGenerator``.
    name : str, optional
        The argument's name in error messages (default ``"rng"``).

    Returns
    -------
    numpy.random.Generator
        The generator to draw from.

    Raises
    ------
    TypeError
        A bool, a ``RandomState``, a float, a string or another type.
    ValueError
        A negative seed.

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


def resolve_seed(rng: Any, *, name: str = "rng") -> tuple[np.random.Generator, int | str]:
    """A Generator from ``rng`` and what a result records about it in ``attrs``.

    ``None`` draws a fresh int seed from the OS and seeds with it, so a result made
    with ``rng=None`` records the seed that repeats it; an int is recorded as is; a
    Generator passed in is used as is and recorded as ``"Generator"`` (its state
    cannot be written down as one number).

    Examples
    --------
    >>> from neurorep._core.rng import resolve_seed
    >>> gen, seed = resolve_seed(None)
    >>> isinstance(seed, int)
    True
    >>> resolve_seed(3)[1]
    3
    """
    if rng is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
        return np.random.default_rng(seed), seed
    gen = as_generator(rng, name=name)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool | np.bool_):
        return gen, int(rng)
    return gen, "Generator"


#: the values of ``scheduler=`` (docs/glossary.md): dask's own names, or the active
#: ``dask.distributed.Client`` with "distributed"
SCHEDULERS = ("threads", "processes", "synchronous", "distributed")


def check_scheduler(scheduler: Any) -> None:
    """Refuse a ``scheduler=`` that is neither None nor one of :data:`SCHEDULERS`."""
    if scheduler is not None and scheduler not in SCHEDULERS:
        raise ValueError(
            f"scheduler must be None or one of {SCHEDULERS}; got {scheduler!r}. "
            "Pass scheduler=None to run in this process, or scheduler='threads'."
        )
