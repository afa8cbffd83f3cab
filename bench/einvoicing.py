"""E-invoices speed: the Factur-X and the UBL of an invoice, the first time (made,
checked against the schema and the EN 16931 schematron, kept; p95 ≤ 300 ms) and
again (served from the kept file; p95 ≤ 5 ms), through the portal's own pages; and
the cost, once per worker process, of compiling the schematrons.

    .venv/bin/python -m bench.einvoicing [--invoices 60] [--database-url URL]
"""

from __future__ import annotations

import argparse
import contextvars
import tempfile
import time
from datetime import date

from sqlalchemy import insert, select

from bench.common import add_organisations, bench_app, measure, ok, percentiles, report

LOGIN = {"email": "einvoices@example.com", "password": "bench password 1"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--invoices", type=int, default=60)
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
        items = generated_invoices(date.today(), args.invoices, seed=11)
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
        for invoice_id in ids:  # each one made the first time: the PDF, then the format
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


if __name__ == "__main__":
    main()
