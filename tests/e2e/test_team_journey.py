"""An organisation's admin invites a colleague, as they would, at 1366 and 390 px:
"Administration" in the user menu, the invitation sent by e-mail through the running
portal's worker, the colleague opens its link, chooses a password and lands in the
portal; the link then no longer works."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, check_page, log_in, look, new_customer, open_menu


def test_an_admin_invites_a_colleague_who_joins(new_page, viewport, portal, smtp_sink):
    admin = new_page(viewport=viewport)
    log_in(admin, new_customer(portal))
    open_menu(admin)
    admin.locator(".user-menu > summary").click()
    admin.get_by_role("link", name="Administration").click()
    admin.wait_for_url("**/administration/")
    colleague = f"colleague-{uuid.uuid4().hex[:8]}@client1.example.com"
    admin.get_by_label("E-mail").fill(colleague)
    admin.get_by_role("button", name="Envoyer l'invitation").click()
    expect(admin.get_by_text(f"Une invitation a été envoyée à {colleague}.")).to_be_visible()
    expect(admin.locator("#invitations")).to_contain_text(colleague)
    check_page(admin)
    look(admin, "team")

    def invitation():
        return [m for m in smtp_sink.messages if m["To"] == colleague]

    portal.wait_for(lambda: invitation(), "the invitation's e-mail")
    body = invitation()[0].get_body(("plain",)).get_content()
    link = re.search(r"http\S+/invitation/\S+", body).group(0)
    path = link.split("localhost", 1)[1].split("/", 1)[1]
    joining = new_page(viewport=viewport)
    joining.goto("/" + path)
    expect(joining.get_by_text(f"Votre compte sera {colleague}.")).to_be_visible()
    joining.get_by_label("Votre nom").fill("Alex Collègue")
    joining.get_by_label("Choisissez un mot de passe").fill(PASSWORD)
    joining.get_by_label("Confirmez le mot de passe").fill(PASSWORD)
    joining.get_by_role("button", name="Rejoindre").click()
    joining.wait_for_url(lambda url: "/invitation/" not in url)
    expect(joining.locator("#favourites-bar")).to_be_visible()
    joining.goto("/" + path)  # once
    expect(
        joining.get_by_role("heading", name="Cette invitation ne fonctionne plus")
    ).to_be_visible()
    # the admin lets the colleague see the invoices only: paying is out of their reach
    admin.goto("/administration/")
    admin.locator("#members tr", has_text=colleague).get_by_role("link").click()
    admin.get_by_label("Toutes les applications, y compris celles activées plus tard").uncheck()
    admin.get_by_label("Vos factures", exact=True).check()
    admin.get_by_role("button", name="Enregistrer").click()
    expect(admin.get_by_text(f"{colleague} est enregistré.")).to_be_visible()
    joining.goto("/factures/")
    expect(joining.get_by_role("heading", name="Vos factures")).to_be_visible()
    assert joining.request.get(f"{portal.url}/paiements/").status == 404
    # and sees in the activity trail the colleague join and log in
    admin.goto("/activite/")
    trail = admin.locator("#activity")
    expect(trail).to_contain_text("Invitation acceptée")
    their_login = trail.locator("tr", has_text=colleague).filter(has_text="Connexion au portail")
    expect(their_login).to_have_count(1)
    check_page(admin)
    look(admin, "activity")
