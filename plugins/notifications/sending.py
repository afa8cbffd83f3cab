"""Who receives which invoice, and the e-mails themselves, sent by the job queue.

Every e-mail is a :class:`Delivery` with a unique key (address and invoice), so an
event delivered twice, or a task run twice, sends it once. A worker claims a delivery
just before handing it to the mail server, one at a time, by moving it from ``queued``
or ``retrying`` to ``sending`` in a committed update that only one worker can win; it
records ``sent`` as soon as the server accepted the message. So a worker stopped
mid-batch leaves the deliveries it had not tried ``queued`` (the sweeper queues them
again), and at most the one it was sending in ``sending``: that one may have reached
the server, so the sweeper marks it ``uncertain`` and it is never sent twice.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
from datetime import timedelta

from flask import current_app, g, render_template
from flask_babel import force_locale
from flask_mailman import EmailMessage
from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from core.plugin_api import (
    DocumentFile,
    FormatRefused,
    Membership,
    NoSuchFormat,
    Organisation,
    User,
    backoff,
    db,
    document_file,
    enabled_app_keys,
    external_url,
    mail_configured,
    permitted_account_ids,
    rows_matching,
    task,
    utcnow,
)
from core.plugin_api import gettext as _
from plugins.invoices.public import Invoice
from plugins.payments import public as payments

from .models import FLAG_AFTER_FAILURES, Delivery, Subscription

log = logging.getLogger(__name__)


def N_(message: str) -> str:
    """Marks a message for translation; it is stored as is, translated when shown."""
    return message


NOT_CONFIGURED = N_("E-mail is not configured on this portal.")
UNCERTAIN = N_("The worker stopped while sending; not sent again, to avoid a duplicate.")
FLAGGED = N_("Not tried: the address failed too often and is flagged.")
TRANSLATED_ERRORS = (NOT_CONFIGURED, UNCERTAIN, FLAGGED)
MAX_ATTEMPTS = 8  # tries over about an hour (back-off from 30 s), then it is failed
FAN_OUT_SIZE = 1000  # new invoices per fan-out task
BATCH = 50  # e-mails sent over one SMTP connection
STALE = timedelta(minutes=15)  # a delivery claimed longer ago than this is stuck


def _permitted(subscription: Subscription) -> frozenset[int] | None | bool:
    """What the subscribing user may see: its accounts (``None``: all); ``False`` when it
    no longer belongs to the organisation. Organisation addresses see everything."""
    if subscription.user_id is None:
        return None
    membership = db.session.scalar(
        select(Membership).where(
            Membership.user_id == subscription.user_id,
            Membership.organisation_id == subscription.organisation_id,
            Membership.suspended_at.is_(None),
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


def _delivery(
    subscription: Subscription, organisation: Organisation, invoices, reason: str, key: str
) -> dict:
    """The values of a new delivery of ``invoices`` to a subscription's address."""
    return {
        "organisation_id": subscription.organisation_id,
        "key": key,
        "subscription_id": subscription.id,
        "email": subscription.email,
        "locale": _locale(subscription, organisation),
        "attachments": subscription.attachments,
        "attachment_format": subscription.attachment_format,
        "reason": reason,
        "invoice_ids": [i.id for i in invoices],
        "summary": ", ".join(i.number for i in invoices)[:200],
    }


INVOICE_FACTS = (
    Invoice.id,
    Invoice.organisation_id,
    Invoice.kind,
    Invoice.account_id,
    Invoice.number,
    Invoice.created_at,
)


@task(kind="mail")
def fan_out(invoice_ids: list[int]) -> int:
    """Create and queue one delivery per new invoice and address that wants it, for
    addresses that get one e-mail per invoice and were registered when the invoice
    arrived (not for the past: the task may run after an address was added); returns
    how many were queued."""
    by_organisation: dict[int, list] = {}
    for invoice in db.session.execute(select(*INVOICE_FACTS).where(Invoice.id.in_(invoice_ids))):
        by_organisation.setdefault(invoice.organisation_id, []).append(invoice)
    subscriptions = db.session.scalars(
        select(Subscription)
        .where(
            Subscription.organisation_id.in_(by_organisation),
            Subscription.frequency == "each",
            Subscription.flagged.is_(False),
        )
        .options(selectinload(Subscription.user))
    ).all()
    organisations = {
        o.id: o
        for o in db.session.scalars(
            select(Organisation).where(
                Organisation.id.in_({s.organisation_id for s in subscriptions})
            )
        )
    }
    wanted = []
    for subscription in subscriptions:
        permitted = _permitted(subscription)
        if permitted is False:
            continue
        organisation = organisations[subscription.organisation_id]
        for invoice in by_organisation[subscription.organisation_id]:
            if invoice.created_at < subscription.created_at:
                continue
            if subscription.wants(invoice.kind, invoice.account_id, permitted):
                key = f"s{subscription.id}:i{invoice.id}"
                wanted.append(_delivery(subscription, organisation, [invoice], "invoice", key))
    ids = _add_deliveries(wanted)
    queue_deliveries(ids)
    return len(ids)


def note_created(invoice_id: int) -> None:
    """Remember a new invoice until :func:`flush_created` (end of the request)."""
    g.setdefault("notifications_created", []).append(invoice_id)


def flush_created() -> None:
    """Queue the fan-out of the invoices noted so far, a thousand per task. A queue that
    cannot be reached is logged: the import itself has succeeded."""
    noted = g.pop("notifications_created", None) or []
    try:
        for first in range(0, len(noted), FAN_OUT_SIZE):
            fan_out(noted[first : first + FAN_OUT_SIZE])
    except Exception:  # noqa: BLE001 - the import is committed; say what was not queued
        log.exception("new invoices could not be queued for notification: %s", noted)


@task(kind="mail")
def send_to_user(invoice_id: int, user_id: int) -> int:
    """E-mail a document to one user (the payer of a receipt), once, unless an address
    registered for it with the same e-mail gets it anyway; returns the deliveries queued."""
    invoice, user = db.session.get(Invoice, invoice_id), db.session.get(User, user_id)
    if invoice is None or user is None:
        return 0
    registered = db.session.scalars(
        select(Subscription).where(
            Subscription.organisation_id == invoice.organisation_id,
            func.lower(Subscription.email) == user.email.lower(),
            Subscription.frequency == "each",
            Subscription.flagged.is_(False),
        )
    ).all()
    permits = [(s, _permitted(s)) for s in registered]
    if any(p is not False and s.wants(invoice.kind, invoice.account_id, p) for s, p in permits):
        return 0
    organisation = db.session.get(Organisation, invoice.organisation_id)
    ids = _add_deliveries(
        [
            {
                "organisation_id": invoice.organisation_id,
                "key": f"u{user.id}:i{invoice.id}",
                "email": user.email,
                "attachments": True,
                "reason": "invoice",
                "locale": user.locale
                or organisation.locale
                or current_app.config["BABEL_DEFAULT_LOCALE"],
                "invoice_ids": [invoice.id],
                "summary": invoice.number,
            }
        ]
    )
    queue_deliveries(ids)
    return len(ids)


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


def _pending(delivery_ids: list[int]) -> list[Delivery]:
    """Those of these deliveries still to send (not sent, failed or being sent)."""
    return db.session.scalars(
        select(Delivery)
        .where(Delivery.id.in_(delivery_ids), Delivery.status.in_(("queued", "retrying")))
        .order_by(Delivery.id)
    ).all()


def _claim(delivery: Delivery) -> bool:
    """Take ``delivery`` for this worker, in one committed update, just before sending
    it; ``False`` when another worker took it first."""
    claimed = db.session.execute(
        update(Delivery)
        .where(Delivery.id == delivery.id, Delivery.status.in_(("queued", "retrying")))
        .values(status="sending", attempts=Delivery.attempts + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    delivery.attempts += 1
    return claimed == 1


def _flagged(delivery: Delivery) -> bool:
    """Whether the address of ``delivery`` is flagged after repeated failures (maybe
    by an earlier delivery of the same batch)."""
    if delivery.subscription_id is None:
        return False
    query = select(Subscription.flagged).where(Subscription.id == delivery.subscription_id)
    return bool(db.session.scalar(query))


def _record(
    delivery: Delivery, status: str, error: str = "", message_id: str = "", counts: bool = True
) -> None:
    """Write how a delivery went, and count its address's failures unless the failure
    is not the address's (``counts=False``: no mail server, never tried). Core
    statements, no ORM bookkeeping, committed at once."""
    deliveries, subscriptions = Delivery.__table__, Subscription.__table__
    now = utcnow()
    values = {"status": status, "error": error, "updated_at": now}
    if status == "sent":
        values.update(sent_at=now, message_id=message_id)
    db.session.execute(update(deliveries).where(deliveries.c.id == delivery.id).values(values))
    subscription = subscriptions.c.id == (delivery.subscription_id or 0)
    if status == "sent":
        reset = update(subscriptions).where(subscription, subscriptions.c.failures != 0)
        db.session.execute(reset.values(failures=0))
    elif status == "failed" and counts:
        failures = subscriptions.c.failures + 1
        db.session.execute(
            update(subscriptions)
            .where(subscription)
            .values(failures=failures, flagged=failures >= FLAG_AFTER_FAILURES)
        )
    db.session.commit()


def message_for(delivery: Delivery, invoices: list[Invoice]) -> EmailMessage:
    """The e-mail of ``delivery`` (about ``invoices``) in its recipient's language, PDFs
    attached if asked, with a Message-ID of its own."""
    with force_locale(delivery.locale):
        if delivery.reason == "invoice" and len(invoices) == 1:
            invoice = invoices[0]
            subject = render_template("notifications/subject.txt", invoice=invoice).strip()
        elif delivery.reason == "digest":
            subject = _("Your new invoices (%(count)d)", count=len(invoices))
        else:
            subject = _("Your invoices: %(numbers)s", numbers=delivery.summary)
        body = render_template(
            "notifications/email.txt",
            invoices=invoices,
            links={i.id: external_url("invoices.detail", invoice_id=i.id) for i in invoices},
            pay_links={i.id: payments.payment_link(i) for i in invoices},
        )
        message = EmailMessage(subject, body, to=[delivery.email])
        if delivery.attachments:
            keys = attached_formats(delivery)
            for invoice in invoices:
                kind = _("credit-note") if invoice.kind == "credit_note" else _("invoice")
                for key, document in attachments_of(invoice, keys):
                    suffix = "-facturx.pdf" if key == FACTURX else ".pdf"
                    message.attach(
                        f"{kind}-{invoice.number}{suffix}",
                        document.read(),
                        document.media_type,
                    )
    domain = current_app.config["MAIL_DEFAULT_SENDER"].rpartition("@")[2].rstrip(">") or "guichet"
    # RFC 5322's msg-id: the key (with its ':' and '@') as a digest, unique across resets
    tag = hashlib.sha256(delivery.key.encode()).hexdigest()[:16]
    message.extra_headers["Message-ID"] = f"<delivery-{delivery.id}.{tag}@{domain}>"
    return message


# The e-invoices app and its format, named as the document formats name them: this
# app never imports it, and attaches the plain PDF where it is off or refuses.
EINVOICES_APP, FACTURX = "einvoicing", "facturx"
FORMAT_KEYS = {"pdf": ("pdf",), "facturx": (FACTURX,), "both": ("pdf", FACTURX)}


def attached_formats(delivery: Delivery) -> tuple[str, ...]:
    """The formats a delivery attaches: its address's choice, the PDF alone where the
    organisation no longer has the e-invoices app."""
    keys = FORMAT_KEYS.get(delivery.attachment_format, ("pdf",))
    if EINVOICES_APP not in enabled_app_keys(delivery.organisation_id):
        return ("pdf",)
    return keys


def attachments_of(invoice: Invoice, keys: tuple[str, ...]) -> list[tuple[str, DocumentFile]]:
    """``invoice`` in each of ``keys``; a Factur-X the invoice cannot make gives way to
    its PDF (the customer gets the invoice, the log says why)."""
    found: dict[str, DocumentFile] = {}
    for key in keys:
        try:
            found[key] = document_file(invoice, key)
        except (FormatRefused, NoSuchFormat) as refused:
            log.warning("invoice %s attached as PDF, not %s: %s", invoice.number, key, refused)
            found.setdefault("pdf", document_file(invoice, "pdf"))
    return list(found.items())


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


@task(kind="mail")
def deliver(delivery_ids: list[int]) -> int:
    """Send these deliveries over one SMTP connection, each claimed just before it is
    sent; returns how many were sent. A temporary failure queues that delivery again
    after a back-off."""
    # what this task loads stays usable across its commits: it writes with statements
    db.session().expire_on_commit = False
    pending = _pending(delivery_ids)
    if pending and not mail_configured():
        for delivery in pending:  # not the address's fault: it was never tried
            _record(delivery, "failed", NOT_CONFIGURED, counts=False)
        return 0
    wanted = {i for delivery in pending for i in delivery.invoice_ids}
    invoices = {i.id: i for i in db.session.scalars(select(Invoice).where(Invoice.id.in_(wanted)))}
    sent, connection = 0, None
    try:
        for delivery in pending:
            if _flagged(delivery):
                _record(delivery, "failed", FLAGGED, counts=False)
                continue
            if not _claim(delivery):
                continue  # another worker took it
            try:
                message = message_for(
                    delivery, [invoices[i] for i in delivery.invoice_ids if i in invoices]
                )
                if connection is None:
                    connection = message.get_connection()
                    connection.open()
                message.connection = connection
                message.send()
            except Exception as error:  # noqa: BLE001 - every failure is recorded
                connection = _drop(connection)
                _failed(delivery, error)
                continue
            mark_sent(delivery, message.extra_headers["Message-ID"])
            sent += 1
    finally:
        _drop(connection)
    return sent


def mark_sent(delivery: Delivery, message_id: str) -> None:
    """Record that the server accepted the message (the step a stopped worker misses)."""
    _record(delivery, "sent", message_id=message_id)


def _drop(connection) -> None:
    if connection is not None:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - closing a broken connection may fail too
            log.debug("closing the SMTP connection failed", exc_info=True)
    return None


def _failed(delivery: Delivery, error: Exception) -> None:
    db.session.rollback()
    reason = _describe(error)
    if _temporary(error) and delivery.attempts < MAX_ATTEMPTS:
        _record(delivery, "retrying", reason)
        delay = backoff(delivery.attempts)
        deliver.schedule([delivery.id], delay=delay)
        log.info("delivery %s to retry in %s s: %s", delivery.id, delay, reason)
    else:
        _record(delivery, "failed", reason)
        log.warning("delivery %s failed: %s", delivery.id, reason)


DIGEST_SIZE = 100  # invoices per digest e-mail


def send_digests() -> int:
    """Periodic (daily): one e-mail per digest address with the invoices created since
    its last digest and since it was registered (several e-mails when there are more
    than :data:`DIGEST_SIZE`)."""
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
            select(*INVOICE_FACTS)
            .where(
                Invoice.organisation_id == subscription.organisation_id,
                Invoice.id > subscription.digest_after_id,
                Invoice.created_at >= subscription.created_at,  # not the past
            )
            .order_by(Invoice.id)
        ).all()
        chosen = [i for i in invoices if subscription.wants(i.kind, i.account_id, permitted)]
        parts = [chosen[n : n + DIGEST_SIZE] for n in range(0, len(chosen), DIGEST_SIZE)]
        wanted = [
            _delivery(
                subscription, organisation, part, "digest", f"s{subscription.id}:d{part[-1].id}"
            )
            for part in parts
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
