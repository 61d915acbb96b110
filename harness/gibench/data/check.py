"""Check a data root before a run: which subsets are there, how many images, which formats.

:func:`check_root` never stops at the first problem: it visits every subset, split and label
folder, counts the images (paths only), tallies their formats and reads the size of a small
seeded sample from the file headers. The sizes and formats per label show at a glance the
shortcut GenImage is known for (fakes are PNGs of one fixed size, reals are ImageNet JPEGs).
:func:`render_report` turns the result into text for the ``gibench check`` command.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from tabulate import tabulate

from gibench.data.layout import describe_folder, find_subset_dir, list_images
from gibench.specs import LABEL_FOLDERS, SPLITS, SubsetSpec

_LABELS: tuple[str, ...] = tuple(sorted(LABEL_FOLDERS))  # ("ai", "nature")
#: How many distinct sizes a table cell lists before summarising the rest.
_SHOWN_SIZES = 3


@dataclass
class FolderStats:
    """One ``split/label`` folder of a subset: image count, formats and sampled sizes."""

    folder: Path
    count: int = 0
    formats: Counter[str] = field(default_factory=Counter)
    sizes: Counter[tuple[int, int]] = field(default_factory=Counter)
    sampled: int = 0


@dataclass
class SubsetCheck:
    """What :func:`check_root` found for one subset.

    ``folder`` is ``None`` when no candidate of ``tried`` exists; ``folders`` maps
    ``(split, label)`` (``("train", "ai")``) to the statistics of every folder that exists.
    """

    name: str
    display_name: str
    folder: Path | None
    tried: list[Path]
    folders: dict[tuple[str, str], FolderStats] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        """Whether the subset's folder was found."""
        return self.folder is not None

    def count(self, split: str, label: str) -> int:
        """Number of images in ``split/label`` (0 when the folder is missing)."""
        stats = self.folders.get((split, label))
        return stats.count if stats is not None else 0


@dataclass
class CheckReport:
    """The result of :func:`check_root`: one record per subset and every problem, flat."""

    root: Path
    subsets: list[SubsetCheck]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every subset was found complete and every sampled image could be read."""
        return not self.problems

    @property
    def n_found(self) -> int:
        """Number of subsets whose folder was found."""
        return sum(s.found for s in self.subsets)

    def subset(self, name: str) -> SubsetCheck:
        """The record of the subset called ``name`` (canonical name)."""
        for record in self.subsets:
            if record.name == name:
                return record
        raise KeyError(f"no subset {name!r} in this report")


def _image_size(path: Path) -> tuple[int, int]:
    """Width and height from the file header (the pixels are not decoded)."""
    with Image.open(path) as image:
        return image.size


def _check_folder(
    folder: Path, sample: int, rng: np.random.Generator
) -> tuple[FolderStats, list[str]]:
    """Count, tally formats and sample sizes in one label folder; return its problems too."""
    stats = FolderStats(folder=folder)
    problems: list[str] = []
    try:
        names = list_images(folder)
    except OSError as exc:
        problems.append(f"unreadable folder: {folder} ({exc.__class__.__name__}: {exc})")
        return stats, problems
    stats.count = len(names)
    stats.formats.update(os.path.splitext(name)[1].lower() for name in names)
    if not names:
        problems.append(f"empty folder (no images): {folder} holds {describe_folder(folder)}")
        return stats, problems
    chosen = sorted(rng.choice(len(names), size=min(sample, len(names)), replace=False))
    for i in chosen:
        path = folder / names[i]
        try:
            stats.sizes[_image_size(path)] += 1
        except Exception as exc:  # any failure to parse a header is reported, not raised
            problems.append(f"unreadable image: {path} ({exc.__class__.__name__}: {exc})")
        else:
            stats.sampled += 1
    return stats, problems


def _check_subset(root: Path, spec: SubsetSpec, sample: int, seed: int) -> SubsetCheck:
    """Check one subset under ``root``."""
    record = SubsetCheck(
        name=spec.name,
        display_name=spec.display_name,
        folder=find_subset_dir(root, spec),
        tried=[root / candidate for candidate in spec.folders],
    )
    if record.folder is None:
        tried = ", ".join(str(p) for p in record.tried)
        record.problems.append(f"{spec.name}: subset folder missing; tried {tried}")
        return record
    for split_number, split in enumerate(SPLITS):
        split_dir = record.folder / split
        if not split_dir.is_dir():
            record.problems.append(f"{spec.name}: missing folder {split_dir}")
            continue
        for label_number, label in enumerate(_LABELS):
            label_dir = split_dir / label
            if not label_dir.is_dir():
                record.problems.append(f"{spec.name}: missing folder {label_dir}")
                continue
            # One stream per folder: the sample does not depend on which other folders exist.
            rng = np.random.default_rng([seed, split_number, label_number])
            stats, problems = _check_folder(label_dir, sample, rng)
            record.folders[(split, label)] = stats
            record.problems.extend(f"{spec.name}: {p}" for p in problems)
    return record


def check_root(
    root: Path, subsets: Sequence[SubsetSpec], sample: int = 16, seed: int = 0
) -> CheckReport:
    """Check every subset of ``subsets`` under ``root``: folders, counts, formats, sizes.

    Counting reads directory entries only; the sizes come from the headers of up to ``sample``
    files per split × label, drawn with ``seed``. Nothing raises for a bad layout or a broken
    file: each is a line of ``CheckReport.problems`` naming the full path.
    """
    root = Path(root)
    if not root.is_dir():
        records = [
            SubsetCheck(spec.name, spec.display_name, None, [root / c for c in spec.folders])
            for spec in subsets
        ]
        problem = f"data root is not a folder: {root} ({describe_folder(root)})"
        return CheckReport(root=root, subsets=records, problems=[problem])
    records = [_check_subset(root, spec, sample, seed) for spec in subsets]
    problems = [p for record in records for p in record.problems]
    return CheckReport(root=root, subsets=records, problems=problems)


def _format_formats(formats: Counter[str]) -> str:
    """``.png 3, .jpeg 2``: extensions by decreasing count."""
    return ", ".join(f"{ext} {n}" for ext, n in formats.most_common()) or "-"


def _format_sizes(sizes: Counter[tuple[int, int]]) -> str:
    """``512x512 (16)``: the commonest sampled sizes, then how many other sizes there were."""
    common = sizes.most_common()
    text = ", ".join(f"{w}x{h} ({n})" for (w, h), n in common[:_SHOWN_SIZES])
    if len(common) > _SHOWN_SIZES:
        text += f", +{len(common) - _SHOWN_SIZES} more sizes"
    return text or "-"


def _per_label(record: SubsetCheck, split: str, describe: Callable[[FolderStats], str]) -> str:
    """One line per label present in ``split``: ``ai: ...``."""
    lines = [
        f"{label}: {describe(record.folders[(split, label)])}"
        for label in _LABELS
        if (split, label) in record.folders
    ]
    return "\n".join(lines) or "-"


def _subset_table(record: SubsetCheck) -> str:
    """The table of one found subset: rows train/val, columns counts, formats, sizes."""
    rows = []
    for split in SPLITS:
        counts = [
            record.count(split, label) if (split, label) in record.folders else "missing"
            for label in _LABELS
        ]
        rows.append(
            [
                split,
                *counts,
                _per_label(record, split, lambda s: _format_formats(s.formats)),
                _per_label(record, split, lambda s: _format_sizes(s.sizes)),
            ]
        )
    headers = ["split", *_LABELS, "formats", "sizes (sampled)"]
    return tabulate(rows, headers=headers, tablefmt="simple")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def render_report(report: CheckReport) -> str:
    """The report as text: a table per subset, the problems, and a one-line summary."""
    blocks = [f"data root: {report.root}"]
    for record in report.subsets:
        title = f"{record.name} ({record.display_name})"
        if record.folder is None:
            blocks.append(f"{title}: not found (tried {len(record.tried)} folders, see problems)")
        else:
            blocks.append(f"{title}: {record.folder}\n{_subset_table(record)}")
    if report.problems:
        blocks.append("problems:\n" + "\n".join(f"- {p}" for p in report.problems))
    n = len(report.subsets)
    if report.n_found == n:
        found = _plural(n, "subset")
    else:
        found = f"{report.n_found} of {_plural(n, 'subset')}"
    blocks.append(f"{found} found, {_plural(len(report.problems), 'problem')}")
    return "\n\n".join(blocks)
