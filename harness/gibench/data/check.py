"""Check a data root before a run: which subsets are there, how many images, which formats.

:func:`check_root` never stops at the first problem: it visits every subset, split and label
folder, counts the images (paths only), tallies their formats and reads the size of a small
seeded sample from the file headers. The sizes and formats per label show at a glance the
shortcut GenImage is known for (fakes are PNGs of one fixed size, reals are ImageNet JPEGs).
:func:`render_report` turns the result into text for the ``gibench data check`` command.

:func:`deep_check` (``gibench data check --deep``) then decodes every image file of every
subset found, as training and evaluation would (:func:`~gibench.data.images.load_rgb`), in
worker processes that are watched: a file that hangs its decoder past a time limit, or crashes
it, is a bad file like an undecodable one, and the check goes on with a fresh worker.
:func:`write_bad_list` writes the bad files to a CSV, so a download is cleaned once.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import signal
import time
import warnings
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path

import numpy as np
from tabulate import tabulate

from gibench.data.images import BadImageError, load_rgb, open_header
from gibench.data.layout import (
    LayoutError,
    describe_folder,
    find_subset_dir,
    label_sources,
    list_images,
    missing_inside,
    split_folder,
    subset_splits,
)
from gibench.errors import GibenchError
from gibench.specs import DatasetSpec, SubsetSpec

#: The conventions of a dataset that no spec is given for.
_DEFAULT = DatasetSpec("")
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
    #: The image files, relative to ``folder`` (what :func:`deep_check` decodes).
    names: list[str] = field(default_factory=list, repr=False)


@dataclass
class SubsetCheck:
    """What :func:`check_root` found for one subset.

    ``folder`` is ``None`` when no candidate of ``tried`` exists; ``folders`` maps
    ``(split, label)`` (``("train", "ai")``) to the statistics of every folder that exists.
    ``splits`` and ``labels`` are the split and label folder names of the subset's dataset.
    """

    name: str
    display_name: str
    folder: Path | None
    tried: list[Path]
    folders: dict[tuple[str, str], FolderStats] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    splits: tuple[str, ...] = _DEFAULT.splits
    labels: tuple[str, ...] = tuple(sorted(_DEFAULT.label_folders))

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
    #: the name of the dataset whose subsets were looked for
    dataset: str = ""

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
    """Width and height from the file header (the pixels are not decoded; nothing but a regular
    file is opened, and at most :data:`~gibench.data.images.HEADER_MAX_BYTES` of it read)."""
    with open_header(path) as image:
        return image.size


def merged_images(folders: Sequence[Path], foreign: frozenset[str] = frozenset()
                  ) -> tuple[Path, list[str]]:
    """(the folder the images of ``folders`` are listed from, their paths relative to it):
    one folder's own listing, or several folders' merged under their common parent."""
    if len(folders) == 1:
        return folders[0], list_images(folders[0], foreign)
    base = Path(os.path.commonpath([str(f) for f in folders]))
    names: list[str] = []
    for folder in folders:
        lead = folder.relative_to(base).as_posix()
        names.extend(f"{lead}/{n}" for n in list_images(folder, foreign))
    return base, sorted(names)


def sources_or_problem(root: Path, spec: SubsetSpec, split: str, label: int,
                       dataset: DatasetSpec, extra_roots: dict[str, Path] | None,
                       problems: list[str]) -> tuple[list[Path], frozenset[str]] | None:
    """(the folders holding ``label``'s images of ``spec``'s ``split``, the other labels'
    folder names) as :func:`~gibench.data.layout.label_sources` finds them; ``None`` with the
    problem added to ``problems`` when an extra root is not given or no folder exists (the
    report goes on with the other labels)."""
    try:
        folders, expected, foreign = label_sources(root, spec, split, label, dataset,
                                                   extra_roots)
    except GibenchError as exc:  # an extra root not given
        problems.append(f"{spec.name}: {exc}")
        return None
    if not folders:
        problems.append(f"{spec.name}: missing folder {expected}")
        return None
    return folders, foreign


def _check_folder(
    folders: Sequence[Path] | Path, sample: int, rng: np.random.Generator,
    foreign: frozenset[str] = frozenset(),
) -> tuple[FolderStats, list[str]]:
    """Count, tally formats and sample sizes in one label's folders (merged); return their
    problems too."""
    folders = [folders] if isinstance(folders, Path) else list(folders)
    stats = FolderStats(folder=folders[0])
    problems: list[str] = []
    try:
        folder, names = merged_images(folders, foreign)
    except LayoutError as exc:
        problems.append(f"{exc.problem}: {exc.path}")
        return stats, problems
    except OSError as exc:
        problems.append(f"unreadable folder: {folders[0]} ({exc.__class__.__name__}: {exc})")
        return stats, problems
    stats.folder = folder
    stats.names = names
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
        except BadImageError as exc:  # not a regular file: what it is
            problems.append(f"unreadable image: {path} ({exc.reason})")
        except Exception as exc:  # any failure to parse a header is reported, not raised
            problems.append(f"unreadable image: {path} ({exc.__class__.__name__}: {exc})")
        else:
            stats.sampled += 1
    return stats, problems


def missing_subset(root: Path, spec: SubsetSpec, dataset: DatasetSpec) -> str:
    """The problem of a subset whose folder was not found: the candidate folders that exist
    and what each lacks (``no train/ or val/``), else every folder tried."""
    lacking = [f"{root / c} exists but holds {missing_inside(root / c, spec, dataset)} "
               f"(it holds {describe_folder(root / c, 5)})" for c in spec.folders
               if (root / c).is_dir() and missing_inside(root / c, spec, dataset)]
    if lacking:
        return f"{spec.name}: subset folder incomplete: " + "; ".join(lacking)
    tried = ", ".join(str(root / c) for c in spec.folders)
    return f"{spec.name}: subset folder missing; tried {tried}"


def _check_subset(root: Path, spec: SubsetSpec, sample: int, seed: int,
                  dataset: DatasetSpec, extra_roots: dict[str, Path] | None = None
                  ) -> SubsetCheck:
    """Check one subset under ``root``, laid out as ``dataset`` (and the subset's own layout,
    sources and splits) says."""
    record = SubsetCheck(
        name=spec.name,
        display_name=spec.display_name,
        folder=find_subset_dir(root, spec, dataset),
        tried=[root / candidate for candidate in spec.folders],
        splits=tuple(subset_splits(spec, dataset)),
        labels=tuple(sorted(dataset.label_folders)),
    )
    if record.folder is None:
        record.problems.append(missing_subset(root, spec, dataset))
        return record
    for split_number, split in enumerate(record.splits):
        split_dir = split_folder(root, spec, split, dataset)
        if split_dir is not None and not split_dir.is_dir():
            record.problems.append(f"{spec.name}: missing folder {split_dir}")
            continue
        for label_number, label in enumerate(record.labels):
            found = sources_or_problem(root, spec, split, dataset.label_of(label), dataset,
                                       extra_roots, record.problems)
            if found is None:
                continue
            folders, foreign = found
            # One stream per folder: the sample does not depend on which other folders exist.
            rng = np.random.default_rng([seed, split_number, label_number])
            stats, problems = _check_folder(folders, sample, rng, foreign)
            record.folders[(split, label)] = stats
            record.problems.extend(f"{spec.name}: {p}" for p in problems)
    return record


def check_root(
    root: Path, subsets: Sequence[SubsetSpec], sample: int = 16, seed: int = 0,
    dataset: DatasetSpec | None = None, extra_roots: dict[str, Path] | None = None,
) -> CheckReport:
    """Check every subset of ``subsets`` under ``root``: folders, counts, formats, sizes.

    The subsets are laid out as ``dataset`` (their dataset's spec; ``None``: the default
    conventions) says: its split and label folder names. Counting reads directory entries
    only; the sizes come from the headers of up to ``sample`` files per split × label, drawn
    with ``seed``. Nothing raises for a bad layout or a broken file: each is a line of
    ``CheckReport.problems`` naming the full path. ``extra_roots`` are the folders of the
    dataset's extra roots, by name (a label read from one not given is a problem).
    """
    root = Path(root)
    dataset = dataset or _DEFAULT
    if not root.is_dir():
        records = [
            SubsetCheck(spec.name, spec.display_name, None, [root / c for c in spec.folders],
                        splits=tuple(dataset.splits),
                        labels=tuple(sorted(dataset.label_folders)))
            for spec in subsets
        ]
        problem = f"data root is not a folder: {root} ({describe_folder(root)})"
        return CheckReport(root=root, subsets=records, problems=[problem], dataset=dataset.name)
    records = [_check_subset(root, spec, sample, seed, dataset, extra_roots)
               for spec in subsets]
    problems = [p for record in records for p in record.problems]
    return CheckReport(root=root, subsets=records, problems=problems, dataset=dataset.name)


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
        for label in record.labels
        if (split, label) in record.folders
    ]
    return "\n".join(lines) or "-"


def _subset_table(record: SubsetCheck) -> str:
    """The table of one found subset: rows train/val, columns counts, formats, sizes."""
    rows = []
    for split in record.splits:
        counts = [
            record.count(split, label) if (split, label) in record.folders else "missing"
            for label in record.labels
        ]
        rows.append(
            [
                split,
                *counts,
                _per_label(record, split, lambda s: _format_formats(s.formats)),
                _per_label(record, split, lambda s: _format_sizes(s.sizes)),
            ]
        )
    headers = ["split", *record.labels, "formats", "sizes (sampled)"]
    return tabulate(rows, headers=headers, tablefmt="simple")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


#: What to do with images that are no dataset gibench knows (shown when none is found).
OTHER_WAYS = ("to use these images as they are: `gibench score --detector D --weights W "
              "FOLDER` scores a folder; `--subset-dir NAME=FOLDER:ai|nature` adds a folder as a "
              "test subset of a run; `--dataset folder:PATH` reads a PATH/<name>/{0_real,1_fake} "
              "(or {nature,ai}) tree as a dataset; a dataset plugin describes any other layout "
              "(`gibench list datasets` shows those installed)")


def render_report(report: CheckReport) -> str:
    """The report as text: a table per subset, the problems, and a one-line summary. A root
    that is not a folder is one line; a root holding none of the subsets a short report: what
    it holds, the subset folders that exist without their splits, and :data:`OTHER_WAYS`."""
    if not report.root.is_dir():
        return f"data root {report.root}: {describe_folder(report.root)}"
    if report.subsets and report.n_found == 0:
        of = f" of dataset {report.dataset!r}" if report.dataset else ""
        incomplete = [p for p in report.problems if "subset folder incomplete" in p]
        return "\n".join([
            f"data root {report.root} holds none of the {_plural(len(report.subsets), 'subset')}"
            f"{of}; it holds {describe_folder(report.root, 8)}",
            *(f"- {p}" for p in incomplete), OTHER_WAYS])
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


# --------------------------------------------------------------------------- deep check


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _decode_reason(decode: Callable[[str], object], path: str) -> str | None:
    """``None`` when ``decode(path)`` succeeds, else why it failed."""
    try:
        decode(path)
    except BadImageError as exc:
        return exc.reason
    except Exception as exc:  # a decoder bug on a hostile file is a bad file too
        return f"{type(exc).__name__}: {exc}"
    return None


def _decode_worker(conn: Connection, decode: Callable[[str], object]) -> None:
    """A worker process: answer ``"ready"``, then ``(i, reason)`` for each ``(i, path)`` of
    every chunk received, in order, until ``None`` or the parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    warnings.simplefilter("ignore")  # corrupt files warn by the thousand; failures are counted
    conn.send("ready")
    while True:
        try:
            chunk = conn.recv()
        except EOFError:
            return
        if chunk is None:
            return
        for i, path in chunk:
            conn.send((i, _decode_reason(decode, path)))


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by signal {signal.Signals(-exitcode).name}"
    return f"exit code {exitcode}"


class _Worker:
    """One watched decoding process, the files sent to it not yet answered (``items``, in the
    order it decodes them) and when it started the first of them (``since``)."""

    def __init__(self, ctx, decode: Callable[[str], object]) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_decode_worker, args=(child, decode), daemon=True)
        self.process.start()
        child.close()
        self.ready = False
        self.since = 0.0
        self.items: deque[tuple[int, str]] = deque()

    def send(self, chunk: list[tuple[int, str]]) -> None:
        if not self.items:
            self.since = time.monotonic()
        self.items.extend(chunk)
        with contextlib.suppress(OSError):  # a dead worker is noticed by its sentinel
            self.conn.send(chunk)

    def answers(self) -> Iterator[tuple[int, str, str | None]]:
        """``(i, path, reason)`` for every answer waiting in the pipe."""
        while self.conn.poll():
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                return
            self.since = time.monotonic()
            if message == "ready":
                self.ready = True
                continue
            i, path = self.items.popleft()
            assert message[0] == i, "a worker answers its files in order"
            yield i, path, message[1]

    def stop(self, kill: bool = False) -> None:
        """Let the process finish (or kill it) and close the pipe; a second call does nothing."""
        if self.conn.closed:
            return
        if not kill and self.process.is_alive():
            with contextlib.suppress(OSError):
                self.conn.send(None)
            self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()


def decode_files(
    paths: Iterable[str | os.PathLike],
    *,
    total: int | None = None,
    decode: Callable[[str], object] = load_rgb,
    workers: int | None = None,
    timeout: float = 60.0,
    chunk_size: int = 8,
    progress: bool = False,
) -> list[tuple[int, str, str]]:
    """Decode every file of ``paths`` in ``workers`` processes; return ``(i, path, reason)``
    for each file that failed, by position ``i`` in ``paths``.

    ``paths`` is read lazily and handed out ``chunk_size`` files at a time (two chunks in flight
    per worker), so a million files never sit in a queue. A file that keeps its worker busy for
    ``timeout`` seconds fails with ``"timed out after N s"``; one that kills its worker fails with
    ``"the decoder crashed: ..."``. Either way the worker is replaced and the rest of its chunk
    goes to the others. ``decode`` must be picklable (a module-level function): the workers are
    spawned, never forked, so they share no lock or thread with the caller. Which files fail
    does not depend on ``workers`` or ``chunk_size`` (timeouts aside, which depend on the load).
    """
    from tqdm.auto import tqdm

    source = ((i, os.fspath(p)) for i, p in enumerate(paths))
    todo: deque[tuple[int, str]] = deque()  # files given back by a replaced worker

    def feed(worker: _Worker) -> None:
        while len(worker.items) < 2 * chunk_size:
            chunk = [todo.popleft() for _ in range(min(chunk_size, len(todo)))]
            chunk.extend(itertools.islice(source, chunk_size - len(chunk)))
            if not chunk:
                return
            worker.send(chunk)

    bad: list[tuple[int, str, str]] = []
    if total == 0:
        return bad
    ctx = multiprocessing.get_context("spawn")
    n_workers = max(1, workers or usable_cores())
    if total is not None:
        n_workers = min(n_workers, max(total, 1))
    pool = [_Worker(ctx, decode) for _ in range(n_workers)]
    bar = tqdm(total=total, unit="file", desc="decoding", disable=None if progress else True)
    try:
        for worker in pool:
            feed(worker)
        while busy := [w for w in pool if w.items]:
            clocks = [w.since + timeout for w in busy if w.ready]
            wait([w.conn for w in busy] + [w.process.sentinel for w in busy],
                 timeout=max(0.0, min(clocks) - time.monotonic()) if clocks else None)
            for k, worker in enumerate(pool):
                alive = worker.process.is_alive()  # before reading: a dead one has said all
                for i, path, reason in worker.answers():
                    bar.update()
                    if reason is not None:
                        bad.append((i, path, reason))
                stuck = worker.ready and worker.items and time.monotonic() - worker.since >= timeout
                if alive and not stuck:
                    feed(worker)
                    continue
                if not alive and not worker.ready:
                    raise GibenchError(
                        "a decoding worker died while starting "
                        f"({_exit_reason(worker.process.exitcode)}); workers are spawned, so a "
                        "script that calls this must guard its code with "
                        "`if __name__ == \"__main__\":`")
                if worker.items:  # the file it was decoding is to blame; the rest go back
                    i, path = worker.items.popleft()
                    bad.append((i, path, f"timed out after {timeout:g} s" if alive else
                                f"the decoder crashed: {_exit_reason(worker.process.exitcode)}"))
                    bar.update()
                    todo.extendleft(reversed(worker.items))
                worker.stop(kill=True)
                pool[k] = _Worker(ctx, decode)
                feed(pool[k])
        for worker in pool:
            worker.stop()
    finally:
        bar.close()
        for worker in pool:  # after an error or Ctrl-C: none is left running
            worker.stop(kill=True)
    return sorted(bad)


@dataclass(frozen=True)
class BadFile:
    """An image file that failed to decode, and why."""

    subset: str
    path: str
    reason: str


@dataclass
class DeepCheck:
    """What :func:`deep_check` found: files decoded per subset found, and the bad ones."""

    decoded: dict[str, int]
    bad: list[BadFile]
    seconds: float
    workers: int

    @property
    def ok(self) -> bool:
        """Whether every file decoded."""
        return not self.bad

    def n_bad(self, subset: str) -> int:
        """Bad files in ``subset``."""
        return sum(b.subset == subset for b in self.bad)


def deep_check(
    report: CheckReport,
    *,
    workers: int | None = None,
    timeout: float = 60.0,
    progress: bool = False,
    decode: Callable[[str], object] = load_rgb,
) -> DeepCheck:
    """Decode every image file that ``report`` (from :func:`check_root`) counted, in every split
    and label of every subset found; see :func:`decode_files` for ``workers`` and ``timeout``.

    The bad files come in the order of the report (subset, split, label, sorted path), whatever
    the number of workers.
    """
    owners: list[tuple[int, str]] = []  # (first position, subset) of each subset's run of files
    paths: list[Iterable[str]] = []
    total = 0
    for record in report.subsets:
        owners.append((total, record.name))
        for stats in record.folders.values():
            paths.append(map(os.path.join, itertools.repeat(str(stats.folder)), stats.names))
            total += len(stats.names)
    workers = max(1, workers or usable_cores())
    start = time.monotonic()
    failed = decode_files(itertools.chain.from_iterable(paths), total=total, decode=decode,
                          workers=workers, timeout=timeout, progress=progress)
    seconds = time.monotonic() - start
    starts = [first for first, _ in owners]
    bad = [BadFile(owners[int(np.searchsorted(starts, i, side="right")) - 1][1], path, reason)
           for i, path, reason in failed]
    decoded = {r.name: sum(st.count for st in r.folders.values()) for r in report.subsets
               if r.found}
    return DeepCheck(decoded=decoded, bad=bad, seconds=seconds,
                     workers=min(workers, max(total, 1)))


#: Columns of the bad-file list written by :func:`write_bad_list`.
BAD_LIST_COLUMNS = ("path", "reason", "subset")


def write_bad_list(deep: DeepCheck, path: Path) -> None:
    """Write the bad files to the CSV ``path`` atomically (a header alone when there are none,
    so no stale list survives a clean check)."""
    import pandas as pd

    from gibench.outputs import atomic_write_csv

    rows = [(b.path, b.reason, b.subset) for b in deep.bad]
    atomic_write_csv(path, pd.DataFrame(rows, columns=list(BAD_LIST_COLUMNS)))


#: How many bad files :func:`render_deep` lists before pointing to the CSV.
_SHOWN_BAD = 20


def render_deep(deep: DeepCheck, bad_list: Path | None = None) -> str:
    """The deep check as text: files decoded and bad per subset, the first bad files, a total."""
    rows = [[name, n, deep.n_bad(name)] for name, n in deep.decoded.items()]
    blocks = [tabulate(rows, headers=["subset", "decoded", "bad"], tablefmt="simple")]
    if deep.bad:
        lines = [f"- {b.path}: {b.reason}" for b in deep.bad[:_SHOWN_BAD]]
        if len(deep.bad) > _SHOWN_BAD:
            lines.append(f"... and {len(deep.bad) - _SHOWN_BAD} more")
        blocks.append("bad files:\n" + "\n".join(lines))
    n = sum(deep.decoded.values())
    summary = (f"decoded {_plural(n, 'file')} in {deep.seconds:.1f} s with "
               f"{_plural(deep.workers, 'worker')}: {_plural(len(deep.bad), 'bad file')}")
    if bad_list is not None:
        summary += f", listed in {bad_list}"
    blocks.append(summary)
    return "\n\n".join(blocks)
