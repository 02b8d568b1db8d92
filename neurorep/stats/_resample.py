"""A generic, vectorised bootstrap of any statistic over one axis of the data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from neurorep import __version__
from neurorep._core.deprecate import renamed_parameters
from neurorep._core.errors import check_int
from neurorep._core.rng import as_generator
from neurorep.stats._bootstrap import bootstrap_indices, percentile_ci


def _check_axis(axis: Any, arrays: tuple[np.ndarray, ...]) -> int:
    """``axis`` as a non-negative int valid for every array (negative axes count from the end)."""
    ndim = min(a.ndim for a in arrays)
    shapes = [a.shape for a in arrays]
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        raise TypeError(
            f"bootstrap: axis must be an int (the axis of the items to resample); got "
            f"{axis!r} ({type(axis).__name__})."
        )
    if ndim == 0:
        raise ValueError(
            f"bootstrap: data must have an axis of items to resample; got 0-d data (shapes "
            f"{shapes}). Pass an array of per-item values, e.g. one value per subject."
        )
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"bootstrap: axis {axis} is out of range for data of shape(s) {shapes} ({ndim}-D: "
            f"axis must lie in [{-ndim}, {ndim - 1}]). Pass the axis that runs over the items "
            f"(subjects, stimuli...), e.g. axis=0."
        )
    if axis < 0 and len({a.ndim for a in arrays}) > 1:
        raise ValueError(
            f"bootstrap: a negative axis ({axis}) is ambiguous for arrays of different "
            f"dimensions (shapes {shapes}); pass the non-negative axis of the items."
        )
    return int(axis) % ndim


@renamed_parameters(n_boot="n_bootstrap")
def bootstrap(
    data: Any,
    statistic: Callable[..., Any],
    *,
    n_bootstrap: int = 1000,
    ci: float = 0.95,
    axis: int = 0,
    vectorized: bool = False,
    rng: np.random.Generator | int | None = None,
) -> xr.Dataset:
    """Bootstrap confidence interval of ``statistic(data)`` resampling along ``axis``.

    Parameters
    ----------
    data : array-like or tuple of array-likes
        Several arrays (a tuple) are resampled together (paired).
    statistic : callable
        ``statistic(*arrays) -> float or array``. With ``vectorized=True`` it
        receives arrays with an extra leading bootstrap axis and must return
        one value (or array) per sample, which avoids a Python loop.
    n_bootstrap : int
        Bootstrap samples.
    ci : float
        Coverage of the percentile interval.
    axis : int
        Axis of the items (subjects, stimuli...) to resample (negative
        values count from the end, as in numpy).
    vectorized : bool, optional
        ``statistic`` takes every bootstrap sample at once (an extra leading
        axis) and returns one value per sample (default False: one call per
        sample).
    rng : int, Generator or None
        Source of randomness (see :func:`neurorep.stats.as_generator`).

    Returns
    -------
    Dataset
        ``score`` (the statistic on the data), ``ci_low``, ``ci_high`` and
        ``null_distribution``: here the bootstrap distribution (dim ``sample``).

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.stats import bootstrap
    >>> x = np.random.default_rng(0).normal(1.0, 1.0, 200)
    >>> res = bootstrap(x, np.mean, n_bootstrap=500, rng=0)
    >>> bool(res.ci_low < 1.0 < res.ci_high)
    True
    """
    arrays = tuple(np.asarray(a) for a in (data if isinstance(data, tuple) else (data,)))
    n_bootstrap = check_int("n_bootstrap", n_bootstrap, minimum=1, fix="e.g. n_bootstrap=1000.")
    axis = _check_axis(axis, arrays)
    gen = as_generator(rng)
    n = arrays[0].shape[axis]
    if any(a.shape[axis] != n for a in arrays):
        raise ValueError(
            f"bootstrap: every array needs {n} items along axis {axis}; got shapes "
            f"{[a.shape for a in arrays]}."
        )
    if n < 2:
        raise ValueError(f"bootstrap: need at least 2 items to resample; got {n}.")
    idx = bootstrap_indices(n, n_bootstrap, rng=gen)
    point = np.asarray(statistic(*arrays), dtype=float)
    if vectorized:
        resampled = [np.moveaxis(np.take(a, idx, axis=axis), axis, 0) for a in arrays]
        samples = np.asarray(statistic(*resampled), dtype=float)
    else:
        samples = np.stack([np.asarray(statistic(*(np.take(a, i, axis=axis) for a in arrays)), float) for i in idx])
    low, high = percentile_ci(samples, ci=ci, axis=0)
    extra = tuple(f"dim_{k}" for k in range(point.ndim))
    return xr.Dataset(
        {
            "score": (extra, point),
            "ci_low": (extra, low),
            "ci_high": (extra, high),
            "null_distribution": (("sample", *extra), samples),
        },
        attrs={"n_bootstrap": n_bootstrap, "ci": ci, "method": "percentile bootstrap",
               "neurorep_version": __version__},
    )
