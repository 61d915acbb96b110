"""End-to-end evaluation throughput: gibench's ``predict`` against the reference loop, and
against the decode ceiling (the same files decoded and resized only).

1. ResNet-50 (the baselines plugin's timm model, random weights) at a 64-px input (resize 72,
   centre crop 64: the mini budget's scale, so that the CPU finishes) over 256 photographs of
   256×256 (128 PNG, 128 JPEG): ``predict`` against the loop GenImage's and CNNDetection's code
   runs — PIL open, torchvision ``Resize``/``CenterCrop``/``ToTensor``/``Normalize`` per image,
   the model per batch, ``.tolist()`` per batch — in the main process, with the same batch size
   and the same torch threads (parametrised: 1 and 2).
2. The decode ceiling: a loader that decodes and preprocesses only (same transform, same
   workers); ``predict`` with the toy-sized CNN against it (eval / decode-only), and
   ResNet-50's ``predict`` against it. And the decoders: the same files decoded to
   native-resolution tensors (``predict_settings``' loader) by :func:`decode_rgb` and by PIL.

Run with ``tox -e bench`` or::

    pytest benchmarks/test_eval_bench.py -p no:cacheprovider --benchmark-enable --benchmark-only

``extra_info`` holds images/s, the ratios and, for ``predict``, where the time went.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from conftest import BATCH, THREADS, WORKERS, record, run_rounds, tiny_cnn
from PIL import Image

import gibench.data.dataset as dataset_module
from gibench.data.dataset import ImageDataset, make_loader
from gibench.data.images import load_rgb
from gibench.engine.device import Normalizer
from gibench.engine.evaluate import predict
from gibench.registry import build_registry

INPUT, LOAD = 64, 72
CPU = torch.device("cpu")
#: mean seconds per round of each benchmark, for the ratios: (name, threads) -> seconds
MEANS: dict[tuple[str, int | None], float] = {}


@pytest.fixture(scope="module")
def resnet50():
    """(spec, model) — timm's ResNet-50 with one logit, random weights, at ``INPUT`` px."""
    spec = build_registry().detector("resnet50")
    torch.manual_seed(0)
    return spec, spec.build(pretrained=None, input_size=INPUT).eval()


def _normalizer(spec) -> Normalizer:
    return Normalizer(spec.preprocess.mean, spec.preprocess.std, CPU)


def _predict(model, index, spec):
    """gibench's evaluation, the model prepared as :class:`RunContext` prepares it."""
    return predict(model, index, spec.preprocess.make_eval(INPUT, LOAD),
                   normalizer=_normalizer(spec), device=CPU, batch_size=BATCH,
                   workers=WORKERS, progress=False)


def reference_scores(model, index, spec) -> list[float]:
    """The reference loop (GenImage / CNNDetection style): probabilities in index order."""
    import torchvision.transforms as T

    transform = T.Compose([T.Resize((LOAD, LOAD)), T.CenterCrop(INPUT), T.ToTensor(),
                           T.Normalize(spec.preprocess.mean, spec.preprocess.std)])
    paths = [index.path(i) for i in range(len(index))]
    scores: list[float] = []
    with torch.no_grad():
        for start in range(0, len(paths), BATCH):
            batch = torch.stack([transform(Image.open(p).convert("RGB"))
                                 for p in paths[start:start + BATCH]])
            scores.extend(model(batch).sigmoid().flatten().tolist())
    return scores


def _ratio(benchmark, key: str, numerator: tuple, denominator: tuple) -> None:
    """``extra_info[key]`` = MEANS[numerator] / MEANS[denominator] (a speed-up), when both ran."""
    if numerator in MEANS and denominator in MEANS:
        benchmark.extra_info[key] = round(MEANS[numerator] / MEANS[denominator], 3)


# --------------------------------------------------------------------------- 1. vs reference


@pytest.mark.parametrize("threads", THREADS, indirect=True)
def test_reference_loop_resnet50(benchmark, photo_index, resnet50, threads):
    spec, model = resnet50
    benchmark.group = f"1. resnet50@{INPUT} end to end, {threads} thread(s)"
    scores = run_rounds(benchmark, lambda: reference_scores(model, photo_index, spec))
    assert len(scores) == len(photo_index)
    mean = record(benchmark, len(photo_index), model=f"resnet50@{INPUT}", workers_used=0)
    if mean is not None:
        MEANS[("reference", threads)] = mean


@pytest.mark.parametrize("threads", THREADS, indirect=True)
def test_gibench_predict_resnet50(benchmark, photo_index, resnet50, threads):
    spec, model = resnet50
    prepared = copy.deepcopy(model).to(memory_format=torch.channels_last)
    benchmark.group = f"1. resnet50@{INPUT} end to end, {threads} thread(s)"
    out = run_rounds(benchmark, lambda: _predict(prepared, photo_index, spec))
    # the same probabilities as the reference loop (float rounding apart)
    expected = reference_scores(model, photo_index, spec)
    np.testing.assert_allclose(1 / (1 + np.exp(-out.logits)), expected, atol=1e-5)
    mean = record(benchmark, len(photo_index), model=f"resnet50@{INPUT}",
                  timings={k: round(v, 3) for k, v in out.timings.items()},
                  seconds=round(out.seconds, 3))
    if mean is not None:
        MEANS[("predict-resnet50", threads)] = mean
        _ratio(benchmark, "speedup_vs_reference_same_threads", ("reference", threads),
               ("predict-resnet50", threads))
        for other in THREADS:
            _ratio(benchmark, f"speedup_vs_reference_{other}_threads", ("reference", other),
                   ("predict-resnet50", threads))


# --------------------------------------------------------------------------- 2. decode ceiling


@pytest.fixture(scope="module")
def pixel_sum(photo_index, resnet50) -> int:
    """The sum of every preprocessed pixel, from PIL and the transform, image by image."""
    transform = resnet50[0].preprocess.make_eval(INPUT, LOAD)
    return sum(int(transform(load_rgb(photo_index.path(i)), None).sum())
               for i in range(len(photo_index)))


def _drain(dataset: ImageDataset, by_size: bool = False) -> tuple[int, int]:
    """(images, sum of their pixels) of a loader over ``dataset``, with ``predict``'s workers."""
    loader = make_loader(dataset, BATCH, shuffle=False, workers=WORKERS, seed=0,
                         pin_memory=False, by_size=by_size)
    count = total = 0
    for batch in loader:
        for group in batch.groups if by_size else [batch]:
            count += group.images.shape[0]
            total += int(group.images.sum(dtype=torch.int64))
    return count, total


def test_decode_only(benchmark, photo_index, resnet50, pixel_sum):
    """The loader alone (decode + resize + crop in the workers): the ceiling of ``predict``."""
    dataset = ImageDataset(photo_index, resnet50[0].preprocess.make_eval(INPUT, LOAD))
    benchmark.group = "2. decode ceiling"
    assert run_rounds(benchmark, lambda: _drain(dataset)) == (len(photo_index), pixel_sum)
    mean = record(benchmark, len(photo_index), decoder="PIL (load_rgb) + the CPU transform")
    if mean is not None:
        MEANS[("decode-only", None)] = mean


@pytest.mark.parametrize("decoder", ["pil", "gibench"])
def test_decode_native(benchmark, photo_index, decoder, monkeypatch):
    """Decoding alone to native-resolution tensors (``predict_settings``' loader), with
    :func:`decode_rgb` (torchvision for the JPEGs) and with PIL for every file."""
    if decoder == "pil":
        monkeypatch.setattr(dataset_module, "decode_rgb",
                            lambda path: torch.from_numpy(np.array(load_rgb(path)))
                            .permute(2, 0, 1))
    expected = sum(int(np.asarray(load_rgb(photo_index.path(i)), dtype=np.int64).sum())
                   for i in range(len(photo_index)))
    benchmark.group = "2. decoders (native resolution)"
    result = run_rounds(benchmark, lambda: _drain(ImageDataset(photo_index, None), True))
    assert result == (len(photo_index), expected)  # the same pixels either way
    mean = record(benchmark, len(photo_index), decoder=decoder)
    if mean is not None:
        MEANS[(f"native-{decoder}", None)] = mean
        _ratio(benchmark, "decoder_speedup_vs_pil", ("native-pil", None),
               ("native-gibench", None))


@pytest.mark.parametrize("threads", [1], indirect=True)
def test_predict_small_model_against_decode_ceiling(benchmark, photo_index, resnet50,
                                                    threads):
    spec = resnet50[0]
    model = tiny_cnn()
    benchmark.group = "2. decode ceiling"
    out = run_rounds(benchmark, lambda: _predict(model, photo_index, spec))
    transform = spec.preprocess.make_eval(INPUT, LOAD)
    with torch.inference_mode():  # the same logits as the images fed directly
        batch = torch.stack([transform(load_rgb(photo_index.path(i)), None)
                             for i in range(len(photo_index))])
        expected = model(_normalizer(spec)(batch)).reshape(-1).double().numpy()
    np.testing.assert_allclose(out.logits, expected, rtol=1e-5, atol=1e-6)
    mean = record(benchmark, len(photo_index), model="tiny CNN (toy plugin's)",
                  timings={k: round(v, 3) for k, v in out.timings.items()})
    if mean is not None:
        MEANS[("predict-tiny", threads)] = mean
        _ratio(benchmark, "eval_over_decode_only", ("decode-only", None),
               ("predict-tiny", threads))
        for other in THREADS:
            _ratio(benchmark, f"resnet50_{other}_threads_eval_over_decode_only",
                   ("decode-only", None), ("predict-resnet50", other))
