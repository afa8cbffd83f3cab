"""Import of invoices pushed by the provider's billing system, through the API or the CLI.

The whole batch is checked first; any faulty row rejects the batch, with every fault
named by row and field, and nothing is written. Imports are idempotent, keyed by the
invoice number: the same data sent twice changes nothing and emits no event.
"""

from __future__ import annotations

from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import aliased

from core.plugin_api import (
    Account,
    Fault,
    ImportRejected,
    ImportResult,
    accounts_by_code,
    db,
    document_digest,
    emit,
    fingerprint,
    insert_rows,
    read_batch,
    refuse_moves,
    rows_matching,
    store_document,
    utcnow,
)

from . import totals
from .models import Invoice, InvoiceLine, InvoiceRange
from .schema import InvoiceItem, InvoiceReferences

REFERENCE_FIELDS = tuple(InvoiceReferences.model_fields)


class Stored(NamedTuple):
    """What an import needs of an invoice already stored."""

    id: int
    source_hash: str
    organisation_id: int


CHILDREN = ("lines", "ranges", "pdf")


def _read(item: InvoiceItem, accounts: dict[str, Account]) -> dict[str, Any]:
    """The columns of a valid invoice, its lines and ranges, and its fingerprint."""
    account, sub = accounts[item.client_code], accounts.get(item.sub_account)
    values: dict[str, Any] = {
        "number": item.number,
        "kind": item.type,
        "cancels": item.cancels,
        "issued_on": item.date,
        "due_on": item.due_date,
        "status": item.status,
        "currency": item.currency,
        "total_ht": item.total_ht,
        "total_ttc": item.total_ttc,
        "subscriber": item.subscriber,
        "notes": item.notes,
        "edi": bool(item.edi),
        **item.references.model_dump(),
        "recipient_name": item.recipient.name,
        "recipient_siret": item.recipient.siret,
        "recipient_address": item.recipient.address,
        "recipient_vat_number": item.recipient.vat_number,
        "recipient_routing_id": item.recipient.routing_id,
        "recipient_routing_scheme": item.recipient.routing_scheme,
        "buyer_reference": item.buyer_reference,
        "payment_terms": item.payment_terms,
        "payment_means": item.payment_means,
        "pdf_sha256": document_digest(item.pdf.data) if item.pdf else "",
        "organisation_id": account.organisation_id,
        "account_id": account.id,
        "sub_account_id": sub.id if sub else None,
        "lines": [
            {
                "position": n,
                "order_number": line.order_number,
                "label": line.label or "—",
                "quantity": line.quantity,
                "unit_price_ht": line.unit_price_ht,
                "vat_rate": line.vat_rate,
                "amount_ht": line.amount_ht,
                "vat_category": line.vat_category,
                "vat_exemption_reason": line.vat_exemption_reason,
            }
            for n, line in enumerate(item.lines, start=1)
        ],
        "ranges": [
            {"position": n, "label": r.label, "total_ht": r.total_ht, "total_ttc": r.total_ttc}
            for n, r in enumerate(item.ranges, start=1)
        ],
    }
    if item.paid_on:  # absent, not None: a payload without it keeps its fingerprint
        values["paid_on"] = item.paid_on
    values["source_hash"] = fingerprint(values)
    values["pdf"] = item.pdf.data if item.pdf else None
    return values


def _write(new: list[dict], changed: list[dict], existing: dict[str, Stored]) -> dict[str, int]:
    """Insert the new invoices and replace the changed ones, with their lines and ranges,
    in bulk statements; returns the id of each written invoice by number."""
    ids: dict[str, int] = {}
    if new:
        # no ORM bookkeeping for bulk rows
        rows = [{"paid_on": None, **_invoice_columns(v)} for v in new]  # one shape for all
        ids.update(insert_rows(Invoice.__table__, rows, "number"))
    if changed:
        now = utcnow()
        ids.update({v["number"]: existing[v["number"]].id for v in changed})
        db.session.execute(
            update(Invoice),
            [{"id": ids[v["number"]], **_invoice_columns(v), "updated_at": now} for v in changed],
        )
        replaced = [ids[v["number"]] for v in changed]
        for model in (InvoiceLine, InvoiceRange):
            db.session.execute(delete(model).where(model.invoice_id.in_(replaced)))
    written = new + changed
    _date_payments([ids[v["number"]] for v in written])
    for model, key in ((InvoiceLine, "lines"), (InvoiceRange, "ranges")):
        children = [{"invoice_id": ids[v["number"]], **child} for v in written for child in v[key]]
        if children:
            insert_rows(model.__table__, children)
    return ids


def _date_payments(ids: list[int]) -> None:
    """Keep ``paid_on`` true to ``status`` on the invoices written: a paid invoice whose
    data gave no day keeps the one it had, or takes today's (the day the import first
    said it was paid); an invoice to pay, or a credit note, has none."""
    if not ids:
        return
    written = Invoice.id.in_(ids)
    paid = (Invoice.status == "paid") & (Invoice.kind == "invoice")  # a credit note is not
    db.session.execute(
        update(Invoice).where(written, paid, Invoice.paid_on.is_(None)).values(paid_on=date.today())
    )
    db.session.execute(
        update(Invoice).where(written, ~paid, Invoice.paid_on.is_not(None)).values(paid_on=None)
    )


def _credit_targets(written: list[dict], existing: dict[str, Stored]) -> set[str]:
    """The invoices whose credit notes change with these rows: those the credit notes
    written cancel (now, and before this import), and the invoices written that a
    stored credit note names (it may have come first)."""
    targets = {v["cancels"] for v in written if v["cancels"]}
    replaced = [existing[v["number"]].id for v in written if v["number"] in existing]
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


def _existing(numbers: list[str]) -> dict[str, Stored]:
    """The id, fingerprint and organisation of each of ``numbers`` already stored."""
    query = select(Invoice.number, Invoice.id, Invoice.source_hash, Invoice.organisation_id)
    found = rows_matching(query, Invoice.number, numbers)
    return {row.number: Stored(row.id, row.source_hash, row.organisation_id) for row in found}


def _ids_of(numbers: set[str]) -> list[int]:
    """The ids of the invoices of these numbers stored now."""
    query = select(Invoice.id).where(Invoice.kind == "invoice")
    return [ident for (ident,) in rows_matching(query, Invoice.number, numbers)]


def _invoice_columns(values: dict) -> dict:
    return {k: v for k, v in values.items() if k not in CHILDREN}


def import_invoices(batch: list[Any]) -> ImportResult:
    """Check then write a batch of invoices (dicts as in the API); commits once.
    Raises :class:`ImportRejected` with every fault when any row is wrong."""
    accounts = accounts_by_code(batch, ("client_code", "sub_account"))
    rows = read_batch(
        batch,
        "invoice",
        InvoiceItem,
        lambda item: _read(item, accounts),
        context={"accounts": accounts},
    )

    existing = _existing([v["number"] for v in rows])
    refuse_moves(
        rows,
        {n: found.organisation_id for n, found in existing.items()},
        "number",
        "number",
        "invoice",
    )
    result = ImportResult()
    new, changed = [], []
    for values in rows:
        found = existing.get(values["number"])
        if found is None:
            new.append(values)
        elif found.source_hash == values["source_hash"]:
            result.unchanged.append(values["number"])
        else:
            changed.append(values)
    for values in new + changed:
        if values["pdf"]:
            store_document(values["pdf"])  # by content: a failed commit leaves an unused copy
    targets = _credit_targets(new + changed, existing)
    # what is still to pay: the invoices this import touches, before and after
    before = totals.snapshot([existing[v["number"]].id for v in changed] + _ids_of(targets))
    ids = _write(new, changed, existing)
    if targets:
        _set_credits_against(targets)
    to_pay = [
        ids[v["number"]]
        for v in new + changed
        if v["kind"] == "invoice" and v["status"] == "to_pay"
    ]
    totals.apply(before, totals.snapshot(to_pay + _ids_of(targets)))
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
    "paid_on",
    "currency",
    "total_ht",
    "total_ttc",
    "subscriber",
    "client_code",
    "sub_account",
    "edi",
    "notes",
    "buyer_reference",
    "payment_terms",
    "payment_means",
)
RECIPIENT_COLUMNS = {
    "recipient_name": "name",
    "recipient_siret": "siret",
    "recipient_address": "address",
    "recipient_vat_number": "vat_number",
    "recipient_routing_id": "routing_id",
    "recipient_routing_scheme": "routing_scheme",
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
