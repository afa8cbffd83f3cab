"""The example third-party app, installed as a package: an operator enables it for
one organisation, the customer opens a request, the operator answers from the
back-office, the customer reads the answer; switched off, the app is gone."""

from playwright.sync_api import expect

from tests.e2e.conftest import log_in


def switch_tickets(page, org_name: str) -> None:
    page.goto("/operator/apps")
    with page.expect_response(lambda r: "/operator/apps/" in r.url) as answer:
        page.get_by_label(f"Mes demandes pour {org_name}").click()
    assert answer.value.status == 200


def test_an_operator_enables_the_app_a_customer_asks_and_gets_an_answer(
    new_page, customer, operator, org
):
    desk = new_page()
    log_in(desk, operator.email)
    switch_tickets(desk, "Client 1")
    expect(desk.get_by_label("Mes demandes pour Client 1")).to_be_checked()

    page = new_page()
    log_in(page, customer.email)
    page.locator("summary", has_text="Aide").click()  # the header menu's section
    page.get_by_role("link", name="Mes demandes").click()
    page.wait_for_url("**/demandes/")
    page.get_by_role("button", name="Nouvelle demande").click()  # a link styled as one
    page.wait_for_url("**/demandes/new")
    page.get_by_label("Objet").fill("   ")  # blank: the server refuses it in place
    page.get_by_label("Votre message").fill("Bonjour, cette facture apparaît deux fois.")
    page.get_by_role("button", name="Envoyer").click()
    expect(page.locator("#subject-error")).to_be_visible()
    page.get_by_label("Objet").fill("Facture 62274737 en double")
    page.get_by_label("Votre message").fill("Bonjour, cette facture apparaît deux fois.")
    page.get_by_role("button", name="Envoyer").click()
    expect(page.get_by_role("heading", name="Facture 62274737 en double")).to_be_visible()
    expect(page.locator(".ticket-status")).to_contain_text("En attente de votre fournisseur")

    desk.get_by_role("link", name="Demandes des clients").click()
    desk.wait_for_url("**/operator/demandes/")
    desk.get_by_role("link", name="Facture 62274737 en double").click()
    desk.wait_for_url("**/operator/demandes/*")
    desk.get_by_label("Réponse").fill("C'est corrigé, merci.")
    desk.get_by_role("button", name="Répondre au client").click()
    expect(desk.get_by_role("status")).to_contain_text("Votre réponse est envoyée au client.")

    page.reload()
    expect(page.locator(".conversation")).to_contain_text("C'est corrigé, merci.")
    expect(page.locator(".ticket-status")).to_contain_text("Répondu")

    switch_tickets(desk, "Client 1")
    expect(desk.get_by_label("Mes demandes pour Client 1")).not_to_be_checked()
    page.goto("/")
    expect(page.locator("summary", has_text="Aide")).to_have_count(0)
    assert page.goto("/demandes/").status == 404
    assert desk.errors == [] and page.errors == []
