"""F3Net (Qian et al. 2020, yyk-wew/F3Net 'Mix' mode): the frequency heads against scipy, the
parameter count against the original layout, forward/backward at 64 px, the original checkpoint
layouts, Cadene/timm ImageNet weights with the widened first convs, transforms and recipe."""

from __future__ import annotations

import random

import numpy as np
import pytest
import scipy.fft
import timm
import torch
from PIL import Image

from gibench.errors import GibenchError
from gibench.outputs import load_checkpoint, load_state_into
from gibench.registry import get_registry
from gibench_baselines import f3net

SIZE = 64  # the mini budget's input size

# Reference parameter count at 299 px, counted from the layer layout of yyk-wew/F3Net models.py
# (F3Net(mode='Mix', num_classes=1)) and its xception.py (Cadene's Xception):
#   2 × Xception body (conv1 … bn4, 3-channel)              2 × 20,806,952  (timm legacy_xception,
#                                                                          the same layers)
#   + first convs widened: FAD 3→12 channels, LFS 3→6          9·32·9 + 9·32·3
#   + the two streams' own fc (2048 → 1), never called         2 × 2,049
#   + FAD learnable filters, 4 × 299²                           357,604
#   + LFS learnable filters, 6 × 10²                            600
#   + MixBlock(728) + MixBlock(1024), each 4c² + 12c + 2        2,128,674 + 4,206,594
#   + fc 4096 → 1                                               4,097
# = 48,319,027 trainable. The original also holds frozen nn.Parameters: FAD DCT matrix and its
# transpose (2 × 299²), four base masks (4 × 299²), LFS DCT + transpose (2 × 10²), six base masks
# (6 × 10²) and six mask sizes: 537,212. We keep those as buffers (without the transposes) and
# drop the unused stream fc layers: 48,314,929 parameters.
REFERENCE_TRAINABLE = 48_319_027
REFERENCE_FROZEN = 537_212
XCEPTION_BODY = 20_806_952

pytestmark = pytest.mark.usefixtures("one_thread")


def _n_params(model):
    return sum(p.numel() for p in model.parameters())


def _mixblock_params(c):
    return 4 * (c * c + c) + 2 + 2 * (2 * c) + 2 * (2 * c)




@pytest.fixture(scope="module")
def model64():
    torch.manual_seed(0)
    return f3net.build(input_size=SIZE)


def _image(w=100, h=80, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    base = np.stack([xx * 2.0, yy * 2.5, (xx + yy) * 1.0], axis=-1) + 30
    arr = np.clip(base + rng.normal(0, 30, size=(h, w, 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(arr)


# --------------------------------------------------------------------------- (a) registration


def test_module_declares_its_spec():
    assert f3net.gibench_add_detectors() == [f3net.SPEC]
    spec = f3net.SPEC
    assert spec.name == "f3net"
    assert spec.preprocess.input_size == 299 and spec.preprocess.load_size is None
    assert spec.preprocess.mean == (0.5, 0.5, 0.5) and spec.preprocess.std == (0.5, 0.5, 0.5)
    assert spec.mini_notes


def test_registry_finds_f3net_through_its_entry_point():
    assert get_registry().detector("f3net") is f3net.SPEC
    assert get_registry().provider("detector", "f3net").distribution == "gibench-baselines"
    assert get_registry().detector("f3-net") is f3net.SPEC


# --------------------------------------------------------------------------- (b) frequency heads


def test_dct_matrix_is_scipys_orthonormal_dct2():
    v = np.random.default_rng(0).normal(size=(23, 5))
    ours = f3net.dct_matrix(23).double().numpy() @ v
    np.testing.assert_allclose(ours, scipy.fft.dct(v, type=2, norm="ortho", axis=0), atol=1e-6)


def test_fad_bands_at_299_and_64():
    # low (0, n//16], middle (n//16, n//8], high (n//8, n], all (0, 2n] on i + j; DC in none
    for n, edges in ((299, (18, 37)), (64, (4, 8))):
        head = f3net.FADHead(n)
        ij = torch.arange(n)[:, None] + torch.arange(n)[None, :]
        low, mid, high, full = (f.base for f in head.filters)
        assert torch.equal(low.bool(), (ij > 0) & (ij <= edges[0]))
        assert torch.equal(mid.bool(), (ij > edges[0]) & (ij <= edges[1]))
        assert torch.equal(high.bool(), (ij > edges[1]) & (ij <= n))
        assert torch.equal(full.bool(), ij > 0)
        assert tuple(head.filters[0].learnable.shape) == (n, n)


def test_fad_all_band_without_learnable_part_removes_only_the_mean():
    head = f3net.FADHead(SIZE)
    for f in head.filters:
        torch.nn.init.zeros_(f.learnable)  # 2·sigmoid(0) − 1 = 0: the bare masks
    x = torch.randn(2, 3, SIZE, SIZE)
    out = head(x)
    assert tuple(out.shape) == (2, 12, SIZE, SIZE)
    torch.testing.assert_close(out[:, 9:], x - x.mean(dim=(2, 3), keepdim=True),
                               atol=1e-4, rtol=1e-4)
    constant = head(torch.full((1, 3, SIZE, SIZE), 0.3))
    assert constant.abs().max() < 1e-4  # a flat image has nothing but DC


def test_lfs_head_matches_a_windowed_dct_by_hand():
    torch.manual_seed(3)
    head = f3net.LFSHead()
    x = torch.rand(1, 3, SIZE, SIZE) * 2 - 1
    out = head(x)
    assert tuple(out.shape) == (1, 6, 32, 32)  # (64 + 8 − 10) // 2 + 1
    grey = (0.299 * x[0, 0] + 0.587 * x[0, 1] + 0.114 * x[0, 2] + 1.0) * 122.5
    padded = np.pad(grey.double().numpy(), 4)
    for y, xx in ((0, 0), (5, 17), (31, 31)):
        window = padded[2 * y:2 * y + 10, 2 * xx:2 * xx + 10]
        logmag = np.log10(np.abs(scipy.fft.dctn(window, type=2, norm="ortho")) + 1e-15)
        for m, filt in enumerate(head.filters):
            w = filt.weight().detach().double().numpy()
            assert filt.count == filt.base.sum()
            assert out[0, m, y, xx].item() == pytest.approx((logmag * w).sum(), rel=1e-3,
                                                             abs=1e-3)
    ij = torch.arange(10)[:, None] + torch.arange(10)[None, :]
    for m, filt in enumerate(head.filters):  # bands (20m/6, 20(m+1)/6] on i + j
        assert torch.equal(filt.base.bool(), (ij > 20 * m / 6) & (ij <= 20 * (m + 1) / 6))


def _original_lfs(head, x):
    """The LFS head computed op for op as yyk-wew/F3Net's ``LFS_Head.forward``: windows shaped
    (N, L, 1, S, S), ``D @ P @ Dᵀ`` with ``Dᵀ`` a transposed view (its ``_DCT_patch_T``),
    ``log10(|c| + 1e-15)``, each band ``(base + 2σ(w) − 1) / ft_num`` applied and summed."""
    grey = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
    grey = (grey + 1.0) * 122.5
    windows = torch.nn.Unfold(10, stride=2, padding=4)(grey)
    n, _, count = windows.shape
    windows = windows.transpose(1, 2).reshape(n, count, 1, 10, 10)
    d = head.dct.clone()
    logmag = torch.log10(torch.abs(d @ windows @ torch.transpose(d, 0, 1)) + 1e-15)
    side = int(count ** 0.5)
    bands = [(logmag * (f.base + 2.0 * torch.sigmoid(f.learnable) - 1.0) / f.count)
             .sum(dim=[2, 3, 4]).reshape(n, 1, side, side) for f in head.filters]
    return torch.cat(bands, dim=1)


def _flat_regions(size=SIZE, seed=0):
    """Noise with flat rectangles (constant grey levels, as in graphics or clipped skies)."""
    g = torch.Generator().manual_seed(seed)
    u8 = torch.randint(0, 256, (2, 3, size, size), generator=g)
    u8[0, :, 4:36, 6:40] = torch.tensor([200, 31, 40])[:, None, None]
    u8[1, :, 20:60, 0:50] = 173
    u8[1, :, 0:16, 30:64] = 255
    return (u8.float() - 127.5) / 127.5


def test_lfs_head_in_flat_windows_is_the_originals_float32_arithmetic():
    # In a flat window the exact AC coefficients are 0; float32 leaves residues of about 1e-5
    # or exact zeros, which log10(|c| + 1e-15) maps to about -5 or -15. Only the original's
    # order of operations reproduces its values there (a kron(D, D) form or a contiguous Dᵀ
    # moved them by up to 10); a float64 DCT does not either (its residues are other ones).
    torch.manual_seed(4)
    head = f3net.LFSHead()
    x = _flat_regions()
    with torch.no_grad():
        ours, reference = head(x), _original_lfs(head, x)
    torch.testing.assert_close(ours, reference, atol=1e-4, rtol=1e-5)
    # the windows inside the flat rectangles carry the residues this test is about
    d = head.dct
    flat = torch.full((10, 10), 173.0)
    logmag = torch.log10((d @ flat @ d.T).abs() + 1e-15).flatten()[1:]
    assert (logmag == -15).any() and (logmag > -7).any()  # exact zeros and residues
    kron = torch.log10((torch.kron(d, d) @ flat.flatten()).abs() + 1e-15)[1:]
    assert (kron - logmag).abs().max() > 5


def test_mixblock_gates_start_closed():
    # γ = 0 → 2·sigmoid(γ) − 1 = 0: at init neither stream receives anything from the other
    mix = f3net.MixBlock(8).eval()
    a, b, other = torch.randn(2, 8, 4, 4), torch.randn(2, 8, 4, 4), torch.randn(2, 8, 4, 4)
    ya, yb = mix(a, b)
    ya2, _ = mix(a, other)
    _, yb2 = mix(other, b)
    torch.testing.assert_close(ya, ya2)
    torch.testing.assert_close(yb, yb2)
    with torch.no_grad():
        mix.fad_gamma.fill_(1.0)
        mix.lfs_gamma.fill_(1.0)
    ya, yb = mix(a, b)
    ya2, _ = mix(a, other)
    _, yb2 = mix(other, b)
    assert not torch.allclose(ya, ya2) and not torch.allclose(yb, yb2)


# --------------------------------------------------------------------------- (c) architecture


def test_parameter_count_matches_the_original_layout_at_299():
    body = _n_params(timm.create_model("legacy_xception", num_classes=0))
    assert body == XCEPTION_BODY
    reference = (2 * body + 9 * 32 * 9 + 9 * 32 * 3 + 2 * 2049 + 4 * 299 ** 2 + 6 * 100
                 + _mixblock_params(728) + _mixblock_params(1024) + 4097)
    assert reference == REFERENCE_TRAINABLE
    model = f3net.build(input_size=299)
    ours = _n_params(model)
    assert ours == REFERENCE_TRAINABLE - 2 * 2049
    assert abs(ours - REFERENCE_TRAINABLE) / REFERENCE_TRAINABLE < 0.01
    assert all(p.requires_grad for p in model.parameters())
    fixed = [b for name, b in model.named_buffers() if name.endswith(("dct", "base", "count"))]
    transposes = 299 ** 2 + 10 ** 2
    assert sum(b.numel() for b in fixed) + transposes == REFERENCE_FROZEN
    assert tuple(model.fc.weight.shape) == (1, 4096)
    assert tuple(model.fad_xception.conv1.weight.shape) == (32, 12, 3, 3)
    assert model.fad_xception.conv1.stride == (2, 2)
    assert tuple(model.lfs_xception.conv1.weight.shape) == (32, 6, 3, 3)
    assert model.lfs_xception.conv1.stride == (1, 1)


def test_streams_meet_at_the_mixblocks():
    assert f3net.stream_sizes(299) == {"block7": (19, 19), "block12": (10, 10)}
    assert f3net.stream_sizes(64) == {"block7": (4, 4), "block12": (2, 2)}
    with pytest.raises(GibenchError, match=r"cannot run at 40 px.*nearby sizes that work: \[32,"):
        f3net.build(input_size=40)


def test_forward_backward_at_64(model64):
    model = model64.train()
    with torch.no_grad():  # open the MixBlock gates so that every parameter carries gradient
        for mix in (model.mix7, model.mix12):
            mix.fad_gamma.fill_(0.5)
            mix.lfs_gamma.fill_(0.5)
    model.zero_grad()
    out = model(torch.randn(2, 3, SIZE, SIZE))
    assert tuple(out.shape) == (2, 1)
    assert torch.isfinite(out).all()
    out.sum().backward()
    no_grad = [n for n, p in model.named_parameters()
               if p.grad is None or not torch.isfinite(p.grad).all() or not p.grad.abs().sum()]
    assert no_grad == []
    with torch.no_grad():
        for mix in (model.mix7, model.mix12):
            mix.fad_gamma.zero_()
            mix.lfs_gamma.zero_()


def test_channels_last_gives_the_same_logits(model64):
    model = model64.eval()
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        ref = model(x)
        model.to(memory_format=torch.channels_last)
        out = model(x.contiguous(memory_format=torch.channels_last))
        model.to(memory_format=torch.contiguous_format)
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)


def test_wrong_input_size_is_refused(model64):
    with pytest.raises(ValueError, match="built for 64×64"):
        model64(torch.randn(1, 3, 72, 72))


@pytest.mark.slow
def test_forward_backward_at_299():
    model = f3net.build(input_size=299).train()
    out = model(torch.randn(2, 3, 299, 299))
    assert tuple(out.shape) == (2, 1) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


# --------------------------------------------------------------------------- (d) checkpoints


def _to_original(state, two_class=False):
    """Our keys → yyk-wew/F3Net's: DataParallel prefix, their module and buffer names, the DCT
    transposes, the streams' unused fc, optionally a two-class head (``num_classes=2``: the
    streams' fc become 2-class too)."""
    out = {}
    for key, value in state.items():
        key = (key.replace("fad_head.dct", "FAD_head._DCT_all")
               .replace("lfs_head.dct", "LFS_head._DCT_patch")
               .replace(".count", ".ft_num")
               .replace("fad_head.", "FAD_head.").replace("lfs_head.", "LFS_head.")
               .replace("fad_xception.", "FAD_xcep.").replace("lfs_xception.", "LFS_xcep.")
               .replace("mix7.fad_", "mix_block7.FAD_").replace("mix7.lfs_", "mix_block7.LFS_")
               .replace("mix12.fad_", "mix_block12.FAD_")
               .replace("mix12.lfs_", "mix_block12.LFS_"))
        out[key] = value
    out["FAD_head._DCT_all_T"] = out["FAD_head._DCT_all"].T.contiguous()
    out["LFS_head._DCT_patch_T"] = out["LFS_head._DCT_patch"].T.contiguous()
    classes = 2 if two_class else 1
    for stream in ("FAD_xcep", "LFS_xcep"):
        out[f"{stream}.fc.weight"] = torch.randn(classes, 2048)
        out[f"{stream}.fc.bias"] = torch.randn(classes)
    if two_class:
        out["fc.weight"] = torch.randn(2, 4096) * 0.02
        out["fc.bias"] = torch.randn(2)
    return {f"module.{k}": v for k, v in out.items()}


def _same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.fixture(scope="module")
def source_state(model64):
    torch.manual_seed(5)
    state = {k: v.clone() for k, v in model64.state_dict().items()}
    for k, v in state.items():  # make every tensor distinguishable from a fresh build
        if v.is_floating_point() and not k.endswith(("dct", "base", "count")):
            state[k] = v + torch.randn_like(v) * 0.01
    return state


def test_original_release_layout_loads_strictly(source_state, tmp_path):
    path = tmp_path / "f3net_mix.pth"
    torch.save(_to_original(source_state), path)
    converted = f3net.convert_state_dict(load_checkpoint(path))
    target = f3net.build(input_size=SIZE)
    load_state_into(target, converted, str(path))
    _same_state(target.state_dict(), source_state)


@pytest.mark.parametrize("wrapper", ["state_dict", "model", "net"])
def test_port_layout_with_two_class_head_gives_the_same_probability(source_state, tmp_path,
                                                                    wrapper):
    original = _to_original(source_state, two_class=True)
    port = {}
    for key, value in original.items():  # the snake-case port: fad_head, fad_excep, lfs_excep
        key = key.removeprefix("module.")
        key = (key.replace("FAD_head.", "fad_head.").replace("LFS_head.", "lfs_head.")
               .replace("FAD_xcep.", "fad_excep.").replace("LFS_xcep.", "lfs_excep."))
        if key.endswith((".fc.weight", ".fc.bias")) and "excep" in key:
            continue  # the port's Xception has no classifier of its own
        port[key] = value
    path = tmp_path / "f3net_port.pth"
    torch.save({wrapper: port, "epoch": 3}, path)
    model = f3net.build(input_size=SIZE)
    load_state_into(model, f3net.convert_state_dict(load_checkpoint(path)), str(path))
    model.eval()
    features = []
    model.fc.register_forward_hook(lambda m, inp, out: features.append(inp[0]))
    with torch.no_grad():
        ours = torch.sigmoid(model(torch.randn(3, 3, SIZE, SIZE)))[:, 0]
        theirs = torch.nn.functional.linear(features[0], port["fc.weight"], port["fc.bias"])
    torch.testing.assert_close(ours, torch.softmax(theirs, dim=1)[:, 1], atol=1e-5, rtol=1e-4)


def _fc_inputs(model, x):
    features = []
    hook = model.fc.register_forward_hook(lambda m, inp, out: features.append(inp[0]))
    with torch.no_grad():
        p = torch.sigmoid(model(x))[:, 0]
    hook.remove()
    return p, features[0]


@pytest.mark.parametrize("fake_class", [None, 0, 1])
def test_two_class_head_in_the_original_layout_follows_fake_class(source_state, tmp_path,
                                                                  fake_class):
    # yyk-wew/F3Net with num_classes=2, saved as its trainer saves (DataParallel state dict);
    # loaded as `--weights FILE [--fake-class K]` loads it
    from gibench.engine.models import load_detector

    original = _to_original(source_state, two_class=True)
    path = tmp_path / "f3net_two_class.pth"
    torch.save(original, path)
    model = load_detector(f3net.SPEC, path, SIZE, torch.device("cpu"), fake_class=fake_class)
    ours, features = _fc_inputs(model, torch.randn(3, 3, SIZE, SIZE))
    logits = torch.nn.functional.linear(features, original["module.fc.weight"],
                                        original["module.fc.bias"])
    fake = f3net.FAKE_INDEX if fake_class is None else fake_class
    torch.testing.assert_close(ours, torch.softmax(logits, dim=1)[:, fake], atol=1e-5, rtol=1e-4)
    assert not torch.allclose(ours, torch.softmax(logits, dim=1)[:, 1 - fake], atol=1e-3)


def test_fake_index_defaults_to_the_repositorys_labels_and_is_checked(source_state):
    # train.py: labels zeros for the real half of a batch, ones for the fake half
    assert f3net.FAKE_INDEX == 1
    import inspect

    default = inspect.signature(f3net.convert_state_dict).parameters["fake_index"].default
    assert default == f3net.FAKE_INDEX
    with pytest.raises(GibenchError, match="fake_index 2"):
        f3net.convert_state_dict(_to_original(source_state, two_class=True), fake_index=2)
    one_logit = _to_original(source_state)  # num_classes=1: fc kept whatever fake_index says
    for k in (0, 1):
        converted = f3net.convert_state_dict(one_logit, fake_index=k)
        assert torch.equal(converted["fc.weight"], one_logit["module.fc.weight"])


def test_mismatching_checkpoint_is_refused_naming_keys(source_state, model64, tmp_path):
    state = _to_original(source_state)
    del state["module.mix_block12.FAD_key.weight"]
    state["module.FAD_head.filters.0.learnable"] = torch.zeros(299, 299)
    state["module.extra.weight"] = torch.zeros(1)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(GibenchError) as info:
        load_state_into(model64, f3net.convert_state_dict(load_checkpoint(path)), str(path))
    msg = str(info.value)
    assert "missing keys: mix12.fad_key.weight" in msg
    assert "unexpected keys: extra.weight" in msg
    assert "fad_head.filters.0.learnable: checkpoint (299, 299) vs model (64, 64)" in msg
    assert str(path) in msg


def test_inconsistent_dct_transpose_is_refused(source_state):
    state = _to_original(source_state)
    state["module.FAD_head._DCT_all_T"] = state["module.FAD_head._DCT_all_T"] + 1
    with pytest.raises(GibenchError, match="_DCT_all_T is not the transpose"):
        f3net.convert_state_dict(state)




# --------------------------------------------------------------------------- (e) ImageNet weights


def _cadene_file(tmp_path, drop=None):
    """A state dict laid out like Cadene's xception-b5690688.pth: 2-D pointwise weights, fc."""
    torch.manual_seed(7)
    ref = timm.create_model("legacy_xception", num_classes=1000)
    state = {k: (v[:, :, 0, 0] if "pointwise" in k else v) for k, v in ref.state_dict().items()}
    if drop:
        del state[drop]
    path = tmp_path / "xception-b5690688.pth"
    torch.save(state, path)
    return ref.state_dict(), path


def _check_streams(model, ref):
    w = ref["conv1.weight"]
    fad, lfs = model.fad_xception, model.lfs_xception
    for group in range(4):  # init_xcep_FAD: conv1 / 4 on each group of 3 channels
        torch.testing.assert_close(fad.conv1.weight[:, 3 * group:3 * group + 3], w / 4)
    for group in range(2):  # init_xcep_LFS: conv1 / (M / 3)
        torch.testing.assert_close(lfs.conv1.weight[:, 3 * group:3 * group + 3], w / 2)
    for stream in (fad, lfs):
        assert torch.equal(stream.block12.rep[4].pointwise.weight,
                           ref["block12.rep.4.pointwise.weight"])
        assert torch.equal(stream.bn4.running_var, ref["bn4.running_var"])


def test_build_from_a_cadene_xception_file(tmp_path):
    ref, path = _cadene_file(tmp_path)
    model = f3net.build(pretrained=path, input_size=SIZE)
    _check_streams(model, ref)


def test_cadene_file_with_a_missing_key_is_refused(tmp_path):
    _, path = _cadene_file(tmp_path, drop="block3.skip.weight")
    with pytest.raises(GibenchError) as info:
        f3net.build(pretrained=path, input_size=SIZE)
    assert "missing keys: block3.skip.weight" in str(info.value)
    assert str(path) in str(info.value)


def test_imagenet_weights_come_from_timm(monkeypatch, tmp_path):
    import timm.models._builder as builder

    ref = timm.create_model("legacy_xception", num_classes=1000).state_dict()
    urls = []

    def fake_download(url, *args, **kwargs):
        urls.append(url)
        return {k: v.clone() for k, v in ref.items()}

    monkeypatch.setattr(builder, "load_state_dict_from_url", fake_download)
    model = f3net.build(pretrained="imagenet", input_size=SIZE)
    assert len(urls) == 1 and urls[0].endswith(f3net.TIMM_WEIGHTS_FILE)  # one download, 2 streams
    _check_streams(model, ref)


def test_imagenet_weights_offline_name_the_file_to_place(monkeypatch):
    import timm.models._builder as builder
    import torch.hub

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(builder, "load_state_dict_from_url", offline)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: "/nonexistent-hub")
    with pytest.raises(GibenchError) as err:
        f3net.build(pretrained="imagenet", input_size=SIZE)
    message = str(err.value)
    assert "no network" in message
    assert "xception-43020ad28.pth" in message and "/nonexistent-hub/checkpoints" in message
    assert "pretrained=PATH" in message


# --------------------------------------------------------------------------- (f) transforms




def test_train_transform_is_seeded():
    img = _image()
    train = f3net.SPEC.preprocess.make_train(SIZE, 72)
    a = train(img, random.Random(123))
    assert torch.equal(a, train(img, random.Random(123)))
    assert any(not torch.equal(a, train(img, random.Random(s))) for s in (1, 2, 3))


def test_paper_scale_resizes_the_whole_image_and_flips_only_in_training():
    # FFDataset: resize((299, 299)) (PIL's default, bicubic); augment=True adds
    # RandomHorizontalFlip(0.5) for training, evaluation (augment=False) never flips
    img = _image(w=120, h=90)
    resized = np.asarray(img.resize((299, 299), Image.Resampling.BICUBIC))
    pre = f3net.SPEC.preprocess
    train = pre.make_train(pre.input_size, pre.load_size)
    evaluate = pre.make_eval(pre.input_size, pre.load_size)
    flips = []
    for seed in range(16):
        out = train(img, random.Random(seed)).permute(1, 2, 0).numpy()
        flipped = np.array_equal(out, resized[:, ::-1])
        assert flipped or np.array_equal(out, resized)
        flips.append(flipped)
        np.testing.assert_array_equal(
            evaluate(img, random.Random(seed)).permute(1, 2, 0).numpy(), resized)
    assert 3 <= sum(flips) <= 13


def test_mini_training_crops_and_flips():
    img = _image()
    resized = np.asarray(img.resize((72, 72), Image.Resampling.BICUBIC))
    train = f3net.SPEC.preprocess.make_train(SIZE, 72)
    kinds = set()
    for seed in range(16):
        out = train(img, random.Random(seed)).permute(1, 2, 0).numpy()
        for name, source in (("kept", resized), ("flipped", resized[:, ::-1])):
            if any(np.array_equal(out, source[y:y + SIZE, x:x + SIZE])
                   for y in range(9) for x in range(9)):
                kinds.add(name)
                break
        else:
            raise AssertionError(f"seed {seed}: not a 64-px crop of the image or its mirror")
    assert kinds == {"kept", "flipped"}


def test_mini_eval_is_resize_then_centre_crop():
    img = _image()
    out = f3net.SPEC.preprocess.make_eval(SIZE, 72)(img, random.Random(0))
    expected = np.asarray(img.resize((72, 72), Image.Resampling.BICUBIC).crop((4, 4, 68, 68)))
    np.testing.assert_array_equal(out.permute(1, 2, 0).numpy(), expected)


# --------------------------------------------------------------------------- (g) recipe


def test_recipe_is_the_repositorys():
    r = f3net.SPEC.recipe
    assert r.optimizer == "adam" and r.lr == 2e-4 and r.betas == (0.9, 0.999)
    assert r.weight_decay == 0.0 and r.schedule == "constant"
    assert r.batch_size == 12 and r.epochs == 5  # train.py's max_epoch since 98b0bf2


def test_f3net_inputs_are_torchvisions_to_the_bit():
    """The original feeds ``ToTensor()(img) * 2 - 1``; the engine's normaliser gives F3Net the
    same float32 values bit for bit (the other order differs by an ulp on some pixels, which
    moved P by up to 0.016 on flat windows)."""
    import torchvision.transforms.functional as TF

    from gibench.engine.device import Normalizer
    from gibench.registry import build_registry

    pre = build_registry().detector("f3net").preprocess
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, size=(40, 36, 3), dtype=np.uint8)
    theirs = TF.to_tensor(Image.fromarray(arr)) * 2 - 1
    u = torch.from_numpy(arr.transpose(2, 0, 1).copy())[None]
    ours = Normalizer.of(pre, torch.device("cpu"))(u)[0]
    assert torch.equal(ours, theirs)
    other = Normalizer(pre.mean, pre.std, torch.device("cpu"))(u)[0]
    assert not torch.equal(other, theirs)  # the (u − 127.5) / 127.5 order is not
