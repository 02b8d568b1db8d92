"""Flexible models: fits, cross-validation and bootstrapped cross-validation.

rsatoolbox's model fitting and cross-validated inference (Schuett et al.
2023, eLife 12:e82566; ``rsatoolbox.model.fitter`` and
``rsatoolbox.inference.evaluate.crossval / bootstrap_crossval``,
``inference.noise_ceiling.cv_noise_ceiling``, ``crossvalsets.sets_k_fold``):

* a **fold** holds training and test subjects and training and test
  stimuli. A model is fitted on the training subjects' dissimilarities among
  the training stimuli and scored on the test subjects' dissimilarities among
  the test stimuli. With one subject group (``subject_cv=1``) the training and
  test subjects are all subjects; with one stimulus group the training and test
  stimuli are all stimuli. Groups are made as rsatoolbox's ``sets_k_fold``:
  the items are shuffled and cut into ``k`` groups of ``floor(n / k)``, the
  ``n % k`` left over going one each to the first groups; for every subject
  group the stimuli are shuffled anew.
* the **cross-validated noise ceiling** (``cv_noise_ceiling``): per fold, the
  lower bound scores the test subjects against the pooled RDM of the
  training subjects on the test stimuli, the upper bound against the pooled
  RDM of all subjects (pooled over all stimuli, then restricted to the test
  stimuli); both are averaged over folds.
* the **bootstrap cross-validation** runs ``n_cv`` random fold assignments in
  every bootstrap sample (a subject or stimulus drawn twice stays in one
  group) and removes the variance the random assignment adds:
  ``V = (n_cv V_mean - V_1) / (n_cv - 1)`` with ``V_mean`` the bootstrap
  covariance of the scores averaged over the assignments and ``V_1`` the mean
  covariance of single assignments.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import scipy.stats
import xarray as xr

from neurorep._core.compare import COMPARE_METHODS, compare_vectors, resolve_method
from neurorep._core.errors import SchemaError, check_int, check_option
from neurorep._core.rng import as_generator
from neurorep.data import align, check_rdm_layout, rdm_vectors
from neurorep.rsa._bootstrap import _Models, _sample_pairs
from neurorep.rsa._compare import CompareMethod
from neurorep.rsa._evaluate import _collect_models, _data_stack, _version
from neurorep.rsa._fit import FITS, _fit_model, _pool, _pools_loo, inference_method
from neurorep.stats import bootstrap_indices

__all__ = [
    "FITS",
    "bootstrap_crossval",
    "compute_cv_ceiling",
    "crossval",
    "fit_interpolate",
    "fit_optimize",
    "fit_select",
    "make_folds",
]

Fit = Literal["nnls", "select", "interpolate", "optimize", "optimize_positive"]
# one fold: (train subjects (S,), test subjects (S,), train stimuli (n,), test stimuli (n,))
_Fold = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


# ----------------------------------------------------------------------------
# public fits of one model
# ----------------------------------------------------------------------------
def _fit_inputs(
    components: xr.DataArray, data: xr.DataArray
) -> tuple[xr.DataArray, np.ndarray, np.ndarray]:
    check_rdm_layout(components, name="components")
    if components.ndim != 3:
        raise SchemaError(
            f"components must be a stack (component, stimulus_i, stimulus_j); got "
            f"{components.dims}. Stack single RDMs with rsa.stack_rdms."
        )
    stack, _ = _data_stack(data, None)
    components, stack = align(components, stack, names=("components", "data"))
    comps = rdm_vectors(components, "components", check_layout=False)
    vec = rdm_vectors(stack, "data", check_layout=False)
    return components, comps, vec


def _weights_array(components: xr.DataArray, theta: np.ndarray, **attrs: Any) -> xr.DataArray:
    lead = components.dims[0]
    return xr.DataArray(
        theta, dims=(lead,), coords={lead: components[lead].values}, name="weights", attrs=attrs
    )


def fit_select(
    components: xr.DataArray, data: xr.DataArray, *, method: CompareMethod = "corr"
) -> xr.DataArray:
    """Selection model: the component RDM that scores best against the data.

    rsatoolbox ``ModelSelect`` fitted with ``fit_select``: every component is
    compared with every data RDM and the one with the highest mean score is
    chosen (the first on ties).

    Parameters
    ----------
    components : DataArray
        Component RDMs ``(component, stimulus_i, stimulus_j)``.
    data : DataArray
        The data RDM ``(stimulus_i, stimulus_j)`` or a stack ``(subject,
        stimulus_i, stimulus_j)`` (pooled); stimuli matched by id.
    method : str
        Comparison method (:data:`~neurorep.rsa.COMPARE_METHODS`).

    Returns
    -------
    DataArray
        The fitted weights ``(component,)``.
        One-hot weights (1 for the chosen component); ``attrs["selected"]``
        names it.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, rsa
    >>> g = np.random.default_rng(0)
    >>> comps = data.rdm(g.random((3, 10)), stimulus=list("abcde"), dim="component",
    ...                  index=["x", "y", "z"])
    >>> subj = data.rdm(comps.values[1][None] + 0.1 * g.random((4, 5, 5)) * 0,
    ...                 stimulus=list("abcde"), dim="subject")
    >>> rsa.fit_select(comps, subj).attrs["selected"]
    'y'
    """
    method = inference_method(method, "fit_select")  # type: ignore[assignment]
    components, comps, vec = _fit_inputs(components, data)
    theta = _fit_model("select", comps, vec, np.ones(vec.shape[0]), method)
    lead = components.dims[0]
    return _weights_array(
        components,
        theta,
        method=method,
        fit="select",
        selected=str(components[lead].values[int(np.argmax(theta))]),
    )


def fit_interpolate(
    components: xr.DataArray, data: xr.DataArray, *, method: CompareMethod = "corr"
) -> xr.DataArray:
    """Interpolation model: the best mixture of two neighbouring component RDMs.

    rsatoolbox ``ModelInterpolate`` fitted with ``fit_interpolate``: the
    components form an ordered sequence; for each neighbouring pair ``(i, i +
    1)`` the weight ``w`` in [0, 1] of ``w D_i + (1 - w) D_(i+1)`` that
    maximises the mean score is found by a bounded scalar search
    (:func:`scipy.optimize.minimize_scalar`, as rsatoolbox), and the best pair wins.

    Parameters
    ----------
    components : DataArray
        Component RDMs ``(component, stimulus_i, stimulus_j)``.
        In their order along the sequence (e.g. layers of a network).
    data : DataArray
        The data RDM ``(stimulus_i, stimulus_j)`` or a stack ``(subject,
        stimulus_i, stimulus_j)`` (pooled); stimuli matched by id.
    method : str
        Comparison method.

    Returns
    -------
    DataArray
        The fitted weights ``(component,)``.
        Weights: ``w`` and ``1 - w`` on the chosen pair, 0 elsewhere.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, rsa
    >>> g = np.random.default_rng(0)
    >>> c = g.random((3, 15))
    >>> comps = data.rdm(c, stimulus=list("abcdef"), dim="component")
    >>> target = data.rdm(0.3 * c[1] + 0.7 * c[2], stimulus=list("abcdef"))
    >>> rsa.fit_interpolate(comps, target).values.round(3).tolist()
    [0.0, 0.3, 0.7]
    """
    method = inference_method(method, "fit_interpolate")  # type: ignore[assignment]
    components, comps, vec = _fit_inputs(components, data)
    if comps.shape[0] < 2:
        raise SchemaError(
            f"fit_interpolate: needs at least 2 components to interpolate between; got "
            f"{comps.shape[0]}."
        )
    theta = _fit_model("interpolate", comps, vec, np.ones(vec.shape[0]), method)
    return _weights_array(components, theta, method=method, fit="interpolate")


def fit_optimize(
    components: xr.DataArray,
    data: xr.DataArray,
    *,
    method: CompareMethod = "corr",
    ridge: float = 0.0,
    positive: bool = False,
    rng: np.random.Generator | int | None = None,
) -> xr.DataArray:
    """Weights of component RDMs by general optimisation of any comparison method.

    rsatoolbox ``fit_optimize`` (``positive=True``: ``fit_optimize_positive``):
    the loss ``-mean_s score(sum_c theta_c D_c, data_s) + ridge |theta|^2`` is
    minimised with BFGS from ``2 c`` random starts (uniform in [0, 1)) and the
    all-ones start; the best weights are scaled to unit norm. Unlike
    :func:`fit_weights` (non-negative least squares, corr and cosine only) this
    works for every method, including the rank-based ones (whose loss is
    piecewise constant: BFGS then stays near its start, as in rsatoolbox).

    Parameters
    ----------
    components : DataArray
        Component RDMs ``(component, stimulus_i, stimulus_j)``.
    data : DataArray
        The data RDM ``(stimulus_i, stimulus_j)`` or a stack ``(subject,
        stimulus_i, stimulus_j)`` (pooled); stimuli matched by id.
    method : str
        Comparison method.
    ridge : float
        Weight of the ridge penalty ``|theta|^2`` (rsatoolbox ``ridge_weight``).
    positive : bool
        Optimise ``theta**2`` (non-negative weights).
    rng : Generator, int or None
        Randomness of the starting points.

    Returns
    -------
    DataArray
        The fitted weights ``(component,)``.
        Unit-norm weights.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, rsa
    >>> g = np.random.default_rng(0)
    >>> c = g.random((2, 15))
    >>> comps = data.rdm(c, stimulus=list("abcdef"), dim="component")
    >>> target = data.rdm(c[0] + 2 * c[1], stimulus=list("abcdef"))
    >>> w = rsa.fit_optimize(comps, target, method="cosine", rng=0)
    >>> bool(np.allclose(w.values, np.array([1, 2]) / np.sqrt(5), atol=1e-4))
    True
    """
    method = inference_method(method, "fit_optimize")  # type: ignore[assignment]
    ridge = _check_ridge(ridge)
    components, comps, vec = _fit_inputs(components, data)
    theta = _fit_model(
        "optimize_positive" if positive else "optimize",
        comps,
        vec,
        np.ones(vec.shape[0]),
        method,
        ridge=ridge,
        gen=as_generator(rng),
    )
    return _weights_array(components, theta, method=method, fit="optimize", ridge=ridge)


def _check_ridge(ridge: Any) -> float:
    try:
        r = float(ridge)
    except (TypeError, ValueError):
        raise TypeError(f"ridge must be a number >= 0; got {ridge!r}.") from None
    if not np.isfinite(r) or r < 0:
        raise ValueError(f"ridge must be a finite number >= 0 (0: no penalty); got {ridge!r}.")
    return r


# ----------------------------------------------------------------------------
# folds
# ----------------------------------------------------------------------------
def _groups(perm: np.ndarray, k: int) -> list[np.ndarray]:
    """rsatoolbox's ``sets_k_fold`` grouping of shuffled items ``perm`` into k groups."""
    n = perm.size
    size = n // k
    extra = n % k
    out = []
    for g in range(k):
        idx = list(range(g * size, (g + 1) * size))
        if g < extra:
            idx.append(n - (g + 1))
        out.append(perm[np.asarray(idx, dtype=np.intp)])
    return out


def _make_folds(
    subjects: np.ndarray,
    stimuli: np.ndarray,
    n_subj: int,
    n: int,
    k_subject: int,
    k_stimulus: int,
    gen: np.random.Generator,
    perms: list[np.ndarray] | None = None,
) -> list[_Fold]:
    """Folds over the distinct ``subjects`` and ``stimuli`` (positions), as ``sets_k_fold``.

    ``perms``: the shuffled orders to use instead of drawing them (the subject
    order first, then one stimulus order per subject group).
    """
    queue = list(perms) if perms is not None else None

    def shuffled(items: np.ndarray) -> np.ndarray:
        if queue is not None:
            return np.asarray(queue.pop(0))
        return gen.permutation(items)

    folds: list[_Fold] = []
    subj_groups = _groups(shuffled(subjects), k_subject)
    for sg in subj_groups:
        test_s = np.zeros(n_subj, dtype=bool)
        test_s[sg] = True
        train_s = test_s.copy() if k_subject <= 1 else np.isin(np.arange(n_subj), subjects) & ~test_s
        for cg in _groups(shuffled(stimuli), k_stimulus):
            test_c = np.zeros(n, dtype=bool)
            test_c[cg] = True
            train_c = test_c.copy() if k_stimulus <= 1 else np.isin(np.arange(n), stimuli) & ~test_c
            folds.append((train_s, test_s, train_c, test_c))
    return folds


def make_folds(
    data: xr.DataArray,
    *,
    cv: int | None = None,
    subject_cv: int = 1,
    dim: str | None = None,
    rng: np.random.Generator | int | None = None,
) -> xr.Dataset:
    """Cross-validation folds over stimuli and subjects (rsatoolbox ``sets_k_fold``).

    Subjects are shuffled and cut into ``subject_cv`` groups; for every
    subject group the stimuli are shuffled and cut into ``cv`` groups, which
    gives ``subject_cv * cv`` folds. Groups have ``floor(n / k)`` items, the
    ``n % k`` left over going one each to the first groups. With one group
    along a dimension, training and test sets both hold all its items.

    Parameters
    ----------
    data : DataArray
        Data RDM stack ``(subject, stimulus_i, stimulus_j)``, one RDM per
        subject.
    cv : int, optional
        Number of stimulus groups (default: rsatoolbox's ``default_k_pattern``,
        2 to 5 by the number of stimuli).
    subject_cv : int
        Number of subject groups (1: no cross-validation over subjects).
    dim : str, optional
        The subject dim when ``data`` has several leading dims.
    rng : Generator, int or None
        Randomness of the shuffles.

    Returns
    -------
    Dataset
        Boolean ``train_stimulus``, ``test_stimulus`` ``(fold, stimulus)`` and
        ``train_subject``, ``test_subject`` ``(fold, <subject dim>)``, by id.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, rsa
    >>> d = data.rdm(np.random.default_rng(0).random((4, 28)), stimulus=list("abcdefgh"),
    ...              dim="subject")
    >>> f = rsa.make_folds(d, cv=2, subject_cv=2, rng=0)
    >>> f.sizes["fold"], int(f.test_stimulus.sum("stimulus")[0])
    (4, 4)
    """
    stack, sdim = _data_stack(data, dim)
    n_subj = stack.shape[0]
    n = stack.sizes["stimulus_i"]
    k_stim = _default_k_pattern(n) if cv is None else check_int("cv", cv, minimum=1)
    k_subj = check_int("subject_cv", subject_cv, minimum=1)
    if k_stim > n or k_subj > n_subj:
        raise ValueError(
            f"make_folds: at most one group per item; got cv={k_stim} for {n} stimuli and "
            f"subject_cv={k_subj} for {n_subj} subjects along {sdim!r}."
        )
    folds = _make_folds(
        np.arange(n_subj), np.arange(n), n_subj, n, k_subj, k_stim, as_generator(rng)
    )
    return _folds_dataset(folds, stack, sdim)


def _folds_dataset(folds: list[_Fold], stack: xr.DataArray, sdim: str) -> xr.Dataset:
    stim = stack.coords.variables["stimulus_i"].values
    return xr.Dataset(
        {
            "train_subject": (("fold", sdim), np.stack([f[0] for f in folds])),
            "test_subject": (("fold", sdim), np.stack([f[1] for f in folds])),
            "train_stimulus": (("fold", "stimulus"), np.stack([f[2] for f in folds])),
            "test_stimulus": (("fold", "stimulus"), np.stack([f[3] for f in folds])),
        },
        coords={"fold": np.arange(len(folds)), sdim: stack[sdim].values, "stimulus": stim},
    )


def _folds_from_dataset(folds: xr.Dataset, stack: xr.DataArray, sdim: str) -> list[_Fold]:
    need = ("train_subject", "test_subject", "train_stimulus", "test_stimulus")
    if not isinstance(folds, xr.Dataset) or any(v not in folds for v in need):
        raise SchemaError(
            f"cv: folds must be a Dataset with {need} (see rsa.make_folds); got "
            f"{type(folds).__name__}."
        )
    stim = stack.coords.variables["stimulus_i"].values
    try:
        f = folds.sel({"stimulus": stim, sdim: stack[sdim].values})
    except (KeyError, ValueError) as exc:
        raise SchemaError(
            f"folds: their stimulus / {sdim!r} ids do not cover the data's ({exc}); make them "
            f"with rsa.make_folds(data)."
        ) from None
    out = []
    for i in range(f.sizes["fold"]):
        g = f.isel(fold=i)
        out.append(
            tuple(
                np.asarray(g[v].transpose(*g[v].dims).values, dtype=bool) for v in need
            )
        )
    return out  # type: ignore[return-value]


def _default_k_pattern(n: float) -> int:
    return 2 if n < 12 else 3 if n < 24 else 4 if n < 40 else 5


def _default_k_rdm(n: float) -> int:
    return 2 if n < 6 else 3 if n < 12 else 4 if n < 20 else 5


# ----------------------------------------------------------------------------
# engine
# ----------------------------------------------------------------------------
def _cv_sample(
    models: _Models,
    data: np.ndarray,
    method: str,
    n: int,
    stim_idx: np.ndarray | None,
    u: np.ndarray,
    folds: list[_Fold],
    *,
    ceiling: Literal["cv", "loo"],
    gen: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores ``(F, K)`` and per-fold ceilings ``(F, 2)`` of one (bootstrap) sample.

    ``stim_idx``: the stimuli drawn (None: all once); the sample is
    materialised as rsatoolbox does (sorted, pairs of copies of one stimulus
    left out). ``u``: how often each subject was drawn. ``ceiling="cv"``:
    ``cv_noise_ceiling`` (training subjects for the lower bound);
    ``"loo"``: leave one subject out among all subjects on the test stimuli.
    """
    k = len(models.names)
    stim_idx, a_pos, b_pos, valid, orig = _sample_pairs(stim_idx, n)
    mat = data[:, orig]
    rows = {i: r[orig] for i, r in models.fixed_rows.items()}
    comps = {i: c[:, orig] for i, c in models.weighted.items()}
    present = u > 0
    valid_cols = np.flatnonzero(valid)
    pooled_all = np.zeros(valid.size)
    pooled_all[valid_cols] = _pool(mat[present][:, valid_cols], u[present], method)
    scores = np.full((len(folds), k), np.nan)
    ceil = np.full((len(folds), 2), np.nan)
    for f, (tr_s, te_s, tr_c, te_c) in enumerate(folds):
        in_tr, in_te = tr_c[stim_idx], te_c[stim_idx]
        u_tr = np.where(tr_s, u, 0.0)
        u_te = np.where(te_s, u, 0.0)
        if in_tr.sum() <= 2 or in_te.sum() <= 2 or u_tr.sum() == 0 or u_te.sum() == 0:
            continue
        train_cols = np.flatnonzero(valid & in_tr[a_pos] & in_tr[b_pos])
        test_cols = np.flatnonzero(valid & in_te[a_pos] & in_te[b_pos])
        s_tr, s_te = u_tr > 0, u_te > 0
        d_train = mat[s_tr][:, train_cols]
        d_test = mat[s_te][:, test_cols]
        preds = []
        for i in range(k):
            if i in comps:
                theta = _fit_model(
                    models.fits.get(i, "nnls"),
                    comps[i][:, train_cols],
                    d_train,
                    u_tr[s_tr],
                    method,
                    ridge=models.ridge,
                    gen=gen,
                )
                preds.append(theta @ comps[i][:, test_cols])
            else:
                preds.append(rows[i][test_cols])
        if preds:  # a constant prediction (e.g. a selected categorical RDM) scores 0, as rsatoolbox
            sc = compare_vectors(np.stack(preds), d_test, method)
            scores[f] = np.nan_to_num(sc, nan=0.0) @ u_te[s_te] / u_te[s_te].sum()
        if ceiling == "cv":
            lower_pool = _pool(mat[s_tr][:, test_cols], u_tr[s_tr], method)
            sc = compare_vectors(
                np.stack([lower_pool, pooled_all[test_cols]]), d_test, method
            ) @ u_te[s_te] / u_te.sum()
            ceil[f] = sc
        else:
            ceil[f] = _loo_ceiling(mat[present][:, test_cols], u[present], method)
    return scores, ceil


def _loo_ceiling(test: np.ndarray, u: np.ndarray, method: str) -> np.ndarray:
    """rsatoolbox ``boot_noise_ceiling`` on ``(S, m)`` vectors: (lower, upper)."""
    pools = _pools_loo(test, u, method)
    sc = compare_vectors(pools, test, method)
    upper = sc[0]
    lower = np.diagonal(sc[1:]) if test.shape[0] > 1 else upper
    return np.array([lower.mean(), upper.mean()])


def _prepare(
    models: Any,
    data: xr.DataArray,
    method: str,
    fit: str | Mapping[str, str],
    ridge: float,
    dim: str | None,
) -> tuple[_Models, np.ndarray, xr.DataArray, str]:
    method = resolve_method(method)  # the caller refused distance-type methods
    mods, arrays = _collect_models(models)
    stack, sdim = _data_stack(data, dim)
    aligned = []
    for name, da in zip(mods.names, arrays, strict=True):
        stack, da = align(stack, da, names=("data", f"models[{name!r}]"))
        aligned.append(da)
    if stack.sizes["stimulus_i"] < 3:
        raise SchemaError(f"needs at least 3 stimuli; got {stack.sizes['stimulus_i']}.")
    for i, (name, da) in enumerate(zip(mods.names, aligned, strict=True)):
        label = f"models[{name!r}]"
        if da.ndim == 2:
            mods.fixed_rows[i] = rdm_vectors(da, label, check_layout=False)[0]
        else:
            mods.weighted[i] = rdm_vectors(da, label, check_layout=False)
            mods.components[i] = [str(c) for c in da[da.dims[0]].values]
    _set_fits(mods, fit, ridge, method)
    vec = rdm_vectors(stack, "data", check_layout=False)
    return mods, vec, stack, sdim


def _set_fits(mods: _Models, fit: str | Mapping[str, str], ridge: Any, method: str) -> None:
    """Check the fit of every flexible model (one name, or model name -> name) and the
    ridge weight, and store them in ``mods``."""
    fits = dict(fit) if isinstance(fit, Mapping) else {}
    for key in fits:
        if key not in mods.names:
            raise SchemaError(f"fit: no model named {key!r}; models are {mods.names}.")
    for i in mods.weighted:
        name = mods.names[i]
        kind = fits.get(name, "nnls") if isinstance(fit, Mapping) else fit
        check_option(f"fit (model {name!r})", kind, FITS)
        if kind == "nnls":
            check_option(
                f"method (nnls fit of weighted models, {name!r})",
                method,
                tuple(k for k, m in COMPARE_METHODS.items() if m.fittable),
            )
        if kind == "interpolate" and mods.weighted[i].shape[0] < 2:
            raise SchemaError(
                f"models[{name!r}]: an interpolation model needs >= 2 components."
            )
        mods.fits[i] = kind
    mods.ridge = _check_ridge(ridge)


def _score_ci(
    score: np.ndarray, var: np.ndarray, dof: int, ci: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """t CIs and one-sided p-values (score > 0) from model variances (rsatoolbox ``get_ci``)."""
    sd = np.sqrt(np.maximum(var, 0))
    t = scipy.stats.t.ppf((1 - ci) / 2, dof)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = scipy.stats.t.sf(score / sd, dof)
    return score + sd * t, score - sd * t, p


# ----------------------------------------------------------------------------
# public inference
# ----------------------------------------------------------------------------
def compute_cv_ceiling(
    data: xr.DataArray,
    *,
    cv: xr.Dataset,
    method: CompareMethod = "corr",
    dim: str | None = None,
) -> xr.DataArray:
    """Cross-validated noise ceiling (rsatoolbox ``cv_noise_ceiling``).

    In every fold the test subjects' RDMs on the test stimuli are compared
    with the pooled RDM of the training subjects on the test stimuli (lower
    bound) and with the pooled RDM of all subjects (pooled over all stimuli,
    then restricted to the test stimuli: upper bound); each bound is the mean
    over test subjects, then over folds. Pooling is method-specific (as
    :func:`compute_ceiling`).

    Parameters
    ----------
    data : DataArray
        Data RDM stack ``(subject, stimulus_i, stimulus_j)``, one RDM per
        subject.
    cv : Dataset
        The folds, from :func:`make_folds` (or any Dataset with its variables).
    method : str
        Comparison method.
    dim : str, optional
        The subject dim when ``data`` has several leading dims.

    Returns
    -------
    DataArray
        ``(bound,)`` with bound = ``["lower", "upper"]``, on the scale of
        ``method``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, rsa
    >>> g = np.random.default_rng(0)
    >>> truth = g.random(28)
    >>> d = data.rdm(truth + 0.2 * g.random((6, 28)), stimulus=list("abcdefgh"),
    ...              dim="subject")
    >>> c = rsa.compute_cv_ceiling(d, cv=rsa.make_folds(d, cv=2, subject_cv=2, rng=0))
    >>> bool(0 < c.sel(bound="lower") <= c.sel(bound="upper") <= 1)
    True
    """
    method = inference_method(method, "compute_cv_ceiling")  # type: ignore[assignment]
    stack, sdim = _data_stack(data, dim)
    fl = _folds_from_dataset(cv, stack, sdim)
    vec = rdm_vectors(stack, "data", check_layout=False)
    n = stack.sizes["stimulus_i"]
    _, ceil = _cv_sample(
        _Models([]), vec, method, n, None, np.ones(vec.shape[0]), fl, ceiling="cv",
        gen=np.random.default_rng(0),
    )
    return xr.DataArray(
        np.nanmean(ceil, axis=0),
        dims=("bound",),
        coords={"bound": ["lower", "upper"]},
        name="ceiling",
        attrs={"method": method},
    )


def crossval(
    *,
    data: xr.DataArray,
    models: xr.DataArray | Mapping[str, xr.DataArray] | xr.DataTree,
    method: CompareMethod = "corr",
    cv: int | xr.Dataset | None = None,
    subject_cv: int = 1,
    fit: Fit | Mapping[str, Fit] = "nnls",
    ridge: float = 0.0,
    dim: str | None = None,
    rng: np.random.Generator | int | None = None,
) -> xr.Dataset:
    """Cross-validated evaluation of fixed and flexible models (rsatoolbox ``crossval``).

    In every fold each flexible model (a 3-D stack of component RDMs) is
    fitted on the training subjects and stimuli and every model is scored on
    the test subjects and stimuli (mean over test subjects); fixed models are
    only scored. A prediction that is constant on a fold's test pairs (a
    selected categorical RDM, say) scores 0 there, as in rsatoolbox. The ceiling is :func:`compute_cv_ceiling` when the folds
    split the subjects, otherwise (as rsatoolbox's ``crossval`` without a
    ceiling set) the leave-one-subject-out ceiling on each fold's test
    stimuli, averaged over folds.

    Parameters
    ----------
    data : DataArray
        Data RDM stack ``(subject, stimulus_i, stimulus_j)``, one RDM per
        subject.
    models : DataArray or mapping
        Stacked RDMs ``(model, stimulus_i, stimulus_j)``, or name -> RDM.
        2-D members are fixed models, 3-D members ``(component, stimulus_i,
        stimulus_j)`` flexible models.
    method : str
        Comparison method.
    cv : int or Dataset, optional
        Number of stimulus groups (see :func:`make_folds`; default 2 to 5 by
        the number of stimuli), or explicit folds from :func:`make_folds`.
    subject_cv : int
        Number of subject groups (when ``cv`` is not a Dataset).
    fit : {"nnls", "select", "interpolate", "optimize", "optimize_positive"} or mapping
        How flexible models are fitted (one for all, or model name -> fit):
        non-negative least squares (:func:`fit_weights`, corr and cosine),
        selection (:func:`fit_select`), interpolation
        (:func:`fit_interpolate`) or general optimisation
        (:func:`fit_optimize`).
    ridge : float
        Ridge weight of the nnls and optimize fits.
    dim : str, optional
        The subject dim when ``data`` has several leading dims.
    rng : Generator, int or None
        Randomness of the folds and of the optimize fits.

    Returns
    -------
    Dataset
        ``score`` (model): mean over folds; ``score_folds`` (fold, model);
        ``ceiling`` (bound); ``ceiling_folds`` (fold, bound).

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, rsa
    >>> g = np.random.default_rng(0)
    >>> c = g.random((2, 45))
    >>> d = data.rdm(c[0] + 0.5 * c[1] + 0.1 * g.random((4, 45)),
    ...              stimulus=list("abcdefghij"), dim="subject")
    >>> comps = data.rdm(c, stimulus=list("abcdefghij"), dim="component")
    >>> res = rsa.crossval(data=d, models={"mix": comps, "first": comps[0]}, cv=2, rng=0)
    >>> bool(res.score.sel(model="mix") > res.score.sel(model="first"))
    True
    """
    gen = as_generator(rng)
    method = inference_method(method, "crossval")  # type: ignore[assignment]
    mods, vec, stack, sdim = _prepare(models, data, method, fit, ridge, dim)
    if not isinstance(cv, xr.Dataset):
        cv = make_folds(stack, cv=cv, subject_cv=subject_cv, rng=gen)
    fl = _folds_from_dataset(cv, stack, sdim)
    split_subjects = any(not np.array_equal(f[0], f[1]) for f in fl)
    n = stack.sizes["stimulus_i"]
    sc, ce = _cv_sample(
        mods, vec, method, n, None, np.ones(vec.shape[0]), fl,
        ceiling="cv" if split_subjects else "loo", gen=gen,
    )
    return xr.Dataset(
        {
            "score": ("model", np.nanmean(sc, axis=0)),
            "score_folds": (("fold", "model"), sc),
            "ceiling": ("bound", np.nanmean(ce, axis=0)),
            "ceiling_folds": (("fold", "bound"), ce),
        },
        coords={"model": mods.names, "fold": np.arange(len(fl)), "bound": ["lower", "upper"]},
        attrs={
            "method": method,
            "n_folds": len(fl),
            "n_subjects": int(vec.shape[0]),
            "n_stimuli": int(n),
            "subject_dim": sdim,
            "neurorep_version": _version(),
        },
    )


def _bootstrap_crossval_engine(
    models: _Models,
    data: np.ndarray,
    method: str,
    n: int,
    subj_idx: np.ndarray | None,
    stim_idx: np.ndarray | None,
    *,
    k_subject: int,
    k_stimulus: int,
    n_cv: int,
    gen: np.random.Generator,
    perms: list[list[list[np.ndarray]]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores ``(N, K, F, n_cv)`` and ceilings ``(2, N, n_cv)`` (rsatoolbox's layout).

    ``perms[b][r]``: the shuffled orders of sample b, repetition r (see
    :func:`_make_folds`); None draws them from ``gen``.
    """
    n_subj = data.shape[0]
    n_samples = (subj_idx if subj_idx is not None else stim_idx).shape[0]  # type: ignore[union-attr]
    k = len(models.names)
    n_f = k_subject * k_stimulus
    evals = np.full((n_samples, k, n_f, n_cv), np.nan)
    ceil = np.full((2, n_samples, n_cv), np.nan)
    for b in range(n_samples):
        s_draw = np.arange(n_subj) if subj_idx is None else subj_idx[b]
        c_draw = np.arange(n) if stim_idx is None else stim_idx[b]
        u = np.bincount(s_draw, minlength=n_subj).astype(np.float64)
        subjects, stimuli = np.unique(s_draw), np.unique(c_draw)
        if subjects.size < k_subject or stimuli.size < 3 * k_stimulus:
            continue
        for r in range(n_cv):
            folds = _make_folds(
                subjects, stimuli, n_subj, n, k_subject, k_stimulus, gen,
                None if perms is None else perms[b][r],
            )
            sc, ce = _cv_sample(
                models, data, method, n, c_draw, u, folds,
                ceiling="cv" if (k_subject > 1 or k_stimulus > 1) else "loo", gen=gen,
            )
            evals[b, :, :, r] = sc.T
            ceil[:, b, r] = ce.mean(axis=0)
    return evals, ceil


def _cv_variances(evals: np.ndarray, ceil: np.ndarray) -> np.ndarray:
    """rsatoolbox's bootstrap covariance of (scores, ceilings), corrected for the CV draws."""
    ok = ~np.isnan(evals[:, 0, 0, 0])
    n_cv = evals.shape[-1]
    e_mean = evals[ok].mean(axis=-1).mean(axis=-1)  # (N, K)
    c_mean = ceil[:, ok].mean(axis=-1)  # (2, N)
    var_mean = np.cov(np.concatenate([e_mean.T, c_mean]))
    if n_cv == 1:
        return np.atleast_2d(var_mean)
    e_1 = evals[ok].mean(axis=-2)  # (N, K, n_cv)
    var_1 = np.mean(
        [np.cov(np.concatenate([e_1[:, :, i].T, ceil[:, ok, i]])) for i in range(n_cv)], axis=0
    )
    return np.atleast_2d((n_cv * var_mean - var_1) / (n_cv - 1))


def bootstrap_crossval(
    *,
    data: xr.DataArray,
    models: xr.DataArray | Mapping[str, xr.DataArray] | xr.DataTree,
    method: CompareMethod = "corr",
    bootstrap: Literal["both", "subject", "stimulus"] = "both",
    n_bootstrap: int = 1000,
    cv: int | None = None,
    subject_cv: int | None = None,
    n_cv: int = 2,
    fit: Fit | Mapping[str, Fit] = "nnls",
    ridge: float = 0.0,
    ci: float = 0.95,
    dim: str | None = None,
    rng: np.random.Generator | int | None = None,
) -> xr.Dataset:
    """k-fold cross-validation inside a bootstrap (rsatoolbox ``bootstrap_crossval``).

    Every bootstrap sample (subjects and/or stimuli drawn with replacement)
    is split into ``subject_cv * cv`` folds ``n_cv`` times (a subject or
    stimulus drawn twice stays in one group; see :func:`make_folds`), the
    models are fitted and scored as in :func:`crossval` and the
    cross-validated noise ceiling computed (the leave-one-subject-out
    ceiling when neither dimension is split). With one subject group the
    training subjects are the test subjects, and the lower bound then equals
    the upper (rsatoolbox's ``cv_noise_ceiling`` with ``k_rdm=1``). The
    bootstrap covariance is corrected for the variance of the random fold
    assignment (``n_cv >= 2``) and scaled by ``n / (n - 1)`` (n: subjects,
    stimuli or the smaller of both); CIs use a t distribution with ``n - 1``
    degrees of freedom.

    Parameters
    ----------
    data : DataArray
        Data RDM stack ``(subject, stimulus_i, stimulus_j)``, one RDM per
        subject.
    models : stacked RDM or mapping name -> RDM
        As in :func:`crossval`.
    method : str
        Comparison method.
    bootstrap : {"both", "subject", "stimulus"}
        What to resample.
    n_bootstrap : int
        Number of bootstrap samples.
    cv, subject_cv : int, optional
        Stimulus and subject groups per sample; defaults as rsatoolbox
        (``default_k_pattern`` / ``default_k_rdm`` of ``(1 - 1/e) n``, the
        expected number of distinct items in a sample; one subject group for
        one subject).
    n_cv : int
        Random fold assignments per sample (>= 2 for the correction).
    fit, ridge
        As in :func:`crossval`.
    ci : float
        Confidence level.
    dim : str, optional
        The subject dim when ``data`` has several leading dims.
    rng : Generator, int or None
        Randomness of the bootstrap, the folds and the optimize fits.

    Returns
    -------
    Dataset
        ``score`` (model): mean over usable samples; ``ci_low``, ``ci_high``,
        ``pvalue`` (model: one-sided, score > 0); ``ceiling`` (bound);
        ``score_samples`` (sample, model) and ``ceiling_samples`` (sample,
        bound), averaged over folds and assignments; ``variance`` (stat,
        stat_b): the corrected covariance of the models' scores and the two
        ceiling bounds.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, rsa
    >>> g = np.random.default_rng(0)
    >>> c = g.random((2, 45))
    >>> d = data.rdm(c[0] + 0.5 * c[1] + 0.1 * g.random((6, 45)),
    ...              stimulus=list("abcdefghij"), dim="subject")
    >>> comps = data.rdm(c, stimulus=list("abcdefghij"), dim="component")
    >>> res = rsa.bootstrap_crossval(data=d, models={"mix": comps, "first": comps[0]},
    ...                              n_bootstrap=20, cv=2, rng=0)
    >>> bool(res.score.sel(model="mix") > res.score.sel(model="first"))
    True
    """
    check_option("bootstrap", bootstrap, ("both", "subject", "stimulus"))
    if not 0 < ci < 1:
        raise ValueError(f"ci must lie in (0, 1); got {ci}.")
    gen = as_generator(rng)
    method = inference_method(method, "bootstrap_crossval")  # type: ignore[assignment]
    mods, vec, stack, sdim = _prepare(models, data, method, fit, ridge, dim)
    n_subj, n = vec.shape[0], stack.sizes["stimulus_i"]
    n_bootstrap = check_int("n_bootstrap", n_bootstrap, minimum=2)
    n_cv = check_int("n_cv", n_cv, minimum=1)
    frac = 1 - np.exp(-1)
    k_stim = _default_k_pattern(frac * n) if cv is None else check_int("cv", cv, minimum=1)
    if subject_cv is None:
        k_subj = 1 if n_subj == 1 else _default_k_rdm(frac * n_subj)
    else:
        k_subj = check_int("subject_cv", subject_cv, minimum=1)
    if 3 * k_stim > n or k_subj > n_subj:
        raise ValueError(
            f"bootstrap_crossval: cv={k_stim} needs >= {3 * k_stim} stimuli (got {n}) and "
            f"subject_cv={k_subj} needs >= {k_subj} subjects (got {n_subj})."
        )
    by_subj = bootstrap in ("both", "subject")
    by_stim = bootstrap in ("both", "stimulus")
    subj_idx = bootstrap_indices(n_subj, n_bootstrap, rng=gen) if by_subj else None
    stim_idx = bootstrap_indices(n, n_bootstrap, rng=gen) if by_stim else None
    evals, ceil = _bootstrap_crossval_engine(
        mods, vec, method, n, subj_idx, stim_idx,
        k_subject=k_subj, k_stimulus=k_stim, n_cv=n_cv, gen=gen,
    )
    ok = ~np.isnan(evals[:, 0, 0, 0])
    if ok.sum() < 2:
        raise SchemaError(
            "bootstrap_crossval: fewer than 2 usable bootstrap samples (each needs >= 3 * cv "
            "distinct stimuli and >= subject_cv distinct subjects); lower cv or add stimuli."
        )
    with warnings.catch_warnings():  # unusable samples are all-NaN: they stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        samples = np.nanmean(np.nanmean(evals, axis=-1), axis=-1)
        ceil_samples = np.nanmean(ceil, axis=-1).T
    score = samples[ok].mean(axis=0)
    var = _cv_variances(evals, ceil)
    n_eff = {"subject": n_subj, "stimulus": n}.get(bootstrap, min(n_subj, n))
    k = len(mods.names)
    model_var = n_eff / (n_eff - 1) * np.diag(var)[:k]
    low, high, p0 = _score_ci(score, model_var, n_eff - 1, ci)
    stats = [*mods.names, "ceiling_lower", "ceiling_upper"]
    return xr.Dataset(
        {
            "score": ("model", score),
            "ci_low": ("model", low),
            "ci_high": ("model", high),
            "pvalue": ("model", p0),
            "ceiling": ("bound", ceil_samples[ok].mean(axis=0)),
            "score_samples": (("sample", "model"), samples),
            "ceiling_samples": (("sample", "bound"), ceil_samples),
            "variance": (("stat", "stat_b"), var),
        },
        coords={
            "model": mods.names,
            "bound": ["lower", "upper"],
            "sample": np.arange(n_bootstrap),
            "stat": stats,
            "stat_b": stats,
        },
        attrs={
            "method": method,
            "bootstrap": bootstrap,
            "n_bootstrap": int(n_bootstrap),
            "cv": int(k_stim),
            "subject_cv": int(k_subj),
            "n_cv": int(n_cv),
            "ci": ci,
            "dof": int(n_eff - 1),
            "n_subjects": int(n_subj),
            "n_stimuli": int(n),
            "subject_dim": sdim,
            "neurorep_version": _version(),
        },
    )
