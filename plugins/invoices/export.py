"""CSV exports of the whole filtered list of invoices, or of their lines (streamed by
:mod:`core.csvexport`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from functools import lru_cache

from sqlalchemy import Select

from core.csvexport import Dialect, csv_text, stream_rows
from core.models import Account

from .models import Invoice, InvoiceLine

INVOICE_HEADER = [
    "type",
    "date",
    "number",
    "amount_ht",
    "amount_ttc",
    "currency",
    "subscriber",
    "client_code",
    "status",
    "due_date",
]
LINE_HEADER = [
    "invoice_number",
    "invoice_date",
    "client_code",
    "order_number",
    "label",
    "quantity",
    "unit_price_ht",
    "vat_rate",
    "amount_ht",
    "currency",
]


def invoice_rows(filtered: Select, dialect: Dialect, today: date) -> Iterator[str]:
    """One CSV row per invoice of ``filtered`` (the list's select), header first."""
    return csv_text(INVOICE_HEADER, _invoice_values(filtered, dialect, today), dialect)


def line_rows(filtered: Select, dialect: Dialect) -> Iterator[str]:
    """One CSV row per invoice line of the invoices of ``filtered``, header first."""
    return csv_text(LINE_HEADER, _line_values(filtered, dialect), dialect)


def _invoice_values(filtered: Select, dialect: Dialect, today: date) -> Iterator[list]:
    query = (
        filtered.join(Account, Account.id == Invoice.account_id)
        .with_only_columns(
            Invoice.kind,
            Invoice.issued_on,
            Invoice.number,
            Invoice.total_ht,
            Invoice.total_ttc,
            Invoice.currency,
            Invoice.subscriber,
            Account.client_code,
            Invoice.status,
            Invoice.due_on,
        )
        .order_by(Invoice.issued_on.desc(), Invoice.id.desc())
    )
    amount, day = dialect.amount, lru_cache(maxsize=4096)(dialect.day)  # few distinct days
    for kind, issued, number, ht, ttc, currency, subscriber, code, status, due in stream_rows(
        query
    ):
        if status == "to_pay" and due is not None and due < today:
            status = "overdue"
        yield [
            kind,
            day(issued),
            number,
            amount(ht),
            amount(ttc),
            currency,
            subscriber,
            code,
            status,
            day(due),
        ]


def _line_values(filtered: Select, dialect: Dialect) -> Iterator[list]:
    query = (
        filtered.join(Account, Account.id == Invoice.account_id)
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .with_only_columns(
            Invoice.number,
            Invoice.issued_on,
            Account.client_code,
            InvoiceLine.order_number,
            InvoiceLine.label,
            InvoiceLine.quantity,
            InvoiceLine.unit_price_ht,
            InvoiceLine.vat_rate,
            InvoiceLine.amount_ht,
            Invoice.currency,
        )
        .order_by(Invoice.issued_on.desc(), Invoice.id.desc(), InvoiceLine.position)
    )
    for number, issued, code, order, label, quantity, price, vat, amount, currency in stream_rows(
        query
    ):
        yield [
            number,
            dialect.day(issued),
            code,
            order,
            label,
            dialect.decimal_number(quantity),
            dialect.decimal_number(price),
            dialect.decimal_number(vat),
            dialect.amount(amount),
            currency,
        ]
