"""Paying online as a customer does it, at 1366 px and at 390 px, through the local
Mollie server that ``make run`` starts (its webhook calls the portal): top up the
wallet and get the receipt by e-mail; pay invoices, a credit note set against the
invoice it cancels."""

from __future__ import annotations

import uuid
from datetime import date

from playwright.sync_api import expect

from tests.e2e.conftest import import_file, log_in


def test_top_up_the_wallet_and_receive_the_receipt(page, portal, customer, smtp_sink):
    log_in(page, customer)
    page.goto("/porte-monnaie/")
    before = page.locator(".wallet-balance").inner_text()
    page.get_by_role("button", name="Charger le solde").click()
    expect(page.get_by_text("Mode test")).to_be_visible()
    page.get_by_label("50,00").check()
    page.get_by_role("button", name="Continuer vers le paiement").click()

    expect(page.locator("#amount")).to_have_text("50.00 EUR")  # Mollie's checkout
    page.get_by_role("button", name="paid").click()
    page.wait_for_url("**/paiements/*")
    expect(page.locator("#payment-state")).to_contain_text("Payé")
    page.get_by_role("link", name="Voir le reçu").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Facture RC-")
    number = page.get_by_role("heading", level=1).inner_text().rsplit(" ", 1)[1]
    page.goto("/porte-monnaie/")
    expect(page.locator(".wallet-balance")).not_to_have_text(before)
    portal.wait_for(
        lambda: any(m["To"] == customer and number in m["Subject"] for m in smtp_sink.messages),
        "the receipt's e-mail to its payer",
    )
    [mail] = [m for m in smtp_sink.messages if m["To"] == customer]
    assert [a.get_filename() for a in mail.iter_attachments()] == [f"facture-{number}.pdf"]


def test_pay_invoices_with_a_credit_note_set_against_its_invoice(page, portal, customer):
    prefix = f"8{uuid.uuid4().int % 10**6:06d}"
    import_file(
        portal,
        "invoices",
        [
            {
                "number": f"{prefix}1",
                "total_ht": "100.00",
                "total_ttc": "120.00",
                "date": "2026-11-02",
                "client_code": "00002501",
                "subscriber": "CLIENT 1",
            },
            {
                "number": f"{prefix}2",
                "type": "credit_note",
                "cancels": f"{prefix}1",
                "total_ht": "-25.00",
                "total_ttc": "-30.00",
                "date": "2026-11-20",
                "client_code": "00002501",
                "subscriber": "CLIENT 1",
            },
            {
                "number": f"{prefix}3",
                "total_ht": "10.00",
                "total_ttc": "12.00",
                "date": "2026-11-21",
                "client_code": "00002501",
                "subscriber": "CLIENT 1",
            },
        ],
    )
    log_in(page, customer)
    page.goto(f"/factures/?q={prefix}")
    for n in (1, 2, 3):
        page.get_by_role("checkbox", name=f"Sélectionner {prefix}{n}").check()
    page.get_by_role("button", name="Payer la sélection").click()
    expect(page.locator("#pay-total")).to_contain_text("102,00")  # 120 - 30 + 12
    expect(page.get_by_text(f"{prefix}2 — avoir, déduit de la facture {prefix}1")).to_be_visible()
    page.get_by_role("button", name="Payer 102,00").click()
    page.get_by_role("button", name="paid").click()
    page.wait_for_url("**/paiements/*")
    expect(page.locator("#payment-state")).to_contain_text("Payé")
    page.get_by_role("link", name=f"{prefix}1").click()
    expect(page.locator("dl.facts").first).to_contain_text("Payée")
    expect(page.get_by_role("link", name=f"{prefix}2")).to_be_visible()  # its credit note
    # the statement of today ends with the two payments, after the demo's of the day
    today = date.today().isoformat()
    page.goto(f"/releve/?from={today}&to={today}&last=1")
    for n in (1, 3):
        row = page.locator("tbody tr", has=page.get_by_role("link", name=f"{prefix}{n}"))
        expect(row.filter(has_text="Paiement")).to_have_count(1)
    expect(page.locator("tbody tr").last).to_contain_text("Solde de clôture")
