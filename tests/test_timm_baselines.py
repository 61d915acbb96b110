"""ResNet-50, DeiT-S and Swin-T: the timm-trained GenImage baselines."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from PIL import Image

from gibench.outputs import load_state_into
from gibench.plugins import get_registry
from gibench_baselines.timm_recipe import random_erasing, timm_eval_transform

# Reference counts with a one-logit head: timm 1.0.31 (shared/reference/baselines.md: resnet50
# 23.51 M, deit_small_patch16_224 21.67 M, swin_tiny_patch4_window7_224 27.52 M), i.e.
# ImageNet counts (25.56 M, 22.05 M, 28.29 M) minus the 1000-class head plus a 1-logit head.
REFERENCE = {"resnet50": 23_510_081, "deit-s": 21_666_049, "swin-t": 27_520_123}
HEADS = {"resnet50": "fc", "deit-s": "head", "swin-t": "head.fc"}


@pytest.fixture(params=sorted(REFERENCE))
def spec(request):
    return get_registry().detector(request.param)


def test_parameter_count_matches_the_reference(spec):
    model = spec.build()
    count = sum(p.numel() for p in model.parameters())
    assert abs(count - REFERENCE[spec.name]) / REFERENCE[spec.name] < 0.01


def test_forward_backward_at_mini_size(spec):
    torch.manual_seed(0)
    model = spec.build(input_size=64).to(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    out = model(x)
    assert out.shape == (2, 1) and torch.isfinite(out).all()
    out.sum().backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing


def test_architecture_adapts_to_the_input_size():
    reg = get_registry()
    deit = reg.detector("deit-s").build(input_size=64)
    assert deit.patch_embed.grid_size == (4, 4)
    assert deit.pos_embed.shape[1] == 16 + 1  # 4x4 patches + class token
    swin = reg.detector("swin-t").build(input_size=64)
    windows = [blk.window_size for layer in swin.layers for blk in layer.blocks]
    assert tuple(windows[0]) == (4, 4) and tuple(windows[-1]) == (2, 2)
    swin224 = reg.detector("swin-t").build(input_size=224)
    assert {tuple(b.window_size) for b in swin224.layers[0].blocks} == {(7, 7)}


def test_genimage_timm_checkpoint_with_two_classes_converts(spec, tmp_path):
    """GenImage trains with ``--num-classes 2`` over an ImageFolder: class 0 is ``ai``."""
    torch.manual_seed(1)
    ours = spec.build(input_size=64).eval()
    head = HEADS[spec.name]
    theirs = {f"module.{k}": v.clone() for k, v in ours.state_dict().items()}
    w = torch.randn(2, theirs[f"module.{head}.weight"].shape[1]) * 0.05
    b = torch.tensor([0.3, -0.2])
    theirs[f"module.{head}.weight"], theirs[f"module.{head}.bias"] = w, b
    path = tmp_path / "checkpoint-199.pth.tar"
    torch.save({"state_dict": theirs, "epoch": 199, "arch": "x"}, path)

    from gibench.outputs import load_checkpoint

    converted = spec.convert_state_dict(load_checkpoint(path))
    model = spec.build(input_size=64).eval()
    load_state_into(model, converted, str(path))
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        ours_prob = torch.sigmoid(model(x)).squeeze(1)
        features = model.forward_head(model.forward_features(x), pre_logits=True)
        their_prob = torch.softmax(features @ w.T + b, dim=1)[:, 0]  # class 0 = ai = fake
    torch.testing.assert_close(ours_prob, their_prob, rtol=1e-4, atol=1e-5)


def test_mismatching_checkpoint_is_refused(spec):
    from gibench.errors import GibenchError

    model = spec.build(input_size=64)
    bad = dict(model.state_dict())
    bad.pop(next(iter(bad)))
    bad["extra.weight"] = torch.zeros(1)
    with pytest.raises(GibenchError, match="missing keys.*unexpected keys: extra.weight"):
        load_state_into(model, spec.convert_state_dict(bad), "bad.pt")


def test_train_transform_shapes_and_determinism(spec):
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (90, 120, 3),
                                                              dtype=np.uint8))
    transform = spec.preprocess.make_train(64, 72)
    a = transform(image, random.Random(5))
    b = transform(image, random.Random(5))
    c = transform(image, random.Random(6))
    assert a.dtype == torch.uint8 and a.shape == (3, 64, 64)
    assert torch.equal(a, b) and not torch.equal(a, c)
    ev = spec.preprocess.make_eval(64, 72)(image, random.Random(0))
    assert ev.shape == (3, 64, 64) and torch.equal(ev, spec.preprocess.make_eval(64, 72)(
        image, random.Random(1)))


def test_eval_transform_resizes_the_shorter_side_then_crops():
    image = Image.fromarray(np.random.default_rng(1).integers(0, 255, (100, 150, 3),
                                                              dtype=np.uint8))
    out = timm_eval_transform(224, 0.875)(image)
    resized = np.asarray(image.resize((384, 256), Image.Resampling.BICUBIC))
    expected = resized[16:240, 80:304].transpose(2, 0, 1)
    assert np.array_equal(out.numpy(), expected)


def test_random_erasing_fills_with_normalised_noise():
    x = torch.full((3, 64, 64), 7, dtype=torch.uint8)
    erased = [random_erasing(1.0)(x, random.Random(s)) for s in range(20)]
    changed = [e for e in erased if not torch.equal(e, x)]
    assert len(changed) >= 15  # p = 1: almost always a box fits
    box = changed[0][changed[0] != 7].float()
    assert 60 < box.mean() < 180  # mean + std * N(0, 1) in 0..255, around ImageNet's mean
    assert random_erasing(0.0)(x, random.Random(0)) is x


def test_recipes_are_the_published_ones():
    reg = get_registry()
    r50, deit, swin = (reg.detector(n).recipe for n in ("resnet50", "deit-s", "swin-t"))
    assert (r50.optimizer, r50.lr, r50.epochs, r50.batch_size, r50.schedule) == (
        "sgd", 0.05, 200, 64, "cosine")
    assert (deit.optimizer, deit.weight_decay, deit.schedule) == ("adamw", 0.05, "cosine")
    assert deit.lr == pytest.approx(5e-4 * deit.batch_size / 512)
    assert swin.lr == pytest.approx(1e-3 * swin.batch_size / 1024)
    assert (r50.warmup_epochs, r50.warmup_lr) == (3, 1e-4)  # timm's train.py defaults
    assert (deit.warmup_epochs, deit.warmup_lr) == (5, 1e-6)
    assert swin.warmup_epochs == 20
    assert not (r50.from_pretrained or deit.from_pretrained or swin.from_pretrained)


def test_rand_augment_survives_every_magnitude():
    """timm's PosterizeIncreasing keeps 0 bits at magnitude 10, which Pillow 13 rejects."""
    from gibench_baselines.timm_recipe import _posterize, rand_augment

    image = Image.fromarray(np.full((32, 32, 3), 200, dtype=np.uint8))
    assert np.asarray(_posterize(image, 0)).max() == 0
    assert np.array_equal(np.asarray(_posterize(image, 8)), np.asarray(image))
    op = rand_augment("rand-m10-n4-mstd0-inc1", 32)
    for seed in range(60):
        assert op(image, random.Random(seed)).size == (32, 32)
