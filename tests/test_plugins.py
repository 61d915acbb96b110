"""The plugin seams: discovery, providers, clashes, broken plugins, disabling, name lookup."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import gibench
from gibench.registry import (
    PluginConflictError,
    UnknownNameError,
    build_registry,
    clear_registry_cache,
    get_registry,
    normalise,
)
from gibench.rundir import RunRecord
from tests.conftest import install_fake_distribution


def test_builtins_register_through_the_hooks():
    reg = get_registry()
    builtin = {p.name for p in reg.plugins if p.builtin}
    assert builtin == {"genimage", "mini", "mini_biased", "suites", "robustness", "datascale",
                       "crossdataset",
                       "degradations", "reporters", "tensorboard"}
    assert [s.name for s in reg.subsets("genimage")] == [
        "midjourney", "sdv1.4", "sdv1.5", "adm", "glide", "wukong", "vqdm", "biggan"]
    assert reg.provider("subset", "genimage/sdv1.4").name == "genimage"
    assert reg.provider("suite", "cross-generator").name == "suites"
    assert len(reg.subsets("mini")) >= 5


def test_cnnspot_comes_from_the_baselines_distribution():
    reg = get_registry()
    info = reg.provider("detector", "cnnspot")
    assert (info.distribution, info.builtin) == ("gibench-baselines", False)
    assert info.version


@pytest.mark.parametrize("alias", ["sdv1.4", "SD14", "sd-v1.4", "stable_diffusion_v_1_4",
                                   "Stable Diffusion V1.4", "imagenet_ai_0419_sdv4"])
def test_aliases_resolve_to_one_canonical_name(alias):
    # within GenImage: other installed datasets (gibench-datasets) may have an sdv1.4 too
    assert get_registry().resolve("subset", alias, "genimage") == "sdv1.4"


def test_unknown_name_suggests_close_matches_and_the_listing_command():
    with pytest.raises(UnknownNameError) as err:
        get_registry().detector("cnnspto")
    message = str(err.value)
    assert "cnnspot" in message and "gibench list detectors" in message


def test_unknown_name_without_close_match_still_names_the_command():
    with pytest.raises(UnknownNameError) as err:
        get_registry().subset("zzzzzz")
    assert "Did you mean" not in str(err.value)
    assert "gibench list subsets" in str(err.value)


def test_normalise_ignores_case_spaces_dashes_underscores():
    assert normalise(" SD_V-1.4 ") == normalise("sdv1.4")


def test_third_party_plugin_is_discovered(toy_plugin):
    reg = get_registry()
    assert reg.detector("tiny").name == "tinynet"
    info = reg.provider("detector", "tinynet")
    assert (info.name, info.distribution, info.version) == ("toy", "gibench-toy", "1.2.3")
    assert [s.name for s in reg.subsets("toy")] == ["toy-a", "toy-b"]


def test_plugin_failing_at_import_is_reported_and_others_work(tmp_path, monkeypatch):
    install_fake_distribution(tmp_path, "gibench-broken", "0.0.1",
                              {"gibench_broken": "raise RuntimeError('boom at import')\n"},
                              {"broken": "gibench_broken"})
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = build_registry()
    failed = {p.name: p for p in reg.failures}
    assert "broken" in failed and "boom at import" in failed["broken"].error
    assert failed["broken"].distribution == "gibench-broken"
    assert reg.detector("cnnspot").name == "cnnspot"


def test_plugin_raising_in_a_hook_or_returning_junk_is_reported(tmp_path, monkeypatch):
    source = textwrap.dedent("""
        import gibench

        @gibench.hookimpl
        def gibench_add_detectors():
            raise ValueError("hook exploded")

        @gibench.hookimpl
        def gibench_add_suites():
            return ["not a spec"]
    """)
    install_fake_distribution(tmp_path, "gibench-bad", "0.1", {"gibench_bad": source},
                              {"bad": "gibench_bad"})
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = build_registry()
    bad = next(p for p in reg.plugins if p.name == "bad")
    assert bad.status == "failed"
    assert "hook exploded" in bad.error or "expected SuiteSpec" in bad.error
    assert reg.suite("cross-generator").name == "cross-generator"
    assert reg.detector("cnnspot").name == "cnnspot"


def test_name_clash_names_both_providers(tmp_path, monkeypatch):
    source = textwrap.dedent("""
        import gibench
        from gibench.specs import SubsetSpec

        @gibench.hookimpl
        def gibench_add_subsets():
            return [SubsetSpec("my-sd", "My SD", "x", "genimage", ("x",), aliases=("sd14",))]
    """)
    install_fake_distribution(tmp_path, "gibench-clash", "0.1", {"gibench_clash": source},
                              {"clash": "gibench_clash"})
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginConflictError) as err:
        build_registry()
    assert "'genimage'" in str(err.value) and "'clash'" in str(err.value)
    assert "sd14" in str(err.value)


def test_disable_plugin_by_name_and_by_environment(toy_plugin, monkeypatch):
    reg = build_registry(disabled=["toy"])
    assert "tinynet" not in reg.entries.get("detector", {})
    assert next(p for p in reg.plugins if p.name == "toy").status == "disabled"
    monkeypatch.setenv("GIBENCH_DISABLE_PLUGINS", "cnnspot, toy")
    reg = build_registry()
    detectors = reg.entries.get("detector", {})
    assert "cnnspot" not in detectors and "tinynet" not in detectors
    assert "resnet50" in detectors  # the other baselines' entry points still load


def test_plugin_installed_with_pip_appears_in_gibench_list(tmp_path, monkeypatch):
    """A real ``pip install`` of a distribution the test writes, then ``gibench list``."""
    src = tmp_path / "src"
    (src / "gibench_hello").mkdir(parents=True)
    (src / "gibench_hello" / "__init__.py").write_text(textwrap.dedent("""
        import gibench
        from gibench.specs import SubsetSpec

        @gibench.hookimpl
        def gibench_add_subsets():
            return [SubsetSpec("hello-gen", "Hello Gen", "test", "hello", ("hello",))]
    """))
    (src / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "gibench-hello"
        version = "0.4.2"
        [project.entry-points.gibench]
        hello = "gibench_hello"
    """))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(src)], check=True)
    monkeypatch.syspath_prepend(str(target))
    from click.testing import CliRunner

    from gibench.cli import main

    result = CliRunner().invoke(main, ["list", "subsets"])
    assert result.exit_code == 0, result.output
    assert "hello-gen" in result.output and "Hello Gen" in result.output
    result = CliRunner().invoke(main, ["plugins"])
    assert "gibench-hello" in result.output and "0.4.2" in result.output


def test_unknown_hook_fails_its_plugin_only_with_a_did_you_mean(tmp_path, monkeypatch):
    source = textwrap.dedent("""
        import gibench

        @gibench.hookimpl
        def gibench_add_detector():  # misspelled: gibench_add_detectors
            return []
    """)
    install_fake_distribution(tmp_path, "gibench-typo", "0.1", {"gibench_typo": source},
                              {"typo": "gibench_typo"})
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = build_registry()
    typo = next(p for p in reg.plugins if p.name == "typo")
    assert typo.status == "failed"
    assert "plugin 'typo'" in typo.error and "'gibench_add_detector'" in typo.error
    assert "did you mean 'gibench_add_detectors'" in typo.error
    assert not reg.pm.has_plugin("typo")
    assert reg.detector("cnnspot").name == "cnnspot"  # the others keep working
    assert all(p.status == "loaded" for p in reg.plugins if p.name != "typo")


REPORTERS = textwrap.dedent("""
    import gibench

    CALLS = []

    class Loud:
        @gibench.hookimpl
        def gibench_run_started(self, run_dir):
            raise RuntimeError("started exploded")

        @gibench.hookimpl
        def gibench_run_finished(self):
            raise RuntimeError("finished exploded")

        @gibench.hookimpl
        def gibench_run_failed(self):
            raise RuntimeError("failed exploded")

    loud = Loud()

    @gibench.hookimpl
    def gibench_run_started(run_dir, config):
        CALLS.append(("started", config["detector"]))

    @gibench.hookimpl
    def gibench_run_finished(results):
        CALLS.append(("finished", len(results)))

    @gibench.hookimpl
    def gibench_run_failed(status, error):
        CALLS.append(("failed", status, error))
""")


@pytest.fixture
def reporters(toy_plugin, monkeypatch):
    install_fake_distribution(toy_plugin, "gibench-reporters", "0.1",
                              {"gibench_reporters": REPORTERS},
                              {"loud": "gibench_reporters:loud",
                               "recorder": "gibench_reporters"})
    clear_registry_cache()
    import gibench_reporters

    gibench_reporters.CALLS.clear()
    return gibench_reporters.CALLS


def test_lifecycle_hooks_are_called_plugin_by_plugin(reporters, toy_root, tmp_path, capsys):
    gibench.run("tinynet", "cross-generator", data_root=toy_root, out=tmp_path / "run",
                dataset="toy", train_subset="toy-a", device="cpu", workers=0, progress=False,
                epochs=1)
    assert reporters == [("started", "tinynet"), ("finished", 2)]
    err = capsys.readouterr().err
    assert "plugin 'loud' failed in gibench_run_started: RuntimeError: started exploded" in err
    assert "plugin 'loud' failed in gibench_run_finished" in err


def test_a_failed_run_calls_gibench_run_failed(reporters, toy_root, tmp_path, monkeypatch,
                                               capsys):
    from gibench.engine.context import RunContext

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(RunContext, "model_for", boom)
    with pytest.raises(RuntimeError, match="boom"):
        gibench.run("tinynet", "cross-generator", data_root=toy_root, out=tmp_path / "run",
                    dataset="toy", train_subset="toy-a", device="cpu", workers=0,
                    progress=False)
    assert reporters == [("started", "tinynet"), ("failed", "failed", "RuntimeError: boom")]
    assert RunRecord.read(tmp_path / "run").status == "failed"
    assert "plugin 'loud' failed in gibench_run_failed" in capsys.readouterr().err
