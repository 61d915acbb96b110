"""``jpeg-diff``: Kornia's differentiable JPEG, an approximation of ``jpeg`` for users who need
gradients through the degradation (adversarial robustness, JPEG-aware training).

``kornia.enhance.jpeg_codec_differentiable`` (Reich et al. 2024) models the codec in float32
with the same standard quantisation tables and IJG quality scaling and 4:2:0 chroma, but it is
not libjpeg: the quantised coefficients are rounded with the differentiable polynomial
``round(x) + (x - round(x))³`` (and the scaled tables floored and clipped the same soft way),
the chroma is halved and doubled bilinearly, and the DCT is a float one. It is therefore not
the protocol's codec (tables report ``jpeg``); use it where gradients matter.

Measured against libjpeg (``jpeg``'s reference) on scikit-image's photographs (astronaut,
chelsea, coffee, whole and 96×128 / 128×96 crops; tests/test_degradations.py): quality 65:
42.4 to 44.3 dB PSNR; quality 30: 40.4 to 41.6 dB. (libjpeg itself lies 31.5 to 35.0 dB and
29.1 to 32.3 dB from the originals at these qualities.)

- ``apply``: the uint8 batch to floats in [0, 1], Kornia on its device, rounded back to uint8
  (the spec's contract). For gradients, call :func:`jpeg_diff` on float images.
- CPU reference: libjpeg (:func:`gibench.degradations.jpeg.reference`), what it approximates.
"""

from __future__ import annotations

import torch
from PIL import Image

from gibench.degradations import jpeg
from gibench.degradations.common import check_batch, to_uint8
from gibench.specs import DegradationSpec

NAME = "jpeg-diff"


def jpeg_diff(images: torch.Tensor, quality: float | torch.Tensor) -> torch.Tensor:
    """Differentiable JPEG of float RGB ``images`` in [0, 1], ``(N, 3, H, W)``; ``quality`` a
    number or one per image. Gradients flow to ``images`` (and to a tensor ``quality``)."""
    from kornia.enhance import jpeg_codec_differentiable

    q = torch.as_tensor(quality, dtype=images.dtype, device=images.device).reshape(-1)
    return jpeg_codec_differentiable(images, q)


def apply(batch: torch.Tensor, quality: float, seeds: torch.Tensor | None = None
          ) -> torch.Tensor:
    """Kornia's differentiable JPEG of a uint8 ``(N, 3, H, W)`` batch, on its device."""
    check_batch(batch)
    quality = jpeg.quality_of(quality, NAME)
    if batch.shape[0] == 0:
        return batch.clone()
    return to_uint8(jpeg_diff(batch.float() / 255.0, quality) * 255.0)


def reference(image: Image.Image, quality: float, seed: int | None = None) -> Image.Image:
    """libjpeg, which ``jpeg-diff`` approximates (see the module doc for the measured gap)."""
    jpeg.quality_of(quality, NAME)
    return jpeg.reference(image, quality)


SPEC = DegradationSpec(
    name=NAME,
    description="Kornia's differentiable approximation of the JPEG round trip (for gradients)",
    apply=apply,
    reference=reference,
    parameter="quality",
    aliases=("diff-jpeg", "differentiable-jpeg", "kornia-jpeg"),
    sweep=jpeg.SWEEP,
    default=65,
)
