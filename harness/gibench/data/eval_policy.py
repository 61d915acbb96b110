"""Evaluation preprocessing policies (``--eval-transform``): how a test image becomes a
detector's input is a protocol choice, not a detail.

Papers and peers disagree: CNNDetection's ``eval.py`` scores images at native size while its
``validate.py`` resizes and crops; NPR needs no resize and no crop; AIGIBench makes crop versus
resize a benchmark task; AI-GenBench exposes resize, crop, multi-crop and as-is. A detector
declares its authors' policy (``Preprocess.make_eval``); a run may override it with one of:

- ``authors`` — the detector's own evaluation transform (the default);
- ``resize`` — the whole image resized to ``input × input`` (bilinear, antialiased as Pillow
  does; the aspect ratio is not kept): nothing cropped away;
- ``crop`` — the centre ``input × input`` crop at native resolution: nothing resampled. A side
  shorter than ``input`` is zero-padded at the bottom/right (:func:`crop_at`), unlike
  torchvision's ``CenterCrop``, which pads both ends (the boards were made this way);
- ``native`` — the image as it is, batched by size: for detectors that take any input size
  (``Preprocess.any_size``); nothing resampled or cropped;
- ``multicrop`` — five ``input × input`` crops at native resolution (the four corners and the
  centre, zero-padded when smaller), the model's logits averaged over them.

The choice is recorded in ``run.json`` (``resolved.eval_transform``) and in every row of
``results.csv`` (column ``eval_transform``); rows under different policies never share a board
(a board of a policy other than ``authors`` is named ``...-eval-<policy>``).

Every transform here has the batched ``.batch`` form the engine uses on the device after
degrading images at their native resolution; ``native`` transforms carry ``native = True``,
which routes their evaluation through the by-size path.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import torch
import torch.nn.functional as F
from PIL import Image

from gibench.data.transforms import to_uint8_tensor
from gibench.errors import GibenchError
from gibench.specs import with_batch

EVAL_POLICIES: tuple[str, ...] = ("authors", "resize", "crop", "native", "multicrop")
DEFAULT_POLICY = "authors"
#: ``multicrop``: the crops, as (top, left) fractions of the free room: corners, then centre
FIVE_CROPS: tuple[tuple[float, float], ...] = ((0, 0), (0, 1), (1, 0), (1, 1), (0.5, 0.5))


def _pad_to(x: torch.Tensor, size: int) -> torch.Tensor:
    """Zero-pad a ``(..., H, W)`` tensor at the bottom/right to at least ``size`` each way."""
    height, width = x.shape[-2:]
    if height >= size and width >= size:
        return x
    return F.pad(x, (0, max(0, size - width), 0, max(0, size - height)))


def crop_at(x: torch.Tensor, size: int, fy: float, fx: float) -> torch.Tensor:
    """The ``size``×``size`` crop of ``x`` (``(..., H, W)``) whose top-left corner lies at
    fractions (fy, fx) of the free room: ``top = round((H - size) · fy)``, ``left = round((W -
    size) · fx)`` (Python's ``round``, half to even: torchvision's ``CenterCrop`` arithmetic at
    (0.5, 0.5)). Plugins' batched centre crops call it too.

    A side shorter than ``size`` is first zero-padded at its *end* (bottom / right) only, so
    the image keeps its top-left corner and the crop along that side starts at 0 whatever
    (fy, fx). This is not torchvision's ``CenterCrop``, which pads both ends (the odd pixel at
    the bottom/right) and so centres a small image; a detector that needs that pads itself
    first. Kept as it is: the boards' numbers were computed with it."""
    x = _pad_to(x, size)
    height, width = x.shape[-2:]
    top, left = int(round((height - size) * fy)), int(round((width - size) * fx))
    return x[..., top:top + size, left:left + size]


def _resize(size: int) -> Callable:
    def transform(img: Image.Image, rng: random.Random | None = None) -> torch.Tensor:
        img = img.convert("RGB")
        if img.size != (size, size):
            img = img.resize((size, size), Image.Resampling.BILINEAR)
        return to_uint8_tensor(img)

    def batch(x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) == (size, size):
            return x
        y = F.interpolate(x.float(), size=(size, size), mode="bilinear", align_corners=False,
                          antialias=True)
        return y.round_().clamp_(0, 255).to(torch.uint8)

    return with_batch(transform, batch)


def _crops(size: int, places: tuple[tuple[float, float], ...]) -> Callable:
    def batch(x: torch.Tensor) -> torch.Tensor:
        crops = [crop_at(x, size, fy, fx) for fy, fx in places]
        return crops[0] if len(crops) == 1 else torch.stack(crops, dim=1)

    def transform(img: Image.Image, rng: random.Random | None = None) -> torch.Tensor:
        return batch(to_uint8_tensor(img)[None])[0]

    return with_batch(transform, batch)


def _native() -> Callable:
    def transform(img: Image.Image, rng: random.Random | None = None) -> torch.Tensor:
        return to_uint8_tensor(img)

    with_batch(transform, lambda x: x)
    transform.native = True  # type: ignore[attr-defined]
    return transform


def check_policy(policy: str) -> str:
    if policy not in EVAL_POLICIES:
        raise GibenchError(f"{{eval_transform=}}{policy!r}: expected one of "
                           f"{', '.join(EVAL_POLICIES)}", params=["eval_transform"])
    return policy


def eval_transform(policy: str, preprocess, input_size: int, load_size: int | None,
                   detector: str = "the detector"):
    """The evaluation transform of ``policy`` for a detector with ``preprocess`` at
    ``input_size`` (``authors``: its own ``make_eval``)."""
    check_policy(policy)
    if policy == "authors":
        return preprocess.make_eval(input_size, load_size)
    if policy == "native":
        if not preprocess.any_size:
            raise GibenchError(f"{{eval_transform=}}native: {detector} needs inputs of "
                               f"{input_size}×{input_size} (its model does not take any size); "
                               "choose authors, resize, crop or multicrop",
                               params=["eval_transform"])
        return _native()
    if policy == "resize":
        return _resize(input_size)
    if policy == "crop":
        return _crops(input_size, ((0.5, 0.5),))
    return _crops(input_size, FIVE_CROPS)


def is_native(transform) -> bool:
    """Whether ``transform`` keeps each image's size (evaluated through the by-size path)."""
    return bool(getattr(transform, "native", False))
