"""neurorep: compare representations in brains and in models.

Subpackages are imported on use (``import neurorep.rsa``); importing
``neurorep`` itself is cheap and never imports torch, gudhi or matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

from neurorep._core.errors import (
    AlignmentError,
    ChecksumError,
    CorruptFileError,
    DownloadError,
    MissingDataError,
    NeurorepWarning,
    SchemaError,
    UnsafeFileError,
)

__version__ = "0.1.0"

_SUBPACKAGES = (
    "alignment",
    "data",
    "datasets",
    "decoding",
    "encoding",
    "models",
    "plotting",
    "rsa",
    "selectivity",
    "stats",
    "topology",
)

__all__ = [
    "AlignmentError",
    "ChecksumError",
    "CorruptFileError",
    "DownloadError",
    "MissingDataError",
    "NeurorepWarning",
    "SchemaError",
    "UnsafeFileError",
    "__version__",
    *_SUBPACKAGES,
]


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"neurorep.{name}")
    raise AttributeError(f"module 'neurorep' has no attribute {name!r}")
