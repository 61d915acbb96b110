"""Interrupted runs: nothing half-written, and --resume ends where an uninterrupted run ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from click.testing import CliRunner

import gibench
import gibench.engine.evaluation as evaluation_module
from gibench.cli import main
from gibench.errors import GibenchError

OPTS = dict(dataset="toy", train_subset="toy-a", device="cpu", workers=0, progress=False,
            epochs=3)


def _same_results(a_dir, b_dir):
    for name in ("results.csv", "scores.csv"):
        a, b = pd.read_csv(a_dir / name), pd.read_csv(b_dir / name)
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    for name in ("train/toy-a/model.pt",):
        assert (a_dir / name).read_bytes() != b"" and \
            gibench.outputs.sha256_file(a_dir / name) == gibench.outputs.sha256_file(b_dir / name)


def test_interrupted_evaluation_resumes_without_redoing_finished_work(
        toy_plugin, toy_root, tmp_path, monkeypatch):
    reference = tmp_path / "reference"
    gibench.run("tinynet", "cross-generator", data_root=toy_root, out=reference, **OPTS)

    real_predict = evaluation_module.predict
    calls = []

    def interrupted(*args, **kwargs):  # Ctrl-C while the second test subset is evaluated
        calls.append(args[1].subset)
        if args[1].subset == "toy-b":
            raise KeyboardInterrupt
        return real_predict(*args, **kwargs)

    monkeypatch.setattr(evaluation_module, "predict", interrupted)
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        gibench.run("tinynet", "cross-generator", data_root=toy_root, out=run_dir, **OPTS)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "interrupted"
    partial = pd.read_csv(run_dir / "results.csv")  # whole rows only, never a torn file
    assert list(partial["test_subset"]) == ["toy-a"]
    assert (run_dir / "train" / "toy-a" / "training.json").is_file()

    calls.clear()
    monkeypatch.setattr(evaluation_module, "predict", real_predict)
    counted = []
    monkeypatch.setattr(evaluation_module, "predict",
                        lambda *a, **k: counted.append(a[1].subset) or real_predict(*a, **k))
    gibench.resume(run_dir)
    assert counted == ["toy-b"]  # training and toy-a were read back, not redone
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "complete" and record["resumed"] is True
    _same_results(run_dir, reference)


def test_a_killed_training_resumes_from_its_last_epoch_with_identical_results(
        toy_plugin, toy_root, tmp_path):
    """SIGKILL mid-training (no handler can run), then --resume through the CLI."""
    epochs = 12
    reference = tmp_path / "reference"
    gibench.run("tinynet", "cross-generator", data_root=toy_root, out=reference,
                **{**OPTS, "epochs": epochs})

    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(toy_plugin), *sys.path])}
    args = ["run", "--detector", "tinynet", "--data-root", str(toy_root), "--dataset", "toy",
            "--train-subset", "toy-a", "--device", "cpu", "--workers", "0", "--no-progress",
            "--epochs", str(epochs), "--out", str(run_dir)]
    proc = subprocess.Popen([sys.executable, "-c", "from gibench.cli import main; main()",
                             *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    last = run_dir / "train" / "toy-a" / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 120
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if proc.returncode == 0:
        pytest.fail("the run finished before it could be killed: give it more epochs")
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "running"  # killed: nothing could mark it, and it says so
    assert not (run_dir / "results.csv").exists()
    assert not (run_dir / "train" / "toy-a" / "training.json").exists()

    result = CliRunner().invoke(main, ["run", "--resume", str(run_dir), "--no-progress"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "complete"
    assert len(record["training"]["toy-a"]["history"]) == epochs
    _same_results(run_dir, reference)


def test_resume_refuses_what_it_cannot_continue(toy_plugin, toy_root, tmp_path):
    done = tmp_path / "done"
    gibench.run("tinynet", "cross-generator", data_root=toy_root, out=done, **OPTS)
    with pytest.raises(GibenchError, match="already complete"):
        gibench.resume(done)
    with pytest.raises(GibenchError, match="run.json: no such file"):
        gibench.resume(tmp_path / "nowhere")
    with pytest.raises(GibenchError, match="cannot change epochs"):
        gibench.resume(done, epochs=5)
    result = CliRunner().invoke(main, ["run", "--resume", str(done), "--epochs", "4"])
    assert result.exit_code != 0 and "cannot change --epochs" in result.output
    result = CliRunner().invoke(main, ["run", "--out", str(done), "--detector", "tinynet",
                                       "--data-root", str(toy_root), "--dataset", "toy"])
    assert result.exit_code != 0 and "--resume" in result.output
