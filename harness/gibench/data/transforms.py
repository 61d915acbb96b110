"""Building a detector's :data:`~gibench.specs.Transform` out of image ops: the end of every
transform (a PIL image to a uint8 tensor) and the chain that keeps the batched form
(:class:`~gibench.specs.BatchedTransform`) when every op has one. Public through
:mod:`gibench.api`.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image

from gibench.specs import batch_of, with_batch

#: ``op(image, rng) -> image``: one step of a transform, on a PIL image; it may carry a
#: batched form (:func:`~gibench.specs.with_batch`) on a uint8 ``(N, 3, H, W)`` batch.
ImageOp = Callable[[Image.Image, random.Random], Image.Image]


def to_uint8_tensor(img: Image.Image) -> torch.Tensor:
    """An RGB PIL image → a uint8 ``(3, H, W)`` tensor (no scaling)."""
    arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


#: ``op(tensor, rng) -> tensor``: a step on the uint8 ``(3, H, W)`` tensor that ends a
#: transform (random erasing, a random mask).
TensorOp = Callable[[torch.Tensor, random.Random], torch.Tensor]


def compose(*ops: ImageOp, then: TensorOp | None = None
            ) -> Callable[[Image.Image, random.Random], torch.Tensor]:
    """Chain image ops into a transform: the image converted to RGB, each op applied in turn
    with the same ``rng``, the result as a uint8 ``(3, H, W)`` tensor, and ``then`` (a
    :data:`TensorOp`, with the same ``rng``) applied to it when given. When every op has a
    batched form and there is no ``then``, the transform gets one too: the ops' batched forms
    in the same order."""

    def transform(img: Image.Image, rng: random.Random) -> torch.Tensor:
        img = img.convert("RGB")
        for op in ops:
            img = op(img, rng)
        out = to_uint8_tensor(img)
        return out if then is None else then(out, rng)

    batched = [batch_of(op) for op in ops]
    if then is None and all(b is not None for b in batched):
        def batch(x: torch.Tensor) -> torch.Tensor:
            for b in batched:
                x = b(x)
            return x

        with_batch(transform, batch)
    return transform
