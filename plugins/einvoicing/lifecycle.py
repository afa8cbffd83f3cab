"""Recording an invoice's lifecycle statuses: from the provider's billing system or an
approved platform (the ``invoice_statuses`` import), from a payment made through the
portal (Encaissée), from the buyer (Refusée, Litige). Every one is checked against the
invoice's history: never after a final status, never back to an earlier step; the
same status on the same day, sent again, changes nothing."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from flask_babel import force_locale
from sqlalchemy import Select, exists, select
from sqlalchemy.orm import aliased

from core.plugin_api import (
    Fault,
    ImportItem,
    ImportRejected,
    ImportResult,
    choice_field,
    db,
    emit,
    parse_date,
    parsed_field,
    pgettext,
    read_batch,
    rows_matching,
    scoped,
    text_field,
)
from core.plugin_api import gettext as _
from plugins.invoices.public import Invoice

from .models import STATUSES, LifecycleStatus, may_follow

log = logging.getLogger(__name__)
DATE = {"type": "string", "description": "2026-09-01 or 01/09/2026"}


class StatusRefused(ValueError):
    """A status that may not follow the invoice's history; the message says why."""


class StatusItem(ImportItem):
    """One status of an invoice, as the ``invoice_statuses`` import takes it."""

    number: text_field(32, required=True, examples=("62268557",))
    code: choice_field(*STATUSES, default="")
    date: parsed_field(parse_date, DATE)
    reason: text_field(required=False) = ""


def history(invoice_id: int) -> list[LifecycleStatus]:
    """The statuses of an invoice, oldest first."""
    query = select(LifecycleStatus).where(LifecycleStatus.invoice_id == invoice_id)
    return db.session.scalars(query.order_by(LifecycleStatus.id)).all()


NO_STATUS = "none"  # the list's filter for invoices with no status yet


def filter_choices() -> list[tuple[str, Any]]:
    """The invoice list's lifecycle filter: no status yet, then each status by step."""
    statuses = [(code, f"{code} {label}") for code, (_step, label) in STATUSES.items()]
    return [(NO_STATUS, pgettext("e-invoice", "No status yet")), *statuses]


def with_current_status(query: Select, code: str) -> Select:
    """``query`` (of invoices) narrowed to those whose latest status is ``code``, or
    that have none yet (:data:`NO_STATUS`)."""
    if code == NO_STATUS:
        return query.where(~exists().where(LifecycleStatus.invoice_id == Invoice.id))
    newer = aliased(LifecycleStatus)
    latest = ~exists().where(
        newer.invoice_id == LifecycleStatus.invoice_id, newer.id > LifecycleStatus.id
    )
    current = (
        scoped(LifecycleStatus)
        .with_only_columns(LifecycleStatus.invoice_id)
        .where(LifecycleStatus.code == code, latest)
    )
    return query.where(Invoice.id.in_(current))


HOLDING = {"207": "disputed by the buyer", "210": "refused by the buyer"}


def holds(invoice_ids: list[int]) -> dict[int, str]:
    """The invoices among these whose latest status is a dispute or a refusal, with
    why (in English: it goes to the reminders' log), for ``guichet_collection_holds``."""
    if not invoice_ids:
        return {}
    newer = aliased(LifecycleStatus)
    latest = ~exists().where(
        newer.invoice_id == LifecycleStatus.invoice_id, newer.id > LifecycleStatus.id
    )
    query = select(LifecycleStatus.invoice_id, LifecycleStatus.code).where(
        LifecycleStatus.code.in_(HOLDING), latest
    )
    rows = rows_matching(query, LifecycleStatus.invoice_id, invoice_ids)
    return {row.invoice_id: HOLDING[row.code] for row in rows}


def refusal(codes: list[str], code: str) -> str | None:
    """Why ``code`` may not follow ``codes`` (oldest first), or None when it may."""
    if may_follow(codes, code):
        return None
    return _(
        "%(new)s cannot follow %(last)s.",
        new=f"{code} {STATUSES[code][1]}",
        last=f"{codes[-1]} {STATUSES[codes[-1]][1]}",
    )


def record(invoice, code: str, on: date, reason: str, source: str) -> LifecycleStatus | None:
    """Add status ``code`` to ``invoice`` (not committed); None when it is there already
    for that day, :class:`StatusRefused` when it may not follow the history."""
    past = history(invoice.id)
    if any(s.code == code and s.on_date == on for s in past):
        return None
    problem = refusal([s.code for s in past], code)
    if problem:
        raise StatusRefused(problem)
    status = LifecycleStatus(
        organisation_id=invoice.organisation_id,
        invoice_id=invoice.id,
        code=code,
        on_date=on,
        reason=reason,
        source=source,
    )
    db.session.add(status)
    return status


def import_statuses(batch: Any) -> ImportResult:
    """Check then record a batch of statuses (in their order); commits once. Raises
    :class:`ImportRejected` naming each fault (an unknown invoice, a status that may not
    follow), and then records nothing."""
    rows = read_batch(batch, "status", StatusItem, _values, key="key", field="code")
    numbers = {row["number"] for row in rows}
    invoices = {
        i.number: i for i in db.session.scalars(select(Invoice).where(Invoice.number.in_(numbers)))
    }
    faults, codes, seen = [], {}, {}
    for position, row in enumerate(rows, start=1):
        invoice = invoices.get(row["number"])
        if invoice is None:
            faults.append(Fault(position, "number", "no such invoice"))
            continue
        if invoice.id not in codes:
            past = history(invoice.id)
            codes[invoice.id] = [s.code for s in past]
            seen[invoice.id] = {(s.code, s.on_date) for s in past}
        if (row["code"], row["date"]) in seen[invoice.id]:
            continue
        with force_locale("en"):  # the API speaks English to machines
            problem = refusal(codes[invoice.id], row["code"])
        if problem:
            faults.append(Fault(position, "code", problem))
            continue
        codes[invoice.id].append(row["code"])
        seen[invoice.id].add((row["code"], row["date"]))
    if faults:
        raise ImportRejected(faults)
    result, events = ImportResult(), []
    for row in rows:
        invoice = invoices[row["number"]]
        status = record(invoice, row["code"], row["date"], row["reason"], "provider")
        key = f"{row['number']} {row['code']}"
        if status is None:
            result.unchanged.append(key)
        else:
            result.created.append(key)
            events.append(event(status, invoice))
    db.session.commit()
    for payload in events:
        emit("einvoice.status", payload)
    return result


def _values(item: StatusItem) -> dict[str, Any]:
    return {
        "key": f"{item.number} {item.code} {item.date}",
        "number": item.number,
        "code": item.code,
        "date": item.date,
        "reason": item.reason,
    }


def event(status: LifecycleStatus, invoice) -> dict[str, Any]:
    """The payload of ``einvoice.status``: what a platform's plugin passes on."""
    return {
        "organisation_id": invoice.organisation_id,
        "invoice_id": invoice.id,
        "number": invoice.number,
        "code": status.code,
        "reason": status.reason,
        "source": status.source,
    }


def cashed(invoice_id: int) -> None:
    """An invoice paid through the portal is "Encaissée" (212), unless its history
    forbids it (refused, rejected: then the payment is the operators' to look at)."""
    invoice = db.session.get(Invoice, invoice_id)
    try:
        status = record(invoice, "212", date.today(), "", "payment")
    except StatusRefused as refused:
        log.warning("invoice %s paid, not marked cashed: %s", invoice.number, refused)
        return
    db.session.commit()
    if status is not None:
        emit("einvoice.status", event(status, invoice))
