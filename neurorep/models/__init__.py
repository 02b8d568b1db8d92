"""Per-layer model activations as an activations DataTree (offline-first).

torch and transformers are optional: they are imported inside the functions
that need them, never by ``import neurorep``.
"""

from neurorep.models._extract import (
    KNOWN_MODELS,
    extract_text,
    extract_torch,
    reduce_activations,
    resolve_model,
)

__all__ = ["KNOWN_MODELS", "extract_text", "extract_torch", "reduce_activations", "resolve_model"]
