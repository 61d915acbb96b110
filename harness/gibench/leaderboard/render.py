"""Boards as Markdown, laid out like the paper's tables, and the index of a leaderboards folder.

One function per file, from the CSV alone (plus the registry's display names and orders), with no
timestamp: rendering the same CSV twice gives the same bytes, which is what ``check`` compares.

- A board without degradations: rows = detectors (with the training subset when the board has
  several), columns = test subsets in the registry's order (Tables 3 and 4).
- A board with degradations: columns = settings, low resolution, JPEG, blur, then the others,
  each mildest first (Table 5), after a ``clean`` column that the average leaves out; rows name
  the test subset when the board has several.
- A detector with rows for several training subsets (a ``matrix`` run) also gets a line
  ``(mean of N)`` whose cells are the means over its N training subsets, Table 4's layout.
- ``Avg`` is the mean of a row's cells (exact decimal arithmetic, rounded half up to 0.1), shown
  when the row has every column; rows go by Avg descending, then name. The best value of each
  column is bold. Each row's ``Source`` points to a footnote with its provenance.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from gibench.errors import GibenchError
from gibench.leaderboard.board import INDEX, Board, board_names, load_board
from gibench.leaderboard.names import board_dataset, board_policy
from gibench.leaderboard.origin import describe_origin
from gibench.leaderboard.schema import (
    CLEAN,
    COLUMNS,
    RECORDED_SINCE,
    SOURCES,
    TRAINED,
    UNRECORDED,
    is_mean_of,
    parse_degradation,
    parse_number,
)
from gibench.outputs import atomic_write_text
from gibench.registry import Registry

_URL = re.compile(r"https?://[^\s<>|`\[\]\\\"']+")
_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~!])")
_TENTH = Decimal("0.1")
#: Table 5's degradations in its column order; other degradations follow, by name.
_PAPER_DEGRADATIONS = ("lowres", "jpeg", "blur")


def generated_line(source: str) -> str:
    return (f"<!-- Generated from {source} by `gibench leaderboard render`. Do not edit by hand: "
            "change the CSV (`gibench leaderboard add`) and render again. -->")


# -- text ---------------------------------------------------------------------------------------
def _plain(text: str) -> str:
    text = text.replace("&", "&amp;")
    return _SPECIAL.sub(r"\\\1", text)


def md_text(text: str) -> str:
    """``text`` safe inside a Markdown table cell or paragraph: one line, markup characters
    escaped, ``&`` as ``&amp;``, and http(s) addresses as ``<autolinks>``."""
    text = "".join(" " if unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in (
        "Zl", "Zp") else ch for ch in text)
    text = " ".join(text.split())
    out, pos = [], 0
    for match in _URL.finditer(text):
        url = match.group().rstrip(".,;:!?)")
        if url.endswith("://"):
            continue
        out.append(_plain(text[pos:match.start()]))
        out.append(f"<{url}>")
        pos = match.start() + len(url)
    out.append(_plain(text[pos:]))
    return "".join(out)


def md_table(headers: Sequence[str], rows: Iterable[Sequence[str]], align: str) -> list[str]:
    """A GitHub-flavoured table; ``align`` has one letter per column, ``l`` or ``r``. Cells
    must already be escaped (:func:`md_text`)."""
    rule = "|" + "|".join(":---" if a == "l" else "---:" for a in align) + "|"
    return ["| " + " | ".join(headers) + " |", rule] + [
        "| " + " | ".join(row) + " |" for row in rows]


def tenth(value: Decimal) -> str:
    """One decimal, rounded half up (``69.85`` → ``69.9``), whatever the binary float does."""
    return str(value.quantize(_TENTH, rounding=ROUND_HALF_UP))


# -- one board -------------------------------------------------------------------------------------
@dataclass
class _Line:
    label: str
    source: str
    cells: dict[str, Decimal] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    counts: set[tuple[int, int]] = field(default_factory=set)
    avg: Decimal | None = None
    derived: bool = False


@dataclass(frozen=True)
class BoardSummary:
    """What the index shows of a board."""

    name: str
    dataset: str
    layout: str
    rows: int
    detectors: int
    sources: tuple[str, ...]
    best: str


def _note(row: dict[str, str]) -> str:
    """The provenance of a row, as its footnote says it."""
    plugin = f"{row['plugin']} {row['plugin_version']}"
    if row["source"] == "paper":
        return (f"paper ({row['date']}): {row['reference']}. Detector from {plugin}. "
                f"Added by {row['submitter']}.")
    if row["weights"] == TRAINED:
        weights = f"Trained by the run, seed {row['seed']}"
    else:
        weights = f"Weights sha256 {row['weights']}"
    scores = row["scores_sha256"]
    scores = (f"scores.csv sha256 {scores[:16]}" if scores != UNRECORDED else
              f"scores.csv sha256 not recorded (added before {RECORDED_SINCE})")
    return (f"{row['source']} ({row['date']}): {row['reference']}. {weights}; "
            f"gibench {row['gibench_version']}, {plugin} "
            f"({describe_origin(row['plugin_origin'])}); {scores}. "
            f"Submitted by {row['submitter']}.")


def _counts_note(counts: set[tuple[int, int]]) -> str:
    """How many test images a line's cells were computed on."""
    def span(values: set[int]) -> str:
        low, high = min(values), max(values)
        return f"{low}" if low == high else f"{low}-{high}"

    return (f"Test images per column: {span({r for r, _ in counts})} real, "
            f"{span({f for _, f in counts})} fake.")


def _variant(row: dict[str, str]) -> str:
    if row["weights"] == TRAINED:
        return f"seed {row['seed']}" if row["seed"] else "trained"
    return f"weights {row['weights'][:8]}"


class _Layout:
    """Columns and row labels of one board."""

    def __init__(self, rows: list[dict[str, str]], registry: Registry,
                 dataset: str | None = None) -> None:
        self.dataset = dataset
        self.registry = registry
        self.degraded = any(r["degradation"] != CLEAN for r in rows)
        self.trains = sorted({r["train_subset"] for r in rows})
        self.many_trains = len(self.trains) > 1
        self.many_tests = len({r["test_subset"] for r in rows}) > 1
        # the board's dataset's order: another dataset may have subsets of the same names
        subset_order = {s.name: i for i, s in enumerate(
            registry.subsets(dataset) if dataset else registry.all("subset"))}
        if self.degraded:
            keys = {r["degradation"] for r in rows}
            self.columns = sorted(keys, key=self._degradation_key)
        else:
            keys = {r["test_subset"] for r in rows}
            self.columns = sorted(keys, key=lambda s: (subset_order.get(s, len(subset_order)),
                                                       s))
        self.averaged = [c for c in self.columns if c != CLEAN and not (
            not self.degraded and registry.has("subset", c)
            and registry.subset(c, dataset).control)]

    @property
    def kind(self) -> str:
        return "degradations" if self.degraded else "test subsets"

    def _degradation_key(self, text: str) -> tuple:
        if text == CLEAN:
            return (0,)
        parsed = parse_degradation(text)
        if parsed is None:
            return (2, text)
        name, strength = parsed
        rank = (_PAPER_DEGRADATIONS.index(name) if name in _PAPER_DEGRADATIONS
                else len(_PAPER_DEGRADATIONS))
        descending = True  # mildest first: the order of the degradation's sweep
        if self.registry.has("degradation", name):
            spec = self.registry.degradation(name)
            values = spec.sweep or spec.paper_settings
            descending = not (len(values) >= 2 and values[0] < values[-1])
        return (1, rank, name, -strength if descending else strength)

    def subset_name(self, name: str) -> str:
        n = is_mean_of(name)
        if n is not None:
            return f"mean of {n}"
        if not self.registry.has("subset", name):
            return name
        spec = self.registry.subset(name, self.dataset)
        # training data of another dataset (a cross-dataset row): say which
        return spec.display_name if spec.dataset == self.dataset or self.dataset is None \
            else f"{spec.display_name} of {spec.dataset}"

    def header(self, column: str) -> str:
        if not self.degraded:
            return self.subset_name(column)
        if column == CLEAN:
            return "clean"
        parsed = parse_degradation(column)
        return f"{parsed[0]} {parsed[1]:g}" if parsed else column

    def column_of(self, row: dict[str, str]) -> str:
        return row["degradation"] if self.degraded else row["test_subset"]

    def line_key(self, row: dict[str, str]) -> tuple[str, ...]:
        key = (row["source"], row["detector"], row["weights"], row["seed"], row["train_subset"])
        return key + ((row["test_subset"],) if self.degraded else ())

    def label(self, row: dict[str, str]) -> str:
        label = row["detector"]
        if self.many_trains:
            label += f" ({self.subset_name(row['train_subset'])})"
        if self.degraded and self.many_tests:
            label += f" on {self.subset_name(row['test_subset'])}"
        return label


def _accuracy(board: Board, line: int, text: str) -> Decimal:
    if parse_number(text) is None:
        raise GibenchError(f"{board.path}:{line}: acc {text!r} is not a number "
                           "(run `gibench leaderboard check`)")
    return Decimal(text)


def _lines(board: Board, layout: _Layout) -> list[_Line]:
    lines: dict[tuple[str, ...], _Line] = {}
    variants: dict[tuple[str, ...], str] = {}
    for row, number in zip(board.rows(), board.lines, strict=True):
        key = layout.line_key(row)
        line = lines.setdefault(key, _Line(layout.label(row), row["source"]))
        variants[key] = _variant(row)
        line.cells[layout.column_of(row)] = _accuracy(board, number, row["acc"])
        note = _note(row)
        if note not in line.notes:
            line.notes.append(note)
        if row["n_real"].isdigit() and row["n_fake"].isdigit():
            line.counts.add((int(row["n_real"]), int(row["n_fake"])))
    for key, line in _mean_lines(lines, layout).items():
        variants[key] = next(variants[k] for k in lines if k[:4] == key[:4])
        lines[key] = line
    labels = [(line.label, line.source) for line in lines.values()]
    for key, line in lines.items():
        if labels.count((line.label, line.source)) > 1:  # same detector twice: say which
            line.label += f" · {variants[key]}"
        line.notes.sort()
        if line.counts:
            line.notes.append(_counts_note(line.counts))
        if layout.averaged and all(c in line.cells for c in layout.averaged):
            line.avg = sum((line.cells[c] for c in layout.averaged), Decimal(0)) / len(
                layout.averaged)
    rank = {s: i for i, s in enumerate(SOURCES)}
    return sorted(lines.values(), key=lambda ln: (
        ln.avg is None, -(ln.avg or 0), ln.label, rank.get(ln.source, len(rank)), ln.notes))


def _mean_lines(lines: dict[tuple[str, ...], _Line], layout: _Layout
                ) -> dict[tuple[str, ...], _Line]:
    """Table 4's rows: for a detector (one source, weights and seed) with rows for several
    training subsets on a board of test subsets, a line whose cells are the means over those
    training subsets, for the test subsets that all of them have."""
    if layout.degraded or not layout.many_trains:
        return {}
    groups: dict[tuple[str, ...], list[_Line]] = {}
    for key, line in lines.items():
        if is_mean_of(key[4]) is None:
            groups.setdefault(key[:4], []).append(line)
    means = {}
    for group_key, group in groups.items():
        if len(group) < 2:
            continue
        columns = [c for c in layout.columns if all(c in line.cells for line in group)]
        source, detector = group_key[0], group_key[1]
        mean = _Line(f"{detector} ({layout.subset_name(f'mean-of-{len(group)}')})", source,
                     derived=True)
        mean.cells = {c: sum((line.cells[c] for line in group), Decimal(0)) / len(group)
                      for c in columns}
        mean.notes = sorted({note for line in group for note in line.notes})
        mean.counts = {c for line in group for c in line.counts}
        means[group_key + (f"mean-of-{len(group)}",)] = mean
    return means


def _bold_best(values: list[str]) -> list[str]:
    shown = [Decimal(v) for v in values if v != "-"]
    if len(shown) < 2:
        return values
    best = max(shown)
    return [f"**{v}**" if v != "-" and Decimal(v) == best else v for v in values]


def _alignment_of(board: str) -> str:
    """``jpeg:90`` for a board named ``...-aligned-jpeg90`` (named so by ``leaderboard.runs``),
    else ``""``."""
    _, sep, slug = board.partition("-aligned-")
    slug = slug.partition("-eval-")[0]
    if not sep:
        return ""
    return ", ".join(re.sub(r"^([a-z]+)(\d+)$", r"\1:\2", part) for part in slug.split("-"))


def render_board(board: Board, registry: Registry) -> tuple[str, BoardSummary]:
    """A board's Markdown and its summary for the index."""
    rows = board.rows()
    dataset = board_dataset(board.name, registry) or "-"
    layout = _Layout(rows, registry, board_dataset(board.name, registry))
    lines = _lines(board, layout)
    out = [generated_line(f"{board.name}.csv"), "", f"# {board.name}", ""]
    if not lines:
        out += [f"Dataset `{dataset}`. No results yet: add a run with "
                "`gibench leaderboard add RUN_DIR` (CONTRIBUTING.md, \"Submitting a result\").",
                ""]
        return "\n".join(out), BoardSummary(board.name, dataset, "-", 0, 0, (), "-")
    if layout.degraded:
        what = ("degraded `val` images of the test subset, one column per degradation "
                "setting (mildest first); `clean` is not part of Avg")
    else:
        what = "the `val` split of each test subset"
    if not layout.many_trains:  # otherwise each line's label names its training subset
        train = layout.trains[0]
        n = is_mean_of(train)
        what += (f"; every row trained on {layout.subset_name(train)}" if n is None else
                 f"; every row the mean over {n} training subsets, one at a time")
    out += [f"Dataset `{dataset}`. Accuracy (%) at threshold 0.5 on {what}. Avg: mean of the "
            "row's columns, shown when it has them all. Bold: best in its column. Source: "
            "`paper` as published (accuracy only), `reproduced` a run of the paper's protocol, "
            "`new` anything else; the footnote gives each row's provenance."
            + (" The Avg of a paper row is recomputed from its printed cells and may differ by "
               "0.1 from the Avg the paper prints." if any(r["source"] == "paper" for r in rows)
               else "")
            + (" A line `(mean of N)` is not in the CSV: its cells are the means of the "
               "detector's lines over its N training subsets, as in the paper's Table 4."
               if any(line.derived for line in lines) else "")
            + (f" Every test image, real and fake, went through the same `--align` ({aligned}) "
               "before evaluation (docs/shortcuts.md)."
               if (aligned := _alignment_of(board.name)) else "")
            + (f" Every row was evaluated with `--eval-transform {policy}`, not the detectors' "
               "own evaluation preprocessing (README, \"Evaluation preprocessing\")."
               if (policy := board_policy(board.name)) else "")
            + "".join(f" {layout.subset_name(c)} is a control, not a generator, and not part of "
                      "Avg: accuracy above 50% there is reliance on a shortcut."
                      for c in layout.columns if c not in layout.averaged and c != CLEAN), ""]
    notes: list[str] = []
    for line in lines:
        for note in line.notes:
            if note not in notes:
                notes.append(note)
    columns = [[tenth(ln.cells[c]) if c in ln.cells else "-" for ln in lines]
               for c in layout.columns]
    if layout.averaged:
        columns.append([tenth(ln.avg) if ln.avg is not None else "-" for ln in lines])
    columns = [_bold_best(col) for col in columns]
    body = []
    for i, line in enumerate(lines):
        marks = "".join(f"[{notes.index(n) + 1}]" for n in line.notes)
        body.append([md_text(line.label), f"{line.source} {marks}",
                     *(col[i] for col in columns)])
    headers = ["Detector", "Source", *(md_text(layout.header(c)) for c in layout.columns)]
    headers += ["Avg"] if layout.averaged else []
    out += md_table(headers, body, "ll" + "r" * (len(headers) - 2))
    out += ["", "Provenance:", ""]
    out += [f"- [{i}] {md_text(note)}" for i, note in enumerate(notes, 1)]
    out.append("")
    top = lines[0]
    best = f"{top.label} {tenth(top.avg)} ({top.source})" if top.avg is not None else "-"
    sources = tuple(s for s in SOURCES if any(r["source"] == s for r in rows))
    summary = BoardSummary(board.name, dataset, layout.kind, len(rows),
                           len({r["detector"] for r in rows}), sources, best)
    return "\n".join(out), summary


# -- the index ----------------------------------------------------------------------------------
def render_index(summaries: Sequence[BoardSummary]) -> str:
    """``README.md`` of a leaderboards folder: what the boards are, one line per board, and the
    columns of a board's CSV (from :data:`gibench.leaderboard.schema.COLUMNS`)."""
    out = [generated_line("the CSV files in this folder"), "", "# Leaderboards", "",
           "One CSV per board is the source of truth; the Markdown beside it is generated from "
           "the CSV by `gibench leaderboard render`, and `gibench leaderboard check` (run by CI "
           "on every pull request) verifies both. A board is named `<dataset>-<suite>`, and "
           "`<dataset>-<suite>-aligned-<alignment>` when its runs were evaluated with `--align` "
           "(every test image re-encoded or resized alike: docs/shortcuts.md), with "
           "`-eval-<policy>` after it when they were evaluated with `--eval-transform` other "
           "than the detectors' own (`resize`, `crop`, `native`, `multicrop`). Results "
           "on the embedded `mini` dataset go to their own `mini-*` boards and are never mixed "
           "with GenImage numbers. Every number not taken from the paper comes from a run "
           "directory through `gibench leaderboard add RUN_DIR`; see \"Submitting a result\" "
           "in CONTRIBUTING.md.", ""]
    body = [[f"[{md_text(s.name)}]({s.name}.md)", md_text(s.dataset), s.layout, str(s.rows),
             str(s.detectors), ", ".join(s.sources) or "-", md_text(s.best)] for s in summaries]
    out += md_table(["Board", "Dataset", "Columns", "Rows", "Detectors", "Sources",
                     "Best Avg"], body, "lllrrll")
    out += ["", "## Columns of a board's CSV", "",
            "Every value is text; `paper` rows fill only `acc` of the metrics and leave the run "
            "columns empty. Names are canonical (`gibench list`). Free text may not contain "
            "`|`, `<`, `>`, backticks, brackets, backslashes, line breaks, HTML or invisible "
            "characters, nor start with `=`, `+`, `-` or `@` (a spreadsheet formula).", ""]
    out += md_table(["Column", "Meaning"], [[f"`{c.name}`", md_text(c.doc)] for c in COLUMNS],
                    "ll")
    out.append("")
    return "\n".join(out)


def render_root(root: Path, registry: Registry, boards: Sequence[str] | None = None
                ) -> dict[Path, str]:
    """The Markdown of ``boards`` (default: every board of ``root``) and of the index, by path.
    A board that cannot be read raises a :class:`GibenchError`."""
    root = Path(root)
    if not root.is_dir():
        raise GibenchError(f"no leaderboards folder at {root}")
    names = board_names(root)
    files: dict[Path, str] = {}
    summaries = []
    for name in names:
        board = load_board(root / f"{name}.csv")
        markdown, summary = render_board(board, registry)
        summaries.append(summary)
        if boards is None or name in boards:
            files[board.markdown_path] = markdown
    files[root / INDEX] = render_index(summaries)
    return files


def write_rendered(root: Path, registry: Registry, boards: Sequence[str] | None = None
                   ) -> list[Path]:
    """Write :func:`render_root`'s files atomically; returns their paths."""
    files = render_root(root, registry, boards)
    for path, text in files.items():
        atomic_write_text(path, text)
    return list(files)
