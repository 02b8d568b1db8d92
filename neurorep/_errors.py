"""Exceptions and warnings shared by every neurorep family."""

from __future__ import annotations


class SchemaError(ValueError):
    """An object does not follow the neurorep data model (DESIGN.md section 1)."""


class AlignmentError(ValueError):
    """Two objects do not share the stimuli an operation needs."""


class ChecksumError(OSError):
    """A downloaded or local file does not have the checksum its manifest records."""


class DownloadError(OSError):
    """A dataset file could not be downloaded (network, server or URL problem)."""


class UnsafeFileError(ValueError):
    """A file asks for something neurorep never loads (e.g. a pickle that would run code)."""


class NeurorepWarning(UserWarning):
    """Warnings raised by neurorep (for example constant units scored as NaN)."""


def check_option(name: str, value: object, allowed: object) -> None:
    """Raise a ValueError naming ``name``, the allowed values and what was received."""
    options = list(allowed)  # type: ignore[call-overload]
    if value not in options:
        raise ValueError(f"{name} must be one of {options}; got {value!r}.")
