"""Background jobs on Huey: its SQLite storage in ``instance/`` by default, Redis when
``REDIS_URL`` is set (``GUICHET_REDIS_URL``), run in-process when ``JOBS_IMMEDIATE``.

Each app has its own queue (``app.extensions["huey"]``). Plugins declare tasks with
:func:`task`, in a module their plugin imports, and periodic tasks through the
``guichet_periodic_tasks`` hook; ``guichet worker`` runs a consumer. A task runs inside
the app's context. Tasks must be idempotent: a retry, or an event delivered twice, may
run one again.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_app_context
from huey import Huey, RedisHuey, SqliteHuey
from huey.api import TaskWrapper

from core.appinfo import PeriodicTask


@dataclass
class Task:
    """A declared background task: calling it queues it on the current app's queue."""

    function: Callable
    name: str
    options: dict[str, Any] = field(default_factory=dict)

    def __call__(self, *args, **kwargs):
        return self._wrapper()(*args, **kwargs)

    def schedule(self, *args, delay: int) -> None:
        """Queue the task to run in ``delay`` seconds (see :func:`backoff`)."""
        self._wrapper().schedule(args=args, delay=delay)

    def _wrapper(self) -> TaskWrapper:
        wrappers = queue().wrappers
        if self.name not in wrappers:
            raise LookupError(f"task {self.name} was declared after the app was created")
        return wrappers[self.name]


_declared: dict[str, Task] = {}


def task(retries: int = 0, retry_delay: int = 0, **options) -> Callable[[Callable], Task]:
    """Declare a background task; ``my_task(args)`` then queues it. Its arguments must
    be JSON-like values (ids, not ORM rows). Huey retries a task that raises ``retries``
    times, ``retry_delay`` seconds apart; for a back-off, record the failure and
    ``my_task.schedule(args, delay=backoff(attempt))`` instead. Example::

        @task(retries=5)
        def send_reminder(invoice_id: int): ...
    """

    def declare(function: Callable) -> Task:
        name = f"{function.__module__}.{function.__qualname__}"  # as Huey names it
        declared = Task(function, name, {"retries": retries, "retry_delay": retry_delay, **options})
        _declared[name] = declared
        return declared

    return declare


class Queue(Huey):
    """The app's Huey, with its declared tasks by name."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.wrappers: dict[str, TaskWrapper] = {}


class SqliteQueue(SqliteHuey.storage_class):
    """Huey's SQLite storage as durable as the portal's own embedded database
    (``synchronous=NORMAL`` in write-ahead-log mode): queuing a job does not wait for
    the disk (Huey's default waits about half a millisecond on every one); a power cut
    may lose the last jobs queued, never corrupt the queue."""

    def _create_connection(self):
        connection = super()._create_connection()
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection


def _queue_class(app: Flask) -> tuple[type, dict[str, Any]]:
    if app.config.get("REDIS_URL"):
        return RedisHuey.storage_class, {"url": app.config["REDIS_URL"]}
    path = app.config.get("JOBS_PATH") or str(Path(app.instance_path) / "jobs.db")
    return SqliteQueue, {"filename": path}


def init_app(app: Flask) -> None:
    """Give ``app`` its queue with every declared task and the plugins' periodic tasks."""
    from core.appsystem import registry

    storage_class, options = _queue_class(app)
    huey = Queue(
        app.config.get("JOBS_NAME", "guichet"),
        results=False,
        utc=True,
        immediate=bool(app.config.get("JOBS_IMMEDIATE")),
        storage_class=storage_class,
        **options,
    )
    for declared in _declared.values():
        # Huey prefixes the function's module to the name it is given
        task_name = declared.function.__qualname__
        huey.wrappers[declared.name] = huey.task(name=task_name, **declared.options)(
            _in_app(app, declared.function)
        )
    for periodic in registry(app).call("guichet_periodic_tasks"):
        if isinstance(periodic, PeriodicTask):
            huey.periodic_task(periodic.schedule, name=periodic.name)(
                _in_app(app, periodic.function)
            )
    app.extensions["huey"] = huey


def _in_app(app: Flask, function: Callable) -> Callable:
    @functools.wraps(function)
    def run(*args, **kwargs):
        if has_app_context() and current_app._get_current_object() is app:
            return function(*args, **kwargs)
        with app.app_context():
            return function(*args, **kwargs)

    return run


def queue(app: Flask | None = None) -> Queue:
    """The queue of ``app`` (the current app by default)."""
    return (app or current_app).extensions["huey"]


def backoff(attempt: int, first_delay: int = 30, limit: int = 3600) -> int:
    """Seconds to wait before try ``attempt + 1``: ``first_delay`` after the first,
    doubling each time, at most ``limit``."""
    return min(limit, first_delay * 2 ** max(0, attempt - 1))


def drain(app: Flask | None = None, max_tasks: int = 100_000) -> int:
    """Run every queued task, and scheduled ones whatever their time, until none is left
    (tests, and ``guichet worker --drain``); returns how many ran."""
    huey = queue(app)
    far_future = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=3650)  # Huey: naive UTC
    for ran in range(max_tasks):
        for due in huey.read_schedule(far_future):
            huey.enqueue(due)
        message = huey.dequeue()
        if message is None:
            return ran
        # in a fresh context, as a worker would; the time given makes every task due
        contextvars.Context().run(huey.execute, message, far_future)
    raise RuntimeError(f"the job queue did not drain in {max_tasks} tasks")


def pending(app: Flask | None = None) -> int:
    """Tasks waiting in the queue or the schedule."""
    huey = queue(app)
    return huey.pending_count() + huey.scheduled_count()
