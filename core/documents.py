"""Stored documents: PDFs the provider sends (an invoice's own PDF, a contract's terms),
kept once by content in the document storage (:mod:`core.storage`) under
``stored/``, named by their SHA-256.

Imports call :func:`decode_pdf` while validating a batch (a bad file rejects the batch
before anything is written), then :func:`store` once the batch is accepted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import NamedTuple

import reportlab
from pypdf import PdfReader, apply_configuration
from pypdf.errors import LimitReachedError
from reportlab import rl_config
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus.tables import CellStyle
from xhtml2pdf import pisa
from xhtml2pdf.config.resources import ResourceAccessPolicy

from core.storage import read_verified, storage

MAX_PDF_BYTES = 20 * 1024 * 1024
MAX_PDF_PAGES = 2000
# What reading a PDF may cost, whatever it declares: pypdf's limits, far below its
# defaults (a 200 MB stream squeezed into a 200 kB file is refused, not inflated).
PDF_LIMITS = {
    "zlib_maximum_output_length": 32 * 1024 * 1024,
    "lzw_maximum_output_length": 32 * 1024 * 1024,
    "run_length_maximum_output_length": 32 * 1024 * 1024,
    "stream_decoding_work_maximum_length": 64 * 1024 * 1024,
    "stream_parsing_work_maximum_count": 500_000,
    "page_tree_maximum_page_entries": MAX_PDF_PAGES + 1,
}


class Pdf(NamedTuple):
    data: bytes
    pages: int


def decode_pdf(value: object) -> Pdf:
    """A PDF sent as base64 text, with its number of pages; :class:`ValueError` naming
    the problem when it is not base64, not a PDF, unreadable, encrypted, empty or too large."""
    if not isinstance(value, str):
        raise ValueError("must be the PDF file in base64")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not valid base64") from None
    return Pdf(data, check_pdf(data))


def encode_pdf(data: bytes) -> str:
    """A PDF as the API and JSON imports take it: base64 text."""
    return base64.b64encode(data).decode("ascii")


@contextmanager
def pdf_limits():
    """Read PDFs within :data:`PDF_LIMITS` (pypdf raises ``LimitReachedError`` beyond);
    wrap any parsing of a PDF someone sent."""
    with apply_configuration(**PDF_LIMITS):
        yield


def inflate_pages(reader: PdfReader) -> None:
    """Decompress every page's drawing, as a viewer or a print shop will: beyond
    :data:`PDF_LIMITS` (inside :func:`pdf_limits`) pypdf raises ``LimitReachedError``."""
    for page in reader.pages:
        contents = page.get_contents()
        if contents is not None:
            contents.get_data()


def declared_pages(reader: PdfReader) -> int:
    """The page count the document's page tree declares, read without the pages."""
    return int(reader.trailer["/Root"]["/Pages"].get("/Count", 0))


def check_pdf(data: bytes, max_pages: int = MAX_PDF_PAGES) -> int:
    """The number of pages of ``data``; :class:`ValueError` when it is not a usable PDF
    (too large, more than ``max_pages`` pages, not a PDF, damaged, encrypted, empty),
    read within :data:`PDF_LIMITS`."""
    if len(data) > MAX_PDF_BYTES:
        raise ValueError(f"is larger than {MAX_PDF_BYTES // (1024 * 1024)} MB")
    if not data.lstrip()[:5] == b"%PDF-":
        raise ValueError("is not a PDF (it does not start with %PDF-)")
    with pdf_limits():
        try:
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                raise ValueError("is an encrypted PDF")
            pages = declared_pages(reader)
            if pages <= max_pages:
                pages = len(reader.pages)
                inflate_pages(reader)
        except ValueError:
            raise
        except LimitReachedError:
            raise ValueError("is too large once decompressed, or too complex to read") from None
        except Exception as error:  # pypdf raises many kinds on a damaged file
            raise ValueError(f"is not a readable PDF ({type(error).__name__})") from None
    if pages == 0:
        raise ValueError("is a PDF without pages")
    if pages > max_pages:
        raise ValueError(f"has {pages} pages, more than {max_pages}")
    return pages


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored_key(sha256: str) -> str:
    """The storage key of the document of this digest (it may not exist)."""
    return f"stored/{sha256[:2]}/{sha256}.pdf"


def read_stored(sha256: str) -> bytes:
    """The stored document of this digest, checked against it: raises
    :class:`~core.storage.DocumentCorrupt` when damaged, ``DocumentMissing`` when absent."""
    return read_verified(stored_key(sha256), sha256)


def store(data: bytes) -> str:
    """Keep ``data`` in the document storage, once per content; returns its digest.
    :class:`~core.storage.StorageError` when the storage cannot take it."""
    sha256 = digest(data)
    key = stored_key(sha256)
    if not storage().exists(key):
        storage().put(key, data)
    return sha256


EMBEDDED_FONT = "GuichetVera"
EMBEDDED_BOLD_FONT = "GuichetVera-Bold"
FONTS_FOLDER = Path(reportlab.__file__).parent / "fonts"
#: What a rendered PDF depends on beside its data and templates: part of cache keys.
RENDERER = f"xhtml2pdf {version('xhtml2pdf')}, reportlab {reportlab.Version}"


def render_pdf(html: str, dest) -> int:
    """Write the PDF of ``html`` to the binary file ``dest``; returns xhtml2pdf's error
    count. Fonts are read from ``FONTS_FOLDER`` (``url("{fonts}/Vera.ttf")``), whatever
    the working directory of the process, and nothing else: no other local file,
    nothing remote."""
    embed_fonts()
    policy = ResourceAccessPolicy(allow_remote=False, base_dir=FONTS_FOLDER)
    return pisa.CreatePDF(html, dest=dest, encoding="utf-8", resource_policy=policy).err


def embed_fonts() -> str:
    """Make every PDF drawn in this process embed its fonts, as print shops require:
    register Bitstream Vera (shipped with reportlab) and make it reportlab's base font,
    which otherwise names the standard, never embedded, Helvetica on every page and
    table cell.
    Returns the font's name, a family whose bold face reportlab finds
    (``reportlab.lib.fonts.tt2ps(name, 1, 0)``, ``<b>`` in a paragraph); its files are
    in ``FONTS_FOLDER``."""
    if EMBEDDED_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(EMBEDDED_FONT, "Vera.ttf"))
        pdfmetrics.registerFont(TTFont(EMBEDDED_BOLD_FONT, "VeraBd.ttf"))
        pdfmetrics.registerFontFamily(
            EMBEDDED_FONT,
            normal=EMBEDDED_FONT,
            bold=EMBEDDED_BOLD_FONT,
            italic=EMBEDDED_FONT,
            boldItalic=EMBEDDED_BOLD_FONT,
        )
        rl_config.canvas_basefontname = EMBEDDED_FONT
        CellStyle.fontname = EMBEDDED_FONT  # tables name their default font on each cell
    return EMBEDDED_FONT


#: What an invoice must say of its issuer (French Commercial Code, art. L441-9 and
#: the General Tax Code's art. 242 nonies A): the ``ISSUER`` setting's keys.
ISSUER_MENTIONS = ("name", "address", "siret", "vat_number")


def issuer_missing(issuer: dict) -> list[str]:
    """The mentions the ``ISSUER`` setting lacks (``["siret", "vat_number"]``); empty
    when documents can carry all of them."""
    return [name for name in ISSUER_MENTIONS if not str(issuer.get(name) or "").strip()]
