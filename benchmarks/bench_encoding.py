"""Ridge with a per-unit alpha: neurorep vs himalaya vs scikit-learn, side by side.

Runs in one process on the same data (X: n x p, Y: n x units, float32 by
default), and prints wall time (untraced), peak traced memory (from a second,
traced run of each method), the ratios to neurorep,
and GFLOP/s against this machine's measured matrix-multiply rate. It checks
that neurorep and himalaya (RidgeCV, numpy backend, R^2 scoring, same folds)
choose the same alphas and agree on the held-out scores.

    python benchmarks/bench_encoding.py            # n=3000, p=512, 20,000 units (a few minutes)
    python benchmarks/bench_encoding.py --quick    # small sizes, seconds
    python benchmarks/bench_encoding.py --scale    # dask: 3000 x 200,000 float32 chunk by chunk
    python benchmarks/bench_encoding.py --before /work/main --repeats 3 --skip-sklearn
        # also time another checkout's fit_ridge (a subprocess) and the float64 path
    python benchmarks/bench_encoding.py --cpu-seconds --repeats 3
        # one BLAS thread: CPU seconds against the 1-thread GEMM (float32 and float64)

Not run in CI. The machines are shared: compare ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np


def gemm_rate(dtype: Any, size: int = 2048, repeats: int = 3) -> float:
    """Measured GFLOP/s of one square matrix multiply (best of ``repeats``)."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(size, size)).astype(dtype)
    b = rng.normal(size=(size, size)).astype(dtype)
    a @ b
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * size**3 / best / 1e9


def adjacent_line(label: str, flops: float, seconds: float, dtype: Any) -> str:
    """``seconds`` against the GEMM rate measured right after it (the floor in the same
    window of machine load), with the load average."""
    import os

    rate = gemm_rate(dtype, repeats=2)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{label}: {seconds:.2f} s, {flops / 1e9 / seconds:.1f} GFLOP/s; adjacent "
            f"{np.dtype(dtype)} GEMM {rate:.0f} GFLOP/s -> {100 * flops / 1e9 / seconds / rate:.0f}% "
            f"(load average {load:.1f})")


def measure(fn: Callable[[], Any], peak: bool = True) -> tuple[Any, float, float]:
    """Run ``fn`` timed and untraced, then (``peak``) once more under tracemalloc:
    (result, seconds, peak traced MB above the start; NaN without ``peak``). Timing a
    traced run charges every allocation to the method that makes more small objects."""
    gc.collect()
    t = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t
    if not peak:
        return out, seconds, float("nan")
    gc.collect()
    tracemalloc.start()
    fn()
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, seconds, top / 1e6


def make_data(n: int, p: int, m: int, dtype: Any, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features and responses whose units differ in SNR (so their best alphas differ)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p), dtype=np.float32)
    W = rng.standard_normal((p, m), dtype=np.float32)
    W *= (rng.uniform(0.0, 0.15, size=m) / np.sqrt(p) * 10).astype(np.float32)
    Y = X @ W
    Y += rng.standard_normal((n, m), dtype=np.float32)
    return X.astype(dtype), Y.astype(dtype)


def neurorep_flops(n: int, p: int, m: int, n_alphas: int, n_folds: int) -> float:
    """Multiply-adds x 2 of the eigh path (X^T Y once, per fold B and alphas, refit).

    The reference count of the "% of GEMM" columns, kept as it was: the direct products
    ``A diag(g) B`` per fold and alpha. fit_ridge now scores the folds in the predictions'
    own basis where that saves work (``Q^T Z`` once per fold, a triangular ``R diag(g) B``
    per alpha), ~61 % of these multiply-adds at the default size: the percentage is this
    count over the real time against the GEMM rate, not the executed arithmetic's
    efficiency.
    """
    k = p
    n_te = n / n_folds
    per_fold = p * k + (n_te + 1) * k + n_alphas * n_te * k
    return 2.0 * m * (n * p + n_folds * per_fold + 2 * p * k)


def himalaya_flops(n: int, p: int, m: int, n_alphas: int, n_folds: int) -> float:
    """Its dominant products: per fold and alpha (n_te x n_train) @ (n_train x m), plus refit."""
    n_te = n / n_folds
    n_tr = n - n_te
    return 2.0 * m * (n_folds * n_alphas * n_te * n_tr + n * p)


def time_fit_ridge(n: int, p: int, m: int, n_alphas: int, folds: int, dtype: Any,
                   repeats: int) -> tuple[float, np.ndarray]:
    """Best-of-``repeats`` seconds of fit_ridge at this size, and its held-out scores."""
    from neurorep.encoding import fit_ridge

    alphas = np.logspace(-2, 6, n_alphas)
    X, Y = make_data(n, p, m, dtype)
    Xw, Yw = make_data(100, 8, 10, dtype)
    fit_ridge(Xw, Yw, alphas=alphas, cv=folds, dtype=str(np.dtype(dtype)))
    best, res = np.inf, None
    flops = neurorep_flops(n, p, m, n_alphas, folds)
    for i in range(max(1, repeats)):
        gc.collect()
        t = time.perf_counter()
        res = fit_ridge(X, Y, alphas=alphas, cv=folds, dtype=str(np.dtype(dtype)))
        t = time.perf_counter() - t
        best = min(best, t)
        print(adjacent_line(f"  {np.dtype(dtype)} repeat {i + 1}", flops, t, dtype), flush=True)
    assert res is not None
    return best, np.asarray(res["cv_r2"].values)


def time_before(path: str, args: argparse.Namespace, dtype: Any) -> tuple[float, np.ndarray]:
    """:func:`time_fit_ridge` with another checkout's neurorep (a subprocess, PYTHONPATH=path)."""
    import os
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cv_r2.npy")
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", out, "--n", str(args.n),
               "--p", str(args.p), "--units", str(args.units), "--alphas", str(args.alphas),
               "--folds", str(args.folds), "--dtype", str(np.dtype(dtype)),
               "--repeats", str(args.repeats)]
        if args.threads is not None:
            cmd += ["--threads", str(args.threads)]
        proc = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": path}, check=True,
                              capture_output=True, text=True)
        lines = proc.stdout.rstrip().splitlines()
        for line in lines[:-1]:
            print(f"  before:{line}")
        return float(lines[-1]), np.load(out)


def run_compare(args: argparse.Namespace) -> None:
    import threadpoolctl
    from sklearn.model_selection import KFold

    from neurorep.encoding import fit_ridge

    dtype = np.dtype(args.dtype)
    n, p, m = args.n, args.p, args.units
    alphas = np.logspace(-2, 6, args.alphas)
    print(f"X {n}x{p}, Y {n}x{m} {dtype}, {args.alphas} alphas, {args.folds} folds")
    for info in threadpoolctl.threadpool_info():
        print(f"  BLAS: {info.get('internal_api')} {info.get('version')} "
              f"{info.get('architecture')} threads={info.get('num_threads')}")
    rate = gemm_rate(dtype)
    print(f"  measured GEMM rate ({dtype}, 2048^3): {rate:.0f} GFLOP/s")
    try:
        import os

        print(f"  load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    except OSError:
        pass
    X, Y = make_data(n, p, m, dtype)
    rows: list[dict[str, Any]] = []
    # warm-up on tiny data: imports and first-call costs are not timed for any method
    Xw, Yw = make_data(100, 8, 10, dtype)
    fit_ridge(Xw, Yw, alphas=alphas, cv=args.folds, dtype=str(dtype))

    t_nr, mem_nr = np.inf, 0.0
    flops = neurorep_flops(n, p, m, args.alphas, args.folds)
    for i in range(max(1, args.repeats)):
        res, t, mem = measure(lambda: fit_ridge(X, Y, alphas=alphas, cv=args.folds,
                                                dtype=str(dtype)), peak=i == 0)
        t_nr, mem_nr = min(t_nr, t), mem_nr if i else mem
        print(adjacent_line(f"  repeat {i + 1}", flops, t, dtype))
    rows.append({"method": "neurorep fit_ridge", "time": t_nr, "mem": mem_nr, "flops": flops})
    if args.before:
        t_b, r2_b = time_before(args.before, args, dtype)
        rows.append({"method": "neurorep fit_ridge, before (--before)", "time": t_b,
                     "mem": float("nan"), "flops": flops})
        print(f"  before vs after: max |cv_r2 diff| "
              f"{np.nanmax(np.abs(r2_b - res['cv_r2'].values)):.2e}")
    nr_alpha = res["alpha"].values
    nr_score = res["score"].values

    h_alpha = h_score = None
    if not args.skip_himalaya:
        from himalaya.backend import set_backend
        from himalaya.ridge import RidgeCV as HRidgeCV

        def neg_mse(y_true: Any, y_pred: Any) -> Any:
            return -((y_true - y_pred) ** 2).mean(-2)  # y_pred: (alpha, sample, target)

        # fit_ridge chooses alpha by the pooled held-out squared error; himalaya's mean
        # squared error over folds is the same criterion when the folds are of equal size
        set_backend("numpy")
        HRidgeCV(alphas=alphas.astype(dtype), cv=KFold(args.folds)).fit(Xw, Yw)
        est = HRidgeCV(alphas=alphas.astype(dtype), cv=KFold(args.folds), fit_intercept=True,
                       solver_params=dict(score_func=neg_mse))
        est, t_h, mem_h = measure(lambda: est.fit(X, Y))
        rows.append({"method": "himalaya RidgeCV (numpy)", "time": t_h, "mem": mem_h,
                     "flops": himalaya_flops(n, p, m, args.alphas, args.folds)})
        h_alpha = np.asarray(est.best_alphas_, dtype=float)
        Y64 = np.asarray(Y, dtype=float)
        sst = ((Y64 - Y64.mean(0)) ** 2).sum(0)
        h_score = 1.0 + n * np.asarray(est.cv_scores_, dtype=float) / sst  # pooled R^2
    sk_alpha = None
    if not args.skip_sklearn:
        from sklearn.linear_model import RidgeCV

        RidgeCV(alphas=alphas, alpha_per_target=True).fit(Xw, Yw)
        sk = RidgeCV(alphas=alphas, alpha_per_target=True)
        sk, t_s, mem_s = measure(lambda: sk.fit(X, Y))
        rows.append({"method": "sklearn RidgeCV(alpha_per_target, GCV)", "time": t_s,
                     "mem": mem_s, "flops": float("nan")})
        sk_alpha = np.asarray(sk.alpha_, dtype=float)

    print(f"\n{'method':<42}{'time s':>9}{'x neurorep':>12}{'peak MB':>10}{'GFLOP':>9}"
          f"{'GFLOP/s':>9}{'% GEMM':>8}")
    for r in rows:
        gf = r["flops"] / 1e9
        print(f"{r['method']:<42}{r['time']:>9.2f}{r['time'] / t_nr:>12.2f}{r['mem']:>10.0f}"
              f"{gf:>9.0f}{gf / r['time']:>9.1f}{100 * gf / r['time'] / rate:>7.0f}%")
    if h_alpha is not None and h_score is not None:
        same = np.isclose(h_alpha, nr_alpha, rtol=1e-4)
        print(f"\nhimalaya agreement: same alpha for {int(same.sum())} of {same.size} units; "
              f"max |score diff| {np.nanmax(np.abs(h_score - nr_score)):.2e} "
              f"(same alpha: {np.nanmax(np.abs(h_score - nr_score)[same], initial=0):.2e})")
        if not same.all():
            bad = np.flatnonzero(~same)[:5]
            cv = res["cv_r2"].values
            gaps = [abs(cv[list(alphas).index(nr_alpha[u]), u]
                        - cv[int(np.argmin(np.abs(alphas - h_alpha[u]))), u]) for u in bad]
            print(f"  differing units {bad.tolist()}: CV-score gap between the two alphas "
                  f"{np.round(gaps, 8).tolist()} (ties within float32 round-off)")
    if sk_alpha is not None:
        print(f"sklearn (leave-one-out GCV, a different criterion): same alpha for "
              f"{int(np.isclose(sk_alpha, nr_alpha).sum())} of {nr_alpha.size} units")
    if not args.skip_float64 and dtype != np.float64:
        rate64 = gemm_rate(np.float64)
        t64, r2_64 = time_fit_ridge(n, p, m, args.alphas, args.folds, np.float64, args.repeats)
        gf = flops / 1e9
        line = (f"\nfloat64 path: neurorep fit_ridge {t64:.2f} s, {gf / t64:.1f} GFLOP/s = "
                f"{100 * gf / t64 / rate64:.0f}% of the float64 GEMM rate ({rate64:.0f} GFLOP/s)")
        if args.before:
            tb64, r2b64 = time_before(args.before, args, np.float64)
            line += (f"; before {tb64:.2f} s = {100 * gf / tb64 / rate64:.0f}% "
                     f"(max |cv_r2 diff| {np.nanmax(np.abs(r2b64 - r2_64)):.1e})")
        print(line)
    alpha_counts = {f"{a:g}": int(c) for a, c in zip(*np.unique(nr_alpha, return_counts=True), strict=True)}
    print(f"neurorep chosen alphas: {alpha_counts}")


def run_cpu_seconds(args: argparse.Namespace) -> None:
    """One BLAS thread: fit_ridge's CPU seconds (``thread_time``; every task runs in this
    thread) against the 1-thread GEMM rate measured by ``thread_time`` just before and
    after (best of 3 each). Steadier than wall time when other jobs share the cores."""
    import os

    from threadpoolctl import threadpool_limits

    from neurorep.encoding import fit_ridge

    n, p, m = args.n, args.p, args.units
    alphas = np.logspace(-2, 6, args.alphas)
    flops = neurorep_flops(n, p, m, args.alphas, args.folds)

    def gemm_cpu(dtype: Any) -> float:
        a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(dtype)
        a @ a
        best = np.inf
        for _ in range(3):
            t = time.thread_time()
            a @ a
            best = min(best, time.thread_time() - t)
        return 2 * 2048**3 / best / 1e9

    for dtype in ("float32", "float64") if not args.skip_float64 else (args.dtype,):
        X, Y = make_data(n, p, m, dtype)
        with threadpool_limits(limits=1):
            Xw, Yw = make_data(100, 8, 10, dtype)
            fit_ridge(Xw, Yw, alphas=alphas, cv=args.folds, dtype=dtype)
            for i in range(max(1, args.repeats)):
                g0 = gemm_cpu(dtype)
                t = time.thread_time()
                fit_ridge(X, Y, alphas=alphas, cv=args.folds, dtype=dtype)
                cpu = time.thread_time() - t
                g1 = gemm_cpu(dtype)
                rate = flops / 1e9 / cpu
                print(f"  {dtype} 1 thread, repeat {i + 1}: {cpu:.2f} CPU s, {rate:.1f} GFLOP/s; "
                      f"1-thread GEMM {g0:.0f}/{g1:.0f} GFLOP/s (before/after) -> "
                      f"{100 * rate / max(g0, g1):.0f}% (load average {os.getloadavg()[0]:.1f})",
                      flush=True)


def run_scale(args: argparse.Namespace) -> None:
    import resource

    import dask
    import dask.array as da

    from neurorep.encoding import fit_ridge

    n, p, m, chunk = args.n, args.p, args.scale_units, args.chunk
    print(f"dask responses {n} x {m} float32 ({n * m * 4 / 1e9:.1f} GB), unit chunks of {chunk}; "
          f"X {n}x{p}")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, p), dtype=np.float32)

    def block(block_id: Any = None) -> np.ndarray:
        j = block_id[1]
        r = np.random.default_rng(j + 1)
        W = r.standard_normal((32, chunk), dtype=np.float32) * np.float32(0.15)
        return X[:, :32] @ W + r.standard_normal((n, chunk), dtype=np.float32)

    Y = da.map_blocks(block, dtype=np.float32, chunks=((n,), (chunk,) * (m // chunk)))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    with dask.config.set(scheduler="threads", num_workers=args.workers):
        t = time.perf_counter()
        res = fit_ridge(X, Y, alphas=np.logspace(-2, 6, args.alphas), cv=args.folds,
                        return_weights=not args.no_weights)
        seconds = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    print(f"fit_ridge on dask: {seconds:.1f} s, peak RSS {rss:.0f} MB (before {rss0:.0f} MB; "
          f"the response matrix alone would be {n * m * 4 / 1e6:.0f} MB), "
          f"result {res.nbytes / 1e6:.0f} MB, median score {float(np.nanmedian(res['score'])):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="n=1000, p=128, 2000 units")
    ap.add_argument("--scale", action="store_true", help="dask-backed 3000 x 200,000 run only")
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--p", type=int, default=512)
    ap.add_argument("--units", type=int, default=20_000)
    ap.add_argument("--alphas", type=int, default=10)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--skip-himalaya", action="store_true")
    ap.add_argument("--skip-sklearn", action="store_true")
    ap.add_argument("--scale-units", type=int, default=200_000)
    ap.add_argument("--chunk", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-weights", action="store_true", help="--scale: skip the refit weights")
    ap.add_argument("--threads", type=int, default=None,
                    help="limit BLAS threads for every method (steadier on a busy machine)")
    ap.add_argument("--repeats", type=int, default=1, help="neurorep runs (the fastest is shown)")
    ap.add_argument("--before", default=None,
                    help="checkout whose fit_ridge is timed as 'before' (e.g. /work/main)")
    ap.add_argument("--skip-float64", action="store_true", help="no float64 neurorep row")
    ap.add_argument("--cpu-seconds", action="store_true",
                    help="fit_ridge on one BLAS thread: CPU seconds against the 1-thread GEMM")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        from threadpoolctl import threadpool_limits

        import neurorep.encoding  # noqa: F401

        with threadpool_limits(limits=args.threads, user_api="blas"):
            t, r2 = time_fit_ridge(args.n, args.p, args.units, args.alphas, args.folds,
                                   args.dtype, args.repeats)
        np.save(args.worker, r2)
        print(t)
        return
    if args.quick:
        args.n, args.p, args.units = 1000, 128, 2000
        args.scale_units, args.chunk = 20_000, 2_000
    # load every BLAS first (scipy ships its own OpenBLAS), so the limit reaches all of them
    import scipy.linalg  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    from threadpoolctl import threadpool_limits

    import neurorep.encoding  # noqa: F401

    try:
        import himalaya.ridge  # noqa: F401
    except ImportError:
        args.skip_himalaya = True
    with threadpool_limits(limits=args.threads, user_api="blas"):
        if args.cpu_seconds:
            run_cpu_seconds(args)
        elif args.scale:
            run_scale(args)
        else:
            run_compare(args)


if __name__ == "__main__":
    main()
