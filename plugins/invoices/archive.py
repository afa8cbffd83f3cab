"""Several invoices as one ZIP of their PDFs, streamed with zipstream-ng: stored, not
deflated (a PDF is compressed already), read from the files the worker made ahead, so
the first bytes leave at once and the archive is never held in memory. When every PDF
is ready the ZIP's size is known before it starts (the browser shows the download's
progress); a PDF not made yet is rendered when the stream reaches it."""

from __future__ import annotations

import os
from collections.abc import Iterator

from sqlalchemy import Select
from zipstream import ZIP_STORED, ZipStream

from core.plugin_api import db

from .documents import (
    KEY_COLUMNS,
    check_issuer,
    file_name,
    invoice_pdf,
    pdf_locator,
)
from .models import Invoice

#: What the archive reads of each invoice: enough to name it and find its PDF.
COLUMNS = (Invoice.id, Invoice.kind, Invoice.pdf_sha256, *KEY_COLUMNS)


def zip_of_pdfs(selection: Select) -> ZipStream:
    """The ZIP of the invoices of ``selection`` (in its order), one PDF per invoice
    named after its number; ``len()`` of it works when ``.sized``."""
    rows = db.session.execute(selection.with_only_columns(*COLUMNS)).all()
    locate = pdf_locator()
    paths = [locate(row) for row in rows]
    missing = [not os.path.exists(path) for path in paths]
    if any(missing):
        check_issuer()  # a clear 503 now rather than a ZIP cut short
    archive = ZipStream(compress_type=ZIP_STORED, sized=not any(missing))
    for row, path, absent in zip(rows, paths, missing, strict=True):
        if absent:
            archive.add(_rendered(row.id), file_name(row))
        else:
            archive.add_path(path, file_name(row))
    return archive


def _rendered(invoice_id: int) -> Iterator[bytes]:
    """The PDF of an invoice, rendered when the stream reaches it."""
    yield invoice_pdf(db.session.get(Invoice, invoice_id)).read_bytes()
