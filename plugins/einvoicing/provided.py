"""E-invoices the provider's billing system made itself, sent to
``POST /api/v1/einvoices``: each file is checked as the portal checks its own (the XML
schema, the EN 16931 rules) and against the invoice it names (its number, its total),
then kept and served instead of the one the portal would make, as the provider's own
PDF is. A file that is not an e-invoice of that invoice, or that breaks a rule (a
tampered amount breaks BR-CO-15), refuses the whole batch with the rule named, and
nothing of the batch is kept."""

from __future__ import annotations

import base64
import binascii
import hashlib
from decimal import Decimal, InvalidOperation
from typing import Any

from facturx import get_facturx_xml_from_pdf
from lxml import etree
from sqlalchemy import select

from core.plugin_api import (
    DocumentFile,
    Fault,
    ImportItem,
    ImportRejected,
    ImportResult,
    check_pdf,
    choice_field,
    db,
    parsed_field,
    read_batch,
    storage,
    text_field,
)
from plugins.invoices.public import Invoice

from .models import ProvidedFile
from .validation import NUMBER, TOTAL, InvalidDocument, check

MAX_XML_BYTES = 5 * 1024 * 1024
FLAVORS = {"factur-x": "factur-x", "ubl": "ubl-2.1"}  # the API's name -> the checker's


def decode_file(value: object) -> bytes:
    """A file sent as base64 text; :class:`ValueError` naming the problem."""
    if not isinstance(value, str) or not value:
        raise ValueError("must be the file in base64")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not valid base64") from None


class EinvoiceItem(ImportItem):
    """An e-invoice the provider made, for an invoice imported before."""

    number: text_field(32, required=True, examples=("62268557",))
    flavor: choice_field("factur-x", "ubl", default="factur-x") = "factur-x"
    content: parsed_field(
        decode_file,
        {
            "type": "string",
            "contentEncoding": "base64",
            "description": "the Factur-X PDF, or the UBL 2.1 XML",
        },
    )


def import_einvoices(batch: Any) -> ImportResult:
    """Check then keep a batch of e-invoices; commits once. Raises
    :class:`ImportRejected` naming each fault, and then keeps nothing."""
    rows = read_batch(batch, "einvoice", EinvoiceItem, _values, key="key", field="number")
    numbers = {row["number"] for row in rows}
    invoices = {
        i.number: i for i in db.session.scalars(select(Invoice).where(Invoice.number.in_(numbers)))
    }
    faults = []
    for position, row in enumerate(rows, start=1):
        invoice = invoices.get(row["number"])
        if invoice is None:
            faults.append(Fault(position, "number", "no such invoice"))
            continue
        problem = _problem(row["content"], row["flavor"], invoice)
        if problem:
            faults.append(Fault(position, "content", problem))
    if faults:
        raise ImportRejected(faults)
    result = ImportResult()
    for row in rows:
        invoice = invoices[row["number"]]
        digest = hashlib.sha256(row["content"]).hexdigest()
        kept = db.session.get(ProvidedFile, (invoice.id, row["flavor"]))
        if kept is not None and kept.sha256 == digest:
            result.unchanged.append(row["key"])
            continue
        key = provided_key(digest, row["flavor"])
        if not storage().exists(key):  # StorageError: the batch fails whole, as it began
            storage().put(key, row["content"])
        if kept is None:
            kept = ProvidedFile(
                invoice_id=invoice.id,
                flavor=row["flavor"],
                organisation_id=invoice.organisation_id,
            )
            db.session.add(kept)
            result.created.append(row["key"])
        else:
            result.updated.append(row["key"])
        kept.sha256 = digest
    db.session.commit()
    return result


def _values(item: EinvoiceItem) -> dict[str, Any]:
    return {
        "key": f"{item.number} {item.flavor}",
        "number": item.number,
        "flavor": item.flavor,
        "content": item.content,
    }


def _problem(content: bytes, flavor: str, invoice) -> str | None:
    """Why ``content`` is not a valid e-invoice of ``invoice``, or None."""
    try:
        if flavor == "factur-x":
            check_pdf(content)
            _name, xml = get_facturx_xml_from_pdf(content, check_xsd=False)
            if not xml:
                return "is a PDF without the factur-x.xml of a Factur-X"
        elif len(content) > MAX_XML_BYTES:
            return f"is larger than {MAX_XML_BYTES // (1024 * 1024)} MB"
        else:
            xml = content
        check(xml, FLAVORS[flavor])
    except (ValueError, etree.LxmlError) as error:  # InvalidDocument is a ValueError
        prefix = "is not a valid e-invoice: " if isinstance(error, InvalidDocument) else ""
        return f"{prefix}{error}"
    tree = etree.fromstring(xml)
    number = tree.xpath(NUMBER[FLAVORS[flavor]])
    if number != invoice.number:
        return f"is the e-invoice of {number or 'no number'}, not of {invoice.number}"
    try:
        total = Decimal(tree.xpath(TOTAL[FLAVORS[flavor]]))
    except InvalidOperation:
        return "gives no total with VAT (BT-112)"
    expected = Decimal(abs(invoice.total_ttc)).scaleb(-2)
    if total != expected:
        return f"says a total with VAT of {total}, the invoice {expected}"
    return None


def provided_key(digest: str, flavor: str) -> str:
    return f"einvoicing/provided/{digest}.{'pdf' if flavor == 'factur-x' else 'xml'}"


def provided_document(invoice, flavor: str, media_type: str, name: str) -> DocumentFile | None:
    """The file the provider gave for ``invoice`` in ``flavor``, if it gave one,
    downloaded as ``name`` (checked against its digest when read)."""
    kept = db.session.get(ProvidedFile, (invoice.id, flavor))
    if kept is None:
        return None
    return DocumentFile(provided_key(kept.sha256, flavor), media_type, name, kept.sha256)
