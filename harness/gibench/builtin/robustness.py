"""Built-in plugin: the protocols that evaluate degraded images.

- ``degraded`` — GenImage's Table 5: train (or load) on the training subset, evaluate its ``val``
  split clean and under the paper's six settings (low resolution 112 and 64 px, JPEG quality 65
  and 30, Gaussian blur σ 3 and 5), or under the ``--degradation`` settings given.
- ``robustness`` — whole curves: every degradation's sweep (JPEG quality 100→10, blur σ 0→5,
  low resolution 224→32, noise σ 0→30, or the degradations named with ``--degradation``);
  writes ``robustness.csv`` and one PNG per degradation (accuracy and AUC against strength).

Both decode each file once: every setting runs from the same decoded batch on the device
(:meth:`gibench.suite.SuiteContext.evaluate_settings`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from gibench.hookspecs import hookimpl
from gibench.specs import SubsetSpec, SuiteSpec
from gibench.suite import CLEAN, Setting, SuiteContext
from gibench.tables import detail_table, pivot_table

#: The degradations of GenImage's Table 5, in its column order (strengths: each spec's
#: ``paper_settings``).
TABLE5 = ("lowres", "jpeg", "blur")
#: The degradations the ``robustness`` suite sweeps by default.
SWEPT = ("jpeg", "blur", "lowres", "noise")


def _test_subsets(ctx: SuiteContext) -> list[str]:
    """Table 5 tests on the training subset itself; ``--test-subsets`` widens it."""
    return ctx.requested_test_subsets or [ctx.train_subset]


def _evaluate(ctx: SuiteContext, settings: list[Setting]) -> None:
    tests = _test_subsets(ctx)
    ctx.check_available([] if ctx.weights_given else [ctx.train_subset])
    ctx.check_available(tests)
    trained = ctx.model_for(ctx.train_subset)
    for subset in tests:
        ctx.evaluate_settings(trained, subset, [CLEAN, *settings])


def _run_degraded(ctx: SuiteContext) -> None:
    settings = ctx.degradations or [ctx.setting(name, value) for name in TABLE5
                                    for value in ctx.degradation(name).paper_settings]
    _evaluate(ctx, settings)


def _sweep_settings(ctx: SuiteContext) -> list[Setting]:
    if ctx.degradations:
        specs = list({s.spec.name: s.spec for s in ctx.degradations}.values())
    else:
        specs = [ctx.degradation(name) for name in SWEPT]
    return [ctx.setting(spec, value) for spec in specs for value in spec.sweep]


def _run_robustness(ctx: SuiteContext) -> None:
    _evaluate(ctx, _sweep_settings(ctx))
    curves = robustness_curves(ctx.results())
    ctx.write_csv("robustness.csv", curves)
    for name, frame in curves.groupby("degradation_name", sort=False):
        ctx.write_file(f"robustness-{name}.png", lambda path, f=frame: plot_curve(f, path))


def robustness_curves(results: pd.DataFrame) -> pd.DataFrame:
    """Result rows → one row per (test subset, degradation, strength); the clean row of each
    subset is kept as strength ``NaN`` under every degradation's name for reference."""
    degraded = results[results["degradation"] != "none"]
    parts = degraded["degradation"].str.rsplit(":", n=1, expand=True)
    curves = degraded.assign(degradation_name=parts[0], strength=parts[1].astype(float))
    cols = ["detector", "train_subset", "test_subset", "degradation_name", "strength", "acc",
            "real_acc", "fake_acc", "auc", "ap", "n_real", "n_fake"]
    clean = results[results["degradation"] == "none"]
    rows = [curves[cols]]
    for name in curves["degradation_name"].unique():
        rows.append(clean.assign(degradation_name=name, strength=float("nan"))[cols])
    return pd.concat(rows, ignore_index=True)


def plot_curve(frame: pd.DataFrame, path: Path) -> None:
    """Accuracy and AUC against strength for one degradation (one line per test subset; the
    clean value dashed), written as PNG to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = frame["degradation_name"].iloc[0]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
    for ax, metric, label in zip(axes, ("acc", "auc"), ("accuracy (%)", "AUC (%)"), strict=True):
        for (detector, subset), group in frame.groupby(["detector", "test_subset"], sort=False):
            curve = group.dropna(subset=["strength"]).sort_values("strength")
            line, = ax.plot(curve["strength"], curve[metric], marker="o",
                            label=f"{detector} on {subset}")
            clean = group[group["strength"].isna()][metric]
            if len(clean):
                ax.axhline(float(clean.iloc[0]), color=line.get_color(), linestyle="--",
                           linewidth=0.8)
        ax.set_xlabel(name)
        ax.set_ylabel(label)
        ax.set_ylim(0, 101)
        ax.axhline(50, color="grey", linewidth=0.5)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    fig.suptitle(f"Robustness to {name} (dashed: clean)")
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)


def render_degraded(results: pd.DataFrame, subsets: Sequence[SubsetSpec], title: str) -> str:
    """Accuracy per setting with the average over the degraded ones — Table 5's layout — then
    the clean accuracy and every metric per row."""
    names = {s.name: s.display_name for s in subsets}
    frame = results.assign(detector=[f"{d} on {names.get(t, t)}" for d, t in
                                     zip(results["detector"], results["test_subset"],
                                         strict=True)])
    degraded = frame[frame["degradation"] != "none"]
    order = list(dict.fromkeys(degraded["degradation"]))
    parts = [f"## {title}", "", "Accuracy (%) at threshold 0.5 on the evaluation split (`val` "
             "on GenImage and mini); Avg is over "
             "the degraded settings.", "",
             pivot_table(degraded, rows="detector", columns="degradation", column_order=order),
             "", "Clean (no degradation):", "",
             pivot_table(frame[frame["degradation"] == "none"], rows="detector",
                         columns="degradation", average=False), "",
             "### All metrics (%)", "", detail_table(results, names), ""]
    return "\n".join(parts)


DEGRADED = SuiteSpec(
    name="degraded",
    description="train on one subset, test its val split clean and under low resolution "
                "(112, 64), JPEG (65, 30) and blur (σ 3, 5) (GenImage Table 5), or the "
                "--degradation settings",
    run=_run_degraded,
    render=lambda results, subsets: render_degraded(results, subsets, "Degraded images"),
    aliases=("table5",),
)

ROBUSTNESS = SuiteSpec(
    name="robustness",
    description="sweep each degradation's strengths (JPEG, blur, low resolution, noise, or the "
                "--degradation names); writes robustness.csv and a PNG per degradation",
    run=_run_robustness,
    render=lambda results, subsets: render_degraded(results, subsets, "Robustness sweeps"),
    aliases=("sweep",),
)


@hookimpl
def gibench_add_suites() -> Sequence[SuiteSpec]:
    return (DEGRADED, ROBUSTNESS)
