"""False discovery rate: Benjamini-Hochberg and Benjamini-Yekutieli adjusted p-values.

The adjustment is scipy's (:func:`scipy.stats.false_discovery_control`); this
module adds NaN masking (untestable units stay NaN and are not counted),
xarray in and out, and per-``dim`` adjustment.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep._core.errors import check_option

__all__ = ["FDR_METHODS", "fdr"]

FDR_METHODS = ("bh", "by")


def _adjust(p: np.ndarray, method: str) -> np.ndarray:
    """Adjusted p-values of a 1-D array; NaN entries stay NaN and are not counted as tests."""
    from scipy.stats import false_discovery_control

    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = false_discovery_control(p[ok], method=method)
    return out


def fdr(
    pvalues: Any,
    *,
    method: Literal["bh", "by"] = "bh",
    dim: str | None = None,
) -> Any:
    """FDR-adjusted p-values (q-values) across tests; reject where ``q <= alpha``.

    Parameters
    ----------
    pvalues : array-like or DataArray
        p-values in [0, 1]; NaN entries (untestable units) stay NaN and do not
        count as tests.
    method : {"bh", "by"}
        Benjamini-Hochberg (independent or positively dependent tests) or
        Benjamini-Yekutieli (any dependence).
    dim : str, optional
        For a DataArray, adjust separately along this dim for every other
        index (default: all values together).

    Returns
    -------
    ndarray or DataArray
        The q-values, same type and shape as ``pvalues`` (float; NaN kept).

    Raises
    ------
    ValueError
        p-values outside [0, 1] or an unknown method.

    Examples
    --------
    >>> from neurorep.stats import fdr
    >>> fdr([0.01, 0.04, 0.03, 0.5]).round(3).tolist()
    [0.04, 0.053, 0.053, 0.5]
    """
    check_option("method", method, FDR_METHODS)
    if isinstance(pvalues, xr.DataArray):
        vals = np.asarray(pvalues.values, dtype=float)
        _check_range(vals)
        if dim is None:
            adj = _adjust(vals.ravel(), method).reshape(vals.shape)
            return pvalues.copy(data=adj)
        if dim not in pvalues.dims:
            raise ValueError(f"fdr: dim {dim!r} is not one of {pvalues.dims}.")
        moved = np.moveaxis(vals, pvalues.get_axis_num(dim), -1)
        flat = moved.reshape(-1, moved.shape[-1])
        adj = np.stack([_adjust(row, method) for row in flat]).reshape(moved.shape)
        return pvalues.copy(data=np.moveaxis(adj, -1, pvalues.get_axis_num(dim)))
    vals = np.asarray(pvalues, dtype=float)
    _check_range(vals)
    return _adjust(vals.ravel(), method).reshape(vals.shape)


def _check_range(vals: np.ndarray) -> None:
    ok = vals[~np.isnan(vals)]
    if ok.size and (ok.min() < 0 or ok.max() > 1):
        raise ValueError(
            f"fdr: p-values must lie in [0, 1]; got values in [{ok.min():.3g}, {ok.max():.3g}]."
        )
