"""Embedded sentences for the offline demo (generated from templates, no download)."""

from __future__ import annotations

_SUBJECTS = [
    "The old fisherman", "A young doctor", "My neighbour's dog", "The tired pilot",
    "A curious child", "The city council", "An orchestra violinist", "The night nurse",
]
_EVENTS = [
    "repaired the broken fence", "read a long letter", "watched the storm roll in",
    "cooked a spicy soup", "lost the keys to the car",
]
_SETTINGS = [
    "before sunrise", "in the crowded market", "after the heavy rain",
    "during the quiet holiday", "near the frozen lake",
]

DEMO_SENTENCES: list[str] = [
    f"{s} {e} {w}." for s in _SUBJECTS for e in _EVENTS for w in _SETTINGS
]
