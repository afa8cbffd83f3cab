"""Health for load balancers: /healthz and /readyz answer without a session; /readyz
names the part that is down (the database, the job queue's Redis, the documents
folder) with a 503, and says nothing more to whoever asks. One worker runs the
schedule; the others, started with --no-periodic, do not."""

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
