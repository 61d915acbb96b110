"""Writing run outputs atomically, and loading checkpoints safely.

Every file is written to a temporary name in the same folder and renamed into place, so an
interrupted run never leaves a half-written CSV, JSON or checkpoint behind.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import json
import os
import pickle
import re
import stat
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from gibench.errors import GibenchError


def _atomic_write(path: Path, write: Callable[[Any], None], mode: str = "w") -> None:
    """Text is UTF-8; a character that UTF-8 cannot hold (a file name's byte that is not UTF-8,
    which Python carries as a lone surrogate) is written as its escape (``\\udce9``), never
    failing the write after the work is done."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    text = {} if "b" in mode else {"encoding": "utf-8", "errors": "backslashreplace"}
    try:
        os.chmod(fd, 0o666 & ~current_umask())  # mkstemp's 0600 is not what open() gives
        with os.fdopen(fd, mode, **text) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def current_umask() -> int:
    """The process's umask (read from ``/proc`` where it can be, so that no thread sees it
    changed; else set and restored at once)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def is_file(path: Path) -> bool:
    """Whether ``path`` is a file (links followed); ``False`` for a name the OS refuses (too
    long, a NUL byte), where :meth:`Path.is_file` raises."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def _stat_or_refuse(path: Path, param: str) -> os.stat_result | None:
    """``path``'s stat, ``None`` when nothing is there; a path the OS refuses (too long, through
    a file, a link loop) is a :class:`GibenchError` naming it as parameter ``param``."""
    try:
        return path.stat()
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise GibenchError(f"{{{param}=}}{path}: {reason}", params=[param]) from exc


def _check_parent(path: Path, param: str, itself: bool = False) -> None:
    """The nearest existing folder above ``path`` (or ``path`` itself, with ``itself``) is a
    folder this process may write in."""
    candidates = [path.absolute()] if itself else []
    for parent in [*candidates, *path.absolute().parents]:
        info = _stat_or_refuse(parent, param)
        if info is None:
            continue
        if not stat.S_ISDIR(info.st_mode):
            raise GibenchError(f"{{{param}=}}{path}: {parent} is a file, not a folder",
                               params=[param])
        if not os.access(parent, os.W_OK | os.X_OK):
            raise GibenchError(f"{{{param}=}}{path}: cannot write in {parent} (permission "
                               "denied)", params=[param])
        return


def check_output_file(path: Path, param: str = "out") -> None:
    """Refuse, before any work, an output file that could not be written at the end: a folder
    (or anything but a file) at ``path``, a file where a folder above it should be, a folder
    that may not be written, a name the OS refuses. ``param`` names the parameter that gave
    it."""
    path = Path(path)
    info = _stat_or_refuse(path, param)
    if info is not None and not stat.S_ISREG(info.st_mode):
        what = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise GibenchError(f"{{{param}=}}{path} is {what}; give the path of a file to write",
                           params=[param])
    _check_parent(path, param)


def check_output_dir(path: Path, param: str = "out") -> None:
    """Refuse, before any work, an output folder that could not be made: a file at ``path`` or
    above it, a folder that may not be written, a name the OS refuses."""
    path = Path(path)
    info = _stat_or_refuse(path, param)
    if info is not None and not stat.S_ISDIR(info.st_mode):
        raise GibenchError(f"{{{param}=}}{path} is a file, not a folder: give a folder for the "
                           "run's files", params=[param])
    _check_parent(path, param, itself=True)


def atomic_write_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda fh: fh.write(text))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def atomic_write_csv(path: Path, frame: pd.DataFrame) -> None:
    _atomic_write(path, lambda fh: frame.to_csv(fh, index=False, lineterminator="\n"))


def atomic_torch_save(obj: Any, path: Path) -> None:
    _atomic_write(path, lambda fh: torch.save(obj, fh), mode="wb")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message without terminal colour codes, or its type."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


#: The only globals beyond torch's ``weights_only`` defaults that a checkpoint may name: the
#: configuration objects that training scripts save beside the weights, which unpickle to plain
#: data (their state is set attribute by attribute; no method of theirs runs).
#: ``argparse.Namespace``: timm's ``CheckpointSaver`` (``model_best.pth.tar``, ``last.pth.tar``;
#: timm loads its own files with the same allowance) and DeiT's ``main.py`` save their ``args``.
#: ``yacs.config.CfgNode``: Swin-Transformer's ``save_checkpoint`` saves its ``config``, a dict
#: subclass; it is read as an ``OrderedDict`` with the node's flags as attributes, so yacs need
#: not be installed and none of its code runs.
CHECKPOINT_SAFE_GLOBALS: list[Any] = [
    argparse.Namespace,
    (collections.OrderedDict, "yacs.config.CfgNode"),
]


def load_checkpoint(path: Path | str) -> Mapping[str, Any]:
    """Load a checkpoint file without executing code: ``weights_only=True`` or safetensors.

    Training checkpoints load too: ``weights_only`` is widened by
    :data:`CHECKPOINT_SAFE_GLOBALS` only (harmless configuration objects), for this load only.
    A pickle that carries code (any other class or callable) is refused with a message naming
    the file.
    """
    path = Path(path)
    if not is_file(path):
        raise GibenchError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file  # optional dependency

        try:
            return load_file(str(path))
        except Exception as exc:  # SafetensorError: a bad header, bad JSON, an empty file
            raise GibenchError(f"cannot read checkpoint {path}: not a valid safetensors file "
                               f"({type(exc).__name__}: {_first_line(exc)})") from exc
    safe_globals = getattr(torch.serialization, "safe_globals", None)  # torch >= 2.5
    allowance = (safe_globals(CHECKPOINT_SAFE_GLOBALS) if safe_globals is not None
                 else contextlib.nullcontext())
    try:
        with allowance:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise GibenchError(
            f"refusing to load {path}: it is not a plain state dict (weights_only=True "
            f"rejected it: {_first_line(exc)}). gibench never unpickles code from a "
            "checkpoint; re-save the weights as a state dict or safetensors."
        ) from exc
    except (RuntimeError, OSError, EOFError) as exc:
        raise GibenchError(f"cannot read checkpoint {path}: {_first_line(exc)}") from exc
    except Exception as exc:  # torch's unpickler on bytes that are no pickle: KeyError: 101...
        raise GibenchError(f"cannot read checkpoint {path}: not a PyTorch checkpoint nor "
                           f"safetensors ({type(exc).__name__}: {_first_line(exc)})") from exc
    if not isinstance(obj, Mapping):
        raise GibenchError(f"checkpoint {path} holds a {type(obj).__name__}, not a state dict")
    return obj


def check_state(own: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor],
                source: str) -> None:
    """Raise unless ``state`` has exactly ``own``'s keys and shapes, naming every mismatch."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if not (missing or unexpected or shapes):
        return

    def show(items: list[str]) -> str:
        return ", ".join(items[:8]) + (f" … ({len(items)} in all)" if len(items) > 8 else "")

    parts = [f"{label}: {show(items)}" for label, items in
             (("missing keys", missing), ("unexpected keys", unexpected),
              ("shape mismatches", shapes)) if items]
    raise GibenchError(f"checkpoint {source} does not fit the architecture; " + "; ".join(parts))


def load_state_into(model: torch.nn.Module, state: Mapping[str, torch.Tensor],
                    source: str) -> None:
    """Strictly load ``state`` into ``model``; a mismatch names missing/unexpected keys."""
    check_state(model.state_dict(), state, source)
    model.load_state_dict(state, strict=True)
