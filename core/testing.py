"""Test kit for Guichet plugins: a pytest plugin shipped with Guichet.

It is registered under pytest's ``pytest11`` entry point, so once Guichet is installed
with its ``test`` extra every test suite has these fixtures; nothing to import::

    def test_my_page(logged_in, enable_app):
        enable_app("tickets")
        assert logged_in.get("/demandes/").status_code == 200

Fixtures (see the plugin guide, "Testing a plugin"):

- ``app``: a Guichet app of its own (its own plugin manager), with every installed
  plugin and those of ``guichet_plugins``, on a migrated test database: SQLite in a
  temporary folder, or ``GUICHET_TEST_DATABASE_URL``. Each test using it runs inside
  its app context, and the database is emptied after it.
- ``guichet_plugins`` and ``guichet_config``: override them (session scope) to add
  plugin objects that are not installed, or settings.
- ``client``: a test client that sends the CSRF token as the pages do; it has
  ``client.htmx(method, url)`` for HTMX requests and ``client.login(email)``.
- ``organisation`` ("Client 1" with accounts ``00002501`` and ``04008041``),
  ``customer`` (its admin), ``member`` (a member), ``operator``, and ``logged_in``
  (``client`` logged in as ``customer``).
- ``enable_app(key, enabled=True, organisation=None)``, ``register_plugin(plugin,
  **config)`` (a new app with a temporary plugin added), ``run_jobs()`` (runs the
  queued background tasks), ``count_queries()``, and ``smtp_server``, a real SMTP
  server the app sends its e-mails to (``smtp_server.messages``).

Helpers for your own fixtures: :func:`make_app`, :func:`make_org`, :func:`make_user`,
:func:`run_cli`, :func:`routes_answer_404` (the tenancy walk), :func:`check_migrations`
and ``PASSWORD``, the password of the users these fixtures create.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import re
import socket
import tempfile
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy import event, text

PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'"X-CSRFToken": "([^"]+)"')
HTMX = {"HX-Request": "true"}  # the header of a request HTMX sends


@functools.cache
def database_url() -> str:
    """The test database: ``GUICHET_TEST_DATABASE_URL``, else SQLite in a temporary
    folder (one per test session, shared by every app the tests build)."""
    return os.environ.get("GUICHET_TEST_DATABASE_URL") or (
        f"sqlite:///{tempfile.mkdtemp(prefix='guichet-test-')}/test.db"
    )


class Client(FlaskClient):
    """A test client that sends the CSRF token with unsafe requests, as the pages do.

    Each request runs in a fresh context, as in production: it gets its own app
    context (``g``), database session and transaction, not the test's. Pass
    ``csrf=False`` to send a request without the token.
    """

    def csrf_token(self, base_url: str | None = None) -> str:
        """The CSRF token of this client's session (on ``base_url``'s host, if given)."""
        extra = {"base_url": base_url} if base_url else {}
        page = self.get("/password/forgot", **extra).get_data(as_text=True)
        return CSRF_RE.search(page).group(1)

    def open(self, *args, **kwargs):
        method = kwargs.get("method", "GET")
        if kwargs.pop("csrf", True) and method not in ("GET", "HEAD", "OPTIONS"):
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRFToken", self.csrf_token(kwargs.get("base_url")))
            kwargs["headers"] = headers
        # Buffered: a streamed body is read inside the request's own context.
        kwargs.setdefault("buffered", True)
        return contextvars.Context().run(super().open, *args, **kwargs)

    def htmx(self, method: str, url: str, **kwargs):
        """A request as HTMX sends it (``HX-Request``): the answer is the fragment."""
        headers = {**HTMX, **kwargs.pop("headers", {})}
        return self.open(url, method=method, headers=headers, **kwargs)

    def login(self, email: str, password: str = PASSWORD, **extra):
        return self.post("/login", data={"email": email, "password": password, **extra})


#: The provider named on the tests' documents, with every legal mention an invoice needs.
ISSUER = {
    "name": "Guichet Test SAS",
    "address": "1 rue du Test\n75001 Paris",
    "siret": "91234567800011",
    "vat_number": "FR74912345678",
    "iban": "FR7630006000011234567890189",
}


def make_app(instance_path, **config) -> Flask:
    """A Guichet app with its own plugin manager, on the test database. ``config``
    overrides the settings; ``EXTRA_PLUGINS=[...]`` adds plugin objects."""
    from core import create_app

    settings = {
        "TESTING": True,
        "INSTANCE_PATH": str(instance_path),
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url(),
        "SERVER_NAME": "guichet.test",
        "PUBLIC_URL": "http://guichet.test",
        # operators without a second factor: the tests that need one set it up
        "OPERATORS_REQUIRE_2FA": False,
        "ISSUER": ISSUER,
        **config,
    }
    app = create_app(settings)
    app.test_client_class = Client
    return app


def migrate(app: Flask) -> Flask:
    """Bring the test database up to date for ``app`` (the core and its plugins)."""
    from core.schema import upgrade_all

    with app.app_context():
        failures = upgrade_all()
    if failures:
        raise RuntimeError(f"migrations failed: {failures}")
    return app


def check_migrations(plugin: str) -> None:
    """Fail, naming each difference, unless the migrated test database has everything
    the models of ``plugin``'s history declare (a model changed without a migration)."""
    from core.schema import check

    check(plugin)


def empty_database() -> None:
    """Delete every row of every table the models know (after each test)."""
    from core.extensions import db

    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        # TRUNCATE costs about 5 ms a table, rows or not: only the tables a test wrote
        # in are emptied (found in one query), and every sequence starts again at 1
        found = " UNION ALL ".join(
            f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM {name})" for name in tables
        )
        used = db.session.scalars(text(found)).all()
        if used:
            db.session.execute(text(f"TRUNCATE {', '.join(used)} CASCADE"))
        db.session.execute(
            text(
                "SELECT setval(c.oid, 1, false) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind = 'S' AND n.nspname = current_schema()"
            )
        )
    else:
        for name in tables:
            db.session.execute(text(f"DELETE FROM {name}"))
    db.session.commit()


def make_org(name: str = "Client 1", codes: Iterable[str] = ("00002501", "04008041"), **values):
    """An organisation with one account per client code, committed."""
    from core import directory
    from core.extensions import db

    org = directory.create_organisation(name=name, **values)
    for code in codes:
        directory.create_account(org, client_code=code, name=f"Compte {code}")
    db.session.commit()
    return org


def make_user(email: str, org=None, role: str = "member", accounts: Iterable[str] = (), **values):
    """A user with ``PASSWORD``, a ``role`` in ``org`` (restricted to the client codes
    in ``accounts`` when given), committed; ``is_operator=True`` makes an operator."""
    from core import directory
    from core.extensions import db

    user = directory.create_user(email, password=PASSWORD, **values)
    if org is not None:
        org = db.session.get(type(org), org.id)  # the org may come from another app's session
        ids = [a.id for a in org.accounts if a.client_code in accounts]
        directory.set_membership(user, org, role, ids)
    db.session.commit()
    return user


def run_cli(app: Flask, *args: str):
    """Run ``guichet ARGS`` against ``app`` (in a fresh context, as a real process would);
    returns click's result (``exit_code``, ``output``)."""
    from core.cli import main

    runner = app.test_cli_runner()
    return contextvars.Context().run(runner.invoke, main, list(args))


def routes_answer_404(
    app: Flask, client: Client, values: dict[str, Any], only: Callable[[str], bool] = bool
) -> list[tuple[str, str]]:
    """The tenancy walk: request every URL rule of ``app`` that takes arguments (and
    whose endpoint passes ``only``) with the ``values`` of another organisation's
    objects, by every method, as a page and as an HTMX request, and assert each
    answers 404. Returns the (method, endpoint) pairs checked. A rule whose argument
    is missing from ``values`` fails, so a new route cannot escape the walk."""
    checked = []
    for rule in app.url_map.iter_rules():
        if not rule.arguments or not only(rule.endpoint):
            continue
        unknown = rule.arguments - values.keys()
        assert not unknown, f"{rule.rule}: give the walk a foreign value for {unknown}"
        with app.test_request_context():
            url = url_for(rule.endpoint, **{k: values[k] for k in rule.arguments})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for headers in ({}, HTMX):
                response = client.open(url, method=method, headers=headers)
                assert response.status_code == 404, (
                    f"{method} {url} {headers} answered {response.status_code}"
                )
            checked.append((method, rule.endpoint))
    return checked


class QueryCounter:
    """The SQL statements run while it listens (``len(counter)`` is their number)."""

    def __init__(self):
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, *args):
        self.statements.append(statement)

    def __len__(self):
        return len(self.statements)


class SmtpSink:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives: each
    message parsed in ``messages``. ``refuse_next`` answers 451 to that many messages,
    ``unknown`` holds recipients refused for good (550), ``delay`` is the seconds it
    takes to accept each message (a slow server)."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        with socket.socket() as probe:  # a free port on loopback
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.messages = []
        self.refuse_next = 0
        self.unknown: set[str] = set()
        self.delay = 0.0
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def reset(self) -> None:
        self.messages.clear()
        self.refuse_next = 0
        self.unknown = set()
        self.delay = 0.0

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
        if self.delay:
            await asyncio.sleep(self.delay)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def guichet_plugins() -> list[object]:
    """Plugin objects to add to ``app`` besides the installed ones (override it)."""
    return []


@pytest.fixture(scope="session")
def guichet_config() -> dict[str, Any]:
    """Settings for ``app`` (override it), e.g. ``{"TICKETS_MAX_OPEN": 3}``."""
    return {}


@pytest.fixture(scope="session")
def smtp_sink():
    sink = SmtpSink()
    sink.controller.start()
    yield sink
    sink.controller.stop()


@pytest.fixture
def smtp_server(smtp_sink) -> SmtpSink:
    """The SMTP server ``app`` sends to, emptied for each test."""
    smtp_sink.reset()
    return smtp_sink


@pytest.fixture(scope="session")
def app(tmp_path_factory, smtp_sink, guichet_plugins, guichet_config) -> Flask:
    """The Guichet app under test, migrated once per session."""
    return migrate(
        make_app(
            tmp_path_factory.mktemp("instance"),
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=smtp_sink.port,
            EXTRA_PLUGINS=list(guichet_plugins),
            **guichet_config,
        )
    )


@contextmanager
def fresh_test(app: Flask):
    """One test's world: ``app``'s context, fresh rate limits, an empty job queue, and
    an emptied database afterwards."""
    from core import jobs
    from core.extensions import db, limiter

    with app.app_context():
        limiter.reset()
        for queue in jobs.queues(app):
            queue.flush()
        yield
        db.session.remove()
        empty_database()


@pytest.fixture(autouse=True)
def app_ctx(request):
    """Each test that uses ``app`` runs in its context and leaves an empty database."""
    app = request.getfixturevalue("app") if "app" in request.fixturenames else None
    if app is None or "guichet" not in app.extensions:  # not a Guichet test
        yield
        return
    with fresh_test(app):
        yield


@pytest.fixture
def client(app) -> Client:
    return app.test_client()


@pytest.fixture
def organisation(app):
    """The organisation "Client 1" with the accounts 00002501 and 04008041."""
    return make_org()


@pytest.fixture
def customer(organisation):
    """An admin of ``organisation``."""
    return make_user("camille@client1.example.com", organisation, role="admin")


@pytest.fixture
def member(organisation):
    """A member (not an admin) of ``organisation``."""
    return make_user("dominique@client1.example.com", organisation, role="member")


@pytest.fixture
def operator(app):
    """One of the provider's staff (the back-office)."""
    return make_user("ops@provider.example.com", is_operator=True)


@pytest.fixture
def logged_in(client, customer) -> Client:
    """``client``, logged in as ``customer``."""
    assert client.login(customer.email).status_code == 302
    return client


@pytest.fixture
def enable_app(app, organisation):
    """``enable_app(key, enabled=True, organisation=None)`` switches an app for an
    organisation (``organisation`` by default), as an operator does."""
    from core.activation import set_app_enabled
    from core.extensions import db

    def switch(key: str, enabled: bool = True, organisation=organisation) -> None:
        set_app_enabled(organisation, key, enabled)
        db.session.commit()

    return switch


@pytest.fixture
def register_plugin(tmp_path, smtp_sink):
    """``register_plugin(plugin, ..., **config)``: a new app, beside ``app``, with these
    plugin objects registered and their migrations run (its own plugin manager, so
    nothing leaks into other tests). Use ``with new_app.app_context():`` to query it."""

    def build(*plugins: object, **config: Any) -> Flask:
        settings = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_sink.port, **config}
        return migrate(make_app(tmp_path / "registered", EXTRA_PLUGINS=list(plugins), **settings))

    return build


@pytest.fixture
def run_jobs(app) -> Callable[[], int]:
    """``run_jobs()`` runs every queued background task (the worker's job) and
    returns how many ran."""
    from core import jobs

    return lambda: jobs.drain(app)


@pytest.fixture
def count_queries(app):
    """``with count_queries() as counter: ...``; ``len(counter)`` is the number of SQL
    statements run inside."""
    from core.extensions import db

    @contextmanager
    def counting():
        counter = QueryCounter()
        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)

    return counting
