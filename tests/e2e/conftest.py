"""Browser journeys: the app served on a loopback port, driven by Playwright in
Debian's chromium (no browser download). Marked ``e2e``; run alone with ``-m e2e``."""

from __future__ import annotations

import contextvars
import threading

import pytest
from werkzeug.serving import make_server

from core.extensions import db
from core.models import User
from plugins.mollie.local_api import LocalMollie
from tests.conftest import MOLLIE_KEY, PASSWORD, make_app, make_user
from tests.sample_plugins import ManyWidgets, Notes

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def live_mollie():
    """A local Mollie server that calls the live portal's webhook, as Mollie does."""
    server = LocalMollie(webhooks=True).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def live_app(tmp_path_factory, app, smtp_sink, live_mollie):
    """The app the browser talks to, with the sample apps installed, sending e-mail to
    the test SMTP server and taking payments through the local Mollie server."""
    return make_app(
        tmp_path_factory.mktemp("live"),
        SERVER_NAME=None,
        EXTRA_PLUGINS=[Notes(), ManyWidgets()],
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_sink.port,
        JOBS_NAME="live",
        MOLLIE_API_KEY=MOLLIE_KEY,
        MOLLIE_API_ENDPOINT=live_mollie.url,
    )


@pytest.fixture(scope="session")
def live_server(live_app):
    """The portal on http://localhost:PORT, in a thread, on the test database."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(
        target=contextvars.Context().run, args=(server.serve_forever,), daemon=True
    )
    thread.start()
    url = f"http://localhost:{server.server_port}"
    live_app.config["PUBLIC_URL"] = url  # links in e-mails, payment return and webhook
    yield url
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def customer(live_app, org):
    """A customer admin of Client 1 whose dashboard starts empty."""
    org.dashboard_defaults = {"favourites": [], "pins": []}
    db.session.commit()
    with live_app.app_context():
        user_id = make_user("camille@client1.example.com", org, role="admin").id
    return db.session.get(User, user_id)


def log_in(page, email: str, *, here: bool = False) -> None:
    """Fill the login form, on the login page or, with ``here``, on the current one."""
    if not here:
        page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(lambda url: "/login" not in url)
    page.wait_for_load_state("load")  # deferred scripts (HTMX) have run


@pytest.fixture
def new_page(browser, live_server):
    """Pages of a fresh browser context each (``new_page()``), checked for errors."""
    contexts = []

    def open_page(**options):
        context = browser.new_context(base_url=live_server, locale="fr-FR", **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        watch_errors(page)
        return page

    yield open_page
    for context in contexts:
        context.close()


def watch_errors(page) -> None:
    """Collect script errors and failed static files in ``page.errors``."""
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on(
        "console",
        lambda m: (
            page.errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on(
        "response",
        lambda r: (
            page.errors.append(f"{r.status} {r.url}")
            if r.status >= 400
            and r.request.resource_type in {"script", "stylesheet", "image", "font"}
            else None
        ),
    )


@pytest.fixture
def page(new_page):
    page = new_page()
    yield page
    assert page.errors == [], f"errors in the browser: {page.errors}"
