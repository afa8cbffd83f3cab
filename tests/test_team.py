"""The customer's own administration: an organisation's admin invites a colleague
(the link works once, until it expires, only for the person invited), changes a
member's role and accounts, resets their second factor, removes them; members and
other organisations' admins can do none of it."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from core.extensions import db
from core.models import Invitation, Membership, User, utcnow
from tests.conftest import PASSWORD, make_org, make_user


def invite(client, email: str, **form) -> str:
    """Invite ``email`` through the page; returns the path of the link e-mailed."""
    answer = client.post("/administration/", data={"email": email, "role": "member", **form})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return answer


def link_in(smtp_server, email: str) -> str:
    (message,) = [m for m in smtp_server.messages if m["To"] == email]
    body = message.get_body(("plain",)).get_content()
    return re.search(r"http\S+(/invitation/\S+)", body).group(1)


@pytest.fixture
def invited(logged_in, org, run_jobs, smtp_server):
    """Dominique invited as a member who sees the account 04008041 only."""
    lyon = next(a for a in org.accounts if a.client_code == "04008041")
    invite(logged_in, "Dominique@Client1.example.com", accounts=[str(lyon.id)])
    run_jobs()
    logged_in.post("/logout")
    return link_in(smtp_server, "dominique@client1.example.com")


def test_an_invitee_joins_with_the_role_and_accounts_chosen(client, invited, org):
    page = client.get(invited)
    assert page.status_code == 200 and "dominique@client1.example.com" in page.get_data(
        as_text=True
    )
    short = client.post(invited, data={"name": "Dominique", "password": "x", "confirm": "x"})
    assert short.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(User)) == 1  # nothing created
    form = {"name": "Dominique", "password": PASSWORD, "confirm": PASSWORD}
    answer = client.post(invited, data=form)
    assert answer.status_code == 302  # logged in
    user = db.session.scalar(select(User).where(User.email == "dominique@client1.example.com"))
    membership = db.session.scalar(select(Membership).where(Membership.user_id == user.id))
    assert membership.role == "member"
    assert [a.client_code for a in membership.accounts] == ["04008041"]
    assert client.get("/factures/").status_code == 200
    client.post("/logout")
    assert client.get(invited).status_code == 404  # once


def test_an_expired_or_withdrawn_invitation_is_refused(client, invited, logged_in, customer):
    db.session.execute(update(Invitation).values(expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    assert client.get(invited).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_an_invitation_opened_as_someone_else_is_refused(client, invited, customer):
    client.login(customer.email)
    answer = client.get(invited)
    assert answer.status_code == 403 and "dominique@client1.example.com" in answer.get_data(
        as_text=True
    )
    assert client.post(invited, data={}).status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Membership)) == 1


def test_someone_with_an_account_logs_in_then_joins(app, logged_in, run_jobs, smtp_server):
    elsewhere = make_org("Client 2", ["00009999"])
    sam = make_user("sam@client2.example.com", elsewhere)
    invite(logged_in, sam.email)
    run_jobs()
    path = link_in(smtp_server, sam.email)
    client = app.test_client()
    answer = client.get(path)
    assert answer.status_code == 302 and "/login" in answer.location
    client.login(sam.email)
    assert client.post(path).status_code == 303
    assert (
        db.session.scalar(
            select(func.count()).select_from(Membership).where(Membership.user_id == sam.id)
        )
        == 2
    )


def test_an_admin_changes_a_role_and_removes_a_member(logged_in, org, member, customer):
    mine = db.session.scalar(select(Membership).where(Membership.user_id == customer.id))
    theirs = db.session.scalar(select(Membership).where(Membership.user_id == member.id))
    page = logged_in.get("/administration/").get_data(as_text=True)
    assert member.email in page
    assert (
        logged_in.post(f"/administration/membres/{theirs.id}", data={"role": "admin"}).status_code
        == 303
    )
    db.session.expire_all()
    assert db.session.get(Membership, theirs.id).role == "admin"
    theirs_id = theirs.id
    assert logged_in.post(f"/administration/membres/{theirs_id}/retirer").status_code == 303
    db.session.expire_all()
    assert db.session.get(Membership, theirs_id) is None
    assert db.session.get(User, member.id) is not None  # the account stays
    # the last admin stays an admin
    assert (
        logged_in.post(f"/administration/membres/{mine.id}", data={"role": "member"}).status_code
        == 422
    )


def test_members_and_other_organisations_reach_none_of_it(app, org, member, logged_in):
    client = app.test_client()
    client.login(member.email)
    assert client.get("/administration/").status_code == 404
    assert (
        client.post("/administration/", data={"email": "x@y.fr", "role": "admin"}).status_code
        == 404
    )
    other = make_org("Client 2", ["00009999"])
    stranger = make_user("them@client2.example.com", other, role="member")
    theirs = db.session.scalar(select(Membership).where(Membership.user_id == stranger.id))
    for path in ("", "/retirer", "/2fa", "/suspendre"):
        answer = logged_in.post(
            f"/administration/membres/{theirs.id}{path}", data={"role": "admin"}
        )
        assert answer.status_code == 404
    assert db.session.scalar(select(Membership.role).where(Membership.id == theirs.id)) == "member"


def test_an_invitation_whose_accounts_are_all_gone_opens_nothing(client, invited, org):
    from core.models import Account

    lyon = db.session.scalar(select(Account).where(Account.client_code == "04008041"))
    db.session.delete(lyon)  # the only account it named: an empty list would mean all
    db.session.commit()
    form = {"name": "Dominique", "password": PASSWORD, "confirm": PASSWORD}
    assert client.post(invited, data=form).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_a_member_limited_to_invoices_cannot_pay(app, org, member, logged_in, enable_app):
    """The admin lets a member see the invoices but not pay: the gate answers 404 on the
    payments app's routes, and its menu entries and actions are gone; the invoices
    stay. The change is in the audit log."""
    from core.models import AuditEvent
    from plugins.invoices.importing import import_invoices
    from tests.conftest import invoice_item

    enable_app("payments")
    import_invoices([invoice_item("L1")])
    theirs = db.session.scalar(select(Membership).where(Membership.user_id == member.id))
    before = app.test_client()
    before.login(member.email)
    assert "Payer la sélection" in before.get("/factures/").get_data(as_text=True)
    page = logged_in.get(f"/administration/membres/{theirs.id}").get_data(as_text=True)
    assert re.search(r'<input checked[^>]*name="every_app"', page)
    assert 'value="payments"' in page and 'value="invoices"' in page
    answer = logged_in.post(
        f"/administration/membres/{theirs.id}",
        data={"role": "member", "apps": ["invoices", "contracts"]},
    )
    assert answer.status_code == 303
    db.session.expire_all()
    assert db.session.get(Membership, theirs.id).apps == ["contracts", "invoices"]
    logged = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "membership.access"))
    assert logged.after["apps"] == ["contracts", "invoices"] and logged.before["apps"] is None
    client = app.test_client()
    client.login(member.email)
    assert client.get("/factures/").status_code == 200
    assert client.get("/paiements/").status_code == 404
    assert client.post("/paiements/factures").status_code == 404
    home = client.get("/").get_data(as_text=True)
    assert 'href="/paiements/"' not in home and 'href="/factures/"' in home
    assert "Payer la sélection" not in client.get("/factures/").get_data(as_text=True)
    # an app not among those on for the organisation is refused
    bad = logged_in.post(
        f"/administration/membres/{theirs.id}", data={"role": "member", "apps": ["nonsense"]}
    )
    assert bad.status_code == 422
    # every app again
    logged_in.post(
        f"/administration/membres/{theirs.id}", data={"role": "member", "every_app": "y"}
    )
    assert client.get("/paiements/").status_code == 200


def test_a_suspended_member_reaches_nothing_until_resumed(app, org, member, logged_in, customer):
    from core.mailing import admin_emails

    theirs = db.session.scalar(select(Membership).where(Membership.user_id == member.id))
    mine = db.session.scalar(select(Membership).where(Membership.user_id == customer.id))
    client = app.test_client()
    assert client.login(member.email).status_code == 302
    assert client.get("/factures/").status_code == 200
    assert logged_in.post(f"/administration/membres/{theirs.id}/suspendre").status_code == 303
    assert client.get("/factures/").status_code == 302  # their session ended
    refused = client.post("/login", data={"email": member.email, "password": PASSWORD})
    assert refused.status_code == 403
    assert "Votre accès est suspendu" in refused.get_data(as_text=True)
    page = logged_in.get("/administration/").get_data(as_text=True)
    assert "Suspendu" in page
    # an admin suspended hears nothing either; the last admin, nor oneself, is never
    logged_in.post(f"/administration/membres/{theirs.id}", data={"role": "admin", "every_app": "y"})
    assert admin_emails(org.id) == [customer.email]
    assert logged_in.post(f"/administration/membres/{mine.id}/suspendre").status_code == 422
    assert logged_in.post(f"/administration/membres/{theirs.id}/suspendre").status_code == 303
    assert client.login(member.email).status_code == 302  # resumed
    assert client.get("/factures/").status_code == 200
    assert sorted(admin_emails(org.id)) == sorted([customer.email, member.email])
