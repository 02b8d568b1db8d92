"""Time-resolved data: loaders for epochs on the mirror and a simulator with planted latencies.

* :func:`load_zhang2011_it_7objects` -- macaque IT spike rasters (NeuroDecodeR's
  example data), binned into firing rates as a pseudo-population;
* :func:`load_mne_evoked_audvis` -- MNE-Python's real MEG + EEG test evoked file;
* :func:`load_things_eeg2` -- the THINGS-EEG2 preprocessed layout
  (``preprocessed_eeg_training.npy``);
* :func:`make_epochs` -- simulated epochs with a planted onset and peak per region.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep import SchemaError
from neurorep._core.rng import as_generator
from neurorep.data import from_mne, responses
from neurorep.datasets._fetch import default_data_home
from neurorep.datasets._loaders import _files as _folder
from neurorep.datasets._loaders import _tree
from neurorep.datasets._manifest import get_manifest
from neurorep.datasets._pickle import RestrictedUnpickler

__all__ = [
    "load_mne_evoked_audvis",
    "load_things_eeg2",
    "load_zhang2011_it_7objects",
    "make_epochs",
]


# ----------------------------------------------------------------------------- Zhang-Desimone
_ONSET_COLUMN = 500  # 0-based raster column of image onset (alignment_event_time = 501, 1-based)
_LABELS = {"object": "stimulus_ID", "position": "stimulus_position",
           "object_position": "combined_ID_position"}


def load_zhang2011_it_7objects(
    data_home: str | Path | None = None,
    *,
    verify: bool = True,
    labels: Literal["object", "position", "object_position"] = "object",
    bin_width: float = 0.05,
    step: float = 0.025,
    n_trials: int | None = None,
) -> xr.DataTree:
    """Macaque IT spike rasters (Zhang et al. 2011) as binned firing-rate epochs.

    132 single units recorded in different sessions while a monkey viewed 7
    objects at 3 positions (about 20 trials per object and position), 1-ms
    spike rasters from 500 ms before to 500 ms after image onset
    (NeuroDecodeR's example data). The units were not recorded together, so
    the result is a **pseudo-population**, as the neural decoding toolbox
    builds it: for every unit and label, its first ``n_trials`` trials of
    that label fill the ``repetition`` slots (trial ``k`` of different units
    are independent recordings). Reshuffle the slots per unit with
    :func:`neurorep.decoding.pseudo_population` for a new draw.

    Parameters
    ----------
    data_home : path, optional
        Folder that holds ``zhang_desimone_macaque_IT_7objects_neurodecoder/``.
    verify : bool
        Check every file's sha256 against the manifest first.
    labels : {"object", "position", "object_position"}
        What the ``stimulus`` axis is: the 7 objects (60 trials each), the 3
        positions (140 each) or the 21 combinations (20 each).
    bin_width, step : float
        Spike counts in windows of ``bin_width`` seconds every ``step``
        seconds, as firing rates (spikes/s); ``time`` is each window's centre
        relative to image onset.
    n_trials : int, optional
        Trials per label and unit; default the largest number every unit has
        for every label.

    Returns
    -------
    DataTree
        Member ``IT``: epochs ``(stimulus, repetition, time, unit)`` (unit ids
        = raster file names; unit coordinates ``session``, ``channel``,
        ``region``); with ``labels="object_position"`` the stimulus
        coordinates ``object`` and ``position``.

    Raises
    ------
    ValueError
        An unknown ``labels``, ``n_trials`` larger than some unit has.
    SchemaError
        A bin wider than the rasters or narrower than 1 ms.

    Examples
    --------
    >>> from neurorep import datasets, data
    >>> it = data.members(datasets.load("zhang2011_it_7objects"))["IT"]
    >>> it.dims, it.sizes["stimulus"], it.sizes["unit"]
    (('stimulus', 'repetition', 'time', 'unit'), 7, 132)
    """
    import scipy.io as sio

    if labels not in _LABELS:
        raise ValueError(f"labels must be one of {list(_LABELS)}; got {labels!r}.")
    manifest = get_manifest("zhang2011_it_7objects")
    folder = _folder(manifest, data_home, verify)
    width, stride = _bins(bin_width, step)
    rasters, trial_labels, units, sessions, channels = [], [], [], [], []
    for entry in manifest.files:
        mat = sio.loadmat(folder / entry.name, simplify_cells=True)
        rasters.append(np.asarray(mat["raster_data"], dtype=np.int32))
        trial_labels.append(np.asarray(mat["raster_labels"][_LABELS[labels]]).astype(str))
        site = mat["raster_site_info"]
        units.append(Path(entry.name).stem.removesuffix("_raster_data"))
        sessions.append(str(site["session_ID"]))
        channels.append(int(site["recording_channel"]))
    names = sorted(set(np.concatenate(trial_labels).tolist()))
    counts = np.array([[int((lab == n).sum()) for n in names] for lab in trial_labels])
    most = int(counts.min())
    if n_trials is None:
        n_trials = most
    elif not isinstance(n_trials, int | np.integer) or isinstance(n_trials, bool) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive int; got {n_trials!r}.")
    elif n_trials > most:
        u, k = np.unravel_index(int(np.argmin(counts)), counts.shape)
        raise ValueError(
            f"n_trials={n_trials} but unit {units[u]!r} has only {most} trials of {names[k]!r}; "
            f"pass n_trials <= {most}."
        )
    n_cols = rasters[0].shape[1]
    if width > n_cols:
        raise SchemaError(
            f"load_zhang2011_it_7objects: bin_width={bin_width:g} s is longer than the rasters "
            f"({n_cols} ms); pass a shorter bin_width."
        )
    starts = np.arange(0, n_cols - width + 1, stride)
    cube = np.empty((len(names), n_trials, starts.size, len(units)), dtype=np.float64)
    for col, (raster, lab) in enumerate(zip(rasters, trial_labels, strict=True)):
        csum = np.concatenate([np.zeros((raster.shape[0], 1), np.int64),
                               np.cumsum(raster, axis=1)], axis=1)
        counts_u = csum[:, starts + width] - csum[:, starts]  # (trial, bin)
        for s, name in enumerate(names):
            cube[s, :, :, col] = counts_u[np.flatnonzero(lab == name)[:n_trials]]
    cube *= 1000.0 / width  # spikes per second
    time = (starts - _ONSET_COLUMN + width / 2.0) / 1000.0
    stim_coords: dict[str, Any] = {}
    if labels == "object_position":
        stim_coords = {"object": [n.rsplit("_", 1)[0] for n in names],
                       "position": [n.rsplit("_", 1)[1] for n in names]}
    it = responses(
        cube, dims=("stimulus", "repetition", "time", "unit"), stimulus=names,
        repetition=[f"pseudo{k:02d}" for k in range(n_trials)], time=np.round(time, 6),
        unit=units, region="IT", subject="monkey",
        unit_coords={"session": sessions, "channel": channels},
        stimulus_coords=stim_coords,
        attrs={"measure": "firing rate (spikes/s)", "bin_width": width / 1000.0,
               "bin_step": stride / 1000.0, "labels": labels,
               "pseudo_population": "trial k of every unit: its k-th recorded trial of the label"},
        name="responses",
    )
    return _tree(manifest, {"IT": it})


def _bins(bin_width: float, step: float) -> tuple[int, int]:
    out = []
    for label, v in (("bin_width", bin_width), ("step", step)):
        ms = float(v) * 1000.0
        if not np.isfinite(ms) or round(ms) < 1 or abs(ms - round(ms)) > 1e-6:
            raise SchemaError(
                f"load_zhang2011_it_7objects: {label} must be a whole number of milliseconds "
                f">= 1 ms (the rasters have 1-ms bins); got {v!r} s."
            )
        out.append(int(round(ms)))
    return out[0], out[1]


# ----------------------------------------------------------------------------- MNE evoked
def load_mne_evoked_audvis(
    data_home: str | Path | None = None, *, verify: bool = True
) -> xr.DataTree:
    """MNE-Python's test evoked file: real MEG + EEG averages of 4 conditions.

    The "sample" auditory/visual experiment (Elekta Neuromag, 600.6 Hz): left
    and right auditory tones, left and right visual checkerboards, a few
    trials each -- a real-format fixture for the MNE bridge, not a dataset for
    findings. Read with ``mne.read_evokeds`` (needs ``mne``).

    Parameters
    ----------
    data_home : str or Path, optional
        Folder holding the dataset's mirror folder; default
        :func:`default_data_home`.
    verify : bool, optional
        Check every file's sha256 against the manifest first (default True).

    Returns
    -------
    DataTree
        Member ``evoked``: epochs ``(stimulus 4, time 421, unit 366)`` from
        :func:`neurorep.data.from_mne` (the data channels: 204 gradiometers,
        102 magnetometers, 60 EEG), with ``ch_type``, sensor positions and
        ``nave``.

    Examples
    --------
    >>> from neurorep import datasets, data
    >>> ev = data.members(datasets.load("mne_evoked_audvis"))["evoked"]
    >>> ev.stimulus.values.tolist()
    ['Left Auditory', 'Right Auditory', 'Left visual', 'Right visual']
    """
    try:
        import mne
    except ImportError as err:  # pragma: no cover - mne is in the test extra
        raise ImportError("load_mne_evoked_audvis needs MNE-Python: pip install mne") from err
    manifest = get_manifest("mne_evoked_audvis")
    folder = _folder(manifest, data_home, verify)
    evokeds = mne.read_evokeds(folder / "test-ave.fif.gz", verbose="error")
    return _tree(manifest, {"evoked": from_mne(evokeds)})


# ----------------------------------------------------------------------------- THINGS-EEG2
def _read_pickled_npy(path: Path) -> Any:
    """A ``.npy`` file holding a pickled object (``np.save(dict)``), read without running code."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            _, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            _, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:  # pragma: no cover - numpy writes 1.0-3.0
            raise SchemaError(f"{str(path)!r}: unsupported .npy format version {version}.")
        if dtype != np.dtype(object):
            f.seek(0)
            return np.load(f, allow_pickle=False)
        obj = RestrictedUnpickler(f, source=repr(str(path))).load()
    return obj.item() if isinstance(obj, np.ndarray) and obj.shape == () else obj


def load_things_eeg2(
    data_home: str | Path | None = None,
    *,
    verify: bool = True,
    subject: str = "sub-01",
    split: Literal["training", "test"] = "training",
    path: str | Path | None = None,
    montage: str | None = None,
) -> xr.DataTree:
    """THINGS-EEG2 preprocessed EEG (Gifford et al. 2022) from its published layout.

    Reads ``preprocessed_eeg_<split>.npy`` -- a pickled dict with
    ``preprocessed_eeg_data`` (images x repetitions x channels x times),
    ``ch_names`` and ``times`` -- as the OSF project ships it (download it
    yourself: the manifest has no checksums, so this file is read with
    neurorep's restricted unpickler, which admits only containers and numpy
    arrays and never runs code named in the file).

    Parameters
    ----------
    data_home : path, optional
        Holds ``things_eeg2/<subject>/preprocessed_eeg_<split>.npy`` (or
        ``things_eeg2/Preprocessed_data_250Hz/<subject>/...``, the OSF
        layout).
    verify : bool
        Unused (no published checksums); kept for :func:`neurorep.datasets.load`.
    subject : str
        Folder of the subject, e.g. ``"sub-01"``.
    split : {"training", "test"}
    path : path, optional
        The ``.npy`` file itself (overrides ``data_home``/``subject``/``split``).
    montage : str, optional
        An MNE standard montage name (``"colin27_1020"``, ``"easycap-M1"``...) to add sensor
        positions ``x``, ``y``, ``z`` (needs ``mne``); default none.

    Returns
    -------
    DataTree
        Member ``eeg``: epochs ``(stimulus, repetition, time, unit)`` with
        stimulus ids ``<split>_00001``..., unit ids = channel names,
        ``ch_type="eeg"``.

    Raises
    ------
    FileNotFoundError
        The file is not where it was looked for (the message lists where).
    SchemaError
        A file without the expected keys or shapes.
    UnsafeFileError
        The file names anything but containers and arrays.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from neurorep import datasets, data
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> np.save(d / "preprocessed_eeg_test.npy", {"preprocessed_eeg_data": np.zeros((3, 2, 4, 5)),
    ...         "ch_names": ["Fp1", "Fz", "Cz", "Oz"], "times": np.arange(5) / 100 - 0.01})
    >>> eeg = data.members(datasets.load_things_eeg2(path=d / "preprocessed_eeg_test.npy"))["eeg"]
    >>> eeg.dims, eeg.shape
    (('stimulus', 'repetition', 'time', 'unit'), (3, 2, 5, 4))
    """
    if split not in ("training", "test"):
        raise ValueError(f"split must be one of ['training', 'test']; got {split!r}.")
    manifest = get_manifest("things_eeg2")
    fname = f"preprocessed_eeg_{split}.npy"
    if path is None:
        root = (Path(data_home) if data_home is not None else default_data_home()) / manifest.folder
        candidates = [root / subject / fname, root / "Preprocessed_data_250Hz" / subject / fname]
        found = [c for c in candidates if c.is_file()]
        if not found:
            raise FileNotFoundError(
                f"things_eeg2: {fname} not found at {[str(c) for c in candidates]}. "
                f"{manifest.access} Then pass data_home= (the folder holding 'things_eeg2/') or "
                f"path= the file itself."
            )
        path = found[0]
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"things_eeg2: {str(path)!r} does not exist.")
    raw = _read_pickled_npy(path)
    keys = ("preprocessed_eeg_data", "ch_names", "times")
    if not isinstance(raw, Mapping) or any(k not in raw for k in keys):
        got = sorted(raw) if isinstance(raw, Mapping) else type(raw).__name__
        raise SchemaError(
            f"things_eeg2: {str(path)!r} must hold a dict with keys {list(keys)} (the THINGS-EEG2 "
            f"preprocessed layout); got {got}."
        )
    values = np.asarray(raw["preprocessed_eeg_data"])
    ch_names = [str(c) for c in raw["ch_names"]]
    times = np.asarray(raw["times"], dtype=np.float64)
    if values.ndim != 4 or values.shape[2] != len(ch_names) or values.shape[3] != times.size:
        raise SchemaError(
            f"things_eeg2: preprocessed_eeg_data must be (images, repetitions, channels, times) = "
            f"(n, r, {len(ch_names)}, {times.size}) to match ch_names and times; got "
            f"{values.shape}."
        )
    unit_coords: dict[str, Any] = {"ch_type": "eeg"}
    if montage is not None:
        unit_coords.update(_montage_positions(montage, ch_names))
    width = len(str(values.shape[0]))
    eeg = responses(
        np.transpose(values, (0, 1, 3, 2)), dims=("stimulus", "repetition", "time", "unit"),
        stimulus=[f"{split}_{i + 1:0{max(width, 5)}d}" for i in range(values.shape[0])],
        repetition=[f"rep{r + 1}" for r in range(values.shape[1])], time=times, unit=ch_names,
        subject=subject, region="scalp", unit_coords=unit_coords,
        attrs={"measure": "EEG (THINGS-EEG2 preprocessing)", "file": str(path),
               "sfreq": float(1.0 / np.median(np.diff(times))) if times.size > 1 else 0.0},
        name="responses",
    )
    return _tree(manifest, {"eeg": eeg})


def _montage_positions(montage: str, ch_names: Sequence[str]) -> dict[str, np.ndarray]:
    import mne

    pos = mne.channels.make_standard_montage(montage).get_positions()["ch_pos"]
    lookup = {k.lower(): v for k, v in pos.items()}
    xyz = np.array([lookup.get(c.lower(), (np.nan, np.nan, np.nan)) for c in ch_names], float)
    return {"x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2]}


# ----------------------------------------------------------------------------- simulator
def _envelope(t: np.ndarray, onset: float, peak: float) -> np.ndarray:
    """0 before ``onset``; ``x exp(1 - x)`` after it, ``x = (t - onset) / (peak - onset)``:
    rises from 0 at the onset to 1 at the peak, then decays."""
    x = np.clip((t - onset) / (peak - onset), 0.0, None)
    return np.where(t >= onset, x * np.exp(1.0 - x), 0.0)


def make_epochs(
    *,
    n_stimuli: int = 24,
    n_categories: int = 4,
    n_repetitions: int = 4,
    n_units: int = 16,
    n_subjects: int = 1,
    regions: Mapping[str, tuple[float, float]] | None = None,
    sfreq: float = 100.0,
    tmin: float = -0.2,
    tmax: float = 0.6,
    snr: float = 1.0,
    rng: np.random.Generator | int | None = None,
) -> xr.DataArray:
    """Simulated epochs with a planted onset and peak latency per region.

    Stimuli belong to ``n_categories`` categories (a latent pattern per
    category plus a smaller one per stimulus). Each region's units read the
    latent patterns through random weights, scaled by a time envelope that is
    zero before the region's onset, rises to 1 at its peak and then decays:
    ``x exp(1 - x)`` with ``x = (t - onset) / (peak - onset)``. Independent
    Gaussian noise is added to every trial. So the stimulus information --
    RDMs that match the category model, decoding accuracy -- is absent before
    each region's onset and largest at its peak.

    Parameters
    ----------
    n_stimuli, n_categories : int
        ``n_stimuli`` must be a multiple of ``n_categories``.
    n_repetitions : int
        Trials per stimulus (``repetition`` dim).
    n_units : int
        Units per region and subject.
    n_subjects : int
        Subjects, each with its own units (unit coordinate ``subject``).
    regions : mapping name -> (onset, peak), optional
        Latencies in seconds (``onset < peak``); default ``{"early": (0.05,
        0.1), "late": (0.15, 0.25)}``.
    sfreq, tmin, tmax : float
        Sampling rate (Hz) and epoch window (s).
    snr : float
        Standard deviation of the signal at its peak over that of the noise.
    rng : int, Generator or None
        Seed or generator of the simulation (None: fresh entropy).

    Returns
    -------
    DataArray
        Epochs ``(stimulus, repetition, time, unit)``; unit coordinates
        ``region``, ``subject``, ``onset`` and ``peak`` (planted, seconds);
        stimulus coordinate ``category``; attrs ``onset``/``peak`` per region.

    Examples
    --------
    >>> from neurorep import datasets
    >>> ep = datasets.make_epochs(rng=0)
    >>> ep.dims, ep.attrs["onset"]
    (('stimulus', 'repetition', 'time', 'unit'), {'early': 0.05, 'late': 0.15})
    """
    gen = as_generator(rng)
    regions = dict(regions) if regions is not None else {"early": (0.05, 0.1), "late": (0.15, 0.25)}
    for key, val in (("n_stimuli", n_stimuli), ("n_categories", n_categories),
                     ("n_repetitions", n_repetitions), ("n_units", n_units),
                     ("n_subjects", n_subjects)):
        if not isinstance(val, int | np.integer) or isinstance(val, bool) or val < 1:
            raise ValueError(f"make_epochs: {key} must be a positive int; got {val!r}.")
    if n_stimuli % n_categories or n_stimuli < 2:
        raise ValueError(
            f"make_epochs: n_stimuli ({n_stimuli}) must be >= 2 and a multiple of n_categories "
            f"({n_categories})."
        )
    if not regions:
        raise ValueError("make_epochs: regions must name at least one region.")
    for name, lat in regions.items():
        if len(lat) != 2 or not float(lat[0]) < float(lat[1]):
            raise ValueError(
                f"make_epochs: regions[{name!r}] must be (onset, peak) with onset < peak; got {lat!r}."
            )
    if not (sfreq > 0 and tmax > tmin):
        raise ValueError(f"make_epochs: need sfreq > 0 and tmax > tmin; got {sfreq}, {tmin}, {tmax}.")
    time = np.round(np.arange(int(np.floor((tmax - tmin) * sfreq + 1e-9)) + 1) / sfreq + tmin, 10)
    dim = 8
    per_cat = n_stimuli // n_categories
    category = np.repeat(np.arange(n_categories), per_cat)
    latent = 2.0 * gen.standard_normal((n_categories, dim))[category] + gen.standard_normal(
        (n_stimuli, dim)
    )
    latent -= latent.mean(axis=0)
    latent /= latent.std()
    blocks, region_of, subject_of, onset_of, peak_of = [], [], [], [], []
    for s in range(n_subjects):
        for name, (onset, peak) in regions.items():
            w = gen.standard_normal((dim, n_units)) / np.sqrt(dim)
            pattern = latent @ w  # (stimulus, unit), unit variance
            env = _envelope(time, float(onset), float(peak))
            signal = snr * env[None, :, None] * pattern[:, None, :]  # (stimulus, time, unit)
            noise = gen.standard_normal((n_stimuli, n_repetitions, time.size, n_units))
            blocks.append(signal[:, None] + noise)
            region_of += [name] * n_units
            subject_of += [f"sub{s + 1:02d}"] * n_units
            onset_of += [float(onset)] * n_units
            peak_of += [float(peak)] * n_units
    values = np.concatenate(blocks, axis=-1)
    width = len(str(n_stimuli - 1))
    return responses(
        values, dims=("stimulus", "repetition", "time", "unit"),
        stimulus=[f"stim{i:0{width}d}" for i in range(n_stimuli)],
        repetition=[f"rep{r}" for r in range(n_repetitions)], time=time,
        unit=[f"{r}_{sub}_u{i % n_units:03d}" for i, (r, sub) in enumerate(
            zip(region_of, subject_of, strict=True))],
        region=np.array(region_of), subject=np.array(subject_of),
        unit_coords={"onset": np.array(onset_of), "peak": np.array(peak_of)},
        stimulus_coords={"category": np.array([f"cat{c}" for c in category])},
        attrs={"onset": {k: float(v[0]) for k, v in regions.items()},
               "peak": {k: float(v[1]) for k, v in regions.items()},
               "sfreq": float(sfreq), "snr": float(snr), "simulator": "make_epochs"},
        name="responses",
    )
