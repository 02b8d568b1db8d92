"""Cross-validated decoding: over time, temporal generalisation, pairwise-decoding RDMs.

Samples are trials: every ``(stimulus, repetition)`` of epochs or repeated
responses is one sample, labelled by its stimulus id (or by a stimulus
coordinate such as ``category``). Folds are stratified by label; at every
time point a fresh clone of the classifier is fitted on the training trials
and scored on the held-out ones. Inference: a label-permutation null of the
whole cross-validation, with per-time-point p-values and cluster p-values
(clusters of adjacent time points, or of time x time cells, above the
null's 95th percentile; their summed excess is compared with the largest
cluster sum of every permutation -- Maris & Oostenveld 2007 with label
permutations). Several subjects: stack their ``score`` along ``subject``
and use :func:`neurorep.stats.cluster_test` (MNE's sign-flip cluster test).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep import SchemaError
from neurorep._core.errors import check_int
from neurorep._core.rng import as_generator
from neurorep.data import bin_time, check_epochs, crop_time, infer_kind, rdm
from neurorep.decoding._lda import lda_decision, lda_fit
from neurorep.stats import cluster_pvalues

__all__ = [
    "CLASSIFIERS",
    "SCORINGS",
    "decode",
    "decode_generalization",
    "decode_rdm",
    "pseudo_population",
]


# ----------------------------------------------------------------------------- registries
def _lda() -> Any:
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")


def _logistic() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))


def _svm() -> Any:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    return make_pipeline(StandardScaler(), LinearSVC(C=1.0))


def _mlp() -> Any:
    from neurorep.decoding._mlp import TorchMLPClassifier, _import_torch

    _import_torch()  # fail before any fold runs, with the install hint
    return TorchMLPClassifier(rng=0)


#: Named classifiers (each a factory of a fresh scikit-learn estimator); any
#: scikit-learn classifier instance is accepted too.
CLASSIFIERS: dict[str, Callable[[], Any]] = {
    "lda": _lda,  # LDA with Ledoit-Wolf shrinkage (Grootswagers et al. 2017)
    "logistic": _logistic,
    "svm": _svm,
    "mlp": _mlp,  # TorchMLPClassifier (needs torch)
}

#: Scoring names and their chance level (``None``: 1 / n_classes).
SCORINGS: dict[str, float | None] = {"accuracy": None, "balanced_accuracy": None, "roc_auc": 0.5}


def _classifier(classifier: Any) -> Any:
    """A fresh estimator, or None for the default LDA (the batched kernel of _lda.py)."""
    from sklearn.base import clone

    if isinstance(classifier, str) and classifier == "lda":
        return None
    if isinstance(classifier, str):
        if classifier not in CLASSIFIERS:
            raise ValueError(
                f"classifier must be one of {list(CLASSIFIERS)} or a scikit-learn classifier "
                f"instance; got {classifier!r}."
            )
        return CLASSIFIERS[classifier]()
    if not (hasattr(classifier, "fit") and hasattr(classifier, "predict")):
        raise TypeError(
            f"classifier must be one of {list(CLASSIFIERS)} or a scikit-learn classifier "
            f"(with fit and predict); got {type(classifier).__name__}."
        )
    return clone(classifier)


def _score(scoring: str, clf: Any, X: np.ndarray, y: np.ndarray) -> float:
    if scoring == "accuracy":
        return float(np.mean(clf.predict(X) == y))
    if scoring == "balanced_accuracy":
        from sklearn.metrics import balanced_accuracy_score

        return float(balanced_accuracy_score(y, clf.predict(X)))
    from sklearn.metrics import roc_auc_score

    classes = np.asarray(clf.classes_)
    if classes.size == 2:
        s = clf.decision_function(X) if hasattr(clf, "decision_function") else \
            clf.predict_proba(X)[:, 1]
        return float(roc_auc_score(y == classes[1], s))
    return float(roc_auc_score(y, clf.predict_proba(X), multi_class="ovr", labels=classes))


# ----------------------------------------------------------------------------- samples
@dataclass
class _Samples:
    X: np.ndarray  # (n_samples, T, p); T = 1 for static responses
    y: np.ndarray  # (n_samples,) str labels
    stimulus: np.ndarray  # (n_samples,) stimulus id of every sample
    repetition: np.ndarray | None
    time: np.ndarray | None
    label_name: str


def _labels_of(da: xr.DataArray, labels: Any, name: str) -> tuple[np.ndarray, str]:
    ids = np.asarray(da["stimulus"].values).astype(str)
    if labels is None:
        return ids, "stimulus"
    if isinstance(labels, str):
        if labels == "stimulus":
            return ids, "stimulus"
        if labels not in da.coords or da[labels].dims != ("stimulus",):
            coords = [str(c) for c in da.coords if da[c].dims == ("stimulus",) and c != "stimulus"]
            raise SchemaError(
                f"{name}: labels={labels!r} must name a stimulus coordinate; the stimulus "
                f"coordinates are {coords}. Add one with obj.assign_coords({labels}=('stimulus', "
                f"values)) or pass labels as a DataArray over 'stimulus'."
            )
        return np.asarray(da[labels].values).astype(str), labels
    if isinstance(labels, xr.DataArray):
        if labels.dims != ("stimulus",) or "stimulus" not in labels.coords:
            raise SchemaError(
                f"{name}: labels as a DataArray must have dims ('stimulus',) with stimulus ids; "
                f"got dims {tuple(labels.dims)}."
            )
        lab_ids = np.asarray(labels["stimulus"].values).astype(str)
        missing = sorted(set(ids) - set(lab_ids))
        if missing or len(set(lab_ids)) != lab_ids.size:
            raise SchemaError(
                f"{name}: labels must give one label per stimulus id (aligned by id); missing "
                f"{missing[:5]} or duplicated ids. Pass labels for every stimulus of the data."
            )
        lab = labels.assign_coords(stimulus=lab_ids).sel(stimulus=ids)
        return np.asarray(lab.values).astype(str), str(labels.name or "label")
    raise TypeError(
        f"{name}: labels must be None (stimulus ids), a stimulus coordinate name or a "
        f"DataArray over 'stimulus'; got {type(labels).__name__}."
    )


def _samples(
    obj: Any, *, labels: Any, timed: bool, tmin: float | None, tmax: float | None,
    window: float | None, step: float | None, name: str,
) -> _Samples:
    if not isinstance(obj, xr.DataArray):
        raise SchemaError(
            f"{name}: expected responses ('stimulus', 'unit'), repeated responses ('stimulus', "
            f"'repetition', 'unit') or epochs ('stimulus', ['repetition',] 'time', 'unit') as a "
            f"DataArray; got {type(obj).__name__}. Pick one member of a set first, e.g. "
            f"neurorep.data.members(tree)['IT']."
        )
    kind = infer_kind(obj)
    if timed and kind != "epochs":
        raise SchemaError(
            f"{name}: expected epochs with a 'time' dim ('stimulus', ['repetition',] 'time', "
            f"'unit'); got dims {tuple(obj.dims)}. For static responses use "
            f"neurorep.decoding.decode(responses)."
        )
    if kind == "epochs":
        da = check_epochs(obj, name=name)[name]
        if tmin is not None or tmax is not None:
            da = crop_time(da, tmin=tmin, tmax=tmax)
        if window is not None:
            da = bin_time(da, window=window, step=step)
        elif step is not None:
            raise ValueError(f"{name}: step= needs window= (the sliding window length).")
        allowed = [("stimulus", "time", "unit"), ("stimulus", "repetition", "time", "unit")]
    else:
        if any(v is not None for v in (tmin, tmax, window, step)):
            raise SchemaError(
                f"{name}: tmin/tmax/window/step select time, but the responses have no 'time' "
                f"dim (dims {tuple(obj.dims)}); drop them for static responses."
            )
        da = obj
        allowed = [("stimulus", "unit"), ("stimulus", "repetition", "unit")]
    if tuple(da.dims) not in allowed:
        raise SchemaError(
            f"{name}: dims must be one of {allowed}; got {tuple(da.dims)}. Transpose with "
            f"obj.transpose{allowed[-1]!r} or rename the dims."
        )
    if "stimulus" not in da.coords or "unit" not in da.coords:
        raise SchemaError(f"{name}: 'stimulus' and 'unit' need id coordinates.")
    values = np.asarray(da.values)
    if values.dtype.kind not in "fiub" or not np.isfinite(values.astype(np.float64)).all():
        raise SchemaError(
            f"{name}: values must be finite real numbers; got NaN/inf or dtype {values.dtype}. "
            f"Drop or impute missing trials first (e.g. obj.fillna(obj.mean('repetition')))."
        )
    y_stim, label_name = _labels_of(da, labels, name)
    has_rep = "repetition" in da.dims
    order = [d for d in ("stimulus", "repetition", "time", "unit") if d in da.dims]
    x = np.asarray(da.transpose(*order).values, dtype=np.float64)
    n_stim = da.sizes["stimulus"]
    n_rep = da.sizes["repetition"] if has_rep else 1
    if "time" not in da.dims:
        x = x[..., None, :]  # a single "time point"
    if not has_rep:
        x = x[:, None]
    x = x.reshape(n_stim * n_rep, x.shape[-2], x.shape[-1])
    ids = np.asarray(da["stimulus"].values).astype(str)
    reps = np.asarray(da["repetition"].values).astype(str) if has_rep else None
    return _Samples(
        X=x, y=np.repeat(y_stim, n_rep), stimulus=np.repeat(ids, n_rep),
        repetition=np.tile(reps, n_stim) if reps is not None else None,
        time=np.asarray(da["time"].values, dtype=np.float64) if "time" in da.dims else None,
        label_name=label_name,
    )


# ----------------------------------------------------------------------------- folds
def _folds(cv: Any, s: _Samples, y: np.ndarray, idx: np.ndarray, gen: np.random.Generator,
           name: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test positions into ``idx`` (the samples in play)."""
    classes, counts = np.unique(y, return_counts=True)
    if classes.size < 2:
        raise SchemaError(
            f"{name}: decoding needs at least 2 classes; got {classes.tolist()}. Pass labels= a "
            f"stimulus coordinate with 2 or more values."
        )
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        n_splits = check_int("cv", cv, minimum=2, fix="Pass cv=5 (or another whole number >= 2).")
        small = int(np.argmin(counts))
        if counts[small] < n_splits:
            fix = ("keep the repetitions (single trials) so that every stimulus is a class with "
                   "several samples, " if s.repetition is None and s.label_name == "stimulus"
                   else "keep more repetitions (trials) per class, ")
            raise SchemaError(
                f"{name}: class {classes[small]!r} has {counts[small]} sample(s), but cv={n_splits} "
                f"needs at least {n_splits} per class (one in every test fold; a class with one "
                f"sample per fold cannot be both trained and tested). Fix: {fix}decode a coarser "
                f"label (labels='category'), or pass a smaller cv (at most {counts[small]})."
            )
        from sklearn.model_selection import StratifiedKFold

        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True,
                                   random_state=int(gen.integers(2**31 - 1)))
        return [(tr, te) for tr, te in splitter.split(np.zeros((y.size, 1)), y)]
    if isinstance(cv, xr.DataArray):
        if not set(cv.dims) <= {"stimulus", "repetition"} or not cv.dims:
            raise SchemaError(
                f"{name}: cv fold labels must be a DataArray over 'stimulus' and/or 'repetition' "
                f"(aligned by id); got dims {tuple(cv.dims)}."
            )
        lab = []
        for k in idx:
            sel = {"stimulus": s.stimulus[k]}
            if "repetition" in cv.dims:
                if s.repetition is None:
                    raise SchemaError(f"{name}: cv has a 'repetition' dim but the data do not.")
                sel["repetition"] = s.repetition[k]
            try:
                lab.append(cv.sel({d: v for d, v in sel.items() if d in cv.dims}).item())
            except KeyError as err:
                raise SchemaError(
                    f"{name}: the cv fold labels lack {sel}; give a fold for every sample."
                ) from err
        lab_arr = np.asarray(lab)
        folds = [(np.flatnonzero(lab_arr != f), np.flatnonzero(lab_arr == f))
                 for f in np.unique(lab_arr)]
        if len(folds) < 2:
            raise SchemaError(f"{name}: the cv fold labels hold one fold; give at least 2.")
        return folds
    if hasattr(cv, "split"):
        return [(np.asarray(tr), np.asarray(te)) for tr, te in cv.split(np.zeros((y.size, 1)), y)]
    raise TypeError(
        f"{name}: cv must be an int (stratified folds), fold labels over 'stimulus'/'repetition' "
        f"(DataArray), or a scikit-learn splitter; got {type(cv).__name__}."
    )


# ----------------------------------------------------------------------------- kernel
def _scores_from_decision(
    dec: np.ndarray, classes: np.ndarray, y: np.ndarray, scoring: str
) -> np.ndarray:
    """Scores of class scores ``dec`` ``(m, *grid, K)`` for true labels ``y`` ``(m,)``."""
    grid = dec.shape[1:-1]
    yy = y.reshape(-1, *([1] * len(grid)))
    if scoring in ("accuracy", "balanced_accuracy"):
        hit = classes[np.argmax(dec, axis=-1)] == yy
        if scoring == "accuracy":
            return np.asarray(hit.mean(axis=0))
        return np.mean([hit[y == c].mean(axis=0) for c in np.unique(y)], axis=0)
    from sklearn.metrics import roc_auc_score

    flat = dec.reshape(dec.shape[0], -1, dec.shape[-1])
    out = np.empty(flat.shape[1])
    for g in range(flat.shape[1]):
        d = flat[:, g]
        if classes.size == 2:
            out[g] = roc_auc_score(y == classes[1], d[:, 1] - d[:, 0])
        else:
            e = np.exp(d - d.max(axis=1, keepdims=True))
            out[g] = roc_auc_score(y, e / e.sum(axis=1, keepdims=True), multi_class="ovr",
                                   labels=classes)
    return out.reshape(grid)


def _cross_validate(
    X: np.ndarray, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], base: Any,
    scoring: str, generalize: bool,
) -> np.ndarray:
    """``(fold, T)`` scores, or ``(fold, T_train, T_test)`` with ``generalize``.

    ``base=None`` is the default shrinkage LDA, fitted at all time points at once.
    """
    from sklearn.base import clone
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):  # many small products (PERF.md)
        return _cv_loop(X, y, folds, base, scoring, generalize, clone)


def _cv_loop(
    X: np.ndarray, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], base: Any,
    scoring: str, generalize: bool, clone: Any,
) -> np.ndarray:
    n_t = X.shape[1]
    out = np.empty((len(folds), n_t, n_t) if generalize else (len(folds), n_t))
    for f, (tr, te) in enumerate(folds):
        if base is None:
            classes, codes = np.unique(y[tr], return_inverse=True)
            coef, b = lda_fit(X[tr], codes, classes.size)
            dec = lda_decision(coef, b, X[te], generalize=generalize)
            out[f] = _scores_from_decision(dec, classes, y[te], scoring)
            continue
        for t in range(n_t):
            clf = clone(base).fit(X[tr, t], y[tr])
            if not generalize:
                out[f, t] = _score(scoring, clf, X[te, t], y[te])
            elif scoring == "accuracy":  # one predict call for every test time
                p = X.shape[2]
                pred = clf.predict(X[te].reshape(-1, p)).reshape(te.size, n_t)
                out[f, t] = (pred == y[te][:, None]).mean(axis=0)
            else:
                out[f, t] = [_score(scoring, clf, X[te, u], y[te]) for u in range(n_t)]
    return out


def _check_scoring(scoring: str) -> None:
    if scoring not in SCORINGS:
        raise ValueError(f"scoring must be one of {list(SCORINGS)}; got {scoring!r}.")


def _run(
    obj: Any, *, labels: Any, classifier: Any, cv: Any, scoring: str, n_permutations: int,
    alpha: float, tmin: float | None, tmax: float | None, window: float | None,
    step: float | None, rng: Any, generalize: bool, timed: bool, name: str,
) -> xr.Dataset:
    _check_scoring(scoring)
    n_permutations = check_int("n_permutations", n_permutations, minimum=0)
    gen = as_generator(rng)
    s = _samples(obj, labels=labels, timed=timed, tmin=tmin, tmax=tmax, window=window,
                 step=step, name=name)
    base = _classifier(classifier)
    idx = np.arange(s.y.size)
    folds = _folds(cv, s, s.y, idx, gen, name)
    scores = _cross_validate(s.X, s.y, folds, base, scoring, generalize)
    classes = np.unique(s.y)
    chance = SCORINGS[scoring] or 1.0 / classes.size
    fold = np.arange(len(folds))
    if s.time is None:
        grid_dims: tuple[str, ...] = ()
        scores = scores[:, 0]
        coords: dict[str, Any] = {"fold": fold}
    elif generalize:
        grid_dims = ("train_time", "test_time")
        coords = {"fold": fold, "train_time": s.time, "test_time": s.time}
    else:
        grid_dims = ("time",)
        coords = {"fold": fold, "time": s.time}
    out = xr.Dataset(
        {"score": (grid_dims, scores.mean(axis=0)), "fold_score": (("fold", *grid_dims), scores)},
        coords=coords,
    )
    if n_permutations:
        null = np.empty((n_permutations, *out["score"].shape))
        for k in range(n_permutations):
            y_perm = gen.permutation(s.y)  # the folds stay; the labels move
            sc = _cross_validate(s.X, y_perm, folds, base, scoring, generalize).mean(axis=0)
            null[k] = sc[0] if s.time is None else sc
        res = cluster_pvalues(np.asarray(out["score"].values), null, alpha=alpha)
        if s.time is None:  # one score: the permutation p-value is the test
            out["pvalue"] = ((), res["pvalue_uncorrected"])
            out["significant"] = ((), res["pvalue_uncorrected"] < alpha)
        else:
            for key, val in res.items():
                out[key] = (grid_dims, val)
        out["null_distribution"] = (("permutation", *grid_dims), null)
    out["score"].attrs = {"scoring": scoring, "chance": chance}
    out.attrs = {
        "analysis": name, "scoring": scoring, "chance": float(chance),
        "classifier": classifier if isinstance(classifier, str) else repr(classifier),
        "labels": s.label_name, "n_classes": int(classes.size), "n_samples": int(s.y.size),
        "n_folds": len(folds), "n_permutations": n_permutations, "alpha": float(alpha),
    }
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        out.attrs["rng"] = int(rng)
    return out


# ----------------------------------------------------------------------------- public
def decode(
    responses: xr.DataArray,
    *,
    labels: str | xr.DataArray | None = None,
    classifier: Literal["lda", "logistic", "svm", "mlp"] | Any = "lda",
    cv: Any = 5,
    scoring: Literal["accuracy", "balanced_accuracy", "roc_auc"] = "accuracy",
    n_permutations: int = 0,
    alpha: float = 0.05,
    tmin: float | None = None,
    tmax: float | None = None,
    window: float | None = None,
    step: float | None = None,
    rng: np.random.Generator | int | None = None,
) -> xr.Dataset:
    """Cross-validated decoding of stimulus labels, at every time point or from static responses.

    Every trial (``stimulus`` x ``repetition``) is a sample labelled by its
    stimulus id (or ``labels``). Stratified folds are drawn once and used at
    every time point; at each time point a clone of ``classifier`` is fitted
    on the training trials and scored on the held-out trials.

    Parameters
    ----------
    responses : DataArray
        Epochs ``(stimulus, [repetition,] time, unit)`` -- decoding over
        time -- or static responses ``(stimulus, [repetition,] unit)`` (e.g.
        mouse visual cortex responses to natural scenes). Without a
        ``repetition`` dim every stimulus is one sample, so ``labels`` must
        group stimuli (e.g. ``"category"``).
    labels : str, DataArray or None
        What to decode: None (the stimulus ids), the name of a stimulus
        coordinate, or a DataArray over ``stimulus`` (aligned by id).
    classifier : str or scikit-learn classifier
        A key of :data:`CLASSIFIERS` -- ``"lda"`` (LDA with Ledoit-Wolf
        shrinkage, the default), ``"logistic"``, ``"svm"`` (linear) or
        ``"mlp"`` (a small torch network, :class:`TorchMLPClassifier`) -- or
        any scikit-learn classifier instance (cloned per fit).
    cv : int, DataArray or scikit-learn splitter
        Stratified folds (int), fold labels over ``stimulus`` /
        ``repetition`` (e.g. sessions), or a splitter.
    scoring : {"accuracy", "balanced_accuracy", "roc_auc"}
    n_permutations : int
        Label permutations of the whole cross-validation (0: no test).
    alpha : float
        Level for ``significant``.
    tmin, tmax, window, step : float, optional
        Time window, and sliding-window averaging (:func:`neurorep.data.bin_time`).
    rng : Generator, int or None
        Draws the folds and the permutations.

    Returns
    -------
    Dataset
        ``score`` ``(time)`` (``()`` for static responses), the mean over
        folds; ``fold_score`` ``(fold, time)``; with permutations
        ``pvalue`` (cluster p per time point; for static responses the
        permutation p), ``pvalue_uncorrected``, ``cluster``,
        ``significant`` and ``null_distribution``. attrs: ``chance``,
        ``n_classes``, ``classifier``.

    Raises
    ------
    SchemaError
        Wrong dims, NaN, fewer than 2 classes, a class with fewer samples
        than folds, a time window outside the data, irregular time.

    Examples
    --------
    >>> from neurorep import datasets, decoding
    >>> ep = datasets.make_epochs(n_stimuli=8, n_categories=2, n_units=8,
    ...                           regions={"V": (0.1, 0.2)}, snr=2.0, rng=0)
    >>> res = decoding.decode(ep, labels="category", cv=4, rng=0)
    >>> res.score.dims, res.attrs["chance"]
    (('time',), 0.5)
    >>> bool(res.score.sel(time=0.2) > 0.8), bool(res.score.sel(time=slice(None, 0)).mean() < 0.65)
    (True, True)
    """
    return _run(responses, labels=labels, classifier=classifier, cv=cv, scoring=scoring,
                n_permutations=n_permutations, alpha=alpha, tmin=tmin, tmax=tmax, window=window,
                step=step, rng=rng, generalize=False, timed=False, name="decode")


def decode_generalization(
    epochs: xr.DataArray,
    *,
    labels: str | xr.DataArray | None = None,
    classifier: Literal["lda", "logistic", "svm", "mlp"] | Any = "lda",
    cv: Any = 5,
    scoring: Literal["accuracy", "balanced_accuracy", "roc_auc"] = "accuracy",
    n_permutations: int = 0,
    alpha: float = 0.05,
    tmin: float | None = None,
    tmax: float | None = None,
    window: float | None = None,
    step: float | None = None,
    rng: np.random.Generator | int | None = None,
) -> xr.Dataset:
    """Temporal generalisation: train at every time, test at every time (King & Dehaene 2014).

    Same samples, folds and options as :func:`decode`; the classifier fitted
    at ``train_time`` is scored on the held-out trials at every
    ``test_time``. The diagonal equals :func:`decode`'s time course.

    Parameters
    ----------
    epochs : DataArray
        Epochs ``(stimulus, [repetition,] time, unit)``.
    labels, classifier, cv, scoring, n_permutations, alpha, tmin, tmax, window, step, rng
        As in :func:`decode`; the cluster test runs over the time x time
        matrix.

    Returns
    -------
    Dataset
        ``score`` ``(train_time, test_time)``, ``fold_score``; with
        permutations ``pvalue``, ``pvalue_uncorrected``, ``cluster``,
        ``significant``, ``null_distribution``.

    Examples
    --------
    >>> from neurorep import datasets, decoding
    >>> ep = datasets.make_epochs(n_stimuli=8, n_categories=2, n_units=8, tmax=0.4, rng=0)
    >>> decoding.decode_generalization(ep, labels="category", cv=4, rng=0).score.dims
    ('train_time', 'test_time')
    """
    return _run(epochs, labels=labels, classifier=classifier, cv=cv, scoring=scoring,
                n_permutations=n_permutations, alpha=alpha, tmin=tmin, tmax=tmax, window=window,
                step=step, rng=rng, generalize=True, timed=True, name="decode_generalization")


def _pairs(n: int) -> Iterator[tuple[int, int]]:
    for i in range(n):
        for j in range(i + 1, n):
            yield i, j


def decode_rdm(
    responses: xr.DataArray,
    *,
    labels: str | xr.DataArray | None = None,
    classifier: Literal["lda", "logistic", "svm", "mlp"] | Any = "lda",
    cv: Any = 5,
    scoring: Literal["accuracy", "balanced_accuracy", "roc_auc"] = "accuracy",
    tmin: float | None = None,
    tmax: float | None = None,
    window: float | None = None,
    step: float | None = None,
    rng: np.random.Generator | int | None = None,
) -> xr.DataArray:
    """Pairwise-decoding RDM: the cross-validated accuracy of every pair of classes.

    For every pair of classes (stimuli by default) a binary classifier is
    cross-validated on their trials; the accuracy is the dissimilarity
    (chance 0.5; Cichy et al. 2014, Grootswagers et al. 2017). Over time:
    one RDM per time point.

    Parameters
    ----------
    responses : DataArray
        Epochs ``(stimulus, repetition, time, unit)`` or repeated responses
        ``(stimulus, repetition, unit)`` (each class needs at least ``cv``
        trials).
    labels, classifier, cv, scoring, tmin, tmax, window, step, rng
        As in :func:`decode`.

    Returns
    -------
    DataArray
        An RDM in neurorep's schema: ``(time, stimulus_i, stimulus_j)`` (or
        ``(stimulus_i, stimulus_j)`` for static responses) indexed by the
        class labels, zero diagonal; attrs ``metric="decoding_<scoring>"``,
        ``chance``. :func:`neurorep.rsa.compare` accepts it as is.

    Examples
    --------
    >>> from neurorep import datasets, decoding
    >>> ep = datasets.make_epochs(n_stimuli=4, n_categories=2, n_repetitions=6, n_units=6,
    ...                           tmin=0.0, tmax=0.3, rng=0)
    >>> decoding.decode_rdm(ep, cv=3, rng=0).dims
    ('time', 'stimulus_i', 'stimulus_j')
    """
    _check_scoring(scoring)
    gen = as_generator(rng)
    s = _samples(responses, labels=labels, timed=False, tmin=tmin, tmax=tmax, window=window,
                 step=step, name="decode_rdm")
    base = _classifier(classifier)
    classes = np.unique(s.y)
    if classes.size < 2:
        raise SchemaError(f"decode_rdm: need at least 2 classes; got {classes.tolist()}.")
    n_t = s.X.shape[1]
    out = np.zeros((n_t, classes.size, classes.size))
    for i, j in _pairs(classes.size):
        idx = np.flatnonzero((s.y == classes[i]) | (s.y == classes[j]))
        y = s.y[idx]
        folds = _folds(cv, s, y, idx, gen, "decode_rdm")
        sc = _cross_validate(s.X[idx], y, folds, base, scoring, False).mean(axis=0)
        out[:, i, j] = out[:, j, i] = sc
    chance = SCORINGS[scoring] or 0.5
    attrs = {"metric": f"decoding_{scoring}", "chance": float(chance),
             "classifier": classifier if isinstance(classifier, str) else repr(classifier),
             "labels": s.label_name}
    if s.time is None:
        result = rdm(out[0], stimulus=classes.tolist(), metric=f"decoding_{scoring}")
    else:
        result = rdm(out, stimulus=classes.tolist(), metric=f"decoding_{scoring}", dim="time",
                     index=s.time)
    result.attrs.update(attrs)
    return result


def pseudo_population(
    responses: xr.DataArray,
    *,
    n_trials: int | None = None,
    rng: np.random.Generator | int | None = None,
) -> xr.DataArray:
    """A fresh pseudo-population: each unit's trials of each stimulus drawn independently.

    Units recorded in different sessions share no trials; the neural decoding
    toolbox (Meyers 2013) builds pseudo-trials by sampling, for every unit
    and label, ``n_trials`` of that unit's trials without replacement and
    placing them side by side. Here the ``repetition`` slots are shuffled
    independently per (unit, stimulus), which is that draw. Decode several
    draws and average to remove the dependence on one pairing.

    Parameters
    ----------
    responses : DataArray
        Responses ``(stimulus, repetition, [time,] unit)``, units from
        different sessions side by side.
    n_trials : int, optional
        Pseudo-trials per stimulus (default: all repetitions).
    rng : int, Generator or None
        Seed or generator of the random draws (None: fresh entropy).

    Returns
    -------
    DataArray
        Same dims and coords; ``repetition`` = ``pseudo00``, ``pseudo01``...

    Examples
    --------
    >>> from neurorep import datasets, decoding
    >>> ep = datasets.make_epochs(n_repetitions=6, rng=0)
    >>> pp = decoding.pseudo_population(ep, n_trials=4, rng=1)
    >>> pp.sizes["repetition"], bool((pp.mean("repetition") != ep.mean("repetition")).any())
    (4, True)
    """
    if not isinstance(responses, xr.DataArray) or "repetition" not in responses.dims \
            or "unit" not in responses.dims or "stimulus" not in responses.dims:
        got = tuple(responses.dims) if isinstance(responses, xr.DataArray) else \
            type(responses).__name__
        raise SchemaError(
            f"pseudo_population: expected responses with 'stimulus', 'repetition' and 'unit' "
            f"dims (the trials to draw from); got {got}."
        )
    n_rep = responses.sizes["repetition"]
    n = n_rep if n_trials is None else check_int("n_trials", n_trials, minimum=1)
    if n > n_rep:
        raise ValueError(
            f"pseudo_population: n_trials={n} but there are {n_rep} repetitions; pass n_trials "
            f"<= {n_rep}."
        )
    gen = as_generator(rng)
    order = [d for d in responses.dims if d not in ("stimulus", "unit", "repetition")]
    da = responses.transpose("stimulus", "unit", "repetition", *order)
    x = np.asarray(da.values)
    n_s, n_u = x.shape[:2]
    draw = gen.permuted(np.broadcast_to(np.arange(n_rep), (n_s, n_u, n_rep)), axis=-1)[..., :n]
    draw = draw.reshape(n_s, n_u, n, *([1] * len(order)))
    picked = np.take_along_axis(x, draw, axis=2)
    coords = {k: v for k, v in da.coords.items() if "repetition" not in v.dims}
    out = xr.DataArray(picked, dims=da.dims, coords=coords, name=responses.name,
                       attrs=dict(responses.attrs))
    out = out.assign_coords(repetition=[f"pseudo{k:02d}" for k in range(n)])
    return out.transpose(*responses.dims)
