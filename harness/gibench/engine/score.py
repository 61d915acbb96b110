"""Scoring a user's own images (files or folders) with a detector's weights.

The paper checks detectors on images from the wild; ``gibench score`` does that for any
folder: one row per image (path, logit, score, prediction at 0.5) and a short summary.
"""

from __future__ import annotations

import datetime as _dt
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gibench.data.dataset import default_workers
from gibench.data.layout import ImageIndex, is_image_file, list_images
from gibench.engine.device import Normalizer, resolve_device
from gibench.engine.evaluate import predict
from gibench.engine.models import load_detector
from gibench.engine.resolve import cap_workers, weights_meta
from gibench.errors import GibenchError
from gibench.metrics import sigmoid
from gibench.outputs import atomic_write_csv, check_output_file, is_file
from gibench.registry import get_registry

SCORE_FILE_COLUMNS = ["path", "logit", "score", "predicted_fake"]


def _collect(paths: list[Path]) -> list[str]:
    """The absolute paths of the image files given and of those in the folders given. Links
    are not resolved: a link loop or a dangling link is listed, and decoding it names it (a bad
    file, skipped and counted with ``skip_bad_images``)."""
    files: list[str] = []
    for path in paths:
        path = Path(path).expanduser()
        try:
            info = path.stat()
        except FileNotFoundError:
            raise GibenchError(f"{path}: no such file or folder") from None
        except (OSError, ValueError) as exc:  # a name too long, a link loop, through a file
            raise GibenchError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from exc
        if stat.S_ISDIR(info.st_mode):
            files.extend(os.path.join(os.path.abspath(path), name) for name in list_images(path))
        elif stat.S_ISREG(info.st_mode):
            if not is_image_file(path.name):
                raise GibenchError(f"{path} is not an image file (by its extension)")
            files.append(os.path.abspath(path))
        else:
            raise GibenchError(f"{path} is not a regular file nor a folder")
    if not files:
        raise GibenchError("no image found in " + ", ".join(map(str, paths)))
    return files


def _paths_argument(paths: Any) -> list[Path]:
    """``paths`` as a list of paths: one path (text or :class:`~pathlib.Path`) is one item,
    never its characters; anything else is a :class:`GibenchError` naming ``paths``."""
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    items = list(paths) if isinstance(paths, (list, tuple)) else None
    bad = paths if items is None else next(
        (p for p in items if not isinstance(p, (str, os.PathLike))), None)
    if items is None or bad is not None:
        raise GibenchError(f"paths: expected a file or folder, or a list of them, got "
                           f"{type(bad).__name__} ({bad!r})")
    return [Path(p) for p in items]


def score(detector: str, weights: str | Path, paths: str | Path | list[str | Path], *,
          input_size: int | None = None, device: str = "auto", batch_size: int | None = None,
          workers: int | None = None, skip_bad_images: bool = False, progress: bool = True,
          out: str | Path | None = None, disabled_plugins: list[str] | None = None,
          fake_class: int | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Score images with ``weights``; returns the per-image table and a summary, and writes the
    table to ``out`` (CSV) when given."""
    paths = _paths_argument(paths)
    if isinstance(disabled_plugins, str):
        disabled_plugins = [disabled_plugins]
    spec = get_registry(disabled_plugins or ()).detector(detector)
    if not isinstance(weights, (str, os.PathLike)):
        raise GibenchError(f"{{weights}} is {type(weights).__name__} ({weights!r}), expected "
                           "a path", params=["weights"])
    weights = Path(weights)
    if not is_file(weights):
        raise GibenchError(f"{{weights=}}{weights}: no such file", params=["weights"])
    if out is not None:  # refused now, not after scoring every image
        check_output_file(Path(out))
    if workers is not None:
        workers = cap_workers(workers)
    recorded = weights_meta(weights, spec.name, input_size)
    if recorded is not None:
        size, load_size, source = recorded.input_size, recorded.load_size, recorded.source
    elif input_size is not None:
        load = spec.preprocess.load_size
        load = None if load is None else round(load * input_size / spec.preprocess.input_size)
        size, load_size, source = input_size, load, "--input-size"
    else:
        size, load_size = spec.preprocess.input_size, spec.preprocess.load_size
        source = "the detector's paper size"
    files = _collect(paths)
    index = ImageIndex(subset="score", split="", root=Path("/"), paths=files,
                       labels=np.zeros(len(files), dtype=np.uint8))
    dev = resolve_device(device)
    model = load_detector(spec, weights, size, dev, fake_class=fake_class)
    scores = predict(model, index, spec.preprocess.make_eval(size, load_size),
                     normalizer=Normalizer.of(spec.preprocess, dev),
                     device=dev, batch_size=batch_size or spec.recipe.batch_size * 2,
                     workers=default_workers() if workers is None else workers,
                     skip_bad=skip_bad_images, desc="score", progress=progress,
                     source=str(weights))
    probs = sigmoid(scores.logits)
    table = pd.DataFrame({"path": scores.paths, "logit": scores.logits, "score": probs,
                          "predicted_fake": probs > 0.5}, columns=SCORE_FILE_COLUMNS)
    summary = {
        "detector": spec.name, "weights": str(weights), "input_size": size,
        "size_from": source, "images": len(table),
        "predicted_fake": int(table.predicted_fake.sum()),
        "mean_score": float(probs.mean()) if len(probs) else float("nan"),
        "skipped": [{"path": p, "reason": r} for p, r in scores.bad],
    }
    if out is not None:
        atomic_write_csv(Path(out), table)
    return table, summary


def default_score_file() -> Path:
    return Path(f"gibench-scores-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}.csv")
