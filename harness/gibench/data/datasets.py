"""Which dataset a data root holds, and the facts of a dataset that need its root.

Datasets are plugins (:class:`~gibench.specs.DatasetSpec`, hook ``gibench_add_datasets``); this
module applies their specs and never names one:

- without a data root, a run uses the dataset marked ``no_root_default`` (or the one asked
  for), built on demand by its ``build`` (:func:`resolve_root`);
- with a data root and no dataset, the datasets whose ``recognise`` accepts the root are the
  candidates: one is the answer, none or several an error that names every dataset and what it
  looks for (:func:`infer_dataset`);
- the training subset a run uses when none is asked for (:func:`default_train_subset`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gibench.data.layout import find_subset_dir
from gibench.errors import GibenchError
from gibench.registry import Registry
from gibench.specs import DatasetSpec, SubsetSpec


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
    if spec.default_train_subset:
        return registry.subset(spec.default_train_subset).name
    subsets: list[SubsetSpec] = [s for s in registry.subsets(spec.name) if not s.control]
    if not subsets:
        raise GibenchError(f"dataset {spec.name!r} has no subset to train on")
    for subset in subsets:
        folder = find_subset_dir(root, subset, spec)
        if folder is not None and (folder / spec.train_split).is_dir():
            return subset.name
    return subsets[0].name
