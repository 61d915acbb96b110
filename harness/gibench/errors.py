"""The base of the errors a user can act on, and how their messages name parameters.

The engine and the data layer are called from Python and from the command line alike, so an
error names the parameter at fault as its caller gave it: ``weights`` to a Python caller,
``--weights`` on the command line. Its message is a template in which ``{weights}`` marks the
parameter ``weights`` and ``{weights=}`` the parameter followed by its value; the names marked
are declared in ``params``::

    raise GibenchError(f"{{weights=}}{path}: no such file", params=["weights"])

``str(exc)``, what a Python caller sees, reads ``weights=/x/model.pt: no such file``;
``exc.for_cli()``, what the CLI prints, reads ``--weights /x/model.pt: no such file``. Only the
declared names are substituted: any other brace in a message (a dict, a repr) stays as it is.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping

#: The command-line flags whose names differ from the parameters they set (the others are
#: ``--`` and the name with ``_`` as ``-``: ``batch_size`` → ``--batch-size``). A command whose
#: flags differ from these passes its own to :meth:`GibenchError.for_cli`.
CLI_FLAGS: dict[str, str] = {
    "degradations": "--degradation",
    "subset_dirs": "--subset-dir",
    "detectors": "--detector",
    "progress": "--no-progress",
    "disabled_plugins": "-p",
}


def python_name(name: str, valued: bool) -> str:
    """``name`` as a Python caller passes it: ``epochs``, or ``epochs=`` before its value."""
    return name + "=" if valued else name


def cli_flag(name: str, flags: Mapping[str, str] | None = None) -> str:
    """The command-line flag that sets parameter ``name``: ``flags``' or :data:`CLI_FLAGS`'
    entry, else ``--`` and the name with ``_`` as ``-``."""
    for table in (flags or {}, CLI_FLAGS):
        if name in table:
            return table[name]
    return "--" + name.replace("_", "-")


class GibenchError(Exception):
    """An error a user can act on; the CLI prints its message without a traceback.

    The message (the first argument) may mark the parameters it names, each declared in
    ``params``: ``{name}`` names the parameter, ``{name=}`` names it before its value
    (``weights=PATH`` in Python, ``--weights PATH`` on the command line). ``str(exc)``
    spells them as Python parameters, :meth:`for_cli` as command-line flags. A message that
    marks none is printed as given.
    """

    def __init__(self, *args: object, params: Iterable[str] = ()) -> None:
        super().__init__(*args)
        self.params = tuple(params)

    def render(self, spell: Callable[[str, bool], str]) -> str:
        """The message with each declared parameter spelled by ``spell(name, valued)``
        (``valued``: the placeholder was ``{name=}``, a value follows it)."""
        if not self._marks_params():
            return str(self)
        pattern = "|".join(re.escape(name) for name in self.params)

        def spelled(match: re.Match) -> str:
            return spell(match[1], bool(match[2]))

        return re.sub(r"\{(" + pattern + r")(=?)\}", spelled, self.args[0])

    def for_cli(self, flags: Mapping[str, str] | None = None) -> str:
        """The message as the CLI prints it: each declared parameter spelled as its flag
        (:func:`cli_flag`; ``flags`` maps a parameter to the flag of the command running,
        where it differs), ``--flag VALUE`` where a value follows."""
        return self.render(lambda name, valued: cli_flag(name, flags) + (" " if valued else ""))

    def _marks_params(self) -> bool:
        # a subclass that sets its own message (and __str__) declares no parameters
        return bool(getattr(self, "params", ())) and bool(self.args) \
            and isinstance(self.args[0], str)

    def __str__(self) -> str:
        return self.render(python_name) if self._marks_params() else super().__str__()


class PluginError(GibenchError):
    """A plugin's code raised an exception that is not a :class:`GibenchError`: its message
    names the plugin, the call that failed and the exception, in one paragraph."""


#: What a :class:`PluginError` tells the user and the plugin's author after the failure.
_PLUGIN_HINT = ("This is the plugin's own error (or its refusal of an input it was given); "
                "report it to the plugin's authors. A plugin says what a user must change by "
                "raising gibench.api.GibenchError (CONTRIBUTING.md, \"Raising errors from a "
                "plugin\").")


@contextlib.contextmanager
def plugin_call(who: str, call: str) -> Iterator[None]:
    """Run the block as a call into a plugin's code: a :class:`GibenchError` passes unchanged
    (the plugin's message to the user); any other exception becomes a :class:`PluginError`
    naming ``who`` (``detector 'npr' (plugin 'npr', gibench-npr 0.1)``) and ``call``
    (``build(pretrained=None, input_size=224)``), with the original as its cause."""
    try:
        yield
    except GibenchError:
        raise
    except Exception as exc:
        text = " ".join(str(exc).split()) or "(no message)"
        if len(text) > 300:
            text = text[:297] + "..."
        raise PluginError(f"{who} failed in {call}: {type(exc).__name__}: {text}. "
                          + _PLUGIN_HINT) from exc
