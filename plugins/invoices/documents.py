"""Invoice PDFs: the provider's own when it sent one, otherwise rendered with xhtml2pdf
from a template and cached by content: the key covers everything the PDF shows (the
invoice's data, the locale, the issuer and the templates' source), so a second download
reads the cached file without rendering. The worker makes them ahead, in the
organisation's language, for the recent invoices an import or a payment creates or
changes (:func:`render_pdfs`); a download makes any other on its first request."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask import current_app, g, render_template
from flask_babel import force_locale, get_locale
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core.plugin_api import (
    FONTS_FOLDER,
    PDF_RENDERER,
    DocumentFile,
    Organisation,
    db,
    issuer_missing,
    render_pdf,
    storage,
    stored_key,
    task,
)

from .models import Invoice

log = logging.getLogger(__name__)


class RenderError(RuntimeError):
    """xhtml2pdf could not render the document."""


def vat_breakdown(invoice: Invoice) -> list[tuple[Decimal, int, int]]:
    """(rate, base HT, VAT) per VAT rate of the invoice's lines, in cents, rounded half
    up; empty when the lines do not account for the invoice's own VAT (its total incl.
    VAT less its total excl. VAT, which is what was charged): the document then shows
    that one figure, and its totals always add up."""
    bases: dict[Decimal, int] = defaultdict(int)
    for line in invoice.lines:
        bases[line.vat_rate] += line.amount_ht
    rows = [
        (rate, base, int((Decimal(base) * rate / 100).quantize(Decimal(1), ROUND_HALF_UP)))
        for rate, base in sorted(bases.items())
    ]
    consistent = (
        sum(base for _, base, _ in rows) == invoice.total_ht
        and sum(vat for _, _, vat in rows) == invoice.total_ttc - invoice.total_ht
    )
    return rows if consistent else []


class IssuerIncomplete(RuntimeError):
    """The issuer (the ``ISSUER`` setting) lacks legal mentions an invoice must carry."""

    def __init__(self, missing: list[str]):
        super().__init__(f"ISSUER lacks {', '.join(missing)}")
        self.missing = missing


#: Where rendered PDFs are kept in the document storage, by cache key.
CACHE_PREFIX = "invoices/cache/"


TEMPLATES = ("invoices/pdf.html", "invoices/labels.html")
#: The invoice's columns its PDF depends on (with :func:`rendering_context`).
KEY_COLUMNS = (Invoice.number, Invoice.source_hash, Invoice.status, Invoice.updated_at)


def rendering_context() -> str:
    """What every invoice PDF depends on beside its invoice: the locale, the issuer, the
    renderer's version and the templates' (a PDF of another version is never served)."""
    templates = (current_app.jinja_env.get_template(name) for name in TEMPLATES)
    parts = [
        str(get_locale()),
        json.dumps(current_app.config["ISSUER"], sort_keys=True),
        PDF_RENDERER,
        # a template's version: Jinja keeps the compiled template, we only stat its file
        *(f"{t.filename}:{os.stat(t.filename).st_mtime_ns}" for t in templates),
    ]
    return "\x1f".join(parts)


def cache_key(invoice, context: str | None = None) -> str:
    """The cache key of an invoice's PDF: its :data:`KEY_COLUMNS` (an :class:`Invoice`
    or a row of them) and the :func:`rendering_context` (given when many are keyed)."""
    parts = [
        invoice.number,
        invoice.source_hash,
        invoice.status,
        invoice.updated_at.isoformat() if invoice.updated_at else "",
        rendering_context() if context is None else context,
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def pdf_locator() -> Callable[[Any], str]:
    """Where invoices' PDFs are, for many at once (a ZIP): a function of an
    :class:`Invoice`, or a row with ``pdf_sha256`` and the :data:`KEY_COLUMNS`, to the
    storage key of its PDF, which may not be made yet. The context is read once."""
    context = rendering_context()

    def locate(invoice) -> str:
        if invoice.pdf_sha256:
            return stored_key(invoice.pdf_sha256)
        return f"{CACHE_PREFIX}{cache_key(invoice, context)}.pdf"

    return locate


def check_issuer() -> None:
    """Raise :class:`IssuerIncomplete` when the issuer lacks a mention invoices need."""
    missing = issuer_missing(current_app.config["ISSUER"])
    if missing:
        raise IssuerIncomplete(missing)


def invoice_pdf(invoice: Invoice) -> str:
    """The storage key of the PDF of ``invoice``: the provider's stored file, or ours in
    the current locale, rendered once per distinct content."""
    key = pdf_locator()(invoice)
    if invoice.pdf_sha256 or storage().exists(key):
        return key
    check_issuer()
    html = render_template(
        "invoices/pdf.html",
        invoice=invoice,
        issuer=current_app.config["ISSUER"],
        vat=vat_breakdown(invoice),
        fonts=FONTS_FOLDER,  # Vera, embedded: the invoice can be posted
    )
    html = html.replace("\u202f", "\xa0")  # French thousands: the font has no narrow space
    out = io.BytesIO()
    errors = render_pdf(html, out)
    if errors:  # nothing is kept: the next download tries again
        raise RenderError(f"xhtml2pdf reported {errors} error(s) for {invoice.number}")
    storage().put(key, out.getvalue())  # whole or nothing: never half a file
    return key


def file_name(invoice, extension: str = "pdf") -> str:
    """``facture-62274737.pdf`` or ``avoir-…``: the name a document is downloaded,
    attached or archived under (``invoice``: an :class:`Invoice` or a row with its
    ``kind`` and ``number``)."""
    kind = "avoir" if invoice.kind == "credit_note" else "facture"
    return f"{kind}-{invoice.number}.{extension}"


def pdf_document(invoice: Invoice) -> DocumentFile:
    """The ``pdf`` document format of an invoice (``guichet_document_formats``)."""
    return DocumentFile(
        invoice_pdf(invoice), "application/pdf", file_name(invoice), invoice.pdf_sha256
    )


RENDER_BATCH = 20  # invoices per rendering task: about 2 s, then mail or a payment may pass


def note_changed(invoice_id: int) -> None:
    """Remember an invoice created or changed until :func:`flush_renders` (the end of
    the request or of the command's app context)."""
    g.setdefault("invoices_to_render", []).append(invoice_id)


def flush_renders() -> None:
    """Queue the PDFs of the invoices noted so far, :data:`RENDER_BATCH` per task. A
    queue that cannot be reached is logged: a download makes the PDF then."""
    noted = g.pop("invoices_to_render", None) or []
    try:
        for first in range(0, len(noted), RENDER_BATCH):
            render_pdfs(noted[first : first + RENDER_BATCH])
    except Exception:  # noqa: BLE001 - the change is committed; the PDF can wait
        log.exception("invoice PDFs could not be queued: %s", noted)


@task(
    kind="documents", retries=0, priority=-10
)  # after mail and payments; a download renders what fails
def render_pdfs(invoice_ids: list[int]) -> int:
    """Make the PDFs of these invoices in their organisation's language, where none is
    cached yet: those the provider sent no PDF for, issued in the last
    ``INVOICES_PRERENDER_DAYS`` days (older ones are seldom opened). Returns how many
    invoices were looked at; one that cannot be rendered is logged and skipped."""
    days = current_app.config["INVOICES_PRERENDER_DAYS"]
    invoices = db.session.scalars(
        select(Invoice)
        .where(
            Invoice.id.in_(invoice_ids),
            Invoice.pdf_sha256 == "",
            Invoice.issued_on >= date.today() - timedelta(days=days),
        )
        .options(selectinload(Invoice.lines), selectinload(Invoice.ranges))
    ).all()
    locales = dict(
        db.session.execute(
            select(Organisation.id, Organisation.locale).where(
                Organisation.id.in_({i.organisation_id for i in invoices})
            )
        ).all()
    )
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    for invoice in invoices:
        with force_locale(locales.get(invoice.organisation_id) or default):
            try:
                invoice_pdf(invoice)
            except IssuerIncomplete:
                log.error("invoice PDFs not made: the issuer lacks legal mentions")
                return 0
            except Exception:  # noqa: BLE001 - the next ones still get theirs
                log.exception("invoice %s: PDF not made", invoice.number)
    return len(invoices)
