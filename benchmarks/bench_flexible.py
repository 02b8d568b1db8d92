"""Flexible-model inference and tRSA graph variants: neurorep vs rsatoolbox / the tRSA authors.

Workloads (``--quick`` shrinks them):

1. fits of a 4-component model to 10 subjects x 20 stimuli: ``fit_weights``
   with a ridge vs ``fit_regress_nn(ridge_weight=)``, ``fit_select``,
   ``fit_interpolate``, ``fit_optimize`` (corr) vs rsatoolbox's.
   (At 40 stimuli rsatoolbox's ``fit_regress_nn`` never returns on this
   problem: its active-set loop stops when every gradient entry is below
   ``100 * eps`` in absolute terms, which rounding noise in ``A'y - A'A x``
   exceeds once the dissimilarities are many; neurorep's scipy NNLS does not
   have this problem.)
2. ``crossval`` (10 subjects x 24 stimuli) on the same 3 x 2 folds (fixed, nnls, select and
   interpolation models) vs rsatoolbox ``crossval`` with the same sets.
3. ``bootstrap_crossval`` (40 samples, 8 subjects x 24 stimuli, n_cv=2, 3 stimulus x 2 subject
   groups): rsatoolbox's run with its resamples and fold shuffles recorded,
   then neurorep's engine on the same draws (numbers compared), and
   neurorep's public function on its own draws.
4. tRSA on 10 RDMs of 60 stimuli: ``sigmoid_transform``; ``geodesic_transform``
   with graph "gt" (vs rsatoolbox ``geodesic_transform`` of the RGTM),
   "p_shortest" and "k_nearest" (vs the authors' ``geodesic_transform``:
   pass ``--authors path/to/utils_transform.py`` from
   github.com/doerlbh/TopologicalRSA; without it the networkx transcription
   in tests/test_topology_transform.py stands in).

Prints median times, the ratio rsatoolbox / neurorep (> 1: neurorep faster)
and the largest absolute difference of the numbers.
Run: ``python benchmarks/bench_flexible.py [--quick]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from bench_rsa import _time  # median of repeats, garbage collected before each

BEST = False  # --best: the shortest of the repeats instead of their median


def _row(name: str, t_ours: float, t_ref: float, diff: float) -> None:
    print(f"{name:<44s} neurorep {t_ours * 1e3:9.1f} ms   peer {t_ref * 1e3:10.1f} ms   "
          f"ratio {t_ref / t_ours:7.1f}x   max|diff| {diff:.2e}", flush=True)


def _problem(n_subj: int, n: int, c: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    g = np.random.default_rng(seed)
    m = n * (n - 1) // 2
    comps = g.random((c, m))
    comps[-1] = np.round(comps[-1] * 2)
    subjects = comps[0] + 0.5 * comps[1] + 0.3 * comps[2] + 0.8 * g.random((n_subj, m))
    return comps, subjects


def bench_fits(n_subj: int, n: int, repeat: int) -> None:
    from rsatoolbox.model import ModelInterpolate, ModelSelect, ModelWeighted
    from rsatoolbox.model.fitter import fit_interpolate, fit_optimize, fit_regress_nn, fit_select
    from rsatoolbox.rdm import RDMs

    from neurorep import data, rsa

    comps, subjects = _problem(n_subj, n, 4)
    ids = [f"s{i}" for i in range(n)]
    c = data.rdm(comps, stimulus=ids, dim="component")
    d = data.rdm(subjects, stimulus=ids, dim="subject")
    r = RDMs(subjects)
    cases = [
        ("fit_weights ridge=0.5 (corr)", lambda: rsa.fit_weights(c, d, ridge=0.5).values,
         lambda: fit_regress_nn(ModelWeighted("w", comps), r, method="corr", ridge_weight=0.5)),
        ("fit_select (spearman)", lambda: rsa.fit_select(c, d, method="spearman").values,
         lambda: np.eye(4)[fit_select(ModelSelect("s", comps), r, method="spearman")]),
        ("fit_interpolate (corr)", lambda: rsa.fit_interpolate(c, d).values,
         lambda: fit_interpolate(ModelInterpolate("i", comps), r, method="corr")),
        ("fit_optimize (corr)", lambda: rsa.fit_optimize(c, d, rng=0).values,
         lambda: fit_optimize(ModelWeighted("w", comps), r, method="corr")),
    ]
    for name, ours, ref in cases:
        t_o, a = _time(ours, repeat)
        t_r, b = _time(ref, 1 if "optimize" in name else repeat)
        _row(name, t_o, t_r, float(np.abs(np.asarray(a) - np.asarray(b)).max()))


def _sets(folds: Any, subjects: np.ndarray) -> tuple[Any, list, list, list]:
    from rsatoolbox.rdm import RDMs

    rdms = RDMs(subjects)
    train, test, ceil = [], [], []
    for i in range(folds.sizes["fold"]):
        f = folds.isel(fold=i)
        tr_s, te_s = (list(np.flatnonzero(f[v].values)) for v in ("train_subject", "test_subject"))
        tr_c, te_c = (list(np.flatnonzero(f[v].values))
                      for v in ("train_stimulus", "test_stimulus"))
        r_tr, r_te = rdms.subsample("index", tr_s), rdms.subsample("index", te_s)
        train.append([r_tr.subset_pattern("index", tr_c), tr_c])
        test.append([r_te.subset_pattern("index", te_c), te_c])
        ceil.append([r_tr.subset_pattern("index", te_c), te_c])
    return rdms, train, test, ceil


def bench_crossval(n_subj: int, n: int, repeat: int) -> None:
    from rsatoolbox.inference import crossval
    from rsatoolbox.model import ModelFixed, ModelInterpolate, ModelSelect, ModelWeighted
    from rsatoolbox.model.fitter import fit_interpolate, fit_regress_nn, fit_select

    from neurorep import data, rsa

    comps, subjects = _problem(n_subj, n, 3)
    ids = [f"s{i}" for i in range(n)]
    c = data.rdm(comps, stimulus=ids, dim="component")
    d = data.rdm(subjects, stimulus=ids, dim="subject")
    folds = rsa.make_folds(d, cv=3, subject_cv=2, rng=0)
    rdms, train, test, ceil = _sets(folds, subjects)
    models = {"fixed": c[0], "nn": c, "sel": c, "interp": c}
    fits = {"nn": "nnls", "sel": "select", "interp": "interpolate"}
    ref_models = [ModelFixed("fixed", comps[0]), ModelWeighted("nn", comps),
                  ModelSelect("sel", comps), ModelInterpolate("interp", comps)]
    fitters = [lambda m, d, **k: None, fit_regress_nn, fit_select, fit_interpolate]
    t_o, a = _time(lambda: rsa.crossval(data=d, models=models, cv=folds, fit=fits), repeat)
    t_r, b = _time(lambda: crossval(ref_models, rdms, train, test, ceil_set=ceil,
                                    method="corr", fitter=fitters), repeat)
    diff = max(float(np.abs(a.score_folds.values - b.evaluations[0].T).max()),
               float(np.abs(a.ceiling.values - np.asarray(b.noise_ceiling)).max()))
    _row(f"crossval {n_subj} subj x {n} stim, 6 folds", t_o, t_r, diff)


def bench_bootstrap_crossval(n_subj: int, n: int, n_boot: int) -> None:
    import rsatoolbox.inference.evaluate as ev
    from rsatoolbox.model import ModelFixed, ModelSelect, ModelWeighted
    from rsatoolbox.model.fitter import fit_regress_nn, fit_select
    from rsatoolbox.rdm import RDMs

    from neurorep import data, rsa
    from neurorep.rsa._bootstrap import _Models
    from neurorep.rsa._flexible import _bootstrap_crossval_engine

    comps, subjects = _problem(n_subj, n, 3)
    k_rdm, k_pat, n_cv = 2, 3, 2
    samples: list[tuple[np.ndarray, np.ndarray]] = []
    shuffles: list[np.ndarray] = []
    orig_sample, orig_shuffle = ev.bootstrap_sample, np.random.shuffle

    def sample(*a: Any, **k: Any) -> Any:
        out = orig_sample(*a, **k)
        samples.append((np.asarray(out[1]).copy(), np.asarray(out[2]).copy()))
        return out

    def shuffle(x: Any) -> None:
        orig_shuffle(x)
        shuffles.append(np.asarray(x).copy())

    ref_models = [ModelFixed("fixed", comps[0]), ModelWeighted("nn", comps),
                  ModelSelect("sel", comps)]
    ev.bootstrap_sample, np.random.shuffle = sample, shuffle
    try:
        t0 = time.perf_counter()
        res = ev.bootstrap_crossval(
            ref_models, RDMs(subjects), method="corr", N=n_boot, n_cv=n_cv, k_pattern=k_pat,
            k_rdm=k_rdm, fitter=[lambda m, d, **k: None, fit_regress_nn, fit_select])
        t_r = time.perf_counter() - t0
    finally:
        ev.bootstrap_sample, np.random.shuffle = orig_sample, orig_shuffle
    subj_idx = np.stack([s[0] for s in samples])
    stim_idx = np.stack([s[1] for s in samples])
    perms, pos = [], 0
    for b in range(n_boot):
        ok = np.unique(subj_idx[b]).size >= k_rdm and np.unique(stim_idx[b]).size >= 3 * k_pat
        reps = []
        for _ in range(n_cv if ok else 0):
            reps.append(shuffles[pos : pos + 1 + k_rdm])
            pos += 1 + k_rdm
        perms.append(reps)
    mods = _Models(["fixed", "nn", "sel"], fixed_rows={0: comps[0]},
                   weighted={1: comps, 2: comps}, fits={1: "nnls", 2: "select"})
    t0 = time.perf_counter()
    evals, _ = _bootstrap_crossval_engine(
        mods, subjects, "corr", n, subj_idx, stim_idx, k_subject=k_rdm, k_stimulus=k_pat,
        n_cv=n_cv, gen=np.random.default_rng(0), perms=perms)
    t_o = time.perf_counter() - t0
    diff = float(np.nanmax(np.abs(evals - np.asarray(res.evaluations))))
    _row(f"bootstrap_crossval {n_boot} samples (same draws)", t_o, t_r, diff)
    ids = [f"s{i}" for i in range(n)]
    c = data.rdm(comps, stimulus=ids, dim="component")
    d = data.rdm(subjects, stimulus=ids, dim="subject")
    t0 = time.perf_counter()
    rsa.bootstrap_crossval(data=d, models={"fixed": c[0], "nn": c, "sel": c}, n_bootstrap=n_boot, cv=k_pat,
                           subject_cv=k_rdm, n_cv=n_cv, fit={"nn": "nnls", "sel": "select"},
                           rng=0)
    t_pub = time.perf_counter() - t0
    _row(f"bootstrap_crossval {n_boot} samples (public)", t_pub, t_r, float("nan"))


def _authors(path: str | None) -> Any:
    """The authors' utils_transform module, or the tests' transcription standing in."""
    if path:
        spec = importlib.util.spec_from_file_location("trsa_utils_transform", path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_topology_transform import _paper_geodesic

    class Stand:
        @staticmethod
        def geodesic_transform(vec: np.ndarray, gd_type: str, rank_transform_after: bool = True,
                               **kw: Any) -> np.ndarray:
            return _paper_geodesic(vec, gd_type, rank_transform_after, **kw)

        @staticmethod
        def gt_transform(vec: np.ndarray, gt_type: str, alpha: float, beta: float) -> np.ndarray:
            from scipy.stats import rankdata

            r = rankdata(vec)
            d = (r - r.min()) / (r.max() - r.min())
            return 1 / (1 + np.exp(-(d - beta) * alpha))

    return Stand


def bench_trsa(n_rdm: int, n: int, repeat: int, authors: str | None) -> None:
    from rsatoolbox.rdm import RDMs
    from rsatoolbox.rdm.transform import geodesic_transform as rsa_geodesic
    from scipy.spatial.distance import pdist, squareform

    from neurorep import data, topology

    g = np.random.default_rng(0)
    vecs = np.stack([pdist(g.standard_normal((n, 5))) for _ in range(n_rdm)])
    r = data.rdm(vecs, stimulus=[f"s{i}" for i in range(n)], dim="subject")
    paper = _authors(authors)
    tag = f"{n_rdm} RDMs x {n} stim"

    def cond(a: np.ndarray) -> np.ndarray:
        return np.stack([squareform(x, checks=False) for x in a])

    t_o, a = _time(lambda: topology.sigmoid_transform(r).values, repeat, best=BEST)
    t_r, b = _time(lambda: np.stack([paper.gt_transform(v, gt_type="sigmoid", alpha=10,
                                                        beta=0.5) for v in vecs]), repeat,
                   best=BEST)
    _row(f"sigmoid_transform {tag} vs authors", t_o, t_r, float(np.abs(cond(a) - b).max()))
    rgtm = cond(topology.gt_transform(r, 0.2, 0.8).values)
    t_o, a = _time(lambda: topology.geodesic_transform(r, 0.2, 0.8,
                                                       keep_zero_edges=False).values, repeat)
    t_r, b = _time(lambda: rsa_geodesic(RDMs(rgtm.copy())).get_vectors(), 1)
    _row(f"geodesic gt {tag} vs rsatoolbox", t_o, t_r, float(np.abs(cond(a) - b).max()))
    for graph, kw in (("p_shortest", {"p": 0.1}), ("k_nearest", {"k": 3})):
        t_o, a = _time(lambda gr=graph, k=kw: topology.geodesic_transform(
            r, graph=gr, keep_zero_edges=False, symmetric=False, **k).values, repeat)
        t_r, b = _time(lambda gr=graph, k=kw: np.stack([paper.geodesic_transform(
            v, gd_type=gr, rank_transform_after=False, **k) for v in vecs]), 1)
        both = np.isinf(b) & np.isinf(cond(a))
        _row(f"geodesic {graph} {tag} vs authors", t_o, t_r,
             float(np.abs(np.where(both, 0, cond(a) - b)).max()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--authors", default=None, help="path to the authors' utils_transform.py")
    parser.add_argument("--only", default="fits,crossval,bootstrap,trsa",
                        help="comma-separated sections to run (default: all)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--best", action="store_true",
                        help="report the shortest of the repeats (a loaded machine), not the median")
    args = parser.parse_args()
    global BEST
    BEST = args.best
    warnings.filterwarnings("ignore")
    only = set(args.only.split(","))
    repeat = args.repeat
    print(f"load average before the run: {os.getloadavg()}", flush=True)
    q = args.quick
    if "fits" in only:
        bench_fits(6 if q else 10, 16 if q else 20, repeat)
    if "crossval" in only:
        bench_crossval(6 if q else 10, 18 if q else 24, repeat)
    if "bootstrap" in only:
        bench_bootstrap_crossval(6 if q else 8, 18 if q else 24, 20 if q else 40)
    if "trsa" in only:
        bench_trsa(3 if q else 10, 30 if q else 60, repeat, args.authors)


if __name__ == "__main__":
    main()
