from tests.e2e.conftest import log_in


def test_customer_logs_in_sees_the_shell_and_logs_out(page, user):
    log_in(page, user.email)
    page.wait_for_url("**/")
    assert page.get_by_role("heading", name="Tableau de bord", exact=True).is_visible()
    scope = page.get_by_test_id("scope").inner_text()
    assert scope == "Périmètre de consultation : Tous les comptes"
    page.get_by_role("navigation", name="Menu principal").get_by_text(user.email).click()
    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url("**/login")
    assert page.get_by_text("Vous êtes déconnecté.").is_visible()


def test_wrong_password_shows_the_message_in_the_page(page, user):
    page.goto("/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Mot de passe").fill("wrong password!")
    page.get_by_role("button", name="Se connecter").click()
    assert page.get_by_role("alert").inner_text() == "Mauvais e-mail ou mot de passe."


def test_operator_switches_an_app_off_in_place(page, operator, org):
    log_in(page, operator.email)
    page.wait_for_url("**/operator/organisations")
    page.get_by_role("link", name="Applications").click()
    switch = page.get_by_label("Mon compte pour Client 1")
    assert switch.is_checked()
    with page.expect_response(lambda r: "/operator/apps/" in r.url) as answer:
        switch.click()
    assert answer.value.status == 200
    assert not page.get_by_label("Mon compte pour Client 1").is_checked()
    page.reload()
    assert not page.get_by_label("Mon compte pour Client 1").is_checked()
