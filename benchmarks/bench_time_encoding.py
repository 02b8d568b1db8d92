"""Time-resolved encoding: neurorep.encoding.fit_over_time vs a loop of cross_validate_ridge.

Epochs of 200 stimuli x 40 time points x 64 units, 50 features, 9 alphas,
5 outer x 5 inner folds. The loop fits each time point separately (an alpha
per time point and unit); fit_over_time fits every (time, unit) column in one
multi-output ridge per fold (one alpha per unit). Both run in float64. Prints
seconds, the ratio, and the largest score difference when the loop is given
fit_over_time's alphas (a single fixed alpha: identical models).

    PYTHONPATH=$PWD python benchmarks/bench_time_encoding.py [--quick | n_stimuli n_features n_times n_units]
"""

from __future__ import annotations

import sys
import time

import numpy as np
from threadpoolctl import threadpool_info

from neurorep import data
from neurorep.encoding import cross_validate_ridge, fit_over_time


def main(n: int = 200, p: int = 50, n_time: int = 40, m: int = 64) -> None:
    g = np.random.default_rng(0)
    ids = [f"s{i:04d}" for i in range(n)]
    X = g.standard_normal((n, p))
    Y = (X @ g.standard_normal((p, m)))[:, None, :] * np.hanning(n_time)[None, :, None]
    Y = Y + 5.0 * g.standard_normal((n, n_time, m))
    feats = data.responses(X, stimulus=ids)
    ep = data.responses(Y, dims=("stimulus", "time", "unit"), stimulus=ids,
                        time=np.arange(n_time) / 100.0)
    print(f"{n} stimuli x {p} features -> {n_time} time points x {m} units")
    print("BLAS:", [(d["internal_api"], d["num_threads"]) for d in threadpool_info()])
    t0 = time.perf_counter()
    fit_over_time(feats, ep, cv=5, inner_cv=5)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    for k in range(n_time):
        cross_validate_ridge(feats, ep.isel(time=k), cv=5, inner_cv=5, dtype="float64")
    t_loop = time.perf_counter() - t0
    print(f"fit_over_time            {t_ours:7.2f} s")
    print(f"cross_validate_ridge x {n_time} {t_loop:7.2f} s   ratio {t_loop / t_ours:.1f}x")
    fixed = fit_over_time(feats, ep, alphas=[100.0], cv=5, inner_cv=5)
    diff = max(
        float(np.abs(fixed.r.isel(time=k).values - cross_validate_ridge(
            feats, ep.isel(time=k), alphas=[100.0], cv=5, inner_cv=5, dtype="float64").r.values
        ).max()) for k in range(0, n_time, 10)
    )
    print(f"fixed alpha: max |r difference| over 4 time points {diff:.2e}")


if __name__ == "__main__":
    if "--quick" in sys.argv[1:]:
        main(60, 10, 10, 8)
    else:
        main(*(int(a) for a in sys.argv[1:]))
