"""Online payments through the Mollie plugin, against the local server speaking
Mollie's API (the real ``mollie-api-python`` client over HTTP): top-ups, paying
invoices, webhooks that never pay twice, reconciliation, refunds."""

from __future__ import annotations

import functools
import http.client
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from core import jobs, ledger
from core.extensions import db
from core.ledger import WalletEntry
from core.models import utcnow
from core.payments import PaymentError, PaymentRequest, RemotePayment, may_move, payment_provider
from core.plugin_api import App, PaymentPurpose, PurposeOutcome, hookimpl
from plugins.invoices.importing import import_invoices
from plugins.invoices.models import Invoice
from plugins.mollie.provider import http_session
from plugins.payments import flow
from plugins.payments.models import Payment
from tests.conftest import (
    MOLLIE_KEY,
    PASSWORD,
    invoice_item,
    make_org,
    make_user,
    run_cli,
    run_together,
)

WEBHOOK = "/paiements/webhook"


def top_up(client, **form) -> Payment:
    """Ask for a top-up through the wallet's form; returns the payment it created."""
    response = client.post("/porte-monnaie/recharger", data=form)
    assert response.status_code == 303, response.get_data(as_text=True)
    payment = db.session.scalar(select(Payment).order_by(Payment.id.desc()))
    assert response.location == payment.checkout_url
    return payment


def webhook(client, provider_id):
    return client.post(WEBHOOK, data={"id": provider_id}, csrf=False)


def entries() -> int:
    return db.session.scalar(select(func.count()).select_from(WalletEntry))


def request_for(amount=1000, key="key-1", **values) -> PaymentRequest:
    data = {
        "amount": amount,
        "currency": "EUR",
        "description": "Test",
        "reference": "1",
        "return_url": "https://portal.example/return",
        "webhook_url": "",
        "idempotency_key": key,
        "metadata": {"payment_id": 1},
    }
    data.update(values)
    return PaymentRequest(**data)


# --- the provider and the local Mollie server --------------------------------------


def test_the_provider_speaks_mollies_api(mollie):
    provider = payment_provider()
    assert provider.key == "mollie" and provider.test_mode
    created = provider.create(request_for(1234))
    assert created.id.startswith("tr_") and created.status == "open"
    assert created.amount == 1234 and created.checkout_url.endswith(f"/checkout/{created.id}")
    assert mollie.payments[created.id]["amount"] == {"currency": "EUR", "value": "12.34"}
    assert mollie.payments[created.id]["metadata"] == {"payment_id": 1, "reference": "1"}
    again = provider.create(request_for(1234))  # the same idempotency key
    assert again.id == created.id and len(mollie.payments) == 1
    mollie.end(created.id, "paid")
    fetched = provider.fetch(created.id)
    assert fetched.status == "paid" and fetched.paid_at is not None and fetched.refunded == 0
    assert provider.refund(created.id, 234, "EUR", "Geste", "refund-1").startswith("re_")
    assert provider.fetch(created.id).refunded == 234
    methods = provider.methods(5000, "EUR", "fr_FR")
    assert [m.id for m in methods] == ["creditcard", "bancontact", "banktransfer"]
    assert methods[0].label == "Carte bancaire"


def test_the_providers_refusals_name_the_field(mollie):
    provider = payment_provider()
    with pytest.raises(PaymentError) as refused:
        provider.create(request_for(1000, method="bitcoin"))
    assert refused.value.field == "method" and "invalid" in refused.value.message
    assert not refused.value.retry
    with pytest.raises(PaymentError) as unknown:
        provider.fetch("tr_doesnotexist")
    assert "No payment exists" in unknown.value.message and not unknown.value.retry
    created = provider.create(request_for(1000))
    with pytest.raises(PaymentError, match="cannot be refunded"):
        provider.refund(created.id, 100, "EUR", "", "r-open")


def test_a_first_payment_saves_the_card_as_a_mandate(mollie):
    """A card is saved by a first payment (0.00 may be asked only then): paid, it names
    the mandate it left; a customer the provider does not know is refused."""
    provider = payment_provider()
    with pytest.raises(PaymentError) as zero:
        provider.create(request_for(0))
    assert zero.value.field == "amount.value"
    customer = provider.create_customer("Client 1", "", "organisation-1", "customer-1")
    with pytest.raises(PaymentError) as stranger:
        provider.create(replace(request_for(0), sequence="first", customer_id="cst_nobody"))
    assert stranger.value.field == "customerId"
    first = provider.create(replace(request_for(0), sequence="first", customer_id=customer))
    assert first.checkout_url and first.mandate is None
    mollie.end(first.id, "paid")
    card = provider.fetch(first.id).mandate
    assert (card.method, card.status, card.account) == (
        "creditcard",
        "valid",
        "Mastercard •••• 6787",
    )
    assert provider.fetch_mandate(customer, card.id).account == card.account


def test_an_unreachable_provider_is_worth_retrying(app, mollie, monkeypatch):
    monkeypatch.setitem(app.config, "MOLLIE_API_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(PaymentError) as failed:
        payment_provider().fetch("tr_abcdefgh")
    assert failed.value.retry and "could not be reached" in failed.value.message


def test_the_client_reads_the_proxy_settings_once(app, mollie, monkeypatch):
    """The Mollie client runs on our HTTP session (``mollie-api-python`` keeps the
    ``_client`` it finds), which read the environment when it was made: a proxy named
    afterwards is not used; one named before is."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    provider = payment_provider()
    created = provider.create(request_for(1000))
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    assert provider.fetch(created.id).id == created.id
    session = http_session("https://api.mollie.com", retries=2)
    assert session.proxies["http"] == "http://127.0.0.1:9" and not session.trust_env
    monkeypatch.setitem(app.config, "MOLLIE_API_ENDPOINT", mollie.url + "/")  # a new client
    with pytest.raises(PaymentError) as failed:
        provider.fetch(created.id)
    assert failed.value.retry and "could not be reached" in failed.value.message


def test_the_served_local_api_keeps_connections_open():
    """``guichet mollie serve`` (the demo's and the bench's Mollie) answers several
    calls on one connection, as Mollie's API does."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    guichet = Path(sys.executable).with_name("guichet")
    server = subprocess.Popen(
        [guichet, "mollie", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        for _ in range(100):
            try:
                connection.connect()
                break
            except ConnectionRefusedError:
                time.sleep(0.1)
        first = connection.sock
        answers = []
        for _ in range(2):
            connection.request("GET", "/v2/methods", headers={"Authorization": "Bearer live_x"})
            response = connection.getresponse()
            answers.append((response.status, response.getheader("Connection"), response.read()))
        assert [a[:2] for a in answers] == [(401, "keep-alive"), (401, "keep-alive")]
        assert b"Missing authentication" in answers[1][2] and connection.sock is first
    finally:
        server.terminate()
        server.wait(10)


def test_states_only_move_forward():
    assert may_move("open", "paid") and may_move("pending", "paid") and may_move("open", "pending")
    assert may_move("authorized", "paid") and may_move("open", "expired")
    assert not may_move("paid", "open") and not may_move("paid", "failed")
    assert not may_move("pending", "open") and not may_move("expired", "paid")
    assert not may_move("open", "open") and not may_move("open", "refunded")


# --- topping up the wallet ---------------------------------------------------------


def test_a_top_up_is_credited_once_with_a_receipt(app, logged_in, mollie, org, smtp_server):
    subscribe = {
        "email": "compta@client1.example.com",
        "attachments": "y",
        "kinds": "all",
        "frequency": "each",
    }
    assert logged_in.post("/factures/notifications/", data=subscribe).status_code == 302
    form = logged_in.get("/porte-monnaie/recharger").get_data(as_text=True)
    assert "Mode test" in form and "50,00" in form and "Carte bancaire" in form
    payment = top_up(logged_in, preset="5000", method="creditcard")
    assert (payment.purpose, payment.amount, payment.status) == ("topup", 5000, "open")
    remote = mollie.payments[payment.provider_id]
    assert remote["method"] == "creditcard" and remote["locale"] == "fr_FR"
    assert remote["webhookUrl"].endswith(WEBHOOK)
    assert remote["redirectUrl"].endswith(f"/paiements/{payment.id}")
    assert ledger.balance(org.id) == 0

    mollie.end(payment.provider_id, "paid")
    assert webhook(logged_in, payment.provider_id).status_code == 200
    db.session.expire_all()
    assert ledger.balance(org.id) == 5000 and entries() == 1
    assert payment.status == "paid" and payment.paid_at is not None
    receipt = db.session.get(Invoice, payment.receipt_id)
    assert receipt.number == "RC-00000001" and receipt.status == "paid"  # the first receipt
    assert receipt.total_ttc == 5000
    assert (
        receipt.lines[0].label == f"Rechargement du porte-monnaie (paiement {payment.provider_id})"
    )
    for _replay in range(3):  # Mollie calls again; nothing changes
        assert webhook(logged_in, payment.provider_id).status_code == 200
    assert ledger.balance(org.id) == 5000 and entries() == 1
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == 1
    jobs.drain(app)  # the receipt is e-mailed like any new invoice, once
    assert sorted((m["To"], m["Subject"].split()[1]) for m in smtp_server.messages) == [
        ("camille@client1.example.com", receipt.number),  # the payer, registered or not
        ("compta@client1.example.com", receipt.number),
    ]

    page = logged_in.get(f"/paiements/{payment.id}").get_data(as_text=True)
    assert "Payé" in page and "votre paiement a bien été reçu" in page
    assert f"/factures/{receipt.id}" in page
    listed = logged_in.get("/factures/").get_data(as_text=True)
    assert receipt.number in listed
    detail = logged_in.get(f"/factures/{receipt.id}").get_data(as_text=True)
    assert "Rechargement du porte-monnaie" in detail and "50,00" in detail
    assert receipt.ranges == []  # one line: a summary by range would repeat it


def test_the_checkout_returns_to_the_host_the_browser_uses(app, client, user, mollie, org):
    """The demo answers on localhost and 127.0.0.1, two sites for a browser: coming
    back on the other one would land on the login page."""
    here = "http://127.0.0.1:5000"
    assert (
        client.post(
            "/login", data={"email": user.email, "password": PASSWORD}, base_url=here
        ).status_code
        == 302
    )
    response = client.post("/porte-monnaie/recharger", data={"preset": "5000"}, base_url=here)
    assert response.status_code == 303
    remote = mollie.payments[db.session.scalar(select(Payment.provider_id))]
    assert remote["redirectUrl"].startswith(f"{here}/paiements/")
    assert remote["webhookUrl"] == app.config["PUBLIC_URL"] + WEBHOOK  # never the browser's


def test_a_paid_webhook_runs_nine_statements(app, logged_in, mollie, org, count_queries):
    """What ``bench.webhook_cost`` measures, held: the payment looked up and locked, the
    wallet credited (2), the receipt's number from its sequence, the receipt (2), who
    hears the events, the payment's changes. A replay is the look-up and the lock."""
    ledger.post(org.id, "topup", 100, "first")  # the wallet exists, as after a first top-up
    db.session.commit()
    payment = top_up(logged_in, preset="2000")
    mollie.end(payment.provider_id, "paid")
    with count_queries() as first:
        assert webhook(app.test_client(), payment.provider_id).status_code == 200
    with count_queries() as replay:
        assert webhook(app.test_client(), payment.provider_id).status_code == 200
    assert len(first) == 9, first.statements
    assert len(replay) == 2, replay.statements
    assert ledger.balance(org.id) == 2100


def test_the_return_page_applies_the_payment_when_it_comes_before_the_webhook(
    logged_in, mollie, org
):
    payment = top_up(logged_in, preset="2000")
    page = logged_in.get(f"/paiements/{payment.id}").get_data(as_text=True)
    assert "En attente de paiement" in page and 'hx-trigger="every 3s"' in page
    mollie.end(payment.provider_id, "paid")  # the customer paid; no webhook yet
    page = logged_in.get(f"/paiements/{payment.id}").get_data(as_text=True)
    assert "Payé" in page and "every 3s" not in page
    assert ledger.balance(org.id) == 2000
    assert webhook(logged_in, payment.provider_id).status_code == 200  # late webhook
    assert ledger.balance(org.id) == 2000 and entries() == 1


@pytest.mark.parametrize(
    "ending, message",
    [
        ("failed", "Le paiement a échoué"),
        ("canceled", "Vous avez annulé le paiement"),
        ("expired", "pas été terminé à temps"),
        ("pending", "en cours de traitement"),
    ],
)
def test_each_ending_has_its_message_and_credits_nothing(logged_in, mollie, org, ending, message):
    payment = top_up(logged_in, preset="2000")
    mollie.end(payment.provider_id, ending)
    assert webhook(logged_in, payment.provider_id).status_code == 200
    page = logged_in.get(f"/paiements/{payment.id}").get_data(as_text=True)
    assert message in page.replace("’", "'")
    assert ledger.balance(org.id) == 0 and entries() == 0


@pytest.mark.parametrize("count", [5, 20])
def test_concurrent_webhooks_credit_once(app, logged_in, mollie, org, count):
    payment = top_up(logged_in, preset="10000")
    mollie.end(payment.provider_id, "paid")
    provider_id = payment.provider_id
    answers = run_together(app, count, lambda n: webhook(app.test_client(), provider_id))
    assert [a.status_code for a in answers] == [200] * count
    db.session.expire_all()
    assert ledger.balance(org.id) == 10000 and entries() == 1
    assert ledger.check(org.id) == (10000, 10000)
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == 1


def test_the_return_page_and_the_webhook_racing_credit_once(app, logged_in, mollie, org):
    payment = top_up(logged_in, preset="5000")
    mollie.end(payment.provider_id, "paid")
    provider_id, payment_id = payment.provider_id, payment.id

    def either(n):
        if n % 2:
            return webhook(app.test_client(), provider_id).status_code
        return logged_in.get(f"/paiements/{payment_id}").status_code

    assert run_together(app, 6, either) == [200] * 6
    db.session.expire_all()
    assert ledger.balance(org.id) == 5000 and entries() == 1


def test_custom_amounts_stay_within_the_limits(logged_in, mollie, org):
    for other, message in (
        ("2", "doit être compris entre 10,00"),
        ("100000", "5 000,00"),
        ("douze", "Saisissez un montant"),
        ("12,345", "Saisissez"),
    ):
        response = logged_in.post("/porte-monnaie/recharger", data={"preset": "", "other": other})
        assert response.status_code == 422, other
        assert message in response.get_data(as_text=True).replace("\u202f", " "), other
    refused = logged_in.post("/porte-monnaie/recharger", data={"preset": "99", "other": ""})
    assert refused.status_code == 422  # not one of the presets
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0
    payment = top_up(logged_in, preset="", other="75,50")
    assert payment.amount == 7550
    assert mollie.payments[payment.provider_id]["amount"]["value"] == "75.50"


def test_a_refused_payment_is_recorded_and_explained(logged_in, mollie, app, monkeypatch):
    monkeypatch.setitem(app.config, "MOLLIE_API_KEY", "live_x")  # the server takes test_ keys
    response = logged_in.post("/porte-monnaie/recharger", data={"preset": "2000"})
    assert response.status_code == 422
    assert "Le service de paiement a refusé le paiement" in response.get_data(as_text=True)
    payment = db.session.scalar(select(Payment))
    assert payment.status == "failed" and "authenticate" in payment.problem


def test_without_the_payments_app_there_is_no_top_up(logged_in, org, mollie):
    from core.activation import set_app_enabled

    set_app_enabled(org, "payments", False)
    db.session.commit()
    assert logged_in.get("/porte-monnaie/recharger").status_code == 404
    assert "/porte-monnaie/recharger" not in logged_in.get("/porte-monnaie/").get_data(as_text=True)


def test_the_locale_follows_the_user(client, org, mollie):
    make_user("en@client1.example.com", org, locale="en")
    client.login("en@client1.example.com")
    payment = top_up(client, preset="2000")
    assert mollie.payments[payment.provider_id]["locale"] == "en_US"


# --- the webhook's refusals ----------------------------------------------------------


def test_the_webhook_answers_unknown_and_malformed_ids(client, mollie):
    assert webhook(client, "tr_unknown123").status_code == 200
    missing = client.post(WEBHOOK, data={}, csrf=False)
    assert missing.status_code == 400 and "id" in missing.get_data(as_text=True)
    assert webhook(client, "tr_<script>").status_code == 400
    assert client.get(WEBHOOK).status_code == 405


def test_a_payment_that_does_not_match_ours_is_not_applied(logged_in, mollie, org):
    payment = top_up(logged_in, preset="2000")
    mollie.payments[payment.provider_id]["amount"]["value"] = "2000.00"  # tampered
    mollie.end(payment.provider_id, "paid")
    assert webhook(logged_in, payment.provider_id).status_code == 200
    db.session.expire_all()
    assert payment.status == "open" and "amount 200000 EUR is not ours" in payment.problem
    assert ledger.balance(org.id) == 0


def test_metadata_naming_another_payment_is_not_applied(logged_in, mollie, org):
    payment = top_up(logged_in, preset="2000")
    mollie.payments[payment.provider_id]["metadata"]["payment_id"] = payment.id + 1
    mollie.end(payment.provider_id, "paid")
    assert webhook(logged_in, payment.provider_id).status_code == 200
    db.session.expire_all()
    assert payment.status == "open" and "does not name payment" in payment.problem


def test_a_state_never_goes_back(logged_in, mollie, org):
    payment = top_up(logged_in, preset="2000")
    mollie.end(payment.provider_id, "paid")
    webhook(logged_in, payment.provider_id)
    ours = {"payment_id": payment.id, "organisation_id": org.id}
    late = RemotePayment(payment.provider_id, "open", 2000, "EUR", ours)
    flow.apply(payment.id, late)
    db.session.expire_all()
    assert payment.status == "paid" and ledger.balance(org.id) == 2000


def test_the_webhook_answers_503_when_the_provider_is_unreachable(
    logged_in, mollie, app, monkeypatch
):
    payment = top_up(logged_in, preset="2000")
    mollie.end(payment.provider_id, "paid")
    monkeypatch.setitem(app.config, "MOLLIE_API_ENDPOINT", "http://127.0.0.1:9")
    assert webhook(logged_in, payment.provider_id).status_code == 503
    page = logged_in.get(f"/paiements/{payment.id}").get_data(as_text=True)
    assert "injoignable" in page and "every 3s" in page  # the return page tries again
    monkeypatch.setitem(app.config, "MOLLIE_API_ENDPOINT", mollie.url)
    assert webhook(logged_in, payment.provider_id).status_code == 200


def test_every_connection_waits_five_seconds_at_most_for_a_lock(app):
    """The webhook's lock needs no statement of its own at the usual patience: the
    connection has it (SQLite's busy_timeout, PostgreSQL's lock_timeout)."""
    if db.engine.dialect.name == "sqlite":
        assert db.session.execute(text("PRAGMA busy_timeout")).scalar() == 5000
    else:
        assert db.session.execute(text("SHOW lock_timeout")).scalar() == "5s"
    assert app.config["PAYMENTS_LOCK_TIMEOUT"] == 5


def test_the_webhook_answers_503_when_the_payment_stays_locked(
    app, logged_in, mollie, org, monkeypatch
):
    payment = top_up(logged_in, preset="2000")
    mollie.end(payment.provider_id, "paid")
    monkeypatch.setitem(app.config, "PAYMENTS_LOCK_TIMEOUT", 0.3)
    locked, release = threading.Event(), threading.Event()

    def hold_the_row():
        with app.app_context():
            db.session.execute(
                text("UPDATE payments SET problem = 'held' WHERE id = :id"), {"id": payment.id}
            )
            locked.set()
            release.wait(30)
            db.session.rollback()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert locked.wait(10)
        busy = webhook(app.test_client(), payment.provider_id)
        assert busy.status_code == 503 and "call again" in busy.get_data(as_text=True)
    finally:
        release.set()
        holder.join(30)
    assert ledger.balance(org.id) == 0
    assert webhook(logged_in, payment.provider_id).status_code == 200
    assert ledger.balance(org.id) == 2000


# --- paying invoices -----------------------------------------------------------------


def test_invoices_are_paid_together_in_one_payment(logged_in, mollie, org):
    import_invoices(
        [
            invoice_item("A-1", total_ht="100.00", total_ttc="120.00"),
            invoice_item("A-2", total_ht="50.00", total_ttc="60.50"),
            invoice_item("A-3", total_ht="10.00", total_ttc="12.00", status="paid"),
            invoice_item("C-1", type="credit_note", total_ht="-10.00", total_ttc="-12.00"),
        ]
    )
    ids = {i.number: i.id for i in db.session.scalars(select(Invoice))}
    detail = logged_in.get(f"/factures/{ids['A-1']}").get_data(as_text=True)
    assert f"/paiements/factures?id={ids['A-1']}" in detail  # the "Payer" action
    listing = logged_in.get("/factures/").get_data(as_text=True)
    assert "Payer la sélection" in listing
    query = "&".join(f"id={ids[n]}" for n in ("A-1", "A-2", "A-3", "C-1"))
    page = logged_in.get(f"/paiements/factures?{query}").get_data(as_text=True)
    assert "180,50" in page and "Payer 180,50" in page
    assert "A-3 — rien à payer en ligne" in page and "C-1 — un avoir ne se paie pas" in page
    response = logged_in.post("/paiements/factures", data={"id": [ids["A-1"], ids["A-2"]]})
    assert response.status_code == 303
    payment = db.session.scalar(select(Payment))
    assert payment.purpose == "invoices" and payment.amount == 18050
    assert sorted(link.invoice_id for link in payment.invoices) == [ids["A-1"], ids["A-2"]]
    # while it is open, the invoice offers no second payment
    detail = logged_in.get(f"/factures/{ids['A-1']}").get_data(as_text=True)
    assert "Paiement en ligne\xa0: En attente de paiement" in detail
    assert f"/paiements/factures?id={ids['A-1']}" not in detail
    again = logged_in.post("/paiements/factures", data={"id": [ids["A-1"]]})
    assert again.status_code == 422 and "déjà en cours" in again.get_data(as_text=True)

    mollie.end(payment.provider_id, "paid")
    assert webhook(logged_in, payment.provider_id).status_code == 200
    statuses = dict(db.session.execute(select(Invoice.number, Invoice.status)).all())
    assert statuses == {"A-1": "paid", "A-2": "paid", "A-3": "paid", "C-1": "to_pay"}
    assert ledger.balance(org.id) == 0  # paying invoices does not touch the wallet
    detail = logged_in.get(f"/factures/{ids['A-2']}").get_data(as_text=True)
    assert "Paiement en ligne\xa0: Payé" in detail

    result = run_cli(
        logged_in.application,
        "payments",
        "refund",
        str(payment.id),
        "20.50",
        "--reason",
        "Geste commercial",
    )
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert payment.refunded == 2050 and payment.refunds[0].status == "done"
    assert mollie.payments[payment.provider_id]["amountRefunded"]["value"] == "20.50"
    detail = logged_in.get(f"/factures/{ids['A-2']}").get_data(as_text=True)
    assert "Paiement en ligne\xa0: Payé, 20,50\xa0€ remboursé" in detail
    too_much = run_cli(
        logged_in.application, "payments", "refund", str(payment.id), "200", "--reason", "x"
    )
    assert too_much.exit_code != 0 and "between 0.01 and 160.00" in too_much.output


def test_another_organisations_invoice_cannot_be_paid(logged_in, mollie, org):
    other = make_org("Client 2", codes=("00009999",))
    import_invoices([invoice_item("Z-1", client_code="00009999")])
    foreign = db.session.scalar(select(Invoice.id).where(Invoice.organisation_id == other.id))
    assert logged_in.get(f"/paiements/factures?id={foreign}").status_code == 404
    assert logged_in.post("/paiements/factures", data={"id": foreign}).status_code == 404
    assert logged_in.get("/paiements/factures?id=abc").status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0


# --- refunds of top-ups, reconciliation ----------------------------------------------


def test_refunding_a_top_up_takes_it_back_from_the_wallet(logged_in, mollie, org, app):
    payment = top_up(logged_in, preset="5000")
    mollie.end(payment.provider_id, "paid")
    webhook(logged_in, payment.provider_id)
    ledger.post(org.id, "postage", -4000, "letters")
    db.session.commit()
    refused = run_cli(app, "payments", "refund", str(payment.id), "20", "--reason", "x")
    assert refused.exit_code != 0 and "does not cover" in refused.output
    assert mollie.refunds == {}  # nothing was asked of the provider
    done = run_cli(app, "payments", "refund", str(payment.id), "10", "--reason", "Trop versé")
    assert done.exit_code == 0, done.output
    db.session.expire_all()
    assert ledger.balance(org.id) == 0 and ledger.check(org.id) == (0, 0)
    assert payment.refunded == 1000


def test_reconciliation_ends_payments_whose_webhook_was_lost(app, logged_in, mollie, org):
    paid = top_up(logged_in, preset="2000")
    fresh = top_up(logged_in, preset="5000")
    mollie.end(paid.provider_id, "paid")
    mollie.end(fresh.provider_id, "paid")
    db.session.execute(
        Payment.__table__.update()
        .where(Payment.id == paid.id)
        .values(created_at=utcnow() - timedelta(minutes=20))
    )
    db.session.commit()
    assert run_cli(app, "payments", "reconcile").output.strip() == "1 payment(s) checked"
    db.session.expire_all()
    assert paid.status == "paid" and fresh.status == "open"  # too recent to ask
    assert ledger.balance(org.id) == 2000


def test_the_payments_page_lists_and_filters(logged_in, mollie, org):
    first = top_up(logged_in, preset="2000")
    top_up(logged_in, preset="5000")
    mollie.end(first.provider_id, "paid")
    webhook(logged_in, first.provider_id)
    page = logged_in.get("/paiements/").get_data(as_text=True)
    assert page.count("Rechargement du porte-monnaie de") == 2
    assert "20,00" in page and "50,00" in page
    paid_only = logged_in.get("/paiements/?status=paid").get_data(as_text=True)
    assert "20,00" in paid_only and "50,00" not in paid_only


def test_an_organisation_without_an_account_cannot_top_up(client, mollie):
    bare = make_org("Client 3", codes=())
    make_user("solo@client3.example.com", bare)
    client.login("solo@client3.example.com")
    response = client.post("/porte-monnaie/recharger", data={"preset": "2000"})
    assert response.status_code == 422
    assert "pas encore de compte client" in response.get_data(as_text=True).replace("&#39;", "'")
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0


def test_a_payment_naming_another_organisation_is_not_applied(logged_in, mollie, org):
    payment = top_up(logged_in, preset="2000")
    mollie.payments[payment.provider_id]["metadata"]["organisation_id"] = org.id + 1
    mollie.end(payment.provider_id, "paid")
    assert webhook(logged_in, payment.provider_id).status_code == 200
    db.session.expire_all()
    assert payment.status == "open" and ledger.balance(org.id) == 0


def test_chargebacks_show_and_undo_what_the_payment_did(logged_in, mollie, org):
    import_invoices([invoice_item("A-1", total_ht="100.00", total_ttc="120.00")])
    invoice_id = db.session.scalar(select(Invoice.id))
    logged_in.post("/paiements/factures", data={"id": invoice_id})
    paid_invoice = db.session.scalar(select(Payment))
    mollie.end(paid_invoice.provider_id, "paid")
    webhook(logged_in, paid_invoice.provider_id)
    mollie.charge_back(paid_invoice.provider_id, "120.00")
    assert webhook(logged_in, paid_invoice.provider_id).status_code == 200
    db.session.expire_all()
    assert paid_invoice.charged_back == 12000
    assert db.session.get(Invoice, invoice_id).status == "to_pay"  # to pay again
    detail = logged_in.get(f"/factures/{invoice_id}").get_data(as_text=True)
    assert "120,00\xa0€ rétrofacturé par la banque" in detail
    assert f"/paiements/factures?id={invoice_id}" in detail  # it can be paid again

    topup = top_up(logged_in, preset="5000")
    mollie.end(topup.provider_id, "paid")
    webhook(logged_in, topup.provider_id)
    ledger.post(org.id, "postage", -4000, "letters")
    db.session.commit()
    mollie.charge_back(topup.provider_id, "50.00")
    webhook(logged_in, topup.provider_id)
    webhook(logged_in, topup.provider_id)  # replayed: taken once
    db.session.expire_all()
    assert ledger.balance(org.id) == 0 and ledger.check(org.id) == (0, 0)
    assert "4000 not in the wallet" in topup.problem


def test_receipts_are_numbered_in_one_unbroken_sequence(app, logged_in, mollie, org):
    other = make_org("Client 2", codes=("00009999",))
    make_user("them@client2.example.com", other, role="admin")
    stranger = app.test_client()
    stranger.login("them@client2.example.com")
    paid = []
    for client, ending in (
        (logged_in, "paid"),
        (stranger, "paid"),
        (logged_in, "failed"),
        (logged_in, "paid"),
    ):
        payment = top_up(client, preset="2000")
        mollie.end(payment.provider_id, ending)
        assert webhook(client, payment.provider_id).status_code == 200
        paid += [payment.id] if ending == "paid" else []
    numbers = db.session.scalars(
        select(Invoice.number).join(Payment, Payment.receipt_id == Invoice.id).order_by(Payment.id)
    ).all()
    assert numbers == ["RC-00000001", "RC-00000002", "RC-00000003"]  # no gap, whoever paid


def test_a_receipt_says_it_is_paid_and_outside_vat(app, logged_in, mollie, org):
    from io import BytesIO

    from pypdf import PdfReader

    payment = top_up(logged_in, preset="5000")
    mollie.end(payment.provider_id, "paid")
    assert webhook(logged_in, payment.provider_id).status_code == 200
    db.session.expire_all()
    response = logged_in.get(f"/factures/{payment.receipt_id}/pdf")
    text = " ".join(
        " ".join(p.extract_text() for p in PdfReader(BytesIO(response.data)).pages)
        .replace("\xa0", " ")
        .replace("\u202f", " ")
        .split()
    )
    assert "50,00 €" in text and " 50,00 " in text  # the unit price with its cents
    assert "article 256 ter du CGI" in text and "Acquittée le" in text
    assert "pénalités" not in text and "Bon de commande" not in text
    assert f"paiement {payment.provider_id}" in text


# --- what a payment is for (guichet_payment_purposes) ------------------------------


class Donations:
    """A third party's app serving the purpose ``donation``: its handlers note each
    change; ``fail`` makes the paid handler raise."""

    __name__ = "donations"

    def __init__(self):
        self.changes, self.fail = [], False

    def paid(self, change):
        if self.fail:
            raise RuntimeError("the donations table is locked")
        self.changes.append(("paid", change.amount, change.key, change.payment.targets))
        return PurposeOutcome(events=[("donation.received", {"amount": change.amount})])

    def failed(self, change):
        self.changes.append(("failed", change.amount, change.key, change.payment.purpose))

    @hookimpl
    def guichet_apps(self):
        return [App(key="donations", name="Dons", endpoint="portal.home")]

    @hookimpl
    def guichet_payment_purposes(self):
        return [PaymentPurpose("donation", "donations", on_paid=self.paid, on_failed=self.failed)]


def test_hook_guichet_payment_purposes_run_inside_the_payments_transaction_once(
    register_plugin, mollie
):
    donations = Donations()
    portal = register_plugin(donations, MOLLIE_API_KEY=MOLLIE_KEY, MOLLIE_API_ENDPOINT=mollie.url)
    with portal.test_request_context():
        org = make_org("Client 9", codes=["00009999"])
        start = functools.partial(flow.start, "donation", org.id, org.accounts[0].id)
        payment = start(700, "Don", None)
        mollie.end(payment.provider_id, "paid")
        donations.fail = True  # the first delivery fails in the app: nothing is applied
        with pytest.raises(RuntimeError):
            flow.sync(payment)
        db.session.rollback()
        assert db.session.get(Payment, payment.id).status == "open" and not donations.changes
        donations.fail = False
        for _delivery in range(3):  # then once, however often it comes
            flow.sync(db.session.get(Payment, payment.id))
        assert donations.changes == [("paid", 700, f"payment:{payment.id}", ())]
        assert db.session.get(Payment, payment.id).status == "paid"

        expired = start(300, "Don", None)
        mollie.end(expired.provider_id, "expired")
        flow.sync(expired)
        assert donations.changes[1] == ("failed", 0, f"payment-expired:{expired.id}", "donation")
        with pytest.raises(ValueError, match="no installed app serves .*'gift'"):
            flow.start("gift", org.id, org.accounts[0].id, 100, "Cadeau", None)
