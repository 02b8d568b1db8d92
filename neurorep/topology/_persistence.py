"""Vietoris-Rips persistent homology (gudhi), diagram transforms, Betti curves, landscapes.

A persistence diagram is an ``xr.Dataset`` over a ``bar`` dim with variables
``birth`` and ``death`` (``inf`` for essential classes) and a ``dimension``
coordinate (the homology dimension of each bar).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from xarray.core.indexes import PandasIndex

from neurorep._core.condensed import condensed, triu
from neurorep._core.errors import SchemaError, check_int
from neurorep.data import RDM_DIMS
from neurorep.topology._checks import DISTANCES, as_rdm, check_rdm
from neurorep.topology._transform import (
    Regime,
    _gt_map,
    _rank01,
    _rank_lookup,
    _rank_thresholds,
    _resolve,
)

_GIB = 1024**3


# ----------------------------------------------------------------------------
# memory guard
# ----------------------------------------------------------------------------
def rips_memory_bytes(n: int, maxdim: int, *, edge_fraction: float = 1.0) -> float:
    """Worst-case working memory (bytes) of a Rips persistence computation.

    Counts the dense ``n x n`` float64 input and its edge list (~16 n^2 bytes)
    plus 16 bytes per ``maxdim``-simplex that the cohomology reduction may hold
    (``C(n, maxdim + 1)``, thinned by ``edge_fraction ** C(maxdim + 1, 2)``
    when a finite threshold keeps only that fraction of the edges). It is an
    upper bound: ripser-style apparent pairs usually need much less.

    Parameters
    ----------
    n : int
        Number of points (stimuli).
    maxdim : int
        Highest homology dimension computed.
    edge_fraction : float, optional
        Fraction of the edges a finite threshold keeps (default 1: all).

    Returns
    -------
    float
        The estimate in bytes.

    Examples
    --------
    >>> from neurorep.topology import rips_memory_bytes
    >>> rips_memory_bytes(100, 1) > rips_memory_bytes(100, 1, edge_fraction=0.1)
    True
    """
    n = int(n)
    base = 16.0 * n * n
    if maxdim == 0:
        return base + 16.0 * n
    k = maxdim + 1
    simplices = float(math.comb(n, k)) * edge_fraction ** (k * (k - 1) / 2)
    return base + 16.0 * simplices


def _check_memory(n: int, maxdim: int, max_memory_gb: float, edge_fraction: float = 1.0) -> None:
    need = rips_memory_bytes(n, maxdim, edge_fraction=edge_fraction)
    if need > max_memory_gb * _GIB:
        raise MemoryError(
            f"persistence: a Vietoris-Rips computation on {n} points up to homology dimension "
            f"{maxdim} may need up to {need / _GIB:.1f} GiB (the {n}x{n} distance matrix plus "
            f"up to C({n}, {maxdim + 1}) simplices in the reduction), above "
            f"max_memory_gb={max_memory_gb}. Nothing was allocated. Reduce the points (e.g. a "
            f"random subset of stimuli, or gudhi.subsampling.choose_n_farthest_points), lower "
            f"maxdim, pass a finite threshold= (a Rips radius sparsifies the complex), or raise "
            f"max_memory_gb= if the machine has the memory."
        )


def _is_prime(p: int) -> bool:
    return p >= 2 and all(p % d for d in range(2, math.isqrt(p) + 1))


# ----------------------------------------------------------------------------
# diagrams as xarray
# ----------------------------------------------------------------------------
#: Up to this many points the dense Rips kernel runs without the cone-radius threshold.
SMALL_RIPS = 200


def _rips_full(d: np.ndarray, dims: list[int], coeff: int, threshold: float) -> list[np.ndarray]:
    """Bars of gudhi's ``RipsPersistence`` on a full distance matrix, per dimension in ``dims``.

    Where RipsPersistence itself would hand the dense matrix straight to its
    ripser kernel (homology up to dimension 1, no threshold below the cone
    radius, so no sparsification or edge collapse), the kernel is called here
    directly: on 100 points the scikit-learn / joblib wrapper around it cost
    about 10 % of the call. Any other case goes through RipsPersistence.
    """
    from gudhi.sklearn.rips_persistence import RipsPersistence

    n = d.shape[0]
    max_dim = min(max(dims), max(0, n - 3))
    try:
        from gudhi._ripser_ext import _full
    except ImportError:  # another gudhi layout: the public path below
        _full = None
    if _full is not None and max_dim <= 1 and n > 0:
        cone = float(d.max(-1).min())  # past this radius every complex is a cone
        # RipsPersistence's test for codes that do not fit ripser's 128 bits
        wide = math.comb(n, min(n // 2, max_dim + 2)) >= 1 << (128 - (coeff - 2).bit_length())
        if not wide and threshold >= cone:
            # the cone radius as the kernel's threshold prunes the edges past it: worth it
            # on larger inputs (1000 points: 0.92 s against 1.23 s unpruned), not on small
            # ones, where the check costs more than it prunes (100 points: 2.9 ms against
            # 2.3 ms); the bars are the same (every class dies by the cone radius)
            edge = cone if n > SMALL_RIPS else np.inf
            dgm = _full(d, max_dimension=max_dim, max_edge_length=edge, homology_coeff_field=coeff)
            return [np.asarray(dgm[k]) if k < len(dgm) else np.empty((0, 2)) for k in dims]
    rp = RipsPersistence(
        dims, threshold=threshold, input_type="full distance matrix", homology_coeff_field=coeff
    )
    return list(rp.fit_transform([d])[0])


def _diagram(
    bars: list[np.ndarray], *, attrs: dict[str, Any], min_persistence: float = 0.0
) -> xr.Dataset:
    births, deaths, dims = [], [], []
    for dim, arr in enumerate(bars):
        arr = np.asarray(arr, dtype=float).reshape(-1, 2)
        keep = (arr[:, 1] - arr[:, 0]) > min_persistence
        arr = arr[keep]
        order = np.lexsort((arr[:, 1], arr[:, 0]))
        births.append(arr[order, 0])
        deaths.append(arr[order, 1])
        dims.append(np.full(len(arr), dim, dtype=np.int64))
    b = np.concatenate(births) if births else np.empty(0)
    d = np.concatenate(deaths) if deaths else np.empty(0)
    k = np.concatenate(dims) if dims else np.empty(0, dtype=np.int64)
    return _bars_dataset(b, d, k, attrs)


def _bars_dataset(b: np.ndarray, d: np.ndarray, k: np.ndarray, attrs: dict[str, Any]) -> xr.Dataset:
    """``xr.Dataset({"birth": ("bar", b), "death": ("bar", d)}, coords={"bar": arange,
    "dimension": ("bar", k)}, attrs=attrs)``, assembled from its variables and index
    directly: the public constructor's merge and alignment cost 0.4 ms of a 100-point
    persistence call of ~2.5 ms, this 0.06 ms (the same Dataset:
    ``test_bars_dataset_is_the_public_construction``)."""
    n = len(b)
    index = PandasIndex(pd.Index(np.arange(n), name="bar"), "bar")
    variables = {"birth": xr.Variable(("bar",), b), "death": xr.Variable(("bar",), d),
                 **index.create_variables(), "dimension": xr.Variable(("bar",), k)}
    return xr.Dataset._construct_direct(variables, {"bar", "dimension"}, {"bar": n},
                                        dict(attrs), indexes={"bar": index})


def check_diagram(diagram: Any, *, name: str = "diagram") -> xr.Dataset:
    """Check that ``diagram`` is a persistence diagram and return it.

    Parameters
    ----------
    diagram : Dataset
        Variables ``birth`` and ``death`` over ``bar`` and a ``dimension``
        coordinate, as :func:`persistence` returns.
    name : str
        How the object is named in error messages.

    Returns
    -------
    Dataset
        ``diagram`` itself.

    Raises
    ------
    SchemaError
        Not a Dataset with ``birth`` and ``death``, or no ``dimension`` coordinate.

    Examples
    --------
    >>> import xarray as xr
    >>> from neurorep import topology
    >>> dg = xr.Dataset({"birth": ("bar", [0.0]), "death": ("bar", [1.0])},
    ...                 coords={"dimension": ("bar", [0])})
    >>> topology.check_diagram(dg) is dg
    True
    """
    if not isinstance(diagram, xr.Dataset) or not {"birth", "death"} <= set(diagram.data_vars):
        raise SchemaError(
            f"{name}: expected a persistence diagram (xr.Dataset with variables 'birth', "
            f"'death' and a 'dimension' coordinate over 'bar') as returned by "
            f"neurorep.topology.persistence; got {type(diagram).__name__}."
        )
    if "dimension" not in diagram.coords:
        raise SchemaError(f"{name}: the diagram has no 'dimension' coordinate.")
    return diagram


def diagram_array(diagram: Any, dimension: int, *, name: str = "diagram") -> np.ndarray:
    """The ``(k, 2)`` birth/death array of one homology dimension."""
    if isinstance(diagram, np.ndarray):
        arr = np.asarray(diagram, dtype=float)
        if arr.size == 0:
            return np.empty((0, 2))
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise SchemaError(f"{name}: a diagram array must have shape (k, 2); got {arr.shape}.")
        return arr
    dg = check_diagram(diagram, name=name)
    if isinstance(dimension, bool) or not isinstance(dimension, int | np.integer) or dimension < 0:
        raise ValueError(
            f"{name}: dimension must be a homology dimension, an int >= 0; got {dimension!r}."
        )
    dims = np.asarray(dg["dimension"].values)
    maxdim = dg.attrs.get("maxdim", int(dims.max()) if dims.size else None)
    if maxdim is None or int(dimension) > int(maxdim):
        computed = "no dimension" if maxdim is None else f"dimensions 0..{int(maxdim)}"
        raise SchemaError(
            f"{name}: homology dimension {int(dimension)} was not computed (the diagram holds "
            f"{computed}): its bars are unknown, not absent, so a distance or landscape there "
            f"is undefined. Recompute with persistence(..., maxdim={int(dimension)}), or compare a "
            f"computed dimension. (A hand-made diagram: set diagram.attrs['maxdim'].)"
        )
    sel = dims == int(dimension)
    return np.column_stack([dg["birth"].values[sel], dg["death"].values[sel]]).astype(float)


# ----------------------------------------------------------------------------
# persistence
# ----------------------------------------------------------------------------
def persistence(
    obj: xr.DataArray,
    *,
    maxdim: int = 1,
    metric: str = "euclidean",
    threshold: float = np.inf,
    coeff: int = 2,
    min_persistence: float = 0.0,
    max_memory_gb: float = 4.0,
) -> xr.Dataset:
    """Vietoris-Rips persistent homology of an RDM (or of stimulus response patterns).

    Uses gudhi's fastest exact path (:class:`gudhi.sklearn.rips_persistence.RipsPersistence`
    on a full distance matrix: a ripser fork with edge collapse), not the
    ``RipsComplex`` + ``SimplexTree`` path that stores every simplex.

    Parameters
    ----------
    obj : DataArray
        One RDM ``(stimulus_i, stimulus_j)`` (``+inf`` entries are "no edge",
        e.g. disconnected pairs of an RGDM), or responses ``(stimulus, unit)``
        whose stimuli are the points (distances by ``metric``).
    maxdim : int
        Highest homology dimension (0 = components, 1 = loops, 2 = voids).
    metric : {"euclidean", "correlation"}
        Distance between response patterns (responses input only).
    threshold : float
        Largest edge length in the filtration (``inf``: the full complex; a
        finite value sparsifies and truncates the filtration there).
    coeff : int
        Prime coefficient field (2 by default, as in ripser).
    min_persistence : float
        Keep bars with ``death - birth > min_persistence``.
    max_memory_gb : float
        Refuse (``MemoryError``, before allocating) when the worst-case
        estimate :func:`rips_memory_bytes` exceeds this.

    Returns
    -------
    Dataset
        Over ``bar``: ``birth``, ``death`` (``inf`` for essential classes)
        and coordinate ``dimension``; sorted by dimension, birth, death.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, topology
    >>> t = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    >>> ring = data.responses(np.c_[np.cos(t), np.sin(t)])
    >>> dgm = topology.persistence(ring, maxdim=1)
    >>> int((dgm.dimension == 1).sum())
    1
    """
    from gudhi.sklearn.rips_persistence import RipsPersistence

    if isinstance(maxdim, bool) or not isinstance(maxdim, int | np.integer) or maxdim < 0:
        raise ValueError(f"maxdim must be an int >= 0; got {maxdim!r}.")
    if not isinstance(coeff, int | np.integer) or not _is_prime(int(coeff)):
        raise ValueError(
            f"coeff must be a prime number (the coefficient field Z/pZ); got {coeff!r}."
        )
    threshold = float(threshold)
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0 (or inf); got {threshold}.")
    if isinstance(obj, xr.DataArray) and tuple(obj.dims[-2:]) != RDM_DIMS:
        if metric not in DISTANCES:
            from neurorep._core.errors import check_option

            check_option("metric", metric, DISTANCES)
        n_pts = obj.sizes.get("stimulus", 0)
        _check_memory(n_pts, int(maxdim), max_memory_gb)
    rdm = as_rdm(obj, metric=metric, name="persistence input", allow_inf=True)
    if rdm.ndim != 2:
        lead = rdm.dims[:-2]
        raise SchemaError(
            f"persistence takes one RDM; got a stack with leading dims {lead}. Select one "
            f"(rdm.isel({lead[0]}=0)) or loop: [persistence(r) for r in rdm]."
        )
    d = np.ascontiguousarray(rdm.values, dtype=np.float64)
    n = d.shape[0]
    vec = condensed(d)
    frac = float(np.mean(vec <= threshold)) if vec.size else 1.0
    _check_memory(n, int(maxdim), max_memory_gb, edge_fraction=frac)
    dims = list(range(int(maxdim) + 1))
    if np.isinf(d).any():
        from scipy.sparse import coo_matrix

        iu = triu(n)
        keep = np.isfinite(vec) & (vec <= threshold)
        coo = coo_matrix((vec[keep], (iu[0][keep], iu[1][keep])), shape=(n, n))
        rp = RipsPersistence(
            dims, input_type="distance coo_matrix", homology_coeff_field=int(coeff)
        )
        bars = rp.fit_transform([coo])[0]
    else:
        bars = _rips_full(d, dims, int(coeff), threshold)
    attrs = {
        "maxdim": int(maxdim),
        "coeff": int(coeff),
        "threshold": threshold,
        "n_points": int(n),
        "metric": str(rdm.attrs.get("metric", "unknown")),
        "method": "gudhi RipsPersistence (full distance matrix)",
    }
    return _diagram(list(bars), attrs=attrs, min_persistence=float(min_persistence))


def _to_rank_scale(x: np.ndarray, uniq: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """Map dissimilarity values (diagram births/deaths) to their rank values; inf stays inf."""
    out = np.full(x.shape, np.inf)
    fin = np.isfinite(x)
    xf = x[fin]
    pos = np.clip(np.searchsorted(uniq, xf), 0, len(uniq) - 1)
    exact = uniq[pos] == xf
    val = np.interp(xf, uniq, ranks)  # 0 below the smallest value (vertex births at 0)
    val[exact] = ranks[pos[exact]]
    val[xf <= 0] = 0.0
    out[fin] = val
    return out


def _gt_map_inf(x: np.ndarray, lower: float, upper: float) -> np.ndarray:
    out = np.full(x.shape, np.inf)
    fin = np.isfinite(x)
    out[fin] = _gt_map(x[fin], lower, upper)
    return out


def gt_transform_diagram(
    diagram: xr.Dataset,
    lower: float | None = None,
    upper: float | None = None,
    *,
    regime: Regime | None = None,
    rank: bool = True,
    rdm: xr.DataArray | None = None,
) -> xr.Dataset:
    """The persistence diagram of the RGTM, from the RDM's diagram without recomputation.

    The geo-topological transform ``g`` is a non-decreasing map of each
    dissimilarity with ``g(0) = 0``, and a Rips simplex enters at its longest
    edge, so the filtration of the transformed RDM is ``g`` of the original
    one (with extra ties). Its diagram is therefore ``{(g(b), g(d))}``, minus
    the bars that ``g`` flattens to zero length: bars lying wholly below
    ``lower`` (mapped to 0) or wholly above ``upper`` (clipped at 1) and bars
    inside a flat step of the rank map (ties). Deaths above ``upper`` become 1;
    essential bars keep ``death = inf``.

    Parameters
    ----------
    diagram : Dataset
        From :func:`persistence` on ``rdm`` (with ``threshold=inf`` for an
        exact correspondence).
    lower, upper, regime, rank
        As in :func:`gt_transform`.
    rdm : DataArray
        Dims ``(stimulus_i, stimulus_j)``.
        The RDM the diagram came from; needed when ``rank=True`` (the rank map
        depends on all its dissimilarities).

    Returns
    -------
    Dataset
        A diagram of the same form, on the transformed scale.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, topology
    >>> t = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    >>> ring = data.responses(np.c_[np.cos(t), np.sin(t)])
    >>> r = topology.persistence(ring)
    >>> topology.gt_transform_diagram(r, 0.0, 1.0, rank=False).sizes["bar"] == r.sizes["bar"]
    True
    """
    dg = check_diagram(diagram)
    lo, up, name = _resolve(lower, upper, regime, rank=rank)
    b = np.asarray(dg["birth"].values, dtype=float)
    d = np.asarray(dg["death"].values, dtype=float)
    thr = np.array([float(dg.attrs.get("threshold", np.inf))])
    if rank:
        if rdm is None:
            raise ValueError(
                "rank=True needs the RDM the diagram was computed from (rdm=...): the rank map "
                "depends on all its dissimilarities. Pass rank=False for raw thresholds."
            )
        r = check_rdm(rdm, name="rdm", allow_inf=True)
        if r.ndim != 2:
            raise SchemaError(f"rdm: expected one RDM; got dims {r.dims}.")
        n_pts = dg.attrs.get("n_points")
        if n_pts is not None and int(n_pts) != r.shape[0]:
            raise SchemaError(
                f"rdm has {r.shape[0]} stimuli but the diagram was computed on {n_pts} points; "
                f"pass the RDM the diagram came from."
            )
        vec = condensed(np.asarray(r.values, dtype=float))
        uniq, ranks = _rank_lookup(vec)
        b, d, thr = (_to_rank_scale(x, uniq, ranks) for x in (b, d, thr))
        # the paper's thresholds: quantiles of the rescaled ranks (they differ from
        # lower/upper when dissimilarities are tied)
        q_lo, q_up = (float(q) for q in _rank_thresholds(_rank01(vec), lo, up))
    else:
        q_lo, q_up = lo, up
    gb, gd, gthr = (_gt_map_inf(x, q_lo, q_up) for x in (b, d, thr))
    dims = np.asarray(dg["dimension"].values)
    maxdim = int(dg.attrs.get("maxdim", int(dims.max()) if dims.size else 0))
    bars = []
    for k in range(maxdim + 1):
        sel = dims == k
        bars.append(np.column_stack([gb[sel], gd[sel]]))
    attrs = dict(dg.attrs)
    attrs.update(gt_lower=lo, gt_upper=up, gt_rank=int(rank), gt_regime=name or "")
    attrs["threshold"] = float(gthr[0])
    return _diagram(bars, attrs=attrs)


# ----------------------------------------------------------------------------
# vectorisations
# ----------------------------------------------------------------------------
def _default_grid(diagram: xr.Dataset, n_steps: int) -> np.ndarray:
    vals = np.concatenate([diagram["birth"].values, diagram["death"].values]).astype(float)
    vals = vals[np.isfinite(vals)]
    top = float(vals.max()) if vals.size else 1.0
    bottom = float(min(vals.min(), 0.0)) if vals.size else 0.0
    if top <= bottom:
        top = bottom + 1.0
    return np.linspace(bottom, top, int(n_steps))


def _as_grid(grid: Any, diagram: xr.Dataset, n_steps: int) -> np.ndarray:
    if grid is None:
        check_int("n_steps", n_steps, minimum=2)
        return _default_grid(diagram, n_steps)
    g = np.asarray(grid, dtype=float)
    if g.ndim != 1 or g.size == 0 or not np.all(np.isfinite(g)) or np.any(np.diff(g) < 0):
        raise ValueError("grid must be a non-empty, finite, non-decreasing 1-D sequence.")
    return g


def betti_curve(diagram: xr.Dataset, *, grid: Any = None, n_steps: int = 100) -> xr.DataArray:
    """Betti numbers along the filtration: bars alive at ``t`` (``birth <= t < death``).

    Parameters
    ----------
    diagram : Dataset
        From :func:`persistence`.
    grid : 1-D array, optional
        Filtration values; default ``n_steps`` points from 0 to the largest
        finite birth/death.
    n_steps : int, optional
        Points of the default grid (default 100).

    Returns
    -------
    DataArray
        Int counts ``(dimension, filtration)``; ``filtration`` coord holds the
        grid.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, topology
    >>> r = data.rdm([1.0, 1.0, 1.0], stimulus=list("abc"))
    >>> topology.betti_curve(topology.persistence(r), grid=[0.0, 0.5, 1.0]).values.tolist()
    [[3, 3, 1], [0, 0, 0]]
    """
    from gudhi.representations import BettiCurve

    dg = check_diagram(diagram)
    g = _as_grid(grid, dg, n_steps)
    dims = np.asarray(dg["dimension"].values)
    maxdim = int(dg.attrs.get("maxdim", int(dims.max()) if dims.size else 0))
    bars = np.column_stack([dg["birth"].values, dg["death"].values]).astype(float)
    # gudhi counts a bar at t when birth <= t < death, on the grid as given
    out = BettiCurve(predefined_grid=g).fit_transform([bars[dims == k] for k in range(maxdim + 1)])
    return xr.DataArray(
        out,
        dims=("dimension", "filtration"),
        coords={"dimension": np.arange(maxdim + 1), "filtration": g},
        name="betti",
        attrs={"n_points": dg.attrs.get("n_points", -1)},
    )


def persistence_landscape(
    diagram: xr.Dataset,
    *,
    dimension: int = 1,
    n_layers: int = 5,
    grid: Any = None,
    n_steps: int = 100,
) -> xr.DataArray:
    """Persistence landscape (Bubenik 2015) of one homology dimension.

    ``lambda_k(t)`` is the k-th largest of ``max(0, min(t - b, d - t))`` over
    the finite bars ``(b, d)``; essential bars (``death = inf``) are left out.
    (gudhi's :class:`gudhi.representations.Landscape` returns these values
    times sqrt(2).)

    Parameters
    ----------
    diagram : Dataset
        From :func:`persistence`.
    dimension : int, optional
        The homology dimension (default 1, loops).
    n_layers : int, optional
        Landscape functions ``lambda_1 .. lambda_n`` (default 5).
    grid : 1-D array, optional
        Filtration values; default ``n_steps`` points from 0 to the largest
        finite death.
    n_steps : int, optional
        Points of the default grid (default 100).

    Returns
    -------
    DataArray
        ``(layer, filtration)``; ``layer`` 1..n_layers, ``filtration`` coord
        the grid.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from neurorep import topology
    >>> dg = xr.Dataset({"birth": ("bar", [0.0]), "death": ("bar", [2.0])},
    ...                 coords={"dimension": ("bar", [1])}, attrs={"maxdim": 1})
    >>> topology.persistence_landscape(dg, n_layers=1, grid=[0, 1, 2]).values.tolist()
    [[0.0, 1.0, 0.0]]
    """
    dg = check_diagram(diagram)
    check_int("n_layers", n_layers, minimum=1)
    arr = diagram_array(dg, dimension)
    arr = arr[np.isfinite(arr[:, 1])]
    g = _as_grid(grid, dg, n_steps)
    # not gudhi.representations.Landscape: it samples its own evenly spaced range (not a
    # given grid) and scales the tents by sqrt(2), so its numbers differ from Bubenik's
    tents = np.maximum(np.minimum(g[:, None] - arr[None, :, 0], arr[None, :, 1] - g[:, None]), 0.0)
    k = int(n_layers)
    if tents.shape[1] < k:
        tents = np.concatenate([tents, np.zeros((g.size, k - tents.shape[1]))], axis=1)
    top = -np.sort(-tents, axis=1)[:, :k]
    return xr.DataArray(
        top.T,
        dims=("layer", "filtration"),
        coords={"layer": np.arange(1, k + 1), "filtration": g},
        name="landscape",
        attrs={"dimension": int(dimension)},
    )
