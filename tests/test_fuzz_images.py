"""Fuzzing the decoder: random bytes, real magic numbers followed by garbage, real images with
bytes flipped or cut. Every file decodes to an RGB uint8 image of the size its header gives, or
raises ``BadImageError`` naming it — in the test process and in a DataLoader worker, which
neither crashes nor hangs."""

from __future__ import annotations

import contextlib
import io
import signal
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from gibench.data.dataset import ImageDataset, make_loader
from gibench.data.images import BadImageError, load_rgb
from gibench.data.layout import ImageIndex

MAGIC = {
    "png": b"\x89PNG\r\n\x1a\n",
    "jpg": b"\xff\xd8\xff",
    "gif": b"GIF89a",
    "webp": b"RIFF\x00\x10\x00\x00WEBPVP8 ",
    "bmp": b"BM",
    "tif": b"II*\x00",
}
_FORMATS = {"png": "PNG", "jpg": "JPEG", "gif": "GIF", "webp": "WEBP", "bmp": "BMP",
            "tif": "TIFF"}
_ORIENTATION = 0x0112


@contextlib.contextmanager
def deadline(seconds: int):
    """Fail (rather than hang) when the block runs longer than ``seconds``."""
    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _real_images(rng: np.random.Generator) -> dict[str, bytes]:
    arr = rng.integers(0, 256, size=(24, 32, 3), dtype=np.uint8)
    images = {}
    for ext, fmt in _FORMATS.items():
        buffer = io.BytesIO()
        Image.fromarray(arr).save(buffer, format=fmt)
        images[ext] = buffer.getvalue()
    exif = Image.Exif()
    exif[_ORIENTATION] = 6
    buffer = io.BytesIO()
    Image.fromarray(arr).save(buffer, format="JPEG", exif=exif)
    images["exif.jpg"] = buffer.getvalue()
    return images


def fuzz_corpus(folder: Path, n: int = 360, seed: int = 0) -> list[Path]:
    """``n`` files: a third random bytes (0-4 KB), a third a real magic number then garbage, a
    third real images with 1-8 bytes flipped and, one time in two, cut at a random offset."""
    rng = np.random.default_rng(seed)
    images = _real_images(rng)
    paths = []
    for k in range(n):
        kind = k % 3
        if kind == 0:
            ext = ("png", "jpg", "webp")[k % 9 // 3]
            data = rng.bytes(int(rng.integers(0, 4097)))
        elif kind == 1:
            ext = list(MAGIC)[k // 3 % len(MAGIC)]
            data = MAGIC[ext] + rng.bytes(int(rng.integers(0, 4097 - len(MAGIC[ext]))))
        else:
            ext = list(images)[k // 3 % len(images)]
            mutated = bytearray(images[ext])
            for offset in rng.integers(0, len(mutated), size=int(rng.integers(1, 9))):
                mutated[offset] = int(rng.integers(0, 256))
            if rng.random() < 0.5:
                mutated = mutated[: int(rng.integers(0, len(mutated)))]
            data = bytes(mutated)
        path = folder / f"{k:04d}.{ext.rsplit('.', 1)[-1]}"
        path.write_bytes(data)
        paths.append(path)
    return paths


def header_size(path: Path) -> tuple[int, int] | None:
    """(height, width) that a full decode must give, read from the header (EXIF orientations 5
    to 8 swap them), or ``None`` when PIL cannot even parse the header."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                width, height = img.size
                orientation = img.getexif().get(_ORIENTATION, 1)
    except Exception:
        return None
    return (width, height) if orientation in (5, 6, 7, 8) else (height, width)


def decode_or_reason(path: Path) -> np.ndarray | str:
    """The decoded pixels, or the reason of the ``BadImageError`` (which must name ``path``);
    any other exception fails the test."""
    try:
        img = load_rgb(path)
    except BadImageError as exc:
        assert exc.path == str(path) and str(path) in str(exc)
        return exc.reason
    arr = np.asarray(img)
    assert img.mode == "RGB" and arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3
    assert arr.shape[:2] == header_size(path), path
    return arr


@pytest.mark.filterwarnings("ignore::UserWarning")  # PIL warns on corrupt metadata
def test_fuzzed_files_decode_or_raise_bad_image_error_naming_them(tmp_path):
    paths = fuzz_corpus(tmp_path)
    with deadline(120):
        results = [decode_or_reason(path) for path in paths]
    good = sum(isinstance(r, np.ndarray) for r in results)
    assert 0 < good < len(paths) // 3  # both outcomes occur; random bytes never decode
    assert all(isinstance(r, str) for r in results[0::3])


def native(img: Image.Image, rng) -> torch.Tensor:
    """The decoded image as a uint8 CHW tensor, at its own size."""
    return torch.from_numpy(np.asarray(img).transpose(2, 0, 1).copy())


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_fuzzed_files_through_a_dataloader_worker_are_good_or_skipped(tmp_path):
    paths = fuzz_corpus(tmp_path, n=240, seed=1)
    expected = [decode_or_reason(path) for path in paths]
    index = ImageIndex("fuzz", "val", tmp_path, [p.name for p in paths], np.zeros(len(paths)))
    loader = make_loader(ImageDataset(index, native, skip_bad=True), batch_size=16,
                         shuffle=False, workers=1, seed=0, pin_memory=False, by_size=True)
    seen: dict[int, np.ndarray | str] = {}
    with deadline(120):
        for batch in loader:
            for group in batch.groups:
                for i, image in zip(group.indices.tolist(), group.images, strict=True):
                    seen[i] = image.numpy().transpose(1, 2, 0)
            seen.update(batch.bad)
    assert sorted(seen) == list(range(len(paths)))  # every file: decoded or counted as bad
    for i, want in enumerate(expected):
        if isinstance(want, str):
            assert seen[i] == want, paths[i]
        else:
            np.testing.assert_array_equal(seen[i], want)


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=4096), suffix=st.sampled_from([".png", ".jpg"]),
       magic=st.sampled_from([b"", *MAGIC.values()]))
def test_any_bytes_decode_or_raise_bad_image_error(tmp_path_factory, data, suffix, magic):
    path = tmp_path_factory.mktemp("fuzz") / f"file{suffix}"
    path.write_bytes(magic + data)
    with deadline(30):
        decode_or_reason(path)


@pytest.mark.parametrize("workers", [0, 1])
def test_a_bad_file_read_by_a_worker_raises_bad_image_error_naming_it(tmp_path, workers):
    from gibench.errors import GibenchError

    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes(MAGIC["png"] + b"garbage")
    index = ImageIndex("fuzz", "val", tmp_path, ["bad.png", "good.png"], np.zeros(2))
    loader = make_loader(ImageDataset(index, native), batch_size=2, shuffle=False,
                         workers=workers, seed=0, pin_memory=False, by_size=True)
    with deadline(60), pytest.raises(GibenchError) as info:
        list(loader)
    # torch's worker wraps an error it cannot rebuild in a RuntimeError; ours comes through
    assert type(info.value) is BadImageError
    assert info.value.path == str(tmp_path / "bad.png")
    assert "Traceback" not in str(info.value) and "--" not in str(info.value)
