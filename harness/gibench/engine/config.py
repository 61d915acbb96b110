"""A run's configuration, and the configuration files that hold one.

A configuration file holds what ``run.json``'s ``config`` holds (:meth:`RunConfig.to_dict`):
the fields of :class:`RunConfig` by their Python names, paths as strings (relative ones to the
current directory, as on the command line), ``subset_dirs`` as ``{NAME: {path, label}}``. It
is TOML, YAML or JSON. A whole ``run.json``, or the run directory holding it, is read for its
``config`` without ``out`` and ``command`` (:data:`RECORD_ONLY_FIELDS`): those say where and
how that run was made, and a new run goes elsewhere. ::

    # experiment.toml                       # or experiment.yaml, the same keys
    detector = "cnnspot"
    suite = "cross-generator"
    data_root = "/data/GenImage"
    epochs = 2
    degradations = ["jpeg:65", "blur:3"]
    [subset_dirs.phone]
    path = "/data/phone-photos"
    label = 0
"""

from __future__ import annotations

import difflib
import json
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from gibench.errors import GibenchError


@dataclass
class RunConfig:
    """Everything that defines a run; recorded in full in ``run.json``."""

    detector: str
    suite: str = "cross-generator"
    #: one folder, or ``{NAME: folder}`` (NAME a dataset, or ``DATASET.ROOT`` for one of its
    #: extra roots; gibench.data.datasets.DataRoot); None: the dataset built on demand
    data_root: Path | dict[str, Path] | None = None
    #: None: inferred (the dataset built when there is no data root, else the one that
    #: recognises the data root; gibench.data.datasets)
    dataset: str | None = None
    train_subset: str | None = None
    test_subsets: list[str] | None = None
    #: a user's folders used as extra test subsets: name -> (folder, label 0 real / 1 fake)
    subset_dirs: dict[str, tuple[Path, int]] = field(default_factory=dict)
    #: degradations to evaluate under besides the clean images, as ``NAME:STRENGTH`` (``jpeg:65``)
    degradations: list[str] = field(default_factory=list)
    #: alignments of every test image (``jpeg:96``, ``size:256``; gibench.data.align)
    align: list[str] = field(default_factory=list)
    #: alignments of every training (and held-out) image
    train_align: list[str] = field(default_factory=list)
    weights: Path | None = None
    pretrained: str | None = None  # None | "imagenet" | path to a backbone state dict
    #: with --weights of a two-class head: the class index meaning "fake" (None: the
    #: detector's converter's documented default)
    fake_class: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    input_size: int | None = None
    device: str = "auto"
    seed: int = 0
    out: Path | None = None
    workers: int | None = None
    #: evaluate with ``torch.compile(model)`` (``--compile``): pays on long evaluations only
    compile: bool = False
    #: keep the preprocessed test inputs on disk and read them on later evaluations
    #: (``--decode-cache``, :mod:`gibench.data.decoded_cache`)
    decode_cache: bool = False
    #: the models' precision in evaluations on CUDA (``--eval-precision``: fp32, bf16, fp16;
    #: gibench.engine.device.EVAL_PRECISIONS); training uses AMP whatever this says
    eval_precision: str = "fp32"
    #: how a test image becomes the detector's input (``--eval-transform``: authors, resize,
    #: crop, native, multicrop; gibench.data.eval_policy)
    eval_transform: str = "authors"
    skip_bad_images: bool = False
    holdout_fraction: float = 0.1
    progress: bool = True
    disabled_plugins: list[str] = field(default_factory=list)
    #: reporters asked for besides the always-on metrics.jsonl (``--report tensorboard``;
    #: ``gibench list reporters``)
    report: list[str] = field(default_factory=list)
    #: the command line that started the run (set by the CLI; ``None`` from the Python API)
    command: str | None = None

    def __post_init__(self) -> None:
        """The API boundary: each field as its type, a lone string where a list of names or
        paths is expected taken as one item (never its characters), a wrong type a
        :class:`GibenchError` naming the field."""
        hints = typing.get_type_hints(RunConfig)
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "subset_dirs":
                setattr(self, f.name, _api_subset_dirs(value))
                continue
            try:
                setattr(self, f.name, _convert(_api_value(value, hints[f.name]), hints[f.name]))
            except ValueError as exc:
                raise GibenchError("{" + f.name + "}" + f" is {_describe(value)}, expected "
                                   f"{exc}", params=[f.name]) from None

    def to_dict(self, absolute: bool = False) -> dict[str, Any]:
        """The fields as JSON values (paths as strings); ``absolute``: the paths made absolute
        (``run.json``'s ``config``: a resumed run reads the same folders from any working
        directory)."""
        def path(value: Any) -> Any:
            if not isinstance(value, Path):
                return value
            return str(Path(os.path.abspath(value)) if absolute else value)

        out = {k: path(v) for k, v in asdict(self).items()}
        if isinstance(self.data_root, Mapping):
            out["data_root"] = {k: path(v) for k, v in self.data_root.items()}
        out["subset_dirs"] = {k: {"path": path(p), "label": lab}
                              for k, (p, lab) in self.subset_dirs.items()}
        if absolute and self.pretrained not in (None, "imagenet"):
            out["pretrained"] = os.path.abspath(self.pretrained)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "config") -> RunConfig:
        """The configuration that :meth:`to_dict` (``run.json``'s ``config``) wrote;
        :class:`ConfigFileError` naming ``source`` on an unknown key, a value of the wrong
        type or a missing ``detector``."""
        values = config_fields(data, source)
        if not values.get("detector"):
            raise ConfigFileError(f"{source}: no detector (a detector name is required)")
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> RunConfig:
        """The configuration in the file ``path`` (:func:`read_config_file`), with
        ``overrides`` (fields) replacing what it says."""
        values = {**read_config_file(path), **overrides}
        if not values.get("detector"):
            raise ConfigFileError(f"{path}: no detector; give one in the file or as an override")
        return cls(**values)


def _api_value(value: Any, hint: Any) -> Any:
    """``value`` from a Python caller in the shapes :func:`_convert` takes: a path as text, a
    tuple as a list, and one string or path where a list is expected as a list of one."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        listed = next((a for a in args if typing.get_origin(a) is list), None)
        if listed is not None and isinstance(value, (str, os.PathLike)):
            return _api_value(value, listed)
        if any(typing.get_origin(a) is dict for a in args) and isinstance(value, Mapping):
            return {k: _api_value(v, Path) for k, v in value.items()}
        return _api_value(value, next((a for a in args if a is not type(None)), hint)) \
            if value is not None else value
    if origin is list:
        if isinstance(value, (str, os.PathLike)):
            return [_api_value(value, args[0])]
        if isinstance(value, (list, tuple)):
            return [_api_value(item, args[0]) for item in value]
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def _api_subset_dirs(value: Any) -> dict[str, tuple[Path, int]]:
    """``subset_dirs`` from a Python caller: ``{NAME: (FOLDER, 0 real | 1 fake)}``."""
    expected = "a dict {NAME: (FOLDER, 0 for real or 1 for fake)}"
    if not isinstance(value, Mapping):
        raise GibenchError(f"{{subset_dirs}} is {_describe(value)}, expected {expected}",
                           params=["subset_dirs"])
    out = {}
    for name, entry in value.items():
        ok = (isinstance(name, str) and name.strip() and isinstance(entry, (tuple, list))
              and len(entry) == 2 and isinstance(entry[0], (str, os.PathLike))
              and entry[1] in (0, 1) and not isinstance(entry[1], bool))
        if not ok:
            raise GibenchError(f"{{subset_dirs}}[{name!r}] is {entry!r}, expected {expected}",
                               params=["subset_dirs"])
        out[name] = (Path(entry[0]), int(entry[1]))
    return out


def parse_subset_dir(value: str) -> tuple[str, Path, int]:
    """``NAME=PATH:ai`` or ``NAME=PATH:nature`` → (name, folder, label)."""
    from gibench.specs import LABEL_FOLDERS

    name, sep, rest = value.partition("=")
    path, colon, label = rest.rpartition(":")
    if not sep or not colon or not name.strip() or not path or label not in LABEL_FOLDERS:
        raise GibenchError(f"{{subset_dirs=}}{value!r}: expected NAME=PATH:ai or "
                           "NAME=PATH:nature", params=["subset_dirs"])
    return name.strip(), Path(path).expanduser(), LABEL_FOLDERS[label]


# -- configuration files ---------------------------------------------------------------------

#: What a configuration file may be written in, by suffix.
CONFIG_FORMATS = {".toml": "TOML", ".yaml": "YAML", ".yml": "YAML", ".json": "JSON"}
#: The fields of a run record's configuration that a new run does not take from it.
RECORD_ONLY_FIELDS = ("out", "command")


class ConfigFileError(GibenchError):
    """A configuration file is unreadable, or holds an unknown key or a value of the wrong
    type; the message names the file and the key."""


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The :class:`RunConfig` fields that the file ``path`` sets (TOML, YAML or JSON by its
    suffix; a ``run.json`` or a run directory gives its ``config`` without
    :data:`RECORD_ONLY_FIELDS`), converted to their Python types. Only the fields the file
    names are returned. :class:`ConfigFileError` naming the file when it is missing or
    unparsable, or holds an unknown key (with the close matches) or a value of the wrong type."""
    from gibench.rundir import RunDir, RunDirError, RunRecord

    path = Path(path)
    if path.is_dir():
        if not RunDir(path).is_run():
            raise ConfigFileError(f"{path}: a folder that holds no run.json; give a "
                                  "configuration file (.toml, .yaml, .json) or a run directory")
        path = RunDir(path).record
    data = _parse(path)
    if isinstance(data, dict) and "config" in data and "status" in data:  # a run record
        try:
            record = RunRecord.from_dict(data, source=str(path))
        except RunDirError as exc:
            raise ConfigFileError(str(exc)) from exc
        data = {k: v for k, v in record.config.items() if k not in RECORD_ONLY_FIELDS}
    return config_fields(data, str(path))


def _parse(path: Path) -> Any:
    kind = CONFIG_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ConfigFileError(f"{path}: unknown configuration format {path.suffix!r}; write "
                              "it as " + ", ".join(sorted(CONFIG_FORMATS)))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigFileError(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"{path}: unreadable ({exc})") from exc
    try:
        if kind == "JSON":
            return json.loads(text)
        if kind == "YAML":
            import yaml

            return yaml.safe_load(text)
        return _toml().loads(text)
    except Exception as exc:  # each parser's own error; the message says where it failed
        detail = " ".join(str(exc).split())
        raise ConfigFileError(f"{path}: not valid {kind} ({detail})") from exc


def _toml():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the same parser, as a package
        import tomli as tomllib
    return tomllib


def config_fields(data: Any, source: str) -> dict[str, Any]:
    """``data`` (a mapping as :meth:`RunConfig.to_dict` writes it) as :class:`RunConfig`
    keyword arguments of the right types; :class:`ConfigFileError` naming ``source``."""
    if not isinstance(data, Mapping):
        raise ConfigFileError(f"{source}: expected a table of configuration keys at the top, "
                              f"found {_describe(data)}")
    hints = typing.get_type_hints(RunConfig)
    known = [f.name for f in fields(RunConfig)]
    unknown = [key for key in data if key not in hints]
    if unknown:
        raise ConfigFileError(f"{source}: unknown key(s) " + "; ".join(
            _unknown(str(key), known) for key in unknown)
            + ". The keys are those of run.json's config: " + ", ".join(known))
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key == "subset_dirs":
            out[key] = _subset_dirs(value, source)
            continue
        try:
            out[key] = _convert(value, hints[key])
        except ValueError as exc:
            raise ConfigFileError(f"{source}: {key} is {_describe(value)}, expected "
                                  f"{exc}") from None
    return out


def _unknown(key: str, known: list[str]) -> str:
    spelled = key.replace("-", "_").lower()  # a flag's spelling: --batch-size
    matches = [spelled] if spelled in known else \
        difflib.get_close_matches(spelled, known, n=3, cutoff=0.6)
    return repr(key) + (f" (did you mean {' or '.join(map(repr, matches))}?)" if matches else "")


def _convert(value: Any, hint: Any) -> Any:
    """``value`` as the type ``hint`` (str, int, float, bool, Path, list[...], dict[str, ...]
    or a union of them); ValueError saying what was expected."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for member in args:
            try:
                return _convert(value, member)
            except ValueError:
                continue
        raise ValueError(" or ".join(_expected(member) for member in args))
    if hint is type(None):
        if value is None:
            return None
    elif origin is list:
        if isinstance(value, list):
            return [_convert(item, args[0]) for item in value]
    elif origin is dict:
        if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
            return {k: _convert(v, args[1]) for k, v in value.items()}
    elif hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint in (str, Path):
        if isinstance(value, str):
            return hint(value)
    raise ValueError(_expected(hint))


def _expected(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list:
        return f"a list of {_expected(args[0]).split(' ', 1)[1]}s"
    if origin is dict:
        return f"a table of {_expected(args[1]).split(' ', 1)[1]}s"
    return {type(None): "null (or leave the key out)", bool: "true or false",
            int: "an integer", float: "a number", str: "a string",
            Path: "a path"}.get(hint, str(hint))


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)
    return f"{kind} ({value!r})" if not isinstance(value, (list, dict)) else kind


def _subset_dirs(value: Any, source: str) -> dict[str, tuple[Path, int]]:
    """``subset_dirs`` as ``to_dict`` writes it: ``{NAME: {path: FOLDER, label: 0|1}}``
    (``label`` also ``nature`` or ``ai``, as on the command line)."""
    from gibench.specs import LABEL_FOLDERS

    if not isinstance(value, Mapping):
        raise ConfigFileError(f"{source}: subset_dirs is {_describe(value)}, expected a table "
                              "{NAME: {path: FOLDER, label: 0 (real) or 1 (fake)}}")
    out = {}
    for name, entry in value.items():
        label = entry.get("label") if isinstance(entry, Mapping) else None
        label = LABEL_FOLDERS.get(label, label) if isinstance(label, str) else label
        if (not isinstance(entry, Mapping) or set(entry) != {"path", "label"}
                or not isinstance(entry["path"], str) or label not in (0, 1)
                or isinstance(label, bool)):
            raise ConfigFileError(f"{source}: subset_dirs.{name} is {_describe(entry)}, "
                                  "expected {path: FOLDER, label: 0 (real) or 1 (fake)}")
        out[str(name)] = (Path(entry["path"]), label)
    return out
