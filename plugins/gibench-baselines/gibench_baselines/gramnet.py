"""GramNet — Liu, Qi, Torr, "Global Texture Enhancement for Fake Face Detection in the Wild",
CVPR 2020 (github.com/liuzhengzhe/Global_Texture_Enhancement_for_Fake_Face_Detection_in_the-Wild;
model in ``*/resnet18_gram.py``, training in ``*/main.py``, evaluation in ``*/demo.py``).

Architecture (``resnet18_gram.py``): a torchvision-layout ResNet-18 (BasicBlock, [2, 2, 2, 2])
whose stem and residual stages are unchanged and whose ``fc`` is removed. Six texture branches
tap the image and the feature maps before each stage: the input image (3 channels), the stem
after ReLU (64), after the max-pool (64), after ``layer1`` (64), ``layer2`` (128) and ``layer3``
(256). Each branch is a 3×3 conv to 32 channels + BN + ReLU (``conv_interi_0``,
``conv_inter0_0`` … ``conv_inter4_0``), then the Gram matrix ``F Fᵀ / (C·H·W)`` of the 32
channels as a one-channel 32×32 image (``GramMatrix``), two stride-2 3×3 convs 1→16→32 + BN +
ReLU (``gi_fc1/2``, ``g0_fc1/2``, ``g_fc1r/2r``, ``g2_fc1/2`` … ``g4_fc1/2``) and global average
pooling; one learnable scalar (``scale``, initialised to 1) multiplies every branch's 32-d
texture vector. The pooled 512-d ResNet feature and the six texture vectors (704 dims) feed
``fcnewr``: Linear 704→512, ReLU, Dropout 0.5, Linear 512→2 and LogSoftmax in the original;
here Linear 512→1 (one logit, positive = generated). The Gram matrices are 32×32 whatever the
input size, so the same network runs at 512 px and at 64 px. Module names are the original's,
so its state dicts load as they are. Initialisation as the original: convs Kaiming-normal
(fan_out), BN weight 1 and bias 0, linear layers PyTorch's default, no zero-init residual.
``pretrained="imagenet"`` loads torchvision's ``IMAGENET1K_V1`` ResNet-18 into the backbone (the
original loads ``resnet18-5c106cde.pth``, torchvision's earlier file of these ImageNet weights,
with ``strict=False``), leaving the texture branches and ``fcnewr`` at their initialisation; a path
loads a local ResNet-18 state dict the same way.

Input (``main.py``, ``demo.py``): the original reads images with ``cv2.imread`` and feeds the
raw BGR pixel values, 0..255, with no mean/std normalisation (its ``transforms.Normalize`` is
defined but never applied). Here the preprocessing's mean is 0 and std 1/255, so the engine
passes 0..255 floats, and the network flips RGB to BGR as its first operation, so ImageNet and
released weights see the channel order they were trained with.

Preprocessing (``default_loader`` in ``main.py``): train — resize the image (aspect ratio
ignored) to s×s with s drawn uniformly from the integers 64..256 (``random.randint(64, 256)``),
then resize to 512×512, both with ``cv2.resize``'s default bilinear interpolation, which takes
two taps per axis and does not low-pass when shrinking (reproduced without OpenCV, fixed-point
arithmetic included, by :func:`~gibench_baselines.transforms.cv2_linear_resize`, shared with
Spec; tested equal to OpenCV's pixel for pixel); no crop, no flip. Test (``demo.py``):
``cv2.resize`` to 512×512. At a larger input size the random range scales with it; at a
reduced one (mini's 64 px) it is s ∈ [input/4, input] (16..64), see :func:`random_size_range`.
``load_size`` is not used: there is no crop.

Recipe (``pggan-celeba/main.py``, the script that starts from ImageNet weights): Adam built with
lr 3e-4 and weight decay 1e-4, but the lr is set to 1e-5 for all parameter groups before the
first step and never changed (``adjust_learning_rate`` is defined, never called), so training
runs at a constant 1e-5; batch 16 (14 in ``stylegan-ffhq/main.py``), 10 epochs (5 in the
``stylegan-*`` scripts, which fine-tune from an earlier GramNet); NLL loss on the two-class
log-softmax (here the equivalent binary cross-entropy on one logit). They keep the checkpoint
with the best score on held-out sets, evaluated after every step; the engine's model selection
stands in for it.

Checkpoints: the original saves whole pickled modules (``torch.save(model, ...)``), which
gibench does not unpickle; re-save ``model.state_dict()`` where their code is importable.
Such a state dict has our keys exactly, with ``fcnewr.3`` of shape [2, 512]; its ``module.``
prefix (DataParallel) and ``{'state_dict' | 'model' | 'net': ...}`` wrappers are accepted. The
original labels generated images 0 and real ones 1 (``main.py``: fake test sets count
``pred == 0`` as correct), so the two-class head becomes the logit ``W[0] - W[1]``.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import nn

from gibench.api import DetectorSpec, ImageOp, Preprocess, Recipe, check_state, compose, hookimpl
from gibench_baselines.transforms import cv2_linear_resize, cv2_resize
from gibench_baselines.weights import (
    download_or_explain,
    load_backbone,
    strip_prefixes,
    two_class_to_logit,
)

NAME = "gramnet"

#: The original trains and tests at 512×512 (``main.py``, ``demo.py``).
INPUT_SIZE = 512
#: ``default_loader``: ``random.randint(64, 256)``, in pixels of the 512-px input.
RANDOM_SIZE = (64, 256)
#: Class index of generated images in the original's two-class head (fake 0, real 1).
FAKE_INDEX = 0

#: Texture branches: (conv to 32 channels, first and second stride-2 conv after the Gram
#: matrix), the original's module names, with the channels of the map each branch taps.
TEXTURE_BRANCHES = (
    ("conv_interi_0", "gi_fc1", "gi_fc2", 3),    # the input image
    ("conv_inter0_0", "g0_fc1", "g0_fc2", 64),   # stem, after ReLU
    ("conv_inter1_0", "g_fc1r", "g_fc2r", 64),   # after the max-pool
    ("conv_inter2_0", "g2_fc1", "g2_fc2", 64),   # after layer1
    ("conv_inter3_0", "g3_fc1", "g3_fc2", 128),  # after layer2
    ("conv_inter4_0", "g4_fc1", "g4_fc2", 256),  # after layer3
)
TEXTURE_CHANNELS = 32
#: Keys outside the torchvision ResNet-18 backbone: ours (texture branches, scale, head) and
#: ImageNet's classifier.
HEAD_PREFIXES = tuple(f"{name}." for branch in TEXTURE_BRANCHES for name in branch[:3]) + (
    "scale.", "fcnewr.", "fc.")


class GramMatrix(nn.Module):
    """``F Fᵀ / (C·H·W)`` of a (N, C, H, W) map, as a (N, 1, C, C) image.

    Computed in float32 outside autocast: the unnormalised sum over H·W products overflows
    float16 at 512 px.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        with torch.autocast(device_type=x.device.type, enabled=False):
            feats = x.float().reshape(n, c, h * w)
            gram = torch.bmm(feats, feats.transpose(1, 2))
        return gram.div(c * h * w).unsqueeze(1)


class ScaleLayer(nn.Module):
    """One learnable scalar, initialised to 1."""

    def __init__(self, init_value: float = 1.0):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor([init_value]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def _conv_bn_relu(cin: int, cout: int, stride: int, inplace: bool) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=inplace))


@functools.cache
def gramnet_class() -> type[nn.Module]:
    """The GramNet module class, a subclass of torchvision's ``ResNet``. Defined on first use
    so that importing the plugin (``gibench list``) does not import torchvision, which takes
    seconds (it imports ``torch._dynamo``)."""
    from torchvision.models.resnet import BasicBlock, ResNet

    class GramNet(ResNet):
        """ResNet-18 with six Gram-matrix texture branches and a one-logit ``fcnewr`` head."""

        def __init__(self) -> None:
            super().__init__(BasicBlock, [2, 2, 2, 2])
            del self.fc
            self.gram = GramMatrix()
            self.scale = ScaleLayer()
            for conv, fc1, fc2, channels in TEXTURE_BRANCHES:
                self.add_module(conv, _conv_bn_relu(channels, TEXTURE_CHANNELS, 1, inplace=True))
                self.add_module(fc1, _conv_bn_relu(1, 16, 2, inplace=False))
                self.add_module(fc2, _conv_bn_relu(16, TEXTURE_CHANNELS, 2, inplace=False))
            width = 512 * BasicBlock.expansion + TEXTURE_CHANNELS * len(TEXTURE_BRANCHES)  # 704
            self.fcnewr = nn.Sequential(nn.Linear(width, 512), nn.ReLU(), nn.Dropout(0.5),
                                        nn.Linear(512, 1))
            for m in self.modules():  # the original's loop, over the new modules too
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)

        def _texture(self, index: int, x: torch.Tensor) -> torch.Tensor:
            conv, fc1, fc2, _ = TEXTURE_BRANCHES[index]
            g = self.gram(getattr(self, conv)(x))
            g = getattr(self, fc2)(getattr(self, fc1)(g))
            return self.scale(torch.flatten(self.avgpool(g), 1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x.flip(1)  # RGB → BGR: the original reads images with cv2
            stem = self.relu(self.bn1(self.conv1(x)))
            pooled = self.maxpool(stem)
            f1 = self.layer1(pooled)
            f2 = self.layer2(f1)
            f3 = self.layer3(f2)
            feats = [torch.flatten(self.avgpool(self.layer4(f3)), 1)]
            feats += [self._texture(i, t) for i, t in enumerate((x, stem, pooled, f1, f2, f3))]
            return self.fcnewr(torch.cat(feats, 1))

    return GramNet


def __getattr__(name: str) -> Any:
    if name == "GramNet":  # gibench_baselines.gramnet.GramNet, as before it was made lazy
        return gramnet_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _load_backbone_state(model: nn.Module, state: Mapping[str, torch.Tensor],
                         source: str) -> None:
    """Load a ResNet-18 state dict into the backbone; every backbone key must be there."""
    state = {k: v for k, v in state.items() if not k.startswith(HEAD_PREFIXES)}
    own = {k: v for k, v in model.state_dict().items() if not k.startswith(HEAD_PREFIXES)}
    check_state(own, state, source)
    model.load_state_dict(state, strict=False)


def build(pretrained: str | Path | None = None, input_size: int = INPUT_SIZE) -> nn.Module:
    """GramNet with a one-logit head; any ``input_size`` (the Gram matrices are 32×32)."""
    model = gramnet_class()()
    if pretrained == "imagenet":
        import torchvision

        weights = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
        state = download_or_explain(lambda: weights.get_state_dict(progress=True),
                                    weights.url.rsplit("/", 1)[-1],
                                    "ImageNet weights of torchvision's ResNet-18")
        _load_backbone_state(model, state, weights.url)
    elif pretrained is not None:
        load_backbone(model, pretrained, skip_prefixes=HEAD_PREFIXES)
    return model


def convert_state_dict(obj: Mapping[str, Any], fake_index: int = FAKE_INDEX
                       ) -> dict[str, torch.Tensor]:
    """Our ``model.pt``, or a state dict of the original ``resnet18_gram.ResNet`` (two-class
    ``fcnewr``), bare or wrapped, with or without ``module.``.

    ``fake_index`` (``--fake-class``): the class of fakes in the original head, 0 by default —
    the authors' ``main.py`` labels their generated images 0 and the real CelebA ones 1, and
    ``demo.py`` scores generated sets with ``gt = 0`` (measured side by side: |ΔP| ≤ 8.2e-7
    through each side's preprocessing). A one-logit head (ours) ignores it."""
    if fake_index not in (0, 1):
        raise ValueError(f"fake_index must be 0 or 1, not {fake_index!r}")
    state = obj
    for key in ("state_dict", "model", "net"):
        if isinstance(state.get(key), Mapping):
            state = state[key]
            break
    state = strip_prefixes(state, ("module.",))
    return two_class_to_logit(state, "fcnewr.3.weight", "fcnewr.3.bias", fake_index=fake_index)


def random_rescale(low: int, high: int) -> ImageOp:
    """Resize to s×s, s drawn uniformly from the integers ``low..high`` (inclusive)."""

    def op(img: Image.Image, rng: random.Random) -> Image.Image:
        return cv2_linear_resize(img, rng.randint(low, high))

    return op


def random_size_range(input_size: int) -> tuple[int, int]:
    """The original's 64..256 at 512 px (and above, scaled); at a reduced input size
    ``input_size // 4 .. input_size`` (16..64 at mini's 64 px).

    The original's proportion (1/8..1/2) would leave a 64-px input 8..32 px wide, where mini's
    traces are gone, and never show the network an image at full resolution; measured on mini
    (Latent A val, ``gibench run --detector gramnet --suite cross-generator``): 87.3% after 20
    epochs with 8..32, 94.3% after 10 epochs with 16..64."""
    if input_size < INPUT_SIZE:
        return max(1, input_size // 4), input_size
    low, high = (max(1, round(s * input_size / INPUT_SIZE)) for s in RANDOM_SIZE)
    return low, high


def make_train(input_size: int, load_size: int | None):
    """``default_loader``: a random low-resolution rescale, then back up to ``input_size``."""
    return compose(random_rescale(*random_size_range(input_size)), cv2_resize(input_size))


def make_eval(input_size: int, load_size: int | None):
    return compose(cv2_resize(input_size))


SPEC = DetectorSpec(
    name=NAME,
    parameters=11_734_210,
    paper="Liu, Qi, Torr, Global Texture Enhancement for Fake Face Detection in the Wild, "
          "CVPR 2020",
    year=2020, venue="CVPR",
    build=build,
    preprocess=Preprocess(
        input_size=INPUT_SIZE, load_size=None, mean=(0.0, 0.0, 0.0),
        std=(1 / 255, 1 / 255, 1 / 255), make_train=make_train, make_eval=make_eval,
        description="train: cv2-bilinear resize to s×s, s~U{64..256}, then to 512 (no crop, "
                    "no flip); eval: resize 512; raw 0..255 values, no normalisation (the "
                    "network reorders RGB to BGR)",
        any_size=True,  # the Gram matrices are 32×32 whatever the input size
    ),
    recipe=Recipe(optimizer="adam", lr=1e-5, betas=(0.9, 0.999), weight_decay=1e-4,
                  epochs=10, batch_size=16, schedule="constant",
                  notes="pggan-celeba/main.py: Adam(lr 3e-4, weight decay 1e-4) with the lr "
                        "then set to 1e-5 before training and never changed; batch 16 (14 in "
                        "stylegan-ffhq), 10 epochs from ImageNet weights; NLL on 2 classes"),
    convert_state_dict=convert_state_dict,
    aliases=("gram-net", "gram", "liu2020"),
    description="ResNet-18 with Gram-matrix global-texture branches (Gram-Net)",
    mini_notes="64-px input, same network (32×32 Gram matrices at any size); training rescales "
               "each image to s×s with s~U{16..64} and back up to 64 with non-antialiased "
               "bilinear (the original's proportion, 64..256 of 512, would be 8..32: 87.3% on "
               "Latent A val after 20 epochs, against 94.3% after 10 with 16..64)",
)


@hookimpl
def gibench_add_detectors():
    return [SPEC]
