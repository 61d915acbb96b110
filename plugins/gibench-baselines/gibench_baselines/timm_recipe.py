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
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from gibench_baselines.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ImageOp,
    center_crop,
    center_crop_batch,
    hflip,
    random_crop,
    resize,
    resize_batch,
    resize_center_crop,
    to_uint8_tensor,
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
    ops = (*first, hflip(0.5), rand_augment(policy, input_size))
    erase = random_erasing(erase_prob)

    def transform(img: Image.Image, rng: random.Random) -> torch.Tensor:
        img = img.convert("RGB")
        for op in ops:
            img = op(img, rng)
        return erase(to_uint8_tensor(img), rng)

    return transform


def timm_eval_transform(input_size: int, crop_pct: float):
    """Resize the shorter side to ``input_size / crop_pct`` (bicubic), centre crop."""
    scale_size = int(math.floor(input_size / crop_pct))

    def target(width: int, height: int) -> tuple[int, int]:
        if width < height:
            return scale_size, max(1, int(round(height * scale_size / width)))
        return max(1, int(round(width * scale_size / height))), scale_size

    crop = center_crop(input_size)

    def transform(img: Image.Image, rng: random.Random | None = None) -> torch.Tensor:
        img = img.convert("RGB").resize(target(*img.size), Image.Resampling.BICUBIC)
        return to_uint8_tensor(crop(img, rng))

    def batch(x: torch.Tensor) -> torch.Tensor:
        width, height = target(x.shape[-1], x.shape[-2])
        x = resize_batch(x, (height, width), Image.Resampling.BICUBIC)
        return center_crop_batch(x, input_size)

    transform.batch = batch  # type: ignore[attr-defined]
    return transform


def convert_timm_checkpoint(obj, head: str) -> dict[str, torch.Tensor]:
    """Our ``model.pt``, or a timm training checkpoint (``{'state_dict': ..., 'epoch': ...}``,
    ``state_dict_ema``, ``module.`` prefixes) with a two-class head, as GenImage trains them
    (``--num-classes 2`` over an ImageFolder of ``ai``/``nature``, so class 0 is fake): the
    head becomes the single logit ``W[0] - W[1]``, ``b[0] - b[1]``."""
    from gibench_baselines.weights import strip_prefixes, two_class_to_logit

    for key in ("state_dict", "model", "state_dict_ema"):
        if key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    state = strip_prefixes(obj, ("module.",))
    return two_class_to_logit(state, f"{head}.weight", f"{head}.bias", fake_index=0)


def timm_detector(*, name: str, arch: str, head: str, paper: str, policy: str,
                  erase_prob: float, crop_pct: float, recipe, aliases: tuple[str, ...],
                  description: str, mini_notes: str, arch_kwargs=None):
    """A :class:`DetectorSpec` for a timm-trained GenImage baseline.

    ``arch_kwargs(input_size)`` gives timm constructor arguments for an input size (e.g. the
    ViTs' ``img_size``, Swin's window); ``None`` builds at the architecture's own size.
    """
    from gibench.specs import DetectorSpec, Preprocess

    def build(pretrained: str | Path | None = None, input_size: int = 224) -> nn.Module:
        kwargs = arch_kwargs(input_size) if arch_kwargs else {}
        return create_timm_model(arch, pretrained, head, **kwargs)

    def make_train(input_size: int, load_size: int | None):
        return timm_train_transform(input_size, policy, erase_prob, load_size)

    def make_eval(input_size: int, load_size: int | None):
        if load_size:
            return resize_center_crop(input_size, load_size)
        return timm_eval_transform(input_size, crop_pct)

    return DetectorSpec(
        name=name, paper=paper, build=build,
        preprocess=Preprocess(
            input_size=224, load_size=None, mean=IMAGENET_MEAN, std=IMAGENET_STD,
            make_train=make_train, make_eval=make_eval,
            description=f"train: RandomResizedCrop 224 (0.08-1), flip, RandAugment {policy}, "
                        f"random erasing p {erase_prob} (pixel); eval: resize "
                        f"{int(224 / crop_pct)} bicubic, centre crop 224"),
        recipe=recipe,
        convert_state_dict=lambda obj: convert_timm_checkpoint(obj, head),
        aliases=aliases, description=description,
        mini_notes=f"{mini_notes}; resize 72, random 64 crop instead of RandomResizedCrop "
                   "(which rescales 0.9-3.2x at this size), flip, RandAugment, erasing; eval "
                   "resize 72, centre crop 64",
    )
