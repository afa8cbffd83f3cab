"""Guichet against its floor, side by side in one run: the portal and a bare Flask +
sqlite3 app (``bench.side_apps``) over the same invoices, both under gunicorn with 2
workers, loaded in turn by one client; the ratio is Guichet's time over the floor's
(below 1: faster). Each scale is one organisation holding that many invoices and as
many again spread over 1,000 others: by default 20,000 (most customers) and 2,000,000
(the largest). With ``--database-url``, the portal runs on PostgreSQL too, over the
same rows.

    .venv/bin/python -m bench.side_by_side [--scales 20000 2000000] [--runs 40]
        [--database-url postgresql+psycopg://postgres@127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import contextvars
import os
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import requests

from bench.common import bench_app, gunicorn, percentiles
from bench.invoices import populate

LOGIN = {"email": "big@example.com", "password": "bench password 1"}


def works(invoice_id: int, big: int) -> list[tuple[str, str, dict]]:
    deep = min(3000, big // 50)  # page 3000 at millions, the middle of the list below
    month_ago = (date.today() - timedelta(days=30)).isoformat()
    return [
        ("list, unfiltered, page 1", "/factures/", {}),
        (
            "list, last month, 100-5,000 € TTC",
            f"/factures/?date_from={month_ago}&ttc_min=100&ttc_max=5000",
            {},
        ),
        ("list, broad filter (TTC ≥ 100 €), page 1", "/factures/?ttc_min=100", {}),
        ("list, a deep page (3000 at most)", f"/factures/?page={deep}", {}),
        ("widget: latest + still to pay", "/factures/widget", {"HX-Request": "true"}),
        ("cached PDF", f"/factures/{invoice_id}/pdf", {}),
    ]


def prepare(folder: str, args, database_url: str | None) -> int:
    """Populate the database and make the PDF of the newest invoice; returns its id."""
    from sqlalchemy import text

    from core.extensions import db

    app = bench_app(folder, database_url)
    with app.app_context():
        populate(args.orgs, args.total, args.big)
        newest = db.session.scalar(
            text("SELECT id FROM invoices WHERE organisation_id = 1 ORDER BY issued_on DESC")
        )
    client = app.test_client()
    assert client.post("/login", data=LOGIN).status_code == 302
    pdf = contextvars.Context().run(client.get, f"/factures/{newest}/pdf")
    assert pdf.status_code == 200
    Path(folder, "side.pdf").write_bytes(pdf.data)  # the floor's "stored PDF"
    return newest


def measure_all(name: str, folder: str, invoice_id: int, big: int, runs: int, url=None) -> dict:
    """p50 and p95 (ms) of each work, and the CSV export's rows per second."""
    env = {**os.environ, "GUICHET_BENCH_DIR": folder, "GUICHET_BENCH_APP": name}
    if url:
        env["GUICHET_BENCH_DATABASE_URL"] = url
    session = requests.Session()
    with gunicorn(f"bench.side_apps:{name}", env) as base:
        if name == "portal":
            assert session.post(base + "/login", data=LOGIN, allow_redirects=False).ok
        figures = {}
        for title, path, headers in works(invoice_id, big):
            samples = []
            for n in range(runs + 5):
                started = time.perf_counter()
                response = session.get(base + path, headers=headers, allow_redirects=False)
                if n >= 5:  # five to warm up
                    samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (name, path, response.status_code)
            figures[title] = percentiles(samples)
        rates = []
        for _ in range(3):
            started = time.perf_counter()
            with session.get(base + "/factures/export.csv", stream=True) as response:
                rows = sum(chunk.count(b"\n") for chunk in response.iter_content(65536)) - 1
            rates.append(rows / (time.perf_counter() - started))
        figures["CSV export, rows/s (best of 3)"] = {"rate": max(rates), "rows": rows}
    return figures


def measure_scale(args, big: int) -> dict[str, dict]:
    """Every work at one scale: ``big`` invoices in the organisation measured, as many
    again over the others; the floor, Guichet on SQLite, and on PostgreSQL if asked."""
    scale = argparse.Namespace(orgs=args.orgs, total=2 * big, big=big)
    runs = args.runs
    folder = tempfile.mkdtemp(prefix="guichet-side-")
    invoice_id = prepare(folder, scale, None)
    columns = {
        "bare floor": measure_all("bare", folder, invoice_id, big, runs),
        "Guichet SQLite": measure_all("portal", folder, invoice_id, big, runs),
    }
    shutil.rmtree(folder, ignore_errors=True)
    if args.database_url:
        pg_folder = tempfile.mkdtemp(prefix="guichet-side-pg-")
        pg_invoice = prepare(pg_folder, scale, args.database_url)
        columns["Guichet PostgreSQL"] = measure_all(
            "portal", pg_folder, pg_invoice, big, runs, args.database_url
        )
        shutil.rmtree(pg_folder, ignore_errors=True)
    print(
        f"\n{2 * big:,} invoices, {big:,} in the organisation measured, {runs} runs; "
        "p50 / p95 in ms, ratio of the p50s to the floor's"
    )
    floor = columns["bare floor"]
    print(f"{'work':<44}" + "".join(f"{name:>30}" for name in columns))
    for title, figure in floor.items():
        cells = []
        for column in columns.values():
            mine = column[title]
            if "rate" in mine:
                cell = f"{mine['rate']:,.0f} ({mine['rate'] / figure['rate']:.2f}×)"
            else:
                cell = f"{mine['p50']:.1f} / {mine['p95']:.1f} ({mine['p50'] / figure['p50']:.2f}×)"
            cells.append(f"{cell:>30}")
        print(f"{title:<44}" + "".join(cells), flush=True)
    return columns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="also run the portal on this PostgreSQL")
    parser.add_argument("--orgs", type=int, default=1000)
    parser.add_argument(
        "--scales",
        type=int,
        nargs="+",
        default=[20_000, 2_000_000],
        help="invoices of the organisation measured, one run each",
    )
    parser.add_argument("--runs", type=int, default=40, help="runs of each work")
    args = parser.parse_args()
    for big in args.scales:
        measure_scale(args, big)


if __name__ == "__main__":
    main()
