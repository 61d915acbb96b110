"""The run's image indexes: each (subset, split) listed once, on first use, under the root
of the subset's dataset."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from gibench.data.layout import ImageIndex, index_folder, index_subset, locate_subset
from gibench.engine.resolve import Names


class IndexCache:
    """The :class:`ImageIndex` of each (subset, split) the run reads, listed once; the time
    spent listing is reported to ``add_time`` under ``index``."""

    def __init__(self, names: Names, subset_dirs: dict[str, tuple[Path, int]],
                 add_time: Callable[[str, float], None],
                 on_index: Callable[[str, str, ImageIndex], None] | None = None) -> None:
        self.names = names
        self.subset_dirs = subset_dirs
        self._add_time = add_time
        #: told of each index listed (the run records it, and checks it on --resume)
        self._on_index = on_index
        self._indexes: dict[tuple[str, str], ImageIndex] = {}

    def index(self, subset: str, split: str) -> ImageIndex:
        key = (subset, split)
        if key not in self._indexes:
            t = time.perf_counter()
            if subset in self.subset_dirs:  # a user's folder: every split is the folder
                folder, label = self.subset_dirs[subset]
                self._indexes[key] = index_folder(folder, label, subset, split)
            else:
                spec = self.names.subset_spec(subset)  # of any of the run's datasets
                self._indexes[key] = index_subset(self.names.root_of(spec.dataset), spec, split,
                                                  self.names.dataset_spec_of(spec.dataset),
                                                  self.names.extra_roots_of(spec.dataset))
            self._add_time("index", time.perf_counter() - t)
            if self._on_index is not None:
                self._on_index(subset, split, self._indexes[key])
        return self._indexes[key]

    def check_available(self, subsets: list[str]) -> None:
        """Fail before any work when a needed subset folder is missing."""
        for name in subsets:
            if name in self.subset_dirs:
                self.index(name, self.names.dataset_spec.eval_split)  # fails now if empty
            else:
                spec = self.names.subset_spec(name)
                locate_subset(self.names.root_of(spec.dataset), spec,
                              self.names.dataset_spec_of(spec.dataset))
