"""F3Net — Qian et al., "Thinking in Frequency: Face Forgery Detection by Mining Frequency-aware
Clues", ECCV 2020, one of GenImage's baselines. The paper's authors released no code; we follow
github.com/yyk-wew/F3Net (``models.py``, ``xception.py``, ``trainer.py``, ``train.py``,
``utils.py``), a personal re-implementation (its README says so) that F3Net ports cite as their
source. "The original" below is that repository.

Its history, read commit by commit (``main`` is linear but for the merge of ``dev``, f3b4da2):

- 6dd423d (2021-03-24, first commit) to d7eab5e (03-30, branch ``old``): a first F3Net with a
  ``'Mix'`` mode — an earlier ``MixBlock`` (concatenation, convs, sigmoid gates) after block7 and
  after the last conv, a 9-channel FAD stream — trained for ``max_epoch = 2`` without
  augmentation.
- 98b0bf2 (03-31) sets ``max_epoch = 5``; c03c994 (03-31, "Reconstruct F3Net model") turns that
  class into a comment, which edbf5ac (04-05) deletes. From then on ``F3Net`` builds only
  ``'Original'``, ``'FAD'``, ``'LFS'`` and ``'Both'``; ``'Mix'`` is left in a comment of
  ``train.py`` and in the ``fc`` width. 525e056 (04-01) adds ``RandomHorizontalFlip(0.5)`` to
  training (``FFDataset(augment=True)``).
- d1c2f03 (04-14, ``dev``; merged in f3b4da2, 04-20) replaces ``MixBlock`` by the
  cross-attention block below. No commit instantiates it: 574667f (04-20) comments "Haven't
  added into the whole network yet" and its README lists ``'Mix'`` as "(unavailable)".
- 01942ca (2022-03-16, "Fixed bugs of losing dc component"), the latest commit:
  ``generate_filter`` keeps ``start <= i + j <= end`` (before: ``start < i + j <= end``) and the
  FAD bands become ``[0, size // 2.82]``, ``[size // 2.82, size // 2]``, ``[size // 2, 2·size]``
  and all; under the new rule the LFS bands include their start too (DC in band 0,
  ``i + j = 10`` in bands 2 and 3).

What we build is F3Net ``'Mix'`` as the ports assemble it from the repository's parts (its FAD
and LFS heads, Xception streams and cross-attention ``MixBlock``, wired after block7 and block12
as ``mix_block7``/``mix_block12``), with the band masks of 574667f — the split the code's
comment gives, ``0 - 1/16 || 1/16 - 1/8 || 1/8 - 1``, which the paper describes. The masks are
buffers of the state dict, so a checkpoint trained with 01942ca's bands loads with its own masks
and computes what it was trained with; our masks matter only when training from scratch.

Architecture (``models.py``): two Xception streams (Cadene's Xception; here timm's
``legacy_xception``, the same layers and key names) on two frequency views of the image, fused by
two cross-attention MixBlocks, then one linear classifier.

- FAD head (frequency-aware decomposition): the 2-D DCT ``D x Dᵀ`` of each colour channel with a
  fixed DCT-II matrix of the input size, multiplied by four band filters, transformed back
  (``Dᵀ · D``) and concatenated into 12 channels. A filter is a fixed 0/1 mask on the
  anti-diagonal index ``i + j`` plus a learnable ``size × size`` matrix squashed by
  ``2·sigmoid(w) − 1`` (``N(0, 0.1)`` at init); the masks keep ``start < i + j <= end`` for the
  bands low ``(0, size//16]``, middle ``(size//16, size//8]``, high ``(size//8, size]`` and all
  ``(0, 2·size]``, so the DC coefficient ``i + j = 0`` is in no mask and only the learnable part
  reaches it (574667f's masks; 01942ca's "losing dc component" fix puts it in the low band).
- LFS head (local frequency statistics): grey image ``0.299 R + 0.587 G + 0.114 B`` mapped back
  to about 0..255 by ``(g + 1) · 122.5``; 10×10 windows with stride 2 and zero padding 4
  (``nn.Unfold``) go through a 10×10 DCT, ``log10(|c| + 1e-15)`` and M = 6 band filters on
  ``i + j`` in ``(20m/6, 20(m+1)/6]`` (fixed mask + learnable part as above, divided by the
  mask's size), each summed over the window: M maps of ``(size − 2) // 2 + 1`` pixels a side.
  Both heads run in float32 even under autocast. The window DCT is computed as the original
  computes it, ``(D @ P) @ Dᵀ`` with ``Dᵀ`` a transposed view of ``D``: in a flat window the
  exact AC coefficients are 0 and float32 leaves rounding residues (about 1e-5, or exactly 0)
  that ``log10(|c| + 1e-15)`` maps to about -5 or to -15, so another order of the same sums
  (``kron(D, D)`` on the flattened window, as we had) moved LFS values by up to 9.6 and the
  probability by up to 0.048 against the original's on the same tensor; in the original order
  they agree within 6e-6 and 4e-6. The same residues make F3Net sensitive to the last bit of
  its input: images whose inputs differ by one float32 ulp (6e-8) move the original's own
  probability by up to 0.016 on an image with flat regions. The engine normalises as
  ``(u − 255·mean) / (255·std)`` and the original as ``u / 255 · 2 − 1``, one ulp apart on some
  pixels: that was all of the 0.016 between the two measured through each side's preprocessing.
- Streams: the FAD Xception's first conv takes 12 channels (stride 2, as Xception's); the LFS
  Xception's first conv takes M channels with stride 1 (the LFS maps are already half size). Both
  start from the 3-channel conv copied onto each group of 3 channels and divided by the number of
  groups (``init_xcep_FAD``/``init_xcep_LFS``: ÷4 for 12 channels, ÷2 for 6).
- MixBlock after ``block7`` (728 channels, 19×19 at 299 px) and after ``block12`` (1024
  channels, 10×10): per stream 1×1 query and key convs, attention
  ``softmax([q_F q_L] · [k_F; k_L])`` over each channel's rows, and each stream receives the other
  one's attended map through a depthwise 1×1 conv and BatchNorm, gated by ``2·sigmoid(γ) − 1``
  with ``γ = 0`` at init.
- Head: ReLU, global average pooling of each stream (2048 + 2048), dropout 0.2,
  ``Linear(4096, 1)`` (the repository's default ``num_classes=1`` with ``BCEWithLogitsLoss``;
  positive = generated). The repository's Xception also keeps a per-stream ``fc``
  (2048 → num_classes) that F3Net never calls; we leave it out.

The fixed DCT matrices, masks and mask sizes are buffers saved in the state dict (the original
keeps them as frozen parameters), so a checkpoint carries the exact function it was trained
with. The learnable FAD filters are ``size × size`` each, so the parameter count depends on the
input size: at 299 px we have 48,314,929 parameters, all trainable; the original layout has
48,319,027 trainable ones (ours plus its two unused stream ``fc`` layers of 2,049) and 537,212
frozen ones (counted in ``tests/test_f3net.py``). The model runs at any square input size at
which the two streams reach the MixBlocks with maps of equal size (299 and 64 do); ``build``
refuses the others, naming nearby sizes that work.

Preprocessing (``utils.py`` ``FFDataset``): the whole image is resized to 299×299 with PIL's
default filter (bicubic), no crop; training (``augment=True``) then flips it horizontally with
p = 0.5, evaluation (``augment=False``) does not; pixels are scaled to [-1, 1] (mean = std =
0.5, the range the LFS head's ``(x + 1) · 122.5`` assumes). The "resize 333, centre crop 299" of
Cadene's Xception settings is ImageNet evaluation, not F3Net's. When the engine gives a load size
(the mini budget: 72) we resize to it and crop the input size: random crop (after the flip) for
training, centre crop for evaluation.

Recipe (``trainer.py``, ``train.py``): Adam, lr 2e-4, β = (0.9, 0.999), no weight decay, no lr
schedule, ``BCEWithLogitsLoss``; batch 12 (half real, half fake per batch) for ``max_epoch = 5``
(since 98b0bf2; 2 was the first commits' value); the mini budget caps the epochs.
The repository's README notes batch 128 in the paper.

Checkpoints: the repository saves the ``nn.DataParallel`` state dict (``module.`` prefix) with
keys ``FAD_head._DCT_all``, ``FAD_head.filters.0.base``, ``LFS_head.filters.0.ft_num``,
``FAD_xcep.block1.rep.0.conv1.weight``, ``mix_block7.FAD_query.weight``, ``fc.weight`` (1, 4096)
...; ports of it (``fad_head``, ``fad_excep``, ``lfs_excep``, ``num_classes=2``) are accepted too, a
two-class ``fc`` becomes the equivalent single logit of its class ``fake_index`` (1 unless
``--fake-class`` says otherwise: :func:`convert_state_dict`). ImageNet weights: Cadene's
``xception-b5690688.pth`` (2-D pointwise weights) by path, or timm's copy of it with
``pretrained="imagenet"``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from gibench.api import (
    DetectorSpec,
    GibenchError,
    Preprocess,
    Recipe,
    check_state,
    compose,
    hookimpl,
    load_checkpoint,
)
from gibench_baselines.transforms import center_crop, hflip, random_crop, resize
from gibench_baselines.weights import download_or_explain, strip_prefixes, two_class_to_logit

NAME = "f3net"
INPUT_SIZE = 299
#: LFS: DCT window, its stride and zero padding (``nn.Unfold(10, stride=2, padding=4)``), and M.
WINDOW, WINDOW_STRIDE, WINDOW_PADDING, LFS_BANDS = 10, 2, 4, 6
#: ``log10(|c| + 1e-15)`` in the LFS head.
LOG_EPS = 1e-15
MEAN = STD = (0.5, 0.5, 0.5)
#: timm's copy of Cadene's ImageNet Xception (``legacy_xception.tf_in1k``).
TIMM_WEIGHTS_FILE = "xception-43020ad28.pth"
#: The class index of fakes in a two-class head (``train.py``: real 0, fake 1).
FAKE_INDEX = 1


# --------------------------------------------------------------------------- frequency heads


def dct_matrix(size: int) -> torch.Tensor:
    """The orthonormal DCT-II matrix ``D`` (``D @ x`` transforms the columns of ``x``)."""
    k = torch.arange(size, dtype=torch.float64)[:, None]
    j = torch.arange(size, dtype=torch.float64)[None, :]
    scale = torch.full((size, 1), math.sqrt(2.0 / size), dtype=torch.float64)
    scale[0] = math.sqrt(1.0 / size)
    return (scale * torch.cos((j + 0.5) * math.pi * k / size)).float()


def band_mask(start: float, end: float, size: int) -> torch.Tensor:
    """1 where ``start < i + j <= end`` on a ``size × size`` DCT plane, else 0."""
    i = torch.arange(size)[:, None]
    j = torch.arange(size)[None, :]
    return ((i + j > start) & (i + j <= end)).float()


class BandFilter(nn.Module):
    """A fixed band mask plus a learnable part in (-1, 1); optionally divided by the mask's size."""

    def __init__(self, size: int, start: float, end: float, normalise: bool = False) -> None:
        super().__init__()
        base = band_mask(start, end, size)
        self.register_buffer("base", base)
        self.learnable = nn.Parameter(torch.empty(size, size).normal_(0.0, 0.1))
        self.register_buffer("count", base.sum() if normalise else None)

    def weight(self) -> torch.Tensor:
        w = self.base + (2.0 * torch.sigmoid(self.learnable) - 1.0)
        return w / self.count if self.count is not None else w


def _full_precision(x: torch.Tensor):
    """The heads' DCTs and logarithms run in float32 even under autocast (``1e-15`` and the
    high-frequency residues do not survive fp16/bf16)."""
    return torch.autocast(device_type=x.device.type, enabled=False)


class FADHead(nn.Module):
    """Frequency-aware decomposition: (N, 3, n, n) → (N, 12, n, n), bands low/middle/high/all."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.register_buffer("dct", dct_matrix(size))
        bands = ((0, size // 16), (size // 16, size // 8), (size // 8, size), (0, size * 2))
        self.filters = nn.ModuleList(BandFilter(size, lo, hi) for lo, hi in bands)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with _full_precision(x):
            x = x.float()
            d = self.dct
            freq = d @ x @ d.T  # (N, 3, n, n)
            masks = torch.stack([f.weight() for f in self.filters])  # (4, n, n)
            bands = freq.unsqueeze(1) * masks[None, :, None]  # (N, 4, 3, n, n)
            out = d.T @ bands @ d
        return out.flatten(1, 2)  # band-major: low RGB, middle RGB, high RGB, all RGB


class LFSHead(nn.Module):
    """Local frequency statistics: (N, 3, n, n) → (N, M, s, s),
    s = (n + 2·padding − window) // stride + 1."""

    def __init__(self, window: int = WINDOW, bands: int = LFS_BANDS,
                 stride: int = WINDOW_STRIDE, padding: int = WINDOW_PADDING) -> None:
        super().__init__()
        self.window, self.stride, self.padding = window, stride, padding
        self.register_buffer("dct", dct_matrix(window))
        step = window * 2.0 / bands
        self.filters = nn.ModuleList(
            BandFilter(window, step * m, step * (m + 1), normalise=True) for m in range(bands))

    def output_size(self, size: int) -> int:
        return (size + 2 * self.padding - self.window) // self.stride + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with _full_precision(x):
            x = x.float()
            grey = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
            grey = (grey.unsqueeze(1) + 1.0) * 122.5  # [-1, 1] → about 0..255, as the original
            n, s = x.shape[0], self.window
            windows = F.unfold(grey, s, padding=self.padding, stride=self.stride)  # (N, S², L)
            windows = windows.transpose(1, 2).reshape(n, -1, s, s)  # (N, L, S, S)
            # The original's arithmetic: (D @ P) @ Dᵀ, Dᵀ a transposed view of D as its
            # ``_DCT_patch_T`` is. In a flat window the exact AC coefficients are 0, and what
            # float32 leaves there is rounding that log10(|c| + 1e-15) turns into -15 (an exact
            # 0) or about -5 (a 1e-5 residue): kron(D, D) on the flattened window, or a
            # contiguous copy of Dᵀ, leave other residues and moved LFS values by up to 10.
            coeffs = self.dct @ windows @ self.dct.T
            logmag = torch.log10(coeffs.abs() + LOG_EPS).flatten(2)  # (N, L, S²)
            weights = torch.stack([f.weight().flatten() for f in self.filters], dim=1)  # (S², M)
            out = logmag @ weights  # (N, L, M)
        side = self.output_size(x.shape[-1])
        return out.transpose(1, 2).reshape(x.shape[0], -1, side, side)


# --------------------------------------------------------------------------- fusion


class MixBlock(nn.Module):
    """F3Net's cross-attention between the FAD and LFS feature maps (square, same size)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fad_query = nn.Conv2d(channels, channels, 1)
        self.lfs_query = nn.Conv2d(channels, channels, 1)
        self.fad_key = nn.Conv2d(channels, channels, 1)
        self.lfs_key = nn.Conv2d(channels, channels, 1)
        self.fad_gamma = nn.Parameter(torch.zeros(1))
        self.lfs_gamma = nn.Parameter(torch.zeros(1))
        self.fad_conv = nn.Conv2d(channels, channels, 1, groups=channels)
        self.fad_bn = nn.BatchNorm2d(channels)
        self.lfs_conv = nn.Conv2d(channels, channels, 1, groups=channels)
        self.lfs_bn = nn.BatchNorm2d(channels)

    def forward(self, fad: torch.Tensor, lfs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n, c, h, w = fad.shape
        query = torch.cat([self.fad_query(fad).reshape(n * c, h, w),
                           self.lfs_query(lfs).reshape(n * c, h, w)], dim=2)  # (NC, h, 2w)
        key = torch.cat([self.fad_key(fad).reshape(n * c, h, w).transpose(1, 2),
                         self.lfs_key(lfs).reshape(n * c, h, w).transpose(1, 2)], dim=1)
        attention = torch.softmax(torch.bmm(query, key), dim=-1).reshape(n, c, h, h)
        to_fad = lfs * attention * (2.0 * torch.sigmoid(self.lfs_gamma) - 1.0)
        to_lfs = fad * attention * (2.0 * torch.sigmoid(self.fad_gamma) - 1.0)
        return (fad + self.fad_bn(self.fad_conv(to_fad)),
                lfs + self.lfs_bn(self.lfs_conv(to_lfs)))


# --------------------------------------------------------------------------- the network


def _conv_out(size: int, stride: int) -> int:
    return (size - 3) // stride + 1  # 3×3, no padding


def _pool_out(size: int) -> int:
    return (size - 1) // 2 + 1  # MaxPool2d(3, 2, 1)


def stream_sizes(input_size: int) -> dict[str, tuple[int, int]]:
    """Spatial size of the (FAD, LFS) maps at the two MixBlocks for a given input size."""
    lfs_in = LFSHead().output_size(input_size)
    fad = _conv_out(_conv_out(input_size, 2), 1)
    lfs = _conv_out(_conv_out(lfs_in, 1), 1)
    for _ in range(3):  # block1..block3 halve, block4..block7 keep
        fad, lfs = _pool_out(fad), _pool_out(lfs)
    return {"block7": (fad, lfs), "block12": (_pool_out(fad), _pool_out(lfs))}


def _check_input_size(input_size: int) -> None:
    sizes = stream_sizes(input_size)
    if input_size >= 32 and all(a == b for a, b in sizes.values()):
        return
    near = [s for s in range(max(32, input_size - 8), input_size + 9)
            if all(a == b for a, b in stream_sizes(s).values())]
    raise GibenchError(
        f"F3Net cannot run at {input_size} px: the FAD and LFS streams reach the MixBlocks with "
        f"maps of {sizes['block7']} (block7) and {sizes['block12']} (block12) pixels; "
        f"nearby sizes that work: {near}")


def _widen_first_conv(xception: nn.Module, in_channels: int, stride: int) -> None:
    """Replace the 3-channel first conv as ``init_xcep_FAD``/``init_xcep_LFS`` do: the old
    weights on each full group of 3 channels, divided by ``in_channels / 3``."""
    old = xception.conv1.weight.detach()
    new = nn.Conv2d(in_channels, old.shape[0], 3, stride, 0, bias=False)
    with torch.no_grad():
        for group in range(in_channels // 3):
            new.weight[:, 3 * group:3 * group + 3] = old / (in_channels / 3.0)
    xception.conv1 = new
    xception.in_chans = in_channels


class F3Net(nn.Module):
    """FAD + LFS Xception streams fused by MixBlocks after block7 and block12; one logit."""

    def __init__(self, xception: nn.Module, input_size: int = INPUT_SIZE) -> None:
        super().__init__()
        _check_input_size(input_size)
        self.input_size = input_size
        self.fad_head = FADHead(input_size)
        self.lfs_head = LFSHead()
        self.fad_xception = copy.deepcopy(xception)
        self.lfs_xception = xception
        _widen_first_conv(self.fad_xception, 12, stride=2)
        _widen_first_conv(self.lfs_xception, LFS_BANDS, stride=1)
        self.mix7 = MixBlock(728)
        self.mix12 = MixBlock(1024)
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(2 * 2048, 1)

    @staticmethod
    def _pooled(stream: nn.Module, x: torch.Tensor) -> torch.Tensor:
        x = stream.act3(stream.bn3(stream.conv3(x)))
        x = F.relu(stream.bn4(stream.conv4(x)))
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.input_size, self.input_size):
            raise ValueError(f"F3Net was built for {self.input_size}×{self.input_size} inputs "
                             f"(its DCT and filters depend on it); got {tuple(x.shape[-2:])}")
        streams = (self.fad_xception, self.lfs_xception)
        maps = [self.fad_head(x), self.lfs_head(x)]
        for i, s in enumerate(streams):
            maps[i] = s.act1(s.bn1(s.conv1(maps[i])))
            maps[i] = s.act2(s.bn2(s.conv2(maps[i])))
        for first, last, mix in ((1, 7, self.mix7), (8, 12, self.mix12)):
            for i, s in enumerate(streams):
                for b in range(first, last + 1):
                    maps[i] = getattr(s, f"block{b}")(maps[i])
            maps = list(mix(*maps))
        features = torch.cat([self._pooled(s, m) for s, m in zip(streams, maps, strict=True)],
                             dim=1)
        return self.fc(self.dropout(features))


# --------------------------------------------------------------------------- building


def _xception(pretrained: bool = False) -> nn.Module:
    import timm  # on first build: listing the detectors needs no timm

    return timm.create_model("legacy_xception", pretrained=pretrained, num_classes=0)


def load_cadene_xception(model: nn.Module, path: str | Path) -> None:
    """Load an ImageNet Xception state dict with Cadene's key names (``xception-b5690688.pth``:
    2-D pointwise weights, ``fc`` or ``last_linear`` classifier, which is ignored) into a
    3-channel timm ``legacy_xception``; any other mismatch is an error naming the keys."""
    raw = load_checkpoint(path)
    state = strip_prefixes(raw.get("state_dict", raw), ("module.",))
    state = {k: (v[:, :, None, None] if "pointwise" in k and v.ndim == 2 else v)
             for k, v in state.items() if not k.startswith(("fc.", "last_linear."))}
    check_state(model.state_dict(), state, str(path))
    model.load_state_dict(state)


def build(pretrained: str | Path | None = None, input_size: int = INPUT_SIZE) -> nn.Module:
    """F3Net ('Mix' mode) with one logit. ``pretrained``: None (random init; the widened first
    convs are still derived from the 3-channel init as the original does), ``"imagenet"`` (timm's
    copy of Cadene's ImageNet Xception, downloaded) or a path to a local Xception state dict."""
    _check_input_size(input_size)
    if pretrained == "imagenet":
        xception = download_or_explain(lambda: _xception(pretrained=True), TIMM_WEIGHTS_FILE,
                                       "ImageNet weights of timm's legacy_xception")
    else:
        xception = _xception()
        if pretrained is not None:
            load_cadene_xception(xception, pretrained)
    return F3Net(xception, input_size)


# --------------------------------------------------------------------------- checkpoints

#: The original modules → ours (yyk-wew/F3Net names first, then the ports' snake-case names).
_MODULES = {
    "FAD_head.": "fad_head.", "LFS_head.": "lfs_head.",
    "FAD_xcep.": "fad_xception.", "LFS_xcep.": "lfs_xception.",
    "fad_excep.": "fad_xception.", "lfs_excep.": "lfs_xception.",
    "mix_block7.": "mix7.", "mix_block12.": "mix12.",
}
_HEAD_BUFFERS = {"_DCT_all": "dct", "_DCT_patch": "dct", "ft_num": "count"}
_TRANSPOSES = {"_DCT_all_T": "_DCT_all", "_DCT_patch_T": "_DCT_patch"}


def _rename(key: str) -> str:
    for old, new in _MODULES.items():
        if key.startswith(old):
            key = new + key[len(old):]
            break
    head, _, leaf = key.rpartition(".")
    if key.startswith(("fad_head.", "lfs_head.")) and leaf in _HEAD_BUFFERS:
        return f"{head}.{_HEAD_BUFFERS[leaf]}"
    block, _, rest = key.partition(".")
    if block in ("mix7", "mix12") and rest.startswith(("FAD_", "LFS_")):
        return f"{block}.{rest[:4].lower()}{rest[4:]}"  # mix7.FAD_query.weight → mix7.fad_query...
    return key


def _is_stream_classifier(key: str) -> bool:
    """The repository's Xception keeps its own ``fc`` (2048 → num_classes) that F3Net never
    calls; Cadene's has ``last_linear``."""
    parts = key.split(".")
    return len(parts) == 3 and parts[0] in ("fad_xception", "lfs_xception") and \
        parts[1] in ("fc", "last_linear")


def convert_state_dict(obj: Mapping[str, Any], fake_index: int = FAKE_INDEX
                       ) -> dict[str, torch.Tensor]:
    """Our ``model.pt``, or yyk-wew/F3Net's (DataParallel) state dict, or a port's, optionally
    wrapped in ``{'model' | 'state_dict' | 'net': ...}``.

    A two-class ``fc`` (the ports' ``num_classes=2``) becomes the single logit whose sigmoid is
    the softmax probability of class ``fake_index`` (``--fake-class``). The default, 1, is the
    repository's labelling: ``train.py`` labels a batch ``zeros`` for the real half and ``ones``
    for the fake half, ``utils.evaluate`` gives the real set 0 and the fake sets 1 and counts
    ``sigmoid > 0.5`` as fake, so a two-class head trained on those labels has fake = class 1.
    A one-logit ``fc`` (the repository's ``num_classes=1``, BCE on those labels) is kept as is.
    """
    if fake_index not in (0, 1):
        raise GibenchError(f"fake_index {fake_index!r}: a two-class head's fake class is 0 or 1")
    state: Mapping[str, Any] = obj
    for wrapper in ("model", "state_dict", "net"):
        if isinstance(state.get(wrapper), Mapping):
            state = state[wrapper]
            break
    state = strip_prefixes(state, ("module.",))
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        leaf = key.rpartition(".")[2]
        if leaf in _TRANSPOSES:  # redundant copies of the DCT matrices: check, then drop
            other = key[: -len(leaf)] + _TRANSPOSES[leaf]
            if other in state and not torch.equal(state[other].T, value):
                raise GibenchError(f"checkpoint key {key} is not the transpose of {other}")
            continue
        new = _rename(key)
        if not _is_stream_classifier(new):
            out[new] = value
    return two_class_to_logit(out, "fc.weight", "fc.bias", fake_index=fake_index)


# --------------------------------------------------------------------------- preprocessing


def make_train(input_size: int, load_size: int | None):
    """The whole image resized to the input size and flipped horizontally with p = 0.5
    (``FFDataset(augment=True)``: resize, ``RandomHorizontalFlip(0.5)``); with a load size, a
    random crop of the resized image follows."""
    return compose(resize(load_size or input_size, Image.Resampling.BICUBIC), hflip(0.5),
                   random_crop(input_size))


def make_eval(input_size: int, load_size: int | None):
    return compose(resize(load_size or input_size, Image.Resampling.BICUBIC),
                   center_crop(input_size))


SPEC = DetectorSpec(
    name=NAME,
    parameters=48_314_929,
    paper="Qian et al., Thinking in Frequency: Face Forgery Detection by Mining Frequency-aware "
          "Clues, ECCV 2020",
    year=2020, venue="ECCV",
    build=build,
    preprocess=Preprocess(
        input_size=INPUT_SIZE, load_size=None, mean=MEAN, std=STD,
        make_train=make_train, make_eval=make_eval,
        description="resize the whole image to 299×299 (bicubic), no crop; train: horizontal "
                    "flip (p = 0.5); eval: no flip; mean = std = 0.5 (pixels in [-1, 1])",
        # ToTensor then ×2 − 1 in the original: the same bits as (u/255 − 0.5)/0.5; the other
        # order moved P by up to 0.016 on flat windows, where LFS takes log10 of ~1e-6
        unit_first=True,
    ),
    recipe=Recipe(optimizer="adam", lr=2e-4, betas=(0.9, 0.999), weight_decay=0.0, epochs=5,
                  batch_size=12, schedule="constant",
                  notes="yyk-wew/F3Net trainer.py: Adam lr 2e-4, betas (0.9, 0.999), no weight "
                        "decay or schedule, BCEWithLogitsLoss; train.py: batch 12 (6 real + 6 "
                        "fake), max_epoch 5 (the README says batch 128 in the paper)"),
    convert_state_dict=convert_state_dict,
    aliases=("f3-net", "qian2020"),
    description="two Xception streams on DCT band decompositions (FAD) and local frequency "
                "statistics (LFS), fused by cross-attention MixBlocks",
    mini_notes="64-px crops of 72-px images: the FAD DCT and band masks are built at 64 px "
               "(i+j bands (0,4], (4,8], (8,64], all), the LFS maps are 32×32, the MixBlocks "
               "fuse 4×4 and 2×2 maps; from scratch",
)


@hookimpl
def gibench_add_detectors():
    return [SPEC]
