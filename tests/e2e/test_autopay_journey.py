"""Automatic payment as an organisation's admin sets it up and the portal then runs it
(``make run``'s worker and local Mollie server, which pays a direct debit three
seconds after it is asked): a mistyped IBAN is refused, a mandate signed, a card
saved at the provider's checkout, an account put on the mandate; the daily run
announces the invoice by e-mail, debits it on its day, and the invoice is paid."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from playwright.sync_api import expect

from tests.e2e.conftest import check_page, import_file, log_in, look, new_customer


def test_sign_a_mandate_and_have_an_invoice_paid_on_its_day(page, portal, smtp_sink):
    name = f"Client {uuid.uuid4().hex[:6]}"
    org_id = portal.cli("org", "create", name).strip()
    code = f"{uuid.uuid4().int % 10**8:08d}"
    portal.cli("account", "create", org_id, code)
    portal.cli("app", "enable", org_id, "autopay")  # the operator switches it on
    admin = new_customer(portal, org_id)
    log_in(page, admin)
    page.goto("/prelevement/")
    expect(page.get_by_role("heading", name="Prélèvement automatique")).to_be_visible()
    page.get_by_role("button", name="Signer un mandat SEPA").click()
    page.get_by_label("Titulaire du compte").fill("Claude Dupont")
    page.get_by_label("IBAN").fill("FR76 3000 6000 0112 3456 7890 188")
    page.get_by_text("J'autorise ces prélèvements").click()
    page.get_by_role("button", name="Signer le mandat").click()
    expect(page.get_by_text("Cet IBAN n'est pas valide")).to_be_visible()
    check_page(page)
    look(page, "autopay-sign")
    page.get_by_label("IBAN").fill("FR76 3000 6000 0112 3456 7890 189")
    page.get_by_role("button", name="Signer le mandat").click()
    expect(page.get_by_text("Le mandat du compte FR76 •••• 0189 est signé.")).to_be_visible()
    # a card too, saved at the provider's checkout (a payment of 0.00)
    page.get_by_role("button", name="Enregistrer une carte").click()
    expect(page.locator("#amount")).to_have_text("0.00 EUR")
    page.get_by_role("button", name="paid", exact=True).click()
    expect(page.get_by_role("heading", name="Prélèvement automatique")).to_be_visible()
    for _ in range(20):  # back before the webhook, perhaps: the card comes a moment later
        if page.get_by_role("cell", name="Mastercard •••• 6787").count():
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(page.get_by_role("cell", name="Mastercard •••• 6787")).to_be_visible()
    page.get_by_label(f"Prélèvement automatique de {code}").select_option(label="FR76 •••• 0189")
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    expect(
        page.get_by_text(f"Les factures de {code} seront payées automatiquement")
    ).to_be_visible()

    number = f"7{uuid.uuid4().int % 10**7:07d}"
    today = date.today()
    import_file(
        portal,
        "invoices",
        [
            {
                "number": number,
                "total_ht": "100.00",
                "total_ttc": "120.00",
                "date": today.isoformat(),
                "due_date": (today + timedelta(days=2)).isoformat(),
                "client_code": code,
                "subscriber": name,
            }
        ],
    )
    portal.cli("autopay", "run")  # the morning's run: the notice
    portal.wait_for(
        lambda: any(
            m["To"] == admin and number in m.get_body(("plain",)).get_content()
            for m in smtp_sink.messages
        ),
        "the notice of the debit",
    )
    day = (today + timedelta(days=5)).isoformat()  # five days' notice
    portal.cli("autopay", "run", "--date", day)  # the run of the debit's day
    page.goto("/prelevement/")
    row = page.locator("#autopay-results tbody tr", has_text=number)
    for _ in range(60):  # the worker asks, the bank pays, the webhook tells the portal
        if "Payé" in row.inner_text():
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(row).to_contain_text("Payé")
    check_page(page)
    look(page, "autopay")
    row.get_by_role("link", name=number).click()
    expect(page.locator("dl.facts").first).to_contain_text("Payée")
