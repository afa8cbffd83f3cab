"""CSV exports streamed row by row in constant memory, in two dialects: French
spreadsheets (semicolon, decimal comma, dd/mm/yyyy, UTF-8 with a BOM, headers and
values in the reader's language: "Statut;À payer") and standard CSV (comma, decimal
point, ISO dates, stable keys and codes for programs: "status;to_pay"). Apps build
rows; this module streams them, with every text cell that a spreadsheet would take
for a formula neutralised (see :func:`safe_cell`)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import islice
from typing import Any

from flask import Response, abort, request, stream_with_context
from sqlalchemy import Select

from core.extensions import db
from core.i18n import gettext as _

BATCH = 1000  # rows fetched from the database at a time
CHUNK = 1000  # rows sent to the client at a time


@dataclass(frozen=True)
class Dialect:
    delimiter: str
    decimal: str
    bom: bool
    french_dates: bool
    for_people: bool  # headers and values in the reader's language, for a spreadsheet

    def header(self, columns: Sequence[tuple[str, Any]]) -> list[str]:
        """The header row of ``columns`` (key, label) pairs: the labels, translated,
        for a spreadsheet; the keys in standard CSV."""
        return [str(label) if self.for_people else key for key, label in columns]

    def label(self, code: str, labels: Mapping[str, Any]) -> str:
        """A code (a status, a kind) as its label for a spreadsheet, as itself in
        standard CSV (an unknown code stays itself)."""
        return str(labels.get(code, code)) if self.for_people else code

    def amount(self, cents: int) -> str:
        """Minor units as a decimal amount: ``-1250`` → ``-12,50`` (French)."""
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
    "fr": Dialect(delimiter=";", decimal=",", bom=True, french_dates=True, for_people=True),
    "std": Dialect(delimiter=",", decimal=".", bom=False, french_dates=False, for_people=False),
}


def requested_dialect() -> Dialect:
    """The ``dialect`` argument (``fr``, the default, or ``std``); 400 otherwise."""
    dialect = DIALECTS.get(request.args.get("dialect", "fr"))
    if dialect is None:
        abort(400, _("Say dialect=fr or dialect=std."))
    return dialect


def stream_rows(query: Select) -> Iterator:
    """The rows of ``query`` in batches (a server-side cursor on PostgreSQL), as plain
    Core rows: no ORM bookkeeping per row."""
    # the option on this statement only: set on the connection, it stays there (SQLAlchemy
    # 2), and PostgreSQL would then be asked a cursor for the request's next INSERT
    result = db.session.connection().execute(query, execution_options={"yield_per": BATCH})
    for partition in result.partitions():
        yield from partition


# What a spreadsheet reads as the start of a formula (OWASP's "CSV injection").
FORMULA_START = frozenset("=+-@\t\r")
NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")


def safe_cell(value: Any) -> Any:
    """``value``, with a quote before it when it is text a spreadsheet would run as a
    formula (``=HYPERLINK(...)`` → ``'=HYPERLINK(...)``); numbers (``-12,50``) and
    everything else unchanged."""
    if isinstance(value, str) and value[:1] in FORMULA_START and not NUMBER.fullmatch(value):
        return "'" + value
    return value


def _safe_rows(rows: Iterator[list], text_columns: Sequence[int] | None) -> Iterator[list]:
    """:func:`safe_cell` on every cell, or on the ``text_columns`` of each row (a list),
    written out: this runs for each cell of an export (a function call per cell was 40%
    of a 150,000-row export's time)."""
    starts, number = FORMULA_START, NUMBER.fullmatch
    if text_columns is None:
        for row in rows:
            yield [
                "'" + v if v.__class__ is str and v[:1] in starts and not number(v) else v
                for v in row
            ]
        return
    for row in rows:
        for i in text_columns:
            v = row[i]
            if v.__class__ is str and v[:1] in starts and not number(v):
                row[i] = "'" + v
        yield row


def csv_text(
    header: list[str],
    rows: Iterator[list],
    dialect: Dialect,
    text_columns: Sequence[int] | None = None,
) -> Iterator[str]:
    """The CSV text of ``header`` (see :meth:`Dialect.header`) and ``rows``,
    :data:`CHUNK` rows per piece: fewer, larger writes to the client. No cell starts
    a formula (:func:`safe_cell`): every cell is checked, or with ``text_columns`` the
    cells at those positions, the ones that may hold text from outside (a name, a
    reference), when the others are amounts, dates and labels the app wrote itself."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=dialect.delimiter)
    buffer.write("\ufeff" if dialect.bom else "")
    writer.writerow([safe_cell(label) for label in header])
    rows = _safe_rows(rows, text_columns)
    while batch := list(islice(rows, CHUNK)):
        writer.writerows(batch)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def csv_response(body: Iterator[str], name: str) -> Response:
    """Stream ``body`` as the download ``name``-YYYY-MM-DD.csv (the file name carries
    the date)."""
    filename = f"{name}-{date.today().isoformat()}.csv"
    return Response(
        stream_with_context(body),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
