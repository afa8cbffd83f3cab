"""Logs (issue 23): each request has an id, sent back in ``X-Request-ID`` and on every
line it logs; the tasks it queues carry it to the worker; ``LOG_FORMAT = "json"``
writes one JSON object a line."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import datetime

import pytest

from core import jobs, logs
from core.config import REPO_ROOT
from core.testing import database_url
from tests.conftest import make_app

probe = logging.getLogger("tests.logs")


@jobs.task()
def log_something(word: str) -> None:
    probe.warning("the task says %s", word)


def test_each_request_has_an_id_it_answers_with(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert len(first) == 32 and first != second
    given = client.get("/healthz", headers={"X-Request-ID": "lb-1234"})
    assert given.headers["X-Request-ID"] != "lb-1234"  # no proxy trusted: ours


@pytest.mark.parametrize(
    "given, kept",
    [("lb-1234.5", True), ("a" * 65, False), ('id" level="ERROR', False), ("", False)],
)
def test_a_trusted_proxy_gives_the_id(tmp_path, given, kept):
    behind = make_app(tmp_path, TRUSTED_PROXIES=1)
    answer = behind.test_client().get("/healthz", headers={"X-Request-ID": given})
    assert (answer.headers["X-Request-ID"] == given) is kept
    assert len(answer.headers["X-Request-ID"]) in ((len(given),) if kept else (32,))


def test_a_task_queued_by_a_request_logs_with_its_id(tmp_path, caplog):
    portal = make_app(tmp_path)

    @portal.get("/tests/log-and-queue")
    def log_and_queue():
        probe.warning("the request says hello")
        log_something("goodbye")
        return "queued"

    caplog.set_level(logging.INFO)
    answer = portal.test_client().get("/tests/log-and-queue")
    request_id = answer.headers["X-Request-ID"]
    assert jobs.drain(portal) == 1
    said = {r.getMessage(): r for r in caplog.records if r.name == "tests.logs"}
    assert said["the request says hello"].request_id == request_id
    assert said["the task says goodbye"].request_id == request_id  # carried by the task
    assert said["the task says goodbye"].task == "tests.test_logs.log_something"
    assert said["the request says hello"].task == ""
    assert logs.REQUEST_ID.get() == "" and logs.TASK.get() == ""  # nothing left behind


def test_json_logs_are_one_object_a_line(tmp_path):
    script = """
import logging
from core import create_app
app = create_app()
@app.get("/tests/log")
def log():
    logging.getLogger("probe").warning("hello %s", "json")
    return "ok"
answer = app.test_client().get("/tests/log")
print(answer.headers["X-Request-ID"])
"""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "GUICHET_INSTANCE_PATH": str(tmp_path),
        "GUICHET_SECRET_KEY": "test-secret",
        "GUICHET_LOG_FORMAT": "json",
        "GUICHET_TRUSTED_HOSTS": '["localhost"]',
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    found = [line for line in lines if line["logger"] == "probe"]
    assert len(found) == 1
    assert found[0]["message"] == "hello json" and found[0]["level"] == "WARNING"
    assert found[0]["request_id"] == done.stdout.strip()
    assert datetime.fromisoformat(found[0]["time"]).tzinfo is not None  # ISO 8601, UTC
