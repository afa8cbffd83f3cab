"""Notifications speed: import 10,000 invoices (with the provider's PDFs) for
organisations with two addresses each; how much the notifications slow the import
(target ≤ 10%), and how fast two consumers drain the queue to a local SMTP server
(target ≥ 100 e-mails/s).

    .venv/bin/python -m bench.notifications [--database-url URL] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import tempfile
import threading
import time
from datetime import date

from sqlalchemy import func, insert, select

from bench.common import add_organisations, bench_app, free_port


def smtp_sink(port: int, received, ready) -> None:
    """An SMTP server in its own process (it must not take the workers' CPU) that counts."""
    from aiosmtpd.controller import Controller

    class Counter:
        async def handle_DATA(self, server, session, envelope):
            with received.get_lock():
                received.value += 1
            return "250 OK"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    asyncio.run(asyncio.sleep(10**6))


def populate(orgs: int) -> None:
    from core.extensions import db
    from core.models import AppDefault
    from plugins.notifications.models import Subscription

    add_organisations(orgs)
    db.session.execute(
        insert(Subscription),
        [
            {
                "organisation_id": n,
                "email": f"{who}@org{n}.example.com",
                "attachments": True,
                "kinds": "all",
                "frequency": "each",
                "account_ids": [],
                "failures": 0,
                "flagged": False,
                "digest_after_id": 0,
            }
            for n in range(1, orgs + 1)
            for who in ("compta", "direction")
        ],
    )
    db.session.add(AppDefault(app_key="notifications", enabled=False))
    db.session.commit()


def batch(first: int, count: int, orgs: int, pdf: str) -> list[dict]:
    from plugins.invoices.demo import generated_invoices

    items = generated_invoices(date.today(), count, seed=first)
    for n, item in enumerate(items):
        item["number"] = f"{first + n:09d}"
        item["client_code"] = f"{n % orgs + 1:08d}"
        item.pop("sub_account", None)
        item["pdf"] = pdf
    return items


def timed_import(app, items: list[dict]) -> float:
    """Seconds to import ``items`` as the API does, the end of the request included
    (where the notifications hand the new invoices to the queue)."""
    from plugins.invoices.importing import import_invoices

    started = time.perf_counter()
    with app.app_context():
        import_invoices(items)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--redis-url")
    parser.add_argument("--orgs", type=int, default=1000)
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    port = free_port()
    received, ready = multiprocessing.Value("i", 0), multiprocessing.Event()
    sink = multiprocessing.Process(target=smtp_sink, args=(port, received, ready), daemon=True)
    sink.start()
    ready.wait(10)

    from core import jobs, stamps
    from core.documents import encode_pdf
    from core.extensions import db
    from core.models import AppDefault
    from plugins.notifications.models import Delivery
    from tests.conftest import one_page_pdf

    config = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port}
    if args.redis_url:
        config["REDIS_URL"] = args.redis_url
    app = bench_app(tempfile.mkdtemp(prefix="guichet-bench-"), args.database_url, **config)
    jobs.queue(app).flush()
    with app.app_context():
        populate(args.orgs)
        print(
            f"database: {db.engine.dialect.name}, queue: {type(jobs.queue(app).storage).__name__}"
        )
    pdf = encode_pdf(one_page_pdf("Facture du fournisseur"))
    n = args.invoices
    timed_import(app, batch(10**8, 1000, args.orgs, pdf))  # warm-up
    without = timed_import(app, batch(2 * 10**8, n, args.orgs, pdf))
    with app.app_context():
        db.session.execute(AppDefault.__table__.update().values(enabled=True))
        stamps.apps_changed()  # a bulk update: the processes' enabled apps must follow
        db.session.commit()
    timed_import(app, batch(3 * 10**8, 1000, args.orgs, pdf))  # warm-up, then drop its e-mails
    jobs.queue(app).flush()
    with_notifications = timed_import(app, batch(4 * 10**8, n, args.orgs, pdf))
    print(
        f"{'import of ' + str(n) + ' invoices':<42} without notifications {without:.2f} s, "
        f"with {with_notifications:.2f} s: {100 * (with_notifications / without - 1):+.1f}%"
        "  target ≤ +10%"
    )

    expected = 2 * n
    consumer = jobs.queue(app).create_consumer(
        workers=args.workers, worker_type="thread", periodic=False
    )
    consumer._set_signal_handlers = lambda: None  # signals belong to the main thread
    started = time.perf_counter()
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    while received.value < expected and time.perf_counter() - started < 900:
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    consumer.stop(graceful=True)
    thread.join(30)
    with app.app_context():
        sent = db.session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status == "sent")
        )
    print(
        f"{'queue drained by ' + str(args.workers) + ' consumers':<42} {received.value} e-mails "
        f"({sent} recorded sent) in {elapsed:.1f} s = {received.value / elapsed:,.0f} e-mails/s"
        "  target ≥ 100/s"
    )
    sink.terminate()


if __name__ == "__main__":
    main()
