"""The embedded mini dataset: layout, split by photograph, determinism, distinct traces."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gibench.builtin import mini
from gibench.data.layout import index_subset
from gibench.registry import get_registry


@pytest.fixture(scope="module")
def mini_root(tmp_path_factory):
    return mini.build_mini(tmp_path_factory.mktemp("mini") / "root", seed=0, progress=False)


def _source(path: str) -> str:
    """``val/ai/latent-a_chelsea_00012.png`` and ``val/nature/chelsea_00012.png`` → chelsea."""
    name = path.rsplit("/", 1)[-1].rsplit("_", 1)[0]
    return name.removeprefix("latent-a_")


def test_every_subset_is_read_by_the_genimage_loader(mini_root):
    subsets = get_registry().subsets("mini")
    assert [s.name for s in subsets] == [g.name for g in mini.GENERATORS]
    counts = set()
    for spec in subsets:
        for split in ("train", "val"):
            index = index_subset(mini_root, spec, split)
            assert index.n_real == index.n_fake > 100
            counts.add((split, index.n_real))
    assert len(counts) == 2  # the same real crops in every subset


def test_split_is_by_source_photograph(mini_root):
    spec = get_registry().subset("latent-a")
    train = {_source(p) for p in index_subset(mini_root, spec, "train").paths}
    val = {_source(p) for p in index_subset(mini_root, spec, "val").paths}
    assert not train & val
    assert val == set(mini.VAL_GROUPS)
    record = json.loads((mini_root / "MINI.json").read_text())
    assert sorted(val) == record["sources"]["val"]


def test_fakes_are_the_same_crops_through_the_generator(mini_root):
    from PIL import Image

    real = np.asarray(Image.open(next((mini_root / "latent-a" / "val" / "nature").iterdir())))
    name = next((mini_root / "latent-a" / "val" / "nature").iterdir()).name
    fake = np.asarray(Image.open(mini_root / "latent-a" / "val" / "ai" / f"latent-a_{name}"))
    assert real.shape == fake.shape == (mini.CROP, mini.CROP, 3)
    diff = np.abs(real.astype(int) - fake.astype(int)).mean()
    assert diff > 1 and diff < 30  # same content, visibly processed


def test_real_crops_are_deterministic():
    a, b = mini.real_crops(0), mini.real_crops(0)
    assert [s for s, _ in a["train"]] == [s for s, _ in b["train"]]
    assert all(np.array_equal(x, y) for (_, x), (_, y) in zip(a["val"], b["val"], strict=True))
    c = mini.real_crops(1)
    assert any(not np.array_equal(x, y) for (_, x), (_, y) in zip(a["val"], c["val"],
                                                                    strict=False))


@pytest.fixture(scope="module")
def batch():
    crops = mini.real_crops(0)["val"][:32]
    return torch.from_numpy(np.stack([c for _, c in crops])).permute(0, 3, 1, 2).float() / 255


def _fake(gen, batch):
    return gen.fn(batch, torch.Generator().manual_seed(gen.seed)).clamp(0, 1)


def test_generators_are_deterministic_and_distinct(batch):
    outs = {}
    for gen in mini.GENERATORS:
        first, again = _fake(gen, batch), _fake(gen, batch)
        assert torch.equal(first, again), gen.name
        assert (first - batch).abs().mean() > 0.003, f"{gen.name} leaves no trace"
        outs[gen.name] = first
    names = list(outs)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if {a, b} != {"latent-a", "latent-b"}:
                assert (outs[a] - outs[b]).abs().mean() > 0.005, (a, b)


def test_latent_a_and_b_are_near_identical(batch):
    outs = {g.name: _fake(g, batch) for g in mini.GENERATORS}
    pair = (outs["latent-a"] - outs["latent-b"]).abs().mean()
    others = min((outs["latent-a"] - outs[n]).abs().mean() for n in outs
                 if n not in ("latent-a", "latent-b"))
    assert pair < others / 2


def _power_at(x: torch.Tensor, period: int) -> float:
    spec = torch.fft.fft2(x - x.mean(dim=(-2, -1), keepdim=True)).abs() ** 2
    k = x.shape[-1] // period
    return float(spec[..., 0, k].mean() + spec[..., k, 0].mean())


def test_documented_traces_show_in_the_spectrum(batch):
    outs = {g.name: _fake(g, batch) for g in mini.GENERATORS}
    # the latent decoder's 8-periodic grid and the transposed convolution's checkerboard
    assert _power_at(outs["latent-a"], 8) > 3 * _power_at(batch, 8)
    nyquist = lambda x: float((torch.fft.fft2(x).abs() ** 2)[..., 36, 36].mean())  # noqa: E731
    assert nyquist(outs["upconv"]) > 10 * nyquist(batch)


def test_ensure_mini_builds_once_and_rebuilds_a_stale_cache(tmp_path, monkeypatch):
    calls = []

    def counting_build(root, seed=0, progress=True):
        calls.append(root)
        root.mkdir(parents=True, exist_ok=True)
        (root / "MINI.json").write_text(json.dumps({"fingerprint": mini.fingerprint(seed)}))
        return root

    monkeypatch.setattr(mini, "build_mini", counting_build)
    root = mini.ensure_mini(seed=0, cache_dir=tmp_path, progress=False)
    assert mini.ensure_mini(seed=0, cache_dir=tmp_path, progress=False) == root
    assert len(calls) == 1
    (root / "MINI.json").write_text(json.dumps({"fingerprint": "stale"}))
    mini.ensure_mini(seed=0, cache_dir=tmp_path, progress=False)
    assert len(calls) == 2
    assert mini.ensure_mini(seed=1, cache_dir=tmp_path, progress=False) != root
