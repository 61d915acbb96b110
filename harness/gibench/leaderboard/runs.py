"""``gibench leaderboard add``: a run directory's results as board rows, after checking where
they come from.

A run is accepted when ``run.json`` says it completed and records its detector, suite, dataset,
seed, gibench version, the distribution and version of the detector's plugin, the git commit,
and the sha256 of the evaluated weights (given with ``--weights``) or of each trained model; and
when every row of ``results.csv`` belongs to that run and agrees with the per-image scores of
``scores.csv`` (so no number on a board is typed by hand).
"""

from __future__ import annotations

import datetime as _dt
import math
import re
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
from gibench.leaderboard.render import write_rendered
from gibench.leaderboard.schema import (
    COLUMN_NAMES,
    PERCENT_COLUMNS,
    SHA256,
    SOURCES,
    TRAINED,
    describe_key,
    duplicate_key,
    markup_problem,
    parse_number,
)
from gibench.metrics import compute_metrics
from gibench.registry import Registry, get_registry
from gibench.rundir import GIVEN_WEIGHTS, HEADLINE_METRICS, KEY_COLUMNS, RunDir, RunRecord

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
    weights_sha256: str | None  # None: trained by the run
    trained: Mapping[str, str]  # train subset -> sha256 of the model trained on it


@dataclass(frozen=True)
class AddResult:
    board: Path
    added: int
    replaced: int


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
    return Provenance(path=path, detector=detector, suite=_field(record, "resolved.suite", path),
                     dataset=_field(record, "resolved.dataset", path),
                     seed=_field(record, "seed", path, int), git=git,
                     command=command if isinstance(command, str) and command else None,
                     date=date, gibench_version=_field(record, "versions.gibench", path),
                     plugin=provider.distribution, plugin_version=str(plugin["version"]),
                     weights_sha256=sha, trained=trained)


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


def _scores(run_dir: Path) -> dict[tuple[str, str, str], pd.DataFrame]:
    path = RunDir(run_dir).scores
    if not path.is_file():
        raise GibenchError(f"{path}: no such file; a board's numbers must be recomputable from "
                           "the per-image scores")
    try:
        frame = pd.read_csv(path, dtype={"train_subset": str, "test_subset": str,
                                         "degradation": str}, keep_default_na=False)
        groups = frame.groupby(["train_subset", "test_subset", "degradation"], sort=False)
        return {key: part for key, part in groups}
    except (ValueError, KeyError, pd.errors.ParserError) as exc:
        raise GibenchError(f"{path}: not a readable scores file ({exc})") from exc


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-6


def _check_against_scores(path: Path, line: int, row: Mapping[str, str],
                          scores: Mapping[tuple[str, str, str], pd.DataFrame]) -> None:
    part = scores.get((row["train_subset"], row["test_subset"], row["degradation"]))
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
             reference: str | None = None, train_subset: str | None = None
             ) -> tuple[Provenance, list[dict[str, str]]]:
    """The run's record and its results as board rows (not yet checked against a board)."""
    run = read_run(run_dir, registry)
    results = _results(run_dir)
    scores = _scores(run_dir)
    path = RunDir(run_dir).results
    if reference is None:
        reference = (f"{run.command} (git {run.git})" if run.command
                     else f"run without a recorded command (git {run.git})")
        problem = markup_problem(reference)
        if problem:
            raise GibenchError(f"{run.path}: the recorded command {problem}; pass "
                               "{reference} with a link to the run instead",
                               params=["reference"])
    trained_on = (registry.resolve("subset", train_subset, run.dataset)
                  if train_subset and registry.has("subset", train_subset) else train_subset)
    rows = []
    for i, result in enumerate(results.to_dict("records")):
        line = i + 2
        for key, expected in (("detector", run.detector), ("dataset", run.dataset),
                              ("suite", run.suite)):
            if result[key] != expected:
                raise GibenchError(f"{path}:{line}: {key} {result[key]!r} is not the run's "
                                   f"({expected!r} in run.json); results.csv does not belong "
                                   "to this run")
        train = result["train_subset"]
        if run.weights_sha256 is not None:
            if train != GIVEN_WEIGHTS:
                raise GibenchError(f"{path}:{line}: train subset {train!r}, but run.json says "
                                   f"the run evaluated given weights ({GIVEN_WEIGHTS})")
            if not trained_on:
                raise GibenchError(f"{run_dir} evaluated given weights: say which subset they "
                                   "were trained on with {train_subset=}NAME",
                                   params=["train_subset"])
            train = trained_on
        elif train not in run.trained:
            raise GibenchError(f"{path}:{line}: train subset {train!r} has no trained model "
                               f"recorded in run.json (training: {', '.join(run.trained)})")
        elif trained_on and trained_on != train:
            raise GibenchError(f"{{train_subset=}}{train_subset} contradicts the run, which "
                               f"trained on {train}", params=["train_subset"])
        _check_against_scores(path, line, result, scores)
        rows.append({
            "detector": run.detector, "plugin": run.plugin,
            "plugin_version": run.plugin_version,
            "weights": run.weights_sha256 or TRAINED,
            "seed": "" if run.weights_sha256 else str(run.seed),
            "train_subset": train, "test_subset": result["test_subset"],
            "degradation": result["degradation"],
            **{k: _number(result[k]) for k in PERCENT_COLUMNS},
            "n_real": result["n_real"], "n_fake": result["n_fake"],
            "gibench_version": run.gibench_version, "date": run.date, "source": source,
            "reference": reference, "submitter": submitter,
        })
    return run, rows


def add_run(run_dir: Path, root: Path = DEFAULT_ROOT, *, source: str, submitter: str,
            board: str | None = None, reference: str | None = None,
            train_subset: str | None = None, replace: bool = False,
            registry: Registry | None = None) -> AddResult:
    """Add a run's results to a board (default ``<dataset>-<suite>``), refusing results the
    board already holds unless ``replace``; write the CSV and render its Markdown and the index.
    """
    registry = registry or get_registry()
    root = Path(root)
    if source not in RUN_SOURCES:
        raise GibenchError(f"{{source}} must be one of {', '.join(RUN_SOURCES)}, not "
                           f"{source!r} (paper rows come from the paper's tables only)",
                           params=["source"])
    for option, text in (("submitter", submitter), ("reference", reference)):
        problem = markup_problem(text) if text is not None else None
        if problem or text == "":
            raise GibenchError("{" + option + "=}" + f"{text!r} {problem or 'is empty'}",
                               params=[option])
    run, rows = run_rows(run_dir, registry, source=source, submitter=submitter,
                         reference=reference, train_subset=train_subset)
    # Aligned evaluations (--align) never share a board with unaligned ones.
    aligned = sorted(set(_results(run_dir).get("align", pd.Series(["none"])).astype(str))
                     - {"none", "nan"})
    default = f"{run.dataset}-{run.suite}"
    if aligned:
        slug = "-".join(a.replace(":", "").replace("+", "-") for a in aligned)
        default = f"{default}-aligned-{slug}"
        if board is not None and "aligned" not in board:
            raise GibenchError(f"{run.path}: the run was evaluated with {{align=}}"
                               f"{', '.join(aligned)}; its rows go to an aligned board "
                               f"(e.g. {{board=}}{default}), not to {board}",
                               params=["align", "board"])
    # Evaluations under another preprocessing policy (--eval-transform) have boards of their own.
    policies = sorted(set(_results(run_dir).get("eval_transform", pd.Series(["authors"]))
                          .astype(str)) - {"nan"})
    if len(policies) > 1:
        raise GibenchError(f"{run.path}: its rows mix evaluation policies "
                           f"({', '.join(policies)}); a board holds one")
    policy = policies[0] if policies else "authors"
    if policy != "authors":
        default = f"{default}-eval-{policy}"
    if board is not None and board_policy(board) != ("" if policy == "authors" else policy):
        raise GibenchError(f"{run.path}: the run was evaluated with {{eval_transform=}}{policy}; "
                           f"its rows go to board {default} (or another of that policy), not "
                           f"to {board}", params=["eval_transform"])
    name = check_board_name(board or default)
    path = root / f"{name}.csv"
    if not path.is_file() and board is None:
        raise GibenchError(f"no board {name} in {root} (boards: "
                           f"{', '.join(board_names(root)) or 'none'}); pass {{board=}}NAME "
                           "to add the run to another board or to start a new one",
                           params=["board"])
    dataset = board_dataset(name, registry)
    if dataset is not None and dataset != run.dataset:
        raise GibenchError(f"{run.path}: the run is on dataset {run.dataset!r}, but board "
                           f"{name} holds {dataset!r} results; each dataset has its own boards")
    problems = rows_problems(name, rows, registry)
    if problems:
        lines = [f"  {describe_key(rows[i])}: {message}" for i, message in problems[:10]]
        raise GibenchError(f"{run_dir}: its results cannot go on board {name}:\n"
                           + "\n".join(lines))
    existing = load_board(path).frame if path.is_file() else empty_frame()
    keys = {duplicate_key(r) for r in rows}
    clash = [r for r in existing.to_dict("records") if duplicate_key(r) in keys]
    if clash and not replace:
        raise GibenchError(f"{path}: already holds {len(clash)} of these results, e.g. "
                           f"{describe_key(clash[0])}; pass {{replace}} to replace them",
                           params=["replace"])
    kept = existing[[duplicate_key(r) not in keys for r in existing.to_dict("records")]]
    frame = pd.concat([kept, pd.DataFrame(rows, columns=list(COLUMN_NAMES))],
                      ignore_index=True)
    write_board(path, frame)
    write_rendered(root, registry, boards=[name])
    return AddResult(path, len(rows), len(clash))
