"""The job queue's dead letters (issue 23): a task whose every try failed is kept with
its arguments and its error, listed for operators, and queued again on request, once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core import jobs
from core.extensions import db
from core.models import AuditEvent, FailedTask, utcnow

PRINT_SHOP = {"refusing": True}
HANDED_OVER: list[str] = []


@jobs.task(retries=1, retry_delay=1)
def hand_over(reference: str) -> None:
    if PRINT_SHOP["refusing"]:
        raise RuntimeError(f"the print shop refused {reference}")
    HANDED_OVER.append(reference)


@pytest.fixture
def ops(client, operator):
    assert client.login(operator.email).status_code == 302
    return client


@pytest.fixture
def refused(app):
    """``hand_over("L-1")`` failed twice (its try and its one retry)."""
    PRINT_SHOP["refusing"] = True
    HANDED_OVER.clear()
    hand_over("L-1")
    assert jobs.drain(app) == 2
    return db.session.scalars(select(FailedTask)).one()


def test_a_task_that_fails_for_good_is_kept_with_why(refused):
    assert refused.name == "tests.test_failed_tasks.hand_over"
    assert refused.args == ["L-1"] and refused.kwargs == {}
    assert refused.error == "RuntimeError: the print shop refused L-1"
    assert refused.retried_at is None
    assert jobs.failed_count() == 1  # /metrics: guichet_jobs_failed


def test_operators_see_failed_tasks_and_queue_one_again_once(app, ops, operator, refused):
    page = ops.get("/operator/taches").get_data(as_text=True)
    assert "tests.test_failed_tasks.hand_over" in page and "the print shop refused L-1" in page
    assert "Relancer" in page
    PRINT_SHOP["refusing"] = False  # the cause is fixed
    answer = ops.post(f"/operator/taches/{refused.id}/relancer")
    assert answer.status_code == 302
    assert jobs.drain(app) == 1 and HANDED_OVER == ["L-1"]  # with its own arguments
    db.session.refresh(refused)
    assert refused.retried_at is not None and refused.retried_by_id == operator.id
    assert jobs.failed_count() == 0
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "task.retried")).one()
    assert event.target == refused.name and event.actor_id == operator.id
    again = ops.post(f"/operator/taches/{refused.id}/relancer", follow_redirects=True)
    assert "déjà été relancée" in again.get_data(as_text=True)
    assert jobs.drain(app) == 0 and HANDED_OVER == ["L-1"]  # not twice
    assert "Relancée le" in ops.get("/operator/taches").get_data(as_text=True)


def test_a_task_no_app_runs_any_more_is_not_queued(ops):
    gone = FailedTask(name="plugins.gone.task", args=[1], kwargs={}, error="x", failed_at=utcnow())
    db.session.add(gone)
    db.session.commit()
    answer = ops.post(f"/operator/taches/{gone.id}/relancer", follow_redirects=True)
    assert "plugins.gone.task" in answer.get_data(as_text=True)
    db.session.refresh(gone)
    assert gone.retried_at is None and jobs.pending() == 0


def test_failed_tasks_are_the_operators_alone(logged_in, refused):
    assert logged_in.get("/operator/taches").status_code == 404
    assert logged_in.post(f"/operator/taches/{refused.id}/relancer").status_code == 404
    assert refused.retried_at is None


def test_the_page_costs_the_same_for_3_and_60_failed_tasks(ops, count_queries):
    def fail(count: int) -> int:
        db.session.add_all(
            FailedTask(name=f"t{n}", args=[n], kwargs={}, error="e", failed_at=utcnow())
            for n in range(count)
        )
        db.session.commit()
        with count_queries() as counted:
            assert ops.get("/operator/taches").status_code == 200
        return len(counted)

    assert fail(3) == fail(57)
