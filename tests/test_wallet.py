"""The prepaid wallet: an append-only ledger whose balance never goes negative, each
entry posted once per key, also under concurrent requests (SQLite and PostgreSQL)."""

import pytest
from sqlalchemy import func, select

from core import ledger
from core.extensions import db
from core.ledger import WalletEntry
from core.models import AuditEvent
from tests.conftest import run_cli, run_together


def entries() -> int:
    return db.session.scalar(select(func.count()).select_from(WalletEntry))


def test_credits_and_debits_keep_the_balance_and_the_ledger_equal(org):
    assert ledger.balance(org.id) == 0
    ledger.post(org.id, "topup", 5000, "t1", reason="Recharge")
    entry = ledger.post(org.id, "postage", -145, "p1", reason="Lettre 1")
    db.session.commit()
    assert (entry.amount, entry.balance_after) == (-145, 4855)
    assert ledger.balance(org.id) == 4855
    assert ledger.check(org.id) == (4855, 4855)


def test_the_same_key_posted_again_changes_nothing(org):
    first = ledger.post(org.id, "topup", 5000, "tr_1")
    db.session.commit()
    again = ledger.post(org.id, "topup", 5000, "tr_1")
    db.session.commit()
    assert again.id == first.id and ledger.balance(org.id) == 5000 and entries() == 1


def test_a_debit_posted_again_returns_its_entry_even_when_the_balance_is_spent(org):
    ledger.post(org.id, "topup", 145, "t1")
    first = ledger.post(org.id, "postage", -145, "p1")
    db.session.commit()
    again = ledger.post(org.id, "postage", -145, "p1")  # the balance (0) would refuse it
    db.session.commit()
    assert again.id == first.id and again.balance_after == 0
    assert ledger.check(org.id) == (0, 0) and entries() == 2


def test_a_debit_beyond_the_balance_is_refused_and_writes_nothing(org):
    ledger.post(org.id, "topup", 100, "t1")
    db.session.commit()
    with pytest.raises(ledger.InsufficientFunds) as refused:
        ledger.post(org.id, "postage", -145, "p1")
    db.session.rollback()
    assert refused.value.balance == 100
    assert ledger.balance(org.id) == 100 and entries() == 1
    with pytest.raises(ValueError, match="unknown kind"):
        ledger.post(org.id, "gift", 100, "g1")


def test_concurrent_debits_never_overdraw(app, org):
    ledger.post(org.id, "topup", 1450, "t1")  # covers 10 letters at 1,45 €
    db.session.commit()
    org_id = org.id  # the test's objects stay in the test's thread
    results = run_together(app, 20, lambda n: ledger.post(org_id, "postage", -145, f"p{n}").id)
    refused = [r for r in results if isinstance(r, ledger.InsufficientFunds)]
    assert len(refused) == 10, results
    db.session.expire_all()
    assert ledger.balance(org.id) == 0
    assert ledger.check(org.id) == (0, 0)
    assert entries() == 11
    afters = db.session.scalars(select(WalletEntry.balance_after).order_by(WalletEntry.id)).all()
    assert afters == [1450 - 145 * n for n in range(11)]


def test_the_same_key_posted_concurrently_is_one_entry(app, org):
    org_id = org.id
    results = run_together(app, 10, lambda n: ledger.post(org_id, "topup", 1000, "tr_same").id)
    assert len(set(results)) == 1, results
    db.session.expire_all()
    assert ledger.balance(org.id) == 1000 and entries() == 1


def test_the_page_shows_the_balance_and_the_history(logged_in, org, app):
    page = logged_in.get("/porte-monnaie/").get_data(as_text=True)
    assert "balance-low" in page and "ne couvre pas une lettre" in page
    ledger.post(org.id, "topup", 5000, "t1", reason="Recharge en ligne")
    ledger.post(org.id, "postage", -145, "p1", reason="Lettre à Client 2")
    db.session.commit()
    page = logged_in.get("/porte-monnaie/").get_data(as_text=True).replace("\u202f", " ")
    assert "balance-ok" in page and "48,55\xa0€" in page
    assert "Recharge en ligne" in page and "Lettre à Client 2" in page
    only = logged_in.get("/porte-monnaie/?kind=postage").get_data(as_text=True)
    assert "Lettre à Client 2" in only and "Recharge en ligne" not in only
    unknown = logged_in.get("/porte-monnaie/?kind=gift")
    assert unknown.status_code == 200 and "Type de mouvement inconnu" in unknown.get_data(
        as_text=True
    )
    csv = logged_in.get("/porte-monnaie/export.csv?dialect=std").get_data(as_text=True)
    assert csv.splitlines()[0] == "date,kind,amount,balance_after,reason,reference"
    assert csv.splitlines()[1].split(",")[1:4] == ["postage", "-1.45", "48.55"]
    french = logged_in.get("/porte-monnaie/export.csv").get_data(as_text=True).lstrip("\ufeff")
    assert french.splitlines()[0] == "Date;Type;Montant;Solde;Motif;Référence"
    assert french.splitlines()[1].split(";")[1:4] == ["Affranchissement", "-1,45", "48,55"]
    widget = logged_in.get("/porte-monnaie/widget").get_data(as_text=True)
    assert "48,55\xa0€" in widget and "balance-ok" in widget


def test_operators_adjust_a_wallet_from_the_command_line(app, org):
    result = run_cli(app, "wallet", "adjust", str(org.id), "12,50", "--reason", "Geste commercial")
    assert result.exit_code == 0 and result.output == "balance: 12.50\n"
    result = run_cli(app, "wallet", "adjust", "--reason", "Erreur", "--", str(org.id), "-20")
    assert result.exit_code == 1 and "does not cover it" in result.output
    result = run_cli(app, "wallet", "adjust", str(org.id), "douze", "--reason", "x")
    assert result.exit_code == 2 and "'douze' is not an amount" in result.output
    result = run_cli(app, "wallet", "adjust", str(org.id), "-2.95", "--reason", "Frais de dossier")
    assert result.exit_code == 0 and result.output == "balance: 9.55\n"  # no "--" needed
    db.session.expire_all()
    assert ledger.balance(org.id) == 955 and entries() == 2
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "wallet.adjust").order_by(AuditEvent.id)
    ).all()
    assert [(e.actor_label, e.after["amount"], e.after["reason"]) for e in events] == [
        ("cli", 1250, "Geste commercial"),
        ("cli", -295, "Frais de dossier"),
    ]


def test_a_first_post_commits_nothing_of_the_callers_transaction(org):
    """A letter and its postage commit together: posting to a new wallet must not
    commit what the caller has pending."""
    from core.models import Account

    db.session.add(Account(organisation_id=org.id, client_code="PENDING1", name=""))
    ledger.post(org.id, "topup", 100, "t1")
    db.session.rollback()
    assert db.session.scalar(select(Account).where(Account.client_code == "PENDING1")) is None
    assert ledger.balance(org.id) == 0 and entries() == 0


def post_in_its_own_context(app, organisation_id, kind, amount, key, fail=False):
    """A posting as the postal app makes one: in its own request or task, whose end
    queues what it noted; ``fail``: its transaction is rolled back."""
    with app.app_context():
        ledger.post(organisation_id, kind, amount, key)
        if fail:
            db.session.rollback()
        else:
            db.session.commit()


def test_the_admins_are_told_once_each_time_the_balance_falls_below_their_threshold(
    app, logged_in, org, run_jobs, smtp_server
):
    from tests.conftest import make_user

    make_user("sam@client1.example.com", org)  # a member: not told
    page = logged_in.get("/porte-monnaie/").get_data(as_text=True)
    assert "/applications/wallet/reglages" in page  # the admin's way to the threshold
    bad = logged_in.post("/applications/wallet/reglages", data={"low_balance": "-5"})
    assert bad.status_code == 422
    assert (
        logged_in.post("/applications/wallet/reglages", data={"low_balance": "10"}).status_code
        == 303
    )
    steps = [
        ("topup", 5000),
        ("postage", -3500),
        ("postage", -1000),
        ("postage", -100),
        ("topup", 2000),
        ("postage", -2000),
    ]
    for n, (kind, amount) in enumerate(steps):
        post_in_its_own_context(app, org.id, kind, amount, f"low-{n}")
    post_in_its_own_context(app, org.id, "postage", -300, "low-rolled-back", fail=True)
    run_jobs()
    # 50 → 15 → 5 (below 10: told) → 4 → 24 → 4 (below again: told); the rolled back one: not
    assert [m["To"] for m in smtp_server.messages] == ["camille@client1.example.com"] * 2
    body = smtp_server.messages[0].get_body(("plain",)).get_content().replace("\xa0", " ")
    assert "5,00 €" in body and "10,00 €" in body and "/porte-monnaie/recharger" in body
    assert (
        smtp_server.messages[0]["Subject"]
        .replace("\xa0", " ")
        .startswith("Votre solde est passé sous")
    )
    from plugins.wallet.alerts import warn

    entry = db.session.scalar(select(WalletEntry.id).where(WalletEntry.key == "low-2"))
    assert warn.function(org.id, entry) == "sent before"  # run again: no second e-mail


def test_no_alert_without_a_threshold(app, org, run_jobs, smtp_server):
    post_in_its_own_context(app, org.id, "topup", 5000, "t-1")
    post_in_its_own_context(app, org.id, "postage", -4990, "t-2")
    assert run_jobs() == 0 and smtp_server.messages == []
