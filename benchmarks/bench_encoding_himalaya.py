"""The himalaya-parity encoding options and estimators, timed side by side with himalaya.

One process, the same data, the same folds (KFold), float32 by default (``--dtype``):

* ``fit_ridge`` with ``fit_intercept=False``, ``alpha_per_unit=False`` and
  ``conservative=True`` vs himalaya ``RidgeCV`` (``fit_intercept``, ``local_alpha``,
  ``conservative``);
* ``fit_kernel_ridge`` for every kernel vs himalaya ``KernelRidgeCV``;
* ``fit_multiple_kernel_ridge`` vs himalaya ``MultipleKernelRidgeCV`` (random search, the
  same candidate kernel weights), per unit and with ``alpha_per_unit=False``
  (``local_alpha=False``);
* ``cross_validate_ridge(alpha_per_unit=False)`` vs himalaya ``RidgeCV(local_alpha=False)``
  fitted on each outer training set;
* ``score_split`` vs himalaya ``r2_score_split`` + ``correlation_score_split``.

Each line prints the best of ``--repeats`` wall times, the ratio himalaya / neurorep
(> 1: neurorep is faster), and the largest relative difference of the predictions (or
scores) and the share of units with the same alpha.

    python benchmarks/bench_encoding_himalaya.py            # n=1000, 4000 units (a minute or two)
    python benchmarks/bench_encoding_himalaya.py --quick    # seconds
    python benchmarks/bench_encoding_himalaya.py --threads 1   # fairer on a busy machine

Not run in CI. The machines are shared: compare ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np


def best_time(fn: Callable[[], Any], repeats: int) -> tuple[Any, float]:
    best, out = np.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best


def rel(a: Any, b: Any) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def row(name: str, t_ours: float, t_peer: float, note: str) -> None:
    print(f"{name:<42} neurorep {t_ours:8.3f} s  himalaya {t_peer:8.3f} s  "
          f"ratio {t_peer / t_ours:6.2f}x  {note}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="n=300, 500 units")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--p", type=int, default=200)
    ap.add_argument("--units", type=int, default=4000)
    ap.add_argument("--alphas", type=int, default=10)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--candidates", type=int, default=5)
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None,
                    help="BLAS threads for both libraries (default: as configured)")
    args = ap.parse_args()
    import himalaya  # noqa: F401  (load every BLAS before limiting the threads)
    import scipy.linalg  # noqa: F401
    import sklearn.model_selection  # noqa: F401
    import threadpoolctl

    with threadpoolctl.threadpool_limits(args.threads):
        run(args)


def run(args: argparse.Namespace) -> None:
    if args.quick:
        args.n, args.p, args.units = 300, 60, 500

    import threadpoolctl
    from himalaya.backend import set_backend
    from himalaya.kernel_ridge import KernelRidgeCV, MultipleKernelRidgeCV
    from himalaya.ridge import RidgeCV
    from himalaya.scoring import correlation_score_split, r2_score_split
    from sklearn.model_selection import KFold

    from neurorep.encoding import (
        compute_kernel,
        cross_validate_ridge,
        fit_kernel_ridge,
        fit_multiple_kernel_ridge,
        fit_ridge,
        predict_kernel_ridge,
        score_split,
    )

    set_backend("numpy")
    warnings.simplefilter("ignore", UserWarning)
    n, p, m, dt = args.n, args.p, args.units, args.dtype

    def errors(ours: np.ndarray, peer: np.ndarray, same: np.ndarray,
               reference: Callable[[], np.ndarray]) -> str:
        """Prediction differences on the units with the same hyperparameters; in float32
        each side's error against a float64 neurorep fit (untimed), since float32 kernel
        eigendecompositions (himalaya's) lose digits that float64 ones (neurorep's) keep."""
        text = f"pred rel diff {rel(ours[:, same], peer[:, same]):.1e}"
        if dt == "float32":
            ref = reference()
            text += (f" (vs float64: neurorep {rel(ours[:, same], ref[:, same]):.1e}, "
                     f"himalaya {rel(peer[:, same], ref[:, same]):.1e})")
        return text
    n -= n % args.folds  # equal folds: the two alpha rules coincide
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, p))
    W = rng.standard_normal((p, m)) * rng.uniform(0, 0.15, size=m) / np.sqrt(p) * 10
    Y = np.tanh(X[:, :3]) @ rng.standard_normal((3, m)) + X @ W + rng.standard_normal((n, m))
    Y = (Y - Y.mean(0)) / Y.std(0)
    Xn = rng.standard_normal((50, p))
    Xd, Yd = X.astype(dt), Y.astype(dt)
    alphas = np.logspace(-2, 5, args.alphas)
    cv = KFold(args.folds)
    R = args.repeats
    print(f"n={n} p={p} units={m} alphas={args.alphas} folds={args.folds} dtype={dt}")
    print("BLAS:", [(i["internal_api"], i["num_threads"]) for i in
                    threadpoolctl.threadpool_info()])

    # --- ridge options
    for label, ours_kw, peer_kw, fi in [
        ("fit_ridge fit_intercept=False", dict(fit_intercept=False), {}, False),
        ("fit_ridge alpha_per_unit=False", dict(alpha_per_unit=False),
         dict(local_alpha=False), True),
        ("fit_ridge conservative=True", dict(conservative=True), dict(conservative=True), True),
    ]:
        ours, t1 = best_time(lambda kw=ours_kw: fit_ridge(
            X, Y, alphas=alphas, cv=cv, dtype=dt, ties="largest", **kw), R)
        h, t2 = best_time(lambda kw=peer_kw, fi=fi: RidgeCV(
            alphas=alphas.astype(dt), cv=cv, fit_intercept=fi,
            solver_params=dict(warn=False, **kw)).fit(Xd, Yd), R)
        same = np.isclose(ours["alpha"].values, np.asarray(h.best_alphas_, float), rtol=1e-5)
        W_h = np.asarray(h.coef_, float)
        row(label, t1, t2, f"same alpha {same.mean():.3f}, weights rel diff "
            f"{rel(ours['weights'].values[:, same], W_h[:, same]):.1e}")

    # --- kernel ridge, one kernel at a time
    nk = min(n, 1000)
    for kernel in ["linear", "poly", "rbf", "sigmoid", "cosine"]:
        ours, t1 = best_time(lambda k=kernel: fit_kernel_ridge(
            X[:nk], Y[:nk], kernel=k, alphas=alphas, cv=cv, dtype=dt, ties="largest"), R)
        h, t2 = best_time(lambda k=kernel: KernelRidgeCV(
            alphas=alphas.astype(dt), kernel=k, cv=cv, fit_intercept=True, warn=False,
        ).fit(Xd[:nk], Yd[:nk]), R)
        same = np.isclose(ours["alpha"].values, np.asarray(h.best_alphas_, float), rtol=1e-5)
        row(f"fit_kernel_ridge kernel={kernel}", t1, t2, f"same alpha {same.mean():.3f}, " + errors(
            predict_kernel_ridge(ours, Xn).values, np.asarray(h.predict(Xn.astype(dt))), same,
            lambda k=kernel: predict_kernel_ridge(fit_kernel_ridge(
                X[:nk], Y[:nk], kernel=k, alphas=alphas, cv=cv, dtype="float64",
                ties="largest"), Xn).values))

    # --- multiple-kernel ridge, two spaces, the same candidates
    a, b = X[:nk, : p // 2], X[:nk, p // 2 :]
    gammas = np.vstack([[0.5, 0.5], rng.dirichlet([1.0, 1.0], size=args.candidates - 1)])
    ours, t1 = best_time(lambda: fit_multiple_kernel_ridge(
        {"a": a, "b": b}, Y[:nk], kernels={"a": "rbf", "b": "linear"}, kernel_weights=gammas,
        alphas=alphas, cv=cv, dtype=dt, ties="largest"), R)
    Ks = np.stack([compute_kernel(a, kernel="rbf"), compute_kernel(b)]).astype(dt)

    def peer_mkr() -> Any:
        return MultipleKernelRidgeCV(
            kernels="precomputed", solver="random_search", fit_intercept=True, cv=cv,
            solver_params=dict(n_iter=gammas, alphas=alphas.astype(dt), progress_bar=False),
        ).fit(Ks, Yd[:nk])

    h, t2 = best_time(peer_mkr, R)
    an, bn = Xn[:, : p // 2], Xn[:, p // 2 :]
    Kt = np.stack([compute_kernel(an, a, kernel="rbf"), compute_kernel(bn, b)]).astype(dt)
    same = np.all(np.isclose(ours["alpha"].values, np.exp(-np.asarray(h.deltas_, float)),
                             rtol=1e-4), axis=0)
    row(f"fit_multiple_kernel_ridge {len(gammas)} candidates", t1, t2,
        f"same weights+alpha {same.mean():.3f}, " + errors(
            predict_kernel_ridge(ours, {"a": an, "b": bn}).values, np.asarray(h.predict(Kt)), same,
            lambda: predict_kernel_ridge(fit_multiple_kernel_ridge(
                {"a": a, "b": b}, Y[:nk], kernels={"a": "rbf", "b": "linear"},
                kernel_weights=gammas, alphas=alphas, cv=cv, dtype="float64", ties="largest"),
                {"a": an, "b": bn}).values))

    # --- multiple-kernel ridge, one candidate and one alpha for every unit
    ours, t1 = best_time(lambda: fit_multiple_kernel_ridge(
        {"a": a, "b": b}, Y[:nk], kernels={"a": "rbf", "b": "linear"}, kernel_weights=gammas,
        alphas=alphas, cv=cv, dtype=dt, ties="largest", alpha_per_unit=False), R)
    h, t2 = best_time(lambda: MultipleKernelRidgeCV(
        kernels="precomputed", solver="random_search", fit_intercept=True, cv=cv,
        solver_params=dict(n_iter=gammas, alphas=alphas.astype(dt), progress_bar=False,
                           local_alpha=False),
    ).fit(Ks, Yd[:nk]), R)
    same = np.all(np.isclose(ours["alpha"].values, np.exp(-np.asarray(h.deltas_, float)),
                             rtol=1e-4), axis=0)
    row("fit_multiple_kernel_ridge alpha_per_unit=False", t1, t2,
        f"same weights+alpha {same.mean():.3f}, pred rel diff " + f"""{rel(
            predict_kernel_ridge(ours, {"a": an, "b": bn}).values[:, same],
            np.asarray(h.predict(Kt))[:, same]):.1e}""")

    # --- nested CV with one alpha per outer fold: himalaya RidgeCV(local_alpha=False) on
    # each outer training set (units scaled to unit variance there: the same choice)
    outer = list(KFold(2).split(X))

    def peer_nested() -> np.ndarray:
        pred = np.empty_like(Y)
        for tr, te in outer:
            s_tr = Y[tr].std(0)
            hh = RidgeCV(alphas=alphas.astype(dt), cv=cv, fit_intercept=True,
                         solver_params=dict(warn=False, local_alpha=False)).fit(
                Xd[tr], (Y[tr] / s_tr).astype(dt))
            pred[te] = np.asarray(hh.predict(Xd[te]), float) * s_tr
        return pred

    ours, t1 = best_time(lambda: cross_validate_ridge(
        X, Y, alphas=alphas, cv=outer, inner_cv=cv, dtype=dt, ties="largest",
        alpha_per_unit=False, return_scores=False), R)
    ref, t2 = best_time(peer_nested, R)
    row("cross_validate_ridge alpha_per_unit=False", t1, t2,
        f"pred rel diff {rel(ours['prediction'].values, ref):.1e}")

    # --- split scores
    parts = np.stack([X[:, : p // 2] @ W[: p // 2], X[:, p // 2 :] @ W[p // 2 :]])
    yc = Y - Y.mean(0)
    ours, t1 = best_time(lambda: score_split(parts, Y), R)
    ref, t2 = best_time(lambda: (r2_score_split(yc, parts), correlation_score_split(Y, parts)), R)
    row("score_split (r2 + r)", t1, t2,
        f"split_r2 rel diff {rel(ours['split_r2'].values, ref[0]):.1e}, "
        f"split_r {rel(ours['split_r'].values, ref[1]):.1e}")


if __name__ == "__main__":
    main()
