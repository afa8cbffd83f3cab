"""The example third-party app, installed as a package, at 1366 px and at 390 px: an
operator enables it for a new organisation, the customer opens a request, the operator
answers from the back-office, the customer gets the e-mail and reads the answer;
switched off, the app is gone."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import log_in, new_customer, new_organisation, open_menu


def test_an_operator_enables_the_app_a_customer_asks_and_gets_an_answer(
    new_page, viewport, portal, smtp_sink
):
    name, org_id = new_organisation(portal)
    email = new_customer(portal, org_id)
    portal.cli("app", "enable", org_id, "tickets")

    page = new_page(viewport=viewport)
    log_in(page, email)
    open_menu(page)
    page.locator("summary", has_text="Aide").click()  # the header menu's section
    page.get_by_role("link", name="Mes demandes").click()
    page.wait_for_url("**/demandes/")
    page.get_by_role("button", name="Nouvelle demande").click()  # a link styled as one
    page.wait_for_url("**/demandes/new")
    page.get_by_label("Objet").fill("   ")  # blank: the server refuses it in place
    page.get_by_label("Votre message").fill("Bonjour, cette facture apparaît deux fois.")
    page.get_by_role("button", name="Envoyer").click()
    expect(page.locator("#subject-error")).to_be_visible()
    page.get_by_label("Objet").fill(f"Facture en double {name}")
    page.get_by_label("Votre message").fill("Bonjour, cette facture apparaît deux fois.")
    page.get_by_role("button", name="Envoyer").click()
    expect(page.get_by_role("heading", name=f"Facture en double {name}")).to_be_visible()
    expect(page.locator(".ticket-status")).to_contain_text("En attente de votre fournisseur")

    desk = new_page(viewport=viewport)
    log_in(desk, *portal.logins["operator"])
    desk.goto("/operator/demandes/")
    desk.get_by_role("link", name=f"Facture en double {name}").click()
    desk.wait_for_url("**/operator/demandes/*")
    desk.get_by_label("Réponse").fill("C'est corrigé, merci.")
    desk.get_by_role("button", name="Répondre au client").click()
    expect(desk.get_by_role("status")).to_contain_text("Votre réponse est envoyée au client.")
    portal.wait_for(lambda: any(m["To"] == email for m in smtp_sink.messages), "the e-mail")

    page.reload()
    expect(page.locator(".conversation")).to_contain_text("C'est corrigé, merci.")
    expect(page.locator(".ticket-status")).to_contain_text("Répondu")

    portal.cli("app", "disable", org_id, "tickets")
    page.goto("/")
    open_menu(page)
    expect(page.locator("summary", has_text="Aide")).to_have_count(0)
    assert page.goto("/demandes/").status == 404
    page.errors = [e for e in page.errors if "/demandes/" not in e]  # that 404 itself
    assert desk.errors == [] and page.errors == []
