"""Dashboard speed, with 12 pinned widgets: the dashboard shell (p95 ≤ 15 ms, query
count independent of the number of widgets), each built-in widget endpoint (≤ 20 ms),
the favourites toggle round-trip (≤ 20 ms); then, under gunicorn with 2 workers and
wrk on loopback, requests per second of the dashboard shell against a bare Flask route
rendering a template of the same size.

    .venv/bin/python -m bench.dashboard [--database-url URL] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import event, text

from bench.common import gunicorn, measure, report


def serve_and_load(app_name: str, env: dict, cookie: str, seconds: int) -> float:
    """Start gunicorn (2 workers) on the named app, load it with wrk, return req/s."""
    env = {**env, "GUICHET_BENCH_APP": app_name}
    with gunicorn(f"bench.dashboard_apps:{app_name}", env) as base:
        url = base + "/"
        warm = ["wrk", "-t1", "-c2", "-d2s", "-H", f"Cookie: {cookie}", url]
        subprocess.run(warm, capture_output=True, check=True)
        run = ["wrk", "-t2", "-c8", f"-d{seconds}s", "-H", f"Cookie: {cookie}", url]
        output = subprocess.run(run, capture_output=True, text=True, check=True).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        raise SystemExit(f"{app_name}: {non_2xx.group(1)} failed responses\n{output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per app")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed for the load part: apt-get install wrk")

    folder = Path(tempfile.mkdtemp(prefix="guichet-bench-"))
    env = {**os.environ, "GUICHET_BENCH_DIR": str(folder)}
    if args.database_url:
        env["GUICHET_BENCH_DATABASE_URL"] = args.database_url
    os.environ.update(env)

    from bench.dashboard_apps import make_portal
    from core import directory, favourites
    from core.extensions import db
    from core.schema import upgrade_all

    app = make_portal()
    app.config["WTF_CSRF_ENABLED"] = False
    with app.app_context():
        if args.database_url:
            db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
        upgrade_all()
        org = directory.create_organisation(name="Client 1")
        directory.create_account(org, client_code="00002501")
        org.dashboard_defaults = {"favourites": ["benchw", "account"], "pins": []}
        user = directory.create_user("bench@example.com", password="bench password 1")
        membership = directory.set_membership(user, org, "admin")
        for n in range(12):
            favourites.set_pin(membership, f"benchw.w{n:02d}", True)
        db.session.commit()
        engine = db.engine
    print(f"database: {engine.dialect.name}; 12 widgets pinned")

    client = app.test_client()
    login = {"email": "bench@example.com", "password": "bench password 1"}
    assert client.post("/login", data=login).status_code == 302

    queries: list[str] = []

    def count(conn, cursor, statement, *rest):
        queries.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    page = client.get("/")
    event.remove(engine, "before_cursor_execute", count)
    assert page.get_data(as_text=True).count('class="widget"') == 12
    report(
        "dashboard shell GET / (12 widgets)",
        measure(lambda: client.get("/"), args.runs),
        "target p95 ≤ 15 ms",
    )
    print(f"{'SQL queries for the dashboard shell':<42} {len(queries)}")

    hx = {"HX-Request": "true"}
    report(
        "widget: account.summary (built-in)",
        measure(lambda: client.get("/widgets/account.summary", headers=hx), args.runs),
        "target p95 ≤ 20 ms",
    )
    report(
        "widget: a sample plugin widget",
        measure(lambda: client.get("/widgets/benchw.w00", headers=hx), args.runs),
    )

    state = {"on": False}

    def toggle():
        response = client.post(
            "/favourites/benchw", headers=hx, data={"enabled": "1" if state["on"] else "0"}
        )
        assert response.status_code == 200, response.status_code
        state["on"] = not state["on"]

    report(
        "favourites toggle round-trip (HTMX POST)", measure(toggle, args.runs), "target p95 ≤ 20 ms"
    )

    # The same page as a static template for the bare Flask app.
    (folder / "bare.html").write_text(page.get_data(as_text=True).replace("{", "&#123;"))
    cookie = "guichet_session=" + next(
        c.value for c in client._cookies.values() if c.key == "guichet_session"
    )
    portal_rps = serve_and_load("portal", env, cookie, args.seconds)
    bare_rps = serve_and_load("bare", env, cookie, args.seconds)
    size = len(page.get_data())
    print(f"gunicorn -w 2, wrk -t2 -c8 -d{args.seconds}s, page of {size} bytes:")
    print(f"{'  dashboard shell':<42} {portal_rps:8.0f} req/s")
    print(f"{'  bare Flask route, same-size template':<42} {bare_rps:8.0f} req/s")
    print(f"{'  ratio portal / bare':<42} {portal_rps / bare_rps:8.2f}")


if __name__ == "__main__":
    main()
