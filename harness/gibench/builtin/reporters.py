"""Built-in plugin: the run's metrics log, ``metrics.jsonl`` in the run directory.

Always on: one JSON object a line, appended as the run progresses, for people who plot with
pandas (``pd.read_json(run_dir / "metrics.jsonl", lines=True)``):

- ``{"event": "epoch", "model": ..., "epoch": ..., "train_loss": ..., "lr": ...,
  "holdout_acc": ..., "holdout_auc": ..., "holdout_loss": ..., "seconds": ...}`` after each
  training epoch (:func:`~gibench.hookspecs.gibench_epoch_finished`);
- ``{"event": "evaluation", ...}`` for each result row of each evaluation, with the columns of
  ``results.csv`` (:func:`~gibench.hookspecs.gibench_evaluation_finished`).

Numbers that are not finite (an AUC without both classes) are written as ``null``, so that every
line is strict JSON. Each record is appended with one ``write`` and flushed: a run killed
mid-way leaves whole lines. ``-p no:reporters`` turns the log off.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gibench.hookspecs import hookimpl
from gibench.rundir import METRICS_JSONL


def _plain(value: Any) -> Any:
    """``value`` as strict JSON: numpy scalars as Python numbers, NaN and infinities as None."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def append_record(run_dir: Path, record: Mapping[str, Any]) -> None:
    """Append ``record`` as one line of ``run_dir/metrics.jsonl``."""
    line = json.dumps({k: _plain(v) for k, v in record.items()}, allow_nan=False) + "\n"
    with open(Path(run_dir) / METRICS_JSONL, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


@hookimpl
def gibench_epoch_finished(run_dir: Path, model: str, epoch: int,
                           metrics: dict[str, float]) -> None:
    append_record(run_dir, {"event": "epoch", "model": model, **metrics, "epoch": epoch})


@hookimpl
def gibench_evaluation_finished(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        append_record(run_dir, {"event": "evaluation", **row})
