"""Loading backbone weights and mapping checkpoint layouts, shared by the baselines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from torch import nn

from gibench.errors import GibenchError
from gibench.outputs import check_state, load_checkpoint


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
            "--pretrained PATH."
        ) from exc
