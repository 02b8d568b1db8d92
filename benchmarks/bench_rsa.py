"""neurorep.rsa vs rsatoolbox, side by side in one process.

Three workloads (full sizes; ``--quick`` shrinks them for a smoke run):

1. RDMs of 1000 conditions x 10,000 channels: euclidean (rsatoolbox's squared,
   per-channel), correlation, crossnobis over 2 partitions (identity noise).
2. compare() of 100 x 100 RDMs of 92 conditions (every method); 100 x 100 RDMs
   of 1000 conditions (corr, spearman) and 10 x 10 of 1000 (tau-a); each on the
   square stacks and on condensed stacks (``data.condense``, checked once), with
   the floor measured in the same run (one GEMM of the condensed vectors).
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
separate pass. Run: ``python benchmarks/bench_rsa.py [--quick] [--threads 1]`` (``--threads 1`` when
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
    t_vec, _ = _time(lambda: (data.rdm_vectors(a, out=x), data.rdm_vectors(b, out=y)), repeat)
    t_gemm, _ = _time(lambda: x @ y.T, repeat)
    t_cond, (ca, cb) = _time(lambda: (data.condense(a), data.condense(b)), 1)
    print(
        f"  floor: one GEMM of the condensed vectors {1e3 * t_gemm:.1f} ms; checking + gathering "
        f"the square RDMs {1e3 * t_vec:.1f} ms (rsatoolbox's stored vectors skip it); "
        f"data.condense of both stacks, once: {1e3 * t_cond:.1f} ms"
    )
    for method in methods:
        t_o, r_o = _time(lambda method=method: rsa.compare(a, b, method=method), repeat)
        t_c, r_c = _time(lambda method=method: rsa.compare(ca, cb, method=method), repeat)
        slow = method == "tau-a" or n_cond > 500  # rsatoolbox takes seconds: time it once
        t_r, r_r = _time(
            lambda method=method: rsa_compare(ra, rb, method=method), 1 if slow else repeat
        )
        _row(method, t_o, t_r, float(np.max(np.abs(r_o.values - r_r))))
        _row(
            f"{method} (condensed stacks)", t_c, t_r, float(np.max(np.abs(r_c.values - r_r))),
            f"  {t_c / t_gemm:5.2f}x the GEMM floor",
        )


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
    if args.quick:
        bench_rdm(300, 3000, args.repeat, not args.no_memory)
        bench_compare(
            20, 20, 92, args.repeat, ["corr", "spearman", "rho-a", "cosine_cov", "corr_cov", "tau-a"]
        )
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
        # per tau-a pair, so tau-a on 10 x 10)
        bench_compare(100, 100, 1000, args.repeat, ["corr", "spearman"])
        bench_compare(10, 10, 1000, args.repeat, ["tau-a"])
        bench_bootstrap(1000, 10, 8, 92, ["corr", "spearman"])
        # rsatoolbox needs ~0.4 s (whitened) / ~0.07 s (tau-a) per sample: 100 samples here
        bench_bootstrap(100, 10, 8, 92, ["cosine_cov", "corr_cov", "tau-a"])
        bench_bootstrap(300, 10, 8, 92, ["corr"], kind="dual")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak RSS: {peak:.0f} MB; load average after the run: {os.getloadavg()}")


if __name__ == "__main__":
    main()
