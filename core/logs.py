"""Logs: plain text by default (``make run``), one JSON object a line with
``LOG_FORMAT = "json"`` (production: for Loki, Elasticsearch, CloudWatch…), through
python-json-logger.

Every line logged while a request is served carries its request id: the load
balancer's ``X-Request-ID`` when the portal trusts its proxies (``TRUSTED_PROXIES``),
else one made here; the answer sends it back in ``X-Request-ID``. A task queued by that
request carries the id with it, so the worker's lines about it have the same one, and
the name of the task they run (``task``).
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask, request
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
TASK: contextvars.ContextVar[str] = contextvars.ContextVar("task", default="")
#: An id a proxy may give: short, and nothing that could forge a log line.
GIVEN_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
#: The keyword a queued task carries its request id in (taken off before it runs).
TASK_KEYWORD = "_request_id"

JSON_FIELDS = "{levelname}{name}{message}{request_id}{task}"
RENAMED = {"levelname": "level", "name": "logger"}


def _with_context(factory: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def make(*args, **kwargs) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        record.request_id = REQUEST_ID.get()
        record.task = TASK.get()
        return record

    make.guichet = True  # type: ignore[attr-defined]
    return make


def configure(level: str, form: str) -> None:
    """Log at ``level`` to stderr, as ``text`` or ``json``, every record knowing its
    request id and task. Like :func:`logging.basicConfig`, leaves a root logger that
    has handlers already (a test run's, an embedding program's) as it is."""
    if not getattr(logging.getLogRecordFactory(), "guichet", False):
        logging.setLogRecordFactory(_with_context(logging.getLogRecordFactory()))
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    if form == "json":
        handler.setFormatter(
            JsonFormatter(JSON_FIELDS, style="{", rename_fields=RENAMED, timestamp="time")
        )
    else:
        handler.setFormatter(logging.Formatter(logging.BASIC_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)


def init_app(app: Flask) -> None:
    """Give each request its id, and send it back."""
    configure(app.config.get("LOG_LEVEL", "INFO"), app.config.get("LOG_FORMAT", "text"))

    @app.before_request
    def take_id():
        given = request.headers.get("X-Request-ID", "") if app.config["TRUSTED_PROXIES"] else ""
        REQUEST_ID.set(given if GIVEN_ID.fullmatch(given) else uuid.uuid4().hex)

    @app.after_request
    def send_id(response):
        if REQUEST_ID.get():
            response.headers["X-Request-ID"] = REQUEST_ID.get()
        return response

    @app.teardown_request
    def forget_id(_error):
        REQUEST_ID.set("")  # a thread's next lines belong to no request


def task_keywords() -> dict[str, Any]:
    """What a task queued now carries: the request id, when there is one."""
    found = REQUEST_ID.get()
    return {TASK_KEYWORD: found} if found else {}


def carried_from(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The request id a queued task's keywords carry, as keywords (to queue it again)."""
    return {TASK_KEYWORD: kwargs[TASK_KEYWORD]} if kwargs.get(TASK_KEYWORD) else {}


def running_task(name: str, kwargs: dict[str, Any]):
    """Enter a task's log context (its name, the id of the request that queued it, taken
    out of ``kwargs``); returns what :func:`leave_task` needs."""
    return TASK.set(name), REQUEST_ID.set(kwargs.pop(TASK_KEYWORD, "") or "")


def leave_task(tokens) -> None:
    task, request_id = tokens
    TASK.reset(task)
    REQUEST_ID.reset(request_id)
