"""The README's main command on mini, end to end (slow: trains ResNet-50 on a CPU for minutes).

Run with ``tox -e slow`` or ``pytest -m slow``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest


@pytest.mark.slow
def test_readme_main_command_reaches_the_accuracy_targets(tmp_path):
    env = {**os.environ, "GIBENCH_CACHE": str(tmp_path / "cache")}
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "gibench.cli", "run", "--detector", "cnnspot", "--suite",
         "cross-generator", "--out", str(out), "--no-progress"],
        env=env, capture_output=True, text=True, timeout=1800, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Latent A" in proc.stdout and "Avg" in proc.stdout  # the table is printed

    results = pd.read_csv(out / "results.csv").set_index("test_subset")
    own = results.loc["latent-a", "acc"]
    assert own >= 90.0, results[["acc", "real_acc", "fake_acc", "auc"]]
    # a real cross-generator gap: at least one generator is clearly harder
    others = results.drop(index=["latent-a", "latent-b"])["acc"]
    assert others.min() <= own - 20, results["acc"]
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "complete" and record["resolved"]["dataset"] == "mini"
