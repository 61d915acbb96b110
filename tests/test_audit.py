"""``gibench data audit``: formats from headers, JPEG quality from the quantisation tables,
sizes, and the trivial rules that flag a format or size shortcut."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from gibench.builtin.genimage import GENIMAGE_SUBSETS
from gibench.cli.data import EXIT_SHORTCUT, EXIT_UNUSABLE, audit
from gibench.data.audit import (
    ImageFacts,
    audit_root,
    best_rule,
    estimate_jpeg_quality,
    ijg_table,
    read_facts,
    render_audit,
    write_json,
)

SPECS = {spec.name: spec for spec in GENIMAGE_SUBSETS}


def _pixels(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    w, h = size
    return Image.fromarray(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8))


def _jpeg_bytes(quality: int, seed: int = 0) -> Image.Image:
    buf = io.BytesIO()
    _pixels(np.random.default_rng(seed), (16, 16)).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf)


# -- JPEG quality ---------------------------------------------------------------------------

@pytest.mark.parametrize("quality", range(1, 101))
def test_quality_of_files_pil_writes_is_exact(quality):
    with _jpeg_bytes(quality, seed=quality) as image:
        assert estimate_jpeg_quality(image.quantization[0]) == quality


def test_ijg_scaling_formula():
    assert ijg_table(50).tolist()[:8] == [16, 11, 10, 16, 24, 40, 51, 61]  # the base table
    assert set(ijg_table(100).tolist()) == {1}
    assert ijg_table(75)[0] == 8 and ijg_table(25)[0] == 32  # (16*50+50)//100, (16*200+50)//100
    assert ijg_table(1).max() == 255  # baseline clamp
    with pytest.raises(ValueError, match="1..100"):
        ijg_table(0)


def test_non_standard_table_gets_the_nearest_quality(tmp_path):
    table = ijg_table(93).copy()
    table[5] += 1  # a tool with its own rounding
    assert estimate_jpeg_quality(table.tolist()) == 93
    path = tmp_path / "odd.jpg"
    _pixels(np.random.default_rng(0), (16, 16)).save(path, format="JPEG",
                                                     qtables=[table.tolist()])
    facts = read_facts(path)
    assert (facts.quality, facts.exact, facts.quality_label) == (93, False, "~93")


def test_format_comes_from_the_header_not_the_extension(tmp_path):
    rng = np.random.default_rng(0)
    _pixels(rng, (20, 10)).save(tmp_path / "n01440764_1.JPEG", format="PNG")
    _pixels(rng, (8, 8)).save(tmp_path / "x.png", format="JPEG", quality=96)
    assert read_facts(tmp_path / "n01440764_1.JPEG") == ImageFacts("PNG", (20, 10))
    assert read_facts(tmp_path / "x.png") == ImageFacts("JPEG", (8, 8), 96, True)


# -- trivial rules --------------------------------------------------------------------------

def test_rule_on_a_fixed_fake_size():
    real = [(500, 375), (500, 333), (375, 500), (500, 375)] * 10
    fake = [(512, 512)] * 40
    rule = best_rule("val", "size", real, fake)
    assert rule.rule == "fake iff size == 512x512"
    assert (rule.accuracy, rule.real_acc, rule.fake_acc) == (100.0, 100.0, 100.0)


def test_rule_is_negated_when_the_real_side_is_simpler():
    real = [96] * 30
    fake = [30, 40, 50, 60, 70, 80] * 5
    rule = best_rule("train", "JPEG quality", real, fake)
    assert rule.rule == "fake iff JPEG quality != 96" and rule.accuracy == 100.0


def test_memorised_rare_sizes_are_not_a_shortcut():
    """Unique sizes on both sides separate the sample, but no half predicts the other."""
    real = [(100 + i, 100) for i in range(60)]
    fake = [(300 + i, 100) for i in range(60)]
    rule = best_rule("val", "size", real, fake)
    assert rule.accuracy == 50.0  # in-sample it would be 100%


def test_partial_shortcut_and_identical_mixes():
    real = ["JPEG"] * 80 + ["PNG"] * 20
    fake = ["PNG"] * 80 + ["JPEG"] * 20
    assert best_rule("val", "format", real, fake).accuracy == pytest.approx(80.0)
    same = best_rule("val", "format", ["PNG"] * 10, ["PNG"] * 10)
    assert same.accuracy == 50.0 and same.rule.startswith("none")


# -- auditing a root ------------------------------------------------------------------------

def _genimage_like(root: Path, n: int = 24, fake_size=(64, 64), seed: int = 0) -> Path:
    """SD V1.4 as distributed: real JPEGs (q96, varied sizes), fake PNGs of one size."""
    rng = np.random.default_rng(seed)
    sub = root / "stable_diffusion_v_1_4" / "imagenet_ai_0419_sdv4"
    for split in ("train", "val"):
        for i in range(n):
            (sub / split / "ai").mkdir(parents=True, exist_ok=True)
            (sub / split / "nature").mkdir(parents=True, exist_ok=True)
            _pixels(rng, fake_size).save(sub / split / "ai" / f"{i:03d}_sdv4_{i:05d}.png")
            size = (int(rng.integers(40, 90)), int(rng.integers(40, 90)))
            _pixels(rng, size).save(sub / split / "nature" / f"n01440764_{i}.JPEG",
                                    format="JPEG", quality=96)
    return root


def test_genimage_like_root_is_flagged(tmp_path):
    root = _genimage_like(tmp_path)
    report = audit_root(root, [SPECS["sdv1.4"], SPECS["adm"]], sample=10)
    assert report.usable and len(report.problems) == 1 and "adm" in report.problems[0]
    sd14 = report.subsets[0]
    real, fake = sd14.classes[("val", "nature")], sd14.classes[("val", "ai")]
    assert (real.count, real.sampled, fake.sampled) == (24, 10, 10)
    assert real.formats == {"JPEG": 10} and real.qualities == {"96": 10}
    assert fake.formats == {"PNG": 10} and fake.sizes == {(64, 64): 10}
    rules = {(r.split, r.feature): r for r in sd14.rules}
    assert rules[("val", "format")].rule == "fake iff format == PNG"
    assert rules[("val", "size")].rule == "fake iff size == 64x64"
    assert all(r.accuracy == 100.0 for r in sd14.rules)
    warnings = report.warnings
    assert len(warnings) == 2  # one per split, naming the best rule
    assert "separable by format alone: 'fake iff format == PNG' is right on 100.0%" in warnings[0]
    text = render_audit(report)
    for piece in ("WARNING: shortcuts (a trivial rule above 90%)", "q96 10", "64x64 10",
                  "SHORTCUT", "1 of 2 subsets audited, 2 shortcut warning(s), 1 problem(s)"):
        assert piece in text, piece


def test_sample_is_seeded_and_capped(tmp_path):
    root = _genimage_like(tmp_path, n=30)
    a = audit_root(root, [SPECS["sdv1.4"]], sample=7, seed=3)
    b = audit_root(root, [SPECS["sdv1.4"]], sample=7, seed=3)
    c = audit_root(root, [SPECS["sdv1.4"]], sample=7, seed=4)
    sizes = [r.subsets[0].classes[("train", "nature")].sizes for r in (a, b, c)]
    assert sizes[0] == sizes[1] != sizes[2]
    assert sum(sizes[0].values()) == 7
    everything = audit_root(root, [SPECS["sdv1.4"]], sample=1000)
    assert everything.subsets[0].classes[("train", "nature")].sampled == 30


def test_unreadable_file_and_missing_root_are_problems(tmp_path):
    root = _genimage_like(tmp_path, n=4)
    bad = root / "stable_diffusion_v_1_4" / "imagenet_ai_0419_sdv4" / "val" / "ai" / "zz.png"
    bad.write_bytes(b"not an image")
    report = audit_root(root, [SPECS["sdv1.4"]])
    assert any("unreadable image" in p and "zz.png" in p for p in report.problems)
    assert report.subsets[0].classes[("val", "ai")].sampled == 4
    missing = audit_root(tmp_path / "nope", [SPECS["sdv1.4"]])
    assert not missing.usable and "not a folder" in missing.problems[0]


def test_json_report(tmp_path):
    report = audit_root(_genimage_like(tmp_path / "data"), [SPECS["sdv1.4"]], sample=5)
    out = tmp_path / "out" / "audit.json"
    write_json(report, out)
    data = json.loads(out.read_text())
    assert data["threshold"] == 90.0 and len(data["warnings"]) == 2
    (subset,) = data["subsets"]
    assert {c["label"] for c in subset["classes"]} == {"ai", "nature"}
    val_ai = next(c for c in subset["classes"] if (c["split"], c["label"]) == ("val", "ai"))
    assert val_ai["sizes"] == [{"width": 64, "height": 64, "count": 5}]
    assert val_ai["min_size"] == val_ai["max_size"] == [64, 64]
    assert all(r["shortcut"] for r in subset["rules"])
    assert list(out.parent.iterdir()) == [out]  # no temporary file left behind


# -- the command ----------------------------------------------------------------------------

def test_command_exit_codes_and_json(tmp_path):
    root = _genimage_like(tmp_path / "data", n=6)
    runner = CliRunner()
    result = runner.invoke(audit, [str(root), "--subsets", "sdv1.4", "--sample", "4",
                                   "--json", str(tmp_path / "a.json")])
    assert result.exit_code == 0, result.output  # a shortcut is a finding, not an error
    assert "fake iff format == PNG" in result.output
    assert json.loads((tmp_path / "a.json").read_text())["sample"] == 4
    strict = runner.invoke(audit, [str(root), "--subsets", "sdv1.4", "--strict"])
    assert strict.exit_code == EXIT_SHORTCUT
    lenient = runner.invoke(audit, [str(root), "--subsets", "sdv1.4", "--strict",
                                    "--threshold", "100"])
    assert lenient.exit_code == 0  # 100% is not above 100%
    unusable = runner.invoke(audit, [str(tmp_path / "empty")])
    assert unusable.exit_code == EXIT_UNUSABLE
    assert "no dataset recognises the data root" in unusable.output
    assert "'genimage' expects a GenImage tree" in unusable.output
