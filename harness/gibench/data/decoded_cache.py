"""A persistent cache of decoded, preprocessed evaluation inputs (``--decode-cache``).

On a GPU machine an evaluation is bound by decoding: a 512² PNG takes milliseconds per core,
the model a fraction of that. Evaluating the same test set again — another checkpoint, the
matrix suite's next run, a rerun with other metrics — decodes every file again. With the cache,
the first evaluation also writes each image's preprocessed uint8 tensor (the detector's
evaluation transform applied to the decoded file: ``3 × S × S`` bytes) to one file per
(index, transform); later evaluations read those bytes instead of decoding.

Exactly reproducible: a cached row is the very tensor the transform produced, so scores are
bit-for-bit those of an uncached evaluation (tested). A cache entry is keyed by
- every file's identity: its path under the index root, size and modification time (a file
  replaced or touched is a different entry);
- the transform: a description from the caller (detector, its plugin's version, sizes,
  alignment) and a fingerprint of the transform's output on two probe images, so a change of the
  transform's code changes the key. A transform whose output depends on the random generator
  or whose output size depends on the image's (native-size evaluation) is not cached.

Files under the cache folder: ``<key>.u8`` (the rows, ``row = index position``), ``<key>.done.npy``
(which rows are filled) and ``<key>.json`` (what the key was made of, the bad files). An
interrupted evaluation keeps the rows it marked done; rows are written with ``pwrite`` (a full
disk raises an error naming the folder, never a crash), the done marks last, atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from gibench.data.images import BadImageError
from gibench.data.layout import ImageIndex
from gibench.errors import GibenchError
from gibench.outputs import atomic_write_json

CACHE_VERSION = 1
#: the probe images' sizes (height, width): odd, of different aspect ratios
_PROBES = ((97, 131), (150, 83))


def _probe_image(height: int, width: int):
    from PIL import Image

    rng = np.random.default_rng(height * 1000 + width)
    yy, xx = np.mgrid[:height, :width]
    arr = (np.stack([yy * 255 / height, xx * 255 / width, (yy + xx) % 256], axis=-1)
           + rng.normal(0, 12, size=(height, width, 3)))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def transform_fingerprint(transform) -> tuple[str, tuple[int, ...]] | None:
    """(sha256 of the transform's outputs on the probe images, the output shape), or ``None``
    when the transform cannot be cached: its outputs differ under two random generators, or
    their size follows the image's."""
    digest = hashlib.sha256()
    shapes = set()
    for height, width in _PROBES:
        image = _probe_image(height, width)
        a = transform(image, random.Random(1))
        b = transform(image, random.Random(2))
        if not isinstance(a, torch.Tensor) or a.dtype != torch.uint8 or not torch.equal(a, b):
            return None
        shapes.add(tuple(a.shape))
        digest.update(a.contiguous().numpy().tobytes())
    if len(shapes) != 1:
        return None
    return digest.hexdigest(), shapes.pop()


def _identities(index: ImageIndex) -> list[list]:
    """(path, size, mtime_ns) of every file; a file that cannot be stat'ed is ``[path]``."""
    out = []
    for rel in index.paths:
        try:
            st = os.stat(index.resolve(rel))  # an extra root's @NAME/... too
            out.append([rel, st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([rel])
    return out


class DecodedCache:
    """The cached rows of one index under one transform (see the module doc).

    :meth:`dataset` gives a torch ``Dataset`` that reads the filled rows and decodes the others;
    :meth:`store` (in the evaluating process) writes the decoded rows of a batch; :meth:`close`
    marks them done. ``hits`` and ``stored`` count the rows read and written."""

    def __init__(self, folder: Path, index: ImageIndex, transform, description: str) -> None:
        fingerprint = transform_fingerprint(transform)
        if fingerprint is None:
            raise GibenchError(f"the evaluation transform of {description} is random or keeps "
                               "each image's size: its outputs cannot be cached "
                               "(leave out {decode_cache})", params=["decode_cache"])
        self.folder = Path(folder)
        self.index = index
        self.transform = transform
        self.shape = tuple(fingerprint[1])
        self.row_bytes = int(np.prod(self.shape))
        made_of = {"version": CACHE_VERSION, "description": description,
                   "transform": fingerprint[0], "shape": list(self.shape),
                   "root": str(Path(index.root).resolve()), "files": _identities(index)}
        if index.extra_roots:  # only then: the keys of existing caches stay as they were
            made_of["extra_roots"] = {k: str(Path(v).resolve())
                                      for k, v in sorted(index.extra_roots.items())}
        self.key = hashlib.sha256(json.dumps(made_of).encode()).hexdigest()[:32]
        self.data_path = self.folder / f"{self.key}.u8"
        self.done_path = self.folder / f"{self.key}.done.npy"
        self.manifest_path = self.folder / f"{self.key}.json"
        self.hits = self.stored = 0
        self.folder.mkdir(parents=True, exist_ok=True)
        size = self.row_bytes * len(index)
        existing = self.data_path.stat().st_size if self.data_path.exists() else 0
        free = shutil.disk_usage(self.folder).free
        if size - existing > free:
            raise GibenchError(f"{{decode_cache}}: {self.folder} needs {size / 1e9:.2f} GB for "
                               f"{len(index)} images of {self.shape} bytes, {free / 1e9:.2f} GB "
                               "are free (choose another folder with GIBENCH_CACHE)",
                               params=["decode_cache"])
        self.done = np.zeros(len(index), dtype=bool)
        self.bad: dict[int, str] = {}
        if existing == size and self.done_path.exists() and self.manifest_path.exists():
            try:
                done = np.load(self.done_path)
                manifest = json.loads(self.manifest_path.read_text())
                if done.shape == self.done.shape and done.dtype == bool:
                    self.done = done
                    self.bad = {int(k): v for k, v in manifest.get("bad", {}).items()}
            except (OSError, ValueError):
                pass  # unreadable marks: the rows are decoded and written again
        if existing != size:
            with open(self.data_path, "wb") as fh:
                fh.truncate(size)
        #: what the key was made of (less the file list), written with the bad files by close()
        self._manifest = {**{k: v for k, v in made_of.items() if k != "files"},
                          "n": len(index), "subset": index.subset, "split": index.split}
        self._fd: int | None = None

    # -- reading (any process) -------------------------------------------------------------
    @property
    def complete(self) -> bool:
        return bool(self.done.all())

    def dataset(self, *, seed: int = 0, skip_bad: bool = False, align=None,
                views: bool = False) -> Dataset:
        """Items as :class:`~gibench.data.dataset.ImageDataset`'s (with ``views``, its items of
        a one-transform list): filled rows from the cache, the others decoded (and then
        :meth:`store`'d by the caller)."""
        from gibench.data.dataset import ImageDataset

        self.hits = int(self.done.sum()) + sum(1 for i in self.bad if not self.done[i])
        inner = ImageDataset(self.index, (self.transform,) if views else self.transform,
                             seed=seed, skip_bad=skip_bad, align=align)
        return _CachedDataset(inner, str(self.data_path), self.done.copy(), dict(self.bad),
                              self.shape, skip_bad, views)

    # -- writing (the evaluating process) --------------------------------------------------
    def store(self, batch) -> None:
        """Write the rows of ``batch`` (a :class:`~gibench.data.dataset.Batch` of this cache's
        index positions) not yet in the cache, and remember its bad files."""
        for i, reason in batch.bad:
            self.bad[int(i)] = reason
        if batch.indices.numel() == 0:
            return
        if self._fd is None:
            self._fd = os.open(self.data_path, os.O_WRONLY)
        images = batch.images[0] if isinstance(batch.images, tuple) else batch.images
        if images.dtype != torch.uint8 or tuple(images.shape[1:]) != self.shape:
            raise GibenchError(f"cannot cache a batch of {tuple(images.shape[1:])} "
                               f"{images.dtype} images in rows of {self.shape} uint8")
        arrays = images.contiguous().numpy()
        for row, i in zip(arrays, batch.indices.tolist(), strict=True):
            if self.done[i]:
                continue
            try:
                os.pwrite(self._fd, row.tobytes(), i * self.row_bytes)
            except OSError as exc:
                raise GibenchError(f"{{decode_cache}}: cannot write {self.data_path}: {exc}",
                                   params=["decode_cache"]) from exc
            self.done[i] = True
            self.stored += 1

    def close(self) -> None:
        """Flush the rows written and mark them done (atomically)."""
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
        tmp = self.done_path.with_suffix(".tmp.npy")
        np.save(tmp, self.done)
        os.replace(tmp, self.done_path)
        atomic_write_json(self.manifest_path,
                          {**self._manifest, "bad": {str(k): v for k, v in self.bad.items()}})

    def record(self) -> dict[str, Any]:
        """What ``run.json`` says of this cache."""
        return {"folder": str(self.folder), "key": self.key, "images": len(self.index),
                "read": self.hits, "written": self.stored}


class _CachedDataset(Dataset):
    """Rows marked done are read from the cache file; the others go to ``inner``."""

    def __init__(self, inner, data_path: str, done: np.ndarray, bad: dict[int, str],
                 shape: tuple[int, ...], skip_bad: bool, views: bool) -> None:
        self.inner = inner
        self.data_path = data_path
        self.done = done
        self.bad = bad
        self.shape = shape
        self.row_bytes = int(np.prod(shape))
        self.skip_bad = skip_bad
        self.views = views
        self._fd: int | None = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, i: int):
        if i in self.bad:  # a file that could not be decoded when the row was written
            if self.skip_bad:
                return None, self.bad[i], i
            raise BadImageError(self.inner.index.path(i), self.bad[i])
        if not self.done[i]:
            return self.inner[i]
        if self._fd is None or self._pid != os.getpid():  # one descriptor per worker
            self._fd, self._pid = os.open(self.data_path, os.O_RDONLY), os.getpid()
        data = os.pread(self._fd, self.row_bytes, i * self.row_bytes)
        row = torch.frombuffer(bytearray(data), dtype=torch.uint8).reshape(self.shape)
        return (row,) if self.views else row, int(self.inner.index.labels[i]), i

    def __getstate__(self) -> dict:  # a worker opens its own descriptor
        return {**self.__dict__, "_fd": None, "_pid": None}
