"""Running a recorded run again (``gibench replay RUN_DIR``, :func:`gibench.replay`).

A run directory's ``run.json`` records the run's whole configuration (``config``, what
:meth:`~gibench.engine.config.RunConfig.to_dict` writes), so the same experiment can run again
into a new directory; on the CPU it writes the same ``scores.csv`` byte for byte, which
``gibench compare`` checks (:mod:`gibench.comparison`). A run of a shared pass (``gibench eval``
with several weights) is replayed with every run of its pass, in one pass again, so that they
share the evaluation batch size they shared.
"""

from __future__ import annotations

import datetime as _dt
import sys
from pathlib import Path
from typing import Any

from gibench.engine.config import RECORD_ONLY_FIELDS, RunConfig
from gibench.errors import GibenchError
from gibench.rundir import RunDir, RunRecord


def replay(run_dir: str | Path, out: str | Path | None = None, **overrides: Any) -> Path:
    """Run the experiment recorded in ``run_dir`` again, into the new run directory ``out``
    (default ``runs/<timestamp>-<detector>-<suite>-replay``), and return that directory.

    ``out`` must not exist yet, or be empty: a replay never overwrites. ``overrides`` may
    change only how the run runs, as with :func:`gibench.resume`
    (:data:`gibench.engine.run.RESUME_OVERRIDES`: ``progress``, ``workers``...), and
    ``command`` (the command line to record). A run of a shared pass is replayed with its
    whole pass: ``out`` is then the folder of the new run directories, each named as the
    recorded one, and the one replaying ``run_dir`` is returned. A warning says when the
    versions, the git state or the device differ from the recorded ones.
    """
    from gibench.engine.run import RESUME_OVERRIDES, default_run_dir, run_shared
    from gibench.registry import get_registry

    refused = sorted(set(overrides) - {*RESUME_OVERRIDES, "command"})
    if refused:
        raise GibenchError("a replay runs the recorded configuration; it cannot change "
                           + ", ".join("{" + name + "}" for name in refused)
                           + " (give the run's run.json to gibench run --config to change it)",
                           params=refused)
    run_dir = Path(run_dir)
    record = RunRecord.read(run_dir)
    runs = _pass_runs(run_dir, record)
    configs = [_recorded_config(path, overrides) for path in runs]
    registry = get_registry(configs[0].disabled_plugins)
    if len(configs) == 1:
        new = Path(out) if out is not None else \
            Path(f"{default_run_dir(configs[0], registry)}-replay")
        outs = [new]
    else:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        new = Path(out) if out is not None else Path("runs") / f"{stamp}-eval-replay"
        outs = [new / path.name for path in runs]
    if new.exists() and (not new.is_dir() or any(new.iterdir())):
        raise GibenchError(f"{{out=}}{new} already exists; a replay writes a new run directory "
                           "and never overwrites one", params=["out"])
    for config, path in zip(configs, outs, strict=True):
        config.out = path
    _warn_differences(run_dir, record, registry, configs[0])
    run_shared(configs)
    return outs[runs.index(run_dir)]


def _pass_runs(run_dir: Path, record: RunRecord) -> list[Path]:
    """``[run_dir]``, or every run directory of its shared pass, in the pass's order (a
    sibling recorded under a relative path another directory no longer reaches is looked for
    beside ``run_dir``)."""
    recorded = (record.shared_pass or {}).get("runs") or []
    if len(recorded) <= 1:
        return [run_dir]
    runs = []
    for sibling in map(Path, recorded):  # the pass's run directories have distinct names
        if sibling.name == run_dir.name:
            runs.append(run_dir)
            continue
        found = next((p for p in (sibling, run_dir.parent / sibling.name)
                      if RunDir(p).is_run()), None)
        if found is None:
            raise GibenchError(f"{run_dir} was evaluated in one pass with {sibling}, which "
                               "holds no run.json any more; a replay of a shared pass needs "
                               "every run of it")
        runs.append(found)
    if run_dir not in runs:
        runs.append(run_dir)  # a pass that did not list it: it still runs
    return runs


def _recorded_config(run_dir: Path, overrides: dict[str, Any]) -> RunConfig:
    record = RunRecord.read(run_dir)
    saved = {k: v for k, v in record.config.items() if k not in RECORD_ONLY_FIELDS}
    config = RunConfig.from_dict(saved, source=f"{RunDir(run_dir).record} (config)")
    for name, value in overrides.items():
        setattr(config, name, value)
    return config


def _warn_differences(run_dir: Path, record: RunRecord, registry, config: RunConfig) -> None:
    """Say on stderr where this replay cannot be the same computation as the recorded run."""
    from gibench.comparison import differences
    from gibench.engine.device import resolve_device
    from gibench.engine.run import git_state, versions

    now = {**versions(registry), "git": git_state()}
    changed = differences({**record.versions, "git": record.git}, now)
    for d in changed:
        print(f"warning: {run_dir} ran with {d['field']} {d['a']}, this replay with {d['b']}",
              file=sys.stderr)
    recorded_device = (record.device or {}).get("type")
    device = resolve_device(config.device).type
    if recorded_device and recorded_device != device:
        print(f"warning: {run_dir} ran on {recorded_device}, this replay runs on {device}: "
              "the scores will differ within float rounding", file=sys.stderr)
