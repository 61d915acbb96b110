"""The command line, through click's runner."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gibench.cli import main


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_help_answers_with_the_quick_start():
    result = invoke("--help")
    assert result.exit_code == 0
    assert "gibench run --detector cnnspot --suite cross-generator" in result.output
    for command in ("run", "eval", "list", "plugins", "data"):
        assert command in result.output


def test_run_help_documents_every_option():
    result = invoke("run", "--help")
    for option in ("--detector", "--suite", "--data-root", "--train-subset", "--weights",
                   "--epochs", "--batch-size", "--device", "--seed", "--out",
                   "--skip-bad-images", "--pretrained"):
        assert option in result.output


def test_list_detectors_shows_paper_input_size_and_parameters():
    result = invoke("list", "detectors")
    assert result.exit_code == 0
    line = next(ln for ln in result.output.splitlines() if ln.startswith("cnnspot"))
    assert "CVPR 2020" in line and "224" in line and "23.51 M" in line
    year, venue = line.split()[1:3]  # the year and venue columns, before the paper
    assert (year, venue) == ("2020", "CVPR")


def test_list_all_kinds_and_subsets_of_both_datasets():
    result = invoke("list")
    assert result.exit_code == 0
    for header in ("detectors:", "subsets:", "degradations:", "suites:"):
        assert header in result.output
    assert "sdv1.4" in result.output and "latent-a" in result.output
    assert "cross-generator" in result.output


def test_plugins_shows_distributions_and_versions(toy_plugin):
    result = invoke("plugins")
    assert result.exit_code == 0
    row = next(ln for ln in result.output.splitlines() if ln.startswith("toy "))
    assert "gibench-toy" in row and "1.2.3" in row and "entry point" in row
    assert "gibench-baselines" in result.output


def test_disable_plugin_with_p_no(toy_plugin):
    result = invoke("-p", "no:toy", "list", "detectors")
    assert "tinynet" not in result.output and "cnnspot" in result.output
    result = invoke("-p", "toy", "list")
    assert result.exit_code != 0 and "no:NAME" in result.output


def test_unknown_detector_is_a_clear_error():
    result = invoke("run", "--detector", "cnnspt", "--no-progress")
    assert result.exit_code == 1
    assert "Did you mean: cnnspot" in result.output
    assert "gibench list detectors" in result.output
    assert "Traceback" not in result.output


def test_run_and_eval_through_the_cli(toy_plugin, toy_root, tmp_path):
    out = tmp_path / "run"
    result = invoke("run", "--detector", "tiny", "--data-root", str(toy_root), "--dataset",
                    "toy", "--train-subset", "Toy A", "--device", "cpu", "--workers", "0",
                    "--epochs", "2", "--out", str(out), "--no-progress")
    assert result.exit_code == 0, result.output
    assert "Toy A" in result.output and "Avg" in result.output
    assert f"run directory: {out}" in result.output
    record = json.loads((out / "run.json").read_text())
    assert record["resolved"]["detector"] == "tinynet"  # alias resolved, canonical recorded
    assert record["resolved"]["epochs"] == 2 and len(record["training"]["toy-a"]["history"]) == 2

    weights = out / "train" / "toy-a" / "model.pt"
    result = invoke("eval", "--detector", "tinynet", "--weights", str(weights), "--data-root",
                    str(toy_root), "--dataset", "toy", "--subsets", "toy-b", "--workers", "0",
                    "--out", str(tmp_path / "eval"), "--no-progress")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "eval" / "results.csv").read_text().count("\n") == 2  # header + toy-b


def test_existing_run_directory_is_not_overwritten(toy_plugin, toy_root, tmp_path):
    args = ["run", "--detector", "tinynet", "--data-root", str(toy_root), "--dataset", "toy",
            "--train-subset", "toy-a", "--workers", "0", "--epochs", "1", "--out",
            str(tmp_path / "r"), "--no-progress"]
    assert invoke(*args).exit_code == 0
    result = invoke(*args)
    assert result.exit_code == 1 and "already holds a run" in result.output


def test_data_check_reports_missing_folders(tmp_path):
    (tmp_path / "imagenet_ai_0419_sdv4" / "train" / "ai").mkdir(parents=True)
    result = invoke("data", "check", str(tmp_path))
    assert result.exit_code == 1
    assert "nature" in result.output
    assert "midjourney" in result.output.lower()


def test_own_folder_as_a_test_subset_and_scoring_own_images(toy_plugin, toy_root, tmp_path):
    import pandas as pd

    out = tmp_path / "run"
    own = toy_root / "toy_a" / "val" / "ai"  # a folder of generated images, in a user's tree
    result = invoke("run", "--detector", "tinynet", "--data-root", str(toy_root), "--dataset",
                    "toy", "--train-subset", "toy-a", "--workers", "0", "--out", str(out),
                    "--subset-dir", f"mine={own}:ai", "--no-progress")
    assert result.exit_code == 0, result.output
    results = pd.read_csv(out / "results.csv").set_index("test_subset")
    assert list(results.index) == ["toy-a", "toy-b", "mine"]
    assert results.loc["mine", "n_fake"] == 24 and results.loc["mine", "n_real"] == 0
    # all-fake folder: its accuracy is the fake accuracy of toy-a's val (same images)
    assert results.loc["mine", "acc"] == pytest.approx(results.loc["toy-a", "fake_acc"])
    bad = invoke("run", "--detector", "tinynet", "--data-root", str(toy_root), "--dataset",
                 "toy", "--subset-dir", f"mine={own}", "--out", str(tmp_path / "x"))
    assert bad.exit_code == 1 and "NAME=PATH:ai" in bad.output

    weights = out / "train" / "toy-a" / "model.pt"
    csv = tmp_path / "scores.csv"
    single = toy_root / "nested" / "toy_b" / "val" / "nature" / "nature_000.png"
    result = invoke("score", "--detector", "tinynet", "--weights", str(weights), str(own),
                    str(single), "--workers", "0", "--out", str(csv), "--no-progress")
    assert result.exit_code == 0, result.output
    assert "scored 25 images" in result.output and "16 px (the run that trained" in result.output
    table = pd.read_csv(csv)
    assert len(table) == 25 and set(table.columns) == {"path", "logit", "score",
                                                         "predicted_fake"}
    trained = pd.read_csv(out / "scores.csv")
    mine = trained[trained["test_subset"] == "mine"].set_index("path")["score"]
    again = table.set_index("path")["score"]
    for path, value in mine.items():  # same weights, same images, same scores
        assert again[str((toy_root / path).resolve())] == pytest.approx(value, abs=1e-6)
