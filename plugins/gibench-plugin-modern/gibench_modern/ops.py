"""Image operations the three detectors' preprocessing is made of, each written to equal the
torchvision transform its authors used (PIL in, PIL out; the deterministic ones also carry a
batched form on a uint8 ``(N, 3, H, W)`` batch, see :class:`gibench.api.BatchedTransform`);
:func:`gibench.api.compose` chains them into a detector's transform.

Only :mod:`gibench.api` is imported from gibench: this distribution is written as a third
party would write it.
"""

from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F
from PIL import Image

from gibench.api import ImageOp, with_batch


# --- NPR's GenImage preprocessing -------------------------------------------------------------
def tile_counts(height: int, width: int, size: int) -> tuple[int, int]:
    """How many copies of the image NPR's ``translate_duplicate`` lays out down and across:
    none (1, 1) unless the shorter side is under ``size``, then ``ceil(size / side)`` per axis
    (1 along an axis already at least ``size``)."""
    if min(height, width) >= size:
        return 1, 1
    return math.ceil(size / height), math.ceil(size / width)


def tile(size: int) -> ImageOp:
    """NPR's ``translate_duplicate(img, cropSize)`` (their README's GenImage setting): an image
    whose shorter side is under ``size`` is repeated side by side (not resampled) until both
    sides reach at least ``size``."""

    def op(img: Image.Image, rng: random.Random) -> Image.Image:
        down, across = tile_counts(img.height, img.width, size)
        if (down, across) == (1, 1):
            return img
        canvas = Image.new("RGB", (img.width * across, img.height * down))
        for i in range(across):
            for j in range(down):
                canvas.paste(img, (i * img.width, j * img.height))
        return canvas

    def batch(x: torch.Tensor) -> torch.Tensor:
        down, across = tile_counts(x.shape[-2], x.shape[-1], size)
        return x if (down, across) == (1, 1) else x.repeat(1, 1, down, across)

    return with_batch(op, batch)


# --- torchvision's crops ----------------------------------------------------------------------
def _centre_padding(height: int, width: int, size: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) zero padding of torchvision's ``CenterCrop`` for an image
    smaller than ``size``: centred, the odd pixel at the right/bottom."""
    pw, ph = max(0, size - width), max(0, size - height)
    return pw // 2, ph // 2, (pw + 1) // 2, (ph + 1) // 2


def centre_crop(size: int) -> ImageOp:
    """torchvision's ``CenterCrop(size)``: an image smaller than ``size`` is first zero-padded
    *centred* (not bottom/right), then the crop starts at ``round((side - size) / 2)``."""

    def op(img: Image.Image, rng: random.Random) -> Image.Image:
        left, top, right, bottom = _centre_padding(img.height, img.width, size)
        if left or top or right or bottom:
            canvas = Image.new("RGB", (img.width + left + right, img.height + top + bottom))
            canvas.paste(img, (left, top))
            img = canvas
        x = int(round((img.width - size) / 2.0))
        y = int(round((img.height - size) / 2.0))
        return img.crop((x, y, x + size, y + size))

    def batch(x: torch.Tensor) -> torch.Tensor:
        left, top, right, bottom = _centre_padding(x.shape[-2], x.shape[-1], size)
        if left or top or right or bottom:
            x = F.pad(x, (left, right, top, bottom))
        height, width = x.shape[-2:]
        y0, x0 = int(round((height - size) / 2.0)), int(round((width - size) / 2.0))
        return x[..., y0:y0 + size, x0:x0 + size]

    return with_batch(op, batch)


def random_crop(size: int, pad_if_needed: bool = False) -> ImageOp:
    """torchvision's ``RandomCrop(size, pad_if_needed=...)``: with ``pad_if_needed`` a side
    under ``size`` is zero-padded by ``size - side`` on *both* ends first (torchvision's
    rule); the crop's corner is uniform over the valid positions."""

    def op(img: Image.Image, rng: random.Random) -> Image.Image:
        if pad_if_needed and (img.width < size or img.height < size):
            pw, ph = max(0, size - img.width), max(0, size - img.height)
            canvas = Image.new("RGB", (img.width + 2 * pw, img.height + 2 * ph))
            canvas.paste(img, (pw, ph))
            img = canvas
        if img.width < size or img.height < size:
            raise ValueError(f"random_crop: image {img.width}×{img.height} is smaller than "
                             f"the crop {size}×{size}")
        x = rng.randint(0, img.width - size)
        y = rng.randint(0, img.height - size)
        return img.crop((x, y, x + size, y + size))

    return op


def hflip(p: float = 0.5) -> ImageOp:
    """Horizontal flip with probability ``p`` (``RandomHorizontalFlip``)."""

    def op(img: Image.Image, rng: random.Random) -> Image.Image:
        return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.random() < p else img

    return op


def resize_shorter(size: int | None) -> ImageOp:
    """torchvision's ``Resize(size)`` on a PIL image (bilinear): the shorter side becomes
    ``size``, the longer ``int(size · long / short)``."""

    def op(img: Image.Image, rng: random.Random) -> Image.Image:
        if size is None:
            return img
        short, long = sorted((img.width, img.height))
        other = int(size * long / short)
        wanted = (size, other) if img.width <= img.height else (other, size)
        return img if img.size == wanted else img.resize(wanted, Image.Resampling.BILINEAR)

    return op
