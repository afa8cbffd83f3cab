"""What is still to pay, kept per account, month of issue and currency
(:class:`~.models.InvoiceTotal`), so that the dashboard's widget reads a few dozen rows
instead of every invoice to pay.

Whatever changes invoices (an import, a credit note set against an invoice, a payment,
a chargeback) takes a :func:`snapshot` of what the invoices it touches leave to pay
before and after the change, in its own transaction, and :func:`apply` adds the
difference to the totals: the work grows with the invoices changed, never with those
an account holds. :func:`rebuild` computes every total from the invoices."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from sqlalchemy import and_, bindparam, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from core.plugin_api import db, insert_rows, rows_matching

from .models import Invoice, InvoiceTotal

DUE = Invoice.total_ttc + Invoice.credited  # what is left to pay on an invoice to pay
TO_PAY = and_(Invoice.kind == "invoice", Invoice.status == "to_pay", DUE > 0)

# (organisation, account, first day of the month of issue, currency)
Key = tuple[int, int, date, str]
Snapshot = dict[int, tuple[Key, int]]  # invoice id -> its key and what it leaves to pay

_totals = InvoiceTotal.__table__
_ADD = {
    dialect.dialect.name: dialect.insert(_totals)
    .values(
        organisation_id=bindparam("org"),
        account_id=bindparam("account"),
        month=bindparam("month"),
        currency=bindparam("currency"),
        to_pay_count=bindparam("count"),
        to_pay_amount=bindparam("amount"),
    )
    .on_conflict_do_update(
        index_elements=["account_id", "month", "currency"],
        set_={
            "to_pay_count": _totals.c.to_pay_count + bindparam("count"),
            "to_pay_amount": _totals.c.to_pay_amount + bindparam("amount"),
        },
    )
    for dialect in (sqlite, postgresql)
}


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def snapshot(invoice_ids: Iterable[int]) -> Snapshot:
    """What each of these invoices leaves to pay now, with its totals' key (an invoice
    that leaves nothing to pay is not in it)."""
    query = select(
        Invoice.id,
        Invoice.organisation_id,
        Invoice.account_id,
        Invoice.issued_on,
        Invoice.currency,
        DUE,
    ).where(TO_PAY)
    return {
        ident: ((org, account, month_of(day), currency), due)
        for ident, org, account, day, currency, due in rows_matching(
            query, Invoice.id, set(invoice_ids)
        )
    }


def apply(before: Snapshot, after: Snapshot) -> None:
    """Add to the totals what changed between two snapshots of the same invoices (in
    the caller's transaction); totals left at nothing are removed."""
    changes: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    for sign, found in ((-1, before), (1, after)):
        for key, due in found.values():
            changes[key][0] += sign
            changes[key][1] += sign * due
    moved = [(key, count, amount) for key, (count, amount) in changes.items() if count or amount]
    if not moved:
        return
    statement = _ADD[db.session.get_bind().dialect.name]
    db.session.execute(
        statement,
        [
            {
                "org": org,
                "account": account,
                "month": month,
                "currency": currency,
                "count": count,
                "amount": amount,
            }
            for (org, account, month, currency), count, amount in moved
        ],
    )
    accounts = {key[1] for key, _count, _amount in moved}
    db.session.execute(
        delete(InvoiceTotal).where(
            InvoiceTotal.to_pay_count == 0, InvoiceTotal.account_id.in_(accounts)
        )
    )


def rebuild() -> None:
    """Compute every total again from the invoices (not committed)."""
    rows = db.session.execute(
        select(
            Invoice.organisation_id,
            Invoice.account_id,
            Invoice.issued_on,
            Invoice.currency,
            func.count(),
            func.sum(DUE),
        )
        .where(TO_PAY)
        .group_by(Invoice.organisation_id, Invoice.account_id, Invoice.issued_on, Invoice.currency)
    )
    totals: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    for org, account, day, currency, count, amount in rows:
        totals[(org, account, month_of(day), currency)][0] += count
        totals[(org, account, month_of(day), currency)][1] += int(amount)
    db.session.execute(delete(InvoiceTotal))
    insert_rows(
        _totals,
        [
            {
                "organisation_id": org,
                "account_id": account,
                "month": month,
                "currency": currency,
                "to_pay_count": count,
                "to_pay_amount": amount,
            }
            for (org, account, month, currency), (count, amount) in totals.items()
        ],
    )
