"""Evaluation under degradations: native-resolution decode once, degrade and preprocess on the
device in size groups, the degraded/robustness suites, and the batched eval transforms."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from skimage import data as skdata

import gibench
import gibench.data.dataset as dataset_module
from gibench.data.layout import index_folder
from gibench.engine.device import Normalizer
from gibench.engine.evaluate import CLEAN, Setting, predict, predict_settings, sample_seeds
from gibench.errors import GibenchError
from gibench.registry import build_registry


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = (a.double() - b.double()).pow(2).mean().item()
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


PHOTOS = [skdata.astronaut()[:300, :260], skdata.chelsea()[:200, :250]]


@pytest.mark.parametrize("scale", ["mini", "paper"])
def test_batched_eval_transforms_match_the_pil_path(scale):
    """Every installed detector whose eval transform has a batched form gives the same input on
    the device as its per-image PIL path. Measured: ≥ 55 dB and at most 4 grey levels apart at
    both scales (PyTorch's antialiased interpolation follows Pillow's filters; Pillow works in
    fixed point)."""
    registry = build_registry()
    checked = 0
    for spec in registry.all("detector"):
        pre = spec.preprocess
        size, load = (64, 72) if scale == "mini" else (pre.input_size, pre.load_size)
        transform = pre.make_eval(size, load)
        if getattr(transform, "batch", None) is None:
            continue
        for photo in PHOTOS:
            reference = transform(Image.fromarray(photo), random.Random(0))
            batch = torch.from_numpy(photo.transpose(2, 0, 1).copy()).unsqueeze(0)
            out = transform.batch(batch)[0]
            assert out.dtype == torch.uint8 and out.shape == reference.shape, spec.name
            assert _psnr(out, reference) >= 50, spec.name
            assert (out.int() - reference.int()).abs().max() <= 6, spec.name
        checked += 1
    assert checked >= 7  # the seven baselines all have one


def _tree(root, sizes):
    """One folder of real and one of fake photos crops of mixed sizes."""
    rng = np.random.default_rng(0)
    photo = skdata.astronaut()
    for label in ("ai", "nature"):
        folder = root / label
        folder.mkdir(parents=True)
        for i, (h, w) in enumerate(sizes):
            y, x = rng.integers(0, 200, 2)
            arr = photo[y:y + h, x:x + w].copy()
            if label == "ai":
                arr[::2, ::2] = np.clip(arr[::2, ::2].astype(int) + 40, 0, 255)
            Image.fromarray(arr).save(folder / f"{label}_{i:02d}.png")
    return root


class _MeanNet(torch.nn.Module):
    """A fixed 'detector' whose logit depends on every pixel: mean of a 3×3 high-pass."""

    def forward(self, x):
        kernel = torch.tensor([[-1., -1., -1.], [-1., 8., -1.], [-1., -1., -1.]]) / 8
        w = kernel.view(1, 1, 3, 3).repeat(3, 1, 1, 1)
        return torch.nn.functional.conv2d(x, w, groups=3).abs().mean(dim=(1, 2, 3)) - 0.5


def _resize_crop_transform(size):
    from gibench.api import compose
    from gibench_baselines.transforms import resize

    return compose(resize(size))


def _indexes(tmp_path, sizes):
    root = _tree(tmp_path / "imgs", sizes)
    fake = index_folder(root / "ai", 1, "mix", "val")
    real = index_folder(root / "nature", 0, "mix", "val")
    return fake, real


SIZES = [(48, 40), (48, 40), (40, 48), (33, 57), (48, 40), (64, 64), (40, 48)]


@pytest.mark.parametrize("with_batch", [True, False])
def test_clean_setting_matches_the_plain_path(tmp_path, with_batch):
    """Clean evaluation through the native path equals the plain (worker-preprocessed) one:
    exactly with the per-image fallback, within rounding with the batched transform."""
    fake, _ = _indexes(tmp_path, SIZES)
    transform = _resize_crop_transform(32)
    if not with_batch:
        plain_transform = transform

        def transform(img, rng):  # the same op without a batched form
            return plain_transform(img, rng)
    norm = Normalizer((0.5,) * 3, (0.25,) * 3, torch.device("cpu"))
    kw = dict(normalizer=norm, device=torch.device("cpu"), workers=0, progress=False)
    plain = predict(_MeanNet(), fake, transform, batch_size=3, **kw)
    native = predict_settings(_MeanNet(), fake, transform, [CLEAN], batch_size=3, **kw)["none"]
    assert list(native.positions) == list(range(len(SIZES)))  # index order despite size groups
    tol = 1e-9 if not with_batch else 2e-2
    np.testing.assert_allclose(native.logits, plain.logits, atol=tol)


def test_degraded_scores_do_not_depend_on_batch_size_or_workers(tmp_path):
    fake, _ = _indexes(tmp_path, SIZES)
    registry = build_registry()
    settings = [CLEAN, Setting("noise:10", registry.degradation("noise"), 10.0),
                Setting("jpeg:30", registry.degradation("jpeg"), 30.0)]
    norm = Normalizer((0.5,) * 3, (0.25,) * 3, torch.device("cpu"))
    transform = _resize_crop_transform(32)
    runs = [predict_settings(_MeanNet(), fake, transform, settings, normalizer=norm,
                             device=torch.device("cpu"), batch_size=bs, workers=w, seed=5,
                             progress=False) for bs, w in ((1, 0), (4, 1), (16, 0))]
    for other in runs[1:]:
        for name in ("none", "noise:10", "jpeg:30"):
            np.testing.assert_array_equal(runs[0][name].logits, other[name].logits)
    # the degradations change the scores, and a different base seed changes the noise
    assert not np.allclose(runs[0]["none"].logits, runs[0]["noise:10"].logits)
    reseeded = predict_settings(_MeanNet(), fake, transform, settings[:2], normalizer=norm,
                                device=torch.device("cpu"), batch_size=4, workers=0, seed=6,
                                progress=False)
    assert not np.array_equal(reseeded["noise:10"].logits, runs[0]["noise:10"].logits)
    np.testing.assert_array_equal(reseeded["none"].logits, runs[0]["none"].logits)


def test_each_file_is_decoded_once_whatever_the_number_of_settings(tmp_path, monkeypatch):
    fake, _ = _indexes(tmp_path, SIZES)
    registry = build_registry()
    calls: list[str] = []
    real_decode = dataset_module.decode_rgb

    def counting(path):
        calls.append(str(path))
        return real_decode(path)

    monkeypatch.setattr(dataset_module, "decode_rgb", counting)
    settings = [CLEAN] + [Setting(f"blur:{s:g}", registry.degradation("blur"), s)
                          for s in (1.0, 2.0, 3.0)]
    out = predict_settings(_MeanNet(), fake, _resize_crop_transform(32), settings,
                           normalizer=Normalizer((0.5,) * 3, (0.25,) * 3, torch.device("cpu")),
                           device=torch.device("cpu"), batch_size=4, workers=0,
                           progress=False)
    assert len(calls) == len(SIZES) and len(set(calls)) == len(SIZES)
    assert set(out) == {"none", "blur:1", "blur:2", "blur:3"}
    # stronger blur removes more of the high-pass energy the fixed model measures
    means = [out[name].logits.mean() for name in ("none", "blur:1", "blur:2", "blur:3")]
    assert means == sorted(means, reverse=True)


def test_sample_seeds_are_distinct_per_sample_and_base_seed():
    idx = torch.arange(1000)
    a, b = sample_seeds(0, idx), sample_seeds(1, idx)
    assert a.dtype == torch.int64
    assert len(set(a.tolist()) | set(b.tolist())) == 2000


# -- suites end to end on the toy plugin ----------------------------------------------------------
def _run(toy_root, tmp_path, suite, **kw):
    opts = dict(data_root=toy_root, dataset="toy", train_subset="toy-a", device="cpu",
                workers=0, progress=False, out=tmp_path / "run", epochs=2)
    opts.update(kw)
    return gibench.run("tinynet", suite, **opts)


def test_degraded_suite_evaluates_the_papers_six_settings(toy_plugin, toy_root, tmp_path):
    results = _run(toy_root, tmp_path, "degraded")
    assert list(results["degradation"]) == ["none", "lowres:112", "lowres:64", "jpeg:65",
                                            "jpeg:30", "blur:3", "blur:5"]
    assert set(results["test_subset"]) == {"toy-a"}  # Table 5: the training subset's val split
    scores = pd.read_csv(tmp_path / "run" / "scores.csv")
    assert scores.groupby("degradation").size().nunique() == 1  # every image in every setting
    md = (tmp_path / "run" / "results.md").read_text()
    assert "jpeg:30" in md and "Avg" in md and "Clean" in md
    # the toy images are 16 px: low resolution leaves them as they are, blur σ 5 does not
    by = results.set_index("degradation")["acc"]
    assert by["lowres:112"] == by["none"]
    clean = scores[scores["degradation"] == "none"]["logit"].to_numpy()
    blurred = scores[scores["degradation"] == "blur:5"]["logit"].to_numpy()
    assert not np.allclose(clean, blurred)


def test_degradation_option_adds_settings_to_any_suite(toy_plugin, toy_root, tmp_path):
    results = _run(toy_root, tmp_path, "cross-generator", degradations=["jpeg:50", "noise:5"])
    assert list(results["degradation"]) == ["none", "jpeg:50", "noise:5"] * 2
    md = (tmp_path / "run" / "results.md").read_text()
    assert "· jpeg:50" in md  # one table row per detector and degradation


def test_robustness_suite_writes_curves_and_plots(toy_plugin, toy_root, tmp_path):
    _run(toy_root, tmp_path, "robustness", degradations=["blur", "jpeg"])
    run_dir = tmp_path / "run"
    curves = pd.read_csv(run_dir / "robustness.csv")
    registry = build_registry()
    for name in ("blur", "jpeg"):
        swept = curves[(curves["degradation_name"] == name) & curves["strength"].notna()]
        assert sorted(swept["strength"]) == sorted(registry.degradation(name).sweep)
        png = (run_dir / f"robustness-{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert not (run_dir / "robustness-noise.png").exists()


@pytest.mark.parametrize("bad, message", [("jpg:65", "jpeg"), ("blur:x", "blur:x"),
                                          ("jpeg:", "jpeg:")])
def test_bad_degradation_fails_before_any_work(toy_plugin, toy_root, tmp_path, bad, message):
    with pytest.raises(GibenchError, match=message):
        _run(toy_root, tmp_path, "degraded", degradations=[bad])
    assert not (tmp_path / "run" / "train").exists()
