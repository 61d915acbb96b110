"""The run context: one run's parts, put together.

A :class:`RunContext` composes the focused parts of a run, each owning one job:

- :class:`~gibench.engine.resolve.Names` — the run's names through the registry;
- :class:`~gibench.engine.resolve.Resolved` — every resolved fact of the run, computed once
  (``run.json``'s ``resolved`` and the training configuration are built from it), and
  :class:`~gibench.engine.resolve.RunTransforms`, the detector's transforms at those sizes;
- :class:`~gibench.engine.indexes.IndexCache` — each (subset, split) listed once;
- :class:`~gibench.engine.models.ModelStore` — training, loading given weights, calibration;
- :mod:`gibench.engine.evaluation` — evaluations of one model or many in one pass;
- :mod:`gibench.engine.distributed` — sharding an index and gathering its scores;
- :class:`~gibench.engine.results.RunRecords` — rows, scores, bad files, timings and the
  ``partial/`` files that make a run resumable.

Suites never see it: they receive a :class:`gibench.suite.SuiteContext`, the documented API
over it. :func:`gibench.engine.run.run` builds it and writes the run directory from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from gibench.data.datasets import RunData
from gibench.data.layout import ImageIndex
from gibench.engine.config import RunConfig
from gibench.engine.device import compile_for_eval, eval_precision, resolve_device
from gibench.engine.distributed import Dist, device_for
from gibench.engine.distributed import init as dist_init
from gibench.engine.evaluate import EvalOptions, Setting
from gibench.engine.evaluation import evaluate_shared
from gibench.engine.indexes import IndexCache
from gibench.engine.models import ModelStore, TrainedModel
from gibench.engine.resolve import Names, Resolved, RunTransforms, resolve
from gibench.engine.results import RunRecords
from gibench.registry import Registry, check_reports
from gibench.specs import DetectorSpec, SuiteSpec


class RunContext:
    """One run: its configuration, resolved facts, data, models and records. Built by
    :func:`gibench.engine.run.run`."""

    def __init__(self, config: RunConfig, registry: Registry, run_dir: Path,
                 data: RunData, resume: bool = False) -> None:
        self.config = config
        #: continue an interrupted run: finished trainings and evaluations are read back from
        #: the run directory, an unfinished training continues from its last epoch
        self.resume = resume
        self.registry = registry
        self.run_dir = run_dir
        #: the datasets the run reads, their roots and extra roots
        self.data = data
        #: the training dataset's root
        self.data_root = data.root
        #: the training dataset's extra roots by name (:attr:`gibench.specs.DatasetSpec.
        #: extra_roots`)
        self.extra_roots = dict(data.extra_roots.get(data.dataset, {}))
        #: the training dataset (the run's ``dataset``)
        self.dataset = data.dataset
        self.spec: DetectorSpec = registry.detector(config.detector)
        self.suite: SuiteSpec = registry.suite(config.suite)
        device = resolve_device(config.device)
        #: the torchrun job (one process without torchrun): rank 0 alone writes outputs
        self.job: Dist = dist_init(device.type)
        self.device: torch.device = device_for(self.job, device)
        self.progress = config.progress and self.job.main
        self.names = Names(registry, data.dataset, data.root, config.subset_dirs,
                           data.roots, data.extra_roots)
        #: every resolved fact, computed once: bad names fail here, before any work
        self.resolved: Resolved = resolve(config, self.names, self.spec, self.suite.name,
                                          eval_precision(self.device, config.eval_precision))
        self.transforms = RunTransforms.of(self.spec, self.resolved, self.device)
        # an unknown reporter, or one whose package is missing, fails before any work
        config.report = check_reports(registry, config.report)
        self.records = RunRecords(run_dir, resume, self.job.main, data.several)
        self.indexes = IndexCache(self.names, config.subset_dirs, self.records.add_time,
                                  self.records.check_index)
        #: the run's time before it was interrupted (``--resume``), added to its total
        self.carried_seconds = 0.0
        self.models = ModelStore(self)
        #: set when this run was evaluated in one pass with other runs (``gibench eval`` with
        #: several weights): the run directories of that pass, recorded in ``run.json``
        self.shared_pass: dict[str, Any] | None = None
        #: library and plugin versions, with where each plugin's code came from
        #: (:func:`gibench.engine.run.versions`), taken once when the run opens: the code
        #: imported then is the code that runs, whatever is edited on disk while it runs
        self.versions: dict[str, Any] | None = None

    # -- what the run resolved to ----------------------------------------------------------
    @property
    def train_subset(self) -> str:
        return self.resolved.train_subset

    @property
    def test_subsets(self) -> list[str]:
        return list(self.resolved.test_subsets)

    @property
    def settings(self) -> list[Setting]:
        """The ``--degradation`` settings."""
        return list(self.resolved.settings)

    @property
    def eval_batch_size(self) -> int:
        """Images per evaluation batch: twice the training batch (no gradients to keep), or in
        a pass shared with other runs the pass's (the smallest of its runs', as recorded)."""
        if self.shared_pass is not None:
            return int(self.shared_pass["eval_batch_size"])
        return self.resolved.batch_size * 2

    def eval_options(self, *, batch_size: int | None = None, train: bool = False
                     ) -> EvalOptions:
        """How this run's evaluations read and score images: test images under ``--align``,
        or (``train``) training and held-out images under ``--train-align``."""
        r = self.resolved
        return EvalOptions(self.device, batch_size or self.eval_batch_size, r.workers,
                           self.config.skip_bad_images, self.config.seed, self.progress,
                           r.train_align if train else r.align, r.eval_precision)

    def index(self, subset: str, split: str) -> ImageIndex:
        return self.indexes.index(subset, split)

    def check_available(self, subsets: list[str]) -> None:
        self.indexes.check_available(subsets)

    # -- models ----------------------------------------------------------------------------
    def model_for(self, train_subset: str | None, *, index: ImageIndex | None = None,
                  tag: str | None = None) -> TrainedModel:
        return self.models.model_for(train_subset, index=index, tag=tag)

    def release(self, train_subset: str) -> None:
        self.models.release(train_subset)

    def eval_model(self, trained: TrainedModel) -> torch.nn.Module:
        """The module that evaluates: ``trained.model``, compiled once with ``--compile``."""
        if not self.config.compile:
            return trained.model
        if trained.compiled is None:
            trained.compiled = compile_for_eval(trained.model)
        return trained.compiled

    # -- evaluation ------------------------------------------------------------------------
    def evaluate(self, trained: TrainedModel, test_subset: str, split: str | None = None,
                 degradation: str = "none") -> dict[str, Any]:
        """Score ``test_subset``'s ``split`` with ``trained``; add and return the result row
        (its ``degradation`` column says ``degradation``)."""
        return evaluate_shared([(self, trained)], test_subset, split=split,
                               label=degradation)[0][0]

    def evaluate_settings(self, trained: TrainedModel, test_subset: str,
                          settings: list[Setting], split: str | None = None
                          ) -> list[dict[str, Any]]:
        """Score ``test_subset`` under every setting (clean and/or degradations at the images'
        native resolution), decoding each file once; add and return one row per setting."""
        return evaluate_shared([(self, trained)], test_subset, settings, split)[0]

    def evaluate_many(self, trained_list: Sequence[TrainedModel], test_subset: str,
                      settings: list[Setting] | None = None,
                      split: str | None = None) -> list[list[dict[str, Any]]]:
        """Score ``test_subset`` with every model of ``trained_list`` in one pass over its
        files (each decoded once; with ``settings``, under every setting as
        :meth:`evaluate_settings`). Adds and returns, per model, the rows that
        :meth:`evaluate` (one row: clean) or :meth:`evaluate_settings` would, with the same
        scores and ``partial/`` files: ``--resume`` reads back the models already evaluated and
        scores only the others, still in one pass."""
        return evaluate_shared([(self, t) for t in trained_list], test_subset, settings, split)
