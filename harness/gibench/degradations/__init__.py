"""The built-in degradations, a plugin like any other (registered as ``degradations``).

The GenImage paper's three (Zhu et al., NeurIPS 2023, robustness study): ``lowres`` (side 112
and 64), ``jpeg`` (quality 65 and 30) and ``blur`` (sigma 3 and 5); two more robustness axes,
``noise`` and ``resize``; and ``jpeg-diff``, Kornia's differentiable approximation of ``jpeg``.
One module each states its interpretation, its CPU reference (PIL / libjpeg / scipy) and its
batched device implementation; docs/degradations.md gathers them with the measured agreement.

Settings are written ``NAME:VALUE`` (:func:`gibench.settings.parse_degradation`, re-exported).
"""

from __future__ import annotations

from gibench.degradations import blur, jpeg, jpeg_diff, lowres, noise, resize
from gibench.hookspecs import hookimpl
from gibench.settings import parse_degradation
from gibench.specs import DegradationSpec

#: In the order ``gibench list degradations`` shows them: the paper's three first.
DEGRADATIONS: tuple[DegradationSpec, ...] = (
    lowres.SPEC, jpeg.SPEC, blur.SPEC, noise.SPEC, resize.SPEC, jpeg_diff.SPEC)


@hookimpl
def gibench_add_degradations() -> list[DegradationSpec]:
    return list(DEGRADATIONS)


__all__ = ["DEGRADATIONS", "gibench_add_degradations", "parse_degradation"]
