"""The gibench-plugin-modern distribution (NPR, SAFE, UnivFD): installed from the outside, the
contract, the authors' checkpoint layouts written here, and the pieces each paper defines."""

from __future__ import annotations

import dataclasses
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.transforms as T
from PIL import Image

from gibench.registry import clear_registry_cache, get_registry
from gibench.testing import check_detector

MODERN = Path(__file__).resolve().parents[1] / "plugins" / "gibench-plugin-modern"
ENTRY_POINTS = {"npr": "gibench_modern.npr", "safe": "gibench_modern.safe",
                "univfd": "gibench_modern.univfd"}


@pytest.fixture
def modern(tmp_path, monkeypatch):
    """The distribution as pip leaves it: its package and a .dist-info on sys.path."""
    site = tmp_path / "modern-site"
    info = site / "gibench_plugin_modern-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gibench-plugin-modern\n"
                                   "Version: 0.1.0\n")
    (info / "entry_points.txt").write_text(
        "[gibench]\n" + "".join(f"{k} = {v}\n" for k, v in ENTRY_POINTS.items()))
    monkeypatch.syspath_prepend(str(MODERN))
    monkeypatch.syspath_prepend(str(site))
    clear_registry_cache()
    return site


@pytest.fixture(autouse=True)
def _threads(one_thread):
    yield


def _image(w: int, h: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


# --- installed from the outside ---------------------------------------------------------------
def test_pip_install_adds_the_three_detectors_and_the_core_imports_none(tmp_path, monkeypatch):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(MODERN)], check=True)
    monkeypatch.syspath_prepend(str(target))
    clear_registry_cache()
    reg = get_registry()
    for name in ENTRY_POINTS:
        info = reg.provider("detector", name)
        assert (info.name, info.distribution, info.builtin) == (
            name, "gibench-plugin-modern", False)
    core = Path(__file__).resolve().parents[1] / "harness" / "gibench"
    assert not [p for p in core.rglob("*.py") if "gibench_modern" in p.read_text()]
    sources = (MODERN / "gibench_modern").glob("*.py")
    imports = {line.split()[1] for p in sources for line in p.read_text().splitlines()
               if line.startswith(("from gibench", "import gibench"))}
    assert imports <= {"gibench.api", "gibench_modern.ops", "gibench_modern.trunk"}, imports


# --- the contract -----------------------------------------------------------------------------
def test_npr_keeps_the_contract(modern):
    check_detector(get_registry().detector("npr"))


def test_safe_keeps_the_contract(modern):
    pytest.importorskip("ptwt")
    check_detector(get_registry().detector("safe"))


def test_year_and_venue_are_the_papers(modern):
    reg = get_registry()
    assert {n: (reg.detector(n).year, reg.detector(n).venue) for n in ENTRY_POINTS} == {
        "npr": (2024, "CVPR"), "safe": (2025, "KDD"), "univfd": (2023, "CVPR")}


def _tiny_univfd():
    from gibench_modern import univfd

    shape = univfd.ClipShape(patch=8, width=64, layers=2, heads=1, output_dim=32)
    spec = dataclasses.replace(
        univfd.SPEC, parameters=None,
        build=lambda pretrained=None, input_size=224: univfd.build_model(shape, input_size,
                                                                         pretrained))
    return univfd, shape, spec


def test_univfd_keeps_the_contract_small_and_counts_vit_l14_on_the_meta_device(modern):
    univfd, _, tiny = _tiny_univfd()
    check_detector(tiny)  # the real class in a small CLIP shape, at 224 and 64 px
    spec = get_registry().detector("univfd")
    assert spec.parameter_count(declared=False) == spec.parameters == univfd.PARAMETERS


@pytest.mark.slow
def test_univfd_vit_l14_keeps_the_contract(modern):
    check_detector(get_registry().detector("univfd"), full_size=False)


# --- NPR --------------------------------------------------------------------------------------
def test_npr_residual_is_x_minus_its_nearest_2x_reconstruction(modern):
    from gibench_modern.npr import even_crop, npr_residual

    x = torch.randn(2, 3, 10, 14)
    direct = x - x[..., ::2, ::2].repeat_interleave(2, -2).repeat_interleave(2, -1)
    assert torch.equal(npr_residual(x), direct)
    assert npr_residual(x).abs().sum() > 0
    assert torch.equal(npr_residual(x)[..., ::2, ::2], torch.zeros(2, 3, 5, 7))
    assert even_crop(torch.zeros(1, 3, 11, 9)).shape[-2:] == (10, 8)


def _write_npr_checkpoints(tmp_path: Path) -> tuple[torch.nn.Module, list[Path]]:
    from gibench_modern.trunk import TruncatedResNet

    torch.manual_seed(3)
    ref = TruncatedResNet(num_classes=1)
    for m in ref.modules():  # non-trivial running statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    state = ref.state_dict()
    assert {k.split(".")[0] for k in state} == {"conv1", "bn1", "layer1", "layer2", "fc1"}
    plain, wrapped = tmp_path / "NPR.pth", tmp_path / "npr_model.pth"
    torch.save(state, plain)  # NPR.pth: their save_networks, a plain state dict
    torch.save({"model": {f"module.{k}": v for k, v in state.items()}}, wrapped)
    return ref, [plain, wrapped]


def test_npr_loads_its_authors_checkpoint_layouts(modern, tmp_path):
    from gibench_modern import npr

    ref, files = _write_npr_checkpoints(tmp_path)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = ref.eval()(npr.npr_residual(x) * (2 / 3))
        for path in files:
            got = npr.build(pretrained=path).eval()(x)
            torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    from gibench.api import GibenchError

    with pytest.raises(GibenchError, match="trains from scratch"):
        npr.build(pretrained="imagenet")


def test_npr_eval_tiles_small_images_then_crops_the_centre(modern):
    from gibench_modern.npr import make_eval

    small = _image(40, 30)
    out = make_eval(64, None)(small, random.Random(0))
    arr = np.asarray(small).transpose(2, 0, 1)
    tiled = np.tile(arr, (1, 3, 2))  # 90 × 80: ceil(64/30) down, ceil(64/40) across
    top, left = round((90 - 64) / 2), round((80 - 64) / 2)
    assert np.array_equal(out.numpy(), tiled[:, top:top + 64, left:left + 64])
    big = _image(101, 77)
    want = T.CenterCrop(64)(big)
    assert np.array_equal(make_eval(64, None)(big, random.Random(0)).permute(1, 2, 0).numpy(),
                          np.asarray(want))


def test_npr_trains_on_the_toy_data(modern, toy_plugin, toy_root, tmp_path):
    import gibench

    results = gibench.run("npr", "cross-generator", data_root=toy_root, dataset="toy",
                          train_subset="toy-a", device="cpu", workers=0, progress=False,
                          out=tmp_path / "run", input_size=16, batch_size=8, epochs=3, lr=2e-3)
    assert list(results["test_subset"]) == ["toy-a", "toy-b"]
    assert (results["auc"] > 90).all(), results[["acc", "auc"]]  # NPR sees the period-2 grid


# --- SAFE -------------------------------------------------------------------------------------
def test_safe_band_is_pywavelets_bior13_diagonal_resized(modern):
    pywt = pytest.importorskip("pywt")
    pytest.importorskip("ptwt")
    import torch.nn.functional as F
    from gibench_modern.safe import hh_band, wavelet_input

    x = torch.rand(2, 3, 20, 26, dtype=torch.float32)
    _, (_, _, diagonal) = pywt.dwt2(x.double().numpy(), "bior1.3", mode="symmetric")
    band = hh_band(x)
    assert band.shape == (2, 3, 12, 15)  # (side + 5) // 2: bior1.3's six taps, symmetric
    np.testing.assert_allclose(band.double().numpy(), diagonal, atol=1e-5)
    resized = F.interpolate(torch.from_numpy(diagonal).float(), size=(20, 26), mode="bilinear",
                            align_corners=False)
    torch.testing.assert_close(wavelet_input(x), resized, rtol=0, atol=1e-5)


def test_safe_loads_its_authors_checkpoint_and_gives_the_fake_class_probability(modern, tmp_path):
    pytest.importorskip("ptwt")
    from gibench_modern import safe
    from gibench_modern.trunk import TruncatedResNet

    torch.manual_seed(5)
    ref = TruncatedResNet(num_classes=2).eval()
    path = tmp_path / "checkpoint-best.pth"
    torch.save({"model": ref.state_dict(), "epoch": "best"}, path)  # their save_model, less args
    ours = safe.build(pretrained=path).eval()
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        want = ref(safe.wavelet_input(x)).softmax(1)[:, 1]
        torch.testing.assert_close(ours(x).sigmoid()[:, 0], want, rtol=0, atol=1e-6)


def test_safe_eval_pads_small_images_centred_as_torchvision(modern):
    from gibench_modern.safe import make_eval

    for w, h in ((40, 30), (101, 77), (63, 64)):
        img = _image(w, h)
        want = T.CenterCrop(64)(T.PILToTensor()(img))
        transform = make_eval(64, None)
        assert torch.equal(transform(img, random.Random(0)), want)
        assert torch.equal(transform.batch(T.PILToTensor()(img)[None])[0], want)


# --- UnivFD -----------------------------------------------------------------------------------
_TO_OPENAI = (("encoder.patch_embed.proj.", "conv1."), ("encoder.norm_pre.", "ln_pre."),
              ("encoder.norm.", "ln_post."), ("encoder.blocks.", "transformer.resblocks."),
              (".norm1.", ".ln_1."), (".norm2.", ".ln_2."),
              (".attn.qkv.weight", ".attn.in_proj_weight"),
              (".attn.qkv.bias", ".attn.in_proj_bias"), (".attn.proj.", ".attn.out_proj."),
              (".mlp.fc1.", ".mlp.c_fc."), (".mlp.fc2.", ".mlp.c_proj."))


def _openai_layout(model) -> dict[str, torch.Tensor]:
    """``model``'s encoder in OpenAI CLIP's names (``visual.*``), as ``ViT-L-14.pt`` holds."""
    out = {"transformer.text_projection": torch.zeros(4, 4)}  # a text-tower key: ignored
    for key, value in torch.nn.Module.state_dict(model).items():
        if key == "proj.weight":
            out["visual.proj"] = value.t().clone()
        elif key == "encoder.cls_token":
            out["visual.class_embedding"] = value.reshape(-1).clone()
        elif key == "encoder.pos_embed":
            out["visual.positional_embedding"] = value[0].clone()
        elif key.startswith("encoder."):
            for ours, theirs in _TO_OPENAI:
                key = key.replace(ours, theirs)
            out[f"visual.{key}"] = value.clone()
    return out


def test_univfd_loads_openai_clip_and_its_authors_fc_weights(modern, tmp_path):
    import timm.models.vision_transformer as tv

    from gibench.api import load_checkpoint, load_state_into

    univfd, shape, _ = _tiny_univfd()
    torch.manual_seed(7)
    ref = univfd.build_model(shape, 64).eval()
    clip_file, fc_file = tmp_path / "clip.pt", tmp_path / "fc_weights.pth"
    openai = _openai_layout(ref)
    torch.save(openai, clip_file)
    torch.save({"weight": ref.fc.weight.detach().clone(), "bias": ref.fc.bias.detach().clone()},
               fc_file)  # fc_weights.pth: the probe's weight and bias only
    # timm's own OpenAI converter reads the file as we do (head = OpenAI's projection)
    theirs = tv._convert_openai_clip(openai, ref.encoder)
    mapped = univfd.encoder_state(openai)
    assert torch.equal(mapped["proj.weight"], theirs["head.weight"])
    assert all(torch.equal(mapped[f"encoder.{k}"], v) for k, v in theirs.items()
               if not k.startswith("head."))

    torch.manual_seed(8)  # another random init: everything must come from the files
    ours = univfd.build_model(shape, 64, pretrained=clip_file)
    load_state_into(ours, univfd.convert_state_dict(load_checkpoint(fc_file)), str(fc_file))
    assert set(ours.state_dict()) == {"fc.weight", "fc.bias"}  # the frozen encoder is clip.pt's
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), ref(x), rtol=0, atol=1e-5)
    # their training checkpoint: the whole CLIPModel under 'model' (model.visual.*, fc.*)
    full = {f"model.{k}": v for k, v in openai.items()}
    full.update({"fc.weight": ref.fc.weight.detach(), "fc.bias": ref.fc.bias.detach()})
    torch.save({"model": full, "total_steps": 10}, tmp_path / "model_epoch_best.pth")
    state = univfd.convert_state_dict(load_checkpoint(tmp_path / "model_epoch_best.pth"))
    random_init = univfd.build_model(shape, 64)
    load_state_into(random_init, state, "model_epoch_best.pth")
    with torch.no_grad():
        torch.testing.assert_close(random_init.eval()(x), ref(x), rtol=0, atol=1e-5)


def test_univfd_trains_the_probe_only(modern, tmp_path):
    univfd, shape, _ = _tiny_univfd()
    torch.manual_seed(0)
    model = univfd.build_model(shape, 64)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["fc.weight", "fc.bias"]
    before = {k: v.clone() for k, v in torch.nn.Module.state_dict(model).items()}
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        model(torch.randn(4, 3, 64, 64)).reshape(-1), torch.tensor([0.0, 1.0, 0.0, 1.0]))
    loss.backward()
    assert all(p.grad is None for n, p in model.named_parameters() if not n.startswith("fc."))
    opt.step()
    after = torch.nn.Module.state_dict(model)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"fc.weight", "fc.bias"}
