"""DeiT-S — Touvron et al., "Training data-efficient image transformers & distillation through
attention", ICML 2021 (facebookresearch/deit): timm's ``deit_small_patch16_224`` (ViT-S/16, no
distillation token) with a one-logit head.

GenImage trained it with the authors' code (its ``detector_codes/Readme.md``: "DeiT-s:
deit-main"), so the recipe is deit ``main.py``'s defaults: AdamW, lr 5e-4 × batch / 512
(6.25e-5 at batch 64), weight decay 0.05, cosine schedule, 300 epochs, RandAugment
``rand-m9-mstd0.5-inc1``, random erasing 0.25. Not reproduced: mixup 0.8 / cutmix 1.0, label
smoothing 0.1, and repeated augmentation (see :mod:`gibench_baselines.timm_recipe`); the 5
warm-up epochs from 1e-6 are kept.

Evaluation: crop_pct 0.875 (bicubic resize 256, centre crop 224), because that is what the
authors' evaluation does: deit ``datasets.py`` ``build_transform`` — ``size =
int(args.input_size / args.eval_crop_ratio)``, ``transforms.Resize(size, interpolation=3)``,
``transforms.CenterCrop(args.input_size)`` — with ``main.py``'s ``--eval-crop-ratio`` default
0.875. timm's pretrained config for this architecture says 0.9 (timm 0.6.12's ``deit._cfg``
and 1.0.31's ``fb_in1k`` tag), which only timm's own ``train.py``/``validate.py`` would apply
(``resolve_data_config``): a DeiT-S trained with timm rather than with deit's code is
evaluated as such by ``deit-s-timm-eval`` (same model and checkpoints; its own name, so its
results never share a board with these).

Checkpoints: deit's ``{'model': ..., 'model_ema': ..., 'args': Namespace}`` as well as timm's;
deit keeps ImageNet's 1000-class head (``nb_classes = 1000`` for an ImageFolder), of which
classes 0 (``ai``) and 1 (``nature``) are the trained ones
(:func:`gibench_baselines.timm_recipe.convert_timm_checkpoint`).

At another input size the patch grid changes (64 px → 4×4 patches) and timm interpolates the
position embeddings of pretrained weights to it.
"""

from __future__ import annotations

import math

from gibench.api import Recipe, hookimpl
from gibench_baselines.timm_recipe import reference_model, timm_detector, with_eval_crop_pct

ARCH = "deit_small_patch16_224"


def _checkpoint_filter(state: dict) -> dict:
    """timm's ViT filter as its ``deit`` module registers it (``checkpoint_filter_fn`` with
    ``adapt_layer_scale=True``), against a reference at the checkpoint's own patch grid (read
    from ``pos_embed``): it maps older layouts (a flat patch projection, ``pre_logits``) and
    never resamples the position embeddings; the strict load then checks the grid against the
    model asked for."""
    from timm.models.vision_transformer import checkpoint_filter_fn

    pos = state.get("pos_embed")
    grid = math.isqrt(pos.shape[1] - 1) if pos is not None and pos.ndim == 3 else 14
    return checkpoint_filter_fn(state, reference_model(ARCH, img_size=16 * grid),
                                adapt_layer_scale=True)


SPEC = timm_detector(
    name="deit-s", arch=ARCH, head="head",
    parameters=21_666_049,
    paper="Touvron et al., Training data-efficient image transformers, ICML 2021",
    year=2021, venue="ICML",
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
    checkpoint_filter=_checkpoint_filter,
    head_classes=1000,  # the authors' build_dataset: nb_classes = 1000 for an ImageFolder
)

#: The same detector evaluated as timm's ``validate.py`` would (its pretrained config's 0.9).
SPEC_TIMM_EVAL = with_eval_crop_pct(SPEC, 0.9, "deit-s-timm-eval",
                                    "evaluated with timm's crop_pct 0.9")


@hookimpl
def gibench_add_detectors():
    return [SPEC, SPEC_TIMM_EVAL]
