"""The app system: one pluggy manager per Flask app, the index of apps and widgets,
per-organisation hook calls, and the blueprint gate.

Everything a plugin contributes passes through :class:`Registry`, kept in
``app.extensions["guichet"]``. Hooks are called through pluggy itself (its order, its
``firstresult`` hooks, its wrappers and its tracing), each implementation contained:
one that raises is logged with its plugin's name and counts as having returned
nothing, and what it returns is checked against the hook's declared return type (a
widget given as a dict is refused with a message, never a crash further on).
"""

from __future__ import annotations

import functools
import logging
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from importlib import metadata
from typing import Any

import pluggy
from flask import Flask
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from core import hookspecs
from core.appinfo import App, MenuItem, Widget

# The version of the public plugin API (core.plugin_api). 2.0: apps declare their
# pages, widgets, menu entries and settings in their manifest (App), guichet_widgets
# and plugin_defaults are gone, migrations are found by convention. 3.0: documents live
# in the document storage (DocumentFile names a storage key and reads itself;
# stored_path and write_atomically are gone: storage(), stored_key, read_stored).
API_VERSION = "3.1"

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


class PerOrganisationHook(TypeError):
    """A per-organisation hook was called for no organisation."""


@functools.cache
def expected_item(hook: str) -> tuple[type, bool] | None:
    """What each item a hook returns must be, from its specification's return type:
    ``(Widget, False)`` for ``list[Widget]``, ``(PaymentProvider, True)`` for
    ``list[type[PaymentProvider]]``; ``None`` when the hook returns nothing."""
    import click

    from core import appinfo, models, payments, platforms, postal, tenancy

    modules = (appinfo, models, payments, platforms, postal, tenancy)
    names = {k: v for module in modules for k, v in vars(module).items()}
    names["click"] = click
    declared = typing.get_type_hints(getattr(hookspecs, hook), localns=names).get("return")
    while True:
        args = [a for a in typing.get_args(declared) if a is not type(None)]
        origin = typing.get_origin(declared)
        if origin in (types.UnionType, typing.Union, list) and len(args) == 1:
            declared = args[0]  # X | None, list[X]
        elif origin is type:
            return args[0], True
        elif declared in (None, type(None)):
            return None
        else:
            return typing.get_origin(declared) or declared, False


def checked(hook: str, plugin_name: str, value: Any) -> Any:
    """``value`` as returned by a plugin's implementation of ``hook``, without the
    items that are not what the hook declares (each refused with a logged message)."""
    expected = expected_item(hook)
    if expected is None or value is None:
        return value
    kind, is_class = expected

    def fits(item: Any) -> bool:
        if is_class:
            return isinstance(item, type) and issubclass(item, kind)
        return isinstance(item, kind)

    many = isinstance(value, list | tuple)
    kept = []
    for item in value if many else [value]:
        if fits(item):
            kept.append(item)
            continue
        what = f"a subclass of {kind.__name__}" if is_class else f"a {kind.__name__}"
        log.error("plugin %s returned %r from %s, not %s; ignored", plugin_name, item, hook, what)
    if many:
        return kept
    return kept[0] if kept else None


def _contained(function: Callable, plugin_name: str, hook: str) -> Callable:
    """``function`` (a hook implementation) logging what it raises and returning
    ``None`` then, its return value checked (:func:`checked`)."""

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            value = function(*args, **kwargs)
        except Exception:
            log.exception("plugin %s failed in %s", plugin_name, hook)
            return None
        return checked(hook, plugin_name, value)

    return call


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, with the status of every plugin it was offered, and each
    hook implementation contained (:func:`_contained`); wrappers are left as they are,
    so that they may see and change what the others return."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.statuses: dict[str, PluginStatus] = {}

    def register(self, plugin: object, name: str | None = None) -> str | None:
        name = super().register(plugin, name)
        for caller in self.get_hookcallers(plugin) or () if name else ():
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and not (impl.wrapper or impl.hookwrapper):
                    impl.function = _contained(impl.function, impl.plugin_name, caller.name)
        return name

    def trace_calls(self) -> None:
        """Log every hook call: the plugins it reaches, and what they returned
        (``GUICHET_TRACE_PLUGINS=1``)."""

        def before(hook: str, impls: list, kwargs: dict) -> None:
            log.info(
                "hook %s(%s) -> %s",
                hook,
                ", ".join(kwargs),
                ", ".join(i.plugin_name for i in impls) or "no plugin",
            )

        def after(outcome: Any, hook: str, impls: list, kwargs: dict) -> None:
            log.info("hook %s returned %r", hook, outcome.get_result())

        self.add_hookcall_monitoring(before, after)

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
    trace: bool = False,
) -> PluginManager:
    """Create the manager: the hook specifications, the extra plugins, then the
    ``guichet`` entry points. A plugin that cannot be imported, declares an
    incompatible API range or implements an unknown hook is refused with a message
    naming it (see ``pm.statuses``); the portal starts without it. ``trace`` logs
    every hook call."""
    pm = PluginManager()
    pm.add_hookspecs(hookspecs)
    if trace:
        pm.trace_calls()
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
        self.menu: list[MenuItem] = []  # the apps' own entries (App.menu)
        self.blueprint_apps: dict[str, str] = {}  # blueprint name -> app key
        self.operator_blueprints: set[str] = set()  # blueprints for operators only
        self.migrations: list[tuple[str, Any]] = []  # (plugin, MigrationLocation)
        self._subsets: dict[tuple[str, frozenset[str]], Any] = {}
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
            if owners.setdefault(app.key, plugin_name) != plugin_name:
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
            if self.pm.has_plugin(plugin_name):  # else refused above: none of its apps
                self._load_manifest(flask_app, plugin_name, app)
        for plugin_name, item in self.results_by_plugin("guichet_blueprints"):
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

    def _load_manifest(self, flask_app: Flask, plugin_name: str, app: App) -> None:
        """Take in what an app declares: its defaults, gated blueprint, widgets and menu
        entries (what a widget or an entry leaves out is the app's)."""
        self.apps[app.key] = AppEntry(app, plugin_name)
        self._plugin_apps.setdefault(plugin_name, set()).add(app.key)
        for name, value in app.defaults.items():
            flask_app.config.setdefault(name, value)
        if app.blueprint is not None:
            flask_app.register_blueprint(app.blueprint, url_prefix=app.url_prefix)
            self.blueprint_apps[app.blueprint.name] = app.key
        for widget in self._parts(plugin_name, app, "widgets", Widget):
            if widget.app_key not in ("", app.key):
                log.error("plugin %s: widget %r names a foreign app", plugin_name, widget.key)
                continue
            self.widgets[widget.key] = replace(widget, app_key=app.key)
        self.menu += [
            replace(
                item,
                app_key=app.key,
                section=item.section or app.section,
                label=item.label or app.name,
                endpoint=item.endpoint or app.endpoint,
            )
            for item in self._parts(plugin_name, app, "menu", MenuItem)
            if item.app_key in ("", app.key)
        ]

    @staticmethod
    def _parts(plugin_name: str, app: App, name: str, kind: type) -> list[Any]:
        """The items of a manifest's ``name`` that are ``kind``; the others are refused
        with a message (the page never fails on them)."""
        parts = list(getattr(app, name))
        for part in parts:
            if not isinstance(part, kind):
                log.error(
                    "plugin %s: app %r declares %r among its %s, not a %s; ignored",
                    plugin_name,
                    app.key,
                    part,
                    name,
                    kind.__name__,
                )
        return [part for part in parts if isinstance(part, kind)]

    # -- calls --------------------------------------------------------------------

    def call(self, hook: str, **kwargs: Any) -> Any:
        """Call ``hook`` on every plugin, through pluggy: list results are flattened,
        ``None`` results dropped; a ``firstresult`` hook gives its one result. A
        per-organisation hook raises :class:`PerOrganisationHook`: call it with
        :meth:`for_organisation` (or :meth:`for_installation` for what belongs to no
        organisation)."""
        if hook in hookspecs.PER_ORGANISATION:
            raise PerOrganisationHook(
                f"{hook} is called per organisation: use "
                f"registry.for_organisation(membership).call({hook!r}, ...)"
            )
        return _flattened(getattr(self.pm.hook, hook), kwargs)

    def for_organisation(self, who: Any) -> OrganisationHooks:
        """The hooks as an organisation sees them: ``who`` is a membership (the apps
        that member may use) or an organisation's id (the apps it has enabled, with
        what they require). Only plugins owning one of those apps (and plugins that
        own no app) are called, and items naming another app are dropped."""
        from core.activation import usable_app_keys

        if isinstance(who, int):
            return OrganisationHooks(self, usable_app_keys(who))
        return OrganisationHooks(
            self, usable_app_keys(who.organisation_id, who.is_admin, who.app_limit)
        )

    def for_installation(self) -> OrganisationHooks:
        """The hooks for what belongs to no organisation: every plugin is called."""
        return OrganisationHooks(self, None)

    def results_by_plugin(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """The declarations of a start-up hook (apps, widgets, blueprints, migrations),
        each item with the name of the plugin it came from: the core checks that a
        plugin declares widgets and blueprints for its own apps only. Every
        implementation is called on its own, in registration order."""
        results: list[tuple[str, Any]] = []
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            value = impl.function(*[kwargs[name] for name in impl.argnames])
            if isinstance(value, list | tuple):
                results.extend((impl.plugin_name, item) for item in value)
            elif value is not None:
                results.append((impl.plugin_name, value))
        return results

    def subset_caller(self, hook: str, usable: frozenset[str]) -> Any:
        """pluggy's caller of ``hook`` without the plugins that own apps, none of which
        is in ``usable`` (cached per hook and set)."""
        key = (hook, usable)
        caller = self._subsets.get(key)
        if caller is None:
            removed = {
                self.pm.get_plugin(name)
                for name, keys in self._plugin_apps.items()
                if not keys & usable
            }
            caller = self.pm.subset_hook_caller(hook, removed)
            self._subsets[key] = caller
        return caller

    # -- lookups ------------------------------------------------------------------

    def app(self, key: str) -> App | None:
        entry = self.apps.get(key)
        return entry.app if entry else None

    def sorted_apps(self, keys: Iterable[str] | None = None) -> list[App]:
        wanted = self.apps.keys() if keys is None else keys
        return sorted(
            (self.apps[k].app for k in wanted if k in self.apps), key=lambda a: str(a.name)
        )


class OrganisationHooks:
    """Hook calls for one organisation (:meth:`Registry.for_organisation`): only the
    plugins of its usable apps are reached, and items that name an app it may not use
    (a menu entry, an action, a search result of another app) are dropped."""

    def __init__(self, apps: Registry, usable: frozenset[str] | None):
        self.registry, self.usable = apps, usable

    def menu(self, user: Any, organisation: Any) -> list[MenuItem]:
        """The header menu's entries: the usable apps' own (``App.menu``) and what
        ``guichet_menu_items`` adds, in their order."""
        found = self.call("guichet_menu_items", user=user, organisation=organisation)
        declared = [
            i for i in self.registry.menu if self.usable is None or i.app_key in self.usable
        ]
        return sorted(declared + found, key=lambda item: item.order)

    def call(self, hook: str, **kwargs: Any) -> Any:
        """Like :meth:`Registry.call`, for this organisation."""
        if self.usable is None:
            return _flattened(getattr(self.registry.pm.hook, hook), kwargs)
        found = _flattened(self.registry.subset_caller(hook, self.usable), kwargs)
        if not isinstance(found, list):
            return found
        return [i for i in found if getattr(i, "app_key", None) in (None, *self.usable)]


def _flattened(caller: Any, kwargs: dict[str, Any]) -> Any:
    """Call a pluggy hook caller; its results in the order pluggy calls the plugins
    (the last registered first, ``tryfirst`` and ``trylast`` honoured), lists joined."""
    results = caller(**kwargs)
    if caller.spec is not None and caller.spec.opts.get("firstresult"):
        return results
    flat: list[Any] = []
    for value in results:
        if isinstance(value, list | tuple):
            flat.extend(value)
        else:
            flat.append(value)
    return flat


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
