"""Atomic writers, safe checkpoint loading and strict state checks in ``gibench.outputs``."""

from __future__ import annotations

import collections
import json
import pickle

import pandas as pd
import pytest
import torch

from gibench import outputs
from gibench.errors import GibenchError
from gibench.outputs import (
    atomic_torch_save,
    atomic_write_csv,
    atomic_write_json,
    atomic_write_text,
    check_state,
    load_checkpoint,
    load_state_into,
    sha256_file,
)

# --------------------------------------------------------------------------- atomic writers


def _only(folder, name):
    assert sorted(p.name for p in folder.iterdir()) == [name]


def test_atomic_write_text(tmp_path):
    path = tmp_path / "sub" / "a.txt"  # the parent is created
    atomic_write_text(path, "héllo\nworld\n")
    assert path.read_text() == "héllo\nworld\n"
    _only(path.parent, "a.txt")


def test_atomic_write_text_replaces_previous(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old contents, longer than the new ones")
    atomic_write_text(path, "new")
    assert path.read_text() == "new"
    _only(tmp_path, "a.txt")


def test_atomic_write_json(tmp_path):
    path = tmp_path / "m.json"
    obj = {"auc": 0.5, "names": ["a", "b"], "path": tmp_path}
    atomic_write_json(path, obj)
    text = path.read_text()
    assert text.endswith("\n")
    assert json.loads(text) == {"auc": 0.5, "names": ["a", "b"], "path": str(tmp_path)}
    _only(tmp_path, "m.json")


def test_atomic_write_csv(tmp_path):
    path = tmp_path / "t.csv"
    frame = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    atomic_write_csv(path, frame)
    assert path.read_bytes() == b"x,y\n1,a\n2,b\n3,c\n"
    pd.testing.assert_frame_equal(pd.read_csv(path), frame)
    _only(tmp_path, "t.csv")


def test_atomic_torch_save(tmp_path):
    path = tmp_path / "model.pt"
    state = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.ones(2)}
    atomic_torch_save(state, path)
    back = torch.load(path, weights_only=True)
    assert back.keys() == state.keys()
    for k in state:
        assert torch.equal(back[k], state[k])
    _only(tmp_path, "model.pt")
    assert len(sha256_file(path)) == 64


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_failed_write_keeps_previous_file_and_leaves_no_temp(tmp_path, exc):
    path = tmp_path / "a.txt"
    path.write_text("previous")

    def writer(fh):
        fh.write("half of the new con")
        raise exc("boom")

    with pytest.raises(exc, match="boom"):
        outputs._atomic_write(path, writer)
    assert path.read_text() == "previous"
    _only(tmp_path, "a.txt")


def test_failed_write_with_no_previous_file_leaves_nothing(tmp_path):
    path = tmp_path / "a.bin"

    def writer(fh):
        fh.write(b"partial")
        raise ValueError("nope")

    with pytest.raises(ValueError):
        outputs._atomic_write(path, writer, mode="wb")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- load_checkpoint

_UNPICKLED = []


def _mark_unpickled(*args):
    _UNPICKLED.append(args)
    return args


class CarriesCode:
    """Unpickling this calls a function: weights_only must refuse it."""

    def __reduce__(self):
        return (_mark_unpickled, ("ran",))


class MyOrderedDict(collections.OrderedDict):
    pass


class Plain:
    def __init__(self):
        self.w = torch.zeros(2)


def test_load_checkpoint_plain_state_dict(tmp_path):
    path = tmp_path / "s.pt"
    state = collections.OrderedDict(w=torch.randn(3, 4), n=torch.tensor(7))
    torch.save(state, path)
    back = load_checkpoint(path)
    assert list(back) == ["w", "n"]
    assert torch.equal(back["w"], state["w"])
    assert torch.equal(back["n"], state["n"])


def test_load_checkpoint_accepts_nested_plain_containers(tmp_path):
    path = tmp_path / "s.pt"
    torch.save({"model": {"w": torch.ones(2)}, "total_steps": 5, "name": "x"}, path)
    back = load_checkpoint(path)
    assert back["total_steps"] == 5
    assert torch.equal(back["model"]["w"], torch.ones(2))


@pytest.mark.parametrize("payload", [
    lambda: {"model": CarriesCode()},
    lambda: {"model": MyOrderedDict(w=torch.zeros(1))},
    lambda: Plain(),
], ids=["reduce-callable", "ordereddict-subclass", "custom-object"])
def test_load_checkpoint_refuses_pickled_code(tmp_path, payload):
    path = tmp_path / "evil.pt"
    torch.save(payload(), path)
    _UNPICKLED.clear()
    with pytest.raises(GibenchError) as info:
        load_checkpoint(path)
    msg = str(info.value)
    assert str(path) in msg
    assert "weights_only" in msg
    assert _UNPICKLED == []  # nothing in the file was executed
    assert isinstance(info.value.__cause__, pickle.UnpicklingError)


def test_load_checkpoint_reads_timm_checkpoint_saver_files(tmp_path):
    """timm's train.py saves ``{'state_dict', 'args': argparse.Namespace, ...}`` through its
    ``CheckpointSaver``; plain ``weights_only`` refuses the Namespace."""
    import argparse

    from timm.utils import CheckpointSaver

    model = torch.nn.Linear(3, 2)
    args = argparse.Namespace(model="resnet50", num_classes=2, lr=0.05, device="cuda:0",
                              aa="rand-m9-mstd0.5-inc1", crop_pct=None, amp=True)
    saver = CheckpointSaver(model, torch.optim.SGD(model.parameters(), lr=0.05), args=args,
                            checkpoint_dir=str(tmp_path), recovery_dir=str(tmp_path))
    saver.save_checkpoint(epoch=0, metric=51.0)
    with pytest.raises(pickle.UnpicklingError, match="argparse.Namespace"):
        torch.load(tmp_path / "last.pth.tar", weights_only=True)  # what was refused before
    before = torch.serialization.get_safe_globals()
    for name in ("model_best.pth.tar", "last.pth.tar"):
        back = load_checkpoint(tmp_path / name)
        assert isinstance(back["args"], argparse.Namespace) and vars(back["args"]) == vars(args)
        assert torch.equal(back["state_dict"]["weight"], model.weight.detach())
        assert back["arch"] == "resnet50" and back["metric"] == 51.0
    assert torch.serialization.get_safe_globals() == before  # allowed for the load only


def test_load_checkpoint_reads_a_swin_transformer_config_without_yacs(tmp_path, monkeypatch):
    """Swin-Transformer's ``save_checkpoint`` stores its yacs ``CfgNode`` (a dict subclass with
    its flags in ``__dict__``, a set among them): it comes back as an OrderedDict, and no code
    of the class runs (it may not even be installed)."""
    import sys
    import types

    created = []

    class CfgNode(dict):  # what yacs.config.CfgNode looks like to pickle
        def __init__(self, init=None):
            super().__init__(init or {})
            created.append(self)
            self.__dict__.update({"__immutable__": True, "__deprecated_keys__": set(),
                                  "__renamed_keys__": {}, "__new_allowed__": False})

        def __getattr__(self, name):
            if name in self:
                return self[name]
            raise AttributeError(name)

        def __setstate__(self, state):
            created.append("setstate ran")

    CfgNode.__module__, CfgNode.__qualname__ = "yacs.config", "CfgNode"
    module = types.ModuleType("yacs.config")
    module.CfgNode = CfgNode
    monkeypatch.setitem(sys.modules, "yacs", types.ModuleType("yacs"))
    monkeypatch.setitem(sys.modules, "yacs.config", module)
    config = CfgNode({"MODEL": CfgNode({"NUM_CLASSES": 1000, "TYPE": "swin"}),
                      "DATA": CfgNode({"IMG_SIZE": 224, "INTERPOLATION": "bicubic"})})
    path = tmp_path / "ckpt_epoch_299.pth"
    torch.save({"model": {"head.weight": torch.ones(2, 3)}, "epoch": 299, "config": config}, path)
    monkeypatch.delitem(sys.modules, "yacs.config")  # yacs not installed where we load
    created.clear()
    back = load_checkpoint(path)
    assert created == []
    assert type(back["config"]) is collections.OrderedDict
    assert back["config"]["MODEL"]["NUM_CLASSES"] == 1000
    assert back["config"]["DATA"]["INTERPOLATION"] == "bicubic"
    assert torch.equal(back["model"]["head.weight"], torch.ones(2, 3))


def test_load_checkpoint_allowance_admits_no_code(tmp_path):
    """The Namespace is allowed, not what it holds: a callable inside is still refused."""
    import argparse

    path = tmp_path / "evil.pth.tar"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "args": argparse.Namespace(x=CarriesCode())},
               path)
    _UNPICKLED.clear()
    with pytest.raises(GibenchError, match="weights_only"):
        load_checkpoint(path)
    assert _UNPICKLED == []


def test_load_checkpoint_missing_file(tmp_path):
    path = tmp_path / "missing.pt"
    with pytest.raises(GibenchError, match="not found") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_load_checkpoint_folder_is_not_a_file(tmp_path):
    with pytest.raises(GibenchError, match="not found"):
        load_checkpoint(tmp_path)


def test_load_checkpoint_refuses_a_list(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(1), torch.ones(1)], path)
    with pytest.raises(GibenchError, match="list") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("kind", ["truncated", "empty", "junk"])
def test_load_checkpoint_unreadable_file(tmp_path, kind):
    path = tmp_path / f"{kind}.pt"
    if kind == "truncated":
        torch.save({"w": torch.zeros(1000)}, path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(GibenchError) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_load_checkpoint_safetensors(tmp_path):
    import safetensors.torch as st

    path = tmp_path / "w.safetensors"
    st.save_file({"w": torch.arange(4.0)}, str(path))
    back = load_checkpoint(path)
    assert torch.equal(back["w"], torch.arange(4.0))


# --------------------------------------------------------------------------- check_state


def _own():
    return {"a.weight": torch.zeros(4, 3), "a.bias": torch.zeros(4), "b.weight": torch.zeros(2, 4)}


def test_check_state_accepts_an_exact_match():
    state = {k: torch.ones_like(v) for k, v in _own().items()}
    assert check_state(_own(), state, "ok.pt") is None


def test_check_state_names_missing_keys():
    state = _own()
    del state["a.bias"]
    with pytest.raises(GibenchError) as info:
        check_state(_own(), state, "src.pt")
    msg = str(info.value)
    assert "src.pt" in msg
    assert "missing keys: a.bias" in msg
    assert "unexpected" not in msg and "shape" not in msg


def test_check_state_names_unexpected_keys():
    state = _own()
    state["c.weight"] = torch.zeros(1)
    with pytest.raises(GibenchError) as info:
        check_state(_own(), state, "src.pt")
    msg = str(info.value)
    assert "unexpected keys: c.weight" in msg
    assert "missing" not in msg


def test_check_state_names_shape_mismatches():
    state = _own()
    state["b.weight"] = torch.zeros(1, 4)
    with pytest.raises(GibenchError) as info:
        check_state(_own(), state, "src.pt")
    msg = str(info.value)
    assert "b.weight: checkpoint (1, 4) vs model (2, 4)" in msg
    assert "a.weight" not in msg


def test_check_state_reports_all_three_kinds_together():
    state = _own()
    del state["a.weight"]
    state["extra"] = torch.zeros(1)
    state["a.bias"] = torch.zeros(5)
    with pytest.raises(GibenchError) as info:
        check_state(_own(), state, "src.pt")
    msg = str(info.value)
    assert "missing keys: a.weight" in msg
    assert "unexpected keys: extra" in msg
    assert "a.bias: checkpoint (5,) vs model (4,)" in msg


def test_check_state_truncates_long_lists():
    own = {f"k{i}": torch.zeros(1) for i in range(20)}
    with pytest.raises(GibenchError) as info:
        check_state(own, {}, "src.pt")
    msg = str(info.value)
    assert "(20 in all)" in msg
    assert "k7" in msg and "k8" not in msg


def test_load_state_into_is_strict():
    model = torch.nn.Linear(3, 2)
    good = {"weight": torch.full((2, 3), 0.5), "bias": torch.tensor([1.0, -1.0])}
    load_state_into(model, good, "good.pt")
    assert torch.equal(model.weight.detach(), good["weight"])
    assert torch.equal(model.bias.detach(), good["bias"])
    with pytest.raises(GibenchError, match="bias"):
        load_state_into(torch.nn.Linear(3, 2), {"weight": torch.zeros(2, 3)}, "bad.pt")
    with pytest.raises(GibenchError, match=r"weight: checkpoint \(1, 3\)"):
        load_state_into(torch.nn.Linear(3, 2),
                        {"weight": torch.zeros(1, 3), "bias": torch.zeros(2)}, "bad.pt")
