"""Layer x region score matrices: neurorep.alignment vs a per-pair loop, side by side.

The peer is the straightforward loop that Net2Brain and Brain-Score run: for
every (region, layer) pair recompute what the pair needs from scratch.

* RSA: ``scipy.spatial.distance.pdist(metric="correlation")`` for both
  representations, then ``scipy.stats.spearmanr`` of the two condensed RDMs.
* Encoding: ``sklearn.model_selection.cross_val_predict`` (5 contiguous folds)
  of ``RidgeCV(alphas, alpha_per_target=True)``, then the mean over units of
  the Pearson r between held-out predictions and responses.

neurorep runs ``alignment.score_matrix(brain, model, metric=..., n_bootstrap=0)``
on the same arrays, plus the batched calls it could make internally
(``rsa.compute_rdm`` on whole sets + one ``rsa.compare``; one
``encoding.cross_validate_ridge`` per layer on all regions' units at once).

Checks: RSA scores must agree to rounding (same RDMs, same Spearman). The
encoding scores agree approximately, because the alpha of each unit is chosen
differently: neurorep by an inner 3-fold CV on each outer training fold,
scikit-learn's RidgeCV by efficient leave-one-out (GCV) on it. The script
reports their max |difference|, their correlation over pairs and whether both
pick the same best layer per region; and, as an exact check of the rest of
the pipeline, it repeats one pair with a single fixed alpha on both sides
(``encoding_metric(alphas=[a])`` vs ``Ridge(alpha=a)``), which must agree to
~1e-10.

A last block times ``score_matrix(..., n_bootstrap=100)`` against ``n_bootstrap=0`` at
a smaller size to show what the bootstrap CI costs.

    python benchmarks/bench_alignment.py --quick   # 3 layers x 4 regions x 300 stimuli
    python benchmarks/bench_alignment.py           # 12 layers x 20 regions x 1000 stimuli
    python benchmarks/bench_alignment.py --encoding-only --before /work/main
        # the encoding block only, with another checkout's score_matrix timed as "before"
    python benchmarks/bench_alignment.py --encoding-only --peer-pairs 6 --float32
        # plus score_matrix with encoding_metric(dtype="float32")

``--threads 1`` runs every side on one BLAS thread: on a 2-core machine shared
with other jobs, multi-threaded OpenBLAS LAPACK calls on small matrices (the
eigh / SVD of a 512 x 512 Gram matrix in every ridge fold) can run 5-10x
slower than single-threaded, which then dominates both sides' timings.

Time is wall time of one untraced run (the RSA rows: the best of ``--repeats``
interleaved runs); peak memory is tracemalloc's peak during one more, traced
run (numpy buffers included) and the process's ru_maxrss at the end. The
project machines have 2 cores shared with other jobs: compare ratios, not
absolute times. Not run in CI.
"""

from __future__ import annotations

import argparse
import gc
import platform
import resource
import time
import tracemalloc
import warnings
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import xarray as xr

ALPHAS = np.logspace(-2, 6, 9)  # neurorep.encoding.DEFAULT_ALPHAS


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """Run ``fn`` once, untraced: (result, wall seconds)."""
    gc.collect()
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def measure(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``fn`` twice: timed untraced, then under tracemalloc for its peak:
    (result, wall seconds, peak traced MB). Timing a traced run would charge every
    allocation to the path that makes more small objects."""
    out, seconds = timed(fn)
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, seconds, peak / 2**20


def make_data(
    n_stimuli: int, n_layers: int, n_regions: int, width: int, n_units: int, seed: int = 0
) -> tuple[xr.DataTree, dict[str, xr.DataArray]]:
    """A random deep ReLU network and regions that are noisy mixtures of two neighbouring layers."""
    from neurorep.data import members
    from neurorep.datasets import make_layered_brain, make_model_activations

    model = make_model_activations(
        n_stimuli, n_layers=n_layers, width=width, input_dim=64, rng=seed
    )
    names = list(members(model))
    regions: dict[str, dict[str, float]] = {}
    for r in range(n_regions):
        pos = r * (n_layers - 1) / max(n_regions - 1, 1)
        lo = int(np.floor(pos))
        hi = min(lo + 1, n_layers - 1)
        frac = pos - lo
        mix = {names[lo]: 1.0 - frac}
        if hi != lo and frac > 0:
            mix[names[hi]] = frac
        regions[f"region{r:02d}"] = mix
    sim = make_layered_brain(
        model, regions=regions, n_units=n_units, n_repetitions=2, noise=2.0, rng=seed + 1
    )
    brain = {k: v.mean("repetition") for k, v in members(sim["brain"]).items()}
    return model, brain


def as_arrays(
    model: xr.DataTree, brain: dict[str, xr.DataArray]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    from neurorep.data import members

    layers = [np.ascontiguousarray(v.values, dtype=np.float64) for v in members(model).values()]
    regions = [np.ascontiguousarray(v.values, dtype=np.float64) for v in brain.values()]
    return layers, regions


# ----------------------------------------------------------------------------- peers
def peer_rsa(layers: list[np.ndarray], regions: list[np.ndarray]) -> np.ndarray:
    """Per pair: both correlation-distance RDMs recomputed, then Spearman (Net2Brain style)."""
    from scipy.spatial.distance import pdist
    from scipy.stats import spearmanr

    out = np.empty((len(regions), len(layers)))
    for i, y in enumerate(regions):
        for j, x in enumerate(layers):
            out[i, j] = spearmanr(
                pdist(y, metric="correlation"), pdist(x, metric="correlation")
            ).statistic
    return out


def _mean_r(pred: np.ndarray, y: np.ndarray) -> float:
    pc, yc = pred - pred.mean(0), y - y.mean(0)
    r = (pc * yc).sum(0) / np.sqrt((pc**2).sum(0) * (yc**2).sum(0))
    return float(np.nanmean(r))


def peer_encoding(layers: list[np.ndarray], regions: list[np.ndarray], cv: int = 5) -> np.ndarray:
    """Per pair: cross_val_predict of RidgeCV(alpha_per_target=True), mean Pearson r over units."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold, cross_val_predict

    out = np.empty((len(regions), len(layers)))
    for i, y in enumerate(regions):
        for j, x in enumerate(layers):
            est = RidgeCV(alphas=ALPHAS, alpha_per_target=True)
            pred = cross_val_predict(est, x, y, cv=KFold(cv))
            out[i, j] = _mean_r(pred, y)
    return out


# ----------------------------------------------------------------------------- neurorep
def ours(
    model: xr.DataTree, brain: dict[str, xr.DataArray], metric: Any, n_boot: int = 0
) -> np.ndarray:
    from neurorep.alignment import score_matrix

    res = score_matrix(brain, model, metric=metric, n_bootstrap=n_boot, rng=0)
    return np.asarray(res["score"].transpose("region", "layer").values, float)


def ours_rsa_batched(model: xr.DataTree, brain: dict[str, xr.DataArray]) -> np.ndarray:
    """Every RDM once, ranked once, all pairs in one comparison (neurorep.rsa)."""
    from neurorep import rsa

    rb = rsa.compute_rdm(brain, metric="correlation", dim="region")
    rl = rsa.compute_rdm(model, metric="correlation", dim="layer")
    return np.asarray(
        rsa.compare(rb, rl, method="spearman").transpose("region", "layer").values, float
    )


def ours_encoding_batched(model: xr.DataTree, brain: dict[str, xr.DataArray]) -> np.ndarray:
    """One nested-CV ridge per layer on all regions' units at once (per-unit alphas)."""
    from neurorep.data import members
    from neurorep.encoding import cross_validate_ridge

    keys = list(brain)
    y = np.concatenate([brain[k].values for k in keys], axis=1)
    bounds = np.cumsum([0] + [brain[k].sizes["unit"] for k in keys])
    out = np.empty((len(keys), len(members(model))))
    for j, layer in enumerate(members(model).values()):
        res = cross_validate_ridge(
            np.asarray(layer.values, float), y, cv=5, inner_cv=3, dtype="float64"
        )
        pred = np.asarray(res["prediction"].values, float)
        for i in range(len(keys)):
            sl = slice(bounds[i], bounds[i + 1])
            out[i, j] = _mean_r(pred[:, sl], y[:, sl])
    return out


def exact_encoding_check(
    model: xr.DataTree, brain: dict[str, xr.DataArray], alpha: float = 100.0
) -> float:
    """One pair, one fixed alpha: neurorep's encoding metric vs sklearn Ridge; returns |diff|."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold, cross_val_predict

    from neurorep.alignment import encoding_metric, score_matrix
    from neurorep.data import members

    key, layer_key = next(iter(brain)), list(members(model))[-1]
    layer = members(model)[layer_key]
    res = score_matrix(
        {key: brain[key]}, {layer_key: layer}, metric=encoding_metric(alphas=[alpha]), n_bootstrap=0, rng=0
    )
    x, y = np.asarray(layer.values, float), np.asarray(brain[key].values, float)
    ref = _mean_r(cross_val_predict(Ridge(alpha=alpha), x, y, cv=KFold(5)), y)
    return abs(float(res["score"].values.ravel()[0]) - ref)


def warm_up() -> None:
    """Run every path once on tiny data, so imports and first-call set-up are not timed."""
    model, brain = make_data(40, 2, 2, 16, 8, seed=2)
    layers, regions = as_arrays(model, brain)
    peer_rsa(layers, regions)
    peer_encoding(layers, regions)
    for metric in ("rsa", "encoding"):
        ours(model, brain, metric, n_boot=2)
    ours_rsa_batched(model, brain)
    ours_encoding_batched(model, brain)


def encoding_before(args: argparse.Namespace) -> tuple[float, np.ndarray]:
    """score_matrix(metric="encoding") with another checkout's neurorep (--before), timed in a
    subprocess on the same data; returns (seconds, scores)."""
    import os
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "scores.npy")
        cmd = [sys.executable, os.path.abspath(__file__), "--encoding-worker", out,
               "--n-stimuli", str(args.n_stimuli), "--n-layers", str(args.n_layers),
               "--n-regions", str(args.n_regions), "--width", str(args.width),
               "--n-units", str(args.n_units)]
        if args.threads is not None:
            cmd += ["--threads", str(args.threads)]
        proc = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": args.before}, check=True,
                              capture_output=True, text=True)
        return float(proc.stdout.strip().splitlines()[-1]), np.load(out)


def encoding_worker(args: argparse.Namespace) -> None:
    model, brain = make_data(args.n_stimuli, args.n_layers, args.n_regions, args.width,
                             args.n_units)
    small_model, small_brain = make_data(40, 2, 2, 16, 8, seed=2)
    ours(small_model, small_brain, "encoding")
    scores, seconds = timed(lambda: ours(model, brain, "encoding"))
    np.save(args.encoding_worker, scores)
    print(seconds)


# ----------------------------------------------------------------------------- report
def _row(name: str, seconds: float, peak: float, base: float | None = None) -> None:
    ratio = f"   {base / seconds:6.1f}x vs peer" if base is not None else ""
    print(f"  {name:<52} {seconds:9.2f} s   peak {peak:8.1f} MB{ratio}")


def _agree(name: str, a: np.ndarray, b: np.ndarray) -> None:
    diff = np.abs(a - b)
    same_best = int((a.argmax(1) == b.argmax(1)).sum())
    corr = float(np.corrcoef(a.ravel(), b.ravel())[0, 1]) if a.size > 1 else float("nan")
    print(
        f"  {name:<52} max|diff| {diff.max():.2e}   mean diff {np.mean(a - b):+.2e}   "
        f"r over pairs {corr:.4f}   same best layer {same_best}/{a.shape[0]}"
    )


def encoding_block(args: argparse.Namespace, model: xr.DataTree, brain: dict[str, xr.DataArray],
                   layers: list[np.ndarray], regions: list[np.ndarray]) -> None:
    print("\n== Encoding (5-fold CV ridge, per-unit alpha, mean Pearson r) ==")
    n_pairs = len(layers) * len(regions)
    if args.peer_pairs and args.peer_pairs < n_pairs:
        # the peer loop on the first layer x the first k regions, extrapolated per pair
        k = args.peer_pairs
        sub, t_sub, m_ref_e = measure(lambda: peer_encoding(layers[:1], regions[:k]))
        t_ref_e = t_sub / k * n_pairs
        ref_e = None
        _row(f"peer: {k} pairs measured ({t_sub:.2f} s), x {n_pairs / k:.0f} extrapolated",
             t_ref_e, m_ref_e)
    else:
        ref_e, t_ref_e, m_ref_e = measure(lambda: peer_encoding(layers, regions))
        _row("peer: cross_val_predict(RidgeCV(alpha_per_target)) / pair", t_ref_e, m_ref_e)
    sm_e, t_sm_e, m_sm_e = measure(lambda: ours(model, brain, "encoding"))
    _row("neurorep score_matrix(metric='encoding', n_bootstrap=0)", t_sm_e, m_sm_e, t_ref_e)
    if args.float32:
        from neurorep.alignment import encoding_metric

        sm_32, t_32, m_32 = measure(lambda: ours(model, brain, encoding_metric(dtype="float32")))
        _row("neurorep score_matrix(encoding_metric(dtype='float32'))", t_32, m_32, t_ref_e)
        print(f"  float32 speed-up {t_sm_e / t_32:.2f}x over float64; max |score diff| "
              f"{np.max(np.abs(sm_32 - sm_e)):.1e}; same best layer "
              f"{int((sm_32.argmax(1) == sm_e.argmax(1)).sum())}/{sm_e.shape[0]}")
    if not args.skip_batched:
        bat_e, t_bat_e, m_bat_e = measure(lambda: ours_encoding_batched(model, brain))
        _row("neurorep cross_validate_ridge per layer, all regions", t_bat_e, m_bat_e, t_ref_e)
    if args.before:
        t_b, sm_b = encoding_before(args)
        _row("before (--before): score_matrix(metric='encoding')", t_b, float("nan"),
             t_ref_e)
        print(f"  after / before speed-up {t_b / t_sm_e:.2f}x; max |score diff| "
              f"{np.max(np.abs(sm_b - sm_e)):.1e}")
    if ref_e is not None:
        _agree("score_matrix vs peer (alpha chosen differently)", sm_e, ref_e)
    else:
        _agree("score_matrix vs peer on the measured pairs (alpha chosen differently)",
               sm_e[: args.peer_pairs, :1], sub)
    if not args.skip_batched:
        _agree("batched vs score_matrix (must be equal)", bat_e, sm_e)
    print(
        f"  exact check, one pair at a fixed alpha (score_matrix vs sklearn Ridge): "
        f"|diff| {exact_encoding_check(model, brain):.2e}"
    )



def run(args: argparse.Namespace) -> None:
    import threadpoolctl

    print(
        f"python {platform.python_version()}, numpy {np.__version__}, machine {platform.machine()}"
    )
    for info in threadpoolctl.threadpool_info():
        print(
            "  threadpool:",
            {
                k: info.get(k)
                for k in ("user_api", "internal_api", "num_threads", "version", "architecture")
            },
        )
    n, nl, nr, w, u = args.n_stimuli, args.n_layers, args.n_regions, args.width, args.n_units
    print(
        f"\ndata: {nl} layers x {n} stimuli x {w} units (float64), {nr} regions x {u} units; "
        f"{nl * nr} region x layer pairs"
    )
    model, brain = make_data(n, nl, nr, w, u)
    layers, regions = as_arrays(model, brain)
    warm_up()

    if args.encoding_only:
        encoding_block(args, model, brain, layers, regions)
        return
    print("\n== RSA (Spearman of correlation-distance RDMs) ==")
    ref, t_ref, m_ref = measure(lambda: peer_rsa(layers, regions))
    _row("peer: pdist + spearmanr per pair", t_ref, m_ref)
    # the two neurorep paths interleaved, best of --repeats each, timed without tracemalloc
    # (tracing every allocation slowed score_matrix 1.1 -> 2.5 s and compute_rdm + compare
    # 1.7 -> 2.0 s: it penalises the path with more small Python objects); the peak comes
    # from one more, traced run of each. The first call at full size also pays first-touch
    # costs (page faults of fresh buffers) that later ones do not.
    times: dict[str, list[float]] = {"sm": [], "bat": []}
    paths = {"sm": lambda: ours(model, brain, "rsa"), "bat": lambda: ours_rsa_batched(model, brain)}
    for _ in range(args.repeats):
        for key, fn in paths.items():
            times[key].append(timed(fn)[1])
    sm, _, m_sm = measure(paths["sm"])
    bat, _, m_bat = measure(paths["bat"])
    t_sm, t_bat = min(times["sm"]), min(times["bat"])
    each = {k: ", ".join(f"{t:.2f}" for t in v) for k, v in times.items()}
    _row("neurorep score_matrix(metric='rsa', n_bootstrap=0)", t_sm, m_sm, t_ref)
    _row("neurorep rsa.compute_rdm(sets) + rsa.compare", t_bat, m_bat, t_ref)
    print(f"  (untraced runs, in order: score_matrix {each['sm']} s; compute_rdm + compare "
          f"{each['bat']} s; best score_matrix / best compute_rdm + compare "
          f"{t_sm / t_bat:.2f}; peaks from one traced run each)")
    _agree("score_matrix vs peer", sm, ref)
    _agree("rsa.compare vs peer", bat, ref)

    if not args.skip_encoding:
        encoding_block(args, model, brain, layers, regions)

    bn, bl, br = args.boot_size
    print(f"\n== Bootstrap cost: {bl} layers x {br} regions x {bn} stimuli ==")
    model_b, brain_b = make_data(bn, bl, br, w, u, seed=1)
    for metric in ("rsa", "encoding"):
        _, t0, m0 = measure(partial(ours, model_b, brain_b, metric, n_boot=0))
        _, t1, m1 = measure(partial(ours, model_b, brain_b, metric, n_boot=100))
        per_sample = (t1 - t0) / 100 / (bl * br) * 1e3
        print(
            f"  {metric:<9} n_boot=0 {t0:7.2f} s ({m0:6.1f} MB)   "
            f"n_boot=100 {t1:7.2f} s ({m1:6.1f} MB)   "
            f"bootstrap adds {t1 - t0:6.2f} s = {per_sample:.2f} ms per sample and pair"
        )

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak RSS (ru_maxrss): {rss:.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="3 layers x 4 regions x 300 stimuli")
    ap.add_argument("--n-stimuli", type=int, default=1000)
    ap.add_argument("--n-layers", type=int, default=12)
    ap.add_argument("--n-regions", type=int, default=20)
    ap.add_argument("--width", type=int, default=512, help="units per layer")
    ap.add_argument("--n-units", type=int, default=200, help="units per region")
    ap.add_argument("--skip-encoding", action="store_true")
    ap.add_argument("--repeats", type=int, default=3,
                    help="runs of each neurorep RSA path, interleaved; the best is reported")
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="limit BLAS/OpenMP threads (threadpoolctl) for every side; default: leave as is",
    )
    ap.add_argument("--before", default=None,
                    help="also time another checkout's score_matrix(metric='encoding') "
                         "(a subprocess with PYTHONPATH=BEFORE)")
    ap.add_argument("--encoding-only", action="store_true", help="only the encoding block")
    ap.add_argument("--peer-pairs", type=int, default=0,
                    help="time the encoding peer loop on this many pairs (first layer) and "
                         "extrapolate per pair to all pairs (the full loop takes long)")
    ap.add_argument("--float32", action="store_true",
                    help="also time score_matrix with encoding_metric(dtype='float32')")
    ap.add_argument("--skip-batched", action="store_true",
                    help="skip the batched cross_validate_ridge row of the encoding block")
    ap.add_argument("--encoding-worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.encoding_worker:
        warnings.simplefilter("ignore", category=RuntimeWarning)
        if args.threads is None:
            encoding_worker(args)
        else:
            import threadpoolctl

            with threadpoolctl.threadpool_limits(limits=args.threads):
                encoding_worker(args)
        return
    if args.quick:
        args.n_stimuli, args.n_layers, args.n_regions = 300, 3, 4
        args.boot_size = (150, 2, 2)
    else:
        args.boot_size = (300, 3, 4)
    warnings.simplefilter("ignore", category=RuntimeWarning)
    if args.threads is None:
        run(args)
    else:
        import threadpoolctl

        with threadpoolctl.threadpool_limits(limits=args.threads):
            run(args)


if __name__ == "__main__":
    main()
