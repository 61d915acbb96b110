"""Decoding image files to RGB, with errors that name the file.

The rule for every file, whatever its mode: EXIF orientation is applied; palette and grey
images are expanded to RGB; images with an alpha channel (RGBA, LA, P with transparency) are
composited on white; CMYK is converted by PIL's ICC-less conversion; 16-bit grey is scaled to 8
bits. A truncated, empty or undecodable file raises :class:`BadImageError` naming it — never
a half-decoded image (CNNDetection sets ``LOAD_TRUNCATED_IMAGES``; we do not).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from gibench.errors import GibenchError


class BadImageError(GibenchError):
    """An image file that cannot be decoded; ``path`` names it."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot decode image {self.path}: {reason} "
                         "(use --skip-bad-images to skip and count such files)")

    def __reduce__(self):  # survives the trip from a DataLoader worker
        return (BadImageError, (self.path, self.reason))


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if img.mode.startswith("I;16") else max(float(arr.max()), 1.0)
        arr = np.clip(arr / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr, mode="L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def load_rgb(path: Path | str) -> Image.Image:
    """Decode ``path`` fully to an RGB image (first frame of an animation)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                img = ImageOps.exif_transpose(img)
                return _to_rgb(img)
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, FileNotFoundError):
            reason = "file not found"
        elif Path(path).is_file() and Path(path).stat().st_size == 0:
            reason = "empty file (0 bytes)"
        raise BadImageError(path, reason) from exc
