"""Decoders, file by file: PIL (``load_rgb`` and its conversion to a uint8 tensor) against
torchvision's ``decode_image`` on the file's bytes, for PNG and JPEG (quality 90) photographs of
256 and 512 pixels, one thread — the measurements behind :func:`gibench.data.images.decode_rgb`
(torchvision for plain JPEGs, PIL for PNG; see its module doc), and ``decode_rgb`` itself.

    pytest benchmarks/test_decode_bench.py -p no:cacheprovider --benchmark-enable --benchmark-only
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from photos import photo_crops
from PIL import Image

from gibench.data.images import decode_rgb, load_rgb

N = 32
DECODERS = ["pil", "torchvision", "decode_rgb"]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[tuple[str, int], list]:
    root = tmp_path_factory.mktemp("decode")
    out: dict[tuple[str, int], list] = {}
    for side in (256, 512):
        for i, crop in enumerate(photo_crops(N, side)):
            for fmt in ("png", "jpg"):
                path = root / f"{side}_{i:02d}.{fmt}"
                Image.fromarray(crop).save(path, quality=90)
                out.setdefault((fmt, side), []).append(path)
    return out


def _pil(path) -> torch.Tensor:
    return torch.from_numpy(np.array(load_rgb(path))).permute(2, 0, 1)


def _torchvision(path) -> torch.Tensor:
    from torchvision.io import ImageReadMode, decode_image

    with open(path, "rb") as f:
        data = bytearray(f.read())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return decode_image(torch.frombuffer(data, dtype=torch.uint8), mode=ImageReadMode.RGB)


@pytest.mark.parametrize("threads", [1], indirect=True)
@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize("side", [256, 512])
@pytest.mark.parametrize("fmt", ["jpg", "png"])
def test_decode(benchmark, files, fmt, side, decoder, threads):
    paths = files[(fmt, side)]
    decode = {"pil": _pil, "torchvision": _torchvision, "decode_rgb": decode_rgb}[decoder]
    benchmark.group = f"decode {fmt} {side}px"
    out = benchmark.pedantic(lambda: [decode(p) for p in paths], rounds=7, iterations=1,
                             warmup_rounds=1)
    for path, image in zip(paths, out, strict=True):  # PIL's pixels, whichever decoder
        assert torch.equal(image, _pil(path))
    benchmark.extra_info.update(files=N, side=side, format=fmt, torch_threads=threads)
    if benchmark.stats is not None:
        benchmark.extra_info["ms_per_file"] = round(benchmark.stats.stats.min / N * 1e3, 3)
