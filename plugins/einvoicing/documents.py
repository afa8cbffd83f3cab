"""Factur-X (the invoice's PDF with its EN 16931 data as CII XML inside) and UBL 2.1,
each made once per content, checked (:mod:`.validation`) and kept in the documents
folder; the next download serves the file."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
from pathlib import Path

from facturx import generate_from_binary, generate_xml
from flask import current_app

from core.plugin_api import (
    DocumentFile,
    FormatRefused,
    Organisation,
    db,
    document_file,
    write_atomically,
)
from core.plugin_api import gettext as _

from .data import en16931
from .pdfa import with_output_intent
from .provided import provided_file
from .validation import InvalidDocument, check

log = logging.getLogger(__name__)

# What a made file depends on beside the invoice: a new version of either changes it.
FORMAT_VERSION = f"2/factur-x {importlib.metadata.version('factur-x')}"


def cache_path(invoice, kind: str, extension: str, *extra: str) -> Path:
    """Where ``invoice``'s document ``kind`` is kept: named after everything it is made
    of (the invoice's content and state, its customer, the issuer, the settings)."""
    organisation = db.session.get(Organisation, invoice.organisation_id)
    parts = [
        kind,
        FORMAT_VERSION,
        invoice.number,
        invoice.source_hash,
        invoice.status,
        invoice.updated_at.isoformat() if invoice.updated_at else "",
        json.dumps(current_app.config["ISSUER"], sort_keys=True),
        current_app.config["EINVOICING_EXEMPTION_REASON"],
        *(str(getattr(organisation, f)) for f in ("name", "siret", "vat_number", "address")),
        *extra,
    ]
    key = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    folder = Path(current_app.config["DOCUMENTS_PATH"]) / "einvoicing"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{key}.{extension}"


def checked_xml(invoice, flavor: str) -> bytes:
    """The EN 16931 XML of ``invoice`` in ``flavor`` (``factur-x``: CII, or
    ``ubl-2.1``), valid, or :class:`FormatRefused` saying why it cannot be."""
    xml = generate_xml(
        en16931(invoice), flavor=flavor, level="en16931", check_xsd=False, check_schematron=False
    )
    try:
        check(xml, flavor)
    except InvalidDocument as error:
        log.error("the %s of invoice %s is invalid: %s", flavor, invoice.number, error)
        raise FormatRefused(
            _("This document cannot be made valid: %(reason)s", reason=str(error))
        ) from error
    return xml


def write_once(path: Path, make) -> Path:
    """``path``, written with the bytes ``make()`` gives unless it exists; atomically,
    so concurrent downloads never see half a file."""
    if not path.exists():
        data = make()
        write_atomically(path, lambda handle: handle.write(data))
    return path


def file_name(invoice, suffix: str) -> str:
    kind = "avoir" if invoice.kind == "credit_note" else "facture"
    return f"{kind}-{invoice.number}{suffix}"


def facturx_document(invoice) -> DocumentFile:
    """The ``facturx`` format: the invoice's PDF with its CII XML attached
    (``factur-x.xml``, profile EN 16931), the Factur-X XMP metadata and the PDF/A
    output intent; or the one the provider made (:mod:`.provided`)."""
    provided = provided_file(invoice, "factur-x")
    if provided is not None:
        return DocumentFile(provided, "application/pdf", file_name(invoice, "-facturx.pdf"))
    pdf = document_file(invoice, "pdf")

    def make() -> bytes:
        xml = checked_xml(invoice, "factur-x")
        made = generate_from_binary(
            pdf.path.read_bytes(), xml, flavor="factur-x", level="en16931", check_xsd=False
        )
        return with_output_intent(made)

    path = write_once(cache_path(invoice, "facturx", "pdf", pdf.path.name), make)
    return DocumentFile(path, "application/pdf", file_name(invoice, "-facturx.pdf"))


def ubl_document(invoice) -> DocumentFile:
    """The ``ubl`` format: UBL 2.1 (an Invoice or a CreditNote), EN 16931."""
    provided = provided_file(invoice, "ubl")
    if provided is not None:
        return DocumentFile(provided, "application/xml", file_name(invoice, ".xml"))
    path = write_once(cache_path(invoice, "ubl", "xml"), lambda: checked_xml(invoice, "ubl-2.1"))
    return DocumentFile(path, "application/xml", file_name(invoice, ".xml"))
