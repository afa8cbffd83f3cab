"""What a statement of account adds up, read from the invoices app's table through its
public module: each invoice and credit note on its day of issue, each payment on the
day it was paid (the invoice's ``paid_on``), the balance before and after a period, and
the ageing of what was still open at its end. Amounts are in cents; what the customer
owes is positive, a payment negative."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import Date, Select, case, func, literal, select, union_all

from core.plugin_api import Scope, db, scoped
from plugins.invoices.public import Invoice

DUE = Invoice.total_ttc + Invoice.credited  # what an invoice leaves to pay
BUCKETS = ("not_due", "1_30", "31_60", "61_90", "over_90")  # days past the due date


@dataclass
class Statement:
    """One currency's statement of ``scope`` from ``start`` to ``end`` (both included)."""

    start: date
    end: date
    currency: str
    opening: int = 0
    invoiced: int = 0
    credited: int = 0
    paid: int = 0  # negative: what the customer paid
    count: int = 0  # movements in the period
    ageing: dict[str, int] = field(default_factory=dict)

    @property
    def closing(self) -> int:
        return self.opening + self.invoiced + self.credited + self.paid

    @property
    def open_total(self) -> int:
        return sum(self.ageing.values())


def _base(scope: Scope, currency: str) -> Select:
    return scoped(Invoice, scope).where(Invoice.currency == currency)


def movements(scope: Scope, currency: str, start: date, end: date):
    """The period's movements, a subquery of (day, rank, invoice_id, kind, number,
    due_on, amount): invoices and credit notes on their day of issue (rank 0), then
    payments on the day they were paid (rank 1, kind ``payment``)."""
    base = _base(scope, currency)
    issued = base.where(Invoice.issued_on.between(start, end)).with_only_columns(
        Invoice.issued_on.label("day"),
        literal(0).label("rank"),
        Invoice.id.label("invoice_id"),
        Invoice.kind.label("kind"),
        Invoice.number.label("number"),
        Invoice.due_on.label("due_on"),
        Invoice.total_ttc.label("amount"),
    )
    paid = base.where(
        Invoice.kind == "invoice", Invoice.paid_on.between(start, end)
    ).with_only_columns(
        Invoice.paid_on,
        literal(1),
        Invoice.id,
        literal("payment"),
        Invoice.number,
        literal(None, Date),
        -DUE,
    )
    return union_all(issued, paid).subquery("movements")


def in_order(moves) -> Select:
    """The movements by day, invoices before payments, then by number."""
    return select(moves).order_by(moves.c.day, moves.c.rank, moves.c.number)


def running_before(moves, offset: int) -> int:
    """The sum of the first ``offset`` movements in order (what a later page starts on)."""
    if offset <= 0:
        return 0
    first = in_order(moves).with_only_columns(moves.c.amount).limit(offset).subquery()
    return int(db.session.scalar(select(func.coalesce(func.sum(first.c.amount), 0))))


def currencies(scope: Scope) -> list[str]:
    """The currencies the scope's invoices are in, EUR first when it is one of them."""
    found = db.session.scalars(
        scoped(Invoice, scope).with_only_columns(Invoice.currency).distinct()
    ).all()
    return sorted(found, key=lambda c: (c != "EUR", c)) or ["EUR"]


def statement(scope: Scope, currency: str, start: date, end: date) -> Statement:
    """The balances, the period's totals by kind and the ageing at ``end``: six queries
    however many invoices the scope holds (each an index range)."""
    result = Statement(start, end, currency)
    base = _base(scope, currency)
    issued = base.where(Invoice.issued_on < start).with_only_columns(
        func.coalesce(func.sum(Invoice.total_ttc), 0)
    )
    paid = base.where(Invoice.kind == "invoice", Invoice.paid_on < start).with_only_columns(
        func.coalesce(func.sum(DUE), 0)
    )
    result.opening = int(db.session.scalar(issued)) - int(db.session.scalar(paid))
    moves = movements(scope, currency, start, end)
    totals = select(moves.c.kind, func.sum(moves.c.amount), func.count()).group_by(moves.c.kind)
    for kind, amount, count in db.session.execute(totals):
        result.count += count
        if kind == "invoice":
            result.invoiced = int(amount)
        elif kind == "credit_note":
            result.credited = int(amount)
        else:
            result.paid = int(amount)
    result.ageing = ageing(scope, currency, end)
    return result


def ageing(scope: Scope, currency: str, day: date) -> dict[str, int]:
    """What was open at the end of ``day`` (issued by then, not paid by then), by days
    past its due date: not due yet, 1-30, 31-60, 61-90, over 90."""
    base = _base(scope, currency).where(
        Invoice.kind == "invoice", Invoice.issued_on <= day, DUE > 0
    )
    columns = (Invoice.due_on.label("due_on"), DUE.label("due"))
    still = base.where(Invoice.status == "to_pay").with_only_columns(*columns)
    later = base.where(Invoice.paid_on > day).with_only_columns(*columns)
    open_ = union_all(still, later).subquery()
    bucket = case(
        (open_.c.due_on.is_(None) | (open_.c.due_on >= day), 0),
        (open_.c.due_on >= day - timedelta(days=30), 1),
        (open_.c.due_on >= day - timedelta(days=60), 2),
        (open_.c.due_on >= day - timedelta(days=90), 3),
        else_=4,
    ).label("bucket")
    found = dict.fromkeys(BUCKETS, 0)
    rows = db.session.execute(select(bucket, func.sum(open_.c.due)).group_by(bucket))
    for index, amount in rows:
        found[BUCKETS[index]] = int(amount)
    return found


def to_pay(scope: Scope, today: date) -> list[tuple[str, int, int]]:
    """(currency, amount due, of which overdue) of the scope's invoices to pay."""
    overdue = case((Invoice.due_on < today, DUE), else_=0)
    query = (
        scoped(Invoice, scope)
        .where(Invoice.kind == "invoice", Invoice.status == "to_pay", DUE > 0)
        .with_only_columns(Invoice.currency, func.sum(DUE), func.sum(overdue))
        .group_by(Invoice.currency)
        .order_by(Invoice.currency)
    )
    return [(c, int(due), int(late)) for c, due, late in db.session.execute(query)]
