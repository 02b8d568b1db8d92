"""t tests and confidence intervals from the bootstrap covariance of several statistics.

rsatoolbox's inference on bootstrap samples (Schuett et al. 2023, eLife
12:e82566; ``Result.test_zero``, ``test_noise``, ``test_pairwise``,
``get_ci``): the bootstrap covariance of the statistics, scaled by
``n / (n - 1)`` for ``n`` resampled items, gives t statistics with ``n - 1``
degrees of freedom -- against 0 (one-sided), against a reference such as the
lower noise ceiling (two-sided) and between every pair (two-sided) -- and the
interval ``estimate +- t * sem``. The dual bootstrap (subjects and stimuli
resampled together and one at a time) corrects the two-factor variance, which
counts the noise twice (their eq. 7).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.stats
import xarray as xr

from neurorep._core.condensed import triu
from neurorep._core.errors import check_int

__all__ = ["bootstrap_t_test"]

_EPS = np.finfo(float).eps


def _usable(reference: np.ndarray | None) -> np.ndarray | None:
    return None if reference is None or not np.isfinite(reference).any() else reference


def _variances(
    samples: np.ndarray, reference: np.ndarray | None, scale: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Variances of each statistic, of each pairwise difference (condensed) and of each
    statistic minus the reference, from the samples where all are finite."""
    ok = ~np.isnan(samples).any(axis=1)
    cols = [samples]
    if reference is not None:
        ok &= np.isfinite(reference)
        cols.append(reference[:, None])
    cov = np.atleast_2d(np.cov(np.concatenate([c[ok] for c in cols], axis=1).T))
    k = samples.shape[1]
    var = np.diag(cov)[:k]
    ii, jj = triu(k)
    diff_var = cov[ii, ii] + cov[jj, jj] - 2 * cov[ii, jj]
    ref_var = var - 2 * cov[:k, k] + cov[k, k] if reference is not None else np.full(k, np.nan)
    return var * scale, diff_var * scale, ref_var * scale


def _dual_variances(
    sets: list[tuple[np.ndarray, np.ndarray | None]], n_subjects: int, n_stimuli: int
) -> tuple[np.ndarray, ...]:
    """The two-factor variance corrected with the one-factor ones, clipped to
    ``[max(scaled V_subj, scaled V_stim), V_both]`` (Schuett et al. 2023, eq. 7)."""
    both, subj, stim = (_variances(sc, ref, 1.0) for sc, ref in sets)
    a, b = n_subjects / (n_subjects - 1), n_stimuli / (n_stimuli - 1)
    out = []
    for v_both, v_subj, v_stim in zip(both, subj, stim, strict=True):
        v = a * v_subj + b * v_stim - a * b * (v_both - v_subj - v_stim)
        out.append(np.minimum(np.maximum(np.maximum(v, a * v_subj), b * v_stim), v_both))
    return tuple(out)


def bootstrap_t_test(
    samples: Any,
    estimate: Any,
    *,
    n_items: int,
    reference: Any = None,
    ci: float = 0.95,
    dual: tuple[Any, Any, int, int] | None = None,
) -> xr.Dataset:
    """t tests and CIs of ``k`` statistics from their bootstrap samples (rsatoolbox's tests).

    Parameters
    ----------
    samples : ndarray
        Shape ``(n_samples, k)``.
        Bootstrap values of the statistics (e.g. one score per model); a
        sample with a NaN is left out.
    estimate : ndarray
        Shape ``(k,)``.
        The statistics on the data: the centre of the intervals.
    n_items : int
        How many items were resampled (subjects, stimuli, or the smaller of
        both): the variances are scaled by ``n_items / (n_items - 1)`` and the
        t distribution has ``n_items - 1`` degrees of freedom.
    reference : ndarray, optional
        Shape ``(n_samples,)``.
        Bootstrap values of a reference on the same draws (e.g. the lower
        noise ceiling): ``pvalue_reference`` tests each statistic against the
        reference's mean.
    ci : float
        Coverage of ``estimate +- t * sem``.
    dual : tuple, optional
        ``((samples, reference) of the subject-only draws, (samples,
        reference) of the stimulus-only draws, n_subjects, n_stimuli)``: the
        dual bootstrap's variance correction; the bootstrap means then
        average the three sets, as rsatoolbox does.

    Returns
    -------
    Dataset
        Over ``statistic``: ``ci_low``, ``ci_high``, ``pvalue`` (one-sided,
        statistic > 0), ``pvalue_reference`` (two-sided, NaN without a
        reference); over ``(statistic, statistic_b)``: ``pvalue_pairwise``
        (two-sided, 1 on the diagonal). attrs ``dof``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.stats import bootstrap_t_test
    >>> g = np.random.default_rng(0)
    >>> samples = g.normal([0.5, 0.0], 0.1, size=(1000, 2))
    >>> res = bootstrap_t_test(samples, samples.mean(0), n_items=20)
    >>> bool(res.pvalue[0] < 0.001 < 0.1 < res.pvalue[1])
    True
    """
    samples = np.asarray(samples, dtype=float)
    if samples.ndim != 2:
        raise ValueError(
            f"bootstrap_t_test: samples must be 2-D (n_samples, k); got shape {samples.shape}."
        )
    estimate = np.asarray(estimate, dtype=float)
    if estimate.shape != samples.shape[1:]:
        raise ValueError(
            f"bootstrap_t_test: estimate must have one value per statistic ({samples.shape[1]}); "
            f"got shape {estimate.shape}."
        )
    n_items = check_int("n_items", n_items, minimum=2, fix="It counts the resampled items.")
    if not 0.0 < ci < 1.0:
        raise ValueError(f"bootstrap_t_test: ci must lie in (0, 1); got {ci}.")
    ref = None if reference is None else np.asarray(reference, dtype=float)
    sets = [(samples, ref)]
    if dual is not None:
        sets += [(np.asarray(s, dtype=float), None if r is None else np.asarray(r, dtype=float))
                 for s, r in dual[:2]]
    k = samples.shape[1]
    dof = n_items - 1
    boot_mean = np.mean([np.nanmean(sc, axis=0) for sc, _ in sets], axis=0)
    if dual is None:
        var, diff_var, ref_var = _variances(samples, _usable(ref), n_items / (n_items - 1))
    else:
        var, diff_var, ref_var = _dual_variances(
            [(sc, _usable(r)) for sc, r in sets], int(dual[2]), int(dual[3])
        )
    t = scipy.stats.t
    p0 = 1 - t.cdf(boot_mean / np.sqrt(np.maximum(var, _EPS)), dof)
    refs = [r[np.isfinite(r)] for _, r in sets if r is not None]
    finite = np.concatenate(refs) if refs else np.empty(0)
    if finite.size and _usable(ref) is not None:
        t_ref = (boot_mean - finite.mean()) / np.sqrt(np.maximum(ref_var, _EPS))
        p_ref = 2 * (1 - t.cdf(np.abs(t_ref), dof))
    else:
        p_ref = np.full(k, np.nan)
    ii, jj = triu(k)
    t_diff = (boot_mean[ii] - boot_mean[jj]) / np.sqrt(np.maximum(diff_var, _EPS))
    pair = np.ones((k, k))
    pair[ii, jj] = pair[jj, ii] = 2 * (1 - t.cdf(np.abs(t_diff), dof))
    half = np.sqrt(np.maximum(var, 0)) * t.ppf(1 - (1 - ci) / 2, dof)
    return xr.Dataset(
        {
            "ci_low": ("statistic", estimate - half),
            "ci_high": ("statistic", estimate + half),
            "pvalue": ("statistic", p0),
            "pvalue_reference": ("statistic", p_ref),
            "pvalue_pairwise": (("statistic", "statistic_b"), pair),
        },
        attrs={"test": "bootstrap t test", "dof": int(dof), "ci": float(ci)},
    )
