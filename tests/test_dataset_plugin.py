"""A new dataset is a plugin: its own label folders, splits and default training subset, some
subsets without a training split, recognised from its data root alone, run by the built-in
suites with no core change."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gibench
from gibench.data.datasets import default_train_subset, infer_dataset, resolve_root
from gibench.errors import GibenchError
from gibench.registry import clear_registry_cache, get_registry
from tests.conftest import _toy_image, install_fake_distribution, write_toy_tree

FIELD_PLUGIN = textwrap.dedent('''
    """A dataset laid out as the field's benchmarks are: 0_real / 1_fake, a test split."""
    import gibench
    from gibench.specs import DatasetSpec, SubsetSpec


    @gibench.hookimpl
    def gibench_add_datasets():
        return [DatasetSpec(
            name="field", display_name="Field", splits=("train", "test"), eval_split="test",
            label_folders={"0_real": 0, "1_fake": 1}, default_train_subset="field-b")]


    @gibench.hookimpl
    def gibench_add_subsets():
        return [SubsetSpec("field-a", "Field A", "gan", "field", ("gan/a",), splits=("test",)),
                SubsetSpec("field-b", "Field B", "diffusion", "field", ("b",)),
                SubsetSpec("field-c", "Field C", "diffusion", "field", ("c",), splits=("test",))]
''')

#: (subset folder, split) -> (real images, fake images); only field-b has a training split
COUNTS = {("gan/a", "test"): (6, 10), ("b", "train"): (20, 20), ("b", "test"): (8, 8),
          ("c", "test"): (12, 4)}
EXPECTED = {"field-a": (6, 10), "field-b": (8, 8), "field-c": (12, 4)}


def write_field_tree(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for (folder, split), (n_real, n_fake) in COUNTS.items():
        for label, n in (("0_real", n_real), ("1_fake", n_fake)):
            d = root / folder / split / label
            d.mkdir(parents=True)
            for i in range(n):
                _toy_image(rng, label == "1_fake").save(d / f"{label}_{i:03d}.png")
    return root


@pytest.fixture
def field(toy_plugin) -> Path:
    """The toy plugin (its tiny detector) and the field plugin, installed as distributions."""
    install_fake_distribution(toy_plugin, "gibench-field", "0.1", {"gibench_field": FIELD_PLUGIN},
                              {"field": "gibench_field"})
    clear_registry_cache()
    return toy_plugin


def _check_rows(results: pd.DataFrame) -> None:
    assert list(results["test_subset"]) == list(EXPECTED)  # every subset, registration order
    for row in results.itertuples():
        assert (row.n_real, row.n_fake) == EXPECTED[row.test_subset]


def _check_scores(run_dir: Path) -> None:
    scores = pd.read_csv(run_dir / "scores.csv")
    assert (scores["path"].str.contains("/test/")).all()  # the dataset's evaluation split
    fake = scores["path"].str.contains("/1_fake/")
    assert (scores["label"] == fake.astype(int)).all()  # labels from the dataset's folders


def test_registered_with_its_conventions_and_recognised_from_its_root(field, toy_root,
                                                                        tmp_path):
    registry = get_registry()
    spec = registry.dataset("field")
    assert "field" in registry.datasets() and spec.label_folders == {"0_real": 0, "1_fake": 1}
    root = write_field_tree(tmp_path / "field")
    assert infer_dataset(registry, root) == "field"
    assert resolve_root(registry, root, None) == (root, "field")
    # a dataset that only subsets name (the toy plugin's) is recognised by its folders too
    assert infer_dataset(registry, toy_root) == "toy"
    # without its own default, the first subset whose folder holds the training split
    assert default_train_subset(registry, replace(spec, default_train_subset=None), root) == \
        "field-b"
    with pytest.raises(GibenchError, match="no dataset recognises") as none:
        infer_dataset(registry, tmp_path)
    assert "'field' expects the folder of one of its subsets (gan/a, b, c) holding train/ or " \
           "test/" in str(none.value)
    write_toy_tree(root)  # now it holds both datasets' folders
    several = "looks like several datasets.*'field' expects.*'toy' expects"
    with pytest.raises(GibenchError, match=several):
        infer_dataset(registry, root)


def test_cross_generator_and_eval_run_on_it_with_no_core_change(field, tmp_path):
    root = write_field_tree(tmp_path / "field")
    opts = dict(data_root=root, device="cpu", workers=0, progress=False, epochs=2)
    results = gibench.run("tinynet", "cross-generator", out=tmp_path / "run", **opts)
    run_dir = tmp_path / "run"
    assert set(results["train_subset"]) == {"field-b"}  # its default, not its first subset
    assert set(results["dataset"]) == {"field"}
    _check_rows(results)
    _check_scores(run_dir)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["resolved"]["dataset"] == "field"
    assert record["resolved"]["labels"] == {"0_real": 0, "1_fake": 1}
    assert record["resolved"]["budget"] == "the detector's own recipe"
    md = (run_dir / "results.md").read_text()
    assert "Field A" in md and "Placebo" not in md

    weights = run_dir / "train" / "field-b" / "model.pt"
    evaluated = gibench.evaluate("tinynet", weights, out=tmp_path / "eval", **opts)
    _check_rows(evaluated)
    _check_scores(tmp_path / "eval")
    assert evaluated["acc"].tolist() == pytest.approx(results["acc"].tolist())
    calibration = json.loads((tmp_path / "eval" / "run.json").read_text())["calibration"]
    assert calibration is not None  # calibrated on the held-out part of field-b's train split


def test_matrix_trains_only_on_subsets_that_have_the_training_split(field, tmp_path):
    root = write_field_tree(tmp_path / "field")
    results = gibench.run("tinynet", "matrix", data_root=root, device="cpu", workers=0,
                          progress=False, epochs=1, out=tmp_path / "matrix")
    assert set(results["train_subset"]) == {"field-b"}  # field-a and field-c are test-only
    _check_rows(results)
