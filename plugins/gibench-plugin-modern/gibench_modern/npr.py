"""NPR — Tan, Liu, Zhao, Wei, Gu, Liu, Wei, "Rethinking the Up-Sampling Operations in CNN-based
Generative Network for Generalizable Deepfake Detection", CVPR 2024
(github.com/chuangchuangtan/NPR-DeepfakeDetection; every fact below is from that repository).

Input (``networks/resnet.py``, ``ResNet.forward``): the neighbouring-pixel relationship
``NPR = x − up(down(x))``, ``down`` and ``up`` being ``F.interpolate`` by 0.5 and by 2 with
``mode='nearest'`` and ``recompute_scale_factor=True`` (so ``up(down(x))[i, j] =
x[2·(i//2), 2·(j//2)]``), on the ImageNet-normalised image; the network receives
``NPR · 2/3``. Odd heights or widths lose their last row/column first (their README's fix for
native-size evaluation; without it their forward fails on odd sizes; it never changes an even
input such as the 224 crops).

Architecture: the truncated ResNet-50 of :mod:`gibench_modern.trunk` with ``fc1:
Linear(512, 1)``, trained from scratch (their ``Trainer`` builds ``resnet50(pretrained=False,
num_classes=1)``): 1,437,761 parameters.

Preprocessing — their README's GenImage setting (the Table of GenImage results: train on SD
V1.4, test on the other subsets): ``data/datasets.py`` with the resize replaced by
``translate_duplicate`` (an image whose shorter side is under the crop size is tiled until
both sides reach it; nothing is resampled), then training: ``RandomCrop(224)`` and
``RandomHorizontalFlip``; evaluation (``no_crop=False``): ``CenterCrop(224)``; then
``ToTensor`` and ImageNet ``Normalize``. No blur/JPEG augmentation (``blur_prob = jpg_prob =
0``). Their native-size protocol (``no_resize``/``no_crop`` with batch 1, for
AIGCDetectBenchmark) is ``--eval-transform native`` here: the engine batches images of one
size together, which for a model in eval mode gives batch 1's logits.

Recipe (README, GenImage): ``train.py --batch_size 32 --lr 0.0002 --niter 1 --cropSize 224
--classes sdv4``: Adam (β = 0.9, 0.999, no weight decay), BCE-with-logits, one epoch, seed 70.
The lr is multiplied by 0.9 every ``--delr_freq`` epochs (default 20; 10 in their ForenSynths
command), irrelevant for one epoch: declared as ``schedule="step"``. Their loop decays after
the epoch whose 0-based index is a positive multiple of ``delr_freq`` (after epochs 21, 41...
counted from 1); the core's ``step`` schedule decays after epochs 20, 40...

Checkpoints: ``NPR.pth`` (and ``model_epoch_last_3090.pth``) are plain state dicts with these
module names (``conv1.*``, ``bn1.*``, ``layer1.*``, ``layer2.*``, ``fc1.*``); their
``validate.py`` also reads ``{'model': state_dict}``; both load here, as does our own
``model.pt`` (the same names).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from gibench.api import (
    DetectorSpec,
    Preprocess,
    Recipe,
    compose,
    hookimpl,
)
from gibench_modern.ops import centre_crop, hflip, random_crop, tile
from gibench_modern.trunk import TruncatedResNet, load_from_scratch_model

NAME = "npr"
INPUT_SIZE = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: The factor on the residual before ``conv1`` (their ``NPR*2.0/3.0``).
RESIDUAL_SCALE = 2.0 / 3.0
PARAMETERS = 1_437_761


def nearest_reconstruction(x: torch.Tensor) -> torch.Tensor:
    """``up(down(x))``: nearest-neighbour downsampling by 2 and back (their ``interpolate``)."""
    half = F.interpolate(x, scale_factor=0.5, mode="nearest", recompute_scale_factor=True)
    return F.interpolate(half, scale_factor=2.0, mode="nearest", recompute_scale_factor=True)


def even_crop(x: torch.Tensor) -> torch.Tensor:
    """Drop the last row / column of an odd-sized batch (their README's native-size fix)."""
    height, width = x.shape[-2:]
    return x[..., : height - height % 2, : width - width % 2]


def npr_residual(x: torch.Tensor) -> torch.Tensor:
    """The neighbouring-pixel relationship ``x − up(down(x))`` of an even-sized batch."""
    return x - nearest_reconstruction(x)


class NPR(TruncatedResNet):
    """NPR residual × 2/3 → truncated ResNet-50 → one logit (positive = generated)."""

    def __init__(self) -> None:
        super().__init__(num_classes=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = even_crop(x)
        return super().forward(npr_residual(x) * RESIDUAL_SCALE)


def convert_state_dict(obj: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Their plain state dict (``NPR.pth``), their ``{'model': state_dict}``, a
    ``DataParallel`` copy (``module.`` prefix) or our ``model.pt``: all the same names."""
    state = obj.get("model", obj) if isinstance(obj.get("model"), Mapping) else obj
    return {k.removeprefix("module."): v for k, v in state.items()}


def build(pretrained: str | Path | None = None, input_size: int = INPUT_SIZE) -> NPR:
    """NPR, randomly initialised as theirs (it trains from scratch: there is no ImageNet
    backbone to start from). ``pretrained``: a path to an NPR checkpoint in any layout
    :func:`convert_state_dict` reads (e.g. their ``NPR.pth``)."""
    return load_from_scratch_model(NPR(), pretrained, "NPR", convert_state_dict)


def make_train(input_size: int, load_size: int | None):
    """Tile to at least ``input_size`` (``translate_duplicate``), random crop, random flip."""
    return compose(tile(input_size), random_crop(input_size), hflip(0.5))


def make_eval(input_size: int, load_size: int | None):
    """Tile to at least ``input_size``, centre crop (their GenImage evaluation)."""
    return compose(tile(input_size), centre_crop(input_size))


SPEC = DetectorSpec(
    name=NAME,
    paper="Tan et al., Rethinking the Up-Sampling Operations in CNN-based Generative Network "
          "for Generalizable Deepfake Detection, CVPR 2024",
    year=2024, venue="CVPR",
    build=build,
    preprocess=Preprocess(
        input_size=INPUT_SIZE, load_size=None, mean=IMAGENET_MEAN, std=IMAGENET_STD,
        make_train=make_train, make_eval=make_eval, any_size=True, unit_first=True,
        description="no resize: an image smaller than the crop is tiled (translate_duplicate); "
                    "train: random crop 224 + flip; eval: centre crop 224 (their GenImage "
                    "setting); ImageNet normalisation; the model computes x − up(down(x)) "
                    "(nearest) on the device"),
    recipe=Recipe(optimizer="adam", lr=2e-4, betas=(0.9, 0.999), epochs=1, batch_size=32,
                  schedule="step", step_epochs=20, step_gamma=0.9, from_pretrained=False,
                  notes="NPR README, GenImage: Adam lr 2e-4, batch 32, 1 epoch (--niter 1), "
                        "BCE, from scratch; lr × 0.9 every --delr_freq (20) epochs"),
    convert_state_dict=convert_state_dict,
    aliases=("tan2024", "npr-cvpr2024"),
    description="neighbouring-pixel residual x − up(down(x)) into a ResNet-50 truncated "
                "after layer2 (1.44 M parameters)",
    mini_notes="the residual of a 64-px crop of the 72-px image (no resize, as theirs) into "
               "the truncated ResNet trained from scratch for their one epoch at their lr; "
               "mini's Nearest fakes are 2×2 pixel blocks on the grid, so at the even eval "
               "crop offset their residual is exactly zero: a model trained on Latent A "
               "(whose fakes have more residual energy than the reals) calls them real",
    parameters=PARAMETERS,
)


@hookimpl
def gibench_add_detectors():
    return [SPEC]
