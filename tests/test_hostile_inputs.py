"""``load_rgb`` on files that are not what their name says, or not files at all: disguised
formats, animations, every EXIF orientation, folders, paths through a file, links that lead
nowhere or in circles. Each either decodes to PIL's own pixels or raises ``BadImageError``
naming the path."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from gibench.data.images import BadImageError, load_rgb
from gibench.data.layout import list_images

_ORIENTATION = 0x0112


def _noise(h: int = 20, w: int = 30, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def _pixels(path: Path) -> np.ndarray:
    img = load_rgb(path)
    assert img.mode == "RGB"
    return np.asarray(img)


def _refused(path: Path) -> BadImageError:
    with pytest.raises(BadImageError) as info:
        load_rgb(path)
    assert info.value.path == str(path) and str(path) in str(info.value)
    return info.value


# --------------------------------------------------------------------------- good, in disguise


@pytest.mark.parametrize(("fmt", "name"), [("JPEG", "photo.png"), ("PNG", "render.jpg"),
                                           ("WEBP", "image.jpeg"), ("BMP", "scan.PNG")])
def test_a_file_named_for_another_format_decodes_by_its_content(tmp_path, fmt, name):
    path = tmp_path / name
    Image.fromarray(_noise()).save(path, format=fmt)
    with Image.open(path) as raw:
        assert raw.format == fmt
        expected = np.asarray(raw.convert("RGB"))
    np.testing.assert_array_equal(_pixels(path), expected)


@pytest.mark.parametrize("fmt", ["WEBP", "PNG", "TIFF"])  # animated WebP, APNG, multi-page TIFF
def test_animations_and_multi_page_files_give_their_first_frame(tmp_path, fmt):
    frames = [Image.new("RGB", (10, 8), colour)
              for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    path = tmp_path / f"anim.{fmt.lower()}"
    options = {"lossless": True} if fmt == "WEBP" else {}
    frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:], duration=50,
                   **options)
    with Image.open(path) as raw:
        assert raw.n_frames == 3
    out = _pixels(path)
    assert out.shape == (8, 10, 3) and np.all(out == (255, 0, 0))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_gives_pils_transposed_pixels(tmp_path, orientation):
    exif = Image.Exif()
    exif[_ORIENTATION] = orientation
    path = tmp_path / f"o{orientation}.jpg"
    Image.fromarray(_noise(20, 30, seed=orientation)).save(path, exif=exif, quality=90)
    with Image.open(path) as raw:
        assert raw.getexif()[_ORIENTATION] == orientation
        expected = np.asarray(ImageOps.exif_transpose(raw).convert("RGB"))
    assert expected.shape == ((30, 20, 3) if orientation >= 5 else (20, 30, 3))
    np.testing.assert_array_equal(_pixels(path), expected)


@pytest.mark.parametrize("orientation", [0, 9, 65535])
def test_an_invalid_exif_orientation_leaves_the_pixels_alone(tmp_path, orientation):
    exif = Image.Exif()
    exif[_ORIENTATION] = orientation
    path = tmp_path / "odd.jpg"
    Image.fromarray(_noise()).save(path, exif=exif, quality=90)
    with Image.open(path) as raw:
        expected = np.asarray(raw.convert("RGB"))
    np.testing.assert_array_equal(_pixels(path), expected)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data", "ignore:Metadata Warning")
def test_garbage_in_the_exif_block_does_not_stop_decoding(tmp_path):
    rng = np.random.default_rng(3)
    for k in range(20):
        path = tmp_path / f"exif{k}.jpg"
        tiff_header = b"II*\x00\x08\x00\x00\x00" if k % 2 else b"MM\x00*\x00\x00\x00\x08"
        junk = b"Exif\x00\x00" + tiff_header + rng.bytes(int(rng.integers(0, 200)))
        Image.fromarray(_noise()).save(path, exif=junk, quality=90)
        with Image.open(path) as raw:
            expected = np.asarray(ImageOps.exif_transpose(raw).convert("RGB"))
        np.testing.assert_array_equal(_pixels(path), expected)


# --------------------------------------------------------------------------- not an image file


def test_a_directory_is_refused_naming_it(tmp_path):
    folder = tmp_path / "x.png"
    folder.mkdir()
    assert "directory" in _refused(folder).reason.lower()


def test_a_path_through_a_file_is_refused_naming_it(tmp_path):
    parent = tmp_path / "file.png"
    Image.fromarray(_noise()).save(parent)
    assert "not a directory" in _refused(parent / "child.png").reason.lower()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode bits; the "
                    "unreadable case is covered by test_a_path_through_a_file_is_refused")
def test_a_file_without_read_permission_is_refused(tmp_path):
    path = tmp_path / "locked.png"
    Image.fromarray(_noise()).save(path)
    path.chmod(0)
    try:
        assert "permission" in _refused(path).reason.lower()
    finally:
        path.chmod(0o644)


def test_a_symlink_to_nothing_is_refused_as_not_found(tmp_path):
    link = tmp_path / "gone.png"
    link.symlink_to(tmp_path / "deleted.png")
    assert _refused(link).reason == "file not found"


def test_a_symlink_loop_is_refused_naming_it(tmp_path):
    link = tmp_path / "loop.png"
    link.symlink_to(link)
    assert "symbolic links" in _refused(link).reason


def test_a_symlink_to_a_good_image_decodes(tmp_path):
    target = tmp_path / "real.png"
    Image.fromarray(_noise()).save(target)
    (tmp_path / "alias.png").symlink_to(target)
    np.testing.assert_array_equal(_pixels(tmp_path / "alias.png"), _noise())


def test_indexing_lists_a_symlink_loop_as_a_file_whose_decoding_fails(tmp_path):
    Image.fromarray(_noise()).save(tmp_path / "a.png")
    (tmp_path / "loop.png").symlink_to(tmp_path / "loop.png")
    assert list_images(tmp_path) == ["a.png", "loop.png"]
