"""The GPU acceptance script (benchmarks/gpu/acceptance.py) in its CPU smoke mode, so that the
script run on the next GPU machine is the one these tests keep working; and its preflight on a
machine that lacks a package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu" / "acceptance.py"
SECTIONS = ["tests", "main_job", "cpu_vs_cuda", "precision", "throughput", "suites",
            "torchrun", "degradations"]


def test_the_acceptance_script_passes_in_smoke_mode(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "GIBENCH_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--out", str(out),
                           "--work", str(tmp_path / "work")], env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    report = json.loads((out / "gpu-report.json").read_text())
    assert report["smoke"] is True
    assert list(report["sections"]) == SECTIONS
    assert all(s["status"] == "ok" for s in report["sections"].values()), report["sections"]
    checks = report["checks"]
    assert checks and all(c["ok"] for c in checks)
    # each section checked something, and the throughput section measured every figure
    assert {c["section"] for c in checks} == set(SECTIONS)
    figures = report["sections"]["throughput"]["figures"]
    for name in ("resnet50", "cnnspot"):
        assert figures[f"{name}: gibench evaluation loop images/s"] > 0
        assert figures[f"{name}: reference loop images/s"] > 0
        assert figures[f"{name}: decode-only ceiling images/s"] > 0
        assert figures[f"{name}: model alone images/s"] > 0
    assert {g["what"] for g in report["goals"]} >= {
        "resnet50: gibench eval / reference loop",
        "clean + six degraded settings: seven passes / one pass"}
    markdown = (out / "gpu-report.md").read_text()
    assert "## Checks" in markdown and "## throughput" in markdown and "**FAIL**" not in markdown


def test_the_preflight_names_a_missing_package_in_one_line(tmp_path):
    code = ("import sys; sys.modules['kornia'] = None; sys.argv = ['acceptance.py', '--out', "
            f"{str(tmp_path)!r}]; sys.path.insert(0, {str(SCRIPT.parent)!r}); "
            "import acceptance; acceptance.main()")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing Python packages: kornia" in lines[0], proc.stderr


def test_past_the_deadline_no_section_starts_and_the_report_says_so(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--deadline", "0", "--out",
                           str(out), "--work", str(tmp_path / "work")], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads((out / "gpu-report.json").read_text())
    assert [s["status"] for s in report["sections"].values()] == ["skipped"] * len(SECTIONS)
    assert "past --deadline 0 s" in (out / "gpu-report.md").read_text()
