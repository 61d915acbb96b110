"""What a run's configuration resolves to: names through the registry, then one typed record.

:class:`Names` turns the names a run was given (subsets, degradations, aliases included) into
the registry's canonical specs, for the run's dataset. :func:`resolve` computes, once, every
fact the run works with — sizes, budget, epochs, batch size, lr, workers, evaluation policy,
alignments, degradation settings — as one :class:`Resolved` record: ``run.json``'s
``resolved`` and the training configuration are both built from it, never recomputed.
:class:`RunTransforms` are the detector's transforms at the resolved sizes.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from gibench.data.dataset import default_workers
from gibench.data.eval_policy import DEFAULT_POLICY, check_policy
from gibench.data.eval_policy import eval_transform as policy_transform
from gibench.engine.config import RunConfig
from gibench.engine.device import Normalizer
from gibench.engine.evaluate import Setting
from gibench.errors import GibenchError
from gibench.registry import AmbiguousNameError, Registry
from gibench.rundir import WeightsMeta, read_weights_meta
from gibench.specs import (
    Budget,
    DatasetSpec,
    DegradationSpec,
    DetectorSpec,
    Recipe,
    SubsetSpec,
    Transform,
)


class Names:
    """The run's names resolved through the registry, for its datasets (and the user's folders
    given with ``--subset-dir``).

    A run has a training dataset (:attr:`dataset`) and may read others (``roots``: every
    dataset of the run and its root, the training dataset first). A subset of the run is named
    by its *run name*: its plain canonical name in the training dataset, ``DATASET/NAME`` in
    another (:meth:`run_name`): so a run of one dataset names its subsets as always, and two
    datasets' ``biggan`` stay apart."""

    def __init__(self, registry: Registry, dataset: str, data_root: Path,
                 subset_dirs: dict[str, tuple[Path, int]],
                 roots: dict[str, Path] | None = None,
                 extra_roots: dict[str, dict[str, Path]] | None = None) -> None:
        self.registry = registry
        #: the training dataset
        self.dataset = dataset
        #: the training dataset's conventions: split and label folder names, default training
        #: subset
        self.dataset_spec: DatasetSpec = registry.dataset(dataset)
        self.data_root = data_root
        self.subset_dirs = subset_dirs
        #: every dataset of the run and its root, the training dataset first
        self.roots: dict[str, Path] = dict(roots or {dataset: data_root})
        self.extra_roots: dict[str, dict[str, Path]] = dict(extra_roots or {})

    @property
    def datasets(self) -> list[str]:
        """The run's datasets, the training dataset first."""
        return list(self.roots)

    @property
    def several(self) -> bool:
        """Whether the run reads several datasets."""
        return len(self.roots) > 1

    def root_of(self, dataset: str) -> Path:
        return self.roots[dataset]

    def extra_roots_of(self, dataset: str) -> dict[str, Path]:
        return dict(self.extra_roots.get(dataset, {}))

    def dataset_spec_of(self, dataset: str) -> DatasetSpec:
        return self.dataset_spec if dataset == self.dataset else self.registry.dataset(dataset)

    def run_name(self, spec: SubsetSpec) -> str:
        """How the run names ``spec``: plain in the training dataset, else ``DATASET/NAME``."""
        return spec.name if spec.dataset == self.dataset else f"{spec.dataset}/{spec.name}"

    def subset_spec(self, name: str) -> SubsetSpec:
        """The spec of subset ``name`` (a run name, ``DATASET/NAME``, an alias, or a
        ``--subset-dir`` folder's name; a plain name resolved within the training dataset
        first); a subset of a dataset the run has no root for is refused."""
        if name in self.subset_dirs:
            folder, label = self.subset_dirs[name]
            return SubsetSpec(name, name, "user folder", self.dataset, (str(folder),),
                              description=f"{folder} (all {'fake' if label else 'real'})")
        try:
            spec = self.registry.subset(name, self.dataset)
        except AmbiguousNameError as exc:  # several datasets have it, the run's have not
            owners = ", ".join(repr(key.split("/", 1)[0]) for key in exc.keys)
            raise GibenchError(f"subset {name!r} belongs to datasets {owners}, but this run is "
                               f"on {', '.join(map(repr, self.roots))} (data root "
                               f"{self.data_root}): name one as DATASET/{name}") from exc
        spec = self.registry.subset(name, self.dataset)
        if spec.dataset not in self.roots:
            raise GibenchError(
                f"subset {spec.name!r} belongs to dataset {spec.dataset!r}, but this run is on "
                f"{', '.join(map(repr, self.roots))} (data root {self.data_root}): give "
                f"{spec.dataset!r} a root too, {{data_root=}}{spec.dataset}=PATH",
                params=["data_root"])
        return spec

    def eval_split_of(self, name: str) -> str:
        """The evaluation split of subset ``name``'s dataset."""
        if name in self.subset_dirs:
            return self.dataset_spec.eval_split
        return self.dataset_spec_of(self.subset_spec(name).dataset).eval_split

    def train_subset(self, requested: str | None) -> str:
        """The training subset's run name: ``requested`` (canonical), else the training
        dataset's default (:func:`gibench.data.datasets.default_train_subset`)."""
        from gibench.data.datasets import default_train_subset

        if requested:
            spec = self.subset_spec(requested)
            if spec.dataset != self.dataset:
                raise GibenchError(f"{{train_subset}} {requested}: a subset of "
                                   f"{spec.dataset!r}, but the run trains on {self.dataset!r} "
                                   "({dataset})", params=["train_subset", "dataset"])
            return spec.name
        return default_train_subset(self.registry, self.dataset_spec, self.data_root)

    def test_subsets(self, requested: list[str] | None) -> list[str]:
        """The test subsets' run names: ``requested`` (canonical), else every subset of every
        dataset of the run that has its dataset's evaluation split, dataset by dataset, then the
        user's folders."""
        from gibench.data.layout import subset_splits

        if requested:  # and the user's folders, asked for by giving them (--subset-dir)
            named = [self.run_name(self.subset_spec(n)) for n in requested]
            return named + [n for n in self.subset_dirs if n not in named]
        out = []
        for dataset in self.roots:
            ds = self.dataset_spec_of(dataset)
            out += [self.run_name(s) for s in self.registry.subsets(dataset)
                    if ds.eval_split in subset_splits(s, ds)]
        return out + list(self.subset_dirs)

    def run_subsets(self) -> list[SubsetSpec]:
        """The specs of the run's subsets: its datasets', then its ``--subset-dir`` folders
        (what its tables show and average over)."""
        return ([s for dataset in self.roots for s in self.registry.subsets(dataset)]
                + [self.subset_spec(name) for name in self.subset_dirs])

    def dataset_subsets(self, dataset: str | None = None) -> list[SubsetSpec]:
        """The specs of a dataset's registered subsets (default: the training dataset's), in
        registration order."""
        return self.registry.subsets(dataset or self.dataset)

    def degradation(self, name: str) -> DegradationSpec:
        return self.registry.degradation(name)

    def setting(self, spec: DegradationSpec | str, strength: float | None = None) -> Setting:
        """A degradation at a strength as an evaluation :class:`Setting` (named ``NAME:VALUE``);
        the spec may be given by name or alias, the strength left out for its default."""
        if isinstance(spec, str):
            spec = self.registry.degradation(spec)
        if strength is None:
            strength = spec.default
        if strength is None:
            example = (spec.paper_settings or spec.sweep or (1,))[0]
            raise GibenchError(f"degradation {spec.name!r} needs a {spec.parameter} "
                               f"(e.g. {{degradations=}}{spec.name}:{example:g})",
                               params=["degradations"])
        return Setting(f"{spec.name}:{strength:g}", spec, float(strength))

    def settings(self, texts: list[str]) -> list[Setting]:
        """``NAME:STRENGTH`` texts (``--degradation``) as settings."""
        from gibench.settings import parse_degradation

        return [self.setting(*parse_degradation(text)) for text in texts]


@dataclass(frozen=True)
class Resolved:
    """Every fact of a run that its configuration leaves to the engine, computed once by
    :func:`resolve`: ``run.json``'s ``resolved`` (:meth:`record`) and the training
    configuration are built from it."""

    detector: str
    suite: str
    #: the training dataset (the run's only one, or the dataset of its training subset)
    dataset: str
    data_root: Path
    #: the training subset: the one trained on, or with given weights the one whose held-out
    #: part calibrates their threshold
    train_subset: str
    test_subsets: tuple[str, ...]
    input_size: int
    load_size: int | None
    #: where the sizes came from: the weights' record (:class:`gibench.rundir.WeightsMeta`),
    #: ``--input-size`` or the dataset's budget
    sizes_from: str
    epochs: int
    batch_size: int
    lr: float
    workers: int
    budget: Budget
    #: the dataset's split names: trained on (and calibrated on), and evaluated on by default
    train_split: str | None
    eval_split: str
    #: the dataset's label folders (folder name -> label)
    labels: tuple[tuple[str, int], ...]
    #: the ``--degradation`` settings
    settings: tuple[Setting, ...]
    #: ``--align`` and ``--train-align``, parsed (:mod:`gibench.data.align`)
    alignments: tuple[Any, ...]
    train_alignments: tuple[Any, ...]
    #: the ``--eval-transform`` policy (:mod:`gibench.data.eval_policy`)
    eval_policy: str
    #: what the models run in during evaluations (fp32 on the CPU whatever was asked)
    eval_precision: str
    recipe: Recipe
    weights_given: bool
    #: the run's datasets, each with its root and its extra roots (name, folder), recorded
    #: when the run reads several datasets (empty otherwise)
    roots: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = ()

    @cached_property
    def align(self):
        """The test images' alignment as one callable (``None``: none)."""
        from gibench.data import align

        return align.compose(list(self.alignments))

    @cached_property
    def train_align(self):
        """The training and held-out images' alignment as one callable (``None``: none)."""
        from gibench.data import align

        return align.compose(list(self.train_alignments))

    @cached_property
    def align_label(self) -> str:
        """The test alignment as result rows show it."""
        from gibench.data import align

        return align.label(list(self.alignments))

    def record(self) -> dict[str, Any]:
        """``run.json``'s ``resolved``."""
        return {
            "detector": self.detector, "suite": self.suite, "dataset": self.dataset,
            "data_root": str(self.data_root),
            "train_subset": None if self.weights_given else self.train_subset,
            "test_subsets": list(self.test_subsets),
            "input_size": self.input_size, "load_size": self.load_size,
            "sizes_from": self.sizes_from,
            "epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
            "workers": self.workers, "budget": self.budget.note,
            "degradations": [s.name for s in self.settings],
            "align": [a.name for a in self.alignments],
            "eval_transform": self.eval_policy,
            "train_align": [a.name for a in self.train_alignments],
            "recipe": dict(vars(self.recipe)),
            "labels": dict(self.labels),
            # a run of several datasets: each dataset's root (and extra roots), training first
            **({"datasets": {name: root for name, root, _ in self.roots}} if self.roots
               else {}),
            **({"extra_roots": {name: dict(extra) for name, _, extra in self.roots if extra}}
               if any(extra for _, _, extra in self.roots) else {}),
        }


def resolve(config: RunConfig, names: Names, spec: DetectorSpec, suite: str,
            eval_precision: str) -> Resolved:
    """The facts of ``config`` for ``spec`` on ``names``' dataset; a bad subset, degradation,
    alignment or policy name fails here, before any work."""
    from gibench.data import align

    pretrained = config.pretrained is not None or config.weights is not None
    dataset = names.dataset_spec
    budget = dataset.budget_for(spec, pretrained)
    input_size = config.input_size or budget.input_size
    load_size = budget.load_size
    if config.input_size and load_size is not None:
        load_size = round(load_size * config.input_size / budget.input_size)
    sizes_from = "--input-size" if config.input_size else budget.note
    meta = weights_meta(config.weights, spec.name, config.input_size)
    if meta is not None:
        input_size, load_size, sizes_from = meta.input_size, meta.load_size, meta.source
    recipe = spec.recipe
    return Resolved(
        detector=spec.name, suite=suite, dataset=names.dataset, data_root=names.data_root,
        # a test-only dataset evaluating given weights has no training subset ("")
        train_subset=("" if config.weights is not None and not config.train_subset
                      and dataset.train_split is None
                      else names.train_subset(config.train_subset)),
        test_subsets=tuple(names.test_subsets(config.test_subsets)),
        input_size=input_size, load_size=load_size, sizes_from=sizes_from,
        epochs=config.epochs if config.epochs is not None else budget.epochs,
        batch_size=config.batch_size or recipe.batch_size,
        lr=config.lr if config.lr is not None else recipe.lr * budget.lr_scale,
        workers=(cap_workers(config.workers) if config.workers is not None
                 else default_workers()),
        budget=budget,
        train_split=dataset.train_split, eval_split=dataset.eval_split,
        labels=tuple(dataset.label_folders.items()),
        settings=tuple(names.settings(config.degradations)),
        alignments=tuple(align.parse_align(t) for t in config.align),
        train_alignments=tuple(align.parse_align(t) for t in config.train_align),
        eval_policy=check_policy(config.eval_transform),
        eval_precision=eval_precision,
        recipe=recipe,
        weights_given=config.weights is not None,
        roots=tuple((dataset, str(root), tuple((extra, str(folder)) for extra, folder
                                               in names.extra_roots_of(dataset).items()))
                    for dataset, root in names.roots.items()) if names.several else (),
    )


def weights_meta(weights: Path | str | None, detector: str, input_size: int | None
                 ) -> WeightsMeta | None:
    """The record of how ``weights`` were trained (:func:`gibench.rundir.read_weights_meta`)
    when it is one of ``detector``'s; an ``input_size`` that contradicts it is refused (the
    weights would be scored at a size they never saw: 97.3% → 50.0% on mini)."""
    if weights is None:
        return None
    meta = read_weights_meta(weights)
    if meta is None:
        return None
    if meta.detector != detector:
        print(f"warning: {meta.source} trained detector {meta.detector!r}, not "
              f"{detector!r}: its sizes are not used", file=sys.stderr)
        return None
    if input_size is not None and input_size != meta.input_size:
        raise GibenchError(
            f"{{input_size=}}{input_size} contradicts {meta.source}: the weights {weights} "
            f"were trained at {meta.input_size} px (load size {meta.load_size}); leave "
            "{input_size} out to evaluate them as trained (or move the record aside to "
            "evaluate them at another size)", params=["input_size"])
    return meta


def usable_cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


#: The most DataLoader workers a run starts, whatever it asks (more only thrash).
MAX_WORKERS = 32


def cap_workers(workers: int) -> int:
    """``workers`` (``--workers``) at most twice the usable CPUs and :data:`MAX_WORKERS`,
    with a warning when capped (``--workers 1000`` took 327 s instead of 4)."""
    cap = min(2 * usable_cpus(), MAX_WORKERS)
    if workers > cap:
        print(f"warning: --workers {workers} is more than this machine can use; using {cap} "
              f"(twice the {usable_cpus()} usable CPUs, at most {MAX_WORKERS})",
              file=sys.stderr)
        return cap
    return workers


@dataclass
class RunTransforms:
    """The detector's transforms at the run's resolved sizes, and its normaliser."""

    #: training images (augmentations)
    train: Transform
    #: the held-out selection during training: the authors' evaluation transform
    selection: Transform
    #: test evaluations and calibration: the run's ``--eval-transform`` policy (shared by the
    #: runs of one pass: :func:`gibench.engine.evaluation.share_eval_transforms`)
    eval: Transform
    normalizer: Normalizer

    @classmethod
    def of(cls, spec: DetectorSpec, resolved: Resolved, device: torch.device) -> RunTransforms:
        pre = spec.preprocess
        size, load = resolved.input_size, resolved.load_size
        selection = pre.make_eval(size, load)
        evaluation = (selection if resolved.eval_policy == DEFAULT_POLICY
                      else policy_transform(resolved.eval_policy, pre, size, load,
                                            repr(spec.name)))
        return cls(pre.make_train(size, load), selection, evaluation,
                   Normalizer.of(pre, device))
