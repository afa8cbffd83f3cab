import re

import pytest
from sqlalchemy import select

from core import jobs
from core.extensions import db
from core.models import User
from tests.conftest import PASSWORD, make_app, make_user


def test_login_with_the_right_password_opens_the_portal(client, user):
    response = client.login(user.email)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/").status_code == 200


def test_login_is_case_insensitive_on_the_email(client, user):
    assert client.login(user.email.upper()).status_code == 302


@pytest.mark.parametrize("email", ["camille@client1.example.com", "nobody@client1.example.com"])
def test_wrong_password_and_unknown_user_get_the_same_clear_401(client, user, email):
    response = client.login(email, "wrong password!")
    assert response.status_code == 401
    assert "Mauvais e-mail ou mot de passe." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still anonymous


def test_login_is_throttled_per_account_with_a_clear_message(client, user):
    for _ in range(5):
        assert client.login(user.email, "wrong password!").status_code == 401
    response = client.login(user.email, PASSWORD)
    assert response.status_code == 429
    assert "Trop de tentatives" in response.get_data(as_text=True)
    # another account from the same address is not blocked by this one's failures
    assert client.login("someone@else.example.com", "wrong password!").status_code == 401


def test_successful_logins_do_not_count_towards_the_limit(client, user):
    for _ in range(8):
        assert client.login(user.email).status_code == 302
        client.post("/logout")


def test_login_is_throttled_per_address(app, client, user):
    for n in range(20):
        client.login(f"user{n}@client1.example.com", "wrong password!")
    assert client.login(user.email).status_code == 429


def test_next_only_redirects_inside_the_portal(client, user):
    assert client.login(user.email, next="/scope").headers["Location"] == "/scope"
    client.post("/logout")
    assert client.login(user.email, next="https://evil.test/").headers["Location"] == "/"
    client.post("/logout")
    assert client.login(user.email, next="//evil.test/").headers["Location"] == "/"


def test_anonymous_page_request_goes_to_login_and_comes_back(client, user):
    response = client.get("/scope")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/scope"


def test_expired_session_on_htmx_request_answers_with_a_redirect_header(client, user):
    response = client.htmx(
        "GET", "/scope", headers={"HX-Current-URL": "http://guichet.test/mon-compte/?tab=1"}
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/mon-compte/"
    assert response.get_data() == b""  # never a login form swapped into a widget


def test_remember_me_sets_a_secure_http_only_cookie(client, user):
    response = client.login(user.email, remember="y")
    cookies = response.headers.getlist("Set-Cookie")
    remember = next(c for c in cookies if c.startswith("remember_token="))
    assert "Secure" in remember and "HttpOnly" in remember
    session_cookie = next(c for c in cookies if c.startswith("guichet_session="))
    assert "Secure" in session_cookie and "HttpOnly" in session_cookie


def test_changing_the_password_revokes_other_sessions(client, other_client, user):
    assert client.login(user.email).status_code == 302
    assert other_client.login(user.email, remember="y").status_code == 302
    response = client.post(
        "/mon-compte/password",
        data={
            "current": PASSWORD,
            "password": "a brand new secret",
            "confirm": "a brand new secret",
        },
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200  # the session that changed it stays
    assert other_client.get("/").status_code == 302  # the other one is logged out
    assert other_client.login(user.email, PASSWORD).status_code == 401


def test_password_change_with_a_wrong_current_password_changes_nothing(logged_in, user):
    before = user.password_hash
    response = logged_in.post(
        "/mon-compte/password",
        data={
            "current": "not it at all",
            "password": "a brand new secret",
            "confirm": "a brand new secret",
        },
    )
    assert response.status_code == 422
    db.session.refresh(user)
    assert user.password_hash == before


def test_deactivated_user_cannot_log_in(client, user):
    user.active = False
    db.session.commit()
    assert client.login(user.email).status_code == 401


def test_logout_needs_a_post_with_csrf(logged_in):
    assert logged_in.get("/logout").status_code == 405
    assert logged_in.post("/logout", csrf=False).status_code == 400
    assert logged_in.get("/").status_code == 200
    assert logged_in.post("/logout").status_code == 302
    assert logged_in.get("/").status_code == 302


def test_stored_hash_is_argon2(user):
    stored = db.session.scalar(select(User.password_hash).where(User.id == user.id))
    assert stored.startswith("$argon2")
    assert PASSWORD not in stored


def test_reset_link_in_email_sets_a_new_password_once(app, client, user, smtp_server):
    response = client.post("/password/forgot", data={"email": user.email})
    assert response.status_code == 302
    assert smtp_server.messages == []  # sent by the worker, not in the request
    jobs.drain(app)
    [message] = smtp_server.messages
    assert message["To"] == user.email
    body = message.get_payload(decode=True).decode()
    link = re.search(r"http://guichet.test(/password/reset/\S+)", body).group(1)
    new = {"password": "my new password", "confirm": "my new password"}
    assert client.post(link, data=new).status_code == 302
    assert client.login(user.email, "my new password").status_code == 302
    client.post("/logout")
    again = client.post(link, data={"password": "third password!", "confirm": "third password!"})
    assert again.headers["Location"] == "/password/forgot"  # single use
    assert client.login(user.email, "my new password").status_code == 302


def test_reset_for_unknown_address_answers_the_same_and_sends_nothing(
    app, client, user, smtp_server
):
    known = client.post("/password/forgot", data={"email": user.email})
    unknown = client.post("/password/forgot", data={"email": "nobody@nowhere.example.com"})
    assert (unknown.status_code, unknown.headers["Location"]) == (302, "/login")
    assert (known.status_code, known.headers["Location"]) == (302, "/login")
    assert jobs.pending(app) == 2  # the same work in the request, known or not
    jobs.drain(app)
    assert [m["To"] for m in smtp_server.messages] == [user.email]


def test_tampered_or_expired_reset_link_is_refused(app, client, user):
    from core.auth import reset_token

    token = reset_token(user)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    data = {"password": "my new password", "confirm": "my new password"}
    assert client.post(f"/password/reset/{tampered}", data=data).status_code == 302
    app.config["PASSWORD_RESET_MAX_AGE"] = -1
    try:
        assert client.post(f"/password/reset/{token}", data=data).status_code == 302
    finally:
        app.config["PASSWORD_RESET_MAX_AGE"] = 3600
    assert client.login(user.email, "my new password").status_code == 401


def test_reset_without_mail_configured_says_so(tmp_path, user, smtp_server):
    unconfigured = make_app(tmp_path, MAIL_SERVER="")
    response = unconfigured.test_client().post("/password/forgot", data={"email": user.email})
    assert response.status_code == 503
    assert "n’est pas configuré" in response.get_data(as_text=True)
    assert smtp_server.messages == []


def test_expired_session_on_an_unsafe_htmx_request_goes_to_login_not_a_csrf_error(client, user):
    response = client.htmx(
        "POST",
        "/favourites/account",
        data={"enabled": "0"},
        csrf=False,
        headers={"HX-Current-URL": "http://guichet.test/favourites"},
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/favourites"


def test_a_user_sees_their_sessions_and_ends_one(client, other_client, user, member):
    from datetime import timedelta

    from core.models import UserSession, utcnow

    for browser, agent in ((client, "Firefox on the desk"), (other_client, "Phone")):
        form = {"email": user.email, "password": PASSWORD}
        assert browser.post("/login", data=form, headers={"User-Agent": agent}).status_code == 302
    page = client.get("/sessions").get_data(as_text=True)
    assert "Firefox on the desk" in page and "Phone" in page
    phone = db.session.scalar(select(UserSession).where(UserSession.user_agent == "Phone"))
    # a session's last use is kept to within minutes, not written on every page
    long_ago = utcnow() - timedelta(minutes=10)
    phone.created_at = phone.last_seen_at = long_ago
    db.session.commit()
    assert other_client.get("/").status_code == 200
    db.session.expire_all()
    seen = db.session.get(UserSession, phone.id).last_seen_at
    assert seen.replace(tzinfo=long_ago.tzinfo) > long_ago + timedelta(minutes=9)
    # another user's session is not theirs to end
    stranger = make_app_client_session(member)
    assert client.post(f"/sessions/{stranger}/end").status_code == 404
    assert client.post(f"/sessions/{phone.id}/end").status_code == 303
    assert other_client.get("/").status_code == 302  # logged out there
    assert client.get("/").status_code == 200  # not here


def make_app_client_session(member) -> int:
    """A session of ``member``, as a login makes one."""
    from core.models import UserSession

    row = UserSession(user_id=member.id, user_agent="theirs")
    db.session.add(row)
    db.session.commit()
    return row.id


def test_a_user_changes_their_e_mail_address_through_a_link_to_it(
    client, logged_in, user, member, run_jobs, smtp_server
):
    page = "/mon-adresse"
    wrong = logged_in.post(page, data={"email": "new@client1.example.com", "password": "nope"})
    assert wrong.status_code == 422
    taken = logged_in.post(page, data={"email": member.email, "password": PASSWORD})
    assert taken.status_code == 422
    asked = logged_in.post(page, data={"email": "New@Client1.example.com", "password": PASSWORD})
    assert asked.status_code == 303
    run_jobs()
    by_address = {m["To"]: m.get_body(("plain",)).get_content() for m in smtp_server.messages}
    assert set(by_address) == {"new@client1.example.com", user.email}  # a notice to the old
    link = re.search(r"http\S+/mon-adresse/confirmer/\S+", by_address["new@client1.example.com"])
    path = link.group(0).split("guichet.test", 1)[1]
    db.session.expire_all()
    assert db.session.get(User, user.id).email == "camille@client1.example.com"  # not yet
    assert client.get(path).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).email == "new@client1.example.com"
    client.get(path)  # the link works once: it is bound to the address it changes from
    db.session.expire_all()
    assert db.session.get(User, user.id).email == "new@client1.example.com"
    assert client.get("/mon-adresse/confirmer/forged").status_code == 302


def their_address_and_payment(user, org, key: str) -> None:
    """What two apps keep about ``user``: an invoice address, a payment (``key``)."""
    from plugins.notifications.models import Subscription
    from plugins.payments.models import Payment

    db.session.add(Subscription(organisation_id=org.id, user_id=user.id, email="factures@x.fr"))
    db.session.add(
        Payment(
            organisation_id=org.id,
            account_id=org.accounts[0].id,
            user_id=user.id,
            key=key,
            provider="mollie",
            purpose="topup",
            amount=5000,
            description="Top-up",
        )
    )
    db.session.commit()


def test_hook_guichet_personal_data_fills_the_users_export(logged_in, user, org):
    import json

    their_address_and_payment(user, org, "k-export")
    answer = logged_in.get("/mes-donnees.json")
    assert answer.status_code == 200 and "attachment" in answer.headers["Content-Disposition"]
    data = json.loads(answer.get_data(as_text=True))
    assert data["profile"]["email"] == user.email
    assert data["memberships"] == [{"organisation": "Client 1", "role": "admin", "accounts": "all"}]
    assert data["sessions"][0]["logged_in"]
    assert data["apps"]["notifications"]["invoice_addresses"][0]["email"] == "factures@x.fr"
    assert data["apps"]["payments"]["payments"][0]["amount"] == 50.0
    assert "postal" in data["apps"] and data["apps"]["postal"]["letters"] == []


def test_hook_guichet_erase_user_lets_an_operator_erase_a_person(app, user, org, operator):
    """The right to erasure: the person goes (name, address, sessions, memberships, the
    apps' data about them: their invoice addresses), the payment they made stays, under
    an anonymous user who cannot log in; their address may serve someone else."""
    from core.models import AuditEvent, Membership
    from plugins.notifications.models import Subscription
    from plugins.payments.models import Payment

    person = app.test_client()
    assert person.login(user.email).status_code == 302  # a session, and a login in the trail
    their_address_and_payment(user, org, "k-erase")
    email, user_id = user.email, user.id
    desk = app.test_client()
    desk.login(operator.email)
    wrong = desk.post(f"/operator/users/{user_id}/erase", data={"confirm": "someone@else"})
    assert wrong.status_code == 303 and db.session.get(User, user_id).email == email
    assert desk.post(f"/operator/users/{user_id}/erase", data={"confirm": email}).status_code == 303
    db.session.expire_all()
    erased = db.session.get(User, user_id)
    assert (erased.email, erased.name, erased.active) == (f"erased-{user_id}@invalid", "", False)
    assert db.session.scalar(select(Membership).where(Membership.user_id == user_id)) is None
    assert db.session.scalar(select(Subscription).where(Subscription.user_id == user_id)) is None
    assert db.session.scalar(select(Payment.user_id).where(Payment.key == "k-erase")) == user_id
    labels = db.session.scalars(
        select(AuditEvent.actor_label).where(AuditEvent.actor_id == user_id)
    ).all()
    assert labels and set(labels) == {f"erased-{user_id}@invalid"}
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.erase"))
    assert person.get("/factures/").status_code == 302  # the session is gone
    assert person.login(email).status_code == 401
    make_user(email, org)  # the address is free again
    assert (
        desk.post(
            f"/operator/users/{operator.id}/erase", data={"confirm": operator.email}
        ).status_code
        == 422
    )
