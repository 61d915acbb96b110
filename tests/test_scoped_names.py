"""Subset names are scoped by dataset (issue 21 item 6): two datasets may both have
``biggan``; qualified names, resolution within a run's dataset, ambiguity, and the listing
commands still working when two plugins clash within one dataset."""

from __future__ import annotations

import textwrap

import pytest
from click.testing import CliRunner

from gibench.cli import main
from gibench.registry import (
    AmbiguousNameError,
    PluginConflictError,
    UnknownNameError,
    build_registry,
    clear_registry_cache,
    get_registry,
)
from tests.conftest import install_fake_distribution

OTHER = textwrap.dedent("""
    import gibench
    from gibench.specs import DatasetSpec, SubsetSpec

    @gibench.hookimpl
    def gibench_add_datasets():
        return [DatasetSpec("otherset", label_folders={"0_real": 0, "1_fake": 1})]

    @gibench.hookimpl
    def gibench_add_subsets():
        return [SubsetSpec("biggan", "BigGAN (other)", "gan", "otherset", ("biggan",)),
                SubsetSpec("only-here", "Only here", "gan", "otherset", ("x",))]
""")

CLASH = textwrap.dedent("""
    import gibench
    from gibench.specs import SubsetSpec

    @gibench.hookimpl
    def gibench_add_subsets():
        return [SubsetSpec("biggan", "BigGAN again", "gan", "genimage", ("bg",))]
""")


@pytest.fixture
def other(tmp_path, monkeypatch):
    install_fake_distribution(tmp_path, "gibench-other", "0.1", {"gibench_other": OTHER},
                              {"other": "gibench_other"})
    monkeypatch.syspath_prepend(str(tmp_path))
    clear_registry_cache()
    return tmp_path


def test_two_datasets_may_both_have_biggan(other):
    reg = get_registry()
    assert reg.subset("otherset/biggan").display_name == "BigGAN (other)"
    assert reg.subset("genimage/biggan").dataset == "genimage"
    assert reg.subset("biggan", "otherset").dataset == "otherset"  # the run's dataset decides
    assert reg.subset("biggan", "genimage").dataset == "genimage"
    assert reg.subset("only-here").dataset == "otherset"  # unique plain name
    assert reg.resolve("subset", "otherset/biggan") == "biggan"  # rows keep the plain name
    with pytest.raises(AmbiguousNameError) as err:
        reg.subset("biggan")
    assert "genimage/biggan" in str(err.value) and "otherset/biggan" in str(err.value)
    with pytest.raises(UnknownNameError):
        reg.subset("otherset/adm")


def test_list_shows_the_dataset_column_with_both_biggans(other):
    result = CliRunner().invoke(main, ["list", "subsets"])
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines() if line.startswith("biggan")]
    assert any("otherset" in line for line in lines) and any("genimage" in line
                                                               for line in lines)


def test_a_clash_within_one_dataset_is_an_error_but_list_and_plugins_work(tmp_path,
                                                                         monkeypatch):
    install_fake_distribution(tmp_path, "gibench-clash", "0.1", {"gibench_clash": CLASH},
                              {"clash": "gibench_clash"})
    monkeypatch.syspath_prepend(str(tmp_path))
    clear_registry_cache()
    with pytest.raises(PluginConflictError) as err:
        build_registry()
    assert "'genimage'" in str(err.value) and "'clash'" in str(err.value)
    assert "rename" in str(err.value)
    runner = CliRunner()
    for command in (["list"], ["list", "subsets"], ["plugins"]):
        result = runner.invoke(main, command)
        assert result.exit_code == 0, (command, result.output)
        assert "conflict:" in result.output and "'clash'" in result.output
    result = runner.invoke(main, ["plugins"])
    assert "gibench-clash" in result.output
    run = runner.invoke(main, ["run", "--detector", "cnnspot", "--epochs", "1"])
    assert run.exit_code != 0 and "'clash'" in run.output and "Traceback" not in run.output
