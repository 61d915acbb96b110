"""CNNSpot — Wang et al., "CNN-generated images are surprisingly easy to spot... for now",
CVPR 2020 (github.com/PeterWang512/CNNDetection).

Architecture: torchvision ResNet-50 whose ``fc`` is replaced by a 2048→1 linear layer (one
logit, positive = generated). ImageNet-pretrained in the paper; here ``pretrained="imagenet"``
downloads torchvision's ``IMAGENET1K_V1`` weights (the ones CNNDetection starts from), a path
loads a local backbone state dict, and ``None`` starts from random initialisation with the last
BatchNorm of every residual block zero-initialised (Goyal et al. 2017), which lets a ResNet-50
learn from scratch in the few epochs of the mini dataset; pretrained weights replace it.

Preprocessing (CNNDetection ``data/datasets.py``, ``binary_dataset``): its resize,
``custom_resize``, is torchvision's ``TF.resize(img, loadSize, interpolation=Image.BILINEAR)``
on the PIL image, an integer size: the *shorter* side becomes ``loadSize`` 256 and the aspect
ratio is kept (a 500×332 image becomes 385×256), with Pillow's bilinear filter (antialiased when
shrinking; ``--rz_interp`` defaults to bilinear and the released models' training commands do not
change it); here :func:`~gibench_baselines.transforms.resize_shorter`. Train — that resize,
``data_augment`` (Gaussian blur σ ~ U[0, 3] with p = 0.5, then JPEG at quality 30..100 with
p = 0.5), ``RandomCrop(224)``, ``RandomHorizontalFlip``. Test, as ``validate.py`` runs it (and
``train.py``'s validation): the same resize, then ``CenterCrop(224)``. ImageNet mean/std.
Mini's images are 72×72 squares, for which the shorter-side resize to 72 is a squash to 72×72,
so mini results are those of a square resize.

CNNDetection's ``eval.py``, the script behind the paper's test tables, sets ``no_resize``: it
crops the native-size image to 224 (the "224" columns of its README), or, with ``--no_crop
--batch_size 1``, feeds the whole native-size image (the "No crop" columns, which its README
recommends). That is an evaluation-preprocessing policy (native size, batched by size) that the
engine does not offer yet; the transform here is ``validate.py``'s.

Recipe (CNNDetection ``train.py`` / ``options``): Adam, lr 1e-4, β1 0.9, batch 64; early stopping
on held-out accuracy with patience 5 epochs: the lr is divided by 10 on a plateau and training
stops when it falls below 1e-6. The epoch cap of 100 is ours (early stopping ends runs first).

Checkpoints: CNNDetection releases ``{'model': state_dict, ...}`` (``blur_jpg_prob0.5.pth``,
``blur_jpg_prob0.1.pth``) with torchvision ResNet-50 keys and ``fc.weight`` of shape [1, 2048];
``module.``-prefixed keys (DataParallel) are accepted; a bare state dict too.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gibench.api import DetectorSpec, Preprocess, Recipe, compose, hookimpl
from gibench_baselines.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    blur_jpeg_augment,
    center_crop,
    hflip,
    random_crop,
    resize_shorter,
)
from gibench_baselines.weights import strip_prefixes, torchvision_resnet

NAME = "cnnspot"


def build(pretrained: str | Path | None = None, input_size: int = 224) -> nn.Module:
    """ResNet-50 with a one-logit ``fc``; see the module docstring for ``pretrained``."""
    model = torchvision_resnet("resnet50", pretrained)
    # CNNDetection (networks/trainer.py) draws the new head's weight from N(0, init_gain = 0.02)
    # and leaves its bias at nn.Linear's default, U(-1/sqrt(2048), 1/sqrt(2048)).
    nn.init.normal_(model.fc.weight, 0.0, 0.02)
    return model


def convert_state_dict(obj: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Our ``model.pt`` (a state dict) or CNNDetection's ``{'model': state_dict}``."""
    state = obj["model"] if "model" in obj and isinstance(obj["model"], Mapping) else obj
    return strip_prefixes(state, ("module.",))


#: CNNDetection's blur σ range, in pixels of its 256-px ``loadSize`` images.
BLUR_SIGMA = (0.0, 3.0)
LOAD_SIZE, INPUT_SIZE = 256, 224


def make_eval(input_size: int, load_size: int | None):
    """``validate.py``'s transform: the shorter side to ``load_size`` (aspect ratio kept,
    bilinear), then the centre ``input_size`` crop."""
    return compose(resize_shorter(load_size), center_crop(input_size))


def make_train(input_size: int, load_size: int | None):
    """CNNDetection's training transform at a given scale: shorter side to ``load_size``,
    blur/JPEG, random crop, flip.

    The blur σ is measured in pixels of the 256-px images it was designed for, so at another
    scale it scales with the image: at the mini budget (72-px loads) σ ~ U[0, 0.84]. JPEG
    quality does not depend on scale and stays 30..100.
    """
    scale = (load_size or input_size * LOAD_SIZE / INPUT_SIZE) / LOAD_SIZE
    sigma = (BLUR_SIGMA[0] * scale, BLUR_SIGMA[1] * scale)
    return compose(resize_shorter(load_size), blur_jpeg_augment(0.5, sigma, 0.5, (30, 100)),
                   random_crop(input_size), hflip(0.5))


SPEC = DetectorSpec(
    name=NAME,
    parameters=23_510_081,
    paper="Wang et al., CNN-generated images are surprisingly easy to spot... for now, "
          "CVPR 2020",
    year=2020, venue="CVPR",
    build=build,
    preprocess=Preprocess(
        input_size=224, load_size=256, mean=IMAGENET_MEAN, std=IMAGENET_STD,
        make_train=make_train, make_eval=make_eval,
        description="train: shorter side to 256 (aspect kept), blur σ~U[0,3] (p 0.5), JPEG "
                    "q 30-100 (p 0.5), random crop 224, flip; eval (validate.py): shorter side "
                    "to 256, centre crop 224",
        # global average pooling: any input size (CNNDetection's eval.py --no_crop feeds whole
        # images one at a time; --eval-transform native does that, batched by size)
        any_size=True,
    ),
    recipe=Recipe(optimizer="adam", lr=1e-4, betas=(0.9, 0.999), epochs=100, batch_size=64,
                  schedule="plateau", patience=5, min_lr=1e-6,
                  notes="CNNDetection: Adam 1e-4, batch 64, early stopping (lr/10 on plateau, "
                        "stop below 1e-6)"),
    convert_state_dict=convert_state_dict,
    aliases=("cnndetection", "wang2020", "cnn-spot"),
    description="ResNet-50 with blur+JPEG augmentation (CNNDetection)",
    mini_notes="64-px crops of 72-px images, blur σ scaled to the image (U[0, 0.84]), "
               "from scratch (zero-init residual BN)",
)


@hookimpl
def gibench_add_detectors():
    return [SPEC]
