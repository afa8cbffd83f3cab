"""CSV exports of the whole filtered list of invoices, or of their lines (streamed by
:mod:`core.csvexport`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from functools import lru_cache

from sqlalchemy import Select

from core.plugin_api import (
    Account,
    Dialect,
    csv_text,
    stream_rows,
)
from core.plugin_api import lazy_gettext as _l

from .labels import KIND_LABELS, STATUS_LABELS
from .models import Invoice, InvoiceLine

INVOICE_COLUMNS = (
    ("type", _l("Type")),
    ("date", _l("Date")),
    ("number", _l("Invoice number")),
    ("amount_ht", _l("Amount excl. VAT")),
    ("amount_ttc", _l("Amount incl. VAT")),
    ("currency", _l("Currency")),
    ("subscriber", _l("Subscriber")),
    ("client_code", _l("Client code")),
    ("status", _l("Status")),
    ("due_date", _l("Due date")),
    ("cancels", _l("Cancels the invoice")),
)
#: the columns of text that comes from outside: numbers, names, references
INVOICE_TEXT = tuple(
    i
    for i, (key, _) in enumerate(INVOICE_COLUMNS)
    if key in ("number", "subscriber", "client_code", "cancels")
)
LINE_COLUMNS = (
    ("invoice_number", _l("Invoice number")),
    ("invoice_date", _l("Invoice date")),
    ("client_code", _l("Client code")),
    ("order_number", _l("Order number")),
    ("label", _l("Article")),
    ("quantity", _l("Quantity")),
    ("unit_price_ht", _l("Unit price excl. VAT")),
    ("vat_rate", _l("VAT rate")),
    ("amount_ht", _l("Amount excl. VAT")),
    ("currency", _l("Currency")),
)


LINE_TEXT = tuple(
    i
    for i, (key, _) in enumerate(LINE_COLUMNS)
    if key in ("invoice_number", "client_code", "order_number", "label")
)


def invoice_rows(filtered: Select, dialect: Dialect, today: date) -> Iterator[str]:
    """One CSV row per invoice of ``filtered`` (the list's select), header first."""
    header = dialect.header(INVOICE_COLUMNS)
    return csv_text(header, _invoice_values(filtered, dialect, today), dialect, INVOICE_TEXT)


def line_rows(filtered: Select, dialect: Dialect) -> Iterator[str]:
    """One CSV row per invoice line of the invoices of ``filtered``, header first."""
    return csv_text(
        dialect.header(LINE_COLUMNS), _line_values(filtered, dialect), dialect, LINE_TEXT
    )


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
            Invoice.cancels,
            Invoice.credited,
        )
        .order_by(Invoice.issued_on.desc(), Invoice.id.desc())
    )
    amount, day = dialect.amount, lru_cache(maxsize=4096)(dialect.day)  # few distinct days
    kinds, statuses = _labels(KIND_LABELS, dialect), _labels(STATUS_LABELS, dialect)
    for (
        kind,
        issued,
        number,
        ht,
        ttc,
        currency,
        subscriber,
        code,
        status,
        due,
        cancels,
        credited,
    ) in stream_rows(query):
        if status == "to_pay" and kind == "invoice" and ttc + credited <= 0:
            status = "cancelled"
        elif status == "to_pay" and due is not None and due < today:
            status = "overdue"
        yield [
            kinds[kind],
            day(issued),
            number,
            amount(ht),
            amount(ttc),
            currency,
            subscriber,
            code,
            statuses[status],
            day(due),
            cancels,
        ]


def _labels(labels: dict, dialect: Dialect) -> dict[str, str]:
    """Each code's text in this export (translated once, not per row)."""
    return {code: dialect.label(code, labels) for code in labels}


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
