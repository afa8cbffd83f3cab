"""Configuration: defaults, then ``instance/guichet.toml``, then the environment.

Environment variables: ``DATABASE_URL`` and any ``GUICHET_<NAME>`` (which sets the
config key ``<NAME>``; values are parsed as JSON when they can be, so
``GUICHET_MAIL_PORT=2525`` is an int). A dict passed to ``create_app`` wins over all.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

REPO_ROOT = Path(__file__).resolve().parent.parent
# ms a statement waits for a lock: SQLite's busy_timeout, PostgreSQL's lock_timeout
LOCK_TIMEOUT = 5000

DEFAULTS: dict[str, object] = {
    # Sessions and cookies: secure by default (browsers accept Secure cookies on localhost).
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "guichet_session",
    "REMEMBER_COOKIE_SECURE": True,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_DURATION": timedelta(days=30),
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    "HSTS": False,  # switch on behind TLS in production
    # Database
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    # Throttling (Flask-Limiter). Empty: the job queue's Redis when REDIS_URL is set,
    # else memory:// (one process only: wsgi.py refuses a second one, see
    # core.security.claim_memory_limits).
    "RATELIMIT_STORAGE_URI": "",
    "RATELIMIT_HEADERS_ENABLED": True,  # a 429 says when to retry (Retry-After)
    # Proxies in front of the portal (a load balancer: 1): the client's address, which
    # throttles count, is then taken from their X-Forwarded-For, never more hops deep.
    "TRUSTED_PROXIES": 0,
    # Logs (core.logs): "text", or "json" (one object a line, with the request id)
    "LOG_LEVEL": "INFO",
    "LOG_FORMAT": "text",
    "LOGIN_LIMIT_PER_ACCOUNT": "5 per 15 minutes",
    "LOGIN_LIMIT_PER_ADDRESS": "20 per 15 minutes",
    # operators log in with a second factor (core.twofactor); make run's demo turns it off
    "OPERATORS_REQUIRE_2FA": True,
    # days an organisation admin's invitation link works (core.team)
    "INVITATION_DAYS": 7,
    # the relying party of security keys (core.securitykeys): the host the browser
    # shows when empty; set it to the domain when the portal answers on several hosts
    "WEBAUTHN_RP_ID": "",
    # who may read /metrics (core.metrics): a bearer token, or networks (CIDR, spaces)
    "METRICS_TOKEN": "",
    "METRICS_NETWORKS": "",
    # days the activity trail and the audit log keep an event (core.activity)
    "ACTIVITY_DAYS": 365,
    "PASSWORD_RESET_MAX_AGE": 3600,
    # Locale
    "BABEL_DEFAULT_LOCALE": "fr",
    "BABEL_DEFAULT_TIMEZONE": "Europe/Paris",
    "LANGUAGES": ["fr", "en"],
    # Mail (Flask-Mailman); nothing is sent while MAIL_SERVER is empty.
    "MAIL_BACKEND": "smtp",
    "MAIL_SERVER": "",
    "MAIL_PORT": 25,
    "MAIL_USE_TLS": False,
    "MAIL_USE_SSL": False,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_DEFAULT_SENDER": "Guichet <no-reply@localhost>",
    # The address customers reach the portal at: every link in an e-mail is built on
    # it, never on a request's Host. Requests naming another host are refused (400)
    # unless TRUSTED_HOSTS lists it; by default it holds PUBLIC_URL's host,
    # SERVER_NAME's and the loopback names (a health check on the machine itself).
    "PUBLIC_URL": "http://localhost:5000",
    # Background jobs (Huey): SQLite in the instance folder unless REDIS_URL is set;
    # JOBS_IMMEDIATE runs each task at once in the caller (no worker needed).
    "REDIS_URL": "",
    "JOBS_IMMEDIATE": False,
    # kinds of task with a queue of their own, each with its workers (core.jobs.KINDS):
    # ["payments", "mail", "documents", "postal"]; empty: one queue for all
    "JOBS_QUEUES": [],
    # Plugins: load the `guichet` entry points; extra plugin objects (tests, embedding).
    "LOAD_ENTRYPOINT_PLUGINS": True,
    "EXTRA_PLUGINS": [],
    "BLOCKED_PLUGINS": [],
    "TRACE_PLUGINS": False,  # log every hook call: the plugins reached, what they returned
    "PAGE_SIZE": 25,
    # The provider's name and logo in the portal's header (the logo: a file of the
    # instance folder, or a URL), and the address of its terms of sale.
    "BRAND": {"name": "Guichet", "logo": "", "terms_url": ""},
    # The provider running the portal, printed on documents (invoices, letters).
    "ISSUER": {"name": "Guichet", "address": "", "siret": "", "vat_number": ""},
}


def instance_path() -> Path:
    """The installation's runtime folder (``GUICHET_INSTANCE_PATH`` or ``instance/``)."""
    return Path(os.environ.get("GUICHET_INSTANCE_PATH", REPO_ROOT / "instance")).resolve()


def load_config(app: Flask, overrides: dict | None = None) -> None:
    """Fill ``app.config`` from defaults, the instance file, the environment and overrides."""
    folder = Path(app.instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(DEFAULTS)
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{folder / 'guichet.db'}"
    app.config["DOCUMENTS_PATH"] = str(folder / "documents")
    app.config.from_file(folder / "guichet.toml", load=tomllib.load, text=False, silent=True)
    if os.environ.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    app.config.from_prefixed_env("GUICHET")
    if overrides:
        app.config.from_mapping(overrides)
    app.config["SQLALCHEMY_DATABASE_URI"] = _sqlalchemy_url(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["INSTANCE_PATH"] = str(folder)  # plugins' own folders go under it
    app.config["RATELIMIT_STORAGE_URI"] = (
        app.config["RATELIMIT_STORAGE_URI"] or app.config["REDIS_URL"] or "memory://"
    )
    if app.config.get("TRUSTED_HOSTS") is None:
        app.config["TRUSTED_HOSTS"] = trusted_hosts(app.config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret_key(folder)


LOOPBACK = ("localhost", "127.0.0.1")


def trusted_hosts(config) -> list[str]:
    """The hosts a request may name by default: ``PUBLIC_URL``'s, ``SERVER_NAME``'s
    and the loopback names."""
    names = [urlsplit(config["PUBLIC_URL"]).hostname, config.get("SERVER_NAME")]
    return list(dict.fromkeys(n.partition(":")[0] for n in [*names, *LOOPBACK] if n))


def _sqlalchemy_url(url: str) -> str:
    """Accept the usual ``postgres://`` forms and pick the psycopg 3 driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _instance_secret_key(folder: Path) -> str:
    """Read the secret key kept in the instance folder, generating it on first run."""
    path = folder / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def plugin_defaults(blueprint, values: dict[str, Any]) -> None:
    """Give the app these settings' defaults when ``blueprint`` is registered: a
    plugin's own settings, which the installation's configuration overrides."""

    def apply(state) -> None:
        for key, value in values.items():
            state.app.config.setdefault(key, value)

    blueprint.record_once(apply)
