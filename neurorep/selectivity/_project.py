"""Weights -> bank: BrainSCUBA softmax projection and top stimuli, chunked over units."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep import __version__
from neurorep._core.errors import NeurorepWarning, check_option
from neurorep._core.parallel import is_lazy
from neurorep.selectivity._inputs import (
    Bank,
    Weights,
    check_dtype,
    chunk_size,
    prepare_bank,
    prepare_weights,
    rows_or_none,
    weights_chunk,
)

#: BrainSCUBA's softmax temperature (Luo et al. 2023: 1/150 on unit-norm CLIP embeddings).
DEFAULT_TEMPERATURE = 1.0 / 150.0

#: How :func:`project` combines the bank under the softmax weights: ``"brainscuba"``
#: (Luo et al. 2023: mean unit-norm direction, rescaled to the mean norm) or
#: ``"weighted_mean"`` (the plain softmax-weighted mean of the embeddings, ``p @ E``).
PROJECTION_METHODS = ("brainscuba", "weighted_mean")

PROJECTION_DESCRIPTIONS = {
    "brainscuba": "BrainSCUBA: normalised softmax-weighted mean of the unit-norm bank entries, "
    "times the softmax-weighted mean norm (p = softmax(cos(w, e) / temperature))",
    "weighted_mean": "softmax(cos(w, e) / temperature) @ bank",
}


@dataclass
class Scan:
    """Per-unit results of one pass over the bank (numpy, unit-major)."""

    top: np.ndarray  # (unit, n_top) bank indices, best first
    predicted: np.ndarray  # (unit, n_top) w.e (+ intercept)
    similarity: np.ndarray  # (unit, n_top) cosine(w, e)
    projection: np.ndarray | None  # (unit, d)
    effective_n: np.ndarray | None  # (unit,)
    best: np.ndarray | None  # (unit,) index of the largest softmax weight
    weight_norm: np.ndarray  # (unit,)


def _top_k(G: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest entries of each row of G, largest first."""
    n = G.shape[1]
    if k < n:
        idx = np.argpartition(G, n - k, axis=1)[:, n - k :]
    else:
        idx = np.broadcast_to(np.arange(n), G.shape).copy()
    vals = np.take_along_axis(G, idx, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(idx, order, axis=1)


def _softmax_project(
    G: np.ndarray,
    w_norm: np.ndarray,
    bank: Bank,
    bank_t: np.ndarray,
    temperature: float,
    method: str = "brainscuba",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn G = W E^T into softmax(cos/T) in place; return projection, effective n, argmax.

    ``p = softmax(cos(w, e_i) / T)`` and ``effective_n = 1 / sum p_i^2``.
    ``method="brainscuba"``: the softmax-weighted mean of the unit-norm
    directions ``e_i / |e_i|``, renormalised to unit length and rescaled by
    the softmax-weighted mean norm ``sum p_i |e_i|``;
    ``method="weighted_mean"``: ``p @ E``.
    """
    inv_e = (1.0 / bank.norms).astype(G.dtype)
    G *= inv_e[None, :]
    G *= (1.0 / (temperature * w_norm)).astype(G.dtype)[:, None]
    best = np.argmax(G, axis=1)
    G -= G[np.arange(G.shape[0]), best][:, None]
    np.exp(G, out=G)
    total = G.sum(axis=1, dtype=np.float64)
    sq = np.einsum("ij,ij->i", G, G, optimize=True).astype(np.float64)
    if method == "brainscuba":
        soft_norm = (G @ bank.norms.astype(G.dtype)).astype(np.float64) / total  # sum p_i |e_i|
        G *= inv_e[None, :]  # p_i / |e_i|: the weights of the unit-norm directions
    # (E^T G^T)^T, not G @ E: OpenBLAS threads the (d, n) x (n, k) layout well, while
    # G @ E (inner dimension n, small outputs) ran up to 8x slower with 2 threads.
    proj = (bank_t @ G.T).T
    if method == "brainscuba":
        length = np.linalg.norm(proj.astype(np.float64), axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(length > 0, soft_norm / length, np.nan)
        proj *= scale.astype(proj.dtype)[:, None]
    else:
        proj /= total[:, None].astype(G.dtype)
    return proj, total**2 / sq, best


def scan_bank(
    weights: Weights,
    bank: Bank,
    *,
    n_top: int,
    temperature: float | None,
    dtype: np.dtype,
    chunk_units: int | None,
    method: str = "brainscuba",
) -> Scan:
    """One chunked pass: top-n by predicted response and (optionally) the softmax projection."""
    U, n = weights.n_units, bank.E.shape[0]
    k_top = min(int(n_top), n)
    E = bank.E if bank.E.dtype == dtype else bank.E.astype(dtype)
    work = Bank(E=E, ids=bank.ids, texts=bank.texts, feature_ids=bank.feature_ids,
                norms=bank.norms, coords=bank.coords)
    top = np.empty((U, k_top), dtype=np.int64)
    pred = np.empty((U, k_top), dtype=np.float64)
    sim = np.empty((U, k_top), dtype=np.float64)
    wnorm = np.empty(U, dtype=np.float64)
    proj = np.empty((U, E.shape[1]), dtype=dtype) if temperature is not None else None
    Et = np.ascontiguousarray(E.T) if temperature is not None else E
    eff = np.empty(U) if temperature is not None else None
    best = np.empty(U, dtype=np.int64) if temperature is not None else None
    step = chunk_size(n, chunk_units)
    for start in range(0, U, step):
        stop = min(start + step, U)
        Wc = weights_chunk(weights, start, stop, dtype)
        norm_c = np.linalg.norm(Wc.astype(np.float64), axis=1)
        wnorm[start:stop] = norm_c
        G = Wc @ E.T  # (k, n): predicted response minus intercept
        idx = _top_k(G, k_top) if k_top > 0 else np.empty((stop - start, 0), dtype=np.int64)
        g = np.take_along_axis(G, idx, axis=1).astype(np.float64)
        top[start:stop] = idx
        pred[start:stop] = g
        sim[start:stop] = g / (norm_c[:, None] * bank.norms[idx])
        if temperature is not None:
            p, e, b = _softmax_project(G, norm_c, work, Et, temperature, method)
            proj[start:stop] = p  # type: ignore[index]
            eff[start:stop] = e  # type: ignore[index]
            best[start:stop] = b  # type: ignore[index]
        del G
    if weights.intercept is not None:
        pred += weights.intercept[:, None]
    if proj is not None:
        _warn_undefined(proj, weights.unit_ids)
    return Scan(top=top, predicted=pred, similarity=sim, projection=proj, effective_n=eff,
                best=best, weight_norm=wnorm)


def _scan_part(W: np.ndarray, unit_ids: np.ndarray, intercept: np.ndarray | None,
               feature_ids: np.ndarray | None, bank: Bank, kw: dict[str, Any]) -> Scan:
    """:func:`scan_bank` of one unit chunk ``W`` of dask-backed weights."""
    part = Weights(W=W, unit_ids=unit_ids, unit_coords={}, intercept=intercept,
                   feature_ids=feature_ids)
    return scan_bank(part, bank, **kw)


def scan_chunks(weights: Weights, bank: Bank, fields: tuple[str, ...], **kw: Any) -> dict[str, Any]:
    """:func:`scan_bank`'s ``fields`` for dask-backed weights, as dask arrays in the weights'
    unit chunks: one task per chunk computes every field (results are written to zarr
    chunk by chunk; an error or warning of a chunk comes when it is computed)."""
    import dask
    import dask.array as da

    W = weights.W.rechunk({1: -1}) if len(weights.W.chunks[1]) > 1 else weights.W
    part = dask.delayed(_scan_part, pure=True, traverse=False)
    b_d = dask.delayed(bank, pure=True, traverse=False)
    like = _scan_like(weights, bank, kw)  # shapes past the unit axis and dtypes
    out: dict[str, list[Any]] = {f: [] for f in fields}
    edges = np.cumsum((0, *W.chunks[0]))
    for blk, start, stop in zip(W.to_delayed().ravel(), edges[:-1], edges[1:], strict=True):
        icpt = None if weights.intercept is None else weights.intercept[start:stop]
        scan = part(blk, weights.unit_ids[start:stop], icpt, weights.feature_ids, b_d, kw)
        for f in fields:
            ref = getattr(like, f)
            out[f].append(da.from_delayed(dask.delayed(getattr, pure=True)(scan, f),
                                          shape=(int(stop - start), *ref.shape[1:]),
                                          dtype=ref.dtype))
    return {f: da.concatenate(parts, axis=0) for f, parts in out.items()}


def _scan_like(weights: Weights, bank: Bank, kw: dict[str, Any]) -> Scan:
    """A scan of one unit of weights: the fields' shapes past the unit axis and dtypes."""
    one = np.ones((1, bank.E.shape[1]), dtype=kw["dtype"])
    return scan_bank(Weights(W=one, unit_ids=np.arange(1), unit_coords={}, intercept=None,
                             feature_ids=weights.feature_ids), bank, **kw)


def _warn_undefined(proj: np.ndarray, unit_ids: np.ndarray) -> None:
    bad = ~np.isfinite(proj).all(axis=1)
    if bad.any():
        warnings.warn(
            f"project: for {int(bad.sum())} unit(s) ({rows_or_none(unit_ids[bad])}) the "
            f"softmax-weighted mean of the bank directions is the zero vector (the bank entries "
            f"they weight cancel out), so the BrainSCUBA projection has no direction; their "
            f"projection is NaN. Use a lower temperature or method='weighted_mean'.",
            NeurorepWarning,
            stacklevel=3,
        )


def check_projection_method(method: str, name: str = "method") -> str:
    check_option(name, method, PROJECTION_METHODS)
    return method


def check_temperature(temperature: float) -> float:
    t = float(temperature)
    if not np.isfinite(t) or t <= 0:
        raise ValueError(f"temperature must be a positive number; got {temperature!r}.")
    return t


def check_n(n: int, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"{name} must be a positive integer; got {n!r}.")
    return int(n)


def unit_coords(weights: Weights) -> dict[str, Any]:
    return {"unit": weights.unit_ids, **{k: ("unit", v) for k, v in weights.unit_coords.items()}}


def top_vars(scan: Scan, bank: Bank) -> dict[str, Any]:
    dims = ("unit", "rank")
    out: dict[str, Any] = {
        "top_stimulus": (dims, bank.ids[scan.top].astype(object)),
        "predicted": (dims, scan.predicted),
        "similarity": (dims, scan.similarity),
    }
    if bank.texts is not None:
        out["top_text"] = (dims, bank.texts[scan.top])
    return out


def _pick(values: np.ndarray, idx: Any) -> Any:
    """``values[idx]``, lazily for a dask ``idx``."""
    if is_lazy(idx):
        return idx.map_blocks(values.__getitem__, dtype=values.dtype)
    return values[idx]


def project(
    weights: Any,
    bank: Any,
    *,
    temperature: float = DEFAULT_TEMPERATURE,
    method: Literal["brainscuba", "weighted_mean"] = "brainscuba",
    dtype: Literal["float32", "float64"] = "float32",
    chunk_units: int | None = None,
) -> xr.Dataset:
    """Project each unit's weight vector onto a bank of embeddings (BrainSCUBA).

    For unit weights ``w`` and bank embeddings ``e_i`` (directions
    ``d_i = e_i / |e_i|``), BrainSCUBA (Luo et al. 2023, ICLR 2024; the
    authors' ``softmax_convex`` in ``projection.py`` of github.com/aluo-x/BrainSCUBA)
    computes::

        p_i = softmax_i(cos(w, e_i) / temperature)
        v = sum_i p_i d_i
        projection = (v / |v|) * sum_i p_i |e_i|

    a softmax-weighted mean *direction* of the bank, renormalised, with the
    softmax-weighted mean *norm* of the entries. It lies close to the
    manifold of real stimulus (or caption) embeddings instead of pointing
    anywhere in the space, and its length is a typical embedding's, so a
    captioning model can decode it. ``method="weighted_mean"`` returns the
    plain ``sum_i p_i e_i`` instead; the two share their direction only when
    every bank entry has the same norm. The work is one matrix product per
    unit chunk; memory is bounded by ``chunk_units``. Dask-backed weights
    (e.g. a ``fit_ridge(..., compute=False)`` result) give dask-backed results in
    the same unit chunks, one task per chunk, to compute or write to zarr
    (:func:`neurorep.data.save`) chunk by chunk; their checks and warnings come
    when a chunk is computed.

    Parameters
    ----------
    weights : Dataset, DataArray (feature, unit) or (unit, feature), or array (unit, feature)
        Encoding weights in the bank's embedding space, e.g. a
        :func:`neurorep.encoding.fit_ridge` result or its ``weights``.
        Features are matched to the bank's by id when both carry ids.
    bank : DataArray (stimulus, feature), one-layer DataTree, or array (n, feature)
        Embeddings of stimuli or captions (a ``text`` coord is kept).
    temperature : float
        Softmax temperature on cosine similarities (BrainSCUBA: 1/150, i.e.
        cosines multiplied by 150). Smaller concentrates the projection on
        the nearest entries.
    method : {"brainscuba", "weighted_mean"}
        ``"brainscuba"``: the paper's normalised projection (above);
        ``"weighted_mean"``: the softmax-weighted mean of the embeddings.
    dtype : {"float32", "float64"}
        Working precision of the products.
    chunk_units : int, optional
        Units per chunk (default: about 16 M bank scores per chunk).

    Returns
    -------
    Dataset
        ``projection`` (unit, feature), ``effective_n`` (unit; ``1 / sum p_i^2``,
        the number of bank entries the projection effectively averages),
        ``best_match`` (unit; id of the entry with the largest weight),
        ``best_similarity`` (unit; its cosine) and ``best_text`` when the bank
        has texts.

    Raises
    ------
    SchemaError
        Embedding dimensions that differ, feature ids that differ from the
        bank's, an empty bank, all-zero weights or bank entries, non-finite
        or complex values.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.selectivity import project
    >>> rng = np.random.default_rng(0)
    >>> bank, w = rng.normal(size=(50, 8)), rng.normal(size=(3, 8))
    >>> project(w, bank)["projection"].shape
    (3, 8)
    """
    dt = check_dtype(dtype)
    t = check_temperature(temperature)
    check_projection_method(method)
    b = prepare_bank(bank, dtype=dt)
    w = prepare_weights(weights, b)
    kw: dict[str, Any] = {"n_top": 1, "temperature": t, "dtype": dt, "chunk_units": chunk_units,
                          "method": method}
    fields = ("projection", "effective_n", "best", "similarity")
    if is_lazy(w.W):  # dask-backed results in the weights' unit chunks
        res = scan_chunks(w, b, fields, **kw)
    else:
        scan = scan_bank(w, b, **kw)
        res = {f: getattr(scan, f) for f in fields}
    fdim_ids = b.feature_ids if b.feature_ids is not None else np.arange(b.E.shape[1])
    data: dict[str, Any] = {
        "projection": (("unit", "feature"), res["projection"]),
        "effective_n": ("unit", res["effective_n"]),
        "best_match": ("unit", _pick(b.ids.astype(object), res["best"])),
        "best_similarity": ("unit", res["similarity"][:, 0]),
    }
    if b.texts is not None:
        data["best_text"] = ("unit", _pick(b.texts, res["best"]))
    ds = xr.Dataset(data, coords={**unit_coords(w), "feature": fdim_ids})
    ds["projection"].attrs = {"description": PROJECTION_DESCRIPTIONS[method]}
    ds["effective_n"].attrs = {"description": "1 / sum(p_i^2) of the softmax weights"}
    ds.attrs = {"analysis": "project", "neurorep_version": __version__, "temperature": t,
                "method": method, "n_bank": int(b.E.shape[0]), "dtype": str(dt)}
    return ds


def top_stimuli(
    weights: Any,
    bank: Any,
    *,
    n: int = 10,
    dtype: Literal["float32", "float64"] = "float32",
    chunk_units: int | None = None,
) -> xr.Dataset:
    """The ``n`` bank entries each unit's encoding model predicts to drive it most.

    The predicted response to entry ``e`` is ``w . e`` (plus the intercept
    when ``weights`` is a fit_ridge result); the ranking never needs more than
    one unit chunk of scores in memory.

    Parameters
    ----------
    weights : Dataset, DataArray (feature, unit) or (unit, feature), or array (unit, feature)
        Encoding weights in the bank's embedding space.
    bank : DataArray (stimulus, feature), one-layer DataTree, or array (n, feature)
        Candidate stimuli (a ``text`` coord gives ``top_text``).
    n : int
        Stimuli per unit (at most the bank size).
    dtype, chunk_units
        As in :func:`project`.

    Returns
    -------
    Dataset (unit, rank)
        ``top_stimulus`` (bank id), ``predicted`` (predicted response),
        ``similarity`` (cosine between weights and embedding), ``top_text``
        when the bank has texts. ``rank`` runs from 1 (best).

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.selectivity import top_stimuli
    >>> bank = np.eye(4)
    >>> top_stimuli(np.array([[0.0, 2.0, 1.0, 0.0]]), bank, n=2)["top_stimulus"].values
    array([['bank00001', 'bank00002']], dtype=object)
    """
    dt = check_dtype(dtype)
    n = check_n(n, "n")
    b = prepare_bank(bank, dtype=dt)
    w = prepare_weights(weights, b)
    scan = scan_bank(w, b, n_top=n, temperature=None, dtype=dt, chunk_units=chunk_units)
    ds = xr.Dataset(
        top_vars(scan, b),
        coords={**unit_coords(w), "rank": np.arange(1, scan.top.shape[1] + 1)},
    )
    ds.attrs = {"analysis": "top_stimuli", "neurorep_version": __version__,
                "n_bank": int(b.E.shape[0]), "dtype": str(dt)}
    return ds
