"""Errors name parameters as their caller gave them: ``epochs`` to a Python caller,
``--epochs`` on the command line (:mod:`gibench.errors`)."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import click
import pytest

import gibench
from gibench.errors import CLI_FLAGS, GibenchError, cli_flag

HARNESS = Path(gibench.__file__).parent
PLUGINS = HARNESS.parents[1] / "plugins"


def test_python_callers_read_parameters_the_cli_reads_flags():
    exc = GibenchError("{weights=}/x/model.pt: no such file; or pass {epochs}",
                       params=["weights", "epochs"])
    assert str(exc) == "weights=/x/model.pt: no such file; or pass epochs"
    assert exc.for_cli() == "--weights /x/model.pt: no such file; or pass --epochs"
    assert exc.render(lambda name, valued: f"<{name}>") == "<weights>/x/model.pt: no such " \
                                                          "file; or pass <epochs>"


def test_flags_that_differ_from_their_parameter_are_spelled_as_the_flag():
    exc = GibenchError("{degradations=}jpeg:65, {subset_dirs}, {eval_transform=}crop, "
                       "{batch_size}", params=["degradations", "subset_dirs", "eval_transform",
                                               "batch_size"])
    assert exc.for_cli() == "--degradation jpeg:65, --subset-dir, --eval-transform crop, " \
                            "--batch-size"
    assert str(exc) == "degradations=jpeg:65, subset_dirs, eval_transform=crop, batch_size"
    # a command whose flag differs from the usual one says so
    assert exc.for_cli({"batch_size": "-b"}).endswith(", -b")


def test_only_declared_parameters_are_substituted():
    message = "{weights} {'a': {1, 2}} {epochs} {} {weights=x}"
    exc = GibenchError(message, params=["weights"])
    assert str(exc) == "weights {'a': {1, 2}} {epochs} {} {weights=x}"
    assert exc.for_cli() == "--weights {'a': {1, 2}} {epochs} {} {weights=x}"
    plain = GibenchError("a dict {'weights': 1} and {weights}")  # no parameters declared
    assert str(plain) == plain.for_cli() == "a dict {'weights': 1} and {weights}"


def test_errors_keep_their_parameters_through_pickling_and_subclasses():
    from gibench.data.images import BadImageError
    from gibench.registry import UnknownNameError

    exc = pickle.loads(pickle.dumps(GibenchError("{epochs} must be at least 1",
                                                 params=["epochs"])))
    assert (str(exc), exc.for_cli()) == ("epochs must be at least 1", "--epochs must be at least 1")
    bad = pickle.loads(pickle.dumps(BadImageError("x.png", "truncated")))  # from a worker
    assert "use skip_bad_images" in str(bad) and "use --skip-bad-images" in bad.for_cli()
    unknown = UnknownNameError("detector", "cnnspt", ["cnnspot"])
    assert str(unknown) == unknown.for_cli() and "Did you mean: cnnspot?" in str(unknown)
    assert str(GibenchError()) == "" and GibenchError().args == ()


def test_a_python_run_names_the_parameter_not_the_flag(tmp_path):
    with pytest.raises(GibenchError) as err:
        gibench.run("cnnspot", epochs=0, out=tmp_path / "run")
    assert str(err.value) == "epochs must be at least 1, got 0"
    assert err.value.for_cli() == "--epochs must be at least 1, got 0"
    missing = tmp_path / "missing.pt"
    with pytest.raises(GibenchError) as err:
        gibench.evaluate("cnnspot", missing, out=tmp_path / "eval")
    assert str(err.value) == f"weights={missing}: no such file"
    assert "--" not in str(err.value)
    assert err.value.for_cli() == f"--weights {missing}: no such file"


def test_cli_parsers_errors_render_as_their_flags():
    from gibench.data.eval_policy import check_policy
    from gibench.engine.config import parse_subset_dir
    from gibench.engine.run import pair_models

    with pytest.raises(GibenchError) as err:
        parse_subset_dir("nowhere")
    assert err.value.for_cli().startswith("--subset-dir 'nowhere': expected NAME=PATH:ai")
    assert str(err.value).startswith("subset_dirs='nowhere'")
    with pytest.raises(GibenchError) as err:
        pair_models(["a", "b"], ["x", "y", "z"])
    assert err.value.for_cli().startswith("--detector given 2 times and --weights 3 times")
    with pytest.raises(GibenchError) as err:
        check_policy("bogus")
    assert err.value.for_cli().startswith("--eval-transform 'bogus': expected one of")


def _declared_params() -> set[str]:
    """Every parameter name that a message in the core or the baselines declares literally."""
    names = set()
    for path in [*HARNESS.rglob("*.py"), *(PLUGINS / "gibench-baselines").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg == "params" and isinstance(kw.value, (ast.List, ast.Tuple)):
                        names |= {e.value for e in kw.value.elts
                                  if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return names


def _cli_flags() -> set[str]:
    from gibench.cli import main

    flags, commands = set(), [main]
    while commands:
        command = commands.pop()
        if isinstance(command, click.Group):
            commands.extend(command.commands.values())
        flags |= {flag for p in command.params if isinstance(p, click.Option)
                  for flag in [*p.opts, *p.secondary_opts]}
    return flags


def test_every_parameter_a_message_names_has_its_flag_on_the_command_line():
    from gibench.engine.run import SHARED_FIELDS

    declared = _declared_params()
    assert {"weights", "degradations", "subset_dirs", "eval_transform"} <= declared
    # and the names given in loops: run's bounds, the shared pass, the leaderboard's texts
    names = declared | set(SHARED_FIELDS) | {"epochs", "batch_size", "workers", "input_size",
                                             "submitter", "reference"}
    flags = _cli_flags()
    assert {name: cli_flag(name) for name in names if cli_flag(name) not in flags} == {}
    assert set(CLI_FLAGS.values()) <= flags
