"""The ``gibench`` command: one package, each command a thin skin over the Python API.

- :mod:`gibench.cli.run` — ``run``, ``eval``, ``score`` (:mod:`gibench.engine.run`,
  :mod:`gibench.engine.score`);
- :mod:`gibench.cli.replay` — ``replay``, ``compare`` (:mod:`gibench.engine.replay`,
  :mod:`gibench.comparison`);
- :mod:`gibench.cli.info` — ``list``, ``plugins`` (the registry);
- :mod:`gibench.cli.data` — ``data check``, ``data audit`` and one ``data NAME`` per dataset
  that a plugin builds on demand (:mod:`gibench.data`);
- :mod:`gibench.cli.leaderboard` — ``leaderboard add | render | check``.

Errors raised by the API (:class:`gibench.errors.GibenchError`) become one-line messages here
(:func:`gibench.cli._common.message`), never tracebacks.
"""

from __future__ import annotations

import click

from gibench.cli import data, info, leaderboard, replay, run
from gibench.cli._common import ErrorGroup


@click.group(cls=ErrorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-p", "plugin_opts", multiple=True, metavar="no:NAME",
              help="Disable the plugin NAME (as pytest's -p no:NAME); repeatable. "
                   "GIBENCH_DISABLE_PLUGINS=NAME,NAME does the same.")
@click.version_option(package_name="gibench")
@click.pass_context
def main(ctx: click.Context, plugin_opts: tuple[str, ...]) -> None:
    """Benchmark detectors of AI-generated images on GenImage and plugin protocols.

    \b
    Quick start (no data needed, runs on the embedded `mini` dataset):
      gibench run --detector cnnspot --suite cross-generator
    On GenImage:
      gibench data check /data/GenImage
      gibench run --detector cnnspot --suite cross-generator --data-root /data/GenImage
    """
    disabled = []
    for opt in plugin_opts:
        if not opt.startswith("no:") or len(opt) <= 3:
            raise click.BadParameter(f"expected no:NAME, got {opt!r}", param_hint="-p")
        disabled.append(opt[3:])
    ctx.obj = {"disabled": disabled}



for command in (run.run, run.eval_, run.score, replay.replay, replay.compare, info.list_,
                info.plugins, data.data, leaderboard.leaderboard):
    main.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    main()
