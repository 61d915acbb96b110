"""ResNet-50 — He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, as the
GenImage paper trains it: timm's ``resnet50`` architecture with a two-class head (one logit here).

Recipe: the GenImage README's timm command (timm 0.6.12) —
``train.py --model resnet50 --sched cosine --epochs 200 --lr 0.05 --amp --remode pixel
--reprob 0.6 --aug-splits 3 --aa rand-m9-mstd0.5-inc1 --resplit --jsd --dist-bn reduce
--num-classes 2 -b 64`` — with timm's defaults for what it leaves out: SGD with Nesterov momentum
0.9, weight decay 2e-5, 224-px RandomResizedCrop, flip. timm's default warm-up (3 epochs,
linear from 1e-4) is kept. Not reproduced: ``--aug-splits 3 --jsd`` (AugMix consistency over
three views) and label smoothing (see :mod:`gibench_baselines.timm_recipe`).

Evaluation: what that ``train.py`` evaluates with — ``data_config =
resolve_data_config(vars(args), model=model)`` and ``crop_pct=data_config['crop_pct']`` for
the eval loader, i.e. timm 0.6.12's ``resnet50`` config (``interpolation='bicubic',
crop_pct=0.95``; 1.0.31's ``a1_in1k`` says the same): bicubic resize of the shorter side to
235, centre crop 224. ImageNet normalisation.

Checkpoints: timm's ``CheckpointSaver`` files (``model_best.pth.tar``) with the two-class head
of ``--num-classes 2``, class 0 = ``ai`` (``timm_recipe.FAKE_INDEX``). timm has no checkpoint
filter for ResNets: the state-dict layout of timm 0.6.12's ``resnet50`` is today's.
At mini size it runs at 64 px (the network is fully convolutional).
"""

from __future__ import annotations

from gibench.api import Recipe, hookimpl
from gibench_baselines.timm_recipe import timm_detector

SPEC = timm_detector(
    name="resnet50", arch="resnet50", head="fc",
    parameters=23_510_081,
    paper="He et al., Deep Residual Learning for Image Recognition, CVPR 2016",
    year=2016, venue="CVPR",
    policy="rand-m9-mstd0.5-inc1", erase_prob=0.6, crop_pct=0.95,
    recipe=Recipe(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=2e-5, epochs=200,
                  batch_size=64, schedule="cosine", from_pretrained=False,
                  warmup_epochs=3, warmup_lr=1e-4,
                  notes="GenImage README timm command: SGD (timm default, momentum 0.9, wd "
                        "2e-5), lr 0.05, cosine, 200 epochs, batch 64, timm's default warm-up "
                        "(3 epochs from 1e-4); no JSD or label smoothing here"),
    aliases=("resnet-50", "r50"),
    description="ResNet-50 binary classifier (timm)",
    mini_notes="64-px input, same architecture (fully convolutional)",
)


@hookimpl
def gibench_add_detectors():
    return [SPEC]
