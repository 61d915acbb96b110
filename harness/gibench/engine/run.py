"""The Python API behind ``gibench run`` and ``gibench eval``.

``run(...)`` resolves names through the plugin registry, picks the data (GenImage under
``data_root``, or the embedded ``mini`` dataset built on demand), lets the suite drive a
:class:`~gibench.engine.context.RunContext`, and writes the run directory:

- ``run.json``: configuration, resolved names, budget, seed, versions (gibench, torch, every
  plugin distribution), git hash, device, checkpoint sha256, timings, throughput, bad files and
  ``status`` (``running`` → ``complete``, or ``interrupted`` / ``failed``);
- ``results.csv``: one row per train subset × test subset × degradation;
- ``scores.csv``: one row per image (path, label, logit, score), so any metric can be recomputed;
- ``results.md``: the suite's table(s).
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch

import gibench
from gibench.engine.config import RunConfig
from gibench.engine.context import RunContext
from gibench.engine.device import resolve_device
from gibench.engine.distributed import barrier, broadcast_object
from gibench.engine.distributed import init as dist_init
from gibench.errors import GibenchError
from gibench.outputs import atomic_write_csv, atomic_write_json, atomic_write_text, sha256_file
from gibench.plugins import Registry, get_registry


def git_state() -> str | None:
    """The commit of the gibench checkout running, ``+dirty`` with uncommitted changes; ``None``
    outside a git checkout. Taken once, when a run starts: the code that runs is what was
    imported then, whatever is committed while it runs."""
    def git(*args: str) -> subprocess.CompletedProcess | None:
        try:
            return subprocess.run(["git", *args], cwd=Path(gibench.__file__).parent,
                                  capture_output=True, text=True, timeout=5, check=False)
        except (OSError, subprocess.SubprocessError):
            return None

    head = git("rev-parse", "HEAD")
    if head is None or head.returncode != 0 or not head.stdout.strip():
        return None
    status = git("status", "--porcelain", "--untracked-files=no")
    dirty = status is not None and status.returncode == 0 and status.stdout.strip()
    return head.stdout.strip() + ("+dirty" if dirty else "")


def _device_info(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {"type": device.type, "torch_threads": torch.get_num_threads()}
    if device.type == "cuda":
        info["name"] = torch.cuda.get_device_name(device)
        info["capability"] = ".".join(map(str, torch.cuda.get_device_capability(device)))
    else:
        info["name"] = platform.processor() or platform.machine()
    return info


def versions(registry: Registry) -> dict[str, Any]:
    import torchvision

    return {
        "gibench": gibench.__version__, "torch": torch.__version__,
        "torchvision": torchvision.__version__, "python": sys.version.split()[0],
        "plugins": {p.name: {"distribution": p.distribution, "version": p.version,
                             "status": p.status} for p in registry.plugins},
    }


def resolve_data(config: RunConfig, registry: Registry) -> tuple[Path, str]:
    """(data root, dataset name): ``mini`` (built on demand) when no data root is given."""
    if config.data_root is None:  # an embedded dataset, built on first use
        from gibench.data.mini import EMBEDDED_DATASETS, ensure_embedded

        dataset = config.dataset or "mini"
        if dataset not in EMBEDDED_DATASETS:
            raise GibenchError(f"--dataset {config.dataset} needs --data-root")
        return ensure_embedded(dataset, seed=0, progress=config.progress), dataset
    root = Path(config.data_root).expanduser()
    if not root.is_dir():
        raise GibenchError(f"--data-root {root} is not a directory")
    dataset = config.dataset
    if dataset is None:
        from gibench.data.mini import embedded_dataset_of

        dataset = embedded_dataset_of(root) or "genimage"
    if dataset not in registry.datasets():
        raise GibenchError(f"unknown dataset {dataset!r}; known: {', '.join(registry.datasets())}")
    return root, dataset


def default_run_dir(config: RunConfig, registry: Registry) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    det = registry.detector(config.detector).name
    suite = registry.suite(config.suite).name
    return Path("runs") / f"{stamp}-{det}-{suite}"


def _record(ctx: RunContext, status: str, started: float, git: str | None) -> dict[str, Any]:
    n_images = sum(r["n_real"] + r["n_fake"] for r in ctx.rows)
    eval_s = ctx.timings.get("eval", 0.0)
    return {
        "status": status,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": ctx.config.command,
        "resumed": ctx.resume,
        "config": ctx.config.to_dict(),
        "resolved": {
            "detector": ctx.spec.name, "suite": ctx.suite.name, "dataset": ctx.dataset,
            "data_root": str(ctx.data_root),
            "train_subset": ctx.train_subset if ctx.config.weights is None else None,
            "test_subsets": ctx.test_subsets,
            "input_size": ctx.input_size, "load_size": ctx.load_size,
            "epochs": ctx.epochs, "batch_size": ctx.batch_size, "lr": ctx.lr,
            "workers": ctx.workers, "budget": ctx.budget.note,
            "degradations": [s.name for s in ctx.settings],
            "align": [a.name for a in ctx.alignments],
            "train_align": [a.name for a in ctx.train_alignments],
            "recipe": {k: v for k, v in vars(ctx.spec.recipe).items()},
            "labels": {"ai": 1, "nature": 0},
        },
        "seed": ctx.config.seed,
        "versions": versions(ctx.registry),
        "git": git,
        "device": _device_info(ctx.device),
        "processes": ctx.job.world,
        "weights": ({"path": str(ctx.config.weights),
                     "sha256": sha256_file(Path(ctx.config.weights))}
                    if ctx.config.weights else None),
        "training": ctx.trainings,
        "calibration": ctx.calibration,
        "bad_images": {k: {"count": len(v), "files": [{"path": p, "reason": r} for p, r in v]}
                       for k, v in ctx.bad.items()},
        "timings": {**{k: round(v, 3) for k, v in ctx.timings.items()},
                    "total": round(time.perf_counter() - started, 3)},
        "throughput": {"eval_images": n_images,
                       "eval_images_per_second": round(n_images / eval_s, 2) if eval_s else None},
    }


def run(detector: str, suite: str = "cross-generator", **options: Any) -> pd.DataFrame:
    """Run ``suite`` for ``detector`` and return its results (``results.csv``) as a DataFrame.

    Keyword options are the fields of :class:`~gibench.engine.config.RunConfig`
    (``data_root``, ``train_subset``, ``weights``, ``epochs``, ``batch_size``, ``device``,
    ``seed``, ``out``, ``skip_bad_images``...). Without ``data_root`` the run uses ``mini``.
    """
    config = RunConfig(detector=detector, suite=suite, **options)
    return run_config(config)


def resume(run_dir: str | Path, **overrides: Any) -> pd.DataFrame:
    """Continue the interrupted run in ``run_dir`` with the configuration it recorded.

    Finished trainings and evaluations are read back from the run directory, an unfinished
    training continues from its last finished epoch; the final results equal an uninterrupted
    run's. ``overrides`` may change only how it runs (``progress``, ``workers``), not what.
    """
    run_dir = Path(run_dir)
    allowed = {"progress", "workers", "compile"}
    if set(overrides) - allowed:
        raise GibenchError(f"--resume takes the run's own configuration; it cannot change "
                           f"{', '.join(sorted(set(overrides) - allowed))}")
    record_path = run_dir / "run.json"
    if not record_path.is_file():
        raise GibenchError(f"--resume {run_dir}: no run.json there (not a run directory)")
    try:
        record = json.loads(record_path.read_text())
        saved = dict(record["config"])
    except (ValueError, KeyError, TypeError) as exc:
        raise GibenchError(f"--resume {run_dir}: run.json is unreadable ({exc})") from exc
    if record.get("status") == "complete":
        raise GibenchError(f"--resume {run_dir}: the run is already complete")
    for key in ("data_root", "weights", "out"):
        if saved.get(key) is not None:
            saved[key] = Path(saved[key])
    saved["subset_dirs"] = {k: (Path(v["path"]), v["label"])
                            for k, v in saved.get("subset_dirs", {}).items()}
    saved.update(overrides)
    saved["out"] = run_dir
    config = RunConfig(**{k: v for k, v in saved.items()
                          if k in RunConfig.__dataclass_fields__})
    now = git_state()
    if record.get("git") and now and record["git"] != now:
        print(f"warning: {run_dir} was started at {record['git']}, the code is now at {now}",
              file=sys.stderr)
    return run_config(config, resume=True)


def run_config(config: RunConfig, resume: bool = False) -> pd.DataFrame:
    started = time.perf_counter()
    git = git_state()
    registry = get_registry(config.disabled_plugins)
    registry.detector(config.detector)  # fail on unknown names before any work
    suite_spec = registry.suite(config.suite)
    if not suite_spec.needs_training and config.weights is None:
        raise GibenchError(f"suite {suite_spec.name!r} evaluates existing weights: "
                           "pass --weights PATH")
    if config.weights is not None and not Path(config.weights).is_file():
        raise GibenchError(f"--weights {config.weights}: no such file")
    for option, value, low in (("--epochs", config.epochs, 1), ("--batch-size",
                               config.batch_size, 1), ("--workers", config.workers, 0),
                               ("--input-size", config.input_size, 8)):
        if value is not None and value < low:
            raise GibenchError(f"{option} must be at least {low}, got {value}")
    if not 0 < config.holdout_fraction < 1:
        raise GibenchError(f"holdout fraction must be in (0, 1), got {config.holdout_fraction}")
    job = dist_init(resolve_device(config.device).type)  # under torchrun: join the job
    if job.main:  # builds mini on first use: once, before the other ranks look for it
        data_root, dataset = resolve_data(config, registry)
    barrier(job)
    if not job.main:
        data_root, dataset = resolve_data(config, registry)
    # one run directory for the job (a default one carries rank 0's timestamp)
    run_dir = broadcast_object(Path(config.out) if config.out
                               else default_run_dir(config, registry), job)
    if (run_dir / "run.json").exists() and not resume:
        raise GibenchError(f"{run_dir} already holds a run; choose another --out, or continue "
                           f"it with: gibench run --resume {run_dir}")
    barrier(job)  # every rank has looked before rank 0 writes run.json
    ctx = RunContext(config, registry, run_dir, data_root, dataset, resume=resume)
    for name in config.subset_dirs:
        if registry.has("subset", name):
            raise GibenchError(f"--subset-dir name {name!r} is already a subset of "
                               f"{registry.subset(name).dataset!r}; choose another name")
    for name in ([config.train_subset] if config.train_subset else []) + (
            config.test_subsets or []):
        ctx.subset_spec(name)  # unknown or foreign subset names fail now
    run_dir.mkdir(parents=True, exist_ok=True)
    if job.main:  # under torchrun rank 0 alone writes the run directory and reports
        atomic_write_json(run_dir / "run.json", _record(ctx, "running", started, git))
        registry.pm.hook.gibench_run_started(run_dir=run_dir, config=config.to_dict())
    status = "failed"
    try:
        ctx.suite.run(ctx)
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        results = ctx.results_frame()
        if job.main:
            atomic_write_csv(run_dir / "results.csv", results)
            atomic_write_csv(run_dir / "scores.csv", ctx.scores_frame())
            if len(results):
                atomic_write_text(run_dir / "results.md",
                                  ctx.suite.render(results, registry.all("subset")))
            atomic_write_json(run_dir / "run.json", _record(ctx, status, started, git))
    if job.main:
        try:
            registry.pm.hook.gibench_run_finished(run_dir=run_dir, results=results)
        except Exception as exc:  # a reporter plugin must not fail a finished run
            print(f"warning: a gibench_run_finished hook failed: {exc}", file=sys.stderr)
    barrier(job)  # the files exist before any rank returns
    return results


def evaluate(detector: str, weights: str | Path, **options: Any) -> pd.DataFrame:
    """Evaluate ``weights`` of ``detector`` on the val split of every (or the given) subset."""
    return run(detector, "eval", weights=Path(weights), **options)
