"""Time-resolved RDMs: neurorep.rsa.compute_rdm_movie vs rsatoolbox, side by side.

200 stimuli x 64 channels x 500 time points (4 repetitions for crossnobis).
rsatoolbox: ``calc_rdm_movie`` (its own loop over time points). Prints seconds
and ratios; records threadpoolctl's BLAS threads (PERF.md).

    PYTHONPATH=$PWD python benchmarks/bench_time.py [n_stimuli n_channels n_times]
"""

from __future__ import annotations

import sys
import time

import numpy as np
from threadpoolctl import threadpool_info

from neurorep import data, rsa


def _timed(fn, repeat: int = 1) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(n_stim: int = 200, n_chan: int = 64, n_time: int = 500, n_rep: int = 4) -> None:
    import rsatoolbox

    g = np.random.default_rng(0)
    x = g.standard_normal((n_stim, n_rep, n_time, n_chan))
    times = np.arange(n_time) / 500.0
    ep = data.responses(x, dims=("stimulus", "repetition", "time", "unit"), time=times)
    ids = ep.stimulus.values
    avg = x.mean(axis=1)
    print(f"{n_stim} stimuli x {n_chan} channels x {n_time} time points, {n_rep} repetitions")
    print("BLAS:", [(d["internal_api"], d["num_threads"]) for d in threadpool_info()])
    print(f"{'metric':<20}{'neurorep s':>12}{'rsatoolbox s':>14}{'ratio':>8}{'max |diff|':>12}")
    for ours, theirs, trials in (("squared_euclidean", "euclidean", False),
                                 ("correlation", "correlation", False),
                                 ("crossnobis", "crossnobis", True)):
        t_ours, movie = _timed(lambda m=ours: rsa.compute_rdm_movie(ep, metric=m))
        if trials:
            flat = x.transpose(0, 1, 3, 2).reshape(n_stim * n_rep, n_chan, n_time)
            desc = {"stim": np.repeat(ids, n_rep)}
            cv = np.tile(np.arange(n_rep), n_stim)
        else:
            flat = avg.transpose(0, 2, 1)
            desc = {"stim": ids}
            cv = None
        ds = rsatoolbox.data.TemporalDataset(flat, descriptors={}, obs_descriptors=desc,
                                             time_descriptors={"time": times})
        kw = {"descriptor": "stim"}
        if cv is not None:
            ds.obs_descriptors["cv"] = cv
            kw["cv_descriptor"] = "cv"
        t_ref, ref = _timed(lambda d=ds, k=kw, m=theirs: rsatoolbox.rdm.calc_rdm_movie(
            d, method=m, **k))
        mats = ref.get_matrices()
        order = [str(s) for s in ref.pattern_descriptors["stim"]]
        got = movie.sel(stimulus_i=order, stimulus_j=order).values
        diff = float(np.abs(got - mats).max())
        print(f"{ours:<20}{t_ours:>12.2f}{t_ref:>14.2f}{t_ref / t_ours:>7.1f}x{diff:>12.1e}")


if __name__ == "__main__":
    main(*[int(a) for a in sys.argv[1:4]])
