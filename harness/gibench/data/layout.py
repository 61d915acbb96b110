"""Finding a subset's images under a data root and indexing them (paths only, no pixels).

Where the images of one label of one split of one subset live is a *pattern*, relative to the
dataset's root: :attr:`DatasetSpec.layout <gibench.specs.DatasetSpec.layout>` (by default
``{subset}/{split}/{label}``), which a subset may override (:attr:`SubsetSpec.layout
<gibench.specs.SubsetSpec.layout>`), and per label (:attr:`SubsetSpec.sources
<gibench.specs.SubsetSpec.sources>`). The grammar, ``/``-separated segments:

- ``{subset}``: the subset's folder, the first of :attr:`SubsetSpec.folders` that exists and
  holds the pattern's folders up to its first ``**`` or ``{label}`` (for the default layout:
  the folder holding a split folder; a pattern without ``{subset}`` does not use the folders);
- ``{split}``: the split's folder name; a pattern without it reads the same folder for every
  split;
- ``{label}``: the dataset's folder name for the label (``label_folders``: ``ai``/``nature``,
  ``1_fake``/``0_real``...); a pattern without it holds one label (a ``sources`` entry, or a
  layout used for the one label that ``sources`` leaves to it);
- ``**``: zero or more folder levels, every match merged (ForenSynths' class folders:
  ``{subset}/**/{label}`` reads ``biggan/0_real`` and ``progan/airplane/0_real`` alike); the
  walk does not enter label folders;
- a first segment ``@NAME``: the dataset's extra root ``NAME`` (:attr:`DatasetSpec.extra_roots
  <gibench.specs.DatasetSpec.extra_roots>`) instead of its root.

Images are indexed recursively under each matched folder. Labels are explicit, from the
dataset's ``label_folders``; never the alphabetical order of torchvision's ``ImageFolder``,
which would make GenImage's fake class 0. The functions take the dataset's spec as
``dataset``; ``None`` means the defaults.

An :class:`ImageIndex`'s paths are relative to its ``root``: the subset folder when every
pattern of the subset starts with ``{subset}/`` (``train/ai/x.png``: the default layout, as
always), else the dataset's root (``laion/0_real/x.png``); an image of an extra root is
``@NAME/`` and its path under that root (``@raise/r000.png``), resolved through the index's
``extra_roots`` — so the paths, and ``scores.csv``'s, name no machine's folders and stay
unambiguous.

Indexing walks directories with :func:`os.scandir` and never opens a file: its cost is that of
listing the folders, whatever the images weigh.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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

_PLACEHOLDERS = ("{subset}", "{split}", "{label}")


def structure(dataset: DatasetSpec | None = None) -> str:
    """The layout under a subset folder, in words: ``{train,val}/{ai,nature}``."""
    dataset = dataset or _DEFAULT
    return ("{" + ",".join(dataset.splits) + "}/{"
            + ",".join(sorted(dataset.label_folders)) + "}")


class LayoutError(GibenchError, ValueError):
    """A data folder is not laid out as its dataset's layout says.

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


def list_images(folder: Path, foreign: frozenset[str] = frozenset()) -> list[str]:
    """Image files under ``folder``, recursively, as sorted POSIX paths relative to it.

    Hidden files and folders (dot-names) are skipped; nothing is opened. Symlinked folders are
    followed, each real folder once (a link back to an ancestor is not walked again). A
    sub-folder named as one of ``foreign`` (another label's folder) raises
    :class:`LayoutError`: the folder mixes labels. A
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
                    if entry.name in foreign:
                        raise LayoutError(
                            "a label folder holds another label's folder (mixed labels)",
                            Path(entry.path), f"only images of one label under {folder}",
                            f"the folder {prefix}{entry.name}/ in it")
                    real = os.path.realpath(entry.path)
                    if real in visited:
                        continue
                    visited.add(real)
                    stack.append((entry.path, f"{prefix}{entry.name}/"))
                elif is_image_file(entry.name):
                    found.append(prefix + entry.name)
    found.sort()
    return found


# -- patterns --------------------------------------------------------------------------------

def check_pattern(pattern: str, dataset: DatasetSpec | None = None) -> None:
    """Raise :class:`GibenchError` when ``pattern`` breaks the grammar (an unknown
    placeholder, ``@NAME`` not first or not one of ``dataset``'s extra roots, an empty or
    ``..`` segment, an absolute pattern)."""
    dataset = dataset or _DEFAULT
    segments = pattern.split("/")
    rest = pattern
    for token in _PLACEHOLDERS:
        rest = rest.replace(token, "")
    problem = ""
    if not pattern or pattern.startswith("/"):
        problem = "a pattern is a relative path of segments"
    elif "{" in rest or "}" in rest:
        problem = "the placeholders are {subset}, {split} and {label}"
    elif any(s in ("", ".", "..") for s in segments):
        problem = "no empty, '.' or '..' segment"
    elif any(s.startswith("@") for s in segments[1:]):
        problem = "@ROOT may only be the first segment"
    elif any("**" in s and s != "**" for s in segments):
        problem = "** is a whole segment"
    elif segments[0].startswith("@") and segments[0][1:] not in dataset.extra_roots:
        problem = (f"dataset {dataset.name!r} declares no extra root {segments[0][1:]!r} "
                   f"(extra_roots: {', '.join(dataset.extra_roots) or 'none'})")
    if problem:
        raise GibenchError(f"bad layout pattern {pattern!r} of dataset {dataset.name!r}: "
                           f"{problem}")


def subset_splits(spec: SubsetSpec, dataset: DatasetSpec | None = None) -> tuple[str, ...]:
    """The splits subset ``spec`` has: its own ``splits``, else its dataset's."""
    return spec.splits if spec.splits is not None else (dataset or _DEFAULT).splits


def label_patterns(spec: SubsetSpec, dataset: DatasetSpec | None = None) -> dict[int, str]:
    """Label → the pattern of its images for subset ``spec``, labels in the order their folder
    names sort (the order of an index): ``sources`` first, then the subset's layout, then the
    dataset's. A pattern without ``{label}`` used for two labels is an error (both labels would
    read one folder)."""
    dataset = dataset or _DEFAULT
    layout = spec.layout or dataset.layout
    out: dict[int, str] = {}
    for folder in sorted(dataset.label_folders):
        label = dataset.label_folders[folder]
        out[label] = spec.sources.get(label) or layout
    for pattern in set(out.values()):
        check_pattern(pattern, dataset)
        users = [lab for lab, p in out.items() if p == pattern]
        if "{label}" not in pattern and len(users) > 1:
            raise GibenchError(
                f"subset {spec.name!r} of dataset {dataset.name!r}: pattern {pattern!r} has no "
                "{label} level, so it can hold one label only; give the others in the "
                "subset's sources (e.g. sources={REAL: 'reals/folder'})")
    return out


def _fill(pattern: str, subset_folder: str | None, split: str, label_folder: str) -> str:
    text = pattern.replace("{split}", split).replace("{label}", label_folder)
    if subset_folder is not None:
        text = text.replace("{subset}", subset_folder)
    return text


def _prefix(pattern: str) -> list[str]:
    """The segments of ``pattern`` before its first ``**`` or ``{label}``-bearing one."""
    out = []
    for segment in pattern.split("/"):
        if segment == "**" or "{label}" in segment:
            break
        out.append(segment)
    return out


def _leaf_names(dataset: DatasetSpec) -> frozenset[str]:
    return frozenset(dataset.label_folders)


def match_folders(base: Path, relative: str, leaves: frozenset[str] = frozenset()
                  ) -> list[Path]:
    """The folders under ``base`` that the filled pattern ``relative`` names, sorted: a literal
    path is one folder (or none), ``**`` matches zero or more levels (not entering folders named
    in ``leaves``, nor hidden ones; each real folder once)."""
    found: set[Path] = set()
    seen: set[tuple[str, int]] = set()

    def walk(folder: Path, segments: list[str]) -> None:
        key = (os.path.realpath(folder), len(segments))
        if key in seen:
            return
        seen.add(key)
        if not segments:
            if folder.is_dir():
                found.add(folder)
            return
        head, rest = segments[0], segments[1:]
        if head != "**":
            if (folder / head).is_dir():
                walk(folder / head, rest)
            return
        walk(folder, rest)
        try:
            with os.scandir(folder) as entries:
                children = sorted(e.name for e in entries if not e.name.startswith(".")
                                  and e.name not in leaves and _is_dir(e))
        except OSError:
            return
        for child in children:
            walk(folder / child, segments)

    walk(Path(base), [s for s in relative.split("/") if s])
    return sorted(found)


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _subset_patterns(spec: SubsetSpec, dataset: DatasetSpec) -> list[str]:
    return [p for p in dict.fromkeys(label_patterns(spec, dataset).values()) if "{subset}" in p]


def _find_candidate(root: Path, spec: SubsetSpec, dataset: DatasetSpec
                    ) -> tuple[str, Path] | None:
    """(the first of ``spec.folders`` that holds what the subset's patterns need up to their
    first ``**`` or ``{label}`` — for the default layout, a split folder —, the folder where
    ``{subset}`` lands), or ``None``."""
    for candidate in spec.folders:
        for pattern in _subset_patterns(spec, dataset):
            prefix = _prefix(pattern)
            upto = next(i for i, seg in enumerate(pattern.split("/")) if "{subset}" in seg)
            for split in subset_splits(spec, dataset):
                if (root / _fill("/".join(prefix), candidate, split, "")).is_dir():
                    head = "/".join(pattern.split("/")[:upto + 1])
                    return candidate, root / _fill(head, candidate, split, "")
    return None


def find_subset_dir(root: Path, spec: SubsetSpec, dataset: DatasetSpec | None = None
                    ) -> Path | None:
    """The subset's folder: where ``{subset}`` lands for the first of ``spec.folders`` under
    ``root`` that holds what its patterns need up to their first ``**`` or ``{label}`` (for
    the default layout, a split folder of ``dataset``: ``root/<folder>``), or ``None``. A
    subset whose patterns do not use ``{subset}`` has the root as its folder."""
    root = Path(root)
    dataset = dataset or _DEFAULT
    if not _subset_patterns(spec, dataset):
        return root if root.is_dir() else None
    found = _find_candidate(root, spec, dataset)
    return None if found is None else found[1]


def has_split(root: Path, spec: SubsetSpec, split: str, dataset: DatasetSpec | None = None
              ) -> bool:
    """Whether subset ``spec`` has ``split`` under ``root``: one of its splits, and, where its
    patterns name the split before their labels, that folder exists."""
    dataset = dataset or _DEFAULT
    if split not in subset_splits(spec, dataset):
        return False
    if find_subset_dir(root, spec, dataset) is None:
        return False
    found = _find_candidate(Path(root), spec, dataset)
    name = found[0] if found else None
    for pattern in label_patterns(spec, dataset).values():
        prefix = "/".join(_prefix(pattern))
        if "{split}" in prefix and not prefix.startswith("@") and \
                not (Path(root) / _fill(prefix, name, split, "")).is_dir():
            return False
    return True


def split_folder(root: Path, spec: SubsetSpec, split: str, dataset: DatasetSpec | None = None
                 ) -> Path | None:
    """The folder of ``split`` of subset ``spec`` under ``root`` where its layout names the
    split before its labels (``<subset>/train`` for the default), else ``None``."""
    dataset = dataset or _DEFAULT
    pattern = spec.layout or dataset.layout
    prefix = "/".join(_prefix(pattern))
    if "{split}" not in prefix or prefix.startswith("@"):
        return None
    found = _find_candidate(Path(root), spec, dataset) if "{subset}" in prefix else None
    if "{subset}" in prefix and found is None:
        return None
    return Path(root) / _fill(prefix, found[0] if found else None, split, "")


def label_sources(root: Path, spec: SubsetSpec, split: str, label: int,
                  dataset: DatasetSpec | None = None,
                  extra_roots: Mapping[str, Path] | None = None
                  ) -> tuple[list[Path], Path, frozenset[str]]:
    """(the folders holding ``label``'s images of ``split`` of subset ``spec``, sorted; the
    path its pattern names, for messages; the folder names that must not appear inside them)
    — what ``data check`` and ``data audit`` read. A missing extra root raises
    :class:`GibenchError` naming the option that gives it."""
    root = Path(root)
    dataset = dataset or _DEFAULT
    pattern = label_patterns(spec, dataset)[label]
    found = _find_candidate(root, spec, dataset) if "{subset}" in pattern else None
    name = dataset.folder_of(label)
    filled = _fill(pattern, found[0] if found else (spec.folders or ("",))[0], split, name)
    start = root
    if filled.startswith("@"):
        extra, _, filled = filled[1:].partition("/")
        start = extra_root(dict(extra_roots or {}), extra, dataset)
    leaves = _leaf_names(dataset)
    foreign = leaves - {name} if "{label}" in pattern else leaves
    folders = match_folders(start, filled, leaves) if found or "{subset}" not in pattern else []
    return folders, start / filled, foreign


def _expected_subset(root: Path, spec: SubsetSpec, dataset: DatasetSpec) -> str:
    patterns = list(dict.fromkeys(label_patterns(spec, dataset).values()))
    if patterns == [_DEFAULT.layout] and spec.splits is None:
        holding = structure(dataset)
    else:
        holding = (f"the pattern {' and '.join(patterns)} (splits "
                   f"{','.join(subset_splits(spec, dataset))}; labels "
                   f"{','.join(sorted(dataset.label_folders))})")
    return (f"subset '{spec.name}' ({spec.display_name}) in one of: "
            + ", ".join(str(root / c) for c in spec.folders) + f"; each holding {holding}")


def missing_inside(folder: Path, spec: SubsetSpec, dataset: DatasetSpec | None = None) -> str:
    """What subset ``spec``'s existing ``folder`` lacks, in words (``no train/ or val/``), or
    ``""`` when it lacks nothing its patterns need up to their labels."""
    dataset = dataset or _DEFAULT
    wanted = sorted({"/".join(_prefix(p)[1:]) for p in _subset_patterns(spec, dataset)})
    wanted = [w for w in wanted if w]
    if not wanted:
        return ""
    tried = sorted({_fill(w, None, split, "") + "/" for w in wanted
                    for split in subset_splits(spec, dataset)})
    if any((folder / t).is_dir() for t in tried):
        return ""
    return f"no {' or '.join(tried)}"


def _only(spec: SubsetSpec, folder: str) -> SubsetSpec:
    """``spec`` with the one candidate ``folder``."""
    import dataclasses

    return dataclasses.replace(spec, folders=(folder,))


@functools.cache
def _warn_both(subset: str, used: Path, others: tuple[Path, ...]) -> None:
    """Say once that subset ``subset`` is under several of its layouts' folders: ``used``
    (the first of its candidates) is read, ``others`` are not."""
    print(f"warning: subset '{subset}' is present under several layouts: {used} is used, "
          f"{', '.join(map(str, others))} left out; remove or move the one you do not mean",
          file=sys.stderr)


def locate_subset(root: Path, spec: SubsetSpec, dataset: DatasetSpec | None = None) -> Path:
    """Like :func:`find_subset_dir`, but raise :class:`LayoutError` saying what was tried,
    and what an existing candidate folder lacks."""
    root = Path(root)
    dataset = dataset or _DEFAULT
    expected = _expected_subset(root, spec, dataset)
    if not root.is_dir():
        raise LayoutError("data root is not a folder", root, expected, describe_folder(root))
    subset_dir = find_subset_dir(root, spec, dataset)
    if subset_dir is not None:
        found = _find_candidate(root, spec, dataset)
        if found is not None:
            others = [c for c in spec.folders[spec.folders.index(found[0]) + 1:]
                      if _find_candidate(root, _only(spec, c), dataset) is not None]
            if others:
                _warn_both(spec.name, root / found[0], tuple(root / c for c in others))
        return subset_dir
    found = [f"in {root}: {describe_folder(root)}"]
    lacking = []
    for candidate in spec.folders:  # a candidate that exists but lacks train/val is a clue
        if (root / candidate).is_dir():
            found.append(f"in {root / candidate}: {describe_folder(root / candidate)}")
            lacks = missing_inside(root / candidate, spec, dataset)
            if lacks:
                lacking.append(f"its folder {root / candidate} exists but holds {lacks}")
    problem = (f"subset '{spec.name}': " + "; ".join(lacking) if lacking
               else f"subset '{spec.name}' not found under the data root")
    raise LayoutError(problem, root, expected, "; ".join(found))


@dataclass(eq=False, repr=False)
class ImageIndex:
    """The images of one split of one subset: paths relative to ``root`` and their labels.

    ``paths`` are POSIX paths relative to ``root``: the subset folder for the default layout
    (``train/ai/000_sdv4_00000.png``), the dataset's root when a subset's images come from
    outside its folder, ``@NAME/...`` for an image of the extra root ``NAME``
    (``extra_roots``); ``labels`` holds one uint8 per path, :data:`~gibench.specs.FAKE` (1)
    for a fake label folder (``ai``) and :data:`~gibench.specs.REAL` (0) for a real one
    (``nature``).
    """

    subset: str
    split: str
    root: Path
    paths: list[str]
    labels: np.ndarray
    extra_roots: Mapping[str, Path] = field(default_factory=dict)

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
        return self.resolve(self.paths[i])

    def resolve(self, rel: str) -> Path:
        """The file an index path names: under ``root``, or under extra root ``NAME`` for
        ``@NAME/...``."""
        if rel.startswith("@"):
            name, _, rest = rel[1:].partition("/")
            return Path(self.extra_roots[name]) / rest
        return self.root / rel

    def subsample(self, indices: Sequence[int] | np.ndarray) -> ImageIndex:
        """A new index holding the images at ``indices``, in that order."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        return ImageIndex(
            subset=self.subset,
            split=self.split,
            root=self.root,
            paths=[self.paths[i] for i in idx],
            labels=self.labels[idx],
            extra_roots=self.extra_roots,
        )


def index_split(subset_dir: Path, split: str, subset: str = "",
                dataset: DatasetSpec | None = None) -> ImageIndex:
    """Index ``subset_dir/split/<label folder>`` for each of ``dataset``'s label folders
    (``{ai,nature}`` by default; recursively; file names only, never pixels): the default
    layout, over one subset folder.

    Raises :class:`LayoutError` naming the folder at fault when the split folder or one of its
    label folders is missing, or one of them holds no image.
    """
    subset_dir = Path(subset_dir)
    dataset = dataset or _DEFAULT
    split_dir = subset_dir / split
    pair = " and ".join(f"{split_dir / folder}" for folder in sorted(dataset.label_folders))
    if not split_dir.is_dir():
        raise LayoutError(
            f"missing split folder '{split}'",
            split_dir,
            f"{pair} (layout {structure(dataset)})",
            f"in {subset_dir}: {describe_folder(subset_dir)}",
        )
    patterns = {dataset.label_of(f): "{split}/{label}" for f in sorted(dataset.label_folders)}
    return _index(patterns, subset_dir, None, {}, split, subset, dataset, subset_dir)


def extra_root(roots: Mapping[str, Path], name: str, dataset: DatasetSpec) -> Path:
    """The folder of ``dataset``'s extra root ``name`` in ``roots``; a :class:`GibenchError`
    naming the option that gives it when it is missing or not a folder."""
    what = dataset.extra_roots.get(name, "")
    flag = f"{{data_root=}}{dataset.name}.{name}=PATH"
    if name not in roots:
        raise GibenchError(f"dataset {dataset.name!r} needs its extra root {name!r}"
                           f"{f' ({what})' if what else ''}: give {flag}",
                           params=["data_root"])
    path = Path(roots[name])
    if not path.is_dir():
        raise LayoutError(f"extra root {name!r} of dataset {dataset.name!r} is not a folder",
                          path, f"a folder of {what or 'images'} (given as {dataset.name}."
                          f"{name}=PATH)", describe_folder(path))
    return path


def _index(patterns: Mapping[int, str], base: Path, subset_folder: str | None,
           roots: Mapping[str, Path], split: str, subset: str, dataset: DatasetSpec,
           root: Path) -> ImageIndex:
    """Index label by label (in the order of ``patterns``): every folder each pattern matches,
    paths relative to ``base`` (``@NAME/...`` under an extra root)."""
    leaves = _leaf_names(dataset)
    paths: list[str] = []
    labels: list[np.ndarray] = []
    used: dict[str, Path] = {}
    for label, pattern in patterns.items():
        folder_name = dataset.folder_of(label)
        filled = _fill(pattern, subset_folder, split, folder_name)
        prefix = ""
        start = Path(root)
        if filled.startswith("@"):
            name, _, filled = filled[1:].partition("/")
            start = used[name] = extra_root(roots, name, dataset)
            prefix = f"@{name}/"
        folders = match_folders(start, filled, leaves)
        if not folders:
            parent = start
            for segment in _prefix(filled) if "**" in filled else filled.split("/")[:-1]:
                if segment and (parent / segment).is_dir():
                    parent = parent / segment
                else:
                    break
            what = (f"label folder {folder_name!r}" if pattern.endswith("{label}")
                    else f"folder of the {folder_name!r} images")
            raise LayoutError(
                f"missing {what}", start / filled,
                f"{filled} under {start} for subset '{subset}', split '{split}' (pattern "
                f"{pattern}; labels {', '.join(sorted(dataset.label_folders))})",
                f"in {parent}: {describe_folder(parent)}")
        foreign = leaves - {folder_name} if "{label}" in pattern else leaves
        names: list[str] = []
        for folder in folders:
            inner = list_images(folder, foreign)
            rel = folder.relative_to(start if prefix else base).as_posix()
            lead = prefix + ("" if rel == "." else rel + "/")
            names.extend(lead + n for n in inner)
        if not names:
            raise LayoutError(
                "no images in folder" if len(folders) == 1 else "no images in folders",
                folders[0],
                "image files (" + " ".join(sorted(IMAGE_EXTENSIONS)) + ", any case), "
                f"directly or in sub-folders (label {folder_name!r} of subset '{subset}')",
                "; ".join(f"in {f}: {describe_folder(f)}" for f in folders[:3]))
        names.sort()
        paths.extend(names)
        labels.append(np.full(len(names), label, dtype=np.uint8))
    return ImageIndex(subset=subset, split=split, root=base, paths=paths,
                      labels=np.concatenate(labels), extra_roots=used)


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
                 dataset: DatasetSpec | None = None,
                 extra_roots: Mapping[str, Path] | None = None) -> ImageIndex:
    """Index ``split`` of subset ``spec`` under the dataset root ``root`` in ``dataset``'s
    layout (its patterns: see the module's docstring); ``extra_roots`` are the folders of the
    dataset's extra roots, by name. Raises :class:`LayoutError` naming what was expected and
    what was found when a folder is missing, holds no image or mixes labels."""
    root = Path(root)
    dataset = dataset or _DEFAULT
    splits = subset_splits(spec, dataset)
    if split not in splits:
        raise LayoutError(f"subset '{spec.name}' has no split {split!r}", root,
                          f"one of its splits: {', '.join(splits)}",
                          f"split {split!r} asked for"
                          + (" (it is test-only: it cannot be trained on)"
                             if split == dataset.train_split else ""))
    patterns = label_patterns(spec, dataset)
    uses_subset = any("{subset}" in p for p in patterns.values())
    subset_dir = locate_subset(root, spec, dataset) if uses_subset else root
    if not uses_subset and not root.is_dir():
        raise LayoutError("data root is not a folder", root, _expected_subset(root, spec, dataset),
                          describe_folder(root))
    within = all(p.split("/", 1)[0] == "{subset}" for p in patterns.values())
    found = _find_candidate(root, spec, dataset) if uses_subset else None
    folder = found[0] if found else None
    base = subset_dir if within else root
    return _index(patterns, base, folder, dict(extra_roots or {}), split, spec.name, dataset,
                  root)


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
