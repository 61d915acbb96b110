"""Rendering results as tables laid out like the paper's: one function, from data."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from tabulate import tabulate


def pivot_table(results: pd.DataFrame, *, rows: str, columns: str, value: str = "acc",
                column_order: Sequence[str] | None = None,
                column_names: dict[str, str] | None = None, average: bool = True,
                not_averaged: Sequence[str] = (), floatfmt: str = ".1f",
                tablefmt: str = "github") -> str:
    """A ``rows`` × ``columns`` table of ``value`` (mean over duplicates), plus an ``Avg`` column.

    Columns follow ``column_order`` (e.g. the registry's subset order), renamed by
    ``column_names`` (display names); the average is over the columns shown, except those in
    ``not_averaged`` (control subsets).
    """
    if results.empty:
        return "(no results)"
    table = results.pivot_table(index=rows, columns=columns, values=value, aggfunc="mean",
                                sort=False)
    order = [c for c in (column_order or table.columns) if c in table.columns]
    table = table[order]
    averaged = [c for c in order if c not in set(not_averaged)]
    if average and averaged:
        table["Avg"] = table[averaged].mean(axis=1)
    names = column_names or {}
    headers = [rows.replace("_", " ")] + [names.get(c, c) for c in table.columns]
    body = [[idx, *vals] for idx, vals in zip(table.index, table.to_numpy().tolist(),
                                              strict=True)]
    return tabulate(body, headers=headers, tablefmt=tablefmt, floatfmt=floatfmt)


def detail_table(results: pd.DataFrame, column_names: dict[str, str] | None = None,
                 tablefmt: str = "github") -> str:
    """Every result row with all metrics (percent), for the second half of ``results.md``:
    accuracy at 0.5 with its bootstrap 95% interval, AUC with its interval, AP, EER, TPR at FPR
    1%, and accuracy at the calibrated threshold (held-out part of train) and at the oracle
    threshold (chosen on the test labels themselves: an upper bound, not a result)."""
    if results.empty:
        return "(no results)"
    names = column_names or {}

    def interval(row, metric: str) -> str:
        low, high = row.get(f"{metric}_ci_low"), row.get(f"{metric}_ci_high")
        if low is None or pd.isna(low):
            return f"{row[metric]:.1f}"
        return f"{row[metric]:.1f} [{low:.1f}, {high:.1f}]"

    def number(row, key: str) -> str:
        value = row.get(key)
        return "-" if value is None or pd.isna(value) else f"{value:.1f}"

    headers = ["train subset", "test subset", "degradation", "n real", "n fake",
               "acc [95% CI]", "real acc", "fake acc", "auc [95% CI]", "ap", "eer",
               "tpr@fpr1%", "acc calibrated", "acc oracle"]
    body = []
    for _, row in results.iterrows():
        body.append([names.get(row["train_subset"], row["train_subset"]),
                     names.get(row["test_subset"], row["test_subset"]), row["degradation"],
                     row["n_real"], row["n_fake"], interval(row, "acc"),
                     number(row, "real_acc"), number(row, "fake_acc"), interval(row, "auc"),
                     number(row, "ap"), number(row, "eer"), number(row, "tpr_at_fpr1"),
                     number(row, "acc_calibrated"), number(row, "acc_oracle")])
    return tabulate(body, headers=headers, tablefmt=tablefmt, disable_numparse=True)
