"""DeiT-S — Touvron et al., "Training data-efficient image transformers & distillation through
attention", ICML 2021 (facebookresearch/deit): timm's ``deit_small_patch16_224`` (ViT-S/16, no
distillation token) with a one-logit head.

Recipe (deit ``main.py`` defaults; the GenImage paper does not publish its own): AdamW, lr
5e-4 × batch / 512 (6.25e-5 at batch 64), weight decay 0.05, cosine schedule, 300 epochs,
RandAugment ``rand-m9-mstd0.5-inc1``, random erasing 0.25, bicubic evaluation resize at
crop ratio 0.875 (256 → 224). Not reproduced: mixup 0.8 / cutmix 1.0, label smoothing 0.1,
and repeated augmentation (see :mod:`gibench_baselines.timm_recipe`); the 5 warm-up epochs
from 1e-6 are kept.
At another input size the patch grid changes (64 px → 4×4 patches) and timm interpolates the
position embeddings of pretrained weights to it.
"""

from __future__ import annotations

from gibench.hookspecs import hookimpl
from gibench.specs import Recipe
from gibench_baselines.timm_recipe import timm_detector

SPEC = timm_detector(
    name="deit-s", arch="deit_small_patch16_224", head="head",
    paper="Touvron et al., Training data-efficient image transformers, ICML 2021",
    policy="rand-m9-mstd0.5-inc1", erase_prob=0.25, crop_pct=0.875,
    recipe=Recipe(optimizer="adamw", lr=5e-4 * 64 / 512, betas=(0.9, 0.999),
                  weight_decay=0.05, epochs=300, batch_size=64, schedule="cosine",
                  from_pretrained=False, warmup_epochs=5, warmup_lr=1e-6,
                  notes="facebookresearch/deit: AdamW, lr 5e-4 x batch/512, wd 0.05, cosine, "
                        "300 epochs, 5 warm-up epochs from 1e-6; no mixup/cutmix, smoothing or "
                        "repeated aug here"),
    aliases=("deit", "deit-small", "deit_small_patch16_224", "vit-s"),
    description="DeiT-Small/16 vision transformer (timm)",
    mini_notes="64-px input: 4x4 patches of 16 px, position embeddings sized (and, for "
               "pretrained weights, interpolated) to that grid",
    arch_kwargs=lambda size: {"img_size": size},
)


@hookimpl
def gibench_add_detectors():
    return [SPEC]
