"""Images in, ``(3, H, W)`` float32 arrays out: reading, RGB conversion, resizing, normalisation."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from neurorep._core.errors import check_option

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
_RESAMPLE = ("nearest", "bilinear", "bicubic", "lanczos")


@dataclass(frozen=True)
class ImagePreprocess:
    """Resize an RGB image and normalise it: ``(pixel * scale - mean) / std``, channels first.

    Parameters
    ----------
    size : int or (height, width)
        Output size in pixels; an int gives a square image.
    resample : {"nearest", "bilinear", "bicubic", "lanczos"}
        PIL resampling filter.
    scale : float
        Multiplies the 0..255 pixel values before ``mean`` and ``std`` apply
        (``1/255`` for the torchvision convention, ``1.0`` for models that
        take 0..255 values).
    mean, std : three floats
        Per-channel (R, G, B) mean and standard deviation.
    crop : float
        Fraction of the shorter side kept by a central square crop before
        resizing (``1.0``: no crop; ``0.875`` is the 224-of-256 crop of
        ImageNet evaluation). Stimulus images are usually framed on purpose,
        so the default keeps the whole image.

    Examples
    --------
    >>> import numpy as np
    >>> from PIL import Image
    >>> from neurorep.models import ImagePreprocess
    >>> prep = ImagePreprocess(size=8)
    >>> prep(Image.fromarray(np.zeros((20, 30, 3), np.uint8))).shape
    (3, 8, 8)
    """

    size: int | tuple[int, int] = 224
    resample: Literal["nearest", "bilinear", "bicubic", "lanczos"] = "bilinear"
    scale: float = 1 / 255
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    crop: float = 1.0

    def __post_init__(self) -> None:
        check_option("resample", self.resample, _RESAMPLE)
        if not 0 < self.crop <= 1:
            raise ValueError(f"crop must be in (0, 1]; got {self.crop!r}.")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(
                f"mean and std must be three values (R, G, B) with std > 0; got mean={self.mean}, "
                f"std={self.std}."
            )

    def __call__(self, image: Any) -> np.ndarray:
        from PIL import Image

        if self.crop < 1:
            w, h = image.size
            side = max(1, int(round(min(w, h) * self.crop)))
            left, top = (w - side) // 2, (h - side) // 2
            image = image.crop((left, top, left + side, top + side))
        height, width = (self.size, self.size) if isinstance(self.size, int) else self.size
        filt = getattr(Image.Resampling, self.resample.upper())
        pixels = np.asarray(image.resize((width, height), filt), dtype=np.float32)
        out = (pixels * np.float32(self.scale) - np.asarray(self.mean, np.float32)) / np.asarray(
            self.std, np.float32
        )
        return np.ascontiguousarray(out.transpose(2, 0, 1), dtype=np.float32)


ImageLike = Any  # str | os.PathLike | PIL.Image.Image | np.ndarray


def as_image_list(images: Any) -> list[Any]:
    """A list of single images from a folder, a sequence or a 4-D ``(n, H, W, C)`` array."""
    if isinstance(images, str | os.PathLike):
        folder = Path(images)
        if folder.is_dir():
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise FileNotFoundError(
                    f"images: the folder {str(folder)!r} holds no image files ({', '.join(IMAGE_SUFFIXES)})."
                )
            return files
        raise TypeError(
            f"images: got the single path {str(images)!r}; pass a list of image files or a folder "
            f"of images."
        )
    if isinstance(images, np.ndarray):
        if images.ndim == 4:
            return list(images)
        raise ValueError(
            f"images: a single array must be a 4-D stack (n, height, width, channels); got shape "
            f"{images.shape}. Pass a list for one image: [image]."
        )
    try:
        out = list(images)
    except TypeError as err:
        raise TypeError(
            f"images must be a list of file paths, PIL images or arrays (or a folder); got "
            f"{type(images).__name__}."
        ) from err
    if not out:
        raise ValueError("images: got no images.")
    return out


def default_ids(images: Sequence[Any]) -> list[str]:
    """Stimulus ids: file stems for paths, ``img0000``... for other images; must be unique."""
    ids = [
        Path(im).stem if isinstance(im, str | os.PathLike) else f"img{i:04d}"
        for i, im in enumerate(images)
    ]
    if len(set(ids)) != len(ids):
        seen: dict[str, int] = {}
        for i, k in enumerate(ids):
            if k in seen:
                raise ValueError(
                    f"images: stimulus ids from file names are not unique ({k!r} for "
                    f"{str(images[seen[k]])!r} and {str(images[i])!r}); pass stimulus= with one id "
                    f"per image."
                )
            seen[k] = i
    return ids


def check_paths(images: Sequence[Any]) -> None:
    """Raise FileNotFoundError naming the first path that is not a file."""
    for im in images:
        if isinstance(im, str | os.PathLike) and not Path(im).is_file():
            raise FileNotFoundError(f"images: no image file at {str(im)!r}.")


def _from_array(arr: np.ndarray, label: str) -> tuple[Any, str | None]:
    from PIL import Image

    note = None
    if arr.ndim == 3 and arr.shape[-1] not in (1, 3, 4) and arr.shape[0] in (1, 3, 4):
        raise ValueError(
            f"image {label}: shape {arr.shape} looks channels-first; images are (height, width) or "
            f"(height, width, channels). Pass np.moveaxis(image, 0, -1)."
        )
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (1, 3, 4)):
        raise ValueError(
            f"image {label}: expected (height, width) or (height, width, 1|3|4) values; got shape "
            f"{arr.shape}."
        )
    if arr.dtype == np.uint8:
        pass
    elif arr.dtype == np.uint16:
        arr = np.round(arr / 257.0).astype(np.uint8)
        note = "16-bit"
    elif arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    elif arr.dtype.kind == "f":
        finite = arr[np.isfinite(arr)]
        if finite.size != arr.size:
            raise ValueError(f"image {label}: has NaN or infinite values.")
        if finite.size and (finite.min() < 0 or finite.max() > 1):
            raise ValueError(
                f"image {label}: float images must hold values in 0..1; got {finite.min():g}.."
                f"{finite.max():g}. Divide by 255 (8-bit) or 65535 (16-bit), or pass integers."
            )
        arr = np.round(arr * 255).astype(np.uint8)
        note = "float (quantised to 8 bits)"
    else:
        raise ValueError(
            f"image {label}: pixel type {arr.dtype} is not supported; use uint8, uint16, bool or "
            f"float in 0..1."
        )
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        return Image.fromarray(arr).convert("RGB"), note or "grayscale"
    if arr.shape[-1] == 4:
        return Image.fromarray(np.ascontiguousarray(arr[..., :3])), note or "RGBA (alpha dropped)"
    return Image.fromarray(np.ascontiguousarray(arr)), note


def _from_pil(image: Any, label: str) -> tuple[Any, str | None]:
    mode = image.mode
    if mode == "RGB":
        return image, None
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(image, dtype=np.float64)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise ValueError(
                f"image {label}: 32-bit integer pixels outside 0..65535 cannot be converted to RGB."
            )
        rgb, _ = _from_array(np.round(arr).astype(np.uint16), label)
        return rgb, "16-bit grayscale"
    if mode == "F":
        rgb, _ = _from_array(np.asarray(image, dtype=np.float32), label)
        return rgb, "float grayscale (quantised to 8 bits)"
    notes = {
        "L": "grayscale",
        "LA": "grayscale + alpha (alpha dropped)",
        "1": "1-bit",
        "P": "palette",
        "PA": "palette + alpha (alpha dropped)",
        "RGBA": "RGBA (alpha dropped)",
        "RGBa": "RGBA (alpha dropped)",
        "CMYK": "CMYK",
        "YCbCr": "YCbCr",
        "LAB": "LAB",
        "HSV": "HSV",
    }
    if mode in ("P", "PA"):
        image = image.convert("RGBA")
    return image.convert("RGB"), notes.get(mode, mode)


def to_rgb(image: ImageLike, label: str) -> tuple[Any, str | None]:
    """A PIL RGB image and what conversion (if any) was needed, naming ``label`` on errors."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(image, str | os.PathLike):
        try:
            with Image.open(image) as im:
                im.load()
                return _from_pil(im, label)
        except FileNotFoundError as err:
            raise FileNotFoundError(f"images: no image file at {str(image)!r}.") from err
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
            raise OSError(
                f"images: cannot read {str(image)!r} as an image ({type(err).__name__}: {err})."
            ) from err
    if isinstance(image, Image.Image):
        return _from_pil(image, label)
    if isinstance(image, np.ndarray):
        return _from_array(image, label)
    mod = type(image).__module__
    if mod.startswith("torch"):
        raise TypeError(
            f"image {label}: got a torch tensor; pass it as a (height, width, channels) numpy array "
            f"(tensor.permute(1, 2, 0).numpy()) or use extract_torch for preprocessed batches."
        )
    raise TypeError(
        f"image {label}: expected a file path, a PIL image or a numpy array; got {type(image).__name__}."
    )


def conversion_message(notes: dict[str, list[str]], n_images: int) -> str:
    """One sentence listing the conversions made, with a few example ids each."""
    parts = []
    for kind, ids in notes.items():
        shown = ", ".join(ids[:3]) + (", ..." if len(ids) > 3 else "")
        parts.append(f"{len(ids)} {kind} ({shown})")
    total = sum(len(v) for v in notes.values())
    return (
        f"extract_images: converted {total} of {n_images} images to 8-bit RGB: "
        + "; ".join(parts)
        + ". Convert them yourself first to control how."
    )
