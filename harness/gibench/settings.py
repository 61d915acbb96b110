"""Degradation settings as written on the command line: ``jpeg:65``, ``blur:3``, ``lowres``.

A core module: the engine parses settings here and looks their names up in the registry,
whichever plugin provides the degradation.

Parsing does not look names up: the caller resolves the name through the registry
(``registry.degradation(name)``, which suggests close matches) and, when no strength was
written, uses the spec's ``default`` (:meth:`gibench.suite.SuiteContext.setting`).
"""

from __future__ import annotations

import math
import re

from gibench.errors import GibenchError

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9._\-]*")
_EXAMPLES = "e.g. jpeg:65, blur:3, lowres:112, or a name alone for its default strength"


def parse_degradation(text: str) -> tuple[str, float | None]:
    """``"NAME:VALUE"`` → ``(NAME, float(VALUE))``; ``"NAME"`` → ``(NAME, None)``, meaning the
    spec's default. Surrounding spaces are ignored; anything else is a :class:`GibenchError`."""
    name, sep, value = text.strip().partition(":")
    name, value = name.strip(), value.strip()
    if not _NAME.fullmatch(name):
        raise GibenchError(f"bad degradation {text!r}: expected NAME or NAME:VALUE "
                           f"({_EXAMPLES})")
    if not sep:
        return name, None
    try:
        strength = float(value)
    except ValueError:
        strength = math.nan
    if not math.isfinite(strength):
        raise GibenchError(f"bad degradation {text!r}: {value!r} is not a finite number "
                           f"({_EXAMPLES})")
    return name, strength

