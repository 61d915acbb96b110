"""The engine end to end on the toy plugin: train, select on held-out, evaluate, write the run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

import gibench
from gibench.errors import GibenchError
from gibench.metrics import compute_metrics
from gibench.registry import UnknownNameError
from gibench.rundir import RESULT_COLUMNS


def _run(toy_root, tmp_path, **kw):
    opts = dict(data_root=toy_root, dataset="toy", train_subset="toy-a", device="cpu",
                workers=0, progress=False, out=tmp_path / "run")
    opts.update(kw)
    return gibench.run("tinynet", "cross-generator", **opts)


def test_cross_generator_run_writes_a_complete_run_directory(toy_plugin, toy_root, tmp_path):
    results = _run(toy_root, tmp_path)
    run_dir = tmp_path / "run"
    assert list(results.columns) == RESULT_COLUMNS
    assert list(results["test_subset"]) == ["toy-a", "toy-b"]
    assert (results["n_real"] == 24).all() and (results["n_fake"] == 24).all()
    # a strong checkerboard is learnt: far above chance on both toy subsets
    assert (results["acc"] > 80).all(), results

    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "complete"
    assert record["resolved"]["train_subset"] == "toy-a"
    assert record["resolved"]["dataset"] == "toy"
    assert record["seed"] == 0
    assert record["versions"]["plugins"]["toy"] == {"distribution": "gibench-toy",
                                                    "version": "1.2.3", "status": "loaded",
                                                    "origin": "index"}
    assert record["versions"]["torch"] == torch.__version__
    training = record["training"]["toy-a"]
    assert training["holdout"]["n_train"] + training["holdout"]["n_holdout"] == 48
    assert training["best_epoch"] in range(1, 9) and len(training["history"]) == 8
    ckpt = run_dir / training["checkpoint"]
    import hashlib
    assert hashlib.sha256(ckpt.read_bytes()).hexdigest() == training["sha256"]
    assert record["throughput"]["eval_images"] == 96

    # results.csv is what the API returned; the table names the display names
    assert pd.read_csv(run_dir / "results.csv")["acc"].round(6).tolist() == \
        results["acc"].round(6).tolist()
    md = (run_dir / "results.md").read_text()
    assert "Toy A" in md and "Avg" in md
    # the table's notes are about this run's subsets: mini-biased's placebo, a control of
    # another dataset, is not in it (it was named by every run's "Avg leaves out" note)
    assert "Placebo" not in md and "leaves out" not in md


def test_metrics_can_be_recomputed_from_scores_csv(toy_plugin, toy_root, tmp_path):
    results = _run(toy_root, tmp_path)
    scores = pd.read_csv(tmp_path / "run" / "scores.csv")
    assert len(scores) == 96
    for _, row in results.iterrows():
        part = scores[scores["test_subset"] == row["test_subset"]]
        again = compute_metrics(part["label"].to_numpy(), part["score"].to_numpy())
        for key in ("acc", "real_acc", "fake_acc", "auc", "ap"):
            assert again[key] == pytest.approx(row[key], abs=1e-9)
    # paths are relative to the data root and point at real files, fakes labelled 1
    first = scores.iloc[0]
    assert (toy_root / first["path"]).is_file()
    assert set(scores.loc[scores["path"].str.contains("/ai/"), "label"]) == {1}


def test_same_seed_same_results(toy_plugin, toy_root, tmp_path):
    a = _run(toy_root, tmp_path, out=tmp_path / "a")
    b = _run(toy_root, tmp_path, out=tmp_path / "b")
    sa = pd.read_csv(tmp_path / "a" / "scores.csv")
    sb = pd.read_csv(tmp_path / "b" / "scores.csv")
    np.testing.assert_allclose(sa["logit"], sb["logit"], rtol=1e-5, atol=1e-6)
    assert a["acc"].tolist() == b["acc"].tolist()


def test_eval_loads_saved_weights_and_reproduces_scores(toy_plugin, toy_root, tmp_path):
    _run(toy_root, tmp_path)
    weights = tmp_path / "run" / "train" / "toy-a" / "model.pt"
    evaluated = gibench.evaluate("tinynet", weights, data_root=toy_root, dataset="toy",
                                 device="cpu", workers=0, progress=False,
                                 out=tmp_path / "eval")
    trained = pd.read_csv(tmp_path / "run" / "scores.csv")
    again = pd.read_csv(tmp_path / "eval" / "scores.csv")
    np.testing.assert_allclose(trained["logit"], again["logit"], rtol=1e-5, atol=1e-5)
    assert (evaluated["train_subset"] == "(weights)").all()
    record = json.loads((tmp_path / "eval" / "run.json").read_text())
    assert record["weights"]["sha256"] and record["training"] == {}


def test_skip_bad_images_counts_them(toy_plugin, toy_root, tmp_path):
    bad = toy_root / "toy_a" / "val" / "ai" / "ai_000.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)  # truncated PNG
    with pytest.raises(GibenchError, match="ai_000.png"):
        _run(toy_root, tmp_path, test_subsets=["toy-a"], out=tmp_path / "strict")
    results = _run(toy_root, tmp_path, test_subsets=["toy-a"], skip_bad_images=True,
                   out=tmp_path / "lenient")
    assert results.loc[0, "n_skipped"] == 1 and results.loc[0, "n_fake"] == 23
    record = json.loads((tmp_path / "lenient" / "run.json").read_text())
    assert record["bad_images"]["toy-a/val"]["count"] == 1
    assert record["bad_images"]["toy-a/val"]["files"][0]["path"].endswith("ai_000.png")
    strict = json.loads((tmp_path / "strict" / "run.json").read_text())
    assert strict["status"] == "failed"


def test_bad_configuration_fails_before_any_work(toy_plugin, toy_root, tmp_path):
    with pytest.raises(UnknownNameError):
        _run(toy_root, tmp_path, train_subset="toy-c")
    with pytest.raises(GibenchError, match="batch_size must be at least 1"):
        _run(toy_root, tmp_path, batch_size=0, out=tmp_path / "r0")
    with pytest.raises(GibenchError, match="pass weights=PATH"):
        gibench.run("tinynet", "eval", data_root=toy_root, dataset="toy", progress=False,
                    out=tmp_path / "r1")
    with pytest.raises(GibenchError, match="belongs to datasets? .*'genimage'.* this run is on "
                                           "'toy'"):
        _run(toy_root, tmp_path, train_subset="sdv1.4", out=tmp_path / "r2")
    with pytest.raises(GibenchError, match="belongs to dataset 'genimage'"):
        _run(toy_root, tmp_path, train_subset="genimage/sdv1.4", out=tmp_path / "r2")
    assert not (tmp_path / "r1" / "run.json").exists()


def test_missing_subset_folder_says_what_was_expected(toy_plugin, toy_root, tmp_path):
    import shutil

    shutil.rmtree(toy_root / "nested")
    with pytest.raises(GibenchError) as err:
        _run(toy_root, tmp_path)
    message = str(err.value)
    assert "toy_b" in message and "toy_a" in message  # tried candidates and what was found


def test_weights_that_do_not_fit_are_refused_naming_keys(toy_plugin, toy_root, tmp_path):
    path = tmp_path / "wrong.pt"
    torch.save({"model": {"conv.weight": torch.zeros(1)}}, path)
    with pytest.raises(GibenchError) as err:
        gibench.evaluate("tinynet", path, data_root=toy_root, dataset="toy", progress=False,
                         out=tmp_path / "e")
    assert "missing keys" in str(err.value) and "unexpected keys: conv.weight" in str(err.value)


def test_mini_budget_scales_only_fine_tuning_learning_rates():
    from dataclasses import replace

    from gibench.builtin.mini import MINI_SCRATCH_LR_SCALE
    from gibench.registry import get_registry

    registry = get_registry()
    cnnspot = registry.detector("cnnspot")
    scratch_recipe = replace(cnnspot, recipe=replace(cnnspot.recipe, from_pretrained=False))

    def budget_for(dataset, spec, pretrained):
        return registry.dataset(dataset).budget_for(spec, pretrained)

    mini = budget_for("mini", cnnspot, pretrained=False)
    assert (mini.input_size, mini.load_size, mini.lr_scale) == (64, 72, MINI_SCRATCH_LR_SCALE)
    assert mini.epochs == 3 and "lr × 3" in mini.note
    assert budget_for("mini", cnnspot, pretrained=True).lr_scale == 1.0
    assert budget_for("mini", scratch_recipe, pretrained=False).lr_scale == 1.0
    paper = budget_for("genimage", cnnspot, pretrained=False)
    assert (paper.input_size, paper.load_size, paper.epochs, paper.lr_scale) == (
        224, 256, cnnspot.recipe.epochs, 1.0)


def test_warmup_then_cosine_like_timm():
    from gibench.engine.train import scheduled_lr
    from gibench.specs import Recipe

    recipe = Recipe(optimizer="sgd", lr=0.05, epochs=200, batch_size=64, schedule="cosine",
                    warmup_epochs=3, warmup_lr=1e-4)
    lrs = [scheduled_lr(recipe, 0.05, s, 1000, 15) for s in range(1000)]
    assert lrs[0] == pytest.approx(1e-4)
    assert all(a < b for a, b in zip(lrs[:15], lrs[1:16], strict=True))  # rising warm-up
    assert lrs[15] == pytest.approx(0.5 * 0.05 * (1 + np.cos(np.pi * 15 / 1000)))
    assert lrs[999] < 1e-6 and max(lrs) <= 0.05
    constant = Recipe(optimizer="adam", lr=1e-3, epochs=10, batch_size=8,
                      warmup_epochs=1, warmup_lr=0.0)
    assert scheduled_lr(constant, 1e-3, 0, 100, 10) == 0.0
    assert scheduled_lr(constant, 1e-3, 10, 100, 10) == 1e-3
    assert scheduled_lr(constant, 1e-3, 50, 100, 10) is None  # left to the plateau logic


def test_step_schedule_multiplies_the_lr_after_every_step_epochs():
    from gibench.engine.train import epoch_end_lr
    from gibench.specs import Recipe

    recipe = Recipe(optimizer="adam", lr=2e-4, epochs=30, batch_size=32, schedule="step",
                    step_epochs=10, step_gamma=0.9)
    lr, lrs = 2e-4, []
    for epoch in range(1, 31):  # the lr each epoch trains with, then the end-of-epoch update
        lrs.append(lr)
        lr = epoch_end_lr(recipe, lr, epoch)
    assert lrs[:10] == [2e-4] * 10
    assert lrs[10:20] == pytest.approx([1.8e-4] * 10) and lrs[20] == pytest.approx(1.62e-4)
    plain = Recipe(optimizer="adam", lr=1e-3, epochs=5, batch_size=8)
    assert epoch_end_lr(plain, 1e-3, 10) == 1e-3  # other schedules: untouched here
    with pytest.raises(GibenchError, match="step_epochs"):
        epoch_end_lr(Recipe(optimizer="adam", lr=1e-3, epochs=5, batch_size=8,
                            schedule="step"), 1e-3, 1)


def test_git_state_names_the_commit_and_flags_uncommitted_changes(tmp_path, monkeypatch):
    import subprocess

    import gibench.engine.run as run_module

    repo = tmp_path / "repo"
    package = repo / "gibench"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("x = 1\n")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "x"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env={**env, "PATH": "/usr/bin:/bin"})
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                          text=True, check=True).stdout.strip()
    monkeypatch.setattr(run_module.gibench, "__file__", str(package / "__init__.py"))
    assert run_module.git_state() == head
    (package / "__init__.py").write_text("x = 2\n")
    assert run_module.git_state() == head + "+dirty"
    monkeypatch.setattr(run_module.gibench, "__file__", str(tmp_path / "elsewhere" / "g.py"))
    (tmp_path / "elsewhere").mkdir()
    assert run_module.git_state() is None


def test_matrix_suite_trains_on_each_subset_and_tests_on_each(toy_plugin, toy_root, tmp_path):
    results = gibench.run("tinynet", "matrix", data_root=toy_root, dataset="toy", device="cpu",
                          workers=0, progress=False, out=tmp_path / "run", epochs=2)
    pairs = list(zip(results["train_subset"], results["test_subset"], strict=True))
    assert pairs == [("toy-a", "toy-a"), ("toy-a", "toy-b"), ("toy-b", "toy-a"),
                     ("toy-b", "toy-b")]
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert set(record["training"]) == {"toy-a", "toy-b"}
    assert (tmp_path / "run" / "train" / "toy-b" / "model.pt").is_file()
    md = (tmp_path / "run" / "results.md").read_text()
    # Table 4's row: per test subset, the mean over the two training subsets
    mean_a = results[results["test_subset"] == "toy-a"]["acc"].mean()
    assert "mean over 2 training subsets" in md and f"{mean_a:.1f}" in md


def test_rows_carry_calibrated_and_oracle_thresholds_eer_and_intervals(toy_plugin, toy_root,
                                                                      tmp_path):
    from gibench.metrics import accuracy_at, eer, threshold_for

    results = _run(toy_root, tmp_path, epochs=2)
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    calibration = record["training"]["toy-a"]["calibration"]
    assert calibration["split"] == "held-out part of train"
    scores = pd.read_csv(tmp_path / "run" / "scores.csv")
    for _, row in results.iterrows():
        part = scores[scores["test_subset"] == row["test_subset"]]
        labels, probs = part["label"].to_numpy(), part["score"].to_numpy()
        assert row["threshold_calibrated"] == calibration["threshold"]
        assert row["acc_calibrated"] == pytest.approx(
            accuracy_at(labels, probs, calibration["threshold"])["acc"])
        # the oracle looks at the test labels: never below the accuracy at any threshold
        assert row["threshold_oracle"] == pytest.approx(threshold_for(labels, probs, "acc"))
        assert row["acc_oracle"] >= max(row["acc"], row["acc_calibrated"]) - 1e-9
        assert row["eer"] == pytest.approx(eer(labels, probs))
        assert row["acc_ci_low"] <= row["acc"] <= row["acc_ci_high"]
        assert row["auc_ci_low"] <= row["auc"] <= row["auc_ci_high"]
    md = (tmp_path / "run" / "results.md").read_text()
    assert "acc [95% CI]" in md and "acc oracle" in md


def test_eval_precision_is_recorded_and_checked(toy_plugin, toy_root, tmp_path):
    """On the CPU every evaluation runs in fp32 whatever --eval-precision says, and run.json
    says so; an unknown precision is refused before any work."""
    _run(toy_root, tmp_path, epochs=1, eval_precision="bf16")
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["eval_precision"] == "fp32" and record["config"]["eval_precision"] == "bf16"
    with pytest.raises(GibenchError, match="eval_precision='fp8'"):
        _run(toy_root, tmp_path, epochs=1, eval_precision="fp8", out=tmp_path / "other")


def test_fake_class_reaches_converters_that_take_it_and_is_refused_by_the_others(
        toy_plugin, toy_root, tmp_path):
    from types import SimpleNamespace

    from gibench.engine.models import convert_checkpoint

    seen = []
    two_class = SimpleNamespace(name="two", convert_state_dict=lambda obj, fake_index=1: (
        seen.append(fake_index) or dict(obj)))
    assert convert_checkpoint(two_class, {"w": 1}, None) == {"w": 1} and seen == [1]
    convert_checkpoint(two_class, {"w": 1}, 0)
    assert seen == [1, 0]
    one_logit = SimpleNamespace(name="one", convert_state_dict=lambda obj: dict(obj))
    with pytest.raises(GibenchError, match="'one'.* no two-class option"):
        convert_checkpoint(one_logit, {}, 0)
    with pytest.raises(GibenchError, match="0 or 1"):
        convert_checkpoint(two_class, {}, 2)
    # through the engine: the toy's converter has no such option, and the run says so
    _run(toy_root, tmp_path, epochs=1)
    with pytest.raises(GibenchError, match="fake_class: detector"):
        gibench.evaluate("tinynet", tmp_path / "run" / "train" / "toy-a" / "model.pt",
                         data_root=toy_root, dataset="toy", device="cpu", workers=0,
                         progress=False, out=tmp_path / "e", fake_class=0)
