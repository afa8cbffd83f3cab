"""Built-in apps "Vos consommations": usage over time with a chart, comparisons, drill
down to the records, CSV export and a dashboard widget.

One plugin, several apps: "Vos consommations" shows every product family, and operators
declare more in the ``CONSUMPTION_APPS`` setting, each showing some families, e.g.::

    CONSUMPTION_APPS = [{"key": "conso_ma", "name": "Vos consommations MA",
                         "families": ["Machines à affranchir"]}]

Each app has its own pages (a blueprint of its own), widget, favourite and switch per
organisation. The views read the monthly totals that the import keeps up to date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l

from core.plugin_api import (
    Action,
    ApiImport,
    App,
    MenuItem,
    MigrationLocation,
    PluginBlueprint,
    SearchResult,
    Widget,
    db,
    hookimpl,
    import_command,
    scoped,
)

from .importing import import_consumption, records_from_csv
from .schema import RECORD_SCHEMA

GUICHET_API = ">=1.0,<2"  # the plugin API range this plugin supports

SECTION = _l("Consumption")
MAIN = {"key": "consumption", "name": _l("Your consumption"), "families": []}


@dataclass(frozen=True)
class ConsumptionApp:
    """One consumption app: its key (also its blueprint's name), its name, the product
    families it shows (all when empty) and the URL it lives under."""

    key: str
    name: object
    families: tuple[str, ...]

    @property
    def prefix(self) -> str:
        return "/consommations" if self.key == MAIN["key"] else f"/consommations/{self.key}"


def configured_apps() -> list[ConsumptionApp]:
    """ "Vos consommations", then the apps of the ``CONSUMPTION_APPS`` setting."""
    declared = [MAIN, *current_app.config.get("CONSUMPTION_APPS", [])]
    return [ConsumptionApp(a["key"], a["name"], tuple(a.get("families") or ())) for a in declared]


@hookimpl
def guichet_apps():
    return [
        App(
            key=app.key,
            name=app.name,
            endpoint=f"{app.key}.index",
            description=_l("What you consumed, month by month, compared with last year."),
            icon="chart",
            section=SECTION,
        )
        for app in configured_apps()
    ]


@hookimpl
def guichet_blueprints():
    from .pages import blueprint_for

    return [
        PluginBlueprint(blueprint_for(app), app_key=app.key, url_prefix=app.prefix)
        for app in configured_apps()
    ]


@hookimpl
def guichet_widgets():
    return [
        Widget(f"{app.key}.glance", app.key, app.name, f"{app.key}.widget")
        for app in configured_apps()
    ]


@hookimpl
def guichet_menu_items(user, organisation):
    return [
        MenuItem(app.key, SECTION, app.name, f"{app.key}.index", order=30 + n)
        for n, app in enumerate(configured_apps())
    ]


@hookimpl
def guichet_actions(target):
    """On a contract's page: its consumption."""
    if getattr(target, "__tablename__", None) == "contracts":
        url = url_for(f"{MAIN['key']}.records", contract=target.number)
        return [Action(MAIN["key"], _l("See its consumption"), url, order=20)]
    return []


@hookimpl
def guichet_search(query, scope):
    """Products consumed, each leading to its consumption (in the main app)."""
    from .models import MonthlyTotal

    products = db.session.scalars(
        scoped(MonthlyTotal, scope)
        .with_only_columns(MonthlyTotal.product)
        .where(MonthlyTotal.product.ilike(f"%{query}%"))
        .distinct()
        .order_by(MonthlyTotal.product)
        .limit(5)
    )
    main = MAIN["key"]
    return [
        SearchResult(main, product, url_for(f"{main}.index", product=product, group="month"))
        for product in products
    ]


@hookimpl
def guichet_api_imports():
    return [
        ApiImport(
            "consumption",
            import_consumption,
            "Create or update consumption records (keyed by the provider's record id)",
            RECORD_SCHEMA,
        )
    ]


@hookimpl
def guichet_cli(group):
    @group.group("consumption")
    def consumption_cli():
        """Consumption."""

    import_command(
        consumption_cli,
        import_consumption,
        "consumption",
        records_from_csv,
        help="Import consumption records from a JSON file (the API's format) or a CSV file.",
    )


@hookimpl
def guichet_demo_data(organisation):
    from .demo import demo_records

    result = import_consumption(demo_records(organisation, date.today()))
    return [f"consumption: {len(result.created)} created, {len(result.unchanged)} unchanged"]


@hookimpl
def guichet_migrations():
    return MigrationLocation(
        "consumption", Path(__file__).parent / "migrations", "alembic_version_consumption"
    )
