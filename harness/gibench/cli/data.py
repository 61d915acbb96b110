"""``gibench data``: ``check`` and ``audit`` a dataset on disk (:mod:`gibench.data.check`,
:mod:`gibench.data.audit`), and one ``data NAME`` per dataset that a plugin builds on demand."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gibench.cli._common import message, registry
from gibench.data.audit import DEFAULT_SAMPLE, SHORTCUT_THRESHOLD
from gibench.errors import GibenchError


def _build_command(spec) -> click.Command:
    """``gibench data NAME [--seed S]`` for a dataset with a builder and no command of its own."""

    @click.command(spec.name, help=f"Build {spec.display_name or spec.name} (if not cached "
                                   "yet) and print where it is.")
    @click.option("--seed", type=int, default=0, show_default=True)
    def build(seed: int) -> None:
        click.echo(spec.build(seed=seed, progress=True))

    return build


class _DataGroup(click.Group):
    """``gibench data``: its own commands, and one per dataset that plugins can build
    (:attr:`gibench.specs.DatasetSpec.command`, or :func:`_build_command`)."""

    def _dataset_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        reg = registry(ctx)
        commands = {}
        for name in reg.datasets():
            spec = reg.dataset(name)
            if spec.command is not None:
                commands[name] = spec.command
            elif spec.build is not None:
                commands[name] = _build_command(spec)
        return commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._dataset_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self._dataset_commands(ctx).get(cmd_name)


@click.group(cls=_DataGroup)
def data() -> None:
    """Inspect datasets on disk; build the datasets that plugins build on demand."""


def _dataset_options(f):
    """ROOT, ``--dataset`` and ``--data-root``: which datasets ``data check``/``audit`` read."""
    f = click.option(
        "--data-root", "extra", multiple=True, metavar="NAME=PATH",
        help="Another dataset's root (forensynths=/d/CNN_synth_testset: each dataset is "
             "checked in turn), or an extra root a dataset declares (synthbuster.raise="
             "/d/RAISE); repeatable.")(f)
    f = click.option(
        "--dataset", default=None,
        help="Which dataset's subsets to look for (default: the one that recognises ROOT; "
             "gibench list datasets; folder:PATH for a folder dataset).")(f)
    return click.argument("root", type=click.Path(path_type=Path), required=False)(f)


def _targets(ctx: click.Context, reg, root: Path | None, dataset: str | None, extra: tuple
             ) -> list[tuple[Path, object, dict[str, Path]]]:
    """(root, dataset spec, extra roots) of every dataset to look at: ROOT's (``--dataset``,
    or the one that recognises it), then each dataset given as ``--data-root NAME=PATH``."""
    from gibench.data.datasets import _named_roots, check_extra_roots, parse_data_roots

    roots = parse_data_roots(list(extra)) or {}
    if not isinstance(roots, dict) or "" in roots:
        raise GibenchError(f"--data-root {extra[0]}: give a dataset's root as NAME=PATH, or "
                           "an extra root as DATASET.ROOT=PATH")
    mains, extras = _named_roots(reg, roots)
    targets = []
    if root is not None:
        spec, _ = _dataset_of(ctx, reg, root, dataset, None)
        if spec.name in mains:
            raise GibenchError(f"--data-root {spec.name}={mains[spec.name]}: dataset "
                               f"{spec.name!r} given twice (ROOT {root} is it)")
        mains = {spec.name: root, **mains}
    elif dataset is not None:
        raise click.UsageError("--dataset names the dataset of ROOT: give ROOT")
    for name in extras:
        if name not in mains:
            raise GibenchError(f"--data-root gives extra roots of dataset {name!r} but not its "
                               f"own root: add --data-root {name}=PATH")
    if not mains:
        raise click.UsageError("give ROOT, or datasets' roots as --data-root NAME=PATH")
    for name, path in mains.items():
        if not path.is_dir():
            from gibench.data.layout import describe_folder

            click.echo(f"error: data root {path}: {describe_folder(path)}", err=True)
            ctx.exit(1)
        spec = reg.dataset(name)
        targets.append((path, spec, check_extra_roots(spec, extras.get(name, {}))))
    return targets


def _each(path: Path, dataset: str, several: bool) -> Path:
    """An output file of one dataset among several: ``bad-<dataset>.csv`` for ``bad.csv``."""
    return path.with_name(f"{path.stem}-{dataset}{path.suffix}") if several else path


def _dataset_of(ctx: click.Context, reg, root: Path, dataset: str | None,
                extra: tuple | None) -> tuple:
    """(the dataset's spec, its extra roots by name; none read when ``extra`` is ``None``) for
    ``data check``/``audit`` of ``root``:
    a root that is not a folder is one line, a root no dataset recognises a short report
    with the other ways to use its images; both exit 1."""
    from gibench.data.check import OTHER_WAYS
    from gibench.data.datasets import dataset_name, infer_dataset
    from gibench.data.layout import describe_folder

    if not root.is_dir():
        click.echo(f"error: data root {root}: {describe_folder(root)}", err=True)
        ctx.exit(1)
    if dataset is None:
        try:
            dataset = infer_dataset(reg, root)
        except GibenchError:
            click.echo(f"{root} holds no dataset gibench recognises; it holds "
                       f"{describe_folder(root, 8)}.\nName the dataset with --dataset "
                       f"(gibench list datasets), or {OTHER_WAYS}.", err=True)
            ctx.exit(1)
    spec = reg.dataset(dataset_name(reg, dataset))
    return spec, (_extra_roots(reg, spec, root, extra) if extra is not None else {})


def _extra_roots(reg, spec, root: Path, extra: tuple) -> dict[str, Path]:
    """The extra roots given as ``--data-root DATASET.ROOT=PATH``, by name; every one the
    dataset declares, or an error naming the option that gives it."""
    from gibench.data.datasets import check_extra_roots, parse_data_roots, split_roots

    roots = parse_data_roots(list(extra)) or {}
    if not isinstance(roots, dict) or "" in roots:
        raise GibenchError(f"--data-root {extra[0]}: here it gives an extra root, as "
                           f"{spec.name}.ROOT=PATH")
    return check_extra_roots(spec, split_roots(reg, {spec.name: root, **roots}, spec.name)[2])


@data.command("check")
@_dataset_options
@click.option("--sample", type=int, default=16, show_default=True,
              help="Images per folder whose size is read.")
@click.option("--deep", is_flag=True,
              help="Also decode every image file of every subset found, list the bad ones in "
                   "--bad-list and exit 1 if there is any.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Decoding processes for --deep.  [default: the usable cores]")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60.0,
              show_default=True,
              help="Seconds a file may take to decode (--deep); a slower one is a bad file.")
@click.option("--bad-list", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("bad-files.csv"), show_default=True,
              help="CSV (path, reason, subset) of the bad files --deep finds; written even "
                   "when there are none.")
@click.option("--no-progress", is_flag=True, help="No progress bar (--deep).")
@click.pass_context
def data_check(ctx: click.Context, root: Path | None, dataset: str | None, extra: tuple,
               sample: int,
               deep: bool, workers: int | None, timeout: float, bad_list: Path,
               no_progress: bool) -> None:
    """Count images per subset/split/label, list formats and sizes, name missing folders.

    With --deep, also decode every image as training would: exit status 1 if a folder is
    missing or a file is bad. Several datasets (--data-root NAME=PATH, repeatable) are
    checked in turn, each --deep's bad files listed in --bad-list suffixed by the dataset.

    \b
    Example:
      gibench data check --deep --bad-list bad.csv /data/GenImage
      gibench data check --data-root genimage=/data/GenImage \\
          --data-root forensynths=/data/CNN_synth_testset
    """
    from gibench.data.check import (
        check_root,
        deep_check,
        render_deep,
        render_report,
        write_bad_list,
    )
    reg = registry(ctx)
    targets = _targets(ctx, reg, root, dataset, extra)
    ok = True
    for path, spec, extra_roots in targets:
        subsets = reg.subsets(spec.name)
        if not subsets:
            raise GibenchError(f"no subsets registered for dataset {spec.name!r}; known "
                               f"datasets: {', '.join(reg.datasets())}")
        if len(targets) > 1:
            click.echo(f"== dataset {spec.name}: {path}\n")
        report = check_root(path, subsets, sample=sample, dataset=spec,
                            extra_roots=extra_roots)
        click.echo(render_report(report))
        ok = ok and report.ok
        if deep:
            bad = _each(bad_list, spec.name, len(targets) > 1)
            result = deep_check(report, workers=workers, timeout=timeout,
                                progress=not no_progress)
            write_bad_list(result, bad)
            click.echo("\n" + render_deep(result, bad))
            ok = ok and result.ok
        if len(targets) > 1:
            click.echo("")
    sys.exit(0 if ok else 1)



#: Exit status of ``gibench data audit`` when the root holds none of the subsets.
EXIT_UNUSABLE = 2
#: Exit status of ``gibench data audit --strict`` when a shortcut was found.
EXIT_SHORTCUT = 1


@data.command("audit")
@_dataset_options
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
def audit(ctx: click.Context, root: Path | None, dataset: str | None, extra: tuple,
          subsets: str | None, sample: int, seed: int, threshold: float,
          json_path: Path | None, strict: bool) -> None:
    """Can format, size or JPEG quality alone tell real from fake in ROOT?

    \b
    Per subset, split and class: file formats (from the header), JPEG qualities (from the
    quantisation tables), sizes; per subset and split, the best trivial rule on each feature
    and its balanced accuracy, with a warning above --threshold (GenImage: real JPEGs, fake
    PNGs of one size). A shortcut is a finding: the exit status is 0 unless ROOT holds none of
    the subsets (2) or --strict finds a shortcut (1). Several datasets (--data-root
    NAME=PATH, repeatable) are audited in turn, --json written per dataset (suffixed by its
    name).
    """
    from gibench.data.audit import audit_root, render_audit, write_json
    from gibench.data.datasets import infer_dataset

    reg = registry(ctx)
    names = [name.strip() for name in (subsets or "").split(",") if name.strip()]
    if root is None or any("=" in e and not e.split("=", 1)[0].count(".") for e in extra):
        _audit_each(ctx, reg, root, dataset, extra, names, sample, seed, threshold,
                    json_path, strict)
        return
    if dataset is None:
        # the root's dataset first: --subsets names resolve within it (another installed
        # dataset may have a subset of the same name); else the dataset of the first subset
        try:
            dataset = infer_dataset(reg, root)
        except GibenchError as exc:
            if not names:
                click.echo(f"error: {message(exc)}", err=True)
                ctx.exit(EXIT_UNUSABLE)
            dataset = reg.subset(names[0]).dataset
    specs = [reg.subset(name, dataset) for name in names]
    spec = reg.dataset(dataset)
    extra_roots = _extra_roots(reg, spec, root, extra)
    specs = specs or reg.subsets(spec.name)
    if not specs:
        raise click.BadParameter(f"no subsets registered for dataset {dataset!r}; known "
                                 f"datasets: {', '.join(reg.datasets())}",
                                 param_hint="--dataset")
    report = audit_root(root, specs, sample=sample, seed=seed, threshold=threshold,
                        dataset=spec, extra_roots=extra_roots)
    click.echo(render_audit(report))
    if json_path is not None:
        write_json(report, json_path)
    if not report.usable:
        click.echo(f"error: {root} holds none of the {len(specs)} subsets of {dataset!r} "
                   "(see the problems above)", err=True)
        ctx.exit(EXIT_UNUSABLE)
    if strict and report.warnings:
        ctx.exit(EXIT_SHORTCUT)


def _audit_each(ctx: click.Context, reg, root: Path | None, dataset: str | None, extra: tuple,
                names: list[str], sample: int, seed: int, threshold: float,
                json_path: Path | None, strict: bool) -> None:
    """``data audit`` of several datasets (``--data-root NAME=PATH``), one after the other;
    ``--subsets`` names are ``DATASET/NAME`` or plain names, each audited in its dataset."""
    from gibench.data.audit import audit_root, render_audit, write_json

    targets = _targets(ctx, reg, root, dataset, extra)
    wanted = [reg.subset(name) for name in names]
    unusable, shortcut = [], False
    for path, spec, extra_roots in targets:
        specs = [s for s in wanted if s.dataset == spec.name] if wanted \
            else reg.subsets(spec.name)
        if not specs:
            continue
        click.echo(f"== dataset {spec.name}: {path}\n")
        report = audit_root(path, specs, sample=sample, seed=seed, threshold=threshold,
                            dataset=spec, extra_roots=extra_roots)
        click.echo(render_audit(report) + "\n")
        if json_path is not None:
            write_json(report, _each(json_path, spec.name, len(targets) > 1))
        if not report.usable:
            unusable.append(f"{path} holds none of the {len(specs)} subsets of {spec.name!r}")
        shortcut = shortcut or bool(report.warnings)
    if unusable:
        click.echo("error: " + "; ".join(unusable) + " (see the problems above)", err=True)
        ctx.exit(EXIT_UNUSABLE)
    if strict and shortcut:
        ctx.exit(EXIT_SHORTCUT)
