"""Health for load balancers and orchestrators, without a session or a login:
``/healthz`` says the process answers (it asks nothing of anyone); ``/readyz`` whether
it can serve: the database, the job queue's storage (Redis when ``REDIS_URL`` is set,
else its SQLite file) and the documents folder. A part that fails makes it answer 503
with that part named ("down"); what went wrong goes to the log, not to whoever asks."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from core import jobs
from core.extensions import db

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
    folder = Path(current_app.config["DOCUMENTS_PATH"])
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=folder, prefix=".ready-")  # writable, really
    os.close(handle)
    os.unlink(name)


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
