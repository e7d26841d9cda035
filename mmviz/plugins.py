"""Datasets and models from other packages, found through Python entry points.

A package adds a dataset or a model to mmviz, without editing mmviz, by declaring an entry point
in its pyproject.toml (docs/plugins.md has a worked example):

    [project.entry-points."mmviz.datasets"]
    pngs = "mmviz_pngs:load_pngs"      # a builder f(seed=0, use_cache=True, **options)

    [project.entry-points."mmviz.models"]
    my_vae = "my_package.model:MyVAE"  # a MultimodalModel subclass

`mmviz.data` and `mmviz.models` each keep one `PluginRegistry`: their built-in names first, then
the installed plugins'. Discovery reads the installed packages' metadata once, when names are
first listed or a name that is not built in is first looked up, and imports nothing; a plugin's
module is imported only when its name is asked for. Hence:

- a plugin whose name is a built-in's is refused, the built-in stays, and a `PluginWarning`
  names both; two plugins declaring one name are both refused, and asking for that name raises
  `PluginError` naming both (mmviz never picks one silently);
- a plugin that fails to import, or is not what its group needs, raises `PluginError` naming the
  plugin and its entry point when its name is asked for; every other name keeps working.

This module imports nothing heavy (no torch), so `mmviz --help` stays fast.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Mapping
from importlib import import_module
from importlib.metadata import EntryPoint, entry_points

DATASETS_GROUP = "mmviz.datasets"
MODELS_GROUP = "mmviz.models"


class PluginError(ValueError):
    """A plugin that cannot be used; the message names the plugin and its entry point."""


class PluginWarning(UserWarning):
    """A plugin that was refused at discovery (its name clashes); the rest work."""


def describe(ep: EntryPoint) -> str:
    """`entry point 'pngs = mmviz_pngs:load_pngs' in group 'mmviz.datasets' of mmviz-pngs 0.1.0`."""
    dist = getattr(ep, "dist", None)
    source = f" of {dist.name} {dist.version}" if dist is not None else ""
    return f"entry point '{ep.name} = {ep.value}' in group {ep.group!r}{source}"


def import_target(target: str) -> object:
    """`"package.module:attribute"` -> the attribute (how built-ins are registered)."""
    module, attr = target.split(":")
    return getattr(import_module(module), attr)


class PluginRegistry:
    """Built-in names (name -> "module:attribute") plus the plugins of one entry-point group.

    what: "dataset" or "model", for messages.
    unknown: the error for a name that is neither built in nor a plugin (given the name and
        the names there are), so each registry keeps its own error type.
    check: given a name and the plugin object loaded for it, a reason it is unusable, or None.
    """

    def __init__(
        self,
        group: str,
        what: str,
        builtins: Mapping[str, str],
        unknown: Callable[[str, list[str]], Exception],
        check: Callable[[str, object], str | None] | None = None,
    ) -> None:
        self.group, self.what, self.builtins = group, what, builtins
        self.unknown, self.check = unknown, check
        self._lock = threading.Lock()  # the app looks names up from several script threads
        self.refresh()

    def refresh(self) -> None:
        """Forget what was discovered and loaded: the next look-up reads the metadata again
        (after installing a plugin into a running interpreter, and in tests)."""
        self._found: dict[str, EntryPoint] | None = None
        self._clashes: dict[str, list[EntryPoint]] = {}
        self._refused: dict[tuple[str, str], str] = {}  # (name, entry point value) -> why
        self._loaded: dict[str, object] = {}

    # ---- discovery ---------------------------------------------------------------------
    def plugins(self) -> dict[str, EntryPoint]:
        """The usable plugin entry points by name, discovered once (imports nothing)."""
        with self._lock:
            if self._found is None:
                self._discover()
            assert self._found is not None
            return self._found

    def _discover(self) -> None:
        by_name: dict[str, list[EntryPoint]] = {}
        for ep in entry_points(group=self.group):
            same = by_name.setdefault(ep.name, [])
            if not any(e.value == ep.value for e in same):  # one package found twice
                same.append(ep)
        found: dict[str, EntryPoint] = {}
        for name, eps in sorted(by_name.items()):
            if name in self.builtins:
                for ep in eps:
                    self._refused[name, ep.value] = (
                        f"plugin {self.what} {name!r} from {describe(ep)} is refused: it has the "
                        f"name of mmviz's built-in {self.what} {name!r} "
                        f"({self.builtins[name]}), which stays; rename the plugin's entry point"
                    )
            elif len(eps) > 1:
                self._clashes[name] = eps
                for ep in eps:
                    self._refused[name, ep.value] = self._clash_message(name)
            else:
                found[name] = eps[0]
        self._found = found
        for message in self.problems(discover=False):
            warnings.warn(message, PluginWarning, stacklevel=4)

    def _clash_message(self, name: str) -> str:
        return (
            f"plugin {self.what} {name!r} is declared by more than one plugin, so none is used: "
            + "; ".join(describe(ep) for ep in self._clashes[name])
            + ". Uninstall one or rename its entry point"
        )

    def problems(self, discover: bool = True) -> list[str]:
        """Why plugins were refused at discovery (name clashes), one sentence each."""
        if discover:
            self.plugins()
        return list(dict.fromkeys(self._refused.values()))

    def report(self) -> list[dict[str, str]]:
        """Every plugin entry point of the group and whether it works: `mmviz plugins`.
        Loads each one (imports its module) to find out."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PluginWarning)  # reported here, as rows
            self.plugins()
        rows, seen = [], set()
        for ep in entry_points(group=self.group):
            dist = getattr(ep, "dist", None)
            source = f"{dist.name} {dist.version}" if dist is not None else ""
            if (ep.name, ep.value, source) in seen:  # one package found twice
                continue
            seen.add((ep.name, ep.value, source))
            if (ep.name, ep.value) in self._refused:
                status, message = "refused", self._refused[ep.name, ep.value]
            else:
                try:
                    self.load(ep.name)
                    status, message = "ok", ""
                except PluginError as e:
                    status, message = "failed", str(e)
            rows.append(
                {
                    "group": self.group,
                    "name": ep.name,
                    "entry_point": ep.value,
                    "distribution": source,
                    "status": status,
                    "message": message,
                }
            )
        return rows

    def names(self) -> list[str]:
        """Built-in names in registry order, then the usable plugins' in alphabetical order."""
        return [*self.builtins, *self.plugins()]

    def is_plugin(self, name: str) -> bool:
        return name not in self.builtins and name in self.plugins()

    def __contains__(self, name: object) -> bool:
        return name in self.builtins or name in self.plugins()

    # ---- loading -----------------------------------------------------------------------
    def load(self, name: str) -> object:
        """What `name` is registered as: imported on first use, then kept."""
        if name in self.builtins:
            return import_target(self.builtins[name])
        found = self.plugins()
        if name in self._clashes:
            raise PluginError(self._clash_message(name))
        if name not in found:
            raise self.unknown(name, self.names())
        if name in self._loaded:
            return self._loaded[name]
        ep = found[name]
        try:
            obj = ep.load()
        except Exception as e:
            raise PluginError(
                f"plugin {self.what} {name!r} failed to load ({describe(ep)}): "
                f"{type(e).__name__}: {e}"
            ) from e
        reason = self.check(name, obj) if self.check is not None else None
        if reason:
            raise PluginError(f"plugin {self.what} {name!r} ({describe(ep)}) {reason}")
        self._loaded[name] = obj
        return obj


__all__ = [
    "DATASETS_GROUP",
    "MODELS_GROUP",
    "PluginError",
    "PluginRegistry",
    "PluginWarning",
    "describe",
    "import_target",
]
