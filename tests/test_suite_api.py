"""The suite API (:mod:`gibench.suite`): the built-in suites and the example plugin's suite use
it alone, and every public member is documented."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import gibench.builtin.crossdataset
import gibench.builtin.datascale
import gibench.builtin.robustness
import gibench.builtin.suites
from gibench.suite import SuiteContext

ROOT = Path(__file__).resolve().parents[1]
SUITE_MODULES = [Path(m.__file__) for m in (gibench.builtin.suites, gibench.builtin.robustness,
                                            gibench.builtin.datascale,
                                            gibench.builtin.crossdataset)] + [
    ROOT / "plugins" / "gibench-plugin-example" / "gibench_example" / "__init__.py"]
PUBLIC = {name for name in dir(SuiteContext) if not name.startswith("_")}
#: what a suite module may import from gibench: the API, the specs, tables and helpers
ALLOWED_IMPORTS = ("gibench.api", "gibench.suite", "gibench.specs", "gibench.hookspecs",
                   "gibench.tables", "gibench.errors", "gibench.data.layout")


def _context_names(tree: ast.Module) -> set[str]:
    """Names bound to a SuiteContext: parameters annotated with it, and their loop variables."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None \
                and "SuiteContext" in ast.unparse(node.annotation):
            names.add(node.arg)
    return names | {"ctx", "lead"}


@pytest.mark.parametrize("path", SUITE_MODULES, ids=lambda p: p.parent.name + "/" + p.name)
def test_suites_use_only_the_public_suite_api(path):
    tree = ast.parse(path.read_text())
    contexts = _context_names(tree)
    used = {(node.value.id, node.attr) for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id in contexts}
    assert used, "no suite context use found: the check would prove nothing"
    assert {attr for _, attr in used} <= PUBLIC, {attr for _, attr in used} - PUBLIC
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gibench."):
            assert node.module.startswith(ALLOWED_IMPORTS), node.module
        if isinstance(node, ast.Import):
            assert not any(a.name.startswith("gibench.") for a in node.names)


def test_the_suite_context_holds_nothing_but_the_run():
    """Internals are not reachable by accident: no attribute beyond the API's members."""
    assert SuiteContext.__slots__ == ("_run",)
    ctx = SuiteContext(object())
    for internal in ("config", "registry", "run_dir", "records", "settings", "index"):
        with pytest.raises(AttributeError):
            getattr(ctx, internal)


def test_every_member_is_documented():
    for name in PUBLIC:
        member = inspect.getattr_static(SuiteContext, name)
        doc = inspect.getdoc(member.fget if isinstance(member, property) else member)
        assert doc and len(doc) > 20, name


def test_spec_types_name_the_api():
    from typing import get_type_hints

    import gibench.specs

    hints = get_type_hints(gibench.specs.SuiteSpec, vars(gibench.specs) | {
        "SuiteContext": SuiteContext, "pd": __import__("pandas")})
    assert "SuiteContext" in str(hints["run"]) and "DataFrame" in str(hints["render"])


def test_a_suite_sees_the_resolved_subsets_and_writes_only_plain_names(toy_plugin, toy_root,
                                                                         tmp_path):
    from gibench.engine.config import RunConfig
    from gibench.engine.context import RunContext
    from gibench.engine.run import resolve_data
    from gibench.errors import GibenchError
    from gibench.registry import get_registry

    registry = get_registry()
    config = RunConfig("tinynet", data_root=toy_root, dataset="toy", device="cpu", workers=0,
                       progress=False, test_subsets=["toy-b"])
    out = tmp_path / "run"
    out.mkdir()
    ctx = SuiteContext(RunContext(config, registry, out, resolve_data(config, registry)))
    assert (ctx.train_subset, ctx.test_subsets) == ("toy-a", ["toy-b"])
    assert (ctx.requested_train_subset, ctx.requested_test_subsets) == (None, ["toy-b"])
    assert [s.name for s in ctx.dataset_subsets()] == ["toy-a", "toy-b"]
    assert ctx.setting("jpeg", 50).name == "jpeg:50" and not ctx.weights_given
    with pytest.raises(GibenchError):
        ctx.write_text("../escape.txt", "no")
    ctx.write_text("note.txt", "yes")
    assert (out / "note.txt").read_text() == "yes" and not (tmp_path / "escape.txt").exists()
    assert [p.name for p in out.iterdir()] == ["note.txt"]  # no temporary file left
