"""What a run has produced so far, and the ``partial/`` files that make it resumable.

:class:`RunRecords` keeps the result rows, the per-image scores, the bad files, the timings,
the trainings' records and the decode cache's records that the run directory is written from.
Each finished evaluation is saved atomically under ``partial/`` (:meth:`RunRecords.saved`); a
run continued with ``--resume`` reads those back instead of computing them again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gibench.outputs import atomic_write_csv, atomic_write_json
from gibench.rundir import GIVEN_WEIGHTS, RESULT_COLUMNS, RunDir, score_columns

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from gibench.engine.models import TrainedModel



def _recorded_indexes(run_dir: Path) -> dict[str, dict[str, Any]]:
    """The indexes an interrupted run recorded: ``run.json``'s and ``partial/indexes.json``'s
    (written as they were listed, so a killed run has them too)."""
    from gibench.rundir import RunDirError, RunRecord

    out: dict[str, dict[str, Any]] = {}
    try:
        out.update(RunRecord.read(run_dir).indexes or {})
    except RunDirError:
        pass
    path = RunDir(run_dir).indexes
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        if isinstance(data, dict):
            out.update({k: v for k, v in data.items() if isinstance(v, dict)})
    return out


class RunRecords:
    """A run's rows, scores, bad files, timings and training records, in memory; its finished
    evaluations on disk under ``run_dir/partial/`` (written by rank 0, ``main``)."""

    def __init__(self, run_dir: Path, resume: bool, main: bool,
                 several_datasets: bool = False) -> None:
        self.run_dir = run_dir
        #: continue an interrupted run: saved evaluations are read back, not computed
        self.resume = resume
        self.main = main
        #: the scores' columns (:func:`gibench.rundir.score_columns`)
        self.score_columns = score_columns(several_datasets)
        self.rows: list[dict[str, Any]] = []
        self.scores: list[pd.DataFrame] = []
        self.bad: dict[str, list[tuple[str, str]]] = {}
        self.timings: dict[str, float] = {}
        self.trainings: dict[str, dict[str, Any]] = {}
        #: with --weights: where the calibrated threshold came from (None: not calibrated)
        self.calibration: dict[str, Any] | None = None
        #: what each evaluation read from and wrote to the decode cache (``--decode-cache``)
        self.decode_cache_records: list[dict[str, Any]] = []
        #: ``SUBSET/SPLIT`` -> ``{n, sha256}`` of each index listed (``run.json``'s indexes)
        self.indexes: dict[str, dict[str, Any]] = {}
        #: what the interrupted run recorded of its indexes (``--resume`` checks against it)
        self.recorded_indexes: dict[str, dict[str, Any]] = {}
        if resume:
            self.recorded_indexes = _recorded_indexes(run_dir)

    def check_index(self, subset: str, split: str, index) -> None:
        """Record the image count and path hash of the ``index`` of ``subset``'s ``split``; on
        ``--resume``, refuse data that differs from what the run recorded when it started (a
        relative data root from another working directory, files added or deleted since)."""
        key = f"{subset}/{split}"
        digest = hashlib.sha256()
        for path, label in zip(index.paths, index.labels.tolist(), strict=True):
            digest.update(f"{label} {path}\n".encode("utf-8", "backslashreplace"))
        now = {"n": len(index), "sha256": digest.hexdigest()}
        before = self.recorded_indexes.get(key)
        if before is not None and before != now:
            from gibench.errors import GibenchError

            change = (f"held {before['n']} images when the run started and holds {now['n']} "
                      "now" if before["n"] != now["n"] else
                      f"holds {now['n']} images as when the run started, but other files")
            raise GibenchError(f"cannot resume {self.run_dir}: {key} under {index.root} "
                               f"{change}; the data changed since the run started (or is "
                               "another folder): start a new run")
        if key not in self.indexes:
            self.indexes[key] = now
            if self.main:
                atomic_write_json(RunDir(self.run_dir).indexes,
                                  {**self.recorded_indexes, **self.indexes})

    def add_time(self, key: str, seconds: float) -> None:
        self.timings[key] = self.timings.get(key, 0.0) + seconds

    def add_bad(self, key: str, files: Sequence[tuple[str, str]]) -> None:
        """Files of ``key`` (``subset/split``) that were skipped, with the reasons."""
        if files:
            self.bad.setdefault(key, []).extend(tuple(f) for f in files)

    def add(self, row: dict[str, Any], scores: pd.DataFrame) -> None:
        """One result row and its per-image scores."""
        self.rows.append(row)
        self.scores.append(scores)

    # -- reading -------------------------------------------------------------------------
    def results_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=RESULT_COLUMNS)

    def scores_frame(self) -> pd.DataFrame:
        if not self.scores:
            return pd.DataFrame(columns=self.score_columns)
        return pd.concat(self.scores, ignore_index=True)

    def order_by_model(self, train_subsets: Sequence[str]) -> None:
        """Sort the rows and per-image scores by training subset, in this order (stably)."""
        rank = {name: k for k, name in enumerate(train_subsets)}
        self.rows.sort(key=lambda row: rank.get(row["train_subset"], len(rank)))
        if self.scores:
            frame = self.scores_frame()
            keys = frame["train_subset"].map(lambda name: rank.get(name, len(rank)))
            order = np.argsort(keys.to_numpy(), kind="stable")
            self.scores = [frame.iloc[order].reset_index(drop=True)]

    # -- partial/ files ------------------------------------------------------------------
    def _partial(self, trained: TrainedModel, test_subset: str, split: str,
                 degradations: list[str]) -> tuple[list[Any], Path, Path]:
        """(what, record file, scores file) of one evaluation's files under ``partial/``: the
        name is a digest of the model, its test subset, split and degradations."""
        what = [trained.train_subset or GIVEN_WEIGHTS, trained.sha256, test_subset, split,
                degradations]
        stem = hashlib.sha1(json.dumps(what).encode()).hexdigest()[:16]
        return (what, *RunDir(self.run_dir).partial(stem))

    def is_saved(self, trained: TrainedModel, test_subset: str, split: str,
                 degradations: list[str]) -> bool:
        """Whether ``--resume`` reads this evaluation back instead of computing it."""
        return self.resume and self._partial(trained, test_subset, split,
                                             degradations)[1].is_file()

    def saved(self, trained: TrainedModel, test_subset: str, split: str,
              degradations: list[str], compute: Callable[[], None]) -> list[dict[str, Any]]:
        """Run ``compute`` (which adds rows and scores) and save what it added atomically under
        ``partial/``; with ``--resume``, an evaluation saved before the interruption is read
        back instead of computed again. Returns the evaluation's rows."""
        what, done, scores_csv = self._partial(trained, test_subset, split, degradations)
        if self.is_saved(trained, test_subset, split, degradations):
            saved = json.loads(done.read_text())
            self.rows.extend(saved["rows"])
            self.scores.append(pd.read_csv(scores_csv, keep_default_na=False,
                                           dtype={"path": str}))
            for key, files in saved["bad"].items():
                self.add_bad(key, files)
            return saved["rows"]
        n_rows, n_scores = len(self.rows), len(self.scores)
        bad_before = {k: len(v) for k, v in self.bad.items()}
        compute()
        rows = self.rows[n_rows:]
        bad = {k: v[bad_before.get(k, 0):] for k, v in self.bad.items()
               if len(v) > bad_before.get(k, 0)}
        if self.main:
            done.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_csv(scores_csv, pd.concat(self.scores[n_scores:], ignore_index=True))
            atomic_write_json(done, {"what": what, "rows": rows, "bad": bad})  # written last
        return rows
