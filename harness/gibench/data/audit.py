"""Audit a data root for shortcuts: can file format, image size or JPEG quality alone tell
real from fake?

GenImage's real images are ImageNet JPEGs (mostly quality 96, of varied sizes) while its fakes
are PNGs of one size per generator, so a detector can score well by learning "JPEG or not" or
"512² or not" (Grommelt et al. 2024, "Fake or JPEG?"). :func:`audit_root` measures that bias
before anyone trains on a root:

* per subset, split and class (``ai`` / ``nature``), on a seeded sample of at most ``sample``
  files per folder (all when fewer): the file formats read from the file header
  (``PIL.Image.open(...).format``, never the extension), the JPEG quality estimated from the
  quantisation tables (:func:`estimate_jpeg_quality`), and the image sizes (commonest, smallest,
  largest);
* per subset and split, the best *trivial rule* on each of those three features alone and its
  balanced accuracy on the sampled files; a rule above ``threshold`` (default
  :data:`SHORTCUT_THRESHOLD`, 90%) is a warning that names it.

Trivial rules
-------------
For a feature (format, size ``WxH``, or JPEG quality, ``none`` for a file that is not a JPEG),
the best rule predicts *fake* for the values more frequent among the sampled fakes than among
the sampled reals (share within each class), *real* for the others: the best rule on that
feature alone for balanced classes. It is written as the shorter of ``fake iff F in {...}`` (an
unlisted value is real) and ``fake iff F not in {...}`` (an unlisted value is fake), ``==`` /
``!=`` for one value, fitted on the whole sample.

Its accuracy is *balanced* — the mean of the accuracy on the reals and on the fakes, so a
constant rule scores 50% whatever the class ratio — and *cross-fitted*: the value sets are
fitted on one half of the sample (every other sampled file of each class) and scored on the
other, then the other way round, and the two halves' hits are pooled. A rule that merely
memorises which rare sizes happen to be fake in the sample therefore does not count as a
shortcut; a fixed fake size or format does. A class with fewer than two sampled files is
scored on the sample it was fitted on.

Nothing here raises for a missing subset or an unreadable file: each is a problem in the
report. :func:`render_audit` gives the text report, :meth:`AuditReport.to_dict` the JSON.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tabulate import tabulate

from gibench.data.check import missing_subset, sources_or_problem
from gibench.data.images import BadImageError, open_header
from gibench.data.layout import (
    LayoutError,
    find_subset_dir,
    subset_splits,
)
from gibench.specs import FAKE, REAL, DatasetSpec, SubsetSpec

#: A trivial rule whose balanced, cross-fitted accuracy (percent) exceeds this is a warning.
SHORTCUT_THRESHOLD = 90.0
#: Files sampled per split × class folder by default.
DEFAULT_SAMPLE = 500
#: The features the trivial rules look at, in report order.
FEATURES: tuple[str, ...] = ("format", "size", "JPEG quality")
#: The conventions of a dataset that no spec is given for.
_DEFAULT = DatasetSpec("")
#: How many values a table cell or a rule lists before summarising the rest.
_SHOWN = 3

# ---------------------------------------------------------------------------------------------
# JPEG quality from the quantisation tables.
# ---------------------------------------------------------------------------------------------

#: The standard luminance quantisation table (ITU-T T.81 Annex K, table K.1), in natural
#: (row-major) order: libjpeg's ``std_luminance_quant_tbl``.
STD_LUMINANCE = np.array([
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
], dtype=np.int64)


def ijg_table(quality: int, base: np.ndarray = STD_LUMINANCE) -> np.ndarray:
    """The table libjpeg writes at ``quality`` (1..100) for ``base``, as ``jpeg_set_quality``
    does with ``force_baseline``: ``scale = 5000 / q`` below 50, else ``200 - 2q``; each entry
    ``(base * scale + 50) // 100`` clamped to ``1..255``."""
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be in 1..100, got {quality}")
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((base * scale + 50) // 100, 1, 255)


_IJG_TABLES = np.stack([ijg_table(q) for q in range(1, 101)])  # row q-1: quality q


def _nearest_quality(table: Sequence[int]) -> tuple[int, bool]:
    """(quality, whether its IJG table matches exactly): the nearest by the sum of absolute
    differences; among equally near qualities the highest."""
    t = np.asarray(table, dtype=np.int64).ravel()
    if t.size != 64:
        raise ValueError(f"a quantisation table has 64 entries, got {t.size}")
    distance = np.abs(_IJG_TABLES - t).sum(axis=1)
    best = int(np.flatnonzero(distance == distance.min())[-1])
    return best + 1, bool(distance[best] == 0)


def estimate_jpeg_quality(table: Sequence[int]) -> int:
    """The libjpeg quality (1..100) whose scaled standard luminance table (:func:`ijg_table`)
    is nearest ``table`` — a luminance table (table 0 of a JPEG) in natural order, as Pillow
    returns ``Image.quantization[0]``. Exact for files written by libjpeg (PIL, most tools) at
    a quality setting; the nearest standard quality for other tables (cameras, Photoshop)."""
    return _nearest_quality(table)[0]


# ---------------------------------------------------------------------------------------------
# Reading the sampled files.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageFacts:
    """What one file's header says: format, size, and the estimated JPEG quality (``None``
    unless a JPEG); ``exact`` says whether the tables are libjpeg's at that quality."""

    format: str
    size: tuple[int, int]
    quality: int | None = None
    exact: bool = True

    @property
    def quality_label(self) -> str:
        """``96``, ``~93`` (nearest standard quality of a non-standard table) or ``none``."""
        if self.quality is None:
            return "none"
        return f"{'' if self.exact else '~'}{self.quality}"


def read_facts(path: Path) -> ImageFacts:
    """Format, size and JPEG quality from the file's header (the pixels are not decoded)."""
    with open_header(path) as image:  # a regular file's first bytes: never blocks on a FIFO
        fmt = image.format or "unknown"
        tables = getattr(image, "quantization", None) if fmt in ("JPEG", "MPO") else None
        if tables and 0 in tables:
            quality, exact = _nearest_quality(tables[0])
            return ImageFacts(fmt, image.size, quality, exact)
        return ImageFacts(fmt, image.size)


@dataclass
class ClassAudit:
    """One ``split/label`` folder: how many files, and the facts of the sampled ones."""

    folder: Path
    count: int = 0
    facts: list[ImageFacts] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    @property
    def sampled(self) -> int:
        """Number of sampled files whose header could be read."""
        return len(self.facts)

    @property
    def formats(self) -> Counter[str]:
        return Counter(f.format for f in self.facts)

    @property
    def sizes(self) -> Counter[tuple[int, int]]:
        return Counter(f.size for f in self.facts)

    @property
    def qualities(self) -> Counter[str]:
        """Estimated JPEG qualities of the sampled JPEGs (:attr:`ImageFacts.quality_label`)."""
        return Counter(f.quality_label for f in self.facts if f.quality is not None)

    def size_range(self) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """The smallest and largest sampled sizes by pixel count (then width), or ``None``."""
        if not self.facts:
            return None
        sizes = sorted(self.sizes, key=lambda s: (s[0] * s[1], s))
        return sizes[0], sizes[-1]


def _audit_folder(folders: Sequence[Path] | Path, sample: int, rng: np.random.Generator,
                  foreign: frozenset[str] = frozenset()) -> ClassAudit:
    from gibench.data.check import merged_images

    folder, names = merged_images([folders] if isinstance(folders, Path) else folders,
                                  foreign)
    record = ClassAudit(folder=folder)
    record.count = len(names)
    chosen = np.sort(rng.choice(len(names), size=min(sample, len(names)), replace=False))
    for i in chosen:
        try:
            record.facts.append(read_facts(folder / names[i]))
        except BadImageError as exc:  # not a regular file: what it is
            record.unreadable.append(f"{folder / names[i]} ({exc.reason})")
        except Exception as exc:  # any header that cannot be parsed is reported, not raised
            record.unreadable.append(f"{folder / names[i]} ({exc.__class__.__name__}: {exc})")
    return record


# ---------------------------------------------------------------------------------------------
# Trivial rules.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrivialRule:
    """The best rule on one feature alone for one split of a subset (module docstring)."""

    split: str
    feature: str
    rule: str
    #: balanced, cross-fitted accuracy in percent, and its two halves
    accuracy: float
    real_acc: float
    fake_acc: float
    n_real: int
    n_fake: int


_FEATURE_VALUES: dict[str, Callable[[ImageFacts], Hashable]] = {
    "format": lambda f: f.format,
    "size": lambda f: f.size,
    "JPEG quality": lambda f: f.quality,
}


def _show(value: Hashable) -> str:
    if value is None:  # the JPEG quality of a file that is not a JPEG
        return "none (not a JPEG)"
    if isinstance(value, tuple):
        return "x".join(map(str, value))
    return str(value)


def _sort_key(value: Hashable) -> tuple[int, Any]:
    return (0, value) if value is not None else (1, 0)


def _fit(real: list[Hashable], fake: list[Hashable]) -> tuple[set[Hashable], set[Hashable]]:
    """(values more frequent among the fakes, values more frequent among the reals)."""
    p_real, p_fake = Counter(real), Counter(fake)
    values = set(p_real) | set(p_fake)
    # compare within-class shares without division: a/len(real) > b/len(fake)
    more_fake = {v for v in values if p_fake[v] * len(real) > p_real[v] * len(fake)}
    more_real = {v for v in values if p_real[v] * len(fake) > p_fake[v] * len(real)}
    return more_fake, more_real


def _predict(values: list[Hashable], listed: set[Hashable], negated: bool) -> np.ndarray:
    hit = np.fromiter((v in listed for v in values), dtype=bool, count=len(values))
    return ~hit if negated else hit


def best_rule(split: str, feature: str, real: list[Hashable], fake: list[Hashable]) -> TrivialRule:
    """The best trivial rule on ``feature`` given its sampled values per class (both
    non-empty), named from the whole sample and scored cross-fitted (module docstring)."""
    more_fake, more_real = _fit(real, fake)
    negated = len(more_real) < len(more_fake)
    listed = sorted(more_real if negated else more_fake, key=_sort_key)
    if not listed:  # the same mix on both sides: the rule says "real" for everything
        text = f"none: the same {feature} mix in both classes"
    elif len(listed) == 1:
        text = f"fake iff {feature} {'!=' if negated else '=='} {_show(listed[0])}"
    else:
        shown = ", ".join(_show(v) for v in listed[:_SHOWN])
        more = f", +{len(listed) - _SHOWN} more" if len(listed) > _SHOWN else ""
        text = f"fake iff {feature} {'not in' if negated else 'in'} {{{shown}{more}}}"

    def hits(fit_real: list[Hashable], fit_fake: list[Hashable], test_real: list[Hashable],
             test_fake: list[Hashable]) -> tuple[int, int]:
        sets = _fit(fit_real, fit_fake)
        chosen = sets[1] if negated else sets[0]
        return (int(np.count_nonzero(~_predict(test_real, chosen, negated))),
                int(np.count_nonzero(_predict(test_fake, chosen, negated))))

    if min(len(real), len(fake)) >= 2:
        a = hits(real[0::2], fake[0::2], real[1::2], fake[1::2])
        b = hits(real[1::2], fake[1::2], real[0::2], fake[0::2])
        real_hits, fake_hits = a[0] + b[0], a[1] + b[1]
    else:
        real_hits, fake_hits = hits(real, fake, real, fake)
    real_acc = 100.0 * real_hits / len(real)
    fake_acc = 100.0 * fake_hits / len(fake)
    return TrivialRule(split, feature, text, (real_acc + fake_acc) / 2, real_acc, fake_acc,
                       len(real), len(fake))


# ---------------------------------------------------------------------------------------------
# The audit of a root.
# ---------------------------------------------------------------------------------------------


@dataclass
class SubsetAudit:
    """What :func:`audit_root` found for one subset: its folder (``None`` when missing), the
    audit of each ``(split, label)`` folder, the best trivial rule per split and feature."""

    spec: SubsetSpec
    folder: Path | None
    classes: dict[tuple[str, str], ClassAudit] = field(default_factory=dict)
    rules: list[TrivialRule] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: the split folder names of the subset's dataset, in its order
    splits: tuple[str, ...] = _DEFAULT.splits

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def display_name(self) -> str:
        return self.spec.display_name

    def shortcuts(self, threshold: float) -> list[TrivialRule]:
        """The rules above ``threshold``, best first."""
        return sorted((r for r in self.rules if r.accuracy > threshold),
                      key=lambda r: (-r.accuracy, self.splits.index(r.split),
                                     FEATURES.index(r.feature)))


@dataclass
class AuditReport:
    """The result of :func:`audit_root`."""

    root: Path
    subsets: list[SubsetAudit]
    sample: int
    seed: int
    threshold: float
    problems: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        """Whether the root is a folder holding at least one of the subsets."""
        return any(s.folder is not None for s in self.subsets)

    @property
    def warnings(self) -> list[str]:
        """One line per subset and split with a shortcut: its best rule, then the others."""
        lines = []
        for record in self.subsets:
            for split in record.splits:
                found = [r for r in record.shortcuts(self.threshold) if r.split == split]
                if not found:
                    continue
                best, others = found[0], found[1:]
                also = "".join(f"; also by {r.feature} ({r.accuracy:.1f}%)" for r in others)
                lines.append(
                    f"{record.name} {split}: real and fake are separable by {best.feature} alone: "
                    f"'{best.rule}' is right on {best.accuracy:.1f}% (balanced, "
                    f"{best.n_real} real + {best.n_fake} fake files sampled){also}"
                )
        return lines

    def to_dict(self) -> dict[str, Any]:
        """Everything in the report as JSON-ready data (``gibench data audit --json``)."""
        return {
            "root": str(self.root),
            "sample": self.sample,
            "seed": self.seed,
            "threshold": self.threshold,
            "subsets": [_subset_dict(s, self.threshold) for s in self.subsets],
            "warnings": self.warnings,
            "problems": self.problems,
        }


def _class_dict(split: str, label: str, c: ClassAudit) -> dict[str, Any]:
    span = c.size_range()
    return {
        "split": split,
        "label": label,
        "folder": str(c.folder),
        "count": c.count,
        "sampled": c.sampled,
        "formats": dict(c.formats.most_common()),
        "jpeg_qualities": dict(c.qualities.most_common()),
        "sizes": [{"width": w, "height": h, "count": n} for (w, h), n in c.sizes.most_common()],
        "min_size": list(span[0]) if span else None,
        "max_size": list(span[1]) if span else None,
        "unreadable": c.unreadable,
    }


def _subset_dict(s: SubsetAudit, threshold: float) -> dict[str, Any]:
    return {
        "name": s.name,
        "display_name": s.display_name,
        "folder": str(s.folder) if s.folder is not None else None,
        "classes": [_class_dict(split, label, c) for (split, label), c in s.classes.items()],
        "rules": [{**vars(r), "shortcut": r.accuracy > threshold} for r in s.rules],
        "problems": s.problems,
    }


def _audit_subset(root: Path, spec: SubsetSpec, sample: int, seed: int,
                  dataset: DatasetSpec, extra_roots: dict[str, Path] | None = None
                  ) -> SubsetAudit:
    record = SubsetAudit(spec, find_subset_dir(root, spec, dataset),
                         splits=tuple(subset_splits(spec, dataset)))
    if record.folder is None:
        record.problems.append(missing_subset(root, spec, dataset))
        return record
    labels = (dataset.folder_of(REAL), dataset.folder_of(FAKE))  # real first, as tables read
    for split_number, split in enumerate(record.splits):
        for label in labels:
            found = sources_or_problem(root, spec, split, dataset.label_of(label), dataset,
                                       extra_roots, record.problems)
            if found is None:
                continue
            folders, foreign = found
            # one stream per folder: its sample does not depend on which other folders exist
            rng = np.random.default_rng([seed, split_number, labels.index(label)])
            try:
                audit = _audit_folder(folders, sample, rng, foreign)
            except LayoutError as exc:
                record.problems.append(f"{spec.name}: {exc.problem}: {exc.path}")
                continue
            except OSError as exc:
                record.problems.append(f"{spec.name}: unreadable folder {folders[0]} ({exc})")
                continue
            record.classes[(split, label)] = audit
            record.problems.extend(f"{spec.name}: unreadable image {u}" for u in audit.unreadable)
        real, fake = (record.classes.get((split, label)) for label in labels)
        if real is None or fake is None or not real.facts or not fake.facts:
            continue
        for feature in FEATURES:
            value = _FEATURE_VALUES[feature]
            record.rules.append(best_rule(split, feature, [value(f) for f in real.facts],
                                          [value(f) for f in fake.facts]))
    return record


def audit_root(
    root: Path,
    subsets: Sequence[SubsetSpec],
    sample: int = DEFAULT_SAMPLE,
    seed: int = 0,
    threshold: float = SHORTCUT_THRESHOLD,
    dataset: DatasetSpec | None = None,
    extra_roots: dict[str, Path] | None = None,
) -> AuditReport:
    """Audit every subset of ``subsets`` found under ``root`` (module docstring), laid out as
    ``dataset`` (their dataset's spec; ``None``: the default conventions) says.

    ``sample`` files are drawn per split × class folder with ``seed`` (all when fewer); their
    headers only are read. Missing subsets and folders, and unreadable files, are problems of
    the report; :attr:`AuditReport.usable` is false when no subset was found at all.
    """
    if sample < 1:
        raise ValueError(f"sample must be >= 1, got {sample}")
    root = Path(root)
    dataset = dataset or _DEFAULT
    if not root.is_dir():
        records = [SubsetAudit(spec, None, splits=tuple(dataset.splits)) for spec in subsets]
        return AuditReport(root, records, sample, seed, threshold,
                           [f"data root is not a folder: {root}"])
    records = [_audit_subset(root, spec, sample, seed, dataset, extra_roots)
               for spec in subsets]
    return AuditReport(root, records, sample, seed, threshold,
                       [p for r in records for p in r.problems])


# ---------------------------------------------------------------------------------------------
# Text report.
# ---------------------------------------------------------------------------------------------


def _top(counter: Counter[Any], show: Callable[[Any], str] = str) -> str:
    """``PNG 500`` / ``512x512 (16), +2 more``: the commonest values with their counts."""
    common = counter.most_common()
    text = ", ".join(f"{show(v)} {n}" for v, n in common[:_SHOWN])
    return text + (f", +{len(common) - _SHOWN} more" if len(common) > _SHOWN else "") or "-"


def _show_quality(label: str) -> str:
    """``q96``, or ``~q93`` for the nearest standard quality of a non-standard table."""
    return f"~q{label[1:]}" if label.startswith("~") else f"q{label}"


def _classes_table(record: SubsetAudit) -> str:
    rows = []
    for (split, label), c in record.classes.items():
        span = c.size_range()
        rows.append([
            split, label, c.count, c.sampled, _top(c.formats), _top(c.qualities, _show_quality),
            _top(c.sizes, _show), f"{_show(span[0])} .. {_show(span[1])}" if span else "-",
        ])
    headers = ["split", "class", "files", "sampled", "formats (header)", "JPEG quality",
               "sizes", "smallest .. largest"]
    return tabulate(rows, headers=headers, tablefmt="simple")


def _rules_table(record: SubsetAudit, threshold: float) -> str:
    rows = [[r.split, r.feature, r.rule, f"{r.accuracy:.1f}", f"{r.real_acc:.1f}",
             f"{r.fake_acc:.1f}", "SHORTCUT" if r.accuracy > threshold else ""]
            for r in record.rules]
    headers = ["split", "feature", "best trivial rule", "bal. acc %", "real %", "fake %", ""]
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True,
                    colalign=("left", "left", "left", "right", "right", "right", "left"))


def render_audit(report: AuditReport) -> str:
    """The report as text: per subset its classes and trivial rules, then warnings, problems
    and a one-line summary."""
    blocks = [f"data root: {report.root}\nsampled: up to {report.sample} files per split and "
              f"class (seed {report.seed}); trivial rules: balanced accuracy, cross-fitted on "
              f"two halves of the sample; warning above {report.threshold:g}%"]
    for record in report.subsets:
        title = f"{record.name} ({record.display_name})"
        if record.folder is None:
            blocks.append(f"{title}: not found")
            continue
        body = f"{title}: {record.folder}\n{_classes_table(record)}"
        if record.rules:
            body += "\n\n" + _rules_table(record, report.threshold)
        blocks.append(body)
    warnings = report.warnings
    if warnings:
        blocks.append(f"WARNING: shortcuts (a trivial rule above {report.threshold:g}%)\n"
                      + "\n".join(f"- {w}" for w in warnings))
    if report.problems:
        blocks.append("problems:\n" + "\n".join(f"- {p}" for p in report.problems))
    found = sum(s.folder is not None for s in report.subsets)
    blocks.append(f"{found} of {len(report.subsets)} subsets audited, {len(warnings)} "
                  f"shortcut warning(s), {len(report.problems)} problem(s)")
    return "\n\n".join(blocks)


def write_json(report: AuditReport, path: Path) -> None:
    """Write :meth:`AuditReport.to_dict` to ``path`` atomically."""
    from gibench.outputs import atomic_write_json  # imports torch: only when writing

    atomic_write_json(Path(path), report.to_dict())
