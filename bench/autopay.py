"""The daily run of automatic payments: 2,000,000 invoices over 10,000 organisations,
2,000 of them paying by SEPA Direct Debit; how long the run takes to schedule the
debits of the next days (and queue their notices), to take those due, and how many
debits a worker asks of the (local) Mollie server per second.

    .venv/bin/python -m bench.autopay [--orgs 10000] [--invoices 2000000] [--paying 2000]
        [--charges 300] [--database-url postgresql+psycopg://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from datetime import date, timedelta

from sqlalchemy import func, insert, select, update

from bench.common import analyze, bench_app
from bench.reminders import populate
from core.extensions import db


def add_mandates(paying: int) -> None:
    """Organisations 1..``paying`` each sign a mandate and pay their account on it."""
    from plugins.autopay.models import AutopayAccount, Mandate

    today = date.today()
    since = today - timedelta(days=365)  # a year of invoices since: a backlog to announce
    db.session.execute(
        insert(Mandate),
        [
            {
                "id": n,
                "organisation_id": n,
                "provider": "mollie",
                "customer_id": f"cst_{n}",
                "provider_id": f"mdt_{n}",
                "method": "directdebit",
                "account": "FR76 •••• 0189",
                "signatory": f"Org {n}",
                "signed_on": today,
                "reference": f"G{n}",
                "state": "valid",
            }
            for n in range(1, paying + 1)
        ],
    )
    db.session.execute(
        insert(AutopayAccount),
        [
            {"organisation_id": n, "account_id": n, "mandate_id": n, "since": since}
            for n in range(1, paying + 1)
        ],
    )
    db.session.commit()
    analyze()


def real_mandates(server, count: int) -> None:
    """The first ``count`` mandates, signed at the local Mollie server for real."""
    from plugins.autopay.models import Mandate

    for mandate in db.session.scalars(select(Mandate).order_by(Mandate.id).limit(count)):
        customer = server._new_customer({"name": mandate.signatory})
        remote = server._new_mandate(
            customer["id"],
            {
                "method": "directdebit",
                "consumerName": mandate.signatory,
                "consumerAccount": "FR7630006000011234567890189",
            },
        )
        mandate.customer_id, mandate.provider_id = customer["id"], remote["id"]
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", type=int, default=10_000)
    parser.add_argument("--invoices", type=int, default=2_000_000)
    parser.add_argument("--paying", type=int, default=2_000)
    parser.add_argument("--charges", type=int, default=300)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    from plugins.mollie.local_api import LocalMollie

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request, else
    server = LocalMollie(webhooks=False).start()
    app = bench_app(
        tempfile.mkdtemp(),
        args.database_url,
        MOLLIE_API_KEY="test_bench",
        MOLLIE_API_ENDPOINT=server.url,
        SERVER_NAME="localhost",
    )
    with app.app_context():
        populate(args.orgs, args.invoices, app_key="autopay")
        add_mandates(args.paying)
        from core import jobs
        from plugins.autopay import collecting
        from plugins.autopay.models import Charge

        today = date.today()
        started = time.perf_counter()
        found = collecting.plan(today)
        spent = time.perf_counter() - started
        print(f"plan: {len(found):,} debits to announce found in {spent:.2f} s")
        db.session.rollback()
        started = time.perf_counter()
        written = collecting.schedule(today)
        spent = time.perf_counter() - started
        print(
            f"schedule: {written:,} debits written, notices in {jobs.pending(app):,} tasks, "
            f"{spent:.2f} s ({written / spent:,.0f}/s)"
        )
        started = time.perf_counter()
        again = collecting.schedule(today)
        print(f"the same run again: {again} new, {time.perf_counter() - started:.2f} s")
        db.session.execute(update(Charge).values(notice="sent"))  # the worker's notices
        db.session.commit()
        due_day = today + timedelta(days=app.config["AUTOPAY_NOTICE_DAYS"])
        started = time.perf_counter()
        taken = collecting.take_due(due_day)
        spent = time.perf_counter() - started
        print(f"take_due: {len(taken):,} debits taken and queued in {spent:.2f} s")
        real_mandates(server, args.paying)
        ids = taken[: args.charges]
        started = time.perf_counter()
        for charge_id in ids:
            collecting.charge.function(charge_id)
        spent = time.perf_counter() - started
        pending = db.session.scalar(
            select(func.count()).select_from(Charge).where(Charge.state == "pending")
        )
        print(
            f"charge: {len(ids)} debits asked of the local Mollie server in {spent:.2f} s, "
            f"{len(ids) / spent:,.0f}/s on one worker ({pending} pending at the bank)"
        )
    server.stop()


if __name__ == "__main__":
    main()
