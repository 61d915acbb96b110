"""Decoding image files to RGB, with errors that name the file.

The rule for every file, whatever its mode: EXIF orientation is applied; palette and grey
images are expanded to RGB; images with an alpha channel (RGBA, LA, P with transparency) are
composited on white; CMYK is converted by PIL's ICC-less conversion; 16-bit grey is scaled to 8
bits. A truncated, empty or undecodable file raises :class:`BadImageError` naming it — never
a half-decoded image (CNNDetection sets ``LOAD_TRUNCATED_IMAGES``; we do not).

:func:`load_rgb` is the reference decoder (PIL), and what detectors' CPU transforms (which take
PIL images) get. :func:`decode_rgb` gives the same pixels as a uint8 tensor — what evaluations
that degrade images at their native resolution want — by the fastest decoder known to give them:
torchvision's libjpeg-turbo for plain 8-bit RGB and grey JPEGs (1.24x PIL's speed on 256-px
photographs, 1.51x on 512-px ones, decode and conversion to a tensor: BENCHMARKS.md), PIL for
everything else. The fast path is taken only when PIL's own header parse says the file is a JPEG
(not MPO) in mode ``RGB`` or ``L``, within the decompression-bomb limit, with no EXIF/XMP
orientation other than 1; any failure of the fast decoder sends the file to :func:`load_rgb`,
which decodes it or raises its :class:`BadImageError`. PNG stays on PIL: torchvision 0.29's
``decode_png`` is only 1.17x faster and crashes the process (segmentation fault) on some corrupt
PNG data instead of raising.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from gibench.errors import GibenchError

if TYPE_CHECKING:  # torch is imported where it is used: data check's workers never need it
    import torch


class BadImageError(GibenchError):
    """An image file that cannot be decoded; ``path`` names it."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot decode image {self.path}: {reason} "
                         "(use {skip_bad_images} to skip and count such files)",
                         params=["skip_bad_images"])

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


_JPEG_MAGIC = b"\xff\xd8\xff"
_ORIENTATION = 0x0112


def _fast_jpeg(path: Path | str) -> torch.Tensor | None:
    """``path`` decoded by torchvision (uint8 CHW, RGB) when that gives :func:`load_rgb`'s
    pixels for sure (see the module doc), else ``None``."""
    try:
        with open(path, "rb") as f:
            data = bytearray(f.read())
    except OSError:
        return None
    if not data.startswith(_JPEG_MAGIC):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # torchvision 0.29 deprecates its decoders for TorchCodec's; while they exist they
            # are used, and once they are gone every file goes to PIL (the import fails below)
            warnings.simplefilter("ignore", DeprecationWarning)
            with Image.open(io.BytesIO(data), formats=("JPEG",)) as img:
                width, height = img.size
                if (img.format != "JPEG" or img.mode not in ("RGB", "L")
                        or img.getexif().get(_ORIENTATION, 1) != 1):
                    return None
            import torch
            from torchvision.io import ImageReadMode, decode_jpeg

            out = decode_jpeg(torch.frombuffer(data, dtype=torch.uint8), mode=ImageReadMode.RGB)
    except Exception:  # whatever went wrong, load_rgb decodes the file or says why it can't
        return None
    if tuple(out.shape) != (3, height, width):  # pragma: no cover - never seen
        return None
    return out


def decode_rgb(path: Path | str) -> torch.Tensor:
    """``path`` as a uint8 ``(3, H, W)`` tensor with :func:`load_rgb`'s pixels, by the fastest
    decoder that gives them (see the module doc). Raises :class:`BadImageError` exactly when
    :func:`load_rgb` does."""
    import torch

    fast = _fast_jpeg(path)
    if fast is not None:
        return fast
    return torch.from_numpy(np.array(load_rgb(path), dtype=np.uint8)).permute(2, 0, 1)


#: Pillow's ``subsampling`` value for 4:2:0 (2×2 chroma subsampling).
SUBSAMPLING_420 = 2


def libjpeg_roundtrip(hwc: np.ndarray, quality: int) -> np.ndarray:
    """Encode a uint8 ``(H, W, 3)`` array with libjpeg at ``quality`` (4:2:0) and decode it:
    the codec of the ``jpeg`` degradation's reference and of ``--align jpeg``."""
    buffer = io.BytesIO()
    Image.fromarray(hwc).save(buffer, format="JPEG", quality=quality,
                              subsampling=SUBSAMPLING_420)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"), dtype=np.uint8)
