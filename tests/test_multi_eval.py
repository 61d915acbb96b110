"""Many models, one decode (issue 19): ``predict_many`` / ``predict_settings_many``, the matrix
suite's one pass per test subset, and ``gibench eval`` with several detectors and weights.

Every test holds the shared pass to what separate evaluations give — the same logits bit for bit
on the CPU, the same rows, scores and run directories — and counts the decodes: one per file.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import textwrap

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from skimage import data as skdata

import gibench
import gibench.builtin.suites as suites_module
import gibench.data.dataset as dataset_module
import gibench.engine.evaluation as evaluation_module
from gibench.cli import main
from gibench.data.layout import index_folder
from gibench.engine.device import Normalizer
from gibench.engine.evaluate import (
    CLEAN,
    Head,
    Setting,
    predict,
    predict_many,
    predict_settings,
    predict_settings_many,
)
from gibench.engine.run import evaluate_many, pair_models, shared_run_names
from gibench.errors import GibenchError
from gibench.registry import build_registry, clear_registry_cache
from tests.conftest import install_fake_distribution, write_toy_tree

CPU = torch.device("cpu")

# -- the engine primitive ------------------------------------------------------------------------


@pytest.fixture
def mixed(tmp_path):
    """Nine photo crops of mixed sizes, PNG and JPEG, and one file that does not decode."""
    photo = skdata.coffee()
    folder = tmp_path / "mixed"
    folder.mkdir()
    for i in range(9):
        h, w = 30 + 6 * (i % 3), 44 - 5 * (i % 4)
        crop = Image.fromarray(photo[7 * i:7 * i + h, 11 * i:11 * i + w].copy())
        crop.save(folder / f"img_{i}.{'png' if i % 2 else 'jpg'}", quality=80)
    (folder / "img_9.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 12)  # truncated
    return index_folder(folder, 1, "mixed", "val")


def _model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(16, 1)).eval()


def _heads():
    """Three heads: two share one transform object (24 px), the third has its own (32 px,
    no batched form) and its own normaliser."""
    from gibench_baselines.transforms import resize_center_crop

    small = resize_center_crop(24, 28)
    large_batched = resize_center_crop(32, 36)

    def large(img, rng):  # the same op without a batched form: the per-image fallback
        return large_batched(img, rng)

    norm_a = Normalizer((0.5,) * 3, (0.25,) * 3, CPU)
    norm_b = Normalizer((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), CPU)
    return [Head(_model(0), small, norm_a), Head(_model(1), small, norm_b),
            Head(_model(2), large, norm_b)]


@pytest.fixture
def decodes(monkeypatch):
    """Every decode (``load_rgb`` and ``decode_rgb``) in this process, by path."""
    calls: list[str] = []
    for name in ("load_rgb", "decode_rgb"):
        real = getattr(dataset_module, name)

        def counting(path, real=real):
            calls.append(str(path))
            return real(path)

        monkeypatch.setattr(dataset_module, name, counting)
    return calls


def test_predict_many_scores_what_separate_predicts_score_decoding_each_file_once(
        mixed, decodes, one_thread):
    heads = _heads()
    kw = dict(device=CPU, batch_size=4, workers=0, skip_bad=True, progress=False, seed=3)
    shared = predict_many(heads, mixed, **kw)
    assert len(decodes) == len(mixed) and len(set(decodes)) == len(mixed)
    for head, scores in zip(heads, shared, strict=True):
        alone = predict(head.model, mixed, head.transform, normalizer=head.normalizer, **kw)
        np.testing.assert_array_equal(scores.logits, alone.logits)
        np.testing.assert_array_equal(scores.positions, alone.positions)
        assert scores.bad == alone.bad and len(scores.bad) == 1
    assert list(shared[0].positions) == list(range(9))  # the bad file (last) left out
    # the heads are different models on different inputs: different scores
    assert not np.allclose(shared[0].logits, shared[1].logits)


def test_predict_many_with_workers_gives_the_same_logits(mixed, one_thread):
    heads = _heads()[:2] + [dataclasses.replace(_heads()[2], model=_model(5))]
    kw = dict(device=CPU, batch_size=3, skip_bad=True, progress=False)
    with_workers = predict_many(heads, mixed, workers=1, **kw)
    in_process = predict_many(heads, mixed, workers=0, **kw)
    for a, b in zip(with_workers, in_process, strict=True):
        np.testing.assert_array_equal(a.logits, b.logits)


def test_predict_settings_many_equals_separate_predict_settings(mixed, decodes, one_thread):
    registry = build_registry()
    settings = [CLEAN, Setting("blur:1", registry.degradation("blur"), 1.0),
                Setting("jpeg:40", registry.degradation("jpeg"), 40.0)]
    heads = _heads()
    kw = dict(device=CPU, batch_size=4, workers=0, skip_bad=True, progress=False, seed=2)
    shared = predict_settings_many(heads, mixed, settings, **kw)
    assert len(decodes) == len(mixed)  # once per file for 3 heads × 3 settings
    for head, by_setting in zip(heads, shared, strict=True):
        alone = predict_settings(head.model, mixed, head.transform, settings,
                                 normalizer=head.normalizer, **kw)
        assert list(by_setting) == ["none", "blur:1", "jpeg:40"]
        for name, scores in by_setting.items():
            np.testing.assert_array_equal(scores.logits, alone[name].logits)
            np.testing.assert_array_equal(scores.positions, alone[name].positions)
            assert scores.bad == alone[name].bad
    assert not np.allclose(shared[0]["none"].logits, shared[0]["blur:1"].logits)


def test_a_transform_that_changes_its_input_does_not_change_the_next_ones(mixed):
    """Each transform but the last gets its own copy of the decoded image."""
    from gibench_baselines.transforms import resize_center_crop

    plain = resize_center_crop(24, 28)

    def scribbling(img, rng):
        out = plain(img, rng)
        img.paste((255, 0, 0), (0, 0, img.width, img.height))  # in place
        return out

    norm = Normalizer((0.5,) * 3, (0.25,) * 3, CPU)
    heads = [Head(_model(0), scribbling, norm), Head(_model(0), plain, norm)]
    kw = dict(device=CPU, batch_size=4, workers=0, skip_bad=True, progress=False)
    first, second = predict_many(heads, mixed, **kw)
    np.testing.assert_array_equal(first.logits, second.logits)


# -- the matrix suite on three toy subsets ---------------------------------------------------------

EXTRA_PLUGIN = textwrap.dedent('''
    """A third toy subset, and a second toy detector at another input size and normalisation."""
    import dataclasses

    import gibench
    import gibench_toy
    from gibench.specs import Preprocess, SubsetSpec

    WIDE = dataclasses.replace(
        gibench_toy.SPEC, name="tinynet-24", aliases=(),
        preprocess=Preprocess(24, None, (0.4, 0.45, 0.5), (0.3, 0.3, 0.3), gibench_toy.make,
                              gibench_toy.make))


    @gibench.hookimpl
    def gibench_add_subsets():
        return [SubsetSpec("toy-c", "Toy C", "toy", "toy", ("toy_c",))]


    @gibench.hookimpl
    def gibench_add_detectors():
        return [WIDE]
''')

N = 12  # images per label and split of each toy subset


@pytest.fixture
def toy3(toy_plugin, tmp_path):
    """The toy plugin plus a third subset (``toy-c``) and a second detector (``tinynet-24``);
    returns the data root of the three subsets."""
    install_fake_distribution(toy_plugin, "gibench-toy-extra", "0.1", {
        "gibench_toy_extra": EXTRA_PLUGIN}, {"toy-extra": "gibench_toy_extra"})
    clear_registry_cache()
    root = write_toy_tree(tmp_path / "toydata", n=N)
    other = write_toy_tree(tmp_path / "other", n=N, seed=7)
    shutil.move(other / "toy_a", root / "toy_c")
    return root


VAL_IMAGES = 3 * 2 * N  # three subsets, two labels
OPTS = dict(dataset="toy", device="cpu", workers=0, progress=False, epochs=2)


def _val(decodes: list[str]) -> list[str]:
    return [p for p in decodes if "/val/" in p]


def _one_at_a_time(ctx) -> None:
    """The matrix suite as it ran before the shared pass: one model, all test subsets, the
    next model."""
    for train_subset in ["toy-a", "toy-b", "toy-c"]:
        trained = ctx.model_for(train_subset)
        for subset in ctx.test_subsets:
            if ctx.degradations:
                ctx.evaluate_settings(trained, subset, [CLEAN, *ctx.degradations])
            else:
                ctx.evaluate(trained, subset)
        ctx.release(train_subset)


def _same_run_outputs(a_dir, b_dir) -> None:
    for name in ("results.csv", "scores.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(a_dir / name), pd.read_csv(b_dir / name),
                                      check_exact=True)
    assert (a_dir / "results.md").read_text() == (b_dir / "results.md").read_text()


@pytest.mark.parametrize("degradations", [[], ["jpeg:50"]])
def test_matrix_suite_decodes_each_test_image_once_and_equals_one_model_at_a_time(
        toy3, tmp_path, decodes, monkeypatch, degradations):
    results = gibench.run("tinynet", "matrix", data_root=toy3, out=tmp_path / "shared",
                          degradations=degradations, **OPTS)
    assert len(_val(decodes)) == VAL_IMAGES  # not 3 models × VAL_IMAGES
    assert sorted(set(_val(decodes))) == sorted(_val(decodes))
    n_settings = 1 + len(degradations)
    assert list(results["train_subset"]) == [t for t in ("toy-a", "toy-b", "toy-c")
                                             for _ in range(3 * n_settings)]
    scores = pd.read_csv(tmp_path / "shared" / "scores.csv")
    by_model = [scores[scores["train_subset"] == t]["logit"].to_numpy() for t in ("toy-a",
                                                                                 "toy-b")]
    assert not np.allclose(*by_model)  # three models, not one scored three times

    monkeypatch.setattr(suites_module, "MATRIX",
                        dataclasses.replace(suites_module.MATRIX, run=_one_at_a_time))
    clear_registry_cache()
    decodes.clear()
    gibench.run("tinynet", "matrix", data_root=toy3, out=tmp_path / "separate",
                degradations=degradations, **OPTS)
    assert len(_val(decodes)) == 3 * VAL_IMAGES
    _same_run_outputs(tmp_path / "shared", tmp_path / "separate")
    shared, separate = (json.loads((tmp_path / d / "run.json").read_text())
                        for d in ("shared", "separate"))
    assert {k: v["sha256"] for k, v in shared["training"].items()} == \
        {k: v["sha256"] for k, v in separate["training"].items()}
    assert "shared_pass" not in shared  # one run: its record is as it was


def _partial(run_dir) -> dict[tuple[str, str], list]:
    """``partial/`` evaluation files by (model, test subset)."""
    out: dict[tuple[str, str], list] = {}
    for record in (run_dir / "partial").glob("eval-*.json"):
        what = json.loads(record.read_text())["what"]
        out[(what[0], what[2])] = [record, record.with_suffix(".csv")]
    return out


def _passes(predict_many, calls: list, stop_at: str | None = None):
    """``predict_many`` recording (test subset, number of models) of each evaluation pass
    (``val`` split; calibrations are not recorded), Ctrl-C at the pass over ``stop_at``."""
    def recorded(heads, index, *args, **options):
        if index.split == "val":
            calls.append((index.subset, len(heads)))
            if index.subset == stop_at:
                raise KeyboardInterrupt
        return predict_many(heads, index, *args, **options)

    return recorded


def test_interrupted_matrix_resumes_scoring_only_the_missing_models_in_one_pass(
        toy3, tmp_path, monkeypatch):
    reference = tmp_path / "reference"
    gibench.run("tinynet", "matrix", data_root=toy3, out=reference, **OPTS)

    calls: list[tuple[str, int]] = []
    real = evaluation_module.predict_many
    monkeypatch.setattr(evaluation_module, "predict_many", _passes(real, calls, stop_at="toy-c"))
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        gibench.run("tinynet", "matrix", data_root=toy3, out=run_dir, **OPTS)
    assert calls == [("toy-a", 3), ("toy-b", 3), ("toy-c", 3)]
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
    saved = _partial(run_dir)
    assert len(saved) == 6  # 3 models × the 2 subsets evaluated
    for key in (("toy-a", "toy-b"), ("toy-c", "toy-b")):  # as if lost: two of toy-b's three
        for path in saved[key]:
            path.unlink()

    calls.clear()
    monkeypatch.setattr(evaluation_module, "predict_many", _passes(real, calls))
    gibench.resume(run_dir)
    assert calls == [("toy-b", 2), ("toy-c", 3)]  # trainings and the rest read back
    assert json.loads((run_dir / "run.json").read_text())["status"] == "complete"
    _same_run_outputs(run_dir, reference)


# -- gibench eval with several detectors and weights ---------------------------------------------

def _trained(toy3, tmp_path):
    """Three checkpoints, one per toy subset (all named model.pt)."""
    gibench.run("tinynet", "matrix", data_root=toy3, out=tmp_path / "trained", **OPTS)
    return [tmp_path / "trained" / "train" / s / "model.pt" for s in ("toy-a", "toy-b", "toy-c")]


VOLATILE = ("created", "timings", "throughput", "command", "shared_pass")


def _comparable(record: dict) -> dict:
    record = {k: v for k, v in record.items() if k not in VOLATILE}
    record["config"] = {k: v for k, v in record["config"].items() if k not in ("out", "command")}
    return record


def test_eval_of_several_models_writes_what_separate_evals_write(toy3, tmp_path, decodes):
    from gibench.leaderboard.runs import run_rows

    weights = _trained(toy3, tmp_path)
    common = ["--data-root", str(toy3), "--dataset", "toy", "--device", "cpu", "--workers", "0",
              "--subsets", "toy-a,toy-b", "--no-progress"]
    models = [("tinynet", weights[0]), ("tinynet-24", weights[1]), ("tinynet", weights[2])]
    decodes.clear()
    args = [a for d, w in models for a in ("--detector", d, "--weights", str(w))]
    result = CliRunner().invoke(main, ["eval", *args, *common, "--out", str(tmp_path / "ev")],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert len(_val(decodes)) == 2 * 2 * N  # two test subsets, once for the three models
    dirs = [tmp_path / "ev" / n for n in ("tinynet-toy-a-model", "tinynet-24-model",
                                          "tinynet-toy-c-model")]
    assert "3 models evaluated in one pass" in result.output
    # the held-out part of toy-a that calibrates the thresholds: decoded once too
    held = json.loads((dirs[0] / "run.json").read_text())["calibration"]
    assert held["subset"] == "toy-a"
    assert len([p for p in decodes if "/train/" in p]) == held["n_real"] + held["n_fake"]

    registry = build_registry()
    for k, ((detector, w), shared_dir) in enumerate(zip(models, dirs, strict=True)):
        alone_dir = tmp_path / f"alone{k}"
        result = CliRunner().invoke(main, ["eval", "--detector", detector, "--weights", str(w),
                                           *common, "--out", str(alone_dir)],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        _same_run_outputs(shared_dir, alone_dir)
        shared = json.loads((shared_dir / "run.json").read_text())
        alone = json.loads((alone_dir / "run.json").read_text())
        assert shared["status"] == "complete" and shared["resolved"]["detector"] == detector
        assert shared["shared_pass"] == {"runs": [str(d) for d in dirs], "eval_batch_size": 16}
        assert "shared_pass" not in alone
        assert _comparable(shared) == _comparable(alone)
        # the leaderboard reads a shared run's directory as it reads a separate one's
        rows = [run_rows(d, registry, source="reproduced", submitter="t",
                         train_subset="toy-a")[1] for d in (shared_dir, alone_dir)]
        for row in rows[0] + rows[1]:
            del row["date"], row["reference"]
        assert rows[0] == rows[1] and len(rows[0]) == 2
    tiny = pd.read_csv(dirs[0] / "scores.csv")["logit"]
    wide = pd.read_csv(dirs[1] / "scores.csv")["logit"]
    assert not np.allclose(tiny, wide)


def test_an_interrupted_shared_eval_resumes_all_its_runs_in_one_pass(toy3, tmp_path,
                                                                     monkeypatch):
    weights = _trained(toy3, tmp_path)
    models = [("tinynet", w) for w in weights]
    kw = dict(data_root=toy3, dataset="toy", device="cpu", workers=0, progress=False)
    references = evaluate_many(models, out=tmp_path / "reference", **kw)
    assert len(references) == 3

    calls: list[tuple[str, int]] = []
    real = evaluation_module.predict_many
    monkeypatch.setattr(evaluation_module, "predict_many", _passes(real, calls, stop_at="toy-b"))
    with pytest.raises(KeyboardInterrupt):
        evaluate_many(models, out=tmp_path / "run", **kw)
    names = shared_run_names([("tinynet", w) for w in weights])
    dirs = [tmp_path / "run" / n for n in names]
    for d in dirs:
        assert json.loads((d / "run.json").read_text())["status"] == "interrupted"
    calls.clear()
    monkeypatch.setattr(evaluation_module, "predict_many", _passes(real, calls))
    results = gibench.resume(dirs[1])  # one of them: the whole pass goes on
    assert calls == [("toy-b", 3), ("toy-c", 3)]
    pd.testing.assert_frame_equal(results, references[1])
    for name, d in zip(names, dirs, strict=True):
        record = json.loads((d / "run.json").read_text())
        assert record["status"] == "complete" and record["resumed"] is True
        assert record["shared_pass"]["runs"] == [str(other) for other in dirs]
        _same_run_outputs(d, tmp_path / "reference" / name)


# -- options and names -----------------------------------------------------------------------------

def test_detectors_pair_with_weights_by_position_or_one_for_all():
    from pathlib import Path

    assert pair_models(["a"], ["x.pt", "y.pt"]) == [("a", Path("x.pt")), ("a", Path("y.pt"))]
    assert pair_models(["a", "b"], ["x.pt", "y.pt"]) == [("a", Path("x.pt")),
                                                         ("b", Path("y.pt"))]
    with pytest.raises(GibenchError, match="detectors given 2 times and weights 3 times"):
        pair_models(["a", "b"], ["x", "y", "z"])


def test_mismatched_detector_and_weights_counts_fail_naming_the_options():
    result = CliRunner().invoke(main, ["eval", "--detector", "tinynet", "--detector",
                                       "tinynet-24", "--weights", "a.pt", "--weights", "b.pt",
                                       "--weights", "c.pt", "--no-progress"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "--detector given 2 times and --weights 3 times" in result.output
    assert "the i-th --weights is evaluated with the i-th --detector" in result.output


def test_shared_run_names_are_distinct_and_say_which_weights():
    from pathlib import Path

    names = shared_run_names([("tinynet", Path("r/train/toy-a/model.pt")),
                              ("tinynet", Path("r/train/toy-b/model.pt")),
                              ("resnet50", Path("w/model.pt")),
                              ("tinynet", Path("best.pt")), ("tinynet", Path("best.pt"))])
    assert names == ["tinynet-toy-a-model", "tinynet-toy-b-model", "resnet50-model",
                     "tinynet-best-1", "tinynet-best-2"]


def test_eval_help_explains_several_models_in_one_pass():
    result = CliRunner().invoke(main, ["eval", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "one pass" in text and "i-th --weights" in text and "shared_pass" in text
    assert "DIR/<detector>-<weights stem>" in text


def test_runs_that_read_the_data_differently_cannot_share_a_pass(toy3, tmp_path):
    from gibench.engine.config import RunConfig
    from gibench.engine.run import run_shared

    weights = tmp_path / "w.pt"
    weights.write_bytes(b"")
    configs = [RunConfig("tinynet", "eval", data_root=toy3, dataset="toy", weights=weights,
                         out=tmp_path / "a", seed=0),
               RunConfig("tinynet", "eval", data_root=toy3, dataset="toy", weights=weights,
                         out=tmp_path / "b", seed=1)]
    with pytest.raises(GibenchError, match="must share seed"):
        run_shared(configs)
    configs[1].seed = 0
    configs[1].out = tmp_path / "a"
    with pytest.raises(GibenchError, match="same run directory"):
        run_shared(configs)
    with pytest.raises(GibenchError, match="only suite 'eval'"):
        run_shared([dataclasses.replace(c, suite="matrix") for c in configs])
    assert not (tmp_path / "a").exists()  # refused before any work


def test_random_transforms_get_the_same_generator_as_alone(mixed):
    """A transform that draws from its generator draws what it would alone."""
    def jitter(img, rng):
        shift = rng.randint(0, 40)
        arr = np.asarray(img.resize((16, 16)), dtype=np.int16) + shift
        return torch.from_numpy(np.clip(arr, 0, 255).astype(np.uint8).transpose(2, 0, 1).copy())

    def twice(img, rng):
        return jitter(img, rng)

    norm = Normalizer((0.5,) * 3, (0.25,) * 3, CPU)
    kw = dict(device=CPU, batch_size=4, workers=0, skip_bad=True, progress=False, seed=9)
    both = predict_many([Head(_model(0), jitter, norm), Head(_model(0), twice, norm)], mixed,
                        **kw)
    alone = predict(_model(0), mixed, jitter, normalizer=norm, **kw)
    np.testing.assert_array_equal(both[0].logits, alone.logits)
    np.testing.assert_array_equal(both[1].logits, alone.logits)


def test_a_shared_eval_under_torchrun_equals_one_process(toy_plugin, toy3, tmp_path):
    """Two processes (gloo), each scoring its shard for both models, gathered: what one
    process writes, run directory by run directory."""
    from tests.test_distributed import _torchrun

    weights = _trained(toy3, tmp_path)[:2]
    kw = dict(data_root=toy3, dataset="toy", device="cpu", workers=0, progress=False,
              test_subsets=["toy-a", "toy-b"], batch_size=5)
    evaluate_many([("tinynet", w) for w in weights], out=tmp_path / "one", **kw)
    args = [a for w in weights for a in ("--weights", str(w))]
    _torchrun(toy_plugin, 2, "eval", "--detector", "tinynet", *args, "--out",
              str(tmp_path / "two"), "--batch-size", "5", "--subsets", "toy-a,toy-b",
              "--data-root", str(toy3), "--dataset", "toy", "--device", "cpu", "--workers",
              "0", "--no-progress")
    for name in ("tinynet-toy-a-model", "tinynet-toy-b-model"):
        one, two = (pd.read_csv(tmp_path / d / name / "scores.csv") for d in ("one", "two"))
        assert len(one) == 2 * 2 * N and one["path"].is_unique
        pd.testing.assert_frame_equal(one, two, check_exact=False, rtol=0, atol=1e-6)
        record = json.loads((tmp_path / "two" / name / "run.json").read_text())
        assert record["processes"] == 2 and record["status"] == "complete"


def test_resuming_a_run_of_a_pass_leaves_its_finished_siblings_alone(toy3, tmp_path):
    weights = _trained(toy3, tmp_path)[:2]
    kw = dict(data_root=toy3, dataset="toy", device="cpu", workers=0, progress=False,
              test_subsets=["toy-a", "toy-b"])
    evaluate_many([("tinynet", w) for w in weights], out=tmp_path / "run", **kw)
    shutil.copytree(tmp_path / "run", tmp_path / "reference")
    first, second = (tmp_path / "run" / n for n in ("tinynet-toy-a-model",
                                                   "tinynet-toy-b-model"))
    record = json.loads((first / "run.json").read_text())
    (first / "run.json").write_text(json.dumps({**record, "status": "interrupted"}))
    for path in _partial(first)[("(weights)", "toy-b")]:  # toy-b was not saved
        path.unlink()
    sibling = (second / "run.json").read_text()
    gibench.resume(first)
    assert (second / "run.json").read_text() == sibling  # complete: left as it was
    record = json.loads((first / "run.json").read_text())
    assert record["status"] == "complete"
    assert record["shared_pass"] == {"runs": [str(first), str(second)], "eval_batch_size": 16}
    _same_run_outputs(first, tmp_path / "reference" / first.name)
