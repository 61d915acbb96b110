"""Board files: one CSV per board in a leaderboards folder, read as text and written sorted.

Every value is read as a string (``dtype=str``, no NA parsing: ``NA`` stays ``"NA"``) and parsed
deliberately by :mod:`gibench.leaderboard.schema`. Before pandas reads a file, the csv module
walks it once to find the physical line of every record and the records with too few or too
many fields, so that every problem can be reported as ``FILE:LINE: problem``.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gibench.errors import GibenchError
from gibench.leaderboard.schema import (
    COLUMN_NAMES,
    SORT_COLUMNS,
    TEXT_COLUMNS,
    formula_problem,
    markup_problem,
    show,
)
from gibench.outputs import atomic_write_csv

#: Where boards live, relative to the repository root.
DEFAULT_ROOT = Path("leaderboards")
INDEX = "README.md"
_BOARD_NAME = re.compile(r"[a-z0-9][a-z0-9.\-]{0,79}")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file, at a line (1 = the first line)."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class Board:
    """A board's rows (all strings, columns :data:`COLUMN_NAMES`) and the line of each row."""

    name: str
    path: Path
    frame: pd.DataFrame
    lines: list[int]

    def rows(self) -> list[dict[str, str]]:
        return self.frame.to_dict("records")

    @property
    def markdown_path(self) -> Path:
        return self.path.with_suffix(".md")


def check_board_name(name: str) -> str:
    if not _BOARD_NAME.fullmatch(name):
        raise GibenchError(f"bad board name {name!r}: use lowercase letters, digits, '.' and "
                           "'-' (a board is named <dataset>-<suite>, e.g. mini-cross-generator)")
    return name


def board_names(root: Path) -> list[str]:
    """Every board in ``root``: the stem of each ``*.csv`` file, sorted."""
    return sorted(p.stem for p in Path(root).glob("*.csv"))


def empty_frame() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMN_NAMES})


def read_board(path: Path) -> tuple[Board | None, list[Problem]]:
    """The board at ``path`` and the problems of its structure (encoding, header, field
    counts); ``None`` when the rows cannot be read reliably. Values are not checked here."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(path, 1, f"is not UTF-8 text ({exc.reason} at byte {exc.start})")]
    except OSError as exc:
        return None, [Problem(path, 1, f"cannot be read: {exc.strerror or exc}")]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        records = []
        while True:
            start = reader.line_num + 1
            record = next(reader, None)
            if record is None:
                break
            records.append((start, record))
    except csv.Error as exc:
        return None, [Problem(path, reader.line_num, f"is not valid CSV: {exc}")]
    if header is None:
        return None, [Problem(path, 1, "is empty: a board starts with the header line "
                                       + ",".join(COLUMN_NAMES))]
    problems = _header_problems(path, header)
    if problems:
        return None, problems
    for line, record in records:
        if len(record) != len(COLUMN_NAMES):
            problems.append(Problem(path, line, f"has {len(record)} fields, the header "
                                                f"{len(COLUMN_NAMES)}"))
    if problems:
        return None, problems
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False,
                        skip_blank_lines=False) if records else empty_frame()
    lines = [line for line, _ in records]
    if len(frame) != len(lines):
        return None, [Problem(path, 1, f"is read as {len(frame)} rows by pandas but holds "
                                       f"{len(lines)} CSV records; check its quoting")]
    return Board(path.stem, path, frame.reset_index(drop=True), lines), []


def _header_problems(path: Path, header: list[str]) -> list[Problem]:
    if tuple(header) == COLUMN_NAMES:
        return []
    missing = [c for c in COLUMN_NAMES if c not in header]
    extra = [c for c in header if c not in COLUMN_NAMES]
    repeated = sorted({c for c in header if header.count(c) > 1})
    parts = ([f"missing column(s) {', '.join(missing)}"] if missing else []) + (
        [f"unexpected column(s) {', '.join(map(repr, extra))}"] if extra else []) + (
        [f"repeated column(s) {', '.join(repeated)}"] if repeated else [])
    if not parts:
        parts = ["columns are out of order"]
    return [Problem(path, 1, "wrong header: " + "; ".join(parts) + ". Expected: "
                             + ",".join(COLUMN_NAMES))]


def load_board(path: Path) -> Board:
    """:func:`read_board`, raising a :class:`GibenchError` naming the first problem."""
    board, problems = read_board(path)
    if board is None:
        raise GibenchError(f"{problems[0]} (run `gibench leaderboard check`)")
    return board


def sort_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in the order boards are written: by :data:`SORT_COLUMNS`, then every column."""
    order = list(SORT_COLUMNS) + [c for c in COLUMN_NAMES if c not in SORT_COLUMNS]
    frame = frame[list(COLUMN_NAMES)].astype(str)
    return frame.sort_values(order, kind="mergesort").reset_index(drop=True)


def write_board(path: Path, frame: pd.DataFrame) -> None:
    """Write a board atomically, its rows sorted (the same rows always give the same bytes).

    A value that ``check`` would refuse as markup or as a spreadsheet formula is not written:
    some (a lone carriage return) would not even survive the CSV round trip.
    """
    frame = sort_rows(frame)
    for i, row in enumerate(frame.to_dict("records")):
        for column, value in row.items():
            problem = markup_problem(value) or (
                formula_problem(value) if column in TEXT_COLUMNS else None)
            if problem:
                raise GibenchError(f"{path}: not written: row {i + 1}, {column} {show(value)} "
                                   f"{problem}")
    atomic_write_csv(Path(path), frame)
