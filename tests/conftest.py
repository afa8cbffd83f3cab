"""Fixtures that build the world through the same functions the product uses.

The database is SQLite in a temporary folder, or PostgreSQL when
``GUICHET_TEST_DATABASE_URL`` is set; it is migrated once per session and emptied
after every test.
"""

from __future__ import annotations

import contextvars
import datetime
import functools
import io
import os
import re
import tempfile
import threading

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, text

from core import create_app, directory, jobs
from core.extensions import db, limiter
from core.schema import upgrade_all

# One database for the session, shared by every app a test builds.
DATABASE_URL = os.environ.get("GUICHET_TEST_DATABASE_URL") or (
    f"sqlite:///{tempfile.mkdtemp(prefix='guichet-test-')}/test.db"
)
PASSWORD = "correct horse battery"
MOLLIE_KEY = "test_guichet0123456789abcdef"
CSRF_RE = re.compile(r'"X-CSRFToken": "([^"]+)"')


class Client(FlaskClient):
    """A test client that sends the CSRF token with unsafe requests, as the pages do.

    Each request runs in a fresh context, as in production: it gets its own app
    context (``g``), database session and transaction, not the test's.
    """

    def csrf_token(self) -> str:
        page = self.get("/password/forgot").get_data(as_text=True)
        return CSRF_RE.search(page).group(1)

    def open(self, *args, **kwargs):
        method = kwargs.get("method", "GET")
        if kwargs.pop("csrf", True) and method not in ("GET", "HEAD", "OPTIONS"):
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRFToken", self.csrf_token())
            kwargs["headers"] = headers
        # Buffered: a streamed body is read inside the request's own context.
        kwargs.setdefault("buffered", True)
        return contextvars.Context().run(super().open, *args, **kwargs)

    def htmx(self, method: str, url: str, **kwargs):
        headers = {"HX-Request": "true", **kwargs.pop("headers", {})}
        return self.open(url, method=method, headers=headers, **kwargs)

    def login(self, email: str, password: str = PASSWORD, **extra):
        return self.post("/login", data={"email": email, "password": password, **extra})


def make_app(tmp_path, **config):
    """A Guichet app with its own plugin manager, on the test database."""
    settings = {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path),
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": DATABASE_URL,
        "SERVER_NAME": "guichet.test",
        **config,
    }
    app = create_app(settings)
    app.test_client_class = Client
    return app


@pytest.fixture(scope="session")
def smtp_sink():
    sink = SmtpSink()
    sink.controller.start()
    yield sink
    sink.controller.stop()


@pytest.fixture
def smtp_server(smtp_sink):
    """The SMTP server the test app sends to, emptied for each test."""
    smtp_sink.reset()
    return smtp_sink


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
        mollie_server.refunds.clear()
        mollie_server.replies.clear()
        mollie_server.webhook_calls.clear()
    return mollie_server


@pytest.fixture(scope="session")
def app(tmp_path_factory, smtp_sink, mollie_server):
    app = make_app(
        tmp_path_factory.mktemp("instance"),
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_sink.port,
        MOLLIE_API_KEY=MOLLIE_KEY,
        MOLLIE_API_ENDPOINT=mollie_server.url,
    )
    with app.app_context():
        upgrade_all()
    return app


def empty_database() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for name in tables:
            db.session.execute(text(f"DELETE FROM {name}"))
    db.session.commit()


@pytest.fixture(autouse=True)
def app_ctx(app):
    """Each test runs in an app context, on an empty database, with fresh rate limits
    and an empty job queue."""
    with app.app_context():
        limiter.reset()
        jobs.queue(app).flush()
        yield
        db.session.remove()
        empty_database()


@pytest.fixture
def client(app) -> Client:
    return app.test_client()


@pytest.fixture
def other_client(app) -> Client:
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

    threads = [threading.Thread(target=contextvars.Context().run, args=(worker, n))
               for n in range(count)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def run_cli(app, *args):
    """Run ``guichet ARGS`` against ``app`` (in a fresh context, as a real process would)."""
    from core.cli import main

    runner = app.test_cli_runner()
    return contextvars.Context().run(runner.invoke, main, list(args))


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


def make_org(name: str = "Client 1", codes=("00002501", "04008041"), **values):
    org = directory.create_organisation(name=name, **values)
    for code in codes:
        directory.create_account(org, client_code=code, name=f"Compte {code}")
    db.session.commit()
    return org


def make_user(email: str, org=None, role: str = "member", accounts=(), **values):
    user = directory.create_user(email, password=PASSWORD, **values)
    if org is not None:
        org = db.session.get(type(org), org.id)  # the org may come from another app's session
        ids = [a.id for a in org.accounts if a.client_code in accounts]
        directory.set_membership(user, org, role, ids)
    db.session.commit()
    return user


@pytest.fixture
def org():
    return make_org()


@pytest.fixture
def user(org):
    return make_user("camille@client1.example.com", org, role="admin")


@pytest.fixture
def operator():
    return make_user("ops@provider.example.com", is_operator=True)


@pytest.fixture
def logged_in(client, user) -> Client:
    assert client.login(user.email).status_code == 302
    return client


class QueryCounter:
    def __init__(self):
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, *args):
        self.statements.append(statement)

    def __len__(self):
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    """Use as ``with count_queries() as counter: ...``; ``len(counter)`` is the count."""
    from contextlib import contextmanager

    @contextmanager
    def counting():
        counter = QueryCounter()
        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)

    return counting


class SmtpSink:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

    def __init__(self):
        import socket

        from aiosmtpd.controller import Controller

        with socket.socket() as probe:  # a free port on loopback
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.messages = []
        self.port = port
        self.refuse_next = 0  # answer 451 (try again later) to this many messages
        self.unknown: set[str] = set()  # recipients refused for good (550)
        self.controller = Controller(self, hostname="127.0.0.1", port=port)

    def reset(self) -> None:
        self.messages.clear()
        self.refuse_next = 0
        self.unknown = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.unknown:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes, policy

        if self.refuse_next:
            self.refuse_next -= 1
            return "451 4.3.0 Try again later"
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"
