"""What a payment of invoices does to them (this app's ``invoices`` payment purpose):
paid, the invoices still to pay become paid; charged back, they are to pay again."""

from __future__ import annotations

from datetime import date

from sqlalchemy import bindparam, select, update

from core.plugin_api import PaymentChange, PurposeOutcome, db, utcnow

from . import totals
from .models import Invoice

_PAY = (
    update(Invoice)
    .where(Invoice.id.in_(bindparam("ids", expanding=True)), Invoice.status == "to_pay")
    .values(status="paid", paid_on=bindparam("today"), updated_at=bindparam("now"))
    .returning(Invoice.id)
)


def _updated(organisation_id: int, ids) -> list[tuple[str, dict]]:
    return [("invoice.updated", {"organisation_id": organisation_id, "invoice_id": i}) for i in ids]


def paid(change: PaymentChange) -> PurposeOutcome:
    """Mark the payment's invoices paid (``invoice.paid`` for each); one paid meanwhile
    (another way) is named in the payment's problem for the operators."""
    payment = change.payment
    ids = [invoice_id for invoice_id, _amount in payment.targets]
    before = totals.snapshot(ids)
    now = utcnow()
    done = db.session.scalars(_PAY, {"ids": ids, "now": now, "today": date.today()}).all()
    totals.apply(before, totals.snapshot(ids))
    problem = ""
    if len(done) != len(ids):
        numbers = db.session.scalars(
            select(Invoice.number).where(Invoice.id.in_(set(ids) - set(done)))
        ).all()
        problem = f"already paid before this payment: {', '.join(sorted(numbers))}"
    paid_events = [
        ("invoice.paid", {"organisation_id": payment.organisation_id, "invoice_id": i})
        for i in done
    ]
    events = _updated(payment.organisation_id, done) + paid_events
    return PurposeOutcome(events=events, problem=problem)


def charged_back(change: PaymentChange) -> PurposeOutcome:
    """The bank took the money back: the invoices are to pay again."""
    payment = change.payment
    ids = [invoice_id for invoice_id, _amount in payment.targets]
    before = totals.snapshot(ids)
    db.session.execute(
        update(Invoice)
        .where(Invoice.id.in_(ids))
        .values(status="to_pay", paid_on=None, updated_at=utcnow())
    )
    totals.apply(before, totals.snapshot(ids))
    return PurposeOutcome(events=_updated(payment.organisation_id, ids))
