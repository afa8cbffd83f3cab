"""E-invoices sent through the approved platform the installation chose
(``EINVOICING_PLATFORM``), and their statuses read back.

Each invoice an import creates, issued since ``EINVOICING_SINCE`` (the reform's first
day), is transmitted once by the worker in ``EINVOICING_PLATFORM_FORMAT`` (the file
the customer downloads), with a key made of its number and content so that a retry
deposits nothing twice; a platform that cannot be reached is tried again with a
growing delay, a refusal is kept with its reason for the operators. Its transmission
is written ``queued`` before its task is: one a stopped worker took with it (or a
queue that could not be reached) is queued again by :func:`resume`. Every few minutes
the worker reads the statuses the platform has for them, and records each against
the invoice's history (never backwards), as the API's imports are.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date, timedelta

from flask import current_app, g
from flask_babel import force_locale
from sqlalchemy import select

from core.plugin_api import (
    Deposit,
    FormatRefused,
    PlatformError,
    db,
    document_file,
    einvoicing_platform,
    emit,
    insert_rows,
    resume_stuck,
    rows_matching,
    task,
    utcnow,
)
from plugins.invoices.public import Invoice

from . import lifecycle
from .data import siren
from .models import STATUSES, PlatformCursor, Transmission

log = logging.getLogger(__name__)
FLAVORS = {"facturx": "factur-x", "ubl": "ubl"}  # our format key -> the protocol's
#: A transmission still queued this long after its last change was lost with a stopped
#: worker: every try of one (seven, with growing delays) takes about an hour in all.
STUCK = timedelta(hours=3)
RESUME_BATCH = 5000  # transmissions queued again by one run of :func:`resume`


def note(invoice_id: int) -> None:
    """Remember a new invoice until :func:`flush` (the end of the request), where a
    platform is configured."""
    if einvoicing_platform() is not None:
        g.setdefault("einvoicing_to_send", []).append(invoice_id)


def flush() -> None:
    """Write a ``queued`` transmission for each noted invoice issued since
    ``EINVOICING_SINCE``, then queue their tasks (one query: an import of older
    invoices, like the demo's 3,000, queues nothing for them, where the worker would
    have taken 30 s to skip them). A queue that cannot be reached is logged; the
    transmissions stay queued for :func:`resume`."""
    noted = g.pop("einvoicing_to_send", None) or []
    platform = einvoicing_platform()
    if not noted or platform is None:
        return
    since = date.fromisoformat(current_app.config["EINVOICING_SINCE"])
    recent = select(Invoice.id, Invoice.organisation_id, Invoice.number).where(
        Invoice.issued_on >= since
    )
    db.session.rollback()  # what the request did not commit is not ours to commit
    try:
        rows = rows_matching(recent, Invoice.id, set(noted))
        known = {
            r.invoice_id
            for r in rows_matching(
                select(Transmission.invoice_id), Transmission.invoice_id, [r.id for r in rows]
            )
        }
        fresh = [r for r in rows if r.id not in known]
        insert_rows(
            Transmission.__table__,
            [
                {
                    "invoice_id": r.id,
                    "organisation_id": r.organisation_id,
                    "number": r.number,
                    "platform": platform.key,
                }
                for r in fresh
            ],
        )
        db.session.commit()
        for row in fresh:
            transmit(row.id)
    except Exception:  # noqa: BLE001 - the import is committed; say what was not queued
        db.session.rollback()
        log.exception("new invoices could not be queued for their platform")


def resume() -> int:
    """Queue again the transmissions a stopped worker left queued (a task it held is
    gone with it), up to :data:`RESUME_BATCH`; returns how many. Their clock restarts,
    so each is queued again once per :data:`STUCK`; :func:`transmit` deposits nothing
    twice. Run by the job queue every 15 minutes."""
    if einvoicing_platform() is None:
        return 0
    waiting = Transmission.state == "queued"
    stuck = resume_stuck(
        Transmission.invoice_id, waiting, Transmission.updated_at, STUCK, transmit, RESUME_BATCH
    )
    if stuck:
        log.warning("%d e-invoice transmission(s) left queued, queued again", len(stuck))
    return len(stuck)


def _failed(invoice_id: int, error: Exception | None = None) -> None:
    """The last try failed: the transmission is ``failed``, with why."""
    db.session.rollback()
    sent = db.session.get(Transmission, invoice_id)
    if sent is not None and sent.state != "sent":
        sent.state, sent.error = "failed", str(getattr(error, "message", error))
        db.session.commit()


# after mail and payments: a customer waits for those, the platform can wait minutes
@task(kind="documents", retries=6, retry_delay=60, on_failure=_failed, priority=-5)
def transmit(invoice_id: int) -> str:
    """Send one invoice to the platform, once; returns what became of it. The document
    is made, and the platform called, outside any write transaction: each step's
    record is committed at once, so other jobs never wait on this one."""
    platform = einvoicing_platform()
    invoice = db.session.get(Invoice, invoice_id)
    if platform is None or invoice is None:
        return "no platform" if platform is None else "no invoice"
    since = date.fromisoformat(current_app.config["EINVOICING_SINCE"])
    if invoice.issued_on < since:
        return "issued before e-invoicing"
    known = db.session.get(Transmission, invoice.id)
    if known is not None and known.state == "sent":  # once sent, a credit note corrects it
        return "sent already"
    key = current_app.config["EINVOICING_PLATFORM_FORMAT"]
    try:
        document = document_file(invoice, key)
    except FormatRefused as refused:
        _note(invoice, platform.key, state="failed", error=str(refused))
        return "refused"
    content = document.read()
    deposit = Deposit(
        number=invoice.number,
        kind=invoice.kind,
        flavor=FLAVORS[key],
        filename=document.filename,
        media_type=document.media_type,
        content=content,
        buyer_siren=siren(invoice.recipient_siret) or "",
        buyer_routing_id=invoice.recipient_routing_id,
        idempotency_key=f"{invoice.number}-{hashlib.sha256(content).hexdigest()[:32]}",
    )
    _note(invoice, platform.key, attempt=True)
    try:
        remote_id = platform.transmit(deposit)
    except PlatformError as error:
        if error.retry:
            _note(invoice, platform.key, error=error.message)
            log.warning("invoice %s: platform unavailable, tried again later", invoice.number)
            raise
        _note(invoice, platform.key, state="failed", error=error.message)
        return "refused by the platform"
    _note(invoice, platform.key, state="sent", error="", remote_id=remote_id, sent_at=utcnow())
    return "sent"


def _note(invoice, platform: str, attempt: bool = False, **changes) -> None:
    """Record (and commit) what became of the invoice's transmission."""
    sent = db.session.get(Transmission, invoice.id) or Transmission(
        invoice_id=invoice.id,
        organisation_id=invoice.organisation_id,
        number=invoice.number,
        platform=platform,
        state="queued",
        remote_id="",
        error="",
        attempts=0,
    )
    sent.attempts += 1 if attempt else 0
    for name, value in changes.items():
        setattr(sent, name, value)
    db.session.add(sent)
    db.session.commit()


def poll_statuses() -> int:
    """Read the platform's new statuses and record them; returns how many were new. A
    platform that cannot be reached is tried at the next period."""
    platform = einvoicing_platform()
    if platform is None:
        return 0
    position = db.session.get(PlatformCursor, platform.key) or PlatformCursor(
        platform=platform.key, cursor=""
    )
    recorded = 0
    while True:
        try:
            found, cursor = platform.statuses(position.cursor)
        except PlatformError as error:
            log.warning("the platform's statuses could not be read: %s", error.message)
            break
        with force_locale("en"):  # what is logged is read by the operators' tools
            events = [e for e in (_record(status) for status in found) if e is not None]
        position.cursor = cursor
        db.session.add(position)
        db.session.commit()
        for payload in events:
            emit("einvoice.status", payload)
        recorded += len(events)
        if not found:
            break
    return recorded


def _record(status) -> dict | None:
    """One status from the platform, recorded unless it is known, unknown or may not
    follow (each logged); the event to emit once committed."""
    invoice = db.session.scalar(select(Invoice).where(Invoice.number == status.number))
    if invoice is None or status.code not in STATUSES:
        log.warning("platform status %s of %s ignored: unknown", status.code, status.number)
        return None
    try:
        added = lifecycle.record(invoice, status.code, status.on_date, status.reason, "platform")
    except lifecycle.StatusRefused as refused:
        log.warning("platform status of %s ignored: %s", status.number, refused)
        return None
    if added is None:
        return None
    db.session.flush()
    return lifecycle.event(added, invoice)
