"""Built-in plugin: the ``tensorboard`` reporter (``gibench run --report tensorboard``).

Writes TensorBoard event files under ``RUN_DIR/tensorboard/`` (``tensorboard --logdir runs/``):

- per training epoch, with the epoch as step: ``train/<model>/loss``, ``train/<model>/lr``,
  ``holdout/<model>/acc``, ``holdout/<model>/auc``, ``holdout/<model>/loss``;
- per clean evaluation row: ``eval/<train subset>/<test subset>/<metric>`` for accuracy, real
  and fake accuracy, AUC and AP (step 0);
- per degraded row, the robustness curves: ``robustness/<train subset>/<test subset>/<degradation>
  /acc`` and ``.../auc``, with the setting's place in the evaluation's sweep as step and the
  strength itself as ``.../strength`` at the same step (TensorBoard's steps are integers; a blur
  σ of 0.5 is not).

Needs the ``tensorboard`` package (``torch.utils.tensorboard`` writes through it); a run asked
for it without the package fails before it starts, naming the package. One writer per run, from
``gibench_run_started`` to ``gibench_run_finished`` or ``gibench_run_failed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gibench.hookspecs import hookimpl
from gibench.rundir import TENSORBOARD_DIR
from gibench.specs import ReporterSpec

NAME = "tensorboard"
_CLEAN_METRICS = ("acc", "real_acc", "fake_acc", "auc", "ap")
_CURVE_METRICS = ("acc", "auc")


class TensorBoardReporter:
    """The open writers, one per run directory whose run asked for TensorBoard."""

    def __init__(self) -> None:
        self.writers: dict[Path, Any] = {}

    def start(self, run_dir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.close(run_dir)  # a resumed run in this process: a fresh writer
        self.writers[Path(run_dir)] = SummaryWriter(log_dir=str(Path(run_dir) / TENSORBOARD_DIR))

    def epoch(self, run_dir: Path, model: str, epoch: int, metrics: dict[str, float]) -> None:
        writer = self.writers.get(Path(run_dir))
        if writer is None:
            return
        for tag, key in (("train/{}/loss", "train_loss"), ("train/{}/lr", "lr"),
                         ("holdout/{}/acc", "holdout_acc"), ("holdout/{}/auc", "holdout_auc"),
                         ("holdout/{}/loss", "holdout_loss")):
            if key in metrics:
                writer.add_scalar(tag.format(model), float(metrics[key]), epoch)
        writer.flush()

    def evaluation(self, run_dir: Path, rows: Sequence[dict[str, Any]]) -> None:
        writer = self.writers.get(Path(run_dir))
        if writer is None:
            return
        steps: dict[str, int] = {}
        for row in rows:
            where = f"{row['train_subset']}/{row['test_subset']}"
            name, _, strength = str(row["degradation"]).rpartition(":")
            if row["degradation"] == "none" or not name:
                for metric in _CLEAN_METRICS:
                    writer.add_scalar(f"eval/{where}/{metric}", float(row[metric]), 0)
                continue
            step = steps[name] = steps.get(name, -1) + 1
            for metric in _CURVE_METRICS:
                writer.add_scalar(f"robustness/{where}/{name}/{metric}", float(row[metric]),
                                  step)
            writer.add_scalar(f"robustness/{where}/{name}/strength", float(strength), step)
        writer.flush()

    def close(self, run_dir: Path) -> None:
        writer = self.writers.pop(Path(run_dir), None)
        if writer is not None:
            writer.close()


_REPORTER = TensorBoardReporter()


@hookimpl
def gibench_add_reporters() -> Sequence[ReporterSpec]:
    return [ReporterSpec(NAME, "TensorBoard event files under RUN_DIR/tensorboard/ (losses, "
                               "held-out accuracy/AUC, lr, per-subset results, robustness "
                               "curves)", requires=("tensorboard",),
                         install="pip install tensorboard", aliases=("tb",))]


@hookimpl
def gibench_run_started(run_dir: Path, config: dict[str, Any]) -> None:
    if NAME in (config.get("report") or ()):
        _REPORTER.start(run_dir)


@hookimpl
def gibench_epoch_finished(run_dir: Path, model: str, epoch: int,
                           metrics: dict[str, float]) -> None:
    _REPORTER.epoch(run_dir, model, epoch, metrics)


@hookimpl
def gibench_evaluation_finished(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    _REPORTER.evaluation(run_dir, rows)


@hookimpl
def gibench_run_finished(run_dir: Path) -> None:
    _REPORTER.close(run_dir)


@hookimpl
def gibench_run_failed(run_dir: Path) -> None:
    _REPORTER.close(run_dir)
