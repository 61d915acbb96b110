"""What the three timm-trained GenImage baselines (ResNet-50, DeiT-S, Swin-T) share.

GenImage trains them with timm (its README gives the ResNet-50 command for timm 0.6.12). The
CPU-side part of timm's ImageNet training pipeline is reproduced here on uint8 tensors:
``RandomResizedCrop`` (scale 0.08–1, ratio 3/4–4/3, random bilinear/bicubic interpolation),
horizontal flip, timm's RandAugment policy string (``rand-m9-mstd0.5-inc1``) and random erasing
in ``pixel`` mode (per-pixel normal noise in normalised space, i.e. mean + std·N(0, 1) in 0..255
space); evaluation resizes to ``input_size / crop_pct`` (bicubic) and takes the centre crop.

At a reduced scale (the engine gives a ``load_size``: the mini budget's 72-px images at 64 px)
the image is resized to the load size and a random ``input_size`` crop replaces
``RandomResizedCrop``; flip, RandAugment and random erasing stay; evaluation resizes to the load
size and takes the centre crop, so both see the same scale. Measured on mini (ResNet-50, three
epochs, Latent A val): with RandomResizedCrop 52.9% (chance) — at 64 px its 0.08–1 area range
rescales every crop by 0.9–3.2×, which resamples away traces that live at a few pixels — and
91.3% with the random crop (99.5% with crop and flip only).

Not reproduced, and said so in each recipe's notes: mixup/cutmix and label smoothing (the engine
trains one logit with binary cross-entropy on hard labels), AugMix-style ``--aug-splits 3
--jsd`` (one view per image) and repeated augmentation.

Checkpoints (:func:`convert_timm_checkpoint`): our ``model.pt``, and what the code GenImage
trained them with saves — timm's ``CheckpointSaver`` (``model_best.pth.tar``, ``last.pth.tar``:
``{'state_dict': ..., 'args': Namespace}``), DeiT's ``main.py`` (``{'model': ..., 'args': ...}``)
and Swin-Transformer's ``save_checkpoint`` (``{'model': ..., 'config': CfgNode}``; the layout of
timm 0.6.12, which downsamples at the end of a stage). Every file passes through the
architecture's own timm filter function, so a layout timm has renamed since loads as timm
itself would load it.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from gibench.api import GibenchError, ImageOp, batch_of, compose, to_uint8_tensor, with_batch
from gibench_baselines.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    center_crop,
    hflip,
    random_crop,
    resize,
    resize_center_crop,
    resize_shorter,
)
from gibench_baselines.weights import download_or_explain, load_backbone


def create_timm_model(arch: str, pretrained: str | Path | None, head: str,
                      **kwargs) -> nn.Module:
    """A timm architecture with a one-logit head; ImageNet weights only when asked.

    ``pretrained="imagenet"`` downloads timm's weights (offline: names the file to place);
    a path loads a local backbone state dict (the classifier ``head`` keys are ignored).
    """
    import timm

    if pretrained == "imagenet":
        model = download_or_explain(
            lambda: timm.create_model(arch, pretrained=True, num_classes=1, **kwargs),
            f"the timm weights of {arch} (model.safetensors from the Hugging Face hub, "
            f"timm/{arch})", f"ImageNet weights of timm's {arch}")
        return model
    model = timm.create_model(arch, pretrained=False, num_classes=1, **kwargs)
    if pretrained is not None:
        load_backbone(model, pretrained, skip_prefixes=(head,))
    return model


def random_resized_crop(size: int, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)) -> ImageOp:
    """timm/torchvision ``RandomResizedCrop`` with timm's ``random`` interpolation
    (bilinear or bicubic at random), drawing from the given ``rng``."""
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))

    def op(img: Image.Image, rng: random.Random) -> Image.Image:
        width, height = img.size
        area = width * height
        box = None
        for _ in range(10):
            target = area * rng.uniform(*scale)
            aspect = math.exp(rng.uniform(*log_ratio))
            w = int(round(math.sqrt(target * aspect)))
            h = int(round(math.sqrt(target / aspect)))
            if 0 < w <= width and 0 < h <= height:
                x, y = rng.randint(0, width - w), rng.randint(0, height - h)
                box = (x, y, x + w, y + h)
                break
        if box is None:  # fallback: centre crop at the clamped ratio
            in_ratio = width / height
            if in_ratio < ratio[0]:
                w, h = width, int(round(width / ratio[0]))
            elif in_ratio > ratio[1]:
                h, w = height, int(round(height * ratio[1]))
            else:
                w, h = width, height
            x, y = (width - w) // 2, (height - h) // 2
            box = (x, y, x + w, y + h)
        resample = rng.choice((Image.Resampling.BILINEAR, Image.Resampling.BICUBIC))
        return img.resize((size, size), resample, box=box)

    return op


def _posterize(img: Image.Image, bits_to_keep: int, **_) -> Image.Image:
    """timm's posterize as it behaved with Pillow < 13: keeping 0 bits gives a black image
    (Pillow 13 raises instead, and timm's ``PosterizeIncreasing`` reaches 0 at magnitude 10)."""
    from PIL import ImageOps

    if bits_to_keep >= 8:
        return img
    if bits_to_keep <= 0:
        return Image.new(img.mode, img.size)
    return ImageOps.posterize(img, bits_to_keep)


def rand_augment(policy: str, input_size: int) -> ImageOp:
    """timm's RandAugment for a policy string such as ``rand-m9-mstd0.5-inc1``.

    timm draws from Python's and NumPy's global generators; they are seeded from ``rng`` for
    each image, so the result depends only on the sample's seed (worker processes each have
    their own globals).
    """
    from timm.data.auto_augment import rand_augment_transform

    hparams = {"translate_const": int(input_size * 0.45),
               "img_mean": tuple(round(255 * m) for m in IMAGENET_MEAN)}
    augment = rand_augment_transform(policy, hparams)
    for aug_op in augment.ops:
        if aug_op.aug_fn.__name__ == "posterize":
            aug_op.aug_fn = _posterize

    def op(img: Image.Image, rng: random.Random) -> Image.Image:
        seed = rng.getrandbits(32)
        random.seed(seed)
        np.random.seed(seed)
        return augment(img)

    return op


def random_erasing(probability: float, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                   scale=(0.02, 1 / 3), ratio=(0.3, 3.3)
                   ) -> Callable[[torch.Tensor, random.Random], torch.Tensor]:
    """timm's ``RandomErasing(mode='pixel', max_count=1)`` on a uint8 CHW tensor: one box
    (area 2–33 %, aspect 0.3–3.3) filled with per-pixel noise ``mean + std·N(0, 1)`` — exactly
    timm's N(0, 1) fill in normalised space, expressed in 0..255."""
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    mean_t = torch.tensor(mean).view(3, 1, 1) * 255
    std_t = torch.tensor(std).view(3, 1, 1) * 255

    def op(x: torch.Tensor, rng: random.Random) -> torch.Tensor:
        if rng.random() >= probability:
            return x
        _, height, width = x.shape
        for _ in range(10):
            target = height * width * rng.uniform(*scale)
            aspect = math.exp(rng.uniform(*log_ratio))
            h = int(round(math.sqrt(target * aspect)))
            w = int(round(math.sqrt(target / aspect)))
            if w < width and h < height:
                top, left = rng.randint(0, height - h), rng.randint(0, width - w)
                gen = torch.Generator().manual_seed(rng.getrandbits(63))
                noise = torch.randn((3, h, w), generator=gen) * std_t + mean_t
                x = x.clone()
                x[:, top:top + h, left:left + w] = noise.round().clamp(0, 255).to(torch.uint8)
                return x
        return x

    return op


def timm_train_transform(input_size: int, policy: str, erase_prob: float,
                         load_size: int | None = None):
    """RandomResizedCrop → flip → RandAugment → uint8 tensor → random erasing (timm's order).

    With a ``load_size`` (a reduced scale, see the module doc): resize to it and take a random
    ``input_size`` crop instead of RandomResizedCrop."""
    first = ((resize(load_size), random_crop(input_size)) if load_size
             else (random_resized_crop(input_size),))
    return compose(*first, hflip(0.5), rand_augment(policy, input_size),
                   then=random_erasing(erase_prob))


def timm_eval_transform(input_size: int, crop_pct: float):
    """Resize the shorter side to ``floor(input_size / crop_pct)`` (bicubic), centre crop.

    What every one of the authors' evaluations does for a square input: timm 0.6.12's and
    1.0.31's ``transforms_imagenet_eval`` (``scale_size = math.floor(img_size / crop_pct)``,
    then torchvision's ``Resize(scale_size)`` — timm's ``ResizeKeepRatio`` serves non-square
    targets or ``crop_mode='border'`` only), DeiT's ``build_transform``
    (``Resize(int(input_size / eval_crop_ratio), interpolation=3)``) and Swin-Transformer's
    (``Resize(int(256 / 224 * IMG_SIZE))``). torchvision truncates the longer side
    (``int(size * long / short)``): 500×332, ImageNet's typical shape, becomes 385×256, not
    the rounded 386×256. The batched form computes the same size from the batch's shape.
    """
    resize_op = resize_shorter(math.floor(input_size / crop_pct), Image.Resampling.BICUBIC)
    crop = center_crop(input_size)

    def transform(img: Image.Image, rng: random.Random | None = None) -> torch.Tensor:
        return to_uint8_tensor(crop(resize_op(img.convert("RGB"), rng), rng))

    resize_batch, crop_batch = batch_of(resize_op), batch_of(crop)

    def batch(x: torch.Tensor) -> torch.Tensor:
        return crop_batch(resize_batch(x))

    return with_batch(transform, batch)


def _eval_description(crop_pct: float, input_size: int = 224) -> str:
    return (f"eval: resize {math.floor(input_size / crop_pct)} bicubic (crop_pct {crop_pct:g}), "
            f"centre crop {input_size}")


def _make_eval(crop_pct: float):
    """``Preprocess.make_eval``: timm's evaluation transform, or at a reduced scale (a
    ``load_size``) resize to it and take the centre crop (see the module doc)."""

    def make_eval(input_size: int, load_size: int | None):
        if load_size:
            return resize_center_crop(input_size, load_size)
        return timm_eval_transform(input_size, crop_pct)

    return make_eval


#: The class index of fake images in the two-class heads of GenImage's timm-trained baselines.
#: All three trainings label by sorted folder name over GenImage's ``ai``/``nature``, so
#: ``ai`` = 0: timm 0.6.12's ``train.py`` (``create_dataset`` → ``ParserImageFolder``:
#: ``sorted_labels = list(sorted(unique_labels, key=natural_key))``), DeiT's and
#: Swin-Transformer's ``build_dataset`` (``datasets.ImageFolder(root, ...)``, whose
#: ``find_classes`` sorts the folder names). ``--fake-class 1`` overrides it.
FAKE_INDEX = 0


def reference_model(arch: str, **kwargs) -> nn.Module:
    """A timm architecture on the meta device (shapes only, no memory, no initialisation
    cost): what a timm checkpoint filter reads to know the target layout."""
    import timm

    with torch.device("meta"):
        return timm.create_model(arch, pretrained=False, **kwargs)


def convert_timm_checkpoint(obj: Mapping[str, Any], head: str, fake_index: int = FAKE_INDEX,
                            checkpoint_filter: Callable[[dict], dict] | None = None,
                            head_classes: int = 2) -> dict[str, torch.Tensor]:
    """A timm-trained baseline's checkpoint as our one-logit state dict.

    ``obj``: our ``model.pt``, or a training checkpoint — timm's ``{'state_dict': ...}`` (and
    ``state_dict_ema``), DeiT's and Swin-Transformer's ``{'model': ...}`` — with or without
    DataParallel's ``module.`` prefixes. ``checkpoint_filter`` is the architecture's timm
    filter (e.g. Swin's, which maps timm 0.6.12's and the Swin authors' layout to today's).

    A classifier head becomes the single logit ``W[f] - W[r]``, ``b[f] - b[r]`` with ``f =
    fake_index``, ``r = 1 - f``: ``sigmoid`` of it is the two-class softmax's "fake"
    probability. ``head_classes`` is the head's size in the authors' training: 2 for timm's
    ``train.py --num-classes 2``; 1000 for DeiT's and Swin-Transformer's code, which keep
    ImageNet's head (their ``build_dataset`` returns ``nb_classes = 1000`` for an
    ImageFolder, which GenImage's two folders fill with labels 0 and 1 only). Of such a head
    rows 0 and 1 are the trained classes and the logit is the softmax restricted to them: the
    authors' top-1 decision whenever one of the two has the highest score, as training drives
    the 998 unused rows down. Two-row heads are always read; any other size is left for the
    strict load to refuse. A one-logit head is kept as it is.
    """
    from gibench_baselines.weights import strip_prefixes, two_class_to_logit

    if fake_index not in (0, 1):
        raise ValueError(f"fake_index {fake_index}: a two-class head's fake class is 0 or 1")
    for key in ("state_dict", "model", "state_dict_ema"):
        if key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
            break
    state = strip_prefixes(obj, ("module.",))
    if checkpoint_filter is not None:
        try:
            state = checkpoint_filter(state)
        except (RuntimeError, ValueError, KeyError, AttributeError, AssertionError) as exc:
            raise GibenchError(f"the checkpoint does not fit this architecture (timm's "
                               f"checkpoint filter failed: {type(exc).__name__}: {exc})") from exc
    weight, bias = f"{head}.weight", f"{head}.bias"
    if head_classes > 2 and weight in state and state[weight].shape[0] == head_classes:
        state[weight] = state[weight][:2]
        if bias in state:
            state[bias] = state[bias][:2]
    return two_class_to_logit(state, weight, bias, fake_index=fake_index)


def timm_detector(*, name: str, arch: str, head: str, paper: str, year: int, venue: str,
                  policy: str, erase_prob: float, crop_pct: float, recipe,
                  aliases: tuple[str, ...], description: str, mini_notes: str,
                  parameters: int | None = None,
                  arch_kwargs=None,
                  checkpoint_filter: Callable[[dict], dict] | None = None,
                  head_classes: int = 2):
    """A :class:`DetectorSpec` for a timm-trained GenImage baseline.

    ``arch_kwargs(input_size)`` gives timm constructor arguments for an input size (e.g. the
    ViTs' ``img_size``, Swin's window); ``None`` builds at the architecture's own size.
    ``checkpoint_filter(state)`` applies the architecture's timm filter function (``None``:
    timm has none for it, its layout never changed); ``head_classes`` the classifier's size in
    the authors' training (see :func:`convert_timm_checkpoint`). The converter takes
    ``fake_index`` (``--fake-class``), :data:`FAKE_INDEX` by default. ``parameters`` is the
    declared :attr:`DetectorSpec.parameters` at 224 px.
    """
    from gibench.api import DetectorSpec, Preprocess

    def build(pretrained: str | Path | None = None, input_size: int = 224) -> nn.Module:
        kwargs = arch_kwargs(input_size) if arch_kwargs else {}
        return create_timm_model(arch, pretrained, head, **kwargs)

    def make_train(input_size: int, load_size: int | None):
        return timm_train_transform(input_size, policy, erase_prob, load_size)

    def convert(obj: Mapping[str, Any], fake_index: int = FAKE_INDEX) -> dict[str, torch.Tensor]:
        return convert_timm_checkpoint(obj, head, fake_index, checkpoint_filter, head_classes)

    return DetectorSpec(
        name=name, paper=paper, year=year, venue=venue, build=build, parameters=parameters,
        preprocess=Preprocess(
            input_size=224, load_size=None, mean=IMAGENET_MEAN, std=IMAGENET_STD,
            make_train=make_train, make_eval=_make_eval(crop_pct),
            description=f"train: RandomResizedCrop 224 (0.08-1), flip, RandAugment {policy}, "
                        f"random erasing p {erase_prob} (pixel); {_eval_description(crop_pct)}"),
        recipe=recipe,
        convert_state_dict=convert,
        aliases=aliases, description=description,
        mini_notes=f"{mini_notes}; resize 72, random 64 crop instead of RandomResizedCrop "
                   "(which rescales 0.9-3.2x at this size), flip, RandAugment, erasing; eval "
                   "resize 72, centre crop 64",
    )


def with_eval_crop_pct(spec, crop_pct: float, name: str, why: str):
    """``spec`` evaluated at another ``crop_pct``, under its own ``name`` so that its results
    never share a board with the original's; training, architecture and checkpoints are the
    same (the mini scale, which never uses ``crop_pct``, too). ``why`` joins the description.
    """
    train_part = spec.preprocess.description.split("; eval:")[0]
    preprocess = dataclasses.replace(
        spec.preprocess, make_eval=_make_eval(crop_pct),
        description=f"{train_part}; {_eval_description(crop_pct)}")
    return dataclasses.replace(spec, name=name, aliases=(), preprocess=preprocess,
                               description=f"{spec.description}, {why}")
