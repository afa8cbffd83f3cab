"""Built-in app "Vos factures": invoices and credit notes of the accounts in scope,
with search, sort, detail, a dashboard widget, and the import command. Other apps read
invoices through ``plugins.invoices.public``, get their PDF as a document format, and
pay them through this app's ``invoices`` payment purpose."""

from __future__ import annotations

from datetime import date

from flask import url_for
from sqlalchemy import select

from core.plugin_api import (
    Account,
    Action,
    ApiImport,
    App,
    DocumentFormat,
    MenuItem,
    PaymentPurpose,
    SearchResult,
    Widget,
    db,
    hookimpl,
    money,
    parse_amount,
    scoped,
    short_date,
    starts_with,
)
from core.plugin_api import gettext as _
from core.plugin_api import lazy_gettext as _l
from plugins.contracts.public import Contract

from . import cli, documents, queries, receipts, settlement
from .importing import import_invoices
from .models import Invoice
from .public import APP_KEY
from .schema import InvoiceItem
from .subscribers import subscriber_contains
from .views import bp

SEARCH_RESULTS = 5  # invoices the search box shows

GUICHET_API = ">=3.0,<4"  # the plugin API range this plugin supports

DEMO_INVOICES = 3000
APP = App(
    key=APP_KEY,
    name=_l("Your invoices"),
    endpoint="invoices.index",
    description=_l("Your invoices and credit notes: search, details and amounts to pay."),
    icon="invoice",
    section=_l("Contracts and invoices"),
    blueprint=bp,
    url_prefix="/factures",
    widgets=(Widget("invoices.latest", title=_l("Latest invoices"), endpoint="invoices.widget"),),
    menu=(MenuItem(order=20),),
    activity={
        "download.invoice": _l("Invoice downloaded"),
        "download.invoices_zip": _l("Invoices downloaded as a ZIP"),
        "download.invoices_csv": _l("Invoice list exported"),
    },
    defaults={
        "INVOICES_HISTORY_DAYS": 730,  # invoices older than this are not shown
        "INVOICES_ZIP_CAP": 3000,
        # the worker makes the PDFs of invoices issued this many days ago or less when
        # they arrive or change (older ones on their first download)
        "INVOICES_PRERENDER_DAYS": 92,
        # the receipts of paid top-ups: their numbers (one unbroken sequence), their
        # line and their mention (a prepaid balance is a multi-purpose voucher: no VAT
        # until it is spent)
        "PAYMENTS_RECEIPT_PREFIX": "RC-",
        "PAYMENTS_RECEIPT_LABEL": "Rechargement du porte-monnaie",
        "PAYMENTS_RECEIPT_NOTE": (
            "TVA non applicable au rechargement : bon à usages multiples (article 256 ter "
            "du CGI). La TVA est due sur les services payés avec ce solde, qui vous sont "
            "facturés."
        ),
    },
)


@hookimpl
def guichet_apps():
    return [APP]


@hookimpl
def guichet_event(name, payload):
    """An invoice created or changed (by an import, a payment, a chargeback) gets its
    PDF made by the worker."""
    if name in ("invoice.created", "invoice.updated"):
        documents.note_changed(payload["invoice_id"])


@hookimpl
def guichet_search(query, scope):
    """Invoices of the history window by number, client code, amount (excl. or incl.
    VAT, as typed: "67 520,70") and subscriber, newest first. Each way of matching is
    a query of its own, on its own index: together in one, they read every invoice."""
    accounts = db.session.scalars(
        scoped(Account, scope)
        .with_only_columns(Account.id)
        .where(Account.client_code.startswith(query))
        .order_by(Account.client_code)
        .limit(SEARCH_RESULTS)
    )
    # an account at a time: its newest invoices are the first of its index
    ways = [starts_with(Invoice.number, query), *(Invoice.account_id == a for a in accounts)]
    try:
        cents = parse_amount(query.removesuffix("€").strip())
    except ValueError:
        cents = None
    if cents is not None:
        ways += [Invoice.total_ttc == cents, Invoice.total_ht == cents]
    if len(query) >= 3 and not query.isdigit():
        ways.append(subscriber_contains(scope, query))
    recent = scoped(Invoice, scope).where(Invoice.issued_on >= queries.history_start(date.today()))
    found = {}
    for way in ways:
        newest = recent.where(way).order_by(Invoice.issued_on.desc(), Invoice.id.desc())
        found.update((r.id, r) for r in db.session.scalars(newest.limit(SEARCH_RESULTS)))
    rows = sorted(found.values(), key=lambda r: (r.issued_on, r.id), reverse=True)
    return [
        SearchResult(
            APP_KEY,
            f"{_('Credit note') if r.kind == 'credit_note' else _('Invoice')} {r.number}",
            url_for("invoices.detail", invoice_id=r.id),
            f"{short_date(r.issued_on)} · {money(r.total_ttc, r.currency)} · {r.subscriber}",
        )
        for r in rows[:SEARCH_RESULTS]
    ]


@hookimpl
def guichet_actions(target):
    """On a contract's page: its invoices (those that name it as local or framework
    contract)."""
    if isinstance(target, Contract):
        url = url_for("invoices.index", contract=target.number)
        return [Action(APP_KEY, _l("See its invoices"), url, order=10)]
    return []


def by_number(number: str) -> Invoice | None:
    """The invoice of a number (``GET /api/v1/invoices/<number>/<format>``)."""
    return db.session.scalar(select(Invoice).where(Invoice.number == number))


@hookimpl
def guichet_document_formats():
    return [
        DocumentFormat("pdf", APP_KEY, Invoice, "PDF", "application/pdf", documents.pdf_document)
    ]


@hookimpl
def guichet_payment_purposes():
    """A payment of invoices settles them; a paid top-up gets its receipt here."""
    return [
        PaymentPurpose(
            "invoices", APP_KEY, on_paid=settlement.paid, on_charged_back=settlement.charged_back
        ),
        PaymentPurpose("topup", APP_KEY, on_paid=receipts.issue_receipt),
    ]


@hookimpl
def guichet_demo_data(organisation):
    from .demo import documented_invoices, generated_invoices

    today = date.today()
    batch = documented_invoices(today) + generated_invoices(today, DEMO_INVOICES)
    result = import_invoices(batch)
    return [f"invoices: {len(result.created)} created, {len(result.unchanged)} unchanged"]


@hookimpl
def guichet_api_imports():
    return [
        ApiImport(
            "invoices",
            import_invoices,
            "Create or update invoices and credit notes, with lines, ranges and PDF",
            InvoiceItem,
            find=by_number,
        )
    ]


@hookimpl
def guichet_cli(group):
    cli.add_commands(group)
