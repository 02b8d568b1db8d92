"""Deprecation periods for renamed parameters (docs/glossary.md, "Renamed parameters").

A parameter renamed to the vocabulary of DESIGN.md section 6 keeps its old name for
a deprecation period: the old keyword still works, gives the same result, and warns
with a ``FutureWarning`` (shown by default, in scripts and notebooks alike) that names
the new keyword and the release that drops the old one. Passing both names is an
error, never a silent choice.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

#: The release that removes the old parameter names.
REMOVED_IN = "0.4"


def renamed_parameters(
    **renames: str | tuple[str, Callable[[Any], Any]],
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Accept old keyword names of a function for a deprecation period.

    Parameters
    ----------
    **renames : str or (str, callable)
        ``old="new"``, or ``old=("new", convert)`` when the old values need a
        conversion (for example ``parallel=True`` to ``scheduler="threads"``).

    Returns
    -------
    callable
        A decorator. The decorated function's signature (``inspect.signature``)
        shows the new names only.

    Examples
    --------
    >>> import warnings
    >>> @renamed_parameters(n_boot="n_bootstrap")
    ... def f(*, n_bootstrap=10):
    ...     return n_bootstrap
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     f(n_boot=5), str(w[0].message)[:42]
    (5, 'f(n_boot=) is deprecated: use n_bootstrap=')
    """
    table = {old: (new, None) if isinstance(new, str) else new for old, new in renames.items()}

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            for old in [k for k in kwargs if k in table]:
                new, convert = table[old]
                if new in kwargs:
                    raise TypeError(
                        f"{func.__name__}() got both {old}= (its old name) and {new}=; "
                        f"pass {new}= only."
                    )
                value = kwargs.pop(old)
                shown = f"{new}={convert(value)!r}" if convert is not None else f"{new}="
                warnings.warn(
                    f"{func.__name__}({old}=) is deprecated: use {shown} "
                    f"(docs/glossary.md); {old}= will be removed in neurorep {REMOVED_IN}.",
                    FutureWarning,
                    stacklevel=2,
                )
                kwargs[new] = convert(value) if convert is not None else value
            return func(*args, **kwargs)

        wrapper.__renamed__ = {old: new for old, (new, _) in table.items()}  # type: ignore[attr-defined]
        return wrapper

    return decorate
