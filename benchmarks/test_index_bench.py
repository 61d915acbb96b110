"""3. Indexing a GenImage-sized split: time and memory of ``index_split`` over a synthetic tree
of 100,000 empty files (``<subset>/val/ai/`` 50,000 PNG names, ``<subset>/val/nature/`` 50,000
ImageNet JPEG names — GenImage's val splits hold about that many images in all).

Memory is measured with :mod:`tracemalloc` (Python allocations): what the finished index keeps
(``retained_mb``) and the peak while it is built (``peak_mb``); ``extra_info`` also extrapolates
both linearly to 1,000,000 images.

    pytest benchmarks/test_index_bench.py -p no:cacheprovider --benchmark-enable --benchmark-only
"""

from __future__ import annotations

import os
import tracemalloc

import numpy as np
import pytest

from gibench.data.layout import index_split
from gibench.specs import FAKE, REAL

N_PER_LABEL = 50_000


@pytest.fixture(scope="module")
def big_tree(tmp_path_factory):
    """``<root>/val/{ai,nature}/`` with 50,000 empty files each, named as GenImage names them."""
    root = tmp_path_factory.mktemp("genimage") / "stable_diffusion_v_1_4"
    for folder, name in (("ai", "{:03d}_sdv4_{:05d}.png"),
                         ("nature", "ILSVRC2012_val_{:08d}.JPEG")):
        directory = root / "val" / folder
        directory.mkdir(parents=True)
        for i in range(N_PER_LABEL):
            stem = name.format(i // 1000, i) if folder == "ai" else name.format(i)
            os.close(os.open(directory / stem, os.O_CREAT | os.O_WRONLY, 0o644))
    return root


def _memory(root) -> tuple[float, float]:
    """(retained, peak) MB of Python allocations for indexing ``root``'s val split."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        index = index_split(root, "val")
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(index) == 2 * N_PER_LABEL
    return (retained - before) / 2**20, (peak - before) / 2**20


def test_index_build(benchmark, big_tree):
    benchmark.group = "3. index 100k files"
    index = benchmark.pedantic(lambda: index_split(big_tree, "val"), rounds=3, iterations=1,
                               warmup_rounds=1)
    # every file, labelled by its folder, sorted
    assert len(index) == 2 * N_PER_LABEL
    assert int(np.count_nonzero(index.labels == FAKE)) == N_PER_LABEL
    assert int(np.count_nonzero(index.labels == REAL)) == N_PER_LABEL
    assert index.paths == sorted(index.paths)
    assert index.paths[0] == "val/ai/000_sdv4_00000.png"
    retained, peak = _memory(big_tree)
    benchmark.extra_info.update(
        files=len(index), retained_mb=round(retained, 1), peak_mb=round(peak, 1),
        bytes_per_image=round(retained * 2**20 / len(index), 1),
        retained_mb_at_1m=round(retained * 10, 0), peak_mb_at_1m=round(peak * 10, 0))
    if benchmark.stats is not None:
        benchmark.extra_info["files_per_s"] = round(len(index) / benchmark.stats.stats.mean)
