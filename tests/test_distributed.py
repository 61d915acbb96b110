"""torchrun on the CPU (gloo): sharded evaluation equals one process score for score, and a
two-process DDP training completes with a checkpoint that loads.

These start real ``torchrun`` jobs of two processes (about 20-40 s each here); they run in the
default suite so that CI covers them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

import gibench
from tests.conftest import write_toy_tree


def _torchrun(toy_plugin, nproc: int, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(toy_plugin), *sys.path]),
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc-per-node={nproc}", "-m", "gibench", *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture
def odd_root(tmp_path):
    """The toy tree with one fake val image removed: 47 images per val split (odd)."""
    root = write_toy_tree(tmp_path / "toydata", n=24)
    for folder in ("toy_a", "nested/toy_b"):
        (root / folder / "val" / "ai" / "ai_000.png").unlink()
    return root


COMMON = ["--data-root", None, "--dataset", "toy", "--device", "cpu", "--workers", "0",
          "--no-progress"]


def _common(root):
    return [str(root) if a is None else a for a in COMMON]


def test_two_process_evaluation_equals_one_process_score_for_score(toy_plugin, odd_root,
                                                                   tmp_path):
    trained = tmp_path / "trained"
    gibench.run("tinynet", "cross-generator", data_root=odd_root, dataset="toy",
                train_subset="toy-a", device="cpu", workers=0, progress=False, out=trained,
                epochs=2)
    weights = trained / "train" / "toy-a" / "model.pt"
    one = gibench.evaluate("tinynet", weights, data_root=odd_root, dataset="toy",
                           device="cpu", workers=0, progress=False, out=tmp_path / "one",
                           batch_size=5)
    # batch 5: the 24/23-image shards end in partial batches of different sizes per rank
    _torchrun(toy_plugin, 2, "eval", "--detector", "tinynet", "--weights", str(weights),
              "--out", str(tmp_path / "two"), "--batch-size", "5", *_common(odd_root))
    a = pd.read_csv(tmp_path / "one" / "scores.csv")
    b = pd.read_csv(tmp_path / "two" / "scores.csv")
    assert len(a) == 2 * 47 and a["path"].is_unique  # every image once, none padded in
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=0, atol=1e-6)
    assert list(a["path"]) == list(b["path"])  # the same order
    two = pd.read_csv(tmp_path / "two" / "results.csv")
    pd.testing.assert_frame_equal(one.reset_index(drop=True), two, check_exact=False,
                                  atol=1e-9)
    record = json.loads((tmp_path / "two" / "run.json").read_text())
    assert record["processes"] == 2 and record["status"] == "complete"


def test_two_process_training_completes_and_its_checkpoint_loads(toy_plugin, odd_root,
                                                                 tmp_path):
    out = tmp_path / "ddp"
    proc = _torchrun(toy_plugin, 2, "run", "--detector", "tinynet", "--train-subset", "toy-a",
                     "--epochs", "3", "--out", str(out), *_common(odd_root))
    assert proc.stdout.count("run directory:") == 1  # rank 0 alone reports
    record = json.loads((out / "run.json").read_text())
    assert record["processes"] == 2 and record["status"] == "complete"
    training = record["training"]["toy-a"]
    assert len(training["history"]) == 3
    # the global batch of the recipe (8) was split 4 + 4; both ranks' images are counted
    n_train = training["holdout"]["n_train"]
    assert training["images_per_second"] > 0
    assert n_train > 0
    results = gibench.evaluate("tinynet", out / "train" / "toy-a" / "model.pt",
                               data_root=odd_root, dataset="toy", device="cpu", workers=0,
                               progress=False, out=tmp_path / "check")
    saved = pd.read_csv(out / "results.csv")
    pd.testing.assert_series_equal(saved["acc"], results["acc"].reset_index(drop=True),
                                   atol=1e-9)
    assert (saved["acc"] > 70).all()  # the DDP-trained model learned the toy trace


def test_a_batch_not_divisible_by_the_processes_is_refused(toy_plugin, odd_root, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(toy_plugin), *sys.path]),
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
           "-m", "gibench", "run", "--detector", "tinynet", "--train-subset", "toy-a",
           "--batch-size", "7", "--out", str(tmp_path / "x"), *_common(odd_root)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "not divisible by the 2 processes" in proc.stdout + proc.stderr


def test_a_one_process_torchrun_job_is_a_job(monkeypatch):
    """torchrun --nproc-per-node 1 sets RANK, WORLD_SIZE=1 and MASTER_ADDR: the engine joins a
    process group of one (the NCCL path on a one-GPU machine); a plain run sets none of them."""
    from gibench.engine.distributed import SINGLE, from_env

    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR"):
        monkeypatch.delenv(key, raising=False)
    assert from_env() is SINGLE and not SINGLE.enabled
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "0")
    assert from_env() is SINGLE  # no rendezvous address: not started by torchrun
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    job = from_env()
    assert job.enabled and job.main and (job.rank, job.world) == (0, 1)
