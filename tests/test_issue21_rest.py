"""Issue 21, the rest: API parameters that take one string as one item, sizes recorded with the
weights, ``--subset-dir`` with ``--subsets``, failed runs that say why, ``-p no:TYPO``, absolute
paths and a data check on resume, a lock on the run directory, the umask, the nested/flattened
warning, the workers cap and a resumed run's timings."""

from __future__ import annotations

import fcntl
import json
import os
import socket
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import gibench
from gibench.cli import main
from gibench.engine.config import RunConfig
from gibench.errors import GibenchError
from gibench.rundir import MODEL_META, RunRecord
from tests import test_hostile_inputs

tiny_weights = test_hostile_inputs.tiny_weights  # the fixture: a tinynet state dict

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _images(folder: Path, n: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for k in range(n):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(
            folder / f"img{k}.png")
    return folder


def _opts(toy_root: Path, out: Path, **options):
    return {"data_root": toy_root, "dataset": "toy", "out": out, "device": "cpu", "workers": 0,
            "progress": False, **options}


def _toy_run(toy_root: Path, out: Path, **options):
    return gibench.run("tinynet", "cross-generator", **_opts(
        toy_root, out, train_subset="toy-a", test_subsets=["toy-a"], **{"epochs": 1, **options}))


def _interrupted(run_dir: Path, **changes) -> None:
    record = json.loads((run_dir / "run.json").read_text())
    record.update(status="interrupted", **changes)
    (run_dir / "run.json").write_text(json.dumps(record))
    for partial in (run_dir / "partial").glob("eval-*"):
        partial.unlink()


# --------------------------------------------------------------------------- item 1: the API

def test_score_takes_one_path_as_one_path(tiny_weights, tmp_path, monkeypatch):
    from gibench.engine import score as score_module

    seen = []
    real = score_module._collect
    monkeypatch.setattr(score_module, "_collect", lambda paths: seen.append(paths) or real(paths))
    folder = _images(tmp_path / "imgs")
    table, _ = gibench.score("tinynet", tiny_weights, str(folder), device="cpu", workers=0,
                             progress=False)
    assert seen == [[folder]] and len(table) == 3
    with pytest.raises(GibenchError, match=r"paths.*int"):
        gibench.score("tinynet", tiny_weights, 5, device="cpu")


def test_list_options_take_one_string_as_one_item():
    config = RunConfig(detector="tinynet", test_subsets="toy-a", degradations="jpeg:65",
                       align="jpeg:96", train_align="size:64", report="tensorboard",
                       disabled_plugins="example")
    assert config.test_subsets == ["toy-a"] and config.degradations == ["jpeg:65"]
    assert config.align == ["jpeg:96"] and config.train_align == ["size:64"]
    assert config.report == ["tensorboard"] and config.disabled_plugins == ["example"]
    assert RunConfig(detector="x", test_subsets=("a", "b"), data_root="d").test_subsets == \
        ["a", "b"]


@pytest.mark.parametrize(("options", "param"), [
    ({"epochs": "3"}, "epochs"), ({"test_subsets": 5}, "test_subsets"),
    ({"degradations": ["jpeg:65", 3]}, "degradations"), ({"weights": 1.5}, "weights"),
    ({"subset_dirs": ["mine"]}, "subset_dirs"), ({"seed": None}, "seed"),
])
def test_a_wrong_type_is_an_error_naming_the_parameter(options, param):
    with pytest.raises(GibenchError) as info:
        RunConfig(detector="tinynet", **options)
    assert param in info.value.params and f"{param}" in str(info.value)


def test_an_unknown_option_is_named_with_the_close_ones(toy_root):
    with pytest.raises(GibenchError, match=r"'test_subset'.*did you mean 'test_subsets'"):
        gibench.run("tinynet", test_subset="toy-a")
    with pytest.raises(GibenchError, match=r"'epoch'.*'epochs'"):
        gibench.evaluate("tinynet", "w.pt", epoch=1)
    # the CLI's --subsets spelling is an alias in Python too
    assert RunConfig(detector="x", **gibench.engine.run.api_options({"subsets": "a"})
                     ).test_subsets == ["a"]
    with pytest.raises(GibenchError, match="models"):
        gibench.engine.run.evaluate_many("cnnspot")


# --------------------------------------------------------------------------- item 2: sizes

def test_weights_carry_their_sizes_to_eval_and_score(toy_plugin, toy_root, tmp_path, capsys):
    run_dir = tmp_path / "run"
    _toy_run(toy_root, run_dir, input_size=24)
    weights = run_dir / "train" / "toy-a" / "model.pt"
    meta = json.loads((weights.parent / MODEL_META).read_text())
    assert (meta["detector"], meta["input_size"]) == ("tinynet", 24)
    # moved out of its run directory, the record beside it still says how it was trained
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (moved / "model.pt").write_bytes(weights.read_bytes())
    (moved / MODEL_META).write_bytes((weights.parent / MODEL_META).read_bytes())
    gibench.evaluate("tinynet", moved / "model.pt", **_opts(toy_root, tmp_path / "e",
                                                              test_subsets=["toy-a"]))
    assert RunRecord.read(tmp_path / "e").resolved["input_size"] == 24
    _, summary = gibench.score("tinynet", moved / "model.pt", [_images(tmp_path / "i")],
                               device="cpu", workers=0, progress=False)
    assert summary["input_size"] == 24 and MODEL_META in summary["size_from"]
    capsys.readouterr()
    with pytest.raises(GibenchError, match=r"input_size.*16.*24"):
        gibench.evaluate("tinynet", moved / "model.pt", **_opts(
            toy_root, tmp_path / "e16", test_subsets=["toy-a"], input_size=16))
    assert not (tmp_path / "e16").exists()


def test_weights_without_a_record_keep_the_detectors_size(tiny_weights, tmp_path):
    _, summary = gibench.score("tinynet", tiny_weights, [_images(tmp_path / "i")],
                               device="cpu", workers=0, progress=False)
    assert summary["input_size"] == 16


# --------------------------------------------------------------------------- item 3: subset dirs

def test_a_subset_dir_is_evaluated_and_shown_with_subsets_given(tiny_weights, toy_root,
                                                                tmp_path):
    mine = _images(tmp_path / "mine", n=4)
    results = gibench.evaluate("tinynet", tiny_weights, **_opts(
        toy_root, tmp_path / "e", test_subsets="toy-a", subset_dirs={"mine": (mine, 1)}))
    assert list(results["test_subset"]) == ["toy-a", "mine"]
    table = (tmp_path / "e" / "results.md").read_text()
    assert "| mine" in table.splitlines()[4] or "mine" in table.split("###")[0]
    assert "given weights (tiny.pt)" in table and "(weights)" not in table.split("###")[0]


def test_a_repeated_subset_dir_name_is_refused(tiny_weights, tmp_path):
    a, b = _images(tmp_path / "a"), _images(tmp_path / "b")
    result = _cli("eval", "--detector", "tinynet", "--weights", tiny_weights,
                  "--subset-dir", f"mine={a}:ai", "--subset-dir", f"mine={b}:nature",
                  "--out", tmp_path / "e")
    assert result.exit_code == 1 and "--subset-dir" in result.output
    assert "'mine'" in result.output and not (tmp_path / "e").exists()


# --------------------------------------------------------------------------- item 9

def test_a_failed_run_records_its_error(toy_plugin, toy_root, tmp_path, monkeypatch):
    from gibench.engine import models

    def boom(*args, **kwargs):
        raise RuntimeError("boom in training")

    monkeypatch.setattr(models, "train", boom)
    with pytest.raises(RuntimeError):
        _toy_run(toy_root, tmp_path / "run")
    record = RunRecord.read(tmp_path / "run")
    assert record.status == "failed"
    assert record.error == {"type": "RuntimeError", "message": "boom in training"}


def test_an_argument_error_makes_no_run_directory(tiny_weights, toy_root, tmp_path):
    with pytest.raises(GibenchError, match="nope"):
        gibench.evaluate("tinynet", tiny_weights, **_opts(
            toy_root, tmp_path / "e", subset_dirs={"mine": (tmp_path / "nope", 1)}))
    assert not (tmp_path / "e").exists()


def test_disabling_an_unknown_plugin_is_an_error_with_the_close_names(monkeypatch):
    result = _cli("-p", "no:suits", "list", "suites")
    assert result.exit_code == 1 and "'suits'" in result.output
    assert "did you mean 'suites'" in result.output and "Traceback" not in result.output
    monkeypatch.setenv("GIBENCH_DISABLE_PLUGINS", "suits")
    result = CliRunner().invoke(main, ["list", "suites"])
    assert result.exit_code == 0 and "warning" in result.output and "'suits'" in result.output


# --------------------------------------------------------------------------- item 10: docs

def test_contributing_documents_every_recipe_field_and_the_mini_budget():
    from gibench.specs import Recipe

    text = (ROOT / "CONTRIBUTING.md").read_text()
    missing = [f.name for f in fields(Recipe) if f"`{f.name}`" not in text]
    assert not missing, missing
    assert "from_pretrained=False" in text and "mini" in text.split("from_pretrained=False")[1][
        :400]


# --------------------------------------------------------------------------- silent wrong results

def test_resume_uses_the_recorded_absolute_data_root_and_checks_the_data(
        toy_plugin, toy_root, tmp_path, monkeypatch):
    monkeypatch.chdir(toy_root.parent)
    run_dir = tmp_path / "run"
    _toy_run(Path(toy_root.name), run_dir)
    record = RunRecord.read(run_dir)
    assert record.config["data_root"] == str(toy_root)
    assert record.config["out"] == str(run_dir)
    _interrupted(run_dir)
    monkeypatch.chdir(tmp_path / "run")  # another working directory
    for path in sorted((toy_root / "toy_a" / "val" / "ai").iterdir())[:3]:
        path.unlink()
    with pytest.raises(GibenchError, match=r"toy-a/val.*48.*45"):
        gibench.resume(run_dir)


# --------------------------------------------------------------------------- also unclear

def test_a_running_run_cannot_be_resumed_and_a_stale_lock_is_taken_over(
        toy_plugin, toy_root, tmp_path, capsys):
    from gibench.rundir import LOCK_FILE

    run_dir = tmp_path / "run"
    _toy_run(toy_root, run_dir)
    assert not (run_dir / LOCK_FILE).exists()  # released at the end
    _interrupted(run_dir, timings={"total": 500.0, "train": 400.0})
    with open(run_dir / LOCK_FILE, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write(f"{os.getpid()} {socket.gethostname()}\n")
        held.flush()
        with pytest.raises(GibenchError, match=r"still running.*" + str(os.getpid())):
            gibench.resume(run_dir)
    (run_dir / LOCK_FILE).write_text(f"999999999 {socket.gethostname()}\n")  # no one holds it
    capsys.readouterr()
    gibench.resume(run_dir)
    assert "999999999" in capsys.readouterr().err
    record = RunRecord.read(run_dir)
    assert record.status == "complete" and record.timings["total"] > 500.0
    assert not (run_dir / LOCK_FILE).exists()


def test_outputs_respect_the_umask(tmp_path):
    from gibench.outputs import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644


def test_a_subset_in_both_layouts_is_warned_about(toy_plugin, toy_root, capsys):
    from gibench.data.layout import locate_subset
    from gibench.registry import get_registry

    (toy_root / "toy_b" / "val" / "ai").mkdir(parents=True)  # flattened beside nested/
    registry = get_registry()
    locate_subset(toy_root, registry.subset("toy-b", "toy"), registry.dataset("toy"))
    err = capsys.readouterr().err
    assert "warning" in err and str(toy_root / "nested" / "toy_b") in err
    assert str(toy_root / "toy_b") in err


def test_workers_are_capped_with_a_warning(toy_plugin, toy_root, tmp_path, capsys):
    from gibench.engine.run import _prepare

    ctx = _prepare(RunConfig(**{"detector": "tinynet", **_opts(toy_root, tmp_path / "r",
                                                                 workers=1000)}), False)
    assert ctx.resolved.workers <= 32
    assert "1000" in capsys.readouterr().err and not (tmp_path / "r").exists()
