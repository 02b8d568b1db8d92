"""Per-layer model activations as an activations DataTree (offline-first).

One registry (:data:`MODELS`, :func:`list_models`, :func:`get_model`) holds
the models that load offline: an ImageNet EfficientNet-Lite0 and a CIFAR-10
CNN for images, MiniLM and the causal SmolLM2-135M for text. Any torch
module works too: :func:`extract_images` hooks layers named by module path
(:func:`list_layers`).

torch and transformers are optional: they are imported inside the functions
that need them, never by ``import neurorep``.
"""

from neurorep.models._cifar import (
    CIFAR10_CLASSES,
    CIFAR_LAYERS,
    CIFAR_PREPROCESS,
    extract_cifar_cnn,
    load_cifar10_cnn,
    load_images,
)
from neurorep.models._efficientnet import (
    EFFICIENTNET_LITE0_LAYERS,
    EFFICIENTNET_LITE0_PREPROCESS,
    imagenet_classes,
    load_efficientnet_lite0,
)
from neurorep.models._extract import (
    KNOWN_MODELS,
    extract_text,
    extract_torch,
    reduce_activations,
    resolve_model,
)
from neurorep.models._images import extract_images, list_layers
from neurorep.models._preprocess import IMAGENET_MEAN, IMAGENET_STD, ImagePreprocess
from neurorep.models._registry import MODELS, ModelEntry, get_model, list_models, load_model

__all__ = [
    "CIFAR10_CLASSES",
    "CIFAR_LAYERS",
    "CIFAR_PREPROCESS",
    "EFFICIENTNET_LITE0_LAYERS",
    "EFFICIENTNET_LITE0_PREPROCESS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "KNOWN_MODELS",
    "MODELS",
    "ImagePreprocess",
    "ModelEntry",
    "extract_cifar_cnn",
    "extract_images",
    "extract_text",
    "extract_torch",
    "get_model",
    "imagenet_classes",
    "list_layers",
    "list_models",
    "load_cifar10_cnn",
    "load_efficientnet_lite0",
    "load_images",
    "load_model",
    "reduce_activations",
    "resolve_model",
]
