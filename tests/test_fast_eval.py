"""Fast evaluation: the fast decoder gives PIL's pixels (or hands the file to PIL), the loop
records where its time went, ``predict`` scores what the per-image reference path scores, and a
compiled model scores what the eager one does."""

from __future__ import annotations

import random
import time

import numpy as np
import PIL.Image
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from gibench.data.images import BadImageError, _fast_jpeg, decode_rgb, load_rgb
from gibench.data.layout import index_folder
from gibench.engine.device import Normalizer, compile_for_eval
from gibench.engine.evaluate import CLEAN, PHASES, PhaseTimer, Setting, predict, predict_settings
from gibench.registry import build_registry

CPU = torch.device("cpu")
PHOTO = skdata.astronaut()  # 512×512 RGB


def _crop(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = rng.integers(0, 512 - h), rng.integers(0, 512 - w)
    return np.ascontiguousarray(PHOTO[y:y + h, x:x + w])


def _same_pixels(path) -> bool:
    """Check that ``decode_rgb(path)`` has ``load_rgb``'s pixels; whether it took the fast
    (torchvision) decoder."""
    out = decode_rgb(path)
    ref = np.asarray(load_rgb(path))
    assert out.dtype == torch.uint8 and out.shape == (3, *ref.shape[:2])
    np.testing.assert_array_equal(out.permute(1, 2, 0).numpy(), ref)
    return _fast_jpeg(path) is not None


# --------------------------------------------------------------------------- decoder


@pytest.mark.parametrize("options", [
    dict(quality=90),  # 4:2:0
    dict(quality=75, subsampling=0),  # 4:4:4
    dict(quality=60, subsampling=1),  # 4:2:2
    dict(quality=85, progressive=True),
    dict(quality=95, optimize=True, restart_marker_blocks=2),
])
def test_plain_jpegs_take_the_fast_decoder_and_give_pils_pixels(tmp_path, options):
    path = tmp_path / "a.jpg"
    Image.fromarray(_crop(123, 217, seed=len(options))).save(path, **options)
    assert _same_pixels(path)  # torchvision's libjpeg-turbo


def test_grey_jpeg_takes_the_fast_decoder_and_is_replicated(tmp_path):
    path = tmp_path / "g.jpg"
    Image.fromarray(_crop(64, 80)).convert("L").save(path, quality=80)
    assert _same_pixels(path)
    out = decode_rgb(path)
    assert torch.equal(out[0], out[1]) and torch.equal(out[1], out[2])


@pytest.mark.parametrize("orientation", range(2, 9))
def test_exif_rotated_jpeg_gives_pils_transposed_pixels(tmp_path, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "rot.jpg"
    Image.fromarray(_crop(40, 72)).save(path, exif=exif, quality=90)
    assert not _same_pixels(path)  # PIL applies the orientation
    assert decode_rgb(path).shape[1:] == ((72, 40) if orientation >= 5 else (40, 72))


def test_xmp_orientation_in_a_jpeg_is_applied_too(tmp_path):
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
           b'02/22-rdf-syntax-ns#"><rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/"'
           b' tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>')
    path = tmp_path / "xmp.jpg"
    Image.fromarray(_crop(40, 72)).save(path, xmp=xmp, quality=90)
    assert load_rgb(path).size == (40, 72)  # PIL reads XMP orientation: so must we
    assert not _same_pixels(path)


def test_exif_without_orientation_keeps_the_fast_decoder(tmp_path):
    exif = Image.Exif()
    exif[0x010F] = "camera maker"
    path = tmp_path / "exif.jpg"
    Image.fromarray(_crop(40, 72)).save(path, exif=exif, quality=90)
    assert _same_pixels(path)


def test_cmyk_jpeg_goes_to_pil(tmp_path):
    path = tmp_path / "c.jpg"
    Image.fromarray(_crop(16, 24)).convert("CMYK").save(path, quality=90)
    assert not _same_pixels(path)


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "LA", "P"])
def test_pngs_give_pils_pixels(tmp_path, mode):
    arr = _crop(37, 45)
    img = Image.fromarray(arr)
    if mode in ("RGBA", "LA"):
        alpha = np.random.default_rng(1).integers(0, 256, size=arr.shape[:2], dtype=np.uint8)
        img = Image.fromarray(np.dstack([arr, alpha]), mode="RGBA")
    path = tmp_path / f"{mode}.png"
    img.convert(mode).save(path)
    with Image.open(path) as raw:
        assert raw.mode == mode
    assert not _same_pixels(path)  # PNG stays on PIL (module doc)


def test_a_jpeg_with_a_png_suffix_is_still_decoded_as_jpeg(tmp_path):
    path = tmp_path / "looks.png"
    Image.fromarray(_crop(30, 30)).save(path, format="JPEG", quality=90)
    assert _same_pixels(path)


def test_without_torchvisions_decoder_every_file_goes_to_pil(tmp_path, monkeypatch):
    """torchvision 0.29 deprecates its decoders: once they fail or are gone, PIL decodes."""
    import torchvision.io

    def gone(*args, **kwargs):
        raise RuntimeError("Couldn't load the image extension.")

    monkeypatch.setattr(torchvision.io, "decode_jpeg", gone)
    path = tmp_path / "a.jpg"
    Image.fromarray(_crop(30, 30)).save(path, quality=90)
    assert not _same_pixels(path)


def _jpeg_bytes() -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(_crop(64, 64, seed=3)).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


@pytest.mark.parametrize("damage", ["truncated", "no end marker", "header only", "empty",
                                    "magic then junk"])
def test_bad_jpegs_raise_load_rgbs_error_naming_the_file(tmp_path, damage):
    data = _jpeg_bytes()
    content = {"truncated": data[:len(data) // 2], "no end marker": data[:-40],
               "header only": data[:300], "empty": b"",
               "magic then junk": b"\xff\xd8\xff" + bytes(range(256)) * 4}[damage]
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(BadImageError) as ref:
        load_rgb(path)
    with pytest.raises(BadImageError) as fast:
        decode_rgb(path)
    assert fast.value.path == str(path) and fast.value.reason == ref.value.reason


def test_missing_file_raises_naming_it(tmp_path):
    with pytest.raises(BadImageError, match="file not found"):
        decode_rgb(tmp_path / "nope.jpg")


@pytest.mark.parametrize("limit", [100, 3000])  # 100: bomb error (> 2×); 3000: bomb warning
def test_decompression_bomb_jpeg_is_refused(tmp_path, monkeypatch, limit):
    path = tmp_path / "bomb.jpg"
    Image.fromarray(_crop(48, 48)).save(path, quality=90)  # 2304 pixels
    monkeypatch.setattr(PIL.Image, "MAX_IMAGE_PIXELS", limit)
    if limit == 3000:  # within the limit: decoded (fast)
        assert _fast_jpeg(path) is not None
        monkeypatch.setattr(PIL.Image, "MAX_IMAGE_PIXELS", 2000)  # now over it, under 2×
    with pytest.raises(BadImageError, match="exceeds limit"):
        decode_rgb(path)


# --------------------------------------------------------------------------- the loop


def _tree(root):
    """Six PNGs and six JPEGs of mixed sizes, half fake, half real."""
    for label in ("ai", "nature"):
        (root / label).mkdir(parents=True)
        for i in range(6):
            arr = _crop(40 + 8 * i, 64 - 4 * i, seed=i + (10 if label == "ai" else 0))
            if label == "ai":
                arr[::2, ::2] = np.clip(arr[::2, ::2].astype(int) + 40, 0, 255)
            fmt = "png" if i % 2 else "jpg"
            Image.fromarray(arr).save(root / label / f"{label}_{i}.{fmt}", quality=85)
    return root


@pytest.fixture
def index(tmp_path):
    return index_folder(_tree(tmp_path / "tree"), 1, "mix", "val")  # labels play no part


def _tiny(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 1)).eval()


def _transform():
    from gibench_baselines.transforms import resize_center_crop

    return resize_center_crop(24, 28)


NORM = Normalizer((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), CPU)


def test_predict_scores_what_the_per_image_pil_path_scores(index, one_thread):
    """The logits are those of the reference path (PIL decode, the CPU transform, the same
    batches through the model), exactly: the fast decoder changes no pixel."""
    model, transform = _tiny(), _transform()
    out = predict(model, index, transform, normalizer=NORM, device=CPU, batch_size=5,
                  workers=0, progress=False)
    expected = []
    with torch.inference_mode():
        for start in range(0, len(index), 5):
            batch = torch.stack([transform(load_rgb(index.path(i)), random.Random(0))
                                 for i in range(start, min(start + 5, len(index)))])
            expected.append(model(NORM(batch)).reshape(-1).double())
    np.testing.assert_array_equal(out.logits, torch.cat(expected).numpy())
    np.testing.assert_array_equal(out.positions, np.arange(len(index)))


@pytest.mark.parametrize("progress", [False, True])
def test_with_workers_each_file_is_decoded_once(index, one_thread, monkeypatch, tmp_path,
                                                progress):
    """tqdm.auto's bar would start a second loader iterator whose workers decode again."""
    import gibench.data.dataset as dataset_module

    log, real = tmp_path / "decoded.txt", dataset_module.load_rgb

    def logged(path):  # a file, as the decoding happens in a worker process
        with log.open("a") as f:
            f.write(f"{path}\n")
        return real(path)

    monkeypatch.setattr(dataset_module, "load_rgb", logged)
    predict(_tiny(), index, _transform(), normalizer=NORM, device=CPU, batch_size=2, workers=1,
            progress=progress)
    assert sorted(log.read_text().split()) == sorted(str(index.path(i))
                                                     for i in range(len(index)))


def _check_timings(scores) -> None:
    assert set(scores.timings) == set(PHASES)
    assert all(v >= 0 for v in scores.timings.values())
    assert sum(scores.timings.values()) <= scores.seconds
    assert scores.timings["model"] > 0 and scores.timings["wait_data"] > 0


@pytest.mark.parametrize("workers", [0, 1])
def test_predict_records_where_the_time_went(index, one_thread, workers):
    out = predict(_tiny(), index, _transform(), normalizer=NORM, device=CPU, batch_size=4,
                  workers=workers, progress=False)
    _check_timings(out)


def test_predict_settings_records_one_breakdown_for_all_settings(index, one_thread):
    blur = Setting("blur:1", build_registry().degradation("blur"), 1.0)
    out = predict_settings(_tiny(), index, _transform(), [CLEAN, blur], normalizer=NORM,
                           device=CPU, batch_size=4, workers=0, progress=False)
    _check_timings(out["none"])
    assert out["none"].timings == out["blur:1"].timings
    assert out["none"].timings["preprocess"] > 0


def test_phase_timer_on_the_cpu_adds_wall_clock_per_phase():
    timer = PhaseTimer(CPU)
    for _ in range(3):
        with timer("model"):
            sum(range(10000))
    totals = timer.totals()
    assert totals["model"] > 0 and totals["transfer"] == 0.0


class _FakeCudaEvent:
    """Stands in for ``torch.cuda.Event`` (timestamps on the host), to test the bookkeeping."""

    def __init__(self, enable_timing: bool = False) -> None:
        self.at = None

    def record(self) -> None:
        self.at = time.perf_counter()

    def query(self) -> bool:
        return True

    def synchronize(self) -> None:
        pass

    def elapsed_time(self, end: _FakeCudaEvent) -> float:
        return (end.at - self.at) * 1000.0  # milliseconds, as CUDA's


def test_phase_timer_on_cuda_keeps_a_bounded_number_of_events(monkeypatch):
    monkeypatch.setattr(torch.cuda, "Event", _FakeCudaEvent)
    timer = PhaseTimer(torch.device("cuda"))
    started = time.perf_counter()
    for _ in range(2000):
        with timer("model"):
            pass
        with timer("wait_data"):  # the host's own phase: wall clock, no event
            pass
        assert len(timer._events) <= 513
    totals = timer.totals()
    assert not timer._events
    assert 0 < totals["model"] <= time.perf_counter() - started
    assert totals["wait_data"] > 0 and totals["transfer"] == 0.0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_phase_timer_on_cuda_reads_events_once_at_the_end():
    device = torch.device("cuda")
    timer = PhaseTimer(device)
    x = torch.randn(2048, 2048, device=device)
    for _ in range(3):
        with timer("model"):
            x = x @ x / 2048
    with timer("wait_data"):
        pass
    totals = timer.totals()
    assert totals["model"] > 0 and totals["wait_data"] >= 0 and totals["transfer"] == 0.0


# --------------------------------------------------------------------------- --compile


def test_a_run_records_the_breakdown_and_compiles_each_model_once(toy_plugin, toy_root, tmp_path,
                                                                   monkeypatch, one_thread):
    import json

    import gibench
    import gibench.engine.context as context_module

    compiled = []

    def fake_compile(model):  # the real one is tested below (slow)
        compiled.append(model)
        return model

    monkeypatch.setattr(context_module, "compile_for_eval", fake_compile)
    gibench.run("tinynet", "cross-generator", data_root=toy_root, dataset="toy",
                train_subset="toy-a", device="cpu", workers=0, progress=False,
                out=tmp_path / "run", epochs=1, compile=True)
    assert len(compiled) == 1  # one model, compiled once for its two test subsets
    timings = json.loads((tmp_path / "run" / "run.json").read_text())["timings"]
    phases = [timings[f"eval_{phase}"] for phase in PHASES]
    assert min(phases) >= 0 and timings["eval_model"] > 0
    assert sum(phases) <= timings["eval"] + 0.002  # run.json rounds to the millisecond


# compiling with inductor takes 15-19 s here with a cold cache (2 shared cores): with the rest of
# this file (~10 s) over the 30-s budget of a fast test file
@pytest.mark.slow
def test_compiled_model_scores_what_the_eager_one_does(index, one_thread):
    model = _tiny()
    kw = dict(normalizer=NORM, device=CPU, batch_size=5, workers=0, progress=False)
    eager = predict(model, index, _transform(), **kw)
    compiled = predict(compile_for_eval(model), index, _transform(), **kw)
    np.testing.assert_allclose(compiled.logits, eager.logits, rtol=1e-4, atol=1e-5)
