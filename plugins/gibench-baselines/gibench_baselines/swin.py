"""Swin-T — Liu et al., "Swin Transformer: Hierarchical Vision Transformer using Shifted
Windows", ICCV 2021 (microsoft/Swin-Transformer): timm's ``swin_tiny_patch4_window7_224``
(patch 4, window 7, depths 2-2-6-2, 96 channels) with a one-logit head.

Recipe (Swin-Transformer ``config.py`` / ``swin_tiny_patch4_window7_224.yaml``; the GenImage
paper does not publish its own): AdamW, lr 1e-3 for batch 1024 (6.25e-5 at batch 64), weight
decay 0.05, cosine schedule, 300 epochs, RandAugment ``rand-m9-mstd0.5-inc1``, random erasing
0.25, bicubic evaluation resize 256 → centre crop 224, 20 warm-up epochs from 5e-7 (per 512
images). Not reproduced: mixup/cutmix and label smoothing (see
:mod:`gibench_baselines.timm_recipe`).
At another input size the window must divide the feature maps: at 64 px the stages are 16, 8,
4 and 2 tokens wide, so the window is 4 (timm shrinks it to 2, unshifted, in the last stage).
"""

from __future__ import annotations

from gibench.hookspecs import hookimpl
from gibench.specs import Recipe
from gibench_baselines.timm_recipe import timm_detector


def _arch_kwargs(size: int) -> dict:
    """The largest window (≤ 7, the paper's) dividing the third stage's map, which then
    divides the first two; timm shrinks it in a last stage smaller than the window."""
    third = size // 4 // 4
    window = next(w for w in (7, 6, 5, 4, 3, 2, 1) if third % w == 0)
    return {"img_size": size, "window_size": window}


SPEC = timm_detector(
    name="swin-t", arch="swin_tiny_patch4_window7_224", head="head.fc",
    paper="Liu et al., Swin Transformer, ICCV 2021",
    policy="rand-m9-mstd0.5-inc1", erase_prob=0.25, crop_pct=0.875,
    recipe=Recipe(optimizer="adamw", lr=1e-3 * 64 / 1024, betas=(0.9, 0.999),
                  weight_decay=0.05, epochs=300, batch_size=64, schedule="cosine",
                  from_pretrained=False, warmup_epochs=20, warmup_lr=5e-7 * 64 / 512,
                  notes="microsoft/Swin-Transformer: AdamW, lr 1e-3 per 1024 images, wd 0.05, "
                        "cosine, 300 epochs, 20 warm-up epochs from 5e-7 per 512 images; no "
                        "mixup/cutmix or smoothing here"),
    aliases=("swin", "swin-tiny", "swin_tiny_patch4_window7_224"),
    description="Swin-Tiny hierarchical vision transformer (timm)",
    mini_notes="64-px input: feature maps 16/8/4/2, window 4 (2 in the last stage)",
    arch_kwargs=_arch_kwargs,
)


@hookimpl
def gibench_add_detectors():
    return [SPEC]
