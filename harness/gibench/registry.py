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
from gibench.specs import DatasetSpec, DegradationSpec, DetectorSpec, SubsetSpec, SuiteSpec

#: Modules registered as plugins before any third-party one (pytest's ``_pytest/`` model).
BUILTIN_PLUGINS: tuple[str, ...] = (
    "gibench.builtin.genimage",
    "gibench.builtin.mini",
    "gibench.builtin.mini_biased",
    "gibench.builtin.suites",
    "gibench.builtin.robustness",
    "gibench.builtin.datascale",
    "gibench.degradations",
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
    """Two plugins claim the same name (or alias) for one kind of spec."""


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
}


@dataclass
class Registry:
    """Everything the loaded plugins provide, by kind and canonical name."""

    pm: pluggy.PluginManager
    plugins: list[PluginInfo]
    entries: dict[str, dict[str, Entry[Any]]] = field(default_factory=dict)
    _keys: dict[str, dict[str, str]] = field(default_factory=dict)

    # -- lookups ---------------------------------------------------------------------------
    def resolve(self, kind: str, name: str) -> str:
        """Canonical name for ``name`` or an alias of it; :class:`UnknownNameError` otherwise."""
        key = normalise(name)
        keys = self._keys.get(kind, {})
        if key in keys:
            return keys[key]
        known = list(self.entries.get(kind, {}))
        raise UnknownNameError(kind, name, known)

    def has(self, kind: str, name: str) -> bool:
        """Whether ``name`` (or an alias) is registered for ``kind``."""
        return normalise(name) in self._keys.get(kind, {})

    def get(self, kind: str, name: str) -> Any:
        return self.entries[kind][self.resolve(kind, name)].spec

    def provider(self, kind: str, name: str) -> PluginInfo:
        plugin = self.entries[kind][self.resolve(kind, name)].plugin
        return next(p for p in self.plugins if p.name == plugin)

    def detector(self, name: str) -> DetectorSpec:
        return self.get("detector", name)

    def subset(self, name: str) -> SubsetSpec:
        return self.get("subset", name)

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

    # -- building --------------------------------------------------------------------------
    def _add(self, kind: str, spec: Any, plugin: str) -> None:
        entries = self.entries.setdefault(kind, {})
        keys = self._keys.setdefault(kind, {})
        names = [spec.name, *getattr(spec, "aliases", ())]
        for n in names:
            other = keys.get(normalise(n))
            if other is not None and other != spec.name:
                raise PluginConflictError(
                    f"{kind} name {n!r} is provided by both plugin "
                    f"{entries[other].plugin!r} ({kind} {other!r}) and plugin {plugin!r} "
                    f"({kind} {spec.name!r}); uninstall or disable one (-p no:NAME)."
                )
        if spec.name in entries:
            raise PluginConflictError(
                f"{kind} {spec.name!r} is provided by both plugin {entries[spec.name].plugin!r} "
                f"and plugin {plugin!r}; uninstall or disable one (-p no:NAME)."
            )
        entries[spec.name] = Entry(spec, plugin)
        for n in names:
            keys.setdefault(normalise(n), spec.name)


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


def build_registry(disabled: Iterable[str] = (), entry_points: bool = True) -> Registry:
    """Create the plugin manager, load built-in and installed plugins, collect their specs."""
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
                registry._add(kind, spec, impl.plugin_name)
    return registry


_CACHE: dict[frozenset[str], Registry] = {}


def get_registry(disabled: Iterable[str] = ()) -> Registry:
    """The registry for this process (built once per set of disabled plugins)."""
    key = frozenset(disabled) | frozenset(disabled_from_env())
    if key not in _CACHE:
        _CACHE[key] = build_registry(key)
    return _CACHE[key]


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
