"""The activity trail a customer sees: logins (with address and device) and failed
ones, security changes, downloads, payments, letters, notification addresses; an
admin sees the organisation's, a member their own, another organisation nothing;
filtered by kind, member and dates; exported as CSV; older events purged."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from core import activity
from core.extensions import db
from core.models import AuditEvent, utcnow
from plugins.invoices.importing import import_invoices
from plugins.invoices.models import Invoice
from tests.conftest import PASSWORD, invoice_item, make_org, make_user

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


def events(**where) -> list[AuditEvent]:
    db.session.expire_all()
    query = select(AuditEvent).order_by(AuditEvent.id)
    for name, value in where.items():
        query = query.where(getattr(AuditEvent, name) == value)
    return list(db.session.scalars(query))


def test_a_device_is_named_as_people_say_it():
    assert activity.device_of(CHROME) == "Chrome 156 · Linux"
    assert activity.device_of(IPHONE) == "Mobile Safari 17 · iOS (iPhone)"
    assert activity.device_of("") == ""
    assert activity.device_of("curl/8.5.0") == "curl 8"


@pytest.fixture
def member_client(app, member):
    """The member, logged in from an iPhone."""
    client = app.test_client()
    answer = client.post(
        "/login",
        data={"email": member.email, "password": PASSWORD},
        headers={"User-Agent": IPHONE},
    )
    assert answer.status_code == 302
    return client


def test_logins_are_in_the_trail_with_their_address_and_device(
    app, org, customer, member, logged_in
):
    stranger = app.test_client()
    wrong = stranger.post(
        "/login",
        data={"email": member.email, "password": "not the password"},
        headers={"User-Agent": CHROME},
    )
    assert wrong.status_code == 401
    (failed,) = events(action="login.failed")
    assert (failed.actor_id, failed.organisation_id) == (member.id, org.id)
    assert (failed.kind, failed.ip, failed.device) == ("login", "127.0.0.1", "Chrome 156 · Linux")
    page = logged_in.get("/activite/?kind=login").get_data(as_text=True)
    assert "Échec de connexion (mot de passe erroné)" in page and member.email in page
    assert "Chrome 156 · Linux" in page and "127.0.0.1" in page
    assert "Connexion au portail" in page and customer.email in page


def test_a_member_sees_their_own_and_an_admin_the_organisations(
    app, org, customer, member, logged_in, member_client
):
    mine = member_client.get("/activite/").get_data(as_text=True)
    assert "Mobile Safari 17 · iOS (iPhone)" in mine
    assert customer.email not in mine and 'name="member"' not in mine
    # the member cannot read the admin's by asking for it
    theirs = member_client.get(f"/activite/?member={customer.id}").get_data(as_text=True)
    assert "Chrome" not in theirs and customer.email not in theirs
    everyone = logged_in.get("/activite/").get_data(as_text=True)
    assert member.email in everyone and 'name="member"' in everyone
    only = logged_in.get(f"/activite/?member={member.id}").get_data(as_text=True)
    assert "Mobile Safari" in only
    # another organisation sees none of it, even naming the member
    other = make_org("Client 2", ["00009999"])
    them = make_user("admin@client2.example.com", other, role="admin")
    outsider = app.test_client()
    outsider.login(them.email)
    page = outsider.get(f"/activite/?member={member.id}").get_data(as_text=True)
    assert member.email not in page and "Mobile Safari" not in page


def test_downloads_payments_and_addresses_are_recorded(
    org, member, member_client, enable_app, mollie
):
    import_invoices([invoice_item("F-ACT-1")])
    invoice_id = db.session.scalar(select(Invoice.id).where(Invoice.number == "F-ACT-1"))
    assert member_client.get(f"/factures/{invoice_id}/pdf").status_code == 200
    assert member_client.get("/factures/export.csv").status_code == 200
    (download,) = events(action="download.invoice")
    assert (download.actor_id, download.target, download.kind) == (
        member.id,
        "F-ACT-1",
        "downloads",
    )
    page = member_client.get("/activite/?kind=downloads").get_data(as_text=True)
    assert "Facture téléchargée" in page and "F-ACT-1" in page
    assert "Liste des factures exportée" in page and "factures.csv" in page
    assert "Connexion au portail" not in page  # the filter holds


def test_security_changes_are_in_every_organisation_of_the_user(app, org, customer, logged_in):
    other = make_org("Client 2", ["00009999"])
    from core.directory import set_membership

    set_membership(customer, other, "admin")
    db.session.commit()
    answer = logged_in.post(
        "/mon-compte/password",
        data={
            "current": PASSWORD,
            "password": "another long password",
            "confirm": "another long password",
        },
    )
    assert answer.status_code in (302, 303), answer.get_data(as_text=True)
    changed = events(action="user.password")
    assert sorted(e.organisation_id for e in changed) == sorted([org.id, other.id])


def test_the_trail_filters_by_dates_and_refuses_a_bad_one(logged_in, customer):
    db.session.execute(
        update(AuditEvent).values(at=utcnow() - timedelta(days=40))
    )  # the login, long ago
    db.session.commit()
    today = utcnow().date()
    recent = logged_in.get(f"/activite/?from={today - timedelta(days=7)}")
    assert "Aucun événement" in recent.get_data(as_text=True)
    old = logged_in.get(f"/activite/?to={today - timedelta(days=30)}").get_data(as_text=True)
    assert customer.email in old
    bad = logged_in.get("/activite/?from=31/12/2026")
    assert bad.status_code == 400 and "2026-12-31" in bad.get_data(as_text=True)


def test_the_trail_exports_as_csv(logged_in, customer, member, member_client):
    answer = logged_in.get("/activite/export.csv?kind=login")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    text = answer.get_data(as_text=True)
    header, *rows = text.lstrip("\ufeff").splitlines()
    assert header == "Date;Qui;Type;Événement;Objet;Adresse;Appareil"
    assert any(member.email in row and "Mobile Safari" in row for row in rows)
    assert all(";Connexions;" in row for row in rows)
    std = member_client.get("/activite/export.csv?dialect=std").get_data(as_text=True)
    assert std.startswith("at,who,kind,action,target,ip,device")
    assert "login.ok" in std and customer.email not in std


def test_operators_events_stay_out_of_the_customers_trail(logged_in, org, enable_app):
    enable_app("payments", False)  # recorded as an operator's change of the organisation
    db.session.add(
        AuditEvent(
            actor_label="ops@provider.example.com",
            organisation_id=org.id,
            action="app.disable",
            target="payments",
            kind="other",
        )
    )
    db.session.commit()
    page = logged_in.get("/activite/").get_data(as_text=True)
    assert "app.disable" not in page and "ops@provider" not in page


def test_events_older_than_the_retention_are_purged(app, logged_in, customer):
    db.session.execute(update(AuditEvent).values(at=utcnow() - timedelta(days=400)))
    db.session.commit()
    logged_in.post("/logout")
    logged_in.login(customer.email)
    assert activity.purge() >= 1
    db.session.expire_all()
    assert [e.action for e in events(actor_id=customer.id)] == ["login.ok"]
    app.config["ACTIVITY_DAYS"], kept = 0, app.config["ACTIVITY_DAYS"]
    try:
        db.session.execute(update(AuditEvent).values(at=utcnow() - timedelta(days=1)))
        db.session.commit()
        assert activity.purge() == 1
    finally:
        app.config["ACTIVITY_DAYS"] = kept


def test_the_page_costs_the_same_queries_however_long_the_trail(
    logged_in, customer, org, count_queries
):
    logged_in.get("/activite/")
    with count_queries() as few:
        assert logged_in.get("/activite/").status_code == 200
    db.session.add_all(
        AuditEvent(
            actor_id=customer.id,
            actor_label=customer.email,
            organisation_id=org.id,
            action="download.invoice",
            target=f"F{n}",
            kind="downloads",
        )
        for n in range(120)
    )
    db.session.commit()
    with count_queries() as many:
        page = logged_in.get("/activite/").get_data(as_text=True)
    assert "F119" in page and len(many) == len(few)
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) > 120
