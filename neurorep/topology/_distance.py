"""Distances between persistence diagrams: bottleneck (gudhi) and exact Wasserstein."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from neurorep._core.errors import check_option
from neurorep.topology._persistence import diagram_array


def _split(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Finite bars and the sorted births of essential bars (death = inf)."""
    if np.isneginf(arr).any() or np.isnan(arr).any():
        raise ValueError("diagram bars must have finite births and finite or +inf deaths.")
    ess = np.isposinf(arr[:, 1])
    return arr[~ess], np.sort(arr[ess, 0])


def _to_diagonal(arr: np.ndarray, internal_p: float) -> np.ndarray:
    """L_p distance from each (birth, death) to the nearest point of the diagonal."""
    half = np.abs(arr[:, 1] - arr[:, 0]) / 2.0
    return half if np.isinf(internal_p) else half * 2.0 ** (1.0 / internal_p)


def _wasserstein(x: np.ndarray, y: np.ndarray, *, order: float, internal_p: float) -> float:
    """Exact q-Wasserstein distance by an assignment problem with diagonal augmentation.

    Each bar may be matched to a bar of the other diagram or to its own
    projection on the diagonal: the (n + m) x (n + m) cost matrix is
    ``[[C, diag(dx)], [diag(dy), 0]]`` with forbidden (inf) off-diagonal
    entries in the two diagonal blocks, solved by
    :func:`scipy.optimize.linear_sum_assignment`. Essential bars are matched
    among themselves by sorted births (optimal in 1-D); different numbers of
    essential bars give ``inf``.
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    xf, xe = _split(x)
    yf, ye = _split(y)
    if xe.size != ye.size:
        return float("inf")
    total = float(np.sum(np.abs(xe - ye) ** order))
    n, m = len(xf), len(yf)
    if n + m:
        cost = np.zeros((n + m, n + m))
        if n and m:
            if np.isinf(internal_p):
                cost[:n, :m] = cdist(xf, yf, metric="chebyshev") ** order
            else:
                cost[:n, :m] = cdist(xf, yf, metric="minkowski", p=internal_p) ** order
        top = np.full((n, n), np.inf)
        np.fill_diagonal(top, _to_diagonal(xf, internal_p) ** order)
        left = np.full((m, m), np.inf)
        np.fill_diagonal(left, _to_diagonal(yf, internal_p) ** order)
        cost[:n, m:] = top
        cost[n:, :m] = left
        rows, cols = linear_sum_assignment(cost)
        total += float(cost[rows, cols].sum())
    return total ** (1.0 / order)


def _bottleneck(x: np.ndarray, y: np.ndarray, *, order: float, internal_p: float) -> float:
    import gudhi

    if not np.isinf(internal_p):
        raise ValueError(
            f"the bottleneck distance uses the L-infinity ground metric; got internal_p="
            f"{internal_p}. Use metric='wasserstein' for other ground metrics."
        )
    return float(gudhi.bottleneck_distance(x, y, e=0))  # e=0: the exact algorithm


DIAGRAM_DISTANCES = {"bottleneck": _bottleneck, "wasserstein": _wasserstein}


def diagram_distance(
    a: Any,
    b: Any,
    *,
    metric: Literal["bottleneck", "wasserstein"] = "bottleneck",
    dimension: int = 1,
    order: float = 1.0,
    internal_p: float = np.inf,
) -> float:
    """Bottleneck or Wasserstein distance between two persistence diagrams in one dimension.

    Parameters
    ----------
    a, b : Dataset or ndarray
        A diagram, or an array ``(k, 2)``.
        Diagrams from :func:`persistence` (the bars of homology ``dimension``
        are used), or birth/death arrays.
    metric : {"bottleneck", "wasserstein"}
        ``"bottleneck"``: :func:`gudhi.bottleneck_distance` with ``e=0`` (exact).
        ``"wasserstein"``: exact optimal matching by linear assignment
        (no POT dependency).
    dimension : int
        Homology dimension compared.
    order : float
        Wasserstein exponent q >= 1 (ignored for the bottleneck distance).
    internal_p : float
        Ground metric L_p in the birth/death plane (``inf`` by default, as gudhi).

    Returns
    -------
    float
        ``inf`` when the numbers of essential (infinite) bars differ.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.topology import diagram_distance
    >>> diagram_distance(np.array([[0.0, 2.0]]), np.array([[0.0, 3.0]]), metric="wasserstein")
    1.0
    """
    check_option("metric", metric, DIAGRAM_DISTANCES)
    q = float(order)
    if not (q >= 1 and np.isfinite(q)):
        raise ValueError(f"order must be a finite number >= 1; got {order!r}.")
    p = float(internal_p)
    if not p >= 1:
        raise ValueError(f"internal_p must be >= 1 (or inf); got {internal_p!r}.")
    x = diagram_array(a, dimension, name="a")
    y = diagram_array(b, dimension, name="b")
    return DIAGRAM_DISTANCES[metric](x, y, order=q, internal_p=p)
