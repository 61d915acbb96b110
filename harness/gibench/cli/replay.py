"""``gibench replay`` and ``gibench compare``: a recorded run again
(:func:`gibench.engine.replay.replay`), and whether two runs agree
(:func:`gibench.comparison.compare`)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import click

from gibench.errors import GibenchError


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="The new run directory; it must not exist yet, or be empty (default: "
                   "runs/<timestamp>-<detector>-<suite>-replay). For a run of a shared pass: "
                   "the folder of the pass's new run directories.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def replay(run_dir: Path, out: Path | None, no_progress: bool) -> None:
    """Run the experiment recorded in RUN_DIR again, into a new run directory.

    The configuration is RUN_DIR/run.json's, as recorded; to change part of it, use
    `gibench run --config RUN_DIR/run.json --OPTION VALUE`. Warns when the versions or the
    device differ from the recorded ones. On the CPU the replay writes the same scores.csv,
    byte for byte: check it with `gibench compare RUN_DIR NEW_DIR`.

    \b
    Example:
      gibench replay runs/20261125-120000-cnnspot-cross-generator --out runs/again
      gibench compare runs/20261125-120000-cnnspot-cross-generator runs/again
    """
    from gibench.cli.run import _summary
    from gibench.engine.replay import replay as replay_run

    overrides = {"progress": False} if no_progress else {}
    new = replay_run(run_dir, out, command=shlex.join(["gibench", *sys.argv[1:]]),
                     **overrides)
    _summary(new)
    click.echo(f"replay of {run_dir}; compare them with: gibench compare {run_dir} {new}")


@click.command()
@click.argument("run_a", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.argument("run_b", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.option("--atol", type=float, default=0.0, show_default=True,
              help="Scores whose logits differ by at most this much count as equal (0: "
                   "exactly; e.g. 1e-4 to compare a GPU run with a CPU run).")
def compare(run_a: Path, run_b: Path, as_json: bool, atol: float) -> None:
    """Say whether two runs agree: configuration (less what is expected to differ: run
    directory, command line, data and weights paths, how it ran), versions (gibench, torch,
    plugins, git), per-image scores (identical, or max |Δ logit| and how many images differ)
    and each result row's metrics with their bootstrap 95% intervals.

    Exit status 0 when they agree, 1 when they differ, 2 when a run directory cannot be read.

    \b
    Example:
      gibench compare runs/A runs/B
      gibench compare runs/A runs/B --json > comparison.json
    """
    from gibench.comparison import compare as compare_runs

    try:
        result = compare_runs(run_a, run_b, atol=atol)
    except GibenchError as exc:
        error = click.ClickException(exc.for_cli())
        error.exit_code = 2
        raise error from exc
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else result.render())
    sys.exit(0 if result.agree else 1)
