"""Documents for the post: the checks an uploaded PDF must pass, and the print-ready
PDF with the address where the envelope's window is (on the first page when its
address zone is free, else on a cover page added in front)."""

from __future__ import annotations

import io

from flask import current_app
from pypdf import PdfReader, PdfWriter
from pypdf.errors import LimitReachedError
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from core.plugin_api import (
    declared_pages,
    embed_fonts,
    inflate_pages,
    pdf_limits,
)
from core.plugin_api import gettext as _
from core.plugin_api import lazy_gettext as _l

# The window of a French DL envelope ("fenêtre à droite"), from the page's top left.
WINDOW = (110 * mm, 45 * mm, 200 * mm, 90 * mm)  # left, top, right, bottom
A4_TOLERANCE = 3  # points
# The drawing of a page larger than this is not searched for text in the window: a
# letter's page draws in tens of kilobytes, what is larger costs seconds to read.
WINDOW_CHECK_MAX_BYTES = 512 * 1024
TOO_COMPLEX = _l("The PDF is too large once decompressed, or too complex to be read.")


class DocumentError(ValueError):
    """The PDF cannot be posted; the message says why."""


def check_document(data: bytes) -> int:
    """The number of pages of a PDF to post; :class:`DocumentError` when it is not a
    readable, unencrypted PDF in A4 within the size and page limits, or costs more to
    read than :data:`core.documents.PDF_LIMITS` allow."""
    config = current_app.config
    if len(data) > config["POSTAL_MAX_BYTES"]:
        raise DocumentError(
            _(
                "The file is larger than %(size)d MB.",
                size=config["POSTAL_MAX_BYTES"] // (1024 * 1024),
            )
        )
    if not data.lstrip()[:5] == b"%PDF-":
        raise DocumentError(_("The file is not a PDF."))
    limit = config["POSTAL_MAX_PAGES"]
    with pdf_limits():
        try:
            reader = PdfReader(io.BytesIO(data))
            encrypted = reader.is_encrypted
            pages = 0 if encrypted else declared_pages(reader)
            if not encrypted and pages <= limit:
                pages = len(reader.pages)
                inflate_pages(reader)
        except LimitReachedError:
            raise DocumentError(TOO_COMPLEX) from None
        except Exception:  # noqa: BLE001 - pypdf raises many kinds on a damaged file
            raise DocumentError(_("The PDF is damaged and cannot be read.")) from None
    if encrypted:
        raise DocumentError(_("The PDF is protected by a password; send it unprotected."))
    if pages == 0:
        raise DocumentError(_("The PDF has no page."))
    if pages > limit:
        raise DocumentError(
            _(
                "The document has %(count)d pages; at most %(max)d can be posted.",
                count=pages,
                max=limit,
            )
        )
    for number, page in enumerate(reader.pages, start=1):
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        if page.rotation % 180:
            width, height = height, width
        if abs(width - A4[0]) > A4_TOLERANCE or abs(height - A4[1]) > A4_TOLERANCE:
            size = {"w": round(width / mm), "h": round(height / mm)}
            raise DocumentError(
                _("Page %(number)d is not A4 portrait (%(w)d × %(h)d mm).", number=number, **size)
            )
    return pages


def window_is_free(page) -> bool:
    """Whether nothing is written in the envelope window's zone of ``page``. A page
    whose drawing is larger than :data:`WINDOW_CHECK_MAX_BYTES` is not read (that would
    take seconds): it counts as written on, and the address goes on a cover page."""
    contents = page.get_contents()
    if contents is None:
        return True
    if len(contents.get_data()) > WINDOW_CHECK_MAX_BYTES:
        return False
    left, top, right, bottom = WINDOW
    height = float(page.mediabox.height)
    found = []

    def visit(text, cm, tm, _font, _size):
        # where the text starts on the page: the text matrix, then the page's transform
        x = cm[0] * tm[4] + cm[2] * tm[5] + cm[4]
        y = cm[1] * tm[4] + cm[3] * tm[5] + cm[5]
        if text.strip() and left <= x <= right and height - bottom <= y <= height - top:
            found.append(text)

    try:
        page.extract_text(visitor_text=visit)
    except LimitReachedError:
        return False
    return not found


def _address_page(address: list[str]) -> PdfReader:
    """An A4 page with only the address, in the window's zone."""
    buffer = io.BytesIO()
    sheet = canvas.Canvas(buffer, pagesize=A4)
    sheet.setFont(embed_fonts(), 10)
    y = A4[1] - WINDOW[1] - 8 * mm
    for line in address:
        sheet.drawString(WINDOW[0] + 5 * mm, y, line)
        y -= 4.5 * mm
    sheet.showPage()
    sheet.save()
    return PdfReader(io.BytesIO(buffer.getvalue()))


def print_ready(data: bytes, address: list[str]) -> tuple[bytes, int, bool]:
    """The PDF as it will be printed, its number of pages, and whether a cover page
    was added for the address. Only the pages' drawings go to print: no document
    action (a script run on opening), no annotation, form or link."""
    with pdf_limits():
        document = PdfReader(io.BytesIO(data))
        stamp = _address_page(address).pages[0]
        writer = PdfWriter()
        cover = not window_is_free(document.pages[0])
        if cover:
            writer.add_page(stamp)
        for number, page in enumerate(document.pages):
            added = writer.add_page(page)
            if number == 0 and not cover:
                added.merge_page(stamp)
        writer.remove_annotations(subtypes=None)
        for page in writer.pages:
            for key in ("/AA", "/Annots"):
                page.pop(key, None)
        out = io.BytesIO()
        writer.write(out)
    return out.getvalue(), len(document.pages) + cover, cover


def printed_pages(data: bytes) -> tuple[int, bool]:
    """How many pages will be printed (a cover page added when needed)."""
    with pdf_limits():
        reader = PdfReader(io.BytesIO(data))
        cover = not window_is_free(reader.pages[0])
        return len(reader.pages) + cover, cover


def joined(*parts: bytes) -> bytes:
    """One PDF of ``parts`` in order (an invoice and the terms appended to it)."""
    writer = PdfWriter()
    for part in parts:
        writer.append(PdfReader(io.BytesIO(part)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
