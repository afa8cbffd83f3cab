"""A customer registers an address to receive its invoices, at 1366 px and at 390 px;
the provider imports invoices; the portal's worker e-mails them, PDF attached, and the
delivery log says so. Then consumption: period, grouping, comparison, CSV."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from playwright.sync_api import expect

from tests.e2e.conftest import import_file, log_in, look, settled


def test_register_an_address_and_receive_the_next_invoices(page, portal, customer, smtp_sink):
    address = f"compta-{uuid.uuid4().hex[:8]}@client1.example.com"
    log_in(page, customer)
    page.goto("/factures/")
    page.get_by_role("link", name="Notifications").click()
    expect(page.get_by_role("heading", name="Notifications de factures")).to_be_visible()
    form = page.locator("#new-subscription")  # addresses others registered are above
    form.get_by_label("Adresse e-mail").fill("not an address")
    form.get_by_role("button", name="Ajouter").click()
    expect(page.get_by_text("Ce n’est pas une adresse e-mail valide.")).to_be_visible()
    form.get_by_label("Adresse e-mail").fill(address)
    expect(form.get_by_label("Pièces jointes (le PDF)")).to_be_checked()
    form.get_by_label("Joindre").select_option(label="le PDF et la Factur-X")
    form.get_by_label("Fréquence").select_option(label="Un e-mail par facture")
    look(page, "notifications")
    form.get_by_role("button", name="Ajouter").click()
    expect(page.get_by_text(f"{address} recevra vos factures.")).to_be_visible()

    prefix = f"6{uuid.uuid4().int % 10**6:06d}"
    numbers = [f"{prefix}{n}" for n in (1, 2)]
    import_file(
        portal,
        "invoices",
        [
            {
                "number": numbers[0],  # without lines: it cannot be a Factur-X
                "date": "2026-11-25",
                "total_ht": "10.00",
                "total_ttc": "12.00",
                "client_code": "00002501",
                "subscriber": "CLIENT 1",
            },
            {
                "number": numbers[1],
                "date": "2026-11-25",
                "due_date": "2026-12-25",
                "total_ht": "10.00",
                "total_ttc": "12.00",
                "client_code": "00002501",
                "subscriber": "CLIENT 1",
                "recipient": {
                    "name": "CLIENT 1",
                    "siret": "35600000000048",
                    "address": "75015 PARIS",
                },
                "lines": [
                    {
                        "label": "Lettre",
                        "quantity": "1",
                        "unit_price_ht": "10",
                        "vat_rate": "20",
                        "amount_ht": "10",
                    },
                ],
            },
        ],
    )
    portal.wait_for(
        lambda: len([m for m in smtp_sink.messages if m["To"] == address]) == 2, "two e-mails"
    )
    mails = sorted(
        (m for m in smtp_sink.messages if m["To"] == address), key=lambda m: m["Subject"]
    )
    assert [m["Subject"].split()[1] for m in mails] == numbers
    assert [[a.get_filename() for a in m.iter_attachments()] for m in mails] == [
        [f"facture-{numbers[0]}.pdf"],  # the PDF in its place
        [f"facture-{numbers[1]}.pdf", f"facture-{numbers[1]}-facturx.pdf"],
    ]
    page.get_by_role("link", name="Voir le journal des envois").click()
    page.wait_for_url("**/journal")
    settled(page)
    page.get_by_label("Statut").select_option(label="Envoyé")  # filters in place (HTMX)
    expect(page).to_have_url(re.compile(r"status=sent"))
    expect(page.locator("#delivery-results tbody tr").filter(has_text=address)).to_have_count(2)


def test_consumption_by_period_grouping_comparison_and_export(page, customer):
    log_in(page, customer)
    page.goto("/consommations/")
    rows = page.locator(".consumption-table tbody tr")
    expect(rows).to_have_count(12)
    expect(page.locator("svg[role=img] rect.bar")).to_have_count(12)
    with page.expect_response(lambda r: "period=last_month" in r.url):
        page.locator("select[name=period]").select_option(label="Le mois dernier")
    expect(rows).to_have_count(1)
    page.locator("select[name=period]").select_option(label="12 derniers mois")
    with page.expect_response(lambda r: "group=product" in r.url):
        page.locator("select[name=group]").select_option(label="Produit")
    expect(page.locator("svg[role=img] .product-line")).to_have_count(6)  # one per product
    expect(page.locator(".legend li")).to_have_count(7)  # the bars, then every product
    with page.expect_response(lambda r: "compare=1" in r.url):
        page.get_by_label("Comparer avec la même période l’an dernier").check()
    expect(page.get_by_role("columnheader", name="Évolution sur un an")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV (tableur français)").click()
    assert download.value.suggested_filename.startswith("consommations-2")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("Produit;Quantité;Unité;Montant HT;L’an dernier")
    rows.first.get_by_role("link").click()
    expect(page.get_by_role("heading", name="Relevés")).to_be_visible()
    expect(page.locator(".site-header")).to_have_count(1)
