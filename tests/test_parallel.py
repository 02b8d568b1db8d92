"""The one parallel engine (neurorep._core.parallel): dask's threaded scheduler, sized by BLAS."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from neurorep._core.parallel import PARALLEL_BYTES, blas_threads, map_tasks, run_blocks

BIG = 4 * PARALLEL_BYTES


def _record(n_rows: int, step: int, *, nbytes: float) -> tuple[np.ndarray, set[int]]:
    seen = np.zeros(n_rows, dtype=int)
    threads: set[int] = set()
    lock = threading.Lock()

    def fn(s: int, e: int) -> None:
        assert 0 < e - s <= step
        time.sleep(0.002)  # long enough for the other worker to take a task
        with lock:
            threads.add(threading.get_ident())
        seen[s:e] += 1

    run_blocks(fn, n_rows, step, nbytes=nbytes)
    return seen, threads


@pytest.mark.parametrize(("n_rows", "step"), [(1, 1), (7, 3), (40, 1), (41, 5), (5, 100)])
def test_run_blocks_visits_every_row_once(n_rows, step):
    for nbytes in (0, BIG):
        seen, _ = _record(n_rows, step, nbytes=nbytes)
        np.testing.assert_array_equal(seen, 1)


def test_run_blocks_runs_tasks_on_several_threads_only_when_allowed_and_worth_it():
    with threadpool_limits(limits=2, user_api="blas"):
        if blas_threads() < 2:
            pytest.skip("BLAS does not take two threads here")
        _, threads = _record(40, 1, nbytes=BIG)
        assert len(threads) >= 2  # large input, two BLAS threads: tasks on dask's workers
        _, threads = _record(40, 1, nbytes=PARALLEL_BYTES - 1)
        assert threads == {threading.get_ident()}  # small input: in the calling thread
    with threadpool_limits(limits=1, user_api="blas"):
        _, threads = _record(40, 1, nbytes=BIG)
        assert threads == {threading.get_ident()}  # one BLAS thread: one worker


def test_run_blocks_off_the_main_thread_runs_in_that_thread():
    got: dict[str, set[int]] = {}

    def worker() -> None:
        got["threads"] = _record(40, 1, nbytes=BIG)[1]
        got["self"] = {threading.get_ident()}

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert got["threads"] == got["self"]


def test_run_blocks_raises_the_first_failing_block_after_all_finished():
    done = np.zeros(8, dtype=bool)

    def fn(s: int, e: int) -> None:
        if s == 1:
            time.sleep(0.05)  # the first failure in order is the slower one
            raise ValueError("block 1")
        if s == 6:
            raise KeyError("block 6")
        done[s:e] = True

    with threadpool_limits(limits=2, user_api="blas"), pytest.raises(ValueError, match="block 1"):
        run_blocks(fn, 8, 1, nbytes=BIG)
    assert done[[0, 2, 3, 4, 5]].all()  # the other tasks ran to their end


def test_map_tasks_keeps_order_holds_one_blas_thread_and_restores_it():
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        out = map_tasks(lambda i: (i, blas_threads()), range(6))
        assert [i for i, _ in out] == list(range(6))
        if before > 1:
            assert {b for _, b in out} == {1}  # each task holds one BLAS thread
        assert blas_threads() == before
        assert map_tasks(lambda i: i, []) == []


def test_map_tasks_raises_the_first_exception_in_order():
    def fn(i: int) -> int:
        if i == 1:
            time.sleep(0.05)
            raise ValueError("item 1")
        if i == 3:
            raise RuntimeError("item 3")
        return i

    with threadpool_limits(limits=2, user_api="blas"), pytest.raises(ValueError, match="item 1"):
        map_tasks(fn, range(5))


def test_run_blocks_without_a_block_size_calls_once_per_task():
    calls: list[tuple[int, int]] = []
    lock = threading.Lock()

    def fn(s: int, e: int) -> None:
        with lock:
            calls.append((s, e))

    run_blocks(fn, 10, None, nbytes=0)
    assert calls == [(0, 10)]  # small: one call in this thread
    calls.clear()
    with threadpool_limits(limits=2, user_api="blas"):
        workers = blas_threads()
        run_blocks(fn, 10, None, nbytes=BIG)
    covered = sorted(calls)
    assert covered[0][0] == 0 and covered[-1][1] == 10
    assert all(a[1] == b[0] for a, b in zip(covered, covered[1:], strict=False))
    assert len(calls) == (1 if workers == 1 else min(10, 2 * workers))


def _weighted_gram(block: np.ndarray, w: np.ndarray, scale: float) -> np.ndarray:
    return (block * w) @ block.T * scale


@pytest.mark.parametrize("chains", [None, 1, 3])
def test_sum_over_chunks_adds_every_chunk_once(rng, chains):
    da = pytest.importorskip("dask.array")
    from neurorep._core.parallel import WAVE_STEPS, is_lazy, sum_over_chunks

    x = rng.normal(size=(7, 230))
    w = rng.uniform(size=230)
    # uneven chunks, more than one wave of them, the sample axis split too
    lazy = da.from_array(x, chunks=(4, (5,) * 40 + (30,)))
    assert is_lazy(lazy) and not is_lazy(x)
    assert len(lazy.chunks[1]) > 3 * WAVE_STEPS
    edges = np.cumsum((0, *lazy.chunks[1]))
    per = [(w[a:b],) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    got = sum_over_chunks(lazy, _weighted_gram, per, shared=(0.5,), chains=chains)
    np.testing.assert_allclose(got, (x * w) @ x.T * 0.5, rtol=1e-12)
    with pytest.raises(ValueError, match="per_chunk"):
        sum_over_chunks(lazy, _weighted_gram, per[:-1], shared=(0.5,))


def _gram_into(block: np.ndarray, scale: float, out: np.ndarray | None = None) -> np.ndarray:
    term = block @ block.T * scale
    if out is None:
        return term
    out += term
    return out


@pytest.mark.parametrize("chains", [None, 1, 3])
def test_sum_over_chunks_into_adds_in_place_as_the_sum_does(rng, chains):
    """``into=True``: the kernel adds into the chain's running result (out=None at a chain's
    start); the total is the same sum, over every wave."""
    da = pytest.importorskip("dask.array")
    from neurorep._core.parallel import sum_over_chunks

    x = rng.normal(size=(6, 300))
    lazy = da.from_array(x, chunks=(6, (7,) * 40 + (20,)))
    got = sum_over_chunks(lazy, _gram_into, [(0.25,)] * 41, chains=chains, into=True)
    np.testing.assert_allclose(got, x @ x.T * 0.25, rtol=1e-12)


def test_chains_are_spread_over_the_workers_of_a_cluster(rng):
    """On a dask.distributed cluster each chain stays on one worker, the chains spread over
    the workers' threads (left to the scheduler, two chains that start on one worker stay
    there: it will not move a running sum it thinks dear to move)."""
    distributed = pytest.importorskip("distributed")
    da = pytest.importorskip("dask.array")
    from neurorep._core.parallel import _HELD, _chain_workers, sum_over_chunks

    assert _chain_workers(3) == [None, None, None]  # no client: the local scheduler
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        a, b = sorted(client.nthreads())
        assert _chain_workers(4) == [a, b, a, b]
        assert _chain_workers(5) == [a, b, a, b, a]
        x = rng.normal(size=(5, 400))
        lazy = da.from_array(x, chunks=(5, 10))
        with distributed.get_task_stream(client) as ts:
            got = sum_over_chunks(lazy, _gram_into, [(1.0,)] * 40, chains=2, into=True)
        np.testing.assert_allclose(got, x @ x.T, rtol=1e-12)
        steps = [t for t in ts.data if "_held_step" in str(t["key"])]
        assert len(steps) == 40
        assert {t["worker"] for t in steps} == {a, b}  # both workers, half the steps each
        assert sum(t["worker"] == a for t in steps) == 20
    assert not _HELD  # the running results left the workers with the total


_STATE: dict = {}  # shared with the kernels below, run by in-process workers


def _spy(block, scale, out=None):
    """_gram_into, recording the largest value dask manages on the worker when called."""
    from distributed import get_worker

    weights = get_worker().data.fast.weights
    _STATE["sizes"].append(max(weights.values(), default=0))
    return _gram_into(block, scale, out)


def _close_once(block, scale, out=None):
    """_gram_into; its worker leaves the cluster mid-sum, up to _STATE["budget"] times."""
    from distributed import get_worker

    worker = get_worker()
    losses = _STATE["losses"]
    if len(losses) < _STATE["budget"] and out is not None and worker.address not in losses:
        losses.append(worker.address)
        worker.loop.add_callback(worker.close)
        time.sleep(0.5)
    return _gram_into(block, scale, out)


def test_running_sums_on_a_cluster_are_not_task_results(rng):
    """The chains' running sums stay in their workers' processes, outside dask's memory
    manager: the in-place sum as a task result was counted twice (a step's input and output
    are one array) and spilled to disk while in use. Only small handles are task results."""
    distributed = pytest.importorskip("distributed")
    da = pytest.importorskip("dask.array")
    from neurorep._core.parallel import sum_over_chunks

    x = rng.normal(size=(60, 400))
    lazy = da.from_array(x, chunks=(60, 10))
    seen = _STATE.setdefault("sizes", [])
    seen.clear()

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        got = sum_over_chunks(lazy, _spy, [(1.0,)] * 40, chains=2, into=True)
    np.testing.assert_allclose(got, x @ x.T, rtol=1e-12)
    assert len(seen) == 40
    assert max(seen) < x[:, :10].nbytes * 2  # chunks only: no 60 x 60 running sum


def test_a_lost_chain_worker_restarts_the_sum_once_then_errors(rng, monkeypatch):
    """A worker that leaves the cluster loses the running results it held: the sum starts
    again on the workers left (same total); lost again, a clear error."""
    distributed = pytest.importorskip("distributed")
    da = pytest.importorskip("dask.array")
    from neurorep._core import parallel

    x = rng.normal(size=(6, 240))
    lazy = da.from_array(x, chunks=(6, 10))
    losses = _STATE.setdefault("losses", [])

    import dask

    monkeypatch.setattr(parallel, "WATCH_SECONDS", 0.2)
    # a surviving in-process worker may wait for a block on the closed one: not 30 s
    monkeypatch.setitem(dask.config.config, "distributed", dask.config.merge(
        dask.config.config.get("distributed", {}), {"comm": {"timeouts": {"connect": "2s"}}}))
    # one loss with two chains; two losses with one chain (one worker lost per attempt)
    for n_losses, n_workers, chains in ((1, 2, 2), (2, 3, 1)):
        _STATE["budget"] = n_losses
        losses.clear()
        with distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1,
                                      processes=False, dashboard_address=None) as cluster, \
                distributed.Client(cluster):
            if n_losses == 1:
                got = parallel.sum_over_chunks(lazy, _close_once, [(1.0,)] * 24,
                                               chains=chains, into=True)
                np.testing.assert_allclose(got, x @ x.T, rtol=1e-12)
            else:
                with pytest.raises(RuntimeError, match="lost twice.*memory_limit"):
                    parallel.sum_over_chunks(lazy, _close_once, [(1.0,)] * 24,
                                             chains=chains, into=True)
        assert len(losses) == n_losses
    assert not parallel._HELD


def _weighted_close_once(block, scale, weights, out=None):
    """_close_once on the rows weighted by a shared input."""
    return _close_once(block * weights[:, None], scale, out)


def test_shared_inputs_of_a_cluster_sum_are_scattered_per_attempt(rng, monkeypatch):
    """On a cluster the shared inputs go to the workers by scatter (one object each, lists
    included), not in every wave's graph; after a lost worker the restarted sum scatters
    them again (fresh keys on the workers left) and gives the same total."""
    distributed = pytest.importorskip("distributed")
    da = pytest.importorskip("dask.array")
    import dask

    from neurorep._core import parallel

    x = rng.normal(size=(6, 240))
    w = rng.random(6) + 0.5
    lazy = da.from_array(x, chunks=(6, 10))
    want = (x * w[:, None]) @ (x * w[:, None]).T
    losses = _STATE.setdefault("losses", [])
    monkeypatch.setattr(parallel, "WATCH_SECONDS", 0.2)
    monkeypatch.setitem(dask.config.config, "distributed", dask.config.merge(
        dask.config.config.get("distributed", {}), {"comm": {"timeouts": {"connect": "2s"}}}))
    scattered = []
    real_scatter = distributed.Client.scatter

    def spy(self, data, *args, **kwargs):
        scattered.append(data)
        return real_scatter(self, data, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "scatter", spy)
    for n_losses in (0, 1):
        _STATE["budget"] = n_losses
        losses.clear()
        scattered.clear()
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster):
            got = parallel.sum_over_chunks(lazy, _weighted_close_once, [(1.0,)] * 24,
                                           shared=(w,), chains=2, into=True)
        np.testing.assert_allclose(got, want, rtol=1e-12)
        assert len(losses) == n_losses
        assert len(scattered) == 1 + n_losses  # once per attempt
        assert all(len(d) == 1 and d[0] is w for d in scattered)  # w whole, not row by row
    assert not parallel._HELD


def _pause_once(block, scale, out=None):
    """_gram_into; its worker is then paused by dask (as for memory), once."""
    from distributed import get_worker
    from distributed.core import Status

    worker = get_worker()
    if out is not None and not _STATE["paused"]:
        _STATE["paused"].append(worker.address)
        worker.loop.add_callback(setattr, worker, "status", Status.paused)
    return _gram_into(block, scale, out)


def test_a_chain_worker_paused_for_good_is_an_error_not_a_hang(rng, monkeypatch):
    """The running results stay on a worker until their chains finish: a worker that dask
    pauses for memory would never resume. After PAUSED_SECONDS, a clear error."""
    distributed = pytest.importorskip("distributed")
    da = pytest.importorskip("dask.array")
    from neurorep._core import parallel

    monkeypatch.setattr(parallel, "WATCH_SECONDS", 0.1)
    monkeypatch.setattr(parallel, "PAUSED_SECONDS", 0.5)
    _STATE["paused"] = []
    x = rng.normal(size=(6, 240))
    lazy = da.from_array(x, chunks=(6, 10))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  memory_limit=0,  # no memory monitor to resume it
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        with pytest.raises(RuntimeError, match=r"paused worker .* memory_limit.*would not resume"):
            parallel.sum_over_chunks(lazy, _pause_once, [(1.0,)] * 24, chains=2, into=True)
    assert len(_STATE["paused"]) == 1
    assert not parallel._HELD


def test_a_chain_step_without_its_running_sum_says_so():
    from neurorep._core.parallel import _held_step, _held_take

    with pytest.raises(RuntimeError, match="after 3 chunks is not on this worker"):
        _held_step(("neurorep-chain-test", 3, 0), _gram_into, np.ones((2, 2)), 1.0, into=True)
    handle = _held_step(("neurorep-chain-test", 0, 0), _gram_into, np.ones((2, 2)), 1.0,
                        into=True)
    assert handle == ("neurorep-chain-test", 1, 32)
    np.testing.assert_array_equal(_held_take(handle), np.full((2, 2), 2.0))
    with pytest.raises(RuntimeError, match="is not on this worker"):
        _held_take(handle)  # taken once
