"""Spectral RDMs: how differently a layer or region's spectra respond to the conditions.

In the HFTP paper each unit's (or channel's) spectrum in a band around the
tagged rates (0.5-2 Hz) is taken in every condition (sentences, phrases,
random words...), the cosine distance between the conditions' spectra gives
one RDM per unit, and a layer's (region's) RDM is the mean over its units.
Model layers and brain regions are then compared by rank correlation of
their RDMs (:func:`neurorep.rsa.compare`).
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep._core.errors import NeurorepWarning, SchemaError, check_option
from neurorep.data import rdm as make_rdm
from neurorep.data import responses
from neurorep.rsa import compute_rdm

__all__ = ["compute_spectral_rdm"]

_PER_UNIT_METRICS = ("cosine", "correlation", "euclidean")


def _per_unit_rdm(p: np.ndarray, metric: str) -> tuple[np.ndarray, int]:
    """Mean over units of each unit's RDM; p is (condition, freq, unit). Returns (rdm, n_dropped)."""
    if metric == "euclidean":
        diff = p[:, None] - p[None, :]
        d = np.sqrt((diff**2).sum(axis=2) / p.shape[1])  # (cond, cond, unit)
        return d.mean(axis=-1), 0
    q = p - p.mean(axis=1, keepdims=True) if metric == "correlation" else p
    norm = np.sqrt((q**2).sum(axis=1))  # (cond, unit)
    ok = (norm > 1e-12 * max(1.0, float(np.abs(q).max(initial=0.0)))).all(axis=0)
    if not ok.any():
        raise SchemaError(
            f"compute_spectral_rdm: every unit has a zero (or constant, for correlation) "
            f"spectrum in some condition; the {metric} distance is undefined. Widen the band or "
            f"use metric='euclidean'."
        )
    qn = q[..., ok] / norm[:, ok][:, None, :]
    sim = np.einsum("ifu,jfu->iju", qn, qn, optimize=True)
    d = 1.0 - sim.mean(axis=-1)
    np.fill_diagonal(d, 0.0)
    return np.clip(d, 0.0, None), int((~ok).sum())


def compute_spectral_rdm(
    spectrum: xr.Dataset,
    *,
    measure: Literal["amplitude", "itpc"] = "amplitude",
    band: tuple[float, float] | None = None,
    metric: str = "cosine",
    pooling: Literal["units", "concatenate"] = "units",
    by: str | None = None,
) -> xr.DataArray:
    """RDM between conditions from the spectra of a set of units (a layer or a region).

    Parameters
    ----------
    spectrum : Dataset
        From :func:`compute_spectrum` with ``condition=``: ``(condition,
        freq, unit)``. The conditions become the RDM's stimuli (3 or more
        are needed to compare RDMs).
    measure : {"amplitude", "itpc"}
        Which spectrum (the paper uses amplitude for model units and ITPC
        for sEEG channels).
    band : (float, float), optional
        Frequencies kept, in Hz, both ends included (e.g. ``(0.5, 2.0)``);
        default every bin above 0 Hz.
    metric : str
        ``pooling="units"``: ``"cosine"`` (the paper's), ``"correlation"`` or
        ``"euclidean"`` between one unit's spectra. ``pooling=
        "concatenate"``: any non-noise metric of :func:`neurorep.rsa.compute_rdm`
        on the conditions' (unit x frequency) patterns.
    pooling : {"units", "concatenate"}
        ``"units"``: one RDM per unit, averaged over units (the paper);
        ``"concatenate"``: one RDM of all units' spectra side by side.
    by : str, optional
        A unit coordinate (``"layer"``, ``"region"``): one RDM per group,
        stacked along a dim of that name, ready for
        :func:`neurorep.rsa.compare`.

    Returns
    -------
    DataArray
        RDM ``(stimulus_i, stimulus_j)`` over the conditions, or ``(by,
        stimulus_i, stimulus_j)``; attrs ``metric``, ``measure``, ``band``,
        ``pooling`` and ``n_units`` (per group, when ``by`` is given: a
        coord).

    Raises
    ------
    SchemaError
        No ``condition`` dim, fewer than 2 conditions, an empty band, an
        unknown ``by`` coordinate, or units whose distance is undefined
        (a unit with a zero spectrum is left out of ``"units"`` pooling with
        a NeurorepWarning; all of them: an error).

    Examples
    --------
    >>> from neurorep import datasets, hftp
    >>> ep = datasets.make_tagged_sequences(
    ...     conditions={"sentences": ["phrase", "sentence"], "phrases": ["phrase"], "random": []},
    ...     units={"phrase+sentence": 10}, rng=0)
    >>> spec = hftp.compute_spectrum(ep, condition="condition")
    >>> r = hftp.compute_spectral_rdm(spec, band=(0.5, 2.0))
    >>> r.dims, r["stimulus_i"].values.tolist()
    (('stimulus_i', 'stimulus_j'), ['sentences', 'phrases', 'random'])
    """
    check_option("measure", measure, ("amplitude", "itpc"))
    check_option("pooling", pooling, ("units", "concatenate"))
    if not isinstance(spectrum, xr.Dataset) or measure not in spectrum:
        raise SchemaError(
            f"compute_spectral_rdm: expected the Dataset from neurorep.hftp.compute_spectrum "
            f"(with {measure!r}); got {type(spectrum).__name__}."
        )
    da = spectrum[measure]
    if "condition" not in da.dims:
        raise SchemaError(
            "compute_spectral_rdm: the spectrum has no 'condition' dim; compute it with "
            "neurorep.hftp.compute_spectrum(epochs, condition='condition') so that each condition "
            "gets its spectrum (the conditions are the RDM's stimuli)."
        )
    if da.sizes["condition"] < 2:
        raise SchemaError(
            f"compute_spectral_rdm: an RDM needs at least 2 conditions; got "
            f"{da.sizes['condition']}."
        )
    if pooling == "units":
        check_option("metric", metric, _PER_UNIT_METRICS)
    elif metric in ("mahalanobis", "crossnobis"):
        raise ValueError(
            f"compute_spectral_rdm: metric={metric!r} needs noise estimates that spectra do not "
            f"have; use 'cosine', 'correlation', 'euclidean' or 'squared_euclidean'."
        )
    freqs = np.asarray(spectrum["freq"].values, dtype=float)
    lo, hi = (float(band[0]), float(band[1])) if band is not None else (0.0, np.inf)
    keep = (freqs > 0) & (freqs >= lo - 1e-9) & (freqs <= hi + 1e-9)
    if not keep.any():
        raise SchemaError(
            f"compute_spectral_rdm: band {band} holds no frequency bin above 0 Hz; bins run from "
            f"{freqs[1] if freqs.size > 1 else 0:g} to {freqs[-1]:g} Hz."
        )
    da = da.isel(freq=np.flatnonzero(keep)).transpose("condition", "freq", "unit")
    conds = [str(c) for c in da["condition"].values]
    if by is None:
        groups = {"": np.arange(da.sizes["unit"])}
    else:
        if by not in da.coords or da[by].dims != ("unit",):
            unit_coords = [k for k, v in da.coords.items() if v.dims == ("unit",)]
            raise SchemaError(
                f"compute_spectral_rdm: by={by!r} is not a unit coordinate; unit coordinates: "
                f"{unit_coords}."
            )
        labels = np.asarray(da[by].values).astype(str)
        groups = {g: np.flatnonzero(labels == g) for g in dict.fromkeys(labels.tolist())}
    values = np.asarray(da.values, dtype=float)
    mats, counts, dropped = [], [], 0
    for idx in groups.values():
        sub = values[..., idx]
        if pooling == "units":
            d, n_drop = _per_unit_rdm(sub, metric)
            dropped += n_drop
            counts.append(idx.size - n_drop)
        else:
            pattern = sub.transpose(0, 2, 1).reshape(len(conds), -1)
            resp = responses(pattern, stimulus=conds)
            d = np.asarray(compute_rdm(resp, metric=metric).values)  # type: ignore[arg-type]
            counts.append(idx.size)
        mats.append(d)
    if dropped:
        warnings.warn(
            f"compute_spectral_rdm: {dropped} unit(s) have a zero spectrum in the band in some "
            f"condition; the {metric} distance is undefined for them and they are left out.",
            NeurorepWarning, stacklevel=2,
        )
    attrs: dict[str, Any] = {"measure": measure, "pooling": pooling,
                             "band": [lo, hi if np.isfinite(hi) else float(freqs[-1])]}
    if by is None:
        out = make_rdm(mats[0], stimulus=conds, metric=metric, attrs=attrs)
        out.attrs["n_units"] = counts[0]
        return out
    out = make_rdm(np.stack(mats), stimulus=conds, metric=metric, dim=by, index=list(groups),
                   attrs=attrs)
    return out.assign_coords(n_units=(by, np.asarray(counts)))
