"""Payment webhooks per second: the portal under gunicorn with 2 workers (on each of
``--servers`` app servers, the calls spread over them in turn), Mollie's calls coming
from many threads at once, each webhook fetching the payment from the local Mollie
server and applying it with the row locked. First deliveries credit a wallet and write
a receipt invoice; replays change nothing. The wallet is checked exact at the end.

    .venv/bin/python -m bench.payments [--database-url URL] [--payments 1000] [--workers 2]
        [--servers 2]
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import requests
from sqlalchemy import func, insert, select

from bench.common import add_organisations, bench_app, free_port

KEY = "test_bench0000000000000000"
AMOUNT = 2000


def wait_for(attempt) -> None:
    for _ in range(150):
        try:
            attempt()
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def start_mollie() -> tuple[subprocess.Popen, str, requests.Session]:
    """``guichet mollie serve`` in its own process, as Mollie is; returns the process,
    its URL and an API session with the bench's key, once it answers."""
    url = f"http://127.0.0.1:{free_port()}"
    mollie = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("guichet")),
            "mollie",
            "serve",
            "--port",
            url.rsplit(":", 1)[1],
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {KEY}"
    wait_for(lambda: api.get(f"{url}/v2/methods", timeout=5))
    return mollie, url, api


def paid_payments(
    app, api: requests.Session, mollie_url: str, count: int, organisations: int
) -> list[str]:
    """Organisations 1..``organisations`` and ``count`` top-ups among them, open in the
    portal and paid at the local Mollie server (no webhook yet); their Mollie ids."""
    from core.extensions import db
    from plugins.payments.models import Payment

    rows = []
    with app.app_context():
        add_organisations(organisations)
        for n in range(1, count + 1):
            org = n % organisations + 1
            remote = api.post(
                f"{mollie_url}/v2/payments",
                timeout=10,
                json={
                    "amount": {"currency": "EUR", "value": f"{AMOUNT / 100:.2f}"},
                    "description": f"Top-up {n}",
                    "redirectUrl": "http://localhost/return",
                    "metadata": {"payment_id": n, "organisation_id": org},
                },
            ).json()
            api.post(
                f"{mollie_url}/checkout/{remote['id']}",
                data={"status": "paid"},
                allow_redirects=False,
                timeout=10,
            )
            rows.append(
                {
                    "id": n,
                    "organisation_id": org,
                    "account_id": org,
                    "key": f"k{n}",
                    "provider": "mollie",
                    "provider_id": remote["id"],
                    "purpose": "topup",
                    "amount": AMOUNT,
                    "currency": "EUR",
                    "description": f"Top-up {n}",
                    "status": "open",
                    "refunded": 0,
                    "problem": "",
                }
            )
        db.session.execute(insert(Payment), rows)
        db.session.commit()
    return [row["provider_id"] for row in rows]


def cpu_seconds(names: dict[str, int | str]) -> dict[str, float]:
    """CPU time used so far (user + system), by part: a part is a process id (the
    process and its children: gunicorn's workers) or a command name (every process of
    that name: the database server's). Read from ``/proc``, so on Linux only."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        command, fields = (
            text[text.index("(") + 1 : text.rindex(")")],
            text.rsplit(")", 1)[1].split(),
        )
        stats[int(stat.parent.name)] = (command, int(fields[1]), int(fields[11]) + int(fields[12]))
    used = {}
    for part, which in names.items():
        if isinstance(which, str):
            mine = [pid for pid, (command, _, _) in stats.items() if command == which]
        else:
            mine = [pid for pid, (_, parent, _) in stats.items() if pid == which or parent == which]
        used[part] = sum(stats[pid][2] for pid in mine) / ticks
    return used


def fire(urls: list[str], ids: list[str], threads: int) -> tuple[float, list[int]]:
    """Post ``id=…`` for each of ``ids`` from ``threads`` threads, to each of ``urls`` in
    turn (a load balancer's round robin), one connection per call as Mollie makes them
    (so the workers share the load); returns the rate per second and the status codes.
    The calls go through ``http.client``: the caller shares the machine's two cores
    with the portal and the Mollie server, so it should cost them as little as it can."""
    parts = urlsplit(urls[0])
    ports = [urlsplit(url).port for url in urls]

    def post(call: tuple[int, str]) -> int:
        number, provider_id = call
        port = ports[number % len(ports)]
        connection = http.client.HTTPConnection(parts.hostname, port, timeout=30)
        try:
            connection.request(
                "POST",
                parts.path,
                body=f"id={provider_id}",
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Connection": "close",
                },
            )
            return connection.getresponse().status
        finally:
            connection.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        codes = list(pool.map(post, enumerate(ids)))
    return len(ids) / (time.perf_counter() - started), codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--payments", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--servers", type=int, default=1, help="app servers, side by side")
    parser.add_argument("--organisations", type=int, default=100)
    parser.add_argument("--worker-threads", type=int, default=4)
    parser.add_argument("--threads", type=int, default=16, help="calling threads")
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/14", help="the rate limits the workers share"
    )
    args = parser.parse_args()

    from core import ledger
    from core.extensions import db
    from plugins.invoices.models import Invoice
    from plugins.payments.models import Payment

    folder = tempfile.mkdtemp(prefix="guichet-bench-")
    bin_dir = Path(sys.executable).parent
    mollie, mollie_url, api = start_mollie()
    app = bench_app(folder, args.database_url)
    database_url = app.config["SQLALCHEMY_DATABASE_URI"]
    ids = paid_payments(app, api, mollie_url, args.payments, args.organisations)
    with app.app_context():
        dialect = db.engine.dialect.name

    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "GUICHET_INSTANCE_PATH": folder,
        "GUICHET_MOLLIE_API_KEY": KEY,
        "GUICHET_MOLLIE_API_ENDPOINT": mollie_url,
        "GUICHET_LOG_LEVEL": "WARNING",  # several workers share their limits in Redis
        "GUICHET_RATELIMIT_STORAGE_URI": args.redis_url,
    }
    ports = [free_port() for _ in range(args.servers)]
    servers = [
        subprocess.Popen(
            [
                str(bin_dir / "gunicorn"),
                "-w",
                str(args.workers),
                "-k",
                "gthread",
                "--threads",
                str(args.worker_threads),
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "wsgi:app",
            ],
            env=env,
        )
        for port in ports
    ]
    try:
        urls = [f"http://127.0.0.1:{port}/paiements/webhook" for port in ports]
        for url in urls:
            wait_for(lambda url=url: requests.post(url, data={"id": "tr_warmup0"}, timeout=30))
        fire(urls, ["tr_unknown00"] * 200 * len(urls), args.threads)  # every worker warm
        print(
            f"{args.payments} paid payments of {args.organisations} organisations; "
            f"{args.servers} app server(s), each gunicorn with {args.workers} workers of "
            f"{args.worker_threads} threads; {args.threads} calling threads; "
            f"database: {dialect}"
        )
        parts = {
            **{f"portal (gunicorn {n + 1})": s.pid for n, s in enumerate(servers)},
            "database server": "postgres",
            "Mollie server": mollie.pid,
        }
        before, caller = cpu_seconds(parts), sum(os.times()[:2])
        first, codes = fire(urls, ids, args.threads)
        used, caller = cpu_seconds(parts), sum(os.times()[:2]) - caller
        print(
            f"{'webhooks, first delivery (credit + receipt)':<46} {first:8.0f} /s  "
            f"answers {sorted(set(codes))}  target >= 200/s"
        )
        shares = {part: used[part] - before[part] for part in parts} | {"caller": caller}
        print(
            f"{'CPU per first delivery':<46} "
            + ", ".join(
                f"{part} {seconds / len(ids) * 1000:.2f} ms" for part, seconds in shares.items()
            )
        )
        own = (
            sum(v for k, v in shares.items() if k.startswith("portal")) + shares["database server"]
        )
        print(
            f"{'  so the 2 cores, without Mollie and caller':<46} {len(ids) / own * 2:8.0f} /s  "
            f"(computed: 2 cores / the portal's and database's CPU per delivery)"
        )
        replay, codes = fire(urls, ids, args.threads)
        print(
            f"{'webhooks, replayed (nothing changes)':<46} {replay:8.0f} /s  "
            f"answers {sorted(set(codes))}"
        )
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(30)
        mollie.terminate()
    with app.app_context():
        paid = db.session.scalar(select(func.count()).where(Payment.status == "paid"))
        receipts = db.session.scalar(select(func.count()).select_from(Invoice))
        checks = [ledger.check(n) for n in range(1, args.organisations + 1)]
        stored, summed = (sum(c[0] for c in checks), sum(c[1] for c in checks))
        expected = args.payments * AMOUNT
        print(f"{'paid payments / receipts':<46} {paid} / {receipts}")
        exact = "exact" if stored == summed == expected else "WRONG"
        print(
            f"{'wallets: stored / ledger / expected (cents)':<46} {stored} / {summed} / "
            f"{expected}  {exact}"
        )


if __name__ == "__main__":
    main()
