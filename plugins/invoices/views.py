"""The pages of "Vos factures": the list, its exports (CSV, ZIP), an invoice, its
PDF, the widget."""

from __future__ import annotations

import logging
from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import format_decimal
from sqlalchemy import func, select

from core.plugin_api import (
    PAGE_SIZES,
    FormatRefused,
    Listing,
    Selection,
    app_usable,
    csv_response,
    db,
    document_formats,
    error_response,
    get_scoped_or_404,
    page_rows,
    read_page,
    record_activity,
    render,
    requested_dialect,
    scoped,
    selected_ids,
    send_document,
    when_context_ends,
)
from core.plugin_api import gettext as _
from core.plugin_api import lazy_gettext as _l

from . import archive, documents, export, labels, queries, totals
from .models import Invoice, InvoiceLine, InvoiceTotal
from .public import APP_KEY

log = logging.getLogger(__name__)
LINES_PER_PAGE = 20
bp = Blueprint("invoices", __name__, template_folder="templates")
# the PDFs of invoices an import or a payment creates or changes go to the worker
# when the request (or the command's app context) ends
when_context_ends(bp, documents.flush_renders)
bp.add_app_template_global(labels.invoice_labels)


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
        zip_cap=current_app.config["INVOICES_ZIP_CAP"],
        today=today,
        page_sizes=PAGE_SIZES,
        selection=Selection(APP_KEY),
        zip_formats=other_formats(Invoice),
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
    name = "lignes-factures" if rows == "lines" else "factures"
    record_activity("download.invoices_csv", f"{name}.csv")
    if rows == "lines":
        return csv_response(export.line_rows(selection, dialect), name)
    return csv_response(export.invoice_rows(selection, dialect, today), name)


@bp.get("/archive.zip")
def archive_zip():
    """The selected invoices (``id`` repeated), or with ``all=1`` the whole filtered list,
    as a streamed ZIP of PDFs, or of the ``format`` another app gives (``facturx``,
    ``ubl``); at most ``INVOICES_ZIP_CAP`` invoices."""
    today = date.today()
    cap = current_app.config["INVOICES_ZIP_CAP"]
    key = request.args.get("format", "pdf")
    wanted = next((f for f in other_formats(Invoice) if f.key == key), None)
    if key != "pdf" and wanted is None:
        abort(404)
    if request.args.get("all") == "1":
        selection = queries.filtered(queries.read_filters(request.args), today)
    else:
        ids = selected_ids(request.args)
        if not ids:  # "Télécharger la sélection" with nothing ticked: back to the list
            flash(_("Tick the invoices to download first."), "error")
            return redirect(url_for("invoices.index"), 303)
        selection = scoped(Invoice).where(Invoice.id.in_(ids))
    total = db.session.scalar(selection.with_only_columns(func.count()).order_by(None))
    if request.args.get("all") != "1" and total != len(ids):
        abort(404)  # some are not the user's: no hint of which
    if total > cap:
        abort(
            400,
            _(
                "%(count)s invoices selected; a ZIP holds at most %(cap)s. Narrow the search.",
                count=format_decimal(total),
                cap=format_decimal(cap),
            ),
        )
    ordered = selection.order_by(Invoice.issued_on.desc(), Invoice.id.desc())
    if wanted is None:
        stream = archive.zip_of_pdfs(ordered)
        name = f"factures-{today.isoformat()}.zip"
    else:
        stream = archive.zip_of_documents(ordered, wanted)
        name = f"factures-{key}-{today.isoformat()}.zip"
    record_activity("download.invoices_zip", f"{name} ({total})")
    response = Response(
        stream_with_context(stream),
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
    if getattr(stream, "sized", False):  # every PDF is ready: the browser shows progress
        response.content_length = len(stream)
    token = request.args.get("download_token", "")
    if token.isalnum() and len(token) <= 32:  # the page's "being prepared" ends with it
        response.set_cookie("guichet_download", token, max_age=60, secure=True, samesite="Lax")
    return response


@bp.get("/<int:invoice_id>")
def detail(invoice_id: int):
    """ "Consultation détaillée" of one invoice, its lines paged."""
    invoice = get_scoped_or_404(Invoice, invoice_id)
    lines = Listing(size=LINES_PER_PAGE, page=read_page(request.args, "lines_page"))
    rows = page_rows(
        lines,
        select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id),
        (InvoiceLine.position,),
    )
    return render(
        "invoices/detail.html",
        "lines",
        invoice=invoice,
        lines=lines,
        rows=rows,
        references=[(label, getattr(invoice, n)) for n, label in REFERENCES if getattr(invoice, n)],
        related=_related(invoice),
        formats=other_formats(invoice),
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
    ("buyer_reference", _l("Your reference")),
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
    record_activity("download.invoice", invoice.number)
    return send_document(document)


def other_formats(invoice: Invoice | type[Invoice]) -> list:
    """What other apps give of the invoice (or of any invoice) beside its PDF
    (Factur-X, UBL), where the member may use them."""
    return [f for f in document_formats(invoice) if f.key != "pdf" and app_usable(f.app_key)]


@bp.get("/<int:invoice_id>/<key>")
def other_format(invoice_id: int, key: str):
    """The invoice in a format another app gives (``facturx``, ``ubl``); a clear
    message, not a file, when the invoice cannot be had in it."""
    invoice = get_scoped_or_404(Invoice, invoice_id)
    wanted = next((f for f in other_formats(invoice) if f.key == key), None)
    if wanted is None:
        abort(404)
    try:
        document = wanted.render(invoice)
    except FormatRefused as refused:
        return error_response(409, str(refused))
    record_activity("download.invoice", f"{invoice.number} ({wanted.label})")
    return send_document(document, attachment=True)


@bp.get("/widget")
def widget():
    """Dashboard widget: the latest invoices and the amount still to pay, read from the
    totals per month (the first month of the history window, which it covers in
    part, from its invoices)."""
    today = date.today()
    start = queries.history_start(today)
    recent = scoped(Invoice).where(Invoice.issued_on >= start)
    latest = db.session.scalars(
        recent.order_by(Invoice.issued_on.desc(), Invoice.id.desc()).limit(5)
    ).all()
    whole = start if start.day == 1 else totals.next_month(start)
    months = (
        scoped(InvoiceTotal)
        .where(InvoiceTotal.month >= whole)
        .with_only_columns(InvoiceTotal.currency, func.sum(InvoiceTotal.to_pay_amount))
        .group_by(InvoiceTotal.currency)
    )
    first = (
        recent.where(totals.TO_PAY, Invoice.issued_on < whole)
        .with_only_columns(Invoice.currency, func.sum(totals.DUE))
        .group_by(Invoice.currency)
    )
    to_pay: dict[str, int] = {}
    for currency, amount in [*db.session.execute(months), *db.session.execute(first)]:
        to_pay[currency] = to_pay.get(currency, 0) + int(amount or 0)
    rows = sorted((c, a) for c, a in to_pay.items() if a)
    return render_template("invoices/widget.html", latest=latest, to_pay=rows, today=today)
