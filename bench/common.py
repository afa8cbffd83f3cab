"""Helpers shared by the bench scripts: timing percentiles and a test-client app."""

from __future__ import annotations

import contextlib
import contextvars
import statistics
import time
from collections.abc import Callable


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": cut[49], "p95": cut[94], "p99": cut[98], "max": ordered[-1]}


def measure(action: Callable[[], object], runs: int, warmup: int = 10) -> dict[str, float]:
    """Run ``action`` ``warmup`` then ``runs`` times, each in a fresh context like a
    real request; returns the percentiles in milliseconds."""
    for _ in range(warmup):
        contextvars.Context().run(action)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        contextvars.Context().run(action)
        samples.append((time.perf_counter() - start) * 1000)
    return percentiles(samples)


def ok(response):
    """``response``, which must be a success: a bench never times an error page."""
    assert response.status_code == 200, (response.status_code, response.get_data()[:300])
    return response


def report(title: str, figures: dict[str, float], target: str = "") -> None:
    values = "  ".join(f"{k} {v:7.2f} ms" for k, v in figures.items())
    print(f"{title:<42} {values}  {target}")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def gunicorn(target: str, env: dict[str, str], workers: int = 2):
    """gunicorn serving ``target`` (``module:app``) with ``workers`` on a free loopback
    port, once it answers; yields its base URL and stops it at the end."""
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}"]
    server = subprocess.Popen([*command, "--log-level", "warning", target], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/", timeout=10)
                break
            except urllib.error.HTTPError:
                break  # it answers
            except OSError:
                if time.time() > deadline:
                    raise SystemExit(f"{target} did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait()


def bench_config(folder: str, database_url: str | None = None, **config) -> dict:
    """The settings of a bench's portal: its instance ``folder``, the SQLite file there
    or ``database_url``, no CSRF or rate limits, the demo issuer on documents."""
    from core.demo import DEMO_ISSUER

    return {
        "INSTANCE_PATH": folder,
        "SQLALCHEMY_DATABASE_URI": database_url or f"sqlite:///{folder}/bench.db",
        "SECRET_KEY": "bench",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "ISSUER": dict(DEMO_ISSUER),  # documents carry every legal mention
        **config,
    }


def bench_app(folder: str, database_url: str | None = None, **config):
    """A Guichet app for a bench, on a fresh database: a new SQLite file in ``folder``, or
    the PostgreSQL database at ``database_url`` with its ``public`` schema emptied."""
    from sqlalchemy import text

    from core import create_app
    from core.extensions import db
    from core.schema import upgrade_all

    app = create_app(bench_config(folder, database_url, **config))
    with app.app_context():
        if database_url:
            db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
        upgrade_all()
    return app


def add_organisations(count: int, extra_accounts: list[dict] | None = None) -> None:
    """Organisations 1..``count``, each with one account (id n, client code ``%08d``),
    plus ``extra_accounts``; not committed."""
    from sqlalchemy import insert

    from core.extensions import db
    from core.models import Account, Organisation

    numbers = range(1, count + 1)
    organisations = [{"id": n, "name": f"Org {n}", "address": "", "locale": "fr"} for n in numbers]
    db.session.execute(insert(Organisation), organisations)
    accounts = [
        {"id": n, "organisation_id": n, "client_code": f"{n:08d}", "name": ""} for n in numbers
    ]
    db.session.execute(insert(Account), accounts + (extra_accounts or []))


def analyze() -> None:
    """Gather the planner's statistics after populating (and VACUUM too on PostgreSQL:
    the visibility map lets count(*) use index-only scans, as it would on a database
    that has lived for a while, with autovacuum)."""
    from sqlalchemy import text

    from core.extensions import db

    command = "VACUUM ANALYZE" if db.engine.dialect.name == "postgresql" else "ANALYZE"
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(command))


def insert_batches(model, rows, size: int = 20_000) -> None:
    """Insert ``rows`` (dicts, from any iterable) into ``model``'s table, ``size`` at a
    time: what each bench's populate does, without holding millions in memory."""
    from sqlalchemy import insert

    from core.extensions import db

    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            db.session.execute(insert(model), batch)
            batch = []
    if batch:
        db.session.execute(insert(model), batch)
