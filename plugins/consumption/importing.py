"""Import of consumption records pushed by the provider, through the API or the CLI, with
the same rules as invoices: the whole batch is checked first (each fault named by row
and field, nothing written when any is wrong), and imports are idempotent, keyed by the
provider's record id. The monthly totals of the months touched are recomputed in the
same transaction."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update

from core.plugin_api import (
    ImportResult,
    RowReader,
    accounts_by_code,
    db,
    decimal_parser,
    fingerprint,
    insert_rows,
    parse_amount,
    parse_date,
    read_batch,
    refuse_moves,
    rows_matching,
)

from .models import ConsumptionRecord, MonthlyTotal

MONTH = re.compile(r"^(\d{4})-(\d{2})$|^(\d{2})/(\d{4})$")
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


def parse_period(value: Any) -> tuple[date, str]:
    """``2026-10`` or ``10/2026`` → a month; ``2026-10-15`` or ``15/10/2026`` → a day."""
    text = str(value or "").strip()
    match = MONTH.match(text)
    if match:
        year, month = (match[1], match[2]) if match[1] else (match[4], match[3])
        if not 1 <= int(month) <= 12:
            raise ValueError(f"{value!r} is not a month (2026-10 or 10/2026)")
        return date(int(year), int(month), 1), "month"
    try:
        return parse_date(text), "day"
    except ValueError:
        raise ValueError(
            f"{value!r} is not a period: a month (2026-10) or a day (2026-10-15)"
        ) from None


def _read(row: RowReader, accounts: dict) -> dict[str, Any] | None:
    values: dict[str, Any] = {
        "record_id": row.text("id", required=True, max_length=64),
        "contract": row.text("contract", max_length=100),
        "family": row.text("family", required=True, max_length=100),
        "product": row.text("product", required=True, max_length=200),
        "quantity": row.parsed("quantity", decimal_parser(18, 3)),  # its column
        "unit": row.text("unit", required=True, max_length=20),
        "amount_ht": row.parsed("amount_ht", parse_amount),
        "currency": str(row.data.get("currency") or "EUR").upper(),
    }
    period = row.parsed("period", parse_period)
    if len(values["currency"]) != 3 or not values["currency"].isalpha():
        row.fault("currency", "must be a three-letter code such as EUR")
    account = row.account("client_code", accounts)
    if account is None or period is None or not row.ok:
        return None
    values.update(
        period_start=period[0],
        period_kind=period[1],
        month=period[0].replace(day=1),
        organisation_id=account.organisation_id,
        account_id=account.id,
    )
    values["source_hash"] = fingerprint(values)
    return values


def import_consumption(batch: list[Any]) -> ImportResult:
    """Check then write a batch of records (dicts as in the API), and refresh the monthly
    totals they touch; commits once. Raises
    :class:`~core.importing.ImportRejected` with every fault when any row is wrong."""
    accounts = accounts_by_code(batch)
    rows = read_batch(batch, "record", lambda row: _read(row, accounts), "record_id", "id")
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
