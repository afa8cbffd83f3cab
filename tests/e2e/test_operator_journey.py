"""The operator's back-office as the provider's staff use it, at 1366 px and at 390 px,
logged in with the login ``make run`` prints: a new organisation, its account and its
first user; an app switched off while the customer works, who is told so when a page
loaded before leads to it."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, log_in, open_menu, settled


def test_an_operator_opens_a_customer_and_switches_an_app_off(new_page, viewport, portal):
    name, code = f"Client {uuid.uuid4().hex[:6]}", f"{uuid.uuid4().int % 10**8:08d}"
    email = f"admin-{uuid.uuid4().hex[:8]}@client.example.com"
    ops = new_page(viewport=viewport)
    log_in(ops, *portal.logins["operator"])
    ops.wait_for_url("**/operator/organisations")
    ops.get_by_role("button", name="Nouvelle organisation").click()
    ops.wait_for_url("**/organisations/new")
    ops.get_by_label("Nom", exact=True).fill(name)
    ops.get_by_role("button", name="Enregistrer").click()
    expect(ops.get_by_role("heading", level=1)).to_have_text(name)
    ops.get_by_role("button", name="Nouveau compte").click()
    ops.wait_for_url("**/accounts/new")
    ops.get_by_label("Code client").fill(code)
    ops.get_by_label("Nom", exact=True).fill(f"{name} – Siège")
    ops.get_by_role("button", name="Enregistrer").click()
    expect(ops.get_by_role("link", name=code)).to_be_visible()
    organisation_url = ops.url

    ops.goto("/operator/users")
    ops.get_by_role("button", name="Nouvel utilisateur").click()
    ops.wait_for_url("**/users/new")
    ops.get_by_label("E-mail", exact=True).fill(email)
    ops.get_by_label("Nom", exact=True).fill("Dominique Client")
    ops.get_by_label("Mot de passe").fill(PASSWORD)
    ops.get_by_role("button", name="Enregistrer").click()
    expect(ops.get_by_role("heading", level=1)).to_have_text(email)
    ops.goto(organisation_url)
    ops.get_by_label("E-mail de l’utilisateur").fill(email)
    ops.get_by_label("Rôle").select_option(label="Administrateur")
    ops.get_by_role("button", name="Enregistrer le rattachement").click()
    expect(ops.get_by_role("link", name=email)).to_be_visible()

    customer = new_page(viewport=viewport)
    log_in(customer, email)
    customer.goto("/")
    expect(customer.locator("#favourites-bar")).to_contain_text("Vos contrats")
    assert customer.errors == []

    ops.goto(f"/operator/apps?q={name}")
    label = f"Vos contrats pour {name}"
    with ops.expect_response(lambda r: "/operator/apps/" in r.url):
        ops.get_by_label(label).click()
    expect(ops.get_by_label(label)).not_to_be_checked()

    # the customer's page still shows the app: following it says why it is gone
    customer.locator("#favourites-bar").get_by_role("link", name="Vos contrats").click()
    expect(customer.get_by_role("alert")).to_contain_text(
        f"« Vos contrats » n’est pas disponible pour {name}"
    )
    settled(customer)
    expect(customer.locator("#favourites-bar")).not_to_contain_text("Vos contrats")
    open_menu(customer)
    expect(customer.get_by_role("navigation", name="Menu principal")).not_to_contain_text(
        "Vos contrats"
    )
    customer.errors = [e for e in customer.errors if "/contrats/" not in e]  # the 404 itself
    assert customer.errors == [] and ops.errors == []
