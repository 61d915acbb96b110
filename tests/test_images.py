"""``load_rgb``: every image mode decodes to the right RGB pixels; bad files raise
``BadImageError`` naming the file."""

from __future__ import annotations

import pickle

import numpy as np
import PIL.Image
import pytest
from PIL import Image

from gibench.data.images import BadImageError, load_rgb
from gibench.errors import GibenchError


def _noise(h=40, w=48, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def _pixels(img):
    assert img.mode == "RGB"
    return np.asarray(img)


# --------------------------------------------------------------------------- modes


def test_rgb_png_is_identical_to_the_array(tmp_path):
    arr = _noise()
    path = tmp_path / "a.png"
    Image.fromarray(arr).save(path)
    out = load_rgb(path)
    assert out.size == (48, 40)
    np.testing.assert_array_equal(_pixels(out), arr)


def test_rgb_png_accepts_a_str_path(tmp_path):
    arr = _noise(seed=1)
    path = tmp_path / "a.png"
    Image.fromarray(arr).save(path)
    np.testing.assert_array_equal(_pixels(load_rgb(str(path))), arr)


def test_jpeg_decodes_same_as_pil(tmp_path):
    path = tmp_path / "a.jpg"
    Image.fromarray(_noise()).save(path, quality=75)
    with Image.open(path) as ref:
        expected = np.asarray(ref.convert("RGB"))
    np.testing.assert_array_equal(_pixels(load_rgb(path)), expected)


def test_grey_l_is_replicated_to_three_channels(tmp_path):
    grey = np.random.default_rng(2).integers(0, 256, size=(20, 30), dtype=np.uint8)
    path = tmp_path / "g.png"
    Image.fromarray(grey, mode="L").save(path)
    out = _pixels(load_rgb(path))
    assert out.shape == (20, 30, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], grey)


def test_palette_is_expanded_to_rgb(tmp_path):
    img = Image.new("P", (8, 6))
    img.putpalette([255, 0, 0, 0, 128, 255] + [0, 0, 0] * 254)
    img.paste(1, (0, 0, 4, 6))  # left half index 1, right half index 0
    path = tmp_path / "p.png"
    img.save(path)
    out = _pixels(load_rgb(path))
    assert tuple(out[0, 0]) == (0, 128, 255)
    assert tuple(out[5, 7]) == (255, 0, 0)


def test_palette_with_transparency_is_composited_on_white(tmp_path):
    img = Image.new("P", (4, 4))
    img.putpalette([10, 20, 30, 200, 100, 50] + [0, 0, 0] * 254)
    img.paste(1, (0, 0, 2, 4))
    path = tmp_path / "pt.png"
    img.save(path, transparency=0)  # index 0 transparent
    out = _pixels(load_rgb(path))
    assert tuple(out[0, 0]) == (200, 100, 50)
    assert tuple(out[0, 3]) == (255, 255, 255)


def test_rgba_transparent_is_white_and_opaque_keeps_colour(tmp_path):
    arr = np.zeros((4, 6, 4), dtype=np.uint8)
    arr[:, :, :3] = (12, 34, 56)
    arr[:, :3, 3] = 0      # left: fully transparent
    arr[:, 3:, 3] = 255    # right: opaque
    path = tmp_path / "rgba.png"
    Image.fromarray(arr, mode="RGBA").save(path)
    out = _pixels(load_rgb(path))
    assert tuple(out[0, 0]) == (255, 255, 255)
    assert tuple(out[3, 5]) == (12, 34, 56)


def test_rgba_half_alpha_is_blended_with_white(tmp_path):
    arr = np.zeros((2, 2, 4), dtype=np.uint8)
    arr[..., 3] = 128  # black at ~50 % over white → ~127
    path = tmp_path / "half.png"
    Image.fromarray(arr, mode="RGBA").save(path)
    out = _pixels(load_rgb(path)).astype(int)
    assert np.all(np.abs(out - 127) <= 1)


def test_la_is_composited_on_white(tmp_path):
    img = Image.new("LA", (4, 2), (100, 255))
    img.paste((100, 0), (0, 0, 2, 2))
    path = tmp_path / "la.png"
    img.save(path)
    out = _pixels(load_rgb(path))
    assert tuple(out[0, 0]) == (255, 255, 255)
    assert tuple(out[1, 3]) == (100, 100, 100)


def test_sixteen_bit_grey_is_scaled_to_eight_bits(tmp_path):
    arr = np.array([[0, 65535], [32768, 257]], dtype=np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(arr).save(path)
    with Image.open(path) as raw:
        assert raw.mode.startswith("I")  # really a 16-bit file, not 8-bit
    out = _pixels(load_rgb(path))
    assert tuple(out[0, 0]) == (0, 0, 0)
    assert tuple(out[0, 1]) == (255, 255, 255)
    assert tuple(out[1, 0]) == (128, 128, 128)
    assert tuple(out[1, 1]) == (1, 1, 1)


def test_cmyk_is_converted(tmp_path):
    path = tmp_path / "c.jpg"
    Image.new("CMYK", (8, 8), (0, 0, 0, 0)).save(path, quality=95)
    out = _pixels(load_rgb(path))
    assert out.shape == (8, 8, 3)
    assert out.min() >= 250  # no ink → white


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((20, 40, 3), dtype=np.uint8)  # 40 wide, 20 high
    arr[:, :20] = (255, 0, 0)  # left half red
    arr[:, 20:] = (0, 0, 255)  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    path = tmp_path / "rot.jpg"
    Image.fromarray(arr).save(path, exif=exif, quality=95)
    with Image.open(path) as raw:
        assert raw.size == (40, 20)
    out = load_rgb(path)
    assert out.size == (20, 40)  # transposed
    px = _pixels(out).astype(int)
    # rotated clockwise: the original left (red) half ends up on top
    assert px[2, 10, 0] > 200 and px[2, 10, 2] < 60
    assert px[37, 10, 2] > 200 and px[37, 10, 0] < 60


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (10, 10), colour)
              for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    with Image.open(path) as raw:
        assert getattr(raw, "n_frames", 1) == 3
    out = _pixels(load_rgb(path))
    assert out.shape == (10, 10, 3)
    assert np.all(out == (255, 0, 0))


# --------------------------------------------------------------------------- errors


def _real_file(tmp_path, fmt):
    path = tmp_path / f"real.{fmt}"
    Image.fromarray(_noise(64, 64, seed=5)).save(path, format="PNG" if fmt == "png" else "JPEG")
    return path


def test_empty_file_names_path_and_says_empty(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(BadImageError) as info:
        load_rgb(path)
    assert str(path) in str(info.value)
    assert "empty" in str(info.value)
    assert info.value.path == str(path)
    assert isinstance(info.value, GibenchError)


@pytest.mark.parametrize("fmt", ["png", "jpg"])
def test_truncated_file_is_refused_naming_it(tmp_path, fmt):
    data = _real_file(tmp_path, fmt).read_bytes()
    path = tmp_path / f"truncated.{fmt}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadImageError) as info:
        load_rgb(path)
    assert str(path) in str(info.value)
    assert info.value.path == str(path)


def test_random_bytes_with_png_suffix_is_refused(tmp_path):
    path = tmp_path / "junk.png"
    path.write_bytes(np.random.default_rng(0).bytes(2048))
    with pytest.raises(BadImageError) as info:
        load_rgb(path)
    assert str(path) in str(info.value)


def test_missing_file_is_refused(tmp_path):
    path = tmp_path / "nope.png"
    with pytest.raises(BadImageError) as info:
        load_rgb(path)
    assert str(path) in str(info.value)
    assert "not found" in info.value.reason


@pytest.mark.parametrize("limit", [100, 3000])  # 100: bomb error (> 2×); 3000: bomb warning
def test_decompression_bomb_is_refused(tmp_path, monkeypatch, limit):
    path = tmp_path / "big.png"
    Image.fromarray(_noise(64, 64)).save(path)  # 4096 pixels
    monkeypatch.setattr(PIL.Image, "MAX_IMAGE_PIXELS", limit)
    with pytest.raises(BadImageError) as info:
        load_rgb(path)
    assert str(path) in str(info.value)


def test_bad_image_error_survives_pickling(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(BadImageError) as info:
        load_rgb(path)
    err = info.value
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is BadImageError
    assert back.path == err.path == str(path)
    assert back.reason == err.reason
    assert str(back) == str(err)
