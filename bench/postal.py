"""Postal mail speed: checking, counting and pricing a 10-page PDF (what the preview
does), building the print-ready PDF of a one-page invoice, and 100 letters queued by
10 users at once with the wallet exact at the end.

    .venv/bin/python -m bench.postal [--database-url URL]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from bench.common import add_organisations, bench_app, measure, report

ADDRESS = ["CLIENT 2", "SERVICE COMPTABILITÉ", "9 RUE DU COLONEL PIERRE AVIA", "75015 PARIS"]


def document(pages: int) -> bytes:
    buffer = io.BytesIO()
    sheet = canvas.Canvas(buffer, pagesize=A4)
    for n in range(pages):
        for line in range(40):
            sheet.drawString(60, A4[1] - 300 - line * 12, f"Page {n + 1}, ligne {line + 1}")
        sheet.showPage()
    sheet.save()
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    from core import documents, ledger
    from core.extensions import db
    from core.postal import LetterOptions, postal_provider
    from plugins.invoices.documents import invoice_pdf
    from plugins.invoices.importing import import_invoices
    from plugins.invoices.models import Invoice
    from plugins.postal import sending
    from plugins.postal.models import Letter
    from plugins.postal.printing import check_document, print_ready, printed_pages

    app = bench_app(
        tempfile.mkdtemp(prefix="guichet-bench-"), args.database_url, JOBS_IMMEDIATE=False
    )
    with app.app_context():
        add_organisations(1)
        db.session.commit()
        print(f"database: {db.engine.dialect.name}")
        ten = document(10)
        provider = postal_provider()

        def quote():
            with app.app_context():  # measure runs each call in a fresh context
                check_document(ten)
                pages, _cover = printed_pages(ten)
                return provider.price(pages, LetterOptions())

        report("check, count and price a 10-page PDF", measure(quote, args.runs), "<= 50 ms")

        import_invoices(
            [
                {
                    "number": "B-1",
                    "date": "2026-11-01",
                    "total_ht": "100.00",
                    "total_ttc": "120.00",
                    "client_code": "00000001",
                }
            ]
        )
        invoice = db.session.query(Invoice).one()
        one_page = invoice_pdf(invoice).read_bytes()
        figures = measure(lambda: print_ready(one_page, ADDRESS), args.runs // 4)
        report("print-ready PDF of a one-page invoice", figures, "<= 500 ms")

        sha = documents.store(ten)
        ledger.post(1, "topup", 100_000, "bench-fund")
        db.session.commit()
        start = threading.Barrier(10)

        def user(n: int) -> None:
            with app.app_context():
                start.wait()
                for _ in range(10):
                    sending.send(
                        Letter(
                            organisation_id=1,
                            account_id=1,
                            key=uuid.uuid4().hex,
                            provider=provider.key,
                            document_sha256=sha,
                            title="Bench",
                            pages=1,
                            address=ADDRESS,
                            price=145,
                        )
                    )

        began = time.perf_counter()
        with ThreadPoolExecutor(10) as pool:
            list(pool.map(user, range(10)))
        elapsed = time.perf_counter() - began
        queued = db.session.query(Letter).count()
        stored, summed = ledger.check(1)
        exact = "exact" if stored == summed == 100_000 - queued * 145 else "WRONG"
        print(
            f"{'100 letters by 10 users at once':<42} {queued} queued in {elapsed:.2f} s "
            f"({queued / elapsed:.0f}/s); wallet {stored}, ledger {summed}: {exact}"
        )


if __name__ == "__main__":
    main()
