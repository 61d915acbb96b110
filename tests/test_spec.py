"""Spec (Zhang, Karaman, Chang 2019, AutoGAN): the on-device spectrum feature against a numpy
transcription of AutoGAN's formula, the ResNet-34, AutoGAN's checkpoint layout (BGR input,
real = class 1), the transforms and the recipe."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from gibench.errors import GibenchError
from gibench.outputs import load_checkpoint, load_state_into
from gibench.registry import get_registry
from gibench_baselines import spec
from gibench_baselines.transforms import cv2_linear_resize, cv2_linear_resize_batch
from tests.conftest import write_backbone_file

# GAN_Detection_Train.py builds torchvision's resnet34 with fc = nn.Linear(512, 2):
# 21,285,698 parameters (counted with torchvision 0.29: resnet34(num_classes=2)). With one logit
# the fc loses 512 weights and 1 bias: 21,285,185.
REFERENCE_PARAMS_TWO_CLASS = 21_285_698
REFERENCE_PARAMS = REFERENCE_PARAMS_TWO_CLASS - 513
# float32 FFT (ours) vs float64 (numpy): measured max difference 7.5e-5 on features in [-1, 1].
FEATURE_ATOL = 2e-4

pytestmark = pytest.mark.usefixtures("one_thread")


def _n_params(model):
    return sum(p.numel() for p in model.parameters())


def _image(h=224, w=224, seed=0):
    """A smooth gradient plus noise: a spectrum with structure at every frequency."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    base = np.stack([xx * 0.6, yy * 0.8, (xx + yy) * 0.4], axis=-1) + 50
    return np.clip(base + rng.normal(0, 25, size=(h, w, 3)), 0, 255).astype(np.uint8)


def _batch(*arrays):
    """HWC uint8 arrays → the batch the model receives: mean 0 / std 1, i.e. uint8 / 255."""
    return torch.stack([torch.from_numpy(a.transpose(2, 0, 1).copy()) for a in arrays]
                       ).float() / 255.0


def _numpy_reference(img: np.ndarray, mode: int = 0) -> np.ndarray:
    """AutoGAN's ``fft`` feature (GANDataset, --feature fft, --mode 0..3) written with numpy
    for one HWC uint8 image of 224 px: per channel log(|fft2| + 1e-3), 5/95 percentiles to
    [-1, 1], clipped; band modes zero parts of the fftshifted spectrum (224-px indices)."""
    im = img.astype(np.float32) / 255.0
    out = np.empty((3, *im.shape[:2]), dtype=np.float32)
    for c in range(3):
        spectrum = np.log(np.abs(np.fft.fft2(im[:, :, c])) + 1e-3)
        p5, p95 = np.percentile(spectrum, 5), np.percentile(spectrum, 95)
        feat = np.clip(((spectrum - p5) / (p95 - p5) - 0.5) * 2, -1, 1)
        if mode:
            shifted = np.fft.fftshift(feat)
            keep = np.zeros_like(shifted, dtype=bool)
            if mode == 1:
                keep[57:177, 57:177] = True
            elif mode == 2:
                keep[21:203, 21:203] = True
                keep[57:177, 57:177] = False
            else:
                keep[:] = True
                keep[21:203, 21:203] = False
            feat = np.fft.fftshift(np.where(keep, shifted, 0))
        out[c] = feat
    return out


# --------------------------------------------------------------------------- registration


def test_registered_through_an_entry_point():
    registry = get_registry()
    assert registry.detector("spec") is spec.SPEC
    assert registry.provider("detector", "spec").distribution == "gibench-baselines"
    assert registry.detector("autogan") is spec.SPEC
    pre = spec.SPEC.preprocess
    assert (pre.input_size, pre.load_size) == (224, 256)
    assert pre.mean == (0.0, 0.0, 0.0) and pre.std == (1.0, 1.0, 1.0)  # batch = uint8 / 255


# --------------------------------------------------------------------------- the feature


@pytest.mark.parametrize(("band", "mode"), [("full", 0), ("low", 1), ("mid", 2), ("high", 3)])
def test_feature_matches_numpy_reference(band, mode):
    imgs = [_image(seed=0), _image(seed=1)]
    ours = spec.log_spectrum(_batch(*imgs), band)
    assert ours.dtype == torch.float32 and tuple(ours.shape) == (2, 3, 224, 224)
    for i, img in enumerate(imgs):
        np.testing.assert_allclose(ours[i].numpy(), _numpy_reference(img, mode),
                                   rtol=0, atol=FEATURE_ATOL)


def test_feature_at_mini_size_matches_numpy_reference():
    img = _image(64, 64, seed=3)
    np.testing.assert_allclose(spec.log_spectrum(_batch(img))[0].numpy(), _numpy_reference(img),
                               rtol=0, atol=FEATURE_ATOL)


def test_feature_is_per_image_and_per_channel():
    a, b = _image(seed=4), _image(seed=5)
    both = spec.log_spectrum(_batch(a, b))
    alone = spec.log_spectrum(_batch(b))
    torch.testing.assert_close(both[1:], alone, rtol=0, atol=1e-6)
    swapped = spec.log_spectrum(_batch(a[:, :, ::-1]))  # RGB → BGR swaps the feature channels
    torch.testing.assert_close(swapped[0], both[0].flip(0), rtol=0, atol=1e-6)


def test_feature_clips_the_tails_at_the_percentiles():
    feat = spec.log_spectrum(_batch(_image(seed=6)))[0]
    assert feat.min() == -1.0 and feat.max() == 1.0
    for channel in feat:
        low = (channel == -1.0).float().mean().item()
        high = (channel == 1.0).float().mean().item()
        assert 0.04 < low < 0.06 and 0.04 < high < 0.06  # the 5% below p5, the 5% above p95
    # unshifted: the DC term, the largest amplitude, sits at (0, 0) and is clipped to 1
    assert torch.all(feat[:, 0, 0] == 1.0)


def test_feature_is_invariant_to_a_circular_shift():
    """|FFT2| ignores circular translations (only the phase changes), so the feature does."""
    img = _image(seed=7)
    rolled = np.roll(img, shift=(37, -11), axis=(0, 1))
    a, b = spec.log_spectrum(_batch(img, rolled))
    torch.testing.assert_close(a, b, rtol=0, atol=FEATURE_ATOL)
    # ...but not to a translation that brings in new content (a shifted crop)
    big = _image(240, 240, seed=7)
    c, d = spec.log_spectrum(_batch(big[:224, :224], big[16:, 16:]))
    assert (c - d).abs().max() > 0.1


def test_bands_partition_the_spectrum():
    for size in (224, 64):
        masks = [spec.band_mask(b, size, size) for b in ("low", "mid", "high")]
        torch.testing.assert_close(sum(masks), torch.ones(size, size))
        assert all(m.sum() > 0 for m in masks)
    low = spec.band_mask("low", 224, 224)
    assert low[57:177, 57:177].all() and low.sum() == 120 * 120  # AutoGAN's 224-px indices
    with pytest.raises(ValueError, match="band 'bogus'"):
        spec.band_mask("bogus", 8, 8)


def test_flat_channel_gives_a_finite_feature():
    feat = spec.log_spectrum(torch.full((1, 3, 32, 32), 0.5))
    assert torch.isfinite(feat).all()
    assert torch.all(feat[:, :, 0, 0] == 1.0)  # DC above the (equal) percentiles


def test_feature_runs_in_float32_under_cpu_bfloat16_autocast():
    """torch.fft has no bfloat16 CPU kernel: the feature is forced to float32, the ResNet
    after it still runs in bfloat16."""
    x = _batch(_image(64, 64, seed=8), _image(64, 64, seed=9))
    reference = spec.log_spectrum(x)
    model = spec.build().eval()
    with torch.autocast("cpu", dtype=torch.bfloat16), torch.no_grad():
        feat = spec.log_spectrum(x.bfloat16())
        out = model(x)
    assert feat.dtype == torch.float32
    torch.testing.assert_close(feat, spec.log_spectrum(x.bfloat16().float()))
    assert (feat - reference).abs().max() < 0.1  # only the bf16 rounding of the input differs
    assert out.dtype == torch.bfloat16 and tuple(out.shape) == (2, 1)
    assert torch.isfinite(out.float()).all()


# --------------------------------------------------------------------------- architecture


def test_parameter_count_matches_reference():
    model = spec.build()
    assert _n_params(torchvision.models.resnet34(num_classes=2)) == REFERENCE_PARAMS_TWO_CLASS
    assert _n_params(model) == REFERENCE_PARAMS
    assert abs(_n_params(model) - REFERENCE_PARAMS) / REFERENCE_PARAMS < 0.01
    assert tuple(model.backbone.fc.weight.shape) == (1, 512)
    assert all(k.startswith("backbone.") for k in model.state_dict())


def _forward_backward(model, size):
    torch.manual_seed(0)
    x = torch.rand(2, 3, size, size)
    out = model(x)
    assert tuple(out.shape) == (2, 1)
    assert torch.isfinite(out).all()
    out.sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    assert model.backbone.fc.weight.grad.abs().sum() > 0
    assert model.backbone.conv1.weight.grad.abs().sum() > 0


def test_forward_backward_at_mini_size():
    _forward_backward(spec.build().train(), 64)


def test_forward_backward_at_paper_size():
    _forward_backward(spec.build().train(), 224)


def test_channels_last_gives_the_same_logits():
    torch.manual_seed(1)
    model = spec.build().eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        plain = model(x)
        model = model.to(memory_format=torch.channels_last)
        fast = model(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(plain, fast, rtol=1e-4, atol=1e-4)


def test_band_is_a_build_option():
    model = spec.build(band="high")
    assert model.band == "high" and "band='high'" in repr(model)
    with pytest.raises(ValueError, match="band"):
        spec.build(band="medium")


def test_random_init_zeroes_last_bn_of_each_block():
    model = spec.build()
    assert torch.count_nonzero(model.backbone.layer1[0].bn2.weight) == 0
    assert torch.count_nonzero(model.backbone.layer4[2].bn2.weight) == 0


# --------------------------------------------------------------------------- backbone weights


def _backbone_file(tmp_path, drop=None, prefix=""):
    return write_backbone_file(tmp_path, "resnet34", 2, drop, prefix)


def test_build_from_local_backbone(tmp_path):
    ref, path = _backbone_file(tmp_path)
    model = spec.build(pretrained=path)
    assert torch.equal(model.backbone.conv1.weight, ref.conv1.weight)
    assert torch.equal(model.backbone.layer4[2].bn2.weight, ref.layer4[2].bn2.weight)
    assert tuple(model.backbone.fc.weight.shape) == (1, 512)


def test_backbone_with_missing_key_is_refused(tmp_path):
    _, path = _backbone_file(tmp_path, drop="layer2.1.conv2.weight")
    with pytest.raises(GibenchError) as info:
        spec.build(pretrained=path)
    assert "layer2.1.conv2.weight" in str(info.value) and str(path) in str(info.value)


def test_imagenet_weights_offline_name_the_file_to_place(offline_torchvision):
    with pytest.raises(GibenchError) as err:
        spec.build(pretrained="imagenet")
    message = str(err.value)
    assert "no network" in message and "resnet34-b627a593.pth" in message
    assert offline_torchvision in message


# --------------------------------------------------------------------------- checkpoints


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("layout", ["bare", "last", "module"])
def test_own_layouts_round_trip(tmp_path, layout):
    torch.manual_seed(3)
    source = spec.build()
    state = source.state_dict()
    obj = {"bare": state, "last": {"model": state, "epoch": 2},
           "module": {f"module.{k}": v for k, v in state.items()}}[layout]
    path = tmp_path / "model.pt"
    torch.save(obj, path)
    target = spec.build()
    load_state_into(target, spec.convert_state_dict(load_checkpoint(path)), str(path))
    _assert_same_state(target.state_dict(), source.state_dict())


def _autogan_model(rgb, seed=4):
    """AutoGAN's classifier (resnet34, 2-class fc) with random weights, its fc scaled so that
    the test images get class probabilities well away from 0, 0.5 and 1."""
    torch.manual_seed(seed)
    model = torchvision.models.resnet34(num_classes=2).eval()
    fc, model.fc = model.fc, torch.nn.Identity()
    with torch.no_grad():
        pooled = model(spec.log_spectrum(rgb.flip(1)))  # (N, 512), BGR as their loader
        direction = fc.weight[0] - fc.weight[1]
        fc.weight.mul_(2.0 / (pooled @ direction).abs().max())
        fc.bias.copy_(torch.tensor([0.3, -0.2]))
    model.fc = fc
    return model


@pytest.mark.parametrize("prefix", ["", "module."])
def test_autogan_checkpoint_converts_to_the_equivalent_logit(tmp_path, prefix):
    rgb = _batch(_image(64, 64, seed=10), _image(64, 64, seed=11))
    theirs = _autogan_model(rgb)
    path = tmp_path / "checkpoint_10.pth"
    torch.save({"epoch": 9, "state_dict": {f"{prefix}{k}": v
                                           for k, v in theirs.state_dict().items()}}, path)
    ours = spec.build().eval()
    load_state_into(ours, spec.convert_state_dict(load_checkpoint(path)), str(path))

    with torch.no_grad():
        # their loader reads BGR with cv2; their label 0 is fake, 1 is real
        p_theirs = torch.softmax(theirs(spec.log_spectrum(rgb.flip(1))), dim=1)
        p_ours = torch.sigmoid(ours(rgb)).reshape(-1)
    # probabilities away from 0.5 (so class 0 and class 1 differ) and from 0 and 1
    assert ((p_theirs[:, 0] - 0.5).abs() > 0.05).all() and ((p_theirs - 0.5).abs() < 0.49).all()
    torch.testing.assert_close(p_ours, p_theirs[:, 0], rtol=0, atol=1e-5)
    # --fake-class 1 reads their class 1
    other = spec.build().eval()
    load_state_into(other, spec.convert_state_dict(load_checkpoint(path), fake_index=1), "x")
    with torch.no_grad():
        torch.testing.assert_close(torch.sigmoid(other(rgb)).reshape(-1), p_theirs[:, 1],
                                   rtol=0, atol=1e-5)

    # without the BGR → RGB flip of conv1 the scores differ: the flip is needed
    unflipped = spec.build().eval()
    load_state_into(unflipped, spec.convert_state_dict(load_checkpoint(path), bgr=False), "x")
    with torch.no_grad():
        p_unflipped = torch.sigmoid(unflipped(rgb)).reshape(-1)
    assert (p_unflipped - p_theirs[:, 0]).abs().max() > 1e-3


def test_one_logit_autogan_layout_keeps_its_head():
    torch.manual_seed(5)
    one = torchvision.models.resnet34(num_classes=1)
    converted = spec.convert_state_dict({"state_dict": one.state_dict()})
    assert torch.equal(converted["backbone.fc.weight"], one.fc.weight)
    assert torch.equal(converted["backbone.conv1.weight"], one.conv1.weight.flip(1))


@pytest.mark.parametrize(("make", "expected"), [
    (lambda: torchvision.models.resnet18(num_classes=2), "backbone.layer1.2.conv1.weight"),
    (lambda: torchvision.models.resnet50(num_classes=2), "backbone.layer1.0.conv3.weight"),
])
def test_mismatching_checkpoint_is_refused_naming_keys(tmp_path, make, expected):
    path = tmp_path / "other.pth"
    torch.save({"epoch": 9, "state_dict": make().state_dict()}, path)
    with pytest.raises(GibenchError) as info:
        load_state_into(spec.build(), spec.convert_state_dict(load_checkpoint(path)), str(path))
    assert expected in str(info.value) and str(path) in str(info.value)


# --------------------------------------------------------------------------- transforms


def _pil(w=100, h=80, seed=12):
    return Image.fromarray(_image(h, w, seed=seed))




def _hwc(t):
    return t.permute(1, 2, 0).numpy()


def test_train_transform_is_seeded_random_crop_without_flip():
    img = _pil()
    train = spec.make_train(64, 72)
    a = train(img, random.Random(123))
    assert torch.equal(a, train(img, random.Random(123)))
    loaded = np.asarray(cv2_linear_resize(img, 72)).transpose(2, 0, 1)
    windows = {(y, x) for y in range(9) for x in range(9)}
    seen = set()
    for seed in range(12):
        out = train(img, random.Random(seed)).numpy()
        hits = [(y, x) for y, x in windows if np.array_equal(out, loaded[:, y:y + 64, x:x + 64])]
        assert len(hits) == 1  # an unflipped window of the 72-px resize
        seen.add(hits[0])
    assert len(seen) > 3


def _cv2_resize_bgr(img: Image.Image, size: int) -> np.ndarray:
    """AutoGAN's ``cv2.resize(cv2.imread(path), (size, size))``, back in RGB order."""
    import cv2

    bgr = np.ascontiguousarray(np.asarray(img)[:, :, ::-1])
    return cv2.resize(bgr, (size, size))[:, :, ::-1]


@pytest.mark.parametrize(("width", "height"), [(300, 260), (500, 332), (600, 450), (128, 128),
                                               (320, 240)])
def test_eval_transform_is_autogans_cv2_resize_then_centre_crop(width, height):
    """AutoGAN resizes with ``cv2.resize``'s default INTER_LINEAR (two taps, no low-pass), then
    crops ``[16:240, 16:240]``: ours gives its pixels exactly, and where an axis shrinks Pillow's
    antialiased bilinear (the transform before) does not, by more than one grey level."""
    img = _pil(width, height, seed=width)
    out = spec.SPEC.preprocess.make_eval(224, 256)(img, random.Random(99))
    assert out.dtype == torch.uint8 and tuple(out.shape) == (3, 224, 224)
    theirs = _cv2_resize_bgr(img, 256)[16:240, 16:240].astype(int)
    np.testing.assert_array_equal(_hwc(out), theirs)
    if max(width, height) > 256:  # enlarging, Pillow's bilinear is two-tap too
        pillow = np.asarray(img.resize((256, 256), Image.Resampling.BILINEAR))[16:240, 16:240]
        assert np.abs(pillow.astype(int) - theirs).max() > 1


def test_eval_transform_at_mini_size_is_a_no_op_resize_then_centre_crop():
    """Mini's images are 72×72 squares: no resize at load size 72, so mini results do not
    depend on the resize filter."""
    arr = _image(72, 72, seed=13)
    out = spec.SPEC.preprocess.make_eval(64, 72)(Image.fromarray(arr), random.Random(0))
    np.testing.assert_array_equal(_hwc(out), arr[4:68, 4:68])


@pytest.mark.parametrize(("height", "width", "size"), [(332, 500, 256), (450, 600, 256),
                                                       (128, 128, 256), (240, 320, 256),
                                                       (512, 512, 256), (72, 90, 64),
                                                       (257, 255, 512), (3, 700, 72)])
def test_cv2_linear_resize_is_opencvs_pixel_for_pixel(height, width, size):
    """The helper Spec and GramNet share, per image and batched, against OpenCV itself (a test
    dependency only), shrinking (an exact halving included, which OpenCV computes as
    INTER_AREA) and enlarging, on noise (the worst case for a filter). PyTorch's float
    bilinear interpolation (the helper before) misses it by one grey level on many pixels."""
    rng = np.random.default_rng(height * width)
    arrays = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(2)]
    batch = torch.stack([torch.from_numpy(a.transpose(2, 0, 1).copy()) for a in arrays])
    batched = cv2_linear_resize_batch(batch, size)
    assert batched.dtype == torch.uint8 and tuple(batched.shape) == (2, 3, size, size)
    for arr, got in zip(arrays, batched, strict=True):
        one = np.asarray(cv2_linear_resize(Image.fromarray(arr), size))
        np.testing.assert_array_equal(one, _hwc(got))  # the two forms agree exactly
        np.testing.assert_array_equal(one, _cv2_resize_bgr(Image.fromarray(arr), size))
    floating = torch.nn.functional.interpolate(batch.float(), size=(size, size),
                                               mode="bilinear", antialias=False)
    off = (floating.round() - batched.float()).abs()
    assert off.max() <= 1 and (off > 0).float().mean() > 0.01


def test_batched_transform_is_the_per_image_transform():
    """The engine's device path (``transform.batch`` after degrading at native size) gives the
    per-image transform's pixels exactly (both are the same PyTorch resize)."""
    evaluate = spec.SPEC.preprocess.make_eval(224, 256)
    imgs = [_pil(500, 332, seed=s) for s in (14, 15)]
    batch = torch.stack([torch.from_numpy(np.asarray(i).transpose(2, 0, 1).copy()) for i in imgs])
    out = evaluate.batch(batch)
    assert tuple(out.shape) == (2, 3, 224, 224)
    for img, got in zip(imgs, out, strict=True):
        assert torch.equal(got, evaluate(img, random.Random(0)))


# --------------------------------------------------------------------------- recipe


def test_recipe_matches_gan_detection_train():
    recipe = spec.SPEC.recipe
    assert recipe.optimizer == "sgd" and recipe.schedule == "constant"
    assert (recipe.epochs, recipe.batch_size) == (10, 64)
    assert recipe.momentum == spec.AUTOGAN_MOMENTUM == 0.9
    assert recipe.weight_decay == spec.AUTOGAN_WEIGHT_DECAY == 1e-4
    assert (spec.AUTOGAN_LR, spec.AUTOGAN_DAMPENING) == (0.01, 0.9)
    assert (recipe.lr, recipe.dampening) == (spec.AUTOGAN_LR, spec.AUTOGAN_DAMPENING)


def test_engine_builds_autogans_dampened_sgd():
    from gibench.engine.train import make_optimizer

    opt = make_optimizer(spec.SPEC.recipe, [torch.nn.Parameter(torch.zeros(3))],
                         spec.SPEC.recipe.lr)
    group = opt.param_groups[0]
    assert isinstance(opt, torch.optim.SGD)
    assert (group["lr"], group["momentum"], group["dampening"], group["weight_decay"]) == (
        0.01, 0.9, 0.9, 1e-4)
