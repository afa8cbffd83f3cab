"""Two-factor authentication: setting an authenticator app up (QR code drawn on the
server, the first code confirms it, ten recovery codes shown once), the login's
second step (wrong, replayed and expired codes refused; recovery codes single-use
and e-mailed about; throttled), turning it off, and requiring it of an
organisation's members and of operators."""

import re
import time

import pyotp
import pytest
from sqlalchemy import func, select, update

from core import twofactor
from core.extensions import db
from core.models import RecoveryCode, User, UserTotp
from tests.conftest import PASSWORD

SETUP = "/securite/double-authentification"


def secret_on(page: str) -> str:
    return re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")


def codes_on(page: str) -> list[str]:
    return re.findall(r"<li><code>([a-z2-7-]+)</code></li>", page)


def turn_on(client) -> tuple[str, list[str]]:
    """Set an authenticator app up through the pages; returns its secret and the
    recovery codes shown."""
    page = client.get(SETUP).get_data(as_text=True)
    assert "<svg" in page  # the QR code, drawn on the server
    secret = secret_on(page)
    wrong = client.post(SETUP, data={"code": "000000"})
    assert wrong.status_code == 422
    done = client.post(SETUP, data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    return secret, codes_on(done.get_data(as_text=True))


def code_at(secret: str, offset_steps: int = 1) -> str:
    """A code of the app: by default the next time step's, which the portal accepts
    (clocks drift) and which the code that confirmed the setup, of this step, was not."""
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


@pytest.fixture
def enrolled(logged_in, customer):
    secret, codes = turn_on(logged_in)
    logged_in.post("/logout")
    return secret, codes


def test_setting_it_up_shows_ten_codes_once_and_keeps_only_their_hashes(logged_in, customer):
    secret, codes = turn_on(logged_in)
    assert len(codes) == 10 and len(set(codes)) == 10
    db.session.expire_all()
    assert db.session.get(User, customer.id).two_factor
    hashes = db.session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(hashes) == 10 and not set(codes) & set(hashes)
    page = logged_in.get(SETUP).get_data(as_text=True)
    assert "totp-secret" not in page and "10" in page  # on, with the codes left


def test_the_login_asks_for_the_code_after_the_password(client, customer, enrolled):
    secret, _codes = enrolled
    answer = client.login(customer.email)
    assert answer.status_code == 302 and answer.location.endswith("/login/code")
    assert client.get("/").status_code == 302  # not logged in yet
    assert client.post("/login/code", data={"code": "123456"}).status_code == 401
    assert client.post("/login/code", data={"code": code_at(secret)}).status_code == 302
    assert client.get("/").status_code == 200


def test_a_code_is_accepted_once(client, customer, enrolled):
    secret, _codes = enrolled
    used = code_at(secret)
    client.login(customer.email)
    assert client.post("/login/code", data={"code": used}).status_code == 302
    client.post("/logout")
    client.login(customer.email)
    assert client.post("/login/code", data={"code": used}).status_code == 401  # replayed
    earlier = code_at(secret, 0)  # an older step, though within the drift allowed
    assert client.post("/login/code", data={"code": earlier}).status_code == 401


def test_a_recovery_code_works_once_and_the_user_is_told(
    client, customer, enrolled, run_jobs, smtp_server
):
    _secret, codes = enrolled
    client.login(customer.email)
    assert client.post("/login/code", data={"code": codes[0].upper()}).status_code == 302
    run_jobs()
    (told,) = smtp_server.messages
    assert told["To"] == customer.email and "9" in told.get_body(("plain",)).get_content()
    client.post("/logout")
    client.login(customer.email)
    assert client.post("/login/code", data={"code": codes[0]}).status_code == 401
    assert client.post("/login/code", data={"code": codes[1]}).status_code == 302


def test_the_second_step_is_throttled(client, customer, enrolled):
    secret, _codes = enrolled
    client.login(customer.email)
    for _n in range(5):
        assert client.post("/login/code", data={"code": "111111"}).status_code == 401
    assert client.post("/login/code", data={"code": code_at(secret)}).status_code == 429


def test_the_second_step_expires(client, customer, enrolled, monkeypatch):
    secret, _codes = enrolled
    client.login(customer.email)
    later = time.time() + 301
    monkeypatch.setattr(time, "time", lambda: later)
    answer = client.post("/login/code", data={"code": pyotp.TOTP(secret).at(later)})
    assert answer.status_code == 302 and answer.location.endswith("/login")
    assert client.get("/").status_code == 302


def test_turning_it_off_takes_the_password_and_a_code(logged_in, customer):
    secret, _codes = turn_on(logged_in)
    off = f"{SETUP}/desactiver"
    logged_in.post(off, data={"password": "wrong", "code": code_at(secret)})
    db.session.expire_all()
    assert db.session.get(User, customer.id).two_factor
    logged_in.post(off, data={"password": PASSWORD, "code": code_at(secret)})
    db.session.expire_all()
    assert not db.session.get(User, customer.id).two_factor
    assert db.session.scalar(select(func.count()).select_from(UserTotp)) == 0
    assert db.session.scalar(select(func.count()).select_from(RecoveryCode)) == 0


def test_new_recovery_codes_replace_the_old_ones(client, logged_in, customer):
    secret, old = turn_on(logged_in)
    page = logged_in.post(f"{SETUP}/codes", data={"code": code_at(secret)})
    new = codes_on(page.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    logged_in.post("/logout")
    client.login(customer.email)
    assert client.post("/login/code", data={"code": old[0]}).status_code == 401
    assert client.post("/login/code", data={"code": new[0]}).status_code == 302


def test_an_organisation_requires_it_of_every_member(app, org, customer, logged_in, member):
    other = app.test_client()
    assert other.login(member.email).status_code == 302
    assert other.get("/factures/").status_code == 200
    # a member may not require it; the admin may (on the page of their own second factor)
    assert other.post("/securite/organisation", data={"require_2fa": "y"}).status_code == 404
    secret, _codes = turn_on(logged_in)
    assert logged_in.post("/securite/organisation", data={"require_2fa": "y"}).status_code == 303
    db.session.expire_all()
    assert db.session.get(type(org), org.id).require_2fa
    answer = other.get("/factures/")
    assert answer.status_code == 302 and answer.location.endswith(SETUP)
    assert (
        other.get("/factures/", headers={"HX-Request": "true"})
        .headers["HX-Redirect"]
        .endswith(SETUP)
    )
    assert other.get(SETUP).status_code == 200  # the way out: set one up
    _secret, _codes = turn_on(other)
    assert other.get("/factures/").status_code == 200
    # required: it cannot be turned off
    off = logged_in.post(
        f"{SETUP}/desactiver", data={"password": PASSWORD, "code": code_at(secret)}
    )
    assert off.status_code == 403


def test_operators_need_it_where_the_installation_says(app, operator):
    client = app.test_client()
    assert client.login(operator.email).status_code == 302
    assert client.get("/operator/organisations").status_code == 200
    app.config["OPERATORS_REQUIRE_2FA"] = True
    try:
        answer = client.get("/operator/organisations")
        assert answer.status_code == 302 and answer.location.endswith(SETUP)
        turn_on(client)
        assert client.get("/operator/organisations").status_code == 200
    finally:
        app.config["OPERATORS_REQUIRE_2FA"] = False


def test_an_operator_requires_it_for_an_organisation(app, org, operator):
    client = app.test_client()
    client.login(operator.email)
    form = {"name": org.name, "locale": "fr", "address": "", "require_2fa": "y"}
    assert client.post(f"/operator/organisations/{org.id}", data=form).status_code == 302
    db.session.expire_all()
    assert db.session.get(type(org), org.id).require_2fa


def test_two_requests_with_one_code_log_in_once(app, customer, enrolled):
    secret, _codes = enrolled
    code = code_at(secret)
    user = db.session.get(User, customer.id)
    assert [twofactor.check_code(user, code), twofactor.check_code(user, code)] == [True, False]


def test_an_operator_resets_a_lost_second_factor(app, client, customer, enrolled, operator):
    ops = app.test_client()
    ops.login(operator.email)
    page = ops.get(f"/operator/users/{customer.id}").get_data(as_text=True)
    assert f"/operator/users/{customer.id}/2fa/reset" in page
    assert ops.post(f"/operator/users/{customer.id}/2fa/reset").status_code == 303
    db.session.expire_all()
    assert not db.session.get(User, customer.id).two_factor
    assert db.session.scalar(select(func.count()).select_from(UserTotp)) == 0
    answer = client.login(customer.email)  # the password alone again
    assert answer.status_code == 302 and not answer.location.endswith("/login/code")


def test_the_secret_is_sealed_in_the_database(app, enrolled, customer, client):
    """A copy of the database alone does not give the authenticator's secret away; a
    secret kept in clear before sealing existed still works, and is sealed at its
    next use; under another key it opens nothing."""
    from core import sealing

    secret, _codes = enrolled
    stored = db.session.get(UserTotp, customer.id).secret
    assert stored.startswith("fernet:") and secret not in stored
    assert sealing.unseal(stored) == secret
    db.session.execute(update(UserTotp).values(secret=secret, last_step=0))  # as before
    db.session.commit()
    client.post("/logout")
    client.login(customer.email)
    assert client.post("/login/code", data={"code": code_at(secret, 0)}).status_code == 302
    db.session.expire_all()
    assert db.session.get(UserTotp, customer.id).secret.startswith("fernet:")
    app.config["SECRET_KEY"], kept = "another key", app.config["SECRET_KEY"]
    try:
        with pytest.raises(ValueError):
            sealing.unseal(stored)
        app.config["SECRET_KEY_FALLBACKS"] = [kept]  # a rotated key still opens it
        assert sealing.unseal(stored) == secret
    finally:
        app.config["SECRET_KEY"] = kept
        app.config["SECRET_KEY_FALLBACKS"] = None
