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
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import xarray as xr

from neurorep._core import shape, similarity
from neurorep._core.compare import COMPARE_METHODS, compare_vectors, inference_method
from neurorep._core.condensed import condensed
from neurorep._core.errors import SchemaError, check_option
from neurorep._core.parallel import is_lazy, sum_over_chunks
from neurorep.alignment._chunked import (
    RawGram,
    StandIn,
    lazy_factor,
    lazy_gram,
    lazy_pwcca_weights,
    lazy_raw_factor,
    lazy_raw_gram,
    lazy_standin,
    lazy_values,
)
from neurorep.data import RDM_DIMS

Array = np.ndarray


def _pair_default(px: Any, py: Any) -> Any:
    """The default :attr:`Metric.pair`: the two prepared representations as one state.

    Parameters
    ----------
    px : object
        The prepared region (what ``Metric.prepare`` returned for it).
    py : object
        The prepared layer.

    Returns
    -------
    tuple
        ``(px, py)``, the state ``Metric.score`` receives.
    """
    return (px, py)


def _as_float(x: Any) -> Array:
    if isinstance(x, xr.DataArray):
        _check_responses(x)
        x = x.mean("repetition") if "repetition" in x.dims else x
        return np.asarray(x.values, float)
    return np.asarray(x, float)


def _check_responses(x: xr.DataArray) -> None:
    if x.dims[-2:] == RDM_DIMS:
        raise SchemaError(
            "this metric needs responses (stimulus, unit), but got an RDM; use metric='rsa' "
            "for RDM inputs."
        )


def _as_gram_data(x: Any) -> Array:
    """:func:`_as_float`, but a dask-backed region becomes an ``(n, k)`` stand-in with
    its centred Gram matrix (reduced over unit chunks): for scores that depend on a
    representation only through that Gram matrix."""
    if isinstance(x, xr.DataArray) and is_lazy(x):
        _check_responses(x)
        return lazy_factor(x)
    return _as_float(x)


def _as_standin(x: Any) -> Any:
    """:func:`_as_float`, but a dask-backed region becomes its :class:`StandIn` (reduced
    over its unit chunks): for scores invariant to an orthogonal transform of the units."""
    if isinstance(x, xr.DataArray) and is_lazy(x):
        _check_responses(x)
        return lazy_standin(x)
    return _as_float(x)


def _centred(a: Any, *, scaled: bool = True) -> tuple[Array, int]:
    """Centred data (or a stand-in's centred factor; ``scaled=False``: in the data's own
    scale) and the number of units it represents."""
    if isinstance(a, StandIn):
        return shape._centred(a.factor if scaled else a.unscaled(), "region"), a.n_units
    arr = shape._centred(a, "x")
    return arr, arr.shape[1]


def _refuse_lazy(what: str, why: str) -> Callable[[Any], Array]:
    """A ``prepare`` that gathers in-memory input and refuses a dask-backed one (``what``
    needs every unit at once, ``why``)."""

    def prepare(x: Any) -> Array:
        if is_lazy(x):
            units = dict(getattr(x, "sizes", {})).get("unit", "its")
            raise SchemaError(
                f"{what} does not run out of core: it {why}, so it needs all {units} units "
                "in memory at once, and its cost grows with the number of units squared; got "
                "a dask-backed representation. Compute a smaller region into memory first "
                "(select an ROI, then `.compute()`), or use a metric that runs chunk by chunk "
                "on dask input ('procrustes', 'procrustes_euclidean', 'shape_cca', 'cka', "
                "'cca', 'rsa', ...)."
            )
        return _as_float(x)

    return prepare


@dataclass(frozen=True)
class Metric:
    """How to score one region against one layer on a subset of stimuli.

    Pass one to :func:`score_matrix` (``metric=``) to use a score of your own;
    the named metrics of :data:`METRICS` are built by :func:`get_metric`.

    Parameters
    ----------
    prepare : callable
        ``prepare(DataArray) -> state``, called once per representation (a
        responses DataArray, or an RDM for RSA).
    score : callable
        ``score(pair_state, idx) -> float``; ``idx`` is an index array of
        stimuli, or None for all.
    pair : callable, optional
        ``pair(prepared_region, prepared_layer) -> pair_state``, called once
        per region x layer (default: the tuple of both).
    unique_rows : bool
        Bootstrap samples drop repeated stimuli (RSA: a duplicated stimulus
        would create zero distances).
    min_stimuli : int
        Fewest stimuli the score is defined on.
    takes_rdms : bool
        Accepts RDM members (``stimulus_i, stimulus_j``) directly.
    ceiling : callable, optional
        ``ceiling(responses with repetitions) -> float``: the region's noise ceiling on this metric's scale; default the
        split-half score of the metric itself, Spearman-Brown corrected.
    sample : callable, optional
        ``sample(prepared, idx) -> 1-D unit vector``, a fast path: when the score of a pair is the dot product of the two
        representations' vectors on the same stimuli (CKA, Pearson/Spearman
        RSA), every region x layer score of a bootstrap sample is one matrix
        product.
    pair_many : callable, optional
        ``pair_many(list of prepared regions, prepared layer) -> list of states``:
        ``pair`` for every region at once (encoding: one ridge fit per layer
        for all regions' units together; per-unit alphas keep the numbers
        identical).
    score_all : callable(list of prepared regions, list of prepared layers) -> array, optional
        Every region x layer score on all stimuli at once, ``(region, layer)``
        (RSA: one call of the comparison kernel that ``rsa.compare`` uses, on the
        stacked condensed RDMs).
    score_many : callable(pair_state, list of idx) -> array, optional
        ``score`` of one pair on many stimulus subsets (None: all) at once
        (encoding of a dask-backed region: one pass over its unit chunks fits
        and scores every subset).
    params : dict
        The metric's options, stored as JSON in the result's ``metric_params`` attr.
    name : str
        The exact estimator (e.g. ``"biased linear CKA"``), stored in the result's
        ``metric_name`` attr.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.alignment import Metric
    >>> def mean_abs_r(state, idx):
    ...     x, y = state
    ...     x, y = (x, y) if idx is None else (x[idx], y[idx])
    ...     return float(np.abs(np.corrcoef(x.mean(1), y.mean(1))[0, 1]))
    >>> m = Metric(prepare=lambda da: np.asarray(da, float), score=mean_abs_r,
    ...            name="|r| of the unit means")
    >>> x = np.arange(12.0).reshape(6, 2)
    >>> m.score(m.pair(m.prepare(x), m.prepare(2 * x)), None)
    1.0
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
    score_many: Callable[[Any, list[Any]], Array] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    name: str = "custom"


def _kernel_metric(
    fn: Callable[[Array, Array], float],
    min_stimuli: int = 4,
    *,
    name: str = "custom",
    params: dict[str, Any] | None = None,
    ceiling: Callable[[xr.DataArray], float] | None = None,
    unique_rows: bool = False,
    gram_only: bool = False,
    standin: bool = False,
) -> Metric:
    """A :class:`Metric` of ``fn(x, y)`` on the (sub-sampled) data; ``gram_only``: ``fn``
    depends on each representation only through its centred Gram matrix over stimuli, so a
    dask-backed region is reduced over its unit chunks (:func:`_as_gram_data`); ``standin``:
    ``fn`` takes a dask-backed region as its :class:`StandIn` (:func:`_as_standin`)."""

    def score(state: Any, idx: Array | None) -> float:
        x, y = state
        if idx is None:
            return fn(x, y)
        return fn(x[idx], y[idx])

    prepare = _as_standin if standin else _as_gram_data if gram_only else _as_float
    return Metric(prepare=prepare, score=score,
                  min_stimuli=min_stimuli, name=name,
                  params=dict(params or {}), ceiling=ceiling, unique_rows=unique_rows)


def _no_ceiling(da: xr.DataArray) -> float:
    """Distances are not on a correlation scale: no Spearman-Brown step-up, no ceiling."""
    return float("nan")


def shape_metric(*, alpha: float = 1.0, distance: str = "angular") -> Metric:
    """Generalised shape metric with partial whitening ``alpha`` (Williams et al. 2021;
    netrep's ``LinearMetric``), see :func:`~neurorep.alignment.shape_distance`.

    The score is a similarity: ``1 - theta / (pi/2)`` for the angular distance
    ``theta`` (in [0, 1]; alpha = 1 is :func:`procrustes_similarity`), and ``-d``
    for the Euclidean distance ``d`` (units of the data; no ceiling).

    Parameters
    ----------
    alpha : float, optional
        Partial whitening, 0 (full whitening, CCA-like) to 1 (none, Procrustes;
        the default).
    distance : {"angular", "euclidean"}, optional
        The angular distance (default; score ``1 - 2*theta/pi``) or the
        Euclidean one (score ``-d``).

    Returns
    -------
    Metric
        The metric for :func:`score_matrix`; its ``name`` and ``params``
        (``alpha``, ``distance``, ``eigval_tol``) go to the result's attrs.

    Examples
    --------
    >>> from neurorep.alignment import shape_metric
    >>> shape_metric(alpha=0.5).name
    'angular shape metric, partial whitening alpha=0.5 (Williams et al. 2021), score 1 - 2*theta/pi'
    """
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"shape_metric: alpha must be between 0 and 1; got {alpha!r}.")
    if distance not in shape.DISTANCES:
        raise ValueError(f"shape_metric: distance must be one of {shape.DISTANCES}; got {distance!r}.")
    alpha = float(alpha)

    def dist(x: Any, y: Any) -> float:
        # a dask-backed side is its stand-in in the data's own scale (whitening floors
        # eigenvalues at an absolute tolerance; Euclidean distances are in data units),
        # zero-padded to the real number of units
        (xc, px), (yc, qy) = _centred(x, scaled=False), _centred(y, scaled=False)
        return shape._shape_distance(xc, yc, alpha, distance, shape.EIGVAL_TOL, max(px, qy))

    if distance == "angular":
        def fn(x: Array, y: Array) -> float:
            return 1.0 - dist(x, y) / (np.pi / 2)
        how = "score 1 - 2*theta/pi"
    else:
        def fn(x: Array, y: Array) -> float:
            return -dist(x, y)
        how = "score -d"
    return _kernel_metric(
        fn, standin=True, name=f"{distance} shape metric, partial whitening alpha={alpha:g} "
        f"(Williams et al. 2021), {how}",
        params={"alpha": alpha, "distance": distance, "eigval_tol": shape.EIGVAL_TOL},
        ceiling=_no_ceiling if distance == "euclidean" else None,
    )


def permutation_metric(*, distance: str = "angular") -> Metric:
    """Shape metric over unit permutations (netrep's ``PermutationMetric``), see
    :func:`~neurorep.alignment.permutation_distance`; score ``1 - theta / (pi/2)``
    (angular) or ``-d`` (Euclidean, no ceiling).

    Parameters
    ----------
    distance : {"angular", "euclidean"}, optional
        The angular distance (default; score ``1 - 2*theta/pi``) or the
        Euclidean one (score ``-d``).

    Returns
    -------
    Metric
        The metric for :func:`score_matrix`; ``params`` holds ``distance``.

    Examples
    --------
    >>> from neurorep.alignment import permutation_metric
    >>> permutation_metric(distance="euclidean").params
    {'distance': 'euclidean'}
    """
    if distance not in shape.DISTANCES:
        raise ValueError(
            f"permutation_metric: distance must be one of {shape.DISTANCES}; got {distance!r}."
        )
    if distance == "angular":
        def fn(x: Array, y: Array) -> float:
            return 1.0 - shape.permutation_distance(x, y) / (np.pi / 2)
        how = "score 1 - 2*theta/pi"
    else:
        def fn(x: Array, y: Array) -> float:
            return -shape.permutation_distance(x, y, distance="euclidean")
        how = "score -d"
    met = _kernel_metric(
        fn, name=f"{distance} permutation shape metric (netrep PermutationMetric), {how}",
        params={"distance": distance}, ceiling=_no_ceiling if distance == "euclidean" else None,
    )
    return replace(met, prepare=_refuse_lazy(
        "the permutation metric", "matches units one to one (a units x units assignment)"))


#: The canonical-correlation scores of :func:`cca_metric` (``kind=``).
CCA_KINDS = ("mean", "svcca", "pwcca")


def cca_metric(*, kind: str = "mean", keep: float | int = 0.99) -> Metric:
    """Canonical correlation scores: ``kind="mean"`` (mean canonical correlation),
    ``"svcca"`` (Raghu et al. 2017, top directions explaining ``keep`` of the
    variance, or ``keep`` of them) or ``"pwcca"`` (Morcos et al. 2018).

    Parameters
    ----------
    kind : {"mean", "svcca", "pwcca"}, optional
        Which canonical correlation score (default ``"mean"``).
    keep : float or int, optional
        SVCCA only: the fraction of variance kept (a float, default 0.99) or
        the number of directions (an int).

    Returns
    -------
    Metric
        The metric for :func:`score_matrix`; ``params`` holds ``kind`` (and
        ``keep`` for SVCCA).

    Examples
    --------
    >>> from neurorep.alignment import cca_metric
    >>> cca_metric(kind="svcca", keep=20).params
    {'kind': 'svcca', 'keep': 20}
    """
    # a dask-backed side is its stand-in (the same column space and singular values);
    # rank tolerances use its real number of units
    if kind == "mean":
        def mean_cc(x: Any, y: Any) -> float:
            (xc, px), (yc, qy) = _centred(x), _centred(y)
            rho = shape._canonical_correlations(xc, yc, px, qy)
            return float(rho.mean()) if rho.size else float("nan")

        return _kernel_metric(mean_cc, standin=True, name="mean canonical correlation (CCA)",
                              params={"kind": "mean"})
    if kind == "svcca":
        shape.svcca(np.eye(3), np.eye(3), keep=keep)  # validates keep

        def fn(x: Any, y: Any) -> float:
            (xc, px), (yc, qy) = _centred(x), _centred(y)
            return shape._svcca(xc, yc, keep, px, qy)

        what = f"{keep:g} of the variance" if isinstance(keep, float) else f"{keep} directions"
        return _kernel_metric(fn, standin=True, name=f"SVCCA (Raghu et al. 2017), {what}, mean "
                              "canonical correlation", params={"kind": "svcca", "keep": keep})
    if kind == "pwcca":
        return _pwcca_metric()
    raise ValueError(f"cca_metric: kind must be one of {list(CCA_KINDS)}; got {kind!r}.")


def _pwcca_metric() -> Metric:
    """PWCCA; a dask-backed side is its stand-in for the canonical correlations and, when it
    is the narrower one (its units weight them), its units' weights for every subset of
    stimuli come from one pass over its unit chunks."""

    def score_many(state: Any, idxs: list[Array | None]) -> Array:
        x, y = state
        out = np.full(len(idxs), np.nan)
        todo: dict[int, tuple[Any, list[tuple[int, Array | None, Array, Array]]]] = {}
        for k, idx in enumerate(idxs):
            xs, ys = (x, y) if idx is None else (x[idx], y[idx])
            (xc, px), (yc, qy) = _centred(xs), _centred(ys)
            swapped, h, rho, w = shape.pwcca_variates(xc, yc, px, qy)
            narrow = ys if swapped else xs
            if isinstance(narrow, StandIn) and rho is not None and h is not None:
                todo.setdefault(id(narrow.values), (narrow.values, []))[1].append(
                    (k, narrow.rows, h, rho))
            else:
                out[k] = shape.pwcca_from_weights(rho, w)
        for values, items in todo.values():
            weights = lazy_pwcca_weights(values, [r for _, r, _, _ in items],
                                         [h for _, _, h, _ in items])
            for (k, _, _, rho), w in zip(items, weights, strict=True):
                out[k] = shape.pwcca_from_weights(rho, w)
        return out

    def score(state: Any, idx: Array | None) -> float:
        return float(score_many(state, [idx])[0])

    return Metric(prepare=_as_standin, score=score, score_many=score_many,
                  name="PWCCA (Morcos et al. 2018), weights from the narrower representation",
                  params={"kind": "pwcca"})


def mutual_knn_metric(*, k: int = 10) -> Metric:
    """Mutual k-nearest-neighbour alignment (Huh et al. 2024), see
    :func:`~neurorep.alignment.mutual_knn`. Bootstrap samples drop repeated
    stimuli (a duplicate would be its own nearest neighbour).

    Parameters
    ----------
    k : int, optional
        Neighbours per stimulus (default 10); a score needs at least ``k + 1``
        stimuli.

    Returns
    -------
    Metric
        The metric for :func:`score_matrix`; ``params`` holds ``k``.

    Examples
    --------
    >>> from neurorep.alignment import mutual_knn_metric
    >>> mutual_knn_metric(k=5).min_stimuli
    6
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"mutual_knn_metric: k must be a positive integer; got {k!r}.")
    k = int(k)

    def prepare(x: Any) -> Any:
        if isinstance(x, xr.DataArray) and is_lazy(x):  # cosines need only X X'
            _check_responses(x)
            return RawGram(lazy_raw_gram(x)[0])
        return _as_float(x)

    def fn(x: Any, y: Any) -> float:
        if not isinstance(x, RawGram) and not isinstance(y, RawGram):
            return shape.mutual_knn(x, y, k=k)
        # a dask-backed side: neighbours from its Gram matrix (the same cosines)
        mx, my = (shape.knn_mask_from_gram(a.gram, k) if isinstance(a, RawGram)
                  else shape.knn_mask(a, k) for a in (x, y))
        return float(np.logical_and(mx, my).sum(1).mean() / k)

    met = _kernel_metric(fn, min_stimuli=k + 1, unique_rows=True,
                         name=f"mutual k-nearest-neighbour alignment, k={k}, cosine "
                         "(Huh et al. 2024)", params={"k": k})
    return replace(met, prepare=prepare)


def _stacked_reps(da: xr.DataArray) -> Array:
    """``(stimulus, repetition, unit)`` float64 responses (one repetition without that dim);
    a dask-backed representation becomes ``(stimulus, repetition, k)``, ``k <= stimuli x
    repetitions``, the uncentred factor of its stacked rows (:func:`lazy_raw_factor`: the
    same rows up to a rotation of the units), reduced over its unit chunks."""
    _check_responses(da)
    da = da if "repetition" in da.dims else da.expand_dims("repetition", axis=1)
    da = da.transpose("stimulus", "repetition", "unit")
    if not is_lazy(da):
        return np.asarray(da.values, float)
    n, r, p = da.shape
    values = da.data.astype(np.float64).rechunk({0: -1, 1: -1}).reshape(n * r, p)
    return lazy_raw_factor(values).reshape(n, r, -1)


def gaussian_stochastic_metric(*, alpha: float = 1.0) -> Metric:
    """Gaussian stochastic shape metric (Duong et al. 2023; netrep's
    ``GaussianStochasticMetric(alpha, group="orth")``) as the score ``-d``, see
    :func:`~neurorep.alignment.gaussian_stochastic_distance`.

    A representation with a ``repetition`` dim gives each stimulus' mean and
    sample covariance (ddof=1) over repetitions; one without (a model layer) is
    deterministic (zero covariances), and the distance then is
    ``sqrt(alpha * Procrustes(means)**2 / n + (2 - alpha) * mean_i tr S_i)``. No
    ceiling (a distance).

    Parameters
    ----------
    alpha : float
        0 (covariances only) to 2 (means only); 1 (the default) is the
        2-Wasserstein distance.

    Returns
    -------
    Metric
        The metric for :func:`score_matrix`; no ceiling, ``params`` holds
        ``alpha`` and how covariances are estimated.

    Examples
    --------
    >>> from neurorep.alignment import gaussian_stochastic_metric
    >>> gaussian_stochastic_metric().params
    {'alpha': 1.0, 'covariance': 'sample, ddof=1, over repetitions'}
    """
    if not 0.0 <= float(alpha) <= 2.0:
        raise ValueError(f"gaussian_stochastic_metric: alpha must be between 0 and 2; got {alpha!r}.")
    alpha = float(alpha)

    def prepare(da: xr.DataArray) -> tuple[Array, Array]:
        if isinstance(da, xr.DataArray) and "repetition" in da.dims:
            reps = _stacked_reps(da)
            if reps.shape[1] < 2:
                raise SchemaError(
                    "gaussian_stochastic: covariances over repetitions need at least 2 "
                    f"repetitions; got {reps.shape[1]}. Pass more repetitions or use a "
                    "deterministic metric such as 'procrustes'."
                )
            means = reps.mean(1)
            dev = reps - means[:, None, :]
            covs = np.einsum("irj,irk->ijk", dev, dev) / (reps.shape[1] - 1)
            return means, covs
        means = _stacked_reps(da)[:, 0, :] if is_lazy(da) else _as_float(da)
        return means, np.zeros((means.shape[0], means.shape[1], means.shape[1]))

    def score(state: Any, idx: Array | None) -> float:
        (mx, cx), (my, cy) = state
        if idx is not None:
            mx, cx, my, cy = mx[idx], cx[idx], my[idx], cy[idx]
        return -shape.gaussian_stochastic_distance(mx, cx, my, cy, alpha=alpha)

    return Metric(prepare=prepare, score=score, ceiling=_no_ceiling,
                  name=f"Gaussian stochastic shape metric, alpha={alpha:g} (Duong et al. 2023), "
                  "score -d", params={"alpha": alpha,
                                      "covariance": "sample, ddof=1, over repetitions"})


def energy_stochastic_metric(*, niter: int = 100, tol: float = 1e-6) -> Metric:
    """Energy-distance stochastic shape metric (Duong et al. 2023; netrep's
    ``EnergyStochasticMetric(group="orth")``) as the score ``-d``, see
    :func:`~neurorep.alignment.energy_stochastic_distance`.

    A representation with a ``repetition`` dim gives each stimulus' responses
    over repetitions; one without (a model layer) is a single sample per
    stimulus (its within-stimulus energy term is 0). The two may have
    different numbers of repetitions. No ceiling (a distance).

    Parameters
    ----------
    niter : int
        The rotation fit's most reweighting rounds (default 100, netrep's).
    tol : float
        The fit stops when the mean pair distance falls by less (default
        1e-6, netrep's).

    Returns
    -------
    Metric
        The metric for :func:`score_matrix`; no ceiling, ``params`` holds
        ``niter`` and ``tol``.

    Examples
    --------
    >>> from neurorep.alignment import energy_stochastic_metric
    >>> energy_stochastic_metric().params
    {'niter': 100, 'tol': 1e-06}
    """
    if isinstance(niter, bool) or not isinstance(niter, (int, np.integer)) or niter < 1:
        raise ValueError(f"energy_stochastic_metric: niter must be a positive integer; got {niter!r}.")
    if not np.isfinite(tol) or tol < 0:
        raise ValueError(f"energy_stochastic_metric: tol must be a finite number >= 0; got {tol!r}.")
    niter, tol = int(niter), float(tol)

    def prepare(da: xr.DataArray) -> Array:
        if isinstance(da, xr.DataArray) and ("repetition" in da.dims or is_lazy(da)):
            return _stacked_reps(da)
        return _as_float(da)[:, None, :]

    def score(state: Any, idx: Array | None) -> float:
        x, y = state
        if idx is not None:
            x, y = x[idx], y[idx]
        return -shape.energy_stochastic_distance(x, y, niter=niter, tol=tol)

    return Metric(prepare=prepare, score=score, ceiling=_no_ceiling,
                  name="energy-distance stochastic shape metric (Duong et al. 2023), score -d",
                  params={"niter": niter, "tol": tol})


def soft_matching_metric() -> Metric:
    """Soft-matching distance (Khosla & Williams 2023) as the score ``-d``, see
    :func:`~neurorep.alignment.soft_matching_distance`; no ceiling (a distance).

    Returns
    -------
    Metric
        The metric for :func:`score_matrix`; no ceiling.

    Examples
    --------
    >>> from neurorep.alignment import soft_matching_metric
    >>> soft_matching_metric().name
    'soft-matching distance (Khosla & Williams 2023), score -d'
    """
    met = _kernel_metric(lambda x, y: -shape.soft_matching_distance(x, y),
                         name="soft-matching distance (Khosla & Williams 2023), score -d",
                         ceiling=_no_ceiling)
    return replace(met, prepare=_refuse_lazy(
        "soft matching", "transports units onto units (a units x units transport plan)"))


def rsa_metric(*, method: str = "spearman", rdm_metric: str = "correlation") -> Metric:
    """RSA: RDMs of both representations (``neurorep.rsa.compute_rdm``), compared with
    ``neurorep.rsa`` comparison ``method`` on the stimuli of each subset.

    Parameters
    ----------
    method : str, optional
        The RDM comparison of :func:`neurorep.rsa.compare` (default
        ``"spearman"``; also ``"corr"``, ``"tau-a"``, ``"cosine"``, ...). A
        distance (``bures_metric``) is refused: scores and ceilings read higher
        as more similar (use ``bures``, its similarity).
    rdm_metric : str, optional
        The dissimilarity of :func:`neurorep.rsa.compute_rdm` used when a
        representation is responses rather than an RDM (default
        ``"correlation"``).

    Returns
    -------
    Metric
        The metric for :func:`score_matrix`; takes RDMs (``stimulus_i,
        stimulus_j``) as well as responses, bootstrap samples drop repeated
        stimuli; ``params`` holds both options.

    Examples
    --------
    >>> from neurorep.alignment import rsa_metric
    >>> rsa_metric(method="corr").name
    'RSA: correlation RDMs compared by corr'
    """
    resolved = inference_method(method, "rsa_metric")  # scores and ceilings: higher = better
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
                  params={"method": method, "rdm_metric": rdm_metric},
                  name=f"RSA: {rdm_metric} RDMs compared by {resolved}")


def _cv_prediction(features: Array, responses: Array, kw: dict[str, Any]) -> Array:
    """Held-out predictions of nested-CV ridge (``kw["dtype"]``; float64 by default: per-unit
    penalties the same per unit whatever other units are fitted with it)."""
    from neurorep.encoding import cross_validate_ridge

    res = cross_validate_ridge(features, responses, return_scores=False, **kw)
    return np.asarray(res["prediction"].values, float)


def _r_sums(pred: Array, true: Array, idxs: list[Array | None]) -> Array:
    """``(len(idxs), 2)``: per stimulus subset, the sum over units of the Pearson r between
    held-out predictions and responses, and the number of units where it is defined."""
    out = np.zeros((len(idxs), 2))
    for k, idx in enumerate(idxs):
        p, t = (pred, true) if idx is None else (pred[idx], true[idx])
        pc = p - p.mean(0)
        tc = t - t.mean(0)
        denom = np.sqrt((pc**2).sum(0)) * np.sqrt((tc**2).sum(0))  # the product may overflow
        ok = denom > 0
        r = (pc * tc).sum(0)[ok] / denom[ok]
        out[k] = r.sum(), ok.sum()
    return out


def _encoding_chunk(block: Array, features: Array, idxs: list[Array | None],
                    kw: dict[str, Any]) -> Array:
    """One unit chunk of a dask-backed region: fit, predict held out and sum the r's."""
    return _r_sums(_cv_prediction(features, block, kw), block, idxs)


def encoding_metric(*, cv: int = 5, inner_cv: int = 3, alphas: Any = None,
                    dtype: str = "float64") -> Metric:
    """Encoding: nested cross-validated ridge (``neurorep.encoding.cross_validate_ridge``)
    from the layer to the region; the score on a subset is the mean over units of the
    Pearson r between held-out predictions and responses.

    Parameters
    ----------
    cv : int, optional
        Outer cross-validation folds (default 5); a score needs at least
        ``max(2 * cv, 6)`` stimuli.
    inner_cv : int, optional
        Inner folds that choose each unit's ridge penalty (default 3).
    alphas : array-like, optional
        The ridge penalty grid; None uses the default grid of
        :func:`neurorep.encoding.cross_validate_ridge`.
    dtype : {"float64", "float32"}, optional
        Working precision of the ridge products. ``"float64"`` (default): each unit's
        penalty and score are the same whichever other units (regions) share the fit.
        ``"float32"`` runs about 1.5-1.8x faster on large layers (half the memory
        traffic); scores differ from float64 by ~1e-6, and where two penalties' inner
        scores tie to float32 rounding a unit's penalty can differ from float64's (and
        between fits batched with other regions), so use it for exploration, float64
        for reported numbers.

    Returns
    -------
    Metric
        The metric for :func:`score_matrix`; its ceiling is the mean
        split-half Pearson r ceiling of the region's units.

    Examples
    --------
    >>> from neurorep.alignment import encoding_metric
    >>> m = encoding_metric(cv=3, inner_cv=2)
    >>> m.params, m.min_stimuli
    ({'cv': 3, 'inner_cv': 2, 'dtype': 'float64'}, 6)
    """

    check_option("encoding_metric: dtype", dtype, ("float64", "float32"))
    kw: dict[str, Any] = {"cv": cv, "inner_cv": inner_cv, "dtype": dtype}
    if alphas is not None:
        kw["alphas"] = alphas

    def prepare(x: xr.DataArray) -> Any:
        if isinstance(x, xr.DataArray) and is_lazy(x):  # fitted chunk by chunk when scored
            _check_responses(x)
            return lazy_values(x)
        return _as_float(x)

    def pair(px: Any, py: Array) -> tuple[Any, Any]:
        if is_lazy(px):  # (features, responses): the fit runs per unit chunk in score_many
            return ("chunked", py), px
        return _cv_prediction(py, px, kw), px

    def score_many(state: Any, idxs: list[Array | None]) -> Array:
        pred, true = state
        if isinstance(pred, tuple):  # one pass over the region's unit chunks, fit + scores
            sums = sum_over_chunks(true, _encoding_chunk, shared=(pred[1], idxs, kw))
        else:
            sums = _r_sums(pred, true, idxs)
        return np.where(sums[:, 1] > 0, sums[:, 0] / np.maximum(sums[:, 1], 1), np.nan)

    def score(state: Any, idx: Array | None) -> float:
        return float(score_many(state, [idx])[0])

    def ceiling(da: xr.DataArray) -> float:
        if "repetition" not in da.dims or da.sizes["repetition"] < 2:
            return float("nan")
        from neurorep.stats import noise_ceiling

        res = noise_ceiling(da, method="split_half", metric="r", rng=0)
        return float(np.nanmean(np.asarray(res["ceiling"].values, float)))

    def pair_many(pxs: list[Any], py: Array) -> list[tuple[Any, Any]]:
        if any(is_lazy(px) for px in pxs):
            return [pair(px, py) for px in pxs]
        pred, _ = pair(np.concatenate(pxs, axis=1), py)
        edges = np.cumsum([0] + [p.shape[1] for p in pxs])
        return [(pred[:, a:b], px) for a, b, px in zip(edges[:-1], edges[1:], pxs, strict=True)]

    return Metric(prepare=prepare, score=score, pair=pair, min_stimuli=max(2 * cv, 6),
                  ceiling=ceiling, pair_many=pair_many, score_many=score_many,
                  params={"cv": cv, "inner_cv": inner_cv, "dtype": dtype},
                  name="encoding: mean over units of the held-out Pearson r of nested-CV ridge")


_GRAM_MAX_STIMULI = 1500  # an n x n float64 Gram matrix per representation: 18 MB at 1500


def _as_gram(kind: str, a: Array) -> tuple[str, Array]:
    """A prepared CKA representation as its centred Gram matrix (features are centred)."""
    return ("gram", similarity.center_gram(a @ a.T)) if kind == "features" else (kind, a)


def _cka_gram_features(k: Array, f: Array) -> float:
    """Biased linear CKA of a centred Gram matrix ``K`` and centred features ``F``
    ``(n, q)``, ``q < n``: ``<K, F F'> = <K F, F>`` and ``||F F'|| = ||F' F||``, without
    the ``(n, n)`` Gram matrix of ``F``."""
    hsic = float(np.vdot(k @ f, f))
    norm = float(np.linalg.norm(k) * np.linalg.norm(f.T @ f))
    return hsic / norm if norm > 0 else float("nan")


def _cka_centred(kx: Array, ky: Array) -> float:
    """Biased linear CKA of two centred Gram matrices (:func:`similarity.cka_from_grams`
    without its centring, which :func:`cka_metric` does once per representation)."""
    kx, ky = kx.ravel(), ky.ravel()
    norm = float(np.sqrt(np.dot(kx, kx) * np.dot(ky, ky)))
    return float(np.dot(kx, ky)) / norm if norm > 0 else float("nan")


def cka_metric() -> Metric:
    """Biased linear CKA; each representation's Gram matrix is computed once (with up to
    1500 stimuli, or with at least as many units as stimuli, where it is no bigger than
    the data) and every pair, bootstrap sample or fold takes it or a sub-matrix of it.
    Narrower representations of more stimuli keep their features."""

    def prepare(x: xr.DataArray) -> tuple[str, Array]:
        if is_lazy(x):  # dask-backed: the Gram matrix summed over unit chunks
            return "gram", similarity.center_gram(lazy_gram(x))
        # CKA is free of shift and scale: centred first (a Gram of data around 1e4 kept
        # ~8 fewer digits of the structure), then rescaled (no overflow at 1e200)
        arr = similarity.rescaled(similarity.center(_as_float(x)))
        n, p = arr.shape
        if n <= _GRAM_MAX_STIMULI or p >= n:  # else each pair would recompute it
            return "gram", similarity.center_gram(arr @ arr.T)
        return "features", arr

    def score(state: Any, idx: Array | None) -> float:
        (kind_x, a), (kind_y, b) = state
        if kind_x != kind_y and idx is None:  # a centred Gram matrix against centred features
            k, f = (a, b) if kind_x == "gram" else (b, a)
            return _cka_gram_features(k, f)
        if kind_x != kind_y:  # a dask-backed side is always a Gram matrix: match it
            (kind_x, a), (kind_y, b) = _as_gram(kind_x, a), _as_gram(kind_y, b)
        if kind_x == kind_y == "gram":
            if idx is None:  # both centred once when prepared: no centring per pair
                return _cka_centred(a, b)
            return similarity.cka_from_grams(a[np.ix_(idx, idx)], b[np.ix_(idx, idx)])
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

    return Metric(prepare=prepare, score=score, sample=sample,
                  name="biased linear CKA (Kornblith et al. 2019)")


METRICS: dict[str, Callable[[], Metric]] = {
    "cka": cka_metric,
    "cka_debiased": lambda: _kernel_metric(
        similarity.cka_debiased, min_stimuli=5, gram_only=True,
        name="debiased linear CKA (unbiased HSIC of Song et al. 2012)"),
    "procrustes": lambda: _kernel_metric(
        similarity.procrustes_similarity, gram_only=True,
        name="angular Procrustes shape similarity (alpha=1, Williams et al. 2021), "
        "score 1 - 2*theta/pi", params={"alpha": 1.0, "distance": "angular"}),
    "procrustes_euclidean": lambda: shape_metric(alpha=1.0, distance="euclidean"),
    "shape_cca": lambda: shape_metric(alpha=0.0),
    "shape_partial": lambda: shape_metric(alpha=0.5),
    "permutation": lambda: permutation_metric(),
    "permutation_euclidean": lambda: permutation_metric(distance="euclidean"),
    "soft_matching": soft_matching_metric,
    "cca": lambda: cca_metric(),
    "svcca": lambda: cca_metric(kind="svcca"),
    "pwcca": lambda: cca_metric(kind="pwcca"),
    "mutual_knn": lambda: mutual_knn_metric(),
    "gaussian_stochastic": lambda: gaussian_stochastic_metric(),
    "energy_stochastic": lambda: energy_stochastic_metric(),
    "rsa": lambda: rsa_metric(),
    "rsa_spearman": lambda: rsa_metric(method="spearman"),
    "rsa_pearson": lambda: rsa_metric(method="corr"),
    "rsa_tau_a": lambda: rsa_metric(method="tau-a"),
    "rsa_cosine": lambda: rsa_metric(method="cosine"),
    "encoding": lambda: encoding_metric(),
}


def get_metric(metric: str | Metric) -> Metric:
    """A :class:`Metric` from its name in :data:`METRICS` (or the object itself).

    Parameters
    ----------
    metric : str or Metric
        A key of :data:`METRICS` (``"cka"``, ``"procrustes"``, ``"rsa"``,
        ``"encoding"``, ...) or a :class:`Metric`, returned unchanged.

    Returns
    -------
    Metric
        A fresh metric with its default options.

    Examples
    --------
    >>> from neurorep.alignment import get_metric
    >>> get_metric("cka").name
    'biased linear CKA (Kornblith et al. 2019)'
    """
    if isinstance(metric, Metric):
        return metric
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {sorted(METRICS)}; got {metric!r}.")
    return METRICS[metric]()


