"""Per-layer model activations as an activations DataTree (offline-first).

torch and transformers are optional: they are imported inside the functions
that need them, never by ``import neurorep``.
"""

from neurorep.models._cifar import (
    CIFAR10_CLASSES,
    CIFAR_LAYERS,
    extract_cifar_cnn,
    load_cifar10_cnn,
    load_images,
)
from neurorep.models._extract import (
    KNOWN_MODELS,
    extract_text,
    extract_torch,
    reduce_activations,
    resolve_model,
)

__all__ = [
    "CIFAR10_CLASSES",
    "CIFAR_LAYERS",
    "KNOWN_MODELS",
    "extract_cifar_cnn",
    "extract_text",
    "extract_torch",
    "load_cifar10_cnn",
    "load_images",
    "reduce_activations",
    "resolve_model",
]
