import pytest
from sqlalchemy import func, select

from core.activation import enabled_app_keys
from core.extensions import db
from core.models import Account, AppActivation, AuditEvent, Membership, Organisation, User
from tests.conftest import make_org, make_user


@pytest.fixture
def ops(client, operator):
    assert client.login(operator.email).status_code == 302
    return client


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_back_office_is_invisible_to_customers(logged_in):
    assert logged_in.get("/operator/organisations").status_code == 404
    assert logged_in.get("/operator/apps").status_code == 404


def test_operator_lands_in_the_back_office(client, operator):
    assert client.login(operator.email).headers["Location"] == "/operator/"


def test_create_organisation_with_an_audit_event(ops, operator):
    response = ops.post(
        "/operator/organisations/new",
        data={
            "name": "ACME",
            "siret": "12345678901234",
            "vat_number": "FR40303265045",
            "address": "1 rue de la Paix\n75002 Paris",
            "locale": "fr",
        },
    )
    assert response.status_code == 302
    org = db.session.scalar(select(Organisation).where(Organisation.name == "ACME"))
    assert org.siret == "12345678901234"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "organisation.create"))
    assert event.actor_id == operator.id
    assert event.after["name"] == "ACME"
    assert "account" in enabled_app_keys(org.id)  # defaults written at creation


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("siret", "1234", "Un SIRET compte 14 chiffres."), ("name", "", "Ce champ est requis.")],
)
def test_invalid_organisation_is_refused_with_the_field_named(ops, field, value, message):
    data = {"name": "ACME", "siret": "12345678901234", "locale": "fr", field: value}
    response = ops.post("/operator/organisations/new", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count(Organisation) == 0


def test_duplicate_siret_is_refused(ops):
    make_org("First", siret="12345678901234")
    response = ops.post(
        "/operator/organisations/new",
        data={"name": "Second", "siret": "12345678901234", "locale": "fr"},
    )
    assert response.status_code == 422
    assert count(Organisation) == 1


def test_edit_organisation_records_before_and_after(ops, org):
    response = ops.post(
        f"/operator/organisations/{org.id}",
        data={"name": "Client Été", "siret": "", "vat_number": "", "address": "", "locale": "en"},
    )
    assert response.status_code == 302
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "organisation.update"))
    assert event.before == {"name": "Client 1", "locale": "fr"}
    assert event.after == {"name": "Client Été", "locale": "en"}
    page = ops.get("/operator/audit").get_data(as_text=True)
    assert "Client Été" in page and "\\u00c9" not in page  # as a person reads it


def test_create_sub_account(ops, org):
    parent = org.accounts[0]
    response = ops.post(
        f"/operator/organisations/{org.id}/accounts/new",
        data={"client_code": "00002502", "name": "Filiale", "parent_id": str(parent.id)},
    )
    assert response.status_code == 302
    child = db.session.scalar(select(Account).where(Account.client_code == "00002502"))
    assert child.parent_id == parent.id


def test_account_parent_must_belong_to_the_same_organisation(ops, org):
    other = make_org("Client 2", codes=("00009999",))
    response = ops.post(
        f"/operator/organisations/{org.id}/accounts/new",
        data={"client_code": "00002502", "parent_id": str(other.accounts[0].id)},
    )
    assert response.status_code == 422
    assert db.session.scalar(select(Account).where(Account.client_code == "00002502")) is None


def test_members_with_account_restriction(ops, org):
    make_user("new@client1.example.com")
    restricted = org.accounts[1]
    response = ops.post(
        f"/operator/organisations/{org.id}/members",
        data={
            "email": "new@client1.example.com",
            "role": "member",
            "account": [str(restricted.id)],
        },
    )
    assert response.status_code == 302
    membership = db.session.scalar(
        select(Membership).join(User).where(User.email == "new@client1.example.com")
    )
    assert [a.client_code for a in membership.accounts] == [restricted.client_code]


def test_member_for_unknown_user_is_a_clear_422(ops, org):
    response = ops.post(
        f"/operator/organisations/{org.id}/members",
        data={"email": "ghost@x.example.com", "role": "member"},
    )
    assert response.status_code == 422
    assert "créez d’abord l’utilisateur" in response.get_data(as_text=True)
    assert count(Membership) == 0


def test_create_user_and_operator(ops):
    response = ops.post(
        "/operator/users/new",
        data={
            "email": "New@Example.com",
            "name": "New",
            "locale": "",
            "password": "long enough pw",
            "active": "y",
        },
    )
    assert response.status_code == 302
    created = db.session.scalar(select(User).where(User.email == "new@example.com"))
    assert created.active and not created.is_operator


def test_app_switch_toggles_in_place_with_htmx_and_is_audited(ops, org):
    response = ops.htmx("POST", f"/operator/apps/{org.id}/account", data={"enabled": "0"})
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert fragment.lstrip().startswith("<form")  # only the switch, not the page
    assert 'name="enabled" value="1"' in fragment  # the next click turns it back on
    db.session.refresh(org)  # its apps stamp, as the next request reads it
    assert "account" not in enabled_app_keys(org.id)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "app.disable"))
    assert (event.organisation_id, event.before, event.after) == (
        org.id,
        {"enabled": True},
        {"enabled": False},
    )


def test_app_switch_without_javascript_goes_back_to_the_matrix(ops, org):
    response = ops.post(f"/operator/apps/{org.id}/account", data={"enabled": "0"})
    assert response.status_code == 302
    db.session.refresh(org)  # its apps stamp, as the next request reads it
    assert "account" not in enabled_app_keys(org.id)


@pytest.mark.parametrize(
    ("key", "data", "status"),
    [
        ("nope", {"enabled": "0"}, 404),
        ("account", {"enabled": "maybe"}, 400),
        ("account", {}, 400),
    ],
)
def test_bad_app_switch_changes_nothing(ops, org, key, data, status):
    response = ops.htmx("POST", f"/operator/apps/{org.id}/{key}", data=data)
    assert response.status_code == status
    assert "account" in enabled_app_keys(org.id)
    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("app.%"))
        )
        == 0
    )


def test_default_applies_to_new_organisations_only(ops, org):
    assert ops.post("/operator/apps/default/account", data={"enabled": "0"}).status_code == 302
    later = make_org("Client 2", codes=())
    assert "account" in enabled_app_keys(org.id)
    assert "account" not in enabled_app_keys(later.id)


def test_matrix_shows_the_state_of_each_organisation(ops, org):
    db.session.get(AppActivation, (org.id, "account")).enabled = False
    db.session.commit()
    page = ops.get("/operator/apps").get_data(as_text=True)
    assert "Mon compte pour Client 1" in page
    assert 'name="enabled" value="1"' in page


def test_organisation_search_returns_the_results_fragment_for_htmx(ops, org):
    make_org("Zeta", codes=())
    response = ops.htmx("GET", "/operator/organisations?q=zet")
    body = response.get_data(as_text=True)
    assert "Zeta" in body and "Client 1" not in body
    assert "<html" not in body


def test_organisation_search_finds_a_client_code(ops, org):
    make_org("Zeta", codes=("77700001",))
    body = ops.get("/operator/organisations?q=7770").get_data(as_text=True)
    assert "Zeta" in body and "Client 1" not in body


def test_operator_password_change_is_audited_and_ends_the_users_sessions(ops, user, other_client):
    assert other_client.login(user.email).status_code == 302
    response = ops.post(
        f"/operator/users/{user.id}",
        data={
            "email": user.email,
            "name": "",
            "locale": "",
            "password": "set by operator",
            "active": "y",
        },
    )
    assert response.status_code == 302
    assert other_client.get("/").status_code == 302
    assert (
        db.session.scalar(select(AuditEvent.target).where(AuditEvent.action == "user.password"))
        == f"user:{user.id}"
    )


def test_short_password_from_operator_is_refused_with_its_message(ops, user):
    before = user.password_hash
    response = ops.post(
        f"/operator/users/{user.id}",
        data={"email": user.email, "password": "short", "active": "y"},
    )
    assert response.status_code == 422
    db.session.refresh(user)
    assert user.password_hash == before
