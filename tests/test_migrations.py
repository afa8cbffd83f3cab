from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from core.appinfo import App, MigrationLocation
from core.appsystem import registry
from core.hookspecs import hookimpl
from core.schema import check, upgrade_all
from tests.conftest import make_app, make_user, run_cli


class SampleMigrations:
    """A plugin with its own history (``folder`` beside this file)."""

    def __init__(self, name: str = "sample", folder: str = "sample_migrations"):
        self.__name__, self.folder = name, folder

    @hookimpl
    def guichet_apps(self):
        return [App(key=self.__name__, name=self.__name__, endpoint="portal.home")]

    @hookimpl
    def guichet_migrations(self):
        return MigrationLocation(
            self.__name__, Path(__file__).parent / self.folder, f"alembic_version_{self.__name__}"
        )


@pytest.mark.parametrize(
    "history",
    ["core", "contracts", "invoices", "notifications", "consumption", "payments", "postal"],
)
def test_migrations_match_the_models(app, history):
    """``alembic check``: the migrated schema has everything the models declare, for
    the core's history and for each built-in plugin's."""
    check(history)


def test_hook_guichet_migrations_history_runs_on_upgrade_with_its_own_version_table(tmp_path):
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
            == "0015_failed_tasks"
        )


def test_hook_guichet_migrations_a_failing_one_names_its_plugin_and_keeps_it_out(tmp_path):
    url = f"sqlite:///{tmp_path}/fresh.db"

    def start(*plugins):
        return make_app(tmp_path, SQLALCHEMY_DATABASE_URI=url, EXTRA_PLUGINS=list(plugins))

    broken = SampleMigrations("broken", "sample_migrations_broken")
    result = run_cli(start(SampleMigrations(), broken), "db", "upgrade")
    assert result.exit_code == 1
    assert "plugin broken: its migration failed: OperationalError" in result.output
    assert "the portal starts without it" in result.output
    tables = set(inspect(create_engine(url)).get_table_names())
    assert "sample_notes" in tables  # the other plugin was upgraded all the same

    restarted = start(SampleMigrations(), broken)
    status = registry(restarted).pm.statuses["broken"]
    assert status.problem.startswith("its migration failed: OperationalError")
    assert "broken" not in registry(restarted).apps and "sample" in registry(restarted).apps
    with restarted.app_context():
        make_user("ops@provider.example.com", is_operator=True)
    client = restarted.test_client()
    client.login("ops@provider.example.com")
    page = client.get("/operator/plugins").get_data(as_text=True)
    assert "Refusé" in page and "its migration failed" in page

    fixed = SampleMigrations("broken", "sample_migrations_repaired")
    assert run_cli(start(fixed), "db", "upgrade").exit_code == 0
    assert "broken" in registry(start(fixed)).apps


def test_the_wallet_ledger_moved_to_the_core_keeps_an_installation_s_balances(tmp_path):
    """Before core 0005 the wallet app's own history made the ledger's tables: such an
    installation upgrades with its balances as they were."""
    from alembic import command

    from core.extensions import migrate
    from core.ledger import Wallet, WalletEntry
    from core.schema import MIGRATIONS_DIR

    url = f"sqlite:///{tmp_path}/old.db"
    old = make_app(tmp_path, SQLALCHEMY_DATABASE_URI=url)
    with old.app_context():
        config = migrate.get_config(str(MIGRATIONS_DIR), x_arg=["plugin=core"])
        command.upgrade(config, "0004_user_sessions")
        engine = create_engine(url)
        Wallet.__table__.create(engine)  # as the wallet's 0001 made them
        WalletEntry.__table__.create(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO organisations (name, address, locale, created_at) "
                "VALUES ('Client 1', '', 'fr', '2026-01-01')"
            )
            conn.exec_driver_sql("INSERT INTO wallets VALUES (1, 2500, 'EUR', '2026-01-01')")
        assert upgrade_all() == {}
        check("core")
    with create_engine(url).connect() as conn:
        assert conn.exec_driver_sql("SELECT balance FROM wallets").scalar() == 2500
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        assert version == "0015_failed_tasks"


def test_the_invoice_totals_start_from_the_invoices_already_there(tmp_path):
    """Invoices 0009 makes the totals of what an installation's invoices leave to pay."""
    from alembic import command

    from core.extensions import migrate
    from core.schema import MIGRATIONS_DIR

    url = f"sqlite:///{tmp_path}/old.db"
    old = make_app(tmp_path, SQLALCHEMY_DATABASE_URI=url)
    with old.app_context():
        command.upgrade(migrate.get_config(str(MIGRATIONS_DIR), x_arg=["plugin=core"]), "heads")
        invoices = migrate.get_config(str(MIGRATIONS_DIR), x_arg=["plugin=invoices"])
        command.upgrade(invoices, "0008_invoices")
        with create_engine(url).begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO organisations (id, name, address, locale, created_at)"
                " VALUES (1, 'Client 1', '', 'fr', '2026-01-01')"
            )
            conn.exec_driver_sql(
                "INSERT INTO accounts (id, organisation_id, client_code, name) "
                "VALUES (1, 1, '00002501', '')"
            )
            for number, day, status, ttc, credited in [
                ("1", "2026-10-03", "to_pay", 12000, 0),
                ("2", "2026-10-28", "to_pay", 6000, -1000),
                ("3", "2026-10-15", "paid", 9999, 0),
                ("4", "2026-11-02", "to_pay", 2400, -2400),  # cancelled whole
                ("5", "2026-11-30", "to_pay", 1200, 0),
            ]:
                conn.exec_driver_sql(
                    "INSERT INTO invoices (organisation_id, account_id, number, kind, cancels, "
                    "credited, issued_on, status, currency, total_ht, total_ttc, subscriber, "
                    "edi, business_unit, site_1, site_2, purchase_order, framework_contract, "
                    "local_contract, recipient_name, recipient_siret, recipient_address, notes, "
                    "pdf_sha256, source_hash, created_at, updated_at) VALUES (1, 1, ?, 'invoice',"
                    " '', ?, ?, ?, 'EUR', ?, ?, '', 0, '', '', '', '', '', '', '', '', '', '', '',"
                    " '', '2026-01-01', '2026-01-01')",
                    (number, credited, day, status, ttc, ttc),
                )
        assert upgrade_all() == {}
    with create_engine(url).connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT month, to_pay_count, to_pay_amount FROM invoice_totals ORDER BY month"
        ).all()
    assert [tuple(r) for r in rows] == [("2026-10-01", 2, 17000), ("2026-11-01", 1, 1200)]
