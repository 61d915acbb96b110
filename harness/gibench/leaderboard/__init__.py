"""Leaderboards: one CSV per board (the source of truth), Markdown generated from it.

- :mod:`~gibench.leaderboard.schema` — the columns of a row, their types and ranges;
- :mod:`~gibench.leaderboard.board` — reading and writing board files;
- :mod:`~gibench.leaderboard.names` — names checked against the plugin registry;
- :mod:`~gibench.leaderboard.runs` — a run directory's results as rows (``add``);
- :mod:`~gibench.leaderboard.render` — boards and index as Markdown (``render``);
- :mod:`~gibench.leaderboard.check` — what a leaderboard pull request must satisfy (``check``);
- :mod:`~gibench.leaderboard.paper` — the GenImage paper's Tables 3, 4 and 5 as rows, and what
  they imply for a board's rows (paper rows verbatim, ``reproduced`` only of them, counts);
- :mod:`~gibench.leaderboard.origin` — where a plugin's code came from (recorded in ``run.json``);
- :mod:`~gibench.leaderboard.site` — every board as a static web site (``site``);
- ``gibench leaderboard add | render | check | site`` is :mod:`gibench.cli.leaderboard`.
"""

from __future__ import annotations

import importlib
from typing import Any

#: The Python API, imported on first use (``gibench`` starts without pandas or torch).
_API = {"add_run": "runs", "AddResult": "runs", "check_root": "check", "CheckReport": "check",
        "render_root": "render", "write_rendered": "render", "COLUMNS": "schema",
        "COLUMN_NAMES": "schema", "seed_paper_boards": "paper", "build_site": "site"}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_API[name]}"), name)
