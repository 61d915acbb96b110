"""The truncated ResNet-50 that NPR and SAFE share (both authors' ``networks/resnet.py`` /
``models/resnet.py``: the same class, different inputs).

- ``conv1``: 3×3, stride 2, padding 1, no bias (ResNet-50's is 7×7), 64 channels; ``bn1``,
  ReLU, 3×3 max-pool with stride 2;
- ``layer1``: three bottlenecks of width 64 (256 out), ``layer2``: four of width 128 (512 out),
  the first with stride 2 on its 3×3 convolution (torchvision's v1.5 bottleneck, as theirs);
  no ``layer3``/``layer4``;
- global average pooling and ``fc1: Linear(512, num_classes)`` (NPR one logit, SAFE two).

Initialisation as theirs: Kaiming-normal (fan-out, ReLU) convolutions, BatchNorm weight 1 and
bias 0, PyTorch's default for ``fc1``; no zero-initialised residual BatchNorm (their
``zero_init_residual`` defaults to False). Parameter names are theirs (``conv1.*``, ``bn1.*``,
``layer1.0.conv1.weight``..., ``fc1.*``), so their state dicts load unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.models.resnet import Bottleneck

from gibench.api import GibenchError, load_checkpoint, load_state_into

#: ResNet-50's bottleneck counts of the two stages kept.
BLOCKS = (3, 4)
WIDTHS = (64, 128)
FEATURES = WIDTHS[-1] * Bottleneck.expansion  # 512


def _stage(inplanes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    out = planes * Bottleneck.expansion
    downsample = None
    if stride != 1 or inplanes != out:
        downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride=stride, bias=False),
                                   nn.BatchNorm2d(out))
    layers = [Bottleneck(inplanes, planes, stride, downsample)]
    layers += [Bottleneck(out, planes) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


class TruncatedResNet(nn.Module):
    """ResNet-50 up to ``layer2`` with a 3×3 stride-2 stem and a ``Linear(512, n)`` head."""

    def __init__(self, num_classes: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        inplanes = 64
        for i, (planes, blocks) in enumerate(zip(WIDTHS, BLOCKS, strict=True)):
            setattr(self, f"layer{i + 1}", _stage(inplanes, planes, blocks, 1 if i == 0 else 2))
            inplanes = planes * Bottleneck.expansion
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(FEATURES, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        return self.fc1(torch.flatten(self.avgpool(x), 1))


def load_from_scratch_model(model: nn.Module, pretrained: str | Path | None, name: str,
                            convert: Callable[[Mapping[str, Any]], dict[str, torch.Tensor]]
                            ) -> nn.Module:
    """``model`` as built (random, as its authors train it), or with the weights of the
    checkpoint at ``pretrained`` read through ``convert``; ``"imagenet"`` is refused: neither
    NPR's nor SAFE's stem has ImageNet weights."""
    if pretrained == "imagenet":
        raise GibenchError(f"{{pretrained=}}imagenet: {name} trains from scratch (its 3×3 stem "
                           "and truncated ResNet have no ImageNet weights); give a path to a "
                           f"{name} checkpoint instead", params=["pretrained"])
    if pretrained is not None:
        load_state_into(model, convert(load_checkpoint(pretrained)), str(pretrained))
    return model
