"""The Python API behind ``gibench run`` and ``gibench eval``.

``run(...)`` resolves names through the plugin registry, picks the data (the dataset that
recognises ``data_root``, or, without one, the dataset plugin built on demand:
:mod:`gibench.data.datasets`), lets the suite drive a
:class:`~gibench.engine.context.RunContext`, and writes the run directory:

- ``run.json``: configuration, resolved names, budget, seed, versions (gibench, torch, every
  plugin distribution), git hash, device, checkpoint sha256, timings, throughput, bad files and
  ``status`` (``running`` → ``complete``, or ``interrupted`` / ``failed``);
- ``results.csv``: one row per train subset × test subset × degradation;
- ``scores.csv``: one row per image (path, label, logit, score), so any metric can be recomputed;
- ``results.md``: the suite's table(s).

``evaluate_many(...)`` (``gibench eval`` with several ``--detector``/``--weights``) evaluates
several models in one pass over each test subset's files and writes one complete run directory
per model, each what a separate evaluation of that model writes, its ``run.json`` naming the
pass's run directories under ``shared_pass``.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import fcntl
import os
import platform
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

import gibench
from gibench.data.datasets import RunData
from gibench.engine.config import RunConfig
from gibench.engine.context import RunContext
from gibench.engine.device import resolve_device
from gibench.engine.distributed import backend, barrier, broadcast_object
from gibench.engine.distributed import init as dist_init
from gibench.engine.evaluation import share_eval_transforms
from gibench.errors import GibenchError
from gibench.outputs import (
    atomic_write_csv,
    atomic_write_text,
    check_output_dir,
    is_file,
    sha256_file,
)
from gibench.registry import Registry, get_registry, notify
from gibench.rundir import RunDir, RunDirError, RunRecord
from gibench.suite import SuiteContext


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
    """Library versions, and each plugin's distribution, version and (for a third-party one)
    where its code came from (:mod:`gibench.leaderboard.origin`; gibench's is ``git``)."""
    import torchvision

    from gibench.leaderboard.origin import plugin_origins

    plugins = {p.name: {"distribution": p.distribution, "version": p.version,
                        "status": p.status} for p in registry.plugins}
    for name, origin in plugin_origins(registry).items():
        plugins[name]["origin"] = origin
    return {
        "gibench": gibench.__version__, "torch": torch.__version__,
        "torchvision": torchvision.__version__, "python": sys.version.split()[0],
        "plugins": plugins,
    }


def resolve_data(config: RunConfig, registry: Registry) -> RunData:
    """The datasets of ``config`` and their roots (:func:`gibench.data.datasets.
    resolve_run_data`): without a data root, the dataset built on demand; with one and no
    dataset, the dataset that recognises it; with several datasets' roots, the training dataset
    and every other one; every extra root a dataset declares must be given."""
    from gibench.data.datasets import resolve_run_data

    return resolve_run_data(registry, config.data_root, config.dataset, config.train_subset,
                            registry.suite(config.suite).default_train_subsets,
                            progress=config.progress)


def default_run_dir(config: RunConfig, registry: Registry) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    det = registry.detector(config.detector).name
    suite = registry.suite(config.suite).name
    return Path("runs") / f"{stamp}-{det}-{suite}"


def _record(ctx: RunContext, status: str, started: float, git: str | None,
            error: BaseException | None = None) -> RunRecord:
    records = ctx.records
    n_images = sum(r["n_real"] + r["n_fake"] for r in records.rows)
    eval_s = records.timings.get("eval", 0.0)
    # a resumed run's total includes the time before its interruption, and is never less
    # than its phases (a training continued from its last epoch counts all its epochs)
    total = ctx.carried_seconds + time.perf_counter() - started
    total = max(total, sum(records.timings.get(k, 0.0) for k in ("train", "eval", "index")))
    return RunRecord(
        status=status,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        command=ctx.config.command,
        resumed=ctx.resume,
        config=ctx.config.to_dict(absolute=True),
        resolved=ctx.resolved.record(),
        seed=ctx.config.seed,
        versions=ctx.versions if ctx.versions is not None else versions(ctx.registry),
        git=git,
        device=_device_info(ctx.device),
        processes=ctx.job.world,
        process_group=backend(ctx.job),
        eval_precision=ctx.resolved.eval_precision,
        decode_cache=records.decode_cache_records or None,
        weights=({"path": str(ctx.config.weights),
                  "sha256": sha256_file(Path(ctx.config.weights))}
                 if ctx.config.weights else None),
        shared_pass=ctx.shared_pass,
        training=records.trainings,
        calibration=records.calibration,
        bad_images={k: {"count": len(v), "files": [{"path": p, "reason": r} for p, r in v]}
                    for k, v in records.bad.items()},
        timings={**{k: round(v, 3) for k, v in records.timings.items()},
                 "total": round(total, 3)},
        throughput={"eval_images": n_images,
                    "eval_images_per_second": round(n_images / eval_s, 2) if eval_s else None},
        error=None if error is None else {"type": type(error).__name__,
                                          "message": str(error)},
        indexes={**records.recorded_indexes, **records.indexes},
    )


def run(detector: str, suite: str = "cross-generator", **options: Any) -> pd.DataFrame:
    """Run ``suite`` for ``detector`` and return its results (``results.csv``) as a DataFrame.

    Keyword options are the fields of :class:`~gibench.engine.config.RunConfig`
    (``data_root``, ``train_subset``, ``weights``, ``epochs``, ``batch_size``, ``device``,
    ``seed``, ``out``, ``skip_bad_images``...). Without ``data_root`` the run uses the
    dataset built on demand (``mini``; :mod:`gibench.data.datasets`).
    """
    config = RunConfig(detector=detector, suite=suite, **api_options(options))
    return run_config(config)


#: Python spellings of options that the CLI spells so (``--subsets``).
OPTION_ALIASES = {"subsets": "test_subsets"}


def api_options(options: dict[str, Any], taken: Sequence[str] = ("detector", "suite")
                ) -> dict[str, Any]:
    """A Python caller's keyword options as :class:`RunConfig` fields (``subsets`` is
    ``test_subsets``); an unknown one is a :class:`GibenchError` naming it with the close
    names, never a bare ``TypeError``."""
    known = [f for f in RunConfig.__dataclass_fields__ if f not in taken]
    out: dict[str, Any] = {}
    for key, value in options.items():
        name = OPTION_ALIASES.get(key, key)
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
            raise GibenchError(f"unknown option {key!r}" + (
                f" (did you mean {' or '.join(map(repr, close))}?)" if close else "")
                + "; the options are the fields of gibench.engine.config.RunConfig: "
                + ", ".join(known))
        if name in out:
            raise GibenchError(f"option {name!r} given twice (as {key!r} too)")
        out[name] = value
    return out


#: What a resumed run may change: how it runs, not what it computes (the one place this rule is
#: written; ``gibench run --resume`` passes every option given and lets :func:`resume` refuse).
RESUME_OVERRIDES: tuple[str, ...] = ("progress", "workers", "compile", "decode_cache", "report")


def resume(run_dir: str | Path, **overrides: Any) -> pd.DataFrame:
    """Continue the interrupted run in ``run_dir`` with the configuration it recorded.

    Finished trainings and evaluations are read back from the run directory, an unfinished
    training continues from its last finished epoch; the final results equal an uninterrupted
    run's. ``overrides`` may change only how it runs (:data:`RESUME_OVERRIDES`), not what.
    """
    run_dir = Path(run_dir)
    if set(overrides) - set(RESUME_OVERRIDES):
        refused = sorted(set(overrides) - set(RESUME_OVERRIDES))
        raise GibenchError("{resume} takes the run's own configuration; it cannot change "
                           + ", ".join("{" + name + "}" for name in refused),
                           params=["resume", *refused])
    config, record = _resumed_config(run_dir, overrides)
    if record.status == "complete":
        raise GibenchError(f"cannot resume {run_dir}: the run is already complete")
    configs = [config]
    shared_pass = record.shared_pass
    for sibling in (shared_pass or {}).get("runs", []):
        if Path(sibling) != run_dir and RunDir(Path(sibling)).is_run():
            other, other_record = _resumed_config(Path(sibling), overrides)
            if other_record.status != "complete":
                configs.append(other)
    return run_shared(configs, resume=True, shared_pass=shared_pass)[0]


def _resumed_config(run_dir: Path, overrides: dict[str, Any]
                    ) -> tuple[RunConfig, RunRecord]:
    """The configuration recorded in ``run_dir/run.json`` (with ``overrides``), and the
    record."""
    try:
        record = RunRecord.read(run_dir)
    except RunDirError as exc:
        raise GibenchError(f"cannot resume {run_dir}: {exc}") from exc
    try:  # the recorded configuration, read back as a config file is (RunConfig.from_dict)
        config = RunConfig.from_dict({**record.config, **overrides, "out": str(run_dir)},
                                     source=str(RunDir(run_dir).record))
    except GibenchError as exc:
        raise GibenchError(f"cannot resume {run_dir}: {exc}") from exc
    now = git_state()
    if record.git and now and record.git != now:
        print(f"warning: {run_dir} was started at {record.git}, the code is now at {now}",
              file=sys.stderr)
    return config, record


def run_config(config: RunConfig, resume: bool = False) -> pd.DataFrame:
    """Run ``config`` (continue it with ``resume``); return its results."""
    return run_shared([config], resume=resume)[0]


#: What the runs of one shared pass must agree on: they read the same files the same way.
SHARED_FIELDS = ("data_root", "dataset", "test_subsets", "subset_dirs", "degradations", "align",
                 "device", "seed", "workers", "skip_bad_images", "progress",
                 "disabled_plugins")


def _check_shared(configs: Sequence[RunConfig], registry: Registry) -> None:
    """Several configurations can share a pass when they evaluate given weights with the same
    data options, each into its own run directory."""
    for config in configs:
        if registry.suite(config.suite).name != "eval":
            raise GibenchError(f"several models in one pass: only suite 'eval' (gibench eval) "
                               f"evaluates them together, not {config.suite!r}")
        for name in SHARED_FIELDS:
            if getattr(config, name) != getattr(configs[0], name):
                raise GibenchError("several models in one pass must share {" + name + "}: "
                                   f"{getattr(configs[0], name)!r} vs {getattr(config, name)!r}",
                                   params=[name])
        if config.out is None:
            raise GibenchError("several models in one pass: each needs its own run directory "
                               "({out})", params=["out"])
    outs = [Path(c.out) for c in configs]
    twice = sorted({str(o) for o in outs if outs.count(o) > 1})
    if twice:
        raise GibenchError(f"several models in one pass write to the same run directory: "
                           f"{', '.join(twice)}")


def run_shared(configs: Sequence[RunConfig], resume: bool = False,
               shared_pass: dict[str, Any] | None = None) -> list[pd.DataFrame]:
    """Run every configuration; several ones (suite ``eval``, the same data options, their own
    run directories) evaluate their models in one pass over each test subset's files. Each
    run directory is what a run of its configuration alone writes, its ``run.json`` recording
    the pass (``shared_pass``: its run directories and evaluation batch size; given when
    resuming runs of a pass, as they recorded it). Every configuration is checked before any
    work. Returns each run's results."""
    if not configs:
        raise GibenchError("no run to do: give at least one detector and weights")
    started = time.perf_counter()
    git = git_state()
    registry = get_registry(configs[0].disabled_plugins)
    if len(configs) > 1:
        _check_shared(configs, registry)
    contexts = [_prepare(config, resume) for config in configs]
    if len(contexts) > 1 or shared_pass is not None:
        share_eval_transforms(contexts)
        shared = shared_pass or {"runs": [str(ctx.run_dir) for ctx in contexts],
                                 "eval_batch_size": min(ctx.eval_batch_size
                                                        for ctx in contexts)}
        for ctx in contexts:
            ctx.shared_pass = shared
    locks: list[Any] = []
    try:
        for ctx in contexts:
            locks.append(_open(ctx, started, git))
    except BaseException:
        for lock in locks:
            _release(lock)
        raise
    status = "failed"
    try:
        suites = [SuiteContext(ctx) for ctx in contexts]
        if len(contexts) == 1:
            contexts[0].suite.run(suites[0])
        else:
            from gibench.builtin.suites import run_eval_shared

            run_eval_shared(suites)
        status = "complete"
    except BaseException as exc:
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        try:
            for ctx in contexts:
                _close(ctx, status, started, git, exc)
            for ctx in contexts:
                _report_failure(ctx, status, exc)
        finally:
            for lock in locks:
                _release(lock)
        raise
    try:
        results = [_close(ctx, status, started, git) for ctx in contexts]
    finally:
        for lock in locks:
            _release(lock)
    for ctx, frame in zip(contexts, results, strict=True):
        _report(ctx, frame)
    barrier(contexts[0].job)  # the files exist before any rank returns
    return results


def _prepare(config: RunConfig, resume: bool) -> RunContext:
    """Check ``config`` and build its run context; nothing is written yet."""
    registry = get_registry(config.disabled_plugins)
    registry.detector(config.detector)  # fail on unknown names before any work
    suite_spec = registry.suite(config.suite)
    if not suite_spec.needs_training and config.weights is None:
        raise GibenchError(f"suite {suite_spec.name!r} evaluates existing weights: "
                           "pass {weights=}PATH", params=["weights"])
    if config.weights is not None and not is_file(Path(config.weights)):
        raise GibenchError(f"{{weights=}}{config.weights}: no such file", params=["weights"])
    for name, low in (("epochs", 1), ("batch_size", 1), ("workers", 0), ("input_size", 8)):
        value = getattr(config, name)
        if value is not None and value < low:
            raise GibenchError("{" + name + "}" + f" must be at least {low}, got {value}",
                               params=[name])
    if not 0 < config.holdout_fraction < 1:
        raise GibenchError(f"holdout fraction must be in (0, 1), got {config.holdout_fraction}")
    job = dist_init(resolve_device(config.device).type)  # under torchrun: join the job
    if job.main:  # builds a dataset on first use: once, before the other ranks look for it
        data = resolve_data(config, registry)
    barrier(job)
    if not job.main:
        data = resolve_data(config, registry)
    # one run directory for the job (a default one carries rank 0's timestamp)
    run_dir = broadcast_object(Path(config.out) if config.out
                               else default_run_dir(config, registry), job)
    check_output_dir(run_dir)  # a file there, or a folder that may not be written: now
    if RunDir(run_dir).record.exists() and not resume:
        raise GibenchError(f"{run_dir} already holds a run; choose another {{out}}, or "
                           f"continue it with {{resume=}}{run_dir}", params=["out", "resume"])
    barrier(job)  # every rank has looked before rank 0 writes run.json
    for name, (folder, _) in config.subset_dirs.items():
        if not os.path.isdir(folder):  # refused before a run directory is made
            raise GibenchError(f"{{subset_dirs}} {name}={folder}: no such folder",
                               params=["subset_dirs"])
        if registry.has("subset", name):
            owners = sorted({key.split("/", 1)[0] for key in registry.subset_keys(name)})
            raise GibenchError(f"{{subset_dirs}} name {name!r} is already a subset of "
                               f"{', '.join(map(repr, owners))}; choose another name",
                               params=["subset_dirs"])
    # unknown or foreign subset, degradation and alignment names fail here (Resolved)
    return RunContext(config, registry, run_dir, data, resume=resume)


def _open(ctx: RunContext, started: float, git: str | None) -> Any:
    """Create the run directory, take its lock (:func:`_lock`) and write its ``running``
    record; tell the reporters. Returns the lock."""
    ctx.run_dir.mkdir(parents=True, exist_ok=True)
    lock = None
    if ctx.job.main:  # under torchrun rank 0 alone writes the run directory and reports
        lock = _lock(ctx.run_dir)
        if ctx.resume:
            try:
                ctx.carried_seconds = float(RunRecord.read(ctx.run_dir).timings.get("total", 0))
            except (RunDirError, TypeError, ValueError):
                ctx.carried_seconds = 0.0
        ctx.versions = versions(ctx.registry)  # the plugins' origins as imported, once
        try:
            _record(ctx, "running", started, git).write(ctx.run_dir)
        except BaseException:
            _release(lock)
            raise
        notify(ctx.registry, "gibench_run_started", run_dir=ctx.run_dir,
               config=ctx.config.to_dict())
    return lock


def _lock(run_dir: Path) -> Any:
    """Take the run directory's lock (:data:`gibench.rundir.LOCK_FILE`, ``fcntl.flock``): one
    writer per run directory. A lock held by a live process is a :class:`GibenchError` naming
    it (``--resume`` of a run that is still running); one left by a process that died is
    taken over with a warning. Returns the open lock file (:func:`_release`)."""
    path = RunDir(run_dir).lock
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held until _release)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise GibenchError(f"{run_dir} is still running (its lock {path} is held by "
                           f"{holder}); wait for that run to end, or stop it, before resuming "
                           "it") from None
    handle.seek(0)
    previous = handle.read().strip()
    if previous:
        print(f"warning: {run_dir}: taking over the lock left by {previous}, which is no "
              "longer running", file=sys.stderr)
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()} {socket.gethostname()}\n")
    handle.flush()
    return handle


def _release(lock: Any) -> None:
    """Remove and release a lock taken by :func:`_lock` (``None``: none was taken)."""
    if lock is None:
        return
    Path(lock.name).unlink(missing_ok=True)
    lock.close()


def _close(ctx: RunContext, status: str, started: float, git: str | None,
           error: BaseException | None = None) -> pd.DataFrame:
    """Write the run's results, scores, table and final record; return the results."""
    results = ctx.records.results_frame()
    if ctx.job.main:
        files = RunDir(ctx.run_dir)
        try:
            atomic_write_csv(files.results, results)
            atomic_write_csv(files.scores, ctx.records.scores_frame())
            if len(results):
                shown = (results.assign(weights=Path(ctx.config.weights).name)
                         if ctx.config.weights is not None else results)  # its label
                atomic_write_text(files.table, ctx.suite.render(shown, ctx.names.run_subsets()))
        except BaseException as exc:  # the record never stays ``running`` (partial/ keeps
            # the work)
            _record(ctx, "interrupted" if status == "interrupted" else "failed", started,
                    git, error or exc).write(ctx.run_dir)
            raise
        _record(ctx, status, started, git, error).write(ctx.run_dir)
    return results


def _report(ctx: RunContext, results: pd.DataFrame) -> None:
    """Tell the reporters that the run finished (a reporter's failure is a warning)."""
    if ctx.job.main:
        notify(ctx.registry, "gibench_run_finished", run_dir=ctx.run_dir, results=results)


def _report_failure(ctx: RunContext, status: str, error: BaseException) -> None:
    """Tell the reporters that the run ended ``failed`` or ``interrupted``."""
    if ctx.job.main:
        notify(ctx.registry, "gibench_run_failed", run_dir=ctx.run_dir, status=status,
               error=f"{type(error).__name__}: {error}" if str(error)
               else type(error).__name__)


def evaluate(detector: str, weights: str | Path, **options: Any) -> pd.DataFrame:
    """Evaluate ``weights`` of ``detector`` on the val split of every (or the given) subset."""
    return run(detector, "eval", weights=weights, **api_options(options, ("detector", "suite",
                                                                          "weights")))


def pair_models(detectors: Sequence[str], weights: Sequence[str | Path]) -> list[tuple[str, Path]]:
    """``--detector`` and ``--weights`` as (detector, weights) pairs: the i-th weights with the
    i-th detector, or one detector for all the weights."""
    if not detectors:
        raise GibenchError("{detectors} is missing: name the detector of the weights",
                           params=["detectors"])
    if not weights:
        raise GibenchError("{weights} is missing: give the weights to evaluate",
                           params=["weights"])
    if len(detectors) == 1:
        return [(detectors[0], Path(w)) for w in weights]
    if len(detectors) != len(weights):
        raise GibenchError(f"{{detectors}} given {len(detectors)} times and {{weights}} "
                           f"{len(weights)} times: give one {{detectors}} per {{weights}} (the "
                           "i-th {weights} is evaluated with the i-th {detectors}), or one "
                           "{detectors} for all the weights", params=["detectors", "weights"])
    return [(d, Path(w)) for d, w in zip(detectors, weights, strict=True)]


def shared_run_names(models: Sequence[tuple[str, Path]]) -> list[str]:
    """Run directory names for several models evaluated together: ``<detector>-<weights
    stem>``; where two coincide, the weights' folder joins the name
    (``<detector>-<folder>-<stem>``), and a number where they still do."""
    short = [f"{d}-{Path(w).stem}" for d, w in models]
    names = [f"{d}-{Path(w).parent.name}-{Path(w).stem}"
             if short.count(name) > 1 and Path(w).parent.name else name
             for (d, w), name in zip(models, short, strict=True)]
    counts, seen = Counter(names), Counter()
    out = []
    for name in names:
        seen[name] += 1
        out.append(f"{name}-{seen[name]}" if counts[name] > 1 else name)
    return out


def eval_configs(models: Sequence[tuple[str, str | Path]], **options: Any) -> list[RunConfig]:
    """One ``eval`` configuration per (detector, weights), from the same options. One model:
    ``out`` is its run directory (default ``runs/<timestamp>-<detector>-eval``, as
    :func:`evaluate`). Several: ``out`` (default ``runs/<timestamp>-eval``) is the folder of
    their run directories, named by :func:`shared_run_names`."""
    if isinstance(models, (str, os.PathLike)) or not isinstance(models, Sequence) or not all(
            isinstance(m, (tuple, list)) and len(m) == 2 for m in models):
        raise GibenchError(f"models is {models!r}, expected a list of (detector, weights) "
                           "pairs")
    if not models:
        raise GibenchError("no model to evaluate: give at least one detector and weights")
    options = api_options(options, ("detector", "suite", "weights"))
    out = options.pop("out", None)
    if len(models) == 1:
        (detector, weights), = models
        return [RunConfig(detector=detector, suite="eval", weights=Path(weights), out=out,
                          **options)]
    registry = get_registry(options.get("disabled_plugins", []))
    canonical = [(registry.detector(d).name, Path(w)) for d, w in models]
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    parent = Path(out) if out is not None else Path("runs") / f"{stamp}-eval"
    return [RunConfig(detector=detector, suite="eval", weights=weights, out=parent / name,
                      **options)
            for (detector, weights), name in zip(canonical, shared_run_names(canonical),
                                                 strict=True)]


def evaluate_many(models: Sequence[tuple[str, str | Path]],
                  **options: Any) -> list[pd.DataFrame]:
    """Evaluate several (detector, weights) pairs on the val split of every (or the given)
    subset, in one pass over each subset's files: every file is decoded once, each detector
    preprocesses the decoded image its own way, and each model scores it.

    Writes one complete run directory per model — the files a separate :func:`evaluate` of it
    writes, with ``run.json`` naming the pass's run directories under ``shared_pass`` — under
    ``out`` (see :func:`eval_configs`). Returns each model's results, in the order given.
    Options are :func:`evaluate`'s (the fields of :class:`RunConfig`). The scores equal
    separate evaluations' (exactly on the CPU when the models share an evaluation batch size;
    a pass uses the smallest of the detectors' batch sizes)."""
    return run_shared(eval_configs(models, **options))
