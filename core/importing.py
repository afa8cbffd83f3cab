"""What every import shares (API and CLI, invoices, contracts, accounts ...).

A batch is checked whole before anything is written: each problem becomes a
:class:`Fault` naming the row and the field, and any fault rejects the batch with
:class:`ImportRejected`. Items are declared and read as pydantic models
(:mod:`core.import_items`). Files are read with :func:`read_file` (JSON or CSV), which
keeps each row's line number so faults name the line of the file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from flask.cli import with_appcontext
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Row,
    Select,
    Table,
    any_,
    bindparam,
    insert,
    select,
    text,
)

from core.extensions import db

CHUNK = 1000  # keys per look-up query
MAX_CENTS = 10**17  # amounts are stored in 64-bit integers


def insert_rows(table: Table, rows: list[dict[str, Any]], key: str | None = None) -> dict:
    """Insert many rows that share the same keys into ``table``, in the session's
    transaction, the fastest way the database offers: ``COPY`` on PostgreSQL (with ids
    drawn from the table's sequence first), an ``executemany`` elsewhere. Column
    defaults are applied as an ORM insert would. With ``key`` (a unique column), returns
    the new id of each row by its ``key`` value."""
    if not rows:
        return {}
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        if key is None:
            connection.execute(insert(table), rows)
            return {}
        returning = insert(table).returning(table.c.id, table.c[key])  # batched, any order
        return {value: ident for ident, value in connection.execute(returning, rows)}
    if key is not None:
        sequence = "nextval(pg_get_serial_sequence(:table, 'id'))"
        ids = connection.scalars(
            text(f"SELECT {sequence} FROM generate_series(1, :n)"),
            {"table": table.name, "n": len(rows)},
        ).all()
        rows = [{"id": ident, **row} for ident, row in zip(ids, rows, strict=True)]
    names = list(rows[0])
    defaults = {
        column.name: column.default.arg(None) if column.default.is_callable else column.default.arg
        for column in table.columns
        if column.name not in names and column.default is not None
    }
    columns = ", ".join(f'"{name}"' for name in [*names, *defaults])
    extra = tuple(defaults.values())
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row((*(row[name] for name in names), *extra))
    return {row[key]: row["id"] for row in rows} if key is not None else {}


def rows_matching(query: Select, column: ColumnElement, keys: Collection) -> list[Row]:
    """The rows of ``query`` whose ``column`` is one of ``keys``: one query with an array
    parameter on PostgreSQL, queries of :data:`CHUNK` keys elsewhere."""
    keys = list(keys)
    if db.session.get_bind().dialect.name == "postgresql":
        wanted = bindparam("keys", keys, type_=ARRAY(column.type))
        return list(db.session.execute(query.where(column == any_(wanted))))
    return [
        row
        for first in range(0, len(keys), CHUNK)
        for row in db.session.execute(query.where(column.in_(keys[first : first + CHUNK])))
    ]


def fingerprint(values: dict[str, Any]) -> str:
    """A digest of a row's checked values: the same data sent again gives the same
    digest, so an import can leave it unchanged. ``values`` must be built in a fixed
    key order (its ``repr`` is hashed, which is much cheaper than JSON)."""
    return hashlib.sha256(repr(values).encode()).hexdigest()


@dataclass(frozen=True)
class Fault:
    """One problem of a batch: ``row`` is the 1-based position in the batch (or the line
    of the file), ``field`` the faulty field (``lines[2].quantity``)."""

    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.field}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message": self.message}


class ImportRejected(ValueError):
    """The batch was refused whole; ``faults`` names each problem."""

    def __init__(self, faults: list[Fault]):
        super().__init__("; ".join(str(f) for f in faults[:20]))
        self.faults = faults

    def renumbered(self, rows: list[int]) -> ImportRejected:
        """The same faults with batch positions turned into file lines (``rows[i-1]``)."""
        return ImportRejected(
            [
                Fault(rows[f.row - 1] if 0 < f.row <= len(rows) else f.row, f.field, f.message)
                for f in self.faults
            ]
        )


@dataclass
class ImportResult:
    """The provider's keys of what was created, updated or left unchanged."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}

    def summary(self) -> str:
        return (
            f"{len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged"
        )


DIGITS = re.compile(r"[-+]?\d+(?:\.\d+)?")  # a number as people write it (after , → .)


def parse_amount(value: Any) -> int:
    """``"56267.25"`` (or ``56267.25`` written in JSON, or ``"56 267,25"``) → 5626725 cents."""
    if isinstance(value, bool) or value is None:
        raise ValueError("an amount is required")
    if isinstance(value, int) and abs(value) < MAX_CENTS // 100:
        return value * 100
    text = str(value)
    if not text.replace(".", "", 1).replace("-", "", 1).isdigit():  # the usual form is quick
        text = text.replace("\u202f", "").replace("\xa0", "").replace(" ", "").replace(",", ".")
    if not DIGITS.fullmatch(text):  # no 1e3, no NaN: an amount is written in digits
        raise ValueError(f"{value!r} is not an amount")
    amount = Decimal(text)
    cents = amount * 100
    if abs(cents) >= MAX_CENTS:
        raise ValueError(f"{value!r} is too large")
    if cents != int(cents):
        raise ValueError(f"{value!r} has more than two decimals")
    return int(cents)


def parse_decimal(value: Any) -> Decimal:
    """``"40722"``, ``"0,4567"`` or ``12.5`` → an exact :class:`~decimal.Decimal`;
    written in digits (``1e3`` is refused)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    text = str(value).strip().replace(",", ".")
    if not DIGITS.fullmatch(text):
        raise ValueError(f"{value!r} is not a number (write it in digits: 1250 or 0,25)")
    return Decimal(text)


def decimal_parser(digits: int, places: int) -> Callable[[Any], Decimal]:
    """A parser (see :func:`parse_decimal`) of the numbers a ``Numeric(digits, places)``
    column holds: one with more decimals, or too large, is a fault, never rounded
    nor left to overflow in the database."""
    limit = Decimal(10) ** (digits - places)
    step = Decimal(1).scaleb(-places)

    def parse(value: Any) -> Decimal:
        number = parse_decimal(value)
        if abs(number) >= limit:
            raise ValueError(f"{value!r} is too large (less than {limit:,} required)")
        if number != number.quantize(step):
            raise ValueError(f"{value!r} has more than {places} decimals")
        return number

    return parse


def parse_date(value: Any) -> date:
    """ISO dates (``2022-05-27``) or French ones (``27/05/2022``), written as text (a
    number is no date)."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a date: write it as text, 2022-05-27 or 27/05/2022")
    text = value.strip()
    try:
        if "/" in text:
            day, month, year = text.split("/")
            return date(int(year), int(month), int(day))
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a date (2022-05-27 or 27/05/2022)") from None


def parse_bool(value: Any) -> bool:
    """``true``/``false`` in JSON, or ``1``/``0``, ``oui``/``non``, ``yes``/``no`` in CSV."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "oui", "o", "y"):
        return True
    if text in ("0", "false", "no", "non", "n", ""):
        return False
    raise ValueError(f"{value!r} is not yes or no")


def accounts_by_code(batch: Any, fields: tuple[str, ...] = ("client_code",)) -> dict:
    """The accounts named by ``fields`` of the batch's items, by client code."""
    from core.models import Account

    items = batch if isinstance(batch, list) else []
    codes = {str(i.get(f) or "").strip() for i in items if isinstance(i, dict) for f in fields}
    found = rows_matching(select(Account), Account.client_code, codes - {""})
    return {account.client_code: account for (account,) in found}


def refuse_moves(rows: list[dict], stored: dict[str, int], key: str, field: str, what: str):
    """Raise :class:`ImportRejected` when a row (values read by :func:`read_batch`, in
    the batch's order) names for an object already stored under one organisation
    (``stored``: its ``key`` → organisation id) an account of another: an import
    never moves a customer's data to another customer. The fault names the object and
    both organisations."""
    moves = [
        (number, values)
        for number, values in enumerate(rows, start=1)
        if values[key] in stored and stored[values[key]] != values["organisation_id"]
    ]
    if not moves:
        return
    from core.directory import organisation_names

    ids = {stored[v[key]] for _, v in moves} | {v["organisation_id"] for _, v in moves}
    names = organisation_names(ids)
    raise ImportRejected(
        [
            Fault(
                number,
                field,
                f"{what} {values[key]} belongs to {names[stored[values[key]]]}, "
                f"not to {names[values['organisation_id']]}: an import never moves it to "
                "another organisation",
            )
            for number, values in moves
        ]
    )


class FileError(ValueError):
    """The file cannot be read at all (not JSON, not UTF-8, no header ...)."""


def read_file(path: str | Path, key: str) -> tuple[list[Any], list[int]]:
    """The items of a JSON file (a list, or ``{key: [...]}``) or of a CSV file (one dict
    per row, header names as keys, ``;`` or ``,`` separated, UTF-8 with or without BOM),
    and the file line of each item (its position in the list for JSON)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise FileError(
            f"{path.name}: not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    if path.suffix.lower() == ".csv":
        return read_csv(text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise FileError(f"{path.name}: not a JSON file ({error})") from None
    items = data.get(key) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise FileError(f'{path.name}: expected a list, or an object with a "{key}" list')
    return items, list(range(1, len(items) + 1))


def read_csv(text: str) -> tuple[list[dict[str, str]], list[int]]:
    """Rows of a CSV text as dicts, with the line number of each (the header is line 1)."""
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    if not reader.fieldnames:
        raise FileError("the CSV file has no header line")
    reader.fieldnames = [name.strip() for name in reader.fieldnames]
    rows, lines = [], []
    try:
        for row in reader:
            if None in row:
                raise FileError(f"line {reader.line_num}: more values than columns")
            rows.append({k: (v or "").strip() for k, v in row.items()})
            lines.append(reader.line_num)
    except csv.Error as error:
        raise FileError(f"line {reader.line_num}: {error}") from None
    return rows, lines


def nest_prefixed(row: dict[str, str], prefix: str, into: str) -> dict:
    """A CSV row with its ``prefix_`` columns moved into the object ``into``:
    ``{"organisation_siret": "1"}`` → ``{"organisation": {"siret": "1"}}``."""
    nested = {k.removeprefix(prefix): v for k, v in row.items() if k.startswith(prefix) and v}
    flat = {k: v for k, v in row.items() if not k.startswith(prefix)}
    return flat | {into: nested}


def import_file(
    path: str | Path,
    key: str,
    importer: Callable[[list[Any]], ImportResult],
    from_csv: Callable[[list[dict], list[int]], tuple[list[Any], list[int]]] | None = None,
) -> ImportResult:
    """Read ``path`` (JSON, or CSV turned into items by ``from_csv``) and import it;
    an :class:`ImportRejected` names the file's lines (CSV) or items (JSON)."""
    items, rows = read_file(path, key)
    if from_csv and Path(path).suffix.lower() == ".csv":
        items, rows = from_csv(items, rows)
    try:
        return importer(items)
    except ImportRejected as rejected:
        raise rejected.renumbered(rows) from None


def import_command(group: click.Group, importer, key: str, from_csv=None, **settings):
    """Add ``import PATH`` to ``group``: a JSON or CSV file through ``importer`` (see
    :func:`core.importing.import_file`); faults are printed by line, nothing is written
    unless the whole file is right. ``settings`` go to ``click.command`` (``help``)."""

    @group.command("import", **settings)
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    @with_appcontext
    def command(path):
        unit = "line" if path.lower().endswith(".csv") else "item"
        try:
            result = import_file(path, key, importer, from_csv)
        except FileError as error:
            raise click.ClickException(str(error)) from None
        except ImportRejected as rejected:
            for fault in rejected.faults:
                click.echo(f"{unit} {fault.row}, {fault.field}: {fault.message}", err=True)
            raise click.ClickException(
                f"{path}: rejected, {len(rejected.faults)} fault(s); nothing was imported"
            ) from None
        click.echo(result.summary())

    return command
