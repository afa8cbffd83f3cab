import contextvars

import pytest
from sqlalchemy import func, select

from core.activation import enabled_app_keys
from core.cli import main
from core.extensions import db
from core.models import Account, AuditEvent, Membership, Organisation, User


@pytest.fixture
def run(app):
    """Run ``guichet ARGS`` against the test app, in its own context like a real process."""
    runner = app.test_cli_runner()

    def invoke(*args, input=None):
        return contextvars.Context().run(runner.invoke, main, list(args), input=input)

    return invoke


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_org_account_user_and_app_commands(run):
    result = run("org", "create", "ACME", "--siret", "12345678901234", "--locale", "en")
    assert result.exit_code == 0, result.output
    org_id = int(result.output)
    assert run("account", "create", str(org_id), "00002501", "--name", "Siège").exit_code == 0
    result = run("account", "create", str(org_id), "00002502", "--parent", "00002501")
    assert result.exit_code == 0, result.output
    result = run(
        "user",
        "create",
        "boss@acme.example.com",
        "--password",
        "long enough pw",
        "--org",
        str(org_id),
        "--role",
        "admin",
        "--accounts",
        "00002502",
    )
    assert result.exit_code == 0, result.output
    membership = db.session.scalar(select(Membership))
    assert membership.role == "admin"
    assert [a.client_code for a in membership.accounts] == ["00002502"]
    child = db.session.scalar(select(Account).where(Account.client_code == "00002502"))
    assert child.parent.client_code == "00002501"

    assert run("app", "disable", str(org_id), "account").exit_code == 0
    assert "account" not in enabled_app_keys(org_id)
    assert "account\taccount\tdefault-on\toff" in run("app", "list", "--org", str(org_id)).output
    assert run("app", "enable", str(org_id), "account").exit_code == 0
    assert (
        db.session.scalar(select(AuditEvent.actor_label).where(AuditEvent.action == "app.enable"))
        == "cli"
    )


@pytest.mark.parametrize(
    "args",
    [
        ("org", "create", "ACME", "--siret", "12AB"),
        ("org", "create"),
        ("org", "create", "ACME", "--locale", "de"),
        ("account", "create", "notanumber", "0001"),
        ("account", "create", "999", "0001"),
        ("user", "create", "not-an-email", "--password", "long enough pw"),
        ("user", "create", "a@example.com", "--password", "short"),
        ("user", "create", "a@example.com", "--password", "long enough pw", "--org", "999"),
        ("user", "create", "a@example.com", "--password", "long enough pw", "--accounts", "0001"),
        ("app", "enable", "999", "account"),
        ("app", "enable", "x", "account"),
    ],
)
def test_malformed_arguments_exit_non_zero_and_change_nothing(run, args):
    result = run(*args)
    assert result.exit_code != 0
    assert result.output.strip()  # a message, not silence
    assert count(Organisation) == count(User) == count(Account) == 0


def test_unknown_app_key_names_the_installed_ones(run):
    org_id = int(run("org", "create", "ACME").output)
    result = run("app", "enable", str(org_id), "nope")
    assert result.exit_code == 2
    # tickets and latest_invoices: the example third-party apps, installed for the tests
    installed = ", ".join(
        [
            "account",
            "autopay",
            "consumption",
            "contracts",
            "einvoicing",
            "invoices",
            "latest_invoices",
            "notifications",
            "payments",
            "postal",
            "reminders",
            "statement",
            "tickets",
            "wallet",
        ]
    )
    assert f"unknown app 'nope' (installed: {installed})" in result.output


def test_duplicate_client_code_is_refused(run):
    org_id = run("org", "create", "ACME").output.strip()
    assert run("account", "create", org_id, "0001").exit_code == 0
    result = run("account", "create", org_id, "0001")
    assert result.exit_code == 1
    assert "Error: client_code: 0001 est déjà utilisé." in result.output
    assert count(Account) == 1


def test_demo_loads_once_and_prints_working_logins(run, client):
    first = run("demo")
    assert first.exit_code == 0, first.output
    again = run("demo")
    assert again.exit_code == 0
    assert count(Organisation) == 1 and count(Account) == 2 and count(User) == 2
    line = next(x for x in again.output.splitlines() if "customer" in x)
    email, password = line.split()[1], line.split()[3]
    assert client.login(email, password).status_code == 302
    assert "Client 1" in client.get("/").get_data(as_text=True)


def test_db_upgrade_is_idempotent(run):
    result = run("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "database: up to date" in result.output
