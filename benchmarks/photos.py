"""Photographs for the benchmarks: windows of scikit-image's photographs, in a fixed order.

Shared by the pytest benchmarks (``conftest.py``) and the GPU acceptance script
(``gpu/acceptance.py``), which import it from this folder."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from PIL import Image
from skimage import data


def photo_crops(n: int, side: int, width: int | None = None) -> Iterator[np.ndarray]:
    """``n`` different ``side``×``width`` (default square) windows of five scikit-image
    photographs (those smaller than twice the window are upscaled first), in a fixed order."""
    height, width = side, width or side
    photos = []
    for photo in (data.astronaut(), data.coffee(), data.chelsea(), data.rocket(),
                  data.immunohistochemistry()):
        h, w = photo.shape[:2]
        scale = max(2 * height / h, 2 * width / w)
        if scale > 1:
            photo = np.asarray(Image.fromarray(photo).resize((round(w * scale),
                                                              round(h * scale))))
        photos.append(photo)
    for i in range(n):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        y, x = (i * 41) % (h - height + 1), (i * 67) % (w - width + 1)
        yield np.ascontiguousarray(photo[y:y + height, x:x + width])
