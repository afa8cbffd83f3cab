"""CSV exports of the whole filtered list, streamed row by row in constant memory, in
two dialects: French spreadsheets (semicolon, decimal comma, dd/mm/yyyy, UTF-8 with a
BOM) and standard CSV (comma, decimal point, ISO dates)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

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
        sign = "-" if cents < 0 else ""
        units, rest = divmod(abs(cents), 100)
        return f"{sign}{units}{self.decimal}{rest:02d}"

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
CHUNK = 500  # rows sent to the client at a time


class _Line:
    """A file-like object whose ``write`` returns what it was given (for csv.writer)."""

    def write(self, value: str) -> str:
        return value


def _rows(query: Select) -> Iterator:
    """Stream the rows of ``query`` in batches (server-side cursor on PostgreSQL)."""
    result = db.session.execute(query.execution_options(yield_per=BATCH))
    yield from result


def _chunked(lines: Iterator[str]) -> Iterator[str]:
    """Join CSV lines into chunks of a few hundred: fewer, larger writes to the client."""
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == CHUNK:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)


def invoice_rows(filtered: Select, dialect: Dialect, today: date) -> Iterator[str]:
    """One CSV row per invoice of ``filtered`` (the list's select), header first."""
    return _chunked(_invoice_lines(filtered, dialect, today))


def line_rows(filtered: Select, dialect: Dialect) -> Iterator[str]:
    """One CSV row per invoice line of the invoices of ``filtered``, header first."""
    return _chunked(_line_lines(filtered, dialect))


def _invoice_lines(filtered: Select, dialect: Dialect, today: date) -> Iterator[str]:
    writer = csv.writer(_Line(), delimiter=dialect.delimiter)
    yield ("\ufeff" if dialect.bom else "") + writer.writerow(INVOICE_HEADER)
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
    for kind, issued, number, ht, ttc, currency, subscriber, code, status, due in _rows(query):
        if status == "to_pay" and due is not None and due < today:
            status = "overdue"
        yield writer.writerow(
            [
                kind,
                dialect.day(issued),
                number,
                dialect.amount(ht),
                dialect.amount(ttc),
                currency,
                subscriber,
                code,
                status,
                dialect.day(due),
            ]
        )


def _line_lines(filtered: Select, dialect: Dialect) -> Iterator[str]:
    writer = csv.writer(_Line(), delimiter=dialect.delimiter)
    yield ("\ufeff" if dialect.bom else "") + writer.writerow(LINE_HEADER)
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
        yield writer.writerow(
            [
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
        )
