"""Where along a model's depth a region's layer profile peaks, and how sharply.

:func:`neurorep.alignment.depth_index` (the centre of mass of the profile)
gives ~0.5 for every nearly flat profile whatever its peak: three regions
planted at depths 0, 0.5 and 1 whose scores vary by a few percent across
layers all land near the middle. :func:`peak_depth` reports the depth of the
best layer together with how much it stands out, so a flat profile and a
peaked one can be told apart.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import xarray as xr

from neurorep._core.errors import SchemaError

__all__ = ["peak_depth"]


def layer_profile(scores: Any, fn: str) -> tuple[xr.DataArray, xr.DataArray | None, xr.DataArray | None]:
    """The ``score`` (and ``ci_low`` / ``ci_high`` when present) with a layer dim and depths."""
    lo = hi = None
    if isinstance(scores, xr.Dataset):
        if "score" not in scores.data_vars:
            raise SchemaError(
                f"{fn}: a Dataset needs a 'score' variable (a score_matrix result); got "
                f"variables {list(scores.data_vars)}. Pass score_matrix(...) or a DataArray."
            )
        s = scores["score"]
        if "ci_low" in scores.data_vars and "ci_high" in scores.data_vars:
            lo, hi = scores["ci_low"], scores["ci_high"]
    elif isinstance(scores, xr.DataArray):
        s = scores
    else:
        raise SchemaError(
            f"{fn}: expected a score_matrix Dataset or a DataArray with a 'layer' dim; got "
            f"{type(scores).__name__}."
        )
    if "layer" not in s.dims:
        raise SchemaError(
            f"{fn}: scores need a 'layer' dim; got dims {s.dims}. Rename the layer dim, "
            f"e.g. scores.rename({{{(s.dims or ('dim_0',))[-1]!r}: 'layer'}})."
        )
    if "depth" not in s.coords or s["depth"].dims != ("layer",):
        raise SchemaError(
            f"{fn}: scores need a 'depth' coordinate along 'layer' (each layer's normalised "
            "depth, 0 = first, 1 = last); got coords "
            f"{[c for c in s.coords if c not in s.dims]}. Add one with "
            "scores.assign_coords(depth=('layer', numpy.linspace(0, 1, scores.sizes['layer'])))."
        )
    return s, lo, hi


def peak_depth(scores: xr.Dataset | xr.DataArray, *, tolerance: float = 0.05) -> xr.Dataset:
    """Depth of each region's best layer, how far it stands out, and the depths that tie with it.

    A centre-of-mass index (:func:`~neurorep.alignment.depth_index`) cannot
    tell a flat profile from a peaked one: both can sit at 0.5. This returns,
    per profile (every index of the dims other than ``layer``):

    * ``peak_depth``: the depth of the highest-scoring layer;
    * ``peak_contrast``: ``(max - min) / |max|`` of the profile, 0 for a flat
      profile, 1 when the worst layer scores 0 (above 1 when it is negative);
    * ``plateau_low`` / ``plateau_high``: the shallowest and deepest layers
      that cannot be told apart from the peak, so ``plateau_high -
      plateau_low`` is near 1 for a flat profile and 0 for a sharp peak.

    A layer ties with the peak when its score is within ``tolerance × |max|``
    of the maximum, or, when ``scores`` is a Dataset with ``ci_low`` and
    ``ci_high`` (finite), when its upper CI bound reaches the peak layer's
    lower bound.

    Parameters
    ----------
    scores : Dataset or DataArray
        A :func:`~neurorep.alignment.score_matrix` result (its ``score``, and
        its CIs when present) or a ``(..., layer)`` DataArray with a ``depth``
        coordinate along ``layer`` (0 = first layer, 1 = last).
    tolerance : float
        Relative tie margin used without CIs (``0 <= tolerance < 1``).

    Returns
    -------
    Dataset
        Variables ``peak_depth``, ``peak_layer``, ``peak_contrast``,
        ``plateau_low`` and ``plateau_high`` over the dims other than
        ``layer``; NaN (and an empty ``peak_layer``) where a profile is all
        NaN. ``attrs["tie_rule"]`` says which tie rule was used.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from neurorep.alignment import depth_index, peak_depth
    >>> s = xr.DataArray([[0.70, 0.71, 0.72], [0.10, 0.60, 0.10], [0.5, 0.5, 0.5]],
    ...                  dims=("region", "layer"),
    ...                  coords={"region": ["rising", "peaked", "flat"],
    ...                          "depth": ("layer", [0.0, 0.5, 1.0])})
    >>> np.round(depth_index(s).values, 2)  # all near the middle
    array([0.5, 0.5, 0.5])
    >>> p = peak_depth(s)
    >>> p.peak_depth.values, np.round(p.peak_contrast.values, 3)
    (array([1. , 0.5, 0. ]), array([0.028, 0.833, 0.   ]))
    >>> (p.plateau_high - p.plateau_low).values  # width of the layers tied with the peak
    array([1., 0., 1.])
    """
    s, lo, hi = layer_profile(scores, "peak_depth")
    if (isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real)
            or not 0 <= float(tolerance) < 1):
        raise ValueError(
            f"peak_depth: tolerance must be a number in [0, 1) (a fraction of the peak score); "
            f"got {tolerance!r}. Use e.g. tolerance=0.05."
        )
    tolerance = float(tolerance)
    depth = np.asarray(s["depth"].values, float)
    other = [d for d in s.dims if d != "layer"]
    vals = np.asarray(s.transpose(*other, "layer").values, float)
    shape = vals.shape[:-1]
    flat = vals.reshape(-1, vals.shape[-1])
    use_ci = lo is not None and hi is not None
    lo_f = hi_f = np.full(flat.shape, np.nan)
    if lo is not None and hi is not None:
        lo_f = np.asarray(lo.transpose(*other, "layer").values, float).reshape(flat.shape)
        hi_f = np.asarray(hi.transpose(*other, "layer").values, float).reshape(flat.shape)
    layers = [str(v) for v in s["layer"].values] if "layer" in s.coords else [
        str(i) for i in range(flat.shape[1])]
    out = {k: np.full(flat.shape[0], np.nan) for k in
           ("peak_depth", "peak_contrast", "plateau_low", "plateau_high")}
    names = np.full(flat.shape[0], "", dtype=object)
    used_ci = False
    for i, row in enumerate(flat):
        ok = np.isfinite(row)
        if not ok.any():
            continue
        j = int(np.nanargmax(row))
        top, bottom = row[j], np.nanmin(row)
        out["peak_depth"][i] = depth[j]
        names[i] = layers[j]
        out["peak_contrast"][i] = (top - bottom) / abs(top) if top != 0 else (
            0.0 if bottom == top else np.inf)
        if use_ci and np.isfinite(lo_f[i, j]) and np.isfinite(hi_f[i][ok]).all():
            tied = ok & (hi_f[i] >= lo_f[i, j])
            used_ci = True
        else:
            tied = ok & (row >= top - tolerance * abs(top))
        out["plateau_low"][i] = depth[tied].min()
        out["plateau_high"][i] = depth[tied].max()
    coords = {k: v for k, v in s.coords.items() if "layer" not in v.dims}
    data_vars: dict[str, Any] = {k: (tuple(other), v.reshape(shape)) for k, v in out.items()}
    data_vars["peak_layer"] = (tuple(other), names.astype(str).reshape(shape))
    return xr.Dataset(
        data_vars, coords=coords,
        attrs={"tie_rule": "CI overlap with the peak layer" if used_ci else
               f"within {tolerance:g} x |peak score|", "tolerance": tolerance},
    )
