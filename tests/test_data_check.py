"""``check_root``: what a data root holds, per subset, split and label, and what is wrong."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from gibench.builtin.genimage import GENIMAGE_SUBSETS
from gibench.data.check import check_root, render_report

SPECS = {spec.name: spec for spec in GENIMAGE_SUBSETS}
THREE = [SPECS["sdv1.4"], SPECS["sdv1.5"], SPECS["adm"]]


def _image(path: Path, size: tuple[int, int], fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (120, 30, 200)).save(path, format=fmt)


def make_subset(subset_dir: Path, fake: str, fake_size: tuple[int, int], n: int = 3) -> Path:
    """``n`` PNG fakes of ``fake_size`` and ``n`` 10x6 JPEG reals in each split."""
    for split in ("train", "val"):
        for i in range(n):
            _image(subset_dir / split / "ai" / f"{i:03d}_{fake}_{i:05d}.png", fake_size, "PNG")
            real = (
                f"n01440764_{10043 + i}.JPEG"
                if split == "train"
                else (f"ILSVRC2012_val_{i + 1:08d}.JPEG")
            )
            _image(subset_dir / split / "nature" / real, (10, 6), "JPEG")
    return subset_dir


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """SD V1.4 nested, SD V1.5 under its README display name, ADM flattened."""
    make_subset(tmp_path / "stable_diffusion_v_1_4" / "imagenet_ai_0419_sdv4", "sdv4", (16, 16))
    make_subset(tmp_path / "Stable Diffusion V1.5", "sdv5", (12, 12))
    make_subset(tmp_path / "imagenet_ai_0508_adm", "adm", (8, 8))
    return tmp_path


def test_complete_root_counts_formats_and_sizes(root):
    report = check_root(root, THREE)
    assert report.ok and report.problems == [] and report.n_found == 3
    sd14 = report.subset("sdv1.4")
    assert sd14.folder == root / "stable_diffusion_v_1_4" / "imagenet_ai_0419_sdv4"
    assert report.subset("sdv1.5").folder == root / "Stable Diffusion V1.5"
    assert report.subset("adm").folder == root / "imagenet_ai_0508_adm"
    for split in ("train", "val"):
        for label in ("ai", "nature"):
            assert sd14.count(split, label) == 3
    assert sd14.folders[("train", "ai")].formats == Counter({".png": 3})
    assert sd14.folders[("val", "nature")].formats == Counter({".jpeg": 3})
    assert sd14.folders[("train", "ai")].sizes == Counter({(16, 16): 3})
    assert sd14.folders[("train", "nature")].sizes == Counter({(10, 6): 3})
    assert report.subset("adm").folders[("val", "ai")].sizes == Counter({(8, 8): 3})


def test_sizes_come_from_a_seeded_sample_of_at_most_sample_files(tmp_path):
    subset_dir = make_subset(tmp_path / "imagenet_ai_0508_adm", "adm", (8, 8), n=2)
    for i in range(10):  # ten more fakes, each of its own size
        _image(subset_dir / "train" / "ai" / f"460_adm_{i}.PNG", (20 + i, 9), "PNG")
    spec = [SPECS["adm"]]
    stats = check_root(tmp_path, spec, sample=4, seed=3).subset("adm").folders[("train", "ai")]
    assert stats.count == 12 and sum(stats.sizes.values()) == stats.sampled == 4
    assert stats.formats == Counter({".png": 12})  # formats count every file, not the sample
    again = check_root(tmp_path, spec, sample=4, seed=3).subset("adm").folders[("train", "ai")]
    assert again.sizes == stats.sizes
    other_seeds = [
        check_root(tmp_path, spec, sample=4, seed=s).subset("adm").folders[("train", "ai")].sizes
        for s in range(4, 9)
    ]
    assert any(sizes != stats.sizes for sizes in other_seeds)


def test_missing_subsets_are_problems_naming_what_was_tried(root):
    report = check_root(root, GENIMAGE_SUBSETS)
    assert not report.ok and report.n_found == 3
    missing = {r.name for r in report.subsets if not r.found}
    assert missing == {"midjourney", "glide", "wukong", "vqdm", "biggan"}
    assert len(report.problems) == 5
    (biggan,) = [p for p in report.problems if p.startswith("biggan:")]
    assert str(root / "BigGAN" / "imagenet_ai_0419_biggan") in biggan
    assert str(root / "imagenet_ai_0419_biggan") in biggan


def test_missing_and_empty_folders_are_named_with_full_paths(root):
    sd14 = root / "stable_diffusion_v_1_4" / "imagenet_ai_0419_sdv4"
    for f in (sd14 / "val" / "nature").iterdir():
        f.unlink()
    (sd14 / "val" / "nature").rmdir()
    for f in (sd14 / "train" / "ai").iterdir():
        f.unlink()
    (sd14 / "train" / "ai" / "notes.txt").write_text("no images here")
    adm = root / "imagenet_ai_0508_adm"
    for f in (adm / "val").rglob("*.*"):
        f.unlink()
    for d in ((adm / "val" / "ai"), (adm / "val" / "nature"), (adm / "val")):
        d.rmdir()
    report = check_root(root, THREE)
    assert report.problems == [
        f"sdv1.4: empty folder (no images): {sd14 / 'train' / 'ai'} holds 1 entry: notes.txt",
        f"sdv1.4: missing folder {sd14 / 'val' / 'nature'}",
        f"adm: missing folder {adm / 'val'}",
    ]
    assert report.subset("sdv1.4").count("train", "ai") == 0
    assert report.subset("sdv1.4").count("train", "nature") == 3
    assert ("val", "nature") not in report.subset("sdv1.4").folders


def test_unreadable_image_is_a_problem_not_a_crash(root):
    bad = root / "imagenet_ai_0508_adm" / "val" / "nature" / "ILSVRC2012_val_00000009.JPEG"
    bad.write_bytes(b"\xff\xd8 truncated garbage")
    report = check_root(root, [SPECS["adm"]])
    assert len(report.problems) == 1
    assert report.problems[0].startswith(f"adm: unreadable image: {bad} (")
    stats = report.subset("adm").folders[("val", "nature")]
    assert stats.count == 4 and stats.sampled == 3  # counted, but its size is unknown


def test_missing_root_is_one_problem(tmp_path):
    report = check_root(tmp_path / "nowhere", THREE)
    assert report.problems == [
        f"data root is not a folder: {tmp_path / 'nowhere'} (nothing: the path does not exist)"
    ]
    assert report.n_found == 0 and len(report.subsets) == 3


def test_render_complete_report(root):
    text = render_report(check_root(root, THREE))
    assert f"sdv1.4 (SD V1.4): {root / 'stable_diffusion_v_1_4' / 'imagenet_ai_0419_sdv4'}" in text
    header = next(line for line in text.splitlines() if line.startswith("split"))
    assert header.split()[:5] == ["split", "ai", "nature", "formats", "sizes"]
    train_row = next(line for line in text.splitlines() if line.startswith("train"))
    assert train_row.split()[:3] == ["train", "3", "3"]
    assert "ai: .png 3" in text and "nature: .jpeg 3" in text
    assert "ai: 16x16 (3)" in text and "nature: 10x6 (3)" in text
    assert "problems:" not in text
    assert text.splitlines()[-1] == "3 subsets found, 0 problems"


def test_render_report_with_problems(root):
    text = render_report(check_root(root, [SPECS["adm"], SPECS["biggan"]]))
    assert "biggan (BigGAN): not found" in text
    assert "problems:\n- biggan: subset folder missing; tried " in text
    assert text.splitlines()[-1] == "1 of 2 subsets found, 1 problem"
