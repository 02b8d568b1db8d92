"""Loops of many small matrix products: the default thread setting vs the best one.

Three workloads whose inner loops multiply small matrices (issue #20, target 3):

* tRSA identification (``topology.score_identification``), 15 subjects x 8 regions
  x 92 stimuli, thresholds searched on a 10 x 10 grid inside the training folds;
* alignment bootstraps (``alignment.score_matrix(metric="cka"/"procrustes",
  n_bootstrap=100)``), 3 layers x 4 regions x 300 stimuli;
* an RSA searchlight (``rsa.searchlight``), 60 stimuli in a 16 x 16 x 10 volume.

Each runs with BLAS left as it is ("default"), and under
``threadpoolctl.threadpool_limits(1)`` and ``(2)``; the floor is the fastest of
the explicit settings and the target is default <= 1.2 x floor. "before" is the
code of another checkout (``--before /work/main``: run in a subprocess with
``PYTHONPATH`` pointing there), "after" this one; both print a checksum of
their results (equal numbers). Times are the best of ``--repeats`` runs: the
project machines are shared, so read the ratios measured in the same run.

    python benchmarks/bench_threads.py --before /work/main
    python benchmarks/bench_threads.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

SETTINGS = ("default", "1", "2")


def _trsa(quick: bool) -> Callable[[], float]:
    from neurorep import data, topology

    rng = np.random.default_rng(0)
    n_sub, n_reg, n_stim = (6, 4, 40) if quick else (15, 8, 92)
    m = n_stim * (n_stim - 1) // 2
    rdms = {}
    for r in range(n_reg):
        base = rng.random(m)
        rdms[f"R{r}"] = data.rdm(np.abs(base + 0.5 * rng.standard_normal((n_sub, m))),
                                 dim="subject", index=[f"s{i}" for i in range(n_sub)])
    grid = 4 if quick else 10

    def fn() -> float:
        ds = topology.score_identification(rdms, grid=grid)
        return float(ds.score) + float(np.sum(ds["lower"].values))

    return fn


def _alignment(metric: str, quick: bool) -> Callable[[], float]:
    from neurorep import alignment
    from neurorep.data import members
    from neurorep.datasets import make_layered_brain, make_model_activations

    n, n_layers, n_regions = (120, 2, 2) if quick else (300, 3, 4)
    model = make_model_activations(n, n_layers=n_layers, width=64, input_dim=32, rng=0)
    names = list(members(model))
    regions = {f"r{r}": {names[r % n_layers]: 1.0} for r in range(n_regions)}
    sim = make_layered_brain(model, regions=regions, n_units=50, n_repetitions=2, noise=2.0,
                             rng=1)
    brain = {k: v.mean("repetition") for k, v in members(sim["brain"]).items()}
    n_boot = 20 if quick else 100

    def fn() -> float:
        res = alignment.score_matrix(brain, model, metric=metric, n_bootstrap=n_boot, rng=0)
        return float(np.nansum(res["ci_low"].values) + np.nansum(res["score"].values))

    return fn


def _searchlight(quick: bool) -> Callable[[], float]:
    import nibabel as nib

    from neurorep import data, rsa

    rng = np.random.default_rng(0)
    shape = (8, 8, 5) if quick else (16, 16, 10)
    n_stim = 30 if quick else 60
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    cats = np.arange(n_stim) % 2
    vol = rng.normal(size=(*shape, n_stim))
    vol[: shape[0] // 2] += np.where(cats == 0, 1.0, -1.0)[None, None, None, :]
    ids = [f"stim{i}" for i in range(n_stim)]
    resp = data.from_nifti(nib.Nifti1Image(vol, affine),
                           nib.Nifti1Image(np.ones(shape, dtype=np.int8), affine), stimulus=ids)
    model = data.rdm((cats[:, None] != cats[None, :]).astype(float), stimulus=ids,
                     metric="model")

    def fn() -> float:
        out = rsa.searchlight(resp, model, radius=4.0)
        return float(np.nansum(out.values))

    return fn


def workloads(quick: bool) -> dict[str, Callable[[], Callable[[], float]]]:
    return {
        "tRSA identification": lambda: _trsa(quick),
        "alignment bootstrap (cka)": lambda: _alignment("cka", quick),
        "alignment bootstrap (procrustes)": lambda: _alignment("procrustes", quick),
        "searchlight": lambda: _searchlight(quick),
    }


def worker(quick: bool, repeats: int) -> None:
    """Time every workload under every setting here; print one JSON line."""
    import scipy.linalg  # noqa: F401  (load scipy's own BLAS so the limits reach it)
    from threadpoolctl import threadpool_limits

    out: dict[str, Any] = {}
    for name, make in workloads(quick).items():
        fn = make()
        check = fn()  # warm-up; its value is the checksum
        times = {s: np.inf for s in SETTINGS}
        for _ in range(repeats):
            for s in SETTINGS:  # interleaved: load changes hit every setting alike
                limit = None if s == "default" else int(s)
                with threadpool_limits(limits=limit, user_api="blas"):
                    t = time.perf_counter()
                    fn()
                    times[s] = min(times[s], time.perf_counter() - t)
        out[name] = {"times": times, "check": check}
    print(json.dumps(out))


def _run(path: str, quick: bool, repeats: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": path}
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--repeats", str(repeats)]
    if quick:
        cmd.append("--quick")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--before", default=None, help="checkout whose code is 'before'")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.quick, args.repeats)
        return
    import threadpoolctl

    print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; BLAS:",
          [(i["internal_api"], i["num_threads"]) for i in threadpoolctl.threadpool_info()])
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sides = {"after": here} if args.before is None else {"before": args.before, "after": here}
    res = {side: _run(path, args.quick, args.repeats) for side, path in sides.items()}
    print(f"\n{'workload':<34}{'side':>7}{'default s':>11}{'1 thr s':>9}{'2 thr s':>9}"
          f"{'default / best':>16}  checksum")
    for name in workloads(args.quick):
        for side, r in res.items():
            t = r[name]["times"]
            best = min(t["1"], t["2"])
            print(f"{name:<34}{side:>7}{t['default']:>11.3f}{t['1']:>9.3f}{t['2']:>9.3f}"
                  f"{t['default'] / best:>15.2f}x  {r[name]['check']:.12g}")
        if "before" in res:
            speed = res["before"][name]["times"]["default"] / res["after"][name]["times"]["default"]
            print(f"{'':<34}{'':>7}  after is {speed:.2f}x faster than before (default setting)")
    print("\ntarget: default within 1.2x of the best explicit setting")


if __name__ == "__main__":
    main()
