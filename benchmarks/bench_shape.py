"""Shape metrics, CCA family and mutual kNN: neurorep vs transcriptions of the peers' code.

netrep (LinearMetric, PermutationMetric), Google's svcca (cca_core / pwcca) and
platonic-rep (mutual_knn) are not installable from PyPI, so the peer side is
the transcription of their algorithms that the tests check against
(``tests/test_alignment_shape.py``): the same numpy / scipy calls the peer makes
(eigendecomposition of X'X for the whitening, covariance matrices and their
inverse square roots for CCA, a full n x n mask product for mutual kNN). The
soft-matching peer (POT's ``ot.emd``) is not installed either; its reference
is the exact replicated assignment problem (``linear_sum_assignment`` on
lcm(p, q) copies), timed at a width where that is feasible.

Each row: the peer's time, neurorep's time, their ratio (peer / neurorep: > 1
means neurorep is faster) and the max |difference| of the values. Timings are
the best of ``--repeat`` interleaved runs (wall time). The project machines have 2 shared
cores: compare ratios, not absolute times. Not run in CI.

    python benchmarks/bench_shape.py --quick   # 300 stimuli, widths 64 / 48
    python benchmarks/bench_shape.py           # 1000 stimuli, widths 512 / 200 and n < width
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def row(name: str, peer: Callable[[], Any], ours: Callable[[], Any], repeat: int) -> float:
    """Best of ``repeat`` runs of each side, interleaved (peer, neurorep, peer, ...) so that
    load from other jobs on a shared machine falls on both."""
    t_ref = t_got = float("inf")
    ref = got = None
    for _ in range(repeat):
        t = time.perf_counter()
        ref = peer()
        t_ref = min(t_ref, time.perf_counter() - t)
        t = time.perf_counter()
        got = ours()
        t_got = min(t_got, time.perf_counter() - t)
    diff = float(np.max(np.abs(np.asarray(got, float) - np.asarray(ref, float))))
    ratio = t_ref / t_got
    print(f"  {name:<46} peer {t_ref * 1e3:9.2f} ms   neurorep {t_got * 1e3:9.2f} ms   "
          f"ratio {ratio:6.2f}x   max|diff| {diff:.1e}")
    return ratio


def make(n: int, p: int, q: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    g = np.random.default_rng(seed)
    latent = g.standard_normal((n, 10))
    x = np.maximum(latent @ g.standard_normal((10, p)) + 0.5 * g.standard_normal((n, p)), 0)
    y = latent @ g.standard_normal((10, q)) + 0.5 * g.standard_normal((n, q))
    return x, y


def run(args: argparse.Namespace) -> None:
    import test_alignment_shape as ref

    from neurorep.alignment import soft_matching_distance

    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    r = args.repeat
    ratios: dict[str, float] = {}
    for n, p, q in args.sizes:
        bench_size(n, p, q, r, ratios)
    g = np.random.default_rng(1)
    xs, ys = g.standard_normal((200, 12)), g.standard_normal((200, 18))
    print("\n== soft matching, 200 stimuli, widths 12 and 18 ==")
    ratios["soft"] = row("soft matching vs replicated assignment (exact)",
                         lambda: ref.soft_matching_by_replication(xs, ys),
                         lambda: soft_matching_distance(xs, ys), r)
    from neurorep.alignment import gaussian_stochastic_distance

    trials_x = g.standard_normal((50, 1, 8)) + 0.5 * g.standard_normal((50, 20, 8))
    trials_y = g.standard_normal((50, 1, 8)) + 0.5 * g.standard_normal((50, 20, 8))
    (mx, cx), (my, cy) = (gaussians(tr) for tr in (trials_x, trials_y))
    print("\n== Gaussian stochastic (alpha=1), 50 stimuli x 20 repetitions, widths 8 ==")
    ratios["gaussian"] = row("Gaussian stochastic vs netrep GaussianStochasticMetric",
                             lambda: ref.netrep_gaussian_stochastic(mx, cx, my, cy),
                             lambda: gaussian_stochastic_distance(mx, cx, my, cy), r)
    from neurorep.alignment import energy_stochastic_distance

    ex, ey = trials_x[:, :8], trials_y[:, :8]
    print("\n== energy stochastic, 50 stimuli x 8 repetitions, widths 8 ==")
    ratios["energy"] = row("energy stochastic vs netrep EnergyStochasticMetric (transcribed)",
                           lambda: ref.netrep_energy_stochastic(ex, ey),
                           lambda: energy_stochastic_distance(ex, ey), r)
    slower = {k: v for k, v in ratios.items() if v < 1}
    print(f"\nslower than the peer: {slower if slower else 'none'}")


def bench_size(n: int, p: int, q: int, r: int, ratios: dict[str, float]) -> None:
    """Every measure on one (n, p, q) input, peer and neurorep side by side."""
    import test_alignment_shape as ref

    from neurorep.alignment import (
        cca_similarity,
        mutual_knn,
        permutation_distance,
        pwcca,
        shape_distance,
        svcca,
    )

    x, y = make(n, p, q)
    print(f"\n== {n} stimuli, widths {p} and {q} ==")
    for alpha in ((1.0, 0.5, 0.0) if n >= max(p, q) else (1.0,)):
        for d in ("angular", "euclidean"):
            key = f"shape alpha={alpha:g} {d} vs netrep LinearMetric"
            ratios[f"{key} n={n}"] = row(
                key, lambda a=alpha, d=d: ref.netrep_linear(x, y, a, d),
                lambda a=alpha, d=d: shape_distance(x, y, alpha=a, distance=d), r)
    if max(p, q) <= 600:
        ratios[f"perm n={n}"] = row(
            "permutation angular vs netrep PermutationMetric",
            lambda: ref.netrep_permutation(x, y), lambda: permutation_distance(x, y), r)
    if n > p + q:
        xc, yc = (x - x.mean(0)).T, (y - y.mean(0)).T
        ratios[f"cca n={n}"] = row(
            "mean CCA vs svcca get_cca_similarity",
            lambda: float(np.mean(ref.svcca_cov_route(xc, yc)[1])),
            lambda: cca_similarity(x, y), r)
        ratios[f"svcca n={n}"] = row(
            "SVCCA (20 dirs) vs svcca tutorial", lambda: ref.svcca_tutorial(x, y, 20),
            lambda: svcca(x, y, keep=20), r)
        ratios[f"pwcca n={n}"] = row(
            "PWCCA vs Morcos et al. transcription", lambda: ref.pwcca_paper(x, y),
            lambda: pwcca(x, y), r)
    ratios[f"knn n={n}"] = row(
        "mutual kNN (k=10) vs platonic-rep mask product",
        lambda: platonic_masks(x, y, 10), lambda: mutual_knn(x, y, k=10), r)


def gaussians(trials: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = trials.mean(1)
    d = trials - m[:, None]
    return m, np.einsum("irj,irk->ijk", d, d) / (trials.shape[1] - 1)


def platonic_masks(x: np.ndarray, y: np.ndarray, k: int) -> float:
    """platonic-rep's mutual_knn in numpy: normalise, top-k by argsort, n x n masks."""
    def knn(a: np.ndarray) -> np.ndarray:
        a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
        sim = a @ a.T
        np.fill_diagonal(sim, -1e8)
        return np.argsort(-sim, axis=1, kind="stable")[:, :k]

    kx, ky = knn(x), knn(y)
    n = len(x)
    mx, my = np.zeros((n, n)), np.zeros((n, n))
    rows = np.arange(n)[:, None]
    mx[rows, kx] = 1.0
    my[rows, ky] = 1.0
    return float(((mx * my).sum(1) / k).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="BLAS threads (threadpoolctl)")
    args = ap.parse_args()
    args.sizes = [(300, 64, 48), (40, 64, 48)] if args.quick else [(1000, 512, 200), (100, 512, 200)]
    if args.threads is None:
        run(args)
    else:
        import threadpoolctl

        with threadpoolctl.threadpool_limits(limits=args.threads):
            run(args)


if __name__ == "__main__":
    main()
