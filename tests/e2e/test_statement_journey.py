"""The statement of account in the running portal: a period chosen in the form, its PDF
downloaded from the page and read back (drawn by the web server as `make run` starts
it)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from playwright.sync_api import expect
from pypdf import PdfReader

from tests.e2e.conftest import log_in


def test_a_customer_downloads_the_statement_of_a_period_as_pdf(page, portal):
    log_in(page, *portal.logins["customer"])
    page.goto("/releve/")
    start = date.today() - timedelta(days=45)
    page.get_by_label("Du", exact=True).fill(start.isoformat())
    page.get_by_label("Au", exact=True).fill(date.today().isoformat())
    with page.expect_response(lambda r: "/releve/?" in r.url):
        page.get_by_role("button", name="Afficher").click()
    count = page.locator(".list-count").first
    expect(count).to_contain_text("résultat")
    with page.expect_download() as download:
        page.get_by_role("link", name="PDF").click()
    assert re.fullmatch(
        r"releve-\d{4}-\d\d-\d\d-\d{4}-\d\d-\d\d\.pdf", download.value.suggested_filename
    )
    pages = PdfReader(download.value.path()).pages
    first = pages[0].extract_text().replace("\xa0", " ")
    assert "Relevé de compte" in first and "Guichet Démo SAS" in first
    assert f"Du {start:%d/%m/%Y}" in first and "Solde d’ouverture" in first
    assert "Solde de clôture" in pages[-1].extract_text()
    fonts = {f["/BaseFont"].split("+")[1] for f in pages[0]["/Resources"]["/Font"].values()}
    assert fonts == {"BitstreamVeraSans-Roman", "BitstreamVeraSans-Bold"}
