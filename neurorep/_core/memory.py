"""Refuse an allocation that cannot fit, before making it.

A numpy allocation larger than the memory left does not fail cleanly: the
process grows until the system kills it (or swaps for hours). Functions whose
memory grows with a user parameter (alphas x units, candidates, folds,
delays, resamples) estimate their largest allocation first and call
:func:`check_allocation`, which raises a :class:`MemoryError` that gives the
size in GB and the way out.

The memory left is read from psutil when it is installed, else from
``/proc/meminfo`` (``MemAvailable``), else from ``os.sysconf``; a cgroup v2
limit (containers, batch jobs) lowers it. When none can be read, nothing is
refused.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEFAULT_MEMORY_FRACTION", "available_memory", "check_allocation", "resolve_limit"]

#: Default budget: this fraction of the memory available when the call starts.
DEFAULT_MEMORY_FRACTION = 0.75

_CGROUP = Path("/sys/fs/cgroup")
_ALWAYS_FITS = 16e6  # below this the default budget is not looked up


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _cgroup_available() -> int | None:
    """Bytes left under a cgroup v2 memory limit (None without a limit)."""
    limit = _read_int(_CGROUP / "memory.max")  # "max" (no limit) is not a digit string
    used = _read_int(_CGROUP / "memory.current")
    if limit is None or used is None:
        return None
    reclaimable = 0
    try:
        for line in (_CGROUP / "memory.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "inactive_file" and value.strip().isdigit():
                reclaimable = int(value)
    except OSError:
        pass
    return max(0, limit - max(0, used - reclaimable))


def _system_available() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def available_memory() -> int | None:
    """Bytes of memory this process can still allocate, or None when unknown."""
    values = [v for v in (_system_available(), _cgroup_available()) if v is not None]
    return min(values) if values else None


def resolve_limit(limit: float | None, *, name: str = "memory_limit") -> float | None:
    """Bytes allowed by ``limit``: None -> the default fraction of the available memory;
    a float in (0, 1] -> that fraction; a number above 1 -> that many bytes.
    Returns None when the available memory is unknown and ``limit`` is a fraction."""
    if limit is None:
        limit = DEFAULT_MEMORY_FRACTION
    if isinstance(limit, bool) or not isinstance(limit, int | float) or not limit > 0:
        raise ValueError(
            f"{name} must be a fraction of the available memory in (0, 1] or a number of bytes "
            f"above 1; got {limit!r}. Use e.g. {name}=0.9 or {name}=32e9."
        )
    if limit > 1:
        return float(limit)
    avail = available_memory()
    return None if avail is None else float(limit) * avail


def _gb(nbytes: float) -> str:
    return f"{nbytes / 1e9:.3g} GB"


def check_allocation(
    nbytes: float,
    *,
    what: str,
    fix: str,
    limit: float | None = None,
    name: str | None = "memory_limit",
) -> None:
    """Raise a MemoryError when ``nbytes`` exceed the budget (see :func:`resolve_limit`).

    Parameters
    ----------
    nbytes : float
        Estimated size of the allocation (an upper bound of its main arrays).
    what : str
        What would be allocated, with the parameters that set its size, e.g.
        ``"fit_banded_ridge: 10**9 candidate decompositions"``.
    fix : str
        The way out, e.g. ``"Pass fewer candidates (n_candidates=20)."``
    limit : float, optional
        ``None``: :data:`DEFAULT_MEMORY_FRACTION` of the available memory; a
        float in (0, 1]: that fraction; a larger number: bytes.
    name : str or None
        The public keyword that sets ``limit`` (named in the message), or None
        when the caller offers none.

    Raises
    ------
    MemoryError
        With the size in GB, the budget and ``fix``.

    Examples
    --------
    >>> from neurorep._core.memory import check_allocation
    >>> check_allocation(1e3, what="a small array", fix="")  # fits: returns None
    >>> check_allocation(5e9, what="a big array", fix="Use less.", limit=1e9)
    Traceback (most recent call last):
    ...
    MemoryError: a big array needs about 5 GB; the budget is 1 GB (memory_limit=1000000000.0). Use less.
    """
    if limit is None and nbytes <= _ALWAYS_FITS:
        return
    allowed = resolve_limit(limit, name=name or "limit")
    if allowed is None or nbytes <= allowed:
        return
    if limit is not None and limit > 1:
        budget = f"{_gb(allowed)}"
    else:
        avail = available_memory()
        frac = DEFAULT_MEMORY_FRACTION if limit is None else float(limit)
        budget = f"{_gb(allowed)}, {frac:.0%} of the {_gb(avail or 0)} available now"
    setting = f" ({name}={limit!r})" if name and limit is not None else (
        f" (set with {name}=)" if name else "")
    raise MemoryError(f"{what} needs about {_gb(nbytes)}; the budget is {budget}{setting}. {fix}")
