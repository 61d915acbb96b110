"""--decode-cache: a second evaluation reads every preprocessed row from the cache (no decode)
and scores exactly as the first; a changed file, another transform or a random transform is
never served a stale row; an interrupted pass keeps its rows; bad files are remembered."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch
from PIL import Image

import gibench.data.dataset as dataset_module
from gibench.data.decoded_cache import DecodedCache, transform_fingerprint
from gibench.data.images import BadImageError
from gibench.data.layout import index_split
from gibench.engine.device import Normalizer
from gibench.engine.evaluate import predict
from gibench.errors import GibenchError

CPU = torch.device("cpu")


def resize_to(size: int):
    def transform(img, rng):
        arr = np.asarray(img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR))
        return torch.from_numpy(arr.transpose(2, 0, 1).copy())
    return transform


def _tree(tmp_path, n=6, bad=False):
    rng = np.random.default_rng(0)
    root = tmp_path / "subset"
    for label in ("ai", "nature"):
        (root / "val" / label).mkdir(parents=True)
        for i in range(n):
            size = (20 + 3 * i, 17 + 2 * i)
            arr = rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
            Image.fromarray(arr).save(root / "val" / label / f"{label}_{i}.png")
    if bad:
        (root / "val" / "ai" / "ai_2.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return index_split(root, "val", subset="s")


class MeanNet(torch.nn.Module):
    def forward(self, x):
        return x.mean(dim=(1, 2, 3)) * 3.0 - 0.1


@pytest.fixture
def decodes(monkeypatch):
    calls = []
    real = dataset_module.load_rgb

    def counting(path):
        calls.append(str(path))
        return real(path)

    monkeypatch.setattr(dataset_module, "load_rgb", counting)
    return calls


def _predict(index, transform, cache=None, skip_bad=False):
    return predict(MeanNet(), index, transform, normalizer=Normalizer((0.5,) * 3, (0.2,) * 3, CPU),
                   device=CPU, batch_size=4, workers=0, progress=False, cache=cache,
                   skip_bad=skip_bad)


def test_a_second_evaluation_reads_every_row_from_the_cache(tmp_path, decodes):
    index = _tree(tmp_path)
    transform = resize_to(12)
    plain = _predict(index, transform)
    decodes.clear()
    first = DecodedCache(tmp_path / "cache", index, transform, "toy@12")
    a = _predict(index, transform, first)
    assert len(decodes) == len(index) and first.stored == len(index) and first.hits == 0
    decodes.clear()
    second = DecodedCache(tmp_path / "cache", index, transform, "toy@12")
    assert second.key == first.key and second.complete
    b = _predict(index, transform, second)
    assert decodes == [] and second.hits == len(index) and second.stored == 0
    np.testing.assert_array_equal(a.logits, plain.logits)  # the same bits as without a cache
    np.testing.assert_array_equal(b.logits, plain.logits)
    np.testing.assert_array_equal(b.positions, plain.positions)
    assert second.record()["read"] == len(index)


def test_a_changed_file_or_another_transform_gets_another_entry(tmp_path, decodes):
    index = _tree(tmp_path)
    transform = resize_to(12)
    key = DecodedCache(tmp_path / "c", index, transform, "toy@12").key
    assert DecodedCache(tmp_path / "c", index, resize_to(10), "toy@10").key != key
    assert DecodedCache(tmp_path / "c", index, resize_to(12), "other").key != key
    path = index.path(3)
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(path)
    os.utime(path, ns=(1, 1))
    assert DecodedCache(tmp_path / "c", index, transform, "toy@12").key != key
    # a transform whose code changed (same description) gives other probe outputs: other key
    def flipped(img, rng):
        return resize_to(12)(img, rng).flip(-1)
    assert DecodedCache(tmp_path / "c", index, flipped, "toy@12").key != key


def test_random_or_native_size_transforms_are_refused(tmp_path):
    index = _tree(tmp_path)

    def noisy(img, rng):
        return resize_to(12)(img, rng) // 2 + rng.randint(0, 100)

    def native(img, rng):
        return torch.from_numpy(np.asarray(img.convert("RGB")).transpose(2, 0, 1).copy())

    assert transform_fingerprint(noisy) is None and transform_fingerprint(native) is None
    assert transform_fingerprint(resize_to(8))[1] == (3, 8, 8)
    with pytest.raises(GibenchError, match="cannot be cached"):
        DecodedCache(tmp_path / "c", index, native, "native")


def test_an_interrupted_pass_keeps_its_rows(tmp_path, decodes):
    index = _tree(tmp_path)
    transform = resize_to(12)
    cache = DecodedCache(tmp_path / "c", index, transform, "toy")
    items = cache.dataset()
    from gibench.data.dataset import collate

    cache.store(collate([items[i] for i in range(5)]))  # five rows, then the run stops
    cache.close()
    decodes.clear()
    again = DecodedCache(tmp_path / "c", index, transform, "toy")
    assert int(again.done.sum()) == 5 and not again.complete
    out = _predict(index, transform, again)
    assert len(decodes) == len(index) - 5 and again.stored == len(index) - 5
    np.testing.assert_array_equal(out.logits, _predict(index, transform).logits)
    assert DecodedCache(tmp_path / "c", index, transform, "toy").complete


def test_bad_files_are_remembered_and_still_named(tmp_path, decodes):
    index = _tree(tmp_path, bad=True)
    transform = resize_to(12)
    first = _predict(index, transform, DecodedCache(tmp_path / "c", index, transform, "t"),
                     skip_bad=True)
    assert [p for p, _ in first.bad] == ["val/ai/ai_2.png"]
    decodes.clear()
    cache = DecodedCache(tmp_path / "c", index, transform, "t")
    second = _predict(index, transform, cache, skip_bad=True)
    assert decodes == [] and second.bad == first.bad
    with pytest.raises(BadImageError, match="ai_2.png"):
        cache.dataset()[index.paths.index("val/ai/ai_2.png")]


def test_not_enough_disk_is_said_before_any_work(tmp_path, monkeypatch):
    import shutil

    index = _tree(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10, 10, 10))
    with pytest.raises(GibenchError, match=r"needs .* GB .* are free"):
        DecodedCache(tmp_path / "c", index, resize_to(64), "big")


def test_the_fingerprint_ignores_the_generator_only_when_unused():
    calls = []

    def uses_rng(img, rng):
        calls.append(rng.random())
        return resize_to(4)(img, rng)

    assert transform_fingerprint(uses_rng) is not None  # draws, but its output ignores them
    assert calls and random.Random(1).random() in calls


def test_gibench_eval_with_decode_cache_reads_the_second_time(toy_plugin, toy_root, tmp_path):
    import json

    import pandas as pd

    import gibench

    trained = tmp_path / "trained"
    gibench.run("tinynet", "cross-generator", data_root=toy_root, dataset="toy",
                train_subset="toy-a", device="cpu", workers=0, progress=False, out=trained,
                epochs=1)
    weights = trained / "train" / "toy-a" / "model.pt"
    opts = dict(data_root=toy_root, dataset="toy", device="cpu", workers=0, progress=False)
    gibench.evaluate("tinynet", weights, out=tmp_path / "plain", **opts)
    for run in ("first", "second"):
        gibench.evaluate("tinynet", weights, out=tmp_path / run, decode_cache=True, **opts)
    records = {run: json.loads((tmp_path / run / "run.json").read_text())["decode_cache"]
               for run in ("plain", "first", "second")}
    assert records["plain"] is None
    assert [(r["subset"], r["read"], r["written"]) for r in records["first"]] == [
        ("toy-a", 0, 48), ("toy-b", 0, 48)]
    assert [(r["read"], r["written"]) for r in records["second"]] == [(48, 0), (48, 0)]
    plain = pd.read_csv(tmp_path / "plain" / "scores.csv")
    for run in ("first", "second"):  # the same scores, to the bit
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / run / "scores.csv"), plain,
                                      check_exact=True)
