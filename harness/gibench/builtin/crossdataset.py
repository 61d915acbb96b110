"""Built-in plugin: the cross-dataset protocol (``gibench run --suite cross-dataset``).

Train on one subset of one dataset — by default GenImage's SD V1.4 when GenImage is among the
run's datasets, else the training dataset's default — or load ``--weights``, and evaluate on
every subset of every dataset the run was given a root for (``--data-root NAME=PATH``,
repeatable), each on its own dataset's evaluation split. The table has one block per dataset
with its mean (controls left out), then the means of every dataset side by side with the
overall mean over all their subsets, the layout of the cross-dataset tables of NPR, AIDE and
AIGIBench. Every row of ``results.csv`` records the dataset it was tested on, the evaluation
preprocessing policy (``eval_transform``) and the precision the model ran in
(``eval_precision``).

Written against :class:`gibench.suite.SuiteContext` alone, as any third-party suite.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from tabulate import tabulate

from gibench.hookspecs import hookimpl
from gibench.specs import SubsetSpec, SuiteSpec
from gibench.suite import CLEAN, SuiteContext
from gibench.tables import detail_table, pivot_table

#: What the protocol trains on by default when that dataset is given: GenImage's SD V1.4, the
#: training set of the published cross-dataset tables.
DEFAULT_TRAIN_SUBSETS = ("genimage/sdv1.4",)


def _run(ctx: SuiteContext) -> None:
    """Train (or load) one model, then evaluate it on every test subset of every dataset."""
    tests = ctx.test_subsets
    ctx.check_available([] if ctx.weights_given else [ctx.train_subset])
    ctx.check_available(tests)
    model = ctx.model_for(ctx.train_subset)
    settings = [CLEAN, *ctx.degradations] if ctx.degradations else None
    for subset in tests:
        ctx.evaluate_many([model], subset, settings)


def _label(results: pd.DataFrame, train_names: dict[str, str]) -> list[str]:
    """One row label per result: the detector and what it was trained on (and the
    degradation when there are several)."""
    degraded = results["degradation"].nunique() > 1
    return [f"{d} (trained on {train_names.get(t, t)})" + (f" · {g}" if degraded else "")
            for d, t, g in zip(results["detector"], results["train_subset"],
                               results["degradation"], strict=True)]


def _describe(results: pd.DataFrame, column: str) -> str:
    values = sorted({str(v) for v in results.get(column, pd.Series(dtype=str)).dropna()})
    return ", ".join(values) or "not recorded"


def render(results: pd.DataFrame, subsets: Sequence[SubsetSpec]) -> str:
    """One block per dataset (accuracy per test subset and the dataset's mean, controls left
    out), then the per-dataset means and the overall mean, then every metric per row."""
    if results.empty:
        return "## Cross-dataset\n\n(no results)\n"
    datasets = list(dict.fromkeys(results["dataset"]))
    by_dataset: dict[str, list[SubsetSpec]] = {}
    for spec in subsets:
        by_dataset.setdefault(spec.dataset, []).append(spec)
    # the training subset is the training dataset's, whose subsets come first in ``subsets``
    train_names: dict[str, str] = {}
    for spec in subsets:
        train_names.setdefault(spec.name, f"{spec.display_name} of {spec.dataset}")
    frame = results.assign(model=_label(results, train_names))
    controls = {(s.dataset, s.name) for s in subsets if s.control}
    averaged = frame[[(d, t) not in controls for d, t in
                      zip(frame["dataset"], frame["test_subset"], strict=True)]]
    parts = ["## Cross-dataset", "",
             "Accuracy (%) at threshold 0.5 on each dataset's evaluation split; one block per "
             "dataset with its mean over its subsets (controls left out), then the means side "
             f"by side. Evaluation preprocessing: {_describe(results, 'eval_transform')}; "
             f"precision: {_describe(results, 'eval_precision')}.", ""]
    for dataset in datasets:
        specs = by_dataset.get(dataset, [])
        part = frame[frame["dataset"] == dataset]
        names = {s.name: s.display_name for s in specs}
        parts += [f"### {dataset}", "",
                  pivot_table(part, rows="model", columns="test_subset",
                              column_order=[s.name for s in specs] or None,
                              column_names=names,
                              not_averaged=[s.name for s in specs if s.control]), ""]
    means = averaged.groupby(["model", "dataset"], sort=False)["acc"].mean().unstack("dataset")
    means = means.reindex(columns=[d for d in datasets if d in means.columns])
    overall = averaged.groupby("model", sort=False)["acc"].mean()
    models = list(dict.fromkeys(frame["model"]))
    body = [[m, *[means.loc[m, d] if m in means.index else float("nan")
                  for d in means.columns], overall.get(m, float("nan"))] for m in models]
    parts += ["### Mean per dataset, and over every subset", "",
              tabulate(body, headers=["model", *means.columns, "All subsets"],
                       tablefmt="github", floatfmt=".1f"), "",
              "### All metrics (%)", "",
              detail_table(results.assign(test_subset=[
                  f"{d}/{t}" for d, t in zip(results["dataset"], results["test_subset"],
                                            strict=True)])), ""]
    return "\n".join(parts)


CROSS_DATASET = SuiteSpec(
    name="cross-dataset",
    description="train on one subset (GenImage SD V1.4 when GenImage is given) or load "
                "--weights, test on every subset of every dataset given (--data-root "
                "NAME=PATH, repeatable); one block per dataset with its mean, and the overall "
                "mean",
    run=_run,
    render=render,
    needs_training=True,
    aliases=("cross-ds",),
    default_train_subsets=DEFAULT_TRAIN_SUBSETS,
)


@hookimpl
def gibench_add_suites() -> Sequence[SuiteSpec]:
    return (CROSS_DATASET,)
