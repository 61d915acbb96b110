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

Nothing but a regular file is opened (:func:`regular_file`): a FIFO named ``.png`` would block
its reader forever, a link to ``/dev/zero`` would be read until the memory runs out, and a
folder (an unreadable sub-folder is listed as an entry: :func:`~gibench.data.layout.list_images`)
has no pixels. Each is a :class:`BadImageError` saying what the path is. The fast path reads at
most :data:`FAST_PATH_MAX_BYTES`; headers are parsed from at most :data:`HEADER_MAX_BYTES`
(:func:`open_header`).
"""

from __future__ import annotations

import io
import os
import stat
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


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, name in ((stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a file"


def regular_file(path: Path | str) -> os.stat_result:
    """The ``stat`` of ``path`` (links followed) when it is a regular file; otherwise a
    :class:`BadImageError` saying what it is: missing, a folder (unreadable or not), a FIFO, a
    device, a link loop, a name the OS refuses (too long)... Nothing is opened."""
    try:
        info = os.stat(path)
    except FileNotFoundError as exc:
        raise BadImageError(path, "file not found") from exc
    except OSError as exc:  # a link loop, a name too long, a path through a file
        raise BadImageError(path, exc.strerror or str(exc)) from exc
    except ValueError as exc:  # a NUL byte in the name
        raise BadImageError(path, str(exc)) from exc
    if stat.S_ISREG(info.st_mode):
        return info
    if stat.S_ISDIR(info.st_mode):
        try:
            with os.scandir(path):
                pass
        except OSError as exc:
            raise BadImageError(path, f"unreadable folder ({exc.strerror or exc})") from exc
        raise BadImageError(path, "Is a directory: a folder, not an image file")
    raise BadImageError(path, f"not a regular file: {_kind(info.st_mode)}")


def load_rgb(path: Path | str) -> Image.Image:
    """Decode ``path`` fully to an RGB image (first frame of an animation)."""
    info = regular_file(path)
    if info.st_size == 0:
        raise BadImageError(path, "empty file (0 bytes)")
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
        raise BadImageError(path, reason) from exc


#: The most bytes of a file that a header is parsed from (:func:`open_header`): the header of
#: every format gibench indexes comes first, and EXIF, ICC and XMP blocks fit in far less.
HEADER_MAX_BYTES = 8 << 20


def open_header(path: Path | str) -> Image.Image:
    """``path`` opened by PIL for its header only (format, size, JPEG tables), from at most
    :data:`HEADER_MAX_BYTES` read from a regular file: sampling headers never blocks on a FIFO
    nor reads a device. Raises :class:`BadImageError` for what is not a regular file, and PIL's
    own errors for a header it cannot parse."""
    regular_file(path)
    with open(path, "rb") as f:
        data = f.read(HEADER_MAX_BYTES)
    return Image.open(io.BytesIO(data))


_JPEG_MAGIC = b"\xff\xd8\xff"
_ORIENTATION = 0x0112

#: The largest file the fast JPEG path reads into memory; a larger one goes to PIL, which reads
#: it as it decodes (GenImage's largest JPEGs are a few MB).
FAST_PATH_MAX_BYTES = 64 << 20


def _fast_jpeg(path: Path | str) -> torch.Tensor | None:
    """``path`` decoded by torchvision (uint8 CHW, RGB) when that gives :func:`load_rgb`'s
    pixels for sure (see the module doc), else ``None``."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > FAST_PATH_MAX_BYTES:
            return None  # load_rgb says what it is, or decodes a large file as it reads it
        with open(path, "rb") as f:
            data = bytearray(f.read(FAST_PATH_MAX_BYTES + 1))
    except (OSError, ValueError):
        return None
    if len(data) > FAST_PATH_MAX_BYTES or not data.startswith(_JPEG_MAGIC):
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
