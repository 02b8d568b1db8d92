"""tRSA identification: which region (or layer) a held-out subject's RGTM comes from.

Leave-one-subject-out nearest-centroid classification of (transformed) RDM
vectors, as in Lin & Kriegeskorte (PNAS 2024; ``utils_stats.loo_eval`` uses
scikit-learn's ``NearestCentroid`` with Euclidean distance). Everything is
computed from Gram matrices of the RDM vectors, so bootstrap resampling of
subjects and stimuli becomes item and pair weights (no copies), and the
threshold search nested in the training folds costs one GEMM per grid point.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep._core.condensed import condensed, n_from_m, triu
from neurorep._core.errors import SchemaError, check_int, check_option
from neurorep._core.parallel import map_tasks, one_blas_thread
from neurorep._core.rng import as_generator
from neurorep.data import align
from neurorep.topology._checks import check_rdm, members_of
from neurorep.topology._transform import (
    Regime,
    _candidates,
    _gt_map,
    _gt_rank,
    _rank01,
    _resolve,
)

BOOTSTRAPS = ("both", "subject", "stimulus")


# ----------------------------------------------------------------------------
# numpy kernels
# ----------------------------------------------------------------------------
def _centroid_scores(
    gram: np.ndarray, train_w: np.ndarray, region: np.ndarray, n_region: int
) -> tuple[np.ndarray, np.ndarray]:
    """Squared distances (up to the per-item constant) from every item to class centroids.

    ``train_w`` is ``(F, N)``: the training weight of each item in each of F
    folds. Returns ``(F, n_region, N)`` scores ``|c|^2 - 2 x.c`` (``inf`` where
    a class has no training weight) -- only the arg-min over classes is used.
    """
    f, n = train_w.shape
    onehot = region[None, :] == np.arange(n_region)[:, None]  # (R, N)
    w = train_w[:, None, :] * onehot[None, :, :]  # (F, R, N)
    tot = w.sum(axis=-1, keepdims=True)
    empty = tot[..., 0] <= 0
    w = w / np.where(tot > 0, tot, 1.0)
    m = (w.reshape(f * n_region, n) @ gram).reshape(f, n_region, n)  # c . x for all x
    quad = (m * w).sum(axis=-1)  # |c|^2
    score = quad[:, :, None] - 2.0 * m
    score[empty] = np.inf
    return score, empty


def _loso(
    gram: np.ndarray,
    region: np.ndarray,
    group: np.ndarray,
    weight: np.ndarray,
    n_region: int,
    n_group: int,
    *,
    inner: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-group-out nearest-centroid predictions, and nested inner accuracies.

    Returns ``pred`` ``(N,)`` -- each item predicted with its own group held
    out -- and, when ``inner``, ``acc_in`` ``(n_group,)``: for each outer fold
    s, the weighted leave-one-group-out accuracy within the training groups
    (NaN for groups with no weight).
    """
    groups = np.arange(n_group)
    present = np.bincount(group, weights=weight, minlength=n_group) > 0
    out_w = weight[None, :] * (group[None, :] != groups[:, None])  # (S, N)
    score, _ = _centroid_scores(gram, out_w, region, n_region)
    pred = np.argmin(score[group, :, np.arange(len(group))], axis=1)
    acc_in = np.full(n_group, np.nan)
    if not inner:
        return pred, acc_in
    # all (outer s, inner h) folds in a few batched GEMMs, chunked over s to bound memory
    outer = np.flatnonzero(present)
    n = len(group)
    chunk = max(1, int(2**21 // max(1, n_group * n_region * n)))
    for start in range(0, len(outer), chunk):
        ss = outer[start : start + chunk]
        keep = weight[None, :] * (group[None, :] != ss[:, None])  # (C, N)
        in_w = keep[:, None, :] * (group[None, None, :] != groups[None, :, None])  # (C, S, N)
        sc, _ = _centroid_scores(gram, in_w.reshape(-1, n), region, n_region)
        sc = sc.reshape(len(ss), n_group, n_region, n)
        p = np.argmin(sc[:, group, :, np.arange(n)], axis=2).T  # (C, N)
        tot = keep.sum(axis=1)
        hits = (keep * (p == region[None, :])).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            acc_in[ss] = np.where(tot > 0, hits / np.where(tot > 0, tot, 1.0), np.nan)
    return pred, acc_in


# ----------------------------------------------------------------------------
# public
# ----------------------------------------------------------------------------
def _stack_members(
    rdm_set: Any, dim: str
) -> tuple[list[str], list[str], np.ndarray, np.ndarray, np.ndarray]:
    mem = members_of(rdm_set, name="rdm_set")
    names = list(mem)
    if len(names) < 2:
        raise SchemaError(
            f"rdm_set: identification needs at least 2 regions (or layers); got {names}."
        )
    ref = None
    vectors: list[np.ndarray] = []
    region: list[int] = []
    labels: list[str] = []
    for r, key in enumerate(names):
        da = check_rdm(mem[key], name=f"rdm_set[{key!r}]")
        if da.ndim != 3 or da.dims[0] != dim:
            raise SchemaError(
                f"rdm_set[{key!r}]: expected an RDM stack with dims ({dim!r}, 'stimulus_i', "
                f"'stimulus_j'); got {tuple(da.dims)}. Stack single RDMs with "
                f"xr.concat(rdms, dim={dim!r}) or pass dim= naming the subject/instance dim."
            )
        if ref is None:
            ref = da
        else:
            _, da = align(ref, da, names=(f"rdm_set[{names[0]!r}]", f"rdm_set[{key!r}]"))
        vectors.append(condensed(np.asarray(da.values, dtype=float)))
        region.extend([r] * da.shape[0])
        labels.extend(str(v) for v in da[dim].values)
    uniq = list(dict.fromkeys(labels))
    group = np.array([uniq.index(lab) for lab in labels])
    return names, uniq, np.concatenate(vectors), np.asarray(region), group


def score_identification(
    rdm_set: Any,
    *,
    dim: str = "subject",
    regime: Regime | None = None,
    lower: float | None = None,
    upper: float | None = None,
    grid: int | Any = None,
    rank: bool = True,
    n_bootstrap: int = 0,
    bootstrap: Literal["both", "subject", "stimulus"] = "both",
    ci: float = 0.95,
    ci_method: Literal["centered", "percentile"] = "centered",
    rng: np.random.Generator | int | None = None,
) -> xr.Dataset:
    """tRSA identification accuracy: which region a held-out subject's (transformed) RDM is from.

    Leave-one-subject-out: every RDM of the held-out subject (or model
    instance) is assigned to the region whose centroid -- the mean transformed
    RDM of the training subjects -- is nearest (Euclidean on the
    upper-triangle vectors). With ``grid=``, the thresholds are chosen inside
    each training fold by an inner leave-one-subject-out search, so the
    held-out subject never informs its own thresholds.

    Parameters
    ----------
    rdm_set : DataTree or mapping
        Region name -> RDM stack ``(dim, stimulus_i, stimulus_j)``.
        One RDM stack per region (or layer); stimuli are aligned by id,
        subjects matched by their ``dim`` labels (regions may miss subjects).
    dim : str
        The subject (or model-instance) dim.
    regime, lower, upper
        Fixed thresholds as in :func:`gt_transform`. If none of ``regime``,
        ``lower``, ``upper``, ``grid`` is given, the raw RDMs are used.
    grid : int or ndarray, optional
        An int, or an array ``(k, 2)``.
        Candidate ``(lower, upper)`` pairs (an int n means
        :func:`threshold_grid` ``(n)``), searched inside the training folds.
    rank : bool, optional
        Rank-transform the RDMs before thresholding, as in
        :func:`gt_transform` (default True).
    n_bootstrap : int
        Bootstrap samples for the confidence interval (0: none).
    bootstrap : {"both", "subject", "stimulus"}
        Resample subjects, stimuli, or both (with replacement). Repeated
        subjects are held out together; pairs of a stimulus with its own copy
        are dropped; thresholds are re-searched in every sample.
    ci : float
        Confidence level.
    ci_method : {"centered", "percentile"}
        ``"percentile"``: quantiles of the bootstrap accuracies (the paper's
        reading). ``"centered"`` (default): the same quantiles shifted by the
        bootstrap bias (mean bootstrap accuracy - accuracy), clipped to [0, 1].
        A bootstrap sample holds only ~63% distinct subjects and stimuli
        (repeats add no information), so a cross-validated accuracy that grows
        with the number of subjects and stimuli is biased *down* in the
        bootstrap world; with weak signal the percentile interval can miss the
        estimate entirely. The bias is reported in ``attrs["bootstrap_bias"]``.
    rng : int, Generator or None
        Seed or generator of the random draws (None: fresh entropy).

    Returns
    -------
    Dataset
        ``score`` (accuracy), ``ci_low``, ``ci_high``, ``bootstrap_score``
        ``(bootstrap,)``, ``prediction`` ``(dim, region)`` (predicted region,
        "" where a region lacks that subject), ``confusion`` ``(region,
        predicted)``, ``lower``/``upper`` ``(dim,)`` (thresholds used for each
        held-out subject); ``attrs["chance"] = 1 / n_regions``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, topology
    >>> rng = np.random.default_rng(0)
    >>> base = {r: rng.random(45) for r in ("A", "B")}
    >>> rdms = {r: data.rdm(np.abs(base[r] + 0.1 * rng.standard_normal((5, 45))),
    ...                     dim="subject", index=[f"s{i}" for i in range(5)])
    ...         for r in ("A", "B")}
    >>> float(topology.score_identification(rdms, regime="geometry").score)
    1.0
    """
    check_option("bootstrap", bootstrap, BOOTSTRAPS)
    check_option("ci_method", ci_method, ("centered", "percentile"))
    if not 0 < float(ci) < 1:
        raise ValueError(f"ci must lie in (0, 1); got {ci}.")
    n_boot = check_int("n_bootstrap", n_bootstrap, minimum=0, fix="e.g. n_bootstrap=1000, or 0.")
    names, labels, x, region, group = _stack_members(rdm_set, dim)
    n_region, n_group = len(names), len(labels)
    if n_group < 2:
        raise SchemaError(f"rdm_set: leave-one-{dim}-out needs at least 2 {dim}s; got {labels}.")

    # candidate thresholds
    if grid is not None:
        if regime is not None or lower is not None or upper is not None:
            raise ValueError("pass either grid= or fixed thresholds (regime=/lower=/upper=).")
        cands = _candidates(grid, rank=rank)
        base = _rank01(x) if rank else x
    elif regime is None and lower is None and upper is None:
        cands = np.full((1, 2), np.nan)  # raw RDMs
        base = x
    else:
        lo, up, _ = _resolve(lower, upper, regime, rank=rank)
        cands = np.array([[lo, up]])
        base = _rank01(x) if rank else x
    search = len(cands) > 1

    # bootstrap weights: sample 0 is the data itself
    gen = as_generator(rng)
    n_stim = n_from_m(x.shape[1])
    iu = triu(n_stim)
    item_w = np.ones((n_boot + 1, len(region)))
    pair_w = np.ones((n_boot + 1, x.shape[1]))
    for b in range(1, n_boot + 1):
        if bootstrap in ("both", "subject"):
            counts = np.bincount(gen.integers(0, n_group, n_group), minlength=n_group)
            item_w[b] = counts[group]
        if bootstrap in ("both", "stimulus"):
            c = np.bincount(gen.integers(0, n_stim, n_stim), minlength=n_stim).astype(float)
            pair_w[b] = c[iu[0]] * c[iu[1]]

    # one task per candidate (or per block of bootstrap samples when there is one
    # candidate), each with one BLAS thread: the Gram matrices and centroid products are
    # small, and two BLAS threads on them ran 10x slower than one (thread wake-ups)
    def transformed(k: int) -> np.ndarray:
        lo_, up_ = cands[k]
        if np.isnan(lo_):
            return base
        # rank scale: the paper's per-RDM quantile thresholds
        return _gt_rank(base, lo_, up_) if rank else _gt_map(base, lo_, up_)

    def run(task: tuple[int, int, int, np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
        k, b0, b1, t = task
        if t is None:
            t = transformed(k)
        p_out = np.empty((b1 - b0, len(region)), dtype=np.int64)
        a_out = np.empty((b1 - b0, n_group))
        for b in range(b0, b1):
            gram = (t * pair_w[b]) @ t.T
            p_out[b - b0], a_out[b - b0] = _loso(
                gram, region, group, item_w[b], n_region, n_group, inner=search
            )
        return p_out, a_out

    tasks: list[tuple[int, int, int, np.ndarray | None]]
    if len(cands) > 1:
        tasks = [(k, 0, n_boot + 1, None) for k in range(len(cands))]
    else:
        t0 = transformed(0)
        step = max(1, -(-(n_boot + 1) // 8))
        tasks = [(0, b, min(b + step, n_boot + 1), t0) for b in range(0, n_boot + 1, step)]
    if len(tasks) > 1:
        parts = map_tasks(run, tasks)
    else:
        with one_blas_thread():
            parts = [run(tasks[0])]
    preds = np.empty((len(cands), n_boot + 1, len(region)), dtype=np.int64)
    acc_in = np.empty((len(cands), n_boot + 1, n_group))
    for (k, b0, b1, _), (p_out, a_out) in zip(tasks, parts, strict=True):
        preds[k, b0:b1], acc_in[k, b0:b1] = p_out, a_out

    # per bootstrap sample and held-out group: the candidate chosen on the training folds
    if search:
        best = np.argmax(np.nan_to_num(acc_in, nan=-1.0), axis=0)  # (B+1, S)
    else:
        best = np.zeros((n_boot + 1, n_group), dtype=np.int64)
    chosen = np.take_along_axis(preds, best[None, :, group], axis=0)[0]  # (B+1, N)
    correct = chosen == region[None, :]
    acc = (item_w * correct).sum(axis=1) / item_w.sum(axis=1)

    score = float(acc[0])
    boots = acc[1:]
    alpha = (1 - float(ci)) / 2
    bias = float(boots.mean() - score) if n_boot else np.nan
    if n_boot:
        q = np.quantile(boots, [alpha, 1 - alpha])
        if ci_method == "centered":
            q = np.clip(q - bias, 0.0, 1.0)
        lo_ci, hi_ci = float(q[0]), float(q[1])
    else:
        lo_ci, hi_ci = np.nan, np.nan
    # predictions table (dim, region) and confusion
    table = np.full((n_group, n_region), "", dtype=object)
    table[group, region] = np.asarray(names, dtype=object)[chosen[0]]
    confusion = np.zeros((n_region, n_region), dtype=np.int64)
    np.add.at(confusion, (region, chosen[0]), 1)
    chosen_lo = cands[best[0], 0]
    chosen_up = cands[best[0], 1]
    ds = xr.Dataset(
        {
            "score": score,
            "ci_low": lo_ci,
            "ci_high": hi_ci,
            "bootstrap_score": ("bootstrap", boots),
            "prediction": ((dim, "region"), table.astype(str)),
            "confusion": (("region", "predicted"), confusion),
            "lower": (dim, chosen_lo),
            "upper": (dim, chosen_up),
        },
        coords={dim: labels, "region": names, "predicted": names},
        attrs={
            "chance": 1.0 / n_region,
            "method": "leave-one-out nearest centroid (tRSA identification)",
            "dim": dim,
            "rank": int(rank),
            "regime": regime or "",
            "n_candidates": len(cands),
            "n_bootstrap": n_boot,
            "bootstrap": bootstrap,
            "ci": float(ci),
            "ci_method": ci_method,
            "bootstrap_bias": bias,
        },
    )
    return ds
