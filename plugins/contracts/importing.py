"""Import of contracts (with their documents) pushed by the provider, through the API or
the CLI: keyed by the contract number, checked whole before anything is written, and
idempotent (the same data sent twice changes nothing)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core.plugin_api import (
    Account,
    ImportResult,
    RowReader,
    accounts_by_code,
    db,
    decode_pdf,
    document_digest,
    emit,
    fingerprint,
    parse_date,
    read_batch,
    refuse_moves,
    rows_matching,
    store_document,
)

from .models import STATUSES, Contract, ContractDocument


def _read(row: RowReader, accounts: dict[str, Account]) -> dict[str, Any] | None:
    values: dict[str, Any] = {
        "number": row.text("number", required=True, max_length=40),
        "product": row.text("product", required=True),
        "status": row.choice("status", STATUSES, "active"),
        "start_on": row.parsed("start_date", parse_date),
        "end_on": row.parsed("end_date", parse_date, required=False),
    }
    account = row.account("client_code", accounts)
    if values["start_on"] and values["end_on"] and values["end_on"] < values["start_on"]:
        row.fault("end_date", "is before start_date")
    files = []
    for index, item in enumerate(row.items("documents"), start=1):
        label = f"documents[{index}]"
        title = row.text("title", required=True, source=item, label=f"{label}.title")
        pdf = row.parsed("pdf", decode_pdf, source=item, label=f"{label}.pdf")
        if pdf is not None:
            files.append({"position": index, "title": title, "data": pdf.data, "pages": pdf.pages})
    if account is None or not row.ok:
        return None
    values.update(organisation_id=account.organisation_id, account_id=account.id)
    digests = [(f["title"], document_digest(f["data"])) for f in files]
    values["source_hash"] = fingerprint(dict(values, documents=digests))
    values["documents"] = files
    return values


def import_contracts(batch: Any) -> ImportResult:
    """Check then write a batch of contracts (dicts as in the API); commits once.
    Raises :class:`~core.importing.ImportRejected` with every fault when any is wrong."""
    accounts = accounts_by_code(batch)
    rows = read_batch(batch, "contract", lambda row: _read(row, accounts))

    found = rows_matching(select(Contract), Contract.number, [v["number"] for v in rows])
    existing = {contract.number: contract for (contract,) in found}
    refuse_moves(
        rows, {n: c.organisation_id for n, c in existing.items()}, "number", "number", "contract"
    )
    result, events = ImportResult(), []
    for values in rows:
        contract = existing.get(values["number"])
        if contract is not None and contract.source_hash == values["source_hash"]:
            result.unchanged.append(values["number"])
            continue
        files = values.pop("documents")
        if contract is None:
            contract = Contract(**values)
            db.session.add(contract)
            result.created.append(values["number"])
        else:
            for key, value in values.items():
                setattr(contract, key, value)
            result.updated.append(values["number"])
        contract.documents = [
            ContractDocument(
                position=f["position"],
                title=f["title"],
                sha256=store_document(f["data"]),
                size=len(f["data"]),
                pages=f["pages"],
            )
            for f in files
        ]
        events.append(("contract.created" if contract.id is None else "contract.updated", contract))
    db.session.flush()
    payloads = [
        (name, {"organisation_id": c.organisation_id, "contract_id": c.id, "number": c.number})
        for name, c in events
    ]
    db.session.commit()
    for name, payload in payloads:
        emit(name, payload)
    return result


def contracts_from_csv(rows: list[dict], lines: list[int]) -> tuple[list[dict], list[int]]:
    """CSV columns: number, product, client_code, status, start_date, end_date, and
    optionally document_title with document_pdf (the PDF in base64) for one document."""
    items = []
    for row in rows:
        item = {k: v for k, v in row.items() if not k.startswith("document_")}
        if row.get("document_title") or row.get("document_pdf"):
            item["documents"] = [
                {"title": row.get("document_title"), "pdf": row.get("document_pdf")}
            ]
        items.append(item)
    return items, lines
