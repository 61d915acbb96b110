"""The run-directory contract (gibench.rundir): the typed run record round-trips through
``run.json``, reads every record gibench has written, and names the file when it cannot."""

from __future__ import annotations

import json

import pytest

from gibench import rundir
from gibench.errors import GibenchError
from gibench.metrics import EXTENDED_COLUMNS
from gibench.rundir import RunDir, RunDirError, RunRecord

#: A run.json as gibench wrote it before RunRecord existed (keys in their written order).
LEGACY = {
    "status": "complete", "created": "2025-01-02T03:04:05+00:00", "command": "gibench run",
    "resumed": False, "config": {"detector": "cnnspot", "seed": 0},
    "resolved": {"detector": "cnnspot", "suite": "cross-generator", "dataset": "mini",
                 "input_size": 64, "load_size": 72},
    "seed": 0, "versions": {"gibench": "0.1.0", "plugins": {}}, "git": "abc1234",
    "device": {"type": "cpu"}, "processes": 1, "process_group": None,
    "eval_precision": "fp32", "decode_cache": None, "weights": None,
    "training": {"latent-a": {"sha256": "0" * 64}}, "calibration": None, "bad_images": {},
    "timings": {"total": 1.5}, "throughput": {"eval_images": 10,
                                              "eval_images_per_second": 5.0},
}


def test_record_round_trips_byte_for_byte(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps(LEGACY, indent=2) + "\n")
    record = RunRecord.read(tmp_path)
    assert record.status == "complete" and record.resolved["input_size"] == 64
    assert record.shared_pass is None and record.other == {}
    before = (tmp_path / "run.json").read_text()
    assert record.write(tmp_path) == tmp_path / "run.json"
    assert (tmp_path / "run.json").read_text() == before  # same keys, same order


def test_shared_pass_and_unknown_keys_are_kept(tmp_path):
    data = {**LEGACY, "shared_pass": {"runs": ["a", "b"], "eval_batch_size": 8},
            "from_a_newer_gibench": [1, 2]}
    record = RunRecord.from_dict(data)
    assert record.shared_pass["runs"] == ["a", "b"]
    assert record.other == {"from_a_newer_gibench": [1, 2]}
    record.write(tmp_path)
    assert json.loads((tmp_path / "run.json").read_text()) == data


def test_older_records_with_fewer_keys_read():
    record = RunRecord.from_dict({"status": "running", "config": {}})
    assert record.timings == {} and record.processes == 1 and record.weights is None


def test_missing_record_names_the_file(tmp_path):
    with pytest.raises(RunDirError, match=r"run\.json: no such file .*not a run directory"):
        RunRecord.read(tmp_path / "nowhere")
    assert issubclass(RunDirError, GibenchError)


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"config": {}}', "no 'status'"),
    ('{"status": "complete"}', "no 'config'"),
    ('{"status": "complete", "config": []}', "config is list, expected an object"),
    ('{"status": 3, "config": {}}', "status is int, expected a string"),
    ('{"status": "x", "config": {}, "seed": true}', "seed is bool, expected an integer"),
    ('{"status": "x", "config": {}, "timings": "slow"}', "timings is str, expected an object"),
])
def test_malformed_record_names_the_file_and_the_field(tmp_path, text, message):
    path = tmp_path / "run.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(RunDirError, match=message) as info:
        RunRecord.read(tmp_path)
    assert str(path) in str(info.value)


def test_paths_of_a_run_directory(tmp_path):
    files = RunDir(tmp_path)
    assert (files.record.name, files.results.name, files.scores.name, files.table.name) == (
        "run.json", "results.csv", "scores.csv", "results.md")
    assert files.training("sdv1.4") == tmp_path / "train" / "sdv1.4"
    rows, scores = files.partial("abc")
    assert rows == tmp_path / "partial" / "eval-abc.json" and scores.suffix == ".csv"
    assert not files.is_run()
    RunRecord("running", config={}).write(tmp_path)
    assert files.is_run()


def test_columns():
    assert rundir.EXTENDED_METRICS == EXTENDED_COLUMNS  # repeated to keep rundir light
    assert rundir.RESULT_COLUMNS[:len(rundir.KEY_COLUMNS)] == list(rundir.KEY_COLUMNS)
    assert len(set(rundir.RESULT_COLUMNS)) == len(rundir.RESULT_COLUMNS)
    assert {"train_subset", "test_subset", "degradation"} <= set(rundir.SCORE_COLUMNS)
