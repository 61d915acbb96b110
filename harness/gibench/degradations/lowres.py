"""``lowres``: the GenImage paper's low-resolution degradation (settings 112 and 64).

Interpretation (the paper publishes no code): the image is brought to ``side`` pixels on its
shorter side, the aspect ratio kept (the longer side becomes ``round(long · side / short)``,
Python's ``round``), with PIL's antialiased bicubic filter. An image whose shorter side is
already ``<= side`` stays as it is. The image stays small: the detector sees it through its own
evaluation transform (which brings it back up to the input size), so what is measured is the
detail lost, as when a generated image is shared as a thumbnail.

- CPU reference: ``PIL.Image.resize(size, Image.Resampling.BICUBIC)``.
- Device: :func:`gibench.degradations.resize.bicubic` (``interpolate(mode="bicubic",
  antialias=True)`` in two rounded 1-D passes, as PIL runs them); 70.5 to 84.3 dB PSNR against
  PIL on photographs, at most one grey level apart (docs/degradations.md).
"""

from __future__ import annotations

from gibench.degradations.common import check_strength
from gibench.degradations.resize import resampler
from gibench.specs import DegradationSpec


def lowres_size(height: int, width: int, side: int) -> tuple[int, int]:
    """The size with ``side`` on the shorter side (aspect kept), or the size itself when the
    shorter side is already ``<= side``."""
    if min(height, width) <= side:
        return height, width
    if height <= width:
        return side, max(1, round(width * side / height))
    return max(1, round(height * side / width)), side


def _lowered(height: int, width: int, side: float) -> tuple[int, int]:
    side = int(check_strength("lowres", "side", side, minimum=1.0, integer=True))
    return lowres_size(height, width, side)


apply, reference = resampler(_lowered)


SPEC = DegradationSpec(
    name="lowres",
    description="shorter side brought down to `side` px, antialiased bicubic (GenImage)",
    apply=apply,
    reference=reference,
    parameter="side",
    paper_settings=(112, 64),
    aliases=("lr", "low-resolution"),
    sweep=(224, 192, 160, 128, 112, 96, 64, 48, 32),
    default=112,
)
