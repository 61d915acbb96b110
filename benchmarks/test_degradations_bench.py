"""Throughput of the degradations: the batched ``apply`` against a per-image loop of the CPU
reference (PIL / libjpeg / scipy / numpy), on the same 32 photographs of 256×256.

Not part of the default test run (``testpaths`` is ``tests``). Run it with::

    pytest benchmarks/test_degradations_bench.py --benchmark-enable \\
        --benchmark-json=degradations-bench.json

Each pair shares a benchmark group; ``extra_info`` records images/s, the device and the number
of torch threads. On the CPU both sides get one thread (the references are single-threaded);
on a CUDA machine the batched side also runs on the GPU.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from gibench.degradations import blur, jpeg, lowres, noise

N_IMAGES, SIDE = 32, 256
CASES = {"blur": (blur.SPEC, 3), "lowres": (lowres.SPEC, 112), "jpeg": (jpeg.SPEC, 65),
         "noise": (noise.SPEC, 10)}
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _photographs() -> list[np.ndarray]:
    """32 different 256×256 windows of scikit-image's astronaut, chelsea and coffee."""
    photos = [data.astronaut(), data.chelsea(), data.coffee()]
    out = []
    for i in range(N_IMAGES):
        photo = photos[i % 3]
        h, w = photo.shape[:2]
        y = (i * 37) % (h - SIDE + 1)
        x = (i * 53) % (w - SIDE + 1)
        out.append(np.ascontiguousarray(photo[y:y + SIDE, x:x + SIDE]))
    return out


@pytest.fixture(scope="module")
def images() -> Iterator[list[np.ndarray]]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield _photographs()
    torch.set_num_threads(threads)


def _record(benchmark, device: str) -> None:
    benchmark.extra_info.update(device=device, torch_threads=torch.get_num_threads(),
                                images=N_IMAGES, side=SIDE)
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["images_per_s"] = N_IMAGES / benchmark.stats.stats.mean


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(CASES))
def test_batched_apply(benchmark, images, name, device):
    spec, strength = CASES[name]
    batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous().to(device)
    seeds = torch.arange(N_IMAGES, dtype=torch.int64, device=device)

    def run():
        out = spec.apply(batch, strength, seeds)
        if out.is_cuda:
            torch.cuda.synchronize()
        return out

    benchmark.group = f"{name}:{strength}"
    out = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    assert out.dtype == torch.uint8 and out.shape[0] == N_IMAGES
    _record(benchmark, device)


@pytest.mark.parametrize("name", list(CASES))
def test_reference_loop(benchmark, images, name):
    spec, strength = CASES[name]
    pil = [Image.fromarray(a) for a in images]

    def run():
        return [spec.reference(img, strength, seed) for seed, img in enumerate(pil)]

    benchmark.group = f"{name}:{strength}"
    out = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    assert len(out) == N_IMAGES
    _record(benchmark, "cpu")
