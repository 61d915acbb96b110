"""Published numbers as board rows (``source=paper``), each transcribed from a named source.

Two sources, kept apart:

1. **The GenImage paper's Tables 3, 4 and 5** (:data:`TABLES`): Zhu et al., "GenImage: A
   Million-Scale Benchmark for Detecting AI-Generated Image", NeurIPS 2023 Datasets and
   Benchmarks, arXiv 2306.08571 (v1 of 2023-06-14). The accuracies below are transcribed from
   the paper, as printed (one decimal, as text, so nothing is re-rounded). Each table's ``Avg``
   column is transcribed too but is not stored on the board: ``render`` recomputes it, and the
   tests compare the two. In Tables 3 and 4 the paper's Avg is the mean of the printed
   (rounded) cells rounded half up, in all 14 rows; in Table 5 it is that mean cut to one
   decimal (70.67 is printed 70.6), so the rendered Avg differs from it by at most 0.1.

2. **Detectors' own reports on GenImage** (:data:`DETECTOR_TABLES`), for detectors the GenImage
   paper does not have, only where their protocol is Table 3's (trained on SD V1.4's train
   split, accuracy at threshold 0.5 on the other subsets' ``val`` splits, each detector with its
   own recipe and its own evaluation preprocessing — gibench's ``authors`` policy); where it
   departs, the table's docstring says how. Today: NPR's (:data:`NPR_GENIMAGE`).

``gibench leaderboard check`` holds every ``paper`` row of a board to the transcription of its
source, cell by cell, citation included. Seed (or re-seed) the boards with ``python -m
gibench.leaderboard.paper [ROOT]``: the paper rows of each table are replaced, every other row
is kept, and the Markdown is rendered.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gibench.errors import GibenchError
from gibench.leaderboard.board import DEFAULT_ROOT, empty_frame, load_board, write_board
from gibench.leaderboard.render import write_rendered
from gibench.leaderboard.schema import CLEAN, COLUMN_NAMES, TRAINED
from gibench.registry import Registry, get_registry

REFERENCE = ("Zhu et al., GenImage, NeurIPS 2023 Datasets and Benchmarks, arXiv 2306.08571, "
             "Table {number}")
#: arXiv v1 of the paper.
DATE = "2023-06-14"
SUBMITTER = "gibench maintainers"
#: The paper's rows in its order: ResNet-50, DeiT-S, Swin-T, CNNSpot, Spec, F3Net, GramNet.
DETECTORS: tuple[str, ...] = ("resnet50", "deit-s", "swin-t", "cnnspot", "spec", "f3net",
                              "gramnet")
#: The paper's testing subsets in its column order.
SUBSETS: tuple[str, ...] = ("midjourney", "sdv1.4", "sdv1.5", "adm", "glide", "wukong", "vqdm",
                            "biggan")
#: Table 5's columns: LR (112), LR (64), JPEG (q=65), JPEG (q=30), Blur (σ=3), Blur (σ=5).
DEGRADATIONS: tuple[str, ...] = ("lowres:112", "lowres:64", "jpeg:65", "jpeg:30", "blur:3",
                                 "blur:5")


@dataclass(frozen=True)
class PaperTable:
    """One published table: its cells per detector (in the source's row order), its Avg (or
    Mean) column, and the citation and date its board rows carry."""

    #: the GenImage paper's table number; ``None`` for a table of another source
    number: int | None
    board: str
    train_subset: str
    #: what the columns are: ``test_subset`` (Tables 3, 4) or ``degradation`` (Table 5)
    varies: str
    columns: tuple[str, ...]
    cells: dict[str, tuple[str, ...]]
    avg: dict[str, str]
    #: the ``reference`` of its rows: the source, exactly enough to find the numbers again
    reference: str
    #: the ``date`` of its rows: when the source published them
    date: str
    #: how messages name it (``Table 3``)
    label: str

    @property
    def detectors(self) -> tuple[str, ...]:
        return tuple(self.cells)


def _table(number: int, board: str, train_subset: str, varies: str, columns: tuple[str, ...],
           text: str) -> PaperTable:
    """Parse ``detector v1 v2 ... avg`` lines (the GenImage paper's table as printed)."""
    cells, avg = {}, {}
    for line in text.strip().splitlines():
        name, *values = line.split()
        if len(values) != len(columns) + 1:
            raise ValueError(f"Table {number}, {name}: {len(values)} values")
        cells[name], avg[name] = tuple(values[:-1]), values[-1]
    if tuple(cells) != DETECTORS:
        raise ValueError(f"Table {number}: rows {tuple(cells)}")
    return PaperTable(number, board, train_subset, varies, columns, cells, avg,
                      REFERENCE.format(number=number), DATE, f"Table {number}")


# Table 3: trained on SD V1.4, accuracy (%) per testing subset; last value: Avg.
TABLE3 = _table(3, "genimage-cross-generator", "sdv1.4", "test_subset", SUBSETS, """
resnet50  54.9 99.9 99.7 53.5 61.9 98.2 56.6 52.0  72.1
deit-s    55.6 99.9 99.8 49.8 58.1 98.9 56.9 53.5  71.6
swin-t    62.1 99.9 99.8 49.8 67.6 99.1 62.3 57.6  74.8
cnnspot   52.8 96.3 95.9 50.1 39.8 78.6 53.4 46.8  64.2
spec      52.0 99.4 99.2 49.7 49.8 94.8 55.6 49.8  68.8
f3net     50.1 99.9 99.9 49.9 50.0 99.9 49.9 49.9  68.7
gramnet   54.2 99.2 99.1 50.3 54.6 98.9 50.8 51.7  69.9
""")

# Table 4: cross-validation, accuracy (%) per testing subset averaged over the 8 training
# subsets (train_subset mean-of-8); last value: Avg.
TABLE4 = _table(4, "genimage-matrix", "mean-of-8", "test_subset", SUBSETS, """
resnet50  59.0 72.3 72.4 59.7 73.1 71.4 60.9 66.6  66.9
deit-s    60.7 74.2 74.2 59.5 71.1 73.1 61.7 66.3  67.6
swin-t    61.7 76.0 76.1 61.3 76.9 75.1 65.8 69.5  70.3
cnnspot   58.2 70.3 70.2 57.0 57.1 67.7 56.7 56.6  61.7
spec      56.7 72.4 72.3 57.9 65.4 70.3 61.7 64.3  65.1
f3net     55.1 73.1 73.1 66.5 57.8 72.3 62.1 56.5  64.6
gramnet   58.1 72.8 72.7 58.7 65.3 71.3 57.8 61.2  64.7
""")

# Table 5: trained on SD V1.4, tested on degraded SD V1.4, accuracy (%) per setting
# (DEGRADATIONS); last value: Avg.
TABLE5 = _table(5, "genimage-degraded", "sdv1.4", "degradation", DEGRADATIONS, """
resnet50  96.2 57.4 51.9 51.2 97.9 69.4  70.6
deit-s    97.1 54.0 55.6 50.5 94.4 67.2  69.8
swin-t    97.4 54.6 52.5 50.9 94.5 52.5  67.0
cnnspot   50.0 50.0 97.3 97.3 97.4 77.9  78.3
spec      50.0 49.9 50.8 50.4 49.9 49.9  50.1
f3net     50.0 50.0 89.0 74.4 57.9 51.7  62.1
gramnet   98.8 94.9 68.8 53.4 95.9 81.6  82.2
""")

#: The GenImage paper's tables.
TABLES: tuple[PaperTable, ...] = (TABLE3, TABLE4, TABLE5)


# ---------------------------------------------------------------------------------------------
# Source 2: detectors' own GenImage tables (detectors the GenImage paper does not have).
# ---------------------------------------------------------------------------------------------

#: Where NPR's numbers are: the authors' README, section "Detection Results" → "GenImage", the
#: table added by commit e2dbbe6 (2024-06-15) and unchanged since (checked up to 73cde1c).
NPR_REFERENCE = ("Tan et al., NPR, CVPR 2024: authors' README, Detection Results, GenImage "
                 "table, github.com/chuangchuangtan/NPR-DeepfakeDetection commit e2dbbe6")
NPR_DATE = "2024-06-15"
#: NPR's README names the GenImage subsets by their folders (``sdv5`` is SD V1.5's).
NPR_SUBSET_NAMES: dict[str, str] = {"ADM": "adm", "biggan": "biggan", "glide": "glide",
                                    "midjourney": "midjourney", "sdv5": "sdv1.5",
                                    "vqdm": "vqdm", "wukong": "wukong"}
#: The README's table as printed: generator, Acc., A.P. (the board keeps accuracy only).
NPR_README_TABLE = """
ADM        87.8 96.0
biggan     80.7 89.8
glide      93.2 99.1
midjourney 91.7 97.9
sdv5       94.4 99.9
vqdm       88.7 96.1
wukong     94.0 99.7
Mean       90.1 96.9
"""


def _npr_table() -> PaperTable:
    """NPR trained on SD V1.4 (their README: ``train.py --batch_size 32 --lr 0.0002 --niter 1
    --cropSize 224 --classes sdv4``, seed 70), accuracy on each other subset.

    Where the protocol is Table 3's: training on SD V1.4's train split; accuracy (sklearn's
    ``accuracy_score`` of ``sigmoid > 0.5``) per subset; the subsets' GenImage folders; NPR's
    own preprocessing, which is gibench's ``npr`` under the ``authors`` policy (no resize, an
    image under 224 px tiled by ``translate_duplicate``, centre crop 224 at test time: their
    README's GenImage setting — not the native-size, batch-1 evaluation their README gives for
    AIGCDetectBenchmark).

    Where it is not: **seven of Table 3's eight subsets** — no SD V1.4 column (they do not
    report the training subset's own val split), so the board shows no Avg for this row, and
    their "Mean" (90.1) is over the seven, not comparable to Table 3's Avg over eight. Their
    test folders (``{dataroot}/test/{ADM,...}``) are not named by split; GenImage has only
    ``train`` and ``val``, so presumably ``val``, the split Table 3 reports.
    """
    cells, avg = [], ""
    for line in NPR_README_TABLE.strip().splitlines():
        name, acc, _ap = line.split()
        if name == "Mean":
            avg = acc
        else:
            cells.append((NPR_SUBSET_NAMES[name], acc))
    return PaperTable(None, "genimage-cross-generator", "sdv1.4", "test_subset",
                      tuple(c for c, _ in cells), {"npr": tuple(a for _, a in cells)},
                      {"npr": avg}, NPR_REFERENCE, NPR_DATE, "the NPR README's GenImage table")


NPR_GENIMAGE = _npr_table()
#: Detectors' own GenImage tables.
DETECTOR_TABLES: tuple[PaperTable, ...] = (NPR_GENIMAGE,)
#: Every transcribed table, of both sources.
ALL_TABLES: tuple[PaperTable, ...] = TABLES + DETECTOR_TABLES


def transcribed_rows(table: PaperTable) -> list[dict[str, str]]:
    """The table's cells as board rows, ``plugin`` and ``plugin_version`` left empty."""
    rows = []
    for detector in table.detectors:
        for column, acc in zip(table.columns, table.cells[detector], strict=True):
            row = dict.fromkeys(COLUMN_NAMES, "")
            row.update(detector=detector, weights=TRAINED, train_subset=table.train_subset,
                       test_subset="sdv1.4", degradation=CLEAN, acc=acc, date=table.date,
                       source="paper", reference=table.reference, submitter=SUBMITTER)
            row[table.varies] = column
            rows.append(row)
    return rows


def paper_rows(table: PaperTable, registry: Registry) -> list[dict[str, str]]:
    """The table's cells as board rows; plugin and version are those installed."""
    rows = transcribed_rows(table)
    for row in rows:
        if not registry.has("detector", row["detector"]):
            raise GibenchError(f"detector {row['detector']!r} is not installed: install the "
                               "plugin that provides it (gibench-baselines for the GenImage "
                               "paper's, gibench-plugin-modern for npr)")
        provider = registry.provider("detector", row["detector"])
        row.update(plugin=provider.distribution, plugin_version=provider.version)
    return rows


#: The dataset of the paper: only its boards can hold ``paper`` and ``reproduced`` rows.
DATASET = "genimage"
#: Real and generated images in each subset's ``val`` split as distributed
#: (/work/shared/reference/genimage.md: 6,000 / 6,000 per subset, SD V1.5 8,000 / 8,000).
VAL_IMAGES: dict[str, int] = {**dict.fromkeys(SUBSETS, 6000), "sdv1.5": 8000}
#: How far a run's count may be from :data:`VAL_IMAGES` (unreadable files skipped; 17 corrupt
#: files were reported in one download).
COUNT_TOLERANCE = 0.02
#: Columns a paper row must hold exactly as transcribed: all but the plugin's (whichever
#: distribution provides the detector now; :mod:`gibench.leaderboard.names` checks it).
_TRANSCRIBED = tuple(c for c in COLUMN_NAMES if c not in ("plugin", "plugin_version"))


class PaperCheck:
    """What the paper says about one board's rows: ``paper`` rows are its transcription cell by
    cell, ``reproduced`` rows have a paper row to reproduce, and runs on the paper's dataset
    evaluated about as many images as it has."""

    def __init__(self, board: str, dataset: str | None):
        self.board = board
        self.dataset = dataset
        self.cells: dict[tuple[str, ...], tuple[PaperTable, dict[str, str]]] = {
            _cell(row): (table, row) for table in ALL_TABLES if table.board == board
            for row in transcribed_rows(table)}
        #: every detector some transcribed table has, on any board
        self.detectors = tuple(dict.fromkeys(d for t in ALL_TABLES for d in t.detectors))

    def problems(self, row: dict[str, str]) -> list[str]:
        source = row.get("source", "")
        if source == "paper":
            return self._paper(row)
        found = []
        if source == "reproduced":
            found.append(self._reproduced(row))
        if self.dataset == DATASET:
            found += [self._count(row, k) for k in ("n_real", "n_fake")]
        return [p for p in found if p]

    def _paper(self, row: dict[str, str]) -> list[str]:
        detector = row.get("detector", "")
        if detector not in self.detectors:
            return [f"the paper has no row for detector {detector!r} (its detectors: "
                    f"{', '.join(self.detectors)}); paper rows come from "
                    "gibench.leaderboard.paper only"]
        if (_cell(row)) not in self.cells:
            boards = ", ".join(dict.fromkeys(t.board for t in ALL_TABLES
                                             if detector in t.detectors))
            return [f"the paper has no cell {describe_cell(row)} on board {self.board} (its "
                    f"tables with {detector} are on {boards}); paper rows come from "
                    "gibench.leaderboard.paper only"]
        table, expected = self.cells[_cell(row)]
        found = []
        for column in _TRANSCRIBED:
            value = row.get(column, "")
            if value != expected[column]:
                found.append(f"{column} {value!r} is not the paper's ({expected[column]}, "
                             f"{table.label}); paper rows must equal "
                             "gibench.leaderboard.paper (seed them with `python -m "
                             "gibench.leaderboard.paper`)")
        return found

    def _reproduced(self, row: dict[str, str]) -> str | None:
        detector = row.get("detector", "")
        if detector in DETECTORS and self.dataset == DATASET:
            return None
        why = (f"the paper has no detector {detector!r}" if detector not in DETECTORS else
               f"the paper's results are on {DATASET}, this board's on {self.dataset}")
        return (f"source 'reproduced' has no paper row to reproduce: {why}; use source 'new' "
                "for anything but the paper's detectors on the paper's dataset")

    def _count(self, row: dict[str, str], column: str) -> str | None:
        subset, value = row.get("test_subset", ""), row.get(column, "")
        expected = VAL_IMAGES.get(subset)
        if expected is None or not value.isdigit():
            return None
        if abs(int(value) - expected) <= COUNT_TOLERANCE * expected:
            return None
        side = "real" if column == "n_real" else "generated"
        return (f"{column} {value!r} is far from the {expected} {side} images of "
                f"GenImage's {subset} val split: a "
                f"{DATASET} board holds runs on the whole dataset (put others on a board of "
                "their own dataset)")


def _cell(row: dict[str, str]) -> tuple[str, ...]:
    return tuple(row.get(k, "") for k in ("detector", "train_subset", "test_subset",
                                          "degradation"))


def describe_cell(row: dict[str, str]) -> str:
    return (f"{row.get('detector')} trained on {row.get('train_subset')}, tested on "
            f"{row.get('test_subset')} / {row.get('degradation')}")


def seed_paper_boards(root: Path = DEFAULT_ROOT, registry: Registry | None = None
                      ) -> list[Path]:
    """Write every transcribed table's rows into its board (replacing the paper rows of that
    table, keeping every other row) and render; returns the files written."""
    registry = registry or get_registry()
    root = Path(root)
    written = []
    for table in ALL_TABLES:
        path = root / f"{table.board}.csv"
        existing = load_board(path).frame if path.is_file() else empty_frame()
        kept = existing[(existing["source"] != "paper")
                        | (existing["reference"] != table.reference)]
        rows = pd.DataFrame(paper_rows(table, registry), columns=list(COLUMN_NAMES))
        write_board(path, pd.concat([kept, rows], ignore_index=True))
        if path not in written:
            written.append(path)
    return written + write_rendered(root, registry)


if __name__ == "__main__":  # pragma: no cover
    for written_path in seed_paper_boards(Path(sys.argv[1]) if len(sys.argv) > 1
                                          else DEFAULT_ROOT):
        print(written_path)
