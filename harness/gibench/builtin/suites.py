"""Built-in plugin: the evaluation protocols (suites) of the GenImage paper that need no
degradations, registered through the same hook as any third-party suite."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from gibench.errors import GibenchError
from gibench.hookspecs import hookimpl
from gibench.specs import SubsetSpec, SuiteSpec, averaged_subsets, control_subsets
from gibench.suite import (
    CLEAN,
    GIVEN_WEIGHTS,
    Model,
    Setting,
    SuiteContext,
    evaluate_together,
    load_weights_together,
)
from gibench.tables import detail_table, pivot_table


def _settings(ctx: SuiteContext) -> list[Setting] | None:
    """The settings every evaluation runs: ``None`` (clean only), or with ``--degradation``
    clean plus every given degradation, from one decode of each file."""
    return [CLEAN, *ctx.degradations] if ctx.degradations else None


def evaluate_subset(ctx: SuiteContext, trained: Model, subset: str) -> None:
    """Clean evaluation of ``subset``; with ``--degradation``, clean plus every given
    degradation from one decode of each file."""
    ctx.evaluate_many([trained], subset, _settings(ctx))


def _run_cross_generator(ctx: SuiteContext) -> None:
    """Train on one subset (``--train-subset``), test on the ``val`` split of every subset."""
    tests = ctx.test_subsets
    ctx.check_available([] if ctx.weights_given else [ctx.train_subset])
    ctx.check_available(tests)
    trained = ctx.model_for(ctx.train_subset)
    for subset in tests:
        evaluate_subset(ctx, trained, subset)


def render_accuracy_table(results: pd.DataFrame, subsets: Sequence[SubsetSpec],
                          title: str) -> str:
    """Accuracy per test subset with the average — the layout of the paper's Table 3 — then
    every metric per row."""
    names = {s.name: s.display_name for s in subsets}
    controls = control_subsets(subsets)
    if results["dataset"].nunique() > 1:  # a run of several datasets: DATASET/NAME columns
        names = {f"{s.dataset}/{s.name}": f"{s.display_name} ({s.dataset})" for s in subsets}
        controls = [f"{s.dataset}/{s.name}" for s in subsets if s.control]
        results = results.assign(test_subset=[f"{d}/{t}" for d, t in zip(
            results["dataset"], results["test_subset"], strict=True)])
    degraded = results["degradation"].nunique() > 1
    results = results.assign(train_subset=[
        given_weights_label(results) if t == GIVEN_WEIGHTS else t
        for t in results["train_subset"]])
    frame = results.assign(detector=[
        f"{d} ({t if t.startswith('given weights') else 'trained on ' + names.get(t, t)})"
        + (f" · {g}" if degraded else "")
        for d, t, g in zip(results["detector"], results["train_subset"],
                           results["degradation"], strict=True)])
    parts = [f"## {title}", "", "Accuracy (%) at threshold 0.5 on the evaluation split (`val` "
             "on GenImage and mini)."
             + _controls_note(subsets), "",
             pivot_table(frame, rows="detector", columns="test_subset", value="acc",
                         column_order=list(names), column_names=names,
                         not_averaged=controls), "",
             "### All metrics (%)", "", detail_table(results, names), ""]
    return "\n".join(parts)


def given_weights_label(results: pd.DataFrame) -> str:
    """How a table names the model of given weights: ``given weights (FILE)`` (the file's
    name, from the ``weights`` column the run adds when it renders), else ``given weights``."""
    files = results["weights"].dropna().unique() if "weights" in results else []
    return f"given weights ({files[0]})" if len(files) == 1 else "given weights"


def _controls_note(subsets: Sequence[SubsetSpec]) -> str:
    """A sentence for a table with control subsets (left out of Avg), else nothing."""
    names = [s.display_name for s in subsets if s.control]
    if not names:
        return ""
    return (f" Avg leaves out {', '.join(names)}: a control, not a generator (accuracy above "
            "50% there is reliance on a shortcut).")


def _render_cross_generator(results: pd.DataFrame, subsets: Sequence[SubsetSpec]) -> str:
    dataset = results["dataset"].iloc[0] if len(results) else ""
    return render_accuracy_table(results, subsets, f"Cross-generator ({dataset})")


def _trainable(ctx: SuiteContext) -> list[SubsetSpec]:
    """The dataset's subsets that have its training split (a test-only subset declares
    ``splits`` without it; a test-only dataset has no training split at all)."""
    if ctx.train_split is None:
        raise GibenchError(f"dataset {ctx.dataset!r} has no training split: the matrix suite "
                           "trains on each of its subsets")
    return [s for s in ctx.dataset_subsets() if s.splits is None or ctx.train_split in s.splits]


def _run_matrix(ctx: SuiteContext) -> None:
    """Train on each subset of the dataset, test on the ``val`` split of each (Table 4).

    Every model is trained first; then each test subset is evaluated by all of them in one
    pass over its files (each file decoded once, not once per model). The rows come out
    model by model, as evaluating the models one after another would give them."""
    trains = ([ctx.requested_train_subset] if ctx.requested_train_subset
              else averaged_subsets(_trainable(ctx)))
    tests = ctx.test_subsets
    ctx.check_available(trains + tests)
    trained = [ctx.model_for(train_subset) for train_subset in trains]
    for subset in tests:
        ctx.evaluate_many(trained, subset, _settings(ctx))
    for train_subset in trains:
        ctx.release(train_subset)
    ctx.order_by_model(trains)


def _render_matrix(results: pd.DataFrame, subsets: Sequence[SubsetSpec]) -> str:
    """Table 4's layout (per test subset, the mean over the training subsets), then the full
    train × test matrix and every metric."""
    names = {s.name: s.display_name for s in subsets}
    dataset = results["dataset"].iloc[0] if len(results) else ""
    clean = results[results["degradation"] == "none"]
    n_train = clean["train_subset"].nunique()
    mean = clean.assign(detector=[f"{d} (mean over {n_train} training subsets)"
                                  for d in clean["detector"]])
    full = clean.assign(train=[names.get(t, t) for t in clean["train_subset"]])
    parts = [f"## Train on each, test on each ({dataset})", "",
             "Accuracy (%) at threshold 0.5 on the evaluation split (`val` on GenImage and mini), "
             "averaged over the training "
             "subsets (GenImage Table 4)." + _controls_note(subsets), "",
             pivot_table(mean, rows="detector", columns="test_subset", column_order=list(names),
                         column_names=names, not_averaged=control_subsets(subsets)), "",
             "### Per training subset (rows: trained on; columns: tested on)", "",
             pivot_table(full, rows="train", columns="test_subset", column_order=list(names),
                         column_names=names, not_averaged=control_subsets(subsets)), "",
             "### All metrics (%)", "", detail_table(results, names), ""]
    return "\n".join(parts)


def _run_eval(ctx: SuiteContext) -> None:
    """Evaluate given weights (``--weights``) on the ``val`` split of the chosen subsets."""
    run_eval_shared([ctx])


def run_eval_shared(contexts: Sequence[SuiteContext]) -> None:
    """The ``eval`` suite for several runs at once (``gibench eval`` with several detectors or
    weights, one run each, built from the same options): every test subset is read in one pass
    for all their models (and so is the held-out part of the training subset that calibrates
    their thresholds), and each run records what it would have alone."""
    for ctx in contexts:
        if not ctx.weights_given:
            raise GibenchError("suite 'eval' evaluates existing weights: pass {weights=}PATH",
                               params=["weights"])
        ctx.check_available(ctx.test_subsets)
    models = load_weights_together(contexts)
    lead = contexts[0]
    for subset in lead.test_subsets:
        evaluate_together(list(zip(contexts, models, strict=True)), subset, _settings(lead))


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

MATRIX = SuiteSpec(
    name="matrix",
    description="train on each subset, test on every subset's val split (GenImage Table 4: "
                "averaged over training subsets; the full matrix too)",
    run=_run_matrix,
    render=_render_matrix,
    needs_training=True,
    aliases=("table4", "cross-validation"),
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
    return (CROSS_GENERATOR, MATRIX, EVAL)
