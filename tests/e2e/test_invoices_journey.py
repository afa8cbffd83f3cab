"""Contracts and invoices as a customer uses them, at 1366 px and at 390 px: the
contracts list and a contract's page, the scope, the advanced search of invoices, a
detail page, its PDF, the CSV, the ZIP of a selection; every file is read back."""

from __future__ import annotations

import re
import uuid
import zipfile
from datetime import date, timedelta
from io import BytesIO

from facturx import get_facturx_xml_from_pdf, xml_check_xsd
from playwright.sync_api import expect
from pypdf import PdfReader

from plugins.einvoicing.validation import failed_rules
from tests.e2e.conftest import import_file, is_phone, log_in, look

TODAY = date.today()


def day(days_ago: int) -> str:
    return (TODAY - timedelta(days=days_ago)).isoformat()


def test_contracts_a_contracts_page_and_the_scope(page, customer):
    log_in(page, customer)
    page.goto("/contrats/")
    rows = page.locator("#contract-results tbody tr")
    expect(rows).to_have_count(25)
    with page.expect_response(lambda r: "status=suspended" in r.url):
        page.get_by_label("Statut").select_option(label="Suspendu")
    expect(rows).to_have_count(1)
    rows.first.get_by_role("link").click()  # a row's link opens the contract's page
    expect(page.get_by_role("heading", level=1)).to_contain_text("Contrat")
    expect(page.locator(".site-header")).to_have_count(1)  # a page, not one nested in a list
    page.go_back()
    expect(rows).to_have_count(1)
    expect(page.get_by_label("Statut")).to_have_value("suspended")  # the form as the URL says

    page.get_by_test_id("scope").click()
    page.get_by_label("04008041 – Client 1 – Agence de Lyon").check()
    page.get_by_role("button", name="Appliquer").click()
    expect(page.get_by_test_id("scope")).to_contain_text("1 compte(s)")
    page.goto("/contrats/?size=100")
    codes = page.locator("#contract-results tbody td:nth-child(3)").all_inner_texts()
    assert codes and set(codes) == {"04008041"}
    page.get_by_test_id("scope").click()
    page.get_by_label("04008041 – Client 1 – Agence de Lyon").uncheck()
    page.get_by_role("button", name="Appliquer").click()
    expect(page.get_by_test_id("scope")).to_contain_text("Tous les comptes")


def test_search_open_pdf_csv_and_zip(page, portal, customer):
    prefix = f"9{uuid.uuid4().int % 10**6:06d}"  # this run's invoices only
    import_file(
        portal,
        "invoices",
        [
            {
                "number": f"{prefix}{n}",
                "date": day(n * 10),
                "total_ht": f"{100 * (n + 1)}.00",
                "total_ttc": f"{120 * (n + 1)}.00",
                "client_code": "00002501",
                "subscriber": "CLIENT 1",
                "due_date": day(n * 10 - 30),
            }
            for n in range(6)
        ],
    )
    log_in(page, customer)
    page.goto(f"/factures/?q={prefix}")
    rows = page.locator("#invoice-results tbody tr")
    expect(rows).to_have_count(6)

    page.get_by_text("Recherche avancée").click()
    page.get_by_label("Date entre le").fill(day(45))
    page.get_by_label("et le", exact=True).fill(day(5))
    page.get_by_label("Montant TTC entre").fill("200")
    page.get_by_label("et", exact=True).fill("500")
    with page.expect_response(lambda r: "/factures/?" in r.url):
        page.get_by_role("button", name="Rechercher").click()
    expect(rows).to_have_count(3)  # n = 1, 2, 3: 240, 360, 480
    assert "ttc_min=200" in page.url and "ttc_max=500" in page.url

    page.get_by_role("link", name=f"{prefix}2", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Consultation détaillée — Facture {prefix}2"
    )
    expect(page.get_by_text("Données de la facture")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("button", name="Télécharger le PDF").click()
    text = PdfReader(download.value.path()).pages[0].extract_text().replace("\xa0", " ")
    assert f"{prefix}2" in text and "360,00 €" in text and "Guichet Démo SAS" in text

    page.go_back()
    expect(rows).to_have_count(3)  # the back button keeps the search
    expect(page.get_by_label("Montant TTC entre")).to_have_value(re.compile(r"^200(\.00)?$"))
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV (tableur français)").click()
    assert download.value.suggested_filename == f"factures-{TODAY.isoformat()}.csv"
    with open(download.value.path(), encoding="utf-8-sig") as handle:
        lines = handle.read().splitlines()
    assert lines[0].startswith("Type;Date;N° de la facture")
    assert [line.split(";")[2] for line in lines[1:]] == [f"{prefix}{n}" for n in (1, 2, 3)]

    row_pdf = page.get_by_role("link", name=f"PDF de la facture {prefix}3")
    if is_phone(page):  # a secondary column: on a phone the PDF is on the invoice's page
        expect(row_pdf).to_be_hidden()
    else:
        with page.expect_download() as download:  # a row's own PDF button
            row_pdf.click()
        assert download.value.suggested_filename == f"facture-{prefix}3.pdf"

    zip_button = page.get_by_role("button", name="Télécharger la sélection (ZIP)")
    expect(zip_button).to_be_disabled()  # nothing ticked yet
    for n in (1, 2, 3):
        page.get_by_role("checkbox", name=f"Sélectionner {prefix}{n}").check()
    with page.expect_download() as download:
        zip_button.click()
    with open(download.value.path(), "rb") as handle:
        archive = zipfile.ZipFile(BytesIO(handle.read()))
    assert sorted(archive.namelist()) == [f"facture-{prefix}{n}.pdf" for n in (1, 2, 3)]
    first = PdfReader(BytesIO(archive.read(f"facture-{prefix}1.pdf"))).pages[0].extract_text()
    assert f"{prefix}1" in first
    # the same selection as Factur-X: these invoices have no lines, so none can be one,
    # and the ZIP says which and why instead
    page.get_by_label("Fichiers").select_option("facturx")
    with page.expect_download() as download:
        zip_button.click()
    assert download.value.suggested_filename == f"factures-facturx-{TODAY.isoformat()}.zip"
    with open(download.value.path(), "rb") as handle:
        archive = zipfile.ZipFile(BytesIO(handle.read()))
    assert archive.namelist() == ["non-inclus.txt"]
    reasons = archive.read("non-inclus.txt").decode().replace("\xa0", " ")
    assert reasons.startswith("Factures absentes de cette archive, et pourquoi :")
    assert all(f"{prefix}{n} : " in reasons for n in (1, 2, 3)) and "les lignes" in reasons

    with page.expect_download() as download:  # the whole filtered list, announced
        page.get_by_role("link", name="Tout télécharger (3) en ZIP").click()
    expect(page.locator(".download-status")).to_be_visible()
    assert download.value.suggested_filename == f"factures-{TODAY.isoformat()}.zip"
    expect(page.locator(".download-status")).to_have_text("Le téléchargement du ZIP a commencé.")


def test_an_invoice_as_factur_x_and_ubl(page, customer):
    """The demo's invoice 62268557, from the search box to its Factur-X and UBL, each
    read back and checked against the schema and the EN 16931 rules."""
    log_in(page, customer)
    page.goto("/factures/?q=62268557")
    page.get_by_role("link", name="62268557", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("62268557")
    look(page, "invoice-formats")
    with page.expect_download() as download:
        page.get_by_role("button", name="Factur-X").click()
    assert download.value.suggested_filename == "facture-62268557-facturx.pdf"
    with open(download.value.path(), "rb") as handle:
        pdf = handle.read()
    assert "62268557" in PdfReader(BytesIO(pdf)).pages[0].extract_text()
    _name, xml = get_facturx_xml_from_pdf(pdf, check_xsd=False)
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert failed_rules(xml, "factur-x") == []
    with page.expect_download() as download:
        page.get_by_role("button", name="UBL").click()
    with open(download.value.path(), "rb") as handle:
        ubl = handle.read()
    assert xml_check_xsd(ubl, flavor="ubl-2.1-invoice") and failed_rules(ubl, "ubl-2.1") == []

    page.goto("/factures-electroniques/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Vos factures électroniques")
    look(page, "einvoicing")
