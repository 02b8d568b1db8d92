"""Region x layer score matrices with bootstrap CIs, ceilings and held-out best layers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from neurorep import __version__
from neurorep._errors import AlignmentError, SchemaError
from neurorep.alignment import _metrics
from neurorep.data import align, members, validate


@dataclass(frozen=True)
class Metric:
    """A similarity between two ``(n_stimuli, width)`` arrays (rows aligned).

    ``unique_rows``: bootstrap samples drop repeated stimuli (needed where a
    duplicated stimulus would create zero distances, as in RSA).
    """

    fn: Callable[[np.ndarray, np.ndarray], float]
    unique_rows: bool = False
    min_stimuli: int = 4


METRICS: dict[str, Metric] = {
    "cka": Metric(_metrics.cka_linear),
    "cka_debiased": Metric(_metrics.cka_debiased, min_stimuli=5),
    "procrustes": Metric(_metrics.procrustes_similarity),
}


def _get_metric(metric: str | Metric) -> Metric:
    if isinstance(metric, Metric):
        return metric
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {sorted(METRICS)}; got {metric!r}.")
    return METRICS[metric]


def _as_set(obj: Any, name: str) -> dict[str, xr.DataArray]:
    if isinstance(obj, xr.DataArray):
        return {str(obj.name or name): obj}
    out = members(obj)
    if not out:
        raise SchemaError(f"{name}: holds no representations.")
    for key, da in out.items():
        validate(da, kind="responses", name=f"{name}[{key!r}]")
        if "stimulus" not in da.dims:
            raise SchemaError(
                f"{name}[{key!r}] has dims {da.dims}; alignment needs one pattern per stimulus "
                f"(dims ('stimulus', 'unit') or ('stimulus', 'repetition', 'unit'))."
            )
    return out


def _mean_pattern(da: xr.DataArray) -> xr.DataArray:
    return da.mean("repetition") if "repetition" in da.dims else da


def _split_half(da: xr.DataArray) -> tuple[np.ndarray, np.ndarray] | None:
    if "repetition" not in da.dims or da.sizes["repetition"] < 2:
        return None
    reps = np.arange(da.sizes["repetition"])
    a = da.isel(repetition=reps[0::2]).mean("repetition").values
    b = da.isel(repetition=reps[1::2]).mean("repetition").values
    return np.asarray(a, float), np.asarray(b, float)


def _spearman_brown(r: float) -> float:
    return 2 * r / (1 + r) if r > -1 else float("nan")


def _prepare(brain: Any, model: Any) -> tuple[dict[str, xr.DataArray], dict[str, xr.DataArray]]:
    regions = _as_set(brain, "brain")
    layers = _as_set(model, "model")
    ref = next(iter(regions.values()))
    out_r, out_l = {}, {}
    for key, da in regions.items():
        out_r[key], _ = align(da, ref, names=(f"brain[{key!r}]", "brain (first region)"))
    for key, da in layers.items():
        try:
            _, out_l[key] = align(out_r[next(iter(out_r))], da, names=("brain", f"model[{key!r}]"))
        except AlignmentError as err:
            raise AlignmentError(f"layers and regions must share stimuli: {err}") from err
    return out_r, out_l


def _boot_indices(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, n, size=(n_boot, n))


def _score_pair(metric: Metric, x: np.ndarray, y: np.ndarray, boots: np.ndarray) -> tuple[float, np.ndarray]:
    point = metric.fn(x, y)
    samples = np.empty(len(boots))
    for b, idx in enumerate(boots):
        if metric.unique_rows:
            idx = np.unique(idx)
        samples[b] = metric.fn(x[idx], y[idx]) if len(idx) >= metric.min_stimuli else np.nan
    return point, samples


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
        Responses per region (DataTree leaves or mapping), ``(stimulus, unit)``
        or ``(stimulus, repetition, unit)``; repetitions are averaged for the
        score and split in halves for the ceiling.
    model : activations DataTree or mapping
        One ``(stimulus, unit)`` array per layer. Stimuli are aligned by id.
    metric : str
        A key of :data:`METRICS` (``"cka"``, ``"cka_debiased"``,
        ``"procrustes"``, ``"rsa"``, ``"rsa_<method>"``, ``"encoding"``).
    n_boot : int
        Bootstrap samples over stimuli for the confidence interval (0: none).
        Resampling with replacement biases similarity measures upward, so
        the interval is the percentile interval of the bootstrap
        distribution re-centred on the point estimate (bias removed).
    rng : int or Generator
        Seed for the bootstrap.
    parallel : bool
        Compute region x layer pairs as dask delayed tasks (uses the active
        dask scheduler, e.g. a ``dask.distributed.Client``).

    Returns
    -------
    Dataset
        Over ``(region, layer)``: ``score``, ``ci_low``, ``ci_high``,
        ``normalized_score``; over ``region``: ``ceiling`` (split-half
        reliability of the same metric, Spearman-Brown corrected; NaN without
        repetitions); ``null_distribution`` is not computed here. Layer coord
        ``depth``.

    Examples
    --------
    >>> from neurorep.datasets import make_layered_brain
    >>> from neurorep.alignment import score_matrix
    >>> sim = make_layered_brain(n_stimuli=60, n_units=10, rng=0)
    >>> res = score_matrix(sim["brain"], sim["model"], n_boot=20)
    >>> res.score.dims
    ('region', 'layer')
    """
    met = _get_metric(metric)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    regions, layers = _prepare(brain, model)
    n = next(iter(regions.values())).sizes["stimulus"]
    if n < met.min_stimuli:
        raise ValueError(f"score_matrix: need at least {met.min_stimuli} stimuli; got {n}.")
    boots = _boot_indices(n, n_boot, gen)
    xs = {k: np.asarray(_mean_pattern(v).values, float) for k, v in regions.items()}
    ys = {k: np.asarray(v.values, float) for k, v in layers.items()}
    pairs = [(r, layer) for r in xs for layer in ys]
    if parallel:
        import dask

        tasks = [dask.delayed(_score_pair)(met, xs[r], ys[layer], boots) for r, layer in pairs]
        results = dask.compute(*tasks)
    else:
        results = [_score_pair(met, xs[r], ys[layer], boots) for r, layer in pairs]
    nr, nl = len(xs), len(ys)
    score = np.array([p for p, _ in results]).reshape(nr, nl)
    samples = np.stack([s for _, s in results]).reshape(nr, nl, n_boot)
    alpha = (1 - ci) / 2
    if n_boot:
        # resampling stimuli with replacement inflates similarity measures (duplicated rows);
        # centre the bootstrap distribution on the point estimate before taking percentiles
        samples = samples - (np.nanmean(samples, axis=-1) - score)[..., None]
        lo = np.nanquantile(samples, alpha, axis=-1)
        hi = np.nanquantile(samples, 1 - alpha, axis=-1)
    else:
        lo = hi = np.full_like(score, np.nan)
    ceiling = np.full(nr, np.nan)
    for i, (_key, da) in enumerate(regions.items()):
        halves = _split_half(da)
        if halves is not None:
            ceiling[i] = _spearman_brown(met.fn(*halves))
    depth = _depths(layers)
    metric_name = metric if isinstance(metric, str) else "custom"
    return xr.Dataset(
        {
            "score": (("region", "layer"), score),
            "ci_low": (("region", "layer"), lo),
            "ci_high": (("region", "layer"), hi),
            "ceiling": ("region", ceiling),
            "normalized_score": (("region", "layer"), score / ceiling[:, None]),
        },
        coords={"region": list(xs), "layer": list(ys), "depth": ("layer", depth)},
        attrs={
            "metric": metric_name,
            "n_boot": n_boot,
            "ci": ci,
            "n_stimuli": n,
            "neurorep_version": __version__,
        },
    )


def depth_index(scores: xr.Dataset | xr.DataArray) -> xr.DataArray:
    """Centre of mass of each region's layer profile over normalised depth (0..1).

    Negative scores are clipped at 0 before weighting.
    """
    s = scores["score"] if isinstance(scores, xr.Dataset) else scores
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
    on the held-out fold (no selection on the data that report the score).

    Returns
    -------
    Dataset
        Over ``region``: ``best_layer`` (the layer chosen most often),
        ``score`` (mean held-out score of the chosen layers), ``ci_low`` /
        ``ci_high`` (bootstrap over folds' held-out stimuli), ``depth_index``
        (on all stimuli); over ``(region, layer)``: ``selection_frequency``.
    """
    met = _get_metric(metric)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    regions, layers = _prepare(brain, model)
    n = next(iter(regions.values())).sizes["stimulus"]
    if n_splits < 2 or n // n_splits < met.min_stimuli:
        raise ValueError(
            f"best_layer: {n} stimuli cannot make {n_splits} folds of at least "
            f"{met.min_stimuli} stimuli; lower n_splits (>= 2) or add stimuli."
        )
    perm = gen.permutation(n)
    folds = np.array_split(perm, n_splits)
    xs = {k: np.asarray(_mean_pattern(v).values, float) for k, v in regions.items()}
    ys = {k: np.asarray(v.values, float) for k, v in layers.items()}
    lnames = list(ys)
    freq = np.zeros((len(xs), len(ys)))
    held = np.zeros((len(xs), n_splits))
    boot_held = np.zeros((len(xs), n_boot))
    for ri, (_r, x) in enumerate(xs.items()):
        test_scores = []
        for fi, test in enumerate(folds):
            train = np.setdiff1d(perm, test)
            train_scores = [met.fn(x[train], ys[k][train]) for k in lnames]
            best = int(np.nanargmax(train_scores))
            freq[ri, best] += 1
            held[ri, fi] = met.fn(x[test], ys[lnames[best]][test])
            test_scores.append((test, best))
        for b in range(n_boot):
            vals = []
            for test, best in test_scores:
                idx = gen.choice(test, size=len(test), replace=True)
                if met.unique_rows:
                    idx = np.unique(idx)
                vals.append(met.fn(x[idx], ys[lnames[best]][idx]) if len(idx) >= met.min_stimuli else np.nan)
            boot_held[ri, b] = np.nanmean(vals)
    alpha = (1 - ci) / 2
    boot_held -= (np.nanmean(boot_held, axis=1) - held.mean(1))[:, None]  # remove resampling bias
    prof = xr.DataArray(
        [[met.fn(x, ys[k]) for k in lnames] for x in xs.values()],
        dims=("region", "layer"),
        coords={"region": list(xs), "layer": lnames,
                "depth": ("layer", _depths(layers))},
    )
    return xr.Dataset(
        {
            "best_layer": ("region", [lnames[i] for i in freq.argmax(1)]),
            "score": ("region", held.mean(1)),
            "ci_low": ("region", np.nanquantile(boot_held, alpha, axis=1)),
            "ci_high": ("region", np.nanquantile(boot_held, 1 - alpha, axis=1)),
            "depth_index": ("region", depth_index(prof).values),
            "selection_frequency": (("region", "layer"), freq / n_splits),
        },
        coords={"region": list(xs), "layer": lnames},
        attrs={"metric": metric if isinstance(metric, str) else "custom", "n_splits": n_splits},
    )


def _depths(layers: Mapping[str, xr.DataArray]) -> np.ndarray:
    d = [layers[k].attrs.get("depth") for k in layers]
    if any(v is None for v in d):
        return np.linspace(0, 1, len(d)) if len(d) > 1 else np.zeros(1)
    return np.asarray(d, float)
