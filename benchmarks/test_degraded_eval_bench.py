"""4. One decode, many evaluations: the degraded suite's evaluation — clean and GenImage Table 5's
six settings (lowres 112 and 64, JPEG 65 and 30, blur σ 3 and 5) — over the 256 photographs with
one ``predict_settings`` call (each file decoded once), against seven separate evaluations (one
``predict_settings`` call per setting, each decoding every file again). The model is the
toy-sized CNN (resize 72, centre crop 64 on the device), so that decoding and degrading, not the
model, take the time. Decodes are counted across the worker processes.

    pytest benchmarks/test_degraded_eval_bench.py -p no:cacheprovider --benchmark-enable \\
        --benchmark-only
"""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
import torch
from conftest import BATCH, WORKERS, record, run_rounds, tiny_cnn

import gibench.data.dataset as dataset_module
from gibench.builtin.robustness import TABLE5
from gibench.engine.device import Normalizer
from gibench.engine.evaluate import CLEAN, Setting, predict_settings
from gibench.registry import build_registry

CPU = torch.device("cpu")
#: mean seconds per round and scores of each way, for the ratios and the comparison
MEANS: dict[str, float] = {}
SCORES: dict[str, dict[str, np.ndarray]] = {}


@pytest.fixture(scope="module")
def setup():
    """(settings, model, eval transform, normalizer)."""
    registry = build_registry()
    settings = [CLEAN] + [Setting(f"{name}:{value:g}", registry.degradation(name), float(value))
                          for name in TABLE5
                          for value in registry.degradation(name).paper_settings]
    pre = registry.detector("resnet50").preprocess
    return settings, tiny_cnn(), pre.make_eval(64, 72), Normalizer(pre.mean, pre.std, CPU)


@pytest.fixture
def decodes(monkeypatch):
    """A counter of the files decoded, in this process and in forked loader workers."""
    counter = multiprocessing.get_context("fork").Value("l", 0)
    real = dataset_module.decode_rgb

    def counting(path):
        with counter.get_lock():
            counter.value += 1
        return real(path)

    monkeypatch.setattr(dataset_module, "decode_rgb", counting)
    return counter


def _evaluate(index, setup, settings) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """(logits per setting, seconds per phase) of one ``predict_settings`` call."""
    _, model, transform, normalizer = setup
    out = predict_settings(model, index, transform, settings, normalizer=normalizer,
                           device=CPU, batch_size=BATCH, workers=WORKERS, progress=False)
    return ({name: scores.logits for name, scores in out.items()},
            next(iter(out.values())).timings)


def _counted(decodes, evaluate):
    """``evaluate()``'s (logits, timings) and the number of files it decoded."""
    def run():
        before = decodes.value
        logits, timings = evaluate()
        return logits, timings, decodes.value - before

    return run


def _check_and_record(benchmark, way: str, photo_index, result) -> None:
    logits, timings, decoded = result
    n_settings = len(logits)
    # each file decoded once per predict_settings call: once in all, or once per setting
    assert decoded == len(photo_index) * (1 if way == "together" else n_settings)
    SCORES[way] = logits
    if len(SCORES) == 2:  # the same logits either way, setting by setting
        for name in logits:
            np.testing.assert_allclose(SCORES["together"][name], SCORES["separately"][name],
                                       rtol=1e-6, atol=1e-6)
    mean = record(benchmark, len(photo_index), settings=n_settings, decodes=decoded,
                  model="tiny CNN (toy plugin's)",
                  timings={k: round(v, 3) for k, v in timings.items()})
    if mean is not None:
        MEANS[way] = mean
        benchmark.extra_info["evaluations_per_s"] = round(n_settings * len(photo_index) / mean, 2)
    if len(MEANS) == 2:
        benchmark.extra_info["wall_time_ratio"] = round(MEANS["separately"] / MEANS["together"],
                                                        3)
        benchmark.extra_info["decode_ratio"] = n_settings


@pytest.mark.parametrize("threads", [1], indirect=True)
def test_all_settings_one_decode(benchmark, photo_index, setup, decodes, threads):
    benchmark.group = "4. degraded suite: clean + 6 settings"
    result = run_rounds(benchmark, _counted(decodes, lambda: _evaluate(photo_index, setup,
                                                                       setup[0])))
    _check_and_record(benchmark, "together", photo_index, result)


@pytest.mark.parametrize("threads", [1], indirect=True)
def test_seven_separate_evaluations(benchmark, photo_index, setup, decodes, threads):
    def separately():
        logits, timings = {}, {}
        for setting in setup[0]:
            one, spent = _evaluate(photo_index, setup, [setting])
            logits.update(one)
            timings = {k: timings.get(k, 0.0) + v for k, v in spent.items()}
        return logits, timings

    benchmark.group = "4. degraded suite: clean + 6 settings"
    result = run_rounds(benchmark, _counted(decodes, separately))
    _check_and_record(benchmark, "separately", photo_index, result)
