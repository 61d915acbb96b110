"""Finding a subset's folder under a data root and indexing its images (paths only, no pixels).

Every subset is laid out as::

    <subset dir>/<split>/<label folder>/...image files, possibly in sub-folders...

where ``<subset dir>`` is the first of :attr:`SubsetSpec.folders` that exists under the root,
and the split and label folder names are its dataset's (:class:`~gibench.specs.DatasetSpec`:
by default ``{train,val}/{ai,nature}``, GenImage's; ``0_real``/``1_fake`` elsewhere). Labels are
explicit, from the dataset's ``label_folders`` (``ai`` is fake, 1; ``nature`` is real, 0);
never the alphabetical order of torchvision's ``ImageFolder``, which would make GenImage's fake
class 0. The functions take the dataset's spec as ``dataset``; ``None`` means the defaults.

Indexing walks directories with :func:`os.scandir` and never opens a file: its cost is that of
listing the folders, whatever the images weigh.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gibench.errors import GibenchError
from gibench.specs import FAKE, REAL, DatasetSpec, SubsetSpec

#: Suffixes of the files indexed as images, lowercase; matched case-insensitively (``.JPEG``).
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
)

#: How many entries of a folder an error message lists.
_SHOWN_ENTRIES = 20

#: The conventions of a dataset that no spec is given for (``dataset=None``).
_DEFAULT = DatasetSpec("")


def structure(dataset: DatasetSpec | None = None) -> str:
    """The layout under a subset folder, in words: ``{train,val}/{ai,nature}``."""
    dataset = dataset or _DEFAULT
    return ("{" + ",".join(dataset.splits) + "}/{"
            + ",".join(sorted(dataset.label_folders)) + "}")


class LayoutError(GibenchError, ValueError):
    """A data folder is not laid out as ``<subset>/<split>/<label folder>``.

    The message names the path at fault, what was expected there and what was found;
    the same pieces are kept as attributes (``path``, ``expected``, ``found``).
    """

    def __init__(self, problem: str, path: Path, expected: str, found: str) -> None:
        self.problem = problem
        self.path = Path(path)
        self.expected = expected
        self.found = found
        super().__init__(f"{problem}: {path}\n  expected: {expected}\n  found: {found}")


def is_image_file(name: str) -> bool:
    """Whether a file name has an image suffix (any case) and is not hidden."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def describe_folder(path: Path, limit: int = _SHOWN_ENTRIES) -> str:
    """What ``path`` holds, for error messages: its first ``limit`` entries, sorted.

    Folders end in ``/``; hidden entries are listed too (they are what the user has).
    """
    path = Path(path)
    if not path.exists():
        return "nothing: the path does not exist"
    if not path.is_dir():
        return "a file, not a folder"
    try:
        with os.scandir(path) as entries:
            names = sorted(e.name + ("/" if e.is_dir() else "") for e in entries)
    except OSError as exc:
        return f"an unreadable folder ({exc.__class__.__name__}: {exc})"
    if not names:
        return "nothing: the folder is empty"
    shown = ", ".join(names[:limit])
    more = f", ... and {len(names) - limit} more" if len(names) > limit else ""
    return f"{len(names)} entr{'y' if len(names) == 1 else 'ies'}: {shown}{more}"


def list_images(folder: Path) -> list[str]:
    """Image files under ``folder``, recursively, as sorted POSIX paths relative to it.

    Hidden files and folders (dot-names) are skipped; nothing is opened. Symlinked folders are
    followed, each real folder once (a link back to an ancestor is not walked again). A
    sub-folder that cannot be listed (no permission, a path longer than the OS allows) is
    listed itself, as a symlink loop is: decoding it raises the
    :class:`~gibench.data.images.BadImageError` that names it, which ``--skip-bad-images``
    skips and counts. ``folder`` itself unreadable is a :class:`LayoutError` naming it.
    """
    folder = Path(folder)
    found: list[str] = []
    visited: set[str] = {os.path.realpath(folder)}
    stack: list[tuple[str, str]] = [(os.fspath(folder), "")]
    while stack:
        directory, prefix = stack.pop()
        try:
            entries = os.scandir(directory)
        except OSError as exc:
            if not prefix:
                raise LayoutError("unreadable folder", folder, "a folder gibench may list",
                                  f"{type(exc).__name__}: {exc.strerror or exc}") from exc
            found.append(prefix.rstrip("/"))
            continue
        with entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    is_dir = entry.is_dir()
                except OSError:  # a symlink loop: listed, and decoding it names the problem
                    is_dir = False
                if is_dir:
                    real = os.path.realpath(entry.path)
                    if real in visited:
                        continue
                    visited.add(real)
                    stack.append((entry.path, f"{prefix}{entry.name}/"))
                elif is_image_file(entry.name):
                    found.append(prefix + entry.name)
    found.sort()
    return found


def find_subset_dir(root: Path, spec: SubsetSpec, dataset: DatasetSpec | None = None
                    ) -> Path | None:
    """The first of ``spec.folders`` under ``root`` that holds a split folder of ``dataset``,
    or ``None``."""
    root = Path(root)
    splits = (dataset or _DEFAULT).splits
    for candidate in spec.folders:
        subset_dir = root / candidate
        if subset_dir.is_dir() and any((subset_dir / split).is_dir() for split in splits):
            return subset_dir
    return None


def locate_subset(root: Path, spec: SubsetSpec, dataset: DatasetSpec | None = None) -> Path:
    """Like :func:`find_subset_dir`, but raise :class:`LayoutError` saying what was tried."""
    root = Path(root)
    expected = (
        f"subset '{spec.name}' ({spec.display_name}) in one of: "
        + ", ".join(str(root / c) for c in spec.folders)
        + f"; each holding {structure(dataset)}"
    )
    if not root.is_dir():
        raise LayoutError("data root is not a folder", root, expected, describe_folder(root))
    subset_dir = find_subset_dir(root, spec, dataset)
    if subset_dir is not None:
        return subset_dir
    found = [f"in {root}: {describe_folder(root)}"]
    for candidate in spec.folders:  # a candidate that exists but lacks train/val is a clue
        if (root / candidate).is_dir():
            found.append(f"in {root / candidate}: {describe_folder(root / candidate)}")
    raise LayoutError(
        f"subset '{spec.name}' not found under the data root", root, expected, "; ".join(found)
    )


@dataclass(eq=False, repr=False)
class ImageIndex:
    """The images of one split of one subset: paths relative to ``root`` and their labels.

    ``paths`` are POSIX paths relative to the subset folder (``train/ai/000_sdv4_00000.png``);
    ``labels`` holds one uint8 per path, :data:`~gibench.specs.FAKE` (1) for a fake label folder
    (``ai``) and :data:`~gibench.specs.REAL` (0) for a real one (``nature``).
    """

    subset: str
    split: str
    root: Path
    paths: list[str]
    labels: np.ndarray

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.labels = np.asarray(self.labels, dtype=np.uint8)
        if self.labels.shape != (len(self.paths),):
            raise ValueError(f"{len(self.paths)} paths but labels of shape {self.labels.shape}")

    def __len__(self) -> int:
        return len(self.paths)

    def __repr__(self) -> str:
        return (
            f"ImageIndex(subset={self.subset!r}, split={self.split!r}, root={str(self.root)!r}, "
            f"n_fake={self.n_fake}, n_real={self.n_real})"
        )

    @property
    def n_real(self) -> int:
        """Number of real (``nature``) images."""
        return int(np.count_nonzero(self.labels == REAL))

    @property
    def n_fake(self) -> int:
        """Number of generated (``ai``) images."""
        return int(np.count_nonzero(self.labels == FAKE))

    def path(self, i: int) -> Path:
        """Absolute path of image ``i``."""
        return self.root / self.paths[i]

    def subsample(self, indices: Sequence[int] | np.ndarray) -> ImageIndex:
        """A new index holding the images at ``indices``, in that order."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        return ImageIndex(
            subset=self.subset,
            split=self.split,
            root=self.root,
            paths=[self.paths[i] for i in idx],
            labels=self.labels[idx],
        )


def index_split(subset_dir: Path, split: str, subset: str = "",
                dataset: DatasetSpec | None = None) -> ImageIndex:
    """Index ``subset_dir/split/<label folder>`` for each of ``dataset``'s label folders
    (``{ai,nature}`` by default; recursively; file names only, never pixels).

    Raises :class:`LayoutError` naming the folder at fault when the split folder or one of its
    label folders is missing, or one of them holds no image.
    """
    subset_dir = Path(subset_dir)
    split_dir = subset_dir / split
    label_folders = (dataset or _DEFAULT).label_folders
    layout = structure(dataset)
    pair = " and ".join(f"{split_dir / folder}" for folder in sorted(label_folders))
    if not split_dir.is_dir():
        raise LayoutError(
            f"missing split folder '{split}'",
            split_dir,
            f"{pair} (layout {layout})",
            f"in {subset_dir}: {describe_folder(subset_dir)}",
        )
    paths: list[str] = []
    labels: list[np.ndarray] = []
    # Folder names sort as their paths do ("ai/..." < "nature/..."), so concatenating the
    # sorted groups in this order gives a sorted list.
    for folder in sorted(label_folders):
        label_dir = split_dir / folder
        if not label_dir.is_dir():
            raise LayoutError(
                f"missing label folder '{folder}'",
                label_dir,
                f"{pair} (layout {layout})",
                f"in {split_dir}: {describe_folder(split_dir)}",
            )
        names = list_images(label_dir)
        if not names:
            raise LayoutError(
                "no images in folder",
                label_dir,
                "image files (" + " ".join(sorted(IMAGE_EXTENSIONS)) + ", any case), "
                "directly or in sub-folders",
                describe_folder(label_dir),
            )
        paths.extend(f"{split}/{folder}/{name}" for name in names)
        labels.append(np.full(len(names), label_folders[folder], dtype=np.uint8))
    return ImageIndex(
        subset=subset, split=split, root=subset_dir, paths=paths, labels=np.concatenate(labels)
    )


def index_folder(folder: Path, label: int, subset: str = "", split: str = "") -> ImageIndex:
    """Every image under ``folder`` (recursively), all with ``label`` — a user's own folder used
    as a test subset, or images to score (whose label is unknown and ignored)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LayoutError("not a folder", folder, "a folder of images",
                          describe_folder(folder.parent) if folder.parent.is_dir() else "")
    names = list_images(folder)
    if not names:
        raise LayoutError("no images in folder", folder,
                          "image files (" + " ".join(sorted(IMAGE_EXTENSIONS)) + ", any case)",
                          describe_folder(folder))
    return ImageIndex(subset=subset, split=split, root=folder, paths=names,
                      labels=np.full(len(names), label, dtype=np.uint8))


def index_subset(root: Path, spec: SubsetSpec, split: str,
                 dataset: DatasetSpec | None = None) -> ImageIndex:
    """Locate ``spec`` under ``root`` and index its ``split`` (in ``dataset``'s layout)."""
    return index_split(locate_subset(root, spec, dataset), split, subset=spec.name,
                       dataset=dataset)


def stratified_holdout(
    index: ImageIndex, fraction: float, seed: int
) -> tuple[ImageIndex, ImageIndex]:
    """Split ``index`` into ``(kept, held_out)``, ``fraction`` of each label held out.

    Seeded (``numpy.random.default_rng(seed)``) and stratified by label; both parts keep the
    index's sorted order. A label with at least two images has at least one held out and one
    kept; a label with a single image stays in the kept part. The result depends only on the
    paths, the seed and the fraction, never on the order the file system listed them in.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    held: list[np.ndarray] = []
    for label in (REAL, FAKE):
        members = np.flatnonzero(index.labels == label)
        n = len(members)
        if n == 0:
            continue
        k = int(round(n * fraction))
        k = min(max(k, 1), n - 1) if n >= 2 else 0
        held.append(members[rng.permutation(n)[:k]])
    held_idx = np.sort(np.concatenate(held)) if held else np.empty(0, dtype=np.int64)
    keep_mask = np.ones(len(index), dtype=bool)
    keep_mask[held_idx] = False
    return index.subsample(np.flatnonzero(keep_mask)), index.subsample(held_idx)


_WNID = re.compile(r"^(n\d{8})_")
_CLASS_INDEX = re.compile(r"^(\d+)_")
_SOURCE = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)_\d+\.")


def class_keys(index: ImageIndex) -> np.ndarray:
    """The class of every image, read from its file name, as one key per image.

    GenImage's file names carry the ImageNet class: real images are ImageNet's own
    (``n01440764_10026.JPEG``: the WordNet id) and generated ones start with the class index
    (``000_sdv4_00000.png``). WordNet ids are mapped to ImageNet's class index (its classes
    sorted by WordNet id), so both sides of a subset share keys ``0..999``. mini's file names
    carry the source photograph (``chelsea_00012.png``) on both sides. A name that follows none
    of these patterns raises :class:`LayoutError` naming it.
    """
    names = [p.rsplit("/", 1)[-1] for p in index.paths]
    wnids = sorted({m.group(1) for n in names if (m := _WNID.match(n))})
    by_wnid = {w: str(i) for i, w in enumerate(wnids)}
    keys = []
    for name in names:
        if m := _WNID.match(name):
            keys.append(by_wnid[m.group(1)])
        elif m := _CLASS_INDEX.match(name):
            keys.append(str(int(m.group(1))))
        elif m := _SOURCE.match(name):
            keys.append(m.group(1))
        else:
            raise LayoutError("cannot read a class from a file name", index.root / name,
                              "an ImageNet WordNet id (n01440764_…), a class index (000_…) or "
                              "a source name (chelsea_00012.png)", repr(name))
    return np.asarray(keys)


def class_fraction(index: ImageIndex, axis: str, fraction: float, seed: int) -> ImageIndex:
    """A seeded part of ``index`` for the data-scale study: ``axis="classes"`` keeps all images
    of a ``fraction`` of the classes (at least one); ``axis="images"`` keeps a ``fraction`` of
    each class's images per label (at least one). Both sides keep the same classes."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if fraction == 1.0:
        return index
    keys = class_keys(index)
    rng = np.random.default_rng(seed)
    if axis == "classes":
        classes = np.unique(keys)
        k = max(1, int(round(len(classes) * fraction)))
        chosen = set(classes[rng.permutation(len(classes))[:k]].tolist())
        keep = np.flatnonzero([key in chosen for key in keys])
    elif axis == "images":
        parts = []
        for key in np.unique(keys):
            for label in (REAL, FAKE):
                members = np.flatnonzero((keys == key) & (index.labels == label))
                if len(members):
                    k = max(1, int(round(len(members) * fraction)))
                    parts.append(members[rng.permutation(len(members))[:k]])
        keep = np.sort(np.concatenate(parts))
    else:
        raise ValueError(f"axis must be 'classes' or 'images', got {axis!r}")
    return index.subsample(keep)
