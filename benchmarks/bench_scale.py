"""Out of core at NSD shape: an on-disk zarr store of single-trial responses, five model
layers, per-layer encoding and a layer x ROI alignment on a dask ``LocalCluster``, side by
side with the in-memory numpy path on the same data (a size that fits in RAM).

Measured and printed:

- peak resident memory of every worker process (``ru_maxrss``) against a budget
  (``--memory-limit``, default 2 GB), and each worker's resident memory before the work;
- wall time and CPU seconds of the out-of-core path (workers x threads; this process,
  the client, with BLAS on as many threads) and of the in-memory path in this process
  (BLAS and dask limited to the same number of threads),
  stage by stage, and their ratios: with the same cores, the ratio of wall times is the
  ratio of throughput per core (target <= 1.2). Both paths do the same work -- the fits
  (weights included), the same results written to zarr and read back ("write"), the CKA
  -- and the in-memory path's read of the store into RAM counts in its total. CPU
  seconds (every process: this one, which holds the scheduler and the nannies, and the
  workers) do not move with the load of other processes on a shared machine, which
  wall times do;
- the projection to the full NSD (8 subjects x 30,000 trials x 300,000 surface vertices)
  in core-hours from the out-of-core CPU seconds (and from wall time x cores), scaling
  each stage by its cost model (ridge: linear in trials and
  vertices; CKA Gram matrices: trials squared times vertices).

The data: a latent (stimulus, 32) in memory; each layer is a random linear map of it plus
noise (``--layer-width`` features); the responses are a random map of the latent plus
noise, generated and written to zarr chunk by chunk (never whole in memory), with the
vertices split into ``--n-rois`` contiguous ROIs (a per-unit ``region`` coordinate).

Run from the repository root (it leaves nothing behind but the printed numbers)::

    .venv/bin/python benchmarks/bench_scale.py                      # 2,000 x 20,000
    .venv/bin/python benchmarks/bench_scale.py --quick              # 1,000 x 8,000
    .venv/bin/python benchmarks/bench_scale.py --n-stimuli 10000 --n-voxels 100000  # 4 GB
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neurorep import alignment, data, encoding  # noqa: E402
from neurorep._core.parallel import is_lazy  # noqa: E402
from neurorep.encoding._chunks import default_chunk_units  # noqa: E402

N_LATENT = 32
FULL_NSD = {"subjects": 8, "trials": 30_000, "vertices": 300_000}


#: The cluster's settings. The workers' environment: glibc's malloc with its defaults, as in this process (the
#: in-memory path). dask's nannies start workers with ``MALLOC_TRIM_THRESHOLD_=65536``
#: (``distributed.nanny.pre-spawn-environ``), and setting any malloc threshold turns off
#: glibc's dynamic mmap threshold: every array over 128 KiB the encoding kernel allocates
#: (a unit chunk centred, the held-out predictions of each alpha, ...) is then a fresh
#: mmap, zero-filled page by page and unmapped when freed. Measured at 2,000 stimuli x
#: 20,000 voxels: 10x the page faults (418k vs 42k per worker), the encoding stage 2.3x
#: the wall time (42.6 vs 18.4 s, load 6-7) and 1.3x the workers' CPU seconds. Without
#: it glibc still returns chunks over 32 MB (its largest mmap threshold) to the system
#: when freed; the per-worker peak stays well inside the budget (printed below).
#: Also: the servers' housekeeping at intervals that cost less CPU while the cores are
#: busy. Idle, a LocalCluster of 2 worker processes used 9.5% of a core with dask's
#: defaults (the scheduler and nannies in this process 5.2%, each worker 2%; an
#: event-loop "tick" every 20 ms on every server, a system monitor every 500 ms and a
#: memory monitor every 100 ms), 1.6% with these: about 2 of the encoding stage's CPU
#: seconds at 2,000 x 20,000. The memory monitor (pausing, spilling and the nanny's
#: restart of a worker over its limit) then looks every 500 ms.
#: ``--dask-defaults`` runs the cluster with dask's own settings.
CLUSTER_CONFIG = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "500ms",
}

#: Bytes of a worker's working set per response value of a unit chunk in the encoding
#: kernel (float64 copies of the block, its centred values, held-out predictions and the
#: per-alpha scores): an upper bound (measured: peak RSS grew by ~20 bytes a value).
WORKING_SET_PER_VALUE = 48


def chunk_from_budget(n: int, m: int, budget: float, threads: int, cores: int) -> int:
    """Voxels per chunk: the largest that fits half of a worker's budget with its threads'
    chunks in flight (two each: one computing, one read ahead) at
    :data:`WORKING_SET_PER_VALUE` bytes a value, no larger than the encoding kernel's own
    in-memory chunk (``default_chunk_units``, about 4 M values: chunks of 2.5x that size
    cost 1.3x the CPU seconds at 2,500 stimuli, measured -- the kernel's arrays fall out
    of cache), and still giving every core two chunks; a multiple of 100, at least 500."""
    per_chunk = budget / 2 / (2 * threads)
    size = min(per_chunk / (WORKING_SET_PER_VALUE * n), default_chunk_units(n, m),
               m / (2 * cores))
    return max(500, int(size) // 100 * 100)


def _peak_rss() -> int:
    """Peak resident set size of this process, bytes (Linux reports KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _one_blas_thread() -> None:
    """In each worker: BLAS on one thread (the worker's one task thread)."""
    import threadpoolctl

    threadpoolctl.threadpool_limits(1)


def _trim_heap() -> int:
    """In a worker: return the free memory of glibc's heap to the system (``malloc_trim``;
    dask.distributed's documented remedy for "unmanaged memory")."""
    import ctypes

    return int(ctypes.CDLL("libc.so.6").malloc_trim(0))


def _tree_cpu() -> float:
    """CPU seconds (user + system) used so far by this process and its children (the
    LocalCluster's nannies and workers; the scheduler runs in this process): on a shared
    machine the cores a path used, whatever the load of other processes did to its wall time."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.Error:  # a process that ended meanwhile
            continue
        total += t.user + t.system
    return total


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def _response_block(latent: np.ndarray, noise: float, block_info: dict | None = None) -> np.ndarray:
    info = block_info[None]  # type: ignore[index]
    start, stop = info["array-location"][1]
    g = np.random.default_rng(1_000 + start)
    w = g.normal(size=(latent.shape[1], stop - start)) / np.sqrt(latent.shape[1])
    y = latent @ w + noise * g.normal(size=(latent.shape[0], stop - start))
    return y.astype(np.float32)


def write_store(path: Path, n: int, m: int, n_rois: int, chunk: int, latent: np.ndarray) -> None:
    """An NSD-shaped responses store (stimulus, unit) float32, written chunk by chunk."""
    import dask
    import dask.array as da

    nchunks = -(-m // chunk)
    sizes = tuple(min(chunk, m - k * chunk) for k in range(nchunks))
    values = da.map_blocks(_response_block, latent, 1.0, chunks=((n,), sizes), dtype=np.float32)
    rois = np.repeat([f"roi{r}" for r in range(n_rois)], -(-m // n_rois))[:m]
    resp = data.responses(values, stimulus=[f"nsd{i:05d}" for i in range(n)],
                          unit=[f"v{j:06d}" for j in range(m)], region=rois)
    with dask.config.set(scheduler="threads"):
        data.save(resp, path)


def layers_of(latent: np.ndarray, ids: list[str], width: int) -> dict[str, xr.DataArray]:
    g = np.random.default_rng(7)
    out = {}
    for k in range(5):
        a = g.normal(size=(latent.shape[1], width)) / np.sqrt(latent.shape[1])
        feats = np.tanh(latent @ a) + (0.2 + 0.2 * k) * g.normal(size=(latent.shape[0], width))
        out[f"layer{k + 1}"] = data.responses(feats, stimulus=ids)
    return out


def run(resp: xr.DataArray, layers: dict[str, xr.DataArray], cv: int, out: Path) -> dict:
    """Per-layer encoding, its results written to zarr and read back, + layer x ROI CKA.

    Both paths do the same work: the fit (weights included), then the same results
    written to ``out`` -- dask-backed results chunk by chunk from the workers, in-memory
    ones from this process -- and their scores read back. The fit and the write are
    timed apart (``encoding`` and ``write``).
    """
    import distributed

    out.mkdir(exist_ok=True)
    times = {"encoding": 0.0, "write": 0.0}
    cpu = {"encoding": 0.0, "write": 0.0}
    scores = {}
    t0, c0 = time.perf_counter(), _tree_cpu()
    if is_lazy(resp):
        # every layer's fit submitted at once: each unit chunk is read from the store once
        # and fitted for every layer on the worker that read it (the per-unit results stay
        # on the workers until written)
        fits = distributed.get_client().persist(
            [encoding.fit_ridge(f, resp, cv=cv, compute=False) for f in layers.values()])
        distributed.wait(fits)  # persist only submits
    else:
        fits = [encoding.fit_ridge(f, resp, cv=cv) for f in layers.values()]
    times["encoding"] += time.perf_counter() - t0
    cpu["encoding"] += _tree_cpu() - c0
    for name in layers:
        t0, c0 = time.perf_counter(), _tree_cpu()
        data.save(fits.pop(0), out / f"{name}.zarr", overwrite=True)
        back = data.load(out / f"{name}.zarr")
        scores[name] = float(np.nanmean(np.asarray(back["score"].values)))
        times["write"] += time.perf_counter() - t0
        cpu["write"] += _tree_cpu() - c0
    # the fits are on disk: the workers' copies are released, and the workers hand the
    # heap the fits freed back to the system (glibc keeps it otherwise; see
    # CLUSTER_CONFIG): with 10,000 stimuli a worker needs 0.8 GB for a Gram matrix next
    if is_lazy(resp):
        distributed.get_client().run(_trim_heap)
    t0, c0 = time.perf_counter(), _tree_cpu()
    sm = alignment.score_matrix(resp, layers, metric="cka", n_bootstrap=0)
    times["alignment"] = time.perf_counter() - t0
    cpu["alignment"] = _tree_cpu() - c0
    return {"times": times, "cpu": cpu, "encoding_score": scores, "cka": sm["score"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-stimuli", type=int, default=2_000)
    ap.add_argument("--n-voxels", type=int, default=20_000)
    ap.add_argument("--n-rois", type=int, default=4)
    ap.add_argument("--layer-width", type=int, default=128)
    ap.add_argument("--chunk-voxels", type=int, default=None,
                    help="voxels per zarr / dask chunk (default: sized from --memory-limit, "
                         "see chunk_from_budget)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads-per-worker", type=int, default=1)
    ap.add_argument("--memory-limit", default="2GB", help="per-worker budget")
    ap.add_argument("--cv", type=int, default=3)
    ap.add_argument("--threads", action="store_true",
                    help="workers as threads of this process (processes=False): no "
                         "serialisation, but no per-worker memory either")
    ap.add_argument("--dask-defaults", action="store_true",
                    help="the cluster with dask's default settings, not CLUSTER_CONFIG "
                         "(the workers' profiler stays off)")
    ap.add_argument("--skip-in-memory", action="store_true",
                    help="only the out-of-core path (sizes that do not fit in RAM)")
    ap.add_argument("--store", default=None, help="folder for the zarr store (default: a temp)")
    ap.add_argument("--quick", action="store_true", help="1,000 x 8,000")
    args = ap.parse_args()
    if args.quick:
        args.n_stimuli, args.n_voxels = 1_000, 8_000
    import dask
    import distributed
    import threadpoolctl
    from dask.utils import parse_bytes

    n, m = args.n_stimuli, args.n_voxels
    budget = parse_bytes(args.memory_limit)
    if args.chunk_voxels is None:
        args.chunk_voxels = chunk_from_budget(n, m, budget, args.threads_per_worker,
                                              args.workers * args.threads_per_worker)
    root = Path(tempfile.mkdtemp(prefix="bench_scale_", dir=args.store))
    try:
        latent = np.random.default_rng(0).normal(size=(n, N_LATENT))
        ids = [f"nsd{i:05d}" for i in range(n)]
        t0 = time.perf_counter()
        write_store(root / "betas.zarr", n, m, args.n_rois, args.chunk_voxels, latent)
        t_write = time.perf_counter() - t0
        layers = layers_of(latent, ids, args.layer_width)
        print(f"store: {n} stimuli x {m} voxels float32 = {n * m * 4 / 1e9:.2f} GB on disk "
              f"in chunks of {args.chunk_voxels} voxels, written in {t_write:.1f} s; "
              f"5 layers x {args.layer_width} features; {args.n_rois} ROIs; cv={args.cv}")

        # --- out of core: LocalCluster, workers x threads, memory_limit per worker; the
        # workers' statistical profiler (a stack sample of every thread each 10 ms, for the
        # dashboard) off: it costs CPU time the in-memory path does not pay; and the
        # workers' allocator as in this process, housekeeping less often (CLUSTER_CONFIG)
        config = {} if args.dask_defaults else CLUSTER_CONFIG
        with dask.config.set({"distributed.worker.profile.enabled": False,
                              **config}), distributed.LocalCluster(
            n_workers=args.workers, threads_per_worker=args.threads_per_worker,
            processes=not args.threads,
            memory_limit=args.memory_limit, dashboard_address=None,
        ) as cluster, distributed.Client(cluster) as client:
            client.run(_one_blas_thread)
            base = client.run(_rss)
            lazy = data.load(root / "betas.zarr", chunks={})  # the stored chunks
            # the (small) unit coordinates in memory: lazy ones are computed on the cluster
            # each time an analysis reads them (a scheduler round trip per call)
            lazy = lazy.assign_coords({k: v.compute() for k, v in lazy.coords.items()
                                       if v.chunks is not None})
            # this process (the client: the scores from the reduced regions, the layers'
            # Gram matrices) with BLAS on as many threads as the in-memory path gets
            with threadpoolctl.threadpool_limits(args.workers * args.threads_per_worker):
                ooc = run(lazy, layers, args.cv, root)
            peaks = client.run(_peak_rss)
        t_ooc = sum(ooc["times"].values())
        cores = args.workers * args.threads_per_worker

        kind = "threads of this process" if args.threads else "processes"
        print(f"\nout of core ({args.workers} workers x {args.threads_per_worker} thread(s), "
              f"{kind}, memory_limit "
              f"{args.memory_limit}):")
        print(f"  encoding {ooc['times']['encoding']:.2f} s, write results {ooc['times']['write']:.2f}"
              f" s, alignment {ooc['times']['alignment']:.2f} s, total {t_ooc:.2f} s")
        for w, p in sorted(peaks.items()):
            flag = "within" if p <= budget else "OVER"
            before = (f"{base[w] / 1e9:.3f} GB before the work" if w in base else
                      "a worker restarted during the work (over the budget's 95%)")
            print(f"  worker {w}: peak RSS {p / 1e9:.3f} GB ({flag} the {budget / 1e9:.1f} GB "
                  f"budget; {before})")
        if len(peaks) != len(base) or set(peaks) != set(base):
            print(f"  WARNING: {len(set(peaks) - set(base))} worker(s) were restarted by their "
                  "nanny (memory over 95% of the limit); the work was redone")

        if not args.skip_in_memory:
            # The in-memory path starts from the same store: reading it into RAM is part of
            # its cost (the out-of-core path reads the store inside its tasks), on the same
            # number of threads.
            with threadpoolctl.threadpool_limits(cores), dask.config.set(
                scheduler="threads", num_workers=cores
            ):
                t0, c0 = time.perf_counter(), _tree_cpu()
                eager = data.load(root / "betas.zarr")
                t_load, c_load = time.perf_counter() - t0, _tree_cpu() - c0
                rss0 = _rss()
                mem = run(eager, layers, args.cv, root / "in_memory")
            mem["times"]["load"] = t_load
            mem["cpu"]["load"] = c_load
            t_mem = sum(mem["times"].values())
            print(f"\nin memory (this process, BLAS {cores} threads, {cores} dask threads):")
            print(f"  load {t_load:.2f} s, encoding {mem['times']['encoding']:.2f} s, write results "
                  f"{mem['times']['write']:.2f} s, alignment "
                  f"{mem['times']['alignment']:.2f} s, total {t_mem:.2f} s; peak RSS "
                  f"{_peak_rss() / 1e9:.3f} GB (data loaded: {rss0 / 1e9:.3f} GB)")
            print("  out-of-core / in-memory: wall time (same cores), CPU seconds (all "
                  "processes: client + scheduler, nannies, workers)")
            for stage in ("encoding", "write", "alignment"):
                print(f"    {stage:9s}: wall {ooc['times'][stage]:6.2f} / {mem['times'][stage]:6.2f}"
                      f" s = {ooc['times'][stage] / mem['times'][stage]:.2f}x;  CPU "
                      f"{ooc['cpu'][stage]:6.2f} / {mem['cpu'][stage]:6.2f} s = "
                      f"{ooc['cpu'][stage] / mem['cpu'][stage]:.2f}x")
            c_ooc, c_mem = sum(ooc["cpu"].values()), sum(mem["cpu"].values())
            print(f"    total (in-memory with its load of the store): wall {t_ooc:.2f} / "
                  f"{t_mem:.2f} s = {t_ooc / t_mem:.2f}x;  CPU {c_ooc:.2f} / {c_mem:.2f} s = "
                  f"{c_ooc / c_mem:.2f}x")
            print(f"  throughput per core (same {cores} cores), out-of-core / in-memory: "
                  f"{t_ooc / t_mem:.2f}x by wall time, {c_ooc / c_mem:.2f}x by CPU time "
                  f"(target <= 1.2x)")
            d_cka = float(np.abs(ooc["cka"].values - mem["cka"].values).max())
            d_enc = max(abs(ooc["encoding_score"][k] - mem["encoding_score"][k]) for k in layers)
            print(f"  agreement: max |CKA difference| {d_cka:.2e}; max |mean R^2 difference| "
                  f"{d_enc:.2e}")

        # --- projection to the full NSD, each stage by its cost model, from the out-of-core
        # path's CPU seconds (all its processes: what the cores did, whatever the load of
        # other processes) and, for comparison, from its wall time x cores
        f = FULL_NSD
        scale_enc = f["subjects"] * (f["trials"] / n) * (f["vertices"] / m) / 3600
        scale_cka = f["subjects"] * (f["trials"] / n) ** 2 * (f["vertices"] / m) / 3600
        enc = (ooc["cpu"]["encoding"] + ooc["cpu"]["write"]) * scale_enc
        cka = ooc["cpu"]["alignment"] * scale_cka
        enc_w = (ooc["times"]["encoding"] + ooc["times"]["write"]) * cores * scale_enc
        cka_w = ooc["times"]["alignment"] * cores * scale_cka
        print(f"\nprojection to the full NSD ({f['subjects']} subjects x {f['trials']:,} trials x "
              f"{f['vertices']:,} vertices, 5 layers of {args.layer_width} features):")
        print(f"  by CPU seconds: encoding {enc:,.1f} core-hours (linear in trials and "
              f"vertices), CKA {cka:,.1f} core-hours (trials^2 x vertices); total "
              f"{enc + cka:,.1f} core-hours")
        print(f"  by wall time x {cores} cores: encoding {enc_w:,.1f}, CKA {cka_w:,.1f}; total "
              f"{enc_w + cka_w:,.1f} core-hours")
        gram = f["trials"] ** 2 * 8
        print(f"  note: a {f['trials']:,} x {f['trials']:,} float64 Gram matrix is "
              f"{gram / 1e9:.1f} GB, over a 2 GB worker budget; average the 3 repetitions "
              f"first (10,000 images: {1e4 ** 2 * 8 / 1e9:.1f} GB).")
        print(f"\nthreadpoolctl: {threadpoolctl.threadpool_info()}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
