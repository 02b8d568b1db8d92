"""neurorep.rsa vs rsatoolbox, side by side in one process.

Three workloads (full sizes; ``--quick`` shrinks them for a smoke run):

1. RDMs of 1000 conditions x 10,000 channels: euclidean (rsatoolbox's squared,
   per-channel), correlation, crossnobis over 2 partitions (identity noise).
2. compare() of 100 x 100 RDMs of 92 conditions (every method); 100 x 100 RDMs
   of 1000 conditions (corr, spearman); each on the square stacks and on
   condensed stacks (``data.condense``, checked once), with the floor measured
   in the same run (one GEMM of the condensed vectors). Kendall's tau-a of 100 x
   100 condensed RDMs of 1000 conditions, against rsatoolbox and scipy's
   ``kendalltau`` timed on 3 x 3 of those pairs and extrapolated to all.
3. bootstrap evaluation over subjects and stimuli: 1000 samples, 10 subjects,
   8 fixed models, 92 conditions, corr and spearman (rsatoolbox
   ``eval_bootstrap``; neurorep ``evaluate``, inference included); the
   whitened methods and tau-a with 100 samples; the dual bootstrap
   (``eval_dual_bootstrap``) with 300.

For each: median wall time (of ``--repeat`` runs for the fast side; slow
rsatoolbox runs are timed once), the ratio, and the largest absolute
difference between the two libraries' numbers (the bootstrap numbers are
compared on rsatoolbox's own random draws, replayed through neurorep's
engine). Peak memory of the RDM workloads is measured with tracemalloc in a
separate pass. Run: ``python benchmarks/bench_rsa.py [--quick] [--threads 1] [--only tau-a]`` (``--threads 1`` when
the cores are shared with other jobs: multithreaded OpenBLAS then waits on busy
cores, and every mid-sized GEMM can cost a few hundred milliseconds).
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import time
import tracemalloc
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np


def _time(fn: Callable[[], Any], repeat: int, best: bool = False) -> tuple[float, Any]:
    """Median (or, ``best=True``, the shortest: for a loaded machine) of ``repeat`` runs."""
    times, out = [], None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return (min(times) if best else statistics.median(times)), out


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Best wall time and best CPU time (all threads) of ``repeat`` runs, and the result: on
    a shared, loaded machine the best run is the least disturbed one."""
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        gc.collect()
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus), out


def _peak_mb(fn: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def _row(name: str, t_ours: float, t_ref: float, diff: float, extra: str = "") -> None:
    print(
        f"{name:<34} neurorep {t_ours:8.3f} s   rsatoolbox {t_ref:8.3f} s   "
        f"speed-up {t_ref / t_ours:7.1f}x   max|diff| {diff:.1e} {extra}"
    )


def bench_rdm(n_cond: int, n_chan: int, repeat: int, memory: bool) -> None:
    from rsatoolbox.data import Dataset
    from rsatoolbox.rdm import calc_rdm

    from neurorep import data, rsa

    print(f"\n== RDMs: {n_cond} conditions x {n_chan} channels ==")
    g = np.random.default_rng(0)
    ids = [f"c{i:04d}" for i in range(n_cond)]  # sorted ids: rsatoolbox sorts conditions
    x = g.normal(size=(n_cond, n_chan))
    resp = data.responses(x, stimulus=ids)
    ds = Dataset(x, obs_descriptors={"stimulus": np.array(ids)})
    runs = g.normal(size=(n_cond, 2, n_chan))
    cube = data.responses(
        runs, dims=("stimulus", "repetition", "unit"), stimulus=ids, repetition=["r1", "r2"]
    )
    ds_cv = data.to_rsatoolbox(cube)
    iu = np.triu_indices(n_cond, 1)
    cases = [
        (
            "euclidean (squared / n_channel)",
            lambda: rsa.compute_rdm(resp, metric="squared_euclidean"),
            lambda: calc_rdm(ds, method="euclidean", descriptor="stimulus"),
            1,
        ),
        (
            "correlation",
            lambda: rsa.compute_rdm(resp, metric="correlation"),
            lambda: calc_rdm(ds, method="correlation", descriptor="stimulus"),
            1,
        ),
        (
            "crossnobis, 2 partitions",
            lambda: rsa.compute_rdm(cube, metric="crossnobis"),
            lambda: calc_rdm(
                ds_cv, method="crossnobis", descriptor="stimulus", cv_descriptor="repetition"
            ),
            1,
        ),
    ]
    for name, ours, ref, ref_repeat in cases:
        t_o, r_o = _time(ours, repeat)
        t_r, r_r = _time(ref, max(1, min(repeat, ref_repeat)))
        diff = float(np.max(np.abs(r_o.values[iu] - r_r.get_vectors()[0])))
        mem = ""
        if memory:
            mem = f"  peak MB {_peak_mb(ours):7.0f} vs {_peak_mb(ref):7.0f}"
        _row(name, t_o, t_r, diff, mem)


def bench_compare(n_a: int, n_b: int, n_cond: int, repeat: int, methods: list[str]) -> None:
    from rsatoolbox.rdm import RDMs
    from rsatoolbox.rdm import compare as rsa_compare

    from neurorep import data, rsa

    print(f"\n== compare: {n_a} x {n_b} RDMs of {n_cond} conditions ==")
    g = np.random.default_rng(1)
    m = n_cond * (n_cond - 1) // 2
    ids = [f"c{i:03d}" for i in range(n_cond)]
    va = g.random((n_a, m))
    vb = 0.3 * va[:1] + g.random((n_b, m))
    va[::4] = np.round(va[::4] * 3)  # some categorical models with ties
    a = data.rdm(va, stimulus=ids, dim="model")
    b = data.rdm(vb, stimulus=ids, dim="subject")
    ra, rb = RDMs(va), RDMs(vb)
    x, y = data.rdm_vectors(a), data.rdm_vectors(b)
    print(f"  load average: {os.getloadavg()}; best of {repeat} runs (rsatoolbox at 1000 "
          f"conditions: one run); CPU time counts all threads")
    t_vec, _ = _time(lambda: (data.rdm_vectors(a, out=x), data.rdm_vectors(b, out=y)), repeat)
    t_gemm, c_gemm, _ = _best(lambda: x @ y.T, repeat)
    t_cond, (ca, cb) = _time(lambda: (data.condense(a), data.condense(b)), 1)
    print(
        f"  floor: one GEMM of the condensed vectors {1e3 * t_gemm:.1f} ms (CPU "
        f"{1e3 * c_gemm:.1f} ms); checking + gathering the square RDMs {1e3 * t_vec:.1f} ms "
        f"(rsatoolbox's stored vectors skip it); data.condense of both stacks, once: "
        f"{1e3 * t_cond:.1f} ms"
    )
    for method in methods:
        t_o, c_o, r_o = _best(lambda method=method: rsa.compare(a, b, method=method), repeat)
        t_c, c_c, r_c = _best(lambda method=method: rsa.compare(ca, cb, method=method), repeat)
        slow = method == "tau-a" or n_cond > 500  # rsatoolbox takes seconds: time it once
        t_r, _, r_r = _best(
            lambda method=method: rsa_compare(ra, rb, method=method), 1 if slow else repeat
        )
        for label, t, c, r in ((method, t_o, c_o, r_o), (f"{method} (condensed stacks)", t_c,
                                                           c_c, r_c)):
            _row(label, t, t_r, float(np.max(np.abs(r.values - r_r))),
                 f"  {t / t_gemm:5.2f}x the GEMM floor (CPU {c / c_gemm:5.2f}x)")
    print(
        f"  load average after: {os.getloadavg()}"
        )


def bench_tau_a(n_a: int, n_b: int, n_cond: int, n_sub: int) -> None:
    """Kendall tau-a of every pair of two stacks, against per-pair peers timed on a
    ``n_sub`` x ``n_sub`` corner of the same stacks and extrapolated to all pairs:
    rsatoolbox's ``compare(method="tau-a")`` and ``scipy.stats.kendalltau`` (the
    O(m log m) count neurorep ran per pair before #20, one call per pair)."""
    from rsatoolbox.rdm import RDMs
    from rsatoolbox.rdm import compare as rsa_compare
    from scipy.stats import kendalltau

    from neurorep import data, rsa

    m = n_cond * (n_cond - 1) // 2
    print(f"\n== tau-a: {n_a} x {n_b} RDMs of {n_cond} conditions ({m} pairs each), "
          f"peers on {n_sub} x {n_sub} ==")
    print(f"  load average: {os.getloadavg()}")
    g = np.random.default_rng(1)
    ids = [f"c{i:04d}" for i in range(n_cond)]
    va = g.random((n_a, m))
    vb = 0.3 * va[:1] + g.random((n_b, m))
    va[::4] = np.round(va[::4] * 3)  # some categorical models with ties
    vb[::5] = np.round(vb[::5] * 20)
    ca = data.condense(data.rdm(va, stimulus=ids, dim="model"))
    cb = data.condense(data.rdm(vb, stimulus=ids, dim="subject"))
    rsa.compare(ca[:1], cb[:1], method="tau-a")  # loads the compiled kernel (~1 s, once)
    cpu = time.process_time()
    t_o, r_o = _time(lambda: rsa.compare(ca, cb, method="tau-a"), 1)
    cpu = time.process_time() - cpu  # all threads: on a loaded machine, wall >> cpu / cores
    scale = n_a * n_b / n_sub**2
    t_r, r_r = _time(lambda: rsa_compare(RDMs(va[:n_sub]), RDMs(vb[:n_sub]), method="tau-a"), 1)
    t_s, r_s = _time(lambda: [[kendalltau(u, v).statistic for v in vb[:n_sub]]
                              for u in va[:n_sub]], 1)
    diff = float(np.max(np.abs(r_o.values[:n_sub, :n_sub] - r_r)))
    # scipy's statistic is tau-b: equal to tau-a for the rows without ties
    free = [i for i in range(n_sub) if i % 4], [j for j in range(n_sub) if j % 5]
    diff_s = float(np.max(np.abs(r_o.values[np.ix_(*free)] - np.asarray(r_s)[np.ix_(*free)])))
    print(f"  neurorep, all {n_a * n_b} pairs: {t_o:.1f} s ({1e3 * t_o / (n_a * n_b):.1f} ms a pair)"
          f", CPU time {cpu:.1f} s; load average now {os.getloadavg()}")
    _row("tau-a vs rsatoolbox (extrapolated)", t_o, t_r * scale, diff,
         f"  rsatoolbox {t_r / n_sub**2:.3f} s a pair")
    print(f"{'tau-a vs scipy kendalltau (extrap.)':<34} neurorep {t_o:8.3f} s   scipy "
          f"{t_s * scale:8.3f} s   speed-up {t_s * scale / t_o:7.1f}x   max|diff| {diff_s:.1e}"
          f"  (untied pairs)")


def _record_randint(fn: Callable[[], Any]) -> tuple[Any, list[np.ndarray]]:
    """Run ``fn`` while recording the np.random.randint draws rsatoolbox makes."""
    draws: list[np.ndarray] = []
    orig = np.random.randint

    def record(*a: Any, **k: Any) -> Any:
        out = orig(*a, **k)
        draws.append(np.asarray(out))
        return out

    np.random.randint = record  # type: ignore[assignment]
    try:
        return fn(), draws
    finally:
        np.random.randint = orig  # type: ignore[assignment]


def bench_bootstrap(
    n_samples: int, n_subj: int, n_models: int, n_cond: int, methods: list[str], kind: str = "both"
) -> None:
    from rsatoolbox.inference import eval_bootstrap, eval_dual_bootstrap
    from rsatoolbox.model import ModelFixed
    from rsatoolbox.rdm import RDMs

    from neurorep import data, rsa
    from neurorep.rsa._bootstrap import _bootstrap_engine, _Models

    print(
        f"\n== bootstrap evaluation ({kind}: subjects and stimuli): {n_samples} samples, "
        f"{n_subj} subjects, {n_models} models, {n_cond} conditions =="
    )
    g = np.random.default_rng(2)
    m = n_cond * (n_cond - 1) // 2
    ids = [f"c{i:03d}" for i in range(n_cond)]
    truth = g.random(m)
    subjects = truth + g.random((n_subj, m))
    models = np.stack([truth + (k + 1) * 0.3 * g.random(m) for k in range(n_models)])
    models[-1] = np.round(models[-1] * 2)
    mods = data.rdm(models, stimulus=ids, dim="model")
    subj = data.rdm(subjects, stimulus=ids, dim="subject")
    r_models = [ModelFixed(f"m{k}", RDMs(models[k : k + 1])) for k in range(n_models)]
    r_data = RDMs(subjects)
    engine = _Models(
        [f"m{k}" for k in range(n_models)], fixed_rows={k: models[k] for k in range(n_models)}
    )
    for method in methods:
        t_o, _ = _time(
            lambda method=method: rsa.evaluate(
                data=subj, models=mods, method=method, bootstrap=kind, n_bootstrap=n_samples, rng=0
            ),
            1,
        )

        def run_rsatoolbox(method: str = method) -> Any:
            fn = eval_dual_bootstrap if kind == "dual" else eval_bootstrap
            res = fn(r_models, r_data, method=method, N=n_samples)
            res.test_zero(), res.test_pairwise(), res.test_noise()
            return res

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            res, draws = _record_randint(run_rsatoolbox)
            t_r = time.perf_counter() - t0
        subj_idx, stim_idx = np.stack(draws[0::2]), np.stack(draws[1::2])
        draw_sets = [(subj_idx, stim_idx)]
        if kind == "dual":
            draw_sets += [(subj_idx, None), (None, stim_idx)]
        diff = 0.0
        for t, (s_idx, c_idx) in enumerate(draw_sets):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scores, ceil = _bootstrap_engine(engine, subjects, method, n_cond, s_idx, c_idx)
            ref_s = res.evaluations if kind != "dual" else res.evaluations[:, :, 0, 0, t]
            ref_c = res.noise_ceiling if kind != "dual" else res.noise_ceiling[:, :, 0, t]
            diff = max(
                diff,
                float(np.nanmax(np.abs(scores - ref_s))),
                float(np.nanmax(np.abs(ceil.T - ref_c))),
            )
        _row(method, t_o, t_r, diff)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of the fast side")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="limit BLAS threads for the whole run (default: library default)",
    )
    parser.add_argument("--only", choices=["tau-a"], help="run one workload only")
    args = parser.parse_args()
    from threadpoolctl import threadpool_info, threadpool_limits

    if args.threads is not None:
        threadpool_limits(args.threads)
    print(f"load average before the run: {os.getloadavg()}")

    print("threadpool_info:")
    for info in threadpool_info():
        print(
            f"  {info.get('internal_api')} {info.get('version')} "
            f"threads={info.get('num_threads')} arch={info.get('architecture')}"
        )
    if args.only == "tau-a":
        bench_tau_a(20, 20, 200, 3) if args.quick else bench_tau_a(100, 100, 1000, 3)
    elif args.quick:
        bench_rdm(300, 3000, args.repeat, not args.no_memory)
        bench_compare(
            20, 20, 92, args.repeat, ["corr", "spearman", "rho-a", "cosine_cov", "corr_cov", "tau-a"]
        )
        bench_tau_a(20, 20, 200, 3)
        bench_bootstrap(30, 10, 8, 92, ["corr", "spearman", "cosine_cov", "tau-a"])
        bench_bootstrap(20, 10, 8, 92, ["corr"], kind="dual")
    else:
        bench_rdm(1000, 10_000, args.repeat, not args.no_memory)
        bench_compare(
            100,
            100,
            92,
            args.repeat,
            ["corr", "spearman", "rho-a", "cosine", "cosine_cov", "corr_cov", "tau-a"],
        )
        # PERF.md's size: 1000 conditions (rsatoolbox ~3.6 s corr, ~34 s spearman, ~0.3 s
        # per tau-a pair: its tau-a is timed on 3 x 3 pairs and extrapolated)
        bench_compare(100, 100, 1000, args.repeat, ["corr", "spearman"])
        bench_tau_a(100, 100, 1000, 3)
        bench_bootstrap(1000, 10, 8, 92, ["corr", "spearman"])
        # rsatoolbox needs ~0.4 s (whitened) / ~0.07 s (tau-a) per sample: 100 samples here
        bench_bootstrap(100, 10, 8, 92, ["cosine_cov", "corr_cov", "tau-a"])
        bench_bootstrap(300, 10, 8, 92, ["corr"], kind="dual")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak RSS: {peak:.0f} MB; load average after the run: {os.getloadavg()}")


if __name__ == "__main__":
    main()
