"""``gibench leaderboard check``: everything a leaderboard pull request must satisfy.

For every board of a folder: the CSV's structure (header exactly :data:`COLUMN_NAMES`, one
field per column), every row's text (:func:`~gibench.leaderboard.schema.row_problems`: types,
ranges, sources, provenance, no markup), its names (installed, canonical, of the board's
dataset), no duplicate result; then that each board's Markdown and the index are byte-identical
to what ``render`` writes, and that no Markdown is left without its CSV.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gibench.errors import GibenchError
from gibench.leaderboard.board import INDEX, Board, Problem, board_names, read_board
from gibench.leaderboard.names import NameCheck
from gibench.leaderboard.paper import PaperCheck
from gibench.leaderboard.render import BoardSummary, render_board, render_index
from gibench.leaderboard.schema import (
    describe_key,
    duplicate_key,
    model_key,
    row_problems,
    show,
)
from gibench.registry import Registry


@dataclass
class CheckReport:
    problems: list[Problem] = field(default_factory=list)
    boards: int = 0
    rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            return f"leaderboards OK: {self.boards} boards, {self.rows} rows"
        return (f"{len(self.problems)} problem(s) in {self.boards} boards "
                f"({self.rows} rows)")


def rows_problems(board: str, rows: Sequence[Mapping[str, str]], registry: Registry,
                  lines: Sequence[int] | None = None) -> list[tuple[int, str]]:
    """(row index, problem) for every problem of ``rows`` as rows of ``board``: their text,
    their names, and results present twice (``lines``: where each row is, for messages)."""
    names = NameCheck(board, registry, rows)
    paper = PaperCheck(board, names.dataset)
    found = []
    first: dict[tuple[str, ...], int] = {}
    models: dict[tuple[str, ...], int] = {}

    def where(i: int) -> str:
        return f"line {lines[i]}" if lines else f"row {i + 1}"

    for i, row in enumerate(rows):
        found += [(i, p) for p in row_problems(row) + names.problems(row) + paper.problems(row)]
        key = duplicate_key(row)
        model = model_key(row)
        if key in first:
            found.append((i, f"duplicate of {where(first[key])}: {describe_key(row)}"))
        elif model in models:
            found.append((i, f"the same model as {where(models[model])} (sha256 "
                             f"{model[1][:12]}…) on the same test subset and degradation: a "
                             "board holds a model's result once, however it was trained or "
                             f"added ({describe_key(row)})"))
        first.setdefault(key, i)
        if model is not None:
            models.setdefault(model, i)
    return found


def _first_difference(a: Sequence, b: Sequence) -> int:
    """The first index where ``a`` and ``b`` differ (the shorter length if one extends the
    other)."""
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                min(len(a), len(b)))


def _compare(path: Path, expected: str) -> Problem | None:
    """A problem when ``path`` does not hold exactly ``expected``."""
    if not path.is_file():
        return Problem(path, 1, "is missing: run `gibench leaderboard render`")
    actual = path.read_bytes().decode("utf-8", errors="replace")
    if actual == expected:
        return None
    want, have = expected.split("\n"), actual.split("\n")
    line = _first_difference(want, have)
    a = want[line] if line < len(want) else ""
    b = have[line] if line < len(have) else ""
    col = _first_difference(a, b)
    start = max(0, col - 20)
    wanted = show(a[start:col + 40]) if line < len(want) else "the end of the file"
    found = show(b[start:col + 40]) if line < len(have) else "the end of the file"
    return Problem(path, line + 1, f"is not what `gibench leaderboard render` writes from the "
                                   f"CSV (edited by hand, or not rendered again); at column "
                                   f"{col + 1} expected {wanted}, found {found}")


def _check_board(board: Board, registry: Registry, report: CheckReport
                 ) -> BoardSummary | None:
    rows = board.rows()
    report.rows += len(rows)
    for i, message in rows_problems(board.name, rows, registry, board.lines):
        report.problems.append(Problem(board.path, board.lines[i], message))
    try:
        markdown, summary = render_board(board, registry)
    except GibenchError:
        return None  # a value render needs is broken: reported above
    problem = _compare(board.markdown_path, markdown)
    if problem:
        report.problems.append(problem)
    return summary


def check_root(root: Path, registry: Registry) -> CheckReport:
    """Check every board of ``root`` and the generated files; see the module's docstring."""
    root = Path(root)
    if not root.is_dir():
        raise GibenchError(f"no leaderboards folder at {root}")
    report = CheckReport()
    names = board_names(root)
    summaries: list[BoardSummary | None] = []
    for name in names:
        report.boards += 1
        board, problems = read_board(root / f"{name}.csv")
        report.problems += problems
        summaries.append(None if board is None else _check_board(board, registry, report))
    for md in sorted(root.glob("*.md")):
        if md.name != INDEX and md.stem not in names:
            report.problems.append(Problem(md, 1, f"has no {md.stem}.csv beside it: remove it "
                                                  "or restore its board"))
    if all(s is not None for s in summaries):
        problem = _compare(root / INDEX, render_index(summaries))
        if problem:
            report.problems.append(problem)
    return report
