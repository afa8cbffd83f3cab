"""Guichet: a self-hosted customer portal built from plugin apps."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import event

from core.config import LOCK_TIMEOUT, REPO_ROOT, instance_path, load_config

__all__ = ["create_app"]


def create_app(config: dict | None = None) -> Flask:
    """Build a Guichet app: configuration, extensions, the plugin registry, the core
    blueprints and the plugins' blueprints. ``config`` overrides every other source
    (``INSTANCE_PATH`` in it chooses the instance folder)."""
    from core import (
        activity,
        api,
        auth,
        emailchange,
        errors,
        health,
        i18n,
        jobs,
        ledger,  # noqa: F401 - its tables are the core's
        logs,
        metrics,
        operator,
        personal,
        portal,
        schema,
        security,
        securitykeys,
        sso,
        team,
        twofactor,
    )
    from core.appsystem import Registry, build_plugin_manager
    from core.extensions import babel, csrf, db, htmx, limiter, login_manager, mail, migrate

    app = Flask(
        __name__,
        instance_path=str((config or {}).get("INSTANCE_PATH") or instance_path()),
        template_folder=str(REPO_ROOT / "templates"),
    )
    load_config(app, config)
    logs.init_app(app)

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
        elif db.engine.dialect.name == "postgresql":
            event.listen(db.engine, "connect", _postgresql_settings)
    migrate.init_app(app, db, directory=str(REPO_ROOT / "core" / "migrations"))
    csrf.init_app(app)
    htmx.init_app(app)
    mail.init_app(app)
    limiter.init_app(app)
    pm = build_plugin_manager(
        extra_plugins=app.config["EXTRA_PLUGINS"],
        load_entrypoints=app.config["LOAD_ENTRYPOINT_PLUGINS"],
        blocked=app.config["BLOCKED_PLUGINS"],
        trace=app.config["TRACE_PLUGINS"],
    )
    babel.init_app(
        app,
        locale_selector=i18n.select_locale,
        default_translation_directories=i18n.translation_directories(
            plugin
            for _, plugin in pm.list_name_plugin()
            if plugin is not None  # None: refused
        ),
    )
    i18n.init_app(app)
    auth.init_app(app, login_manager)
    security.init_app(app)
    twofactor.init_app(app)
    errors.init_app(app)

    registry = Registry(pm)
    app.extensions["guichet"] = registry
    schema.collect(app, registry)
    app.register_blueprint(auth.bp)
    app.register_blueprint(emailchange.bp)
    app.register_blueprint(personal.bp)
    app.register_blueprint(team.bp)
    app.register_blueprint(activity.bp)
    app.register_blueprint(securitykeys.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(sso.bp)
    metrics.init_app(app)
    app.register_blueprint(portal.bp)
    app.register_blueprint(operator.bp, url_prefix="/operator")
    registry.load(app)
    api.init_app(app, registry)
    jobs.init_app(app)
    portal.init_app(app)
    return app


def _sqlite_pragmas(connection, _record) -> None:
    """The embedded database in write-ahead-log mode: readers never wait for a writer,
    and a commit costs no flush of the whole journal (``synchronous=NORMAL`` keeps the
    database consistent; a power cut may lose the last commits, never half of one)."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={LOCK_TIMEOUT}")  # a writer waits this long
    cursor.close()


def _postgresql_settings(connection, _record) -> None:
    """A statement waits at most ``LOCK_TIMEOUT`` for a lock, then fails (a request is
    answered, a payment's webhook told to call again) rather than queue behind a
    stuck transaction; the same rule as SQLite's ``busy_timeout``."""
    cursor = connection.cursor()
    cursor.execute(f"SET lock_timeout = {LOCK_TIMEOUT}")
    cursor.close()
    connection.commit()  # a setting made in a transaction rolled back would not last
