"""GramNet (Liu, Qi, Torr 2020): architecture against the original ``resnet18_gram.py`` layout,
its state-dict layout and two-class head, local backbone weights, the cv2-style random rescaling
and the raw 0..255 BGR input."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from gibench.engine.device import Normalizer
from gibench.errors import GibenchError
from gibench.outputs import load_checkpoint, load_state_into
from gibench_baselines import gramnet
from tests.conftest import write_backbone_file
from tests.test_cnnspot import _noisy

SPEC = gramnet.SPEC

pytestmark = pytest.mark.usefixtures("one_thread")


def _n_params(model):
    return sum(p.numel() for p in model.parameters())


def _conv_bn(cin, cout):  # 3×3 conv without bias + BatchNorm (weight, bias)
    return cin * cout * 9 + 2 * cout


# Counted from the layer layout of the original ``stylegan-celeba/resnet18_gram.py``
# (liuzhengzhe/Global_Texture_Enhancement_for_Fake_Face_Detection_in_the-Wild): the ResNet-18
# without ``fc`` (torchvision's 11,689,512 minus 512·1000 + 1000), six 3×3 convs to 32 channels
# + BN from 3, 64, 64, 64, 128 and 256 channels, six pairs of stride-2 convs 1→16→32 + BN, the
# ``ScaleLayer`` scalar and ``fcnewr`` 704→512→1 (→2 in the original: 513 more).
REFERENCE_PARAMS = (
    11_689_512 - 513_000
    + sum(_conv_bn(c, 32) for c in (3, 64, 64, 64, 128, 256))
    + 6 * (_conv_bn(1, 16) + _conv_bn(16, 32))
    + 1
    + 704 * 512 + 512 + 512 + 1
)
assert REFERENCE_PARAMS == 11_734_210

#: Every module of the original ``ResNet.__init__`` that holds parameters or buffers.
ORIGINAL_MODULES = {
    "conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "scale", "fcnewr",
    "conv_interi_0", "conv_inter0_0", "conv_inter1_0", "conv_inter2_0", "conv_inter3_0",
    "conv_inter4_0", "gi_fc1", "gi_fc2", "g0_fc1", "g0_fc2", "g_fc1r", "g_fc2r",
    "g2_fc1", "g2_fc2", "g3_fc1", "g3_fc2", "g4_fc1", "g4_fc2",
}




@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return gramnet.build()


# --------------------------------------------------------------------------- (a) architecture


def test_parameter_count_matches_reference(model):
    assert abs(_n_params(model) - REFERENCE_PARAMS) / REFERENCE_PARAMS < 0.01
    assert _n_params(model) == REFERENCE_PARAMS
    # the backbone is torchvision's ResNet-18 (BasicBlock) exactly, without its fc
    r18 = torchvision.models.resnet18().state_dict()
    backbone = {k: v.shape for k, v in model.state_dict().items()
                if not k.startswith(gramnet.HEAD_PREFIXES)}
    assert backbone == {k: v.shape for k, v in r18.items() if not k.startswith("fc.")}


def test_module_names_and_shapes_are_the_originals(model):
    state = model.state_dict()
    assert {k.split(".")[0] for k in state} == ORIGINAL_MODULES
    assert tuple(state["fcnewr.0.weight"].shape) == (512, 704)
    assert tuple(state["fcnewr.3.weight"].shape) == (1, 512)  # (2, 512) in the original
    assert tuple(state["conv_interi_0.0.weight"].shape) == (32, 3, 3, 3)
    assert tuple(state["conv_inter4_0.0.weight"].shape) == (32, 256, 3, 3)
    assert tuple(state["g_fc1r.0.weight"].shape) == (16, 1, 3, 3)
    assert tuple(state["g4_fc2.0.weight"].shape) == (32, 16, 3, 3)
    assert model.g4_fc2[0].stride == (2, 2) and model.conv_inter4_0[0].stride == (1, 1)
    assert torch.equal(model.scale.scale, torch.ones(1))
    assert isinstance(model.fcnewr[2], torch.nn.Dropout) and model.fcnewr[2].p == 0.5


def test_gram_matrix_is_normalised_by_size():
    x = torch.randn(2, 5, 3, 4)
    g = gramnet.GramMatrix()(x)
    assert tuple(g.shape) == (2, 1, 5, 5)
    f = x.reshape(2, 5, 12)
    torch.testing.assert_close(g[:, 0], f @ f.transpose(1, 2) / (5 * 3 * 4))
    # channels_last input (non-contiguous for a view) gives the same matrix
    torch.testing.assert_close(gramnet.GramMatrix()(x.contiguous(memory_format=torch.
                                                                  channels_last)), g)


def test_gram_matrix_does_not_overflow_under_float16_autocast():
    # at 512 px the image branch sums 262,144 products per entry: > 65,504, float16's maximum
    x = torch.ones(1, 2, 512, 512, dtype=torch.float16)
    with torch.autocast(device_type="cpu", dtype=torch.float16):
        g = gramnet.GramMatrix()(x)
    assert g.dtype == torch.float32
    torch.testing.assert_close(g, torch.full((1, 1, 2, 2), 0.5))


def test_plugin_hook_registers_the_spec():
    assert gramnet.gibench_add_detectors() == [SPEC]
    assert SPEC.name == "gramnet" and "gram-net" in SPEC.aliases
    assert SPEC.mini_notes and "16..64" in SPEC.mini_notes


@pytest.mark.parametrize("size", [64, 512])
def test_each_texture_branch_gives_32_features_at_any_size(model, size):
    seen = {}
    hooks = [getattr(model, fc2).register_forward_hook(
        lambda mod, inp, out, name=fc2: seen.__setitem__(name, tuple(out.shape)))
        for _, _, fc2, _ in gramnet.TEXTURE_BRANCHES]
    hooks.append(model.fcnewr.register_forward_hook(
        lambda mod, inp, out: seen.__setitem__("fcnewr", tuple(inp[0].shape))))
    try:
        model.eval()
        with torch.no_grad():
            out = model(torch.randn(1, 3, size, size))
    finally:
        for h in hooks:
            h.remove()
    assert tuple(out.shape) == (1, 1) and torch.isfinite(out).all()
    # the Gram matrix is 32×32 whatever the input: two stride-2 convs leave 8×8
    assert all(seen[fc2] == (1, 32, 8, 8) for _, _, fc2, _ in gramnet.TEXTURE_BRANCHES)
    assert seen["fcnewr"] == (1, 704)




def test_channels_last_gives_the_same_logits(model):
    model.eval()
    x = torch.randn(2, 3, 64, 64) * 60 + 120
    with torch.no_grad():
        ref = model(x)
        model.to(memory_format=torch.channels_last)
        try:
            out = model(x.contiguous(memory_format=torch.channels_last))
        finally:
            model.to(memory_format=torch.contiguous_format)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


def test_network_sees_bgr(model):
    """The original feeds cv2's BGR order: the first conv and the image branch get the
    channels reversed."""
    captured = []
    hook = model.conv1.register_forward_pre_hook(lambda mod, inp: captured.append(inp[0]))
    hook2 = model.conv_interi_0.register_forward_pre_hook(
        lambda mod, inp: captured.append(inp[0]))
    x = torch.rand(1, 3, 64, 64)
    try:
        with torch.no_grad():
            model.eval()(x)
    finally:
        hook.remove()
        hook2.remove()
    assert len(captured) == 2
    for seen in captured:
        assert torch.equal(seen[:, 0], x[:, 2]) and torch.equal(seen[:, 2], x[:, 0])


@pytest.mark.slow
def test_forward_backward_at_paper_size():  # 6 to 10 s on a CPU
    model = gramnet.build().train()
    out = model(torch.rand(2, 3, 512, 512) * 255)
    out.sum().backward()
    assert tuple(out.shape) == (2, 1) and torch.isfinite(out).all()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_amp_channels_last_at_paper_size_on_gpu():
    from gibench.engine.device import autocast

    device = torch.device("cuda")
    model = gramnet.build().to(device).to(memory_format=torch.channels_last).train()
    x = (torch.rand(4, 3, 512, 512, device=device) * 255).contiguous(
        memory_format=torch.channels_last)
    with autocast(device):
        out = model(x)
    out.float().sum().backward()
    assert torch.isfinite(out).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


# --------------------------------------------------------------------------- (b) checkpoints


def _original_state(source, prefix=""):
    """What ``torch.save(model.state_dict())`` writes for the original ``resnet18_gram`` model
    (same key names, two-class ``fcnewr.3``), optionally wrapped by DataParallel."""
    torch.manual_seed(3)
    state = dict(source.state_dict())
    state["fcnewr.3.weight"] = torch.randn(2, 512) * 0.05
    state["fcnewr.3.bias"] = torch.randn(2) * 0.1
    return {f"{prefix}{k}": v for k, v in state.items()}


def test_original_layout_converts_to_the_fake_probability(tmp_path):
    torch.manual_seed(2)
    source = gramnet.build()
    path = tmp_path / "gram.pth"
    torch.save(_original_state(source, "module."), path)  # DataParallel, as they trained

    converted = SPEC.convert_state_dict(load_checkpoint(path))
    target = gramnet.build()
    load_state_into(target, converted, str(path))

    # their model: the same network with the 2-class head and LogSoftmax
    theirs = gramnet.build()
    theirs.fcnewr[3] = torch.nn.Linear(512, 2)
    theirs.load_state_dict(_original_state(source))
    x = torch.rand(3, 3, 64, 64) * 255
    with torch.no_grad():
        ours = torch.sigmoid(target.eval()(x))[:, 0]
        their_logp = torch.log_softmax(theirs.eval()(x), dim=1)
    # the original labels generated images 0 (main.py: pred == 0 on the fake test sets)
    torch.testing.assert_close(ours, their_logp[:, 0].exp(), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(ours, their_logp[:, 1].exp(), atol=1e-3)
    # --fake-class 1 reads the other class, through the engine's loader
    from gibench.engine.models import load_detector

    flipped = load_detector(SPEC, path, 64, torch.device("cpu"), fake_class=1)
    with torch.no_grad():
        other = torch.sigmoid(flipped(x.contiguous(memory_format=torch.channels_last)))[:, 0]
    torch.testing.assert_close(other, their_logp[:, 1].exp(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("prefix", "wrapper"), [
    ("", None), ("module.", "state_dict"), ("", "model"), ("module.", "net")])
def test_wrappers_and_prefixes_are_unwrapped(model, prefix, wrapper):
    state = _original_state(model, prefix)
    obj = {wrapper: state, "epoch": 3} if wrapper else state
    converted = SPEC.convert_state_dict(obj)
    own = model.state_dict()
    assert converted.keys() == own.keys()
    assert all(converted[k].shape == own[k].shape for k in own)
    assert torch.equal(converted["layer2.0.conv1.weight"], own["layer2.0.conv1.weight"])
    w = state[f"{prefix}fcnewr.3.weight"]
    torch.testing.assert_close(converted["fcnewr.3.weight"], (w[0] - w[1])[None])


def test_our_checkpoint_round_trips(tmp_path):
    torch.manual_seed(4)
    source = gramnet.build()
    path = tmp_path / "model.pt"
    torch.save(source.state_dict(), path)
    target = gramnet.build()
    assert not torch.equal(target.conv_inter3_0[0].weight, source.conv_inter3_0[0].weight)
    load_state_into(target, SPEC.convert_state_dict(load_checkpoint(path)), str(path))
    for k, v in source.state_dict().items():
        assert torch.equal(target.state_dict()[k], v), k


def test_mismatching_checkpoints_are_refused_naming_keys(tmp_path):
    state = _original_state(gramnet.build())
    del state["conv_inter4_0.0.weight"]
    state["fcnewr.3.weight"] = torch.zeros(3, 512)  # not a 1- or 2-class head
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(GibenchError) as info:
        load_state_into(gramnet.build(), SPEC.convert_state_dict(load_checkpoint(path)),
                        str(path))
    msg = str(info.value)
    assert "missing keys: conv_inter4_0.0.weight" in msg
    assert "fcnewr.3.weight: checkpoint (3, 512) vs model (1, 512)" in msg
    assert str(path) in msg


def test_a_plain_resnet18_is_not_a_gramnet_checkpoint(tmp_path):
    path = tmp_path / "r18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    with pytest.raises(GibenchError) as info:
        load_state_into(gramnet.build(), SPEC.convert_state_dict(load_checkpoint(path)),
                        str(path))
    msg = str(info.value)
    assert "conv_interi_0.0.weight" in msg and "unexpected keys: fc.weight" in msg


# --------------------------------------------------------------------------- (c) backbone weights


def _backbone_file(tmp_path, drop=None, prefix=""):
    return write_backbone_file(tmp_path, "resnet18", 5, drop, prefix)


@pytest.mark.parametrize("prefix", ["", "module."])
def test_build_from_local_backbone(tmp_path, prefix):
    ref, path = _backbone_file(tmp_path, prefix=prefix)
    torch.manual_seed(6)
    fresh = gramnet.build()
    torch.manual_seed(6)
    model = gramnet.build(pretrained=path)
    assert torch.equal(model.conv1.weight, ref.conv1.weight)
    assert torch.equal(model.layer4[1].bn2.weight, ref.layer4[1].bn2.weight)
    assert torch.equal(model.bn1.running_mean, ref.bn1.running_mean)
    # the texture branches and the head keep their initialisation (strict=False in the original)
    for key in ("conv_inter2_0.0.weight", "g3_fc1.0.weight", "fcnewr.3.weight", "scale.scale"):
        assert torch.equal(model.state_dict()[key], fresh.state_dict()[key]), key


def test_backbone_with_missing_key_is_refused(tmp_path):
    _, path = _backbone_file(tmp_path, drop="layer2.1.conv2.weight")
    with pytest.raises(GibenchError) as info:
        gramnet.build(pretrained=path)
    msg = str(info.value)
    assert "missing keys: layer2.1.conv2.weight" in msg and str(path) in msg


def test_imagenet_weights_offline_name_the_file_to_place(offline_torchvision):
    with pytest.raises(GibenchError) as err:
        gramnet.build(pretrained="imagenet")
    message = str(err.value)
    assert "no network" in message
    assert "resnet18-f37072fd.pth" in message and offline_torchvision in message


def test_imagenet_weights_go_into_the_backbone(monkeypatch):
    import torchvision.models._api as tv_api

    ref = torchvision.models.resnet18()
    monkeypatch.setattr(tv_api, "load_state_dict_from_url",
                        lambda *args, **kwargs: ref.state_dict())
    model = gramnet.build(pretrained="imagenet")
    assert torch.equal(model.layer3[0].downsample[0].weight, ref.layer3[0].downsample[0].weight)


# --------------------------------------------------------------------------- (d) preprocessing


def test_input_is_raw_0_255():
    """No mean/std in the original: the engine's normaliser must hand over the pixel values."""
    pre = SPEC.preprocess
    batch = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    x = Normalizer(pre.mean, pre.std, torch.device("cpu"))(batch)
    torch.testing.assert_close(x, batch.float(), rtol=1e-6, atol=1e-4)
    assert pre.input_size == 512 and pre.load_size is None


@pytest.mark.parametrize("make", ["make_train", "make_eval"])
def test_transforms_give_uint8_squares_from_a_non_square_image(make):
    img = _noisy()
    transform = getattr(SPEC.preprocess, make)(64, 72)
    a = transform(img, random.Random(7))
    assert a.dtype == torch.uint8 and tuple(a.shape) == (3, 64, 64)
    assert torch.equal(a, transform(img, random.Random(7)))
    big = getattr(SPEC.preprocess, make)(512, None)(img, random.Random(7))
    assert tuple(big.shape) == (3, 512, 512)


def test_train_transform_is_seeded_and_varies():
    img = _noisy()
    train = SPEC.preprocess.make_train(64, 72)
    a = train(img, random.Random(123))
    others = [train(img, random.Random(seed)) for seed in (1, 2, 3, 4)]
    assert sum(not torch.equal(a, o) for o in others) >= 3


@pytest.mark.parametrize(("input_size", "expected"), [(512, (64, 256)), (1024, (128, 512)),
                                                      (64, (16, 64)), (224, (56, 224))])
def test_random_size_range_scales_with_input(input_size, expected):
    """The original's 64..256 at 512 and above (scaled); input/4..input at reduced sizes."""
    assert gramnet.random_size_range(input_size) == expected


def test_train_transform_is_random_rescale_then_resize():
    img = _noisy()
    rng = random.Random(11)
    size = random.Random(11).randint(16, 64)
    expected = gramnet.cv2_linear_resize(gramnet.cv2_linear_resize(img, size), 64)
    out = SPEC.preprocess.make_train(64, 72)(img, rng)
    np.testing.assert_array_equal(out.permute(1, 2, 0).numpy(), np.asarray(expected))


def test_linear_resize_is_two_tap_like_cv2():
    """cv2.INTER_LINEAR samples at pixel centres with two taps, even when shrinking 4× (PIL's
    BILINEAR would widen the filter). The helper is shared with Spec (transforms.py); it is
    compared with OpenCV itself below and in test_spec.py."""
    row = np.array([0, 40, 80, 120, 160, 200, 240, 255], dtype=np.uint8)
    img = Image.fromarray(np.repeat(np.tile(row, (8, 1))[:, :, None], 3, axis=2))
    out = np.asarray(gramnet.cv2_linear_resize(img, 2))[0, :, 0]
    # source x = (i + 0.5) · 4 − 0.5 = 1.5, 5.5: the mean of pixels 1, 2 and of 5, 6
    np.testing.assert_array_equal(out, [60, 220])
    two = np.array([[[0] * 3, [100] * 3]] * 2, dtype=np.uint8)  # 2×2, columns 0 and 100
    up = np.asarray(gramnet.cv2_linear_resize(Image.fromarray(two), 4))[0, :, 0]
    np.testing.assert_array_equal(up, [0, 25, 75, 100])  # half-pixel centres, edges clamped


def test_eval_transform_is_a_plain_resize():
    img = _noisy()
    out = SPEC.preprocess.make_eval(64, 72)(img, random.Random(0))
    np.testing.assert_array_equal(out.permute(1, 2, 0).numpy(),
                                  np.asarray(gramnet.cv2_linear_resize(img, 64)))


@pytest.mark.parametrize("size", [(600, 450), (300, 200)])
def test_eval_transform_is_demo_pys_resize(size):
    """demo.py: ``cv2.resize(cv2.imread(path), (512, 512))`` (default INTER_LINEAR), pixel for
    pixel; the batched form (the engine's device path) gives the same pixels."""
    import cv2

    img = _noisy(*size, seed=3)
    evaluate = SPEC.preprocess.make_eval(512, None)
    out = evaluate(img, random.Random(0))
    theirs = cv2.resize(np.ascontiguousarray(np.asarray(img)[:, :, ::-1]), (512, 512))[:, :, ::-1]
    np.testing.assert_array_equal(out.permute(1, 2, 0).numpy(), theirs)
    batch = torch.from_numpy(np.asarray(img).transpose(2, 0, 1).copy())[None]
    assert torch.equal(evaluate.batch(batch)[0], out)


# --------------------------------------------------------------------------- (e) recipe


def test_recipe_is_the_original_training_script():
    r = SPEC.recipe
    assert r.optimizer == "adam" and r.betas == (0.9, 0.999)
    assert r.lr == 1e-5  # main.py: Adam(lr=0.0003) then param_group['lr'] = 0.00001
    assert r.weight_decay == 1e-4
    assert r.batch_size == 16 and r.epochs == 10  # pggan-celeba/main.py
    assert r.schedule == "constant"
    assert gramnet.RANDOM_SIZE == (64, 256) and gramnet.INPUT_SIZE == 512
    assert gramnet.FAKE_INDEX == 0


def test_registered_through_the_baselines_distribution():
    from gibench.registry import get_registry

    registry = get_registry()
    assert registry.detector("gramnet") is SPEC
    assert registry.provider("detector", "gramnet").distribution == "gibench-baselines"
