"""The dashboard as a customer uses it, at 1366 px and at 390 px: every pinned widget of
the demo renders, favourites and pins, re-ordering by keyboard (and by drag and drop
with a mouse), the menu, the global search, an expired session, logging out."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import is_phone, log_in, open_menu

DEMO_PINS = [
    "invoices.latest",
    "wallet.balance",
    "consumption.glance",
    "contracts.glance",
    "postal.progress",
    "account.summary",
]


def widget_order(page) -> list[str]:
    return page.locator("#dashboard > .widget").evaluate_all(
        "cards => cards.map(c => c.dataset.widget)"
    )


def widgets_loaded(page) -> None:
    """Wait until every widget has answered; none may be unavailable."""
    expect(page.locator(".widget-body[aria-busy=true]")).to_have_count(0)
    expect(page.locator(".widget-unavailable")).to_have_count(0)


def switch(page, label: str) -> None:
    """Click a switch and wait for the server's answer."""
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_label(label).click()
    assert answer.value.status == 200


def test_every_widget_renders_then_favourites_pins_and_order(page, customer):
    log_in(page, customer)
    page.wait_for_url("**/")
    assert widget_order(page) == DEMO_PINS
    widgets_loaded(page)
    expect(page.locator('[data-widget="wallet.balance"] .wallet-balance')).to_contain_text("€")
    expect(page.locator('[data-widget="postal.progress"]')).to_contain_text("Envoyer un courrier")

    page.get_by_role("main").get_by_role("button", name="+ Ajouter un favori").click()
    page.wait_for_url("**/favourites")
    switch(page, "Ajouter Paiements en ligne aux favoris")
    bar = page.locator("#favourites-bar")
    expect(bar).to_contain_text("Paiements en ligne")  # out-of-band update
    switch(page, "Épingler Mon compte")  # unpinned, from the list
    bar.get_by_role("link", name="Paiements en ligne").click()
    page.wait_for_url("**/paiements/")
    page.goto("/")
    assert widget_order(page) == DEMO_PINS[:-1]

    # keyboard: the first widget one place later, the focus stays on its button
    later = page.get_by_role("button", name="Déplacer Dernières factures après")
    later.focus()
    with page.expect_response(lambda r: r.url.endswith("/move")):
        page.keyboard.press("Enter")
    expect(page.locator("#dashboard > .widget").first).to_have_attribute(
        "data-widget", "wallet.balance"
    )
    expect(later).to_be_focused()
    page.reload()
    assert widget_order(page)[:2] == ["wallet.balance", "invoices.latest"]

    if not is_phone(page):  # drag and drop, with a mouse
        cards = page.locator("#dashboard > .widget")
        with page.expect_response(lambda r: r.url.endswith("/pins/order")) as answer:
            cards.nth(1).locator("header h2").drag_to(cards.nth(0).locator("header h2"))
        assert answer.value.status == 204
        page.reload()
        assert widget_order(page)[:2] == ["invoices.latest", "wallet.balance"]

    page.get_by_role("button", name="Désépingler Courriers en cours").click()
    expect(page.locator('[data-widget="postal.progress"]')).to_have_count(0)
    page.reload()
    assert "postal.progress" not in widget_order(page)


def test_the_menu_search_and_logging_out(page, customer):
    log_in(page, customer)
    open_menu(page)
    menu = page.get_by_role("navigation", name="Menu principal")
    menu.get_by_text("Contrats et Factures").click()
    menu.get_by_role("link", name="Vos contrats").click()
    page.wait_for_url("**/contrats/")
    expect(page.get_by_role("heading", name="Vos contrats", level=1)).to_be_visible()

    open_menu(page)
    box = page.get_by_label("Rechercher", exact=True)
    with page.expect_response(lambda r: "/search?q=" in r.url and "Machine" in r.url):
        box.fill("Machine")
    results = page.locator("#search-results")
    expect(results).to_contain_text("Machine à affranchir")  # a product of the contracts
    box.press("ArrowDown")
    expect(results.locator("a").first).to_be_focused()
    page.keyboard.press("Escape")
    expect(box).to_be_focused()
    with page.expect_response(lambda r: "/search?q=porte" in r.url):
        box.fill("porte-monnaie")
    results.get_by_role("link", name="Votre porte-monnaie").click()
    page.wait_for_url("**/porte-monnaie/")

    open_menu(page)
    page.locator(".user-menu > summary").click()
    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url("**/login")
    expect(page.get_by_text("Vous êtes déconnecté.")).to_be_visible()


def test_an_expired_session_during_an_htmx_request_goes_to_login_and_back(page, customer):
    log_in(page, customer)
    page.goto("/favourites")
    page.context.clear_cookies()
    page.get_by_label("Ajouter Paiements en ligne aux favoris").click()
    page.wait_for_url("**/login?next=/favourites")
    log_in(page, customer, here=True)
    page.wait_for_url("**/favourites")
    expect(page.get_by_label("Ajouter Paiements en ligne aux favoris")).not_to_be_checked()


def test_a_wrong_password_is_said_in_the_page(page, customer):
    page.goto("/login")
    page.get_by_label("E-mail").fill(customer)
    page.get_by_label("Mot de passe").fill("wrong password!")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("alert")).to_have_text("Mauvais e-mail ou mot de passe.")
