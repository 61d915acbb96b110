"""Swin-T — Liu et al., "Swin Transformer: Hierarchical Vision Transformer using Shifted
Windows", ICCV 2021 (microsoft/Swin-Transformer): timm's ``swin_tiny_patch4_window7_224``
(patch 4, window 7, depths 2-2-6-2, 96 channels) with a one-logit head.

GenImage trained it with the authors' code (its ``detector_codes/Readme.md``: "Swin-T:
Swin-Transformer-main"), so the recipe is Swin-Transformer's ``config.py`` /
``swin_tiny_patch4_window7_224.yaml``: AdamW, lr 1e-3 for batch 1024 (6.25e-5 at batch 64),
weight decay 0.05, cosine schedule, 300 epochs, RandAugment ``rand-m9-mstd0.5-inc1``, random
erasing 0.25, 20 warm-up epochs from 5e-7 (per 512 images). Not reproduced: mixup/cutmix and
label smoothing (see :mod:`gibench_baselines.timm_recipe`).

Evaluation: crop_pct 0.875 (bicubic resize 256, centre crop 224), because that is what the
authors' evaluation does: Swin-Transformer ``data/build.py`` ``build_transform`` with
``TEST.CROP`` True (the default) — ``size = int((256 / 224) * config.DATA.IMG_SIZE)``,
``transforms.Resize(size, interpolation=_pil_interp(config.DATA.INTERPOLATION))`` (bicubic),
``transforms.CenterCrop(config.DATA.IMG_SIZE)``. timm's pretrained config says 0.9 (timm
0.6.12's ``swin_transformer._cfg`` and 1.0.31's ``ms_in1k`` tag), which only timm's own
``train.py``/``validate.py`` would apply: a Swin-T trained with timm is evaluated as such by
``swin-t-timm-eval`` (same model and checkpoints; its own name and board).

Checkpoints: Swin-Transformer's ``{'model': ..., 'config': CfgNode}`` (the authors' layout,
identical to timm 0.6.12's: 190 keys, downsampling at the end of a stage, ``head.``,
persistent ``relative_position_index`` and ``attn_mask``) and timm's of any version, through
timm's own filter. Swin-Transformer keeps ImageNet's 1000-class head (``nb_classes = 1000``
for an ImageFolder), of which classes 0 (``ai``) and 1 (``nature``) are the trained ones
(:func:`gibench_baselines.timm_recipe.convert_timm_checkpoint`).

At another input size the window must divide the feature maps: at 64 px the stages are 16, 8,
4 and 2 tokens wide, so the window is 4 (timm shrinks it to 2, unshifted, in the last stage).
"""

from __future__ import annotations

import math

from gibench.api import Recipe, hookimpl
from gibench_baselines.timm_recipe import reference_model, timm_detector, with_eval_crop_pct

ARCH = "swin_tiny_patch4_window7_224"
STAGES = 4


def _arch_kwargs(size: int) -> dict:
    """The largest window (≤ 7, the paper's) dividing the third stage's map, which then
    divides the first two; timm shrinks it in a last stage smaller than the window."""
    third = size // 4 // 4
    window = next(w for w in (7, 6, 5, 4, 3, 2, 1) if third % w == 0)
    return {"img_size": size, "window_size": window}


def _window(state: dict, stage: int) -> int:
    """A stage's window in a checkpoint, from its first block's relative-position table
    (``(2w - 1)²`` rows; the same key in every layout); 7 when absent."""
    table = state.get(f"layers.{stage}.blocks.0.attn.relative_position_bias_table")
    return 7 if table is None else (math.isqrt(table.shape[0]) + 1) // 2


def _checkpoint_filter(state: dict) -> dict:
    """timm's Swin filter (``swin_transformer.checkpoint_filter_fn``): the authors' and timm
    0.6.12's layout to today's (downsampling moved to the start of the next stage, ``head.`` →
    ``head.fc.``, the non-persistent buffers dropped). The reference has the checkpoint's own
    window in each stage, wide enough that timm shrinks none, so the filter renames and drops
    but never resizes a relative-position table; the strict load then checks the windows
    against the model asked for."""
    from timm.models.swin_transformer import checkpoint_filter_fn

    windows = tuple(_window(state, stage) for stage in range(STAGES))
    reference = reference_model(ARCH, img_size=32 * max(windows), window_size=windows)
    return checkpoint_filter_fn(state, reference)


SPEC = timm_detector(
    name="swin-t", arch=ARCH, head="head.fc",
    parameters=27_520_123,
    paper="Liu et al., Swin Transformer, ICCV 2021",
    year=2021, venue="ICCV",
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
    checkpoint_filter=_checkpoint_filter,
    head_classes=1000,  # the authors' build_dataset: nb_classes = 1000 for an ImageFolder
)

#: The same detector evaluated as timm's ``validate.py`` would (its pretrained config's 0.9).
SPEC_TIMM_EVAL = with_eval_crop_pct(SPEC, 0.9, "swin-t-timm-eval",
                                    "evaluated with timm's crop_pct 0.9")


@hookimpl
def gibench_add_detectors():
    return [SPEC, SPEC_TIMM_EVAL]
