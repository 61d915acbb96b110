"""The leaderboards as a static web site: ``gibench leaderboard site OUT/``.

One page per board (the same table as its Markdown, :mod:`gibench.leaderboard.render`, sortable by
any column in the browser), one page per detector (its rows on every board), an index of both,
and the robustness plots of the boards that evaluate degradations (drawn by the robustness
suite's own :func:`~gibench.builtin.robustness.plot_curve`). Everything the pages load lies in
the output folder (a small sorter script and a style sheet of ours, the PNGs): no server, no
CDN, and the pages work from ``file://`` as from GitHub Pages.

Nothing read from a CSV is trusted: every value reaches the page through Jinja2's autoescaping,
links are made only of ``http(s)`` addresses (escaped), and file names are derived from names
only when they are plain (:func:`page_name`).

Data-scale plots are not drawn: a data-scale run's models are tagged ``SUBSET@AXIS=FRACTION``,
which a board's ``train_subset`` column refuses, so no board holds data-scale results.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pandas as pd
from markupsafe import Markup, escape

from gibench.errors import GibenchError
from gibench.leaderboard.board import Board, board_names, load_board
from gibench.leaderboard.names import board_dataset

# The one layout of a board (columns, lines, Avg, footnotes) is render's; the site shows the
# same table as the Markdown, so it reuses it rather than computing another.
from gibench.leaderboard.render import (
    _URL,
    BoardSummary,
    _alignment_of,
    _Layout,
    _lines,
    render_board,
    tenth,
)
from gibench.leaderboard.schema import (
    CLEAN,
    SOURCES,
    TRAINED,
    is_mean_of,
    parse_degradation,
    parse_number,
)
from gibench.outputs import atomic_write_text
from gibench.registry import Registry

#: A file in the output folder that marks it as a site this command wrote (and may replace).
MARKER = ".gibench-site"
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+\-]{0,63}")
_STATIC = ("site.css", "sort.js")
#: The columns of a detector's page, from a board row.
DETECTOR_COLUMNS = ("train_subset", "test_subset", "degradation", "acc", "real_acc",
                    "fake_acc", "auc", "ap", "seed", "date")


def page_name(name: str) -> str:
    """A file name for ``name``: itself when plain (letters, digits, ``. _ + -``, not starting
    with a dot), else a digest, so that no CSV value can name a path outside the site."""
    if _PLAIN.fullmatch(name):
        return name
    return "x-" + hashlib.sha256(name.encode()).hexdigest()[:16]


def linkify(text: str) -> Markup:
    """``text`` escaped, with its http(s) addresses as links (``rel="nofollow noopener"``)."""
    out, pos = [], 0
    for match in _URL.finditer(text):
        url = match.group().rstrip(".,;:!?)")
        if url.endswith("://"):
            continue
        out.append(escape(text[pos:match.start()]))
        out.append(Markup('<a href="{0}" rel="nofollow noopener">{0}</a>').format(url))
        pos = match.start() + len(url)
    out.append(escape(text[pos:]))
    return Markup("").join(out)


@dataclass
class Cell:
    text: str
    sort: str  # what the sorter compares: a number, or "" for an empty cell
    best: bool = False


@dataclass
class Row:
    label: str
    detector: str
    source: str
    cells: list[Cell]
    notes: list[int]
    derived: bool = False


@dataclass
class BoardPage:
    name: str
    page: str
    summary: BoardSummary
    dataset: str
    trained_on: str
    policy: str
    alignment: str
    kind: str
    headers: list[str]
    rows: list[Row]
    notes: list[str]
    plots: list[str] = field(default_factory=list)
    empty: bool = False




def _board_page(board: Board, registry: Registry) -> BoardPage:
    from gibench.leaderboard.names import board_policy

    _, summary = render_board(board, registry)
    rows = board.rows()
    policy = board_policy(board.name)
    policy_text = (f"--eval-transform {policy} for every row" if policy
                   else "each detector's own evaluation preprocessing (--eval-transform authors)")
    dataset = board_dataset(board.name, registry)
    page = BoardPage(board.name, f"board-{page_name(board.name)}.html", summary,
                     dataset or "-", "-", policy_text,
                     _alignment_of(board.name), "-", [], [], [], empty=not rows)
    if not rows:
        return page
    layout = _Layout(rows, registry, dataset)
    lines = _lines(board, layout)
    page.kind = layout.kind
    if layout.many_trains:
        page.trained_on = ("several subsets: "
                           + ", ".join(layout.subset_name(t) for t in layout.trains))
    else:
        n = is_mean_of(layout.trains[0])
        page.trained_on = (layout.subset_name(layout.trains[0]) if n is None
                           else f"each of the {n} subsets, one at a time (mean shown)")
    columns = list(layout.columns)
    page.headers = [layout.header(c) for c in columns] + (["Avg"] if layout.averaged else [])
    values = [[None if v is None else Decimal(tenth(v)) for v in
               [ln.cells.get(c) for c in columns] + ([ln.avg] if layout.averaged else [])]
              for ln in lines]
    names = sorted({r["detector"] for r in rows}, key=len, reverse=True)
    best = [max((v[j] for v in values if v[j] is not None), default=None)
            for j in range(len(page.headers))]
    shown = [sum(v[j] is not None for v in values) for j in range(len(page.headers))]
    for line, vals in zip(lines, values, strict=True):
        for note in line.notes:
            if note not in page.notes:
                page.notes.append(note)
        cells = [Cell(str(v), str(v), shown[j] > 1 and v == best[j])
                 if v is not None else Cell("-", "") for j, v in enumerate(vals)]
        detector = next((n for n in names if line.label.startswith(n)), line.label)
        page.rows.append(Row(line.label, detector, line.source, cells,
                             [page.notes.index(n) + 1 for n in line.notes], line.derived))
    return page


def _variant(row: dict[str, str]) -> str:
    if row["weights"] == TRAINED:
        return f"seed {row['seed']}" if row["seed"] else ""
    return f"weights {row['weights'][:8]}"


def robustness_frame(rows: Sequence[dict[str, str]]) -> pd.DataFrame | None:
    """A board's rows as the robustness suite's curves (percent), or ``None`` when the board
    has no degraded row. A line per detector, source and seed or weights; paper rows have no
    AUC (their AUC panel is empty)."""
    from gibench.builtin.robustness import robustness_curves

    rows = [r for r in rows if r["degradation"] == CLEAN or (
        (parsed := parse_degradation(r["degradation"])) and _PLAIN.fullmatch(parsed[0]))]
    if not any(r["degradation"] != CLEAN for r in rows):
        return None
    frame = pd.DataFrame(rows)
    frame["detector"] = [" ".join(filter(None, [r["detector"], f"({r['source']}",
                                                _variant(r)])) + ")" for r in rows]
    for column in ("acc", "real_acc", "fake_acc", "auc", "ap", "n_real", "n_fake"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return robustness_curves(frame)


def _plots(page: BoardPage, board: Board, out: Path) -> None:
    from gibench.builtin.robustness import plot_curve

    curves = robustness_frame(board.rows())
    if curves is None:
        return
    for name, frame in curves.groupby("degradation_name", sort=True):
        file = f"plots/{page_name(board.name)}-robustness-{page_name(str(name))}.png"
        (out / file).parent.mkdir(parents=True, exist_ok=True)
        plot_curve(frame, out / file)
        page.plots.append(file)


@dataclass
class DetectorPage:
    name: str
    page: str
    boards: list[tuple[BoardPage, list[dict[str, str]]]] = field(default_factory=list)


def _percent(text: str) -> str:
    """A metric of a board row, one decimal as on the board's table; other text as it is."""
    return tenth(Decimal(text)) if parse_number(text) is not None else text


def _environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("gibench.leaderboard", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["linkify"] = linkify
    env.filters["page_name"] = page_name
    env.filters["pct"] = _percent
    return env


def _static(name: str) -> str:
    from importlib import resources

    return resources.files("gibench.leaderboard").joinpath("static", name).read_text("utf-8")


def build_site(root: Path, out: Path, registry: Registry) -> list[Path]:
    """Write the site of every board in ``root`` into ``out``; returns the pages written.

    ``out`` is replaced as a whole (built beside it, then moved into place), and only when it
    does not exist, is empty, or holds a site this function wrote (the file :data:`MARKER`)."""
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise GibenchError(f"no leaderboards folder at {root}")
    if out.exists() and (not out.is_dir() or (any(out.iterdir())
                                              and not (out / MARKER).is_file())):
        raise GibenchError(f"{out} exists and is not a site written by `gibench leaderboard "
                           "site`: choose an empty or new folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        pages = _write_site(root, tmp, registry)
        (tmp / MARKER).write_text("written by `gibench leaderboard site`; replaced on rebuild\n")
        for path in [tmp, *tmp.rglob("*")]:  # readable by a web server, like any checkout
            path.chmod(0o755 if path.is_dir() else 0o644)
        if out.exists():
            old = out.with_name(f".{out.name}-old-{tmp.name}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return [out / p.relative_to(tmp) for p in pages]


def _write_site(root: Path, out: Path, registry: Registry) -> list[Path]:
    env = _environment()
    boards = [load_board(root / f"{name}.csv") for name in board_names(root)]
    pages = [_board_page(board, registry) for board in boards]
    detectors: dict[str, DetectorPage] = {}
    for board, page in zip(boards, pages, strict=True):
        _plots(page, board, out)
        for row in board.rows():
            det = detectors.setdefault(row["detector"], DetectorPage(
                row["detector"], f"detector-{page_name(row['detector'])}.html"))
            if not det.boards or det.boards[-1][0] is not page:
                det.boards.append((page, []))
            det.boards[-1][1].append(row)
    rank = {s: i for i, s in enumerate(SOURCES)}
    for det in detectors.values():
        for _, rows in det.boards:
            rows.sort(key=lambda r: (rank.get(r["source"], len(rank)), r["train_subset"],
                                     r["test_subset"], r["degradation"], r["seed"]))
    common = {"sources": SOURCES}
    written = []

    def write(name: str, template: str, **context) -> None:
        atomic_write_text(out / name, env.get_template(template).render(**common, **context))
        written.append(out / name)

    ordered = sorted(detectors.values(), key=lambda d: d.name)
    write("index.html", "index.html", boards=pages, detectors=ordered, title="Leaderboards")
    for page in pages:
        write(page.page, "board.html", board=page, title=page.name)
    for det in ordered:
        write(det.page, "detector.html", detector=det, columns=DETECTOR_COLUMNS,
              title=det.name)
    (out / "static").mkdir(exist_ok=True)
    for name in _STATIC:
        atomic_write_text(out / "static" / name, _static(name))
    return written
