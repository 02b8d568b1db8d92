"""The alignment engine: region x layer score matrices with bootstrap CIs, ceilings and
held-out best layers, for any metric of :data:`neurorep.alignment.METRICS`.

Inference comes from :mod:`neurorep.stats`: percentile CIs (re-centred for
stimulus bootstraps), sign-flip p-values over subjects, and the ceilings
(leave one subject out for RDM stacks, split halves of the repetitions).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from neurorep import __version__
from neurorep._core.deprecate import renamed_parameters
from neurorep._core.errors import check_int
from neurorep._core.parallel import is_lazy, map_reductions, map_tasks, one_blas_thread
from neurorep._core.rng import check_scheduler, resolve_seed
from neurorep.alignment._depth import layer_profile
from neurorep.alignment._inputs import _depths, _prepare_sets
from neurorep.alignment._metric import Metric, get_metric
from neurorep.data import RDM_DIMS
from neurorep.stats import (
    BOUNDS,
    bootstrap_indices,
    leave_one_out_ceiling,
    percentile_ci,
    sign_flip_pvalue,
    split_half_ceiling,
)

Array = np.ndarray


#: score_matrix runs its layers as parallel tasks (metrics with ``pair_many``) while all
#: regions' prepared values together are at most this many float64 bytes (64 MB)
PAIR_TASK_BYTES = 64 * 2**20

#: score_matrix runs the bootstrap of a metric without a batched sample path in order on one
#: BLAS thread while every (region, layer) pair's prepared values hold at most this many
#: numbers: their scores are small LAPACK calls (SVD, QR, eigh of a few dozen columns),
#: which numpy's OpenBLAS runs slower from two threads at once than from one (64 x 50 SVDs:
#: 0.26 s against 0.17 s; Procrustes bootstrap, 12 pairs x 300 stimuli x 64 + 50 units: two
#: tasks 0.76-0.96 s, in order 0.60-0.77 s). Larger pairs (1000 x 512 + 200: tasks 1.56 s,
#: in order 1.96 s) run as parallel-engine tasks.
SMALL_PAIR_VALUES = 2**18


def _array_sizes(preps: list[Any]) -> list[int] | None:
    """The number of values of each prepared representation, or None where one is not a
    numpy array (a dask-backed region, a stand-in, a metric's own state)."""
    if not all(isinstance(p, np.ndarray) for p in preps):
        return None
    return [p.size for p in preps]


def _small_pairs(rpreps: list[Any], lpreps: list[Any]) -> bool:
    """Whether every region's and layer's prepared values are numpy arrays and the largest
    pair holds at most :data:`SMALL_PAIR_VALUES` numbers."""
    rs, ls = _array_sizes(rpreps), _array_sizes(lpreps)
    if rs is None or ls is None:
        return False
    return max(rs, default=0) + max(ls, default=0) <= SMALL_PAIR_VALUES


def _pair_score(met: Metric) -> Callable[[xr.DataArray, xr.DataArray], float]:
    """The metric as a score of two representations (for the ceilings)."""

    def score(a: xr.DataArray, b: xr.DataArray) -> float:
        return float(met.score(met.pair(met.prepare(a), met.prepare(b)), None))

    return score


def _ceiling(met: Metric, subs: dict[str, xr.DataArray]) -> Array:
    """A region's (lower, upper) ceiling: leave one subject out for RDM stacks over
    subjects; otherwise the split-half ceiling of each subject's repetitions (one
    estimate, as lower; upper NaN), averaged over subjects."""
    first = next(iter(subs.values()))
    if first.dims[-2:] == RDM_DIMS and len(subs) > 1:
        das = [da.drop_vars([c for c in da.coords if c not in da.dims]) for da in subs.values()]
        prepared: dict[int, Any] = {}

        def score(item: xr.DataArray, pooled: xr.DataArray) -> float:
            if id(item) not in prepared:  # each subject's RDM is prepared once
                prepared[id(item)] = met.prepare(item)
            return float(met.score((prepared[id(item)], met.prepare(pooled)), None))

        return np.asarray(leave_one_out_ceiling(das, score).values, dtype=float)
    pair_score = _pair_score(met)
    vals = np.array([
        met.ceiling(da) if met.ceiling is not None else split_half_ceiling(da, pair_score)
        for da in subs.values()
    ])
    lower = vals[np.isfinite(vals)].mean() if np.isfinite(vals).any() else np.nan
    return np.array([lower, np.nan])


def _parallel_to_scheduler(parallel: object) -> str | None:
    """The old ``parallel=True/False`` of score_matrix as a dask scheduler."""
    return "threads" if parallel else None


def _prepare_each(met: Metric, items: list[Any]) -> list[Any]:
    """``met.prepare`` of every representation: the in-memory ones as parallel-engine tasks
    (one BLAS thread each), the dask-backed ones by :func:`map_reductions` (their
    reductions over unit chunks one after the other: each already keeps every scheduler
    thread busy, and two at once would hold two running sums per worker thread)."""
    lazy = [is_lazy(x) for x in items]
    eager = iter(map_tasks(met.prepare, [x for x, z in zip(items, lazy, strict=True) if not z]))
    chunked = iter(map_reductions(met.prepare, [x for x, z in zip(items, lazy, strict=True) if z]))
    return [next(chunked) if z else next(eager) for z in lazy]


# ----------------------------------------------------------------------------- public
@renamed_parameters(n_boot="n_bootstrap", parallel=("scheduler", _parallel_to_scheduler))
def score_matrix(
    brain: Any,
    model: Any,
    *,
    metric: str | Metric = "cka",
    n_bootstrap: int = 200,
    ci: float = 0.95,
    rng: Any = None,
    scheduler: str | None = None,
) -> xr.Dataset:
    """Score every brain region against every model layer.

    Parameters
    ----------
    brain : representation set
        Per region (DataTree leaves or mapping): responses ``(stimulus,
        unit)`` / ``(stimulus, repetition, unit)`` or, for RSA metrics, RDMs
        ``(subject, stimulus_i, stimulus_j)``. Repetitions are averaged for
        the score and split in halves for the ceiling. One responses
        DataArray whose units carry a ``region`` coordinate (as
        ``neurorep.data.responses(..., region=...)`` builds) is a set of
        regions: it is split by that coordinate, exactly as if each region
        were passed as its own member (a member holding several regions
        gives ``"<member>/<region>"``). Units carrying a ``subject``
        coordinate with several subjects, or RDM stacks over subjects, are
        scored per subject, then summarised. Dask-backed responses (chunked
        along ``unit``, every stimulus in each chunk) run out of core, never
        gathered into memory: every metric is reduced over the unit chunks
        (the Gram matrix, the RDM, a QR stand-in with the region's centred
        Gram matrix, an uncentred one of the stacked repetitions for the
        stochastic metrics, or a per-chunk ridge fit for ``"encoding"``), to
        the in-memory scores up to rounding, except ``"permutation"``,
        ``"permutation_euclidean"`` and ``"soft_matching"``, which match units
        one to one and refuse dask-backed input (select a smaller region and
        ``.compute()`` it).
    model : activations DataTree or mapping
        One ``(stimulus, unit)`` array (or RDM) per layer. Stimuli are
        aligned by id.
    metric : str or Metric
        A key of :data:`METRICS`: ``"cka"``, ``"cka_debiased"``,
        ``"procrustes"``, ``"procrustes_euclidean"``, ``"shape_cca"``,
        ``"shape_partial"``, ``"permutation"``, ``"permutation_euclidean"``,
        ``"soft_matching"``, ``"cca"``, ``"svcca"``, ``"pwcca"``,
        ``"mutual_knn"``, ``"gaussian_stochastic"``, ``"energy_stochastic"``,
        ``"rsa"`` (=
        ``"rsa_spearman"``), ``"rsa_pearson"``,
        ``"rsa_tau_a"``, ``"rsa_cosine"``, ``"encoding"``; or a factory with
        options (:func:`shape_metric`, :func:`permutation_metric`,
        :func:`cca_metric`, :func:`mutual_knn_metric`,
        :func:`gaussian_stochastic_metric`, :func:`energy_stochastic_metric`,
        :func:`rsa_metric`,
        :func:`encoding_metric`). The exact estimator is recorded in
        ``attrs["metric_name"]`` and its options in ``attrs["metric_params"]``.
    n_bootstrap : int
        Bootstrap samples over stimuli (one subject) or over subjects
        (several) for the confidence interval; 0 for none. Resampling
        stimuli with replacement biases similarity upward, so that
        distribution is re-centred on the point estimate before taking
        percentiles.
    ci : float, optional
        Coverage of the percentile bootstrap interval ``ci_low`` / ``ci_high``
        (default 0.95).
    rng : int, Generator or None
        Seed for the bootstrap (``None``: fresh entropy; the seed drawn is
        recorded in ``attrs["rng"]``).
    scheduler : str, optional
        ``None`` (default): every pair in this process, batched where the metric
        allows. A dask scheduler name (``"threads"``, ``"processes"``,
        ``"synchronous"``, or ``"distributed"`` for the active
        ``dask.distributed.Client``): region x layer pairs as dask tasks.

    Returns
    -------
    Dataset
        Over ``(region, layer)``: ``score`` (mean over subjects), ``ci_low``,
        ``ci_high``, ``normalized_score`` (score / lower ceiling), and with
        several subjects ``subject_score`` ``(subject, region, layer)`` and
        ``pvalue`` (one-sided sign-flip test of the subject mean > 0). Over
        ``(region, bound)``: ``ceiling`` (:func:`neurorep.stats`' schema,
        bound = lower, upper): for RDM stacks over subjects the
        leave-one-subject-out (lower) and all-subject (upper) bounds
        (:func:`~neurorep.stats.leave_one_out_ceiling`); for responses with
        repetitions one estimate, the split-half score of the same metric
        stepped up with Spearman-Brown
        (:func:`~neurorep.stats.split_half_ceiling`), as the lower bound
        with the upper NaN. Layer coord ``depth``.

    Examples
    --------
    >>> from neurorep.datasets import make_layered_brain
    >>> from neurorep.alignment import score_matrix
    >>> sim = make_layered_brain(n_stimuli=60, n_units=10, rng=0)
    >>> res = score_matrix(sim["brain"], sim["model"], n_bootstrap=20)
    >>> res.score.dims
    ('region', 'layer')
    """
    met = get_metric(metric)
    gen, seed = resolve_seed(rng)
    n_bootstrap = check_int("n_bootstrap", n_bootstrap, minimum=0,
                            fix="e.g. n_bootstrap=200, or 0 for no CI.")
    check_scheduler(scheduler)
    regions, layers, ids = _prepare_sets(brain, model, met)
    n = len(ids)
    if n < met.min_stimuli:
        raise ValueError(f"score_matrix: need at least {met.min_stimuli} stimuli; got {n}.")
    subjects = sorted({s for subs in regions.values() for s in subs})
    multi = len(subjects) > 1
    # one parallel-engine task per representation (one BLAS thread each): small Gram
    # products on two BLAS threads ran up to 10x slower on a busy machine
    lprep = dict(zip(layers, _prepare_each(met, list(layers.values())), strict=True))
    boots = bootstrap_indices(n, n_bootstrap, rng=gen) if n_bootstrap and not multi else np.empty((0, n), int)

    rkeys_s = [(rk, s) for rk, subs in regions.items() for s in subs]
    rprep = dict(zip(rkeys_s, _prepare_each(met, [regions[rk][s] for rk, s in rkeys_s]),
                     strict=True))
    states: dict[tuple[str, str, str], Any] = {}
    parallel = scheduler is not None
    if met.pair_many is not None and not parallel:
        keys = list(rprep)
        preps = [rprep[k] for k in keys]
        pair_many = met.pair_many

        def layer_states(lp: Any) -> list[Any]:
            return pair_many(preps, lp)

        # the layers as parallel-engine tasks (one BLAS thread each) while the regions are
        # small: a layer's fit then keeps one core busy from end to end (12 layers x 20
        # regions x 1000 stimuli: 4 layers 19.3-21.8 s in order, 16.6-17.9 s as tasks; the
        # same numbers); large regions one layer at a time (its work already fills the cores,
        # and two layers' intermediates would be held at once)
        sizes = _array_sizes(preps)  # numpy: no dask-backed region
        small = len(lprep) > 1 and sizes is not None and 8 * sum(sizes) <= PAIR_TASK_BYTES
        per_layer = (map_tasks(layer_states, list(lprep.values())) if small
                     else [layer_states(lp) for lp in lprep.values()])
        for lk, sts in zip(lprep, per_layer, strict=True):
            for key, st in zip(keys, sts, strict=True):
                states[(*key, lk)] = st

    def run(rk: str, s: str, lk: str) -> tuple[float, Array]:
        if (rk, s) not in rprep:
            return float("nan"), np.full(len(boots), np.nan)
        state = states.get((rk, s, lk))
        if state is None:
            state = met.pair(rprep[(rk, s)], lprep[lk])
        idxs = [np.unique(idx) if met.unique_rows else idx for idx in boots]
        keep = [b for b, idx in enumerate(idxs) if len(idx) >= met.min_stimuli]
        todo: list[Array | None] = [None, *(idxs[b] for b in keep)]
        if met.score_many is not None:
            values = np.asarray(met.score_many(state, todo), float)
        else:
            values = np.array([met.score(state, idx) for idx in todo], float)
        samples = np.full(len(boots), np.nan)
        samples[keep] = values[1:]
        return float(values[0]), samples

    rkeys, lkeys = list(regions), list(layers)
    batched = met.sample is not None and not multi and not parallel and all(
        not (isinstance(p, tuple) and isinstance(p[0], str) and p[0] == "features") for p in lprep.values()
    )
    if batched:
        res = _batched_score_matrix(
            met, regions, layers, {rk: rprep[(rk, "all")] for rk in regions}, lprep, boots,
            ci=ci, metric=metric, n=n,
        )
        res.attrs["rng"] = seed
        return res
    jobs = [(r, s, k) for r in rkeys for s in subjects for k in lkeys]
    if parallel:
        import dask

        kwargs = {} if scheduler == "distributed" else {"scheduler": scheduler}
        results = list(dask.compute(*[dask.delayed(run)(*j) for j in jobs], **kwargs))
    elif not len(boots):
        results = [run(*j) for j in jobs]
    elif _small_pairs(list(rprep.values()), list(lprep.values())):
        with one_blas_thread():  # small decompositions: in order (see SMALL_PAIR_VALUES)
            results = [run(*j) for j in jobs]
    else:  # parallel-engine tasks, one BLAS thread each: every bootstrap score is small
        results = map_tasks(lambda j: run(*j), jobs)
    shape = (len(rkeys), len(subjects), len(lkeys))
    subj_score = np.array([p for p, _ in results]).reshape(shape)
    if multi:
        res = _assemble(met, regions, layers, np.nanmean(subj_score, axis=1), None, subj_score,
                        ci=ci, metric=metric, n=n, n_bootstrap=n_bootstrap, gen=gen,
                        subjects=subjects)
        res.attrs["rng"] = seed
        return res
    samples = np.stack([s for _, s in results]).reshape(len(rkeys), len(lkeys), len(boots))
    res = _assemble(met, regions, layers, subj_score[:, 0], samples, None, ci=ci, metric=metric,
                    n=n, n_bootstrap=n_bootstrap, gen=gen)
    res.attrs["rng"] = seed
    return res


def _assemble(
    met: Metric,
    regions: dict[str, dict[str, xr.DataArray]],
    layers: dict[str, xr.DataArray],
    score: Array,
    samples: Array | None,
    subj_score: Array | None,
    *,
    ci: float,
    metric: str | Metric,
    n: int,
    n_bootstrap: int,
    gen: np.random.Generator | None,
    subjects: list[str] | None = None,
) -> xr.Dataset:
    """The result Dataset: CIs (stimulus bootstrap re-centred, or over subjects), p-values,
    ceilings and provenance."""
    rkeys, lkeys = list(regions), list(layers)
    data_vars: dict[str, Any] = {"score": (("region", "layer"), score)}
    lo = hi = np.full_like(score, np.nan)
    if subj_score is not None:
        assert gen is not None and subjects is not None
        if n_bootstrap:
            idx = bootstrap_indices(len(subjects), n_bootstrap, rng=gen)
            boot_means = np.nanmean(subj_score[:, idx, :], axis=2)  # (region, boot, layer)
            lo, hi = percentile_ci(boot_means, ci=ci, axis=1)
        data_vars["subject_score"] = (("subject", "region", "layer"), np.moveaxis(subj_score, 1, 0))
        data_vars["pvalue"] = (("region", "layer"), sign_flip_pvalue(subj_score, axis=1, rng=gen))
    elif samples is not None and n_bootstrap:
        # resampling stimuli with replacement biases similarity upward: re-centre on the estimate
        lo, hi = percentile_ci(samples, ci=ci, axis=-1, center=score)
    ceiling = np.stack([_ceiling(met, regions[rk]) for rk in rkeys])  # (region, bound)
    data_vars.update(
        ci_low=(("region", "layer"), lo),
        ci_high=(("region", "layer"), hi),
        ceiling=(("region", "bound"), ceiling),
        normalized_score=(("region", "layer"), score / ceiling[:, :1]),
    )
    coords: dict[str, Any] = {"region": rkeys, "layer": lkeys, "bound": list(BOUNDS),
                              "depth": ("layer", _depths(layers))}
    if subjects is not None:
        coords["subject"] = subjects
    return xr.Dataset(
        data_vars,
        coords=coords,
        attrs={
            "metric": metric if isinstance(metric, str) else "custom",
            "metric_name": met.name,
            # netCDF-safe: the options as JSON text ("{}" for none)
            "metric_params": json.dumps(dict(met.params), sort_keys=True, default=str),
            "n_bootstrap": n_bootstrap,
            "ci": ci,
            "bootstrap_over": "subjects" if subjects is not None else "stimuli",
            "n_stimuli": n,
            "neurorep_version": __version__,
        },
    )


def _batched_score_matrix(
    met: Metric,
    regions: dict[str, dict[str, xr.DataArray]],
    layers: dict[str, xr.DataArray],
    rprep: dict[str, Any],
    lprep: dict[str, Any],
    boots: Array,
    *,
    ci: float,
    metric: str | Metric,
    n: int,
) -> xr.Dataset:
    """score_matrix's single-subject path when scores are dot products of sample vectors:
    each bootstrap sample costs one vector per representation and one matrix product;
    the point estimate comes from the metric's family kernel (``score_all``) when it has one.
    ``rprep``: the regions already prepared (a dask-backed region is not reduced twice)."""
    assert met.sample is not None
    rkeys, lkeys = list(regions), list(layers)

    def block(idx: Array | None) -> Array:
        a = np.stack([met.sample(rprep[k], idx) for k in rkeys])  # type: ignore[misc]
        b = np.stack([met.sample(lprep[k], idx) for k in lkeys])  # type: ignore[misc]
        return a @ b.T

    if met.score_all is not None:
        score = met.score_all([rprep[k] for k in rkeys], [lprep[k] for k in lkeys])
    else:
        score = block(None)
    samples = np.full((len(rkeys), len(lkeys), len(boots)), np.nan)

    def run(rows: range) -> None:  # writes its own bootstrap samples
        for bi in rows:
            idx = np.unique(boots[bi]) if met.unique_rows else boots[bi]
            if len(idx) >= met.min_stimuli:
                samples[:, :, bi] = block(idx)

    # a few parallel-engine tasks, one BLAS thread each: the products are small
    step = max(1, -(-len(boots) // 8))
    map_tasks(run, [range(b, min(b + step, len(boots))) for b in range(0, len(boots), step)])
    return _assemble(met, regions, layers, score, samples, None, ci=ci, metric=metric, n=n,
                     n_bootstrap=len(boots), gen=None)


def depth_index(scores: xr.Dataset | xr.DataArray) -> xr.DataArray:
    """Centre of mass of each region's layer profile over normalised depth (0..1).

    Negative scores are clipped at 0 before weighting.

    Parameters
    ----------
    scores : Dataset or DataArray
        A :func:`score_matrix` result (its ``score``) or a ``(..., layer)``
        DataArray with a ``depth`` coordinate along ``layer``.

    Returns
    -------
    DataArray
        The depth index over the remaining dims (NaN where every score is <= 0).

    Examples
    --------
    >>> import xarray as xr
    >>> from neurorep.alignment import depth_index
    >>> s = xr.DataArray([[0.0, 1.0, 3.0]], dims=("region", "layer"),
    ...                  coords={"depth": ("layer", [0.0, 0.5, 1.0])})
    >>> float(depth_index(s)[0])
    0.875
    """
    s, _, _ = layer_profile(scores, "depth_index")
    w = s.clip(min=0)
    total = w.sum("layer")
    return (w * s["depth"]).sum("layer") / total.where(total > 0)


@renamed_parameters(n_boot="n_bootstrap", n_splits="cv")
def best_layer(
    brain: Any,
    model: Any,
    *,
    metric: str | Metric = "cka",
    cv: int = 5,
    n_bootstrap: int = 200,
    ci: float = 0.95,
    rng: Any = None,
) -> xr.Dataset:
    """The best layer per region, chosen on training stimuli and scored on held-out ones.

    The stimuli are split into ``cv`` folds; in each, every layer is
    scored on the other folds, the best one is chosen there, and it is scored
    on the held-out fold, so no score reports the data that chose its layer.
    With RSA metrics the held-out score is computed on the held-out fold's
    stimuli only (an RDM over fewer stimuli), so it is not on the all-stimuli
    scale of :func:`score_matrix`.
    (With ``metric="encoding"`` the per-stimulus predictions come from one
    nested cross-validation over all stimuli; the choice and the report then
    use disjoint stimuli's predictions.) Several subjects: their scores are
    averaged per fold before choosing.

    Parameters
    ----------
    brain : DataTree, mapping or DataArray
        The regions, as in :func:`score_matrix`: per region responses
        ``(stimulus, unit)`` / ``(stimulus, repetition, unit)`` or RDMs; one
        responses DataArray with a per-unit ``region`` coordinate is split
        into its regions.
    model : DataTree or mapping
        One ``(stimulus, unit)`` activation array (or RDM) per layer, with a
        ``depth`` per layer where known; stimuli are aligned by id.
    metric : str or Metric, optional
        A key of :data:`METRICS` or a :class:`Metric` (default ``"cka"``).
    cv : int, optional
        Folds over stimuli (>= 2, default 5); each fold needs at least the
        metric's ``min_stimuli``.
    n_bootstrap : int, optional
        Bootstrap samples over held-out stimuli for the CI (default 200); 0
        for none.
    ci : float, optional
        Coverage of the interval (default 0.95).
    rng : int, Generator or None
        Seed for the folds and the bootstrap (recorded in ``attrs["rng"]``).

    Returns
    -------
    Dataset
        Over ``region``: ``best_layer`` (the layer chosen most often),
        ``score`` (mean held-out score of the chosen layers), ``ci_low`` /
        ``ci_high`` (bootstrap over held-out stimuli, re-centred),
        ``depth_index`` (of the full-data profile); over ``(region,
        layer)``: ``selection_frequency`` (fraction of folds that chose the
        layer). Attrs: ``metric``, ``metric_name``, ``metric_params``, ``cv``,
        ``rng``.

    Examples
    --------
    >>> from neurorep.datasets import make_layered_brain
    >>> from neurorep.alignment import best_layer
    >>> sim = make_layered_brain(n_stimuli=60, n_units=10, rng=0)
    >>> res = best_layer(sim["brain"], sim["model"], cv=3, n_bootstrap=0, rng=0)
    >>> res.selection_frequency.dims
    ('region', 'layer')
    """
    met = get_metric(metric)
    gen, seed = resolve_seed(rng)
    n_bootstrap = check_int("n_bootstrap", n_bootstrap, minimum=0,
                            fix="e.g. n_bootstrap=200, or 0 for no CI.")
    cv = check_int("cv", cv, minimum=2, fix="e.g. cv=5.")
    regions, layers, ids = _prepare_sets(brain, model, met)
    n = len(ids)
    if cv < 2 or n // cv < met.min_stimuli:
        raise ValueError(
            f"best_layer: {n} stimuli cannot make {cv} folds of at least "
            f"{met.min_stimuli} stimuli; lower cv (>= 2) or add stimuli."
        )
    perm = gen.permutation(n)
    folds = np.array_split(perm, cv)
    lkeys = list(layers)
    # one parallel-engine task per representation (one BLAS thread each): small Gram
    # products on two BLAS threads ran up to 10x slower on a busy machine
    lprep = dict(zip(layers, _prepare_each(met, list(layers.values())), strict=True))
    rkeys = list(regions)
    freq = np.zeros((len(rkeys), len(lkeys)))
    held = np.zeros((len(rkeys), cv))
    boot_held = np.zeros((len(rkeys), n_bootstrap))
    full = np.zeros((len(rkeys), len(lkeys)))
    for ri, rk in enumerate(rkeys):
        rpreps = [met.prepare(da) for da in regions[rk].values()]
        states = [[met.pair(rp, lprep[k]) for k in lkeys] for rp in rpreps]

        def mean_score(li: int, idx: Array | None, states: list[list[Any]] = states) -> float:
            return float(np.nanmean([met.score(st[li], idx) for st in states]))

        full[ri] = [mean_score(li, None) for li in range(len(lkeys))]
        chosen = []
        for fi, test in enumerate(folds):
            train = np.setdiff1d(perm, test)
            best = int(np.nanargmax([mean_score(li, train) for li in range(len(lkeys))]))
            freq[ri, best] += 1
            held[ri, fi] = mean_score(best, test)
            chosen.append((test, best))
        for b in range(n_bootstrap):
            vals = []
            for test, best in chosen:
                idx = gen.choice(test, size=len(test), replace=True)
                if met.unique_rows:
                    idx = np.unique(idx)
                vals.append(mean_score(best, idx) if len(idx) >= met.min_stimuli else np.nan)
            boot_held[ri, b] = np.nanmean(vals)
    if n_bootstrap:  # re-centred on the held-out score: resampling biases similarity upward
        lo, hi = percentile_ci(boot_held, ci=ci, axis=1, center=held.mean(1))
    else:
        lo = hi = np.full(len(rkeys), np.nan)
    prof = xr.DataArray(full, dims=("region", "layer"),
                        coords={"region": rkeys, "layer": lkeys, "depth": ("layer", _depths(layers))})
    return xr.Dataset(
        {
            "best_layer": ("region", [lkeys[i] for i in freq.argmax(1)]),
            "score": ("region", held.mean(1)),
            "ci_low": ("region", lo),
            "ci_high": ("region", hi),
            "depth_index": ("region", depth_index(prof).values),
            "selection_frequency": (("region", "layer"), freq / cv),
        },
        coords={"region": rkeys, "layer": lkeys},
        attrs={"metric": metric if isinstance(metric, str) else "custom",
               "metric_name": met.name,
               "metric_params": json.dumps(dict(met.params), sort_keys=True, default=str), "cv": cv,
               "rng": seed, "neurorep_version": __version__},
    )


def unit_layer_scores(
    responses: xr.DataArray,
    model: Any,
    *,
    cv: int = 5,
    inner_cv: int = 3,
    alphas: Any = None,
) -> xr.Dataset:
    """Cross-validated encoding r of every unit from every layer, and each unit's best layer.

    Parameters
    ----------
    responses : DataArray
        Responses ``(stimulus, unit)`` or ``(stimulus, repetition, unit)``
        (repetitions are averaged); unit coordinates are kept.
    model : DataTree or mapping
        One ``(stimulus, unit)`` activation array per layer; stimuli are
        aligned with ``responses`` by id.
    cv : int, optional
        Outer cross-validation folds (default 5).
    inner_cv : int, optional
        Inner folds that choose each unit's ridge penalty (default 3).
    alphas : array-like, optional
        The ridge penalty grid; None uses the default of
        :func:`neurorep.encoding.cross_validate_ridge`.

    Returns
    -------
    Dataset
        ``score`` ``(layer, unit)`` (held-out Pearson r, nested CV),
        ``best_layer`` (unit) and ``best_depth`` (unit), with the unit
        coordinates (e.g. voxel ``i, j, k``) kept for brain maps; layer
        coordinate ``depth``.

    Examples
    --------
    >>> from neurorep.datasets import make_layered_brain
    >>> from neurorep.alignment import unit_layer_scores
    >>> sim = make_layered_brain(n_stimuli=60, n_units=10, rng=0)
    >>> region = sim["brain"]["early"]["responses"]
    >>> res = unit_layer_scores(region, sim["model"], cv=3, inner_cv=2)
    >>> res.score.dims
    ('layer', 'unit')
    """
    from neurorep.encoding import cross_validate_ridge

    met = get_metric("encoding")
    regions, layers, _ = _prepare_sets({"units": responses}, model, met, split_regions=False)
    da = regions["units"]["all"]
    y = da.mean("repetition") if "repetition" in da.dims else da
    kw: dict[str, Any] = {"cv": cv, "inner_cv": inner_cv, "dtype": "float64", "scoring": "r"}
    if alphas is not None:
        kw["alphas"] = alphas
    rows = []
    for da_layer in layers.values():
        res = cross_validate_ridge(np.asarray(da_layer.values, float), y, **kw)
        rows.append(np.asarray(res["r"].values, float))
    score = np.stack(rows)
    lkeys = list(layers)
    depth = _depths(layers)
    best = np.nanargmax(np.where(np.isfinite(score), score, -np.inf), axis=0)
    unit_coords = {k: v for k, v in y.coords.items() if v.dims == ("unit",)}
    return xr.Dataset(
        {
            "score": (("layer", "unit"), score),
            "best_layer": ("unit", np.asarray(lkeys)[best]),
            "best_depth": ("unit", depth[best]),
        },
        coords={"layer": lkeys, "depth": ("layer", depth), **unit_coords},
        attrs={**{k: v for k, v in y.attrs.items() if k in ("affine", "volume_shape")},
               "metric": "encoding r", "neurorep_version": __version__},
    )
