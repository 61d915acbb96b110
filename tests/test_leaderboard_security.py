"""The leaderboard pull-request path against hostile or careless input (issue 21): formula cells,
invisible names, falsified paper rows, ``reproduced`` without a paper row, the same model twice,
seeds written ``00``, machine-local paths, cherry-picked run files, image counts far from
GenImage's, unpublished plugin code, and ``--board x.csv``."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import gibench
from gibench.cli import main
from gibench.errors import GibenchError
from gibench.leaderboard.board import read_board
from gibench.leaderboard.check import check_root
from gibench.leaderboard.runs import add_run
from gibench.registry import get_registry
from tests.conftest import install_fake_distribution

REPO_BOARDS = Path(__file__).resolve().parents[1] / "leaderboards"
SUBMITTER = "Test Person"


@pytest.fixture
def boards(tmp_path) -> Path:
    return Path(shutil.copytree(REPO_BOARDS, tmp_path / "leaderboards"))


def _problems(root: Path) -> list[str]:
    return [str(p) for p in check_root(root, get_registry()).problems]


def _edit(path: Path, edit) -> None:
    rows = pd.read_csv(path, dtype=str, keep_default_na=False).to_dict("records")
    edit(rows)
    pd.DataFrame(rows).to_csv(path, index=False, lineterminator="\n")


def _toy_run(toy_root: Path, out: Path, **kw) -> Path:
    gibench.run("tinynet", "cross-generator", data_root=toy_root, dataset="toy",
                train_subset="toy-a", device="cpu", workers=0, progress=False, out=out,
                epochs=1, **kw)
    return out


def _add(run_dir: Path, boards: Path, **kw):
    opts = dict(source="new", submitter=SUBMITTER, board="toy-cross-generator")
    return add_run(run_dir, boards, **{**opts, **kw})


# -- CSV formula injection -------------------------------------------------------------------------
@pytest.mark.parametrize("column,value", [
    ("submitter", "=HYPERLINK(\"https://evil.example\",\"x\")"), ("submitter", "@SUM(A1)"),
    ("reference", "+cmd /C calc!A0"), ("reference", "-2+3"), ("submitter", "=1+1")])
def test_check_refuses_a_text_cell_that_a_spreadsheet_would_evaluate(boards, column, value):
    path = boards / "mini-cross-generator.csv"
    _edit(path, lambda rows: rows[0].update({column: value}))
    problems = _problems(boards)
    assert any(p.startswith(f"{path}:2: {column} ") and "spreadsheet formula" in p
               for p in problems), problems


def test_numbers_stay_numbers_and_add_refuses_a_formula_submitter(toy_plugin, toy_root, boards,
                                                                  tmp_path):
    run_dir = _toy_run(toy_root, tmp_path / "run")
    result = CliRunner().invoke(main, [
        "leaderboard", "add", str(run_dir), "--root", str(boards), "--board",
        "toy-cross-generator", "--source", "new", "--submitter", "=HYPERLINK(\"x\")"])
    assert result.exit_code != 0 and "spreadsheet formula" in result.output, result.output
    assert not (boards / "toy-cross-generator.csv").exists()
    _add(run_dir, boards)
    assert check_root(boards, get_registry()).ok  # metric cells like 0.0 or 100.0 pass


# -- invisible names -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["\u3164", "\u2800", "\u3164\u3164", "\u115f\u1160",
                                  "\uffa0", "Jane\u3164"])
def test_an_invisible_submitter_is_refused(boards, name):
    path = boards / "mini-cross-generator.csv"
    _edit(path, lambda rows: rows[0].update(submitter=name))
    problems = _problems(boards)
    assert any(p.startswith(f"{path}:2: submitter ") and "invisible" in p for p in problems), (
        problems)


def test_add_refuses_an_invisible_submitter(toy_plugin, toy_root, boards, tmp_path):
    run_dir = _toy_run(toy_root, tmp_path / "run")
    with pytest.raises(GibenchError, match="submitter=.*invisible"):
        _add(run_dir, boards, submitter="\u2800\u2800")


# -- paper rows are the paper's --------------------------------------------------------------------
def _paper_row(rows, detector="cnnspot", test="adm"):
    return next(r for r in rows if r["detector"] == detector and r["test_subset"] == test)


def test_check_refuses_a_changed_paper_cell(boards):
    path = boards / "genimage-cross-generator.csv"
    _edit(path, lambda rows: _paper_row(rows).update(acc="99.9"))
    problems = _problems(boards)
    assert any(p.startswith(f"{path}:") and "acc '99.9' is not the paper's (50.1, Table 3)"
               in p for p in problems), problems


def test_check_refuses_a_paper_row_the_paper_never_had(toy_plugin, boards):
    path = boards / "genimage-cross-generator.csv"

    def add(rows):
        rows.append({**_paper_row(rows), "detector": "tinynet", "plugin": "gibench-toy",
                     "plugin_version": "1.2.3"})
    _edit(path, add)
    problems = _problems(boards)
    assert any("the paper has no row for detector 'tinynet'" in p for p in problems), problems


def test_check_refuses_a_paper_row_with_another_citation(boards):
    path = boards / "genimage-cross-generator.csv"
    _edit(path, lambda rows: _paper_row(rows).update(reference="trust me"))
    problems = _problems(boards)
    assert any("reference 'trust me' is not the paper's" in p for p in problems), problems


# -- a detector's own GenImage table (NPR's README) is held to its transcription too ---------------
def test_check_refuses_an_npr_paper_row_that_differs_from_its_transcription(boards):
    path = boards / "genimage-cross-generator.csv"
    _edit(path, lambda rows: _paper_row(rows, "npr", "biggan").update(acc="90.7"))
    problems = _problems(boards)
    assert any(p.startswith(f"{path}:") and "acc '90.7' is not the paper's (80.7, the NPR "
               "README's GenImage table)" in p for p in problems), problems


def test_check_refuses_an_npr_paper_row_with_another_citation_or_date(boards):
    path = boards / "genimage-cross-generator.csv"
    _edit(path, lambda rows: _paper_row(rows, "npr", "adm").update(
        reference="Zhu et al., GenImage, NeurIPS 2023 Datasets and Benchmarks, arXiv "
                  "2306.08571, Table 3", date="2023-06-14"))
    problems = _problems(boards)
    assert any("reference 'Zhu et al., GenImage" in p and "the NPR README's" in p
               for p in problems), problems
    assert any("date '2023-06-14' is not the paper's (2024-06-15" in p for p in problems)


def test_check_refuses_npr_cells_its_readme_never_reported(boards):
    # the training subset's own val split (not in their table), and NPR on the matrix board
    path = boards / "genimage-cross-generator.csv"
    _edit(path, lambda rows: rows.append({**_paper_row(rows, "npr", "adm"),
                                          "test_subset": "sdv1.4", "acc": "99.9"}))
    matrix = boards / "genimage-matrix.csv"
    _edit(matrix, lambda rows: rows.append({**_paper_row(rows), "detector": "npr",
                                            "plugin": "gibench-plugin-modern"}))
    problems = _problems(boards)
    assert any(p.startswith(f"{path}:") and "no cell npr trained on sdv1.4, tested on sdv1.4"
               in p for p in problems), problems
    assert any(p.startswith(f"{matrix}:") and "no cell npr" in p
               and "genimage-cross-generator" in p for p in problems), problems


# -- reproduced needs a paper row ------------------------------------------------------------------
def test_reproduced_needs_a_detector_of_the_paper(toy_plugin, toy_root, boards, tmp_path):
    run_dir = _toy_run(toy_root, tmp_path / "run")
    with pytest.raises(GibenchError, match="no paper row to reproduce"):
        _add(run_dir, boards, source="reproduced")
    _add(run_dir, boards)
    _edit(boards / "toy-cross-generator.csv", lambda rows: rows[0].update(source="reproduced"))
    assert any("no paper row to reproduce" in p for p in _problems(boards))


# -- duplicates: seeds and models ------------------------------------------------------------------
def test_a_seed_written_00_is_the_same_seed(boards):
    path = boards / "mini-cross-generator.csv"
    _edit(path, lambda rows: rows.append({**rows[0], "seed": "00"}))
    problems = _problems(boards)
    assert any("seed '00' is not written canonically (write '0')" in p for p in problems)
    assert any("duplicate of line 2" in p for p in problems), problems


def test_the_same_model_twice_on_a_board_is_refused(toy_plugin, toy_root, boards, tmp_path):
    run_dir = _toy_run(toy_root, tmp_path / "run")
    _add(run_dir, boards)
    weights = run_dir / "train" / "toy-a" / "model.pt"
    gibench.evaluate("tinynet", weights, data_root=toy_root, dataset="toy", device="cpu",
                     workers=0, progress=False, out=tmp_path / "eval")
    with pytest.raises(GibenchError, match="same model"):
        _add(tmp_path / "eval", boards, train_subset="toy-a")
    # by hand: a row of the trained model copied as a weights row
    sha = read_board(boards / "toy-cross-generator.csv")[0].rows()[0]["model_sha256"]
    _edit(boards / "toy-cross-generator.csv",
          lambda rows: rows.append({**rows[0], "weights": sha, "seed": ""}))
    assert any("the same model" in p for p in _problems(boards)), _problems(boards)


# -- machine-local paths ---------------------------------------------------------------------------
def test_recorded_commands_lose_their_machine_local_paths():
    from gibench.leaderboard.runs import public_command

    command = ("gibench run --detector cnnspot --suite degraded --out /tmp/exp/cnn-degraded "
               "--data-root=/home/jane/GenImage --weights ~/w/model.pt --no-progress "
               "--subset-dir mine=/srv/data/mine")
    public = public_command(command)
    assert "/tmp" not in public and "/home" not in public and "~" not in public
    assert "/srv" not in public and "--out" not in public
    assert "--data-root=DATA_ROOT" in public and "--weights WEIGHTS" in public
    assert "--subset-dir mine=SUBSET_DIR" in public and "--suite degraded" in public


def test_check_refuses_a_reference_with_a_local_path(boards):
    path = boards / "mini-cross-generator.csv"
    _edit(path, lambda rows: rows[0].update(reference="gibench run --out /tmp/me/x (git abc)"))
    assert any(p.startswith(f"{path}:2: reference ") and "machine-local path '/tmp/me/x'" in p
               for p in _problems(boards))


def test_add_strips_local_paths_from_the_command(toy_plugin, toy_root, boards, tmp_path):
    run_dir = _toy_run(toy_root, tmp_path / "run",
                       command=f"gibench run --detector tinynet --out {tmp_path}/run")
    _add(run_dir, boards)
    row = read_board(boards / "toy-cross-generator.csv")[0].rows()[0]
    assert str(tmp_path) not in row["reference"] and "gibench run --detector tinynet" in (
        row["reference"])


# -- run files: completeness and hash --------------------------------------------------------------
def test_add_refuses_a_cherry_picked_results_csv(toy_plugin, toy_root, boards, tmp_path):
    run_dir = _toy_run(toy_root, tmp_path / "run")
    results = pd.read_csv(run_dir / "results.csv")
    results[results.test_subset != "toy-b"].to_csv(run_dir / "results.csv", index=False)
    with pytest.raises(GibenchError, match="scores.csv holds .* no row in results.csv.*toy-b"):
        _add(run_dir, boards)
    scores = pd.read_csv(run_dir / "scores.csv")  # both files edited alike
    scores[scores.test_subset != "toy-b"].to_csv(run_dir / "scores.csv", index=False)
    with pytest.raises(GibenchError, match="no result for test subset toy-b"):
        _add(run_dir, boards)
    assert not (boards / "toy-cross-generator.csv").exists()


def test_add_records_the_scores_hash_and_shows_image_counts(toy_plugin, toy_root, boards,
                                                           tmp_path):
    from gibench.outputs import sha256_file

    run_dir = _toy_run(toy_root, tmp_path / "run")
    _add(run_dir, boards)
    row = read_board(boards / "toy-cross-generator.csv")[0].rows()[0]
    assert row["scores_sha256"] == sha256_file(run_dir / "scores.csv")
    record = json.loads((run_dir / "run.json").read_text())
    assert row["model_sha256"] == record["training"]["toy-a"]["sha256"]
    text = (boards / "toy-cross-generator.md").read_text()
    assert f"Test images per column: {row['n_real']} real, {row['n_fake']} fake" in text


def test_a_genimage_board_refuses_counts_far_from_the_datasets(boards):
    path = boards / "genimage-cross-generator.csv"
    mini = pd.read_csv(boards / "mini-cross-generator.csv", dtype=str, keep_default_na=False)
    row = mini.iloc[0].to_dict()
    row.update(train_subset="sdv1.4", test_subset="sdv1.5", n_real="15", n_fake="15")
    _edit(path, lambda rows: rows.append(row))
    problems = _problems(boards)
    assert any("n_real '15' is far from the 8000 real images of GenImage's sdv1.5" in p
               for p in problems), problems
    # a count close to the dataset's (a few unreadable files skipped) passes that rule
    _edit(path, lambda rows: rows[-1].update(n_real="7990", n_fake="8000"))
    assert not any("far from" in p for p in _problems(boards))


# -- plugin provenance -----------------------------------------------------------------------------
def _git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          cwd=folder, check=True, capture_output=True, text=True).stdout.strip()


def test_an_editable_plugins_git_state_is_recorded(tmp_path, monkeypatch):
    from gibench.leaderboard.origin import distribution_origin

    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "plug.py").write_text("X = 1\n")
    _git(checkout, "init", "-q")
    _git(checkout, "add", ".")
    _git(checkout, "commit", "-q", "-m", "first")
    head = _git(checkout, "rev-parse", "HEAD")
    site = tmp_path / "site"
    site.mkdir()
    install_fake_distribution(site, "gibench-edit", "0.3.0", {}, {"edit": "plug"})
    info = next(site.glob("*.dist-info"))
    (info / "direct_url.json").write_text(json.dumps(
        {"url": checkout.as_uri(), "dir_info": {"editable": True}}))
    monkeypatch.syspath_prepend(str(site))
    assert distribution_origin("gibench-edit", checkout / "plug.py") == f"git:{head}"
    (checkout / "plug.py").write_text("X = 2\n")
    assert distribution_origin("gibench-edit", checkout / "plug.py") == f"git:{head}+dirty"
    shutil.rmtree(checkout / ".git")
    assert distribution_origin("gibench-edit", checkout / "plug.py") == "local"


def test_plugin_origins_are_recorded_as_the_run_opens_not_as_it_ends(toy_plugin, toy_root,
                                                                      tmp_path, monkeypatch):
    # an editable checkout edited while a run trains must not turn the run's record dirty:
    # the code that ran was imported when the run opened
    import gibench.engine.run as engine_run

    calls = []
    real = engine_run.versions

    def versions(registry):
        record = real(registry)
        calls.append(record)
        record["plugins"]["toy"]["origin"] = "git:abc1234" + ("+dirty" if len(calls) > 1
                                                             else "")
        return record

    monkeypatch.setattr(engine_run, "versions", versions)
    run_dir = _toy_run(toy_root, tmp_path / "run")
    record = json.loads((run_dir / "run.json").read_text())
    assert len(calls) == 1 and record["status"] == "complete"
    assert record["versions"]["plugins"]["toy"]["origin"] == "git:abc1234"


def test_add_refuses_an_unpublished_plugin_unless_the_row_says_so(toy_plugin, toy_root, boards,
                                                                 tmp_path):
    run_dir = _toy_run(toy_root, tmp_path / "run")
    record = json.loads((run_dir / "run.json").read_text())
    assert record["versions"]["plugins"]["toy"]["origin"] == "index"
    record["versions"]["plugins"]["toy"]["origin"] = "git:abc1234+dirty"
    (run_dir / "run.json").write_text(json.dumps(record))
    with pytest.raises(GibenchError, match="uncommitted changes.*allow_unpublished_plugin"):
        _add(run_dir, boards)
    _add(run_dir, boards, allow_unpublished_plugin=True)
    row = read_board(boards / "toy-cross-generator.csv")[0].rows()[0]
    assert row["plugin_origin"] == "git:abc1234+dirty"
    assert "gibench-toy 1.2.3 (git abc1234 with uncommitted changes)" in (
        boards / "toy-cross-generator.md").read_text()
    assert check_root(boards, get_registry()).ok
    _edit(boards / "toy-cross-generator.csv", lambda rows: rows[0].update(plugin_origin=""))
    assert any("plugin_origin is empty" in p for p in _problems(boards))


# -- --board NAME.csv ------------------------------------------------------------------------------
def test_board_given_as_a_file_name(toy_plugin, toy_root, boards, tmp_path):
    run_dir = _toy_run(toy_root, tmp_path / "run")
    result = _add(run_dir, boards, board="toy-cross-generator.csv")
    assert result.board == boards / "toy-cross-generator.csv"
    assert not list(boards.glob("*.csv.csv"))
