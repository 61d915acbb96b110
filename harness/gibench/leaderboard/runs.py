"""``gibench leaderboard add``: a run directory's results as board rows, after checking where
they come from.

A run is accepted when ``run.json`` says it completed and records its detector, suite, dataset,
seed, gibench version, the distribution and version of the detector's plugin, the git commit,
and the sha256 of the evaluated weights (given with ``--weights``) or of each trained model;
when its plugin's code is published (:mod:`gibench.leaderboard.origin`), or the submitter
accepts that the row shows it is not; and when every row of ``results.csv`` belongs to that
run, agrees with the per-image scores of ``scores.csv``, and the rows are complete
(:func:`check_complete`: no cherry-picked cell), so no number on a board is typed by hand or
chosen. Each row records the
sha256 of the model evaluated and of ``scores.csv``, and the command without machine-local
paths (:func:`public_command`).
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gibench.errors import GibenchError
from gibench.leaderboard.board import (
    DEFAULT_ROOT,
    board_names,
    check_board_name,
    empty_frame,
    load_board,
    write_board,
)
from gibench.leaderboard.check import rows_problems
from gibench.leaderboard.names import board_dataset, board_policy
from gibench.leaderboard.origin import describe_origin, is_unpublished
from gibench.leaderboard.render import write_rendered
from gibench.leaderboard.schema import (
    CLEAN,
    COLUMN_NAMES,
    PERCENT_COLUMNS,
    SHA256,
    SOURCES,
    TRAINED,
    describe_key,
    duplicate_key,
    local_paths,
    model_key,
    parse_number,
    text_problem,
)
from gibench.metrics import compute_metrics
from gibench.outputs import sha256_file
from gibench.registry import Registry, get_registry
from gibench.rundir import (
    GIVEN_WEIGHTS,
    HEADLINE_METRICS,
    KEY_COLUMNS,
    RunDir,
    RunRecord,
    score_key_columns,
)

#: The columns of ``results.csv`` a board row is made from.
RUN_COLUMNS: tuple[str, ...] = (*KEY_COLUMNS, "n_real", "n_fake", *HEADLINE_METRICS)
#: Sources a run may be added as (``paper`` rows come from :mod:`gibench.leaderboard.paper`).
RUN_SOURCES: tuple[str, ...] = tuple(s for s in SOURCES if s != "paper")
_GIT = re.compile(r"[0-9a-f]{7,40}(\+dirty)?")


@dataclass(frozen=True)
class Provenance:
    """What a board row needs from ``run.json``, checked."""

    path: Path
    detector: str
    suite: str
    dataset: str
    seed: int
    git: str
    command: str | None
    date: str
    gibench_version: str
    plugin: str
    plugin_version: str
    plugin_origin: str  # gibench.leaderboard.origin
    weights_sha256: str | None  # None: trained by the run
    trained: Mapping[str, str]  # train subset -> sha256 of the model trained on it
    test_subsets: tuple[str, ...]  # resolved.test_subsets
    degradations: tuple[str, ...]  # resolved.degradations
    requested_tests: bool  # whether the run was given its test subsets
    #: every dataset the run tested on (resolved.datasets), the training dataset (``dataset``)
    #: first; ``(dataset,)`` for a run of one dataset
    datasets: tuple[str, ...] = ()

    def run_name(self, dataset: str, subset: str) -> str:
        """How the run named a subset of ``dataset`` (``resolved.test_subsets``): plain in its
        training dataset, ``DATASET/NAME`` in another."""
        return subset if dataset == self.dataset else f"{dataset}/{subset}"


@dataclass(frozen=True)
class AddResult:
    """What ``add`` did: the board written, rows added and replaced; for a run of several
    datasets the first board, the totals, and one part per board in ``parts``."""

    board: Path
    added: int
    replaced: int
    parts: tuple[AddResult, ...] = ()


def _field(record: Mapping[str, Any], dotted: str, path: Path, kind: type | tuple = str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if not isinstance(value, kind) or isinstance(value, bool) or value in ("", None):
        raise GibenchError(f"{path}: {dotted} is missing or not a "
                           f"{getattr(kind, '__name__', 'value')}; only complete run "
                           "directories written by `gibench run` can be added")
    return value


def read_run(run_dir: Path, registry: Registry) -> Provenance:
    """Read and check ``run.json`` of ``run_dir``; a :class:`GibenchError` names what is wrong."""
    path = RunDir(run_dir).record
    record = RunRecord.read(run_dir).to_dict()
    status = record.get("status")
    if status != "complete":
        raise GibenchError(f"{path}: the run is {status!r}, not 'complete'; only finished runs "
                           "go on a leaderboard")
    detector = _field(record, "resolved.detector", path)
    if not registry.has("detector", detector):
        raise GibenchError(f"{path}: detector {detector!r} is not installed here; install the "
                           "plugin that provides it to add its runs")
    provider = registry.provider("detector", detector)
    plugin = _field(record, f"versions.plugins.{provider.name}", path, dict)
    if plugin.get("distribution") != provider.distribution or not plugin.get("version"):
        raise GibenchError(f"{path}: versions.plugins.{provider.name} records distribution "
                           f"{plugin.get('distribution')!r} version {plugin.get('version')!r}, "
                           f"but detector {detector!r} comes from {provider.distribution!r}")
    git = _field(record, "git", path)
    if not _GIT.fullmatch(git):
        raise GibenchError(f"{path}: git {git!r} is not a commit hash")
    if provider.distribution == "gibench":  # a built-in plugin: gibench's own checkout
        origin = f"git:{git}"
    else:
        origin = plugin.get("origin")
        if not isinstance(origin, str) or not origin:
            raise GibenchError(f"{path}: versions.plugins.{provider.name}.origin is missing: "
                               "the run was made before gibench recorded where a plugin's code "
                               "came from; run it again to add it")
    try:
        date = _dt.datetime.fromisoformat(_field(record, "created", path)).date().isoformat()
    except ValueError as exc:
        raise GibenchError(f"{path}: created {record['created']!r} is not an ISO time") from exc
    weights = record.get("weights")
    sha = None
    if weights is not None:
        sha = _field(record, "weights.sha256", path)
        if not SHA256.fullmatch(sha):
            raise GibenchError(f"{path}: weights.sha256 {sha!r} is not a sha256")
    trained = {}
    for subset, info in (record.get("training") or {}).items():
        digest = info.get("sha256") if isinstance(info, Mapping) else None
        if not isinstance(digest, str) or not SHA256.fullmatch(digest):
            raise GibenchError(f"{path}: training.{subset}.sha256 is missing or not a sha256")
        trained[subset] = digest
    command = record.get("command")
    resolved = record.get("resolved") or {}
    config = record.get("config") or {}
    dataset = _field(record, "resolved.dataset", path)
    several = resolved.get("datasets")
    if several is not None and (not isinstance(several, Mapping) or dataset not in several):
        raise GibenchError(f"{path}: resolved.datasets does not name the run's datasets, its "
                           f"training dataset {dataset!r} first")
    return Provenance(path=path, detector=detector, suite=_field(record, "resolved.suite", path),
                     dataset=dataset,
                     seed=_field(record, "seed", path, int), git=git,
                     command=command if isinstance(command, str) and command else None,
                     date=date, gibench_version=_field(record, "versions.gibench", path),
                     plugin=provider.distribution, plugin_version=str(plugin["version"]),
                     plugin_origin=origin, weights_sha256=sha, trained=trained,
                     test_subsets=tuple(map(str, resolved.get("test_subsets") or ())),
                     degradations=tuple(map(str, resolved.get("degradations") or ())),
                     requested_tests=bool(config.get("test_subsets")),
                     datasets=tuple(map(str, several)) if several else (dataset,))


def _results(run_dir: Path) -> pd.DataFrame:
    path = RunDir(run_dir).results
    if not path.is_file():
        raise GibenchError(f"{path}: no such file (the run wrote no results)")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise GibenchError(f"{path}: not a readable CSV ({exc})") from exc
    missing = [c for c in RUN_COLUMNS if c not in frame.columns]
    if missing:
        raise GibenchError(f"{path}: missing column(s) {', '.join(missing)}")
    if frame.empty:
        raise GibenchError(f"{path}: holds no result")
    return frame


#: One evaluation: (test dataset, train subset, test subset, degradation).
ScoreKey = tuple[str, str, str, str]


def _scores(run_dir: Path, dataset: str) -> dict[ScoreKey, pd.DataFrame]:
    """The per-image scores of each evaluation of the run, by :data:`ScoreKey`; a run of one
    dataset (no ``dataset`` column) tested on ``dataset``."""
    path = RunDir(run_dir).scores
    if not path.is_file():
        raise GibenchError(f"{path}: no such file; a board's numbers must be recomputable from "
                           "the per-image scores")
    try:
        frame = pd.read_csv(path, dtype={"dataset": str, "train_subset": str,
                                         "test_subset": str, "degradation": str},
                            keep_default_na=False)
        columns = score_key_columns(frame.columns)
        groups = frame.groupby(columns, sort=False)
        return {(key if len(key) == 4 else (dataset, *key)): part for key, part in groups}
    except (ValueError, KeyError, pd.errors.ParserError) as exc:
        raise GibenchError(f"{path}: not a readable scores file ({exc})") from exc


def check_complete(run: Provenance, results: pd.DataFrame,
                   scores: Mapping[ScoreKey, pd.DataFrame], path: Path) -> None:
    """Refuse results that are not everything the run evaluated: a row of ``results.csv``
    deleted (``scores.csv`` still holds its scores), or a cell deleted from both files (the
    grid of models × test subsets × settings has a hole, or lacks a model, a test subset or a
    degradation that ``run.json`` records).

    The test subsets a suite evaluates are ``resolved.test_subsets``, all of them, unless the
    run asked for no degradation-free suite: a suite evaluating degradations may test only the
    training subset (``degraded``, ``robustness``), so that is accepted there too.
    """
    full = {(r["dataset"], r["train_subset"], r["test_subset"], r["degradation"])
            for r in results.to_dict("records")}
    extra = sorted(set(scores) - full)
    if extra:
        dataset, train, test, degradation = extra[0]
        test = run.run_name(dataset, test)
        raise GibenchError(f"{path}: scores.csv holds scores for {len(extra)} evaluation(s) "
                           f"with no row in results.csv, e.g. trained on {train}, tested on "
                           f"{test} / {degradation}: results.csv has been cut; add the whole "
                           "run")
    # (model, test subset as the run names it, degradation)
    keys = {(train, run.run_name(dataset, test), degradation)
            for dataset, train, test, degradation in full}
    models = sorted({k[0] for k in keys})
    tests = sorted({k[1] for k in keys})
    settings = sorted({k[2] for k in keys})
    expected_models = [GIVEN_WEIGHTS] if run.weights_sha256 else sorted(run.trained)
    trains = set(expected_models)

    def refuse(what: str) -> None:
        raise GibenchError(f"{path}: {what}; results.csv and scores.csv do not hold everything "
                           f"the run evaluated ({run.path} says what it did): add the whole "
                           "run")

    for model in expected_models:
        if model not in models:
            refuse(f"no result for the model trained on {model}")
    wanted_tests = list(run.test_subsets)
    if not run.requested_tests and settings != [CLEAN] and set(tests) <= trains:
        wanted_tests = tests  # a degradation suite's default: the training subset only
    for test in wanted_tests:
        if test not in tests:
            refuse(f"no result for test subset {test}")
    for degradation in run.degradations:
        if degradation not in settings:
            refuse(f"no result for degradation {degradation}")
    for model in models:
        for test in tests:
            for degradation in settings:
                if (model, test, degradation) not in keys:
                    refuse(f"no result for the model trained on {model}, tested on {test} / "
                           f"{degradation}, though other rows have that test subset and "
                           "degradation")


#: Options whose value is where the run wrote its files: left out of a recorded command.
_OUTPUT_OPTIONS = ("--out",)


def public_command(command: str) -> str:
    """``command`` without machine-local paths: ``--out PATH`` left out, any other absolute or
    home path (``--data-root /home/me/GenImage``, ``--subset-dir n=/srv/x``) replaced by the
    option's name in capitals (``DATA_ROOT``, ``n=SUBSET_DIR``), or ``PATH``."""
    try:
        tokens = shlex.split(command)
    except ValueError:
        tokens = command.split()
    out: list[str] = []
    skip = False
    for i, token in enumerate(tokens):
        if skip:
            skip = False
            continue
        option, eq, value = token.partition("=") if token.startswith("--") else ("", "", token)
        if (option or token) in _OUTPUT_OPTIONS:
            skip = not eq
            continue
        previous = tokens[i - 1] if i and tokens[i - 1].startswith("--") else ""
        name = (option or previous).lstrip("-").replace("-", "_").upper() or "PATH"
        head, sep, tail = value.rpartition("=")
        if local_paths(tail if sep else value):
            value = f"{head}{sep}{name}"
        out.append(f"{option}{eq}{value}" if option else value)
    return shlex.join(out)


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-6


def _check_against_scores(path: Path, line: int, row: Mapping[str, str],
                          scores: Mapping[ScoreKey, pd.DataFrame]) -> None:
    part = scores.get((row["dataset"], row["train_subset"], row["test_subset"],
                       row["degradation"]))
    where = f"{path}:{line}"
    if part is None:
        raise GibenchError(f"{where}: scores.csv has no per-image scores for this row")
    try:
        again = compute_metrics(part["label"].to_numpy(np.int64),
                                part["score"].to_numpy(np.float64))
    except (ValueError, KeyError) as exc:
        raise GibenchError(f"{where}: its per-image scores in scores.csv are unusable "
                           f"({exc})") from exc
    for key in ("n_real", "n_fake", *PERCENT_COLUMNS):
        recorded = parse_number(row[key]) if row[key] else math.nan
        if recorded is None or not _same(float(again[key]), recorded):
            raise GibenchError(f"{where}: {key} {row[key]!r} does not match the per-image "
                               f"scores in scores.csv ({again[key]:.6g}); the run directory "
                               "has been edited or mixed with another run's files")


def _number(value: str) -> str:
    """A metric as a board stores it: the float's shortest exact text, empty for NaN."""
    number = parse_number(value) if value else None
    return "" if number is None else repr(number)


def run_rows(run_dir: Path, registry: Registry, *, source: str, submitter: str,
             reference: str | None = None, train_subset: str | None = None,
             allow_unpublished_plugin: bool = False
             ) -> tuple[Provenance, list[dict[str, str]]]:
    """The run's record and its results as board rows (not yet checked against a board); a run
    of several datasets gives every dataset's rows (:func:`rows_by_dataset` keeps them
    apart)."""
    run, by_dataset = rows_by_dataset(run_dir, registry, source=source, submitter=submitter,
                                      reference=reference, train_subset=train_subset,
                                      allow_unpublished_plugin=allow_unpublished_plugin)
    return run, [row for rows in by_dataset.values() for row in rows]


def _training_key(registry: Registry, run: Provenance, train_subset: str | None
                  ) -> tuple[str, str] | None:
    """(dataset, canonical name) of ``{train_subset}`` (given weights' training subset, a
    plain name resolved within the run's training dataset first); ``None`` when not given."""
    if not train_subset:
        return None
    if not registry.has("subset", train_subset):
        return (run.dataset, train_subset)  # refused by the board's name check, naming it
    key = registry.key("subset", train_subset, run.dataset)
    dataset, _, name = key.rpartition("/")
    return dataset, name


def rows_by_dataset(run_dir: Path, registry: Registry, *, source: str, submitter: str,
                    reference: str | None = None, train_subset: str | None = None,
                    allow_unpublished_plugin: bool = False
                    ) -> tuple[Provenance, dict[str, list[dict[str, str]]]]:
    """The run's record and its results as board rows by the dataset they were tested on, in
    the run's order of datasets. A row's ``train_subset`` names the training data: the plain
    name on the training dataset's boards, ``DATASET/NAME`` on another dataset's."""
    run = read_run(run_dir, registry)
    if is_unpublished(run.plugin_origin) and not allow_unpublished_plugin:
        raise GibenchError(f"{run.path}: {run.plugin} {run.plugin_version} ran from "
                           f"{describe_origin(run.plugin_origin)}: no published code says "
                           "what ran. Commit (and publish) the plugin and run again, or pass "
                           "{allow_unpublished_plugin} to add it anyway: the row records "
                           f"plugin_origin {run.plugin_origin} and the board shows it",
                           params=["allow_unpublished_plugin"])
    results = _results(run_dir)
    scores = _scores(run_dir, run.dataset)
    path = RunDir(run_dir).results
    check_complete(run, results, scores, path)
    scores_sha256 = sha256_file(RunDir(run_dir).scores)
    if reference is None:
        reference = (f"{public_command(run.command)} (git {run.git})" if run.command
                     else f"run without a recorded command (git {run.git})")
        problem = text_problem(reference)
        if problem:
            raise GibenchError(f"{run.path}: the recorded command {problem}; pass "
                               "{reference} with a link to the run instead",
                               params=["reference"])
    given = _training_key(registry, run, train_subset)
    trained_on = given[1] if given else None
    rows: dict[str, list[dict[str, str]]] = {dataset: [] for dataset in run.datasets}
    for i, result in enumerate(results.to_dict("records")):
        line = i + 2
        for key, expected in (("detector", run.detector), ("suite", run.suite)):
            if result[key] != expected:
                raise GibenchError(f"{path}:{line}: {key} {result[key]!r} is not the run's "
                                   f"({expected!r} in run.json); results.csv does not belong "
                                   "to this run")
        if result["dataset"] not in run.datasets:
            raise GibenchError(f"{path}:{line}: dataset {result['dataset']!r} is not the "
                               f"run's ({', '.join(map(repr, run.datasets))} in run.json); "
                               "results.csv does not belong to this run")
        train = result["train_subset"]
        train_dataset = run.dataset
        if run.weights_sha256 is not None:
            if train != GIVEN_WEIGHTS:
                raise GibenchError(f"{path}:{line}: train subset {train!r}, but run.json says "
                                   f"the run evaluated given weights ({GIVEN_WEIGHTS})")
            if not trained_on:
                raise GibenchError(f"{run_dir} evaluated given weights: say which subset they "
                                   "were trained on with {train_subset=}NAME",
                                   params=["train_subset"])
            train_dataset, train = given
        elif train not in run.trained:
            raise GibenchError(f"{path}:{line}: train subset {train!r} has no trained model "
                               f"recorded in run.json (training: {', '.join(run.trained)})")
        elif trained_on and trained_on != train:
            raise GibenchError(f"{{train_subset=}}{train_subset} contradicts the run, which "
                               f"trained on {train}", params=["train_subset"])
        _check_against_scores(path, line, result, scores)
        named = train if train_dataset == result["dataset"] else f"{train_dataset}/{train}"
        rows[result["dataset"]].append({
            "detector": run.detector, "plugin": run.plugin,
            "plugin_version": run.plugin_version, "plugin_origin": run.plugin_origin,
            "weights": run.weights_sha256 or TRAINED,
            "model_sha256": run.weights_sha256 or run.trained[train],
            "seed": "" if run.weights_sha256 else str(run.seed),
            "train_subset": named, "test_subset": result["test_subset"],
            "degradation": result["degradation"],
            **{k: _number(result[k]) for k in PERCENT_COLUMNS},
            "n_real": result["n_real"], "n_fake": result["n_fake"],
            "gibench_version": run.gibench_version, "scores_sha256": scores_sha256,
            "date": run.date, "source": source,
            "reference": reference, "submitter": submitter,
        })
    return run, {dataset: part for dataset, part in rows.items() if part}


def add_run(run_dir: Path, root: Path = DEFAULT_ROOT, *, source: str, submitter: str,
            board: str | None = None, reference: str | None = None,
            train_subset: str | None = None, replace: bool = False,
            allow_unpublished_plugin: bool = False,
            registry: Registry | None = None) -> AddResult:
    """Add a run's results to a board (default ``<dataset>-<suite>``), refusing results the
    board already holds (the same result, or the same model on the same cell) unless
    ``replace``; write the CSV and render its Markdown and the index. ``board`` may be given
    as its file name (``x.csv``). ``allow_unpublished_plugin``: accept a plugin whose code is a
    local folder or has uncommitted changes (the row's ``plugin_origin`` says so).

    A run of several datasets (``cross-dataset``) goes on each dataset's board
    (``<dataset>-<suite>``, started when missing; ``board`` cannot name one), its rows naming
    the training data (``DATASET/NAME`` on the other datasets' boards); the result then holds
    one part per board (:attr:`AddResult.parts`) and their totals.
    """
    registry = registry or get_registry()
    root = Path(root)
    if source not in RUN_SOURCES:
        raise GibenchError(f"{{source}} must be one of {', '.join(RUN_SOURCES)}, not "
                           f"{source!r} (paper rows come from the paper's tables only)",
                           params=["source"])
    for option, text in (("submitter", submitter), ("reference", reference)):
        problem = text_problem(text) if text else None
        if problem or text == "":
            raise GibenchError("{" + option + "=}" + f"{text!r} {problem or 'is empty'}",
                               params=[option])
    if board is not None and board.endswith(".csv"):
        board = board.removesuffix(".csv")
    run, by_dataset = rows_by_dataset(run_dir, registry, source=source, submitter=submitter,
                                      reference=reference, train_subset=train_subset,
                                      allow_unpublished_plugin=allow_unpublished_plugin)
    several = len(run.datasets) > 1
    if several and board is not None:
        raise GibenchError(f"{run.path}: the run tested on several datasets "
                           f"({', '.join(run.datasets)}); its rows go on each dataset's board "
                           f"(<dataset>-{run.suite}...): leave out {{board}}", params=["board"])
    suffix = _board_suffix(run, run_dir, board)
    parts = []
    for dataset, rows in by_dataset.items():
        default = f"{dataset}-{run.suite}{suffix}"
        parts.append(_add_rows(run, run_dir, rows, root, dataset, board or default,
                               start=several or board is not None, replace=replace,
                               registry=registry))
    write_rendered(root, registry, boards=[part.board.stem for part in parts])
    if len(parts) == 1:
        return parts[0]
    return AddResult(parts[0].board, sum(p.added for p in parts),
                     sum(p.replaced for p in parts), tuple(parts))


def _board_suffix(run: Provenance, run_dir: Path, board: str | None) -> str:
    """What a default board's name adds to ``<dataset>-<suite>``: ``-aligned-...`` for
    evaluations under ``--align``, ``-eval-POLICY`` under another preprocessing policy (each
    has boards of its own); a given ``board`` of the wrong kind is refused."""
    results = _results(run_dir)
    aligned = sorted(set(results.get("align", pd.Series(["none"])).astype(str))
                     - {"none", "nan"})
    suffix = ""
    if aligned:
        slug = "-".join(a.replace(":", "").replace("+", "-") for a in aligned)
        suffix = f"-aligned-{slug}"
        if board is not None and "aligned" not in board:
            raise GibenchError(f"{run.path}: the run was evaluated with {{align=}}"
                               f"{', '.join(aligned)}; its rows go to an aligned board "
                               f"(e.g. {{board=}}{run.dataset}-{run.suite}{suffix}), not to "
                               f"{board}", params=["align", "board"])
    policies = sorted(set(results.get("eval_transform", pd.Series(["authors"]))
                          .astype(str)) - {"nan"})
    if len(policies) > 1:
        raise GibenchError(f"{run.path}: its rows mix evaluation policies "
                           f"({', '.join(policies)}); a board holds one")
    policy = policies[0] if policies else "authors"
    if policy != "authors":
        suffix = f"{suffix}-eval-{policy}"
    if board is not None and board_policy(board) != ("" if policy == "authors" else policy):
        raise GibenchError(f"{run.path}: the run was evaluated with {{eval_transform=}}{policy}; "
                           f"its rows go to board {run.dataset}-{run.suite}{suffix} (or another "
                           f"of that policy), not to {board}", params=["eval_transform"])
    return suffix


def _add_rows(run: Provenance, run_dir: Path, rows: list[dict[str, str]], root: Path,
              dataset: str, board: str, *, start: bool, replace: bool,
              registry: Registry) -> AddResult:
    """Write ``rows`` (tested on ``dataset``) into ``board`` after its checks; a missing board
    is refused unless ``start``."""
    name = check_board_name(board)
    path = root / f"{name}.csv"
    if not path.is_file() and not start:
        raise GibenchError(f"no board {name} in {root} (boards: "
                           f"{', '.join(board_names(root)) or 'none'}); pass {{board=}}NAME "
                           "to add the run to another board or to start a new one",
                           params=["board"])
    owner = board_dataset(name, registry)
    if owner is not None and owner != dataset:
        raise GibenchError(f"{run.path}: the run is on dataset {dataset!r}, but board "
                           f"{name} holds {owner!r} results; each dataset has its own boards")
    problems = rows_problems(name, rows, registry)
    if problems:
        lines = [f"  {describe_key(rows[i])}: {message}" for i, message in problems[:10]]
        raise GibenchError(f"{run_dir}: its results cannot go on board {name}:\n"
                           + "\n".join(lines))
    existing = load_board(path).frame if path.is_file() else empty_frame()
    keys = {duplicate_key(r) for r in rows}
    models = {model_key(r) for r in rows} - {None}

    def clashes(row: Mapping[str, str]) -> bool:
        return duplicate_key(row) in keys or model_key(row) in models

    clash = [r for r in existing.to_dict("records") if clashes(r)]
    if clash and not replace:
        same = ("these results" if duplicate_key(clash[0]) in keys else
                "results of the same model (by its sha256) on the same cells")
        raise GibenchError(f"{path}: already holds {len(clash)} of {same}, e.g. "
                           f"{describe_key(clash[0])}; pass {{replace}} to replace them",
                           params=["replace"])
    kept = existing[[not clashes(r) for r in existing.to_dict("records")]]
    frame = pd.concat([kept, pd.DataFrame(rows, columns=list(COLUMN_NAMES))],
                      ignore_index=True)
    write_board(path, frame)
    return AddResult(path, len(rows), len(clash))
