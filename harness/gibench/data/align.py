"""Aligned evaluation and training: remove the format and size shortcuts of a dataset.

GenImage's real images are ImageNet JPEGs of many sizes, its fakes PNGs of one size per
generator; a detector can learn "JPEG or not" and "512² or not" (Grommelt et al. 2024, "Fake or
JPEG?"). An alignment is applied to every decoded image — real and fake alike, before any
degradation and before the detector's own transform — so that neither side keeps such a trace:

- ``jpeg[:Q]`` (default Q 96, the quality "Fake or JPEG?" aligns to): a libjpeg round trip at
  quality Q with 4:2:0 chroma subsampling (the ``jpeg`` degradation's reference codec);
- ``size[:S]`` (default S 256): resize the shorter side to S (antialiased bicubic, up or down),
  then the centre S×S crop. Choose S below every image's shorter side: an image already at S
  is left as it is, so aligning to the fakes' own size resamples the reals alone, and a
  detector can still tell them by their resampling (measured in ``docs/shortcuts.md``: a
  placebo-trained detector keeps 66.5% at S = the fakes' size, 50.4% at two thirds of it).

Several alignments apply in the order given (``--align size:256 --align jpeg:96``). They are
recorded in ``run.json`` and in every result row (column ``align``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image

from gibench.errors import GibenchError

DEFAULTS = {"jpeg": 96, "size": 256}


@dataclass(frozen=True)
class Alignment:
    kind: str
    value: int

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.value}"

    def __call__(self, img: Image.Image) -> Image.Image:
        if self.kind == "jpeg":
            import numpy as np

            from gibench.data.images import libjpeg_roundtrip

            rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
            return Image.fromarray(libjpeg_roundtrip(rgb, self.value))
        width, height = img.size
        scale = self.value / min(width, height)
        size = (max(self.value, round(width * scale)), max(self.value, round(height * scale)))
        if size != img.size:
            img = img.resize(size, Image.Resampling.BICUBIC)
        left, top = (size[0] - self.value) // 2, (size[1] - self.value) // 2
        return img.crop((left, top, left + self.value, top + self.value))


def parse_align(text: str) -> Alignment:
    """``jpeg``, ``jpeg:90``, ``size``, ``size:224`` → an :class:`Alignment`."""
    kind, _, value = text.strip().partition(":")
    kind = kind.lower()
    if kind not in DEFAULTS:
        raise GibenchError(f"{{align=}}{text!r}: expected jpeg[:QUALITY] or size[:SIDE]",
                           params=["align"])
    try:
        number = int(value) if value else DEFAULTS[kind]
    except ValueError:
        raise GibenchError(f"{{align=}}{text!r}: {value!r} is not an integer",
                           params=["align"]) from None
    low, high = (1, 100) if kind == "jpeg" else (8, 4096)
    if not low <= number <= high:
        raise GibenchError(f"{{align=}}{text!r}: {kind} must be within {low}..{high}",
                           params=["align"])
    return Alignment(kind, number)


def compose(alignments: Sequence[Alignment]) -> Callable[[Image.Image], Image.Image] | None:
    """One callable applying the alignments in order (``None`` when there are none)."""
    if not alignments:
        return None

    def align(img: Image.Image) -> Image.Image:
        for alignment in alignments:
            img = alignment(img)
        return img

    return align


def label(alignments: Sequence[Alignment]) -> str:
    """The ``align`` column of a result row: ``none`` or ``size:256+jpeg:96``."""
    return "+".join(a.name for a in alignments) or "none"
