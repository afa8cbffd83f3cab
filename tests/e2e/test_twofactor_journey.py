"""Two-factor authentication as a customer sets it up and then logs in, at 1366 and
390 px: the QR code and its key on the page, the first code confirms it, the recovery
codes shown once; the next login asks for the app's code after the password."""

from __future__ import annotations

import time

import pyotp
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, check_page, log_in, look, open_menu


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

    open_menu(page)
    page.locator(".user-menu > summary").click()
    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url("**/login")
    page.get_by_label("E-mail").fill(customer)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/login/code")
    check_page(page)
    page.get_by_label("Code").fill(totp.at(time.time() + 30))  # not the step that set it up
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(lambda url: "/login" not in url)
    expect(page.locator("#favourites-bar")).to_be_visible()
