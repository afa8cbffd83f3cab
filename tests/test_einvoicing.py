"""Factur-X and UBL of invoices and credit notes (plugins.einvoicing): every file
served passes the XML schema and the EN 16931 rules, read back from what the portal
answers; an invoice that cannot make a valid one answers a message naming what it
lacks, never a file."""

import io
import zipfile
from datetime import date
from pathlib import Path

import pytest
from facturx import get_facturx_xml_from_pdf, xml_check_xsd
from lxml import etree
from pypdf import PdfReader
from sqlalchemy import select

from core import api
from core.activation import set_app_enabled
from core.extensions import db
from plugins.einvoicing.data import en16931
from plugins.einvoicing.models import LifecycleStatus
from plugins.einvoicing.validation import InvalidDocument, check, failed_rules
from plugins.invoices.demo import documented_invoices, generated_invoices
from plugins.invoices.importing import ImportRejected, import_invoices
from plugins.invoices.models import Invoice
from plugins.payments.models import Payment
from tests.conftest import invoice_item, run_cli
from tests.test_invoices import numbers

CII = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
}
UBL = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
}


@pytest.fixture
def seeded(org):
    """The specification's documented invoices, as the demo imports them."""
    import_invoices(documented_invoices(date.today()))
    db.session.commit()
    return {i.number: i.id for i in db.session.scalars(select(Invoice))}


def imported(item: dict) -> int:
    """The id of ``item``, imported and committed."""
    import_invoices([item])
    db.session.commit()
    return db.session.scalar(select(Invoice.id).where(Invoice.number == item["number"]))


def facturx_xml(response) -> bytes:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment")
    name, xml = get_facturx_xml_from_pdf(response.data, check_xsd=False)
    assert name == "factur-x.xml"
    return xml


def test_the_factur_x_of_invoice_62268557_passes_the_schema_and_the_en16931_rules(
    logged_in, seeded
):
    response = logged_in.get(f"/factures/{seeded['62268557']}/facturx")
    xml = facturx_xml(response)
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931")  # the library's checker
    assert failed_rules(xml, "factur-x") == []
    tree = etree.fromstring(xml)
    totals = tree.xpath("//ram:SpecifiedTradeSettlementHeaderMonetarySummation", namespaces=CII)[0]
    assert totals.findtext("ram:GrandTotalAmount", namespaces=CII) == "5130.82"
    taxes = {
        t.findtext("ram:CategoryCode", namespaces=CII): t.findtext(
            "ram:CalculatedAmount", namespaces=CII
        )
        for t in tree.xpath(
            "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", namespaces=CII
        )
    }
    assert taxes == {"S": "852.41", "E": "0.00"}  # 20 % of 4 262,06; 16,35 exempt
    assert "912345678" in xml.decode() and "356000000" in xml.decode()  # both SIRENs
    # how to pay: a SEPA transfer to the provider's IBAN, the invoice's number as reference
    assert (
        tree.xpath(
            "string(//ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode)", namespaces=CII
        )
        == "58"
    )
    assert b"<ram:IBANID>FR7630006000011234567890189</ram:IBANID>" in xml
    # still the invoice's PDF, which a person reads
    text = PdfReader(io.BytesIO(response.data)).pages[0].extract_text()
    assert "62268557" in text and "IBAN FR7630006000011234567890189" in text


def test_the_factur_x_carries_what_pdf_a_3_asks(logged_in, seeded):
    """Its XMP names it PDF/A-3 and Factur-X EN 16931, its pages' colours are sRGB (an
    output intent with its ICC profile), every font is embedded, and the XML is an
    associated file of the document."""
    response = logged_in.get(f"/factures/{seeded['62268557']}/facturx")
    reader = PdfReader(io.BytesIO(response.data))
    catalog = reader.trailer["/Root"]
    [intent] = [i.get_object() for i in catalog["/OutputIntents"]]
    assert (
        intent["/S"] == "/GTS_PDFA1" and intent["/OutputConditionIdentifier"] == "sRGB IEC61966-2.1"
    )
    profile = intent["/DestOutputProfile"].get_object()
    assert profile["/N"] == 3 and profile.get_data()[36:40] == b"acsp"  # an ICC profile
    xmp = catalog["/Metadata"].get_object().get_data().decode()
    assert "<pdfaid:part>3</pdfaid:part>" in xmp and "<pdfaid:conformance>B" in xmp
    assert "<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in xmp
    fonts = [
        font.get_object() for page in reader.pages for font in page["/Resources"]["/Font"].values()
    ]
    assert fonts
    for font in fonts:
        descriptor = font.get("/FontDescriptor") or font["/DescendantFonts"][0]["/FontDescriptor"]
        assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor.get_object()), font
    [associated] = [f.get_object() for f in catalog["/AF"]]
    assert associated["/F"] == "factur-x.xml" and associated["/AFRelationship"] == "/Data"


def test_the_credit_note_is_a_valid_credit_note_in_both_formats(logged_in, seeded):
    credit = seeded["62274457"]
    xml = facturx_xml(logged_in.get(f"/factures/{credit}/facturx"))
    assert failed_rules(xml, "factur-x") == []
    tree = etree.fromstring(xml)
    assert tree.xpath("string(//rsm:ExchangedDocument/ram:TypeCode)", namespaces=CII) == "381"
    assert tree.xpath("string(//ram:GrandTotalAmount)", namespaces=CII) == "67520.70"
    line = tree.xpath("//ram:IncludedSupplyChainTradeLineItem", namespaces=CII)[0]
    assert line.xpath("string(.//ram:BilledQuantity)", namespaces=CII) == "1.000"
    assert line.xpath("string(.//ram:LineTotalAmount)", namespaces=CII) == "56267.25"

    ubl = logged_in.get(f"/factures/{credit}/ubl")
    assert ubl.status_code == 200 and ubl.mimetype == "application/xml"
    assert etree.fromstring(ubl.data).tag.endswith("}CreditNote")
    assert xml_check_xsd(ubl.data, flavor="ubl-2.1-creditnote")
    assert failed_rules(ubl.data, "ubl-2.1") == []


def test_the_ubl_of_an_invoice_passes_the_schema_and_the_rules(logged_in, seeded):
    response = logged_in.get(f"/factures/{seeded['62268557']}/ubl")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith(
        "attachment; filename=facture-62268557.xml"
    )
    assert xml_check_xsd(response.data, flavor="ubl-2.1-invoice")
    assert failed_rules(response.data, "ubl-2.1") == []
    tree = etree.fromstring(response.data)
    assert tree.xpath("string(//cac:LegalMonetaryTotal/cbc:PayableAmount)", namespaces=UBL) == (
        "5130.82"
    )


def test_a_made_document_is_served_again_from_its_file(logged_in, seeded, app):
    url = f"/factures/{seeded['62268557']}/facturx"
    first = logged_in.get(url)
    folder = Path(app.config["DOCUMENTS_PATH"]) / "einvoicing"
    made = {p: p.stat().st_mtime_ns for p in folder.iterdir()}
    second = logged_in.get(url)
    assert second.data == first.data
    assert {p: p.stat().st_mtime_ns for p in folder.iterdir()} == made


def test_an_invoice_without_the_customers_siren_says_so_and_gives_no_file(logged_in, org, app):
    lines = [
        {
            "label": "Lettre",
            "quantity": "1",
            "unit_price_ht": "100",
            "vat_rate": "20",
            "amount_ht": "100",
        },
    ]
    invoice_id = imported(invoice_item("70000001", total_ht="100", total_ttc="120", lines=lines))
    for key in ("facturx", "ubl"):
        response = logged_in.get(f"/factures/{invoice_id}/{key}")
        assert response.status_code == 409
        page = response.get_data(as_text=True)
        assert "il y manque le SIREN du client." in page.replace("&#39;", "'"), page
        assert response.mimetype == "text/html"


def test_a_provider_iban_that_fails_its_checksum_is_named(logged_in, seeded, app, monkeypatch):
    issuer = {**app.config["ISSUER"], "iban": "FR7630006000011234567890188"}
    monkeypatch.setitem(app.config, "ISSUER", issuer)
    response = logged_in.get(f"/factures/{seeded['62268557']}/ubl")
    assert response.status_code == 409
    assert "un IBAN valide pour le fournisseur" in response.get_data(as_text=True)


def test_a_vat_that_the_lines_do_not_make_is_named(logged_in, org):
    lines = [
        {
            "label": "Lettre",
            "quantity": "1",
            "unit_price_ht": "90",
            "vat_rate": "20",
            "amount_ht": "90",
        },
    ]
    recipient = {"name": "CLIENT 1", "siret": "35600000000048", "address": "75015 PARIS"}
    # 20 % of the lines' 90,00 is 18,00; the invoice charges 21,00 of VAT
    item = invoice_item(
        "70000002", total_ht="90", total_ttc="111", lines=lines, recipient=recipient
    )
    invoice_id = imported(item)
    response = logged_in.get(f"/factures/{invoice_id}/ubl")
    assert response.status_code == 409
    page = response.get_data(as_text=True).replace("\u202f", " ").replace("\xa0", " ")
    assert "ses lignes (90,00 € HT, 18,00 € de TVA)" in page
    assert "ses totaux (90,00 € HT, 21,00 € de TVA)" in page


def test_tampered_xml_is_refused_with_the_rule_it_breaks(logged_in, seeded):
    xml = facturx_xml(logged_in.get(f"/factures/{seeded['62268557']}/facturx"))
    check(xml, "factur-x")  # as served: valid
    with pytest.raises(InvalidDocument, match="BR-CO-15"):
        check(xml.replace(b">5130.82<", b">5130.83<"), "factur-x")
    with pytest.raises(InvalidDocument, match="XML Schema Definition"):
        check(
            xml.replace(b"<rsm:ExchangedDocument>", b"<rsm:ExchangedDocument><ram:Odd/>"),
            "factur-x",
        )
    with pytest.raises(InvalidDocument, match="not a valid XML"):
        check(xml[:-20], "factur-x")


def test_formats_are_offered_where_the_app_is_on_and_404_where_it_is_off(logged_in, seeded, org):
    invoice_id = seeded["62268557"]
    page = logged_in.get(f"/factures/{invoice_id}").get_data(as_text=True)
    assert f'/factures/{invoice_id}/facturx"' in page and f'/factures/{invoice_id}/ubl"' in page
    listing = logged_in.get("/factures-electroniques/").get_data(as_text=True)
    assert f'/factures/{invoice_id}/ubl"' in listing

    set_app_enabled(org, "einvoicing", False)
    db.session.commit()
    page = logged_in.get(f"/factures/{invoice_id}").get_data(as_text=True)
    assert "/facturx" not in page
    assert logged_in.get(f"/factures/{invoice_id}/facturx").status_code == 404
    assert logged_in.get("/factures-electroniques/").status_code == 404


def zip_files(response) -> dict[str, bytes]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def test_a_zip_of_the_selection_in_factur_x_holds_valid_factur_x(logged_in, seeded):
    ids = "&".join(f"id={seeded[n]}" for n in ("62268557", "62274457"))
    files = zip_files(logged_in.get(f"/factures/archive.zip?{ids}&format=facturx"))
    assert sorted(files) == ["avoir-62274457-facturx.pdf", "facture-62268557-facturx.pdf"]
    for data in files.values():
        name, xml = get_facturx_xml_from_pdf(data, check_xsd=False)
        assert name == "factur-x.xml" and failed_rules(xml, "factur-x") == []
    page = logged_in.get("/factures/").get_data(as_text=True)
    assert '<option value="facturx">Factur-X</option>' in page  # the selection's choice
    assert "/factures/archive.zip?all=1&amp;format=ubl" in page  # and the whole list's


def test_a_zip_in_ubl_names_the_invoices_it_could_not_hold(logged_in, seeded):
    """The list's invoice without its customer's SIREN is not in the ZIP of UBL files:
    a last file says which and why, and the others are all there."""
    line = {"label": "Lettre", "quantity": "1", "unit_price_ht": "100", "vat_rate": "20"}
    lines = [{**line, "amount_ht": "100"}]
    import_invoices([invoice_item("70000003", total_ht="100", total_ttc="120", lines=lines)])
    db.session.commit()
    files = zip_files(logged_in.get("/factures/archive.zip?all=1&format=ubl"))
    assert "facture-70000003.xml" not in files
    assert {"facture-62268557.xml", "avoir-62274457.xml"} <= set(files)
    for name, data in files.items():
        if name.endswith(".xml"):
            assert failed_rules(data, "ubl-2.1") == [], name
    reasons = files["non-inclus.txt"].decode().replace("\xa0", " ")
    assert reasons.startswith("Factures absentes de cette archive, et pourquoi :")
    assert "70000003 : " in reasons and "le SIREN du client" in reasons


@pytest.mark.parametrize("query", ["all=1&format=tiff", "all=1&format=facturx&off=1"])
def test_a_zip_in_a_format_nobody_gives_here_is_404(logged_in, seeded, org, query):
    if "off=1" in query:
        set_app_enabled(org, "einvoicing", False)
        db.session.commit()
    assert logged_in.get(f"/factures/archive.zip?{query}").status_code == 404


AE_LINES = [
    {
        "label": "Hébergement",
        "quantity": "1",
        "unit_price_ht": "100",
        "vat_rate": "20",
        "amount_ht": "100",
    },
    {
        "label": "Service en Belgique",
        "quantity": "1",
        "unit_price_ht": "50",
        "vat_rate": "0",
        "amount_ht": "50",
        "vat_category": "AE",
    },
]
ROUTED = {
    "name": "CLIENT 1",
    "siret": "35600000000048",
    "address": "75015 PARIS",
    "vat_number": "FR32356000000",
    "routing_id": "356000000_FACTURES",
}


def test_what_en16931_needs_comes_with_the_import_and_reaches_both_formats(logged_in, org):
    """The buyer's reference, VAT number and routing address, payment terms and means,
    a reverse-charged line: imported, then written in the Factur-X and the UBL."""
    item = invoice_item(
        "70000010",
        total_ht="150",
        total_ttc="170",
        lines=AE_LINES,
        recipient=ROUTED,
        buyer_reference="SERVICE-COURRIER",
        payment_terms="30 jours fin de mois",
        payment_means="49",
    )
    invoice_id = imported(item)
    response = logged_in.get(f"/factures/{invoice_id}/facturx")
    xml = facturx_xml(response)
    assert failed_rules(xml, "factur-x") == []
    # the person reading the PDF sees the same
    text = " ".join(PdfReader(io.BytesIO(response.data)).pages[0].extract_text().split())
    assert "Votre référence SERVICE-COURRIER" in text and "FR32356000000" in text
    assert "Conditions de paiement : 30 jours fin de mois" in text
    assert "IBAN" not in text  # a direct debit: no transfer to make
    tree = etree.fromstring(xml)
    buyer = tree.xpath("//ram:BuyerTradeParty", namespaces=CII)[0]
    assert buyer.xpath("string(ram:URIUniversalCommunication/ram:URIID)", namespaces=CII) == (
        "356000000_FACTURES"
    )
    assert (
        buyer.xpath("string(ram:URIUniversalCommunication/ram:URIID/@schemeID)", namespaces=CII)
        == "0225"
    )
    assert buyer.xpath("string(ram:SpecifiedTaxRegistration/ram:ID)", namespaces=CII) == (
        "FR32356000000"
    )
    assert tree.xpath("string(//ram:BuyerReference)", namespaces=CII) == "SERVICE-COURRIER"
    assert (
        tree.xpath("string(//ram:SpecifiedTradePaymentTerms/ram:Description)", namespaces=CII)
        == "30 jours fin de mois"
    )
    assert (
        tree.xpath(
            "string(//ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode)", namespaces=CII
        )
        == "49"
    )
    taxes = tree.xpath(
        "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", namespaces=CII
    )
    reverse = [t for t in taxes if t.findtext("ram:CategoryCode", namespaces=CII) == "AE"][0]
    assert reverse.findtext("ram:ExemptionReasonCode", namespaces=CII) == "VATEX-EU-AE"

    ubl = logged_in.get(f"/factures/{invoice_id}/ubl")
    assert ubl.status_code == 200 and failed_rules(ubl.data, "ubl-2.1") == []
    tree = etree.fromstring(ubl.data)
    assert (
        tree.xpath("string(//cac:AccountingCustomerParty//cbc:EndpointID)", namespaces=UBL)
        == "356000000_FACTURES"
    )
    assert tree.xpath("string(//cbc:BuyerReference)", namespaces=UBL) == "SERVICE-COURRIER"


def test_a_reverse_charge_without_the_buyers_vat_number_is_named(logged_in, org):
    recipient = {k: v for k, v in ROUTED.items() if k != "vat_number"}
    item = invoice_item(
        "70000011", total_ht="150", total_ttc="170", lines=AE_LINES, recipient=recipient
    )
    invoice_id = imported(item)
    response = logged_in.get(f"/factures/{invoice_id}/ubl")
    assert response.status_code == 409
    assert "le numéro de TVA du client" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        (
            {
                "lines": [{**AE_LINES[0], "vat_rate": "0", "vat_category": "S"}],
                "total_ttc": "100",
                "total_ht": "100",
            },
            "lines[1].vat_category: S is for a rate above 0",
        ),
        (
            {
                "lines": [{**AE_LINES[0], "vat_category": "E"}],
                "total_ht": "100",
                "total_ttc": "120",
            },
            "lines[1].vat_category: E is at 0 %",
        ),
        ({"recipient": {**ROUTED, "vat_number": "32356000000"}}, "recipient.vat_number"),
        ({"recipient": {"routing_scheme": "0225"}}, "recipient.routing_id: is required"),
        ({"recipient": {**ROUTED, "routing_scheme": "FR"}}, "recipient.routing_scheme"),
        ({"payment_means": "99"}, "payment_means: must be one of"),
    ],
)
def test_malformed_e_invoicing_data_is_refused_by_field_and_nothing_written(org, change, fault):
    with pytest.raises(ImportRejected) as refused:
        import_invoices([invoice_item("70000012", **change)])
    assert fault in str(refused.value)
    assert db.session.scalar(select(Invoice).where(Invoice.number == "70000012")) is None


def test_the_csv_import_takes_the_e_invoicing_columns(app, org, tmp_path):
    header = (
        "number;date;due_date;total_ht;total_ttc;client_code;recipient_siret;"
        "recipient_vat_number;recipient_routing_id;buyer_reference;payment_terms;"
        "line_label;line_quantity;line_unit_price_ht;line_vat_rate;line_amount_ht;"
        "line_vat_category;line_vat_exemption_reason\n"
    )
    row = "70000013;01/09/2026;01/10/2026;150;170;00002501;35600000000048;FR32356000000;R-1;BU7;"
    path = tmp_path / "factures.csv"
    path.write_text(
        header
        + row
        + "30 jours;Hébergement;1;100;20;100;;\n"
        + row
        + "30 jours;Export;1;50;0;50;G;Export hors UE, art. 262 I CGI\n",
        encoding="utf-8",
    )
    result = run_cli(app, "invoices", "import", str(path))
    assert result.exit_code == 0, result.output
    stored = db.session.scalar(select(Invoice).where(Invoice.number == "70000013"))
    assert (stored.recipient_vat_number, stored.recipient_routing_id, stored.buyer_reference) == (
        "FR32356000000",
        "R-1",
        "BU7",
    )
    assert [(line.vat_category, line.vat_exemption_reason) for line in stored.lines] == [
        ("", ""),
        ("G", "Export hors UE, art. 262 I CGI"),
    ]
    groups = en16931(stored)["BG-23"]
    assert [(g["BT-118"], g.get("BT-120")) for g in groups] == [
        ("G", "Export hors UE, art. 262 I CGI"),
        ("S", None),
    ]


def test_operators_see_the_invoices_that_cannot_be_e_invoices_until_an_import_completes_them(
    app, client, org, operator, run_jobs, token
):
    """The import succeeds; the worker's check keeps 70000020 (no customer SIREN) for
    the operators' page, with what it lacks; the same invoice sent again with the
    SIRET is cleared. Customers never reach that page."""
    lines = [
        {
            "label": "Lettre",
            "quantity": "1",
            "unit_price_ht": "100",
            "vat_rate": "20",
            "amount_ht": "100",
        }
    ]
    item = invoice_item("70000020", total_ht="100", total_ttc="120", lines=lines)
    headers = {"Authorization": f"Bearer {token}"}
    imported = client.post("/api/v1/invoices", json=[item], headers=headers)
    assert imported.status_code == 200 and imported.json["created"] == ["70000020"]
    run_jobs()
    assert client.login(operator.email).status_code == 302
    page = client.get("/operator/e-factures/").get_data(as_text=True).replace("&#39;", "'")
    assert "70000020" in page and "il y manque le SIREN du client" in page
    assert "Client 1" in page and "1 résultat" in page
    # the back-office menu, with the pages plugins add, is on a plugin's page too
    assert 'href="/operator/courriers/"' in page and 'href="/operator/e-factures/"' in page

    complete = {**item, "recipient": {"siret": "35600000000048"}}
    imported = client.post("/api/v1/invoices", json=[complete], headers=headers)
    assert imported.json["updated"] == ["70000020"]
    run_jobs()
    page = client.get("/operator/e-factures/").get_data(as_text=True)
    assert "70000020" not in page and "Aucun résultat" in page


def test_the_not_e_invoiceable_page_is_the_operators_only(logged_in):
    assert logged_in.get("/operator/e-factures/").status_code in (403, 404)
    assert logged_in.post("/operator/e-factures/check").status_code in (400, 403, 404)


def test_operators_check_every_invoice_again(app, client, seeded, operator, run_jobs):
    """After the issuer's details changed (here: its SIRET removed), a new check names
    every invoice."""
    app.config["ISSUER"] = {**app.config["ISSUER"], "siret": ""}
    try:
        client.login(operator.email)
        token = client.csrf_token()
        response = client.post("/operator/e-factures/check", data={"csrf_token": token})
        assert response.status_code == 303
        run_jobs()
        page = client.get("/operator/e-factures/").get_data(as_text=True).replace("&#39;", "'")
        assert page.count("il y manque le SIREN du fournisseur") == 3
    finally:
        app.config["ISSUER"] = {**app.config["ISSUER"], "siret": "91234567800011"}


def test_every_demo_invoice_has_what_an_e_invoice_needs(org):
    """The demo's generated invoices charge 20 % of VAT rounded as the lines make it
    (a rounding down once refused 2 in 5 of them)."""
    import_invoices(generated_invoices(date.today(), 300, seed=5))
    db.session.commit()
    invoices = db.session.scalars(select(Invoice)).all()
    assert len(invoices) == 300
    for invoice in invoices:
        data = en16931(invoice)  # FormatRefused would name what is missing
        assert data["BT-112"] == f"{invoice.total_ttc / 100:.2f}"


# -- the lifecycle ("cycle de vie") ------------------------------------------------------


def statuses_of(invoice_id: int) -> list[tuple[str, str]]:
    db.session.expire_all()
    rows = db.session.scalars(
        select(LifecycleStatus)
        .where(LifecycleStatus.invoice_id == invoice_id)
        .order_by(LifecycleStatus.id)
    )
    return [(s.code, s.source) for s in rows]


def send(client, token, *statuses):
    headers = {"Authorization": f"Bearer {token}"}
    return client.post("/api/v1/invoice_statuses", json=list(statuses), headers=headers)


@pytest.fixture
def token():
    _token, clear = api.issue_token("billing system")
    db.session.commit()
    return clear


def test_statuses_come_from_the_api_and_show_on_the_invoice(logged_in, seeded, token, client):
    invoice_id = seeded["62268557"]
    sent = [
        {"number": "62268557", "code": "200", "date": "2026-09-01"},
        {"number": "62268557", "code": "203", "date": "02/09/2026"},
    ]
    answer = send(client, token, *sent)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["created"] == ["62268557 200", "62268557 203"]
    again = send(client, token, *sent)  # the same sent twice: nothing new
    assert again.get_json()["unchanged"] == ["62268557 200", "62268557 203"]
    assert statuses_of(invoice_id) == [("200", "provider"), ("203", "provider")]

    detail = logged_in.get(f"/factures/{invoice_id}").get_data(as_text=True)
    assert f'/factures-electroniques/{invoice_id}"' in detail  # the "Cycle de vie" action
    page = logged_in.get(f"/factures-electroniques/{invoice_id}").get_data(as_text=True)
    assert "Déposée" in page and "Mise à disposition" in page and "02/09/2026" in page


def test_the_invoice_list_filters_by_the_latest_status(logged_in, seeded, token, client):
    """62268557 was disputed after it was submitted: it is "Litige" now, not "Déposée";
    the list, its CSV and its ZIPs agree; the others have no status yet."""
    sent = [
        {"number": "62268557", "code": "200", "date": "2026-09-01"},
        {"number": "62274737", "code": "200", "date": "2026-09-01"},
        {"number": "62268557", "code": "207", "date": "2026-09-03", "reason": "Quantités"},
    ]
    assert send(client, token, *sent).status_code == 200
    assert numbers(logged_in.get("/factures/?lifecycle=200")) == ["62274737"]
    assert numbers(logged_in.get("/factures/?lifecycle=207")) == ["62268557"]
    assert numbers(logged_in.get("/factures/?lifecycle=none")) == ["62274457"]
    assert numbers(logged_in.get("/factures/?lifecycle=212")) == []
    csv = logged_in.get("/factures/export.csv?lifecycle=207").get_data(as_text=True)
    assert "62268557" in csv and "62274737" not in csv
    page = logged_in.get("/factures/?lifecycle=207").get_data(as_text=True)
    assert "Cycle de vie" in page and '<option value="207" selected>207 En litige</option>' in page
    assert "<details open>" in page  # the advanced search shows the filter in use


def test_a_status_that_moves_back_or_names_no_invoice_is_refused_whole(seeded, token, client):
    invoice_id = seeded["62268557"]
    cashed = {"number": "62268557", "code": "212", "date": "2026-09-05"}
    assert send(client, token, cashed).status_code == 200
    unknown = send(client, token, {"number": "62274737", "code": "999", "date": "2026-09-06"})
    assert unknown.status_code == 422
    assert "must be one of 200, 201" in unknown.get_json()["faults"][0]["message"]
    answer = send(
        client,
        token,
        {"number": "62268557", "code": "200", "date": "2026-09-06"},  # back after Encaissée
        {"number": "99999999", "code": "200", "date": "2026-09-06"},
        {"number": "62274737", "code": "200", "date": "2026-09-06"},  # valid, yet not kept
    )
    assert answer.status_code == 422
    faults = {(f["row"], f["field"]): f["message"] for f in answer.get_json()["faults"]}
    assert faults[(1, "code")] == "200 Submitted cannot follow 212 Cashed."
    assert faults[(2, "number")] == "no such invoice"
    assert len(faults) == 2
    assert statuses_of(invoice_id) == [("212", "provider")]
    assert statuses_of(seeded["62274737"]) == []


def test_an_admin_disputes_an_invoice_with_a_reason(logged_in, seeded):
    invoice_id = seeded["62274737"]
    url = f"/factures-electroniques/{invoice_id}"
    empty = logged_in.post(url, data={"code": "207", "reason": ""})
    assert empty.status_code == 422 and "Dites pourquoi." in empty.get_data(as_text=True)
    assert statuses_of(invoice_id) == []
    reason = "Le mois de juin est compté deux fois"
    answer = logged_in.post(url, data={"code": "207", "reason": reason})
    assert answer.status_code == 302
    assert statuses_of(invoice_id) == [("207", "customer")]
    page = logged_in.get(url).get_data(as_text=True)
    assert "En litige" in page and reason in page
    refused = logged_in.post(url, data={"code": "210", "reason": "Facture en double"})
    assert refused.status_code == 302
    assert statuses_of(invoice_id) == [("207", "customer"), ("210", "customer")]
    closed = logged_in.get(url).get_data(as_text=True)
    assert "Refusée" in closed and "Refuser ou contester" not in closed  # final: no answer


def test_a_member_sees_the_lifecycle_but_cannot_answer(app, seeded, member):
    client = app.test_client()
    assert client.login(member.email).status_code == 302
    invoice_id = seeded["62274737"]
    page = client.get(f"/factures-electroniques/{invoice_id}").get_data(as_text=True)
    assert "Refuser ou contester" not in page
    client.post(f"/factures-electroniques/{invoice_id}", data={"code": "210", "reason": "Non"})
    assert statuses_of(invoice_id) == []


def test_an_invoice_paid_through_the_portal_is_cashed(logged_in, mollie, org):
    import_invoices([invoice_item("B-1", total_ht="100.00", total_ttc="120.00")])
    db.session.commit()
    invoice_id = db.session.scalar(select(Invoice.id))
    assert logged_in.post("/paiements/factures", data={"id": [invoice_id]}).status_code == 303
    payment = db.session.scalar(select(Payment))
    mollie.end(payment.provider_id, "paid")
    webhook = logged_in.post("/paiements/webhook", data={"id": payment.provider_id}, csrf=False)
    assert webhook.status_code == 200
    assert statuses_of(invoice_id) == [("212", "payment")]


def test_the_billing_system_fetches_an_invoices_documents_by_number(
    client, logged_in, seeded, token
):
    headers = {"Authorization": f"Bearer {token}"}
    answer = client.get("/api/v1/invoices/62268557/facturx", headers=headers)
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    _name, xml = get_facturx_xml_from_pdf(answer.data, check_xsd=False)
    assert failed_rules(xml, "factur-x") == []
    ubl = client.get("/api/v1/invoices/62268557/ubl", headers=headers)
    assert ubl.status_code == 200 and xml_check_xsd(ubl.data, flavor="ubl-2.1-invoice")
    assert client.get("/api/v1/invoices/62268557/pdf", headers=headers).mimetype == (
        "application/pdf"
    )
    missing = client.get("/api/v1/invoices/99999999/facturx", headers=headers)
    assert missing.status_code == 404 and "no such invoices item" in missing.get_json()["error"]
    odd = client.get("/api/v1/invoices/62268557/odt", headers=headers)
    assert odd.status_code == 404 and "no 'odt' format" in odd.get_json()["error"]
    assert client.get("/api/v1/invoices/62268557/facturx").status_code == 401
    customer = logged_in.get("/api/v1/invoices/62268557/facturx")  # a session is no token
    assert customer.status_code == 401
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/invoices/{key}/{format}" in paths


def test_the_api_says_in_english_why_an_invoice_has_no_factur_x(client, org, token):
    import_invoices([invoice_item("70000003")])  # no lines, no SIREN
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    answer = client.get("/api/v1/invoices/70000003/facturx", headers=headers)
    assert answer.status_code == 409
    assert answer.get_json()["error"] == (
        "This document cannot be made: it lacks the customer's SIREN, the invoice lines."
    )


# -- e-invoices the provider made itself --------------------------------------------


def give(client, token, *items):
    headers = {"Authorization": f"Bearer {token}"}
    return client.post("/api/v1/einvoices", json=list(items), headers=headers)


def encoded(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def test_the_providers_own_e_invoices_are_checked_then_served(logged_in, seeded, token, client):
    invoice_id = seeded["62268557"]
    ours = logged_in.get(f"/factures/{invoice_id}/ubl").data
    theirs = ours.replace(b"?>\n", b"?>\n<!-- made by the provider's billing system -->\n", 1)
    assert theirs != ours and failed_rules(theirs, "ubl-2.1") == []
    facturx = logged_in.get(f"/factures/{invoice_id}/facturx").data
    items = [
        {"number": "62268557", "flavor": "ubl", "content": encoded(theirs)},
        {"number": "62268557", "flavor": "factur-x", "content": encoded(facturx)},
    ]
    answer = give(client, token, *items)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["created"] == ["62268557 ubl", "62268557 factur-x"]
    assert logged_in.get(f"/factures/{invoice_id}/ubl").data == theirs  # theirs, not ours
    assert logged_in.get(f"/factures/{invoice_id}/facturx").data == facturx
    assert give(client, token, *items).get_json()["unchanged"] == [
        "62268557 ubl",
        "62268557 factur-x",
    ]


def test_tampered_or_foreign_e_invoices_are_refused_at_import_and_nothing_kept(
    logged_in, seeded, token, client
):
    from plugins.einvoicing.models import ProvidedFile

    ubl = logged_in.get(f"/factures/{seeded['62268557']}/ubl").data
    tampered = ubl.replace(b">5130.82<", b">5130.83<")
    other = logged_in.get(f"/factures/{seeded['62274737']}/ubl").data
    plain_pdf = logged_in.get(f"/factures/{seeded['62274737']}/pdf").data
    malformed = give(client, token, {"number": "62274737", "flavor": "ubl", "content": "no!"})
    assert malformed.status_code == 422
    assert "is not valid base64" in malformed.get_json()["faults"][0]["message"]
    answer = give(
        client,
        token,
        {"number": "62268557", "flavor": "ubl", "content": encoded(tampered)},
        {"number": "62268557", "flavor": "factur-x", "content": encoded(other)},  # not a PDF
        {"number": "62274457", "flavor": "ubl", "content": encoded(other)},
        {"number": "99999999", "flavor": "ubl", "content": encoded(ubl)},
        {"number": "62274737", "flavor": "factur-x", "content": encoded(plain_pdf)},
        {"number": "62274737", "flavor": "ubl", "content": encoded(other)},  # valid, not kept
    )
    assert answer.status_code == 422
    faults = {(f["row"], f["field"]): f["message"] for f in answer.get_json()["faults"]}
    assert "BR-CO-15" in faults[(1, "content")]  # the total no longer adds up
    assert "is not a PDF" in faults[(2, "content")]
    assert faults[(3, "content")] == "is the e-invoice of 62274737, not of 62274457"
    assert faults[(4, "number")] == "no such invoice"
    assert faults[(5, "content")] == "is a PDF without the factur-x.xml of a Factur-X"
    assert len(faults) == 5
    assert db.session.scalars(select(ProvidedFile)).all() == []
