"""Every page the demo's customer and operator reach, at 1366 px and at 390 px: no
wider than the window, no accessibility violation, and (with GUICHET_SCREENSHOT=1)
the pictures of the README."""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.sync_api import expect

from tests.e2e.conftest import log_in, page_problems

ROOT = Path(__file__).parents[2]
CUSTOMER_PAGES = [
    "/",
    "/favourites",
    "/scope",
    "/contrats/",
    "/factures/",
    "/factures/?q=abonn",
    "/factures-electroniques/",
    "/factures/notifications/",
    "/factures/notifications/journal",
    "/releve/",
    "/consommations/",
    "/porte-monnaie/",
    "/porte-monnaie/recharger",
    "/paiements/",
    "/courrier/",
    "/courrier/nouveau",
    "/compte/profil",
    "/search?q=Lyon",
]
OPERATOR_PAGES = [
    "/operator/organisations",
    "/operator/users",
    "/operator/apps",
    "/operator/plugins",
    "/operator/audit",
    "/operator/taches",
    "/operator/courriers/",
    "/operator/relances/",
]


README_PICTURES = {"dashboard", "factures", "invoice", "consommations", "login"}


def screenshot(page, name: str) -> None:
    """With GUICHET_SCREENSHOT=1, the README's pictures: ``docs/screens/NAME-WIDTH.png``."""
    if os.environ.get("GUICHET_SCREENSHOT") and name in README_PICTURES:
        width = page.viewport_size["width"]
        folder = ROOT / "docs" / "screens"
        folder.mkdir(exist_ok=True)
        page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=width < 600)


def test_every_customer_page_fits_and_passes_axe(page, portal):
    log_in(page, *portal.logins["customer"])
    problems = []
    for url in CUSTOMER_PAGES:
        page.goto(url)
        problems += page_problems(page)
        screenshot(page, re.sub(r"[^a-z]+", "-", url.lower()).strip("-") or "dashboard")
    page.goto("/factures/")
    page.locator("#invoice-results tbody a").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Facture")
    problems += page_problems(page)
    screenshot(page, "invoice")
    assert not problems, "\n".join(problems)


def test_the_login_page_and_every_operator_page_fit_and_pass_axe(page, portal):
    page.goto("/login")
    problems = page_problems(page)
    screenshot(page, "login")
    log_in(page, *portal.logins["operator"])
    for url in OPERATOR_PAGES:
        page.goto(url)
        problems += page_problems(page)
    assert not problems, "\n".join(problems)
