"""Factur-X (the invoice's PDF with its EN 16931 data as CII XML inside) and UBL 2.1,
each made once per content, checked (:mod:`.validation`) and kept in the documents
folder; the next download serves the file."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging

from facturx import generate_from_binary, generate_xml
from flask import current_app

from core.plugin_api import (
    DocumentFile,
    FormatRefused,
    Organisation,
    db,
    document_file,
    storage,
)
from core.plugin_api import gettext as _

from .data import en16931
from .pdfa import with_output_intent
from .provided import provided_document
from .validation import InvalidDocument, check

log = logging.getLogger(__name__)

# What a made file depends on beside the invoice: a new version of either changes it.
FORMAT_VERSION = f"2/factur-x {importlib.metadata.version('factur-x')}"


def cache_key(invoice, kind: str, extension: str, *extra: str) -> str:
    """The storage key of ``invoice``'s document ``kind``: named after everything it is
    made of (the invoice's content and state, its customer, the issuer, the settings)."""
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
    return f"einvoicing/{key}.{extension}"


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


def write_once(key: str, make) -> str:
    """``key``, kept with the bytes ``make()`` gives unless it exists (whole or not at
    all: concurrent downloads never see half a file)."""
    if not storage().exists(key):
        storage().put(key, make())
    return key


def file_name(invoice, suffix: str) -> str:
    kind = "avoir" if invoice.kind == "credit_note" else "facture"
    return f"{kind}-{invoice.number}{suffix}"


def facturx_document(invoice) -> DocumentFile:
    """The ``facturx`` format: the invoice's PDF with its CII XML attached
    (``factur-x.xml``, profile EN 16931), the Factur-X XMP metadata and the PDF/A
    output intent; or the one the provider made (:mod:`.provided`)."""
    name = file_name(invoice, "-facturx.pdf")
    provided = provided_document(invoice, "factur-x", "application/pdf", name)
    if provided is not None:
        return provided
    pdf = document_file(invoice, "pdf")

    def make() -> bytes:
        xml = checked_xml(invoice, "factur-x")
        made = generate_from_binary(
            pdf.read(), xml, flavor="factur-x", level="en16931", check_xsd=False
        )
        return with_output_intent(made)

    key = write_once(cache_key(invoice, "facturx", "pdf", pdf.key), make)
    return DocumentFile(key, "application/pdf", name)


def ubl_document(invoice) -> DocumentFile:
    """The ``ubl`` format: UBL 2.1 (an Invoice or a CreditNote), EN 16931."""
    name = file_name(invoice, ".xml")
    provided = provided_document(invoice, "ubl", "application/xml", name)
    if provided is not None:
        return provided
    key = write_once(cache_key(invoice, "ubl", "xml"), lambda: checked_xml(invoice, "ubl-2.1"))
    return DocumentFile(key, "application/xml", name)
