"""Operations: /healthz and /readyz answer without a session; /readyz names the part
that is down (the database, the job queue's Redis, the documents folder) with a 503,
and says nothing more to whoever asks. One worker runs the schedule; the others,
started with --no-periodic, do not. /metrics answers only a token or a network the
installation names."""

import pytest

from core import health, jobs
from tests.conftest import make_app


def test_healthz_and_readyz_answer_without_a_session(app):
    client = app.test_client()
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.get_json() == {"status": "ok"}
    assert "Set-Cookie" not in answer.headers
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {
        "status": "ready",
        "checks": {"database": "ok", "jobs": "ok", "storage": "ok"},
    }


@pytest.mark.parametrize(
    "settings, down",
    [
        ({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none"}, "database"),
        # the throttle keeps its counts in memory: this process shares its limiter
        ({"REDIS_URL": "redis://127.0.0.1:1/0", "RATELIMIT_STORAGE_URI": "memory://"}, "jobs"),
        ({"DOCUMENTS_PATH": "/proc/guichet-documents"}, "storage"),
    ],
)
def test_readyz_names_the_part_that_is_down(tmp_path, settings, down, caplog):
    broken = make_app(tmp_path, **settings)
    answer = broken.test_client().get("/readyz")
    assert answer.status_code == 503
    found = answer.get_json()
    assert found["status"] == "unready" and found["checks"][down] == "down"
    assert "127.0.0.1" not in answer.get_data(as_text=True)  # the details are logged
    assert f"readiness: {down} is down" in caplog.text
    healthy = broken.test_client().get("/healthz")
    assert healthy.status_code == 200  # the process itself answers


def test_one_worker_runs_the_schedule_the_others_do_not(app):
    with app.app_context():
        assert jobs.consumer(1).periodic is True
        assert jobs.consumer(1, periodic=False).periodic is False
        assert "activity.purge" in {t.name for t in jobs.queue()._registry.periodic_tasks}
    assert set(health.CHECKS) == {"database", "jobs", "storage"}


def metric(text: str, name: str, **labels) -> float:
    """A sample's value in Prometheus' text format (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    line = f"{name}{{{wanted}}}" if labels else name
    for row in text.splitlines():
        if row.startswith(line + " "):
            return float(row.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_answer_only_whom_the_installation_names(app, logged_in, run_jobs):
    client = app.test_client()
    assert client.get("/metrics").status_code == 404  # neither a token nor a network set
    app.config["METRICS_TOKEN"] = "scrape-me"
    try:
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
        before = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert before.status_code == 200 and before.mimetype == "text/plain"
        pages = metric(
            before.get_data(as_text=True),
            "guichet_request_seconds_count",
            endpoint="invoices.index",
            method="GET",
            status="2xx",
        )
        assert logged_in.get("/factures/").status_code == 200
        after = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        text = after.get_data(as_text=True)
        assert (
            metric(
                text,
                "guichet_request_seconds_count",
                endpoint="invoices.index",
                method="GET",
                status="2xx",
            )
            == pages + 1
        )
        assert "guichet_jobs_queued" in text and "guichet_emails_sent_total" in text
    finally:
        app.config["METRICS_TOKEN"] = ""
    app.config["METRICS_NETWORKS"] = "127.0.0.0/8"
    try:
        assert client.get("/metrics").status_code == 200  # the test client asks from 127.0.0.1
    finally:
        app.config["METRICS_NETWORKS"] = ""


def test_domain_events_are_counted(app):
    from core.events import emit
    from core.metrics import EVENTS

    with app.test_request_context():
        before = EVENTS.labels("bench.tested")._value.get()
        emit("bench.tested", {})
        assert EVENTS.labels("bench.tested")._value.get() == before + 1


def test_the_queues_depth_and_wait_are_measured(app, monkeypatch):
    """Each queue's tasks waiting and how long the longest-waiting one has: a task queued
    ten minutes ago (the clock moved back while it was queued) shows."""
    import time as clock

    from plugins.invoices.documents import render_pdfs

    real = clock.time
    client = app.test_client()
    app.config["METRICS_TOKEN"] = "scrape-me"
    try:
        idle = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert metric(idle.get_data(as_text=True), "guichet_jobs_waited_seconds", queue="main") == 0
        monkeypatch.setattr(jobs.time, "time", lambda: real() - 600)
        render_pdfs([1])
        render_pdfs([2])
        monkeypatch.setattr(jobs.time, "time", real)
        text = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"}).get_data(
            as_text=True
        )
    finally:
        app.config["METRICS_TOKEN"] = ""
    assert metric(text, "guichet_jobs_queued", queue="main") == 2
    assert metric(text, "guichet_jobs_waited_seconds", queue="main") >= 600
    assert "guichet_jobs_failed 0.0" in text
    assert jobs.drain(app) == 2  # the time they carried is not an argument of theirs
