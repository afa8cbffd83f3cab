"""Wallet speed: reading the balance stays one indexed query whatever the length of the
ledger (by default 1,000,000 entries in one wallet), and how fast postings go.

    .venv/bin/python -m bench.wallet [--database-url URL] [--entries 1000000]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from sqlalchemy import event, insert

from bench.common import add_organisations, bench_app, measure, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()

    from core import ledger
    from core.extensions import db
    from core.ledger import Wallet, WalletEntry

    app = bench_app(tempfile.mkdtemp(prefix="guichet-bench-"), args.database_url)
    with app.app_context():
        started = time.perf_counter()
        add_organisations(1)
        db.session.execute(insert(Wallet), [{"organisation_id": 1, "balance": args.entries * 100}])
        batch = []
        for n in range(args.entries):
            entry = {
                "organisation_id": 1,
                "key": f"e{n}",
                "kind": "topup",
                "amount": 100,
                "balance_after": (n + 1) * 100,
                "reason": "",
                "reference": "",
            }
            batch.append(entry)
            if len(batch) == 50_000:
                db.session.execute(insert(WalletEntry), batch)
                batch = []
        if batch:
            db.session.execute(insert(WalletEntry), batch)
        db.session.commit()
        print(
            f"{args.entries} entries in one wallet in {time.perf_counter() - started:.0f} s, "
            f"database: {db.engine.dialect.name}"
        )

        statements = []
        event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        assert ledger.balance(1) == args.entries * 100
        print(f"{'balance read':<42} {len(statements)} query: {statements[0].split()[0:4]}")

        def read():
            with app.app_context():  # measure runs each call in a fresh context
                return ledger.balance(1)

        report("balance read (with its app context)", measure(read, args.runs), "one query")
        consistent = ledger.check(1)
        print(
            f"{'consistency check (sum of the ledger)':<42} stored {consistent[0]}, "
            f"summed {consistent[1]}"
        )

        count = 2000
        started = time.perf_counter()
        for n in range(count):
            ledger.post(1, "postage", -100, f"p{n}")
            db.session.commit()
        elapsed = time.perf_counter() - started
        print(f"{'postings, each committed':<42} {count / elapsed:,.0f} per second")


if __name__ == "__main__":
    main()
