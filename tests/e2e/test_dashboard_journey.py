"""The dashboard as a person uses it: favourites, pins, re-ordering, an operator's
switch, an expired session, and an accessibility check."""

import os
from pathlib import Path

from playwright.sync_api import expect

from tests.e2e.conftest import log_in

ROOT = Path(__file__).parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOT = ROOT / "docs" / "screenshot.png"


def widget_order(page) -> list[str]:
    return page.locator("#dashboard > .widget").evaluate_all(
        "cards => cards.map(c => c.dataset.widget)"
    )


def switch(page, label: str) -> None:
    """Click a switch and wait for the server's answer."""
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_label(label).click()
    assert answer.value.status == 200


def test_favourites_pins_and_order_survive_a_reload(page, customer):
    log_in(page, customer.email)
    expect(page.get_by_role("heading", name="Votre tableau de bord est vide")).to_be_visible()
    page.get_by_role("main").get_by_role("button", name="+ Ajouter un favori").click()
    page.wait_for_url("**/favourites")

    switch(page, "Ajouter Notes aux favoris")
    expect(page.locator("#favourites-bar")).to_contain_text("Notes")  # out-of-band update
    switch(page, "Épingler Widget 00")
    switch(page, "Épingler Widget 01")
    expect(page.get_by_label("Épingler Widget 01")).to_be_checked()

    page.locator("#favourites-bar").get_by_role("link", name="Notes").click()
    page.wait_for_url("**/notes/")
    page.goto("/")
    cards = page.locator("#dashboard > .widget")
    expect(cards).to_have_count(2)
    for n in range(2):
        expect(cards.nth(n).locator(".widget-body")).to_have_text("widget content")
    assert widget_order(page) == ["many.w00", "many.w01"]

    # drag and drop
    with page.expect_response(lambda r: r.url.endswith("/pins/order")) as answer:
        cards.nth(1).locator("header h2").drag_to(cards.nth(0).locator("header h2"))
    assert answer.value.status == 204
    assert widget_order(page) == ["many.w01", "many.w00"]
    page.reload()
    assert widget_order(page) == ["many.w01", "many.w00"]

    # keyboard
    later = page.get_by_role("button", name="Déplacer Widget 01 après")
    later.focus()
    with page.expect_response(lambda r: r.url.endswith("/move")):
        page.keyboard.press("Enter")
    expect(page.locator("#dashboard > .widget").first).to_have_attribute("data-widget", "many.w00")
    expect(later).to_be_focused()
    page.reload()
    assert widget_order(page) == ["many.w00", "many.w01"]

    if os.environ.get("GUICHET_SCREENSHOT"):
        page.set_viewport_size({"width": 1280, "height": 720})
        page.screenshot(path=str(SCREENSHOT))

    # unpin from the widget itself
    page.get_by_role("button", name="Désépingler Widget 00").click()
    expect(page.locator("#dashboard > .widget")).to_have_count(1)
    page.reload()
    assert widget_order(page) == ["many.w01"]


def test_an_app_disabled_by_the_operator_vanishes_for_the_customer(
    new_page, customer, operator, org
):
    page = new_page()
    log_in(page, customer.email)
    page.goto("/favourites")
    switch(page, "Ajouter Notes aux favoris")
    switch(page, "Épingler Widget 00")
    page.goto("/")
    expect(page.locator("#dashboard > .widget")).to_have_count(1)
    page.get_by_label("Rechercher", exact=True).fill("0000")
    expect(page.locator("#search-results")).to_contain_text("00002501")

    ops = new_page()
    log_in(ops, operator.email)
    ops.goto("/operator/apps")
    for label in ("Many pour Client 1", "Notes pour Client 1"):
        with ops.expect_response(lambda r: "/operator/apps/" in r.url):
            ops.get_by_label(label).click()
        expect(ops.get_by_label(label)).not_to_be_checked()

    page.reload()
    expect(page.get_by_role("heading", name="Votre tableau de bord est vide")).to_be_visible()
    expect(page.locator("#favourites-bar")).not_to_contain_text("Notes")
    page.get_by_label("Rechercher", exact=True).fill("0000")
    expect(page.locator("#search-results")).not_to_contain_text("00002501")
    assert page.errors == [] and ops.errors == []


def test_expired_session_during_an_htmx_request_goes_to_login_and_back(page, customer):
    log_in(page, customer.email)
    page.goto("/favourites")
    page.context.clear_cookies()
    page.get_by_label("Ajouter Notes aux favoris").click()
    page.wait_for_url("**/login?next=/favourites")
    log_in(page, customer.email, here=True)
    page.wait_for_url("**/favourites")
    expect(page.get_by_label("Ajouter Notes aux favoris")).not_to_be_checked()  # nothing done


def test_search_results_are_keyboard_navigable(page, customer):
    log_in(page, customer.email)
    box = page.get_by_label("Rechercher", exact=True)
    with page.expect_response(lambda r: "/search?q=0000" in r.url):
        box.fill("0000")
    expect(page.locator("#search-results a")).to_have_count(1)
    page.wait_for_load_state("networkidle")  # no other answer will replace the results
    box.press("ArrowDown")
    expect(page.locator("#search-results a").first).to_be_focused()
    page.keyboard.press("Escape")
    expect(box).to_be_focused()
    expect(page.locator("#search-results a")).to_have_count(0)


def serious_violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])}x)"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_no_serious_accessibility_violations(new_page, customer):
    page = new_page(bypass_csp=True)  # only so that the test can inject axe-core
    page.goto("/login")
    assert serious_violations(page) == []
    log_in(page, customer.email)
    page.goto("/favourites")
    switch(page, "Épingler Widget 00")
    assert serious_violations(page) == []
    page.goto("/")
    expect(page.locator(".widget-body").first).to_have_text("widget content")
    assert serious_violations(page) == []
