"""Leaderboards: the paper's tables render back to the paper's numbers; ``add`` takes only runs
it can trace; ``check`` refuses every kind of bad row, with a FILE:LINE message; rendering is
deterministic and no text can break a table."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gibench
from gibench.cli import main
from gibench.errors import GibenchError
from gibench.leaderboard.board import read_board, write_board
from gibench.leaderboard.check import check_root
from gibench.leaderboard.paper import (
    DETECTOR_TABLES,
    NPR_GENIMAGE,
    NPR_README_TABLE,
    NPR_REFERENCE,
    SUBSETS,
    TABLES,
    paper_rows,
    seed_paper_boards,
)
from gibench.leaderboard.render import write_rendered
from gibench.leaderboard.runs import add_run
from gibench.leaderboard.schema import COLUMN_NAMES
from gibench.registry import build_registry, get_registry

REPO_BOARDS = Path(__file__).resolve().parents[1] / "leaderboards"
SUBMITTER = "Test Person"

# The paper's tables as printed (Zhu et al., GenImage, arXiv 2306.08571), copied here
# independently of gibench.leaderboard.paper so that a slip in either shows.
PAPER = {
    3: """
| Method | Midjourney | SD V1.4 | SD V1.5 | ADM | GLIDE | Wukong | VQDM | BigGAN | Avg |
| ResNet-50 | 54.9 | 99.9 | 99.7 | 53.5 | 61.9 | 98.2 | 56.6 | 52.0 | 72.1 |
| DeiT-S | 55.6 | 99.9 | 99.8 | 49.8 | 58.1 | 98.9 | 56.9 | 53.5 | 71.6 |
| Swin-T | 62.1 | 99.9 | 99.8 | 49.8 | 67.6 | 99.1 | 62.3 | 57.6 | 74.8 |
| CNNSpot | 52.8 | 96.3 | 95.9 | 50.1 | 39.8 | 78.6 | 53.4 | 46.8 | 64.2 |
| Spec | 52.0 | 99.4 | 99.2 | 49.7 | 49.8 | 94.8 | 55.6 | 49.8 | 68.8 |
| F3Net | 50.1 | 99.9 | 99.9 | 49.9 | 50.0 | 99.9 | 49.9 | 49.9 | 68.7 |
| GramNet | 54.2 | 99.2 | 99.1 | 50.3 | 54.6 | 98.9 | 50.8 | 51.7 | 69.9 |
""",
    4: """
| Method | Midjourney | SD V1.4 | SD V1.5 | ADM | GLIDE | Wukong | VQDM | BigGAN | Avg |
| ResNet-50 | 59.0 | 72.3 | 72.4 | 59.7 | 73.1 | 71.4 | 60.9 | 66.6 | 66.9 |
| DeiT-S | 60.7 | 74.2 | 74.2 | 59.5 | 71.1 | 73.1 | 61.7 | 66.3 | 67.6 |
| Swin-T | 61.7 | 76.0 | 76.1 | 61.3 | 76.9 | 75.1 | 65.8 | 69.5 | 70.3 |
| CNNSpot | 58.2 | 70.3 | 70.2 | 57.0 | 57.1 | 67.7 | 56.7 | 56.6 | 61.7 |
| Spec | 56.7 | 72.4 | 72.3 | 57.9 | 65.4 | 70.3 | 61.7 | 64.3 | 65.1 |
| F3Net | 55.1 | 73.1 | 73.1 | 66.5 | 57.8 | 72.3 | 62.1 | 56.5 | 64.6 |
| GramNet | 58.1 | 72.8 | 72.7 | 58.7 | 65.3 | 71.3 | 57.8 | 61.2 | 64.7 |
""",
    5: """
| Method | LR (112) | LR (64) | JPEG (q=65) | JPEG (q=30) | Blur (σ=3) | Blur (σ=5) | Avg |
| ResNet-50 | 96.2 | 57.4 | 51.9 | 51.2 | 97.9 | 69.4 | 70.6 |
| DeiT-S | 97.1 | 54.0 | 55.6 | 50.5 | 94.4 | 67.2 | 69.8 |
| Swin-T | 97.4 | 54.6 | 52.5 | 50.9 | 94.5 | 52.5 | 67.0 |
| CNNSpot | 50.0 | 50.0 | 97.3 | 97.3 | 97.4 | 77.9 | 78.3 |
| Spec | 50.0 | 49.9 | 50.8 | 50.4 | 49.9 | 49.9 | 50.1 |
| F3Net | 50.0 | 50.0 | 89.0 | 74.4 | 57.9 | 51.7 | 62.1 |
| GramNet | 98.8 | 94.9 | 68.8 | 53.4 | 95.9 | 81.6 | 82.2 |
""",
}
METHODS = {"ResNet-50": "resnet50", "DeiT-S": "deit-s", "Swin-T": "swin-t",
           "CNNSpot": "cnnspot", "Spec": "spec", "F3Net": "f3net", "GramNet": "gramnet"}
TABLE5_COLUMNS = {"LR (112)": "lowres 112", "LR (64)": "lowres 64", "JPEG (q=65)": "jpeg 65",
                  "JPEG (q=30)": "jpeg 30", "Blur (σ=3)": "blur 3", "Blur (σ=5)": "blur 5"}


def _cells(line: str) -> list[str]:
    return [c.strip().replace("**", "") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def _markdown_table(text: str) -> dict[str, dict[str, str]]:
    """{first cell: {header: cell}} of the first table in ``text`` (rule line skipped)."""
    lines = [ln for ln in text.splitlines() if ln.startswith("|") and not ln.startswith("|:")
             and not ln.startswith("|-")]
    header = _cells(lines[0])
    return {cells[0]: dict(zip(header, cells, strict=True)) for cells in map(_cells, lines[1:])}


@pytest.fixture
def boards(tmp_path) -> Path:
    """A copy of the repository's leaderboards folder."""
    return Path(shutil.copytree(REPO_BOARDS, tmp_path / "leaderboards"))


def _problems(root: Path, registry=None) -> list[str]:
    return [str(p) for p in check_root(root, registry or get_registry()).problems]


def _edit(path: Path, edit) -> None:
    """Rewrite a board CSV by hand (as a contributor's editor would): ``edit(rows)`` mutates the
    list of row dicts; the header comes from the first row's keys."""
    rows = pd.read_csv(path, dtype=str, keep_default_na=False).to_dict("records")
    edit(rows)
    pd.DataFrame(rows).to_csv(path, index=False, lineterminator="\n")


# -- the repository's boards and the paper ------------------------------------------------------
def test_repository_leaderboards_pass_check():
    result = CliRunner().invoke(main, ["leaderboard", "check", "--root", str(REPO_BOARDS)])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"leaderboards OK: \d+ boards, \d+ rows\n", result.output)


def test_paper_boards_render_back_to_the_papers_numbers(tmp_path):
    registry = get_registry()
    seed_paper_boards(tmp_path, registry)
    names = {s.display_name: s.name for s in registry.subsets("genimage")}
    for table in TABLES:
        rendered = _markdown_table((tmp_path / f"{table.board}.md").read_text())
        paper = _markdown_table(PAPER[table.number])
        others = {d for t in DETECTOR_TABLES if t.board == table.board for d in t.detectors}
        assert set(rendered) == set(METHODS.values()) | others
        rendered = {k: v for k, v in rendered.items() if k not in others}
        for method, cells in paper.items():
            row = rendered[METHODS[method]]
            assert row["Source"] == "paper [1]"
            for header, value in cells.items():
                if header in ("Method", "Avg"):
                    continue
                column = TABLE5_COLUMNS[header] if table.number == 5 else header
                assert row[column] == value, (table.number, method, header)
                assert names.get(header, header)  # every subset header is a display name
            # Avg is recomputed from the printed (rounded) cells: Tables 3 and 4 print exactly
            # that mean (rounded half up); Table 5 prints it cut to one decimal.
            if table.number == 5:
                assert abs(float(row["Avg"]) - float(cells["Avg"])) <= 0.1 + 1e-9
            else:
                assert row["Avg"] == cells["Avg"], (table.number, method)
        # sorted by Avg, best first
        averages = [float(r["Avg"]) for r in rendered.values()]
        assert averages == sorted(averages, reverse=True)
    # the repository's boards hold exactly the paper rows that seeding writes
    for table in TABLES:
        seeded = read_board(tmp_path / f"{table.board}.csv")[0].frame
        repo = read_board(REPO_BOARDS / f"{table.board}.csv")[0].frame
        assert repo[repo["source"] == "paper"].reset_index(drop=True).equals(seeded)


def test_npr_readme_table_is_transcribed_whole_and_rendered_without_an_avg(tmp_path):
    # their Mean (Acc. 90.1, A.P. 96.9) is the mean of the seven printed cells: no cell misread
    accs = [float(a) for a in NPR_GENIMAGE.cells["npr"]]
    aps = [float(line.split()[2]) for line in NPR_README_TABLE.strip().splitlines()[:-1]]
    assert (len(accs), f"{sum(accs) / 7:.1f}", f"{sum(aps) / 7:.1f}") == (7, "90.1", "96.9")
    assert NPR_GENIMAGE.avg == {"npr": "90.1"}
    assert set(NPR_GENIMAGE.columns) == set(SUBSETS) - {"sdv1.4"}  # the training subset
    registry = get_registry()
    seed_paper_boards(tmp_path, registry)
    names = {s.name: s.display_name for s in registry.subsets("genimage")}
    row = _markdown_table((tmp_path / "genimage-cross-generator.md").read_text())["npr"]
    assert row["Source"] == "paper [2]" and row["SD V1.4"] == "-" and row["Avg"] == "-"
    for subset, acc in zip(NPR_GENIMAGE.columns, NPR_GENIMAGE.cells["npr"], strict=True):
        assert row[names[subset]].replace("**", "") == acc
    text = (tmp_path / "genimage-cross-generator.md").read_text()
    assert f"[2] paper (2024-06-15): {NPR_REFERENCE}." in text


def test_paper_rows_publish_accuracy_only():
    rows = paper_rows(TABLES[0], get_registry())
    assert len(rows) == 56 and list(rows[0]) == list(COLUMN_NAMES)
    for row in rows:
        assert row["source"] == "paper" and row["weights"] == "trained" and not row["seed"]
        assert not any(row[k] for k in ("real_acc", "auc", "n_real", "gibench_version"))


def test_render_is_deterministic_and_ignores_row_order(boards):
    registry = get_registry()
    first = {p: p.read_bytes() for p in write_rendered(boards, registry)}
    again = {p: p.read_bytes() for p in write_rendered(boards, registry)}
    assert first == again
    _edit(boards / "genimage-matrix.csv", lambda rows: rows.reverse())
    assert {p: p.read_bytes() for p in write_rendered(boards, registry)} == first
    text = (boards / "genimage-matrix.md").read_text()  # no time stamp: only the paper's date
    assert set(re.findall(r"\d{4}-\d{2}-\d{2}", text)) == {"2023-06-14"}
    assert not re.search(r"\d{2}:\d{2}", text)


def test_a_matrix_run_renders_with_its_mean_over_training_subsets(boards):
    """A detector with rows for several training subsets gets a "(mean of N)" line, Table 4's
    layout, computed from its rows (and not stored in the CSV)."""
    cross = pd.read_csv(boards / "mini-cross-generator.csv", dtype=str, keep_default_na=False)
    one = cross[cross.detector == "cnnspot"]
    other = one.assign(train_subset="latent-b",
                       acc=[f"{float(a) - 10 * i:.6f}" for i, a in enumerate(one.acc)])
    pd.concat([one, other]).to_csv(boards / "mini-matrix.csv", index=False, lineterminator="\n")
    write_rendered(boards, get_registry(), ["mini-matrix"])
    text = (boards / "mini-matrix.md").read_text()
    table = _markdown_table(text)
    names = {s.name: s.display_name for s in get_registry().all("subset")}
    assert set(table) == {"cnnspot (Latent A)", "cnnspot (Latent B)", "cnnspot (mean of 2)"}
    for a, b in zip(one.itertuples(), other.itertuples(), strict=True):
        column = names[a.test_subset]
        mean = (float(a.acc) + float(b.acc)) / 2
        assert float(table["cnnspot (mean of 2)"][column]) == pytest.approx(mean, abs=0.051)
    cells = [float(table["cnnspot (mean of 2)"][names[s]]) for s in one.test_subset]
    assert float(table["cnnspot (mean of 2)"]["Avg"]) == pytest.approx(sum(cells) / 6, abs=0.051)
    assert "(mean of N)` is not in the CSV" in text
    assert "every row trained on" not in text  # each label names its training subset
    assert len(pd.read_csv(boards / "mini-matrix.csv")) == 12  # the CSV is untouched
    # a board with one training subset per detector has no such line
    assert "(mean of" not in (boards / "mini-cross-generator.md").read_text()


def test_a_control_subset_is_shown_but_not_averaged(boards):
    """mini-biased's placebo is a control: its column is on the board, outside Avg."""
    cross = pd.read_csv(boards / "mini-cross-generator.csv", dtype=str, keep_default_na=False)
    one = cross[cross.detector == "cnnspot"].assign(
        train_subset="biased-latent-a",
        test_subset=lambda f: "biased-" + f.test_subset)
    placebo = one.iloc[:1].assign(test_subset="biased-placebo", acc="99.000000")
    pd.concat([one, placebo]).to_csv(boards / "mini-biased-cross-generator.csv", index=False,
                                     lineterminator="\n")
    write_rendered(boards, get_registry(), ["mini-biased-cross-generator"])
    text = (boards / "mini-biased-cross-generator.md").read_text()
    row = _markdown_table(text)["cnnspot"]
    assert row["Placebo (biased)"].strip("*") == "99.0"
    six = [float(a) for a in one.acc]
    assert float(row["Avg"].strip("*")) == pytest.approx(sum(six) / 6, abs=0.051)
    assert "Placebo (biased) is a control, not a generator, and not part of Avg" in text
    assert "is a control" not in (boards / "mini-cross-generator.md").read_text()
    # one training subset for the whole board: the header names it (labels do not)
    assert "every row trained on Latent A (biased)." in text


def test_an_aligned_board_says_how_it_was_aligned(boards):
    from gibench.leaderboard.render import _alignment_of

    assert _alignment_of("mini-biased-cross-generator-aligned-size256-jpeg96") == (
        "size:256, jpeg:96")
    assert _alignment_of("mini-cross-generator") == ""
    cross = pd.read_csv(boards / "mini-cross-generator.csv", dtype=str, keep_default_na=False)
    cross[cross.detector == "cnnspot"].to_csv(boards / "mini-cross-generator-aligned-jpeg90.csv",
                                              index=False, lineterminator="\n")
    write_rendered(boards, get_registry(), ["mini-cross-generator-aligned-jpeg90"])
    text = (boards / "mini-cross-generator-aligned-jpeg90.md").read_text()
    assert "went through the same `--align` (jpeg:90)" in text
    assert "`--align`" not in (boards / "mini-cross-generator.md").read_text()


# -- check refuses each kind of bad row ---------------------------------------------------------
def _set(column: str, value: str, index: int = 0):
    def edit(rows):
        rows[index][column] = value
    return edit


def _reproduced(rows):
    rows[0].update(source="reproduced", gibench_version="", seed="", n_real="", n_fake="")


BAD_ROWS = {
    "unknown subset": (_set("test_subset", "sdv9.9"), "unknown subset 'sdv9.9'"),
    "subset alias": (_set("test_subset", "SD14"), "write the canonical name 'sdv1.4'"),
    "foreign subset": (_set("test_subset", "latent-a"), "belongs to dataset 'mini'"),
    "unknown degradation": (_set("degradation", "sepia:3"), "unknown degradation 'sepia'"),
    "bad degradation": (_set("degradation", "jpeg:065"), "write 'jpeg:65'"),
    "out of range": (_set("acc", "100.5"), "acc '100.5' is out of range"),
    "negative": (_set("acc", "-1"), "acc '-1' is out of range"),
    "non-numeric": (_set("acc", "high"), "acc 'high' is not a number"),
    "nan": (_set("acc", "nan"), "acc 'nan' is not a number"),
    "empty acc": (_set("acc", ""), "acc is empty"),
    "paper with auc": (_set("auc", "99"), "auc '99' must be empty in a paper row"),
    "bad source": (_set("source", "rumour"), "source 'rumour' is not one of"),
    "bad date": (_set("date", "2023-02-30"), "is not an ISO date"),
    "duplicate": (lambda rows: rows.append(dict(rows[3])), "duplicate of line 5"),
    "pipe": (_set("submitter", "a | b"), "submitter 'a | b' contains '|'"),
    "newline": (_set("reference", "Table 3\n# Owned"), "reference 'Table 3\\n# Owned' contains "
                                                       "the control"),
    "script": (_set("submitter", "<script>alert(1)</script>"), "contains '<'"),
    "entity": (_set("reference", "a &lt;b&gt;"), "HTML character reference '&lt;'"),
    "markup in name": (_set("detector", "<img src=x>"), "detector '<img src=x>' contains '<'"),
    "bidi override": (_set("submitter", "abc\u202edef"), "U+202E"),
    "missing provenance": (_reproduced, "gibench_version is empty (a reproduced row needs it"),
    "missing seed": (_reproduced, "seed is empty: a reproduced row trained by its run needs"),
    "missing counts": (_reproduced, "n_real is empty"),
}


@pytest.mark.parametrize("kind", list(BAD_ROWS))
def test_check_refuses_a_bad_row(boards, kind):
    edit, message = BAD_ROWS[kind]
    path = boards / "genimage-cross-generator.csv"
    _edit(path, edit)
    problems = _problems(boards)
    expected = [p for p in problems if message in p]
    assert expected, problems
    assert all(p.startswith(f"{path}:") for p in expected)
    if kind != "duplicate":
        assert expected[0].startswith(f"{path}:2: ")


def test_check_refuses_an_unknown_detector_and_names_the_plugin_to_install(boards):
    _edit(boards / "genimage-cross-generator.csv",
          lambda rows: rows[0].update(detector="nonet", plugin="gibench-plugin-nonet"))
    problems = _problems(boards)
    assert any(":2: detector 'nonet' is not provided by any installed plugin" in p
               and "pip install gibench-plugin-nonet" in p for p in problems), problems


def test_check_names_the_distribution_when_the_plugin_is_not_installed(boards):
    registry = build_registry(disabled={"resnet50"})
    problems = _problems(boards, registry)
    assert any("detector 'resnet50' is not provided by any installed plugin" in p
               and "pip install gibench-baselines" in p for p in problems), problems


@pytest.mark.parametrize("header", [COLUMN_NAMES[:-1], (*COLUMN_NAMES, "notes"),
                                    tuple(reversed(COLUMN_NAMES))])
def test_check_refuses_a_wrong_header(boards, header):
    path = boards / "mini-matrix.csv"
    path.write_text(",".join(header) + "\n")
    problems = _problems(boards)
    assert any(p.startswith(f"{path}:1: wrong header") for p in problems), problems


def test_check_refuses_a_row_with_missing_fields(boards):
    path = boards / "genimage-matrix.csv"
    text = path.read_text()
    path.write_text(text + "resnet50,gibench-baselines\n")
    line = text.count("\n") + 1
    assert f"{path}:{line}: has 2 fields, the header {len(COLUMN_NAMES)}" in _problems(boards)


def test_check_refuses_hand_edited_markdown_and_a_stale_index(boards):
    md = boards / "genimage-degraded.md"
    md.write_text(md.read_text().replace("| 68.8 |", "| 92.2 |"))
    (boards / "README.md").write_text("# Leaderboards\n")
    (boards / "orphan.md").write_text("old\n")
    result = CliRunner().invoke(main, ["leaderboard", "check", "--root", str(boards)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(ln.startswith(f"{md}:") and "is not what `gibench leaderboard render` writes"
               in ln and "92.2" in ln for ln in lines), lines
    assert any(ln.startswith(f"{boards / 'README.md'}:1:") for ln in lines), lines
    assert any(ln.startswith(f"{boards / 'orphan.md'}:1: has no orphan.csv") for ln in lines)
    assert re.fullmatch(r"3 problem\(s\) in \d+ boards \(\d+ rows\)", lines[-1])


# -- add -----------------------------------------------------------------------------------------
def _toy_run(toy_root: Path, out: Path) -> Path:
    gibench.run("tinynet", "cross-generator", data_root=toy_root, dataset="toy",
                train_subset="toy-a", device="cpu", workers=0, progress=False, out=out,
                epochs=1)
    return out


def _add(run_dir: Path, boards: Path, **kw):
    opts = dict(source="new", submitter=SUBMITTER, board="toy-cross-generator")
    return add_run(run_dir, boards, **{**opts, **kw})


def test_add_appends_refuses_duplicates_and_replaces(toy_plugin, toy_root, boards, tmp_path):
    run_dir = _toy_run(toy_root, tmp_path / "run")
    with pytest.raises(GibenchError, match="no board toy-cross-generator"):
        _add(run_dir, boards, board=None)
    result = _add(run_dir, boards)
    assert (result.added, result.replaced) == (2, 0)
    board, problems = read_board(boards / "toy-cross-generator.csv")
    assert not problems
    row = board.rows()[0]
    record = json.loads((run_dir / "run.json").read_text())
    assert row["plugin"] == "gibench-toy" and row["plugin_version"] == "1.2.3"
    assert (row["weights"], row["seed"], row["train_subset"]) == ("trained", "0", "toy-a")
    assert row["gibench_version"] == gibench.__version__
    assert row["date"] == record["created"][:10]
    assert record["git"] in row["reference"] and row["submitter"] == SUBMITTER
    assert "toy-cross-generator" in (boards / "README.md").read_text()
    assert check_root(boards, get_registry()).ok, _problems(boards)

    with pytest.raises(GibenchError, match="already holds 2 of these results.*pass replace "):
        _add(run_dir, boards)
    again = _add(run_dir, boards, replace=True, submitter="Someone Else")
    assert (again.added, again.replaced) == (2, 2)
    frame = read_board(boards / "toy-cross-generator.csv")[0].frame
    assert len(frame) == 2
    assert set(frame["submitter"]) == {"Someone Else"}
    assert check_root(boards, get_registry()).ok

    # through the command line, with a link as reference
    result = CliRunner().invoke(main, [
        "leaderboard", "add", str(run_dir), "--root", str(boards), "--board",
        "toy-cross-generator", "--source", "new", "--submitter", SUBMITTER, "--reference",
        "https://example.org/runs/1", "--replace"])
    assert result.exit_code == 0, result.output
    assert "<https://example.org/runs/1>" in (boards / "toy-cross-generator.md").read_text()


def test_add_refuses_runs_it_cannot_trace(toy_plugin, toy_root, boards, tmp_path):
    run_dir = _toy_run(toy_root, tmp_path / "run")
    record = json.loads((run_dir / "run.json").read_text())
    results = (run_dir / "results.csv").read_text()

    def refused(match: str, **kw) -> None:
        with pytest.raises(GibenchError, match=match):
            _add(run_dir, boards, **kw)
        assert not (boards / "toy-cross-generator.csv").exists()

    (run_dir / "run.json").write_text(json.dumps({**record, "status": "failed"}))
    refused("run is 'failed', not 'complete'")
    (run_dir / "run.json").write_text(json.dumps({**record, "git": None}))
    refused("git is missing")
    (run_dir / "run.json").write_text(json.dumps(record))

    (run_dir / "results.csv").write_text(results.replace("tinynet,", "resnet50,", 1))
    refused(r"results.csv:2: detector 'resnet50' is not the run's")
    lines = results.splitlines()
    fields = lines[2].split(",")
    fields[lines[0].split(",").index("acc")] = "99.9"
    (run_dir / "results.csv").write_text("\n".join([*lines[:2], ",".join(fields)]) + "\n")
    refused(r"results.csv:3: acc '99.9' does not match the per-image scores")
    (run_dir / "results.csv").write_text(results)

    refused("submitter='<b>me</b>' contains '<'", submitter="<b>me</b>")
    refused("reference='a|b' contains '|'", reference="a|b")
    refused("source must be one of", source="paper")
    refused("no paper row to reproduce", source="reproduced")
    refused("holds 'genimage' results", board="genimage-cross-generator")
    assert _add(run_dir, boards).added == 2  # the untouched run goes in


# -- no text can corrupt a table ------------------------------------------------------------------
_TRICKY = st.sampled_from(list("|<>`[]\\&;#*_~!\n\r\t\"',\x00\u2028\u202e\u200b ") +
                          ["&lt;", "<script>", "javascript:", "https://example.org/a_b?c=1&d",
                           "NA", "nan", "-", "**x**", "[x](y)"])
_TEXT = st.lists(st.one_of(_TRICKY, st.text(max_size=4)), max_size=8).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reference=_TEXT, submitter=_TEXT)
def test_free_text_round_trips_or_is_refused(reference, submitter):
    registry = get_registry()
    rows = paper_rows(TABLES[0], registry)[::8][:2]  # two detectors, one cell each
    for row in rows:
        row.update(reference=reference, submitter=submitter)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / "genimage-cross-generator.csv"
        try:
            write_board(path, pd.DataFrame(rows))
        except GibenchError as exc:  # the writer refuses what check would refuse
            assert re.search(r"row \d, (reference|submitter) ", str(exc)), exc
            return
        board, _ = read_board(path)
        if board is not None:
            write_rendered(root, registry)
        report = check_root(root, registry)
        if not report.ok:  # refused, and for the free text, nothing else
            assert all(re.search(r"(reference|submitter|is not valid CSV)", str(p))
                       for p in report.problems), report.problems
            return
        assert board is not None  # and the text comes back unchanged (rows are sorted)
        assert board.rows() == sorted(rows, key=lambda r: r["detector"])
        markdown = (root / "genimage-cross-generator.md").read_text()
    table = [ln for ln in markdown.splitlines() if ln.startswith("|")]
    assert len(table) == 4  # header, rule, two rows: no line was injected
    assert len({len(re.split(r"(?<!\\)\|", ln)) for ln in table}) == 1  # same cells each
    prose = markdown.split("Provenance:")[1]
    assert not re.search(r"<(?!https://)", prose) and "\n\n-" not in prose.strip()


def test_a_degraded_run_is_laid_out_like_table5(toy_plugin, toy_root, boards, tmp_path):
    gibench.run("tinynet", "cross-generator", data_root=toy_root, dataset="toy",
                train_subset="toy-a", device="cpu", workers=0, progress=False,
                out=tmp_path / "run", epochs=1, degradations=["blur:3", "jpeg:65", "jpeg:30"])
    assert _add(tmp_path / "run", boards, board="toy-degraded").added == 8
    table = _markdown_table((boards / "toy-degraded.md").read_text())
    assert set(table) == {"tinynet on Toy A", "tinynet on Toy B"}
    row = table["tinynet on Toy A"]
    assert list(row)[2:] == ["clean", "jpeg 65", "jpeg 30", "blur 3", "Avg"]
    # Avg is over the degraded settings only, clean left out
    frame = read_board(boards / "toy-degraded.csv")[0].frame
    part = frame[(frame["test_subset"] == "toy-a") & (frame["degradation"] != "none")]
    assert float(row["Avg"]) == pytest.approx(part["acc"].astype(float).mean(), abs=0.05)
    assert check_root(boards, get_registry()).ok


def test_add_records_the_sha256_of_given_weights(toy_plugin, toy_root, boards, tmp_path):
    weights = _toy_run(toy_root, tmp_path / "run") / "train" / "toy-a" / "model.pt"
    gibench.evaluate("tinynet", weights, data_root=toy_root, dataset="toy", device="cpu",
                     workers=0, progress=False, out=tmp_path / "eval")
    with pytest.raises(GibenchError, match="train_subset=NAME"):
        _add(tmp_path / "eval", boards)
    _add(tmp_path / "eval", boards, train_subset="Toy A", source="new")
    row = read_board(boards / "toy-cross-generator.csv")[0].rows()[0]
    record = json.loads((tmp_path / "eval" / "run.json").read_text())
    assert (row["weights"], row["seed"]) == (record["weights"]["sha256"], "")
    assert row["train_subset"] == "toy-a"
    assert check_root(boards, get_registry()).ok
