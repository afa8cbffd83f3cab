"""Core platform speed: with 10,000 organisations, 50,000 users and 100 apps, the
logged-in page shell (p95 ≤ 15 ms, bounded SQL queries) and login with argon2
hashing (p95 ≤ 150 ms).

    .venv/bin/python -m bench.core_shell [--database-url URL] [--orgs 10000] [--users 50000]

Requests go through Flask's test client (the whole app, without the network).
"""

from __future__ import annotations

import argparse
import tempfile
import time

from sqlalchemy import event, insert, text

from bench.common import bench_app, measure, report
from core.appinfo import App, MenuItem
from core.extensions import db
from core.hookspecs import hookimpl
from core.models import Account, AppActivation, Membership, Organisation, User
from core.passwords import hash_password

PASSWORD = "bench password 123"


class HundredApps:
    """A plugin declaring 100 apps, each with a menu entry."""

    __name__ = "bench_apps"

    def __init__(self, count: int):
        self.keys = [f"app{n:03d}" for n in range(count)]

    @hookimpl
    def guichet_apps(self):
        return [
            App(key=k, name=f"App {k}", endpoint="portal.home", section=f"Section {k[-1]}")
            for k in self.keys
        ]

    @hookimpl
    def guichet_menu_items(self, user, organisation):
        return [MenuItem(k, f"Section {k[-1]}", f"App {k}", "portal.home") for k in self.keys]


def populate(orgs: int, users: int, apps: list[str], enabled: int) -> None:
    started = time.perf_counter()
    hashed = hash_password(PASSWORD)
    db.session.execute(
        insert(Organisation),
        [
            {"id": n, "name": f"Organisation {n:05d}", "address": "", "locale": "fr"}
            for n in range(1, orgs + 1)
        ],
    )
    db.session.execute(
        insert(Account),
        [
            {"id": n, "organisation_id": (n - 1) // 2 + 1, "client_code": f"{n:08d}", "name": ""}
            for n in range(1, orgs * 2 + 1)
        ],
    )
    db.session.execute(
        insert(User),
        [
            {
                "id": n,
                "email": f"user{n}@example.com",
                "password_hash": hashed,
                "name": f"User {n}",
                "is_operator": False,
                "active": True,
            }
            for n in range(1, users + 1)
        ],
    )
    db.session.execute(
        insert(Membership),
        [
            {
                "id": n,
                "user_id": n,
                "organisation_id": (n - 1) % orgs + 1,
                "role": "admin" if n <= orgs else "member",
            }
            for n in range(1, users + 1)
        ],
    )
    for first in range(1, orgs + 1, 1000):
        db.session.execute(
            insert(AppActivation),
            [
                {"organisation_id": o, "app_key": k, "enabled": True, "settings": {}}
                for o in range(first, min(first + 1000, orgs + 1))
                for k in apps
            ],
        )
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        for table in ("organisations", "accounts", "users", "memberships"):
            db.session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    print(
        f"populated {orgs} organisations, {orgs * 2} accounts, {users} users, "
        f"{orgs * len(apps)} app activations in {time.perf_counter() - started:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--orgs", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--enabled", type=int, default=100, help="apps enabled per organisation")
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()

    plugin = HundredApps(args.apps)
    app = bench_app(
        tempfile.mkdtemp(prefix="guichet-bench-"), args.database_url, EXTRA_PLUGINS=[plugin]
    )
    with app.app_context():
        populate(args.orgs, args.users, plugin.keys, args.enabled)
        engine = db.engine
    print(
        f"database: {engine.dialect.name}; apps registered: {len(plugin.keys) + 1}, "
        f"enabled per organisation: {args.enabled + 1}"
    )

    client = app.test_client()
    email = f"user{args.users // 2}@example.com"
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302

    queries: list[str] = []

    def count(conn, cursor, statement, *rest):
        queries.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    assert client.get("/").status_code == 200
    event.remove(engine, "before_cursor_execute", count)
    shell = measure(lambda: client.get("/"), args.runs)
    report("logged-in shell GET /", shell, "target p95 ≤ 15 ms")
    print(f"{'SQL queries for the shell':<42} {len(queries)}")

    def login():
        fresh = app.test_client()  # no cookie: the whole login, argon2 included
        assert fresh.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302

    report("login POST (argon2 verify)", measure(login, runs=100, warmup=5), "target p95 ≤ 150 ms")


if __name__ == "__main__":
    main()
