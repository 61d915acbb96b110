"""``--config FILE`` of ``gibench run`` and ``gibench eval``: the file's fields under the
command line's (:func:`gibench.engine.config.read_config_file` reads the file).

An option given on the command line wins over the file; the file wins over an option's default.
Which options were given is click's parameter source, not a comparison with the default, so
``--seed 0`` overrides a file's ``seed = 3``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gibench.cli._common import disabled

#: The :class:`~gibench.engine.config.RunConfig` field an option sets, where its name differs.
_FIELD_OF = {"no_progress": "progress", "detectors": "detector"}
#: Options that set no field.
_NOT_FIELDS = ("config_file", "resume_dir")
_GIVEN = (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT,
          click.core.ParameterSource.PROMPT)

config_option = click.option(
    "--config", "config_file", type=click.Path(path_type=Path, exists=True), default=None,
    metavar="FILE",
    help="Read the configuration from FILE: TOML, YAML or JSON holding what run.json's "
         "'config' holds (the Python names: epochs, batch_size, data_root...), or a run.json "
         "(or its run directory) to run that experiment again. Options given on the command "
         "line override the file; run.json records the merged configuration.")


def file_fields(ctx: click.Context) -> dict[str, Any]:
    """The fields the ``--config`` file sets (read once per command), checked against the
    command's choices; ``{}`` without ``--config``."""
    path = ctx.params.get("config_file")
    if path is None:
        return {}
    if "gibench.config" not in ctx.meta:
        from gibench.engine.config import ConfigFileError, read_config_file

        fields = read_config_file(path)
        params = {_FIELD_OF.get(p.name, p.name): p for p in ctx.command.params}
        for name, value in fields.items():
            param = params.get(name)
            if (param is not None and value is not None and not param.multiple
                    and isinstance(param.type, (click.Choice, click.IntRange))):
                try:
                    param.type.convert(value, param, ctx)
                except click.BadParameter as exc:
                    raise ConfigFileError(f"{path}: {name}: {exc.message}") from None
        ctx.meta["gibench.config"] = fields
    return ctx.meta["gibench.config"]


def given_fields(ctx: click.Context) -> set[str]:
    """The fields set on this command line (``command`` always: it is this one)."""
    given = {_FIELD_OF.get(p.name, p.name) for p in ctx.command.params
             if p.name not in _NOT_FIELDS and ctx.get_parameter_source(p.name) in _GIVEN}
    return given | {"command"} | ({"disabled_plugins"} if disabled(ctx) else set())


def merge(ctx: click.Context, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` (every field, as the command line and its defaults give them) with the
    ``--config`` file's fields where the command line did not give them."""
    fields = file_fields(ctx)
    given = given_fields(ctx)
    return {**options, **{k: v for k, v in fields.items() if k not in given}}
