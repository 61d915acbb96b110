"""CPU-side preprocessing shared by the baselines: resize, crop, flip, and CNNSpot's augmentation.

Every transform takes a decoded RGB :class:`PIL.Image.Image` and a seeded :class:`random.Random`
and returns a uint8 tensor ``(3, size, size)``; normalisation happens later, on the device.

The deterministic ops (resize, centre crop) also have a batched form, ``op.batch(x)`` on a uint8
batch ``(N, 3, H, W)`` of equal-size images on any device, and :func:`compose` gives the whole
transform a ``batch`` when all its ops have one: the engine uses it to preprocess on the device
after degrading images at their native resolution. Resizing uses PyTorch's antialiased
interpolation, which follows Pillow's filters (agreement is tested, within a grey level or two).
An op whose output size depends on the input's (:func:`resize_shorter`, aspect ratio kept)
computes it from each batch's shape: the engine's batches hold images of one size.

Two resizes, for two families of original code:

- :func:`resize` squashes to ``size``×``size`` with Pillow's filter (antialiased when shrinking);
- :func:`resize_shorter` is torchvision's ``Resize(size)`` on a PIL image (the shorter side to
  ``size``, the aspect ratio kept), as CNNDetection's ``custom_resize``.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

ImageOp = Callable[[Image.Image, random.Random], Image.Image]
BatchOp = Callable[[torch.Tensor], torch.Tensor]

_MODES = {Image.Resampling.BILINEAR: "bilinear", Image.Resampling.BICUBIC: "bicubic"}


def with_batch(op: ImageOp, batch: BatchOp) -> ImageOp:
    """Attach the batched form of an image op (see the module doc)."""
    op.batch = batch  # type: ignore[attr-defined]
    return op


def resize_batch(x: torch.Tensor, size: tuple[int, int],
                 resample: Image.Resampling = Image.Resampling.BILINEAR,
                 antialias: bool = True) -> torch.Tensor:
    """uint8 ``(N, 3, H, W)`` → uint8 ``(N, 3, *size)``, as Pillow's ``resize`` (rounded)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if resample not in _MODES:
        raise ValueError(f"no batched form of resampling filter {resample!r}")
    y = torch.nn.functional.interpolate(x.float(), size=size, mode=_MODES[resample],
                                        align_corners=False, antialias=antialias)
    return y.round_().clamp_(0, 255).to(torch.uint8)


def center_crop_batch(x: torch.Tensor, size: int) -> torch.Tensor:
    """The centre crop of :func:`center_crop` on a batch (zero-padded bottom/right first)."""
    height, width = x.shape[-2:]
    if height < size or width < size:
        x = torch.nn.functional.pad(x, (0, max(0, size - width), 0, max(0, size - height)))
        height, width = x.shape[-2:]
    top, left = int(round((height - size) / 2.0)), int(round((width - size) / 2.0))
    return x[..., top:top + size, left:left + size]


def to_uint8_tensor(img: Image.Image) -> torch.Tensor:
    """HWC uint8 PIL image → CHW uint8 tensor (no scaling, no copy beyond the array)."""
    arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def resize(size: int | None,
           resample: Image.Resampling = Image.Resampling.BILINEAR) -> ImageOp:
    """Resize to ``size``×``size`` (bilinear by default: CNNDetection's ``loadSize``)."""

    def op(img: Image.Image, rng: random.Random) -> Image.Image:
        if size is None or img.size == (size, size):
            return img
        return img.resize((size, size), resample)

    if size is None:
        return with_batch(op, lambda x: x)
    return with_batch(op, lambda x: resize_batch(x, (size, size), resample))


def shorter_side_size(height: int, width: int, size: int) -> tuple[int, int]:
    """``(height, width)`` after torchvision's ``Resize(size)`` with an integer ``size``: the
    shorter side becomes ``size`` and the longer ``int(size * long / short)`` (truncated, as
    torchvision's ``_compute_resized_output_size``)."""
    short, long = (width, height) if width <= height else (height, width)
    new_long = int(size * long / short)
    return (new_long, size) if width <= height else (size, new_long)


def resize_shorter(size: int | None,
                   resample: Image.Resampling = Image.Resampling.BILINEAR) -> ImageOp:
    """Resize the shorter side to ``size``, keeping the aspect ratio (``None``: no resize).

    torchvision's ``Resize(size, interpolation)`` applied to a PIL image (which calls Pillow's
    ``resize`` with the size of :func:`shorter_side_size`), what CNNDetection's
    ``custom_resize`` does. The batched form computes the output size from the batch's shape.
    """

    def op(img: Image.Image, rng: random.Random) -> Image.Image:
        if size is None:
            return img
        height, width = shorter_side_size(img.height, img.width, size)
        if img.size == (width, height):
            return img
        return img.resize((width, height), resample)

    def batch(x: torch.Tensor) -> torch.Tensor:
        if size is None:
            return x
        return resize_batch(x, shorter_side_size(x.shape[-2], x.shape[-1], size), resample)

    return with_batch(op, batch)


def _pad_to(img: Image.Image, size: int) -> Image.Image:
    if img.width >= size and img.height >= size:
        return img
    canvas = Image.new("RGB", (max(size, img.width), max(size, img.height)))
    canvas.paste(img, (0, 0))
    return canvas


def random_crop(size: int) -> ImageOp:
    """A uniformly placed ``size``×``size`` crop (zero-padded first if the image is smaller)."""

    def op(img: Image.Image, rng: random.Random) -> Image.Image:
        img = _pad_to(img, size)
        x = rng.randint(0, img.width - size)
        y = rng.randint(0, img.height - size)
        return img.crop((x, y, x + size, y + size))

    return op


def center_crop(size: int) -> ImageOp:
    """The centred ``size``×``size`` crop (torchvision's rounding), zero-padded if smaller."""

    def op(img: Image.Image, rng: random.Random) -> Image.Image:
        img = _pad_to(img, size)
        x = int(round((img.width - size) / 2.0))
        y = int(round((img.height - size) / 2.0))
        return img.crop((x, y, x + size, y + size))

    return with_batch(op, lambda x: center_crop_batch(x, size))


def hflip(p: float = 0.5) -> ImageOp:
    """Horizontal flip with probability ``p``."""

    def op(img: Image.Image, rng: random.Random) -> Image.Image:
        return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.random() < p else img

    return op


def blur_jpeg_augment(blur_prob: float = 0.5, blur_sigma: tuple[float, float] = (0.0, 3.0),
                      jpeg_prob: float = 0.5, jpeg_quality: tuple[int, int] = (30, 100)
                      ) -> ImageOp:
    """CNNSpot's ``data_augment`` (Wang et al. 2020): random Gaussian blur, then random JPEG.

    With probability ``blur_prob`` the image is blurred with σ ~ U[blur_sigma] by
    ``scipy.ndimage.gaussian_filter`` on each channel (truncate 4σ, reflect border), as in
    CNNDetection; with probability ``jpeg_prob`` it is JPEG-compressed at a quality drawn
    uniformly from the integers in ``jpeg_quality`` with libjpeg through PIL (CNNDetection draws
    cv2 or PIL at random; both wrap libjpeg with 4:2:0 chroma subsampling).
    """
    from scipy.ndimage import gaussian_filter

    def op(img: Image.Image, rng: random.Random) -> Image.Image:
        if rng.random() < blur_prob:
            sigma = rng.uniform(*blur_sigma)
            arr = np.asarray(img, dtype=np.uint8).copy()
            for c in range(arr.shape[2]):
                gaussian_filter(arr[:, :, c], sigma=sigma, output=arr[:, :, c])
            img = Image.fromarray(arr)
        if rng.random() < jpeg_prob:
            quality = rng.randint(*jpeg_quality)
            buf = io.BytesIO()
            img.save(buf, format="JPEG", quality=quality)
            buf.seek(0)
            img = Image.open(buf).convert("RGB")
        return img

    return op


def compose(*ops: ImageOp) -> Callable[[Image.Image, random.Random], torch.Tensor]:
    """Chain image ops and end in a uint8 CHW tensor."""

    def transform(img: Image.Image, rng: random.Random) -> torch.Tensor:
        img = img.convert("RGB")
        for op in ops:
            img = op(img, rng)
        return to_uint8_tensor(img)

    batched = [getattr(op, "batch", None) for op in ops]
    if all(b is not None for b in batched):
        def batch(x: torch.Tensor) -> torch.Tensor:
            for b in batched:
                x = b(x)
            return x

        transform.batch = batch  # type: ignore[attr-defined]
    return transform


def resize_center_crop(input_size: int, load_size: int | None):
    """The common evaluation transform: resize to ``load_size`` (bilinear), centre crop."""
    return compose(resize(load_size), center_crop(input_size))
