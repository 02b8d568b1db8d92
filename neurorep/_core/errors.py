"""Exceptions, warnings and argument checks shared by every neurorep family.

The exception classes are public as ``neurorep.SchemaError`` etc.; their
``__module__`` says so, so tracebacks and pickles name the public path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


class SchemaError(ValueError):
    """An object does not follow the neurorep data model (DESIGN.md section 1)."""


class AlignmentError(ValueError):
    """Two objects do not share the stimuli an operation needs."""


class ChecksumError(OSError):
    """A downloaded or local file does not have the checksum its manifest records."""


class DownloadError(OSError):
    """A dataset file could not be downloaded (network, server or URL problem)."""


class MissingDataError(FileNotFoundError):
    """Files of a dataset's layout are missing (a partial download, sessions not fetched).

    The message lists the missing files and how to get them. A subclass of
    ``FileNotFoundError``, so code that caught that keeps working.
    """


class CorruptFileError(OSError):
    """A dataset file is truncated or damaged (an interrupted download, a cut copy).

    The message names the file and how to get it again.
    """


class UnsafeFileError(ValueError):
    """A file asks for something neurorep never loads (e.g. a pickle that would run code)."""


class NeurorepWarning(UserWarning):
    """Warnings raised by neurorep (for example constant units scored as NaN)."""


for _cls in (SchemaError, AlignmentError, ChecksumError, DownloadError, MissingDataError,
             CorruptFileError, UnsafeFileError, NeurorepWarning):
    _cls.__module__ = "neurorep"


def check_option(name: str, value: object, allowed: object) -> None:
    """Raise a ValueError naming ``name``, the allowed values and what was received."""
    options = list(allowed)  # type: ignore[call-overload]
    if value not in options:
        raise ValueError(f"{name} must be one of {options}; got {value!r}.")


def check_real(values: object, *, name: str) -> None:
    """Raise a SchemaError when ``values`` (an array, DataArray or array-like) is complex.

    Only the dtype is read, so lazy (dask) arrays are not computed.
    """
    dtype = getattr(values, "dtype", None)
    if dtype is None:
        import numpy as np

        dtype = np.asarray(values).dtype
    if getattr(dtype, "kind", "") == "c":
        raise SchemaError(
            f"{name}: values must be real numbers; got complex dtype {dtype}. Distances, "
            f"correlations and similarities here are defined on real data: pass the magnitude "
            f"(abs(x)), the real part (x.real), or the real and imaginary parts as separate "
            f"units."
        )


def check_int(name: str, value: object, *, minimum: int, fix: str | None = None) -> int:
    """Return ``value`` as an int, or raise naming ``name``, the bound and what was received.

    Integers (Python or numpy) are accepted; bools, floats (even 2.0) and strings are not,
    so a count is never silently truncated.
    """
    import numbers

    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok or int(value) < minimum:  # type: ignore[call-overload]
        got = f"{value!r} ({type(value).__name__})" if not ok else repr(value)
        hint = fix if fix is not None else f"Pass a whole number >= {minimum}."
        raise ValueError(f"{name} must be an integer >= {minimum}; got {got}. {hint}")
    return int(value)  # type: ignore[call-overload]


def sum_of_squares_fits(flat: np.ndarray) -> bool:
    """Whether ``4 * sum(x ** 2)`` is finite in the values' precision (False on NaN/inf).

    One BLAS pass. The factor 4 covers squared differences of two values
    (``(x - y) ** 2 <= 2 x ** 2 + 2 y ** 2``), so distances, variances and
    Gram matrices of any subset of the values stay finite.
    """
    import numpy as np

    if flat.dtype.kind != "f" or flat.dtype.itemsize < 4:
        flat = flat.astype(np.float32 if flat.dtype.kind == "f" else np.float64)
    with np.errstate(all="ignore"):
        total = np.dot(flat, flat)
    return bool(total <= np.finfo(flat.dtype).max / 4)
