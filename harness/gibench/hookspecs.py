"""The whole extension surface of gibench: every hook a plugin may implement.

gibench is a pluggy host (project name and entry-point group ``gibench``). Its own datasets
(GenImage, mini, mini-biased), subsets, degradations and suites are ordinary plugins
registered through these hooks, exactly like a third-party distribution that declares::

    [project.entry-points.gibench]
    mydetector = "gibench_mydetector.plugin"

and implements some of the hooks below with ``@gibench.hookimpl``. An implementation may accept
any subset of a hook's arguments.

The registration hooks are called once per process, plugin by plugin, when the registry is first
needed; a plugin that raises there is reported (``gibench plugins``) and the others still work.
Names (and aliases) must be unique across all plugins: a clash is an error naming both
providers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Sequence
    from pathlib import Path

    import pandas as pd

    from gibench.specs import (
        DatasetSpec,
        DegradationSpec,
        DetectorSpec,
        ReporterSpec,
        SubsetSpec,
        SuiteSpec,
    )

PROJECT = "gibench"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------------------------------------
# Registration hooks: what a plugin adds. Called once, when the registry is built.
# ---------------------------------------------------------------------------------------------


@hookspec
def gibench_add_detectors() -> Sequence[DetectorSpec]:
    """Return the detectors this plugin provides.

    Called once when the registry is built. Each :class:`~gibench.specs.DetectorSpec` carries
    the architecture builder, the CPU-side preprocessing, the default training recipe and the
    checkpoint converter. Building a model must not download anything unless asked
    (``pretrained="imagenet"``); importing the plugin must not load weights.
    """


@hookspec
def gibench_add_datasets() -> Sequence[DatasetSpec]:
    """Return the datasets this plugin describes.

    Called once when the registry is built. A :class:`~gibench.specs.DatasetSpec` states a
    dataset's conventions on disk (split names, label folder names), its default training
    subset, how a data root is recognised as holding it, and optionally how to build it on
    demand (a dataset that needs no data root) and how to scale detectors' recipes for it. Its
    subsets are registered by :func:`gibench_add_subsets` (from this plugin or another) and name
    it. A dataset named by subsets but described by no plugin gets the defaults of
    :meth:`DatasetSpec.default <gibench.specs.DatasetSpec.default>`.
    """


@hookspec
def gibench_add_subsets() -> Sequence[SubsetSpec]:
    """Return the generator subsets (sets of real/fake images) this plugin provides.

    Called once when the registry is built. A subset names the dataset it belongs to (one that
    :func:`gibench_add_datasets` describes, or a new name that gets the default conventions)
    and the candidate folders under a data root where its split × label folders live.
    """


@hookspec
def gibench_add_degradations() -> Sequence[DegradationSpec]:
    """Return the image degradations this plugin provides.

    Called once when the registry is built. Each has a batched device implementation and a CPU
    reference implementation; tests compare the two.
    """


@hookspec
def gibench_add_suites() -> Sequence[SuiteSpec]:
    """Return the evaluation protocols (suites) this plugin provides.

    Called once when the registry is built. A suite drives a
    :class:`gibench.engine.context.RunContext` (train or load, then evaluate) and renders its
    results as a Markdown table.
    """


@hookspec
def gibench_add_reporters() -> Sequence[ReporterSpec]:
    """Return the reporters this plugin provides: the names ``--report NAME`` accepts.

    Called once when the registry is built. A :class:`~gibench.specs.ReporterSpec` names a
    reporter and the Python packages it needs; a run asked for a reporter whose package is
    missing fails before it starts, naming the package. The reporting itself is done by the
    plugin's run-lifecycle hooks below, for the runs whose ``config["report"]`` names it.
    """


# ---------------------------------------------------------------------------------------------
# Run-lifecycle hooks: called by the engine while a run progresses, for reporters and loggers.
#
# They fire in the process of rank 0 only (the one process without torchrun), the one that
# writes the run directory. Each plugin's implementation is called on its own: one that raises
# is reported on stderr with the plugin's name, the other plugins are still called and the run
# goes on (its status and files are not changed). For every run, exactly one of
# ``gibench_run_finished`` and ``gibench_run_failed`` follows ``gibench_run_started``, unless
# the run failed before its directory was written (bad options, unknown names): then none is
# called. A process killed outright (SIGKILL, power loss) calls nothing and leaves
# ``run.json`` at ``running``.
# ---------------------------------------------------------------------------------------------


@hookspec
def gibench_run_started(run_dir: Path, config: dict[str, Any]) -> None:
    """Called when a run starts, after its directory and its ``running`` record are written.

    Called again when an interrupted run is continued (``gibench run --resume``).

    :param run_dir: the run directory (holds ``run.json``; see :mod:`gibench.rundir`).
    :param config: the configuration recorded in ``run.json`` (its ``config``).
    """


@hookspec
def gibench_run_finished(run_dir: Path, results: pd.DataFrame) -> None:
    """Called when a run has completed: ``results.csv``, ``scores.csv``, ``results.md`` and the
    ``complete`` record are written.

    :param run_dir: the run directory.
    :param results: one row per train subset × test subset × degradation (``results.csv``).
    """


@hookspec
def gibench_run_failed(run_dir: Path, status: str, error: str) -> None:
    """Called when a run ends without completing, after its files are written as far as it got
    (``run.json`` records ``status``; finished evaluations are kept for ``--resume``). The
    exception then propagates to the caller as it would without the hook.

    :param run_dir: the run directory.
    :param status: ``"interrupted"`` (Ctrl-C, ``KeyboardInterrupt``) or ``"failed"`` (any other
        exception).
    :param error: the exception's type and message (``"ValueError: ..."``).
    """


@hookspec
def gibench_epoch_finished(run_dir: Path, model: str, epoch: int,
                           metrics: dict[str, float]) -> None:
    """Called after each training epoch, once its state is saved (``checkpoints/last.pt``).

    Not called again for the epochs an interrupted run had finished before ``--resume``.

    :param run_dir: the run directory.
    :param model: the model being trained: its training subset, or its tag (the data-scale
        suite's ``SUBSET@AXIS=FRACTION``), as its folder under ``train/`` is named.
    :param epoch: the epoch just finished, from 1.
    :param metrics: the epoch's record, as ``run.json``'s training history holds it:
        ``epoch``, ``train_loss``, ``lr``, ``holdout_acc``, ``holdout_auc`` (percent),
        ``holdout_loss`` and ``seconds`` since training started.
    """


@hookspec
def gibench_evaluation_finished(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """Called after each evaluation of one model on one test subset has been recorded (its
    ``partial/`` files written): one row per setting (clean, or each degradation).

    Not called for evaluations that ``--resume`` reads back instead of computing.

    :param run_dir: the run directory.
    :param rows: the evaluation's result rows, with the columns of ``results.csv``
        (:data:`gibench.rundir.RESULT_COLUMNS`; metrics in percent).
    """
