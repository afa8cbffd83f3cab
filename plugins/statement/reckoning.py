"""What a statement of account adds up, read from the invoices app's table through its
public module: each invoice and credit note on its day of issue, each payment on the
day it was paid (the invoice's ``paid_on``), the balance before and after a period, and
the ageing of what was still open at its end. Amounts are in cents; what the customer
owes is positive, a payment negative.

The movements are two streams read in order from two indexes, issues by (day, id) and
payments by (day, id), merged here: a page is the next (or previous) ones after a
:class:`Key`, whatever its depth, and a whole statement never sorts in the database."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import NamedTuple

from sqlalchemy import Select, case, func, literal, select, tuple_, union_all

from core.plugin_api import Scope, db, distinct_values, scoped, stream_rows
from plugins.invoices.public import Invoice

DUE = Invoice.total_ttc + Invoice.credited  # what an invoice leaves to pay
BUCKETS = ("not_due", "1_30", "31_60", "61_90", "over_90")  # days past the due date
ISSUED, PAID = 0, 1  # on one day, invoices and credit notes come before payments
CURRENCIES_READ = 50  # an organisation's currencies read along their index, at most


class Key(NamedTuple):
    """A movement's place in the statement: its day, ISSUED or PAID, the invoice's id."""

    day: date
    rank: int
    invoice_id: int

    def text(self) -> str:
        return f"{self.day.isoformat()}.{self.rank}.{self.invoice_id}"

    @classmethod
    def parse(cls, text: str) -> Key | None:
        """The key written by :meth:`text`, or None for anything else."""
        try:
            day, rank, ident = text.split(".")
            key = cls(date.fromisoformat(day), int(rank), int(ident))
        except ValueError:
            return None
        return key if key.rank in (ISSUED, PAID) else None


class Movement(NamedTuple):
    key: Key
    kind: str  # invoice, credit_note or payment
    number: str
    due_on: date | None
    amount: int

    @property
    def day(self) -> date:
        return self.key.day

    @property
    def invoice_id(self) -> int:
        return self.key.invoice_id


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

    @property
    def unapplied(self) -> int:
        """What the closing balance holds beside the open invoices: credit notes that
        cancel no invoice, payments beyond what was due (negative: owed to the customer)."""
        return self.closing - self.open_total


class Streams:
    """The two ordered streams of one currency's movements of ``scope`` in a period."""

    def __init__(self, scope: Scope, currency: str, start: date, end: date):
        self.start, self.end = start, end
        base = scoped(Invoice, scope).where(Invoice.currency == currency)
        self.issued = base.where(Invoice.issued_on.between(start, end))
        # only invoices are ever paid (the import and the payments set paid_on on them)
        self.paid = base.where(Invoice.paid_on.between(start, end))

    # -- totals --------------------------------------------------------------------

    def totals(self, result: Statement) -> None:
        """The period's sums by kind and its count of movements into ``result``."""
        by_kind = self.issued.with_only_columns(
            Invoice.kind, func.sum(Invoice.total_ttc), func.count()
        ).group_by(Invoice.kind)
        for kind, amount, count in db.session.execute(by_kind):
            result.count += count
            if kind == "credit_note":
                result.credited = int(amount)
            else:
                result.invoiced = int(amount)
        amount, count = db.session.execute(
            self.paid.with_only_columns(func.coalesce(func.sum(DUE), 0), func.count())
        ).one()
        result.paid, result.count = -int(amount), result.count + count

    def before(self, key: Key, result: Statement) -> tuple[int, int]:
        """(count, sum) of the movements of the period that come before ``key``, the
        period's totals being in ``result``. Each is read from the nearer end of the
        period: the movements before ``key``, or the period's less those from ``key``
        on (the last page of a year counts fifty movements, not the year's)."""
        if (key.day - self.start) <= (self.end - key.day):
            return self._count(key, after=False)
        count, total = self._count(key, after=True)
        return result.count - count, result.invoiced + result.credited + result.paid - total

    def _count(self, key: Key, after: bool) -> tuple[int, int]:
        """(count, sum) of the movements before ``key``, or with ``after`` from it on."""
        issued_first = key.rank == PAID  # a payment follows every issue of its day
        at_issue = tuple_(Invoice.issued_on, Invoice.id), tuple_(key.day, key.invoice_id)
        at_payment = tuple_(Invoice.paid_on, Invoice.id), tuple_(key.day, key.invoice_id)
        if after:
            issued = Invoice.issued_on > key.day if issued_first else at_issue[0] >= at_issue[1]
            paid = at_payment[0] >= at_payment[1] if issued_first else Invoice.paid_on >= key.day
        else:
            issued = Invoice.issued_on <= key.day if issued_first else at_issue[0] < at_issue[1]
            paid = at_payment[0] < at_payment[1] if issued_first else Invoice.paid_on < key.day
        count, total = 0, 0
        for query, amount in (
            (self.issued.where(issued), Invoice.total_ttc),
            (self.paid.where(paid), -DUE),
        ):
            n, s = db.session.execute(
                query.with_only_columns(func.count(), func.coalesce(func.sum(amount), 0))
            ).one()
            count, total = count + n, total + int(s)
        return count, total

    # -- pages ---------------------------------------------------------------------

    def _sides(self, key: Key | None, forward: bool) -> tuple[Select, Select]:
        """Each stream from ``key`` on (after it, or before it going back)."""
        issued, paid = self.issued, self.paid
        if key is not None:
            at_issue = tuple_(Invoice.issued_on, Invoice.id), tuple_(key.day, key.invoice_id)
            at_payment = tuple_(Invoice.paid_on, Invoice.id), tuple_(key.day, key.invoice_id)
            if forward:
                issued = issued.where(
                    Invoice.issued_on > key.day if key.rank == PAID else at_issue[0] > at_issue[1]
                )
                paid = paid.where(
                    at_payment[0] > at_payment[1]
                    if key.rank == PAID
                    else Invoice.paid_on >= key.day
                )
            else:
                issued = issued.where(
                    Invoice.issued_on <= key.day if key.rank == PAID else at_issue[0] < at_issue[1]
                )
                paid = paid.where(
                    at_payment[0] < at_payment[1] if key.rank == PAID else Invoice.paid_on < key.day
                )
        columns = (Invoice.kind, Invoice.number, Invoice.due_on)
        issued = issued.with_only_columns(
            Invoice.issued_on, literal(ISSUED), Invoice.id, *columns, Invoice.total_ttc
        )
        paid = paid.with_only_columns(Invoice.paid_on, literal(PAID), Invoice.id, *columns, -DUE)
        if forward:
            return (
                issued.order_by(Invoice.issued_on, Invoice.id),
                paid.order_by(Invoice.paid_on, Invoice.id),
            )
        return (
            issued.order_by(Invoice.issued_on.desc(), Invoice.id.desc()),
            paid.order_by(Invoice.paid_on.desc(), Invoice.id.desc()),
        )

    def page(self, key: Key | None, size: int, forward: bool = True) -> list[Movement]:
        """The ``size`` movements after ``key`` (from the start when None), or with
        ``forward=False`` the ``size`` before it (the last ones when None), in order."""
        rows = []
        for side in self._sides(key, forward):
            rows += [_movement(row) for row in db.session.execute(side.limit(size))]
        rows.sort(key=lambda m: m.key, reverse=not forward)
        rows = rows[:size]
        return rows if forward else rows[::-1]

    def every(self) -> Iterator[Movement]:
        """Every movement of the period in order, streamed (the CSV, the PDF)."""
        issued, paid = self._sides(None, True)
        return heapq.merge(
            map(_movement, stream_rows(issued)),
            map(_movement, stream_rows(paid)),
            key=lambda m: m.key,
        )


def _movement(row) -> Movement:
    day, rank, ident, kind, number, due_on, amount = row
    if rank == PAID:
        kind, due_on = "payment", None
    return Movement(Key(day, rank, ident), kind, number, due_on, int(amount))


def currencies(scope: Scope) -> list[str]:
    """The currencies the scope's invoices are in, EUR first when it is one of them."""
    found = None
    # on PostgreSQL, along the invoices' index by organisation and currency (reading
    # them took 41 ms for 200,000 invoices; SQLite reads them at once); a member limited
    # to some accounts sees their invoices' currencies only
    if scope.account_ids is None and db.session.get_bind().dialect.name == "postgresql":
        found = distinct_values(Invoice.currency, scope.organisation_id, CURRENCIES_READ)
    if found is None:
        query = scoped(Invoice, scope).with_only_columns(Invoice.currency).distinct()
        found = db.session.scalars(query).all()
    return sorted(found, key=lambda c: (c != "EUR", c)) or ["EUR"]


def statement(streams: Streams, scope: Scope, currency: str, alone: bool) -> Statement:
    """The balances, the period's totals by kind and the ageing at its end (``alone``:
    see :func:`ageing`): each sum read from an index."""
    result = Statement(streams.start, streams.end, currency)
    base = scoped(Invoice, scope).where(Invoice.currency == currency)
    issued = base.where(Invoice.issued_on < streams.start).with_only_columns(
        func.coalesce(func.sum(Invoice.total_ttc), 0)
    )
    paid = base.where(Invoice.paid_on < streams.start).with_only_columns(
        func.coalesce(func.sum(DUE), 0)
    )
    result.opening = int(db.session.scalar(issued)) - int(db.session.scalar(paid))
    streams.totals(result)
    result.ageing = ageing(scope, currency, streams.end, alone)
    return result


def ageing(scope: Scope, currency: str, day: date, alone: bool = False) -> dict[str, int]:
    """What was open at the end of ``day`` (issued by then, not paid by then), by days
    past its due date: not due yet, 1-30, 31-60, 61-90, over 90. ``alone``: the scope
    has no invoice in another currency, so none is set aside (the invoices to pay are
    then read from an index alone: 6 ms for 18,000 of them, 46 ms with the currency)."""
    # DUE > 0 leaves credit notes out (their amounts are negative); those issued after
    # ``day`` are set aside by the bucket, not the WHERE, which SQLite would read
    # through the index by date of issue
    base = scoped(Invoice, scope).where(DUE > 0)
    if not alone:
        base = base.where(Invoice.currency == currency)
    columns = (
        Invoice.issued_on.label("issued_on"),
        Invoice.due_on.label("due_on"),
        DUE.label("due"),
    )
    open_ = base.where(Invoice.status == "to_pay").with_only_columns(*columns)
    if day < date.today():  # and those paid since
        open_ = union_all(open_, base.where(Invoice.paid_on > day).with_only_columns(*columns))
    open_ = open_.subquery()
    bucket = case(
        (open_.c.issued_on > day, -1),
        (open_.c.due_on.is_(None) | (open_.c.due_on >= day), 0),
        (open_.c.due_on >= day - timedelta(days=30), 1),
        (open_.c.due_on >= day - timedelta(days=60), 2),
        (open_.c.due_on >= day - timedelta(days=90), 3),
        else_=4,
    ).label("bucket")
    found = dict.fromkeys(BUCKETS, 0)
    rows = db.session.execute(select(bucket, func.sum(open_.c.due)).group_by(bucket))
    for index, amount in rows:
        if index >= 0:
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
