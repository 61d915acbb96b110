"""``blur``: the GenImage paper's Gaussian blur (settings sigma 3 and 5).

Interpretation (the paper publishes no code): CNNDetection's blur, which the detectors of the
paper's era were trained and tested with (``data/datasets.py`` of PeterWang512/CNNDetection)::

    gaussian_filter(img[:, :, c], output=img[:, :, c], sigma=sigma)   # c = 0, 1, 2

on the uint8 ``(H, W, 3)`` array, in place. scipy filters axis 0 (rows) then axis 1, each with
the 1-D kernel ``exp(-x² / 2σ²)`` normalised to sum 1, radius ``int(4σ + 0.5)`` (``truncate``
4.0), borders mode ``'reflect'`` (half-sample symmetric: ``dcba|abcd``). Because the output is
the uint8 array itself, each pass's double-precision result is *truncated* to uint8: after the
first pass, which the second pass then reads, and after the second. The result is on average
about one grey level darker than ``round(gaussian_filter(float image))``.

We keep this truncation, deliberately: it is what the peer code produces, and we make the
device implementation reproduce it exactly rather than choose a rounding nobody used. sigma 0
is the identity (scipy skips an axis whose sigma is ``<= 1e-15``).

- CPU reference: exactly CNNDetection's three calls above.
- Device: the same arithmetic in float64 torch ops: the kernel computed as scipy computes it;
  the border built by indexing (``dcba|abcd``, mirrored again for radii longer than the
  image, as scipy does); the sum accumulated in scipy's order (centre tap, then the outermost
  symmetric pair inwards, ``acc += (x[i-j] + x[i+j]) · w[j]``, one rounding per operation);
  floor after each pass. The result is bit-identical to scipy on the CPU (tests assert equal
  pixels); on CUDA, where the same separate IEEE operations run, the GPU test asserts the same.
  Batched over the ``N × 3`` channel planes (on the CPU over cache-sized blocks of planes,
  ``common.by_blocks``), one loop over the ``radius + 1`` taps per pass (21 for sigma 5).
  float64 is needed for the exact match: a float32 convolution would put flat regions a hair
  under their integer value and truncate them one level down.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from gibench.degradations.common import by_blocks, check_batch, check_strength, image_to_array
from gibench.specs import DegradationSpec


def gaussian_weights(sigma: float) -> list[float]:
    """scipy's 1-D Gaussian kernel for ``sigma`` (``truncate`` 4.0), as float64 values."""
    radius = int(4.0 * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * x ** 2)
    return (phi / phi.sum()).tolist()


def _mirror_index(n: int, radius: int, device: torch.device) -> torch.Tensor:
    """Indices of a length-``n`` line extended by ``radius`` on each side, half-sample
    symmetric (``dcba|abcd|dcba``), periodic with period ``2n`` for long radii."""
    index = torch.arange(-radius, n + radius, device=device) % (2 * n)
    return torch.where(index >= n, 2 * n - 1 - index, index)


def _truncating_pass(x: torch.Tensor, weights: list[float], dim: int) -> torch.Tensor:
    """One scipy ``correlate1d`` pass along ``dim`` of float64 ``x``, truncated as a uint8
    output array truncates it (``x`` holds non-negative values)."""
    radius = (len(weights) - 1) // 2
    n = x.shape[dim]
    padded = x.index_select(dim, _mirror_index(n, radius, x.device))
    acc = x * weights[radius]
    pair = torch.empty_like(x)
    for j in range(radius, 0, -1):
        torch.add(padded.narrow(dim, radius - j, n), padded.narrow(dim, radius + j, n),
                  out=pair)
        acc += pair.mul_(weights[radius - j])
    return acc.floor_()


def _sigma(value: float) -> float:
    return check_strength("blur", "sigma", value, minimum=0.0)


def apply(batch: torch.Tensor, sigma: float, seeds: torch.Tensor | None = None) -> torch.Tensor:
    """Blur a uint8 ``(N, 3, H, W)`` batch with CNNDetection's semantics, on its device."""
    check_batch(batch)
    sigma = _sigma(sigma)
    if sigma <= 1e-15:
        return batch.clone()
    weights = gaussian_weights(sigma)

    def blur_planes(planes: torch.Tensor) -> torch.Tensor:  # (P, H, W) uint8
        x = _truncating_pass(planes.to(torch.float64), weights, dim=1)  # scipy's axis 0 first
        return _truncating_pass(x, weights, dim=2).to(torch.uint8)

    return by_blocks(blur_planes, batch.reshape(-1, *batch.shape[2:])).reshape(batch.shape)


def reference(image: Image.Image, sigma: float, seed: int | None = None) -> Image.Image:
    """CNNDetection's ``gaussian_blur``: scipy, per channel, in place on the uint8 array."""
    from scipy.ndimage import gaussian_filter

    sigma = _sigma(sigma)
    img = image_to_array(image).copy()
    for c in range(3):
        gaussian_filter(img[:, :, c], output=img[:, :, c], sigma=sigma)
    return Image.fromarray(img)


SPEC = DegradationSpec(
    name="blur",
    description="Gaussian blur, CNNDetection's scipy call (uint8 truncation) (GenImage)",
    apply=apply,
    reference=reference,
    parameter="sigma",
    paper_settings=(3, 5),
    aliases=("gaussian-blur", "gblur"),
    sweep=(0, 0.5, 1, 2, 3, 4, 5),
    default=3,
)
