"""Noise ceilings from repeated presentations, and ceiling-normalised scores.

Both methods estimate the reliability ``rho`` of the trial-averaged response
(the fraction of its variance that is stimulus-driven signal):

* ``"ncsnr"`` (Allen et al. 2022, NSD): noise variance = mean over stimuli of
  the variance across repetitions; signal variance = total variance minus
  noise variance (clipped at 0); ``ncsnr = sd_signal / sd_noise`` and
  ``rho = ncsnr^2 / (ncsnr^2 + 1 / n)`` for an average of ``n`` trials.
* ``"split_half"``: correlate (across stimuli) the means of two random halves
  of the repetitions, average over splits, and step up to the full number of
  repetitions with Spearman-Brown: ``rho = k r / (1 + (k - 1) r)`` with
  ``k = n_repetitions / n_half``.

The ceiling is what a perfect model (the true signal) would score against
the noisy averaged data: ``sqrt(rho)`` for Pearson r, ``rho`` for R^2.

Ceilings of any score (the alignment metrics, RSA comparisons) come from
:func:`split_half_ceiling` (one estimate: the score of two halves of the
repetitions, stepped up with :func:`spearman_brown`) and
:func:`leave_one_out_ceiling` (two bounds over subjects, Nili et al. 2014).
One schema for every family: a ``ceiling`` variable, with a ``bound`` dim
(``"lower"``, ``"upper"``) wherever two bounds exist.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep._core.deprecate import renamed_parameters
from neurorep._core.errors import NeurorepWarning, SchemaError, check_int, check_option, check_real
from neurorep._core.parallel import is_lazy
from neurorep._core.rng import as_generator
from neurorep.data import reject_epochs
from neurorep.stats._scores import SCORES

__all__ = [
    "BOUNDS",
    "CEILING_METHODS",
    "leave_one_out_ceiling",
    "noise_ceiling",
    "normalize_score",
    "spearman_brown",
    "split_half_ceiling",
]

CEILING_METHODS = ("ncsnr", "split_half")
CEILING_METRICS = SCORES
#: The ``bound`` coordinate of a two-bound ceiling.
BOUNDS = ("lower", "upper")


def spearman_brown(r: Any, *, factor: float = 2.0) -> Any:
    """Reliability of data ``factor`` times longer: ``k r / (1 + (k - 1) r)`` (Spearman-Brown).

    Parameters
    ----------
    r : float or array
        Reliability (correlation) of the shorter data, e.g. of two halves.
    factor : float
        How many times more data (2 for split halves stepped up to the whole).

    Returns
    -------
    float or ndarray
        NaN where the prophecy is undefined (``1 + (k - 1) r <= 0``, or ``r`` NaN).

    Examples
    --------
    >>> from neurorep.stats import spearman_brown
    >>> round(spearman_brown(0.5), 6)
    0.666667
    """
    arr = np.asarray(r, dtype=float)
    k = float(factor)
    denom = 1.0 + (k - 1.0) * arr
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(denom > 0, k * arr / np.where(denom > 0, denom, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


def split_half_ceiling(
    responses: xr.DataArray,
    score: Callable[[xr.DataArray, xr.DataArray], float],
    *,
    dim: str = "repetition",
) -> float:
    """The ceiling of any score: the score of two halves of the repetitions, stepped up.

    The even and the odd repetitions are averaged separately, scored against
    each other with ``score`` and stepped up to the whole with
    :func:`spearman_brown` (factor 2): an estimate of what the true signal
    would score against the trial-averaged data, on the score's own scale.

    Parameters
    ----------
    responses : DataArray with a ``dim`` of repetitions
        E.g. ``(stimulus, repetition, unit)``.
    score : callable(DataArray, DataArray) -> float
        The score of two representations of the same stimuli (CKA, an RSA
        comparison...); larger means more similar.
    dim : str
        The repetition dim.

    Returns
    -------
    float
        NaN with fewer than 2 repetitions (no halves) or where the
        Spearman-Brown prophecy is undefined.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data
    >>> from neurorep.stats import split_half_ceiling
    >>> g = np.random.default_rng(0)
    >>> reps = g.normal(size=(50, 1, 3)) + 0.5 * g.normal(size=(50, 4, 3))
    >>> da = data.responses(reps, dims=("stimulus", "repetition", "unit"))
    >>> r = lambda a, b: float(np.corrcoef(a.values.ravel(), b.values.ravel())[0, 1])
    >>> bool(0.8 < split_half_ceiling(da, r) < 1.0)
    True
    """
    if dim not in responses.dims or responses.sizes[dim] < 2:
        return float("nan")
    reps = np.arange(responses.sizes[dim])
    a = responses.isel({dim: reps[0::2]}).mean(dim)
    b = responses.isel({dim: reps[1::2]}).mean(dim)
    r = float(score(a, b))
    return float(spearman_brown(r)) if np.isfinite(r) else float("nan")


def leave_one_out_ceiling(
    items: Sequence[Any], score: Callable[[Any, Any], float]
) -> xr.DataArray:
    """Lower and upper noise ceiling over subjects (Nili et al. 2014), for any score.

    The upper bound is the mean score of each item against the mean of all
    items, the lower bound against the mean of the other items (leave one
    out). Items are e.g. the RDMs of several subjects, aligned to each other.

    Parameters
    ----------
    items : sequence of DataArray or ndarray
        At least 2, of one shape (DataArrays are added by coordinate).
    score : callable(item, pooled) -> float
        The score of one item against a pooled one.

    Returns
    -------
    DataArray
        Dims ``(bound,)``.
        ``ceiling`` with bound = ``["lower", "upper"]``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.stats import leave_one_out_ceiling
    >>> g = np.random.default_rng(0)
    >>> truth = g.normal(size=30)
    >>> subjects = [truth + 0.5 * g.normal(size=30) for _ in range(5)]
    >>> r = lambda a, b: float(np.corrcoef(a, b)[0, 1])
    >>> c = leave_one_out_ceiling(subjects, r)
    >>> bool(c.sel(bound="lower") < c.sel(bound="upper"))
    True
    """
    items = list(items)
    if len(items) < 2:
        raise ValueError(
            f"leave_one_out_ceiling: needs at least 2 items (subjects); got {len(items)}."
        )
    total = items[0].copy()
    for item in items[1:]:
        total = total + item
    lower, upper = [], []
    for item in items:
        lower.append(score(item, (total - item) / (len(items) - 1)))
        upper.append(score(item, total / len(items)))
    return xr.DataArray(
        [float(np.mean(lower)), float(np.mean(upper))],
        dims=("bound",),
        coords={"bound": list(BOUNDS)},
        name="ceiling",
        attrs={"method": "leave one out"},
    )


def _cube(responses: Any) -> tuple[Any, dict[str, Any]]:
    """The validated ``(stimulus, repetition, unit)`` values (float64 numpy, or the dask array
    as it is: never computed here) and the unit coords."""
    check_real(getattr(responses, "data", responses), name="noise_ceiling: responses")
    if isinstance(responses, xr.DataArray):
        reject_epochs(responses, name="responses")
        if tuple(responses.dims) != ("stimulus", "repetition", "unit"):
            raise SchemaError(
                f"noise_ceiling: responses must have dims ('stimulus', 'repetition', 'unit'); got "
                f"{responses.dims}. Keep repeated presentations on a 'repetition' dim "
                f"(neurorep.data.responses(values_3d, dims=('stimulus', 'repetition', 'unit')))."
            )
        coords: dict[str, Any] = {
            str(k): v for k, v in responses.coords.items() if v.dims == ("unit",)
        }
        if "unit" not in coords:
            coords["unit"] = ("unit", np.arange(responses.shape[2]))
        values: Any = (responses.data if is_lazy(responses)
                       else np.asarray(responses.values, dtype=np.float64))
    elif is_lazy(responses):
        values = responses
        if values.ndim != 3:
            raise SchemaError(
                f"noise_ceiling: dask responses must be 3-D (stimulus, repetition, unit); got "
                f"shape {values.shape}."
            )
        coords = {"unit": ("unit", np.arange(values.shape[2]))}
    else:
        values = np.asarray(responses, dtype=np.float64)
        if values.ndim == 2:
            values = values[:, :, None]
        if values.ndim != 3:
            raise SchemaError(
                f"noise_ceiling: responses must be 3-D (stimulus, repetition, unit); got shape "
                f"{values.shape}."
            )
        coords = {"unit": ("unit", np.arange(values.shape[2]))}
    n_stim, n_rep, _ = values.shape
    if n_rep < 2:
        raise SchemaError(
            f"noise_ceiling: needs at least 2 repetitions per stimulus; got {n_rep}."
        )
    if n_stim < 3:
        raise SchemaError(f"noise_ceiling: needs at least 3 stimuli; got {n_stim}.")
    return values, coords


_NAN_FIX = ("noise_ceiling: responses contain NaN (missing repetitions?); every stimulus needs "
            "the same repetitions. Drop incomplete stimuli first.")


def _ncsnr(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    noise_var = values.var(axis=1, ddof=1).mean(axis=0)
    n_stim, n_rep, n_unit = values.shape
    total_var = values.reshape(n_stim * n_rep, n_unit).var(axis=0, ddof=1)
    signal_var = np.clip(total_var - noise_var, 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        ncsnr = np.sqrt(signal_var) / np.sqrt(noise_var)
    ncsnr = np.where(noise_var > 0, ncsnr, np.inf)
    ncsnr = np.where(total_var > 0, ncsnr, np.nan)
    return ncsnr, signal_var, noise_var


def _split_half(values: np.ndarray, perms: np.ndarray) -> np.ndarray:
    """Per-unit split-half r averaged over the splits ``perms`` (one permutation of the
    repetitions a row)."""
    half = values.shape[1] // 2
    rs = []
    for perm in perms:
        a = values[:, perm[:half]].mean(1)
        b = values[:, perm[half : 2 * half]].mean(1)
        a = a - a.mean(0)
        b = b - b.mean(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            rs.append((a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0)))
    if not len(perms):
        return np.full(values.shape[2], np.nan)
    return np.nanmean(np.stack(rs), axis=0)


def _unit_statistic(block: Any, method: str, perms: np.ndarray | None) -> np.ndarray:
    """``(2, units)``: the per-unit statistic of one block ``(stimulus, repetition, units)``
    (ncsnr, or the split-half r) and a flag for units with a NaN."""
    values = np.asarray(block, dtype=np.float64)
    nan = np.isnan(values).any(axis=(0, 1))
    stat = _ncsnr(values)[0] if method == "ncsnr" else _split_half(values, perms)  # type: ignore[arg-type]
    return np.stack([stat, nan.astype(np.float64)])


def _per_unit(values: Any, method: str, perms: np.ndarray | None) -> np.ndarray:
    """The per-unit statistic of the whole region; a dask region chunked along units is
    reduced chunk by chunk (each task holds one unit chunk; only the ``(2, unit)`` result
    is gathered), on the active dask scheduler."""
    if is_lazy(values):
        x = values.rechunk({0: -1, 1: -1})
        out = np.asarray(x.map_blocks(
            _unit_statistic, method, perms, drop_axis=[0, 1], new_axis=0,
            chunks=((2,), x.chunks[2]), dtype=np.float64, meta=np.empty((0, 0)),
        ).compute())
    else:
        out = _unit_statistic(values, method, perms)
    if out[1].any():
        raise SchemaError(_NAN_FIX)
    return out[0]


@renamed_parameters(n_splits="n_split_halves")
def noise_ceiling(
    responses: Any,
    *,
    method: Literal["ncsnr", "split_half"] = "ncsnr",
    metric: Literal["r", "r2"] = "r",
    n_average: int | None = None,
    n_split_halves: int = 100,
    rng: np.random.Generator | int | None = None,
) -> xr.Dataset:
    """Per-unit noise ceiling of trial-averaged responses from their repetitions.

    Parameters
    ----------
    responses : DataArray or array
        Responses ``(stimulus, repetition, unit)`` (at least 2 repetitions);
        an array of that shape is read in that order. Dask-backed responses
        (chunked along units) are reduced chunk by chunk on the active dask
        scheduler: memory is bounded by one unit chunk, and the numbers equal
        the in-memory ones.
    method : {"ncsnr", "split_half"}
        NSD's noise-ceiling SNR, or split-half reliability with Spearman-Brown.
    metric : {"r", "r2"}
        Units of the ceiling: Pearson r (``sqrt(rho)``) or R^2 (``rho``).
    n_average : int, optional
        Number of trials averaged in the data the model is scored on
        (default: all repetitions).
    n_split_halves : int
        Random half splits (``"split_half"``).
    rng : Generator or int, optional
        For the random splits.

    Returns
    -------
    Dataset
        ``ceiling`` (unit), ``reliability`` (unit; rho), and for ``"ncsnr"``
        also ``ncsnr`` (unit). Units without signal get ceiling 0; constant
        units NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.stats import noise_ceiling
    >>> rng = np.random.default_rng(0)
    >>> signal = rng.normal(size=(200, 1, 3))
    >>> reps = signal + rng.normal(size=(200, 4, 3))     # SNR 1, 4 repetitions
    >>> nc = noise_ceiling(reps, metric="r2")
    >>> bool(np.allclose(nc["reliability"], 0.8, atol=0.06))   # 1 / (1 + 1/4)
    True
    """
    check_option("method", method, CEILING_METHODS)
    check_option("metric", metric, CEILING_METRICS)
    gen = as_generator(rng)  # checked even for "ncsnr", which draws nothing
    values, coords = _cube(responses)
    n_rep = int(values.shape[1])
    n = n_rep if n_average is None else int(n_average)
    if n < 1:
        raise ValueError(f"n_average must be a positive int; got {n_average!r}.")
    data: dict[str, Any] = {}
    if method == "ncsnr":
        ncsnr = _per_unit(values, "ncsnr", None)
        with np.errstate(invalid="ignore"):
            rho = np.where(np.isinf(ncsnr), 1.0, ncsnr**2 / (ncsnr**2 + 1.0 / n))
        data["ncsnr"] = ("unit", ncsnr)
    else:
        n_split_halves = check_int("n_split_halves", n_split_halves, minimum=1, fix="e.g. n_split_halves=100.")
        perms = np.array([gen.permutation(n_rep) for _ in range(n_split_halves)])
        r_half, half = _per_unit(values, "split_half", perms), n_rep // 2
        rho = spearman_brown(r_half, factor=n / half)
        rho = np.where(r_half > 0, rho, np.where(np.isnan(r_half), np.nan, 0.0))
        data["split_half_r"] = ("unit", r_half)
    rho = np.clip(rho, 0.0, 1.0)
    ceiling = np.sqrt(rho) if metric == "r" else rho
    data["reliability"] = ("unit", rho)
    data["ceiling"] = ("unit", ceiling)
    ds = xr.Dataset(data, coords=coords)
    ds["ceiling"].attrs = {"metric": metric}
    ds.attrs = {"method": method, "metric": metric, "n_average": n, "n_repetitions": n_rep}
    if method == "split_half":
        ds.attrs["n_split_halves"] = int(n_split_halves)
    return ds


def normalize_score(
    result: xr.Dataset | xr.DataArray,
    ceiling: xr.Dataset | xr.DataArray | Any,
    *,
    min_ceiling: float = 0.0,
) -> xr.Dataset:
    """Divide scores by the noise ceiling: ``normalized_score = score / ceiling``.

    Parameters
    ----------
    result : Dataset or DataArray
        A result with a ``score`` variable over ``unit``, or the score
        DataArray itself.
    ceiling : Dataset, DataArray or array
        A :func:`noise_ceiling` result (its ``ceiling``), or the per-unit
        ceiling.
        In the units of the score (``noise_ceiling(metric="r")`` for r).
        Matched by unit id when both carry one.
    min_ceiling : float
        Units whose ceiling is at most this are NaN (one NeurorepWarning).

    Returns
    -------
    Dataset
        The input's variables plus ``ceiling`` and ``normalized_score``.

    Examples
    --------
    >>> import xarray as xr
    >>> from neurorep.stats import normalize_score
    >>> s = xr.DataArray([0.3, 0.2], dims="unit", name="score")
    >>> normalize_score(s, [0.6, 0.4])["normalized_score"].values.tolist()
    [0.5, 0.5]
    """
    ds = result.to_dataset(name="score") if isinstance(result, xr.DataArray) else result.copy()
    if "score" not in ds:
        raise SchemaError(
            f"normalize_score: result needs a 'score' variable; got {list(ds.data_vars)}."
        )
    ceil = ceiling["ceiling"] if isinstance(ceiling, xr.Dataset) else ceiling
    score = ds["score"]
    if isinstance(ceil, xr.DataArray):
        if "unit" in ceil.dims and "unit" in score.dims and "unit" in ceil.coords and "unit" in score.coords:
            missing = set(score["unit"].values.tolist()) - set(ceil["unit"].values.tolist())
            if missing:
                raise SchemaError(
                    f"normalize_score: ceiling lacks {len(missing)} scored unit(s), e.g. "
                    f"{sorted(missing)[:5]}."
                )
            ceil = ceil.sel(unit=score["unit"].values)
        c = np.asarray(ceil.values, dtype=float)
    else:
        c = np.asarray(ceil, dtype=float)
    if c.shape != score.shape:
        raise SchemaError(
            f"normalize_score: ceiling shape {c.shape} does not match score shape {score.shape}."
        )
    low = ~(c > min_ceiling)
    if low.any():
        warnings.warn(
            f"{int(low.sum())} unit(s) have a noise ceiling <= {min_ceiling} (or NaN); their "
            f"normalized_score is NaN.",
            NeurorepWarning,
            stacklevel=2,
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        norm = np.where(low, np.nan, np.asarray(score.values, dtype=float) / c)
    ds["ceiling"] = (score.dims, c)
    ds["normalized_score"] = (score.dims, norm)
    return ds
