from datetime import date, timedelta

import pytest
from sqlalchemy import select

from core.documents import encode_pdf
from core.extensions import db
from core.models import Account, Invitation, Membership, SecurityKey, UserSession, utcnow
from core.testing import routes_answer_404
from tests.conftest import make_app, make_org, make_user, one_page_pdf
from tests.sample_plugins import AdminTool, Notes

# Rules that take an argument but hold no tenant object, with the reason.
NOT_TENANT_ROUTES = {
    "static": "public files",
    "auth.reset_password": "a signed token, checked by its own tests",
    "email_change.confirm": "a signed token, checked by its own tests",
    # the provider's API reads any invoice with an operator's bearer token, never with a
    # customer's session (401 for them: test_einvoicing)
    "api.document_invoices": "the provider's API, behind its bearer tokens",
}


@pytest.fixture(scope="module")
def walk_app(tmp_path_factory, app):
    return make_app(tmp_path_factory.mktemp("walk"), EXTRA_PLUGINS=[Notes(), AdminTool()])


def test_scope_defaults_to_every_permitted_account(logged_in):
    page = logged_in.get("/scope").get_data(as_text=True)
    assert "00002501" in page and "04008041" in page


def test_choosing_a_scope_narrows_every_scoped_query(walk_app, org, user):
    client = walk_app.test_client()
    client.login(user.email)
    first = next(a for a in org.accounts if a.client_code == "00002501")
    assert client.post("/scope", data={"account": [str(first.id)]}).status_code == 302
    assert client.get("/notes/").get_data(as_text=True) == "notes: 00002501"
    assert "1 compte(s)" in client.get("/").get_data(as_text=True)
    assert client.post("/scope", data={}).status_code == 302  # none ticked: all again
    assert client.get("/notes/").get_data(as_text=True) == "notes: 00002501,04008041"


def test_membership_restricted_to_an_account_never_sees_the_others(walk_app, org):
    make_user("restricted@client1.example.com", org, accounts=("04008041",))
    client = walk_app.test_client()
    client.login("restricted@client1.example.com")
    assert client.get("/notes/").get_data(as_text=True) == "notes: 04008041"
    hidden = next(a for a in org.accounts if a.client_code == "00002501")
    assert client.get(f"/notes/{hidden.id}").status_code == 404
    assert client.get(f"/accounts/{hidden.id}").status_code == 404
    page = client.get("/scope").get_data(as_text=True)
    assert "00002501" not in page


@pytest.mark.parametrize("tampered", [["999999"], ["abc"], ["-1"]])
def test_tampered_scope_ids_are_refused_and_change_nothing(walk_app, org, user, tampered):
    client = walk_app.test_client()
    client.login(user.email)
    first = next(a for a in org.accounts if a.client_code == "00002501")
    client.post("/scope", data={"account": [str(first.id)]})
    response = client.post("/scope", data={"account": tampered})
    assert response.status_code == 422
    assert "ne sont pas les vôtres" in response.get_data(as_text=True)
    assert client.get("/notes/").get_data(as_text=True) == "notes: 00002501"


def test_scope_cannot_reach_another_organisations_account(walk_app, org, user):
    other = make_org("Client 2", codes=("00009999",))
    client = walk_app.test_client()
    client.login(user.email)
    response = client.post("/scope", data={"account": [str(other.accounts[0].id)]})
    assert response.status_code == 422
    assert client.get("/notes/").get_data(as_text=True) == "notes: 00002501,04008041"


def test_user_of_two_organisations_switches_between_them(walk_app, org, user):
    from core import directory

    other = make_org("Client 2", codes=("00009999",))
    directory.set_membership(user, other, "member")
    db.session.commit()
    client = walk_app.test_client()
    client.login(user.email)
    assert client.get("/notes/").get_data(as_text=True) == "notes: 00002501,04008041"
    assert client.post(f"/organisations/{other.id}/switch").status_code == 302
    assert client.get("/notes/").get_data(as_text=True) == "notes: 00009999"


def _foreign_values(other, other_user):
    from guichet_tickets.models import Ticket  # the example third-party app

    from plugins.autopay.models import Mandate
    from plugins.contracts.importing import import_contracts
    from plugins.contracts.models import Contract, ContractDocument
    from plugins.invoices.importing import import_invoices
    from plugins.invoices.models import Invoice
    from plugins.notifications.models import Subscription
    from plugins.payments.models import Payment
    from plugins.postal.models import Letter

    membership = db.session.scalar(select(Membership).where(Membership.user_id == other_user.id))
    import_invoices(
        [
            {
                "number": "999",
                "date": date.today().isoformat(),
                "total_ht": "1.00",
                "total_ttc": "1.20",
                "client_code": other.accounts[0].client_code,
            }
        ]
    )
    import_contracts(
        [
            {
                "number": "C-999",
                "product": "Compte Clients",
                "start_date": "2020-01-01",
                "client_code": other.accounts[0].client_code,
                "documents": [{"title": "CSV", "pdf": encode_pdf(one_page_pdf())}],
            }
        ]
    )
    contract = db.session.scalar(select(Contract).where(Contract.number == "C-999"))
    subscription = Subscription(organisation_id=other.id, email="them@client2.example.com")
    payment = Payment(
        organisation_id=other.id,
        account_id=other.accounts[0].id,
        key="k-999",
        provider="mollie",
        purpose="topup",
        amount=5000,
        description="Top-up",
    )
    letter = Letter(
        organisation_id=other.id,
        account_id=other.accounts[0].id,
        key="l-999",
        provider="printshop",
        document_sha256="0" * 64,
        title="Lettre",
        pages=1,
        address=["CLIENT 2", "75015 PARIS"],
        price=145,
    )
    ticket = Ticket(organisation_id=other.id, author_id=other_user.id, subject="Secret")
    mandate = Mandate(
        organisation_id=other.id,
        provider="mollie",
        customer_id="cst_other",
        provider_id="mdt_other",
        account="FR76 •••• 0189",
        signatory="Client 2",
        signed_on=date.today(),
        reference="G2-OTHER",
    )
    their_session = UserSession(user_id=other_user.id, user_agent="theirs")
    their_key = SecurityKey(
        user_id=other_user.id, credential_id="theirs", public_key="", name="Theirs"
    )
    their_invitation = Invitation(
        organisation_id=other.id,
        email="new@client2.example.com",
        token_hash="0" * 64,
        expires_at=utcnow() + timedelta(days=1),
    )
    db.session.add_all(
        [subscription, payment, letter, ticket, mandate, their_session, their_invitation, their_key]
    )
    db.session.commit()
    return {
        "ticket_id": ticket.id,
        "subscription_id": subscription.id,
        "payment_id": payment.id,
        "letter_id": letter.id,
        "mandate_id": mandate.id,
        "session_id": their_session.id,  # another user's login
        "key_id": their_key.id,  # another user's security key
        "invitation_id": their_invitation.id,
        "contract_id": contract.id,
        "token_id": 1,  # operator routes: 404 for customers
        "task_id": 1,
        "document_id": db.session.scalar(
            select(ContractDocument.id).where(ContractDocument.contract_id == contract.id)
        ),
        "invoice_id": db.session.scalar(select(Invoice.id).where(Invoice.number == "999")),
        "key": "facturx",  # an invoice's format
        "account_id": other.accounts[0].id,
        "org_id": other.id,
        "user_id": other_user.id,
        "membership_id": membership.id,
        "app_key": "admintool",  # enabled for the other organisation only
        "widget_key": "admintool.summary",
    }


def test_every_route_answers_404_for_another_organisations_ids(walk_app, org, user):
    """Walks every registered URL rule that takes an argument, as a customer of
    Client 1, with the ids of Client 2's objects: each must answer 404. A new route
    whose argument this test does not know fails here until it is added."""
    other = make_org("Client 2", codes=("00009999",))
    other_user = make_user("someone@client2.example.com", other, role="admin")
    foreign = _foreign_values(other, other_user)
    with walk_app.app_context():
        from core.activation import set_app_enabled

        set_app_enabled(other, "admintool", True)
        set_app_enabled(other, "tickets", True)
        set_app_enabled(org, "tickets", True)
        for organisation in (org, other):  # off by default: on, so its routes are walked
            set_app_enabled(organisation, "autopay", True)
        db.session.commit()
        # a payment link the portal signed, for the other organisation's invoice
        from itsdangerous import URLSafeSerializer

        from plugins.payments.links import SALT

        signer = URLSafeSerializer(walk_app.config["SECRET_KEY"], salt=SALT)
        foreign["token"] = signer.dumps(foreign["invoice_id"])
    client = walk_app.test_client()
    assert client.login(user.email).status_code == 302
    checked = routes_answer_404(
        walk_app, client, foreign, only=lambda endpoint: endpoint not in NOT_TENANT_ROUTES
    )
    assert ("GET", "notes.note") in checked
    assert ("GET", "tickets.detail") in checked and ("POST", "tickets_desk.reply") in checked
    assert ("GET", "portal.account") in checked
    assert ("POST", "autopay.revoke") in checked and ("POST", "autopay.choose") in checked
    assert ("POST", "auth.end_session") in checked
    assert ("POST", "securitykeys.remove") in checked
    assert ("POST", "team.cancel") in checked and ("POST", "team.remove") in checked
    assert ("POST", "portal.switch_organisation") in checked
    # nothing changed for the other organisation
    assert (
        db.session.scalar(select(Account.client_code).where(Account.organisation_id == other.id))
        == "00009999"
    )


def test_account_page_shows_sub_accounts_and_hides_a_parent_outside_the_scope(walk_app, org, user):
    from core import directory

    parent, sibling = sorted(org.accounts, key=lambda a: a.client_code)
    child = directory.create_account(org, client_code="00002599", name="Fille", parent_id=parent.id)
    db.session.commit()
    make_user("child-only@client1.example.com", org, accounts=("00002599",))
    client = walk_app.test_client()
    client.login("child-only@client1.example.com")
    page = client.get(f"/accounts/{child.id}").get_data(as_text=True)
    assert "00002599" in page and parent.client_code not in page
    admin = walk_app.test_client()
    admin.login(user.email)
    page = admin.get(f"/accounts/{parent.id}").get_data(as_text=True)
    assert "Sous-comptes" in page and "00002599" in page
    assert sibling.client_code not in page
