"""Configuration files, replays and comparisons (issue 20, part 2): ``gibench run --config``,
``gibench replay`` and ``gibench compare``.

A replay on the CPU writes the recorded run's ``scores.csv`` byte for byte; ``compare`` says so,
and says what differs when a difference is planted in a copy.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import gibench
from gibench.cli import main
from gibench.engine.config import ConfigFileError, RunConfig, read_config_file
from gibench.errors import GibenchError
from gibench.registry import clear_registry_cache
from gibench.rundir import RunRecord
from tests.conftest import install_toy_plugin, write_toy_tree

OPTS = dict(dataset="toy", train_subset="toy-a", device="cpu", workers=0, progress=False)


def invoke(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(a run of tinynet on the toy data, its replay through ``gibench replay``, the data):
    made once for the module, with the toy plugin installed and a private cache."""
    base = tmp_path_factory.mktemp("replay")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GIBENCH_CACHE", str(base / "cache"))
        mp.delenv("GIBENCH_DISABLE_PLUGINS", raising=False)
        install_toy_plugin(base, mp)
        root = write_toy_tree(base / "toydata", n=12)
        gibench.run("tinynet", "cross-generator", data_root=root, out=base / "a", epochs=2,
                    **OPTS)
        result = invoke("replay", base / "a", "--out", base / "b", "--no-progress")
        assert result.exit_code == 0, result.output
        assert f"gibench compare {base / 'a'} {base / 'b'}" in result.output
        clear_registry_cache()
    return base / "a", base / "b", root


def _copy(run_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / f"copy-of-{run_dir.name}"
    shutil.copytree(run_dir, copy)
    return copy


# -- replay ---------------------------------------------------------------------------------

def test_a_replay_on_cpu_reproduces_the_scores_byte_for_byte(pair):
    a, b, _ = pair
    scores = (a / "scores.csv").read_bytes()
    assert scores.count(b"\n") > 40  # every image of both test subsets
    assert (b / "scores.csv").read_bytes() == scores
    assert (b / "results.csv").read_bytes() == (a / "results.csv").read_bytes()
    before, after = RunRecord.read(a), RunRecord.read(b)
    assert after.status == "complete"
    assert {k: v for k, v in after.config.items() if k not in ("out", "command")} == \
        {k: v for k, v in before.config.items() if k not in ("out", "command")}
    assert after.config["out"] == str(b) and after.config["command"].startswith("gibench")
    assert [e["epoch"] for e in after.training["toy-a"]["history"]] == [1, 2]


def test_compare_says_a_run_and_its_replay_agree(pair):
    a, b, _ = pair
    comparison = gibench.compare(a, b)
    assert comparison.agree
    assert comparison.config == [] and comparison.versions == []
    assert [d["field"] for d in comparison.expected] == ["config.out", "config.command"]
    assert comparison.scores["identical"] and comparison.scores["bytes_identical"]
    assert comparison.scores["compared"] == len(pd.read_csv(a / "scores.csv"))
    result = invoke("compare", a, b)
    assert result.exit_code == 0, result.output
    assert "the runs agree" in result.output
    result = invoke("compare", a, b, "--json")
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert report["agree"] is True and report["scores"]["max_abs_logit_diff"] == 0.0
    assert all(row["in"] == "both" and not row["differences"] for row in report["rows"])


def test_compare_finds_one_planted_logit(pair, tmp_path):
    a, b, _ = pair
    copy = _copy(b, tmp_path)
    scores = pd.read_csv(copy / "scores.csv", keep_default_na=False)
    planted = scores.at[7, "logit"] + 0.25
    scores.at[7, "logit"] = planted
    scores.to_csv(copy / "scores.csv", index=False)
    result = invoke("compare", a, copy, "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["agree"] is False
    assert report["scores"]["differing"] == 1 and not report["scores"]["identical"]
    assert report["scores"]["max_abs_logit_diff"] == pytest.approx(0.25)
    assert [w["path"] for w in report["scores"]["largest"]] == [scores.at[7, "path"]]
    assert report["config"] == [] and report["versions"] == []
    # within a tolerance above the planted difference, they agree again
    assert gibench.compare(a, copy, atol=0.3).agree
    text = invoke("compare", a, copy).output
    assert "1 of" in text and "the runs DIFFER" in text


def test_compare_lists_a_changed_config_field_and_metric(pair, tmp_path):
    a, b, _ = pair
    copy = _copy(b, tmp_path)
    record = RunRecord.read(copy)
    record.config["seed"] = 7
    del record.config["holdout_fraction"]  # a key one run lacks is absent, not null
    record.config["data_root"] = "/elsewhere"  # expected to differ between two machines
    record.versions["torch"] = "0.0.1"
    record.write(copy)
    results = pd.read_csv(copy / "results.csv")
    results.loc[1, "acc"] = results.loc[1, "acc"] - 0.125
    results.to_csv(copy / "results.csv", index=False)

    comparison = gibench.compare(a, copy)
    assert not comparison.agree
    assert comparison.config == [{"field": "config.seed", "a": 0, "b": 7},
                                 {"field": "config.holdout_fraction", "a": 0.1, "b": None,
                                  "absent": "b"}]
    assert "config.data_root" in [d["field"] for d in comparison.expected]
    assert comparison.versions == [{"field": "torch", "a": RunRecord.read(a).versions["torch"],
                                    "b": "0.0.1"}]
    changed = [row for row in comparison.rows if row["differences"]]
    assert len(changed) == 1 and list(changed[0]["differences"]) == ["acc"]
    acc = changed[0]["differences"]["acc"]
    assert acc["delta"] == pytest.approx(-0.125)
    original = pd.read_csv(a / "results.csv").loc[1]
    assert changed[0]["ci"]["acc"]["a"] == [original["acc_ci_low"], original["acc_ci_high"]]
    text = comparison.render()
    assert "config.seed: 0 -> 7" in text and "config.holdout_fraction: 0.1 -> (absent)" in text
    assert "95% CI" in text


def test_compare_of_a_folder_that_is_not_a_run_exits_2_naming_the_file(pair, tmp_path):
    a, b, _ = pair
    copy = _copy(b, tmp_path)
    (copy / "scores.csv").unlink()
    result = invoke("compare", a, copy)
    assert result.exit_code == 2
    assert str(copy / "scores.csv") in result.output and "Traceback" not in result.output
    result = invoke("compare", a, tmp_path)
    assert result.exit_code == 2 and str(tmp_path / "run.json") in result.output


def test_replay_never_overwrites_and_changes_nothing_it_computes(pair, tmp_path):
    a, b, _ = pair
    with pytest.raises(GibenchError, match="already exists"):
        gibench.replay(a, out=b)
    with pytest.raises(GibenchError, match="cannot change epochs"):
        gibench.replay(a, out=tmp_path / "new", epochs=1)
    assert not (tmp_path / "new").exists()


# -- configuration files ----------------------------------------------------------------------

def test_the_command_line_overrides_the_config_file(toy_plugin, toy_root, tmp_path):
    """The file says 2 epochs and seed 3; --epochs 1 and --seed 0 (the default value, given)
    win; run.json records the merged configuration."""
    config = tmp_path / "experiment.toml"
    config.write_text(f'detector = "tinynet"\ndata_root = "{toy_root}"\ndataset = "toy"\n'
                      'train_subset = "toy-a"\ntest_subsets = ["toy-b"]\nepochs = 2\nseed = 3\n'
                      'device = "cpu"\nworkers = 0\nprogress = false\n')
    out = tmp_path / "run"
    result = invoke("run", "--config", config, "--epochs", "1", "--seed", "0", "--out", out)
    assert result.exit_code == 0, result.output
    record = RunRecord.read(out)
    assert record.config["epochs"] == 1 and record.resolved["epochs"] == 1
    assert record.config["seed"] == 0 and record.config["test_subsets"] == ["toy-b"]
    assert record.config["progress"] is False and record.config["dataset"] == "toy"
    assert len(record.training["toy-a"]["history"]) == 1
    assert record.config == RunConfig.from_dict(record.config).to_dict()  # one format
    result = invoke("run", "--config", config, "--resume", out)
    assert result.exit_code == 2 and "--config cannot be given with it" in result.output


def test_run_config_of_a_run_json_runs_it_again_with_overrides(pair, toy_plugin, tmp_path):
    a, _, _ = pair
    again = tmp_path / "again"
    result = invoke("run", "--config", a / "run.json", "--out", again)
    assert result.exit_code == 0, result.output
    assert (again / "scores.csv").read_bytes() == (a / "scores.csv").read_bytes()
    assert gibench.compare(a, again).agree
    changed = tmp_path / "changed"
    result = invoke("run", "--config", a, "--seed", "5", "--out", changed, "--no-progress")
    assert result.exit_code == 0, result.output
    comparison = gibench.compare(a, changed)
    assert comparison.config[0] == {"field": "config.seed", "a": 0, "b": 5}


@pytest.mark.parametrize("name, text, expected", [
    ("unknown.toml", 'detector = "tinynet"\nepoch = 2\n', "unknown key(s) 'epoch' (did you "
                                                          "mean 'epochs'?)"),
    ("dashes.yaml", "detector: tinynet\nbatch-size: 4\n", "did you mean 'batch_size'?"),
    ("type.toml", 'detector = "tinynet"\nepochs = "two"\n', "epochs is a string ('two'), "
                                                            "expected an integer"),
    ("type.yaml", "detector: tinynet\ndegradations: jpeg:65\n", "degradations is a string"),
    ("broken.toml", 'detector = "tinynet\n', "not valid TOML"),
    ("broken.yaml", "detector: [tinynet\n", "not valid YAML"),
    ("broken.json", '{"detector": ', "not valid JSON"),
    ("choice.toml", 'detector = "tinynet"\ndevice = "gpu"\n', "device: 'gpu' is not one of"),
    ("list.yaml", "- detector\n", "expected a table of configuration keys"),
    ("config.ini", "detector = tinynet\n", "unknown configuration format '.ini'"),
])
def test_a_bad_config_file_is_one_error_naming_the_file(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text)
    result = invoke("run", "--config", path)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {path}: ") and expected in result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output


def test_read_config_file_takes_run_json_config_without_where_it_ran(pair):
    a, _, root = pair
    fields = read_config_file(a / "run.json")
    assert "out" not in fields and "command" not in fields
    assert fields["data_root"] == root and fields["epochs"] == 2
    assert read_config_file(a) == fields  # the run directory reads as its run.json
    with pytest.raises(ConfigFileError, match="no detector"):
        RunConfig.from_dict({"epochs": 1})


def test_eval_config_file_and_replay_of_a_shared_pass(pair, toy_plugin, tmp_path):
    """gibench eval --config gives the file's data options to each model; replaying one run
    of the pass replays the whole pass, with the same scores."""
    a, _, root = pair
    weights = a / "train" / "toy-a" / "model.pt"
    other = tmp_path / "w" / "model.pt"
    other.parent.mkdir()
    shutil.copy(weights, other)
    config = tmp_path / "eval.yaml"
    config.write_text(f"detector: tinynet\ndata_root: {root}\ndataset: toy\n"
                      "test_subsets: [toy-b]\ndevice: cpu\nworkers: 0\nprogress: false\n")
    out = tmp_path / "pass"
    result = invoke("eval", "--config", config, "--weights", weights, "--weights", other,
                    "--out", out)
    assert result.exit_code == 0, result.output
    runs = sorted(p for p in out.iterdir() if p.is_dir())
    assert len(runs) == 2 and all(RunRecord.read(r).config["test_subsets"] == ["toy-b"]
                                  for r in runs)
    new = gibench.replay(runs[1], tmp_path / "replayed", progress=False)
    assert new == tmp_path / "replayed" / runs[1].name
    for run in runs:
        replayed = tmp_path / "replayed" / run.name
        assert (replayed / "scores.csv").read_bytes() == (run / "scores.csv").read_bytes()
        assert len(RunRecord.read(replayed).shared_pass["runs"]) == 2
    single = tmp_path / "single"  # the file's detector and weights: a run.json of the pass
    result = invoke("eval", "--config", runs[0] / "run.json", "--out", single)
    assert result.exit_code == 0, result.output
    assert RunRecord.read(single).config["weights"] == RunRecord.read(runs[0]).config["weights"]
    assert (single / "scores.csv").read_bytes() == (runs[0] / "scores.csv").read_bytes()
    config.write_text("detector: tinynet\nsuite: cross-generator\n")
    result = invoke("eval", "--config", config, "--weights", weights)
    assert result.exit_code == 2 and "gibench run --config" in result.output
