"""The engine and the CLI never name a dataset, subset or detector: what they know of those
comes from the plugins' specs (issue 16). A string literal equal to a registered name or alias
there is dispatch on a plugin's name, or a default that belongs in the plugin's spec."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import gibench
from gibench.registry import get_registry, normalise

PACKAGE = Path(gibench.__file__).parent
CHECKED = sorted([*(PACKAGE / "engine").glob("*.py"), *(PACKAGE / "cli").glob("*.py")])


def _names() -> set[str]:
    registry = get_registry()
    out = set()
    for kind in ("dataset", "subset", "detector"):
        for spec in registry.all(kind):
            out |= {normalise(n) for n in (spec.name, *getattr(spec, "aliases", ()))}
    return out


def _literals(path: Path) -> list[tuple[int, str]]:
    """String constants of ``path`` that are not docstrings (prose, not names)."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef,
                                       ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings]


def test_the_check_sees_the_builtin_names():
    names = _names()
    assert {"genimage", "mini", "sdv14", "cnnspot"} <= names  # normalised


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_dataset_subset_or_detector_literal(path):
    names = _names()
    found = [(line, text) for line, text in _literals(path) if normalise(text) in names]
    assert not found, f"{path}: plugin names as literals: {found}"
