"""Built-in app "Vos factures": invoices and credit notes of the accounts in scope,
with search, sort, detail, a dashboard widget, and the import command."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from core.plugin_api import (
    PAGE_SIZES,
    Account,
    Action,
    ApiImport,
    App,
    DocumentFormat,
    MenuItem,
    MigrationLocation,
    PaymentPurpose,
    PluginBlueprint,
    SearchResult,
    Selection,
    Widget,
    csv_response,
    db,
    error_response,
    get_scoped_or_404,
    hookimpl,
    import_command,
    money,
    parse_amount,
    plugin_defaults,
    render,
    requested_dialect,
    scoped,
    short_date,
)

from . import archive, documents, export, public, queries, receipts, settlement
from .importing import from_csv, import_invoices
from .models import Invoice, InvoiceLine
from .schema import INVOICE_SCHEMA

log = logging.getLogger(__name__)
GUICHET_API = ">=1.0,<2"  # the plugin API range this plugin supports

APP_KEY = public.APP_KEY
SECTION = _l("Contracts and invoices")
LINES_PER_PAGE = 20
DEMO_INVOICES = 3000
bp = Blueprint("invoices", __name__, template_folder="templates")
plugin_defaults(
    bp,
    {
        "INVOICES_HISTORY_DAYS": 730,  # invoices older than this are not shown
        "INVOICES_ZIP_CAP": 200,
        # the receipts of paid top-ups: their numbers (one unbroken sequence), their line
        # and their mention (a prepaid balance is a multi-purpose voucher: no VAT until
        # it is spent)
        "PAYMENTS_RECEIPT_PREFIX": "RC-",
        "PAYMENTS_RECEIPT_LABEL": "Rechargement du porte-monnaie",
        "PAYMENTS_RECEIPT_NOTE": (
            "TVA non applicable au rechargement : bon à usages multiples (article 256 ter du "
            "CGI). La TVA est due sur les services payés avec ce solde, qui vous sont facturés."
        ),
    },
)


@hookimpl
def guichet_apps():
    return [
        App(
            key=APP_KEY,
            name=_l("Your invoices"),
            endpoint="invoices.index",
            description=_l("Your invoices and credit notes: search, details and amounts to pay."),
            icon="invoice",
            section=SECTION,
        )
    ]


@hookimpl
def guichet_blueprints():
    return [PluginBlueprint(bp, app_key=APP_KEY, url_prefix="/factures")]


@hookimpl
def guichet_widgets():
    return [Widget("invoices.latest", APP_KEY, _l("Latest invoices"), "invoices.widget")]


@hookimpl
def guichet_menu_items(user, organisation):
    return [MenuItem(APP_KEY, SECTION, _l("Your invoices"), "invoices.index", order=20)]


@hookimpl
def guichet_search(query, scope):
    """Invoices of the history window by number, client code, amount (excl. or incl.
    VAT, as typed: "67 520,70") and subscriber, newest first."""
    wanted = Invoice.number.startswith(query)
    accounts = scoped(Account, scope).with_only_columns(Account.id)
    wanted |= Invoice.account_id.in_(accounts.where(Account.client_code.startswith(query)))
    try:
        cents = parse_amount(query.removesuffix("€").strip())
    except ValueError:
        cents = None
    if cents is not None:
        wanted |= (Invoice.total_ttc == cents) | (Invoice.total_ht == cents)
    if len(query) >= 3 and not query.isdigit():
        wanted |= Invoice.subscriber.ilike(f"%{query}%")
    rows = db.session.scalars(
        scoped(Invoice, scope)
        .where(wanted)
        .where(Invoice.issued_on >= queries.history_start(date.today()))
        .order_by(Invoice.issued_on.desc(), Invoice.id.desc())
        .limit(5)
    )
    return [
        SearchResult(
            APP_KEY,
            f"{_('Credit note') if r.kind == 'credit_note' else _('Invoice')} {r.number}",
            url_for("invoices.detail", invoice_id=r.id),
            f"{short_date(r.issued_on)} · {money(r.total_ttc, r.currency)} · {r.subscriber}",
        )
        for r in rows
    ]


@hookimpl
def guichet_actions(target):
    """On a contract's page: its invoices (those that name it as local or framework
    contract)."""
    if getattr(target, "__tablename__", None) == "contracts":
        url = url_for("invoices.index", contract=target.number)
        return [Action(APP_KEY, _l("See its invoices"), url, order=10)]
    return []


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
            INVOICE_SCHEMA,
        )
    ]


@hookimpl
def guichet_migrations():
    return MigrationLocation(
        "invoices", Path(__file__).parent / "migrations", "alembic_version_invoices"
    )


@hookimpl
def guichet_cli(group):
    @group.group("invoices")
    def invoices_cli():
        """Invoices."""

    import_command(
        invoices_cli,
        import_invoices,
        "invoices",
        from_csv,
        help="Import invoices from a JSON file (the API's format) or a CSV file "
        "(one row per invoice line).",
    )


@bp.get("/")
def index():
    """ "Vos factures": the filtered, sorted, paged list; the table alone for HTMX."""
    today = date.today()
    filters = queries.read_filters(request.args)
    rows = queries.page_of(filters, today)
    return render(
        "invoices/list.html",
        "results",
        filters=filters,
        invoices=rows,
        today=today,
        page_sizes=PAGE_SIZES,
        selection=Selection(APP_KEY),
    )


@bp.get("/export.csv")
def export_csv():
    """The whole filtered list (not only the page) as CSV, streamed.
    ``dialect=fr`` (default) or ``std``; ``rows=invoices`` (default) or ``lines``."""
    today = date.today()
    filters = queries.read_filters(request.args)
    dialect = requested_dialect()
    rows = request.args.get("rows", "invoices")
    if rows not in ("invoices", "lines"):
        abort(400, _("Say rows=invoices or rows=lines."))
    selection = queries.filtered(filters, today)
    if rows == "lines":
        return csv_response(export.line_rows(selection, dialect), "lignes-factures")
    return csv_response(export.invoice_rows(selection, dialect, today), "factures")


@bp.get("/archive.zip")
def archive_zip():
    """The selected invoices (``id`` repeated), or with ``all=1`` the whole filtered list,
    as a streamed ZIP of PDFs; at most ``INVOICES_ZIP_CAP`` invoices."""
    today = date.today()
    cap = current_app.config["INVOICES_ZIP_CAP"]
    if request.args.get("all") == "1":
        selection = queries.filtered(queries.read_filters(request.args), today)
    else:
        raw = request.args.getlist("id")
        if not raw:  # "Télécharger la sélection" with nothing ticked: back to the list
            flash(_("Tick the invoices to download first."), "error")
            return redirect(url_for("invoices.index"), 303)
        if not all(v.isdigit() for v in raw):
            abort(400, _("Invoice ids must be numbers."))
        ids = {int(v) for v in raw}
        selection = scoped(Invoice).where(Invoice.id.in_(ids))
    total = db.session.scalar(selection.with_only_columns(func.count()).order_by(None))
    if request.args.get("all") != "1" and total != len(ids):
        abort(404)  # some are not the user's: no hint of which
    if total > cap:
        abort(
            400,
            _(
                "%(count)d invoices selected; a ZIP holds at most %(cap)d. Narrow the search.",
                count=total,
                cap=cap,
            ),
        )
    ordered = selection.order_by(Invoice.issued_on.desc(), Invoice.id.desc())
    name = f"factures-{today.isoformat()}.zip"
    response = Response(
        stream_with_context(archive.zip_of_pdfs(ordered)),
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
    token = request.args.get("download_token", "")
    if token.isalnum() and len(token) <= 32:  # the page's "being prepared" ends with it
        response.set_cookie("guichet_download", token, max_age=60, secure=True, samesite="Lax")
    return response


@bp.get("/<int:invoice_id>")
def detail(invoice_id: int):
    """ "Consultation détaillée" of one invoice, its lines paged."""
    invoice = get_scoped_or_404(Invoice, invoice_id)
    page = request.args.get("lines_page", "1")
    page = int(page) if page.isdigit() and int(page) > 0 else 1
    count = db.session.scalar(
        select(func.count()).select_from(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)
    )
    pages = max(1, -(-count // LINES_PER_PAGE))
    page = min(page, pages)
    lines = db.session.scalars(
        select(InvoiceLine)
        .where(InvoiceLine.invoice_id == invoice.id)
        .order_by(InvoiceLine.position)
        .limit(LINES_PER_PAGE)
        .offset((page - 1) * LINES_PER_PAGE)
    ).all()
    return render(
        "invoices/detail.html",
        "lines",
        invoice=invoice,
        lines=lines,
        lines_page=page,
        lines_pages=pages,
        lines_count=count,
        references=[(label, getattr(invoice, n)) for n, label in REFERENCES if getattr(invoice, n)],
        related=_related(invoice),
        today=date.today(),
    )


def _related(invoice: Invoice) -> list[Invoice]:
    """The invoice a credit note cancels, or the credit notes that cancel an invoice,
    within the scope."""
    if invoice.kind == "credit_note":
        if not invoice.cancels:
            return []
        query = scoped(Invoice).where(Invoice.number == invoice.cancels)
    else:
        query = scoped(Invoice).where(
            Invoice.cancels == invoice.number, Invoice.kind == "credit_note"
        )
    return db.session.scalars(query.order_by(Invoice.number)).all()


REFERENCES = (
    ("business_unit", _l("Business unit")),
    ("site_1", _l("Site 1")),
    ("site_2", _l("Site 2")),
    ("purchase_order", _l("Purchase order")),
    ("framework_contract", _l("Framework contract")),
    ("local_contract", _l("Local contract")),
)


@bp.app_errorhandler(documents.IssuerIncomplete)
def issuer_incomplete(error: documents.IssuerIncomplete):
    """No invoice without the provider's legal mentions: the customer is told, the
    operators see what is missing on every back-office page."""
    log.error("invoice PDF refused: %s", error)
    return error_response(
        503,
        _(
            "The PDF of this invoice cannot be made right now: your "
            "provider has not completed its legal details. It has "
            "been told."
        ),
    )


@bp.get("/<int:invoice_id>/pdf")
def pdf(invoice_id: int):
    """The invoice as PDF (rendered once per content, then served from the cache)."""
    invoice = get_scoped_or_404(Invoice, invoice_id)
    document = documents.pdf_document(invoice)
    return send_file(
        document.path, mimetype=document.media_type, download_name=document.filename, max_age=0
    )


@bp.get("/widget")
def widget():
    """Dashboard widget: the latest invoices and the amount still to pay."""
    today = date.today()
    recent = scoped(Invoice).where(Invoice.issued_on >= queries.history_start(today))
    latest = db.session.scalars(
        recent.order_by(Invoice.issued_on.desc(), Invoice.id.desc()).limit(5)
    ).all()
    due = Invoice.total_ttc + Invoice.credited
    to_pay = db.session.execute(
        recent.where(Invoice.status == "to_pay", Invoice.kind == "invoice", due > 0)
        .with_only_columns(Invoice.currency, func.sum(due))
        .group_by(Invoice.currency)
        .order_by(Invoice.currency)
    ).all()
    return render_template("invoices/widget.html", latest=latest, to_pay=to_pay, today=today)
