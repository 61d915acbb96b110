"""Built-in plugin: the subsets of the embedded ``mini`` dataset (see :mod:`gibench.data.mini`)."""

from __future__ import annotations

from collections.abc import Sequence

from gibench.data.mini import MINI_SUBSETS
from gibench.hookspecs import hookimpl
from gibench.specs import SubsetSpec


@hookimpl
def gibench_add_subsets() -> Sequence[SubsetSpec]:
    return MINI_SUBSETS
