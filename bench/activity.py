"""The activity trail of an organisation with 1,000,000 events over a year (50
members; logins, downloads, payments, security changes), as its admin filters it:
by kind, by member, both, by dates, deep pages, and its CSV. Target: a filtered page
p95 ≤ 50 ms. Requests go through Flask's test client (the whole app, no network).

    .venv/bin/python -m bench.activity [--events 1000000] [--runs 40]
        [--database-url postgresql+psycopg://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import date, timedelta

from bench.common import analyze, bench_app, insert_batches, measure, ok, report
from core.extensions import db

ADMIN, PASSWORD = "admin@bench.example.com", "bench password 1"
MEMBERS = 50
ACTIONS = (  # action, kind, share
    ("login.ok", "login", 30),
    ("login.failed", "login", 2),
    ("download.invoice", "downloads", 45),
    ("download.invoices_csv", "downloads", 5),
    ("payment.started", "payments", 10),
    ("letter.sent", "letters", 5),
    ("user.2fa_on", "security", 1),
    ("membership.set", "members", 1),
    ("notification.changed", "notifications", 1),
)


def populate(count: int) -> tuple[int, int]:
    """The organisation, its members, and ``count`` events spread over a year; returns
    (the admin's id, one member's id)."""
    from core import directory
    from core.models import AuditEvent, utcnow

    started = time.perf_counter()
    org = directory.create_organisation(name="Bench")
    admin = directory.create_user(ADMIN, password=PASSWORD)
    directory.set_membership(admin, org, "admin")
    members = [admin]
    for n in range(MEMBERS - 1):
        member = directory.create_user(f"m{n}@bench.example.com", password=PASSWORD)
        directory.set_membership(member, org, "member")
        members.append(member)
    db.session.commit()
    people = [(m.id, m.email) for m in members]
    chooser = random.Random(7)
    weights = [share for _a, _k, share in ACTIONS]
    now = utcnow()
    step = timedelta(days=365) / count

    def rows():
        for n in range(count):  # oldest first: ids grow with time, as they do
            action, kind, _share = chooser.choices(ACTIONS, weights)[0]
            actor_id, email = people[chooser.randrange(len(people))]
            yield {
                "at": now - step * (count - n),
                "actor_id": actor_id,
                "actor_label": email,
                "organisation_id": org.id,
                "action": action,
                "target": f"F{n:08d}",
                "kind": kind,
                "ip": f"192.0.2.{n % 250}",
                "device": "Chrome 156 · Linux",
            }

    insert_batches(AuditEvent, rows())
    db.session.commit()
    analyze()
    print(f"populated {count:,} events in {time.perf_counter() - started:.0f} s")
    return admin.id, people[7][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    app = bench_app(tempfile.mkdtemp(), args.database_url)
    with app.app_context():
        _admin_id, member_id = populate(args.events)
    client = app.test_client()
    assert client.post("/login", data={"email": ADMIN, "password": PASSWORD}).status_code == 302
    month = date.today() - timedelta(days=30)
    works = [
        ("everything, page 1", "/activite/"),
        ("logins only", "/activite/?kind=login"),
        ("security only (1%)", "/activite/?kind=security"),
        ("one member", f"/activite/?member={member_id}"),
        ("one member's logins", f"/activite/?member={member_id}&kind=login"),
        ("the last 30 days", f"/activite/?from={month}"),
        ("one member, one month ago", f"/activite/?member={member_id}&to={month}"),
        ("everything, page 150", "/activite/?page=150"),
    ]
    print(f"{args.events:,} events, {args.runs} runs")
    for title, path in works:
        report(title, measure(lambda p=path: ok(client.get(p)), args.runs, warmup=3), "p95 ≤ 50 ms")
    started = time.perf_counter()
    body = ok(client.get(f"/activite/export.csv?member={member_id}")).get_data()
    rows = body.count(b"\n") - 1
    print(
        f"CSV of one member's {rows:,} events: {rows / (time.perf_counter() - started):,.0f} rows/s"
    )


if __name__ == "__main__":
    main()
