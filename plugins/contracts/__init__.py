"""Built-in app "Vos contrats": the contracts of the accounts in scope, with their
documents, a dashboard widget and the import command. Other apps link a contract to
their data (its invoices, its consumption) through ``guichet_actions``, knowing it by
this app's public module (``plugins.contracts.public``)."""

from __future__ import annotations

from datetime import date

from flask import url_for
from sqlalchemy.orm import joinedload

from core.plugin_api import (
    Account,
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

from . import cli
from .importing import import_contracts
from .models import Contract
from .public import APP_KEY
from .schema import ContractItem
from .views import bp

GUICHET_API = ">=3.0,<4"  # the plugin API range this plugin supports

APP = App(
    key=APP_KEY,
    name=_l("Your contracts"),
    endpoint="contracts.index",
    description=_l("Your contracts, their dates and their documents."),
    icon="contract",
    section=_l("Contracts and invoices"),
    blueprint=bp,
    url_prefix="/contrats",
    widgets=(
        Widget("contracts.glance", title=_l("Contracts at a glance"), endpoint="contracts.widget"),
    ),
    menu=(MenuItem(order=10),),
    activity={"download.contract": _l("Contract document downloaded")},
)


@hookimpl
def guichet_apps():
    return [APP]


@hookimpl
def guichet_search(query, scope):
    """Contracts by number, product, and the client code or name (the site) of their
    account."""
    pattern = f"%{query}%"
    accounts = (
        scoped(Account, scope)
        .with_only_columns(Account.id)
        .where(Account.client_code.startswith(query) | Account.name.ilike(pattern))
    )
    rows = db.session.scalars(
        scoped(Contract, scope)
        .where(
            Contract.number.startswith(query)
            | Contract.product.ilike(pattern)
            | Contract.account_id.in_(accounts)
        )
        .options(joinedload(Contract.account))
        .order_by(Contract.status, Contract.start_on.desc())
        .limit(5)
    )
    return [
        SearchResult(
            APP_KEY,
            f"{r.product} — {r.number}",
            url_for("contracts.detail", contract_id=r.id),
            f"{r.account.client_code} {r.account.name}",
        )
        for r in rows
    ]


@hookimpl
def guichet_demo_data(organisation):
    from .demo import demo_contracts

    result = import_contracts(demo_contracts(organisation, date.today()))
    return [f"contracts: {len(result.created)} created, {len(result.unchanged)} unchanged"]


@hookimpl
def guichet_api_imports():
    return [
        ApiImport(
            "contracts",
            import_contracts,
            "Create or update contracts and their documents",
            ContractItem,
        )
    ]


@hookimpl
def guichet_cli(group):
    cli.add_commands(group)
