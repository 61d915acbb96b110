"""ResNet-50, DeiT-S and Swin-T: the timm-trained GenImage baselines."""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import re

import numpy as np
import pytest
import torch
from PIL import Image

from gibench.engine.models import load_detector
from gibench.errors import GibenchError
from gibench.outputs import load_state_into
from gibench.registry import get_registry
from gibench_baselines.timm_recipe import FAKE_INDEX, random_erasing, timm_eval_transform

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


def test_default_fake_index_is_the_class_genimage_folders_get(tmp_path):
    """timm's ``train.py`` (``create_dataset``) and DeiT's / Swin-Transformer's
    ``datasets.ImageFolder`` label GenImage's ``train/ai`` and ``train/nature`` by sorted name."""
    import timm.data
    import torchvision

    for label in ("nature", "ai"):
        (tmp_path / "train" / label).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(tmp_path / "train" / label / f"{label}_0.png")
    timm_classes = timm.data.create_dataset("", root=str(tmp_path), split="train").reader
    folder = torchvision.datasets.ImageFolder(str(tmp_path / "train"))
    assert timm_classes.class_to_idx["ai"] == folder.class_to_idx["ai"] == FAKE_INDEX
    assert timm_classes.class_to_idx["nature"] == folder.class_to_idx["nature"] == 1 - FAKE_INDEX


def swin_0612_layout(model, head_weight: torch.Tensor, head_bias: torch.Tensor) -> dict:
    """Our Swin's weights in timm 0.6.12's layout, which is the Swin authors' (GenImage's
    Swin-T): each stage's downsampling at the end of the previous stage, ``head.``, and the
    ``relative_position_index`` / ``attn_mask`` buffers saved with the weights."""
    out = {}
    for key, value in model.state_dict().items():
        if key.startswith("head.fc."):
            continue
        moved = re.match(r"layers\.(\d+)\.downsample\.(.*)", key)
        if moved:
            key = f"layers.{int(moved[1]) - 1}.downsample.{moved[2]}"
        out[key] = value.clone()
    for i, stage in enumerate(model.layers):
        for j, block in enumerate(stage.blocks):
            out[f"layers.{i}.blocks.{j}.attn.relative_position_index"] = (
                block.attn.relative_position_index.clone())
            if block.attn_mask is not None:
                out[f"layers.{i}.blocks.{j}.attn_mask"] = block.attn_mask.clone()
    out["head.weight"], out["head.bias"] = head_weight, head_bias
    return out


def layout_digest(state: dict) -> str:
    return hashlib.sha256("\n".join(f"{k} {tuple(v.shape)}" for k, v in sorted(state.items()))
                          .encode()).hexdigest()


# sha256 of the sorted "key shape" lines of swin_tiny_patch4_window7_224's state dict with
# ImageNet's head, written by timm 0.6.12 and by GenImage's Swin-Transformer-main (the two are
# identical: 190 keys), each in its own environment.
SWIN_0612_LAYOUT = "605226ffeed1fb24c8fe0f81a020e0b078731a70999dfad45e216d6e4fe5e1ef"


def test_swin_checkpoints_of_genimage_era_layout_load():
    """The Swin authors' / timm 0.6.12 layout loads through timm's filter, exactly; one of
    another geometry is refused by name, not resampled."""
    torch.manual_seed(3)
    spec = get_registry().detector("swin-t")
    ours = spec.build(input_size=224)
    head_w, head_b = torch.randn(1000, 768) * 0.05, torch.randn(1000)
    theirs = swin_0612_layout(ours, head_w, head_b)
    assert len(theirs) == 190 and layout_digest(theirs) == SWIN_0612_LAYOUT
    model = spec.build(input_size=224)
    load_state_into(model, spec.convert_state_dict({"model": theirs}), "ckpt_epoch_299.pth")
    for key, value in ours.state_dict().items():
        if not key.startswith("head."):
            assert torch.equal(model.state_dict()[key], value), key
    assert torch.equal(model.head.fc.weight[0], head_w[0] - head_w[1])
    with pytest.raises(GibenchError, match="relative_position_bias_table"):
        load_state_into(spec.build(input_size=64), spec.convert_state_dict({"model": theirs}),
                        "ckpt_epoch_299.pth")


def _authors_file(spec, ours: torch.nn.Module, head_w, head_b, path):
    """``ours``' backbone with a classifier head, saved as the code GenImage trained ``spec``
    with saves it: timm's CheckpointSaver (ResNet-50), deit's main.py, Swin-Transformer's
    save_checkpoint (in the authors' layout)."""
    head = HEADS[spec.name]
    state = {k: v for k, v in ours.state_dict().items() if not k.startswith(f"{head}.")}
    if spec.name == "resnet50":
        import timm
        from timm.utils import CheckpointSaver

        model = timm.create_model("resnet50", num_classes=head_w.shape[0])
        model.load_state_dict({**state, "fc.weight": head_w, "fc.bias": head_b})
        saver = CheckpointSaver(model, torch.optim.SGD(model.parameters(), lr=0.05),
                                args=argparse.Namespace(model="resnet50", num_classes=2),
                                checkpoint_dir=str(path), recovery_dir=str(path))
        saver.save_checkpoint(epoch=0, metric=51.0)
        return path / "model_best.pth.tar"
    if spec.name == "deit-s":
        theirs = {**state, "head.weight": head_w, "head.bias": head_b}
        obj = {"model": theirs, "model_ema": theirs, "epoch": 299,
               "args": argparse.Namespace(model="deit_small_patch16_224", nb_classes=1000)}
    else:
        obj = {"model": swin_0612_layout(ours, head_w, head_b), "epoch": 299,
               "max_accuracy": 51.0}
    torch.save(obj, path / "checkpoint.pth")
    return path / "checkpoint.pth"


def test_authors_checkpoints_load_with_either_fake_class(spec, tmp_path):
    """GenImage's files: ResNet-50 from timm's train.py (``--num-classes 2``), DeiT-S and
    Swin-T from their authors' code (ImageNet's 1000-class head, trained on labels 0 and 1).
    The default reads class 0 (``ai``) as fake; ``--fake-class`` 0 or 1 picks either."""
    torch.manual_seed(1)
    ours = spec.build(input_size=64).eval()
    classes = 2 if spec.name == "resnet50" else 1000
    dim = ours.get_classifier().in_features
    head_w, head_b = torch.randn(classes, dim) * 0.05, torch.randn(classes) * 0.3
    path = _authors_file(spec, ours, head_w, head_b, tmp_path)
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        features = ours.forward_head(ours.forward_features(x), pre_logits=True)
        two_class = torch.softmax(features @ head_w[:2].T + head_b[:2], dim=1)
        assert (two_class[:, 0] - 0.5).abs().max() > 0.05  # the two readings differ
        for fake_class, expected in ((None, FAKE_INDEX), (0, 0), (1, 1)):
            model = load_detector(spec, path, 64, torch.device("cpu"), fake_class=fake_class)
            prob = torch.sigmoid(model(x.contiguous(memory_format=torch.channels_last)))
            torch.testing.assert_close(prob.squeeze(1), two_class[:, expected],
                                       rtol=1e-4, atol=1e-5)


def test_our_own_checkpoints_pass_the_filters_unchanged(spec):
    """A ``model.pt`` trained at mini size (64 px: DeiT's 4x4 grid, Swin's windows 4 and 2)
    comes out of timm's filter as it went in: nothing resampled to the 224-px geometry."""
    torch.manual_seed(2)
    state = spec.build(input_size=64).state_dict()
    wrapped = {"state_dict": {f"module.{k}": v for k, v in state.items()}}  # DataParallel's
    for converted in (spec.convert_state_dict(state), spec.convert_state_dict(wrapped)):
        assert converted.keys() == state.keys()
        assert all(torch.equal(converted[k], v) for k, v in state.items())


def test_imagenet_head_is_read_only_where_the_authors_trained_one():
    """DeiT's and Swin's code keep a 1000-class head; timm's train.py for ResNet-50 had
    ``--num-classes 2``, so a 1000-class ResNet-50 (an ImageNet classifier) is refused."""
    model = get_registry().detector("resnet50").build(input_size=64)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("fc.")}
    state.update({"fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000)})
    converted = get_registry().detector("resnet50").convert_state_dict({"state_dict": state})
    with pytest.raises(GibenchError, match=r"fc.weight: checkpoint \(1000, 2048\)"):
        load_state_into(model, converted, "resnet50_imagenet.pth")


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


# non-square sizes, both orientations, where rounding the longer side (the old code) and
# truncating it (torchvision) disagree for some crop_pct: 500x332 is ImageNet's typical shape
SIZES = [(500, 332), (332, 500), (600, 450), (320, 240), (500, 375), (256, 256), (128, 128),
         (375, 500), (640, 427)]


@pytest.mark.parametrize("crop_pct", [0.95, 0.875, 0.9])
def test_eval_transform_is_timms_to_the_pixel(crop_pct):
    """timm's eval transform (``transforms_imagenet_eval``: torchvision's ``Resize`` of the
    shorter side, which truncates the longer, then ``CenterCrop``), exactly."""
    from timm.data.transforms_factory import transforms_imagenet_eval

    theirs = transforms_imagenet_eval(224, crop_pct=crop_pct, interpolation="bicubic",
                                      use_prefetcher=True)  # ends in uint8 CHW (ToNumpy)
    ours = timm_eval_transform(224, crop_pct)
    scale = math.floor(224 / crop_pct)
    rounded = [s for s in SIZES if round(max(s) * scale / min(s)) != int(max(s) * scale / min(s))]
    assert rounded  # some of these sizes would move under rounding
    rng = np.random.default_rng(2)
    for width, height in SIZES:
        image = Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))
        assert np.array_equal(ours(image, random.Random(0)).numpy(), theirs(image)), (width,
                                                                                       height)


def test_batched_eval_transform_follows_torchvision_on_tensors():
    """The batched form (on the device, after degradations) sizes like torchvision too."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as F

    rng = np.random.default_rng(3)
    transform = timm_eval_transform(224, 0.95)
    for width, height in ((500, 332), (332, 500), (600, 450)):
        smooth = rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8)
        image = Image.fromarray(smooth).resize((width, height), Image.Resampling.BILINEAR)
        x = torch.from_numpy(np.asarray(image).transpose(2, 0, 1).copy()).unsqueeze(0)
        reference = F.center_crop(F.resize(x, 235, InterpolationMode.BICUBIC, antialias=True),
                                  224)
        ours = transform.batch(x)
        assert ours.shape == (1, 3, 224, 224)
        assert (ours.int() - reference.int()).abs().max() <= 1, (width, height)
        single = transform(image, random.Random(0)).int()
        assert (ours[0].int() - single).float().abs().mean() < 0.5  # and the per-image path


def test_timm_eval_variants_change_only_the_evaluation_crop():
    """``deit-s`` / ``swin-t`` evaluate as their authors' code (crop_pct 0.875); the
    ``-timm-eval`` variants as timm's pretrained config (0.9): same model, recipe, converter
    and mini transforms."""
    reg = get_registry()
    image = Image.fromarray(np.random.default_rng(4).integers(0, 255, (300, 400, 3),
                                                              dtype=np.uint8))
    for name in ("deit-s", "swin-t"):
        authors, timm_eval = reg.detector(name), reg.detector(f"{name}-timm-eval")
        assert "resize 256 bicubic (crop_pct 0.875)" in authors.preprocess.description
        assert "resize 248 bicubic (crop_pct 0.9)" in timm_eval.preprocess.description
        assert (timm_eval.recipe, timm_eval.build, timm_eval.convert_state_dict) == (
            authors.recipe, authors.build, authors.convert_state_dict)
        ev_a = authors.preprocess.make_eval(224, None)(image, random.Random(0)).numpy()
        ev_t = timm_eval.preprocess.make_eval(224, None)(image, random.Random(0)).numpy()
        assert np.array_equal(ev_a, timm_eval_transform(224, 0.875)(image).numpy())
        assert np.array_equal(ev_t, timm_eval_transform(224, 0.9)(image).numpy())
        mini_a = authors.preprocess.make_eval(64, 72)(image, random.Random(0))
        assert torch.equal(mini_a, timm_eval.preprocess.make_eval(64, 72)(image,
                                                                           random.Random(0)))


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
