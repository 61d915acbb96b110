"""What every degradation shares: batch checks, strength checks, uint8 rounding, conversions
between PIL images and tensors, and the PSNR the tests and docs report agreement in."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image

from gibench.errors import GibenchError


def check_batch(batch: torch.Tensor) -> None:
    """``batch`` must be a uint8 ``(N, 3, H, W)`` tensor (the contract of ``apply``)."""
    if batch.dtype != torch.uint8 or batch.ndim != 4 or batch.shape[1] != 3:
        raise ValueError(f"expected a uint8 batch (N, 3, H, W), got {batch.dtype} "
                         f"{tuple(batch.shape)}")


def check_strength(degradation: str, parameter: str, value: float, *, minimum: float,
                   maximum: float = math.inf, above_minimum: bool = False,
                   integer: bool = False) -> float:
    """``value`` as a float if it is ``>= minimum`` (``> minimum`` with ``above_minimum``),
    ``<= maximum`` and, with ``integer``, whole; a :class:`GibenchError` naming the degradation
    and its parameter otherwise."""
    value = float(value)
    above = value > minimum if above_minimum else value >= minimum
    if not (math.isfinite(value) and above and value <= maximum
            and (value.is_integer() or not integer)):
        kind = "a whole number" if integer else "a number"
        low = f"> {minimum:g}" if above_minimum else f">= {minimum:g}"
        high = "" if math.isinf(maximum) else f" and <= {maximum:g}"
        raise GibenchError(f"{degradation}: {parameter} must be {kind} {low}{high}, "
                           f"got {value:g}")
    return value


#: On the CPU, the elementwise chains of ``blur`` and ``noise`` run over blocks of about this
#: many values so that their float64 / int64 temporaries stay in cache: on 32 images of
#: 256×256 and one thread, 3.3× (blur) and 3× (noise) faster than one pass over the whole
#: batch. On other devices the whole batch is one block.
CPU_BLOCK_VALUES = 1 << 18


def by_blocks(fn: Callable[..., torch.Tensor], *tensors: torch.Tensor) -> torch.Tensor:
    """``fn(*tensors)``, on the CPU computed over blocks of the first dimension (about
    :data:`CPU_BLOCK_VALUES` values each) and concatenated. ``fn`` must treat the items of the
    first dimension independently, so the result is the same either way."""
    first = tensors[0]
    per_block = max(1, CPU_BLOCK_VALUES // max(1, first[0].numel())) if len(first) else 1
    if first.device.type != "cpu" or per_block >= len(first):
        return fn(*tensors)
    return torch.cat([fn(*parts) for parts in zip(*(t.split(per_block) for t in tensors),
                                                   strict=True)])


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Float pixels on the 0..255 scale → uint8, rounded half to even and clamped."""
    return x.round().clamp_(0, 255).to(torch.uint8)


def image_to_array(image: Image.Image) -> np.ndarray:
    """A PIL image → uint8 ``(H, W, 3)`` RGB array."""
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def image_to_tensor(image: Image.Image) -> torch.Tensor:
    """A PIL image → uint8 ``(3, H, W)`` tensor."""
    return torch.from_numpy(image_to_array(image).transpose(2, 0, 1).copy())


def tensor_to_image(chw: torch.Tensor) -> Image.Image:
    """A uint8 ``(3, H, W)`` tensor (any device) → PIL RGB image."""
    return Image.fromarray(chw.permute(1, 2, 0).cpu().numpy())


def psnr(a, b) -> float:
    """Peak signal-to-noise ratio in dB between two uint8 images (arrays, ``(3, H, W)``
    tensors or PIL images, compared as arrays of the same shape); ``inf`` when identical."""
    x, y = (np.asarray(v.cpu() if isinstance(v, torch.Tensor) else v, dtype=np.float64)
            for v in (a, b))
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: {x.shape} vs {y.shape}")
    mse = float(np.mean((x - y) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0 ** 2 / mse)
