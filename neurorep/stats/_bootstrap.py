"""Generic vectorised bootstrap helpers: index arrays, counts, percentile CIs.

Bootstrap samples are drawn once as an integer index array
``(n_samples, n)``; analyses turn them into counts (how often each subject or
stimulus was drawn) and weight their statistics with them, so a whole
bootstrap is a handful of array operations instead of ``n_samples`` calls.

These helpers are array-level (numpy in, numpy out); the families wrap them
in xarray results.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from neurorep._core.errors import check_int
from neurorep._core.rng import as_generator

__all__ = [
    "bootstrap_indices",
    "bootstrap_pvalue",
    "counts_from_indices",
    "percentile_ci",
]


def bootstrap_indices(
    n: int,
    n_samples: int,
    *,
    rng: np.random.Generator | int | None = None,
    size: int | None = None,
) -> np.ndarray:
    """Draw ``n_samples`` bootstrap samples of ``size`` indices from ``range(n)``.

    Parameters
    ----------
    n : int
        Number of items (subjects, stimuli...) to resample.
    n_samples : int
        Number of bootstrap samples.
    rng : Generator, int or None
        Source of randomness.
    size : int, optional
        Items per sample (default ``n``).

    Returns
    -------
    ndarray of int
        Shape ``(n_samples, size)``.
        Sorted within each row (the order of a bootstrap sample carries no
        information; sorting makes duplicated items adjacent).

    Examples
    --------
    >>> from neurorep.stats import bootstrap_indices
    >>> bootstrap_indices(5, 3, rng=0).shape
    (3, 5)
    """
    if n < 1:
        raise ValueError(f"bootstrap_indices: need at least one item to resample; got n={n}.")
    n_samples = check_int("bootstrap_indices: n_samples", n_samples, minimum=1)
    gen = as_generator(rng)
    idx = gen.integers(0, n, size=(n_samples, size or n))
    idx.sort(axis=1)
    return idx


def counts_from_indices(indices: np.ndarray, n: int) -> np.ndarray:
    """How often each of ``n`` items appears in each bootstrap sample.

    Parameters
    ----------
    indices : ndarray of int
        Shape ``(n_samples, size)``.
        Bootstrap index arrays, one row per sample, values in ``range(n)``.
    n : int
        Number of items.

    Returns
    -------
    ndarray of int64
        Shape ``(n_samples, n)``.
        ``counts[b, i]``: how often item ``i`` is drawn in sample ``b``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.stats import counts_from_indices
    >>> counts_from_indices(np.array([[0, 0, 2]]), 3).tolist()
    [[2, 0, 1]]
    """
    indices = np.asarray(indices)
    if indices.ndim != 2:
        raise ValueError(
            f"counts_from_indices: indices must be 2-D (n_samples, size); got shape {indices.shape}."
        )
    n_samples = indices.shape[0]
    if indices.size and (indices.min() < 0 or indices.max() >= n):
        raise ValueError(f"counts_from_indices: indices must lie in [0, {n}).")
    flat = (indices + n * np.arange(n_samples)[:, None]).ravel()
    return np.bincount(flat, minlength=n * n_samples).reshape(n_samples, n)


def percentile_ci(
    samples: np.ndarray, *, ci: float = 0.95, axis: int = 0, center: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile confidence interval of bootstrap samples, ignoring NaN samples.

    Parameters
    ----------
    samples : ndarray
        Bootstrap statistics; ``axis`` runs over samples.
    ci : float
        Coverage in (0, 1), e.g. 0.95 for the 2.5 and 97.5 percentiles.
    axis : int, optional
        The samples' axis (default 0).
    center : float or ndarray, optional
        The estimate on the data (``samples``' shape without ``axis``): the
        samples are shifted so that their mean is this estimate before the
        percentiles are taken, which removes the bootstrap bias (e.g.
        similarity inflated by resampling stimuli with replacement).

    Returns
    -------
    low : ndarray
        The lower percentile, ``samples``' shape without ``axis``.
    high : ndarray
        The upper percentile, same shape.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.stats import percentile_ci
    >>> low, high = percentile_ci(np.arange(101.0), ci=0.9)
    >>> round(float(low), 6), round(float(high), 6)
    (5.0, 95.0)
    """
    if not 0.0 < ci < 1.0:
        raise ValueError(f"percentile_ci: ci must lie in (0, 1); got {ci}.")
    cut = (1.0 - ci) / 2.0
    if center is not None:
        bias = np.nanmean(samples, axis=axis) - np.asarray(center, dtype=float)
        samples = samples - np.expand_dims(bias, axis)
    low = np.nanquantile(samples, cut, axis=axis)
    high = np.nanquantile(samples, 1.0 - cut, axis=axis)
    return low, high


def bootstrap_pvalue(
    samples: np.ndarray,
    value: float | np.ndarray = 0.0,
    *,
    alternative: Literal["greater", "less", "two-sided"] = "greater",
    axis: int = 0,
) -> np.ndarray:
    """Bootstrap p-value of a statistic against ``value`` (NaN samples ignored).

    ``alternative="greater"`` tests H1: statistic > value with
    ``(#{samples <= value} + 1) / (n + 1)``; ``"two-sided"`` doubles the
    smaller tail (capped at 1).

    Parameters
    ----------
    samples : ndarray
        Bootstrap statistics; ``axis`` runs over samples.
    value : float or ndarray, optional
        The value under H0 (default 0), broadcast against ``samples``
        without ``axis``.
    alternative : {"greater", "less", "two-sided"}, optional
        H1: statistic > value (default), < value, or either side.
    axis : int, optional
        The samples' axis (default 0).

    Returns
    -------
    ndarray
        The p-values, ``samples``' shape without ``axis`` (0-d for 1-D
        samples).

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.stats import bootstrap_pvalue
    >>> float(bootstrap_pvalue(np.ones(99)))
    0.01
    """
    samples = np.moveaxis(np.asarray(samples, dtype=float), axis, 0)
    value = np.asarray(value, dtype=float)
    ok = ~np.isnan(samples)
    n = ok.sum(axis=0)
    below = ((samples <= value) & ok).sum(axis=0)
    above = ((samples >= value) & ok).sum(axis=0)
    p_greater = (below + 1) / (n + 1)
    p_less = (above + 1) / (n + 1)
    if alternative == "greater":
        return p_greater
    if alternative == "less":
        return p_less
    if alternative == "two-sided":
        return np.minimum(2 * np.minimum(p_greater, p_less), 1.0)
    raise ValueError(
        f"alternative must be one of ['greater', 'less', 'two-sided']; got {alternative!r}."
    )
