"""Scoring an index of images with a model: the evaluation half of the data flow.

Workers decode and preprocess to uint8; batches travel pinned and non-blocking to the device,
where normalisation, the model (AMP on CUDA, channels_last, inference mode) and the logits stay
until the whole index is scored — no ``.item()`` per batch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from gibench.data.dataset import ImageDataset, make_loader
from gibench.data.layout import ImageIndex
from gibench.engine.device import Normalizer, autocast
from gibench.specs import Transform


@dataclass
class Scores:
    """Per-image logits of one index, aligned with ``index.paths`` minus the skipped files."""

    index: ImageIndex
    positions: np.ndarray  # int64 positions in ``index`` that were scored
    logits: np.ndarray  # float64 logits, positive = fake
    bad: list[tuple[str, str]] = field(default_factory=list)  # (path, reason) of skipped files
    seconds: float = 0.0

    @property
    def labels(self) -> np.ndarray:
        return self.index.labels[self.positions]

    @property
    def paths(self) -> list[str]:
        return [self.index.paths[i] for i in self.positions]


@torch.inference_mode()
def predict(model: torch.nn.Module, index: ImageIndex, transform: Transform, *,
            normalizer: Normalizer, device: torch.device, batch_size: int, workers: int,
            skip_bad: bool = False, seed: int = 0, desc: str = "eval",
            progress: bool = True) -> Scores:
    """Logits of ``model`` for every image of ``index`` (in index order)."""
    start = time.perf_counter()
    model.eval()
    dataset = ImageDataset(index, transform, seed=seed, skip_bad=skip_bad)
    loader = make_loader(dataset, batch_size, shuffle=False, workers=workers, seed=seed,
                         pin_memory=device.type == "cuda")
    logits: list[torch.Tensor] = []
    positions: list[torch.Tensor] = []
    bad: list[tuple[str, str]] = []
    bar = tqdm(loader, desc=desc, unit="batch", leave=False, disable=None if progress else True)
    for batch in bar:
        bad.extend((index.paths[i], reason) for i, reason in batch.bad)
        if batch.images.shape[0] == 0:
            continue
        x = normalizer(batch.images.to(device, non_blocking=True))
        with autocast(device):
            out = model(x).reshape(-1)
        logits.append(out.float())
        positions.append(batch.indices)
    if logits:
        all_logits = torch.cat(logits).double().cpu().numpy()
        all_pos = torch.cat(positions).numpy()
    else:
        all_logits, all_pos = np.zeros(0), np.zeros(0, dtype=np.int64)
    return Scores(index, all_pos, all_logits, bad, time.perf_counter() - start)
