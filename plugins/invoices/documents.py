"""Invoice PDFs: the provider's own when it sent one, otherwise rendered with xhtml2pdf
from a template and cached by content: the key covers everything the PDF shows (the
invoice's data, the locale, the issuer and the templates' source), so a second download
reads the cached file without rendering."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from flask import current_app, render_template
from flask_babel import get_locale

from core.plugin_api import (
    FONTS_FOLDER,
    PDF_RENDERER,
    DocumentFile,
    issuer_missing,
    render_pdf,
    stored_path,
)

from .models import Invoice


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


def cache_folder() -> Path:
    folder = Path(current_app.config["DOCUMENTS_PATH"]) / "invoices" / "cache"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


TEMPLATES = ("invoices/pdf.html", "invoices/labels.html")


def cache_key(invoice: Invoice) -> str:
    """What the PDF depends on: the invoice as stored, the locale, the issuer, the
    templates' versions and the renderer's (a PDF of another version is never served)."""
    templates = (current_app.jinja_env.get_template(name) for name in TEMPLATES)
    parts = [
        invoice.number,
        invoice.source_hash,
        invoice.status,
        invoice.updated_at.isoformat() if invoice.updated_at else "",
        str(get_locale()),
        json.dumps(current_app.config["ISSUER"], sort_keys=True),
        PDF_RENDERER,
        # a template's version: Jinja keeps the compiled template, we only stat its file
        *(f"{t.filename}:{os.stat(t.filename).st_mtime_ns}" for t in templates),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def invoice_pdf(invoice: Invoice) -> Path:
    """The PDF of ``invoice``: the provider's stored file, or ours in the current locale,
    rendered once per distinct content."""
    if invoice.pdf_sha256:
        return stored_path(invoice.pdf_sha256)
    missing = issuer_missing(current_app.config["ISSUER"])
    if missing:
        raise IssuerIncomplete(missing)
    path = cache_folder() / f"{cache_key(invoice)}.pdf"
    if path.exists():
        return path
    html = render_template(
        "invoices/pdf.html",
        invoice=invoice,
        issuer=current_app.config["ISSUER"],
        vat=vat_breakdown(invoice),
        fonts=FONTS_FOLDER,  # Vera, embedded: the invoice can be posted
    )
    html = html.replace("\u202f", "\xa0")  # French thousands: the font has no narrow space
    fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            errors = render_pdf(html, handle)
        if errors:
            raise RenderError(f"xhtml2pdf reported {errors} error(s) for {invoice.number}")
        os.replace(temporary, path)  # atomic: concurrent downloads never see half a file
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path


def file_name(invoice: Invoice, extension: str = "pdf") -> str:
    """``facture-62274737.pdf`` or ``avoir-…``: the name a document is downloaded,
    attached or archived under."""
    kind = "avoir" if invoice.kind == "credit_note" else "facture"
    return f"{kind}-{invoice.number}.{extension}"


def pdf_document(invoice: Invoice) -> DocumentFile:
    """The ``pdf`` document format of an invoice (``guichet_document_formats``)."""
    return DocumentFile(invoice_pdf(invoice), "application/pdf", file_name(invoice))
