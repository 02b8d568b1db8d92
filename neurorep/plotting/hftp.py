"""Frequency-tagging figures: spectra with the tagged rates marked.

Takes the Dataset of :func:`neurorep.hftp.compute_spectrum`, draws on ``ax``
(a new pyplot figure when None) and returns a
:class:`~neurorep.plotting.PlotDisplay`. Nothing here calls ``plt.show()``
or changes rcParams.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import xarray as xr

from neurorep._core.errors import SchemaError, check_option
from neurorep.plotting._display import PlotDisplay, make_display
from neurorep.plotting._style import CATEGORICAL, FONT_SIZE, SINGLE_COLUMN, new_axes, tidy

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_spectrum"]


def plot_spectrum(
    spectrum: xr.Dataset,
    *,
    rates: Mapping[str, float] | None = None,
    measure: Literal["amplitude", "itpc"] = "amplitude",
    units: Sequence[Any] | np.ndarray | None = None,
    condition: Any = None,
    fmin: float = 0.0,
    fmax: float | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> PlotDisplay:
    """Spectrum averaged over units, with the tagged frequencies marked.

    Parameters
    ----------
    spectrum : Dataset
        From :func:`neurorep.hftp.compute_spectrum`: ``(freq, unit)`` or
        ``(condition, freq, unit)`` (one line per condition).
    rates : mapping, optional
        Level -> Hz.
        Tagged rates, marked by dashed lines labelled ``level (f Hz)``.
    measure : {"amplitude", "itpc"}, optional
        Amplitude spectrum (default) or inter-trial phase coherence.
    units : sequence of unit ids or boolean mask, optional
        Units to average (e.g. those selected at one level); default all.
    condition : str or sequence of str, optional
        Conditions to draw (default all).
    fmin, fmax : float
        Frequency range shown (default 0 to Nyquist); 0 Hz itself is never
        drawn (the mean was removed).
    ax : matplotlib Axes, optional
        Axes to draw into; default (None) a new pyplot figure.
    title : str, optional
        The Axes title (default none).

    Returns
    -------
    PlotDisplay
        One line per condition in ``ax_``, the tagged rates as dashed lines.

    Examples
    --------
    >>> from neurorep import datasets, hftp
    >>> from neurorep.plotting import plot_spectrum
    >>> ep = datasets.make_tagged_sequences(rng=0)
    >>> disp = plot_spectrum(hftp.compute_spectrum(ep), rates={"phrase": 2.0, "sentence": 1.0})
    >>> disp.ax_.get_xlabel()
    'frequency (Hz)'
    """
    check_option("measure", measure, ("amplitude", "itpc"))
    if not isinstance(spectrum, xr.Dataset) or measure not in spectrum or "freq" not in spectrum.dims:
        raise SchemaError(
            f"plot_spectrum: expected the Dataset from neurorep.hftp.compute_spectrum (with "
            f"{measure!r} over 'freq'); got {type(spectrum).__name__}."
        )
    da = spectrum[measure]
    if units is not None:
        mask = np.asarray(units)
        if mask.dtype == bool:
            if mask.shape != (da.sizes["unit"],):
                raise SchemaError(
                    f"plot_spectrum: a boolean units mask needs one value per unit "
                    f"({da.sizes['unit']}); got shape {mask.shape}."
                )
            da = da.isel(unit=np.flatnonzero(mask))
        else:
            missing = [u for u in mask.tolist() if u not in set(da["unit"].values.tolist())]
            if missing:
                raise SchemaError(f"plot_spectrum: unknown unit id(s) {missing[:5]}.")
            da = da.sel(unit=mask)
    if da.sizes["unit"] == 0:
        raise SchemaError("plot_spectrum: no unit to plot (the selection is empty).")
    mean = da.mean("unit", skipna=True)
    freqs = np.asarray(spectrum["freq"].values, dtype=float)
    hi = freqs[-1] if fmax is None else float(fmax)
    keep = (freqs > 0) & (freqs >= fmin) & (freqs <= hi + 1e-12)
    if not keep.any():
        raise SchemaError(f"plot_spectrum: no frequency bin in ({fmin:g}, {hi:g}] Hz.")
    ax = new_axes(ax, figsize=(SINGLE_COLUMN * 1.4, 2.6))
    import matplotlib.pyplot as plt

    colors = plt.get_cmap(CATEGORICAL)
    if "condition" in mean.dims:
        names = [str(c) for c in mean["condition"].values]
        wanted = names if condition is None else (
            [str(condition)] if isinstance(condition, str) else [str(c) for c in condition])
        bad = [c for c in wanted if c not in names]
        if bad:
            raise SchemaError(f"plot_spectrum: unknown condition(s) {bad}; conditions: {names}.")
        for i, c in enumerate(wanted):
            y = np.asarray(mean.sel(condition=c).values)
            ax.plot(freqs[keep], y[keep], color=colors(i % 10), lw=1.2, label=c)
        ax.legend(fontsize=FONT_SIZE - 1, frameon=False, loc="center right")
    else:
        if condition is not None:
            raise SchemaError("plot_spectrum: condition= needs a spectrum with a 'condition' dim.")
        ax.plot(freqs[keep], np.asarray(mean.values)[keep], color="k", lw=1.2)
    if rates:
        top = ax.get_ylim()[1]
        for i, (level, f) in enumerate(rates.items()):
            if not freqs[keep][0] - 1e-9 <= float(f) <= freqs[keep][-1] + 1e-9:
                continue
            ax.axvline(float(f), color="0.4", ls="--", lw=0.8, zorder=0)
            ax.text(float(f), top * (0.97 - 0.08 * i), f" {level} ({float(f):g} Hz)",
                    fontsize=FONT_SIZE - 1, va="top", ha="left", color="0.25")
    ax.set_xlabel("frequency (Hz)")
    n = da.sizes["unit"]
    ax.set_ylabel(("amplitude" if measure == "amplitude" else "ITPC") + f" (mean of {n} units)")
    if title:
        ax.set_title(title)
    tidy(ax)
    return make_display(ax)
