"""Built-in plugin: the subsets of ``mini-biased``, mini whose real images carry a shortcut
(JPEG and/or another size), plus its placebo subset (see
:func:`gibench.data.mini.ensure_mini_biased`)."""

from __future__ import annotations

from collections.abc import Sequence

from gibench.data.mini import MINI_BIASED_SUBSETS
from gibench.hookspecs import hookimpl
from gibench.specs import SubsetSpec


@hookimpl
def gibench_add_subsets() -> Sequence[SubsetSpec]:
    return MINI_BIASED_SUBSETS
