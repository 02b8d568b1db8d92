"""Run a unit-chunk kernel over numpy or dask responses, one task per unit chunk.

The kernels take a ``(sample, unit_chunk)`` numpy block and return a dict of
arrays whose last axis runs over the chunk's units. In-memory responses are
split into chunks that run as tasks of neurorep's parallel engine
(:func:`neurorep._core.parallel.map_tasks`: dask's threaded scheduler, one
BLAS thread per task, as many workers as BLAS was allowed threads): every
part of the kernel then runs in parallel, not only the large products, and
small products do not pay for BLAS thread synchronisation (which stalls
badly on a busy machine). With dask-backed responses every chunk becomes one
task of the user's scheduler (the stimulus axis is one chunk; the unit chunks
are the user's), the decomposition plan is a single shared graph node, and
the outputs are concatenated lazily -- so the same code runs in a thread
pool, a ``LocalCluster`` or a remote ``dask.distributed`` cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from neurorep._core.errors import SchemaError
from neurorep._core.parallel import blas_threads, graph_input, map_tasks, one_blas_thread
from neurorep.encoding._inputs import check_scale, complex_error

#: Units per chunk for in-memory responses when the caller does not choose.
DEFAULT_CHUNK_ELEMENTS = 4_000_000


def default_chunk_units(n_samples: int, n_units: int) -> int:
    """About 4 M response values per chunk (16 MB float32), between 256 and 4096 units."""
    return int(min(n_units, max(256, min(4096, DEFAULT_CHUNK_ELEMENTS // max(n_samples, 1)))))


def check_block(Y: np.ndarray, sample_dim: str, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """Check one chunk (lazy inputs are only checked here); return it and each unit's range.

    Values must be finite, and their range small enough (and large enough)
    for sums of squares in the working ``dtype`` (see
    :func:`neurorep.encoding._inputs.check_scale`).
    """
    Y = np.asarray(Y)
    if Y.dtype.kind == "c":
        raise complex_error("responses", Y.dtype)
    if Y.size:
        top, bottom = Y.max(0), Y.min(0)  # NaN and inf propagate: the finiteness check too
        with np.errstate(over="ignore", invalid="ignore"):
            spread = top.astype(np.float64) - bottom.astype(np.float64)
    else:
        top = bottom = spread = np.zeros(Y.shape[1])
    if Y.dtype.kind == "f" and not (np.isfinite(top).all() and np.isfinite(bottom).all()):
        rows = np.flatnonzero(~np.isfinite(Y).all(1))
        raise SchemaError(
            f"responses: values must be finite; got NaN/inf in {len(rows)} {sample_dim} row(s), "
            f"e.g. rows {rows[:5].tolist()}. Drop them (obj.dropna('{sample_dim}', how='any')) "
            f"or impute them before fitting."
        )
    check_scale(spread, name="responses", dtype=np.dtype(dtype), n=Y.shape[0], what="unit",
                each=True)
    return Y, spread


def _one_blas_thread_task(block: Any, shared: Any, kernel: Callable[..., Any],
                          kwargs: Mapping[str, Any]) -> Any:
    """One dask task: the kernel with one BLAS thread, as the in-memory tasks run (the
    scheduler runs the chunks in parallel; BLAS threads on top of that oversubscribe the
    cores: 2x slower on 2 cores, measured). Returns the kernel's dict of arrays."""
    with one_blas_thread():
        return kernel(block, shared, **kwargs)


def _output(result: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    """One output array of a chunk's kernel result."""
    return result[name]


def map_units(
    Y: Any,
    kernel: Callable[..., dict[str, np.ndarray]],
    spec: Mapping[str, tuple[tuple[int, ...], Any]],
    *,
    chunk_units: int | None,
    compute: bool,
    shared: Any,
    **kwargs: Any,
) -> dict[str, Any]:
    """Apply ``kernel(block, shared, **kwargs)`` to unit chunks and concatenate along units.

    Parameters
    ----------
    Y : ndarray or dask array (sample, unit)
    spec : mapping name -> (leading shape, dtype)
        The arrays each kernel call returns; their last axis is the chunk's units.
    shared : object
        Large read-only input (the decomposition plan), one graph node under dask.
    compute : bool
        With dask input, compute the outputs (one pass) or return dask arrays.
    """
    n, m = Y.shape
    if isinstance(Y, np.ndarray):
        workers = blas_threads()
        size = chunk_units or default_chunk_units(n, m)
        if chunk_units is None and workers > 1 and m >= 128:
            # a multiple of the workers' number of chunks of equal width: no worker runs
            # the last chunk alone while the others wait
            n_chunks = -(-m // size)
            size = -(-m // (-(-n_chunks // workers) * workers))
        parts = map_tasks(
            lambda s: kernel(Y[:, s : s + size], shared, **kwargs), range(0, m, size)
        )
        return {k: np.concatenate([p[k] for p in parts], axis=-1) for k in spec}
    import dask
    import dask.array as da

    Yd = Y.rechunk({0: -1, 1: chunk_units}) if chunk_units else Y.rechunk({0: -1})
    shared_d = graph_input(shared)  # on a cluster: on the workers, not in the graph
    widths = Yd.chunks[1]
    # One task per unit chunk (its kernel's dict of arrays), then one per chunk and output
    # picking that array: a blockwise graph, with no alias tasks between the kernel and
    # the outputs (from_delayed + concatenate put two per chunk and output; on a
    # distributed scheduler every task costs scheduler and worker CPU time)
    res = da.map_blocks(
        _one_blas_thread_task, Yd, shared_d, kernel, kwargs, drop_axis=0, chunks=(widths,),
        dtype=object, meta=np.empty((0,), dtype=object),
        token="unit-chunk-" + getattr(kernel, "__name__", "kernel").lstrip("_"),
    )
    arrays = {}
    for k, (lead, dtype) in spec.items():
        arrays[k] = da.map_blocks(
            _output, res, k, chunks=(*((d,) for d in lead), widths),
            new_axis=list(range(len(lead))), dtype=dtype,
            meta=np.empty((0,) * (len(lead) + 1), dtype=dtype), token=f"unit-chunk-{k}",
        )
    if compute:
        (arrays,) = dask.compute(arrays)
    return arrays
