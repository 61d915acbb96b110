"""SAFE — Li, Cai, Hao, Jiang, Hu, Feng, "Improving Synthetic Image Detection Towards
Generalization: An Image Transformation Perspective", KDD 2025 (github.com/Ouxiang-Li/SAFE;
every fact below is from that repository: ``models/resnet.py``, ``data/datasets.py``,
``main_finetune.py``, ``utils.py``, ``scripts/train.sh``, ``scripts/eval.sh``).

Input (``ResNet._preprocess_dwt``): a one-level 2-D discrete wavelet transform of the image
on the 0..1 scale (``ToTensor`` only: no ``Normalize``), wavelet ``bior1.3``, ``mode=
'symmetric'`` (``pytorch_wavelets.DWTForward(J=1, ...)``), of which the high-high (diagonal)
band ``Yh[0][:, :, 2]`` — ``(H + 5) // 2`` pixels a side — is resized back to the input's size
(torchvision ``Resize``: bilinear, ``align_corners=False``; enlarging, so its antialiasing
does nothing). Here the transform is PyWavelets' filter bank run batched on the device by
``ptwt`` (``wavedec2``, ``level=1``, the ``d`` band), in float32 with autocast off; the tests
compare it with ``pywt.dwt2``.

Architecture: the truncated ResNet-50 of :mod:`gibench_modern.trunk` with their two-class
``fc1: Linear(512, 2)`` (1,438,274 parameters), trained from scratch (``resnet50(num_classes
=2)``, no pretrained weights). The module returns the one logit ``z_fake − z_real`` (their
labels: ``0_real`` = 0, ``1_fake`` = 1; ``softmax(z)[1] = sigmoid(z_1 − z_0)``, which is the
score their ``evaluate`` ranks by), so their state dict loads unchanged.

Preprocessing (``--transform_mode crop``, ``--input_size 256``): training
``RandomCrop(256, pad_if_needed=True)``, ``RandomHorizontalFlip``, ``RandomRotation(180)``
(nearest, no expansion, zero fill), ``ColorJitter(0.5, 0.5, 0.5)`` (brightness, contrast,
saturation in a random order), ``ToTensor``, then ``RandomMask(ratio=(0, 0.75),
patch_size=16, p=0.5)`` (zeroes random 16×16 cells, at most 75% of the image); evaluation
``CenterCrop(256)`` at native resolution (an image smaller than 256 is zero-padded centred,
torchvision's rule), ``ToTensor``.

Recipe (``scripts/train.sh`` on 4 GPUs × batch 32 with ``main_finetune.py``'s defaults):
AdamW, ``blr 1e-2`` → lr ``1e-2 × 128 / 256 = 5e-3``, weight decay 0.01 (not on biases and
norms in theirs), one epoch of linear warm-up from 0 then a half-cosine to ``min_lr`` 1e-6
per iteration, 20 epochs, cross-entropy with label smoothing 0.1, best checkpoint on their
validation set. The engine trains one logit with BCE (equivalent to two-class cross-entropy
without smoothing) and decays every parameter: the differences are in ``Recipe.notes``.

Checkpoints: ``checkpoint/checkpoint-best.pth`` is their ``utils.save_model`` dict —
``{'model': state_dict, 'optimizer', 'epoch', 'scaler', 'args'}`` — whose ``'model'`` has the
trunk's names (``conv1.*``, ``layer1.*``..., ``fc1.weight`` of shape (2, 512)). Their
``'args'`` is an ``argparse.Namespace``, which a ``weights_only`` load refuses: save the
``'model'`` entry alone to load their file here (the tests write both layouts).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image, ImageEnhance

from gibench.api import (
    DetectorSpec,
    Preprocess,
    Recipe,
    compose,
    hookimpl,
)
from gibench_modern.ops import centre_crop, hflip, random_crop
from gibench_modern.trunk import TruncatedResNet, load_from_scratch_model

NAME = "safe"
INPUT_SIZE = 256
WAVELET = "bior1.3"
WAVELET_MODE = "symmetric"
PARAMETERS = 1_438_274
#: their labels: 0_real → 0, 1_fake → 1
FAKE_INDEX = 1
#: RandomMask(ratio=(0.00, 0.75), patch_size=16, p=0.5)
MASK_RATIO, MASK_PATCH, MASK_P = (0.0, 0.75), 16, 0.5
JITTER = 0.5


def hh_band(x: torch.Tensor) -> torch.Tensor:
    """The high-high band of a one-level ``bior1.3`` DWT (symmetric padding) of a batch
    ``(N, C, H, W)``: ``(N, C, (H + 5) // 2, (W + 5) // 2)``, in float32."""
    import ptwt
    import pywt

    with torch.autocast(device_type=x.device.type, enabled=False):
        _, (_, _, diagonal) = ptwt.wavedec2(x.float(), pywt.Wavelet(WAVELET), level=1,
                                            mode=WAVELET_MODE)
    return diagonal


def wavelet_input(x: torch.Tensor) -> torch.Tensor:
    """SAFE's input: the HH band resized (bilinear) back to the batch's own size."""
    band = hh_band(x)
    return F.interpolate(band, size=tuple(x.shape[-2:]), mode="bilinear", align_corners=False)


class SAFE(TruncatedResNet):
    """DWT high-high band → truncated ResNet-50 → two classes → one logit (fake − real)."""

    def __init__(self, fake_index: int = FAKE_INDEX) -> None:
        super().__init__(num_classes=2)
        self.fake_index = fake_index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feature = wavelet_input(x)
        if x.is_contiguous(memory_format=torch.channels_last):
            feature = feature.contiguous(memory_format=torch.channels_last)
        z = super().forward(feature)
        return (z[:, self.fake_index] - z[:, 1 - self.fake_index]).unsqueeze(1)


def convert_state_dict(obj: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Their ``{'model': state_dict, ...}`` (``checkpoint-best.pth``; also ``'model_ema'``
    when that is all there is), a ``module.``-prefixed copy, or our ``model.pt``."""
    state = obj
    for key in ("model", "model_ema"):
        if isinstance(obj.get(key), Mapping):
            state = obj[key]
            break
    return {k.removeprefix("module."): v for k, v in state.items()}


def build(pretrained: str | Path | None = None, input_size: int = INPUT_SIZE) -> SAFE:
    """SAFE, randomly initialised as theirs; ``pretrained``: a path to a SAFE checkpoint."""
    return load_from_scratch_model(SAFE(), pretrained, "SAFE", convert_state_dict)


# --- their training augmentations ---------------------------------------------------------------
def rotate(degrees: float = 180.0):
    """``RandomRotation(degrees)``: an angle uniform in ±degrees, nearest, same size, zero fill."""

    def op(img: Image.Image, rng: random.Random) -> Image.Image:
        return img.rotate(rng.uniform(-degrees, degrees), resample=Image.Resampling.NEAREST)

    return op


def colour_jitter(strength: float = JITTER):
    """``ColorJitter(brightness=s, contrast=s, saturation=s)``: factors uniform in
    ``[1 − s, 1 + s]``, applied in a random order (PIL's enhancers, as torchvision's PIL path)."""
    enhancers = (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color)

    def op(img: Image.Image, rng: random.Random) -> Image.Image:
        order = list(range(len(enhancers)))
        rng.shuffle(order)
        factors = [rng.uniform(1 - strength, 1 + strength) for _ in enhancers]
        for i in order:
            img = enhancers[i](img).enhance(factors[i])
        return img

    return op


def random_mask(x: torch.Tensor, rng: random.Random, ratio: tuple[float, float] = MASK_RATIO,
                patch: int = MASK_PATCH, p: float = MASK_P) -> torch.Tensor:
    """Their ``RandomMask``: with probability ``p``, zero ``int(H·W·r / patch²)`` distinct
    ``patch``×``patch`` cells of the grid, ``r`` uniform in ``ratio``."""
    if rng.random() > p:
        return x
    height, width = x.shape[-2:]
    rows, cols = height // patch, width // patch
    count = min(int(height * width * rng.uniform(*ratio) / patch ** 2), rows * cols)
    cells: set[tuple[int, int]] = set()
    while len(cells) < count:
        cells.add((rng.randint(0, rows - 1), rng.randint(0, cols - 1)))
    out = x.clone()
    for r, c in cells:
        out[..., r * patch:(r + 1) * patch, c * patch:(c + 1) * patch] = 0
    return out


def make_train(input_size: int, load_size: int | None):
    """Random crop (padded if needed), flip, rotation, colour jitter, random 16-px mask."""
    return compose(random_crop(input_size, pad_if_needed=True), hflip(0.5), rotate(180.0),
                   colour_jitter(JITTER), then=random_mask)


def make_eval(input_size: int, load_size: int | None):
    """``CenterCrop(input_size)`` at native resolution (centred zero padding when smaller)."""
    return compose(centre_crop(input_size))


SPEC = DetectorSpec(
    name=NAME,
    paper="Li et al., Improving Synthetic Image Detection Towards Generalization: An Image "
          "Transformation Perspective, KDD 2025",
    year=2025, venue="KDD",
    build=build,
    preprocess=Preprocess(
        input_size=INPUT_SIZE, load_size=None, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
        make_train=make_train, make_eval=make_eval, any_size=True, unit_first=True,
        description="no resize: train random crop 256 (padded if smaller), flip, rotation "
                    "±180°, colour jitter 0.5, random 16-px masks; eval centre crop 256 "
                    "(torchvision, centred zero padding); 0..1 scale; the model takes the "
                    "bior1.3 HH band on the device"),
    recipe=Recipe(optimizer="adamw", lr=5e-3, weight_decay=0.01, epochs=20, batch_size=128,
                  schedule="cosine", warmup_epochs=1, warmup_lr=0.0, from_pretrained=False,
                  notes="SAFE scripts/train.sh: AdamW blr 1e-2 × 128/256 = 5e-3 (4 GPUs × 32), "
                        "wd 0.01, 1 warm-up epoch, cosine per step, 20 epochs; theirs: label "
                        "smoothing 0.1 and no decay on biases/norms (not here)"),
    convert_state_dict=convert_state_dict,
    aliases=("li2025", "safe-kdd2025"),
    description="bior1.3 wavelet HH band into a ResNet-50 truncated after layer2, two-class "
                "head (1.44 M parameters)",
    mini_notes="the HH band of a 64-px crop of the 72-px image (no resize, as theirs) into the "
               "truncated ResNet trained from scratch, at most 3 of their 20 epochs with "
               "their warm-up and cosine compressed into them; the HH band is tiny (the first "
               "BatchNorm sees a variance of ~1e-4), and mini's 71 steps leave BatchNorm's "
               "running variance still near 0.9^71 of its initial 1.0: in eval mode every "
               "image scores real; with --batch-size 16 (8× the updates) it reaches 99.1% on "
               "Latent A (the README's mini results)",
    parameters=PARAMETERS,
)


@hookimpl
def gibench_add_detectors():
    return [SPEC]
