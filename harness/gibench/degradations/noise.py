"""``noise``: additive Gaussian noise (not in the GenImage paper; a common robustness axis).

Interpretation: every channel value gets independent noise of standard deviation ``sigma``
(0..255 units), the sum rounded (half to even) and clamped to uint8.

The noise must be the same for a sample whatever the batch it is in, the device and the
number of workers, so it is not drawn from a stateful generator. It is a counter-based hash
of (the sample's seed, the value's index), computed vectorised:

1. ``key = mix(seed)``: one SplitMix64 output for the sample's int64 seed;
2. for the value at flat index ``i`` of the sample's ``(3, H, W)`` array (``c·H·W + y·W + x``),
   ``h = mix(key + (i + 1) · 0x9E3779B97F4A7C15)`` (mod 2⁶⁴): output ``i`` of the SplitMix64
   stream seeded with ``key``;
3. ``u1 = ((h >> 32) + 1) / 2³²`` in (0, 1] and ``u2 = (h & 0xFFFFFFFF) / 2³²`` in [0, 1);
4. Box–Muller, in float64: ``n = sqrt(-2 ln u1) · cos(2π u2)``;
5. ``out = clamp(round(x + sigma · n), 0, 255)``.

``mix`` is SplitMix64's finaliser (Steele, Lea & Flood 2014): ``z ^= z >> 30;
z *= 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB; z ^= z >> 31``.

- Device: the hash in torch int64 arithmetic (multiplication wraps modulo 2⁶⁴ on the CPU and
  on CUDA; a logical shift is an arithmetic shift masked), the rest in float64, in place where
  it can be; on the CPU over cache-sized blocks of samples (``common.by_blocks``).
- CPU reference: the same steps in numpy ``uint64`` arithmetic (wrapping by definition), one
  image. The tests assert identical pixels, which also pins torch's int64 wraparound. (A value
  could only differ if ``x + sigma·n`` fell within an ulp of a ``.5`` tie where torch's and
  numpy's ``log``/``cos`` disagree in the last bit: about one chance in 10¹³ per value.)
"""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

from gibench.degradations.common import (
    by_blocks,
    check_batch,
    check_strength,
    image_to_array,
    to_uint8,
)
from gibench.specs import DegradationSpec

_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
_TWO_32 = float(2 ** 32)


def _signed(value: int) -> int:
    """An unsigned 64-bit constant as the int64 with the same bits."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _srl(z: torch.Tensor, bits: int) -> torch.Tensor:
    """Logical right shift of int64 ``z`` (torch's ``>>`` is arithmetic), as a new tensor."""
    return (z >> bits).bitwise_and_((1 << (64 - bits)) - 1)


def _mix_(z: torch.Tensor) -> torch.Tensor:
    """SplitMix64's finaliser on int64 bits, in place (the tensor's own memory)."""
    z.bitwise_xor_(_srl(z, 30)).mul_(_signed(_M1))
    z.bitwise_xor_(_srl(z, 27)).mul_(_signed(_M2))
    return z.bitwise_xor_(_srl(z, 31))


def _mix_np(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_M1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_M2)
    return z ^ (z >> np.uint64(31))


def standard_normal(seeds: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """float64 ``(len(seeds), *shape)``: each sample's standard normal noise, from its seed
    alone (the module doc gives the construction); on ``seeds``' device."""
    count = math.prod(shape)
    key = _mix_(seeds.to(torch.int64).reshape(-1, 1).clone())
    counter = torch.arange(1, count + 1, dtype=torch.int64, device=seeds.device)
    h = _mix_(key + counter.mul_(_signed(_GOLDEN)))
    u1 = _srl(h, 32).add_(1).to(torch.float64).div_(_TWO_32)
    u2 = h.bitwise_and_(0xFFFFFFFF).to(torch.float64).div_(_TWO_32)
    normal = u1.log_().mul_(-2.0).sqrt_().mul_(u2.mul_(2.0 * math.pi).cos_())
    return normal.reshape(len(seeds), *shape)


def standard_normal_reference(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """The same noise for one sample, in numpy ``uint64`` arithmetic."""
    count = math.prod(shape)
    key = _mix_np(np.array([seed], dtype=np.int64).view(np.uint64))
    counter = np.arange(1, count + 1, dtype=np.uint64)
    h = _mix_np(key + counter * np.uint64(_GOLDEN))
    u1 = ((h >> np.uint64(32)) + np.uint64(1)).astype(np.float64) / _TWO_32
    u2 = (h & np.uint64(0xFFFFFFFF)).astype(np.float64) / _TWO_32
    normal = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * math.pi * u2)
    return normal.reshape(shape)


def _sigma(value: float) -> float:
    return check_strength("noise", "sigma", value, minimum=0.0)


def apply(batch: torch.Tensor, sigma: float, seeds: torch.Tensor | None = None) -> torch.Tensor:
    """Add each sample's Gaussian noise to a uint8 ``(N, 3, H, W)`` batch, on its device."""
    check_batch(batch)
    sigma = _sigma(sigma)
    if seeds is None or seeds.shape != (batch.shape[0],):
        raise ValueError(f"noise needs one int64 seed per sample ({batch.shape[0]}), got "
                         f"{None if seeds is None else tuple(seeds.shape)}")
    if sigma == 0:
        return batch.clone()

    def add_noise(images: torch.Tensor, image_seeds: torch.Tensor) -> torch.Tensor:
        noise = standard_normal(image_seeds, tuple(images.shape[1:]))
        return to_uint8(noise.mul_(sigma).add_(images))

    return by_blocks(add_noise, batch, seeds.to(batch.device))


def reference(image: Image.Image, sigma: float, seed: int = 0) -> Image.Image:
    """The same noise added to one image, in numpy."""
    sigma = _sigma(sigma)
    chw = image_to_array(image).transpose(2, 0, 1).astype(np.float64)
    noisy = chw + sigma * standard_normal_reference(int(seed), chw.shape)
    out = np.clip(np.round(noisy), 0, 255).astype(np.uint8)
    return Image.fromarray(out.transpose(1, 2, 0))


SPEC = DegradationSpec(
    name="noise",
    description="additive Gaussian noise, deterministic per sample (sigma in 0..255 units)",
    apply=apply,
    reference=reference,
    parameter="sigma",
    aliases=("gaussian-noise", "awgn"),
    sweep=(0, 2, 5, 10, 20, 30),
    default=10,
)
