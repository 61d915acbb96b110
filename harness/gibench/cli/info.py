"""``gibench list`` and ``gibench plugins``: what the installed plugins provide, and how
each loaded."""

from __future__ import annotations

import click
from tabulate import tabulate

from gibench.cli._common import registry, warn_conflicts

_KINDS = ("datasets", "detectors", "subsets", "degradations", "suites", "reporters")


def _param_count(spec) -> str:
    try:
        count = spec.parameter_count()
    except Exception as exc:  # a broken builder must not hide the others
        return f"error: {exc}"
    return f"{count / 1e6:.2f} M"


def _values(values) -> str:
    return ", ".join(f"{v:g}" for v in values) or "-"


@click.command("list")
@click.argument("kind", required=False, type=click.Choice(_KINDS))
@click.pass_context
def list_(ctx: click.Context, kind: str | None) -> None:
    """List datasets, detectors, subsets, degradations and suites (all without KIND)."""
    reg = registry(ctx, strict=False)
    for k in [kind] if kind else _KINDS:
        single = k[:-1]
        entries = reg.entries.get(single, {})
        click.echo(f"{k}:")
        if not entries:
            click.echo("  (none installed)\n")
            continue
        rows = []
        for name, entry in entries.items():
            s = entry.spec
            aliases = ", ".join(getattr(s, "aliases", ())[:4])
            if single == "detector":
                rows.append([name, s.year or "-", s.venue or "-", s.paper,
                             s.preprocess.input_size, _param_count(s), entry.plugin])
            elif single == "subset":
                rows.append([s.name, s.display_name, s.dataset, s.family, aliases])
            elif single == "dataset":
                rows.append([name, s.display_name, s.default_train_subset or "-",
                             "/".join(s.splits), ", ".join(s.label_folders),
                             "yes" if s.build else "-", entry.plugin])
            elif single == "degradation":
                rows.append([name, s.parameter, _values(s.paper_settings),
                             _values((s.default,) if s.default is not None else ()),
                             _values(getattr(s, "sweep", ())), s.description, entry.plugin])
            else:
                rows.append([name, s.description, entry.plugin])
        headers = {"dataset": ["name", "display name", "trains on", "splits", "label folders",
                               "built", "plugin"],
                   "detector": ["name", "year", "venue", "paper", "input", "parameters",
                                "plugin"],
                   "subset": ["name", "display name", "dataset", "family", "aliases"],
                   "degradation": ["name", "parameter", "paper", "default", "sweep",
                                   "description", "plugin"]}.get(
            single, ["name", "description", "plugin"])
        click.echo(tabulate(rows, headers=headers, tablefmt="simple"))
        click.echo()
    if reg.failures:
        click.echo(f"{len(reg.failures)} plugin(s) failed to load: see `gibench plugins`",
                   err=True)
    warn_conflicts(reg)


@click.command()
@click.pass_context
def plugins(ctx: click.Context) -> None:
    """Show every plugin: distribution, version, status, and the error of a broken one."""
    reg = registry(ctx, strict=False)
    rows = []
    for info in reg.plugins:
        provides = []
        for kind, entries in reg.entries.items():
            names = [n for n, e in entries.items() if e.plugin == info.name]
            if names:
                provides.append(f"{len(names)} {kind}{'s' if len(names) > 1 else ''}")
        rows.append([info.name, info.distribution, info.version,
                     "builtin" if info.builtin else "entry point", info.status,
                     ", ".join(provides) or info.error])
    click.echo(tabulate(rows, headers=["plugin", "distribution", "version", "source", "status",
                                       "provides / error"], tablefmt="simple"))
    warn_conflicts(reg)


