"""Built-in app "Vos factures électroniques": every invoice and credit note also as
Factur-X (profile EN 16931: the PDF with its structured data inside) and as UBL 2.1,
offered on the invoice's page beside the PDF and on this app's page for the latest
ones. Each document is checked against its XML schema and the EN 16931 business
rules before it is served; an invoice that cannot make a valid one says what it
lacks."""

from __future__ import annotations

import click
from flask import url_for
from huey import crontab

from core.plugin_api import (
    Action,
    ApiImport,
    App,
    DocumentFormat,
    ListFilter,
    MenuItem,
    OperatorPage,
    PeriodicTask,
    PluginBlueprint,
    hookimpl,
)
from core.plugin_api import lazy_gettext as _l
from plugins.invoices.public import Invoice

from . import checks, lifecycle, provided, transmission
from .desk import desk
from .documents import facturx_document, ubl_document
from .platform import HttpPlatform
from .views import bp

GUICHET_API = ">=3.0,<4"  # the plugin API range this plugin supports

APP_KEY = "einvoicing"
APP = App(
    key=APP_KEY,
    name=_l("Your electronic invoices"),
    endpoint="einvoicing.index",
    description=_l("Your invoices as Factur-X and UBL, the formats of electronic invoicing."),
    icon="invoice",
    section=_l("Contracts and invoices"),
    requires=("invoices",),
    blueprint=bp,
    url_prefix="/factures-electroniques",
    menu=(MenuItem(order=25),),
    defaults={
        # the reason written for lines at 0 % VAT (EN 16931 asks for one), e.g. the
        # universal postal service: "Exonération de TVA, article 261-4-9° du CGI"
        "EINVOICING_EXEMPTION_REASON": "Exonération de TVA",
        # an approved platform the portal transmits new invoices through ("http": the
        # protocol of .local_platform; "" transmits nothing, the billing system does)
        "EINVOICING_PLATFORM": "",
        "EINVOICING_PLATFORM_URL": "",
        "EINVOICING_PLATFORM_KEY": "",
        "EINVOICING_PLATFORM_FORMAT": "facturx",  # or "ubl"
        "EINVOICING_SINCE": "2026-09-01",  # invoices issued before are not transmitted
    },
)


@hookimpl
def guichet_apps():
    return [APP]


@hookimpl
def guichet_blueprints():
    return [PluginBlueprint(desk, app_key=None, url_prefix="/operator/e-factures", operators=True)]


@hookimpl
def guichet_operator_pages():
    return [OperatorPage(_l("Not e-invoiceable"), "einvoicing_desk.index", order=60)]


@hookimpl
def guichet_einvoicing_platforms():
    return [HttpPlatform]


@hookimpl
def guichet_periodic_tasks():
    """The platform's new statuses, every five minutes; transmissions a stopped worker
    left queued, every fifteen."""
    return [
        PeriodicTask("einvoicing.statuses", crontab(minute="*/5"), transmission.poll_statuses),
        PeriodicTask("einvoicing.resume", crontab(minute="*/15"), transmission.resume),
    ]


@hookimpl
def guichet_cli(group):
    @group.group("einvoicing")
    def einvoicing_cli():
        """E-invoices."""

    @einvoicing_cli.command("platform")
    @click.option("--host", default="127.0.0.1")
    @click.option("--port", default=5002, type=int)
    def platform(host, port):
        """Run a local stand-in for an approved platform (for the demo)."""
        from .local_platform import LocalPlatform

        click.echo(f"Local e-invoicing platform on http://{host}:{port} (any test_… token)")
        LocalPlatform().serve(host, port)


@hookimpl
def guichet_document_formats():
    return [
        DocumentFormat(
            "facturx", APP_KEY, Invoice, "Factur-X", "application/pdf", facturx_document
        ),
        DocumentFormat("ubl", APP_KEY, Invoice, "UBL", "application/xml", ubl_document),
    ]


@hookimpl
def guichet_list_filters(list_key):
    """The invoice list filtered by lifecycle status (the latest one)."""
    if list_key != "invoices":
        return []
    return [
        ListFilter(
            "lifecycle",
            APP_KEY,
            _l("Lifecycle"),
            lifecycle.filter_choices,
            lifecycle.with_current_status,
        )
    ]


@hookimpl
def guichet_actions(target):
    """On an invoice's page: its lifecycle."""
    if isinstance(target, Invoice):
        url = url_for("einvoicing.statuses", invoice_id=target.id)
        return [Action(APP_KEY, _l("Lifecycle"), url, order=30)]
    return []


@hookimpl
def guichet_collection_holds(invoice_ids):
    """An invoice the buyer disputes or refused is not chased for payment."""
    return lifecycle.holds(invoice_ids)


@hookimpl
def guichet_event(name, payload):
    """An invoice paid through the portal is "Encaissée"; an imported one is checked
    for what an e-invoice needs, by the worker."""
    if name == "invoice.paid":
        lifecycle.cashed(payload["invoice_id"])
    elif name in ("invoice.created", "invoice.updated"):
        checks.note(payload["invoice_id"])
        if name == "invoice.created":
            transmission.note(payload["invoice_id"])


@hookimpl
def guichet_api_imports():
    return [
        ApiImport(
            "invoice_statuses",
            lifecycle.import_statuses,
            "Record lifecycle statuses of invoices (cycle de vie), from the billing system "
            "or an approved platform",
            lifecycle.StatusItem,
        ),
        ApiImport(
            "einvoices",
            provided.import_einvoices,
            "Give the e-invoices the billing system made itself (Factur-X or UBL): each "
            "checked against the schema, the EN 16931 rules and its invoice, then served "
            "instead of the portal's",
            provided.EinvoiceItem,
        ),
    ]
