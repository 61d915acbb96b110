"""Rendering results as tables laid out like the paper's: one function, from data."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from tabulate import tabulate


def pivot_table(results: pd.DataFrame, *, rows: str, columns: str, value: str = "acc",
                column_order: Sequence[str] | None = None,
                column_names: dict[str, str] | None = None, average: bool = True,
                floatfmt: str = ".1f", tablefmt: str = "github") -> str:
    """A ``rows`` × ``columns`` table of ``value`` (mean over duplicates), plus an ``Avg`` column.

    Columns follow ``column_order`` (e.g. the registry's subset order), renamed by
    ``column_names`` (display names); the average is over the columns shown.
    """
    if results.empty:
        return "(no results)"
    table = results.pivot_table(index=rows, columns=columns, values=value, aggfunc="mean",
                                sort=False)
    order = [c for c in (column_order or table.columns) if c in table.columns]
    table = table[order]
    if average:
        table["Avg"] = table[order].mean(axis=1)
    names = column_names or {}
    headers = [rows.replace("_", " ")] + [names.get(c, c) for c in table.columns]
    body = [[idx, *vals] for idx, vals in zip(table.index, table.to_numpy().tolist(),
                                              strict=True)]
    return tabulate(body, headers=headers, tablefmt=tablefmt, floatfmt=floatfmt)


def detail_table(results: pd.DataFrame, column_names: dict[str, str] | None = None,
                 tablefmt: str = "github") -> str:
    """Every result row with all metrics (percent), for the second half of ``results.md``."""
    if results.empty:
        return "(no results)"
    names = column_names or {}
    cols = ["train_subset", "test_subset", "degradation", "n_real", "n_fake", "acc", "real_acc",
            "fake_acc", "auc", "ap"]
    frame = results[cols].copy()
    frame["test_subset"] = [names.get(s, s) for s in frame["test_subset"]]
    frame["train_subset"] = [names.get(s, s) for s in frame["train_subset"]]
    return tabulate(frame.to_numpy().tolist(), headers=[c.replace("_", " ") for c in cols],
                    tablefmt=tablefmt, floatfmt=".1f")
