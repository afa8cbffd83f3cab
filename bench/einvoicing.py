"""E-invoices speed: the Factur-X and the UBL of an invoice, the first time (made,
checked against the schema and the EN 16931 schematron, kept; p95 ≤ 300 ms) and
again (served from the kept file; p95 ≤ 5 ms), through the portal's own pages; the
cost, once per worker process, of compiling the schematrons; and a ZIP of ``--zip``
Factur-X files (1,000), the first time (each made) and again (from the kept files:
≥ 200 files/s).

    .venv/bin/python -m bench.einvoicing [--invoices 60] [--zip 1000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import contextvars
import io
import tempfile
import time
import zipfile
from datetime import date

from sqlalchemy import insert, select

from bench.common import add_organisations, bench_app, measure, ok, percentiles, report

LOGIN = {"email": "einvoices@example.com", "password": "bench password 1"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--invoices", type=int, default=60)
    parser.add_argument("--zip", type=int, default=1000)
    args = parser.parse_args()

    from core.extensions import db
    from core.models import Membership, User
    from core.passwords import hash_password
    from plugins.einvoicing import validation
    from plugins.invoices.demo import generated_invoices
    from plugins.invoices.importing import import_invoices
    from plugins.invoices.models import Invoice

    app = bench_app(tempfile.mkdtemp(prefix="guichet-bench-"), args.database_url)
    with app.app_context():
        add_organisations(1)
        user = {"id": 1, "email": LOGIN["email"], "name": "", "active": True}
        db.session.execute(
            insert(User), [{**user, "password_hash": hash_password(LOGIN["password"])}]
        )
        db.session.execute(
            insert(Membership), [{"id": 1, "user_id": 1, "organisation_id": 1, "role": "admin"}]
        )
        items = generated_invoices(date.today(), max(args.invoices, args.zip), seed=11)
        import_invoices([{**item, "client_code": "00000001"} for item in items])
        db.session.commit()
        ids = db.session.scalars(select(Invoice.id).order_by(Invoice.id)).all()

    started = time.perf_counter()
    validation.prepare()
    compiling = time.perf_counter() - started
    print(f"{'compiling both schematrons (once a thread)':<42} {compiling:7.2f} s")

    client = app.test_client()
    ok(client.post("/login", data=LOGIN, follow_redirects=True))
    for key, title in (("facturx", "Factur-X"), ("ubl", "UBL")):
        samples = []
        for invoice_id in ids[: args.invoices]:  # each made the first time: PDF, then format
            contextvars.Context().run(client.get, f"/factures/{invoice_id}/pdf")
            begun = time.perf_counter()
            ok(contextvars.Context().run(client.get, f"/factures/{invoice_id}/{key}"))
            samples.append((time.perf_counter() - begun) * 1000)
        report(f"{title}, first (made, checked, kept)", percentiles(samples), "(p95 ≤ 300 ms)")
        path = f"/factures/{ids[0]}/{key}"
        report(
            f"{title}, again (the kept file)",
            measure(lambda path=path: ok(client.get(path)), 200),
            "(p95 ≤ 5 ms)",
        )
    if args.zip:
        zip_rates(client, len(ids))


def zip_rates(client, count: int) -> None:
    """Files per second of the whole list's ZIP of Factur-X, made then kept."""
    for title in ("made", "again, from the kept files"):
        begun = time.perf_counter()
        response = contextvars.Context().run(
            client.get, "/factures/archive.zip?all=1&format=facturx", buffered=True
        )
        seconds = time.perf_counter() - begun
        with zipfile.ZipFile(io.BytesIO(ok(response).data)) as archive:
            files = len(archive.namelist())
        assert files == count, (files, count)
        mb = len(response.data) / 1e6
        print(
            f"{f'ZIP of {files} Factur-X, {title}':<42} {files / seconds:7.0f} files/s"
            f"  ({seconds:.1f} s, {mb:.0f} MB)  (kept: ≥ 200 files/s)"
        )


if __name__ == "__main__":
    main()
