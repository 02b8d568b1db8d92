"""The issue #18 RSA measures against rsatoolbox, side by side in one process.

Each row runs neurorep and rsatoolbox on the same inputs, prints both median
times, the ratio (rsatoolbox / neurorep: > 1 means neurorep is faster) and the
largest absolute difference of their numbers:

* comparisons: tau-b, bures, bures_metric, neg_riem_dist; corr, spearman and
  cosine_cov of RDMs with missing (NaN) pairs;
* RDM metrics: poisson, poisson_cv (rsatoolbox returns its last fold only: the
  difference is reported against the mean of its folds relabelled in turn);
* unbalanced designs (rsatoolbox ``calc_rdm_unbalanced``, missing repetitions);
* transforms: rank, sqrt, positive, minmax;
* ``estimate_sigma_k`` vs rsatoolbox's ``cov_from_residuals`` on the same residuals.

Run: ``python benchmarks/bench_measures.py [--quick] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from bench_rsa import _time  # median of repeats, garbage collected before each

ROWS: list[tuple[str, float, float, float]] = []
BEST = False  # --best: the shortest of the repeats (sides alternated), not the median


def _row(name: str, ours: Callable[[], Any], ref: Callable[[], Any], repeat: int,
         diff: Callable[[Any, Any], float] | None = None) -> None:
    if BEST:  # alternate the two sides, so both see the same load; keep each one's best
        runs = [(_time(ours, 1), _time(ref, 1)) for _ in range(repeat)]
        t_o, a = min(r[0] for r in runs)[0], runs[-1][0][1]
        t_r, b = min(r[1] for r in runs)[0], runs[-1][1][1]
    else:
        t_o, a = _time(ours, repeat)
        t_r, b = _time(ref, repeat)
    d = diff(a, b) if diff else float(np.nanmax(np.abs(np.asarray(a) - np.asarray(b))))
    ROWS.append((name, t_o, t_r, d))
    print(f"{name:<44s} neurorep {t_o * 1e3:9.2f} ms  rsatoolbox {t_r * 1e3:9.2f} ms  "
          f"ratio {t_r / t_o:7.1f}x  max|diff| {d:.1e}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default="compare,nan,poisson,unbalanced,transforms,sigma_k",
                    help="comma-separated sections to run (default: all)")
    ap.add_argument("--best", action="store_true",
                    help="report the shortest of the repeats (a loaded machine), not the median")
    args = ap.parse_args()
    global BEST
    BEST = args.best
    only = set(args.only.split(","))
    print(f"load average before the run: {os.getloadavg()}", flush=True)
    warnings.simplefilter("ignore")
    from rsatoolbox.data import Dataset
    from rsatoolbox.data.noise import cov_from_residuals
    from rsatoolbox.rdm import RDMs, calc_rdm, calc_rdm_unbalanced
    from rsatoolbox.rdm import compare as rc
    from scipy.spatial.distance import pdist

    from neurorep import data, rsa
    from neurorep._core.condensed import square

    rt = importlib.import_module("rsatoolbox.rdm.transform")
    q = args.quick
    rep = args.repeat
    g = np.random.default_rng(0)

    def ids(n: int) -> list[str]:
        return [f"c{i:03d}" for i in range(n)]

    def eucl(k: int, n: int, p: int) -> np.ndarray:
        return np.stack([pdist(g.normal(size=(n, p)), "sqeuclidean") for _ in range(k)])

    if "compare" in only:
        # --- comparisons -------------------------------------------------------------------
        for method, k, n in (("tau-b", 10 if q else 20, 40 if q else 92),
                             ("bures", 10 if q else 20, 20 if q else 40),
                             ("bures_metric", 10 if q else 20, 20 if q else 40),
                             ("neg_riem_dist", 2 if q else 4, 8 if q else 12)):
            a, b = eucl(k, n, n + 5), eucl(k, n, n + 5)
            if method == "tau-b":
                a = np.round(a)
            ra = data.rdm(a, stimulus=ids(n), dim="model")
            rb = data.rdm(b, stimulus=ids(n), dim="subject")
            _row(f"compare {method} {k}x{k} RDMs, n={n}",
                 lambda ra=ra, rb=rb, m=method: rsa.compare(ra, rb, method=m).values,
                 lambda a=a, b=b, m=method: rc(RDMs(a), RDMs(b), method=m),
                 1 if method == "neg_riem_dist" else rep)

    if "nan" in only:
        n, k = (92, 50) if q else (92, 100)  # bench_rsa's comparison size
        m = n * (n - 1) // 2
        a, b = g.random((k, m)), g.random((k, m))
        miss = g.choice(m, m // 20, replace=False)
        a[:, miss] = np.nan
        b[:, miss] = np.nan
        ra = data.rdm(np.zeros((k, m)), stimulus=ids(n), dim="model").copy(data=square(a, n))
        rb = data.rdm(np.zeros((k, m)), stimulus=ids(n), dim="subject").copy(data=square(b, n))
        ca, cb = data.condense(ra), data.condense(rb)  # condensed stacks keep the NaN pairs
        for method in ("corr", "spearman", "cosine_cov", "corr_cov"):
            _row(f"compare {method} with NaN pairs {k}x{k}, n={n}",
                 lambda m_=method: rsa.compare(ra, rb, method=m_).values,
                 lambda m_=method: rc(RDMs(a), RDMs(b), method=m_), rep)
            _row("  same, condensed stacks (data.condense)",
                 lambda m_=method: rsa.compare(ca, cb, method=m_).values,
                 lambda m_=method: rc(RDMs(a), RDMs(b), method=m_), rep)

    if "poisson" in only:
        # --- Poisson RDMs ------------------------------------------------------------------------
        n, runs, p = (100, 4, 300) if q else (300, 4, 2000)
        y = g.poisson(3.0, size=(n, runs, p)).astype(float)
        resp = data.responses(y, dims=("stimulus", "repetition", "unit"), stimulus=ids(n))
        ds = Dataset(y.reshape(n * runs, p), obs_descriptors={
            "stim": np.repeat(np.arange(n), runs), "run": np.tile(np.arange(runs), n)})
        _row(f"compute_rdm poisson n={n}, p={p}",
             lambda: rsa.compute_rdm(resp, metric="poisson").values,
             lambda: calc_rdm(ds, method="poisson", descriptor="stim").get_matrices()[0], rep)

        def ref_cv() -> np.ndarray:  # rsatoolbox's folds, each relabelled as the last one
            out = 0.0
            for r in range(runs):
                lab = np.where(np.tile(np.arange(runs), n) == r, 99, np.tile(np.arange(runs), n))
                d2 = Dataset(y.reshape(n * runs, p), obs_descriptors={
                    "stim": np.repeat(np.arange(n), runs), "run": lab})
                out = out + calc_rdm(d2, method="poisson_cv", descriptor="stim",
                                     cv_descriptor="run").get_matrices()[0]
            return out / runs

        t_one, _ = _time(lambda: calc_rdm(ds, method="poisson_cv", descriptor="stim",
                                          cv_descriptor="run"), rep)
        t_o, ours = _time(lambda: rsa.compute_rdm(resp, metric="poisson_cv").values, rep)
        d = float(np.abs(ours - ref_cv()).max())
        ROWS.append((f"compute_rdm poisson_cv n={n}, R={runs}", t_o, t_one, d))
        label = f"compute_rdm poisson_cv n={n}, R={runs} (rsatb: 1 call)"
        print(f"{label:<44s} neurorep "
              f"{t_o * 1e3:9.2f} ms  rsatoolbox {t_one * 1e3:9.2f} ms  ratio {t_one / t_o:7.1f}x  "
              f"max|diff| {d:.1e} (vs mean of its folds)", flush=True)

    if "unbalanced" in only:
        # --- unbalanced designs ------------------------------------------------------------------
        n, runs, p = (60, 4, 300) if q else (92, 6, 1000)
        y = g.poisson(4.0, size=(n, runs, p)).astype(float) + g.random((n, runs, p))
        drop = g.random((n, runs)) < 0.2
        drop[:, 0] = False
        drop[:, 1] = False
        y[drop] = np.nan
        resp = data.responses(y, dims=("stimulus", "repetition", "unit"), stimulus=ids(n),
                              allow_missing=True)
        flat = y.reshape(n * runs, p)
        keep = ~np.isnan(flat).all(axis=1)
        ds = Dataset(flat[keep], obs_descriptors={"stim": np.repeat(np.arange(n), runs)[keep],
                                                  "run": np.tile(np.arange(runs), n)[keep]})
        for metric, ref_kw in (("squared_euclidean", {"method": "euclidean"}),
                               ("correlation", {"method": "correlation"}),
                               ("crossnobis", {"method": "crossnobis", "cv_descriptor": "run"}),
                               ("poisson_cv", {"method": "poisson_cv", "cv_descriptor": "run"})):
            _row(f"unbalanced {metric} n={n}, R<={runs}, p={p}",
                 lambda m_=metric: rsa.compute_rdm(resp, metric=m_).values,
                 lambda kw=ref_kw: calc_rdm_unbalanced(ds, descriptor="stim", **kw)
                 .get_matrices()[0], rep)

    if "transforms" in only:
        # --- transforms --------------------------------------------------------------------------
        n, k = (92, 100) if q else (92, 500)
        m = n * (n - 1) // 2
        v = g.normal(size=(k, m))
        r = data.rdm(v, stimulus=ids(n), dim="subject", metric="squared_euclidean")
        c = data.condense(r)  # the form rsatoolbox stores: each dissimilarity once
        for name, ours, ref in (("rank", rsa.rank_transform, rt.rank_transform),
                                ("sqrt", rsa.sqrt_transform, rt.sqrt_transform),
                                ("positive", rsa.positive_transform, rt.positive_transform),
                                ("minmax", rsa.minmax_transform, rt.minmax_transform)):
            _row(f"{name}_transform {k} RDMs, n={n}",
                 lambda f=ours: f(r),
                 lambda f=ref: f(RDMs(v.copy())).get_vectors(), rep,
                 diff=lambda x, y: float(np.abs(data.rdm_vectors(x) - y).max()))
            _row("  same, condensed stack (data.condense)",
                 lambda f=ours: f(c),
                 lambda f=ref: f(RDMs(v.copy())).get_vectors(), rep,
                 diff=lambda x, y: float(np.abs(x.values - y).max()))

    if "sigma_k" in only:
        # --- sigma_k -----------------------------------------------------------------------------
        n, runs, p = (50, 4, 500) if q else (92, 6, 5000)
        y = g.normal(size=(n, runs, p))
        resp = data.responses(y, dims=("stimulus", "repetition", "unit"), stimulus=ids(n))

        def ref_sigma() -> np.ndarray:
            obs = (y - y.mean(axis=1, keepdims=True)).transpose(1, 2, 0).reshape(runs * p, n)
            return cov_from_residuals(obs, dof=p * (runs - 1), method="shrinkage_diag") / runs

        _row(f"estimate_sigma_k n={n}, R={runs}, p={p}",
             lambda: rsa.estimate_sigma_k(resp).values, ref_sigma, rep)

    slower = [row for row in ROWS if row[2] / row[1] < 1.0]
    print("\nall neurorep rows faster than rsatoolbox" if not slower else
          f"\nSLOWER than rsatoolbox: {[row[0] for row in slower]}")


if __name__ == "__main__":
    main()
