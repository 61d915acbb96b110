"""The engine on CUDA: AMP training with the grad scaler (fp16) and without it (bf16), evaluation
against the CPU within :data:`~gibench.engine.device.AMP_SCORE_BOUND`, degraded evaluation on
the device, and an interrupted training resumed on CUDA.

Every test here is marked ``gpu`` and skips without CUDA; ``pytest -m gpu`` runs them (the GPU
acceptance script, ``benchmarks/gpu/acceptance.py``, does, on a GPU machine).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

import gibench
import gibench.engine.device as device_module
import gibench.engine.train as train_module
from gibench.engine.device import AMP_SCORE_BOUND, Normalizer
from gibench.engine.evaluate import CLEAN, Setting, predict_settings
from gibench.outputs import load_checkpoint
from gibench.registry import build_registry

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

OPTS = dict(dataset="toy", train_subset="toy-a", workers=0, progress=False)


def _force_amp(monkeypatch, dtype: torch.dtype) -> None:
    """Make the engine's autocast (and grad scaler choice) use ``dtype`` on CUDA."""
    if dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    monkeypatch.setattr(device_module, "amp_dtype",
                        lambda device: dtype if device.type == "cuda" else None)
    monkeypatch.setattr(train_module, "amp_dtype", device_module.amp_dtype)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["fp16", "bf16"])
def test_amp_training_on_cuda_learns_and_keeps_the_scaler_state(toy_plugin, toy_root, tmp_path,
                                                                monkeypatch, dtype):
    _force_amp(monkeypatch, dtype)
    seen: list[torch.dtype] = []
    real_autocast = device_module.autocast

    def recording(device):  # the dtype every forward pass of the training ran under
        ctx = real_autocast(device)
        seen.append(getattr(ctx, "fast_dtype", None))
        return ctx

    monkeypatch.setattr(train_module, "autocast", recording)
    out = tmp_path / "run"
    results = gibench.run("tinynet", "cross-generator", data_root=toy_root, device="cuda",
                          out=out, **OPTS)  # the recipe's 8 epochs, as test_engine's CPU run
    assert seen and set(seen) == {dtype}
    assert (results["acc"] > 80).all(), results  # the toy checkerboard is learnt under AMP
    record = json.loads((out / "run.json").read_text())
    assert record["device"]["type"] == "cuda"
    history = record["training"]["toy-a"]["history"]
    assert all(np.isfinite(h["train_loss"]) for h in history)
    scaler = load_checkpoint(out / "train" / "toy-a" / "checkpoints" / "last.pt")["scaler"]
    if dtype == torch.float16:  # the scaler ran: it has a scale and counts its growth steps
        assert float(scaler["scale"]) > 0 and "_growth_tracker" in scaler
    else:  # bf16 needs no loss scaling: the scaler is disabled and saves nothing
        assert scaler == {}


@pytest.fixture
def cpu_weights(toy_plugin, toy_root, tmp_path):
    """A toy model trained on the CPU: its checkpoint."""
    out = tmp_path / "trained"
    gibench.run("tinynet", "cross-generator", data_root=toy_root, device="cpu", epochs=3,
                out=out, **OPTS)
    return out / "train" / "toy-a" / "model.pt"


def _disagreements(cpu: pd.DataFrame, cuda: pd.DataFrame) -> tuple[float, pd.DataFrame]:
    """(max |Δscore|, the rows whose decision at 0.5 differs) of two scores.csv frames."""
    assert list(cpu["path"]) == list(cuda["path"])
    delta = (cpu["score"] - cuda["score"]).abs()
    flipped = cpu[(cpu["score"] > 0.5) != (cuda["score"] > 0.5)]
    return float(delta.max()), flipped


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_cuda_evaluation_agrees_with_the_cpu(toy_root, tmp_path, cpu_weights, precision):
    scores = {}
    for device in ("cpu", "cuda"):
        gibench.evaluate("tinynet", cpu_weights, data_root=toy_root, dataset="toy",
                         device=device, workers=0, progress=False, out=tmp_path / device,
                         eval_precision=precision)
        scores[device] = pd.read_csv(tmp_path / device / "scores.csv")
    worst, flipped = _disagreements(scores["cpu"], scores["cuda"])
    assert worst <= AMP_SCORE_BOUND
    # a decision may flip only where the CPU's score lies within the bound of the threshold
    assert ((flipped["score"] - 0.5).abs() <= AMP_SCORE_BOUND).all()
    if precision == "fp32":  # TF32 convolutions at most: far closer than autocast
        assert worst <= 1e-3
    record = json.loads((tmp_path / "cuda" / "run.json").read_text())
    assert record["device"]["type"] == "cuda" and "name" in record["device"]
    assert record["eval_precision"] == precision
    assert json.loads((tmp_path / "cpu" / "run.json").read_text())["eval_precision"] == "fp32"


def test_degraded_evaluation_on_cuda_agrees_with_the_cpu(toy_root, cpu_weights):
    from gibench.data.layout import index_split
    from gibench.engine.models import load_detector

    registry = build_registry()
    spec = registry.detector("tinynet")
    index = index_split(toy_root / "toy_a", "val", subset="toy-a")
    settings = [CLEAN] + [Setting(f"{n}:{v:g}", registry.degradation(n), float(v))
                          for n, v in (("jpeg", 30), ("blur", 3), ("noise", 10),
                                       ("lowres", 12))]
    out = {}
    for name in ("cpu", "cuda"):
        device = torch.device(name)
        model = load_detector(spec, cpu_weights, 16, device)
        transform = spec.preprocess.make_eval(16, None)
        out[name] = predict_settings(
            model, index, transform, settings, device=device, batch_size=7, workers=0,
            normalizer=Normalizer(spec.preprocess.mean, spec.preprocess.std, device),
            progress=False, seed=3)
    for setting in settings:
        cpu, cuda = out["cpu"][setting.name], out["cuda"][setting.name]
        np.testing.assert_array_equal(cpu.positions, cuda.positions)
        delta = np.abs(1 / (1 + np.exp(-cpu.logits)) - 1 / (1 + np.exp(-cuda.logits)))
        assert delta.max() <= AMP_SCORE_BOUND, setting.name
    # the degradations did something on the device: the scores moved away from the clean ones
    assert not np.allclose(out["cuda"]["none"].logits, out["cuda"]["noise:10"].logits)


def test_training_interrupted_on_cuda_resumes_to_the_same_results(toy_plugin, toy_root,
                                                                  tmp_path, monkeypatch):
    _force_amp(monkeypatch, torch.float16)  # the grad scaler's state must survive too
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    opts = dict(data_root=toy_root, device="cuda", epochs=4, **OPTS)
    reference = tmp_path / "reference"
    gibench.run("tinynet", "cross-generator", out=reference, **opts)

    real_predict = train_module.predict
    calls = []

    def interrupted(*args, **kwargs):  # Ctrl-C in the held-out evaluation of epoch 3
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_predict(*args, **kwargs)

    monkeypatch.setattr(train_module, "predict", interrupted)
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        gibench.run("tinynet", "cross-generator", out=run_dir, **opts)
    last = load_checkpoint(run_dir / "train" / "toy-a" / "checkpoints" / "last.pt")
    assert last["epoch"] == 2 and float(last["scaler"]["scale"]) > 0
    monkeypatch.setattr(train_module, "predict", real_predict)
    gibench.resume(run_dir)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "complete"
    assert len(record["training"]["toy-a"]["history"]) == 4
    # cuDNN's convolution gradients are not bitwise deterministic: equal within rounding
    for name in ("results.csv", "scores.csv"):
        a, b = pd.read_csv(reference / name), pd.read_csv(run_dir / name)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=0, atol=1e-3)
