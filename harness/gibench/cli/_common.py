"""What every ``gibench`` command shares: the plugin registry of the invocation and the
translation of errors into one-line messages."""

from __future__ import annotations

import click

from gibench.errors import GibenchError


def disabled(ctx: click.Context) -> list[str]:
    """The plugins disabled with ``-p no:NAME`` on this command line."""
    return (ctx.find_root().obj or {}).get("disabled", [])


def registry(ctx: click.Context, strict: bool = True):
    """The plugin registry, without the plugins this command line disabled; ``strict``: a
    name clash between plugins is an error (the listing commands show it instead)."""
    from gibench.registry import get_registry

    return get_registry(disabled(ctx), strict=strict)


def warn_conflicts(reg) -> None:
    """Print the registry's name clashes on stderr (for the listing commands)."""
    for conflict in reg.conflicts:
        click.echo(f"conflict: {conflict}", err=True)


def subset_list(value: str | None) -> list[str] | None:
    """``a, b,c`` → ``["a", "b", "c"]``; ``None`` when nothing was given."""
    return [s.strip() for s in value.split(",") if s.strip()] if value else None


def message(exc: GibenchError) -> str:
    """The error's message as a command-line user reads it: the parameters it names spelled as
    their flags (:meth:`GibenchError.for_cli`: ``weights`` → ``--weights``)."""
    return exc.for_cli()


class ErrorGroup(click.Group):
    """Turns :class:`GibenchError` into a one-line message and exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except GibenchError as exc:
            raise click.ClickException(message(exc)) from exc
