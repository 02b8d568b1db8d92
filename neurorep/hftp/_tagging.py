"""Peaks at the tagged rates: neighbouring-bin and shuffled-sequence nulls, unit selection.

Two nulls, as in frequency-tagging work (Ding et al. 2016; the HFTP paper):

* **neighbours**: the power at a tagged bin against the mean power of the
  ``n_neighbors`` bins on each side (skipping DC, the Nyquist bin unless it
  is the target, and every tagged bin and its harmonics). Under noise whose
  spectrum is locally flat, the ratio follows an F distribution with
  ``(d, 2 m)`` degrees of freedom (``d`` = 2, or 1 at the Nyquist bin; ``m``
  neighbours): the spectral F-test of steady-state responses (Zurek 1992;
  Dobie & Wilson 1996). For ITPC the squared coherence plays the role of the
  power.
* **shuffle**: the same statistic after shuffling the order of the tokens
  (syllables) of the sequence, the same shuffle on every trial, which keeps
  each token's response and destroys the periodic structure above it. The
  p-value is ``(1 + #shuffles at least as large) / (1 + n_permutations)``.
  Shuffling tokens keeps the token rate itself, so test the token rate with
  the neighbour null.

p-values are FDR-adjusted across units for each level (neurorep.stats.fdr).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep._core.errors import SchemaError, check_int, check_option
from neurorep.hftp._spectrum import Trials, check_rates, read_trials
from neurorep.stats import as_generator, fdr, permutation_indices

__all__ = ["MEASURES", "NULLS", "classify_units", "score_tagging"]

MEASURES = ("amplitude", "itpc")
NULLS = ("neighbors", "shuffle", "both")
_CHUNK_ELEMENTS = 4_000_000  # complex values per shuffle chunk (about 64 MB)


def _neighbour_bins(k: int, tagged: list[int], n_freq: int, n_neighbors: int, skip: int,
                    even: bool) -> np.ndarray:
    nyq = n_freq - 1 if even else -1
    excluded = {0, nyq} - {k}
    for t in tagged:
        excluded.update(range(t, n_freq, t))
    out = []
    for side in (-1, 1):
        for step in range(skip + 1, skip + n_neighbors + 1):
            j = k + side * step
            if 0 < j < n_freq and j not in excluded and j != k:
                out.append(j)
    return np.asarray(out, dtype=int)


def _power_like(spec: np.ndarray, measure: str) -> np.ndarray:
    """(freq, unit) power (of the evoked response) or squared ITPC from (trial, freq, unit)."""
    if measure == "amplitude":
        return np.abs(spec.mean(axis=0)) ** 2
    mag = np.abs(spec)
    with np.errstate(invalid="ignore", divide="ignore"):
        ph = np.where(mag > 0, spec / np.where(mag > 0, mag, 1.0), np.nan)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.abs(np.nanmean(ph, axis=0)) ** 2


def _shuffle_counts(trials: Trials, bins: list[int], observed: np.ndarray, measure: str,
                    block: int, n_permutations: int, gen: np.random.Generator) -> np.ndarray:
    """Per (level, unit): how many shuffles give a statistic >= the observed one."""
    x = trials.x
    n_trial, n_time, n_unit = x.shape
    t = np.arange(n_time)
    basis = np.exp(-2j * np.pi * np.outer(t, bins) / n_time)  # (time, level)
    perms = permutation_indices(n_time, n_permutations, block_size=block if block > 1 else None,
                                rng=gen)
    inv = np.argsort(perms, axis=1)
    if measure == "amplitude":
        data = x.mean(axis=0)  # (time, unit): the same shuffle on every trial
    else:
        data = np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(n_time, n_trial * n_unit)
    n_levels = len(bins)
    chunk = max(1, _CHUNK_ELEMENTS // max(1, n_levels * data.shape[1]))
    counts = np.zeros((n_levels, n_unit), dtype=np.int64)
    tol = 1e-9 * np.abs(observed)
    for start in range(0, n_permutations, chunk):
        idx = inv[start:start + chunk]  # (c, time)
        c = idx.shape[0]
        b = basis[idx]  # (c, time, level): the basis moved with the shuffle
        bmat = b.transpose(0, 2, 1).reshape(c * n_levels, n_time)
        z = (bmat.real @ data) + 1j * (bmat.imag @ data)
        if measure == "amplitude":
            stat = np.abs(z.reshape(c, n_levels, n_unit)) ** 2
        else:
            z = z.reshape(c, n_levels, n_trial, n_unit)
            mag = np.abs(z)
            with np.errstate(invalid="ignore", divide="ignore"):
                ph = np.where(mag > 0, z / np.where(mag > 0, mag, 1.0), 0.0)
            valid = (mag > 0).sum(axis=2)
            with np.errstate(invalid="ignore", divide="ignore"):
                stat = np.abs(ph.sum(axis=2) / valid) ** 2
        counts += (stat >= observed[None] - tol[None]).sum(axis=0)
    return counts


def _observed_at(trials: Trials, bins: list[int], measure: str) -> np.ndarray:
    n_time = trials.n_time
    t = np.arange(n_time)
    basis = np.exp(-2j * np.pi * np.outer(bins, t) / n_time)  # (level, time)
    spec = np.einsum("lt,ntu->nlu", basis, trials.x, optimize=True)
    return _power_like(spec, measure)


def score_tagging(
    obj: xr.DataArray,
    rates: Mapping[str, float],
    *,
    rate: float | None = None,
    measure: Literal["amplitude", "itpc"] = "amplitude",
    null: Literal["neighbors", "shuffle", "both"] = "both",
    n_neighbors: int = 10,
    skip: int = 0,
    token_rate: float | None = None,
    n_permutations: int = 1000,
    alpha: float = 0.05,
    fdr_method: Literal["bh", "by"] = "bh",
    min_cycles: float = 3,
    rng: np.random.Generator | int | None = None,
) -> xr.Dataset:
    """Which units are tagged at which rates: peak statistics, p-values, FDR selection.

    Parameters
    ----------
    obj : DataArray
        Epochs ``(stimulus, time, unit)`` / ``(stimulus, repetition, time,
        unit)``, a time course ``(time, unit)``, or activations per token
        ``(stimulus, token, unit)`` with ``rate=`` (see
        :func:`compute_spectrum`). All trials belong to one condition: select
        one first, e.g. ``obj.where(obj.condition == "sentences", drop=True)``.
    rates : mapping level -> Hz
        The tagged rates, e.g. ``{"phrase": 2.0, "sentence": 1.0}``. Each must
        be at most the Nyquist frequency, fall on a frequency bin (a whole
        number of cycles in the data) and complete ``min_cycles`` cycles.
    rate : float, optional
        Tokens per second, for activations per token.
    measure : {"amplitude", "itpc"}
        Test the evoked power (squared amplitude of the trial average) or the
        squared inter-trial phase coherence (needs 2 trials or more).
    null : {"neighbors", "shuffle", "both"}
        Which null (module docstring); ``"both"`` takes the larger p-value,
        so a unit must beat both (an intersection-union test).
    n_neighbors, skip : int
        Bins on each side for the neighbour null, after skipping ``skip``
        bins next to the target.
    token_rate : float, optional
        Tokens (syllables) per second of the presentation, for the shuffle
        null on epochs: whole tokens of ``sfreq / token_rate`` samples are
        shuffled. Per-token activations shuffle single tokens.
    n_permutations : int
        Shuffles for the shuffle null.
    alpha : float
        FDR level for ``selected``.
    fdr_method : {"bh", "by"}
        Benjamini-Hochberg or Benjamini-Yekutieli, across units per level.
    min_cycles : float
        Fewest cycles of each rate the data must hold.
    rng : Generator, int or None
        For the shuffles.

    Returns
    -------
    Dataset
        Dims ``(level, unit)``: ``score`` (power at the bin over the mean of
        its neighbours: the F ratio, about 1 without tagging), the measure
        at the bin (``amplitude``, in data units, or ``itpc``),
        ``pvalue_neighbors`` and/or ``pvalue_shuffle``, ``pvalue`` (the one
        used), ``qvalue`` (FDR-adjusted per level) and ``selected``
        (``qvalue <= alpha``); coords ``freq`` (per level) and the unit
        coordinates of ``obj``.

    Raises
    ------
    ValueError
        A rate above Nyquist, off a frequency bin or with too few cycles; a
        level with no neighbour bins; the shuffle null on epochs without
        ``token_rate``, or a token that is not a whole number of samples.
    SchemaError
        Bad input data (see :func:`compute_spectrum`).

    Examples
    --------
    >>> from neurorep import datasets, hftp
    >>> ep = datasets.make_tagged_sequences(units={"sentence": 5, "none": 5}, rng=0)
    >>> res = hftp.score_tagging(ep, {"sentence": 1.0}, token_rate=4.0, n_permutations=199,
    ...                          rng=0)
    >>> res["selected"].sel(level="sentence").values.astype(int).tolist()
    [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    """
    check_option("measure", measure, MEASURES)
    check_option("null", null, NULLS)
    check_option("fdr_method", fdr_method, ("bh", "by"))
    n_neighbors = check_int("n_neighbors", n_neighbors, minimum=1)
    skip = check_int("skip", skip, minimum=0)
    if not (isinstance(alpha, float | int) and 0 < alpha < 1):
        raise ValueError(f"alpha must be in (0, 1); got {alpha!r}.")
    trials = read_trials(obj, rate=rate, name="score_tagging")
    for clash in ("level", "freq"):
        if clash in trials.unit.coords:
            raise SchemaError(
                f"score_tagging: the units carry a coordinate {clash!r}, a dim of the result; "
                f"rename it, e.g. obj.rename({clash}='{clash}_of_unit')."
            )
    bins = check_rates(rates, trials, min_cycles=min_cycles, name="score_tagging")
    levels, kbins = list(bins), list(bins.values())
    n_trial, n_time, n_unit = trials.x.shape
    if measure == "itpc" and n_trial < 2:
        raise ValueError(
            f"score_tagging: measure='itpc' needs at least 2 trials; got {n_trial}. Use "
            f"measure='amplitude', or pass several trials (stimulus or repetition)."
        )
    even = n_time % 2 == 0
    n_freq = n_time // 2 + 1
    out: dict[str, Any] = {}
    observed = _observed_at(trials, kbins, measure)  # (level, unit)
    spec = np.fft.rfft(trials.x, axis=1)
    power = _power_like(spec, measure)  # (freq, unit)
    score = np.empty((len(levels), n_unit))
    p_nb = np.empty((len(levels), n_unit))
    from scipy import stats as sps

    for i, k in enumerate(kbins):
        nb = _neighbour_bins(k, kbins, n_freq, n_neighbors, skip, even)
        if nb.size == 0:
            raise ValueError(
                f"score_tagging: level {levels[i]!r} ({k / (n_time * trials.dt):g} Hz) has no "
                f"neighbouring bin to compare with (the others are DC, Nyquist or tagged); use "
                f"longer sequences (finer frequency bins) or null='shuffle'."
            )
        ref = power[nb].mean(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            score[i] = np.where(ref > 0, observed[i] / np.where(ref > 0, ref, 1.0), np.nan)
        d1 = 1 if (even and k == n_freq - 1) else 2
        p_nb[i] = sps.f.sf(score[i], d1, 2 * nb.size)
    out["score"] = score
    scale = np.where(np.asarray(kbins) == (n_freq - 1 if even else -1), 1.0, 2.0) / n_time
    out[measure] = (np.sqrt(observed) * scale[:, None] if measure == "amplitude"
                    else np.sqrt(observed))
    attrs: dict[str, Any] = {
        "measure": measure, "null": null, "n_neighbors": n_neighbors, "skip": skip,
        "alpha": float(alpha), "fdr_method": fdr_method, "n_trials": n_trial,
        "sampling_interval": trials.dt, "n_samples": n_time,
    }
    if null in ("neighbors", "both"):
        out["pvalue_neighbors"] = p_nb
    if null in ("shuffle", "both"):
        n_permutations = check_int("n_permutations", n_permutations, minimum=1,
                                   fix="e.g. n_permutations=1000.")
        block = _block(trials, token_rate)
        gen = as_generator(rng)
        counts = _shuffle_counts(trials, kbins, observed, measure, block, n_permutations, gen)
        p_sh = (1.0 + counts) / (1.0 + n_permutations)
        p_sh = np.where(np.isnan(observed), np.nan, p_sh)
        out["pvalue_shuffle"] = p_sh
        attrs.update(n_permutations=n_permutations, token_samples=block)
        if isinstance(rng, int | np.integer):
            attrs["seed"] = int(rng)
    if null == "neighbors":
        pvalue = p_nb
    elif null == "shuffle":
        pvalue = out["pvalue_shuffle"]
    else:
        pvalue = np.fmax(p_nb, out["pvalue_shuffle"])
    pvalue = np.where(np.isnan(score), np.nan, pvalue)
    out["pvalue"] = pvalue
    q = np.vstack([fdr(row, method=fdr_method) for row in pvalue])
    out["qvalue"] = q
    out["selected"] = np.nan_to_num(q, nan=1.0) <= alpha
    freqs = np.asarray(kbins) / (n_time * trials.dt)
    return xr.Dataset(
        {k: (("level", "unit"), v) for k, v in out.items()},
        coords={"level": levels, "freq": ("level", freqs), **dict(trials.unit.coords)},
        attrs=attrs,
    )


def _block(trials: Trials, token_rate: float | None) -> int:
    if trials.token_rate is not None:
        if token_rate is not None and abs(token_rate - trials.token_rate) > 1e-9:
            raise ValueError(
                f"score_tagging: token_rate={token_rate!r} differs from rate={trials.token_rate!r} "
                f"of the activations per token; drop token_rate."
            )
        return 1
    if token_rate is None:
        raise ValueError(
            "score_tagging: the shuffle null shuffles whole tokens (syllables); for epochs pass "
            "token_rate= (tokens per second of the presentation, e.g. token_rate=4.0), or use "
            "null='neighbors'."
        )
    per = 1.0 / (float(token_rate) * trials.dt)
    block = int(round(per))
    if block < 1 or abs(per - block) > 1e-6 * per:
        raise ValueError(
            f"score_tagging: a token lasts {per:.6g} samples at token_rate={token_rate!r} and a "
            f"sampling interval of {trials.dt:g} s; the shuffle needs a whole number of samples "
            f"per token. Resample the epochs (e.g. to a multiple of {token_rate:g} Hz)."
        )
    if trials.n_time % block:
        raise ValueError(
            f"score_tagging: {trials.n_time} samples are not a whole number of tokens of {block} "
            f"samples; crop the epochs to whole tokens."
        )
    if trials.n_time // block < 2:
        raise ValueError("score_tagging: the shuffle null needs at least 2 tokens per trial.")
    return block


def classify_units(result: xr.Dataset) -> xr.DataArray:
    """One label per unit: the levels it is selected at, joined by ``"+"``, or ``"none"``.

    Parameters
    ----------
    result : Dataset
        From :func:`score_tagging` (uses ``selected``).

    Returns
    -------
    DataArray
        ``(unit,)`` of str, levels in the order of ``result.level`` (e.g.
        ``"phrase+sentence"``), with the unit coordinates.

    Examples
    --------
    >>> from neurorep import datasets, hftp
    >>> ep = datasets.make_tagged_sequences(units={"phrase+sentence": 2, "none": 1}, snr=2.0,
    ...                                     rng=0)
    >>> res = hftp.score_tagging(ep, {"phrase": 2.0, "sentence": 1.0}, null="neighbors")
    >>> hftp.classify_units(res).values.tolist()
    ['phrase+sentence', 'phrase+sentence', 'none']
    """
    if not isinstance(result, xr.Dataset) or "selected" not in result or "level" not in result.dims:
        raise SchemaError(
            "classify_units: expected the Dataset from neurorep.hftp.score_tagging (with "
            "'selected' over (level, unit))."
        )
    sel = np.asarray(result["selected"].transpose("level", "unit").values, dtype=bool)
    names = [str(v) for v in result["level"].values]
    labels = ["+".join(n for n, s in zip(names, col, strict=True) if s) or "none" for col in sel.T]
    coords = {k: v for k, v in result.coords.items() if v.dims == ("unit",)}
    return xr.DataArray(np.asarray(labels), dims=("unit",), coords=coords, name="level")
