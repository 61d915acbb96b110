"""The example third-party plugin, installed with pip and driven through `gibench run`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from gibench.cli import main
from gibench.registry import clear_registry_cache, get_registry
from tests.conftest import write_toy_tree

EXAMPLE = Path(__file__).resolve().parents[1] / "plugins" / "gibench-plugin-example"


@pytest.fixture(scope="module")
def example_site(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("example-site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(EXAMPLE)], check=True)
    return target


@pytest.fixture
def example(example_site, monkeypatch):
    monkeypatch.syspath_prepend(str(example_site))
    clear_registry_cache()
    return example_site


def test_all_three_hooks_register_from_the_outside(example):
    reg = get_registry()
    for kind, name in (("detector", "example-cnn"), ("subset", "example-folder"),
                       ("degradation", "gamma")):
        info = reg.provider(kind, name)
        assert (info.name, info.distribution, info.builtin) == (
            "example", "gibench-plugin-example", False)
    result = CliRunner().invoke(main, ["list", "degradations"])
    assert "gamma" in result.output and "example" in result.output


def test_gamma_on_the_device_matches_the_pil_reference(example):
    spec = get_registry().degradation("gamma")
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (2, 20, 30, 3), dtype=np.uint8)
    batch = torch.from_numpy(arr).permute(0, 3, 1, 2)
    for gamma in spec.paper_settings:
        fast = spec.apply(batch, gamma).permute(0, 2, 3, 1).numpy()
        for i in range(2):
            ref = np.asarray(spec.reference(Image.fromarray(arr[i]), gamma))
            assert np.abs(fast[i].astype(int) - ref.astype(int)).max() <= 1
        assert not np.array_equal(fast, arr)


def _run_example(tmp_path: Path, n: int, *args: str):
    """``gibench run --detector example-cnn`` on a toy tree laid out as the example dataset;
    returns the CLI result and the run directory."""
    root = tmp_path / "data"
    write_toy_tree(root, n=n)
    (root / "toy_a").rename(root / "example_gen")
    out = tmp_path / "run"
    result = CliRunner().invoke(main, [
        "run", "--detector", "example-cnn", "--data-root", str(root), "--dataset", "example",
        "--workers", "0", "--out", str(out), "--no-progress", *args])
    assert result.exit_code == 0, result.output
    return result, out


def test_gibench_run_with_the_example_plugin(example, tmp_path):
    result, out = _run_example(tmp_path, 24, "--epochs", "3")
    assert "Example folder" in result.output
    record = json.loads((out / "run.json").read_text())
    assert record["resolved"]["train_subset"] == "example-folder"
    assert record["versions"]["plugins"]["example"]["distribution"] == "gibench-plugin-example"
    results = (out / "results.csv").read_text().splitlines()
    assert len(results) == 2 and results[1].startswith("example-cnn,cross-generator,example,")


def test_the_example_suite_runs_end_to_end_through_the_suite_api(example, tmp_path):
    _, out = _run_example(tmp_path, 12, "--suite", "self-consistency", "--epochs", "1")
    assert get_registry().provider("suite", "self-consistency").name == "example"
    import pandas as pd

    results = pd.read_csv(out / "results.csv")
    assert list(results["degradation"]) == ["none", "gamma:2"]
    drop = pd.read_csv(out / "consistency.csv")
    assert list(drop["test_subset"]) == ["example-folder"]
    assert drop["drop"].iloc[0] == pytest.approx(results["acc"].iloc[0] - results["acc"].iloc[1])
    table = (out / "results.md").read_text()
    assert "## Self-consistency" in table and "| Example folder | gamma:2 |" in table
