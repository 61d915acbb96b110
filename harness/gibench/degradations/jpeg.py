"""``jpeg``: the GenImage paper's JPEG compression (settings quality 65 and 30).

Interpretation (the paper publishes no code): a real codec round trip through libjpeg
(libjpeg-turbo, as Pillow ships it), CNNDetection's ``pil_jpg``: encode at ``quality`` (the
IJG scaling of the standard tables, baseline, standard Huffman tables, integer DCT) with 4:2:0
chroma subsampling, then decode with libjpeg's defaults (integer IDCT, "fancy" chroma
upsampling). 4:2:0 is Pillow's default at every quality; we pass ``subsampling=2`` explicitly
so that a change of default cannot change the benchmark.

- CPU reference: ``PIL.Image.save(format="JPEG", quality=q, subsampling=2)``, then decode.
- Device: the same libjpeg round trip, image by image on the host (a codec forces the loop),
  for a batch on any device: the batch goes to host memory and back. Pixels are identical to
  the reference on every device (tests assert it).

Measured alternatives, and why they are not used:

- torchvision's CPU ``encode_jpeg``/``decode_jpeg`` link the same libjpeg-turbo and give the
  same bytes and pixels as Pillow (checked at qualities 10 to 100 on scikit-image's
  photographs), but its encoder took 7.9 ms for a 256×256 image against Pillow's 0.19 ms
  (decoding: 0.23 ms against 0.37 ms), so Pillow does both.
- nvJPEG through torchvision on CUDA is a different codec: torchvision's CUDA encoder
  hard-codes 4:4:4 chroma (``NVJPEG_CSS_444`` in ``encode_jpegs_cuda.cpp``) and its decoder
  keeps nvJPEG's default nearest-neighbour chroma upsampling. libjpeg's own 4:4:4 output lies
  34.6 to 42.9 dB from its 4:2:0 output at qualities 30 to 90 on the same photographs, below
  the 45 dB agreement asked of a device path, so the CUDA path does not use it.

``jpeg-diff`` (:mod:`gibench.degradations.jpeg_diff`) is Kornia's differentiable
approximation, for those who need gradients.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from gibench.data.images import libjpeg_roundtrip
from gibench.degradations.common import check_batch, check_strength, image_to_array
from gibench.specs import DegradationSpec

SWEEP = (100, 90, 80, 70, 60, 50, 40, 30, 20, 10)


def quality_of(value: float, degradation: str = "jpeg") -> int:
    """A JPEG quality: a whole number from 1 to 100."""
    return int(check_strength(degradation, "quality", value, minimum=1.0, maximum=100.0,
                              integer=True))


def apply(batch: torch.Tensor, quality: float, seeds: torch.Tensor | None = None
          ) -> torch.Tensor:
    """JPEG-compress a uint8 ``(N, 3, H, W)`` batch through libjpeg; returned on its device."""
    check_batch(batch)
    quality = quality_of(quality)
    if batch.shape[0] == 0:
        return batch.clone()
    # the layout changes run on the batch's device; only the codec needs the host
    arrays = batch.permute(0, 2, 3, 1).contiguous().cpu().numpy()
    out = np.stack([libjpeg_roundtrip(hwc, quality) for hwc in arrays])
    return torch.from_numpy(out).to(batch.device).permute(0, 3, 1, 2).contiguous()


def reference(image: Image.Image, quality: float, seed: int | None = None) -> Image.Image:
    """One image through libjpeg with Pillow."""
    return Image.fromarray(libjpeg_roundtrip(image_to_array(image), quality_of(quality)))


SPEC = DegradationSpec(
    name="jpeg",
    description="JPEG round trip through libjpeg, 4:2:0 chroma (GenImage)",
    apply=apply,
    reference=reference,
    parameter="quality",
    paper_settings=(65, 30),
    aliases=("jpeg-compression", "compression"),
    sweep=SWEEP,
    default=65,
)
