"""The app system: one pluggy manager per Flask app, the index of apps and widgets,
per-organisation hook calls, and the blueprint gate.

Everything a plugin contributes passes through :class:`Registry`, kept in
``app.extensions["guichet"]``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy
from flask import Flask
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from core import hookspecs
from core.appinfo import App, PluginBlueprint, Widget

API_VERSION = "1.0"  # the version of the public plugin API (core.plugin_api)

log = logging.getLogger(__name__)


@dataclass
class PluginStatus:
    """What became of an installed plugin at start-up (the operators' plugins page)."""

    name: str
    version: str = ""
    api_range: str = ""  # the GUICHET_API it declares
    problem: str = ""  # why it was refused; empty when it loaded

    @property
    def loaded(self) -> bool:
        return not self.problem


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, with the status of every plugin it was offered."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.statuses: dict[str, PluginStatus] = {}

    def refuse(self, name: str, problem: str) -> None:
        """Keep ``name`` out entirely (never half-loaded), and say why."""
        if self.has_plugin(name):
            self.unregister(name=name)
        self.set_blocked(name)
        self.statuses.setdefault(name, PluginStatus(name)).problem = problem
        log.error("plugin %s refused: %s", name, problem)


def _api_problem(plugin: object) -> tuple[str, str]:
    """The plugin's declared API range, and why it is incompatible (or "")."""
    declared = getattr(plugin, "GUICHET_API", None)
    if declared is None:
        return "", ""
    try:
        compatible = API_VERSION in SpecifierSet(str(declared))
    except InvalidSpecifier:
        return str(declared), f"declares GUICHET_API = {declared!r}, which is not a version range"
    if not compatible:
        return str(declared), (
            f"supports the plugin API {declared}; this portal offers {API_VERSION}"
        )
    return str(declared), ""


def _register(pm: PluginManager, plugin: object, name: str | None, version: str = "") -> None:
    """Register ``plugin`` if it suits this portal: a compatible API range, and only
    hook implementations of known hooks (a misspelled one is refused here, naming it)."""
    name = name or pm.get_canonical_name(plugin)
    status = pm.statuses.setdefault(name, PluginStatus(name, version))
    status.api_range, problem = _api_problem(plugin)
    if problem:
        pm.refuse(name, problem)
        return
    pm.register(plugin, name=name)
    unknown = [caller.name for caller in pm.get_hookcallers(plugin) or () if caller.spec is None]
    if unknown:
        pm.refuse(
            name,
            f"implements {', '.join(sorted(unknown))}, which is not a Guichet hook (misspelled?)",
        )


def build_plugin_manager(
    extra_plugins: Iterable[object] = (),
    load_entrypoints: bool = True,
    blocked: Iterable[str] = (),
) -> PluginManager:
    """Create the manager: the hook specifications, the extra plugins, then the
    ``guichet`` entry points. A plugin that cannot be imported, declares an
    incompatible API range or implements an unknown hook is refused with a message
    naming it (see ``pm.statuses``); the portal starts without it."""
    pm = PluginManager()
    pm.add_hookspecs(hookspecs)
    for name in blocked:
        pm.set_blocked(name)
        pm.statuses[name] = PluginStatus(name, problem="blocked by configuration")
    for plugin in extra_plugins:
        _register(pm, plugin, getattr(plugin, "__name__", None))
    if load_entrypoints:
        for entry in metadata.entry_points(group=hookspecs.PROJECT):
            if pm.is_blocked(entry.name) or pm.has_plugin(entry.name):
                continue
            version = entry.dist.version if entry.dist else ""
            try:
                plugin = entry.load()
            except Exception as error:  # noqa: BLE001 - any import error refuses that plugin
                pm.statuses[entry.name] = PluginStatus(entry.name, version)
                pm.refuse(entry.name, f"cannot be imported: {type(error).__name__}: {error}")
                continue
            _register(pm, plugin, entry.name, version)
    pm.check_pending()
    return pm


@dataclass(frozen=True)
class AppEntry:
    app: App
    plugin_name: str


class Registry:
    """Apps, widgets and gated blueprints of one Flask app, and contained hook calls."""

    def __init__(self, pm: PluginManager):
        self.pm = pm
        self.apps: dict[str, AppEntry] = {}
        self.widgets: dict[str, Widget] = {}
        self.blueprint_apps: dict[str, str] = {}  # blueprint name -> app key
        self.operator_blueprints: set[str] = set()  # blueprints for operators only
        self.migrations: list[tuple[str, Any]] = []  # (plugin, MigrationLocation)
        self._subsets: dict[frozenset[str], set[object]] = {}
        self._plugin_apps: dict[str, set[str]] = {}

    # -- start-up -----------------------------------------------------------------

    def load(self, flask_app: Flask) -> None:
        """Collect apps, widgets and blueprints from every plugin, and register the
        blueprints on ``flask_app``; the hooks run in its app context, so they may read
        its configuration (``current_app.config``)."""
        with flask_app.app_context():
            self._load(flask_app)

    def _load(self, flask_app: Flask) -> None:
        owners: dict[str, str] = {}
        declared = self.results_by_plugin("guichet_apps")
        for plugin_name, app in declared:
            if isinstance(app, App) and owners.setdefault(app.key, plugin_name) != plugin_name:
                log.error(
                    "plugin %s declares app %r, already declared by plugin %s; ignored",
                    plugin_name,
                    app.key,
                    owners[app.key],
                )
                self.pm.refuse(
                    plugin_name,
                    f"declares app {app.key!r}, which plugin {owners[app.key]} declares already",
                )
        for plugin_name, app in declared:
            if not self.pm.has_plugin(plugin_name):
                continue  # refused above: none of its apps
            if not isinstance(app, App):
                log.error("plugin %s returned %r from guichet_apps, not an App", plugin_name, app)
                continue
            self.apps[app.key] = AppEntry(app, plugin_name)
            self._plugin_apps.setdefault(plugin_name, set()).add(app.key)
        for plugin_name, widget in self.results_by_plugin("guichet_widgets"):
            if widget.app_key not in self._plugin_apps.get(plugin_name, ()):
                log.error("plugin %s: widget %r names a foreign app", plugin_name, widget.key)
                continue
            self.widgets[widget.key] = widget
        for plugin_name, item in self.results_by_plugin("guichet_blueprints"):
            if not isinstance(item, PluginBlueprint):
                log.error("plugin %s returned %r from guichet_blueprints", plugin_name, item)
                continue
            if item.app_key is not None and item.app_key not in self._plugin_apps.get(
                plugin_name, ()
            ):
                log.error("plugin %s: blueprint for foreign app %r", plugin_name, item.app_key)
                continue
            flask_app.register_blueprint(item.blueprint, url_prefix=item.url_prefix)
            if item.operators:
                self.operator_blueprints.add(item.blueprint.name)
            elif item.app_key is not None:
                self.blueprint_apps[item.blueprint.name] = item.app_key

    # -- calls --------------------------------------------------------------------

    def call(self, hook: str, enabled: frozenset[str] | None = None, **kwargs: Any) -> list:
        """Call ``hook`` on every plugin, or only on those enabled for an organisation
        when ``enabled`` (its set of enabled app keys) is given. Each implementation is
        called on its own: one that raises is logged with its plugin's name and skipped.
        List results are flattened; ``None`` results are dropped."""
        return [item for _, item in self.results_by_plugin(hook, enabled, **kwargs)]

    def results_by_plugin(
        self, hook: str, enabled: frozenset[str] | None = None, **kwargs: Any
    ) -> list[tuple[str, Any]]:
        """What :meth:`call` returns, each item with the name of the plugin it came from."""
        caller = getattr(self.pm.hook, hook)
        if enabled is not None:
            caller = self.pm.subset_hook_caller(hook, self._disabled_plugins(enabled))
        results: list[tuple[str, Any]] = []
        for impl in caller.get_hookimpls():  # in registration order
            try:
                value = impl.function(*[kwargs[name] for name in impl.argnames])
            except Exception:
                log.exception("plugin %s failed in %s", impl.plugin_name, hook)
                continue
            if value is None:
                continue
            if isinstance(value, list | tuple):
                results.extend((impl.plugin_name, item) for item in value)
            else:
                results.append((impl.plugin_name, value))
        return results

    def _disabled_plugins(self, enabled: frozenset[str]) -> set[object]:
        """Plugins that own apps, none of which is in ``enabled`` (cached per set)."""
        removed = self._subsets.get(enabled)
        if removed is None:
            removed = {
                self.pm.get_plugin(name)
                for name, keys in self._plugin_apps.items()
                if not keys & enabled
            }
            self._subsets[enabled] = removed
        return removed

    # -- lookups ------------------------------------------------------------------

    def app(self, key: str) -> App | None:
        entry = self.apps.get(key)
        return entry.app if entry else None

    def sorted_apps(self, keys: Iterable[str] | None = None) -> list[App]:
        wanted = self.apps.keys() if keys is None else keys
        return sorted(
            (self.apps[k].app for k in wanted if k in self.apps), key=lambda a: str(a.name)
        )


def registry(flask_app: Flask) -> Registry:
    return flask_app.extensions["guichet"]


def provider_instances(flask_app: Flask, hook: str) -> dict[str, Any]:
    """One instance per app of each provider class the plugins return from ``hook``
    (``guichet_payment_providers``...), made with the app's configuration on first
    use, by the class's ``key``."""
    cache = flask_app.extensions.setdefault("guichet_providers", {})
    if hook not in cache:
        classes = registry(flask_app).call(hook)
        cache[hook] = {cls.key: cls(flask_app.config) for cls in classes}
    return cache[hook]
