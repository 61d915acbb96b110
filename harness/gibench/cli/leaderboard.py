"""``gibench leaderboard add | render | check | site``: a thin layer over
:mod:`gibench.leaderboard`."""

from __future__ import annotations

from pathlib import Path

import click

from gibench.cli._common import registry

_ROOT = click.option("--root", type=click.Path(path_type=Path), default=Path("leaderboards"),
                     show_default=True, help="The leaderboards folder.")


@click.group()
def leaderboard() -> None:
    """Leaderboards: add a run's results, render the Markdown, check a pull request, build the site.

    \b
    One CSV per board in leaderboards/ is the source of truth; the Markdown and the index
    (README.md) are generated from it. Example:
      gibench leaderboard add runs/20250101-120000-cnnspot-cross-generator \\
          --source reproduced --submitter "Jane Doe"
    """


@leaderboard.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--board", default=None,
              help="Board to add to, by name or file name (default: <dataset>-<suite> of the "
                   "run); a new name starts a new board. A run of several datasets goes on "
                   "each dataset's <dataset>-<suite> board, started when missing.")
@click.option("--source", required=True, type=click.Choice(["reproduced", "new"]),
              help="reproduced: a run of the paper's protocol; new: anything else.")
@click.option("--submitter", required=True, help="Your name, as the board shows it.")
@click.option("--reference", default=None,
              help="A link to the run (default: the run's recorded command and git commit).")
@click.option("--train-subset", default=None,
              help="For runs that evaluated given weights (--weights): the subset they were "
                   "trained on.")
@click.option("--replace", is_flag=True,
              help="Replace results the board already holds for the same detector, weights "
                   "(or seed), subsets, degradation and source.")
@click.option("--allow-unpublished-plugin", is_flag=True,
              help="Accept a run whose detector plugin ran from a local folder or with "
                   "uncommitted changes; the row records it (plugin_origin) and the board "
                   "shows it.")
@_ROOT
@click.pass_context
def add(ctx: click.Context, run_dir: Path, board: str | None, source: str, submitter: str,
        reference: str | None, train_subset: str | None, replace: bool,
        allow_unpublished_plugin: bool, root: Path) -> None:
    """Add the results of the run in RUN_DIR to a board, then render it.

    Checks the run's provenance first (run.json complete, versions, git commit, the plugin's
    code published, weights sha256; results.csv belonging to the run, complete and agreeing
    with scores.csv).
    """
    from gibench.leaderboard.runs import add_run

    result = add_run(run_dir, root, source=source, submitter=submitter, board=board,
                     reference=reference, train_subset=train_subset, replace=replace,
                     allow_unpublished_plugin=allow_unpublished_plugin,
                     registry=registry(ctx))
    for part in result.parts or (result,):  # a run of several datasets: one per board
        replaced = f", replacing {part.replaced}" if part.replaced else ""
        click.echo(f"added {part.added} row(s) to {part.board}{replaced}; rendered "
                   f"{part.board.with_suffix('.md')} and {part.board.parent / 'README.md'}")


@leaderboard.command()
@_ROOT
@click.pass_context
def render(ctx: click.Context, root: Path) -> None:
    """Write every board's Markdown and the index (README.md) from the CSV files."""
    from gibench.leaderboard.render import write_rendered

    for path in write_rendered(root, registry(ctx)):
        click.echo(f"wrote {path}")


@leaderboard.command()
@_ROOT
@click.pass_context
def check(ctx: click.Context, root: Path) -> None:
    """Check every board: schema, names, ranges, provenance, duplicates, markup, and that the
    Markdown is what `render` writes. One line per problem (FILE:LINE: problem); exit 1 if any.
    """
    from gibench.leaderboard.check import check_root

    report = check_root(root, registry(ctx))
    for problem in report.problems:
        click.echo(str(problem))
    click.echo(report.summary(), err=not report.ok)
    ctx.exit(0 if report.ok else 1)


@leaderboard.command()
@click.argument("out", type=click.Path(path_type=Path))
@_ROOT
@click.pass_context
def site(ctx: click.Context, out: Path, root: Path) -> None:
    """Render every board into a static web site in OUT (open OUT/index.html, or publish it).

    \b
    An index of the boards and detectors, a page per board (the table sortable by any column,
    provenance footnotes, the robustness plots of boards with degradations) and per detector.
    Every asset is local: no server, nothing fetched from elsewhere. OUT is replaced as a
    whole when it holds a site written by this command; any other non-empty folder is refused.
    """
    from gibench.leaderboard.site import build_site

    pages = build_site(root, out, registry(ctx))
    click.echo(f"wrote {len(pages)} pages to {out} (open {out / 'index.html'})")
