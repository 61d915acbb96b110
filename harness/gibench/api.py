"""The public API for plugin authors: everything a plugin may import from gibench.

A plugin imports from here (and implements the hooks of :mod:`gibench.hookspecs`); every other
module of gibench is internal and may change between versions without notice. ::

    from gibench.api import DetectorSpec, Preprocess, Recipe, hookimpl, load_checkpoint

What is here:

- **Hooks**: :data:`hookimpl`, the marker of hook implementations (also ``gibench.hookimpl``).
- **Specs**, the records the registration hooks return: :class:`DetectorSpec` (with its
  :class:`Preprocess` and :class:`Recipe`), :class:`DatasetSpec` (with its :class:`Budget`),
  :class:`SubsetSpec`, :class:`DegradationSpec`, :class:`SuiteSpec`, :class:`ReporterSpec`; the
  labels :data:`FAKE` and :data:`REAL`.
- **Transforms**: :data:`Transform` (``transform(image, rng)`` → uint8 ``(3, S, S)``) and the
  batched-transform protocol (:class:`BatchedTransform`, :data:`BatchOp`, :func:`with_batch`,
  :func:`batch_of`), with :func:`crop_at`, the core's crop that batched centre crops call;
  :func:`compose` chains image ops (:data:`ImageOp`) into a transform ending in
  :func:`to_uint8_tensor`, batched when every op is.
- **Checkpoints**, for converters and builders: :func:`load_checkpoint` (``weights_only``,
  safetensors, training checkpoints), :func:`check_state` (a key-and-shape check whose error
  names every mismatch), :func:`load_state_into` (check, then strict load) and
  :data:`CHECKPOINT_SAFE_GLOBALS`.
- **Suites**: :class:`SuiteContext`, what a suite's ``run`` receives (see
  :mod:`gibench.suite`), with :data:`CLEAN` and :class:`Setting` (imported on first use: they
  pull in the engine, which listing plugins does not need).
- **Errors**: :class:`GibenchError`, the error a plugin raises for a user's mistake (shown as
  a message, without a traceback); ``params`` declares the parameters its message names
  (``{name}``), spelled ``name`` in Python and ``--name`` by the CLI (:mod:`gibench.errors`).

Contract checks for a plugin's tests live in :mod:`gibench.testing`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gibench.data.eval_policy import crop_at
from gibench.data.transforms import ImageOp, TensorOp, compose, to_uint8_tensor
from gibench.errors import GibenchError
from gibench.hookspecs import hookimpl
from gibench.outputs import CHECKPOINT_SAFE_GLOBALS, check_state, load_checkpoint, load_state_into
from gibench.specs import (
    FAKE,
    REAL,
    BatchedTransform,
    BatchOp,
    Budget,
    DatasetSpec,
    DegradationSpec,
    DetectorSpec,
    Preprocess,
    Recipe,
    ReporterSpec,
    SubsetSpec,
    SuiteSpec,
    Transform,
    batch_of,
    with_batch,
)

if TYPE_CHECKING:  # pragma: no cover - imported on first use (see __getattr__)
    from gibench.suite import CLEAN, Setting, SuiteContext

__all__ = [
    "CHECKPOINT_SAFE_GLOBALS", "FAKE", "REAL", "BatchOp", "BatchedTransform", "Budget",
    "DatasetSpec", "DegradationSpec", "DetectorSpec", "GibenchError", "ImageOp", "Preprocess",
    "Recipe", "ReporterSpec", "SubsetSpec", "SuiteSpec", "TensorOp", "Transform", "batch_of",
    "check_state", "compose", "crop_at", "hookimpl", "load_checkpoint", "load_state_into",
    "to_uint8_tensor", "with_batch", "CLEAN", "Setting", "SuiteContext",
]

#: Names imported from :mod:`gibench.suite` when first asked for (it imports the engine).
_SUITE_NAMES = ("CLEAN", "Setting", "SuiteContext")


def __getattr__(name: str):
    if name in _SUITE_NAMES:
        from gibench import suite

        return getattr(suite, name)
    raise AttributeError(f"module 'gibench.api' has no attribute {name!r}")
