"""Loading backbone weights and mapping checkpoint layouts, shared by the baselines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from torch import nn

from gibench.api import GibenchError, check_state, load_checkpoint


def strip_prefixes(state: Mapping[str, torch.Tensor], prefixes: Iterable[str]
                   ) -> dict[str, torch.Tensor]:
    """Remove wrapper prefixes such as DataParallel's ``module.`` from every key."""
    out = {}
    for key, value in state.items():
        for prefix in prefixes:
            if key.startswith(prefix):
                key = key[len(prefix):]
        out[key] = value
    return out


def load_backbone(model: nn.Module, path: str | Path,
                  skip_prefixes: Iterable[str] = ()) -> None:
    """Load a local backbone state dict (e.g. torchvision's ImageNet file) into ``model``,
    ignoring the classifier keys in ``skip_prefixes`` on both sides; any other mismatch is an
    error naming the keys."""
    skip = tuple(skip_prefixes)
    raw = load_checkpoint(path)
    state = strip_prefixes(raw.get("state_dict", raw), ("module.",))
    state = {k: v for k, v in state.items() if not k.startswith(skip)}
    own = {k: v for k, v in model.state_dict().items() if not k.startswith(skip)}
    check_state(own, state, str(path))
    model.load_state_dict(state, strict=False)


def download_or_explain(fetch, filename: str, what: str):
    """Call ``fetch()`` (a torchvision/timm download); offline, say which file to place where."""
    try:
        return fetch()
    except (OSError, RuntimeError) as exc:  # URLError is an OSError
        import torch.hub

        cache = Path(torch.hub.get_dir()) / "checkpoints"
        raise GibenchError(
            f"cannot fetch the {what} ({type(exc).__name__}: {exc}). Offline, download "
            f"{filename} elsewhere and either place it in {cache}/ or pass its path with "
            "{pretrained=}PATH.", params=["pretrained"]
        ) from exc


def two_class_to_logit(state: Mapping[str, torch.Tensor], weight: str, bias: str,
                       fake_index: int = 1) -> dict[str, torch.Tensor]:
    """Replace a two-class softmax head by the equivalent single logit.

    ``softmax([z0, z1])[f] == sigmoid(z_f - z_r)``, so ``W[f] - W[r]`` and ``b[f] - b[r]`` give
    a logit whose sigmoid is the original "fake" probability. ``fake_index`` is the class index
    of fake images in the original training: 1 where the authors labelled fake = 1, 0 where
    they trained with an ImageFolder over GenImage's ``ai``/``nature`` (sorted: ai = 0).
    A one-logit head is returned unchanged.
    """
    out = dict(state)
    real_index = 1 - fake_index
    if weight in out and out[weight].shape[0] == 2:
        out[weight] = (out[weight][fake_index] - out[weight][real_index]).unsqueeze(0)
        if bias in out:
            out[bias] = (out[bias][fake_index] - out[bias][real_index]).unsqueeze(0)
    return out


def torchvision_resnet(arch: str, pretrained: str | Path | None) -> nn.Module:
    """A torchvision ResNet (``resnet34``, ``resnet50``...) with a fresh one-logit ``fc``.

    ``pretrained``: ``"imagenet"`` downloads torchvision's IMAGENET1K_V1 weights (offline: an
    error naming the file to place), a path loads a local backbone state dict strictly
    (classifier excepted), ``None`` initialises at random with the last BatchNorm of every
    residual block zero-initialised (Goyal et al. 2017), so it trains from scratch quickly.
    """
    import torchvision

    builder = getattr(torchvision.models, arch)
    if pretrained == "imagenet":
        weights = torchvision.models.get_model_weights(arch).IMAGENET1K_V1
        model = download_or_explain(lambda: builder(weights=weights),
                                    weights.url.rsplit("/", 1)[-1],
                                    f"ImageNet weights of torchvision's {arch}")
    else:
        model = builder(weights=None, zero_init_residual=pretrained is None)
        if pretrained is not None:
            load_backbone(model, pretrained, skip_prefixes=("fc.",))
    model.fc = nn.Linear(model.fc.in_features, 1)
    return model
