"""AGTDM: adaptive geo-topological dependence measure with a permutation test.

For each ``(lower, upper)`` on a grid (quantile levels of the ranks), both RDMs
are geo-topologically transformed and their bias-corrected distance correlation
(Szekely & Rizzo 2014, U-centred; the transformed matrices act as distance
matrices) is computed; the statistic is the maximum over the grid. The plain
(double-centred, V-statistic) version is not used: at degenerate thresholds
the transformed matrices are nearly constant off the diagonal and its value
is dominated by the zero diagonal (close to 1 for unrelated data). Because the maximisation is repeated inside
every permutation (stimuli of one RDM shuffled), the p-value accounts for the
search and is valid under independence.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from neurorep._core.condensed import condensed, square
from neurorep._core.errors import check_int
from neurorep._core.rng import as_generator
from neurorep.data import align
from neurorep.topology._checks import as_rdm
from neurorep.topology._transform import _candidates, _gt_rank, _rank01


def _u_centred(stack: np.ndarray) -> np.ndarray:
    """U-centre each ``(n, n)`` matrix of a ``(k, n, n)`` stack (Szekely & Rizzo 2014).

    Unlike double centring, U-centring ignores the zero diagonal, so a constant
    off-diagonal matrix (a degenerate threshold) carries no signal and the
    distance covariance is unbiased under independence.
    """
    n = stack.shape[-1]
    row = stack.sum(axis=2, keepdims=True) / (n - 2)
    col = stack.sum(axis=1, keepdims=True) / (n - 2)
    grand = stack.sum(axis=(1, 2), keepdims=True) / ((n - 1) * (n - 2))
    out = stack - row - col + grand
    idx = np.arange(n)
    out[:, idx, idx] = 0.0
    return out


def _transformed(vec: np.ndarray, cands: np.ndarray, n: int) -> np.ndarray:
    r = _rank01(vec[None])[0]
    return np.stack([square(_gt_rank(r, lo, up), n) for lo, up in cands])


def _inner(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    k = x.shape[0]
    return np.einsum("ki,ki->k", x.reshape(k, -1), y.reshape(k, -1), optimize=True)


def _dcor2(ac: np.ndarray, bc: np.ndarray, denom: np.ndarray) -> np.ndarray:
    """Bias-corrected squared distance correlation per grid point (0 where undefined)."""
    cov = _inner(ac, bc)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, cov / np.where(denom > 0, denom, 1.0), 0.0)


def agtdm(
    a: xr.DataArray,
    b: xr.DataArray,
    *,
    grid: int | Any = 10,
    n_permutations: int = 1000,
    metric: str = "euclidean",
    rng: np.random.Generator | int | None = None,
) -> xr.Dataset:
    """Adaptive geo-topological dependence measure between two representations.

    Parameters
    ----------
    a, b : DataArray
        RDMs ``(stimulus_i, stimulus_j)`` or responses ``(stimulus, unit)``
        (distances by ``metric``) of the same stimuli (aligned by id).
    grid : int or ndarray
        An int, or an array ``(k, 2)``.
        ``(lower, upper)`` quantile levels of the ranks (an int n means
        :func:`threshold_grid` ``(n)``); the same thresholds are applied to both.
    n_permutations : int
        Stimulus permutations of ``b`` for the null distribution.
    metric : {"euclidean", "correlation"}
        Pattern distance for responses input.
    rng : int, Generator or None
        Seed or generator of the random draws (None: fresh entropy).

    Returns
    -------
    Dataset
        ``score`` (the largest bias-corrected squared distance correlation
        over the grid), ``pvalue`` (``(1 + #null >= score) / (1 + n_permutations)``),
        ``null_distribution`` ``(permutation,)``, ``dcor2`` ``(threshold,)``
        with coords ``lower``/``upper``; ``attrs`` best_lower, best_upper.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, topology
    >>> x = np.random.default_rng(0).standard_normal((20, 3))
    >>> ra, rb = data.responses(x), data.responses(x ** 3)
    >>> float(topology.agtdm(ra, rb, grid=4, n_permutations=99, rng=0).pvalue)
    0.01
    """
    ra = as_rdm(a, metric=metric, name="a")
    rb = as_rdm(b, metric=metric, name="b")
    for name, r in (("a", ra), ("b", rb)):
        if r.ndim != 2:
            raise ValueError(f"{name}: agtdm takes one RDM; got dims {r.dims}.")
    ra, rb = align(ra, rb, names=("a", "b"))
    n = ra.shape[0]
    if n < 4:
        raise ValueError(f"agtdm needs at least 4 stimuli; got {n}.")
    n_perm = check_int("n_permutations", n_permutations, minimum=1,
                       fix="e.g. n_permutations=1000.")
    cands = _candidates(grid, rank=True)

    ta = _transformed(condensed(np.asarray(ra.values, float)), cands, n)
    tb = _transformed(condensed(np.asarray(rb.values, float)), cands, n)
    ac, bc = _u_centred(ta), _u_centred(tb)
    denom = np.sqrt(np.clip(_inner(ac, ac), 0, None) * np.clip(_inner(bc, bc), 0, None))
    dcor = _dcor2(ac, bc, denom)
    score = float(dcor.max())
    gen = as_generator(rng)
    null = np.empty(n_perm)
    for p in range(n_perm):
        perm = gen.permutation(n)
        null[p] = _dcor2(ac, bc[:, perm][:, :, perm], denom).max()
    pvalue = (1.0 + np.sum(null >= score - 1e-12 * max(score, 1.0))) / (1.0 + n_perm)
    best = int(np.argmax(dcor))
    return xr.Dataset(
        {
            "score": score,
            "pvalue": float(pvalue),
            "null_distribution": ("permutation", null),
            "dcor2": ("threshold", dcor),
        },
        coords={"lower": ("threshold", cands[:, 0]), "upper": ("threshold", cands[:, 1])},
        attrs={
            "method": "AGTDM: max over thresholds of distance correlation of RGTMs, permutation test",
            "best_lower": float(cands[best, 0]),
            "best_upper": float(cands[best, 1]),
            "n_permutations": n_perm,
            "n_stimuli": int(n),
        },
    )
