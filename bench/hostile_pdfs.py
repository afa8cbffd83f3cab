"""What a hostile PDF costs the request that receives it: the checks of the import API
(``check_pdf``) and of the letter form (``check_document``, then the envelope-window
search of ``printed_pages``), on an ordinary letter and on the probe's PDFs (a stream
that inflates to 200 MB, a page of 10 MB of text operators, 10,000 pages).

    .venv/bin/python -m bench.hostile_pdfs
"""

from __future__ import annotations

import argparse
import tempfile
import time

from bench.common import percentiles, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from core import create_app
    from core.documents import check_pdf
    from plugins.postal.printing import DocumentError, check_document, printed_pages
    from tests.test_probe import BOMB, LETTER, OPERATORS, raw_pdf

    app = create_app(
        {
            "INSTANCE_PATH": tempfile.mkdtemp(prefix="guichet-bench-"),
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "LOG_LEVEL": "WARNING",
        }
    )
    cases = {
        "an ordinary letter": raw_pdf(LETTER),
        "a stream inflating to 200 MB": raw_pdf(BOMB, deflate=True),
        "a page of 10 MB of text operators": raw_pdf(OPERATORS, deflate=True),
        "10,000 pages": raw_pdf(LETTER, pages=10_000),
    }

    def api_check(data: bytes) -> str:
        try:
            return f"{check_pdf(data)} page(s)"
        except ValueError as error:
            return f"422 ({error})"

    def letter_check(data: bytes) -> str:
        try:
            check_document(data)
            pages, cover = printed_pages(data)
            return f"{pages} printed page(s){', cover' if cover else ''}"
        except DocumentError as error:
            return f"422 ({error})"

    for name, data in cases.items():
        for what, check in (("import API", api_check), ("letter form", letter_check)):
            samples = []
            for _ in range(args.runs):
                with app.test_request_context():
                    start = time.perf_counter()
                    outcome = check(data)
                    samples.append((time.perf_counter() - start) * 1000)
            figures = percentiles(samples * 2 if len(samples) < 2 else samples)
            report(f"{name} ({len(data) // 1024} kB), {what}", figures, outcome)


if __name__ == "__main__":
    main()
