"""Scoring an index of images with a model: the evaluation half of the data flow.

Workers decode and preprocess to uint8; batches travel pinned and non-blocking to the device,
where normalisation, the model (channels_last, inference mode; in fp32 by default, bf16/fp16
autocast on CUDA with ``precision``) and the logits stay until the whole index is scored — no
``.item()`` per batch.

With degradations (:func:`predict_settings`), workers decode only: images travel at their native
resolution, stacked by size; on the device each size group is degraded (batched) under every
setting, then brought to the detector's input by the batched form of its evaluation transform
(``transform.batch``). Every file is decoded once, whatever the number of settings.

Several models in one pass (:func:`predict_many`, :func:`predict_settings_many`): each model is a
:class:`Head` with its own transform and normaliser. The workers decode each file once and apply
every distinct transform (distinct by identity: heads that share a transform object share its
output) to the one decoded image; on the device each head takes its transform's batch, its
normaliser and its model. Every head's scores are those of its own evaluation: on the CPU the
same logits bit for bit, the same positions, the same bad files. The matrix suite and
``gibench eval`` with several weights evaluate this way: a file is decoded once for N models.

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
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from tqdm import tqdm  # not tqdm.auto: see _progress

from gibench.data.dataset import ImageDataset, make_loader
from gibench.data.eval_policy import is_native
from gibench.data.layout import ImageIndex
from gibench.engine.device import Normalizer, autocast
from gibench.errors import GibenchError
from gibench.specs import DegradationSpec, Transform, batch_of


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


@dataclass(frozen=True)
class EvalOptions:
    """How an evaluation reads and scores its images: the options every scoring function of
    this module takes, bundled once (the run context builds one per run; a caller may also pass
    the fields as keywords, which replace the given options' fields).

    ``device``: where the models run; ``batch_size``: images per batch; ``workers``: loader
    processes (0: in this process); ``skip_bad``: skip (and report) files that do not decode
    instead of failing; ``seed``: the base of every per-sample seed (transforms, degradations);
    ``progress``: show a progress bar; ``align``: the alignment applied to every image before
    the transform (:mod:`gibench.data.align`), ``None`` for none; ``precision``: the models'
    on CUDA (:data:`~gibench.engine.device.EVAL_PRECISIONS`; fp32 on the CPU)."""

    device: torch.device
    batch_size: int
    workers: int
    skip_bad: bool = False
    seed: int = 0
    progress: bool = True
    align: Any = None
    precision: str = "fp32"

    @classmethod
    def of(cls, options: EvalOptions | None, **fields: Any) -> EvalOptions:
        """``options`` with ``fields`` replaced; without ``options``, the fields alone."""
        return cls(**fields) if options is None else replace(options, **fields)


def _eval_batches(index: ImageIndex, transforms: tuple[Transform, ...] | None,
                  options: EvalOptions, desc: str, cache=None):
    """The timed, progress-barred batches of an evaluation loader: batches holding one
    preprocessed view per transform, or (``transforms`` None) native-resolution images grouped
    by size. With a ``cache`` (one transform), rows it holds are read instead of decoded."""
    o = options
    if cache is not None:
        if transforms is None or len(transforms) != 1 or transforms[0] is not cache.transform:
            raise ValueError("a decode cache serves one evaluation transform: its own")
        dataset = cache.dataset(seed=o.seed, skip_bad=o.skip_bad, align=o.align, views=True)
    else:
        dataset = ImageDataset(index, transforms, seed=o.seed, skip_bad=o.skip_bad,
                               align=o.align)
    loader = make_loader(dataset, o.batch_size, shuffle=False, workers=o.workers, seed=o.seed,
                         pin_memory=o.device.type == "cuda", by_size=transforms is None)
    timer = PhaseTimer(o.device)
    return _timed(_progress(loader, desc, o.progress), timer), timer


@dataclass(frozen=True, eq=False)
class Head:
    """One model of a shared evaluation, with its own evaluation transform and normaliser.

    Heads whose ``transform`` is the same object share the transform's output (computed once
    per image); other transforms each run on the one decoded image."""

    model: torch.nn.Module
    transform: Transform
    normalizer: Normalizer
    #: the file of the model's weights, named by errors (``None``: "the model")
    source: str | None = None


def _logits(head: Head, images: torch.Tensor, device: torch.device, precision: str,
            timer: PhaseTimer) -> torch.Tensor:
    """One float logit per image of a uint8 batch on the device: ``(N, 3, H, W)``, or
    ``(N, K, 3, S, S)`` — K crops of each image (``--eval-transform multicrop``), whose logits
    are averaged."""
    crops = images.shape[1] if images.dim() == 5 else None
    if crops is not None:
        images = images.flatten(0, 1)
    with timer("preprocess"):
        x = head.normalizer(images)
    with timer("model"), autocast(device, precision):
        out = head.model(x).reshape(-1).float()
    return out if crops is None else out.reshape(-1, crops).mean(dim=1)


def _distinct_transforms(heads: list[Head]) -> tuple[tuple[Transform, ...], list[int]]:
    """The heads' distinct transforms (by identity, in order of first use), and the position
    of each head's transform among them."""
    transforms: list[Transform] = []
    slots: list[int] = []
    for head in heads:
        slot = next((k for k, t in enumerate(transforms) if t is head.transform), None)
        if slot is None:
            slot = len(transforms)
            transforms.append(head.transform)
        slots.append(slot)
    return tuple(transforms), slots


class NonFiniteLogitsError(GibenchError):
    """A model gave NaN or infinite logits: a NaN is no score (every comparison with the
    threshold is false, so the image would count as real)."""


def check_logits(scores: Scores, source: str | None) -> None:
    """Raise :class:`NonFiniteLogitsError` naming the weights (``source``) and the first images
    when any logit of ``scores`` is not finite."""
    bad = np.flatnonzero(~np.isfinite(scores.logits))
    if len(bad):
        first = ", ".join(str(scores.index.path(int(scores.positions[k]))) for k in bad[:3])
        raise NonFiniteLogitsError(
            f"{'weights ' + source if source else 'the model'} gave non-finite logits (NaN or "
            f"infinity) for {len(bad)} of {len(scores.logits)} images (first: {first}): the "
            "weights are broken, or the model overflows on these inputs")


def _ordered_scores(index: ImageIndex, positions: list[torch.Tensor],
                    logits: list[list[torch.Tensor]], bad: list[tuple[str, str]],
                    seconds: float, timings: dict[str, float],
                    device: torch.device, heads: list[Head]) -> list[Scores]:
    """One :class:`Scores` per head's list of per-batch logits, all in index order (the
    batches' ``positions`` sorted); bad files and timings shared. Non-finite logits raise
    :class:`NonFiniteLogitsError` naming the head's weights."""
    if not positions:
        empty = np.zeros(0, dtype=np.int64)
        return [Scores(index, empty, np.zeros(0), list(bad), seconds, dict(timings))
                for _ in logits]
    pos = torch.cat(positions)
    order = torch.argsort(pos)
    all_pos = pos[order].numpy()
    order_dev = order.to(device)
    out = [Scores(index, all_pos, torch.cat(parts)[order_dev].double().cpu().numpy(),
                  list(bad), seconds, dict(timings)) for parts in logits]
    for scores, head in zip(out, heads, strict=True):
        check_logits(scores, head.source)
    return out


@torch.inference_mode()
def predict_many(heads: list[Head], index: ImageIndex, options: EvalOptions | None = None, *,
                 desc: str = "eval", cache=None, **fields: Any) -> list[Scores]:
    """Logits of every head for every image of ``index`` (in index order), each file decoded
    once: one :class:`Scores` per head, each what :func:`predict` gives for that head alone
    (see the module doc). ``seconds`` and ``timings`` are the shared pass's. ``options`` (or
    its fields as keywords): :class:`EvalOptions`.

    ``cache`` (a :class:`~gibench.data.decoded_cache.DecodedCache` of ``index`` under the
    heads' one transform): rows it holds are read instead of decoded, the others are decoded
    and written to it — the same inputs, so the same logits."""
    o = EvalOptions.of(options, **fields)
    if any(is_native(head.transform) for head in heads):  # sizes vary: the by-size path
        if cache is not None:
            raise ValueError("a native-size evaluation has no fixed-size rows to cache")
        return [by_setting[CLEAN.name]
                for by_setting in predict_settings_many(heads, index, [CLEAN], o, desc=desc)]
    start = time.perf_counter()
    for head in heads:
        head.model.eval()
    transforms, slots = _distinct_transforms(heads)
    batches, timer = _eval_batches(index, transforms, o, desc, cache)
    logits: list[list[torch.Tensor]] = [[] for _ in heads]
    positions: list[torch.Tensor] = []
    bad: list[tuple[str, str]] = []
    try:
        for batch in batches:
            bad.extend((index.paths[i], reason) for i, reason in batch.bad)
            if cache is not None:
                cache.store(batch)
            if batch.indices.numel() == 0:
                continue
            with timer("transfer"):
                views = [view.to(o.device, non_blocking=True) for view in batch.images]
            for head, slot, out in zip(heads, slots, logits, strict=True):
                out.append(_logits(head, views[slot], o.device, o.precision, timer))
            positions.append(batch.indices)
    finally:  # an interrupted pass keeps the rows it wrote
        if cache is not None:
            cache.close()
    timings = timer.totals()
    return _ordered_scores(index, positions, logits, bad, time.perf_counter() - start,
                           timings, o.device, heads)


def predict(model: torch.nn.Module, index: ImageIndex, transform: Transform,
            options: EvalOptions | None = None, *, normalizer: Normalizer,
            desc: str = "eval", cache=None, source: str | None = None,
            **fields: Any) -> Scores:
    """Logits of ``model`` for every image of ``index`` (in index order): the one-head case of
    :func:`predict_many` (``source``: the file of its weights, named by errors)."""
    return predict_many([Head(model, transform, normalizer, source)], index, options,
                        desc=desc, cache=cache, **fields)[0]


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
    batched = batch_of(transform)
    if batched is not None:
        return batched(images)
    from PIL import Image

    arrays = images.permute(0, 2, 3, 1).cpu().numpy()
    out = [transform(Image.fromarray(arr), random.Random(f"{seed}:0:{int(i)}"))
           for arr, i in zip(arrays, indices, strict=True)]
    return torch.stack(out).to(device)


@torch.inference_mode()
def predict_settings_many(heads: list[Head], index: ImageIndex, settings: list[Setting],
                          options: EvalOptions | None = None, *, desc: str = "eval",
                          **fields: Any) -> list[dict[str, Scores]]:
    """Logits of every head under every setting, each file decoded once (see the module doc):
    each size group is degraded once per setting, then brought to each distinct transform's
    input once, then through each head's normaliser and model. ``options`` (or its fields as
    keywords): :class:`EvalOptions`.

    Returns, per head, one :class:`Scores` per setting name, in index order like
    :func:`predict` — what :func:`predict_settings` gives for that head alone."""
    o = EvalOptions.of(options, **fields)
    start = time.perf_counter()
    for head in heads:
        head.model.eval()
    transforms, slots = _distinct_transforms(heads)
    batches, timer = _eval_batches(index, None, o, desc)
    # logits[setting][head]: per-batch parts
    logits = [[[] for _ in heads] for _ in settings]
    positions: list[torch.Tensor] = []
    bad: list[tuple[str, str]] = []
    for sized in batches:
        bad.extend((index.paths[i], reason) for i, reason in sized.bad)
        for group in sized.groups:
            with timer("transfer"):
                images = group.images.to(o.device, non_blocking=True)
                seeds = sample_seeds(o.seed, group.indices).to(o.device)
            positions.append(group.indices)
            for setting, per_head in zip(settings, logits, strict=True):
                with timer("preprocess"):
                    degraded = (images if setting.spec is None
                                else setting.spec.apply(images, setting.strength, seeds))
                    inputs = [_to_input(degraded, t, group.indices, o.seed, o.device)
                              for t in transforms]
                for head, slot, out in zip(heads, slots, per_head, strict=True):
                    out.append(_logits(head, inputs[slot], o.device, o.precision, timer))
    timings = timer.totals()
    seconds = time.perf_counter() - start
    by_setting = [_ordered_scores(index, positions, per_head, bad, seconds, timings, o.device,
                                  heads)
                  for per_head in logits]
    return [{setting.name: scores[k] for setting, scores in zip(settings, by_setting,
                                                                  strict=True)}
            for k in range(len(heads))]


def predict_settings(model: torch.nn.Module, index: ImageIndex, transform: Transform,
                     settings: list[Setting], options: EvalOptions | None = None, *,
                     normalizer: Normalizer, desc: str = "eval",
                     **fields: Any) -> dict[str, Scores]:
    """Logits of ``model`` under every setting, each file decoded once (see the module doc):
    the one-head case of :func:`predict_settings_many`.

    Returns one :class:`Scores` per setting name, in index order like :func:`predict`."""
    return predict_settings_many([Head(model, transform, normalizer)], index, settings,
                                 options, desc=desc, **fields)[0]
