"""Payment links: the invoice e-mail carries the link that opens the payment of that
invoice (after login, in the reader's scope), valid while there is something to pay."""

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from core import jobs
from core.activation import set_app_enabled
from core.extensions import db
from plugins.invoices.importing import import_invoices
from plugins.invoices.models import Invoice
from plugins.payments.links import payment_link
from tests.conftest import invoice_item as invoice
from tests.conftest import make_org, make_user
from tests.test_notifications import import_file, plain, subscribe

LINK = re.compile(r"La payer en ligne ?: (\S+)")


def invoice_id(number: str) -> int:
    return db.session.scalar(select(Invoice.id).where(Invoice.number == number))


def test_the_invoice_email_carries_the_link_to_pay_it(app, logged_in, org, smtp_server, tmp_path):
    assert subscribe(logged_in).status_code == 302
    import_file(
        app,
        tmp_path,
        invoice("L1"),
        invoice("L2", status="paid"),
        invoice("L3", type="credit_note", total_ht="-1.00", total_ttc="-1.20"),
    )
    jobs.drain(app)
    bodies = {
        m["Subject"].split()[1]: plain(m.get_body(("plain",)).get_content())
        for m in smtp_server.messages
    }
    assert sorted(bodies) == ["L1", "L2", "L3"]
    found = LINK.findall(bodies["L1"])
    assert len(found) == 1 and found[0].startswith("http://guichet.test/paiements/lien/")
    assert not LINK.search(bodies["L2"]) and not LINK.search(bodies["L3"])  # nothing to pay
    path = urlsplit(found[0]).path
    assert logged_in.get(path).location == f"/paiements/factures?id={invoice_id('L1')}"
    page = logged_in.get(f"/paiements/factures?id={invoice_id('L1')}").get_data(as_text=True)
    assert "L1" in plain(page) and "67 520,70" in plain(page)


def test_a_link_opens_after_login_and_only_in_the_readers_scope(client, org, user):
    import_invoices([invoice("L1")])
    path = urlsplit(payment_link(db.session.get(Invoice, invoice_id("L1")))).path
    anonymous = client.get(path)
    assert anonymous.status_code == 302 and "/login" in anonymous.location
    other = make_org("Client 2", codes=("09000001",))
    stranger = make_user("eve@client2.example.com", other, role="admin")
    assert client.login(stranger.email).status_code == 302
    assert client.get(path).status_code == 404  # signed, but not an invoice Eve may see
    tampered = path[:-3] + ("abc" if not path.endswith("abc") else "xyz")
    assert client.get(tampered).status_code == 404
    forged = path.replace(path.rsplit("/", 1)[1], "MTIz")  # "123", unsigned
    assert client.get(forged).status_code == 404


def test_a_link_to_a_paid_invoice_says_so(logged_in, org):
    import_invoices([invoice("L1")])
    path = urlsplit(payment_link(db.session.get(Invoice, invoice_id("L1")))).path
    import_invoices([invoice("L1", status="paid")])
    answer = logged_in.get(path, follow_redirects=True)
    assert answer.request.path == f"/factures/{invoice_id('L1')}"
    assert "La facture L1 n’a plus rien à payer." in answer.get_data(as_text=True)


def test_no_link_without_online_payments(org):
    import_invoices([invoice("L1")])
    bill = db.session.get(Invoice, invoice_id("L1"))
    assert payment_link(bill) is not None
    set_app_enabled(org, "payments", False)
    db.session.commit()
    assert payment_link(bill) is None


@pytest.fixture
def guests(app, monkeypatch):
    """The operators let payment links open without login."""
    monkeypatch.setitem(app.config, "PAYMENT_LINKS_WITHOUT_LOGIN", True)


def test_where_allowed_a_link_pays_its_invoice_without_login(client, org, mollie, guests):
    from plugins.payments.models import Payment

    import_invoices([invoice("L1")])
    bill = db.session.get(Invoice, invoice_id("L1"))
    path = urlsplit(payment_link(bill)).path
    assert path.startswith("/paiements/payer/")
    page = client.get(path)  # nobody logged in
    text = plain(page.get_data(as_text=True))
    assert page.status_code == 200 and "L1" in text and "67 520,70 €" in text
    assert "00002501" not in text and "Client 1" not in text  # nothing else of theirs
    answer = client.post(path)
    payment = db.session.scalar(select(Payment).order_by(Payment.id.desc()))
    assert answer.status_code == 303 and answer.location == payment.checkout_url
    assert payment.user_id is None and payment.amount == 6752070
    mollie.end(payment.provider_id, "paid", call_webhook=False)
    state = client.get(f"{path}/{payment.id}")  # where the provider sends the payer back
    assert state.status_code == 200 and "Payé" in state.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Invoice, bill.id).status == "paid"
    assert "n’a plus rien à payer" in client.get(path).get_data(as_text=True)
    assert client.post(path).status_code == 200  # nothing to pay: no second payment
    assert db.session.scalar(select(Payment).order_by(Payment.id.desc())).id == payment.id
    assert client.get(f"{path}/{payment.id + 1}").status_code == 404  # not this invoice's
    assert client.get(path[:-3] + "abc").status_code == 404


def test_a_guest_page_exists_only_where_the_operators_allow_it(client, org, logged_in, guests, app):
    import_invoices([invoice("L1")])
    token = urlsplit(payment_link(db.session.get(Invoice, invoice_id("L1")))).path.rsplit("/", 1)[1]
    # someone logged in goes the logged-in way: their scope, their payments page
    assert logged_in.get(f"/paiements/payer/{token}").location == f"/paiements/lien/{token}"
    app.config["PAYMENT_LINKS_WITHOUT_LOGIN"] = False
    assert urlsplit(payment_link(db.session.get(Invoice, invoice_id("L1")))).path == (
        f"/paiements/lien/{token}"
    )
    assert app.test_client().get(f"/paiements/payer/{token}").status_code == 404
