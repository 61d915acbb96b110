"""CNNSpot (Wang et al. 2020): architecture, CNNDetection checkpoint layouts, local backbone
weights, and the train/eval transforms at the paper's and the mini scale."""

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
from gibench_baselines import cnnspot
from gibench_baselines.transforms import blur_jpeg_augment, shorter_side_size
from tests.conftest import write_backbone_file

# torchvision resnet50 with fc 2048→1. shared/reference/baselines.md gives 23.51 M for timm's
# resnet50 with a 1-logit head, measured with timm 1.0.31; the two architectures agree.
REFERENCE_PARAMS = 23_510_081


@pytest.fixture
def spec():
    return get_registry().detector("cnnspot")


def _n_params(model):
    return sum(p.numel() for p in model.parameters())


def _noisy(w=100, h=80, seed=0, sd=40):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    base = np.stack([xx * 2.0, yy * 2.5, (xx + yy) * 1.0], axis=-1) + 30
    arr = np.clip(base + rng.normal(0, sd, size=(h, w, 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(arr)


# --------------------------------------------------------------------------- (a) architecture


def test_spec_is_registered_with_aliases(spec):
    assert spec.name == "cnnspot"
    assert get_registry().detector("cnndetection") is spec
    assert spec.preprocess.input_size == 224 and spec.preprocess.load_size == 256


def test_parameter_count_matches_reference(spec):
    model = spec.build()
    reference = _n_params(torchvision.models.resnet50(num_classes=1))
    assert reference == REFERENCE_PARAMS
    assert abs(_n_params(model) - REFERENCE_PARAMS) / REFERENCE_PARAMS < 0.01
    assert tuple(model.fc.weight.shape) == (1, 2048)
    assert model.fc.bias.abs().item() <= 2048 ** -0.5  # nn.Linear's default, as CNNDetection
    assert 0.01 < model.fc.weight.std().item() < 0.03  # N(0, 0.02) head, as CNNDetection




def test_random_init_zeroes_last_bn_of_each_block(spec):
    model = spec.build()
    assert torch.count_nonzero(model.layer1[0].bn3.weight) == 0
    assert torch.count_nonzero(model.layer4[2].bn3.weight) == 0


# --------------------------------------------------------------------------- (b) checkpoints


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("layout", ["release", "release-module", "bare", "bare-module"])
def test_convert_state_dict_round_trip(spec, tmp_path, layout):
    torch.manual_seed(1)
    source = spec.build()
    state = source.state_dict()
    if layout.endswith("module"):
        state = {f"module.{k}": v for k, v in state.items()}
    if layout.startswith("release"):
        obj = {"model": state, "optimizer": {"state": {}, "param_groups": []},
               "total_steps": 5}
    else:
        obj = state
    path = tmp_path / "ckpt.pth"
    torch.save(obj, path)

    converted = spec.convert_state_dict(load_checkpoint(path))
    assert not any(k.startswith("module.") for k in converted)
    target = spec.build()
    assert not torch.equal(target.conv1.weight, source.conv1.weight)
    load_state_into(target, converted, str(path))
    _assert_same_state(target.state_dict(), source.state_dict())


def test_two_logit_checkpoint_is_refused_naming_fc(spec, tmp_path):
    two = torchvision.models.resnet50(num_classes=2)
    path = tmp_path / "two.pth"
    torch.save({"model": two.state_dict(), "total_steps": 5}, path)
    converted = spec.convert_state_dict(load_checkpoint(path))
    with pytest.raises(GibenchError) as info:
        load_state_into(spec.build(), converted, str(path))
    msg = str(info.value)
    assert "fc.weight: checkpoint (2, 2048) vs model (1, 2048)" in msg
    assert "fc.bias: checkpoint (2,) vs model (1,)" in msg
    assert str(path) in msg


# --------------------------------------------------------------------------- (c) local backbone


def _backbone_file(tmp_path, drop=None, prefix=""):
    return write_backbone_file(tmp_path, "resnet50", 2, drop, prefix)


@pytest.mark.parametrize("prefix", ["", "module."])
def test_build_from_local_backbone(spec, tmp_path, prefix):
    ref, path = _backbone_file(tmp_path, prefix=prefix)
    model = spec.build(pretrained=path)
    assert torch.equal(model.conv1.weight, ref.conv1.weight)
    assert torch.equal(model.layer4[2].bn3.weight, ref.layer4[2].bn3.weight)
    assert torch.equal(model.bn1.running_mean, ref.bn1.running_mean)
    # the head is fresh: one logit, N(0, 0.02), default bias — not ImageNet's 1000 classes
    assert tuple(model.fc.weight.shape) == (1, 2048)
    assert not torch.equal(model.fc.weight, ref.fc.weight[:1])
    assert model.fc.bias.abs().item() <= 2048 ** -0.5
    assert model.fc.weight.std().item() < 0.05


def test_backbone_with_missing_key_is_refused(spec, tmp_path):
    _, path = _backbone_file(tmp_path, drop="layer2.1.conv2.weight")
    with pytest.raises(GibenchError) as info:
        spec.build(pretrained=path)
    msg = str(info.value)
    assert "layer2.1.conv2.weight" in msg
    assert "missing" in msg
    assert str(path) in msg


# --------------------------------------------------------------------------- (d) transforms




def test_train_transform_is_seeded(spec):
    img = _noisy()
    train = spec.preprocess.make_train(64, 72)
    a = train(img, random.Random(123))
    b = train(img, random.Random(123))
    assert torch.equal(a, b)
    others = [train(img, random.Random(seed)) for seed in (1, 2, 3)]
    assert all(not torch.equal(a, o) for o in others)


def _hwc(t):
    return t.permute(1, 2, 0).numpy()


def test_eval_transform_on_mini_squares_is_a_square_resize_then_centre_crop(spec):
    """Mini's images are 72×72: the shorter-side resize is the square resize there, so mini
    results do not depend on it."""
    img = _noisy(90, 90)
    evaluate = spec.preprocess.make_eval(64, 72)
    a = evaluate(img, random.Random(0))
    assert torch.equal(a, evaluate(img, random.Random(99)))
    expected = np.asarray(img.resize((72, 72), Image.Resampling.BILINEAR).crop((4, 4, 68, 68)))
    np.testing.assert_array_equal(_hwc(a), expected)


@pytest.mark.parametrize("size", [(500, 332), (332, 500), (256, 300), (600, 450)])
def test_eval_transform_is_validate_py(spec, size):
    """CNNDetection's validate.py: ``TF.resize(img, 256, BILINEAR)`` (shorter side to 256, the
    aspect ratio kept), then ``CenterCrop(224)``, on the PIL image — the same pixels exactly."""
    from torchvision import transforms as T

    img = _noisy(*size, seed=5)
    theirs = T.Compose([T.Resize(256, interpolation=T.InterpolationMode.BILINEAR),
                        T.CenterCrop(224), T.PILToTensor()])(img)
    ours = spec.preprocess.make_eval(224, 256)(img, random.Random(0))
    assert ours.dtype == torch.uint8 and tuple(ours.shape) == (3, 224, 224)
    assert torch.equal(ours, theirs)
    # a squash to 256×256 (what the transform did before) gives other pixels
    squashed = img.resize((256, 256), Image.Resampling.BILINEAR).crop((16, 16, 240, 240))
    if size[0] != size[1]:
        assert np.abs(_hwc(ours).astype(int) - np.asarray(squashed, dtype=int)).mean() > 5


@pytest.mark.parametrize(("height", "width"), [(332, 500), (500, 332), (240, 320), (257, 255),
                                               (128, 128), (3, 20), (256, 999)])
def test_shorter_side_size_is_torchvisions(height, width):
    from torchvision.transforms import functional as TF

    expected = tuple(TF.resize(torch.zeros(1, height, width), 256).shape[-2:])
    assert shorter_side_size(height, width, 256) == expected
    assert min(shorter_side_size(height, width, 256)) == 256


def test_batched_eval_follows_the_per_image_transform(spec):
    """The engine's device path (degrade at native size, then ``transform.batch``) computes the
    shorter-side size from each batch of equal-size images."""
    evaluate = spec.preprocess.make_eval(224, 256)
    for size in ((500, 332), (332, 500), (256, 256)):
        imgs = [_noisy(*size, seed=s) for s in (1, 2)]
        batch = torch.stack([torch.from_numpy(np.asarray(i).transpose(2, 0, 1).copy())
                             for i in imgs])
        out = evaluate.batch(batch)
        assert out.dtype == torch.uint8 and tuple(out.shape) == (2, 3, 224, 224)
        for img, got in zip(imgs, out, strict=True):
            ref = evaluate(img, random.Random(0))
            # PyTorch's antialiased bilinear against Pillow's: within two grey levels
            assert (got.int() - ref.int()).abs().max() <= 2


def test_train_transform_keeps_the_aspect_ratio(spec, captured):
    """CNNDetection trains on ``custom_resize`` too: a crop of the shorter-side resize (here
    with the blur/JPEG augmentation stubbed out), flipped or not."""
    img = _noisy(100, 80)  # → 90×72 at load size 72
    loaded = np.asarray(img.resize((90, 72), Image.Resampling.BILINEAR)).transpose(2, 0, 1)
    windows = [(y, x) for y in range(72 - 64 + 1) for x in range(90 - 64 + 1)]
    train = spec.preprocess.make_train(64, 72)
    seen, flips = set(), set()
    for seed in range(8):
        out = train(img, random.Random(seed)).numpy()
        hits = [(y, x, flip) for y, x in windows for flip in (False, True)
                if np.array_equal(out, (lambda w: w[..., ::-1] if flip else w)(
                    loaded[:, y:y + 64, x:x + 64]))]
        assert len(hits) == 1
        seen.add(hits[0][:2])
        flips.add(hits[0][2])
    assert len(seen) > 3 and flips == {False, True}


# --------------------------------------------------------------------------- (e) augmentation


def _arr(img):
    return np.asarray(img, dtype=np.int16)


def test_blur_only_changes_a_noisy_image():
    img = _noisy()
    out = blur_jpeg_augment(1.0, (1.0, 2.0), 0.0)(img, random.Random(0))
    assert out.size == img.size
    diff = np.abs(_arr(out) - _arr(img))
    assert diff.mean() > 5
    assert _arr(out).std() < _arr(img).std()  # smoothing reduces the noise


def test_no_augmentation_returns_the_image_unchanged():
    img = _noisy()
    out = blur_jpeg_augment(0.0, (0.0, 3.0), 0.0)(img, random.Random(0))
    np.testing.assert_array_equal(_arr(out), _arr(img))


def test_jpeg_only_is_close_but_not_identical():
    img = _noisy(sd=10)
    out = blur_jpeg_augment(0.0, (0.0, 3.0), 1.0, (90, 90))(img, random.Random(0))
    assert out.mode == "RGB" and out.size == img.size
    diff = np.abs(_arr(out) - _arr(img))
    assert diff.max() > 0
    assert diff.mean() < 20


def test_blur_sigma_constant():
    assert cnnspot.BLUR_SIGMA == (0.0, 3.0)


@pytest.fixture
def captured(monkeypatch):
    calls = []

    def fake(*args):
        calls.append(args)
        return lambda img, rng: img

    monkeypatch.setattr(cnnspot, "blur_jpeg_augment", fake)
    return calls


@pytest.mark.parametrize(("input_size", "load_size", "top"), [
    (224, 256, 3.0),
    (64, 72, 3.0 * 72 / 256),
    (224, None, 3.0),  # no load size: scaled from the crop, 224 → 256 → σ max 3
])
def test_blur_sigma_scales_with_load_size(spec, captured, input_size, load_size, top):
    transform = spec.preprocess.make_train(input_size, load_size)
    assert len(captured) == 1
    blur_prob, sigma, jpeg_prob, quality = captured[0]
    assert blur_prob == 0.5 and jpeg_prob == 0.5
    assert tuple(quality) == (30, 100)  # JPEG quality does not scale
    assert sigma[0] == 0.0
    assert sigma[1] == pytest.approx(top)
    out = transform(_noisy(), random.Random(0))
    assert tuple(out.shape) == (3, input_size, input_size)


def test_imagenet_weights_offline_name_the_file_to_place(offline_torchvision):
    from gibench_baselines import cnnspot

    with pytest.raises(GibenchError) as err:
        cnnspot.build(pretrained="imagenet")
    message = str(err.value)
    assert "no network" in message  # the patched fetch was the one that failed
    assert "resnet50-0676ba61.pth" in message and offline_torchvision in message
    assert "pretrained=PATH" in message
