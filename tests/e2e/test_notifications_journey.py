"""A customer registers an address to receive its invoices with their PDF, then sees
the delivery log fill after the provider's import."""

import json

from playwright.sync_api import expect

from core import jobs
from tests.conftest import invoice_item, run_cli
from tests.e2e.conftest import log_in


def test_register_an_address_and_see_the_log_fill_after_an_import(
    page, customer, live_app, smtp_server, tmp_path
):
    jobs.queue(live_app).flush()
    log_in(page, customer.email)
    page.goto("/factures/")
    page.get_by_role("link", name="Notifications").click()
    expect(page.get_by_role("heading", name="Notifications de factures")).to_be_visible()

    page.get_by_label("Adresse e-mail").fill("not an address")
    page.get_by_role("button", name="Ajouter").click()
    expect(page.get_by_text("Ce n’est pas une adresse e-mail valide.")).to_be_visible()

    page.get_by_label("Adresse e-mail").fill("compta@client1.example.com")
    expect(page.get_by_label("Pièces jointes (le PDF)")).to_be_checked()
    page.get_by_label("Fréquence").select_option(label="Un e-mail par facture")
    page.get_by_role("button", name="Ajouter").click()
    expect(page.get_by_text("compta@client1.example.com recevra vos factures.")).to_be_visible()

    page.get_by_role("link", name="Voir le journal des envois").click()
    expect(page.get_by_text("Aucun e-mail pour l’instant.")).to_be_visible()

    path = tmp_path / "invoices.json"
    path.write_text(json.dumps({"invoices": [invoice_item("71000001"), invoice_item("71000002")]}))
    assert run_cli(live_app, "invoices", "import", str(path)).exit_code == 0
    assert jobs.drain(live_app) == 2  # what `guichet worker` does

    page.get_by_label("Statut").select_option(label="Envoyé")  # filters in place (HTMX)
    rows = page.locator("#delivery-results tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("compta@client1.example.com")
    assert "status=sent" in page.url
    assert sorted(m["Subject"].split()[1] for m in smtp_server.messages) == [
        "71000001",
        "71000002",
    ]
    assert all(
        [a.get_filename() for a in m.iter_attachments()]
        == [f"facture-{m['Subject'].split()[1]}.pdf"]
        for m in smtp_server.messages
    )
