"""Names on a board checked against the plugin registry: detectors, subsets and degradations
must be installed, written canonically, and subsets must belong to the board's dataset."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gibench.leaderboard.schema import CLEAN, is_mean_of, parse_degradation
from gibench.registry import Registry, UnknownNameError


def board_dataset(board: str, registry: Registry) -> str | None:
    """The dataset a board is named after (``<dataset>-<suite>``), or ``None``."""
    matches = [d for d in registry.datasets() if board == d or board.startswith(d + "-")]
    return max(matches, key=len) if matches else None


def board_policy(board: str) -> str:
    """The evaluation policy a board is named for (``...-eval-crop``: ``crop``; see
    :mod:`gibench.data.eval_policy`), ``""`` for the detectors' own preprocessing."""
    from gibench.data.eval_policy import EVAL_POLICIES

    _, sep, policy = board.rpartition("-eval-")
    return policy if sep and policy in EVAL_POLICIES else ""


def _unknown(kind: str, name: str, registry: Registry) -> str:
    return UnknownNameError(kind, name, [e.spec.name for e in
                                         registry.entries.get(kind, {}).values()]).message


def _canonical(kind: str, name: str, registry: Registry, dataset: str | None = None
               ) -> str | None:
    """Why ``name`` is not a canonical ``kind`` name of an installed plugin (a subset's within
    ``dataset``), or ``None``."""
    if not registry.has(kind, name):
        return _unknown(kind, name, registry)
    canonical = registry.resolve(kind, name, dataset)
    if canonical != name:
        return f"{kind} {name!r} is an alias: write the canonical name {canonical!r}"
    return None


class NameCheck:
    """Checks the names of one board's rows; the board's dataset comes from its name, or else
    from the first installed subset its rows name."""

    def __init__(self, board: str, registry: Registry, rows: Iterable[Mapping[str, str]]):
        self.board = board
        self.registry = registry
        self.dataset = board_dataset(board, registry)
        if self.dataset is None:
            for row in rows:
                name = row.get("test_subset", "")
                if registry.has("subset", name) and len(registry.subset_keys(name)) == 1:
                    self.dataset = registry.subset(name).dataset
                    break

    def problems(self, row: Mapping[str, str]) -> list[str]:
        found = [self._detector(row.get("detector", ""), row.get("plugin", "")),
                 self._train_subset(row.get("train_subset", "")),
                 self._subset(row.get("test_subset", "")),
                 self._degradation(row.get("degradation", ""))]
        return [p for p in found if p]

    def _detector(self, name: str, plugin: str) -> str | None:
        if not name:
            return None
        if not self.registry.has("detector", name):
            install = f" If the plugin is missing, install it: pip install {plugin}" if (
                plugin) else ""
            return (f"detector {name!r} is not provided by any installed plugin: "
                    f"{_unknown('detector', name, self.registry)}{install}")
        problem = _canonical("detector", name, self.registry)
        if problem:
            return problem
        provider = self.registry.provider("detector", name)
        if plugin and provider.distribution != plugin:
            return (f"detector {name!r} is provided by distribution "
                    f"{provider.distribution!r} here, but the plugin column says {plugin!r}")
        return None

    def _subset(self, name: str) -> str | None:
        if not name:
            return None
        problem = _canonical("subset", name, self.registry, self.dataset)
        if problem:
            return problem
        dataset = self.registry.subset(name, self.dataset).dataset
        if self.dataset is not None and dataset != self.dataset:
            return (f"subset {name!r} belongs to dataset {dataset!r}, not {self.dataset!r} "
                    f"(board {self.board}); each dataset has its own boards")
        return None

    def _train_subset(self, name: str) -> str | None:
        n = is_mean_of(name)
        if n is None and "/" in name:  # trained on another dataset (a cross-dataset run)
            return self._foreign_subset(name)
        if n is None:
            return self._subset(name)
        if self.dataset is None:
            return f"train_subset {name!r}: the board's dataset is unknown"
        size = len(self.registry.subsets(self.dataset))
        if n != size:
            return (f"train_subset {name!r} does not match dataset {self.dataset!r}, which has "
                    f"{size} subsets (write mean-of-{size})")
        return None

    def _foreign_subset(self, name: str) -> str | None:
        """Why ``DATASET/NAME`` is not the canonical name of an installed subset of another
        dataset than the board's, or ``None``."""
        if not self.registry.has("subset", name):
            return _unknown("subset", name, self.registry)
        key = self.registry.key("subset", name)
        if key != name:
            return f"subset {name!r} is an alias: write the canonical name {key!r}"
        dataset, _, plain = key.rpartition("/")
        if dataset == self.dataset:
            return (f"train_subset {name!r} is a subset of the board's own dataset: write it "
                    f"{plain!r}")
        return None

    def _degradation(self, text: str) -> str | None:
        if text == CLEAN:
            return None
        parsed = parse_degradation(text)
        return None if parsed is None else _canonical("degradation", parsed[0], self.registry)
