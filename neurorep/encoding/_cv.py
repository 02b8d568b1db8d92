"""Cross-validation splits: k-fold, grouped (by run) and leave-one-group-out.

Splits are lists of ``(train, test)`` integer index arrays along the sample
axis (stimulus or time). With ``groups`` (e.g. the ``run`` of each volume) no
group is ever on both sides of a split, so time series cannot leak between
training and test data through autocorrelation within a run.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["CV_OPTIONS", "fold_labels", "make_splits"]

#: String values accepted by ``cv=`` (besides an int, a splitter or explicit splits).
CV_OPTIONS = ("leave-one-group-out",)


def _kfold(n: int, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Contiguous folds, sizes differing by at most one (scikit-learn's KFold order)."""
    sizes = np.full(k, n // k)
    sizes[: n % k] += 1
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    idx = np.arange(n)
    return [
        (np.concatenate([idx[: bounds[i]], idx[bounds[i + 1] :]]), idx[bounds[i] : bounds[i + 1]])
        for i in range(k)
    ]


def _group_kfold(groups: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Whole groups per fold, contiguous in order of first appearance."""
    _, first = np.unique(groups, return_index=True)
    order = groups[np.sort(first)]
    folds = np.array_split(order, k)
    idx = np.arange(len(groups))
    out = []
    for fold_groups in folds:
        test_mask = np.isin(groups, fold_groups)
        out.append((idx[~test_mask], idx[test_mask]))
    return out


def fold_labels(cv: Any, n: int, *, name: str = "cv") -> np.ndarray | None:
    """``cv`` as one fold label per sample when it is a 1-D sequence of labels, else None.

    A list, tuple, array, pandas or xarray object of scalars is read as fold labels
    (scikit-learn's ``PredefinedSplit`` without its -1): each distinct label is one test
    fold. Sequences of ``(train, test)`` pairs are not labels and give None.
    """
    if not isinstance(cv, list | tuple | np.ndarray) and not hasattr(cv, "__array__"):
        return None
    if isinstance(cv, list | tuple) and not all(np.isscalar(v) for v in cv):
        return None  # (train, test) pairs
    labels = np.asarray(cv)
    if labels.ndim != 1 or labels.dtype.kind not in "iuUSO":
        if labels.ndim == 1 and labels.dtype.kind in "bf":
            raise ValueError(
                f"{name}: fold labels must be ints or strings (one per sample); got dtype "
                f"{labels.dtype}. Pass e.g. np.arange(n) % 5, or integer indices as "
                f"(train, test) pairs."
            )
        return None
    if labels.shape[0] != n:
        raise ValueError(
            f"{name}: fold labels must give one label per sample ({n}); got {labels.shape[0]}. "
            f"Pass one fold label for each sample, in the features' order."
        )
    return labels


def make_splits(
    n: int,
    cv: Any = 5,
    *,
    groups: np.ndarray | None = None,
    name: str = "cv",
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Resolve ``cv`` into explicit ``(train, test)`` index arrays and check them.

    Parameters
    ----------
    n : int
        Number of samples.
    cv : int, "leave-one-group-out", fold labels, scikit-learn splitter, or iterable of (train, test)
        An int ``k`` gives ``k`` contiguous folds (no shuffling: neighbouring
        samples of a time series stay together), or -- with ``groups`` --
        ``k`` folds of whole groups. ``"leave-one-group-out"`` holds out one
        group (one run) at a time. Fold labels (a 1-D sequence of ints or
        strings, one per sample) hold out each distinct label in turn.
    groups : ndarray (n,), optional
        Group label per sample (e.g. run). Splits that put one group on both
        sides raise an error.
    name : str, optional
        The argument's name in error messages (default ``"cv"``).

    Returns
    -------
    list of tuple
        ``(train, test)`` pairs of sorted int index arrays, one per fold.

    Raises
    ------
    ValueError
        Fewer samples (or groups) than folds, empty or overlapping folds,
        indices out of range, or a group on both sides of a split.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.encoding import make_splits
    >>> [test.tolist() for _, test in make_splits(6, 3)]
    [[0, 1], [2, 3], [4, 5]]
    >>> runs = np.repeat([0, 1, 2], 2)
    >>> [test.tolist() for _, test in make_splits(6, "leave-one-group-out", groups=runs)]
    [[0, 1], [2, 3], [4, 5]]
    >>> [test.tolist() for _, test in make_splits(4, ["b", "a", "b", "a"])]
    [[1, 3], [0, 2]]
    """
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != (n,):
            raise ValueError(
                f"groups must have one label per sample ({n}); got shape {groups.shape}."
            )
    if isinstance(cv, bool):
        raise ValueError(f"{name} must be an int >= 2, {list(CV_OPTIONS)}, a splitter or splits; got {cv!r}.")
    if isinstance(cv, int | np.integer):
        k = int(cv)
        if k < 2:
            raise ValueError(f"{name} must be at least 2 folds; got {k}.")
        if groups is not None:
            n_groups = len(np.unique(groups))
            if n_groups < k:
                raise ValueError(
                    f"{name}={k} folds need at least {k} groups; got {n_groups} "
                    f"(groups {np.unique(groups)[:5].tolist()}...). Use fewer folds or "
                    f"cv='leave-one-group-out'."
                )
            splits = _group_kfold(groups, k)
        else:
            if n < k:
                raise ValueError(
                    f"{name}={k} folds need at least {k} samples; got {n}. Use fewer folds "
                    f"(cv=2..{max(n, 2)}) or more samples."
                )
            splits = _kfold(n, k)
    elif isinstance(cv, str):
        if cv not in CV_OPTIONS:
            raise ValueError(
                f"{name} must be an int, one of {list(CV_OPTIONS)}, a splitter or splits; got {cv!r}."
            )
        if groups is None:
            raise ValueError(
                f"{name}='leave-one-group-out' needs groups (e.g. groups='run'); got groups=None."
            )
        labels = np.unique(groups)
        if len(labels) < 2:
            raise ValueError(f"{name}='leave-one-group-out' needs at least 2 groups; got {len(labels)}.")
        idx = np.arange(n)
        splits = [(idx[groups != g], idx[groups == g]) for g in labels]
    elif (fold_of := fold_labels(cv, n, name=name)) is not None:
        folds = np.unique(fold_of)
        if len(folds) < 2:
            raise ValueError(f"{name}: fold labels need at least 2 distinct folds; got {len(folds)}.")
        idx = np.arange(n)
        splits = [(idx[fold_of != f], idx[fold_of == f]) for f in folds]
    elif hasattr(cv, "split"):
        dummy = np.zeros((n, 1))
        splits = [(np.asarray(tr), np.asarray(te)) for tr, te in cv.split(dummy, None, groups)]
    elif isinstance(cv, Iterable):
        splits = [(np.asarray(tr), np.asarray(te)) for tr, te in cv]
    else:
        raise ValueError(
            f"{name} must be an int, one of {list(CV_OPTIONS)}, a scikit-learn splitter or an "
            f"iterable of (train, test) index arrays; got {type(cv).__name__}."
        )
    return _check_splits(splits, n, groups, name)


def _check_splits(
    splits: list[tuple[np.ndarray, np.ndarray]], n: int, groups: np.ndarray | None, name: str
) -> list[tuple[np.ndarray, np.ndarray]]:
    if not splits:
        raise ValueError(f"{name} produced no split.")
    out = []
    for i, (train, test) in enumerate(splits):
        for label, arr in (("train", train), ("test", test)):
            if arr.dtype == bool:
                raise ValueError(f"{name} split {i}: {label} must be integer indices, not a mask.")
            if arr.ndim != 1 or arr.size == 0:
                raise ValueError(f"{name} split {i}: {label} indices are empty or not 1-D.")
            if arr.min() < 0 or arr.max() >= n:
                raise ValueError(
                    f"{name} split {i}: {label} indices must lie in [0, {n}); got "
                    f"[{arr.min()}, {arr.max()}]."
                )
        train = np.unique(train.astype(np.intp))
        test = np.unique(test.astype(np.intp))
        if np.intersect1d(train, test).size:
            raise ValueError(f"{name} split {i}: train and test share samples.")
        if len(train) < 2:
            raise ValueError(f"{name} split {i}: needs at least 2 training samples; got {len(train)}.")
        if groups is not None:
            leak = np.intersect1d(groups[train], groups[test])
            if leak.size:
                raise ValueError(
                    f"{name} split {i}: group(s) {leak[:5].tolist()} are in both train and test; "
                    f"with groups (runs) every group must lie on one side. Use cv=k or "
                    f"cv='leave-one-group-out' with groups=."
                )
        out.append((train, test))
    return out
