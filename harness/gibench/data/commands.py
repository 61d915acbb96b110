"""``gibench data audit``: a thin click command over :mod:`gibench.data.audit`, added to the
``data`` group by :mod:`gibench.cli`."""

from __future__ import annotations

from pathlib import Path

import click

from gibench.data.audit import DEFAULT_SAMPLE, SHORTCUT_THRESHOLD

#: Exit status of ``gibench data audit`` when the root holds none of the subsets.
EXIT_UNUSABLE = 2
#: Exit status of ``gibench data audit --strict`` when a shortcut was found.
EXIT_SHORTCUT = 1


def _registry(ctx: click.Context):
    from gibench.plugins import get_registry

    return get_registry((ctx.find_root().obj or {}).get("disabled", []))


@click.command("audit")
@click.argument("root", type=click.Path(path_type=Path))
@click.option("--dataset", default=None,
              help="Which dataset's subsets to look for (default: the dataset that recognises "
                   "ROOT; gibench list datasets).")
@click.option("--subsets", default=None, help="Comma-separated subsets (default: all of the "
                                               "dataset).")
@click.option("--sample", type=click.IntRange(min=1), default=DEFAULT_SAMPLE, show_default=True,
              help="Files read per split and class (seeded; all when fewer).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threshold", type=click.FloatRange(50, 100), default=SHORTCUT_THRESHOLD,
              show_default=True,
              help="Warn when a trivial rule's balanced accuracy (%) exceeds this.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None,
              help="Also write the full report as JSON to this file (atomically).")
@click.option("--strict", is_flag=True,
              help=f"Exit with status {EXIT_SHORTCUT} when a shortcut is found.")
@click.pass_context
def audit(ctx: click.Context, root: Path, dataset: str | None, subsets: str | None,
          sample: int, seed: int, threshold: float, json_path: Path | None,
          strict: bool) -> None:
    """Can format, size or JPEG quality alone tell real from fake in ROOT?

    \b
    Per subset, split and class: file formats (from the header), JPEG qualities (from the
    quantisation tables), sizes; per subset and split, the best trivial rule on each feature
    and its balanced accuracy, with a warning above --threshold (GenImage: real JPEGs, fake
    PNGs of one size). A shortcut is a finding: the exit status is 0 unless ROOT holds none of
    the subsets (2) or --strict finds a shortcut (1).
    """
    from gibench.data.audit import audit_root, render_audit, write_json
    from gibench.data.datasets import infer_dataset
    from gibench.errors import GibenchError

    registry = _registry(ctx)
    specs = [registry.subset(name.strip()) for name in (subsets or "").split(",")
             if name.strip()]
    if dataset is None and specs:
        dataset = specs[0].dataset
    elif dataset is None:
        try:
            dataset = infer_dataset(registry, root)
        except GibenchError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_UNUSABLE)
    spec = registry.dataset(dataset)
    specs = specs or registry.subsets(spec.name)
    if not specs:
        raise click.BadParameter(f"no subsets registered for dataset {dataset!r}; known "
                                 f"datasets: {', '.join(registry.datasets())}",
                                 param_hint="--dataset")
    report = audit_root(root, specs, sample=sample, seed=seed, threshold=threshold,
                        dataset=spec)
    click.echo(render_audit(report))
    if json_path is not None:
        write_json(report, json_path)
    if not report.usable:
        click.echo(f"error: {root} holds none of the {len(specs)} subsets of {dataset!r} "
                   "(see the problems above)", err=True)
        ctx.exit(EXIT_UNUSABLE)
    if strict and report.warnings:
        ctx.exit(EXIT_SHORTCUT)
