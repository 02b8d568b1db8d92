"""Strategies and the outcome check shared by the property tests.

What a public function may do with generated input
--------------------------------------------------
Either return a result (which the property then checks), or refuse the input
with one of neurorep's documented errors: the exception classes of
``neurorep/_errors.py`` (``SchemaError``, ``AlignmentError``...) and the
plain ``ValueError`` / ``TypeError`` an entry point documents for a bad
option -- raised by neurorep's own code (the innermost frame of the traceback
lies in the ``neurorep`` package), so that a ``ValueError`` or ``IndexError``
of numpy, scipy or xarray escaping from deep inside still counts as a defect.
A numpy ``RuntimeWarning`` (divide by zero, invalid value, overflow) escaping
is a defect too, and a ``NeurorepWarning`` is allowed only where the test
says the function documents it.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import settings
from hypothesis import strategies as st

import neurorep
from neurorep import AlignmentError, NeurorepWarning, SchemaError, data

PACKAGE = Path(neurorep.__file__).resolve().parent
DOCUMENTED = (SchemaError, AlignmentError)


def budget(n: int) -> int:
    """``n`` examples under the ``ci`` profile (max_examples=100), scaled with the loaded one."""
    return max(1, round(n * settings.default.max_examples / 100))


# ----------------------------------------------------------------------------- outcome
@dataclasses.dataclass
class Refused:
    """A documented refusal: the exception a public function raised on purpose."""

    error: BaseException


def _raised_in_neurorep(exc: BaseException) -> bool:
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return False
    return Path(last.tb_frame.f_code.co_filename).resolve().is_relative_to(PACKAGE)


def _event(text: str) -> None:
    """Count a refusal in hypothesis' statistics (``--hypothesis-show-statistics``)."""
    from hypothesis import event
    from hypothesis.errors import InvalidArgument

    try:
        event(text)
    except InvalidArgument:  # not inside a property test
        pass


def outcome(
    fn: Callable[..., Any],
    *args: Any,
    allowed: tuple[type[BaseException], ...] = DOCUMENTED,
    warns: tuple[type[Warning], ...] = (),
    **kwargs: Any,
) -> Any:
    """``fn(*args, **kwargs)``, or :class:`Refused` for a documented error.

    Fails (AssertionError) when anything else escapes: an exception outside
    ``allowed``, an allowed type raised by numpy/scipy/xarray rather than by
    neurorep, a RuntimeWarning, or a warning outside ``warns``.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("error", RuntimeWarning)
        try:
            result = fn(*args, **kwargs)
        except allowed as exc:
            if not _raised_in_neurorep(exc):
                raise AssertionError(
                    f"{fn.__qualname__} let a {type(exc).__name__} of a dependency escape: {exc}"
                ) from exc
            if not str(exc).strip():
                raise AssertionError(f"{fn.__qualname__} raised {type(exc).__name__} without a message") from exc
            _event(f"{fn.__name__} refused: {type(exc).__name__}")
            return Refused(exc)
        except Exception as exc:
            raise AssertionError(
                f"{fn.__qualname__} raised an undocumented {type(exc).__name__}: {exc}"
            ) from exc
    bad = [w for w in caught if not issubclass(w.category, warns)]
    if bad:
        raise AssertionError(
            f"{fn.__qualname__} emitted an undocumented warning: "
            + "; ".join(f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in bad)
        )
    return result


def succeeds(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(...)`` on input it must accept: a refusal fails the test too."""
    out = outcome(fn, *args, **kwargs)
    if isinstance(out, Refused):
        raise AssertionError(
            f"{fn.__qualname__} refused valid input: {type(out.error).__name__}: {out.error}"
        ) from out.error
    return out


# ----------------------------------------------------------------------------- values
FLOAT_DTYPES = ("float64", "float32")
# decimal exponents of the data scale: mostly ordinary, sometimes near the ends of the range
_EXPONENTS = {"float64": (-150, 150), "float32": (-15, 15)}


@st.composite
def scales(draw: st.DrawFn, dtype: str = "float64") -> float:
    lo, hi = _EXPONENTS[dtype]
    e = draw(st.one_of(st.just(0), st.sampled_from((lo, hi)), st.integers(lo, hi)))
    return float(10.0**e)


@st.composite
def matrices(
    draw: st.DrawFn,
    *,
    rows: tuple[int, int] = (2, 30),
    cols: tuple[int, int] = (1, 20),
    dtypes: tuple[str, ...] = FLOAT_DTYPES,
    extreme: bool = True,
    shape: tuple[int, ...] | None = None,
    styles: tuple[str, ...] = ("random", "random", "ties", "integers", "offset", "drawn"),
    structure: bool = True,
) -> np.ndarray:
    """A real ``(rows, cols)`` array with the uncomfortable cases of real data.

    Styles: generic random values; a few values only (ties); small integers;
    a large offset with small spread. Then maybe a constant column, a
    duplicated row, and a scale ``10**e`` (|e| up to 150 in float64).
    """
    if shape is None:
        shape = (draw(st.integers(*rows)), draw(st.integers(*cols)))
    dtype = draw(st.sampled_from(dtypes))
    style = draw(st.sampled_from(styles))
    seed = draw(st.integers(0, 2**32 - 1))
    gen = np.random.default_rng(seed)
    if style == "random":
        x = gen.normal(size=shape) * gen.lognormal(0.0, 1.0, size=shape[-1])
    elif style == "ties":
        x = gen.choice(np.array([-1.0, 0.0, 0.25, 1.0, 3.0]), size=shape)
    elif style == "integers":
        x = gen.integers(-3, 4, size=shape).astype(float)
    elif style == "offset":
        x = 1e4 + gen.normal(size=shape)
    else:  # element by element, so hypothesis can shrink the values themselves
        x = draw(
            hnp.arrays(
                np.float64,
                shape,
                elements=st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False),
            )
        )
    x = np.array(x, dtype=np.float64)
    if structure and shape[0] > 2 and draw(st.booleans()):
        i, j = draw(st.lists(st.integers(0, shape[0] - 1), min_size=2, max_size=2, unique=True))
        x[i] = x[j]  # a duplicated stimulus pattern
    if structure and shape[-1] > 1 and draw(st.booleans()):
        x[..., draw(st.integers(0, shape[-1] - 1))] = draw(st.sampled_from((0.0, 1.0, -2.5)))
    if extreme:
        x = x * draw(scales(dtype))
    return x.astype(dtype)


# text ids: any unicode except NUL (which numpy's fixed-width strings and netCDF drop;
# neurorep refuses such ids, see test_ids_with_nul_are_refused)
_ID_CHARS = st.characters(exclude_characters="\x00")


def _distinct(texts: list[str]) -> list[str]:
    """Make repeated texts distinct by appending their position (first ones kept)."""
    seen: set[str] = set()
    out = []
    for i, t in enumerate(texts):
        while t in seen:
            t = f"{t}~{i}"
        seen.add(t)
        out.append(t)
    return out


def ids(n: int) -> st.SearchStrategy[list[str]]:
    """``n`` distinct ids of arbitrary unicode text (the empty string included)."""
    return st.lists(st.text(_ID_CHARS, max_size=6), min_size=n, max_size=n).map(_distinct)


def permutations(n: int) -> st.SearchStrategy[np.ndarray]:
    return st.permutations(list(range(n))).map(np.asarray)


@st.composite
def responses(
    draw: st.DrawFn, *, rows: tuple[int, int] = (2, 30), cols: tuple[int, int] = (1, 20),
    **kw: Any,
) -> Any:
    """A responses DataArray ``(stimulus, unit)`` with arbitrary text ids (maybe refused)."""
    x = draw(matrices(rows=rows, cols=cols, **kw))
    stim = draw(ids(x.shape[0]))
    units = draw(ids(x.shape[1]))
    return outcome(data.responses, x, stimulus=stim, unit=units)


def skip_refused(value: Any) -> Any:
    """Hypothesis ``assume``-like: discard the example when the input itself was refused."""
    from hypothesis import assume

    assume(not isinstance(value, Refused))
    return value


__all__ = [
    "DOCUMENTED",
    "NeurorepWarning",
    "Refused",
    "budget",
    "ids",
    "matrices",
    "outcome",
    "permutations",
    "responses",
    "scales",
    "skip_refused",
    "succeeds",
]
