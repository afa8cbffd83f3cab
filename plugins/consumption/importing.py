"""Import of consumption records pushed by the provider, through the API or the CLI, with
the same rules as invoices: the whole batch is checked first (each fault named by row
and field, nothing written when any is wrong), and imports are idempotent, keyed by the
provider's record id. The monthly totals of the months touched are recomputed in the
same transaction."""

from __future__ import annotations

from datetime import date
from functools import partial
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update

from core.plugin_api import (
    ImportResult,
    accounts_by_code,
    db,
    fingerprint,
    insert_rows,
    read_batch,
    refuse_moves,
    rows_matching,
)

from .models import ConsumptionRecord, MonthlyTotal
from .schema import RecordItem

ORGS_PER_REFRESH = 500
TOTAL_COLUMNS = (
    "organisation_id",
    "month",
    "account_id",
    "contract",
    "family",
    "product",
    "unit",
    "currency",
    "quantity",
    "amount_ht",
    "records",
)


def _read(item: RecordItem, accounts: dict) -> dict[str, Any]:
    """The columns of a valid record, and its fingerprint."""
    account = accounts[item.client_code]
    start, kind = item.period
    values: dict[str, Any] = {
        "record_id": item.id,
        "contract": item.contract,
        "family": item.family,
        "product": item.product,
        "quantity": item.quantity,
        "unit": item.unit,
        "amount_ht": item.amount_ht,
        "currency": item.currency,
        "period_start": start,
        "period_kind": kind,
        "month": start.replace(day=1),
        "organisation_id": account.organisation_id,
        "account_id": account.id,
    }
    values["source_hash"] = fingerprint(values)
    return values


def import_consumption(batch: list[Any]) -> ImportResult:
    """Check then write a batch of records (dicts as in the API), and refresh the monthly
    totals they touch; commits once. Raises
    :class:`~core.importing.ImportRejected` with every fault when any row is wrong."""
    accounts = accounts_by_code(batch)
    read = partial(_read, accounts=accounts)
    rows = read_batch(batch, "record", RecordItem, read, "record_id", "id", {"accounts": accounts})
    records = ConsumptionRecord
    query = select(
        records.record_id, records.id, records.source_hash, records.organisation_id, records.month
    )
    existing = {
        r.record_id: r
        for r in rows_matching(query, records.record_id, [v["record_id"] for v in rows])
    }
    refuse_moves(
        rows, {k: r.organisation_id for k, r in existing.items()}, "record_id", "id", "record"
    )
    result = ImportResult()
    new, changed, touched = [], [], set()
    for values in rows:
        found = existing.get(values["record_id"])
        if found is not None and found.source_hash == values["source_hash"]:
            result.unchanged.append(values["record_id"])
            continue
        (new if found is None else changed).append(values)
        touched.add((values["organisation_id"], values["month"]))
        if found is not None:
            touched.add((found.organisation_id, found.month))
    insert_rows(records.__table__, new)
    if changed:
        table = records.__table__
        db.session.execute(
            update(table).where(table.c.id == bindparam("_id")),
            [{"_id": existing[v["record_id"]].id, **v} for v in changed],
        )
    refresh_totals(touched)
    db.session.commit()
    result.created = [v["record_id"] for v in new]
    result.updated = [v["record_id"] for v in changed]
    return result


def refresh_totals(touched: set[tuple[int, date]]) -> None:
    """Recompute the monthly totals of the organisations and months touched (from their
    first to their last month), in SQL."""
    by_org: dict[int, list[date]] = {}
    for org_id, month in touched:
        by_org.setdefault(org_id, []).append(month)
    spans: dict[tuple[date, date], list[int]] = {}
    for org_id, months in by_org.items():
        spans.setdefault((min(months), max(months)), []).append(org_id)
    records, totals = ConsumptionRecord, MonthlyTotal.__table__
    keys = (
        records.organisation_id,
        records.month,
        records.account_id,
        records.contract,
        records.family,
        records.product,
        records.unit,
        records.currency,
    )
    for (first, last), org_ids in spans.items():
        for start in range(0, len(org_ids), ORGS_PER_REFRESH):
            chunk = org_ids[start : start + ORGS_PER_REFRESH]
            db.session.execute(
                delete(totals).where(
                    totals.c.organisation_id.in_(chunk),
                    totals.c.month.between(first, last),
                )
            )
            sums = (
                select(*keys, func.sum(records.quantity), func.sum(records.amount_ht), func.count())
                .where(records.organisation_id.in_(chunk), records.month.between(first, last))
                .group_by(*keys)
            )
            db.session.execute(insert(totals).from_select(TOTAL_COLUMNS, sums))


# CSV files: one record per row, with the API's field names as columns.
def records_from_csv(rows: list[dict], lines: list[int]) -> tuple[list[dict], list[int]]:
    """CSV columns: id, client_code, contract, family, product, period, quantity, unit,
    amount_ht, currency."""
    return [{k: v for k, v in row.items() if v != ""} for row in rows], lines
