"""Paying online as a customer does it: top up the wallet through the (local) Mollie
checkout and see the balance and the receipt; pay an invoice from its page."""

from playwright.sync_api import expect
from sqlalchemy import select

from core.extensions import db
from plugins.invoices.importing import import_invoices
from plugins.invoices.models import Invoice
from plugins.wallet import ledger
from tests.conftest import invoice_item
from tests.e2e.conftest import log_in


def test_top_up_the_wallet_then_pay_an_invoice(page, customer, org, live_mollie):
    log_in(page, customer.email)
    page.goto("/porte-monnaie/")
    expect(page.locator(".wallet-balance")).to_contain_text("0,00")
    page.get_by_role("button", name="Charger le solde").click()
    expect(page.get_by_text("Mode test")).to_be_visible()
    page.get_by_label("50,00").check()
    page.get_by_role("button", name="Continuer vers le paiement").click()

    # the local Mollie checkout: the customer pays
    expect(page.locator("#amount")).to_have_text("50.00 EUR")
    page.get_by_role("button", name="paid").click()
    page.wait_for_url("**/paiements/*")
    expect(page.locator("#payment-state")).to_contain_text("Payé")  # live, even before the webhook
    page.get_by_role("link", name="Voir le reçu").click()
    expect(page.locator("h1")).to_contain_text("Consultation détaillée — Facture RC-")
    page.get_by_role("link", name="← Vos factures").click()
    page.goto("/porte-monnaie/")
    expect(page.locator(".wallet-balance")).to_contain_text("50,00")
    assert ledger.balance(org.id) == 5000

    import_invoices([invoice_item("70001", total_ht="100.00", total_ttc="120.00")])
    invoice_id = db.session.scalar(select(Invoice.id).where(Invoice.number == "70001"))
    page.goto(f"/factures/{invoice_id}")
    page.get_by_role("button", name="Payer", exact=True).click()
    expect(page.locator("#pay-total")).to_contain_text("120,00")
    page.get_by_role("button", name="Payer 120,00").click()
    page.get_by_role("button", name="paid").click()
    page.wait_for_url("**/paiements/*")
    expect(page.locator("#payment-state")).to_contain_text("Payé")
    page.get_by_role("link", name="70001").click()
    expect(page.locator("dl.facts").first).to_contain_text("StatutPayé")
    expect(page.get_by_role("button", name="Paiement en ligne : Payé")).to_be_visible()
    # the webhook came too, and changed nothing more
    assert any(answer == 200 for _id, answer in live_mollie.webhook_calls)
    assert ledger.balance(org.id) == 5000
