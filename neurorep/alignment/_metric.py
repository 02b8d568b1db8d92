"""Alignment metrics: how one region is scored against one layer (the registry :data:`METRICS`).

A metric is three steps: ``prepare`` one representation once (e.g. its RDM),
``pair`` a prepared region with a prepared layer once (e.g. cross-validated
encoding predictions), then ``score`` the pair on any subset of stimuli (the
full set, a bootstrap sample, a fold). Bootstrap and held-out layer choice
then cost index operations, not refits. The adapters here wrap the kernels of
the other families (CKA and Procrustes, RSA comparisons, encoding); adding a
metric is one entry of :data:`METRICS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from neurorep._core import similarity
from neurorep._core.compare import COMPARE_METHODS, compare_vectors, resolve_method
from neurorep._core.condensed import condensed
from neurorep._core.errors import SchemaError
from neurorep.data import RDM_DIMS

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
    score_all : callable(list of prepared regions, list of prepared layers) -> array, optional
        Every region x layer score on all stimuli at once, ``(region, layer)``
        (RSA: one call of the comparison kernel that ``rsa.compare`` uses, on the
        stacked condensed RDMs).
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
    score_all: Callable[[list[Any], list[Any]], Array] | None = None
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
    rows = COMPARE_METHODS[resolved].cosine_rows

    def prepare(x: xr.DataArray) -> tuple[Array, Array]:
        if isinstance(x, xr.DataArray) and x.dims[-2:] == RDM_DIMS:
            square = np.asarray(x.values, float)
        else:
            from neurorep.rsa import compute_rdm

            square = np.asarray(compute_rdm(x, metric=rdm_metric).values, float)  # type: ignore[arg-type]
        return square, condensed(square)

    def score(state: Any, idx: Array | None) -> float:
        (a, va), (b, vb) = state
        if idx is not None:
            va, vb = condensed(a[np.ix_(idx, idx)]), condensed(b[np.ix_(idx, idx)])
        return float(compare_vectors(va[None], vb[None], resolved)[0, 0])

    def sample(prep: tuple[Array, Array], idx: Array | None) -> Array:
        square, vec = prep
        if idx is not None:
            vec = condensed(square[np.ix_(idx, idx)])
        assert rows is not None
        v = rows(vec[None].copy(), True)[0]
        norm = np.linalg.norm(v)
        return v / norm if norm > 0 else np.full_like(v, np.nan)

    def score_all(regions: list[tuple[Array, Array]], layers: list[tuple[Array, Array]]) -> Array:
        # rsa.compare's kernel on the stacked condensed RDMs: each row ranked/centred once
        x = np.stack([v for _, v in regions])
        y = np.stack([v for _, v in layers])
        return compare_vectors(x, y, resolved, own=True)

    return Metric(prepare=prepare, score=score, unique_rows=True, min_stimuli=4, takes_rdms=True,
                  sample=sample if rows is not None else None, score_all=score_all,
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
        denom = np.sqrt((pc**2).sum(0)) * np.sqrt((tc**2).sum(0))  # the product may overflow
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
        # CKA is free of shift and scale: centred first (a Gram of data around 1e4 kept
        # ~8 fewer digits of the structure), then rescaled (no overflow at 1e200)
        arr = similarity.rescaled(similarity.center(_as_float(x)))
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


