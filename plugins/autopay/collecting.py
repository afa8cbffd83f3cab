"""The daily run of automatic payments, and what follows each charge.

Each morning the run (1) schedules the invoices to pay of the accounts paid
automatically whose due date is at most ``AUTOPAY_NOTICE_DAYS`` away: one charge per
invoice and attempt (a unique key: a run made twice, or by two workers at once, writes
each once), to take on the due date, or once the notice period has passed; their
organisation's admins get one notice listing them (SEPA asks that the debtor be told
before each debit); (2) takes the charges whose day has come: a committed update
moves each from scheduled to charging, which only one worker wins, and a task per
charge asks the payments app for a ``recurring`` payment on the mandate, under the
charge's own key (``autopay-<id>``), so a task run twice, or a worker killed after
the provider answered, charges once.

The payment's end comes back as an event (``payment.paid``, ``payment.failed``,
``payment.charged_back``): a failure or a chargeback tells the admins, and the invoice
is to pay again (the invoices app's purpose), held no longer: the next reminder
applies. A failed first attempt is tried once more ``AUTOPAY_RETRY_DAYS`` later (the
failure's e-mail announces it), unless the invoice is paid meanwhile or the mandate
ended."""

from __future__ import annotations

import logging
import smtplib
from datetime import date, timedelta

from flask import current_app, render_template
from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.plugin_api import (
    PaymentError,
    admin_emails,
    collection_holds,
    db,
    external_url,
    money,
    organisation_language,
    organisations_using,
    send_email,
    short_date,
    task,
    utcnow,
)
from core.plugin_api import gettext as _
from plugins.invoices.public import Invoice
from plugins.payments import public as payments

from . import mandates, topups
from .models import AutopayAccount, Charge, Mandate, Topup
from .states import move_state, note_payment

log = logging.getLogger(__name__)
APP_KEY = "autopay"
DUE = Invoice.total_ttc + Invoice.credited
STALE = timedelta(minutes=15)  # a charge or notice claimed longer ago is stuck


def charge_day(due_on: date, today: date) -> date:
    """When an invoice is charged: its due date, but never before the notice period
    from today has passed."""
    return max(due_on, today + timedelta(days=current_app.config["AUTOPAY_NOTICE_DAYS"]))


def plan(today: date) -> list:
    """The invoices to schedule today: to pay, of an account paid automatically on a
    valid mandate, due within the notice period (and not before the account was put
    on it), not charged yet, not held by another app (a dispute); rows of
    (organisation_id, account_id, id, number, due_on, due, currency, mandate_id)."""
    horizon = today + timedelta(days=current_app.config["AUTOPAY_NOTICE_DAYS"])
    rows = db.session.execute(
        select(
            Invoice.organisation_id,
            Invoice.account_id,
            Invoice.id,
            Invoice.number,
            Invoice.due_on,
            DUE.label("due"),
            Invoice.currency,
            AutopayAccount.mandate_id,
        )
        .join(AutopayAccount, AutopayAccount.account_id == Invoice.account_id)
        .join(Mandate, Mandate.id == AutopayAccount.mandate_id)
        .where(
            Mandate.state == "valid",
            Invoice.status == "to_pay",
            Invoice.kind == "invoice",
            DUE > 0,
            Invoice.due_on <= horizon,
            Invoice.due_on >= AutopayAccount.since,
            ~exists().where(Charge.invoice_id == Invoice.id),
        )
        .order_by(Invoice.organisation_id, Invoice.id)
    ).all()
    using = set(organisations_using(APP_KEY)) if rows else set()
    rows = [row for row in rows if row.organisation_id in using]
    held = collection_holds([row.id for row in rows])
    for row in rows:
        if row.id in held:
            log.info("automatic payment of %s not scheduled: %s", row.number, held[row.id])
    return [row for row in rows if row.id not in held]


_CLAIM = {
    dialect.dialect.name: dialect.insert(Charge)
    .on_conflict_do_nothing(index_elements=["invoice_id", "attempt"])
    .returning(Charge.id, Charge.organisation_id)
    for dialect in (sqlite, postgresql)
}


def schedule(today: date) -> int:
    """Write the charges :func:`plan` finds and queue their notices; returns how many
    were written by this run."""
    found = plan(today)
    if not found:
        return 0
    now = utcnow()
    rows = [
        {
            "organisation_id": row.organisation_id,
            "account_id": row.account_id,
            "invoice_id": row.id,
            "number": row.number,
            "attempt": 1,
            "mandate_id": row.mandate_id,
            "amount": row.due,
            "currency": row.currency,
            "charge_on": charge_day(row.due_on, today),
            "state": "scheduled",
            "notice": "queued",
            "reason": "",
            "created_at": now,
            "updated_at": now,
        }
        for row in found
    ]
    written = db.session.execute(_CLAIM[db.session.get_bind().dialect.name], rows).all()
    db.session.commit()  # written before any task may run
    queue_notices(written)
    return len(written)


def queue_notices(charges: list[tuple[int, int]]) -> None:
    """One notice task per organisation for these (charge id, organisation id)."""
    by_organisation: dict[int, list[int]] = {}
    for charge_id, organisation_id in charges:
        by_organisation.setdefault(organisation_id, []).append(charge_id)
    for organisation_id, ids in by_organisation.items():
        send_notice(organisation_id, ids)


def take_due(today: date) -> list[int]:
    """Move the charges whose day has come to ``charging`` (one committed update: a
    second worker running it at once takes none of them) and queue a task for each."""
    taken = db.session.scalars(
        update(Charge)
        .where(
            Charge.state == "scheduled",
            Charge.charge_on <= today,
            Charge.notice.in_(("sent", "unsent")),  # not before its notice went
        )
        .values(state="charging", updated_at=utcnow())
        .returning(Charge.id)
    ).all()
    db.session.commit()
    for charge_id in taken:
        charge(charge_id)
    return taken


def run(today: date | None = None, dry_run: bool = False) -> dict:
    """The day's run: schedule, then take what is due. With ``dry_run`` nothing is
    written or asked: what would be is returned."""
    today = today or date.today()
    if dry_run:
        due = db.session.scalars(
            select(Charge.number).where(Charge.state == "scheduled", Charge.charge_on <= today)
        ).all()
        return {"scheduled": [row.number for row in plan(today)], "charged": due}
    return {"scheduled": schedule(today), "charged": len(take_due(today))}


# --- one charge ------------------------------------------------------------------


def why_not(row: Charge, invoice) -> str:
    """Why the charge must not be taken now (``""``: it may)."""
    if invoice is None or invoice.amount_due <= 0:
        return "paid or credited before its day"
    if row.notice != "sent":
        return "the notice could not be sent, so the invoice is not debited"
    if not row.mandate.usable:
        return f"the mandate is {row.mandate.state}"
    held = collection_holds([invoice.id])
    if held:
        return held[invoice.id]
    paying = payments.open_payments_for([invoice.id]).get(invoice.id)
    if paying is not None and paying.key != row.key:  # not ours, asked before a stop
        return "a payment of the invoice is already in progress"
    return ""


@task(kind="payments", retries=5)
def charge(charge_id: int) -> str:
    """Ask for the payment of one charge taken by :func:`take_due`; returns what
    became of it. Safe to run again: the payment's key is the charge's."""
    row = db.session.get(Charge, charge_id)
    if row is None or row.state != "charging":
        return row.state if row is not None else "gone"
    invoice = db.session.get(Invoice, row.invoice_id)
    reason = why_not(row, invoice)
    if reason:
        row.state, row.reason, row.updated_at = "skipped", reason, utcnow()
        db.session.commit()
        log.info("automatic payment of %s skipped: %s", row.number, reason)
        if not row.mandate.usable:  # announced, and now not debited: the admins hear
            tell(charge_id)
        return "skipped"
    amount = min(row.amount, invoice.amount_due)  # a credit note since the notice
    mandate = row.mandate
    try:
        payment = payments.start(
            "invoices",
            row.organisation_id,
            row.account_id,
            amount,
            _("Invoice %(number)s", number=row.number),
            None,
            invoices=[(invoice.id, amount)],
            mandate=(mandate.customer_id, mandate.provider_id),
            key=row.key,
        )
    except PaymentError as error:
        if error.retry:
            raise  # the task is tried again, under the same key
        db.session.rollback()
        check_mandate(db.session.get(Mandate, mandate.id))  # revoked at the bank?
        follow(charge_id, "failed", error.message)
        return "failed"
    ended = note_payment(Charge, charge_id, payment, amount=amount)
    if ended:
        follow(charge_id, *ended)
    return db.session.get(Charge, charge_id).state


def follow(charge_id: int, status: str, reason: str = "") -> bool:
    """Move the charge as its payment went; a failure (with its second try, where
    one is due) or a chargeback tells the admins. Returns whether it moved."""
    target = move_state(Charge, charge_id, status, reason)
    if target == "failed":
        plan_retry(charge_id)
    if target in ("failed", "charged_back"):
        tell(charge_id)
    return target is not None


def plan_retry(charge_id: int) -> None:
    """Write the second try of a failed first attempt, ``AUTOPAY_RETRY_DAYS`` on, on a
    mandate still usable; its notice is the failure's e-mail (``tell``), claimed here
    (``sending``) so the notices' own task leaves it alone. Once: a unique key."""
    row = db.session.get(Charge, charge_id)
    days = current_app.config["AUTOPAY_RETRY_DAYS"]
    if not days or row.attempt > 1 or not row.mandate.usable:
        return
    now = utcnow()
    retry = {
        "organisation_id": row.organisation_id,
        "account_id": row.account_id,
        "invoice_id": row.invoice_id,
        "number": row.number,
        "attempt": row.attempt + 1,
        "mandate_id": row.mandate_id,
        "amount": row.amount,
        "currency": row.currency,
        "charge_on": date.today() + timedelta(days=days),
        "state": "scheduled",
        "notice": "sending",
        "reason": "",
        "created_at": now,
        "updated_at": now,
    }
    db.session.execute(_CLAIM[db.session.get_bind().dialect.name], [retry])
    db.session.commit()


def retry_of(row: Charge) -> Charge | None:
    """The second try of a failed charge, while it is announced."""
    return db.session.scalar(
        select(Charge).where(
            Charge.invoice_id == row.invoice_id,
            Charge.attempt == row.attempt + 1,
            Charge.state == "scheduled",
        )
    )


def on_payment_event(name: str, payload: dict) -> None:
    """``payment.<status>`` of a payment one of our charges or top-ups started."""
    status = name.removeprefix("payment.")
    if payload.get("purpose") == "invoices":
        charge_id = db.session.scalar(
            select(Charge.id).where(Charge.payment_id == payload["payment_id"])
        )
        if charge_id is not None:
            follow(charge_id, status, payload.get("reason", ""))
    elif payload.get("purpose") == "topup":
        topups.follow_payment(payload["payment_id"], status, payload.get("reason", ""))


@task(kind="mail", retries=5)
def tell(charge_id: int) -> str:
    """E-mail the organisation's admins that a charge failed or was taken back, with
    the invoice's payment link; a failure also checks the mandate at the provider
    (revoked at the bank: no more charges on it)."""
    row = db.session.get(Charge, charge_id)
    invoice = db.session.get(Invoice, row.invoice_id)
    if row.state == "failed":
        check_mandate(row.mandate)  # revoked at the bank: its retry is skipped
    retry = retry_of(row) if row.state == "failed" else None
    with organisation_language(row.organisation_id):
        if row.state == "charged_back":
            subject = _("Your bank took back the payment of invoice %(number)s", number=row.number)
        elif row.state == "skipped":
            subject = _("Invoice %(number)s will not be debited", number=row.number)
        else:
            subject = _("The automatic payment of invoice %(number)s failed", number=row.number)
        body = render_template(
            "autopay/failed.txt",
            charge=row,
            invoice=invoice,
            amount=money(row.amount, row.currency),
            pay=payments.payment_link(invoice) if invoice and invoice.amount_due > 0 else "",
            link=external_url("autopay.index"),
            retry_on=short_date(retry.charge_on) if retry else "",
        )
    admins = admin_emails(row.organisation_id)
    try:
        sent = bool(admins) and send_email(admins, subject, body)
    except (smtplib.SMTPException, OSError):
        if retry is not None:  # tried again: the retry's notice goes with it
            _notice([retry.id], "sending")
        raise
    if retry is not None:  # announced by this e-mail, or never: then not debited
        _notice([retry.id], "sent" if sent else "unsent")
    return "sent" if sent else "unsent"


def check_mandate(mandate: Mandate) -> None:
    """Ask the provider whether the mandate still holds; one the bank revoked ends
    (no more charges on it)."""
    provider = mandates.provider_ready()
    if provider is None or provider.key != mandate.provider or not mandate.usable:
        return
    try:
        remote = provider.fetch_mandate(mandate.customer_id, mandate.provider_id)
    except PaymentError as error:
        log.warning("mandate %s could not be checked: %s", mandate.id, error)
        return
    if remote.status == "invalid":
        announced = mandates.end(mandate, "invalid", "the mandate is no longer valid at the bank")
        db.session.commit()
        for charge_id in announced:
            tell(charge_id)  # announced, and now not debited


# --- notices ---------------------------------------------------------------------

_TAKE_NOTICES = (
    update(Charge)
    .where(Charge.id.in_(bindparam("ids", expanding=True)), Charge.notice == "queued")
    .values(notice="sending", updated_at=bindparam("now"))
    .returning(Charge.id)
)


@task(kind="mail", retries=5)
def send_notice(organisation_id: int, charge_ids: list[int]) -> str:
    """One e-mail to the organisation's admins announcing these charges (amount, day,
    the account debited and the mandate's reference), once."""
    taken = db.session.scalars(_TAKE_NOTICES, {"ids": charge_ids, "now": utcnow()}).all()
    db.session.commit()
    if not taken:
        return "taken"
    rows = db.session.scalars(
        select(Charge).where(Charge.id.in_(taken)).order_by(Charge.charge_on, Charge.number)
    ).all()
    admins = admin_emails(organisation_id)
    with organisation_language(organisation_id):
        subject = _("Automatic payment: the invoices we will debit")
        body = render_template(
            "autopay/notice.txt",
            charges=rows,
            money=money,
            short_date=short_date,
            link=external_url("autopay.index"),
        )
    try:
        sent = bool(admins) and send_email(admins, subject, body)
    except (smtplib.SMTPException, OSError):
        _notice(taken, "queued")  # the retry sends it
        raise
    _notice(taken, "sent" if sent else "unsent")
    return "sent" if sent else "unsent"


def _notice(ids: list[int], state: str) -> None:
    db.session.execute(
        update(Charge).where(Charge.id.in_(ids)).values(notice=state, updated_at=utcnow())
    )
    db.session.commit()


def sweep() -> int:
    """Ask again for the charges and top-ups a worker stopped on (their key makes it
    safe) and queue again the notices never sent; returns how many were asked again."""
    stale = utcnow() - STALE
    db.session.execute(
        update(Charge)
        .where(Charge.notice == "sending", Charge.updated_at < stale)
        .values(notice="queued")
    )
    notices = db.session.execute(
        select(Charge.id, Charge.organisation_id).where(
            Charge.notice == "queued", Charge.updated_at < stale
        )
    ).all()
    stuck = db.session.scalars(
        select(Charge.id).where(Charge.state == "charging", Charge.updated_at < stale)
    ).all()
    db.session.commit()
    queue_notices(notices)
    for charge_id in stuck:
        charge(charge_id)
    stuck_topups = db.session.scalars(
        select(Topup.id).where(Topup.state == "charging", Topup.updated_at < stale)
    ).all()
    for topup_id in stuck_topups:
        topups.charge(topup_id)
    return len(stuck) + len(stuck_topups)
