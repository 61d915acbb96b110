"""Shared fixtures: an isolated cache, a toy dataset and a toy plugin installed as a real
distribution (a ``.dist-info`` with an entry point on ``sys.path``, as pip would leave it)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gibench.registry import clear_registry_cache

TOY_PLUGIN = textwrap.dedent('''
    """A toy plugin for the tests: a tiny CNN detector and a two-subset dataset."""
    import torch
    from torch import nn

    import gibench
    from gibench.specs import DetectorSpec, Preprocess, Recipe, SubsetSpec


    def to_tensor(img, rng):
        import numpy as np
        arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
        return torch.from_numpy(arr.transpose(2, 0, 1).copy())


    def make(input_size, load_size):
        def transform(img, rng):
            return to_tensor(img.resize((input_size, input_size)), rng)
        return transform


    def build(pretrained=None, input_size=16):
        return nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 1))


    def convert(obj):
        return dict(obj.get("model", obj))


    SPEC = DetectorSpec(
        name="tinynet", paper="toy", build=build,
        preprocess=Preprocess(16, None, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), make, make),
        recipe=Recipe(optimizer="adam", lr=1e-2, epochs=8, batch_size=8),
        convert_state_dict=convert, aliases=("tiny",))


    @gibench.hookimpl
    def gibench_add_detectors():
        return [SPEC]


    @gibench.hookimpl
    def gibench_add_subsets():
        return [SubsetSpec("toy-a", "Toy A", "toy", "toy", ("toy_a",)),
                SubsetSpec("toy-b", "Toy B", "toy", "toy", ("nested/toy_b", "toy_b"))]
''')


def install_fake_distribution(site: Path, dist: str, version: str,
                              modules: dict[str, str], entry_points: dict[str, str]) -> None:
    """Write modules and a ``.dist-info`` (METADATA + entry_points.txt) into ``site``. A module
    of the same name that an earlier test imported is forgotten, so this one is imported."""
    import importlib
    import sys

    for name, source in modules.items():
        (site / f"{name}.py").write_text(source)
        sys.modules.pop(name, None)
    importlib.invalidate_caches()
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = ["[gibench]"] + [f"{k} = {v}" for k, v in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    """Every test gets a fresh registry and a private cache, and no disabled plugins."""
    monkeypatch.setenv("GIBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("GIBENCH_DISABLE_PLUGINS", raising=False)
    clear_registry_cache()
    yield
    clear_registry_cache()


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for a module of tiny forward/backward passes: on a shared 2-core
    machine, two OpenMP threads descheduled in turn made such steps 10-30x slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def offline_torchvision(monkeypatch) -> str:
    """torchvision weight downloads fail as offline (nothing is fetched); returns the hub dir
    that an error message should name."""
    import torch.hub
    import torchvision.models._api as tv_api

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(tv_api, "load_state_dict_from_url", offline)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: "/nonexistent-hub")
    return "/nonexistent-hub/checkpoints"


def write_backbone_file(tmp_path: Path, arch: str, seed: int, drop: str | None = None,
                        prefix: str = ""):
    """A torchvision ``arch`` with its 1000-class fc, saved as torchvision's ImageNet files are
    (optionally without key ``drop``, keys prefixed): returns (that model, the file)."""
    import torch
    import torchvision

    torch.manual_seed(seed)
    ref = getattr(torchvision.models, arch)()
    state = ref.state_dict()
    if drop:
        del state[drop]
    path = tmp_path / f"{arch}-backbone.pth"
    torch.save({f"{prefix}{k}": v for k, v in state.items()}, path)
    return ref, path


def install_toy_plugin(folder: Path, monkeypatch) -> Path:
    """Install the toy plugin (distribution ``gibench-toy`` 1.2.3, entry point ``toy``) in
    ``folder``/site, on ``sys.path`` through ``monkeypatch``; returns the site folder."""
    site = folder / "site"
    site.mkdir()
    install_fake_distribution(site, "gibench-toy", "1.2.3", {"gibench_toy": TOY_PLUGIN},
                              {"toy": "gibench_toy"})
    monkeypatch.syspath_prepend(str(site))
    clear_registry_cache()
    return site


@pytest.fixture
def toy_plugin(tmp_path, monkeypatch) -> Path:
    """Install the toy plugin (:func:`install_toy_plugin`) for one test."""
    return install_toy_plugin(tmp_path, monkeypatch)


def _toy_image(rng: np.random.Generator, fake: bool, size: int = 16) -> Image.Image:
    base = rng.integers(60, 196, size=(1, 1, 3))
    arr = base + rng.normal(0, 6, size=(size, size, 3))
    if fake:  # a strong period-2 checkerboard: trivially learnable
        yy, xx = np.mgrid[:size, :size]
        arr = arr + 50 * ((yy + xx) % 2 == 0)[:, :, None]
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def write_toy_tree(root: Path, n: int = 24, seed: int = 0, name=None) -> Path:
    """``toy_a`` (flat) and ``nested/toy_b`` (nested), train/val × ai/nature, n PNGs each,
    named ``name(label, i)`` (default ``ai_000.png``)."""
    name = name or (lambda label, i: f"{label}_{i:03d}.png")
    rng = np.random.default_rng(seed)
    for folder in ("toy_a", "nested/toy_b"):
        for split in ("train", "val"):
            for label in ("ai", "nature"):
                d = root / folder / split / label
                d.mkdir(parents=True)
                for i in range(n):
                    _toy_image(rng, label == "ai").save(d / name(label, i))
    return root


@pytest.fixture
def toy_root(tmp_path) -> Path:
    return write_toy_tree(tmp_path / "toydata")
