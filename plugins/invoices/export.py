"""CSV exports of the whole filtered list, streamed row by row in constant memory, in
two dialects: French spreadsheets (semicolon, decimal comma, dd/mm/yyyy, UTF-8 with a
BOM) and standard CSV (comma, decimal point, ISO dates)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from itertools import islice

from sqlalchemy import Select

from core.extensions import db
from core.models import Account

from .models import Invoice, InvoiceLine


@dataclass(frozen=True)
class Dialect:
    delimiter: str
    decimal: str
    bom: bool
    french_dates: bool

    def amount(self, cents: int) -> str:
        digits = str(abs(cents)).rjust(3, "0")
        return ("-" if cents < 0 else "") + digits[:-2] + self.decimal + digits[-2:]

    def decimal_number(self, value: Decimal) -> str:
        text = format(value.normalize(), "f")
        return text.replace(".", self.decimal)

    def day(self, value: date | None) -> str:
        if value is None:
            return ""
        if self.french_dates:
            return f"{value.day:02d}/{value.month:02d}/{value.year}"
        return value.isoformat()


DIALECTS = {
    "fr": Dialect(delimiter=";", decimal=",", bom=True, french_dates=True),
    "std": Dialect(delimiter=",", decimal=".", bom=False, french_dates=False),
}

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
BATCH = 1000  # rows fetched from the database at a time
CHUNK = 1000  # rows sent to the client at a time


def _rows(query: Select) -> Iterator:
    """Stream the rows of ``query`` in batches (server-side cursor on PostgreSQL), as
    plain Core rows: no ORM bookkeeping per row."""
    connection = db.session.connection()
    result = connection.execution_options(yield_per=BATCH).execute(query)
    for partition in result.partitions():
        yield from partition


def _csv(header: list[str], rows: Iterator[list], dialect: Dialect) -> Iterator[str]:
    """The CSV text of ``header`` and ``rows``, a few hundred rows per chunk: fewer,
    larger writes to the client."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=dialect.delimiter)
    buffer.write("\ufeff" if dialect.bom else "")
    writer.writerow(header)
    while batch := list(islice(rows, CHUNK)):
        writer.writerows(batch)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def invoice_rows(filtered: Select, dialect: Dialect, today: date) -> Iterator[str]:
    """One CSV row per invoice of ``filtered`` (the list's select), header first."""
    return _csv(INVOICE_HEADER, _invoice_values(filtered, dialect, today), dialect)


def line_rows(filtered: Select, dialect: Dialect) -> Iterator[str]:
    """One CSV row per invoice line of the invoices of ``filtered``, header first."""
    return _csv(LINE_HEADER, _line_values(filtered, dialect), dialect)


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
    for kind, issued, number, ht, ttc, currency, subscriber, code, status, due in _rows(query):
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
    for number, issued, code, order, label, quantity, price, vat, amount, currency in _rows(query):
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
