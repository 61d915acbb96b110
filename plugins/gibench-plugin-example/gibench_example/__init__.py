"""A minimal third-party gibench plugin, using the four registration hooks from the outside.

- a detector, ``example-cnn``: a three-layer CNN with a one-logit head;
- a generator subset, ``example-folder``, of a new dataset ``example``: any folder laid out as
  ``<root>/example_gen/{train,val}/{ai,nature}``;
- a degradation, ``gamma``: gamma correction, with a batched torch implementation that runs on
  the device and a PIL reference implementation that the tests compare it with;
- a suite, ``self-consistency``: the model evaluated clean and under one degradation, and the
  accuracy it loses per subset — written against the documented suite API
  (:class:`gibench.suite.SuiteContext`) alone.

CONTRIBUTING.md walks through this file.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch import nn

import gibench
from gibench.api import (
    CLEAN,
    DegradationSpec,
    DetectorSpec,
    Preprocess,
    Recipe,
    SubsetSpec,
    SuiteContext,
    SuiteSpec,
)

__version__ = "0.1.0"


# --- the detector -----------------------------------------------------------------------------
def build(pretrained=None, input_size: int = 64) -> nn.Module:
    """Three conv blocks, global average pooling, one logit (positive = generated)."""
    if pretrained is not None:
        raise ValueError("example-cnn has no pretrained weights")
    layers: list[nn.Module] = []
    channels = 3
    for width in (16, 32, 64):
        layers += [nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                   nn.MaxPool2d(2)]
        channels = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 1))


def _to_tensor(img: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1)
                            .copy())


def make_train(input_size: int, load_size: int | None):
    def transform(img: Image.Image, rng: random.Random) -> torch.Tensor:
        img = img.convert("RGB").resize((input_size, input_size), Image.Resampling.BILINEAR)
        if rng.random() < 0.5:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return _to_tensor(img)

    return transform


def make_eval(input_size: int, load_size: int | None):
    def transform(img: Image.Image, rng: random.Random) -> torch.Tensor:
        return _to_tensor(img.convert("RGB").resize((input_size, input_size),
                                                    Image.Resampling.BILINEAR))

    return transform


DETECTOR = DetectorSpec(
    name="example-cnn",
    paper="gibench example plugin",
    build=build,
    preprocess=Preprocess(input_size=64, load_size=None, mean=(0.5, 0.5, 0.5),
                          std=(0.25, 0.25, 0.25), make_train=make_train, make_eval=make_eval,
                          description="bilinear resize to the input size, random flip"),
    recipe=Recipe(optimizer="adam", lr=1e-3, epochs=5, batch_size=32),
    convert_state_dict=lambda obj: dict(obj),
    description="a three-layer CNN (example plugin)",
)

# --- the generator subset ---------------------------------------------------------------------
SUBSET = SubsetSpec(name="example-folder", display_name="Example folder", family="any",
                    dataset="example", folders=("example_gen",),
                    description="<root>/example_gen/{train,val}/{ai,nature}")


# --- the degradation --------------------------------------------------------------------------
def gamma_apply(batch: torch.Tensor, strength: float, seeds: torch.Tensor | None = None
                ) -> torch.Tensor:
    """uint8 (N, 3, H, W) on any device → the same with ``255 · (x / 255) ** strength``."""
    x = batch.float().div(255.0).pow(strength)
    return x.mul(255.0).round().clamp(0, 255).to(torch.uint8)


def gamma_reference(image: Image.Image, strength: float, seed: int | None = None
                    ) -> Image.Image:
    """The same through a PIL lookup table (the CPU reference)."""
    table = [int(np.clip(np.round(255.0 * (v / 255.0) ** strength), 0, 255))
             for v in range(256)]
    return image.convert("RGB").point(table * 3)


DEGRADATION = DegradationSpec(name="gamma", description="gamma correction x ** strength",
                              apply=gamma_apply, reference=gamma_reference,
                              parameter="gamma", paper_settings=(0.5, 2.0))


# --- the suite --------------------------------------------------------------------------------
def self_consistency_run(ctx: SuiteContext) -> None:
    """Train (or load) one model; evaluate every test subset clean and under one degradation:
    the first ``--degradation`` given, else gamma 2.0. Writes ``consistency.csv``."""
    setting = ctx.degradations[0] if ctx.degradations else ctx.setting("gamma", 2.0)
    ctx.check_available([] if ctx.weights_given else [ctx.train_subset])
    ctx.check_available(ctx.test_subsets)
    model = ctx.model_for(ctx.train_subset)
    for subset in ctx.test_subsets:
        ctx.evaluate_settings(model, subset, [CLEAN, setting])
    ctx.write_csv("consistency.csv", accuracy_drop(ctx.results()))


def accuracy_drop(results: pd.DataFrame) -> pd.DataFrame:
    """Per test subset: the clean accuracy, the degraded one and the difference (points)."""
    clean = results[results["degradation"] == "none"].set_index("test_subset")["acc"]
    degraded = results[results["degradation"] != "none"]
    return pd.DataFrame({
        "test_subset": degraded["test_subset"].to_numpy(),
        "degradation": degraded["degradation"].to_numpy(),
        "acc_clean": clean.loc[degraded["test_subset"]].to_numpy(),
        "acc_degraded": degraded["acc"].to_numpy(),
    }).assign(drop=lambda f: f["acc_clean"] - f["acc_degraded"])


def self_consistency_render(results: pd.DataFrame, subsets: Sequence[SubsetSpec]) -> str:
    names = {s.name: s.display_name for s in subsets}
    lines = ["## Self-consistency", "",
             "| Subset | Degradation | Clean acc (%) | Degraded acc (%) | Drop (points) |",
             "|---|---|---:|---:|---:|"]
    for row in accuracy_drop(results).itertuples():
        lines.append(f"| {names.get(row.test_subset, row.test_subset)} | {row.degradation} | "
                     f"{row.acc_clean:.1f} | {row.acc_degraded:.1f} | {row.drop:.1f} |")
    return "\n".join(lines) + "\n"


SUITE = SuiteSpec(name="self-consistency",
                  description="clean vs one degradation (gamma 2.0 or the first --degradation): "
                              "the accuracy lost per subset (example plugin)",
                  run=self_consistency_run, render=self_consistency_render)


# --- the hooks: all a plugin needs --------------------------------------------------------------
@gibench.hookimpl
def gibench_add_detectors():
    return [DETECTOR]


@gibench.hookimpl
def gibench_add_subsets():
    return [SUBSET]


@gibench.hookimpl
def gibench_add_degradations():
    return [DEGRADATION]


@gibench.hookimpl
def gibench_add_suites():
    return [SUITE]
