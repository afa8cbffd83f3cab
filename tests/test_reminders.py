"""Payment reminders: the schedule's steps, each sent once per invoice to the right
people with the payment link, nothing for what is paid or disputed, a worker stopped
mid-run losing or doubling nothing, and what customers and operators see."""

import io
import re
from datetime import date, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from core.extensions import db
from core.plugin_api import (
    collection_holds,
    ledger,
    organisations_using,
    read_stored,
    update_app_settings,
    utcnow,
)
from plugins.einvoicing.models import LifecycleStatus
from plugins.invoices.importing import import_invoices
from plugins.invoices.models import Invoice
from plugins.postal.models import Letter
from plugins.postal.printing import printed_pages
from plugins.reminders import sending
from plugins.reminders.models import Reminder
from plugins.reminders.schedule import BadSchedule, Step, parse
from tests.conftest import invoice_item as invoice
from tests.conftest import make_org, make_user, run_cli

TODAY = date.today()


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


def reminders() -> list[tuple[str, int, str]]:
    db.session.expire_all()
    rows = db.session.scalars(select(Reminder).order_by(Reminder.number, Reminder.days))
    return [(r.number, r.days, r.state) for r in rows]


def plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


@pytest.fixture
def chase(org, user, enable_app):
    """Reminders on for "Client 1"; a member who sees only 04008041; invoices: A due in
    a week, B due yesterday, C due 20 days ago (on 00002501), D due in a month, E paid,
    G due yesterday on 04008041."""
    enable_app("reminders")
    make_user("sam@client1.example.com", org, accounts=["04008041"])
    import_invoices(
        [
            invoice("A", date=day(-23), due_date=day(7)),
            invoice("B", date=day(-31), due_date=day(-1)),
            invoice("C", date=day(-50), due_date=day(-20)),
            invoice("D", date=day(-1), due_date=day(30)),
            invoice("E", date=day(-31), due_date=day(-1), status="paid"),
            invoice("G", date=day(-31), due_date=day(-1), client_code="04008041"),
        ]
    )


def test_each_step_reminds_each_invoice_once(chase, run_jobs, smtp_server):
    sending.run(TODAY)
    assert reminders() == [
        ("A", -7, "queued"),
        ("B", 1, "queued"),
        ("C", 15, "queued"),
        ("G", 1, "queued"),
    ]
    run_jobs()
    assert {r[2] for r in reminders()} == {"sent"}
    by_number = {}
    for message in smtp_server.messages:
        number = re.search(r"facture (\w+)", message["Subject"]).group(1)
        by_number[number] = (
            sorted(message["To"].split(", ")),
            plain(message.get_body(("plain",)).get_content()),
        )
    assert sorted(by_number) == ["A", "B", "C", "G"]
    assert by_number["A"][0] == ["camille@client1.example.com"]  # Sam sees 04008041 only
    assert by_number["G"][0] == ["camille@client1.example.com", "sam@client1.example.com"]
    assert by_number["C"][0] == ["camille@client1.example.com"]  # the admins' step
    body = by_number["B"][1]
    assert "67 520,70 €" in body and "/paiements/lien/" in body and "/factures/" in body
    assert sending.run(TODAY) == [] and run_jobs() == 0  # nothing twice
    assert sending.run(TODAY + timedelta(days=3)) == []  # B stays at its step until day 15
    later = sending.run(TODAY + timedelta(days=14))
    assert [(p.step.days, [r.number for r in p.invoices]) for p in later] == [
        (1, ["A"]),
        (15, ["B", "G"]),
    ]


def buyer_says(bill: Invoice, code: str) -> None:
    """A lifecycle status from the buyer: 207 disputed, 210 refused."""
    db.session.add(
        LifecycleStatus(
            organisation_id=bill.organisation_id,
            invoice_id=bill.id,
            code=code,
            on_date=TODAY,
            reason="quantités",
            source="customer",
        )
    )
    db.session.commit()


def test_nothing_for_an_invoice_paid_credited_or_disputed(chase, run_jobs, smtp_server):
    b, c = (db.session.scalar(select(Invoice).where(Invoice.number == n)) for n in ("B", "C"))
    buyer_says(c, "207")
    assert collection_holds([b.id, c.id]) == {c.id: "disputed by the buyer"}
    sending.run(TODAY)
    assert "C" not in [r[0] for r in reminders()]
    import_invoices([invoice("B", date=day(-31), due_date=day(-1), status="paid")])  # meanwhile
    run_jobs()
    states = {r[0]: r[2] for r in reminders()}
    assert states["B"] == "skipped" and states["A"] == "sent"
    assert all("facture B" not in m["Subject"] for m in smtp_server.messages)


def test_hook_guichet_collection_holds_keep_a_disputed_invoice_unchased(chase):
    c = db.session.scalar(select(Invoice).where(Invoice.number == "C"))
    assert collection_holds([c.id]) == {}
    buyer_says(c, "210")
    assert collection_holds([c.id]) == {c.id: "refused by the buyer"}
    assert [p for p in sending.plan(TODAY) if any(r.number == "C" for r in p.invoices)] == []


def test_a_worker_stopped_mid_run_loses_and_doubles_nothing(
    chase, run_jobs, smtp_server, monkeypatch
):
    queued = []
    original = sending.send_reminders

    def stopped(reminder_ids):  # the run wrote its reminders, then its process died
        queued.extend(reminder_ids)

    monkeypatch.setattr(sending, "send_reminders", stopped)
    sending.run(TODAY)
    assert len(queued) == 4 and run_jobs() == 0 and smtp_server.messages == []
    monkeypatch.setattr(sending, "send_reminders", original)
    # one was being sent when the worker stopped: it may have gone, so it never goes again
    first = db.session.scalar(select(Reminder).where(Reminder.number == "A"))
    first.state = "sending"
    stale = sending.utcnow() - timedelta(hours=1)
    for reminder in db.session.scalars(select(Reminder)):
        reminder.updated_at = stale
    db.session.commit()
    assert sending.sweep() == 3
    run_jobs()
    assert {r[0]: r[2] for r in reminders()} == {
        "A": "uncertain",
        "B": "sent",
        "C": "sent",
        "G": "sent",
    }
    assert len(smtp_server.messages) == 3
    assert sending.sweep() == 0 and sending.run(TODAY) == [] and run_jobs() == 0


def test_the_dry_run_says_what_would_go_and_sends_nothing(app, chase):
    result = run_cli(app, "reminders", "run", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "invoice A" in result.output and "invoice C" in result.output
    assert "4 reminder(s) would be sent" in result.output
    assert reminders() == []


def test_a_schedule_is_read_and_a_bad_one_named():
    assert parse(["15 admins", "-7", "", "1 members", "30 post"]) == [
        Step(-7),
        Step(1),
        Step(15, "admins"),
        Step(30, "post"),
    ]
    for lines, reason in (
        (["soon"], "a number of days"),
        (["7 everyone"], "'members', 'admins' or 'post'"),
        (["400"], "from -60 to 365"),
        (["1", "1 admins"], "two steps on day 1"),
    ):
        with pytest.raises(BadSchedule, match=reason):
            parse(lines)


def test_only_organisations_using_the_app_are_reminded(chase, enable_app, org):
    other = make_org("Client 2", codes=("09000001",))
    assert organisations_using("reminders") == [org.id]
    enable_app("reminders", organisation=other)
    assert organisations_using("reminders") == [org.id, other.id]
    enable_app("invoices", False)  # reminders require it
    assert organisations_using("reminders") == [other.id]


def test_customers_see_the_reminders_of_their_scope(app, chase, logged_in, run_jobs):
    sending.run(TODAY)
    run_jobs()
    page = logged_in.get("/relances/").get_data(as_text=True)
    assert all(n in page for n in (">A<", ">B<", ">C<", ">G<"))
    b = db.session.scalar(select(Invoice.id).where(Invoice.number == "B"))
    one = logged_in.get(f"/relances/?invoice={b}").get_data(as_text=True)
    assert (
        ">B<" in one
        and ">A<" not in one
        and "1 jour après l’échéance" in plain(one)
        or ">B<" in one
    )
    detail = logged_in.get(f"/factures/{b}").get_data(as_text=True)
    assert f"/relances/?invoice={b}" in detail and "Relances envoyées (1)" in detail
    other = make_org("Client 2", codes=("09000001",))
    stranger = make_user("eve@client2.example.com", other, role="admin")
    client = app.test_client()
    assert client.login(stranger.email).status_code == 302
    assert client.get("/relances/").status_code == 404  # the app is off for Client 2
    db.session.expire_all()
    from core.activation import set_app_enabled

    set_app_enabled(other, "reminders", True)
    db.session.commit()
    assert client.get(f"/relances/?invoice={b}").status_code == 404  # not an invoice of theirs
    assert ">B<" not in client.get("/relances/").get_data(as_text=True)


def test_operators_set_the_schedule_and_see_what_is_overdue(app, chase, operator, org, logged_in):
    assert logged_in.get("/operator/relances/").status_code == 404
    client = app.test_client()
    assert client.login(operator.email).status_code == 302
    page = client.get("/operator/relances/").get_data(as_text=True)
    assert "Client 1" in page
    bad = client.post(f"/operator/relances/?organisation={org.id}", data={"steps": "soon"})
    assert bad.status_code == 422 and "a number of days" in bad.get_data(as_text=True)
    good = client.post(f"/operator/relances/?organisation={org.id}", data={"steps": "3\n30 admins"})
    assert good.status_code == 303
    assert sending.steps_of(org.id) == [Step(3), Step(30, "admins")]


def test_two_runs_at_once_write_each_reminder_once(app, chase, run_jobs, smtp_server):
    """Two workers starting the day's run together (the schedulers of two machines)."""
    from tests.conftest import run_together

    results = run_together(app, 2, lambda n: sum(len(p.invoices) for p in sending.run(TODAY)))
    assert all(isinstance(found, int) for found in results), results
    assert [r[:2] for r in reminders()] == [("A", -7), ("B", 1), ("C", 15), ("G", 1)]
    run_jobs()
    assert len(smtp_server.messages) == 4  # whichever run wrote each, one e-mail each


# --- reminder letters --------------------------------------------------------------


@pytest.fixture
def by_post(chase, org):
    """Client 1's schedule: a letter 15 days after the due date (C is 20 days late)."""
    org.address = "9 rue du Colonel Pierre Avia\n75015 PARIS"
    update_app_settings(org, "reminders", {"steps": ["15 post"]})
    db.session.commit()


def test_a_post_step_sends_a_letter_the_provider_pays_for(
    by_post, org, app, run_jobs, logged_in, smtp_server
):
    ledger.post(org.id, "topup", 5000, "before")
    db.session.commit()
    sending.run(TODAY)
    run_jobs()
    assert reminders() == [("C", 15, "sent")]
    assert smtp_server.messages == []  # a letter, not an e-mail
    letter = db.session.scalar(select(Letter))
    assert (letter.payer, letter.address) == (
        "provider",
        ["Client 1", "9 rue du Colonel Pierre Avia", "75015 PARIS"],
    )
    assert letter.status == "submitted"  # handed to the print shop by the worker
    assert ledger.balance(org.id) == 5000  # not paid from the customer's wallet
    pdf = read_stored(letter.document_sha256)
    assert printed_pages(pdf) == (1, False)  # one page, the window left for the address
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    text = plain(text)
    assert "C" in text and "67 520,70 €" in text and "/paiements/lien/" in text
    # the customer's letters are those it sent: this one is not among them
    assert letter.title not in logged_in.get("/courrier/").get_data(as_text=True)
    assert logged_in.get(f"/courrier/{letter.id}").status_code == 404
    assert sending.run(TODAY) == []  # once


def test_a_letter_a_stopped_worker_left_is_posted_once(by_post, run_jobs):
    sending.run(TODAY)
    (reminder,) = db.session.scalars(select(Reminder)).all()
    # the worker took it, posted it, and stopped before it wrote that down
    reminder.state, reminder.updated_at = "sending", utcnow() - timedelta(hours=1)
    db.session.commit()
    from plugins.reminders import letters

    assert letters.post(reminder, db.session.get(Invoice, reminder.invoice_id)) == ""
    sending.sweep()
    run_jobs()
    assert reminders() == [("C", 15, "sent")]
    assert db.session.scalar(select(func.count()).select_from(Letter)) == 1


def test_a_letter_with_no_address_to_go_to_fails_with_the_reason(chase, org, run_jobs):
    update_app_settings(org, "reminders", {"steps": ["15 post"]})
    db.session.commit()
    sending.run(TODAY)
    run_jobs()
    reminder = db.session.scalar(select(Reminder))
    assert reminder.state == "failed" and reminder.error.startswith("not posted:")
    assert db.session.scalar(select(func.count()).select_from(Letter)) == 0
