"""The daily run of reminders, and the e-mails themselves, sent by the job queue.

The run finds, for each organisation using the app and each step of its schedule, the
invoices to pay whose due date put them at that step today (and not yet at the next),
sets aside those another app holds (``guichet_collection_holds``: a dispute), and
writes one ``queued`` reminder per invoice and step: a unique key, so a run made twice,
or by two workers at once, writes each once. A task per reminder claims it (queued to
sending, in a committed update only one worker wins), sends one e-mail, and records it
sent. A worker stopped mid-send leaves the reminder ``sending``: the sweeper makes it
``uncertain``, never sent again; one stopped before leaves it ``queued``: the sweeper
queues it again."""

from __future__ import annotations

import logging
import smtplib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import render_template
from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.plugin_api import (
    Membership,
    User,
    app_settings,
    collection_holds,
    db,
    external_url,
    organisation_language,
    organisations_using,
    permitted_account_ids,
    send_email,
    short_date,
    task,
    utcnow,
)
from core.plugin_api import gettext as _
from plugins.invoices.public import Invoice
from plugins.payments import public as payments

from . import letters
from .models import Reminder
from .schedule import BadSchedule, Step, parse

log = logging.getLogger(__name__)
APP_KEY = "reminders"
DUE = Invoice.total_ttc + Invoice.credited
STALE = timedelta(minutes=15)  # a reminder claimed longer ago than this is stuck


@dataclass
class Planned:
    """The invoices one step of one organisation's schedule reaches today."""

    organisation_id: int
    step: Step
    invoices: list = field(default_factory=list)  # rows: id, number, account_id, due_on, due


def steps_of(organisation_id: int) -> list[Step]:
    """The organisation's schedule; none (and a log) when its setting is not one."""
    try:
        return parse(app_settings(organisation_id, APP_KEY)["steps"])
    except BadSchedule as error:
        log.error("reminders of organisation %s: bad schedule: %s", organisation_id, error)
        return []


ORGANISATIONS_AT_ONCE = 500  # organisations of the same schedule read in one query


def plan(today: date, organisation_ids: list[int] | None = None) -> list[Planned]:
    """What today's run reminds: per organisation and step, the invoices to pay whose
    due date is at least the step's days behind (or ahead) and not yet at the next
    step's, with no reminder at this step, and not held by another app. Organisations
    that share a schedule (most keep the default) are read together, a few hundred a
    query: 10,000 organisations, 3 steps, 60 queries rather than 30,000."""
    by_schedule: dict[tuple[Step, ...], list[int]] = defaultdict(list)
    for organisation_id in organisation_ids or organisations_using(APP_KEY):
        by_schedule[tuple(steps_of(organisation_id))].append(organisation_id)
    found = []
    for steps, organisations in by_schedule.items():
        for first in range(0, len(organisations), ORGANISATIONS_AT_ONCE):
            chunk = organisations[first : first + ORGANISATIONS_AT_ONCE]
            for step, following in zip(steps, [*steps[1:], None], strict=True):
                found += _at_step(today, chunk, step, following)
    return found


def _at_step(today: date, organisations: list[int], step: Step, following: Step | None):
    query = select(
        Invoice.organisation_id,
        Invoice.id,
        Invoice.number,
        Invoice.account_id,
        Invoice.due_on,
        DUE.label("due"),
    ).where(
        Invoice.organisation_id.in_(organisations),
        Invoice.status == "to_pay",
        Invoice.kind == "invoice",
        DUE > 0,
        Invoice.due_on <= today - timedelta(days=step.days),
        ~exists().where(Reminder.invoice_id == Invoice.id, Reminder.days == step.days),
    )
    if following is not None:
        query = query.where(Invoice.due_on > today - timedelta(days=following.days))
    rows = db.session.execute(query.order_by(Invoice.organisation_id, Invoice.id)).all()
    held = collection_holds([row.id for row in rows])
    planned: dict[int, Planned] = {}
    for row in rows:
        if row.id in held:
            log.info("reminder of %s at day %s skipped: %s", row.number, step.days, held[row.id])
            continue
        planned.setdefault(row.organisation_id, Planned(row.organisation_id, step)).invoices.append(
            row
        )
    return list(planned.values())


_CLAIM = {
    dialect.dialect.name: dialect.insert(Reminder)
    .on_conflict_do_nothing(index_elements=["invoice_id", "days"])
    .returning(Reminder.id)
    for dialect in (sqlite, postgresql)
}


def run(today: date | None = None, dry_run: bool = False) -> list[Planned]:
    """Remind what :func:`plan` finds: a ``queued`` reminder per invoice and step (one
    statement per step and organisation), then a task per reminder. With ``dry_run``,
    nothing is written or sent: what would be is returned."""
    today = today or date.today()
    found = plan(today)
    if dry_run:
        return found
    statement = _CLAIM[db.session.get_bind().dialect.name]
    now = utcnow()
    for planned in found:
        rows = [
            {
                "organisation_id": planned.organisation_id,
                "account_id": row.account_id,
                "invoice_id": row.id,
                "number": row.number,
                "days": planned.step.days,
                "audience": planned.step.audience,
                "state": "queued",
                "recipients": 0,
                "error": "",
                "created_at": now,
                "updated_at": now,
            }
            for row in planned.invoices
        ]
        # one statement for the step's invoices: those another run wrote first are not
        # written again, nor returned
        ids = db.session.scalars(statement, rows).all()
        db.session.commit()  # written before any task may run
        for first in range(0, len(ids), BATCH):
            send_reminders(ids[first : first + BATCH])
    return found


def recipients(reminder: Reminder) -> list[User]:
    """Who receives it: the active members (not suspended) who may see the invoice's
    account, or the organisation's admins only."""
    memberships = db.session.scalars(
        select(Membership)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.organisation_id == reminder.organisation_id,
            Membership.suspended_at.is_(None),
            User.active.is_(True),
        )
    ).all()
    chosen = []
    for membership in memberships:
        if reminder.audience == "admins" and not membership.is_admin:
            continue
        permitted = permitted_account_ids(membership)
        if permitted is None or reminder.account_id in permitted:
            chosen.append(membership.user)
    return sorted(chosen, key=lambda user: user.email)


def set_state(reminder_id: int, state: str, **values) -> None:
    """Record what became of a reminder, and commit."""
    db.session.execute(
        update(Reminder)
        .where(Reminder.id == reminder_id)
        .values(state=state, updated_at=utcnow(), **values)
    )
    db.session.commit()


_TAKE = (
    update(Reminder)
    .where(Reminder.id == bindparam("ident"), Reminder.state == "queued")
    .values(state="sending", updated_at=bindparam("now"))
)


BATCH = 50  # reminders per task: 245,000 reminders are 4,900 tasks to queue


@task(kind="mail", retries=5)
def send_reminders(reminder_ids: list[int]) -> list[str]:
    """Send these reminders, each once; a refused one stops the batch, and the retry
    sends those still queued (the others were taken)."""
    return [send_one(reminder_id) for reminder_id in reminder_ids]


def send_one(reminder_id: int) -> str:
    """Send one reminder, once; returns what became of it."""
    if db.session.execute(_TAKE, {"ident": reminder_id, "now": utcnow()}).rowcount != 1:
        db.session.rollback()
        return "taken"
    db.session.commit()
    reminder = db.session.get(Reminder, reminder_id)
    invoice = db.session.get(Invoice, reminder.invoice_id)
    if invoice is None or invoice.amount_due <= 0:  # paid or credited meanwhile
        set_state(reminder_id, "skipped", error="paid or credited before it was sent")
        return "skipped"
    held = collection_holds([invoice.id])
    if held:
        set_state(reminder_id, "skipped", error=held[invoice.id])
        return "skipped"
    if reminder.audience == "post":
        problem = letters.post(reminder, invoice)
        if problem:
            set_state(reminder_id, "failed", error=problem)
            return "failed"
        set_state(reminder_id, "sent", recipients=1, error="")
        return "sent"
    people = recipients(reminder)
    if not people:
        set_state(reminder_id, "failed", error="nobody may see this invoice's account")
        return "failed"
    with organisation_language(reminder.organisation_id):
        subject, body = message(reminder, invoice)
    try:
        sent = send_email([user.email for user in people], subject, body)
    except (smtplib.SMTPException, OSError) as error:
        # refused before the server took it: queued again, and the task tried again
        set_state(reminder_id, "queued", error=str(error)[:500])
        raise
    if not sent:
        set_state(reminder_id, "failed", error="e-mail is not configured on this portal")
        return "failed"
    set_state(reminder_id, "sent", recipients=len(people), error="")
    return "sent"


def message(reminder: Reminder, invoice) -> tuple[str, str]:
    """The subject and body of a reminder, in the language in force."""
    due = short_date(invoice.due_on)
    if reminder.days < 0:
        subject = _("Invoice %(number)s is due on %(day)s", number=invoice.number, day=due)
    else:
        subject = _(
            "Reminder: invoice %(number)s was due on %(day)s", number=invoice.number, day=due
        )
    body = render_template(
        "reminders/email.txt",
        invoice=invoice,
        reminder=reminder,
        link=external_url("invoices.detail", invoice_id=invoice.id),
        pay=payments.payment_link(invoice),
    )
    return subject, body


def sweep() -> int:
    """Queue again the reminders a worker never took, mark uncertain those it stopped
    while sending; returns how many were queued again."""
    stale = utcnow() - STALE
    db.session.execute(  # a letter's key makes posting it again safe: queued again
        update(Reminder)
        .where(
            Reminder.state == "sending",
            Reminder.updated_at < stale,
            Reminder.audience == "post",
        )
        .values(state="queued")
    )
    db.session.execute(
        update(Reminder)
        .where(Reminder.state == "sending", Reminder.updated_at < stale)
        .values(
            state="uncertain",
            error="the worker stopped while sending; not sent again, to avoid a duplicate",
        )
    )
    waiting = db.session.scalars(
        select(Reminder.id).where(Reminder.state == "queued", Reminder.updated_at < stale)
    ).all()
    db.session.commit()
    for first in range(0, len(waiting), BATCH):
        send_reminders(waiting[first : first + BATCH])
    return len(waiting)
