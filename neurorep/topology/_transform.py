"""Geo-topological transforms of RDMs: RGTM and the geodesic RGDM.

Lin & Kriegeskorte, "The Topology and Geometry of Neural Representations",
PNAS 2024. Conventions follow the paper's code (``gt_transform`` in
``utils_transform.py`` of github.com/doerlbh/TopologicalRSA): the off-diagonal
dissimilarities of each RDM are ranked (ties share their average rank) and
min-max rescaled to [0, 1]; ``lower`` and ``upper`` are *quantile levels*: the
thresholds are ``np.quantile`` of those rescaled ranks at ``lower`` and
``upper`` (linear interpolation). Values below the lower threshold become 0,
values above the upper one become 1 and values in between are mapped
linearly. Without ties the rescaled ranks are evenly spaced and the
thresholds equal ``lower``/``upper``; with ties (a categorical model RDM, say)
they differ, and using the levels directly would threshold a different
fraction of the pairs than the paper does.

Where the paper's formula divides 0 by 0 -- both thresholds equal (``lower ==
upper``, both quantiles inside one block of tied values, or an RDM whose
dissimilarities are all equal) -- a value equal to the threshold maps to 0
(the limit of the ramp as the upper threshold falls to the lower one), so the
result is a 0/1 step and never NaN; an all-tied RDM maps to all zeros.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep._core.condensed import condensed, square
from neurorep._core.errors import check_int, check_option
from neurorep._core.ranks import rank_rows
from neurorep.topology._checks import check_rdm, check_thresholds, rdm_vectors_checked

Regime = Literal["local", "global", "geometry", "topology"]
Graph = Literal["gt", "p_shortest", "p_nearest", "k_nearest"]

#: Graphs of :func:`geodesic_transform` (the authors' ``gd_type``: "gt" is their
#: "twostep" on the RGTM; the others are built on the rank-scaled RDM).
GEODESIC_GRAPHS = ("gt", "p_shortest", "p_nearest", "k_nearest")

#: Named (lower, upper) presets for the paper's RGTM regimes (quantile levels of the ranks).
#: The paper's classification (``utils_analysis.get_rgtm_type``): local extractor
#: mean(l, u) <= 0.2; global extractor mean(l, u) >= 0.8; geometry sensitive
#: u - l >= 0.8; topology sensitive 0.4 <= l <= u <= 0.6. (0, 1) is the
#: rank-transformed RDM itself.
RGTM_REGIMES: dict[str, tuple[float, float]] = {
    "local": (0.0, 0.2),
    "global": (0.8, 1.0),
    "geometry": (0.1, 0.9),
    "topology": (0.4, 0.6),
}


# ----------------------------------------------------------------------------
# numpy kernels
# ----------------------------------------------------------------------------
def _rank01(vectors: np.ndarray) -> np.ndarray:
    """Rank each row (average ties) and min-max rescale to [0, 1]; constant rows -> 0.5."""
    v = np.atleast_2d(vectors)
    r = rank_rows(v)
    rmin = r.min(axis=-1, keepdims=True)
    span = r.max(axis=-1, keepdims=True) - rmin
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(span > 0, (r - rmin) / np.where(span > 0, span, 1.0), 0.5)
    return out.reshape(np.shape(vectors))


def _gt_map(values: np.ndarray, lower: Any, upper: Any) -> np.ndarray:
    """0 below ``lower``, 1 above ``upper``, linear between; ``lower == upper`` -> 0/1 step.

    ``lower``/``upper`` are scalars, or arrays with one threshold per row of
    ``values`` (shape ``values.shape[:-1]``). A value equal to coinciding
    thresholds maps to 0 (the limit of the linear ramp as upper -> lower from
    above), so the result is never NaN.
    """
    v = np.asarray(values, dtype=float)
    lo, up = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    if lo.ndim == 0 and up.ndim == 0:
        if up > lo:
            with np.errstate(over="ignore"):  # a tiny span: the ramp saturates (inf -> 1)
                return np.clip((v - lo) / (up - lo), 0.0, 1.0)
        return (v > lo).astype(float)
    lo, up = lo[..., None], up[..., None]
    span = up - lo
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ramp = np.clip((v - lo) / np.where(span > 0, span, 1.0), 0.0, 1.0)
    return np.where(span > 0, ramp, (v > lo).astype(float))


def _rank_thresholds(ranks: np.ndarray, lower: float, upper: float) -> tuple[np.ndarray, np.ndarray]:
    """The paper's thresholds: ``np.quantile`` of each row's rescaled ranks at ``lower``, ``upper``."""
    q = np.quantile(np.asarray(ranks, dtype=float), [lower, upper], axis=-1)
    return q[0], q[1]


def _gt_rank(ranks: np.ndarray, lower: float, upper: float) -> np.ndarray:
    """RGTM values of rescaled ranks (rows: RDMs) at quantile levels ``lower``, ``upper``."""
    lo, up = _rank_thresholds(ranks, lower, upper)
    return _gt_map(ranks, lo, up)


def _rank_lookup(vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique dissimilarities and their rank values (as in :func:`_rank01`)."""
    r = _rank01(vector[None])[0]
    uniq, first = np.unique(vector, return_index=True)
    return uniq, r[first]


def _resolve(
    lower: float | None, upper: float | None, regime: str | None, *, rank: bool
) -> tuple[float, float, str | None]:
    if regime is not None:
        if lower is not None or upper is not None:
            raise ValueError(
                f"pass either regime= or lower=/upper=, not both; got regime={regime!r}, "
                f"lower={lower!r}, upper={upper!r}."
            )
        check_option("regime", regime, RGTM_REGIMES)
        if not rank:
            raise ValueError(
                f"regime={regime!r} is defined on the rank scale; use rank=True, or pass raw "
                f"lower=/upper= values with rank=False."
            )
        lo, up = RGTM_REGIMES[regime]
        return lo, up, regime
    if lower is None or upper is None:
        raise ValueError(
            f"give both lower= and upper= (or a regime= among {list(RGTM_REGIMES)}); got "
            f"lower={lower!r}, upper={upper!r}."
        )
    lo, up = check_thresholds(lower, upper, rank=rank)
    return lo, up, None


def _transform_stack(values: np.ndarray, lower: float, upper: float, rank: bool) -> np.ndarray:
    """``(k, n, n)`` -> RGTM ``(k, n, n)``."""
    n = values.shape[-1]
    vec = condensed(values)
    if rank:
        return square(_gt_rank(_rank01(vec), lower, upper), n)
    return square(_gt_map(vec, lower, upper), n)


def threshold_grid(n: int = 10, *, degenerate: bool = False) -> np.ndarray:
    """``(lower, upper)`` pairs with ``lower <= upper`` on ``linspace(0, 1, n)``.

    Parameters
    ----------
    n : int
        Number of values per threshold (``n * (n + 1) / 2`` pairs).
    degenerate : bool
        Keep ``(0, 0)`` and ``(1, 1)``, which map (nearly) every rank-scale
        distance to 1 and to 0 respectively; left out by default, as in the
        paper's grid search.

    Returns
    -------
    ndarray, shape (n_pairs, 2)
        The ``(lower, upper)`` pairs, sorted by lower then upper.

    Examples
    --------
    >>> from neurorep.topology import threshold_grid
    >>> threshold_grid(3).tolist()
    [[0.0, 0.5], [0.0, 1.0], [0.5, 0.5], [0.5, 1.0]]
    """
    if int(n) < 2:
        raise ValueError(f"threshold_grid needs n >= 2 values per threshold; got n={n}.")
    vals = np.linspace(0.0, 1.0, int(n))
    lo, up = np.triu_indices(int(n))
    grid = np.column_stack([vals[lo], vals[up]])
    if not degenerate:
        total = grid.sum(axis=1)
        grid = grid[(total > 0.01) & (total < 1.99)]
    return grid


def _candidates(grid: Any, *, rank: bool) -> np.ndarray:
    """``(k, 2)`` threshold candidates from an int (:func:`threshold_grid`) or pairs (checked)."""
    if isinstance(grid, int | np.integer) and not isinstance(grid, bool):
        cands = threshold_grid(int(grid))
    else:
        cands = np.asarray(grid, dtype=float)
    if cands.ndim != 2 or cands.shape[1] != 2 or len(cands) == 0:
        raise ValueError(
            f"grid must be an int or an array of (lower, upper) pairs; got shape {cands.shape}."
        )
    for lo, up in cands:
        check_thresholds(lo, up, rank=rank)
    return cands


def _attrs(
    rdm: xr.DataArray, kind: str, lo: float, up: float, rank: bool, regime: str | None
) -> dict[str, Any]:
    attrs = dict(rdm.attrs)
    attrs["metric"] = f"{kind}({attrs.get('metric', 'unknown')})"
    attrs.update(gt_lower=lo, gt_upper=up, gt_rank=int(rank), gt_regime=regime or "")
    return attrs


# ----------------------------------------------------------------------------
# public
# ----------------------------------------------------------------------------
def gt_transform(
    rdm: xr.DataArray,
    lower: float | None = None,
    upper: float | None = None,
    *,
    regime: Regime | None = None,
    rank: bool = True,
) -> xr.DataArray:
    """Geo-topological transform of an RDM: its representational geo-topological matrix (RGTM).

    With ``rank=True`` (the paper's version) each RDM's off-diagonal
    dissimilarities are ranked (average ranks for ties) and min-max rescaled
    to [0, 1], and the thresholds are the ``lower`` and ``upper`` quantiles of
    those values (``np.quantile``, as the paper's code); with ``rank=False``
    the raw dissimilarities are thresholded at the values ``lower`` and
    ``upper``. Values at or below the lower threshold become 0, values above
    the upper one become 1 and values in between rise linearly. Equal
    thresholds (``lower == upper``, or both quantiles inside one block of
    tied dissimilarities) give a 0/1 graph: a value equal to the threshold
    maps to 0; an RDM whose dissimilarities are all tied maps to all zeros.
    Small distances collapse to 0 (local neighbourhoods become "the same
    place"), large ones saturate at 1 ("disconnected").

    Parameters
    ----------
    rdm : DataArray
        Dims ``(..., stimulus_i, stimulus_j)``.
        One RDM or a stack (leading dims such as ``subject``); each RDM is
        ranked on its own. Must be symmetric, non-negative, finite.
    lower, upper : float
        Thresholds: quantile levels in [0, 1] of the rescaled ranks when
        ``rank=True`` (without ties the threshold equals the level; with
        ties it is the paper's quantile); dissimilarity values when
        ``rank=False``.
    regime : {"local", "global", "geometry", "topology"}, optional
        A named preset from :data:`RGTM_REGIMES` instead of ``lower``/``upper``.
    rank : bool
        Rank-transform first (default, as in the paper).

    Returns
    -------
    DataArray
        Dims ``(..., stimulus_i, stimulus_j)``.
        Values in [0, 1], same coords; ``attrs`` record the thresholds.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, topology
    >>> r = data.rdm([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], stimulus=list("abcd"))
    >>> topology.gt_transform(r, 0.2, 0.8).values[0].round(3).tolist()
    [0.0, 0.0, 0.0, 0.333]
    """
    lo, up, name = _resolve(lower, upper, regime, rank=rank)
    check_rdm(rdm)
    vals = np.asarray(rdm.values, dtype=float)
    n = vals.shape[-1]
    out = _transform_stack(vals.reshape(-1, n, n), lo, up, rank).reshape(vals.shape)
    return rdm.copy(data=out).assign_attrs(_attrs(rdm, "rgtm", lo, up, rank, name))


def sigmoid_transform(
    rdm: xr.DataArray,
    alpha: float = 10.0,
    beta: float = 0.5,
    *,
    rank: bool = True,
) -> xr.DataArray:
    """Sigmoid geo-topological transform: a smooth RGTM.

    The authors' ``gt_transform(gt_type="sigmoid")`` (Lin & Kriegeskorte
    2024): each RDM's off-diagonal dissimilarities are ranked (average ranks
    for ties) and min-max rescaled to [0, 1] (``rank=True``), then mapped by
    ``1 / (1 + exp(-alpha (x - beta)))``. ``beta`` is the midpoint (the rank
    level mapped to 0.5), ``alpha`` the steepness: large ``alpha`` approaches
    the 0/1 step of :func:`gt_transform` with ``lower == upper == beta``.
    The diagonal stays 0.

    Parameters
    ----------
    rdm : DataArray
        Dims ``(..., stimulus_i, stimulus_j)``.
        One RDM or a stack; each RDM is ranked on its own.
    alpha : float
        Steepness (> 0; the authors' default 10).
    beta : float
        Midpoint on the rank scale in [0, 1] (the authors' default 0.5), or in
        dissimilarity units with ``rank=False``.
    rank : bool
        Rank-transform and rescale first (default, as the authors).

    Returns
    -------
    DataArray
        Dims ``(..., stimulus_i, stimulus_j)``.
        Values in (0, 1) off the diagonal; ``attrs`` record ``alpha`` and ``beta``.

    Examples
    --------
    >>> from neurorep import data, topology
    >>> r = data.rdm([1.0, 2.0, 3.0], stimulus=list("abc"))
    >>> topology.sigmoid_transform(r).values[0].round(4).tolist()
    [0.0, 0.0067, 0.5]
    """
    vec = rdm_vectors_checked(rdm)
    try:
        a, b = float(alpha), float(beta)
    except (TypeError, ValueError):
        raise TypeError(f"alpha and beta must be numbers; got {alpha!r}, {beta!r}.") from None
    if not np.isfinite(a) or a <= 0:
        raise ValueError(f"alpha (steepness) must be a finite number > 0; got {alpha!r}.")
    if not np.isfinite(b) or (rank and not 0 <= b <= 1):
        raise ValueError(
            f"beta must be finite{' and in [0, 1] on the rank scale' if rank else ''}; got "
            f"{beta!r}."
        )
    n = rdm.shape[-1]
    x = _rank01(vec) if rank else vec.copy()
    # the authors' 1 / (1 + exp(-(x - beta) alpha)), in place on one array
    x -= b
    x *= -a
    with np.errstate(over="ignore"):
        np.exp(x, out=x)
    x += 1.0
    np.divide(1.0, x, out=x)
    out = rdm.copy(deep=False, data=square(x, n).reshape(rdm.shape))
    out.attrs = {**rdm.attrs, "metric": f"rgtm_sigmoid({rdm.attrs.get('metric', 'unknown')})",
                 "gt_alpha": a, "gt_beta": b, "gt_rank": int(rank)}
    return out


def _edge_weights(
    vec: np.ndarray,
    n: int,
    graph: str,
    lower: float,
    upper: float,
    rank: bool,
    p: float,
    k: int,
    keep_zero_edges: bool,
    symmetric: bool,
) -> np.ndarray:
    """Square ``(n, n)`` edge weights of one RDM's graph (inf: no edge)."""
    if graph == "gt":
        w = _gt_rank(_rank01(vec[None]), lower, upper)[0] if rank else _gt_map(vec, lower, upper)
        edge = w < 1.0
    else:
        w = _rank01(vec[None])[0] if rank else np.asarray(vec, dtype=float)
        edge = np.ones(w.shape, dtype=bool)
    if not keep_zero_edges:
        edge &= w != 0
    if graph == "p_shortest":
        edge &= w <= np.quantile(w, p)
    ws = square(np.where(edge, w, np.inf)[None], n)[0]
    np.fill_diagonal(ws, np.inf)
    if graph in ("p_nearest", "k_nearest"):
        kk = int(p * n) if graph == "p_nearest" else k
        # each node's kk nearest candidates, ties to the lower index (the authors' sort of
        # (weight, node) pairs); candidates are the edges that exist (finite weight)
        order = np.argsort(ws, axis=1, kind="stable")[:, :kk]
        near = np.zeros((n, n), dtype=bool)
        rows = np.repeat(np.arange(n), order.shape[1])
        near[rows, order.ravel()] = True
        near &= np.isfinite(ws)
        keep = near | near.T if symmetric else np.triu(near, 1) | np.triu(near, 1).T
        ws = np.where(keep, ws, np.inf)
    return ws


def geodesic_transform(
    rdm: xr.DataArray,
    lower: float | None = None,
    upper: float | None = None,
    *,
    regime: Regime | None = None,
    rank: bool = True,
    graph: Graph = "gt",
    p: float = 0.05,
    k: int = 1,
    keep_zero_edges: bool = True,
    symmetric: bool = True,
    ranked: bool = False,
    disconnected: float = np.inf,
) -> xr.DataArray:
    """Geodesic transform (RGDM): shortest paths on a graph of the RDM.

    The graph (``graph=``, the authors' ``gd_type``) has the stimuli as nodes
    and, as edge weights, the rank-scaled dissimilarities (``rank=True``:
    ranks min-max rescaled to [0, 1]) or, for ``"gt"``, the RGTM values:

    * ``"gt"`` (default; the authors' "twostep"): the RDM is
      geo-topologically transformed (:func:`gt_transform`) and pairs whose
      value is 1 are not connected;
    * ``"p_shortest"``: only the fraction ``p`` of shortest edges is kept
      (weights at or below their ``p`` quantile);
    * ``"k_nearest"``: each stimulus keeps its edges to its ``k`` nearest
      neighbours (ties to the lower index, as the authors' sort);
      ``"p_nearest"`` the same with ``k = int(p * n_stimuli)``.

    Geodesic distances are the shortest-path lengths
    (:func:`scipy.sparse.csgraph.shortest_path`, Dijkstra).

    **Zero-length edges.** A pair whose weight is 0 (every pair below the
    lower threshold of the RGTM; the smallest dissimilarity on the rank
    scale) is an edge of length 0 here (``keep_zero_edges=True``): the pair
    is "the same place" and its geodesic distance is 0. The authors' code
    and rsatoolbox build the graph with ``networkx.from_numpy_array``, which
    drops zero entries, so such pairs are *not* connected and their
    distance goes through other stimuli. The difference is large: for 12
    points ``np.random.default_rng(0).standard_normal((12, 4))`` (Euclidean
    RDM, ``lower=0.2, upper=0.8``), 36 of the 66 pairs have geodesic
    distance 0 here and 0.026 to 1.31 (median 0.49) in the authors' code,
    and 24 of the other 30 pairs differ as well (by up to 0.77): 60 of 66
    entries differ. ``keep_zero_edges=False`` gives the
    authors' (and rsatoolbox's) numbers.

    **k nearest.** The authors keep the edge between stimuli ``i < j`` when
    ``j`` is among the nearest neighbours of ``i`` -- which depends on the
    order of the stimuli. By default (``symmetric=True``) an edge is kept
    when either end is among the other's nearest neighbours (the symmetric
    kNN graph, independent of the order); ``symmetric=False`` is the
    authors' rule.

    Parameters
    ----------
    rdm : DataArray
        One RDM or a stack ``(..., stimulus_i, stimulus_j)``.
    lower, upper, regime
        Thresholds of the RGTM for ``graph="gt"`` (as in
        :func:`gt_transform`; ``lower=0, upper=1`` keeps every edge). Not
        used by the other graphs.
    rank : bool
        Rank-transform and rescale first (default, as the authors).
    graph : {"gt", "p_shortest", "p_nearest", "k_nearest"}
        Which edges the graph keeps (:data:`GEODESIC_GRAPHS`).
    p : float
        Fraction in (0, 1] for ``"p_shortest"`` and ``"p_nearest"`` (the authors'
        default 0.05).
    k : int
        Neighbours per stimulus for ``"k_nearest"`` (the authors' default 1).
    keep_zero_edges : bool
        Keep edges of weight 0 (default; see above). False: the authors' graph.
    symmetric : bool
        The symmetric kNN graph (default) or the authors' order-dependent rule.
    ranked : bool
        Return the average ranks of the geodesic distances (1 = shortest,
        disconnected pairs tied at the top), as the authors'
        ``rank_transform_after=True``; the diagonal stays 0. Distances equal
        to 12 significant digits are tied (path sums that are equal but
        summed in another order would otherwise rank apart by rounding).
    disconnected : float
        Value for pairs in different connected components (default ``inf``;
        applied before ranking). A finite value gives an RDM that passes
        :func:`neurorep.data.validate`.

    Returns
    -------
    DataArray
        The geodesic distances ``(..., stimulus_i, stimulus_j)``, same
        coords as ``rdm``.

    Examples
    --------
    >>> from neurorep import data, topology
    >>> r = data.rdm([1.0, 2.0, 3.0], stimulus=list("abc"))
    >>> topology.geodesic_transform(r, 0.3, 0.3).values.tolist()
    [[0.0, 0.0, inf], [0.0, 0.0, inf], [inf, inf, 0.0]]
    >>> topology.geodesic_transform(r, graph="k_nearest", k=1).values.tolist()
    [[0.0, 0.0, 0.5], [0.0, 0.0, 0.5], [0.5, 0.5, 0.0]]
    """
    from scipy.sparse.csgraph import csgraph_from_dense, shortest_path
    from scipy.stats import rankdata

    check_option("graph", graph, GEODESIC_GRAPHS)
    if graph == "gt":
        lo, up, name = _resolve(lower, upper, regime, rank=rank)
    else:
        if lower is not None or upper is not None or regime is not None:
            raise ValueError(
                f"lower=/upper=/regime= set the RGTM of graph='gt'; graph={graph!r} uses p= "
                f"or k= instead. Got lower={lower!r}, upper={upper!r}, regime={regime!r}."
            )
        lo, up, name = 0.0, 1.0, None
    try:
        pf = float(p)
    except (TypeError, ValueError):
        raise TypeError(f"p must be a number in (0, 1]; got {p!r}.") from None
    if not 0 < pf <= 1:
        raise ValueError(f"p must lie in (0, 1]; got {p!r}.")
    kk = check_int("k", k, minimum=1, fix="The number of neighbours per stimulus, e.g. k=2.")
    check_rdm(rdm)
    try:
        fill = float(disconnected)
    except (TypeError, ValueError):
        raise TypeError(f"disconnected must be a number; got {disconnected!r}.") from None
    if np.isnan(fill) or fill < 0:
        raise ValueError(f"disconnected must be >= 0 (or inf); got {disconnected!r}.")
    vals = np.asarray(rdm.values, dtype=float)
    n = vals.shape[-1]
    vecs = condensed(vals.reshape(-1, n, n))
    out = np.empty((vecs.shape[0], n, n))
    for i, vec in enumerate(vecs):
        w = _edge_weights(
            vec, n, graph, lo, up, rank, pf, kk, bool(keep_zero_edges), bool(symmetric)
        )
        g = csgraph_from_dense(w, null_value=np.inf)  # keeps zero-weight edges
        out[i] = shortest_path(g, method="D", directed=False)
    if np.isfinite(fill):
        out[np.isinf(out)] = fill
    if ranked:  # sums along different paths tie up to rounding: tie them (12 digits)
        vec = condensed(out)
        finite = np.where(np.isfinite(vec), np.abs(vec), 0.0)
        scale = np.maximum(finite.max(axis=-1, keepdims=True), np.finfo(float).tiny)
        with np.errstate(invalid="ignore"):
            vec = np.where(np.isfinite(vec), np.round(vec / scale, 12), vec)
        out = square(rankdata(vec, axis=-1), n)
    attrs = _attrs(rdm, "rgdm", lo, up, rank, name)
    attrs.update(
        geodesic_graph=graph, geodesic_keep_zero_edges=int(bool(keep_zero_edges)),
        geodesic_ranked=int(bool(ranked)),
    )
    if graph in ("p_shortest", "p_nearest"):
        attrs["geodesic_p"] = pf
    if graph == "k_nearest":
        attrs["geodesic_k"] = kk
    return rdm.copy(data=out.reshape(vals.shape)).assign_attrs(attrs)
