"""Time-resolved figures: time courses with CI bands and clusters, generalisation matrices,
topographies.

Each function takes a computed result (a Dataset from
:func:`neurorep.decoding.decode`, :func:`neurorep.rsa.compare_over_time`,
:func:`neurorep.stats.cluster_test`, ... or epochs with sensor positions),
draws on ``ax`` (a new pyplot figure when None) and returns a
:class:`~neurorep.plotting.PlotDisplay`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from neurorep._core.errors import SchemaError
from neurorep.plotting._display import PlotDisplay, make_display
from neurorep.plotting._style import SINGLE_COLUMN, labelled_colorbar, new_axes, tidy

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_temporal_generalization", "plot_time_course", "plot_topomap"]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) index pairs of the True runs of a 1-D mask."""
    edges = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def plot_time_course(
    result: xr.Dataset | xr.DataArray,
    *,
    ax: Axes | None = None,
    dim: str | None = None,
    chance: float | None = None,
    onset: float | None = 0.0,
    ylabel: str | None = None,
    title: str | None = None,
) -> PlotDisplay:
    """Score over time with its CI band, the chance line and significant clusters marked.

    Parameters
    ----------
    result : Dataset or DataArray
        A ``score`` over ``time`` (Dataset with optional ``ci_low`` /
        ``ci_high`` and ``significant``; or a DataArray of scores), with at
        most one other dim (``model``, ``region``...) drawn as one line per
        entry.
    ax : matplotlib Axes, optional
        Axes to draw into; default (None) a new pyplot figure.
    dim : str, optional
        That other dim (inferred when there is one).
    chance : float, optional
        Chance level (default ``result.attrs["chance"]`` when present).
    onset : float or None
        Stimulus onset (s), marked with a vertical line; None for no line.
    ylabel : str, optional
        The y-axis label (default the score's name, e.g. ``"accuracy"``).
    title : str, optional
        The Axes title (default none).

    Returns
    -------
    PlotDisplay
        The lines in ``ax_``; a bar under each line marks its significant
        time points.

    Examples
    --------
    >>> from neurorep import datasets, decoding
    >>> from neurorep.plotting import plot_time_course
    >>> ep = datasets.make_epochs(n_stimuli=8, n_categories=2, n_units=8, rng=0)
    >>> disp = plot_time_course(decoding.decode(ep, labels="category", cv=4, rng=0))
    >>> disp.ax_.get_xlabel()
    'time (s)'
    """
    ds = result.to_dataset(name="score") if isinstance(result, xr.DataArray) else result
    if not isinstance(ds, xr.Dataset) or "score" not in ds or "time" not in ds["score"].dims:
        raise SchemaError(
            "plot_time_course: expected a Dataset with a 'score' over 'time' (from "
            "neurorep.decoding.decode, rsa.compare_over_time, stats.cluster_test) or a "
            "DataArray of scores over 'time'."
        )
    other = [d for d in ds["score"].dims if d != "time"]
    if len(other) > 1 or (dim is not None and other != [dim]):
        raise SchemaError(
            f"plot_time_course: the score may have 'time' and at most one other dim; got "
            f"{tuple(ds['score'].dims)}. Select one entry first, e.g. result.sel(model='x')."
        )
    ax = new_axes(ax, figsize=(SINGLE_COLUMN * 1.4, 3.0))
    t = np.asarray(ds["time"].values, dtype=float)
    keys = list(ds[other[0]].values) if other else [None]
    chance = ds.attrs.get("chance") if chance is None else chance
    lines = []
    for k, key in enumerate(keys):
        sel = ds.sel({other[0]: key}) if other else ds
        y = np.asarray(sel["score"].values, dtype=float)
        (line,) = ax.plot(t, y, color=f"C{k}", label=None if key is None else str(key), lw=1.5)
        lines.append(line)
        if "ci_low" in sel and "ci_high" in sel:
            ax.fill_between(t, sel["ci_low"].values, sel["ci_high"].values, color=f"C{k}",
                            alpha=0.25, lw=0)
    ymin, ymax = ax.get_ylim()
    span = ymax - ymin
    for k, key in enumerate(keys):
        sel = ds.sel({other[0]: key}) if other else ds
        if "significant" not in sel:
            continue
        level = ymin - (0.04 + 0.04 * k) * span
        half = (t[1] - t[0]) / 2 if t.size > 1 else 0.0
        for a, b in _runs(np.asarray(sel["significant"].values, dtype=bool)):
            ax.plot([t[a] - half, t[b - 1] + half], [level, level], color=f"C{k}", lw=3,
                    solid_capstyle="butt")
    if any("significant" in (ds.sel({other[0]: key}) if other else ds) for key in keys):
        ax.set_ylim(ymin - (0.08 + 0.04 * len(keys)) * span, ymax)
    if chance is not None:
        ax.axhline(float(chance), color="0.4", lw=0.8, ls="--", label="chance")
    if onset is not None and t[0] <= onset <= t[-1]:
        ax.axvline(float(onset), color="0.6", lw=0.8)
    label = ylabel or str(ds["score"].attrs.get("scoring", ds.attrs.get("scoring", "score")))
    tidy(ax, title=title, xlabel="time (s)", ylabel=label.replace("_", " "))
    if other or chance is not None:
        ax.legend(frameon=False, fontsize="small")
    return make_display(ax)


def plot_temporal_generalization(
    result: xr.Dataset | xr.DataArray,
    *,
    ax: Axes | None = None,
    chance: float | None = None,
    colorbar: bool = True,
    title: str | None = None,
) -> PlotDisplay:
    """A temporal generalisation matrix (train time x test time), significant cells outlined.

    Parameters
    ----------
    result : Dataset or DataArray
        ``score`` over two time dims (``train_time``/``test_time`` from
        :func:`neurorep.decoding.decode_generalization`, or ``time``/``time_b``
        from :func:`neurorep.rsa.compare_time_generalization`); an optional
        boolean ``significant`` is outlined.
    ax : matplotlib Axes, optional
        Axes to draw into; default (None) a new pyplot figure.
    chance : float, optional
        Centre of the colour scale (default ``attrs["chance"]``, else 0).
    colorbar : bool, optional
        Add a colour bar labelled with what the colours show (default True).
    title : str, optional
        The Axes title (default none).

    Returns
    -------
    PlotDisplay
        The matrix in ``ax_`` (training time on the y axis).

    Examples
    --------
    >>> from neurorep import datasets, decoding
    >>> from neurorep.plotting import plot_temporal_generalization
    >>> ep = datasets.make_epochs(n_stimuli=8, n_categories=2, n_units=8, tmax=0.3, rng=0)
    >>> res = decoding.decode_generalization(ep, labels="category", cv=4, rng=0)
    >>> plot_temporal_generalization(res).ax_.get_ylabel()
    'train time (s)'
    """
    ds = result.to_dataset(name="score") if isinstance(result, xr.DataArray) else result
    dims = tuple(ds["score"].dims) if isinstance(ds, xr.Dataset) and "score" in ds else ()
    pairs = {("train_time", "test_time"): ("train time (s)", "test time (s)"),
             ("time", "time_b"): ("time, a (s)", "time, b (s)")}
    if dims not in pairs:
        raise SchemaError(
            f"plot_temporal_generalization: expected a score over ('train_time', 'test_time') "
            f"or ('time', 'time_b'); got dims {dims}. Select other dims first."
        )
    ax = new_axes(ax, figsize=(SINGLE_COLUMN + 0.6, 3.2))
    score = np.asarray(ds["score"].values, dtype=float)
    ty = np.asarray(ds[dims[0]].values, dtype=float)
    tx = np.asarray(ds[dims[1]].values, dtype=float)
    centre = ds.attrs.get("chance", 0.0) if chance is None else chance
    dev = float(np.nanmax(np.abs(score - centre))) or 1.0
    im = ax.imshow(score, origin="lower", aspect="auto", cmap="RdBu_r", vmin=centre - dev,
                   vmax=centre + dev, extent=(tx[0], tx[-1], ty[0], ty[-1]),
                   interpolation="nearest")
    if "significant" in ds:
        ax.contour(tx, ty, np.asarray(ds["significant"].values, dtype=float), levels=[0.5],
                   colors="k", linewidths=0.8)
    ax.plot([max(tx[0], ty[0]), min(tx[-1], ty[-1])], [max(tx[0], ty[0]), min(tx[-1], ty[-1])],
            color="0.3", lw=0.6, ls=":")
    ylab, xlab = pairs[dims]
    tidy(ax, title=title, xlabel=xlab, ylabel=ylab)
    if colorbar:
        label = str(ds["score"].attrs.get("scoring", ds.attrs.get("scoring", "score")))
        labelled_colorbar(im, ax, label.replace("_", " "))
    return make_display(ax)


def plot_topomap(
    epochs: xr.DataArray,
    *,
    time: float,
    ax: Axes | None = None,
    ch_type: str | None = None,
    stimulus: str | None = None,
    colorbar: bool = True,
    title: str | None = None,
) -> PlotDisplay:
    """Scalp topography at one time point, drawn by MNE from the units' sensor positions.

    Parameters
    ----------
    epochs : DataArray
        Epochs ``(stimulus, [repetition,] time, unit)`` with unit coordinates
        ``x``, ``y``, ``z`` (head coordinates, m) and ``ch_type`` -- as
        :func:`neurorep.data.from_mne` gives them.
    time : float
        The time (s) to draw (the nearest sample).
    ax : matplotlib Axes, optional
        Axes to draw into; default (None) a new pyplot figure.
    ch_type : str, optional
        One channel type (``"eeg"``, ``"mag"``, ``"grad"``); default the
        most common one.
    stimulus : str, optional
        One stimulus; default the mean over stimuli (and repetitions).
    colorbar : bool, optional
        Add a colour bar labelled with what the colours show (default True).
    title : str, optional
        The Axes title (default the channel type and the time in ms).

    Returns
    -------
    PlotDisplay
        The head in ``ax_``.

    Raises
    ------
    SchemaError
        No sensor positions (the fix: from_mne, or assign x/y/z coords).

    Examples
    --------
    >>> from neurorep import data, datasets
    >>> from neurorep.plotting import plot_topomap
    >>> ev = data.members(datasets.load("mne_evoked_audvis"))  # doctest: +SKIP
    """
    import mne

    from neurorep.data import to_mne

    if not isinstance(epochs, xr.DataArray) or "time" not in epochs.dims:
        raise SchemaError("plot_topomap: expected epochs with a 'time' dim.")
    missing = [c for c in ("x", "y", "z", "ch_type") if c not in epochs.coords]
    if missing:
        raise SchemaError(
            f"plot_topomap: a topography needs sensor positions, i.e. unit coordinates x, y, z "
            f"(head coordinates, m) and ch_type; missing {missing}. Read the data with "
            f"neurorep.data.from_mne(...) or assign the positions, e.g. "
            f"epochs.assign_coords(x=('unit', xs), y=..., z=..., ch_type=('unit', types))."
        )
    types = np.asarray(epochs["ch_type"].values).astype(str)
    if ch_type is None:
        vals, counts = np.unique(types, return_counts=True)
        ch_type = str(vals[np.argmax(counts)])
    if ch_type not in set(types):
        raise SchemaError(
            f"plot_topomap: ch_type={ch_type!r} is not among the units' types {sorted(set(types))}."
        )
    da = epochs.isel(unit=np.flatnonzero(types == ch_type))
    if stimulus is not None:
        da = da.sel(stimulus=[stimulus])
    avg = da.mean("stimulus", keep_attrs=True).expand_dims(stimulus=["mean"])
    if "repetition" in avg.dims:
        avg = avg.mean("repetition", keep_attrs=True)
    avg = avg.transpose("stimulus", "time", "unit")
    evoked = to_mne(avg, kind="evoked")[0]
    t = float(avg["time"].values[np.argmin(np.abs(avg["time"].values - time))])
    ax = new_axes(ax, figsize=(SINGLE_COLUMN, 3.0))
    data_ = evoked.copy().crop(t, t).data[:, 0]
    im, _ = mne.viz.plot_topomap(data_, evoked.info, axes=ax, show=False, ch_type=ch_type)
    ax.set_title(title if title is not None else f"{ch_type}, {t * 1000:.0f} ms")
    if colorbar:
        labelled_colorbar(im, ax, "amplitude")
    return make_display(ax)

