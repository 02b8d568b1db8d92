"""RDMs of unbalanced designs: missing repetitions and missing units marked by NaN.

rsatoolbox's ``calc_rdm_unbalanced`` (weighting ``"number"``), computed with
matrix products over all measurements at once instead of its loop over pairs.
Every measurement ``k`` (a ``(stimulus, repetition)`` row that is not all NaN)
is compared with every other measurement ``l`` over the units finite in both
(``M_kl``); each pair gives a similarity ``s_kl`` and a weight ``w_kl``:

============================ ===================================================== ==========
metric                       ``s_kl``                                              ``w_kl``
============================ ===================================================== ==========
(squared_)euclidean          ``sum_M x_k x_l``                                     ``|M|``
mahalanobis, crossnobis      ``x_k[M] P[M, M] x_l[M]'`` (P = identity: as above)   ``p`` (``|M|``)
correlation                  ``r_kl p / 2``, ``r_kl = (S_kl - S_k S_l / p) /       ``|M|``
                             sqrt((S_kk - S_k^2 / p)(S_ll - S_l^2 / p))``, sums
                             over ``M`` (rsatoolbox centres with the full ``p``)
cosine                       as correlation without the centring terms              ``|M|``
poisson, poisson_cv          ``sum_M (x_l - x_k)(log x_k - log x_l) / 2`` on the   ``|M|``
                             prior-shrunk rates
============================ ===================================================== ==========

For stimuli ``i != j`` the cross term is ``v_ij = sum s_kl / sum w_kl`` over
``k`` in ``i``, ``l`` in ``j``; the self term ``v_ii`` is the same over pairs
of measurements of ``i`` (each measurement with itself counted half). The
cross-validated metrics (``crossnobis``, ``poisson_cv``) use only pairs from
different repetitions (runs) and no measurement with itself. The
dissimilarity is ``d_ij = v_ii + v_jj - 2 v_ij``, per unit (times ``p`` with
``normalize=False``; the square root for ``euclidean``). A pair of stimuli
with no usable pair of measurements is NaN (a missing pair; ``rsa.compare``
and ``rsa.evaluate`` leave it out).

For balanced complete data the euclidean, mahalanobis, crossnobis and
poisson_cv (one measurement per stimulus and run) values equal
:func:`~neurorep.rsa.compute_rdm`'s balanced ones; correlation and cosine
average the correlations of pairs of measurements instead of correlating the
averaged patterns, as rsatoolbox does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurorep._core.errors import SchemaError

__all__ = ["unbalanced_rdm"]


def _pattern_blocks(
    x0: np.ndarray, fin: np.ndarray, prec: np.ndarray
) -> np.ndarray:
    """``x_k[M] P[M, M] x_l[M]'`` for all pairs, grouping the rows by their NaN pattern."""
    pats, inv = np.unique(fin, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    out = np.empty((x0.shape[0], x0.shape[0]))
    rows = [np.flatnonzero(inv == a) for a in range(pats.shape[0])]
    for a in range(pats.shape[0]):
        for b in range(a, pats.shape[0]):
            mask = pats[a] & pats[b]
            xa = x0[np.ix_(rows[a], mask)]
            xb = x0[np.ix_(rows[b], mask)]
            blk = xa @ prec[np.ix_(mask, mask)] @ xb.T
            out[np.ix_(rows[a], rows[b])] = blk
            out[np.ix_(rows[b], rows[a])] = blk.T
    return out


def _similarity_terms(x: np.ndarray, metric: str, precision: np.ndarray | None) -> np.ndarray:
    """``(T, K, K)``: the sums over units from which :func:`_similarities` are made, for
    ``(K, p)`` measurements with NaN; a sum over unit chunks for every metric but a full
    noise precision matrix (which couples the units)."""
    fin = ~np.isnan(x)
    f = fin.astype(np.float64)
    x0 = np.where(fin, x, 0.0)
    w = f @ f.T
    if metric in ("euclidean", "squared_euclidean") or (
        metric in ("mahalanobis", "crossnobis") and precision is None
    ):
        return np.stack([x0 @ x0.T, w])
    if metric in ("mahalanobis", "crossnobis"):
        assert precision is not None
        if precision.ndim == 1:
            s = (x0 * precision) @ x0.T
        elif fin.all():
            s = x0 @ precision @ x0.T
        else:
            s = _pattern_blocks(x0, fin, precision)
        return np.stack([s, w])
    if metric in ("correlation", "cosine"):
        terms = [x0 @ x0.T, (x0 * x0) @ f.T, w]  # [k, l]: sums over M_kl of x_k x_l, x_k ** 2
        if metric == "correlation":
            terms.append(x0 @ f.T)  # [k, l]: sum over M_kl of x_k
        return np.stack(terms)
    if metric in ("poisson", "poisson_cv"):
        from neurorep.rsa._rdm import _poisson_rates

        rates = _poisson_rates(x0)
        rl = np.where(fin, rates * np.log(rates), 0.0)
        r0 = np.where(fin, rates, 0.0)
        l0 = np.where(fin, np.log(rates), 0.0)
        return np.stack([r0 @ l0.T, f @ rl.T, w])  # sum_M R_k L_l, sum_M R_l log R_l
    raise SchemaError(f"metric {metric!r} has no unbalanced (missing-data) estimator.")


def _similarities(
    terms: np.ndarray, metric: str, p: int, precision: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The similarities ``s`` and weights ``w``, ``(K, K)``, from :func:`_similarity_terms`
    summed over all ``p`` units."""
    if metric in ("euclidean", "squared_euclidean", "mahalanobis", "crossnobis"):
        if metric in ("mahalanobis", "crossnobis") and precision is not None:
            return terms[0], np.full_like(terms[1], float(p))
        return terms[0], terms[1]
    if metric in ("correlation", "cosine"):
        sij, si2, w = terms[0], terms[1], terms[2]
        if metric == "correlation":
            si = terms[3]
            num = sij - si * si.T / p
            vk = si2 - si * si / p
        else:
            num, vk = sij, si2
        vl = vk.T
        ok = (si2 > 0) & (si2.T > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where(ok, num / np.sqrt(vk) / np.sqrt(vl), 1.0)
        if not np.isfinite(r).all():
            raise SchemaError(
                f"{metric} distance is undefined for a measurement whose pattern is "
                f"{'constant' if metric == 'correlation' else 'all zeros'} over the units it "
                f"shares with another; drop that measurement (set it to NaN) or use "
                f"metric='squared_euclidean'."
            )
        return r * p / 2.0, w
    a, frl, w = terms  # poisson
    return (a + a.T - frl - frl.T) / 2.0, w


def _terms_of_chunks(x: Any, metric: str, precision: np.ndarray | None) -> np.ndarray:
    """:func:`_similarity_terms` of dask ``x`` ``(K, p)`` chunked along units, summed over
    its chunks (one chunk and the running sums in memory); a full precision matrix couples
    the units, so that input is gathered."""
    from neurorep._core.parallel import sum_over_chunks

    if precision is not None and precision.ndim == 2:
        return _similarity_terms(np.asarray(x.compute()), metric, precision)
    edges = np.cumsum((0, *x.chunks[1]))
    per = [(metric, None if precision is None else precision[a:b])
           for a, b in zip(edges[:-1], edges[1:], strict=True)]
    return np.asarray(sum_over_chunks(x, _similarity_terms, per))


def unbalanced_rdm(
    values: Any,
    metric: str,
    precision: np.ndarray | None,
    *,
    cross_validated: bool,
) -> np.ndarray:
    """``(n, R, p)`` responses with NaN -> ``(n, n)`` per-unit dissimilarities (NaN where
    a pair has no usable measurements). ``values`` numpy, or dask chunked along units
    (summed chunk by chunk).

    ``cross_validated``: only pairs of measurements from different repetitions.
    """
    n, n_rep, p = values.shape
    flat = values.reshape(n * n_rep, p)
    absent = np.isnan(flat).all(axis=1)  # a missing repetition: no measurement at all
    keep = ~np.asarray(absent.compute() if hasattr(absent, "compute") else absent)
    if not keep.any():
        raise SchemaError("every measurement is missing (NaN).")
    cond = np.repeat(np.arange(n), n_rep)[keep]
    rep = np.tile(np.arange(n_rep), n)[keep]
    if isinstance(flat, np.ndarray):
        terms = _similarity_terms(flat[keep], metric, precision)
    else:
        terms = _terms_of_chunks(flat[np.flatnonzero(keep)], metric, precision)
    s, w = _similarities(terms, metric, p, precision)
    use = w > 0
    if cross_validated:
        use &= rep[:, None] != rep[None, :]
    s = np.where(use, s, 0.0)
    w = np.where(use, w, 0.0)
    z = np.zeros((len(cond), n))
    z[np.arange(len(cond)), cond] = 1.0
    sv = z.T @ s @ z  # (n, n): sums over the measurements of each stimulus pair
    wv = z.T @ w @ z
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.where(wv > 0, sv / np.where(wv > 0, wv, 1.0), np.nan)
    self_term = np.diag(v)  # (sum_ordered + diag) / 2 over (the same) / 2: ratio unchanged
    d = self_term[:, None] + self_term[None, :] - 2.0 * v
    d = (d + d.T) / 2.0
    np.fill_diagonal(d, 0.0)
    return d


def check_missing_noise(noise: Any, name: str) -> None:
    """An estimator name cannot be fitted on responses with missing measurements."""
    if isinstance(noise, str):
        raise SchemaError(
            f"{name}: the responses hold missing measurements (NaN), from which noise="
            f"{noise!r} cannot be estimated here; estimate the precision from complete runs "
            f"(rsa.compute_noise_precision(responses.dropna('repetition'))) and pass it as "
            f"noise=."
        )
