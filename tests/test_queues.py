"""Queues split by kind (issue 23): an installation gives payments, mail, documents or
postal tasks a queue of their own (``JOBS_QUEUES``), each consumed by its own workers
(``guichet worker --queue mail``): a backlog of e-mails never delays a payment."""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime

import pytest
import redis

from core import jobs
from tests.conftest import make_app, run_cli

RAN: list[tuple[str, int]] = []
REDIS_URL = os.environ.get("GUICHET_TEST_REDIS_URL")


@jobs.task(kind="mail")
def slow_mail(n: int) -> None:
    time.sleep(0.05)
    RAN.append(("mail", n))


@jobs.task(kind="payments")
def take_payment(n: int) -> None:
    RAN.append(("payment", n))


def running(consumer):
    """Start Huey's consumer in a thread, as ``guichet worker`` runs it."""
    consumer._set_signal_handlers = lambda: None  # signals belong to the main thread
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    return thread


def test_a_mail_backlog_does_not_delay_a_payment(tmp_path):
    portal = make_app(tmp_path, JOBS_QUEUES=["mail", "payments"], JOBS_NAME="split")
    RAN.clear()
    with portal.app_context():
        kinds = jobs.queue().kinds
        assert set(kinds) == {"main", "mail", "payments"}
        for n in range(40):
            slow_mail(n)
        take_payment(1)  # queued after forty e-mails
        assert kinds["mail"].pending_count() == 40 and kinds["payments"].pending_count() == 1
        assert kinds["main"].pending_count() == 0
        mail = jobs.consumer(1, kind="mail")
        payments = jobs.consumer(1, kind="payments")
        assert mail.periodic is False and payments.periodic is False  # the main one's job
        threads = [running(mail), running(payments)]
        try:
            deadline = time.monotonic() + 30
            while ("payment", 1) not in RAN and time.monotonic() < deadline:
                time.sleep(0.01)
            mails_before = sum(1 for kind, _ in RAN[: RAN.index(("payment", 1))] if kind == "mail")
            assert mails_before <= 2  # it did not wait for the backlog
            while len(RAN) < 41 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            for consumer in (mail, payments):
                consumer.stop(graceful=True)
            for thread in threads:
                thread.join(10)
        assert sorted(n for kind, n in RAN if kind == "mail") == list(range(40))
        assert jobs.pending() == 0


def test_without_queues_of_their_own_every_kind_shares_the_main_one(tmp_path):
    portal = make_app(tmp_path, JOBS_NAME="shared")
    RAN.clear()
    with portal.app_context():
        assert set(jobs.queue().kinds) == {"main"}
        slow_mail(1)
        take_payment(2)
        assert jobs.queue().pending_count() == 2
        assert jobs.drain(portal) == 2 and sorted(RAN) == [("mail", 1), ("payment", 2)]


def test_unknown_kinds_are_refused_with_the_known_ones_named(tmp_path):
    with pytest.raises(ValueError, match="sms is not one of payments, mail, documents, postal"):
        make_app(tmp_path, JOBS_QUEUES=["mail", "sms"])
    with pytest.raises(ValueError, match="a task's kind is one of payments, mail"):
        jobs.task(kind="fax")


def test_a_worker_for_a_queue_that_does_not_exist_says_so(tmp_path):
    shared = make_app(tmp_path, JOBS_NAME="shared")
    result = run_cli(shared, "worker", "--queue", "postal")
    assert result.exit_code != 0
    assert "'postal' has no queue of its own (JOBS_QUEUES lists none)" in result.output


@pytest.mark.parametrize("storage", ["sqlite", "redis"] if REDIS_URL else ["sqlite"])
def test_two_schedulers_run_a_periodic_task_once_per_period(tmp_path, storage):
    """Two workers both started without ``--no-periodic``: each minute's run of a
    periodic task is taken by one of them only, in the storage they share."""
    shared = {"JOBS_NAME": "schedulers"}
    if storage == "redis":
        redis.Redis.from_url(REDIS_URL).flushdb()
        shared.update(REDIS_URL=REDIS_URL, RATELIMIT_STORAGE_URI="memory://")
    else:
        shared["JOBS_PATH"] = str(tmp_path / "jobs.db")
    first = jobs.queue(make_app(tmp_path / "one", **shared))
    second = jobs.queue(make_app(tmp_path / "two", **shared))
    first.flush()
    at = datetime(2026, 12, 8, 3, 15)  # the activity trail's nightly purge
    assert "activity.purge" in {t.name for t in first.read_periodic(at)}
    assert "activity.purge" not in {t.name for t in second.read_periodic(at)}
    assert first.read_periodic(at) == []  # nor the first again, that minute
    next_day = datetime(2026, 12, 9, 3, 15)
    assert "activity.purge" in {t.name for t in second.read_periodic(next_day)}
    assert "activity.purge" not in {t.name for t in first.read_periodic(next_day)}
    claims = [f"guichet.periodic:activity.purge:{d:%Y-%m-%dT%H:%M}" for d in (at, next_day)]
    assert first.get(claims[0], peek=True) is None  # the claim of the run before is gone
    assert first.get(claims[1], peek=True) == "taken"
