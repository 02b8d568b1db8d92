"""Workspace of the hot paths: per-thread scratch arrays and one shared thread pool.

Scratch arrays are reused between calls of the hot paths.

Fresh multi-megabyte arrays are handed back to the OS when freed and cost a
page fault per 4 KiB on the next call; on virtual machines that is often more
than the arithmetic done on them (measured: 0.9 ms to fault in 3.3 MB, against
0.2 ms to gather it). The hot paths (RDM comparison, RDM validation) therefore
keep their big temporaries here. A scratch array is only ever used inside one
call and never returned to the user.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

MAX_BYTES = 64 << 20  # larger requests get a fresh array (and are not kept)


class _Buffers(threading.local):
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}


_BUFFERS = _Buffers()


def scratch(key: str, shape: tuple[int, ...], dtype: type = np.float64) -> np.ndarray:
    """An uninitialised C-contiguous array of ``shape``, reused per thread and ``key``.

    Two arrays in use at the same time need two keys.
    """
    dt = np.dtype(dtype)
    size = int(np.prod(shape))
    if size * dt.itemsize > MAX_BYTES:
        return np.empty(shape, dtype=dt)
    full = f"{key}:{dt.str}"
    buf = _BUFFERS.arrays.get(full)
    if buf is None or buf.size < size:
        buf = _BUFFERS.arrays[full] = np.empty(size, dtype=dt)
    return buf[:size].reshape(shape)


@functools.cache
def n_threads() -> int:
    """Cores this process may use (at most 8)."""
    try:
        return max(1, min(8, len(os.sched_getaffinity(0))))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, min(8, os.cpu_count() or 1))


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=n_threads(), thread_name_prefix="neurorep")


if hasattr(os, "register_at_fork"):  # a forked child has none of the parent's threads
    os.register_at_fork(after_in_child=_pool.cache_clear)


def run_blocks(fn: Callable[[int, int], None], n_rows: int, rows_per_block: int) -> None:
    """Call ``fn(start, stop)`` for row blocks, on the shared pool when there are several.

    For kernels that release the GIL (numpy sorting, gathers, ufuncs on large
    blocks). Blocks must write disjoint outputs. The first block (in order)
    that raises has its exception re-raised here, after all blocks finished.
    """
    starts = range(0, n_rows, max(1, rows_per_block))
    if (
        len(starts) <= 1
        or n_threads() == 1
        or threading.current_thread().name.startswith("neurorep")
    ):  # one block, one core, or already inside the pool: no nesting
        for s in starts:
            fn(s, min(s + rows_per_block, n_rows))
        return
    futures = [_pool().submit(fn, s, min(s + rows_per_block, n_rows)) for s in starts]
    errors = [f.exception() for f in futures]
    for err in errors:
        if err is not None:
            raise err
