"""Import of invoices pushed by the provider's billing system, through the API or the CLI.

The whole batch is checked first; any faulty row rejects the batch, with every fault
named by row and field, and nothing is written. Imports are idempotent, keyed by the
invoice number: the same data sent twice changes nothing and emits no event.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import aliased

from core.plugin_api import (
    Account,
    Fault,
    ImportRejected,
    ImportResult,
    RowReader,
    accounts_by_code,
    db,
    decimal_parser,
    decode_pdf,
    document_digest,
    emit,
    fingerprint,
    insert_rows,
    parse_amount,
    parse_bool,
    parse_date,
    read_batch,
    refuse_moves,
    rows_matching,
    store_document,
    utcnow,
)

from .models import KINDS, STATUSES, Invoice, InvoiceLine, InvoiceRange

REFERENCE_FIELDS = (
    "business_unit",
    "site_1",
    "site_2",
    "purchase_order",
    "framework_contract",
    "local_contract",
)
LINE_NUMBERS = (  # each fits its column (see models.InvoiceLine)
    ("quantity", decimal_parser(18, 3)),
    ("unit_price_ht", decimal_parser(18, 6)),
    ("vat_rate", decimal_parser(5, 2)),
    ("amount_ht", parse_amount),
)
CHILDREN = ("lines", "ranges", "pdf")


def _read(row: RowReader, accounts: dict[str, Account]) -> dict[str, Any] | None:
    data = row.data
    values: dict[str, Any] = {
        "number": row.text("number", required=True, max_length=32),
        "kind": row.choice("type", KINDS, "invoice"),
        "cancels": row.text("cancels", max_length=32),
        "issued_on": row.parsed("date", parse_date),
        "due_on": row.parsed("due_date", parse_date, required=False),
        "status": row.choice("status", STATUSES, "to_pay"),
        "currency": str(data.get("currency") or "EUR").upper(),
        "total_ht": row.parsed("total_ht", parse_amount),
        "total_ttc": row.parsed("total_ttc", parse_amount),
        "subscriber": row.text("subscriber"),
        "notes": row.text("notes", max_length=2000),
        "edi": bool(row.parsed("edi", parse_bool, required=False)),
    }
    if values["cancels"] and values["kind"] != "credit_note":
        row.fault("cancels", "only a credit note cancels an invoice")
    elif values["cancels"] and values["cancels"] == values["number"]:
        row.fault("cancels", "a credit note cannot cancel itself")
    if len(values["currency"]) != 3 or not values["currency"].isalpha():
        row.fault("currency", "must be a three-letter code such as EUR")
    account = row.account("client_code", accounts)
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
    pdf = row.parsed("pdf", decode_pdf, required=False)
    pdf = pdf.data if pdf else None
    values["pdf_sha256"] = document_digest(pdf) if pdf else ""

    lines = []
    for index, line in enumerate(row.items("lines"), start=1):
        prefix = f"lines[{index}]"
        lines.append(
            {
                "position": index,
                "order_number": row.text(
                    "order_number", max_length=50, source=line, label=f"{prefix}.order_number"
                ),
                "label": row.text("label", max_length=300, source=line, label=f"{prefix}.label")
                or "—",
                **{
                    name: row.parsed(name, parser, source=line, label=f"{prefix}.{name}")
                    for name, parser in LINE_NUMBERS
                },
            }
        )
    ranges = []
    for index, item in enumerate(row.items("ranges"), start=1):
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
    if account is None or not row.ok:
        return None
    values.update(
        organisation_id=account.organisation_id,
        account_id=account.id,
        sub_account_id=sub_account.id if sub_account else None,
        lines=lines,
        ranges=ranges,
    )
    values["source_hash"] = fingerprint(values)
    values["pdf"] = pdf
    return values


def _write(
    new: list[dict], changed: list[dict], existing: dict[str, tuple[int, str, int]]
) -> dict[str, int]:
    """Insert the new invoices and replace the changed ones, with their lines and ranges,
    in bulk statements; returns the id of each written invoice by number."""
    ids: dict[str, int] = {}
    if new:
        # no ORM bookkeeping for bulk rows
        ids.update(insert_rows(Invoice.__table__, [_invoice_columns(v) for v in new], "number"))
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
            insert_rows(model.__table__, children)
    return ids


def _credit_targets(written: list[dict], existing: dict[str, tuple[int, str, int]]) -> set[str]:
    """The invoices whose credit notes change with these rows: those the credit notes
    written cancel (now, and before this import), and the invoices written that a
    stored credit note names (it may have come first)."""
    targets = {v["cancels"] for v in written if v["cancels"]}
    replaced = [existing[v["number"]][0] for v in written if v["number"] in existing]
    if replaced:
        before = select(Invoice.cancels).where(Invoice.cancels != "")
        targets |= {row.cancels for row in rows_matching(before, Invoice.id, replaced)}
    invoices = [v["number"] for v in written if v["kind"] == "invoice"]
    if invoices:
        named = select(Invoice.cancels).where(Invoice.kind == "credit_note")
        targets |= {row.cancels for row in rows_matching(named, Invoice.cancels, invoices)}
    return targets


def _set_credits_against(numbers: set[str]) -> None:
    """Keep ``credited`` of these invoices: the sum of the credit notes of their own
    organisation that name them, in whichever order the two arrive."""
    notes = aliased(Invoice)
    credited = (
        select(func.coalesce(func.sum(notes.total_ttc), 0))
        .where(notes.cancels == Invoice.number, notes.organisation_id == Invoice.organisation_id)
        .where(notes.kind == "credit_note")
        .scalar_subquery()
    )
    ordered = sorted(numbers)
    for start in range(0, len(ordered), 500):
        db.session.execute(
            update(Invoice)
            .where(Invoice.number.in_(ordered[start : start + 500]), Invoice.kind == "invoice")
            .values(credited=credited)
            .execution_options(synchronize_session=False)
        )


def _existing(numbers: list[str]) -> dict[str, tuple[int, str, int]]:
    """The id, fingerprint and organisation of each of ``numbers`` already stored."""
    query = select(Invoice.number, Invoice.id, Invoice.source_hash, Invoice.organisation_id)
    found = rows_matching(query, Invoice.number, numbers)
    return {row.number: (row.id, row.source_hash, row.organisation_id) for row in found}


def _invoice_columns(values: dict) -> dict:
    return {k: v for k, v in values.items() if k not in CHILDREN}


def import_invoices(batch: list[Any]) -> ImportResult:
    """Check then write a batch of invoices (dicts as in the API); commits once.
    Raises :class:`ImportRejected` with every fault when any row is wrong."""
    accounts = accounts_by_code(batch, ("client_code", "sub_account"))
    rows = read_batch(batch, "invoice", lambda row: _read(row, accounts))

    existing = _existing([v["number"] for v in rows])
    refuse_moves(
        rows, {n: found[2] for n, found in existing.items()}, "number", "number", "invoice"
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
    for values in new + changed:
        if values["pdf"]:
            store_document(values["pdf"])  # by content: a failed commit leaves an unused copy
    targets = _credit_targets(new + changed, existing)
    ids = _write(new, changed, existing)
    if targets:
        _set_credits_against(targets)
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


# CSV files carry one row per invoice line: the invoice's columns are repeated on each
# of its rows, and the "line_" and "range_" columns add a line or a range to it.
INVOICE_COLUMNS = (
    "number",
    "type",
    "cancels",
    "date",
    "due_date",
    "status",
    "currency",
    "total_ht",
    "total_ttc",
    "subscriber",
    "client_code",
    "sub_account",
    "edi",
    "notes",
)
RECIPIENT_COLUMNS = {
    "recipient_name": "name",
    "recipient_siret": "siret",
    "recipient_address": "address",
}


def from_csv(rows: list[dict[str, str]], lines: list[int]) -> tuple[list[dict], list[int]]:
    """The invoices (as the API takes them) of CSV rows, and the first file line of each;
    rows of one invoice must repeat the same invoice columns."""
    invoices: dict[str, dict] = {}
    first_line: dict[str, int] = {}
    faults: list[Fault] = []
    for row, line in zip(rows, lines, strict=True):
        number = row.get("number", "") or f"(line {line})"
        invoice = {k: row[k] for k in INVOICE_COLUMNS if row.get(k)}
        invoice["references"] = {k: row[k] for k in REFERENCE_FIELDS if row.get(k)}
        invoice["recipient"] = {v: row[k] for k, v in RECIPIENT_COLUMNS.items() if row.get(k)}
        known = invoices.get(number)
        if known is None:
            invoices[number] = invoice | {"lines": [], "ranges": []}
            first_line[number] = line
            known = invoices[number]
        elif any(known.get(k) != v for k, v in invoice.items()):
            faults.append(
                Fault(
                    line,
                    "number",
                    f"{number} differs from its first row, line {first_line[number]}",
                )
            )
        if row.get("line_label") or row.get("line_amount_ht"):
            known["lines"].append(_prefixed(row, "line_"))
        if row.get("range_label"):
            known["ranges"].append(_prefixed(row, "range_"))
    if faults:
        raise ImportRejected(faults)
    return list(invoices.values()), [first_line[n] for n in invoices]


def _prefixed(row: dict[str, str], prefix: str) -> dict[str, str]:
    return {k.removeprefix(prefix): v for k, v in row.items() if k.startswith(prefix) and v}
