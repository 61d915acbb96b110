"""The data-scale suite: classes read from file names, seeded fractions, one model per part."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import gibench
from gibench.data.layout import ImageIndex, LayoutError, class_fraction, class_keys
from tests.conftest import write_toy_tree


def _index(names, labels):
    return ImageIndex("s", "train", "/nowhere", list(names), np.asarray(labels))


def test_class_keys_follow_genimage_and_mini_file_names():
    idx = _index(["train/nature/n01440764_10026.JPEG", "train/nature/n01443537_1.JPEG",
                  "train/ai/000_sdv4_00000.png", "train/ai/001_sdv4_00007.png",
                  "train/ai/1_adm_12.PNG", "train/nature/chelsea_00012.png"],
                 [0, 0, 1, 1, 1, 0])
    # WordNet ids map to ImageNet's index (sorted ids), generated images carry the index
    assert class_keys(idx).tolist() == ["0", "1", "0", "1", "1", "chelsea"]
    with pytest.raises(LayoutError, match="ILSVRC"):
        class_keys(_index(["val/nature/ILSVRC2012_val_00000001.JPEG"], [0]))


def test_class_fraction_keeps_classes_on_both_sides_and_is_seeded():
    names, labels = [], []
    for c in range(8):
        for i in range(6):
            names += [f"train/ai/{c:03d}_x_{i:05d}.png", f"train/nature/{c:03d}_y_{i:05d}.png"]
            labels += [1, 0]
    idx = _index(names, labels)
    half = class_fraction(idx, "classes", 0.5, seed=0)
    keys = class_keys(half)
    assert len(np.unique(keys)) == 4 and len(half) == 4 * 12
    for key in np.unique(keys):  # each kept class keeps both its real and its fake images
        assert set(half.labels[keys == key].tolist()) == {0, 1}
    assert class_fraction(idx, "classes", 0.5, seed=0).paths == half.paths
    assert class_fraction(idx, "classes", 0.5, seed=1).paths != half.paths
    quarter = class_fraction(idx, "images", 0.25, seed=0)
    assert len(np.unique(class_keys(quarter))) == 8 and len(quarter) == 8 * 2 * 2
    assert class_fraction(idx, "images", 1.0, seed=0) is idx


def _class_tree(root, n_classes=4, per_class=6):
    """The toy tree with file names carrying a class index, as GenImage's fakes do."""
    return write_toy_tree(root, n=n_classes * per_class,
                          name=lambda label, i: f"{i // per_class:03d}_toy_{i:05d}.png")


def test_data_scale_suite_trains_one_model_per_part(toy_plugin, tmp_path):
    root = _class_tree(tmp_path / "data")
    results = gibench.run("tinynet", "data-scale", data_root=root, dataset="toy",
                          train_subset="toy-a", device="cpu", workers=0, progress=False,
                          out=tmp_path / "run", epochs=1)
    assert list(results["train_subset"]) == [
        "toy-a@classes=0.25", "toy-a@classes=0.5", "toy-a", "toy-a@images=0.25",
        "toy-a@images=0.5"]
    curves = pd.read_csv(tmp_path / "run" / "data-scale.csv")
    classes = curves[curves["axis"] == "classes"].sort_values("fraction")
    assert classes["n_classes"].tolist() == [1, 2, 4]
    assert classes["n_images"].tolist() == [12, 24, 48]
    images = curves[curves["axis"] == "images"].sort_values("fraction")
    assert images["n_classes"].tolist() == [4, 4, 4]
    assert images["n_images"].tolist() == [16, 24, 48]
    assert (curves["n_real"] == 24).all()  # every model is tested on the full val split
    assert (tmp_path / "run" / "data-scale.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "run" / "train" / "toy-a@images=0.5" / "model.pt").is_file()
