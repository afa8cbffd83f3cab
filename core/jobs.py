"""Background jobs on Huey: its SQLite storage in ``instance/`` by default, Redis when
``REDIS_URL`` is set (``GUICHET_REDIS_URL``), run in-process when ``JOBS_IMMEDIATE``.

Each app has its own queue (``app.extensions["huey"]``). Plugins declare tasks with
:func:`task`, in a module their plugin imports, and periodic tasks through the
``guichet_periodic_tasks`` hook; ``guichet worker`` runs a consumer. A task runs inside
the app's context. Each task has a kind (:data:`KINDS`: payments, mail, documents,
postal); an installation gives some kinds a queue of their own (``JOBS_QUEUES``), each
consumed by its own workers (``guichet worker --queue mail``), so that a backlog of one
kind never delays another: a thousand e-mails do not hold up a payment.

A task that raises is tried again with a growing delay, and when its last try fails
its ``on_failure`` runs, so that the failure ends visibly (a letter refunded, a state
shown to the customer), and it is kept among the failed tasks an operator may queue
again. Tasks must be idempotent: a retry, or an event delivered twice, may run one
again.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from flask import Flask, current_app, has_app_context
from huey import Huey, SqliteHuey
from huey.api import TaskWrapper
from huey.storage import PriorityRedisStorage
from sqlalchemy import func, select, update

from core import logs
from core.appinfo import PeriodicTask
from core.extensions import db
from core.metrics import TASK_FAILURES
from core.models import FailedTask, utcnow

log = logging.getLogger(__name__)


#: The kinds of task that may have a queue of their own (``JOBS_QUEUES``); a task of
#: no kind, or of a kind without one, goes to the main queue.
KINDS = ("payments", "mail", "documents", "postal")
MAIN = "main"


@dataclass
class Task:
    """A declared background task: calling it queues it on the current app's queue."""

    function: Callable
    name: str
    options: dict[str, Any] = field(default_factory=dict)
    on_failure: Callable[..., Any] | None = None
    kind: str = MAIN

    def __call__(self, *args, **kwargs):
        return self._wrapper()(*args, **kwargs, **_carried())

    def schedule(self, *args, delay: int) -> None:
        """Queue the task to run in ``delay`` seconds (see :func:`backoff`)."""
        self._wrapper().schedule(args=args, kwargs=_carried(delay), delay=delay)

    def _wrapper(self) -> TaskWrapper:
        wrappers = queue().wrappers
        if self.name not in wrappers:
            raise LookupError(f"task {self.name} was declared after the app was created")
        return wrappers[self.name]


_declared: dict[str, Task] = {}

#: The keyword a queued task carries the time it is due in (epoch seconds): how long
#: the next tasks have waited is in /metrics. Taken off before the task runs.
QUEUED_AT = "_queued_at"


def _carried(delay: int = 0) -> dict[str, Any]:
    """What a task queued now carries beside its arguments: the request id (its log
    lines) and when it is due."""
    return {**logs.task_keywords(), QUEUED_AT: round(time.time() + delay, 3)}


def own_arguments(kwargs: dict[str, Any]) -> dict[str, Any]:
    """A queued task's keyword arguments without what :func:`_carried` adds."""
    return {k: v for k, v in kwargs.items() if k not in (logs.TASK_KEYWORD, QUEUED_AT)}


#: A task that raises is tried this many times more, the first after
#: ``RETRY_DELAY`` seconds and each next one twice as late (30 s, 1, 2, 4, 8 minutes).
RETRIES = 5
RETRY_DELAY = 30


def task(
    retries: int = RETRIES,
    retry_delay: int = RETRY_DELAY,
    on_failure: Callable[..., Any] | None = None,
    kind: str = MAIN,
    **options,
) -> Callable[[Callable], Task]:
    """Declare a background task; ``my_task(args)`` then queues it. Its arguments must
    be JSON-like values (ids, not ORM rows). A task that raises is tried again
    ``retries`` times, after ``retry_delay`` seconds and then twice as long each time;
    when the last try fails, ``on_failure(*args, error=exception)`` runs in the app
    context, to end the work visibly (record the failure, refund, tell someone).
    ``kind`` (one of :data:`KINDS`) puts it on that kind's queue where the
    installation gives it one. Example::

        @task(on_failure=mark_failed, kind="mail")
        def send_reminder(invoice_id: int): ...
    """
    if kind != MAIN and kind not in KINDS:
        raise ValueError(f"a task's kind is one of {', '.join(KINDS)}, not {kind!r}")

    def declare(function: Callable) -> Task:
        name = f"{function.__module__}.{function.__qualname__}"  # as Huey names it
        declared = Task(
            function,
            name,
            {"retries": retries, "retry_delay": retry_delay, "retry_backoff": 2, **options},
            on_failure,
            kind,
        )
        _declared[name] = declared
        return declared

    return declare


def when_context_ends(blueprint, flush: Callable[[], None]) -> None:
    """Call ``flush()`` when each request, and each app context (a command, a task),
    of the app ``blueprint`` is registered on ends: where work noted in ``g`` while
    it ran (invoices to notify, PDFs to make) goes to the queue in batches, once the
    data it is about is committed. ``flush`` takes what it finds in ``g`` away."""

    @blueprint.record_once
    def register(state):
        state.app.teardown_request(lambda _error: flush())
        state.app.teardown_appcontext(lambda _error: flush())


class Queue(Huey):
    """The app's Huey, with its declared tasks by name. The main queue also knows the
    queues of their own (``kinds``: the main one under ``"main"``), and every task's
    wrapper, whichever queue it goes to."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.wrappers: dict[str, TaskWrapper] = {}  # by :meth:`name_of` their class
        self.failure_handlers: dict[type, Callable[..., Any]] = {}  # by Huey task class
        self.kinds: dict[str, Queue] = {MAIN: self}

    def name_of(self, task_class: type) -> str:
        """A task's full name: its module and its name (``plugins.postal.sending.submit``)."""
        return self._registry.task_to_string(task_class)

    def read_periodic(self, timestamp):
        """The periodic tasks due at ``timestamp`` (a minute) that no other scheduler of
        this queue has taken for that minute: two workers running the schedule by
        mistake still run each periodic task once per period."""
        timestamp = timestamp or self._get_timestamp()
        return [t for t in super().read_periodic(timestamp) if self._claim(t.name, timestamp)]

    def _claim(self, name: str, timestamp: datetime) -> bool:
        """Take ``name``'s run of this minute, in the queue's storage (shared by every
        worker); the claim of its previous run is removed."""
        key = f"guichet.periodic:{name}:{timestamp:%Y-%m-%dT%H:%M}"
        if not self.put_if_empty(key, "taken"):
            log.info("periodic task %s: another scheduler took %s", name, f"{timestamp:%H:%M}")
            return False
        pointer = f"guichet.periodic:{name}"
        previous = self.get(pointer)  # taken out: the pointer moves on
        self.put(pointer, key)
        if previous and previous != key:
            self.delete(previous)
        return True


class SqliteQueue(SqliteHuey.storage_class):
    """Huey's SQLite storage as durable as the portal's own embedded database
    (``synchronous=NORMAL`` in write-ahead-log mode): queuing a job does not wait for
    the disk (Huey's default waits about half a millisecond on every one); a power cut
    may lose the last jobs queued, never corrupt the queue."""

    def _create_connection(self):
        connection = super()._create_connection()
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection


class RedisQueue(PriorityRedisStorage):
    """Huey's Redis storage with task priorities (the PDFs made ahead wait behind mail
    and payments; Huey's plain Redis storage refuses priorities). Its queue is a sorted
    set under a key of its own; tasks left in the plain storage's list by an earlier
    release are moved into it when the app starts, so an upgrade loses none."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        plain, self.queue_key = self.queue_key, self.queue_key + ".priority"
        try:
            if self.conn.type(plain) == b"list":
                while (data := self.conn.rpop(plain)) is not None:  # oldest first
                    self.enqueue(data, None)
        except redis.ConnectionError as error:  # the app starts; /readyz says Redis is down
            log.warning("Redis cannot be reached (%s): old tasks are moved at a later start", error)


def _queue_class(app: Flask) -> tuple[type, dict[str, Any]]:
    if app.config.get("REDIS_URL"):
        return RedisQueue, {"url": app.config["REDIS_URL"]}
    path = app.config.get("JOBS_PATH") or str(Path(app.instance_path) / "jobs.db")
    return SqliteQueue, {"filename": path}


def init_app(app: Flask) -> None:
    """Give ``app`` its queue with every declared task and the plugins' periodic tasks,
    and a queue of their own to the kinds ``JOBS_QUEUES`` lists."""
    from core.appsystem import registry

    storage_class, options = _queue_class(app)
    name = app.config.get("JOBS_NAME", "guichet")
    separate = list(app.config.get("JOBS_QUEUES") or [])
    unknown = sorted(set(separate) - set(KINDS))
    if unknown:
        raise ValueError(f"JOBS_QUEUES: {', '.join(unknown)} is not one of {', '.join(KINDS)}")

    def make(queue_name: str) -> Queue:
        return Queue(
            queue_name,
            results=False,
            utc=True,
            immediate=bool(app.config.get("JOBS_IMMEDIATE")),
            storage_class=storage_class,
            **options,
        )

    huey = make(name)
    huey.kinds.update({kind: make(f"{name}.{kind}") for kind in separate})
    for declared in _declared.values():
        target = huey.kinds.get(declared.kind, huey)
        # Huey prefixes the function's module to the name it is given
        task_name = declared.function.__qualname__
        wrapper = target.task(name=task_name, **declared.options)(
            _in_app(app, declared.function, declared.name)
        )
        huey.wrappers[huey.name_of(wrapper.task_class)] = wrapper  # declared.name
        if declared.on_failure is not None:
            huey.failure_handlers[wrapper.task_class] = declared.on_failure
    for each in huey.kinds.values():
        each.post_execute(name="guichet-failures")(functools.partial(_after_task, app))
    for periodic in [*core_periodic_tasks(), *registry(app).call("guichet_periodic_tasks")]:
        if isinstance(periodic, PeriodicTask):
            wrapper = huey.periodic_task(periodic.schedule, name=periodic.name)(
                _in_app(app, periodic.function, periodic.name)
            )
            huey.wrappers[huey.name_of(wrapper.task_class)] = wrapper
    app.extensions["huey"] = huey


def core_periodic_tasks() -> list[PeriodicTask]:
    """The core's own schedule: the activity trail's older events go at 3:15."""
    from huey import crontab

    from core import activity

    return [PeriodicTask("activity.purge", crontab(hour="3", minute="15"), activity.purge)]


def _in_app(app: Flask, function: Callable, name: str) -> Callable:
    """``function`` run in ``app``'s context, its log lines naming the task and the
    request that queued it."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        kwargs.pop(QUEUED_AT, None)
        tokens = logs.running_task(name, kwargs)
        try:
            if has_app_context() and current_app._get_current_object() is app:
                return function(*args, **kwargs)
            with app.app_context():
                return function(*args, **kwargs)
        finally:
            logs.leave_task(tokens)

    return run


def _after_task(app: Flask, task, _value, error: Exception | None) -> None:
    """After each try: when it raised and no try is left, the task's ``on_failure``,
    and the task kept among the dead letters (:class:`~core.models.FailedTask`)."""
    if error is None or task.retries:
        return
    TASK_FAILURES.labels(task.name).inc()
    kwargs = own_arguments(task.kwargs)
    handler = queue(app).failure_handlers.get(type(task))
    if handler is None:
        log.error("task %s failed for good: %s", task.name, error)
    else:
        with app.app_context():
            try:
                handler(*task.args, error=error, **kwargs)
            except Exception:  # noqa: BLE001 - the consumer must go on
                log.exception("on_failure of task %s failed", task.name)
    with app.app_context():
        try:
            db.session.add(
                FailedTask(
                    name=queue(app).name_of(type(task)),
                    args=_plain(list(task.args)),
                    kwargs=_plain({**kwargs, **logs.carried_from(task.kwargs)}),
                    error=f"{type(error).__name__}: {error}"[:4000],
                )
            )
            db.session.commit()
        except Exception:  # noqa: BLE001 - the consumer must go on
            db.session.rollback()
            log.exception("task %s could not be kept among the failed ones", task.name)


def failed_count() -> int:
    """Tasks failed for good that no operator has queued again."""
    return db.session.scalar(
        select(func.count()).select_from(FailedTask).where(FailedTask.retried_at.is_(None))
    )


def _plain(value):
    """``value`` as JSON keeps it (a task's arguments are JSON-like already)."""
    return json.loads(json.dumps(value, default=str))


def retry_failed(failed: FailedTask, by: Any) -> None:
    """Queue the dead letter ``failed`` again, with its arguments (and the request id it
    carried), as ``by`` (an operator) asks; :class:`LookupError` when no installed
    task has that name any more (an upgrade removed it)."""
    wrapper = queue().wrappers.get(failed.name)
    if wrapper is None:
        raise LookupError(failed.name)
    wrapper(*failed.args, **failed.kwargs, **{QUEUED_AT: round(time.time(), 3)})
    failed.retried_at = utcnow()
    failed.retried_by_id = by.id


def queue(app: Flask | None = None) -> Queue:
    """The main queue of ``app`` (the current app by default)."""
    return (app or current_app).extensions["huey"]


def waiting_since(huey: Queue, look: int = 100) -> float | None:
    """When the longest-waiting of the next ``look`` tasks of ``huey`` became due (epoch
    seconds), or None when none is waiting."""
    due = []
    for data in huey.storage.enqueued_items(look):
        try:
            due.append(huey.deserialize_task(data).kwargs.get(QUEUED_AT))
        except Exception:  # noqa: BLE001 - a task of an app since removed
            continue
    due = [d for d in due if d is not None]
    return min(due) if due else None


def queues(app: Flask | None = None) -> list[Queue]:
    """Every queue of ``app``: the main one, then those of their own."""
    return list(queue(app).kinds.values())


def consumer(workers: int, periodic: bool = True, kind: str = MAIN):
    """A consumer of the queue of ``kind`` (the main one by default) with ``workers``
    threads; with ``periodic``, the main queue's consumer also runs the schedule: one
    worker of an installation should (``guichet worker`` on one machine, ``guichet
    worker --no-periodic`` on the others); should two, each periodic task still runs
    once per period (:meth:`Queue.read_periodic`). :class:`LookupError` when ``kind``
    has no queue of its own."""
    found = queue().kinds.get(kind)
    if found is None:
        listed = ", ".join(k for k in queue().kinds if k != MAIN) or "none"
        raise LookupError(f"{kind!r} has no queue of its own (JOBS_QUEUES lists {listed})")
    return found.create_consumer(
        workers=workers, worker_type="thread", periodic=periodic and kind == MAIN
    )


def backoff(attempt: int, first_delay: int = 30, limit: int = 3600) -> int:
    """Seconds to wait before try ``attempt + 1``: ``first_delay`` after the first,
    doubling each time, at most ``limit``."""
    return min(limit, first_delay * 2 ** max(0, attempt - 1))


def resume_stuck(key, waiting, changed, after: timedelta, again: Task, most: int) -> list:
    """Queue ``again(k)`` once more for each row still ``waiting`` (a condition, such
    as ``Letter.status == "queued"``) whose ``changed`` column is older than ``after``:
    work whose task a stopped worker took with it. ``key`` is the column whose value
    the task takes; at most ``most`` rows, the longest waiting first. Their ``changed``
    is set to now first, so each is queued again once per ``after``; ``again`` must do
    nothing twice. Returns the keys queued. A periodic task calls it. Example::

        resume_stuck(Letter.id, Letter.status == "queued", Letter.updated_at,
                     timedelta(hours=3), submit, 1000)
    """
    stuck = db.session.scalars(
        select(key).where(waiting, changed < utcnow() - after).order_by(changed).limit(most)
    ).all()
    if stuck:
        touched = update(key.class_).where(key.in_(stuck), waiting).values({changed.key: utcnow()})
        db.session.execute(touched)
        db.session.commit()
        for value in stuck:
            again(value)
    return stuck


def drain(app: Flask | None = None, max_tasks: int = 100_000) -> int:
    """Run every queued task of every queue, and scheduled ones whatever their time,
    until none is left (tests, and ``guichet worker --drain``); returns how many ran."""
    far_future = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=3650)  # Huey: naive UTC
    for ran in range(max_tasks):
        for huey in queues(app):
            for due in huey.read_schedule(far_future):
                huey.enqueue(due)
        for huey in queues(app):
            message = huey.dequeue()
            if message is not None:
                break
        else:
            return ran
        # in a fresh context, as a worker would; the time given makes every task due
        contextvars.Context().run(huey.execute, message, far_future)
    raise RuntimeError(f"the job queue did not drain in {max_tasks} tasks")


def pending(app: Flask | None = None) -> int:
    """Tasks waiting in the queues or their schedules."""
    return sum(huey.pending_count() + huey.scheduled_count() for huey in queues(app))
