"""Security keys and passkeys (WebAuthn) as a second factor, with a key in software
(``tests.softkey``) so the library's verification runs for real: added once the
authenticator app is set up, then a login with it instead of a code; a wrong origin,
another relying party, a replayed challenge, a cloned key (its counter goes back),
someone else's key: each refused with a message, nothing stored, nobody logged in."""

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.models import AuditEvent, SecurityKey
from tests.conftest import PASSWORD
from tests.softkey import SoftKey
from tests.test_twofactor import code_at, turn_on

ADD_OPTIONS, ADD = "/securite/cles/options", "/securite/cles"
LOGIN_OPTIONS, LOGIN = "/login/cle/options", "/login/cle"


def add_key(client, key: SoftKey, name: str = "YubiKey", **spoil):
    options = client.post(ADD_OPTIONS).get_json()
    return client.post(ADD, json={"credential": key.create(options, **spoil), "name": name})


def keys() -> list[SecurityKey]:
    db.session.expire_all()
    return list(db.session.scalars(select(SecurityKey)))


@pytest.fixture
def with_app(logged_in):
    secret, _codes = turn_on(logged_in)
    return secret


@pytest.fixture
def with_key(with_app, logged_in):
    key = SoftKey()
    answer = add_key(logged_in, key)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {"next": "/securite/double-authentification"}
    logged_in.post("/logout")
    return key


def password_step(client, customer) -> None:
    assert client.login(customer.email).status_code == 302


def test_a_key_is_added_once_the_app_is_set_up(logged_in, customer):
    refused = logged_in.post(ADD_OPTIONS)
    assert refused.status_code == 400 and "application" in refused.get_json()["error"]
    turn_on(logged_in)
    key = SoftKey()
    assert add_key(logged_in, key).status_code == 200
    (kept,) = keys()
    assert (kept.user_id, kept.name, kept.sign_count) == (customer.id, "YubiKey", 1)
    page = logged_in.get("/securite/double-authentification").get_data(as_text=True)
    assert "YubiKey" in page and 'data-webauthn="add"' in page
    # the same key twice: the browser is told to leave it out, and it is refused
    options = logged_in.post(ADD_OPTIONS).get_json()
    assert [c["id"] for c in options["excludeCredentials"]] == [kept.credential_id]
    again = logged_in.post(ADD, json={"credential": key.create(options), "name": "Same"})
    assert again.status_code == 400 and len(keys()) == 1
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.key_added"))


@pytest.mark.parametrize(
    "spoil, reason",
    [
        ({"origin": "https://evil.example"}, "origin"),
        ({"challenge": "c3BvaWxlZA"}, "challenge"),
        ({"rp": "evil.example"}, "RP ID"),
    ],
)
def test_a_key_created_elsewhere_is_refused(with_app, logged_in, spoil, reason):
    key = SoftKey()
    options = logged_in.post(ADD_OPTIONS).get_json()
    if "challenge" in spoil:
        options["challenge"] = spoil.pop("challenge")
    if "rp" in spoil:
        options["rp"]["id"] = spoil.pop("rp")
    answer = logged_in.post(ADD, json={"credential": key.create(options, **spoil)})
    assert answer.status_code == 400 and reason.lower() in answer.get_json()["error"].lower()
    assert keys() == []


def test_bad_input_is_refused_with_a_message(with_app, logged_in):
    assert logged_in.post(ADD, json={"credential": {}}).status_code == 400  # no challenge
    logged_in.post(ADD_OPTIONS)
    answer = logged_in.post(ADD, data="not json", content_type="application/json")
    assert answer.status_code == 400 and answer.get_json()["error"]
    logged_in.post(ADD_OPTIONS)
    garbage = {"id": "x", "rawId": "x", "type": "public-key", "response": {"clientDataJSON": "!"}}
    answer = logged_in.post(ADD, json={"credential": garbage})
    assert answer.status_code == 400 and "pas pu être ajoutée" in answer.get_json()["error"]
    assert keys() == []


def test_a_login_with_the_key_instead_of_a_code(client, customer, with_key):
    password_step(client, customer)
    page = client.get("/login/code").get_data(as_text=True)
    assert 'data-webauthn="login"' in page
    options = client.post(LOGIN_OPTIONS).get_json()
    assert [c["id"] for c in options["allowCredentials"]] == [keys()[0].credential_id]
    answer = client.post(LOGIN, json={"credential": with_key.get(options)})
    assert answer.status_code == 200 and answer.get_json() == {"next": "/"}
    assert client.get("/factures/").status_code == 200
    (kept,) = keys()
    assert kept.sign_count == 2 and kept.last_used_at is not None


def test_a_replayed_or_cloned_key_logs_nobody_in(client, customer, with_key):
    password_step(client, customer)
    options = client.post(LOGIN_OPTIONS).get_json()
    answer = with_key.get(options)
    assert client.post(LOGIN, json={"credential": answer}).status_code == 200
    client.post("/logout")
    password_step(client, customer)
    # the same answer again: its challenge was spent
    replayed = client.post(LOGIN, json={"credential": answer})
    assert replayed.status_code == 401
    # a copy of the key, whose counter is behind the one the portal saw
    options = client.post(LOGIN_OPTIONS).get_json()
    cloned = client.post(LOGIN, json={"credential": with_key.get(options, count=1)})
    assert cloned.status_code == 401 and "count" in cloned.get_json()["error"].lower()
    assert client.get("/factures/").status_code == 302
    failed = db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "login.key_failed")
    )
    assert failed == 1


def test_someone_elses_key_and_no_password_step_are_refused(app, client, customer, with_key):
    assert client.post(LOGIN_OPTIONS).status_code == 401  # no password given yet
    password_step(client, customer)
    options = client.post(LOGIN_OPTIONS).get_json()
    stranger = SoftKey()
    answer = client.post(LOGIN, json={"credential": stranger.get(options)})
    assert answer.status_code == 401 and client.get("/factures/").status_code == 302


def test_the_app_and_its_codes_still_work_and_turning_off_forgets_the_keys(
    client, customer, with_app, logged_in
):
    add_key(logged_in, SoftKey())
    theirs = keys()[0]
    # remove needs the owner: another user's key id is 404
    assert logged_in.post(f"/securite/cles/{theirs.id + 100}/supprimer").status_code == 404
    answer = logged_in.post(
        "/securite/double-authentification/desactiver",
        data={"password": PASSWORD, "code": code_at(with_app, 1)},
    )
    assert answer.status_code in (302, 303)
    assert keys() == []
