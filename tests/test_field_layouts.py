"""Datasets laid out as the field's: a folder dataset made from a tree without a plugin
(``folder:PATH``), a two-root dataset (Synthbuster-shaped: fakes in one root, reals in a
second one) evaluated end to end and checked by ``gibench data check``, and what ``data
check`` says about roots that hold no dataset (issue 21 item 7)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import gibench
from gibench.cli import main
from gibench.data.datasets import folder_dataset
from gibench.errors import GibenchError
from gibench.registry import clear_registry_cache
from tests.conftest import _toy_image, install_fake_distribution

TWO_ROOTS = textwrap.dedent('''
    import gibench
    from gibench.specs import REAL, DatasetSpec, SubsetSpec

    @gibench.hookimpl
    def gibench_add_datasets():
        return [DatasetSpec("sbtoy", splits=("test",), eval_split="test", train_split=None,
                            label_folders={"0_real": 0, "1_fake": 1}, layout="{subset}",
                            extra_roots={"raise": "the real photographs"})]

    @gibench.hookimpl
    def gibench_add_subsets():
        return [SubsetSpec(name, name, "x", "sbtoy", (name,), sources={REAL: "@raise"})
                for name in ("dalle2", "glide")]
''')


def _images(folder: Path, n: int, fake: bool, seed: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        _toy_image(rng, fake).save(folder / f"{'f' if fake else 'r'}{i:02d}.png")


def _tree(root: Path) -> Path:
    for split, n in (("train", 12), ("test", 4)):
        for label in ("0_real", "1_fake"):
            _images(root / "gan" / split / label, n, label == "1_fake")
    for label in ("0_real", "1_fake"):
        _images(root / "diff" / label, 3, label == "1_fake", seed=1)
    return root


@pytest.fixture
def two_roots(toy_plugin):
    install_fake_distribution(toy_plugin, "gibench-sbtoy", "0.1", {"gibench_sbtoy": TWO_ROOTS},
                              {"sbtoy": "gibench_sbtoy"})
    clear_registry_cache()


def _two_root_tree(tmp_path: Path) -> tuple[Path, Path]:
    root, raise_ = tmp_path / "sb", tmp_path / "RAISE"
    _images(root / "dalle2", 3, True)
    _images(root / "glide", 2, True, seed=2)
    _images(raise_, 4, False, seed=3)
    return root, raise_


def test_folder_dataset_subsets_from_the_tree(tmp_path):
    spec, subsets = folder_dataset(_tree(tmp_path / "mine"))
    assert spec.name == "folder:mine" and spec.label_folders == {"0_real": 0, "1_fake": 1}
    assert spec.splits == ("train", "test") and spec.eval_split == "test"
    assert {s.name: s.splits for s in subsets} == {"diff": ("test",),
                                                   "gan": ("train", "test")}
    alone = tmp_path / "alone"
    for label in ("nature", "ai"):
        _images(alone / label, 2, label == "ai")
    spec, (only,) = folder_dataset(alone)
    assert only.name == "alone" and spec.train_split is None
    assert spec.label_folders == {"nature": 0, "ai": 1}
    (tmp_path / "foreign" / "photos").mkdir(parents=True)
    with pytest.raises(GibenchError, match=r"no <name>/\{0_real,1_fake\}.*photos/"):
        folder_dataset(tmp_path / "foreign")


def test_folder_dataset_trains_and_two_root_dataset_evaluates(two_roots, tmp_path):
    opts = dict(device="cpu", workers=0, progress=False)
    tree = _tree(tmp_path / "mine")
    results = gibench.run("tinynet", "cross-generator", dataset=f"folder:{tree}", epochs=1,
                          out=tmp_path / "run", **opts)
    assert set(results["dataset"]) == {"folder:mine"}
    counts = {r.test_subset: (r.n_real, r.n_fake) for r in results.itertuples()}
    assert counts == {"gan": (4, 4), "diff": (3, 3)}
    weights = tmp_path / "run" / "train" / "gan" / "model.pt"
    root, raise_ = _two_root_tree(tmp_path)
    with pytest.raises(GibenchError, match=r"sbtoy\.raise=PATH"):
        gibench.evaluate("tinynet", weights, data_root=root, dataset="sbtoy",
                         out=tmp_path / "no", **opts)
    rows = gibench.evaluate("tinynet", weights, data_root={"sbtoy": root,
                                                           "sbtoy.raise": raise_},
                            out=tmp_path / "eval", **opts)
    assert {r.test_subset: (r.n_real, r.n_fake) for r in rows.itertuples()} == \
        {"dalle2": (4, 3), "glide": (4, 2)}
    scores = pd.read_csv(tmp_path / "eval" / "scores.csv")
    reals = scores[scores["label"] == 0]["path"]
    assert reals.str.startswith("@raise/").all() and len(reals) == 8
    assert scores[scores["label"] == 1]["path"].str.match(r"^(dalle2|glide)/f\d+\.png$").all()


def test_data_check_on_a_two_root_dataset(two_roots, tmp_path):
    root, raise_ = _two_root_tree(tmp_path)
    runner = CliRunner()
    result = runner.invoke(main, ["data", "check", str(root), "--dataset", "sbtoy",
                                  "--data-root", f"sbtoy.raise={raise_}"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("test"))
    assert row.split()[:3] == ["test", "4", "3"]  # dalle2: 4 reals (RAISE), 3 fakes
    missing = runner.invoke(main, ["data", "check", str(root), "--dataset", "sbtoy"])
    assert missing.exit_code == 1 and "--data-root sbtoy.raise=PATH" in missing.output


def test_data_check_says_what_an_existing_subset_folder_lacks(tmp_path):
    (tmp_path / "imagenet_ai_0419_sdv4" / "images").mkdir(parents=True)
    result = CliRunner().invoke(main, ["data", "check", str(tmp_path), "--dataset",
                                       "genimage"])
    assert result.exit_code == 1
    assert f"{tmp_path / 'imagenet_ai_0419_sdv4'} exists but holds no train/ or val/" in \
        result.output
    assert "subset folder missing; tried " + str(tmp_path / "imagenet_ai_0419_sdv4") \
        not in result.output


def test_data_check_on_a_foreign_or_missing_root_is_short(tmp_path):
    (tmp_path / "holiday").mkdir()
    runner = CliRunner()
    for args in (["--dataset", "genimage"], []):
        result = runner.invoke(main, ["data", "check", str(tmp_path), *args])
        assert result.exit_code == 1
        assert len(result.output.splitlines()) <= 4, result.output
        for pointer in ("gibench score", "--subset-dir", "folder:PATH", "gibench list datasets"):
            assert pointer in result.output
    gone = runner.invoke(main, ["data", "check", str(tmp_path / "nowhere")])
    assert gone.exit_code == 1 and len(gone.output.strip().splitlines()) == 1
    assert "does not exist" in gone.output
