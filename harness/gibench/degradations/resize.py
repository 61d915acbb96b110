"""``resize``: scale an image by a factor, antialiased bicubic (not one of the paper's settings).

Interpretation: an ``H × W`` image becomes ``round(H·scale) × round(W·scale)`` (Python's
``round``, at least 1 px), shrunk or enlarged with PIL's bicubic filter: Keys' cubic with
``a = -0.5``, its support widened by the factor when shrinking (antialiased). ``scale`` 1 is the
identity.

- CPU reference: ``PIL.Image.resize(size, Image.Resampling.BICUBIC)``.
- Device: :func:`bicubic`, ``torch.nn.functional.interpolate(mode="bicubic", antialias=True)``
  (PyTorch's antialiased bicubic is PIL's filter, ``a = -0.5`` included) in float32, run as
  PIL runs it: a horizontal pass, rounded and clamped to uint8 as PIL's 8-bit intermediate
  image is, then a vertical pass, rounded and clamped. A pass whose side does not change is
  skipped, as PIL skips it. What remains is PIL's 22-bit fixed-point coefficients against
  float32: at most 2 grey levels apart on a few pixels, 64.2 dB (×1.5) to identical over the
  sweep on photographs (tests/test_degradations.py; docs/degradations.md has the table). One
  2-D float pass without the intermediate rounding gives only 54.7 to 58.3 dB, with errors of
  up to 14 levels next to clipped highlights.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from PIL import Image
from torch.nn import functional as F

from gibench.degradations.common import check_batch, check_strength, to_uint8
from gibench.specs import DegradationSpec


def scaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """``(round(height·scale), round(width·scale))``, each at least 1."""
    return max(1, round(height * scale)), max(1, round(width * scale))


def _bicubic_pass(batch: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 → uint8, as each of PIL's passes writes an 8-bit image."""
    return to_uint8(F.interpolate(batch.float(), size=size, mode="bicubic", antialias=True,
                                  align_corners=False))


def bicubic(batch: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 ``(N, 3, H, W)`` → uint8 ``(N, 3, *size)`` with PIL's antialiased bicubic, on the
    batch's device (see the module doc for how it follows PIL)."""
    height, width = batch.shape[-2:]
    new_height, new_width = size
    if (new_height, new_width) == (height, width):
        return batch.clone()
    if new_width != width:
        batch = _bicubic_pass(batch, (height, new_width))
    if new_height != height:
        batch = _bicubic_pass(batch, (new_height, new_width))
    return batch


def bicubic_reference(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """PIL's bicubic resize of ``image`` to ``size`` = ``(height, width)``."""
    height, width = size
    return image.convert("RGB").resize((width, height), Image.Resampling.BICUBIC)


def resampler(size_of: Callable[[int, int, float], tuple[int, int]]):
    """``(apply, reference)`` of a degradation that resamples an ``H × W`` image to
    ``size_of(H, W, strength)`` (which also checks the strength): :func:`bicubic` on the
    batch's device, :func:`bicubic_reference` with PIL."""

    def apply(batch: torch.Tensor, strength: float, seeds: torch.Tensor | None = None
              ) -> torch.Tensor:
        check_batch(batch)
        return bicubic(batch, size_of(*batch.shape[-2:], strength))

    def reference(image: Image.Image, strength: float, seed: int | None = None
                  ) -> Image.Image:
        width, height = image.size
        return bicubic_reference(image, size_of(height, width, strength))

    return apply, reference


def _resized(height: int, width: int, scale: float) -> tuple[int, int]:
    scale = check_strength("resize", "scale", scale, minimum=0.0, above_minimum=True)
    return scaled_size(height, width, scale)


apply, reference = resampler(_resized)


SPEC = DegradationSpec(
    name="resize",
    description="resize by a factor, antialiased bicubic (PIL's filter)",
    apply=apply,
    reference=reference,
    parameter="scale",
    aliases=("rescale", "scale"),
    sweep=(0.25, 0.5, 0.75, 1.0, 1.5, 2.0),
    default=0.5,
)
