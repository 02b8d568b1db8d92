"""Frequency-tagging simulators: unit responses tagged at chosen linguistic levels, and
four-word sentence sequences for language models.

* :func:`make_tagged_sequences` -- epochs of units that follow a sequence of
  syllables (tokens) presented at a fixed rate; each unit is planted as tagged
  at some levels (a phase-locked oscillation at that level's rate) or at none;
* :func:`make_word_sequences` -- sequences of four-word sentences
  ``[adjective noun] [verb noun]`` (one syllable, one token per word), and
  the same words in random order, for the frequency-tagging probe of a
  language model (:mod:`neurorep.hftp`).

The design follows Ding et al. (2016, Nat Neurosci) and the HFTP paper (An
et al. 2025): syllables at 4 Hz, two-word phrases at 2 Hz, four-word
sentences at 1 Hz.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from neurorep._core.errors import check_int
from neurorep._core.rng import as_generator
from neurorep.data import responses

__all__ = ["FOUR_SYLLABLE_LEVELS", "make_tagged_sequences", "make_word_sequences"]

#: Period of each level in syllables (tokens) for four-syllable sentences.
FOUR_SYLLABLE_LEVELS: dict[str, int] = {"syllable": 1, "phrase": 2, "sentence": 4}

_DEFAULT_UNITS: dict[str, int] = {
    "sentence": 10, "phrase": 10, "phrase+sentence": 5, "none": 25,
}


def _check_levels(levels: Mapping[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, period in levels.items():
        out[str(name)] = check_int(
            f"make_tagged_sequences: levels[{name!r}] (period in syllables)", period, minimum=1
        )
    if not out:
        raise ValueError("make_tagged_sequences: levels must name at least one level.")
    return out


def _noise(gen: np.random.Generator, shape: tuple[int, ...], exponent: float) -> np.ndarray:
    """Gaussian noise along axis -2 (time) with power ~ 1/f**exponent, unit variance."""
    white = gen.standard_normal(shape)
    if exponent == 0:
        return white
    n = shape[-2]
    spec = np.fft.rfft(white, axis=-2)
    f = np.fft.rfftfreq(n)
    f[0] = f[1]  # keep the mean's scale finite
    spec *= (f ** (-exponent / 2.0))[:, None]
    out = np.fft.irfft(spec, n=n, axis=-2)
    return out / out.std(axis=-2, keepdims=True)


def make_tagged_sequences(
    *,
    units: Mapping[str, int] | None = None,
    levels: Mapping[str, int] | None = None,
    conditions: Mapping[str, Sequence[str]] | None = None,
    n_trials: int = 20,
    n_syllables: int = 40,
    rate: float = 4.0,
    samples_per_syllable: int = 1,
    snr: float = 0.5,
    noise_exponent: float = 0.0,
    region: str | None = None,
    rng: np.random.Generator | int | None = None,
) -> xr.DataArray:
    """Simulated epochs of units tagged at chosen levels of a syllable sequence.

    Syllables (tokens) are presented at ``rate`` Hz; a level of period ``p``
    syllables (``levels``) repeats at ``rate / p`` Hz. A unit planted as
    tagged at a level carries a sinusoid at that level's rate with a phase of
    its own that is the same on every trial (phase-locked to the sequence),
    of amplitude ``snr`` times the noise standard deviation; at the Nyquist
    rate the phase is 0 or pi (the only phases a sampled sinusoid there can
    have). Every unit gets independent Gaussian noise on every trial, white
    or ``1/f**noise_exponent``. Untagged units (``"none"``) are noise only:
    the ground truth for a false-positive rate.

    Parameters
    ----------
    units : mapping label -> count, optional
        How many units of each kind. A label is ``"none"`` or level names
        joined by ``"+"`` (``"phrase+sentence"`` is tagged at both). Default
        ``{"sentence": 10, "phrase": 10, "phrase+sentence": 5, "none": 25}``.
    levels : mapping level -> period in syllables, optional
        Default :data:`FOUR_SYLLABLE_LEVELS` (syllable 1, phrase 2, sentence 4).
    conditions : mapping condition -> levels present, optional
        Several conditions of ``n_trials`` trials each; a unit tagged at a
        level carries it only in the conditions where that level is present
        (e.g. ``{"sentences": ["phrase", "sentence"], "phrases": ["phrase"],
        "random": []}``). Default: one condition ``"sequence"`` with every
        level present.
    n_trials : int
        Trials (sequences) per condition, the ``stimulus`` dim.
    n_syllables : int
        Syllables per trial; a multiple of every level's period, so that every
        rate falls on a frequency bin.
    rate : float
        Syllable (token) rate in Hz.
    samples_per_syllable : int
        Samples per syllable: 1 gives one sample per token (model units);
        more gives a finer time grid (brain channels), and a syllable-rate
        level needs at least 3 (the rate must stay below Nyquist).
    snr : float
        Amplitude of a planted sinusoid over the noise standard deviation.
    noise_exponent : float
        0 for white noise, 1 for pink (1/f) noise.
    region : str, optional
        A ``region`` coordinate for every unit, and a prefix of the unit ids
        (so that simulated regions can be concatenated along ``unit``).
    rng : int, Generator or None
        Seed or generator of the simulation (None: fresh entropy).

    Returns
    -------
    DataArray
        Epochs ``(stimulus, time, unit)``, time in seconds; stimulus coord
        ``condition``; unit coords ``tagged`` (the planted label) and, when
        given, ``region``; attrs ``rates`` (level -> Hz), ``rate`` (syllables
        per second), ``sfreq``; the planted phases as unit coords ``phase_<level>``.

    Raises
    ------
    ValueError
        A label naming an unknown level, ``n_syllables`` not a multiple of a
        period, or a planted level at or above the Nyquist rate.

    Examples
    --------
    >>> from neurorep import datasets
    >>> ep = datasets.make_tagged_sequences(rng=0)
    >>> ep.dims, ep.attrs["rates"]
    (('stimulus', 'time', 'unit'), {'syllable': 4.0, 'phrase': 2.0, 'sentence': 1.0})
    >>> sorted(set(ep["tagged"].values.tolist()))
    ['none', 'phrase', 'phrase+sentence', 'sentence']
    """
    fn = "make_tagged_sequences"
    gen = as_generator(rng)
    units = dict(units) if units is not None else dict(_DEFAULT_UNITS)
    lv = _check_levels(levels if levels is not None else FOUR_SYLLABLE_LEVELS)
    n_trials = check_int(f"{fn}: n_trials", n_trials, minimum=1)
    n_syllables = check_int(f"{fn}: n_syllables", n_syllables, minimum=2)
    sps = check_int(f"{fn}: samples_per_syllable", samples_per_syllable, minimum=1)
    if not (np.isfinite(rate) and rate > 0):
        raise ValueError(f"{fn}: rate must be a positive number of syllables per second; got {rate!r}.")
    if not units:
        raise ValueError(f"{fn}: units must name at least one kind of unit.")
    conds = (
        {str(k): [str(x) for x in v] for k, v in conditions.items()}
        if conditions is not None else {"sequence": list(lv)}
    )
    if not conds:
        raise ValueError(f"{fn}: conditions must name at least one condition.")
    for label, count in units.items():
        check_int(f"{fn}: units[{label!r}]", count, minimum=0)
        parts = [] if label == "none" else label.split("+")
        bad = [p for p in parts if p not in lv]
        if bad:
            raise ValueError(
                f"{fn}: units label {label!r} names unknown level(s) {bad}; levels are {list(lv)} "
                f"(join several with '+', or use 'none')."
            )
    for cond, present in conds.items():
        bad = [p for p in present if p not in lv]
        if bad:
            raise ValueError(f"{fn}: conditions[{cond!r}] names unknown level(s) {bad}; levels are {list(lv)}.")
    for name, period in lv.items():
        if n_syllables % period:
            raise ValueError(
                f"{fn}: n_syllables ({n_syllables}) must be a multiple of every level's period "
                f"so each rate falls on a frequency bin; level {name!r} has period {period}."
            )
    sfreq = rate * sps
    n_time = n_syllables * sps
    time = np.arange(n_time) / sfreq
    used = {p for label in units if label != "none" for p in label.split("+")}
    for name in used:
        if rate / lv[name] > sfreq / 2 * (1 + 1e-12):
            raise ValueError(
                f"{fn}: level {name!r} repeats at {rate / lv[name]:g} Hz, above the Nyquist rate "
                f"{sfreq / 2:g} Hz of {sps} sample(s) per syllable; raise samples_per_syllable "
                f"(>= {int(np.ceil(2 / lv[name]))}) or drop the level from units."
            )
    labels: list[str] = []
    for label, count in units.items():
        labels += [label] * int(count)
    n_units = len(labels)
    if n_units == 0:
        raise ValueError(f"{fn}: units holds no unit (every count is 0).")
    phases = np.zeros((n_units, len(lv)))
    for j, name in enumerate(lv):
        f = rate / lv[name]
        if abs(f - sfreq / 2) < 1e-9:
            phases[:, j] = np.pi * gen.integers(0, 2, n_units)
        else:
            phases[:, j] = gen.uniform(0, 2 * np.pi, n_units)
    blocks, cond_of = [], []
    for cond, present in conds.items():
        signal = np.zeros((n_time, n_units))
        for j, name in enumerate(lv):
            if name not in present:
                continue
            tagged = np.array([name in lab.split("+") for lab in labels])
            wave = np.cos(2 * np.pi * (rate / lv[name]) * time[:, None] + phases[None, :, j])
            signal += snr * np.sqrt(2.0) * wave * tagged[None, :]
        noise = _noise(gen, (n_trials, n_time, n_units), float(noise_exponent))
        blocks.append(signal[None] + noise)
        cond_of += [cond] * n_trials
    values = np.concatenate(blocks)
    prefix = f"{region}_" if region else ""
    width = len(str(len(cond_of) - 1))
    counters: dict[str, int] = {}
    ids = []
    for lab in labels:
        ids.append(f"{prefix}{lab}_u{counters.get(lab, 0):03d}")
        counters[lab] = counters.get(lab, 0) + 1
    unit_coords: dict[str, np.ndarray] = {"tagged": np.asarray(labels)}
    for j, name in enumerate(lv):
        unit_coords[f"phase_{name}"] = phases[:, j]
    return responses(
        values, dims=("stimulus", "time", "unit"),
        stimulus=[f"{c}_seq{i:0{width}d}" for i, c in enumerate(cond_of)],
        time=time, unit=ids,
        region=np.full(n_units, region) if region else None,
        unit_coords=unit_coords,
        stimulus_coords={"condition": np.asarray(cond_of)},
        attrs={"rates": {k: rate / p for k, p in lv.items()}, "rate": float(rate),
               "sfreq": float(sfreq), "snr": float(snr), "noise_exponent": float(noise_exponent),
               "simulator": fn},
        name="responses",
    )


# one-syllable, one-token words (each is a single WordPiece of the MiniLM vocabulary)
_ADJECTIVES = (
    "fat old red big small young dark cold hot wet tall sad happy tired angry quiet loud brave "
    "wild kind poor rich shy calm"
).split()
_SUBJECTS = (
    "rat dog cat man boy girl king bird fish horse cow pig fox wolf bear child woman farmer "
    "doctor teacher soldier baker sailor nurse"
).split()
_VERBS = (
    "saw ate found chased fed held took liked hit kicked pushed pulled carried bought sold "
    "caught washed painted watched heard"
).split()
_OBJECTS = (
    "fear bread milk water fruit meat cake corn rice wood stone coal salt wine beer soup tea "
    "paper glass gold"
).split()
_NOUNS = _SUBJECTS + _OBJECTS


def make_word_sequences(
    *,
    n_sequences: int = 20,
    n_sentences: int = 10,
    conditions: Sequence[str] = ("sentences", "random"),
    rng: np.random.Generator | int | None = None,
) -> xr.DataArray:
    """Sequences of four-word sentences, and control sequences of the same words.

    Each sentence is ``[adjective noun] [verb noun]`` ("fat rat sensed
    fear"): four one-syllable words, each a single token of the bundled
    MiniLM vocabulary, so that presented at 4 words per second the phrases
    repeat at 2 Hz and the sentences at 1 Hz.

    Parameters
    ----------
    n_sequences : int
        Sequences per condition (the ``stimulus`` dim).
    n_sentences : int
        Sentences per sequence (``4 * n_sentences`` words).
    conditions : sequence of str
        Any of ``"sentences"`` (the structure above), ``"phrases"`` (two-word
        noun phrases only, ``[adjective noun] [adjective noun]`` with both
        nouns from one pool: phrases without sentences) and ``"random"`` (the words of a ``"sentences"``
        sequence, drawn afresh, in random order: no phrases, no sentences).
    rng : int, Generator or None
        Seed or generator of the simulation (None: fresh entropy).

    Returns
    -------
    DataArray
        Words ``(stimulus, token)`` (str); stimulus coord ``condition``;
        token coord ``position`` (0-3 within a sentence).

    Examples
    --------
    >>> from neurorep import datasets
    >>> w = datasets.make_word_sequences(n_sequences=2, n_sentences=2, rng=0)
    >>> w.sizes["token"], w["condition"].values.tolist()
    (8, ['sentences', 'sentences', 'random', 'random'])
    """
    fn = "make_word_sequences"
    gen = as_generator(rng)
    n_sequences = check_int(f"{fn}: n_sequences", n_sequences, minimum=1)
    n_sentences = check_int(f"{fn}: n_sentences", n_sentences, minimum=1)
    known = ("sentences", "phrases", "random")
    conditions = [str(c) for c in conditions]
    bad = [c for c in conditions if c not in known]
    if bad or not conditions:
        raise ValueError(f"{fn}: conditions must be a non-empty subset of {list(known)}; got {conditions}.")

    def pick(words: list[str], n: int) -> np.ndarray:
        return np.asarray(words)[gen.integers(0, len(words), n)]

    rows, cond_of = [], []
    for cond in conditions:
        for _ in range(n_sequences):
            n = n_sentences
            if cond == "phrases":  # one noun pool for both phrases: nothing repeats every 4 words
                cols = [pick(_ADJECTIVES, n), pick(_NOUNS, n), pick(_ADJECTIVES, n),
                        pick(_NOUNS, n)]
            else:
                cols = [pick(_ADJECTIVES, n), pick(_SUBJECTS, n), pick(_VERBS, n),
                        pick(_OBJECTS, n)]
            seq = np.stack(cols, axis=1).ravel()
            if cond == "random":
                seq = seq[gen.permutation(seq.size)]
            rows.append(seq)
            cond_of.append(cond)
    width = len(str(len(rows) - 1))
    return xr.DataArray(
        np.stack(rows).astype(str), dims=("stimulus", "token"),
        coords={"stimulus": [f"{c}_seq{i:0{width}d}" for i, c in enumerate(cond_of)],
                "condition": ("stimulus", np.asarray(cond_of)),
                "token": np.arange(4 * n_sentences),
                "position": ("token", np.tile(np.arange(4), n_sentences))},
        name="words", attrs={"words_per_sentence": 4, "simulator": fn},
    )
