"""``gibench data check --deep``: every image decoded in watched worker processes, the bad ones
listed in a CSV with their reasons; a file that hangs or crashes its decoder is one bad file."""

from __future__ import annotations

import io
import os
import signal
import struct
import sys
import time
import types
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from gibench.builtin.genimage import GENIMAGE_SUBSETS
from gibench.cli import main
from gibench.data.check import (
    BAD_LIST_COLUMNS,
    check_root,
    decode_files,
    deep_check,
    render_deep,
    render_report,
    write_bad_list,
)
from gibench.data.images import load_rgb
from gibench.errors import GibenchError
from tests.conftest import write_toy_tree

SPECS = {spec.name: spec for spec in GENIMAGE_SUBSETS}
ADM_AND_SD14 = [SPECS["adm"], SPECS["sdv1.4"]]


def _noise(seed: int, size: int = 24) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(size, size, 3), dtype=np.uint8)


def _encoded(seed: int, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(_noise(seed)).save(buffer, format=fmt)
    return buffer.getvalue()


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` × ``height`` pixels and holds almost none."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def _good_subset(subset_dir: Path, n: int = 2) -> None:
    for split in ("train", "val"):
        for label in ("ai", "nature"):
            for i in range(n):
                _write(subset_dir / split / label / f"{i:03d}_{label}.png", _encoded(i, "PNG"))


def hostile_tree(root: Path) -> tuple[dict[str, str], Path]:
    """ADM (flattened) with hostile files, SD V1.4 (nested) all good. Returns the bad files
    (path → a word its reason must hold) and the JPEG saved under a ``.png`` name."""
    adm = root / "imagenet_ai_0508_adm"
    _good_subset(adm)
    _good_subset(root / "stable_diffusion_v_1_4" / "imagenet_ai_0419_sdv4")
    ai, nature = adm / "train" / "ai", adm / "val" / "nature"
    png, jpeg = _encoded(7, "PNG"), _encoded(8, "JPEG")
    _write(ai / "good.jpg", jpeg)
    disguised = _write(ai / "jpeg_named.png", jpeg)  # a JPEG with a .png name: good
    _write(ai / "x.png" / "inside.png", png)  # a folder named like an image: walked, not bad
    (ai / "empty_folder.jpg").mkdir()
    (ai / "loop").symlink_to(ai, target_is_directory=True)  # a folder loop: walked once
    bad = {
        _write(ai / "empty.png", b""): "empty",
        _write(ai / "truncated.png", png[: len(png) // 2]): "truncated",
        _write(nature / "truncated.JPEG", jpeg[: len(jpeg) // 2]): "truncated",
        _write(ai / "random.png", np.random.default_rng(0).bytes(3000)): "cannot identify",
        _write(nature / "random.webp", np.random.default_rng(1).bytes(100)): "cannot identify",
    }
    (nature / "dangling.png").symlink_to(root / "deleted.png")
    bad[nature / "dangling.png"] = "not found"
    # 10^8 and 10^10 pixels declared: refused from the header (warning and error of PIL's
    # bomb check: the first is raised only because load_rgb turns that warning into an error)
    for side in (10_000, 100_000):
        bad[_write(ai / f"bomb{side}.png", _png_header(side, side))] = "decompression bomb"
    return {str(path): word for path, word in bad.items()}, disguised


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # the header read
def test_deep_check_lists_exactly_the_bad_files_whatever_the_worker_count(tmp_path):
    expected, disguised = hostile_tree(tmp_path / "data")
    with Image.open(disguised) as raw:  # the disguised JPEG decodes to the JPEG's own pixels
        assert raw.format == "JPEG"
        reference = np.asarray(raw.convert("RGB"))
    np.testing.assert_array_equal(np.asarray(load_rgb(disguised)), reference)

    report = check_root(tmp_path / "data", ADM_AND_SD14)
    one = deep_check(report, workers=1, timeout=60)
    two = deep_check(report, workers=2, timeout=60)
    assert one.bad == two.bad and one.decoded == two.decoded
    assert {b.path: b.subset for b in one.bad} == dict.fromkeys(expected, "adm")
    for b in one.bad:
        assert expected[b.path] in b.reason.lower(), (b.path, b.reason)
    # 8 good PNGs + good.jpg + jpeg_named.png + x.png/inside.png + 8 bad in ADM; 8 in SD V1.4
    assert one.decoded == {"adm": 19, "sdv1.4": 8}
    assert not one.ok and one.n_bad("adm") == 8 and one.n_bad("sdv1.4") == 0
    assert (two.workers, one.workers) == (2, 1)

    csv = tmp_path / "out" / "bad.csv"
    write_bad_list(one, csv)
    table = pd.read_csv(csv)
    assert tuple(table.columns) == BAD_LIST_COLUMNS
    assert list(table["path"]) == [b.path for b in one.bad] and set(table["path"]) == set(expected)
    assert list(table["reason"]) == [b.reason for b in one.bad]
    assert [p.name for p in csv.parent.iterdir()] == ["bad.csv"]  # no temporary file left

    text = render_deep(one, csv)
    assert f"- {tmp_path / 'data' / 'imagenet_ai_0508_adm' / 'train' / 'ai' / 'empty.png'}: " \
           "empty file (0 bytes)" in text
    assert text.splitlines()[-1].endswith("with 1 worker: 8 bad files, listed in " + str(csv))


def test_a_file_symlink_loop_is_one_bad_file_not_an_unreadable_folder(tmp_path):
    subset_dir = tmp_path / "imagenet_ai_0508_adm"
    _good_subset(subset_dir, n=1)
    loop = subset_dir / "train" / "ai" / "loop.png"
    loop.symlink_to(loop)
    report = check_root(tmp_path, [SPECS["adm"]])
    assert report.problems == [] or "unreadable folder" not in report.problems[0]
    deep = deep_check(report, workers=1)
    assert [(b.path, "symbolic links" in b.reason) for b in deep.bad] == [(str(loop), True)]


# --------------------------------------------------------------------------- hangs and crashes


def stubborn_decode(path: str):
    """A decoder that hangs on ``hang*`` files and dies on ``crash*`` files, as a pathological
    file or a decoder bug would make it (module level, so spawned workers can import it)."""
    name = os.path.basename(path)
    if name.startswith("hang"):
        time.sleep(600)
    if name.startswith("crash"):
        os.kill(os.getpid(), signal.SIGKILL)
    return load_rgb(path)


def test_a_hanging_or_crashing_file_is_bad_and_the_others_are_still_decoded(tmp_path):
    names = ["a.png", "hang.png", "b.png", "c.png", "crash.png", "d.png", "e.png", "bad.png"]
    paths = [_write(tmp_path / name, _encoded(i, "PNG")) for i, name in enumerate(names)]
    paths[-1].write_bytes(b"not an image")
    start = time.monotonic()
    bad = decode_files(paths, total=len(paths), decode=stubborn_decode, workers=2, timeout=2,
                       chunk_size=2)
    assert time.monotonic() - start < 60
    assert [(i, reason) for i, _, reason in bad] == [
        (1, "timed out after 2 s"),
        (4, "the decoder crashed: killed by signal SIGKILL"),
        (7, f"cannot identify image file {str(paths[7])!r}"),
    ]
    assert [path for _, path, _ in bad] == [str(paths[i]) for i in (1, 4, 7)]


def test_a_worker_that_cannot_start_is_an_error_not_a_hang(tmp_path, monkeypatch):
    # A decoder only the parent can import: every spawned worker dies while unpickling it.
    module = types.ModuleType("gibench_parent_only")
    exec("def decode(path):\n    return None\n", module.__dict__)
    monkeypatch.setitem(sys.modules, "gibench_parent_only", module)
    path = _write(tmp_path / "a.png", _encoded(0, "PNG"))
    with pytest.raises(GibenchError, match="died while starting"):
        decode_files([path], total=1, decode=module.decode, workers=1)


def test_nothing_to_decode_starts_no_worker():
    assert decode_files([], total=0) == []


# --------------------------------------------------------------------------- the command


def test_command_deep_writes_the_list_and_exits_1_on_a_bad_file(toy_plugin, tmp_path,
                                                                monkeypatch):
    root = write_toy_tree(tmp_path / "toy", n=2)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    shallow = runner.invoke(main, ["data", "check", "--dataset", "toy", str(root)])
    assert shallow.exit_code == 0, shallow.output
    from gibench.registry import get_registry

    expected = render_report(check_root(root, get_registry().subsets("toy")))
    assert shallow.output == expected + "\n"  # unchanged without --deep
    assert not (tmp_path / "bad-files.csv").exists()

    deep = runner.invoke(main, ["data", "check", "--deep", "--dataset", "toy", "--workers", "1",
                                "--no-progress", str(root)])
    assert deep.exit_code == 0, deep.output
    assert deep.output.startswith(expected)
    assert "decoded 16 files in" in deep.output and ": 0 bad files" in deep.output
    table = pd.read_csv(tmp_path / "bad-files.csv")  # the default, in the current folder
    assert tuple(table.columns) == BAD_LIST_COLUMNS and table.empty

    broken = root / "nested" / "toy_b" / "val" / "nature" / "nature_001.png"
    data = broken.read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    listing = tmp_path / "lists" / "toy-bad.csv"
    deep = runner.invoke(main, ["data", "check", "--deep", "--dataset", "toy", "--workers", "2",
                                "--timeout", "30", "--no-progress", "--bad-list", str(listing),
                                str(root)])
    assert deep.exit_code == 1, deep.output
    table = pd.read_csv(listing)
    assert list(table["path"]) == [str(broken)] and list(table["subset"]) == ["toy-b"]
    assert "truncated" in table["reason"][0].lower()
    summary = deep.output[deep.output.rindex("\nsubset "):]
    rows = {line.split()[0]: line.split()[1:] for line in summary.splitlines()
            if line.startswith("toy-")}
    assert rows == {"toy-a": ["8", "0"], "toy-b": ["8", "1"]}
    assert f": 1 bad file, listed in {listing}" in deep.output


def test_command_rejects_a_zero_timeout_and_worker_count(tmp_path):
    for option in (["--timeout", "0"], ["--workers", "0"]):
        result = CliRunner().invoke(main, ["data", "check", "--deep", *option, str(tmp_path)])
        assert result.exit_code == 2 and "Invalid value" in result.output
