"""Two-factor authentication as a customer sets it up and then logs in, at 1366 and
390 px: the QR code and its key on the page, the first code confirms it, the recovery
codes shown once; the next login asks for the app's code after the password."""

from __future__ import annotations

import time

import pyotp
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, check_page, log_in, look, open_menu


def log_out_and_give_the_password(page, customer: str) -> None:
    """Log out through the user menu, then log in again up to the second step."""
    open_menu(page)
    page.locator(".user-menu > summary").click()
    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url("**/login")
    page.get_by_label("E-mail").fill(customer)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/login/code")


def test_set_up_an_authenticator_app_and_log_in_with_it(page, customer):
    log_in(page, customer)
    page.goto("/mon-compte/")
    page.get_by_role("link", name="Double authentification").click()
    expect(page.locator(".qr-code svg")).to_be_visible()
    check_page(page)
    look(page, "twofactor-setup")
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)
    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Activer").click()
    expect(page.get_by_text("Ce code est erroné")).to_be_visible()
    page.get_by_label("Code").fill(totp.now())
    page.get_by_role("button", name="Activer").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    look(page, "twofactor-codes")
    page.get_by_role("button", name="Je les ai conservés").click()
    expect(page.get_by_text("Activée")).to_be_visible()

    log_out_and_give_the_password(page, customer)
    check_page(page)
    page.get_by_label("Code").fill(totp.at(time.time() + 30))  # not the step that set it up
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(lambda url: "/login" not in url)
    expect(page.locator("#favourites-bar")).to_be_visible()


AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "usb",
    "hasResidentKey": False,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


def plug_key(page, credentials=()):
    """Chromium's virtual authenticator (the DevTools protocol's WebAuthn domain) on
    this page, holding ``credentials``; returns the session and the key's id. A page
    that navigates loses it, so a test plugs it again where it needs it."""
    devtools = page.context.new_cdp_session(page)
    devtools.send("WebAuthn.enable")
    found = devtools.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    for credential in credentials:
        devtools.send(
            "WebAuthn.addCredential",
            {"authenticatorId": found["authenticatorId"], "credential": credential},
        )
    return devtools, found["authenticatorId"]


def test_add_a_security_key_and_log_in_with_it(page, customer):
    """A security key through Chromium's virtual authenticator: added on the
    two-factor page, then used instead of a code."""
    log_in(page, customer)
    page.goto("/securite/double-authentification")
    totp = pyotp.TOTP(page.locator("#totp-secret").inner_text().replace(" ", ""))
    page.get_by_label("Code").fill(totp.now())
    page.get_by_role("button", name="Activer").click()
    page.get_by_role("button", name="Je les ai conservés").click()
    expect(page.get_by_text("Activée")).to_be_visible()
    devtools, _key = plug_key(page)
    held = []  # the key's credential, as the authenticator made it (the page then moves on)
    devtools.on("WebAuthn.credentialAdded", lambda event: held.append(event["credential"]))
    page.get_by_label("Nom de la clé").fill("Clé du bureau")
    page.get_by_role("button", name="Ajouter une clé de sécurité").click()
    expect(page.get_by_text("La clé de sécurité est ajoutée")).to_be_visible()
    expect(page.locator("#security-keys")).to_contain_text("Clé du bureau")
    assert len(held) == 1
    check_page(page)
    look(page, "security-keys")

    log_out_and_give_the_password(page, customer)
    plug_key(page, held)  # the page moved on: the key is plugged in again
    page.get_by_role("button", name="Utiliser une clé de sécurité").click()
    page.wait_for_url(lambda url: "/login" not in url)
    expect(page.locator("#favourites-bar")).to_be_visible()
    page.goto("/activite/?kind=security")
    expect(page.locator("#activity")).to_contain_text("Clé de sécurité ajoutée")
