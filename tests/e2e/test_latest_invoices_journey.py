"""The example app that builds on the invoices app, installed as a package, at 1366 px
and at 390 px: an operator enables it for an organisation whose invoices the provider
sent, the customer pins its widget, chooses in its settings (the core's settings page)
how many invoices and which; with the invoices app switched off, it is gone too."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from playwright.sync_api import expect

from tests.e2e.conftest import check_page, import_file, log_in, look, new_customer, open_menu


def invoice(number: str, code: str, days_ago: int, status: str) -> dict:
    issued = date.today() - timedelta(days=days_ago)
    return {
        "number": number,
        "type": "invoice",
        "date": issued.isoformat(),
        "due_date": (issued + timedelta(days=30)).isoformat(),
        "total_ht": "100.00",
        "total_ttc": "120.00",
        "client_code": code,
        "status": status,
    }


def test_the_latest_invoices_app_follows_its_settings_and_the_invoices_app(
    new_page, viewport, portal
):
    org_id = portal.cli("org", "create", f"Client {uuid.uuid4().hex[:6]}").strip()
    code = f"{uuid.uuid4().int % 10**8:08d}"
    portal.cli("account", "create", org_id, code)
    tag = uuid.uuid4().hex[:6].upper()
    numbers = [f"{tag}-{n}" for n in range(1, 8)]  # the last is the newest
    batch = [invoice(n, code, 10 - i, "paid" if i < 3 else "to_pay") for i, n in enumerate(numbers)]
    import_file(portal, "invoices", batch)
    email = new_customer(portal, org_id)
    portal.cli("app", "enable", org_id, "latest_invoices")

    page = new_page(viewport=viewport)
    log_in(page, email)
    page.goto("/favourites")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_label("Épingler Mes dernières factures").click()
    assert answer.value.status == 200
    page.goto("/")
    widget = page.locator('[data-widget="latest_invoices.widget"]')
    expect(widget.get_by_role("link", name=numbers[-1])).to_be_visible()
    expect(widget.locator("tbody tr")).to_have_count(5)

    open_menu(page)
    page.locator("summary", has_text="Contrats et Factures").click()
    menu = page.get_by_role("navigation", name="Menu principal")
    menu.get_by_role("link", name="Mes dernières factures").click()
    page.wait_for_url("**/dernieres-factures/")
    check_page(page)
    look(page, "latest-invoices")
    page.get_by_role("link", name="Réglages").click()
    page.wait_for_url("**/applications/latest_invoices/reglages")
    page.get_by_label("Factures affichées").fill("50")  # beyond: refused in place
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator("#count-error")).to_be_visible()
    check_page(page)
    look(page, "app-settings")
    page.get_by_label("Factures affichées").fill("3")
    page.get_by_label("Seulement les factures restant à payer").check()
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("status")).to_contain_text("Réglages enregistrés")
    page.goto("/")
    expect(widget.locator("tbody tr")).to_have_count(3)
    expect(widget.get_by_role("link", name=numbers[2])).to_have_count(0)  # paid: not shown

    portal.cli("app", "disable", org_id, "invoices")  # the app it requires
    page.goto("/")
    expect(page.locator('[data-widget="latest_invoices.widget"]')).to_have_count(0)
    assert page.goto("/dernieres-factures/").status == 404
    page.errors = [e for e in page.errors if "/dernieres-factures/" not in e]  # that 404
    portal.cli("app", "enable", org_id, "invoices")
    page.goto("/")
    expect(widget.locator("tbody tr")).to_have_count(3)  # back, with its settings
    assert page.errors == []
