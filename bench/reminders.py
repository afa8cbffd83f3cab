"""The daily reminder run: 2,000,000 invoices over 10,000 organisations, every one using
reminders on the default schedule; how long the run takes (p95 ≤ 60 s), and how many
reminders it queues per second (≥ 100/s). The e-mails are the worker's, not timed here.

    .venv/bin/python -m bench.reminders [--orgs 10000] [--invoices 2000000]
        [--database-url postgresql+psycopg://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import date, timedelta

from sqlalchemy import func, insert, select

from bench.common import add_organisations, analyze, bench_app, insert_batches
from core.extensions import db


def populate(orgs: int, count: int, app_key: str = "reminders") -> None:
    """Organisations 1..``orgs`` with ``app_key`` on and ``count`` invoices among
    them, due from 400 days ago to 60 days ahead, nearly all those long due paid."""
    from core.models import AppActivation
    from plugins.invoices import totals
    from plugins.invoices.models import Invoice

    started = time.perf_counter()
    add_organisations(orgs)
    db.session.execute(
        insert(AppActivation),
        [
            {"organisation_id": n, "app_key": app_key, "enabled": True, "settings": {}}
            for n in range(1, orgs + 1)
        ],
    )
    rng, today = random.Random(1), date.today()

    def rows():
        for n in range(count):
            org = 1 + n % orgs
            due = today + timedelta(days=rng.randrange(-400, 60))
            paid = due < today - timedelta(days=30) and rng.random() < 0.95
            yield (
                {
                    "organisation_id": org,
                    "account_id": org,
                    "number": f"R{n:09d}",
                    "kind": "invoice",
                    "issued_on": due - timedelta(days=30),
                    "due_on": due,
                    "status": "paid" if paid else "to_pay",
                    "paid_on": due if paid else None,
                    "currency": "EUR",
                    "total_ht": 1000,
                    "total_ttc": 1200,
                }
            )

    insert_batches(Invoice, rows())
    totals.rebuild()
    db.session.commit()
    analyze()
    spent = time.perf_counter() - started
    print(f"populated {count:,} invoices over {orgs:,} organisations in {spent:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", type=int, default=10_000)
    parser.add_argument("--invoices", type=int, default=2_000_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    app = bench_app(tempfile.mkdtemp(), args.database_url)
    with app.app_context():
        populate(args.orgs, args.invoices)
        from core import jobs
        from plugins.reminders import sending
        from plugins.reminders.models import Reminder

        started = time.perf_counter()
        found = sending.plan(date.today())
        planned = time.perf_counter() - started
        print(f"plan: {sum(len(p.invoices) for p in found):,} reminders found in {planned:.1f} s")
        db.session.rollback()
        started = time.perf_counter()
        sending.run(date.today())
        spent = time.perf_counter() - started
        queued = db.session.scalar(select(func.count()).select_from(Reminder))
        print(
            f"run: {spent:.1f} s (target ≤ 60 s), {queued:,} reminders queued in "
            f"{jobs.pending(app):,} tasks, {queued / spent:,.0f}/s (target ≥ 100/s)"
        )
        started = time.perf_counter()
        again = sending.run(date.today())
        print(
            f"the same run again: {sum(len(p.invoices) for p in again)} new, "
            f"{time.perf_counter() - started:.1f} s"
        )


if __name__ == "__main__":
    main()
