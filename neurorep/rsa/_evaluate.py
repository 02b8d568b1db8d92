"""Model evaluation with bootstrap inference, noise ceilings and fitted models.

The statistics follow rsatoolbox (Schuett et al. 2023, eLife 12:e82566):

* **bootstrap over subjects** (RDMs) draws subjects with replacement; a
  model's score in a sample is the mean of its per-subject scores, duplicated
  subjects counted as often as drawn.
* **bootstrap over stimuli** draws stimuli with replacement. Dissimilarities
  between two copies of the same stimulus are *excluded* (rsatoolbox sets
  them to NaN: a zero there would be trivially predicted by every model),
  and every other pair (i, j) enters ``c_i * c_j`` times, c being how often
  each stimulus was drawn. neurorep never materialises the resampled RDMs:
  it weights the original dissimilarities by ``c_i * c_j`` (weighted means,
  weighted ranks), which gives rsatoolbox's numbers with one batched matrix
  product per chunk of samples.
* **both** resamples subjects and stimuli in every sample.
* **dual** (rsatoolbox ``eval_dual_bootstrap``) draws as ``both`` and also
  scores each sample's subject draw alone and stimulus draw alone; the t tests
  then use the corrected variance ``n_s/(n_s-1) V_subj + n_c/(n_c-1) V_stim -
  n_s n_c/((n_s-1)(n_c-1)) (V_both - V_subj - V_stim)``, clipped to
  ``[max(scaled V_subj, scaled V_stim), V_both]``: the two-factor bootstrap
  counts the noise variance twice, this removes the excess (Schuett et al.
  2023, eq. 7).
* **noise ceilings** are rsatoolbox's ``boot_noise_ceiling``: the upper bound
  compares each subject with the pooled RDM of all subjects, the lower bound
  with the pooled RDM of the other subjects (leave one subject out); pooling
  is method-specific (normalised, z-scored or ranked RDMs averaged).
* **t tests** (default) use the bootstrap covariance of the model scores and
  ceilings, scaled by ``n / (n - 1)`` (n = subjects, stimuli or the smaller
  of both), with ``n - 1`` degrees of freedom; p-values against 0 are
  one-sided, against the lower ceiling and between models two-sided.
* **weighted models** (a stack of component RDMs) are fitted as non-negative
  combinations (rsatoolbox ``fit_regress_nn``) to the pooled data RDM, and
  evaluated by k-fold cross-validation over stimuli inside every bootstrap
  sample (fit on pairs within the training stimuli, score on pairs within the
  held-out fold; the ceiling on the same held-out pairs).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep._core.compare import COMPARE_METHODS
from neurorep._core.deprecate import renamed_parameters
from neurorep._core.errors import NeurorepWarning, SchemaError, check_int, check_option, check_real
from neurorep._core.rng import as_generator
from neurorep.data import (
    PAIR_DIM,
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
)
from neurorep.rsa._bootstrap import _bootstrap_engine, _Models, _score_block
from neurorep.rsa._compare import (
    SIGMA_K_METHODS,
    CompareMethod,
    _check_sigma_k,
    _ids_proxy,
    _side_vectors,
)
from neurorep.rsa._fit import _fit_model, _nnls_fit, _pool, inference_method
from neurorep.rsa._transform import rdm_vectors_nan
from neurorep.stats import (
    bootstrap_indices,
    bootstrap_pvalue,
    bootstrap_t_test,
    fdr,
    percentile_ci,
)

Bootstrap = Literal["subject", "stimulus", "both", "dual", "none"]

__all__ = ["BOOTSTRAPS", "compute_ceiling", "evaluate", "fit_weights"]

BOOTSTRAPS = ("subject", "stimulus", "both", "dual", "none")
_FITTABLE = tuple(k for k, m in COMPARE_METHODS.items() if m.fittable)


# ----------------------------------------------------------------------------
# inference: t tests (stats.bootstrap_t_test) or bootstrap percentiles
# ----------------------------------------------------------------------------
def _square(values: np.ndarray, k: int, diag: float) -> np.ndarray:
    out = np.full((k, k), diag)
    ii, jj = np.triu_indices(k, 1)
    out[ii, jj] = values
    out[jj, ii] = values
    return out


def _inference(
    samples: np.ndarray,
    ceil_samples: np.ndarray,
    score: np.ndarray,
    *,
    n_eff: int,
    dof: int,
    test: str,
    ci: float,
    dual: tuple[list[tuple[np.ndarray, np.ndarray]], int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CIs and p-values (vs 0, vs lower ceiling, pairwise) from bootstrap samples.

    ``test="t"``: :func:`neurorep.stats.bootstrap_t_test` (rsatoolbox's
    ``Result.test_zero / test_noise / test_pairwise``; ``dof = n_eff - 1``),
    the reference being the lower noise ceiling. ``test="bootstrap"``:
    percentile CI and bootstrap p-values. ``dual``: the (both, subject,
    stimulus) sample sets and the numbers of subjects and stimuli.
    """
    k = samples.shape[1]
    if test == "t":
        assert dof == n_eff - 1
        lower = ceil_samples[:, 0]
        factors = None
        if dual is not None:
            sets, n_subj, n_stim = dual
            factors = ((sets[1][0], sets[1][1][:, 0]), (sets[2][0], sets[2][1][:, 0]),
                       n_subj, n_stim)
        res = bootstrap_t_test(samples, score, n_items=n_eff, reference=lower, ci=ci,
                               dual=factors)
        return (res["ci_low"].values, res["ci_high"].values, res["pvalue"].values,
                res["pvalue_reference"].values, res["pvalue_pairwise"].values)
    ok = ~np.isnan(samples).any(axis=1)
    ii, jj = np.triu_indices(k, 1)
    low, high = percentile_ci(samples[ok], ci=ci)
    p0 = bootstrap_pvalue(samples[ok], 0.0, alternative="greater")
    pnc = bootstrap_pvalue(samples[ok] - ceil_samples[ok, :1], 0.0, alternative="two-sided")
    dd = samples[ok][:, ii] - samples[ok][:, jj]
    ppair = _square(bootstrap_pvalue(dd, 0.0, alternative="two-sided"), k, 1.0)
    return low, high, p0, pnc, ppair


# ----------------------------------------------------------------------------
# public
# ----------------------------------------------------------------------------
def _n_lead(da: xr.DataArray) -> int:
    """The number of leading dims of an RDM (stack), square or condensed."""
    return da.ndim - (1 if is_condensed(da) else 2)


def _check_layout(da: Any, name: str, condensed: bool) -> None:
    """The layout check of an RDM (stack), square or, where the caller reads them,
    condensed (:func:`neurorep.data.condense`)."""
    if not is_condensed(da):
        check_rdm_layout(da, name=name)
    elif condensed:
        condensed_ids(da, name=name)
    else:
        raise SchemaError(
            f"{name}: this function takes square RDMs (..., stimulus_i, stimulus_j); got a "
            f"condensed stack (dims {da.dims}). Pass neurorep.data.uncondense({name}) (rsa."
            f"evaluate, rsa.compute_ceiling and rsa.compare read condensed stacks directly)."
        )


def _collect_models(
    models: Any, condensed: bool = False
) -> tuple[_Models, list[xr.DataArray]]:
    if isinstance(models, xr.DataArray):
        check_real(models.data, name="models")
        _check_layout(models, "models", condensed)
        if _n_lead(models) == 0:
            mapping: dict[str, xr.DataArray] = {str(models.attrs.get("name", "model")): models}
        elif _n_lead(models) == 1:
            lead = models.dims[0]
            mapping = {str(k): models.isel({lead: i}) for i, k in enumerate(models[lead].values)}
        else:
            raise SchemaError(
                f"models: expected (model, stimulus_i, stimulus_j); got dims {models.dims}."
            )
    elif infer_kind(models) == "set":
        mapping = members(models)
    else:
        raise SchemaError(
            "models: expected a stacked RDM DataArray (model, stimulus_i, stimulus_j) or a "
            f"mapping name -> RDM (2-D: fixed model; 3-D stack: weighted model); got "
            f"{type(models).__name__}."
        )
    if not mapping:
        raise SchemaError("models: got no model RDM.")
    out = _Models(list(mapping))
    arrays = []
    for name, da in mapping.items():
        if isinstance(da, xr.DataArray):
            check_real(da.data, name=f"models[{name!r}]")
        _check_layout(da, f"models[{name!r}]", condensed)
        if _n_lead(da) not in (0, 1):
            raise SchemaError(
                f"models[{name!r}]: a fixed model is one RDM (2-D), a weighted model a stack of "
                f"component RDMs (3-D); got dims {da.dims}."
            )
        arrays.append(da)
    return out, arrays


def _data_stack(
    data: xr.DataArray, dim: str | None, condensed: bool = False
) -> tuple[xr.DataArray, str]:
    if isinstance(data, xr.DataArray):
        check_real(data.data, name="data")
    _check_layout(data, "data", condensed)
    lead = list(data.dims[: _n_lead(data)])
    if not lead:
        data = data.expand_dims("subject")
        return data, "subject"
    if len(lead) > 1:
        if dim is None or dim not in lead:
            raise SchemaError(
                f"data: RDMs with several leading dims {lead}; evaluate() bootstraps one of "
                f"them. Average or stack the others first, e.g. data.mean('session') or "
                f"data.stack(rdm={tuple(lead)}), or pass dim=."
            )
        others = [d for d in lead if d != dim]
        data = data.mean(others)
        return data.transpose(dim, *((PAIR_DIM,) if is_condensed(data) else RDM_DIMS)), dim
    return data, str(lead[0])


def _read_only(v: np.ndarray) -> np.ndarray:
    """A read-only view: a condensed stack's own values are never written to."""
    v = v.view()
    v.flags.writeable = False
    return v


def _stack_vectors(stack: xr.DataArray, name: str) -> np.ndarray:
    """The ``(k, m)`` vectors of an RDM stack: a condensed stack's values as they are
    (checked once, read-only), a square stack's gathered and checked (NaN: missing pairs)."""
    if is_condensed(stack):
        return _read_only(condensed_vectors(stack, name=name))
    return rdm_vectors_nan(stack, name, check_layout=False)


def _aligned_vectors(
    stack: xr.DataArray, arrays: list[xr.DataArray], names: list[str], join: Any
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """The stimulus ids the data and every model share (in the data's order), the data's
    ``(k, m)`` vectors and each model's ``(c, m)`` on them.

    Square RDMs are aligned by id and gathered. With a condensed stack among them
    (:func:`neurorep.data.condense`) the ids are matched first and each condensed stack
    is read directly (its values, read-only, when it holds exactly the shared stimuli in
    that order; else one gather of its pairs), so repeated evaluations skip the square
    form.
    """
    labels = [f"models[{name!r}]" for name in names]
    if not (is_condensed(stack) or any(is_condensed(da) for da in arrays)):
        aligned = []
        for label, da in zip(labels, arrays, strict=True):
            stack, da = align(stack, da, join=join, names=("data", label))
            aligned.append(da)
        if join == "inner":  # the data may have lost stimuli after the first models: realign
            aligned = [align(stack, da, names=("data", "model"))[1] for da in aligned]
        return (
            np.asarray(stack.coords.variables["stimulus_i"].values),
            _stack_vectors(stack, "data"),
            [_stack_vectors(da, label) for label, da in zip(labels, aligned, strict=True)],
        )
    sides = [stack, *arrays]
    ids = [
        condensed_ids(r, name=label) if is_condensed(r)
        else np.asarray(r.coords.variables["stimulus_i"].values)
        for r, label in zip(sides, ["data", *labels], strict=True)
    ]
    shared = ids[0]
    for label, other in zip(labels, ids[1:], strict=True):
        pa, _ = align(_ids_proxy(shared), _ids_proxy(other), join=join, names=("data", label))
        shared = np.asarray(pa.coords.variables["stimulus"].values)
    vecs = []
    for r, own_ids, label in zip(sides, ids, ["data", *labels], strict=True):
        if is_condensed(r):
            vecs.append(_read_only(_side_vectors(r, own_ids, shared, label)[0]))
        else:
            vecs.append(_stack_vectors(select_stimuli(r, shared), label))
    return shared, vecs[0], vecs[1:]


def compute_ceiling(
    data: xr.DataArray, *, method: CompareMethod = "corr", dim: str | None = None
) -> xr.DataArray:
    """Lower and upper noise ceiling of a stack of data RDMs (leave one subject out).

    The upper bound is the mean score of each subject's RDM against the
    pooled RDM of all subjects, the lower bound against the pooled RDM of
    the other subjects (rsatoolbox ``boot_noise_ceiling``).

    Parameters
    ----------
    data : DataArray
        RDM stack ``(subject, stimulus_i, stimulus_j)``: at least 2 RDMs
        along the leading dim.
    method : str
        Comparison method (see :func:`compare`).
    dim : str, optional
        The subject dim when ``data`` has several leading dims (the others
        are averaged).

    Returns
    -------
    DataArray
        ``(bound,)`` with bound = ``["lower", "upper"]``, on the scale of
        ``method``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, rsa
    >>> d = np.random.default_rng(0).random((4, 10))
    >>> c = rsa.compute_ceiling(data.rdm(d, stimulus=list("abcde"), dim="subject"))
    >>> c.bound.values.tolist()
    ['lower', 'upper']
    """
    method = inference_method(method, "compute_ceiling")  # type: ignore[assignment]
    stack, _ = _data_stack(data, dim, condensed=True)
    if stack.shape[0] < 2:
        raise SchemaError(
            f"compute_ceiling: a leave-one-out noise ceiling needs at least 2 data RDMs; got "
            f"{stack.shape[0]}."
        )
    vec = _stack_vectors(stack, "data")
    m = vec.shape[1]
    n = int(round((1 + np.sqrt(1 + 8 * m)) / 2))
    models = _Models(["_"], fixed_rows={0: vec[0]})
    ok = _pairs_present(vec, models, method, None)  # missing (NaN) pairs are left out
    pairs = np.arange(m) if ok is None else np.flatnonzero(ok)
    whitened = ok is not None and COMPARE_METHODS[method].whitened
    _, ce, _ = _score_block(
        models,
        np.nan_to_num(vec) if ok is not None else vec,
        np.ones(vec.shape[0]),
        method,
        pairs,
        pairs,
        sigma_k=None,
        valid_test=ok if whitened else None,
        n_sample=n,
    )
    return xr.DataArray(
        ce,
        dims=("bound",),
        coords={"bound": ["lower", "upper"]},
        name="ceiling",
        attrs={"method": method},
    )


def fit_weights(
    components: xr.DataArray,
    data: xr.DataArray,
    *,
    method: Literal["corr", "cosine"] = "corr",
    ridge: float = 0.0,
) -> xr.DataArray:
    """Non-negative weights of component RDMs that best fit the pooled data RDM.

    rsatoolbox's ``fit_regress_nn``: the data RDMs are pooled for the
    method (normalised for cosine, z-scored for corr), the components
    centred for corr, and non-negative least squares gives the weights
    (scaled to unit norm: the scale does not change corr or cosine). With
    ``ridge > 0`` the squared error is penalised by ``ridge * |theta|^2``
    (rsatoolbox's ``ridge_weight``, on the normalised regressors), which
    shrinks the weights of correlated components towards each other.

    Parameters
    ----------
    components : DataArray
        Component RDMs ``(component, stimulus_i, stimulus_j)``.
    data : DataArray
        The data RDM ``(stimulus_i, stimulus_j)`` or a stack ``(subject,
        stimulus_i, stimulus_j)`` (pooled), stimuli matched by id.
    method : {"corr", "cosine"}, optional
        The comparison the weights optimise (default ``"corr"``).
    ridge : float, optional
        Ridge weight (default 0: plain non-negative least squares).

    Returns
    -------
    DataArray
        Non-negative weights ``(component,)`` of unit norm.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, rsa
    >>> g = np.random.default_rng(0)
    >>> comps = data.rdm(g.random((2, 10)), stimulus=list("abcde"), dim="component")
    >>> target = data.rdm(comps.values[0] + 0.5 * comps.values[1], stimulus=list("abcde"))
    >>> w = rsa.fit_weights(comps, target, method="cosine")
    >>> bool(w[0] > w[1])
    True
    """
    check_option("method", method, _FITTABLE)
    from neurorep.rsa._flexible import _check_ridge

    ridge = _check_ridge(ridge)
    check_rdm_layout(components, name="components")
    if components.ndim != 3:
        raise SchemaError(
            f"fit_weights: components must be a stack (component, stimulus_i, stimulus_j); got "
            f"{components.dims}."
        )
    stack, _ = _data_stack(data, None)
    ic, ids = components.indexes.get("stimulus_i"), stack.indexes.get("stimulus_i")
    if ic is None or ids is None or not ic.equals(ids):  # same ids, same order: no align
        components, stack = align(components, stack, names=("components", "data"))
    comps = rdm_vectors(components, "components", check_layout=False)
    vec = rdm_vectors(stack, "data", check_layout=False)
    theta = _nnls_fit(comps, _pool(vec, None, method), method, ridge)
    lead = components.dims[0]
    # the component coordinates as they are (xarray's fast path: no index is rebuilt)
    coords = {
        k: v for k, v in components.coords.variables.items() if v.dims in ((lead,), ())
    }
    return xr.DataArray(
        xr.Variable((lead,), theta, attrs={"method": method, "ridge": ridge}),
        coords=coords,
        name="weights",
        indexes={k: i for k, i in components.xindexes.items() if k in coords},
        fastpath=True,
    )


def _pairwise_fdr(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg over the model pairs (upper triangle), mirrored; diagonal as given."""
    k = p.shape[0]
    out = np.array(p, dtype=float)
    if k > 1:
        ii, jj = np.triu_indices(k, 1)
        adj = fdr(out[ii, jj])
        out[ii, jj] = adj
        out[jj, ii] = adj
    return out


def _old_positional_order(
    args: tuple[Any, ...], data: Any, models: Any
) -> tuple[xr.DataArray, Any]:
    """``evaluate``'s deprecation period: two positional arguments are (models, data)."""
    if args:
        if len(args) != 2 or data is not None or models is not None:
            raise TypeError(
                f"evaluate() takes the RDM sets as keywords, evaluate(data=..., models=...); "
                f"got {len(args)} positional argument(s)"
                + (" and data=/models= keywords" if data is not None or models is not None else "")
                + "."
            )
        warnings.warn(
            "rsa.evaluate(models, data) with positional arguments is deprecated: in neurorep "
            "0.4 the order becomes (data, models), brain first as in every comparison "
            "(docs/glossary.md). Pass both by keyword now, evaluate(data=..., models=...), "
            "which means the same before and after.",
            FutureWarning,
            stacklevel=4,
        )
        models, data = args
    if data is None or models is None:
        missing = [n for n, v in (("data", data), ("models", models)) if v is None]
        raise TypeError(
            f"evaluate() needs data= (subject RDMs) and models= (model RDMs); missing: "
            f"{', '.join(missing)}."
        )
    return data, models


@renamed_parameters(cv_folds="cv")
def evaluate(
    *args: Any,
    data: xr.DataArray | None = None,
    models: xr.DataArray | Mapping[str, xr.DataArray] | xr.DataTree | None = None,
    method: CompareMethod = "corr",
    bootstrap: Bootstrap = "both",
    n_bootstrap: int = 1000,
    test: Literal["t", "bootstrap"] = "t",
    ci: float = 0.95,
    cv: int | None = None,
    sigma_k: np.ndarray | None = None,
    dim: str | None = None,
    join: Literal["exact", "inner"] = "exact",
    rng: np.random.Generator | int | None = None,
    fit: Literal["nnls", "select", "interpolate", "optimize", "optimize_positive"]
    | Mapping[str, str] = "nnls",
    ridge: float = 0.0,
) -> xr.Dataset:
    """Evaluate model RDMs against data RDMs with bootstrap inference and noise ceilings.

    Pass both RDM sets by keyword, ``evaluate(data=..., models=...)``: the
    positional order changes from rsatoolbox's ``(models, data)`` to neurorep's
    ``(data, models)`` (brain first, as in every comparison; docs/glossary.md) in
    neurorep 0.4. Until then two positional arguments are read in the old order
    with a ``FutureWarning``; keyword calls mean the same before and after.

    Parameters
    ----------
    *args : DataArray
        Deprecated: two positional RDM sets, read in the old ``(models,
        data)`` order with a ``FutureWarning``; pass ``data=`` and ``models=``.
    data : DataArray
        RDM stack ``(subject, stimulus_i, stimulus_j)``: one RDM per subject (any leading dim name; with several leading
        dims pass ``dim=`` and the others are averaged).
    models : DataArray, mapping or DataTree
        A stacked RDM ``(model, stimulus_i, stimulus_j)`` or name -> RDM.
        A 2-D member is a fixed model; a 3-D member ``(component, stimulus_i,
        stimulus_j)`` is a weighted model (non-negative combination of its
        components, fitted with cross-validation). ``data`` and the models may
        also be condensed stacks (:func:`neurorep.data.condense`: ``(...,
        pair)``, one dim fewer): they were checked when condensed and are read
        as they are, so repeated evaluations skip checking and gathering the
        square matrices. Scores are the same for both forms.
    method : str
        Comparison method (:data:`~neurorep.rsa.COMPARE_METHODS`). corr,
        cosine, spearman and rho-a are fully vectorised; tau-a and the
        ``*_cov`` methods, and weighted models, run one sample at a time.
        Scores are read as higher = better, so the distance ``bures_metric``
        is refused: use ``bures`` (its similarity) or ``neg_riem_dist``.
    bootstrap : {"both", "subject", "stimulus", "dual", "none"}
        What to resample: subjects (generalise to new subjects), stimuli
        (new stimuli) or both. ``"dual"``: both, with rsatoolbox's
        dual-bootstrap variance correction (t tests; the plain two-factor
        bootstrap overestimates the variance). ``"none"`` gives scores and
        ceilings only.
    n_bootstrap : int
        Number of bootstrap samples.
    test : {"t", "bootstrap"}
        ``"t"`` (rsatoolbox's default): t tests and CIs from the bootstrap
        variance; ``"bootstrap"``: percentile CIs and bootstrap p-values.
    ci : float
        Confidence level of ``ci_low``/``ci_high``.
    cv : int, optional
        k-fold cross-validation over stimuli inside each sample (needed for
        weighted models; default 1 for fixed models only, otherwise
        rsatoolbox's default: 2-5 folds by number of stimuli).
    sigma_k : ndarray, optional
        Pattern covariance for the ``*_cov`` methods.
    dim : str, optional
        The subject dim of ``data`` when it has several leading dims.
    join : {"exact", "inner"}
        Stimulus matching between models and data (by id).
    rng : Generator, int or None
        Randomness of the bootstrap and the folds (and of the optimize fits).
    fit : {"nnls", "select", "interpolate", "optimize", "optimize_positive"} or mapping
        How weighted models are fitted (one for all, or model name -> fit), as
        in :func:`crossval`: non-negative least squares (default,
        :func:`fit_weights`; corr and cosine), selection, interpolation or
        general optimisation.
    ridge : float
        Ridge weight of the nnls and optimize fits: ``ridge * |theta|^2`` added
        to the loss (rsatoolbox's ``ridge_weight``; default 0, no penalty).

    Returns
    -------
    Dataset
        ``score`` (model): mean score over subjects on the full data (CV
        estimate for weighted models); ``ci_low``, ``ci_high`` (model);
        ``pvalue`` (model): one-sided test of score > 0; ``pvalue_ceiling``
        (model): two-sided test against the lower ceiling;
        ``pvalue_pairwise`` (model, model_b); ``pvalue_fdr`` and
        ``pvalue_pairwise_fdr``: the same p-values Benjamini-Hochberg adjusted
        over the models and over the model pairs (what
        :func:`~neurorep.plotting.plot_model_comparison` marks); ``ceiling`` (bound): lower
        and upper noise ceiling on the full data; ``score_samples`` (sample,
        model) and ``ceiling_samples`` (sample, bound); ``weights`` (model,
        component) for weighted models. attrs hold method, bootstrap, test,
        dof and the sizes.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep import data, rsa
    >>> g = np.random.default_rng(0)
    >>> truth = g.random(45)
    >>> subj = data.rdm(truth + 0.3 * g.random((6, 45)), stimulus=list("abcdefghij"),
    ...                 dim="subject")
    >>> mods = data.rdm(np.stack([truth, g.random(45)]), stimulus=list("abcdefghij"),
    ...                 dim="model", index=["good", "bad"])
    >>> res = rsa.evaluate(data=subj, models=mods, n_bootstrap=200, rng=0)
    >>> bool(res.score.sel(model="good") > res.score.sel(model="bad"))
    True
    """
    data, models = _old_positional_order(args, data, models)
    method = inference_method(method, "evaluate")  # type: ignore[assignment]
    check_option("bootstrap", bootstrap, BOOTSTRAPS)
    check_option("test", test, ("t", "bootstrap"))
    if not 0 < ci < 1:
        raise ValueError(f"ci must lie in (0, 1); got {ci}.")
    mods, arrays = _collect_models(models, condensed=True)
    stack, sdim = _data_stack(data, dim, condensed=True)
    # align stimuli (by id) of every model to the data
    shared, vec, rows = _aligned_vectors(stack, arrays, mods.names, join)
    n = shared.size
    n_subj = stack.shape[0]
    if n < 3:
        raise SchemaError(f"evaluate: needs at least 3 stimuli; got {n}.")
    for i, (da, row) in enumerate(zip(arrays, rows, strict=True)):
        if _n_lead(da) == 0:
            mods.fixed_rows[i] = row[0]
        else:
            mods.weighted[i] = row
            mods.components[i] = [str(c) for c in da[da.dims[0]].values]
    from neurorep.rsa._flexible import _set_fits

    _set_fits(mods, fit, ridge, method)
    if COMPARE_METHODS[method].whole and bootstrap in ("stimulus", "both", "dual"):
        raise ValueError(
            f"method={method!r} compares whole RDMs (matrices); a stimulus bootstrap draws "
            f"some stimuli twice, whose zero dissimilarity with themselves it cannot leave "
            f"out (rsatoolbox cannot either). Use bootstrap='subject' or 'none'."
        )
    if sigma_k is not None:
        if method not in SIGMA_K_METHODS:
            raise ValueError(
                f"sigma_k is only used by methods {list(SIGMA_K_METHODS)}; got {method!r}."
            )
        sigma_k = _check_sigma_k(sigma_k, shared)
        if bootstrap in ("stimulus", "both", "dual"):
            raise ValueError(
                "sigma_k with a stimulus bootstrap is not supported: a stimulus drawn twice "
                "makes the covariance of the resampled dissimilarities singular, so they "
                "cannot be whitened (rsatoolbox's bootstrap never passes sigma_k either). Use "
                "bootstrap='subject', or drop sigma_k (identity whitening works with every "
                "bootstrap)."
            )
    cv_folds = cv
    if cv_folds is None:
        cv_folds = _default_k(n) if mods.any_weighted else 1
    cv_folds = check_int("cv", cv_folds, minimum=1, fix="e.g. cv=5, or None.")
    if cv_folds < 1 or (cv_folds > 1 and 3 * cv_folds > n):
        raise ValueError(
            f"cv must be >= 1 and leave at least 3 stimuli per fold ({n} stimuli); "
            f"got {cv_folds}."
        )
    if mods.any_weighted and cv_folds == 1:
        warnings.warn(
            "evaluate: weighted models fitted and scored on the same data (cv=1) are "
            "optimistically biased; use cv >= 2.",
            NeurorepWarning,
            stacklevel=2,
        )
    if bootstrap == "dual" and test != "t":
        raise ValueError(
            "bootstrap='dual' corrects the variance used by the t tests; with "
            "test='bootstrap' (percentiles) use bootstrap='both'."
        )
    by_subject = bootstrap in ("subject", "both", "dual")
    by_stimulus = bootstrap in ("stimulus", "both", "dual")
    if by_subject and n_subj < 3:
        raise SchemaError(
            f"evaluate: bootstrapping subjects needs at least 3 subjects along {sdim!r}; got "
            f"{n_subj}. Use bootstrap='stimulus' (generalise over stimuli only)."
        )
    if bootstrap != "none":
        n_bootstrap = check_int(
            "n_bootstrap", n_bootstrap, minimum=2,
            fix="It counts bootstrap samples, e.g. n_bootstrap=1000 (or bootstrap='none').",
        )
    gen = as_generator(rng)
    pair_ok = _pairs_present(vec, mods, method, sigma_k)

    # full-data estimates
    point_reps = 5 if cv_folds > 1 else 1
    pt = [
        _bootstrap_engine(
            mods,
            vec,
            method,
            n,
            None,
            np.arange(n)[None, :],
            cv_folds=cv_folds,
            sigma_k=sigma_k,
            rng=gen,
            vectorised=False if sigma_k is not None or pair_ok is not None else None,
            pair_ok=pair_ok,
        )
        for _ in range(point_reps)
    ]
    score = np.nanmean([p[0][0] for p in pt], axis=0)
    if n_subj >= 2:
        ceiling = np.nanmean([p[1][0] for p in pt], axis=0)
    else:
        ceiling = np.full(2, np.nan)
    weights = _full_weights(mods, vec, method, pair_ok, gen)

    k = len(mods.names)
    n_eff = {"subject": n_subj, "stimulus": n}.get(bootstrap, min(n_subj, n))
    samples = np.full((0, k), np.nan)
    ceil_samples = np.full((0, 2), np.nan)
    p0 = np.full(k, np.nan)
    pnc = np.full(k, np.nan)
    ppair = np.full((k, k), np.nan)
    low = np.full(k, np.nan)
    high = np.full(k, np.nan)
    dof = n_eff - 1
    if bootstrap != "none":
        subj_idx = bootstrap_indices(n_subj, n_bootstrap, rng=gen) if by_subject else None
        stim_idx = bootstrap_indices(n, n_bootstrap, rng=gen) if by_stimulus else None
        samples, ceil_samples = _bootstrap_engine(
            mods,
            vec,
            method,
            n,
            subj_idx,
            stim_idx,
            cv_folds=cv_folds,
            sigma_k=sigma_k,
            rng=gen,
            pair_ok=pair_ok,
        )
        ok = ~np.isnan(samples).any(axis=1)
        if ok.sum() < 2:
            raise SchemaError(
                "evaluate: fewer than 2 usable bootstrap samples (each needs >= 3 distinct "
                "stimuli); add stimuli or samples."
            )
        if n_subj < 2:
            ceil_samples[:] = np.nan
        dual = None
        if bootstrap == "dual":  # the same draws, one factor at a time
            sets = [(samples, ceil_samples)]
            for s_idx, c_idx in ((subj_idx, None), (None, stim_idx)):
                sets.append(
                    _bootstrap_engine(
                        mods, vec, method, n, s_idx, c_idx, cv_folds=cv_folds, rng=gen,
                        pair_ok=pair_ok,
                    )
                )
            bad = np.isnan(samples).any(axis=1)  # rsatoolbox drops the whole sample
            for sc, ce in sets:
                sc[bad] = np.nan
                ce[bad] = np.nan
            dual = (sets, n_subj, n)
        low, high, p0, pnc, ppair = _inference(
            samples, ceil_samples, score, n_eff=n_eff, dof=dof, test=test, ci=ci, dual=dual
        )
        if n_subj < 2:
            pnc[:] = np.nan

    names = mods.names
    comp_names = sorted({c for cs in mods.components.values() for c in cs})
    w_arr = np.full((k, len(comp_names)), np.nan)
    for i, theta in weights.items():
        for c, val in zip(mods.components[i], theta, strict=True):
            w_arr[i, comp_names.index(c)] = val
    ds = xr.Dataset(
        {
            "score": ("model", score),
            "ci_low": ("model", np.asarray(low, dtype=float)),
            "ci_high": ("model", np.asarray(high, dtype=float)),
            "pvalue": ("model", np.asarray(p0, dtype=float)),
            "pvalue_ceiling": ("model", np.asarray(pnc, dtype=float)),
            "pvalue_pairwise": (("model", "model_b"), ppair),
            "pvalue_fdr": ("model", fdr(np.asarray(p0, dtype=float))),
            "pvalue_pairwise_fdr": (("model", "model_b"), _pairwise_fdr(ppair)),
            "ceiling": ("bound", ceiling),
            "score_samples": (("sample", "model"), samples),
            "ceiling_samples": (("sample", "bound"), ceil_samples),
        },
        coords={
            "model": names,
            "model_b": names,
            "bound": ["lower", "upper"],
            "sample": np.arange(samples.shape[0]),
            "model_kind": (
                "model",
                ["weighted" if i in mods.weighted else "fixed" for i in range(k)],
            ),
        },
        attrs={
            "method": method,
            "bootstrap": bootstrap,
            "n_bootstrap": int(samples.shape[0]),
            "test": test,
            "ci": ci,
            "dof": int(dof),
            "cv": int(cv_folds),
            "n_subjects": int(n_subj),
            "n_stimuli": int(n),
            "subject_dim": sdim,
            "neurorep_version": _version(),
        },
    )
    if mods.any_weighted:
        ds.attrs["fit"] = ", ".join(f"{mods.names[i]}: {f}" for i, f in sorted(mods.fits.items()))
        ds.attrs["ridge"] = mods.ridge
    if comp_names:
        ds["weights"] = (("model", "component"), w_arr)
        ds = ds.assign_coords(component=comp_names)
    return ds


def _version() -> str:
    from neurorep import __version__

    return str(__version__)


def _full_weights(
    mods: _Models, vec: np.ndarray, method: str, pair_ok: np.ndarray | None = None,
    gen: np.random.Generator | None = None,
) -> dict[int, np.ndarray]:
    keep = slice(None) if pair_ok is None else pair_ok
    u = np.ones(vec.shape[0])
    return {
        i: _fit_model(mods.fits.get(i, "nnls"), comps[:, keep], vec[:, keep], u, method,
                      ridge=mods.ridge, gen=gen)
        for i, comps in mods.weighted.items()
    }


def _pairs_present(
    vec: np.ndarray, mods: _Models, method: str, sigma_k: np.ndarray | None
) -> np.ndarray | None:
    """The dissimilarities present in every data and model RDM; None when none is missing.

    A pair missing (NaN) in any RDM is left out of every score, ceiling and fit, as
    rsatoolbox leaves out the NaN positions of its RDMs.
    """
    rows = [vec, *(r[None] for r in mods.fixed_rows.values()), *mods.weighted.values()]
    if not any(np.isnan(r.sum()) for r in rows):
        return None
    ok = ~np.logical_or.reduce([np.isnan(r).any(axis=0) for r in rows])
    if COMPARE_METHODS[method].whole:
        raise ValueError(
            f"evaluate: method={method!r} compares whole RDMs (matrices), so it cannot leave "
            f"out the {int((~ok).sum())} missing (NaN) pair(s); use a vector method."
        )
    if sigma_k is not None:
        raise ValueError(
            "evaluate: sigma_k cannot be used with missing (NaN) pairs (rsatoolbox cannot "
            "either); drop sigma_k or the stimuli with missing pairs."
        )
    if ok.sum() < 3:
        raise SchemaError(
            f"evaluate: only {int(ok.sum())} dissimilarities are present in every RDM; "
            f"scoring needs at least 3."
        )
    return ok


def _default_k(n_pattern: int) -> int:
    """rsatoolbox's default number of stimulus folds for bootstrapped CV."""
    eff = (1 - np.exp(-1.0)) * n_pattern
    if eff < 12:
        return 2
    if eff < 24:
        return 3
    if eff < 40:
        return 4
    return 5
