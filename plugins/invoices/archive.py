"""Several invoices as one ZIP of PDFs, streamed: the first bytes leave as soon as the
first PDF is ready, and the archive is never held whole in memory."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator

from sqlalchemy import Select

from core.plugin_api import (
    db,
)

from .documents import file_name, invoice_pdf


class _Pipe:
    """A write-only, unseekable file whose content is taken out as it comes."""

    def __init__(self):
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def zip_of_pdfs(selection: Select) -> Iterator[bytes]:
    """The ZIP of the invoices of ``selection``, chunk by chunk: one PDF per invoice,
    named after its number. The query runs inside the stream."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_STORED) as archive:
        for invoice in db.session.scalars(selection):
            with open(invoice_pdf(invoice), "rb") as pdf:
                archive.writestr(file_name(invoice), pdf.read())
            yield pipe.take()
    yield pipe.take()
