"""A small torch multilayer perceptron with the scikit-learn classifier interface.

torch is optional: it is imported inside :meth:`TorchMLPClassifier.fit`, and a
missing torch raises an ImportError that names the install and the linear
alternatives.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from neurorep._core.errors import check_int
from neurorep._core.rng import as_generator

__all__ = ["TorchMLPClassifier"]


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "TorchMLPClassifier (classifier='mlp') needs torch, which is not installed. Install "
            "the CPU build with pip install 'neurorep[models]' (torch==2.13.0), or decode with a "
            "linear classifier: classifier='lda' (the default), 'logistic' or 'svm'."
        ) from err
    return torch


class TorchMLPClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A one-hidden-layer (or deeper) ReLU network trained with Adam on the full batch.

    Inputs are z-scored with the training mean and standard deviation; the
    loss is cross-entropy with L2 weight decay. Weights are initialised from
    a ``torch.Generator`` seeded by ``rng`` (no global torch seed is set), so
    two fits with the same ``rng`` give the same network.

    Parameters
    ----------
    hidden : tuple of int
        Widths of the hidden layers.
    n_epochs : int
        Full-batch Adam steps.
    learning_rate : float
        Adam step size.
    weight_decay : float
        L2 penalty (Adam's ``weight_decay``).
    rng : Generator, int or None
        Seed of the weight initialisation.

    Attributes
    ----------
    classes_ : ndarray
        The class labels seen in ``fit``.
    loss_ : float
        Training loss after the last epoch.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorep.decoding import TorchMLPClassifier
    >>> g = np.random.default_rng(0)
    >>> X = g.normal(size=(60, 4)); y = (X[:, 0] * X[:, 1] > 0).astype(int)  # XOR-like
    >>> clf = TorchMLPClassifier(hidden=(32,), n_epochs=300, rng=0).fit(X, y)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    def __init__(
        self,
        hidden: tuple[int, ...] = (64,),
        *,
        n_epochs: int = 200,
        learning_rate: float = 0.01,
        weight_decay: float = 1e-3,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        self.hidden = hidden
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.rng = rng

    def fit(self, X: Any, y: Any) -> TorchMLPClassifier:
        """Train on ``X`` ``(n_samples, n_features)`` and labels ``y``; returns self.

        Parameters
        ----------
        X : array-like
            Training samples ``(n_samples, n_features)``.
        y : array-like
            Class labels ``(n_samples,)`` (any hashable values).

        Returns
        -------
        TorchMLPClassifier
            ``self``, fitted (``classes_`` holds the sorted labels).
        """
        torch = _import_torch()
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"TorchMLPClassifier: X must be 2-D (samples, features); got {X.shape}.")
        n_epochs = check_int("n_epochs", self.n_epochs, minimum=1)
        widths = [check_int("hidden", int(h) if isinstance(h, np.integer) else h, minimum=1)
                  for h in self.hidden]
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(
                f"TorchMLPClassifier: y needs at least 2 classes; got {self.classes_.tolist()}."
            )
        self.mean_ = X.mean(axis=0)
        sd = X.std(axis=0)
        self.scale_ = np.where(sd > 0, sd, 1.0)
        seed = int(as_generator(self.rng).integers(2**63 - 1))
        gen = torch.Generator().manual_seed(seed)
        sizes = [X.shape[1], *widths, self.classes_.size]
        params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            w = torch.randn(fan_in, fan_out, generator=gen, dtype=torch.float64)
            w *= float(np.sqrt(2.0 / fan_in))
            params += [w.requires_grad_(), torch.zeros(fan_out, dtype=torch.float64,
                                                       requires_grad=True)]
        xt = torch.from_numpy((X - self.mean_) / self.scale_)
        yt = torch.from_numpy(codes.astype(np.int64))
        opt = torch.optim.Adam(params, lr=float(self.learning_rate),
                               weight_decay=float(self.weight_decay))
        loss = None
        for _ in range(n_epochs):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(self._forward(torch, params, xt), yt)
            loss.backward()
            opt.step()
        self.params_ = [p.detach() for p in params]
        self.loss_ = float(loss.item()) if loss is not None else float("nan")
        return self

    @staticmethod
    def _forward(torch: Any, params: list[Any], x: Any) -> Any:
        for k in range(0, len(params) - 2, 2):
            x = torch.relu(x @ params[k] + params[k + 1])
        return x @ params[-2] + params[-1]

    def decision_function(self, X: Any) -> np.ndarray:
        """Class logits ``(n_samples, n_classes)`` (binary: the logit difference).

        Parameters
        ----------
        X : array-like
            Samples ``(n_samples, n_features)``.

        Returns
        -------
        ndarray
            ``(n_samples, n_classes)`` logits, or ``(n_samples,)`` for two
            classes (class 1 minus class 0).
        """
        torch = _import_torch()
        X = (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_
        with torch.no_grad():
            out = self._forward(torch, self.params_, torch.from_numpy(X)).numpy()
        return out[:, 1] - out[:, 0] if out.shape[1] == 2 else out

    def predict_proba(self, X: Any) -> np.ndarray:
        """Softmax class probabilities ``(n_samples, n_classes)``.

        Parameters
        ----------
        X : array-like
            Samples ``(n_samples, n_features)``.

        Returns
        -------
        ndarray
            ``(n_samples, n_classes)``, rows summing to 1, columns in the
            order of ``classes_``.
        """
        torch = _import_torch()
        X = (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_
        with torch.no_grad():
            logits = self._forward(torch, self.params_, torch.from_numpy(X))
            return torch.softmax(logits, dim=1).numpy()

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of every row of ``X``.

        Parameters
        ----------
        X : array-like
            Samples ``(n_samples, n_features)``.

        Returns
        -------
        ndarray
            ``(n_samples,)`` labels from ``classes_``.
        """
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
