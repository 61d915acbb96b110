"""5. Many models, one decode: eight tiny CNNs (the toy plugin's, eight seeds) score the 256
photographs in one ``predict_many`` pass (each file decoded once, the eight models fed from it),
against eight separate ``predict`` calls (each decoding every file again) — what the matrix suite
and ``gibench eval`` with several weights do instead of evaluating one model after another. The
models are so small that decoding dominates. Decodes are counted across the worker processes;
the scores must be identical, model by model.

Two pass variants: the eight models share one transform object (the matrix suite: one detector,
one eval transform, run once per image), or each has its own (several detectors: decoded once,
transformed eight times).

    pytest benchmarks/test_multi_eval_bench.py -p no:cacheprovider --benchmark-enable \\
        --benchmark-only
"""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
import torch
from conftest import BATCH, WORKERS, record, run_rounds, tiny_cnn

import gibench.data.dataset as dataset_module
from gibench.engine.device import Normalizer
from gibench.engine.evaluate import Head, predict, predict_many
from gibench.registry import build_registry

CPU = torch.device("cpu")
N_MODELS = 8
GROUP = f"5. {N_MODELS} models: one pass vs one evaluation each"
#: mean seconds per round and logits per model of each way, for the ratios and the comparison
MEANS: dict[str, float] = {}
LOGITS: dict[str, list[np.ndarray]] = {}


def _heads(shared_transform: bool) -> list[Head]:
    """Eight tiny CNNs with resnet50's mini-budget eval transform (resize 72, centre crop 64):
    one transform object for all, or one each."""
    pre = build_registry().detector("resnet50").preprocess
    normalizer = Normalizer(pre.mean, pre.std, CPU)
    one = pre.make_eval(64, 72)
    return [Head(tiny_cnn(seed), one if shared_transform else pre.make_eval(64, 72), normalizer)
            for seed in range(N_MODELS)]


def count_calls(monkeypatch, module, name: str):
    """A shared counter of the calls of ``module.name`` (patched for the test), counted in this
    process and in forked loader workers alike."""
    count = multiprocessing.get_context("fork").Value("l", 0)
    real = getattr(module, name)

    def counted(*args, **kwargs):
        with count.get_lock():
            count.value += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return count


@pytest.fixture
def loads(monkeypatch):
    """How many files were decoded by ``load_rgb`` (the plain path's decoder)."""
    return count_calls(monkeypatch, dataset_module, "load_rgb")


def _evaluate(photo_index, heads: list[Head],
              together: bool) -> tuple[list[np.ndarray], dict[str, float]]:
    """Every head's logits, and the seconds per phase: one ``predict_many`` pass, or one
    ``predict`` call per head (their phases summed)."""
    options = dict(device=CPU, batch_size=BATCH, workers=WORKERS, progress=False)
    if together:
        out = predict_many(heads, photo_index, **options)
        return [scores.logits for scores in out], out[0].timings
    out = [predict(h.model, photo_index, h.transform, normalizer=h.normalizer, **options)
           for h in heads]
    return ([scores.logits for scores in out],
            {phase: sum(scores.timings[phase] for scores in out) for phase in out[0].timings})


@pytest.mark.parametrize("threads", [1], indirect=True)
@pytest.mark.parametrize("way", ["one pass, shared transform", "one pass, a transform each",
                                 "separately"])
def test_many_models(benchmark, photo_index, loads, threads, way):
    heads = _heads(shared_transform=way != "one pass, a transform each")

    def counted():
        before = loads.value
        logits, timings = _evaluate(photo_index, heads, together=way != "separately")
        return logits, timings, loads.value - before

    benchmark.group = GROUP
    logits, timings, decoded = run_rounds(benchmark, counted)
    passes = N_MODELS if way == "separately" else 1
    assert decoded == passes * len(photo_index)
    LOGITS[way] = logits
    for other in LOGITS.values():  # identical, model by model, whichever way
        for a, b in zip(logits, other, strict=True):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(logits[0], logits[1])  # eight models, not one
    mean = record(benchmark, len(photo_index), models=N_MODELS, decodes=decoded,
                  model="tiny CNN (toy plugin's), 8 seeds",
                  timings={k: round(v, 3) for k, v in timings.items()})
    if mean is not None:
        MEANS[way] = mean
        benchmark.extra_info["model_evaluations_per_s"] = round(
            N_MODELS * len(photo_index) / mean, 2)
    if "separately" in MEANS:
        for name, seconds in MEANS.items():
            if name != "separately":
                benchmark.extra_info[f"wall_time_ratio ({name})"] = round(
                    MEANS["separately"] / seconds, 3)
