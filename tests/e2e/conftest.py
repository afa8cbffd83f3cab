"""Browser journeys: the app served on a loopback port, driven by Playwright in
Debian's chromium (no browser download). Marked ``e2e``; run alone with ``-m e2e``."""

from __future__ import annotations

import contextvars
import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import make_app

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
def live_server(tmp_path_factory, app):
    """The portal on http://localhost:PORT, in a thread, on the test database."""
    served = make_app(tmp_path_factory.mktemp("live"), SERVER_NAME=None)
    server = make_server("127.0.0.1", 0, served, threaded=True)
    thread = threading.Thread(
        target=contextvars.Context().run, args=(server.serve_forever,), daemon=True
    )
    thread.start()
    yield f"http://localhost:{server.server_port}"
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
def page(browser, live_server):
    context = browser.new_context(base_url=live_server, locale="fr-FR")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400
            and r.request.resource_type in {"script", "stylesheet", "image", "font"}
            else None
        ),
    )
    yield page
    context.close()
    assert errors == [], f"errors in the browser: {errors}"
