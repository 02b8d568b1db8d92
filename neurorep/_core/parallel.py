"""The one parallel engine of neurorep's in-memory kernels: dask's threaded scheduler,
as many workers as BLAS may use threads.

neurorep keeps no thread pool of its own. Work on in-memory arrays that can
run in parallel is handed to dask's threaded scheduler (``dask.threaded.get``,
the scheduler ``dask.array`` uses by default); dask-backed inputs run on
whatever scheduler the user chose (threads, a ``LocalCluster``, a remote
``dask.distributed`` cluster). The number of workers is the number of threads
BLAS may use now, as threadpoolctl reports it, so one setting governs every
kind of parallelism: ``with threadpoolctl.threadpool_limits(1): ...`` makes
every neurorep kernel run on one core.

Two shapes of work:

- :func:`run_blocks` -- row blocks of one kernel that releases the GIL
  (numpy's sorts, gathers and ufuncs: ranking, RDM checks, tau-a). Each task
  takes a contiguous range of rows and walks it a cache-sized block at a
  time; small inputs run in the calling thread, where a task would cost
  more than it saves.
- :func:`map_tasks` -- larger tasks that each hold one BLAS thread (the
  encoding unit chunks): every part of such a task runs in parallel, not only
  its large products, and small products skip BLAS's thread synchronisation.

Measured against the private thread pool and per-thread scratch arrays this
replaces (2 shared cores, OpenBLAS, old and new calls interleaved in one
process, best of 7-40): the scheduler costs about 75 us a task against 15 us
for a bare ``ThreadPoolExecutor``, so inputs under :data:`PARALLEL_BYTES` run
in the calling thread (splitting them was slower with dask: ranking 20 x 4186
values took 6.0 ms in tasks against 2.1 ms in one thread). At benchmark sizes
the two engines are level: ranking 8 x 499,500 values 0.33 s (new) vs 0.38 s
(old); ``rsa.compare`` of 20 x 20 RDMs of 92 stimuli, spearman 13.0 vs 12.0 ms,
corr 3.5 vs 4.8 ms; ``fit_ridge`` 1000 x 128 -> 8000 units 2.13 vs 2.39 s.

Dask-backed inputs chunked along units (a third shape of work):

- :func:`sum_over_chunks` -- the sum over unit chunks of a per-chunk product
  (Gram matrices of RDMs and CKA): one accumulation chain per scheduler
  thread, so a worker holds one chunk and one running sum per thread
  whatever the number of units, on the threaded scheduler or a
  ``dask.distributed`` cluster alike.

Nested calls run in order: a kernel called from any thread other than the
main one (a dask task, one of these workers, a user's thread) runs its blocks
in that thread, as the scheduler that started it already owns the cores.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = [
    "PARALLEL_BYTES",
    "blas_threads",
    "is_lazy",
    "map_reductions",
    "map_tasks",
    "one_blas_thread",
    "run_blocks",
    "scheduler_threads",
    "sum_over_chunks",
]

T = TypeVar("T")

#: Inputs smaller than this run their blocks in the calling thread.
PARALLEL_BYTES = 2 << 20
_MAX_WORKERS = 8
#: Chunks per accumulation chain in one wave of :func:`sum_over_chunks`.
WAVE_STEPS = 4
_TASKS_PER_WORKER = 2  # a little slack when one core is busy with something else


@functools.cache
def _controller() -> Any:
    """One threadpoolctl controller per process: scanning the loaded libraries costs ~5 ms;
    reading a library's current thread count from it costs ~2 us."""
    from threadpoolctl import ThreadpoolController

    import neurorep._core.blas  # noqa: F401  (scipy's BLAS loaded: the controller sees it)

    return ThreadpoolController()


def blas_threads() -> int:
    """The number of threads BLAS may use now (respects ``threadpoolctl`` limits)."""
    counts = [
        int(lib.num_threads or 1) for lib in _controller().lib_controllers if lib.user_api == "blas"
    ]
    return max(1, min(counts)) if counts else 1


def one_blas_thread() -> Any:
    """Context: one BLAS thread (for small GEMMs and decompositions, where threads only wait).

    Multithreaded OpenBLAS spins up and synchronises its threads for every
    call; for small products (and on busy or oversubscribed cores, e.g. inside
    dask worker threads) that costs far more than the arithmetic.
    """
    return _controller().limit(limits=1, user_api="blas")


def _workers() -> int:
    """Workers for a call from this thread: 1 off the main thread (nested work runs in order)."""
    if threading.current_thread() is not threading.main_thread():
        return 1
    return min(_MAX_WORKERS, blas_threads())


def _forget_dask_pools() -> None:
    """In a forked child: drop dask's cached thread pools, whose threads stayed in the parent
    (a task submitted to them would wait forever). dask makes fresh ones on the next call."""
    threaded: Any = sys.modules.get("dask.threaded")
    if threaded is not None:
        threaded.pools.clear()
        threaded.default_pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_dask_pools)


def _capture(fn: Callable[..., Any], *args: Any) -> tuple[Any, BaseException | None]:
    try:
        return fn(*args), None
    except BaseException as err:  # re-raised by the caller, in task order
        return None, err


def _run(tasks: list[tuple[Any, ...]], workers: int) -> list[Any]:
    """Run ``tasks`` (``(fn, *args)`` each) on dask's threaded scheduler; results in order.

    Every task runs to its end; then the exception of the first task (in order)
    that raised is re-raised, so the error a caller sees does not depend on timing.
    """
    from dask.threaded import get

    graph = {("task", i): (_capture, *task) for i, task in enumerate(tasks)}
    outs = get(graph, list(graph), num_workers=workers)
    for _, err in outs:
        if err is not None:
            raise err
    return [res for res, _ in outs]


def run_blocks(
    fn: Callable[[int, int], None], n_rows: int, rows_per_block: int | None, *, nbytes: float
) -> None:
    """Call ``fn(start, stop)`` over row blocks of ``rows_per_block`` rows, in parallel when
    the input is large.

    For kernels that release the GIL. Blocks must write disjoint outputs.
    ``nbytes`` is the size of the work (the bytes its blocks read): below
    :data:`PARALLEL_BYTES`, with one worker or from a thread other than the main
    one the blocks run in order here. Otherwise each of a few tasks per worker
    walks a contiguous range of blocks. ``rows_per_block=None``: ``fn`` takes
    ranges of any length (it blocks them itself), one call per task. The first
    block (in order) that raises has its exception re-raised here, after all
    tasks finished.
    """
    step = max(1, n_rows if rows_per_block is None else rows_per_block)
    n_blocks = n_rows if rows_per_block is None else -(-n_rows // step)
    workers = _workers() if n_blocks > 1 and nbytes >= PARALLEL_BYTES else 1

    def walk(s: int, e: int) -> None:
        for b in range(s, e, step):
            fn(b, min(b + step, e))

    if workers == 1:
        walk(0, n_rows)
        return
    per_task = -(-n_blocks // min(n_blocks, workers * _TASKS_PER_WORKER))
    if rows_per_block is not None:
        per_task *= step
    _run([(walk, s, min(s + per_task, n_rows)) for s in range(0, n_rows, per_task)], workers)


def map_tasks(fn: Callable[[T], Any], items: Sequence[T]) -> list[Any]:
    """``[fn(item) for item in items]``, the items as tasks with one BLAS thread each.

    As many workers as BLAS was allowed threads (at most one per item); with
    one worker, one item or off the main thread, the items run in order with
    BLAS's own threads. Results come back in order; the first exception (in
    order) is re-raised after all tasks finished.
    """
    workers = min(_workers(), len(items))
    if workers <= 1:
        return [fn(item) for item in items]
    with one_blas_thread():
        return _run([(fn, item) for item in items], workers)


def map_reductions(fn: Callable[[T], Any], items: Sequence[T]) -> list[Any]:
    """``[fn(item) for item in items]`` for functions that reduce dask-backed inputs with
    :func:`sum_over_chunks` and then finish the result in this process (a Gram matrix
    mirrored and centred, for example).

    On a ``dask.distributed`` cluster two items run at once in threads of this process:
    their reductions on the cluster still run one after the other (a worker thread holds
    one running result at a time), while one item's finishing here overlaps the next
    one's reduction on the workers. Elsewhere the items run in order. Results in order;
    the first exception (in order) is re-raised.
    """
    if len(items) < 2 or _distributed_client() is None:
        return [fn(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2, thread_name_prefix="neurorep-reduce") as pool:
        return list(pool.map(fn, items))


def is_lazy(a: Any) -> bool:
    """True for a dask array (or a DataArray backed by one)."""
    data = getattr(a, "data", a)
    return type(data).__module__.split(".")[0] == "dask"


def scheduler_threads() -> int:
    """Threads of the scheduler a dask ``compute()`` would use now: the active
    ``dask.distributed.Client``'s (all its workers together) or the local ones."""
    client = _distributed_client()
    if client is None:
        return max(1, blas_threads(), os.cpu_count() or 1)
    return max(1, sum(client.nthreads().values()))


def _accumulate(acc: Any, kernel: Callable[..., Any], block: Any, *args: Any,
                combine: Callable[[Any, Any], Any] | None = None, into: bool = False) -> Any:
    """One step of a chain: ``kernel(block, *args)`` joined to the running result (one BLAS
    thread: the chains run in parallel); added in place unless ``combine`` is given.
    ``into``: ``kernel(block, *args, out=acc)`` adds its term into ``acc`` itself (the
    running result is this step's alone: only the next step of its chain reads it)."""
    import numpy as np

    with one_blas_thread():
        if into:
            return kernel(np.asarray(block), *args, out=acc)
        out = kernel(np.asarray(block), *args)
        if acc is None:
            return out
        if combine is not None:
            return combine(acc, out)
    out += acc
    return out


def _total(parts: Sequence[Any], combine: Callable[[Any, Any], Any] | None = None) -> Any:
    """The chains' results joined (in this process: a worker holds one running result)."""
    if combine is not None:
        return functools.reduce(combine, parts)
    out = parts[0]
    for p in parts[1:]:
        out += p
    return out


def _distributed_client() -> Any:
    """The active ``dask.distributed`` client, or None."""
    try:
        from distributed import get_client

        return get_client()
    except (ImportError, ValueError):
        return None


def graph_input(obj: Any) -> Any:
    """A large read-only input of a dask graph, as one node every task can take.

    On a ``dask.distributed`` client it is scattered to every worker once, outside the
    graph (embedded, a few layers' decompositions made a 34 MB graph that the
    scheduler unpacked and forwarded, with dask's "large graph" warning), under a fresh
    key per call: with a content hash, a second call with the same object could get the
    key that the first one's release was deleting ("lost dependencies"). A result built
    on it is computed on that client. Elsewhere: one ``dask.delayed`` node.
    """
    client = _distributed_client()
    if client is not None:
        return _scatter_whole(client, obj)
    import dask

    return dask.delayed(obj, pure=True, traverse=False)


def _scatter_whole(client: Any, obj: Any) -> Any:
    """``obj`` scattered to every worker of ``client`` as one object (a list or tuple too,
    which ``client.scatter`` would scatter element by element), under a fresh key."""
    return client.scatter([obj], broadcast=True, hash=False)[0]


def _chain_workers(n_chains: int) -> list[str | None]:
    """The worker each accumulation chain runs on when a ``dask.distributed`` client is
    active (chains spread over the workers by their threads), else ``None``s. Left to
    itself the scheduler keeps a step where its running sum is (moving ``n x n`` floats
    looks dear at its assumed bandwidth), so two chains that start on one worker stay
    there while the others idle."""
    client = _distributed_client()
    slots = [] if client is None else [
        w for w, k in sorted(client.nthreads().items()) for _ in range(k)]
    if not slots:
        return [None] * n_chains
    # chain c on the c-th thread slot, threads of one worker interleaved with the others'
    order = sorted(range(len(slots)), key=lambda i: (slots[:i].count(slots[i]), i))
    return [slots[order[c % len(slots)]] for c in range(n_chains)]


def sum_over_chunks(
    x: Any,
    kernel: Callable[..., Any],
    per_chunk: Sequence[tuple[Any, ...]] | None = None,
    *,
    shared: tuple[Any, ...] = (),
    chains: int | None = None,
    combine: Callable[[Any, Any], Any] | None = None,
    into: bool = False,
) -> Any:
    """``sum_k kernel(x_k, *per_chunk[k], *shared)`` over the column (unit) chunks ``x_k`` of
    a dask array ``x`` ``(sample, unit)``, computed on the active dask scheduler.

    The chunks are split into ``chains`` (default :func:`scheduler_threads`)
    interleaved sequences; each adds its chunks' terms one after the other into
    a running sum, and the chains' sums are added at the end. A worker thread so
    holds one chunk, one term and one running sum at a time: memory is bounded
    by the chunk size and the size of the result, not by the number of units.
    The sample axis is one chunk (rechunked if needed); ``kernel`` gets a numpy
    block and returns a numpy array (summed in place). ``combine(a, b)``, any
    associative reduction of two terms, replaces the sum (the R factor of a
    stacked QR, for example); it runs with one BLAS thread. ``into``: the kernel
    takes the chain's running result as ``out=`` (``None`` at a chain's start) and
    adds its term into it in place, returning it (a Gram matrix accumulated by
    ``syrk`` with ``beta=1``: no ``n x n`` term allocated and added per chunk);
    the chains' results are then joined with ``combine`` (default ``+=``).
    The chains' results come back to this process and are joined here, so a
    worker never holds more than its own running result. On a
    ``dask.distributed`` cluster each chain runs on one worker (the chains
    spread over the workers' threads) and keeps its running result there
    from wave to wave: one transfer of it in all.
    """
    import dask

    xd = x.rechunk({0: -1}) if len(x.chunks[0]) > 1 else x
    n_blocks = len(xd.chunks[1])
    extra = list(per_chunk) if per_chunk is not None else [()] * n_blocks
    if len(extra) != n_blocks:
        raise ValueError(f"per_chunk: {len(extra)} entries for {n_blocks} chunks.")
    n_chains = max(1, min(n_blocks, chains or scheduler_threads()))
    client = _distributed_client()
    if client is not None and client.nthreads():
        return _sum_on_cluster(client, xd, kernel, extra, shared, n_chains, combine, into)
    shared_d = [dask.delayed(s, pure=True, traverse=False) for s in shared]
    step = dask.delayed(_accumulate, pure=True)
    total = None
    # Waves of WAVE_STEPS chunks per chain: a scheduler that runs every ready task
    # eagerly holds at most one wave of chunks, so memory does not grow with the number
    # of chunks; each wave's sums are joined here.
    per_wave = n_chains * WAVE_STEPS
    for start in range(0, n_blocks, per_wave):
        stop = min(start + per_wave, n_blocks)
        accs: list[Any] = [None] * n_chains
        blocks = xd.blocks[0, start:stop].to_delayed().ravel()
        for k, blk in enumerate(blocks):
            c = k % n_chains
            accs[c] = step(accs[c], kernel, blk, *extra[start + k], *shared_d,
                           combine=combine, into=into)
        part = _total(dask.compute(*[a for a in accs if a is not None]), combine)
        if total is None:
            total = part
        elif combine is None:
            total += part
        else:
            total = combine(total, part)
    return total


# The running results of the chains on a dask.distributed worker, kept in the worker's
# process by chain token: (chunks added, running result). Outside dask's memory manager on
# purpose: as a task result the in-place running sum would be counted twice (the step's
# input and its output are one array) and spilled to disk while it is being used.
_HELD: dict[str, tuple[int, Any]] = {}
_HELD_LOCK = threading.Lock()
# Chains given up (their sum finished, failed or restarted): a step still running then
# (on a worker that is closing, in this process) does not store its result. The last few
# thousand tokens only.
_DROPPED: dict[str, None] = {}
#: Seconds between the checks that every chain's worker is still there.
WATCH_SECONDS = 2.0
# One reduction on the cluster at a time from this process (a worker thread holds one
# running result): see map_reductions.
_CLUSTER_SUMS = threading.Lock()


def _held_pop(token: str, k: int) -> Any:
    with _HELD_LOCK:
        count, acc = _HELD.pop(token, (0, None))
    if count != k:
        raise RuntimeError(
            f"sum_over_chunks: the running result of chain {token} after {k} chunks is not "
            f"on this worker (it holds {count}): the chain's worker was restarted, or a step "
            "ran on another worker."
        )
    return acc


def _held_step(handle: tuple[str, int, int], kernel: Callable[..., Any], block: Any,
               *args: Any, combine: Callable[[Any, Any], Any] | None = None,
               into: bool = False) -> tuple[str, int, int]:
    """One step of a chain on a ``dask.distributed`` worker: the running result stays in
    this process (:data:`_HELD`); the task's result is the small handle
    ``(token, chunks added, bytes held)``."""
    token, k, _ = handle
    acc = _accumulate(_held_pop(token, k), kernel, block, *args, combine=combine, into=into)
    with _HELD_LOCK:
        if token not in _DROPPED:
            _HELD[token] = (k + 1, acc)
    return token, k + 1, int(getattr(acc, "nbytes", 0))


def _held_take(handle: tuple[str, int, int]) -> Any:
    """A chain's result, removed from its worker."""
    return _held_pop(*handle[:2])


def _held_drop(tokens: Sequence[str]) -> None:
    with _HELD_LOCK:
        for token in tokens:
            _HELD.pop(token, None)
            _DROPPED[token] = None
        for token in list(_DROPPED)[: max(0, len(_DROPPED) - 4096)]:
            del _DROPPED[token]


class _ChainWorkerLost(RuntimeError):
    held = 0  # the bytes of each running result, where known


class _ChainWorkerPaused(_ChainWorkerLost):
    pass


#: Seconds a chain's worker may stay paused by dask (process memory over
#: ``distributed.worker.memory.pause``) before the sum is given up: the running results it
#: holds do not go away until its chains finish, so it would not resume.
PAUSED_SECONDS = 60.0


def _wait_watching(client: Any, futures: list[Any], homes: Sequence[str],
                   paused: dict[str, float]) -> list[Any]:
    """The futures' results. As soon as a worker in ``homes`` has left the cluster (its
    steps, pinned to it, would wait forever) the futures are cancelled and
    :class:`_ChainWorkerLost` raised; :class:`_ChainWorkerPaused` for one that stays
    paused for :data:`PAUSED_SECONDS` (``paused``: since when each was seen paused)."""
    import time

    from distributed import wait

    while True:
        try:
            wait(futures, timeout=WATCH_SECONDS)
            return client.gather(futures)
        except TimeoutError:
            workers = client.scheduler_info()["workers"]
            gone = set(homes) - set(workers)
            if gone:
                client.cancel(futures)
                raise _ChainWorkerLost(", ".join(sorted(gone))) from None
            now = time.monotonic()
            for w in set(homes):
                if workers[w].get("status") != "paused":
                    paused.pop(w, None)
                elif now - paused.setdefault(w, now) > PAUSED_SECONDS:
                    client.cancel(futures)
                    raise _ChainWorkerPaused(w) from None


def _sum_on_cluster(client: Any, xd: Any, kernel: Callable[..., Any], extra: list[Any],
                    shared: tuple[Any, ...], n_chains: int,
                    combine: Callable[[Any, Any], Any] | None, into: bool) -> Any:
    """:func:`sum_over_chunks` on a ``dask.distributed`` cluster: each chain pinned to one
    worker, its running result held in that worker's process from its first chunk to the
    end (one transfer of it, to this process, where the chains' results are joined). The
    ``shared`` inputs are scattered to every worker once per attempt (not carried in
    each wave's graph). A chain's worker that leaves the cluster (restarted by its nanny,
    for memory for example) makes the whole sum start again once on the workers left,
    with the shared inputs scattered again; a second loss is an error. One such sum at a
    time from this process (:func:`map_reductions`)."""
    import uuid

    held = 0
    for attempt in (1, 2):
        homes = _chain_workers(n_chains)
        tokens = [f"neurorep-chain-{uuid.uuid4().hex}" for _ in range(n_chains)]
        # a fresh key per attempt: the workers left get their copies again
        shared_d = [_scatter_whole(client, s) for s in shared]
        try:
            with _CLUSTER_SUMS:
                return _run_chains(client, xd, kernel, extra, shared_d, homes, tokens,
                                   combine, into)
        except _ChainWorkerPaused as err:
            held = err.held
            raise RuntimeError(
                f"sum_over_chunks: dask paused worker {err} for {PAUSED_SECONDS:g} s (its "
                "process memory passed distributed.worker.memory.pause, 80% of its "
                "memory_limit by default) while it held running results"
                + (f" of {held / 1e9:.3g} GB each" if held else "")
                + "; they stay until their chains finish, so it would not resume. Give "
                "each worker more memory (memory_limit), fewer threads (threads_per_worker: "
                "each thread runs a chain) or smaller chunks."
            ) from None
        except _ChainWorkerLost as err:
            lost = str(err)
            held = max(held, err.held)
            if attempt == 2:
                raise RuntimeError(
                    f"sum_over_chunks: the dask worker(s) {lost} holding running results "
                    f"were lost twice (each chain holds one result in its worker's memory"
                    + (f", {held / 1e9:.3g} GB" if held else "")
                    + "); workers restarted by their nanny have usually passed their "
                    "memory limit. Give each worker more memory (memory_limit) or fewer "
                    "threads (threads_per_worker): each thread runs a chain."
                ) from None
        finally:
            try:
                client.run(_held_drop, tokens)  # nothing left behind, whatever happened
            except Exception:  # noqa: BLE001 - a worker gone meanwhile holds nothing
                pass
            for f in shared_d:
                f.release()
    raise AssertionError("unreachable")  # pragma: no cover


def _run_chains(client: Any, xd: Any, kernel: Callable[..., Any], extra: list[Any],
                shared_d: list[Any], homes: Sequence[Any], tokens: Sequence[str],
                combine: Callable[[Any, Any], Any] | None, into: bool) -> Any:
    import dask

    n_chains, n_blocks = len(homes), len(xd.chunks[1])
    step = dask.delayed(_held_step, pure=False)
    last: list[Any] = [(t, 0, 0) for t in tokens]  # each chain's last handle, or its future
    known: list[Any] = list(last)  # the last handles computed
    paused: dict[str, float] = {}
    in_flight: list[tuple[list[int], list[Any]]] = []

    def collect() -> None:
        chains, futures = in_flight.pop(0)
        for c, h in zip(chains, _wait_watching(client, futures, homes, paused), strict=True):
            known[c] = h

    per_wave = n_chains * WAVE_STEPS
    try:
        # Two waves in flight at once: a worker reads the next wave's chunks between the
        # steps of this one, and holds at most two waves of chunks.
        for start in range(0, n_blocks, per_wave):
            stop = min(start + per_wave, n_blocks)
            wave = list(last)
            for k, blk in enumerate(xd.blocks[0, start:stop].to_delayed().ravel()):
                c = k % n_chains
                with dask.annotate(workers=[homes[c]], allow_other_workers=False):
                    wave[c] = step(wave[c], kernel, blk, *extra[start + k], *shared_d,
                                   combine=combine, into=into)
            moved = [c for c in range(n_chains) if wave[c] is not last[c]]
            futures = client.compute([wave[c] for c in moved])
            for c, f in zip(moved, futures, strict=True):
                last[c] = f
            in_flight.append((moved, futures))
            if len(in_flight) > 1:
                collect()
        while in_flight:
            collect()
        take = dask.delayed(_held_take, pure=False)
        outs = []
        for c in range(n_chains):
            if known[c][1]:
                with dask.annotate(workers=[homes[c]], allow_other_workers=False):
                    outs.append(take(known[c]))
        return _total(_wait_watching(client, client.compute(outs), homes, paused), combine)
    except _ChainWorkerLost as err:
        for chains, futures in in_flight:
            for c, f in zip(chains, futures, strict=True):
                try:  # a small handle: the bytes held, for the message
                    if f.status == "finished":
                        known[c] = max(known[c], f.result(timeout=1), key=lambda h: h[1])
                except Exception:  # noqa: BLE001 - only the message would lose its size
                    pass
            client.cancel(futures)
        err.held = max((h[2] for h in known), default=0)
        raise
