"""Sending an invoice by post as a customer does it: from the invoice, the form with
the recipient's address, the preview with the price and the balance, confirmation;
the balance goes down and the letter is listed with its status."""

from playwright.sync_api import expect
from sqlalchemy import select

from core.extensions import db
from plugins.invoices.importing import import_invoices
from plugins.invoices.models import Invoice
from plugins.wallet import ledger
from tests.conftest import invoice_item
from tests.e2e.conftest import log_in


def test_send_an_invoice_by_post(page, customer, org):
    ledger.post(org.id, "topup", 1000, "fund")
    db.session.commit()
    recipient = {"name": "CLIENT 1", "address": "9 RUE DU COLONEL PIERRE AVIA\n75015 PARIS"}
    import_invoices([invoice_item("80001", recipient=recipient)])
    invoice_id = db.session.scalar(select(Invoice.id).where(Invoice.number == "80001"))

    log_in(page, customer.email)
    page.goto(f"/factures/{invoice_id}")
    page.get_by_role("button", name="Envoyer par courrier postal").click()
    expect(page.get_by_label("Adresse du destinataire")).to_have_value(
        "CLIENT 1\n9 RUE DU COLONEL PIERRE AVIA\n75015 PARIS"
    )
    page.get_by_role("button", name="Voir l’aperçu et le prix").click()
    expect(page.locator("#preview-address")).to_contain_text("75015 PARIS")
    expect(page.locator("#preview-price")).to_contain_text("1,")
    expect(page.locator("#preview-balance")).to_contain_text("10,00")
    price = page.locator("#preview-price").inner_text()
    page.get_by_role("button", name=f"Envoyer pour {price}").click()
    expect(page.locator(".letter-status")).to_contain_text("En file d’attente")
    page.goto("/porte-monnaie/")
    expect(page.locator(".wallet-balance")).not_to_contain_text("10,00")
    page.goto("/courrier/")
    expect(page.locator("#letter-results tbody tr")).to_have_count(1)
    expect(page.locator("#letter-results")).to_contain_text("Facture 80001")
    assert ledger.balance(org.id) < 1000
