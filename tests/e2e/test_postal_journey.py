"""A letter sent by post as a customer sends it, at 1366 px and at 390 px, with the
portal's own worker: from an invoice to its preview with the price and the balance,
then confirmed; the worker hands it to the print shop's outbox, the print shop's
status file comes back, and the letter shows as posted."""

from __future__ import annotations

import json
import uuid

from playwright.sync_api import expect
from pypdf import PdfReader

from tests.e2e.conftest import import_file, log_in, organisation_id


def test_an_invoice_goes_by_post_to_the_print_shop_and_comes_back_posted(page, portal, customer):
    number = f"7{uuid.uuid4().int % 10**6:06d}"
    recipient = {"name": "CLIENT 1", "address": "9 RUE DU COLONEL PIERRE AVIA\n75015 PARIS"}
    import_file(
        portal,
        "invoices",
        [
            {
                "number": number,
                "date": "2026-11-20",
                "total_ht": "100.00",
                "total_ttc": "120.00",
                "client_code": "00002501",
                "subscriber": "CLIENT 1",
                "recipient": recipient,
            }
        ],
    )
    portal.cli("wallet", "adjust", organisation_id(portal), "10", "--reason", "Crédit d’essai")
    log_in(page, customer)
    page.goto(f"/factures/?q={number}")
    page.get_by_role("link", name=number, exact=True).click()
    page.get_by_role("button", name="Envoyer par courrier postal").click()
    expect(page.get_by_label("Adresse du destinataire")).to_have_value(
        "CLIENT 1\n9 RUE DU COLONEL PIERRE AVIA\n75015 PARIS"
    )
    page.get_by_role("button", name="Voir l’aperçu et le prix").click()
    expect(page.locator("#preview-address")).to_contain_text("75015 PARIS")
    expect(page.locator("#preview-price")).to_contain_text("1,")
    price = page.locator("#preview-price").inner_text()
    page.get_by_role("button", name=f"Envoyer pour {price}").click()
    expect(page.locator(".letter-status")).to_be_visible()
    reference = f"L{int(page.url.rstrip('/').rsplit('/', 1)[1]):08d}"

    outbox = portal.instance / "postal" / "outbox"
    portal.wait_for(lambda: (outbox / f"{reference}.json").exists(), "the letter in the outbox")
    manifest = json.loads((outbox / f"{reference}.json").read_text())
    assert manifest["address"][-1] == "75015 PARIS"
    printed = PdfReader(outbox / f"{reference}.pdf")
    assert "75015 PARIS" in printed.pages[0].extract_text()
    page.reload()
    expect(page.locator(".letter-status")).to_contain_text("Remis à l’imprimeur")

    inbox = portal.instance / "postal" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / f"{reference}.json").write_text(json.dumps({"status": "posted"}))
    # what the worker does every five minutes: its own poll may come first (CI saw it)
    assert portal.cli("postal", "poll") in ("1 letter(s) changed\n", "0 letter(s) changed\n")
    page.reload()
    expect(page.locator(".letter-status")).to_contain_text("Posté")
    assert portal.cli("postal", "poll") == "0 letter(s) changed\n"  # moved once, not again
    page.goto("/courrier/")
    expect(page.locator("#letter-results")).to_contain_text(f"Facture {number}")
