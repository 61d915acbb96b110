"""Spec — Zhang, Karaman, Chang, "Detecting and Simulating Artifacts in GAN Fake Images",
WIFS 2019 (github.com/ColumbiaDVMM/AutoGAN, ``code/GAN_Detection_Train.py``; GenImage's README
links this repository for "Spec" — its own copy under ``detector_codes/`` was not available to
check, so every fact below is from AutoGAN itself).

Input feature (AutoGAN ``GANDataset.__getitem__`` with ``--feature fft``): the image on the
0..1 scale (``uint8 / 255``), then for each colour channel of each image separately:
``log(|FFT2(x)| + 1e-3)``, normalised by that channel's own 5th and 95th percentiles
(``np.percentile``, linear interpolation, over all H×W values) to ``(v - p5) / (p95 - p5)``,
mapped to ``[-1, 1]`` by ``(v - 0.5) * 2`` and clipped to ``[-1, 1]``. The spectrum is *not*
shifted: the DC term stays at index (0, 0). Only the optional frequency bands (``--mode`` 1 low,
2 mid, 3 high; 0 "full" is the default and what ``run_training.py`` uses) shift it: after the
normalisation they ``fftshift`` the channel, zero everything outside the band, and ``fftshift``
it back. The bands are given in indices of the shifted 224×224 spectrum: low keeps
``[57:177]²``, mid keeps ``[21:203]²`` minus ``[57:177]²``, high keeps all but ``[21:203]²``; at
other sizes we scale these indices by ``size / 224`` (rounded). The ResNet receives this
feature directly (their ``Normalize`` transform is built but never applied).

Here the feature is computed inside the model's ``forward``, on the batch's device, with batched
``torch.fft.fft2`` and a sort for the percentiles — not in the data loader. The preprocessing
uses mean 0 / std 1, so the batch the model receives is already ``uint8 / 255``, exactly the
original's ``im / 255.0``. ``torch.fft`` has no bfloat16/float16 kernels on the CPU (and cuFFT's
half support is limited to powers of two), so the feature is always computed in float32 with
autocast disabled; the ResNet after it runs under the caller's autocast as usual. One guard is
ours: ``p95 - p5`` is clamped to 1e-6, so a flat channel (e.g. a constant image) gives a finite
feature where AutoGAN's numpy code divides 0 by 0.

Architecture (``GAN_Detection_Train.py``, ``--model resnet``): torchvision ResNet-34,
ImageNet-pretrained (``models.resnet34(pretrained=True)``, i.e. torchvision's
``IMAGENET1K_V1``), ``fc`` replaced by ``nn.Linear(512, 2)``; here ``nn.Linear(512, 1)`` (one
logit, positive = generated) with PyTorch's default initialisation, as theirs. Random
initialisation (``pretrained=None``) zero-initialises the last BatchNorm of each residual block
(our choice, for training from scratch on the mini dataset, as in cnnspot.py).

Preprocessing (``cycleGAN_dataset.read_image_file`` and ``GANDataset``): images are read with
``cv2.imread`` and, when the decoded image is not 256 high, resized by
``cv2.resize(image, (256, 256))`` — no interpolation argument, so OpenCV's default
``INTER_LINEAR`` (two taps per axis, no low-pass when shrinking), the aspect ratio ignored —
once, when the dataset is cached, before any crop (the same cached array feeds training and
testing). Here :func:`~gibench_baselines.transforms.cv2_resize` (OpenCV's resize pixel for
pixel, written with PyTorch; shared with GramNet) to ``load_size``×``load_size`` whenever the
image is not that size already (theirs tests the height alone, and its ``np.array`` of the
images then needs them all 256×256; their environment pins OpenCV 4.1.1, the tests compare
with the installed one). Train with ``--data_augment`` (set by ``run_training.py``):
a 224 crop at offsets ``randint(0, 32)`` in x and y, i.e. a uniformly placed random 224 crop, no
flip; test: the centre crop ``[16:240, 16:240]``.

Recipe (``GAN_Detection_Train.py`` defaults): SGD, lr 0.01, momentum 0.9, **dampening 0.9**,
weight decay 1e-4, batch 64, 10 epochs, cross-entropy. The lr is constant: their
``adjust_learning_rate`` sets ``lr = args.lr`` every epoch (the decay line,
``lr * (1 - lr_decay) ** step``, is commented out); the recipe states it as it is, dampening
included (each step is (1 - 0.9) times an undampened one). Their ``run_training.py`` overrides
batch 16 and 20 epochs, and ``run_test.py`` evaluates ``checkpoint_10.pth``, which their loop
saves after the 9th epoch; GenImage does not publish its command line, so we keep the
script's defaults (batch 64, 10 epochs).

Checkpoints: AutoGAN saves ``{'epoch': e, 'state_dict': model.state_dict()}`` with bare
torchvision ResNet-34 keys (``conv1.weight``, ..., ``fc.weight`` of shape [2, 512]). Their labels
are real = 1 and fake = 0 (``read_image_file``), so the equivalent one logit for "generated" is
``W[0] - W[1]``, ``b[0] - b[1]``; their images are BGR (``cv2.imread``), so ``conv1``'s input
channels are reversed to our RGB order. Our own ``model.pt`` has the keys ``backbone.*``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gibench.api import DetectorSpec, Preprocess, Recipe, compose, hookimpl
from gibench_baselines.transforms import center_crop, cv2_resize, random_crop
from gibench_baselines.weights import strip_prefixes, torchvision_resnet, two_class_to_logit

NAME = "spec"

#: AutoGAN's constants: the epsilon inside the log, the percentiles, the reference size of the
#: band indices and the bands themselves (``--mode`` 0..3), in shifted-spectrum indices.
LOG_EPS = 1e-3
PERCENTILES = (5.0, 95.0)
BAND_SIZE = 224
BANDS = ("full", "low", "mid", "high")
LOW_BAND = (57, 177)
MID_BAND = (21, 203)
#: Ours: the smallest percentile spread divided by (a flat channel would give 0 / 0).
MIN_SPREAD = 1e-6

LOAD_SIZE, INPUT_SIZE = 256, 224
#: The optimiser of GAN_Detection_Train.py.
AUTOGAN_LR, AUTOGAN_MOMENTUM, AUTOGAN_DAMPENING, AUTOGAN_WEIGHT_DECAY = 0.01, 0.9, 0.9, 1e-4


def _percentile(sorted_values: torch.Tensor, q: float) -> torch.Tensor:
    """``np.percentile(..., q)`` (linear interpolation) along the last, sorted dimension."""
    n = sorted_values.shape[-1]
    pos = q / 100.0 * (n - 1)
    lo = int(pos)
    frac = pos - lo
    low = sorted_values[..., lo:lo + 1]
    if frac == 0.0 or lo + 1 >= n:
        return low
    return low + (sorted_values[..., lo + 1:lo + 2] - low) * frac


def _bound(index: int, size: int) -> int:
    return int(round(index * size / BAND_SIZE))


def band_mask(band: str, height: int, width: int, device: torch.device | None = None
              ) -> torch.Tensor:
    """1 where ``band`` keeps the *shifted* spectrum, 0 elsewhere (AutoGAN ``--mode`` 1..3)."""
    if band not in BANDS:
        raise ValueError(f"band {band!r} is not one of {', '.join(BANDS)}")
    mask = torch.ones(height, width, device=device)
    if band == "full":
        return mask
    (l0, l1), (m0, m1) = LOW_BAND, MID_BAND
    rows_low = slice(_bound(l0, height), _bound(l1, height))
    cols_low = slice(_bound(l0, width), _bound(l1, width))
    rows_mid = slice(_bound(m0, height), _bound(m1, height))
    cols_mid = slice(_bound(m0, width), _bound(m1, width))
    if band == "low":
        mask.zero_()
        mask[rows_low, cols_low] = 1
    elif band == "mid":
        mask.zero_()
        mask[rows_mid, cols_mid] = 1
        mask[rows_low, cols_low] = 0
    else:  # high
        mask[rows_mid, cols_mid] = 0
    return mask


def log_spectrum(x: torch.Tensor, band: str = "full") -> torch.Tensor:
    """AutoGAN's ``fft`` feature of a batch ``(N, C, H, W)`` on the 0..1 scale, in float32.

    Per image and channel: ``log(|FFT2| + 1e-3)``, scaled by its 5th/95th percentiles to
    [-1, 1] and clipped; unshifted (DC at (0, 0)); optionally restricted to a band.
    """
    with torch.autocast(device_type=x.device.type, enabled=False):
        x = x.float()
        n, c, h, w = x.shape
        amplitude = torch.fft.fft2(x, dim=(-2, -1)).abs()
        flat = torch.log(amplitude + LOG_EPS).reshape(n, c, h * w)
        ordered = torch.sort(flat, dim=-1).values
        low, high = (_percentile(ordered, q) for q in PERCENTILES)
        feature = (flat - low) / (high - low).clamp_min(MIN_SPREAD)
        feature = ((feature - 0.5) * 2.0).clamp(-1.0, 1.0).reshape(n, c, h, w)
        if band != "full":
            mask = band_mask(band, h, w, device=x.device)
            shifted = torch.fft.fftshift(feature, dim=(-2, -1)) * mask
            feature = torch.fft.fftshift(shifted, dim=(-2, -1))  # their second fftshift
    return feature


class SpectrumResNet(nn.Module):
    """The spectrum feature of the [0, 1] batch, then a ResNet-34 with a one-logit ``fc``."""

    def __init__(self, backbone: nn.Module, band: str = "full"):
        super().__init__()
        if band not in BANDS:
            raise ValueError(f"band {band!r} is not one of {', '.join(BANDS)}")
        self.band = band
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feature = log_spectrum(x, self.band)
        if x.is_contiguous(memory_format=torch.channels_last):
            feature = feature.contiguous(memory_format=torch.channels_last)
        return self.backbone(feature)

    def extra_repr(self) -> str:
        return f"band={self.band!r}"


def build(pretrained: str | Path | None = None, input_size: int = INPUT_SIZE,
          band: str = "full") -> nn.Module:
    """Spectrum → ResNet-34 → one logit; ``input_size`` only matters through the input."""
    if band not in BANDS:
        raise ValueError(f"band {band!r} is not one of {', '.join(BANDS)}")
    backbone = torchvision_resnet("resnet34", pretrained)  # default fc init, as AutoGAN's
    return SpectrumResNet(backbone, band=band)


def _unwrap(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    for key in ("state_dict", "model", "net"):
        if key in obj and isinstance(obj[key], Mapping):
            return obj[key]
    return obj


def convert_state_dict(obj: Mapping[str, Any], bgr: bool = True,
                       fake_index: int = 0) -> dict[str, torch.Tensor]:
    """Our ``model.pt`` / ``last.pt``, or AutoGAN's ``{'epoch', 'state_dict'}`` checkpoint.

    AutoGAN's bare ResNet-34 keys get our ``backbone.`` prefix; its two-class ``fc`` becomes
    the logit of class ``fake_index`` against the other (``--fake-class``; 0 by default: AutoGAN
    labels fakes 0 and reals 1); and, with ``bgr`` (their cv2 loader), ``conv1``'s input
    channels are reversed to RGB.
    """
    if fake_index not in (0, 1):
        raise ValueError(f"fake_index must be 0 or 1, not {fake_index!r}")
    state = strip_prefixes(_unwrap(obj), ("module.",))
    if any(key.startswith("backbone.") for key in state):
        return dict(state)
    out = two_class_to_logit({f"backbone.{key}": value for key, value in state.items()},
                             "backbone.fc.weight", "backbone.fc.bias", fake_index=fake_index)
    conv1 = out.get("backbone.conv1.weight")
    if bgr and conv1 is not None and conv1.shape[1] == 3:
        out["backbone.conv1.weight"] = conv1.flip(1)
    return out


def make_train(input_size: int, load_size: int | None):
    """cv2-bilinear resize to ``load_size``², uniformly placed random crop (AutoGAN
    ``--data_augment``)."""
    return compose(cv2_resize(load_size), random_crop(input_size))


def make_eval(input_size: int, load_size: int | None):
    """cv2-bilinear resize to ``load_size``², centre crop (``[16:240]`` at 256 → 224)."""
    return compose(cv2_resize(load_size), center_crop(input_size))


SPEC = DetectorSpec(
    name=NAME,
    parameters=21_285_185,
    paper="Zhang, Karaman, Chang, Detecting and Simulating Artifacts in GAN Fake Images, "
          "WIFS 2019",
    year=2019, venue="WIFS",
    build=build,
    preprocess=Preprocess(
        input_size=INPUT_SIZE, load_size=LOAD_SIZE, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
        make_train=make_train, make_eval=make_eval,
        description="train: resize to 256×256 (cv2 bilinear), random crop 224 (no flip); "
                    "eval: resize to 256×256 (cv2 bilinear), centre crop 224; the model takes "
                    "the [0,1] batch and computes the per-channel log-amplitude spectrum on "
                    "the device",
        any_size=True,  # the spectrum has the image's size; ResNet-34 pools it globally
    ),
    recipe=Recipe(optimizer="sgd", lr=AUTOGAN_LR, momentum=AUTOGAN_MOMENTUM,
                  dampening=AUTOGAN_DAMPENING,
                  weight_decay=AUTOGAN_WEIGHT_DECAY, epochs=10, batch_size=64,
                  schedule="constant",
                  notes="AutoGAN GAN_Detection_Train.py: SGD lr 0.01, momentum 0.9, dampening "
                        "0.9, weight decay 1e-4, constant lr (decay commented out), batch 64, "
                        "10 epochs"),
    convert_state_dict=convert_state_dict,
    aliases=("autogan", "zhang2019", "spectrum"),
    description="ResNet-34 on the per-channel log-amplitude FFT spectrum (AutoGAN)",
    mini_notes="the spectrum of a 64-px crop of the 72-px image (random crop in training, "
               "centre crop in evaluation) into a ResNet-34 trained from scratch (zero-init "
               "residual BN); the feature itself is size-independent",
)


@hookimpl
def gibench_add_detectors():
    return [SPEC]
