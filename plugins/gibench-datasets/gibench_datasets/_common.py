"""What the dataset modules share: the field's label folders, a subset builder and the folder
tests that ``recognise`` functions are made of.

Recognising a root only asks whether a few named folders exist (``Path.is_dir``): it never lists
a folder of images, so it costs the same on a 20 GB tree as on an empty one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from gibench.api import FAKE, REAL, DatasetSpec, SubsetSpec, hookimpl

#: The label folders of the CNNDetection lineage, which every dataset of this plugin uses.
LABEL_FOLDERS: dict[str, int] = {"0_real": REAL, "1_fake": FAKE}

#: The one split of a test-only dataset.
TEST = "test"


def subset(dataset: str, name: str, display_name: str, family: str, folders: Sequence[str],
           *, aliases: Sequence[str] = (), description: str = "", folder_aliases: bool = True,
           **fields) -> SubsetSpec:
    """A subset of ``dataset`` found under the first of ``folders`` that exists.

    ``aliases`` gain the display name and, with ``folder_aliases``, every folder name that
    differs from ``name`` (so that the name on disk, ``stable_diffusion_v_1_4``, finds the subset
    ``sdv1.4``); other keyword arguments are :class:`~gibench.api.SubsetSpec` fields
    (``layout``, ``sources``, ``splits``).
    """
    extra = [Path(f).name for f in folders] if folder_aliases else []
    seen = {_key(name)}
    kept = []
    for alias in [*aliases, *extra, display_name]:
        # "/" qualifies a subset name with its dataset (DATASET/NAME): no alias may hold one
        if "/" not in alias and _key(alias) not in seen:
            seen.add(_key(alias))
            kept.append(alias)
    return SubsetSpec(name=name, display_name=display_name, family=family, dataset=dataset,
                      folders=tuple(folders), aliases=tuple(kept), description=description,
                      **fields)


def _key(name: str) -> str:
    # as the registry compares names: case, spaces, "-" and "_" do not matter
    return "".join(c for c in name.lower() if c not in " -_")


def dirs(root: Path, names: Iterable[str]) -> list[str]:
    """Those of ``names`` (paths relative to ``root``) that are folders under ``root``."""
    return [n for n in names if (Path(root) / n).is_dir()]


def holds_any(*names: str, under: str = "") -> Callable[[Path], bool]:
    """A ``recognise`` test: whether the root holds at least one of the folders ``names``
    (under its sub-folder ``under``, if given)."""
    def recognise(root: Path) -> bool:
        return bool(dirs(Path(root) / under, names))
    return recognise


def all_of(*tests: Callable[[Path], bool]) -> Callable[[Path], bool]:
    """A ``recognise`` test that every one of ``tests`` passes."""
    def recognise(root: Path) -> bool:
        return all(test(root) for test in tests)
    return recognise


def any_of(*tests: Callable[[Path], bool]) -> Callable[[Path], bool]:
    """A ``recognise`` test that at least one of ``tests`` passes."""
    def recognise(root: Path) -> bool:
        return any(test(root) for test in tests)
    return recognise


def evaluation_set(name: str, **fields) -> DatasetSpec:
    """A test-only dataset: one split, ``test``, evaluated on and never trained on
    (``train_split=None``), with the field's label folders; ``fields`` are the rest of its
    :class:`~gibench.api.DatasetSpec`."""
    return DatasetSpec(name=name, splits=(TEST,), train_split=None, eval_split=TEST,
                       label_folders=LABEL_FOLDERS, **fields)


def hooks(dataset: DatasetSpec, subsets: Sequence[SubsetSpec]):
    """The two registration hooks of a module that describes one dataset: assign them as
    ``gibench_add_datasets, gibench_add_subsets = hooks(DATASET, SUBSETS)`` (pluggy finds a
    module's hook implementations by their names)."""
    @hookimpl
    def gibench_add_datasets() -> Sequence[DatasetSpec]:
        return [dataset]

    @hookimpl
    def gibench_add_subsets() -> Sequence[SubsetSpec]:
        return tuple(subsets)

    gibench_add_datasets.__doc__ = f"Register {dataset.display_name} ({dataset.name!r})."
    gibench_add_subsets.__doc__ = f"Register the {len(subsets)} subsets of {dataset.name!r}."
    return gibench_add_datasets, gibench_add_subsets
