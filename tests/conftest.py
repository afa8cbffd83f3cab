"""Fixtures of Guichet's own suite, on top of the test kit it ships to plugin authors
(``core.testing``, a pytest plugin: ``app``, ``client``, ``organisation``, ``customer``,
``operator``, ``logged_in``, ``smtp_server``, ``count_queries``...).

The database is SQLite in a temporary folder, or PostgreSQL when
``GUICHET_TEST_DATABASE_URL`` is set; it is migrated once per session and emptied
after every test.
"""

from __future__ import annotations

import contextvars
import datetime
import functools
import io
import threading

import pytest

from core.extensions import db
from core.testing import PASSWORD, fresh_test, make_app, make_org, make_user, run_cli

__all__ = ["PASSWORD", "make_app", "make_org", "make_user", "run_cli"]

MOLLIE_KEY = "test_guichet0123456789abcdef"


@pytest.fixture(scope="session")
def mollie_server():
    """The local server speaking Mollie's API (webhooks off: tests post them)."""
    from plugins.mollie.local_api import LocalMollie

    server = LocalMollie(webhooks=False).start()
    yield server
    server.stop()


@pytest.fixture
def mollie(mollie_server):
    """The local Mollie server, emptied for each test."""
    with mollie_server.lock:
        mollie_server.payments.clear()
        mollie_server.customers.clear()
        mollie_server.mandates.clear()
        mollie_server.refunds.clear()
        mollie_server.replies.clear()
        mollie_server.webhook_calls.clear()
    return mollie_server


@pytest.fixture(scope="session")
def guichet_config(mollie_server):
    """The suite's app takes its payments through the local Mollie server."""
    return {"MOLLIE_API_KEY": MOLLIE_KEY, "MOLLIE_API_ENDPOINT": mollie_server.url}


@pytest.fixture(autouse=True)
def app_ctx(app):
    """Every test of the suite runs in the app's context, on an empty database, with
    fresh rate limits and an empty job queue."""
    with fresh_test(app):
        yield


@pytest.fixture
def other_client(app):
    return app.test_client()


def run_together(app, count, action) -> list:
    """Run ``action(n)`` in ``count`` threads at once, each in its own app context (its
    own connection and transaction); returns what each returned or raised."""
    results = [None] * count
    start = threading.Barrier(count)

    def worker(n):
        with app.app_context():
            start.wait()
            try:
                results[n] = action(n)
                db.session.commit()
            except Exception as error:  # noqa: BLE001 - the test looks at each outcome
                db.session.rollback()
                results[n] = error

    threads = [
        threading.Thread(target=contextvars.Context().run, args=(worker, n)) for n in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@functools.lru_cache
def one_page_pdf(text: str = "Guichet test document") -> bytes:
    """A real one-page PDF holding ``text`` (rendered by xhtml2pdf)."""
    from xhtml2pdf import pisa

    out = io.BytesIO()
    pisa.CreatePDF(f"<p>{text}</p>", dest=out, encoding="utf-8")
    return out.getvalue()


def invoice_item(number: str = "62274737", **values) -> dict:
    """An invoice as the import API takes it (issued ten days ago, due in twenty)."""
    today = datetime.date.today()
    data = {
        "number": number,
        "type": "invoice",
        "date": (today - datetime.timedelta(days=10)).isoformat(),
        "due_date": (today + datetime.timedelta(days=20)).isoformat(),
        "total_ht": "56267.25",
        "total_ttc": "67520.70",
        "client_code": "00002501",
        "subscriber": "CLIENT 1",
    }
    data.update(values)
    return data


@pytest.fixture
def org(organisation):
    """The suite's name for the kit's ``organisation``: "Client 1"."""
    return organisation


@pytest.fixture
def user(customer):
    """The suite's name for the kit's ``customer``: an admin of "Client 1"."""
    return customer
