"""Automatic payment by SEPA Direct Debit: an admin signs a mandate (a bad IBAN
refused, nothing recorded), chooses the accounts paid automatically; the daily run
announces each debit ahead and takes it on its day, once, even run twice at once or
with a worker stopped after the provider answered; failures, revoked mandates and
chargebacks put the invoice back to pay and tell the admins; a paid, credited or
disputed invoice is not debited. All through the local Mollie server's customers,
mandates and recurring payments."""

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from core.extensions import db
from core.plugin_api import (
    collection_holds,
    enabled_app_keys,
    ledger,
    update_app_settings,
    utcnow,
)
from plugins.autopay import collecting, mandates, topups
from plugins.autopay.models import AutopayAccount, Charge, Mandate, Topup
from plugins.einvoicing.models import LifecycleStatus
from plugins.invoices.importing import import_invoices
from plugins.invoices.models import Invoice
from plugins.payments.models import Payment
from plugins.payments.public import start
from tests.conftest import invoice_item as invoice
from tests.conftest import make_org, run_cli, run_together
from tests.test_wallet import post_in_its_own_context

TODAY = date.today()
IBAN = "FR76 3000 6000 0112 3456 7890 189"
WEBHOOK = "/paiements/webhook"


def day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


def charges() -> dict[str, tuple[str, date]]:
    """Each invoice's charge (its latest attempt): state and day."""
    db.session.expire_all()
    rows = db.session.scalars(select(Charge).order_by(Charge.attempt))
    return {c.number: (c.state, c.charge_on) for c in rows}


def attempts(number: str) -> list[tuple[int, str, date]]:
    db.session.expire_all()
    rows = db.session.scalars(
        select(Charge).where(Charge.number == number).order_by(Charge.attempt)
    )
    return [(c.attempt, c.state, c.charge_on) for c in rows]


def bill(number: str) -> Invoice:
    db.session.expire_all()
    return db.session.scalar(select(Invoice).where(Invoice.number == number))


def webhook(client, provider_id: str):
    return client.post(WEBHOOK, data={"id": provider_id}, csrf=False)


def body(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\u202f", " ").replace("\xa0", " ")


@pytest.fixture(autouse=True)
def switched_on(app, org, enable_app):
    """Off by default: the operators switch automatic payment on for "Client 1"."""
    assert "autopay" not in enabled_app_keys(org.id)
    enable_app("autopay")


@pytest.fixture
def signed(org, user, mollie):
    """A valid mandate of "Client 1", its account 00002501 paid automatically on it."""
    mandate = mandates.sign(org.id, user.id, "Camille Martin", IBAN)
    account = next(a for a in org.accounts if a.client_code == "00002501")
    db.session.add(  # a month ago
        AutopayAccount(
            organisation_id=org.id, account_id=account.id, mandate_id=mandate.id, since=day(-30)
        )
    )
    db.session.commit()
    return mandate


@pytest.fixture
def due(signed, app):
    """Invoices: A due in 3 days, B in 10, C overdue since yesterday, D paid, E due in
    2 days on 04008041 (not paid automatically). Notice: 5 days."""
    app.config["AUTOPAY_NOTICE_DAYS"] = 5
    import_invoices(
        [
            invoice("A", due_date=day(3).isoformat(), total_ttc="120.00", total_ht="100.00"),
            invoice("B", due_date=day(10).isoformat()),
            invoice("C", date=day(-31).isoformat(), due_date=day(-1).isoformat()),
            invoice("D", due_date=day(2).isoformat(), status="paid"),
            invoice("E", due_date=day(2).isoformat(), client_code="04008041"),
        ]
    )
    yield
    app.config["AUTOPAY_NOTICE_DAYS"] = 5


# --- signing ---------------------------------------------------------------------


def test_an_admin_signs_a_mandate_and_a_bad_one_is_refused_whole(logged_in, org, mollie):
    page = logged_in.get("/prelevement/mandat")
    assert page.status_code == 200 and 'name="iban"' in page.get_data(as_text=True)
    form = {"signatory": "Camille Martin", "iban": IBAN, "bic": "", "consent": "y"}
    for wrong, field in (
        ({"iban": "FR76 3000 6000 0112 3456 7890 188"}, "iban"),  # checksum
        ({"iban": "BR18 0036 0305 0000 1000 9795 493C 1"}, "iban"),  # valid, not SEPA
        ({"bic": "BNPA"}, "bic"),
        ({"signatory": " "}, "signatory"),
        ({"consent": ""}, "consent"),
    ):
        answer = logged_in.post("/prelevement/mandat", data={**form, **wrong})
        assert answer.status_code == 422, wrong
        assert f'id="{field}-error"' in answer.get_data(as_text=True), wrong
    assert db.session.scalar(select(func.count()).select_from(Mandate)) == 0
    assert mollie.mandates == {}  # the provider was not asked
    answer = logged_in.post("/prelevement/mandat", data=form)
    assert answer.status_code == 303
    mandate = db.session.scalar(select(Mandate))
    assert (mandate.state, mandate.account, mandate.signatory) == (
        "valid",
        "FR76 •••• 0189",
        "Camille Martin",
    )
    (remote,) = mollie.mandates[mandate.customer_id].values()
    assert remote["details"]["consumerAccount"] == "FR7630006000011234567890189"
    assert remote["mandateReference"] == mandate.reference
    page = logged_in.get("/prelevement/").get_data(as_text=True)
    assert "FR76 •••• 0189" in page and mandate.reference in page
    # the same account signed again today: the provider keeps one mandate
    assert logged_in.post("/prelevement/mandat", data=form).status_code == 303
    assert len(mollie.mandates[mandate.customer_id]) == 1
    assert db.session.scalar(select(func.count()).select_from(Mandate)) == 1


def test_the_provider_refusing_the_account_records_nothing(logged_in, org, mollie, monkeypatch):
    monkeypatch.setattr(mandates, "clean_iban", lambda value: value)  # as if we had not checked
    answer = logged_in.post(
        "/prelevement/mandat",
        data={"signatory": "Camille", "iban": "FR7630006000011234567890188", "consent": "y"},
    )
    assert answer.status_code == 422 and 'id="iban-error"' in answer.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Mandate)) == 0


def test_members_see_the_debits_but_change_nothing(app, org, member, signed, mollie):
    client = app.test_client()
    assert client.login(member.email).status_code == 302
    page = client.get("/prelevement/").get_data(as_text=True)
    assert "FR76 •••• 0189" in page and "/prelevement/mandat" not in page
    assert client.get("/prelevement/mandat").status_code == 404
    assert client.post(f"/prelevement/mandats/{signed.id}/revoquer").status_code == 404
    account = org.accounts[0]
    assert (
        client.post(f"/prelevement/comptes/{account.id}", data={"mandate": ""}).status_code == 404
    )
    db.session.expire_all()
    assert db.session.get(Mandate, signed.id).state == "valid"


def test_an_account_is_put_on_another_organisations_mandate_never(logged_in, org, signed):
    other = make_org("Client 2", ["00009999"])
    theirs = mandates.Mandate(
        organisation_id=other.id,
        provider="mollie",
        customer_id="cst_x",
        provider_id="mdt_x",
        account="DE89 •••• 3000",
        signatory="Them",
        signed_on=TODAY,
        reference="G-THEM",
    )
    db.session.add(theirs)
    db.session.commit()
    account = next(a for a in org.accounts if a.client_code == "04008041")
    url = f"/prelevement/comptes/{account.id}"
    assert logged_in.post(url, data={"mandate": str(theirs.id)}).status_code == 422
    assert (
        logged_in.post(
            f"/prelevement/comptes/{other.accounts[0].id}", data={"mandate": str(signed.id)}
        ).status_code
        == 404
    )
    assert logged_in.post(f"/prelevement/mandats/{theirs.id}/revoquer").status_code == 404
    assert logged_in.post(url, data={"mandate": str(signed.id)}).status_code == 303
    assert db.session.scalar(select(func.count()).select_from(AutopayAccount)) == 2
    assert logged_in.post(url, data={"mandate": ""}).status_code == 303
    assert db.session.scalar(select(func.count()).select_from(AutopayAccount)) == 1


def save_card(client, mollie, status: str = "paid"):
    """An admin saves a card: the checkout at the provider, ended as ``status``."""
    answer = client.post("/prelevement/carte")
    assert answer.status_code == 303 and "/checkout/tr_" in answer.location
    provider_id = answer.location.rsplit("/", 1)[1]
    first = mollie.payments[provider_id]
    assert (first["sequenceType"], first["amount"]["value"]) == ("first", "0.00")
    mollie.end(provider_id, status)  # the customer back before the webhook
    payment = db.session.scalar(select(Payment).where(Payment.provider_id == provider_id))
    return client.get(f"/prelevement/carte/{payment.id}", follow_redirects=True)


def test_an_admin_saves_a_card_and_invoices_are_charged_on_it(
    logged_in, org, mollie, app, run_jobs
):
    page = save_card(logged_in, mollie).get_data(as_text=True)
    assert "Votre carte est enregistrée" in page and "Mastercard •••• 6787" in page
    (card,) = db.session.scalars(select(Mandate)).all()
    assert (card.method, card.state, card.signatory) == ("creditcard", "valid", "T. Tester")
    assert card.provider_id in mollie.mandates[card.customer_id]
    account = next(a for a in org.accounts if a.client_code == "00002501")
    url = f"/prelevement/comptes/{account.id}"
    assert logged_in.post(url, data={"mandate": str(card.id)}).status_code == 303
    import_invoices([invoice("K", due_date=day(5).isoformat(), total_ttc="30.00")])
    assert collecting.run(TODAY) == {"scheduled": 1, "charged": 0}
    run_jobs()
    assert collecting.run(day(5))["charged"] == 1
    run_jobs()
    (debit,) = mollie.recurring()
    assert (debit["mandateId"], debit["method"]) == (card.provider_id, "creditcard")
    # the webhook comes late, replayed: still one card
    payment = db.session.scalar(select(Payment).where(Payment.purpose == "card"))
    assert webhook(logged_in, payment.provider_id).status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Mandate)) == 1


def test_a_card_not_saved_records_nothing(logged_in, org, app, member, mollie):
    page = save_card(logged_in, mollie, "canceled").get_data(as_text=True)
    assert "La carte n’a pas été enregistrée" in page
    assert db.session.scalar(select(func.count()).select_from(Mandate)) == 0
    payment = db.session.scalar(select(Payment).where(Payment.purpose == "card"))
    other = app.test_client()  # a member saves no card, nor sees how it went
    assert other.login(member.email).status_code == 302
    assert other.post("/prelevement/carte").status_code == 404
    assert other.get(f"/prelevement/carte/{payment.id}").status_code == 404
    theirs = make_org("Client 2", ["00009999"])
    db.session.execute(update(Payment).values(organisation_id=theirs.id))
    db.session.commit()
    assert logged_in.get(f"/prelevement/carte/{payment.id}").status_code == 404


# --- the daily run ---------------------------------------------------------------


def test_each_debit_is_announced_then_taken_once(due, app, client, mollie, run_jobs, smtp_server):
    assert collecting.run(TODAY) == {"scheduled": 2, "charged": 0}
    # A due in 3 days and C overdue: debited once the 5 days' notice has passed
    assert charges() == {"A": ("scheduled", day(5)), "C": ("scheduled", day(5))}
    a, c = bill("A"), bill("C")
    assert set(collection_holds([a.id, c.id])) == {a.id, c.id}  # no reminder meanwhile
    run_jobs()
    (notice,) = smtp_server.messages
    assert notice["To"] == "camille@client1.example.com"
    text = body(notice)
    assert "120,00 €" in text and "FR76 •••• 0189" in text and "/prelevement/" in text
    assert collecting.run(TODAY) == {"scheduled": 0, "charged": 0}  # nothing twice
    assert collecting.run(day(4)) == {"scheduled": 0, "charged": 0}  # not before its day
    # B comes into the notice period; A and C, announced five days ago, are taken
    assert collecting.run(day(5)) == {"scheduled": 1, "charged": 2}
    run_jobs()
    debits = {p["description"]: p for p in mollie.recurring()}
    assert sorted(debits) == ["Facture A", "Facture C"]
    assert debits["Facture A"]["amount"] == {"currency": "EUR", "value": "120.00"}
    assert debits["Facture A"]["mandateId"] == due_mandate().provider_id
    assert charges()["A"][0] == "pending"
    assert (
        db.session.scalar(
            select(Payment.status).where(Payment.provider_id == debits["Facture A"]["id"])
        )
        == "pending"
    )
    mollie.end(debits["Facture A"]["id"], "paid")
    assert webhook(client, debits["Facture A"]["id"]).status_code == 200
    assert charges()["A"][0] == "paid" and bill("A").status == "paid"
    assert collecting.run(day(5))["charged"] == 0 and len(mollie.recurring()) == 2


def take_debits(run_jobs) -> None:
    """Today's run announces A and C; five days on, they are asked of the bank."""
    collecting.run(TODAY)
    run_jobs()
    collecting.run(day(5))
    run_jobs()


def end_debit(client, mollie, letter: str, status: str, reason=None) -> dict:
    """The bank ends the debit of invoice ``letter`` (``reason``: its code and words),
    and the webhook tells the portal; returns the debit."""
    debit = next(p for p in mollie.recurring() if p["description"] == f"Facture {letter}")
    mollie.end(debit["id"], status, reason=reason)
    assert webhook(client, debit["id"]).status_code == 200
    return debit


def due_mandate() -> Mandate:
    return db.session.scalar(select(Mandate))


def test_a_failed_debit_tells_the_admins_and_the_reminders_resume(
    due, client, mollie, run_jobs, smtp_server
):
    take_debits(run_jobs)
    smtp_server.reset()
    debit = end_debit(client, mollie, "C", "failed", ("AM04", "Insufficient funds"))
    # tried once more a week on, announced by the failure's e-mail
    assert attempts("C") == [(1, "failed", day(5)), (2, "scheduled", day(7))]
    c = bill("C")
    assert c.status == "to_pay" and c.amount_due > 0
    assert collection_holds([c.id]) == {}  # the next reminder applies meanwhile
    run_jobs()
    (told,) = smtp_server.messages
    text = body(told)
    assert "Insufficient funds" in text and "/paiements/lien/" in text
    assert "une seconde fois le" in text
    assert webhook(client, debit["id"]).status_code == 200  # replayed: nobody told twice
    assert run_jobs() == 0 and len(attempts("C")) == 2
    assert collecting.run(day(6))["charged"] == 0
    assert collecting.run(day(7))["charged"] == 1
    run_jobs()
    first, second = [p for p in mollie.recurring() if p["description"] == "Facture C"]
    assert second["id"] != first["id"]
    mollie.end(second["id"], "failed", reason=("AM04", "Insufficient funds"))
    assert webhook(client, second["id"]).status_code == 200
    run_jobs()
    assert attempts("C") == [(1, "failed", day(5)), (2, "failed", day(7))]  # no third
    assert "seconde fois" not in body(smtp_server.messages[-1])
    collecting.run(day(30))
    assert len(attempts("C")) == 2


def test_a_retry_is_not_taken_once_the_invoice_is_paid(due, client, mollie, run_jobs):
    take_debits(run_jobs)
    end_debit(client, mollie, "C", "failed", ("AM04", "Insufficient funds"))
    run_jobs()
    db.session.execute(update(Invoice).where(Invoice.number == "C").values(status="paid"))
    db.session.commit()
    assert collecting.run(day(7))["charged"] == 1
    run_jobs()
    assert attempts("C")[1][1] == "skipped"
    assert len([p for p in mollie.recurring() if p["description"] == "Facture C"]) == 1


def test_a_chargeback_puts_the_invoice_back_to_pay(due, client, mollie, run_jobs, smtp_server):
    take_debits(run_jobs)
    debit = end_debit(client, mollie, "A", "paid")
    assert bill("A").status == "paid"
    smtp_server.reset()
    mollie.charge_back(debit["id"], "120.00")
    webhook(client, debit["id"])
    assert charges()["A"][0] == "charged_back" and bill("A").status == "to_pay"
    run_jobs()
    assert len(smtp_server.messages) == 1 and "120,00 €" in body(smtp_server.messages[0])


def test_a_paid_credited_or_disputed_invoice_is_not_debited(due, mollie, run_jobs):
    collecting.run(TODAY)
    run_jobs()
    c = bill("C")
    db.session.add(
        LifecycleStatus(
            organisation_id=c.organisation_id,
            invoice_id=c.id,
            code="207",
            on_date=TODAY,
            reason="quantités",
            source="customer",
        )
    )
    db.session.commit()
    import_invoices(
        [
            invoice(
                "A",
                due_date=day(3).isoformat(),
                total_ttc="120.00",
                total_ht="100.00",
                status="paid",
            )
        ]
    )
    collecting.run(day(5))
    run_jobs()
    states = {n: c.reason for n, c in ((c.number, c) for c in db.session.scalars(select(Charge)))}
    assert charges()["A"][0] == "skipped" and "paid or credited" in states["A"]
    assert charges()["C"][0] == "skipped" and states["C"] == "disputed by the buyer"
    assert mollie.recurring() == []


def test_a_revoked_mandate_debits_nothing_more(due, logged_in, mollie, run_jobs, signed):
    collecting.run(TODAY)
    run_jobs()
    assert logged_in.post(f"/prelevement/mandats/{signed.id}/revoquer").status_code == 303
    assert mollie.mandates[signed.customer_id][signed.provider_id]["status"] == "invalid"
    db.session.expire_all()
    assert db.session.get(Mandate, signed.id).state == "revoked"
    assert {s for s, _ in charges().values()} == {"skipped"}
    assert db.session.scalar(select(func.count()).select_from(AutopayAccount)) == 0
    assert collecting.run(day(5)) == {"scheduled": 0, "charged": 0}
    assert mollie.recurring() == []


def test_a_mandate_the_bank_revoked_fails_the_debit_and_ends(
    due, mollie, run_jobs, signed, smtp_server
):
    collecting.run(TODAY)
    run_jobs()
    mollie.revoke(signed.customer_id, signed.provider_id)
    smtp_server.reset()
    collecting.run(day(5))
    run_jobs()
    # the first debit the provider refuses ends the mandate; the other is not tried
    assert charges()["B"][0] == "skipped"  # scheduled after the last run: never taken
    assert sorted(charges()[n][0] for n in "AC") == ["failed", "skipped"]
    assert mollie.recurring() == []
    db.session.expire_all()
    assert db.session.get(Mandate, signed.id).state == "invalid"
    assert db.session.scalar(select(func.count()).select_from(AutopayAccount)) == 0
    # B announced, then the admins hear of each invoice announced and not debited
    notice, *told = smtp_server.messages
    assert "B" in body(notice)
    assert sorted(re.search(r"\b([ABC])\b", m["Subject"]).group(1) for m in told) == list("ABC")


def test_a_debit_failed_on_a_mandate_revoked_since_is_not_tried_again(
    due, client, mollie, run_jobs, signed, smtp_server
):
    take_debits(run_jobs)
    smtp_server.reset()
    mollie.revoke(signed.customer_id, signed.provider_id)
    end_debit(client, mollie, "C", "failed", ("MD01", "No mandate"))
    run_jobs()
    assert [state for _, state, _ in attempts("C")] == ["failed", "skipped"]
    told = next(m for m in smtp_server.messages if "C" in m["Subject"])
    assert "seconde fois" not in body(told) and "FR76 •••• 0189" in body(told)
    assert collecting.run(day(7))["charged"] == 0


def test_two_workers_at_once_debit_each_invoice_once(app, due, mollie, run_jobs):
    collecting.run(TODAY)
    run_jobs()
    taken = run_together(app, 2, lambda n: collecting.take_due(day(5)))
    assert sorted(sum(taken, [])) == sorted(c.id for c in db.session.scalars(select(Charge)))
    ids = sum(taken, [])
    # each charge task run twice at once (a retry racing the sweep)
    run_together(app, 4, lambda n: collecting.charge.function(ids[n % 2]))
    assert len(mollie.recurring()) == 2
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 2


def test_a_worker_stopped_after_the_provider_answered_charges_once(app, due, mollie, run_jobs):
    collecting.run(TODAY)
    run_jobs()
    (charge_id,) = [c.id for c in db.session.scalars(select(Charge).where(Charge.number == "A"))]
    collecting.run(day(5))
    # the worker asked the provider, then stopped before it wrote the answer down
    row = db.session.get(Charge, charge_id)
    start(
        "invoices",
        row.organisation_id,
        row.account_id,
        row.amount,
        "Facture A",
        None,
        invoices=[(row.invoice_id, row.amount)],
        mandate=(row.mandate.customer_id, row.mandate.provider_id),
        key=row.key,
    )
    db.session.execute(update(Payment).values(provider_id=None))  # the answer lost
    db.session.execute(update(Charge).values(updated_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    collecting.sweep()
    run_jobs()
    assert charges()["A"][0] == "pending" and charges()["C"][0] == "pending"
    assert len(mollie.recurring()) == 2  # A asked twice, under one key
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 2


def test_nothing_is_debited_where_the_app_is_switched_off(due, enable_app, logged_in):
    enable_app("autopay", False)
    assert collecting.run(TODAY) == {"scheduled": 0, "charged": 0}
    assert logged_in.get("/prelevement/").status_code == 404


def test_invoices_overdue_before_the_account_was_put_on_it_are_left_alone(due, signed):
    db.session.execute(update(AutopayAccount).values(since=TODAY))
    db.session.commit()
    assert collecting.run(TODAY) == {"scheduled": 1, "charged": 0}
    assert set(charges()) == {"A"}  # C was overdue since yesterday


def test_the_cli_says_what_it_would_do(due, app):
    result = run_cli(app, "autopay", "run", "--dry-run")
    assert result.exit_code == 0 and "would schedule 2: A C" in result.output
    assert db.session.scalar(select(func.count()).select_from(Charge)) == 0


def test_an_invoice_shows_its_automatic_payment(due, logged_in, run_jobs):
    collecting.run(TODAY)
    page = logged_in.get(f"/factures/{bill('A').id}").get_data(as_text=True)
    assert "/prelevement/" in page


def test_the_page_lists_mandates_accounts_and_debits(due, logged_in, run_jobs):
    collecting.run(TODAY)
    page = logged_in.get("/prelevement/").get_data(as_text=True)
    assert "FR76 •••• 0189" in page and ">A</a>" in page and ">C</a>" in page
    assert "00002501" in page and "04008041" in page


def test_the_page_costs_the_same_queries_however_many_debits(
    due, logged_in, count_queries, org, user
):
    collecting.run(TODAY)
    logged_in.get("/prelevement/")  # what the portal reads once a process
    with count_queries() as few:
        assert logged_in.get("/prelevement/").status_code == 200
    import_invoices([invoice(f"N{n}", due_date=day(1).isoformat()) for n in range(40)])
    mandates.sign(org.id, user.id, "Camille Martin", "DE89 3704 0044 0532 0130 00")
    collecting.run(TODAY)
    with count_queries() as many:
        assert logged_in.get("/prelevement/").status_code == 200
    assert len(many) == len(few) <= 16


def test_operators_see_every_organisations_debits(
    app, due, operator, logged_in, client, mollie, run_jobs, count_queries, org, user
):
    take_debits(run_jobs)
    end_debit(client, mollie, "C", "failed", ("AM04", "Insufficient funds"))
    assert logged_in.get("/operator/prelevements/").status_code == 404  # a customer
    desk = app.test_client()
    assert desk.login(operator.email).status_code == 302
    menu = desk.get("/operator/organisations").get_data(as_text=True)
    assert 'href="/operator/prelevements/"' in menu
    page = desk.get("/operator/prelevements/?status=failed").get_data(as_text=True)
    assert "Client 1" in page and "Insufficient funds" in page and ">A<" not in page
    assert "FR76 •••• 0189" in page
    with count_queries() as few:
        assert desk.get("/operator/prelevements/").status_code == 200
    import_invoices([invoice(f"N{n}", due_date=day(1).isoformat()) for n in range(30)])
    mandates.sign(org.id, user.id, "Camille Martin", "DE89 3704 0044 0532 0130 00")
    collecting.run(TODAY)
    with count_queries() as many:
        page = desk.get("/operator/prelevements/").get_data(as_text=True)
    assert "N29" in page and len(many) == len(few)


def test_a_notice_a_stopped_worker_left_is_sent_by_the_sweep(due, run_jobs, smtp_server):
    collecting.run(TODAY)
    # the worker took the notice and stopped before the mail server had it
    db.session.execute(
        update(Charge).values(notice="sending", updated_at=utcnow() - timedelta(hours=1))
    )
    db.session.commit()
    assert collecting.sweep() == 0  # no charge to ask again; the notice queued again
    run_jobs()
    assert {c.notice for c in db.session.scalars(select(Charge))} == {"sent"}
    assert len(smtp_server.messages) == 1


# --- the wallet's automatic top-up -----------------------------------------------


@pytest.fixture
def runs_low(app, org, signed, logged_in):
    """The wallet's admins are told below 10 €; the organisation tops up by 100 €
    (set through the app's settings page, as an admin does)."""
    update_app_settings(org, "wallet", {"low_balance": 10})
    db.session.commit()
    page = logged_in.get("/prelevement/").get_data(as_text=True)
    assert "/applications/autopay/reglages" in page
    assert logged_in.post("/applications/autopay/reglages", data={"topup": "-1"}).status_code == 422
    assert (
        logged_in.post("/applications/autopay/reglages", data={"topup": "100"}).status_code == 303
    )


def test_a_wallet_running_low_is_topped_up_from_the_mandate_once(
    app, org, runs_low, client, mollie, run_jobs
):
    for n, amount in enumerate((5000, -4500, -100)):  # 50 → 5 (below 10) → 4
        post_in_its_own_context(app, org.id, "topup" if amount > 0 else "postage", amount, f"w{n}")
    run_jobs()
    (debit,) = mollie.recurring()
    assert debit["amount"] == {"currency": "EUR", "value": "100.00"}
    assert debit["mandateId"] == due_mandate().provider_id
    # above the threshold and below again while the top-up is at the bank: no second one
    post_in_its_own_context(app, org.id, "topup", 2000, "w3")
    post_in_its_own_context(app, org.id, "postage", -2000, "w4")
    run_jobs()
    assert len(mollie.recurring()) == 1
    mollie.end(debit["id"], "paid")
    assert webhook(client, debit["id"]).status_code == 200
    db.session.expire_all()
    assert ledger.balance(org.id) == 400 + 10000
    assert db.session.scalar(select(Topup.state)) == "paid"
    assert topups.charge.function(db.session.scalar(select(Topup.id))) == "paid"  # again: nothing


def test_a_failed_top_up_tells_the_admins(
    app, org, runs_low, client, mollie, run_jobs, smtp_server
):
    post_in_its_own_context(app, org.id, "topup", 5000, "w0")
    post_in_its_own_context(app, org.id, "postage", -4500, "w1")
    run_jobs()
    (debit,) = mollie.recurring()
    smtp_server.reset()
    mollie.end(debit["id"], "failed", reason=("MS02", "Refused by the debtor"))
    webhook(client, debit["id"])
    run_jobs()
    (told,) = smtp_server.messages
    assert "Refused by the debtor" in body(told) and "/porte-monnaie/recharger" in body(told)
    db.session.expire_all()
    assert ledger.balance(org.id) == 500


def test_no_top_up_unless_asked(app, org, signed, mollie, run_jobs):
    update_app_settings(org, "wallet", {"low_balance": 10})
    db.session.commit()
    post_in_its_own_context(app, org.id, "topup", 5000, "w0")
    post_in_its_own_context(app, org.id, "postage", -4500, "w1")
    run_jobs()
    assert mollie.recurring() == []
