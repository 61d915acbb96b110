"""Which dataset a data root holds, and the facts of a dataset that need its root.

Datasets are plugins (:class:`~gibench.specs.DatasetSpec`, hook ``gibench_add_datasets``); this
module applies their specs and never names one:

- without a data root, a run uses the dataset marked ``no_root_default`` (or the one asked
  for), built on demand by its ``build`` (:func:`resolve_root`);
- with a data root and no dataset, the datasets whose ``recognise`` accepts the root are the
  candidates: one is the answer, none or several an error that names every dataset and what it
  looks for (:func:`infer_dataset`);
- the training subset a run uses when none is asked for (:func:`default_train_subset`);
- the datasets of a run given several datasets' roots (:func:`resolve_run_data`): its training
  dataset and every dataset it tests on, with their roots.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gibench.data.layout import find_subset_dir, has_split
from gibench.errors import GibenchError
from gibench.registry import Registry
from gibench.specs import FAKE, REAL, DatasetSpec, SubsetSpec

#: ``--dataset folder:PATH``: the tree at PATH as a dataset (:func:`folder_dataset`).
FOLDER_PREFIX = "folder:"
#: The label folder conventions a folder dataset may use, tried in order.
FOLDER_LABELS: tuple[dict[str, int], ...] = ({"0_real": REAL, "1_fake": FAKE},
                                             {"nature": REAL, "ai": FAKE})
_SPLIT_ORDER = ("train", "val", "test")


def _subdirs(path: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(path) if e.is_dir() and not e.name.startswith("."))


def _labels_in(path: Path) -> dict[str, int] | None:
    names = set(_subdirs(path))
    return next((c for c in FOLDER_LABELS if set(c) <= names), None)


def folder_dataset(path: Path) -> tuple[DatasetSpec, list[SubsetSpec]]:
    """The tree at ``path`` as a dataset named ``folder:<its name>``, without a plugin: one
    subset per ``<path>/<name>/{0_real,1_fake}`` (or ``{nature,ai}``) folder, with or without a
    split level (``<name>/<split>/<label>``), or ``path`` itself as one subset when it holds
    the label folders. A subset without a split level has one split, ``test``, read from the
    same folder. A tree with neither convention, or mixing them, is a :class:`GibenchError`
    saying what was found."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise GibenchError(f"{{dataset}} folder:{path}: not a folder", params=["dataset"])
    wanted = " or ".join("{" + ",".join(c) + "}" for c in FOLDER_LABELS)
    found: list[tuple[str, dict[str, int], tuple[str, ...] | None]] = []
    own = _labels_in(path)
    if own is not None:
        found.append((".", own, None))
    else:
        for name in _subdirs(path):
            labels = _labels_in(path / name)
            if labels is not None:
                found.append((name, labels, None))
                continue
            splits = [(s, lab) for s in _subdirs(path / name)
                      if (lab := _labels_in(path / name / s)) is not None]
            if splits:
                found.append((name, splits[0][1], tuple(s for s, _ in splits)))
                if any(lab != splits[0][1] for _, lab in splits):
                    found.append((name, {}, None))
    if not found:
        from gibench.data.layout import describe_folder

        raise GibenchError(f"{{dataset}} folder:{path}: no <name>/{wanted} folders (with or "
                           f"without a split level <name>/<split>/...), nor {wanted} itself; it "
                           f"holds {describe_folder(path, 8)}", params=["dataset"])
    conventions = {tuple(lab) for _, lab, _ in found}
    if len(conventions) > 1:
        raise GibenchError(f"{{dataset}} folder:{path} mixes label folder conventions "
                           f"({', '.join('/'.join(c) for c in sorted(conventions) if c)}): use "
                           "one of them throughout", params=["dataset"])
    labels = found[0][1]
    all_splits = {s for _, _, splits in found for s in (splits or ("test",))}
    order = [s for s in _SPLIT_ORDER if s in all_splits] + sorted(all_splits - set(_SPLIT_ORDER))
    name = f"{FOLDER_PREFIX}{path.resolve().name}"
    spec = DatasetSpec(name, display_name=f"folder {path.name}", label_folders=dict(labels),
                       splits=tuple(order),
                       train_split="train" if "train" in order else None,
                       eval_split="test" if "test" in order else order[-1],
                       description=f"the tree at {path}")
    subsets = []
    for folder, _, splits in found:
        layout = ("{label}" if folder == "." else "{subset}/{label}") if splits is None \
            else "{subset}/{split}/{label}"
        subset_name = path.resolve().name if folder == "." else folder
        own = tuple(s for s in order if s in (splits or ("test",)))
        subsets.append(SubsetSpec(subset_name, subset_name, "folder", name, (folder,),
                                  layout=layout, splits=own))
    return spec, subsets


def dataset_name(registry: Registry, dataset: str) -> str:
    """The canonical name of ``dataset``; ``folder:PATH`` registers the tree at PATH as a
    dataset first (:func:`folder_dataset`)."""
    if dataset.startswith(FOLDER_PREFIX):
        spec, subsets = folder_dataset(Path(dataset[len(FOLDER_PREFIX):]))
        registry.add_dataset(spec, subsets)
        return spec.name
    return registry.dataset(dataset).name


def folder_root(dataset: str | None) -> Path | None:
    """The tree of a ``folder:PATH`` dataset name, else ``None``."""
    if dataset and dataset.startswith(FOLDER_PREFIX):
        return Path(dataset[len(FOLDER_PREFIX):]).expanduser()
    return None


def recognises(registry: Registry, spec: DatasetSpec, root: Path) -> bool:
    """Whether dataset ``spec`` recognises ``root``: its own ``recognise``, or by default the
    folder of one of its subsets under ``root``, holding one of its split folders."""
    if spec.recognise is not None:
        return bool(spec.recognise(Path(root)))
    return any(find_subset_dir(root, s, spec) is not None
               for s in registry.subsets(spec.name))


def recognised_by(registry: Registry, spec: DatasetSpec) -> str:
    """What dataset ``spec`` looks for in a data root, in words."""
    if spec.recognised_by:
        return spec.recognised_by
    if spec.recognise is not None:
        return "its plugin's own test (recognise)"
    folders = [s.folders[0] for s in registry.subsets(spec.name) if s.folders][:3]
    return (f"the folder of one of its subsets ({', '.join(folders) or 'none registered'}"
            f"{', ...' if len(registry.subsets(spec.name)) > 3 else ''}) holding "
            f"{' or '.join(f'{split}/' for split in spec.splits)}")


def _candidates(registry: Registry, names: Sequence[str]) -> str:
    return "; ".join(f"{name!r} expects {recognised_by(registry, registry.dataset(name))}"
                     for name in names)


def infer_dataset(registry: Registry, root: Path) -> str:
    """The one dataset that recognises ``root``; a :class:`GibenchError` naming the candidates
    and what each expects when none or several do."""
    root = Path(root)
    names = registry.datasets()
    found = [n for n in names if recognises(registry, registry.dataset(n), root)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise GibenchError(f"no dataset recognises the data root {root}; name one with the "
                           f"dataset option, or lay the root out as one of them: "
                           f"{_candidates(registry, names)}")
    raise GibenchError(f"the data root {root} looks like several datasets; name one with the "
                       f"dataset option: {_candidates(registry, found)}")


def no_root_dataset(registry: Registry) -> DatasetSpec:
    """The dataset a run uses when given no data root (``no_root_default``, with a builder)."""
    for name in registry.datasets():
        spec = registry.dataset(name)
        if spec.no_root_default and spec.build is not None:
            return spec
    raise GibenchError("no installed dataset can be used without a data root: give a data root "
                       f"(datasets: {', '.join(registry.datasets())})")


#: What ``data_root`` may be: one folder, or ``{NAME: folder}`` where NAME is a dataset (or
#: an alias; ``""``: a folder whose dataset is recognised) or ``DATASET.ROOT``, one of the
#: dataset's extra roots.
DataRoot = Path | str | Mapping[str, Path | str] | None

_NAMED_ROOT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.+\-]*)=(.+)$")


def parse_data_roots(values: Sequence[str]) -> DataRoot:
    """The command line's ``--data-root [NAME=]PATH`` values (repeatable) as a ``data_root``:
    ``None``, one path, or a mapping (an unnamed path under ``""``)."""
    if not values:
        return None
    roots: dict[str, Path] = {}
    for value in values:
        match = _NAMED_ROOT.match(value)
        name, path = (match[1], match[2]) if match and not Path(value).exists() else ("", value)
        if name in roots:
            raise GibenchError(f"{{data_root}} {name or 'without a name'} given twice: "
                               f"{roots[name]} and {path}", params=["data_root"])
        roots[name] = Path(path).expanduser()
    if list(roots) == [""]:
        return roots[""]
    return roots


def _named_roots(registry: Registry, data_root: Mapping[str, Path | str]
                 ) -> tuple[dict[str, Path], dict[str, dict[str, Path]]]:
    """(main roots by canonical dataset name, ``""`` for a root to be recognised; extra roots
    by dataset and name) of a ``{NAME: folder}`` mapping. A key naming no dataset, an extra
    root its dataset does not declare, or one dataset's root given twice (under two aliases)
    is an error."""
    mains: dict[str, Path] = {}
    extras: dict[str, dict[str, Path]] = {}
    for key, value in data_root.items():
        path = Path(value).expanduser()
        if not key or registry.has_dataset(key):
            name = registry.dataset(key).name if key else ""
            if name in mains:
                raise GibenchError(f"{{data_root}} dataset {name!r} given twice: "
                                   f"{mains[name]} and {path}", params=["data_root"])
            mains[name] = path
            continue
        name, dot, extra = key.rpartition(".")
        if not dot or not registry.has_dataset(name):
            raise GibenchError(f"{{data_root}} {key}={value}: {key!r} names no dataset "
                               f"(datasets: {', '.join(registry.datasets())}) nor an extra "
                               "root DATASET.ROOT", params=["data_root"])
        spec = registry.dataset(name)
        if extra not in spec.extra_roots:
            raise GibenchError(f"{{data_root}} {key}={value}: dataset {spec.name!r} has no "
                               f"extra root {extra!r} (it declares: "
                               f"{', '.join(spec.extra_roots) or 'none'})",
                               params=["data_root"])
        extras.setdefault(spec.name, {})[extra] = path
    return mains, extras


def split_roots(registry: Registry, data_root: DataRoot, dataset: str | None
                ) -> tuple[Path | None, str | None, dict[str, Path]]:
    """(the dataset's root or ``None``, the dataset's canonical name or ``None``: to be
    recognised, its extra roots by name) of a single-dataset use (``gibench data check``)
    given ``data_root`` (see :data:`DataRoot`) and ``dataset``. A mapping naming several
    datasets needs ``dataset``; a key naming no dataset, or an extra root its dataset does not
    declare, is an error. (A run reads every dataset given: :func:`resolve_run_data`.)"""
    tree = folder_root(dataset)
    if tree is not None:
        if data_root is not None and Path(str(data_root)).expanduser() != tree:
            raise GibenchError(f"{{dataset}} {dataset} reads its own folder: give no "
                               "{data_root}", params=["dataset", "data_root"])
        return tree, dataset_name(registry, dataset), {}
    if data_root is None or isinstance(data_root, (str, Path)):
        root = None if data_root is None else Path(data_root).expanduser()
        return root, (registry.dataset(dataset).name if dataset else None), {}
    mains, extras = _named_roots(registry, data_root)
    named = sorted({n for n in (*mains, *extras) if n})
    if dataset:
        name: str | None = registry.dataset(dataset).name
    elif len(named) <= 1:
        name = named[0] if named else None
    else:
        raise GibenchError(f"data roots of several datasets ({', '.join(named)}): name the one "
                           "to use with {dataset}", params=["dataset"])
    others = [n for n in named if n != name]
    if others:
        raise GibenchError(f"data roots of datasets {', '.join(others)} given for "
                           f"{name!r} alone", params=["dataset"])
    root = mains[name] if name in mains else mains.get("")
    return root, name, extras.get(name or "", {})


@dataclass(frozen=True)
class RunData:
    """The datasets a run reads and where they are (:func:`resolve_run_data`).

    ``dataset`` is the run's *training dataset*: the dataset of its training subset (with given
    weights, the one whose held-out part calibrates them). ``roots`` holds every dataset the
    run reads, the training dataset first, then the others in the order given; a run of one
    dataset has one. ``extra_roots`` are each dataset's extra roots by name."""

    dataset: str
    roots: dict[str, Path]
    extra_roots: dict[str, dict[str, Path]] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        """The training dataset's root."""
        return self.roots[self.dataset]

    @property
    def several(self) -> bool:
        """Whether the run reads several datasets."""
        return len(self.roots) > 1


def _dataset_of_train_subset(registry: Registry, train_subset: str,
                             present: Sequence[str]) -> str | None:
    """The dataset that ``--train-subset`` names: its own for ``DATASET/NAME``; for a plain
    name, the one dataset among ``present`` (given roots) that has it; else ``None`` (resolved
    as always, within the training dataset)."""
    keys = registry.subset_keys(train_subset)
    if "/" in train_subset:
        return registry.get("subset", train_subset).dataset  # unknown: the close matches
    here = {k.split("/", 1)[0] for k in keys} & set(present)
    return next(iter(here)) if len(here) == 1 else None


def resolve_run_data(registry: Registry, data_root: DataRoot, dataset: str | None = None,
                     train_subset: str | None = None,
                     preferred_train_subsets: Sequence[str] = (),
                     progress: bool = True) -> RunData:
    """The datasets of a run given ``data_root`` (:data:`DataRoot`: one folder, or several
    datasets' roots by name), ``dataset``, the requested ``train_subset`` and the suite's
    preferred training subsets (qualified names, :attr:`gibench.specs.SuiteSpec.
    default_train_subsets`).

    The training dataset is ``dataset`` when given; else the dataset of ``train_subset``
    (``DATASET/NAME``, or a plain name that one of the given datasets has); else the dataset
    of the first preferred training subset among the given datasets; else the one given
    dataset that can train (has a training split; the first given when none can: a test-only
    run of given weights); without any root, the dataset built on demand. Every dataset with a
    root is read; the training dataset without a root is built on demand (``mini``: ``--dataset
    mini`` or ``--train-subset mini/NAME`` beside other datasets' roots). An unnamed root is
    recognised (or is ``dataset``'s when that has no named root)."""
    tree = folder_root(dataset)
    if data_root is None:
        mains: dict[str, Path] = {}
        extras: dict[str, dict[str, Path]] = {}
    elif isinstance(data_root, (str, Path)):
        mains, extras = {"": Path(data_root).expanduser()}, {}
    else:
        mains, extras = _named_roots(registry, data_root)
    requested = None
    if tree is not None:
        if "" in mains and mains[""] != tree:
            raise GibenchError(f"{{dataset}} {dataset} reads its own folder: give no unnamed "
                               "{data_root}", params=["dataset", "data_root"])
        requested = dataset_name(registry, dataset)
        mains = {requested: tree, **{k: v for k, v in mains.items() if k}}
    elif dataset:
        requested = registry.dataset(dataset).name
    if "" in mains:  # a root to recognise, or the requested dataset's
        path = mains[""]
        if not path.is_dir():
            raise GibenchError(f"the data root {path} is not a directory")
        owner = requested if requested and requested not in mains \
            else infer_dataset(registry, path)
        if owner in mains:
            raise GibenchError(f"{{data_root}} dataset {owner!r} given twice: {path} (recognised "
                               f"as {owner!r}) and {mains[owner]}", params=["data_root"])
        mains = {(owner if k == "" else k): v for k, v in mains.items()}
    for name in extras:
        if name not in mains and name != requested:
            mains[name] = None  # type: ignore[assignment]  # checked below: built or refused
    train = requested
    if train is None and train_subset and mains:
        train = _dataset_of_train_subset(registry, train_subset, list(mains))
    if train is None and train_subset and "/" in train_subset:
        train = _dataset_of_train_subset(registry, train_subset, [])
    if train is None and len(mains) > 1:
        train = next((registry.get("subset", p).dataset for p in preferred_train_subsets
                      if registry.has("subset", p)
                      and registry.get("subset", p).dataset in mains), None)
    if train is None and mains:
        trainable = [n for n in mains if registry.dataset(n).train_split is not None]
        if len(trainable) > 1:
            raise GibenchError(f"data roots of several datasets that can train "
                               f"({', '.join(trainable)}): say which one the run trains on, "
                               "with {dataset} or {train_subset}=DATASET/NAME",
                               params=["dataset", "train_subset"])
        train = trainable[0] if trainable else next(iter(mains))
    if train is None:
        train = no_root_dataset(registry).name
    roots: dict[str, Path] = {}
    for name in dict.fromkeys([train, *mains]):
        root = mains.get(name)
        if root is None and name != train:
            raise GibenchError(f"{{data_root}} gives extra roots of dataset {name!r} but not its "
                               f"own root: add {{data_root=}}{name}=PATH", params=["data_root"])
        roots[name], _ = resolve_root(registry, root, name, progress=progress)
    return RunData(train, roots, {name: check_extra_roots(registry.dataset(name),
                                                          extras.get(name, {}))
                                  for name in roots})


def check_extra_roots(spec: DatasetSpec, extra: Mapping[str, Path]) -> dict[str, Path]:
    """``extra`` when it gives every extra root ``spec`` declares, each a folder; else a
    :class:`GibenchError` naming the option that gives the first one missing."""
    from gibench.data.layout import extra_root

    return {name: extra_root(extra, name, spec) for name in spec.extra_roots}


def resolve_roots(registry: Registry, data_root: DataRoot, dataset: str | None,
                  progress: bool = True) -> tuple[Path, str, dict[str, Path]]:
    """(data root, canonical dataset name, extra roots by name) of a single-dataset run given
    ``data_root`` (:data:`DataRoot`) and ``dataset`` (either may be ``None``): a root without
    a dataset is recognised; without a root the dataset is built on demand (seed 0); every
    extra root the dataset declares must be given."""
    root, name, extra = split_roots(registry, data_root, dataset)
    root, name = resolve_root(registry, root, name, progress=progress)
    return root, name, check_extra_roots(registry.dataset(name), extra)


def resolve_root(registry: Registry, root: Path | None, dataset: str | None,
                 progress: bool = True) -> tuple[Path, str]:
    """(data root, canonical dataset name) of a run given ``root`` and ``dataset`` (either may
    be ``None``). Without a root the dataset is built on demand (seed 0)."""
    if root is None:
        spec = registry.dataset(dataset) if dataset else no_root_dataset(registry)
        if spec.build is None:
            raise GibenchError(f"dataset {spec.name!r} lives on disk (no builder): give its "
                               "data root")
        return Path(spec.build(seed=0, progress=progress)), spec.name
    root = Path(root).expanduser()
    if not root.is_dir():
        raise GibenchError(f"the data root {root} is not a directory")
    if dataset is None:
        return root, infer_dataset(registry, root)
    return root, registry.dataset(dataset).name


def default_train_subset(registry: Registry, spec: DatasetSpec, root: Path) -> str:
    """The subset a run on ``spec`` trains on when none is asked for: the spec's
    ``default_train_subset``, else the first of its subsets, controls aside, whose folder under
    ``root`` holds the training split (the first of them when none does: the error then comes
    from indexing it)."""
    if spec.train_split is None:
        raise GibenchError(f"dataset {spec.name!r} is test-only (no training split): train on "
                           "another dataset's subset, or evaluate given {weights}",
                           params=["weights"])
    if spec.default_train_subset:
        return registry.subset(spec.default_train_subset, spec.name).name
    subsets: list[SubsetSpec] = [s for s in registry.subsets(spec.name) if not s.control]
    if not subsets:
        raise GibenchError(f"dataset {spec.name!r} has no subset to train on")
    for subset in subsets:
        if has_split(root, subset, spec.train_split, spec):
            return subset.name
    return subsets[0].name
