"""Inference over time: cluster permutation tests (MNE), peak and onset latencies with CIs.

Every time-resolved family (RSA over time, decoding over time, encoding over
time) ends with a time course per subject (or per fold, per resample); these
functions turn such ``(subject, ..., time)`` arrays into the statistics a
paper reports:

* :func:`cluster_test` -- one-sample cluster-based permutation test against a
  chance level, through :func:`mne.stats.permutation_cluster_1samp_test`
  (sign flips of the subjects; clusters over time, or over a time x time
  generalisation matrix);
* :func:`peak_latency` / :func:`onset_latency` -- latencies of the mean time
  course with percentile bootstrap CIs over subjects (index arrays, one pass).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep import SchemaError
from neurorep._core.rng import as_generator
from neurorep.stats._bootstrap import bootstrap_indices, counts_from_indices, percentile_ci

__all__ = ["cluster_test", "onset_latency", "peak_latency"]

_TIME_DIMS = ("time", "train_time", "test_time", "time_b")


def _check_samples(da: Any, dim: str, name: str) -> xr.DataArray:
    if not isinstance(da, xr.DataArray):
        raise SchemaError(
            f"{name}: expected a DataArray with a {dim!r} dim (one time course per {dim}) and a "
            f"'time' dim; got {type(da).__name__}."
        )
    if dim not in da.dims:
        raise SchemaError(
            f"{name}: the samples need a {dim!r} dim (the observations to resample or sign-flip); "
            f"got dims {tuple(da.dims)}. Pass dim= the name of that dim (e.g. dim='fold'), or "
            f"stack per-subject results along 'subject' first (xr.concat(results, 'subject'))."
        )
    if da.sizes[dim] < 2:
        raise SchemaError(f"{name}: need at least 2 entries along {dim!r}; got {da.sizes[dim]}.")
    if da.dtype.kind not in "fiub" or not np.isfinite(np.asarray(da.values, float)).all():
        raise SchemaError(
            f"{name}: values must be finite numbers; drop or impute NaN time points first."
        )
    return da


def _clusters(excess: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Connected supra-threshold regions of ``excess > 0``: labels (0 = none) and their sums."""
    from scipy import ndimage

    lab, n = ndimage.label(excess > 0)
    sums = ndimage.sum_labels(excess, lab, index=np.arange(1, n + 1)) if n else np.zeros(0)
    return lab, np.asarray(sums, dtype=np.float64)


def cluster_pvalues(
    observed: np.ndarray, null: np.ndarray, *, alpha: float = 0.05
) -> dict[str, np.ndarray]:
    """Per-point and cluster p-values of a score map against a permutation null.

    For a null drawn by the caller (e.g. label permutations of a whole
    cross-validation, :func:`neurorep.decoding.decode`), unlike
    :func:`cluster_test`, which sign-flips subjects. Points above the null's
    95th percentile (per point) form clusters of adjacent points (time, or
    time x time cells); a cluster's mass (its summed excess over that
    threshold) is compared with the largest cluster mass of every permutation
    (Maris & Oostenveld 2007).

    Parameters
    ----------
    observed : ndarray (...)
        The observed score at every point of a grid.
    null : ndarray (permutation, ...)
        The scores of every permutation on the same grid.
    alpha : float
        Clusters with p below ``alpha`` are marked ``significant``.

    Returns
    -------
    dict of ndarray
        ``pvalue`` (the cluster p of each point, 1 outside clusters),
        ``pvalue_uncorrected`` (per point), ``cluster`` (label, -1 outside),
        ``significant``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import stats
    >>> g = np.random.default_rng(0)
    >>> null = 0.5 + 0.05 * g.normal(size=(99, 30))
    >>> obs = 0.5 + 0.05 * g.normal(size=30)
    >>> obs[10:16] = 0.8
    >>> res = stats.cluster_pvalues(obs, null)
    >>> int(res["significant"].sum()), float(res["pvalue"][12])
    (6, 0.01)
    """
    observed = np.asarray(observed, dtype=np.float64)
    null = np.asarray(null, dtype=np.float64)
    if null.ndim != observed.ndim + 1 or null.shape[1:] != observed.shape or not null.shape[0]:
        raise SchemaError(
            f"cluster_pvalues: null must be (permutation, *observed.shape) = (n, "
            f"{', '.join(map(str, observed.shape))}); got {null.shape}."
        )
    n = null.shape[0]
    p_point = (1.0 + (null >= observed[None]).sum(axis=0)) / (n + 1.0)
    thr = np.quantile(null, 0.95, axis=0)
    lab, sums = _clusters(observed - thr)
    null_max = np.array([max(_clusters(nl - thr)[1].max(initial=0.0), 0.0) for nl in null])
    p_cluster = np.ones(observed.shape)
    cluster = np.full(observed.shape, -1, dtype=np.int64)
    for c, mass in enumerate(sums):
        where = lab == c + 1
        p_cluster[where] = (1.0 + (null_max >= mass).sum()) / (n + 1.0)
        cluster[where] = c
    return {"pvalue": p_cluster, "pvalue_uncorrected": p_point, "cluster": cluster,
            "significant": p_cluster < alpha}


def cluster_test(
    samples: xr.DataArray,
    *,
    chance: float = 0.0,
    dim: str = "subject",
    n_permutations: int = 1000,
    threshold: float | None = None,
    alternative: Literal["greater", "less", "two-sided"] = "greater",
    alpha: float = 0.05,
    rng: np.random.Generator | int | None = None,
) -> xr.Dataset:
    """One-sample cluster-based permutation test of time courses against chance.

    Computes a t statistic at every time point (or every cell of a time x
    time matrix) across ``dim``, forms clusters of adjacent points whose t
    exceeds ``threshold``, and compares each cluster's summed t with the
    largest cluster sums obtained after random sign flips of the subjects'
    deviations from ``chance`` -- MNE's
    :func:`~mne.stats.permutation_cluster_1samp_test` (Maris & Oostenveld
    2007), called with a seed drawn from ``rng``. With few subjects every
    sign flip is enumerated (exact test).

    Parameters
    ----------
    samples : DataArray
        Dims ``(dim, time)`` or ``(dim, train_time, test_time)``.
        One time course (or generalisation matrix) per subject; other dims
        (``model``...) are tested separately.
    chance : float
        The value under the null hypothesis (e.g. 0 for correlations, 0.5 for
        pairwise decoding, 1/n_classes for accuracy).
    dim : str
        The dim of independent observations (subjects).
    n_permutations : int
        Sign-flip permutations.
    threshold : float, optional
        Cluster-forming t threshold; default the t quantile of ``p = 0.05``
        (one-sided, or 0.025 per tail), MNE's default.
    alternative : {"greater", "less", "two-sided"}
        Direction of the effect.
    alpha : float
        Clusters with p below ``alpha`` are marked ``significant``.
    rng : int, Generator or None
        Seed or generator of the random draws (None: fresh entropy).

    Returns
    -------
    Dataset
        ``score`` (mean over ``dim``), ``statistic`` (t), ``pvalue`` (each
        point's cluster p-value; 1 outside every cluster), ``significant``
        (bool), ``cluster`` (cluster index per point, -1 outside). attrs:
        ``threshold``, ``n_permutations``, ``alternative``, ``chance``.

    Raises
    ------
    SchemaError
        No ``dim``, fewer than 2 subjects, non-finite values, no time dim.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from neurorep import stats
    >>> t = np.arange(50) / 100
    >>> g = np.random.default_rng(0)
    >>> acc = xr.DataArray(0.5 + 0.2 * (t > 0.2) + 0.05 * g.normal(size=(12, 50)),
    ...                    dims=("subject", "time"), coords={"time": t})
    >>> res = stats.cluster_test(acc, chance=0.5, n_permutations=200, rng=0)
    >>> float(res.time.where(res.significant, drop=True).min())
    0.21
    """
    import mne

    samples = _check_samples(samples, dim, "cluster_test")
    if alternative not in ("greater", "less", "two-sided"):
        raise ValueError(
            f"alternative must be one of ['greater', 'less', 'two-sided']; got {alternative!r}."
        )
    if not (isinstance(n_permutations, int | np.integer) and not isinstance(n_permutations, bool)
            and n_permutations >= 1):
        raise ValueError(
            f"n_permutations must be an integer >= 1; got {n_permutations!r}. Pass e.g. "
            f"n_permutations=1000."
        )
    gen = as_generator(rng)
    grid = [d for d in samples.dims if d in _TIME_DIMS]
    if not grid or len(grid) > 2:
        raise SchemaError(
            f"cluster_test: expected one time dim ('time') or two (a generalisation matrix, e.g. "
            f"'train_time' x 'test_time') besides {dim!r}; got dims {tuple(samples.dims)}."
        )
    other = [d for d in samples.dims if d != dim and d not in grid]
    da = samples.transpose(*other, dim, *grid)
    n_obs = da.sizes[dim]
    tail = {"greater": 1, "less": -1, "two-sided": 0}[alternative]
    if threshold is None:
        from scipy import stats as sps

        p = 0.05 / (2 if tail == 0 else 1)
        threshold = float(sps.t.ppf(1.0 - p, n_obs - 1)) * (-1.0 if tail == -1 else 1.0)
    shape_other = tuple(da.sizes[d] for d in other)
    grid_shape = tuple(da.sizes[d] for d in grid)
    values = np.asarray(da.values, dtype=np.float64).reshape(-1, n_obs, *grid_shape) - chance
    t_obs = np.empty((values.shape[0], *grid_shape))
    pval = np.ones_like(t_obs)
    label = np.full(t_obs.shape, -1, dtype=np.int64)
    import inspect

    test = mne.stats.permutation_cluster_1samp_test
    seed_kw = "rng" if "rng" in inspect.signature(test).parameters else "seed"  # mne >= 1.12
    for k, x in enumerate(values):
        with np.errstate(divide="ignore", invalid="ignore"):  # t = +-inf where subjects agree
            t, clusters, cl_p, _ = test(
                x, threshold=threshold, n_permutations=int(n_permutations), tail=tail,
                out_type="mask", verbose="error", **{seed_kw: int(gen.integers(2**31 - 1))},
            )
        t_obs[k] = t
        for c, (where, p_c) in enumerate(zip(clusters, cl_p, strict=True)):
            mask = np.zeros(grid_shape, dtype=bool)
            mask[where] = True  # a boolean mask, or a tuple of slices for 1-D data
            pval[k][mask] = p_c
            label[k][mask] = c
    dims = (*other, *grid)
    coords = {k: v for k, v in samples.coords.items() if dim not in v.dims}
    out = xr.Dataset(
        {
            "score": da.mean(dim).transpose(*dims),
            "statistic": (dims, t_obs.reshape(*shape_other, *grid_shape)),
            "pvalue": (dims, pval.reshape(*shape_other, *grid_shape)),
            "significant": (dims, (pval < alpha).reshape(*shape_other, *grid_shape)),
            "cluster": (dims, label.reshape(*shape_other, *grid_shape)),
        },
        coords=coords,
    )
    out.attrs = {
        "test": "cluster-based sign-flip permutation (mne.stats.permutation_cluster_1samp_test)",
        "threshold": float(threshold), "n_permutations": int(n_permutations),
        "alternative": alternative, "chance": float(chance), "alpha": float(alpha),
        "n_observations": int(n_obs), "dim": dim,
    }
    return out


def _time_axis(da: xr.DataArray, name: str) -> np.ndarray:
    if "time" not in da.dims or "time" not in da.coords:
        raise SchemaError(
            f"{name}: expected a 'time' dim with a coordinate in seconds; got dims "
            f"{tuple(da.dims)}."
        )
    t = np.asarray(da["time"].values, dtype=np.float64)
    if t.size > 1 and not (np.diff(t) > 0).all():
        raise SchemaError(
            f"{name}: the 'time' coordinate is not monotonic; sort it with obj.sortby('time')."
        )
    return t


def _windowed(
    da: xr.DataArray, tmin: float | None, tmax: float | None, name: str
) -> tuple[xr.DataArray, np.ndarray]:
    t = _time_axis(da, name)
    keep = np.ones(t.size, dtype=bool)
    if tmin is not None:
        keep &= t >= float(tmin) - 1e-12
    if tmax is not None:
        keep &= t <= float(tmax) + 1e-12
    if keep.sum() < 2:
        raise SchemaError(
            f"{name}: the window [{tmin}, {tmax}] s holds {int(keep.sum())} time point(s) of the "
            f"data's {t[0]:g} to {t[-1]:g} s; pick a window inside the data with at least 2 "
            f"samples."
        )
    return da.isel(time=np.flatnonzero(keep)), t[keep]


def _latencies(
    curves: np.ndarray, t: np.ndarray, kind: str, baseline: float, fraction: float,
    threshold: float | None, min_samples: int = 1,
) -> np.ndarray:
    """Peak or onset latency of every row of ``curves`` (rows, time) -> (rows,).

    Onset: walking back from the peak, the end of the last run of at least
    ``min_samples`` samples below the criterion (shorter dips inside the effect
    are passed over), interpolated to the crossing.
    """
    peak = np.argmax(curves, axis=-1)
    if kind == "peak":
        return t[peak]
    rows = np.arange(curves.shape[0])
    top = curves[rows, peak]
    crit = (
        np.full(curves.shape[0], float(threshold)) if threshold is not None
        else baseline + fraction * (top - baseline)
    )
    idx = np.arange(curves.shape[1])
    below = (curves < crit[:, None]) & (idx[None, :] < peak[:, None])
    run = np.zeros(curves.shape[0], dtype=np.int64)
    last = np.full(curves.shape[0], -1, dtype=np.int64)
    for j in range(curves.shape[1]):  # length of the below-criterion run ending at j
        run = np.where(below[:, j], run + 1, 0)
        last = np.where(run >= min_samples, j, last)
    out = np.full(curves.shape[0], np.nan)
    ok = (last >= 0) & (top >= crit)
    i = last[ok]
    y0, y1 = curves[rows[ok], i], curves[rows[ok], i + 1]
    frac = np.where(y1 > y0, (crit[ok] - y0) / np.where(y1 > y0, y1 - y0, 1.0), 1.0)
    out[ok] = t[i] + np.clip(frac, 0.0, 1.0) * (t[i + 1] - t[i])
    first = (last < 0) & (top >= crit)  # above the criterion from the first sample on
    out[first] = t[0]
    return out


def _latency(
    da: xr.DataArray, kind: str, *, dim: str | None, n_bootstrap: int, ci: float,
    tmin: float | None, tmax: float | None, baseline: float, fraction: float,
    threshold: float | None, rng: Any, name: str, min_duration: float = 0.0,
) -> xr.Dataset:
    if not isinstance(da, xr.DataArray):
        raise SchemaError(f"{name}: expected a DataArray with a 'time' dim; got {type(da).__name__}.")
    if not 0.0 < ci < 1.0:
        raise ValueError(f"{name}: ci must lie in (0, 1); got {ci}.")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"{name}: fraction must lie in (0, 1]; got {fraction}.")
    win, t = _windowed(da, tmin, tmax, name)
    dt = float(np.median(np.diff(t)))
    if not (np.isfinite(min_duration) and min_duration >= 0):
        raise ValueError(f"{name}: min_duration must be >= 0 seconds; got {min_duration!r}.")
    k = max(1, int(round(min_duration / dt)))
    has_dim = dim is not None and dim in win.dims
    if dim is not None and not has_dim and n_bootstrap:
        raise SchemaError(
            f"{name}: bootstrap CIs resample the {dim!r} dim, which the input lacks (dims "
            f"{tuple(win.dims)}); pass dim= the dim of the observations (e.g. 'subject', "
            f"'fold') or n_bootstrap=0 for the latency alone."
        )
    if has_dim:
        _check_samples(win, dim, name)  # type: ignore[arg-type]
    other = [d for d in win.dims if d not in ("time", dim)]
    lead = [dim] if has_dim else []
    x = np.asarray(win.transpose(*lead, *other, "time").values, dtype=np.float64)
    shape_other = tuple(win.sizes[d] for d in other)
    if has_dim:
        n = x.shape[0]
        flat = x.reshape(n, -1, t.size)
        mean = flat.mean(axis=0)
    else:
        flat = None
        mean = x.reshape(-1, t.size)
    point = _latencies(mean, t, kind, baseline, fraction, threshold, k)
    data_vars: dict[str, Any] = {"score": (tuple(other), point.reshape(shape_other))}
    if has_dim and n_bootstrap:
        assert flat is not None
        gen = as_generator(rng)
        counts = counts_from_indices(bootstrap_indices(n, n_bootstrap, rng=gen), n) / n
        boot = np.einsum("bn,nkt->bkt", counts, flat, optimize=True)  # (sample, other, time)
        lat = _latencies(boot.reshape(-1, t.size), t, kind, baseline, fraction, threshold, k)
        lat = lat.reshape(n_bootstrap, -1)
        low, high = percentile_ci(lat, ci=ci, axis=0)
        data_vars["ci_low"] = (tuple(other), low.reshape(shape_other))
        data_vars["ci_high"] = (tuple(other), high.reshape(shape_other))
        data_vars["null_distribution"] = (("sample", *other), lat.reshape(n_bootstrap, *shape_other))
    coords = {k: v for k, v in win.coords.items() if set(v.dims) <= set(other)}
    out = xr.Dataset(data_vars, coords=coords)
    out["score"].attrs = {"units": "s", "description": f"{kind} latency of the mean time course"}
    out.attrs = {"latency": kind, "n_bootstrap": int(n_bootstrap if has_dim else 0), "ci": ci,
                 "tmin": float(t[0]), "tmax": float(t[-1])}
    if kind == "onset":
        out.attrs.update(baseline=float(baseline), fraction=float(fraction),
                         min_duration=float(min_duration),
                         criterion="threshold" if threshold is not None else "fraction of peak")
        if threshold is not None:
            out.attrs["threshold"] = float(threshold)
    return out


def peak_latency(
    da: xr.DataArray,
    *,
    dim: str | None = "subject",
    n_bootstrap: int = 1000,
    ci: float = 0.95,
    tmin: float | None = None,
    tmax: float | None = None,
    rng: np.random.Generator | int | None = None,
) -> xr.Dataset:
    """Latency of the peak of the mean time course, with a bootstrap CI over ``dim``.

    Parameters
    ----------
    da : DataArray
        Dims ``(dim, ..., time)``.
        Time courses (scores, accuracies, correlations), one per subject
        (or fold, resample); other dims (``model``, ``region``) are kept.
    dim : str or None
        Dim to average and resample; None (or ``n_bootstrap=0``) for a single
        time course without CI.
    n_bootstrap : int
        Bootstrap samples of the ``dim`` entries (with replacement); each
        sample's mean time course gives one peak latency.
    ci : float
        Coverage of the percentile interval.
    tmin, tmax : float, optional
        Search window in seconds (e.g. after stimulus onset).
    rng : int, Generator or None
        Seed or generator of the random draws (None: fresh entropy).

    Returns
    -------
    Dataset
        ``score`` (latency in s), ``ci_low``, ``ci_high``, ``null_distribution``
        (the bootstrap latencies, dim ``sample``).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from neurorep import stats
    >>> t = np.arange(60) / 100
    >>> g = np.random.default_rng(0)
    >>> x = np.exp(-((t - 0.3) / 0.05) ** 2) + 0.1 * g.normal(size=(10, 60))
    >>> res = stats.peak_latency(xr.DataArray(x, dims=("subject", "time"), coords={"time": t}),
    ...                          n_bootstrap=200, rng=0)
    >>> bool(res.ci_low <= 0.3 <= res.ci_high)
    True
    """
    return _latency(da, "peak", dim=dim, n_bootstrap=n_bootstrap, ci=ci, tmin=tmin, tmax=tmax,
                    baseline=0.0, fraction=1.0, threshold=None, rng=rng, name="peak_latency")


def onset_latency(
    da: xr.DataArray,
    *,
    dim: str | None = "subject",
    baseline: float = 0.0,
    fraction: float = 0.5,
    threshold: float | None = None,
    min_duration: float = 0.02,
    n_bootstrap: int = 1000,
    ci: float = 0.95,
    tmin: float | None = None,
    tmax: float | None = None,
    rng: np.random.Generator | int | None = None,
) -> xr.Dataset:
    """Onset latency of the mean time course, with a bootstrap CI over ``dim``.

    The onset is the time at which the mean time course, walking back from
    its peak, last rises through the criterion ``baseline + fraction * (peak
    - baseline)`` (the fractional peak latency of Liesefeld 2018; with
    ``threshold=`` an absolute criterion instead) after lying below it for at
    least ``min_duration``, linearly interpolated between the two samples
    around the crossing. Walking back from the peak makes it robust to noise
    excursions far before the effect; ``min_duration`` to brief dips inside
    it.

    Parameters
    ----------
    da : DataArray
        Time courses ``(dim, ..., time)``, one per subject (or fold); other
        dims are kept.
    dim : str or None
        Dim to average and resample.
    baseline : float
        The no-effect level (chance: 0 for correlations, 1/n_classes for
        accuracy).
    fraction : float
        Fraction of the peak (above baseline) that marks the onset.
    threshold : float, optional
        An absolute criterion (overrides ``fraction``).
    min_duration : float
        Dips below the criterion shorter than this (seconds) between the
        onset and the peak are passed over (at least one sample).
    n_bootstrap, ci, tmin, tmax, rng
        As in :func:`peak_latency`.

    Returns
    -------
    Dataset
        ``score`` (onset in s; NaN where the peak never reaches the
        criterion), ``ci_low``, ``ci_high``, ``null_distribution``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from neurorep import stats
    >>> t = np.arange(60) / 100
    >>> ramp = np.clip((t - 0.2) / 0.1, 0, 1)   # 0 until 0.2 s, 1 from 0.3 s
    >>> res = stats.onset_latency(xr.DataArray(ramp, dims=("time",), coords={"time": t}),
    ...                           dim=None, fraction=0.5)
    >>> round(float(res.score), 3)
    0.25
    """
    return _latency(da, "onset", dim=dim, n_bootstrap=n_bootstrap, ci=ci, tmin=tmin,
                    tmax=tmax, baseline=baseline, fraction=fraction, threshold=threshold,
                    rng=rng, name="onset_latency", min_duration=min_duration)
