"""Single sign-on against a real OpenID Connect provider (the ``oidc-provider``
package from npm, started by these tests): someone new from the organisation's domain
arrives as a member, someone known logs in; a wrong ``state``, a replayed answer, an
address from a domain the organisation does not own, a provider that is not the
issuer configured: each refused with a message, nothing created. The operator's
configuration refuses malformed and already-owned domains and keeps the secret
sealed; an organisation may turn password login off."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from core import sealing
from core.extensions import db
from core.models import AuditEvent, Membership, SsoConnection, User, utcnow
from tests.conftest import make_org, make_user
from tests.servers import free_port

ROOT = Path(__file__).parents[1]
BACK = "http://guichet.test/login/sso/retour"
SECRET = "provider-secret-for-tests"


@pytest.fixture(scope="module")
def provider():
    """The provider, on a port of its own, with the portal registered as a client."""
    port = free_port()
    clients = [{"client_id": "guichet", "client_secret": SECRET, "redirect_uris": [BACK]}]
    process = subprocess.Popen(
        ["node", str(ROOT / "scripts" / "oidc_provider.mjs")],
        env={**os.environ, "OIDC_PORT": str(port), "OIDC_CLIENTS": json.dumps(clients)},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    issuer = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(f"{issuer}/.well-known/openid-configuration", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    yield issuer
    process.terminate()
    process.wait(10)


@pytest.fixture
def connected(org, provider):
    """Client 1 logs in through the provider for client1.example.com."""
    db.session.add(
        SsoConnection(
            organisation_id=org.id,
            issuer=provider,
            client_id="guichet",
            client_secret=sealing.seal(SECRET),
            domains=["client1.example.com"],
            password_login=True,
            updated_at=utcnow(),
        )
    )
    db.session.commit()
    return provider


def provider_answer(client, email: str, login_as: str | None = None) -> str:
    """Ask to log in as ``email``, then log in at the provider as ``login_as`` (the
    same by default) and consent; returns the address the provider sends back to."""
    answer = client.post("/login/sso", data={"email": email})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    browser, response = requests.Session(), None
    location = answer.location
    for _ in range(12):
        if location.startswith(BACK):
            return location
        response = browser.get(location, allow_redirects=False, timeout=10)
        if response.is_redirect:
            location = urljoin(location, response.headers["Location"])
            continue
        action = re.search(r'action="([^"]+)"', response.text).group(1)
        prompt = re.search(r'name="prompt" value="(\w+)"', response.text).group(1)
        data = {"prompt": prompt}
        if prompt == "login":
            data.update(login=login_as or email, password="anything")
        response = browser.post(urljoin(location, action), data=data, allow_redirects=False)
        location = urljoin(location, response.headers["Location"])
    raise AssertionError(f"the provider never sent the browser back: {location}")


def come_back(client, location: str):
    parts = urlsplit(location)
    return client.get(f"{parts.path}?{parts.query}")


def users() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(User))


def test_someone_new_from_the_domain_arrives_as_a_member(app, org, connected):
    client = app.test_client()
    back = come_back(client, provider_answer(client, "new.person@client1.example.com"))
    assert back.status_code == 302 and back.location == "/"
    assert client.get("/factures/").status_code == 200
    db.session.expire_all()
    user = db.session.scalar(select(User).where(User.email == "new.person@client1.example.com"))
    membership = db.session.scalar(select(Membership).where(Membership.user_id == user.id))
    assert (membership.organisation_id, membership.role) == (org.id, "member")
    assert user.name == "new.person" and user.password_hash == ""
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "login.sso"))


def test_someone_known_logs_in_and_joins_if_they_had_not(app, org, connected):
    other = make_org("Client 2", ["00009999"])
    known = make_user("known@client1.example.com", other, role="admin")
    client = app.test_client()
    come_back(client, provider_answer(client, known.email))
    assert client.get("/factures/").status_code == 200
    db.session.expire_all()
    organisations = db.session.scalars(
        select(Membership.organisation_id).where(Membership.user_id == known.id)
    ).all()
    assert sorted(organisations) == sorted([org.id, other.id])


def test_a_wrong_state_or_a_replayed_answer_is_refused(app, org, connected):
    client = app.test_client()
    location = provider_answer(client, "someone@client1.example.com")
    parts = urlsplit(location)
    query = parse_qs(parts.query)
    forged = client.get(f"{parts.path}?code={query['code'][0]}&state=forged")
    assert forged.status_code == 400 and "refus" in forged.get_data(as_text=True)
    before = users()
    client = app.test_client()
    location = provider_answer(client, "someone@client1.example.com")
    assert come_back(client, location).status_code == 302
    client.post("/logout")
    replayed = come_back(client, location)
    assert replayed.status_code == 400 and users() == before + 1


def test_an_address_outside_the_organisations_domains_is_refused(app, org, connected):
    client = app.test_client()
    before = users()
    location = provider_answer(client, "someone@client1.example.com", "intruder@elsewhere.example")
    answer = come_back(client, location)
    assert answer.status_code == 403
    assert "intruder@elsewhere.example" in answer.get_data(as_text=True)
    assert users() == before and client.get("/factures/").status_code == 302


def test_a_provider_that_is_not_the_issuer_configured_is_refused(app, org, connected):
    connection = db.session.scalar(select(SsoConnection))
    connection.issuer = connected.replace("127.0.0.1", "localhost")  # says 127.0.0.1
    connection.updated_at = utcnow()
    db.session.commit()
    client = app.test_client()
    before = users()
    answer = come_back(client, provider_answer(client, "someone@client1.example.com"))
    assert answer.status_code == 400 and users() == before


def test_an_unknown_domain_and_password_login_turned_off(app, org, connected, customer):
    client = app.test_client()
    unknown = client.post("/login/sso", data={"email": "someone@nowhere.example"})
    assert unknown.status_code == 422
    assert client.login(customer.email).status_code == 302  # passwords still work
    client.post("/logout")
    connection = db.session.scalar(select(SsoConnection))
    connection.password_login = False
    db.session.commit()
    refused = client.login(customer.email)
    assert refused.status_code == 403
    assert "utilisez l’authentification unique" in refused.get_data(as_text=True)


def test_operators_configure_it_and_bad_domains_are_refused(app, org, operator, provider):
    desk = app.test_client()
    desk.login(operator.email)
    url = f"/operator/organisations/{org.id}/sso"
    form = {
        "issuer": provider,
        "client_id": "guichet",
        "client_secret": SECRET,
        "domains": "client1.example.com, Client1.example",
        "password_login": "y",
    }
    bad = desk.post(url, data={**form, "domains": "not a domain"})
    assert bad.status_code == 422 and "n’est pas un domaine" in bad.get_data(as_text=True)
    assert desk.post(url, data=form).status_code == 303
    connection = db.session.scalar(select(SsoConnection))
    assert connection.domains == ["client1.example", "client1.example.com"]
    assert connection.client_secret.startswith("fernet:") and SECRET not in connection.client_secret
    other = make_org("Client 2", ["00009999"])
    taken = desk.post(f"/operator/organisations/{other.id}/sso", data=form)
    assert taken.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(SsoConnection)) == 1
    # the secret left empty stays as it was
    assert desk.post(url, data={**form, "client_secret": ""}).status_code == 303
    db.session.expire_all()
    assert sealing.unseal(db.session.scalar(select(SsoConnection)).client_secret) == SECRET


def test_an_id_token_for_another_login_is_refused(app, org, connected):
    """The ID token carries the ``nonce`` this browser's login was given: one kept for
    another login (here, the session's changed before the answer) is refused."""
    client = app.test_client()
    before = users()
    location = provider_answer(client, "someone@client1.example.com")
    with client.session_transaction() as session:
        (key,) = [k for k in session if k.startswith("_state_sso")]
        kept = dict(session[key])
        kept["data"] = {**kept["data"], "nonce": "another-login"}
        session[key] = kept
    answer = come_back(client, location)
    assert answer.status_code == 400 and "nonce" in answer.get_data(as_text=True).lower()
    assert users() == before
