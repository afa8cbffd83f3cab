"""Browser journeys against the portal as ``make run`` starts it: ``scripts/serve.sh``
runs the migrations, ``guichet demo``, the local Mollie server, a separate
``guichet worker`` and the web server, each its own process, in a fresh instance
folder (on SQLite, as ``make run``; on a database of its own beside
``GUICHET_TEST_DATABASE_URL`` when that is set). E-mails go to the test SMTP server.
Playwright drives Debian's chromium (no browser download). A journey fails when a
traceback appears in the processes' output while it runs.

Marked ``e2e``; run alone with ``-m e2e``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, make_url, text

from tests.servers import free_port

ROOT = Path(__file__).parents[2]
GUICHET = ROOT / ".venv" / "bin" / "guichet"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
LOGIN_LINE = re.compile(r"^\s*(customer|operator): (\S+)  password: (\S+)$", re.M)
TRACEBACK = "Traceback (most recent call last)"
PASSWORD = "correct horse battery"  # of the users the journeys create


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def portal_database() -> str:
    """A database of the portal's own on the PostgreSQL server the suite uses (the
    suite empties its own after each test), or "" for SQLite in the instance folder."""
    url = os.environ.get("GUICHET_TEST_DATABASE_URL")
    if not url:
        return ""
    server = make_url(url)
    name = f"{server.database}_portal"
    engine = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server.set(database=name).render_as_string(hide_password=False)


@dataclass
class Portal:
    """The running portal: its address, its processes' output, the printed logins and
    ``cli(...)``, the ``guichet`` command on the same installation (as an operator
    types it)."""

    url: str
    env: dict[str, str]
    instance: Path
    log_path: Path
    process: subprocess.Popen
    logins: dict[str, tuple[str, str]] = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def cli(self, *args: str, input: str | None = None) -> str:
        done = subprocess.run(
            [str(GUICHET), *args],
            env=self.env,
            cwd=ROOT,
            input=input,
            text=True,
            capture_output=True,
            timeout=120,
        )
        assert done.returncode == 0, f"guichet {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def wait_for(self, condition, what: str, timeout: float = 30) -> None:
        """Poll ``condition()`` until it is true (the worker's work is asynchronous)."""
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.2)


@pytest.fixture(scope="session")
def portal(tmp_path_factory, smtp_sink):
    folder = tmp_path_factory.mktemp("portal")
    port, mollie_port, platform_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    env.pop("DATABASE_URL", None)
    env.update(
        PORT=str(port),
        MOLLIE_PORT=str(mollie_port),
        PLATFORM_PORT=str(platform_port),
        PYTHONUNBUFFERED="1",
        GUICHET_INSTANCE_PATH=str(folder / "instance"),
        GUICHET_MAIL_SERVER="127.0.0.1",
        GUICHET_MAIL_PORT=str(smtp_sink.port),
    )
    database = portal_database()
    if database:
        env["DATABASE_URL"] = database
    log_path = folder / "portal.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            ["bash", str(ROOT / "scripts" / "serve.sh")],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Portal(f"http://localhost:{port}", env, folder / "instance", log_path, process)
    try:
        running.wait_for(lambda: _answers(f"http://127.0.0.1:{port}/login"), "the portal", 90)
        running.wait_for(lambda: _answers(f"http://127.0.0.1:{mollie_port}/v2/methods"), "Mollie")
        platform = f"http://127.0.0.1:{platform_port}/v1/statuses"
        running.wait_for(lambda: _answers(platform), "the e-invoicing platform")
        running.wait_for(lambda: "Huey consumer started" in running.log(), "the worker")
        for who, email, password in LOGIN_LINE.findall(running.log()):
            running.logins[who] = (email, password)
        yield running
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        sys.stdout.write(f"\nportal output: {log_path}\n")


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code < 500
    except requests.RequestException:
        return False


@pytest.fixture(autouse=True)
def no_traceback_in_the_portal(request):
    """Each journey fails when the portal's processes print a traceback meanwhile."""
    if "portal" not in request.fixturenames:
        yield
        return
    portal = request.getfixturevalue("portal")
    start = len(portal.log())
    yield
    assert portal.process.poll() is None, "the portal stopped:\n" + portal.log()[-3000:]
    output = portal.log()[start:]
    assert TRACEBACK not in output, output[output.index(TRACEBACK) - 500 :][:4000]


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
def new_page(browser, portal):
    """``new_page(viewport=...)``: a page of a fresh browser context each, whose
    script errors and failed static files are collected in ``page.errors``."""
    contexts = []

    def open_page(viewport=DESKTOP, **options):
        context = browser.new_context(
            base_url=portal.url,
            locale="fr-FR",
            viewport=viewport,
            accept_downloads=True,
            **options,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        watch_errors(page)
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture(params=[DESKTOP, PHONE], ids=["1366px", "390px"])
def viewport(request):
    return request.param


@pytest.fixture
def page(new_page, viewport):
    page = new_page(viewport=viewport)
    yield page
    assert page.errors == [], f"errors in the browser: {page.errors}"


def watch_errors(page) -> None:
    """Collect script errors, CSP refusals and failed static files in ``page.errors``."""
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


def log_in(page, email: str, password: str = PASSWORD, *, here: bool = False) -> None:
    """Fill the login form, on the login page or, with ``here``, on the current one."""
    if not here:
        page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(lambda url: "/login" not in url)
    page.wait_for_load_state("load")  # deferred scripts (HTMX) have run


def is_phone(page) -> bool:
    return page.viewport_size["width"] < 600


def open_menu(page) -> None:
    """On a phone the main menu is folded behind its button: unfold it."""
    if is_phone(page):
        toggle = page.get_by_role("button", name="Menu")
        if toggle.get_attribute("aria-expanded") != "true":
            toggle.click()


def page_problems(page) -> list[str]:
    """What every page must avoid: being wider than the window, and accessibility
    violations found by axe-core (injected through the DevTools protocol, so that the
    page's Content-Security-Policy stays as strict as it is)."""
    page.wait_for_load_state("networkidle")
    problems = []
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > page.viewport_size["width"]:
        problems.append(f"{page.url} is {width} px wide")
    return problems + [f"{page.url}: {v}" for v in axe_violations(page)]


def check_page(page) -> None:
    """Fail on any of :func:`page_problems`."""
    assert page_problems(page) == []


def axe_violations(page) -> list[str]:
    session = page.context.new_cdp_session(page)
    try:
        session.send("Runtime.evaluate", {"expression": AXE.read_text()})
        answer = session.send(
            "Runtime.evaluate",
            {
                "expression": "axe.run(document).then(r => JSON.stringify(r.violations))",
                "awaitPromise": True,
                "returnByValue": True,
            },
        )
    finally:
        session.detach()
    violations = json.loads(answer["result"]["value"])
    return [
        f"{v['id']} ({v['impact']}): {v['help']}: "
        + "; ".join(n["target"][0] if n["target"] else "?" for n in v["nodes"][:5])
        for v in violations
    ]


def organisation_id(portal: Portal, name: str = "Client 1") -> str:
    """The id of an organisation, as ``guichet org list`` prints it (kept: each command
    starts the whole portal)."""
    known = portal.__dict__.setdefault("organisations", {})
    if name not in known:
        for line in portal.cli("org", "list", "--search", name).splitlines():
            ident, found, *_ = line.split("\t")
            known[found] = ident
    return known[name]


def new_organisation(portal: Portal) -> tuple[str, str]:
    """A new organisation with one account, as an operator creates them from the
    command line; returns its name and id."""
    name = f"Client {uuid.uuid4().hex[:6]}"
    ident = portal.cli("org", "create", name).strip()
    portal.cli("account", "create", ident, f"{uuid.uuid4().int % 10**8:08d}")
    return name, ident


def new_customer(portal: Portal, org_id: str | None = None, role: str = "admin") -> str:
    """A new user of the organisation ``org_id`` (the demo's by default), created as an
    operator does from the command line; returns its e-mail (password ``PASSWORD``)."""
    email = f"user-{uuid.uuid4().hex[:10]}@client1.example.com"
    portal.cli(
        "user",
        "create",
        email,
        "--org",
        org_id or organisation_id(portal),
        "--role",
        role,
        "--name",
        "Claude Dupont",
        "--password",
        PASSWORD,
    )
    return email


def import_file(portal: Portal, what: str, items: list[dict]) -> str:
    """``guichet <what> import FILE`` with these items, as the provider's system sends
    them; returns what the command printed."""
    path = portal.instance.parent / f"{what}-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps({what: items}))
    return portal.cli(what, "import", str(path))


@pytest.fixture
def customer(portal) -> str:
    """A new admin of the demo's organisation, with the demo's default dashboard."""
    return new_customer(portal)


def settled(page) -> None:
    """Wait until HTMX has swapped and processed what it received (a boosted link's new
    page has its triggers only then)."""
    page.wait_for_function(
        "!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


def look(page, name: str) -> None:
    """With ``GUICHET_LOOK_DIR`` set, keep a picture of the page (``NAME-WIDTH.png``) to
    look at what a journey saw; nothing otherwise."""
    folder = os.environ.get("GUICHET_LOOK_DIR")
    if folder:
        width = page.viewport_size["width"]
        Path(folder).mkdir(parents=True, exist_ok=True)
        # caret="initial": hiding it would inject a style the CSP refuses
        page.screenshot(path=f"{folder}/{name}-{width}.png", full_page=True, caret="initial")
