"""UnivFD — Ojha, Li, Lee, "Towards Universal Fake Image Detectors that Generalize Across
Generative Models", CVPR 2023 (github.com/WisconsinAIVision/UniversalFakeDetect; every fact
below is from that repository: ``models/clip_models.py``, ``networks/trainer.py``,
``data/datasets.py``, ``validate.py``, ``options/``).

Architecture (``CLIPModel('ViT-L/14')``): OpenAI CLIP's ViT-L/14 image encoder,
``encode_image`` — patch 14, width 1024, 24 blocks of 16 heads, QuickGELU, ``ln_pre``, the
class token after ``ln_post`` projected by ``proj`` (1024 → 768, no bias) — then
``fc: Linear(768, 1)``. Here the encoder is timm's ``VisionTransformer`` in CLIP's shape
(``pre_norm``, no patch bias, LayerNorm ε 1e-5, ``quick_gelu``; timm's
``vit_large_patch14_clip_quickgelu_224``), ``proj`` a bias-free linear layer as OpenAI's, and
``fc`` theirs: 303,966,977 parameters (the encoder with its projection 303,966,208, the
probe 769; their ``CLIPModel`` also holds CLIP's text tower, which ``encode_image`` never
uses).

Training is a linear probe (``--fix_backbone``): every parameter but ``fc`` is frozen; ``fc``
starts from ``normal(0, 0.02)`` (``init_gain``); AdamW (their ``--optim adam`` builds
``torch.optim.AdamW``) at lr 1e-4, β = (0.9, 0.999), no weight decay, batch 256, BCE, at most
100 epochs with their early stopping (patience 5 on validation accuracy: lr ÷ 10, stop below
1e-6; the engine's ``plateau`` schedule).

Preprocessing: training — ``Resize(256)`` on the shorter side (bilinear), their
``data_augment`` (blur σ ~ U[0, 3] with probability 0.5, ``scipy.ndimage.gaussian_filter``;
JPEG at a quality drawn from 30..100 with probability 0.5, cv2 or PIL — both libjpeg; PIL
here), ``RandomCrop(224)``, ``RandomHorizontalFlip``; evaluation (``validate.py``) —
``CenterCrop(224)`` at native resolution (centred zero padding when smaller, torchvision's
rule), no resize. Both normalise with CLIP's mean and std after ``ToTensor``.

Checkpoints: the released ``pretrained_weights/fc_weights.pth`` holds only the probe,
``{'weight': (1, 768), 'bias': (1,)}`` (``validate.py`` loads it into ``model.fc``); their
training checkpoints are ``{'model': CLIPModel.state_dict(), 'optimizer', 'total_steps'}``
with the encoder under ``model.visual.*`` (OpenAI names) and the probe under ``fc.*``. The
encoder's weights are OpenAI's: ``pretrained`` is a local file — OpenAI's ``ViT-L-14.pt``
(a TorchScript archive: read with ``torch.jit.load``, which runs no pickled code), a state dict
with OpenAI's ``visual.*`` names (open_clip's files) or timm's names (the hub's
``model.safetensors``) — or ``"openai"`` / ``"imagenet"`` for timm's hub copy
(``vit_large_patch14_clip_quickgelu_224.openai``, downloaded).

Checkpoint size: a model whose encoder came from published weights keeps them out of its
state dict (the frozen encoder is ``pretrained``'s, not the run's): ``model.pt`` is the 769
numbers of the probe, as their ``fc_weights.pth``, and loads into a model built with the same
``pretrained``. A model built at random (``pretrained=None``, mini offline) keeps the whole
encoder in its state dict, since nothing else could rebuild it.
"""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
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
from gibench_modern.ops import centre_crop, hflip, random_crop, resize_shorter

NAME = "univfd"
INPUT_SIZE, LOAD_SIZE = 224, 256
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
HUB_NAME = "vit_large_patch14_clip_quickgelu_224.openai"
PARAMETERS = 303_966_977
#: their ``init_gain``: the probe's weight starts from normal(0, 0.02)
FC_INIT_STD = 0.02


@dataclass(frozen=True)
class ClipShape:
    """The shape of a CLIP ViT image encoder (OpenAI's ``VisionTransformer`` arguments)."""

    patch: int = 14
    width: int = 1024
    layers: int = 24
    heads: int = 16
    output_dim: int = 768


#: OpenAI's ViT-L/14.
VIT_L14 = ClipShape()


def clip_encoder(shape: ClipShape, input_size: int) -> nn.Module:
    """timm's ViT in CLIP's shape, returning the class token after the final LayerNorm."""
    from timm.layers import LayerNorm
    from timm.models import VisionTransformer

    return VisionTransformer(img_size=input_size, patch_size=shape.patch,
                             embed_dim=shape.width, depth=shape.layers, num_heads=shape.heads,
                             pre_norm=True, norm_layer=partial(LayerNorm, eps=1e-5),
                             act_layer="quick_gelu", num_classes=0)


class UnivFD(nn.Module):
    """Frozen CLIP image encoder and projection → ``fc: Linear(output_dim, 1)``.

    ``encoder_source`` names where the frozen weights came from (``None``: random); when set,
    :meth:`state_dict` holds the probe only and :meth:`load_state_dict` accepts it alone.
    """

    def __init__(self, shape: ClipShape = VIT_L14, input_size: int = INPUT_SIZE) -> None:
        super().__init__()
        self.encoder = clip_encoder(shape, input_size)
        self.proj = nn.Linear(shape.width, shape.output_dim, bias=False)
        self.fc = nn.Linear(shape.output_dim, 1)
        nn.init.normal_(self.fc.weight, 0.0, FC_INIT_STD)
        for p in (*self.encoder.parameters(), *self.proj.parameters()):
            p.requires_grad_(False)
        self.encoder_source: str | None = None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """CLIP's ``encode_image``: the projected class token."""
        with torch.no_grad():
            return self.proj(self.encoder(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))

    def _frozen(self, key: str) -> bool:
        return self.encoder_source is not None and not key.startswith("fc.")

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        state = super().state_dict(*args, **kwargs)
        prefix = kwargs.get("prefix", "")
        for key in [k for k in state if self._frozen(k.removeprefix(prefix))]:
            del state[key]
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True,
                        assign: bool = False):
        if self.encoder_source is None or any(not k.startswith("fc.") for k in state_dict):
            return super().load_state_dict(state_dict, strict=strict, assign=assign)
        if strict:
            check_state(self.state_dict(), state_dict, "the probe's state dict")
        return self.fc.load_state_dict({k.removeprefix("fc."): v for k, v in state_dict.items()},
                                       strict=strict, assign=assign)


# --- the encoder's published weights ----------------------------------------------------------
def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(n.endswith("constants.pkl") or "/code/" in n for n in z.namelist())


def read_clip_file(path: str | Path) -> Mapping[str, torch.Tensor]:
    """The tensors of a CLIP weights file: OpenAI's TorchScript archive (``torch.jit.load``:
    TorchScript, not pickled code) or a state dict (``weights_only`` / safetensors)."""
    path = Path(path)
    if not path.is_file():
        raise GibenchError(f"{{pretrained=}}{path}: no such file", params=["pretrained"])
    if _is_torchscript(path):
        return torch.jit.load(str(path), map_location="cpu").state_dict()
    obj = load_checkpoint(path)
    return obj.get("state_dict", obj) if isinstance(obj.get("state_dict"), Mapping) else obj


_OPENAI_NAMES = (("conv1.", "patch_embed.proj."), ("ln_pre.", "norm_pre."),
                 ("ln_post.", "norm."), ("transformer.resblocks.", "blocks."),
                 (".ln_1.", ".norm1."), (".ln_2.", ".norm2."),
                 (".attn.in_proj_weight", ".attn.qkv.weight"),
                 (".attn.in_proj_bias", ".attn.qkv.bias"), (".attn.out_proj.", ".attn.proj."),
                 (".mlp.c_fc.", ".mlp.fc1."), (".mlp.c_proj.", ".mlp.fc2."))


def openai_to_ours(state: Mapping[str, torch.Tensor], prefix: str = "visual."
                   ) -> dict[str, torch.Tensor]:
    """OpenAI CLIP's image-encoder names (``visual.*``) → this module's ``encoder.*`` and
    ``proj.weight``; other keys (the text tower) are left out."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if not key.startswith(prefix):
            continue
        key = key[len(prefix):]
        if key == "proj":
            out["proj.weight"] = value.t().contiguous()
        elif key == "class_embedding":
            out["encoder.cls_token"] = value.reshape(1, 1, -1)
        elif key == "positional_embedding":
            out["encoder.pos_embed"] = value.unsqueeze(0)
        else:
            for old, new in _OPENAI_NAMES:
                key = key.replace(old, new)
            out[f"encoder.{key}"] = value
    return out


def timm_to_ours(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm's CLIP ViT names (its ``head`` is OpenAI's projection, with a zero bias) → ours."""
    out = {f"encoder.{k}": v for k, v in state.items() if not k.startswith("head.")}
    if "head.weight" in state:
        out["proj.weight"] = state["head.weight"]
    return out


def encoder_state(raw: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The encoder and projection weights of a CLIP file in any layout :func:`read_clip_file`
    reads (OpenAI's ``visual.*``, UnivFD's training checkpoint ``model.visual.*``, timm's)."""
    for prefix in ("visual.", "model.visual."):
        if any(k.startswith(prefix) for k in raw):
            return openai_to_ours(raw, prefix)
    return timm_to_ours(raw)


def _fit_positions(model: UnivFD, state: dict[str, torch.Tensor]) -> None:
    """Resample the position embedding of a file made at another input size (timm's bicubic
    resampling of the patch grid, class token kept)."""
    own = model.encoder.pos_embed
    pos = state.get("encoder.pos_embed")
    if pos is None or pos.shape == own.shape:
        return
    from timm.layers import resample_abs_pos_embed

    grid = model.encoder.patch_embed.grid_size
    state["encoder.pos_embed"] = resample_abs_pos_embed(pos, new_size=list(grid),
                                                        num_prefix_tokens=1)


def load_encoder(model: UnivFD, raw: Mapping[str, torch.Tensor], source: str) -> None:
    """Load CLIP weights into ``model``'s frozen encoder and projection (strict on them)."""
    state = encoder_state(raw)
    _fit_positions(model, state)
    own = {k: v for k, v in nn.Module.state_dict(model).items() if not k.startswith("fc.")}
    check_state(own, state, source)
    nn.Module.load_state_dict(model, {**state, **{f"fc.{k}": v for k, v in
                                                  model.fc.state_dict().items()}})
    model.encoder_source = source


def build_model(shape: ClipShape = VIT_L14, input_size: int = INPUT_SIZE,
                pretrained: str | Path | None = None) -> UnivFD:
    """UnivFD with an encoder of ``shape``; ``pretrained``: ``None`` (random), ``"openai"`` /
    ``"imagenet"`` (timm's hub copy of OpenAI's weights, ViT-L/14 only) or a local file."""
    model = UnivFD(shape, input_size)
    if pretrained is None:
        return model
    if str(pretrained) in ("openai", "imagenet"):
        if shape != VIT_L14:
            raise GibenchError("{pretrained=}openai: published weights exist for ViT-L/14 only",
                               params=["pretrained"])
        import timm

        try:
            hub = timm.create_model(HUB_NAME, pretrained=True, img_size=input_size)
        except (OSError, RuntimeError) as exc:
            raise GibenchError(f"cannot fetch CLIP ViT-L/14 ({HUB_NAME}): {exc}. Offline, "
                               "download OpenAI's ViT-L-14.pt elsewhere and pass its path with "
                               "{pretrained=}PATH", params=["pretrained"]) from exc
        load_encoder(model, hub.state_dict(), HUB_NAME)
        return model
    load_encoder(model, read_clip_file(pretrained), str(pretrained))
    return model


def build(pretrained: str | Path | None = None, input_size: int = INPUT_SIZE) -> UnivFD:
    """UnivFD with CLIP ViT-L/14 (see :func:`build_model`)."""
    return build_model(VIT_L14, input_size, pretrained)


def convert_state_dict(obj: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Their ``fc_weights.pth`` (``weight``/``bias`` of ``fc``) → ``fc.*``; their training
    checkpoint ``{'model': CLIPModel.state_dict()}`` → the encoder (from ``model.visual.*``),
    the projection and ``fc.*`` (the text tower dropped); our ``model.pt`` unchanged."""
    state = obj["model"] if isinstance(obj.get("model"), Mapping) else obj
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if set(state) == {"weight", "bias"}:
        return {"fc.weight": state["weight"], "fc.bias": state["bias"]}
    if any(k.startswith("model.visual.") for k in state):
        out = openai_to_ours(state, "model.visual.")
        out.update({k: v for k, v in state.items() if k.startswith("fc.")})
        return out
    return dict(state)


# --- preprocessing ------------------------------------------------------------------------------
def blur_jpeg(blur_prob: float = 0.5, sigma: tuple[float, float] = (0.0, 3.0),
              jpeg_prob: float = 0.5, quality: tuple[int, int] = (30, 100)):
    """Their ``data_augment``: Gaussian blur (σ uniform, per channel, scipy), then JPEG at a
    quality drawn from ``quality`` (both ends included)."""
    from scipy.ndimage import gaussian_filter

    def op(img: Image.Image, rng: random.Random) -> Image.Image:
        if rng.random() < blur_prob:
            s = rng.uniform(*sigma)
            arr = np.asarray(img, dtype=np.uint8).copy()
            for c in range(3):
                gaussian_filter(arr[:, :, c], output=arr[:, :, c], sigma=s)
            img = Image.fromarray(arr)
        if rng.random() < jpeg_prob:
            buffer = io.BytesIO()
            img.save(buffer, format="JPEG", quality=rng.randint(*quality))
            buffer.seek(0)
            img = Image.open(buffer).convert("RGB")
        return img

    return op


def make_train(input_size: int, load_size: int | None):
    """Shorter side to ``load_size``, blur/JPEG, random crop, flip."""
    return compose(resize_shorter(load_size), blur_jpeg(), random_crop(input_size, True),
                   hflip(0.5))


def make_eval(input_size: int, load_size: int | None):
    """``CenterCrop(input_size)`` at native resolution (``validate.py``)."""
    return compose(centre_crop(input_size))


SPEC = DetectorSpec(
    name=NAME,
    paper="Ojha, Li, Lee, Towards Universal Fake Image Detectors that Generalize Across "
          "Generative Models, CVPR 2023",
    year=2023, venue="CVPR",
    build=build,
    preprocess=Preprocess(
        input_size=INPUT_SIZE, load_size=LOAD_SIZE, mean=CLIP_MEAN, std=CLIP_STD,
        make_train=make_train, make_eval=make_eval, unit_first=True,
        description="train: shorter side 256, blur/JPEG (p 0.5 each), random crop 224, flip; "
                    "eval: centre crop 224 at native size (validate.py); CLIP normalisation"),
    recipe=Recipe(optimizer="adamw", lr=1e-4, betas=(0.9, 0.999), epochs=100, batch_size=256,
                  schedule="plateau", patience=5, min_lr=1e-6, from_pretrained=True,
                  notes="UnivFD --fix_backbone: linear probe on frozen CLIP ViT-L/14, AdamW lr "
                        "1e-4, batch 256, early stopping (patience 5, lr ÷ 10, stop < 1e-6)"),
    convert_state_dict=convert_state_dict,
    aliases=("ojha2023", "universalfakedetect", "clip-linear"),
    description="linear probe (fc 768 → 1) on frozen CLIP ViT-L/14 image features",
    mini_notes="offline there are no CLIP weights: on mini the frozen ViT-L/14 is random "
               "(64-px input, 4×4 patches), so only the probe's mechanics are shown — the "
               "numbers say nothing of UnivFD; with --pretrained PATH (OpenAI's ViT-L-14.pt) "
               "the probe trains on real CLIP features",
    parameters=PARAMETERS,
)


@hookimpl
def gibench_add_detectors():
    return [SPEC]
