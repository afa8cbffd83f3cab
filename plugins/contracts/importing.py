"""Import of contracts (with their documents) pushed by the provider, through the API or
the CLI: keyed by the contract number, checked whole before anything is written, and
idempotent (the same data sent twice changes nothing)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core.plugin_api import (
    Account,
    ImportResult,
    accounts_by_code,
    db,
    document_digest,
    emit,
    fingerprint,
    read_batch,
    refuse_moves,
    rows_matching,
    store_document,
)

from .models import Contract, ContractDocument
from .schema import ContractItem


def _read(item: ContractItem, accounts: dict[str, Account]) -> dict[str, Any]:
    """The columns of a valid contract, its documents, and its fingerprint."""
    account = accounts[item.client_code]
    values: dict[str, Any] = {
        "number": item.number,
        "product": item.product,
        "status": item.status,
        "start_on": item.start_date,
        "end_on": item.end_date,
        "organisation_id": account.organisation_id,
        "account_id": account.id,
    }
    files = [
        {"position": n, "title": d.title, "data": d.pdf.data, "pages": d.pdf.pages}
        for n, d in enumerate(item.documents, start=1)
    ]
    digests = [(f["title"], document_digest(f["data"])) for f in files]
    values["source_hash"] = fingerprint(dict(values, documents=digests))
    values["documents"] = files
    return values


def import_contracts(batch: Any) -> ImportResult:
    """Check then write a batch of contracts (dicts as in the API); commits once.
    Raises :class:`~core.importing.ImportRejected` with every fault when any is wrong."""
    accounts = accounts_by_code(batch)
    context = {"accounts": accounts}
    rows = read_batch(
        batch, "contract", ContractItem, lambda i: _read(i, accounts), context=context
    )

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
