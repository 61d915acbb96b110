"""Built-in plugin: the evaluation protocols (suites) of the GenImage paper that need no
degradations, registered through the same hook as any third-party suite."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from gibench.hookspecs import hookimpl
from gibench.specs import SubsetSpec, SuiteSpec
from gibench.tables import detail_table, pivot_table


def _run_cross_generator(ctx) -> None:
    """Train on one subset (``--train-subset``), test on the ``val`` split of every subset."""
    tests = ctx.test_subsets
    ctx.check_available([ctx.train_subset] if ctx.config.weights is None else [])
    ctx.check_available(tests)
    trained = ctx.model_for(ctx.train_subset)
    for subset in tests:
        ctx.evaluate(trained, subset)


def render_accuracy_table(results: pd.DataFrame, subsets: Sequence[SubsetSpec],
                          title: str) -> str:
    """Accuracy per test subset with the average — the layout of the paper's Table 3 — then
    every metric per row."""
    names = {s.name: s.display_name for s in subsets}
    frame = results.assign(detector=[f"{d} (trained on {names.get(t, t)})"
                                     for d, t in zip(results["detector"],
                                                     results["train_subset"], strict=True)])
    parts = [f"## {title}", "", "Accuracy (%) at threshold 0.5 on the `val` split.", "",
             pivot_table(frame, rows="detector", columns="test_subset", value="acc",
                         column_order=list(names), column_names=names), "",
             "### All metrics (%)", "", detail_table(results, names), ""]
    return "\n".join(parts)


def _render_cross_generator(results: pd.DataFrame, subsets: Sequence[SubsetSpec]) -> str:
    dataset = results["dataset"].iloc[0] if len(results) else ""
    return render_accuracy_table(results, subsets, f"Cross-generator ({dataset})")


def _run_eval(ctx) -> None:
    """Evaluate given weights (``--weights``) on the ``val`` split of the chosen subsets."""
    if ctx.config.weights is None:
        from gibench.errors import GibenchError

        raise GibenchError("suite 'eval' evaluates existing weights: pass --weights PATH")
    ctx.check_available(ctx.test_subsets)
    trained = ctx.model_for(None)
    for subset in ctx.test_subsets:
        ctx.evaluate(trained, subset)


def _render_eval(results: pd.DataFrame, subsets: Sequence[SubsetSpec]) -> str:
    dataset = results["dataset"].iloc[0] if len(results) else ""
    return render_accuracy_table(results, subsets, f"Evaluation of given weights ({dataset})")


CROSS_GENERATOR = SuiteSpec(
    name="cross-generator",
    description="train on one subset (SD V1.4 on GenImage), test on every subset's val split "
                "(GenImage Table 3)",
    run=_run_cross_generator,
    render=_render_cross_generator,
    needs_training=True,
    aliases=("cross", "table3"),
)

EVAL = SuiteSpec(
    name="eval",
    description="evaluate given weights (--weights) on the val split of every subset",
    run=_run_eval,
    render=_render_eval,
    needs_training=False,
    aliases=("evaluate",),
)


@hookimpl
def gibench_add_suites() -> Sequence[SuiteSpec]:
    return (CROSS_GENERATOR, EVAL)
