"""The score names of every family (docs/glossary.md), defined once."""

from __future__ import annotations

__all__ = ["SCORES"]

#: Pearson correlation ("r") and coefficient of determination ("r2") of held-out
#: predictions: the names every ``metric=`` / ``scoring=`` of neurorep accepts.
SCORES: tuple[str, ...] = ("r", "r2")
