"""Built-in apps "Vos consommations": usage over time with a chart, comparisons, drill
down to the records, CSV export and a dashboard widget.

One plugin, several apps: "Vos consommations" shows every product family, and operators
declare more in the ``CONSUMPTION_APPS`` setting, each showing some families, e.g.::

    CONSUMPTION_APPS = [{"key": "conso_ma", "name": "Vos consommations MA",
                         "families": ["Machines à affranchir"]}]

Each app has its own pages (a blueprint of its own), widget, favourite and switch per
organisation. The views read the monthly totals that the import keeps up to date."""

from __future__ import annotations

from datetime import date

from flask import url_for

from core.plugin_api import (
    Action,
    ApiImport,
    App,
    MenuItem,
    SearchResult,
    Widget,
    db,
    hookimpl,
    scoped,
)
from core.plugin_api import lazy_gettext as _l
from plugins.contracts.public import Contract

from . import cli
from .apps import MAIN, configured_apps
from .importing import import_consumption
from .schema import RecordItem
from .views import blueprint_for

GUICHET_API = ">=3.0,<4"  # the plugin API range this plugin supports

SECTION = _l("Consumption")


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
            blueprint=blueprint_for(app),
            url_prefix=app.prefix,
            widgets=(Widget(f"{app.key}.glance", title=app.name, endpoint=f"{app.key}.widget"),),
            menu=(MenuItem(order=30 + n),),
            activity={"download.consumption": _l("Consumption exported")},
            defaults={"CONSUMPTION_HISTORY_MONTHS": 36},
        )
        for n, app in enumerate(configured_apps())
    ]


@hookimpl
def guichet_actions(target):
    """On a contract's page: its consumption."""
    if isinstance(target, Contract):
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
            RecordItem,
        )
    ]


@hookimpl
def guichet_cli(group):
    cli.add_commands(group)


@hookimpl
def guichet_demo_data(organisation):
    from .demo import demo_records

    result = import_consumption(demo_records(organisation, date.today()))
    return [f"consumption: {len(result.created)} created, {len(result.unchanged)} unchanged"]
