"""Permutation tests, with block permutation for autocorrelated samples (time series).

A permutation is an index array ``idx`` of length ``n``: permuted sample
``i`` takes the value of original sample ``idx[i]``. Block permutation moves
contiguous blocks of ``block_size`` samples as wholes (blocks never straddle a
group, e.g. a run), which keeps the autocorrelation of a time series inside
each block; ``within_groups=True`` keeps every block inside its own group.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep._core.errors import check_int, check_option
from neurorep._core.rng import as_generator

__all__ = [
    "ALTERNATIVES",
    "make_blocks",
    "permutation_indices",
    "permutation_test",
    "sign_flip_pvalue",
]

ALTERNATIVES = ("greater", "less", "two-sided")


def make_blocks(n: int, *, block_size: int | None = None, groups: Any = None) -> np.ndarray:
    """Block label per sample: contiguous runs of ``block_size`` that never cross a group.

    Parameters
    ----------
    n : int
        Number of samples.
    block_size : int, optional
        Samples per block (the last block of each group may be shorter);
        ``None`` or 1: every sample is its own block.
    groups : array (n,), optional
        Group (run) per sample; a new block starts wherever the group changes.

    Returns
    -------
    ndarray of int (n,)
        Block ids 0..n_blocks-1 in order of appearance.

    Examples
    --------
    >>> from neurorep.stats import make_blocks
    >>> make_blocks(7, block_size=3).tolist()
    [0, 0, 0, 1, 1, 1, 2]
    >>> make_blocks(6, block_size=3, groups=[0, 0, 1, 1, 1, 1]).tolist()
    [0, 0, 1, 1, 1, 2]
    """
    if n < 1:
        raise ValueError(f"make_blocks: need at least one sample; got n={n}.")
    size = 1 if block_size is None else int(block_size)
    if size < 1:
        raise ValueError(f"block_size must be a positive int; got {block_size!r}.")
    if groups is None:
        return np.arange(n) // size
    g = np.asarray(groups)
    if g.shape != (n,):
        raise ValueError(f"groups must have one label per sample ({n}); got shape {g.shape}.")
    change = np.r_[True, g[1:] != g[:-1]]
    seg = np.cumsum(change) - 1  # contiguous segment id
    starts = np.flatnonzero(change)
    pos = np.arange(n) - starts[seg]  # position within the segment
    key = seg * (n + 1) + pos // size
    _, labels = np.unique(key, return_inverse=True)
    return labels.astype(np.intp)


def permutation_indices(
    n: int,
    n_permutations: int,
    *,
    block_size: int | None = None,
    groups: Any = None,
    within_groups: bool = False,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Random (block) permutations of ``range(n)`` as an ``(n_permutations, n)`` index array.

    Parameters
    ----------
    n : int
        Number of samples to permute.
    n_permutations : int
        Number of permutations (rows).
    block_size : int, optional
        Move contiguous blocks of this many samples as wholes.
    groups : array (n,), optional
        Group per sample (run); blocks never cross a group boundary.
    within_groups : bool
        Keep each block inside its group (blocks of one group are shuffled
        among that group's positions; needs equal block sizes within a group
        to keep every position, which holds except for a group's last block,
        so the last block of each group stays in place when shorter).
    rng : int, Generator or None
        Seed or generator of the random draws (None: fresh entropy).

    Returns
    -------
    ndarray
        ``(n_permutations, n)`` int index arrays, each a permutation of
        ``range(n)``.

    Examples
    --------
    >>> from neurorep.stats import permutation_indices
    >>> idx = permutation_indices(6, 4, block_size=2, rng=0)
    >>> idx.shape, sorted(idx[0].tolist())
    ((4, 6), [0, 1, 2, 3, 4, 5])
    """
    n_permutations = check_int("n_permutations", n_permutations, minimum=1,
                               fix="e.g. n_permutations=1000.")
    gen = as_generator(rng)
    blocks = make_blocks(n, block_size=block_size, groups=groups)
    n_blocks = int(blocks.max()) + 1
    if n_blocks < 2:
        raise ValueError(
            f"permutation needs at least 2 blocks to exchange; got {n_blocks} (n={n}, "
            f"block_size={block_size}). Use a smaller block_size."
        )
    order = np.argsort(blocks, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(blocks, minlength=n_blocks))]
    members = [order[bounds[b] : bounds[b + 1]] for b in range(n_blocks)]
    out = np.empty((n_permutations, n), dtype=np.intp)
    if not within_groups or groups is None:
        for i in range(n_permutations):
            out[i] = np.concatenate([members[b] for b in gen.permutation(n_blocks)])
        return out
    g = np.asarray(groups)
    block_group = g[order[bounds[:-1]]]
    sizes = np.diff(bounds)
    for i in range(n_permutations):
        perm = np.arange(n_blocks)
        for label in np.unique(block_group):
            ids = np.flatnonzero(block_group == label)
            full = ids[sizes[ids] == sizes[ids].max()]
            perm[full] = gen.permutation(full)
        out[i] = np.concatenate([members[b] for b in perm])
    return out


def permutation_test(
    statistic: Callable[[np.ndarray], Any],
    n: int,
    *,
    n_permutations: int = 1000,
    block_size: int | None = None,
    groups: Any = None,
    within_groups: bool = False,
    alternative: Literal["greater", "less", "two-sided"] = "greater",
    vectorized: bool = False,
    dims: tuple[str, ...] = ("unit",),
    rng: np.random.Generator | int | None = None,
) -> xr.Dataset:
    """Permutation p-values of any statistic of ``n`` exchangeable samples (or blocks).

    Parameters
    ----------
    statistic : callable
        ``statistic(idx)`` returns the statistic (array or DataArray, e.g. one
        value per unit) with the samples reordered by the index array ``idx``
        (``(n,)``; ``(batch, n)`` returning ``(batch, ...)`` if ``vectorized``).
        ``idx = arange(n)`` gives the observed value.
    n : int
        Number of samples.
    n_permutations : int, optional
        Random permutations (default 1000).
    block_size : int, optional
        Permute contiguous blocks of this many samples (time series; see
        :func:`permutation_indices`).
    groups : array-like, optional
        Group (run) per sample; blocks never cross a group boundary.
    within_groups : bool, optional
        Permute blocks only within their group.
    alternative : {"greater", "less", "two-sided"}
        ``"two-sided"`` compares absolute values.
    vectorized : bool, optional
        ``statistic`` takes a ``(batch, n)`` index array and returns one
        statistic per row (default False: one call per permutation).
    dims : tuple of str
        Dim names for a numpy statistic (ignored for a DataArray).
    rng : int, Generator or None
        Seed or generator of the random draws (None: fresh entropy).

    Returns
    -------
    Dataset
        ``score`` (the observed statistic), ``pvalue`` = (1 + #null at least as
        extreme) / (1 + n_permutations), ``null_distribution`` (permutation, ...).

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.stats import permutation_test
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=50); y = x + rng.normal(size=50)
    >>> res = permutation_test(lambda i: np.array([np.corrcoef(x[i], y)[0, 1]]), 50,
    ...                        n_permutations=99, rng=0)
    >>> float(res["pvalue"][0])
    0.01
    """
    check_option("alternative", alternative, ALTERNATIVES)
    idx = permutation_indices(
        n, n_permutations, block_size=block_size, groups=groups, within_groups=within_groups,
        rng=rng,
    )
    ident = np.arange(n)
    if vectorized:
        observed_raw = statistic(ident[None, :])
        obs_da = observed_raw[0] if not isinstance(observed_raw, xr.DataArray) else observed_raw.isel(
            {observed_raw.dims[0]: 0}
        )
        null = np.asarray(statistic(idx), dtype=float)
    else:
        obs_da = statistic(ident)
        null = np.stack([np.asarray(statistic(i), dtype=float) for i in idx])
    obs = np.asarray(obs_da, dtype=float)
    if isinstance(obs_da, xr.DataArray):
        out_dims = tuple(str(d) for d in obs_da.dims)
        coords = {k: v for k, v in obs_da.coords.items()}
    else:
        out_dims = dims if len(dims) == obs.ndim else tuple(f"dim_{i}" for i in range(obs.ndim))
        coords = {}
    if alternative == "greater":
        extreme = null >= obs - 1e-12 * np.abs(obs)
    elif alternative == "less":
        extreme = null <= obs + 1e-12 * np.abs(obs)
    else:
        extreme = np.abs(null) >= np.abs(obs) - 1e-12 * np.abs(obs)
    pvalue = (1.0 + extreme.sum(0)) / (1.0 + n_permutations)
    pvalue = np.where(np.isnan(obs), np.nan, pvalue)
    ds = xr.Dataset(
        {
            "score": (out_dims, obs),
            "pvalue": (out_dims, pvalue),
            "null_distribution": (("permutation", *out_dims), null),
        },
        coords=coords,
    )
    ds.attrs = {
        "test": "permutation", "n_permutations": int(n_permutations),
        "block_size": int(block_size or 1), "within_groups": int(within_groups),
        "alternative": alternative,
    }
    return ds


def sign_flip_pvalue(
    values: Any,
    *,
    axis: int = 0,
    n_permutations: int = 10000,
    alternative: Literal["greater", "less", "two-sided"] = "greater",
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Sign-flip permutation p-value of the mean along ``axis`` against 0.

    Under H0 every item's value (e.g. a subject's score) is symmetric about
    0, so flipping the signs of random items gives the null distribution of
    the mean. NaN items are left out of each mean (a score the subject does
    not have); the same sign draws serve every other index.

    Parameters
    ----------
    values : array-like
        Per-item values; ``axis`` runs over the items (subjects).
    axis : int
        The items' axis.
    n_permutations : int
        Random sign patterns.
    alternative : {"greater", "less", "two-sided"}
        H1: mean > 0, mean < 0, or ``|mean| > 0`` (absolute values compared).
    rng : int, Generator or None
        Seed or generator of the random draws (None: fresh entropy).

    Returns
    -------
    ndarray
        ``values``' shape without ``axis``: ``(1 + #null at least as extreme) /
        (1 + n_permutations)``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.stats import sign_flip_pvalue
    >>> p = sign_flip_pvalue(np.array([0.3, 0.5, 0.2, 0.4, 0.6, 0.1]), n_permutations=999, rng=0)
    >>> bool(p < 0.05)
    True
    """
    check_option("alternative", alternative, ALTERNATIVES)
    n_permutations = check_int("n_permutations", n_permutations, minimum=1,
                               fix="e.g. n_permutations=10000.")
    arr = np.moveaxis(np.asarray(values, dtype=float), axis, 0)
    if arr.shape[0] < 1:
        raise ValueError("sign_flip_pvalue: needs at least one item along axis.")
    gen = as_generator(rng)
    valid = np.isfinite(arr)
    x = np.where(valid, arr, 0.0)
    k = np.maximum(valid.sum(axis=0), 1)
    obs = x.sum(axis=0) / k
    signs = gen.choice([-1.0, 1.0], size=(n_permutations, arr.shape[0]))
    null = (signs @ x.reshape(arr.shape[0], -1)).reshape(n_permutations, *arr.shape[1:]) / k
    if alternative == "greater":
        extreme = null >= obs - 1e-12
    elif alternative == "less":
        extreme = null <= obs + 1e-12
    else:
        extreme = np.abs(null) >= np.abs(obs) - 1e-12
    return (1 + extreme.sum(axis=0)) / (n_permutations + 1)
