"""Where a plugin's code came from, as ``run.json`` records it (``versions.plugins.NAME.origin``)
and a board row shows it (``plugin_origin``).

A version number says which code ran only when it is a release: an editable checkout or a
folder installed with ``pip install ./plugin`` can hold anything under the same number. So:

- ``index``: installed from a package index (pip writes no ``direct_url.json``): the release;
- ``git:COMMIT``: a VCS install (``pip install git+URL@...``), or an editable checkout whose
  plugin files are committed;
- ``git:COMMIT+dirty``: an editable checkout with uncommitted changes to the plugin's files;
- ``local``: a folder or archive not under git: nothing published says what ran.

The last two are unpublished: ``gibench leaderboard add`` refuses them unless told to accept
them, and the row then says so.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

if TYPE_CHECKING:
    from gibench.registry import Registry

INDEX, LOCAL, DIRTY = "index", "local", "+dirty"


def is_unpublished(origin: str) -> bool:
    return origin == LOCAL or origin.endswith(DIRTY)


def describe_origin(origin: str) -> str:
    """``git:abc1234+dirty`` → ``git abc1234 with uncommitted changes``, for footnotes."""
    if origin == INDEX:
        return "a release"
    if origin == LOCAL:
        return "unpublished: a local folder not under git"
    commit = origin.removeprefix("git:").removesuffix(DIRTY)
    return f"git {commit[:12]}" + (" with uncommitted changes" if origin.endswith(DIRTY) else "")


def git_origin(path: Path) -> str:
    """``git:COMMIT`` of the checkout holding ``path``, ``+dirty`` when files under ``path`` have
    uncommitted changes; ``local`` outside a git checkout."""
    folder = path if path.is_dir() else path.parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True,
                                  timeout=5, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    head = git("rev-parse", "HEAD")
    if not head:
        return LOCAL
    changes = git("status", "--porcelain", "--untracked-files=no", "--", str(path))
    return f"git:{head}" + (DIRTY if changes is None or changes else "")


def distribution_origin(distribution: str, module_file: str | Path | None = None) -> str:
    """The origin of ``distribution`` (see the module's docstring). ``module_file``: the file
    the plugin was imported from, whose checkout is asked for an editable install (it may differ
    from the folder pip recorded, e.g. with ``PYTHONPATH``)."""
    try:
        text = metadata.distribution(distribution).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return LOCAL
    if text is None:
        return INDEX
    try:
        direct = json.loads(text)
    except ValueError:
        return LOCAL
    vcs = direct.get("vcs_info") if isinstance(direct, dict) else None
    if isinstance(vcs, dict):
        commit = vcs.get("commit_id")
        return f"git:{commit}" if vcs.get("vcs") == "git" and isinstance(commit, str) else LOCAL
    if isinstance(direct, dict) and (direct.get("dir_info") or {}).get("editable"):
        if module_file is not None:
            path = Path(module_file)
            return git_origin(path.parent if path.name == "__init__.py" else path)
        url = urlparse(str(direct.get("url", "")))
        return git_origin(Path(unquote(url.path))) if url.scheme == "file" else LOCAL
    return LOCAL


def plugin_origins(registry: Registry) -> dict[str, str]:
    """The origin of every loaded third-party plugin, by plugin name. An editable checkout is
    asked about the whole top-level package the plugin's module belongs to."""
    origins: dict[str, str] = {}
    done: dict[tuple[str, str | None], str] = {}
    for info in registry.plugins:
        if info.builtin or info.status != "loaded":
            continue
        module = registry.pm.get_plugin(info.name)
        top = sys.modules.get(getattr(module, "__name__", "").partition(".")[0], module)
        where = getattr(top, "__file__", None)
        key = (info.distribution, where)
        if key not in done:
            done[key] = distribution_origin(info.distribution, where)
        origins[info.name] = done[key]
    return origins
