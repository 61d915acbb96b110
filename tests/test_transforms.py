"""gibench.api.compose: the image-op chain every plugin's transforms are made of."""

from __future__ import annotations

import random

import numpy as np
import torch
from PIL import Image

from gibench.api import batch_of, compose, to_uint8_tensor, with_batch


def _flip(img, rng):
    return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def _grey_image():
    arr = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    return Image.fromarray(arr), torch.from_numpy(arr.transpose(2, 0, 1).copy())


def test_compose_applies_the_ops_in_order_and_ends_in_a_uint8_chw_tensor():
    img, chw = _grey_image()
    crop = lambda im, rng: im.crop((1, 0, 5, 3))  # noqa: E731 - (left, top, right, bottom)
    out = compose(crop, _flip)(img.convert("L").convert("RGBA"), random.Random(0))
    expected = to_uint8_tensor(img.convert("L").convert("RGB"))[:, 0:3, 1:5].flip(-1)
    assert out.dtype == torch.uint8 and torch.equal(out, expected)
    assert torch.equal(to_uint8_tensor(img), chw)


def test_compose_is_batched_only_when_every_op_is():
    img, chw = _grey_image()
    flip = with_batch(lambda im, rng: _flip(im, rng), lambda x: x.flip(-1))
    both = compose(flip, flip)
    assert torch.equal(batch_of(both)(chw[None]), both(img, random.Random(0))[None])
    assert batch_of(compose(flip, _flip)) is None
