"""A run's configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RunConfig:
    """Everything that defines a run; recorded in full in ``run.json``."""

    detector: str
    suite: str = "cross-generator"
    #: one folder, or ``{NAME: folder}`` (NAME a dataset, or ``DATASET.ROOT`` for one of its
    #: extra roots; gibench.data.datasets.DataRoot); None: the dataset built on demand
    data_root: Path | dict[str, Path] | None = None
    #: None: inferred (the dataset built when there is no data root, else the one that
    #: recognises the data root; gibench.data.datasets)
    dataset: str | None = None
    train_subset: str | None = None
    test_subsets: list[str] | None = None
    #: a user's folders used as extra test subsets: name -> (folder, label 0 real / 1 fake)
    subset_dirs: dict[str, tuple[Path, int]] = field(default_factory=dict)
    #: degradations to evaluate under besides the clean images, as ``NAME:STRENGTH`` (``jpeg:65``)
    degradations: list[str] = field(default_factory=list)
    #: alignments of every test image (``jpeg:96``, ``size:256``; gibench.data.align)
    align: list[str] = field(default_factory=list)
    #: alignments of every training (and held-out) image
    train_align: list[str] = field(default_factory=list)
    weights: Path | None = None
    pretrained: str | None = None  # None | "imagenet" | path to a backbone state dict
    #: with --weights of a two-class head: the class index meaning "fake" (None: the
    #: detector's converter's documented default)
    fake_class: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    input_size: int | None = None
    device: str = "auto"
    seed: int = 0
    out: Path | None = None
    workers: int | None = None
    #: evaluate with ``torch.compile(model)`` (``--compile``): pays on long evaluations only
    compile: bool = False
    #: keep the preprocessed test inputs on disk and read them on later evaluations
    #: (``--decode-cache``, :mod:`gibench.data.decoded_cache`)
    decode_cache: bool = False
    #: the models' precision in evaluations on CUDA (``--eval-precision``: fp32, bf16, fp16;
    #: gibench.engine.device.EVAL_PRECISIONS); training uses AMP whatever this says
    eval_precision: str = "fp32"
    #: how a test image becomes the detector's input (``--eval-transform``: authors, resize,
    #: crop, native, multicrop; gibench.data.eval_policy)
    eval_transform: str = "authors"
    skip_bad_images: bool = False
    holdout_fraction: float = 0.1
    progress: bool = True
    disabled_plugins: list[str] = field(default_factory=list)
    #: the command line that started the run (set by the CLI; ``None`` from the Python API)
    command: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}
        if isinstance(self.data_root, Mapping):
            out["data_root"] = {k: str(v) for k, v in self.data_root.items()}
        out["subset_dirs"] = {k: {"path": str(p), "label": lab}
                              for k, (p, lab) in self.subset_dirs.items()}
        return out


def parse_subset_dir(value: str) -> tuple[str, Path, int]:
    """``NAME=PATH:ai`` or ``NAME=PATH:nature`` → (name, folder, label)."""
    from gibench.errors import GibenchError
    from gibench.specs import LABEL_FOLDERS

    name, sep, rest = value.partition("=")
    path, colon, label = rest.rpartition(":")
    if not sep or not colon or not name.strip() or not path or label not in LABEL_FOLDERS:
        raise GibenchError(f"{{subset_dirs=}}{value!r}: expected NAME=PATH:ai or "
                           "NAME=PATH:nature", params=["subset_dirs"])
    return name.strip(), Path(path).expanduser(), LABEL_FOLDERS[label]
