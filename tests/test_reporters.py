"""Reporters: the per-epoch and per-evaluation hooks, the built-in metrics.jsonl log, and the
``tensorboard`` reporter (``--report tensorboard``)."""

from __future__ import annotations

import importlib.util
import json
import textwrap

import pandas as pd
import pytest
from click.testing import CliRunner

import gibench
from gibench.cli import main
from gibench.errors import GibenchError
from gibench.registry import UnknownNameError, clear_registry_cache
from gibench.rundir import METRICS_JSONL, TENSORBOARD_DIR, RunRecord
from tests.conftest import install_fake_distribution

HAS_TENSORBOARD = importlib.util.find_spec("tensorboard") is not None


def _run(toy_root, tmp_path, **kw):
    opts = dict(data_root=toy_root, dataset="toy", train_subset="toy-a", device="cpu",
                workers=0, progress=False, out=tmp_path / "run", epochs=2)
    opts.update(kw)
    return gibench.run("tinynet", "cross-generator", **opts)


def _strict(text: str):
    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_metrics_jsonl_has_one_record_per_epoch_and_per_result_row(toy_plugin, toy_root,
                                                                   tmp_path):
    results = _run(toy_root, tmp_path)
    run_dir = tmp_path / "run"
    lines = (run_dir / METRICS_JSONL).read_text().splitlines()
    records = [_strict(line) for line in lines]
    epochs = [r for r in records if r["event"] == "epoch"]
    history = RunRecord.read(run_dir).training["toy-a"]["history"]
    assert [r["epoch"] for r in epochs] == [1, 2] == [h["epoch"] for h in history]
    assert all(r["model"] == "toy-a" for r in epochs)
    for record, past in zip(epochs, history, strict=True):
        for key in ("train_loss", "lr", "holdout_acc", "holdout_auc", "holdout_loss"):
            assert record[key] == pytest.approx(past[key])
    evaluations = [r for r in records if r["event"] == "evaluation"]
    assert [r["test_subset"] for r in evaluations] == list(results["test_subset"])
    assert [r["acc"] for r in evaluations] == pytest.approx(list(results["acc"]))
    # what the module docstring promises pandas users
    frame = pd.read_json(run_dir / METRICS_JSONL, lines=True)
    assert len(frame[frame["event"] == "epoch"]) == 2


FAILING = textwrap.dedent("""
    import gibench

    @gibench.hookimpl
    def gibench_epoch_finished(model, epoch):
        raise RuntimeError(f"epoch {epoch} of {model} exploded")

    @gibench.hookimpl
    def gibench_evaluation_finished(rows):
        raise RuntimeError("evaluation exploded")
""")


def test_a_failing_reporter_is_a_warning_naming_it(toy_plugin, toy_root, tmp_path, capsys):
    install_fake_distribution(toy_plugin, "gibench-failing", "0.1",
                              {"gibench_failing": FAILING}, {"failing": "gibench_failing"})
    clear_registry_cache()
    results = _run(toy_root, tmp_path)
    err = capsys.readouterr().err
    assert ("plugin 'failing' failed in gibench_epoch_finished: RuntimeError: epoch 2 of toy-a "
            "exploded") in err
    assert "plugin 'failing' failed in gibench_evaluation_finished" in err
    records = (tmp_path / "run" / METRICS_JSONL).read_text().splitlines()
    assert len(records) == 2 + len(results)  # the built-in log did not miss a record
    assert RunRecord.read(tmp_path / "run").status == "complete"


def test_unknown_reporter_fails_before_the_run_starts(toy_plugin, toy_root, tmp_path):
    with pytest.raises(UnknownNameError, match="unknown reporter 'tensorbord'.*tensorboard"):
        _run(toy_root, tmp_path, report=["tensorbord"])
    assert not (tmp_path / "run").exists()


def test_missing_tensorboard_is_an_error_naming_the_package(toy_plugin, toy_root, tmp_path,
                                                            monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with pytest.raises(GibenchError, match="needs the Python package 'tensorboard', which is "
                                           "not installed: pip install tensorboard"):
        _run(toy_root, tmp_path, report=["tensorboard"])
    assert not (tmp_path / "run").exists()
    result = CliRunner().invoke(main, [
        "run", "--detector", "tinynet", "--data-root", str(toy_root), "--dataset", "toy",
        "--train-subset", "toy-a", "--device", "cpu", "--workers", "0", "--no-progress",
        "--out", str(tmp_path / "cli"), "--report", "tensorboard"])
    assert result.exit_code != 0
    assert "--report tensorboard needs the Python package 'tensorboard'" in result.output


@pytest.mark.skipif(not HAS_TENSORBOARD, reason="the tensorboard package is not installed "
                                                "(pip install tensorboard): --report "
                                                "tensorboard needs it")
def test_tensorboard_event_file_reads_back(toy_plugin, toy_root, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    results = _run(toy_root, tmp_path, report=["tb"])
    run_dir = tmp_path / "run"
    assert RunRecord.read(run_dir).config["report"] == ["tensorboard"]  # canonical name
    events = EventAccumulator(str(run_dir / TENSORBOARD_DIR))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    history = RunRecord.read(run_dir).training["toy-a"]["history"]
    loss = events.Scalars("train/toy-a/loss")
    assert [e.step for e in loss] == [1, 2]
    assert [e.value for e in loss] == pytest.approx([h["train_loss"] for h in history])
    assert {"train/toy-a/lr", "holdout/toy-a/acc", "holdout/toy-a/auc"} <= tags
    for row in results.to_dict("records"):
        acc = events.Scalars(f"eval/toy-a/{row['test_subset']}/acc")
        assert [e.value for e in acc] == pytest.approx([row["acc"]])
