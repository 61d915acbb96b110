"""mini-biased: mini with GenImage's format shortcut (real JPEG, fake PNG), and the audit that
finds it there and not on mini."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from gibench.builtin import mini, mini_biased
from gibench.cli.data import EXIT_SHORTCUT, audit
from gibench.data.audit import audit_root
from gibench.data.datasets import infer_dataset
from gibench.data.layout import index_subset
from gibench.errors import GibenchError
from gibench.registry import clear_registry_cache, get_registry

QUALITY = 75


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """(mini root, mini-biased root) in a private cache, from a reduced mini (3 crops per
    photograph and scale) so the build takes a second or two; the layout and code are mini's."""
    cache = tmp_path_factory.mktemp("biased-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mini, "_MAX_CROPS_PER_PHOTO_SCALE", 3)
        biased = mini_biased.ensure_mini_biased(seed=0, cache_dir=cache, quality=QUALITY,
                                         progress=False)
    return mini.mini_root(0, cache), biased


@pytest.fixture
def registry():
    """The registry of the built-in plugins (mini_biased among them)."""
    clear_registry_cache()
    return get_registry()


def _formats(folder: Path) -> set[str]:
    out = set()
    for path in folder.iterdir():
        with Image.open(path) as image:
            out.add(image.format)
    return out


def test_mini_fingerprint_is_unchanged():
    assert mini.fingerprint(0) == "a17a5d353383"  # mini's cache stays valid


def test_reals_are_jpeg_fakes_png_with_mini_counts(built):
    mini_root, biased = built
    for gen, spec in zip(mini.GENERATORS, mini.MINI_SUBSETS, strict=True):
        for split in ("train", "val"):
            plain = index_subset(mini_root, spec, split)
            sub = biased / gen.name / split
            assert _formats(sub / "nature") == {"JPEG"}
            assert _formats(sub / "ai") == {"PNG"}
            assert len(list((sub / "nature").iterdir())) == plain.n_real
            assert sorted(p.name for p in (sub / "ai").iterdir()) == sorted(
                p.name for p in (mini_root / gen.name / split / "ai").iterdir())
            assert sorted(p.stem for p in (sub / "nature").iterdir()) == sorted(
                p.stem for p in (mini_root / gen.name / split / "nature").iterdir())


def test_jpeg_reals_hold_the_same_pictures(built):
    mini_root, biased = built
    name = sorted((mini_root / "latent-a" / "val" / "nature").iterdir())[0]
    png = np.asarray(Image.open(name), dtype=float)
    jpg = np.asarray(Image.open(biased / "latent-a" / "val" / "nature" / f"{name.stem}.jpg"),
                     dtype=float)
    assert png.shape == jpg.shape
    assert 0 < np.abs(png - jpg).mean() < 8  # lossy, but the same crop


def test_placebo_fakes_are_minis_reals_and_its_reals_the_biased_ones(built):
    """The placebo subset: the same pictures on both sides, told apart by the format alone."""
    mini_root, biased = built
    for split in ("train", "val"):
        originals = sorted((mini_root / "latent-a" / split / "nature").iterdir())
        fakes = sorted((biased / "placebo" / split / "ai").iterdir())
        reals = sorted((biased / "placebo" / split / "nature").iterdir())
        assert [f.name for f in fakes] == [f"placebo_{o.name}" for o in originals]
        assert [r.stem for r in reals] == [o.stem for o in originals]
        assert _formats(biased / "placebo" / split / "ai") == {"PNG"}
        assert _formats(biased / "placebo" / split / "nature") == {"JPEG"}
        for fake, original in zip(fakes, originals, strict=True):
            assert fake.read_bytes() == original.read_bytes()  # untouched: no trace at all
        assert [r.read_bytes() for r in reals] == [
            (biased / "latent-a" / split / "nature" / r.name).read_bytes() for r in reals]


def test_jpeg_alignment_gives_the_placebo_fakes_exactly_the_reals_shortcut(built):
    """--align jpeg:Q at the build's quality encodes each placebo fake as its real was stored,
    so what the alignment leaves of the shortcut is the same on both sides."""
    from gibench.data.align import parse_align

    _, biased = built
    align = parse_align(f"jpeg:{QUALITY}")
    fakes = sorted((biased / "placebo" / "val" / "ai").iterdir())[:12]
    for fake in fakes:
        real = biased / "placebo" / "val" / "nature" / f"{fake.stem.removeprefix('placebo_')}.jpg"
        with Image.open(fake) as f, Image.open(real) as r:
            assert np.array_equal(np.asarray(align(f.convert("RGB"))), np.asarray(r.convert("RGB")))
            assert not np.array_equal(np.asarray(f.convert("RGB")), np.asarray(r.convert("RGB")))


def test_registered_as_its_own_dataset(registry):
    subsets = registry.subsets(mini_biased.BIASED_DATASET)
    assert [s.name for s in subsets] == [f"biased-{g.name}" for g in mini.GENERATORS] + [
        "biased-placebo"]
    assert registry.subset("mini-biased-latent-a").name == "biased-latent-a"
    assert registry.subset("latent-a").dataset == "mini"  # mini's names are untouched
    assert mini_biased.BIASED_DATASET in registry.datasets()


def test_audit_flags_the_format_shortcut_on_biased_only(built, registry):
    mini_root, biased = built
    report = audit_root(biased, registry.subsets("mini-biased"))
    assert report.usable and not report.problems
    assert len(report.warnings) == 2 * len(mini_biased.MINI_BIASED_SUBSETS)  # all, both splits
    for record in report.subsets:
        rules = {(r.split, r.feature): r for r in record.rules}
        for split in ("train", "val"):
            assert rules[(split, "format")].rule == "fake iff format == PNG"
            assert rules[(split, "format")].accuracy == 100.0
            assert rules[(split, "size")].accuracy == 50.0  # one size on both sides
            real = record.classes[(split, "nature")]
            assert real.qualities == {str(QUALITY): real.sampled}
    plain = audit_root(mini_root, registry.subsets("mini"))
    assert plain.usable and plain.warnings == []
    assert {r.accuracy for s in plain.subsets for r in s.rules} == {50.0}


def test_audit_command_detects_the_dataset(built, registry):
    _, biased = built
    result = CliRunner().invoke(audit, [str(biased), "--sample", "20", "--strict"])
    assert result.exit_code == EXIT_SHORTCUT, result.output
    assert "biased-latent-a (Latent A (biased))" in result.output


def test_cached_build_is_reused_and_keyed_by_quality(built, monkeypatch):
    mini_root, biased = built
    cache = mini_root.parent

    def boom(*args, **kwargs):
        raise AssertionError("rebuilt a cached build")

    monkeypatch.setattr(mini_biased, "build_mini_biased", boom)
    monkeypatch.setattr(mini, "build_mini", boom)
    assert mini_biased.ensure_mini_biased(seed=0, cache_dir=cache, quality=QUALITY) == biased
    assert mini.ensure_mini(cache_dir=cache) == mini_root
    assert mini_biased.mini_biased_root(0, cache, quality=96) != biased
    registry = get_registry()
    assert infer_dataset(registry, biased) == "mini-biased"  # each by its stamp file
    assert infer_dataset(registry, mini_root) == "mini"
    with pytest.raises(GibenchError, match="no dataset recognises"):
        infer_dataset(registry, cache)
    assert not list(cache.glob("*.tmp-*"))  # atomic: no temporary folder left
    with pytest.raises(ValueError, match="1..100"):
        mini_biased.ensure_mini_biased(cache_dir=cache, quality=0)


# -- the size shortcut ----------------------------------------------------------------------------
REAL_SIZE = 96


@pytest.fixture(scope="module")
def built_size(built) -> Path:
    """mini-biased with PNG reals resized to 96 px (fakes stay mini's 72-px PNGs)."""
    mini_root, _ = built
    return mini_biased.build_mini_biased(mini_root, mini_root.parent / "size-build", quality=None,
                                  real_size=REAL_SIZE, progress=False)


def test_size_variant_resizes_reals_only_and_keeps_png(built, built_size):
    mini_root, _ = built
    for split in ("train", "val"):
        sub = built_size / "latent-a" / split
        assert _formats(sub / "nature") == _formats(sub / "ai") == {"PNG"}
        reals = sorted((sub / "nature").iterdir())
        assert [p.name for p in reals] == sorted(
            p.name for p in (mini_root / "latent-a" / split / "nature").iterdir())
        assert {Image.open(p).size for p in reals} == {(REAL_SIZE, REAL_SIZE)}
        assert {Image.open(p).size for p in (sub / "ai").iterdir()} == {(72, 72)}
    # the same picture, bicubic-upscaled: back down it is close to mini's crop
    name = sorted((mini_root / "latent-a" / "val" / "nature").iterdir())[0]
    up = Image.open(built_size / "latent-a" / "val" / "nature" / name.name)
    back = np.asarray(up.resize((72, 72), Image.Resampling.BICUBIC), dtype=float)
    assert np.abs(back - np.asarray(Image.open(name), dtype=float)).mean() < 6
    stamp = (built_size / mini_biased.BIASED_STAMP).read_text()
    assert '"real_size": 96' in stamp and '"real_format": "PNG"' in stamp


def test_audit_flags_the_size_shortcut_and_not_format(built_size, registry):
    report = audit_root(built_size, registry.subsets("mini-biased"))
    assert len(report.warnings) == 2 * len(mini_biased.MINI_BIASED_SUBSETS)
    for record in report.subsets:
        rules = {(r.split, r.feature): r for r in record.rules}
        for split in ("train", "val"):
            assert rules[(split, "size")].rule == "fake iff size == 72x72"
            assert rules[(split, "size")].accuracy == 100.0
            assert rules[(split, "format")].accuracy == 50.0


def test_shortcut_names_and_fingerprints(tmp_path):
    root = mini_biased.mini_biased_root
    assert root(0, tmp_path).name.endswith("-seed0-q90")  # the format-only name is unchanged
    assert root(0, tmp_path, quality=None, real_size=96).name.endswith("-seed0-png-s96")
    assert root(0, tmp_path, quality=75, real_size=96).name.endswith("-seed0-q75-s96")
    prints = {mini_biased._biased_fingerprint(0, q, s)
              for q, s in [(90, None), (None, 96), (90, 96)]}
    assert len(prints) == 3
    with pytest.raises(ValueError, match="needs a shortcut"):
        root(0, tmp_path, quality=None)
    with pytest.raises(ValueError, match="at least 8"):
        root(0, tmp_path, quality=None, real_size=4)


def test_command_refuses_a_build_without_a_shortcut():
    from gibench.cli import main

    result = CliRunner().invoke(main, ["data", "mini-biased", "--png"])
    assert result.exit_code == 2 and "would be mini itself" in result.output
    result = CliRunner().invoke(main, ["data", "mini-biased", "--png", "--quality", "80",
                                       "--real-size", "96"])
    assert result.exit_code == 2 and "either --png or --quality" in result.output


# -- the placebo is a control: shown, never averaged, never trained on by the matrix suite ------
def test_cross_generator_table_leaves_the_placebo_out_of_avg(registry):
    import pandas as pd

    from gibench.builtin.suites import render_accuracy_table

    subsets = registry.subsets("mini-biased")
    accs = {s.name: 60.0 + i for i, s in enumerate(subsets)}  # the placebo gets 66
    results = pd.DataFrame([{"detector": "spec", "dataset": "mini-biased",
                             "train_subset": "biased-vq", "test_subset": n,
                             "degradation": "none", "n_real": 10, "n_fake": 10, "acc": a,
                             "real_acc": a, "fake_acc": a, "auc": a, "ap": a, "eer": 1.0,
                             "tpr_at_fpr1": 1.0} for n, a in accs.items()])
    text = render_accuracy_table(results, subsets, "Cross-generator (mini-biased)")
    header, _, row = [line for line in text.splitlines() if line.startswith("|")][:3]
    cells = dict(zip([c.strip() for c in header.split("|")], [c.strip() for c in row.split("|")],
                     strict=True))
    assert cells["Placebo (biased)"] == "66.0"
    assert cells["Avg"] == "62.5"  # the six generators' 60..65, not 63.0 with the placebo
    assert "Avg leaves out Placebo (biased)" in text


def test_matrix_suite_trains_on_generators_not_on_the_placebo(registry, monkeypatch):
    from types import SimpleNamespace

    from gibench.builtin import suites

    trained: list[str] = []
    ctx = SimpleNamespace(
        requested_train_subset=None, dataset="mini-biased", train_split="train",
        dataset_subsets=lambda: registry.subsets("mini-biased"),
        test_subsets=[s.name for s in registry.subsets("mini-biased")],
        check_available=lambda names: None, model_for=lambda name: trained.append(name),
        release=lambda name: None, degradations=[], evaluate_many=lambda *a, **k: None,
        order_by_model=lambda names: None)
    suites._run_matrix(ctx)
    assert trained == [f"biased-{g.name}" for g in mini.GENERATORS]
    assert mini_biased.PLACEBO_SUBSET.control and not any(
        s.control for s in registry.subsets("mini"))
