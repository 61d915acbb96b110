"""Device selection, mixed precision and the on-device normalisation step."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import torch

from gibench.errors import GibenchError


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GibenchError(f"{{device=}}{name}: CUDA is not available on this machine "
                           "(use {device=}auto or cpu)", params=["device"])
    return device


#: How far a CUDA evaluation's scores (sigmoid probabilities) may lie from the CPU's fp32 scores
#: of the same weights on the same images: the CUDA path runs the model under autocast
#: (:func:`amp_dtype`: bf16, 8 significant bits), the CPU in fp32. The GPU tests
#: (tests/test_cuda.py) and the GPU acceptance script (benchmarks/gpu/acceptance.py) assert it;
#: the script reports the measured maximum on mini (BENCHMARKS.md).
AMP_SCORE_BOUND = 0.05


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 where the GPU supports it, else fp16, on CUDA; no autocast on the CPU."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


#: The precisions an evaluation may run in on CUDA (``--eval-precision``). ``fp32``, the default:
#: no autocast — what the authors' code and the CPU run (cuDNN's convolutions use TF32, PyTorch's
#: default); ``bf16`` / ``fp16``: autocast to that dtype, several times faster in the model
#: alone but no longer the CPU's decisions to the image (the GPU acceptance run measured bf16:
#: 12 of 6,696 mini decisions flipped, 0.27 points on one subset; BENCHMARKS.md). On the CPU
#: every evaluation runs in fp32.
EVAL_PRECISIONS = ("fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_eval_precision(precision: str) -> str:
    if precision not in EVAL_PRECISIONS:
        raise GibenchError(f"{{eval_precision=}}{precision!r}: expected one of "
                           f"{', '.join(EVAL_PRECISIONS)}", params=["eval_precision"])
    return precision


def eval_precision(device: torch.device, precision: str) -> str:
    """The precision an evaluation on ``device`` actually runs in (the CPU: always fp32)."""
    check_eval_precision(precision)
    return precision if device.type == "cuda" else "fp32"


def autocast(device: torch.device, precision: str | None = None
             ) -> contextlib.AbstractContextManager:
    """Training's mixed precision (``precision`` None: :func:`amp_dtype`), or an evaluation's
    (:data:`EVAL_PRECISIONS`); no autocast on the CPU or in fp32."""
    if precision is None:
        dtype = amp_dtype(device)
    else:
        dtype = _DTYPES.get(eval_precision(device, precision))
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


class Normalizer:
    """uint8 batch on the device → float, scaled to [0, 1], standardised, channels_last.

    Two orders of the same arithmetic, one float32 rounding apart on some pixels: ``(u − 255·m)
    / (255·s)`` (timm's prefetcher; exact for raw 0..255 inputs such as GramNet's), or with
    ``unit_first`` ``(u / 255 − m) / s``, torchvision's ``ToTensor`` + ``Normalize`` — bit for bit
    the inputs of authors' code written with them. A detector chooses with
    ``Preprocess.unit_first`` (:meth:`of`); the rounding matters where a model takes logarithms
    of near-zero values (F3Net's LFS head on flat windows)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], device: torch.device,
                 unit_first: bool = False):
        self.unit_first = unit_first
        scale = 1.0 if unit_first else 255.0
        self.mean = torch.tensor(mean, device=device).view(1, -1, 1, 1) * scale
        self.std = torch.tensor(std, device=device).view(1, -1, 1, 1) * scale

    @classmethod
    def of(cls, preprocess, device: torch.device) -> Normalizer:
        """The normaliser a detector's :class:`~gibench.specs.Preprocess` asks for."""
        return cls(preprocess.mean, preprocess.std, device,
                   preprocess.unit_first)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float()
        if self.unit_first:
            x = x.div(255.0)
        x = (x - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last)


def compile_for_eval(model: torch.nn.Module) -> torch.nn.Module:
    """``torch.compile(model)`` for evaluation (``--compile``): the same logits within float
    rounding (tested), compiled on the first batch and once more, with dynamic shapes, for the
    first batch of another size. Measured on a shared 2-core CPU: ResNet-50 at 64 px compiles in
    about 23 s (+20 s for the second shape) and then runs 1.1-1.2x faster than eager; worth it on
    a long evaluation, not on a short one (BENCHMARKS.md)."""
    return torch.compile(model)
