"""A scikit-learn estimator on top of :func:`neurorep.encoding.fit_ridge`."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from neurorep.encoding._cv import make_splits
from neurorep.encoding._inputs import prepare, warn_constant
from neurorep.encoding._ridge import (
    DEFAULT_ALPHAS,
    _check_common,
    _result_dataset,
    check_selection,
    fit_arrays,
    fit_ridge,
)

__all__ = ["RidgeEncoder"]

_DEFAULT_ALPHAS = tuple(DEFAULT_ALPHAS.tolist())


class RidgeEncoder(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """Ridge regression with a cross-validated alpha per target (scikit-learn API).

    A thin estimator over :func:`neurorep.encoding.fit_ridge`: one
    decomposition per fold serves every alpha and every target.

    Parameters
    ----------
    alphas : sequence of float
        Positive penalties to try.
    cv : int, "leave-one-group-out", splitter or splits
        Folds for choosing alpha (``fit(X, y, groups=...)`` keeps groups together).
    scoring : {"r2", "r"}
        Held-out score reported in ``cv_scores_`` and ``best_score_``. Alpha
        is always chosen by held-out squared error (pooled R^2): Pearson r
        cannot see over-shrinkage.
    dtype : {"float32", "float64"}
        Working precision of the large products.
    solver : {"auto", "eigh", "svd", "kernel"}
    chunk_units : int, optional
        Targets per chunk.
    fit_intercept, alpha_per_unit, conservative, ties
        As in :func:`neurorep.encoding.fit_ridge` (himalaya's
        ``fit_intercept``, ``local_alpha``, ``conservative`` and its
        tie-breaking towards the largest alpha).

    Attributes
    ----------
    coef_ : ndarray (n_targets, n_features) or (n_features,)
    intercept_ : ndarray (n_targets,) or float
    alpha_ : ndarray (n_targets,) or float
        Chosen penalty per target (NaN for constant targets).
    cv_scores_ : ndarray (n_alphas, n_targets)
        Held-out ``scoring`` of the pooled out-of-fold predictions per alpha.
    best_score_ : ndarray (n_targets,) or float
    result_ : Dataset
        The full :func:`fit_ridge` result (with xarray inputs, their coords).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.encoding import RidgeEncoder
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 4)); y = X @ [1.0, 0.0, -1.0, 2.0] + 0.1 * rng.normal(size=50)
    >>> est = RidgeEncoder(alphas=[0.01, 1.0, 100.0], cv=5).fit(X, y)
    >>> round(est.score(X, y), 2)
    1.0
    """

    def __init__(
        self,
        alphas: Any = _DEFAULT_ALPHAS,
        *,
        cv: Any = 5,
        scoring: str = "r2",
        dtype: str = "float32",
        solver: str = "auto",
        chunk_units: int | None = None,
        fit_intercept: bool = True,
        alpha_per_unit: bool = True,
        conservative: bool = False,
        ties: str = "smallest",
    ) -> None:
        self.alphas = alphas
        self.cv = cv
        self.scoring = scoring
        self.dtype = dtype
        self.solver = solver
        self.chunk_units = chunk_units
        self.fit_intercept = fit_intercept
        self.alpha_per_unit = alpha_per_unit
        self.conservative = conservative
        self.ties = ties

    def _selection(self) -> dict[str, Any]:
        return {"fit_intercept": self.fit_intercept, "alpha_per_unit": self.alpha_per_unit,
                "conservative": self.conservative, "ties": self.ties}

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def fit(self, X: Any, y: Any, groups: Any = None) -> RidgeEncoder:
        """Fit on features ``X`` (sample, feature) and targets ``y`` (sample,) or (sample, target).

        xarray inputs (DataArray features and responses) are aligned by
        stimulus id; ``groups`` may then name a coordinate (``"run"``).

        Parameters
        ----------
        X : array-like or DataArray
            Features ``(sample, feature)``.
        y : array-like or DataArray
            Targets ``(sample,)`` or ``(sample, target)``.
        groups : array-like or str, optional
            Group (run) per sample for the inner alpha folds, or a coordinate
            name with DataArray inputs.

        Returns
        -------
        RidgeEncoder
            ``self``, fitted: ``coef_``, ``intercept_``, ``alpha_``, ``best_score_``,
            ``cv_scores_`` and the full ``result_`` Dataset.
        """
        alphas, dt = _check_common(self.alphas, self.dtype, self.solver, self.scoring,
                                   self.chunk_units)
        check_selection(**self._selection())
        if isinstance(X, xr.DataArray) and isinstance(y, xr.DataArray):
            res = fit_ridge(
                X, y if y.ndim == 2 else y.expand_dims(unit=["y"], axis=-1), alphas=alphas,
                cv=self.cv, groups=groups, scoring=self.scoring,  # type: ignore[arg-type]
                dtype=self.dtype, solver=self.solver,  # type: ignore[arg-type]
                chunk_units=self.chunk_units, **self._selection(),
            )
            self._set_from_result(res, ravel=y.ndim == 1)
            self.n_features_in_ = int(X.shape[1])
            return self
        if isinstance(X, xr.DataArray):
            X = X.values
        if isinstance(y, xr.DataArray):
            y = y.values
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=np.float64)
        ravel = y.ndim == 1
        Y = y[:, None] if ravel else y
        n = X.shape[0]
        if n < 2:
            raise ValueError(f"RidgeEncoder needs at least 2 samples; got n_samples = {n}.")
        if groups is not None and not isinstance(groups, str):
            groups = np.asarray(groups)
        splits = make_splits(n, self.cv, groups=groups)
        prep = prepare(X, np.asarray(Y, dtype=np.float64))
        out, plan = fit_arrays(
            prep.X, prep.Y, splits, alphas=alphas, solver=self.solver, dtype=dt,
            scoring=self.scoring, chunk_units=self.chunk_units, return_weights=True,
            compute=True, func="RidgeEncoder", **self._selection(),
        )
        warn_constant(int(out["constant"].sum()), out["constant"].size)
        params = {"alphas": alphas.tolist(), "cv": str(self.cv) if isinstance(self.cv, int | str)
                  else type(self.cv).__name__, "n_folds": len(splits), "scoring": self.scoring,
                  "dtype": str(dt), "solver": plan.solver, "grouped": int(groups is not None),
                  **{k: (v if k == "ties" else int(v)) for k, v in self._selection().items()}}
        res = _result_dataset(prep, out, plan, params, True, kind="RidgeEncoder")
        self._set_from_result(res, ravel=ravel)
        return self

    def _set_from_result(self, res: xr.Dataset, *, ravel: bool) -> None:
        coef = np.asarray(res["weights"].values, dtype=np.float64).T
        intercept = np.asarray(res["intercept"].values, dtype=np.float64)
        alpha = np.asarray(res["alpha"].values)
        best = np.asarray(res["score"].values)
        cv = np.asarray((res["cv_r2"] if self.scoring == "r2" else res["cv_r"]).values)
        self.coef_: np.ndarray
        self.intercept_: float | np.ndarray
        self.alpha_: float | np.ndarray
        self.best_score_: float | np.ndarray
        if ravel:
            self.coef_ = coef[0]
            self.intercept_ = float(intercept[0])
            self.alpha_ = float(alpha[0])
            self.best_score_ = float(best[0])
        else:
            self.coef_ = coef
            self.intercept_ = intercept
            self.alpha_ = alpha
            self.best_score_ = best
        self.cv_scores_ = cv
        self.result_ = res

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets ``(sample,)`` or ``(sample, target)`` as a numpy array.

        Parameters
        ----------
        X : array-like or DataArray
            Features ``(sample, feature)``, the fitted features in order.

        Returns
        -------
        ndarray
            ``(sample,)`` for a 1-D ``y`` at fit, else ``(sample, target)``.
        """
        check_is_fitted(self, "coef_")
        if isinstance(X, xr.DataArray):
            X = X.values
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return X @ self.coef_.T + self.intercept_

