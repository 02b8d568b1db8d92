"""Time-resolved RSA: an RDM per time point, model RDMs over time, RDM generalisation.

:func:`compute_rdm_movie` computes every time point's RDM with batched matrix
products -- one stacked Gram product ``X_t X_t'`` over all time points
instead of a Python loop of :func:`compute_rdm` calls -- with the same
metrics and numbers as :func:`compute_rdm` (and rsatoolbox's
``calc_rdm_movie``), crossnobis over repetitions included.
:func:`compare_over_time` compares them with model RDMs and adds subject-level
inference (bootstrap CIs, MNE cluster permutation tests);
:func:`compare_time_generalization` compares the RDM at every time point with
the RDM at every other time point (time x time).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep import SchemaError, stats
from neurorep.data import bin_time, check_epochs, crop_time, infer_kind, members, stimulus_ids
from neurorep.rsa._compare import compare
from neurorep.rsa._rdm import METRICS, NOISE_METHODS, compute_noise_precision

__all__ = ["compare_over_time", "compare_time_generalization", "compute_rdm_movie"]

_SQUARED = ("squared_euclidean", "mahalanobis", "crossnobis")


# ----------------------------------------------------------------------------- kernels
def _gram(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a_t @ b_t'`` for every t: ``(T, n, p), (T, n, p) -> (T, n, n)``."""
    return np.matmul(a, np.swapaxes(b, 1, 2))


def _weigh(a: np.ndarray, prec: np.ndarray | None) -> np.ndarray:
    """``a_t @ P`` (or ``a_t @ P_t``) for a diagonal, dense or per-time precision."""
    if prec is None:
        return a
    if prec.ndim == 1:
        return a * prec
    return np.matmul(a, prec)


def _symmetrise(d: np.ndarray) -> np.ndarray:
    d = (d + np.swapaxes(d, 1, 2)) / 2.0
    idx = np.arange(d.shape[-1])
    d[:, idx, idx] = 0.0
    return d


def _sq_from_gram(g: np.ndarray) -> np.ndarray:
    diag = np.diagonal(g, axis1=1, axis2=2)
    d = diag[:, :, None] + diag[:, None, :] - 2.0 * g
    np.maximum(d, 0.0, out=d)
    return _symmetrise(d)


def _unit_rows(x: np.ndarray, *, center: bool, metric: str, times: np.ndarray) -> np.ndarray:
    if center:
        x = x - x.mean(axis=2, keepdims=True)
    norm = np.einsum("tnp,tnp->tn", x, x, optimize=True)
    bad = np.argwhere(norm <= 0.0)
    if bad.size:
        t, s = bad[0]
        raise SchemaError(
            f"compute_rdm_movie: {metric} distance is undefined for a stimulus whose pattern is "
            f"{'constant' if center else 'all zeros'} across units; got {len(bad)} such "
            f"(time, stimulus) pattern(s), e.g. stimulus position {int(s)} at t = "
            f"{times[t]:g} s. Drop those stimuli or time points, or use metric='euclidean'."
        )
    return x / np.sqrt(norm)[:, :, None]


def _movie(
    x: np.ndarray, metric: str, prec: np.ndarray | None, scale: float, times: np.ndarray
) -> np.ndarray:
    """``x``: ``(T, n, p)`` patterns or ``(T, n, R, p)`` runs -> ``(T, n, n)`` RDMs."""
    if metric == "crossnobis":
        n_run = x.shape[2]
        y = x - x.mean(axis=(1, 2), keepdims=True)
        s = y.sum(axis=2)
        k = _gram(_weigh(s, prec), s)
        for r in range(n_run):
            yr = np.ascontiguousarray(y[:, :, r, :])
            k -= _gram(_weigh(yr, prec), yr)
        k /= n_run * (n_run - 1)
        diag = np.diagonal(k, axis1=1, axis2=2)
        d = diag[:, :, None] + diag[:, None, :] - k - np.swapaxes(k, 1, 2)
        return _symmetrise(d) / scale
    if x.ndim == 4:
        x = x.mean(axis=2)
    if metric == "correlation":
        xn = _unit_rows(x, center=True, metric=metric, times=times)
        return _symmetrise(1.0 - _gram(xn, xn))
    if metric == "cosine":
        xn = _unit_rows(x, center=False, metric=metric, times=times)
        return _symmetrise(1.0 - _gram(xn, xn))
    xc = x - x.mean(axis=1, keepdims=True)
    sq = _sq_from_gram(_gram(_weigh(xc, prec), xc)) / scale
    return np.sqrt(sq) if metric == "euclidean" else sq


# ----------------------------------------------------------------------------- inputs
_MOVIE_METRICS = (
    "euclidean", "squared_euclidean", "correlation", "cosine", "mahalanobis", "crossnobis"
)


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {list(METRICS)}; got {metric!r}.")
    if metric not in _MOVIE_METRICS:
        raise ValueError(
            f"metric={metric!r} is not available over time; use one of {list(_MOVIE_METRICS)}, "
            f"or compute_rdm on each time window."
        )


def _precision(
    noise: Any, da: xr.DataArray, metric: str, cube: np.ndarray | None, name: str
) -> tuple[np.ndarray | None, bool]:
    """The precision (``(p,)``, ``(p, p)`` or per time ``(T, p, p)``) and whether it was
    estimated from the data (then it is scale-free)."""
    if noise is None:
        return None, False
    if metric not in ("mahalanobis", "crossnobis"):
        raise ValueError(
            f"{name}: noise= is only used by metrics ['mahalanobis', 'crossnobis']; got "
            f"metric={metric!r}."
        )
    units = np.asarray(da["unit"].values)
    if isinstance(noise, str):
        if noise not in NOISE_METHODS:
            raise ValueError(f"noise must be one of {list(NOISE_METHODS)}; got {noise!r}.")
        if cube is None or cube.ndim != 4:
            raise SchemaError(
                f"{name}: noise={noise!r} estimates the noise from the residuals of repeated "
                f"trials, so the epochs need a 'repetition' dim ('stimulus', 'repetition', "
                f"'time', 'unit') with at least 2 repetitions."
            )
        precs = []
        for t in range(cube.shape[0]):  # one estimate per time point, from that time's residuals
            slice_ = xr.DataArray(
                cube[t], dims=("stimulus", "repetition", "unit"),
                coords={"stimulus": np.arange(cube.shape[1]).astype(str),
                        "repetition": np.arange(cube.shape[2]).astype(str), "unit": units},
            )
            precs.append(compute_noise_precision(slice_, method=noise).values)  # type: ignore[arg-type]
        return np.stack(precs), True
    if isinstance(noise, xr.DataArray):
        if noise.ndim == 2 and {"unit_i", "unit_j"} <= set(noise.dims):
            noise = noise.sel(unit_i=units, unit_j=units).transpose("unit_i", "unit_j")
        elif noise.ndim == 1 and "unit" in noise.dims:
            noise = noise.sel(unit=units)
    arr = np.asarray(noise, dtype=np.float64)
    p = units.size
    if arr.shape not in ((p,), (p, p)):
        raise SchemaError(
            f"{name}: noise precision must be (n_unit,) or (n_unit, n_unit) = ({p}, {p}); got "
            f"shape {arr.shape}. Estimate one with neurorep.rsa.compute_noise_precision or pass "
            f"noise='shrinkage_diag' (estimated at every time point)."
        )
    if not np.isfinite(arr).all() or (arr.ndim == 1 and (arr <= 0).any()):
        raise SchemaError(f"{name}: the noise precision must be finite and positive (definite).")
    if arr.ndim == 2:
        try:
            np.linalg.cholesky((arr + arr.T) / 2.0)
        except np.linalg.LinAlgError:
            raise SchemaError(
                f"{name}: the noise precision must be symmetric positive definite; use a "
                f"shrinkage estimate (noise='shrinkage_diag')."
            ) from None
    return arr, False


def _values(
    da: xr.DataArray, metric: str, noise: Any, normalize: bool, name: str
) -> np.ndarray:
    """One epochs member -> ``(T, n, n)`` RDMs."""
    n = da.sizes["stimulus"]
    if n < 2:
        raise SchemaError(f"{name}: an RDM needs at least 2 stimuli; got {n}.")
    has_rep = "repetition" in da.dims
    if metric == "crossnobis":
        if not has_rep:
            raise SchemaError(
                f"{name}: crossnobis is cross-validated over repetitions, so the epochs need a "
                f"'repetition' dim ('stimulus', 'repetition', 'time', 'unit'); got "
                f"{tuple(da.dims)}. Keep the single trials (or runs) along 'repetition', or use "
                f"metric='squared_euclidean' / 'mahalanobis'."
            )
        if da.sizes["repetition"] < 2:
            raise SchemaError(
                f"{name}: crossnobis needs at least 2 repetitions (independent partitions); got "
                f"{da.sizes['repetition']}. Use metric='mahalanobis' or 'squared_euclidean', or "
                f"keep more trials along 'repetition'."
            )
    order = ("time", "stimulus", "repetition", "unit") if has_rep else ("time", "stimulus", "unit")
    x = np.ascontiguousarray(da.transpose(*order).values, dtype=np.float64)
    peak = float(np.abs(x).max())
    e = int(np.frexp(peak)[1]) if peak > 0 and np.isfinite(peak) else 0
    if e:
        x = np.ldexp(x, -e)  # exact: distances scale back by a power of two
    prec, estimated = _precision(noise, da, metric, x if has_rep else None, name)
    if metric == "mahalanobis" and prec is None:
        raise SchemaError(
            f"{name}: metric='mahalanobis' needs noise= (a precision or an estimator name such "
            f"as 'shrinkage_diag'); without it use 'squared_euclidean'."
        )
    scale = float(da.sizes["unit"]) if normalize else 1.0
    times = np.asarray(da["time"].values, dtype=np.float64)
    out = _movie(x, metric, prec, scale, times)
    if metric == "euclidean":
        power = e
    elif metric in _SQUARED:
        power = 0 if estimated else 2 * e
    else:
        power = 0
    if power:
        with np.errstate(over="ignore", under="ignore"):
            out = np.ldexp(out, power)
        if not np.isfinite(out).all():
            raise SchemaError(
                f"{name}: {metric} distances overflow float64 at this data scale (largest "
                f"|response| {peak:.3g}); rescale the epochs first."
            )
    return out


def compute_rdm_movie(
    epochs: xr.DataArray | xr.DataTree | Mapping[str, xr.DataArray],
    *,
    metric: Literal[
        "euclidean", "squared_euclidean", "correlation", "cosine", "mahalanobis", "crossnobis"
    ] = "correlation",
    noise: Any = None,
    normalize: bool = True,
    window: float | None = None,
    step: float | None = None,
    tmin: float | None = None,
    tmax: float | None = None,
    dim: str | None = None,
) -> xr.DataArray:
    """An RDM at every time point (or sliding window) of epochs.

    The time-resolved counterpart of :func:`compute_rdm` (same metrics, same
    numbers at each time point; rsatoolbox's ``calc_rdm_movie``): the RDMs of
    all time points come from stacked matrix products, not a loop.

    Parameters
    ----------
    epochs : epochs DataArray, or a set of them (DataTree / mapping)
        ``(stimulus, time, unit)`` or ``(stimulus, repetition, time, unit)``
        with ``time`` in seconds on a regular grid. Non-cross-validated
        metrics average the repetitions first; ``crossnobis`` needs at least
        2 repetitions (the cross-validation folds). Members of a set must
        share stimuli and time points (per-subject or per-region epochs).
    metric : str
        One of :data:`METRICS` (see :func:`compute_rdm`).
    noise : None, str, array or DataArray
        Noise precision for ``mahalanobis`` / ``crossnobis``: one ``(unit,)``
        or ``(unit, unit)`` precision used at every time point, or an
        estimator name from :data:`NOISE_METHODS` to estimate it at each time
        point from the residuals of the repetitions.
    normalize : bool
        Divide squared-distance metrics by the number of units (rsatoolbox).
    window, step : float, optional
        Average the epochs over sliding windows of ``window`` seconds every
        ``step`` seconds first (:func:`neurorep.data.bin_time`; ``time`` =
        window centres); default one RDM per sample.
    tmin, tmax : float, optional
        Restrict to this time window (s).
    dim : str, optional
        Stacking dim of a set (default ``"member"``).

    Returns
    -------
    DataArray
        ``(time, stimulus_i, stimulus_j)``, or ``(dim, time, stimulus_i,
        stimulus_j)`` for a set; attrs ``metric``. Goes straight into
        :func:`compare` (time becomes a leading dim of the scores) and
        :func:`compare_over_time`.

    Raises
    ------
    SchemaError
        Not epochs, time not monotonic or irregular, members of different
        lengths, a window outside the data, fewer than 2 repetitions for
        crossnobis, a constant pattern (correlation).

    Examples
    --------
    >>> from neurorep import datasets, rsa
    >>> ep = datasets.make_epochs(rng=0)
    >>> movie = rsa.compute_rdm_movie(ep, metric="crossnobis")
    >>> movie.dims, movie.sizes["time"] == ep.sizes["time"]
    (('time', 'stimulus_i', 'stimulus_j'), True)
    """
    _check_metric(metric)
    from neurorep import __version__

    single = isinstance(epochs, xr.DataArray)
    items = check_epochs(epochs, name="epochs")
    if not single:
        stimulus_ids(epochs, name="epochs")  # every member lists the same stimuli
    prepared = {}
    for key, da in items.items():
        if tmin is not None or tmax is not None:
            da = crop_time(da, tmin=tmin, tmax=tmax)
        if window is not None:
            da = bin_time(da, window=window, step=step)
        elif step is not None:
            raise ValueError("compute_rdm_movie: step= needs window= (the sliding window length).")
        prepared[key] = da
    label = "epochs" if single else None
    stack = [
        _values(da, metric, noise, normalize, label or f"epochs[{k!r}]")
        for k, da in prepared.items()
    ]
    first = next(iter(prepared.values()))
    ids = np.asarray(first["stimulus"].values)
    attrs: dict[str, Any] = {"metric": metric, "normalize": int(normalize),
                             "neurorep_version": __version__}
    if isinstance(noise, str):
        attrs["noise"] = noise
    if window is not None:
        attrs.update(window=float(window), step=float(step if step is not None else window))
    coords: dict[str, Any] = {"time": first["time"].values, "stimulus_i": ids, "stimulus_j": ids}
    for cname, c in first.coords.items():  # stimulus-level coordinates (category...)
        if c.dims == ("stimulus",) and cname != "stimulus":
            coords[str(cname)] = ("stimulus_i", np.asarray(c.values))
    if single:
        return xr.DataArray(stack[0], dims=("time", "stimulus_i", "stimulus_j"), coords=coords,
                            name="rdm", attrs=attrs)
    dim = dim or "member"
    coords[dim] = list(prepared)
    return xr.DataArray(np.stack(stack), dims=(dim, "time", "stimulus_i", "stimulus_j"),
                        coords=coords, name="rdm", attrs=attrs)


# ----------------------------------------------------------------------------- comparison
def _as_movie(obj: Any, name: str) -> xr.DataArray:
    if isinstance(obj, xr.DataTree | Mapping) and not isinstance(obj, xr.DataArray):
        mem = members(obj)
        obj = xr.concat(list(mem.values()), dim="member").assign_coords(member=list(mem))
    if not isinstance(obj, xr.DataArray) or infer_kind(obj) != "rdm" or "time" not in obj.dims:
        got = tuple(obj.dims) if isinstance(obj, xr.DataArray) else type(obj).__name__
        raise SchemaError(
            f"{name}: expected time-resolved RDMs with dims ([subject,] time, stimulus_i, "
            f"stimulus_j), e.g. from neurorep.rsa.compute_rdm_movie; got {got}."
        )
    return obj


def compare_over_time(
    brain: xr.DataArray,
    models: xr.DataArray | Mapping[str, xr.DataArray],
    *,
    method: Literal[
        "corr", "pearson", "spearman", "rho-a", "tau-a", "cosine", "cosine_cov", "corr_cov"
    ] = "spearman",
    dim: str = "subject",
    n_bootstrap: int = 1000,
    n_permutations: int = 1000,
    ci: float = 0.95,
    alternative: Literal["greater", "less", "two-sided"] = "greater",
    threshold: float | None = None,
    rng: np.random.Generator | int | None = None,
) -> xr.Dataset:
    """Compare time-resolved brain RDMs with model RDMs, with subject-level inference.

    At every time point each subject's RDM is compared with each model RDM
    (:func:`compare`; stimuli matched by id). With several subjects the
    result adds a percentile bootstrap CI of the mean over subjects and a
    cluster-based sign-flip permutation test over time
    (:func:`neurorep.stats.cluster_test`, through MNE), which controls the
    family-wise error over the time points.

    Parameters
    ----------
    brain : DataArray
        RDM movie ``([dim,] time, stimulus_i, stimulus_j)``.
        From :func:`compute_rdm_movie` (a set of subjects stacked with
        ``dim="subject"``).
    models : DataArray or mapping
        RDMs ``([model,] stimulus_i, stimulus_j)``, or name -> RDM.
        Static model RDMs (a mapping is stacked along ``model``). For two
        time-resolved RDM sets use :func:`compare_time_generalization`.
    method : str
        Comparison method of :func:`compare` (default Spearman).
    dim : str
        The subject dim of ``brain``; absent: one time course, no inference.
    n_bootstrap, n_permutations : int
        Bootstrap samples of subjects for the CI; sign-flip permutations for
        the cluster test (0 skips either).
    ci : float
        Coverage of the percentile interval.
    alternative, threshold
        Passed to :func:`neurorep.stats.cluster_test`.
    rng : int, Generator or None
        Seed or generator of the random draws (None: fresh entropy).

    Returns
    -------
    Dataset
        ``score`` ``(model, time)`` (mean over subjects), ``ci_low``,
        ``ci_high``, ``pvalue`` (cluster p per time point), ``significant``,
        ``cluster`` and ``subject_score`` ``(subject, model, time)`` when
        ``dim`` has 2 or more entries.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from neurorep import data, datasets, rsa
    >>> ep = datasets.make_epochs(n_subjects=3, rng=0)
    >>> subjects = {s: ep.where(ep.subject == s, drop=True) for s in ["sub01", "sub02", "sub03"]}
    >>> movie = rsa.compute_rdm_movie(subjects, dim="subject")
    >>> cat = ep.category.values
    >>> model = data.rdm((cat[:, None] != cat[None, :]).astype(float), stimulus=ep.stimulus.values)
    >>> res = rsa.compare_over_time(movie, {"category": model}, n_bootstrap=50,
    ...                             n_permutations=50, rng=0)
    >>> res.score.dims
    ('model', 'time')
    """
    brain = _as_movie(brain, "brain")
    if isinstance(models, Mapping) and not isinstance(models, xr.DataArray):
        mem = dict(models)
        models = xr.concat(list(mem.values()), dim="model", coords="minimal",
                           compat="override").assign_coords(model=list(mem))
    if not isinstance(models, xr.DataArray) or infer_kind(models) != "rdm":
        raise SchemaError(
            f"compare_over_time: models must be an RDM DataArray or a mapping name -> RDM; got "
            f"{type(models).__name__}."
        )
    if models.ndim == 2:
        models = models.expand_dims(model=["model"])
    scores = compare(brain, models, method=method)
    if "time_b" in scores.dims:
        raise SchemaError(
            "compare_over_time: both brain and models are time-resolved; compare them time "
            "point by time point with rsa.compare(brain.sel(time=t), ...) or over every pair of "
            "times with rsa.compare_time_generalization(brain, models)."
        )
    model_dims = [d for d in scores.dims if d not in brain.dims]
    has_subjects = dim in scores.dims and scores.sizes[dim] >= 2
    lead = [dim] if dim in scores.dims else []
    scores = scores.transpose(*lead, *model_dims, "time")
    out = xr.Dataset()
    if not has_subjects:
        out["score"] = scores.squeeze(dim, drop=True) if lead else scores
    else:
        out["score"] = scores.mean(dim)
        out["subject_score"] = scores
        gen = stats.as_generator(rng)
        n = scores.sizes[dim]
        if n_bootstrap:
            counts = stats.counts_from_indices(
                stats.bootstrap_indices(n, n_bootstrap, rng=gen), n) / n
            x = np.asarray(scores.values).reshape(n, -1)
            boot = counts @ x  # (sample, model * time)
            low, high = stats.percentile_ci(boot, ci=ci, axis=0)
            shape = out["score"].shape
            out["ci_low"] = (out["score"].dims, low.reshape(shape))
            out["ci_high"] = (out["score"].dims, high.reshape(shape))
        if n_permutations:
            test = stats.cluster_test(scores, chance=0.0, dim=dim, n_permutations=n_permutations,
                                      threshold=threshold, alternative=alternative, rng=gen)
            for var in ("pvalue", "significant", "cluster", "statistic"):
                out[var] = test[var]
            out.attrs.update({f"cluster_{k}": v for k, v in test.attrs.items()
                              if k in ("threshold", "n_permutations", "alternative")})
    out.attrs.update(method=scores.attrs.get("method", method), n_bootstrap=int(n_bootstrap),
                     ci=ci, dim=dim, analysis="compare_over_time")
    return out


def compare_time_generalization(
    a: xr.DataArray,
    b: xr.DataArray | None = None,
    *,
    method: Literal[
        "corr", "pearson", "spearman", "rho-a", "tau-a", "cosine", "cosine_cov", "corr_cov"
    ] = "spearman",
    dim: str = "subject",
    n_permutations: int = 0,
    chance: float = 0.0,
    alternative: Literal["greater", "less", "two-sided"] = "greater",
    rng: np.random.Generator | int | None = None,
) -> xr.Dataset:
    """RDM temporal generalisation: the RDM at every time compared with every other time.

    ``score[t, t_b]`` compares ``a`` at time ``t`` with ``b`` at time ``t_b``
    (``b = a`` by default: how long a representational geometry lasts; two
    modalities or regions: when one's geometry reappears in the other).
    With a subject dim in both, each subject's ``a`` is compared with the
    same subject's ``b`` and the mean is tested with a 2-D cluster
    permutation test (time x time) when ``n_permutations > 0``.

    Parameters
    ----------
    a : DataArray
        RDM movie ``([dim,] time, stimulus_i, stimulus_j)`` (e.g. from
        :func:`compute_rdm_movie`).
    b : DataArray, optional
        A second RDM movie on the same stimuli (matched by id); default
        ``a``.
    method : str
        Comparison method of :func:`compare`.
    dim : str
        Subject dim.
    n_permutations : int
        Sign-flip permutations of the cluster test (0: none).
    chance : float
        Null value of the score (0 for correlations).
    alternative : {"greater", "less", "two-sided"}
    rng : int, Generator or None
        Seed or generator of the random draws (None: fresh entropy).

    Returns
    -------
    Dataset
        ``score`` ``(time, time_b)``; ``subject_score``, ``pvalue``,
        ``significant``, ``cluster`` with subjects and ``n_permutations > 0``.

    Examples
    --------
    >>> from neurorep import datasets, rsa
    >>> movie = rsa.compute_rdm_movie(datasets.make_epochs(rng=0), tmin=0.0, tmax=0.3)
    >>> rsa.compare_time_generalization(movie).score.dims
    ('time', 'time_b')
    """
    a = _as_movie(a, "a")
    b = a if b is None else _as_movie(b, "b")
    if dim in a.dims and dim in b.dims:
        subs = [s for s in a[dim].values if s in set(b[dim].values.tolist())]
        if not subs:
            raise SchemaError(
                f"compare_time_generalization: a and b share no {dim!r}; got "
                f"{a[dim].values.tolist()[:4]} and {b[dim].values.tolist()[:4]}."
            )
        per = [compare(a.sel({dim: s}), b.sel({dim: s}), method=method) for s in subs]
        scores = xr.concat(per, dim=dim, coords="minimal", compat="override",
                           join="exact").assign_coords({dim: subs})
    else:
        scores = compare(a, b, method=method)
    if "time_b" not in scores.dims:
        raise SchemaError("compare_time_generalization: b needs a 'time' dim.")
    out = xr.Dataset()
    if dim in scores.dims and scores.sizes[dim] >= 2:
        out["score"] = scores.mean(dim)
        out["subject_score"] = scores
        if n_permutations:
            test = stats.cluster_test(scores.rename(time_b="test_time", time="train_time"),
                                      chance=chance, dim=dim, n_permutations=n_permutations,
                                      alternative=alternative, rng=rng)
            for var in ("pvalue", "significant", "cluster"):
                out[var] = test[var].rename(train_time="time", test_time="time_b")
    else:
        out["score"] = scores.squeeze(dim, drop=True) if dim in scores.dims else scores
    out.attrs = {"method": scores.attrs.get("method", method), "analysis":
                 "compare_time_generalization"}
    return out
