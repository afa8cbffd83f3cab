"""Health for load balancers and orchestrators, without a session or a login:
``/healthz`` says the process answers (it asks nothing of anyone); ``/readyz`` whether
it can serve: the database, the job queue's storage (Redis when ``REDIS_URL`` is set,
else its SQLite file) and the document storage (its folder, or its bucket). A part
that fails makes it answer 503 with that part named ("down"); what went wrong goes to
the log, not to whoever asks."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, jsonify
from sqlalchemy import text

from core import jobs
from core.extensions import db
from core.storage import storage

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():
    """The process answers."""
    return jsonify(status="ok")


def _database() -> None:
    db.session.execute(text("SELECT 1"))


def _jobs() -> None:
    jobs.queue().storage.queue_size()  # a round trip to Redis, or a read of the file


def _storage() -> None:
    storage().check()  # a file written and removed: the folder, or the bucket


CHECKS: dict[str, Callable[[], None]] = {
    "database": _database,
    "jobs": _jobs,
    "storage": _storage,
}


@bp.get("/readyz")
def readyz():
    """Each part ``ok`` or ``down``: 200 when all are ok, else 503."""
    found = {}
    for name, check in CHECKS.items():
        try:
            check()
            found[name] = "ok"
        except Exception:  # whatever it is, this part cannot serve
            log.exception("readiness: %s is down", name)
            found[name] = "down"
    db.session.rollback()
    ready = all(state == "ok" for state in found.values())
    return jsonify(status="ready" if ready else "unready", checks=found), 200 if ready else 503
