"""CPU-side preprocessing shared by the baselines: resize, crop, flip, and CNNSpot's augmentation.

Every transform takes a decoded RGB :class:`PIL.Image.Image` and a seeded :class:`random.Random`
and returns a uint8 tensor ``(3, size, size)``; normalisation happens later, on the device.

The deterministic ops (resize, centre crop) also have a batched form, ``op.batch(x)`` on a uint8
batch ``(N, 3, H, W)`` of equal-size images on any device, and :func:`gibench.api.compose` gives
the whole transform a ``batch`` when all its ops have one: the engine uses it to preprocess on
the device after degrading images at their native resolution. Resizing uses PyTorch's antialiased
interpolation, which follows Pillow's filters (agreement is tested, within a grey level or two).
An op whose output size depends on the input's (:func:`resize_shorter`, aspect ratio kept)
computes it from each batch's shape: the engine's batches hold images of one size.

Three resizes, for three families of original code:

- :func:`resize` squashes to ``size``×``size`` with Pillow's filter (antialiased when shrinking);
- :func:`resize_shorter` is torchvision's ``Resize(size)`` on a PIL image (the shorter side to
  ``size``, the aspect ratio kept), as CNNDetection's ``custom_resize``;
- :func:`cv2_resize` is ``cv2.resize(img, (size, size))`` with its default ``INTER_LINEAR``:
  two taps per axis at pixel centres, no low-pass when shrinking, OpenCV's fixed-point
  arithmetic (AutoGAN, GramNet). It is written with PyTorch, so OpenCV is not needed at run
  time (the tests compare it with OpenCV's, pixel for pixel).
"""

from __future__ import annotations

import io
import random

import numpy as np
import torch
from PIL import Image

from gibench.api import ImageOp, compose, crop_at, to_uint8_tensor, with_batch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_MODES = {Image.Resampling.BILINEAR: "bilinear", Image.Resampling.BICUBIC: "bicubic"}


def resize_batch(x: torch.Tensor, size: tuple[int, int],
                 resample: Image.Resampling = Image.Resampling.BILINEAR,
                 antialias: bool = True) -> torch.Tensor:
    """uint8 ``(N, 3, H, W)`` → uint8 ``(N, 3, *size)``, as Pillow's ``resize`` (rounded)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if resample not in _MODES:
        raise ValueError(f"no batched form of resampling filter {resample!r}")
    y = torch.nn.functional.interpolate(x.float(), size=size, mode=_MODES[resample],
                                        align_corners=False, antialias=antialias)
    return y.round_().clamp_(0, 255).to(torch.uint8)


def center_crop_batch(x: torch.Tensor, size: int) -> torch.Tensor:
    """The centre crop of :func:`center_crop` on a batch (zero-padded bottom/right first): the
    core's :func:`gibench.data.eval_policy.crop_at` at the centre."""
    return crop_at(x, size, 0.5, 0.5)


def resize(size: int | None,
           resample: Image.Resampling = Image.Resampling.BILINEAR) -> ImageOp:
    """Resize to ``size``×``size`` (bilinear by default: CNNDetection's ``loadSize``)."""

    def op(img: Image.Image, rng: random.Random) -> Image.Image:
        if size is None or img.size == (size, size):
            return img
        return img.resize((size, size), resample)

    if size is None:
        return with_batch(op, lambda x: x)
    return with_batch(op, lambda x: resize_batch(x, (size, size), resample))


def shorter_side_size(height: int, width: int, size: int) -> tuple[int, int]:
    """``(height, width)`` after torchvision's ``Resize(size)`` with an integer ``size``: the
    shorter side becomes ``size`` and the longer ``int(size * long / short)`` (truncated, as
    torchvision's ``_compute_resized_output_size``)."""
    short, long = (width, height) if width <= height else (height, width)
    new_long = int(size * long / short)
    return (new_long, size) if width <= height else (size, new_long)


def resize_shorter(size: int | None,
                   resample: Image.Resampling = Image.Resampling.BILINEAR) -> ImageOp:
    """Resize the shorter side to ``size``, keeping the aspect ratio (``None``: no resize).

    torchvision's ``Resize(size, interpolation)`` applied to a PIL image (which calls Pillow's
    ``resize`` with the size of :func:`shorter_side_size`), what CNNDetection's
    ``custom_resize`` does. The batched form computes the output size from the batch's shape.
    """

    def op(img: Image.Image, rng: random.Random) -> Image.Image:
        if size is None:
            return img
        height, width = shorter_side_size(img.height, img.width, size)
        if img.size == (width, height):
            return img
        return img.resize((width, height), resample)

    def batch(x: torch.Tensor) -> torch.Tensor:
        if size is None:
            return x
        return resize_batch(x, shorter_side_size(x.shape[-2], x.shape[-1], size), resample)

    return with_batch(op, batch)


#: OpenCV's resize weights are integers in 1/2048ths (``INTER_RESIZE_COEF_BITS`` = 11).
CV2_COEF_SCALE = 2048


def _cv2_linear_taps(n_in: int, n_out: int, clamp: bool
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Both source indices and fixed-point weights of ``cv2.resize``'s INTER_LINEAR along one
    axis, computed as OpenCV does: the source position ``(i + 0.5) · n_in / n_out − 0.5`` in
    float32, its floor and fraction, each weight rounded to 1/2048 separately. Horizontally
    (``clamp``) a position outside the image takes the border pixel with weight 1; vertically
    OpenCV keeps the weights and reads the border row twice (which rounds differently)."""
    pos = ((np.arange(n_out) + 0.5) * (1.0 / (n_out / n_in)) - 0.5).astype(np.float32)
    first = np.floor(pos)
    frac = (pos - first).astype(np.float32)
    first = first.astype(np.int64)
    if clamp:
        frac[first < 0] = 0
        first[first < 0] = 0
        frac[first >= n_in - 1] = 0
        first[first >= n_in - 1] = n_in - 1
    w0 = np.rint((np.float32(1) - frac) * np.float32(CV2_COEF_SCALE)).astype(np.int32)
    w1 = np.rint(frac * np.float32(CV2_COEF_SCALE)).astype(np.int32)
    return np.clip(first, 0, n_in - 1), np.clip(first + 1, 0, n_in - 1), w0, w1


def cv2_linear_resize_batch(x: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 ``(N, C, H, W)`` → ``(N, C, size, size)``: ``cv2.resize(img, (size, size))``,
    bit for bit, without OpenCV.

    OpenCV's default ``INTER_LINEAR`` samples the source at pixel centres with two taps per
    axis and does not widen its filter when shrinking (Pillow's ``BILINEAR`` does), like
    PyTorch's bilinear ``interpolate`` without antialiasing; but on 8-bit images it computes in
    fixed point, which the float interpolation misses by one grey level on about a tenth of the
    pixels. This is that fixed-point arithmetic, in int32 on the batch's device: the horizontal
    pass sums ``pixel · weight`` exactly (weights in 1/2048ths), the vertical pass is OpenCV's
    vectorised one, ``((r0 >> 4) · w0 >> 16) + ((r1 >> 4) · w1 >> 16)``, then ``(v + 2) >> 2``
    (tested equal to OpenCV's on every pixel, enlarging and shrinking).
    """
    height, width = x.shape[-2:]
    if (height, width) == (size, size):
        return x

    def taps(n_in: int, clamp: bool) -> list[torch.Tensor]:
        return [torch.from_numpy(a).to(x.device) for a in _cv2_linear_taps(n_in, size, clamp)]

    x0, x1, a0, a1 = taps(width, True)
    y0, y1, b0, b1 = taps(height, False)
    v = x.to(torch.int32)
    rows = (v.index_select(-1, x0) * a0 + v.index_select(-1, x1) * a1) >> 4
    out = (((rows.index_select(-2, y0) * b0[:, None]) >> 16)
           + ((rows.index_select(-2, y1) * b1[:, None]) >> 16))
    return ((out + 2) >> 2).clamp_(0, 255).to(torch.uint8)


def cv2_linear_resize(img: Image.Image, size: int) -> Image.Image:
    """``cv2.resize(img, (size, size))`` on a PIL image (see :func:`cv2_linear_resize_batch`);
    the aspect ratio is not kept."""
    if img.size == (size, size):
        return img
    x = to_uint8_tensor(img).unsqueeze(0)
    out = cv2_linear_resize_batch(x, size)[0].permute(1, 2, 0).numpy()
    return Image.fromarray(np.ascontiguousarray(out))


def cv2_resize(size: int | None) -> ImageOp:
    """The op of :func:`cv2_linear_resize` to ``size``×``size`` (``None``: no resize), with
    its batched form."""

    def op(img: Image.Image, rng: random.Random) -> Image.Image:
        return img if size is None else cv2_linear_resize(img, size)

    if size is None:
        return with_batch(op, lambda x: x)
    return with_batch(op, lambda x: cv2_linear_resize_batch(x, size))


def _pad_to(img: Image.Image, size: int) -> Image.Image:
    if img.width >= size and img.height >= size:
        return img
    canvas = Image.new("RGB", (max(size, img.width), max(size, img.height)))
    canvas.paste(img, (0, 0))
    return canvas


def random_crop(size: int) -> ImageOp:
    """A uniformly placed ``size``×``size`` crop (zero-padded first if the image is smaller)."""

    def op(img: Image.Image, rng: random.Random) -> Image.Image:
        img = _pad_to(img, size)
        x = rng.randint(0, img.width - size)
        y = rng.randint(0, img.height - size)
        return img.crop((x, y, x + size, y + size))

    return op


def center_crop(size: int) -> ImageOp:
    """The centred ``size``×``size`` crop (torchvision's rounding), zero-padded if smaller."""

    def op(img: Image.Image, rng: random.Random) -> Image.Image:
        img = _pad_to(img, size)
        x = int(round((img.width - size) / 2.0))
        y = int(round((img.height - size) / 2.0))
        return img.crop((x, y, x + size, y + size))

    return with_batch(op, lambda x: center_crop_batch(x, size))


def hflip(p: float = 0.5) -> ImageOp:
    """Horizontal flip with probability ``p``."""

    def op(img: Image.Image, rng: random.Random) -> Image.Image:
        return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.random() < p else img

    return op


def blur_jpeg_augment(blur_prob: float = 0.5, blur_sigma: tuple[float, float] = (0.0, 3.0),
                      jpeg_prob: float = 0.5, jpeg_quality: tuple[int, int] = (30, 100)
                      ) -> ImageOp:
    """CNNSpot's ``data_augment`` (Wang et al. 2020): random Gaussian blur, then random JPEG.

    With probability ``blur_prob`` the image is blurred with σ ~ U[blur_sigma] by
    ``scipy.ndimage.gaussian_filter`` on each channel (truncate 4σ, reflect border), as in
    CNNDetection; with probability ``jpeg_prob`` it is JPEG-compressed at a quality drawn
    uniformly from the integers in ``jpeg_quality`` with libjpeg through PIL (CNNDetection draws
    cv2 or PIL at random; both wrap libjpeg with 4:2:0 chroma subsampling).
    """
    from scipy.ndimage import gaussian_filter

    def op(img: Image.Image, rng: random.Random) -> Image.Image:
        if rng.random() < blur_prob:
            sigma = rng.uniform(*blur_sigma)
            arr = np.asarray(img, dtype=np.uint8).copy()
            for c in range(arr.shape[2]):
                gaussian_filter(arr[:, :, c], sigma=sigma, output=arr[:, :, c])
            img = Image.fromarray(arr)
        if rng.random() < jpeg_prob:
            quality = rng.randint(*jpeg_quality)
            buf = io.BytesIO()
            img.save(buf, format="JPEG", quality=quality)
            buf.seek(0)
            img = Image.open(buf).convert("RGB")
        return img

    return op


def resize_center_crop(input_size: int, load_size: int | None):
    """The common evaluation transform: resize to ``load_size`` (bilinear), centre crop."""
    return compose(resize(load_size), center_crop(input_size))
