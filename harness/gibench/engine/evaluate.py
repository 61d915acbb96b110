"""Scoring an index of images with a model: the evaluation half of the data flow.

Workers decode and preprocess to uint8; batches travel pinned and non-blocking to the device,
where normalisation, the model (AMP on CUDA, channels_last, inference mode) and the logits stay
until the whole index is scored — no ``.item()`` per batch.

With degradations (:func:`predict_settings`), workers decode only: images travel at their native
resolution, stacked by size; on the device each size group is degraded (batched) under every
setting, then brought to the detector's input by the batched form of its evaluation transform
(``transform.batch``). Every file is decoded once, whatever the number of settings.

Both record where the time went (:attr:`Scores.timings`, see :class:`PhaseTimer`): waiting for
the loader (decode-bound time), the host→device copy, the on-device preprocessing (degradations,
batched transform, normalisation) and the model's forward pass.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm  # not tqdm.auto: see _progress

from gibench.data.dataset import ImageDataset, make_loader
from gibench.data.layout import ImageIndex
from gibench.engine.device import Normalizer, autocast
from gibench.specs import DegradationSpec, Transform


@dataclass
class Scores:
    """Per-image logits of one index, aligned with ``index.paths`` minus the skipped files."""

    index: ImageIndex
    positions: np.ndarray  # int64 positions in ``index`` that were scored
    logits: np.ndarray  # float64 logits, positive = fake
    bad: list[tuple[str, str]] = field(default_factory=list)  # (path, reason) of skipped files
    seconds: float = 0.0
    #: seconds per phase (:data:`PHASES`); on the CPU they sum to at most ``seconds``
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def labels(self) -> np.ndarray:
        return self.index.labels[self.positions]

    @property
    def paths(self) -> list[str]:
        return [self.index.paths[i] for i in self.positions]


#: The phases of an evaluation loop, as :attr:`Scores.timings` names them: ``wait_data`` —
#: blocked on the loader (decoding and CPU preprocessing not hidden behind the device work);
#: ``transfer`` — host→device copy; ``preprocess`` — on-device degradations, batched transform and
#: normalisation; ``model`` — the forward pass.
PHASES = ("wait_data", "transfer", "preprocess", "model")


class PhaseTimer:
    """Seconds spent in each phase of an evaluation loop (``with timer("model"): ...``).

    On the CPU every phase is timed by the wall clock. On CUDA, where the device phases are
    asynchronous, they are timed by CUDA events recorded on the current stream and read once in
    :meth:`totals` (no synchronisation per batch); ``wait_data`` stays on the wall clock. The
    device then works on one batch while the host waits for the next, so on CUDA the phases may
    sum to more than the loop's wall time — the overlap the pipeline is for.
    """

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.seconds = dict.fromkeys(PHASES, 0.0)
        self._events: deque[tuple[str, torch.cuda.Event, torch.cuda.Event]] = deque()

    @contextlib.contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        if self.cuda and phase != "wait_data":
            start, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
            start.record()
            yield
            end.record()
            self._events.append((phase, start, end))
            if len(self._events) > 512:  # bounded: read the pairs the GPU has finished
                self._read(lambda event: event.query())
        else:
            t = time.perf_counter()
            yield
            self.seconds[phase] += time.perf_counter() - t

    def _read(self, finished) -> None:
        """Add up the recorded event pairs, oldest first, while ``finished(end event)``."""
        while self._events and finished(self._events[0][2]):
            phase, start, end = self._events.popleft()
            self.seconds[phase] += start.elapsed_time(end) / 1000.0

    def totals(self) -> dict[str, float]:
        """The seconds per phase (on CUDA, after waiting for the recorded work to finish)."""
        if self._events:
            self._events[-1][2].synchronize()
            self._read(lambda event: True)
        return dict(self.seconds)


def _progress(loader, desc: str, progress: bool):
    """A progress bar over ``loader``. Not ``tqdm.auto``'s: its class (``tqdm.asyncio``'s) calls
    ``iter()`` on the loader when built, which starts a second set of workers that decode batches
    nobody reads (tqdm issues 1467 and 1598) — measured: twice the decode time."""
    return tqdm(loader, desc=desc, unit="batch", leave=False, disable=None if progress else True)


def _timed(loader, timer: PhaseTimer) -> Iterator:
    """The loader's batches, the time spent waiting for each counted as ``wait_data``."""
    batches = iter(loader)
    while True:
        with timer("wait_data"):
            batch = next(batches, None)
        if batch is None:
            return
        yield batch


def _eval_batches(index: ImageIndex, transform: Transform | None, *, device: torch.device,
                  batch_size: int, workers: int, seed: int, skip_bad: bool, align, desc: str,
                  progress: bool):
    """The timed, progress-barred batches of an evaluation loader: preprocessed batches, or
    (``transform`` None) native-resolution images grouped by size."""
    dataset = ImageDataset(index, transform, seed=seed, skip_bad=skip_bad, align=align)
    loader = make_loader(dataset, batch_size, shuffle=False, workers=workers, seed=seed,
                         pin_memory=device.type == "cuda", by_size=transform is None)
    timer = PhaseTimer(device)
    return _timed(_progress(loader, desc, progress), timer), timer


@torch.inference_mode()
def predict(model: torch.nn.Module, index: ImageIndex, transform: Transform, *,
            normalizer: Normalizer, device: torch.device, batch_size: int, workers: int,
            skip_bad: bool = False, seed: int = 0, desc: str = "eval",
            progress: bool = True, align=None) -> Scores:
    """Logits of ``model`` for every image of ``index`` (in index order)."""
    start = time.perf_counter()
    model.eval()
    batches, timer = _eval_batches(index, transform, device=device, batch_size=batch_size,
                                   workers=workers, seed=seed, skip_bad=skip_bad, align=align,
                                   desc=desc, progress=progress)
    logits: list[torch.Tensor] = []
    positions: list[torch.Tensor] = []
    bad: list[tuple[str, str]] = []
    for batch in batches:
        bad.extend((index.paths[i], reason) for i, reason in batch.bad)
        if batch.images.shape[0] == 0:
            continue
        with timer("transfer"):
            images = batch.images.to(device, non_blocking=True)
        with timer("preprocess"):
            x = normalizer(images)
        with timer("model"), autocast(device):
            logits.append(model(x).reshape(-1).float())
        positions.append(batch.indices)
    if logits:
        all_logits = torch.cat(logits).double().cpu().numpy()
        all_pos = torch.cat(positions).numpy()
    else:
        all_logits, all_pos = np.zeros(0), np.zeros(0, dtype=np.int64)
    return Scores(index, all_pos, all_logits, bad, time.perf_counter() - start, timer.totals())


@dataclass(frozen=True)
class Setting:
    """One evaluation condition: clean (``spec`` is ``None``) or a degradation at a strength.
    ``name`` is what result rows carry in their ``degradation`` column (``none``, ``jpeg:65``)."""

    name: str
    spec: DegradationSpec | None = None
    strength: float | None = None


CLEAN = Setting("none")


def sample_seeds(seed: int, indices: torch.Tensor) -> torch.Tensor:
    """The degradation seed of each sample: (base seed, position in the index) packed into one
    int64, so a sample is degraded the same whatever its batch, worker or process."""
    return (int(seed) & 0x7FFFFFFF) * (1 << 32) + indices.to(torch.int64)


def _to_input(images: torch.Tensor, transform: Transform, indices: torch.Tensor, seed: int,
              device: torch.device) -> torch.Tensor:
    """Native-resolution uint8 batch → the detector's input batch, on the device.

    The transform's batched form runs on the device; a transform without one (a third-party
    detector's) runs per image on the CPU, as in the plain evaluation path."""
    batched = getattr(transform, "batch", None)
    if batched is not None:
        return batched(images)
    from PIL import Image

    arrays = images.permute(0, 2, 3, 1).cpu().numpy()
    out = [transform(Image.fromarray(arr), random.Random(f"{seed}:0:{int(i)}"))
           for arr, i in zip(arrays, indices, strict=True)]
    return torch.stack(out).to(device)


@torch.inference_mode()
def predict_settings(model: torch.nn.Module, index: ImageIndex, transform: Transform,
                     settings: list[Setting], *, normalizer: Normalizer, device: torch.device,
                     batch_size: int, workers: int, skip_bad: bool = False, seed: int = 0,
                     desc: str = "eval", progress: bool = True,
                     align=None) -> dict[str, Scores]:
    """Logits of ``model`` under every setting, each file decoded once (see the module doc).

    Returns one :class:`Scores` per setting name, in index order like :func:`predict`."""
    start = time.perf_counter()
    model.eval()
    batches, timer = _eval_batches(index, None, device=device, batch_size=batch_size,
                                   workers=workers, seed=seed, skip_bad=skip_bad, align=align,
                                   desc=desc, progress=progress)
    logits: dict[str, list[torch.Tensor]] = {s.name: [] for s in settings}
    positions: list[torch.Tensor] = []
    bad: list[tuple[str, str]] = []
    for sized in batches:
        bad.extend((index.paths[i], reason) for i, reason in sized.bad)
        for group in sized.groups:
            with timer("transfer"):
                images = group.images.to(device, non_blocking=True)
                seeds = sample_seeds(seed, group.indices).to(device)
            positions.append(group.indices)
            for setting in settings:
                with timer("preprocess"):
                    degraded = (images if setting.spec is None
                                else setting.spec.apply(images, setting.strength, seeds))
                    x = normalizer(_to_input(degraded, transform, group.indices, seed, device))
                with timer("model"), autocast(device):
                    logits[setting.name].append(model(x).reshape(-1).float())
    timings = timer.totals()
    seconds = time.perf_counter() - start
    if positions:
        pos = torch.cat(positions)
        order = torch.argsort(pos)
        all_pos = pos[order].numpy()
        order_dev = order.to(device)
        out = {name: torch.cat(parts)[order_dev].double().cpu().numpy()
               for name, parts in logits.items()}
    else:
        all_pos = np.zeros(0, dtype=np.int64)
        out = {name: np.zeros(0) for name in logits}
    return {name: Scores(index, all_pos, values, list(bad), seconds, dict(timings))
            for name, values in out.items()}
