"""The run context that suites drive: it trains or loads models and evaluates them.

A suite never touches data loaders, devices or files; it asks the context for a model trained on
a subset and for evaluations of that model on subsets — or of several models at once
(:meth:`RunContext.evaluate_many`: one pass over the files for all of them). The context keeps
the result rows, the per-image scores, the bad files and the timings that the run directory
records.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from gibench.data.dataset import default_workers
from gibench.data.eval_policy import DEFAULT_POLICY, check_policy, is_native
from gibench.data.eval_policy import eval_transform as policy_transform
from gibench.data.layout import (
    ImageIndex,
    index_folder,
    index_subset,
    locate_subset,
    stratified_holdout,
)
from gibench.engine.config import RunConfig
from gibench.engine.device import Normalizer, compile_for_eval, eval_precision, resolve_device
from gibench.engine.distributed import (
    Dist,
    device_for,
    gather_objects,
    per_process_batch,
    shard,
)
from gibench.engine.distributed import init as dist_init
from gibench.engine.evaluate import (
    Head,
    Scores,
    Setting,
    predict,
    predict_many,
    predict_settings_many,
)
from gibench.engine.train import TrainConfig, train
from gibench.errors import GibenchError
from gibench.metrics import (
    EXTENDED_COLUMNS,
    accuracy_at,
    extended_metrics,
    sigmoid,
    threshold_for,
)
from gibench.outputs import (
    atomic_write_csv,
    atomic_write_json,
    load_checkpoint,
    load_state_into,
    sha256_file,
)
from gibench.plugins import Registry
from gibench.specs import (
    Budget,
    DatasetSpec,
    DegradationSpec,
    DetectorSpec,
    SubsetSpec,
    SuiteSpec,
)

RESULT_COLUMNS = ["detector", "suite", "dataset", "train_subset", "test_subset", "degradation",
                  "align", "eval_transform", "n_real", "n_fake", "n_skipped", "acc",
                  "real_acc", "fake_acc", "auc", "ap",
                  # beyond threshold 0.5: EER, TPR at FPR 1% / 5%, bootstrap 95% intervals
                  *EXTENDED_COLUMNS,
                  # accuracy at the threshold calibrated on the held-out part of the training
                  # subset (reported as such), and at this test subset's own best threshold
                  # (an oracle: it looks at the test labels, never a result to compare on)
                  "threshold_calibrated", "acc_calibrated", "threshold_oracle", "acc_oracle"]
SCORE_COLUMNS = ["train_subset", "test_subset", "degradation", "path", "label", "logit",
                 "score"]


@dataclass
class TrainedModel:
    model: torch.nn.Module
    train_subset: str | None  # None: loaded weights, trained elsewhere
    checkpoint: Path | None
    sha256: str | None
    compiled: torch.nn.Module | None = None  # ``model`` compiled, with --compile (issue 6)
    #: the threshold calibrated on the held-out part of the training subset (None: unknown)
    threshold: float | None = None


def load_detector(spec: DetectorSpec, path: Path, input_size: int, device: torch.device,
                  pretrained: str | None = None, fake_class: int | None = None
                  ) -> torch.nn.Module:
    """Build ``spec`` at ``input_size`` and load the checkpoint at ``path`` strictly (through
    the detector's converter for its authors' layouts); ready for inference on ``device``.

    ``fake_class`` (``--fake-class``): for a checkpoint with a two-class head, the class index
    that means "fake", passed to the converter as ``fake_index``; ``None`` keeps the converter's
    default (each detector documents and argues its own)."""
    model = spec.build(pretrained=pretrained, input_size=input_size)
    state = convert_checkpoint(spec, load_checkpoint(path), fake_class)
    load_state_into(model, state, str(path))
    return model.to(device).to(memory_format=torch.channels_last).eval()


def convert_checkpoint(spec: DetectorSpec, obj, fake_class: int | None):
    """``spec.convert_state_dict(obj)``, with ``fake_index=fake_class`` when one is given."""
    if fake_class is None:
        return spec.convert_state_dict(obj)
    if fake_class not in (0, 1):
        raise GibenchError(f"--fake-class {fake_class}: a two-class head's fake class is 0 or 1")
    import inspect

    try:
        accepts = "fake_index" in inspect.signature(spec.convert_state_dict).parameters
    except (TypeError, ValueError):  # a builtin or C callable: no keyword to pass
        accepts = False
    if not accepts:
        raise GibenchError(f"--fake-class: detector {spec.name!r}'s checkpoint converter has no "
                           "two-class option (its heads have one logit); leave it out")
    return spec.convert_state_dict(obj, fake_index=fake_class)


class RunContext:
    """What a suite works with. Built by :func:`gibench.engine.run.run`."""

    def __init__(self, config: RunConfig, registry: Registry, run_dir: Path,
                 data_root: Path, dataset: str, resume: bool = False) -> None:
        self.config = config
        #: continue an interrupted run: finished trainings and evaluations are read back from
        #: the run directory, an unfinished training continues from its last epoch
        self.resume = resume
        self.registry = registry
        self.run_dir = run_dir
        self.data_root = data_root
        self.dataset = dataset
        #: the dataset's conventions: split and label folder names, default training subset
        self.dataset_spec: DatasetSpec = registry.dataset(dataset)
        #: the split that evaluations read unless a suite asks for another
        self.eval_split = self.dataset_spec.eval_split
        self.spec: DetectorSpec = registry.detector(config.detector)
        self.suite: SuiteSpec = registry.suite(config.suite)
        self.device = resolve_device(config.device)
        #: the torchrun job (one process without torchrun): rank 0 alone writes outputs
        self.job: Dist = dist_init(self.device.type)
        self.device = device_for(self.job, self.device)
        #: what the models run in during evaluations (fp32 on the CPU whatever was asked)
        self.eval_precision = eval_precision(self.device, config.eval_precision)
        self.progress = config.progress and self.job.main
        pretrained = config.pretrained is not None or config.weights is not None
        self.budget: Budget = self.dataset_spec.budget_for(self.spec, pretrained)
        self.input_size = config.input_size or self.budget.input_size
        load = self.budget.load_size
        if config.input_size and load is not None:
            load = round(load * config.input_size / self.budget.input_size)
        self.load_size = load
        pre = self.spec.preprocess
        self.train_transform = pre.make_train(self.input_size, self.load_size)
        #: the held-out selection during training: the authors' evaluation transform
        self.selection_transform = pre.make_eval(self.input_size, self.load_size)
        #: test evaluations and calibration: the run's --eval-transform policy
        self.eval_policy = check_policy(config.eval_transform)
        self.eval_transform = (self.selection_transform if self.eval_policy == DEFAULT_POLICY
                               else policy_transform(self.eval_policy, pre, self.input_size,
                                                     self.load_size, repr(self.spec.name)))
        self.normalizer = Normalizer.of(pre, self.device)
        recipe = self.spec.recipe
        self.batch_size = config.batch_size or recipe.batch_size
        self.epochs = config.epochs if config.epochs is not None else self.budget.epochs
        self.lr = config.lr if config.lr is not None else recipe.lr * self.budget.lr_scale
        self.workers = config.workers if config.workers is not None else default_workers()
        from gibench.data import align as alignment

        #: --align / --train-align, parsed now so that a bad value fails before any work
        self.alignments = [alignment.parse_align(t) for t in config.align]
        self.train_alignments = [alignment.parse_align(t) for t in config.train_align]
        self.align = alignment.compose(self.alignments)
        self.train_align = alignment.compose(self.train_alignments)
        self.align_label = alignment.label(self.alignments)
        #: the ``--degradation`` settings, resolved now so that a bad name fails before any work
        self.settings: list[Setting] = self._requested_settings()
        self.rows: list[dict[str, Any]] = []
        self.scores: list[pd.DataFrame] = []
        self.bad: dict[str, list[tuple[str, str]]] = {}
        self.timings: dict[str, float] = {}
        self.trainings: dict[str, dict[str, Any]] = {}
        #: with --weights: where the calibrated threshold came from (None: not calibrated)
        self.calibration: dict[str, Any] | None = None
        self._models: dict[str | None, TrainedModel] = {}
        self._indexes: dict[tuple[str, str], ImageIndex] = {}
        #: set when this run was evaluated in one pass with other runs (``gibench eval`` with
        #: several weights): the run directories of that pass, recorded in ``run.json``
        self.shared_pass: dict[str, Any] | None = None
        #: what each evaluation read from and wrote to the decode cache (``--decode-cache``)
        self.decode_cache_records: list[dict[str, Any]] = []

    # -- names ---------------------------------------------------------------------------
    def subset_spec(self, name: str) -> SubsetSpec:
        if name in self.config.subset_dirs:
            folder, label = self.config.subset_dirs[name]
            return SubsetSpec(name, name, "user folder", self.dataset, (str(folder),),
                              description=f"{folder} (all {'fake' if label else 'real'})")
        spec = self.registry.subset(name)
        if spec.dataset != self.dataset:
            raise GibenchError(f"subset {spec.name!r} belongs to dataset {spec.dataset!r}, but "
                               f"this run is on {self.dataset!r} (data root {self.data_root})")
        return spec

    @property
    def train_subset(self) -> str:
        """The subset asked for, else the dataset's default
        (:func:`gibench.data.datasets.default_train_subset`)."""
        if self.config.train_subset:
            return self.subset_spec(self.config.train_subset).name
        if not hasattr(self, "_default_train_subset"):
            from gibench.data.datasets import default_train_subset

            self._default_train_subset = default_train_subset(self.registry, self.dataset_spec,
                                                              self.data_root)
        return self._default_train_subset

    @property
    def test_subsets(self) -> list[str]:
        if self.config.test_subsets:
            return [self.subset_spec(n).name for n in self.config.test_subsets]
        return [s.name for s in self.registry.subsets(self.dataset)] + list(
            self.config.subset_dirs)

    @property
    def subsets(self) -> list[SubsetSpec]:
        """The specs of this run's subsets: its dataset's, then its ``subset_dirs`` folders
        (what its tables show and average over)."""
        return self.registry.subsets(self.dataset) + [self.subset_spec(name)
                                                      for name in self.config.subset_dirs]

    def setting(self, spec: DegradationSpec | str, strength: float | None = None) -> Setting:
        """A degradation at a strength as an evaluation :class:`Setting` (named ``NAME:VALUE``);
        the spec may be given by name or alias."""
        if isinstance(spec, str):
            spec = self.registry.degradation(spec)
        if strength is None:
            strength = spec.default
        if strength is None:
            example = (spec.paper_settings or spec.sweep or (1,))[0]
            raise GibenchError(f"degradation {spec.name!r} needs a {spec.parameter} "
                               f"(e.g. --degradation {spec.name}:{example:g})")
        return Setting(f"{spec.name}:{strength:g}", spec, float(strength))

    def _requested_settings(self) -> list[Setting]:
        from gibench.settings import parse_degradation

        return [self.setting(*parse_degradation(text)) for text in self.config.degradations]

    def index(self, subset: str, split: str) -> ImageIndex:
        key = (subset, split)
        if key not in self._indexes:
            t = time.perf_counter()
            if subset in self.config.subset_dirs:  # a user's folder: every split is the folder
                folder, label = self.config.subset_dirs[subset]
                self._indexes[key] = index_folder(folder, label, subset, split)
            else:
                self._indexes[key] = index_subset(self.data_root, self.subset_spec(subset),
                                                  split, self.dataset_spec)
            self._add_time("index", time.perf_counter() - t)
        return self._indexes[key]

    def check_available(self, subsets: list[str]) -> None:
        """Fail before any work when a needed subset folder is missing."""
        for name in subsets:
            if name in self.config.subset_dirs:
                self.index(name, self.eval_split)  # fails now if the folder has no image
            else:
                locate_subset(self.data_root, self.subset_spec(name), self.dataset_spec)

    # -- models --------------------------------------------------------------------------
    def _build(self) -> torch.nn.Module:
        return self.spec.build(pretrained=self.config.pretrained, input_size=self.input_size)

    def load_weights(self, path: Path) -> TrainedModel:
        """The weights at ``path``, with the threshold calibrated on the held-out part of the
        training subset when its data is here (see :func:`load_weights_shared`)."""
        return load_weights_shared([(self, Path(path))])[0]

    def _calibration_holdout(self) -> ImageIndex | None:
        """The held-out part of the training subset that given weights are calibrated on;
        ``None`` when its data is not here."""
        try:
            full = self.index(self.train_subset, self.dataset_spec.train_split)
        except GibenchError:
            return None
        if len(full) <= 1:
            return None
        return stratified_holdout(full, self.config.holdout_fraction, self.config.seed)[1]

    def model_for(self, train_subset: str | None, *, index: ImageIndex | None = None,
                  tag: str | None = None) -> TrainedModel:
        """The model trained on ``train_subset`` (trained now, once), or the given weights.

        ``index`` trains on that part of the subset's ``train`` split instead of all of it
        (the data-scale study); ``tag`` then names the model (its folder under ``train/``, its
        key in ``run.json`` and its rows' ``train_subset``)."""
        if self.config.weights is not None:
            if None not in self._models:
                self._models[None] = self.load_weights(self.config.weights)
            return self._models[None]
        if train_subset is None:
            raise GibenchError(f"suite {self.suite.name!r} needs weights: pass --weights PATH")
        key = tag or train_subset
        if key in self._models:
            return self._models[key]
        full = (index if index is not None
                else self.index(train_subset, self.dataset_spec.train_split))
        kept, held = stratified_holdout(full, self.config.holdout_fraction, self.config.seed)
        torch.manual_seed(self.config.seed)
        model = self._build()
        out_dir = self.run_dir / "train" / key
        done = out_dir / "training.json"
        if self.resume and done.is_file():  # trained before the interruption
            record = json.loads(done.read_text())
            bad = [tuple(b) for b in record.pop("bad_files")]
            if bad:
                self.bad.setdefault(f"{train_subset}/train", []).extend(bad)
            self.trainings[key] = record
            model.load_state_dict(load_checkpoint(out_dir / "model.pt"))
            model.to(self.device).to(memory_format=torch.channels_last)
            trained = TrainedModel(model.eval(), key, out_dir / "model.pt",
                                   self.trainings[key]["sha256"],
                                   threshold=record["calibration"]["threshold"])
            self._models[key] = trained
            return trained
        cfg = TrainConfig(self.spec.recipe, self.epochs,
                          per_process_batch(self.batch_size, self.job), self.lr, self.workers,
                          self.config.seed, self.config.skip_bad_images, self.progress, self.job,
                          self.train_align, self.eval_precision)
        result = train(model, kept, held, train_transform=self.train_transform,
                       eval_transform=self.selection_transform, normalizer=self.normalizer,
                       device=self.device, config=cfg, out_dir=out_dir, resume=self.resume)
        self._add_time("train", result.seconds)
        if result.bad:
            self.bad.setdefault(f"{train_subset}/train", []).extend(result.bad)
        ckpt = out_dir / "model.pt"
        self.trainings[key] = {
            "holdout": {"fraction": self.config.holdout_fraction, "seed": self.config.seed,
                        "stratified": True, "n_train": len(kept), "n_holdout": len(held)},
            "best_epoch": result.best_epoch, "best_holdout": result.best_holdout,
            "history": result.history, "seconds": result.seconds,
            "images_per_second": result.images_seen / max(result.seconds, 1e-9),
            "checkpoint": str(ckpt.relative_to(self.run_dir)), "sha256": sha256_file(ckpt),
            "stopped_early": result.stopped_early,
        }
        self.trainings[key]["calibration"] = self._calibrate(model, held)
        if self.job.main:  # marks the training finished (read back by --resume)
            atomic_write_json(done, {**self.trainings[key], "bad_files": result.bad})
        trained = TrainedModel(model.eval(), key, ckpt, self.trainings[key]["sha256"],
                               threshold=self.trainings[key]["calibration"]["threshold"])
        self._models[key] = trained
        return trained

    def _calibrate(self, model: torch.nn.Module, held: ImageIndex) -> dict[str, Any]:
        """The accuracy-maximising threshold on the held-out part of the training subset: a
        calibrated threshold that never looks at a test split (reported as such)."""
        return _calibrations([(self, model)], held)[0]

    def release(self, train_subset: str) -> None:
        """Forget the model trained on ``train_subset`` (its checkpoint stays on disk): suites
        that train several models keep one in memory at a time."""
        self._models.pop(train_subset, None)

    # -- evaluation ----------------------------------------------------------------------
    def evaluate(self, trained: TrainedModel, test_subset: str, split: str | None = None,
                 degradation: str = "none") -> dict[str, Any]:
        """Score ``test_subset``'s ``split`` (default :attr:`eval_split`) with ``trained``; add
        and return the result row (its ``degradation`` column says ``degradation``)."""
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

    def order_by_model(self, train_subsets: Sequence[str]) -> None:
        """Sort the rows and per-image scores by training subset, in this order (stably: each
        model's rows keep their order). A suite that evaluates many models per test subset in
        one pass then writes its tables model by model, as evaluating the models one after
        another would have."""
        rank = {name: k for k, name in enumerate(train_subsets)}
        self.rows.sort(key=lambda row: rank.get(row["train_subset"], len(rank)))
        if self.scores:
            frame = self.scores_frame()
            keys = frame["train_subset"].map(lambda name: rank.get(name, len(rank)))
            order = np.argsort(keys.to_numpy(), kind="stable")
            self.scores = [frame.iloc[order].reset_index(drop=True)]

    @property
    def eval_batch_size(self) -> int:
        """Images per evaluation batch: twice the training batch (no gradients to keep), or in
        a pass shared with other runs the pass's (the smallest of its runs', as recorded)."""
        if self.shared_pass is not None:
            return int(self.shared_pass["eval_batch_size"])
        return self.batch_size * 2

    # -- fast evaluation (issue 6): --compile, and where the evaluation time went ---------
    def _eval_model(self, trained: TrainedModel) -> torch.nn.Module:
        """The module that evaluates: ``trained.model``, compiled once with ``--compile``."""
        if not self.config.compile:
            return trained.model
        if trained.compiled is None:
            trained.compiled = compile_for_eval(trained.model)
        return trained.compiled

    def _add_eval_timings(self, scores: Scores) -> None:
        """``eval_wait_data``, ``eval_transfer``, ``eval_preprocess``, ``eval_model``: the
        phases of :data:`gibench.engine.evaluate.PHASES`, summed over the evaluations."""
        for phase, seconds in scores.timings.items():
            self._add_time(f"eval_{phase}", seconds)
    # -- end of fast evaluation ----------------------------------------------------------

    def _shard(self, index: ImageIndex) -> ImageIndex:
        """This rank's disjoint part of ``index`` (all of it without torchrun)."""
        if not self.job.enabled:
            return index
        return index.subsample(shard(len(index), self.job))

    def _gathered(self, index: ImageIndex, part: ImageIndex, scores: Scores) -> Scores:
        """Every rank's scores of its part of ``index``, as one :class:`Scores` in index order
        on every rank — the same as one process scoring all of it."""
        if not self.job.enabled:
            return scores
        positions = shard(len(index), self.job)[scores.positions]
        parts = gather_objects((positions, scores.logits, scores.bad, scores.seconds), self.job)
        pos = np.concatenate([p[0] for p in parts])
        order = np.argsort(pos, kind="stable")
        logits = np.concatenate([p[1] for p in parts])[order]
        bad = sorted(b for p in parts for b in p[2])
        return Scores(index, pos[order], logits, bad, max(p[3] for p in parts),
                      scores.timings)  # this rank's breakdown

    def _partial(self, trained: TrainedModel, test_subset: str, split: str,
                 degradations: list[str]) -> tuple[list[Any], Path, Path]:
        """(what, record file, scores file) of one evaluation's files under ``partial/``: the
        name is a digest of the model, its test subset, split and degradations."""
        what = [trained.train_subset or "(weights)", trained.sha256, test_subset, split,
                degradations]
        stem = hashlib.sha1(json.dumps(what).encode()).hexdigest()[:16]
        folder = self.run_dir / "partial"
        return what, folder / f"eval-{stem}.json", folder / f"eval-{stem}.csv"

    def _is_saved(self, trained: TrainedModel, test_subset: str, split: str,
                  degradations: list[str]) -> bool:
        """Whether ``--resume`` reads this evaluation back instead of computing it."""
        return self.resume and self._partial(trained, test_subset, split,
                                             degradations)[1].is_file()

    def _saved(self, trained: TrainedModel, test_subset: str, split: str,
               degradations: list[str], compute) -> list[dict[str, Any]]:
        """Run ``compute`` (which adds rows and scores) and save what it added atomically under
        ``partial/``; with ``--resume``, an evaluation saved before the interruption is read
        back instead of computed again."""
        what, done, scores_csv = self._partial(trained, test_subset, split, degradations)
        if self._is_saved(trained, test_subset, split, degradations):
            saved = json.loads(done.read_text())
            self.rows.extend(saved["rows"])
            self.scores.append(pd.read_csv(scores_csv, keep_default_na=False,
                                           dtype={"path": str}))
            for key, files in saved["bad"].items():
                self.bad.setdefault(key, []).extend(tuple(b) for b in files)
            return saved["rows"]
        n_rows, n_scores = len(self.rows), len(self.scores)
        bad_before = {k: len(v) for k, v in self.bad.items()}
        compute()
        rows = self.rows[n_rows:]
        bad = {k: v[bad_before.get(k, 0):] for k, v in self.bad.items()
               if len(v) > bad_before.get(k, 0)}
        if self.job.main:
            done.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_csv(scores_csv, pd.concat(self.scores[n_scores:], ignore_index=True))
            atomic_write_json(done, {"what": what, "rows": rows, "bad": bad})  # written last
        return rows

    def _record_scores(self, trained: TrainedModel, test_subset: str, split: str,
                       by_setting: dict[str, Scores], clean_label: str | None) -> None:
        """Add the rows and scores of one model's evaluation: one clean row labelled
        ``clean_label`` (as :meth:`evaluate`), or one row per setting (as
        :meth:`evaluate_settings`, the bad files counted once)."""
        if clean_label is not None:
            self._record(trained, test_subset, split, clean_label, by_setting["none"])
            return
        first = next(iter(by_setting.values()))
        if first.bad:
            self.bad.setdefault(f"{test_subset}/{split}", []).extend(first.bad)
        for name, scores in by_setting.items():
            self._record(trained, test_subset, split, name, scores, count_bad=False)

    def _record(self, trained: TrainedModel, test_subset: str, split: str, degradation: str,
                scores: Scores, count_bad: bool = True) -> dict[str, Any]:
        index = scores.index
        train_name = trained.train_subset or "(weights)"
        if scores.bad and count_bad:
            self.bad.setdefault(f"{test_subset}/{split}", []).extend(scores.bad)
        if len(scores.logits) == 0:
            raise GibenchError(f"no image of {test_subset}/{split} could be decoded")
        probs = sigmoid(scores.logits)
        metrics = extended_metrics(scores.labels, probs, seed=self.config.seed)
        calibrated = trained.threshold if trained.threshold is not None else float("nan")
        both = metrics["n_real"] > 0 and metrics["n_fake"] > 0
        oracle = threshold_for(scores.labels, probs, "acc") if both else float("nan")
        row = {"detector": self.spec.name, "suite": self.suite.name, "dataset": self.dataset,
               "train_subset": train_name, "test_subset": test_subset,
               "degradation": degradation, "align": self.align_label,
               "eval_transform": self.eval_policy,
               "n_real": metrics["n_real"],
               "n_fake": metrics["n_fake"], "n_skipped": len(scores.bad),
               **{k: metrics[k] for k in ("acc", "real_acc", "fake_acc", "auc", "ap",
                                          *EXTENDED_COLUMNS)},
               "threshold_calibrated": calibrated,
               "acc_calibrated": (accuracy_at(scores.labels, probs, calibrated)["acc"]
                                  if calibrated == calibrated else float("nan")),
               "threshold_oracle": oracle,
               "acc_oracle": (accuracy_at(scores.labels, probs, oracle)["acc"]
                              if both else float("nan"))}
        self.rows.append(row)
        root = index.root
        rel = [str((root / p).relative_to(self.data_root)) if root.is_relative_to(self.data_root)
               else str(root / p) for p in scores.paths]
        self.scores.append(pd.DataFrame({
            "train_subset": train_name, "test_subset": test_subset,
            "degradation": degradation, "path": rel,
            "label": scores.labels.astype(np.int64), "logit": scores.logits, "score": probs,
        }, columns=SCORE_COLUMNS))
        return row

    # -- records -------------------------------------------------------------------------
    def results_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=RESULT_COLUMNS)

    def scores_frame(self) -> pd.DataFrame:
        if not self.scores:
            return pd.DataFrame(columns=SCORE_COLUMNS)
        return pd.concat(self.scores, ignore_index=True)

    def _add_time(self, key: str, seconds: float) -> None:
        self.timings[key] = self.timings.get(key, 0.0) + seconds


def load_weights_shared(members: Sequence[tuple[RunContext, Path]]) -> list[TrainedModel]:
    """Each context's weights, loaded, each threshold calibrated on its context's held-out
    part of the training subset (when that data is here; the context records where the
    threshold came from in ``calibration``). Contexts that calibrate on the same held-out
    images (one data root, training subset, fraction, seed and ``--train-align``) score them
    in one pass."""
    models = [load_detector(ctx.spec, path, ctx.input_size, ctx.device, ctx.config.pretrained,
                            ctx.config.fake_class)
              for ctx, path in members]
    groups: dict[tuple, list[int]] = {}
    helds: dict[tuple, ImageIndex] = {}
    for k, (ctx, _) in enumerate(members):
        key = (str(ctx.data_root), ctx.train_subset, ctx.config.holdout_fraction,
               ctx.config.seed, tuple(ctx.config.train_align), ctx.config.skip_bad_images)
        if key not in helds:
            held = ctx._calibration_holdout()
            if held is None:
                continue
            helds[key] = held
        groups.setdefault(key, []).append(k)
    for key, ks in groups.items():
        calibrations = _calibrations([(members[k][0], models[k]) for k in ks], helds[key])
        for k, calibration in zip(ks, calibrations, strict=True):
            ctx = members[k][0]
            ctx.calibration = {**calibration, "subset": ctx.train_subset}
    out = []
    for (ctx, path), model in zip(members, models, strict=True):
        threshold = ctx.calibration["threshold"] if ctx.calibration else None
        out.append(TrainedModel(model, None, path, sha256_file(path), threshold=threshold))
    return out


def _calibrations(members: Sequence[tuple[RunContext, torch.nn.Module]],
                  held: ImageIndex) -> list[dict[str, Any]]:
    """Each model's accuracy-maximising threshold on ``held`` (a held-out part of a training
    subset, the same for all), its images decoded once for all the models."""
    lead = members[0][0]
    heads = [Head(model, ctx.eval_transform, ctx.normalizer) for ctx, model in members]
    all_scores = predict_many(heads, held, device=lead.device,
                              batch_size=min(ctx.eval_batch_size for ctx, _ in members),
                              workers=lead.workers, skip_bad=lead.config.skip_bad_images,
                              seed=lead.config.seed, desc="calibration",
                              progress=lead.progress, align=lead.train_align,
                              precision=lead.eval_precision)
    out = []
    for scores in all_scores:
        labels = scores.labels
        if not (labels == 0).any() or not (labels == 1).any():
            out.append({"threshold": None, "split": "held-out part of train", "n": len(labels)})
            continue
        out.append({"threshold": threshold_for(labels, sigmoid(scores.logits), "acc"),
                    "rule": "max accuracy", "split": "held-out part of train",
                    "n_real": int((labels == 0).sum()), "n_fake": int((labels == 1).sum())})
    return out


def evaluate_shared(members: Sequence[tuple[RunContext, TrainedModel]], test_subset: str,
                    settings: list[Setting] | None = None, split: str | None = None,
                    label: str = "none") -> list[list[dict[str, Any]]]:
    """Evaluate every (context, model) pair on ``test_subset`` in one pass over its files.

    The pairs may belong to one context (the matrix suite's models) or to several (``gibench
    eval`` with several detectors or weights: one run directory each); the contexts must read
    the same data the same way (data root, ``--align``, seed, workers, device: the callers
    check). Each pair gets exactly what an evaluation of it alone would give it: without
    ``settings`` one clean row labelled ``label`` (:meth:`RunContext.evaluate`), else one row
    per setting (:meth:`RunContext.evaluate_settings`); the same scores, bad files and
    ``partial/`` files in its context. With ``--resume`` the pairs whose evaluation was saved
    are read back and only the others are scored, in one pass. ``split`` defaults to the
    dataset's evaluation split (:attr:`RunContext.eval_split`). Returns each pair's rows."""
    split = split or members[0][0].eval_split
    names = [s.name for s in settings] if settings is not None else [label]
    pending = [k for k, (ctx, trained) in enumerate(members)
               if not ctx._is_saved(trained, test_subset, split, names)]
    computed = dict(zip(pending, _score_pass([members[k] for k in pending], test_subset,
                                              settings, split) if pending else [],
                        strict=True))
    clean_label = None if settings is not None else label
    out = []
    for k, (ctx, trained) in enumerate(members):
        def compute(k: int = k, ctx: RunContext = ctx, trained: TrainedModel = trained) -> None:
            ctx._record_scores(trained, test_subset, split, computed[k], clean_label)

        out.append(ctx._saved(trained, test_subset, split, names, compute))
    return out


def _score_pass(members: list[tuple[RunContext, TrainedModel]], test_subset: str,
                settings: list[Setting] | None, split: str) -> list[dict[str, Scores]]:
    """One pass over ``test_subset``'s files for every pair: per pair, its :class:`Scores` per
    setting name (``"none"`` alone without ``settings``), gathered over the torchrun job. The
    pass's time is added once to each context's timings.

    The batch size is the smallest of the contexts' :attr:`RunContext.eval_batch_size`: the
    largest that each model is known to fit (the same for every model of one context)."""
    lead = members[0][0]
    index = lead.index(test_subset, split)
    part = lead._shard(index)
    heads = [Head(ctx._eval_model(trained), ctx.eval_transform, ctx.normalizer)
             for ctx, trained in members]
    options = dict(device=lead.device, batch_size=min(ctx.eval_batch_size for ctx, _ in members),
                   workers=lead.workers, skip_bad=lead.config.skip_bad_images,
                   seed=lead.config.seed, progress=lead.progress, align=lead.align,
                   precision=lead.eval_precision)
    many = f" ({len(heads)} models)" if len(heads) > 1 else ""
    cache = _decode_cache(members, part) if settings is None else None
    if settings is not None:
        raw = predict_settings_many(heads, part, settings,
                                    desc=f"eval {test_subset} ×{len(settings)}{many}",
                                    **options)
    elif len(heads) == 1:  # a lone model goes through ``predict`` itself
        head = heads[0]
        raw = [{"none": predict(head.model, part, head.transform, normalizer=head.normalizer,
                                desc=f"eval {test_subset}", cache=cache, **options)}]
    else:
        raw = [{"none": scores} for scores in predict_many(heads, part,
                                                           desc=f"eval {test_subset}{many}",
                                                           cache=cache, **options)]
    if cache is not None:  # what the pass read and wrote
        for ctx in {id(ctx): ctx for ctx, _ in members}.values():
            ctx.decode_cache_records.append({"subset": part.subset, "split": part.split,
                                             "used": True, **cache.record()})
    out = [{name: ctx._gathered(index, part, scores) for name, scores in by_setting.items()}
           for (ctx, _), by_setting in zip(members, raw, strict=True)]
    first = next(iter(out[0].values()))
    for ctx in {id(ctx): ctx for ctx, _ in members}.values():
        ctx._add_time("eval", first.seconds)
        ctx._add_eval_timings(first)
    return out


def _decode_cache(members: list[tuple[RunContext, TrainedModel]], part: ImageIndex):
    """With ``--decode-cache``, the cache of ``part`` under the members' one evaluation
    transform (recorded in each member's ``run.json``); ``None`` without it, or when the
    members' transforms differ (a pass of several detectors decodes, as without a cache)."""
    from gibench.cache import default_cache_dir
    from gibench.data.decoded_cache import DecodedCache

    ctx = members[0][0]
    if not ctx.config.decode_cache:
        return None
    why = ("the pass's models differ in transform"
           if any(other.eval_transform is not ctx.eval_transform for other, _ in members)
           else "native-size inputs (--eval-transform native)" if is_native(ctx.eval_transform)
           else None)
    if why is not None:
        for other in {id(c): c for c, _ in members}.values():
            other.decode_cache_records.append({"subset": part.subset, "used": False,
                                               "why": why})
        return None
    description = (f"{ctx.spec.name} eval input {ctx.input_size} load {ctx.load_size} "
                   f"align {ctx.align_label} policy {ctx.eval_policy}")
    return DecodedCache(default_cache_dir() / "decoded", part, ctx.eval_transform, description)


def share_eval_transforms(contexts: Sequence[RunContext]) -> None:
    """Contexts of one detector at one input and load size, under one evaluation policy, use one
    evaluation transform object, so that a pass shared by their models runs it once per image
    for all of them (the transform is built from those four alone, so nothing else changes)."""
    first: dict[tuple[str, int, int | None, str], Any] = {}
    for ctx in contexts:
        key = (ctx.spec.name, ctx.input_size, ctx.load_size, ctx.eval_policy)
        ctx.eval_transform = first.setdefault(key, ctx.eval_transform)
