"""Several invoices as one ZIP, streamed with zipstream-ng, so the first bytes leave
at once and the archive is never held in memory.

Of their PDFs: stored, not deflated (a PDF is compressed already), read from the files
the worker made ahead; when every PDF is ready the ZIP's size is known before it starts
(the browser shows the download's progress); a PDF not made yet is rendered when the
stream reaches it. In a format another app gives (Factur-X, UBL): each file served
from that app's cache or made when the stream reaches it; the invoices that cannot be
had in it are named, with the reason, in a last file instead."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Select, select
from zipstream import ZIP_DEFLATED, ZIP_STORED, ZipStream

from core.plugin_api import DocumentFormat, FormatRefused, db, storage
from core.plugin_api import gettext as _

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
    keys = [locate(row) for row in rows]
    sizes = storage().sizes(keys)  # one look for all: a folder's stats, parallel HEADs
    if len(sizes) < len(set(keys)):
        check_issuer()  # a clear 503 now rather than a ZIP cut short
    archive = ZipStream(compress_type=ZIP_STORED, sized=len(sizes) == len(set(keys)))
    for row, key in zip(rows, keys, strict=True):
        if key in sizes:
            archive.add(storage().chunks(key), file_name(row), size=sizes[key])
        else:
            archive.add(_rendered(row.id), file_name(row))
    return archive


def _rendered(invoice_id: int) -> Iterator[bytes]:
    """The PDF of an invoice, rendered when the stream reaches it."""
    yield storage().read(invoice_pdf(db.session.get(Invoice, invoice_id)))


#: Where a ZIP in another format names the invoices it could not hold, and why.
NOT_INCLUDED = "non-inclus.txt"
CHUNK = 100  # invoices loaded at a time


def zip_of_documents(selection: Select, wanted: DocumentFormat) -> Iterator[bytes]:
    """The ZIP of the invoices of ``selection`` (in its order) in format ``wanted``,
    one file per invoice under the name its format gives; those it refuses
    (:class:`FormatRefused`) are listed in :data:`NOT_INCLUDED`, each with why."""
    ids = db.session.scalars(selection.with_only_columns(Invoice.id)).all()
    check_issuer()  # a format made from the PDF needs it: a clear 503 now
    compress = ZIP_DEFLATED if wanted.media_type.endswith("xml") else ZIP_STORED
    archive = ZipStream(compress_type=compress)
    refused = []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        loaded = {i.id: i for i in db.session.scalars(select(Invoice).where(Invoice.id.in_(chunk)))}
        for invoice in (loaded[i] for i in chunk):
            try:
                document = wanted.render(invoice)
            except FormatRefused as error:
                refused.append(f"{invoice.number}\u00a0: {error}")
                continue
            archive.add(document.read(), document.filename)
            yield from archive.all_files()
    if refused:
        heading = _("Invoices not in this archive, and why:")
        archive.add("\n".join([heading, "", *refused, ""]), NOT_INCLUDED)
    yield from archive.finalize()
