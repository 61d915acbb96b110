"""What the evaluation benchmarks share: a tree of photographs on disk in GenImage's layout, the
threads, the worker count and batch size both sides of a comparison get, and a small model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from photos import photo_crops
from PIL import Image

from gibench.data.dataset import default_workers
from gibench.data.layout import ImageIndex, index_split

#: 256 files of 256×256: 128 "ai" PNGs and 128 "nature" JPEGs (quality 90), as GenImage mixes
#: generated PNGs with ImageNet JPEGs.
N_FILES, SIDE = 256, 256
BATCH = 64
#: the evaluation's decode workers: gibench's default for this machine
WORKERS = default_workers()
#: torch threads for the model, on both sides of every comparison
THREADS = [1, 2]


@pytest.fixture(scope="session")
def photo_index(tmp_path_factory) -> ImageIndex:
    """The tree ``<root>/val/{ai,nature}/`` of :data:`N_FILES` photographs, indexed."""
    root = tmp_path_factory.mktemp("photos")
    for folder in ("ai", "nature"):
        (root / "val" / folder).mkdir(parents=True)
    for i, crop in enumerate(photo_crops(N_FILES, SIDE)):
        img = Image.fromarray(crop)
        if i % 2:
            img.save(root / "val" / "nature" / f"ILSVRC2012_val_{i:08d}.JPEG", quality=90)
        else:
            img.save(root / "val" / "ai" / f"{i:03d}_sdv4_{i:05d}.png")
    return index_split(Path(root), "val", subset="photos")


@pytest.fixture
def threads(request) -> Iterator[int]:
    """Set torch's intra-op threads to the test's ``threads`` parameter for its duration."""
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


def tiny_cnn(seed: int = 0) -> torch.nn.Module:
    """The toy plugin's detector (two 3×3 convolutions of 8 channels, pooled, one logit): a model
    so small that an evaluation with it is bound by decoding."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 1),
    ).eval().to(memory_format=torch.channels_last)


def record(benchmark, images: int, **extra) -> float | None:
    """Put images/s and ``extra`` in ``extra_info``; return the mean seconds per round (``None``
    under ``--benchmark-disable``)."""
    benchmark.extra_info.update(images=images, torch_threads=torch.get_num_threads(),
                                workers=WORKERS, batch_size=BATCH, **extra)
    if benchmark.stats is None:
        return None
    mean = benchmark.stats.stats.mean
    benchmark.extra_info["images_per_s"] = round(images / mean, 2)
    return mean


def run_rounds(benchmark, fn, rounds: int = 5):
    """``fn`` timed over ``rounds`` rounds after one warm-up round; its last result."""
    return benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)
