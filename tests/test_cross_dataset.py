"""Runs over several datasets at once and the ``cross-dataset`` suite: a toy training dataset
(the conftest's ``toy``) beside a ForenSynths-shaped tree and a two-root Synthbuster tree, all
read in one run; their rows, scores, table, boards and the errors of bad roots."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import gibench
from gibench.cli import main
from gibench.errors import GibenchError
from gibench.registry import get_registry
from gibench.rundir import MULTI_SCORE_COLUMNS, SCORE_COLUMNS, RunRecord
from tests.test_datasets_plugin import (
    RAISE_TREE,
    expected_from,
    forensynths_tree,
    install_datasets_plugin,
    synthbuster_expected,
    synthbuster_tree,
    write_tree,
)

OPTS = dict(device="cpu", workers=0, progress=False, epochs=1, seed=0)


@pytest.fixture
def datasets_plugin(toy_plugin, monkeypatch):
    """gibench-datasets installed beside the toy plugin (whose ``tinynet`` trains)."""
    install_datasets_plugin(toy_plugin, monkeypatch)
    return get_registry()


@pytest.fixture
def roots(datasets_plugin, toy_root, tmp_path) -> dict[str, Path]:
    """The toy dataset, ForenSynths and Synthbuster (with its RAISE root), by name."""
    sb = write_tree(tmp_path / "synthbuster", synthbuster_tree())
    (sb / "prompts.csv").write_text("image name (matching Raise-1k),Prompt\n")
    return {"toy": toy_root,
            "forensynths": write_tree(tmp_path / "fs", forensynths_tree()),
            "synthbuster": sb,
            "synthbuster.raise": write_tree(tmp_path / "raise", RAISE_TREE, seed=1)}


def test_cross_dataset_reads_every_dataset_in_one_run(roots, tmp_path, one_thread):
    out = tmp_path / "run"
    results = gibench.run("tinynet", "cross-dataset", data_root=roots, out=out, **OPTS)
    registry = get_registry()
    # the one dataset that can train is the training dataset; every subset of every dataset
    # is tested, on its own dataset's evaluation split
    counts = {name: (real, fake) for name, (real, fake) in expected_from(
        forensynths_tree()).items()}
    assert list(dict.fromkeys(results["dataset"])) == ["toy", "forensynths", "synthbuster"]
    assert set(results["train_subset"]) == {"toy-a"}
    per = results.groupby("dataset")["test_subset"].apply(list).to_dict()
    assert per["toy"] == ["toy-a", "toy-b"]
    assert per["forensynths"] == [s.name for s in registry.subsets("forensynths")]
    assert per["synthbuster"] == [s.name for s in registry.subsets("synthbuster")]
    got = {(d, t): (r, f) for d, t, r, f in results[["dataset", "test_subset", "n_real",
                                                       "n_fake"]].itertuples(index=False)}
    for name, expected in counts.items():
        assert got["forensynths", name] == expected, name
    for name, expected in synthbuster_expected().items():
        assert got["synthbuster", name] == expected, name
    assert got["toy", "toy-b"] == (24, 24)
    assert set(results["eval_transform"]) == {"authors"}
    assert set(results["eval_precision"]) == {"fp32"}
    # scores: a dataset column, every path prefixed by its dataset; none ambiguous
    scores = pd.read_csv(out / "scores.csv", keep_default_na=False)
    assert list(scores.columns) == MULTI_SCORE_COLUMNS
    assert all(p.startswith(f"{d}/") for d, p in zip(scores["dataset"], scores["path"],
                                                     strict=True))
    assert not scores.duplicated(["dataset", "test_subset", "path"]).any()
    assert {"forensynths/progan/airplane/0_real/0_000.png",
            "synthbuster/@raise/RAISE_1k/part2/more/0_000.png",
            "toy/toy_a/val/ai/ai_000.png"} <= set(scores["path"])
    # forensynths and synthbuster (and toy) are told apart by the dataset column
    assert len(scores) == int((results["n_real"] + results["n_fake"]).sum())
    record = RunRecord.read(out)
    assert record.resolved["dataset"] == "toy"
    assert record.resolved["datasets"] == {"toy": str(roots["toy"]),
                                           "forensynths": str(roots["forensynths"]),
                                           "synthbuster": str(roots["synthbuster"])}
    assert record.resolved["extra_roots"] == {"synthbuster":
                                              {"raise": str(roots["synthbuster.raise"])}}
    assert record.resolved["test_subsets"][:3] == ["toy-a", "toy-b", "forensynths/progan"]
    # the table: one block per dataset with its mean, then the means side by side
    table = (out / "results.md").read_text()
    for dataset in ("toy", "forensynths", "synthbuster"):
        assert f"### {dataset}\n" in table
    means = results.groupby("dataset", sort=False)["acc"].mean()
    summary = table.split("### Mean per dataset")[1].split("###")[0]
    row = next(ln for ln in summary.splitlines() if ln.startswith("| tinynet"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:] == [f"{means[d]:.1f}" for d in means.index] + [
        f"{results['acc'].mean():.1f}"]


def test_a_single_dataset_run_writes_what_it_always_wrote(roots, tmp_path, one_thread):
    """The toy part of a run of several datasets is the toy run's, and a run of one dataset
    keeps the scores.csv of before (its columns, paths relative to the data root)."""
    alone = gibench.run("tinynet", "cross-generator", data_root=roots["toy"], dataset="toy",
                        out=tmp_path / "alone", **OPTS)
    several = gibench.run("tinynet", "cross-generator", out=tmp_path / "several", **OPTS,
                          data_root={"toy": roots["toy"], "forensynths": roots["forensynths"]})
    one = pd.read_csv(tmp_path / "alone" / "scores.csv", keep_default_na=False)
    assert list(one.columns) == SCORE_COLUMNS
    assert one["path"].iloc[0] == "toy_a/val/ai/ai_000.png"  # relative to the data root
    assert "datasets" not in RunRecord.read(tmp_path / "alone").resolved
    both = pd.read_csv(tmp_path / "several" / "scores.csv", keep_default_na=False)
    toy = both[both["dataset"] == "toy"].drop(columns="dataset").reset_index(drop=True)
    assert toy["path"].str.startswith("toy/").all()
    toy["path"] = [p.removeprefix("toy/") for p in toy["path"]]
    pd.testing.assert_frame_equal(toy, one)
    assert set(several["dataset"]) == {"toy", "forensynths"}
    table = (tmp_path / "several" / "results.md").read_text()  # columns told apart
    assert "Toy A (toy)" in table and "BigGAN (forensynths)" in table
    pd.testing.assert_frame_equal(several[several["dataset"] == "toy"].reset_index(drop=True),
                                  alone)


def test_mini_trains_and_a_forensynths_tree_is_tested(datasets_plugin, tmp_path, one_thread):
    fs = write_tree(tmp_path / "fs", forensynths_tree())
    out = tmp_path / "run"
    results = gibench.run("tinynet", "cross-dataset", dataset="mini",
                          data_root={"forensynths": fs}, out=out, input_size=16,
                          test_subsets=["latent-b", "forensynths/biggan", "forensynths/progan"],
                          **OPTS)
    assert list(results["dataset"]) == ["mini", "forensynths", "forensynths"]
    assert list(results["test_subset"]) == ["latent-b", "biggan", "progan"]
    assert set(results["train_subset"]) == {"latent-a"}
    record = RunRecord.read(out)
    assert record.resolved["dataset"] == "mini" and set(record.resolved["datasets"]) == {
        "mini", "forensynths"}
    assert expected_from(forensynths_tree())["progan"] == tuple(
        results.loc[results["test_subset"] == "progan", ["n_real", "n_fake"]].iloc[0])


def test_a_cross_dataset_run_goes_on_each_datasets_board(roots, tmp_path, one_thread):
    from gibench.leaderboard import add_run
    from gibench.leaderboard.board import read_board
    from gibench.leaderboard.check import check_root

    out = tmp_path / "run"
    gibench.run("tinynet", "cross-dataset", out=out, **OPTS,
                data_root={"toy": roots["toy"], "forensynths": roots["forensynths"]})
    boards = tmp_path / "boards"
    boards.mkdir()
    with pytest.raises(GibenchError, match="leave out board"):
        add_run(out, boards, source="new", submitter="Jane", board="toy-cross-dataset",
                allow_unpublished_plugin=True)
    result = add_run(out, boards, source="new", submitter="Jane",
                     allow_unpublished_plugin=True)
    assert [p.board.name for p in result.parts] == ["toy-cross-dataset.csv",
                                                    "forensynths-cross-dataset.csv"]
    assert result.added == 2 + 13
    toy, problems = read_board(boards / "toy-cross-dataset.csv")
    assert not problems and {r["train_subset"] for r in toy.rows()} == {"toy-a"}
    fs, problems = read_board(boards / "forensynths-cross-dataset.csv")
    assert not problems and {r["train_subset"] for r in fs.rows()} == {"toy/toy-a"}
    assert {r["test_subset"] for r in fs.rows()} == set(expected_from(forensynths_tree()))
    assert "Toy A of toy" in (boards / "forensynths-cross-dataset.md").read_text()
    registry = get_registry()
    assert check_root(boards, registry).ok, check_root(boards, registry).problems
    # the check resolves names within the board's dataset: a plain training subset of
    # another dataset is refused, and so is one qualified with the board's own dataset
    text = (boards / "forensynths-cross-dataset.csv").read_text()
    (boards / "forensynths-cross-dataset.csv").write_text(text.replace("toy/toy-a", "toy-a"))
    problems = [str(p) for p in check_root(boards, registry).problems]
    assert any("belongs to dataset 'toy', not 'forensynths'" in p for p in problems), problems
    (boards / "forensynths-cross-dataset.csv").write_text(text.replace(
        "toy/toy-a", "forensynths/biggan"))
    problems = [str(p) for p in check_root(boards, registry).problems]
    assert any("write it 'biggan'" in p for p in problems), problems


def test_bad_roots_of_several_datasets_fail_before_any_work(roots, tmp_path):
    def run(**kw):
        return gibench.run("tinynet", "cross-dataset", out=tmp_path / "r", **{**OPTS, **kw})

    with pytest.raises(GibenchError, match="'nope' names no dataset"):
        run(data_root={"toy": roots["toy"], "nope": roots["forensynths"]})
    with pytest.raises(GibenchError, match="dataset 'forensynths' given twice"):
        # the unnamed root is recognised as forensynths, which is also named
        run(data_root={"": roots["forensynths"], "forensynths": roots["forensynths"]})
    with pytest.raises(GibenchError, match=r"belongs to dataset 'synthbuster'.*"
                                           r"data_root=synthbuster=PATH"):
        run(data_root={"toy": roots["toy"], "forensynths": roots["forensynths"]},
            test_subsets=["synthbuster/dalle2"])
    with pytest.raises(GibenchError, match="lives on disk"):  # its training data has no root
        run(data_root={"toy": roots["toy"]}, train_subset="wildrf/trainval")
    with pytest.raises(GibenchError, match="extra roots of dataset 'synthbuster' but not"):
        run(data_root={"toy": roots["toy"],
                       "synthbuster.raise": roots["synthbuster.raise"]})
    assert not (tmp_path / "r").exists()


def test_several_trainable_datasets_need_a_choice(datasets_plugin, toy_root, tmp_path):
    wildrf = write_tree(tmp_path / "wildrf", {"train/0_real": ("", 0, 1),
                                              "train/1_fake": ("", 1, 1),
                                              "test/reddit/0_real": ("", 0, 1),
                                              "test/reddit/1_fake": ("", 1, 1)})
    with pytest.raises(GibenchError, match=r"several datasets that can train \(toy, wildrf\)"):
        gibench.run("tinynet", "cross-dataset", data_root={"toy": toy_root, "wildrf": wildrf},
                    out=tmp_path / "r", **OPTS)


def test_data_check_and_audit_look_at_each_dataset(roots, tmp_path):
    args = [f"--data-root={k}={v}" for k, v in roots.items() if k != "toy"]
    result = CliRunner().invoke(main, ["data", "check", *args])
    assert result.exit_code == 0, result.output
    assert "== dataset forensynths:" in result.output
    assert "== dataset synthbuster:" in result.output
    assert result.output.index("forensynths") < result.output.index("== dataset synthbuster")
    json_path = tmp_path / "audit.json"
    result = CliRunner().invoke(main, ["data", "audit", *args, "--json", str(json_path)])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "audit-synthbuster.json").read_text())
    assert json.loads((tmp_path / "audit-forensynths.json").read_text())
    result = CliRunner().invoke(main, ["data", "check", "--data-root",
                                       f"synthbuster.raise={roots['synthbuster.raise']}"])
    assert result.exit_code != 0 and "not its own root" in result.output
