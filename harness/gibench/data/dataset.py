"""A torch ``Dataset`` over an :class:`~gibench.data.layout.ImageIndex`, and its loader.

Workers decode files and run the detector's CPU-side transform, producing fixed-size uint8
tensors (4× less host→device traffic than float); without a transform they produce the decoded
images themselves, at their native resolution, by the fastest decoder that gives PIL's pixels
(:func:`~gibench.data.images.decode_rgb`). Randomness of sample ``i`` comes from a
:class:`random.Random` seeded with ``(seed, epoch, i)``, so augmentations do not depend on the
worker count or the batch size.

Given several transforms (the evaluation of several detectors in one pass), a worker decodes each
file once and applies every transform to that one decoded image, each with its own
:class:`random.Random` seeded as above: every view is what that transform alone would give.

A :class:`~gibench.errors.GibenchError` raised in a worker (a file that does not decode, without
``skip_bad``) reaches the caller as itself, whatever the worker count: torch's worker
machinery would re-raise it as a ``RuntimeError`` holding the worker's traceback as text (it
rebuilds an exception from one message argument, which :class:`BadImageError` does not take), so
:func:`make_loader`'s loader carries it across as an item (:class:`_Failure`) and raises it in
the caller's process.
"""

from __future__ import annotations

import os
import pickle
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from gibench.data.images import BadImageError, decode_rgb, load_rgb
from gibench.data.layout import ImageIndex
from gibench.errors import GibenchError
from gibench.specs import Transform


@dataclass
class _Failure:
    """A :class:`GibenchError` raised while a worker made an item or a batch: carried to the
    caller's process as data, raised there by :class:`Loader`."""

    error: GibenchError


def _carry(exc: GibenchError) -> _Failure:
    """``exc`` as an item that survives the trip from a worker (an error that cannot be
    pickled travels as a plain :class:`GibenchError` with its message)."""
    if torch.utils.data.get_worker_info() is not None:
        try:
            pickle.loads(pickle.dumps(exc))
        except Exception:
            exc = GibenchError(str(exc))
    return _Failure(exc)


class _Guarded(Dataset):
    """``dataset``, its :class:`GibenchError` returned as a :class:`_Failure` item."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):
        try:
            return self.dataset[i]
        except GibenchError as exc:
            return _carry(exc)


def _guarded_collate(collate_fn):
    """``collate_fn``, a batch holding a :class:`_Failure` collated as that failure."""
    def collate_or_fail(items: list):
        failed = next((it for it in items if isinstance(it, _Failure)), None)
        if failed is not None:
            return failed
        try:
            return collate_fn(items)
        except GibenchError as exc:
            return _carry(exc)
    return collate_or_fail


class Loader(DataLoader):
    """A :class:`DataLoader` whose iteration raises a worker's :class:`GibenchError` as itself
    (see the module doc); its ``dataset`` is the one given to :func:`make_loader`."""

    def __init__(self, dataset: Dataset, **kwargs) -> None:
        self.source = dataset
        super().__init__(_Guarded(dataset), **kwargs)

    def __iter__(self):
        for batch in super().__iter__():
            if isinstance(batch, _Failure):
                raise batch.error
            yield batch


class ImageDataset(Dataset):
    """Items are ``(uint8 CHW tensor, label, index)``, or ``(None, reason, index)`` when
    ``skip_bad`` is set and the file cannot be decoded. ``transform=None``: the tensor is the
    decoded image itself (no resize, no crop), for evaluations that degrade images at their
    native resolution before the detector's transform. ``transform`` a sequence (list or tuple)
    of transforms: the item holds a tuple of tensors, one per transform, all from one decode."""

    def __init__(self, index: ImageIndex, transform: Transform | Sequence[Transform] | None,
                 seed: int = 0, skip_bad: bool = False, align=None) -> None:
        self.index = index
        #: applied to every decoded image first (``gibench.data.align``: --align)
        self.align = align
        self.transform = transform
        self.seed = seed
        self.epoch = 0
        self.skip_bad = skip_bad

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int):
        path = self.index.path(i)
        try:
            if self.align is not None:
                img = self.align(load_rgb(path))
                if self.transform is None:
                    img = torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1)
            else:
                img = decode_rgb(path) if self.transform is None else load_rgb(path)
        except BadImageError as exc:
            if self.skip_bad:
                return None, exc.reason, i
            raise
        if self.transform is None:
            return img, int(self.index.labels[i]), i
        if isinstance(self.transform, (list, tuple)):
            return self._views(img, i), int(self.index.labels[i]), i
        rng = random.Random(f"{self.seed}:{self.epoch}:{i}")
        return self.transform(img, rng), int(self.index.labels[i]), i

    def _views(self, img, i: int) -> tuple[torch.Tensor, ...]:
        """Every transform of the one decoded ``img``: each gets a fresh random generator
        seeded as a lone transform's would be, and all but the last a copy of the image (a
        transform that changed its input in place would otherwise change the next one's)."""
        last = len(self.transform) - 1
        return tuple(t(img if k == last else img.copy(),
                       random.Random(f"{self.seed}:{self.epoch}:{i}"))
                     for k, t in enumerate(self.transform))


@dataclass
class Batch:
    #: uint8 (N, 3, H, W); with several transforms a tuple of them, one per transform
    images: torch.Tensor | tuple[torch.Tensor, ...]
    labels: torch.Tensor  # int64 (N,)
    indices: torch.Tensor  # int64 (N,) positions in the index
    bad: list[tuple[int, str]]  # (index, reason) of skipped files

    def pin_memory(self) -> Batch:
        if isinstance(self.images, tuple):
            self.images = tuple(view.pin_memory() for view in self.images)
        else:
            self.images = self.images.pin_memory()
        self.labels = self.labels.pin_memory()
        return self


def collate(items: list) -> Batch:
    """Stack the decodable items (each view apart when items hold one view per transform); a
    batch with none has an empty ``images`` tensor and no ``indices``."""
    good = [it for it in items if it[0] is not None]
    bad = [(it[2], it[1]) for it in items if it[0] is None]
    if good and isinstance(good[0][0], tuple):
        images = tuple(torch.stack(views) for views in zip(*(it[0] for it in good), strict=True))
    elif good:
        images = torch.stack([it[0] for it in good])
    else:
        images = torch.empty((0, 3, 1, 1), dtype=torch.uint8)
    labels = torch.tensor([it[1] for it in good], dtype=torch.int64)
    indices = torch.tensor([it[2] for it in good], dtype=torch.int64)
    return Batch(images, labels, indices, bad)


@dataclass
class SizeGroups:
    """A batch of native-resolution images, stacked by size: ``groups`` holds one
    :class:`Batch` per distinct ``(H, W)``, in the order the sizes first occur."""

    groups: list[Batch]
    bad: list[tuple[int, str]]

    def pin_memory(self) -> SizeGroups:
        for group in self.groups:
            group.pin_memory()
        return self


def collate_by_size(items: list) -> SizeGroups:
    """Collate images of different sizes: equal sizes are stacked together (in the worker), so
    the device sees a few batched tensors rather than one image at a time."""
    by_size: dict[tuple[int, int], list] = {}
    for it in items:
        if it[0] is not None:
            by_size.setdefault(tuple(it[0].shape[1:]), []).append(it)
    bad = [(it[2], it[1]) for it in items if it[0] is None]
    return SizeGroups([collate(group) for group in by_size.values()], bad)


def default_workers() -> int:
    """Worker processes for decoding: the cores this process may use, shared among the
    processes torchrun started on this node (``LOCAL_WORLD_SIZE``), minus one, at most 32.

    Evaluation on a GPU is bound by decoding, so every core decodes (the cap was 8 before the
    GPU acceptance run measured it: BENCHMARKS.md); each worker is a forked process of a few
    hundred MB."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    try:
        local = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    except ValueError:
        local = 1
    return max(0, min(32, cores // local - 1))


def make_loader(dataset: ImageDataset, batch_size: int, *, shuffle: bool, workers: int,
                seed: int, pin_memory: bool, drop_last: bool = False,
                by_size: bool = False) -> Loader:
    """``by_size``: items are native-resolution images of any size, collated into
    :class:`SizeGroups` (see :func:`collate_by_size`). A :class:`GibenchError` raised making
    an item (a bad file without ``skip_bad``) is raised as itself, from any worker."""
    generator = torch.Generator().manual_seed(seed)
    return Loader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=workers,
        collate_fn=_guarded_collate(collate_by_size if by_size else collate),
        pin_memory=pin_memory,
        drop_last=drop_last,
        generator=generator,
        persistent_workers=False,
        # native-resolution batches are large: keep fewer of them in flight
        prefetch_factor=(2 if by_size else 4) if workers > 0 else None,
    )
