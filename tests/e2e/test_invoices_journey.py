"""Invoices as a customer uses them: search by dates and amounts, open one, download
its PDF, export the CSV, download three as a ZIP; every file is read back."""

import zipfile
from datetime import date, timedelta
from io import BytesIO

from playwright.sync_api import expect
from pypdf import PdfReader

from plugins.invoices.importing import import_invoices
from tests.e2e.conftest import log_in

TODAY = date.today()


def day(days_ago: int) -> str:
    return (TODAY - timedelta(days=days_ago)).isoformat()


def test_search_open_pdf_csv_and_zip(page, customer, org):
    import_invoices(
        [
            {
                "number": f"5000{n}",
                "date": day(n * 10),
                "total_ht": f"{100 * (n + 1)}.00",
                "total_ttc": f"{120 * (n + 1)}.00",
                "client_code": "00002501",
                "subscriber": "CLIENT 1",
            }
            for n in range(6)
        ]
    )
    log_in(page, customer.email)
    page.goto("/factures/")
    rows = page.locator("#invoice-results tbody tr")
    expect(rows).to_have_count(6)

    page.get_by_text("Recherche avancée").click()
    page.get_by_label("Date entre le").fill(day(45))
    page.get_by_label("et le", exact=True).fill(day(5))
    page.get_by_label("Montant TTC entre").fill("200")
    page.get_by_label("et", exact=True).fill("500")
    with page.expect_response(lambda r: "/factures/?" in r.url):
        page.get_by_role("button", name="Rechercher").click()
    expect(rows).to_have_count(3)  # 50001 (240), 50002 (360), 50003 (480)
    assert "ttc_min=200&ttc_max=500" in page.url  # the search lives in the URL

    page.get_by_role("link", name="50002").click()
    expect(
        page.get_by_role("heading", name="Consultation détaillée — Facture 50002")
    ).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("button", name="Télécharger le PDF").click()
    text = PdfReader(download.value.path()).pages[0].extract_text().replace("\u202f", " ")
    assert "50002" in text and "360,00 €" in text

    page.go_back()
    expect(rows).to_have_count(3)  # the back button keeps the search
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV (tableur français)").click()
    assert download.value.suggested_filename == f"factures-{TODAY.isoformat()}.csv"
    with open(download.value.path(), encoding="utf-8-sig") as handle:
        lines = handle.read().splitlines()
    assert [line.split(";")[2] for line in lines[1:]] == ["50001", "50002", "50003"]

    for number in ("50001", "50002", "50003"):
        page.get_by_label(f"Sélectionner {number}").check()
    with page.expect_download() as download:
        page.get_by_role("button", name="Télécharger la sélection (ZIP)").click()
    with open(download.value.path(), "rb") as handle:
        archive = zipfile.ZipFile(BytesIO(handle.read()))
    assert sorted(archive.namelist()) == [
        "facture-50001.pdf",
        "facture-50002.pdf",
        "facture-50003.pdf",
    ]
    first = PdfReader(BytesIO(archive.read("facture-50001.pdf"))).pages[0].extract_text()
    assert "50001" in first
