"""Statement of account speed: one organisation with 200,000 invoices over two years
(a twentieth of them credit notes, most paid within two months), the statement on
screen (p95 ≤ 200 ms), its PDF of 1,000 movements (≤ 2 s), its CSV, and the widget
"À payer". Requests go through Flask's test client (the whole app, no network).

    .venv/bin/python -m bench.statement [--invoices 200000] [--runs 40]
        [--database-url postgresql+psycopg://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import date, timedelta

from sqlalchemy import insert

from bench.common import add_organisations, analyze, bench_app, insert_batches, measure, ok, report
from core.extensions import db

LOGIN = {"email": "stmt@example.com", "password": "bench password 1"}


def populate(count: int) -> None:
    from core.models import Membership, User
    from core.passwords import hash_password
    from plugins.invoices import totals
    from plugins.invoices.models import Invoice

    started = time.perf_counter()
    add_organisations(2)
    db.session.execute(
        insert(User),
        [
            {
                "id": 1,
                "email": LOGIN["email"],
                "name": "S",
                "is_operator": False,
                "active": True,
                "password_hash": hash_password(LOGIN["password"]),
            }
        ],
    )
    db.session.execute(insert(Membership), [{"user_id": 1, "organisation_id": 1, "role": "admin"}])
    rng, today = random.Random(1), date.today()

    def rows():
        for n in range(count):
            issued = today - timedelta(days=rng.randrange(0, 730))
            ttc = rng.randint(100, 1_000_000)
            credit = rng.random() < 0.05
            paid = not credit and (issued < today - timedelta(days=60) or rng.random() < 0.5)
            yield (
                {
                    "organisation_id": 1,
                    "account_id": 1,
                    "number": f"S{n:09d}",
                    "kind": "credit_note" if credit else "invoice",
                    "issued_on": issued,
                    "due_on": issued + timedelta(days=30),
                    "status": "paid" if paid else "to_pay",
                    "paid_on": min(today, issued + timedelta(days=rng.randrange(5, 60)))
                    if paid
                    else None,
                    "currency": "EUR",
                    "total_ht": -ttc * 5 // 6 if credit else ttc * 5 // 6,
                    "total_ttc": -ttc if credit else ttc,
                }
            )

    insert_batches(Invoice, rows())
    totals.rebuild()
    db.session.commit()
    analyze()
    print(f"populated {count} invoices over two years in {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    app = bench_app(tempfile.mkdtemp(), args.database_url)
    with app.app_context():
        populate(args.invoices)
    client = app.test_client()
    assert client.post("/login", data=LOGIN).status_code == 302
    today = date.today()
    year = f"from={today - timedelta(days=365)}&to={today}"
    # about 1,000 movements: the invoices of a day number some 270, with their payments
    days = max(1, round(1000 / (args.invoices / 730 * 1.9)))
    first = today - timedelta(days=100 + days - 1)
    short = f"from={first}&to={today - timedelta(days=100)}"
    works = [
        ("statement, this quarter (default), page 1", "/releve/", "p95 ≤ 200 ms"),
        ("statement, one year, page 1", f"/releve/?{year}", "p95 ≤ 200 ms"),
        ("statement, one year, last page", f"/releve/?{year}&page=100000", "p95 ≤ 200 ms"),
        ("widget: to pay", "/releve/widget", ""),
    ]
    print(f"{args.invoices:,} invoices, {args.runs} runs")
    for title, path, target in works:
        report(title, measure(lambda p=path: ok(client.get(p)), args.runs, warmup=3), target)
    page = ok(client.get(f"/releve/?{short}")).get_data(as_text=True)
    lines = page.split(" résultats", 1)[0].rsplit(" ", 1)[1]
    report(
        f"PDF of {lines} movements",
        measure(lambda: ok(client.get(f"/releve/releve.pdf?{short}")), 5, warmup=1),
        "≤ 2,000 ms",
    )
    started = time.perf_counter()
    body = ok(client.get("/releve/export.csv?from=2000-01-01")).get_data()
    rows = body.count(b"\n") - 1
    print(f"CSV of {rows:,} rows: {rows / (time.perf_counter() - started):,.0f} rows/s")


if __name__ == "__main__":
    main()
