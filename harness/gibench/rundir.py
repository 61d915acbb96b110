"""The run directory's contract: its file names, its tables' columns and its typed record.

A run directory is the product of a run (every number on a board is recomputed from it), so its
format is written down here once and every reader and writer goes through this module: the
engine writes it, ``gibench score`` reads the sizes a model was trained at, the CLI prints its
summary and the leaderboard checks its provenance. ::

    RUN_DIR/
      run.json                  RunRecord: configuration, versions, git, device, timings, status
      results.csv               RESULT_COLUMNS: one row per train × test subset × degradation
      scores.csv                SCORE_COLUMNS: one row per image (path, label, logit, score);
                                MULTI_SCORE_COLUMNS (dataset first) in a run of several datasets
      results.md                the suite's table(s)
      train/<model>/            one folder per model the run trained
        model.pt                the selected weights (sha256 in run.json's ``training``)
        model.json              WeightsMeta: how they were trained (detector, input and load
                                size, evaluation policy); read by eval, run --weights, score
        training.json           written when that training finished (read back by --resume)
        checkpoints/last.pt     the last epoch, to continue an interrupted training
      partial/eval-<key>.json   one finished evaluation's rows (written last) ...
      partial/eval-<key>.csv    ... and its per-image scores (read back by --resume)
      partial/indexes.json      each (subset, split) listed: image count and hash of its paths
                                (checked by --resume: the data must be what the run started on)
      run.lock                  held (flock) by the process writing the run; pid and host

``run.json`` is read and written through :class:`RunRecord`; its keys are those that gibench has
always written, so older run directories still read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from gibench.errors import GibenchError

RUN_JSON = "run.json"
RESULTS_CSV = "results.csv"
SCORES_CSV = "scores.csv"
RESULTS_MD = "results.md"
TRAIN_DIR = "train"
MODEL_FILE = "model.pt"
#: the record beside ``model.pt`` of how those weights were trained (:class:`WeightsMeta`)
MODEL_META = "model.json"
#: held with ``fcntl.flock`` by the process writing the run (``pid host`` inside)
LOCK_FILE = "run.lock"
#: the image count and path hash of each (subset, split) the run listed
INDEXES_JSON = "indexes.json"
TRAINING_JSON = "training.json"
LAST_CHECKPOINT = "checkpoints/last.pt"
PARTIAL_DIR = "partial"
#: one JSON record a line: each training epoch and each evaluation row, as the run progresses
#: (written by the built-in ``reporters`` plugin; ``pandas.read_json(path, lines=True)``)
METRICS_JSONL = "metrics.jsonl"
#: TensorBoard's event files (``--report tensorboard``)
TENSORBOARD_DIR = "tensorboard"

#: ``train_subset`` of the rows and scores of a run that evaluated given weights.
GIVEN_WEIGHTS = "(weights)"

#: What a result row is a result of.
KEY_COLUMNS: tuple[str, ...] = ("detector", "suite", "dataset", "train_subset", "test_subset",
                                "degradation")
#: The metrics at threshold 0.5 and the threshold-free ones, as fractions; boards show them.
HEADLINE_METRICS: tuple[str, ...] = ("acc", "real_acc", "fake_acc", "auc", "ap")
#: Beyond threshold 0.5: EER, TPR at FPR 1% / 5%, bootstrap 95% intervals
#: (:data:`gibench.metrics.EXTENDED_COLUMNS`, repeated here so this module imports nothing
#: heavy; a test keeps them equal).
EXTENDED_METRICS: tuple[str, ...] = ("eer", "tpr_at_fpr1", "tpr_at_fpr5", "acc_ci_low",
                                     "acc_ci_high", "auc_ci_low", "auc_ci_high")
#: The columns of ``results.csv``, in order.
RESULT_COLUMNS: list[str] = [
    # the evaluation's preprocessing policy (--eval-transform) and the precision the model ran
    # in (fp32, or bf16/fp16 on a GPU)
    *KEY_COLUMNS, "align", "eval_transform", "eval_precision", "n_real", "n_fake", "n_skipped",
    *HEADLINE_METRICS, *EXTENDED_METRICS,
    # accuracy at the threshold calibrated on the held-out part of the training subset
    # (reported as such), and at this test subset's own best threshold (an oracle: it looks at
    # the test labels, never a result to compare on)
    "threshold_calibrated", "acc_calibrated", "threshold_oracle", "acc_oracle"]
#: The columns of ``scores.csv`` (and of each ``partial/`` scores file), in order. ``path`` is
#: relative to the test subset's dataset root (or its subset folder: :mod:`gibench.data.layout`).
SCORE_COLUMNS: list[str] = ["train_subset", "test_subset", "degradation", "path", "label",
                            "logit", "score"]
#: The columns of ``scores.csv`` of a run of several datasets (``resolved.datasets`` in
#: ``run.json``): ``dataset`` first, the test subset's, and each ``path`` prefixed by it
#: (``forensynths/biggan/0_real/x.png``), so that neither subsets nor paths are ambiguous.
MULTI_SCORE_COLUMNS: list[str] = ["dataset", *SCORE_COLUMNS]


def score_columns(several_datasets: bool) -> list[str]:
    """The columns of ``scores.csv`` of a run of one dataset, or of several."""
    return MULTI_SCORE_COLUMNS if several_datasets else SCORE_COLUMNS


def score_key_columns(columns: Sequence[str]) -> list[str]:
    """The columns that name one evaluation in a ``scores.csv`` with ``columns`` (its header):
    ``train_subset``, ``test_subset``, ``degradation``, and ``dataset`` first when it has
    one (a run of several datasets). ``results.csv``'s rows carry the same columns."""
    return (["dataset"] if "dataset" in columns else []) + ["train_subset", "test_subset",
                                                             "degradation"]


class RunDirError(GibenchError):
    """A run directory, or one of its files, is missing or unreadable (the message names it)."""


@dataclass(frozen=True)
class RunDir:
    """The paths of one run directory's files."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def record(self) -> Path:
        return self.path / RUN_JSON

    @property
    def results(self) -> Path:
        return self.path / RESULTS_CSV

    @property
    def scores(self) -> Path:
        return self.path / SCORES_CSV

    @property
    def table(self) -> Path:
        return self.path / RESULTS_MD

    def training(self, model: str) -> Path:
        """The folder of the model trained under the name ``model`` (a subset or a tag)."""
        return self.path / TRAIN_DIR / model

    def partial(self, key: str) -> tuple[Path, Path]:
        """(rows file, scores file) of the finished evaluation ``key`` under ``partial/``."""
        folder = self.path / PARTIAL_DIR
        return folder / f"eval-{key}.json", folder / f"eval-{key}.csv"

    @property
    def indexes(self) -> Path:
        return self.path / PARTIAL_DIR / INDEXES_JSON

    @property
    def lock(self) -> Path:
        return self.path / LOCK_FILE

    def is_run(self) -> bool:
        """Whether the folder holds a run record."""
        return self.record.is_file()

    def read_results(self):
        """``results.csv`` as a DataFrame (:data:`RESULT_COLUMNS`; the key columns as text,
        the metrics as floats, read back to the bit); :class:`RunDirError` naming the file
        when it is missing, unreadable or lacks a key column."""
        return _read_table(self.results, [*KEY_COLUMNS, "align", "eval_transform"],
                           required=list(KEY_COLUMNS))

    def read_scores(self):
        """``scores.csv`` as a DataFrame (:data:`SCORE_COLUMNS`; ``logit`` and ``score`` read
        back to the bit); :class:`RunDirError` naming the file as :meth:`read_results`."""
        return _read_table(self.scores, ["train_subset", "test_subset", "degradation", "path"],
                           required=SCORE_COLUMNS)


def _read_table(path: Path, text: list[str], required: list[str] | None = None):
    """The CSV ``path`` with the columns ``text`` as strings (an empty cell, or a file named
    ``nan``, stays text) and the others parsed as numbers, exactly."""
    import pandas as pd

    if not path.is_file():
        raise RunDirError(f"{path}: no such file")
    # pandas 3 reads floats back exactly by default and deprecates asking for it
    exact = {"float_precision": "round_trip"} if pd.__version__.split(".")[0] < "3" else {}
    try:
        header = pd.read_csv(path, nrows=0).columns
        numeric = [c for c in header if c not in text]
        frame = pd.read_csv(path, dtype={c: str for c in text if c in header},
                            keep_default_na=False,
                            na_values={c: ["", "nan", "NaN"] for c in numeric}, **exact)
    except (OSError, ValueError, UnicodeDecodeError) as exc:  # ParserError, EmptyDataError
        raise RunDirError(f"{path}: not a readable CSV ({exc})") from exc
    missing = [c for c in (required or text) if c not in frame.columns]
    if missing:
        raise RunDirError(f"{path}: missing column(s) {', '.join(missing)}")
    return frame


#: The JSON type each field of ``run.json`` must have when present (``None`` is always allowed).
_TYPES: dict[str, tuple[type, ...]] = {
    "status": (str,), "created": (str,), "command": (str,), "resumed": (bool,),
    "config": (dict,), "resolved": (dict,), "seed": (int,), "versions": (dict,),
    "git": (str,), "device": (dict,), "processes": (int,), "process_group": (str,),
    "eval_precision": (str,), "decode_cache": (list, dict), "weights": (dict,),
    "shared_pass": (dict,), "training": (dict,), "calibration": (dict, list),
    "bad_images": (dict,), "timings": (dict,), "throughput": (dict,), "error": (dict,),
    "indexes": (dict,),
}
_JSON_NAMES = {dict: "an object", list: "a list", str: "a string", int: "an integer",
               bool: "true or false"}


@dataclass
class RunRecord:
    """``run.json``: what a run was, with what, where, and how it ended.

    ``status`` is ``running`` while the run works, then ``complete``, ``interrupted`` or
    ``failed``. ``config`` is the :class:`~gibench.engine.config.RunConfig` as given;
    ``resolved`` what it resolved to (canonical names, sizes, budget, recipe...). Keys this
    version does not know (written by a newer gibench) are kept in ``other`` and written back.
    """

    status: str
    created: str | None = None
    command: str | None = None
    resumed: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    resolved: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    versions: dict[str, Any] = field(default_factory=dict)
    git: str | None = None
    device: dict[str, Any] = field(default_factory=dict)
    processes: int = 1
    process_group: str | None = None
    eval_precision: str | None = None
    decode_cache: Any = None
    weights: dict[str, Any] | None = None
    #: only in runs of a shared pass (``gibench eval`` with several weights)
    shared_pass: dict[str, Any] | None = None
    training: dict[str, Any] = field(default_factory=dict)
    calibration: Any = None
    bad_images: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    throughput: dict[str, Any] = field(default_factory=dict)
    #: a ``failed`` or ``interrupted`` run's error: ``{type, message}``
    error: dict[str, str] | None = None
    #: ``"SUBSET/SPLIT"`` -> ``{n, sha256}`` of each index the run listed (checked on resume)
    indexes: dict[str, Any] = field(default_factory=dict)
    other: dict[str, Any] = field(default_factory=dict)

    # -- the file ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The record as ``run.json`` holds it (``shared_pass`` only in a shared pass)."""
        data = asdict(self)
        other = data.pop("other")
        for optional in ("shared_pass", "error", "indexes"):  # only where they say something
            if not data[optional]:
                del data[optional]
        return {**data, **other}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = RUN_JSON) -> RunRecord:
        """The record of ``data`` (a parsed ``run.json``); :class:`RunDirError` naming
        ``source`` and the field when a field is missing or of the wrong type."""
        if not isinstance(data, dict):
            raise RunDirError(f"{source}: not a JSON object")
        for name in ("status", "config"):
            if name not in data:
                raise RunDirError(f"{source}: no {name!r}; not a record written by gibench")
        for name, value in data.items():
            kinds = _TYPES.get(name)
            if kinds and value is not None and (not isinstance(value, kinds) or (
                    isinstance(value, bool) and bool not in kinds)):
                raise RunDirError(f"{source}: {name} is {type(value).__name__}, expected "
                                  + " or ".join(_JSON_NAMES[k] for k in kinds))
        known = {f.name for f in fields(cls)} - {"other"}
        return cls(**{k: v for k, v in data.items() if k in known},
                   other={k: v for k, v in data.items() if k not in known})

    @classmethod
    def read(cls, run_dir: str | Path) -> RunRecord:
        """Read ``run_dir/run.json``; :class:`RunDirError` naming the file when it is missing
        or malformed."""
        path = RunDir(Path(run_dir)).record
        if not path.is_file():
            raise RunDirError(f"{path}: no such file ({run_dir} is not a run directory)")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # JSONDecodeError, UnicodeDecodeError
            raise RunDirError(f"{path}: not valid JSON ({exc})") from exc
        return cls.from_dict(data, source=str(path))

    def write(self, run_dir: str | Path) -> Path:
        """Write ``run_dir/run.json`` atomically (never half-written); returns its path."""
        from gibench.outputs import atomic_write_json

        path = RunDir(Path(run_dir)).record
        atomic_write_json(path, self.to_dict())
        return path


# -- the record beside a model's weights --------------------------------------------------

#: ``format`` of a :class:`WeightsMeta` file.
WEIGHTS_META_FORMAT = "gibench-weights/1"


@dataclass(frozen=True)
class WeightsMeta:
    """How weights were trained: the record beside them (``model.json`` beside ``model.pt``;
    for any weights file ``W.pt``, ``W.json`` in this format), so that every command evaluates
    them at the sizes they were trained at. ``source`` says where it was read from (as messages
    show it)."""

    detector: str
    input_size: int
    load_size: int | None
    eval_transform: str = "authors"
    dataset: str | None = None
    train_subset: str | None = None
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = {"format": WEIGHTS_META_FORMAT, **asdict(self)}
        del data["source"]
        return data

    def write(self, weights: Path) -> Path:
        """Write the record beside ``weights`` atomically; returns its path."""
        from gibench.outputs import atomic_write_json

        path = weights_meta_path(weights)
        atomic_write_json(path, self.to_dict())
        return path


def weights_meta_path(weights: str | Path) -> Path:
    """Where the record of ``weights`` is: ``model.json`` beside ``model.pt``."""
    return Path(weights).with_suffix(".json")


def read_weights_meta(weights: str | Path) -> WeightsMeta | None:
    """The record of how ``weights`` were trained: the file beside them
    (:func:`weights_meta_path`), else, for weights inside an older run directory
    (``<run>/train/<model>/model.pt``), that run's ``resolved`` sizes; ``None`` when neither
    says (weights from elsewhere: the detector's own sizes apply). A record that is not ours
    (another format) is ignored; one of ours that is malformed is a :class:`RunDirError`."""
    path = weights_meta_path(weights)
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RunDirError(f"{path}: not valid JSON ({exc})") from exc
        if isinstance(data, dict) and data.get("format") == WEIGHTS_META_FORMAT:
            try:
                return WeightsMeta(str(data["detector"]), int(data["input_size"]),
                               None if data.get("load_size") is None
                               else int(data["load_size"]),
                               str(data.get("eval_transform") or "authors"),
                               data.get("dataset"), data.get("train_subset"),
                               f"the run that trained the weights ({path})")
            except (KeyError, TypeError, ValueError) as exc:
                raise RunDirError(f"{path}: a malformed weights record ({exc!r})") from exc
    for parent in list(Path(weights).resolve().parents)[:3]:
        if RunDir(parent).is_run():
            try:
                record = RunRecord.read(parent)
                resolved = record.resolved
                return WeightsMeta(str(resolved["detector"]), int(resolved["input_size"]),
                                   resolved.get("load_size"),
                                   str(resolved.get("eval_transform") or "authors"),
                                   resolved.get("dataset"), None,
                                   f"the run that trained the weights ({record_path(parent)})")
            except (RunDirError, KeyError, TypeError, ValueError):
                return None
    return None


def record_path(run_dir: str | Path) -> Path:
    return RunDir(Path(run_dir)).record
