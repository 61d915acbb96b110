"""Hostile inputs. ``load_rgb`` on files that are not what their name says, or not files at
all: disguised formats, animations, every EXIF orientation, folders (unreadable ones too),
FIFOs, devices, paths through a file or longer than the OS allows, links that lead nowhere or
in circles; each either decodes to PIL's own pixels or raises ``BadImageError`` naming the path.
Then the engine's inputs (output paths, checkpoints, NaN weights, resumed runs of another
detector) and plugins that raise, exit or return malformed specs: each is one clear message
naming the file, option or plugin, or a bad file skipped and counted."""

from __future__ import annotations

import contextlib
import json
import os
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image, ImageOps

import gibench
from gibench.cli import main
from gibench.data.images import BadImageError, decode_rgb, load_rgb
from gibench.data.layout import list_images
from gibench.errors import GibenchError
from gibench.registry import build_registry, clear_registry_cache
from gibench.rundir import RunRecord
from tests.conftest import install_fake_distribution

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


# --------------------------------------------------------------------------- not a regular file


@contextlib.contextmanager
def _unblocked(*fifos: Path, after: float = 10.0):
    """A writer opens and closes each FIFO every ``after`` seconds while the block runs, so a
    reader that opened one (the bug) fails the test instead of blocking it forever."""
    done = threading.Event()

    def writer():
        while not done.wait(after):
            for fifo in fifos:
                with contextlib.suppress(OSError):  # ENXIO: nobody reads it, as it should be
                    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def test_a_fifo_named_png_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with _unblocked(fifo):  # opening a FIFO for reading blocks until a writer comes: never
        assert "not a regular file" in _refused(fifo).reason
        with pytest.raises(BadImageError, match="not a regular file"):
            decode_rgb(fifo)


def test_a_png_link_to_dev_zero_is_refused_before_reading_it(tmp_path):
    from tests.test_fuzz_images import deadline

    link = tmp_path / "zero.png"
    link.symlink_to("/dev/zero")
    with deadline(10):  # reading /dev/zero to its end fills the memory
        for decode in (load_rgb, decode_rgb):
            with pytest.raises(BadImageError, match="not a regular file") as info:
                decode(link)
            assert info.value.path == str(link)


def test_the_fast_jpeg_path_reads_no_more_than_its_cap(tmp_path, monkeypatch):
    from gibench.data import images

    path = tmp_path / "photo.jpg"
    Image.fromarray(_noise(40, 60)).save(path, quality=90)
    assert images._fast_jpeg(path) is not None
    monkeypatch.setattr(images, "FAST_PATH_MAX_BYTES", path.stat().st_size - 1)
    assert images._fast_jpeg(path) is None  # too large for the fast path: PIL decodes it
    np.testing.assert_array_equal(decode_rgb(path).permute(1, 2, 0).numpy(), _pixels(path))


def test_header_sampling_reads_a_bounded_prefix_of_the_file(tmp_path, monkeypatch):
    from gibench.data import images

    path = tmp_path / "big.png"
    Image.fromarray(_noise(64, 64)).save(path)
    with images.open_header(path) as img:
        assert img.size == (64, 64)
    reads = []
    real_open = open

    def spy(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        if os.fspath(file) == os.fspath(path):
            read = handle.read
            handle = _Spy(handle, lambda n=-1: reads.append(n) or read(n))
        return handle

    monkeypatch.setattr("builtins.open", spy)
    with images.open_header(path):
        pass
    assert reads and all(0 < n <= images.HEADER_MAX_BYTES for n in reads)


class _Spy:
    """A file whose ``read`` is replaced; everything else is the file's."""

    def __init__(self, handle, read):
        self._handle, self.read = handle, read

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._handle.close()


def test_header_sampling_of_data_check_and_audit_passes_over_a_fifo(tmp_path):
    from gibench.data.audit import audit_root
    from gibench.data.check import check_root
    from gibench.specs import SubsetSpec

    spec = SubsetSpec("own", "Own", "x", "x", ("own",))
    fifos = []
    for split in ("train", "val"):
        for label in ("ai", "nature"):
            folder = tmp_path / "own" / split / label
            folder.mkdir(parents=True)
            Image.fromarray(_noise()).save(folder / "a.png")
            os.mkfifo(folder / "b.png")
            fifos.append(folder / "b.png")
    with _unblocked(*fifos, after=2.0):
        report = check_root(tmp_path, [spec], sample=4)
        audit = audit_root(tmp_path, [spec], sample=4)
    assert sum("b.png" in p and "not a regular file" in p for p in report.problems) == 4
    assert all(c.sampled == 1 and len(c.unreadable) == 1
               for c in audit.subsets[0].classes.values())


# --------------------------------------------------------------------------- paths and folders


def test_a_path_longer_than_the_os_allows_is_a_bad_image_not_an_os_error(tmp_path):
    too_long = tmp_path / ("x" * 300 + ".png")
    assert "name too long" in _refused(too_long).reason.lower()


def _deny(monkeypatch, denied: Path) -> None:
    """``os.scandir(denied)`` fails as an unreadable folder does for a non-root user."""
    real = os.scandir

    def scandir(path="."):
        if os.fspath(path) == os.fspath(denied):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


def test_an_unreadable_sub_folder_is_listed_and_refused_as_a_bad_file(tmp_path, monkeypatch):
    Image.fromarray(_noise()).save(tmp_path / "a.png")
    (tmp_path / "locked").mkdir()
    _deny(monkeypatch, tmp_path / "locked")
    assert list_images(tmp_path) == ["a.png", "locked"]
    reason = _refused(tmp_path / "locked").reason
    assert "unreadable folder" in reason and "Permission denied" in reason


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder whatever its mode bits; "
                    "test_an_unreadable_sub_folder_is_listed_and_refused covers the logic")
def test_a_folder_without_read_permission_is_refused(tmp_path):
    Image.fromarray(_noise()).save(tmp_path / "a.png")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        assert list_images(tmp_path) == ["a.png", "locked"]
        assert "unreadable folder" in _refused(locked).reason
    finally:
        locked.chmod(0o755)


def test_deep_check_counts_an_unreadable_sub_folder_as_bad(tmp_path, monkeypatch):
    from gibench.data.check import check_root, deep_check
    from gibench.specs import SubsetSpec

    spec = SubsetSpec("own", "Own", "x", "x", ("own",))
    for split in ("train", "val"):
        for label in ("ai", "nature"):
            folder = tmp_path / "own" / split / label
            folder.mkdir(parents=True)
            Image.fromarray(_noise()).save(folder / "a.png")
    locked = tmp_path / "own" / "val" / "ai" / "locked"
    locked.mkdir()
    _deny(monkeypatch, locked)
    report = check_root(tmp_path, [spec], sample=4)
    # the spawned decoders do not inherit the monkeypatch: decode in this process's terms
    deep = deep_check(report, workers=1, decode=_decode_as_unreadable)
    assert [b.path for b in deep.bad] == [str(locked)]
    assert "unreadable folder" in deep.bad[0].reason


def _decode_as_unreadable(path: str):
    """load_rgb, with every folder named ``locked`` unreadable (picklable: module level)."""
    if os.path.basename(path) == "locked":
        os.scandir = _denying_scandir
    return load_rgb(path)


def _denying_scandir(path=".", _real=os.scandir):
    if os.path.basename(os.fspath(path)) == "locked":
        raise PermissionError(13, "Permission denied", os.fspath(path))
    return _real(path)


# --------------------------------------------------------------------------- the engine's inputs

def _cli(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def _one_paragraph(result, *needles: str) -> None:
    """A refusal as the CLI should give it: exit 1, no traceback, every needle named."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.exception.__class__ is SystemExit
    assert result.output.count("\n\n") == 0 and len(result.output.splitlines()) <= 3
    for needle in needles:
        assert needle in result.output, (needle, result.output)


@pytest.fixture
def tiny_weights(toy_plugin, tmp_path) -> Path:
    import gibench_toy

    torch.manual_seed(0)
    path = tmp_path / "tiny.pt"
    torch.save(gibench_toy.build().state_dict(), path)
    return path


def _images(folder: Path, n: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        Image.fromarray(_noise(16, 16, seed=k)).save(folder / f"img{k}.png")
    return folder


def _score(weights: Path, *paths: Path, **options):
    from gibench.engine.score import score

    return score("tinynet", weights, list(paths), device="cpu", workers=0, progress=False,
                 **options)


def test_score_with_workers_gives_the_bad_image_error_in_one_line(tiny_weights, tmp_path):
    folder = _images(tmp_path / "imgs")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    result = _cli("score", "--detector", "tinynet", "--weights", tiny_weights, folder,
                  "--workers", "1", "--out", tmp_path / "s.csv", "--no-progress")
    _one_paragraph(result, str(folder / "broken.png"), "--skip-bad-images")


def test_a_symlink_loop_in_a_scored_folder_is_a_bad_file(tiny_weights, tmp_path):
    folder = _images(tmp_path / "imgs")
    (folder / "loop.png").symlink_to(folder / "loop.png")
    table, summary = _score(tiny_weights, folder, skip_bad_images=True)
    assert len(table) == 3 and [s["path"] for s in summary["skipped"]] == [
        str(folder / "loop.png")]
    with pytest.raises(BadImageError, match="loop.png"):
        _score(tiny_weights, folder)


def test_a_non_utf8_file_name_is_scored_and_written(tiny_weights, tmp_path):
    folder = _images(tmp_path / "imgs", n=2)
    odd = os.fsdecode(os.fsencode(folder) + b"/caf\xe9.png")
    Image.fromarray(_noise(16, 16, seed=9)).save(odd, format="PNG")
    out = tmp_path / "s.csv"
    table, _ = _score(tiny_weights, folder, out=out)
    assert len(table) == 3
    text = out.read_text(encoding="utf-8")  # valid UTF-8, the odd byte escaped
    assert "caf\\udce9.png" in text or "caf\\xe9.png" in text


def test_an_argument_longer_than_the_os_allows_is_one_clear_error(tiny_weights, tmp_path):
    with pytest.raises(GibenchError, match="name too long"):
        _score(tiny_weights, tmp_path / ("x" * 300))


def test_score_refuses_an_out_folder_before_scoring(tiny_weights, tmp_path, monkeypatch):
    from gibench.engine import score as score_module

    monkeypatch.setattr(score_module, "predict", lambda *a, **k: pytest.fail("scored"))
    (tmp_path / "taken").mkdir()
    with pytest.raises(GibenchError, match="taken.*folder"):
        _score(tiny_weights, _images(tmp_path / "imgs"), out=tmp_path / "taken")
    result = _cli("score", "--detector", "tinynet", "--weights", tiny_weights,
                  tmp_path / "imgs", "--out", tmp_path / "taken", "--no-progress")
    _one_paragraph(result, "--out")


def test_run_refuses_an_out_that_is_a_file(toy_plugin, toy_root, tmp_path):
    (tmp_path / "file").write_text("mine")
    result = _cli("run", "--detector", "tinynet", "--data-root", toy_root, "--dataset", "toy",
                  "--out", tmp_path / "file", "--workers", "0", "--no-progress")
    _one_paragraph(result, "--out", str(tmp_path / "file"))
    assert (tmp_path / "file").read_text() == "mine"


def test_a_run_whose_outputs_fail_to_write_is_not_left_running(toy_plugin, toy_root,
                                                                tmp_path, monkeypatch):
    from gibench.engine import run as run_module

    def full_disk(path, frame):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(run_module, "atomic_write_csv", full_disk)
    with pytest.raises(OSError, match="No space left"):
        _toy_run(toy_root, tmp_path / "run")
    assert RunRecord.read(tmp_path / "run").status == "failed"


def test_nan_weights_are_an_error_naming_them(tiny_weights, tmp_path, toy_root):
    state = torch.load(tiny_weights)
    state["6.weight"] = torch.full_like(state["6.weight"], float("nan"))
    nan = tmp_path / "nan.pt"
    torch.save(state, nan)
    with pytest.raises(GibenchError, match="nan.pt.*non-finite"):
        _score(nan, _images(tmp_path / "imgs"))
    with pytest.raises(GibenchError, match="nan.pt.*non-finite"):
        gibench.evaluate("tinynet", nan, data_root=toy_root, dataset="toy", device="cpu",
                         workers=0, progress=False, out=tmp_path / "eval")


def test_non_finite_logits_are_an_error_naming_the_weights(tiny_weights, tmp_path,
                                                          monkeypatch):
    from gibench.engine import score as score_module

    real = score_module.load_detector

    class Overflow(torch.nn.Module):  # finite weights, a forward pass that overflows
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model(x) * float("inf")

    monkeypatch.setattr(score_module, "load_detector",
                        lambda *a, **k: Overflow(real(*a, **k)))
    with pytest.raises(GibenchError, match="tiny.pt.*non-finite logits"):
        _score(tiny_weights, _images(tmp_path / "imgs"))


# --------------------------------------------------------------------------- checkpoints


@pytest.mark.parametrize("content", [b"", b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\":",
                                     b"\xff" * 8 + b"{}", b"\x40\x00\x00\x00\x00\x00\x00\x00{}"])
def test_a_broken_safetensors_file_is_refused_naming_it(tmp_path, content):
    from gibench.outputs import load_checkpoint

    path = tmp_path / "w.safetensors"
    path.write_bytes(content)
    with pytest.raises(GibenchError, match="w.safetensors"):
        load_checkpoint(path)


@pytest.mark.parametrize("content", [b"hello world" * 10, bytes([101]) + b"xx", b"\x80"])
def test_a_file_that_is_not_a_checkpoint_is_refused_naming_it(tmp_path, content):
    from gibench.outputs import load_checkpoint

    path = tmp_path / "notes.pt"
    path.write_bytes(content)
    with pytest.raises(GibenchError, match="notes.pt"):
        load_checkpoint(path)


def test_weights_that_are_no_checkpoint_give_one_paragraph_on_the_cli(toy_plugin, tmp_path):
    path = tmp_path / "notes.pt"
    path.write_bytes(b"hello world" * 10)
    result = _cli("score", "--detector", "tinynet", "--weights", path,
                  _images(tmp_path / "imgs"), "--workers", "0", "--no-progress")
    _one_paragraph(result, str(path))


def _toy_run(toy_root: Path, out: Path, **options):
    return gibench.run("tinynet", "cross-generator", data_root=toy_root, dataset="toy",
                       train_subset="toy-a", test_subsets=["toy-a"], out=out, device="cpu",
                       workers=0, progress=False, **{"epochs": 1, **options})


def _interrupted(run_dir: Path) -> None:
    record = json.loads((run_dir / "run.json").read_text())
    record["status"] = "interrupted"
    (run_dir / "run.json").write_text(json.dumps(record))
    for partial in (run_dir / "partial").glob("*"):
        partial.unlink()


def _foreign_state() -> dict:
    return torch.nn.Linear(3, 1).state_dict()


def test_resume_from_another_detectors_checkpoints_is_refused_naming_them(toy_plugin,
                                                                          toy_root, tmp_path):
    run_dir = tmp_path / "run"
    _toy_run(toy_root, run_dir)
    train_dir = run_dir / "train" / "toy-a"
    torch.save(_foreign_state(), train_dir / "model.pt")  # a finished training's weights
    _interrupted(run_dir)
    with pytest.raises(GibenchError, match="model.pt.*does not fit"):
        gibench.resume(run_dir)
    last = train_dir / "checkpoints" / "last.pt"  # an unfinished training's state
    state = torch.load(last)
    state["model"] = _foreign_state()
    torch.save(state, last)
    (train_dir / "training.json").unlink()
    with pytest.raises(GibenchError, match="last.pt.*does not fit"):
        gibench.resume(run_dir)
    torch.save({"what": torch.zeros(1)}, last)  # not a training state at all
    with pytest.raises(GibenchError, match="last.pt.*not a training state"):
        gibench.resume(run_dir)


def test_bad_training_images_are_counted_once_with_the_held_out_ones(toy_plugin, toy_root,
                                                                     tmp_path):
    train = toy_root / "toy_a" / "train"
    broken = [train / "ai" / f"ai_{i:03d}.png" for i in range(12)]  # some land in held-out
    for path in broken:
        path.write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    _toy_run(toy_root, tmp_path / "run", skip_bad_images=True, epochs=2)
    bad = RunRecord.read(tmp_path / "run").bad_images["toy-a/train"]
    assert bad["count"] == len(broken)
    assert sorted(f["path"] for f in bad["files"]) == sorted(
        str(p.relative_to(toy_root / "toy_a")) for p in broken)


# --------------------------------------------------------------------------- plugins

PLUGIN_ERRORS = textwrap.dedent('''
    import gibench
    from gibench.specs import DetectorSpec
    import gibench_toy

    def build(pretrained=None, input_size=16):
        if pretrained is not None:
            raise ValueError(f"picky has no pretrained option, got {pretrained!r}")
        return gibench_toy.build()

    def convert(obj):
        return {k: obj["model"][k] for k in obj}

    @gibench.hookimpl
    def gibench_add_detectors():
        base = gibench_toy.SPEC
        return [DetectorSpec("picky", "toy", build, base.preprocess, base.recipe,
                             gibench_toy.convert),
                DetectorSpec("keyerr", "toy", gibench_toy.build, base.preprocess, base.recipe,
                             convert)]
''')


@pytest.fixture
def failing_plugin(toy_plugin):
    install_fake_distribution(toy_plugin, "gibench-failing", "0.3", {"gibench_failing":
                                                                     PLUGIN_ERRORS},
                              {"failing": "gibench_failing"})
    clear_registry_cache()


def test_an_error_raised_by_a_plugin_names_the_plugin_and_the_call(failing_plugin, toy_root,
                                                                   tmp_path, tiny_weights):
    with pytest.raises(GibenchError) as info:
        gibench.run("picky", "cross-generator", data_root=toy_root, dataset="toy",
                    train_subset="toy-a", pretrained=str(tiny_weights), out=tmp_path / "r",
                    device="cpu", workers=0, progress=False, epochs=1)
    message = str(info.value)
    assert "'picky'" in message and "'failing'" in message and "gibench-failing" in message
    assert "build(" in message and "ValueError: picky has no pretrained option" in message
    with pytest.raises(GibenchError, match=r"'keyerr'.*convert_state_dict.*KeyError"):
        _score_as("keyerr", tiny_weights, _images(tmp_path / "imgs"))
    result = _cli("score", "--detector", "keyerr", "--weights", tiny_weights,
                  tmp_path / "imgs", "--workers", "0", "--no-progress")
    _one_paragraph(result, "keyerr", "convert_state_dict", "gibench-failing")


def _score_as(detector: str, weights: Path, *paths: Path):
    from gibench.engine.score import score

    return score(detector, weights, list(paths), device="cpu", workers=0, progress=False)


@pytest.mark.parametrize(("source", "needle"), [
    ("import sys\nsys.exit(3)\n", "SystemExit"),
    ("raise KeyboardInterrupt\n", "KeyboardInterrupt"),
])
def test_a_plugin_exiting_at_import_fails_alone_and_is_named(tmp_path, monkeypatch, source,
                                                             needle):
    install_fake_distribution(tmp_path, "gibench-exits", "0.1", {"gibench_exits": source},
                              {"exits": "gibench_exits"})
    monkeypatch.syspath_prepend(str(tmp_path))
    failed = {p.name: p for p in build_registry().failures}
    assert needle in failed["exits"].error
    clear_registry_cache()
    result = _cli("plugins")
    assert result.exit_code == 0 and "exits" in result.output and needle in result.output
    assert _cli("list", "detectors").exit_code == 0


@pytest.mark.parametrize(("spec", "needle"), [
    ('DetectorSpec("holes", None, None, None, None, None)', "paper"),
    ('DetectorSpec(123, "toy", gibench_toy.build, gibench_toy.SPEC.preprocess, '
     'gibench_toy.SPEC.recipe, gibench_toy.convert)', "name"),
])
def test_a_malformed_spec_fails_its_plugin_and_the_commands_work(toy_plugin, spec, needle):
    source = ("import gibench\nimport gibench_toy\nfrom gibench.specs import DetectorSpec\n"
              f"@gibench.hookimpl\ndef gibench_add_detectors():\n    return [{spec}]\n")
    module = f"gibench_holes_{needle}"  # one module per case: imports are cached
    install_fake_distribution(toy_plugin, "gibench-holes", "0.1", {module: source},
                              {"holes": module})
    clear_registry_cache()
    failed = {p.name: p for p in build_registry().failures}
    assert needle in failed["holes"].error
    clear_registry_cache()
    for args in (("list",), ("list", "detectors"), ("plugins",)):
        result = _cli(*args)
        assert result.exit_code == 0, (args, result.output)
    assert "tinynet" in _cli("list", "detectors").output


RAISING_REPORTER = textwrap.dedent('''
    import gibench

    @gibench.hookimpl
    def gibench_run_started(run_dir, config):
        raise RuntimeError("reporter down")
''')


def test_a_raising_run_started_hook_leaves_a_complete_run(toy_plugin, toy_root, tmp_path,
                                                          capsys):
    install_fake_distribution(toy_plugin, "gibench-reporter", "0.1",
                              {"gibench_reporter": RAISING_REPORTER},
                              {"reporter": "gibench_reporter"})
    clear_registry_cache()
    _toy_run(toy_root, tmp_path / "run")
    assert RunRecord.read(tmp_path / "run").status == "complete"
    assert "plugin 'reporter' failed in gibench_run_started" in capsys.readouterr().err
