"""The plugin manager and the registry of everything plugins provide.

Built-in features are plugins like any other: :data:`BUILTIN_PLUGINS` are registered first, then
every entry point of the group ``gibench`` (``pip install gibench-plugin-x``). A plugin is
disabled with ``-p no:NAME`` on the command line or ``GIBENCH_DISABLE_PLUGINS=NAME,NAME``.

The registry calls each registration hook plugin by plugin, so it knows who provides what, and
so one plugin that raises, or returns something that is not a spec, or implements a hook that
:mod:`gibench.hookspecs` does not declare (a misspelling), is recorded as a failure
(``gibench plugins``) while the others keep working. Run-lifecycle hooks are called through
:func:`notify`, plugin by plugin, so a failing reporter is a warning naming it. A name or
alias claimed by two plugins is an error naming both.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Generic, TypeVar

import pluggy

import gibench
from gibench import hookspecs
from gibench.errors import GibenchError
from gibench.specs import (
    DatasetSpec,
    DegradationSpec,
    DetectorSpec,
    ReporterSpec,
    SubsetSpec,
    SuiteSpec,
)

#: Modules registered as plugins before any third-party one (pytest's ``_pytest/`` model).
BUILTIN_PLUGINS: tuple[str, ...] = (
    "gibench.builtin.genimage",
    "gibench.builtin.mini",
    "gibench.builtin.mini_biased",
    "gibench.builtin.suites",
    "gibench.builtin.robustness",
    "gibench.builtin.datascale",
    "gibench.builtin.crossdataset",
    "gibench.degradations",
    "gibench.builtin.reporters",
    "gibench.builtin.tensorboard",
)
ENTRY_POINT_GROUP = "gibench"
DISABLE_ENV = "GIBENCH_DISABLE_PLUGINS"

T = TypeVar("T")


class UnknownNameError(GibenchError, KeyError):
    """A detector, dataset, subset, degradation or suite name that no plugin provides."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        self.kind, self.name = kind, name
        matches = difflib.get_close_matches(name.lower(), sorted(set(known)), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(matches)}?" if matches else ""
        listing = {"subset": "subsets"}.get(kind, kind + "s")
        self.message = (f"unknown {kind} {name!r}.{hint} "
                        f"List them with `gibench list {listing}`.")
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class PluginConflictError(GibenchError):
    """Two plugins claim the same name (or alias) for one kind of spec (for subsets: within
    one dataset)."""


class AmbiguousNameError(GibenchError, KeyError):
    """A plain subset name that several datasets have: the qualified names are the answer."""

    def __init__(self, name: str, keys: Iterable[str]) -> None:
        self.name, self.keys = name, sorted(keys)
        self.message = (f"subset name {name!r} is ambiguous: it is a subset of several "
                        f"datasets; name one as {' or '.join(self.keys)} (or choose the "
                        f"dataset)")
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class PluginValidationError(GibenchError):
    """A plugin that does not keep the contract of :mod:`gibench.hookspecs`."""


@dataclass(frozen=True)
class PluginInfo:
    """One plugin as ``gibench plugins`` shows it."""

    name: str
    distribution: str
    version: str
    builtin: bool
    status: str = "loaded"  # loaded | disabled | failed
    error: str = ""


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered spec and who provides it."""

    spec: T
    plugin: str


def normalise(name: str) -> str:
    """The key names are matched by: case, spaces, ``-`` and ``_`` do not matter."""
    return re.sub(r"[\s_\-]+", "", name.strip().lower())


_KINDS: dict[str, tuple[str, type]] = {
    "dataset": ("gibench_add_datasets", DatasetSpec),
    "detector": ("gibench_add_detectors", DetectorSpec),
    "subset": ("gibench_add_subsets", SubsetSpec),
    "degradation": ("gibench_add_degradations", DegradationSpec),
    "suite": ("gibench_add_suites", SuiteSpec),
    "reporter": ("gibench_add_reporters", ReporterSpec),
}


@dataclass
class Registry:
    """Everything the loaded plugins provide, by kind and canonical name."""

    pm: pluggy.PluginManager
    plugins: list[PluginInfo]
    #: kind → key → entry; a subset's key is ``DATASET/NAME``, the others' their name
    entries: dict[str, dict[str, Entry[Any]]] = field(default_factory=dict)
    #: clashes found while loading (:meth:`check` raises them; listing commands show them)
    conflicts: list[str] = field(default_factory=list)
    _keys: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    # -- lookups ---------------------------------------------------------------------------
    def resolve(self, kind: str, name: str, dataset: str | None = None) -> str:
        """Canonical name for ``name`` or an alias of it; :class:`UnknownNameError` otherwise.

        Subset names are scoped by dataset: ``DATASET/NAME`` is one dataset's subset; a plain
        name (or alias) is the one subset of that name, or ``dataset``'s when several datasets
        have one (:class:`AmbiguousNameError` listing the qualified names otherwise). The
        answer is the plain canonical name; :meth:`key` gives the qualified one."""
        key = self.key(kind, name, dataset)
        return self.entries[kind][key].spec.name if kind == "subset" else key

    def key(self, kind: str, name: str, dataset: str | None = None) -> str:
        """The registry's key for ``name``: the canonical name, ``DATASET/NAME`` for a
        subset (see :meth:`resolve`)."""
        keys = self._keys.get(kind, {})
        if kind != "subset":
            if normalise(name) in keys:
                return keys[normalise(name)][0]
            raise UnknownNameError(kind, name, list(self.entries.get(kind, {})))
        found = self.subset_keys(name)
        if dataset is not None and len(found) > 1:
            ds = normalise(self.dataset(dataset).name) if self.has_dataset(dataset) \
                else normalise(dataset)
            mine = [k for k in found if normalise(k.split("/", 1)[0]) == ds]
            found = mine or found
        if len(found) == 1:
            return found[0]
        if found:
            raise AmbiguousNameError(name, found)
        known = (list(self.entries.get(kind, {})) if "/" in name
                 else [e.spec.name for e in self.entries.get(kind, {}).values()])
        raise UnknownNameError(kind, name, known)

    def subset_keys(self, name: str) -> list[str]:
        keys = self._keys.get("subset", {})
        if "/" in name:
            dataset, _, plain = name.rpartition("/")
            if self.has_dataset(dataset):
                dataset = self.dataset(dataset).name
            return [k for k in keys.get(normalise(plain), [])
                    if normalise(k.split("/", 1)[0]) == normalise(dataset)]
        return list(keys.get(normalise(name), []))

    def has(self, kind: str, name: str) -> bool:
        """Whether ``name`` (or an alias; for a subset also ``DATASET/NAME``) is registered for
        ``kind`` (an ambiguous subset name is registered)."""
        if kind == "subset":
            return bool(self.subset_keys(name))
        return normalise(name) in self._keys.get(kind, {})

    def has_dataset(self, name: str) -> bool:
        """Whether ``name`` is a dataset (registered, or named by subsets)."""
        return self.has("dataset", name) or name in self.datasets()

    def get(self, kind: str, name: str, dataset: str | None = None) -> Any:
        return self.entries[kind][self.key(kind, name, dataset)].spec

    def provider(self, kind: str, name: str) -> PluginInfo:
        plugin = self.entries[kind][self.key(kind, name)].plugin
        return next(p for p in self.plugins if p.name == plugin)

    def detector(self, name: str) -> DetectorSpec:
        return self.get("detector", name)

    def subset(self, name: str, dataset: str | None = None) -> SubsetSpec:
        """The spec of subset ``name`` (``DATASET/NAME``, a name or an alias; a plain name of
        several datasets' subsets is resolved within ``dataset``)."""
        return self.get("subset", name, dataset)

    def dataset(self, name: str) -> DatasetSpec:
        """The spec of dataset ``name`` (or an alias): the one a plugin registered, or, for a
        dataset that only subsets name, :meth:`DatasetSpec.default`."""
        if self.has("dataset", name):
            return self.get("dataset", name)
        if name in self.datasets():
            return DatasetSpec.default(name)
        raise UnknownNameError("dataset", name, self.datasets())

    def suite(self, name: str) -> SuiteSpec:
        return self.get("suite", name)

    def degradation(self, name: str) -> DegradationSpec:
        return self.get("degradation", name)

    def all(self, kind: str) -> list[Any]:
        return [e.spec for e in self.entries.get(kind, {}).values()]

    def subsets(self, dataset: str | None = None) -> list[SubsetSpec]:
        """Subsets in registration order, optionally of one dataset only."""
        return [s for s in self.all("subset") if dataset is None or s.dataset == dataset]

    def datasets(self) -> list[str]:
        """The names of the datasets: those registered, then those only subsets name."""
        return list(dict.fromkeys([*(d.name for d in self.all("dataset")),
                                   *(s.dataset for s in self.all("subset"))]))

    @property
    def failures(self) -> list[PluginInfo]:
        return [p for p in self.plugins if p.status == "failed"]

    def check(self) -> Registry:
        """Raise :class:`PluginConflictError` naming every clash (two plugins claiming one
        name within a kind, or within one dataset for subsets); returns the registry."""
        if self.conflicts:
            raise PluginConflictError("\n".join(self.conflicts))
        return self

    def add_dataset(self, dataset: DatasetSpec, subsets: Iterable[SubsetSpec],
                    plugin: str = "folder") -> None:
        """Register a dataset made at run time (``folder:PATH``) with its subsets, replacing an
        earlier one of the same name and its subsets."""
        for kind in ("dataset", "subset"):
            entries = self.entries.setdefault(kind, {})
            stale = [k for k, e in entries.items()
                     if (e.spec.name if kind == "dataset" else e.spec.dataset) == dataset.name]
            for key in stale:
                del entries[key]
            for bucket in self._keys.get(kind, {}).values():
                bucket[:] = [k for k in bucket if k not in stale]
        self._add("dataset", dataset, plugin)
        for spec in subsets:
            self._add("subset", spec, plugin)

    # -- building --------------------------------------------------------------------------
    def _add(self, kind: str, spec: Any, plugin: str) -> None:
        """Register ``spec``; a name or alias already claimed (within its dataset, for a
        subset) by another spec raises :class:`PluginConflictError` naming both plugins."""
        entries = self.entries.setdefault(kind, {})
        keys = self._keys.setdefault(kind, {})
        key = f"{spec.dataset}/{spec.name}" if kind == "subset" else spec.name
        scope = (lambda k: k.split("/", 1)[0] == spec.dataset) if kind == "subset" else \
            (lambda k: True)
        names = [spec.name, *getattr(spec, "aliases", ())]
        for n in names:
            for other in keys.get(normalise(n), []):
                if other != key and scope(other):
                    what = f"{kind} name {n!r}" + (f" of dataset {spec.dataset!r}"
                                                   if kind == "subset" else "")
                    raise PluginConflictError(
                        f"{what} is provided by both plugin {entries[other].plugin!r} "
                        f"({kind} {entries[other].spec.name!r}) and plugin {plugin!r} "
                        f"({kind} {spec.name!r}); rename one (a plugin's own names), or "
                        "uninstall or disable one (-p no:NAME).")
        if key in entries:
            raise PluginConflictError(
                f"{kind} {key!r} is provided by both plugin {entries[key].plugin!r} "
                f"and plugin {plugin!r}; rename one, or uninstall or disable one (-p no:NAME)."
            )
        entries[key] = Entry(spec, plugin)
        for n in names:
            bucket = keys.setdefault(normalise(n), [])
            if key not in bucket:
                bucket.append(key)


#: What a plugin's import or registration hook may raise and fail alone with: any exception,
#: and also ``sys.exit()`` and ``KeyboardInterrupt`` raised by its code (which would otherwise
#: end every command, naming no plugin).
_PLUGIN_FAILURES = (Exception, SystemExit, KeyboardInterrupt)


def _check_spec(hook: str, spec: Any) -> None:
    """Raise :class:`PluginValidationError` when ``spec`` cannot be listed or looked up: a name
    that is not a non-empty string, aliases that are not strings, a field without a default
    left ``None``, a callable field holding something else, a field typed as a spec class (a
    detector's ``preprocess``, ``recipe``) holding something else. What a field's value does
    is for the contract checks (:mod:`gibench.testing`)."""
    from gibench import specs as spec_module

    what = f"{hook} returned {type(spec).__name__}({getattr(spec, 'name', '?')!r})"
    if not isinstance(spec.name, str) or not spec.name.strip():
        raise PluginValidationError(f"{what}: its name must be a non-empty string, not "
                                    f"{type(spec.name).__name__}")
    aliases = getattr(spec, "aliases", ())
    if isinstance(aliases, str) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise PluginValidationError(f"{what}: its aliases must be a tuple of non-empty strings")
    for f in dataclasses.fields(spec):
        value, annotation = getattr(spec, f.name), str(f.type)
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if value is None:
            if required and "None" not in annotation:
                raise PluginValidationError(f"{what}: field {f.name!r} is None")
            continue
        if annotation.startswith("Callable") and not callable(value):
            raise PluginValidationError(f"{what}: field {f.name!r} must be callable, not "
                                        f"{type(value).__name__}")
        kind = getattr(spec_module, annotation, None)
        if isinstance(kind, type) and dataclasses.is_dataclass(kind) \
                and not isinstance(value, kind):
            raise PluginValidationError(f"{what}: field {f.name!r} must be a {annotation}, not "
                                        f"{type(value).__name__}")
        if annotation == "str" and not isinstance(value, str):
            raise PluginValidationError(f"{what}: field {f.name!r} must be a string, not "
                                        f"{type(value).__name__}")


def disabled_from_env() -> set[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return {p.strip() for p in raw.split(",") if p.strip()}


def _check_disabled(given: set[str], from_env: set[str], infos: list[PluginInfo]) -> None:
    """A plugin disabled by a name no plugin has (``-p no:TYPO``) would leave the plugin meant
    enabled, silently: an error naming it with the close names; in
    ``GIBENCH_DISABLE_PLUGINS``, a warning (the variable may serve several environments)."""
    known = sorted({info.name for info in infos})

    def close(name: str) -> str:
        matches = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        return f" (did you mean {' or '.join(map(repr, matches))}?)" if matches else ""

    unknown = sorted(given - set(known))
    if unknown:
        raise GibenchError("{disabled_plugins} names no installed plugin: " + "; ".join(
            repr(name) + close(name) for name in unknown)
            + "; gibench plugins lists the plugins", params=["disabled_plugins"])
    for name in sorted(from_env - set(known)):
        print(f"warning: {DISABLE_ENV} names {name!r}, which is no installed plugin"
              f"{close(name)}", file=sys.stderr)


def _fail(infos: list[PluginInfo], name: str, exc: BaseException) -> None:
    for i, info in enumerate(infos):
        if info.name == name:
            infos[i] = PluginInfo(info.name, info.distribution, info.version, info.builtin,
                                  "failed", f"{type(exc).__name__}: {exc}")


def unknown_hooks(pm: pluggy.PluginManager) -> dict[str, list[str]]:
    """Plugin name → the hooks it implements that no hookspec declares (a misspelled
    ``gibench_add_detector``): what pluggy's ``check_pending`` raises for, per plugin. An
    implementation marked ``optionalhook=True`` is allowed (a hook of another host)."""
    found: dict[str, list[str]] = {}
    for name, caller in vars(pm.hook).items():
        if name.startswith("_") or not isinstance(caller, pluggy.HookCaller) or \
                caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if not impl.optionalhook:
                found.setdefault(impl.plugin_name, []).append(name)
    return found


def _unknown_hook_error(plugin: str, hooks: list[str]) -> str:
    known = [n for n in dir(hookspecs) if n.startswith(f"{hookspecs.PROJECT}_")]
    parts = []
    for hook in sorted(hooks):
        close = difflib.get_close_matches(hook, known, n=1, cutoff=0.6)
        parts.append(f"{hook!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return (f"plugin {plugin!r} implements unknown hook {', '.join(parts)}; the hooks are "
            f"listed in gibench.hookspecs")


def _reject_unknown_hooks(pm: pluggy.PluginManager, infos: list[PluginInfo]) -> None:
    """Unregister each plugin that implements an unknown hook and mark it failed, naming the
    hook; the other plugins keep working."""
    for plugin, hooks in unknown_hooks(pm).items():
        pm.set_blocked(plugin)  # unregisters it
        _fail(infos, plugin, PluginValidationError(_unknown_hook_error(plugin, hooks)))


def check_reports(registry: Registry, names: Iterable[str]) -> list[str]:
    """The canonical names of the reporters ``names`` (``--report``); an unknown name, or a
    reporter whose packages are missing, is an error naming the name or the package."""
    canonical = []
    for name in names:
        spec = registry.get("reporter", name)
        missing = spec.missing()
        if missing:
            raise GibenchError(
                f"{{report=}}{spec.name} needs the Python package "
                f"{', '.join(map(repr, missing))}, which is not installed: "
                f"{spec.install or 'pip install ' + ' '.join(missing)}", params=["report"])
        canonical.append(spec.name)
    return list(dict.fromkeys(canonical))


def notify(registry: Registry, hook: str, **kwargs: Any) -> None:
    """Call the run-lifecycle ``hook`` of every plugin, one plugin at a time: a plugin that
    raises is reported on stderr with its name and the others are still called; the run goes
    on."""
    caller = getattr(registry.pm.hook, hook)
    plugins = [impl.plugin_name for impl in caller.get_hookimpls()]
    for plugin in dict.fromkeys(plugins):
        others = [registry.pm.get_plugin(p) for p in plugins if p != plugin]
        try:
            registry.pm.subset_hook_caller(hook, remove_plugins=others)(**kwargs)
        except Exception as exc:  # a reporter must not fail the run it reports on
            print(f"warning: plugin {plugin!r} failed in {hook}: {type(exc).__name__}: {exc}",
                  file=sys.stderr)


def build_registry(disabled: Iterable[str] = (), entry_points: bool = True,
                   strict: bool = True) -> Registry:
    """Create the plugin manager, load built-in and installed plugins, collect their specs.

    A name clash is recorded in :attr:`Registry.conflicts` (the second spec is left out) and,
    when ``strict``, raised (:class:`PluginConflictError`); ``gibench list`` and ``gibench
    plugins`` build without ``strict``, to show it."""
    blocked = set(disabled) | disabled_from_env()
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    infos: list[PluginInfo] = []
    for modname in BUILTIN_PLUGINS:
        short = modname.rsplit(".", 1)[-1]
        if short in blocked:
            infos.append(PluginInfo(short, "gibench", gibench.__version__, True, "disabled"))
            continue
        pm.register(importlib.import_module(modname), name=short)
        infos.append(PluginInfo(short, "gibench", gibench.__version__, True))
    if entry_points:
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else "?"
            if ep.name in blocked or pm.has_plugin(ep.name) or pm.is_blocked(ep.name):
                if ep.name in blocked:
                    infos.append(PluginInfo(ep.name, dist, version, False, "disabled"))
                continue
            try:
                pm.register(ep.load(), name=ep.name)
            except _PLUGIN_FAILURES as exc:  # a broken plugin must not take the others down
                # (nor end the process: sys.exit() or KeyboardInterrupt at import is its failure)
                infos.append(PluginInfo(ep.name, dist, version, False, "failed",
                                        f"{type(exc).__name__}: {exc}"))
                continue
            infos.append(PluginInfo(ep.name, dist, version, False))
    _reject_unknown_hooks(pm, infos)
    if entry_points:
        _check_disabled(set(disabled), blocked - set(disabled), infos)
    registry = Registry(pm=pm, plugins=infos)
    for kind, (hook, cls) in _KINDS.items():
        for impl in getattr(pm.hook, hook).get_hookimpls():
            try:
                specs = list(impl.function() or ())
                bad = [s for s in specs if not isinstance(s, cls)]
                if bad:
                    raise TypeError(f"{hook} returned {type(bad[0]).__name__}, "
                                    f"expected {cls.__name__}")
                for spec in specs:
                    _check_spec(hook, spec)
            except _PLUGIN_FAILURES as exc:
                _fail(registry.plugins, impl.plugin_name, exc)
                continue
            for spec in specs:
                try:
                    registry._add(kind, spec, impl.plugin_name)
                except PluginConflictError as exc:  # kept: diagnostics must still list
                    registry.conflicts.append(str(exc))
    return registry.check() if strict else registry


_CACHE: dict[frozenset[str], Registry] = {}


def get_registry(disabled: Iterable[str] = (), strict: bool = True) -> Registry:
    """The registry for this process (built once per set of disabled plugins); ``strict``
    raises its name clashes (:meth:`Registry.check`)."""
    key = frozenset(disabled) | frozenset(disabled_from_env())
    if key not in _CACHE:  # the environment's names are read (and checked) there
        _CACHE[key] = build_registry(frozenset(disabled), strict=False)
    return _CACHE[key].check() if strict else _CACHE[key]


def provided_by(kind: str, spec: Any) -> str:
    """``kind 'name'``, and the plugin and distribution that provide this very ``spec`` when a
    registry of this process holds it: how an error names the plugin whose code failed."""
    label = f"{kind} {spec.name!r}"
    for registry in _CACHE.values():
        entry = registry.entries.get(kind, {}).get(spec.name)
        if entry is not None and entry.spec is spec:
            info = next((p for p in registry.plugins if p.name == entry.plugin), None)
            if info is not None:
                return f"{label} (plugin {info.name!r}, {info.distribution} {info.version})"
    return label


def clear_registry_cache() -> None:
    """Forget built registries (tests that install plugins call this)."""
    _CACHE.clear()
