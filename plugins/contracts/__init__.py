"""Built-in app "Vos contrats": the contracts of the accounts in scope, with their
documents, a dashboard widget and the import command. Other apps link a contract to
their data (its invoices, its consumption) through ``guichet_actions``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from flask import Blueprint, abort, render_template, request, send_file, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_
from sqlalchemy.orm import contains_eager, joinedload

from core.plugin_api import (
    PAGE_SIZES,
    Account,
    ApiImport,
    App,
    Listing,
    MenuItem,
    MigrationLocation,
    PluginBlueprint,
    SearchResult,
    Widget,
    db,
    get_scoped_or_404,
    hookimpl,
    import_command,
    page_rows,
    read_listing,
    render,
    scoped,
    stored_path,
)

from .importing import contracts_from_csv, import_contracts
from .models import STATUSES, Contract, ContractDocument
from .schema import CONTRACT_SCHEMA

GUICHET_API = ">=1.0,<2"  # the plugin API range this plugin supports

APP_KEY = "contracts"
SECTION = _l("Contracts and invoices")
ENDING_SOON_DAYS = 90
SORTS = {
    "number": Contract.number,
    "product": Contract.product,
    "client_code": Account.client_code,
    "status": Contract.status,
    "start": Contract.start_on,
    "end": Contract.end_on,
}
bp = Blueprint("contracts", __name__, template_folder="templates")


@hookimpl
def guichet_apps():
    return [
        App(
            key=APP_KEY,
            name=_l("Your contracts"),
            endpoint="contracts.index",
            description=_l("Your contracts, their dates and their documents."),
            icon="contract",
            section=SECTION,
        )
    ]


@hookimpl
def guichet_blueprints():
    return [PluginBlueprint(bp, app_key=APP_KEY, url_prefix="/contrats")]


@hookimpl
def guichet_widgets():
    return [Widget("contracts.glance", APP_KEY, _l("Contracts at a glance"), "contracts.widget")]


@hookimpl
def guichet_menu_items(user, organisation):
    return [MenuItem(APP_KEY, SECTION, _l("Your contracts"), "contracts.index", order=10)]


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
            CONTRACT_SCHEMA,
        )
    ]


@hookimpl
def guichet_migrations():
    return MigrationLocation(
        "contracts", Path(__file__).parent / "migrations", "alembic_version_contracts"
    )


@hookimpl
def guichet_cli(group):
    @group.group("contracts")
    def contracts_cli():
        """Contracts."""

    import_command(
        contracts_cli,
        import_contracts,
        "contracts",
        contracts_from_csv,
        help="Import contracts from a JSON file (the API's format) or a CSV file.",
    )


@dataclass
class Filters(Listing):
    status: str = ""

    def own_args(self) -> dict[str, str]:
        return {"status": self.status}


def _filters(args) -> Filters:
    f = Filters()
    read_listing(f, args, SORTS, "start", descending=True)
    if args.get("status") in STATUSES:
        f.status = args["status"]
    return f


@bp.get("/")
def index():
    """ "Vos contrats": searched, sorted, paged; the table alone for HTMX."""
    f = _filters(request.args)
    query = scoped(Contract)
    if f.q:
        query = query.where(
            or_(Contract.number.startswith(f.q), Contract.product.ilike(f"%{f.q}%"))
        )
    if f.status:
        query = query.where(Contract.status == f.status)
    column = SORTS[f.sort]
    order = (column.desc(), Contract.id.desc()) if f.descending else (column, Contract.id)
    joined = query.join(Contract.account).options(contains_eager(Contract.account))
    rows = page_rows(f, joined, order, count=query)
    return render(
        "contracts/list.html", "results", filters=f, contracts=rows, page_sizes=PAGE_SIZES
    )


@bp.get("/<int:contract_id>")
def detail(contract_id: int):
    """A contract with its documents; other apps add their links (invoices, consumption)."""
    contract = get_scoped_or_404(Contract, contract_id)
    return render_template("contracts/detail.html", contract=contract, today=date.today())


@bp.get("/<int:contract_id>/documents/<int:document_id>")
def document(contract_id: int, document_id: int):
    """One of the contract's documents, as the provider sent it."""
    contract = get_scoped_or_404(Contract, contract_id)
    found = db.session.get(ContractDocument, document_id)
    if found is None or found.contract_id != contract.id:
        abort(404)
    name = f"{contract.number} - {found.title}.pdf".replace("/", "-")
    return send_file(stored_path(found.sha256), mimetype="application/pdf", download_name=name)


@bp.get("/widget")
def widget():
    """Dashboard widget: contracts by status, and those ending within 90 days."""
    today = date.today()
    counts = dict(
        db.session.execute(
            scoped(Contract)
            .with_only_columns(Contract.status, func.count())
            .group_by(Contract.status)
            .order_by(None)
        ).all()
    )
    ending = db.session.scalars(
        scoped(Contract)
        .where(Contract.status == "active")
        .where(Contract.end_on.between(today, today + timedelta(days=ENDING_SOON_DAYS)))
        .order_by(Contract.end_on, Contract.id)
        .limit(5)
    ).all()
    return render_template(
        "contracts/widget.html", counts=counts, ending=ending, days=ENDING_SOON_DAYS
    )
