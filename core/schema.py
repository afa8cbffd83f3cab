"""Schema migrations through Flask-Migrate: the core's Alembic history plus one per
plugin, each with its own version table (plugins upgrade independently).

``guichet db upgrade`` runs them all; ``guichet db migrate -x plugin=NAME -m "..."``
writes a plugin's revision into its own folder. A plugin whose migration fails does not
stop the others: the failure is recorded, and the portal starts without that plugin
(the operators' plugins page says why) until an upgrade succeeds.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click
from alembic import command
from flask import Flask, current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError

from core.appinfo import MigrationLocation
from core.appsystem import Registry, registry
from core.config import REPO_ROOT
from core.extensions import db, migrate
from core.models import MigrationFailure

MIGRATIONS_DIR = REPO_ROOT / "core" / "migrations"
CORE = MigrationLocation("core", MIGRATIONS_DIR / "versions", "alembic_version")
log = logging.getLogger(__name__)


def collect(flask_app: Flask, apps: Registry) -> None:
    """At start-up: note every plugin's history (``guichet_migrations``), then refuse
    the plugins whose last migration failed, naming the failure. Their histories stay
    known, so that the next ``guichet db upgrade`` tries them again."""
    with flask_app.app_context():
        apps.migrations = apps.results_by_plugin("guichet_migrations")
        declared = {name for name, _loc in apps.migrations}
        apps.migrations += [
            (name, found)
            for name, plugin in apps.pm.list_name_plugin()
            if name not in declared and (found := conventional_location(name, plugin))
        ]
        try:
            with db.engine.connect() as connection:  # its own: a missing table aborts it
                failed = connection.execute(
                    select(MigrationFailure.plugin, MigrationFailure.problem)
                ).all()
        except SQLAlchemyError:
            return  # a database not migrated yet (or unreachable): nothing recorded
    for plugin, problem in failed:
        if apps.pm.has_plugin(plugin):
            apps.pm.refuse(
                plugin, f"its migration failed: {problem} (fix it, then run guichet db upgrade)"
            )


def conventional_location(name: str, plugin: object) -> MigrationLocation | None:
    """A plugin package's history by convention: its ``migrations`` folder, with the
    version table ``alembic_version_<name>``."""
    module_file = getattr(plugin, "__file__", None) or ""
    folder = Path(module_file).parent / "migrations"
    if not module_file.endswith("__init__.py") or not any(folder.glob("*.py")):
        return None
    return MigrationLocation(name, folder, f"alembic_version_{name}")


def locations() -> list[MigrationLocation]:
    """The core's history first, then every installed plugin's."""
    return [CORE, *(loc for _, loc in registry(current_app).migrations)]


def tables_of(owner: str) -> set[str]:
    """Tables of a history: a plugin marks its tables with ``info={"guichet_plugin": NAME}``."""
    return {
        t.name
        for t in migrate.db.metadata.tables.values()
        if t.info.get("guichet_plugin", "core") == owner
    }


@migrate.configure
def _choose_location(config):
    """Point Alembic at the location named by ``-x plugin=NAME`` (the core by default)."""
    args = dict(x.split("=", 1) for x in config.cmd_opts.x if "=" in x)
    name = args.get("plugin", "core")
    found = {loc.plugin: loc for loc in locations()}.get(name)
    if found is None:
        raise click.UsageError(f"no migration history for plugin {name!r}")
    config.set_main_option("version_locations", str(found.path))
    config.set_main_option("version_table", found.version_table)
    config.attributes["tables"] = tables_of(name)
    return config


def upgrade_all() -> dict[str, str]:
    """Bring the core and every installed plugin to their latest revision. A failing
    plugin history is logged and recorded, and the others still run; returns the
    failures by plugin name (empty when all went well). A failure of the core's own
    history raises: nothing can start without it."""
    owners = {loc.plugin: name for name, loc in registry(current_app).migrations}
    failures: dict[str, str] = {}
    for location in locations():
        config = migrate.get_config(str(MIGRATIONS_DIR), x_arg=[f"plugin={location.plugin}"])
        try:
            command.upgrade(config, "heads")
        except Exception as error:  # noqa: BLE001 - any failure keeps that plugin out
            if location is CORE:
                raise
            plugin = owners[location.plugin]
            log.exception("plugin %s: its migration failed", plugin)
            failures[plugin] = f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
    _record(failures, set(owners.values()))
    return failures


def check(plugin: str = "core") -> None:
    """Fail (``alembic.util.exc.AutogenerateDiffsDetected``, naming each difference)
    unless the migrated database has everything the models of ``plugin``'s history
    declare: a model changed without its migration is caught by a test."""
    command.check(migrate.get_config(str(MIGRATIONS_DIR), x_arg=[f"plugin={plugin}"]))


def _record(failures: dict[str, str], plugins: set[str]) -> None:
    db.session.execute(delete(MigrationFailure).where(MigrationFailure.plugin.in_(plugins)))
    db.session.add_all(MigrationFailure(plugin=k, problem=v) for k, v in failures.items())
    db.session.commit()


@click.command("upgrade")
def upgrade_command() -> None:
    """Upgrade the database: the core, then every installed plugin."""
    failures = upgrade_all()
    for plugin, problem in failures.items():
        click.echo(
            f"plugin {plugin}: its migration failed: {problem}; "
            "the portal starts without it until an upgrade succeeds",
            err=True,
        )
    if failures:
        raise SystemExit(1)
    click.echo("database: up to date")
