"""Import of invoices pushed by the provider's billing system (CLI now, API next).

The whole batch is checked first; any faulty row rejects the batch, with every fault
named by row and field, and nothing is written. Imports are idempotent, keyed by the
invoice number: the same data sent twice changes nothing and emits no event.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import delete, insert, select, update

from core.events import emit
from core.extensions import db
from core.models import Account, utcnow

from .models import KINDS, STATUSES, Invoice, InvoiceLine, InvoiceRange

REFERENCE_FIELDS = (
    "business_unit",
    "site_1",
    "site_2",
    "purchase_order",
    "framework_contract",
    "local_contract",
)
CENT = Decimal("0.01")
CHUNK = 1000  # numbers per look-up query


@dataclass(frozen=True)
class Fault:
    row: int  # 1-based position in the batch
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.field}: {self.message}"


class ImportRejected(ValueError):
    """The batch was refused whole; ``faults`` names each problem."""

    def __init__(self, faults: list[Fault]):
        super().__init__("; ".join(str(f) for f in faults[:20]))
        self.faults = faults


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def parse_amount(value: Any) -> int:
    """``"56267.25"`` (or ``56267.25`` written in JSON, or ``"56 267,25"``) → 5626725 cents."""
    if isinstance(value, bool) or value is None:
        raise ValueError("an amount is required")
    text = str(value).replace("\u202f", "").replace("\xa0", "").replace(" ", "").replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount") from None
    if amount != amount.quantize(CENT):
        raise ValueError(f"{value!r} has more than two decimals")
    return int(amount * 100)


def parse_decimal(value: Any) -> Decimal:
    try:
        result = Decimal(str(value).replace(",", "."))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not result.is_finite():
        raise ValueError(f"{value!r} is not a number")
    return result


def parse_date(value: Any) -> date:
    """ISO dates (``2022-05-27``) or French ones (``27/05/2022``)."""
    text = str(value or "").strip()
    try:
        if "/" in text:
            day, month, year = text.split("/")
            return date(int(year), int(month), int(day))
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a date (2022-05-27 or 27/05/2022)") from None


class _Row:
    """Reads one invoice of the batch, collecting faults instead of stopping."""

    def __init__(self, number: int, data: Any, faults: list[Fault]):
        self.row, self.faults = number, faults
        self.data = data if isinstance(data, dict) else {}
        if not isinstance(data, dict):
            self.fault("invoice", "must be an object")

    def fault(self, name: str, message: str) -> None:
        self.faults.append(Fault(self.row, name, message))

    def text(self, name: str, required: bool = False, max_length: int = 200, source=None) -> str:
        source = self.data if source is None else source
        value = source.get(name)
        if value is None or str(value).strip() == "":
            if required:
                self.fault(name, "is required")
            return ""
        value = str(value).strip()
        if len(value) > max_length:
            self.fault(name, f"is longer than {max_length} characters")
        return value

    def parsed(self, name: str, parser, required: bool = True, source=None, label=None):
        source = self.data if source is None else source
        if source.get(name) in (None, ""):
            if required:
                self.fault(label or name, "is required")
            return None
        try:
            return parser(source[name])
        except ValueError as error:
            self.fault(label or name, str(error))
            return None


def _read(row: _Row, accounts: dict[str, Account]) -> dict[str, Any] | None:
    data = row.data
    values: dict[str, Any] = {
        "number": row.text("number", required=True, max_length=32),
        "kind": data.get("type", "invoice"),
        "issued_on": row.parsed("date", parse_date),
        "due_on": row.parsed("due_date", parse_date, required=False),
        "status": data.get("status", "to_pay"),
        "currency": str(data.get("currency", "EUR")).upper(),
        "total_ht": row.parsed("total_ht", parse_amount),
        "total_ttc": row.parsed("total_ttc", parse_amount),
        "subscriber": row.text("subscriber"),
        "edi": bool(data.get("edi", False)),
    }
    if values["kind"] not in KINDS:
        row.fault("type", f"must be one of {', '.join(KINDS)}")
    if values["status"] not in STATUSES:
        row.fault("status", f"must be one of {', '.join(STATUSES)}")
    if len(values["currency"]) != 3 or not values["currency"].isalpha():
        row.fault("currency", "must be a three-letter code such as EUR")
    code = row.text("client_code", required=True, max_length=32)
    account = accounts.get(code)
    if code and account is None:
        row.fault("client_code", f"unknown client code {code}")
    sub_code = row.text("sub_account", max_length=32)
    sub_account = accounts.get(sub_code) if sub_code else None
    if sub_code and (
        sub_account is None or (account and sub_account.organisation_id != account.organisation_id)
    ):
        row.fault("sub_account", f"unknown client code {sub_code} in this organisation")
    references = data.get("references") or {}
    recipient = data.get("recipient") or {}
    for name in REFERENCE_FIELDS:
        values[name] = row.text(name, max_length=100, source=references)
    values["recipient_name"] = row.text("name", source=recipient)
    values["recipient_siret"] = row.text("siret", max_length=14, source=recipient)
    values["recipient_address"] = row.text("address", max_length=500, source=recipient)
    if values["recipient_siret"] and not (
        values["recipient_siret"].isdigit() and len(values["recipient_siret"]) == 14
    ):
        row.fault("recipient.siret", "a SIRET has 14 digits")

    lines = []
    for index, line in enumerate(data.get("lines") or [], start=1):
        line = line if isinstance(line, dict) else {}
        prefix = f"lines[{index}]"
        lines.append(
            {
                "position": index,
                "order_number": row.text("order_number", max_length=50, source=line),
                "label": row.text("label", max_length=300, source=line) or "—",
                "quantity": row.parsed(
                    "quantity", parse_decimal, source=line, label=f"{prefix}.quantity"
                ),
                "unit_price_ht": row.parsed(
                    "unit_price_ht", parse_decimal, source=line, label=f"{prefix}.unit_price_ht"
                ),
                "vat_rate": row.parsed(
                    "vat_rate", parse_decimal, source=line, label=f"{prefix}.vat_rate"
                ),
                "amount_ht": row.parsed(
                    "amount_ht", parse_amount, source=line, label=f"{prefix}.amount_ht"
                ),
            }
        )
    ranges = []
    for index, item in enumerate(data.get("ranges") or [], start=1):
        item = item if isinstance(item, dict) else {}
        prefix = f"ranges[{index}]"
        ranges.append(
            {
                "position": index,
                "label": row.text("label", required=True, source=item),
                "total_ht": row.parsed(
                    "total_ht", parse_amount, source=item, label=f"{prefix}.total_ht"
                ),
                "total_ttc": row.parsed(
                    "total_ttc", parse_amount, source=item, label=f"{prefix}.total_ttc"
                ),
            }
        )
    total_ht, total_ttc = values["total_ht"], values["total_ttc"]
    if total_ht is not None and total_ttc is not None:
        sign = -1 if values["kind"] == "credit_note" else 1
        if sign * total_ht < 0 or sign * total_ttc < 0:
            row.fault("total_ht", "a credit note has negative amounts, an invoice positive ones")
        line_amounts = [line["amount_ht"] for line in lines]
        if lines and None not in line_amounts and sum(line_amounts) != total_ht:
            row.fault("lines", "the lines' amounts do not add up to total_ht")
        range_amounts = [item["total_ht"] for item in ranges]
        if ranges and None not in range_amounts and sum(range_amounts) != total_ht:
            row.fault("ranges", "the ranges' totals do not add up to total_ht")
    if account is None or any(f.row == row.row for f in row.faults):
        return None
    values.update(
        organisation_id=account.organisation_id,
        account_id=account.id,
        sub_account_id=sub_account.id if sub_account else None,
        lines=lines,
        ranges=ranges,
    )
    values["source_hash"] = hashlib.sha256(
        json.dumps(values, sort_keys=True, default=str).encode()
    ).hexdigest()
    return values


def _write(
    new: list[dict], changed: list[dict], existing: dict[str, tuple[int, str]]
) -> dict[str, int]:
    """Insert the new invoices and replace the changed ones, with their lines and ranges,
    in bulk statements; returns the id of each written invoice by number."""
    ids: dict[str, int] = {}
    if new:
        table = Invoice.__table__  # Core statements: no ORM bookkeeping for bulk rows
        inserted = db.session.execute(
            insert(table).returning(table.c.id, table.c.number, sort_by_parameter_order=True),
            [_invoice_columns(v) for v in new],
        )
        ids.update({number: ident for ident, number in inserted})
    if changed:
        now = utcnow()
        ids.update({v["number"]: existing[v["number"]][0] for v in changed})
        db.session.execute(
            update(Invoice),
            [{"id": ids[v["number"]], **_invoice_columns(v), "updated_at": now} for v in changed],
        )
        replaced = [ids[v["number"]] for v in changed]
        for model in (InvoiceLine, InvoiceRange):
            db.session.execute(delete(model).where(model.invoice_id.in_(replaced)))
    written = new + changed
    for model, key in ((InvoiceLine, "lines"), (InvoiceRange, "ranges")):
        children = [{"invoice_id": ids[v["number"]], **child} for v in written for child in v[key]]
        if children:
            db.session.execute(insert(model.__table__), children)
    return ids


def _invoice_columns(values: dict) -> dict:
    return {k: v for k, v in values.items() if k not in ("lines", "ranges")}


def import_invoices(batch: list[Any]) -> ImportResult:
    """Check then write a batch of invoices (dicts as in the API); commits once.
    Raises :class:`ImportRejected` with every fault when any row is wrong."""
    if not isinstance(batch, list):
        raise ImportRejected([Fault(0, "invoices", "must be a list")])
    faults: list[Fault] = []
    codes = set()
    for item in batch:
        if isinstance(item, dict):
            codes.update(str(item.get(k) or "").strip() for k in ("client_code", "sub_account"))
    accounts = {
        a.client_code: a
        for a in db.session.scalars(select(Account).where(Account.client_code.in_(codes - {""})))
    }
    rows, seen = [], {}
    for number, item in enumerate(batch, start=1):
        values = _read(_Row(number, item, faults), accounts)
        if values is None:
            continue
        if values["number"] in seen:
            faults.append(Fault(number, "number", f"already in row {seen[values['number']]}"))
            continue
        seen[values["number"]] = number
        rows.append(values)
    if faults:
        raise ImportRejected(faults)

    existing: dict[str, tuple[int, str]] = {}
    numbers = list(seen)
    for first in range(0, len(numbers), CHUNK):
        chunk = numbers[first : first + CHUNK]
        query = select(Invoice.number, Invoice.id, Invoice.source_hash).where(
            Invoice.number.in_(chunk)
        )
        existing.update(
            {number: (ident, digest) for number, ident, digest in db.session.execute(query)}
        )

    result = ImportResult()
    new, changed = [], []
    for values in rows:
        found = existing.get(values["number"])
        if found is None:
            new.append(values)
        elif found[1] == values["source_hash"]:
            result.unchanged.append(values["number"])
        else:
            changed.append(values)
    ids = _write(new, changed, existing)
    result.created = [v["number"] for v in new]
    result.updated = [v["number"] for v in changed]
    events = [
        (
            name,
            {
                "organisation_id": v["organisation_id"],
                "invoice_id": ids[v["number"]],
                "number": v["number"],
            },
        )
        for name, group in (("invoice.created", new), ("invoice.updated", changed))
        for v in group
    ]
    db.session.commit()
    for name, payload in events:
        emit(name, payload)
    return result
