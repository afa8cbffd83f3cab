from pathlib import Path

import flask_migrate
import pytest
from flask import g
from sqlalchemy import create_engine, inspect

from core.appinfo import MigrationLocation
from core.hookspecs import hookimpl
from core.schema import MIGRATIONS_DIR, upgrade_all
from tests.conftest import make_app


class SampleMigrations:
    __name__ = "sample"

    @hookimpl
    def guichet_migrations(self):
        return MigrationLocation(
            "sample", Path(__file__).parent / "sample_migrations", "alembic_version_sample"
        )


@pytest.mark.parametrize("history", ["core", "invoices"])
def test_migrations_match_the_models(app, history):
    """``alembic check``: the migrated schema has everything the models declare, for
    the core's history and for each built-in plugin's."""
    g.x_arg = [f"plugin={history}"]
    try:
        flask_migrate.check(directory=str(MIGRATIONS_DIR))
    finally:
        g.pop("x_arg")


def test_plugin_history_runs_on_upgrade_with_its_own_version_table(tmp_path):
    url = f"sqlite:///{tmp_path}/fresh.db"
    fresh = make_app(tmp_path, SQLALCHEMY_DATABASE_URI=url, EXTRA_PLUGINS=[SampleMigrations()])
    with fresh.app_context():
        upgrade_all()
        upgrade_all()  # a second run changes nothing
    tables = set(inspect(create_engine(url)).get_table_names())
    assert {"organisations", "users", "sample_notes"} <= tables
    assert {"alembic_version", "alembic_version_sample"} <= tables
    with create_engine(url).connect() as conn:
        assert (
            conn.exec_driver_sql("SELECT version_num FROM alembic_version_sample").scalar()
            == "0001_sample"
        )
        assert (
            conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            == "0002_dashboard"
        )
