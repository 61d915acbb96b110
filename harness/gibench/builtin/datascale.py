"""Built-in plugin: the paper's data-size study as the ``data-scale`` suite.

Train on growing parts of the training subset — a fraction of its classes (all their images), or
a fraction of every class's images (all classes) — and test each model on the full ``val``
split. Classes come from the file names (:func:`gibench.data.layout.class_keys`: the ImageNet
class on GenImage, the source photograph on mini). Writes ``data-scale.csv`` (one row per model
and test subset: axis, fraction, classes and images trained on, metrics) and
``data-scale.png`` (accuracy against the number of training images).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from gibench.data.layout import class_fraction, class_keys
from gibench.errors import GibenchError
from gibench.hookspecs import hookimpl
from gibench.specs import SubsetSpec, SuiteSpec
from gibench.suite import SuiteContext
from gibench.tables import detail_table, pivot_table

#: The fractions each axis trains on (1.0, shared by both axes, is trained once).
FRACTIONS = (0.25, 0.5, 1.0)
AXES = ("classes", "images")


def tag_for(train_subset: str, axis: str, fraction: float) -> str:
    return train_subset if fraction == 1.0 else f"{train_subset}@{axis}={fraction:g}"


def _run(ctx: SuiteContext) -> None:
    if ctx.weights_given:
        raise GibenchError("suite 'data-scale' trains its models: it cannot use {weights}",
                           params=["weights"])
    train_subset = ctx.train_subset
    tests = ctx.requested_test_subsets or [train_subset]
    ctx.check_available([train_subset, *tests])
    full = ctx.train_index(train_subset)
    rows = []
    for axis in AXES:
        for fraction in FRACTIONS:
            part = class_fraction(full, axis, fraction, ctx.seed)
            tag = tag_for(train_subset, axis, fraction)
            trained = ctx.model_for(train_subset, index=part, tag=tag)
            for subset in tests:
                done = ctx.rows(train_subset=tag, test_subset=subset)
                row = done[0] if done else ctx.evaluate(trained, subset)
                rows.append({"axis": axis, "fraction": fraction,
                             "n_classes": len(np.unique(class_keys(part))),
                             "n_images": len(part), **row})
            if fraction != 1.0:  # the whole subset's model serves both axes
                ctx.release(tag)
    curves = pd.DataFrame(rows)
    ctx.write_csv("data-scale.csv", curves)
    ctx.write_file("data-scale.png", lambda path: plot_data_scale(curves, path))


def plot_data_scale(curves: pd.DataFrame, path: Path) -> None:
    """Accuracy against training images, one line per axis and test subset (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    for (axis, subset), group in curves.groupby(["axis", "test_subset"], sort=False):
        group = group.sort_values("n_images")
        ax.plot(group["n_images"], group["acc"], marker="o",
                label=f"fraction of {axis}, tested on {subset}")
    ax.set_xscale("log")
    ax.set_xlabel("training images (real + fake)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 101)
    ax.axhline(50, color="grey", linewidth=0.5)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    detector = curves["detector"].iloc[0] if len(curves) else ""
    fig.suptitle(f"Data scale: {detector}")
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)


def _render(results: pd.DataFrame, subsets: Sequence[SubsetSpec]) -> str:
    names = {s.name: s.display_name for s in subsets}
    parts = ["## Data scale", "",
             "Accuracy (%) at threshold 0.5 on the full evaluation split (`val` on GenImage and "
             "mini); rows: the part of the "
             "training subset trained on (`@classes=f`: a fraction f of its classes, "
             "`@images=f`: a fraction f of each class's images). See data-scale.csv/.png.", "",
             pivot_table(results, rows="train_subset", columns="test_subset",
                         column_order=list(names), column_names=names, average=False), "",
             "### All metrics (%)", "", detail_table(results, names), ""]
    return "\n".join(parts)


DATA_SCALE = SuiteSpec(
    name="data-scale",
    description="train on 25/50/100% of the training subset's classes, and of each class's "
                "images; test on the full val split; writes data-scale.csv and .png",
    run=_run,
    render=_render,
    aliases=("datascale", "data-size"),
)


@hookimpl
def gibench_add_suites() -> Sequence[SuiteSpec]:
    return (DATA_SCALE,)
