"""--eval-transform: the evaluation-preprocessing policies (authors, resize, crop, native,
multicrop), their batched forms, the engine's routing, what run.json / results.csv record, and
the boards that keep policies apart."""

from __future__ import annotations

import json
import random

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import gibench
from gibench.data.eval_policy import (
    EVAL_POLICIES,
    FIVE_CROPS,
    crop_at,
    eval_transform,
    is_native,
)
from gibench.data.layout import index_folder
from gibench.engine.device import Normalizer
from gibench.engine.evaluate import predict
from gibench.errors import GibenchError
from gibench.specs import Preprocess

CPU = torch.device("cpu")


def _pre(any_size: bool = False) -> Preprocess:
    def make(input_size, load_size):
        def transform(img, rng):
            arr = np.asarray(img.convert("RGB").resize((input_size, input_size)))
            return torch.from_numpy(arr.transpose(2, 0, 1).copy())
        return transform

    return Preprocess(16, None, (0.5,) * 3, (0.25,) * 3, make, make, any_size=any_size)


def _photo(height: int, width: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    arr = np.stack([yy * 7 % 256, xx * 5 % 256, (yy * xx) % 256], -1) + rng.integers(
        0, 30, (height, width, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


@pytest.mark.parametrize("policy", ["resize", "crop", "multicrop", "native"])
@pytest.mark.parametrize("hw", [(20, 31), (12, 9), (16, 16)])
def test_batched_forms_match_the_per_image_transforms(policy, hw):
    transform = eval_transform(policy, _pre(any_size=True), 16, None)
    img = _photo(*hw)
    one = transform(img, random.Random(0))
    arr = torch.from_numpy(np.asarray(img).transpose(2, 0, 1).copy())
    batched = transform.batch(torch.stack([arr, arr]))
    assert torch.equal(batched[0], batched[1])
    diff = (batched[0].int() - one.int()).abs().max().item()
    assert diff <= (2 if policy == "resize" else 0)  # Pillow vs PyTorch's antialiased bilinear
    shapes = {"resize": (3, 16, 16), "crop": (3, 16, 16), "multicrop": (5, 3, 16, 16),
              "native": (3, *hw)}
    assert tuple(one.shape) == shapes[policy]
    assert is_native(transform) == (policy == "native")


def test_crop_and_multicrop_take_pixels_as_they_are():
    img = _photo(20, 31)
    arr = torch.from_numpy(np.asarray(img).transpose(2, 0, 1).copy())
    crop = eval_transform("crop", _pre(), 16, None)(img, None)
    assert torch.equal(crop, arr[:, 2:18, 8:24])  # torchvision's centre: round((31-16)/2) = 8
    crops = eval_transform("multicrop", _pre(), 16, None)(img, None)
    assert [tuple(c) for c in FIVE_CROPS][-1] == (0.5, 0.5)
    assert torch.equal(crops[0], arr[:, :16, :16]) and torch.equal(crops[3], arr[:, 4:, 15:])
    assert torch.equal(crops[4], crop)
    small = eval_transform("crop", _pre(), 16, None)(_photo(12, 9), None)
    assert small.shape == (3, 16, 16) and small[:, 12:, :].sum() == 0  # zero-padded


def test_crop_at_pads_a_short_side_at_the_end_and_centres_like_torchvision_otherwise():
    import torchvision.transforms.functional as TF

    x = torch.arange(1, 3 * 5 * 7 + 1).reshape(1, 3, 5, 7)  # no zero in the image
    # larger on both sides: torchvision's CenterCrop position, rounding included (7-4=3 → 2)
    assert torch.equal(crop_at(x, 4, 0.5, 0.5), TF.center_crop(x, [4, 4]))
    # a short side (height 5 < 8) is zero-padded at the bottom only; the image keeps its
    # top-left corner whatever the fractions, unlike torchvision, which pads both ends
    for fy in (0.0, 0.5, 1.0):
        out = crop_at(x, 8, fy, 0.5)
        assert out.shape[-2:] == (8, 8)
        assert torch.equal(out[..., :5, :7], x) and not out[..., 5:, :].any()
        assert not out[..., :, 7:].any()
    assert not torch.equal(crop_at(x, 8, 0.5, 0.5), TF.center_crop(x, [8, 8]))
    # padded on one side only (width 7 < 8): the other side still crops at (H-8)·fy
    tall = torch.arange(1, 3 * 12 * 7 + 1).reshape(1, 3, 12, 7)
    assert torch.equal(crop_at(tall, 8, 0.5, 0.5)[..., :7], tall[..., 2:10, :])
    assert torch.equal(crop_at(tall, 8, 1.0, 0.0)[..., :7], tall[..., 4:12, :])


def test_policies_are_checked():
    with pytest.raises(GibenchError, match="expected one of authors, resize"):
        eval_transform("squash", _pre(), 16, None)
    with pytest.raises(GibenchError, match="native: 'toy' needs inputs of 16×16"):
        eval_transform("native", _pre(any_size=False), 16, None, "'toy'")
    assert set(EVAL_POLICIES) == {"authors", "resize", "crop", "native", "multicrop"}


class MeanNet(torch.nn.Module):
    """A logit from the mean of each input (any size)."""

    def forward(self, x):
        return x.mean(dim=(1, 2, 3)) * 2.0 + x[:, 0].amax(dim=(1, 2)) * 0.1


def _index(tmp_path, sizes):
    folder = tmp_path / "ai"
    folder.mkdir()
    for i, hw in enumerate(sizes):
        _photo(*hw, seed=i).save(folder / f"{i}.png")
    return index_folder(folder, 1, "mix", "val")


def test_engine_routes_multicrop_and_native(tmp_path):
    sizes = [(20, 31), (16, 16), (20, 31), (24, 18), (12, 9)]
    index = _index(tmp_path, sizes)
    norm = Normalizer((0.5,) * 3, (0.25,) * 3, CPU)
    kw = dict(normalizer=norm, device=CPU, batch_size=2, workers=0, progress=False)
    model = MeanNet()
    multicrop = eval_transform("multicrop", _pre(), 16, None)
    got = predict(model, index, multicrop, **kw)
    with torch.no_grad():  # each image: the mean of its five crops' logits
        expected = [float(model(norm(multicrop(Image.open(index.path(i)), None))).mean())
                    for i in range(len(index))]
    np.testing.assert_allclose(got.logits, expected, rtol=1e-6)
    native = eval_transform("native", _pre(any_size=True), 16, None)
    got = predict(model, index, native, **kw)  # sizes differ within a batch: by-size path
    with torch.no_grad():
        expected = [float(model(norm(native(Image.open(index.path(i)), None)[None])))
                    for i in range(len(index))]
    np.testing.assert_allclose(got.logits, expected, rtol=1e-6)
    assert list(got.positions) == list(range(len(index)))


def test_runs_record_the_policy_and_boards_keep_policies_apart(toy_plugin, toy_root, tmp_path):
    from gibench.leaderboard.runs import add_run

    opts = dict(data_root=toy_root, dataset="toy", device="cpu", workers=0, progress=False)
    gibench.run("tinynet", "cross-generator", train_subset="toy-a", epochs=1,
                out=tmp_path / "trained", **opts)
    weights = tmp_path / "trained" / "train" / "toy-a" / "model.pt"
    gibench.evaluate("tinynet", weights, out=tmp_path / "authors", **opts)
    gibench.evaluate("tinynet", weights, out=tmp_path / "crop", eval_transform="crop", **opts)
    authors = pd.read_csv(tmp_path / "authors" / "results.csv")
    crop = pd.read_csv(tmp_path / "crop" / "results.csv")
    assert set(authors["eval_transform"]) == {"authors"} and set(crop["eval_transform"]) == {
        "crop"}
    record = json.loads((tmp_path / "crop" / "run.json").read_text())
    assert record["resolved"]["eval_transform"] == "crop"
    # the toy images are 16 px: cropping 16 at native size is resizing 16 to 16 → same scores
    pd.testing.assert_series_equal(pd.read_csv(tmp_path / "crop" / "scores.csv")["score"],
                                   pd.read_csv(tmp_path / "authors" / "scores.csv")["score"])
    boards = tmp_path / "boards"
    boards.mkdir()
    # a board is <dataset>-<suite>[-eval-<policy>]: here dataset toy, suite eval
    with pytest.raises(GibenchError, match="eval_transform=crop; its rows go to board "
                                           "toy-eval-eval-crop"):
        add_run(tmp_path / "crop", boards, source="new", submitter="t", board="toy-eval",
                train_subset="toy-a")
    added = add_run(tmp_path / "crop", boards, source="new", submitter="t",
                    board="toy-eval-eval-crop", train_subset="toy-a")
    assert added.board.name == "toy-eval-eval-crop.csv" and added.added == 2
    with pytest.raises(GibenchError, match="not to toy-eval-eval-crop"):
        add_run(tmp_path / "authors", boards, source="new", submitter="t",
                board="toy-eval-eval-crop", train_subset="toy-a")
    rendered = (boards / "toy-eval-eval-crop.md").read_text()
    assert "evaluated with `--eval-transform crop`" in rendered


@pytest.mark.parametrize("name", ["cnnspot", "spec", "gramnet"])
def test_detectors_that_take_any_size_evaluate_natively(name, one_thread):
    from gibench.registry import build_registry

    registry = build_registry()
    spec = registry.detector(name)
    assert spec.preprocess.any_size
    transform = eval_transform("native", spec.preprocess, 64, 72, name)
    torch.manual_seed(0)
    model = spec.build(pretrained=None, input_size=64).eval()
    norm = Normalizer(spec.preprocess.mean, spec.preprocess.std, CPU)
    with torch.no_grad():
        for hw in ((48, 80), (72, 56)):
            x = norm(transform(_photo(*hw), None)[None])
            assert x.shape[-2:] == hw and torch.isfinite(model(x)).all()
    for fixed in ("deit-s", "swin-t", "f3net"):
        with pytest.raises(GibenchError, match="native"):
            eval_transform("native", registry.detector(fixed).preprocess, 64, 72, fixed)
