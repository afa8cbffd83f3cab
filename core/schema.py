"""Schema migrations through Flask-Migrate: the core's Alembic history plus one per
plugin, each with its own version table (plugins upgrade independently).

``guichet db upgrade`` runs them all; ``guichet db revision --autogenerate -x plugin=NAME``
writes a plugin's revision into its own folder.
"""

from __future__ import annotations

import click
import flask_migrate
from flask import current_app

from core.appinfo import MigrationLocation
from core.appsystem import registry
from core.config import REPO_ROOT
from core.extensions import migrate

MIGRATIONS_DIR = REPO_ROOT / "core" / "migrations"
CORE = MigrationLocation("core", MIGRATIONS_DIR / "versions", "alembic_version")


def locations() -> list[MigrationLocation]:
    """The core's history first, then every installed plugin's."""
    return [CORE, *registry(current_app).call("guichet_migrations")]


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


def upgrade_all() -> None:
    """Bring the core and every installed plugin to their latest revision."""
    for location in locations():
        flask_migrate.upgrade(
            directory=str(MIGRATIONS_DIR), revision="heads", x_arg=[f"plugin={location.plugin}"]
        )


@click.command("upgrade")
def upgrade_command() -> None:
    """Upgrade the database: the core, then every installed plugin."""
    upgrade_all()
    click.echo("database: up to date")
