"""RDM comparison on the data model: many-against-many in one call, numbers equal to rsatoolbox's.

Each RDM is reduced to its condensed upper triangle (scipy ``squareform``
order) once, checked while it is gathered, and all pairs of RDMs are then
scored by the kernels of :mod:`neurorep._core.compare` (one matrix product,
or one compiled O(m log m) count per pair for Kendall's tau-a and tau-b).

Methods (rsatoolbox names; :data:`COMPARE_METHODS`):

============== =========================================================================
``corr``       Pearson correlation of the dissimilarities (alias ``pearson``)
``spearman``   Pearson correlation of their ranks (average ranks for ties)
``rho-a``      ``12 / (m**3 - m) * sum((rank_x - mean)(rank_y - mean))``: Spearman's rho
               without tie correction (expected rho under random tie-breaking)
``tau-a``      Kendall's tau-a: (concordant - discordant) / (m (m - 1) / 2)
``cosine``     cosine similarity of the dissimilarities
``cosine_cov`` cosine after whitening with the covariance of dissimilarity estimates
               (Diedrichsen et al. 2021): equals linear CKA of the double-centred
               ``-D/2`` matrices when ``sigma_k`` is None
``corr_cov``   the same after subtracting each RDM's mean dissimilarity
``tau-b``      Kendall's tau-b (alias ``kendall``): (concordant - discordant) /
               sqrt((T - ties_x)(T - ties_y)), ``T = m (m - 1) / 2`` (scipy's kendalltau)
``bures``      Bures similarity (fidelity) of the double-centred kernels ``A = H(-D/2)H``:
               ``tr |A^1/2 B^1/2| / sqrt(tr A tr B)``
``bures_metric`` the squared Bures distance ``tr A + tr B - 2 tr |A^1/2 B^1/2|`` (a
               distance: lower is more similar; not scale-free)
``neg_riem_dist`` minus the affine-invariant Riemannian distance between the second
               moments (relative to the first stimulus) of the two RDMs, with the pattern
               covariance ``sigma_k`` as a free-scaled noise term (Shahbazi et al. 2021)
============== =========================================================================

The whole-matrix methods (``bures``, ``bures_metric``, ``neg_riem_dist``) are
in :mod:`neurorep._core.compare_matrix`; they need every dissimilarity (no
NaN pairs, no stimulus bootstrap).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from neurorep._core.compare import COMPARE_METHODS, Moments, compare_vectors, resolve_method
from neurorep._core.condensed import pair_index, triu
from neurorep._core.errors import NeurorepWarning, SchemaError, check_real
from neurorep.data import (
    RDM_DIMS,
    align,
    check_rdm_layout,
    condensed_ids,
    condensed_vectors,
    infer_kind,
    is_condensed,
    members,
    rdm_vectors,
    select_stimuli,
    validate,
)
from neurorep.rsa._transform import rdm_vectors_nan

CompareMethod = Literal[
    "corr", "pearson", "spearman", "rho-a", "tau-a", "tau-b", "kendall", "cosine", "cosine_cov",
    "corr_cov", "bures", "bures_metric", "neg_riem_dist",
]

#: The methods that use a pattern covariance ``sigma_k``.
SIGMA_K_METHODS = ("cosine_cov", "corr_cov", "neg_riem_dist")

__all__ = ["COMPARE_METHODS", "SIGMA_K_METHODS", "compare", "stack_rdms"]


def _check_sigma_k(sigma_k: Any, ids: np.ndarray, *, name: str = "sigma_k") -> np.ndarray:
    """Validate a pattern covariance for the ``*_cov`` methods, in the order of ``ids``.

    A DataArray over ``stimulus`` (diagonal) or ``(stimulus_i, stimulus_j)`` is
    matched to the RDMs' stimuli by id; a numpy array is read in the RDMs' order.
    It must be finite and, as a covariance that whitens the dissimilarities,
    positive definite (a diagonal: every variance > 0).
    """
    n = len(ids)
    if isinstance(sigma_k, xr.DataArray):
        dims = set(sigma_k.dims)
        try:
            if sigma_k.ndim == 2 and dims == {"stimulus_i", "stimulus_j"}:
                sigma_k = sigma_k.sel(stimulus_i=ids, stimulus_j=ids).transpose(
                    "stimulus_i", "stimulus_j"
                )
            elif sigma_k.ndim == 1 and dims == {"stimulus"}:
                sigma_k = sigma_k.sel(stimulus=ids)
            else:
                raise SchemaError(
                    f"{name}: a DataArray must have dims ('stimulus',) or ('stimulus_i', "
                    f"'stimulus_j'); got {sigma_k.dims}."
                )
        except KeyError as exc:
            raise SchemaError(
                f"{name}: its stimulus ids do not cover the RDMs' stimuli ({exc}); give the "
                f"covariance of the same stimuli."
            ) from None
    check_real(sigma_k, name=name)
    arr = np.asarray(sigma_k, dtype=np.float64)
    if arr.shape not in ((n,), (n, n)):
        raise SchemaError(
            f"{name} must be ({n},) or ({n}, {n}) for {n} stimuli; got {arr.shape}."
        )
    fix = (
        "Regularise it, e.g. sigma_k + 1e-3 * np.trace(sigma_k) / n * np.eye(n), or drop "
        "sigma_k (identity whitening)."
    )
    if not np.isfinite(arr).all():
        raise SchemaError(
            f"{name}: holds {int((~np.isfinite(arr)).sum())} NaN/inf value(s); the pattern "
            f"covariance must be finite. {fix}"
        )
    if arr.ndim == 1:
        bad = np.flatnonzero(arr <= 0)
        if bad.size:
            raise SchemaError(
                f"{name}: a diagonal pattern covariance needs every variance > 0; got "
                f"{bad.size} value(s) <= 0 (e.g. {arr[bad[0]]:.3g} for stimulus "
                f"{ids[bad[0]]!r}), so the dissimilarities cannot be whitened. Drop sigma_k "
                f"or give positive variances."
            )
        return arr
    scale = float(np.abs(arr).max())
    if not np.allclose(arr, arr.T, rtol=1e-8, atol=1e-12 * scale):
        raise SchemaError(
            f"{name}: a covariance must be symmetric; max |S - S'| = "
            f"{float(np.abs(arr - arr.T).max()):.3g}. Use (S + S.T) / 2 if that is what you mean."
        )
    try:
        np.linalg.cholesky(arr)
    except np.linalg.LinAlgError:
        low = float(np.linalg.eigvalsh(arr)[0])
        raise SchemaError(
            f"{name}: the pattern covariance must be positive definite to whiten the "
            f"dissimilarities (cosine_cov / corr_cov); it is singular or indefinite (smallest "
            f"eigenvalue {low:.3g}). {fix}"
        ) from None
    return arr



# ----------------------------------------------------------------------------
# public
# ----------------------------------------------------------------------------
def stack_rdms(
    rdms: xr.DataTree | Mapping[str, xr.DataArray], *, dim: str = "model"
) -> xr.DataArray:
    """Stack single RDMs (a DataTree or mapping name -> RDM) along a new dim.

    Members must share their stimulus ids (the order may differ: each is
    aligned by id to the first).

    Parameters
    ----------
    rdms : DataTree or mapping
        Name -> RDM ``(stimulus_i, stimulus_j)``.
    dim : str, optional
        Name of the new leading dim (default ``"model"``), labelled by the
        members' names.

    Returns
    -------
    DataArray
        ``(dim, stimulus_i, stimulus_j)`` in the first member's stimulus
        order.

    Examples
    --------
    >>> from neurorep import data, rsa
    >>> a = data.rdm([1.0, 2.0, 3.0], stimulus=["x", "y", "z"])
    >>> rsa.stack_rdms({"m1": a, "m2": 2 * a}).dims
    ('model', 'stimulus_i', 'stimulus_j')
    """
    mem = members(rdms)
    if not mem:
        raise SchemaError("stack_rdms: got no RDMs.")
    items = []
    first: xr.DataArray | None = None
    for key, da in mem.items():
        if isinstance(da, xr.DataArray):
            check_real(da.data, name=f"rdms[{key!r}]")
        validate(da, kind="rdm", name=f"rdms[{key!r}]")
        if da.ndim != 2:
            raise SchemaError(
                f"stack_rdms: rdms[{key!r}] is already a stack (dims {da.dims}); pass single "
                f"RDMs, or select/average the leading dims first."
            )
        if first is None:
            first = da
        else:
            _, da = align(first, da, names=(f"rdms[{next(iter(mem))!r}]", f"rdms[{key!r}]"))
        items.append(
            da.drop_vars([c for c, v in da.coords.items() if not set(v.dims) <= set(RDM_DIMS)])
        )
    out = xr.concat(items, dim=dim, coords="minimal", compat="override")
    out = out.assign_coords({dim: list(mem)})
    out.name = "rdm"
    metrics = {str(d.attrs.get("metric", "unknown")) for d in mem.values()}
    out.attrs = {"metric": metrics.pop() if len(metrics) == 1 else "mixed"}
    return out


def missing_pairs(x: np.ndarray, y: np.ndarray, n: int, method: str) -> np.ndarray | None:
    """The pairs to use when some RDM has NaN (missing) dissimilarities, else None.

    A pair missing in any RDM of either side is left out of every comparison
    (rsatoolbox's ``_parse_input_rdms``, which in addition needs both sides to
    miss the same pairs; with equal patterns the numbers are the same).
    """
    # one matrix-vector product each (BLAS, all threads; checked values are finite or NaN
    # and cannot overflow a sum): a row sum is NaN only if the row misses a pair
    ones = np.ones(x.shape[1])
    if not (np.isnan(x @ ones).any() or np.isnan(y @ ones).any()):
        return None
    nx, ny = np.isnan(x).any(axis=0), np.isnan(y).any(axis=0)
    valid = ~(nx | ny)
    if COMPARE_METHODS[method].whole:
        raise ValueError(
            f"method={method!r} compares whole RDMs (matrices), so it cannot leave out the "
            f"{int((~valid).sum())} missing (NaN) pair(s); use a vector method (corr, "
            f"spearman, cosine_cov...) or drop the stimuli with missing pairs."
        )
    min_pairs = 3
    if valid.sum() < min_pairs:
        raise SchemaError(
            f"compare: only {int(valid.sum())} dissimilarities are present in every RDM "
            f"(the others are NaN in some RDM); comparing needs at least {min_pairs}."
        )
    return valid


def _as_rdm(obj: Any, name: str, default_dim: str) -> xr.DataArray:
    """An RDM stack with its layout checked; the values are checked by ``rdm_vectors``."""
    if isinstance(obj, xr.DataArray):
        check_real(obj.data, name=name)
        check_rdm_layout(obj, name=name)
        return obj
    if infer_kind(obj) == "set":
        return stack_rdms(obj, dim=default_dim)
    raise SchemaError(
        f"{name}: expected an RDM DataArray (stimulus_i, stimulus_j), a stack of them, or "
        f"a mapping name -> RDM; got {type(obj).__name__}."
    )


def _ids_proxy(ids: np.ndarray) -> xr.DataArray:
    """A ``(stimulus, unit)`` stand-in holding only ``ids``, to align two sides by id."""
    return xr.DataArray(np.zeros((ids.size, 1)), dims=("stimulus", "unit"),
                        coords={"stimulus": ids, "unit": [0]})


_CLEAN_SUM_OF_SQUARES = np.finfo(np.float64).max / 16  # well inside the check's max / 4


def _clean_moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The rows' sums and sums of squares of a condensed stack's own values, read once, when
    they show that every value is finite (no NaN pair, no inf) and that no row's sum of
    squares comes near overflow: what the checks of :func:`condensed_vectors` and the scan
    for missing pairs would find by reading the values again. ``None`` otherwise (the
    caller then runs those checks, which name the bad value)."""
    from neurorep._core.rowmoments import row_moments  # numba: imported on first use

    s, ss = row_moments(x)
    if np.isfinite(s).all() and (ss <= _CLEAN_SUM_OF_SQUARES).all():
        return s, ss
    return None


def _side_vectors(
    r: xr.DataArray, ids: np.ndarray, shared: np.ndarray, name: str
) -> tuple[np.ndarray, bool, tuple[np.ndarray, np.ndarray] | None]:
    """One side's ``(k, m)`` vectors on the ``shared`` stimuli, in their order, whether
    they are a fresh array (the kernels may then overwrite them), and, for a condensed
    stack read as it is, its rows' sums and sums of squares when they show clean values
    (:func:`_clean_moments`: the one pass that checks them), else None."""
    same = ids.size == shared.size and np.array_equal(ids, shared)
    if not is_condensed(r):
        if not same:
            r = select_stimuli(r, shared)
        return rdm_vectors(r, name, check_layout=False, missing=True), True, None
    if same:
        x = condensed_vectors(r, name=name, check=False)
        moments = _clean_moments(x)
        if moments is None:  # NaN pairs, or a bad value to name: the full checks
            x = condensed_vectors(r, name=name, missing=True)
        return x, False, moments
    x = condensed_vectors(r, name=name, missing=True)
    pos = pd.Index(ids).get_indexer(shared)
    iu, ju = triu(shared.size)
    p, q = pos[iu], pos[ju]
    return (
        np.take(x, pair_index(np.minimum(p, q), np.maximum(p, q), ids.size), axis=1),
        True,
        None,
    )


def _prepare(
    a: Any, b: Any, join: Literal["exact", "inner"]
) -> tuple[xr.DataArray, xr.DataArray, np.ndarray, np.ndarray, bool, np.ndarray,
           Moments | None]:
    """Both sides' RDM stacks (square or condensed), their vectors on the shared stimuli,
    whether the vectors are fresh arrays, the shared ids, and both sides' row sums and
    sums of squares ``(sx, ssx, sy, ssy)`` when both are condensed stacks read as they
    are and their values are clean (no NaN pair: no scan for missing pairs needed)."""
    sides, ids = [], []
    for obj, name, default in ((a, "a", "model"), (b, "b", "member")):
        if is_condensed(obj):
            ids.append(condensed_ids(obj, name=name))
            sides.append(obj)
        else:
            r = _as_rdm(obj, name, default)
            ids.append(np.asarray(r.coords.variables["stimulus_i"].values))
            sides.append(r)
    pa, _ = align(_ids_proxy(ids[0]), _ids_proxy(ids[1]), join=join, names=("a", "b"))
    shared = np.asarray(pa.coords.variables["stimulus"].values)
    x, own_x, mx = _side_vectors(sides[0], ids[0], shared, "a")
    y, own_y, my = _side_vectors(sides[1], ids[1], shared, "b")
    moments = None if mx is None or my is None else (*mx, *my)
    return sides[0], sides[1], x, y, own_x and own_y, shared, moments


def compare(
    a: xr.DataArray | Mapping[str, xr.DataArray],
    b: xr.DataArray | Mapping[str, xr.DataArray],
    *,
    method: CompareMethod = "corr",
    sigma_k: np.ndarray | None = None,
    join: Literal["exact", "inner"] = "exact",
) -> xr.DataArray:
    """Compare every RDM in ``a`` with every RDM in ``b``.

    Missing dissimilarities (NaN at ``(i, j)`` and ``(j, i)``, e.g. from an
    unbalanced design) are left out: a pair missing in any RDM of ``a`` or
    ``b`` is left out of every comparison, as rsatoolbox does (the ``*_cov``
    methods then re-estimate the row and column effects on the pairs left;
    whole-matrix methods and ``sigma_k`` refuse missing pairs).

    Parameters
    ----------
    a, b : DataArray or mapping
        RDMs ``(..., stimulus_i, stimulus_j)``, condensed RDM stacks
        ``(..., pair)`` (:func:`neurorep.data.condense`), or name -> RDM.
        Leading dims (``model``, ``subject``, ``layer``...) stack several
        RDMs; a mapping is stacked along ``model`` (``a``) / ``member`` (``b``).
        Stimuli are matched by id, never by position. A condensed stack
        (:func:`neurorep.data.condense`) was checked when it was built and
        holds each dissimilarity once: comparing it again costs one pass over
        its values instead of checking and gathering the square matrices, so
        condense a stack once when it is compared many times (large RDMs,
        loops, bootstraps). Scores are the same for both forms; a condensed
        stack keeps missing pairs as NaN.
    method : str
        One of :data:`COMPARE_METHODS` (see the module docstring), with
        rsatoolbox's names; ``"pearson"`` is an alias of ``"corr"``.
    sigma_k : ndarray, optional
        ``(n,)`` or ``(n, n)`` covariance of the pattern estimates, for the
        ``*_cov`` methods and ``neg_riem_dist`` (default: identity); see
        :func:`estimate_sigma_k`.
    join : {"exact", "inner"}
        ``"exact"``: both must hold the same stimuli (else AlignmentError);
        ``"inner"``: keep the stimuli both share.

    Returns
    -------
    DataArray
        Dims ``a``'s leading dims + ``b``'s leading dims (a clash is renamed
        ``<dim>_b``); 0-d for two single RDMs. A constant RDM has no
        correlation: its scores are NaN (with a NeurorepWarning).

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, rsa
    >>> d = np.random.default_rng(0).random((5, 6))
    >>> rdms = data.rdm(d, stimulus=list("abcd"), dim="subject")
    >>> rsa.compare(rdms, rdms.isel(subject=0), method="spearman").dims
    ('subject',)
    >>> stack = data.condense(rdms)  # checked once, (subject, pair)
    >>> bool(np.allclose(rsa.compare(stack, stack), rsa.compare(rdms, rdms)))
    True
    """
    meth = resolve_method(method)
    if is_condensed(a) or is_condensed(b):
        # condensed values are checked with one pass that also gives the rows' sums and sums
        # of squares (NaN pairs allowed, values whose squares overflow refused as for square
        # RDMs: no kernel sees them)
        ra, rb, x, y, own, shared, moments = _prepare(a, b, join)
    else:
        ra = _as_rdm(a, "a", "model")
        rb = _as_rdm(b, "b", "member")
        ra, rb = align(ra, rb, join=join, names=("a", "b"))
        x = y = shared = moments = None  # type: ignore[assignment]
    m = x.shape[1] if x is not None else ra.sizes["stimulus_i"] * (ra.sizes["stimulus_i"] - 1) // 2
    n = int(round((1 + np.sqrt(1 + 8 * m)) / 2))
    min_n = 3
    if n < min_n:
        raise SchemaError(
            f"compare: RDMs over {n} stimuli have {n * (n - 1) // 2} dissimilarity; comparing "
            f"them needs at least {min_n} stimuli."
        )
    if sigma_k is not None:
        if meth not in SIGMA_K_METHODS:
            raise ValueError(
                f"sigma_k is only used by methods {list(SIGMA_K_METHODS)}; got {meth!r}."
            )
        if shared is None:
            shared = np.asarray(ra.coords.variables["stimulus_i"].values)
        sigma_k = _check_sigma_k(sigma_k, shared)
    lead_a = list(ra.dims[: -1 if is_condensed(ra) else -2])
    lead_b = list(rb.dims[: -1 if is_condensed(rb) else -2])
    rename = {d: f"{d}_b" for d in lead_b if d in lead_a}
    if x is None or y is None:
        # values checked while gathered; the kernels may then transform them in place
        x = rdm_vectors_nan(ra, "a", check_layout=False)
        y = rdm_vectors_nan(rb, "b", check_layout=False)
        own = True
    # clean moments: every value was seen finite, so no pair is missing
    valid = None if moments is not None else missing_pairs(x, y, n, meth)
    if valid is None:
        scores = compare_vectors(x, y, meth, sigma_k=sigma_k, own=own, moments=moments)
    else:
        if sigma_k is not None and COMPARE_METHODS[meth].whitened:
            raise ValueError(
                f"compare: method={meth!r} with sigma_k cannot leave out missing (NaN) pairs "
                f"(rsatoolbox cannot either); drop sigma_k or the stimuli with missing pairs."
            )
        scores = compare_vectors(x, y, meth, sigma_k=sigma_k, valid=valid, n=n)
    if np.isnan(scores).any():
        warnings.warn(
            "compare: some RDMs are constant (or zero), so their correlation/cosine with "
            "other RDMs is undefined; those scores are NaN.",
            NeurorepWarning,
            stacklevel=2,
        )
    shape = tuple(ra.shape[: len(lead_a)]) + tuple(rb.shape[: len(lead_b)])
    dims = lead_a + [rename.get(d, d) for d in lead_b]
    out_coords: dict[str, Any] = {}
    # by side, not by identity: compare(x, x) passes the same object twice
    for is_b, (src, names) in enumerate(((ra, lead_a), (rb, lead_b))):
        indexes = src.xindexes
        for name, var in src.coords.variables.items():
            if name in RDM_DIMS or not set(var.dims) <= set(names):
                continue
            new_dims = tuple(rename.get(d, d) if is_b else d for d in var.dims)
            new_name = rename.get(str(name), str(name)) if is_b else str(name)
            if is_b and new_name in out_coords and new_name not in rename.values():
                new_name = f"{new_name}_b"
            # an index coordinate passes its pandas index (not rebuilt from the values)
            values = indexes[name].to_pandas_index() if name in indexes else var.values
            out_coords[new_name] = (new_dims, values)
    return xr.DataArray(
        scores.reshape(shape),
        dims=dims,
        coords=out_coords,
        name="score",
        attrs={"method": meth, "n_stimuli": n},
    )
