"""Region x layer score matrices with bootstrap CIs, ceilings and held-out best layers.

A metric is three steps: ``prepare`` one representation once (e.g. its RDM),
``pair`` a prepared region with a prepared layer once (e.g. cross-validated
encoding predictions), then ``score`` the pair on any subset of stimuli (the
full set, a bootstrap sample, a fold). Bootstrap and held-out layer choice
then cost index operations, not refits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from neurorep import __version__
from neurorep._core import similarity
from neurorep._core.compare import compare_vectors, resolve_method
from neurorep._core.errors import AlignmentError, SchemaError, check_int, check_real
from neurorep._core.ranks import rank_rows
from neurorep._core.rng import as_generator
from neurorep.data import RDM_DIMS, align, members, stimulus_ids, validate
from neurorep.stats import (
    BOUNDS,
    bootstrap_indices,
    leave_one_out_ceiling,
    percentile_ci,
    sign_flip_pvalue,
    split_half_ceiling,
)

Array = np.ndarray


def _pair_default(px: Any, py: Any) -> Any:
    return (px, py)


def _as_float(x: Any) -> Array:
    if isinstance(x, xr.DataArray):
        if x.dims[-2:] == RDM_DIMS:
            raise SchemaError(
                "this metric needs responses (stimulus, unit), but got an RDM; use metric='rsa' "
                "for RDM inputs."
            )
        x = x.mean("repetition") if "repetition" in x.dims else x
        return np.asarray(x.values, float)
    return np.asarray(x, float)


@dataclass(frozen=True)
class Metric:
    """How to score one region against one layer on a subset of stimuli.

    Attributes
    ----------
    prepare : callable(DataArray) -> state
        Once per representation (a responses DataArray, or an RDM for RSA).
    score : callable(pair_state, idx) -> float
        ``idx`` is an index array of stimuli, or None for all.
    pair : callable(prepared_region, prepared_layer) -> pair_state
        Once per region x layer (default: the tuple of both).
    unique_rows : bool
        Bootstrap samples drop repeated stimuli (RSA: a duplicated stimulus
        would create zero distances).
    min_stimuli : int
        Fewest stimuli the score is defined on.
    takes_rdms : bool
        Accepts RDM members (``stimulus_i, stimulus_j``) directly.
    ceiling : callable(responses with repetitions) -> float, optional
        The region's noise ceiling on this metric's scale; default the
        split-half score of the metric itself, Spearman-Brown corrected.
    sample : callable(prepared, idx) -> 1-D unit vector, optional
        A fast path: when the score of a pair is the dot product of the two
        representations' vectors on the same stimuli (CKA, Pearson/Spearman
        RSA), every region x layer score of a bootstrap sample is one matrix
        product.
    pair_many : callable(list of prepared regions, prepared layer) -> list of states, optional
        ``pair`` for every region at once (encoding: one ridge fit per layer
        for all regions' units together; per-unit alphas keep the numbers
        identical).
    """

    prepare: Callable[[xr.DataArray], Any]
    score: Callable[[Any, Array | None], float]
    pair: Callable[[Any, Any], Any] = _pair_default
    unique_rows: bool = False
    min_stimuli: int = 4
    takes_rdms: bool = False
    ceiling: Callable[[xr.DataArray], float] | None = None
    sample: Callable[[Any, Array | None], Array] | None = None
    pair_many: Callable[[list[Any], Any], list[Any]] | None = None
    params: dict[str, Any] = field(default_factory=dict)


def _kernel_metric(fn: Callable[[Array, Array], float], min_stimuli: int = 4) -> Metric:
    def score(state: Any, idx: Array | None) -> float:
        x, y = state
        if idx is None:
            return fn(x, y)
        return fn(x[idx], y[idx])

    return Metric(prepare=_as_float, score=score, min_stimuli=min_stimuli)


def rsa_metric(*, method: str = "spearman", rdm_metric: str = "correlation") -> Metric:
    """RSA: RDMs of both representations (``neurorep.rsa.compute_rdm``), compared with
    ``neurorep.rsa`` comparison ``method`` on the stimuli of each subset."""
    resolved = resolve_method(method)

    full_method = "corr" if resolved == "spearman" else resolved

    def prepare(x: xr.DataArray) -> tuple[Array, Array]:
        if isinstance(x, xr.DataArray) and x.dims[-2:] == RDM_DIMS:
            square = np.asarray(x.values, float)
        else:
            from neurorep.rsa import compute_rdm

            square = np.asarray(compute_rdm(x, metric=rdm_metric).values, float)  # type: ignore[arg-type]
        vec = square[np.triu_indices(square.shape[0], 1)]
        if resolved == "spearman":  # rank once: Spearman = Pearson of ranks (average ties)
            vec = rank_rows(vec)
        return square, vec

    def score(state: Any, idx: Array | None) -> float:
        (a, va), (b, vb) = state
        if idx is None:
            return float(compare_vectors(va[None], vb[None], full_method)[0, 0])
        a, b = a[np.ix_(idx, idx)], b[np.ix_(idx, idx)]
        iu = np.triu_indices(a.shape[0], 1)
        return float(compare_vectors(a[iu][None], b[iu][None], resolved)[0, 0])

    def sample(prep: tuple[Array, Array], idx: Array | None) -> Array:
        square, vec = prep
        if idx is not None:
            sub = square[np.ix_(idx, idx)]
            vec = sub[np.triu_indices(len(idx), 1)]
            if resolved == "spearman":
                vec = rank_rows(vec)
        v = vec - vec.mean() if resolved != "cosine" else vec
        norm = np.linalg.norm(v)
        return v / norm if norm > 0 else np.full_like(v, np.nan)

    return Metric(prepare=prepare, score=score, unique_rows=True, min_stimuli=4, takes_rdms=True,
                  sample=sample if resolved in ("spearman", "corr", "cosine") else None,
                  params={"method": method, "rdm_metric": rdm_metric})


def encoding_metric(*, cv: int = 5, inner_cv: int = 3, alphas: Any = None) -> Metric:
    """Encoding: nested cross-validated ridge (``neurorep.encoding.cross_validate_ridge``)
    from the layer to the region; the score on a subset is the mean over units of the
    Pearson r between held-out predictions and responses."""

    def pair(px: Array, py: Array) -> tuple[Array, Array]:
        from neurorep.encoding import cross_validate_ridge

        kw: dict[str, Any] = {"cv": cv, "inner_cv": inner_cv, "dtype": "float64"}
        if alphas is not None:
            kw["alphas"] = alphas
        res = cross_validate_ridge(py, px, **kw)
        return np.asarray(res["prediction"].values, float), px

    def score(state: Any, idx: Array | None) -> float:
        pred, true = state
        if idx is not None:
            pred, true = pred[idx], true[idx]
        pc = pred - pred.mean(0)
        tc = true - true.mean(0)
        denom = np.sqrt((pc**2).sum(0) * (tc**2).sum(0))
        r = np.where(denom > 0, (pc * tc).sum(0) / np.where(denom > 0, denom, 1.0), np.nan)
        return float(np.nanmean(r)) if np.isfinite(r).any() else float("nan")

    def ceiling(da: xr.DataArray) -> float:
        if "repetition" not in da.dims or da.sizes["repetition"] < 2:
            return float("nan")
        from neurorep.stats import noise_ceiling

        res = noise_ceiling(da, method="split_half", metric="r", rng=0)
        return float(np.nanmean(np.asarray(res["ceiling"].values, float)))

    def pair_many(pxs: list[Array], py: Array) -> list[tuple[Array, Array]]:
        pred, _ = pair(np.concatenate(pxs, axis=1), py)
        edges = np.cumsum([0] + [p.shape[1] for p in pxs])
        return [(pred[:, a:b], px) for a, b, px in zip(edges[:-1], edges[1:], pxs, strict=True)]

    return Metric(prepare=_as_float, score=score, pair=pair, min_stimuli=max(2 * cv, 6),
                  ceiling=ceiling, pair_many=pair_many, params={"cv": cv, "inner_cv": inner_cv})


_GRAM_MAX_STIMULI = 1500  # an n x n float64 Gram matrix per representation: 18 MB at 1500


def cka_metric() -> Metric:
    """Biased linear CKA; with up to 1500 stimuli each representation's Gram matrix is
    computed once and every bootstrap sample or fold takes a sub-matrix of it."""

    def prepare(x: xr.DataArray) -> tuple[str, Array]:
        arr = similarity.rescaled(_as_float(x))  # CKA is scale-free; no overflow at 1e200
        if arr.shape[0] <= _GRAM_MAX_STIMULI:
            return "gram", arr @ arr.T
        return "features", arr

    def score(state: Any, idx: Array | None) -> float:
        (kind_x, a), (kind_y, b) = state
        if kind_x == kind_y == "gram":
            if idx is not None:
                a, b = a[np.ix_(idx, idx)], b[np.ix_(idx, idx)]
            return similarity.cka_from_grams(a, b)
        if kind_x == "gram" or kind_y == "gram":
            raise ValueError("cka: both representations must be prepared the same way.")
        return similarity.cka_linear(a if idx is None else a[idx], b if idx is None else b[idx])

    def sample(prep: tuple[str, Array], idx: Array | None) -> Array:
        kind, g = prep
        if kind != "gram":
            raise ValueError("cka: the batched path needs Gram matrices.")
        k = similarity.center_gram(g if idx is None else g[np.ix_(idx, idx)]).ravel()
        norm = np.linalg.norm(k)
        return k / norm if norm > 0 else np.full_like(k, np.nan)

    return Metric(prepare=prepare, score=score, sample=sample)


METRICS: dict[str, Callable[[], Metric]] = {
    "cka": cka_metric,
    "cka_debiased": lambda: _kernel_metric(similarity.cka_debiased, min_stimuli=5),
    "procrustes": lambda: _kernel_metric(similarity.procrustes_similarity),
    "rsa": lambda: rsa_metric(),
    "rsa_spearman": lambda: rsa_metric(method="spearman"),
    "rsa_pearson": lambda: rsa_metric(method="corr"),
    "rsa_tau_a": lambda: rsa_metric(method="tau-a"),
    "rsa_cosine": lambda: rsa_metric(method="cosine"),
    "encoding": lambda: encoding_metric(),
}


def get_metric(metric: str | Metric) -> Metric:
    """A :class:`Metric` from its name in :data:`METRICS` (or the object itself)."""
    if isinstance(metric, Metric):
        return metric
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {sorted(METRICS)}; got {metric!r}.")
    return METRICS[metric]()


# ----------------------------------------------------------------------------- inputs
def _split_regions(key: str | None, da: xr.DataArray, label: str) -> dict[str, xr.DataArray]:
    """One member per value of a per-unit ``region`` coord (DESIGN.md section 1).

    A DataArray ``key=None`` gives members named by region; a set member holding
    several regions gives ``"<key>/<region>"``. Regions keep their order of
    first appearance along ``unit``.
    """
    if (
        da.dims[-2:] == RDM_DIMS
        or "unit" not in da.dims
        or "region" not in da.coords
        or da["region"].dims != ("unit",)
    ):
        return {key if key is not None else str(da.name or label): da}
    import pandas as pd

    values = da["region"].values
    missing = np.asarray(pd.isna(values))
    if missing.any():
        raise SchemaError(
            f"{label}: {int(missing.sum())} of {values.size} units have no 'region' "
            f"(e.g. unit {da['unit'].values[np.flatnonzero(missing)[0]]!r}); the 'region' coord "
            f"splits the units into the regions to score. Give every unit a region, or drop "
            f"those units before scoring."
        )
    names = [str(v) for v in pd.unique(values)]
    if len(names) == 1 and key is not None:
        return {key: da}
    labels = np.asarray(values).astype(str)
    return {
        (r if key is None else f"{key}/{r}"): da.isel(unit=np.flatnonzero(labels == r))
        for r in names
    }


def _as_set(obj: Any, name: str, met: Metric, *, split_regions: bool = True) -> dict[str, xr.DataArray]:
    if isinstance(obj, xr.DataArray):
        out = _split_regions(None, obj, name) if split_regions else {str(obj.name or name): obj}
    else:
        out = {}
        for key, da in members(obj).items():
            parts = _split_regions(key, da, f"{name}[{key!r}]") if split_regions else {key: da}
            for k, v in parts.items():
                if k in out:
                    raise SchemaError(
                        f"{name}: the region {k!r} comes from two members; rename a member or "
                        f"its units' 'region' coord."
                    )
                out[k] = v
    if not out:
        raise SchemaError(f"{name}: holds no representations.")
    for key, da in out.items():
        label = f"{name}[{key!r}]"
        check_real(da.data, name=label)
        if da.dims[-2:] == RDM_DIMS:
            if not met.takes_rdms:
                raise SchemaError(f"{label} is an RDM; this metric needs responses. Use metric='rsa'.")
            validate(da, kind="rdm", name=label)
            continue
        validate(da, kind="responses", name=label)
        if "stimulus" not in da.dims:
            raise SchemaError(
                f"{label} has dims {da.dims}; alignment needs one pattern per stimulus "
                f"(dims ('stimulus', 'unit') or ('stimulus', 'repetition', 'unit'))."
            )
    return out


def _split_subjects(regions: dict[str, xr.DataArray]) -> dict[str, dict[str, xr.DataArray]]:
    """region -> subject -> DataArray (one 'all' subject when there is no subject axis)."""
    out: dict[str, dict[str, xr.DataArray]] = {}
    for key, da in regions.items():
        if da.dims[-2:] == RDM_DIMS and da.ndim == 3:
            lead = da.dims[0]
            out[key] = {str(s): da.isel({lead: i}) for i, s in enumerate(da[lead].values)}
        elif da.dims[-2:] == RDM_DIMS and da.ndim > 3:
            raise SchemaError(
                f"brain[{key!r}] stacks RDMs over {da.dims[:-2]}; reduce to one leading dim "
                f"(e.g. rdm.mean('session'))."
            )
        elif "subject" in da.coords and da["subject"].dims == ("unit",) and len(np.unique(da["subject"].values)) > 1:
            subs = np.unique(da["subject"].values)
            out[key] = {str(s): da.sel(unit=da["subject"].values == s) for s in subs}
        else:
            out[key] = {"all": da}
    return out


def _reorder(da: xr.DataArray, ids: Array) -> xr.DataArray:
    if da.dims[-2:] == RDM_DIMS:
        return da.sel(stimulus_i=ids, stimulus_j=ids)
    return da.sel(stimulus=ids)


def _prepare_sets(
    brain: Any, model: Any, met: Metric, *, split_regions: bool = True
) -> tuple[dict[str, dict[str, xr.DataArray]], dict[str, xr.DataArray], Array]:
    regions = _split_subjects(_as_set(brain, "brain", met, split_regions=split_regions))
    layers = _as_set(model, "model", met, split_regions=False)
    first_region = next(iter(next(iter(regions.values())).values()))
    ref = stimulus_ids(first_region, name="brain")
    for key, subs in regions.items():
        for s, da in subs.items():
            try:
                align(first_region, da, names=("brain", f"brain[{key!r}]"))
            except AlignmentError as err:
                raise AlignmentError(f"regions must share stimuli (subject {s}): {err}") from err
    for key, da in layers.items():
        try:
            align(first_region, da, names=("brain", f"model[{key!r}]"))
        except AlignmentError as err:
            raise AlignmentError(f"layers and regions must share stimuli: {err}") from err
    regions = {k: {s: _reorder(da, ref) for s, da in subs.items()} for k, subs in regions.items()}
    layers = {k: _reorder(da, ref) for k, da in layers.items()}
    return regions, layers, ref


def _depths(layers: Mapping[str, xr.DataArray]) -> Array:
    d = [layers[k].attrs.get("depth") for k in layers]
    if any(v is None for v in d):
        return np.linspace(0, 1, len(d)) if len(d) > 1 else np.zeros(1)
    return np.asarray(d, float)


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


# ----------------------------------------------------------------------------- public
def score_matrix(
    brain: Any,
    model: Any,
    *,
    metric: str | Metric = "cka",
    n_boot: int = 200,
    ci: float = 0.95,
    rng: Any = 0,
    parallel: bool = False,
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
        scored per subject, then summarised.
    model : activations DataTree or mapping
        One ``(stimulus, unit)`` array (or RDM) per layer. Stimuli are
        aligned by id.
    metric : str or Metric
        A key of :data:`METRICS`: ``"cka"``, ``"cka_debiased"``,
        ``"procrustes"``, ``"rsa"`` (= ``"rsa_spearman"``), ``"rsa_pearson"``,
        ``"rsa_tau_a"``, ``"rsa_cosine"``, ``"encoding"``; or
        :func:`rsa_metric` / :func:`encoding_metric` with options.
    n_boot : int
        Bootstrap samples over stimuli (one subject) or over subjects
        (several) for the confidence interval; 0 for none. Resampling
        stimuli with replacement biases similarity upward, so that
        distribution is re-centred on the point estimate before taking
        percentiles.
    rng : int or Generator
        Seed for the bootstrap.
    parallel : bool
        Compute region x layer pairs as dask delayed tasks (the active dask
        scheduler, e.g. a ``dask.distributed.Client``).

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
    >>> res = score_matrix(sim["brain"], sim["model"], n_boot=20)
    >>> res.score.dims
    ('region', 'layer')
    """
    met = get_metric(metric)
    gen = as_generator(rng)
    n_boot = check_int("n_boot", n_boot, minimum=0, fix="e.g. n_boot=200, or 0 for no CI.")
    regions, layers, ids = _prepare_sets(brain, model, met)
    n = len(ids)
    if n < met.min_stimuli:
        raise ValueError(f"score_matrix: need at least {met.min_stimuli} stimuli; got {n}.")
    subjects = sorted({s for subs in regions.values() for s in subs})
    multi = len(subjects) > 1
    lprep = {k: met.prepare(v) for k, v in layers.items()}
    boots = bootstrap_indices(n, n_boot, rng=gen) if n_boot and not multi else np.empty((0, n), int)

    rprep = {(rk, s): met.prepare(da) for rk, subs in regions.items() for s, da in subs.items()}
    states: dict[tuple[str, str, str], Any] = {}
    if met.pair_many is not None and not parallel:
        keys = list(rprep)
        for lk, lp in lprep.items():
            for key, st in zip(keys, met.pair_many([rprep[k] for k in keys], lp), strict=True):
                states[(*key, lk)] = st

    def run(rk: str, s: str, lk: str) -> tuple[float, Array]:
        if (rk, s) not in rprep:
            return float("nan"), np.full(len(boots), np.nan)
        state = states.get((rk, s, lk))
        if state is None:
            state = met.pair(rprep[(rk, s)], lprep[lk])
        point = met.score(state, None)
        samples = np.empty(len(boots))
        for b, idx in enumerate(boots):
            if met.unique_rows:
                idx = np.unique(idx)
            samples[b] = met.score(state, idx) if len(idx) >= met.min_stimuli else np.nan
        return point, samples

    rkeys, lkeys = list(regions), list(layers)
    batched = met.sample is not None and not multi and not parallel and all(
        not (isinstance(p, tuple) and isinstance(p[0], str) and p[0] == "features") for p in lprep.values()
    )
    if batched:
        return _batched_score_matrix(met, regions, layers, lprep, boots, ci=ci, metric=metric, n=n)
    jobs = [(r, s, k) for r in rkeys for s in subjects for k in lkeys]
    if parallel:
        import dask

        results = list(dask.compute(*[dask.delayed(run)(*j) for j in jobs]))
    else:
        results = [run(*j) for j in jobs]
    shape = (len(rkeys), len(subjects), len(lkeys))
    subj_score = np.array([p for p, _ in results]).reshape(shape)
    if multi:
        return _assemble(met, regions, layers, np.nanmean(subj_score, axis=1), None, subj_score,
                         ci=ci, metric=metric, n=n, n_boot=n_boot, gen=gen, subjects=subjects)
    samples = np.stack([s for _, s in results]).reshape(len(rkeys), len(lkeys), len(boots))
    return _assemble(met, regions, layers, subj_score[:, 0], samples, None, ci=ci, metric=metric,
                     n=n, n_boot=n_boot, gen=gen)


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
    n_boot: int,
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
        if n_boot:
            idx = bootstrap_indices(len(subjects), n_boot, rng=gen)
            boot_means = np.nanmean(subj_score[:, idx, :], axis=2)  # (region, boot, layer)
            lo, hi = percentile_ci(boot_means, ci=ci, axis=1)
        data_vars["subject_score"] = (("subject", "region", "layer"), np.moveaxis(subj_score, 1, 0))
        data_vars["pvalue"] = (("region", "layer"), sign_flip_pvalue(subj_score, axis=1, rng=gen))
    elif samples is not None and n_boot:
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
            "metric_params": dict(met.params),
            "n_boot": n_boot,
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
    lprep: dict[str, Any],
    boots: Array,
    *,
    ci: float,
    metric: str | Metric,
    n: int,
) -> xr.Dataset:
    """score_matrix's single-subject path when scores are dot products of sample vectors:
    each bootstrap sample costs one vector per representation and one matrix product."""
    assert met.sample is not None
    rkeys, lkeys = list(regions), list(layers)
    rprep = {k: met.prepare(subs["all"]) for k, subs in regions.items()}

    def block(idx: Array | None) -> Array:
        a = np.stack([met.sample(rprep[k], idx) for k in rkeys])  # type: ignore[misc]
        b = np.stack([met.sample(lprep[k], idx) for k in lkeys])  # type: ignore[misc]
        return a @ b.T

    score = block(None)
    samples = np.full((len(rkeys), len(lkeys), len(boots)), np.nan)
    for bi, idx in enumerate(boots):
        if met.unique_rows:
            idx = np.unique(idx)
        if len(idx) >= met.min_stimuli:
            samples[:, :, bi] = block(idx)
    return _assemble(met, regions, layers, score, samples, None, ci=ci, metric=metric, n=n,
                     n_boot=len(boots), gen=None)


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
    if isinstance(scores, xr.Dataset):
        if "score" not in scores.data_vars:
            raise SchemaError(
                f"depth_index: a Dataset needs a 'score' variable (a score_matrix result); got "
                f"variables {list(scores.data_vars)}. Pass score_matrix(...) or a DataArray."
            )
        s = scores["score"]
    elif isinstance(scores, xr.DataArray):
        s = scores
    else:
        raise SchemaError(
            f"depth_index: expected a score_matrix Dataset or a DataArray with a 'layer' dim; got "
            f"{type(scores).__name__}."
        )
    if "layer" not in s.dims:
        raise SchemaError(
            f"depth_index: scores need a 'layer' dim; got dims {s.dims}. Rename the layer dim, "
            f"e.g. scores.rename({{{(s.dims or ('dim_0',))[-1]!r}: 'layer'}})."
        )
    if "depth" not in s.coords or s["depth"].dims != ("layer",):
        raise SchemaError(
            "depth_index: scores need a 'depth' coordinate along 'layer' (each layer's "
            "normalised depth, 0 = first, 1 = last); got coords "
            f"{[c for c in s.coords if c not in s.dims]}. Add one with "
            "scores.assign_coords(depth=('layer', numpy.linspace(0, 1, scores.sizes['layer'])))."
        )
    w = s.clip(min=0)
    total = w.sum("layer")
    return (w * s["depth"]).sum("layer") / total.where(total > 0)


def best_layer(
    brain: Any,
    model: Any,
    *,
    metric: str | Metric = "cka",
    n_splits: int = 5,
    n_boot: int = 200,
    ci: float = 0.95,
    rng: Any = 0,
) -> xr.Dataset:
    """The best layer per region, chosen on training stimuli and scored on held-out ones.

    The stimuli are split into ``n_splits`` folds; in each, every layer is
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
    brain, model : representation sets
        As in :func:`score_matrix`; one responses DataArray with a per-unit
        ``region`` coordinate is split into its regions.
    metric : str or Metric
        A key of :data:`METRICS` or a :class:`Metric`.
    n_splits : int
        Folds over stimuli (>= 2).
    n_boot : int
        Bootstrap samples over held-out stimuli for the CI; 0 for none.
    ci : float
        Coverage of the interval.
    rng : int, Generator or None
        Seed for the folds and the bootstrap.

    Returns
    -------
    Dataset
        Over ``region``: ``best_layer`` (the layer chosen most often),
        ``score`` (mean held-out score of the chosen layers), ``ci_low`` /
        ``ci_high`` (bootstrap over held-out stimuli, re-centred),
        ``depth_index`` (of the full-data profile); over ``(region,
        layer)``: ``selection_frequency``.
    """
    met = get_metric(metric)
    gen = as_generator(rng)
    n_boot = check_int("n_boot", n_boot, minimum=0, fix="e.g. n_boot=200, or 0 for no CI.")
    n_splits = check_int("n_splits", n_splits, minimum=2, fix="e.g. n_splits=5.")
    regions, layers, ids = _prepare_sets(brain, model, met)
    n = len(ids)
    if n_splits < 2 or n // n_splits < met.min_stimuli:
        raise ValueError(
            f"best_layer: {n} stimuli cannot make {n_splits} folds of at least "
            f"{met.min_stimuli} stimuli; lower n_splits (>= 2) or add stimuli."
        )
    perm = gen.permutation(n)
    folds = np.array_split(perm, n_splits)
    lkeys = list(layers)
    lprep = {k: met.prepare(v) for k, v in layers.items()}
    rkeys = list(regions)
    freq = np.zeros((len(rkeys), len(lkeys)))
    held = np.zeros((len(rkeys), n_splits))
    boot_held = np.zeros((len(rkeys), n_boot))
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
        for b in range(n_boot):
            vals = []
            for test, best in chosen:
                idx = gen.choice(test, size=len(test), replace=True)
                if met.unique_rows:
                    idx = np.unique(idx)
                vals.append(mean_score(best, idx) if len(idx) >= met.min_stimuli else np.nan)
            boot_held[ri, b] = np.nanmean(vals)
    if n_boot:  # re-centred on the held-out score: resampling biases similarity upward
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
            "selection_frequency": (("region", "layer"), freq / n_splits),
        },
        coords={"region": rkeys, "layer": lkeys},
        attrs={"metric": metric if isinstance(metric, str) else "custom", "n_splits": n_splits,
               "neurorep_version": __version__},
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
    responses : DataArray ``(stimulus, unit)`` or ``(stimulus, repetition, unit)``
    model : activations DataTree or mapping

    Returns
    -------
    Dataset
        ``score`` ``(layer, unit)`` (held-out Pearson r, nested CV),
        ``best_layer`` (unit) and ``best_depth`` (unit), with the unit
        coordinates (e.g. voxel ``i, j, k``) kept for brain maps.
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
