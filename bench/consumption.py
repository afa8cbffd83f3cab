"""Consumption speed: with many records (by default 5,000,000 over 10,000 organisations,
one of which holds 500,000), the 12-month view grouped by product (p95 ≤ 100 ms) and
the widget (p95 ≤ 20 ms); and, for information, a CLI import of 100,000 records.

    .venv/bin/python -m bench.consumption [--database-url URL] [--total 5000000]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy import insert, text

from bench.common import add_organisations, analyze, bench_app, insert_batches, measure, report

PRODUCTS = [(f"Famille {n % 4}", f"Produit {n:02d}", "plis") for n in range(30)]


def populate(orgs: int, total: int, big: int, big_accounts: int) -> None:
    from core.extensions import db
    from core.models import Membership, User
    from core.passwords import hash_password
    from plugins.consumption.importing import refresh_totals
    from plugins.consumption.models import ConsumptionRecord
    from plugins.consumption.queries import add_months

    started = time.perf_counter()
    extra = [
        {"id": orgs + n, "organisation_id": 1, "client_code": f"B{n:07d}", "name": ""}
        for n in range(1, big_accounts)
    ]
    add_organisations(orgs, extra)
    db.session.execute(
        insert(User),
        [
            {
                "id": 1,
                "email": "big@example.com",
                "name": "Big",
                "password_hash": hash_password("bench password 1"),
                "is_operator": False,
                "active": True,
            }
        ],
    )
    db.session.execute(
        insert(Membership), [{"id": 1, "user_id": 1, "organisation_id": 1, "role": "admin"}]
    )
    db.session.commit()
    rng = random.Random(1)
    this_month = date.today().replace(day=1)
    big_account_ids = [1, *range(orgs + 1, orgs + big_accounts)]
    rest = total - big

    def rows():
        for n in range(total):
            org = 1 if n < big else 2 + (n - big) * (orgs - 1) // max(rest, 1)
            month = add_months(this_month, -rng.randrange(36))
            family, product, unit = PRODUCTS[rng.randrange(len(PRODUCTS))]
            quantity = rng.randint(1, 500)
            yield (
                {
                    "organisation_id": org,
                    "account_id": rng.choice(big_account_ids) if org == 1 else org,
                    "record_id": f"{n:010d}",
                    "contract": "",
                    "family": family,
                    "product": product,
                    "period_start": month.replace(day=rng.randint(1, 28)),
                    "period_kind": "day",
                    "month": month,
                    "quantity": quantity,
                    "unit": unit,
                    "amount_ht": quantity * 116,
                    "currency": "EUR",
                    "source_hash": "",
                }
            )

    insert_batches(ConsumptionRecord, rows())
    refresh_totals(
        {(org, add_months(this_month, -m)) for org in range(1, orgs + 1) for m in (0, 35)}
    )
    db.session.commit()
    analyze()
    totals = db.session.scalar(text("SELECT count(*) FROM consumption_monthly"))
    print(
        f"populated {total} records over {orgs} organisations ({big} in the largest, "
        f"{totals} monthly totals) in {time.perf_counter() - started:.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--orgs", type=int, default=10_000)
    parser.add_argument("--total", type=int, default=5_000_000)
    parser.add_argument("--big", type=int, default=500_000)
    parser.add_argument("--big-accounts", type=int, default=20)
    parser.add_argument("--imports", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()

    from core.extensions import db

    app = bench_app(tempfile.mkdtemp(prefix="guichet-bench-"), args.database_url)
    with app.app_context():
        populate(args.orgs, args.total, args.big, args.big_accounts)
        print(f"database: {db.engine.dialect.name}")
    client = app.test_client()
    login = {"email": "big@example.com", "password": "bench password 1"}
    assert client.post("/login", data=login).status_code == 302
    hx = {"HX-Request": "true"}
    for title, url, target in [
        ("12 months grouped by product", "/consommations/?group=product", "p95 ≤ 100 ms"),
        ("12 months by month, compared", "/consommations/?compare=1", "p95 ≤ 100 ms"),
        ("widget", "/consommations/widget", "p95 ≤ 20 ms"),
    ]:
        report(title, measure(lambda u=url: client.get(u, headers=hx), args.runs), target)

    from core.importing import import_file
    from plugins.consumption.importing import import_consumption, records_from_csv

    this_month = date.today().replace(day=1)
    items = [
        {
            "id": f"I{n:09d}",
            "client_code": "00000002",
            "family": "Famille 1",
            "product": f"Produit {n % 30:02d}",
            "period": f"{this_month:%Y-%m}-{n % 28 + 1:02d}",
            "quantity": str(n % 500 + 1),
            "unit": "plis",
            "amount_ht": f"{n % 500 + 1}.16",
        }
        for n in range(args.imports)
    ]
    path = Path(tempfile.mkdtemp(prefix="guichet-import-")) / "consumption.json"
    path.write_text(json.dumps({"consumption": items}))
    with app.app_context():
        started = time.perf_counter()
        result = import_file(path, "consumption", import_consumption, records_from_csv)
        elapsed = time.perf_counter() - started
    assert len(result.created) == len(items)
    print(
        f"{'CLI import of one JSON file':<42} {len(items)} records in {elapsed:.1f} s = "
        f"{len(items) / elapsed:,.0f} records/s (for information)"
    )


if __name__ == "__main__":
    main()
