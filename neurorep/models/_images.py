"""Per-layer activations of any torch image model for image files, PIL images or arrays."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurorep._core.errors import NeurorepWarning
from neurorep.data import activations, load
from neurorep.models._hooks import (
    MemorySink,
    ZarrSink,
    callable_key,
    module_layers,
    run_hooks,
    unit_ids,
    weights_digest,
)
from neurorep.models._preprocess import (
    ImagePreprocess,
    as_image_list,
    check_paths,
    conversion_message,
    default_ids,
    to_rgb,
)

Pooling = Literal["flatten", "mean", "max", "grid"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (progress bars are on by default there)."""
    import sys

    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _image_digest(images: Sequence[Any]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for im in images:
        if isinstance(im, str | os.PathLike):
            with open(im, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        elif isinstance(im, np.ndarray):
            h.update(f"array:{im.dtype}:{im.shape}".encode())
            h.update(np.ascontiguousarray(im).tobytes())
        else:  # PIL image
            h.update(f"pil:{im.mode}:{im.size}".encode())
            h.update(im.tobytes())
        h.update(b"|")
    return h.hexdigest()


def _batches(
    images: Sequence[Any],
    ids: Sequence[str],
    preprocess: Callable[[Any], Any],
    batch_size: int,
    notes: dict[str, list[str]],
    progress: bool,
    desc: str,
) -> Iterator[tuple[slice, Any]]:
    import torch

    starts = range(0, len(images), batch_size)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(images), desc=desc, unit="img")
    shape = None
    try:
        for start in starts:
            stop = min(start + batch_size, len(images))
            arrays = []
            for i in range(start, stop):
                label = f"{ids[i]!r}"
                rgb, note = to_rgb(images[i], label)
                if note:
                    notes.setdefault(note, []).append(str(ids[i]))
                x = preprocess(rgb)
                x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
                if shape is None:
                    shape = x.shape
                elif x.shape != shape:
                    raise ValueError(
                        f"preprocess gave image {label} the shape {x.shape}, but the first image "
                        f"{shape}; the preprocessing must give every image the same size "
                        f"(resize them, e.g. ImagePreprocess(size=224))."
                    )
                arrays.append(x)
            yield slice(start, stop), torch.from_numpy(np.stack(arrays).astype(np.float32, copy=False))
            if bar is not None:
                bar.update(stop - start)
    finally:
        if bar is not None:
            bar.close()


def _resolve(model: Any, layers: Any, preprocess: Any) -> tuple[Any, str, list[str], Any]:
    """(module, model name, layers, preprocess) for a registry name or a torch module."""
    if isinstance(model, str):
        from neurorep.models._registry import get_model

        entry = get_model(model)
        if entry.modality != "image":
            raise ValueError(
                f"extract_images: {entry.name!r} is a {entry.modality} model; use extract_text for it."
            )
        module = entry.load()
        return (
            module,
            entry.name,
            list(layers) if layers is not None else list(entry.layers),
            preprocess if preprocess is not None else entry.preprocess,
        )
    try:
        import torch
    except ImportError as err:  # pragma: no cover - torch is in the models extra
        raise ImportError("extract_images needs torch: pip install 'neurorep[models]'") from err
    if not isinstance(model, torch.nn.Module):
        raise TypeError(
            f"extract_images: model must be a torch.nn.Module or a registered model name "
            f"(list_models()); got {type(model).__name__}."
        )
    if layers is None:
        names = module_layers(model)
        raise ValueError(
            f"extract_images: name the layers to keep, layers=[...] (module paths; "
            f"list_layers(model) lists all {len(names)}, e.g. {names[:8]})."
        )
    return model, type(model).__name__, list(layers), preprocess if preprocess is not None else ImagePreprocess()


def extract_images(
    model: Any,
    images: Any,
    *,
    layers: Sequence[str] | None = None,
    pooling: Pooling | Callable[[Any], Any] = "flatten",
    grid_size: int = 2,
    preprocess: Callable[[Any], Any] | None = None,
    stimulus: Sequence[str] | np.ndarray | None = None,
    batch_size: int = 32,
    progress: bool | None = None,
    cache_dir: str | Path | None = None,
) -> xr.DataTree:
    """Activations of named layers of a torch image model, one node per layer.

    Parameters
    ----------
    model : str or torch.nn.Module
        A registered model (``"efficientnet-lite0"``, ``"cifar10-cnn"``; see
        :func:`list_models`), which brings its own weights, preprocessing and
        default layers, or any ``torch.nn.Module`` (torchvision, timm,
        open_clip's ``visual``...) with weights you have.
    images : sequence, path or ndarray
        File paths, PIL images or arrays, a folder, or an ``(n, H, W, C)`` array.
        One image per stimulus. Arrays are ``(H, W)`` or ``(H, W, 1|3|4)``:
        uint8 (0..255), uint16 (0..65535), bool, or float in 0..1. Grayscale,
        RGBA (alpha dropped), palette, CMYK, 16-bit and float images are
        converted to 8-bit RGB, and one warning says which. A folder gives its
        image files in sorted order.
    layers : sequence of str, optional
        Module paths from ``model.named_modules()`` (:func:`list_layers`);
        default: the registered model's layer list (required for a plain module).
    pooling : {"flatten", "mean", "max", "grid"} or callable
        How a ``(batch, channel, height, width)`` map becomes one row per
        image: every value (``flatten``), the global average or maximum per
        channel (``mean``, ``max``), or the average over a coarse
        ``grid_size`` x ``grid_size`` grid per channel (``grid``). ``(batch,
        units)`` outputs are kept as they are. A callable maps the layer's
        output tensor to ``(batch, units)`` (e.g. ``lambda t: t[:, 0]`` for a
        ViT's class token).
    grid_size : int
        Grid cells per side for ``pooling="grid"`` (capped at the map's size).
    preprocess : callable, optional
        PIL RGB image -> ``(3, H, W)`` array or tensor. Default: the registered
        model's own, or :class:`ImagePreprocess` (224 x 224, ImageNet mean and
        std) for a plain module. torchvision / timm / open_clip transforms fit.
    stimulus : sequence of str, optional
        Stimulus ids, one per image. Default: file names without suffix for
        paths (they must be unique), ``img0000``... otherwise.
    batch_size : int
        Images per forward pass.
    progress : bool, optional
        Show a progress bar (tqdm.auto); default on in Jupyter, off elsewhere.
    cache_dir : path, optional
        Keep the result as zarr under this folder, keyed by a hash of the
        weights, the image contents, the ids, the layers, the pooling and the
        preprocessing. Layers are written batch by batch as they are computed,
        so memory stays at one batch; the returned tree reads its values
        from the cache lazily (dask; ``.load()`` brings them into memory). A
        second call with the same inputs reads the cache without running the model.

    Returns
    -------
    DataTree
        One node per layer (named by its module path, in the given order),
        each ``activations (stimulus, unit)`` float32 with per-unit
        ``channel``, ``y``, ``x`` coords for pooled conv maps; node attrs
        ``layer`` and ``depth`` (a pseudo-depth: the fraction of the network's
        leaf-module calls done when the layer's output exists, 0 near the
        input, 1 at the last module); an ``image`` stimulus coord with the file
        paths; root attrs ``model``, ``pooling``, ``preprocess`` and ``weights``
        (a hash of the parameters).

    Raises
    ------
    FileNotFoundError, OSError
        A missing or unreadable image file (the error names its path).
    KeyError
        A layer the model does not have (the error lists the valid ones).
    ValueError
        Images and stimulus ids of different lengths; images the preprocessing
        brings to different sizes; a pooling that does not fit a layer.

    Notes
    -----
    The model runs in eval mode under ``torch.no_grad``; a model in training
    mode is switched to eval mode and restored afterwards. A probe pass on
    the first two images sizes every layer first (those two run twice); then
    each hooked output is pooled and copied into the result inside its hook,
    so the network frees it as it would without hooks. In memory, the result
    is about as large as a plain hook loop's; with ``cache_dir`` only one
    batch is held (``benchmarks/bench_extract.py``). A module that runs more
    than once per forward pass (one activation module shared by all blocks)
    cannot be hooked and raises an error.

    Examples
    --------
    >>> from neurorep.models import extract_images
    >>> acts = extract_images("efficientnet-lite0", ["cat.jpg", "dog.jpg"],
    ...                       layers=["_blocks.4", "_fc"], pooling="mean")  # doctest: +SKIP
    >>> acts["_fc"].ds["activations"].shape  # doctest: +SKIP
    (2, 1000)
    """
    if isinstance(layers, str):
        raise TypeError(
            f"extract_images: layers must be a list of names; got the string {layers!r}. Use [{layers!r}]."
        )
    imgs = as_image_list(images)
    ids = [str(s) for s in stimulus] if stimulus is not None else default_ids(imgs)
    if len(ids) != len(imgs):
        raise ValueError(
            f"extract_images: {len(imgs)} images but {len(ids)} stimulus ids; give one id per image."
        )
    if len(set(ids)) != len(ids):
        dup = sorted({k for k in ids if ids.count(k) > 1})[:5] if len(ids) < 10_000 else "some"
        raise ValueError(f"extract_images: stimulus ids must be unique; repeated: {dup}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; got {batch_size!r}.")
    check_paths(imgs)
    module, name, layer_list, prep = _resolve(model, layers, preprocess)
    pool_desc = callable_key(pooling) if callable(pooling) else str(pooling)
    root_attrs: dict[str, Any] = {
        "pooling": pool_desc if not callable(pooling) else f"callable {pool_desc[:200]}",
        "preprocess": repr(prep) if not hasattr(prep, "__code__") else callable_key(prep)[:200],
    }
    if pooling == "grid":
        root_attrs["grid_size"] = int(grid_size)
    stim_coords: dict[str, Any] = {}
    if all(isinstance(im, str | os.PathLike) for im in imgs):
        stim_coords["image"] = np.array([str(im) for im in imgs])
    digest = weights_digest(module)
    root_attrs["weights"] = digest
    show = in_notebook() if progress is None else bool(progress)
    notes: dict[str, list[str]] = {}
    batches = _batches(imgs, ids, prep, int(batch_size), notes, show, f"extract {name}")

    cache_path = None
    if cache_dir is not None:
        key = hashlib.sha256(
            json.dumps(
                {
                    "weights": digest,
                    "images": _image_digest(imgs),
                    "ids": ids,
                    "layers": layer_list,
                    "pooling": pool_desc,
                    "grid_size": int(grid_size),
                    "preprocess": callable_key(prep),
                },
                sort_keys=True,
            ).encode()
        ).hexdigest()[:16]
        cache_path = Path(cache_dir) / f"{Path(name).name}-{key}.zarr"
        if cache_path.exists():
            return load(cache_path, chunks={})
        zarr_sink = ZarrSink(cache_path, len(imgs), int(batch_size), stim_coords, ids)
        zarr_sink.root_attrs = {"model": name, **root_attrs}
        sink: MemorySink | ZarrSink = zarr_sink
    else:
        sink = MemorySink(len(imgs))
    try:
        infos = run_hooks(
            module, batches, layer_list, pooling=pooling, grid_size=int(grid_size), sink=sink,
            func="extract_images",
        )
    except BaseException:
        if isinstance(sink, ZarrSink):
            sink.abort()
        raise
    if notes:
        warnings.warn(conversion_message(notes, len(imgs)), NeurorepWarning, stacklevel=2)
    if isinstance(sink, ZarrSink):
        sink.finish()
        return load(sink.path, chunks={})
    return build_tree(sink.arrays, infos, ids, stim_coords, name, root_attrs)


def build_tree(
    arrays: dict[str, np.ndarray],
    infos: dict[str, Any],
    ids: Sequence[str],
    stim_coords: dict[str, Any],
    name: str,
    root_attrs: dict[str, Any],
) -> xr.DataTree:
    """The activations DataTree from per-layer arrays (emptied as it goes: no second copy)."""
    layer_list = list(infos)
    # one id array for every layer: the shorter layers take a prefix of it
    n_max = max(info.n_units for info in infos.values())
    units = unit_ids(n_max)
    stim: dict[str, Any] = {"stimulus": np.asarray(ids, dtype=str)}
    stim.update({k: ("stimulus", v) for k, v in stim_coords.items()})
    members = {}
    for layer in layer_list:
        info = infos[layer]
        coords: dict[str, Any] = {**stim, "unit": units[: info.n_units]}
        coords.update({k: ("unit", v) for k, v in info.coords.items()})
        members[layer] = xr.DataArray(
            arrays.pop(layer), dims=("stimulus", "unit"), coords=coords, name="activations"
        )
    return activations(
        members, model=name, depth={k: infos[k].depth for k in layer_list}, attrs=root_attrs
    )


def list_layers(model: Any) -> list[str]:
    """Names of the layers a model's activations can be taken from.

    Parameters
    ----------
    model : str or torch.nn.Module
        A registered model name (:func:`list_models`) or any torch module.

    Returns
    -------
    list of str
        For a torch module (or a registered image model): every submodule's
        path in ``named_modules`` order, to pass as ``layers=`` to
        :func:`extract_images`. For a registered text model: the hidden-state
        names :func:`extract_text` returns.

    Examples
    --------
    >>> import torch
    >>> from neurorep.models import list_layers
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())
    >>> list_layers(net)
    ['0', '1']
    """
    if isinstance(model, str):
        from neurorep.models._registry import get_model

        entry = get_model(model)
        if entry.modality == "text":
            return list(entry.layers)
        model = entry.load()
    return module_layers(model)
