"""The layout pattern grammar (gibench.data.layout): ``{subset}``/``{split}``/``{label}``,
``**`` merging class folders, ``@ROOT`` extra roots, per-label ``sources``, per-subset layouts
and splits, and the errors a bad tree gets. Trees are built in tmp_path, a few tiny files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gibench.data.datasets import parse_data_roots, resolve_roots, split_roots
from gibench.data.layout import (
    LayoutError,
    find_subset_dir,
    index_split,
    index_subset,
    label_patterns,
    locate_subset,
)
from gibench.errors import GibenchError
from gibench.specs import FAKE, REAL, DatasetSpec, SubsetSpec

FIELD = {"0_real": REAL, "1_fake": FAKE}


def _png(path: Path, value: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(path)


def _files(folder: Path, n: int, stem: str = "img", ext: str = "png") -> None:
    for i in range(n):
        _png(folder / f"{stem}{i}.{ext}", i)


def _sub(name: str, **kw) -> SubsetSpec:
    return SubsetSpec(name, name, "x", kw.pop("dataset", "d"), kw.pop("folders", (name,)), **kw)


def test_default_layout_gives_todays_paths_and_order(tmp_path):
    for split in ("train", "val"):
        for label in ("ai", "nature"):
            _files(tmp_path / "sd" / split / label, 2 + (label == "ai"))
    _files(tmp_path / "sd" / "val" / "ai" / "deeper", 1, stem="z")
    spec = _sub("sd", folders=("missing", "sd"))
    index = index_subset(tmp_path, spec, "val")
    old = index_split(tmp_path / "sd", "val", subset="sd")
    assert index.root == tmp_path / "sd" == old.root
    assert index.paths == old.paths == ["val/ai/deeper/z0.png", "val/ai/img0.png",
                                        "val/ai/img1.png", "val/ai/img2.png",
                                        "val/nature/img0.png", "val/nature/img1.png"]
    assert index.labels.tolist() == [1, 1, 1, 1, 0, 0]


def _forensynths(root: Path) -> DatasetSpec:
    for label, n in (("0_real", 2), ("1_fake", 3)):
        _files(root / "biggan" / label, n)
        for cls in ("airplane", "cat"):
            _files(root / "progan" / cls / label, n, stem=cls)
    return DatasetSpec("fs", splits=("test",), train_split=None, eval_split="test",
                       label_folders=FIELD, layout="{subset}/**/{label}")


def test_double_star_merges_class_folders_and_flat_ones_alike(tmp_path):
    dataset = _forensynths(tmp_path)
    progan = index_subset(tmp_path, _sub("progan", dataset="fs"), "test", dataset)
    assert (progan.n_real, progan.n_fake) == (4, 6)
    assert progan.root == tmp_path / "progan"
    assert progan.paths[:4] == ["airplane/0_real/airplane0.png", "airplane/0_real/airplane1.png",
                                "cat/0_real/cat0.png", "cat/0_real/cat1.png"]
    assert all(progan.path(i).is_file() for i in range(len(progan)))
    biggan = index_subset(tmp_path, _sub("biggan", dataset="fs"), "test", dataset)
    assert (biggan.n_real, biggan.n_fake) == (2, 3)
    assert biggan.paths[0] == "0_real/img0.png"  # zero levels matched by **
    with pytest.raises(LayoutError, match="no split 'train'"):
        index_subset(tmp_path, _sub("biggan", dataset="fs"), "train", dataset)


def test_shared_reals_through_sources_are_relative_to_the_dataset_root(tmp_path):
    _files(tmp_path / "laion" / "0_real", 3)
    _files(tmp_path / "imagenet" / "0_real", 2)
    _files(tmp_path / "glide" / "1_fake", 4)
    _files(tmp_path / "guided" / "1_fake", 1)
    dataset = DatasetSpec("ufd", splits=("test",), eval_split="test", label_folders=FIELD,
                          layout="{subset}/{label}")
    glide = _sub("glide", dataset="ufd", sources={REAL: "laion/0_real"})
    guided = _sub("guided", dataset="ufd", sources={REAL: "imagenet/{label}"})
    index = index_subset(tmp_path, glide, "test", dataset)
    assert index.root == tmp_path  # its reals live outside its folder
    assert index.paths == ["laion/0_real/img0.png", "laion/0_real/img1.png",
                           "laion/0_real/img2.png", "glide/1_fake/img0.png",
                           "glide/1_fake/img1.png", "glide/1_fake/img2.png",
                           "glide/1_fake/img3.png"]
    other = index_subset(tmp_path, guided, "test", dataset)
    assert (other.n_real, other.n_fake) == (2, 1)


def _synthbuster(tmp_path: Path) -> tuple[DatasetSpec, SubsetSpec, Path, Path]:
    root, raise_ = tmp_path / "sb", tmp_path / "RAISE"
    _files(root / "dalle2", 3)
    _files(raise_ / "nested", 2, stem="r")
    dataset = DatasetSpec("synthbuster", splits=("test",), eval_split="test", train_split=None,
                          label_folders=FIELD, layout="{subset}",
                          extra_roots={"raise": "RAISE-1k, the real photographs"})
    return dataset, _sub("dalle2", dataset="synthbuster", sources={REAL: "@raise"}), root, raise_


def test_extra_root_images_are_named_at_root_and_resolve_there(tmp_path):
    dataset, spec, root, raise_ = _synthbuster(tmp_path)
    index = index_subset(root, spec, "test", dataset, {"raise": raise_})
    assert index.paths[:2] == ["@raise/nested/r0.png", "@raise/nested/r1.png"]
    assert (index.n_real, index.n_fake) == (2, 3)
    assert index.path(0) == raise_ / "nested" / "r0.png"
    assert index.subsample([1, 3]).path(0) == raise_ / "nested" / "r1.png"
    assert index.root == root and index.paths[2] == "dalle2/img0.png"
    with pytest.raises(GibenchError) as err:
        index_subset(root, spec, "test", dataset)
    assert "synthbuster.raise=PATH" in str(err.value) and "RAISE-1k" in str(err.value)
    assert "--data-root synthbuster.raise=PATH" in err.value.for_cli()


def test_roots_mapping_gives_a_single_dataset_run_its_extra_roots(tmp_path, monkeypatch):
    from gibench.registry import Registry

    dataset, spec, root, raise_ = _synthbuster(tmp_path)
    registry = Registry(pm=None, plugins=[])
    registry._add("dataset", dataset, "p")
    registry._add("subset", spec, "p")
    roots = parse_data_roots([f"synthbuster={root}", f"synthbuster.raise={raise_}"])
    assert roots == {"synthbuster": root, "synthbuster.raise": raise_}
    assert resolve_roots(registry, roots, None) == (root, "synthbuster", {"raise": raise_})
    with pytest.raises(GibenchError, match=r"synthbuster\.raise=PATH"):
        resolve_roots(registry, {"synthbuster": root}, None)
    with pytest.raises(GibenchError, match="has no extra root 'rais'"):
        split_roots(registry, {"synthbuster.rais": raise_}, None)
    with pytest.raises(GibenchError, match="names no dataset"):
        split_roots(registry, {"nope": raise_}, None)
    assert parse_data_roots([str(root)]) == root


def test_per_subset_layout_and_splits(tmp_path):
    for split in ("train", "val"):
        for label in FIELD:
            _files(tmp_path / split / label, 2)
    for label in FIELD:
        _files(tmp_path / "test" / "reddit" / label, 1)
    dataset = DatasetSpec("wildrf", splits=("train", "val", "test"), eval_split="test",
                          label_folders=FIELD, layout="{split}/{label}")
    mixed = _sub("mixed", dataset="wildrf", splits=("train", "val"))
    reddit = _sub("reddit", dataset="wildrf", layout="test/{subset}/{label}", splits=("test",))
    train = index_subset(tmp_path, mixed, "train", dataset)
    assert train.paths[0] == "train/0_real/img0.png" and len(train) == 4
    test = index_subset(tmp_path, reddit, "test", dataset)
    assert test.paths == ["test/reddit/0_real/img0.png", "test/reddit/1_fake/img0.png"]
    assert find_subset_dir(tmp_path, reddit, dataset) == tmp_path / "test" / "reddit"
    with pytest.raises(LayoutError, match="(?s)no split 'train'.*test-only"):
        index_subset(tmp_path, reddit, "train", dataset)


def test_one_class_only_names_the_missing_label_folder(tmp_path):
    _files(tmp_path / "gan" / "0_real", 2)
    dataset = DatasetSpec("f", splits=("test",), label_folders=FIELD, layout="{subset}/{label}")
    with pytest.raises(LayoutError) as err:
        index_subset(tmp_path, _sub("gan", dataset="f"), "test", dataset)
    assert "missing label folder '1_fake'" in str(err.value)
    assert err.value.path == tmp_path / "gan" / "1_fake"
    assert "0_real/" in err.value.found  # what the subset folder holds


def test_a_folder_of_mixed_labels_is_refused(tmp_path):
    _files(tmp_path / "gan" / "0_real", 2)
    _files(tmp_path / "gan" / "1_fake", 2)
    _files(tmp_path / "gan" / "0_real" / "1_fake", 1)  # fakes inside the reals
    dataset = DatasetSpec("f", splits=("test",), label_folders=FIELD, layout="{subset}/{label}")
    with pytest.raises(LayoutError, match="mixed labels") as err:
        index_subset(tmp_path, _sub("gan", dataset="f"), "test", dataset)
    assert err.value.path == tmp_path / "gan" / "0_real" / "1_fake"


def test_existing_folder_without_its_splits_says_what_it_lacks(tmp_path):
    _files(tmp_path / "progan" / "images", 2)
    with pytest.raises(LayoutError) as err:
        locate_subset(tmp_path, _sub("progan"))
    text = str(err.value)
    assert "exists but holds no train/ or val/" in text and "not found" not in text


@pytest.mark.parametrize("layout, words", [
    ("{subst}/{label}", "placeholders"), ("{subset}/../{label}", "'..'"),
    ("{subset}/@x/{label}", "first segment"), ("@nope/{label}", "no extra root 'nope'"),
    ("{subset}/a**/{label}", "whole segment"), ("{subset}", "one label only"),
])
def test_bad_patterns_are_refused_with_the_rule(layout, words):
    dataset = DatasetSpec("d", layout=layout)
    with pytest.raises(GibenchError, match=words.replace("*", r"\*")):
        label_patterns(_sub("s"), dataset)
