"""The ``guichet`` command line: Flask's commands (``run``, ``shell``, ``routes``), the
database, and the operator's operations, which share their logic with the back-office.
Plugins add commands through ``guichet_cli``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, FlaskGroup
from flask_migrate import cli as migrate_cli
from sqlalchemy import select

from core import activation, directory, scaffold, schema
from core.appsystem import Registry, build_plugin_manager, registry
from core.directory_import import accounts_from_csv, import_accounts
from core.extensions import db
from core.importing import import_command
from core.models import Account, Organisation


def _db_group() -> click.Group:
    """Flask-Migrate's ``db`` commands, with an ``upgrade`` that also runs the plugins'."""
    source = migrate_cli.db
    commands = {**source.commands, "upgrade": schema.upgrade_command}
    return click.Group(
        "db",
        commands=commands,
        params=list(source.params),
        callback=source.callback,
        help="Database migrations: the core's and, with -x plugin=NAME, a plugin's.",
    )


class GuichetGroup(FlaskGroup):
    db_group = _db_group()

    def get_command(self, ctx, name):
        if name == "db":  # ours, not the one Flask-Migrate registers by entry point
            return self.db_group
        return super().get_command(ctx, name)


def _create_app():
    from core import create_app

    return create_app()


main = GuichetGroup(create_app=_create_app, help="Guichet, the customer portal.")


def _fail(message: str) -> None:
    db.session.rollback()
    raise click.ClickException(message)


def _organisation(org_id: int) -> Organisation:
    org = db.session.get(Organisation, org_id)
    if org is None:
        raise click.BadParameter(f"no organisation with id {org_id}", param_hint="ORG_ID")
    return org


def _commit_or_fail(action):
    try:
        result = action()
    except directory.DirectoryError as error:
        _fail(f"{error.field}: {error}")
    db.session.commit()
    return result


# -- organisations and accounts ------------------------------------------------------

org_cli = AppGroup("org", help="Customer organisations.")
main.add_command(org_cli)


@org_cli.command("create")
@click.argument("name")
@click.option("--siret", help="14 digits.")
@click.option("--vat", "vat_number", help="VAT number, e.g. FR40303265045.")
@click.option("--address", default="")
@click.option("--locale", type=click.Choice(["fr", "en"]), default="fr")
def org_create(name, siret, vat_number, address, locale):
    """Create an organisation; prints its id."""
    if siret is not None and not (siret.isdigit() and len(siret) == 14):
        raise click.BadParameter("a SIRET has 14 digits", param_hint="--siret")
    org = _commit_or_fail(
        lambda: directory.create_organisation(
            name=name, siret=siret, vat_number=vat_number, address=address, locale=locale
        )
    )
    click.echo(org.id)


@org_cli.command("list")
@click.option("--search", default="")
def org_list(search):
    """List organisations (id, name, SIRET)."""
    query = select(Organisation).order_by(Organisation.name)
    if search:
        query = query.where(Organisation.name.ilike(f"%{search}%"))
    for org in db.session.scalars(query):
        click.echo(f"{org.id}\t{org.name}\t{org.siret or ''}")


account_cli = AppGroup("account", help="Customer accounts.")
main.add_command(account_cli)


@account_cli.command("create")
@click.argument("org_id", type=int)
@click.argument("client_code")
@click.option("--name", default="")
@click.option("--parent", "parent_code", help="Client code of the parent account.")
def account_create(org_id, client_code, name, parent_code):
    """Create an account (client code) in an organisation."""
    org = _organisation(org_id)
    parent_id = None
    if parent_code:
        parent_id = db.session.scalar(select(Account.id).where(Account.client_code == parent_code))
        if parent_id is None:
            raise click.BadParameter(f"no account {parent_code!r}", param_hint="--parent")
    account = _commit_or_fail(
        lambda: directory.create_account(
            org, client_code=client_code, name=name, parent_id=parent_id
        )
    )
    click.echo(account.id)


# -- users ---------------------------------------------------------------------------

user_cli = AppGroup("user", help="Users and memberships.")
main.add_command(user_cli)


@user_cli.command("create")
@click.argument("email")
@click.option("--name", default="")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--operator", is_flag=True, help="Provider's staff, outside any organisation.")
@click.option("--org", "org_id", type=int, help="Organisation to join.")
@click.option("--role", type=click.Choice(["admin", "member"]), default="member")
@click.option("--accounts", default="", help="Comma-separated client codes to restrict to.")
def user_create(email, name, password, operator, org_id, role, accounts):
    """Create a user, optionally member of an organisation."""
    if "@" not in email:
        raise click.BadParameter("not an e-mail address", param_hint="EMAIL")
    org = _organisation(org_id) if org_id is not None else None
    codes = [c for c in accounts.split(",") if c]
    if codes and org is None:
        raise click.BadParameter("--accounts needs --org", param_hint="--accounts")
    account_ids = []
    if codes:
        found = dict(
            db.session.execute(
                select(Account.client_code, Account.id).where(
                    Account.client_code.in_(codes), Account.organisation_id == org.id
                )
            ).all()
        )
        missing = [c for c in codes if c not in found]
        if missing:
            raise click.BadParameter(f"not in the organisation: {', '.join(missing)}")
        account_ids = [found[c] for c in codes]

    def create():
        user = directory.create_user(email, password=password, name=name, is_operator=operator)
        if org is not None:
            directory.set_membership(user, org, role, account_ids)
        return user

    user = _commit_or_fail(create)
    click.echo(user.id)


# -- apps ----------------------------------------------------------------------------

app_cli = AppGroup("app", help="Apps and their switches per organisation.")
main.add_command(app_cli)


@app_cli.command("list")
@click.option("--org", "org_id", type=int, help="Show the state for this organisation.")
def app_list(org_id):
    """List installed apps (key, plugin, default, and state for --org)."""
    enabled = activation.enabled_app_keys(_organisation(org_id).id) if org_id else None
    defaults = activation.app_defaults()
    for key, entry in sorted(registry(current_app).apps.items()):
        state = "" if enabled is None else ("\ton" if key in enabled else "\toff")
        default = "default-on" if defaults[key] else "default-off"
        click.echo(f"{key}\t{entry.plugin_name}\t{default}{state}")


def _switch(org_id: int, app_key: str, enabled: bool) -> None:
    org = _organisation(org_id)
    try:
        changed = activation.set_app_enabled(org, app_key, enabled)
    except activation.UnknownApp:
        known = ", ".join(sorted(registry(current_app).apps))
        raise click.BadParameter(f"unknown app {app_key!r} (installed: {known})") from None
    db.session.commit()
    state = "enabled" if enabled else "disabled"
    click.echo(f"{app_key} {state} for {org.name}" + ("" if changed else " (no change)"))


@app_cli.command("enable")
@click.argument("org_id", type=int)
@click.argument("app_key")
def app_enable(org_id, app_key):
    """Enable an app for an organisation."""
    _switch(org_id, app_key, True)


@app_cli.command("disable")
@click.argument("org_id", type=int)
@click.argument("app_key")
def app_disable(org_id, app_key):
    """Disable an app for an organisation (its data is kept)."""
    _switch(org_id, app_key, False)


@main.command("worker")
@click.option("--workers", default=2, show_default=True, help="Consumer threads.")
@click.option("--drain", is_flag=True, help="Run what is queued now, then stop.")
@click.option(
    "--no-periodic",
    is_flag=True,
    help="Leave the schedule (digests, reminders, debits...) to another worker: run one "
    "worker without this flag, the others with it.",
)
@click.option(
    "--queue",
    "kind",
    default="main",
    show_default=True,
    help="Consume the queue of this kind of task (payments, mail, documents, postal) "
    "instead of the main one: the kinds JOBS_QUEUES gives a queue of their own.",
)
def worker_command(workers, drain, no_periodic, kind):
    """Run the background job consumer (e-mails, periodic tasks) until stopped."""
    from core import jobs

    if drain:
        click.echo(f"{jobs.drain()} task(s) run")
        return
    try:
        found = jobs.consumer(workers, periodic=not no_periodic, kind=kind)
    except LookupError as error:
        raise click.ClickException(str(error)) from None
    found.run()


@main.command("demo")
def demo_command():
    """Load the demo organisation and users, and print how to log in."""
    from core.demo import load_demo

    for line in load_demo():
        click.echo(line)


plugin_cli = click.Group("plugin", help="Writing plugins.")
main.add_command(plugin_cli)


@plugin_cli.command("new")
@click.argument("name")
@click.option(
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to write the package's folder.",
)
def plugin_new(name: str, directory: Path) -> None:
    """Write a complete plugin package, guichet-NAME, whose tests pass straight away."""
    try:
        target = scaffold.new_plugin(name, directory)
    except scaffold.ScaffoldError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {target}")
    click.echo(f'next: pip install -e "{target}[test]" && pytest {target}')


token_cli = AppGroup("token", help="Bearer tokens of the import API.")
main.add_command(token_cli)


@token_cli.command("create")
@click.argument("name")
def token_create(name):
    """Issue a token; it is printed once and never stored in clear."""
    from core import api

    _token, clear = api.issue_token(name)
    db.session.commit()
    click.echo(clear)


@token_cli.command("list")
def token_list():
    from core.models import ApiToken

    for token in db.session.scalars(select(ApiToken).order_by(ApiToken.id)):
        state = "revoked" if token.revoked_at else "active"
        used = token.last_used_at.isoformat(timespec="seconds") if token.last_used_at else "never"
        click.echo(f"{token.id}\t{token.name}\t{state}\tlast used: {used}")


@token_cli.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id):
    from core import api
    from core.models import ApiToken

    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise click.BadParameter(f"no token with id {token_id}", param_hint="TOKEN_ID")
    api.revoke_token(token)
    db.session.commit()
    click.echo(f"token {token_id} revoked")


storage_cli = AppGroup("storage", help="The document storage (a folder, or a bucket).")
main.add_command(storage_cli)


@storage_cli.command("migrate")
@click.option(
    "--from",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder to copy (default: DOCUMENTS_PATH).",
)
def storage_migrate(folder):
    """Copy the local documents into the bucket STORAGE_URL names; run it again to
    resume. Every copy is read back and checked by SHA-256."""
    from core import storage

    if not current_app.config.get("STORAGE_URL"):
        raise click.ClickException("STORAGE_URL is not set: there is no bucket to copy into")
    source = storage.LocalStorage(folder or current_app.config["DOCUMENTS_PATH"])
    counts = {"copied": 0, "present": 0, "failed": 0}
    for key, outcome in storage.migrate(source, storage.storage()):
        counts[outcome.partition(":")[0]] += 1
        if outcome != "present":
            click.echo(f"{key}: {outcome}")
    click.echo(
        f"copied {counts['copied']}, there already {counts['present']}, failed {counts['failed']}"
    )
    if counts["failed"]:
        raise click.ClickException("some documents were not copied: run it again")


accounts_cli = AppGroup("accounts", help="Accounts pushed by the provider.")
main.add_command(accounts_cli)
import_command(
    accounts_cli,
    import_accounts,
    "accounts",
    accounts_from_csv,
    help="Create or update organisations' accounts from a JSON or CSV file.",
)


def add_plugin_commands(group: click.Group, pm=None) -> None:
    """Let every installed plugin add its commands (``guichet_cli``) to ``group``."""
    try:
        pm = pm or build_plugin_manager()
    except Exception as error:  # the CLI must still start to let an operator repair
        click.echo(f"warning: plugins not loaded: {error}", err=True)
        return
    Registry(pm).call("guichet_cli", group=group)


add_plugin_commands(main)
