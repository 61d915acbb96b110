"""The one description of a leaderboard row: its columns, their types and ranges, and the rules
that ``add``, ``check`` and ``render`` share.

A board is a CSV with exactly :data:`COLUMN_NAMES` as header, every value a string. This module
only looks at the text of a row; whether its names exist is asked of the plugin registry in
:mod:`gibench.leaderboard.names`.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gibench.rundir import HEADLINE_METRICS

#: Where a row comes from: the paper's tables, a run of the paper's protocol, or anything else.
SOURCES: tuple[str, ...] = ("paper", "reproduced", "new")
#: ``weights`` of a row whose model was trained by the run (its ``seed`` says how).
TRAINED = "trained"
#: ``degradation`` of a row evaluated on clean images.
CLEAN = "none"
#: ``train_subset`` of a cell averaged over every training subset of the dataset (Table 4).
MEAN_OF = re.compile(r"mean-of-([1-9][0-9]*)")

REQUIRED, OPTIONAL, EMPTY = "required", "optional", "empty"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+\-]{0,63}")
_DISTRIBUTION = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._\-]{0,98}[A-Za-z0-9])?")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+!_\-]{0,63}")
SHA256 = re.compile(r"[0-9a-f]{64}")
_COUNT = re.compile(r"[0-9]{1,12}")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DEGRADATION = re.compile(rf"({_NAME.pattern}):({_NUMBER.pattern})")
#: Characters that are markup in Markdown tables or HTML; never accepted in any field.
MARKUP_CHARACTERS = "|<>`[]\\"
_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
MAX_TEXT = 500
#: Characters that a spreadsheet reads as the start of a formula (``=HYPERLINK(...)``); a text
#: cell may not start with one (numbers are checked as numbers).
FORMULA_STARTS = "=+-@"
#: Letters and symbols that draw nothing (Hangul fillers, the blank Braille pattern): they pass
#: a category check but make a name invisible or two names look alike, so they are refused.
BLANK_CHARACTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
#: ``model_sha256`` and ``scores_sha256`` of rows added before ``add`` recorded them (dated
#: before :data:`RECORDED_SINCE`): their run directories are gone, so the hashes cannot be
#: computed; a row dated later must carry them.
UNRECORDED = "unrecorded"
RECORDED_SINCE = "2026-11-27"
_PLUGIN_ORIGIN = re.compile(r"index|local|git:[0-9a-f]{7,40}(\+dirty)?")
_LOCAL_PATH = re.compile(r"(?:^|[\s=(\"'])((?:/|~/|[A-Za-z]:[\\/])[^\s\"',)]*)")


def markup_problem(text: str) -> str | None:
    """Why ``text`` could inject markup into a Markdown table or a page, or ``None``.

    Refused: table and HTML delimiters (:data:`MARKUP_CHARACTERS`), HTML character references
    (``&lt;``), line breaks and every other control, format (zero-width, bidirectional
    override) or separator character, and leading or trailing spaces.
    """
    for ch in text:
        if ch in MARKUP_CHARACTERS:
            return f"contains {ch!r} (markup is not allowed on a leaderboard)"
        if ch in BLANK_CHARACTERS:
            return (f"contains the invisible character U+{ord(ch):04X} (it draws nothing: "
                    "write visible text)")
        category = unicodedata.category(ch)
        if category[0] == "C" or category in ("Zl", "Zp"):
            return (f"contains the control or invisible character U+{ord(ch):04X} "
                    "(line breaks and formatting characters are not allowed)")
    entity = _ENTITY.search(text)
    if entity:
        return f"contains the HTML character reference {entity.group()!r}"
    if text != text.strip():
        return "has leading or trailing spaces"
    return None


def formula_problem(text: str) -> str | None:
    """Why a spreadsheet opening the board would evaluate ``text`` as a formula, or ``None``."""
    if text and text[0] in FORMULA_STARTS:
        return (f"starts with {text[0]!r}: a spreadsheet formula (a spreadsheet opening the "
                "board would evaluate it); start text with a letter or digit")
    return None


def visible_problem(text: str) -> str | None:
    """``None`` when ``text`` shows at least one letter, digit, mark of punctuation or symbol."""
    if any(unicodedata.category(ch)[0] in "LNPS" and ch not in BLANK_CHARACTERS
           for ch in text):
        return None
    return "is invisible: it has no visible letter, digit or symbol"


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be a free-text cell (``reference``, ``submitter``), or ``None``:
    markup, a spreadsheet formula, no visible content, or too long."""
    return (markup_problem(text) or formula_problem(text) or visible_problem(text)
            or (f"is longer than {MAX_TEXT} characters" if len(text) > MAX_TEXT else None))


def local_paths(text: str) -> list[str]:
    """The machine-local paths in ``text`` (``/tmp/x``, ``~/x``, ``C:\\x``); addresses such as
    ``https://host/path`` are not paths."""
    return [m.group(1) for m in _LOCAL_PATH.finditer(text) if len(m.group(1)) > 1]


def parse_number(text: str) -> float | None:
    """A plain decimal number (no ``inf``, ``nan`` or ``_``), or ``None``."""
    if not _NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def parse_degradation(text: str) -> tuple[str, float] | None:
    """``"jpeg:65"`` → ``("jpeg", 65.0)``; ``None`` for ``none`` or text of another shape."""
    match = _DEGRADATION.fullmatch(text)
    if not match:
        return None
    strength = parse_number(match.group(2))
    return None if strength is None else (match.group(1), strength)


def degradation_text(name: str, strength: float) -> str:
    """The canonical spelling of a setting, as runs record it: ``jpeg:65``, ``blur:0.5``."""
    return f"{name}:{strength:g}"


# -- value checks: each returns the reason a non-empty value is wrong, or None ------------------
def _regex(pattern: re.Pattern[str], what: str) -> Callable[[str], str | None]:
    return lambda v: None if pattern.fullmatch(v) else f"is not {what}"


def _percent(value: str) -> str | None:
    number = parse_number(value)
    if number is None:
        return "is not a number"
    return None if 0 <= number <= 100 else "is out of range (a percentage: 0 to 100)"


def _date(value: str) -> str | None:
    try:
        if _DATE.fullmatch(value):
            _dt.date.fromisoformat(value)
            return None
    except ValueError:
        pass
    return "is not an ISO date (YYYY-MM-DD)"


def _weights(value: str) -> str | None:
    return None if value == TRAINED or SHA256.fullmatch(value) else (
        f"is neither {TRAINED!r} nor the sha256 of a weights file (64 lowercase hex digits)")


def _degradation(value: str) -> str | None:
    if value == CLEAN:
        return None
    parsed = parse_degradation(value)
    if parsed is None:
        return f"is neither {CLEAN!r} nor NAME:STRENGTH (e.g. jpeg:65)"
    canonical = degradation_text(*parsed)
    return None if canonical == value else f"is not written canonically (write {canonical!r})"


def _source(value: str) -> str | None:
    return None if value in SOURCES else f"is not one of {', '.join(SOURCES)}"


def _text(value: str) -> str | None:
    return text_problem(value)


def _reference(value: str) -> str | None:
    problem = text_problem(value)
    paths = local_paths(value)
    if problem or not paths:
        return problem
    return (f"holds the machine-local path {paths[0]!r}: link to the run, or give the "
            "command without it (`add` writes the recorded command so)")


def _count(value: str) -> str | None:
    if not _COUNT.fullmatch(value):
        return "is not a whole number >= 0"
    canonical = str(int(value))
    return None if canonical == value else (
        f"is not written canonically (write {canonical!r})")


def _hash(what: str) -> Callable[[str], str | None]:
    return lambda v: None if v == UNRECORDED or SHA256.fullmatch(v) else (
        f"is not the sha256 of {what} (64 lowercase hex digits)")


def _plugin_origin(value: str) -> str | None:
    return None if _PLUGIN_ORIGIN.fullmatch(value) else (
        "is not index, local, git:COMMIT or git:COMMIT+dirty")


@dataclass(frozen=True)
class Column:
    """One column: how its value is checked and whether paper rows / run rows must fill it."""

    name: str
    check: Callable[[str], str | None]
    paper: str  # REQUIRED | OPTIONAL | EMPTY
    run: str
    doc: str


_name = _regex(_NAME, "a name (letters, digits and . _ + -, at most 64)")
#: a training subset: NAME, or DATASET/NAME for training data of another dataset than the
#: board's (a cross-dataset run)
_QUALIFIED = re.compile(rf"(?:{_NAME.pattern}/)?{_NAME.pattern}")
_train_name = _regex(_QUALIFIED, "a name, or DATASET/NAME (letters, digits and . _ + -, at "
                                 "most 64 each)")

#: The columns of every board, in file order. Paper rows publish only ``acc``.
COLUMNS: tuple[Column, ...] = (
    Column("detector", _name, REQUIRED, REQUIRED, "canonical detector name (gibench list)"),
    Column("plugin", _regex(_DISTRIBUTION, "a distribution name"), REQUIRED, REQUIRED,
           "distribution that provides the detector"),
    Column("plugin_version", _regex(_VERSION, "a version"), REQUIRED, REQUIRED,
           "its version"),
    Column("plugin_origin", _plugin_origin, EMPTY, REQUIRED,
           "where the plugin's code came from: index (a release), git:COMMIT (a checkout or "
           "VCS install; +dirty: with uncommitted changes), local (a folder not under git)"),
    Column("weights", _weights, REQUIRED, REQUIRED,
           "sha256 of the evaluated weights, or 'trained' (by the run / the paper)"),
    Column("model_sha256", _hash("the evaluated model"), EMPTY, REQUIRED,
           "sha256 of the evaluated model (the weights, or the model the run trained)"),
    Column("seed", _count, OPTIONAL, OPTIONAL, "the run's seed when trained, else empty"),
    Column("train_subset", _train_name, REQUIRED, REQUIRED,
           "canonical subset name (DATASET/NAME when trained on another dataset than the "
           "board's), or mean-of-N (average over the N training subsets)"),
    Column("test_subset", _name, REQUIRED, REQUIRED, "canonical subset name"),
    Column("degradation", _degradation, REQUIRED, REQUIRED, "'none' or NAME:STRENGTH"),
    Column("acc", _percent, REQUIRED, REQUIRED, "accuracy (%) at threshold 0.5"),
    Column("real_acc", _percent, EMPTY, OPTIONAL, "accuracy on real images (%)"),
    Column("fake_acc", _percent, EMPTY, OPTIONAL, "accuracy on generated images (%)"),
    Column("auc", _percent, EMPTY, OPTIONAL, "ROC AUC (%)"),
    Column("ap", _percent, EMPTY, OPTIONAL, "average precision (%)"),
    Column("n_real", _count, EMPTY, REQUIRED, "real test images"),
    Column("n_fake", _count, EMPTY, REQUIRED, "generated test images"),
    Column("gibench_version", _regex(_VERSION, "a version"), EMPTY, REQUIRED,
           "gibench version of the run"),
    Column("scores_sha256", _hash("the run's scores.csv"), EMPTY, REQUIRED,
           "sha256 of the run's scores.csv (the per-image scores every number comes from)"),
    Column("date", _date, REQUIRED, REQUIRED, "ISO date (the run's, or the paper's)"),
    Column("source", _source, REQUIRED, REQUIRED, "paper | reproduced | new"),
    Column("reference", _reference, REQUIRED, REQUIRED,
           "the paper's table, or the run's command and git commit, or a link"),
    Column("submitter", _text, REQUIRED, REQUIRED, "who added the row"),
)
COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
#: The metrics a board holds (in percent): a run's headline metrics (fractions in its
#: ``results.csv``).
PERCENT_COLUMNS: tuple[str, ...] = HEADLINE_METRICS
#: Two rows with the same values here are the same result; a board holds it once.
KEY_COLUMNS: tuple[str, ...] = ("detector", "weights", "seed", "train_subset", "test_subset",
                                "degradation", "source")
#: Free-text columns (every other column is a name, number, hash, date or fixed word).
TEXT_COLUMNS: tuple[str, ...] = ("reference", "submitter")
#: The order rows are written in (then every other column), so a board's CSV is deterministic.
SORT_COLUMNS: tuple[str, ...] = ("detector", "train_subset", "test_subset", "degradation",
                                 "source", "weights", "seed")


def show(value: str, limit: int = 60) -> str:
    """``value`` quoted on one line (newlines and controls escaped), shortened when long."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def row_problems(row: Mapping[str, str]) -> list[str]:
    """What is wrong with one row's text (types, ranges, provenance), one message per problem.

    Names are not looked up here: see :func:`gibench.leaderboard.names.name_problems`.
    """
    problems = []
    source = row.get("source", "")
    paper = source == "paper"
    for column in COLUMNS:
        value = row.get(column.name, "")
        presence = column.paper if paper else column.run
        markup = markup_problem(value)
        if markup:
            problems.append(f"{column.name} {show(value)} {markup}")
        elif not value:
            if presence == REQUIRED:
                who = "a paper row" if paper else f"a {source or 'non-paper'} row"
                problems.append(f"{column.name} is empty ({who} needs it: {column.doc})")
        elif presence == EMPTY:
            problems.append(f"{column.name} {show(value)} must be empty in a paper row "
                            "(the paper publishes accuracy only)")
        else:
            reason = column.check(value)
            if reason:
                problems.append(f"{column.name} {show(value)} {reason}")
    if not paper and source in SOURCES:
        weights, seed = row.get("weights", ""), row.get("seed", "")
        if weights == TRAINED and not seed:
            problems.append(f"seed is empty: a {source} row trained by its run needs the "
                            "run's seed")
        if SHA256.fullmatch(weights) and seed:
            problems.append(f"seed {show(seed)} must be empty when weights is a sha256 "
                            "(the weights were not trained by the run)")
        counts = [row.get(k, "") for k in ("n_real", "n_fake")]
        if all(_COUNT.fullmatch(c) for c in counts) and sum(map(int, counts)) == 0:
            problems.append("n_real and n_fake are both 0: no image was evaluated")
        model = row.get("model_sha256", "")
        if SHA256.fullmatch(weights) and SHA256.fullmatch(model) and model != weights:
            problems.append(f"model_sha256 {show(model)} is not the weights' sha256: the "
                            "evaluated model is the weights given")
        date = row.get("date", "")
        for column in ("model_sha256", "scores_sha256"):
            if row.get(column) == UNRECORDED and date >= RECORDED_SINCE:
                problems.append(f"{column} {UNRECORDED!r} is only for rows added before "
                                f"{RECORDED_SINCE} (this row is dated {date}): "
                                "`gibench leaderboard add` records it")
    return problems


def duplicate_key(row: Mapping[str, str]) -> tuple[str, ...]:
    """The result a row is; ``seed`` normalised (``00`` is seed 0)."""
    key = dict(row)
    if _COUNT.fullmatch(key.get("seed", "")):
        key["seed"] = str(int(key["seed"]))
    return tuple(key.get(k, "") for k in KEY_COLUMNS)


def model_key(row: Mapping[str, str]) -> tuple[str, ...] | None:
    """The model and the cell a row evaluates, whatever its source or how it names the model
    (``trained`` with a seed, or the weights' sha256); ``None`` when the model is unknown."""
    model = row.get("model_sha256", "")
    if not SHA256.fullmatch(model):
        return None
    return (row.get("detector", ""), model, row.get("test_subset", ""),
            row.get("degradation", ""))


def describe_key(row: Mapping[str, str]) -> str:
    """The identity of a row in words, for messages."""
    weights = row.get("weights", "")
    how = (f"trained, seed {row.get('seed') or '?'}" if weights == TRAINED
           else f"weights {weights[:12]}")
    return (f"{row.get('detector')} ({how}) trained on {row.get('train_subset')}, tested on "
            f"{row.get('test_subset')} / {row.get('degradation')}, source "
            f"{row.get('source')}")


def is_mean_of(train_subset: str) -> int | None:
    """N for ``mean-of-N``, else ``None``."""
    match = MEAN_OF.fullmatch(train_subset)
    return int(match.group(1)) if match else None
