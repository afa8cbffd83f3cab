"""Who receives which invoice, and the e-mails themselves, sent by the job queue.

Every e-mail is a :class:`Delivery` with a unique key (address and invoice), so an
event delivered twice, or a task run twice, sends it once. A worker claims a delivery
by moving it from ``queued`` or ``retrying`` to ``sending`` in a committed update that
only one worker can win; it records ``sent`` as soon as the server accepted the
message. A delivery left in ``sending`` (the worker was stopped between the server's
answer and the record) is never sent again: the sweeper marks it ``uncertain``.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import date, timedelta

from flask import current_app, g, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_mailman import EmailMessage
from sqlalchemy import select, update

from core import jobs
from core.extensions import db
from core.importing import rows_matching
from core.models import Membership, Organisation, utcnow
from core.rendering import external_url
from core.tenancy import permitted_account_ids
from plugins.invoices.documents import invoice_pdf
from plugins.invoices.models import Invoice

from .models import FLAG_AFTER_FAILURES, Delivery, Subscription

log = logging.getLogger(__name__)


def N_(message: str) -> str:
    """Marks a message for translation; it is stored as is, translated when shown."""
    return message


NOT_CONFIGURED = N_("E-mail is not configured on this portal.")
UNCERTAIN = N_("The worker stopped while sending; not sent again, to avoid a duplicate.")
TRANSLATED_ERRORS = (NOT_CONFIGURED, UNCERTAIN)
MAX_ATTEMPTS = 8  # tries over about four hours, then the delivery is failed
LOCAL_BACKENDS = ("console", "file", "locmem")
BATCH = 50  # e-mails sent over one SMTP connection
STALE = timedelta(minutes=15)  # a delivery claimed longer ago than this is stuck


def mail_configured() -> bool:
    """Whether operators configured an SMTP server (nothing is sent otherwise), or a
    local backend such as ``console`` (the README's run command prints e-mails)."""
    config = current_app.config
    return bool(config.get("MAIL_SERVER")) or config.get("MAIL_BACKEND") in LOCAL_BACKENDS


def _permitted(subscription: Subscription) -> frozenset[int] | None | bool:
    """What the subscribing user may see: its accounts (``None``: all); ``False`` when it
    no longer belongs to the organisation. Organisation addresses see everything."""
    if subscription.user_id is None:
        return None
    membership = db.session.scalar(
        select(Membership).where(
            Membership.user_id == subscription.user_id,
            Membership.organisation_id == subscription.organisation_id,
        )
    )
    return False if membership is None else permitted_account_ids(membership)


def _locale(subscription: Subscription, organisation: Organisation) -> str:
    user_locale = subscription.user.locale if subscription.user else None
    return user_locale or organisation.locale or current_app.config["BABEL_DEFAULT_LOCALE"]


def _add_deliveries(wanted: list[dict]) -> list[int]:
    """Record the deliveries of ``wanted`` whose key is new; returns their ids."""
    keys = [w["key"] for w in wanted]
    known = {row.key for row in rows_matching(select(Delivery.key), Delivery.key, keys)}
    fresh = [Delivery(**w) for w in wanted if w["key"] not in known]
    db.session.add_all(fresh)
    db.session.commit()
    return [d.id for d in fresh]


@jobs.task()
def fan_out(organisation_id: int, invoice_ids: list[int]) -> int:
    """Create and queue one delivery per new invoice and address that wants it, for
    addresses that get one e-mail per invoice; returns how many were queued."""
    organisation = db.session.get(Organisation, organisation_id)
    subscriptions = db.session.scalars(
        select(Subscription).where(
            Subscription.organisation_id == organisation_id,
            Subscription.frequency == "each",
            Subscription.flagged.is_(False),
        )
    ).all()
    if organisation is None or not subscriptions:
        return 0
    invoices = db.session.execute(
        select(Invoice.id, Invoice.kind, Invoice.account_id, Invoice.number).where(
            Invoice.id.in_(invoice_ids), Invoice.organisation_id == organisation_id
        )
    ).all()
    wanted = []
    for subscription in subscriptions:
        permitted = _permitted(subscription)
        if permitted is False:
            continue
        for invoice in invoices:
            if subscription.wants(invoice.kind, invoice.account_id, permitted):
                wanted.append(
                    {
                        "organisation_id": organisation_id,
                        "key": f"s{subscription.id}:i{invoice.id}",
                        "subscription_id": subscription.id,
                        "email": subscription.email,
                        "locale": _locale(subscription, organisation),
                        "attachments": subscription.attachments,
                        "reason": "invoice",
                        "invoice_ids": [invoice.id],
                        "summary": invoice.number,
                    }
                )
    ids = _add_deliveries(wanted)
    queue_deliveries(ids)
    return len(ids)


def note_created(organisation_id: int, invoice_id: int) -> None:
    """Remember a new invoice until :func:`flush_created` (end of the request)."""
    g.setdefault("notifications_created", {}).setdefault(organisation_id, []).append(invoice_id)


def flush_created() -> None:
    """Queue the fan-out of the invoices noted so far, a thousand per task. A queue that
    cannot be reached is logged: the import itself has succeeded."""
    noted = g.pop("notifications_created", None) or {}
    try:
        for organisation_id, invoice_ids in noted.items():
            for first in range(0, len(invoice_ids), 1000):
                fan_out(organisation_id, invoice_ids[first : first + 1000])
    except Exception:  # noqa: BLE001 - the import is committed; say what was not queued
        log.exception("new invoices could not be queued for notification: %s", noted)


def queue_deliveries(ids: list[int]) -> None:
    """Queue the sending of these deliveries, :data:`BATCH` per task."""
    for first in range(0, len(ids), BATCH):
        deliver(ids[first : first + BATCH])


def send_invoices(organisation_id: int, invoice_ids: list[int], email: str, locale: str) -> int:
    """Queue one e-mail with these invoices (PDFs attached) to ``email``; returns the
    delivery's id. Asked from the invoice list."""
    numbers = db.session.scalars(
        select(Invoice.number).where(Invoice.id.in_(invoice_ids)).order_by(Invoice.number)
    ).all()
    delivery = Delivery(
        organisation_id=organisation_id,
        key=f"m:{utcnow().timestamp():.6f}:{email}"[:120],
        email=email,
        locale=locale,
        attachments=True,
        reason="manual",
        invoice_ids=list(invoice_ids),
        summary=", ".join(numbers)[:200],
    )
    db.session.add(delivery)
    db.session.commit()
    queue_deliveries([delivery.id])
    return delivery.id


def _claim(delivery_id: int) -> Delivery | None:
    """Take the delivery for this worker, or ``None`` when it is not to be sent (sent
    already, being sent, failed, or claimed by another worker just now)."""
    claimed = db.session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status.in_(("queued", "retrying")))
        .values(status="sending", attempts=Delivery.attempts + 1, updated_at=utcnow())
    ).rowcount
    db.session.commit()
    return db.session.get(Delivery, delivery_id) if claimed == 1 else None


def _record(delivery: Delivery, status: str, error: str = "") -> None:
    delivery.status, delivery.error = status, error
    if status == "sent":
        delivery.sent_at = utcnow()
    subscription = db.session.get(Subscription, delivery.subscription_id or 0)
    if subscription is not None:
        if status == "sent":
            subscription.failures = 0
        elif status == "failed":
            subscription.failures += 1
            subscription.flagged = subscription.failures >= FLAG_AFTER_FAILURES
    db.session.commit()


def message_for(delivery: Delivery) -> EmailMessage:
    """The e-mail of ``delivery`` in its recipient's language, PDFs attached if asked."""
    invoices = db.session.scalars(
        select(Invoice).where(Invoice.id.in_(delivery.invoice_ids)).order_by(Invoice.id)
    ).all()
    with force_locale(delivery.locale):
        if delivery.reason == "invoice" and len(invoices) == 1:
            invoice = invoices[0]
            subject = render_template("notifications/subject.txt", invoice=invoice, count=1).strip()
        else:
            subject = _("Your invoices: %(numbers)s", numbers=delivery.summary)
            if delivery.reason == "digest":
                subject = _("Your new invoices (%(count)d)", count=len(invoices))
        body = render_template(
            "notifications/email.txt",
            invoices=invoices,
            links={i.id: external_url("invoices.detail", invoice_id=i.id) for i in invoices},
            today=date.today(),
        )
        message = EmailMessage(subject, body, to=[delivery.email])
        if delivery.attachments:
            for invoice in invoices:
                kind = _("credit-note") if invoice.kind == "credit_note" else _("invoice")
                message.attach(
                    f"{kind}-{invoice.number}.pdf",
                    invoice_pdf(invoice).read_bytes(),
                    "application/pdf",
                )
    domain = current_app.config["MAIL_DEFAULT_SENDER"].rpartition("@")[2].rstrip(">") or "guichet"
    message.extra_headers["Message-ID"] = f"<delivery-{delivery.id}.{delivery.key}@{domain}>"
    delivery.message_id = message.extra_headers["Message-ID"]
    return message


def _temporary(error: Exception) -> bool:
    """A failure worth another try: the server was unreachable or answered 4xx."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    return isinstance(error, OSError | smtplib.SMTPException)


def _describe(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{address}: {code} {reply.decode(errors='replace')}"
            for address, (code, reply) in error.recipients.items()
        )
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {error.smtp_error.decode(errors='replace')}"
    return f"{type(error).__name__}: {error}"


@jobs.task()
def deliver(delivery_ids: list[int]) -> int:
    """Send these deliveries over one SMTP connection; returns how many were sent.
    A temporary failure queues that delivery again after a back-off."""
    sent = 0
    connection = None
    try:
        for delivery_id in delivery_ids:
            delivery = _claim(delivery_id)
            if delivery is None:
                continue
            if not mail_configured():
                _record(delivery, "failed", NOT_CONFIGURED)
                continue
            try:
                message = message_for(delivery)
                db.session.commit()  # the Message-ID, before the server sees it
                if connection is None:
                    connection = message.get_connection()
                    connection.open()
                message.connection = connection
                message.send()
            except Exception as error:  # noqa: BLE001 - every failure is recorded
                connection = _drop(connection)
                _failed(delivery, error)
                continue
            mark_sent(delivery)
            sent += 1
    finally:
        _drop(connection)
    return sent


def mark_sent(delivery: Delivery) -> None:
    """Record that the server accepted the message (the step a stopped worker misses)."""
    _record(delivery, "sent")


def _drop(connection) -> None:
    if connection is not None:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - closing a broken connection may fail too
            log.debug("closing the SMTP connection failed", exc_info=True)
    return None


def _failed(delivery: Delivery, error: Exception) -> None:
    db.session.rollback()
    delivery = db.session.get(Delivery, delivery.id)
    reason = _describe(error)
    if _temporary(error) and delivery.attempts < MAX_ATTEMPTS:
        _record(delivery, "retrying", reason)
        delay = jobs.backoff(delivery.attempts)
        deliver.schedule([delivery.id], delay=delay)
        log.info("delivery %s to retry in %s s: %s", delivery.id, delay, reason)
    else:
        _record(delivery, "failed", reason)
        log.warning("delivery %s failed: %s", delivery.id, reason)


DIGEST_SIZE = 100  # invoices per digest e-mail


def send_digests() -> int:
    """Periodic (daily): one e-mail per digest address with the invoices created since
    its last digest (several when there are more than :data:`DIGEST_SIZE`)."""
    subscriptions = db.session.scalars(
        select(Subscription).where(
            Subscription.frequency == "daily", Subscription.flagged.is_(False)
        )
    ).all()
    ids = []
    for subscription in subscriptions:
        permitted = _permitted(subscription)
        if permitted is False:
            continue
        organisation = db.session.get(Organisation, subscription.organisation_id)
        invoices = db.session.execute(
            select(Invoice.id, Invoice.kind, Invoice.account_id, Invoice.number)
            .where(
                Invoice.organisation_id == subscription.organisation_id,
                Invoice.id > subscription.digest_after_id,
            )
            .order_by(Invoice.id)
        ).all()
        chosen = [i for i in invoices if subscription.wants(i.kind, i.account_id, permitted)]
        wanted = [
            {
                "organisation_id": subscription.organisation_id,
                "key": f"s{subscription.id}:d{part[-1].id}",
                "subscription_id": subscription.id,
                "email": subscription.email,
                "locale": _locale(subscription, organisation),
                "attachments": subscription.attachments,
                "reason": "digest",
                "invoice_ids": [i.id for i in part],
                "summary": ", ".join(i.number for i in part)[:200],
            }
            for part in (
                chosen[first : first + DIGEST_SIZE] for first in range(0, len(chosen), DIGEST_SIZE)
            )
        ]
        if invoices:
            subscription.digest_after_id = invoices[-1].id
        ids += _add_deliveries(wanted)  # commits the new watermark with the deliveries
    queue_deliveries(ids)
    return len(ids)


def sweep() -> int:
    """Periodic: mark deliveries stuck in ``sending`` as ``uncertain`` (never resent),
    and queue again those still ``queued`` long after their creation (their task was
    lost with a stopped worker). Returns how many it touched."""
    stale = utcnow() - STALE
    uncertain = db.session.execute(
        update(Delivery)
        .where(Delivery.status == "sending", Delivery.updated_at < stale)
        .values(
            status="uncertain",
            error=UNCERTAIN,
            updated_at=utcnow(),
        )
    ).rowcount
    lost = db.session.scalars(
        select(Delivery.id).where(Delivery.status == "queued", Delivery.created_at < stale)
    ).all()
    db.session.commit()
    queue_deliveries(list(lost))
    return uncertain + len(lost)
